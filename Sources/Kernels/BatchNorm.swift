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
/// and saves each channel's mean and 1/std for the backward pass. With `residual` (x's shape) it is
/// added to the normalised values, and with `relu` negatives become 0, in the same pass: a residual
/// block's add and ReLU, the same float operations as `addInPlace` and `reluForward` after it.
public func batchNormTrainForward(x: UnsafePointer<Float>, s: BatchNormShape, gamma: UnsafePointer<Float>,
                                  beta: UnsafePointer<Float>, eps: Float, momentum: Float,
                                  runningMean: UnsafeMutablePointer<Float>, runningVar: UnsafeMutablePointer<Float>,
                                  savedMean: UnsafeMutablePointer<Float>, savedInvStd: UnsafeMutablePointer<Float>,
                                  y: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>? = nil, relu: Bool = false) {
    if let lanes = ChannelLanes(s) {
        lanes.trainForward(x: x, gamma: gamma, beta: beta, eps: eps, momentum: momentum, runningMean: runningMean,
                           runningVar: runningVar, savedMean: savedMean, savedInvStd: savedInvStd, y: y,
                           residual: residual, relu: relu)
        return
    }
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
        let (scale, shift) = finishChannel(c, mean: mean, variance: sq / Double(count), count: Double(count), eps: eps,
                                           momentum: momentum, gamma: gamma, beta: beta, runningMean: runningMean,
                                           runningVar: runningVar, savedMean: savedMean, savedInvStd: savedInvStd)
        for n in 0..<s.batch {
            let off = (n * s.channels + c) * s.planeSize
            planeAffine(x + off, y + off, s.planeSize, scale, shift, residual: residual.map { $0 + off }, relu: relu)
        }
    }
}

/// A channel's batch statistics put to use: saves its mean and 1/std for the backward pass, moves the
/// running estimates (unbiased variance), and returns the normalising map y = scale·x + shift.
@inline(__always)
private func finishChannel(_ c: Int, mean: Double, variance: Double, count: Double, eps: Float, momentum: Float,
                           gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                           runningMean: UnsafeMutablePointer<Float>, runningVar: UnsafeMutablePointer<Float>,
                           savedMean: UnsafeMutablePointer<Float>, savedInvStd: UnsafeMutablePointer<Float>) -> (Float, Float) {
    let invStd = 1 / (variance + Double(eps)).squareRoot()
    savedMean[c] = Float(mean); savedInvStd[c] = Float(invStd)
    let unbiased = count > 1 ? variance * count / (count - 1) : variance
    runningMean[c] = (1 - momentum) * runningMean[c] + momentum * Float(mean)
    runningVar[c] = (1 - momentum) * runningVar[c] + momentum * Float(unbiased)
    return normalizingMap(gamma: gamma[c], beta: beta[c], mean: savedMean[c], invStd: savedInvStd[c])
}

/// y = scale·x + shift from a channel's affine parameters and saved statistics: what the training forward
/// applied, worked out again, the same floats, by a backward that recomputes the ReLU's mask.
@inline(__always)
private func normalizingMap(gamma: Float, beta: Float, mean: Float, invStd: Float) -> (scale: Float, shift: Float) {
    let scale = gamma * invStd
    return (scale, beta - mean * scale)
}

/// The backward pass's dx = k (count·dy − ΣdY − x̂·Σdy·x̂), k = γ·invStd / count, as the map
/// dx = cDy·dy + cX·(x − mean) + c0.
@inline(__always)
private func backwardCoefficients(gamma: Float, invStd: Float, count: Float, sumDy: Float,
                                  sumDyXhat: Float) -> (cDy: Float, cX: Float, c0: Float) {
    let k = gamma * invStd / count
    return (k * count, -k * sumDyXhat * invStd, -k * sumDy)
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

/// y = scale·x + shift over one plane, then + residual and the ReLU where given, in one pass and in
/// vectors (with the add and ReLU as a scalar pass after, the forward with a ReLU took 5-13× as long on
/// ResNet-50's 14×14 and 7×7 planes: BENCHMARKS.md, stop 43).
@inline(__always) func planeAffine(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                                   _ scale: Float, _ shift: Float, residual: UnsafePointer<Float>? = nil,
                                   relu: Bool = false) {
    var i = 0
    let sc = SIMD16<Float>(repeating: scale), sh = SIMD16<Float>(repeating: shift)
    while i + 16 <= n {
        var v = load16(x + i) * sc + sh
        if let residual { v = v + load16(residual + i) }
        if relu { v = v.replacing(with: SIMD16<Float>(), where: v .< SIMD16<Float>()) }
        store16(v, y + i); i += 16
    }
    while i < n {
        var v = x[i] * scale + shift
        if let residual { v = v + residual[i] }
        if relu { v = max(v, 0) }
        y[i] = v; i += 1
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
            planeAffine(x + off, y + off, s.planeSize, scale, shift)
        }
    }
}

/// Backward of the training-mode forward: dgamma, dbeta overwritten, dx overwritten.
public func batchNormBackward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, s: BatchNormShape,
                              gamma: UnsafePointer<Float>, savedMean: UnsafePointer<Float>,
                              savedInvStd: UnsafePointer<Float>, dGamma: UnsafeMutablePointer<Float>,
                              dBeta: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>) {
    batchNormBackward(dy: dy, relu: nil, x: x, s: s, gamma: gamma, savedMean: savedMean, savedInvStd: savedInvStd,
                      dGamma: dGamma, dBeta: dBeta, dx: dx)
}

/// Backward of a training-mode forward followed by a ReLU (`batchNormTrainForward` with `relu`, whose
/// output `reluOutput` is): dy is first zeroed in place where the output is not positive, as
/// `reluBackward` in place would, in the pass that sums it. dy then holds the gradient before the
/// ReLU (a residual block's shortcut gradient); dgamma, dbeta and dx (which may be dy) overwritten.
public func batchNormReLUBackward(dy: UnsafeMutablePointer<Float>, reluOutput: UnsafePointer<Float>, x: UnsafePointer<Float>,
                                  s: BatchNormShape, gamma: UnsafePointer<Float>, savedMean: UnsafePointer<Float>,
                                  savedInvStd: UnsafePointer<Float>, dGamma: UnsafeMutablePointer<Float>,
                                  dBeta: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>) {
    batchNormBackward(dy: dy, relu: reluOutput, x: x, s: s, gamma: gamma, savedMean: savedMean, savedInvStd: savedInvStd,
                      dGamma: dGamma, dBeta: dBeta, dx: dx)
}

/// `batchNormReLUBackward` with dx written over dy, after a forward with no residual (and γ, β unchanged
/// since): the ReLU let a value through where x·scale + shift > 0, so its mask is recomputed from x with
/// the forward's map (`normalizingMap`, the same float operations) instead of read from its output, and
/// the masked dy is never written back: five tensor passes instead of seven. The same floats as
/// `batchNormReLUBackward`.
public func batchNormReLUBackwardInPlace(dy: UnsafeMutablePointer<Float>, reluOutput: UnsafePointer<Float>,
                                         x: UnsafePointer<Float>, s: BatchNormShape, gamma: UnsafePointer<Float>,
                                         beta: UnsafePointer<Float>, savedMean: UnsafePointer<Float>,
                                         savedInvStd: UnsafePointer<Float>, dGamma: UnsafeMutablePointer<Float>,
                                         dBeta: UnsafeMutablePointer<Float>) {
    guard let lanes = ChannelLanes(s) else {
        batchNormBackward(dy: dy, relu: reluOutput, x: x, s: s, gamma: gamma, savedMean: savedMean, savedInvStd: savedInvStd,
                          dGamma: dGamma, dBeta: dBeta, dx: dy)
        return
    }
    lanes.backward(dy: dy, relu: nil, maskBeta: beta, x: x, gamma: gamma, savedMean: savedMean, savedInvStd: savedInvStd,
                   dGamma: dGamma, dBeta: dBeta, dx: dy)
}

/// The two above: with `relu`, dy is writable and masked first.
private func batchNormBackward(dy: UnsafePointer<Float>, relu: UnsafePointer<Float>?, x: UnsafePointer<Float>,
                               s: BatchNormShape, gamma: UnsafePointer<Float>, savedMean: UnsafePointer<Float>,
                               savedInvStd: UnsafePointer<Float>, dGamma: UnsafeMutablePointer<Float>,
                               dBeta: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>) {
    if let lanes = ChannelLanes(s) {
        lanes.backward(dy: dy, relu: relu, maskBeta: nil, x: x, gamma: gamma, savedMean: savedMean, savedInvStd: savedInvStd,
                       dGamma: dGamma, dBeta: dBeta, dx: dx)
        return
    }
    let count = s.batch * s.planeSize
    Parallel.forEach(s.channels, grain: max(1, 16384 / max(1, count))) { c in
        let mean = savedMean[c], invStd = savedInvStd[c]
        var sumDy: Float = 0, sumDyXhat: Float = 0
        let m16 = SIMD16<Float>(repeating: mean)
        for n in 0..<s.batch {
            let off = (n * s.channels + c) * s.planeSize
            // dy masked by the ReLU (and written back) in the vector pass that sums it, not in a scalar
            // pass before (BENCHMARKS.md, stop 43).
            let g = UnsafeMutablePointer(mutating: dy + off), xp = x + off, r = relu.map { $0 + off }
            var a = SIMD16<Float>(), b = SIMD16<Float>(), i = 0
            while i + 16 <= s.planeSize {
                var gv = load16(g + i)
                if let r { gv = gv.replacing(with: SIMD16<Float>(), where: load16(r + i) .<= SIMD16<Float>()); store16(gv, g + i) }
                a += gv; b.addProduct(gv, load16(xp + i) - m16); i += 16
            }
            var ta: Float = 0, tb: Float = 0
            while i < s.planeSize {
                if let r, r[i] <= 0 { g[i] = 0 }
                ta += g[i]; tb += g[i] * (xp[i] - mean); i += 1
            }
            sumDy += hsum(a) + ta; sumDyXhat += (hsum(b) + tb) * invStd
        }
        dGamma[c] = sumDyXhat; dBeta[c] = sumDy
        let (cDy, cX, c0) = backwardCoefficients(gamma: gamma[c], invStd: invStd, count: Float(count), sumDy: sumDy,
                                                 sumDyXhat: sumDyXhat)
        let k = gamma[c] * invStd / Float(count)      // for the scalar tail, in the definition's order
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

/// Training-mode batch norm with every 16-float vector inside one channel's planes, summed lane by lane
/// over a slab of images, then over the batch, and reduced across lanes once per channel. Applies when
/// a plane is a multiple of 16 floats (a vector holds pixels of one channel) or divides 16 (a vector
/// holds 16 / plane whole channels, consecutive in NCHW): ResNet's 2×2 and 1×1 maps no longer pay a
/// horizontal sum, a float-to-double conversion and a scalar loop per plane, which made them the
/// slowest per byte.
struct ChannelLanes {
    let s: BatchNormShape
    let channelsPerVector: Int      // 1 when the plane spans vectors
    let vectorsPerPlane: Int        // 1 when a vector spans channels
    init?(_ s: BatchNormShape) {
        let p = s.planeSize
        if p % 16 == 0 { channelsPerVector = 1; vectorsPerPlane = p / 16 }
        else if 16 % p == 0 && s.channels % (16 / p) == 0 { channelsPerVector = 16 / p; vectorsPerPlane = 1 }
        else { return nil }
        self.s = s
    }
    var groups: Int { s.channels / channelsPerVector }

    /// An item is one image's channel group, `itemLength` floats that lie together: item i is image
    /// i / groups's group i % groups, at i · itemLength. The passes walk blocks of groups, and each core a
    /// range of images through a block in memory order. Walking one channel's planes down the batch
    /// instead (a plane a page or more from the next) restarted the hardware prefetcher at every plane:
    /// 1.3-1.5x slower on 16×16 to 56×56 maps (BENCHMARKS.md, stop 44).
    var itemLength: Int { vectorsPerPlane * 16 }

    /// Calls `body(offset)` for every vector of item `i`.
    @inline(__always) func forEachVector(item i: Int, _ body: (Int) -> Void) {
        var o = i * itemLength
        for _ in 0..<vectorsPerPlane { body(o); o += 16 }
    }

    /// Calls `body(block)` for ranges of groups whose items over the batch hold at most 2^20 floats, so
    /// that the second pass over a block finds it in the last-level cache.
    @inline(__always) func forEachBlock(_ body: (Range<Int>) -> Void) {
        let per = max(1, (1 << 20) / (s.batch * itemLength))
        var g0 = 0
        while g0 < groups { let g1 = min(groups, g0 + per); body(g0..<g1); g0 = g1 }
    }

    /// Calls `body(slab, g, images)` for every slab of images and group g of `block`, the body walking g's
    /// items over the slab's images; a core takes whole slabs. Items under 256 floats go four images at a
    /// time (four streams, each running on from one group to the next): one image at a time, the partial
    /// sums a short item pays for cost more than the order gains (8×8: 0.066 against 0.089 ms).
    @inline(__always) func forEachSlab(in block: Range<Int>, _ body: (Int, Int, Range<Int>) -> Void) {
        Parallel.forEach(slabs, grain: max(1, 4096 / (slabImages * block.count * itemLength))) { slab in
            let images = (slabImages * slab)..<min(s.batch, slabImages * (slab + 1))
            for g in block { body(slab, g, images) }
        }
    }
    var slabImages: Int { itemLength >= 256 ? 1 : 4 }
    var slabs: Int { (s.batch + slabImages - 1) / slabImages }

    /// Stores a slab's two partial-sum vectors for group g where `forEachGroupTotal` reads them.
    @inline(__always) func storePartial(_ partial: UnsafeMutablePointer<Float>, slab: Int, _ g: Int, _ a: SIMD16<Float>,
                                        _ b: SIMD16<Float>) {
        let p = partial + 32 * (slab * groups + g)
        store16(a, p); store16(b, p + 16)
    }

    /// Calls `body(g, a, b)` for every group of `block` with its slabs' two partial-sum vectors (at
    /// `partial` + 32·(slab·groups + g) and + 16) added in slab order, in double: the same figures for
    /// any number of cores (more than 128 channels are split between cores). A slab is summed in float
    /// (one image's plane from 256 floats, 196 vectors a lane at 56×56; four images' planes under that)
    /// and the slabs in double, as PyTorch's CPU batch norm sums in double: a deep network without
    /// shortcuts amplifies every rounding of these sums into its early gradients (TorchReferenceTests'
    /// plain ResNet-18 in train mode: 1.6e-4 of a gradient's norm with the slabs in float, 5e-5 in double).
    @inline(__always) func forEachGroupTotal(in block: Range<Int>, _ partial: UnsafePointer<Float>,
                                             _ body: (Int, SIMD16<Double>, SIMD16<Double>) -> Void) {
        Parallel.forEach(block.count, grain: max(1, 128 / channelsPerVector)) { j in
            let g = block.lowerBound + j
            var a = SIMD16<Double>(), b = SIMD16<Double>()
            for slab in 0..<slabs {
                let p = partial + 32 * (slab * groups + g)
                a += SIMD16<Double>(load16(p)); b += SIMD16<Double>(load16(p + 16))
            }
            body(g, a, b)
        }
    }

    /// The per-channel totals of a vector of lane sums: channel i of the group owns lanes
    /// i·plane ..< (i+1)·plane (all 16 when a vector is one channel's).
    @inline(__always) func channelSums(_ v: SIMD16<Double>, _ body: (Int, Double) -> Void) {
        if channelsPerVector == 1 { body(0, v.sum()); return }
        let p = s.planeSize
        for i in 0..<channelsPerVector {
            var t = 0.0
            for l in (i * p)..<((i + 1) * p) { t += v[l] }
            body(i, t)
        }
    }

    /// A vector whose lanes hold `values[channel of the lane]` for the group starting at `c0`.
    @inline(__always) func spread(_ values: (Int) -> Float, _ c0: Int) -> SIMD16<Float> {
        if channelsPerVector == 1 { return SIMD16<Float>(repeating: values(c0)) }
        var v = SIMD16<Float>()
        for l in 0..<16 { v[l] = values(c0 + l / s.planeSize) }
        return v
    }

    func trainForward(x: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                      momentum: Float, runningMean: UnsafeMutablePointer<Float>, runningVar: UnsafeMutablePointer<Float>,
                      savedMean: UnsafeMutablePointer<Float>, savedInvStd: UnsafeMutablePointer<Float>,
                      y: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, relu: Bool) {
        let count = Double(s.batch * s.planeSize)
        let buf = ScratchPool.shared.take(32 * slabs * groups + 48 * groups)
        defer { ScratchPool.shared.give(buf) }
        // Per group, vectors of its lanes' channel values: the pivot, then the map's scale and shift.
        let partial = buf.0, pivot = partial + 32 * slabs * groups, scale = pivot + 16 * groups, shift = scale + 16 * groups
        forEachBlock { block in
            // Both sums in one pass, of deviations from the first image's mean of each channel: near the
            // batch mean, so Σd² − (Σd)²/n loses little to cancellation.
            Parallel.forEach(block.count, grain: max(1, 16384 / itemLength)) { j in
                let g = block.lowerBound + j, c0 = g * channelsPerVector
                var first = SIMD16<Float>()
                forEachVector(item: g) { o in first += load16(x + o) }
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { t in
                    let t = t.baseAddress!
                    channelSums(SIMD16<Double>(first)) { i, sum in t[i] = Float(sum / Double(s.planeSize)) }
                    store16(spread({ t[$0 - c0] }, c0), pivot + 16 * g)
                }
            }
            forEachSlab(in: block) { slab, g, images in
                let kv = load16(pivot + 16 * g)
                var sum = SIMD16<Float>(), sq = SIMD16<Float>()
                for n in images {
                    forEachVector(item: n * groups + g) { o in let d = load16(x + o) - kv; sum += d; sq.addProduct(d, d) }
                }
                storePartial(partial, slab: slab, g, sum, sq)
            }
            forEachGroupTotal(in: block, partial) { g, sum, sq in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { t in
                    let sc = t.baseAddress!, sh = sc + 16, c0 = g * channelsPerVector
                    withUnsafeTemporaryAllocation(of: Double.self, capacity: 16) { shifted in
                        let shifted = shifted.baseAddress!
                        channelSums(sum) { i, total in shifted[i] = total / count }
                        channelSums(sq) { i, total in
                            let d = shifted[i], variance = max(0, total / count - d * d)
                            (sc[i], sh[i]) = finishChannel(c0 + i, mean: Double(pivot[16 * g + i * s.planeSize]) + d,
                                                           variance: variance, count: count, eps: eps, momentum: momentum,
                                                           gamma: gamma, beta: beta, runningMean: runningMean,
                                                           runningVar: runningVar, savedMean: savedMean,
                                                           savedInvStd: savedInvStd)
                        }
                    }
                    store16(spread({ sc[$0 - c0] }, c0), scale + 16 * g); store16(spread({ sh[$0 - c0] }, c0), shift + 16 * g)
                }
            }
            forEachSlab(in: block) { _, g, images in
                let sc = load16(scale + 16 * g), sh = load16(shift + 16 * g)
                for n in images {
                    forEachVector(item: n * groups + g) { o in
                        var v = load16(x + o) * sc + sh
                        if let residual { v = v + load16(residual + o) }
                        if relu { v = v.replacing(with: SIMD16<Float>(), where: v .< SIMD16<Float>()) }
                        store16(v, y + o)
                    }
                }
            }
        }
    }

    /// With `relu` (the ReLU's output after this forward), dy is zeroed in place where it is not positive.
    /// With `maskBeta` (β: no residual was added) the ReLU's mask is computed from x and the forward's map
    /// instead, in both passes, and dy is left as it was (unless dx is dy).
    func backward(dy: UnsafePointer<Float>, relu: UnsafePointer<Float>?, maskBeta: UnsafePointer<Float>?, x: UnsafePointer<Float>,
                  gamma: UnsafePointer<Float>, savedMean: UnsafePointer<Float>, savedInvStd: UnsafePointer<Float>,
                  dGamma: UnsafeMutablePointer<Float>, dBeta: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        let count = Float(s.batch * s.planeSize)
        let buf = ScratchPool.shared.take(32 * slabs * groups + 96 * groups)
        defer { ScratchPool.shared.give(buf) }
        // Per group, vectors of its lanes' channel values: the mean, the forward's map (for the mask), and
        // the input gradient's coefficients.
        let partial = buf.0, mean = partial + 32 * slabs * groups, scale = mean + 16 * groups, shift = scale + 16 * groups
        let vDy = shift + 16 * groups, vX = vDy + 16 * groups, v0 = vX + 16 * groups
        for g in 0..<groups {
            let c0 = g * channelsPerVector
            store16(spread({ savedMean[$0] }, c0), mean + 16 * g)
            if let maskBeta {
                @inline(__always) func map(_ c: Int) -> (scale: Float, shift: Float) {
                    normalizingMap(gamma: gamma[c], beta: maskBeta[c], mean: savedMean[c], invStd: savedInvStd[c])
                }
                store16(spread({ map($0).scale }, c0), scale + 16 * g); store16(spread({ map($0).shift }, c0), shift + 16 * g)
            }
        }
        // dy where the forward's ReLU let x through: x·scale + shift as the forward computed it (group g's map).
        @inline(__always) func passed(_ gv: SIMD16<Float>, _ xv: SIMD16<Float>, _ g: Int) -> SIMD16<Float> {
            gv.replacing(with: SIMD16<Float>(), where: xv * load16(scale + 16 * g) + load16(shift + 16 * g) .<= SIMD16<Float>())
        }
        forEachBlock { block in
            forEachSlab(in: block) { slab, g, images in
                let mv = load16(mean + 16 * g)
                var a = SIMD16<Float>(), b = SIMD16<Float>()
                for n in images {
                    if maskBeta != nil {
                        forEachVector(item: n * groups + g) { o in
                            let xv = load16(x + o), gv = passed(load16(dy + o), xv, g)
                            a += gv; b.addProduct(gv, xv - mv)
                        }
                    } else {
                        forEachVector(item: n * groups + g) { o in
                            var gv = load16(dy + o)
                            if let relu {
                                gv = gv.replacing(with: SIMD16<Float>(), where: load16(relu + o) .<= SIMD16<Float>())
                                store16(gv, UnsafeMutablePointer(mutating: dy) + o)
                            }
                            a += gv; b.addProduct(gv, load16(x + o) - mv)
                        }
                    }
                }
                storePartial(partial, slab: slab, g, a, b)
            }
            forEachGroupTotal(in: block, partial) { g, a, b in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 64) { t in
                    let sumDy = t.baseAddress!, cDy = sumDy + 16, cX = sumDy + 32, cZero = sumDy + 48, c0 = g * channelsPerVector
                    channelSums(a) { i, sum in sumDy[i] = Float(sum) }
                    channelSums(b) { i, sum in
                        let c = c0 + i, invStd = savedInvStd[c], sumDyXhat = Float(sum) * invStd
                        dGamma[c] = sumDyXhat; dBeta[c] = sumDy[i]
                        (cDy[i], cX[i], cZero[i]) = backwardCoefficients(gamma: gamma[c], invStd: invStd, count: count,
                                                                         sumDy: sumDy[i], sumDyXhat: sumDyXhat)
                    }
                    store16(spread({ cDy[$0 - c0] }, c0), vDy + 16 * g); store16(spread({ cX[$0 - c0] }, c0), vX + 16 * g)
                    store16(spread({ cZero[$0 - c0] }, c0), v0 + 16 * g)
                }
            }
            forEachSlab(in: block) { _, g, images in
                let mv = load16(mean + 16 * g)
                let kDy = load16(vDy + 16 * g), kX = load16(vX + 16 * g), k0 = load16(v0 + 16 * g)
                for n in images where maskBeta != nil {
                    forEachVector(item: n * groups + g) { o in
                        let xv = load16(x + o)
                        var r = k0; r.addProduct(kDy, passed(load16(dy + o), xv, g)); r.addProduct(kX, xv - mv)
                        store16(r, dx + o)
                    }
                }
                for n in images where maskBeta == nil {
                    forEachVector(item: n * groups + g) { o in
                        var r = k0; r.addProduct(kDy, load16(dy + o)); r.addProduct(kX, load16(x + o) - mv)
                        store16(r, dx + o)
                    }
                }
            }
        }
    }
}
