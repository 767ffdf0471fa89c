import Foundation
import XCTest
@testable import Kernels
@testable import Models

/// AlexNet, VGG-11-bn and GoogLeNet against PyTorch's reference modules, fixtures written by
/// scripts/make_zoo2_fixtures.py (AlexNet) and scripts/make_zoo2_channel_fixtures.py (VGG-11-bn, GoogLeNet):
/// the weight formula of the LeNet-5/ResNet-18 fixtures (plus the tuned batch-norm weights and biases each
/// mode stores as `<mode>.weights.<name>`), one batch (4 images; GoogLeNet 32), then logits, loss, every
/// parameter gradient (its first 64 values, norm and two projections) and the batch norms' running
/// statistics must agree at 1e-4 relative error, in train and eval mode. Train mode's dropout draws
/// nntop's masks on both sides (the script drives PyTorch with nntop's formula at the seed and step in
/// its metadata). Cases are tuned so every ReLU input is >= 1e-4 from its kink and every max-pool
/// top-two gap >= 2e-5 (relative to the tensor's RMS; at least 10x PyTorch float32's error there, or,
/// where the fixture records `margin_over_float32_error`, at least 10x its error on each tensor).
final class ZooReferenceTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// The formula's values (make_fixtures.py) for every state entry, then the mode's tuned overrides.
    func fill(_ net: Network, _ f: SafetensorsFile, mode: String) throws {
        let bn = Set(net.leaves.compactMap { $0 as? BatchNorm2d }.flatMap { [$0.weight.name, $0.bias.name] })
        for (k, e) in net.state.enumerated() where !e.isCounter {
            let t = e.tensor, fanIn = Float(Double(t.count / t.shape[0]).squareRoot())
            var values = [Float](repeating: 0, count: t.count)
            let kind = e.name.hasSuffix("running_mean") ? 0 : e.name.hasSuffix("running_var") ? 1
                : bn.contains(e.name) ? (e.name.hasSuffix(".weight") ? 2 : 3) : (e.name.hasSuffix(".weight") ? 4 : 3)
            values.withUnsafeMutableBufferPointer { v in
                for i in 0..<v.count {
                    let b = TorchReferenceTests.hashedUniform(i, k)
                    switch kind {
                    case 0, 3: v[i] = 0.1 * b
                    case 1: v[i] = 1 + (0.5 * b) * b
                    case 2: v[i] = 1 + 0.2 * b
                    default: v[i] = b / fanIn
                    }
                }
            }
            e.layout.setTorchOrder(values, into: t)
        }
        let listed = (f.metadata["\(mode).overrides"] ?? "").split(separator: ",").map(String.init)
        let prefix = "\(mode).weights."
        let stored = f.names.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
        XCTAssertEqual(Set(listed), Set(stored))
        XCTAssertFalse(stored.isEmpty, "tuned biases")
        for name in stored {
            let e = try XCTUnwrap(net.state.first { $0.name == name }, "\(name) is not in the model's state")
            e.layout.setTorchOrder(try f.floats(prefix + name), into: e.tensor)
        }
    }

    func check(_ model: String) throws {
        let f = try SafetensorsFile(path: Self.fixtures.appendingPathComponent("zoo2_\(model).safetensors").path)
        let shape = try XCTUnwrap(f.metadata["input_shape"]).split(separator: ",").map { Int($0)! }
        let seed = try XCTUnwrap(f.metadata["dropout_seed"].flatMap { UInt64($0) })
        let step = try XCTUnwrap(f.metadata["dropout_step"].flatMap { Int($0) })
        for mode in ["train", "eval"] {
            // Relative to each tensor's RMS (make_zoo2_fixtures.py): ReLU inputs 1e-4 from 0, max-pool top
            // twos 2e-5 apart, both at least 10x PyTorch float32's own error there.
            let m = { (key: String) in f.metadata["\(mode).\(key)"].flatMap(Double.init) ?? -1 }
            XCTAssertGreaterThanOrEqual(m("margin_relu"), 1e-4, "\(mode) ReLU margin")
            XCTAssertGreaterThanOrEqual(m("margin_maxpool"), 2e-5, "\(mode) max-pool margin")
            if f.metadata["\(mode).margin_over_float32_error"] != nil {
                XCTAssertGreaterThanOrEqual(m("margin_over_float32_error"), 10, "\(mode) each tensor's margin over float32's error")
            } else {
                XCTAssertGreaterThanOrEqual(m("margin"), 10 * m("float32_error_relu"), "\(mode) margin over float32's error")
            }
        }
        let labels = try f.int64s("labels").map { Int32($0) }
        let x: Tensor
        if f.entries["input"] != nil {
            x = Tensor(shape: [labels.count] + shape, values: try f.floats("input"))
        } else {
            // make_zoo2_channel_fixtures.py's formula input: f32(hashed_uniform(i, k)) * f32(sqrt 3).
            let k = try XCTUnwrap(f.metadata["input_hash_k"].flatMap { Int($0) }, "an input tensor or its formula")
            let n = labels.count * shape.reduce(1, *)
            x = Tensor(shape: [labels.count] + shape, values: (0..<n).map { TorchReferenceTests.hashedUniform($0, k) * Float(1.7320508) })
        }
        for mode in ["train", "eval"] {
            let net = try XCTUnwrap(ModelZoo.make(model, inChannels: shape[0], classes: 10, seed: seed))
            XCTAssertEqual(net.state.map(\.name).joined(separator: ","), f.metadata["state_names"], "state_dict names and order")
            XCTAssertEqual(net.parameters.map(\.name).joined(separator: ","), f.metadata["param_names"])
            try fill(net, f, mode: mode)
            net.step = step
            if mode == "eval" {
                // Inference with the layers' outputs in the arena (ActivationArena): the same logits.
                XCTAssertLessThan(relativeError(net.predict(x).array, try f.floats("eval.logits")), 1e-4, "\(model) predict's logits")
            }
            let logits = net.forward(x, training: mode == "train")
            let d = Tensor(shape: logits.shape), probs = Tensor(shape: logits.shape)
            let ce = labels.withUnsafeBufferPointer {
                softmaxCrossEntropy(logits: logits.data, labels: $0.baseAddress!, batch: labels.count, classes: 10,
                                    probs: probs.data, dLogits: d.data)
            }
            XCTAssertLessThan(relativeError(logits.array, try f.floats("\(mode).logits")), 1e-4, "\(model) \(mode) logits")
            let loss = Double(try f.floats("\(mode).loss")[0])
            XCTAssertEqual(Double(ce.loss), loss, accuracy: 1e-4 * abs(loss), "\(model) \(mode) loss")
            net.backward(d)
            let scale = try net.parameters.map { try f.doubles("\(mode).grad.\($0.name).stats")[2] }.max()!
            // PyTorch float32's own relative error on each gradient (parameter order), where the fixture
            // records it: as checkZoo does for ResNet-50's train mode, a gradient PyTorch's float32 misses
            // by 2.5e-5 or more is only checked finite, and the fixture says how many (loose_gradients): GoogLeNet's
            // 4 of 173 in train mode (inception5's 1×1 maps, up to 3.4e-5) and fc.weight in eval mode (6.4e-5).
            let float32Errors = f.entries["\(mode).float32_error"] != nil ? try f.doubles("\(mode).float32_error") : []
            if !float32Errors.isEmpty { XCTAssertEqual(float32Errors.count, net.parameters.count) }
            var checked = 0, loose = 0
            for (i, p) in net.parameters.enumerated() {
                let g = p.layout.torchOrder(p.grad), want = try f.doubles("\(mode).grad.\(p.name).stats")
                let head = try f.floats("\(mode).grad.\(p.name).head")
                let got = projections(g)
                // A conv bias before a train-mode batch norm has a true gradient of 0: ours must be noise.
                if mode == "train" && want[2] < 1e-7 * scale { XCTAssertLessThan(got[2], 1e-5 * scale, p.name); continue }
                if float32Errors.indices.contains(i) && float32Errors[i] >= 2.5e-5 {
                    XCTAssertTrue(g.allSatisfy(\.isFinite), p.name); loose += 1; continue
                }
                XCTAssertEqual(got[2], want[2], accuracy: 1e-4 * want[2], "\(model) \(mode) \(p.name) norm")
                XCTAssertEqual(got[0], want[0], accuracy: 1e-4 * want[2], "\(model) \(mode) \(p.name) projection 1")
                XCTAssertEqual(got[1], want[1], accuracy: 1e-4 * want[2], "\(model) \(mode) \(p.name) projection 2")
                XCTAssertLessThan(relativeError(Array(g.prefix(head.count)), head), 1e-4, "\(model) \(mode) \(p.name) head")
                checked += 1
            }
            XCTAssertEqual(String(loose), f.metadata["\(mode).loose_gradients"] ?? "0", "\(model) \(mode) gradients PyTorch's float32 misses")
            XCTAssertLessThanOrEqual(loose, 5, "only a few gradients may be checked for finiteness only")
            print("\(model) \(mode): \(checked) of \(net.parameters.count) parameter gradients checked at 1e-4, \(loose) only finite "
                  + "(PyTorch's own float32 misses them by >= 2.5e-5) (margin \(f.metadata["\(mode).margin"] ?? "?"))")
            if mode == "train" {
                for case let bn as BatchNorm2d in net.leaves {
                    XCTAssertLessThan(relativeError(bn.runningMean.array, try f.floats("train.after.\(bn.name).running_mean")), 1e-4, bn.name)
                    XCTAssertLessThan(relativeError(bn.runningVar.array, try f.floats("train.after.\(bn.name).running_var")), 1e-4, bn.name)
                }
            }
        }
    }

    func testAlexNetMatchesPyTorch() throws { try check("alexnet") }
    func testVGG11BNMatchesPyTorch() throws { try check("vgg11-bn") }
    func testGoogLeNetMatchesPyTorch() throws { try check("googlenet") }

    /// Parameters and MACs of every model of this part against PyTorch's (counted with forward hooks by
    /// make_zoo2_fixtures.py into zoo2_counts.json): at 3×224×224 with 1000 classes, and at the fixtures' shapes.
    func testParametersAndMACsMatchPyTorch() throws {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("zoo2_counts.json"))
        let table = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: [[String: Any]]])
        XCTAssertEqual(table.count, 10)
        for (model, rows) in table.sorted(by: { $0.key < $1.key }) {
            for row in rows {
                let input = try XCTUnwrap(row["input"] as? [Int]), classes = try XCTUnwrap(row["classes"] as? Int)
                // Built without initialisation: the summary reads the layer tree only.
                let net = try XCTUnwrap(ModelZoo.spec(model)?.build(input[0], classes, true), model)
                let s = ModelSummary(net, inputShape: input)
                XCTAssertEqual(s.totalParameters, row["parameters"] as? Int, "\(model) \(input) parameters")
                XCTAssertEqual(s.totalMACs, row["macs"] as? Int, "\(model) \(input) MACs")
            }
        }
    }
}
