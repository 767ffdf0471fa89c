import Foundation
import CCacheHints

// The 3×3, stride-1, padding-1 convolution (the CIFAR ResNets', VGG's and the basic blocks' convs), its
// input gradient and its weight gradient, computed in Winograd's F(2×2, 3×3) transformed domain (Lavin &
// Gray 2015): each 2×2 block of outputs costs 16 products per (input, output) channel instead of 36.
// For a tile of 2×2 outputs:
//
//     V[ξ][c] = Bᵀ d[c] B          the tile's 4×4 input window, per input channel (ξ < 16)
//     M[ξ]    = U[ξ] · V[ξ]         16 products of (out × in) by (in × tiles): the 8×32 tile product
//     y       = Aᵀ M A              2×2 outputs per output channel
//
// with U[ξ][o][c] = G g[o][c] Gᵀ computed once per call. Bᵀ and Aᵀ hold only 0 and ±1 and G halves, so
// the float error stays at the direct sums' level (ConvPathsTests checks it against the definition,
// TorchReferenceTests the models against PyTorch at 1e-4). The input gradient is the same convolution
// with the filters turned round; the weight gradient sums Z = A dY Aᵀ times V over the tiles and maps
// the 16 sums back with Gᵀ · G. Figures in BENCHMARKS.md ("Transformed 3×3 convolutions").
//
// On maps exactly 16 or 32 wide, or 8×8, with 16 to 128 channels, all three take F(4×4, 3×3) instead: 6×6
// windows, 36 products per 4×4 outputs (`largeTilesApply`; its transforms are below); so do all three on
// maps 48 to 64 wide (the ResNets' 56×56 at 224×224).

/// Whether `conv3x3Forward` and `conv3x3BackwardData` take this geometry: 3×3, stride 1, padding 1 (the
/// output the input's size), at least 8 channels on each side, on a map the transformed path computes as
/// one 8, 16, 32 or 64 wide whose height holds whole 16-tile groups (`TransformedMap`), or on a 4×4 map
/// (`singleTilesApply`).
func conv3x3Applies(_ g: ConvGeometry) -> Bool {
    let cin = g.inChannels, cout = g.outChannels
    guard g.kernelH == 3 && g.kernelW == 3 && g.stride == 1 && g.padding == 1 && !g.ceilMode && cin >= 8 && cout >= 8
    else { return false }
    if singleTilesApply(g) { return true }
    return TransformedMap(height: g.height, width: g.width).map { map in
        // On a zero-extended map, up to 256 × 256 channels (ResNet-50 224's layer3 at 14×14: its 4 MB of
        // transformed filters reread from L3 and still faster than the panels; even on stop 26's guest).
        // A 7×7 map (as 8×8) from 16 to 512 channels: in F(4×4) tiles, four images a group, but past 256
        // channels at a batch under 32 in F(2×2) (`largeTilesApply`).
        map.width == 64 ? largeTilesApply(height: g.height, width: g.width, inChannels: cin, outChannels: cout, batch: g.batch)
            : map.width == g.width && map.height == g.height
                || (map.width == 8 ? min(cin, cout) >= 16 && max(cin, cout) <= 512
                        : cin * cout <= 256 * 256)
    } == true
}

/// Whether a 3×3 conv's map is 4×4, which F(4×4, 3×3) covers as one tile per image (`winogradSingles`):
/// 36 products per image and channel pair where the direct sums reach 100 (ResNet-18's layer2 on MNIST,
/// ResNet-50's at 32×32), with the channels `largeTilesApply` allows there: the forward and the weight
/// gradient (`singleTileWeightGradient`); the input gradient takes F(2×2) tiles (`conv3x3BackwardData`).
func singleTilesApply(_ g: ConvGeometry) -> Bool {
    g.height == 4 && g.width == 4
        && largeTilesApply(height: 4, width: 4, inChannels: g.inChannels, outChannels: g.outChannels, batch: g.batch)
}

/// The map the tiles cover: 8, 16, 32 or 64 wide, and tall enough for whole groups of 16 tiles (32 / width
/// tile rows; 64 wide, one F(4×4) tile row). A map up to a quarter narrower or shorter than a 16-, 32- or
/// 64-wide one (ResNet-50's 28 and 14 at 224×224) is computed as if zero-extended: its extra columns and
/// rows read zeros and are never stored; so is a 7×7 map as 8×8 (ResNet-18's layer1 at 28×28 inputs,
/// ResNet-50's layer4 at 224×224), which paid in F(4×4) tiles (in F(2×2) it had run slower than the
/// direct paths at up to 256 channels; BENCHMARKS.md, stop 36), past 256 channels at small batches in
/// F(2×2) (`largeTilesApply`). A map 48 to 64 wide (the ResNets' 56×56 at 224×224) is computed 64 wide in
/// F(4×4) tiles only. Smaller maps fill too little of a group; wider ones are not written yet.
struct TransformedMap {
    let width: Int, height: Int
    init?(height h: Int, width w: Int) {
        guard let vw = [8, 16, 32, 64].first(where: { w <= $0 }), w == vw || (vw >= 16 && 4 * w >= 3 * vw) || (w, h) == (7, 7)
        else { return nil }
        let groupRows = vw == 64 ? 4 : 2 * (32 / vw), vh = (h + groupRows - 1) / groupRows * groupRows
        guard h == vh || (vw >= 16 && 4 * h >= 3 * vh) || (w, h) == (7, 7) else { return nil }
        width = vw; height = vh
    }
}

/// y = conv(x, W) + bias (+ epilogue) for a geometry `conv3x3Applies` takes; W tap-major (`ConvWeights`).
func conv3x3Forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                    geometry g: ConvGeometry, y: UnsafeMutablePointer<Float>, epilogue: ConvEpilogue?) {
    let cin = g.inChannels, cout = g.outChannels
    winogradConv(x: x, inChannels: cin, outChannels: cout, batch: g.batch, height: g.height, width: g.width,
                 weight: weight, adjoint: false, bias: bias, y: y, epilogue: epilogue)
}

/// dx of `conv3x3Forward`, overwritten: the same convolution of dy with W's taps reversed and its
/// channels swapped (a stride-1 "same" conv's adjoint), plus `adding` (dx's shape) where given. On 4×4
/// maps in F(2×2) tiles, not the forward's F(4×4): F(4×4)'s larger float error, carried back through a
/// plain ResNet-18's vanishing gradients, put a gradient 1.15e-4 of its norm from PyTorch's
/// (TorchReferenceTests' 1e-4). On 7×7 maps in the forward's tiles, faster than the panels there
/// (ResNet-50 224's layer4; BENCHMARKS.md, stop 42; ConvPathsTests holds it to the definition).
func conv3x3BackwardData(dy: UnsafePointer<Float>, weight: UnsafePointer<Float>, geometry g: ConvGeometry,
                         dx: UnsafeMutablePointer<Float>, adding: UnsafePointer<Float>? = nil) {
    let cin = g.inChannels, cout = g.outChannels
    winogradConv(x: dy, inChannels: cout, outChannels: cin, batch: g.batch, height: g.height, width: g.width,
                 weight: weight, adjoint: true, bias: nil, y: dx, epilogue: nil, adding: adding)
}

/// Whether the convolution of `cin` into `cout` channels on this map takes F(4×4, 3×3) tiles: 36 products
/// per 4×4 outputs instead of 64 for four 2×2 tiles. Only on maps exactly 16 or 32 wide, of whole groups
/// (16 or 8 rows), exactly 8×8 (a group is then four images' 2×2 tiles), 7×7 (as 8×8) or 4×4 (one tile
/// an image), with 16 to 128 channels each side (4×4 and 7×7: 512, VGG's and ResNet-50's, where they
/// still beat the panels: BENCHMARKS.md, stop 36). At 16 (ResNet-20's layer1) they paid on the EPYC
/// guest only once the outputs' lines were prefetched, on the Intel guest without prefetches
/// (`prefetchesPay`); under 16 it was not measured,
/// nor past 128 (VGG's 256 are on 8×8 maps, where the transformed filters alone would be 36 · 256 · 256
/// floats, 9.4 MB). Maps 48 to 64 wide (`TransformedMap`) take only F(4×4) tiles, with 16 to 128
/// channels. A 7×7 map past 256 channels takes them from a batch of 32: its 36 transformed filters (38 MB
/// at 512) are streamed from memory once per block of 32 tiles, and at batch 16 F(2×2)'s 17 MB, read
/// from L3, paid (ResNet-50 224's layer4). Elsewhere F(2×2, 3×3). Figures in BENCHMARKS.md.
func largeTilesApply(height h: Int, width w: Int, inChannels cin: Int, outChannels cout: Int, batch: Int) -> Bool {
    (w == 16 && h % 16 == 0 || w == 32 && h % 8 == 0 || w == 8 && h == 8 || w > 32 && TransformedMap(height: h, width: w) != nil)
        && min(cin, cout) >= 16 && max(cin, cout) <= 128
        || w == 4 && h == 4 && min(cin, cout) >= 16 && max(cin, cout) <= 512
        || w == 7 && h == 7 && min(cin, cout) >= 16 && (max(cin, cout) <= 256 || max(cin, cout) <= 512 && batch >= 32)
}

/// The transformed convolution of x ([batch][cin][h][w]) into y ([batch][cout][h][w]), padding 1, with
/// the filter of output o and input c read from W as the forward's (`adjoint` false: W[t][o][c]) or as
/// its adjoint's (W[8 − t][c][o]), in F(2×2, 3×3) or F(4×4, 3×3) tiles (`largeTilesApply`).
///
/// Columns are tiles: a group is 16 tiles of one image (whole tile rows, one tile per lane), a block
/// two groups side by side, the 32 columns of the 8×32 tile product. F(2×2): a tile row's window rows
/// are two runs of 2·tilesW floats of the zero-bordered image, split into even and odd columns; its 2×2
/// outputs, interleaved, are whole output rows. F(4×4): the bordered copy holds each row split four ways
/// (`PhasedRows`: the columns 4tx + s, s < 4, and s = 4, 5 one tile on are loads); 8×8 maps split their
/// runs as they read them. No transposes: the images cross memory once.
private func winogradConv(x: UnsafePointer<Float>, inChannels cin: Int, outChannels cout: Int, batch: Int,
                          height h: Int, width w: Int, weight: UnsafePointer<Float>, adjoint: Bool,
                          bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>, epilogue: ConvEpilogue?,
                          adding: UnsafePointer<Float>? = nil) {
    // A tensor added to the outputs as they are stored: the epilogue's residual, or (input gradient) `adding`.
    let residual = epilogue?.residual ?? adding
    if h == 4 && w == 4 {
        // The input gradient in F(2×2) tiles (`conv3x3BackwardData` says why).
        winogradSingles(x: x, inChannels: cin, outChannels: cout, batch: batch, weight: weight, adjoint: adjoint,
                        quarters: adjoint, bias: bias, y: y, epilogue: epilogue, residual: residual)
        return
    }
    let tiled = TransformedMap(height: h, width: w)!, vw = tiled.width
    let large = largeTilesApply(height: h, width: w, inChannels: cin, outChannels: cout, batch: batch)
    // F(4×4) on an 8×8 map: a group is the 2×2 tiles of four images (`quadRuns`), a block eight images.
    let quads = large && vw == 8
    let tile = large ? 4 : 2, xis = (tile + 2) * (tile + 2)
    let plane = h * w, oPanels = (cout + mr - 1) / mr, oRows = oPanels * mr
    let rowsPerGroup = quads ? 2 : 16 / (vw / tile), groupsPerImage = quads ? 1 : (tiled.height / tile) / rowsPerGroup
    let groups = quads ? (batch + 3) / 4 : batch * groupsPerImage, blocks = (groups + 1) / 2
    let uLen = xis * oPanels * cin * mr
    // The quads load 8 floats from a bordered row's columns 0 and 4: rows of 12 floats hold them. F(4×4)
    // groups read their windows' columns already split into phases (`PhasedRows`).
    let L = DirectLayout(c: cin, h: h, w: w, pad: 1, k: 3, room: (tiled.height, vw), reach: quads ? 10 : 32)
    let phased = large && !quads ? PhasedRows(c: cin, h: h, w: w, mapWidth: vw, mapHeight: tiled.height) : nil
    let copySize = phased?.size ?? L.size
    let copies = quads ? 8 : 2
    let vXi = transformRowStride(cin * panelWidth), mXi = transformRowStride(oRows * panelWidth)
    // The stage: outputTransform4's 36 vectors, then a tile row group's 16 output vectors (`storeTileRows`).
    let vLen = xis * vXi, mLen = xis * mXi, stageLen = (36 + 16) * 16
    let perTask = (vLen + mLen + copies * copySize + stageLen + 15) / 16 * 16
    let blocksPerItem = max(1, groupsPerImage / 2), items = (blocks + blocksPerItem - 1) / blocksPerItem
    let tasks = Parallel.chunkCount(items, grain: 1)
    let buf = ScratchPool.shared.take(uLen + tasks * perTask + 16)
    defer { ScratchPool.shared.give(buf) }
    let u = buf.0

    transformFilters(weight, inChannels: cin, outChannels: cout, adjoint: adjoint, large: large, into: u)

    // Each half of a block reads its image from its own bordered copy (a task's two), refilled when the
    // image changes. Items (an image's blocks, or one block of two images) go to whichever task asks
    // next: a core that runs slower this minute takes fewer.
    // −2: the task's copies not yet cleared (each task clears its own, on its core, at its first item).
    let held = UnsafeMutablePointer<Int>.allocate(capacity: 2 * tasks)
    held.initialize(repeating: -2, count: 2 * tasks)
    defer { held.deallocate() }
    // The images an item reads: x[first ..< end] (whole images, `cin · plane` floats each).
    @inline(__always) func itemInput(_ item: Int) -> (UnsafePointer<Float>, Int) {
        let g0 = 2 * item * blocksPerItem, g1 = min(groups, 2 * (item + 1) * blocksPerItem)
        let first = quads ? 4 * g0 : g0 / groupsPerImage, end = quads ? min(batch, 4 * g1) : (g1 - 1) / groupsPerImage + 1
        return (x + first * cin * plane, (end - first) * cin * plane)
    }
    // Steps of the input transforms an item runs, over which the next item's input is asked for.
    let aheadSteps = 2 * blocksPerItem * cin
    Parallel.dynamicAhead(items, tasks: tasks) { task, item, nextItem in
        let v = u + uLen + task * perTask, m = v + vLen
        // The next item's images stream in while this one computes (without, its first reads waited on
        // memory: BENCHMARKS.md).
        var ahead = prefetchesPay ? nextItem.map(itemInput) : nil
        let aheadStep = ahead.map { ($0.1 + aheadSteps - 1) / aheadSteps } ?? 0
        @inline(__always) func askAhead() {
            guard let (p, n) = ahead, n > 0 else { return }
            let k = min(n, aheadStep)
            prefetchForReading(p, count: k)
            ahead = (p + k, n - k)
        }
        let padded = (m + mLen, m + mLen + copySize), stage = m + mLen + copies * copySize, held = held + 2 * task
        if held[0] == -2 {
            for k in 0..<copies { zeroFloats(m + mLen + k * copySize, copySize) }
            held[0] = -1; held[1] = -1
        }
        for block in (item * blocksPerItem)..<min(blocks, (item + 1) * blocksPerItem) {
            let used = min(2, groups - 2 * block)
            for half in 0..<used {
                if quads {
                    // Four images per group, each in its own copy; past the batch, the last image again (its
                    // outputs are not stored).
                    let group = 2 * block + half, copy = { (k: Int) in m + mLen + (4 * half + k) * L.size }
                    for k in 0..<4 { L.fill(x + min(4 * group + k, batch - 1) * cin * plane, copy(k)) }
                    for c in 0..<cin {
                        askAhead()
                        let off = c * L.rows * L.rowLen, vc = v + c * panelWidth + 16 * half
                        let q = (UnsafePointer(copy(0) + off), UnsafePointer(copy(1) + off), UnsafePointer(copy(2) + off),
                                 UnsafePointer(copy(3) + off))
                        inputTransform4({ r in
                            let a = phases(quadRuns(q, r * L.rowLen, rowLen: L.rowLen)), b = phases(quadRuns(q, r * L.rowLen + 4, rowLen: L.rowLen))
                            return (a.0, a.1, a.2, a.3, b.0, b.1)
                        }, stage: stage, into: vc, rowStride: vXi)
                    }
                    continue
                }
                let group = 2 * block + half, n = group / groupsPerImage
                // Both halves of an image's block read the first copy.
                let own = half == 0 || held[0] != n, image = own && half == 1 ? padded.1 : padded.0
                if own && held[half] != n {
                    if let phased { phased.fill(x + n * cin * plane, image) } else { L.fill(x + n * cin * plane, image) }
                    held[half] = n
                }
                let ty0 = (group % groupsPerImage) * rowsPerGroup
                for c in 0..<cin {
                    askAhead()
                    let vc = v + c * panelWidth + 16 * half
                    if let phased {
                        let pc = UnsafePointer(image + (c * phased.rows + 4 * ty0) * phased.rowLen)
                        inputTransform4({ phased.window(pc, row: $0) }, stage: stage, into: vc, rowStride: vXi)
                    } else {
                        let pc = UnsafePointer(image + c * L.rows * L.rowLen + tile * ty0 * L.rowLen)
                        inputTransform(pc, rowLen: L.rowLen, width: vw, into: vc, rowStride: vXi)
                    }
                }
            }
            if used == 1 { for xi in 0..<xis { for c in 0..<cin { zeroFloats(v + xi * vXi + c * panelWidth + 16, 16) } } }
            // The lines the block's outputs (and the residual added to them) will be stored to, asked for
            // while the products run, a share of the channels per ξ: the stores then find them ready
            // (where that pays: `prefetchesPay`).
            @inline(__always) func prefetchOutputs(_ o: Int) {
                for half in 0..<used {
                    let group = 2 * block + half
                    let first = quads ? 4 * group : group / groupsPerImage, images = quads ? min(4, batch - first) : 1
                    let r0 = quads ? 0 : tile * (group % groupsPerImage) * rowsPerGroup
                    let count = (min(h, quads ? h : r0 + tile * rowsPerGroup) - r0) * w
                    for k in 0..<images where count > 0 {
                        let offset = ((first + k) * cout + o) * plane + r0 * w
                        prefetchForWriting(y + offset, count: count)
                        if let residual { prefetchForReading(residual + offset, count: count) }
                    }
                }
            }
            for xi in 0..<xis {
                if prefetchesPay { for o in (xi * cout / xis)..<((xi + 1) * cout / xis) { prefetchOutputs(o) } }
                for op in 0..<oPanels {
                    microTile(cin, u + (xi * oPanels + op) * cin * mr, v + xi * vXi, m + xi * mXi + op * mr * panelWidth,
                              accumulate: false)
                }
            }
            for half in 0..<used {
                let group = 2 * block + half, n = group / groupsPerImage, ty0 = (group % groupsPerImage) * rowsPerGroup
                if quads {
                    // Vector k of output row dy: image 4·group + k's rows dy and 4 + dy.
                    let images = min(4, batch - 4 * group)
                    for o in 0..<cout {
                        let map = OutputMap(channel: o, bias: bias, epilogue: epilogue, residual: residual, y: UnsafePointer(y))
                        let yo = y + (4 * group * cout + o) * plane, imageStride = cout * plane
                        outputTransform4(m + o * panelWidth + 16 * half, rowStride: mXi, stage: stage) { dy, columns in
                            let row = yo + dy * w, r = runs(columns)
                            if w == 8 {
                                map.storeHalves(r.0, row, row + 32)
                                if images > 1 { map.storeHalves(r.1, row + imageStride, row + imageStride + 32) }
                                if images > 2 { map.storeHalves(r.2, row + 2 * imageStride, row + 2 * imageStride + 32) }
                                if images > 3 { map.storeHalves(r.3, row + 3 * imageStride, row + 3 * imageStride + 32) }
                            } else {
                                // A 7×7 map computed as 8×8: rows dy and dy + 4 (row 7 lies outside), 7 floats each
                                // (through `storeRows`' edge loop of 32 guarded floats this conv took 0.98 ms, not 0.58).
                                let lower = dy + 4 < h
                                @inline(__always) func put(_ k: Int, _ v: SIMD16<Float>) {
                                    let p = row + k * imageStride
                                    if k < images { map.storeSevens(v, p, lower ? p + 4 * w : nil) }
                                }
                                put(0, r.0); put(1, r.1); put(2, r.2); put(3, r.3)
                            }
                        }
                    }
                    continue
                }
                if large {
                    for o in 0..<cout {
                        let map = OutputMap(channel: o, bias: bias, epilogue: epilogue, residual: residual, y: UnsafePointer(y))
                        let yo = y + (n * cout + o) * plane + 4 * ty0 * w
                        // Output row dy of each tile row: 32 wide, two tile rows 4 rows apart; 16 wide, four.
                        let rows = stage + 36 * 16
                        outputTransform4(m + o * panelWidth + 16 * half, rowStride: mXi, stage: stage) { dy, columns in
                            let r = runs(columns), d = rows + 64 * dy
                            store16(r.0, d); store16(r.1, d + 16); store16(r.2, d + 32); store16(r.3, d + 48)
                        }
                        map.storeTileRows(rows, yo, width: w, mapWidth: vw, rows: min(4, h - 4 * ty0))
                    }
                    continue
                }
                // Output rows 2(ty0 + g) + dy for g < rowsPerGroup, those inside the map.
                let rows0 = min(rowsPerGroup, max(0, (h - 2 * ty0 + 1) / 2)), rows1 = min(rowsPerGroup, max(0, (h - 2 * ty0) / 2))
                for o in 0..<cout {
                    let out = outputTransform(m + o * panelWidth + 16 * half, rowStride: mXi)
                    let map = OutputMap(channel: o, bias: bias, epilogue: epilogue, residual: residual, y: UnsafePointer(y))
                    // Y(dy, 0) and Y(dy, 1) interleaved.
                    let yo = y + (n * cout + o) * plane + 2 * ty0 * w
                    map.storeRows(interleave(out.0, out.1), yo, rowStride: 2 * w, width: vw, columns: w, rows: rows0)
                    map.storeRows(interleave(out.2, out.3), yo + w, rowStride: 2 * w, width: vw, columns: w, rows: rows1)
                }
            }
        }
    }
}

/// U: [ξ][oPanel][c][8], ξ = (tile + 2)·a + b of G g Gᵀ (F(4×4) where `large`), zero rows past cout; a
/// panel's 8 filters at once. The filter of output o and input c is W's as the forward reads it, or
/// (`adjoint`) as its input gradient does.
private func transformFilters(_ weight: UnsafePointer<Float>, inChannels cin: Int, outChannels cout: Int, adjoint: Bool,
                              large: Bool, into u: UnsafeMutablePointer<Float>) {
    let oPanels = (cout + mr - 1) / mr, xis = large ? 36 : 16
    // The forward's taps turned to [t][c][o] (o padded to 16, zeros past cout), as the adjoint reads W in
    // place: a panel's 8 filters of one tap are then one vector, where they were 8 floats cin apart.
    let oBlocks = (cout + 15) / 16, oPad = 16 * oBlocks
    let turned = ScratchPool.shared.take(adjoint ? 16 : 9 * cin * oPad + 16)
    defer { ScratchPool.shared.give(turned) }
    if !adjoint {
        Parallel.forEach(9 * oBlocks, grain: max(1, 4096 / max(1, 16 * cin))) { i in
            let t = i / oBlocks, o0 = 16 * (i % oBlocks)
            transposeBlockIn(weight + (t * cout + o0) * cin, count: min(16, cout - o0), stride: cin, len: cin,
                             turned.0 + t * cin * oPad + o0, dstStride: oPad, lanes: 16)
        }
    }
    let wt = UnsafePointer(turned.0)
    Parallel.forEach(oPanels * cin, grain: max(1, 512 / xis)) { i in
        let op = i / cin, c = i % cin, xiStride = oPanels * cin * mr, dst = u + (op * cin + c) * mr
        let rows = min(mr, cout - op * mr)
        // Tap t of this conv's filters (o, c): the forward's (o, c) at t, or its (c, o) at 8 − t.
        let tap = { (t: Int) -> SIMD8<Float> in
            if !adjoint { return load8(wt + (t * cin + c) * oPad + op * mr) }
            let row = weight + ((8 - t) * cin + c) * cout + op * mr
            if rows == mr { return load8(row) }
            var v = SIMD8<Float>()
            for r in 0..<rows { v[r] = row[r] }
            return v
        }
        let put = { (xi: Int, v: SIMD8<Float>) in store8(v, dst + xi * xiStride) }
        if large { filterTransform4(tap, into: put) } else { filterTransform(tap, into: put) }
    }
}

/// `winogradConv` on 4×4 maps: the zero-bordered map is exactly one F(4×4) tile's 6×6 window, so a lane
/// is an image: a group is 16 images, a block (the tile product's 32 columns) 32. A channel's 16 pixels of
/// 16 images cross a register transpose on the way in (vectors of images, one per pixel) and out. With
/// `quarters`, F(2×2) tiles instead: the map's four 2×2 tiles, each its 16 products (64 an image where
/// the panels' direct sums reach 100, F(4×4)'s 36).
private func winogradSingles(x: UnsafePointer<Float>, inChannels cin: Int, outChannels cout: Int, batch: Int,
                             weight: UnsafePointer<Float>, adjoint: Bool, quarters: Bool, bias: UnsafePointer<Float>?,
                             y: UnsafeMutablePointer<Float>, epilogue: ConvEpilogue?, residual: UnsafePointer<Float>?) {
    let oPanels = (cout + mr - 1) / mr, oRows = oPanels * mr, blocks = (batch + 31) / 32
    // Rows of V and M: ξ (F(4×4)), or tile · 16 + ξ (F(2×2), U's row ξ for every tile).
    let xis = quarters ? 16 : 36, rows = quarters ? 64 : 36
    let vXi = transformRowStride(cin * panelWidth), mXi = transformRowStride(oRows * panelWidth)
    let vLen = rows * vXi, mLen = rows * mXi, stageLen = 36 * 16, pixLen = 16 * 16
    let perTask = (vLen + mLen + stageLen + pixLen + 15) / 16 * 16, uLen = xis * oPanels * cin * mr
    let tasks = Parallel.chunkCount(blocks, grain: 1)
    let buf = ScratchPool.shared.take(uLen + tasks * perTask + 16)
    defer { ScratchPool.shared.give(buf) }
    let u = buf.0
    transformFilters(weight, inChannels: cin, outChannels: cout, adjoint: adjoint, large: !quarters, into: u)
    Parallel.dynamic(blocks, tasks: tasks) { task, block in
        let v = u + uLen + task * perTask, m = v + vLen, stage = m + mLen, pix = stage + stageLen
        let n0 = 32 * block, used = min(2, (batch - n0 + 15) / 16)
        for half in 0..<used {
            let j0 = n0 + 16 * half, count = min(16, batch - j0)
            for c in 0..<cin {
                // Row p: pixel p of the 16 images (zeros past the batch).
                transposeBlockIn(x + (j0 * cin + c) * 16, count: count, stride: cin * 16, len: 16, pix, dstStride: 16, lanes: 16)
                if quarters { inputTransformQuarters(pix, into: v + c * panelWidth + 16 * half, rowStride: vXi) }
                else { inputTransformSingle(pix, stage: stage, into: v + c * panelWidth + 16 * half, rowStride: vXi) }
            }
        }
        if used == 1 { for r in 0..<rows { for c in 0..<cin { zeroFloats(v + r * vXi + c * panelWidth + 16, 16) } } }
        for r in 0..<rows {
            for op in 0..<oPanels {
                microTile(cin, u + (r % xis * oPanels + op) * cin * mr, v + r * vXi, m + r * mXi + op * mr * panelWidth,
                          accumulate: false)
            }
        }
        for half in 0..<used {
            let j0 = n0 + 16 * half, count = min(16, batch - j0)
            for o in 0..<cout {
                let map = OutputMap(channel: o, bias: bias, epilogue: epilogue, residual: residual, y: UnsafePointer(y))
                let mo = m + o * panelWidth + 16 * half
                if quarters {
                    // Tile (ty, tx)'s outputs are pixels (2ty + a, 2tx + b).
                    for t in 0..<4 {
                        let out = outputTransform(mo + 16 * t * mXi, rowStride: mXi), p0 = pix + 16 * (8 * (t / 2) + 2 * (t % 2))
                        store16(out.0, p0); store16(out.1, p0 + 16); store16(out.2, p0 + 64); store16(out.3, p0 + 80)
                    }
                } else {
                    outputTransform4(mo, rowStride: mXi, stage: stage) { dy, r in
                        let d = pix + 64 * dy
                        store16(r.0, d); store16(r.1, d + 16); store16(r.2, d + 32); store16(r.3, d + 48)
                    }
                }
                // Row i: image i's 16 outputs of channel o.
                var t = Block16 { p in load16(pix + 16 * p) }
                t.transpose()
                t.forEachRow { i, r in if i < count { map.storeRun(r, y + ((j0 + i) * cout + o) * 16) } }
            }
        }
    }
}

/// V = Bᵀ d B in F(2×2) for the four tiles of one channel of 16 images' 4×4 maps, pix[16 · p ..< +16]
/// pixel p of each: tile t = 2ty + tx's window is rows 2ty − 1 ..< 2ty + 3 and the same columns from
/// 2tx − 1 (zero outside the map), its ξ = 4i + j into v[(16t + ξ) · rowStride ..< +16].
@inline(__always)
private func inputTransformQuarters(_ pix: UnsafePointer<Float>, into v: UnsafeMutablePointer<Float>, rowStride: Int) {
    let zero = SIMD16<Float>()
    @inline(__always) func px(_ r: Int, _ c: Int) -> SIMD16<Float> { r >= 0 && r < 4 && c >= 0 && c < 4 ? load16(pix + 16 * (4 * r + c)) : zero }
    for t in 0..<4 {
        let r0 = 2 * (t / 2) - 1, c0 = 2 * (t % 2) - 1
        // Columns s of Bᵀ d, then Bᵀ along each row of that.
        @inline(__always) func col(_ s: Int) -> Four {
            bt(px(r0, c0 + s), px(r0 + 1, c0 + s), px(r0 + 2, c0 + s), px(r0 + 3, c0 + s))
        }
        storeTransformRows(col(0), col(1), col(2), col(3), into: v + 16 * t * rowStride, rowStride: rowStride)
    }
}

/// V = Bᵀ d B of one channel of 16 images' 4×4 maps (`winogradSingles`), pix[16 · p ..< +16] pixel p of
/// each, into v[ξ · rowStride ..< +16]: `inputTransform4` with the window's border rows and columns zero.
@inline(__always)
private func inputTransformSingle(_ pix: UnsafePointer<Float>, stage: UnsafeMutablePointer<Float>,
                                  into v: UnsafeMutablePointer<Float>, rowStride: Int) {
    let zero = SIMD16<Float>()
    // Window rows 1-4 along their columns (rows 0 and 5 are zero, and so is Bᵀ of them).
    for r in 0..<4 {
        let q = pix + 64 * r, s = stage + 96 * r
        let t = bt6((zero, load16(q), load16(q + 16), load16(q + 32), load16(q + 48), zero))
        store16(t.0, s); store16(t.1, s + 16); store16(t.2, s + 32); store16(t.3, s + 48); store16(t.4, s + 64); store16(t.5, s + 80)
    }
    for j in 0..<6 {
        @inline(__always) func st(_ r: Int) -> SIMD16<Float> { load16(stage + 16 * (6 * r + j)) }
        let t = bt6((zero, st(0), st(1), st(2), st(3), zero)), d = v + j * rowStride
        store16(t.0, d); store16(t.1, d + 6 * rowStride); store16(t.2, d + 12 * rowStride)
        store16(t.3, d + 18 * rowStride); store16(t.4, d + 24 * rowStride); store16(t.5, d + 30 * rowStride)
    }
}

/// What happens to one output channel's values on their way into y: the bias, then the epilogue's
/// affine map, the residual (the epilogue's, or a tensor an input gradient adds) and the epilogue's
/// ReLU, as the same float operations as the separate passes.
private struct OutputMap {
    let b: SIMD16<Float>, scale: SIMD16<Float>, shift: SIMD16<Float>
    let affine: Bool, relu: Bool, residual: UnsafePointer<Float>?, y: UnsafePointer<Float>

    @inline(__always)
    init(channel o: Int, bias: UnsafePointer<Float>?, epilogue: ConvEpilogue?, residual: UnsafePointer<Float>?,
         y: UnsafePointer<Float>) {
        b = SIMD16<Float>(repeating: bias?[o] ?? 0); affine = epilogue != nil; relu = epilogue?.relu ?? false
        scale = SIMD16<Float>(repeating: epilogue?.scale[o] ?? 1); shift = SIMD16<Float>(repeating: epilogue?.shift[o] ?? 0)
        self.residual = residual; self.y = y
    }

    /// An F(4×4) group's four output rows dy (rows[64·dy ..< +64]: two 32-float runs, `runs` of the output
    /// transform) into the rows yo + dy·width and 128 / mapWidth rows below; on a 64-wide map one row, its
    /// first `width` floats, of the first `rows` (< 4 at a zero-extended map's foot). One call a channel: a
    /// call per row of `storeRows` made the transformed conv save and restore its vectors for each
    /// (BENCHMARKS.md).
    @inline(never)
    func storeTileRows(_ rows: UnsafePointer<Float>, _ yo: UnsafeMutablePointer<Float>, width w: Int, mapWidth vw: Int,
                       rows count: Int) {
        if vw == 64 {
            for dy in 0..<count {
                let row = yo + dy * w, r = rows + 64 * dy
                var f = 0
                while f + 16 <= w { put(biased(load16(r + f)), row + f); f += 16 }
                if f + 8 <= w { putLow(biased(load16(r + f)), row + f); f += 8 }
                if f < w {
                    // The last vector (columns 48-63; w >= 48) holds the rest.
                    let last = biased(load16(r + 48))
                    for k in f..<w { putOne(last[k - 48], row + k) }
                }
            }
            return
        }
        for dy in 0..<4 {
            let row = yo + dy * w, r = rows + 64 * dy
            storeWholeRows(load16(r), load16(r + 16), row, rowStride: 4 * w, width: vw)
            storeWholeRows(load16(r + 32), load16(r + 48), row + (128 / vw) * w, rowStride: 4 * w, width: vw)
        }
    }

    /// `storeRows` of whole rows (no zero-extended edge), inlined where called (as `storeRows` is not in the
    /// transformed conv's closure, which ran slower with it inlined).
    @_transparent
    func storeWholeRows(_ v0: SIMD16<Float>, _ v1: SIMD16<Float>, _ d: UnsafeMutablePointer<Float>, rowStride: Int, width: Int) {
        let b0 = biased(v0), b1 = biased(v1)
        switch width {
        case 32: put(b0, d); put(b1, d + 16)
        case 16: put(b0, d); put(b1, d + rowStride)
        default:
            // Two 8-float rows per vector: through a 16-float staging pair, stored 8 at a time.
            put8(b0, d, d + rowStride); put8(b1, d + 2 * rowStride, d + 3 * rowStride)
        }
    }

    /// The 32 floats `rows` as 32 / width rows of `width` (8, 16 or 32) floats, rowStride apart from d:
    /// the first `columns` floats of the first `rows` of them (the others lie outside a zero-extended map).
    @inline(__always)
    func storeRows(_ vs: (SIMD16<Float>, SIMD16<Float>), _ d: UnsafeMutablePointer<Float>, rowStride: Int, width: Int,
                   columns: Int, rows: Int) {
        guard columns == width && rows == 32 / width else {
            // A zero-extended map's edge: a vector that is one run inside one row as usual, the rest
            // float by float (the same operations as `finish`). v1 is row 0's second half (32 wide) or row 1.
            let v0 = biased(vs.0), v1 = biased(vs.1)
            let whole0 = width >= 16 && columns >= 16 && rows >= 1
            let whole1 = width == 32 ? columns == 32 && rows >= 1 : width == 16 && columns == 16 && rows >= 2
            if whole0 { put(v0, d) }
            if whole1 { put(v1, width == 32 ? d + 16 : d + rowStride) }
            for f in 0..<32 where !(f < 16 ? whole0 : whole1) {
                let row = f / width, col = f % width
                guard row < rows && col < columns else { continue }
                putOne(f < 16 ? v0[f] : v1[f - 16], d + row * rowStride + col)
            }
            return
        }
        storeWholeRows(vs.0, vs.1, d, rowStride: rowStride, width: width)
    }

    @inline(__always) private func finish(_ v: SIMD16<Float>, residual r: SIMD16<Float>?) -> SIMD16<Float> {
        var val = v
        if let r { val = val + r }
        if relu { val = val.replacing(with: SIMD16<Float>(), where: val .< SIMD16<Float>()) }
        return val
    }

    @inline(__always) private func put(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
        store16(finish(v, residual: residual.map { load16($0 + (UnsafePointer(p) - y)) }), p)
    }

    /// The 16 floats v into d.
    @inline(__always) func storeRun(_ v: SIMD16<Float>, _ d: UnsafeMutablePointer<Float>) { put(biased(v), d) }

    /// The first 7 floats of v's halves into p and (where given) q, one by one as `storeRows` does a
    /// zero-extended map's edge.
    @inline(__always) func storeSevens(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, _ q: UnsafeMutablePointer<Float>?) {
        let b = biased(v)
        for f in 0..<7 { putOne(b[f], p + f) }
        if let q { for f in 0..<7 { putOne(b[8 + f], q + f) } }
    }

    /// One biased value into d: `finish`'s residual and ReLU as float operations.
    @inline(__always) private func putOne(_ v: Float, _ d: UnsafeMutablePointer<Float>) {
        var val = v
        if let residual { val = val + residual[UnsafePointer(d) - y] }
        if relu && val < 0 { val = 0 }
        d.pointee = val
    }

    /// v's first 8 floats into p.
    @inline(__always) private func putLow(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
        let r = residual.map { SIMD16(lowHalf: load8($0 + (UnsafePointer(p) - y)), highHalf: SIMD8<Float>()) }
        store8(low8(finish(v, residual: r)), p)
    }

    /// v's two halves into the 8 floats at p and at q.
    @inline(__always) func storeHalves(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, _ q: UnsafeMutablePointer<Float>) {
        put8(biased(v), p, q)
    }

    /// The bias, then the epilogue's affine map.
    @inline(__always) private func biased(_ v: SIMD16<Float>) -> SIMD16<Float> {
        let v = v + b
        return affine ? v * scale + shift : v
    }

    @inline(__always) private func put8(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, _ q: UnsafeMutablePointer<Float>) {
        let r = residual.map { SIMD16(lowHalf: load8($0 + (UnsafePointer(p) - y)), highHalf: load8($0 + (UnsafePointer(q) - y))) }
        let val = finish(v, residual: r)
        store8(low8(val), p)
        store8(high8(val), q)
    }
}

/// 32 floats: the first 2·tilesW = width floats of 32 / width rows rowLen apart from p.
@inline(__always)
private func windowRows(_ p: UnsafePointer<Float>, rowLen: Int, width: Int) -> (SIMD16<Float>, SIMD16<Float>) {
    switch width {
    case 32: return (load16(p), load16(p + 16))
    case 16: return (load16(p), load16(p + 2 * rowLen))
    default: return (SIMD16(lowHalf: load8(p), highHalf: load8(p + 2 * rowLen)), SIMD16(lowHalf: load8(p + 4 * rowLen), highHalf: load8(p + 6 * rowLen)))
    }
}

/// The distance between a transform's 16 ξ rows of `floats` floats each: 16 floats more, because at
/// multiples of 4 KB apart the 16 rows a transform writes (and the tile product reads) would share one
/// set of L1 lines (the weight gradient of 16 channels at 32×32 took 1.87 ms instead of 0.62).
private func transformRowStride(_ floats: Int) -> Int { floats + 16 }

/// (G g Gᵀ)[a][b] into put(4a + b, ·) for the 3×3 filters g[i][j] = tap(3i + j), one per lane,
/// G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]].
@inline(__always)
private func filterTransform(_ tap: (Int) -> SIMD8<Float>, into put: (Int, SIMD8<Float>) -> Void) {
    typealias V = SIMD8<Float>
    @inline(__always) func gt(_ a: V, _ b: V, _ c: V) -> (V, V, V, V) {
        (a, (a + b + c) * 0.5, (a - b + c) * 0.5, c)
    }
    // Columns of G g, then each of its four rows times Gᵀ.
    let c0 = gt(tap(0), tap(3), tap(6)), c1 = gt(tap(1), tap(4), tap(7)), c2 = gt(tap(2), tap(5), tap(8))
    @inline(__always) func row(_ a: Int, _ r: (V, V, V, V)) {
        put(4 * a, r.0); put(4 * a + 1, r.1); put(4 * a + 2, r.2); put(4 * a + 3, r.3)
    }
    row(0, gt(c0.0, c1.0, c2.0)); row(1, gt(c0.1, c1.1, c2.1)); row(2, gt(c0.2, c1.2, c2.2)); row(3, gt(c0.3, c1.3, c2.3))
}

/// Bᵀ (a, b, c, d) with Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]].
@inline(__always)
private func bt(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>, _ d: SIMD16<Float>)
    -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
    (a - c, b + c, c - b, b - d)
}

/// V = Bᵀ d B for one channel of a group's 16 tiles, into v[ξ · rowStride ..< +16] (ξ = 4i + j). p is
/// the bordered image's row 2·ty0 (the window's first row) for the group's first tile row; tile (g, tx)
/// reads d[r][s] = p[(2g + r) · rowLen + 2tx + s].
@inline(__always)
private func inputTransform(_ p: UnsafePointer<Float>, rowLen: Int, width: Int, into v: UnsafeMutablePointer<Float>,
                            rowStride: Int) {
    // Row r of every tile's window: columns 0, 1 (from p) and 2, 3 (from p + 2), split even/odd.
    @inline(__always) func row(_ r: Int) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
        let a = windowRows(p + r * rowLen, rowLen: rowLen, width: width), b = windowRows(p + r * rowLen + 2, rowLen: rowLen, width: width)
        let e0 = deinterleave(a.0, a.1), e2 = deinterleave(b.0, b.1)
        return (e0.0, e0.1, e2.0, e2.1)
    }
    let d0 = row(0), d1 = row(1), d2 = row(2), d3 = row(3)
    // Columns of Bᵀ d: t_s = Bᵀ (d[0][s], …, d[3][s]).
    storeTransformRows(bt(d0.0, d1.0, d2.0, d3.0), bt(d0.1, d1.1, d2.1, d3.1), bt(d0.2, d1.2, d2.2, d3.2),
                       bt(d0.3, d1.3, d2.3, d3.3), into: v, rowStride: rowStride)
}

/// The columns t_s = Bᵀ (d[0][s], …, d[3][s]) of Bᵀ d finished: row i of (Bᵀ d) B, Bᵀ applied to row i of
/// Bᵀ d, into v[(4i + j) · rowStride ..< +16].
@inline(__always)
private func storeTransformRows(_ t0: Four, _ t1: Four, _ t2: Four, _ t3: Four, into v: UnsafeMutablePointer<Float>,
                                rowStride: Int) {
    @inline(__always) func put(_ i: Int, _ r: Four) {
        let base = v + 4 * i * rowStride
        store16(r.0, base); store16(r.1, base + rowStride); store16(r.2, base + 2 * rowStride); store16(r.3, base + 3 * rowStride)
    }
    put(0, bt(t0.0, t1.0, t2.0, t3.0)); put(1, bt(t0.1, t1.1, t2.1, t3.1))
    put(2, bt(t0.2, t1.2, t2.2, t3.2)); put(3, bt(t0.3, t1.3, t2.3, t3.3))
}

/// Aᵀ (a, b, c, d) with Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]].
@inline(__always)
private func at(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>, _ d: SIMD16<Float>) -> (SIMD16<Float>, SIMD16<Float>) {
    (a + b + c, b - c - d)
}

/// Aᵀ M A for 16 tiles, M[ξ] the 16 floats at m + ξ · rowStride: outputs (0,0), (0,1), (1,0), (1,1).
@inline(__always)
private func outputTransform(_ m: UnsafePointer<Float>, rowStride: Int)
    -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
    @inline(__always) func mm(_ k: Int) -> SIMD16<Float> { load16(m + k * rowStride) }
    // Columns of Aᵀ M, then Aᵀ on each of its two rows.
    let s0 = at(mm(0), mm(4), mm(8), mm(12)), s1 = at(mm(1), mm(5), mm(9), mm(13))
    let s2 = at(mm(2), mm(6), mm(10), mm(14)), s3 = at(mm(3), mm(7), mm(11), mm(15))
    let r0 = at(s0.0, s1.0, s2.0, s3.0), r1 = at(s0.1, s1.1, s2.1, s3.1)
    return (r0.0, r0.1, r1.0, r1.1)
}

// MARK: - F(4×4, 3×3)
//
// Bᵀ, G and Aᵀ of the interpolation points 0, 1, −1, ½, −2 (Toom-Cook; Barabasz et al. 2018 on their
// accuracy). Entries up to 8 make the float error larger than F(2×2)'s; with −2 and ½ in place of ±2 it
// is about 0.6 of the usual points' (scripts/winograd_error.py; figures in BENCHMARKS.md). ConvPathsTests
// checks the paths against the definition, the models' tests against PyTorch at 1e-4.

private typealias Six = (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>)
private typealias Four = (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>)

/// Bᵀ d for Bᵀ = [[1, −3/2, −2, 3/2, 1, 0], [0, −1, ½, 5/2, 1, 0], [0, 1, −5/2, ½, 1, 0], [0, −2, −1, 2, 1, 0],
/// [0, ½, −1, −½, 1, 0], [0, 1, −3/2, −2, 3/2, 1]].
@inline(__always)
private func bt6(_ d: Six) -> Six {
    typealias V = SIMD16<Float>
    let half = V(repeating: 0.5), two = V(repeating: 2), threeHalves = V(repeating: 1.5), fiveHalves = V(repeating: 2.5)
    let a = d.3 - d.1, e = d.4 - d.2
    return ((d.4 + d.0).addingProduct(threeHalves, a).addingProduct(-two, d.2),
            (d.4 - d.1).addingProduct(half, d.2).addingProduct(fiveHalves, d.3),
            (d.4 + d.1).addingProduct(-fiveHalves, d.2).addingProduct(half, d.3),
            e.addingProduct(two, a), e.addingProduct(-half, a),
            (d.5 + d.1).addingProduct(-two, d.3).addingProduct(threeHalves, e))
}

/// Aᵀ m for Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, ½, −2, 0], [0, 1, 1, ¼, 4, 0], [0, 1, −1, ⅛, −8, 1]].
@inline(__always)
private func at6(_ m: Six) -> Four {
    typealias V = SIMD16<Float>
    let a = m.1 + m.2, b = m.1 - m.2
    return (m.0 + a + m.3 + m.4, b.addingProduct(V(repeating: 0.5), m.3).addingProduct(V(repeating: -2), m.4),
            a.addingProduct(V(repeating: 0.25), m.3).addingProduct(V(repeating: 4), m.4),
            b.addingProduct(V(repeating: 0.125), m.3).addingProduct(V(repeating: -8), m.4) + m.5)
}

/// (G g Gᵀ)[a][b] into put(6a + b, ·) for the 3×3 filters g[i][j] = tap(3i + j), one per lane,
/// G = [[1, 0, 0], [⅓, ⅓, ⅓], [−⅓, ⅓, −⅓], [−16/15, −8/15, −4/15], [1/15, −2/15, 4/15], [0, 0, 1]].
@inline(__always)
private func filterTransform4(_ tap: (Int) -> SIMD8<Float>, into put: (Int, SIMD8<Float>) -> Void) {
    typealias V = SIMD8<Float>
    @inline(__always) func g6(_ a: V, _ b: V, _ c: V) -> (V, V, V, V, V, V) {
        let s = a + c
        return (a, (s + b) * (1 / 3), (b - s) * (1 / 3), (a * 16 + b * 8 + c * 4) * (-1 / 15), (a - b * 2 + c * 4) * (1 / 15), c)
    }
    // Columns of G g, then each of its six rows times Gᵀ.
    let c0 = g6(tap(0), tap(3), tap(6)), c1 = g6(tap(1), tap(4), tap(7)), c2 = g6(tap(2), tap(5), tap(8))
    @inline(__always) func row(_ a: Int, _ r: (V, V, V, V, V, V)) {
        put(6 * a, r.0); put(6 * a + 1, r.1); put(6 * a + 2, r.2); put(6 * a + 3, r.3); put(6 * a + 4, r.4); put(6 * a + 5, r.5)
    }
    row(0, g6(c0.0, c1.0, c2.0)); row(1, g6(c0.1, c1.1, c2.1)); row(2, g6(c0.2, c1.2, c2.2))
    row(3, g6(c0.3, c1.3, c2.3)); row(4, g6(c0.4, c1.4, c2.4)); row(5, g6(c0.5, c1.5, c2.5))
}

/// A channel's zero-bordered rows for F(4×4) groups (a map 16, 32 or 64 wide), each row held as its
/// four column phases: phase q of bordered row i is B[4t + q] for t ≤ width / 4, B[j] = x[i − 1][j − 1]
/// (zero outside the image), `stride` floats apart. A group's window columns 0-3 are then the phases
/// and columns 4-5 phases 0-1 one float on: plain loads, where splitting the runs of every window row
/// read (each image row read 1.5 times, twice each) cost eight even/odd splits per 64 floats; the fill
/// splits each row once (ResNet-20's 16-channel forward at 32×32 on AVX2: 2.67 → 2.48 ms; BENCHMARKS.md,
/// stop 46).
private struct PhasedRows {
    let c, h, w, width: Int
    /// Floats between phases, and between rows (four phases).
    let stride: Int, rowLen: Int
    /// Bordered rows per channel: the map's, two of border and one of slack (as `DirectLayout`).
    let rows: Int
    var size: Int { c * rows * rowLen }

    init(c: Int, h: Int, w: Int, mapWidth: Int, mapHeight: Int) {
        self.c = c; self.h = h; self.w = w; width = mapWidth
        stride = mapWidth / 4 + 1; rowLen = 4 * stride; rows = mapHeight + 3
    }

    /// One image [c][h][w] into `dst`, cleared once: only positions inside the image's rows are written
    /// (columns past w as zeros), so the border rows and each phase's last float keep their zeros.
    func fill(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>) {
        // 32 floats at a time (a 64-wide row's half, a 32-wide row, two 16-wide rows), split into phases
        // (`nntop_phases32`). Image column j is B's j + 1: its phases 0-2 are B's 1-3, its phase 3 B's
        // phase 0 one float on. 16 wide, the second row's phases go a row on.
        let pieces = max(1, width / 32), rowsPerPiece = width == 16 ? 2 : 1, next = width == 16 ? rowLen : 4
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { tmp in
            let t = tmp.baseAddress!
            for ch in 0..<c {
                let plane = src + ch * h * w, out = dst + ch * rows * rowLen
                var y = 0
                while y < h {
                    let row = out + (y + 1) * rowLen
                    for k in 0..<pieces {
                        var p = plane + y * w + 32 * k
                        if w != width || y + rowsPerPiece > h {
                            // A zero-extended map's rows, or an odd last row: through a zeroed copy.
                            zeroFloats(t, 32)
                            for r in 0..<min(rowsPerPiece, h - y) {
                                let from = (y + r) * w + 32 * k, count = min(32 / rowsPerPiece, w - 32 * k)
                                if count > 0 { copyFloats(t + r * width, plane + from, count) }
                            }
                            p = UnsafePointer(t)
                        }
                        let d = row + 8 * k
                        nntop_phases32(p, d + stride, d + 2 * stride, d + 3 * stride, d + 1, next)
                    }
                    y += rowsPerPiece
                }
            }
        }
    }

    /// Window row `row` of a group whose first window row is at p, as `inputTransform4` reads it: columns
    /// 0-3 (phases 0-3), then 4 and 5 (phases 0 and 1 one tile on). Lane 4k + tx (16 wide), 8k + tx (32
    /// wide) or tx (64 wide) is tile (k, tx)'s, tile row k's window 4k rows down.
    @inline(__always) func window(_ p: UnsafePointer<Float>, row: Int) -> Six {
        let r = p + row * rowLen, s = stride
        @inline(__always) func at(_ o: Int) -> SIMD16<Float> {
            switch width {
            case 64: return load16(r + o)
            case 32: return SIMD16(lowHalf: load8(r + o), highHalf: load8(r + 4 * rowLen + o))
            default:
                @inline(__always) func four(_ q: UnsafePointer<Float>) -> SIMD4<Float> {
                    UnsafeRawPointer(q).loadUnaligned(as: SIMD4<Float>.self)
                }
                return SIMD16(lowHalf: SIMD8(lowHalf: four(r + o), highHalf: four(r + 4 * rowLen + o)),
                              highHalf: SIMD8(lowHalf: four(r + 8 * rowLen + o), highHalf: four(r + 12 * rowLen + o)))
            }
        }
        return (at(0), at(s), at(2 * s), at(3 * s), at(1), at(s + 1))
    }
}

/// 64 floats split into the column phases 4t + q (q < 4): lane t of phase q is float 4t + q; of `quadRuns`,
/// lane 4k + 2·row + tx is image k's tile (row, tx)'s column q. Two rounds of even/odd.
@inline(__always)
private func phases(_ x: Four) -> Four {
    let a = deinterleave(x.0, x.1), b = deinterleave(x.2, x.3)
    let e = deinterleave(a.0, b.0), o = deinterleave(a.1, b.1)
    return (e.0, o.0, e.1, o.1)
}

/// Runs from phases: the inverse of `phases`, interleaving twice.
@inline(__always)
private func runs(_ p: Four) -> Four {
    let e = interleave(p.0, p.2), o = interleave(p.1, p.3)
    let a = interleave(e.0, o.0), b = interleave(e.1, o.1)
    return (a.0, a.1, b.0, b.1)
}

/// A group of 8×8 maps' tiles: four images' (at q.k, k < 4) tile rows 0 and 1 (4 rows apart) as the
/// two halves of vector k, at offset `off` from each image's first window row.
@inline(__always)
private func quadRuns(_ q: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>), _ off: Int,
                      rowLen: Int) -> Four {
    @inline(__always) func pair(_ p: UnsafePointer<Float>) -> SIMD16<Float> { SIMD16(lowHalf: load8(p + off), highHalf: load8(p + off + 4 * rowLen)) }
    return (pair(q.0), pair(q.1), pair(q.2), pair(q.3))
}

/// V = Bᵀ d B of one channel of a group's 16 tiles (6×6 windows, 4 apart), into v[ξ · rowStride ..< +16]
/// (ξ = 6i + j); window(r) is window row r's six columns, a tile per lane (`PhasedRows.window`, or the
/// phases of `quadRuns`). The 36 vectors between the two passes go through `stage` (36 · 16 floats),
/// which the registers could not hold.
@inline(__always)
private func inputTransform4(_ window: (Int) -> Six, stage: UnsafeMutablePointer<Float>,
                             into v: UnsafeMutablePointer<Float>, rowStride: Int) {
    // Each window row r: Bᵀ along its columns.
    for r in 0..<6 {
        let t = bt6(window(r)), s = stage + 6 * 16 * r
        store16(t.0, s); store16(t.1, s + 16); store16(t.2, s + 32); store16(t.3, s + 48); store16(t.4, s + 64); store16(t.5, s + 80)
    }
    // Each column j: Bᵀ down the rows.
    for j in 0..<6 {
        @inline(__always) func st(_ r: Int) -> SIMD16<Float> { load16(stage + 16 * (6 * r + j)) }
        let t = bt6((st(0), st(1), st(2), st(3), st(4), st(5))), d = v + j * rowStride
        store16(t.0, d); store16(t.1, d + 6 * rowStride); store16(t.2, d + 12 * rowStride)
        store16(t.3, d + 18 * rowStride); store16(t.4, d + 24 * rowStride); store16(t.5, d + 30 * rowStride)
    }
}

/// Aᵀ M A for a group's 16 tiles, M[ξ] the 16 floats at m + ξ · rowStride; output row dy (< 4) of every
/// tile goes to put(dy, columns): its outputs in columns 0-3, one tile per lane (`runs` makes them runs of
/// output rows: 64 wide one tile row's 64 floats, 32 wide two tile rows' 32, 16 wide four tile rows' 16;
/// 8×8 maps, `quadRuns`' layout).
@inline(__always)
private func outputTransform4(_ m: UnsafePointer<Float>, rowStride: Int, stage: UnsafeMutablePointer<Float>,
                              put: (Int, Four) -> Void) {
    // Each column j: Aᵀ down the rows, into stage[dy][j].
    for j in 0..<6 {
        @inline(__always) func mm(_ i: Int) -> SIMD16<Float> { load16(m + (6 * i + j) * rowStride) }
        let s = at6((mm(0), mm(1), mm(2), mm(3), mm(4), mm(5)))
        store16(s.0, stage + 16 * j); store16(s.1, stage + 16 * (6 + j)); store16(s.2, stage + 16 * (12 + j)); store16(s.3, stage + 16 * (18 + j))
    }
    // Each output row: Aᵀ along it.
    for dy in 0..<4 {
        @inline(__always) func st(_ j: Int) -> SIMD16<Float> { load16(stage + 16 * (6 * dy + j)) }
        put(dy, at6((st(0), st(1), st(2), st(3), st(4), st(5))))
    }
}

// MARK: - The weight gradient

/// Whether `conv3x3BackwardWeights` takes this geometry: `conv3x3Applies` with input and output channels
/// in whole vectors of 16 (the channels-last transposes' blocks). A zero-extended or 64-wide map up to 256
/// channels a side (ResNet-50 224's layer3), a 7×7 one up to 128 (past that its per-task sums outgrow the
/// caches and the panels win). On 4×4 maps (512 channels a side too: VGG's block 4, its dU 38 MB) one
/// tile an image, the batch is the products' whole depth (`singleTileWeightGradient`).
func conv3x3WeightsApply(_ g: ConvGeometry) -> Bool {
    guard conv3x3Applies(g) && g.inChannels % 16 == 0 && g.outChannels % 16 == 0 else { return false }
    if singleTilesApply(g) { return true }
    let exact = TransformedMap(height: g.height, width: g.width).map { $0.width == g.width && $0.height == g.height } == true
    return exact || max(g.inChannels, g.outChannels) <= ((g.height, g.width) == (7, 7) ? 128 : 256)
}

/// dW of `conv3x3Forward`, overwritten: dW[o][c] = Gᵀ dU[o][c] G with dU[ξ][o][c] = Σ over tiles of
/// Z[ξ][o] · V[ξ][c], Z = A dY Aᵀ the tile's 2×2 output gradient spread back (the adjoint of y = Aᵀ M A)
/// and V = Bᵀ d B its input window as in the forward. 16 sums over the batch's tiles per (o, c) instead
/// of 9 over its pixels; in F(4×4) tiles (where the forward takes them), 36 sums over a quarter as many
/// tiles. Each image is first laid out channels-last ([pixel][channel]), so V and Z are built 16 input
/// and 8 (F(4×4): 16) output channels to a vector, rows [ξ][tile][channel] that the 8×32 (or 8×16) tile
/// product reads with the tiles as its depth.
func conv3x3BackwardWeights(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, geometry g: ConvGeometry,
                            dWeight: UnsafeMutablePointer<Float>) {
    if singleTilesApply(g) { singleTileWeightGradient(dy: dy, x: x, geometry: g, dWeight: dWeight); return }
    let cin = g.inChannels, cout = g.outChannels, h = g.height, w = g.width, plane = h * w
    // F(4×4) tiles where the forward takes them (36 sums per 4×4 outputs, not 64), else F(2×2).
    let large = largeTilesApply(height: h, width: w, inChannels: cin, outChannels: cout, batch: g.batch)
    let tile = large ? 4 : 2, xis = (tile + 2) * (tile + 2)
    // The tiles that cover the map (no tile need lie past it: a tile's rows here are its channels, not
    // lanes of a group), the gradient laid out zero-extended to them (a 7×7 map as 8×8, 28 in F(2×2) as is).
    let tilesW = (w + tile - 1) / tile, tilesH = (h + tile - 1) / tile, tiles = tilesH * tilesW
    let mw = tilesW * tile, mh = tilesH * tile, extended = mw != w || mh != h
    // Images per chunk: a chunk's tiles are the product's depth, at least 64 where the maps are small
    // (F(4×4): 32, so that its 36 rows of V and Z stay within L2 at 64 channels).
    let perChunk = max(1, min(g.batch, (large ? 32 : 64) / tiles)), chunks = (g.batch + perChunk - 1) / perChunk
    let depth = perChunk * tiles, uLen = xis * cout * cin
    let vXi = transformRowStride(depth * cin), zXi = transformRowStride(depth * cout)
    let vLen = xis * vXi, zLen = xis * zXi
    let dytLen = mh * mw * cout + (extended ? plane * cout : 0)
    let perTask = (plane * cin + dytLen + vLen + zLen + uLen + cin + 15) / 16 * 16
    let tasks = Parallel.chunkCount(chunks, grain: 1)
    let buf = ScratchPool.shared.take(tasks * perTask + 16)
    defer { ScratchPool.shared.give(buf) }
    Parallel.run(tasks) { task in
        let xt = buf.0 + task * perTask, dyt = xt + plane * cin, v = dyt + dytLen, z = v + vLen
        let du = z + zLen, zeros = du + uLen
        zeroFloats(du, uLen); zeroFloats(zeros, cin)
        if extended { zeroFloats(dyt, mh * mw * cout) }
        let chunkRange = (chunks * task / tasks)..<(chunks * (task + 1) / tasks)
        let lastImage = min(g.batch, chunkRange.upperBound * perChunk) - 1
        for chunk in chunkRange {
            let n0 = chunk * perChunk, count = min(perChunk, g.batch - n0)
            if count < perChunk { zeroFloats(v, vLen); zeroFloats(z, zLen) }
            for k in 0..<count {
                let n = n0 + k
                transposeBlockIn(x + n * cin * plane, count: cin, stride: plane, len: plane, xt, dstStride: cin, lanes: cin)
                if extended {
                    // Rows of w pixels into rows of mw: the extension's row and column keep their zeros.
                    let staged = dyt + mh * mw * cout
                    transposeBlockIn(dy + n * cout * plane, count: cout, stride: plane, len: plane, staged, dstStride: cout, lanes: cout)
                    for r in 0..<h { copyFloats(dyt + r * mw * cout, staged + r * w * cout, w * cout) }
                } else {
                    transposeBlockIn(dy + n * cout * plane, count: cout, stride: plane, len: plane, dyt, dstStride: cout, lanes: cout)
                }
                for ty in 0..<tilesH {
                    // The next image's x and dy, a share per tile row, for its transposes (`prefetchesPay`).
                    if n < lastImage && prefetchesPay {
                        @inline(__always) func share(_ p: UnsafePointer<Float>, _ floats: Int) {
                            let from = ty * floats / tilesH, to = (ty + 1) * floats / tilesH
                            prefetchForReading(p + from, count: to - from)
                        }
                        share(x + (n + 1) * cin * plane, cin * plane); share(dy + (n + 1) * cout * plane, cout * plane)
                    }
                    for tx in 0..<tilesW {
                        let t = k * tiles + ty * tilesW + tx, dyTile = dyt + tile * (ty * mw + tx) * cout
                        if large {
                            windowTransform4(xt, zeros, ty: ty, tx: tx, h: h, w: w, channels: cin, into: v + t * cin, rowStride: vXi)
                            gradientTransform4(dyTile, rowLen: mw * cout, channels: cout, into: z + t * cout, rowStride: zXi)
                        } else {
                            windowTransform(xt, zeros, ty: ty, tx: tx, h: h, w: w, channels: cin, into: v + t * cin, rowStride: vXi)
                            gradientTransform(dyTile, rowLen: mw * cout, channels: cout, into: z + t * cout, rowStride: zXi)
                        }
                    }
                }
            }
            // dU[ξ] += Z[ξ]ᵀ V[ξ] over the chunk's tiles.
            for xi in 0..<xis {
                let zx = UnsafePointer(z + xi * zXi), vx = UnsafePointer(v + xi * vXi), ux = du + xi * cout * cin
                for o0 in Swift.stride(from: 0, to: cout, by: mr) {
                    var c0 = 0
                    while c0 + 32 <= cin {
                        tileProduct(depth: depth, rows: 8, a: zx + o0, aStride: cout, bRow: { vx + $0 * cin + c0 }) { r, col, v in
                            let d = ux + (o0 + r) * cin + c0 + col
                            store16(load16(d) + v, d)
                        }
                        c0 += 32
                    }
                    if c0 < cin {
                        outerTile8x16(rows: 1, columns: depth, zx + o0, aRow: 0, aColumn: cout, vx + c0, bRow: 0, bColumn: cin,
                                      ux + o0 * cin + c0, ldc: cin)
                    }
                }
            }
        }
    }
    transformedGradientBack(buf.0 + plane * cin + dytLen + vLen + zLen, copies: tasks, copyStride: perTask, cout: cout, cin: cin,
                            large: large, into: dWeight)
}

/// `conv3x3BackwardWeights` on 4×4 maps, F(4×4) tiles: the zero-bordered map is one tile's window, so an
/// image is one tile and the batch is all the products' depth. (The general path's chunks of images gave
/// a depth of 32 here and a dU per task to add up, and lost to the panels.) The images' V and Z are laid
/// out whole, [ξ][image][channel], each image by one task; then each item, a ξ and 8 output channels, sums
/// its rows of dU[ξ] over the whole batch at once, in image order, whichever thread takes it.
private func singleTileWeightGradient(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, geometry g: ConvGeometry,
                                      dWeight: UnsafeMutablePointer<Float>) {
    let cin = g.inChannels, cout = g.outChannels, batch = g.batch
    let vXi = transformRowStride(batch * cin), zXi = transformRowStride(batch * cout), uLen = 36 * cout * cin
    let perTask = (16 * cin + 16 * cout + cin + 15) / 16 * 16
    let tasks = Parallel.chunkCount(batch, grain: 4)
    let buf = ScratchPool.shared.take(36 * (vXi + zXi) + uLen + tasks * perTask + 16)
    defer { ScratchPool.shared.give(buf) }
    let v = buf.0, z = v + 36 * vXi, du = z + 36 * zXi
    Parallel.run(tasks) { task in
        let xt = du + uLen + task * perTask, dyt = xt + 16 * cin, zeros = dyt + 16 * cout
        zeroFloats(zeros, cin)
        for n in (batch * task / tasks)..<(batch * (task + 1) / tasks) {
            transposeBlockIn(x + n * cin * 16, count: cin, stride: 16, len: 16, xt, dstStride: cin, lanes: cin)
            transposeBlockIn(dy + n * cout * 16, count: cout, stride: 16, len: 16, dyt, dstStride: cout, lanes: cout)
            windowTransform4(xt, zeros, ty: 0, tx: 0, h: 4, w: 4, channels: cin, into: v + n * cin, rowStride: vXi)
            gradientTransform4(dyt, rowLen: 4 * cout, channels: cout, into: z + n * cout, rowStride: zXi)
        }
    }
    // dU[ξ][o ..< o + 8][·] = Z[ξ]ᵀ V[ξ] over the batch.
    let oPanels = cout / mr
    Parallel.forEach(36 * oPanels, grain: 1) { item in
        let xi = item / oPanels, o0 = (item % oPanels) * mr
        let zx = UnsafePointer(z + xi * zXi), vx = UnsafePointer(v + xi * vXi), ux = du + xi * cout * cin
        var c0 = 0
        while c0 + 32 <= cin {
            tileProduct(depth: batch, rows: 8, a: zx + o0, aStride: cout, bRow: { vx + $0 * cin + c0 }) { r, col, v in
                store16(v, ux + (o0 + r) * cin + c0 + col)
            }
            c0 += 32
        }
        if c0 < cin {
            for r in 0..<mr { zeroFloats(ux + (o0 + r) * cin + c0, 16) }
            outerTile8x16(rows: 1, columns: batch, zx + o0, aRow: 0, aColumn: cout, vx + c0, bRow: 0, bColumn: cin,
                          ux + o0 * cin + c0, ldc: cin)
        }
    }
    transformedGradientBack(du, copies: 1, copyStride: 0, cout: cout, cin: cin, large: true, into: dWeight)
}

/// dW = Gᵀ dU G per (o, c), dU[ξ][o][c] the sum of `copies` partial sums copyStride floats apart, added in
/// their order; G of F(4×4) (`filterTransform4`) where `large`, of F(2×2) otherwise. 16 input channels a
/// vector (`conv3x3WeightsApply` takes whole vectors): one (o, c) at a time, this took twice the products
/// of a 4×4 map's weight gradient.
private func transformedGradientBack(_ first: UnsafeMutablePointer<Float>, copies: Int, copyStride: Int, cout: Int, cin: Int,
                                     large: Bool, into dWeight: UnsafeMutablePointer<Float>) {
    typealias V = SIMD16<Float>
    let cBlocks = cin / 16
    Parallel.forEach(cout * cBlocks, grain: 16) { item in
        let o = item / cBlocks, c = (item % cBlocks) * 16, oc = o * cin + c
        @inline(__always) func sum(_ xi: Int) -> V {
            var acc = load16(first + xi * cout * cin + oc)
            for copy in 1..<max(1, copies) { acc += load16(first + copy * copyStride + xi * cout * cin + oc) }
            return acc
        }
        // Column j of Gᵀ dU G: taps j, 3 + j, 6 + j.
        @inline(__always) func put(_ j: Int, _ column: (V, V, V)) {
            store16(column.0, dWeight + (j * cout + o) * cin + c); store16(column.1, dWeight + ((3 + j) * cout + o) * cin + c)
            store16(column.2, dWeight + ((6 + j) * cout + o) * cin + c)
        }
        if large {
            // Rows a of dU G (G of F(4×4): `filterTransform4`), then Gᵀ down each of its three columns.
            @inline(__always) func gt6(_ u: (V, V, V, V, V, V)) -> (V, V, V) {
                let third = V(repeating: 1 / 3), fifteenth = V(repeating: 1 / 15)
                let two = V(repeating: 2), four = V(repeating: 4), eight = V(repeating: 8), sixteen = V(repeating: 16)
                return (u.0 + (u.1 - u.2) * third - (sixteen * u.3 - u.4) * fifteenth,
                        (u.1 + u.2) * third - (eight * u.3 + two * u.4) * fifteenth,
                        (u.1 - u.2) * third - (four * u.3 - four * u.4) * fifteenth + u.5)
            }
            @inline(__always) func row(_ a: Int) -> (V, V, V) {
                gt6((sum(6 * a), sum(6 * a + 1), sum(6 * a + 2), sum(6 * a + 3), sum(6 * a + 4), sum(6 * a + 5)))
            }
            let e0 = row(0), e1 = row(1), e2 = row(2), e3 = row(3), e4 = row(4), e5 = row(5)
            put(0, gt6((e0.0, e1.0, e2.0, e3.0, e4.0, e5.0))); put(1, gt6((e0.1, e1.1, e2.1, e3.1, e4.1, e5.1)))
            put(2, gt6((e0.2, e1.2, e2.2, e3.2, e4.2, e5.2)))
            return
        }
        let half = V(repeating: 0.5)
        @inline(__always) func gt(_ a: V, _ b: V, _ c: V, _ d: V) -> (V, V, V) {
            (a + half * b + half * c, half * b - half * c, half * b + half * c + d)
        }
        // Rows a of dU G, then Gᵀ down each of its three columns.
        let e0 = gt(sum(0), sum(1), sum(2), sum(3)), e1 = gt(sum(4), sum(5), sum(6), sum(7))
        let e2 = gt(sum(8), sum(9), sum(10), sum(11)), e3 = gt(sum(12), sum(13), sum(14), sum(15))
        put(0, gt(e0.0, e1.0, e2.0, e3.0)); put(1, gt(e0.1, e1.1, e2.1, e3.1)); put(2, gt(e0.2, e1.2, e2.2, e3.2))
    }
}

/// Where each pixel of tile (ty, tx)'s (tile + 2)² window lies in the channels-last image xt, row by row
/// into src: its first channel, or `zeros` outside the image.
@inline(__always)
private func windowPixels(_ xt: UnsafePointer<Float>, _ zeros: UnsafePointer<Float>, ty: Int, tx: Int, tile: Int, h: Int,
                          w: Int, channels: Int, into src: UnsafeMutablePointer<UnsafePointer<Float>>) {
    let side = tile + 2
    for r in 0..<side {
        let iy = tile * ty - 1 + r
        for s in 0..<side {
            let ix = tile * tx - 1 + s
            src[side * r + s] = iy >= 0 && iy < h && ix >= 0 && ix < w ? xt + (iy * w + ix) * channels : zeros
        }
    }
}

/// V = Bᵀ d B of tile (ty, tx) for every channel, 16 at a time, from the channels-last image xt (zeros
/// outside it), into v[ξ · rowStride + channel].
@inline(__always)
private func windowTransform(_ xt: UnsafePointer<Float>, _ zeros: UnsafePointer<Float>, ty: Int, tx: Int, h: Int, w: Int,
                             channels: Int, into v: UnsafeMutablePointer<Float>, rowStride: Int) {
    withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: 16) { src in
        windowPixels(xt, zeros, ty: ty, tx: tx, tile: 2, h: h, w: w, channels: channels, into: src.baseAddress!)
        var c = 0
        while c < channels {
            @inline(__always) func d(_ k: Int) -> SIMD16<Float> { load16(src[k] + c) }
            let t0 = bt(d(0), d(4), d(8), d(12)), t1 = bt(d(1), d(5), d(9), d(13))
            let t2 = bt(d(2), d(6), d(10), d(14)), t3 = bt(d(3), d(7), d(11), d(15))
            @inline(__always) func put(_ i: Int, _ r: (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>)) {
                let base = v + 4 * i * rowStride + c
                store16(r.0, base); store16(r.1, base + rowStride); store16(r.2, base + 2 * rowStride); store16(r.3, base + 3 * rowStride)
            }
            put(0, bt(t0.0, t1.0, t2.0, t3.0)); put(1, bt(t0.1, t1.1, t2.1, t3.1))
            put(2, bt(t0.2, t1.2, t2.2, t3.2)); put(3, bt(t0.3, t1.3, t2.3, t3.3))
            c += 16
        }
    }
}

/// Z = A dY Aᵀ (A = [[1, 0], [1, 1], [1, −1], [0, −1]]) for every output channel, 8 at a time: dY the
/// 2×2 outputs of the channels-last gradient at p (rows rowLen apart), into z[ξ · rowStride + channel].
@inline(__always)
private func gradientTransform(_ p: UnsafePointer<Float>, rowLen: Int, channels: Int, into z: UnsafeMutablePointer<Float>,
                               rowStride: Int) {
    @inline(__always) func a(_ u0: SIMD8<Float>, _ u1: SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        (u0, u0 + u1, u0 - u1, -u1)
    }
    var o = 0
    while o < channels {
        // Columns j of A dY, then A applied along each of its four rows.
        let q0 = a(load8(p + o), load8(p + rowLen + o)), q1 = a(load8(p + channels + o), load8(p + rowLen + channels + o))
        @inline(__always) func put(_ i: Int, _ r: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)) {
            let base = z + 4 * i * rowStride + o
            store8(r.0, base)
            store8(r.1, base + rowStride)
            store8(r.2, base + 2 * rowStride)
            store8(r.3, base + 3 * rowStride)
        }
        put(0, a(q0.0, q1.0)); put(1, a(q0.1, q1.1)); put(2, a(q0.2, q1.2)); put(3, a(q0.3, q1.3))
        o += 8
    }
}

/// V = Bᵀ d B of F(4×4)'s 6×6 window of tile (ty, tx) (`bt6`) for every channel, 16 at a time, from the
/// channels-last image xt (zeros outside it), into v[ξ · rowStride + channel], ξ = 6i + j. Transparent:
/// `@inline(__always)` left it a call per tile in the weight gradient, 8 % of its time at 16 channels.
@_transparent
private func windowTransform4(_ xt: UnsafePointer<Float>, _ zeros: UnsafePointer<Float>, ty: Int, tx: Int, h: Int, w: Int,
                              channels: Int, into v: UnsafeMutablePointer<Float>, rowStride: Int) {
    withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: 36) { src in
        windowPixels(xt, zeros, ty: ty, tx: tx, tile: 4, h: h, w: w, channels: channels, into: src.baseAddress!)
        var c = 0
        while c < channels {
            @inline(__always) func d(_ k: Int) -> SIMD16<Float> { load16(src[k] + c) }
            // Columns s of Bᵀ d, then Bᵀ along each of its six rows.
            @inline(__always) func column(_ s: Int) -> Six { bt6((d(s), d(6 + s), d(12 + s), d(18 + s), d(24 + s), d(30 + s))) }
            let t0 = column(0), t1 = column(1), t2 = column(2), t3 = column(3), t4 = column(4), t5 = column(5)
            @inline(__always) func put(_ i: Int, _ r: Six) {
                let base = v + 6 * i * rowStride + c
                store16(r.0, base); store16(r.1, base + rowStride); store16(r.2, base + 2 * rowStride)
                store16(r.3, base + 3 * rowStride); store16(r.4, base + 4 * rowStride); store16(r.5, base + 5 * rowStride)
            }
            put(0, bt6((t0.0, t1.0, t2.0, t3.0, t4.0, t5.0))); put(1, bt6((t0.1, t1.1, t2.1, t3.1, t4.1, t5.1)))
            put(2, bt6((t0.2, t1.2, t2.2, t3.2, t4.2, t5.2))); put(3, bt6((t0.3, t1.3, t2.3, t3.3, t4.3, t5.3)))
            put(4, bt6((t0.4, t1.4, t2.4, t3.4, t4.4, t5.4))); put(5, bt6((t0.5, t1.5, t2.5, t3.5, t4.5, t5.5)))
            c += 16
        }
    }
}

/// Z = A dY Aᵀ for F(4×4) (A the transpose of `at6`'s Aᵀ) for every output channel, 16 at a time: dY the
/// 4×4 outputs of the channels-last gradient at p (rows rowLen apart), into z[ξ · rowStride + channel].
@inline(__always)
private func gradientTransform4(_ p: UnsafePointer<Float>, rowLen: Int, channels: Int, into z: UnsafeMutablePointer<Float>,
                                rowStride: Int) {
    typealias V = SIMD16<Float>
    @inline(__always) func a(_ u: Four) -> Six {
        let even = u.0 + u.2, odd = u.1 + u.3
        return (u.0, even + odd, even - odd,
                u.0.addingProduct(V(repeating: 0.5), u.1).addingProduct(V(repeating: 0.25), u.2).addingProduct(V(repeating: 0.125), u.3),
                u.0.addingProduct(V(repeating: -2), u.1).addingProduct(V(repeating: 4), u.2).addingProduct(V(repeating: -8), u.3),
                u.3)
    }
    var o = 0
    while o < channels {
        @inline(__always) func d(_ r: Int, _ s: Int) -> V { load16(p + r * rowLen + s * channels + o) }
        // Columns s of A dY, then A along each of its six rows.
        @inline(__always) func column(_ s: Int) -> Six { a((d(0, s), d(1, s), d(2, s), d(3, s))) }
        let q0 = column(0), q1 = column(1), q2 = column(2), q3 = column(3)
        @inline(__always) func put(_ i: Int, _ r: Six) {
            let base = z + 6 * i * rowStride + o
            store16(r.0, base); store16(r.1, base + rowStride); store16(r.2, base + 2 * rowStride)
            store16(r.3, base + 3 * rowStride); store16(r.4, base + 4 * rowStride); store16(r.5, base + 5 * rowStride)
        }
        put(0, a((q0.0, q1.0, q2.0, q3.0))); put(1, a((q0.1, q1.1, q2.1, q3.1))); put(2, a((q0.2, q1.2, q2.2, q3.2)))
        put(3, a((q0.3, q1.3, q2.3, q3.3))); put(4, a((q0.4, q1.4, q2.4, q3.4))); put(5, a((q0.5, q1.5, q2.5, q3.5)))
        o += 16
    }
}

