import Foundation
import XCTest

/// `nntop view` of TensorBoard logs through the binary: `--text` prints each run's tags with last,
/// min and max as TensorBoard's reader serves them (Fixtures/tfevents/expected.json), finds a tree's
/// runs, mixes with nntop run folders, reports damage in one line; in tmux it follows a log that a
/// writer is still appending to.
final class ViewTensorBoardTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ModelsTests/Fixtures/tfevents")
    static let expected: [String: Any] = try! JSONSerialization.jsonObject(
        with: try! Data(contentsOf: fixtures.appendingPathComponent("expected.json"))) as! [String: Any]

    /// The table row of a tag: step, last, min, max.
    func row(_ out: String, run: String, tag: String) -> [Double]? {
        guard let block = out.components(separatedBy: "\n\n").first(where: { $0.hasPrefix(run) || $0.contains("/" + run + "\n") }) else { return nil }
        guard let line = block.split(separator: "\n").first(where: { $0.split(separator: " ").first.map(String.init) == tag }) else { return nil }
        return line.split(separator: " ").dropFirst().compactMap { Double($0) }
    }

    func testTextPrintsLastMinMaxPerTagOfEveryRunInATree() throws {
        let r = try NntopBinary.run(["view", Self.fixtures.path, "--text"])
        XCTAssertEqual(r.status, 0, r.err)
        for c in ["pytorch-simple", "pytorch-newstyle", "pytorch-double", "tensorboard-tf2", "restart", "bad-data-crc"] {
            let tags = (Self.expected[c] as! [String: Any])["tags"] as! [String: [[Double]]]
            for (tag, pts) in tags {
                let got = try XCTUnwrap(row(r.out, run: c, tag: tag), "\(c) \(tag) in:\n\(r.out)")
                let values = pts.map { $0[2] }
                XCTAssertEqual(got.count, 4, "\(c) \(tag)")
                XCTAssertEqual(got[0], pts.last![0], "\(c) \(tag) step")
                // Printed with 6 significant digits.
                for (g, e) in zip(got.dropFirst(), [values.last!, values.min()!, values.max()!]) {
                    XCTAssertEqual(g, e, accuracy: 1e-5 * max(1, abs(e)), "\(c) \(tag)")
                }
            }
        }
        // Damage is said in the run's line; the text tensor of the TF2 log is no scalar.
        XCTAssertTrue(r.out.contains("bad-data-crc\n  tensorboard log · finished · 5 tags · 95 points · 1 damaged record skipped"), r.out)
        XCTAssertNil(row(r.out, run: "tensorboard-tf2", tag: "notes"))
        XCTAssertTrue(r.out.contains("restarted 1×"), r.out)
    }

    func testMixedWithAnNntopRunFolder() throws {
        let dir = NSTemporaryDirectory() + "nntop-viewtb-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try NntopBinary.run(["lenet5", "--headless", "--train-limit", "320", "--val-size", "100", "--epochs", "1",
                                       "--log-every", "2", "--threads", "2", "--run-dir", dir + "/nn"])
        XCTAssertEqual(run.status, 0, run.err)
        let r = try NntopBinary.run(["view", dir + "/nn", Self.fixtures.appendingPathComponent("pytorch-simple").path, "--text"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.hasPrefix(dir + "/nn\n  lenet5 · done"), r.out)
        XCTAssertNotNil(row(r.out, run: "pytorch-simple", tag: "train/loss"), r.out)
    }

    func testAFolderWithNeitherIsRefusedInOneLine() throws {
        let dir = NSTemporaryDirectory() + "nntop-viewtb-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try NntopBinary.run(["view", dir])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err)
        XCTAssertTrue(r.err.contains("nor a TensorBoard log directory"), r.err)
    }
}

extension DashboardTmuxTests {
    /// A PyTorch-written log that grows while viewed: the view shows it live (RUNNING: the file grew
    /// within the live window), and a record appended in two writes, the first cut mid-record, shows
    /// up once complete. The "writer" is this test appending the fixture file's records in pieces.
    func testViewFollowsAGrowingTensorBoardLog() throws {
        let src = ViewTensorBoardTests.fixtures.appendingPathComponent("pytorch-simple")
        let name = try FileManager.default.contentsOfDirectory(atPath: src.path)[0]
        let full = try Data(contentsOf: src.appendingPathComponent(name))
        // Record boundaries, from the framing (uint64 length + 12 bytes).
        var ends: [Int] = [], at = 0
        while at < full.count {
            let n = full[at..<at + 8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            at += 16 + n; ends.append(at)
        }
        let log = workDir + "/tb/run1"
        try FileManager.default.createDirectory(atPath: log, withIntermediateDirectories: true)
        let path = log + "/" + name
        // The file_version record, then 3 records a step (loss, acc, lr) and 2 more at step 9: steps 0…14 end at record 47.
        let upTo15 = ends[47]
        try full[..<upTo15].write(to: URL(fileURLWithPath: path))

        let binary = Bundle.main.bundleURL.appendingPathComponent("nntop").path
        try tmux("new-session", "-d", "-s", "nntop", "-x", "100", "-y", "30", "env LANG=C.UTF-8 \(binary) view \(workDir!)/tb")
        var s = try waitFor("the log so far", timeout: 10) { $0.contains("run1") && $0.contains("train/loss") }
        XCTAssertTrue(s.contains("RUNNING"), s)
        let before = s.range(of: #"step (\d+)"#, options: .regularExpression).map { String(s[$0]) }
        XCTAssertNotNil(before, s)
        XCTAssertFalse(s.contains("step 29"), s)

        // The rest, in two writes: the first stops in the middle of a record.
        let cut = upTo15 + (ends.last! - upTo15) / 2 + 3
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        h.seekToEndOfFile(); h.write(full[upTo15..<cut])
        Thread.sleep(forTimeInterval: 2.5)
        h.write(full[cut...]); h.closeFile()
        s = try waitFor("the appended steps", timeout: 10) { $0.contains("step 29") }
        XCTAssertTrue(s.contains("RUNNING"), s)
        XCTAssertFalse(s.contains("damaged"), s)
        try tmux("send-keys", "-t", "nntop", "2")
        s = try waitFor("last values", timeout: 5) { $0.contains("Runs: last value per tag") }
        XCTAssertTrue(s.contains("(29)"), s)
        try tmux("send-keys", "-t", "nntop", "q")
    }
}
