import Foundation

/// Shapes of one 2-D convolution (or pooling window) over an NCHW batch.
public struct ConvGeometry: Equatable {
    public var batch, inChannels, height, width: Int
    public var outChannels, kernelH, kernelW, stride, padding: Int

    public init(batch: Int, inChannels: Int, height: Int, width: Int, outChannels: Int,
                kernel: Int, stride: Int = 1, padding: Int = 0) {
        self.batch = batch; self.inChannels = inChannels; self.height = height; self.width = width
        self.outChannels = outChannels; kernelH = kernel; kernelW = kernel
        self.stride = stride; self.padding = padding
    }

    public var outH: Int { (height + 2 * padding - kernelH) / stride + 1 }
    public var outW: Int { (width + 2 * padding - kernelW) / stride + 1 }
    /// Rows of the im2col matrix: one per (input channel, kernel row, kernel column).
    public var colRows: Int { inChannels * kernelH * kernelW }
    /// Columns of the im2col matrix: the batch folded into the output pixels.
    public var colCols: Int { batch * outH * outW }
}

/// col[(c,ki,kj)][(n,oy,ox)] = x[n][c][oy*s-p+ki][ox*s-p+kj], 0 outside the image.
public func im2col(_ x: UnsafePointer<Float>, _ g: ConvGeometry, _ col: UnsafeMutablePointer<Float>) {
    let oh = g.outH, ow = g.outW, plane = g.height * g.width, cols = g.colCols
    Parallel.forEach(g.colRows, grain: max(1, 32768 / max(1, cols))) { row in
        let c = row / (g.kernelH * g.kernelW), ki = (row / g.kernelW) % g.kernelH, kj = row % g.kernelW
        let dstRow = col + row * cols
        for n in 0..<g.batch {
            let src = x + (n * g.inChannels + c) * plane
            for oy in 0..<oh {
                let iy = oy * g.stride - g.padding + ki
                let dst = dstRow + (n * oh + oy) * ow
                if iy < 0 || iy >= g.height { dst.update(repeating: 0, count: ow); continue }
                let srow = src + iy * g.width
                for ox in 0..<ow {
                    let ix = ox * g.stride - g.padding + kj
                    dst[ox] = (ix >= 0 && ix < g.width) ? srow[ix] : 0
                }
            }
        }
    }
}

/// The adjoint of im2col: sums every column entry back into dx (which it overwrites).
public func col2im(_ col: UnsafePointer<Float>, _ g: ConvGeometry, _ dx: UnsafeMutablePointer<Float>) {
    let oh = g.outH, ow = g.outW, plane = g.height * g.width, cols = g.colCols, kk = g.kernelH * g.kernelW
    // One input channel per task: the rows of different channels never touch the same dx element.
    Parallel.forEach(g.inChannels) { c in
        for n in 0..<g.batch { (dx + (n * g.inChannels + c) * plane).update(repeating: 0, count: plane) }
        for r in 0..<kk {
            let ki = r / g.kernelW, kj = r % g.kernelW
            let srcRow = col + (c * kk + r) * cols
            for n in 0..<g.batch {
                let dst = dx + (n * g.inChannels + c) * plane
                for oy in 0..<oh {
                    let iy = oy * g.stride - g.padding + ki
                    if iy < 0 || iy >= g.height { continue }
                    let src = srcRow + (n * oh + oy) * ow, drow = dst + iy * g.width
                    for ox in 0..<ow {
                        let ix = ox * g.stride - g.padding + kj
                        if ix >= 0 && ix < g.width { drow[ix] += src[ox] }
                    }
                }
            }
        }
    }
}

/// y[n][co][p] = sum_k w[co][k] col[k][n,p] + bias[co]. `col` (colRows × colCols) is filled here and kept
/// for the backward pass; `tmp` holds outChannels × colCols.
public func conv2dForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                          geometry g: ConvGeometry, col: UnsafeMutablePointer<Float>, tmp: UnsafeMutablePointer<Float>,
                          y: UnsafeMutablePointer<Float>) {
    im2col(x, g, col)
    let cols = g.colCols
    gemm(m: g.outChannels, n: cols, k: g.colRows, a: weight, lda: g.colRows, b: col, ldb: cols, c: tmp, ldc: cols)
    // [co][n,p] -> [n][co][p], adding the bias on the way.
    let p = g.outH * g.outW
    Parallel.forEach(g.outChannels, grain: max(1, 16384 / max(1, cols))) { co in
        let bv = bias?[co] ?? 0
        for n in 0..<g.batch {
            let src = tmp + co * cols + n * p, dst = y + (n * g.outChannels + co) * p
            for i in 0..<p { dst[i] = src[i] + bv }
        }
    }
}

/// Gradients of conv2dForward. dWeight (and dBias) are overwritten; dx is overwritten when given.
/// `col` must still hold the forward pass's im2col; `tmp` and `dcol` are scratch of the forward sizes.
public func conv2dBackward(dy: UnsafePointer<Float>, weight: UnsafePointer<Float>, geometry g: ConvGeometry,
                           col: UnsafePointer<Float>, tmp: UnsafeMutablePointer<Float>, dcol: UnsafeMutablePointer<Float>,
                           dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>?,
                           dx: UnsafeMutablePointer<Float>?) {
    let cols = g.colCols, p = g.outH * g.outW
    // dy [n][co][p] -> tmp [co][n,p]; the bias gradient is each row's sum.
    Parallel.forEach(g.outChannels, grain: max(1, 16384 / max(1, cols))) { co in
        var s: Float = 0
        for n in 0..<g.batch {
            let src = dy + (n * g.outChannels + co) * p, dst = tmp + co * cols + n * p
            for i in 0..<p { dst[i] = src[i]; s += src[i] }
        }
        dBias?[co] = s
    }
    gemm(transB: true, m: g.outChannels, n: g.colRows, k: cols, a: tmp, lda: cols, b: col, ldb: cols,
         c: dWeight, ldc: g.colRows)
    guard let dx else { return }
    gemm(transA: true, m: g.colRows, n: cols, k: g.outChannels, a: weight, lda: g.colRows, b: tmp, ldb: cols,
         c: dcol, ldc: cols)
    col2im(dcol, g, dx)
}
