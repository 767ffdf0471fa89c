import Foundation
import XCTest

/// The real binary's dashboard inside tmux at 100×30: panels, pause, LR change, snapshot, quit.
final class DashboardTmuxTests: XCTestCase {
    let socket = "nntop-test-\(getpid())"
    var workDir: String!

    /// tmux, looked up once for the whole class: CI installs it, so its absence is a failure (one
    /// clear line per test, at once) rather than a skip or a 30 s wait for an empty screen.
    static let tmuxPath: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        .split(separator: ":").map { "\($0)/tmux" }.first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs tmux through /bin/sh with posix_spawn + waitpid: Foundation's Process does not notice
    /// the tmux client exiting once it has forked its server. Returns what it printed. A tmux
    /// command that has not returned after `timeout` seconds is killed and fails the test.
    @discardableResult
    func tmux(_ args: String..., timeout: TimeInterval = 20, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        guard Self.tmuxPath != nil else { throw Child.TimedOut(description: "no tmux to run") }
        let outFile = workDir + "/.tmux-out"
        let quoted = args.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        // swift test sets NO_COLOR when its output is not a terminal (CI); the panes must not inherit
        // it, so every run of these tests sees the same colour terminal.
        let script = "env -u NO_COLOR tmux -L \(socket) \(quoted) < /dev/null > '\(outFile)' 2>/dev/null"
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = ["/bin/sh", "-c", script].map { (a: String) in strdup(a) } + [nil]
        defer { argv.forEach { free($0) } }
        guard posix_spawn(&pid, "/bin/sh", nil, nil, argv, environ) == 0 else { throw CocoaError(.executableLoad) }
        var status: Int32 = 0
        let end = Date().addingTimeInterval(timeout)
        while waitpid(pid, &status, WNOHANG) == 0 {
            guard Date() < end else {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                XCTFail("tmux \(args.joined(separator: " ")) did not return within \(Int(timeout)) s", file: file, line: line)
                throw Child.TimedOut(description: "tmux \(args.first ?? "") timed out")
            }
            usleep(5_000)
        }
        return (try? String(contentsOfFile: outFile, encoding: .utf8)) ?? ""
    }

    func screen() throws -> String { try tmux("capture-pane", "-p", "-t", "nntop") }

    /// Polls the screen until `predicate` holds (or fails after `timeout` seconds).
    @discardableResult
    func waitFor(_ what: String, timeout: Double = 30, _ predicate: (String) -> Bool) throws -> String {
        let end = Date().addingTimeInterval(timeout)
        var s = ""
        while Date() < end {
            s = try screen()
            if predicate(s) { return s }
            Thread.sleep(forTimeInterval: 0.2)
        }
        XCTFail("timed out waiting for \(what); screen:\n\(s)")
        return s
    }

    func step(_ s: String) -> Int? {
        guard let r = s.range(of: #"step (\d+)/"#, options: .regularExpression) else { return nil }
        return Int(s[r].dropFirst(5).dropLast())
    }

    func headerLR(_ s: String) -> Double? {
        guard let r = s.range(of: #"LR [0-9.e+-]+"#, options: .regularExpression) else { return nil }
        return Double(s[r].dropFirst(3))
    }

    /// At the pane's shell prompt: the terminal is back in cooked mode with echo, as stty reports
    /// it (the answers are computed so the typed command line itself cannot match them).
    func assertShellHasACookedTerminal(file: StaticString = #filePath, line: UInt = #line) throws {
        try tmux("send-keys", "-t", "nntop", "stty -a | grep -q ' icanon' && stty -a | grep -q ' echo ' && echo SANE$((40+2)) || echo RAW$((40+2))", "Enter")
        let s = try waitFor("stty's answer") { $0.contains("SANE42") || $0.contains("RAW42") }
        XCTAssertTrue(s.contains("SANE42"), s, file: file, line: line)
    }

    override func setUpWithError() throws {
        // A failure, not a skip (CI installs tmux). No throw here: swift-corelibs-xctest counts an
        // error thrown from setUp as a skip; the test's first tmux call throws instead.
        if Self.tmuxPath == nil {
            XCTFail("tmux is not installed (no tmux on PATH): the dashboard tests drive the real binary in tmux; install it (CI does)")
        }
        workDir = NSTemporaryDirectory() + "nntop-tmux-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        _ = try? tmux("kill-server")
        // A dashboard's training process outlives its terminal (by design): ended here by pid.
        TrainingProcesses.kill(under: workDir)
        try? FileManager.default.removeItem(atPath: workDir)
    }

    func testDashboardPanelsKeysAndCleanExit() throws {
        let binary = Bundle.main.bundleURL.appendingPathComponent("nntop").path
        // After nntop exits, a shell prompt ("PROMPT>") must come back on a usable terminal.
        let command = "cd \(workDir!) && LANG=C.UTF-8 \(binary) lenet5 --train-limit 30000 --val-size 500 --epochs 2 "
            + "--eval-every 20; echo EXIT=$?; PS1='PROMPT> ' exec bash --norc --noprofile -i"
        try tmux("new-session", "-d", "-s", "nntop", "-x", "100", "-y", "30", "bash", "--norc", "--noprofile", "-c", command)

        // Curves, the LR and the state in the header; a validation point has arrived.
        var s = try waitFor("training with a validation point") { ($0.contains("RUNNING") && (self.step($0) ?? 0) > 25) }
        XCTAssertTrue(s.contains("Training loss"), s)
        XCTAssertTrue(s.contains("LR "), s)
        XCTAssertTrue(s.contains("lenet5"), s)

        try tmux("send-keys", "-t", "nntop", "2")
        s = try waitFor("layers panel") { $0.contains("conv1") && $0.contains("fc3") }
        try tmux("send-keys", "-t", "nntop", "3")
        s = try waitFor("digits panel") { $0.contains("✓") || $0.contains("✗") }

        // Pause: the state says so and the step count stops.
        try tmux("send-keys", "-t", "nntop", "p")
        s = try waitFor("PAUSED") { $0.contains("PAUSED") }
        let pausedAt = try XCTUnwrap(step(s))

        // + doubles the LR in effect (the header's), whatever the cosine schedule has made of it.
        let lrBefore = try XCTUnwrap(headerLR(s))
        try tmux("send-keys", "-t", "nntop", "+")
        s = try waitFor("LR doubled") { $0.contains("→") && (self.headerLR($0) ?? 0) > 1.5 * lrBefore }
        XCTAssertEqual(try XCTUnwrap(headerLR(s)) / lrBefore, 2, accuracy: 0.01, s)

        // s writes a checkpoint into the run's folder.
        try tmux("send-keys", "-t", "nntop", "s")
        try waitFor("snapshot saved") { $0.contains("saved runs/") }
        let runs = try FileManager.default.contentsOfDirectory(atPath: workDir + "/runs")
        XCTAssertEqual(runs.count, 1)
        let ckpts = try FileManager.default.contentsOfDirectory(atPath: "\(workDir!)/runs/\(runs[0])/checkpoints")
        XCTAssertTrue(ckpts.contains { $0.hasPrefix("step-") && $0.hasSuffix(".safetensors") }, "\(ckpts)")

        // q asks first; y quits with status 0 and the shell prompt comes back.
        try tmux("send-keys", "-t", "nntop", "q")
        try waitFor("quit confirmation") { $0.contains("quit? y/n") }
        try tmux("send-keys", "-t", "nntop", "y")
        s = try waitFor("exit and prompt") { $0.contains("EXIT=") && $0.contains("PROMPT>") }
        XCTAssertTrue(s.contains("EXIT=0"), s)
        XCTAssertTrue(s.contains("stopped at epoch 1"), s)
        XCTAssertFalse(s.contains("Training loss"), "dashboard left on screen:\n\(s)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(workDir!)/runs/\(runs[0])/checkpoints/last.safetensors"))
        // The pause held: the LR change and the snapshot, made while paused, are logged at the very
        // step the pause was, which is the step the paused screen showed (no sleep needed to see it).
        let events = try String(contentsOfFile: "\(workDir!)/runs/\(runs[0])/metrics.jsonl", encoding: .utf8)
            .split(separator: "\n").filter { $0.contains(#""event":"#) && !$0.contains(#""event":"end""#) }
        let expected = ["pause", "lr ", "snap"].map { #"{"step":\#(pausedAt),"event":"\#($0)"# }
        XCTAssertEqual(events.count, 3, "\(events)")
        for (line, prefix) in zip(events, expected) { XCTAssertTrue(line.hasPrefix(prefix), "\(line) is not \(prefix)…") }
        // The logged LR is the one that resulted: twice what the header showed before `+`.
        if events.count == 3, let r = events[1].range(of: #""lr [0-9.e+-]+""#, options: .regularExpression) {
            let logged = try XCTUnwrap(Double(events[1][r].dropFirst(4).dropLast()))
            XCTAssertEqual(logged / lrBefore, 2, accuracy: 0.01, String(events[1]))
        } else { XCTFail("no LR event in \(events)") }
    }
}
