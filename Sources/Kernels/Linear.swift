import Foundation

/// y[b][o] = sum_i x[b][i] w[o][i] + bias[o]   (PyTorch's nn.Linear layout: weight is out × in).
public func linearForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                          batch: Int, inFeatures: Int, outFeatures: Int, y: UnsafeMutablePointer<Float>) {
    // Dot products along i: x's and the weight's rows both run along i, so nothing is packed or
    // transposed (the packed GEMM transposed all of fc1's 400×120 weight each call: slower, see BENCHMARKS.md).
    // Rows that end in a partial vector (fc2's 120, fc3's 84) stay with the GEMM.
    // Wide layers (AlexNet's and VGG's 9216/25088 × 4096) go to the GEMM as well: there the dot products
    // re-read a 4×in block of x and of W per 16 outputs and ran at 20 GFLOP/s (BENCHMARKS.md).
    guard inFeatures % 16 == 0 && inFeatures * outFeatures < 1 << 20 else {
        gemm(transB: true, m: batch, n: outFeatures, k: inFeatures, a: x, lda: inFeatures, b: weight, ldb: inFeatures,
             c: y, ldc: outFeatures)
        if let bias {
            for b in 0..<batch { let row = y + b * outFeatures; for o in 0..<outFeatures { row[o] += bias[o] } }
        }
        return
    }
    let rowBlocks = (batch + 3) / 4, colBlocks = (outFeatures + 3) / 4
    Parallel.ranges(rowBlocks, grain: max(1, 16384 / max(1, 16 * colBlocks * inFeatures))) { r in
        var tile = (SIMD16<Float>(), SIMD16<Float>())
        for rb in r {
            let i0 = rb * 4
            let x0 = x + min(i0, batch - 1) * inFeatures, x1 = x + min(i0 + 1, batch - 1) * inFeatures
            let x2 = x + min(i0 + 2, batch - 1) * inFeatures, x3 = x + min(i0 + 3, batch - 1) * inFeatures
            for cb in 0..<colBlocks {
                let o0 = cb * 4
                withUnsafeMutableBytes(of: &tile) { raw in
                    let t = raw.baseAddress!.assumingMemoryBound(to: Float.self)
                    dotRows4x4(inFeatures, x0, x1, x2, x3, weight + min(o0, outFeatures - 1) * inFeatures,
                               weight + min(o0 + 1, outFeatures - 1) * inFeatures,
                               weight + min(o0 + 2, outFeatures - 1) * inFeatures,
                               weight + min(o0 + 3, outFeatures - 1) * inFeatures, t)
                    for i in 0..<min(4, batch - i0) {
                        for j in 0..<min(4, outFeatures - o0) {
                            y[(i0 + i) * outFeatures + o0 + j] = t[i * 4 + j] + (bias?[o0 + j] ?? 0)
                        }
                    }
                }
            }
        }
    }
}

/// t[i·4 + j] = Σ_k a_i[k] · b_j[k] over k contiguous floats (k a multiple of 16), for 4 rows a and 4 rows b.
@inline(never)
func dotRows4x4(_ k: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ a2: UnsafePointer<Float>,
                _ a3: UnsafePointer<Float>, _ b0: UnsafePointer<Float>, _ b1: UnsafePointer<Float>,
                _ b2: UnsafePointer<Float>, _ b3: UnsafePointer<Float>, _ t: UnsafeMutablePointer<Float>) {
    guard wideRegisters else {
        // 16 accumulators and 8 rows' vectors overflow AVX2's 16 registers: 2×2 blocks, the rows read twice.
        for block in 0..<4 {
            let i0 = block & 2, j0 = (block & 1) * 2
            let (p0, p1) = i0 == 0 ? (a0, a1) : (a2, a3), (q0, q1) = j0 == 0 ? (b0, b1) : (b2, b3)
            var c00 = SIMD16<Float>(), c01 = c00, c10 = c00, c11 = c00
            var o = 0
            while o + 16 <= k {
                let v0 = load16(p0 + o), v1 = load16(p1 + o), w0 = load16(q0 + o), w1 = load16(q1 + o)
                c00.addProduct(v0, w0); c01.addProduct(v0, w1); c10.addProduct(v1, w0); c11.addProduct(v1, w1)
                o += 16
            }
            t[i0 * 4 + j0] = hsum(c00); t[i0 * 4 + j0 + 1] = hsum(c01)
            t[(i0 + 1) * 4 + j0] = hsum(c10); t[(i0 + 1) * 4 + j0 + 1] = hsum(c11)
        }
        return
    }
    var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c02 = SIMD16<Float>(), c03 = SIMD16<Float>()
    var c10 = SIMD16<Float>(), c11 = SIMD16<Float>(), c12 = SIMD16<Float>(), c13 = SIMD16<Float>()
    var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c22 = SIMD16<Float>(), c23 = SIMD16<Float>()
    var c30 = SIMD16<Float>(), c31 = SIMD16<Float>(), c32 = SIMD16<Float>(), c33 = SIMD16<Float>()
    @inline(__always) func step(_ v0: SIMD16<Float>, _ v1: SIMD16<Float>, _ v2: SIMD16<Float>, _ v3: SIMD16<Float>,
                                _ w0: SIMD16<Float>, _ w1: SIMD16<Float>, _ w2: SIMD16<Float>, _ w3: SIMD16<Float>) {
        c00.addProduct(v0, w0); c01.addProduct(v0, w1); c02.addProduct(v0, w2); c03.addProduct(v0, w3)
        c10.addProduct(v1, w0); c11.addProduct(v1, w1); c12.addProduct(v1, w2); c13.addProduct(v1, w3)
        c20.addProduct(v2, w0); c21.addProduct(v2, w1); c22.addProduct(v2, w2); c23.addProduct(v2, w3)
        c30.addProduct(v3, w0); c31.addProduct(v3, w1); c32.addProduct(v3, w2); c33.addProduct(v3, w3)
    }
    var o = 0
    while o + 16 <= k {
        step(load16(a0 + o), load16(a1 + o), load16(a2 + o), load16(a3 + o),
             load16(b0 + o), load16(b1 + o), load16(b2 + o), load16(b3 + o))
        o += 16
    }
    t[0] = hsum(c00); t[1] = hsum(c01); t[2] = hsum(c02); t[3] = hsum(c03)
    t[4] = hsum(c10); t[5] = hsum(c11); t[6] = hsum(c12); t[7] = hsum(c13)
    t[8] = hsum(c20); t[9] = hsum(c21); t[10] = hsum(c22); t[11] = hsum(c23)
    t[12] = hsum(c30); t[13] = hsum(c31); t[14] = hsum(c32); t[15] = hsum(c33)
}

/// dWeight, dBias overwritten; dx overwritten when given.
public func linearBackward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                           batch: Int, inFeatures: Int, outFeatures: Int, dWeight: UnsafeMutablePointer<Float>,
                           dBias: UnsafeMutablePointer<Float>?, dx: UnsafeMutablePointer<Float>?) {
    gemm(transA: true, m: outFeatures, n: inFeatures, k: batch, a: dy, lda: outFeatures, b: x, ldb: inFeatures,
         c: dWeight, ldc: inFeatures)
    if let dBias {
        for o in 0..<outFeatures { var s: Float = 0; for b in 0..<batch { s += dy[b * outFeatures + o] }; dBias[o] = s }
    }
    if let dx {
        gemm(m: batch, n: inFeatures, k: outFeatures, a: dy, lda: outFeatures, b: weight, ldb: inFeatures,
             c: dx, ldc: inFeatures)
    }
}
