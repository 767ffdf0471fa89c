import XCTest
@testable import Kernels
@testable import Models

/// An adaptive average pool on a 1×1 map only repeats each value; a Network then hands the linear layer
/// after it the values once (Linear.forward(repeating:)). Against the same layers run one by one: the
/// logits and every gradient, for repeats below 16 (9), past it (25) and VGG's 49.
final class LinearOnRepeatedInputTests: XCTestCase {
    func layers(side: Int, dropout: Bool) -> [Layer] {
        var units: [Layer] = [Conv2d("conv", 2, 4, kernel: 1), AdaptiveAvgPool2d("avgpool", side, side), Flatten("flatten")]
        if dropout { units.append(Dropout("drop", p: 0.5)) }
        units.append(Linear("fc", 4 * side * side, 5))
        return units
    }

    func compare(side: Int, dropout: Bool, training: Bool) {
        var rng = SeededRandom(seed: UInt64(40 + side))
        let fused = layers(side: side, dropout: dropout), apart = layers(side: side, dropout: dropout)
        let net = Network(name: "t", units: fused, classes: 5)
        apart[0].needsInputGradient = false
        for (p, q) in zip(net.parameters, apart.flatMap(\.parameters)) {
            for i in 0..<p.value.count { p.value[i] = rng.uniform(-1, 1) }
            q.value.copy(from: p.value)
        }
        let x = Tensor(shape: [3, 2, 1, 1])
        for i in 0..<x.count { x[i] = rng.uniform(-1, 1) }
        let dLogits = Tensor(shape: [3, 5])
        for i in 0..<dLogits.count { dLogits[i] = rng.uniform(-1, 1) }

        let got = net.forward(x, training: training).array
        XCTAssertEqual(net.repeatedSpan, 1..<(dropout ? 4 : 3), "the pool, flatten (and dropout) passed over")
        net.backward(dLogits)
        var h = x
        for l in apart { h = l.forward(h, training: training) }
        XCTAssertLessThan(relativeError(got, h.array), 1e-6, "logits, side \(side)")
        var d: Tensor? = dLogits
        for l in apart.reversed() { d = l.backward(d!) ?? d }
        for (p, q) in zip(net.parameters, apart.flatMap(\.parameters)) {
            XCTAssertLessThan(relativeError(p.grad.array, q.grad.array), 1e-5, "\(p.name), side \(side)")
        }
    }

    func testTrainingStepMatchesTheLayersApart() {
        for side in [3, 5, 7] { compare(side: side, dropout: false, training: true) }
    }

    /// In evaluation a dropout between flatten and the linear layer is the identity, and is passed over too.
    func testEvaluationThroughADropoutMatchesTheLayersApart() {
        for side in [3, 7] { compare(side: side, dropout: true, training: false) }
    }

    /// In training a dropout between gives each repeat its own mask: the layers run one by one.
    func testTrainingThroughADropoutIsNotFused() {
        let net = Network(name: "t", units: layers(side: 3, dropout: true), classes: 5)
        _ = net.forward(Tensor(shape: [2, 2, 1, 1]), training: true)
        XCTAssertNil(net.repeatedSpan)
    }

    /// A larger map than 1×1 is really averaged: the layers run one by one.
    func testAPoolOverALargerMapIsNotFused() {
        let net = Network(name: "t", units: layers(side: 3, dropout: false), classes: 5)
        _ = net.forward(Tensor(shape: [2, 2, 2, 2]), training: true)
        XCTAssertNil(net.repeatedSpan)
    }
}
