import XCTest
@testable import Kernels

/// The register tiles in both shapes, whichever the build picks (`wideRegisters`): the whole 8×32 tile
/// (AVX-512) and its quarters (AVX2). Each output must equal, bit for bit, a scalar chain of fused
/// multiply-adds in depth order from the same start: the two shapes only regroup which sums run together.
final class TileProductTests: XCTestCase {
    private func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int(truncatingIfNeeded: state >> 40) % 2001 - 1000) / 997
        }
    }

    func testTileProductQuartersAndWholeMatchScalarChains() {
        // B's rows 40 floats apart, from float 3 of each.
        let depth = 37, bStride = 40
        let a = values(depth * 8, seed: 10), b = values(depth * bStride, seed: 20)
        for rows in [8, 6] {
            for whole in [true, false] {
                var got = [Float](repeating: .nan, count: 8 * 32)
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        let bRow: (Int) -> UnsafePointer<Float> = { bp.baseAddress! + $0 * bStride + 3 }
                        let put: (Int, Int, SIMD16<Float>) -> Void = { r, col, v in for j in 0..<16 { got[r * 32 + col + j] = v[j] } }
                        if whole {
                            var tile = RegisterTile()
                            tile.add(depth: depth, rows: rows, a: ap.baseAddress!, aStride: 8, bRow: bRow)
                            tile.forEachRow(rows) { r, v0, v1 in put(r, 0, v0); put(r, 16, v1) }
                        } else {
                            tileQuarters(depth: depth, rows: rows, a: ap.baseAddress!, aStride: 8, bRow: bRow, put: put)
                        }
                    }
                }
                for r in 0..<8 {
                    var expected = [Float](repeating: .nan, count: 32)
                    if r < rows {
                        for j in 0..<32 {
                            var e: Float = 0
                            for d in 0..<depth { e = e.addingProduct(a[d * 8 + r], b[d * bStride + 3 + j]) }
                            expected[j] = e
                        }
                        XCTAssertEqual(Array(got[(r * 32)..<(r * 32 + 32)]), expected, "rows \(rows), \(whole ? "whole" : "quarters"), row \(r)")
                    } else {
                        XCTAssertTrue(got[(r * 32)..<(r * 32 + 32)].allSatisfy { $0.isNaN }, "row \(r) past \(rows) left alone")
                    }
                }
            }
        }
    }

    /// The direct convolutions' tiles: each B row read at its own offset (`offs`), rows `ldt` apart.
    func testGatherTilesBothShapesMatchScalarChains() {
        let depth = 29, width = 200, ldt = 70
        let b = values(depth * width, seed: 3), offs = (0..<depth).map { $0 * width + ($0 * 7) % 50 }
        let bias = values(6, seed: 4)
        for wide in [true, false] {
            // 6 rows × 64 columns from the bias.
            let a6 = values(depth * 6, seed: 5)
            var t = [Float](repeating: .nan, count: 6 * ldt)
            gatherTile6x64(depth, a6, b, offs, bias, &t, ldt: ldt, wide: wide)
            for r in 0..<6 {
                for j in 0..<64 {
                    var e = bias[r]
                    for d in 0..<depth { e = e.addingProduct(a6[d * 6 + r], b[offs[d] + j]) }
                    XCTAssertEqual(t[r * ldt + j], e, "6×64 \(wide ? "wide" : "narrow") row \(r) column \(j)")
                    if t[r * ldt + j] != e { return }
                }
            }
            // 8 rows × 16 columns from zero.
            let a8 = values(depth * 8, seed: 6)
            var t16 = [Float](repeating: .nan, count: 8 * ldt)
            gatherTile16(depth, a8, b, offs, &t16, ldt: ldt, wide: wide)
            for r in 0..<8 {
                for j in 0..<16 {
                    var e: Float = 0
                    for d in 0..<depth { e = e.addingProduct(a8[d * 8 + r], b[offs[d] + j]) }
                    XCTAssertEqual(t16[r * ldt + j], e, "8×16 \(wide ? "wide" : "narrow") row \(r) column \(j)")
                    if t16[r * ldt + j] != e { return }
                }
            }
        }
    }

    /// The weight gradients' outer-product tile: sums over rows × columns steps added to what c holds.
    func testOuterTileBothShapesMatchScalarChains() {
        let rows = 3, columns = 5, aRow = 50, aColumn = 9, bRow = 120, bColumn = 21, ldc = 24
        let a = values(rows * aRow + 8, seed: 7), b = values(rows * bRow + 16, seed: 8), c0 = values(8 * ldc, seed: 9)
        for wide in [true, false] {
            var c = c0
            outerTile8x16(rows: rows, columns: columns, a, aRow: aRow, aColumn: aColumn, b, bRow: bRow, bColumn: bColumn,
                          &c, ldc: ldc, wide: wide)
            for r in 0..<8 {
                for j in 0..<16 {
                    var e: Float = 0
                    for i in 0..<rows { for k in 0..<columns {
                        e = e.addingProduct(a[i * aRow + k * aColumn + r], b[i * bRow + k * bColumn + j])
                    } }
                    XCTAssertEqual(c[r * ldc + j], c0[r * ldc + j] + e, "\(wide ? "wide" : "narrow") row \(r) column \(j)")
                    if c[r * ldc + j] != c0[r * ldc + j] + e { return }
                }
                XCTAssertEqual(Array(c[(r * ldc + 16)..<(r * ldc + ldc)]), Array(c0[(r * ldc + 16)..<(r * ldc + ldc)]),
                               "columns past the tile untouched")
            }
        }
    }

    /// The Winograd transforms' lane shuffles (AVX2's in-lane versions where compiled for it) against their definitions.
    func testDeinterleaveAndInterleaveMatchDefinitions() {
        let v = values(32, seed: 11)
        let a = SIMD16<Float>(v[0..<16]), b = SIMD16<Float>(v[16..<32])
        let (even, odd) = deinterleave(a, b)
        XCTAssertEqual((0..<16).map { even[$0] }, (0..<16).map { v[2 * $0] })
        XCTAssertEqual((0..<16).map { odd[$0] }, (0..<16).map { v[2 * $0 + 1] })
        let (lo, hi) = interleave(a, b)
        var zipped: [Float] = []
        for k in 0..<16 { zipped.append(v[k]); zipped.append(v[16 + k]) }
        let got: [Float] = (0..<16).map { lo[$0] } + (0..<16).map { hi[$0] }
        XCTAssertEqual(got, zipped)
    }

    /// The 16×16 register transpose (through memory in 8×8 blocks on AVX2) against its definition.
    func testBlockTransposeMatchesDefinition() {
        let v = values(256, seed: 12)
        var m = Block16 { i in SIMD16<Float>(v[(16 * i)..<(16 * i + 16)]) }
        m.transpose()
        var got = [Float](repeating: .nan, count: 256)
        m.forEachRow { i, row in for j in 0..<16 { got[16 * i + j] = row[j] } }
        XCTAssertEqual(got, (0..<256).map { v[16 * ($0 % 16) + $0 / 16] })
    }
}
