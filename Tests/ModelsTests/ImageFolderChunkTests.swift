import Foundation
import XCTest
@testable import Models

/// Decoding splits the files into 16 chunks per core of ⌈n / chunks⌉ files: with 16·cores + 1 files
/// the chunks hold 2 files and the last ones start past the end (on 2 cores, chunk 31 at file 62 of
/// 33). Those chunks must decode nothing (they read past the file list and crashed the process).
final class ImageFolderChunkTests: XCTestCase {
    func testFileCountsWhoseLastChunksStartPastTheEndDecodeEveryFile() throws {
        let png = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/data/png/grey8.png").path
        let workers = ProcessInfo.processInfo.activeProcessorCount
        for n in [16 * workers + 1, 24 * workers + 1] {
            let per = (n + 16 * workers - 1) / (16 * workers)
            XCTAssertGreaterThan((16 * workers - 1) * per, n, "n = \(n) does not reach the case")
            let decoded = try ImageFolder.decodeAll(Array(repeating: png, count: n), side: 4, progress: nil, isCancelled: nil)
            XCTAssertEqual(decoded.channels, 1)
            XCTAssertEqual(decoded.pixels.count, n * 16)
            // Every file is the same image: every slot holds the first one's pixels (none left at zero).
            let first = Array(decoded.pixels.prefix(16))
            XCTAssertTrue((0..<n).allSatisfy { Array(decoded.pixels[$0 * 16..<($0 + 1) * 16]) == first }, "n = \(n)")
        }
    }
}
