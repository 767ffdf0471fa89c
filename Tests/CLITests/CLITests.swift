import Foundation
import Models
import XCTest

/// The real binary, end to end: options, errors, and a short headless run.
final class CLITests: XCTestCase {
    /// `swift test` builds the nntop executable next to the test bundle.
    static let binary = NntopBinary.url

    func run(_ args: [String], cwd: String? = nil) throws -> NntopBinary.Result {
        try NntopBinary.run(args, cwd: cwd)
    }

    func testHelpExplainsModelsAndOptions() throws {
        let r = try run(["train", "--help"])
        XCTAssertEqual(r.status, 0)
        for word in ["lenet5", "resnet18", "--no-residual", "--lr", "--data", "--headless", "--train-limit"] {
            XCTAssertTrue(r.out.contains(word), "help lacks \(word)")
        }
    }

    func testNonsenseOptionsGetOneClearErrorAndNonZeroExit() throws {
        let cases: [([String], String)] = [
            (["vgg"], "lenet5, resnet18"),
            (["lenet5", "--optimizer", "rmsprop"], "sgd, momentum, nesterov, adam"),
            (["lenet5", "--lr", "-1"], "--lr"),
            (["lenet5", "--lr", "0"], "--lr"),
            (["lenet5", "--batch-size", "0"], "--batch-size"),
            (["lenet5", "--epochs", "0"], "--epochs"),
            (["lenet5", "--threads", "0"], "--threads"),
            (["lenet5", "--val-size", "-5"], "--val-size"),
            (["lenet5", "--train-limit", "100000", "--headless"], "--train-limit"),
            (["lenet5", "--val-size", "60000", "--headless"], "--val-size"),
            (["lenet5", "--data", "/nonexistent/mnist", "--headless"], "/nonexistent/mnist"),
            (["lenet5", "--preset", "huge"], "textbook"),
            (["lenet5", "--stop-at-acc", "150"], "--stop-at-acc"),
        ]
        for (args, needle) in cases {
            let r = try run(args)
            XCTAssertNotEqual(r.status, 0, "\(args) should fail")
            XCTAssertTrue(r.err.contains(needle), "\(args): stderr lacks '\(needle)': \(r.err)")
            XCTAssertFalse(r.err.contains("Fatal error") || r.err.contains("Stack dump"), "\(args) crashed: \(r.err)")
            XCTAssertEqual(r.out, "", "\(args) printed to stdout")
        }
    }

    func testShortHeadlessRunPrintsProgressEvaluationAndFinalLine() throws {
        // Run from another folder: the binary still finds the bundled assets/mnist.
        let r = try run(["lenet5", "--headless", "--train-limit", "640", "--val-size", "200", "--epochs", "2",
                         "--log-every", "5", "--seed", "3"], cwd: NSTemporaryDirectory())
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n").map(String.init)
        let progress = lines.filter { $0.hasPrefix("epoch ") }
        XCTAssertEqual(progress.count, 4, r.out)   // 10 steps per epoch, a line every 5
        XCTAssertNotNil(progress.first?.range(of: #"^epoch 1/2 step 5/10 loss \d+\.\d{4} acc \d+\.\d% lr [0-9.e-]+ \d+ samples/s$"#,
                                                options: .regularExpression), progress.first ?? "")
        XCTAssertEqual(lines.filter { $0.hasPrefix("val epoch") }.count, 2)
        let final = try XCTUnwrap(lines.last)
        XCTAssertNotNil(final.range(of: #"^final test_acc=\d+\.\d\d% test_loss=\d+\.\d{4} epochs=2 steps=20 wall=\d+\.\ds$"#,
                                    options: .regularExpression), final)
        XCTAssertEqual(lines.filter { $0.hasPrefix("final ") }.count, 1)
    }

    /// SIGTERM stops a headless run at a step boundary: last.safetensors is written, the final line
    /// printed, and the exit status is 143.
    func testSIGTERMStopsCleanlyAndKeepsTheWeights() throws {
        let dir = NSTemporaryDirectory() + "nntop-sig-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = try Child(["lenet5", "--headless", "--train-limit", "50000", "--val-size", "500", "--log-every", "10", "--run-dir", dir])
        // Wait for the first progress line, then signal.
        try p.waitFor("epoch 1/5 step 10/")
        kill(p.pid, SIGTERM)
        let r = try p.finish(timeout: 120)
        XCTAssertEqual(r.status, 143)
        XCTAssertTrue(r.out.contains("final state=stopped"), r.out)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/checkpoints/last.safetensors"))
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: dir + "/checkpoints").contains { $0.contains(".tmp") })
    }

    /// A headless run outlives its terminal: SIGHUP is ignored and the run finishes normally.
    func testHeadlessRunIgnoresSIGHUPAndFinishes() throws {
        let dir = NSTemporaryDirectory() + "nntop-hup-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = try Child(["lenet5", "--headless", "--train-limit", "6400", "--val-size", "500", "--epochs", "1",
                           "--log-every", "10", "--run-dir", dir])
        try p.waitFor("step 10/")
        kill(p.pid, SIGHUP)
        let r = try p.finish(timeout: 120)
        XCTAssertEqual(p.terminationReason, .exit)
        XCTAssertEqual(r.status, 0, r.out)
        XCTAssertTrue(r.out.contains("final test_acc=") && r.out.contains("steps=100"), r.out)
    }

    /// A second Ctrl-C does not wait for the stop in progress (here, writing ResNet-18's 90 MB
    /// last.safetensors): it exits at once with 130, leaving no checkpoint half-written under its name.
    func testSecondSIGINTQuitsAtOnce() throws {
        let dir = NSTemporaryDirectory() + "nntop-int2-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = try Child(["resnet18", "--headless", "--train-limit", "6400", "--val-size", "128",
                           "--log-every", "1", "--run-dir", dir])
        try p.waitFor("step 2/")
        kill(p.pid, SIGINT)
        let note = try p.waitFor("again to quit at once", inStderr: true, timeout: 60)
        kill(p.pid, SIGINT)
        let r = try p.finish(timeout: 60)
        XCTAssertEqual(r.status, 130, r.out)
        XCTAssertTrue(note.contains("stopping at the next step"), note)
        // It did not wait for the clean stop, which prints a final line after saving.
        XCTAssertFalse(r.out.contains("final state=stopped"), r.out)
        let ckpts = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/checkpoints")) ?? []
        for f in ckpts where !f.hasPrefix(".") {
            XCTAssertNoThrow(try SafetensorsFile(path: dir + "/checkpoints/" + f), f)
        }
    }

    /// --stop-at-acc ends the run at the first evaluation whose test accuracy reaches the target.
    func testStopAtAccuracyEndsTheRunEarly() throws {
        let dir = NSTemporaryDirectory() + "nntop-stop-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try run(["lenet5", "--headless", "--train-limit", "640", "--val-size", "200", "--epochs", "4",
                         "--stop-at-acc", "20", "--run-dir", dir])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("reached --stop-at-acc 20.00% at step 10"), r.out)
        // The test-set check is logged like any evaluation, in the output and in metrics.jsonl.
        XCTAssertTrue(r.out.contains("test epoch 1 step 10 loss"), r.out)
        let metrics = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8)
        XCTAssertEqual(metrics.split(separator: "\n").filter { $0.contains(#""step":10,"#) && $0.contains(#""split":"test""#) }.count, 2, metrics)
        XCTAssertTrue(r.out.contains("final test_acc="), r.out)
        XCTAssertTrue(r.out.contains("epochs=1 steps=10"), r.out)
    }

    /// A --run-dir that is a file, or a folder holding something else, is refused before training
    /// and left as it was.
    func testRunFolderThatIsNotARunIsRefused() throws {
        let base = NSTemporaryDirectory() + "nntop-rundir-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: base + "/photos", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        try Data("holiday".utf8).write(to: URL(fileURLWithPath: base + "/photos/beach.jpg"))
        try Data("x".utf8).write(to: URL(fileURLWithPath: base + "/afile"))
        for (dir, needle) in [(base + "/photos", "not an nntop run folder"), (base + "/afile", "is a file")] {
            let r = try run(["lenet5", "--headless", "--train-limit", "640", "--val-size", "200", "--run-dir", dir])
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.err.contains(needle) && r.err.contains(dir), r.err)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: base + "/photos"), ["beach.jpg"])
    }
}
