import Foundation
import XCTest
@testable import Kernels
@testable import Models

/// idx parsing (raw and gzipped), padding and normalisation, the validation split, and the errors
/// a broken data folder gets.
final class DataTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "nntop-data-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// An idx3 file of `n` 28×28 images where image k's pixel (r, c) = (k + r + c) % 256.
    func idxImages(_ n: Int, rows: Int = 28, cols: Int = 28) -> [UInt8] {
        var b: [UInt8] = [0, 0, 8, 3]
        for d in [n, rows, cols] { b += [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
        for k in 0..<n { for r in 0..<rows { for c in 0..<cols { b.append(UInt8((k + r + c) % 256)) } } }
        return b
    }

    func idxLabels(_ labels: [UInt8]) -> [UInt8] {
        let n = labels.count
        return [0, 0, 8, 1, UInt8(n >> 24 & 255), UInt8(n >> 16 & 255), UInt8(n >> 8 & 255), UInt8(n & 255)] + labels
    }

    func write(_ name: String, _ bytes: [UInt8], gzip: Bool = false) throws {
        let path = dir + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        if gzip {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/gzip")
            p.arguments = ["-f", path]
            try p.run(); p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0)
        }
    }

    func writeSet(gzip: Bool, trainCount: Int = 12, testCount: Int = 5) throws {
        try write("train-images-idx3-ubyte", idxImages(trainCount), gzip: gzip)
        try write("train-labels-idx1-ubyte", idxLabels((0..<trainCount).map { UInt8($0 % 10) }), gzip: gzip)
        try write("t10k-images-idx3-ubyte", idxImages(testCount), gzip: gzip)
        try write("t10k-labels-idx1-ubyte", idxLabels((0..<testCount).map { UInt8(9 - $0 % 10) }), gzip: gzip)
    }

    func testRawAndGzippedFilesParseIdentically() throws {
        try writeSet(gzip: false)
        let raw = try MNIST.load(directory: dir)
        try FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try writeSet(gzip: true)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/train-images-idx3-ubyte.gz"))
        let gz = try MNIST.load(directory: dir)
        XCTAssertEqual(raw.train.count, 12); XCTAssertEqual(raw.test.count, 5)
        XCTAssertEqual(raw.train.images, gz.train.images); XCTAssertEqual(raw.test.labels, gz.test.labels)
        XCTAssertEqual(raw.train.images[3 * 784 + 2 * 28 + 5], 10)   // image 3, row 2, col 5
        XCTAssertEqual(raw.test.labels, [9, 8, 7, 6, 5])
    }

    func testPaddingAndNormalisation() throws {
        try writeSet(gzip: false)
        let (train, _) = try MNIST.load(directory: dir)
        let d = Dataset(train)
        let x = Tensor(shape: [2, 1, 32, 32])
        var labels = [Int32](repeating: -1, count: 2)
        d.fill(items: [4, 1][...], x: x, labels: &labels)
        XCTAssertEqual(labels, [4, 1])
        let background = (0 - 0.1307) / 0.3081
        // The 2-pixel border is background: zero padding before normalisation.
        for (r, c) in [(0, 0), (1, 31), (31, 0), (15, 1), (30, 30)] { XCTAssertEqual(Double(x[r * 32 + c]), background, accuracy: 1e-6) }
        // Pixel (r, c) of image 4 lands at (r+2, c+2): value (4 + r + c) / 255, normalised.
        for (r, c) in [(0, 0), (10, 20), (27, 27)] {
            let expected = (Double((4 + r + c) % 256) / 255 - 0.1307) / 0.3081
            XCTAssertEqual(Double(x[(r + 2) * 32 + c + 2]), expected, accuracy: 1e-5)
        }
        // Second item is image 1.
        XCTAssertEqual(Double(x[1024 + 2 * 32 + 2]), (1.0 / 255 - 0.1307) / 0.3081, accuracy: 1e-5)
    }

    func testValidationSplitHoldsOutTheLastImages() throws {
        try writeSet(gzip: false, trainCount: 20)
        let (train, test) = try MNIST.load(directory: dir)
        let s = try DataSplits(train: train, test: test, validationSize: 5, trainLimit: nil)
        XCTAssertEqual(s.train.indices, Array(0..<15)); XCTAssertEqual(s.validation.indices, Array(15..<20))
        XCTAssertTrue(Set(s.train.indices).isDisjoint(with: s.validation.indices))
        let limited = try DataSplits(train: train, test: test, validationSize: 5, trainLimit: 7)
        XCTAssertEqual(limited.train.count, 7); XCTAssertEqual(limited.validation.count, 5)
        XCTAssertThrowsError(try DataSplits(train: train, test: test, validationSize: 20, trainLimit: nil))
        XCTAssertThrowsError(try DataSplits(train: train, test: test, validationSize: 5, trainLimit: 16)) {
            XCTAssertTrue("\($0)".contains("--train-limit"))
        }
    }

    func assertLoadFails(containing words: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try MNIST.load(directory: dir), file: file, line: line) { e in
            for w in words { XCTAssertTrue("\(e)".contains(w), "'\(e)' lacks '\(w)'", file: file, line: line) }
        }
    }

    func testBrokenDataGetsClearErrors() throws {
        try FileManager.default.removeItem(atPath: dir)
        assertLoadFails(containing: ["does not exist", "--data"])
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        assertLoadFails(containing: ["train-images-idx3-ubyte", "missing"])
        try writeSet(gzip: false)
        try write("train-images-idx3-ubyte", [])
        assertLoadFails(containing: ["train-images-idx3-ubyte", "empty"])
        try write("train-images-idx3-ubyte", [0, 0, 8, 1] + idxImages(12).dropFirst(4))
        assertLoadFails(containing: ["magic"])
        try write("train-images-idx3-ubyte", Array(idxImages(12).dropLast(100)))
        assertLoadFails(containing: ["truncated"])
        try write("train-images-idx3-ubyte", idxImages(11))
        assertLoadFails(containing: ["11 images", "12 labels"])
        try write("train-images-idx3-ubyte", idxImages(12, rows: 20, cols: 20))
        assertLoadFails(containing: ["20×20", "28×28"])
        try write("train-images-idx3-ubyte", idxImages(12))
        try write("train-labels-idx1-ubyte", idxLabels([1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 12, 1]))
        assertLoadFails(containing: ["label 12"])
        try write("train-labels-idx1-ubyte", idxLabels((0..<12).map { UInt8($0 % 10) }), gzip: true)
        let gz = try Data(contentsOf: URL(fileURLWithPath: dir + "/train-labels-idx1-ubyte.gz"))
        try gz.prefix(gz.count - 12).write(to: URL(fileURLWithPath: dir + "/train-labels-idx1-ubyte.gz"))
        assertLoadFails(containing: ["train-labels-idx1-ubyte.gz", "truncated"])
        var corrupt = [UInt8](gz); corrupt[gz.count / 2] ^= 0xff; corrupt[gz.count / 2 + 1] ^= 0x5a
        try Data(corrupt).write(to: URL(fileURLWithPath: dir + "/train-labels-idx1-ubyte.gz"))
        assertLoadFails(containing: ["train-labels-idx1-ubyte.gz"])
    }

    func testBundledMNISTIsFoundAndComplete() throws {
        let found = try XCTUnwrap(MNIST.defaultDirectory())
        let (train, test) = try MNIST.load(directory: found)
        XCTAssertEqual(train.count, 60_000); XCTAssertEqual(test.count, 10_000)
        // Every digit occurs, roughly a tenth each.
        var counts = [Int](repeating: 0, count: 10)
        for l in test.labels { counts[Int(l)] += 1 }
        XCTAssertTrue(counts.allSatisfy { $0 > 800 && $0 < 1200 }, "\(counts)")
    }
}
