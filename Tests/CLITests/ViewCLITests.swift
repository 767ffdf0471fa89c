import Foundation
import XCTest

/// `nntop view` and `--compare` through the binary, stdout a pipe: bad folders are refused in one
/// line naming them, a real run prints its summary, events and final confusion matrix.
final class ViewCLITests: XCTestCase {
    var parent: String!

    override func setUpWithError() throws {
        parent = NSTemporaryDirectory() + "nntop-view-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: parent) }

    /// Refused: exit 1, nothing on stdout, one stderr line naming the path and the reason.
    func assertRefused(_ args: [String], path: String, reason: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try NntopBinary.run(args)
        XCTAssertEqual(r.status, 1, r.err, file: file, line: line)
        XCTAssertEqual(r.out, "", file: file, line: line)
        XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err, file: file, line: line)
        XCTAssertTrue(r.err.hasPrefix("nntop: \(path): "), r.err, file: file, line: line)
        XCTAssertTrue(r.err.contains(reason), r.err, file: file, line: line)
        XCTAssertFalse(r.err.contains("Fatal error"), r.err, file: file, line: line)
    }

    func testMissingAndNonRunFoldersAreRefusedNamingThePath() throws {
        try assertRefused(["view", parent + "/nope"], path: parent + "/nope", reason: "no such run folder")
        let empty = parent + "/photos"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: empty + "/cat.jpg"))
        try assertRefused(["view", empty], path: empty, reason: "not an nntop run folder")
        // The first bad folder of several is the one named.
        try assertRefused(["view", empty, parent + "/nope"], path: empty, reason: "not an nntop run folder")
        // --compare checks its folders before training starts.
        try assertRefused(["lenet5", "--headless", "--compare", parent + "/nope"], path: parent + "/nope", reason: "no such run folder")
    }

    func testViewOfARealRunPrintsItsSummaryEventsAndFinalMatrix() throws {
        let run = parent + "/first"
        let train = try NntopBinary.run(["lenet5", "--headless", "--train-limit", "640", "--val-size", "200", "--epochs", "1",
                                         "--threads", "2", "--run-dir", run])
        XCTAssertEqual(train.status, 0, train.err)
        // Recounted from the logged confusion matrix, not copied from the binary's final line.
        let testAcc = try RunFiles.recountedTestAccuracy(run)

        // A killed run's half-written last line is skipped, not an error.
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: run + "/metrics.jsonl"))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"step":21,"epoch":2,"split":"tr"#.utf8))
        handle.closeFile()

        let r = try NntopBinary.run(["view", run])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.err, "")
        let lines = r.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // The folder as given, once: its name is its last part, and the summary names the model.
        XCTAssertEqual(lines[0], run, r.out)
        XCTAssertTrue(lines[1].contains("lenet5 · done · 1/1 epochs"), r.out)
        XCTAssertTrue(lines[1].contains("test \(testAcc)"), "\(lines[1]) lacks \(testAcc)")
        XCTAssertTrue(r.out.contains("1 cut-off line(s) of metrics.jsonl skipped"), r.out)
        XCTAssertTrue(r.out.contains("events: none"), r.out)
        XCTAssertTrue(r.out.contains("final test confusion matrix"), r.out)
        // Ten matrix rows whose counts add up to the 10,000 test images.
        let rows = lines.filter { $0.range(of: #"^  \d \|"#, options: .regularExpression) != nil }
        XCTAssertEqual(rows.count, 10, r.out)
        let total = rows.flatMap { $0.split(separator: "|")[1].split(separator: " ").compactMap { Int($0) } }.reduce(0, +)
        XCTAssertEqual(total, 10_000)

        // --compare in a headless run: accepted, ignored with one note, training goes on.
        let second = try NntopBinary.run(["lenet5", "--headless", "--train-limit", "320", "--val-size", "100", "--epochs", "1",
                                          "--threads", "2", "--run-dir", parent + "/second", "--compare", run])
        XCTAssertEqual(second.status, 0, second.err)
        XCTAssertTrue(second.err.contains("--compare draws on the dashboard only; ignored in headless mode"), second.err)
        XCTAssertTrue(second.out.contains("final test_acc="), second.out)
    }
}
