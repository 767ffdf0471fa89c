import XCTest
@testable import Kernels

/// The fused SGD / momentum / Nesterov update against PyTorch's rule written out per element.
final class OptimizerKernelTests: XCTestCase {
    func testSGDUpdateMatchesDefinition() {
        var rng = SeededRandom(seed: 4)
        let n = 1000 + 7
        for (useBuffer, nesterov) in [(false, false), (true, false), (true, true)] {
            var w = (0..<n).map { _ in rng.uniform(-1, 1) }, b = (0..<n).map { _ in rng.uniform(-1, 1) }
            let g = (0..<n).map { _ in rng.uniform(-1, 1) }
            let lr: Float = 0.05, mu: Float = 0.9, wd: Float = 1e-3
            var ew = w, eb = b
            for i in 0..<n {
                let d = g[i] + wd * ew[i]
                if useBuffer {
                    eb[i] = mu * eb[i] + d
                    ew[i] -= lr * (nesterov ? d + mu * eb[i] : eb[i])
                } else { ew[i] -= lr * d }
            }
            b.withUnsafeMutableBufferPointer { bp in
                sgdUpdate(weights: &w, grads: g, buffer: useBuffer ? bp.baseAddress! : nil, count: n, lr: lr,
                          momentum: mu, weightDecay: wd, nesterov: nesterov)
            }
            for i in 0..<n {
                XCTAssertEqual(w[i], ew[i], accuracy: 1e-6)
                if useBuffer { XCTAssertEqual(b[i], eb[i], accuracy: 1e-6) }
            }
        }
    }
}
