import XCTest
@testable import Kernels
@testable import Models

/// PyTorch's update rules on one scalar parameter, with the expected values worked out by hand.
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

    func testAdam() {
        // With a constant gradient, bias-corrected m̂ = 0.5 and v̂ = 0.25 every step: each step moves lr·0.5/(0.5+1e-8).
        let w = trajectory(.adam, lr: 0.01, steps: 3)
        XCTAssertEqual(w[0], 0.99, accuracy: 1e-6); XCTAssertEqual(w[2], 0.97, accuracy: 1e-6)
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
