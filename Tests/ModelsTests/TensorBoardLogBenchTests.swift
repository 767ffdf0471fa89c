import Foundation
import XCTest
@testable import Models

/// The figures in BENCHMARKS.md, "TensorBoard logs": opening a big log and following it as it grows.
/// Runs only with NNTOP_BIG_TFEVENTS=DIR (a log made by scripts/make_big_tfevents.py), since the file
/// is 100 MB and not committed; it appends to a copy of it, never to DIR.
final class TensorBoardLogBenchTests: XCTestCase {
    func cpuSeconds() -> Double {
        var u = rusage(); getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
    }

    func testOpenAndFollowABigLog() throws {
        guard let big = ProcessInfo.processInfo.environment["NNTOP_BIG_TFEVENTS"] else { throw XCTSkip("set NNTOP_BIG_TFEVENTS=DIR") }
        let name = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: big).first { $0.contains("tfevents") })
        let dir = NSTemporaryDirectory() + "nntop-bench-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: big + "/" + name, toPath: dir + "/" + name)
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
        // The last 10,000 records of the file, appended again (new records of the same shape).
        var ends: [Int] = [], at = 0
        data.withUnsafeBytes { p in
            while at + 8 <= p.count { at += 16 + Int(p.loadUnaligned(fromByteOffset: at, as: UInt64.self)); ends.append(at) }
        }
        let tail = data[ends[ends.count - 10_001]...]

        var t0 = Date(), c0 = cpuSeconds()
        let run = TensorBoardRun(directory: dir, name: "big")
        let open = (Date().timeIntervalSince(t0), cpuSeconds() - c0)
        let points = run.points.reduce(0) { $0 + $1.count }
        print("open: \(points) scalars, \(data.count / 1_000_000) MB in \(String(format: "%.2f", open.0)) s wall, \(String(format: "%.2f", open.1)) s CPU")
        for round in 1...3 {
            let h = try XCTUnwrap(FileHandle(forWritingAtPath: dir + "/" + name))
            h.seekToEndOfFile(); h.write(tail); h.closeFile()
            t0 = Date(); c0 = cpuSeconds()
            XCTAssertTrue(run.refresh())
            let dt = (Date().timeIntervalSince(t0), cpuSeconds() - c0)
            print("follow \(round): +10000 records (\(tail.count / 1000) kB) in \(String(format: "%.1f", dt.0 * 1000)) ms wall, \(String(format: "%.1f", dt.1 * 1000)) ms CPU; scalars now \(run.points.reduce(0) { $0 + $1.count })")
        }
        t0 = Date(); c0 = cpuSeconds()
        XCTAssertFalse(run.refresh())
        print("follow, nothing new: \(String(format: "%.2f", Date().timeIntervalSince(t0) * 1000)) ms wall")
    }
}
