import Foundation

// The forward pass of a convolution, y[n][co][p] = bias[co] + Σ_(t,c) W[t][co][c] · x[n][c][p + t] (NCHW,
// W tap-major: `ConvWeights`), with an optional inference epilogue (`ConvEpilogue`).
//
// The paths; `convForward` takes the first whose condition holds:
//
// | path                                  | condition                                              | e.g.                  |
// |---------------------------------------|--------------------------------------------------------|-----------------------|
// | the stride-1 conv of x subsampled,    | `ConvGeometry.subsampled`: 1×1, stride > 1, padding 0  | ResNet-18 projections |
// |   through this table again            |                                                        |                       |
// | singlePixelForward (ConvSinglePixel   | `singlePixelTap`: one pixel in, one out (a 1×1 map)    | ResNet-50 layer4 at   |
// |   .swift): the GEMM                   |                                                        |   32×32 inputs        |
// | oneByOneForward (ConvOneByOne.swift): | `oneByOneProducts`: 1×1, stride 1, padding 0,          | ResNet-50 224 layer1  |
// |   a GEMM per image                    | >= 1024 pixels a plane                                 |                       |
// | oneByOneBatchForward: one GEMM, its   | `oneByOneProducts`: the same, 32-1023 pixels, batch    | ResNet-50 224 layer2-4|
// |   columns across images               | >= 2                                                   |   1×1s and projections|
// | conv3x3Forward (Conv3x3.swift):       | `conv3x3Applies`: 3×3, stride 1, padding 1, maps 8, 16 | ResNet-20 all but the |
// |   Winograd F(2×2, 3×3), F(4×4, 3×3)   | or 32 wide, >= 8 channels (or up to a quarter smaller, | stem and s2 convs;    |
// |                                       | <= 256 channels: `TransformedMap`); 7×7 and 4×4 maps,  | ResNet-50 224 layer1-3|
// |                                       | >= 16 channels, 48-64 wide, 16-128 (`largeTilesApply`) | ResNet-18 layer1-2    |
// | directConvForward, 6×64 tiles         | `directConvApplies` (stride 1, output rows 5-32 wide,  | LeNet-5 conv1         |
// |                                       | Cin·k² <= 512, Cout <= 64, k <= 8) and Cout a multiple |                       |
// |                                       | of 6, not of 8                                         |                       |
// | directConvForward, 8×32 tiles         | `directConvApplies`, other Cout                        | LeNet-5 conv2         |
// | panelConvForward: y = bias            | no tap reaches the image                               |                       |
// | panelConvForward, pixel-major         | <= 64 output pixels, fuller panels (`pixelMajorFills`) | ResNet-18 layer1-4    |
// | panelConvForward, image-major, phase  | stride >= 2 (`PhaseLayout`)                            | ResNet stems, AlexNet |
// | panelConvForward, image-major         | otherwise                                              | ResNet-50 224 layer4  |
//
// Both apply an epilogue as they store.

/// y = conv(x, weight) + bias, NCHW, from packed input panels (no im2col buffer).
public func convForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        geometry g: ConvGeometry, y: UnsafeMutablePointer<Float>) {
    convForward(x: x, weight: weight, bias: bias, geometry: g, y: y, epilogue: nil)
}

/// `convForward` with an inference epilogue (folded batch norm, residual, ReLU) applied to every output.
public func convForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        geometry g: ConvGeometry, y: UnsafeMutablePointer<Float>, epilogue: ConvEpilogue?) {
    if let sg = g.subsampled {
        let xs = ScratchPool.shared.take(sg.batch * sg.inChannels * sg.height * sg.width + 16)
        defer { ScratchPool.shared.give(xs) }
        subsample(x, g, into: xs.0)
        convForward(x: xs.0, weight: weight, bias: bias, geometry: sg, y: y, epilogue: epilogue)
        return
    }
    if let tap = singlePixelTap(g) {
        singlePixelForward(x: x, weight: weight, bias: bias, geometry: g, tap: tap, y: y, epilogue: epilogue)
        return
    }
    switch oneByOneProducts(g, .forward) {
    case .perImage: oneByOneForward(x: x, weight: weight, bias: bias, geometry: g, y: y, epilogue: epilogue); return
    case .wholeBatch: oneByOneBatchForward(x: x, weight: weight, bias: bias, geometry: g, y: y, epilogue: epilogue); return
    case nil: break
    }
    if conv3x3Applies(g) {
        conv3x3Forward(x: x, weight: weight, bias: bias, geometry: g, y: y, epilogue: epilogue)
        return
    }
    if directConvApplies(g) {
        directConvForward(x: x, weight: weight, bias: bias, geometry: g, y: y, epilogue: epilogue)
        return
    }
    panelConvForward(x: x, weight: weight, bias: bias, ConvPanels(g), y: y, epilogue: epilogue)
}

/// The panel forward: weights packed once, then per panel its input packed (`packInput`), the 8×32
/// tiles computed over the taps its outputs reach (`product`) and stored with bias and epilogue
/// (`store`; a pixel-major unit's tiles are written back once it is complete, `storeUnit`).
private func panelConvForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                              _ s: ConvPanels, y: UnsafeMutablePointer<Float>, epilogue: ConvEpilogue?) {
    let g = s.g, cout = g.outChannels, ku = s.kUsed, p = s.pixels
    let mPanels = (cout + mr - 1) / mr
    let pa = ScratchPool.shared.take(mPanels * ku * mr + 16)
    defer { ScratchPool.shared.give(pa) }
    packForwardWeights(weight, s, into: pa.0)
    if s.taps.isEmpty {
        for n in 0..<g.batch { for co in 0..<cout { (y + (n * cout + co) * p).update(repeating: bias?[co] ?? 0, count: p) } }
        if let epilogue { epilogue.apply(y, batch: g.batch, channels: cout, plane: p) }
        return
    }
    let f = PanelForward(s: s, x: x, packedA: pa.0, bias: bias, y: y, epilogue: epilogue)
    unitChunks(s, workPerUnit: s.panelsPerUnit * ku * cout / 8,
               scratch: ku * panelWidth + mr * panelWidth + f.xtLen + f.ytLen, dynamic: true) { _, units, buf in
        var cols = PanelColumns(buf)
        let bp = (buf + PanelColumns.bytes + 63).alignedDown(toMultipleOf: 64)
            .bindMemory(to: Float.self, capacity: ku * panelWidth + 256 + f.xtLen + f.ytLen)
        let tile = bp + ku * panelWidth, xT = tile + mr * panelWidth, yT = xT + f.xtLen
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * s.taps.count) { runs in
            for q in (units.lowerBound * s.panelsPerUnit)..<(units.upperBound * s.panelsPerUnit) {
                let mask = cols.load(q, s)
                f.packInput(q, cols, mask: mask, bp: bp, xT: xT)
                let count = f.tapRuns(mask, into: runs.baseAddress!)
                for mp in 0..<mPanels {
                    f.product(q, mp, runs: runs.baseAddress!, count: count, bp: bp, xT: xT, tile: tile)
                    f.store(q, mp, cols, tile: tile, yT: yT)
                }
                if s.pixelMajor && q % s.panelsPerUnit == s.panelsPerUnit - 1 { f.storeUnit(q / s.panelsPerUnit, yT: yT) }
            }
        }
    }
}

/// A: [mPanel][k = u*Cin + c][8] = W[taps[u]][co][c]: each row a contiguous run of W (tap-major), and
/// the blocks of taps no output reaches are never read. Two panels at a time through a register
/// transpose: one float at a time, this took as long as the tile products of ResNet-18's small-map
/// convs (BENCHMARKS.md).
private func packForwardWeights(_ weight: UnsafePointer<Float>, _ s: ConvPanels, into packedA: UnsafeMutablePointer<Float>) {
    let cout = s.g.outChannels, cin = s.g.inChannels, ku = s.kUsed, taps = s.taps
    let mPanels = (cout + mr - 1) / mr, pairs = (mPanels + 1) / 2
    Parallel.forEach(pairs, grain: max(1, 8192 / max(1, 2 * ku * mr))) { pair in
        let mp = 2 * pair, rows = min(2 * mr, cout - mp * mr)
        let d0 = packedA + mp * ku * mr, d1 = mp + 1 < mPanels ? d0 + ku * mr : nil
        for u in 0..<taps.count {
            transposeRowsToPanels(weight + (taps[u] * cout + mp * mr) * cin, count: rows, stride: cin, len: cin,
                                  d0 + u * cin * mr, d1.map { $0 + u * cin * mr }, dstStride: mr)
        }
    }
}

/// The pieces of the panel forward, and what they share.
private struct PanelForward {
    let s: ConvPanels, g: ConvGeometry
    let x: UnsafePointer<Float>, packedA: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?
    let y: UnsafeMutablePointer<Float>, epilogue: ConvEpilogue?
    let phaseLayout: PhaseLayout?
    let xtLen: Int, ytLen: Int
    let cin: Int, cout: Int, ku: Int, p: Int

    init(s: ConvPanels, x: UnsafePointer<Float>, packedA: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?,
         y: UnsafeMutablePointer<Float>, epilogue: ConvEpilogue?) {
        self.s = s; g = s.g; self.x = x; self.packedA = packedA; self.bias = bias; self.y = y; self.epilogue = epilogue
        cin = g.inChannels; cout = g.outChannels; ku = s.kUsed; p = s.pixels
        phaseLayout = PhaseLayout(s)
        xtLen = s.pixelMajor ? cin * g.height * g.width * panelWidth : (phaseLayout?.size ?? 0)
        // Pixel-major units gather their outputs transposed too, yT[co][pixel][32 images], and write them
        // back with one register transpose: scattered scalar stores cost more than the tile products
        // did for short K (ResNet's 1×1 projections).
        ytLen = s.pixelMajor ? cout * p * panelWidth : 0
    }

    /// Pack: a pixel-major unit transposes its images into xT at its first panel ([input pixel][c][32
    /// images], so a tap's k rows, and a kernel row's run of taps, are already one contiguous panel); a
    /// phase-layout image is built at its first panel; an image-major panel packs its slice into bp.
    @inline(__always)
    func packInput(_ q: Int, _ cols: PanelColumns, mask: TapMask, bp: UnsafeMutablePointer<Float>,
                   xT: UnsafeMutablePointer<Float>) {
        if s.pixelMajor && q % s.panelsPerUnit == 0 {
            let n0 = (q / s.panelsPerUnit) * panelWidth, cp = cin * g.height * g.width
            transposeToPixelChannel(x + n0 * cp, count: min(panelWidth, g.batch - n0), stride: cp, channels: cin,
                                    plane: g.height * g.width, xT)
        }
        if let phaseLayout, q % s.panelsPerUnit == 0 {
            phaseLayout.build(x + (q / s.panelsPerUnit) * cin * g.height * g.width, xT)
        }
        if !s.pixelMajor {
            packPanel(x, s, cols, q: q, mask: mask, into: bp, phase: phaseLayout.map { ($0, UnsafePointer(xT)) })
        }
    }

    /// The panel's runs of taps its mask holds, as (first, end) index pairs into `s.taps`: consecutive
    /// taps, for a pixel-major panel also consecutive in one kernel row (one run of its xT rows). Found
    /// once a panel: scanned again for each output panel, the scan was a quarter of a stem's product.
    func tapRuns(_ mask: TapMask, into runs: UnsafeMutablePointer<Int>) -> Int {
        let taps = s.taps
        var u = 0, count = 0
        while u < taps.count {
            guard mask.contains(taps[u]) else { u += 1; continue }
            var v = u + 1
            while v < taps.count && mask.contains(taps[v])
                    && (!s.pixelMajor || (taps[v] == taps[v - 1] + 1 && taps[v] / g.kernelW == taps[u] / g.kernelW)) { v += 1 }
            runs[2 * count] = u; runs[2 * count + 1] = v; count += 1
            u = v
        }
        return count
    }

    /// Compute: tile = output channels mp·8 ..< mp·8 + 8 of panel q, one tile product per run of
    /// consecutive valid taps (`tapRuns`; pixel-major: within a kernel row, read in place from xT).
    @inline(__always)
    func product(_ q: Int, _ mp: Int, runs: UnsafePointer<Int>, count: Int, bp: UnsafeMutablePointer<Float>,
                 xT: UnsafeMutablePointer<Float>, tile: UnsafeMutablePointer<Float>) {
        let taps = s.taps
        var brow = 0
        for r in 0..<count {
            let u = runs[2 * r], v = runs[2 * r + 1]
            let b: UnsafePointer<Float>
            if s.pixelMajor {
                // Pixel-major only: image-major panels never read these (computed per tile for them, they were a tenth of a 1×1 conv's time).
                let pix = q % s.panelsPerUnit, ow = s.outW
                let iy0 = (pix / ow) * g.stride - g.padding, ix0 = (pix % ow) * g.stride - g.padding
                let t = taps[u], e = (iy0 + t / g.kernelW) * g.width + ix0 + t % g.kernelW
                b = UnsafePointer(xT + e * cin * panelWidth)
            } else {
                b = UnsafePointer(bp + brow * panelWidth)
            }
            microTile((v - u) * cin, packedA + mp * ku * mr + u * cin * mr, b, tile, accumulate: r > 0)
            brow += (v - u) * cin
        }
        if count == 0 { tile.update(repeating: 0, count: mr * panelWidth) }
    }

    /// Store: the tile's rows plus bias (and the epilogue) into y, or into yT for a pixel-major unit.
    @inline(__always)
    func store(_ q: Int, _ mp: Int, _ cols: PanelColumns, tile: UnsafeMutablePointer<Float>, yT: UnsafeMutablePointer<Float>) {
        let contiguousOut = !s.pixelMajor && cols.count == panelWidth
        for r in 0..<min(mr, cout - mp * mr) {
            let co = mp * mr + r, bv = bias?[co] ?? 0, trow = tile + r * panelWidth, yc = y + co * p
            if s.pixelMajor {
                // 32 images of one (channel, pixel); a residual is added after the transpose back.
                let d = yT + (co * p + q % s.panelsPerUnit) * panelWidth, b = SIMD16<Float>(repeating: bv)
                for half in 0..<2 {
                    var v = load16(trow + 16 * half) + b
                    if let e = epilogue {
                        v = v * SIMD16<Float>(repeating: e.scale[co]) + SIMD16<Float>(repeating: e.shift[co])
                        if e.relu && e.residual == nil { v = v.replacing(with: SIMD16<Float>(), where: v .< SIMD16<Float>()) }
                    }
                    store16(v, d + 16 * half)
                }
            } else if let e = epilogue, contiguousOut {
                // 32 consecutive pixels of one channel: bias, the epilogue's map (+ residual) (+ ReLU) in
                // registers, the float operations of `ConvEpilogue.apply` after the biased store.
                let d = yc + cols.yOff[0], b = SIMD16<Float>(repeating: bv)
                let sc = SIMD16<Float>(repeating: e.scale[co]), sh = SIMD16<Float>(repeating: e.shift[co])
                let res = e.residual.map { $0 + co * p + cols.yOff[0] }
                for half in 0..<2 {
                    store16(e.mapped(load16(trow + 16 * half) + b, sc, sh, residual: res.map { $0 + 16 * half }), d + 16 * half)
                }
            } else if let e = epilogue {
                // Eval-mode batch norm (+ residual) (+ ReLU) on the way out, as the separate passes compute it.
                let sc = e.scale[co], sh = e.shift[co], res = e.residual.map { $0 + co * p }
                for j in 0..<cols.count {
                    var v = (trow[j] + bv) * sc + sh
                    if let res { v = v + res[cols.yOff[j]] }
                    if e.relu && v < 0 { v = 0 }
                    yc[cols.yOff[j]] = v
                }
            } else if contiguousOut {
                // Image-major: the panel's 32 outputs are consecutive pixels of one channel plane.
                let d = yc + cols.yOff[0], b = SIMD16<Float>(repeating: bv)
                store16(load16(trow) + b, d); store16(load16(trow + 16) + b, d + 16)
            } else {
                for j in 0..<cols.count { yc[cols.yOff[j]] = trow[j] + bv }
            }
        }
    }

    /// Store a complete pixel-major unit: yT transposed back into its images of y, then the epilogue's
    /// residual (and ReLU), the unit's images being one contiguous run of y laid out as the residual.
    @inline(__always)
    func storeUnit(_ unit: Int, yT: UnsafeMutablePointer<Float>) {
        let n0 = unit * panelWidth, count = min(panelWidth, g.batch - n0), len = cout * p
        transposeBlockOut(yT, count: count, stride: len, len: len, y + n0 * len)
        if let e = epilogue, let res = e.residual {
            let d = y + n0 * len, rs = res + n0 * len, total = count * len
            var i = 0
            while i + 16 <= total {
                var v = load16(d + i) + load16(rs + i)
                if e.relu { v = v.replacing(with: SIMD16<Float>(), where: v .< SIMD16<Float>()) }
                store16(v, d + i); i += 16
            }
            while i < total { var v = d[i] + rs[i]; if e.relu && v < 0 { v = 0 }; d[i] = v; i += 1 }
        }
    }
}

/// What `convForward` can apply to each output on its way out (inference): a per-channel affine map
/// (eval-mode batch norm folded to scale and shift), then an added tensor of y's shape (a residual),
/// then ReLU — the same float operations, in the same order, as the separate passes.
public struct ConvEpilogue {
    public var scale: UnsafePointer<Float>, shift: UnsafePointer<Float>
    public var residual: UnsafePointer<Float>?
    public var relu: Bool
    public init(scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, residual: UnsafePointer<Float>? = nil, relu: Bool) {
        self.scale = scale; self.shift = shift; self.residual = residual; self.relu = relu
    }

    /// The same map as a separate pass over an NCHW tensor.
    func apply(_ y: UnsafeMutablePointer<Float>, batch: Int, channels: Int, plane: Int) {
        Parallel.forEach(batch * channels, grain: max(1, 16384 / max(1, plane))) { nc in
            apply(y + nc * plane, count: plane, channel: nc % channels, offset: nc * plane)
        }
    }

    /// The map on a row of one output pixel's `channels` channels (a one-pixel conv's [n][co] output),
    /// `offset` floats into y and the residual: the channels' scales and shifts as vectors.
    func apply(row d: UnsafeMutablePointer<Float>, channels: Int, offset: Int) {
        map(d, count: channels, offset: offset, channel: 0, perValue: true)
    }

    /// The map on `count` consecutive outputs d of channel `channel`, `offset` floats into y (and into
    /// the residual), 16 at a time: as a scalar loop it cost more than the conv it followed (ResNet-20's
    /// stem at batch 256: 12 ms after a 1 ms conv).
    @inline(__always)
    func apply(_ d: UnsafeMutablePointer<Float>, count: Int, channel: Int, offset: Int) {
        map(d, count: count, offset: offset, channel: channel, perValue: false)
    }

    /// One vector of the map: v·scale + shift, then plus the residual's 16 floats at `r`, then ReLU.
    @inline(__always)
    func mapped(_ v: SIMD16<Float>, _ scale: SIMD16<Float>, _ shift: SIMD16<Float>, residual r: UnsafePointer<Float>?) -> SIMD16<Float> {
        var v = v * scale + shift
        if let r { v = v + load16(r) }
        if relu { v = v.replacing(with: SIMD16<Float>(), where: v .< SIMD16<Float>()) }
        return v
    }

    /// The two above: value i of d is channel `channel` + i (`perValue`) or channel `channel`.
    @inline(__always)
    private func map(_ d: UnsafeMutablePointer<Float>, count: Int, offset: Int, channel: Int, perValue: Bool) {
        let sc = SIMD16<Float>(repeating: scale[channel]), sh = SIMD16<Float>(repeating: shift[channel])
        let res = residual.map { $0 + offset }
        var i = 0
        while i + 16 <= count {
            let (s, h) = perValue ? (load16(scale + channel + i), load16(shift + channel + i)) : (sc, sh)
            store16(mapped(load16(d + i), s, h, residual: res.map { $0 + i }), d + i); i += 16
        }
        while i < count {
            let c = perValue ? channel + i : channel
            var v = d[i] * scale[c] + shift[c]
            if let res { v = v + res[i] }
            if relu && v < 0 { v = 0 }
            d[i] = v; i += 1
        }
    }
}

/// Whether `directConv*` handles this geometry (and is expected to beat the panel GEMM).
func directConvApplies(_ g: ConvGeometry) -> Bool {
    g.stride == 1 && g.outW <= 32 && g.outW >= 5 && g.inChannels * g.kernelH * g.kernelW <= 512
        && g.outChannels <= 64 && g.kernelW <= 8
}

/// Forward of a stride-1 convolution by the direct method (see `directConvApplies`): per image,
/// y[co][p] = bias[co] + Σ_d W[co][d] · S[offset(d) + p] as 8×32 (and a last 8×16) tiles whose B rows
/// are read in place from the shifted copies. LeNet-5's conv2 uses 89 % of the lanes (rows padded to 16: 62 %).
/// Six output channels (LeNet-5's conv1) go in 6×64 tiles: 8-row tiles would waste a quarter of the FMAs.
func directConvForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                       geometry g: ConvGeometry, y: UnsafeMutablePointer<Float>, epilogue: ConvEpilogue? = nil) {
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
                        if let epilogue {
                            for r in 0..<6 {
                                let co = cb * 6 + r
                                epilogue.apply(dst + r * p, count: width, channel: co, offset: (n * cout + co) * p + c0)
                            }
                        }
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
                        epilogue?.apply(dst, count: width, channel: co, offset: (n * cout + co) * p + c0)
                    }
                    c0 += 32
                }
            }
        }
    }
}

/// Six zeros: the bias of a 6-row tile when the conv has none.
nonisolated(unsafe) private let zeroBias: UnsafePointer<Float> = {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: 6); p.initialize(repeating: 0, count: 6); return UnsafePointer(p)
}()
