import Foundation
import XCTest

/// Issue 15 item 12 on the real dashboard (in tmux): the final line's wall time is the training
/// time, not the time the user then spent looking at the finished dashboard.
final class WallTimeTmuxTests: XCTestCase {
    let socket = "nntop-wall-\(getpid())"
    var workDir: String!

    /// tmux through /bin/sh with posix_spawn + waitpid (as DashboardTmuxTests): returns its output.
    @discardableResult
    func tmux(_ args: String...) throws -> String {
        let outFile = workDir + "/.tmux-out"
        let quoted = args.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let script = "env -u NO_COLOR timeout 30 tmux -L \(socket) \(quoted) < /dev/null > '\(outFile)' 2>/dev/null"
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = ["/bin/sh", "-c", script].map { (a: String) in strdup(a) } + [nil]
        defer { argv.forEach { free($0) } }
        guard posix_spawn(&pid, "/bin/sh", nil, nil, argv, environ) == 0 else { throw CocoaError(.executableLoad) }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return (try? String(contentsOfFile: outFile, encoding: .utf8)) ?? ""
    }

    func waitFor(_ what: String, timeout: Double = 120, _ predicate: (String) -> Bool) throws -> String {
        let end = Date().addingTimeInterval(timeout)
        var s = ""
        while Date() < end {
            s = try tmux("capture-pane", "-p", "-t", "nntop")
            if predicate(s) { return s }
            usleep(100_000)
        }
        XCTFail("timed out waiting for \(what); screen:\n\(s)")
        return s
    }

    override func setUpWithError() throws {
        workDir = NSTemporaryDirectory() + "nntop-wall-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        _ = try? tmux("kill-server")
        try? FileManager.default.removeItem(atPath: workDir)
    }

    func testWallIsTrainingTimeNotTimeSpentOnTheFinishedDashboard() throws {
        let binary = Bundle.main.bundleURL.appendingPathComponent("nntop").path
        let command = "cd \(workDir!) && LANG=C.UTF-8 \(binary) lenet5 --train-limit 640 --val-size 200 --epochs 1 "
            + "--threads 1 --run-dir run; echo EXIT=$?; exec sleep 300"
        let launched = Date()
        try tmux("new-session", "-d", "-s", "nntop", "-x", "120", "-y", "30", "bash", "--norc", "--noprofile", "-c", command)
        _ = try waitFor("the finished dashboard") { $0.contains("DONE") }
        // Training ended before DONE was seen, and the process started after `launched`.
        let trainingAtMost = Date().timeIntervalSince(launched)
        // The user looks at the result for a while (this wait is the condition under test, not a
        // guess at timing: any length shows the difference).
        Thread.sleep(forTimeInterval: 3)
        try tmux("send-keys", "-t", "nntop", "q")
        let s = try waitFor("exit") { $0.contains("EXIT=") }
        XCTAssertTrue(s.contains("EXIT=0"), s)
        let r = try XCTUnwrap(s.range(of: #"wall=\d+\.\ds"#, options: .regularExpression), s)
        let wall = try XCTUnwrap(Double(s[r].dropFirst(5).dropLast()))
        XCTAssertLessThanOrEqual(wall, trainingAtMost, s)
    }
}
