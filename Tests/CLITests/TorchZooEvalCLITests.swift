import Foundation
import XCTest
@testable import Models

/// `nntop eval MODEL --weights STATE_DICT --dataset cifar10 --data DIR` on a resnet20-cifar and a googlenet
/// saved by PyTorch (safetensors.torch.save_file(model.state_dict()); ModelsTests' fixtures, written by
/// scripts/make_zoo_interop_fixtures.py) prints PyTorch's accuracy, to the hundredth of a percent, and the
/// image count. The test images go through nntop's CIFAR-10 reader: the fixture's colourised MNIST digits,
/// written here as CIFAR-10 binary records.
final class TorchZooEvalCLITests: XCTestCase {
    static let fixtures = EvalSummaryCLITests.fixtures

    /// A CIFAR-10 binary folder of the fixture's test images: MNIST's first `first` test digits but the
    /// `excluded`, channel c of image i = (p * [8, 5, 2][(i + c) % 3]) / 8, centred in 32×32 on 0 pixels
    /// (as the Dataset centres a 28×28 image: the same input values). data_batch_1.bin, which the reader
    /// needs, holds the same records.
    func cifarFolder(first: Int, excluded: Set<Int>) throws -> URL {
        let mnist = try XCTUnwrap(MNIST.defaultDirectory(), "bundled assets/mnist not found")
        let grey = try MNIST.loadPair(mnist, MNIST.fileStems.testImages, MNIST.fileStems.testLabels)
        var records: [UInt8] = []
        for i in 0..<first where !excluded.contains(i) {
            records.append(UInt8(grey.labels[i]))
            for c in 0..<3 {
                let m = [8, 5, 2][(i + c) % 3]
                for y in 0..<32 {
                    for x in 0..<32 {
                        let inside = (2..<30).contains(y) && (2..<30).contains(x)
                        records.append(inside ? UInt8(Int(grey.images[i * 784 + (y - 2) * 28 + (x - 2)]) * m / 8) : 0)
                    }
                }
            }
        }
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("nntop-torch-zoo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for name in ["test_batch.bin", "data_batch_1.bin"] { try Data(records).write(to: dir.appendingPathComponent(name)) }
        return dir
    }

    func check(_ model: String) throws {
        let expected = try SafetensorsFile(path: Self.fixtures.appendingPathComponent("torch_\(model)_predictions.safetensors").path)
        let first = try XCTUnwrap(expected.metadata["first"].flatMap { Int($0) })
        let excluded = Set((expected.metadata["excluded"] ?? "").split(separator: ",").map { Int($0)! })
        let dir = try cifarFolder(first: first, excluded: excluded)
        defer { try? FileManager.default.removeItem(at: dir) }
        // The exact bytes PyTorch wrote, inflated to a file as a user would have it.
        let gzPath = Self.fixtures.appendingPathComponent("torch_\(model)_state_dict.safetensors.gz").path
        let gz = try XCTUnwrap(FileManager.default.contents(atPath: gzPath))
        let weights = dir.appendingPathComponent("\(model).safetensors")
        try Data(try MNIST.gunzip([UInt8](gz), path: gzPath)).write(to: weights)

        let r = try NntopBinary.run(["eval", model, "--weights", weights.path, "--dataset", "cifar10", "--data", dir.path])
        XCTAssertEqual(r.status, 0, r.err)
        let last = try XCTUnwrap(r.out.split(separator: "\n").last.map(String.init), r.out)
        let re = try NSRegularExpression(pattern: #"^test_acc=(\d+\.\d{2})% test_loss=(\d+\.\d{4}) n=(\d+)$"#)
        let m = try XCTUnwrap(re.firstMatch(in: last, range: NSRange(last.startIndex..., in: last)), "final line: \(last)")
        let field = { (i: Int) in String(last[Range(m.range(at: i), in: last)!]) }
        XCTAssertEqual(field(1), expected.metadata["test_acc"], "\(model): PyTorch's accuracy to 0.01 %")
        XCTAssertEqual(field(3), expected.metadata["n"], "\(model): the fixture's images")
        let torchLoss = try XCTUnwrap(expected.metadata["test_loss"].flatMap(Double.init))
        XCTAssertEqual(Double(field(2))!, torchLoss, accuracy: 5e-5 + 1e-4 * torchLoss, "\(model): PyTorch's mean loss")
        XCTAssertTrue(r.out.contains("airplane"), "CIFAR-10's class names: \(r.out)")
    }

    func testEvalOfPyTorchSavedResNet20CifarPrintsPyTorchsAccuracy() throws { try check("resnet20-cifar") }
    func testEvalOfPyTorchSavedGoogLeNetPrintsPyTorchsAccuracy() throws { try check("googlenet") }
}
