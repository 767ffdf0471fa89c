import CCacheHints
import Foundation

// Row-major single-precision GEMM: C = alpha * op(A) * op(B) + beta * C, op(A) m×k, op(B) k×n.
// Each 8×32 tile is the register tile (TileProduct.swift): 16 accumulators, 2 B loads and 8 broadcasts
// per k. The depth is cut into blocks of `gemmKC` and the work into (row block, column group) items (see
// below) so each operand sits in the cache level it is reused from; unblocked, a 9216-deep linear layer
// streamed both panels from memory for every tile (BENCHMARKS.md). Every panel is packed (A once, B per
// depth block into the task's own buffer), also where the operand's rows already hold it side by side:
// read in place, a panel's rows lie a whole row of the operand apart, on as many pages and often on the
// same few L1 sets, and the large GEMMs ran 5-20 % slower (BENCHMARKS.md). Every tile of C is summed by
// one item in a fixed order of depth blocks: the same result on any number of threads.

let gemmMR = 8
let gemmNR = 32
let gemmKC = 192
let gemmMC = 32 * gemmMR
let gemmNG = 16

/// Columns of B and C that run across a batch of images: column j is pixel j % plane of image j / plane,
/// whose rows start `bImage` · image floats into B and `cImage` · image into C (`ldb`, `ldc` the row strides
/// within an image). A 1×1 conv's product over the whole batch, NCHW as it lies: its 32-column panels
/// run on into the next image instead of ending part-empty with each (a 7×7 map filled 49 of 64).
struct ImageColumns {
    let plane, bImage, cImage: Int

    /// Calls `body(j, len, image, pixel)` for each run of columns j0 + j ..< j0 + j + len inside one image,
    /// starting at `pixel` of `image`.
    @inline(__always) func forEachRun(_ j0: Int, _ cols: Int, _ body: (Int, Int, Int, Int) -> Void) {
        var j = 0
        while j < cols {
            let col = j0 + j, img = col / plane, p = col - img * plane, len = min(plane - p, cols - j)
            body(j, len, img, p)
            j += len
        }
    }
}

public func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                 a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                 beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta,
         c: c, ldc: ldc, images: nil)
}

/// `gemm` with B's and C's columns across images (`images`; B untransposed).
func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
          a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
          beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, images: ImageColumns?) {
    precondition(images == nil || !transB, "columns across images: B untransposed")
    guard m > 0, n > 0 else { return }
    if k == 0 {
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
        return
    }
    let mPanels = (m + gemmMR - 1) / gemmMR, nPanels = (n + gemmNR - 1) / gemmNR
    let streams = images == nil && streamsOutput(m: m, n: n, k: k, beta: beta, c: c, ldc: ldc)
    let pa = ScratchPool.shared.take(mPanels * gemmMR * k)
    defer { ScratchPool.shared.give(pa) }
    let packedA = pa.0

    // Pack A: panel p holds rows p*MR..<p*MR+MR, laid out [k][MR] (zeros past row m); a depth block is a slice.
    if transA {
        Parallel.forEach(mPanels, grain: max(1, 16384 / max(1, k * gemmMR))) { p in
            // A's k rows each hold the panel's rows side by side.
            let dst = packedA + p * gemmMR * k, row0 = p * gemmMR, rows = min(gemmMR, m - row0)
            for kk in 0..<k {
                let src = a + kk * lda + row0, d = dst + kk * gemmMR
                for r in 0..<rows { d[r] = src[r] }
                for r in rows..<gemmMR { d[r] = 0 }
            }
        }
    } else {
        // Two panels' 16 rows at a time through register transposes, not one float at a time: a deep A
        // (a 1×1 conv's weight gradient at 56×56, 3136 pixels) packed a few per cent faster (BENCHMARKS.md,
        // stop 42).
        Parallel.forEach((mPanels + 1) / 2, grain: max(1, 16384 / max(1, 2 * k * gemmMR))) { pair in
            let p = 2 * pair, row0 = p * gemmMR, d0 = packedA + p * gemmMR * k
            transposeRowsToPanels(a + row0 * lda, count: min(2 * gemmMR, m - row0), stride: lda, len: k,
                                  d0, p + 1 < mPanels ? d0 + gemmMR * k : nil, dstStride: gemmMR)
        }
    }
    // Work items: (row block, group of `gemmNG` column panels or fewer), handed out in order to whichever
    // task asks next. An item walks depth block by depth block, its panels, then the block's A panels: its C
    // (at most 256 × 512 floats) stays in L2 across the depth blocks, the A block (mc × kc) in L2 across
    // its panels, the packed B panel (kc × 32) in L1 across the A panels; B is read once per row block.
    let panelsPerBlock = gemmMC / gemmMR
    let mBlocks = (mPanels + panelsPerBlock - 1) / panelsPerBlock
    // Smaller groups where there would be fewer than two items a thread: a batch-64 product 512 wide was
    // one item, one thread (a 1×1 conv on a 1×1 map: BENCHMARKS.md, stop 37). Each tile is still summed
    // whole by one item, in the same order: the grouping never changes a result.
    var ng = gemmNG
    while ng > 1 && mBlocks * ((nPanels + ng - 1) / ng) < 2 * Parallel.maxThreads { ng /= 2 }
    let groups = (nPanels + ng - 1) / ng
    let items = mBlocks * groups
    let flopsPerItem = 2 * min(m, gemmMC) * min(n, ng * gemmNR) * k
    let tasks = Parallel.chunkCount(items, grain: max(1, 400_000 / flopsPerItem))
    // Per task: its B panel, and (columns across images) a tile for C's columns that straddle two images.
    let perTask = gemmKC * gemmNR + (images == nil ? 0 : gemmMR * gemmNR)
    let pb = ScratchPool.shared.take(tasks * perTask)
    defer { ScratchPool.shared.give(pb) }
    Parallel.dynamic(items, tasks: tasks) { t, item in
        let buf = pb.0 + t * perTask
        let mb = item / groups, g0 = (item % groups) * ng
        let panels = g0..<min(nPanels, g0 + ng)
        let pFirst = mb * panelsPerBlock, pEnd = min(mPanels, (mb + 1) * panelsPerBlock)
        var k0 = 0
        while k0 < k {
            let kc = min(gemmKC, k - k0)
            for q in panels {
                let j0 = q * gemmNR, cols = min(gemmNR, n - j0)
                if transB {
                    // 16×16 blocks through registers: packed one float at a time, this transpose
                    // took a third of a batch-64 linear layer's time.
                    transposeBlockIn(b + j0 * ldb + k0, count: cols, stride: ldb, len: kc, buf, lanes: gemmNR)
                } else if let images {
                    packImageColumns(b, images, ldb: ldb, k0: k0, kc: kc, j0: j0, cols: cols, into: buf)
                } else if cols == gemmNR {
                    for kk in 0..<kc {
                        let src = b + (k0 + kk) * ldb + j0, d = buf + kk * gemmNR
                        store16(load16(src), d); store16(load16(src + 16), d + 16)
                    }
                } else {
                    for kk in 0..<kc {
                        let src = b + (k0 + kk) * ldb + j0, d = buf + kk * gemmNR
                        for cc in 0..<cols { d[cc] = src[cc] }
                        for cc in cols..<gemmNR { d[cc] = 0 }
                    }
                }
                // B's next panel is asked for in slices, one per A panel, a line every few depth steps of
                // the tile product (`microkernel`): otherwise its packing waits on rows from memory, a
                // fifth of a batch-64 linear layer's time. A burst of prefetches before each product
                // gained nothing (BENCHMARKS.md, stop 37).
                var nq = q + 1, nk0 = k0
                if nq == panels.upperBound { nq = panels.lowerBound; nk0 = k0 + gemmKC }
                // The next panel's rows in B: a transposed B's are its columns, an untransposed B's its depth.
                let nj0 = nq * gemmNR, slices = pEnd - pFirst
                // (Columns across images: the next panel's first image.)
                let nb = images.map { b + nj0 / $0.plane * $0.bImage + nj0 % $0.plane } ?? b + nj0
                let (next, nextRows, rowLength) = transB ? (b + nj0 * ldb + nk0, min(gemmNR, n - nj0), min(gemmKC, k - nk0))
                                                         : (nb + nk0 * ldb, min(gemmKC, k - nk0), min(gemmNR, n - nj0))
                // C's columns: where they lie in one image, the tile is stored in place; across images,
                // through the task's tile, a run of columns per image.
                var cq = c + j0, inOneImage = true
                if let images {
                    let img = j0 / images.plane, p0 = j0 % images.plane
                    cq = c + img * images.cImage + p0
                    inOneImage = p0 + cols <= images.plane
                }
                for p in pFirst..<pEnd {
                    var ahead = PanelPrefetch()
                    if nk0 < k {
                        let i = p - pFirst, r0 = i * nextRows / slices, r1 = (i + 1) * nextRows / slices
                        ahead = PanelPrefetch(next + r0 * ldb, rowStride: ldb, linesPerRow: (rowLength + 15) / 16, rows: r1 - r0)
                    }
                    let rows = min(gemmMR, m - p * gemmMR), bk = k0 == 0 ? beta : 1
                    guard let images, !inOneImage else {
                        microkernel(k: kc, a: packedA + p * gemmMR * k + k0 * gemmMR, b: buf, c: cq + p * gemmMR * ldc,
                                    ldc: ldc, rows: rows, cols: cols, ahead: ahead, alpha: alpha, beta: bk, stream: streams)
                        continue
                    }
                    let tile = buf + gemmKC * gemmNR
                    if bk != 0 {
                        images.forEachRun(j0, cols) { j, len, img, px in
                            let src = c + img * images.cImage + px + p * gemmMR * ldc
                            for r in 0..<rows { copyRun(src + r * ldc, tile + r * gemmNR + j, len) }
                        }
                    }
                    microkernel(k: kc, a: packedA + p * gemmMR * k + k0 * gemmMR, b: buf, c: tile, ldc: gemmNR,
                                rows: rows, cols: cols, ahead: ahead, alpha: alpha, beta: bk, stream: false)
                    images.forEachRun(j0, cols) { j, len, img, px in
                        let dst = c + img * images.cImage + px + p * gemmMR * ldc
                        for r in 0..<rows { copyRun(tile + r * gemmNR + j, dst + r * ldc, len) }
                    }
                }
            }
            k0 += kc
        }
        if streams { nntop_store_fence() }   // this item's streamed tiles visible before it counts as done
    }
}

/// B's panel of columns j0 ..< j0 + cols over depth k0 ..< k0 + kc, columns across images, packed [kk][32]
/// (zeros past `cols`): one run of columns per image it meets.
private func packImageColumns(_ b: UnsafePointer<Float>, _ ic: ImageColumns, ldb: Int, k0: Int, kc: Int, j0: Int,
                              cols: Int, into buf: UnsafeMutablePointer<Float>) {
    ic.forEachRun(j0, cols) { j, len, img, p in
        let src = b + img * ic.bImage + k0 * ldb + p, d = buf + j
        for kk in 0..<kc { copyRun(src + kk * ldb, d + kk * gemmNR, len) }
    }
    if cols < gemmNR { for kk in 0..<kc { for q in cols..<gemmNR { buf[kk * gemmNR + q] = 0 } } }
}

/// d[0..<n] = s[0..<n] for n ≤ 32 in vectors, the last one overlapping the one before where n is not a
/// whole number of them: the runs of a panel across 7×7 planes are 2 to 32 floats.
@inline(__always) private func copyRun(_ s: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int) {
    if n >= 16 {
        store16(load16(s), d)
        if n > 16 { store16(load16(s + n - 16), d + n - 16) }
    } else if n >= 8 {
        store8(load8(s), d); store8(load8(s + n - 8), d + n - 8)
    } else {
        for q in 0..<n { d[q] = s[q] }
    }
}

/// Whether the tiles of C go straight to memory (non-temporal stores), past the caches: when C is written
/// once (one depth block, beta 0), is too large to be read back from L2 (a wide linear layer's weight
/// gradient: 4096 × 9216 floats), and every full tile row is 64-byte aligned. An ordinary store first reads
/// the line it writes; a 4096×9216×64 (transposed A) GEMM took 0.62-0.67 of the time without those reads.
func streamsOutput(m: Int, n: Int, k: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) -> Bool {
    k <= gemmKC && beta == 0 && m * n >= 1 << 20 && ldc % 16 == 0 && Int(bitPattern: c) % 64 == 0
}

@inline(__always)
private func microkernel(k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
                         ldc: Int, rows: Int, cols: Int, ahead: PanelPrefetch, alpha: Float, beta: Float, stream: Bool) {
    // B's next panel asked for (into L2: into L1 it gained about half as much) a line every 4 depth steps,
    // between the FMAs; more at a time where there are more lines than steps (a few A panels).
    var line = 0, col = 0, row = ahead.base
    let lines = ahead.rows * ahead.linesPerRow, rowFloats = ahead.linesPerRow * 16
    let perStep = max(1, (lines + (k + 3) / 4 - 1) / ((k + 3) / 4))
    tileProduct(depth: k, rows: gemmMR, a: a, aStride: gemmMR, bRow: { d in
        if d & 3 == 0 {
            var asked = 0
            while asked < perStep && line < lines {
                nntop_prefetch_read_l2(row + col)
                asked += 1; line += 1; col += 16
                if col == rowFloats { col = 0; row += ahead.rowStride }
            }
        }
        return b + d * gemmNR
    }) { r, col, v in
        storeRow(c + r * ldc + col, r, v, rows: rows, cols: cols - col, whole: cols == gemmNR, alpha: alpha, beta: beta, stream: stream)
    }
}

/// 16 columns of a tile row into `row`: in vectors where the tile is `whole` (32 columns), else one float
/// at a time, the first `cols`.
@inline(__always)
private func storeRow(_ row: UnsafeMutablePointer<Float>, _ r: Int, _ v: SIMD16<Float>,
                      rows: Int, cols: Int, whole: Bool, alpha: Float, beta: Float, stream: Bool) {
    guard r < rows, cols > 0 else { return }
    var x = v * alpha
    if whole {
        if beta != 0 { x.addProduct(SIMD16<Float>(repeating: beta), load16(row)) }
        if stream { nntop_stream16(row, x) } else { store16(x, row) }
    } else {
        for j in 0..<min(16, cols) { row[j] = beta == 0 ? x[j] : x[j] + beta * row[j] }
    }
}

/// Lines of a B panel to ask for while a tile product runs: `rows` rows `rowStride` floats apart from
/// `base`, `linesPerRow` 64-byte lines each (none by default).
struct PanelPrefetch {
    var base = UnsafePointer<Float>(bitPattern: 64)!, rowStride = 0, linesPerRow = 1, rows = 0
    init() {}
    init(_ base: UnsafePointer<Float>, rowStride: Int, linesPerRow: Int, rows: Int) {
        self.base = base; self.rowStride = rowStride; self.linesPerRow = linesPerRow; self.rows = rows
    }
}
