import XCTest
@testable import Kernels
@testable import Models

/// PyTorch's update rules: on one scalar parameter with the expected values worked out by hand, against
/// PyTorch's algorithms written out in Double, and against torch.optim's own output (a fixture).
final class OptimizerTests: XCTestCase {
    /// Runs `steps` updates with a constant gradient 0.5 from w = 1 and returns the weights after each.
    func trajectory(_ kind: OptimizerKind, lr: Float = 0.1, weightDecay: Float = 0, steps: Int = 2) -> [Float] {
        let p = Parameter(name: "w", shape: [1])
        p.value[0] = 1
        let opt = Optimizer(kind, parameters: [p], lr: lr, momentum: 0.9, weightDecay: weightDecay)
        return (0..<steps).map { _ in p.grad[0] = 0.5; opt.step(); return p.value[0] }
    }

    func testSGD() {
        let w = trajectory(.sgd)
        XCTAssertEqual(w[0], 0.95, accuracy: 1e-6); XCTAssertEqual(w[1], 0.90, accuracy: 1e-6)
    }

    func testSGDWithWeightDecay() {
        // g = 0.5 + 0.1·w: w1 = 1 - 0.1·0.6 = 0.94; w2 = 0.94 - 0.1·(0.5 + 0.094) = 0.8806
        let w = trajectory(.sgd, weightDecay: 0.1)
        XCTAssertEqual(w[0], 0.94, accuracy: 1e-6); XCTAssertEqual(w[1], 0.8806, accuracy: 1e-6)
    }

    func testMomentum() {
        // buf1 = 0.5 → w1 = 0.95; buf2 = 0.9·0.5 + 0.5 = 0.95 → w2 = 0.855
        let w = trajectory(.momentum)
        XCTAssertEqual(w[0], 0.95, accuracy: 1e-6); XCTAssertEqual(w[1], 0.855, accuracy: 1e-6)
    }

    func testNesterov() {
        // step uses g + 0.9·buf: 0.5 + 0.45 = 0.95 → w1 = 0.905; buf2 = 0.95, 0.5 + 0.855 → w2 = 0.7695
        let w = trajectory(.nesterov)
        XCTAssertEqual(w[0], 0.905, accuracy: 1e-6); XCTAssertEqual(w[1], 0.7695, accuracy: 1e-6)
    }

    /// torch.optim.SGD (dampening 0) and torch.optim.Adam, written out in Double from PyTorch's
    /// documented algorithms (not from Optimizer.swift): weight decay is L2 added to the gradient
    /// (Adam, not AdamW), Adam's bias corrections count each parameter's own steps, eps is added
    /// outside the square root.
    struct TorchRule {
        let kind: OptimizerKind, lr: Double, momentum: Double, weightDecay: Double
        var w: [Double], buf: [Double], m: [Double], v: [Double], t = 0
        init(_ kind: OptimizerKind, lr: Double, momentum: Double, weightDecay: Double, w: [Double]) {
            self.kind = kind; self.lr = lr; self.momentum = momentum; self.weightDecay = weightDecay
            self.w = w; buf = w.map { _ in 0 }; m = buf; v = buf
        }
        mutating func step(_ g: [Double]) {
            t += 1
            let b1 = 0.9, b2 = 0.999, eps = 1e-8
            for j in w.indices {
                let d = g[j] + weightDecay * w[j]
                switch kind {
                case .sgd: w[j] -= lr * d
                case .momentum, .nesterov:
                    buf[j] = t == 1 ? d : momentum * buf[j] + d   // torch: the first buffer is the gradient
                    w[j] -= lr * (kind == .nesterov ? d + momentum * buf[j] : buf[j])
                case .adam:
                    m[j] = b1 * m[j] + (1 - b1) * d
                    v[j] = b2 * v[j] + (1 - b2) * d * d
                    let mHat = m[j] / (1 - pow(b1, Double(t))), vHat = v[j] / (1 - pow(b2, Double(t)))
                    w[j] -= lr * mHat / (vHat.squareRoot() + eps)
                }
            }
        }
    }

    /// Every rule, with and without weight decay, on 37 weights (SIMD blocks and a tail) and gradients
    /// that change size and sign each step, so the betas, the bias corrections and the momentum all
    /// show; the second parameter sits out steps 2-3 (a bypassed layer), so its Adam steps count 5, not 7.
    func testEveryRuleMatchesPyTorchsAlgorithmWrittenOutInDouble() {
        var rng = SeededRandom(seed: 14)
        for kind in OptimizerKind.allCases {
            for wd in [0.0, 0.05] {
                let lr = kind == .adam ? 0.01 : 0.1, mu = 0.85
                let a = Parameter(name: "a", shape: [37]), b = Parameter(name: "b", shape: [5])
                for p in [a, b] { for j in 0..<p.value.count { p.value[j] = rng.uniform(-1, 1) } }
                var ra = TorchRule(kind, lr: lr, momentum: mu, weightDecay: wd, w: a.value.array.map(Double.init))
                var rb = TorchRule(kind, lr: lr, momentum: mu, weightDecay: wd, w: b.value.array.map(Double.init))
                let opt = Optimizer(kind, parameters: [a, b], lr: Float(lr), momentum: Float(mu), weightDecay: Float(wd))
                for step in 1...7 {
                    let scale = Float(step % 3 + 1) * (step % 2 == 0 ? -1 : 1)
                    for p in [a, b] { for j in 0..<p.grad.count { p.grad[j] = scale * rng.uniform(-1, 1) } }
                    b.inUse = !(2...3).contains(step)
                    ra.step(a.grad.array.map(Double.init))
                    if b.inUse { rb.step(b.grad.array.map(Double.init)) }
                    opt.step()
                    for (p, r) in [(a, ra), (b, rb)] {
                        for j in 0..<p.value.count {
                            XCTAssertEqual(Double(p.value[j]), r.w[j], accuracy: 2e-6,
                                           "\(kind) wd \(wd) step \(step) \(p.name)[\(j)]")
                        }
                    }
                }
            }
        }
    }

    /// The same rules against PyTorch itself: scripts/make_optimizer_fixture.py ran torch.optim.SGD and
    /// torch.optim.Adam (in float64) on the gradients stored in the fixture. The last four gradients are
    /// ~1e-8, where Adam's eps outside the square root decides the step.
    func testEveryRuleMatchesTorchOptimOnTheFixture() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/torch_optimizers.safetensors")
        let f = try SafetensorsFile(path: url.path)
        let w0 = try f.floats("w0"), grads = try f.floats("grads")
        let n = w0.count, steps = grads.count / n
        let cases = f.names.filter { $0.hasSuffix(".weights") }.map { String($0.dropLast(".weights".count)) }
        XCTAssertEqual(Set(cases.compactMap { $0.split(separator: "_").first.map(String.init) }),
                       ["sgd", "momentum", "nesterov", "adam"])
        for c in cases {
            let kind = try XCTUnwrap(OptimizerKind(rawValue: String(c.split(separator: "_")[0])))
            let settings = try f.floats(c + ".settings"), expected = try f.doubles(c + ".weights")
            let p = Parameter(name: c, shape: [n])
            for j in 0..<n { p.value[j] = w0[j] }
            let opt = Optimizer(kind, parameters: [p], lr: settings[0], momentum: settings[1], weightDecay: settings[2])
            for t in 0..<steps {
                for j in 0..<n { p.grad[j] = grads[t * n + j] }
                opt.step()
                for j in 0..<n {
                    XCTAssertEqual(Double(p.value[j]), expected[t * n + j], accuracy: 2e-6, "\(c) step \(t + 1) w[\(j)]")
                }
            }
        }
    }

    /// A conv's idle taps (zero gradient by construction) are stepped over only where that changes
    /// nothing: the result equals the full update bit for bit, and momentum loaded from a checkpoint or
    /// weight decay makes the update touch them again.
    func testIdleElementsAreSkippedOnlyWhenTheUpdateWouldNotChangeThem() {
        var rng = SeededRandom(seed: 3)
        for (kind, wd, loadedMomentum) in [(OptimizerKind.momentum, Float(0), false), (.nesterov, 0, false), (.sgd, 0, false),
                                           (.momentum, 0, true), (.momentum, 0.01, false)] {
            let p = Parameter(name: "p", shape: [40]), q = Parameter(name: "q", shape: [40])
            p.idle = [8..<16, 30..<40]
            for i in 0..<40 { p.value[i] = rng.uniform(-1, 1); q.value[i] = p.value[i] }
            let op = Optimizer(kind, parameters: [p], lr: 0.1, weightDecay: wd)
            let oq = Optimizer(kind, parameters: [q], lr: 0.1, weightDecay: wd)
            if loadedMomentum { op.buffers[0][0][33] = 0.5; oq.buffers[0][0][33] = 0.5 }
            for _ in 0..<3 {
                for i in 0..<40 {
                    let idle = p.idle.contains { $0.contains(i) }
                    p.grad[i] = idle ? 0 : rng.uniform(-1, 1); q.grad[i] = p.grad[i]
                }
                op.step(); oq.step()
            }
            XCTAssertEqual(p.value.array, q.value.array, "\(kind) wd \(wd) momentum loaded \(loadedMomentum)")
            XCTAssertEqual(op.buffers.map { $0.map(\.array) }, oq.buffers.map { $0.map(\.array) })
        }
        // They are skipped: a gradient written there against the contract is ignored.
        let p = Parameter(name: "p", shape: [32])
        p.idle = [16..<32]
        p.grad.fill(1)
        Optimizer(.momentum, parameters: [p], lr: 0.1).step()
        XCTAssertEqual(p.value[0], -0.1, accuracy: 1e-7)
        XCTAssertEqual(p.value[16], 0)
    }

    func testBypassedParametersAreSkippedAndLRChangesApply() {
        let a = Parameter(name: "a", shape: [1]), b = Parameter(name: "b", shape: [1])
        a.value[0] = 1; b.value[0] = 1; a.grad[0] = 1; b.grad[0] = 1
        b.inUse = false
        let opt = Optimizer(.sgd, parameters: [a, b], lr: 0.1)
        opt.step()
        opt.lr = 0.2
        opt.step()
        XCTAssertEqual(a.value[0], 0.7, accuracy: 1e-6)
        XCTAssertEqual(b.value[0], 1)
    }
}
