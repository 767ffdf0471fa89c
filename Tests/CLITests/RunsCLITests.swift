import Foundation
import XCTest

/// Run folders through the binary: a headless run writes one, `nntop runs` lists it with its test
/// accuracy, and a killed run (no end line, old log) shows as stopped.
final class RunsCLITests: XCTestCase {
    static let binary = NntopBinary.url

    func run(_ args: [String], cwd: String? = nil) throws -> NntopBinary.Result {
        try NntopBinary.run(args, cwd: cwd)
    }

    func testRunsListsAFinishedRunWithItsTestAccuracyAndAKilledRunAsStopped() throws {
        let parent = NSTemporaryDirectory() + "nntop-runs-\(UUID().uuidString)"
        let fm = FileManager.default
        try fm.createDirectory(atPath: parent, withIntermediateDirectories: true)
        addTeardownBlock { try? fm.removeItem(atPath: parent) }

        let train = try run(["lenet5", "--headless", "--train-limit", "640", "--val-size", "200", "--epochs", "1",
                             "--log-every", "5", "--threads", "2", "--run-dir", parent + "/finished"])
        XCTAssertEqual(train.status, 0, train.err)
        // The expected test accuracy is recounted from the logged confusion matrix, not taken from
        // the accuracy the binary printed or logged.
        let testAcc = try RunFiles.recountedTestAccuracy(parent + "/finished")
        let metrics = try String(contentsOfFile: parent + "/finished/metrics.jsonl", encoding: .utf8)
        XCTAssertTrue(metrics.contains(#""split":"train""#) && metrics.contains(#""split":"val""#), metrics)
        XCTAssertTrue(metrics.hasSuffix("\n"))
        XCTAssertTrue(metrics.split(separator: "\n").last?.contains(#""event":"end","state":"done""#) ?? false, metrics)

        // A killed run: config.json, metrics up to its last step (the last line cut mid-write), an old
        // log; its residual connections were switched on mid-run.
        let killed = parent + "/killed"
        try fm.createDirectory(atPath: killed, withIntermediateDirectories: true)
        try Data(#"{"model":"resnet18","epochs":3,"batchSize":64,"lr":0.05,"optimizer":"momentum","momentum":0.9,"weightDecay":0,"schedule":"cosine","residual":false,"valSize":5000,"evalEvery":0,"logEvery":20,"saveEvery":0,"threads":2,"seed":1,"steps_per_epoch":100,"started":1000}"#.utf8)
            .write(to: URL(fileURLWithPath: killed + "/config.json"))
        try Data("""
        {"step":20,"epoch":1,"split":"train","loss":1.5,"acc":60.0,"lr":0.05,"samples_per_s":300.0,"time":4.0}
        {"step":100,"epoch":1,"split":"val","loss":0.3,"acc":91.25,"time":20.0}
        {"step":110,"event":"res on","time":22.0}
        {"step":120,"epoch":2,"split":"train","loss":0.2,"acc":93.0,"lr":0.04,"samples_per_s":310.0,"time":24.0}
        {"step":140,"epoch":2,"spl
        """.utf8).write(to: URL(fileURLWithPath: killed + "/metrics.jsonl"))
        try fm.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: killed + "/metrics.jsonl")
        // Not a run folder: skipped.
        try fm.createDirectory(atPath: parent + "/not-a-run", withIntermediateDirectories: true)

        let r = try run(["runs", parent])
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, r.out)
        XCTAssertTrue(lines[0].hasPrefix("RUN"), r.out)
        // Newest first: the finished run started after the hand-written one (started 1970).
        let done = lines[1], stopped = lines[2]
        XCTAssertTrue(done.hasPrefix("finished "), r.out)
        XCTAssertTrue(done.contains("lenet5") && done.hasSuffix("done"), done)
        XCTAssertTrue(done.contains(" \(testAcc)"), "\(done) lacks \(testAcc)")
        XCTAssertTrue(stopped.hasPrefix("killed "), r.out)
        for word in ["resnet18", "off→on", "1.2/3", "91.25%", "24.0s"] { XCTAssertTrue(stopped.contains(word), "\(stopped) lacks \(word)") }
        XCTAssertTrue(stopped.hasSuffix("stopped"), stopped)
        XCTAssertFalse(r.out.contains("not-a-run"))

        let missing = try run(["runs", parent + "/nope"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.err.contains("nope"), missing.err)
    }
}
