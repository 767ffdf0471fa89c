import Foundation
import XCTest
@testable import Models

/// The run folder a short Trainer run writes: config.json round-trips, metrics.jsonl has one
/// parseable object per logged step, evaluation, control event and the end; a cut-off last line
/// is tolerated.
final class RunLogTests: XCTestCase {
    func tempDir() -> String {
        let d = NSTemporaryDirectory() + "nntop-runlog-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    func lines(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(text.hasSuffix("\n"))
        return try text.split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], String($0))
        }
    }

    func testShortRunWritesConfigAndOneLinePerStepEvaluationEventAndEnd() throws {
        let data = try DataSplits(train: TrainerTests.mnist.train, test: TrainerTests.mnist.test,
                                  validationSize: 200, trainLimit: 640)
        var c = TrainConfig.defaults(for: "lenet5")
        c.epochs = 2; c.batchSize = 32; c.logEvery = 5; c.evalEvery = 0; c.threads = 2; c.seed = 7
        let dir = tempDir() + "/run"
        let trainer = try Trainer(config: c, data: data)
        let log = RunLog(directory: dir, config: c, stepsPerEpoch: 20)
        XCTAssertNil(log.error)
        trainer.onEvent = { log.handle($0) }
        trainer.send(.pause)
        trainer.send(.setLR(0.02))
        trainer.send(.resume)
        trainer.start(); trainer.wait()
        XCTAssertNil(log.error)

        // config.json: every TrainConfig field back, plus version, cores and steps per epoch.
        XCTAssertEqual(RunLog.readConfig(directory: dir), c)
        let raw = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))) as? [String: Any])
        XCTAssertEqual(raw["nntop_version"] as? String, nntopVersion)
        XCTAssertEqual(raw["cores"] as? Int, ProcessInfo.processInfo.activeProcessorCount)
        XCTAssertEqual(raw["steps_per_epoch"] as? Int, 20)

        let all = try lines(dir + "/metrics.jsonl")
        let train = all.filter { $0["split"] as? String == "train" }
        XCTAssertEqual(train.compactMap { $0["step"] as? Int }, Array(stride(from: 5, through: 40, by: 5)))
        XCTAssertEqual(train.compactMap { $0["epoch"] as? Int }, [1, 1, 1, 1, 2, 2, 2, 2])
        for t in train {
            for k in ["loss", "acc", "lr", "samples_per_s", "time"] { XCTAssertNotNil(t[k] as? Double, "\(k) in \(t)") }
        }
        let val = all.filter { $0["split"] as? String == "val" }
        XCTAssertEqual(val.compactMap { $0["step"] as? Int }, [20, 40])
        let test = all.filter { $0["split"] as? String == "test" }
        XCTAssertEqual(test.count, 1)
        XCTAssertEqual(try XCTUnwrap(test.first?["acc"] as? Double), try XCTUnwrap(trainer.latest().finalTest).accuracy, accuracy: 1e-9)
        let events = all.compactMap { $0["event"] as? String }
        XCTAssertEqual(events, ["pause", "lr 0.02", "resume", "end"])
        let end = try XCTUnwrap(all.last)
        XCTAssertEqual(end["event"] as? String, "end")
        XCTAssertEqual(end["state"] as? String, "done")
        XCTAssertEqual(end["step"] as? Int, 40)
        let times = all.compactMap { $0["time"] as? Double }
        XCTAssertEqual(times.count, all.count)
        XCTAssertEqual(times, times.sorted())

        let summary = try XCTUnwrap(RunSummary(directory: dir))
        XCTAssertEqual(summary.state, "done")
        XCTAssertEqual(summary.epochsDone, 2)
        XCTAssertEqual(summary.lastStep, 40)
        XCTAssertEqual(try XCTUnwrap(summary.testAccuracy), try XCTUnwrap(test.first?["acc"] as? Double), accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(summary.bestValidationAccuracy), val.compactMap { $0["acc"] as? Double }.max()!, accuracy: 1e-9)
    }

    /// Residual toggles made on the live ResNet-18 reach the log and the run's summary, in order.
    func testResidualTogglesAreLoggedAndSummarised() throws {
        let data = try DataSplits(train: TrainerTests.mnist.train, test: TrainerTests.mnist.test,
                                  validationSize: 0, trainLimit: 64)
        var c = TrainConfig.defaults(for: "resnet18")
        c.batchSize = 16; c.threads = 2
        let dir = tempDir() + "/run"
        let trainer = try Trainer(config: c, data: data)
        let log = RunLog(directory: dir, config: c, stepsPerEpoch: 4)
        trainer.onEvent = { log.handle($0) }
        trainer.send(.pause)
        trainer.send(.setResidual(false))
        trainer.send(.setResidual(true))
        trainer.send(.setResidual(false))
        trainer.send(.stop)
        trainer.start(); trainer.wait()
        let summary = try XCTUnwrap(RunSummary(directory: dir))
        XCTAssertTrue(summary.config.residual)
        XCTAssertEqual(summary.residualToggles, [false, true, false])
        XCTAssertEqual(summary.state, "stopped")
    }

    func testTruncatedLastLineIsIgnoredAndAResumedLogStartsAFreshLine() throws {
        let dir = tempDir()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try JSONEncoder().encode(TrainConfig()).write(to: URL(fileURLWithPath: dir + "/config.json"))
        let partial = """
        {"step":100,"epoch":1,"split":"train","loss":0.5,"acc":80.0,"lr":0.05,"samples_per_s":900.0,"time":3.5}
        {"step":150,"epoch":1,"split":"val","loss":0.4,"acc":88.5,"time":4.25}
        {"step":200,"epoch":1,"split":"tr
        """
        try Data(partial.utf8).write(to: URL(fileURLWithPath: dir + "/metrics.jsonl"))
        // Old enough to count as killed.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -600)], ofItemAtPath: dir + "/metrics.jsonl")
        let read = RunLog.readMetrics(atPath: dir + "/metrics.jsonl")
        XCTAssertEqual(read.lines.count, 2)
        XCTAssertTrue(read.endsMidLine)
        let s = try XCTUnwrap(RunSummary(directory: dir))
        XCTAssertEqual(s.state, "stopped")
        XCTAssertEqual(s.lastStep, 150)
        XCTAssertEqual(s.bestValidationAccuracy, 88.5)
        XCTAssertNil(s.testAccuracy)
        XCTAssertEqual(s.wallSeconds, 4.25)
        // Running is a live process holding the folder's lock, however old the log.
        let lock = try RunLock(directory: dir)
        XCTAssertEqual(try XCTUnwrap(RunSummary(directory: dir)).state, "running")
        lock.release()
        XCTAssertEqual(try XCTUnwrap(RunSummary(directory: dir)).state, "stopped")

        // Continuing the run: the cut line stays alone, new lines parse and time keeps counting.
        let log = RunLog(directory: dir, config: TrainConfig())
        log.handle(.control(ControlEvent(step: 150, label: "resume")))
        XCTAssertNil(log.error)
        let after = RunLog.readMetrics(atPath: dir + "/metrics.jsonl")
        XCTAssertEqual(after.lines.count, 3)
        XCTAssertFalse(after.endsMidLine)
        XCTAssertEqual(after.lines.last?["event"] as? String, "resume")
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(after.lines.last?["time"] as? Double), 4.25)
    }

    func testWriteErrorsAreRememberedNotFatal() throws {
        // A folder that cannot be created (a file is in the way): no crash, the error is kept.
        let dir = tempDir()
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir))
        let log = RunLog(directory: dir + "/run", config: TrainConfig())
        XCTAssertNotNil(log.error)
        log.handle(.control(ControlEvent(step: 1, label: "pause")))
        XCTAssertNotNil(log.error)
#if os(Linux)
        // A full disk: /dev/full fails every write with ENOSPC.
        if FileManager.default.fileExists(atPath: "/dev/full") {
            let d2 = tempDir()
            try FileManager.default.createDirectory(atPath: d2, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: d2 + "/metrics.jsonl", withDestinationPath: "/dev/full")
            let full = RunLog(directory: d2, config: TrainConfig())
            XCTAssertNil(full.error)
            full.handle(.control(ControlEvent(step: 1, label: "pause")))
            XCTAssertTrue(full.error?.contains("metrics.jsonl") ?? false, "\(String(describing: full.error))")
            full.handle(.control(ControlEvent(step: 2, label: "resume")))
        }
#endif
    }

    /// Issue 15 item 8: a run that ended early (--stop-at-acc at step 30 of 40) is done after 1.5 of
    /// its 2 epochs, not 2/2.
    func testARunThatEndedEarlyCountsTheEpochsItTrained() throws {
        let dir = tempDir()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var c = TrainConfig.defaults(for: "lenet5"); c.epochs = 2
        let log = RunLog(directory: dir, config: c, stepsPerEpoch: 20)
        log.append([("step", 30), ("epoch", 2), ("split", "test"), ("loss", 0.5), ("acc", 91.0), ("time", 1.0)])
        log.append([("event", "end"), ("state", "done"), ("step", 30), ("epoch", 2), ("time", 1.5)])
        let s = try XCTUnwrap(RunSummary(directory: dir))
        XCTAssertEqual(s.state, "done")
        XCTAssertEqual(s.epochsDone, 1.5)
    }

    /// Issue 15 item 8: a log with a line that is not a record is "damaged" (what `nntop view`
    /// refuses), not "running" however fresh it is; a line cut by a kill is not damage.
    func testADamagedLogIsDamagedNotRunning() throws {
        let dir = tempDir()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try JSONEncoder().encode(TrainConfig()).write(to: URL(fileURLWithPath: dir + "/config.json"))
        let good = #"{"step":5,"epoch":1,"split":"train","loss":0.5,"acc":80.0,"lr":0.05,"samples_per_s":900.0,"time":1.0}"#
        try Data("\(good)\nGARBAGE\n\(good)\n".utf8).write(to: URL(fileURLWithPath: dir + "/metrics.jsonl"))
        XCTAssertEqual(try XCTUnwrap(RunSummary(directory: dir)).state, "damaged")
        XCTAssertThrowsError(try RunHistory(directory: dir))
        try Data("\(good)\n{\"step\":10,\"ep".utf8).write(to: URL(fileURLWithPath: dir + "/metrics.jsonl"))
        XCTAssertEqual(try XCTUnwrap(RunSummary(directory: dir)).state, "stopped")
    }
}
