import Foundation
import XCTest

/// Issue 15 items 5–8 and 15 through the real binary: run folders are locked and never mixed,
/// resumed runs say what this session trained, finished runs are not silently extended, `runs`
/// tells the truth, and the small CLI fixes.
final class RunFolderCLITests: XCTestCase {
    var base: String!

    override func setUpWithError() throws {
        base = NSTemporaryDirectory() + "nntop-folders-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: base) }

    func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    /// The `nntop runs` line of the run folder `name`.
    func runsLine(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try NntopBinary.run(["runs", base], timeout: 60)
        XCTAssertEqual(r.status, 0, r.err, file: file, line: line)
        return try XCTUnwrap(r.out.split(separator: "\n").first { $0.hasPrefix(name + " ") }.map(String.init),
                             "no line for \(name) in:\n\(r.out)", file: file, line: line)
    }

    /// Items 5, 6, 7, 8: one writer per folder; a killed run's lock does not block and `runs` sees it
    /// at once; a finished folder is not appended to; a resumed run says what this session trained;
    /// a finished run is extended only with --epochs.
    func testLockedFoldersKilledRunsResumesAndFinishedRuns() throws {
        let dir = base + "/live"
        // 3,200 training images at batch 64: 50 steps an epoch; 100 epochs keep it busy while the checks
        // run (it is killed), a step checkpoint every 10 steps.
        let args = ["lenet5", "--headless", "--train-limit", "3200", "--val-size", "200", "--epochs", "100",
                    "--log-every", "10", "--threads", "1", "--run-dir", dir]
        let first = try Child(args + ["--save-every", "10"])
        addTeardownBlock { if first.process.isRunning { kill(first.process.processIdentifier, SIGKILL) } }
        try first.waitFor("saved \(dir)/checkpoints/step-")
        XCTAssertTrue(first.process.isRunning, "the run ended before the checks: " + first.out)

        // While it trains: `runs` says running, and a second writer is refused in one line.
        // A live run answers on its control socket: its state and pid.
        XCTAssertTrue(try runsLine("live").hasSuffix("running (pid \(first.pid))"))
        let second = try NntopBinary.run(args)
        XCTAssertNotEqual(second.status, 0)
        XCTAssertEqual(second.err.split(separator: "\n").count, 1, second.err)
        XCTAssertTrue(second.err.contains(dir) && second.err.contains("in use"), second.err)
        XCTAssertEqual(second.out, "")
        let tfevents = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("events.out.tfevents") }
        XCTAssertEqual(tfevents.count, 1, "\(tfevents)")

        // Killed: no end line, but no live lock either — `runs` says stopped at once (the log is seconds old).
        kill(first.process.processIdentifier, SIGKILL)
        _ = try first.finish(timeout: 30)
        XCTAssertEqual(first.process.terminationReason, .uncaughtSignal)
        XCTAssertTrue(try runsLine("live").hasSuffix("stopped"))

        // A new run into the killed run's folder without --resume would append to its log: refused.
        let metrics = dir + "/metrics.jsonl"
        let before = bytes(metrics)
        let fresh = try NntopBinary.run(args)
        XCTAssertNotEqual(fresh.status, 0)
        XCTAssertEqual(fresh.err.split(separator: "\n").count, 1, fresh.err)
        XCTAssertTrue(fresh.err.contains(dir) && fresh.err.contains("already holds"), fresh.err)
        XCTAssertEqual(bytes(metrics), before)

        // Resuming (for 1 epoch now) is not blocked by the killed run's lock file; the end line tells
        // this session's steps from the run's.
        let checkpoint = dir + "/checkpoints/step-000010.safetensors"
        let resumedAt = 10
        let resumed = try NntopBinary.run(["lenet5", "--headless", "--resume", checkpoint, "--threads", "1", "--epochs", "1"])
        XCTAssertEqual(resumed.status, 0, resumed.err)
        XCTAssertTrue(resumed.out.contains("trained \(50 - resumedAt) steps in "), resumed.out)
        XCTAssertTrue(resumed.out.contains("(resumed at step \(resumedAt); 50 steps in all)"), resumed.out)
        XCTAssertTrue(resumed.out.contains("epochs=1 steps=50 "), resumed.out)
        XCTAssertTrue(try runsLine("live").hasSuffix("done"))

        // Finished: resuming it again is refused (no extra epoch, no second end line) …
        let last = dir + "/checkpoints/last.safetensors"
        let finished = bytes(metrics)
        for extra in [[], ["--epochs", "1"]] {
            let again = try NntopBinary.run(["lenet5", "--headless", "--resume", last, "--threads", "1"] + extra)
            XCTAssertNotEqual(again.status, 0, "\(extra)")
            XCTAssertEqual(again.err.split(separator: "\n").count, 1, again.err)
            XCTAssertTrue(again.err.contains("finished") && again.err.contains("--epochs"), again.err)
            XCTAssertEqual(bytes(metrics), finished, "\(extra)")
        }
        // … and extended by --epochs: 50 more steps, the run now 2/2 epochs.
        let extended = try NntopBinary.run(["lenet5", "--headless", "--resume", last, "--threads", "1", "--epochs", "2"])
        XCTAssertEqual(extended.status, 0, extended.err)
        XCTAssertTrue(extended.out.contains("trained 50 steps in ") && extended.out.contains("100 steps in all"), extended.out)
        XCTAssertTrue(extended.out.contains("epochs=2 steps=100 "), extended.out)
        XCTAssertTrue(try runsLine("live").contains(" 2/2 "))
    }

    /// Item 5: runs started in the same second (same default folder name) get folders of their own;
    /// none appends to another run's log. Folders for every name of the next minute are taken first.
    func testTheDefaultFolderNeverAppendsToAnotherRun() throws {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        let now = Date()
        let taken = (-2...60).map { "\(f.string(from: now.addingTimeInterval(Double($0))))-lenet5-mnist" }
        let config = #"{"model":"lenet5","epochs":1,"batchSize":64,"lr":0.05,"optimizer":"momentum","momentum":0.9,"weightDecay":0,"schedule":"cosine","residual":true,"valSize":200,"evalEvery":0,"logEvery":10,"saveEvery":0,"threads":1,"seed":1}"#
        let log = #"{"event":"end","state":"done","step":10,"epoch":1,"time":1.0}"# + "\n"
        for name in taken {
            let d = base + "/runs/" + name
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
            try Data(config.utf8).write(to: URL(fileURLWithPath: d + "/config.json"))
            try Data(log.utf8).write(to: URL(fileURLWithPath: d + "/metrics.jsonl"))
        }
        let r = try NntopBinary.run(["lenet5", "--headless", "--train-limit", "640", "--val-size", "200", "--epochs", "1",
                                    "--threads", "1"], cwd: base)
        XCTAssertEqual(r.status, 0, r.err)
        for name in taken {
            XCTAssertEqual(bytes(base + "/runs/\(name)/metrics.jsonl"), Data(log.utf8), name)
        }
        let new = try FileManager.default.contentsOfDirectory(atPath: base + "/runs").filter { !taken.contains($0) }
        XCTAssertEqual(new.count, 1, "\(new)")
        XCTAssertTrue(new.first?.hasSuffix("-lenet5-mnist-2") ?? false, "\(new)")
        XCTAssertNotNil(bytes(base + "/runs/\(new.first ?? "")/metrics.jsonl"))
    }

    /// Item 8: a --stop-at-acc run that ended after 1 of its 4 epochs shows 1/4, not 4/4; a damaged
    /// log (fresh) is "damaged", as `view` refuses it, not "running".
    func testRunsShowsEarlyEndsAndDamagedLogs() throws {
        let r = try NntopBinary.run(["lenet5", "--headless", "--train-limit", "640", "--val-size", "200", "--epochs", "4",
                                    "--stop-at-acc", "20", "--threads", "1", "--run-dir", base + "/early"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("reached --stop-at-acc 20.00% at step 10"), r.out)   // 640 / 64 = 10 steps an epoch
        let early = try runsLine("early")
        XCTAssertTrue(early.contains(" 1/4 ") && early.hasSuffix("done"), early)

        let damaged = base + "/damaged"
        try FileManager.default.createDirectory(atPath: damaged, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: base + "/early/config.json", toPath: damaged + "/config.json")
        let good = #"{"step":5,"epoch":1,"split":"train","loss":0.5,"acc":80.0,"lr":0.05,"samples_per_s":900.0,"time":1.0}"#
        try Data("\(good)\nnot json at all\n\(good)\n".utf8).write(to: URL(fileURLWithPath: damaged + "/metrics.jsonl"))
        XCTAssertTrue(try runsLine("damaged").hasSuffix("damaged"))
        let view = try NntopBinary.run(["view", "--text", damaged], timeout: 60)
        XCTAssertNotEqual(view.status, 0)
        XCTAssertTrue(view.err.contains(damaged), view.err)
    }

    /// Item 15: --no-residual on a model without shortcuts is refused (train and eval); help shows
    /// defaults once; a run folder that cannot be created names the directory that is not writable.
    func testSmallCLIFixes() throws {
        // A checkpoint for eval: any lenet5 one (a 10-step run).
        let ck = base + "/ck"
        let made = try NntopBinary.run(["lenet5", "--headless", "--train-limit", "640", "--val-size", "0", "--epochs", "1",
                                       "--threads", "1", "--run-dir", ck])
        XCTAssertEqual(made.status, 0, made.err)
        for args in [["lenet5", "--no-residual", "--headless", "--train-limit", "640", "--run-dir", base + "/nores"],
                     ["eval", "lenet5", "--no-residual", "--weights", ck + "/checkpoints/last.safetensors"]] {
            let r = try NntopBinary.run(args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err)
            XCTAssertTrue(r.err.contains("--no-residual") && r.err.contains("lenet5"), r.err)
            XCTAssertEqual(r.out, "")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: base + "/nores"))

        let help = try NntopBinary.run(["train", "--help"], timeout: 60)
        XCTAssertEqual(help.status, 0)
        // Each option's help text, joined across ArgumentParser's wrapped lines.
        let text = help.out.replacingOccurrences(of: #"\s+"#, with: " ", options: .regularExpression)
        func helpOf(_ option: String) -> String {
            guard let start = text.range(of: " \(option) <") else { return "" }
            let rest = text[start.upperBound...]
            let end = rest.range(of: " --")?.lowerBound ?? rest.endIndex
            return String(rest[..<end])
        }
        XCTAssertFalse(text.contains("). (default:"), help.out)
        for option in ["--threads", "--lr", "--log-every"] {
            let h = helpOf(option)
            XCTAssertEqual(h.components(separatedBy: "default").count - 1, 1, "\(option): \(h)")
        }

        // The default run folder in a directory nntop may not write: /proc for root (who may write
        // anywhere else), a read-only folder for anyone else.
        let readOnly: String
        if getuid() == 0 { readOnly = "/proc" } else {
            readOnly = base + "/ro"
            try FileManager.default.createDirectory(atPath: readOnly, withIntermediateDirectories: true)
            chmod(readOnly, 0o555)
            addTeardownBlock { chmod(readOnly, 0o755) }
        }
        let ro = try NntopBinary.run(["lenet5", "--headless", "--train-limit", "640", "--val-size", "200", "--threads", "1"], cwd: readOnly)
        XCTAssertNotEqual(ro.status, 0)
        XCTAssertEqual(ro.err.split(separator: "\n").count, 1, ro.err)
        XCTAssertTrue(ro.err.contains("\(readOnly) is not writable") && ro.err.contains("--run-dir"), ro.err)
        XCTAssertFalse(ro.err.contains("doesn’t exist") || ro.err.contains("doesn't exist"), ro.err)
    }

    /// Item 15: a headless run stopped by SIGTERM says where it wrote last.safetensors.
    func testSIGTERMNamesTheLastCheckpoint() throws {
        let dir = base + "/term"
        let c = try Child(["lenet5", "--headless", "--train-limit", "50000", "--val-size", "200", "--log-every", "10",
                                "--threads", "1", "--run-dir", dir])
        addTeardownBlock { if c.process.isRunning { kill(c.process.processIdentifier, SIGKILL) } }
        try c.waitFor("step 10/")
        kill(c.process.processIdentifier, SIGTERM)
        XCTAssertEqual(try c.finish(timeout: 120).status, 143, c.out + c.err)
        let path = dir + "/checkpoints/last.safetensors"
        XCTAssertTrue(FileManager.default.fileExists(atPath: path))
        XCTAssertTrue(c.out.contains("saved \(path)"), c.out)
    }
}
