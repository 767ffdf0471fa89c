import Foundation
import XCTest

/// `nntop eval` and `nntop summary` through the real binary.
final class EvalSummaryCLITests: XCTestCase {
    static let binary = NntopBinary.url
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ModelsTests/Fixtures")
    static let torchLeNet = fixtures.appendingPathComponent("torch_lenet5_trained.safetensors").path
    static let torchPredictions = fixtures.appendingPathComponent("torch_lenet5_predictions.safetensors").path

    func run(_ args: [String], cwd: String? = nil) throws -> NntopBinary.Result {
        try NntopBinary.run(args, cwd: cwd)
    }

    /// The fixture's metadata["test_acc"], read from the safetensors JSON header.
    func fixtureAccuracy() throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.torchPredictions))
        let n = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try XCTUnwrap(JSONSerialization.jsonObject(with: data.subdata(in: 8..<8 + n)) as? [String: Any])
        let meta = try XCTUnwrap(header["__metadata__"] as? [String: String])
        return try XCTUnwrap(meta["test_acc"])
    }

    func testSummaryLeNet5PrintsLayersAndPyTorchTotals() throws {
        let r = try run(["summary", "lenet5"])
        XCTAssertEqual(r.status, 0, r.err)
        for needle in ["conv1", "conv2", "fc1", "fc2", "fc3", "[6, 28, 28]", "[16, 5, 5]", "117,600", "240,000",
                       "61,706", "416,520", "58,408"] {
            XCTAssertTrue(r.out.contains(needle), "summary lacks \(needle):\n\(r.out)")
        }
    }

    func testSummaryResNetWithoutResidualMarksShortcutsUnused() throws {
        let r = try run(["summary", "resnet18", "--no-residual"])
        XCTAssertEqual(r.status, 0, r.err)
        let unused = r.out.split(separator: "\n").filter { $0.hasSuffix("unused") }
        XCTAssertEqual(unused.count, 6, r.out)
        XCTAssertTrue(unused.allSatisfy { $0.contains("downsample") })
        XCTAssertTrue(r.out.contains("35,017,728"), r.out)
        XCTAssertTrue(r.out.contains("layer1.0.conv1"))
    }

    func testEvalOfPyTorchTrainedLeNetEndsWithTheAccuracyPyTorchMeasured() throws {
        let r = try run(["eval", "lenet5", "--weights", Self.torchLeNet], cwd: NSTemporaryDirectory())
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        let last = try XCTUnwrap(lines.last)
        let re = try NSRegularExpression(pattern: #"^test_acc=(\d+\.\d{2})% test_loss=\d+\.\d{4} n=10000$"#)
        let m = try XCTUnwrap(re.firstMatch(in: last, range: NSRange(last.startIndex..., in: last)), "final line: \(last)")
        let acc = String(last[Range(m.range(at: 1), in: last)!])
        XCTAssertEqual(acc, try fixtureAccuracy())
        XCTAssertTrue(r.out.contains("confusion"), r.out)
        // Per-class rows: ten classes with their counts (MNIST's test set has 980 zeros and 1,135 ones).
        XCTAssertTrue(lines.contains { $0.hasPrefix("0 ") && $0.contains(" 980 ") }, r.out)
        XCTAssertTrue(lines.contains { $0.hasPrefix("1 ") && $0.contains(" 1135 ") }, r.out)
        XCTAssertEqual(r.out.components(separatedBy: "test_acc=").count, 2, "exactly one test_acc line")
    }

    func testEvalOfAnotherModelsCheckpointFailsWithOneClearLine() throws {
        let before = try Data(contentsOf: URL(fileURLWithPath: Self.torchLeNet))
        let r = try run(["eval", "resnet18", "--weights", Self.torchLeNet])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.out, "")
        let lines = r.err.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, r.err)
        XCTAssertTrue(r.err.contains(Self.torchLeNet), r.err)
        XCTAssertTrue(r.err.contains("tensor"), r.err)
        XCTAssertTrue(r.err.contains("missing") || r.err.contains("shape"), r.err)
        XCTAssertFalse(r.err.contains("Fatal error"), r.err)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: Self.torchLeNet)), before, "the checkpoint was modified")
    }

    func testEvalOfMissingFileFailsWithOneClearLine() throws {
        let r = try run(["eval", "lenet5", "--weights", "/nonexistent"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.out, "")
        XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err)
        XCTAssertTrue(r.err.contains("/nonexistent"), r.err)
        XCTAssertFalse(r.err.contains("Fatal error"), r.err)
    }

    func testEvalOptionErrors() throws {
        for (args, needle) in [(["eval", "vgg", "--weights", Self.torchLeNet], "lenet5, resnet18"),
                               (["eval", "lenet5"], "--weights"),
                               (["eval", "lenet5", "--weights", Self.torchLeNet, "--batch-size", "0"], "--batch-size"),
                               (["eval", "lenet5", "--weights", Self.torchLeNet, "--data", "/nonexistent/mnist"], "/nonexistent/mnist")] {
            let r = try run(args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.err.contains(needle), "\(args): \(r.err)")
            XCTAssertEqual(r.out, "", "\(args)")
        }
    }
}
