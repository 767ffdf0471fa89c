import Foundation
import Models
import XCTest

/// Start in a dashboard, lose the terminal, attach again: the run trains on without a screen, and a
/// later dashboard (or two) shows its whole history and steers it with every key.
extension DashboardTmuxTests {
    var nntopPath: String { Bundle.main.bundleURL.appendingPathComponent("nntop").path }

    /// The screen of tmux session `name`, polled until `predicate` holds (deadline `timeout`).
    @discardableResult
    func waitFor(_ what: String, in name: String, timeout: Double = 60, _ predicate: (String) -> Bool) throws -> String {
        let end = Date().addingTimeInterval(timeout)
        var s = ""
        while Date() < end {
            s = try tmux("capture-pane", "-p", "-t", name)
            if predicate(s) { return s }
            Thread.sleep(forTimeInterval: 0.2)
        }
        XCTFail("timed out waiting for \(what) in \(name); screen:\n\(s)")
        throw Child.TimedOut(description: what)
    }

    /// A shell in tmux session `name` running `command`, then `EXIT=<status>` and a prompt.
    func session(_ name: String, _ command: String) throws {
        try tmux("new-session", "-d", "-s", name, "-x", "100", "-y", "30", "bash", "--norc", "--noprofile", "-c",
                 "cd \(workDir!) && LANG=C.UTF-8 \(command); echo EXIT=$?; PS1='PROMPT> ' exec bash --norc --noprofile -i")
    }

    func liveStep(_ dir: String) -> Int? { ControlClient.status(runDir: dir)?.snapshot.step }

    /// Waits until the run in `dir` has trained past `step` (read over its socket).
    func waitForStep(_ dir: String, past step: Int, timeout: Double = 60) throws -> Int {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if let s = liveStep(dir), s > step { return s }
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTFail("\(dir): no step past \(step) within \(Int(timeout)) s")
        throw Child.TimedOut(description: "steps")
    }

    func ls() throws -> String {
        let r = try NntopBinary.run(["ls"], cwd: workDir, timeout: 30)
        XCTAssertEqual(r.status, 0, r.err)
        return r.out
    }

    func testADroppedTerminalLeavesTheRunTrainingAndAttachSteersIt() throws {
        let runDir = workDir + "/runs/r1"
        try session("nntop", "\(nntopPath) resnet18 --train-limit 4000 --val-size 200 --batch-size 16 --epochs 3 --threads 1 --run-dir runs/r1")
        try waitFor("training", in: "nntop") { $0.contains("RUNNING") && (self.step($0) ?? 0) > 3 }
        // The SSH connection drops: the terminal and its shell vanish (SIGHUP).
        try tmux("kill-session", "-t", "nntop")
        let dropped = try XCTUnwrap(liveStep(runDir), "the run died with its terminal")
        var now = try waitForStep(runDir, past: dropped)
        XCTAssertTrue(try ls().contains("running (pid "), "ls does not show the run live")

        // A new session attaches: the history from the first step, then live.
        try session("a1", "\(nntopPath) attach runs/r1")
        // The curves from step 1 (the x axis's first label), though the run was dropped after step 3.
        var s = try waitFor("attached dashboard with the whole history", in: "a1") {
            $0.contains("RUNNING") && (self.step($0) ?? 0) > now && $0.contains("└1 ")
        }
        try tmux("send-keys", "-t", "a1", "p")
        s = try waitFor("PAUSED", in: "a1") { $0.contains("PAUSED") }
        let lrBefore = try XCTUnwrap(headerLR(s))

        // A second dashboard sees the same run, and its keys apply too.
        try session("a2", "\(nntopPath) attach runs/r1")
        try waitFor("second dashboard paused", in: "a2") { $0.contains("PAUSED") }
        XCTAssertTrue(try ls().contains("attached: "), "ls does not say who is attached")
        try tmux("send-keys", "-t", "a2", "+")
        for name in ["a1", "a2"] {
            s = try waitFor("LR doubled", in: name) { (self.headerLR($0) ?? 0) > 1.5 * lrBefore }
            XCTAssertEqual(try XCTUnwrap(headerLR(s)) / lrBefore, 2, accuracy: 0.01, s)
        }
        try tmux("send-keys", "-t", "a1", "r")
        try waitFor("residual off in the other dashboard", in: "a2") { $0.contains("residual off") }
        try tmux("send-keys", "-t", "a2", "s")
        try waitFor("snapshot", in: "a1") { $0.contains("saved runs/r1/checkpoints/step-") }
        try tmux("send-keys", "-t", "a1", "y")
        try waitFor("log scale", in: "a1") { $0.contains("loss log") }

        // d detaches one dashboard on purpose; it comes back.
        try tmux("send-keys", "-t", "a2", "d")
        s = try waitFor("detached", in: "a2") { $0.contains("EXIT=") }
        XCTAssertTrue(s.contains("EXIT=0") && s.contains("detached: the run goes on"), s)
        try tmux("send-keys", "-t", "a2", "\(nntopPath) attach runs/r1", "Enter")
        try waitFor("re-attached, paused", in: "a2") { $0.contains("PAUSED") && $0.contains("residual off") }
        try tmux("send-keys", "-t", "a2", "p")
        now = try waitForStep(runDir, past: liveStep(runDir) ?? 0)

        // q and y in an attached dashboard stop the run as in the one that started it.
        try tmux("send-keys", "-t", "a1", "q")
        try waitFor("quit confirmation", in: "a1") { $0.contains("quit? y/n") }
        try tmux("send-keys", "-t", "a1", "y")
        s = try waitFor("exit", in: "a1") { $0.contains("EXIT=") && $0.contains("PROMPT>") }
        XCTAssertTrue(s.contains("EXIT=0") && s.contains("saved runs/r1/checkpoints/last.safetensors"), s)
        // The other dashboard shows the run ended; the run is no longer live.
        try waitFor("ended in the other dashboard", in: "a2") { $0.contains("DONE") }
        let metrics = try String(contentsOfFile: runDir + "/metrics.jsonl", encoding: .utf8)
        XCTAssertTrue(metrics.contains(#""event":"end","state":"stopped""#), metrics)
        for label in ["pause", "lr ", "res off", "snap", "resume"] {
            XCTAssertTrue(metrics.contains(#""event":"\#(label)"#), "no \(label) event:\n\(metrics)")
        }
        let end = Date().addingTimeInterval(20)
        var listing = try ls()
        while listing.contains("running") && Date() < end { Thread.sleep(forTimeInterval: 0.2); listing = try ls() }
        XCTAssertTrue(listing.contains("stopped") && !listing.contains("pid "), listing)
    }

    /// A run started in a dashboard, left alone after its terminal dropped, finishes on its own:
    /// metrics, checkpoints and the end line as always, and `ls` says done.
    func testADetachedRunFinishesWithItsEndLine() throws {
        let runDir = workDir + "/runs/r2"
        try session("nntop", "\(nntopPath) lenet5 --train-limit 3000 --val-size 200 --epochs 2 --threads 1 --run-dir runs/r2")
        try waitFor("training", in: "nntop") { $0.contains("RUNNING") && (self.step($0) ?? 0) > 3 }
        try tmux("send-keys", "-t", "nntop", "d")
        let s = try waitFor("detached", in: "nntop") { $0.contains("EXIT=") }
        XCTAssertTrue(s.contains("EXIT=0") && s.contains("nntop attach runs/r2"), s)
        let end = Date().addingTimeInterval(120)
        var metrics = ""
        while Date() < end && !metrics.contains(#""event":"end""#) {
            metrics = (try? String(contentsOfFile: runDir + "/metrics.jsonl", encoding: .utf8)) ?? ""
            Thread.sleep(forTimeInterval: 0.2)
        }
        XCTAssertTrue(metrics.contains(#""event":"end","state":"done""#), metrics)
        XCTAssertTrue(metrics.contains(#""split":"test""#), metrics)
        XCTAssertTrue(FileManager.default.fileExists(atPath: runDir + "/checkpoints/last.safetensors"))
        let lsEnd = Date().addingTimeInterval(20)
        var listing = try ls()
        while !listing.contains("done") && Date() < lsEnd { Thread.sleep(forTimeInterval: 0.2); listing = try ls() }
        XCTAssertTrue(listing.contains("done"), listing)
        // Attaching to a finished run: one line, no terminal games.
        let r = try NntopBinary.run(["attach", "runs/r2"], cwd: workDir, timeout: 30)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err)
    }
}
