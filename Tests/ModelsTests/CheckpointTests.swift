import Foundation
import XCTest
@testable import Kernels
@testable import Models

/// Checkpoints: round trip, a stopped-and-resumed run equal to an uninterrupted one, and every kind
/// of broken file refused with a clear message before anything is changed.
final class CheckpointTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "nntop-ckpt-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func stateValues(_ net: Network) -> [[Float]] { net.state.map(\.tensor.array) }

    func testRoundTripRestoresEveryTensorAndTheOptimizer() throws {
        let a = try XCTUnwrap(ModelZoo.make("resnet18", seed: 1)), b = try XCTUnwrap(ModelZoo.make("resnet18", seed: 2))
        for case let bn as BatchNorm2d in ModelZoo.allLayers(a) { bn.runningMean.fill(0.25); bn.batchesTracked[0] = 7 }
        a.residual = false
        let optA = Optimizer(.adam, parameters: a.parameters, lr: 0.1)
        for p in a.parameters { p.grad.fill(0.5) }
        optA.step()
        let path = dir + "/a.safetensors"
        try Checkpoint.save(a, optimizer: optA, metadata: ["step": "1"], to: path)
        XCTAssertNotEqual(stateValues(a), stateValues(b))
        let optB = Optimizer(.adam, parameters: b.parameters, lr: 0.1)
        let meta = try Checkpoint.load(path, into: b, optimizer: optB)
        XCTAssertEqual(stateValues(a), stateValues(b))
        XCTAssertEqual(b.residual, false)
        XCTAssertEqual(meta["model"], "resnet18")
        XCTAssertEqual(optB.buffers.map { $0.map(\.array) }, optA.buffers.map { $0.map(\.array) })
        XCTAssertEqual(optB.steps, optA.steps)
        // The counter is stored as int64, as PyTorch's state_dict has it.
        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(file.entries["bn1.num_batches_tracked"]?.dtype, .i64)
        XCTAssertEqual(try file.int64s("layer1.0.bn1.num_batches_tracked"), [7])
        XCTAssertEqual(file.entries["optimizer.fc.weight.exp_avg_sq"]?.shape, [10, 512])
    }

    func testResumedRunEqualsUninterruptedRun() throws {
        let mnist = try MNIST.load(directory: try XCTUnwrap(MNIST.defaultDirectory()))
        let data = try DataSplits(train: mnist.train, test: mnist.test, validationSize: 128, trainLimit: 1024)
        for optimizer in ["momentum", "adam"] {
            var c = TrainConfig.defaults(for: "lenet5")
            c.epochs = 2; c.batchSize = 32; c.seed = 9; c.logEvery = 1; c.threads = 2; c.optimizer = optimizer
            if optimizer == "adam" { c.lr = 0.001 }
            let whole = try Trainer(config: c, data: data)
            whole.start(); whole.wait()
            let all = whole.latest().trainLoss.map(\.value)
            XCTAssertEqual(all.count, 64)

            // Stop after step 40 (mid-epoch 2): the trainer writes last.safetensors at the boundary.
            let first = try Trainer(config: c, data: data)
            first.checkpointDirectory = dir + "/\(optimizer)"
            first.onEvent = { if case .progress(let s) = $0, s.step == 40 { first.send(.stop) } }
            first.start(); first.wait()
            XCTAssertEqual(first.latest().state, .stopped)
            XCTAssertEqual(first.latest().trainLoss.map(\.value), Array(all.prefix(40)))

            let second = try Trainer(config: c, data: data)
            try second.resume(from: dir + "/\(optimizer)/last.safetensors")
            second.start(); second.wait()
            XCTAssertEqual(second.latest().step, 64)
            XCTAssertEqual(second.latest().trainLoss.map(\.value), Array(all.suffix(24)), optimizer)
            XCTAssertEqual(second.latest().finalTest?.accuracy, whole.latest().finalTest?.accuracy)
        }
    }

    func testBestAndLastCheckpointsAreWritten() throws {
        let mnist = try MNIST.load(directory: try XCTUnwrap(MNIST.defaultDirectory()))
        let data = try DataSplits(train: mnist.train, test: mnist.test, validationSize: 128, trainLimit: 512)
        var c = TrainConfig.defaults(for: "lenet5")
        c.epochs = 2; c.batchSize = 64; c.threads = 2; c.saveEvery = 5
        let t = try Trainer(config: c, data: data)
        t.checkpointDirectory = dir
        t.start(); t.wait()
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: dir))
        XCTAssertEqual(files, ["best.safetensors", "last.safetensors", "step-000005.safetensors",
                               "step-000010.safetensors", "step-000015.safetensors"])
        let best = try SafetensorsFile(path: dir + "/best.safetensors")
        // The accuracy it records is the best the run logged (BestCheckpointTests checks its weights).
        let logged = try XCTUnwrap(t.latest().validationAccuracy.map(\.value).max())
        XCTAssertEqual(Double(try XCTUnwrap(best.metadata["best_val_acc"])), logged)
    }

    // MARK: broken files

    /// A valid LeNet-5 checkpoint's bytes, to break in different ways.
    func lenetBytes() throws -> Data {
        var w = SafetensorsWriter()
        let net = try XCTUnwrap(ModelZoo.make("lenet5"))
        for e in net.state { w.add(e.name, shape: e.tensor.shape, floats: UnsafeBufferPointer(start: e.tensor.data, count: e.tensor.count)) }
        return try w.serialized()
    }

    /// Rebuilds a file from a header dictionary and a data blob.
    func file(header: [String: Any], data: Data) throws -> Data {
        var json = try JSONSerialization.data(withJSONObject: header)
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        return out + json + data
    }

    func headerAndData(_ bytes: Data) throws -> ([String: Any], Data) {
        let n = Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = try XCTUnwrap(JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<8 + n)) as? [String: Any])
        return (header, bytes.subdata(in: 8 + n..<bytes.count))
    }

    func assertRefused(_ bytes: Data, into model: String = "lenet5", containing words: [String],
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let path = dir + "/broken.safetensors"
        try bytes.write(to: URL(fileURLWithPath: path))
        let net = try XCTUnwrap(ModelZoo.make(model, seed: 4))
        let before = stateValues(net)
        XCTAssertThrowsError(try Checkpoint.load(path, into: net), file: file, line: line) { e in
            for w in words + [path] { XCTAssertTrue("\(e)".contains(w), "'\(e)' lacks '\(w)'", file: file, line: line) }
        }
        XCTAssertEqual(stateValues(net), before, "a refused checkpoint changed the model", file: file, line: line)
    }

    func testBrokenCheckpointsAreRefusedClearlyAndChangeNothing() throws {
        let good = try lenetBytes()
        let (header, data) = try headerAndData(good)

        try assertRefused(Data("hello".utf8), containing: ["not a safetensors file"])
        try assertRefused(Data([0xff, 0xff, 0, 0, 0, 0, 0, 0]) + Data(repeating: 0x20, count: 64), containing: ["header length"])
        try assertRefused(try file(header: [:], data: Data()).prefix(8) + Data("{not json}      ".utf8), containing: ["not a JSON"])
        try assertRefused(good.prefix(good.count - 100), containing: ["outside", "truncated"])

        var h = header
        var e = try XCTUnwrap(h["fc3.bias"] as? [String: Any]); e["dtype"] = "Q7"; h["fc3.bias"] = e
        try assertRefused(try file(header: h, data: data), containing: ["fc3.bias", "dtype Q7"])

        h = header; e = try XCTUnwrap(h["fc3.bias"] as? [String: Any]); e["shape"] = [11]; h["fc3.bias"] = e
        try assertRefused(try file(header: h, data: data), containing: ["fc3.bias", "[11]", "needs 44 bytes"])

        h = header; e = try XCTUnwrap(h["fc3.bias"] as? [String: Any])
        let weight = try XCTUnwrap(h["fc3.weight"] as? [String: Any])
        e["data_offsets"] = weight["data_offsets"].map { ($0 as! [Int]).map { $0 } }.map { [$0[0], $0[0] + 40] }
        h["fc3.bias"] = e
        try assertRefused(try file(header: h, data: data), containing: ["overlap"])

        h = header; h.removeValue(forKey: "conv2.weight")
        try assertRefused(try file(header: h, data: data), containing: ["conv2.weight", "missing"])

        h = header; h["extra.weight"] = ["dtype": "F32", "shape": [0], "data_offsets": [0, 0]]
        try assertRefused(try file(header: h, data: data), containing: ["unexpected tensor extra.weight"])

        // A LeNet-5 checkpoint into ResNet-18: another model.
        try assertRefused(good, into: "resnet18", containing: ["missing", "another model"])
        h = header; h["__metadata__"] = ["model": "lenet5"]
        try assertRefused(try file(header: h, data: data), into: "resnet18", containing: ["a checkpoint of lenet5, not resnet18"])

        // Same names, another shape.
        h = header; e = try XCTUnwrap(h["fc3.bias"] as? [String: Any])
        let off = try XCTUnwrap(e["data_offsets"] as? [Int])
        e["shape"] = [5, 2]; e["data_offsets"] = off; h["fc3.bias"] = e
        try assertRefused(try file(header: h, data: data), containing: ["fc3.bias", "[5, 2]", "[10]"])
    }
}
