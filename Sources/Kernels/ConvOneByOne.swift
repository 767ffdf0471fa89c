import Foundation

// A 1×1, stride-1, unpadded convolution is a matrix product per image: y[n] = W · x[n], W [co][c] (the one
// tap of tap-major `ConvWeights`), x[n] [c][pixel]; dx[n] = Wᵀ · dy[n]; dW = Σ_n dy[n] · x[n]ᵀ. On large
// maps those go to `gemm`, which packs B a depth block of 512 columns at a time and asks for its next panel
// while the tiles run: the panels' 32-pixel columns of a 56×56 plane lie a whole plane apart, and their
// packing waited on memory (the ResNets' bottleneck convs at 224×224; BENCHMARKS.md, stop 42). On smaller
// maps the forward and dx are one product over the batch, Y[co][(n, pixel)] = W · X[c][(n, pixel)], read
// and written NCHW as they lie (`ImageColumns`): every 32-column panel full, where the conv panels end part-
// empty with each image (BENCHMARKS.md, stop 43).

/// The passes of a 1×1 conv that `gemm` takes. Figures in BENCHMARKS.md (stop 42).
enum OneByOnePass { case forward, inputGradient, weightGradient }

/// How a 1×1 conv's pass goes to `gemm`: a product per image, or one over the whole batch whose columns
/// run across images (`ImageColumns`).
enum OneByOneProducts { case perImage, wholeBatch }

/// The route of a 1×1, stride-1, unpadded conv's `pass` to `gemm`, if any. The forward and the input
/// gradient: per image from 1024 pixels a plane (56×56 at 224×224); on planes of 32 to 1023 pixels, one
/// product over the batch (7×7 and 14×14 filled the conv panels' last column panel of each image part-way;
/// 8×8 and 16×16, whole panels, ran faster this way too). Under 32 pixels a panel would span three images
/// or more and ran slower (BENCHMARKS.md, stop 43). The weight gradient: per image from 196 pixels with at
/// least 64 channels a side (its products there as deep as the plane).
func oneByOneProducts(_ g: ConvGeometry, _ pass: OneByOnePass) -> OneByOneProducts? {
    guard g.kernelH == 1 && g.kernelW == 1 && g.stride == 1 && g.padding == 0 && !g.ceilMode else { return nil }
    let plane = g.height * g.width
    switch pass {
    case .forward, .inputGradient:
        if plane >= 1024 { return .perImage }
        return plane >= panelWidth && g.batch > 1 ? .wholeBatch : nil
    case .weightGradient:
        return plane >= 196 && min(g.inChannels, g.outChannels) >= 64 ? .perImage : nil
    }
}

/// y[n] = W · x[n] + bias, then the epilogue, image by image (each image's outputs mapped while in cache).
func oneByOneForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                     geometry g: ConvGeometry, y: UnsafeMutablePointer<Float>, epilogue: ConvEpilogue?) {
    let cin = g.inChannels, cout = g.outChannels, p = g.height * g.width
    for n in 0..<g.batch {
        let yn = y + n * cout * p
        gemm(m: cout, n: p, k: cin, a: weight, lda: cin, b: x + n * cin * p, ldb: p, c: yn, ldc: p)
        mapOutputs(y, rows: (n * cout)..<((n + 1) * cout), channels: cout, plane: p, bias: bias, epilogue: epilogue)
    }
}

/// `oneByOneForward` as one product over the batch, its columns across images.
func oneByOneBatchForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                          geometry g: ConvGeometry, y: UnsafeMutablePointer<Float>, epilogue: ConvEpilogue?) {
    let cin = g.inChannels, cout = g.outChannels, p = g.height * g.width
    gemm(m: cout, n: g.batch * p, k: cin, a: weight, lda: cin, b: x, ldb: p, c: y, ldc: p,
         images: ImageColumns(plane: p, bImage: cin * p, cImage: cout * p))
    mapOutputs(y, rows: 0..<(g.batch * cout), channels: cout, plane: p, bias: bias, epilogue: epilogue)
}

/// The output planes `rows` (image · channels + channel) of y: + bias, then the epilogue, each plane once.
private func mapOutputs(_ y: UnsafeMutablePointer<Float>, rows: Range<Int>, channels: Int, plane p: Int,
                        bias: UnsafePointer<Float>?, epilogue: ConvEpilogue?) {
    guard bias != nil || epilogue != nil else { return }
    Parallel.forEach(rows.count, grain: max(1, 16384 / p)) { i in
        let nc = rows.lowerBound + i, row = y + nc * p, co = nc % channels
        if let bias { addScalar(bias[co], to: row, count: p) }
        epilogue?.apply(row, count: p, channel: co, offset: nc * p)
    }
}

/// `oneByOneBackwardData` as one product over the batch, its columns across images.
func oneByOneBatchBackwardData(dy: UnsafePointer<Float>, weight: UnsafePointer<Float>, geometry g: ConvGeometry,
                               dx: UnsafeMutablePointer<Float>) {
    let cin = g.inChannels, cout = g.outChannels, p = g.height * g.width
    gemm(transA: true, m: cin, n: g.batch * p, k: cout, a: weight, lda: cin, b: dy, ldb: p, c: dx, ldc: p,
         images: ImageColumns(plane: p, bImage: cout * p, cImage: cin * p))
}

/// dx[n] = Wᵀ · dy[n], overwritten.
func oneByOneBackwardData(dy: UnsafePointer<Float>, weight: UnsafePointer<Float>, geometry g: ConvGeometry,
                          dx: UnsafeMutablePointer<Float>) {
    let cin = g.inChannels, cout = g.outChannels, p = g.height * g.width
    for n in 0..<g.batch {
        gemm(transA: true, m: cin, n: p, k: cout, a: weight, lda: cin, b: dy + n * cout * p, ldb: p, c: dx + n * cin * p, ldc: p)
    }
}

/// dW = Σ_n dy[n] · x[n]ᵀ, overwritten; the images added in their order (any thread count, one result).
/// The wider side of dW is the products' columns: with more output channels than input, dWᵀ = Σ x[n] ·
/// dy[n]ᵀ is summed and turned round (64-wide columns ran slower; BENCHMARKS.md, stop 42).
func oneByOneBackwardWeights(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, geometry g: ConvGeometry,
                             dWeight: UnsafeMutablePointer<Float>) {
    let cin = g.inChannels, cout = g.outChannels, p = g.height * g.width
    guard cout > cin else {
        for n in 0..<g.batch {
            gemm(transB: true, m: cout, n: cin, k: p, a: dy + n * cout * p, lda: p, b: x + n * cin * p, ldb: p,
                 beta: n == 0 ? 0 : 1, c: dWeight, ldc: cin)
        }
        return
    }
    let t = ScratchPool.shared.take(cin * cout + 16)
    defer { ScratchPool.shared.give(t) }
    for n in 0..<g.batch {
        gemm(transB: true, m: cin, n: cout, k: p, a: x + n * cin * p, lda: p, b: dy + n * cout * p, ldb: p,
             beta: n == 0 ? 0 : 1, c: t.0, ldc: cout)
    }
    // Turned round 16 input channels at a time through register transposes (`transposeBlockIn`); the
    // last cin % 16 one float at a time (a block's zero lanes would land on the next row of dW).
    let whole = cin / 16 * 16
    for c0 in Swift.stride(from: 0, to: whole, by: 16) {
        transposeBlockIn(t.0 + c0 * cout, count: 16, stride: cout, len: cout, dWeight + c0, dstStride: cin, lanes: 16)
    }
    for c in whole..<cin { for co in 0..<cout { dWeight[co * cin + c] = t.0[c * cout + co] } }
}

/// row[i] += v for i < count, 16 at a time.
@inline(__always)
private func addScalar(_ v: Float, to row: UnsafeMutablePointer<Float>, count: Int) {
    let b = SIMD16<Float>(repeating: v)
    var i = 0
    while i + 16 <= count { store16(load16(row + i) + b, row + i); i += 16 }
    while i < count { row[i] += v; i += 1 }
}
