import Foundation
import Models
import XCTest

/// Promises of the README checked through the real binary, headless: a ResNet-18 run stopped and
/// resumed computes what an unbroken run computes; a diverging run exits with status 3; `bench`
/// prints its figures.
final class ResumeCLITests: XCTestCase {
    var base: String!

    override func setUpWithError() throws {
        base = NSTemporaryDirectory() + "nntop-resume-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: base) }

    /// A run's train and val lines, keyed by step and split, with the fields a computation
    /// determines (time and samples/s are the machine's, not the run's).
    func computed(_ runDir: String) throws -> [String: [String: Double]] {
        var out: [String: [String: Double]] = [:]
        for line in try RunFiles.metrics(runDir) {
            guard let split = line["split"] as? String, split != "test", let step = line["step"] as? Int else { continue }
            var fields: [String: Double] = [:]
            for k in ["loss", "acc", "lr"] { if let v = line[k] as? Double { fields[k] = v } }
            if let e = line["epoch"] as? Int { fields["epoch"] = Double(e) }
            let key = "\(split) step \(String(format: "%03d", step))"
            XCTAssertNil(out[key], "\(runDir): two \(key) lines")
            out[key] = fields
        }
        return out
    }

    /// Every tensor of two checkpoints (weights, batch-norm running statistics, optimizer state),
    /// compared bit for bit.
    func assertSameTensors(_ a: String, _ b: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let fa = try SafetensorsFile(path: a), fb = try SafetensorsFile(path: b)
        XCTAssertEqual(fa.names.sorted(), fb.names.sorted(), file: file, line: line)
        XCTAssertTrue(fa.names.contains { $0.hasSuffix("running_var") }, "no batch-norm statistics in \(a)", file: file, line: line)
        var differing: [String] = []
        for name in fa.names where fb.entries[name] != nil {
            let same = fa.entries[name]!.dtype == .i64
                ? try fa.int64s(name) == fb.int64s(name)
                : try fa.doubles(name).map(\.bitPattern) == fb.doubles(name).map(\.bitPattern)
            if !same { differing.append(name) }
        }
        XCTAssertEqual(differing, [], "tensors that differ between \(a) and \(b)", file: file, line: line)
    }

    /// README: "--resume restores weights, optimizer state, step, epoch, position in the epoch's data
    /// order, LR, residual flag and options: a run stopped and resumed computes the same losses as one
    /// that never stopped (same thread count)." ResNet-18 (batch norm: its running statistics are in
    /// the final checkpoint too), two epochs of 16 steps, logged every step. The stop is a SIGTERM
    /// once step 3 is logged; wherever it lands (a step boundary), the result must be the same.
    func testResNetStoppedAndResumedComputesWhatAnUnbrokenRunComputes() throws {
        let options = ["resnet18", "--headless", "--train-limit", "512", "--val-size", "128", "--epochs", "2",
                       "--batch-size", "32", "--log-every", "1", "--threads", "2", "--seed", "5"]
        let unbroken = base + "/unbroken", broken = base + "/broken"
        let a = try NntopBinary.run(options + ["--run-dir", unbroken], timeout: 600)
        XCTAssertEqual(a.status, 0, a.err)

        let p = try Child(options + ["--run-dir", broken])
        try p.waitFor("step 3/16", timeout: 300)
        kill(p.pid, SIGTERM)
        let stopped = try p.finish(timeout: 300)
        XCTAssertEqual(stopped.status, 143, "the run was not stopped mid-way: \(stopped.out)")
        // Where it stopped, from the log's end line (README: {"event":"end","state":…}).
        let endLine = try XCTUnwrap(try RunFiles.metrics(broken).last)
        XCTAssertEqual(endLine["state"] as? String, "stopped", "\(endLine)")
        let stoppedAt = try XCTUnwrap(endLine["step"] as? Int, "\(endLine)")
        XCTAssertTrue((3..<32).contains(stoppedAt), "stopped at step \(stoppedAt)")
        XCTAssertFalse(stopped.out.contains("final test_acc="), stopped.out)

        let b = try NntopBinary.run(["resnet18", "--headless", "--resume", broken + "/checkpoints/last.safetensors"], timeout: 600)
        XCTAssertEqual(b.status, 0, b.err)

        let expected = try computed(unbroken), got = try computed(broken)
        XCTAssertEqual(expected.keys.filter { $0.hasPrefix("train") }.count, 32)
        XCTAssertEqual(expected.keys.filter { $0.hasPrefix("val") }.count, 2)
        // One failure naming the first line that differs (and how many do), not one per step.
        let differing = Set(expected.keys).union(got.keys).sorted().filter { got[$0] != expected[$0] }
        if let first = differing.first {
            XCTFail("\(differing.count) metrics line(s) differ after stopping at step \(stoppedAt) and resuming; first, \(first): "
                + "resumed \(got[first].map { "\($0)" } ?? "missing"), unbroken \(expected[first].map { "\($0)" } ?? "missing")")
        }
        // The final test accuracy, recounted from each run's logged matrix.
        XCTAssertEqual(try RunFiles.recountedTestAccuracy(broken), try RunFiles.recountedTestAccuracy(unbroken))
        try assertSameTensors(unbroken + "/checkpoints/last.safetensors", broken + "/checkpoints/last.safetensors")
    }

    /// README: "A headless run stops with exit status 3 and a message suggesting a lower --lr.
    /// Diverged weights are never written: no snapshot, no last.safetensors".
    func testHeadlessDivergenceExitsWithStatus3AndWritesNoWeights() throws {
        let run = base + "/diverged"
        let r = try NntopBinary.run(["lenet5", "--headless", "--lr", "1000", "--train-limit", "640", "--val-size", "200",
                                     "--epochs", "1", "--save-every", "1", "--run-dir", run])
        XCTAssertEqual(r.status, 3, r.out + r.err)
        XCTAssertTrue((r.out + r.err).contains("diverged"), r.out + r.err)
        XCTAssertTrue((r.out + r.err).contains("lower --lr"), r.out + r.err)
        XCTAssertFalse(r.out.contains("final test_acc="), r.out)
        XCTAssertFalse(r.err.contains("Fatal error"), r.err)
        let ckpts = (try? FileManager.default.contentsOfDirectory(atPath: run + "/checkpoints")) ?? []
        XCTAssertFalse(ckpts.contains("last.safetensors"), "\(ckpts)")
        // Every step checkpoint that was written holds finite weights (written before the blow-up).
        for f in ckpts where f.hasPrefix("step-") {
            let file = try SafetensorsFile(path: run + "/checkpoints/" + f)
            for name in file.names where !name.hasPrefix("optimizer.") {
                XCTAssertTrue(try file.floats(name).allSatisfy(\.isFinite), "\(f): \(name) is not finite")
            }
        }
        let end = try XCTUnwrap(try RunFiles.metrics(run).last)
        XCTAssertEqual(end["event"] as? String, "end")
        XCTAssertEqual(end["state"] as? String, "diverged")
    }

    /// `nntop bench MODEL` prints training and inference throughput and a per-layer table whose
    /// numbers parse and are positive, and whose total row is the sum of the layers (no speed is
    /// asserted: this machine is shared).
    func testBenchPrintsThroughputAndPerLayerTimes() throws {
        let r = try NntopBinary.run(["bench", "lenet5", "--steps", "6", "--threads", "2", "--no-peak"])
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n").map(String.init)
        func number(_ pattern: String) throws -> Double {
            let line = try XCTUnwrap(lines.first { $0.range(of: pattern, options: .regularExpression) != nil }, "no \(pattern):\n\(r.out)")
            let m = try XCTUnwrap(line.range(of: #"[0-9]+(\.[0-9]+)?"#, options: .regularExpression,
                                             range: line.range(of: pattern, options: .regularExpression)))
            return try XCTUnwrap(Double(line[m]))
        }
        XCTAssertGreaterThan(try number(#"^nntop lenet5 train [0-9.]+ samples/s$"#), 0)
        XCTAssertGreaterThan(try number(#"^nntop lenet5 infer [0-9.]+ samples/s$"#), 0)
        XCTAssertGreaterThan(try number(#"^step [0-9.]+ ms"#), 0)
        // The layer table: LeNet-5's five weighted layers among its rows, three positive times each.
        let rows = lines.compactMap { line -> (String, [Double])? in
            let parts = line.split(separator: " ")
            guard parts.count == 4, parts[1...].allSatisfy({ Double($0) != nil }) else { return nil }
            return (String(parts[0]), parts[1...].map { Double($0)! })
        }
        let names = rows.map(\.0)
        for layer in ["conv1", "conv2", "fc1", "fc2", "fc3", "total"] { XCTAssertTrue(names.contains(layer), "no \(layer) row:\n\(r.out)") }
        let layers = rows.filter { $0.0 != "total" }, total = try XCTUnwrap(rows.last { $0.0 == "total" })
        for (name, t) in layers where ["conv1", "conv2", "fc1", "fc2", "fc3"].contains(name) {
            XCTAssertTrue(t.allSatisfy { $0 > 0 }, "\(name): \(t)")
        }
        for col in 0..<3 {
            // Each printed to 3 decimals: the sum of the rounded rows is within half a unit each.
            XCTAssertEqual(layers.map { $0.1[col] }.reduce(0, +), total.1[col], accuracy: 0.0005 * Double(layers.count + 1), "column \(col)")
            XCTAssertGreaterThan(total.1[col], 0)
        }
    }
}
