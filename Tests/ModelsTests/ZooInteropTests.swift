import Foundation
import XCTest
@testable import Kernels
@testable import Models

/// A resnet20-cifar and a googlenet saved by PyTorch (scripts/make_zoo_interop_fixtures.py:
/// safetensors.torch.save_file(model.state_dict()) of the reference modules, committed gzipped) load
/// strictly into nntop, and nntop's Evaluator gives PyTorch's accuracy on the same test images: the same
/// number correct (to 0.01 %), the same prediction image by image, and the first 16 images' logits at 1e-4.
/// The weights are the ResNet-18 interop fixture's periodic formula, with batch-norm statistics PyTorch
/// measured and a head it fitted on colourised training digits (so the accuracy means something); the images are MNIST's first 2,000 test digits, colourised by a formula this
/// test computes too, normalised with CIFAR-10's statistics, but those whose top-two logit gap in PyTorch
/// is under 10x PyTorch float32's own error on their logits (metadata `excluded`: a float32 tie either
/// way). PyTorch's smallest top-two gap left is in min_margin (its float32 run flips no argmax).
final class ZooInteropTests: XCTestCase {
    static let fixtures = InteropTests.fixtures
    static let colour = [8, 5, 2]

    /// The first n MNIST test digits, colourised: channel c of image i holds (p * colour[(i + c) % 3]) / 8.
    static func colourisedTest(_ n: Int) throws -> ImageSet {
        let dir = try XCTUnwrap(MNIST.defaultDirectory(), "bundled assets/mnist not found")
        let grey = try MNIST.loadPair(dir, MNIST.fileStems.testImages, MNIST.fileStems.testLabels)
        let plane = grey.rows * grey.cols
        var bytes = [UInt8](repeating: 0, count: n * 3 * plane)
        for i in 0..<n {
            for c in 0..<3 {
                let m = colour[(i + c) % 3]
                for p in 0..<plane { bytes[(i * 3 + c) * plane + p] = UInt8(Int(grey.images[i * plane + p]) * m / 8) }
            }
        }
        return ImageSet(images: bytes, labels: Array(grey.labels.prefix(n)), channels: 3, rows: grey.rows, cols: grey.cols)
    }

    func check(_ model: String, parameters: Int) throws {
        let path = Self.fixtures.appendingPathComponent("torch_\(model)_state_dict.safetensors.gz").path
        let gz = try XCTUnwrap(FileManager.default.contents(atPath: path), "\(path) missing")
        let f = try SafetensorsFile(data: Data(try MNIST.gunzip([UInt8](gz), path: path)), path: path)
        let expected = try SafetensorsFile(path: Self.fixtures.appendingPathComponent("torch_\(model)_predictions.safetensors").path)
        XCTAssertNil(f.metadata["model"], "a plain state_dict, no nntop metadata")

        let net = try XCTUnwrap(ModelZoo.make(model, inChannels: 3, classes: 10, seed: 99))
        XCTAssertEqual(net.parameterCount, parameters)
        XCTAssertEqual(Set(f.names), Set(net.state.map(\.name)), "every state_dict tensor, nothing else")
        XCTAssertEqual(f.names.count, expected.metadata["state_names"]?.split(separator: ",").count)
        try Checkpoint.load(file: f, into: net)
        for e in net.state where !e.isCounter {
            XCTAssertEqual(e.layout.torchOrder(e.tensor), try f.floats(e.name), e.name)
        }

        let first = try XCTUnwrap(expected.metadata["first"].flatMap { Int($0) })
        let excluded = Set((expected.metadata["excluded"] ?? "").split(separator: ",").map { Int($0)! })
        let n = try XCTUnwrap(expected.metadata["n"].flatMap { Int($0) })
        XCTAssertEqual(n, first - excluded.count)
        XCTAssertLessThanOrEqual(excluded.count, first / 100)
        let spec = ImageSpec(dataset: "custom", channels: 3, height: 32, width: 32, storedHeight: 28, storedWidth: 28,
                             classNames: ImageSet.digitNames, mean: ImageSpec.cifar10Normalization.mean,
                             std: ImageSpec.cifar10Normalization.std)
        let test = Dataset(try Self.colourisedTest(first), indices: (0..<first).filter { !excluded.contains($0) }, spec: spec)
        XCTAssertEqual(test.count, n)

        // The first images' logits: the same network, not just the same argmax.
        let want = try expected.floats("logits"), rows = want.count / 10
        let x = Tensor(shape: [rows, 3, 32, 32])
        var labels = [Int32](repeating: 0, count: rows)
        labels.withUnsafeMutableBufferPointer { test.fill(items: Array(0..<rows)[...], x: x, labels: $0.baseAddress!) }
        let logits = net.predict(x).array
        var num = 0.0, den = 0.0
        for (a, b) in zip(logits, want) { num += Double(a - b) * Double(a - b); den += Double(b) * Double(b) }
        XCTAssertLessThan((num / den).squareRoot(), 1e-4, "\(model) logits: nntop \(logits.prefix(5)) torch \(want.prefix(5))")

        // Image by image, then the evaluator's count (what `nntop eval` prints).
        let torch = try expected.int64s("predictions").map { Int($0) }
        XCTAssertEqual(torch.count, n)
        var ours: [Int] = []
        for start in stride(from: 0, to: n, by: 250) {
            ours += Evaluator.predict(net, test, items: Array(start..<min(start + 250, n))).map(\.predicted)
        }
        let differing = (0..<n).filter { ours[$0] != torch[$0] }
        XCTAssertEqual(differing.count, 0, "\(model): argmax differs from PyTorch's on \(differing.count) images, first "
                       + differing.prefix(5).map { "#\($0) nntop \(ours[$0]) torch \(torch[$0])" }.joined(separator: ", "))
        let r = Evaluator.evaluate(net, test, batchSize: 250, keepMistakes: 0)
        XCTAssertEqual(r.count, n)
        XCTAssertEqual(String(r.correct), expected.metadata["correct"], "\(model): images right")
        XCTAssertEqual(String(format: "%.2f", r.accuracy), expected.metadata["test_acc"], "\(model): accuracy to 0.01 %")
        let torchLoss = try XCTUnwrap(expected.metadata["test_loss"].flatMap(Double.init))
        XCTAssertEqual(r.loss, torchLoss, accuracy: 1e-4 * torchLoss)
        print("\(model): nntop \(r.correct)/\(n) = \(String(format: "%.2f", r.accuracy)) %, PyTorch \(expected.metadata["test_acc"] ?? "?") %; "
              + "\(n - differing.count) of \(n) predictions equal (PyTorch's smallest top-two gap \(expected.metadata["min_margin"] ?? "?"))")
    }

    func testPyTorchSavedResNet20CifarGivesPyTorchsAccuracy() throws { try check("resnet20-cifar", parameters: 272_474) }
    func testPyTorchSavedGoogLeNetGivesPyTorchsAccuracy() throws { try check("googlenet", parameters: 5_610_154) }
}
