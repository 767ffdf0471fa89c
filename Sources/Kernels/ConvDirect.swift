import Foundation

// Direct convolution for small, stride-1 convolutions whose output rows fit in 32 lanes (LeNet-5's
// convs). No im2col matrix: each image is copied into a zero-bordered buffer, then into k "shifted
// copies" S[kj][c] that hold its padded rows cut to the output width, end to end. The im2col row of
// tap (c, ki, kj) is then the contiguous slice S[kj][c][ki·ow ..< ki·ow + oh·ow], lined up with an
// output plane: forward and dW run over whole planes (every lane a real pixel, rows not padded to
// 16), and dx uses the same trick on dy's planes.

/// Whether `directConv*` handles this geometry (and is expected to beat the panel GEMM).
func directConvApplies(_ g: ConvGeometry) -> Bool {
    g.stride == 1 && g.outW <= 32 && g.outW >= 5 && g.inChannels * g.kernelH * g.kernelW <= 512
        && g.outChannels <= 64 && g.kernelW <= 8
}

/// One image with a zero border of `pad`, rows long enough for a 32-float load at any tap column.
private struct DirectLayout {
    let c, h, w, pad, k: Int
    let rowLen: Int          // padded row length: w + 2 pad rounded up so every 32-float load fits
    let rows: Int            // padded rows (+1 of slack)
    var size: Int { c * rows * rowLen }
    init(c: Int, h: Int, w: Int, pad: Int, k: Int) {
        self.c = c; self.h = h; self.w = w; self.pad = pad; self.k = k
        rowLen = max(w + 2 * pad, k - 1 + 32)
        rows = h + 2 * pad + 1
    }
    /// Copies one image [c][h][w] into the bordered buffer. Only the image's own positions are written,
    /// so a buffer zeroed once (`clear`) keeps its zero border for every image copied into it.
    func fill(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>) {
        for ch in 0..<c {
            for y in 0..<h { copyFloats(dst + (ch * rows + y + pad) * rowLen + pad, src + (ch * h + y) * w, w) }
        }
    }
    func clear(_ dst: UnsafeMutablePointer<Float>) { dst.update(repeating: 0, count: size) }
}

/// Where the shifted copies of one image live: S[kj][c] is `xs` floats, rows `ow` apart.
private struct ShiftedCopies {
    let k, cin, ow, rowsP, xs: Int
    init(_ g: ConvGeometry) {
        k = g.kernelW; cin = g.inChannels; ow = g.outW; rowsP = g.outH + g.kernelW - 1
        // Room for every row's 32-float store (later rows overwrite the spill) and for the last
        // slice's read of the output plane rounded up to 64 floats (a 64-column tile's reach).
        xs = (max((k - 1) * ow + (g.outH * ow + 63) / 64 * 64, (rowsP - 1) * ow + 32) + 15) / 16 * 16
    }
    var size: Int { k * cin * xs }
    /// Offset in S of the im2col row d = (c·k + ki)·k + kj (PyTorch's weight order).
    func offset(_ d: Int) -> Int { let c = d / (k * k), ki = d / k % k, kj = d % k; return (kj * cin + c) * xs + ki * ow }
    /// Fills S from the zero-bordered image `xp` (layout L); the tail of each copy is zeroed.
    func build(_ L: DirectLayout, _ xp: UnsafePointer<Float>, _ sp: UnsafeMutablePointer<Float>) {
        for kj in 0..<k {
            for c in 0..<cin {
                let dst = sp + (kj * cin + c) * xs, src = xp + c * L.rows * L.rowLen + kj
                for r in 0..<rowsP {
                    let s0 = src + r * L.rowLen, d0 = dst + r * ow
                    store16(load16(s0), d0); store16(load16(s0 + 16), d0 + 16)
                }
                zeroFloats(dst + rowsP * ow, xs - rowsP * ow)
            }
        }
    }
}

/// Forward of a stride-1 convolution by the direct method (see `directConvApplies`): per image,
/// y[co][p] = bias[co] + Σ_d W[co][d] · S[offset(d) + p] as 8×32 (and a last 8×16) tiles whose B rows
/// are read in place from the shifted copies. LeNet-5's conv2 uses 89 % of the lanes (was 62 %).
/// Six output channels (LeNet-5's conv1) go in 6×64 tiles: 8-row tiles would waste a quarter of the FMAs.
func directConvForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                       geometry g: ConvGeometry, y: UnsafeMutablePointer<Float>) {
    let cin = g.inChannels, cout = g.outChannels, k = g.kernelW, p = g.outH * g.outW
    let L = DirectLayout(c: cin, h: g.height, w: g.width, pad: g.padding, k: k)
    let S = ShiftedCopies(g)
    let rowsPerBlock = cout % 6 == 0 && cout % 8 != 0 ? 6 : 8
    let depth = cin * k * k, blocks = (cout + rowsPerBlock - 1) / rowsPerBlock
    let aSize = (blocks * depth * rowsPerBlock + 15) / 16 * 16, offSize = (2 * depth + 15) / 16 * 16
    let per = (L.size + S.size + 8 * 64 + 15) / 16 * 16
    let chunks = Parallel.chunkCount(g.batch, grain: 1)
    let buf = ScratchPool.shared.take(aSize + offSize + chunks * per + 16)
    defer { ScratchPool.shared.give(buf) }
    let a = buf.0, offs = UnsafeMutableRawPointer(buf.0 + aSize).bindMemory(to: Int.self, capacity: depth)
    for cb in 0..<blocks {
        for d in 0..<depth {
            // Row d = (c·k + ki)·k + kj of the im2col order, read from the tap-major W.
            let c = d / (k * k), t = d % (k * k)
            for r in 0..<rowsPerBlock {
                let co = cb * rowsPerBlock + r
                a[(cb * depth + d) * rowsPerBlock + r] = co < cout ? weight[(t * cout + co) * cin + c] : 0
            }
        }
    }
    for d in 0..<depth { offs[d] = S.offset(d) }
    Parallel.run(chunks) { ch in
        let xp = buf.0 + aSize + offSize + ch * per, sp = xp + L.size, tile = sp + S.size
        L.clear(xp)
        for n in (g.batch * ch / chunks)..<(g.batch * (ch + 1) / chunks) {
            L.fill(x + n * cin * g.height * g.width, xp)
            S.build(L, xp, sp)
            if rowsPerBlock == 6 {
                for cb in 0..<blocks {
                    let bv = bias.map { $0 + cb * 6 } ?? zeroBias
                    var c0 = 0
                    while c0 < p {
                        let width = min(64, p - c0), dst = y + (n * cout + cb * 6) * p + c0
                        gatherTile6x64(depth, a + cb * depth * 6, sp + c0, offs, bv, width == 64 ? dst : tile, ldt: width == 64 ? p : 64)
                        if width < 64 { for r in 0..<6 { copyFloats(dst + r * p, tile + r * 64, width) } }
                        c0 += 64
                    }
                }
                continue
            }
            for cb in 0..<blocks {
                var c0 = 0
                while c0 < p {
                    let width = min(32, p - c0)
                    if width > 16 { gatherTile(depth, a + cb * depth * 8, sp + c0, offs, tile, ldt: 32) }
                    else { gatherTile16(depth, a + cb * depth * 8, sp + c0, offs, tile, ldt: 32) }
                    for r in 0..<min(8, cout - cb * 8) {
                        let co = cb * 8 + r, bv = bias?[co] ?? 0, t = tile + r * 32, dst = y + (n * cout + co) * p + c0
                        let b = SIMD16<Float>(repeating: bv)
                        if width == 32 { store16(load16(t) + b, dst); store16(load16(t + 16) + b, dst + 16) }
                        else if width == 16 { store16(load16(t) + b, dst) }
                        else { for j in 0..<width { dst[j] = t[j] + bv } }
                    }
                    c0 += 32
                }
            }
        }
    }
}

/// dx of a stride-1 convolution, without the zero taps of a "full" correlation over a zero-bordered dy.
/// Per image and tap column kj, Z[c·k + kj] holds the input-row-shaped sums over (co, ki):
///   Z[c·k + kj][iy·ow + j] = Σ_(co,ki) W[co][c][ki][kj] · dy[co][iy - ki][j]   (iy over the padded rows)
/// a GEMM whose B rows are contiguous slices of dy's planes with (k-1) zero rows above and below, one
/// per (co, ki): every lane is a real output. Then dx[c][iy][ix] = Σ_kj Z[c·k + kj][iy·ow + ix - kj], a
/// few masked vector adds per row. LeNet-5's conv2: 25.6 k FMA instructions per image (was 44.8 k).
func directConvBackwardData(dy: UnsafePointer<Float>, weight: UnsafePointer<Float>, geometry g: ConvGeometry,
                            dx: UnsafeMutablePointer<Float>) {
    let k = g.kernelW, cin = g.inChannels, cout = g.outChannels, oh = g.outH, ow = g.outW, pad = g.padding
    let h = g.height, w = g.width, rowsP = oh + k - 1
    let cols = rowsP * ow, colsP = (cols + 15) / 16 * 16   // 32-column tiles and a last 16-column one
    let zs = (k - 1) * ow + colsP                          // a dy plane with its zero rows, plus tile overrun
    let m = cin * k, mBlocks = (m + 7) / 8, depth = cout * k
    let aSize = (mBlocks * depth * 8 + 15) / 16 * 16, offSize = (2 * depth + 15) / 16 * 16
    let slack = 32
    let per = (cout * zs + slack + mBlocks * 8 * colsP + slack + 15) / 16 * 16
    let chunks = Parallel.chunkCount(g.batch, grain: 1)
    let buf = ScratchPool.shared.take(aSize + offSize + chunks * per + k * (w + 15) / 16 * 16 + 16)
    defer { ScratchPool.shared.give(buf) }
    let a = buf.0, offs = UnsafeMutableRawPointer(buf.0 + aSize).bindMemory(to: Int.self, capacity: depth)
    for mb in 0..<mBlocks {
        for d in 0..<depth {
            let co = d / k, ki = d % k
            for r in 0..<8 {
                let row = mb * 8 + r, c = row / k, kj = row % k
                a[(mb * depth + d) * 8 + r] = row < m ? weight[((ki * k + kj) * cout + co) * cin + c] : 0
            }
        }
    }
    for d in 0..<depth { offs[d] = (d / k) * zs + (k - 1 - d % k) * ow }
    // 0/1 lane masks per (kj, 16-column block of dx): lane ix takes Z[.., ix - kj] when 0 <= ix + pad - kj < ow.
    // (Every float the masked loads read is finite: the chunk's buffer is zeroed before use.)
    let xBlocks = (w + 15) / 16
    let masks = buf.0 + aSize + offSize + chunks * per
    for kj in 0..<k {
        for xb in 0..<xBlocks {
            for i in 0..<16 { let j = xb * 16 + i + pad - kj; masks[(kj * xBlocks + xb) * 16 + i] = j >= 0 && j < ow ? 1 : 0 }
        }
    }
    Parallel.run(chunks) { ch in
        let dyZ = buf.0 + aSize + offSize + ch * per, z = dyZ + cout * zs + slack
        dyZ.update(repeating: 0, count: per)
        for n in (g.batch * ch / chunks)..<(g.batch * (ch + 1) / chunks) {
            for co in 0..<cout { copyFloats(dyZ + co * zs + (k - 1) * ow, dy + (n * cout + co) * oh * ow, oh * ow) }
            for mb in 0..<mBlocks {
                var c0 = 0
                while c0 < colsP {
                    if colsP - c0 >= 32 { gatherTile(depth, a + mb * depth * 8, dyZ + c0, offs, z + mb * 8 * colsP + c0, ldt: colsP) }
                    else { gatherTile16(depth, a + mb * depth * 8, dyZ + c0, offs, z + mb * 8 * colsP + c0, ldt: colsP) }
                    c0 += 32
                }
            }
            for c in 0..<cin {
                for iy in 0..<h {
                    let dst = dx + ((n * cin + c) * h + iy) * w, zrow = (iy + pad) * ow + pad
                    for xb in 0..<xBlocks {
                        let x0 = xb * 16
                        var acc = SIMD16<Float>()
                        for kj in 0..<k {
                            acc.addProduct(load16(z + (c * k + kj) * colsP + zrow - kj + x0), load16(masks + (kj * xBlocks + xb) * 16))
                        }
                        if x0 + 16 <= w { store16(acc, dst + x0) } else { for i in 0..<(w - x0) { dst[x0 + i] = acc[i] } }
                    }
                }
            }
        }
    }
}

/// t[r][0..<32] (rows ldt apart) = Σ_d a[d][r] · b[offs[d] ..< offs[d] + 32]: the 8×32 microkernel with
/// each B row read in place (a slice of some plane) instead of from a packed panel.
@inline(never)
private func gatherTile(_ depth: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ offs: UnsafePointer<Int>,
                        _ t: UnsafeMutablePointer<Float>, ldt: Int) {
    var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
    var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
    var c40 = SIMD16<Float>(), c41 = SIMD16<Float>(), c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
    var c60 = SIMD16<Float>(), c61 = SIMD16<Float>(), c70 = SIMD16<Float>(), c71 = SIMD16<Float>()
    var ap = a
    for d in 0..<depth {
        let bp = b + offs[d]
        let b0 = load16(bp), b1 = load16(bp + 16)
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
    var r = t
    store16(c00, r); store16(c01, r + 16); r += ldt; store16(c10, r); store16(c11, r + 16); r += ldt
    store16(c20, r); store16(c21, r + 16); r += ldt; store16(c30, r); store16(c31, r + 16); r += ldt
    store16(c40, r); store16(c41, r + 16); r += ldt; store16(c50, r); store16(c51, r + 16); r += ldt
    store16(c60, r); store16(c61, r + 16); r += ldt; store16(c70, r); store16(c71, r + 16)
}

/// Six zeros: the bias of a 6-row tile when the conv has none.
nonisolated(unsafe) private let zeroBias: UnsafePointer<Float> = {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: 6); p.initialize(repeating: 0, count: 6); return UnsafePointer(p)
}()

/// t[r][0..<64] (rows ldt apart) = bias[r] + Σ_d a[d][r] · b[offs[d] ..< offs[d] + 64] for 6 rows: the
/// 6-row, 4-vector tile of `gatherTile` (24 accumulators), written with the bias added.
@inline(never)
private func gatherTile6x64(_ depth: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ offs: UnsafePointer<Int>,
                            _ bias: UnsafePointer<Float>, _ t: UnsafeMutablePointer<Float>, ldt: Int) {
    var c00 = SIMD16<Float>(repeating: bias[0]), c01 = c00, c02 = c00, c03 = c00
    var c10 = SIMD16<Float>(repeating: bias[1]), c11 = c10, c12 = c10, c13 = c10
    var c20 = SIMD16<Float>(repeating: bias[2]), c21 = c20, c22 = c20, c23 = c20
    var c30 = SIMD16<Float>(repeating: bias[3]), c31 = c30, c32 = c30, c33 = c30
    var c40 = SIMD16<Float>(repeating: bias[4]), c41 = c40, c42 = c40, c43 = c40
    var c50 = SIMD16<Float>(repeating: bias[5]), c51 = c50, c52 = c50, c53 = c50
    var ap = a
    for d in 0..<depth {
        let bp = b + offs[d]
        let b0 = load16(bp), b1 = load16(bp + 16), b2 = load16(bp + 32), b3 = load16(bp + 48)
        var s = SIMD16<Float>(repeating: ap[0])
        c00.addProduct(s, b0); c01.addProduct(s, b1); c02.addProduct(s, b2); c03.addProduct(s, b3)
        s = SIMD16<Float>(repeating: ap[1])
        c10.addProduct(s, b0); c11.addProduct(s, b1); c12.addProduct(s, b2); c13.addProduct(s, b3)
        s = SIMD16<Float>(repeating: ap[2])
        c20.addProduct(s, b0); c21.addProduct(s, b1); c22.addProduct(s, b2); c23.addProduct(s, b3)
        s = SIMD16<Float>(repeating: ap[3])
        c30.addProduct(s, b0); c31.addProduct(s, b1); c32.addProduct(s, b2); c33.addProduct(s, b3)
        s = SIMD16<Float>(repeating: ap[4])
        c40.addProduct(s, b0); c41.addProduct(s, b1); c42.addProduct(s, b2); c43.addProduct(s, b3)
        s = SIMD16<Float>(repeating: ap[5])
        c50.addProduct(s, b0); c51.addProduct(s, b1); c52.addProduct(s, b2); c53.addProduct(s, b3)
        ap += 6
    }
    var r = t
    store16(c00, r); store16(c01, r + 16); store16(c02, r + 32); store16(c03, r + 48); r += ldt
    store16(c10, r); store16(c11, r + 16); store16(c12, r + 32); store16(c13, r + 48); r += ldt
    store16(c20, r); store16(c21, r + 16); store16(c22, r + 32); store16(c23, r + 48); r += ldt
    store16(c30, r); store16(c31, r + 16); store16(c32, r + 32); store16(c33, r + 48); r += ldt
    store16(c40, r); store16(c41, r + 16); store16(c42, r + 32); store16(c43, r + 48); r += ldt
    store16(c50, r); store16(c51, r + 16); store16(c52, r + 32); store16(c53, r + 48)
}

/// The 16-column version of `gatherTile` (an output plane's last columns), into t[r][0..<16] (rows ldt apart).
@inline(never)
private func gatherTile16(_ depth: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ offs: UnsafePointer<Int>,
                          _ t: UnsafeMutablePointer<Float>, ldt: Int) {
    var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
    var c4 = SIMD16<Float>(), c5 = SIMD16<Float>(), c6 = SIMD16<Float>(), c7 = SIMD16<Float>()
    var ap = a
    for d in 0..<depth {
        let b0 = load16(b + offs[d])
        c0.addProduct(SIMD16<Float>(repeating: ap[0]), b0); c1.addProduct(SIMD16<Float>(repeating: ap[1]), b0)
        c2.addProduct(SIMD16<Float>(repeating: ap[2]), b0); c3.addProduct(SIMD16<Float>(repeating: ap[3]), b0)
        c4.addProduct(SIMD16<Float>(repeating: ap[4]), b0); c5.addProduct(SIMD16<Float>(repeating: ap[5]), b0)
        c6.addProduct(SIMD16<Float>(repeating: ap[6]), b0); c7.addProduct(SIMD16<Float>(repeating: ap[7]), b0)
        ap += 8
    }
    store16(c0, t); store16(c1, t + ldt); store16(c2, t + 2 * ldt); store16(c3, t + 3 * ldt)
    store16(c4, t + 4 * ldt); store16(c5, t + 5 * ldt); store16(c6, t + 6 * ldt); store16(c7, t + 7 * ldt)
}

/// Whether the adjoint (dx) pass of `g` fits the direct method too.
func directConvBackwardDataApplies(_ g: ConvGeometry) -> Bool {
    g.stride == 1 && g.width <= 32 && g.width >= 5 && g.outChannels * g.kernelW * g.kernelW <= 512
        && g.inChannels <= 64 && g.kernelW <= 8 && g.padding <= g.kernelW - 1
}

/// dW of a stride-1 convolution as dot products over whole output planes. For each image and tap
/// column kj, a "shifted copy" S[kj][c] holds the zero-bordered input's rows cut to the output width,
/// end to end, so the im2col row of (c, ki, kj) is the contiguous slice S[kj][c][ki·ow ..< ki·ow + oh·ow]
/// and lines up with dy's plane: dW[co][c][ki][kj] = Σ_n Σ_p dy[n][co][p] · S[kj][c][ki·ow + p]. Every
/// vector lane is used (rows are not padded to 16), a 4×4 block of dW keeps 16 accumulators over a
/// group of images before one horizontal sum each, and chunks of images are added in a fixed order.
func directConvBackwardWeights(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, geometry g: ConvGeometry,
                               dWeight: UnsafeMutablePointer<Float>) {
    let k = g.kernelW, cin = g.inChannels, cout = g.outChannels, oh = g.outH, ow = g.outW, kk = k * k
    let L = DirectLayout(c: cin, h: g.height, w: g.width, pad: g.padding, k: k)
    let p = oh * ow, nv = (p + 15) / 16, pv = nv * 16
    let S = ShiftedCopies(g), xs = S.xs
    // Per image of a group: its copies, then its dy rows padded to pv.
    // Planes of whole vectors (LeNet-5's conv1: 784 = 49·16) are read in place instead of copied.
    let inPlace = p == pv
    let copies = k * cin * xs, imageFloats = copies + (inPlace ? 0 : cout * pv)
    // Images per group: a 4-row block of dy for the whole group stays in L1 while the input slices stream.
    let group = max(1, min(8, 2048 / pv)), rows = cin * kk
    let cout4 = (cout + 3) / 4 * 4, rows4 = (rows + 3) / 4 * 4
    let per = (L.size + group * imageFloats + cout4 * rows4 + 64) / 16 * 16
    let chunks = Parallel.chunkCount(g.batch, grain: 1)
    let buf = ScratchPool.shared.take(chunks * per + 2 * rows4 + 16)
    defer { ScratchPool.shared.give(buf) }
    // Row r = (c·k + ki)·k + kj (PyTorch's order) starts at (kj·cin + c)·xs + ki·ow in an image's copies.
    let offs = UnsafeMutableRawPointer(buf.0 + chunks * per).bindMemory(to: Int.self, capacity: rows4)
    for r in 0..<rows4 { offs[r] = S.offset(min(r, rows - 1)) }
    Parallel.run(chunks) { ch in
        let xp = buf.0 + ch * per, images = xp + L.size, partial = images + group * imageFloats
        partial.update(repeating: 0, count: cout4 * rows4)
        L.clear(xp)
        var n0 = g.batch * ch / chunks
        let end = g.batch * (ch + 1) / chunks
        while n0 < end {
            let count = min(group, end - n0)
            for i in 0..<count {
                let n = n0 + i, sp = images + i * imageFloats, dp = sp + copies
                L.fill(x + n * cin * g.height * g.width, xp)
                S.build(L, xp, sp)
                for co in 0..<cout where !inPlace {
                    copyFloats(dp + co * pv, dy + (n * cout + co) * p, p)
                    zeroFloats(dp + co * pv + p, pv - p)
                }
            }
            let dys = inPlace ? dy + n0 * cout * p : UnsafePointer(images + copies), dImage = inPlace ? cout * p : imageFloats
            var cb = 0
            while cb < cout4 {
                // Rows past cout repeat the last one; their sums land in partial rows nobody reads.
                let d0 = min(cb, cout - 1), d1 = min(cb + 1, cout - 1), d2 = min(cb + 2, cout - 1), d3 = min(cb + 3, cout - 1)
                var rb = 0
                while rb < rows4 {
                    dotPlanes4x4(images: count, nv: nv, dImage: dImage,
                                 d: dys, d0: d0 * pv, d1: d1 * pv, d2: d2 * pv, d3: d3 * pv,
                                 xImage: imageFloats, x: images, x0: offs[rb], x1: offs[rb + 1], x2: offs[rb + 2], x3: offs[rb + 3],
                                 out: partial + cb * rows4 + rb, ldo: rows4)
                    rb += 4
                }
                cb += 4
            }
            n0 += count
        }
    }
    for co in 0..<cout {
        for r in 0..<rows {
            var v: Float = 0
            for c in 0..<chunks { v += buf.0[c * per + L.size + group * imageFloats + co * rows4 + r] }
            dWeight[((r % kk) * cout + co) * cin + r / kk] = v   // row r = c·kk + tap, into the tap-major W
        }
    }
}

/// out[i][j] += Σ over `images` (dImage and xImage floats apart in d and x) and nv vectors of d[di][v] · x[xj][v], for the
/// 4 dy rows at d + d0…d3 and the 4 input slices at x + x0…x3. Out of line so its 16 accumulators and
/// 8 operands get registers of their own.
@inline(never)
private func dotPlanes4x4(images: Int, nv: Int, dImage: Int, d: UnsafePointer<Float>, d0: Int, d1: Int, d2: Int, d3: Int,
                          xImage: Int, x: UnsafePointer<Float>, x0: Int, x1: Int, x2: Int, x3: Int,
                          out: UnsafeMutablePointer<Float>, ldo: Int) {
    var a00 = SIMD16<Float>(), a01 = SIMD16<Float>(), a02 = SIMD16<Float>(), a03 = SIMD16<Float>()
    var a10 = SIMD16<Float>(), a11 = SIMD16<Float>(), a12 = SIMD16<Float>(), a13 = SIMD16<Float>()
    var a20 = SIMD16<Float>(), a21 = SIMD16<Float>(), a22 = SIMD16<Float>(), a23 = SIMD16<Float>()
    var a30 = SIMD16<Float>(), a31 = SIMD16<Float>(), a32 = SIMD16<Float>(), a33 = SIMD16<Float>()
    for n in 0..<images {
        let dp = d + n * dImage, xp = x + n * xImage
        var o = 0
        for _ in 0..<nv {
            let v0 = load16(dp + d0 + o), v1 = load16(dp + d1 + o), v2 = load16(dp + d2 + o), v3 = load16(dp + d3 + o)
            var b = load16(xp + x0 + o)
            a00.addProduct(v0, b); a10.addProduct(v1, b); a20.addProduct(v2, b); a30.addProduct(v3, b)
            b = load16(xp + x1 + o)
            a01.addProduct(v0, b); a11.addProduct(v1, b); a21.addProduct(v2, b); a31.addProduct(v3, b)
            b = load16(xp + x2 + o)
            a02.addProduct(v0, b); a12.addProduct(v1, b); a22.addProduct(v2, b); a32.addProduct(v3, b)
            b = load16(xp + x3 + o)
            a03.addProduct(v0, b); a13.addProduct(v1, b); a23.addProduct(v2, b); a33.addProduct(v3, b)
            o += 16
        }
    }
    var r = out
    r[0] += hsum(a00); r[1] += hsum(a01); r[2] += hsum(a02); r[3] += hsum(a03); r += ldo
    r[0] += hsum(a10); r[1] += hsum(a11); r[2] += hsum(a12); r[3] += hsum(a13); r += ldo
    r[0] += hsum(a20); r[1] += hsum(a21); r[2] += hsum(a22); r[3] += hsum(a23); r += ldo
    r[0] += hsum(a30); r[1] += hsum(a31); r[2] += hsum(a32); r[3] += hsum(a33)
}

/// Sum of the 16 lanes (a shuffle tree; `SIMD.sum()` is an out-of-line generic call).
@inline(__always) func hsum(_ v: SIMD16<Float>) -> Float {
    let a = v.lowHalf + v.highHalf, b = a.lowHalf + a.highHalf, c = b.lowHalf + b.highHalf
    return c[0] + c[1]
}

/// Whether `directConvBackwardWeightsOuter` handles this geometry: 5×5 taps, output channels in
/// whole vectors of 16 (LeNet-5's conv2).
func directConvOuterApplies(_ g: ConvGeometry) -> Bool {
    g.stride == 1 && g.kernelW == 5 && g.kernelH == 5 && g.outChannels % 16 == 0
}

/// dW of a 5×5, stride-1 convolution as outer products with the 16 lanes along output channels:
///   acc[c][ki][kj][co] += xp[c][oy + ki][ox + kj] · dy[co][oy][ox]   over every image and output pixel,
/// a broadcast input value times a vector of dy (transposed to [pixel][16 channels] per image). Each
/// (input channel, 16 output channels) keeps its 25 sums in registers over a whole image and no
/// horizontal sum is ever taken, where the dot products along pixels (`directConvBackwardWeights`)
/// sum 16 accumulators across lanes for every 4×4 block and group of images. Chunks of images keep
/// sums of their own, added in a fixed order.
func directConvBackwardWeightsOuter(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, geometry g: ConvGeometry,
                                    dWeight: UnsafeMutablePointer<Float>) {
    let cin = g.inChannels, cout = g.outChannels, oh = g.outH, ow = g.outW, p = oh * ow
    let L = DirectLayout(c: cin, h: g.height, w: g.width, pad: g.padding, k: 5)
    let blocks = cout / 16, accFloats = blocks * cin * 25 * 16
    let per = (L.size + p * 16 + accFloats + 15) / 16 * 16
    let chunks = Parallel.chunkCount(g.batch, grain: 1)
    let buf = ScratchPool.shared.take(chunks * per + 16)
    defer { ScratchPool.shared.give(buf) }
    Parallel.run(chunks) { ch in
        let xp = buf.0 + ch * per, dyT = xp + L.size, acc = dyT + p * 16
        L.clear(xp)
        acc.update(repeating: 0, count: accFloats)
        for n in (g.batch * ch / chunks)..<(g.batch * (ch + 1) / chunks) {
            L.fill(x + n * cin * g.height * g.width, xp)
            for cb in 0..<blocks {
                transposeBlockIn(dy + (n * cout + cb * 16) * p, count: 16, stride: p, len: p, dyT, dstStride: 16, lanes: 16)
                for c in 0..<cin {
                    outer5x5(acc + (cb * cin + c) * 400, dyT, xp + c * L.rows * L.rowLen, rowLen: L.rowLen, oh: oh, ow: ow)
                }
            }
        }
    }
    // acc[cb][c][t][16] of each chunk, in chunk order, into the tap-major W[t][co][c].
    for cb in 0..<blocks {
        for c in 0..<cin {
            for t in 0..<25 {
                var v = SIMD16<Float>()
                for ch in 0..<chunks { v += load16(buf.0 + ch * per + L.size + p * 16 + ((cb * cin + c) * 25 + t) * 16) }
                for j in 0..<16 { dWeight[(t * cout + cb * 16 + j) * cin + c] = v[j] }
            }
        }
    }
}

/// a0…a4 += x[0…4] · v: one input row's five taps, each value a broadcast operand of one FMA.
@inline(__always)
private func addTaps(_ x: UnsafePointer<Float>, _ v: SIMD16<Float>, _ a0: inout SIMD16<Float>, _ a1: inout SIMD16<Float>,
                     _ a2: inout SIMD16<Float>, _ a3: inout SIMD16<Float>, _ a4: inout SIMD16<Float>) {
    a0.addProduct(SIMD16(repeating: x[0]), v); a1.addProduct(SIMD16(repeating: x[1]), v)
    a2.addProduct(SIMD16(repeating: x[2]), v); a3.addProduct(SIMD16(repeating: x[3]), v)
    a4.addProduct(SIMD16(repeating: x[4]), v)
}

/// acc[ki·5 + kj][0..<16] += Σ_(oy, ox) x[(oy + ki)·rowLen + ox + kj] · dyT[oy·ow + ox][0..<16]: 25
/// accumulators in registers, each input value a broadcast operand of one FMA.
@inline(never)
private func outer5x5(_ acc: UnsafeMutablePointer<Float>, _ dyT: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                      rowLen: Int, oh: Int, ow: Int) {
    var a00 = load16(acc), a01 = load16(acc + 16), a02 = load16(acc + 32), a03 = load16(acc + 48), a04 = load16(acc + 64)
    var a10 = load16(acc + 80), a11 = load16(acc + 96), a12 = load16(acc + 112), a13 = load16(acc + 128), a14 = load16(acc + 144)
    var a20 = load16(acc + 160), a21 = load16(acc + 176), a22 = load16(acc + 192), a23 = load16(acc + 208), a24 = load16(acc + 224)
    var a30 = load16(acc + 240), a31 = load16(acc + 256), a32 = load16(acc + 272), a33 = load16(acc + 288), a34 = load16(acc + 304)
    var a40 = load16(acc + 320), a41 = load16(acc + 336), a42 = load16(acc + 352), a43 = load16(acc + 368), a44 = load16(acc + 384)
    var d = dyT
    for oy in 0..<oh {
        var r0 = x + oy * rowLen, r1 = r0 + rowLen, r2 = r1 + rowLen, r3 = r2 + rowLen, r4 = r3 + rowLen
        for _ in 0..<ow {
            let v = load16(d)
            addTaps(r0, v, &a00, &a01, &a02, &a03, &a04)
            addTaps(r1, v, &a10, &a11, &a12, &a13, &a14)
            addTaps(r2, v, &a20, &a21, &a22, &a23, &a24)
            addTaps(r3, v, &a30, &a31, &a32, &a33, &a34)
            addTaps(r4, v, &a40, &a41, &a42, &a43, &a44)
            d += 16; r0 += 1; r1 += 1; r2 += 1; r3 += 1; r4 += 1
        }
    }
    store16(a00, acc); store16(a01, acc + 16); store16(a02, acc + 32); store16(a03, acc + 48); store16(a04, acc + 64)
    store16(a10, acc + 80); store16(a11, acc + 96); store16(a12, acc + 112); store16(a13, acc + 128); store16(a14, acc + 144)
    store16(a20, acc + 160); store16(a21, acc + 176); store16(a22, acc + 192); store16(a23, acc + 208); store16(a24, acc + 224)
    store16(a30, acc + 240); store16(a31, acc + 256); store16(a32, acc + 272); store16(a33, acc + 288); store16(a34, acc + 304)
    store16(a40, acc + 320); store16(a41, acc + 336); store16(a42, acc + 352); store16(a43, acc + 368); store16(a44, acc + 384)
}
