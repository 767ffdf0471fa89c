import Foundation
import XCTest
@testable import Kernels
@testable import Models

/// LeNet-5, ResNet-18, ResNet-20 (CIFAR) and ResNet-50 against PyTorch's reference modules (../shared/reference/torch_models.py):
/// the same weights (from the formula scripts/make_fixtures.py documents, plus the batch-norm biases a
/// ResNet fixture stores as `weights.<name>`), the same batch, then logits, loss and every parameter
/// gradient must agree to 1e-4 relative error. The expected values were computed in float64, so this
/// measures our float32 error against the exact answer. The ResNet cases were tuned so that every ReLU
/// input and every max-pool window's top-two gap stays a margin (metadata `margin`, at least 1e-4 and
/// 10x PyTorch's own float32 error there) away from its kink: float32 rounding cannot flip a mask, and
/// the gradients are smooth functions of our rounding errors.
final class TorchReferenceTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    func fixture(_ name: String) throws -> SafetensorsFile {
        try SafetensorsFile(path: Self.fixtures.appendingPathComponent(name + ".safetensors").path)
    }

    /// b in [-1, 1) from an integer hash of (flat index, state_dict position), as make_fixtures.py.
    static func hashedUniform(_ i: Int, _ k: Int) -> Float {
        let mask: UInt64 = 0xFFFF_FFFF
        var h = (UInt64(i) &* 2_654_435_761 &+ UInt64(k) &* 2_246_822_519) & mask
        h ^= h >> 15
        h = (h &* 2_246_822_519) & mask
        h ^= h >> 13
        return Float(Double(h) / 2_147_483_648.0 - 1.0)
    }

    /// Fills the model's state with the deterministic formula both sides compute, then replaces the
    /// tensors the fixture stores as `weights.<name>` (listed in its `overrides` metadata).
    func fillFormula(_ net: Network, overrides f: SafetensorsFile? = nil) throws {
        let bnParams = Set(ModelZoo.allLayers(net).compactMap { $0 as? BatchNorm2d }.flatMap { [$0.weight.name, $0.bias.name] })
        for (k, e) in net.state.enumerated() where !e.isCounter {
            let t = e.tensor
            let fanIn = Float(Double(t.count / t.shape[0]).squareRoot())
            var values = [Float](repeating: 0, count: t.count)   // in PyTorch's order
            for i in 0..<t.count {
                let b = Self.hashedUniform(i, k)
                let v: Float
                if e.name.hasSuffix("running_mean") { v = 0.1 * b }
                else if e.name.hasSuffix("running_var") { v = 1 + (0.5 * b) * b }
                else if bnParams.contains(e.name) { v = e.name.hasSuffix(".weight") ? 1 + 0.2 * b : 0.1 * b }
                else { v = e.name.hasSuffix(".weight") ? b / fanIn : 0.1 * b }
                values[i] = v
            }
            e.layout.setTorchOrder(values, into: t)
        }
        guard let f else { return }
        let listed = (f.metadata["overrides"] ?? "").split(separator: ",").map(String.init)
        let stored = f.names.filter { $0.hasPrefix("weights.") }.map { String($0.dropFirst("weights.".count)) }
        XCTAssertEqual(Set(listed), Set(stored), "overrides metadata lists the weights.* tensors")
        for name in stored {
            let e = try XCTUnwrap(net.state.first { $0.name == name }, "\(name) is not in the model's state")
            let v = try f.floats("weights." + name)
            XCTAssertEqual(v.count, e.tensor.count, name)
            e.layout.setTorchOrder(v, into: e.tensor)
        }
    }

    /// Runs one fixture case: forward, loss, backward; returns the network for gradient checks.
    func run(_ f: SafetensorsFile, model: String) throws -> (Network, logits: [Float], loss: Float) {
        // make_zoo_fixtures.py keeps a model's input batch in one file its four cases name.
        let source = try f.metadata["input_file"].map(fixture) ?? f
        let inputShape = try XCTUnwrap(source.entries["input"]).shape
        let net = try XCTUnwrap(ModelZoo.make(model, inChannels: inputShape[1]))
        XCTAssertEqual(net.state.map(\.name).joined(separator: ","), f.metadata["state_names"], "state_dict names and order")
        XCTAssertEqual(net.parameters.map(\.name).joined(separator: ","), f.metadata["param_names"])
        try fillFormula(net, overrides: f)
        if let r = net.residual { net.residual = f.metadata["residual"] == "1"; XCTAssertNotEqual(r, net.residual == nil) }
        let training = f.metadata["mode"] == "train"
        let input = try source.floats("input"), labels = try source.int64s("labels").map { Int32($0) }
        let x = Tensor(shape: inputShape, values: input)
        if !training {
            // Inference with the layers' outputs in the arena (ActivationArena): the same logits.
            XCTAssertLessThan(relativeError(net.predict(x).array, try f.floats("logits")), 1e-4, "predict's logits")
        }
        let logits = net.forward(x, training: training)
        let d = Tensor(shape: logits.shape), probs = Tensor(shape: logits.shape)
        let ce = labels.withUnsafeBufferPointer {
            softmaxCrossEntropy(logits: logits.data, labels: $0.baseAddress!, batch: labels.count, classes: 10,
                                probs: probs.data, dLogits: d.data)
        }
        net.backward(d)
        XCTAssertLessThan(relativeError(logits.array, try f.floats("logits")), 1e-4, "logits")
        XCTAssertEqual(Double(ce.loss), Double(try f.floats("loss")[0]), accuracy: 1e-4 * Double(abs(ce.loss)))
        return (net, logits.array, ce.loss)
    }

    func testLeNet5MatchesPyTorch() throws {
        let f = try fixture("lenet5")
        let (net, _, _) = try run(f, model: "lenet5")
        XCTAssertEqual(net.parameterCount, 61_706)
        for p in net.parameters {
            XCTAssertLessThan(relativeError(p.layout.torchOrder(p.grad), try f.floats("grad." + p.name)), 1e-4, p.name)
        }
    }

    func checkResNet(_ name: String, model: String = "resnet18", parameters: Int = 11_175_434) throws {
        let f = try fixture(name)
        XCTAssertEqual(f.metadata["model"], model)
        let (net, _, _) = try run(f, model: model)
        XCTAssertEqual(net.parameterCount, parameters)
        let scale = try net.parameters.map { try f.doubles("grad.\($0.name).stats")[2] }.max()!
        do {
            let margin = try XCTUnwrap(f.metadata["margin"].flatMap(Double.init), "fixture records its kink margin")
            XCTAssertGreaterThanOrEqual(margin, 1e-4, "fixture tuned away from ReLU / max-pool kinks")
        }
        var checked = 0
        for p in net.parameters {
            let g = p.layout.torchOrder(p.grad)
            let head = try f.floats("grad.\(p.name).head")
            let stats = try f.doubles("grad.\(p.name).stats")
            let got = projections(g), (s0, s1, norm) = (got[0], got[1], got[2])
            // Unused shortcut projections (residual off) have no gradient in PyTorch: zeros in the fixture.
            if stats[2] == 0 { XCTAssertEqual(norm, 0, "\(p.name) should get no gradient"); continue }
            // The stem's bias feeds a train-mode batch norm, which cancels it: its true gradient is 0, and
            // ours must be rounding noise relative to the largest gradient.
            // (Only there: in eval mode every gradient, however small, is checked at 1e-4.)
            if f.metadata["mode"] == "train" && stats[2] < 1e-7 * scale {
                XCTAssertLessThan(norm, 1e-5 * scale, "\(p.name) should be ~0"); continue
            }
            XCTAssertEqual(norm, stats[2], accuracy: 1e-4 * stats[2], "\(name) \(p.name) norm")
            XCTAssertEqual(s0, stats[0], accuracy: 1e-4 * stats[2], "\(name) \(p.name) projection 1")
            XCTAssertEqual(s1, stats[1], accuracy: 1e-4 * stats[2], "\(name) \(p.name) projection 2")
            XCTAssertLessThan(relativeError(Array(g.prefix(head.count)), head), 1e-4, "\(name) \(p.name) head")
            checked += 1
        }
        print("\(name): \(checked) of \(net.parameters.count) parameter gradients checked at 1e-4 (margin \(f.metadata["margin"] ?? "?"))")
        if f.metadata["mode"] == "train" {
            for case let bn as BatchNorm2d in ModelZoo.allLayers(net) {
                guard f.entries["after.\(bn.name).running_mean"] != nil else {
                    XCTFail("fixture lacks running stats of \(bn.name)"); continue
                }
                XCTAssertLessThan(relativeError(bn.runningMean.array, try f.floats("after.\(bn.name).running_mean")), 1e-4, bn.name)
                XCTAssertLessThan(relativeError(bn.runningVar.array, try f.floats("after.\(bn.name).running_var")), 1e-4, bn.name)
            }
        }
    }

    /// A make_zoo_fixtures.py case: gradients packed as rows of grad_heads / grad_stats in parameter order,
    /// each checked at 1e-4 (logits, loss and running statistics too). Except some of ResNet-50's gradients
    /// in train mode: batch norm over 8 images on 1×1 and 2×2 maps makes its bottlenecks ill-conditioned
    /// (make_zoo_fixtures.py, RELU_OFFSET), so a parameter whose gradient PyTorch's own float32 misses by
    /// 2.5e-5 or more (float32_error, some by 1e8) is only checked finite; the rest (81 of 161 with the
    /// shortcuts, 8 without) at 1e-4. (The "1e-4 to 1e-1 from one process to the next" once seen here was
    /// a race in convBackwardData, ConvPathsTests.testSmallMapDataGradientIsTheSameOnEveryThread.) The
    /// bottleneck's train-mode backward is checked by finite differences (GradientCheckTests) and
    /// ResNet-50's whole backward by the eval cases.
    func checkZoo(_ name: String, model: String, parameters: Int) throws {
        let f = try fixture(name)
        XCTAssertEqual(f.metadata["model"], model)
        let (net, _, _) = try run(f, model: model)
        XCTAssertEqual(net.parameterCount, parameters)
        let margin = try XCTUnwrap(f.metadata["margin"].flatMap(Double.init), "fixture records its kink margin")
        XCTAssertGreaterThanOrEqual(margin, 1e-4, "fixture tuned away from ReLU / max-pool kinks")
        let width = try XCTUnwrap(f.metadata["head"].flatMap(Int.init))
        let heads = try f.floats("grad_heads"), stats = try f.doubles("grad_stats"), errors = try f.doubles("float32_error")
        XCTAssertEqual(errors.count, net.parameters.count)
        let scale = stride(from: 2, to: stats.count, by: 3).map { stats[$0] }.max()!
        let chaotic = model == "resnet50" && f.metadata["mode"] == "train"
        if !chaotic { XCTAssertTrue(errors.allSatisfy { $0 < 2.5e-5 }, "a well-conditioned case by PyTorch's own float32") }
        var strict = 0, loose = 0
        for (i, p) in net.parameters.enumerated() {
            let g = p.layout.torchOrder(p.grad)
            let st = Array(stats[(3 * i)..<(3 * i + 3)])
            let got = projections(g), (s0, s1, norm) = (got[0], got[1], got[2])
            if st[2] == 0 { XCTAssertEqual(norm, 0, "\(p.name) should get no gradient"); continue }
            if f.metadata["mode"] == "train" && st[2] < 1e-7 * scale {
                XCTAssertLessThan(norm, 1e-5 * scale, "\(p.name) should be ~0"); continue
            }
            if chaotic && errors[i] >= 2.5e-5 { XCTAssertTrue(g.allSatisfy(\.isFinite), p.name); loose += 1; continue }
            let tol = 1e-4
            XCTAssertEqual(norm, st[2], accuracy: tol * st[2], "\(name) \(p.name) norm")
            XCTAssertEqual(s0, st[0], accuracy: tol * st[2], "\(name) \(p.name) projection 1")
            XCTAssertEqual(s1, st[1], accuracy: tol * st[2], "\(name) \(p.name) projection 2")
            let n = min(width, g.count)
            XCTAssertLessThan(relativeError(Array(g.prefix(n)), Array(heads[(width * i)..<(width * i + n)])), tol, "\(name) \(p.name) head")
            if tol == 1e-4 { strict += 1 } else { loose += 1 }
        }
        print("\(name): \(strict) of \(net.parameters.count) parameter gradients checked at 1e-4, \(loose) only for finiteness (chaotic) (margin \(margin))")
        if f.metadata["mode"] == "train" {
            let bns = net.leaves.compactMap { $0 as? BatchNorm2d }
            XCTAssertEqual(bns.map(\.name).joined(separator: ","), f.metadata["bn_names"])
            let after = try f.doubles("after_stats")
            XCTAssertEqual(after.count, bns.count * 6)
            for (k, t) in bns.flatMap({ [$0.runningMean, $0.runningVar] }).enumerated() {
                let got = projections(t.array), (s0, s1, norm) = (got[0], got[1], got[2])
                XCTAssertEqual(norm, after[3 * k + 2], accuracy: 1e-4 * after[3 * k + 2], "\(bns[k / 2].name) running stats")
                XCTAssertEqual(s0, after[3 * k], accuracy: 1e-4 * after[3 * k + 2], "\(bns[k / 2].name) running stats")
                XCTAssertEqual(s1, after[3 * k + 1], accuracy: 1e-4 * after[3 * k + 2], "\(bns[k / 2].name) running stats")
            }
        }
    }

    // The CIFAR ResNet (batch 4) and ResNet-50 (bottlenecks, a 3-channel stem without bias; batch 8) at 3×32×32.
    func testResNet20CifarResidualTrainModeMatchesPyTorch() throws { try checkZoo("resnet20-cifar_res_train", model: "resnet20-cifar", parameters: 272_474) }
    func testResNet20CifarPlainTrainModeMatchesPyTorch() throws { try checkZoo("resnet20-cifar_nores_train", model: "resnet20-cifar", parameters: 272_474) }
    func testResNet20CifarResidualEvalModeMatchesPyTorch() throws { try checkZoo("resnet20-cifar_res_eval", model: "resnet20-cifar", parameters: 272_474) }
    func testResNet20CifarPlainEvalModeMatchesPyTorch() throws { try checkZoo("resnet20-cifar_nores_eval", model: "resnet20-cifar", parameters: 272_474) }
    func testResNet50ResidualTrainModeMatchesPyTorch() throws { try checkZoo("resnet50_res_train", model: "resnet50", parameters: 23_528_522) }
    func testResNet50PlainTrainModeMatchesPyTorch() throws { try checkZoo("resnet50_nores_train", model: "resnet50", parameters: 23_528_522) }
    func testResNet50ResidualEvalModeMatchesPyTorch() throws { try checkZoo("resnet50_res_eval", model: "resnet50", parameters: 23_528_522) }
    func testResNet50PlainEvalModeMatchesPyTorch() throws { try checkZoo("resnet50_nores_eval", model: "resnet50", parameters: 23_528_522) }

    func testResNet18ResidualTrainModeMatchesPyTorch() throws { try checkResNet("resnet18_res_train") }
    func testResNet18PlainTrainModeMatchesPyTorch() throws { try checkResNet("resnet18_nores_train") }
    func testResNet18ResidualEvalModeMatchesPyTorch() throws { try checkResNet("resnet18_res_eval") }
    func testResNet18PlainEvalModeMatchesPyTorch() throws { try checkResNet("resnet18_nores_eval") }
}

extension TorchReferenceTests {
    /// The gradient-flow figures' ‖∇W‖ per layer against PyTorch's `p.grad.norm()` (the fixture's
    /// `grad.<name>.stats`[2]), the layer's parameters together: √Σ‖∇p‖², plain and residual.
    func checkGradientFlow(_ name: String) throws {
        let f = try fixture(name)
        let (net, _, _) = try run(f, model: "resnet18")
        let opt = Optimizer(.momentum, parameters: net.parameters, lr: 0.01, momentum: 0.9)
        opt.measure = true
        opt.step()
        let flow = GradientGroups(net).figures(opt.measured, inUse: opt.parameters.map(\.inUse), step: 1)
        var torch: [String: Double] = [:]
        for p in net.parameters where p.inUse {
            let layer = p.name.split(separator: ".").dropLast().joined(separator: ".")
            torch[layer, default: 0] += pow(try f.doubles("grad.\(p.name).stats")[2], 2)
        }
        XCTAssertEqual(flow.layers.filter(\.inUse).count, torch.count)
        for l in flow.layers where l.inUse {
            let expected = try XCTUnwrap(torch[l.name], l.name).squareRoot()
            XCTAssertEqual(l.gradNorm, expected, accuracy: 1e-4 * expected, "\(name) \(l.name) ‖∇W‖ vs PyTorch")
        }
    }

    func testGradientFlowNormsMatchPyTorchResidual() throws { try checkGradientFlow("resnet18_res_train") }
    func testGradientFlowNormsMatchPyTorchPlain() throws { try checkGradientFlow("resnet18_nores_train") }
}
