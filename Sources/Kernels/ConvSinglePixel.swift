import Foundation

// A convolution whose input and output are one pixel each (a 1×1 map: ResNet's layer4 and GoogLeNet's
// inception 5 at 32×32 inputs, and a stride-2 1×1 projection onto one) is one matrix product: only the
// tap at (padding, padding) reaches the pixel, and tap-major W (`ConvWeights`) holds that tap's weights
// as a [co][c] block, a linear layer's. Those products go to `gemm`, tuned for the linear layers, which
// beat the panel paths on every pass there (BENCHMARKS.md, stop 37).

/// The one tap that reaches anything when `g` maps a single pixel to a single pixel, else nil.
func singlePixelTap(_ g: ConvGeometry) -> Int? {
    guard g.height == 1 && g.width == 1 && g.outH == 1 && g.outW == 1 && !g.ceilMode,
          g.padding < g.kernelH && g.padding < g.kernelW else { return nil }
    return g.padding * g.kernelW + g.padding
}

/// y[n][co] = bias[co] + Σ_c W[tap][co][c] · x[n][c], then the epilogue.
func singlePixelForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        geometry g: ConvGeometry, tap: Int, y: UnsafeMutablePointer<Float>, epilogue: ConvEpilogue?) {
    let cin = g.inChannels, cout = g.outChannels
    gemm(transB: true, m: g.batch, n: cout, k: cin, a: x, lda: cin, b: weight + tap * cout * cin, ldb: cin,
         c: y, ldc: cout)
    guard bias != nil || epilogue != nil else { return }
    Parallel.forEach(g.batch, grain: max(1, 16384 / cout)) { n in
        let row = y + n * cout
        if let bias { for co in 0..<cout { row[co] += bias[co] } }
        // A row holds one value of every channel.
        epilogue?.apply(row: row, channels: cout, offset: n * cout)
    }
}

/// dx[n][c] = Σ_co dy[n][co] · W[tap][co][c], overwritten.
func singlePixelBackwardData(dy: UnsafePointer<Float>, weight: UnsafePointer<Float>, geometry g: ConvGeometry, tap: Int,
                             dx: UnsafeMutablePointer<Float>) {
    let cin = g.inChannels, cout = g.outChannels
    gemm(m: g.batch, n: cin, k: cout, a: dy, lda: cout, b: weight + tap * cout * cin, ldb: cin, c: dx, ldc: cin)
}

/// dW[tap][co][c] = Σ_n dy[n][co] · x[n][c], overwritten; the other taps' blocks are the caller's.
func singlePixelBackwardWeights(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, geometry g: ConvGeometry, tap: Int,
                                dWeight: UnsafeMutablePointer<Float>) {
    let cin = g.inChannels, cout = g.outChannels
    gemm(transA: true, m: cout, n: cin, k: g.batch, a: dy, lda: cout, b: x, ldb: cin, c: dWeight + tap * cout * cin, ldc: cin)
}
