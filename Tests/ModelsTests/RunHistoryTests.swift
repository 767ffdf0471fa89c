import Foundation
import XCTest
@testable import Models

/// A run written by a real Trainer and RunLog reads back as the curves, events and confusion
/// matrix the trainer produced; cut-off lines are skipped, non-runs and damaged logs are refused.
final class RunHistoryTests: XCTestCase {
    func tempDir() -> String {
        let d = NSTemporaryDirectory() + "nntop-history-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    /// A 2-epoch LeNet-5 run on 640 images (20 steps an epoch), logged every 5 steps, with a pause
    /// and an LR change before the first step.
    func shortRun(into dir: String) throws -> TrainingSnapshot {
        let data = try DataSplits(train: TrainerTests.mnist.train, test: TrainerTests.mnist.test,
                                  validationSize: 200, trainLimit: 640)
        var c = TrainConfig.defaults(for: "lenet5")
        c.epochs = 2; c.batchSize = 32; c.logEvery = 5; c.threads = 2; c.seed = 3
        let trainer = try Trainer(config: c, data: data)
        let log = RunLog(directory: dir, config: c, stepsPerEpoch: trainer.latest().stepsPerEpoch)
        trainer.onEvent = { log.handle($0) }
        trainer.send(.pause)
        trainer.send(.setLR(0.03))
        trainer.send(.resume)
        trainer.start(); trainer.wait()
        XCTAssertNil(log.error)
        return trainer.latest()
    }

    func testARealRunReadsBackAsTheTrainerLoggedIt() throws {
        let dir = tempDir() + "/20261126-101500-lenet5"
        let s = try shortRun(into: dir)
        let h = try RunHistory(directory: dir)
        XCTAssertEqual(h.name, "20261126-101500-lenet5")
        XCTAssertEqual(h.config.model, "lenet5")
        XCTAssertEqual(h.stepsPerEpoch, 20)
        XCTAssertEqual(h.summary.state, "done")
        XCTAssertEqual(h.skippedLines, 0)

        // Training points every 5 steps, each the mean of the per-step values since the last one.
        XCTAssertEqual(h.trainLoss.map(\.step), Array(stride(from: 5, through: 40, by: 5)))
        XCTAssertEqual(h.trainAccuracy.map(\.step), h.trainLoss.map(\.step))
        XCTAssertEqual(h.samplesPerSecond.count, 8)
        XCTAssertTrue(h.samplesPerSecond.allSatisfy { $0.value > 0 })
        // The end line's average: the run's 40 steps of 32 images over the seconds it spent training.
        XCTAssertEqual(try XCTUnwrap(h.averageSamplesPerSecond) * s.trainingSeconds, 40 * 32, accuracy: 1e-6 * 40 * 32)
        // The cosine schedule from the LR set before the first step (0.03) down towards 0.
        XCTAssertEqual(h.learningRate.count, 8)
        XCTAssertLessThanOrEqual(try XCTUnwrap(h.learningRate.first).value, 0.03 + 1e-7)
        XCTAssertEqual(h.learningRate.map(\.value), h.learningRate.map(\.value).sorted(by: >))
        for (p, q) in zip(h.trainLoss, h.trainAccuracy) {
            let window = s.trainLoss.filter { $0.step > p.step - 5 && $0.step <= p.step }.map(\.value)
            let accWindow = s.trainAccuracy.filter { $0.step > q.step - 5 && $0.step <= q.step }.map(\.value)
            XCTAssertEqual(window.count, 5)
            XCTAssertEqual(p.value, window.reduce(0, +) / 5, accuracy: 1e-9)
            XCTAssertEqual(q.value, accWindow.reduce(0, +) / 5, accuracy: 1e-9)
        }
        // One validation per epoch end, the final test, the control events and the test confusion matrix.
        XCTAssertEqual(h.validationAccuracy.map(\.step), [20, 40])
        for (a, b) in zip(h.validationAccuracy, s.validationAccuracy) { XCTAssertEqual(a.value, b.value, accuracy: 1e-9) }
        XCTAssertEqual(h.validationLoss.count, 2)
        let test = try XCTUnwrap(s.finalTest)
        XCTAssertEqual(h.testAccuracy.map(\.step), [40])
        XCTAssertEqual(try XCTUnwrap(h.testAccuracy.first).value, test.accuracy, accuracy: 1e-9)
        XCTAssertEqual(h.events.map(\.label), ["pause", "lr 0.03", "resume"])
        XCTAssertEqual(h.events.map(\.step), [0, 0, 0])
        XCTAssertEqual(h.confusion, test.confusion)
        XCTAssertEqual(h.confusion?.joined().reduce(0, +), 10_000)
    }

    func testACutLastLineAndAResumedRunsCutLineAreSkipped() throws {
        let dir = tempDir() + "/run"
        _ = try shortRun(into: dir)
        let whole = try RunHistory(directory: dir)
        let metrics = dir + "/metrics.jsonl"
        let text = try String(contentsOfFile: metrics, encoding: .utf8)
        // A kill mid-write after the first line, a resumed run writing on, then a kill again.
        var lines = text.split(separator: "\n").map(String.init)
        lines.insert(#"{"step":6,"epoch":1,"split":"tr"#, at: 1)
        try Data((lines.joined(separator: "\n") + "\n" + #"{"step":41,"epoch":2,"sp"#).utf8)
            .write(to: URL(fileURLWithPath: metrics))
        let h = try RunHistory(directory: dir)
        XCTAssertEqual(h.skippedLines, 2)
        XCTAssertEqual(h.trainLoss.map(\.step), whole.trainLoss.map(\.step))
        XCTAssertEqual(h.validationAccuracy.map(\.value), whole.validationAccuracy.map(\.value))
        XCTAssertEqual(h.events.map(\.label), ["pause", "lr 0.03", "resume"])
        XCTAssertNotNil(h.confusion)
    }

    func testAnOldLogWithoutMatrixOrStepsPerEpochStillReads() throws {
        let dir = tempDir()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var c = TrainConfig(); c.epochs = 2
        try JSONEncoder().encode(c).write(to: URL(fileURLWithPath: dir + "/config.json"))
        try Data("""
        {"step":50,"epoch":1,"split":"train","loss":0.9,"acc":70.0,"lr":0.05,"samples_per_s":900.0,"time":1.0}
        {"step":100,"epoch":1,"split":"val","loss":0.4,"acc":88.5,"time":2.0}
        {"step":150,"event":"res off","time":2.5}
        {"step":200,"epoch":2,"split":"test","loss":0.3,"acc":91.0,"time":4.0}
        {"event":"end","state":"done","step":200,"epoch":2,"time":4.1}

        """.utf8).write(to: URL(fileURLWithPath: dir + "/metrics.jsonl"))
        let h = try RunHistory(directory: dir)
        XCTAssertNil(h.confusion)
        XCTAssertEqual(h.stepsPerEpoch, 100)   // 200 steps over 2 epochs
        XCTAssertEqual(h.trainLoss, [CurvePoint(step: 50, value: 0.9)])
        XCTAssertEqual(h.validationAccuracy, [CurvePoint(step: 100, value: 88.5)])
        XCTAssertEqual(h.testAccuracy, [CurvePoint(step: 200, value: 91)])
        XCTAssertEqual(h.events, [ControlEvent(step: 150, label: "res off")])
        XCTAssertEqual(h.summary.state, "done")
        XCTAssertNil(h.averageSamplesPerSecond, "an end line without the average")
    }

    func testMissingFoldersNonRunsAndDamagedLogsAreRefusedNamingThePath() throws {
        let parent = tempDir()
        let fm = FileManager.default
        try fm.createDirectory(atPath: parent + "/empty", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: parent + "/garbage", withIntermediateDirectories: true)
        try JSONEncoder().encode(TrainConfig()).write(to: URL(fileURLWithPath: parent + "/garbage/config.json"))
        try Data("step,loss\n1,0.5\n".utf8).write(to: URL(fileURLWithPath: parent + "/garbage/metrics.jsonl"))
        try Data("x".utf8).write(to: URL(fileURLWithPath: parent + "/file"))
        // Two cut lines in a row are not what kills leave (a resumed run starts a fresh, whole line).
        try fm.createDirectory(atPath: parent + "/twice", withIntermediateDirectories: true)
        try JSONEncoder().encode(TrainConfig()).write(to: URL(fileURLWithPath: parent + "/twice/config.json"))
        try Data("{\"step\":1,\"split\":\"train\",\"loss\":1}\n{\"st\n{\"step\n{\"step\":2}\n".utf8)
            .write(to: URL(fileURLWithPath: parent + "/twice/metrics.jsonl"))
        // A pipe named metrics.jsonl is refused instead of blocking the reader.
        try fm.createDirectory(atPath: parent + "/fifo", withIntermediateDirectories: true)
        try JSONEncoder().encode(TrainConfig()).write(to: URL(fileURLWithPath: parent + "/fifo/config.json"))
        XCTAssertEqual(mkfifo(parent + "/fifo/metrics.jsonl", 0o600), 0)
        let cases = [("twice", "line 3 is not a metrics record"), ("fifo", "metrics.jsonl is not a regular file"),
                     ("nope", "no such run folder"), ("empty", "not an nntop run folder (no config.json or metrics.jsonl)"),
                     ("garbage", "line 1 is not a metrics record"), ("file", "not a folder")]
        for (name, why) in cases {
            let path = parent + "/" + name
            XCTAssertThrowsError(try RunHistory(directory: path), name) { e in
                let text = "\(e)"
                XCTAssertTrue(text.hasPrefix(path + ": "), text)
                XCTAssertTrue(text.contains(why), text)
            }
        }
    }

    /// Issue 15 item 6: a run resumed from its step-20 checkpoint shows the whole run on its dashboard:
    /// the log's curves and markers up to step 20 (not the first session's points past it, which the
    /// resumed run redoes), then its own per-step points.
    func testAResumedRunsSnapshotContinuesTheLogUpToItsCheckpoint() throws {
        let dir = tempDir() + "/run"
        let data = try DataSplits(train: TrainerTests.mnist.train, test: TrainerTests.mnist.test,
                                  validationSize: 200, trainLimit: 640)
        var c = TrainConfig.defaults(for: "lenet5")
        c.epochs = 2; c.batchSize = 32; c.logEvery = 5; c.threads = 2; c.seed = 3; c.saveEvery = 20
        let first = try Trainer(config: c, data: data)
        first.checkpointDirectory = dir + "/checkpoints"
        let log = RunLog(directory: dir, config: c, stepsPerEpoch: 20)
        first.onEvent = { log.handle($0) }
        first.send(.pause); first.send(.setLR(0.03)); first.send(.resume)
        first.start(); first.wait()

        // The dashboard's initial history: the folder read before the resumed session logs anything.
        let earlier = try RunHistory(directory: dir).through(step: 20)
        XCTAssertEqual(earlier.trainLoss.map(\.step), [5, 10, 15, 20])
        XCTAssertEqual(earlier.validationAccuracy.map(\.step), [20])
        XCTAssertEqual(earlier.testAccuracy.map(\.step), [])
        XCTAssertEqual(earlier.events.map(\.label), ["pause", "lr 0.03", "resume"])

        let second = try Trainer(config: c, data: data)
        try second.resume(from: dir + "/checkpoints/step-000020.safetensors")
        XCTAssertEqual(second.latest().step, 20)
        second.start(); second.wait()
        let s = second.latest().continuing(earlier)
        XCTAssertEqual(s.trainLoss.map(\.step), [5, 10, 15] + Array(20...40))
        XCTAssertEqual(s.trainAccuracy.map(\.step), s.trainLoss.map(\.step))
        XCTAssertEqual(s.validationAccuracy.map(\.step), [20, 40])
        XCTAssertEqual(s.validationLoss.map(\.step), [20, 40])
        XCTAssertEqual(s.testAccuracy.map(\.step), [40])
        XCTAssertEqual(s.events.map(\.label), ["pause", "lr 0.03", "resume"])
        XCTAssertEqual(s.step, 40)
    }
}
