import Foundation
import XCTest
@testable import Kernels
@testable import Models

/// A LeNet-5 trained in PyTorch (scripts/torch_interop.py make-fixture: the reference module, one epoch,
/// saved with safetensors.torch.save_file(model.state_dict(), ...)) loads into nntop, and nntop's
/// predictions on the 10,000 test images equal PyTorch's image by image.
final class InteropTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let weights = fixtures.appendingPathComponent("torch_lenet5_trained.safetensors").path
    static let predictions = fixtures.appendingPathComponent("torch_lenet5_predictions.safetensors").path

    func testTorchSavedStateDictIsAPlainStateDict() throws {
        // What save_file(model.state_dict()) writes: PyTorch's names, F32, no nntop metadata.
        let f = try SafetensorsFile(path: Self.weights)
        XCTAssertEqual(Set(f.names), ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias",
                                      "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"])
        XCTAssertNil(f.metadata["model"])
        XCTAssertTrue(f.entries.values.allSatisfy { $0.dtype == .f32 })
    }

    func testPyTorchTrainedLeNetPredictsExactlyAsPyTorch() throws {
        let net = try XCTUnwrap(ModelZoo.make("lenet5", seed: 99))
        try Checkpoint.load(Self.weights, into: net)
        let expected = try SafetensorsFile(path: Self.predictions)
        let torchPredictions = try expected.floats("predictions").map { Int($0) }
        let dir = try XCTUnwrap(MNIST.defaultDirectory(), "bundled assets/mnist not found")
        let test = Dataset(try MNIST.load(directory: dir).test)
        XCTAssertEqual(test.count, 10_000)
        XCTAssertEqual(torchPredictions.count, test.count)

        var ours: [Int] = []
        for start in stride(from: 0, to: test.count, by: 500) {
            ours += Evaluator.predict(net, test, items: Array(start..<min(start + 500, test.count))).map(\.predicted)
        }
        let differing = (0..<test.count).filter { ours[$0] != torchPredictions[$0] }
        // The fixture's smallest top-1/top-2 logit gap is in metadata min_margin (6e-3 for the committed
        // fixture, near_ties = 0 images under 1e-4), far above float32 rounding-order differences: no
        // image may differ.
        XCTAssertEqual(differing.count, 0, "argmax differs from PyTorch on \(differing.count) images, first: "
                       + differing.prefix(10).map { "#\($0) nntop \(ours[$0]) torch \(torchPredictions[$0])" }.joined(separator: ", ")
                       + " (fixture min_margin \(expected.metadata["min_margin"] ?? "?"))")

        let correct = (0..<test.count).filter { ours[$0] == test.label($0) }.count
        let accuracy = 100 * Double(correct) / Double(test.count)
        XCTAssertEqual(String(format: "%.2f", accuracy), expected.metadata["test_acc"], "accuracy to the hundredth of a percent")
        XCTAssertEqual(String(correct), expected.metadata["correct"])

        // The evaluator (what `nntop eval` prints) agrees too, and its mean loss matches PyTorch's.
        let r = Evaluator.evaluate(net, test, batchSize: 256, keepMistakes: 0)
        XCTAssertEqual(r.correct, correct)
        let torchLoss = try XCTUnwrap(expected.metadata["test_loss"].flatMap(Double.init))
        XCTAssertEqual(r.loss, torchLoss, accuracy: 1e-4)
    }

    func testPyTorchWeightsLeaveTheModelUntouchedWhenLoadedIntoTheWrongModel() throws {
        let net = try XCTUnwrap(ModelZoo.make("resnet18"))
        let before = net.state.map { Array(UnsafeBufferPointer(start: $0.tensor.data, count: $0.tensor.count)) }
        XCTAssertThrowsError(try Checkpoint.load(Self.weights, into: net)) { error in
            XCTAssertTrue("\(error)".contains(Self.weights), "\(error)")
            XCTAssertTrue("\(error)".contains("tensor"), "\(error)")
        }
        let after = net.state.map { Array(UnsafeBufferPointer(start: $0.tensor.data, count: $0.tensor.count)) }
        XCTAssertEqual(before, after)
    }
}

/// A ResNet-18 state_dict written by PyTorch (scripts/make_fixtures.py, make_interop:
/// safetensors.torch.save_file(model.state_dict()) of the reference module, so names, shapes, dtypes and
/// header order are PyTorch's) loads strictly into nntop, and nntop's eval-mode logits on a fixed batch
/// equal PyTorch's (float64) logits at 1e-4, residual on and off. The 44.7 MB file is committed gzipped
/// (its weights repeat with a prime period inside each tensor, each tensor its own values, so it
/// compresses to ~0.4 MB); the test inflates the exact bytes PyTorch wrote with the zlib reader MNIST uses.
final class ResNetInteropTests: XCTestCase {
    static let fixtures = InteropTests.fixtures

    func torchFile() throws -> SafetensorsFile {
        let path = Self.fixtures.appendingPathComponent("torch_resnet18_state_dict.safetensors.gz").path
        let gz = try XCTUnwrap(FileManager.default.contents(atPath: path), "\(path) missing")
        let raw = try MNIST.gunzip([UInt8](gz), path: path)
        return try SafetensorsFile(data: Data(raw), path: path)
    }

    func testPyTorchResNet18StateDictLoadsStrictlyAndPredictsAsPyTorch() throws {
        let f = try torchFile()
        let expected = try SafetensorsFile(path: Self.fixtures.appendingPathComponent("torch_resnet18_logits.safetensors").path)
        XCTAssertNil(f.metadata["model"], "a plain state_dict, no nntop metadata")

        let net = try XCTUnwrap(ModelZoo.make("resnet18", seed: 99))
        // Every tensor of the model is in the file and nothing else: PyTorch's 123 state_dict entries.
        XCTAssertEqual(Set(f.names), Set(net.state.map(\.name)))
        XCTAssertEqual(Set(f.names), Set((expected.metadata["state_names"] ?? "").split(separator: ",").map(String.init)))
        XCTAssertEqual(f.names.count, 123)
        try Checkpoint.load(file: f, into: net)
        // Loaded values equal the file's, tensor by tensor, in PyTorch's order.
        for e in net.state {
            if e.isCounter { XCTAssertEqual(e.tensor[0], 7, e.name); continue }
            XCTAssertEqual(e.layout.torchOrder(e.tensor), try f.floats(e.name), e.name)
        }

        let input = try expected.floats("input")
        let x = Tensor(shape: [8, 1, 32, 32], values: input)
        for (residual, key) in [(true, "logits_residual"), (false, "logits_plain")] {
            net.residual = residual
            let logits = net.forward(x, training: false).array
            let want = try expected.floats(key)
            XCTAssertEqual(logits.count, want.count)
            XCTAssertLessThan(relativeError(logits, want), 1e-4, "residual \(residual): nntop \(logits.prefix(5)) torch \(want.prefix(5))")
        }
        XCTAssertNotEqual(try expected.floats("logits_residual"), try expected.floats("logits_plain"))
    }
}
