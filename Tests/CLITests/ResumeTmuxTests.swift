import Foundation
import XCTest

/// The dashboard's promises that end in files, in tmux: a run whose LR and residual flag were changed
/// with keys keeps both when resumed; SIGTERM to a dashboard run exits 143 with its weights saved
/// and the terminal restored.
extension DashboardTmuxTests {
    /// The header line (the screen's first non-empty line).
    func header(_ s: String) -> String { String(s.split(separator: "\n").first ?? "") }

    /// The LR of each train line in `run`'s metrics.jsonl, by step.
    func loggedLR(_ run: String) throws -> [(step: Int, lr: Double)] {
        try RunFiles.metrics(run).compactMap { line in
            guard line["split"] as? String == "train", let step = line["step"] as? Int, let lr = line["lr"] as? Double else { return nil }
            return (step, lr)
        }
    }

    func quitWithY(timeout: Double = 120) throws -> String {
        try tmux("send-keys", "-t", "nntop", "q")
        try waitFor("quit confirmation") { $0.contains("quit? y/n") }
        try tmux("send-keys", "-t", "nntop", "y")
        return try waitFor("exit and prompt", timeout: timeout) { $0.contains("EXIT=") && $0.contains("PROMPT>") }
    }

    /// README: `+` doubles the LR, `r` switches the residual connections off on the live model, `q`
    /// keeps the final weights, and `--resume` restores "LR, residual flag and options". The resumed
    /// run (in the dashboard again) shows residual off and the doubled LR, and logs that LR.
    func testResumeKeepsTheLRAndResidualFlagChangedWithKeys() throws {
        let run = workDir + "/run"
        // A constant schedule: the LR a line logs is the LR that was set, nothing scaled.
        try start("LANG=C.UTF-8 \(binary) resnet18 --train-limit 6400 --val-size 128 --epochs 1 --schedule constant "
            + "--lr 0.01 --threads 2 --log-every 1 --run-dir \(run)")
        var s = try waitFor("ResNet-18 training", timeout: 180) { $0.contains("RUNNING") && (self.step($0) ?? 0) >= 2 }
        XCTAssertTrue(header(s).contains("res") && header(s).contains(" on"), header(s))
        XCTAssertEqual(try XCTUnwrap(headerLR(header(s))), 0.01, accuracy: 1e-9, header(s))
        try tmux("send-keys", "-t", "nntop", "p")
        try waitFor("PAUSED", timeout: 60) { $0.contains("PAUSED") }
        try tmux("send-keys", "-t", "nntop", "+")
        try waitFor("LR 0.02 in the header") { self.headerLR(self.header($0)) == 0.02 }
        try tmux("send-keys", "-t", "nntop", "r")
        s = try waitFor("residual off in the header") { self.header($0).contains("residual off") || self.header($0).contains("res off") }
        s = try quitWithY()
        XCTAssertTrue(s.contains("EXIT=0"), s)
        let end = try XCTUnwrap(try RunFiles.metrics(run).last)
        XCTAssertEqual(end["state"] as? String, "stopped", "\(end)")
        let stoppedAt = try XCTUnwrap(end["step"] as? Int)
        XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/checkpoints/last.safetensors"))

        try start("LANG=C.UTF-8 \(binary) resnet18 --resume \(run)/checkpoints/last.safetensors --threads 2 --log-every 1")
        s = try waitFor("the resumed run training on", timeout: 180) { $0.contains("RUNNING") && (self.step($0) ?? 0) >= stoppedAt + 2 }
        XCTAssertTrue(header(s).contains("residual off") || header(s).contains("res off"), header(s))
        XCTAssertEqual(try XCTUnwrap(headerLR(header(s))), 0.02, accuracy: 1e-9, header(s))
        s = try quitWithY()
        XCTAssertTrue(s.contains("EXIT=0"), s)

        // The log agrees: 0.01 up to the change, 0.02 for every step the resumed run trained.
        let lrs = try loggedLR(run)
        let before = lrs.filter { $0.step <= stoppedAt }, after = lrs.filter { $0.step > stoppedAt }
        XCTAssertFalse(before.isEmpty); XCTAssertGreaterThanOrEqual(after.count, 2, "\(lrs)")
        for p in before { XCTAssertEqual(p.lr, 0.01, accuracy: 1e-8, "step \(p.step)") }
        for p in after { XCTAssertEqual(p.lr, 0.02, accuracy: 1e-8, "step \(p.step) after resuming") }
    }

    /// README: "Every exit restores the terminal. … SIGTERM (143) … stop training at the next step
    /// and write last.safetensors".
    func testSIGTERMToTheDashboardExits143WithItsWeightsAndASaneTerminal() throws {
        let run = workDir + "/term-\(UUID().uuidString)"
        try start("LANG=C.UTF-8 \(binary) lenet5 --train-limit 30000 --val-size 500 --epochs 2 --run-dir \(run)")
        try waitFor("training") { $0.contains("RUNNING") && (self.step($0) ?? 0) > 5 }
        // nntop itself, not the shell around it (whose command line holds the same words).
        let pg = try NntopBinary.run(["-f", "^\(binary) lenet5 .*--run-dir \(run)"], executable: "/usr/bin/pgrep", timeout: 30)
        // Two: the dashboard and the training process it started (its child, with the same command line).
        let pids = pg.out.split(separator: "\n").compactMap { pid_t($0) }
        XCTAssertEqual(pids.count, 2, "pgrep: \(pg.out)")
        func parent(_ p: pid_t) -> pid_t? {
            guard let stat = try? String(contentsOfFile: "/proc/\(p)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            return stat[stat.index(after: close)...].split(separator: " ").dropFirst(1).first.flatMap { pid_t($0) }
        }
        let pid = try XCTUnwrap(pids.first { !pids.contains(parent($0) ?? 0) }, "no dashboard among \(pids)")
        kill(pid, SIGTERM)
        let s = try waitFor("exit and prompt", timeout: 120) { $0.contains("EXIT=") && $0.contains("PROMPT>") }
        XCTAssertTrue(s.contains("EXIT=143"), s)
        XCTAssertFalse(s.contains("Training loss"), "dashboard left on screen:\n\(s)")
        try assertShellHasACookedTerminal()
        XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/checkpoints/last.safetensors"))
        let end = try XCTUnwrap(try RunFiles.metrics(run).last)
        XCTAssertEqual(end["event"] as? String, "end", "\(end)")
        XCTAssertEqual(end["state"] as? String, "stopped", "\(end)")
    }
}
