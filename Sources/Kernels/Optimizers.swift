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

/// Sums of squares a measured update gathers over the elements it updates: the gradient (as the
/// backward pass left it, before weight decay), the weights before the update, and the update applied.
public struct UpdateSums: Equatable, Sendable {
    public var grad = 0.0, weight = 0.0, update = 0.0
    public init(grad: Double = 0, weight: Double = 0, update: Double = 0) { self.grad = grad; self.weight = weight; self.update = update }
    public static func += (a: inout UpdateSums, b: UpdateSums) { a.grad += b.grad; a.weight += b.weight; a.update += b.update }
}

/// `sgdUpdate` on one thread that also returns the sums of squares of g, w (before) and the applied
/// step lr·(…), gathered from the values the update holds in registers anyway (no extra pass over
/// memory). Float lanes are flushed to Double every 1024 vectors, so long tensors keep their precision.
/// The same float operations on w and the buffer as `sgdUpdate`: the weights come out bit for bit equal.
public func sgdUpdateMeasured(weights w: UnsafeMutablePointer<Float>, grads g: UnsafePointer<Float>,
                              buffer: UnsafeMutablePointer<Float>?, count: Int, lr: Float, momentum mu: Float,
                              weightDecay wd: Float, nesterov: Bool) -> UpdateSums {
    var sums = UpdateSums()
    let vlr = SIMD16<Float>(repeating: lr), vmu = SIMD16<Float>(repeating: mu), vwd = SIMD16<Float>(repeating: wd)
    var i = 0
    while i + 16 <= count {
        var sg = SIMD16<Float>(), sw = SIMD16<Float>(), su = SIMD16<Float>()
        let end = min(count - (count - i) % 16, i + 16 * 1024)
        while i < end {
            let wv = load16(w + i), gv = load16(g + i)
            let d = gv + vwd * wv
            let u: SIMD16<Float>
            if let buf = buffer {
                let b = vmu * load16(buf + i) + d
                store16(b, buf + i)
                u = vlr * (nesterov ? d + vmu * b : b)
            } else {
                u = vlr * d
            }
            store16(wv - u, w + i)
            sg.addProduct(gv, gv); sw.addProduct(wv, wv); su.addProduct(u, u)
            i += 16
        }
        sums.grad += Double(sg.sum()); sums.weight += Double(sw.sum()); sums.update += Double(su.sum())
    }
    while i < count {
        let wi = w[i], gi = g[i]
        let d = gi + wd * wi
        let u: Float
        if let buf = buffer {
            let b = mu * buf[i] + d
            buf[i] = b
            u = lr * (nesterov ? d + mu * b : b)
        } else {
            u = lr * d
        }
        w[i] = wi - u
        sums.grad += Double(gi * gi); sums.weight += Double(wi * wi); sums.update += Double(u * u)
        i += 1
    }
    return sums
}

/// Σ x² over `count` floats (Double result; Float lanes flushed every 1024 vectors).
public func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
    var total = 0.0, i = 0
    while i + 16 <= count {
        var s = SIMD16<Float>()
        let end = min(count - (count - i) % 16, i + 16 * 1024)
        while i < end { let v = load16(x + i); s.addProduct(v, v); i += 16 }
        total += Double(s.sum())
    }
    while i < count { total += Double(x[i] * x[i]); i += 1 }
    return total
}
