import Foundation

// Direct convolution for small, stride-1 convolutions whose output rows fit in 32 lanes (LeNet-5's
// convs, and the "full" convolution that gives their input gradient). No im2col panels: each image
// is copied once into a zero-bordered buffer whose rows are wide enough for 32-float loads, and
// an 8-channel × 2-vector block of outputs accumulates straight from those rows (2 loads,
// 8 broadcasts, 16 FMAs per tap). Outputs up to 16 wide put two output rows in the two vectors.

/// Whether `directConv*` handles this geometry (and is expected to beat the panel GEMM).
func directConvApplies(_ g: ConvGeometry) -> Bool {
    g.stride == 1 && g.outW <= 32 && g.outW >= 5 && g.inChannels * g.kernelH * g.kernelW <= 512
        && g.outChannels <= 64 && g.kernelW <= 8
}

private struct DirectLayout {
    let c, h, w, pad, k, oh, ow: Int
    let rowLen: Int          // padded row length: w + 2 pad rounded up so every 32-float load fits
    let rows: Int            // padded rows (+1 so a second output row never reads past the buffer)
    var size: Int { c * rows * rowLen }
    let twoRows: Bool        // ow <= 16: vector 1 is the next output row
    init(c: Int, h: Int, w: Int, pad: Int, k: Int) {
        self.c = c; self.h = h; self.w = w; self.pad = pad; self.k = k
        oh = h + 2 * pad - k + 1; ow = w + 2 * pad - k + 1
        rowLen = max(w + 2 * pad, k - 1 + 32)
        rows = h + 2 * pad + 1
        twoRows = ow <= 16
    }
    /// Copies one image [c][h][w] into the zero-bordered buffer.
    func fill(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>) {
        dst.update(repeating: 0, count: size)
        for ch in 0..<c {
            for y in 0..<h {
                (dst + (ch * rows + y + pad) * rowLen + pad).update(from: src + (ch * h + y) * w, count: w)
            }
        }
    }
}

/// y[co][oy][ox] (one image) = Σ_(c,ki,kj) wp[coBlock][c][ki][kj][8] · xp[c][oy+ki][ox+kj] + bias.
@inline(__always)
private func directImage(_ L: DirectLayout, _ xp: UnsafePointer<Float>, _ wp: UnsafePointer<Float>, cout: Int,
                         bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>, _ tile: UnsafeMutablePointer<Float>) {
    let k = L.k, rl = L.rowLen, plane = L.rows * rl, ow = L.ow, oh = L.oh
    let blocks = (cout + 7) / 8
    let rowStep = L.twoRows ? rl : 16          // where vector 1 reads, relative to vector 0
    let oyStep = L.twoRows ? 2 : 1
    for cb in 0..<blocks {
        var oy = 0
        while oy < oh {
            var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
            var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
            var c40 = SIMD16<Float>(), c41 = SIMD16<Float>(), c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
            var c60 = SIMD16<Float>(), c61 = SIMD16<Float>(), c70 = SIMD16<Float>(), c71 = SIMD16<Float>()
            var ap = wp + cb * L.c * k * k * 8
            for ch in 0..<L.c {
                for ki in 0..<k {
                    let row = xp + ch * plane + (oy + ki) * rl
                    for kj in 0..<k {
                        let b0 = load16(row + kj), b1 = load16(row + kj + rowStep)
                        var s = SIMD16<Float>(repeating: ap[0]); c00.addProduct(s, b0); c01.addProduct(s, b1)
                        s = SIMD16<Float>(repeating: ap[1]); c10.addProduct(s, b0); c11.addProduct(s, b1)
                        s = SIMD16<Float>(repeating: ap[2]); c20.addProduct(s, b0); c21.addProduct(s, b1)
                        s = SIMD16<Float>(repeating: ap[3]); c30.addProduct(s, b0); c31.addProduct(s, b1)
                        s = SIMD16<Float>(repeating: ap[4]); c40.addProduct(s, b0); c41.addProduct(s, b1)
                        s = SIMD16<Float>(repeating: ap[5]); c50.addProduct(s, b0); c51.addProduct(s, b1)
                        s = SIMD16<Float>(repeating: ap[6]); c60.addProduct(s, b0); c61.addProduct(s, b1)
                        s = SIMD16<Float>(repeating: ap[7]); c70.addProduct(s, b0); c71.addProduct(s, b1)
                        ap += 8
                    }
                }
            }
            store16(c00, tile); store16(c01, tile + 16); store16(c10, tile + 32); store16(c11, tile + 48)
            store16(c20, tile + 64); store16(c21, tile + 80); store16(c30, tile + 96); store16(c31, tile + 112)
            store16(c40, tile + 128); store16(c41, tile + 144); store16(c50, tile + 160); store16(c51, tile + 176)
            store16(c60, tile + 192); store16(c61, tile + 208); store16(c70, tile + 224); store16(c71, tile + 240)
            for r in 0..<min(8, cout - cb * 8) {
                let co = cb * 8 + r, bv = bias?[co] ?? 0, t = tile + r * 32, dst = y + co * oh * ow
                if L.twoRows {
                    for ox in 0..<ow { dst[oy * ow + ox] = t[ox] + bv }
                    if oy + 1 < oh { for ox in 0..<ow { dst[(oy + 1) * ow + ox] = t[16 + ox] + bv } }
                } else {
                    for ox in 0..<ow { dst[oy * ow + ox] = t[ox] + bv }
                }
            }
            oy += oyStep
        }
    }
}

/// Packs w[co][c][ki][kj] (flipped and with in/out swapped when `adjoint`) as [coBlock][c][ki][kj][8].
private func packDirectWeights(_ w: UnsafePointer<Float>, cout: Int, cin: Int, k: Int, adjoint: Bool,
                               _ dst: UnsafeMutablePointer<Float>) {
    // Forward: out = cout, in = cin. Adjoint (dx): out = cin, in = cout, taps flipped.
    let outs = adjoint ? cin : cout, ins = adjoint ? cout : cin, kk = k * k
    let blocks = (outs + 7) / 8
    for cb in 0..<blocks {
        for ch in 0..<ins {
            for t in 0..<kk {
                let d = dst + ((cb * ins + ch) * kk + t) * 8
                for r in 0..<8 {
                    let o = cb * 8 + r
                    if o >= outs { d[r] = 0; continue }
                    d[r] = adjoint ? w[(ch * cin + o) * kk + (kk - 1 - t)] : w[(o * cin + ch) * kk + t]
                }
            }
        }
    }
}

/// Forward of a stride-1 convolution by the direct method (see `directConvApplies`).
func directConvForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                       geometry g: ConvGeometry, y: UnsafeMutablePointer<Float>) {
    let L = DirectLayout(c: g.inChannels, h: g.height, w: g.width, pad: g.padding, k: g.kernelW)
    let blocks = (g.outChannels + 7) / 8, kk = g.kernelW * g.kernelW
    let wp = ScratchPool.shared.take(blocks * g.inChannels * kk * 8 + 16)
    defer { ScratchPool.shared.give(wp) }
    packDirectWeights(weight, cout: g.outChannels, cin: g.inChannels, k: g.kernelW, adjoint: false, wp.0)
    directRun(L, images: g.batch, inStride: g.inChannels * g.height * g.width, x,
              outStride: g.outChannels * L.oh * L.ow, y, wp.0, cout: g.outChannels, bias: bias)
}

/// dx of a stride-1 convolution: the "full" correlation of dy with the flipped, transposed kernel.
func directConvBackwardData(dy: UnsafePointer<Float>, weight: UnsafePointer<Float>, geometry g: ConvGeometry,
                            dx: UnsafeMutablePointer<Float>) {
    let k = g.kernelW
    let L = DirectLayout(c: g.outChannels, h: g.outH, w: g.outW, pad: k - 1 - g.padding, k: k)
    let blocks = (g.inChannels + 7) / 8
    let wp = ScratchPool.shared.take(blocks * g.outChannels * k * k * 8 + 16)
    defer { ScratchPool.shared.give(wp) }
    packDirectWeights(weight, cout: g.outChannels, cin: g.inChannels, k: k, adjoint: true, wp.0)
    directRun(L, images: g.batch, inStride: g.outChannels * g.outH * g.outW, dy,
              outStride: g.inChannels * g.height * g.width, dx, wp.0, cout: g.inChannels, bias: nil)
}

/// Whether the adjoint (dx) pass of `g` fits the direct method too.
func directConvBackwardDataApplies(_ g: ConvGeometry) -> Bool {
    g.stride == 1 && g.width <= 32 && g.width >= 5 && g.outChannels * g.kernelW * g.kernelW <= 512
        && g.inChannels <= 64 && g.kernelW <= 8 && g.padding <= g.kernelW - 1
}

private func directRun(_ L: DirectLayout, images: Int, inStride: Int, _ x: UnsafePointer<Float>, outStride: Int,
                       _ y: UnsafeMutablePointer<Float>, _ wp: UnsafePointer<Float>, cout: Int, bias: UnsafePointer<Float>?) {
    let per = (L.size + 256 + 15) / 16 * 16
    let chunks = Parallel.chunkCount(images, grain: 1)
    let buf = ScratchPool.shared.take(chunks * per + 16)
    defer { ScratchPool.shared.give(buf) }
    Parallel.run(chunks) { c in
        let xp = buf.0 + c * per, tile = xp + L.size
        for n in (images * c / chunks)..<(images * (c + 1) / chunks) {
            L.fill(x + n * inStride, xp)
            directImage(L, xp, wp, cout: cout, bias: bias, y + n * outStride, tile)
        }
    }
}

/// dW (and dBias) of a stride-1 convolution by dot products along output rows: for each
/// (co, c, ki) the k taps accumulate 16-lane vectors over the chunk's images and rows, then are
/// summed; chunks are added in a fixed order.
func directConvBackwardWeights(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, geometry g: ConvGeometry,
                               dWeight: UnsafeMutablePointer<Float>) {
    let k = g.kernelW, cin = g.inChannels, cout = g.outChannels, oh = g.outH, ow = g.outW, kk = k * k
    let L = DirectLayout(c: cin, h: g.height, w: g.width, pad: g.padding, k: k)
    let dyRows = oh, dyLen = cout * dyRows * 32          // dy image, rows padded to 32 with zeros
    let per = (L.size + dyLen + cout * cin * kk + 64) / 16 * 16
    let chunks = Parallel.chunkCount(g.batch, grain: 1)
    let buf = ScratchPool.shared.take(chunks * per + 16)
    defer { ScratchPool.shared.give(buf) }
    let halves = ow > 16 ? 2 : 1
    Parallel.run(chunks) { c in
        let xp = buf.0 + c * per, dyp = xp + L.size, partial = dyp + dyLen
        partial.update(repeating: 0, count: cout * cin * kk)
        var acc = [SIMD16<Float>](repeating: SIMD16<Float>(), count: 8)
        for n in (g.batch * c / chunks)..<(g.batch * (c + 1) / chunks) {
            L.fill(x + n * cin * g.height * g.width, xp)
            dyp.update(repeating: 0, count: dyLen)
            for co in 0..<cout {
                for oy in 0..<oh {
                    (dyp + (co * dyRows + oy) * 32).update(from: dy + ((n * cout + co) * oh + oy) * ow, count: ow)
                }
            }
            acc.withUnsafeMutableBufferPointer { a in
                for co in 0..<cout {
                    for ch in 0..<cin {
                        for ki in 0..<k {
                            if k == 5 {
                                // The common case (LeNet) with the five accumulators in registers.
                                var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>()
                                var a3 = SIMD16<Float>(), a4 = SIMD16<Float>()
                                for oy in 0..<oh {
                                    let drow = dyp + (co * dyRows + oy) * 32
                                    let xrow = xp + (ch * L.rows + oy + ki) * L.rowLen
                                    let d0 = load16(drow)
                                    a0.addProduct(d0, load16(xrow)); a1.addProduct(d0, load16(xrow + 1))
                                    a2.addProduct(d0, load16(xrow + 2)); a3.addProduct(d0, load16(xrow + 3))
                                    a4.addProduct(d0, load16(xrow + 4))
                                    if halves == 2 {
                                        let d1 = load16(drow + 16), x1 = xrow + 16
                                        a0.addProduct(d1, load16(x1)); a1.addProduct(d1, load16(x1 + 1))
                                        a2.addProduct(d1, load16(x1 + 2)); a3.addProduct(d1, load16(x1 + 3))
                                        a4.addProduct(d1, load16(x1 + 4))
                                    }
                                }
                                let pr = partial + (co * cin + ch) * kk + ki * k
                                pr[0] += hsum(a0); pr[1] += hsum(a1); pr[2] += hsum(a2); pr[3] += hsum(a3); pr[4] += hsum(a4)
                                continue
                            }
                            for kj in 0..<k { a[kj] = SIMD16<Float>() }
                            for oy in 0..<oh {
                                let drow = dyp + (co * dyRows + oy) * 32
                                let xrow = xp + (ch * L.rows + oy + ki) * L.rowLen
                                let d0 = load16(drow)
                                if halves == 2 {
                                    let d1 = load16(drow + 16)
                                    for kj in 0..<k {
                                        var v = a[kj]; v.addProduct(d0, load16(xrow + kj)); v.addProduct(d1, load16(xrow + kj + 16)); a[kj] = v
                                    }
                                } else {
                                    for kj in 0..<k { a[kj].addProduct(d0, load16(xrow + kj)) }
                                }
                            }
                            let pr = partial + (co * cin + ch) * kk + ki * k
                            for kj in 0..<k { pr[kj] += hsum(a[kj]) }
                        }
                    }
                }
            }
        }
    }
    let total = cout * cin * kk
    for i in 0..<total {
        var v: Float = 0
        for c in 0..<chunks { v += buf.0[c * per + L.size + dyLen + i] }
        dWeight[i] = v
    }
}

/// Sum of the 16 lanes (a shuffle tree; `SIMD.sum()` is an out-of-line generic call).
@inline(__always) func hsum(_ v: SIMD16<Float>) -> Float {
    let a = v.lowHalf + v.highHalf, b = a.lowHalf + a.highHalf, c = b.lowHalf + b.highHalf
    return c[0] + c[1]
}
