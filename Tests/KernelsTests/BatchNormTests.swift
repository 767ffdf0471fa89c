import XCTest
@testable import Kernels

/// Training-mode batch norm, forward and backward, against its definition computed in Double, for
/// the plane sizes of each code path: vectors inside a plane, in slabs of four images (16, 64; batch 6:
/// a second slab part-filled), image by image (256; 69984 over two blocks of channels), vectors spanning
/// whole channels (1, 4: ResNet's layer4 and layer3 maps) and the per-plane fallback (3, 25, 49: vectors
/// and a tail).
final class BatchNormTests: XCTestCase {
    func testTrainingForwardAndBackwardMatchDefinition() {
        var rng = SeededRandom(seed: 21)
        for (n, c, p) in [(3, 32, 1), (2, 8, 4), (2, 4, 16), (6, 4, 16), (3, 2, 64), (6, 3, 256), (3, 5, 69984), (2, 5, 3),
                          (2, 3, 25), (2, 3, 49)] {
            let size = n * c * p
            // An offset mean per channel, so that a variance taken around a wrong mean shows.
            var x = [Float](repeating: 0, count: size)
            for i in 0..<size { let offset = Float((i / p) % c) * 0.5; x[i] = rng.uniform(-1, 1) * 2 + offset }
            let dy = (0..<size).map { _ in rng.uniform(-1, 1) }
            let gamma = (0..<c).map { _ in rng.uniform(0.5, 1.5) }, beta = (0..<c).map { _ in rng.uniform(-1, 1) }
            var rm = (0..<c).map { _ in rng.uniform(-1, 1) }, rv = (0..<c).map { _ in rng.uniform(0.5, 2) }
            let rm0 = rm, rv0 = rv
            var sm = [Float](repeating: 0, count: c), si = sm, y = [Float](repeating: 0, count: size)
            let s = BatchNormShape(batch: n, channels: c, planeSize: p)
            let eps: Float = 1e-5, momentum: Float = 0.1
            batchNormTrainForward(x: x, s: s, gamma: gamma, beta: beta, eps: eps, momentum: momentum, runningMean: &rm,
                                  runningVar: &rv, savedMean: &sm, savedInvStd: &si, y: &y)
            var dx = [Float](repeating: 0, count: size), dGamma = [Float](repeating: 0, count: c), dBeta = dGamma
            batchNormBackward(dy: dy, x: x, s: s, gamma: gamma, savedMean: sm, savedInvStd: si, dGamma: &dGamma,
                              dBeta: &dBeta, dx: &dx)

            let m = Double(n * p), tag = "n\(n) c\(c) plane \(p)"
            for ch in 0..<c {
                var idx: [Int] = []
                for i in 0..<n { for j in 0..<p { idx.append((i * c + ch) * p + j) } }
                let xs: [Double] = idx.map { Double(x[$0]) }, dys: [Double] = idx.map { Double(dy[$0]) }
                let mean: Double = xs.reduce(0, +) / m
                let variance: Double = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / m
                let inv: Double = 1 / (variance + Double(eps)).squareRoot()
                let g = Double(gamma[ch]), b = Double(beta[ch])
                XCTAssertEqual(Double(sm[ch]), mean, accuracy: 1e-5, tag)
                XCTAssertEqual(Double(si[ch]), inv, accuracy: 1e-4 * inv, tag)
                XCTAssertEqual(Double(rm[ch]), 0.9 * Double(rm0[ch]) + 0.1 * mean, accuracy: 1e-5, tag)
                let unbiased: Double = variance * m / (m - 1)
                XCTAssertEqual(Double(rv[ch]), 0.9 * Double(rv0[ch]) + 0.1 * unbiased, accuracy: 1e-4, tag)
                let xhat: [Double] = xs.map { ($0 - mean) * inv }
                let sumDy: Double = dys.reduce(0, +)
                var sumDyXhat = 0.0
                for j in 0..<idx.count { sumDyXhat += dys[j] * xhat[j] }
                // Sums of up to 210k terms, as floats: to 1e-4 of their size (a float's 500 is 3e-5 from the next).
                XCTAssertEqual(Double(dBeta[ch]), sumDy, accuracy: 1e-4 * max(1, abs(sumDy)), tag)
                XCTAssertEqual(Double(dGamma[ch]), sumDyXhat, accuracy: 1e-4 * max(1, abs(sumDyXhat)), tag)
                // The worst element of each, asserted once (a million asserts would take the suite's minutes).
                var worstY = (0.0, 0), worstDx = (0.0, 0)
                for (j, i) in idx.enumerated() {
                    let ey = abs(Double(y[i]) - (g * xhat[j] + b))
                    let want: Double = g * inv / m * (m * dys[j] - sumDy - xhat[j] * sumDyXhat)
                    let edx = abs(Double(dx[i]) - want)
                    if !(ey <= worstY.0) { worstY = (ey, i) }
                    if !(edx <= worstDx.0) { worstDx = (edx, i) }
                }
                XCTAssertLessThanOrEqual(worstY.0, 1e-4, "\(tag) y[\(worstY.1)]")
                XCTAssertLessThanOrEqual(worstDx.0, 1e-4, "\(tag) dx[\(worstDx.1)]")
            }
        }
    }
}

/// The forward with the shortcut's add and the ReLU in its output pass, and the backward that applies
/// the ReLU's mask while summing, give exactly what the separate kernels give one after another
/// (the same float operations), on every code path's plane sizes.
final class BatchNormFusedTests: XCTestCase {
    func testAddAndReLUInTheOutputPassMatchTheSeparateKernels() {
        var rng = SeededRandom(seed: 22)
        // Blocks of channels (69984 above) are the same walk for these variants: not again here, at 16 s.
        for (n, c, p) in [(3, 32, 1), (2, 8, 4), (2, 4, 16), (6, 4, 16), (3, 2, 64), (6, 3, 256), (2, 5, 3), (2, 3, 25),
                          (2, 3, 49)] {
            let size = n * c * p, s = BatchNormShape(batch: n, channels: c, planeSize: p), tag = "n\(n) c\(c) plane \(p)"
            let x = (0..<size).map { _ in rng.uniform(-2, 2) }, shortcut = (0..<size).map { _ in rng.uniform(-1, 1) }
            let dy = (0..<size).map { _ in rng.uniform(-1, 1) }
            let gamma = (0..<c).map { _ in rng.uniform(0.5, 1.5) }, beta = (0..<c).map { _ in rng.uniform(-1, 1) }
            for residual in [false, true] {
                // Apart: normalise, add, ReLU; then ReLU's backward, batch norm's.
                var rm = [Float](repeating: 0, count: c), rv = [Float](repeating: 1, count: c), sm = rm, si = rm
                var y = [Float](repeating: 0, count: size)
                batchNormTrainForward(x: x, s: s, gamma: gamma, beta: beta, eps: 1e-5, momentum: 0.1, runningMean: &rm,
                                      runningVar: &rv, savedMean: &sm, savedInvStd: &si, y: &y)
                if residual { addInPlace(&y, shortcut, count: size) }
                reluForward(x: y, count: size, y: &y)
                var masked = dy, dx = [Float](repeating: 0, count: size), dGamma = [Float](repeating: 0, count: c), dBeta = dGamma
                reluBackward(dy: masked, y: y, count: size, dx: &masked)
                batchNormBackward(dy: masked, x: x, s: s, gamma: gamma, savedMean: sm, savedInvStd: si, dGamma: &dGamma,
                                  dBeta: &dBeta, dx: &dx)

                var frm = [Float](repeating: 0, count: c), frv = [Float](repeating: 1, count: c), fsm = frm, fsi = frm
                var fy = [Float](repeating: 0, count: size)
                shortcut.withUnsafeBufferPointer { sc in
                    batchNormTrainForward(x: x, s: s, gamma: gamma, beta: beta, eps: 1e-5, momentum: 0.1, runningMean: &frm,
                                          runningVar: &frv, savedMean: &fsm, savedInvStd: &fsi, y: &fy,
                                          residual: residual ? sc.baseAddress : nil, relu: true)
                }
                XCTAssertEqual(fy, y, "\(tag) residual \(residual): forward")
                XCTAssertTrue(fy.contains(0) && fy.contains { $0 > 0 }, "\(tag): the ReLU cut some values, kept others")
                XCTAssertEqual(frm, rm, tag); XCTAssertEqual(frv, rv, tag)
                var fdy = dy, fdx = [Float](repeating: 0, count: size), fdGamma = [Float](repeating: 0, count: c), fdBeta = fdGamma
                batchNormReLUBackward(dy: &fdy, reluOutput: fy, x: x, s: s, gamma: gamma, savedMean: fsm, savedInvStd: fsi,
                                      dGamma: &fdGamma, dBeta: &fdBeta, dx: &fdx)
                XCTAssertEqual(fdy, masked, "\(tag) residual \(residual): dy left as the ReLU's input gradient")
                XCTAssertEqual(fdx, dx, "\(tag) residual \(residual): dx")
                XCTAssertEqual(fdGamma, dGamma, tag); XCTAssertEqual(fdBeta, dBeta, tag)
                // In place (dx over dy), as bn1 runs it.
                var inPlace = dy
                inPlace.withUnsafeMutableBufferPointer { d in
                    batchNormReLUBackward(dy: d.baseAddress!, reluOutput: fy, x: x, s: s, gamma: gamma, savedMean: fsm,
                                          savedInvStd: fsi, dGamma: &fdGamma, dBeta: &fdBeta, dx: d.baseAddress!)
                }
                XCTAssertEqual(inPlace, dx, "\(tag) residual \(residual): dx in place")
                guard !residual else { continue }
                // In place with the ReLU's mask recomputed from x and the forward's map, worked out again from
                // γ, β and the saved statistics (bn1's path).
                var ay = [Float](repeating: 0, count: size)
                var arm = [Float](repeating: 0, count: c), arv = [Float](repeating: 1, count: c), asm = arm, asi = arm
                batchNormTrainForward(x: x, s: s, gamma: gamma, beta: beta, eps: 1e-5, momentum: 0.1, runningMean: &arm,
                                      runningVar: &arv, savedMean: &asm, savedInvStd: &asi, y: &ay, relu: true)
                XCTAssertEqual(ay, y, "\(tag): forward again")
                var recomputed = dy, adGamma = [Float](repeating: .nan, count: c), adBeta = adGamma
                // The ReLU's output is read only where the plane leaves the vector path; a wrong one shows there.
                batchNormReLUBackwardInPlace(dy: &recomputed, reluOutput: ay, x: x, s: s, gamma: gamma, beta: beta, savedMean: asm,
                                             savedInvStd: asi, dGamma: &adGamma, dBeta: &adBeta)
                XCTAssertEqual(recomputed, dx, "\(tag): dx with the mask from x")
                XCTAssertEqual(adGamma, dGamma, tag); XCTAssertEqual(adBeta, dBeta, tag)
            }
        }
    }
}
