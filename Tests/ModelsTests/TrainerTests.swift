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

    /// Waits for the run to end, at most 120 s (then fails and stops it: a test never hangs).
    func finish(_ t: Trainer, file: StaticString = #filePath, line: UInt = #line) {
        if t.wait(timeout: 120) { return }
        XCTFail("the run did not end; state \(t.latest().state), message: \(t.latest().message)", file: file, line: line)
        t.send(.stop); t.send(.resume)
        _ = t.wait(timeout: 30)
    }

    /// Polls the trainer's snapshot until `condition` holds; fails after 30 s.
    func waitUntil(_ what: String, _ t: Trainer, file: StaticString = #filePath, line: UInt = #line,
                   _ condition: (TrainingSnapshot) -> Bool) {
        let end = Date().addingTimeInterval(30)
        while !condition(t.latest()) && Date() < end { Thread.sleep(forTimeInterval: 0.005) }
        XCTAssertTrue(condition(t.latest()), "timed out waiting for \(what); message: \(t.latest().message)", file: file, line: line)
    }

    /// The cosine schedule's factor for the step after `done` steps of `total`, written out here.
    func cosine(_ done: Int, of total: Int) -> Double { 0.5 * (1 + cos(Double.pi * Double(done) / Double(total))) }

    func testLossFallsAndTheSameSeedGivesTheSameLosses() throws {
        let data = try splits()
        let a = try Trainer(config: config(), data: data)
        a.start(); finish(a)
        let la = losses(a)
        XCTAssertEqual(la.count, 2048 / 32)
        let early = la.prefix(8).reduce(0, +) / 8, late = la.suffix(8).reduce(0, +) / 8
        XCTAssertLessThan(late, early * 0.6, "loss should fall: \(early) → \(late)")
        XCTAssertEqual(a.latest().state, .done)
        XCTAssertGreaterThan(try XCTUnwrap(a.latest().finalTest).accuracy, 70)
        XCTAssertEqual(a.latest().validationAccuracy.count, 1)

        let b = try Trainer(config: config(), data: data)
        b.start(); finish(b)
        XCTAssertEqual(la, losses(b))
        let c = try Trainer(config: config(seed: 6), data: data)
        c.start(); finish(c)
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
        finish(t)
        let s = t.latest()
        XCTAssertEqual(s.events.map(\.label), ["pause", "lr 0.0123", "resume"])
        XCTAssertEqual(s.step, 64)
        // Set before the first step, 0.0123 is the cosine schedule's start: the 64th step uses it
        // scaled by the schedule's factor after 63 of 64 steps (the default 0.05 would give 4× this).
        XCTAssertEqual(s.lr, 0.0123 * cosine(63, of: 64), accuracy: 0.0123 * cosine(63, of: 64) * 1e-3)
    }

    /// Issue 15.1: six halvings sent at once are six halvings, applied in order, each event stating
    /// the LR that resulted; two doublings likewise.
    func testQuickLRPressesAreAppliedInOrder() throws {
        var c = config(); c.lr = 1.6; c.schedule = "constant"
        let t = try Trainer(config: c, data: try splits())
        t.send(.pause)
        t.start()
        for _ in 0..<6 { t.send(.scaleLR(0.5)) }
        waitUntil("six LR events", t) { $0.events.count == 7 }
        XCTAssertEqual(t.latest().events.map(\.label), ["pause", "lr 0.8", "lr 0.4", "lr 0.2", "lr 0.1", "lr 0.05", "lr 0.025"])
        XCTAssertEqual(t.latest().lr, 0.025, accuracy: 1e-7)
        t.send(.scaleLR(2)); t.send(.scaleLR(2))
        waitUntil("two more LR events", t) { $0.events.count == 9 }
        XCTAssertEqual(t.latest().events.suffix(2).map(\.label), ["lr 0.05", "lr 0.1"])
        XCTAssertEqual(t.latest().lr, 0.1, accuracy: 1e-7)
        t.send(.stop)
        finish(t)
    }

    /// Issue 15.2: under the cosine schedule, a typed or halved LR is the LR in effect from the next
    /// step (what the header shows, the event and the message say), and the schedule goes on from it.
    func testSetLRUnderCosineIsTheLRInEffectAndTheScheduleGoesOnFromIt() throws {
        var c = config(); c.logEvery = 1
        let t = try Trainer(config: c, data: try splits())
        var lrAt: [Int: Double] = [:]
        t.onEvent = { e in
            if case .progress(let s) = e {
                lrAt[s.step] = s.lr
                if s.step == 32 { t.send(.pause) }
            }
        }
        t.start()
        waitFor(.paused, t)
        XCTAssertEqual(t.latest().step, 32)
        t.send(.setLR(0.01))
        waitUntil("lr 0.01", t) { $0.events.last?.label == "lr 0.01" }
        XCTAssertEqual(t.latest().lr, 0.01, accuracy: 1e-8)
        XCTAssertTrue(t.latest().message.hasSuffix("→ 0.01"), t.latest().message)
        t.send(.scaleLR(0.5))
        waitUntil("lr 0.005", t) { $0.events.last?.label == "lr 0.005" }
        XCTAssertEqual(t.latest().lr, 0.005, accuracy: 1e-8)
        XCTAssertTrue(t.latest().message.hasPrefix("LR 0.01 → 0.005"), t.latest().message)
        t.send(.resume)
        finish(t)
        // Step 33 trains at 0.005; step 64 at 0.005 scaled as the schedule has moved on since.
        XCTAssertEqual(try XCTUnwrap(lrAt[33]), 0.005, accuracy: 0.005 * 1e-5)
        let last = 0.005 * cosine(63, of: 64) / cosine(32, of: 64)
        XCTAssertEqual(try XCTUnwrap(lrAt[64]), last, accuracy: last * 1e-3)
    }

    /// Issue 15.3: one range for every LR, refused with one message whoever asks.
    func testLRsOutsideTheRangeAreRefusedWithOneMessage() throws {
        var c = config(); c.lr = 600; c.schedule = "constant"
        let t = try Trainer(config: c, data: try splits())
        t.send(.pause)
        t.start()
        for refused: TrainerCommand in [.scaleLR(2), .setLR(1001), .setLR(0), .setLR(-1), .setLR(1e-9), .setLR(.nan)] {
            let before = t.latest().messageSerial
            t.send(refused)
            waitUntil("a refusal of \(refused)", t) { $0.messageSerial != before }
            XCTAssertTrue(t.latest().message.contains("refused: a learning rate must be between 1e-08 and 1000"), t.latest().message)
            XCTAssertEqual(t.latest().lr, 600, "\(refused)")
        }
        XCTAssertEqual(t.latest().events.map(\.label), ["pause"])
        t.send(.setLR(1000))
        waitUntil("lr 1000", t) { $0.events.last?.label == "lr 1000" }
        t.send(.stop)
        finish(t)
        // A run cannot start outside the range either.
        c.lr = 1001
        XCTAssertThrowsError(try Trainer(config: c, data: try splits())) {
            XCTAssertTrue("\($0)".contains("a learning rate must be between 1e-08 and 1000"), "\($0)")
        }
    }

    /// Issue 15.4: one snap event per file written: presses with nothing new at the same step write
    /// nothing (and say which file holds those weights); after an LR change, a second file.
    func testRepeatedSnapshotsAtOneStepGiveOneEventPerFile() throws {
        let dir = NSTemporaryDirectory() + "nntop-snap-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let t = try Trainer(config: config(), data: try splits())
        t.checkpointDirectory = dir
        t.send(.pause)
        t.start()
        for _ in 0..<10 { t.send(.snapshot) }
        waitUntil("the folded presses", t) { $0.message.contains("nothing new to save") }
        XCTAssertTrue(t.latest().message.contains("step-000000.safetensors"), t.latest().message)
        t.send(.setLR(0.02))
        t.send(.snapshot)
        t.send(.stop)
        finish(t)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("step-") }.sorted()
        XCTAssertEqual(files, ["step-000000-2.safetensors", "step-000000.safetensors"])
        XCTAssertEqual(t.latest().events.filter { $0.label == "snap" }.count, files.count)
    }

    /// Issue 15.9: sample predictions follow the current weights before any evaluation, and `e`
    /// without a validation set says so.
    func testDigitsFollowTheWeightsAndEvaluateWithoutAValidationSetSaysSo() throws {
        var c = config(); c.logEvery = 1
        let trainer = try Trainer(config: c, data: try splits(val: 0))
        trainer.digitRefreshSeconds = 0
        trainer.onEvent = { e in if case .progress(let s) = e, s.step == 56 { trainer.send(.pause) } }
        trainer.start()
        waitFor(.paused, trainer)
        // No evaluation has run (no validation set); the digits are those of the weights after 56 steps.
        XCTAssertTrue(trainer.latest().validationAccuracy.isEmpty)
        let digits = trainer.latest().digits
        XCTAssertEqual(digits.count, 24)
        let right = digits.filter { $0.label == $0.prediction.predicted }.count
        XCTAssertGreaterThanOrEqual(right, 16, "\(right) of 24 right after 56 steps")
        trainer.send(.evaluate)
        waitUntil("the answer to e", trainer) { $0.message.contains("no validation set") }
        trainer.send(.stop)
        finish(trainer)
    }

    /// Issue 15.10: every throughput figure is measured over the interval it claims: each progress
    /// line over its own steps (not a stale window, not a pause), none while paused, and the final
    /// figure over the steps alone (not the pause, not the final test evaluation).
    func testThroughputIsMeasuredOverTheIntervalItClaims() throws {
        var c = config(); c.logEvery = 1
        let t = try Trainer(config: c, data: try splits())
        var lines: [(wall: Double, step: Int, rate: Double)] = []
        let start = monotonicSeconds()
        t.onEvent = { e in
            if case .progress(let s) = e {
                lines.append((monotonicSeconds(), s.step, s.samplesPerSecond))
                if s.step == 16 { t.send(.pause) }
            }
        }
        t.start()
        waitFor(.paused, t)
        XCTAssertEqual(t.latest().samplesPerSecond, 0, "a paused run trains no samples")
        let pausedAt = monotonicSeconds()
        Thread.sleep(forTimeInterval: 1)   // makes a pause to leave out, not a wait for a result
        let resumedAt = monotonicSeconds()
        t.send(.resume)
        finish(t)
        let s = t.latest()
        XCTAssertEqual(lines.map(\.step), Array(1...64))
        // Each line's figure is its own step's: no two in a row repeat one stale value.
        let repeats = zip(lines, lines.dropFirst()).filter { $0.rate == $1.rate }.count
        XCTAssertLessThanOrEqual(repeats, 2, "\(lines.map(\.rate))")
        // A line claims its step's rate: at least the samples over the wall time since the line before.
        for (a, b) in zip(lines, lines.dropFirst()) where b.step != 17 {
            XCTAssertGreaterThanOrEqual(b.rate, 0.99 * 32 / (b.wall - a.wall), "step \(b.step)")
        }
        // The first line after the pause is not dragged down by it.
        let median = lines.map(\.rate).sorted()[32]
        XCTAssertGreaterThan(lines[16].rate, median / 4, "step 17: \(lines[16].rate) against \(median)")
        // The final figure: the 64 steps over their own time, which excludes the pause and the test evaluation.
        XCTAssertEqual(s.stepsTrained, 64)
        XCTAssertLessThanOrEqual(s.trainingSeconds, lines.last!.wall - start - (resumedAt - pausedAt))
        XCTAssertGreaterThanOrEqual(s.trainingSamplesPerSecond, 64 * 32 / (lines.last!.wall - start - (resumedAt - pausedAt)))
    }


    func testStopEndsTheRunEarly() throws {
        let t = try Trainer(config: config(), data: try splits())
        t.send(.pause)
        t.start()
        t.send(.stop)
        finish(t)
        XCTAssertEqual(t.latest().state, .stopped)
        XCTAssertEqual(t.latest().step, 0)
    }

    func testDivergenceStopsWithAClearMessage() throws {
        var c = config(); c.lr = 1000; c.schedule = "constant"
        let t = try Trainer(config: c, data: try splits())
        t.start(); finish(t)
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
        var c = config(); c.lr = 1000; c.schedule = "constant"
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
        let at = t.latest().step
        // The message names the step the progress bar shows: the last good one.
        XCTAssertTrue(t.latest().message.contains("after step \(at): the run diverged") && t.latest().message.contains("initial weights"), t.latest().message)
        // Evaluating or snapshotting diverged weights is refused (commands apply in order: once the
        // snapshot's refusal is out, the evaluation was refused before it).
        t.send(.evaluate)
        t.send(.snapshot)
        waitUntil("the snapshot's refusal", t) { $0.message.contains("nothing saved") }
        XCTAssertTrue(t.latest().validationAccuracy.isEmpty)
        XCTAssertFalse(t.isFinished)
        XCTAssertEqual(t.latest().step, at, "a diverged run must not keep stepping")

        // With a lower LR, p goes back to the initial weights and the run goes on.
        t.send(.setLR(0.01))
        t.send(.resume)
        finish(t)
        XCTAssertTrue(rolledBack == initial, "not the initial weights")
        XCTAssertEqual(t.latest().events.map(\.label).filter { !$0.hasPrefix("diverged") }, ["lr 0.01", "back to initial weights"])
        XCTAssertEqual(t.latest().state, .done)
        XCTAssertTrue(t.latest().trainLoss.last!.value.isFinite)
        XCTAssertGreaterThan(try XCTUnwrap(t.latest().finalTest).accuracy, 50)
        // Issue 15.11: the diverged step was taken again, so the epoch still has its 2048 / 32 steps
        // and its validation comes at its last one.
        XCTAssertEqual(t.latest().step, 64)
        XCTAssertEqual(t.latest().stepInEpoch, 64)
        XCTAssertEqual(t.latest().validationAccuracy.map(\.step), [64])
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
                t.send(.setLR(1000))
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
        finish(t)
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
        var c = config(); c.lr = 1000; c.schedule = "constant"
        let t = try Trainer(config: c, data: try splits())
        t.pauseOnDivergence = true
        t.checkpointDirectory = dir
        t.start()
        waitFor(.diverged, t)
        t.send(.stop)
        finish(t)
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
