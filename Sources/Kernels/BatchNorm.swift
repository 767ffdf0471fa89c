import Foundation

/// Batch normalisation over (N, H, W) per channel of an NCHW tensor, as PyTorch's BatchNorm2d:
/// biased batch variance to normalise, unbiased variance into the running estimate.
public struct BatchNormShape {
    public var batch, channels, planeSize: Int
    public init(batch: Int, channels: Int, planeSize: Int) {
        self.batch = batch; self.channels = channels; self.planeSize = planeSize
    }
}

/// Training mode: normalises with the batch statistics, updates the running ones with `momentum`,
/// and saves each channel's mean and 1/std for the backward pass.
public func batchNormTrainForward(x: UnsafePointer<Float>, s: BatchNormShape, gamma: UnsafePointer<Float>,
                                  beta: UnsafePointer<Float>, eps: Float, momentum: Float,
                                  runningMean: UnsafeMutablePointer<Float>, runningVar: UnsafeMutablePointer<Float>,
                                  savedMean: UnsafeMutablePointer<Float>, savedInvStd: UnsafeMutablePointer<Float>,
                                  y: UnsafeMutablePointer<Float>) {
    let count = s.batch * s.planeSize
    Parallel.forEach(s.channels, grain: max(1, 16384 / max(1, count))) { c in
        // Two passes, SIMD within a plane and double across planes: the statistics of a small batch
        // are compared against PyTorch to 1e-4.
        var sum = 0.0
        for n in 0..<s.batch { sum += Double(planeSum(x + (n * s.channels + c) * s.planeSize, s.planeSize)) }
        let mean = sum / Double(count)
        var sq = 0.0
        for n in 0..<s.batch {
            sq += Double(planeSquaredDeviation(x + (n * s.channels + c) * s.planeSize, s.planeSize, Float(mean)))
        }
        let variance = sq / Double(count)
        let invStd = 1 / (variance + Double(eps)).squareRoot()
        savedMean[c] = Float(mean); savedInvStd[c] = Float(invStd)
        let unbiased = count > 1 ? variance * Double(count) / Double(count - 1) : variance
        runningMean[c] = (1 - momentum) * runningMean[c] + momentum * Float(mean)
        runningVar[c] = (1 - momentum) * runningVar[c] + momentum * Float(unbiased)
        let scale = gamma[c] * Float(invStd), shift = beta[c] - Float(mean) * scale
        for n in 0..<s.batch {
            let off = (n * s.channels + c) * s.planeSize
            planeAffine(x + off, y + off, s.planeSize, scale, shift)
        }
    }
}

@inline(__always) func planeSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD16<Float>(), i = 0, tail: Float = 0
    while i + 16 <= n { acc += load16(p + i); i += 16 }
    while i < n { tail += p[i]; i += 1 }
    return hsum(acc) + tail
}

@inline(__always) func planeSquaredDeviation(_ p: UnsafePointer<Float>, _ n: Int, _ mean: Float) -> Float {
    var acc = SIMD16<Float>(), i = 0, tail: Float = 0
    let m = SIMD16<Float>(repeating: mean)
    while i + 16 <= n { let d = load16(p + i) - m; acc.addProduct(d, d); i += 16 }
    while i < n { let d = p[i] - mean; tail += d * d; i += 1 }
    return hsum(acc) + tail
}

@inline(__always) func planeAffine(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                                   _ scale: Float, _ shift: Float) {
    var i = 0
    let sc = SIMD16<Float>(repeating: scale), sh = SIMD16<Float>(repeating: shift)
    while i + 16 <= n { store16(load16(x + i) * sc + sh, y + i); i += 16 }
    while i < n { y[i] = x[i] * scale + shift; i += 1 }
}

/// Evaluation mode: normalises with the running statistics.
public func batchNormEvalForward(x: UnsafePointer<Float>, s: BatchNormShape, gamma: UnsafePointer<Float>,
                                 beta: UnsafePointer<Float>, eps: Float, runningMean: UnsafePointer<Float>,
                                 runningVar: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
    Parallel.forEach(s.channels, grain: max(1, 16384 / max(1, s.batch * s.planeSize))) { c in
        let scale = gamma[c] / (runningVar[c] + eps).squareRoot(), shift = beta[c] - runningMean[c] * scale
        for n in 0..<s.batch {
            let off = (n * s.channels + c) * s.planeSize
            planeAffine(x + off, y + off, s.planeSize, scale, shift)
        }
    }
}

/// Backward of the training-mode forward: dgamma, dbeta overwritten, dx overwritten.
public func batchNormBackward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, s: BatchNormShape,
                              gamma: UnsafePointer<Float>, savedMean: UnsafePointer<Float>,
                              savedInvStd: UnsafePointer<Float>, dGamma: UnsafeMutablePointer<Float>,
                              dBeta: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>) {
    let count = s.batch * s.planeSize
    Parallel.forEach(s.channels, grain: max(1, 16384 / max(1, count))) { c in
        let mean = savedMean[c], invStd = savedInvStd[c]
        var sumDy: Float = 0, sumDyXhat: Float = 0
        let m16 = SIMD16<Float>(repeating: mean)
        for n in 0..<s.batch {
            let off = (n * s.channels + c) * s.planeSize
            let g = dy + off, xp = x + off
            var a = SIMD16<Float>(), b = SIMD16<Float>(), i = 0
            while i + 16 <= s.planeSize {
                let gv = load16(g + i)
                a += gv; b.addProduct(gv, load16(xp + i) - m16); i += 16
            }
            var ta: Float = 0, tb: Float = 0
            while i < s.planeSize { ta += g[i]; tb += g[i] * (xp[i] - mean); i += 1 }
            sumDy += hsum(a) + ta; sumDyXhat += (hsum(b) + tb) * invStd
        }
        dGamma[c] = sumDyXhat; dBeta[c] = sumDy
        // dx = k (count dy - sumDy - xhat sumDyXhat) = (k count) dy - k sumDy - (k sumDyXhat invStd) (x - mean)
        let k = gamma[c] * invStd / Float(count)
        let cDy = k * Float(count), cX = -k * sumDyXhat * invStd, c0 = -k * sumDy
        let vDy = SIMD16<Float>(repeating: cDy), vX = SIMD16<Float>(repeating: cX), v0 = SIMD16<Float>(repeating: c0)
        for n in 0..<s.batch {
            let off = (n * s.channels + c) * s.planeSize
            var i = 0
            while i + 16 <= s.planeSize {
                var r = v0; r.addProduct(vDy, load16(dy + off + i)); r.addProduct(vX, load16(x + off + i) - m16)
                store16(r, dx + off + i); i += 16
            }
            while i < s.planeSize {
                let xhat = (x[off + i] - mean) * invStd
                dx[off + i] = k * (Float(count) * dy[off + i] - sumDy - xhat * sumDyXhat); i += 1
            }
        }
    }
}

/// Backward through the evaluation-mode affine map (used when gradients are wanted in eval mode).
public func batchNormEvalBackward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, s: BatchNormShape,
                                  gamma: UnsafePointer<Float>, eps: Float, runningMean: UnsafePointer<Float>,
                                  runningVar: UnsafePointer<Float>, dGamma: UnsafeMutablePointer<Float>,
                                  dBeta: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>) {
    Parallel.forEach(s.channels, grain: max(1, 16384 / max(1, s.batch * s.planeSize))) { c in
        let invStd = 1 / (runningVar[c] + eps).squareRoot(), mean = runningMean[c]
        var sumDy: Float = 0, sumDyXhat: Float = 0
        for n in 0..<s.batch {
            let off = (n * s.channels + c) * s.planeSize
            for i in 0..<s.planeSize {
                let g = dy[off + i]
                sumDy += g; sumDyXhat += g * (x[off + i] - mean) * invStd
                dx[off + i] = g * gamma[c] * invStd
            }
        }
        dGamma[c] = sumDyXhat; dBeta[c] = sumDy
    }
}
