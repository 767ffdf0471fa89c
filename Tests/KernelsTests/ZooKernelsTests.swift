import XCTest
@testable import Kernels

/// The kernels AlexNet, VGG and GoogLeNet added, against direct definitions: adaptive average
/// pooling (PyTorch's bins, values printed by PyTorch), ceil-mode max pooling (output sides printed by
/// PyTorch), dropout's mask and scale, channel concatenation.
final class ZooKernelsTests: XCTestCase {
    /// F.adaptive_avg_pool2d(arange(35).view(1,1,5,7), (3,2)) and (7,3), as PyTorch prints them:
    /// overlapping bins (7 rows from 5) and uneven ones.
    func testAdaptiveAvgPoolMatchesPyTorchValues() {
        let x = (0..<35).map(Float.init)
        for (oh, ow, want) in [(3, 2, [5.0, 8, 15.5, 18.5, 26, 29] as [Float]),
                               (7, 3, [1, 3, 5, 4.5, 6.5, 8.5, 11.5, 13.5, 15.5, 15, 17, 19, 18.5, 20.5, 22.5,
                                       25.5, 27.5, 29.5, 29, 31, 33])] {
            var y = [Float](repeating: .nan, count: oh * ow)
            adaptiveAvgPoolForward(x: x, planes: 1, height: 5, width: 7, outH: oh, outW: ow, y: &y)
            XCTAssertEqual(y, want, "\(oh)×\(ow)")
        }
        // A 1×1 map (AlexNet and VGG on small images) repeats each plane's one value over the bins.
        var y = [Float](repeating: .nan, count: 3 * 6)
        adaptiveAvgPoolForward(x: [2, -1, 0.5], planes: 3, height: 1, width: 1, outH: 2, outW: 3, y: &y)
        XCTAssertEqual(y, [2, 2, 2, 2, 2, 2, -1, -1, -1, -1, -1, -1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    }

    /// The backward is the forward's adjoint: <dy, forward(x)> = <backward(dy), x> for random x, dy,
    /// including a 1×1 map spread to 6×6 (AlexNet on small images).
    func testAdaptiveAvgPoolBackwardIsAdjoint() {
        var rng = SeededRandom(seed: 3)
        for (h, w, oh, ow) in [(5, 7, 3, 2), (5, 7, 7, 3), (1, 1, 6, 6), (13, 13, 6, 6), (2, 3, 7, 7)] {
            let planes = 3
            let x = (0..<planes * h * w).map { _ in rng.uniform(-1, 1) }, dy = (0..<planes * oh * ow).map { _ in rng.uniform(-1, 1) }
            var y = [Float](repeating: 0, count: dy.count), dx = [Float](repeating: .nan, count: x.count)
            adaptiveAvgPoolForward(x: x, planes: planes, height: h, width: w, outH: oh, outW: ow, y: &y)
            adaptiveAvgPoolBackward(dy: dy, planes: planes, height: h, width: w, outH: oh, outW: ow, dx: &dx)
            let a = zip(dy, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let b = zip(dx, x).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(a)), "\(h)×\(w) -> \(oh)×\(ow)")
        }
    }

    /// A 1×1 map against loops, for bin counts below, at and past 16: the forward repeats each plane's value,
    /// the backward sums each plane's gradient (also the repeated-input linear layer's two passes over its
    /// weight, Models' Linear.forward(repeating:)). The buffers' spare tails are never written.
    func testOneByOneMapAgainstLoops() {
        var rng = SeededRandom(seed: 17)
        for (planes, out) in [(12, 1), (15, 5), (14, 16), (20, 36), (6, 49)] {
            let dy = (0..<planes * out).map { _ in rng.uniform(-1, 1) }
            var dx = [Float](repeating: 99, count: planes + 1)
            adaptiveAvgPoolBackward(dy: dy, planes: planes, height: 1, width: 1, outH: out, outW: 1, dx: &dx)
            for p in 0..<planes {
                let s = (0..<out).reduce(0.0) { $0 + Double(dy[p * out + $1]) }
                XCTAssertEqual(Double(dx[p]), s, accuracy: 1e-5 * Double(out), "\(out) bins, plane \(p)")
            }
            XCTAssertEqual(dx[planes], 99, "\(out) bins: past the last plane")
            var y = [Float](repeating: 99, count: (planes + 1) * out)
            adaptiveAvgPoolForward(x: dx, planes: planes, height: 1, width: 1, outH: out, outW: 1, y: &y)
            for p in 0..<planes { for j in 0..<out { XCTAssertEqual(y[p * out + j], dx[p]) } }
            XCTAssertTrue(y[(planes * out)...].allSatisfy { $0 == 99 }, "\(out) bins: past the last plane")
        }
    }

    /// nn.MaxPool2d(k, s, p, ceil_mode=True)'s output side for n×n inputs, as PyTorch printed it
    /// (the last two rows drop a window that would start past the input: the rule's second half).
    func testCeilModeOutputSidesMatchPyTorch() {
        for (n, k, s, p, want, floorWant) in [(16, 3, 2, 0, 8, 7), (8, 3, 2, 0, 4, 3), (4, 3, 2, 0, 2, 1), (112, 3, 2, 0, 56, 55),
                                              (6, 3, 2, 1, 4, 3), (9, 4, 3, 0, 3, 2), (7, 3, 3, 1, 3, 3), (1, 3, 1, 1, 1, 1),
                                              (2, 1, 2, 0, 1, 1), (1, 2, 2, 1, 1, 1)] {
            var g = ConvGeometry(batch: 1, inChannels: 1, height: n, width: n, outChannels: 1, kernel: k, stride: s, padding: p)
            XCTAssertEqual(g.outH, floorWant, "floor \(n) \(k) \(s) \(p)")
            g.ceilMode = true
            XCTAssertEqual(g.outH, want, "ceil \(n) \(k) \(s) \(p)")
            XCTAssertEqual(g.outW, want)
        }
    }

    /// Ceil-mode max pooling against the definition: each window clipped to the image (and padding
    /// -inf), the first maximum wins; including the 3×3/2 and 2×2/2 shapes that have fast paths in floor mode.
    func testCeilModeMaxPoolMatchesDefinition() {
        var rng = SeededRandom(seed: 4)
        for (h, w, k, s, p) in [(8, 8, 3, 2, 0), (7, 9, 2, 2, 0), (6, 6, 3, 2, 1), (5, 5, 3, 1, 1), (16, 16, 3, 2, 0)] {
            var g = ConvGeometry(batch: 2, inChannels: 3, height: h, width: w, outChannels: 3, kernel: k, stride: s, padding: p)
            g.ceilMode = true
            let x = (0..<2 * 3 * h * w).map { _ in rng.uniform(-1, 1) }
            var y = [Float](repeating: .nan, count: 2 * 3 * g.outH * g.outW)
            var am = [Int32](repeating: -7, count: y.count)
            maxPoolForward(x: x, geometry: g, y: &y, argmax: &am)
            for nc in 0..<6 { for oy in 0..<g.outH { for ox in 0..<g.outW {
                var best = -Float.infinity, bi = -1
                for i in 0..<k { for j in 0..<k {
                    let iy = oy * s - p + i, ix = ox * s - p + j
                    guard iy >= 0 && iy < h && ix >= 0 && ix < w else { continue }
                    if x[nc * h * w + iy * w + ix] > best { best = x[nc * h * w + iy * w + ix]; bi = iy * w + ix }
                } }
                let o = (nc * g.outH + oy) * g.outW + ox
                XCTAssertEqual(y[o], best, "\(g) [\(nc)][\(oy)][\(ox)]")
                XCTAssertEqual(Int(am[o]), bi)
            } } }
        }
    }

    /// y = x · keep / (1 - p), keep from the documented hash of (seed, salt, step, position): about 1 - p
    /// of the elements kept, the same mask for the same step, another for the next step or another seed.
    func testDropoutMaskAndScale() {
        let n = 20_000, x = (0..<n).map { Float($0 % 7) + 1 }
        for p: Float in [0.5, 0.2] {
            var y = [Float](repeating: .nan, count: n), mask = y
            dropoutForward(x: x, count: n, p: p, seed: 5, salt: 11, step: 7, firstPosition: 0, mask: &mask, y: &y)
            var kept = 0
            for i in 0..<n {
                // The formula written out again, as the fixture script computes it.
                let seed: UInt64 = 5, salt: UInt64 = 11, step: UInt64 = 7
                var z: UInt64 = seed &* 0x9E37_79B9_7F4A_7C15
                z = z &+ salt &* 0xC2B2_AE3D_27D4_EB4F
                z = z &+ step &* 0x1656_67B1_9E37_79F9 &+ UInt64(i)
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z ^= z >> 31
                let keep = Double(z >> 40) >= (Double(p) * 16_777_216).rounded(.up)
                XCTAssertEqual(y[i], keep ? x[i] / (1 - p) : 0, accuracy: 1e-6 * x[i], "p \(p) [\(i)]")
                if keep { kept += 1 }
            }
            XCTAssertEqual(Double(kept) / Double(n), Double(1 - p), accuracy: 0.02)
            var dx = [Float](repeating: .nan, count: n)
            let dy = [Float](repeating: 1, count: n)
            dropoutBackward(dy: dy, mask: mask, count: n, dx: &dx)
            XCTAssertEqual(dx, mask)
            var again = [Float](repeating: 0, count: n), next = again, other = again, m2 = again
            dropoutForward(x: x, count: n, p: p, seed: 5, salt: 11, step: 7, firstPosition: 0, mask: &m2, y: &again)
            XCTAssertEqual(again, y, "same seed and step, same mask")
            dropoutForward(x: x, count: n, p: p, seed: 5, salt: 11, step: 8, firstPosition: 0, mask: &m2, y: &next)
            XCTAssertNotEqual(next, y, "the next step draws another mask")
            dropoutForward(x: x, count: n, p: p, seed: 6, salt: 11, step: 7, firstPosition: 0, mask: &m2, y: &other)
            XCTAssertNotEqual(other, y, "another seed draws another mask")
            // A slice of the batch from position 1000 draws the whole batch's mask there.
            var part = [Float](repeating: 0, count: 500), pm = part
            Array(x[1000..<1500]).withUnsafeBufferPointer {
                dropoutForward(x: $0.baseAddress!, count: 500, p: p, seed: 5, salt: 11, step: 7, firstPosition: 1000, mask: &pm, y: &part)
            }
            XCTAssertEqual(part, Array(y[1000..<1500]))
        }
    }

    /// Concatenation along channels: part i lands at its channel offset in every sample, and the split
    /// takes it back out.
    func testChannelConcatenation() {
        let batch = 2, plane = 3, total = 5
        let a = (0..<batch * 2 * plane).map { Float($0) }, b = (0..<batch * 3 * plane).map { Float(100 + $0) }
        var y = [Float](repeating: .nan, count: batch * total * plane)
        copyChannelsIn(a, batch: batch, channels: 2, plane: plane, into: &y, total: total, offset: 0)
        copyChannelsIn(b, batch: batch, channels: 3, plane: plane, into: &y, total: total, offset: 2)
        var want: [Float] = []
        for n in 0..<batch { want += Array(a[(n * 6)..<(n * 6 + 6)]); want += Array(b[(n * 9)..<(n * 9 + 9)]) }
        XCTAssertEqual(y, want)
        var back = [Float](repeating: .nan, count: b.count)
        copyChannelsOut(y, batch: batch, channels: 3, plane: plane, total: total, offset: 2, into: &back)
        XCTAssertEqual(back, b)
    }
}
