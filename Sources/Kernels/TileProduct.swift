import CCacheHints
import Foundation

// Register-tile products: a few rows of A (broadcast one float at a time) times rows of 16-float
// vectors of B, summed over a depth, with every accumulator in a register. The convolutions and the
// GEMM differ only in where B's rows come from and how a tile is written out.

/// Whether the target has 32 vector registers of 16 floats (AVX-512), which the 8×32 tile below needs;
/// AVX2's 16 of 8 floats hold a quarter of it (`tileQuarters`). Fixed when the kernels are
/// compiled (`-target-cpu native`, Package.swift): a constant in every loop it picks.
@inline(__always) var wideRegisters: Bool { nntop_wide_vector_registers() != 0 }

/// The 8×32 tile product: for r < `rows` (8, or 6: a constant once inlined, so rows 6 and 7 then cost
/// nothing) Σ_(d < depth) a[d·aStride + r] · bRow(d)[0..<32], handed to `put(r, column, sums)` 16 columns
/// at a time (column 0 or 16). Each sum runs in depth order from zero in either shape (`wideRegisters`):
/// the whole tile (`RegisterTile`) or its quarters (`tileQuarters`).
@inline(__always)
func tileProduct(depth: Int, rows: Int, a: UnsafePointer<Float>, aStride: Int, bRow: (Int) -> UnsafePointer<Float>,
                 put: (Int, Int, SIMD16<Float>) -> Void) {
    guard wideRegisters else { tileQuarters(depth: depth, rows: rows, a: a, aStride: aStride, bRow: bRow, put: put); return }
    var tile = RegisterTile()
    tile.add(depth: depth, rows: rows, a: a, aStride: aStride, bRow: bRow)
    tile.forEachRow(rows) { r, v0, v1 in put(r, 0, v0); put(r, 16, v1) }
}

/// The whole 8×32 register tile: rows r < 8 of 32 floats as two SIMD16 accumulators each, 16 in all,
/// live across the depth with B's two vectors and a broadcast: 32 registers (AVX-512's zmm). Per depth
/// step 2 loads of B and one broadcast of A per row feed 2 FMAs each.
struct RegisterTile {
    var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
    var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
    var c40 = SIMD16<Float>(), c41 = SIMD16<Float>(), c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
    var c60 = SIMD16<Float>(), c61 = SIMD16<Float>(), c70 = SIMD16<Float>(), c71 = SIMD16<Float>()

    /// row r += Σ_(d < depth) a[d·aStride + r] · bRow(d)[0..<32] for r < `rows` (8 or 6).
    @inline(__always)
    mutating func add(depth: Int, rows: Int, a: UnsafePointer<Float>, aStride: Int, bRow: (Int) -> UnsafePointer<Float>) {
        var ap = a
        for d in 0..<depth {
            let bp = bRow(d), b0 = load16(bp), b1 = load16(bp + 16)
            var s = SIMD16<Float>(repeating: ap[0]); c00.addProduct(s, b0); c01.addProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[1]); c10.addProduct(s, b0); c11.addProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[2]); c20.addProduct(s, b0); c21.addProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[3]); c30.addProduct(s, b0); c31.addProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[4]); c40.addProduct(s, b0); c41.addProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[5]); c50.addProduct(s, b0); c51.addProduct(s, b1)
            if rows > 6 {
                s = SIMD16<Float>(repeating: ap[6]); c60.addProduct(s, b0); c61.addProduct(s, b1)
                s = SIMD16<Float>(repeating: ap[7]); c70.addProduct(s, b0); c71.addProduct(s, b1)
            }
            ap += aStride
        }
    }

    /// body(r, row r's first and last 16 floats) for r < `rows`, unrolled.
    @inline(__always)
    func forEachRow(_ rows: Int, _ body: (Int, SIMD16<Float>, SIMD16<Float>) -> Void) {
        body(0, c00, c01); body(1, c10, c11); body(2, c20, c21); body(3, c30, c31); body(4, c40, c41); body(5, c50, c51)
        if rows > 6 { body(6, c60, c61); body(7, c70, c71) }
    }
}

/// `tileProduct` as four passes over the depth (two for a 16-column tile, `columns`), each 4 rows × 16
/// columns put out before the next starts:
/// 4 accumulators of two 8-float registers, B's vector and a broadcast fit AVX2's 16 registers, where the
/// whole tile's 16 (32 registers) were spilled and reloaded at every depth step, and so were later
/// quarters' while earlier ones were kept for the end (BENCHMARKS.md, stop 45). A and B are read twice
/// each, from L1.
@inline(__always)
func tileQuarters(depth: Int, rows: Int, columns: Int = 32, a: UnsafePointer<Float>, aStride: Int,
                  bRow: (Int) -> UnsafePointer<Float>, put: (Int, Int, SIMD16<Float>) -> Void) {
    for r0 in stride(from: 0, to: rows > 4 ? 8 : 4, by: 4) {
        for col in stride(from: 0, to: columns, by: 16) {
            var q0 = SIMD16<Float>(), q1 = q0, q2 = q0, q3 = q0
            var ap = a + r0
            for d in 0..<depth {
                let b = load16(bRow(d) + col)
                q0.addProduct(SIMD16<Float>(repeating: ap[0]), b); q1.addProduct(SIMD16<Float>(repeating: ap[1]), b)
                q2.addProduct(SIMD16<Float>(repeating: ap[2]), b); q3.addProduct(SIMD16<Float>(repeating: ap[3]), b)
                ap += aStride
            }
            put(r0, col, q0); put(r0 + 1, col, q1)
            if r0 + 2 < rows { put(r0 + 2, col, q2) }
            if r0 + 3 < rows { put(r0 + 3, col, q3) }
        }
    }
}

/// t[8][32] = a (k × 8 packed) · b (k × 32 packed), or t += that product when `accumulate`: the panel
/// convolutions' tile.
@inline(__always)
func microTile(_ k: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ t: UnsafeMutablePointer<Float>,
               accumulate: Bool) {
    tileProduct(depth: k, rows: 8, a: a, aStride: 8, bRow: { b + $0 * 32 }) { r, col, v in
        let d = t + r * 32 + col
        store16(accumulate ? v + load16(d) : v, d)
    }
}

/// t[r][0..<32] (rows ldt apart) = Σ_d a[d][r] · b[offs[d] ..< offs[d] + 32]: the 8×32 tile with each
/// B row read in place (a slice of some plane) instead of from a packed panel: the direct convolutions.
@inline(never)
func gatherTile(_ depth: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ offs: UnsafePointer<Int>,
                _ t: UnsafeMutablePointer<Float>, ldt: Int) {
    tileProduct(depth: depth, rows: 8, a: a, aStride: 8, bRow: { b + offs[$0] }) { r, col, v in store16(v, t + r * ldt + col) }
}

/// t[r][0..<64] (rows ldt apart) = bias[r] + Σ_d a[d][r] · b[offs[d] ..< offs[d] + 64] for 6 rows: the
/// 6-row, 4-vector tile of `gatherTile` (24 accumulators), written with the bias added.
@inline(never)
func gatherTile6x64(_ depth: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ offs: UnsafePointer<Int>,
                            _ bias: UnsafePointer<Float>, _ t: UnsafeMutablePointer<Float>, ldt: Int,
                            wide: Bool = wideRegisters) {
    guard wide else {
        // Its 24 accumulators are 48 of AVX2's registers: 16 columns at a time, 6 accumulators (12 registers).
        for col in stride(from: 0, to: 64, by: 16) {
            var c0 = SIMD16<Float>(repeating: bias[0]), c1 = SIMD16<Float>(repeating: bias[1]), c2 = SIMD16<Float>(repeating: bias[2])
            var c3 = SIMD16<Float>(repeating: bias[3]), c4 = SIMD16<Float>(repeating: bias[4]), c5 = SIMD16<Float>(repeating: bias[5])
            var ap = a
            for d in 0..<depth {
                let bv = load16(b + offs[d] + col)
                c0.addProduct(SIMD16<Float>(repeating: ap[0]), bv); c1.addProduct(SIMD16<Float>(repeating: ap[1]), bv)
                c2.addProduct(SIMD16<Float>(repeating: ap[2]), bv); c3.addProduct(SIMD16<Float>(repeating: ap[3]), bv)
                c4.addProduct(SIMD16<Float>(repeating: ap[4]), bv); c5.addProduct(SIMD16<Float>(repeating: ap[5]), bv)
                ap += 6
            }
            let r = t + col
            store16(c0, r); store16(c1, r + ldt); store16(c2, r + 2 * ldt); store16(c3, r + 3 * ldt)
            store16(c4, r + 4 * ldt); store16(c5, r + 5 * ldt)
        }
        return
    }
    var c00 = SIMD16<Float>(repeating: bias[0]), c01 = c00, c02 = c00, c03 = c00
    var c10 = SIMD16<Float>(repeating: bias[1]), c11 = c10, c12 = c10, c13 = c10
    var c20 = SIMD16<Float>(repeating: bias[2]), c21 = c20, c22 = c20, c23 = c20
    var c30 = SIMD16<Float>(repeating: bias[3]), c31 = c30, c32 = c30, c33 = c30
    var c40 = SIMD16<Float>(repeating: bias[4]), c41 = c40, c42 = c40, c43 = c40
    var c50 = SIMD16<Float>(repeating: bias[5]), c51 = c50, c52 = c50, c53 = c50
    var ap = a
    for d in 0..<depth {
        let bp = b + offs[d]
        let b0 = load16(bp), b1 = load16(bp + 16), b2 = load16(bp + 32), b3 = load16(bp + 48)
        var s = SIMD16<Float>(repeating: ap[0])
        c00.addProduct(s, b0); c01.addProduct(s, b1); c02.addProduct(s, b2); c03.addProduct(s, b3)
        s = SIMD16<Float>(repeating: ap[1])
        c10.addProduct(s, b0); c11.addProduct(s, b1); c12.addProduct(s, b2); c13.addProduct(s, b3)
        s = SIMD16<Float>(repeating: ap[2])
        c20.addProduct(s, b0); c21.addProduct(s, b1); c22.addProduct(s, b2); c23.addProduct(s, b3)
        s = SIMD16<Float>(repeating: ap[3])
        c30.addProduct(s, b0); c31.addProduct(s, b1); c32.addProduct(s, b2); c33.addProduct(s, b3)
        s = SIMD16<Float>(repeating: ap[4])
        c40.addProduct(s, b0); c41.addProduct(s, b1); c42.addProduct(s, b2); c43.addProduct(s, b3)
        s = SIMD16<Float>(repeating: ap[5])
        c50.addProduct(s, b0); c51.addProduct(s, b1); c52.addProduct(s, b2); c53.addProduct(s, b3)
        ap += 6
    }
    var r = t
    store16(c00, r); store16(c01, r + 16); store16(c02, r + 32); store16(c03, r + 48); r += ldt
    store16(c10, r); store16(c11, r + 16); store16(c12, r + 32); store16(c13, r + 48); r += ldt
    store16(c20, r); store16(c21, r + 16); store16(c22, r + 32); store16(c23, r + 48); r += ldt
    store16(c30, r); store16(c31, r + 16); store16(c32, r + 32); store16(c33, r + 48); r += ldt
    store16(c40, r); store16(c41, r + 16); store16(c42, r + 32); store16(c43, r + 48); r += ldt
    store16(c50, r); store16(c51, r + 16); store16(c52, r + 32); store16(c53, r + 48)
}

/// The 16-column version of `gatherTile` (an output plane's last columns), into t[r][0..<16] (rows ldt apart).
@inline(never)
func gatherTile16(_ depth: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ offs: UnsafePointer<Int>,
                          _ t: UnsafeMutablePointer<Float>, ldt: Int, wide: Bool = wideRegisters) {
    guard wide else {
        // 8 accumulators, B and a broadcast are 19 of AVX2's 16 registers: rows 0-3, then 4-7.
        tileQuarters(depth: depth, rows: 8, columns: 16, a: a, aStride: 8, bRow: { b + offs[$0] }) { r, _, v in
            store16(v, t + r * ldt)
        }
        return
    }
    var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
    var c4 = SIMD16<Float>(), c5 = SIMD16<Float>(), c6 = SIMD16<Float>(), c7 = SIMD16<Float>()
    var ap = a
    for d in 0..<depth {
        let b0 = load16(b + offs[d])
        c0.addProduct(SIMD16<Float>(repeating: ap[0]), b0); c1.addProduct(SIMD16<Float>(repeating: ap[1]), b0)
        c2.addProduct(SIMD16<Float>(repeating: ap[2]), b0); c3.addProduct(SIMD16<Float>(repeating: ap[3]), b0)
        c4.addProduct(SIMD16<Float>(repeating: ap[4]), b0); c5.addProduct(SIMD16<Float>(repeating: ap[5]), b0)
        c6.addProduct(SIMD16<Float>(repeating: ap[6]), b0); c7.addProduct(SIMD16<Float>(repeating: ap[7]), b0)
        ap += 8
    }
    store16(c0, t); store16(c1, t + ldt); store16(c2, t + 2 * ldt); store16(c3, t + 3 * ldt)
    store16(c4, t + 4 * ldt); store16(c5, t + 5 * ldt); store16(c6, t + 6 * ldt); store16(c7, t + 7 * ldt)
}

/// Sum of the 16 lanes (a shuffle tree; `SIMD.sum()` is an out-of-line generic call).
@inline(__always) func hsum(_ v: SIMD16<Float>) -> Float {
    let a = v.lowHalf + v.highHalf, b = a.lowHalf + a.highHalf, c = b.lowHalf + b.highHalf
    return c[0] + c[1]
}

/// The 8×16 outer-product tile: c[r][0..<16] (rows ldc apart) += Σ a[r] · b[0..<16] for r < 8 over rows ×
/// columns steps, a and b moving by their column stride along a row and by their row stride from one row
/// to the next (the weight gradients' sums over tiles, or over a stride-2 conv's output pixels). Kept
/// out of line so its 8 accumulators, B's vector and the broadcasts get registers of their own.
@inline(never)
func outerTile8x16(rows: Int, columns: Int, _ a: UnsafePointer<Float>, aRow: Int, aColumn: Int,
                   _ b: UnsafePointer<Float>, bRow: Int, bColumn: Int, _ c: UnsafeMutablePointer<Float>, ldc: Int,
                   wide: Bool = wideRegisters) {
    guard wide else {
        // As `gatherTile16`: rows 0-3, then 4-7, within AVX2's 16 registers.
        for r0 in stride(from: 0, to: 8, by: 4) {
            var c0 = SIMD16<Float>(), c1 = c0, c2 = c0, c3 = c0
            for r in 0..<rows {
                var ap = a + r * aRow + r0, bp = b + r * bRow
                for _ in 0..<columns {
                    let bv = load16(bp)
                    c0.addProduct(SIMD16(repeating: ap[0]), bv); c1.addProduct(SIMD16(repeating: ap[1]), bv)
                    c2.addProduct(SIMD16(repeating: ap[2]), bv); c3.addProduct(SIMD16(repeating: ap[3]), bv)
                    ap += aColumn; bp += bColumn
                }
            }
            let d = c + r0 * ldc
            store16(load16(d) + c0, d); store16(load16(d + ldc) + c1, d + ldc)
            store16(load16(d + 2 * ldc) + c2, d + 2 * ldc); store16(load16(d + 3 * ldc) + c3, d + 3 * ldc)
        }
        return
    }
    var c0 = SIMD16<Float>(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0
    for r in 0..<rows {
        var ap = a + r * aRow, bp = b + r * bRow
        for _ in 0..<columns {
            let bv = load16(bp)
            c0.addProduct(SIMD16(repeating: ap[0]), bv); c1.addProduct(SIMD16(repeating: ap[1]), bv)
            c2.addProduct(SIMD16(repeating: ap[2]), bv); c3.addProduct(SIMD16(repeating: ap[3]), bv)
            c4.addProduct(SIMD16(repeating: ap[4]), bv); c5.addProduct(SIMD16(repeating: ap[5]), bv)
            c6.addProduct(SIMD16(repeating: ap[6]), bv); c7.addProduct(SIMD16(repeating: ap[7]), bv)
            ap += aColumn; bp += bColumn
        }
    }
    @inline(__always) func add(_ r: Int, _ v: SIMD16<Float>) { store16(load16(c + r * ldc) + v, c + r * ldc) }
    add(0, c0); add(1, c1); add(2, c2); add(3, c3); add(4, c4); add(5, c5); add(6, c6); add(7, c7)
}
