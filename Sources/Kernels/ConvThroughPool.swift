import Foundation

// The weight gradient of a model's first convolution (which needs no dx) when its output goes
// through ReLU and a max pool, taken straight from the pool's gradient: only the pool's winners
// carry a gradient, so instead of scattering it into a mostly zero plane of the conv's output
// (LeNet-5: 3 of 4 values zero) and correlating that plane with the input, each winner adds its
// gradient times the k×k input window it saw. LeNet-5's conv1 then does 5 eight-wide FMAs per pool
// output and channel, where the pool's backward and the conv's dW streamed two 602 KB buffers.

/// Whether `convWeightGradientThroughMaxPool` handles this conv: stride 1, 5×5 taps.
public func convThroughPoolApplies(_ g: ConvGeometry) -> Bool {
    g.stride == 1 && g.kernelH == 5 && g.kernelW == 5
}

/// dW (tap-major, `ConvWeights`) and dB of the conv `g` from the gradient `dyPool` of the max pool
/// that follows it: pool output i (per image and channel, `pooledPlane` of them) won at conv output
/// pixel argmax[i] and passes dyPool[i] back when pooled[i] > 0 (the ReLU between them, applied to
/// the pool's output). Chunks of images keep sums of their own, added in a fixed order.
public func convWeightGradientThroughMaxPool(dyPool: UnsafePointer<Float>, argmax: UnsafePointer<Int32>,
                                             pooled: UnsafePointer<Float>, pooledPlane: Int, x: UnsafePointer<Float>,
                                             geometry g: ConvGeometry, dWeight: UnsafeMutablePointer<Float>,
                                             dBias: UnsafeMutablePointer<Float>?) {
    precondition(convThroughPoolApplies(g))
    let cin = g.inChannels, cout = g.outChannels, h = g.height, w = g.width, pad = g.padding
    // The zero-bordered input, rows long enough for an 8-float load at the last window.
    let rowLen = (w + 2 * pad + 3 + 7) / 8 * 8, rowsP = h + 2 * pad, planeP = rowsP * rowLen
    let outPlane = g.outH * g.outW
    // Per chunk: the bordered input, then acc[co][c][ki][8] and the bias sums.
    let accAt = cin * planeP, accFloats = cout * cin * 40 + cout
    let per = (accAt + accFloats + 15) / 16 * 16
    let chunks = Parallel.chunkCount(g.batch, grain: 1)
    let buf = ScratchPool.shared.take(chunks * per + outPlane + 16)
    defer { ScratchPool.shared.give(buf) }
    // Conv output pixel -> offset of its window's corner in the bordered input.
    let corner = UnsafeMutableRawPointer(buf.0 + chunks * per).bindMemory(to: Int32.self, capacity: outPlane)
    for oy in 0..<g.outH { for ox in 0..<g.outW { corner[oy * g.outW + ox] = Int32(oy * rowLen + ox) } }
    Parallel.run(chunks) { ch in
        let xp = buf.0 + ch * per, acc = xp + accAt, bsum = acc + cout * cin * 40
        xp.update(repeating: 0, count: cin * planeP)
        acc.update(repeating: 0, count: accFloats)
        for n in (g.batch * ch / chunks)..<(g.batch * (ch + 1) / chunks) {
            for c in 0..<cin {
                for y in 0..<h { copyFloats(xp + c * planeP + (y + pad) * rowLen + pad, x + ((n * cin + c) * h + y) * w, w) }
            }
            for co in 0..<cout {
                let base = (n * cout + co) * pooledPlane
                for c in 0..<cin {
                    let s = windowSums(acc + (co * cin + c) * 40, dyPool + base, argmax + base, pooled + base, pooledPlane,
                                       corner, xp + c * planeP, rowLen: rowLen)
                    if c == 0 { bsum[co] += s }
                }
            }
        }
    }
    for co in 0..<cout {
        for c in 0..<cin {
            for t in 0..<25 {
                var v: Float = 0
                for ch in 0..<chunks { v += buf.0[ch * per + accAt + ((co * cin + c) * 5 + t / 5) * 8 + t % 5] }
                dWeight[(t * cout + co) * cin + c] = v
            }
        }
        if let dBias {
            var v: Float = 0
            for ch in 0..<chunks { v += buf.0[ch * per + accAt + cout * cin * 40 + co] }
            dBias[co] = v
        }
    }
}

/// acc[ki][0..<8] += Σ_i g_i · x[corner[argmax[i]] + ki·rowLen ..< +8] over one channel's pool outputs,
/// g_i = dy[i] where pooled[i] > 0 and 0 elsewhere (no branch: the ReLU's pattern is data). Returns Σ g_i.
@inline(never)
private func windowSums(_ acc: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ argmax: UnsafePointer<Int32>,
                        _ pooled: UnsafePointer<Float>, _ count: Int, _ corner: UnsafePointer<Int32>,
                        _ x: UnsafePointer<Float>, rowLen: Int) -> Float {
    @inline(__always) func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
    @inline(__always) func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }
    var a0 = load8(acc), a1 = load8(acc + 8), a2 = load8(acc + 16), a3 = load8(acc + 24), a4 = load8(acc + 32)
    var total: Float = 0
    let r1 = rowLen, r2 = 2 * rowLen, r3 = 3 * rowLen, r4 = 4 * rowLen
    for i in 0..<count {
        let g = pooled[i] > 0 ? dy[i] : 0
        total += g
        let p = x + Int(corner[Int(argmax[i])]), s = SIMD8<Float>(repeating: g)
        a0.addProduct(s, load8(p)); a1.addProduct(s, load8(p + r1)); a2.addProduct(s, load8(p + r2))
        a3.addProduct(s, load8(p + r3)); a4.addProduct(s, load8(p + r4))
    }
    store8(a0, acc); store8(a1, acc + 8); store8(a2, acc + 16); store8(a3, acc + 24); store8(a4, acc + 32)
    return total
}
