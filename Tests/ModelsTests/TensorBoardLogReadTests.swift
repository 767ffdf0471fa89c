import Foundation
import XCTest
@testable import Models

/// Event files written by PyTorch's SummaryWriter (simple_value, new_style float_val, double_val,
/// purge_step restart) and TensorBoard's own writer (TF2 tensor_content, metadata on the first value
/// only), read by nntop and compared with what TensorBoard's reader serves for the same files
/// (Fixtures/tfevents/expected.json, written by scripts/make_tfevents_fixtures.py).
final class TensorBoardLogReadTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/tfevents")

    struct Expected {
        var tags: [String: [[Double]]]
        var damaged: Int?
    }

    static let expected: [String: Any] = {
        let d = try! Data(contentsOf: fixtures.appendingPathComponent("expected.json"))
        return try! JSONSerialization.jsonObject(with: d) as! [String: Any]
    }()

    func expected(_ c: String) -> Expected {
        let o = Self.expected[c] as! [String: Any]
        return Expected(tags: o["tags"] as! [String: [[Double]]], damaged: o["damaged"] as? Int)
    }

    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "nntop-tfe-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    /// Every scalar tag, every step, wall time and value as TensorBoard serves it (values compared
    /// exactly: a float32 value widened to double is the same double in Python and Swift).
    func assertMatches(_ run: TensorBoardRun, _ e: Expected, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(run.tags.enumerated().filter { !run.points[$0.offset].isEmpty }.map(\.element)), Set(e.tags.keys),
                       "tags", file: file, line: line)
        for (tag, pts) in e.tags {
            guard let i = run.tags.firstIndex(of: tag) else { continue }
            let got = run.points[i].map { [Double($0.step), $0.wallTime, $0.value] }
            // Foundation's JSON parser on Linux is off in the last digit or two of some doubles, so
            // values agree to 1e-14 relative (a float32 rounding would be 1e-8 off; the double case
            // checks one value exactly below).
            let same = got.count == pts.count && zip(got, pts).allSatisfy { g, e in
                g.count == 3 && e.count == 3 && g[0] == e[0] && abs(g[1] - e[1]) <= 1e-6 && abs(g[2] - e[2]) <= 1e-14 * max(1, abs(e[2]))
            }
            XCTAssertTrue(same, "\(tag): got \(got), TensorBoard serves \(pts)", file: file, line: line)
        }
    }

    func run(_ c: String) -> TensorBoardRun {
        TensorBoardRun(directory: Self.fixtures.appendingPathComponent(c).path, name: c)
    }

    func testPyTorchSimpleValue() { let r = run("pytorch-simple"); assertMatches(r, expected("pytorch-simple")); XCTAssertEqual(r.damagedRecords, 0) }
    func testPyTorchNewStyleFloatVal() { assertMatches(run("pytorch-newstyle"), expected("pytorch-newstyle")) }
    func testPyTorchDoubleVal() {
        let r = run("pytorch-double")
        assertMatches(r, expected("pytorch-double"))
        // Doubles stay doubles: 0.1/3 is not a float32.
        XCTAssertEqual(r.points[r.tags.firstIndex(of: "lr")!][0].value, 0.1 / 3)
    }
    /// TF2's tensor_content with the scalars plugin named only on each tag's first value; the text
    /// tensor ("notes", another plugin) is no scalar.
    func testTensorBoardWriterTF2Style() {
        let r = run("tensorboard-tf2")
        assertMatches(r, expected("tensorboard-tf2"))
        XCTAssertEqual(r.points[r.tags.firstIndex(of: "epoch_loss")!].count, 20)
    }

    /// purge_step's SessionLog.START at step 5 drops the first session's steps 5…9.
    func testRestartPurgesReplayedSteps() {
        let r = run("restart")
        assertMatches(r, expected("restart"))
        XCTAssertEqual(r.restarts, 1)
    }

    func testBadDataCRCSkipsOneRecordAndReadsOn() {
        let r = run("bad-data-crc")
        assertMatches(r, expected("bad-data-crc"))
        XCTAssertEqual(r.damagedRecords, 1)
    }

    func testBadLengthCRCResynchronises() {
        let r = run("bad-length-crc")
        assertMatches(r, expected("bad-length-crc"))
        XCTAssertEqual(r.damagedRecords, 1)
    }

    /// A last record cut short is not damage: it is left for the next read, which completes it once
    /// the writer has appended the rest.
    func testTruncatedLastRecordIsRetried() throws {
        let src = Self.fixtures.appendingPathComponent("truncated")
        let name = try FileManager.default.contentsOfDirectory(atPath: src.path)[0]
        let dir = try tempDir()
        let path = dir + "/" + name
        try FileManager.default.copyItem(atPath: src.appendingPathComponent(name).path, toPath: path)
        let r = TensorBoardRun(directory: dir, name: "t")
        assertMatches(r, expected("truncated"))
        XCTAssertEqual(r.damagedRecords, 0)
        XCTAssertGreaterThan(r.pendingBytes, 0)
        // The writer finishes the record: the full file's bytes.
        let full = try Data(contentsOf: Self.fixtures.appendingPathComponent("pytorch-simple/" + name))
        let h = FileHandle(forWritingAtPath: path)!
        h.seekToEndOfFile()
        let have = Int(h.offsetInFile)
        h.write(full[have...])
        try h.close()
        XCTAssertTrue(r.refresh())
        assertMatches(r, expected("pytorch-simple"))
        XCTAssertEqual(r.pendingBytes, 0)
        XCTAssertFalse(r.refresh(), "nothing new: nothing changes")
    }

    /// Following a growing file: byte by byte in awkward pieces, the result is the whole file's.
    func testGrowingFileReadInPiecesEqualsWholeFile() throws {
        let src = Self.fixtures.appendingPathComponent("pytorch-newstyle")
        let name = try FileManager.default.contentsOfDirectory(atPath: src.path)[0]
        let full = try Data(contentsOf: src.appendingPathComponent(name))
        let dir = try tempDir()
        let path = dir + "/" + name
        FileManager.default.createFile(atPath: path, contents: nil)
        let r = TensorBoardRun(directory: dir, name: "g")
        var at = 0, piece = 1
        while at < full.count {
            let n = min(piece, full.count - at)
            let h = FileHandle(forWritingAtPath: path)!
            h.seekToEndOfFile(); h.write(full[at..<at + n]); try h.close()
            at += n; piece = piece * 3 % 97 + 1
            r.refresh()
        }
        assertMatches(r, expected("pytorch-newstyle"))
        XCTAssertEqual(r.damagedRecords, 0)
    }

    /// A tree of runs is found as `tensorboard --logdir` finds it: every folder with event files,
    /// named by its path below the log directory.
    func testRunFoldersOfATree() throws {
        let root = try tempDir()
        for sub in ["a", "b/seed1", "b/seed2", "c-empty"] {
            try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
        }
        for sub in ["a", "b/seed1", "b/seed2"] {
            FileManager.default.createFile(atPath: root + "/" + sub + "/events.out.tfevents.1.host.1", contents: nil)
        }
        XCTAssertEqual(TensorBoardRun.runFolders(under: root).map(\.name), ["a", "b/seed1", "b/seed2"])
        FileManager.default.createFile(atPath: root + "/events.out.tfevents.2.host.1", contents: nil)
        XCTAssertEqual(TensorBoardRun.runFolders(under: root).first?.name, (root as NSString).lastPathComponent)
    }

    /// nntop's own writer is one more writer the reader reads.
    func testReadsNntopsOwnWriter() throws {
        let dir = try tempDir()
        let w = TensorBoardWriter(directory: dir, wallTime: 1_764_150_000)
        w.scalars([("train/loss", 0.5), ("train/acc", 87.5)], step: 7, wallTime: 1_764_150_001)
        let r = TensorBoardRun(directory: dir, name: "n")
        XCTAssertEqual(r.tags, ["train/loss", "train/acc"])
        XCTAssertEqual(r.points[0], [ScalarPoint(step: 7, wallTime: 1_764_150_001, value: 0.5)])
    }

    func testSlicingCRCEqualsBytewise() {
        var rng = SystemRandomNumberGenerator()
        for n in [0, 1, 7, 8, 9, 63, 64, 1000] {
            let b = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            XCTAssertEqual(b.withUnsafeBytes { CRC32C.checksum($0) }, CRC32C.checksum(b), "\(n) bytes")
        }
    }
}
