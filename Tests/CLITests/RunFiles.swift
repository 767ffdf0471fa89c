import Foundation
import XCTest

/// What a run folder holds, read back by the tests themselves (not through nntop's readers), so an
/// expected value comes from the files rather than from the binary's own summary of them.
enum RunFiles {
    /// metrics.jsonl's complete lines as JSON objects.
    static func metrics(_ runDir: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: runDir + "/metrics.jsonl", encoding: .utf8)
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// The final test line's confusion matrix recounted: correct (the diagonal) over all its
    /// images, as nntop prints an accuracy ("98.95%").
    static func recountedTestAccuracy(_ runDir: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let test = try XCTUnwrap(try metrics(runDir).last { $0["split"] as? String == "test" && $0["confusion"] != nil },
                                 "no final test line with a confusion matrix in \(runDir)/metrics.jsonl", file: file, line: line)
        let m = try XCTUnwrap(test["confusion"] as? [[Int]], file: file, line: line)
        let total = m.joined().reduce(0, +)
        let correct = m.indices.map { m[$0][$0] }.reduce(0, +)
        XCTAssertEqual(total, 10_000, "the matrix does not count MNIST's 10,000 test images", file: file, line: line)
        return String(format: "%.2f%%", 100 * Double(correct) / Double(max(total, 1)))
    }
}
