import XCTest
@testable import Kernels

/// Max pooling's vector path (2×2, stride 2) against the definition: maximum, first index on ties,
/// and the gradient routed to it.
final class PoolingTests: XCTestCase {
    /// Runs maxPoolForward on `x` and compares every output with the definition: the maximum over
    /// the window's taps inside the image, row-major, the first index on ties.
    func assertMatchesDefinition(_ x: [Float], _ g: ConvGeometry, file: StaticString = #filePath, line: UInt = #line) {
        let (n, c, h, w) = (g.batch, g.inChannels, g.height, g.width)
        var y = [Float](repeating: .nan, count: n * c * g.outH * g.outW), am = [Int32](repeating: -7, count: y.count)
        maxPoolForward(x: x, geometry: g, y: &y, argmax: &am)
        // The same maxima when no indices are kept (inference).
        var yNoIndex = [Float](repeating: .nan, count: y.count)
        maxPoolForward(x: x, geometry: g, y: &yNoIndex, argmax: nil)
        let differing = zip(yNoIndex, y).filter { $0 != $1 }.count
        XCTAssertEqual(differing, 0, "maxima without indices differ at \(differing) outputs, \(g)", file: file, line: line)
        for p in 0..<n * c {
            for oy in 0..<g.outH {
                for ox in 0..<g.outW {
                    var best = -Float.infinity, bi = -1
                    for ki in 0..<g.kernelH { for kj in 0..<g.kernelW {
                        let iy = oy * g.stride - g.padding + ki, ix = ox * g.stride - g.padding + kj
                        guard iy >= 0 && iy < h && ix >= 0 && ix < w else { continue }
                        let v = x[p * h * w + iy * w + ix]
                        if bi < 0 || v > best { best = v; bi = iy * w + ix }
                    } }
                    let o = (p * g.outH + oy) * g.outW + ox
                    XCTAssertEqual(y[o], best, "\(n)x\(c)x\(h)x\(w) plane \(p) at \(oy),\(ox)", file: file, line: line)
                    XCTAssertEqual(Int(am[o]), bi, "\(n)x\(c)x\(h)x\(w) plane \(p) at \(oy),\(ox)", file: file, line: line)
                }
            }
        }
    }

    /// The buffered path (square windows up to 16, stride 1 or 2, any padding below the window, floor and
    /// ceil mode): odd and even paddings (the two column splits), rows shorter and longer than 16 outputs,
    /// ceil-mode windows past the edge, ties, and -inf inputs (a window of only -inf keeps its first tap).
    func testBufferedMaxPoolMatchesDefinition() {
        var rng = SeededRandom(seed: 21)
        var cases = 0
        for k in [1, 2, 3, 5, 11] {
            for st in [1, 2] {
                for pad in Set([0, k / 2, (k - 1) / 2]).sorted() {
                    for ceil in [false, true] {
                        for (h, w) in [(7, 9), (12, 37), (k, k)] {
                            var g = ConvGeometry(batch: 2, inChannels: 2, height: h, width: w, outChannels: 2, kernel: k,
                                                 stride: st, padding: pad)
                            g.ceilMode = ceil
                            guard bufferedMaxPoolApplies(g), g.outH > 0, g.outW > 0 else { continue }
                            let x = (0..<4 * h * w).map { i -> Float in
                                i % 13 == 5 ? -.infinity : Float(Int(rng.uniform(-3, 3)))
                            }
                            assertMatchesDefinition(x, g)
                            cases += 1
                        }
                    }
                }
            }
        }
        XCTAssertGreaterThan(cases, 80)
        // A plane of -inf only: every window's index is its first tap inside the image.
        var g = ConvGeometry(batch: 1, inChannels: 1, height: 6, width: 6, outChannels: 1, kernel: 3, stride: 2, padding: 1)
        g.ceilMode = true
        assertMatchesDefinition([Float](repeating: -.infinity, count: 36), g)
    }

    func testMaxPool2x2MatchesDefinition() {
        var rng = SeededRandom(seed: 9)
        for (n, c, h, w) in [(2, 3, 6, 40), (3, 2, 28, 28), (1, 1, 10, 10), (2, 4, 4, 64)] {
            let g = ConvGeometry(batch: n, inChannels: c, height: h, width: w, outChannels: c, kernel: 2, stride: 2)
            // Coarse values so ties happen.
            assertMatchesDefinition((0..<n * c * h * w).map { _ in Float(Int(rng.uniform(0, 4))) }, g)
        }
    }

    /// The 2×2 backward writes every input once: dy goes to the window's first maximum, zeros elsewhere
    /// (whatever dx held before), and with a folded ReLU only where the pooled output is above 0.
    func testMaxPool2x2GradientMatchesDefinition() {
        var rng = SeededRandom(seed: 12)
        for (n, c, h, w) in [(2, 3, 6, 40), (3, 6, 28, 28), (5, 16, 10, 10), (2, 4, 4, 64), (1, 1, 2, 2)] {
            let g = ConvGeometry(batch: n, inChannels: c, height: h, width: w, outChannels: c, kernel: 2, stride: 2)
            let x = (0..<n * c * h * w).map { _ in Float(Int(rng.uniform(-2, 3))) }
            let count = n * c * g.outH * g.outW
            let dy = (0..<count).map { _ in rng.uniform(0.5, 1.5) }
            var y = [Float](repeating: 0, count: count), am = [Int32](repeating: 0, count: count)
            maxPoolForward(x: x, geometry: g, y: &y, argmax: &am)
            for relu in [false, true] {
                var dx = [Float](repeating: .nan, count: x.count)
                maxPoolBackward(dy: dy, argmax: am, geometry: g, dx: &dx, reluOutput: relu ? y : nil)
                var expected = [Float](repeating: 0, count: x.count)
                for p in 0..<n * c { for oy in 0..<g.outH { for ox in 0..<g.outW {
                    var best = -Float.infinity, bi = -1
                    for (ki, kj) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                        let i = p * h * w + (2 * oy + ki) * w + 2 * ox + kj
                        if bi < 0 || x[i] > best { best = x[i]; bi = i }
                    }
                    if !relu || best > 0 { expected[bi] = dy[(p * g.outH + oy) * g.outW + ox] }
                } } }
                let wrong = (0..<x.count).filter { dx[$0] != expected[$0] }
                XCTAssertEqual(wrong.count, 0, "\(n)x\(c)x\(h)x\(w) relu \(relu): first wrong at \(wrong.first ?? -1)")
            }
        }
    }

    /// Maps whose output rows are narrower than 16 go 16 planes at a time: GoogLeNet's pools at 32×32
    /// input (3/2 ceil on 8×8, 3/1/1 ceil on 8×8 down to 1×1), ResNet's stem pool on 8×8, AlexNet's 3/2
    /// on 7×7; plane counts that leave a partial group; ties and -inf inputs.
    func testSmallMapMaxPoolMatchesDefinition() {
        var rng = SeededRandom(seed: 22)
        for (planes, h, k, st, pad, ceil) in [(37, 8, 3, 2, 0, true), (16, 8, 3, 1, 1, true), (33, 4, 3, 1, 1, true),
                                              (5, 2, 3, 1, 1, true), (17, 1, 3, 1, 1, true), (19, 8, 3, 2, 1, false),
                                              (20, 7, 3, 2, 0, false), (3, 13, 3, 1, 1, false), (18, 5, 2, 2, 0, true)] {
            var g = ConvGeometry(batch: 1, inChannels: planes, height: h, width: h, outChannels: planes, kernel: k,
                                 stride: st, padding: pad)
            g.ceilMode = ceil
            XCTAssertTrue(bufferedMaxPoolApplies(g) && g.outW < 16, "\(g)")
            let x = (0..<planes * h * h).map { i -> Float in i % 11 == 3 ? -.infinity : Float(Int(rng.uniform(-3, 3))) }
            assertMatchesDefinition(x, g)
        }
    }

    /// The gradient of overlapping windows (GoogLeNet's 3×3 stride-1 pools, its 3/2 ceil-mode ones) sums
    /// into each winner, with and without a folded ReLU; enough planes that the threads split them.
    func testSmallMapMaxPoolGradientMatchesDefinition() {
        var rng = SeededRandom(seed: 23)
        for (planes, h, k, st, pad) in [(2100, 2, 3, 1, 1), (300, 4, 3, 1, 1), (130, 8, 3, 2, 0), (4100, 1, 3, 1, 1)] {
            var g = ConvGeometry(batch: 1, inChannels: planes, height: h, width: h, outChannels: planes, kernel: k,
                                 stride: st, padding: pad)
            g.ceilMode = true
            let x = (0..<planes * h * h).map { _ in Float(Int(rng.uniform(-3, 3))) }, outPlane = g.outH * g.outW
            let dy = (0..<planes * outPlane).map { _ in rng.uniform(0.5, 1.5) }
            var y = [Float](repeating: 0, count: dy.count), am = [Int32](repeating: 0, count: dy.count)
            maxPoolForward(x: x, geometry: g, y: &y, argmax: &am)
            for relu in [false, true] {
                var dx = [Float](repeating: .nan, count: x.count), expected = [Float](repeating: 0, count: x.count)
                maxPoolBackward(dy: dy, argmax: am, geometry: g, dx: &dx, reluOutput: relu ? y : nil)
                for p in 0..<planes { for oy in 0..<g.outH { for ox in 0..<g.outW {
                    var best = -Float.infinity, bi = -1
                    for ki in 0..<k { for kj in 0..<k {
                        let iy = oy * st - pad + ki, ix = ox * st - pad + kj
                        guard iy >= 0 && iy < h && ix >= 0 && ix < h else { continue }
                        let i = p * h * h + iy * h + ix
                        if bi < 0 || x[i] > best { best = x[i]; bi = i }
                    } }
                    if !relu || best > 0 { expected[bi] += dy[p * outPlane + oy * g.outW + ox] }
                } } }
                let wrong = (0..<x.count).filter { abs(dx[$0] - expected[$0]) > 1e-6 * max(1, abs(expected[$0])) || dx[$0].isNaN }
                XCTAssertEqual(wrong.count, 0, "\(planes) planes \(h)×\(h) k\(k)/\(st)/\(pad) relu \(relu): first wrong at \(wrong.first ?? -1)")
                if h > 1 { XCTAssertTrue(expected.contains { $0 > 1.6 }, "some input won more than one window") }
            }
        }
    }

    /// The 3×3 stride-2 padding-1 path (ResNet's stem) against the general definition, ties included.
    func testMaxPool3x3Stride2Padding1MatchesDefinition() {
        var rng = SeededRandom(seed: 10)
        for (n, c, h, w) in [(2, 3, 16, 16), (1, 2, 7, 9), (2, 1, 40, 37), (1, 1, 1, 1)] {
            let g = ConvGeometry(batch: n, inChannels: c, height: h, width: w, outChannels: c, kernel: 3, stride: 2, padding: 1)
            assertMatchesDefinition((0..<n * c * h * w).map { _ in Float(Int(rng.uniform(-2, 2))) }, g)
        }
    }

    /// Shapes neither fast path takes (odd sizes, stride 1, wide padding) go through the general loop.
    func testGeneralMaxPoolMatchesDefinition() {
        var rng = SeededRandom(seed: 11)
        for (k, st, pad, h, w) in [(2, 2, 0, 7, 9), (3, 1, 1, 6, 5), (3, 3, 1, 10, 8)] {
            let g = ConvGeometry(batch: 2, inChannels: 3, height: h, width: w, outChannels: 3, kernel: k, stride: st, padding: pad)
            assertMatchesDefinition((0..<6 * h * w).map { _ in Float(Int(rng.uniform(-2, 2))) }, g)
        }
    }
}
