import Foundation
import XCTest
@testable import Kernels
@testable import Models

/// best.safetensors holds the weights of the best validation evaluation, not the latest.
final class BestCheckpointTests: XCTestCase {
    static let mnist: (train: ImageSet, test: ImageSet) = {
        try! MNIST.load(directory: MNIST.defaultDirectory()!)
    }()

    /// A short run whose validation accuracy rises and then falls (a constant, too-high LR on few
    /// images), evaluated and checkpointed every 2 steps: best.safetensors must equal the step
    /// checkpoint written at the best evaluation, and give that accuracy when evaluated again.
    func testBestCheckpointHoldsTheWeightsOfTheBestEvaluation() throws {
        let dir = NSTemporaryDirectory() + "nntop-best-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try DataSplits(train: Self.mnist.train, test: Self.mnist.test, validationSize: 256, trainLimit: 640)
        var c = TrainConfig.defaults(for: "lenet5")
        c.epochs = 2; c.batchSize = 32; c.seed = 5; c.threads = 2; c.logEvery = 1000
        c.optimizer = "sgd"; c.lr = 0.3; c.schedule = "constant"
        c.evalEvery = 2; c.saveEvery = 2
        let t = try Trainer(config: c, data: data)
        t.checkpointDirectory = dir
        t.start(); t.wait()

        let val = t.latest().validationAccuracy
        let best = try XCTUnwrap(val.max { $0.value < $1.value })
        let bestStep = try XCTUnwrap(val.first { $0.value == best.value }).step
        // The premise: a later evaluation was worse, so the newest weights are not the best.
        XCTAssertLessThan(val.last!.value, best.value, "validation accuracy never fell: \(val.map(\.value))")
        XCTAssertEqual(t.bestValidationAccuracy, best.value)

        let bestFile = try SafetensorsFile(path: dir + "/best.safetensors")
        let stepFile = try SafetensorsFile(path: dir + String(format: "/step-%06d.safetensors", bestStep))
        let last = try SafetensorsFile(path: dir + "/last.safetensors")
        XCTAssertEqual(bestFile.names, stepFile.names)
        var differsFromLast = false
        for name in bestFile.names {
            XCTAssertTrue(try bestFile.floats(name) == stepFile.floats(name), "\(name) differs from step \(bestStep)'s")
            if try bestFile.floats(name) != last.floats(name) { differsFromLast = true }
        }
        XCTAssertTrue(differsFromLast, "best.safetensors equals last.safetensors")

        // Evaluated again from the file, by a fresh network: the best logged accuracy.
        let net = try XCTUnwrap(ModelZoo.make("lenet5"))
        _ = try Checkpoint.load(dir + "/best.safetensors", into: net)
        XCTAssertEqual(Evaluator.evaluate(net, data.validation, batchSize: 64).accuracy, best.value, accuracy: 1e-9)
    }
}
