import Foundation
import Models
import XCTest

/// Signals reaching the dashboard in a real terminal: Ctrl-C stops at a step boundary with the final
/// weights and a sane terminal; a dropped connection (tmux session killed: SIGHUP) closes only the
/// dashboard: the run trains on until it ends or is stopped.
extension DashboardTmuxTests {
    func testCtrlCInTheDashboardKeepsTheWeightsAndRestoresTheTerminal() throws {
        let binary = Bundle.main.bundleURL.appendingPathComponent("nntop").path
        let command = "cd \(workDir!) && LANG=C.UTF-8 \(binary) lenet5 --train-limit 30000 --val-size 500 --epochs 2 --run-dir run; "
            + "echo EXIT=$?; PS1='PROMPT> ' exec bash --norc --noprofile -i"
        try tmux("new-session", "-d", "-s", "nntop", "-x", "100", "-y", "30", "bash", "--norc", "--noprofile", "-c", command)
        try waitFor("training") { $0.contains("RUNNING") && (self.step($0) ?? 0) > 5 }
        try tmux("send-keys", "-t", "nntop", "C-c")
        let s = try waitFor("exit and prompt") { $0.contains("EXIT=") && $0.contains("PROMPT>") }
        XCTAssertTrue(s.contains("EXIT=130"), s)
        XCTAssertTrue(s.contains("saved run/checkpoints/last.safetensors"), s)
        XCTAssertFalse(s.contains("Training loss"), "dashboard left on screen:\n\(s)")
        try assertShellHasACookedTerminal()
        XCTAssertTrue(FileManager.default.fileExists(atPath: workDir + "/run/checkpoints/last.safetensors"))
        let metrics = try String(contentsOfFile: workDir + "/run/metrics.jsonl", encoding: .utf8)
        XCTAssertTrue(metrics.contains(#""event":"end","state":"stopped""#), metrics)
    }

    /// The SSH connection drops: the run trains on without a screen (it is a process of its own,
    /// in its own session), and `nntop stop` later ends it cleanly with its weights and end line.
    func testDroppedConnectionLeavesTheRunTrainingUntilStopped() throws {
        let binary = Bundle.main.bundleURL.appendingPathComponent("nntop").path
        let runDir = workDir + "/hup-\(UUID().uuidString)"
        try tmux("new-session", "-d", "-s", "nntop", "-x", "100", "-y", "30",
                 "env LANG=C.UTF-8 \(binary) lenet5 --train-limit 30000 --val-size 500 --epochs 2 --run-dir \(runDir)")
        try waitFor("training") { $0.contains("RUNNING") && (self.step($0) ?? 0) > 5 }
        // The window and its terminal vanish, as when an SSH connection drops.
        try tmux("kill-session", "-t", "nntop")
        let metricsPath = runDir + "/metrics.jsonl"
        let before = try XCTUnwrap(ControlClient.status(runDir: runDir)?.snapshot.step, "the run died with its terminal")
        let end = Date().addingTimeInterval(60)
        var later = before
        while later <= before && Date() < end {
            Thread.sleep(forTimeInterval: 0.1)
            later = ControlClient.status(runDir: runDir)?.snapshot.step ?? later
        }
        XCTAssertGreaterThan(later, before, "no step after the terminal went away")
        XCTAssertFalse(((try? String(contentsOfFile: metricsPath, encoding: .utf8)) ?? "").contains(#""event":"end""#))
        // A script stops it: the final weights and the end line, as q would.
        let stop = try NntopBinary.run(["stop", runDir], timeout: 120)
        XCTAssertEqual(stop.status, 0, stop.err)
        XCTAssertTrue(stop.out.contains("saved \(runDir)/checkpoints/last.safetensors"), stop.out)
        let metrics = try String(contentsOfFile: metricsPath, encoding: .utf8)
        XCTAssertTrue(metrics.contains(#""event":"end","state":"stopped""#), metrics)
        XCTAssertTrue(FileManager.default.fileExists(atPath: runDir + "/checkpoints/last.safetensors"))
        // And then the process is gone.
        var gone = false
        let deadline = Date().addingTimeInterval(10)
        while !gone && Date() < deadline {
            let r = try NntopBinary.run(["-f", runDir], executable: "/usr/bin/pgrep")
            gone = r.status == 1
            if !gone { Thread.sleep(forTimeInterval: 0.1) }
        }
        XCTAssertTrue(gone, "nntop still running after nntop stop")
    }

    /// A crash while the dashboard owns the terminal still hands the shell a usable one. SIGSEGV
    /// sent from outside reaches the same handler as a bad pointer or a Swift trap would; Swift's
    /// backtracer is off so the default action (exit 139) follows at once.
    func testACrashInTheDashboardGivesTheTerminalBack() throws {
        let binary = Bundle.main.bundleURL.appendingPathComponent("nntop").path
        let command = "cd \(workDir!) && SWIFT_BACKTRACE=enable=no LANG=C.UTF-8 \(binary) lenet5 --train-limit 30000 "
            + "--val-size 500 --epochs 2 --run-dir run; echo EXIT=$?; PS1='PROMPT> ' exec bash --norc --noprofile -i"
        try tmux("new-session", "-d", "-s", "nntop", "-x", "100", "-y", "30", "bash", "--norc", "--noprofile", "-c", command)
        try waitFor("training") { $0.contains("RUNNING") && (self.step($0) ?? 0) > 5 }
        XCTAssertEqual(try tmux("display", "-p", "-t", "nntop", "#{alternate_on}").trimmingCharacters(in: .whitespacesAndNewlines), "1")
        let shell = try tmux("display", "-p", "-t", "nntop", "#{pane_pid}").trimmingCharacters(in: .whitespacesAndNewlines)
        let found = try NntopBinary.run(["-P", shell, "-x", "nntop"], executable: "/usr/bin/pgrep", timeout: 30)
        let pid = try XCTUnwrap(pid_t(found.out.trimmingCharacters(in: .whitespacesAndNewlines)), "no nntop under the pane's shell \(shell)")
        kill(pid, SIGSEGV)
        let s = try waitFor("exit and prompt") { $0.contains("EXIT=") && $0.contains("PROMPT>") }
        XCTAssertTrue(s.contains("EXIT=139"), s)
        XCTAssertEqual(try tmux("display", "-p", "-t", "nntop", "#{alternate_on}").trimmingCharacters(in: .whitespacesAndNewlines), "0",
                       "still on the alternate screen")
        XCTAssertFalse(s.contains("Training loss"), "dashboard left on screen:\n\(s)")
        try assertShellHasACookedTerminal()
    }
}
