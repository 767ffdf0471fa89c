import Foundation
import XCTest

/// Issue 15 item 12 on the real dashboard (in tmux): the final line's wall time is the training
/// time, not the time the user then spent looking at the finished dashboard.
extension DashboardTmuxTests {
    func testWallIsTrainingTimeNotTimeSpentOnTheFinishedDashboard() throws {
        let binary = Bundle.main.bundleURL.appendingPathComponent("nntop").path
        let command = "cd \(workDir!) && LANG=C.UTF-8 \(binary) lenet5 --train-limit 640 --val-size 200 --epochs 1 "
            + "--threads 1 --run-dir run; echo EXIT=$?; exec sleep 300"
        let launched = Date()
        try tmux("new-session", "-d", "-s", "nntop", "-x", "120", "-y", "30", "bash", "--norc", "--noprofile", "-c", command)
        let done = try waitFor("the finished dashboard", timeout: 120) { $0.contains("DONE") }
        // Its header keeps the run's throughput (its average), not the 0 of nothing training any more.
        let avg = try XCTUnwrap(done.range(of: #"\d+(\.\d)?k?( samples)?/s avg"#, options: .regularExpression), done)
        XCTAssertFalse(done[avg].hasPrefix("0 ") || done[avg].hasPrefix("0/"), done)
        // Training ended before DONE was seen, and the process started after `launched`.
        let trainingAtMost = Date().timeIntervalSince(launched)
        // The user looks at the result for a while (this wait is the condition under test, not a
        // guess at timing: any length shows the difference).
        Thread.sleep(forTimeInterval: 3)
        try tmux("send-keys", "-t", "nntop", "q")
        let s = try waitFor("exit", timeout: 60) { $0.contains("EXIT=") }
        XCTAssertTrue(s.contains("EXIT=0"), s)
        let r = try XCTUnwrap(s.range(of: #"wall=\d+\.\ds"#, options: .regularExpression), s)
        let wall = try XCTUnwrap(Double(s[r].dropFirst(5).dropLast()))
        XCTAssertLessThanOrEqual(wall, trainingAtMost, s)
    }
}
