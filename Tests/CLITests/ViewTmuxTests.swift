import Foundation
import Models
import XCTest

/// `nntop view` of two real runs in tmux at 100×30: both names in the legend, the epoch axis,
/// the events list, the final confusion matrix; q quits at once with status 0.
extension DashboardTmuxTests {
    func testViewShowsTwoRunsTheirEventsAndMatrixAndQuitsOnQ() throws {
        // Two short runs, the second with half the batch (twice the steps per epoch).
        for (name, batch) in [("first", "64"), ("second", "32")] {
            let r = try NntopBinary.run(["lenet5", "--headless", "--train-limit", "640", "--val-size", "200", "--epochs", "2",
                                         "--batch-size", batch, "--log-every", "2", "--threads", "2", "--run-dir", "\(workDir!)/runs/\(name)"])
            XCTAssertEqual(r.status, 0, r.err)
        }
        // Headless runs take no keys: write the line a pause at step 5 would have logged.
        let metrics = workDir + "/runs/first/metrics.jsonl"
        var lines = try String(contentsOfFile: metrics, encoding: .utf8).split(separator: "\n").map(String.init)
        lines.insert(#"{"step":5,"event":"pause","time":0.5}"#, at: 1)
        // The end line carries the run's average throughput; set to a figure no step logged, the header
        // must show it (as "avg"), not the last training line's.
        let end = try XCTUnwrap(lines.lastIndex { $0.contains(#""event":"end""#) })
        XCTAssertTrue(lines[end].contains(#""samples_per_s":"#), lines[end])
        lines[end] = lines[end].replacingOccurrences(of: #""samples_per_s":[-+.0-9eE]+"#, with: #""samples_per_s":4321.0"#,
                                                     options: .regularExpression)
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: metrics))

        let binary = Bundle.main.bundleURL.appendingPathComponent("nntop").path
        let command = "cd \(workDir!) && LANG=C.UTF-8 \(binary) view runs/first runs/second; echo EXIT=$?; "
            + "PS1='PROMPT> ' exec bash --norc --noprofile -i"
        try tmux("new-session", "-d", "-s", "nntop", "-x", "100", "-y", "30", "bash", "--norc", "--noprofile", "-c", command)

        var s = try waitFor("the curves of both runs", timeout: 10) { $0.contains("Training loss") && $0.contains("Accuracy %") }
        XCTAssertTrue(s.contains("● first (lenet5)"), s)
        XCTAssertTrue(s.contains("● second (lenet5)"), s)
        XCTAssertTrue(s.contains("DONE"), s)
        XCTAssertTrue(s.contains("4321 samples/s avg"), "the end line's average in the header:\n\(s)")
        XCTAssertTrue(s.contains("pause"), "marker:\n\(s)")
        XCTAssertFalse(s.contains("space pause"), "no training keys:\n\(s)")

        try tmux("send-keys", "-t", "nntop", "x")
        s = try waitFor("epoch axis", timeout: 5) { $0.contains("x epochs") }
        XCTAssertTrue(s.contains("2 ep"), s)

        try tmux("send-keys", "-t", "nntop", "2")
        s = try waitFor("runs and events", timeout: 5) { $0.contains("Events of first (lenet5)") }
        XCTAssertTrue(s.contains("step    5  pause"), s)
        // At 100x30 the runs list is the right-hand panel: each run's name, then its summary below it.
        XCTAssertTrue(s.contains("● second (lenet5)") && s.contains("lenet5 · done · 2/2 epochs · step 40"), s)

        try tmux("send-keys", "-t", "nntop", "4")
        // At 100x30 the matrix is the right-hand panel: too narrow for its recall column, not for its total.
        s = try waitFor("confusion matrix", timeout: 5) { $0.contains("Final test confusion matrix") && $0.contains("/10000)") }

        try tmux("send-keys", "-t", "nntop", "q")
        s = try waitFor("exit and prompt", timeout: 5) { $0.contains("EXIT=") && $0.contains("PROMPT>") }
        XCTAssertTrue(s.contains("EXIT=0"), s)
        XCTAssertFalse(s.contains("Training loss"), "dashboard left on screen:\n\(s)")
    }

    /// A run still being written (no end line, its folder's lock held by a live process: here this
    /// test's) is read again while viewed: lines appended to its log show up on the dashboard.
    func testViewFollowsARunThatIsStillWriting() throws {
        let run = workDir + "/runs/live"
        let r = try NntopBinary.run(["lenet5", "--headless", "--train-limit", "640", "--val-size", "200", "--epochs", "2",
                                     "--log-every", "5", "--threads", "2", "--run-dir", run])
        XCTAssertEqual(r.status, 0, r.err)
        // Cut the log back to step 10, as if the run were still in its first epoch.
        let metrics = run + "/metrics.jsonl"
        let lines = try String(contentsOfFile: metrics, encoding: .utf8).split(separator: "\n")
            .filter { !$0.contains(#""event":"end""#) && !$0.contains(#""split":"test""#) }
            .filter { line in (line.range(of: #""step":(\d+)"#, options: .regularExpression).map { Int(line[$0].dropFirst(7))! } ?? 0) <= 10 }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: metrics))
        // Its writer is alive: it holds the run folder's lock.
        let lock = try RunLock(directory: run)
        defer { lock.release() }

        let binary = Bundle.main.bundleURL.appendingPathComponent("nntop").path
        try tmux("new-session", "-d", "-s", "nntop", "-x", "100", "-y", "30", "env LANG=C.UTF-8 \(binary) view \(run)")
        var s = try waitFor("the running run at step 10", timeout: 10) { $0.contains("RUNNING") && $0.contains("step 10/") }
        XCTAssertFalse(s.contains("step 15/"), s)
        // The status line agrees with the header: a live run, not a finished one.
        XCTAssertFalse(s.contains("finished run"), s)
        XCTAssertTrue(s.contains("a live run"), s)
        // The run writes on, at 64 samples/s = one 64-image step a second: 5 of its 20 steps
        // (10 a epoch, 2 epochs) are left at step 15, so 5 s.
        func append(_ line: String) throws {
            let handle = try XCTUnwrap(FileHandle(forWritingAtPath: metrics))
            handle.seekToEndOfFile(); handle.write(Data((line + "\n").utf8)); handle.closeFile()
        }
        try append(#"{"step":15,"epoch":2,"split":"train","loss":1.1,"acc":60.0,"lr":0.02,"samples_per_s":64.0,"time":1.5}"#)
        s = try waitFor("the appended step", timeout: 10) { $0.contains("step 15/") }
        XCTAssertTrue(s.contains("RUNNING"), s)
        XCTAssertTrue(s.contains("step 15/20"), s)
        XCTAssertTrue(s.contains("ETA 5s"), s)
        // A logged training accuracy averages 5 steps of 64 images: one image is 0.3 points, so one decimal.
        XCTAssertTrue(s.contains("train 60.0%"), s)
        XCTAssertFalse(s.contains("train 60.00%"), s)
        XCTAssertFalse(s.contains("ETA --"), s)

        // A training key says at once that nothing trains here: no LR prompt first.
        try tmux("send-keys", "-t", "nntop", "l")
        s = try waitFor("the nothing-trains note", timeout: 5) { $0.contains("nothing is training") }
        XCTAssertFalse(s.contains("set LR"), s)

        // A pause in the log: PAUSED, and no ETA (it would be a guess).
        try append(#"{"step":15,"event":"pause","time":1.6}"#)
        s = try waitFor("the pause", timeout: 10) { $0.contains("PAUSED") }
        XCTAssertFalse(s.contains("ETA"), s)
        try tmux("send-keys", "-t", "nntop", "q")
    }
}
