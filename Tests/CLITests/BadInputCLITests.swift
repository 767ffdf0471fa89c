import Foundation
import Models
import XCTest

/// Every broken data folder and checkpoint the reliability issue lists, through the real binary:
/// a non-zero exit, one line on stderr naming the file and the problem, no crash, and nothing
/// written (no run folder appears).
final class BadInputCLITests: XCTestCase {
    var base: String!
    var data: String { base + "/mnist" }
    var runDir: String { base + "/run" }

    override func setUpWithError() throws {
        base = NSTemporaryDirectory() + "nntop-bad-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: base) }

    /// A fresh copy of the bundled (gzipped) MNIST.
    func copyRealData() throws {
        try? FileManager.default.removeItem(atPath: data)
        try FileManager.default.copyItem(atPath: try XCTUnwrap(MNIST.defaultDirectory()), toPath: data)
    }

    /// Replaces `stem`'s .gz with a raw file holding `bytes`.
    func replace(_ stem: String, raw bytes: [UInt8]) throws {
        try FileManager.default.removeItem(atPath: "\(data)/\(stem).gz")
        try Data(bytes).write(to: URL(fileURLWithPath: "\(data)/\(stem)"))
    }

    func decompressed(_ stem: String) throws -> [UInt8] {
        let gz = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(data)/\(stem).gz")))
        return try MNIST.gunzip(gz, path: stem)
    }

    /// Runs a short training with `extra` options and checks the failure.
    func assertRefused(_ extra: [String], _ needles: [String], _ what: String, line: UInt = #line) throws {
        let r = try NntopBinary.run(["lenet5", "--headless", "--epochs", "1", "--run-dir", runDir] + extra, cwd: base)
        XCTAssertNotEqual(r.status, 0, "\(what): should fail", line: line)
        let lines = r.err.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "\(what): not one line: \(r.err)", line: line)
        for n in needles { XCTAssertTrue(r.err.contains(n), "\(what): stderr lacks '\(n)': \(r.err)", line: line) }
        XCTAssertFalse(r.err.contains("Fatal error") || r.err.contains("Stack dump"), "\(what): crashed: \(r.err)", line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: runDir), "\(what): a run folder was written", line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: base + "/runs"), "\(what): a runs folder was written", line: line)
    }

    func testBrokenDataFoldersAreRefusedBeforeAnythingIsWritten() throws {
        let labels = MNIST.fileStems.testLabels, images = MNIST.fileStems.testImages
        try assertRefused(["--data", base + "/nothing-here"], ["nothing-here"], "missing folder")

        try copyRealData()
        try FileManager.default.removeItem(atPath: "\(data)/\(labels).gz")
        try assertRefused(["--data", data], [labels, "missing"], "missing file")

        try copyRealData()
        try replace(labels, raw: [])
        try assertRefused(["--data", data], [labels, "empty"], "empty file")

        try copyRealData()
        var raw = try decompressed(labels)
        raw[3] = 3
        try replace(labels, raw: raw)
        try assertRefused(["--data", data], [labels, "magic"], "wrong magic")

        try copyRealData()
        raw = try decompressed(labels)
        try replace(labels, raw: Array(raw.dropLast(500)))
        try assertRefused(["--data", data], [labels, "truncated"], "truncated labels")

        try copyRealData()
        raw = try decompressed(images)
        try replace(images, raw: Array(raw.dropLast(784 * 3 + 17)))
        try assertRefused(["--data", data], [images, "truncated"], "truncated images")

        try copyRealData()
        raw = try decompressed(labels)
        raw[6] = 0x27; raw[7] = 0x0f   // 9,999 labels for 10,000 images
        try replace(labels, raw: Array(raw.dropLast()))
        try assertRefused(["--data", data], ["10000 images", "9999 labels"], "count mismatch")

        try copyRealData()
        raw = try decompressed(labels)
        raw[8 + 1234] = 12
        try replace(labels, raw: raw)
        try assertRefused(["--data", data], [labels, "label 12"], "label above 9")

        try copyRealData()
        raw = try decompressed(images)
        raw[11] = 20; raw[15] = 20   // 20×20 images: the file then holds exactly that many pixels
        try replace(images, raw: Array(raw.prefix(16 + 10_000 * 400)))
        try assertRefused(["--data", data], [images, "20×20", "28×28"], "not 28×28")

        try copyRealData()
        var gz = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(data)/\(labels).gz")))
        try Data(gz.prefix(gz.count / 2)).write(to: URL(fileURLWithPath: "\(data)/\(labels).gz"))
        try assertRefused(["--data", data], ["\(labels).gz", "truncated"], "truncated gz")

        try copyRealData()
        gz = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(data)/\(labels).gz")))
        for i in stride(from: gz.count / 3, to: gz.count / 3 + 64, by: 3) { gz[i] ^= 0xA5 }
        try Data(gz).write(to: URL(fileURLWithPath: "\(data)/\(labels).gz"))
        try assertRefused(["--data", data], ["\(labels).gz"], "corrupt gz")
    }

    /// A safetensors file: 8-byte little-endian header length, the JSON header, the data.
    func safetensors(header: String, data: [UInt8] = [], length: UInt64? = nil) -> Data {
        let h = Array(header.utf8)
        let n = length ?? UInt64(h.count)
        return Data((0..<8).map { UInt8(n >> (8 * $0) & 255) } + h + data)
    }

    func testBrokenCheckpointsAreRefusedBeforeAnythingIsWritten() throws {
        let good = #"{"conv1.bias":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}}"#
        let cases: [(String, Data, [String])] = [
            ("not safetensors", Data("PK\u{3}\u{4} this is a zip file, not a checkpoint".utf8), []),
            ("header longer than the file", safetensors(header: good, data: [UInt8](repeating: 0, count: 24), length: 1 << 20), ["header"]),
            ("header not JSON", safetensors(header: "{conv1.bias: oops", data: [UInt8](repeating: 0, count: 24)), ["JSON"]),
            ("offsets outside the data", safetensors(header: #"{"conv1.bias":{"dtype":"F32","shape":[6],"data_offsets":[0,240]}}"#,
                                                      data: [UInt8](repeating: 0, count: 24)), ["conv1.bias"]),
            ("overlapping offsets", safetensors(header: #"{"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]},"b":{"dtype":"F32","shape":[6],"data_offsets":[12,36]}}"#,
                                                 data: [UInt8](repeating: 0, count: 36)), ["overlap"]),
            ("unknown dtype", safetensors(header: #"{"conv1.bias":{"dtype":"Q7","shape":[6],"data_offsets":[0,24]}}"#,
                                           data: [UInt8](repeating: 0, count: 24)), ["Q7"]),
            ("shape × dtype ≠ bytes", safetensors(header: #"{"conv1.bias":{"dtype":"F32","shape":[5],"data_offsets":[0,24]}}"#,
                                                  data: [UInt8](repeating: 0, count: 24)), ["conv1.bias"]),
            ("a tensor missing (of LeNet-5's ten)", safetensors(header: good, data: [UInt8](repeating: 0, count: 24)), ["missing"]),
        ]
        for (what, bytes, needles) in cases {
            let path = base + "/broken.safetensors"
            try bytes.write(to: URL(fileURLWithPath: path))
            for option in ["--weights", "--resume"] {
                // A readable file without nntop's run options cannot be resumed, whatever its tensors.
                let expected = option == "--resume" && what.hasPrefix("a tensor missing") ? ["holds no run options"] : needles
                try assertRefused([option, path], [path] + expected, "\(what) (\(option))")
            }
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), bytes, "\(what): the file was modified")
        }
    }
}
