import XCTest
@testable import Kernels
@testable import Models

/// The layers AlexNet, VGG and GoogLeNet added: finite-difference gradients (GradientCheckTests.check),
/// and what a gradient check cannot see (a consistent mistake in forward and backward) against direct
/// definitions: concatenation order, dropout's scale and identity in evaluation, eps of batch norm.
extension GradientCheckTests {
    func testChannelConcatOfBranches() {
        var rng = SeededRandom(seed: 21)
        let block = ChannelConcat("cat", branches: [
            Sequential("cat.branch1", [Conv2d("cat.branch1.conv", 3, 2, kernel: 1)]),
            Sequential("cat.branch2", [Conv2d("cat.branch2.0", 3, 3, kernel: 3, padding: 1), ReLU("cat.branch2.1")]),
            Sequential("cat.branch3", [MaxPool2d("cat.branch3.0", kernel: 3, stride: 1, padding: 1, ceilMode: true),
                                       Conv2d("cat.branch3.1", 3, 1, kernel: 1)]),
        ])
        for p in block.parameters { for i in 0..<p.value.count { p.value[i] = rng.uniform(-0.5, 0.5) } }
        XCTAssertEqual(block.outputShape(for: [3, 5, 4]), [6, 5, 4])
        check(block, input: randomTensor([2, 3, 5, 4], &rng), eps: 1e-3)
    }

    /// The concatenated output holds branch i's output at its channel offset, in branch order.
    func testChannelConcatOrder() {
        var rng = SeededRandom(seed: 22)
        let convs = [Conv2d("a", 2, 1, kernel: 1), Conv2d("b", 2, 3, kernel: 3, padding: 1), Conv2d("c", 2, 2, kernel: 1)]
        for c in convs { for p in c.parameters { for i in 0..<p.value.count { p.value[i] = rng.uniform(-1, 1) } } }
        let block = ChannelConcat("cat", branches: convs.map { Sequential($0.name, [$0]) })
        let x = randomTensor([2, 2, 3, 3], &rng)
        let y = block.forward(x, training: true).array
        var want: [Float] = []
        let outs = convs.map { $0.forward(x, training: true).array }
        for n in 0..<2 { for (c, o) in zip([1, 3, 2], outs) { want += o[(n * c * 9)..<((n + 1) * c * 9)] } }
        XCTAssertEqual(y, want)
    }

    func testDropoutTrainingGradient() {
        var rng = SeededRandom(seed: 23)
        let d = Dropout("drop", p: 0.5)
        d.seed = 3; d.step = 9
        check(d, input: randomTensor([4, 10], &rng))
    }

    /// Training: kept elements scaled by 1/(1-p), the others 0, about half of them; evaluation: x itself.
    func testDropoutScalesInTrainingAndIsIdentityInEvaluation() {
        var rng = SeededRandom(seed: 24)
        let d = Dropout("classifier.0", p: 0.5)
        let x = randomTensor([8, 250], &rng, awayFromZero: true)
        let y = d.forward(x, training: true)
        var kept = 0
        for i in 0..<x.count {
            if y[i] != 0 { XCTAssertEqual(y[i], 2 * x[i]); kept += 1 }
        }
        XCTAssertEqual(Double(kept) / Double(x.count), 0.5, accuracy: 0.05)
        XCTAssertEqual(d.forward(x, training: false).array, x.array)
        let dy = randomTensor([8, 250], &rng)
        XCTAssertEqual(d.backward(dy)?.array, dy.array, "evaluation: the gradient passes unchanged")
    }

    func testAdaptiveAvgPoolGradient() {
        var rng = SeededRandom(seed: 25)
        check(AdaptiveAvgPool2d("avgpool", 3, 2), input: randomTensor([2, 2, 5, 7], &rng))
        check(AdaptiveAvgPool2d("avgpool", 6, 6), input: randomTensor([2, 3, 1, 1], &rng))
        check(AdaptiveAvgPool2d("avgpool", 7, 7), input: randomTensor([1, 2, 10, 9], &rng))
    }

    func testCeilModeMaxPoolGradient() {
        var rng = SeededRandom(seed: 26)
        let pool = MaxPool2d("pool", kernel: 3, stride: 2, ceilMode: true)
        XCTAssertEqual(pool.outputShape(for: [2, 8, 8]), [2, 4, 4])
        check(pool, input: randomTensor([2, 2, 8, 8], &rng), eps: 1e-3)
        check(MaxPool2d("pool", kernel: 2, stride: 2, ceilMode: true), input: randomTensor([2, 2, 5, 7], &rng), eps: 1e-3)
    }

    /// eps 1e-3 (GoogLeNet's) in both modes: gradients, and eval mode's output against its definition
    /// with running variances small enough that 1e-3 and the default 1e-5 differ plainly.
    func testBatchNormWithAnotherEps() {
        var rng = SeededRandom(seed: 27)
        let bn = BatchNorm2d("bn", 3, eps: 1e-3)
        for i in 0..<3 { bn.weight.value[i] = rng.uniform(0.5, 1.5); bn.bias.value[i] = rng.uniform(-0.5, 0.5) }
        check(bn, input: randomTensor([4, 3, 3, 2], &rng), eps: 1e-2, tolerance: 2e-2)
        for i in 0..<3 { bn.runningMean[i] = rng.uniform(-0.5, 0.5); bn.runningVar[i] = 1e-3 * Float(i + 1) }
        let x = randomTensor([2, 3, 2, 2], &rng)
        let y = bn.forward(x, training: false)
        for i in 0..<x.count {
            let c = (i / 4) % 3
            let want = (Double(x[i]) - Double(bn.runningMean[c])) / (Double(bn.runningVar[c]) + 1e-3).squareRoot()
                * Double(bn.weight.value[c]) + Double(bn.bias.value[c])
            XCTAssertEqual(Double(y[i]), want, accuracy: 1e-4 * max(1, abs(want)), "[\(i)]")
        }
    }
}
