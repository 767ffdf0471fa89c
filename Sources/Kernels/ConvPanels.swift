import Foundation

// Convolution without an im2col matrix, skipping zero-padding taps.
//
// The output pixels of the batch are cut into column panels of up to 32 (one 8×32 microkernel tile
// wide). A panel either covers up to 32 pixels of one image ("image-major", for large feature maps)
// or one pixel position in up to 32 images ("pixel-major", for maps of 64 pixels or fewer, where
// every pixel has its own set of taps that fall inside the image). An image-major panel packs its own
// slice of the im2col matrix straight from the input, keeping only the taps that are valid for at
// least one of its columns, with K in tap-major order (k = tap * Cin + c); a pixel-major unit
// transposes its 32 images to [pixel][c][32] once, where each kernel row's valid taps already are such
// a slice. The microkernel then runs over those taps only: at 32×32 input, ResNet-18's layer4 convs
// (1×1 maps) touch only their centre tap, and layer3's (2×2) four of nine.
//
// forward:  y[n][co][p]   = bias[co] + Σ_(t,c) W[co][c][t] x[n][c][p+t]              (A = W, B = panel)
// dx:       dx[n][c][p+t] += Σ_co W[co][c][t] dy[n][co][p]    per valid tap         (A = Wᵀ per tap, B = dy panel)
// dW:       dW[co][c][t]  = Σ_(n,p) dy[n][co][p] x[n][c][p+t]                        (A = dy, B = x, K = (p, n))
// The forward and dx split work over images (or blocks of 32 images), so dx scatters never race. dW
// re-lays out x and dy channel-blocked with the image innermost and gives each thread whole output
// tiles (or, for the stem's single input channel, sums per-thread partials in a fixed order): results
// depend on the thread count only through that order.

private let panelWidth = 32
private let mr = 8

/// The column panels of a convolution and the taps it can ever touch.
struct ConvPanels {
    let g: ConvGeometry
    let pixelMajor: Bool
    let pixels: Int          // outH * outW
    let units: Int           // images (image-major) or blocks of 32 images (pixel-major)
    let panelsPerUnit: Int
    let taps: [Int]          // taps (ki * kw + kj) valid for some output pixel, ascending
    var kUsed: Int { taps.count * g.inChannels }

    init(_ g: ConvGeometry) {
        self.g = g
        pixels = g.outH * g.outW
        pixelMajor = pixels <= 64 && g.batch >= 16
        if pixelMajor {
            units = (g.batch + panelWidth - 1) / panelWidth; panelsPerUnit = pixels
        } else {
            units = g.batch; panelsPerUnit = (pixels + panelWidth - 1) / panelWidth
        }
        taps = ConvWeights.activeTaps(g)
        // Which taps a panel needs depends only on its place in its unit (its pixels), not the images.
        var m = [UInt64](repeating: 0, count: panelsPerUnit)
        let buf = UnsafeMutableRawPointer.allocate(byteCount: PanelColumns.bytes, alignment: 64)
        defer { buf.deallocate() }
        var cols = PanelColumns(buf)
        for i in 0..<panelsPerUnit { m[i] = cols.computeMask(i, self) }
        masks = m
    }
    /// Per panel of a unit: the taps valid for at least one of its columns.
    private(set) var masks: [UInt64] = []

    /// Units covering images `n`: the images a unit's panels read and write.
    func images(ofUnit u: Int) -> Range<Int> {
        pixelMajor ? (u * panelWidth)..<min(g.batch, (u + 1) * panelWidth) : u..<(u + 1)
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
    mutating func load(_ q: Int, _ s: ConvPanels) -> UInt64 {
        fill(q, s)
        return s.masks[q % s.panelsPerUnit]
    }

    /// The taps valid for at least one column of panel `q`, computed from the columns.
    mutating func computeMask(_ q: Int, _ s: ConvPanels) -> UInt64 {
        fill(q, s)
        let g = s.g
        var mask: UInt64 = 0
        for t in s.taps {
            let ki = t / g.kernelW, kj = t % g.kernelW
            for j in 0..<count {
                let iy = iy0[j] + ki, ix = ix0[j] + kj
                if iy >= 0 && iy < g.height && ix >= 0 && ix < g.width { mask |= 1 << UInt64(t); break }
            }
        }
        return mask
    }

    private mutating func fill(_ q: Int, _ s: ConvPanels) {
        let g = s.g, unit = q / s.panelsPerUnit, i = q % s.panelsPerUnit, ow = g.outW
        if s.pixelMajor {
            let n0 = unit * panelWidth
            count = min(panelWidth, g.batch - n0)
            for j in 0..<count { n[j] = n0 + j; yOff[j] = (n0 + j) * g.outChannels * s.pixels + i }
            let oy = i / ow, ox = i % ow
            for j in 0..<count { iy0[j] = oy * g.stride - g.padding; ix0[j] = ox * g.stride - g.padding }
        } else {
            let p0 = i * panelWidth
            count = min(panelWidth, s.pixels - p0)
            for j in 0..<count {
                let p = p0 + j
                n[j] = unit; yOff[j] = unit * g.outChannels * s.pixels + p
                iy0[j] = (p / ow) * g.stride - g.padding; ix0[j] = (p % ow) * g.stride - g.padding
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

/// 8×32 tile = a (k × 8 packed) · b (k × 32 packed), stored to (or added to) `t` [8][32]. 16 accumulators,
/// 2 loads and 8 broadcasts per 16 FMAs: ~90 % of the FMA peak with the panels in L1/L2.
@inline(__always)
func microTile(_ k: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ t: UnsafeMutablePointer<Float>,
               accumulate: Bool) {
    var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
    var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
    var c40 = SIMD16<Float>(), c41 = SIMD16<Float>(), c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
    var c60 = SIMD16<Float>(), c61 = SIMD16<Float>(), c70 = SIMD16<Float>(), c71 = SIMD16<Float>()
    var ap = a, bp = b
    for _ in 0..<k {
        let b0 = load16(bp), b1 = load16(bp + 16)
        var s = SIMD16<Float>(repeating: ap[0]); c00.addProduct(s, b0); c01.addProduct(s, b1)
        s = SIMD16<Float>(repeating: ap[1]); c10.addProduct(s, b0); c11.addProduct(s, b1)
        s = SIMD16<Float>(repeating: ap[2]); c20.addProduct(s, b0); c21.addProduct(s, b1)
        s = SIMD16<Float>(repeating: ap[3]); c30.addProduct(s, b0); c31.addProduct(s, b1)
        s = SIMD16<Float>(repeating: ap[4]); c40.addProduct(s, b0); c41.addProduct(s, b1)
        s = SIMD16<Float>(repeating: ap[5]); c50.addProduct(s, b0); c51.addProduct(s, b1)
        s = SIMD16<Float>(repeating: ap[6]); c60.addProduct(s, b0); c61.addProduct(s, b1)
        s = SIMD16<Float>(repeating: ap[7]); c70.addProduct(s, b0); c71.addProduct(s, b1)
        ap += mr; bp += panelWidth
    }
    if accumulate {
        c00 += load16(t); c01 += load16(t + 16); c10 += load16(t + 32); c11 += load16(t + 48)
        c20 += load16(t + 64); c21 += load16(t + 80); c30 += load16(t + 96); c31 += load16(t + 112)
        c40 += load16(t + 128); c41 += load16(t + 144); c50 += load16(t + 160); c51 += load16(t + 176)
        c60 += load16(t + 192); c61 += load16(t + 208); c70 += load16(t + 224); c71 += load16(t + 240)
    }
    store16(c00, t); store16(c01, t + 16); store16(c10, t + 32); store16(c11, t + 48)
    store16(c20, t + 64); store16(c21, t + 80); store16(c30, t + 96); store16(c31, t + 112)
    store16(c40, t + 128); store16(c41, t + 144); store16(c50, t + 160); store16(c51, t + 176)
    store16(c60, t + 192); store16(c61, t + 208); store16(c70, t + 224); store16(c71, t + 240)
}

/// Stride-2 image-major convs with output rows a multiple of 16 wide (ResNet's stem): one image, zero
/// padded and split into even and odd columns, so that a tap's 16 outputs of a row read 16
/// consecutive floats of one phase: [c][padded row][phase][pw].
struct PhaseLayout {
    let rows: Int, pw: Int, cin: Int, h: Int, w: Int, pad: Int
    init?(_ s: ConvPanels) {
        let g = s.g
        guard !s.pixelMajor, g.stride == 2, g.outW % 16 == 0 else { return nil }
        cin = g.inChannels; h = g.height; w = g.width; pad = g.padding
        rows = g.height + 2 * g.padding
        pw = max((g.width + 2 * g.padding + 1) / 2, g.outW + (g.kernelW - 1) / 2) + 1
    }
    var size: Int { cin * rows * 2 * pw }
    func build(_ image: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>) {
        dst.update(repeating: 0, count: size)
        for c in 0..<cin {
            for r in 0..<h {
                let src = image + (c * h + r) * w
                let even = dst + ((c * rows + r + pad) * 2) * pw, odd = even + pw
                for col in 0..<w {
                    let pc = col + pad
                    if pc & 1 == 0 { even[pc >> 1] = src[col] } else { odd[pc >> 1] = src[col] }
                }
            }
        }
    }
}

/// Packs an image-major panel's im2col slice [k][32] for the taps in `mask` (tap-major, channels
/// inside): runs of an input row (one run per output row the panel covers), zero outside the image.
/// (Pixel-major panels need no packing: see the forward pass.)
@inline(__always)
private func packPanel(_ x: UnsafePointer<Float>, _ s: ConvPanels, _ cols: PanelColumns,
                       q: Int, mask: UInt64, into bp: UnsafeMutablePointer<Float>,
                       phase: (PhaseLayout, UnsafePointer<Float>)? = nil) {
    let g = s.g, plane = g.height * g.width, cin = g.inChannels, w = g.width, st = g.stride
    var row = 0
    if let (L, ph) = phase {
        // Two 16-float copies per k row (one per output row half of the panel).
        let p0 = (q % s.panelsPerUnit) * panelWidth
        for t in s.taps where mask & (1 << UInt64(t)) != 0 {
            let ki = t / g.kernelW, kj = t % g.kernelW
            for c in 0..<cin {
                let dst = bp + (row + c) * panelWidth
                for half in 0..<2 {
                    let p = p0 + 16 * half
                    if p >= s.pixels { store16(SIMD16<Float>(), dst + 16 * half); continue }
                    let oy = p / g.outW, ox0 = p % g.outW
                    let src = ph + ((c * L.rows + 2 * oy + ki) * 2 + (kj & 1)) * L.pw + ox0 + (kj >> 1)
                    store16(load16(src), dst + 16 * half)
                }
            }
            row += cin
        }
        return
    }
    // Image-major, stride 1, "same" padding: a tap's 32 sources are consecutive floats; only the
    // edge columns are masked. Two masked vector copies per k row.
    let contiguous = !s.pixelMajor && st == 1 && g.outW == w && g.outH == g.height
    let total = g.batch * cin * plane
    for t in s.taps where mask & (1 << UInt64(t)) != 0 {
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

/// `transposeBlockIn` of images laid out [channels][plane] into [pixel][channel][32 images]: element
/// e = c·plane + p of image j goes to dst[(p·channels + c)·32 + j].
@inline(never)
func transposeToPixelChannel(_ src: UnsafePointer<Float>, count: Int, stride: Int, channels: Int, plane: Int,
                             _ dst: UnsafeMutablePointer<Float>) {
    let len = channels * plane, full = len / 16 * 16
    @inline(__always) func row(_ e: Int) -> UnsafeMutablePointer<Float> { dst + ((e % plane) * channels + e / plane) * panelWidth }
    for j0 in [0, 16] {
        var e0 = 0
        while e0 < full {
            var m = Block16 { i in j0 + i < count ? load16(src + (j0 + i) * stride + e0) : SIMD16<Float>() }
            m.transpose()
            m.forEachRow { i, v in store16(v, row(e0 + i) + j0) }
            e0 += 16
        }
    }
    for j in 0..<panelWidth {
        for e in full..<len { row(e)[j] = j < count ? src[j * stride + e] : 0 }
    }
}

/// dst[e · dstStride + j] = src[j * stride + e] for j < count (0 for count..<lanes), e < len: `lanes`
/// (32 or 16) images or channels side by side. 16×16 blocks go through registers (`Block16`); the
/// last len % 16 rows one float at a time.
func transposeBlockIn(_ src: UnsafePointer<Float>, count: Int, stride: Int, len: Int, _ dst: UnsafeMutablePointer<Float>,
                      dstStride: Int = panelWidth, lanes: Int = panelWidth) {
    let full = len / 16 * 16
    for j0 in Swift.stride(from: 0, to: lanes, by: 16) {
        var e0 = 0
        while e0 < full {
            var m = Block16 { i in j0 + i < count ? load16(src + (j0 + i) * stride + e0) : SIMD16<Float>() }
            m.transpose()
            m.forEachRow { i, v in store16(v, dst + (e0 + i) * dstStride + j0) }
            e0 += 16
        }
    }
    for j in 0..<lanes {
        if j >= count { for e in full..<len { dst[e * dstStride + j] = 0 }; continue }
        let sp = src + j * stride
        for e in full..<len { dst[e * dstStride + j] = sp[e] }
    }
}

/// dst[j * stride + e] = src[e][j] for j < count: the inverse of transposeBlockIn.
@inline(never)
func transposeBlockOut(_ src: UnsafePointer<Float>, count: Int, stride: Int, len: Int, _ dst: UnsafeMutablePointer<Float>) {
    let full = len / 16 * 16
    for j0 in [0, 16] where j0 < count {
        var e0 = 0
        while e0 < full {
            var m = Block16 { i in load16(src + (e0 + i) * panelWidth + j0) }
            m.transpose()
            m.forEachRow { i, v in if j0 + i < count { store16(v, dst + (j0 + i) * stride + e0) } }
            e0 += 16
        }
    }
    for j in 0..<count {
        let dp = dst + j * stride
        for e in full..<len { dp[e] = src[e * panelWidth + j] }
    }
}

/// Runs `body(task, units, scratch)` over the units, each task with `scratch` floats of its own, in
/// `Parallel.maxThreads`-bounded tasks. `dynamic`: units are handed out one at a time to whichever task
/// asks next (`Parallel.dynamic`), for passes whose units write disjoint outputs (forward, dx), so a core
/// running slow this minute takes fewer; otherwise task t gets a fixed run of units (for per-task
/// partial sums added in a fixed order). Returns the number of tasks.
@discardableResult
private func unitChunks(_ s: ConvPanels, workPerUnit: Int, scratch: Int, dynamic: Bool,
                        _ body: (Int, Range<Int>, UnsafeMutableRawPointer) -> Void) -> Int {
    let tasks = Parallel.chunkCount(s.units, grain: max(1, 1 << 16 / max(1, workPerUnit)))
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
    if directConvApplies(g) {
        directConvForward(x: x, weight: weight, bias: bias, geometry: g, y: y)
        if let epilogue { epilogue.apply(y, batch: g.batch, channels: g.outChannels, plane: g.outH * g.outW) }
        return
    }
    let s = ConvPanels(g)
    let cout = g.outChannels, cin = g.inChannels, ku = s.kUsed, p = s.pixels
    let mPanels = (cout + mr - 1) / mr
    // A: [mPanel][k = u*Cin + c][8] = W[taps[u]][co][c]: each row a contiguous run of W (tap-major),
    // and the blocks of taps no output reaches are never read.
    let pa = ScratchPool.shared.take(mPanels * ku * mr + 16)
    defer { ScratchPool.shared.give(pa) }
    let packedA = pa.0, taps = s.taps
    Parallel.forEach(mPanels, grain: max(1, 8192 / max(1, ku * mr))) { mp in
        let dst = packedA + mp * ku * mr, rows = min(mr, cout - mp * mr), nt = taps.count
        if rows < mr { dst.update(repeating: 0, count: ku * mr) }
        for u in 0..<nt {
            for r in 0..<rows {
                let src = weight + (taps[u] * cout + mp * mr + r) * cin, d = dst + u * cin * mr + r
                for c in 0..<cin { d[c * mr] = src[c] }
            }
        }
    }
    if s.taps.isEmpty {
        for n in 0..<g.batch { for co in 0..<cout { (y + (n * cout + co) * p).update(repeating: bias?[co] ?? 0, count: p) } }
        if let epilogue { epilogue.apply(y, batch: g.batch, channels: cout, plane: p) }
        return
    }
    let phaseLayout = PhaseLayout(s)
    let xtLen = s.pixelMajor ? cin * g.height * g.width * panelWidth : (phaseLayout?.size ?? 0)
    // Pixel-major units gather their outputs transposed too, yT[co][pixel][32 images], and write them
    // back with one register transpose: scattered scalar stores cost more than the microkernel did
    // for short K (ResNet's 1×1 projections).
    let ytLen = s.pixelMajor ? cout * p * panelWidth : 0
    unitChunks(s, workPerUnit: s.panelsPerUnit * ku * cout / 8, scratch: ku * panelWidth + mr * panelWidth + xtLen + ytLen,
               dynamic: true) { _, units, buf in
        var cols = PanelColumns(buf)
        let bp = (buf + PanelColumns.bytes + 63).alignedDown(toMultipleOf: 64)
            .bindMemory(to: Float.self, capacity: ku * panelWidth + 256 + xtLen + ytLen)
        let tile = bp + ku * panelWidth, xT = tile + mr * panelWidth, yT = xT + xtLen
        for q in (units.lowerBound * s.panelsPerUnit)..<(units.upperBound * s.panelsPerUnit) {
            let mask = cols.load(q, s)
            if s.pixelMajor && q % s.panelsPerUnit == 0 {
                let n0 = (q / s.panelsPerUnit) * panelWidth, cp = cin * g.height * g.width
                transposeToPixelChannel(x + n0 * cp, count: min(panelWidth, g.batch - n0), stride: cp, channels: cin,
                                        plane: g.height * g.width, xT)
            }
            if let phaseLayout, q % s.panelsPerUnit == 0 {
                phaseLayout.build(x + (q / s.panelsPerUnit) * cin * g.height * g.width, xT)
            }
            // Pixel-major: xT is [input pixel][c][32 images], so a tap's k rows, and a kernel row's run of
            // taps, are already one contiguous panel: the microkernel reads them in place, nothing is packed.
            let pix = q % s.panelsPerUnit
            let iy0 = (pix / g.outW) * g.stride - g.padding, ix0 = (pix % g.outW) * g.stride - g.padding
            if !s.pixelMajor {
                packPanel(x, s, cols, q: q, mask: mask, into: bp, phase: phaseLayout.map { ($0, UnsafePointer(xT)) })
            }
            for mp in 0..<mPanels {
                // One microkernel call per run of consecutive valid taps (pixel-major: within a kernel row).
                var u = 0, brow = 0, first = true
                while u < taps.count {
                    guard mask & (1 << UInt64(taps[u])) != 0 else { u += 1; continue }
                    var v = u + 1
                    while v < taps.count && mask & (1 << UInt64(taps[v])) != 0
                            && (!s.pixelMajor || (taps[v] == taps[v - 1] + 1 && taps[v] / g.kernelW == taps[u] / g.kernelW)) { v += 1 }
                    let b: UnsafePointer<Float>
                    if s.pixelMajor {
                        let t = taps[u], e = (iy0 + t / g.kernelW) * g.width + ix0 + t % g.kernelW
                        b = UnsafePointer(xT + e * cin * panelWidth)
                    } else {
                        b = UnsafePointer(bp + brow * panelWidth)
                    }
                    microTile((v - u) * cin, packedA + mp * ku * mr + u * cin * mr, b, tile, accumulate: !first)
                    first = false; brow += (v - u) * cin; u = v
                }
                if first { tile.update(repeating: 0, count: mr * panelWidth) }
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
                        // The same as below, 16 consecutive pixels at a time.
                        let d = yc + cols.yOff[0], b = SIMD16<Float>(repeating: bv)
                        let sc = SIMD16<Float>(repeating: e.scale[co]), sh = SIMD16<Float>(repeating: e.shift[co])
                        for half in 0..<2 {
                            var v = (load16(trow + 16 * half) + b) * sc + sh
                            if let res = e.residual { v = v + load16(res + co * p + cols.yOff[0] + 16 * half) }
                            if e.relu { v = v.replacing(with: SIMD16<Float>(), where: v .< SIMD16<Float>()) }
                            store16(v, d + 16 * half)
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
            if s.pixelMajor && q % s.panelsPerUnit == s.panelsPerUnit - 1 {
                let n0 = (q / s.panelsPerUnit) * panelWidth, count = min(panelWidth, g.batch - n0), len = cout * p
                transposeBlockOut(yT, count: count, stride: len, len: len, y + n0 * len)
                if let e = epilogue, let res = e.residual {
                    // The unit's images are one contiguous run of y, laid out as the residual.
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
            let co = nc % channels, sc = scale[co], sh = shift[co], d = y + nc * plane
            let res = residual.map { $0 + nc * plane }
            for i in 0..<plane {
                var v = d[i] * sc + sh
                if let res { v = v + res[i] }
                if relu && v < 0 { v = 0 }
                d[i] = v
            }
        }
    }
}

/// Gradients of `convForward`: dWeight (and dBias) overwritten; dx overwritten when given. dW's blocks for taps no output reaches are zeroed,
/// unless `idleTapsZeroed` says the caller's last backward of this geometry left them so.
public func convBackward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                         geometry g: ConvGeometry, dWeight: UnsafeMutablePointer<Float>,
                         dBias: UnsafeMutablePointer<Float>?, dx: UnsafeMutablePointer<Float>?,
                         idleTapsZeroed: Bool = false) {
    if let sg = g.subsampled {
        // The stride-1 gradients over the subsampled input; dx is zero at every pixel the conv skips.
        let inner = sg.batch * sg.inChannels * sg.height * sg.width
        let xs = ScratchPool.shared.take(2 * inner + 16)
        defer { ScratchPool.shared.give(xs) }
        subsample(x, g, into: xs.0)
        convBackward(dy: dy, x: xs.0, weight: weight, geometry: sg, dWeight: dWeight, dBias: dBias,
                     dx: dx == nil ? nil : xs.0 + inner, idleTapsZeroed: idleTapsZeroed)
        if let dx { upsample(xs.0 + inner, g, into: dx) }
        return
    }
    let s = ConvPanels(g)
    let cout = g.outChannels, cin = g.inChannels, kk = g.kernelH * g.kernelW, p = s.pixels
    if let dBias {
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
    if directConvApplies(g) {
        if let dx {
            if directConvBackwardDataApplies(g) { directConvBackwardData(dy: dy, weight: weight, geometry: g, dx: dx) }
            else { convBackwardData(dy: dy, weight: weight, s, dx: dx) }
        }
        if directConvOuterApplies(g) { directConvBackwardWeightsOuter(dy: dy, x: x, geometry: g, dWeight: dWeight) }
        else { directConvBackwardWeights(dy: dy, x: x, geometry: g, dWeight: dWeight) }
        return
    }
    if let dx { convBackwardData(dy: dy, weight: weight, s, dx: dx) }
    if !idleTapsZeroed {
        for t in 0..<kk where !s.taps.contains(t) { (dWeight + t * cout * cin).update(repeating: 0, count: cout * cin) }
    }
    if s.taps.isEmpty { return }
    // Few input channels on large maps (ResNet's stem) waste fewer lanes as dot products along the
    // image's pixels; everything else takes the channel-blocked microkernel path.
    if cin < panelWidth && !s.pixelMajor {
        convBackwardWeightsDot(dy: dy, x: x, s, dWeight: dWeight)
    } else {
        convBackwardWeightsBlocked(dy: dy, x: x, s, dWeight: dWeight)
    }
}

/// dW for convs of 32 input channels or more, as the 8×32 microkernel over (output pixel, image):
/// the batch's input and dy are first laid out channel-blocked with the image innermost,
/// xB[cPanel][pixel][n][32 channels] and dyB[coPanel][pixel][n][8 channels]. For tap t, the k rows
/// (p, n) of dyB then line up with the rows (p + offset(t), n) of xB, a whole output row's run at once
/// when the stride is 1, so both operands are read in place and only taps inside the image are
/// multiplied. Each (8 output channels, 32 input channels, tap) tile is one work item written straight
/// into dW: no per-thread partial sums, and the same additions in the same order for any thread count.
private func convBackwardWeightsBlocked(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, _ s: ConvPanels,
                                        dWeight: UnsafeMutablePointer<Float>) {
    let g = s.g, n = g.batch, cin = g.inChannels, cout = g.outChannels
    let pin = g.height * g.width, pout = g.outH * g.outW
    let cPanels = (cin + panelWidth - 1) / panelWidth, coPanels = (cout + mr - 1) / mr
    let xSize = cPanels * pin * n * panelWidth, dySize = coPanels * pout * n * mr
    let buf = ScratchPool.shared.take(xSize + dySize + 16)
    defer { ScratchPool.shared.give(buf) }
    let xB = buf.0, dyB = buf.0 + xSize
    // Re-layout: each (panel, image) is a small block transpose ([channels][pixels] -> [pixels][channels]).
    Parallel.forEach(cPanels * n, grain: max(1, 4096 / max(1, pin * panelWidth))) { i in
        let kp = i / n, img = i % n, c0 = kp * panelWidth, count = min(panelWidth, cin - c0)
        transposeBlockIn(x + (img * cin + c0) * pin, count: count, stride: pin, len: pin,
                         xB + (kp * pin * n + img) * panelWidth, dstStride: n * panelWidth)
    }
    Parallel.forEach(coPanels * n, grain: max(1, 4096 / max(1, pout * mr))) { i in
        let cp = i / n, img = i % n, co0 = cp * mr, count = min(mr, cout - co0)
        let src = dy + (img * cout + co0) * pout
        for p in 0..<pout {
            let dst = dyB + ((cp * pout + p) * n + img) * mr
            for r in 0..<count { dst[r] = src[r * pout + p] }
            for r in count..<mr { dst[r] = 0 }
        }
    }
    // The output rows and columns each tap reaches inside the image (a tap in `s.taps` reaches some).
    let taps = s.taps, nt = taps.count
    func reach(_ k: Int, _ outSize: Int, _ size: Int) -> Range<Int> {
        let inside = (0..<outSize).filter { o in let i = o * g.stride - g.padding + k; return i >= 0 && i < size }
        return inside.isEmpty ? 0..<0 : inside.first!..<(inside.last! + 1)
    }
    let rowsOf = taps.map { reach($0 / g.kernelW, g.outH, g.height) }, colsOf = taps.map { reach($0 % g.kernelW, g.outW, g.width) }
    // Work items (8 output channels, 32 input channels): one tile per tap any output pixel uses.
    Parallel.forEach(coPanels * cPanels, grain: 1) { item in
        let kp = item % cPanels, cp = item / cPanels
        withUnsafeTemporaryAllocation(of: Float.self, capacity: nt * mr * panelWidth) { tb in
            let tiles = tb.baseAddress!
            let a = dyB + cp * pout * n * mr, b = xB + kp * pin * n * panelWidth
            for (u, t) in taps.enumerated() {
                let ki = t / g.kernelW, kj = t % g.kernelW, tile = tiles + u * mr * panelWidth
                let ox0 = colsOf[u].lowerBound, ox1 = colsOf[u].upperBound
                // Stride 1: a row's run of pixels is one run of k rows in both operands.
                let run = g.stride == 1 ? ox1 - ox0 : 1
                var first = true
                for oy in rowsOf[u] {
                    let iy = oy * g.stride - g.padding + ki
                    var ox = ox0
                    while ox < ox1 {
                        let ix = ox * g.stride - g.padding + kj
                        microTile(run * n, a + (oy * g.outW + ox) * n * mr, b + (iy * g.width + ix) * n * panelWidth,
                                  tile, accumulate: !first)
                        first = false; ox += run
                    }
                }
            }
            // Each tile row is a contiguous run of dW (tap-major): W[t][co][c0 ..< c0 + channels].
            let channels = min(panelWidth, cin - kp * panelWidth)
            for u in 0..<nt {
                for r in 0..<min(mr, cout - cp * mr) {
                    copyFloats(dWeight + (taps[u] * cout + cp * mr + r) * cin + kp * panelWidth,
                               tiles + (u * mr + r) * panelWidth, channels)
                }
            }
        }
    }
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
    let group = 16
    let partialSize = cout4 * ku4
    var allTaps: UInt64 = 0
    for t in taps { allTaps |= 1 << UInt64(t) }
    let phaseLayout = PhaseLayout(s)
    // Panels one cache line further apart than their size: a panel of B (ku4 × 128 bytes) or of dy is
    // often a multiple of 4 KB, and dot4x4 reading the same rows of 16 such panels would then map them
    // all to the same L1 sets (16 ways wanted, 12 there): layer1's dW ran from L2.
    let bPanel = ku4 * panelWidth + 16, dPanel = cout4 * panelWidth + 16
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

/// dx = Σ over taps of Wᵀ dy, scattered back through the window (the adjoint of the panel packing).
private func convBackwardData(dy: UnsafePointer<Float>, weight: UnsafePointer<Float>, _ s: ConvPanels,
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
        for co in 0..<cout {
            let src = weight + (taps[u] * cout + co) * cin + c0, d = dst + co * mr
            for r in 0..<n { d[r] = src[r] }
            for r in n..<mr { d[r] = 0 }
        }
    }
    // Pixel-major units work on their 32 images transposed ([channel][pixel][32]): dy rows are read
    // and dx rows accumulated as 32 contiguous floats, then dx is transposed back once per unit.
    // Image-major panels with stride 1 and "same" padding add masked vector rows straight into dx.
    let dyLen = s.pixelMajor ? cout * p * panelWidth : 0, dxLen = s.pixelMajor ? cin * plane * panelWidth : 0
    let contiguous = !s.pixelMajor && g.stride == 1 && g.outW == g.width && g.outH == g.height
    let total = g.batch * cin * plane
    unitChunks(s, workPerUnit: s.panelsPerUnit * s.kUsed * cout / 8,
               scratch: cout * panelWidth + mr * panelWidth + dyLen + dxLen, dynamic: true) { _, units, buf in
        var cols = PanelColumns(buf)
        let dyP = (buf + PanelColumns.bytes + 63).alignedDown(toMultipleOf: 64)
            .bindMemory(to: Float.self, capacity: cout * panelWidth + mr * panelWidth + dyLen + dxLen)
        let tile = dyP + cout * panelWidth, dyT = tile + mr * panelWidth, dxT = dyT + dyLen
        if !s.pixelMajor {
            for u in units {
                for n in s.images(ofUnit: u) { (dx + n * cin * plane).update(repeating: 0, count: cin * plane) }
            }
        }
        for unit in units {
            let n0 = unit * panelWidth, count = min(panelWidth, g.batch - n0)
            if s.pixelMajor {
                transposeBlockIn(dy + n0 * cout * p, count: count, stride: cout * p, len: cout * p, dyT)
                dxT.update(repeating: 0, count: dxLen)
            }
            for q in (unit * s.panelsPerUnit)..<((unit + 1) * s.panelsPerUnit) {
                let mask = cols.load(q, s)
                if s.pixelMajor {
                    let pix = q % s.panelsPerUnit
                    for co in 0..<cout {
                        let src = dyT + (co * p + pix) * panelWidth, dst = dyP + co * panelWidth
                        store16(load16(src), dst); store16(load16(src + 16), dst + 16)
                    }
                } else {
                    for co in 0..<cout {
                        let src = dy + co * p, dst = dyP + co * panelWidth
                        for j in 0..<panelWidth { dst[j] = j < cols.count ? src[cols.yOff[j]] : 0 }
                    }
                }
                let pix = q % s.panelsPerUnit
                let iy0 = (pix / g.outW) * g.stride - g.padding, ix0 = (pix % g.outW) * g.stride - g.padding
                for (u, t) in taps.enumerated() where mask & (1 << UInt64(t)) != 0 {
                    cols.prepareTap(t, g)
                    var first = -1
                    var m0 = SIMDMask<SIMD16<Int32>>(), m1 = SIMDMask<SIMD16<Int32>>()
                    if contiguous {
                        let p0 = pix * panelWidth, n = q / s.panelsPerUnit
                        let f = n * cin * plane + p0 + (t / g.kernelW - g.padding) * g.width + (t % g.kernelW - g.padding)
                        if f >= 0 && f + (cin - 1) * plane + panelWidth <= total {
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
                                store16(load16(d) + load16(trow), d); store16(load16(d + 16) + load16(trow + 16), d + 16)
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
        }
    }
}

/// Sixteen vectors as a 16×16 matrix of rows, transposed in registers: four rounds of de-interleaving
/// row pairs (each round rotates the 8-bit (row, column) index right by one bit; four make it (column, row)).
struct Block16 {
    var v0 = SIMD16<Float>(), v1 = SIMD16<Float>(), v2 = SIMD16<Float>(), v3 = SIMD16<Float>()
    var v4 = SIMD16<Float>(), v5 = SIMD16<Float>(), v6 = SIMD16<Float>(), v7 = SIMD16<Float>()
    var v8 = SIMD16<Float>(), v9 = SIMD16<Float>(), v10 = SIMD16<Float>(), v11 = SIMD16<Float>()
    var v12 = SIMD16<Float>(), v13 = SIMD16<Float>(), v14 = SIMD16<Float>(), v15 = SIMD16<Float>()

    /// The rows load(0) … load(15), written out so no row index survives to run time.
    @inline(__always) init(_ load: (Int) -> SIMD16<Float>) {
        v0 = load(0); v1 = load(1); v2 = load(2); v3 = load(3); v4 = load(4); v5 = load(5); v6 = load(6); v7 = load(7)
        v8 = load(8); v9 = load(9); v10 = load(10); v11 = load(11); v12 = load(12); v13 = load(13); v14 = load(14)
        v15 = load(15)
    }

    /// body(i, row i) for the 16 rows, unrolled.
    @inline(__always) func forEachRow(_ body: (Int, SIMD16<Float>) -> Void) {
        body(0, v0); body(1, v1); body(2, v2); body(3, v3); body(4, v4); body(5, v5); body(6, v6); body(7, v7)
        body(8, v8); body(9, v9); body(10, v10); body(11, v11); body(12, v12); body(13, v13); body(14, v14)
        body(15, v15)
    }

    @inline(__always) mutating func transpose() {
        for _ in 0..<4 {
            let p0 = deinterleave(v0, v1), p1 = deinterleave(v2, v3), p2 = deinterleave(v4, v5), p3 = deinterleave(v6, v7)
            let p4 = deinterleave(v8, v9), p5 = deinterleave(v10, v11), p6 = deinterleave(v12, v13), p7 = deinterleave(v14, v15)
            (v0, v8) = p0; (v1, v9) = p1; (v2, v10) = p2; (v3, v11) = p3
            (v4, v12) = p4; (v5, v13) = p5; (v6, v14) = p6; (v7, v15) = p7
        }
    }
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

/// xs[n][c][oy][ox] = x[n][c][oy·stride][ox·stride].
private func subsample(_ x: UnsafePointer<Float>, _ g: ConvGeometry, into xs: UnsafeMutablePointer<Float>) {
    let oh = g.outH, ow = g.outW, plane = g.height * g.width, st = g.stride
    Parallel.forEach(g.batch * g.inChannels, grain: max(1, 4096 / max(1, plane))) { nc in
        let src = x + nc * plane, dst = xs + nc * oh * ow
        for oy in 0..<oh { for ox in 0..<ow { dst[oy * ow + ox] = src[oy * st * g.width + ox * st] } }
    }
}

/// The adjoint of `subsample`: dx[n][c][oy·stride][ox·stride] = dxs[n][c][oy][ox], zero elsewhere.
private func upsample(_ dxs: UnsafePointer<Float>, _ g: ConvGeometry, into dx: UnsafeMutablePointer<Float>) {
    let oh = g.outH, ow = g.outW, plane = g.height * g.width, st = g.stride
    Parallel.forEach(g.batch * g.inChannels, grain: max(1, 4096 / max(1, plane))) { nc in
        let src = dxs + nc * oh * ow, dst = dx + nc * plane
        dst.update(repeating: 0, count: plane)
        for oy in 0..<oh { for ox in 0..<ow { dst[oy * st * g.width + ox * st] = src[oy * ow + ox] } }
    }
}

/// The even and the odd elements of a followed by b, written out element by element so that LLVM sees
/// two constant shuffles (`SIMD32.evenHalf` is an out-of-line generic call).
@inline(__always) func deinterleave(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> (SIMD16<Float>, SIMD16<Float>) {
    (SIMD16(a[0], a[2], a[4], a[6], a[8], a[10], a[12], a[14], b[0], b[2], b[4], b[6], b[8], b[10], b[12], b[14]),
     SIMD16(a[1], a[3], a[5], a[7], a[9], a[11], a[13], a[15], b[1], b[3], b[5], b[7], b[9], b[11], b[13], b[15]))
}
