import Foundation
import XCTest
@testable import Kernels
@testable import Models

/// The gradient-flow figures (GradientFlow.swift, Optimizer.measure) against a direct computation in
/// Double from the tensors themselves: gradients as the backward pass left them, weights copied before
/// the step, and the update as the difference of the weights after and before.
final class GradientFlowTests: XCTestCase {
    /// Random input and labels for a 1×32×32 model.
    func batch(_ b: Int, seed: UInt64) -> (Tensor, [Int32]) {
        var rng = SeededRandom(seed: seed)
        let x = Tensor(shape: [b, 1, 32, 32])
        for i in 0..<x.count { x[i] = rng.uniform(-2, 2) }
        return (x, (0..<b).map { Int32($0 % 10) })
    }

    struct Direct { var grad = 0.0, weight = 0.0, update = 0.0 }

    /// One measured step; per layer name the figures computed directly from the tensors.
    func measuredStep(_ net: Network, _ opt: Optimizer, batch b: Int = 8, seed: UInt64 = 1) -> (GradientFlow, [String: Direct]) {
        let (x, labels) = batch(b, seed: seed)
        _ = labels.withUnsafeBufferPointer { net.trainStep(x, labels: $0.baseAddress!) }
        let before = opt.parameters.map { $0.value.array }, grads = opt.parameters.map { $0.grad.array }
        opt.measure = true
        opt.step()
        let flow = GradientGroups(net).figures(opt.measured, inUse: opt.parameters.map(\.inUse), step: 1)
        var direct: [String: Direct] = [:]
        for (i, p) in opt.parameters.enumerated() where p.inUse {
            let layer = p.name.split(separator: ".").dropLast().joined(separator: ".")
            var d = direct[layer] ?? Direct()
            let after = p.value.array
            for j in 0..<after.count {
                d.grad += Double(grads[i][j]) * Double(grads[i][j])
                d.weight += Double(before[i][j]) * Double(before[i][j])
                let u = Double(after[j]) - Double(before[i][j])
                d.update += u * u
            }
            direct[layer] = d
        }
        return (flow, direct)
    }

    func assertMatches(_ flow: GradientFlow, _ direct: [String: Direct], tolerance: Double, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(flow.layers.filter(\.inUse).map(\.name)), Set(direct.keys), "layers", file: file, line: line)
        for l in flow.layers where l.inUse {
            guard let d = direct[l.name] else { continue }
            XCTAssertEqual(l.gradNorm, d.grad.squareRoot(), accuracy: tolerance * d.grad.squareRoot(), "\(l.name) ‖∇W‖", file: file, line: line)
            XCTAssertEqual(l.weightNorm, d.weight.squareRoot(), accuracy: tolerance * d.weight.squareRoot(), "\(l.name) ‖W‖", file: file, line: line)
            // The update is measured as float32 weights' difference here: rounding of w±Δ (relative 6e-8 of
            // ‖W‖) against Δ itself, so its tolerance is in units of ‖W‖.
            let ratio = (d.update / d.weight).squareRoot()
            XCTAssertEqual(l.updateRatio, ratio, accuracy: tolerance * ratio + 1e-6, "\(l.name) update ratio", file: file, line: line)
        }
    }

    func testLeNetFiguresMatchDirectComputation() {
        for kind in OptimizerKind.allCases {
            let net = ModelZoo.make("lenet5", seed: 3)!
            let opt = Optimizer(kind, parameters: net.parameters, lr: 0.05, momentum: 0.9, weightDecay: 0.01)
            // A second step, so momentum buffers and Adam's moments are not at their start.
            _ = measuredStep(net, opt, seed: 1)
            let (flow, direct) = measuredStep(net, opt, seed: 2)
            XCTAssertEqual(flow.layers.map(\.name), ["conv1", "conv2", "fc1", "fc2", "fc3"], "\(kind)")
            assertMatches(flow, direct, tolerance: 1e-4)
            for l in flow.layers { XCTAssertGreaterThan(l.updateRatio, 0, "\(kind) \(l.name)") }
        }
    }

    /// The measured update changes the weights exactly as the plain one does.
    func testMeasuringLeavesTheUpdateUnchanged() {
        for kind in OptimizerKind.allCases {
            var weights: [[Float]] = []
            for measure in [false, true] {
                let net = ModelZoo.make("lenet5", seed: 5)!
                let opt = Optimizer(kind, parameters: net.parameters, lr: 0.05, momentum: 0.9, weightDecay: 0.001)
                for s in 0..<2 {
                    let (x, labels) = batch(8, seed: UInt64(10 + s))
                    _ = labels.withUnsafeBufferPointer { net.trainStep(x, labels: $0.baseAddress!) }
                    opt.measure = measure
                    opt.step()
                }
                weights.append(net.parameters.flatMap { $0.value.array })
            }
            XCTAssertEqual(weights[0], weights[1], "\(kind): measured and plain steps give other weights")
        }
    }

    /// ResNet-18 at 32×32 leaves most of layer4's taps idle (no gradient, not updated): the weight norm
    /// must still count those weights. Units are the blocks; a bypassed projection is not in use.
    func testResNetGroupsAndIdleWeights() {
        let net = ModelZoo.make("resnet18", residual: false, seed: 1)!
        let opt = Optimizer(.momentum, parameters: net.parameters, lr: 0.01, momentum: 0.9)
        let (flow, direct) = measuredStep(net, opt, batch: 2)
        XCTAssertTrue(net.parameters.contains { !$0.idle.isEmpty }, "the case needs idle taps")
        assertMatches(flow, direct, tolerance: 1e-4)
        XCTAssertEqual(flow.units.map(\.name), ["conv1", "bn1"] + (1...4).flatMap { ["layer\($0).0", "layer\($0).1"] } + ["fc"])
        let ds = flow.layers.first { $0.name == "layer2.0.downsample.0" }
        XCTAssertEqual(ds?.inUse, false, "a bypassed projection is not in use")
        XCTAssertEqual(ds?.matrix, true)
        XCTAssertEqual(flow.layers.first { $0.name == "layer2.0.bn1" }?.matrix, false)
        // A block's figures are its layers' together.
        let block = flow.layers.filter { $0.unit == "layer3.1" }
        let u = flow.units.first { $0.name == "layer3.1" }!
        XCTAssertEqual(u.gradNorm, block.map(\.gradSquares).reduce(0, +).squareRoot(), accuracy: 1e-12 * u.gradNorm)
        XCTAssertEqual(u.weightNorm, block.map(\.weightSquares).reduce(0, +).squareRoot(), accuracy: 1e-12 * u.weightNorm)
        XCTAssertEqual(block.map(\.name), ["layer3.1.conv1", "layer3.1.bn1", "layer3.1.conv2", "layer3.1.bn2"])
    }
}

extension GradientFlowTests {
    /// A training line's "grad" object read back by RunHistory: the same figures (6 significant digits),
    /// a layer not in use comes back not in use and adds nothing to its unit.
    func testMetricsLineRoundTrip() throws {
        let dir = NSTemporaryDirectory() + "gradflow-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = TrainConfig.defaults(for: "resnet18"); c.logEvery = 10
        let log = RunLog(directory: dir, config: c, stepsPerEpoch: 100)
        let flow = GradientFlow(step: 10, layers: [
            .init(name: "layer2.0.conv1", unit: "layer2.0", gradSquares: 4, weightSquares: 9, updateSquares: 9e-6, matrix: true),
            .init(name: "layer2.0.downsample.0", unit: "layer2.0", gradSquares: 0, weightSquares: 0, updateSquares: 0, matrix: true, inUse: false),
            .init(name: "fc", unit: "fc", gradSquares: 0.25, weightSquares: 1, updateSquares: 1e-4, matrix: true),
        ])
        var s = TrainingSnapshot(model: "resnet18")
        s.step = 10; s.epoch = 1
        s.trainLoss = [CurvePoint(step: 10, value: 1)]; s.trainAccuracy = [CurvePoint(step: 10, value: 50)]
        s.gradients = flow
        log.handle(.progress(s))
        s.step = 20; s.gradients = nil   // a line without figures: no "grad"
        log.handle(.progress(s))
        let h = try RunHistory(directory: dir)
        XCTAssertEqual(h.trainLoss.count, 2)
        let g = try XCTUnwrap(h.gradients.first)
        XCTAssertEqual(h.gradients.count, 1); XCTAssertEqual(g.step, 10)
        XCTAssertEqual(g.layers.map(\.name), ["layer2.0.conv1", "layer2.0.downsample.0", "fc"])
        XCTAssertEqual(g.layers.map(\.inUse), [true, false, true])
        XCTAssertEqual(g.layers[0].gradNorm, 2, accuracy: 1e-6); XCTAssertEqual(g.layers[0].weightNorm, 3, accuracy: 1e-6)
        XCTAssertEqual(g.layers[0].updateRatio, 1e-3, accuracy: 1e-9)
        XCTAssertEqual(g.layers[2].updateRatio, 1e-2, accuracy: 1e-8)
        XCTAssertEqual(g.units.map(\.name), ["layer2.0", "fc"])
        XCTAssertEqual(g.units[0].updateRatio, 1e-3, accuracy: 1e-9, "the bypassed projection adds nothing")
        let events = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasPrefix("events.out.tfevents") })
        let tb = try TensorBoardReader.scalars(dir + "/" + events)
        XCTAssertEqual(tb.first { $0.tag == "grad_norm/fc" }?.value ?? 0, 0.5, accuracy: 1e-6)
        XCTAssertEqual(tb.first { $0.tag == "update_ratio/layer2.0.conv1" }?.value ?? 0, 1e-3, accuracy: 1e-8)
        XCTAssertNil(tb.first { $0.tag == "grad_norm/layer2.0.downsample.0" }, "no figure for a layer not in use")
    }
}
