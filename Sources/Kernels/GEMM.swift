import Foundation

// Row-major single-precision GEMM: C = alpha * op(A) * op(B) + beta * C, op(A) m×k, op(B) k×n.
// Each 6×32 tile is six rows of the register tile (TileProduct.swift): 12 accumulators, 2 B loads and
// 6 broadcasts per k. It reads a panel in place when the operand's k rows already hold the panel's
// 6 (transposed A) or 32 (untransposed B) values side by side, as in both of a linear layer's
// backward GEMMs; other panels, and partial ones, are packed into zero-padded copies first.

let gemmMR = 6
let gemmNR = 32

public func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                 a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                 beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard m > 0, n > 0 else { return }
    if k == 0 {
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
        return
    }
    let mPanels = (m + gemmMR - 1) / gemmMR, nPanels = (n + gemmNR - 1) / gemmNR
    // Whole panels read in place: [k][m] rows of a transposed A, [k][n] rows of an untransposed B.
    let directA = transA ? m / gemmMR : 0, directB = transB ? 0 : n / gemmNR
    let pa = ScratchPool.shared.take(mPanels * gemmMR * k)
    let pb = ScratchPool.shared.take(nPanels * gemmNR * k)
    defer { ScratchPool.shared.give(pa); ScratchPool.shared.give(pb) }
    let packedA = pa.0, packedB = pb.0

    // Pack A: panel p holds rows p*MR..<p*MR+MR, laid out [k][MR].
    Parallel.forEach(mPanels, grain: max(1, 16384 / max(1, k * gemmMR))) { p in
        if p < directA { return }
        let dst = packedA + p * gemmMR * k
        let rows = min(gemmMR, m - p * gemmMR)
        for r in 0..<gemmMR {
            let i = p * gemmMR + r
            if r >= rows { for kk in 0..<k { dst[kk * gemmMR + r] = 0 }; continue }
            if transA { for kk in 0..<k { dst[kk * gemmMR + r] = a[kk * lda + i] } }
            else { let src = a + i * lda; for kk in 0..<k { dst[kk * gemmMR + r] = src[kk] } }
        }
    }
    // Pack B: panel q holds columns q*NR..<q*NR+NR, laid out [k][NR].
    Parallel.forEach(nPanels, grain: max(1, 16384 / max(1, k * gemmNR))) { q in
        if q < directB { return }
        let dst = packedB + q * gemmNR * k
        let j0 = q * gemmNR, cols = min(gemmNR, n - j0)
        if transB {
            for cc in 0..<gemmNR {
                if cc >= cols { for kk in 0..<k { dst[kk * gemmNR + cc] = 0 }; continue }
                let src = b + (j0 + cc) * ldb
                for kk in 0..<k { dst[kk * gemmNR + cc] = src[kk] }
            }
        } else {
            for kk in 0..<k {
                let src = b + kk * ldb + j0, d = dst + kk * gemmNR
                for cc in 0..<cols { d[cc] = src[cc] }
                for cc in cols..<gemmNR { d[cc] = 0 }
            }
        }
    }
    // Tiles in column-panel-major order so consecutive tiles of a thread share a B panel.
    let tiles = mPanels * nPanels
    let flopsPerTile = gemmMR * gemmNR * k
    Parallel.ranges(tiles, grain: max(1, 200_000 / flopsPerTile)) { range in
        for t in range {
            let q = t / mPanels, p = t % mPanels
            let ap = p < directA ? (a + p * gemmMR, lda) : (UnsafePointer(packedA + p * gemmMR * k), gemmMR)
            let bp = q < directB ? (b + q * gemmNR, ldb) : (UnsafePointer(packedB + q * gemmNR * k), gemmNR)
            microkernel(k: k, a: ap.0, aStride: ap.1, b: bp.0, bStride: bp.1,
                        c: c + p * gemmMR * ldc + q * gemmNR, ldc: ldc,
                        rows: min(gemmMR, m - p * gemmMR), cols: min(gemmNR, n - q * gemmNR),
                        alpha: alpha, beta: beta)
        }
    }
}

@inline(__always)
private func microkernel(k: Int, a: UnsafePointer<Float>, aStride: Int, b: UnsafePointer<Float>, bStride: Int,
                         c: UnsafeMutablePointer<Float>,
                         ldc: Int, rows: Int, cols: Int, alpha: Float, beta: Float) {
    var tile = RegisterTile()
    tile.add(depth: k, rows: gemmMR, a: a, aStride: aStride) { b + $0 * bStride }
    tile.forEachRow(gemmMR) { r, v0, v1 in storeRow(c + r * ldc, r, v0, v1, rows: rows, cols: cols, alpha: alpha, beta: beta) }
}

@inline(__always)
private func storeRow(_ row: UnsafeMutablePointer<Float>, _ r: Int, _ v0: SIMD16<Float>, _ v1: SIMD16<Float>,
                      rows: Int, cols: Int, alpha: Float, beta: Float) {
    guard r < rows else { return }
    var x0 = v0 * alpha, x1 = v1 * alpha
    if cols == gemmNR {
        if beta != 0 {
            x0.addProduct(SIMD16<Float>(repeating: beta), load16(row))
            x1.addProduct(SIMD16<Float>(repeating: beta), load16(row + 16))
        }
        store16(x0, row); store16(x1, row + 16)
    } else {
        for j in 0..<cols {
            let v = j < 16 ? x0[j] : x1[j - 16]
            row[j] = beta == 0 ? v : v + beta * row[j]
        }
    }
}
