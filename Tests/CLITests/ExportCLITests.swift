import Foundation
import Models
import XCTest

/// `nntop export CKPT OUT` and what reads weights-only files: eval and predict take best.safetensors
/// and an exported copy, --resume refuses them in one line; bad input writes nothing.
final class ExportCLITests: XCTestCase {
    var base: String!

    override func setUpWithError() throws {
        base = NSTemporaryDirectory() + "nntop-export-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: base) }

    func assertOneLineError(_ r: NntopBinary.Result, _ needle: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 1, r.out + r.err, file: file, line: line)
        XCTAssertTrue(r.err.hasPrefix("nntop: ") && r.err.contains(needle), r.err, file: file, line: line)
        XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err, file: file, line: line)
        XCTAssertFalse(r.err.contains("Fatal error"), r.err, file: file, line: line)
    }

    func testExportWritesAWeightsOnlyCopyThatEvalAndPredictReadAndResumeRefuses() throws {
        let run = base + "/run"
        let train = try NntopBinary.run(["lenet5", "--headless", "--train-limit", "256", "--val-size", "64", "--epochs", "1",
                                         "--batch-size", "32", "--threads", "2", "--run-dir", run])
        XCTAssertEqual(train.status, 0, train.err)
        let last = run + "/checkpoints/last.safetensors", best = run + "/checkpoints/best.safetensors"
        let out = base + "/weights.safetensors"

        let r = try NntopBinary.run(["export", last, out])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("wrote \(out): 10 weight tensors, 20 optimizer tensors left out"), r.out)
        let exported = try SafetensorsFile(path: out), lastFile = try SafetensorsFile(path: last)
        XCTAssertFalse(exported.names.contains { $0.hasPrefix("optimizer.") }, "\(exported.names)")
        XCTAssertEqual(exported.names.count, 10)
        XCTAssertTrue(lastFile.names.contains { $0.hasPrefix("optimizer.") })

        // eval of the exported copy gives what eval of last gives; best evaluates too.
        let evalLast = try NntopBinary.run(["eval", "lenet5", "--weights", last, "--threads", "2"])
        let evalOut = try NntopBinary.run(["eval", "lenet5", "--weights", out, "--threads", "2"])
        let evalBest = try NntopBinary.run(["eval", "lenet5", "--weights", best, "--threads", "2"])
        for e in [evalLast, evalOut, evalBest] { XCTAssertEqual(e.status, 0, e.err); XCTAssertTrue(e.out.contains("test_acc="), e.out) }
        func accuracyLine(_ s: String) -> String { s.split(separator: "\n").first { $0.contains("test_acc=") }.map(String.init) ?? "" }
        XCTAssertEqual(accuracyLine(evalOut.out), accuracyLine(evalLast.out))

        // predict on one image (a PGM digit) with best.safetensors.
        let image = base + "/digit.pgm"
        var pgm = Data("P5\n28 28\n255\n".utf8)
        pgm.append(contentsOf: (0..<784).map { i in UInt8((i / 28 > 4 && i / 28 < 24 && i % 28 > 12 && i % 28 < 16) ? 255 : 0) })
        try pgm.write(to: URL(fileURLWithPath: image))
        let predict = try NntopBinary.run(["predict", "lenet5", "--weights", best, image, "--top", "3", "--threads", "2"])
        XCTAssertEqual(predict.status, 0, predict.err)
        XCTAssertTrue(predict.out.contains("digit.pgm"), predict.out)

        // --resume refuses weights-only files, saying what to use instead.
        for path in [best, out] {
            let resumed = try NntopBinary.run(["lenet5", "--headless", "--resume", path, "--epochs", "2", "--threads", "2"])
            assertOneLineError(resumed, "holds the weights only, no optimizer state")
            XCTAssertTrue(resumed.err.contains("last.safetensors or a step-N checkpoint"), resumed.err)
        }

        // An existing OUT is kept unless --force.
        let before = try Data(contentsOf: URL(fileURLWithPath: out))
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: out))
        assertOneLineError(try NntopBinary.run(["export", last, out]), "exists: pass --force to replace it")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), Data("keep me".utf8))
        XCTAssertEqual(try NntopBinary.run(["export", last, out, "--force"]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), before)
    }

    func testBadInputIsRefusedInOneLineAndWritesNothing() throws {
        let out = base + "/out.safetensors"
        assertOneLineError(try NntopBinary.run(["export", base + "/missing.safetensors", out]), "missing.safetensors: cannot be read")
        let garbage = base + "/garbage.safetensors"
        try Data("not a checkpoint at all".utf8).write(to: URL(fileURLWithPath: garbage))
        assertOneLineError(try NntopBinary.run(["export", garbage, out]), "garbage.safetensors: not a safetensors file")
        // A checkpoint cut short (its data ends early).
        var w = SafetensorsWriter()
        w.add("fc.weight", shape: [4, 4], int64s: Array(repeating: 1, count: 16))
        let whole = try w.serialized()
        let cut = base + "/cut.safetensors"
        try whole.prefix(whole.count - 8).write(to: URL(fileURLWithPath: cut))
        assertOneLineError(try NntopBinary.run(["export", cut, out]), "cut.safetensors: tensor fc.weight: data_offsets")
        assertOneLineError(try NntopBinary.run(["export", garbage, base + "/no/such/folder/out.safetensors"]), "garbage.safetensors")
        try whole.write(to: URL(fileURLWithPath: cut))
        assertOneLineError(try NntopBinary.run(["export", cut, base + "/no/such/folder/out.safetensors"]), "no folder")
        assertOneLineError(try NntopBinary.run(["export", cut, base]), "is a folder")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: base).sorted(), ["cut.safetensors", "garbage.safetensors"])
    }
}
