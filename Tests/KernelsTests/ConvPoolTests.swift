import XCTest
@testable import Kernels

/// Convolution and pooling kernels against direct definitions written out in the test.
final class ConvPoolTests: XCTestCase {
    var rng = SeededRandom(seed: 11)
    func random(_ n: Int) -> [Float] { (0..<n).map { _ in rng.uniform(-1, 1) } }

    func testConvForwardMatchesDirectDefinition() {
        for (k, s, p, h, w) in [(3, 1, 1, 5, 6), (5, 1, 0, 9, 9), (3, 2, 1, 7, 8), (1, 2, 0, 6, 6), (7, 2, 3, 10, 9)] {
            let g = ConvGeometry(batch: 2, inChannels: 3, height: h, width: w, outChannels: 4, kernel: k, stride: s, padding: p)
            let x = random(2 * 3 * h * w), wt = random(4 * 3 * k * k), bias = random(4)
            var y = [Float](repeating: 0, count: 2 * 4 * g.outH * g.outW)
            convForward(x: x, weight: wt, bias: bias, geometry: g, y: &y)
            for n in 0..<2 { for co in 0..<4 { for oy in 0..<g.outH { for ox in 0..<g.outW {
                var acc = Double(bias[co])
                for c in 0..<3 { for i in 0..<k { for j in 0..<k {
                    let iy = oy * s - p + i, ix = ox * s - p + j
                    if iy >= 0 && iy < h && ix >= 0 && ix < w {
                        acc += Double(x[((n * 3 + c) * h + iy) * w + ix]) * Double(wt[((i * k + j) * 4 + co) * 3 + c])   // W tap-major
                    }
                } } }
                XCTAssertEqual(y[((n * 4 + co) * g.outH + oy) * g.outW + ox], Float(acc), accuracy: 1e-4)
            } } } }
        }
    }

    func testMaxPoolPicksWindowMaximumAndRoutesGradient() {
        // 1×1×4×4 with known values, 2×2 windows.
        let x: [Float] = [1, 5, 2, 0,
                          3, 4, 8, 7,
                          -1, -2, 0, 0,
                          -3, -9, 6, 1]
        let g = ConvGeometry(batch: 1, inChannels: 1, height: 4, width: 4, outChannels: 1, kernel: 2, stride: 2)
        var y = [Float](repeating: 0, count: 4), am = [Int32](repeating: 0, count: 4)
        maxPoolForward(x: x, geometry: g, y: &y, argmax: &am)
        XCTAssertEqual(y, [5, 8, -1, 6])
        var dx = [Float](repeating: 9, count: 16)
        maxPoolBackward(dy: [1, 2, 3, 4], argmax: am, geometry: g, dx: &dx)
        XCTAssertEqual(dx, [0, 1, 0, 0, 0, 0, 2, 0, 3, 0, 0, 0, 0, 0, 4, 0])
    }

    func testMaxPoolPaddingIsNegativeInfinity() {
        // All-negative input: a -inf pad must never win (a zero pad would).
        let x: [Float] = (0..<9).map { -Float($0) - 1 }
        let g = ConvGeometry(batch: 1, inChannels: 1, height: 3, width: 3, outChannels: 1, kernel: 3, stride: 2, padding: 1)
        var y = [Float](repeating: 0, count: 4), am = [Int32](repeating: 0, count: 4)
        maxPoolForward(x: x, geometry: g, y: &y, argmax: &am)
        XCTAssertEqual(y, [-1, -2, -4, -5])
    }

    func testAvgPoolCountsPaddingInDivisor() {
        let x: [Float] = [1, 2, 3, 4]   // 2×2
        let g = ConvGeometry(batch: 1, inChannels: 1, height: 2, width: 2, outChannels: 1, kernel: 2, stride: 1, padding: 1)
        var y = [Float](repeating: 0, count: 9)
        avgPoolForward(x: x, geometry: g, y: &y)
        XCTAssertEqual(y, [0.25, 0.75, 0.5, 1.0, 2.5, 1.5, 0.75, 1.75, 1.0])
    }

    func testSoftmaxCrossEntropy() {
        let logits: [Float] = [1, 2, 3, 0, 0, 0]
        let labels: [Int32] = [2, 1]
        var probs = [Float](repeating: 0, count: 6), d = [Float](repeating: 0, count: 6)
        let r = softmaxCrossEntropy(logits: logits, labels: labels, batch: 2, classes: 3, probs: &probs, dLogits: &d)
        let e = [exp(1.0), exp(2.0), exp(3.0)], z = e.reduce(0, +)
        let expected = (-log(e[2] / z) + log(3.0)) / 2
        XCTAssertEqual(Double(r.loss), expected, accuracy: 1e-6)
        XCTAssertEqual(r.correct, 1)   // row 0 argmax 2 = label; row 1 ties resolve to class 0 ≠ 1
        XCTAssertEqual(Double(d[2]), (e[2] / z - 1) / 2, accuracy: 1e-6)
        XCTAssertEqual(Double(d[4]), (1.0 / 3 - 1) / 2, accuracy: 1e-6)
    }

    func testBatchNormTrainingStatisticsAndRunningUpdate() {
        // One channel, values 1..4 over batch 2 × plane 2: mean 2.5, biased var 1.25, unbiased 5/3.
        let x: [Float] = [1, 2, 3, 4]
        var y = [Float](repeating: 0, count: 4), rm: [Float] = [0], rv: [Float] = [1], sm: [Float] = [0], si: [Float] = [0]
        batchNormTrainForward(x: x, s: BatchNormShape(batch: 2, channels: 1, planeSize: 2), gamma: [2], beta: [0.5],
                              eps: 1e-5, momentum: 0.1, runningMean: &rm, runningVar: &rv, savedMean: &sm,
                              savedInvStd: &si, y: &y)
        let inv = 1 / (1.25 + 1e-5).squareRoot()
        for i in 0..<4 { XCTAssertEqual(Double(y[i]), 2 * (Double(x[i]) - 2.5) * inv + 0.5, accuracy: 1e-5) }
        XCTAssertEqual(rm[0], 0.25, accuracy: 1e-6)
        XCTAssertEqual(Double(rv[0]), 0.9 + 0.1 * 5.0 / 3.0, accuracy: 1e-6)
    }

    func testRandomIsReproducibleAndInRange() {
        var a = SeededRandom(seed: 42), b = SeededRandom(seed: 42), c = SeededRandom(seed: 43)
        let xa = (0..<100).map { _ in a.uniform(-2, 3) }, xb = (0..<100).map { _ in b.uniform(-2, 3) }
        XCTAssertEqual(xa, xb)
        XCTAssertNotEqual(xa, (0..<100).map { _ in c.uniform(-2, 3) })
        XCTAssertTrue(xa.allSatisfy { $0 >= -2 && $0 < 3 })
        XCTAssertEqual(Double(xa.reduce(0, +)) / 100, 0.5, accuracy: 0.5)
    }
}
