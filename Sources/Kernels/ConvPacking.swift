import Foundation

// How the convolutions lay out their operands so that the tile products (TileProduct.swift) read
// whole rows of 32 (or 16, 64) floats, without an im2col matrix.
//
// Panels (ResNet-18's convs): the output pixels of the batch are cut into column panels of up to 32,
// one tile wide. A panel either covers up to 32 pixels of one image ("image-major", for large maps)
// or one pixel position in up to 32 images ("pixel-major", for maps of 64 pixels or fewer, where
// every pixel has its own set of taps that fall inside the image). An image-major panel packs its own
// slice of the im2col matrix straight from the input, keeping only the taps valid for at least one of
// its columns, with K in tap-major order (k = tap * Cin + c); a pixel-major unit transposes its 32
// images to [pixel][c][32] once, where each kernel row's valid taps already are such a slice. At
// 32×32 input, ResNet-18's layer4 convs (1×1 maps) then touch only their centre tap, layer3's (2×2)
// four of nine.
//
// Direct layouts (LeNet-5's small stride-1 convs): each image is copied into a zero-bordered buffer
// (`DirectLayout`), then into k "shifted copies" S[kj][c] (`ShiftedCopies`) that hold its padded rows
// cut to the output width, end to end. The im2col row of tap (c, ki, kj) is then the contiguous slice
// S[kj][c][ki·ow ..< ki·ow + oh·ow], lined up with an output plane: every lane a real pixel.

let panelWidth = 32
let mr = 8

/// The column panels of a convolution and the taps it can ever touch.
struct ConvPanels {
    let g: ConvGeometry
    let pixelMajor: Bool
    let pixels: Int          // outH * outW
    let outW: Int            // g.outW, computed once
    let units: Int           // images (image-major) or blocks of 32 images (pixel-major)
    let panelsPerUnit: Int
    let taps: [Int]          // taps (ki * kw + kj) valid for some output pixel, ascending
    var kUsed: Int { taps.count * g.inChannels }

    init(_ g: ConvGeometry) {
        self.g = g
        outW = g.outW; pixels = g.outH * outW
        pixelMajor = Self.pixelMajorFills(g)
        if pixelMajor {
            units = (g.batch + panelWidth - 1) / panelWidth; panelsPerUnit = pixels
        } else {
            units = g.batch; panelsPerUnit = (pixels + panelWidth - 1) / panelWidth
        }
        taps = ConvWeights.activeTaps(g)
        // Which taps a panel needs depends only on its place in its unit (its pixels), not the images.
        precondition(g.kernelH * g.kernelW <= TapMask.capacity, "kernel \(g.kernelH)×\(g.kernelW): at most \(TapMask.capacity) taps")
        var m = [TapMask](repeating: TapMask(), count: panelsPerUnit)
        let buf = UnsafeMutableRawPointer.allocate(byteCount: PanelColumns.bytes, alignment: 64)
        defer { buf.deallocate() }
        var cols = PanelColumns(buf)
        for i in 0..<panelsPerUnit { m[i] = cols.computeMask(i, self) }
        masks = m
    }
    /// Per panel of a unit: the taps valid for at least one of its columns.
    private(set) var masks: [TapMask] = []

    /// Whether pixel-major panels (images of one pixel) keep the cores busier than image-major ones
    /// (pixels of one image), maps of 64 pixels or fewer only: the share of each layout's panel columns
    /// that are real outputs, times the share of cores its units keep busy (a unit runs on one core).
    /// ResNet-50's 7×7 layer4 at batch 16: pixel-major fills half of one unit, one core's worth;
    /// image-major 49 of 64 columns, on every core (BENCHMARKS.md has the figures). As full either way
    /// (8×8 maps from batch 64): a 1×1 goes image-major, whose panels are the image's rows as they lie,
    /// where pixel-major transposes every input and output (ResNet-50's 1×1s at 32×32); a larger kernel
    /// stays pixel-major, which reads each tap in place from its one transpose where image-major panels
    /// copy every tap's rows (a 3×3/2 onto 8×8 took 1.26× as long; BENCHMARKS.md, stop 41).
    static func pixelMajorFills(_ g: ConvGeometry) -> Bool {
        let pixels = g.outH * g.outW
        guard pixels <= 64 else { return false }
        func fill(_ columns: Int, units: Int) -> Double {
            let panels = (columns + panelWidth - 1) / panelWidth
            return Double(columns) / Double(panels * panelWidth) * min(1, Double(units) / Double(Parallel.maxThreads))
        }
        let pixelMajor = fill(g.batch, units: (g.batch + panelWidth - 1) / panelWidth), imageMajor = fill(pixels, units: g.batch)
        return pixelMajor > imageMajor || (pixelMajor == imageMajor && g.kernelH * g.kernelW > 1)
    }

    /// Units covering images `n`: the images a unit's panels read and write.
    func images(ofUnit u: Int) -> Range<Int> {
        pixelMajor ? (u * panelWidth)..<min(g.batch, (u + 1) * panelWidth) : u..<(u + 1)
    }
}

/// A set of a kernel's taps (ki·kw + kj): the taps a panel's columns reach. Four words, so kernels up
/// to 16×16 (AlexNet's 11×11 has 121 taps); a UInt64 mask silently dropped every tap past the 64th.
struct TapMask {
    static let capacity = 256
    private var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0

    init() {}
    init(_ taps: [Int]) { for t in taps { insert(t) } }

    @inline(__always)
    func contains(_ t: Int) -> Bool {
        let word = t < 128 ? (t < 64 ? w0 : w1) : (t < 192 ? w2 : w3)
        return (word >> UInt64(t & 63)) & 1 != 0
    }

    @inline(__always)
    mutating func insert(_ t: Int) {
        precondition(t >= 0 && t < Self.capacity)
        let bit: UInt64 = 1 << UInt64(t & 63)
        switch t >> 6 {
        case 0: w0 |= bit
        case 1: w1 |= bit
        case 2: w2 |= bit
        default: w3 |= bit
        }
    }
}

/// Per-panel column description: where each column's image and window start.
struct PanelColumns {
    var count = 0
    let n: UnsafeMutablePointer<Int>, iy0: UnsafeMutablePointer<Int>, ix0: UnsafeMutablePointer<Int>
    let yOff: UnsafeMutablePointer<Int>       // n * Cout * P + p  (add co * P)
    let off: UnsafeMutablePointer<Int>         // per tap: x offset without the channel term (0 when invalid)
    let ok: UnsafeMutablePointer<Bool>

    init(_ buf: UnsafeMutableRawPointer) {
        let ints = buf.bindMemory(to: Int.self, capacity: 5 * panelWidth)
        n = ints; iy0 = ints + panelWidth; ix0 = ints + 2 * panelWidth; yOff = ints + 3 * panelWidth
        off = ints + 4 * panelWidth
        ok = (buf + 5 * panelWidth * 8).bindMemory(to: Bool.self, capacity: panelWidth)
    }
    static let bytes = 5 * panelWidth * 8 + panelWidth

    /// Fills the columns of panel `q` and returns the mask of taps valid for at least one of them
    /// (from `s.masks`: it depends only on the panel's place in its unit).
    mutating func load(_ q: Int, _ s: ConvPanels) -> TapMask {
        fill(q, s)
        return s.masks[q % s.panelsPerUnit]
    }

    /// The taps valid for at least one column of panel `q`, computed from the columns.
    mutating func computeMask(_ q: Int, _ s: ConvPanels) -> TapMask {
        fill(q, s)
        let g = s.g
        var mask = TapMask()
        for t in s.taps {
            let ki = t / g.kernelW, kj = t % g.kernelW
            for j in 0..<count {
                let iy = iy0[j] + ki, ix = ix0[j] + kj
                if iy >= 0 && iy < g.height && ix >= 0 && ix < g.width { mask.insert(t); break }
            }
        }
        return mask
    }

    private mutating func fill(_ q: Int, _ s: ConvPanels) {
        let g = s.g, unit = q / s.panelsPerUnit, i = q % s.panelsPerUnit, ow = s.outW
        if s.pixelMajor {
            let n0 = unit * panelWidth
            count = min(panelWidth, g.batch - n0)
            for j in 0..<count { n[j] = n0 + j; yOff[j] = (n0 + j) * g.outChannels * s.pixels + i }
            let oy = i / ow, ox = i % ow
            for j in 0..<count { iy0[j] = oy * g.stride - g.padding; ix0[j] = ox * g.stride - g.padding }
        } else {
            let p0 = i * panelWidth
            count = min(panelWidth, s.pixels - p0)
            // Row and column stepped along, not divided out per column.
            var oy = p0 / ow, ox = p0 % ow
            for j in 0..<count {
                n[j] = unit; yOff[j] = unit * g.outChannels * s.pixels + p0 + j
                iy0[j] = oy * g.stride - g.padding; ix0[j] = ox * g.stride - g.padding
                ox += 1; if ox == ow { ox = 0; oy += 1 }
            }
        }
    }

    /// Sets `off`/`ok` for tap t: off = n*Cin*H*W + iy*W + ix.
    @inline(__always)
    func prepareTap(_ t: Int, _ g: ConvGeometry) {
        let ki = t / g.kernelW, kj = t % g.kernelW, plane = g.height * g.width
        for j in 0..<panelWidth {
            if j < count {
                let iy = iy0[j] + ki, ix = ix0[j] + kj
                let valid = iy >= 0 && iy < g.height && ix >= 0 && ix < g.width
                ok[j] = valid
                off[j] = valid ? n[j] * g.inChannels * plane + iy * g.width + ix : 0
            } else {
                ok[j] = false; off[j] = 0
            }
        }
    }
}

/// Strided image-major convs (the stems, AlexNet's 11×11 stride 4, ResNet-50's stride-2 3×3s): one
/// image, zero padded and split into its `stride` column phases, [c][padded row][phase][pw], so a tap's
/// outputs along an output row read consecutive floats of one phase and a panel is packed with vector
/// copies, one per run of up to 16 outputs of a row, instead of a gather per column (which cost AlexNet's
/// stem more than its tile products: BENCHMARKS.md).
struct PhaseLayout {
    let rows, pw, stride, cin, h, w, pad: Int
    /// Floats before and after the layout proper: a run is loaded as 16 floats from its first source
    /// float, or up to 16 before it when it starts past column 16 of a panel row. What such a load reads
    /// past the run (the next phase row's floats) lands in columns another run or the zeroing overwrites.
    static let slack = 16
    init?(_ s: ConvPanels) {
        let g = s.g
        guard !s.pixelMajor, g.stride >= 2 else { return nil }
        cin = g.inChannels; h = g.height; w = g.width; pad = g.padding; stride = g.stride
        rows = g.height + 2 * g.padding
        pw = (g.width + 2 * g.padding + stride - 1) / stride
    }
    var size: Int { 2 * Self.slack + cin * rows * stride * pw }
    /// Offset of padded row `r`, phase `ph` of channel `c` (from the layout proper).
    @inline(__always) func row(_ c: Int, _ r: Int, _ ph: Int) -> Int { ((c * rows + r) * stride + ph) * pw }
    /// Panel q's runs: up to 16 consecutive outputs of one output row each, copied as one vector from
    /// panel column j[i] on, whose first source float (for tap (0, 0) of channel 0) is at offset[i].
    /// Returns the runs and the panel's columns.
    func runs(_ q: Int, _ s: ConvPanels, j: UnsafeMutablePointer<Int>, offset: UnsafeMutablePointer<Int>) -> (Int, Int) {
        let ow = s.outW, p0 = (q % s.panelsPerUnit) * panelWidth, columns = min(panelWidth, s.pixels - p0)
        var count = 0, col = 0, oy = p0 / ow, ox = p0 % ow
        while col < columns {
            let len = min(16, ow - ox, columns - col)
            j[count] = col; offset[count] = row(0, stride * oy, 0) + ox; count += 1
            col += len; ox += len
            if ox == ow { ox = 0; oy += 1 }
        }
        return (count, columns)
    }
    func build(_ image: UnsafePointer<Float>, _ buf: UnsafeMutablePointer<Float>) {
        buf.update(repeating: 0, count: size)
        let dst = buf + Self.slack
        for c in 0..<cin {
            for r in 0..<h {
                let src = image + (c * h + r) * w
                if stride == 2 {
                    // In vectors (copied float by float, a sixth of ResNet-20's stride-2 forward: BENCHMARKS.md).
                    let (even, odd) = strideTwoPhases(dst + row(c, r + pad, 0))
                    splitColumns(src, width: w, even: even, odd: odd)
                    continue
                }
                for ph in 0..<stride {
                    // Phase ph holds padded columns i·stride + ph, image columns i·stride + ph − pad.
                    let i0 = max(0, (pad - ph + stride - 1) / stride), i1 = min(pw, (w + pad - ph + stride - 1) / stride)
                    let s0 = src + i0 * stride + ph - pad, d = dst + row(c, r + pad, ph)
                    for i in i0..<i1 { d[i] = s0[(i - i0) * stride] }
                }
            }
        }
    }
}

extension PhaseLayout {
    /// Where image column 2m of a padded row (`first`, its phase 0) lands at stride 2: phase pad % 2 at
    /// m + pad / 2; column 2m + 1 in the other at m + (pad + 1) / 2.
    func strideTwoPhases(_ first: UnsafeMutablePointer<Float>) -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) {
        (first + (pad % 2) * pw + pad / 2, first + ((pad + 1) % 2) * pw + (pad + 1) / 2)
    }

    /// The adjoint of `build`: `image` ([cin][h][w]) from a layout of sums at `buf` (the positions
    /// `packPanel` reads, added to by the input gradient), its border dropped. Stride 2 interleaves runs
    /// of 32 columns back.
    func scatter(_ buf: UnsafePointer<Float>, into image: UnsafeMutablePointer<Float>) {
        let src = buf + Self.slack
        for c in 0..<cin {
            for r in 0..<h {
                let first = src + row(c, r + pad, 0), d = image + (c * h + r) * w
                if stride == 2 {
                    let (even, odd) = strideTwoPhases(UnsafeMutablePointer(mutating: first))
                    joinColumns(even: even, odd: odd, width: w, into: d)
                    continue
                }
                for col in 0..<w { let padded = col + pad; d[col] = first[(padded % stride) * pw + padded / stride] }
            }
        }
    }
}

/// Packs an image-major panel's im2col slice [k][32] for the taps in `mask` (tap-major, channels
/// inside): runs of an input row (one run per output row the panel covers), zero outside the image.
/// (Pixel-major panels need no packing: see the forward pass.)
@inline(__always)
func packPanel(_ x: UnsafePointer<Float>, _ s: ConvPanels, _ cols: PanelColumns,
                       q: Int, mask: TapMask, into bp: UnsafeMutablePointer<Float>,
                       phase: (PhaseLayout, UnsafePointer<Float>)? = nil) {
    let g = s.g, plane = g.height * g.width, cin = g.inChannels, w = g.width, st = g.stride
    var row = 0
    if let (L, buf) = phase {
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * panelWidth) { tmp in
            let runJ = tmp.baseAddress!, runOffset = runJ + panelWidth
            let (runs, columns) = L.runs(q, s, j: runJ, offset: runOffset)
            let ph = buf + PhaseLayout.slack, chanStride = L.rows * st * L.pw
            let lanes = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
            // Two whole runs (rows a multiple of 16 wide: the ResNet stems): two copies, no loop.
            let halves = runs == 2 && columns == panelWidth && runJ[1] == 16
            let o0 = runOffset[0], o1 = halves ? runOffset[1] : 0
            for t in s.taps where mask.contains(t) {
                let ki = t / g.kernelW, kj = t % g.kernelW, tapOff = L.row(0, ki, kj % st) + kj / st
                for c in 0..<cin {
                    let dst = bp + (row + c) * panelWidth, src = ph + tapOff + c * chanStride
                    if halves { store16(load16(src + o0), dst); store16(load16(src + o1), dst + 16); continue }
                    for i in 0..<runs {
                        let j = runJ[i], from = src + runOffset[i]
                        if j <= 16 {
                            store16(load16(from), dst + j)      // its spill past the run is the next run's to write
                        } else {
                            // Columns 16 ..< j are earlier runs': kept, the rest loaded from j − 16 floats back.
                            let keep = lanes .< SIMD16<Int32>(repeating: Int32(j - 16))
                            store16(load16(from - (j - 16)).replacing(with: load16(dst + 16), where: keep), dst + 16)
                        }
                    }
                    for j in columns..<panelWidth { dst[j] = 0 }
                }
                row += cin
            }
        }
        return
    }
    // Image-major, stride 1, "same" padding: a tap's 32 sources are consecutive floats; only the
    // edge columns are masked. Two masked vector copies per k row.
    let contiguous = !s.pixelMajor && st == 1 && g.outW == w && g.outH == g.height
    let total = g.batch * cin * plane
    for t in s.taps where mask.contains(t) {
        cols.prepareTap(t, g)
        let off = cols.off, ok = cols.ok
        if contiguous {
            let n = q / s.panelsPerUnit, p0 = (q % s.panelsPerUnit) * panelWidth
            let d = (t / g.kernelW - g.padding) * w + (t % g.kernelW - g.padding)
            let first = n * cin * plane + p0 + d
            if first >= 0 && first + (cin - 1) * plane + panelWidth <= total {
                var m0 = SIMDMask<SIMD16<Int32>>(), m1 = SIMDMask<SIMD16<Int32>>()
                for j in 0..<16 { m0[j] = !ok[j]; m1[j] = !ok[j + 16] }
                let zero = SIMD16<Float>()
                for c in 0..<cin {
                    let src = x + first + c * plane, dst = bp + (row + c) * panelWidth
                    store16(load16(src).replacing(with: zero, where: m0), dst)
                    store16(load16(src + 16).replacing(with: zero, where: m1), dst + 16)
                }
                row += cin
                continue
            }
        }
        for c in 0..<cin {
            let src = x + c * plane, dst = bp + (row + c) * panelWidth
            for j in 0..<panelWidth { let v = src[off[j]]; dst[j] = ok[j] ? v : 0 }
        }
        row += cin
    }
}

/// Runs `body(task, units, scratch)` over the units, each task with `scratch` floats of its own, in
/// `Parallel.maxThreads`-bounded tasks. `dynamic`: units are handed out one at a time to whichever task
/// asks next (`Parallel.dynamic`), for passes whose units write disjoint outputs (forward, dx), so a core
/// running slow this minute takes fewer; otherwise task t gets a fixed run of units (for per-task
/// partial sums added in a fixed order). Returns the number of tasks.
@discardableResult
func unitChunks(_ s: ConvPanels, workPerUnit: Int, scratch: Int, dynamic: Bool,
                        _ body: (Int, Range<Int>, UnsafeMutableRawPointer) -> Void) -> Int {
    let tasks = Parallel.chunkCount(s.units, grain: max(1, 1 << 10 / max(1, workPerUnit)))
    let bytes = (scratch * 4 + PanelColumns.bytes + 255) / 64 * 64
    let buf = ScratchPool.shared.take(tasks * bytes / 4 + 16)
    defer { ScratchPool.shared.give(buf) }
    let base = UnsafeMutableRawPointer(buf.0)
    if dynamic {
        Parallel.dynamic(s.units, tasks: tasks) { t, u in body(t, u..<(u + 1), base + t * bytes) }
    } else {
        Parallel.run(tasks) { c in body(c, (s.units * c / tasks)..<(s.units * (c + 1) / tasks), base + c * bytes) }
    }
    return tasks
}

extension ConvGeometry {
    /// A 1×1 convolution with stride > 1 and no padding reads only every stride-th pixel: it is the
    /// stride-1 convolution of that subsampled input (this geometry), a quarter of the input for
    /// stride 2, so the panels never transpose or pack the pixels it skips (ResNet's projections).
    var subsampled: ConvGeometry? {
        guard kernelH == 1 && kernelW == 1 && stride > 1 && padding == 0 else { return nil }
        return ConvGeometry(batch: batch, inChannels: inChannels, height: outH, width: outW, outChannels: outChannels,
                            kernel: 1)
    }
}

/// xs[n][c][oy][ox] = x[n][c][oy·stride][ox·stride]. At stride 2, 16 outputs a vector from the even lanes
/// of two (the ResNets' projections; one float at a time this was 1 % of ResNet-20's training step).
func subsample(_ x: UnsafePointer<Float>, _ g: ConvGeometry, into xs: UnsafeMutablePointer<Float>) {
    let oh = g.outH, ow = g.outW, w = g.width, plane = g.height * w, st = g.stride
    Parallel.forEach(g.batch * g.inChannels, grain: max(1, 4096 / max(1, plane))) { nc in
        let src = x + nc * plane, dst = xs + nc * oh * ow
        for oy in 0..<oh {
            let row = src + oy * st * w, out = dst + oy * ow
            if st == 2 { splitColumns(row, width: w, even: out, odd: nil) }   // ow = ⌈w / 2⌉, the even columns
            else { for ox in 0..<ow { out[ox] = row[ox * st] } }
        }
    }
}

/// The adjoint of `subsample`: dx[n][c][oy·stride][ox·stride] = dxs[n][c][oy][ox], zero elsewhere. At stride
/// 2 a row that receives values is written whole, each 16 of them interleaved with zeros.
func upsample(_ dxs: UnsafePointer<Float>, _ g: ConvGeometry, into dx: UnsafeMutablePointer<Float>) {
    let oh = g.outH, ow = g.outW, w = g.width, plane = g.height * w, st = g.stride
    Parallel.forEach(g.batch * g.inChannels, grain: max(1, 4096 / max(1, plane))) { nc in
        let src = dxs + nc * oh * ow, dst = dx + nc * plane
        guard st == 2 else {
            dst.update(repeating: 0, count: plane)
            for oy in 0..<oh { for ox in 0..<ow { dst[oy * st * w + ox * st] = src[oy * ow + ox] } }
            return
        }
        for iy in 0..<g.height {
            let row = dst + iy * w
            guard iy % 2 == 0 && iy / 2 < oh else { row.update(repeating: 0, count: w); continue }
            joinColumns(even: src + (iy / 2) * ow, odd: nil, width: w, into: row)
        }
    }
}

/// One image with a zero border of `pad`, rows long enough for a 32-float load at any tap column.
struct DirectLayout {
    let c, h, w, pad, k: Int
    let rowLen: Int          // padded row length: w + 2 pad, at least what a row's loads reach (`reach`)
    let rows: Int            // padded rows (+1 of slack)
    var size: Int { c * rows * rowLen }
    /// `room`: the map the reads span when it is larger than the image (zeros past the image's edge);
    /// `reach`: the widest read from a row's first k − 1 columns on.
    init(c: Int, h: Int, w: Int, pad: Int, k: Int, room: (h: Int, w: Int)? = nil, reach: Int = 32) {
        self.c = c; self.h = h; self.w = w; self.pad = pad; self.k = k
        let (rh, rw) = room ?? (h, w)
        rowLen = max(max(w, rw) + 2 * pad, k - 1 + reach)
        rows = max(h, rh) + 2 * pad + 1
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
struct ShiftedCopies {
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
