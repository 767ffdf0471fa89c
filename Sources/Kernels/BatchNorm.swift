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
        // Two passes in double: the statistics of a small batch are compared against PyTorch to 1e-4.
        var sum = 0.0
        for n in 0..<s.batch {
            let p = x + (n * s.channels + c) * s.planeSize
            for i in 0..<s.planeSize { sum += Double(p[i]) }
        }
        let mean = sum / Double(count)
        var sq = 0.0
        for n in 0..<s.batch {
            let p = x + (n * s.channels + c) * s.planeSize
            for i in 0..<s.planeSize { let d = Double(p[i]) - mean; sq += d * d }
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
            for i in 0..<s.planeSize { y[off + i] = x[off + i] * scale + shift }
        }
    }
}

/// Evaluation mode: normalises with the running statistics.
public func batchNormEvalForward(x: UnsafePointer<Float>, s: BatchNormShape, gamma: UnsafePointer<Float>,
                                 beta: UnsafePointer<Float>, eps: Float, runningMean: UnsafePointer<Float>,
                                 runningVar: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
    Parallel.forEach(s.channels, grain: max(1, 16384 / max(1, s.batch * s.planeSize))) { c in
        let scale = gamma[c] / (runningVar[c] + eps).squareRoot(), shift = beta[c] - runningMean[c] * scale
        for n in 0..<s.batch {
            let off = (n * s.channels + c) * s.planeSize
            for i in 0..<s.planeSize { y[off + i] = x[off + i] * scale + shift }
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
        for n in 0..<s.batch {
            let off = (n * s.channels + c) * s.planeSize
            for i in 0..<s.planeSize {
                let g = dy[off + i]
                sumDy += g; sumDyXhat += g * (x[off + i] - mean) * invStd
            }
        }
        dGamma[c] = sumDyXhat; dBeta[c] = sumDy
        let k = gamma[c] * invStd / Float(count)
        for n in 0..<s.batch {
            let off = (n * s.channels + c) * s.planeSize
            for i in 0..<s.planeSize {
                let xhat = (x[off + i] - mean) * invStd
                dx[off + i] = k * (Float(count) * dy[off + i] - sumDy - xhat * sumDyXhat)
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
