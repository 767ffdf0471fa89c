import Foundation
import XCTest

/// Issue 15.1 on the real dashboard: quick LR keys are each applied, in order, by the trainer.
extension DashboardTmuxTests {
    func testSixQuickMinusPressesHalveTheLRSixTimes() throws {
        let binary = Bundle.main.bundleURL.appendingPathComponent("nntop").path
        let command = "cd \(workDir!) && LANG=C.UTF-8 \(binary) lenet5 --epochs 1000 --lr 1.6 --schedule constant "
            + "--train-limit 2048 --val-size 256 --run-dir run; echo EXIT=$?; PS1='PROMPT> ' exec bash --norc --noprofile -i"
        try tmux("new-session", "-d", "-s", "nntop", "-x", "100", "-y", "30", "bash", "--norc", "--noprofile", "-c", command)
        // LR 1.6 may diverge on LeNet-5 within a few steps: the keys act on a diverged run too.
        var s = try waitFor("training started") { ($0.contains("RUNNING") || $0.contains("DIVERGED")) && (self.step($0) ?? 0) >= 1 }
        XCTAssertEqual(headerLR(s), 1.6, s)

        // Six presses in one burst, faster than a training step: 1.6 / 2^6 = 0.025.
        try tmux("send-keys", "-t", "nntop", "--", "------")
        s = try waitFor("the LR after six halvings") { self.headerLR($0).map { $0 < 0.05 } ?? false }
        XCTAssertEqual(try XCTUnwrap(headerLR(s)), 0.025, accuracy: 1e-9, s)

        // The log has six events, each stating the LR that resulted.
        let log = workDir + "/run/metrics.jsonl"
        let expected = ["lr 0.8", "lr 0.4", "lr 0.2", "lr 0.1", "lr 0.05", "lr 0.025"]
        var events: [String] = []
        let end = Date().addingTimeInterval(30)
        repeat {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            events = text.split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["event"] as? String
            }.filter { $0.hasPrefix("lr ") }
            if events.count >= expected.count { break }
            Thread.sleep(forTimeInterval: 0.1)
        } while Date() < end
        XCTAssertEqual(events, expected)
    }
}

/// Issue 15.3 on the command line: --lr is held to the trainer's range, negative values included.
final class LRRangeCLITests: XCTestCase {
    func testLROutsideTheRangeIsRefusedForItsValue() throws {
        for (lr, shown) in [("-1", "-1"), ("2000", "2000"), ("0", "0"), ("1e-9", "1e-09")] {
            let r = try NntopBinary.run(["lenet5", "--headless", "--lr", lr])
            XCTAssertNotEqual(r.status, 0, lr)
            XCTAssertTrue(r.err.contains("--lr \(shown) refused: a learning rate must be between 1e-08 and 1000"), "\(lr): \(r.err)")
            XCTAssertFalse(r.err.contains("Missing value"), r.err)
        }
        // Other numeric options take a negative value as theirs too, and say what is wrong with it.
        let r = try NntopBinary.run(["lenet5", "--headless", "--momentum", "-0.5"])
        XCTAssertTrue(r.err.contains("--momentum must be in [0, 1) (got -0.5)"), r.err)
    }
}
