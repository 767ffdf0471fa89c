import Foundation

/// One pass of PyTorch's SGD update over `count` weights, SIMD and split across threads:
/// d = g + wd·w; momentum: b = mu·b + d, step = nesterov ? d + mu·b : b; w -= lr·step.
/// `buffer` nil means plain SGD. Element-wise, so the thread count never changes the result.
public func sgdUpdate(weights w: UnsafeMutablePointer<Float>, grads g: UnsafePointer<Float>,
                      buffer: UnsafeMutablePointer<Float>?, count: Int, lr: Float, momentum mu: Float,
                      weightDecay wd: Float, nesterov: Bool) {
    Parallel.ranges(count, grain: 1 << 16) { r in
        var i = r.lowerBound
        let vlr = SIMD16<Float>(repeating: lr), vmu = SIMD16<Float>(repeating: mu), vwd = SIMD16<Float>(repeating: wd)
        if let buf = buffer {
            while i + 16 <= r.upperBound {
                let wv = load16(w + i)
                let d = load16(g + i) + vwd * wv
                let b = vmu * load16(buf + i) + d
                store16(b, buf + i)
                store16(wv - vlr * (nesterov ? d + vmu * b : b), w + i)
                i += 16
            }
            while i < r.upperBound {
                let d = g[i] + wd * w[i]
                let b = mu * buf[i] + d
                buf[i] = b
                w[i] -= lr * (nesterov ? d + mu * b : b)
                i += 1
            }
        } else {
            while i + 16 <= r.upperBound {
                let wv = load16(w + i)
                store16(wv - vlr * (load16(g + i) + vwd * wv), w + i); i += 16
            }
            while i < r.upperBound { w[i] -= lr * (g[i] + wd * w[i]); i += 1 }
        }
    }
}
