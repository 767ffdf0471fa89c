import Foundation

/// y[b][o] = sum_i x[b][i] w[o][i] + bias[o]   (PyTorch's nn.Linear layout: weight is out × in).
public func linearForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                          batch: Int, inFeatures: Int, outFeatures: Int, y: UnsafeMutablePointer<Float>) {
    gemm(transB: true, m: batch, n: outFeatures, k: inFeatures, a: x, lda: inFeatures, b: weight, ldb: inFeatures,
         c: y, ldc: outFeatures)
    if let bias {
        for b in 0..<batch { let row = y + b * outFeatures; for o in 0..<outFeatures { row[o] += bias[o] } }
    }
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
