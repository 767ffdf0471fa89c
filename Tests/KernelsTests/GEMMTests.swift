import XCTest
@testable import Kernels

/// The GEMM against a plain triple loop in double precision, for every transpose and odd sizes
/// that exercise the partial tiles of the 8×32 register tile, several depth blocks (k past 192, a
/// partial last one), several row blocks (m past 256) and column groups (n past 512).
final class GEMMTests: XCTestCase {
    func naive(_ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ a: [Float], _ lda: Int,
               _ b: [Float], _ ldb: Int, _ beta: Float, _ c: [Float], _ ldc: Int) -> [Float] {
        var out = c
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = ta ? a[p * lda + i] : a[i * lda + p]
                    let bv = tb ? b[j * ldb + p] : b[p * ldb + j]
                    s += Double(av) * Double(bv)
                }
                out[i * ldc + j] = Float(Double(alpha) * s + Double(beta) * Double(c[i * ldc + j]))
            }
        }
        return out
    }

    func testAllTransposesAndEdgeSizes() {
        var rng = SeededRandom(seed: 7)
        for (m, n, k) in [(1, 1, 1), (6, 32, 8), (7, 33, 5), (13, 70, 19), (64, 100, 3), (5, 3, 300), (270, 65, 401), (20, 530, 200)] {
            for ta in [false, true] {
                for tb in [false, true] {
                    for (alpha, beta) in [(Float(1), Float(0)), (0.5, 1), (2, -0.25)] {
                        let lda = (ta ? m : k) + 2, ldb = (tb ? k : n) + 1, ldc = n + 3
                        let a = (0..<(ta ? k : m) * lda).map { _ in rng.uniform(-1, 1) }
                        let b = (0..<(tb ? n : k) * ldb).map { _ in rng.uniform(-1, 1) }
                        var c = (0..<m * ldc).map { _ in rng.uniform(-1, 1) }
                        let expected = naive(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
                        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                            gemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, a: ap.baseAddress!, lda: lda,
                                 b: bp.baseAddress!, ldb: ldb, beta: beta, c: cp.baseAddress!, ldc: ldc)
                        } } }
                        for i in 0..<m {
                            for j in 0..<n {
                                XCTAssertEqual(c[i * ldc + j], expected[i * ldc + j], accuracy: 1e-4 * Float(k).squareRoot() + 1e-5,
                                               "m\(m) n\(n) k\(k) ta\(ta) tb\(tb) at \(i),\(j)")
                            }
                            // Padding columns beyond n are never written.
                            for j in n..<ldc { XCTAssertEqual(c[i * ldc + j], expected[i * ldc + j]) }
                        }
                    }
                }
            }
        }
    }

    /// A weight-gradient-sized product written once (one depth block, beta 0) into an aligned C: its
    /// tiles are streamed past the caches. Sampled rows (every panel row position) against the double
    /// loop; partial last row and column panels stay with ordinary stores; C's padding is never written.
    func testStreamedOutputMatchesTheLoop() {
        var rng = SeededRandom(seed: 11)
        let m = 1029, n = 1030, k = 64, ldc = 1040
        for ta in [false, true] {
            let lda = ta ? m : k, ldb = n
            let a = (0..<(ta ? k : m) * lda).map { _ in rng.uniform(-1, 1) }
            let b = (0..<k * ldb).map { _ in rng.uniform(-1, 1) }
            let c = Tensor(shape: [m * ldc])
            c.fill(7)
            XCTAssertTrue(streamsOutput(m: m, n: n, k: k, beta: 0, c: c.data, ldc: ldc))
            gemm(transA: ta, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c.data, ldc: ldc)
            for i in Array(stride(from: 0, to: m, by: 37)) + [m - 1] {
                for j in 0..<n {
                    var s = 0.0
                    for p in 0..<k { s += Double(ta ? a[p * lda + i] : a[i * lda + p]) * Double(b[p * ldb + j]) }
                    XCTAssertEqual(c[i * ldc + j], Float(s), accuracy: 1e-4, "ta\(ta) at \(i),\(j)")
                }
                for j in n..<ldc { XCTAssertEqual(c[i * ldc + j], 7) }
            }
        }
    }

    func testThreadCountDoesNotChangeResults() {
        var rng = SeededRandom(seed: 3)
        let m = 300, n = 90, k = 400
        let a = (0..<m * k).map { _ in rng.uniform(-1, 1) }, b = (0..<k * n).map { _ in rng.uniform(-1, 1) }
        func run(_ threads: Int) -> [Float] {
            let saved = Parallel.maxThreads; defer { Parallel.maxThreads = saved }
            Parallel.maxThreads = threads
            var c = [Float](repeating: 0, count: m * n)
            gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c, ldc: n)
            return c
        }
        XCTAssertEqual(run(1), run(4))
    }
}
