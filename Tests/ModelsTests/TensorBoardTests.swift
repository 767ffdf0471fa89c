import Foundation
import XCTest
@testable import Models

/// The TensorBoard event file: CRC-32C, TFRecord framing and Event protobufs written by nntop and
/// read back; damage is caught by the CRCs; a file written by TensorBoard's own writer
/// (scripts/tensorboard_check.py make-fixture) parses; RunLog writes one per run folder.
final class TensorBoardTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tensorboard")

    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "nntop-tb-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    func testCRC32CCheckValue() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
        // 32 zero bytes: the iSCSI (RFC 3720) test vector.
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        let c: UInt32 = 0xE306_9283
        XCTAssertEqual(CRC32C.masked(Array("123456789".utf8)), ((c >> 15) | (c << 17)) &+ 0xA282_EAD8)
    }

    func testWrittenScalarsReadBackExactly() throws {
        let dir = try tempDir()
        let w = TensorBoardWriter(directory: dir, wallTime: 1_764_150_000.5)
        w.scalars([("train/loss", 2.302585), ("train/acc", 0.125), ("lr", 0.01)], step: 10)
        w.scalar("val/acc", 97.25, step: 300)
        w.scalar("big", -1e30, step: 1 << 40)
        XCTAssertNil(w.error)
        let name = (w.path as NSString).lastPathComponent
        XCTAssertTrue(name.hasPrefix("events.out.tfevents.1764150000."), name)
        XCTAssertTrue(name.hasSuffix(".\(getpid())"), name)

        let got = try TensorBoardReader.scalars(w.path)
        XCTAssertEqual(got, [
            .init(tag: "train/loss", step: 10, value: Float(2.302585)),
            .init(tag: "train/acc", step: 10, value: 0.125),
            .init(tag: "lr", step: 10, value: Float(0.01)),
            .init(tag: "val/acc", step: 300, value: 97.25),
            .init(tag: "big", step: 1 << 40, value: Float(-1e30)),
        ])
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: w.path)))
        XCTAssertEqual(try TensorBoardReader.fileVersions(data: data), ["brain.Event:2"])
        // First record: Event{wall_time = 1764150000.5 (field 1, fixed64), file_version (field 3)}.
        let first = try XCTUnwrap(TensorBoardReader.records(data).first)
        XCTAssertEqual(first.first, 0x09)
        XCTAssertEqual(Array(first.dropFirst(9)), [0x1A, 13] + Array("brain.Event:2".utf8))
        XCTAssertEqual(Array(first[first.startIndex + 1 ..< first.startIndex + 9]),
                       (0..<8).map { UInt8(truncatingIfNeeded: (1_764_150_000.5 as Double).bitPattern >> ($0 * 8)) })
    }

    func testCorruptedByteIsACRCError() throws {
        let dir = try tempDir()
        let w = TensorBoardWriter(directory: dir)
        w.scalar("train/loss", 1.5, step: 1)
        w.scalar("train/loss", 0.75, step: 2)
        let clean = [UInt8](try Data(contentsOf: URL(fileURLWithPath: w.path)))
        XCTAssertEqual(try TensorBoardReader.scalars(data: clean).map(\.value), [1.5, 0.75])
        let records = try TensorBoardReader.records(clean)
        XCTAssertEqual(records.count, 3)

        // A byte in the last record's payload: data CRC.
        var bad = clean
        bad[records[2].startIndex + 3] ^= 0x40
        XCTAssertThrowsError(try TensorBoardReader.scalars(data: bad)) {
            XCTAssertTrue("\($0)".contains("data CRC"), "\($0)")
        }
        // A byte in the second record's length: length CRC.
        bad = clean
        bad[records[1].startIndex - 12] ^= 0x01
        XCTAssertThrowsError(try TensorBoardReader.scalars(data: bad)) {
            XCTAssertTrue("\($0)".contains("length CRC"), "\($0)")
        }
        // A byte of a stored CRC itself.
        bad = clean
        bad[bad.count - 1] ^= 0x80
        XCTAssertThrowsError(try TensorBoardReader.scalars(data: bad)) {
            XCTAssertTrue("\($0)".contains("CRC"), "\($0)")
        }
        // Cut short.
        XCTAssertThrowsError(try TensorBoardReader.scalars(data: Array(clean.dropLast(2))))
    }

    func testUnwritableFolderIsRememberedNotFatal() throws {
        let w = TensorBoardWriter(directory: try tempDir() + "/missing/deeper")
        XCTAssertNotNil(w.error)
        w.scalar("train/loss", 1, step: 1)   // no crash, nothing written
        XCTAssertTrue(w.error?.contains("cannot open") ?? false, w.error ?? "")
    }

    /// Written by TensorBoard's EventFileWriter (scripts/tensorboard_check.py make-fixture): its
    /// first record carries source_metadata (an unknown field to us) as well as file_version.
    func testReadsTensorBoardWrittenFixture() throws {
        let path = Self.fixtures.appendingPathComponent("events.out.tfevents.fixture").path
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(try TensorBoardReader.fileVersions(data: data), ["brain.Event:2"])
        let got = try TensorBoardReader.scalars(path)
        // The script's inputs, in the order it wrote them.
        XCTAssertEqual(got, [
            .init(tag: "train/loss", step: 0, value: 2.5), .init(tag: "lr", step: 0, value: Float(0.01)),
            .init(tag: "train/loss", step: 10, value: 1.25), .init(tag: "lr", step: 10, value: Float(0.005)),
            .init(tag: "train/loss", step: 20, value: 0.625), .init(tag: "lr", step: 20, value: Float(0.0025)),
            .init(tag: "val/acc", step: 20, value: 0.875),
        ])
    }

    /// RunLog writes the event file next to metrics.jsonl, with the same numbers.
    func testRunLogWritesTensorBoardScalars() throws {
        let dir = try tempDir() + "/run"
        let log = RunLog(directory: dir, config: TrainConfig.defaults(for: "lenet5"))
        var s = TrainingSnapshot(model: "lenet5", residual: nil)
        s.step = 4; s.epoch = 1; s.lr = 0.01
        s.trainLoss = [CurvePoint(step: 3, value: 2.0), CurvePoint(step: 4, value: 1.0)]
        s.trainAccuracy = [CurvePoint(step: 3, value: 0.25), CurvePoint(step: 4, value: 0.75)]
        log.handle(.progress(s))
        var r = EvaluationResult(classes: 10); r.loss = 0.5; r.correct = 90; r.count = 100
        log.handle(.evaluated(split: "val", result: r, snapshot: s))
        var t = EvaluationResult(classes: 10); t.loss = 0.25; t.correct = 95; t.count = 100
        s.finalTest = t; s.state = .done
        log.handle(.finished(s))
        XCTAssertNil(log.error)
        let w = try XCTUnwrap(log.tensorBoard)
        XCTAssertNil(w.error)
        XCTAssertEqual((w.path as NSString).deletingLastPathComponent, dir)
        XCTAssertEqual(try TensorBoardReader.scalars(w.path), [
            .init(tag: "train/loss", step: 4, value: 1.5), .init(tag: "train/acc", step: 4, value: 0.5),
            .init(tag: "lr", step: 4, value: Float(0.01)),
            .init(tag: "val/loss", step: 4, value: 0.5), .init(tag: "val/acc", step: 4, value: 90),
            .init(tag: "test/loss", step: 4, value: 0.25), .init(tag: "test/acc", step: 4, value: 95),
        ])
    }
}
