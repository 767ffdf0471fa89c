import Foundation
import XCTest
@testable import Models

/// best.safetensors and exported files hold the weights alone (PyTorch's state_dict, nothing else),
/// last.safetensors the optimizer's state as well; a weights-only file loads as weights but is refused
/// by --resume.
final class WeightsOnlyCheckpointTests: XCTestCase {
    var dir: String!
    override func setUp() { dir = NSTemporaryDirectory() + "nntop-weights-only-\(UUID().uuidString)" }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// The reference LeNet5's state_dict keys (../shared/reference/torch_models.py: conv1, conv2, fc1–3).
    let lenetKeys: Set<String> = ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias",
                                  "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]

    func run(_ optimizer: String) throws -> (Trainer, DataSplits) {
        let mnist = try MNIST.load(directory: try XCTUnwrap(MNIST.defaultDirectory()))
        let data = try DataSplits(train: mnist.train, test: mnist.test, validationSize: 128, trainLimit: 256)
        var c = TrainConfig.defaults(for: "lenet5")
        c.epochs = 1; c.batchSize = 32; c.threads = 2; c.optimizer = optimizer
        if optimizer == "adam" { c.lr = 0.001 }
        let t = try Trainer(config: c, data: data)
        t.checkpointDirectory = dir + "/" + optimizer
        t.start()
        XCTAssertTrue(t.wait(timeout: 120))
        return (t, data)
    }

    func testBestHoldsTheWeightsOnlyLastTheOptimizerToo() throws {
        // Momentum: one buffer per parameter (PyTorch's momentum_buffer) and its step count; Adam: two.
        for (optimizer, buffers) in [("momentum", ["momentum_buffer", "step"]), ("adam", ["exp_avg", "exp_avg_sq", "step"])] {
            let (_, _) = try run(optimizer)
            let best = try SafetensorsFile(path: "\(dir!)/\(optimizer)/best.safetensors")
            let last = try SafetensorsFile(path: "\(dir!)/\(optimizer)/last.safetensors")
            XCTAssertEqual(Set(best.names), lenetKeys, optimizer)
            XCTAssertNil(best.metadata["optimizer"], optimizer)
            let optimizerKeys = lenetKeys.flatMap { p in buffers.map { "optimizer.\(p).\($0)" } }
            XCTAssertEqual(Set(last.names), lenetKeys.union(optimizerKeys), optimizer)
            XCTAssertEqual(last.metadata["optimizer"], optimizer)
            // What eval and predict need is still there: the data's spec and the run's options.
            XCTAssertNotNil(best.metadata["data"]); XCTAssertNotNil(best.metadata["config"])
        }
    }

    func testExportedCopyLoadsAsWeightsAndResumeRefusesWeightsOnlyFiles() throws {
        let (t, data) = try run("momentum")
        let last = try SafetensorsFile(path: dir + "/momentum/last.safetensors")
        let out = dir + "/exported.safetensors"
        let counts = try Checkpoint.exportWeights(last, to: out)
        XCTAssertEqual(counts.kept, 10); XCTAssertEqual(counts.dropped, 20)
        let exported = try SafetensorsFile(path: out)
        XCTAssertEqual(Set(exported.names), lenetKeys)
        XCTAssertNil(exported.metadata["optimizer"])
        for name in lenetKeys { XCTAssertEqual(exported.rawBytes(name), last.rawBytes(name), name) }
        // The exported weights are the run's final ones: a fresh network evaluates to its final test accuracy.
        let net = try XCTUnwrap(ModelZoo.make("lenet5", seed: 77))
        try Checkpoint.load(out, into: net)
        XCTAssertEqual(Evaluator.evaluate(net, data.test, batchSize: 64).accuracy, try XCTUnwrap(t.latest().finalTest).accuracy, accuracy: 1e-9)
        // Exporting a weights-only file gives the same tensors; one with no weights is refused.
        XCTAssertEqual(try Checkpoint.exportWeights(exported, to: dir + "/again.safetensors").dropped, 0)

        for path in [out, dir + "/momentum/best.safetensors"] {
            let again = try Trainer(config: t.config, data: data)
            XCTAssertThrowsError(try again.resume(from: path)) {
                XCTAssertTrue("\($0)".contains("holds the weights only, no optimizer state"), "\($0)")
                XCTAssertTrue("\($0)".contains("--weights"), "\($0)")
            }
            XCTAssertEqual(again.latest().step, 0)
            XCTAssertNoThrow(try again.loadWeights(from: path))
        }
    }

    func testAFileOfOptimizerStateAloneIsRefused() throws {
        var w = SafetensorsWriter()
        w.add("optimizer.fc3.bias.step", shape: [], int64s: [3])
        let path = dir + "-opt.safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try w.write(to: path)
        XCTAssertThrowsError(try Checkpoint.exportWeights(try SafetensorsFile(path: path), to: dir + "-out.safetensors")) {
            XCTAssertTrue("\($0)".contains("holds no weights (only optimizer state)"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "-out.safetensors"))
    }
}
