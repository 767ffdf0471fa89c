import Foundation
import XCTest
@testable import Models

/// The LR schedules' factors against values written out here by hand (the step after N steps uses
/// factor(N)), and a run that changes its LR by hand mid-schedule, stops and resumes: every LR it
/// logs is the one worked out here.
final class LRScheduleTests: XCTestCase {
    func factors(_ s: LRSchedule, _ steps: [Int]) -> [Float] { steps.map(s.factor(step:)) }

    func assertClose(_ got: [Float], _ want: [Double], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, what, file: file, line: line)
        for (i, (g, w)) in zip(got, want).enumerated() {
            XCTAssertEqual(Double(g), w, accuracy: 1e-6 * max(1, abs(w)), "\(what) [\(i)]: \(got) vs \(want)", file: file, line: line)
        }
    }

    /// 10 steps per epoch, milestones at epochs 2 and 3.5: steps 0–19 at 1, 20–34 at γ, 35 on at γ².
    func testStepScheduleMultipliesByGammaAtEachMilestone() {
        let s = LRSchedule(kind: .step, milestones: [2, 3.5], gamma: 0.1, stepsPerEpoch: 10, totalSteps: 50)
        assertClose(factors(s, [0, 19, 20, 34, 35, 49]), [1, 1, 0.1, 0.1, 0.01, 0.01], "step")
    }

    /// He et al.'s 32k and 48k iterations at 391 steps per epoch, given in epochs.
    func testHeEtAlMilestonesInFractionalEpochsFallOnTheirIterations() {
        let s = LRSchedule(kind: .step, milestones: [81.8414, 122.7621], gamma: 0.1, stepsPerEpoch: 391, totalSteps: 64000)
        XCTAssertEqual(s.milestoneSteps, [32000, 48000])
        assertClose(factors(s, [31999, 32000, 47999, 48000]), [1, 0.1, 0.1, 0.01], "He et al.")
    }

    /// Warmup of half an epoch (5 steps) then a milestone at epoch 1 with γ 0.5.
    func testWarmupThenStep() {
        let s = LRSchedule(kind: .step, milestones: [1], gamma: 0.5, warmupEpochs: 0.5, stepsPerEpoch: 10, totalSteps: 30)
        assertClose(factors(s, [0, 1, 2, 3, 4, 5, 9, 10, 29]), [0.2, 0.4, 0.6, 0.8, 1, 1, 1, 0.5, 0.5], "warmup+step")
    }

    /// Warmup of one epoch (10 of 30 steps), then the cosine over the 20 steps left.
    func testWarmupThenCosine() {
        let s = LRSchedule(kind: .cosine, warmupEpochs: 1, stepsPerEpoch: 10, totalSteps: 30)
        // cos(π/4) = √2/2: step 15 is a quarter of the cosine; step 20 its middle; step 30 its end.
        assertClose(factors(s, [0, 4, 9, 10, 15, 20, 30]), [0.1, 0.5, 1, 1, 0.5 + 0.25 * 2.0.squareRoot(), 0.5, 0], "warmup+cosine")
        // Without warmup: the cosine over the whole run, as before.
        let plain = LRSchedule(kind: .cosine, stepsPerEpoch: 10, totalSteps: 40)
        assertClose(factors(plain, [0, 10, 20, 40]), [1, 0.5 + 0.25 * 2.0.squareRoot(), 0.5, 0], "cosine")
        let constant = LRSchedule(kind: .constant, warmupEpochs: 0.4, stepsPerEpoch: 10, totalSteps: 40)
        assertClose(factors(constant, [0, 3, 4, 39]), [0.25, 1, 1, 1], "warmup+constant")
    }

    func testMilestonesAreParsedAndBadOnesRefused() throws {
        XCTAssertEqual(try LRSchedule.parseMilestones("80,120,160,180"), [80, 120, 160, 180])
        XCTAssertEqual(try LRSchedule.parseMilestones("81.84, 122.76"), [81.84, 122.76])
        for bad in ["", "80,", "abc", "0", "-1", "120,80", "80,80", "nan", "inf"] {
            XCTAssertThrowsError(try LRSchedule.parseMilestones(bad), bad) { XCTAssertTrue("\($0)".contains("--milestones"), "\($0)") }
        }
    }

    /// LeNet-5 on 2,048 MNIST images, 32 a step, 2 epochs (128 steps): warmup over the first 16
    /// steps (half an epoch) of base 0.05, then ×0.1 at epoch 1.5 (step 96). At step 4 (the 5th step's
    /// factor is 5/16) an LR of 500 is refused (the warmup would take it to 1,600) and 0.01 is set:
    /// the base becomes 0.01·16/5 = 0.032. Stopped after step 40 and resumed, the run logs exactly the
    /// LRs an unbroken run would.
    func testManualChangeMidWarmupThenMilestoneAndResume() throws {
        let mnist = try MNIST.load(directory: try XCTUnwrap(MNIST.defaultDirectory()))
        let data = try DataSplits(train: mnist.train, test: mnist.test, validationSize: 64, trainLimit: 2048)
        let dir = NSTemporaryDirectory() + "nntop-schedule-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = TrainConfig.defaults(for: "lenet5")
        c.epochs = 2; c.batchSize = 32; c.seed = 3; c.logEvery = 1; c.threads = 2; c.lr = 0.05
        c.schedule = "step"; c.milestones = [1.5]; c.gamma = 0.1; c.warmup = 0.25

        // The LR step s trains at (s = 1 … 128), worked out by hand.
        var expected: [Int: Double] = [:]
        for s in 1...4 { expected[s] = 0.05 * Double(s) / 16 }
        for s in 5...16 { expected[s] = 0.032 * Double(s) / 16 }
        for s in 17...96 { expected[s] = 0.032 }
        for s in 97...128 { expected[s] = 0.0032 }

        var lrAt: [Int: Double] = [:]
        let lock = NSLock()
        let first = try Trainer(config: c, data: data)
        first.checkpointDirectory = dir
        XCTAssertEqual(first.latest().lr, 0.05 / 16, accuracy: 1e-9, "the header's LR before the first step")
        first.onEvent = { e in
            guard case .progress(let s) = e else { return }
            lock.lock(); lrAt[s.step] = s.lr; lock.unlock()
            if s.step == 4 { first.send(.pause) }
            if s.step == 40 { first.send(.stop) }
        }
        first.start()
        let end = Date().addingTimeInterval(60)
        while first.latest().state != .paused && Date() < end { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(first.latest().step, 4)
        let serial = first.latest().messageSerial
        first.send(.setLR(500))
        while first.latest().messageSerial == serial && Date() < end { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertTrue(first.latest().message.contains("refused: the schedule would raise it to 1600"), first.latest().message)
        first.send(.setLR(0.01))
        first.send(.resume)
        XCTAssertTrue(first.wait(timeout: 120), "the first part did not stop")
        XCTAssertEqual(first.latest().events.map(\.label), ["pause", "lr 0.01", "resume"])
        XCTAssertEqual(first.latest().step, 40)

        let second = try Trainer(config: c, data: data)
        second.onEvent = { e in
            guard case .progress(let s) = e else { return }
            lock.lock(); lrAt[s.step] = s.lr; lock.unlock()
        }
        try second.resume(from: dir + "/last.safetensors")
        XCTAssertEqual(second.latest().lr, 0.032, accuracy: 1e-8, "the header's LR once resumed")
        second.start()
        XCTAssertTrue(second.wait(timeout: 120), "the resumed part did not end")
        XCTAssertEqual(second.latest().state, .done)

        XCTAssertEqual(lrAt.keys.sorted(), Array(1...128))
        let wrong = (1...128).filter { abs(lrAt[$0]! - expected[$0]!) > expected[$0]! * 1e-5 }
        XCTAssertEqual(wrong, [], "steps whose LR is not the one worked out: " + wrong.prefix(5).map { "\($0): \(lrAt[$0]!) not \(expected[$0]!)" }.joined(separator: ", "))
    }
}
