import Foundation
import XCTest

/// The real binary on terminals it cannot or should not draw the dashboard on, inside tmux (a real
/// tty): TERM unset, dumb or unknown gives progress lines; a non-UTF-8 locale gives an ASCII
/// dashboard; a window below the minimum gives a message until it grows.
extension DashboardTmuxTests {
    var binary: String { Bundle.main.bundleURL.appendingPathComponent("nntop").path }

    /// Starts `command` in a fresh tmux session of the given size; after it, EXIT=<status> and a prompt.
    func start(_ command: String, width: Int = 100, height: Int = 30) throws {
        _ = try? tmux("kill-session", "-t", "nntop")
        let script = "cd \(workDir!) && \(command); echo EXIT=$?; PS1='PROMPT> ' exec bash --norc --noprofile -i"
        try tmux("new-session", "-d", "-s", "nntop", "-x", "\(width)", "-y", "\(height)", "bash", "--norc", "--noprofile", "-c", script)
    }

    func testTermUnsetDumbOrUnknownTrainsHeadlessOnATerminal() throws {
        let run = "lenet5 --train-limit 640 --val-size 200 --epochs 1 --log-every 5"
        for (env, what) in [("env -u TERM", "TERM unset"), ("env TERM=dumb", "TERM=dumb"), ("env TERM=no-such-terminal-xyz", "unknown TERM")] {
            try start("\(env) LANG=C.UTF-8 \(binary) \(run) --run-dir runs/\(UUID().uuidString)")
            let s = try waitFor("\(what): a finished headless run") { $0.contains("EXIT=") && $0.contains("PROMPT>") }
            XCTAssertTrue(s.contains("EXIT=0"), "\(what):\n\(s)")
            XCTAssertTrue(s.contains("epoch 1/1 step 5/10 loss"), "\(what): no progress lines:\n\(s)")
            XCTAssertTrue(s.contains("final test_acc="), "\(what):\n\(s)")
            XCTAssertFalse(s.contains("Training loss"), "\(what): dashboard drawn:\n\(s)")
            XCTAssertFalse(s.contains("\u{1B}"), "\(what): escape codes on screen:\n\(s)")
        }
    }

    func testNonUTF8LocaleDrawsAnASCIIDashboard() throws {
        try start("LANG=C LC_ALL=C \(binary) lenet5 --train-limit 30000 --val-size 500 --epochs 1 --eval-every 20")
        let s = try waitFor("the dashboard with a validation point") { $0.contains("RUNNING") && $0.contains("Training loss") && $0.contains("val ") }
        let nonASCII = s.unicodeScalars.filter { $0.value > 126 }
        XCTAssertTrue(nonASCII.isEmpty, "non-ASCII characters \(Set(nonASCII.map { String($0) })) in a C-locale dashboard:\n\(s)")
        // Something is drawn in the plot area besides the frame: the curves made of ASCII.
        XCTAssertTrue(s.contains("|") || s.contains("+"), s)
        try tmux("send-keys", "-t", "nntop", "q")
        try waitFor("quit confirmation") { $0.contains("quit? y/n") }
        try tmux("send-keys", "-t", "nntop", "y")
        let end = try waitFor("exit and prompt") { $0.contains("EXIT=") && $0.contains("PROMPT>") }
        XCTAssertTrue(end.contains("EXIT=0"), end)
    }

    func testTinyWindowShowsAMessageAndTheDashboardWhenItGrows() throws {
        try start("LANG=C.UTF-8 \(binary) lenet5 --train-limit 30000 --val-size 500 --epochs 1", width: 40, height: 10)
        var s = try waitFor("the too-small message") { $0.contains("too small") }
        XCTAssertTrue(s.contains("need 60x16"), s)
        XCTAssertFalse(s.contains("Training loss"), s)
        try tmux("resize-window", "-t", "nntop", "-x", "100", "-y", "30")
        s = try waitFor("the dashboard after growing") { $0.contains("Training loss") && $0.contains("RUNNING") }
        XCTAssertFalse(s.contains("too small"), s)
        try tmux("resize-window", "-t", "nntop", "-x", "30", "-y", "8")
        try waitFor("the message again after shrinking") { $0.contains("too small") }
        try tmux("resize-window", "-t", "nntop", "-x", "100", "-y", "30")
        try waitFor("the dashboard again") { $0.contains("Training loss") }
        try tmux("send-keys", "-t", "nntop", "q")
        try waitFor("quit confirmation") { $0.contains("quit? y/n") }
        try tmux("send-keys", "-t", "nntop", "y")
        let end = try waitFor("exit and prompt") { $0.contains("EXIT=") && $0.contains("PROMPT>") }
        XCTAssertTrue(end.contains("EXIT=0"), end)
    }
}
