import XCTest
@testable import Kernels
@testable import Models

/// Every layer's backward against central finite differences, for its input and its parameters.
/// The loss is L = Σ y·r for a fixed random r, summed in double so rounding stays below the check.
final class GradientCheckTests: XCTestCase {
    func randomTensor(_ shape: [Int], _ rng: inout SeededRandom, awayFromZero: Bool = false) -> Tensor {
        let t = Tensor(shape: shape)
        for i in 0..<t.count {
            var v = rng.uniform(-1, 1)
            if awayFromZero && abs(v) < 0.1 { v = v < 0 ? v - 0.1 : v + 0.1 }
            t[i] = v
        }
        return t
    }

    func loss(_ y: Tensor, _ r: Tensor) -> Double {
        (0..<y.count).reduce(0.0) { $0 + Double(y[$1]) * Double(r[$1]) }
    }

    /// Checks dL/dx and dL/dθ of `layer` at `x` on up to `samples` coordinates of each tensor.
    /// A coordinate whose difference quotients at eps and 4·eps disagree sits next to a ReLU or max-pool
    /// kink, where the derivative is not defined: it is skipped, but at most a quarter of them may be.
    func check(_ layer: Layer, input x: Tensor, eps: Float = 1e-2, samples: Int = 24, tolerance: Double = 1e-2,
               file: StaticString = #filePath, line: UInt = #line) {
        var rng = SeededRandom(seed: 99)
        let y0 = layer.forward(x, training: true)
        let r = randomTensor(y0.shape, &rng)
        // A copy: backward may overwrite the gradient it is given (in-place layers), and r is the
        // loss's weights below.
        let dx = layer.backward(Tensor(shape: r.shape, values: r.array))!
        let analyticInput = dx.array
        let analyticParams = layer.parameters.map { $0.grad.array }

        func numeric(_ t: Tensor, _ i: Int, _ e: Float) -> Double {
            let saved = t[i]
            t[i] = saved + e; let lp = loss(layer.forward(x, training: true), r)
            t[i] = saved - e; let lm = loss(layer.forward(x, training: true), r)
            t[i] = saved
            return (lp - lm) / (2 * Double(e))
        }
        var checked = 0, kinks = 0
        func compare(_ t: Tensor, _ analytic: [Float], _ what: String) {
            let stride = max(1, t.count / samples)
            for i in Swift.stride(from: 0, to: t.count, by: stride) {
                let n = numeric(t, i, eps), a = Double(analytic[i])
                if abs(n - numeric(t, i, eps * 4)) > tolerance * max(1, abs(n)) { kinks += 1; continue }
                XCTAssertEqual(a, n, accuracy: tolerance * max(1, abs(n)), "\(layer.name) \(what)[\(i)]", file: file, line: line)
                checked += 1
            }
        }
        compare(x, analyticInput, "input")
        for (p, g) in zip(layer.parameters, analyticParams) { compare(p.value, g, p.name) }
        XCTAssertGreaterThan(checked, 0, file: file, line: line)
        XCTAssertLessThanOrEqual(kinks * 4, checked + kinks, "\(layer.name): too many kinks", file: file, line: line)
    }

    func testConv2dWithStridePaddingAndBias() {
        var rng = SeededRandom(seed: 1)
        let conv = Conv2d("conv", 3, 4, kernel: 3, stride: 2, padding: 1)
        for p in conv.parameters { for i in 0..<p.value.count { p.value[i] = rng.uniform(-0.5, 0.5) } }
        check(conv, input: randomTensor([2, 3, 7, 6], &rng))
    }

    func testConv2dOneByOneWithoutBias() {
        var rng = SeededRandom(seed: 2)
        let conv = Conv2d("ds", 4, 5, kernel: 1, stride: 2, bias: false)
        for i in 0..<conv.weight.value.count { conv.weight.value[i] = rng.uniform(-0.5, 0.5) }
        check(conv, input: randomTensor([3, 4, 5, 5], &rng))
    }

    func testLinear() {
        var rng = SeededRandom(seed: 3)
        let fc = Linear("fc", 7, 5)
        for p in fc.parameters { for i in 0..<p.value.count { p.value[i] = rng.uniform(-0.5, 0.5) } }
        check(fc, input: randomTensor([4, 7], &rng))
    }

    func testBatchNormTrainingMode() {
        var rng = SeededRandom(seed: 4)
        let bn = BatchNorm2d("bn", 3)
        for i in 0..<3 { bn.weight.value[i] = rng.uniform(0.5, 1.5); bn.bias.value[i] = rng.uniform(-0.5, 0.5) }
        check(bn, input: randomTensor([4, 3, 3, 2], &rng), eps: 1e-2, tolerance: 2e-2)
    }

    func testReLU() {
        var rng = SeededRandom(seed: 5)
        check(ReLU("relu"), input: randomTensor([2, 3, 4, 4], &rng, awayFromZero: true), eps: 1e-2)
    }

    func testMaxPoolWithPadding() {
        var rng = SeededRandom(seed: 6)
        check(MaxPool2d("pool", kernel: 3, stride: 2, padding: 1), input: randomTensor([2, 2, 6, 5], &rng), eps: 1e-3)
    }

    func testAvgPoolAndGlobalAvgPool() {
        var rng = SeededRandom(seed: 7)
        check(AvgPool2d("avg", kernel: 2, stride: 2, padding: 1), input: randomTensor([2, 2, 5, 5], &rng))
        check(GlobalAvgPool("gap"), input: randomTensor([3, 4, 3, 3], &rng))
    }

    func testBasicBlockWithProjectionResidualOnAndOff() {
        for residual in [true, false] {
            var rng = SeededRandom(seed: 8)
            let block = BasicBlock("layer2.0", 3, 4, stride: 2, residual: residual)
            for layer in [block.conv1, block.conv2, block.downsample!.conv] {
                for i in 0..<layer.weight.value.count { layer.weight.value[i] = rng.uniform(-0.4, 0.4) }
            }
            check(block, input: randomTensor([4, 3, 6, 6], &rng), eps: 1e-4, samples: 12, tolerance: 3e-2)
        }
    }

    func testBasicBlockIdentityShortcut() {
        var rng = SeededRandom(seed: 9)
        let block = BasicBlock("layer1.0", 3, 3, stride: 1)
        for layer in [block.conv1, block.conv2] {
            for i in 0..<layer.weight.value.count { layer.weight.value[i] = rng.uniform(-0.4, 0.4) }
        }
        check(block, input: randomTensor([4, 3, 5, 5], &rng), eps: 1e-4, samples: 12, tolerance: 3e-2)
    }

    func testBottleneckWithProjectionResidualOnAndOff() {
        for residual in [true, false] {
            var rng = SeededRandom(seed: 11)
            let block = Bottleneck("layer2.0", 4, width: 2, stride: 2, residual: residual)
            for layer in [block.conv1, block.conv2, block.conv3, block.downsample!.conv] {
                for i in 0..<layer.weight.value.count { layer.weight.value[i] = rng.uniform(-0.6, 0.6) }
            }
            check(block, input: randomTensor([4, 4, 6, 6], &rng), eps: 1e-4, samples: 12, tolerance: 3e-2)
        }
    }

    func testBottleneckIdentityShortcut() {
        var rng = SeededRandom(seed: 12)
        let block = Bottleneck("layer1.1", 8, width: 2, stride: 1)
        XCTAssertNil(block.downsample)
        for layer in [block.conv1, block.conv2, block.conv3] {
            for i in 0..<layer.weight.value.count { layer.weight.value[i] = rng.uniform(-0.6, 0.6) }
        }
        check(block, input: randomTensor([4, 8, 5, 5], &rng), eps: 1e-4, samples: 12, tolerance: 3e-2)
    }

    func testSoftmaxCrossEntropyGradient() {
        var rng = SeededRandom(seed: 10)
        let b = 3, c = 5
        let z = (0..<b * c).map { _ in rng.uniform(-2, 2) }
        let labels: [Int32] = [4, 0, 2]
        var probs = [Float](repeating: 0, count: b * c), d = [Float](repeating: 0, count: b * c)
        _ = softmaxCrossEntropy(logits: z, labels: labels, batch: b, classes: c, probs: &probs, dLogits: &d)
        for i in 0..<b * c {
            var zp = z, zm = z
            zp[i] += 1e-2; zm[i] -= 1e-2
            let lp = softmaxCrossEntropy(logits: zp, labels: labels, batch: b, classes: c, probs: &probs, dLogits: nil).loss
            let lm = softmaxCrossEntropy(logits: zm, labels: labels, batch: b, classes: c, probs: &probs, dLogits: nil).loss
            XCTAssertEqual(d[i], (lp - lm) / 2e-2, accuracy: 2e-3)
        }
    }
}
