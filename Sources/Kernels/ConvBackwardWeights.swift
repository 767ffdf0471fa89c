import Foundation

// The weight gradient of a convolution, dW[t][co][c] = Σ_(n,p) dy[n][co][p] · x[n][c][p + t] (W tap-major,
// `ConvWeights`), and the bias gradient dB[co] = Σ_(n,p) dy[n][co][p].
//
// The paths; the first whose condition holds is taken:
//
// | path                                  | condition                                              | e.g.                  |
// |---------------------------------------|--------------------------------------------------------|-----------------------|
// | convWeightGradientThroughMaxPool      | the caller's choice (`Conv2d.backward(throughPool:)`): | LeNet-5 conv1         |
// |   (from the pool's gradient, not dy)  | a conv needing no dx, then ReLU and a max pool;        |                       |
// |                                       | `convThroughPoolApplies` (stride 1, 5×5)               |                       |
// | *convBackwardWeights:*                |                                                        |                       |
// | the subsampled conv's dW, through     | `ConvGeometry.subsampled`: 1×1, stride > 1, padding 0  | ResNet-18 projections |
// |   this table again                    |                                                        |                       |
// | singlePixelBackwardWeights            | `singlePixelTap`: one pixel in, one out (a 1×1 map)    | ResNet-50 layer4 at   |
// |   (ConvSinglePixel.swift): the GEMM   |                                                        |   32×32 inputs        |
// | oneByOneBackwardWeights (ConvOneByOne | `oneByOneProducts`: 1×1, stride 1, padding 0,          | ResNet-50 224 1×1s    |
// |   .swift): a GEMM per image           | >= 196 pixels a plane, >= 64 channels a side           |                       |
// | conv3x3BackwardWeights (Conv3x3.swift)| `conv3x3WeightsApply`: `conv3x3Applies`, channels in   | ResNet-20 layer1-3,   |
// |                                       | whole vectors of 16 (4×4 maps: `singleTilesApply`)     | ResNet-18 layer1-2    |
// | stridedWeightGradient                 | `stridedWeightsApply`: 3×3, stride 2, padding 1, Cin   | ResNet-20 layer2.0,   |
// |                                       | 16 or 32, Cout 16-128 in vectors of 16                 |   layer3.0 conv1      |
// | directConvBackwardWeightsOuter        | `directConvApplies` and `directConvOuterApplies`       | LeNet-5 conv2         |
// |                                       | (5×5, Cout a multiple of 16)                           |                       |
// | directConvBackwardWeights             | `directConvApplies`, otherwise, but not 1×1            | LeNet-5 conv1 without |
// |                                       |                                                        |   its pool fused      |
// | none: dW = 0                          | no tap reaches the image                               |                       |
// | convBackwardWeightsDot                | Cin < 32 and image-major panels (`ConvPanels`)         | ResNet-18 stem        |
// | convBackwardWeightsBlocked            | otherwise                                              | ResNet-18 layer1-4    |
//
// Results depend on the thread count only through the fixed order in which per-chunk partial sums are
// added (the blocked path has none).

/// dWeight (and dBias) of `convForward`, overwritten. dW's blocks for taps no output reaches are
/// zeroed, unless `idleTapsZeroed` says the caller's last backward of this geometry left them so.
public func convBackwardWeights(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, geometry g: ConvGeometry,
                                dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>?,
                                idleTapsZeroed: Bool = false) {
    if let sg = g.subsampled {
        let xs = ScratchPool.shared.take(sg.batch * sg.inChannels * sg.height * sg.width + 16)
        defer { ScratchPool.shared.give(xs) }
        subsample(x, g, into: xs.0)
        convBackwardWeights(dy: dy, x: xs.0, geometry: sg, dWeight: dWeight, dBias: dBias, idleTapsZeroed: idleTapsZeroed)
        return
    }
    if let dBias { biasGradient(dy: dy, g, dBias: dBias) }
    if let tap = singlePixelTap(g) {
        if !idleTapsZeroed { zeroIdleTaps(dWeight, g) { $0 == tap } }
        singlePixelBackwardWeights(dy: dy, x: x, geometry: g, tap: tap, dWeight: dWeight)
        return
    }
    if oneByOneProducts(g, .weightGradient) != nil {
        oneByOneBackwardWeights(dy: dy, x: x, geometry: g, dWeight: dWeight)
        return
    }
    if conv3x3WeightsApply(g) {
        conv3x3BackwardWeights(dy: dy, x: x, geometry: g, dWeight: dWeight)
        return
    }
    if stridedWeightsApply(g) {
        stridedWeightGradient(dy: dy, x: x, geometry: g, dWeight: dWeight)
        return
    }
    // Not a 1×1's: its dot products over whole planes lost to the panels' tiles from 64 input channels
    // up (ResNet-50's and GoogLeNet's 1×1 convs on 8×8 maps; BENCHMARKS.md, stop 37).
    if directConvApplies(g) && g.kernelH * g.kernelW > 1 {
        if directConvOuterApplies(g) { directConvBackwardWeightsOuter(dy: dy, x: x, geometry: g, dWeight: dWeight) }
        else { directConvBackwardWeights(dy: dy, x: x, geometry: g, dWeight: dWeight) }
        return
    }
    let s = ConvPanels(g), cin = g.inChannels
    if !idleTapsZeroed { zeroIdleTaps(dWeight, g) { s.taps.contains($0) } }
    if s.taps.isEmpty { return }
    // Few input channels on large maps waste fewer lanes as dot products along the image's pixels.
    if cin < panelWidth && !s.pixelMajor {
        convBackwardWeightsDot(dy: dy, x: x, s, dWeight: dWeight)
    } else {
        convBackwardWeightsBlocked(dy: dy, x: x, s, dWeight: dWeight)
    }
}

/// dW's blocks of the taps `active` says no output reaches, zeroed (tap-major W: a block per tap).
private func zeroIdleTaps(_ dWeight: UnsafeMutablePointer<Float>, _ g: ConvGeometry, active: (Int) -> Bool) {
    let block = g.outChannels * g.inChannels
    for t in 0..<(g.kernelH * g.kernelW) where !active(t) { (dWeight + t * block).update(repeating: 0, count: block) }
}

/// Whether `stridedWeightGradient` takes this geometry: a 3×3 conv of stride 2 and padding 1 (a ResNet's
/// downsampling conv) with 16 or 32 input and 16 to 128 output channels in whole vectors of 16. (64 → 128
/// at 8×8, ResNet-18's on MNIST, ran slower than the blocked path: 16 outputs an image are too short a sum
/// per register tile. Figures in BENCHMARKS.md.)
func stridedWeightsApply(_ g: ConvGeometry) -> Bool {
    g.kernelH == 3 && g.kernelW == 3 && g.stride == 2 && g.padding == 1 && !g.ceilMode
        && g.inChannels % 16 == 0 && g.inChannels <= 32 && g.outChannels % 16 == 0 && g.outChannels <= 128
}

/// dW of a stride-2 3×3 conv as outer products over the output pixels, with no im2col: each image is laid
/// out channels-last inside its zero border (xP[(h + 2)·(w + 2)][Cin]) and its dy channels-last
/// (dyT[pixel][Cout]); then per tap, 8 output channels and 16 input channels, one 8×16 register tile sums
/// dy's pixels in order times x's every other pixel. Each task sums its images; the sums are added in task
/// order. (The dot-product path packed a 144-row im2col panel per 32 outputs: twice the time at 16 → 32.)
private func stridedWeightGradient(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, geometry g: ConvGeometry,
                                   dWeight: UnsafeMutablePointer<Float>) {
    let cin = g.inChannels, cout = g.outChannels, h = g.height, w = g.width, oh = g.outH, ow = g.outW
    let pw = w + 2, padded = (h + 2) * pw * cin, dyLen = oh * ow * cout, wLen = 9 * cout * cin
    let perTask = (padded + dyLen + wLen + 15) / 16 * 16
    let tasks = Parallel.chunkCount(g.batch, grain: 1)
    let buf = ScratchPool.shared.take(tasks * perTask + 16)
    defer { ScratchPool.shared.give(buf) }
    Parallel.run(tasks) { task in
        let xp = buf.0 + task * perTask, dyt = xp + padded, sums = dyt + dyLen
        // The border stays zero; each image overwrites the interior.
        zeroFloats(xp, padded); zeroFloats(sums, wLen)
        for n in (g.batch * task / tasks)..<(g.batch * (task + 1) / tasks) {
            let xn = x + n * cin * h * w
            for iy in 0..<h {
                transposeBlockIn(xn + iy * w, count: cin, stride: h * w, len: w, xp + ((iy + 1) * pw + 1) * cin,
                                 dstStride: cin, lanes: cin)
            }
            transposeBlockIn(dy + n * cout * oh * ow, count: cout, stride: oh * ow, len: oh * ow, dyt, dstStride: cout, lanes: cout)
            for t in 0..<9 {
                // Output pixel (oy, ox) meets bordered pixel (2·oy + ky, 2·ox + kx).
                let first = xp + ((t / 3) * pw + t % 3) * cin
                for o0 in Swift.stride(from: 0, to: cout, by: 8) {
                    for c0 in Swift.stride(from: 0, to: cin, by: 16) {
                        outerTile8x16(rows: oh, columns: ow, dyt + o0, aRow: ow * cout, aColumn: cout,
                                      first + c0, bRow: 2 * pw * cin, bColumn: 2 * cin, sums + (t * cout + o0) * cin + c0, ldc: cin)
                    }
                }
            }
        }
    }
    Parallel.forEach((wLen + 255) / 256, grain: 1) { chunk in
        for i in (chunk * 256)..<min(wLen, (chunk + 1) * 256) {
            var acc = buf.0[padded + dyLen + i]
            for task in 1..<max(1, tasks) { acc += buf.0[task * perTask + padded + dyLen + i] }
            dWeight[i] = acc
        }
    }
}

/// dB[co] = Σ over images and pixels of dy[n][co][.].
private func biasGradient(dy: UnsafePointer<Float>, _ g: ConvGeometry, dBias: UnsafeMutablePointer<Float>) {
    let cout = g.outChannels, p = g.outH * g.outW
    Parallel.forEach(cout, grain: max(1, 16384 / max(1, g.batch * p))) { co in
        var acc = SIMD16<Float>(), tail: Float = 0
        for n in 0..<g.batch {
            let src = dy + (n * cout + co) * p
            var i = 0
            while i + 16 <= p { acc += load16(src + i); i += 16 }
            while i < p { tail += src[i]; i += 1 }
        }
        dBias[co] = hsum(acc) + tail
    }
}

/// dW for convs of 32 input channels or more, as the 8×32 microkernel over (output pixel, image):
/// the batch's input and dy are first laid out channel-blocked with the image innermost,
/// xB[cPanel][pixel][n][32 channels] and dyB[coPanel][pixel][n][8 channels]. For tap t, the k rows
/// (p, n) of dyB then line up with the rows (p + offset(t), n) of xB, a whole output row's run at once
/// (strided, xB's columns in phase order), so both operands are read in place and only taps inside the image are
/// multiplied (at stride 1 on wide rows each work item lays out its own panels one row at a time, the
/// same layout). Each (8 output channels, 32 input channels, tap) tile sums its rows in order and is written
/// straight into dW: no per-thread partial sums, and the same additions in the same order for any thread
/// count (work items group tiles, below).
private func convBackwardWeightsBlocked(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, _ s: ConvPanels,
                                        dWeight: UnsafeMutablePointer<Float>) {
    let g = s.g, n = g.batch, cin = g.inChannels, cout = g.outChannels
    let pout = g.outH * g.outW
    let cPanels = (cin + panelWidth - 1) / panelWidth, coPanels = (cout + mr - 1) / mr
    // At stride 1 on rows of 16 pixels or more each work item lays out the rows it multiplies itself
    // (below); otherwise the operands are laid out whole first. Rows under 16 pixels are transposed one
    // float at a time, and 14×14 and 7×7 maps took 1.4-1.7× as long laid out per item (BENCHMARKS.md).
    let inItems = g.stride == 1 && g.outW >= 16
    // Strided: each input row's columns in phase order, column ix at (ix % stride)·phaseW + ix / stride, so a
    // tap's columns for consecutive outputs are one run too, as deep a tile product as at stride 1 (one
    // pixel's images at a time, 16 rows at batch 16, cost ResNet-50's stride-2 3×3s 5-10 %; BENCHMARKS.md).
    let st = g.stride, phaseW = (g.width + st - 1) / st, rowLen = st * phaseW
    let xSize = inItems ? 0 : cPanels * g.height * rowLen * n * panelWidth, dySize = inItems ? 0 : coPanels * pout * n * mr
    let buf = ScratchPool.shared.take(xSize + dySize + 16)
    defer { ScratchPool.shared.give(buf) }
    let xB = buf.0, dyB = buf.0 + xSize
    if !inItems { layOutWhole(dy: dy, x: x, g, xB: xB, dyB: dyB) }
    // Work items: a group of 8-channel output panels by a group of 32-channel input panels, with one tile
    // per (panel pair, tap) kept in a buffer while the item walks the output rows. A row's dy runs and the
    // input rows its taps reach stay in L2 while every tile of the group takes them; one tile at a time
    // over the whole depth streamed both panels from memory once per tile and tap (BENCHMARKS.md).
    let rowK = g.outW * n, taps = s.taps, nt = taps.count
    let (coGroup, cGroup) = blockedWeightGroups(coPanels: coPanels, cPanels: cPanels, rowK: rowK, kernelRows: g.kernelH,
                                                    taps: nt)
    let coItems = (coPanels + coGroup - 1) / coGroup, cItems = (cPanels + cGroup - 1) / cGroup
    let tileFloats = mr * panelWidth, tileSpan = coGroup * cGroup * nt * tileFloats
    // In-item layout: the item's dy panels for one output row, [panel][column][n][8], and a ring of the
    // last kernelH input rows of its x panels, [panel][row % kernelH][column][n][32].
    let dyRow = g.outW * n * mr, xRow = g.width * n * panelWidth
    let itemFloats = tileSpan + (inItems ? coGroup * dyRow + cGroup * g.kernelH * xRow : 0)
    let tasks = Parallel.chunkCount(coItems * cItems, grain: 1)
    let tileBuffers = ScratchPool.shared.take(tasks * itemFloats + 16)
    defer { ScratchPool.shared.give(tileBuffers) }
    // The output rows and columns each tap reaches inside the image (a tap in `s.taps` reaches some).
    func reach(_ k: Int, _ outSize: Int, _ size: Int) -> Range<Int> {
        let inside = (0..<outSize).filter { o in let i = o * g.stride - g.padding + k; return i >= 0 && i < size }
        return inside.isEmpty ? 0..<0 : inside.first!..<(inside.last! + 1)
    }
    let rowsOf = taps.map { reach($0 / g.kernelW, g.outH, g.height) }, colsOf = taps.map { reach($0 % g.kernelW, g.outW, g.width) }
    // Pixels a few at a time (`blockedWeightDepth` rows of both operands), so that every tile of the group
    // takes them from L1. They are one run of rows in both operands.
    let pixels = max(1, blockedWeightDepth / n)
    Parallel.dynamic(coItems * cItems, tasks: tasks) { task, item in
        let tiles = tileBuffers.0 + task * itemFloats, dyL = tiles + tileSpan, xL = dyL + coGroup * dyRow
        let cp0 = item / cItems * coGroup, cp1 = min(coPanels, cp0 + coGroup)
        let kp0 = item % cItems * cGroup, kp1 = min(cPanels, kp0 + cGroup)
        // Tile (cp, kp, u) at ((cp - cp0) · cGroup + kp - kp0) · nt + u; each sums its rows in order.
        @inline(__always) func tile(_ cp: Int, _ kp: Int, _ u: Int) -> UnsafeMutablePointer<Float> {
            tiles + (((cp - cp0) * cGroup + kp - kp0) * nt + u) * tileFloats
        }
        tiles.initialize(repeating: 0, count: tileSpan)
        var lastRow = -1
        for oy in 0..<g.outH {
            if inItems {
                layOutRows(dy: dy, x: x, g, oy: oy, lastRow: &lastRow, cp0..<cp1, kp0..<kp1, dyL: dyL, xL: xL)
            }
            for (u, t) in taps.enumerated() where rowsOf[u].contains(oy) {
                let iy = oy * g.stride - g.padding + t / g.kernelW, kj = t % g.kernelW
                let ox0 = colsOf[u].lowerBound, ox1 = colsOf[u].upperBound
                var ox = ox0
                while ox < ox1 {
                    let end = min(ox1, ox + pixels), ix = ox * g.stride - g.padding + kj
                    for kp in kp0..<kp1 {
                        let b = inItems ? xL + ((kp - kp0) * g.kernelH + iy % g.kernelH) * xRow + ix * n * panelWidth
                                        : xB + ((kp * g.height + iy) * rowLen + ix % st * phaseW + ix / st) * n * panelWidth
                        for cp in cp0..<cp1 {
                            let a = inItems ? dyL + (cp - cp0) * dyRow + ox * n * mr
                                            : dyB + (cp * pout + oy * s.outW + ox) * n * mr
                            microTile((end - ox) * n, a, b, tile(cp, kp, u), accumulate: true)
                        }
                    }
                    ox = end
                }
            }
        }
        // Each tile row is a contiguous run of dW (tap-major): W[t][co][c0 ..< c0 + channels].
        for cp in cp0..<cp1 {
            for kp in kp0..<kp1 {
                let channels = min(panelWidth, cin - kp * panelWidth)
                for u in 0..<nt {
                    for r in 0..<min(mr, cout - cp * mr) {
                        copyFloats(dWeight + (taps[u] * cout + cp * mr + r) * cin + kp * panelWidth,
                                   tile(cp, kp, u) + r * panelWidth, channels)
                    }
                }
            }
        }
    }
}

/// Both operands laid out whole before the work items: xB[cPanel][row][column (in phase order when
/// strided)][n][32] and dyB[coPanel][pixel][n][8]. Each (panel, image) is a small block transpose
/// ([channels][pixels] -> [pixels][channels]).
private func layOutWhole(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, _ g: ConvGeometry,
                         xB: UnsafeMutablePointer<Float>, dyB: UnsafeMutablePointer<Float>) {
    let n = g.batch, cin = g.inChannels, cout = g.outChannels, pin = g.height * g.width, pout = g.outH * g.outW
    let cPanels = (cin + panelWidth - 1) / panelWidth, coPanels = (cout + mr - 1) / mr
    let st = g.stride, phaseW = (g.width + st - 1) / st, rowLen = st * phaseW
    Parallel.forEach(cPanels * n, grain: max(1, 4096 / max(1, pin * panelWidth))) { i in
        let kp = i / n, img = i % n, c0 = kp * panelWidth, count = min(panelWidth, cin - c0)
        let src = x + (img * cin + c0) * pin, dst = xB + (kp * g.height * rowLen * n + img) * panelWidth
        if st == 1 {
            transposeBlockIn(src, count: count, stride: pin, len: pin, dst, dstStride: n * panelWidth)
            return
        }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: g.width * panelWidth) { row in
            for iy in 0..<g.height {
                transposeBlockIn(src + iy * g.width, count: count, stride: pin, len: g.width, row.baseAddress!)
                for ix in 0..<g.width {
                    copyFloats(dst + (iy * rowLen + ix % st * phaseW + ix / st) * n * panelWidth,
                               row.baseAddress! + ix * panelWidth, panelWidth)
                }
            }
        }
    }
    // Two panels of 8 output channels at a time, 16 pixels through a register transpose (one float at a
    // time, this was a third of a 1×1 conv's weight gradient at 56×56).
    let pairs = (coPanels + 1) / 2
    Parallel.forEach(pairs * n, grain: max(1, 4096 / max(1, pout * 2 * mr))) { i in
        let pair = i / n, img = i % n, co0 = pair * 2 * mr, d0 = dyB + (2 * pair * pout * n + img) * mr
        transposeRowsToPanels(dy + (img * cout + co0) * pout, count: min(2 * mr, cout - co0), stride: pout, len: pout,
                              d0, 2 * pair + 1 < coPanels ? d0 + pout * n * mr : nil, dstStride: n * mr)
    }
}

/// A stride-1 work item's operands for output row `oy`: its dy panels' row into dyL ([panel][column][n][8])
/// and every input row up to the last that row's taps reach (`lastRow` says which are in already) into
/// the ring xL ([panel][row % kernelH][column][n][32]). Each is read from NCHW once per item: laid out
/// whole first, both went to memory and back (BENCHMARKS.md).
private func layOutRows(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, _ g: ConvGeometry, oy: Int, lastRow: inout Int,
                        _ coPanels: Range<Int>, _ cPanels: Range<Int>, dyL: UnsafeMutablePointer<Float>,
                        xL: UnsafeMutablePointer<Float>) {
    let n = g.batch, cin = g.inChannels, cout = g.outChannels, ow = g.outW, pout = g.outH * ow, pin = g.height * g.width
    let dyRow = ow * n * mr, xRow = g.width * n * panelWidth
    // Two panels of 8 output channels at a time through a 16×16 register transpose.
    for pair in stride(from: coPanels.lowerBound, to: coPanels.upperBound, by: 2) {
        let co0 = pair * mr, count = min(2 * mr, cout - co0), second = pair + 1 < coPanels.upperBound
        let d0 = dyL + (pair - coPanels.lowerBound) * dyRow, d1 = d0 + dyRow
        for img in 0..<n {
            transposeRowsToPanels(dy + (img * cout + co0) * pout + oy * ow, count: count, stride: pout, len: ow,
                                  d0 + img * mr, second ? d1 + img * mr : nil, dstStride: n * mr)
        }
    }
    let last = min(g.height - 1, oy - g.padding + g.kernelH - 1)
    while lastRow < last {
        lastRow += 1
        for kp in cPanels {
            let c0 = kp * panelWidth, dst = xL + ((kp - cPanels.lowerBound) * g.kernelH + lastRow % g.kernelH) * xRow
            for img in 0..<n {
                transposeBlockIn(x + (img * cin + c0) * pin + lastRow * g.width, count: min(panelWidth, cin - c0), stride: pin,
                                 len: g.width, dst + img * panelWidth, dstStride: n * panelWidth)
            }
        }
    }
}

/// Rows of depth `convBackwardWeightsBlocked` gives each tile at a time.
let blockedWeightDepth = 128

/// Output and input panels per work item of `convBackwardWeightsBlocked`: as many as keep one output
/// row's dy (`rowK` rows of 8 floats a panel) within 256 KB, the input rows its taps reach (32 floats a
/// panel) within 512 KB and the item's tiles within 256 KB, so all three stay in L2 while the item walks
/// the rows; and at least two items a thread. Until then it halves the larger group (halving the one
/// whose split rereads fewer bytes measured slower on ResNet-50's 256 → 64 and 512 → 128 1×1 convs).
func blockedWeightGroups(coPanels: Int, cPanels: Int, rowK: Int, kernelRows: Int, taps: Int) -> (Int, Int) {
    var coGroup = min(coPanels, max(1, (256 << 10) / (rowK * mr * 4)))
    var cGroup = min(cPanels, max(1, (512 << 10) / (kernelRows * rowK * panelWidth * 4)))
    func items(_ panels: Int, _ group: Int) -> Int { (panels + group - 1) / group }
    let wanted = 2 * Parallel.chunkCount(coPanels * cPanels, grain: 1), tileBytes = mr * panelWidth * 4
    while coGroup > 1 || cGroup > 1 {
        let fits = coGroup * cGroup * taps * tileBytes <= 256 << 10
        if fits && items(coPanels, coGroup) * items(cPanels, cGroup) >= wanted { break }
        if coGroup >= cGroup && coGroup > 1 { coGroup = (coGroup + 1) / 2 } else { cGroup = (cGroup + 1) / 2 }
    }
    return (coGroup, cGroup)
}

/// dW[taps[u]][co][c] = Σ_chunks partial[chunk][co·rowStride + u·Cin + c] (chunks added in order),
/// 16 channels at a time; the caller zeroes the taps never used.
private func reducePartials(_ partials: UnsafePointer<Float>, chunks: Int, partialSize: Int, rowStride: Int,
                            _ s: ConvPanels, dWeight: UnsafeMutablePointer<Float>) {
    let g = s.g, cout = g.outChannels, cin = g.inChannels, taps = s.taps
    let ku = s.kUsed
    Parallel.forEach(cout, grain: max(1, 8192 / max(1, ku * chunks))) { co in
        for u in 0..<taps.count {
            let w = dWeight + (taps[u] * cout + co) * cin, base = partials + co * rowStride + u * cin
            var c = 0
            while c + 16 <= cin {
                var v = load16(base + c)
                for ch in 1..<max(1, chunks) { v += load16(base + ch * partialSize + c) }
                store16(v, w + c)
                c += 16
            }
            while c < cin {
                var v = base[c]
                for ch in 1..<max(1, chunks) { v += base[ch * partialSize + c] }
                w[c] = v
                c += 1
            }
        }
    }
}

/// dW for image-major panels, as dot products along the columns: the panels are packed exactly as
/// the forward pass packs them ([k][32 columns], every used tap) next to the matching dy rows
/// ([co][32 columns]); a 4×4 block of dW accumulates 16 vectors over a group of panels (8 B rows and
/// 8 dy rows loaded per 32 FMAs), then each vector is summed once per group.
private func convBackwardWeightsDot(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, _ s: ConvPanels,
                                    dWeight: UnsafeMutablePointer<Float>) {
    let g = s.g, cout = g.outChannels, cin = g.inChannels, ku = s.kUsed, p = s.pixels
    let taps = s.taps
    let ku4 = (ku + 3) / 4 * 4, cout4 = (cout + 3) / 4 * 4
    let partialSize = cout4 * ku4
    let allTaps = TapMask(taps)
    let phaseLayout = PhaseLayout(s)
    // Panels one cache line further apart than their size: a panel of B (ku4 × 128 bytes) or of dy is
    // often a multiple of 4 KB, and dot4x4 reading the same rows of 16 such panels would then map them
    // all to the same L1 sets (16 ways wanted, 12 there): layer1's dW ran from L2.
    let bPanel = ku4 * panelWidth + 16, dPanel = cout4 * panelWidth + 16
    // Panels summed before each 4×4 block's 16 horizontal sums: as many as keep the group's B panels
    // within 512 KB of L2, 16 to 64. With 16 always, ResNet-18's 7×7 stem (64 a group now) took a third
    // longer (BENCHMARKS.md, stop 37).
    let group = max(16, min(64, (1 << 17) / bPanel))
    let scratch = group * (bPanel + dPanel) + (phaseLayout?.size ?? 0)
    let partialBuf = ScratchPool.shared.take(Parallel.maxThreads * partialSize + 16)
    defer { ScratchPool.shared.give(partialBuf) }
    let chunks = unitChunks(s, workPerUnit: s.panelsPerUnit * ku * cout / 8, scratch: scratch, dynamic: false) { c, units, buf in
        var cols = PanelColumns(buf)
        let bBuf = (buf + PanelColumns.bytes + 63).alignedDown(toMultipleOf: 64).bindMemory(to: Float.self, capacity: scratch)
        let dBuf = bBuf + group * bPanel, phaseBuf = dBuf + group * dPanel
        var phaseImage = -1
        let partial = partialBuf.0 + c * partialSize
        partial.update(repeating: 0, count: partialSize)
        let first = units.lowerBound * s.panelsPerUnit, last = units.upperBound * s.panelsPerUnit
        var q0 = first
        while q0 < last {
            let q1 = min(last, q0 + group), gCount = q1 - q0
            for q in q0..<q1 {
                _ = cols.load(q, s)
                let bp = bBuf + (q - q0) * bPanel, dp = dBuf + (q - q0) * dPanel
                if let phaseLayout, q / s.panelsPerUnit != phaseImage {
                    phaseImage = q / s.panelsPerUnit
                    phaseLayout.build(x + phaseImage * cin * g.height * g.width, phaseBuf)
                }
                packPanel(x, s, cols, q: q, mask: allTaps, into: bp, phase: phaseLayout.map { ($0, UnsafePointer(phaseBuf)) })
                (bp + ku * panelWidth).update(repeating: 0, count: (ku4 - ku) * panelWidth)
                let count = cols.count, y0 = cols.yOff[0]
                for co in 0..<cout4 {
                    let dst = dp + co * panelWidth
                    if co < cout {
                        let src = dy + y0 + co * p
                        if count == panelWidth { store16(load16(src), dst); store16(load16(src + 16), dst + 16); continue }
                        for j in 0..<count { dst[j] = src[j] }
                        for j in count..<panelWidth { dst[j] = 0 }
                    } else { dst.update(repeating: 0, count: panelWidth) }
                }
            }
            var kb = 0
            while kb < ku4 {
                var cb = 0
                while cb < cout4 {
                    dot4x4(panels: gCount, b: bBuf + kb * panelWidth, bStride: bPanel,
                           d: dBuf + cb * panelWidth, dStride: dPanel, out: partial + cb * ku4 + kb, ldo: ku4)
                    cb += 4
                }
                kb += 4
            }
            q0 = q1
        }
    }
    reducePartials(partialBuf.0, chunks: chunks, partialSize: partialSize, rowStride: ku4, s, dWeight: dWeight)
}

/// out[r][c] += Σ over the panels' 32 columns of d[r][col] · b[c][col] for a 4×4 block (rows of 32 floats).
/// Kept out of line so its 16 accumulators, 4 dy rows and 1 B row get registers of their own.
@inline(never)
private func dot4x4(panels: Int, b: UnsafePointer<Float>, bStride: Int, d: UnsafePointer<Float>, dStride: Int,
                    out: UnsafeMutablePointer<Float>, ldo: Int) {
    guard wideRegisters else {
        // As `dotPlanes4x4`: 2×2 blocks within AVX2's 16 registers.
        for block in 0..<4 {
            let i0 = block & 2, j0 = (block & 1) * 2
            var a00 = SIMD16<Float>(), a01 = a00, a10 = a00, a11 = a00
            var bp = b + 32 * j0, dp = d + 32 * i0
            for _ in 0..<panels {
                for half in stride(from: 0, to: 32, by: 16) {
                    let v0 = load16(dp + half), v1 = load16(dp + 32 + half)
                    var bv = load16(bp + half)
                    a00.addProduct(v0, bv); a10.addProduct(v1, bv)
                    bv = load16(bp + 32 + half)
                    a01.addProduct(v0, bv); a11.addProduct(v1, bv)
                }
                bp += bStride; dp += dStride
            }
            let r = out + i0 * ldo + j0
            r[0] += hsum(a00); r[1] += hsum(a01); r[ldo] += hsum(a10); r[ldo + 1] += hsum(a11)
        }
        return
    }
    var a00 = SIMD16<Float>(), a01 = SIMD16<Float>(), a02 = SIMD16<Float>(), a03 = SIMD16<Float>()
    var a10 = SIMD16<Float>(), a11 = SIMD16<Float>(), a12 = SIMD16<Float>(), a13 = SIMD16<Float>()
    var a20 = SIMD16<Float>(), a21 = SIMD16<Float>(), a22 = SIMD16<Float>(), a23 = SIMD16<Float>()
    var a30 = SIMD16<Float>(), a31 = SIMD16<Float>(), a32 = SIMD16<Float>(), a33 = SIMD16<Float>()
    var bp = b, dp = d
    for _ in 0..<panels {
        for half in stride(from: 0, to: 32, by: 16) {
            let d0 = load16(dp + half), d1 = load16(dp + 32 + half), d2 = load16(dp + 64 + half), d3 = load16(dp + 96 + half)
            var bv = load16(bp + half)
            a00.addProduct(d0, bv); a10.addProduct(d1, bv); a20.addProduct(d2, bv); a30.addProduct(d3, bv)
            bv = load16(bp + 32 + half)
            a01.addProduct(d0, bv); a11.addProduct(d1, bv); a21.addProduct(d2, bv); a31.addProduct(d3, bv)
            bv = load16(bp + 64 + half)
            a02.addProduct(d0, bv); a12.addProduct(d1, bv); a22.addProduct(d2, bv); a32.addProduct(d3, bv)
            bv = load16(bp + 96 + half)
            a03.addProduct(d0, bv); a13.addProduct(d1, bv); a23.addProduct(d2, bv); a33.addProduct(d3, bv)
        }
        bp += bStride; dp += dStride
    }
    var r = out
    r[0] += hsum(a00); r[1] += hsum(a01); r[2] += hsum(a02); r[3] += hsum(a03); r += ldo
    r[0] += hsum(a10); r[1] += hsum(a11); r[2] += hsum(a12); r[3] += hsum(a13); r += ldo
    r[0] += hsum(a20); r[1] += hsum(a21); r[2] += hsum(a22); r[3] += hsum(a23); r += ldo
    r[0] += hsum(a30); r[1] += hsum(a31); r[2] += hsum(a32); r[3] += hsum(a33)
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
    guard wideRegisters else {
        // 16 accumulators are 32 of AVX2's 16 registers: 2×2 blocks of the 4×4, the planes walked 4 times.
        for block in 0..<4 {
            let i0 = block & 2, j0 = (block & 1) * 2
            let (e0, e1) = i0 == 0 ? (d0, d1) : (d2, d3), (y0, y1) = j0 == 0 ? (x0, x1) : (x2, x3)
            var a00 = SIMD16<Float>(), a01 = a00, a10 = a00, a11 = a00
            for n in 0..<images {
                let dp = d + n * dImage, xp = x + n * xImage
                var o = 0
                for _ in 0..<nv {
                    let v0 = load16(dp + e0 + o), v1 = load16(dp + e1 + o)
                    var b = load16(xp + y0 + o)
                    a00.addProduct(v0, b); a10.addProduct(v1, b)
                    b = load16(xp + y1 + o)
                    a01.addProduct(v0, b); a11.addProduct(v1, b)
                    o += 16
                }
            }
            let r = out + i0 * ldo + j0
            r[0] += hsum(a00); r[1] += hsum(a01); r[ldo] += hsum(a10); r[ldo + 1] += hsum(a11)
        }
        return
    }
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
    guard wideRegisters else {
        // 25 accumulators are 50 of AVX2's 16 registers: one kernel row's 5 at a time, the image walked 5 times.
        for ki in 0..<5 {
            let a = acc + 80 * ki
            var a0 = load16(a), a1 = load16(a + 16), a2 = load16(a + 32), a3 = load16(a + 48), a4 = load16(a + 64)
            var d = dyT
            for oy in 0..<oh {
                var r = x + (oy + ki) * rowLen
                for _ in 0..<ow {
                    addTaps(r, load16(d), &a0, &a1, &a2, &a3, &a4)
                    d += 16; r += 1
                }
            }
            store16(a0, a); store16(a1, a + 16); store16(a2, a + 32); store16(a3, a + 48); store16(a4, a + 64)
        }
        return
    }
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

// Through a max pool: the weight gradient of a model's first convolution (which needs no dx) when its output goes
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
