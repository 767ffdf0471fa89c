import XCTest
@testable import Kernels

/// The first conv's weight and bias gradients taken through its max pool, against the definition:
/// the pool's gradient routed to each winner's conv output (where the pool's output, after ReLU, is
/// positive), then correlated with the zero-padded input.
final class ConvWeightsThroughPoolTests: XCTestCase {
    var rng = SeededRandom(seed: 11)

    func check(batch: Int, cin: Int, cout: Int, h: Int, w: Int, pad: Int, pooledPlane: Int, bias: Bool,
               file: StaticString = #filePath, line: UInt = #line) {
        let g = ConvGeometry(batch: batch, inChannels: cin, height: h, width: w, outChannels: cout, kernel: 5, stride: 1, padding: pad)
        let oh = g.outH, ow = g.outW, count = batch * cout * pooledPlane
        let x = (0..<batch * cin * h * w).map { _ in rng.uniform(-1, 1) }
        let dy = (0..<count).map { _ in rng.uniform(-1, 1) }
        // Winners anywhere in the conv's output plane (two outputs may share one, as overlapping
        // windows do); a third of the pooled outputs zero or negative, so the ReLU masks them.
        let argmax = (0..<count).map { _ in Int32(rng.next() % UInt64(oh * ow)) }
        let pooled = (0..<count).map { i in i % 3 == 0 ? (i % 2 == 0 ? 0 : -rng.uniform(0.1, 1)) : rng.uniform(0.1, 1) }
        var dW = [Float](repeating: .nan, count: cout * cin * 25), dB = [Float](repeating: .nan, count: cout)
        dB.withUnsafeMutableBufferPointer { db in
            convWeightGradientThroughMaxPool(dyPool: dy, argmax: argmax, pooled: pooled, pooledPlane: pooledPlane, x: x,
                                             geometry: g, dWeight: &dW, dBias: bias ? db.baseAddress! : nil)
        }
        var dYconv = [Double](repeating: 0, count: batch * cout * oh * ow)
        for n in 0..<batch { for co in 0..<cout { for q in 0..<pooledPlane {
            let i = (n * cout + co) * pooledPlane + q
            if pooled[i] > 0 { dYconv[(n * cout + co) * oh * ow + Int(argmax[i])] += Double(dy[i]) }
        } } }
        var edW = [Double](repeating: 0, count: dW.count), edB = [Double](repeating: 0, count: cout)
        for n in 0..<batch { for co in 0..<cout { for oy in 0..<oh { for ox in 0..<ow {
            let d = dYconv[((n * cout + co) * oh + oy) * ow + ox]
            edB[co] += d
            for c in 0..<cin { for ki in 0..<5 { for kj in 0..<5 {
                let iy = oy - pad + ki, ix = ox - pad + kj
                guard iy >= 0 && iy < h && ix >= 0 && ix < w else { continue }
                // Tap-major W: [ki][kj][co][c].
                edW[((ki * 5 + kj) * cout + co) * cin + c] += d * Double(x[((n * cin + c) * h + iy) * w + ix])
            } } }
        } } } }
        let tol = 1e-4 * Float(batch * pooledPlane).squareRoot()
        for i in dW.indices { XCTAssertEqual(dW[i], Float(edW[i]), accuracy: tol, "dW[\(i)] \(g)", file: file, line: line) }
        if bias { for co in 0..<cout { XCTAssertEqual(dB[co], Float(edB[co]), accuracy: tol, "dB[\(co)]", file: file, line: line) } }
        else { XCTAssertTrue(dB.allSatisfy(\.isNaN), "dB left alone without a bias", file: file, line: line) }
    }

    func testLeNetConv1AndOtherShapes() {
        check(batch: 3, cin: 1, cout: 6, h: 28, w: 28, pad: 2, pooledPlane: 196, bias: true)   // LeNet-5's conv1, 2×2 pool
        check(batch: 2, cin: 2, cout: 3, h: 9, w: 11, pad: 0, pooledPlane: 6, bias: false)
        check(batch: 5, cin: 3, cout: 4, h: 7, w: 6, pad: 1, pooledPlane: 9, bias: true)
    }
}
