import CCacheHints
import Foundation

// Block transposes between [rows][elements] and [elements][32 lanes], 16×16 blocks at a time through
// registers: the panels' pixel-major layouts and the dW re-layouts.

/// `transposeBlockIn` of images laid out [channels][plane] into [pixel][channel][32 images]: element
/// e = c·plane + p of image j goes to dst[(p·channels + c)·32 + j].
@inline(never)
func transposeToPixelChannel(_ src: UnsafePointer<Float>, count: Int, stride: Int, channels: Int, plane: Int,
                             _ dst: UnsafeMutablePointer<Float>) {
    let len = channels * plane, full = len / 16 * 16
    @inline(__always) func row(_ e: Int) -> UnsafeMutablePointer<Float> { dst + ((e % plane) * channels + e / plane) * panelWidth }
    for j0 in [0, 16] {
        var e0 = 0
        while e0 < full {
            var m = Block16 { i in j0 + i < count ? load16(src + (j0 + i) * stride + e0) : SIMD16<Float>() }
            m.transpose()
            m.forEachRow { i, v in store16(v, row(e0 + i) + j0) }
            e0 += 16
        }
    }
    for j in 0..<panelWidth {
        for e in full..<len { row(e)[j] = j < count ? src[j * stride + e] : 0 }
    }
}

/// dst[e · dstStride + j] = src[j * stride + e] for j < count (0 for count..<lanes), e < len: `lanes`
/// (32 or 16) images or channels side by side. 16×16 blocks go through registers (`Block16`); when len
/// is at least 16 the last len % 16 rows are the end of one more block, which rewrites the rows it
/// shares with the block before with the same values; shorter runs one float at a time.
func transposeBlockIn(_ src: UnsafePointer<Float>, count: Int, stride: Int, len: Int, _ dst: UnsafeMutablePointer<Float>,
                      dstStride: Int = panelWidth, lanes: Int = panelWidth) {
    for j0 in Swift.stride(from: 0, to: lanes, by: 16) {
        var e0 = 0
        while e0 < len && len >= 16 {
            e0 = min(e0, len - 16)
            var m = Block16 { i in j0 + i < count ? load16(src + (j0 + i) * stride + e0) : SIMD16<Float>() }
            m.transpose()
            m.forEachRow { i, v in store16(v, dst + (e0 + i) * dstStride + j0) }
            e0 += 16
        }
    }
    if len >= 16 { return }
    for j in 0..<lanes {
        if j >= count { for e in 0..<len { dst[e * dstStride + j] = 0 }; continue }
        let sp = src + j * stride
        for e in 0..<len { dst[e * dstStride + j] = sp[e] }
    }
}

/// `count` rows (count <= 16, `stride` apart), elements 0 ..< len, into two panels of 8 lanes (d1 nil: one):
/// element e of row r at (r < 8 ? d0 : d1) + e · dstStride + r % 8, zeros past count (one image's dy rows
/// for the weight gradient, a conv's weight rows for the forward's A panels). 16 elements at a time
/// through a register transpose; the last len % 16 are the end of one more block when len >= 16.
func transposeRowsToPanels(_ src: UnsafePointer<Float>, count: Int, stride: Int, len: Int, _ d0: UnsafeMutablePointer<Float>,
                           _ d1: UnsafeMutablePointer<Float>?, dstStride: Int) {
    var p = 0
    while p < len && len >= 16 {
        p = min(p, len - 16)
        var m = Block16 { r in r < count ? load16(src + r * stride + p) : SIMD16<Float>() }
        m.transpose()
        m.forEachRow { k, v in
            store8(low8(v), d0 + (p + k) * dstStride)
            if let d1 { store8(high8(v), d1 + (p + k) * dstStride) }
        }
        p += 16
    }
    if len >= 16 { return }
    for p in 0..<len {
        for r in 0..<(d1 == nil ? mr : 2 * mr) {
            (r < mr ? d0 : d1!)[p * dstStride + r % mr] = r < count ? src[r * stride + p] : 0
        }
    }
}

/// dst[j * stride + e] = src[e · srcStride + j] for j < count: the inverse of transposeBlockIn. Moves
/// bits only, so 32-bit integers cast to floats come out unchanged.
@inline(never)
func transposeBlockOut(_ src: UnsafePointer<Float>, count: Int, stride: Int, len: Int, _ dst: UnsafeMutablePointer<Float>,
                       srcStride: Int = panelWidth) {
    let full = len / 16 * 16
    for j0 in [0, 16] where j0 < count {
        var e0 = 0
        while e0 < full {
            var m = Block16 { i in load16(src + (e0 + i) * srcStride + j0) }
            m.transpose()
            m.forEachRow { i, v in if j0 + i < count { store16(v, dst + (j0 + i) * stride + e0) } }
            e0 += 16
        }
    }
    for j in 0..<count {
        let dp = dst + j * stride
        for e in full..<len { dp[e] = src[e * srcStride + j] }
    }
}

/// Sixteen vectors as a 16×16 matrix of rows, transposed in registers: four rounds of de-interleaving
/// row pairs (each round rotates the 8-bit (row, column) index right by one bit; four make it (column, row)).
struct Block16 {
    var v0 = SIMD16<Float>(), v1 = SIMD16<Float>(), v2 = SIMD16<Float>(), v3 = SIMD16<Float>()
    var v4 = SIMD16<Float>(), v5 = SIMD16<Float>(), v6 = SIMD16<Float>(), v7 = SIMD16<Float>()
    var v8 = SIMD16<Float>(), v9 = SIMD16<Float>(), v10 = SIMD16<Float>(), v11 = SIMD16<Float>()
    var v12 = SIMD16<Float>(), v13 = SIMD16<Float>(), v14 = SIMD16<Float>(), v15 = SIMD16<Float>()

    /// The rows load(0) … load(15), written out so no row index survives to run time.
    @inline(__always) init(_ load: (Int) -> SIMD16<Float>) {
        v0 = load(0); v1 = load(1); v2 = load(2); v3 = load(3); v4 = load(4); v5 = load(5); v6 = load(6); v7 = load(7)
        v8 = load(8); v9 = load(9); v10 = load(10); v11 = load(11); v12 = load(12); v13 = load(13); v14 = load(14)
        v15 = load(15)
    }

    /// body(i, row i) for the 16 rows, unrolled.
    @inline(__always) func forEachRow(_ body: (Int, SIMD16<Float>) -> Void) {
        body(0, v0); body(1, v1); body(2, v2); body(3, v3); body(4, v4); body(5, v5); body(6, v6); body(7, v7)
        body(8, v8); body(9, v9); body(10, v10); body(11, v11); body(12, v12); body(13, v13); body(14, v14)
        body(15, v15)
    }

    @inline(__always) mutating func transpose() {
        guard nntop_avx2_shuffles() == 0 else {
            // AVX2: the 32 registers' worth of rows were spilled between the four rounds anyway; through
            // memory, as four 8×8 transposes of 8 registers each (the rows lie in declaration order,
            // which TileProductTests' transpose check relies on).
            withUnsafeMutablePointer(to: &self) { p in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 256) { t in
                    let m = UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self), d = t.baseAddress!
                    nntop_transpose8(m, 16, d, 16); nntop_transpose8(m + 8, 16, d + 128, 16)
                    nntop_transpose8(m + 128, 16, d + 8, 16); nntop_transpose8(m + 136, 16, d + 136, 16)
                    m.update(from: d, count: 256)
                }
            }
            return
        }
        for _ in 0..<4 {
            let p0 = deinterleave(v0, v1), p1 = deinterleave(v2, v3), p2 = deinterleave(v4, v5), p3 = deinterleave(v6, v7)
            let p4 = deinterleave(v8, v9), p5 = deinterleave(v10, v11), p6 = deinterleave(v12, v13), p7 = deinterleave(v14, v15)
            (v0, v8) = p0; (v1, v9) = p1; (v2, v10) = p2; (v3, v11) = p3
            (v4, v12) = p4; (v5, v13) = p5; (v6, v14) = p6; (v7, v15) = p7
        }
    }
}

/// The even and the odd elements of a followed by b, written out element by element so that LLVM sees
/// two constant shuffles (`SIMD32.evenHalf` is an out-of-line generic call).
@inline(__always) func deinterleave(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> (SIMD16<Float>, SIMD16<Float>) {
    if nntop_avx2_shuffles() != 0 {
        return (nntop_split16(a, b, 0), nntop_split16(a, b, 1))
    }
    return (SIMD16(a[0], a[2], a[4], a[6], a[8], a[10], a[12], a[14], b[0], b[2], b[4], b[6], b[8], b[10], b[12], b[14]),
     SIMD16(a[1], a[3], a[5], a[7], a[9], a[11], a[13], a[15], b[1], b[3], b[5], b[7], b[9], b[11], b[13], b[15]))
}

/// The inverse of `deinterleave`: (a0 b0 a1 b1 … a7 b7, a8 b8 … a15 b15), as 64-bit lanes a_i | b_i << 32.
/// Written as shuffles, the interleave was pushed back through Conv3x3's output transform sums by LLVM,
/// which then did them four lanes at a time and spilled (a quarter of the forward's time).
@inline(__always) func interleave(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> (SIMD16<Float>, SIMD16<Float>) {
    if nntop_avx2_shuffles() != 0 {
        return (nntop_zip16(a, b, 0), nntop_zip16(a, b, 1))
    }
    let lo = SIMD16<UInt64>(truncatingIfNeeded: unsafeBitCast(a, to: SIMD16<UInt32>.self))
    let hi = SIMD16<UInt64>(truncatingIfNeeded: unsafeBitCast(b, to: SIMD16<UInt32>.self)) &<< 32
    return unsafeBitCast(lo | hi, to: (SIMD16<Float>, SIMD16<Float>).self)
}

/// even[k] = row[2k] and odd[k] = row[2k + 1] over a row of w floats (odd nil: those are dropped), 32
/// columns a step: the stride-2 phase layout's split and the stride-2 subsample.
@inline(__always)
func splitColumns(_ row: UnsafePointer<Float>, width w: Int, even: UnsafeMutablePointer<Float>,
                  odd: UnsafeMutablePointer<Float>?) {
    var from = 0
    while from + 32 <= w {
        let (a, b) = deinterleave(load16(row + from), load16(row + from + 16))
        store16(a, even + from / 2)
        if let odd { store16(b, odd + from / 2) }
        from += 32
    }
    for col in from..<w {
        if col % 2 == 0 { even[col / 2] = row[col] } else if let odd { odd[col / 2] = row[col] }
    }
}

/// The inverse of `splitColumns`: row[2k] = even[k], row[2k + 1] = odd[k] (odd nil: zeros) over w floats.
@inline(__always)
func joinColumns(even: UnsafePointer<Float>, odd: UnsafePointer<Float>?, width w: Int, into row: UnsafeMutablePointer<Float>) {
    var from = 0
    while from + 32 <= w {
        let (a, b) = interleave(load16(even + from / 2), odd.map { load16($0 + from / 2) } ?? SIMD16<Float>())
        store16(a, row + from); store16(b, row + from + 16)
        from += 32
    }
    for col in from..<w { row[col] = col % 2 == 0 ? even[col / 2] : odd?[col / 2] ?? 0 }
}
