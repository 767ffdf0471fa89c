import Foundation

/// Max pooling over each (n, c) plane with padding counted as -infinity, as PyTorch.
/// `argmax` records, per output, the index of the winner inside its input plane: backward is one scatter.
/// nil skips the indices, for inference that no backward pass will follow.
public func maxPoolForward(x: UnsafePointer<Float>, geometry g: ConvGeometry, y: UnsafeMutablePointer<Float>,
                           argmax optionalArgmax: UnsafeMutablePointer<Int32>?) {
    if bufferedMaxPoolApplies(g) {
        if g.outW < 16 { maxPoolAcrossPlanes(x: x, g, y: y, argmax: optionalArgmax) }
        else { maxPoolBuffered(x: x, g, y: y, argmax: optionalArgmax) }
        return
    }
    // The other paths always record indices (into scratch when the caller wants none).
    let scratch = optionalArgmax == nil ? ScratchPool.shared.take(g.batch * g.inChannels * g.outH * g.outW + 16) : nil
    defer { if let scratch { ScratchPool.shared.give(scratch) } }
    let argmax = optionalArgmax ?? UnsafeMutableRawPointer(scratch!.0).bindMemory(to: Int32.self, capacity: g.batch * g.inChannels * g.outH * g.outW)
    let oh = g.outH, ow = g.outW, plane = g.height * g.width
    let kh = g.kernelH, kw = g.kernelW, st = g.stride, pad = g.padding, h = g.height, w = g.width
    // (Even sides: ceil mode's output is floor mode's.)
    if kh == 2 && kw == 2 && st == 2 && pad == 0 && h % 2 == 0 && w % 2 == 0 {
        maxPool2x2(x: x, g, y: y, argmax: argmax)
        return
    }
    Parallel.forEach(g.batch * g.inChannels, grain: max(1, 4096 / max(1, plane))) { nc in
        let src = x + nc * plane, dst = y + nc * oh * ow, am = argmax + nc * oh * ow
        for oy in 0..<oh {
            for ox in 0..<ow {
                (dst[oy * ow + ox], am[oy * ow + ox]) = maxOfWindow(src, top: oy * st - pad, left: ox * st - pad,
                                                                    kh: kh, kw: kw, h: h, w: w)
            }
        }
    }
}

/// The maximum of one window and its index in the plane: only the taps inside the image (a ceil-mode
/// window may reach past the right or bottom edge), row-major,
/// first maximum wins (PyTorch's rule); (-inf, -1) for a window wholly in the padding.
@inline(__always)
private func maxOfWindow(_ src: UnsafePointer<Float>, top iy0: Int, left ix0: Int, kh: Int, kw: Int,
                         h: Int, w: Int) -> (Float, Int32) {
    let kiLo = max(0, -iy0), kiHi = min(kh, h - iy0), kjLo = max(0, -ix0), kjHi = min(kw, w - ix0)
    var best = -Float.infinity, bi: Int32 = -1
    guard kiLo < kiHi && kjLo < kjHi else { return (best, bi) }
    for ki in kiLo..<kiHi {
        let rowBase = (iy0 + ki) * w + ix0
        for kj in kjLo..<kjHi {
            let v = src[rowBase + kj]
            if v > best || bi < 0 { best = v; bi = Int32(rowBase + kj) }
        }
    }
    return (best, bi)
}

/// 2×2 windows, stride 2, even sizes. The planes' row pairs follow each other in x (and their output
/// rows in y), so a thread walks a run of row pairs, 16 outputs at a time from two 32-float row loads
/// split into even and odd columns; a row narrower than 16 (LeNet's 14 and 5) is stored 16 wide, the
/// spill rewritten by the next row pair of the same run. Same scan order and tie rule as the general
/// loop (first maximum wins).
private func maxPool2x2(x: UnsafePointer<Float>, _ g: ConvGeometry, y: UnsafeMutablePointer<Float>,
                        argmax: UnsafeMutablePointer<Int32>) {
    let oh = g.outH, ow = g.outW, w = g.width, pairs = g.batch * g.inChannels * oh
    let end = x + pairs * 2 * w
    var lane = SIMD16<Int32>()
    for i in 0..<16 { lane[i] = Int32(2 * i) }
    let lanes = lane
    Parallel.ranges(pairs, grain: max(1, 2048 / max(1, ow))) { run in
        for k in run {
            let oy = k % oh, r0 = x + 2 * k * w, r1 = r0 + w, dst = y + k * ow, am = argmax + k * ow
            var ox = 0
            while ox < ow {
                // Loads stay inside x; stores past this row land on later rows of this run.
                guard r1 + 2 * ox + 32 <= end && k * ow + ox + 16 <= run.upperBound * ow else { break }
                let (e0, o0) = deinterleave(load16(r0 + 2 * ox), load16(r0 + 2 * ox + 16))
                let (e1, o1) = deinterleave(load16(r1 + 2 * ox), load16(r1 + 2 * ox + 16))
                let base = Int32(2 * oy * w + 2 * ox)
                var best = e0, idx = lanes &+ base
                var m = o0 .> best
                best.replace(with: o0, where: m); idx.replace(with: lanes &+ (base + 1), where: m)
                m = e1 .> best
                best.replace(with: e1, where: m); idx.replace(with: lanes &+ (base + Int32(w)), where: m)
                m = o1 .> best
                best.replace(with: o1, where: m); idx.replace(with: lanes &+ (base + Int32(w) + 1), where: m)
                store16(best, dst + ox)
                UnsafeMutableRawPointer(am + ox).storeBytes(of: idx, as: SIMD16<Int32>.self)
                ox += 16
            }
            while ox < ow {
                let i0 = 2 * oy * w + 2 * ox, src = x + (k / oh) * g.height * w
                var best = src[i0], bi = Int32(i0)
                if src[i0 + 1] > best { best = src[i0 + 1]; bi = Int32(i0 + 1) }
                if src[i0 + w] > best { best = src[i0 + w]; bi = Int32(i0 + w) }
                if src[i0 + w + 1] > best { best = src[i0 + w + 1]; bi = Int32(i0 + w + 1) }
                dst[ox] = best; am[ox] = bi
                ox += 1
            }
        }
    }
}

/// Square windows of up to 16×16 at stride 1 or 2, any padding below the window, floor or ceil mode:
/// ResNet's stem (3/2/1), AlexNet's (3/2/0), GoogLeNet's (3/2 ceil, 3/1/1 ceil in every inception block).
func bufferedMaxPoolApplies(_ g: ConvGeometry) -> Bool {
    g.kernelH == g.kernelW && g.kernelW <= 16 && (g.stride == 1 || g.stride == 2) && g.padding < g.kernelW
        && !(g.kernelW == 2 && g.stride == 2 && g.padding == 0 && g.height % 2 == 0 && g.width % 2 == 0)
}

/// `bufferedMaxPoolApplies`' windows, 16 outputs of a row at a time. Each plane is first copied into a
/// -inf bordered buffer (the padding, and the rows and columns a ceil-mode window reaches past the
/// image) whose columns are split by their phase modulo the stride, so a window tap's 16 neighbouring
/// outputs are one unit-stride load. Taps are compared row-major with `>`: the first maximum wins, as
/// in the scalar loop, for every finite input; a window holding only -inf (or NaN) keeps the index of
/// its first tap inside the image, as the scalar loop does. (Scalar, per output, these windows took a
/// quarter of GoogLeNet's forward pass, BENCHMARKS.md.)
private func maxPoolBuffered(x: UnsafePointer<Float>, _ g: ConvGeometry, y: UnsafeMutablePointer<Float>,
                             argmax: UnsafeMutablePointer<Int32>?) {
    let oh = g.outH, ow = g.outW, h = g.height, w = g.width, plane = h * w, planes = g.batch * g.inChannels
    let k = g.kernelW, st = g.stride, pad = g.padding
    // Padded row R is input row R - pad, padded column J input column J - pad; phase f holds the padded
    // columns J ≡ f (mod stride) at J / stride. Rows and columns past the last window, and 16 lanes of
    // overrun, stay -inf.
    let rows = max((oh - 1) * st + k, h + pad)
    let phaseLen = ((ow + 16 + (k - 1) / st + 1) + 15) / 16 * 16, rowLen = st * phaseLen, per = rows * rowLen
    let chunks = Parallel.chunkCount(planes, grain: max(1, 4096 / max(1, plane)))
    let buf = ScratchPool.shared.take(chunks * per + 16)
    defer { ScratchPool.shared.give(buf) }
    var lane = SIMD16<Int32>()
    for i in 0..<16 { lane[i] = Int32(st * i) }
    let lanes = lane, minusInf = SIMD16<Float>(repeating: -.infinity), zeros = SIMD16<Int32>()
    Parallel.run(chunks) { c in
        let padded = buf.0 + c * per
        padded.update(repeating: -.infinity, count: per)
        for nc in (planes * c / chunks)..<(planes * (c + 1) / chunks) {
            let src = x + nc * plane, dst = y + nc * oh * ow, am = argmax.map { $0 + nc * oh * ow }
            for r in 0..<h {
                let row = padded + (r + pad) * rowLen, s = src + r * w
                if st == 1 { copyFloats(row + pad, s, w); continue }
                // 16 input columns at a time: with even padding the even ones land in phase 0 and the odd
                // ones in phase 1, both from (ix + pad) / 2; with odd padding the other way round, the
                // odd ones one further on.
                let (evenTo, oddTo) = pad & 1 == 0 ? (row, row + phaseLen) : (row + phaseLen, row + 1)
                var ix = 0
                while ix + 16 <= w {
                    let v = load16(s + ix), j = (ix + pad) >> 1
                    UnsafeMutableRawPointer(evenTo + j).storeBytes(of: v.evenHalf, as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(oddTo + j).storeBytes(of: v.oddHalf, as: SIMD8<Float>.self)
                    ix += 16
                }
                while ix < w { let J = ix + pad; row[(J & 1) * phaseLen + J >> 1] = s[ix]; ix += 1 }
            }
            for oy in 0..<oh {
                let top = oy * st - pad, firstRow = max(0, top)
                var ox = 0
                while ox < ow {
                    var best = minusInf
                    // The first tap inside the image of each lane's window.
                    var left = lanes &+ Int32(ox * st - pad)
                    left.replace(with: zeros, where: left .< zeros)
                    var idx = left &+ Int32(firstRow * w)
                    for ki in 0..<k {
                        let prow = padded + (oy * st + ki) * rowLen
                        let base = lanes &+ Int32((top + ki) * w + ox * st - pad)
                        for kj in 0..<k {
                            let v = load16(prow + (kj % st) * phaseLen + ox + kj / st)
                            let m = v .> best
                            best.replace(with: v, where: m)
                            if am != nil { idx.replace(with: base &+ Int32(kj), where: m) }
                        }
                    }
                    let n = min(16, ow - ox)
                    if n == 16 { store16(best, dst + oy * ow + ox) } else { for i in 0..<n { dst[oy * ow + ox + i] = best[i] } }
                    if let am { for i in 0..<n { am[oy * ow + ox + i] = idx[i] } }
                    ox += 16
                }
            }
        }
    }
}

/// `bufferedMaxPoolApplies`' windows on maps whose output rows are narrower than a vector (GoogLeNet's
/// pools at 32×32 input: 8×8 down to 1×1, where a row vector was mostly idle lanes and a plane's
/// scalar copy cost more than its maxima): 16 planes side by side. Each group of 16 planes is
/// transposed to [pixel][16]; a window's taps inside the image are the same for every lane, so each
/// tap is one load, and a lane's first tap inside the image starts its index, as in the buffered path.
private func maxPoolAcrossPlanes(x: UnsafePointer<Float>, _ g: ConvGeometry, y: UnsafeMutablePointer<Float>,
                                 argmax: UnsafeMutablePointer<Int32>?) {
    let oh = g.outH, ow = g.outW, h = g.height, w = g.width, plane = h * w, outPlane = oh * ow
    let k = g.kernelW, st = g.stride, pad = g.padding, planes = g.batch * g.inChannels, groups = (planes + 15) / 16
    let per = plane * 16 + outPlane * 32
    let chunks = Parallel.chunkCount(groups, grain: max(1, 256 / max(1, plane)))
    let buf = ScratchPool.shared.take(chunks * per + 16)
    defer { ScratchPool.shared.give(buf) }
    Parallel.run(chunks) { c in
        let t = buf.0 + c * per, best = t + plane * 16
        let index = UnsafeMutableRawPointer(best + outPlane * 16).bindMemory(to: Int32.self, capacity: outPlane * 16)
        for grp in (groups * c / chunks)..<(groups * (c + 1) / chunks) {
            let p0 = grp * 16, n = min(16, planes - p0)
            transposeBlockIn(x + p0 * plane, count: n, stride: plane, len: plane, t, dstStride: 16, lanes: 16)
            for oy in 0..<oh {
                let top = oy * st - pad, kiLo = max(0, -top), kiHi = min(k, h - top)
                for ox in 0..<ow {
                    let left = ox * st - pad, kjLo = max(0, -left), kjHi = min(k, w - left)
                    var m = SIMD16<Float>(repeating: -.infinity)
                    var idx = SIMD16<Int32>(repeating: Int32((top + kiLo) * w + left + kjLo))
                    for ki in kiLo..<max(kiLo, kiHi) {
                        let row = (top + ki) * w + left
                        for kj in kjLo..<max(kjLo, kjHi) {
                            let v = load16(t + (row + kj) * 16), wins = v .> m
                            m.replace(with: v, where: wins)
                            if argmax != nil { idx.replace(with: SIMD16(repeating: Int32(row + kj)), where: wins) }
                        }
                    }
                    let o = oy * ow + ox
                    store16(m, best + o * 16)
                    if argmax != nil { UnsafeMutableRawPointer(index + o * 16).storeBytes(of: idx, as: SIMD16<Int32>.self) }
                }
            }
            // Back to planes through register transposes: float by float, the stores took as long as
            // the maxima on 16×16 maps (ResNet's stem pool at 32×32 inputs).
            transposeBlockOut(best, count: n, stride: outPlane, len: outPlane, y + p0 * outPlane, srcStride: 16)
            if let argmax {
                // The winners' indices as the 32-bit patterns they are: the transpose only moves bits.
                index.withMemoryRebound(to: Float.self, capacity: outPlane * 16) { src in
                    (argmax + p0 * outPlane).withMemoryRebound(to: Float.self, capacity: n * outPlane) { dst in
                        transposeBlockOut(src, count: n, stride: outPlane, len: outPlane, dst, srcStride: 16)
                    }
                }
            }
        }
    }
}

/// dx = dy scattered to each window's argmax. With `reluOutput` (the pooled output of a ReLU folded
/// in after the pool), only outputs above 0 pass their gradient, as ReLU's backward would.
public func maxPoolBackward(dy: UnsafePointer<Float>, argmax: UnsafePointer<Int32>, geometry g: ConvGeometry,
                            dx: UnsafeMutablePointer<Float>, reluOutput: UnsafePointer<Float>? = nil) {
    let outPlane = g.outH * g.outW, plane = g.height * g.width
    Parallel.ranges(g.batch * g.inChannels, grain: max(1, 4096 / max(1, plane))) { planes in
        // A chunk's planes zeroed at once: on GoogLeNet's 4×4 and 2×2 maps a call per plane cost more than the sums.
        (dx + planes.lowerBound * plane).update(repeating: 0, count: planes.count * plane)
        for nc in planes {
            let d = dx + nc * plane
            if let y = reluOutput {
                for o in 0..<outPlane where y[nc * outPlane + o] > 0 { d[Int(argmax[nc * outPlane + o])] += dy[nc * outPlane + o] }
            } else {
                for o in 0..<outPlane { d[Int(argmax[nc * outPlane + o])] += dy[nc * outPlane + o] }
            }
        }
    }
}

/// Average pooling with zero padding counted in the divisor (PyTorch's count_include_pad=True).
public func avgPoolForward(x: UnsafePointer<Float>, geometry g: ConvGeometry, y: UnsafeMutablePointer<Float>) {
    let oh = g.outH, ow = g.outW, plane = g.height * g.width
    let scale = 1 / Float(g.kernelH * g.kernelW)
    Parallel.forEach(g.batch * g.inChannels, grain: max(1, 4096 / max(1, plane))) { nc in
        let src = x + nc * plane, dst = y + nc * oh * ow
        for oy in 0..<oh {
            for ox in 0..<ow {
                var s: Float = 0
                for ki in 0..<g.kernelH {
                    let iy = oy * g.stride - g.padding + ki
                    if iy < 0 || iy >= g.height { continue }
                    for kj in 0..<g.kernelW {
                        let ix = ox * g.stride - g.padding + kj
                        if ix >= 0 && ix < g.width { s += src[iy * g.width + ix] }
                    }
                }
                dst[oy * ow + ox] = s * scale
            }
        }
    }
}

public func avgPoolBackward(dy: UnsafePointer<Float>, geometry g: ConvGeometry, dx: UnsafeMutablePointer<Float>) {
    let oh = g.outH, ow = g.outW, plane = g.height * g.width
    let scale = 1 / Float(g.kernelH * g.kernelW)
    Parallel.forEach(g.batch * g.inChannels, grain: max(1, 4096 / max(1, plane))) { nc in
        let d = dx + nc * plane, src = dy + nc * oh * ow
        d.update(repeating: 0, count: plane)
        for oy in 0..<oh {
            for ox in 0..<ow {
                let v = src[oy * ow + ox] * scale
                for ki in 0..<g.kernelH {
                    let iy = oy * g.stride - g.padding + ki
                    if iy < 0 || iy >= g.height { continue }
                    for kj in 0..<g.kernelW {
                        let ix = ox * g.stride - g.padding + kj
                        if ix >= 0 && ix < g.width { d[iy * g.width + ix] += v }
                    }
                }
            }
        }
    }
}

/// Mean over each (n, c) plane: [N][C][H*W] -> [N][C].
public func globalAvgPoolForward(x: UnsafePointer<Float>, planes: Int, planeSize: Int, y: UnsafeMutablePointer<Float>) {
    let scale = 1 / Float(planeSize)
    Parallel.forEach(planes, grain: max(1, 8192 / max(1, planeSize))) { i in
        var s: Float = 0
        let src = x + i * planeSize
        for j in 0..<planeSize { s += src[j] }
        y[i] = s * scale
    }
}

public func globalAvgPoolBackward(dy: UnsafePointer<Float>, planes: Int, planeSize: Int, dx: UnsafeMutablePointer<Float>) {
    let scale = 1 / Float(planeSize)
    Parallel.forEach(planes, grain: max(1, 8192 / max(1, planeSize))) { i in
        (dx + i * planeSize).update(repeating: dy[i] * scale, count: planeSize)
    }
}
