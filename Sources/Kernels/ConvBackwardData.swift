import Foundation

// The input gradient of a convolution, dx[n][c][p + t] = Σ_(co,t) W[t][co][c] · dy[n][co][p] (the
// adjoint of `convForward`).
//
// The paths; `convBackwardData` takes the first whose condition holds:
//
// | path                                  | condition                                              | e.g.                  |
// |---------------------------------------|--------------------------------------------------------|-----------------------|
// | the subsampled conv's dx, through     | `ConvGeometry.subsampled`: 1×1, stride > 1, padding 0  | ResNet-18 projections |
// |   this table again, then upsampled    |                                                        |                       |
// | singlePixelBackwardData               | `singlePixelTap`: one pixel in, one out (a 1×1 map)    | ResNet-50 layer4 at   |
// |   (ConvSinglePixel.swift): the GEMM   |                                                        |   32×32 inputs        |
// | conv3x3BackwardData (Conv3x3.swift)   | `conv3x3Applies` (4×4 maps in F(2×2) tiles, not the    | ResNet-20 layer1-3,   |
// |                                       | forward's F(4×4))                                      | ResNet-18 layer1-2    |
// | oneByOneBackwardData (ConvOneByOne    | `oneByOneProducts`: 1×1, stride 1, padding 0,          | ResNet-50 224 layer1  |
// |   .swift): a GEMM per image           | >= 1024 pixels a plane                                 |                       |
// | oneByOneBatchBackwardData: one GEMM,  | `oneByOneProducts`: the same, 32-1023 pixels, batch    | ResNet-50 224 layer2-4|
// |   its columns across images           | >= 2                                                   |   1×1s and projections|
// | directConvBackwardData                | `directConvApplies` and `directConvBackwardDataApplies`| LeNet-5 conv2         |
// |                                       | (input rows 5-32 wide, Cout·k² <= 512, Cin <= 64,      |                       |
// |                                       | padding < k)                                           |                       |
// | panelConvBackwardData, pixel-major    | <= 64 output pixels, fuller panels (`pixelMajorFills`) | ResNet-18 layer1-4    |
// | panelConvBackwardData, image-major    | otherwise (stride 1 "same" padding adds masked vector  | ResNet-50 224 layer4, |
// |                                       | rows, strides >= 2 add them into column phases         | ResNet-20 layer2.0    |
// |                                       | (`PhaseLayout`), other shapes scatter)                 |                       |
//
// A model's first conv needs no dx (LeNet-5's conv1, ResNet-18's stem) and never comes here.

/// dx of `convForward`, overwritten, plus `adding` (x's shape) where given.
public func convBackwardData(dy: UnsafePointer<Float>, weight: UnsafePointer<Float>, geometry g: ConvGeometry,
                             dx: UnsafeMutablePointer<Float>, adding: UnsafePointer<Float>? = nil) {
    // The transformed path adds as it stores (a residual block's shortcut gradient: one pass over three
    // tensors fewer); the others in a pass after.
    if conv3x3Applies(g) {
        conv3x3BackwardData(dy: dy, weight: weight, geometry: g, dx: dx, adding: adding)
        return
    }
    defer { if let adding { addInPlace(dx, adding, count: g.batch * g.inChannels * g.height * g.width) } }
    if let sg = g.subsampled {
        let dxs = ScratchPool.shared.take(sg.batch * sg.inChannels * sg.height * sg.width + 16)
        defer { ScratchPool.shared.give(dxs) }
        convBackwardData(dy: dy, weight: weight, geometry: sg, dx: dxs.0)
        upsample(dxs.0, g, into: dx)
        return
    }
    if let tap = singlePixelTap(g) {
        singlePixelBackwardData(dy: dy, weight: weight, geometry: g, tap: tap, dx: dx)
        return
    }
    switch oneByOneProducts(g, .inputGradient) {
    case .perImage: oneByOneBackwardData(dy: dy, weight: weight, geometry: g, dx: dx); return
    case .wholeBatch: oneByOneBatchBackwardData(dy: dy, weight: weight, geometry: g, dx: dx); return
    case nil: break
    }
    if directConvApplies(g) && directConvBackwardDataApplies(g) {
        directConvBackwardData(dy: dy, weight: weight, geometry: g, dx: dx)
        return
    }
    panelConvBackwardData(dy: dy, weight: weight, ConvPanels(g), dx: dx)
}

/// dx = Σ over taps of Wᵀ dy, scattered back through the window (the adjoint of the panel packing).
private func panelConvBackwardData(dy: UnsafePointer<Float>, weight: UnsafePointer<Float>, _ s: ConvPanels,
                                   dx: UnsafeMutablePointer<Float>) {
    let g = s.g, cout = g.outChannels, cin = g.inChannels, p = s.pixels
    let plane = g.height * g.width, taps = s.taps
    let cPanels = (cin + mr - 1) / mr
    // A: [u][cPanel][co][8] = W[taps[u]][co][c]: 8 contiguous floats of W (tap-major) per row.
    let pa = ScratchPool.shared.take(max(1, taps.count) * cPanels * cout * mr + 16)
    defer { ScratchPool.shared.give(pa) }
    let packedA = pa.0
    let nt = taps.count
    Parallel.forEach(nt * cPanels, grain: max(1, 8192 / max(1, cout * mr))) { i in
        let u = i / cPanels, cp = i % cPanels, dst = packedA + i * cout * mr, c0 = cp * mr, n = min(mr, cin - c0)
        if n == mr {
            // One vector a row: copied float by float, this was as long as the tile products of ResNet-18's
            // small-map convs (BENCHMARKS.md).
            for co in 0..<cout {
                let v = load8(weight + (taps[u] * cout + co) * cin + c0)
                store8(v, dst + co * mr)
            }
        } else {
            for co in 0..<cout {
                let src = weight + (taps[u] * cout + co) * cin + c0, d = dst + co * mr
                for r in 0..<n { d[r] = src[r] }
                for r in n..<mr { d[r] = 0 }
            }
        }
    }
    // Pixel-major units work on their 32 images transposed ([channel][pixel][32]): dy rows are read
    // and dx rows accumulated as 32 contiguous floats, then dx is transposed back once per unit.
    // Image-major panels with stride 1 and "same" padding add masked vector rows straight into dx.
    let dyLen = s.pixelMajor ? cout * p * panelWidth : 0, dxLen = s.pixelMajor ? cin * plane * panelWidth : 0
    let contiguous = !s.pixelMajor && g.stride == 1 && g.outW == g.width && g.outH == g.height
    // A pixel-major 1×1 (stride 1: a strided one is subsampled first) writes each of its unit's dx rows
    // once, so it stores them instead of adding into zeroed rows: for ResNet-50's and GoogLeNet's 1×1
    // convs on 4×4 and 2×2 maps that zeroing was a memset of up to 1 MB a unit.
    let overwrite = s.pixelMajor && g.kernelH == 1 && g.kernelW == 1 && g.stride == 1 && g.padding == 0
    // Strided image-major panels add each tap's rows into the image's column phases (`PhaseLayout`, the
    // forward's packing run backwards) as masked vectors, and the phases go back into dx once per image:
    // added float by float through the window, they cost twice the tile products (ResNet-20's layer2.0).
    let phase = PhaseLayout(s), phaseLen = phase?.size ?? 0
    // After the tile, dy and dx panels: the panel's runs (column and offset, 2 · 32 Ints), their lane masks
    // (16 floats each) and the image's phase sums.
    let scratch = cout * panelWidth + mr * panelWidth + 16 + dyLen + dxLen + 4 * panelWidth + 16 * panelWidth + phaseLen
    unitChunks(s, workPerUnit: s.panelsPerUnit * s.kUsed * cout / 8, scratch: scratch, dynamic: true) { _, units, buf in
        var cols = PanelColumns(buf)
        let dyP = (buf + PanelColumns.bytes + 63).alignedDown(toMultipleOf: 64).bindMemory(to: Float.self, capacity: scratch)
        // 16 floats after the tile: a phase run's vector load may reach past its last row.
        let tile = dyP + cout * panelWidth, dyT = tile + mr * panelWidth + 16, dxT = dyT + dyLen
        let runJ = UnsafeMutableRawPointer(dxT + dxLen).bindMemory(to: Int.self, capacity: 2 * panelWidth)
        let runOffset = runJ + panelWidth, keep = dxT + dxLen + 4 * panelWidth, sums = keep + 16 * panelWidth
        if !s.pixelMajor && phase == nil {
            for u in units {
                for n in s.images(ofUnit: u) { (dx + n * cin * plane).update(repeating: 0, count: cin * plane) }
            }
        }
        for unit in units {
            let n0 = unit * panelWidth, count = min(panelWidth, g.batch - n0)
            if s.pixelMajor {
                transposeBlockIn(dy + n0 * cout * p, count: count, stride: cout * p, len: cout * p, dyT)
                if !overwrite { dxT.update(repeating: 0, count: dxLen) }
            }
            if phase != nil { sums.update(repeating: 0, count: phaseLen) }
            for q in (unit * s.panelsPerUnit)..<((unit + 1) * s.panelsPerUnit) {
                let mask = cols.load(q, s)
                if s.pixelMajor {
                    let pix = q % s.panelsPerUnit
                    for co in 0..<cout {
                        let src = dyT + (co * p + pix) * panelWidth, dst = dyP + co * panelWidth
                        store16(load16(src), dst); store16(load16(src + 16), dst + 16)
                    }
                } else if cols.count == panelWidth {
                    // A whole image-major panel: 32 consecutive pixels of one image (gathered one float
                    // at a time, they took half of a 1×1 conv's input gradient).
                    let src = dy + cols.yOff[0]
                    for co in 0..<cout {
                        store16(load16(src + co * p), dyP + co * panelWidth); store16(load16(src + co * p + 16), dyP + co * panelWidth + 16)
                    }
                } else {
                    for co in 0..<cout {
                        let src = dy + co * p, dst = dyP + co * panelWidth
                        for j in 0..<panelWidth { dst[j] = j < cols.count ? src[cols.yOff[j]] : 0 }
                    }
                }
                let pix = q % s.panelsPerUnit
                let iy0 = (pix / s.outW) * g.stride - g.padding, ix0 = (pix % s.outW) * g.stride - g.padding
                if let L = phase {
                    // Runs of up to 16 columns (one output row each): a run's sums for tap (ki, kj) of channel c
                    // go to the phase position the forward's packing reads that run from.
                    let (runs, columns) = L.runs(q, s, j: runJ, offset: runOffset)
                    // Run i's lanes as 1 (its columns) and 0 (the next run's), per run once per panel.
                    for i in 0..<runs {
                        let len = (i + 1 < runs ? runJ[i + 1] : columns) - runJ[i]
                        for lane in 0..<16 { keep[16 * i + lane] = lane < len ? 1 : 0 }
                    }
                    let zero = SIMD16<Float>()
                    let base = sums + PhaseLayout.slack, chanStride = L.rows * g.stride * L.pw
                    for (u, t) in taps.enumerated() where mask.contains(t) {
                        let ki = t / g.kernelW, kj = t % g.kernelW, tapOff = L.row(0, ki, kj % g.stride) + kj / g.stride
                        for cp in 0..<cPanels {
                            microTile(cout, packedA + (u * cPanels + cp) * cout * mr, dyP, tile, accumulate: false)
                            for r in 0..<min(mr, cin - cp * mr) {
                                let trow = tile + r * panelWidth, d = base + tapOff + (cp * mr + r) * chanStride
                                for i in 0..<runs {
                                    let at = d + runOffset[i]
                                    store16(load16(at) + load16(trow + runJ[i]).replacing(with: zero, where: load16(keep + 16 * i) .== zero), at)
                                }
                            }
                        }
                    }
                    continue
                }
                for (u, t) in taps.enumerated() where mask.contains(t) {
                    cols.prepareTap(t, g)
                    var first = -1
                    var m0 = SIMDMask<SIMD16<Int32>>(), m1 = SIMDMask<SIMD16<Int32>>()
                    if contiguous {
                        let p0 = pix * panelWidth, n = q / s.panelsPerUnit
                        // The 32-float read-modify-write must stay inside this unit's own image: its
                        // masked lanes rewrite what they read, which would race with the unit of a
                        // neighbouring image (small maps, e.g. ResNet-50's 2×2 layer3 at 32×32 input).
                        let image = n * cin * plane
                        let f = image + p0 + (t / g.kernelW - g.padding) * g.width + (t % g.kernelW - g.padding)
                        if f >= image && f + (cin - 1) * plane + panelWidth <= image + cin * plane {
                            first = f
                            for j in 0..<16 { m0[j] = cols.ok[j]; m1[j] = cols.ok[j + 16] }
                        }
                    }
                    let e = (iy0 + t / g.kernelW) * g.width + ix0 + t % g.kernelW
                    for cp in 0..<cPanels {
                        microTile(cout, packedA + (u * cPanels + cp) * cout * mr, dyP, tile, accumulate: false)
                        for r in 0..<min(mr, cin - cp * mr) {
                            let c = cp * mr + r, trow = tile + r * panelWidth
                            if s.pixelMajor {
                                let d = dxT + (c * plane + e) * panelWidth
                                if overwrite { store16(load16(trow), d); store16(load16(trow + 16), d + 16) }
                                else { store16(load16(d) + load16(trow), d); store16(load16(d + 16) + load16(trow + 16), d + 16) }
                            } else if first >= 0 {
                                let d = dx + first + c * plane, zero = SIMD16<Float>()
                                store16(load16(d) + load16(trow).replacing(with: zero, where: .!m0), d)
                                store16(load16(d + 16) + load16(trow + 16).replacing(with: zero, where: .!m1), d + 16)
                            } else {
                                let d = dx + c * plane
                                for j in 0..<cols.count where cols.ok[j] { d[cols.off[j]] += trow[j] }
                            }
                        }
                    }
                }
            }
            if s.pixelMajor { transposeBlockOut(dxT, count: count, stride: cin * plane, len: cin * plane, dx + n0 * cin * plane) }
            if let phase { phase.scatter(sums, into: dx + unit * cin * plane) }
        }
    }
}

/// dx of a stride-1 convolution, without the zero taps of a "full" correlation over a zero-bordered dy.
/// Per image and tap column kj, Z[c·k + kj] holds the input-row-shaped sums over (co, ki):
///   Z[c·k + kj][iy·ow + j] = Σ_(co,ki) W[co][c][ki][kj] · dy[co][iy - ki][j]   (iy over the padded rows)
/// a GEMM whose B rows are contiguous slices of dy's planes with (k-1) zero rows above and below, one
/// per (co, ki): every lane is a real output. Then dx[c][iy][ix] = Σ_kj Z[c·k + kj][iy·ow + ix - kj], a
/// few masked vector adds per row. LeNet-5's conv2: 25.6 k FMA instructions per image, where the full correlation issues 44.8 k.
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

/// Whether the adjoint (dx) pass of `g` fits the direct method too.
func directConvBackwardDataApplies(_ g: ConvGeometry) -> Bool {
    g.stride == 1 && g.width <= 32 && g.width >= 5 && g.outChannels * g.kernelW * g.kernelW <= 512
        && g.inChannels <= 64 && g.kernelW <= 8 && g.padding <= g.kernelW - 1
}
