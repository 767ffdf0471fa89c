import Foundation
import XCTest
@testable import Kernels
@testable import Models

/// Short seeded runs on the bundled MNIST: the loss falls, a seed reproduces its losses, commands
/// arrive between steps, and residual connections switch on the live model.
final class TrainerTests: XCTestCase {
    static let mnist: (train: ImageSet, test: ImageSet) = {
        try! MNIST.load(directory: MNIST.defaultDirectory()!)
    }()

    func splits(train: Int = 2048, val: Int = 256) throws -> DataSplits {
        try DataSplits(train: Self.mnist.train, test: Self.mnist.test, validationSize: val, trainLimit: train)
    }

    func config(_ model: String = "lenet5", seed: UInt64 = 5) -> TrainConfig {
        var c = TrainConfig.defaults(for: model)
        c.epochs = 1; c.batchSize = 32; c.seed = seed; c.logEvery = 1000; c.threads = 2
        return c
    }

    func losses(_ t: Trainer) -> [Double] { t.latest().trainLoss.map(\.value) }

    func testLossFallsAndTheSameSeedGivesTheSameLosses() throws {
        let data = try splits()
        let a = try Trainer(config: config(), data: data)
        a.start(); a.wait()
        let la = losses(a)
        XCTAssertEqual(la.count, 2048 / 32)
        let early = la.prefix(8).reduce(0, +) / 8, late = la.suffix(8).reduce(0, +) / 8
        XCTAssertLessThan(late, early * 0.6, "loss should fall: \(early) → \(late)")
        XCTAssertEqual(a.latest().state, .done)
        XCTAssertGreaterThan(try XCTUnwrap(a.latest().finalTest).accuracy, 70)
        XCTAssertEqual(a.latest().validationAccuracy.count, 1)

        let b = try Trainer(config: config(), data: data)
        b.start(); b.wait()
        XCTAssertEqual(la, losses(b))
        let c = try Trainer(config: config(seed: 6), data: data)
        c.start(); c.wait()
        XCTAssertNotEqual(la, losses(c))
    }

    func testCommandsArriveBetweenSteps() throws {
        let t = try Trainer(config: config(), data: try splits())
        t.send(.pause)
        t.start()
        // Paused before the first step: nothing moves until resumed.
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertEqual(t.latest().state, .paused)
        XCTAssertEqual(t.latest().step, 0)
        t.send(.setLR(0.0123))
        t.send(.resume)
        t.wait()
        let s = t.latest()
        XCTAssertEqual(s.events.map(\.label), ["pause", "lr 0.0123", "resume"])
        XCTAssertEqual(s.step, 64)
        XCTAssertLessThanOrEqual(s.lr, 0.0123)   // the cosine schedule scales the LR the user set
    }

    func testStopEndsTheRunEarly() throws {
        let t = try Trainer(config: config(), data: try splits())
        t.send(.pause)
        t.start()
        t.send(.stop)
        t.wait()
        XCTAssertEqual(t.latest().state, .stopped)
        XCTAssertEqual(t.latest().step, 0)
    }

    func testDivergenceStopsWithAClearMessage() throws {
        var c = config(); c.lr = 1e6; c.schedule = "constant"
        let t = try Trainer(config: c, data: try splits())
        t.start(); t.wait()
        XCTAssertEqual(t.latest().state, .diverged)
        XCTAssertTrue(t.latest().message.contains("lower --lr"), t.latest().message)
        XCTAssertLessThan(t.latest().step, 64)
    }

    /// Polls until the trainer publishes `state` (fails after 30 s).
    func waitFor(_ state: TrainerState, _ t: Trainer, file: StaticString = #filePath, line: UInt = #line) {
        let end = Date().addingTimeInterval(30)
        while t.latest().state != state && Date() < end { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(t.latest().state, state, file: file, line: line)
    }

    /// The dashboard's way: a diverged run waits instead of ending; with a lower LR, resume goes back
    /// to the initial weights (no checkpoint was written yet) and the run then ends normally.
    func testDivergedDashboardRunWaitsThenGoesBackToTheInitialWeights() throws {
        var c = config(); c.lr = 1e6; c.schedule = "constant"
        let t = try Trainer(config: c, data: try splits())
        t.pauseOnDivergence = true
        let initial = t.network.parameters.map(\.value.array)
        // The weights right after the roll-back, taken on the trainer's queue before the next step.
        var rolledBack: [[Float]] = []
        t.onEvent = { e in
            if case .control(let c) = e, c.label.hasPrefix("back to") { rolledBack = t.network.parameters.map(\.value.array) }
        }
        t.start()
        waitFor(.diverged, t)
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertFalse(t.isFinished)
        let at = t.latest().step
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertEqual(t.latest().step, at, "a diverged run must not keep stepping")
        XCTAssertTrue(t.latest().message.contains("the run diverged") && t.latest().message.contains("initial weights"), t.latest().message)
        // Evaluating or snapshotting diverged weights is refused.
        t.send(.evaluate)
        t.send(.snapshot)
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertTrue(t.latest().validationAccuracy.isEmpty)
        XCTAssertTrue(t.latest().message.contains("nothing saved"), t.latest().message)

        // With a lower LR, p goes back to the initial weights and the run goes on.
        t.send(.setLR(0.01))
        t.send(.resume)
        t.wait()
        XCTAssertTrue(rolledBack == initial, "not the initial weights")
        XCTAssertEqual(t.latest().events.map(\.label).filter { !$0.hasPrefix("diverged") }, ["lr 0.01", "back to initial weights"])
        XCTAssertEqual(t.latest().state, .done)
        XCTAssertTrue(t.latest().trainLoss.last!.value.isFinite)
        XCTAssertGreaterThan(try XCTUnwrap(t.latest().finalTest).accuracy, 50)
    }

    /// A run that diverges after a checkpoint was written goes back to that checkpoint; the diverged
    /// weights are never written over best.safetensors.
    func testDivergedRunGoesBackToItsNewestCheckpointAndLeavesItUntouched() throws {
        let dir = NSTemporaryDirectory() + "nntop-diverge-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = config(); c.schedule = "constant"; c.evalEvery = 8
        let t = try Trainer(config: c, data: try splits())
        t.pauseOnDivergence = true
        t.checkpointDirectory = dir
        let best = dir + "/best.safetensors"
        var savedWeights: [[Float]] = [], rolledBack: [[Float]] = [], bestBytes = Data()
        t.onEvent = { e in
            // Right after the first validation (best.safetensors written): an LR that overflows the weights.
            if case .evaluated = e, savedWeights.isEmpty {
                savedWeights = t.network.parameters.map(\.value.array)
                bestBytes = (try? Data(contentsOf: URL(fileURLWithPath: best))) ?? Data()
                t.send(.setLR(1e30))
            }
            if case .control(let c) = e, c.label.hasPrefix("back to") {
                rolledBack = t.network.parameters.map(\.value.array)
                t.send(.stop)
            }
        }
        t.start()
        waitFor(.diverged, t)
        XCTAssertTrue(t.latest().message.contains("best.safetensors"), t.latest().message)
        t.send(.setLR(0.01))
        t.send(.resume)
        t.wait()
        XCTAssertTrue(rolledBack == savedWeights, "not the checkpoint's weights")
        XCTAssertTrue(t.latest().events.map(\.label).contains("back to step 8"), "\(t.latest().events)")
        XCTAssertEqual(t.latest().state, .stopped)
        // best.safetensors was written before the divergence and not since (no validation ran on
        // diverged weights); last.safetensors holds healthy weights from after the roll-back.
        XCTAssertFalse(bestBytes.isEmpty)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: best)), bestBytes)
        let check = ModelZoo.make("lenet5", residual: true, seed: 99)!
        try Checkpoint.load(dir + "/last.safetensors", into: check)
        XCTAssertTrue(check.parameters.allSatisfy { $0.value.array.allSatisfy { $0.isFinite && abs($0) < 100 } })
    }

    /// Quitting a diverged run writes no checkpoint at all and reports the run as diverged.
    func testQuittingADivergedRunWritesNothing() throws {
        let dir = NSTemporaryDirectory() + "nntop-diverge-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = config(); c.lr = 1e6; c.schedule = "constant"
        let t = try Trainer(config: c, data: try splits())
        t.pauseOnDivergence = true
        t.checkpointDirectory = dir
        t.start()
        waitFor(.diverged, t)
        t.send(.stop)
        t.wait()
        XCTAssertEqual(t.latest().state, .diverged)
        XCTAssertTrue(t.isFinished)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/last.safetensors"))
    }

    func testResidualTogglesOnTheLiveModelKeepingProjectionWeights() throws {
        let net = try XCTUnwrap(ModelZoo.make("resnet18", seed: 3))
        let block = try XCTUnwrap(net.units.compactMap { $0 as? BasicBlock }.first { $0.downsample != nil })
        let before = block.downsample!.conv.weight.value.array
        let x = Tensor(shape: [2, 1, 32, 32])
        for i in 0..<x.count { x[i] = Float(i % 7) - 3 }
        let on = net.forward(x, training: false).array
        net.residual = false
        XCTAssertFalse(block.downsample!.conv.weight.inUse)
        let off = net.forward(x, training: false).array
        XCTAssertNotEqual(on, off)
        net.residual = true
        XCTAssertEqual(net.forward(x, training: false).array, on)
        XCTAssertEqual(block.downsample!.conv.weight.value.array, before)
        XCTAssertNil(ModelZoo.make("lenet5")!.residual)
    }

    func testModelZooShapesAndParameterCounts() {
        XCTAssertEqual(ModelZoo.make("resnet18")!.parameterCount, 11_175_434)
        XCTAssertEqual(ModelZoo.make("lenet5")!.parameterCount, 6 * 25 + 6 + 16 * 150 + 16 + 400 * 120 + 120 + 120 * 84 + 84 + 84 * 10 + 10)
        XCTAssertNil(ModelZoo.make("vgg"))
        // Default init: U(±1/√fan_in) for conv weights (fan_in 25 for LeNet's conv1).
        let w = ModelZoo.make("lenet5", seed: 1)!.parameters[0].value.array
        XCTAssertTrue(w.allSatisfy { abs($0) <= 0.2 })
        XCTAssertGreaterThan(w.map(abs).max()!, 0.15)
    }
}
