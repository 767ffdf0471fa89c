import XCTest
@testable import Kernels

/// Every path of the convolution tables (ConvForward, ConvBackwardData, ConvBackwardWeights) against the direct definitions of the
/// forward pass and its three gradients, on shapes that hit both panel layouts, partial panels,
/// strides, and maps where only some taps are ever valid.
final class ConvPathsTests: XCTestCase {
    var rng = SeededRandom(seed: 5)
    func random(_ n: Int) -> [Float] { (0..<n).map { _ in rng.uniform(-1, 1) } }

    func check(batch: Int, cin: Int, cout: Int, h: Int, w: Int, k: Int, s: Int, p: Int, bias: Bool,
               file: StaticString = #filePath, line: UInt = #line) {
        let g = ConvGeometry(batch: batch, inChannels: cin, height: h, width: w, outChannels: cout, kernel: k, stride: s, padding: p)
        let oh = g.outH, ow = g.outW
        let x = random(batch * cin * h * w), wt = random(cout * cin * k * k), b = random(cout)
        let dy = random(batch * cout * oh * ow)
        var y = [Float](repeating: .nan, count: dy.count)
        var dW = [Float](repeating: .nan, count: wt.count), dB = [Float](repeating: .nan, count: cout)
        var dx = [Float](repeating: .nan, count: x.count)
        x.withUnsafeBufferPointer { xp in wt.withUnsafeBufferPointer { wp in b.withUnsafeBufferPointer { bp in
            convForward(x: xp.baseAddress!, weight: wp.baseAddress!, bias: bias ? bp.baseAddress! : nil, geometry: g, y: &y)
            dy.withUnsafeBufferPointer { dyp in
                dB.withUnsafeMutableBufferPointer { dbp in
                    convBackward(dy: dyp.baseAddress!, x: xp.baseAddress!, weight: wp.baseAddress!, geometry: g,
                                 dWeight: &dW, dBias: bias ? dbp.baseAddress! : nil, dx: &dx)
                }
            }
        } } }
        var ey = [Double](repeating: 0, count: y.count), edW = [Double](repeating: 0, count: wt.count)
        var edx = [Double](repeating: 0, count: x.count), edB = [Double](repeating: 0, count: cout)
        for n in 0..<batch { for co in 0..<cout { for oy in 0..<oh { for ox in 0..<ow {
            let yi = ((n * cout + co) * oh + oy) * ow + ox
            var acc = bias ? Double(b[co]) : 0
            edB[co] += Double(dy[yi])
            for c in 0..<cin { for i in 0..<k { for j in 0..<k {
                let iy = oy * s - p + i, ix = ox * s - p + j
                guard iy >= 0 && iy < h && ix >= 0 && ix < w else { continue }
                // W is tap-major: [i][j][co][c].
                let xi = ((n * cin + c) * h + iy) * w + ix, wi = ((i * k + j) * cout + co) * cin + c
                acc += Double(x[xi]) * Double(wt[wi])
                edW[wi] += Double(dy[yi]) * Double(x[xi])
                edx[xi] += Double(dy[yi]) * Double(wt[wi])
            } } }
            ey[yi] = acc
        } } } }
        let tol = 1e-4 * Float(max(cin * k * k, batch * oh * ow)).squareRoot()
        for i in y.indices { XCTAssertEqual(y[i], Float(ey[i]), accuracy: tol, "y[\(i)] \(g)", file: file, line: line) }
        for i in dW.indices { XCTAssertEqual(dW[i], Float(edW[i]), accuracy: tol, "dW[\(i)]", file: file, line: line) }
        for i in dx.indices { XCTAssertEqual(dx[i], Float(edx[i]), accuracy: tol, "dx[\(i)]", file: file, line: line) }
        if bias { for i in 0..<cout { XCTAssertEqual(dB[i], Float(edB[i]), accuracy: tol, "dB[\(i)]", file: file, line: line) } }
    }

    /// The inference epilogue (folded batch norm, then a residual, then ReLU) applied as the conv stores
    /// equals the conv followed by those maps as separate float operations, on every forward path: direct
    /// 6-row and 8-row tiles (with a partial last tile), image-major panels (whole and partial), pixel-major.
    func testEpilogueEqualsTheSeparateMapsOnEveryPath() {
        let shapes: [(batch: Int, cin: Int, cout: Int, h: Int, k: Int, s: Int, p: Int)] = [
            (3, 3, 12, 9, 3, 1, 1),     // direct, 6-row tiles, rows of 9: partial 64-wide tiles
            (2, 3, 16, 32, 3, 1, 1),    // direct, 8-row tiles (ResNet-20's stem)
            (2, 8, 9, 7, 3, 2, 1),      // image-major panels, scattered stores
            (2, 70, 8, 8, 5, 1, 2),     // image-major, whole panels
            (64, 40, 72, 8, 1, 1, 0),   // a 1×1 on 8×8 from batch 64: one product, columns across images
            (3, 24, 20, 7, 1, 1, 0),    // the same on 7×7: tiles across two images, through the task's tile
            (64, 8, 13, 4, 3, 1, 1),    // pixel-major
            (3, 8, 9, 8, 3, 1, 1),      // transformed 3×3: four tile rows per group, a half-empty last block
            (2, 16, 16, 32, 3, 1, 1),   // transformed 3×3: one tile row per group
            (1, 32, 32, 32, 3, 1, 1),   // transformed 3×3, 4×4 tiles: two tile rows per group
            (3, 32, 33, 16, 3, 1, 1),   // transformed 3×3, 4×4 tiles: four tile rows per group, a half-empty last block
            (7, 32, 33, 8, 3, 1, 1),    // transformed 3×3, 4×4 tiles on 8×8: four images per group, the last with 3
            (2, 8, 9, 14, 3, 1, 1),     // transformed 3×3 on a map zero-extended to 16×16: partial rows and columns
            (1, 16, 16, 28, 3, 1, 1),   // transformed 3×3 on a map zero-extended to 32 wide
            (1, 16, 17, 56, 3, 1, 1),   // transformed 3×3, 4×4 tiles on a map zero-extended to 64 wide: a half-vector tail
            (1, 16, 16, 50, 3, 1, 1),   // the same, 50 wide (a 2-float tail) and a part-filled tile row at the foot
            (40, 16, 17, 4, 3, 1, 1),   // transformed 3×3 on 4×4 maps, one tile an image: a second block of 8
            (7, 16, 17, 7, 3, 1, 1),    // transformed 3×3 on 7×7 maps as 8×8, four images a group, the last with 3
            (2, 8, 9, 32, 1, 1, 0),     // a 1×1 on 1024 pixels: a GEMM per image, the map after it
            (5, 40, 37, 1, 1, 1, 0),    // one pixel: the GEMM, 37 channels a row (two vectors and a tail)
            (3, 16, 48, 1, 3, 1, 1)]    // one pixel, the 3×3's centre tap
        for sh in shapes {
            let g = ConvGeometry(batch: sh.batch, inChannels: sh.cin, height: sh.h, width: sh.h, outChannels: sh.cout,
                                 kernel: sh.k, stride: sh.s, padding: sh.p)
            let x = random(sh.batch * sh.cin * sh.h * sh.h), wt = random(sh.cout * sh.cin * sh.k * sh.k), b = random(sh.cout)
            let n = sh.batch * sh.cout * g.outH * g.outW, plane = g.outH * g.outW
            let scale = random(sh.cout), shift = random(sh.cout), res = random(n)
            for (withResidual, relu) in [(false, true), (true, true), (true, false)] {
                var plain = [Float](repeating: .nan, count: n), fused = plain
                convForward(x: x, weight: wt, bias: b, geometry: g, y: &plain)
                scale.withUnsafeBufferPointer { sc in shift.withUnsafeBufferPointer { sf in res.withUnsafeBufferPointer { r in
                    let e = ConvEpilogue(scale: sc.baseAddress!, shift: sf.baseAddress!, residual: withResidual ? r.baseAddress! : nil,
                                         relu: relu)
                    convForward(x: x, weight: wt, bias: b, geometry: g, y: &fused, epilogue: e)
                } } }
                var differing = 0
                for i in 0..<n {
                    let co = (i / plane) % sh.cout
                    var v = plain[i] * scale[co] + shift[co]
                    if withResidual { v = v + res[i] }
                    if relu && v < 0 { v = 0 }
                    if fused[i] != v { differing += 1 }
                }
                XCTAssertEqual(differing, 0, "\(g) residual \(withResidual) relu \(relu): outputs unlike the separate maps")
            }
        }
    }

    /// dx of image-major panels on maps smaller than a panel (ResNet-50's 2×2 and 4×4 at 32×32 input, batch
    /// under 16): each image's unit must write only its own image. Its masked 32-float rows once reached
    /// into the neighbour's dx and wrote back what they had read, losing the neighbour's sums now and then
    /// (a ResNet-50 gradient off by 20 % in one test process of three). Many threaded runs must all equal
    /// the serial one bit for bit.
    func testSmallMapDataGradientIsTheSameOnEveryThread() {
        let saved = Parallel.maxThreads; defer { Parallel.maxThreads = saved }
        Parallel.maxThreads = 4
        for (h, cin) in [(2, 256), (4, 64)] {
            let g = ConvGeometry(batch: 8, inChannels: cin, height: h, width: h, outChannels: 64, kernel: 3, stride: 1, padding: 1)
            let wt = random(64 * cin * 9), dy = random(8 * 64 * h * h)
            func dx(serial: Bool) -> [Float] {
                var out = [Float](repeating: .nan, count: 8 * cin * h * h)
                wt.withUnsafeBufferPointer { w in dy.withUnsafeBufferPointer { d in
                    out.withUnsafeMutableBufferPointer { o in
                        let target = o.baseAddress!
                        let body = { convBackwardData(dy: d.baseAddress!, weight: w.baseAddress!, geometry: g, dx: target) }
                        if serial { Parallel.serial(body) } else { body() }
                    }
                } }
                return out
            }
            let reference = dx(serial: true)
            var differing = 0
            for _ in 0..<200 where dx(serial: false) != reference { differing += 1 }
            XCTAssertEqual(differing, 0, "\(h)×\(h) maps, \(cin) channels: threaded runs that differ from the serial one")
        }
    }

    /// The 3×3 stride-1 convolution in the transformed domain (Conv3x3.swift) and its dx: maps 8, 16 and 32
    /// wide (four, two and one tile rows per 16-lane group), taller and shorter maps than wide, an odd
    /// number of groups (a block's second half empty), output channels past a multiple of 8, with and
    /// without bias; and maps computed zero-extended to 16 or 32 wide (28, 14, 12; at 14×14 also past
    /// 128 × 128 channels) or to whole groups of rows (14, 13, 7 rows). Their weight gradient takes the
    /// transformed path only with channels in vectors of 16 (`testTransformedThreeByThreeWeightGradient`).
    func testTransformedThreeByThree() {
        for (b, cin, cout, h, w) in [(3, 8, 9, 8, 8), (2, 16, 16, 32, 32), (1, 12, 20, 16, 16), (2, 9, 8, 24, 8),
                                     (1, 8, 17, 4, 16), (2, 8, 8, 10, 32),
                                     (2, 8, 9, 28, 28), (1, 12, 8, 14, 14), (2, 8, 16, 13, 12), (1, 8, 8, 7, 28),
                                     (1, 16, 16, 14, 14), (1, 144, 130, 14, 14)] {
            let g = ConvGeometry(batch: b, inChannels: cin, height: h, width: w, outChannels: cout, kernel: 3, stride: 1, padding: 1)
            XCTAssertTrue(conv3x3Applies(g), "\(g) should take the transformed path")
            XCTAssertEqual(conv3x3WeightsApply(g), cin % 16 == 0 && cout % 16 == 0, "\(g): transformed dW")
            check(batch: b, cin: cin, cout: cout, h: h, w: w, k: 3, s: 1, p: 1, bias: cout % 2 == 1)
        }
    }

    /// F(4×4, 3×3) (`largeTilesApply`): 32-wide maps (two tile rows per group) one group tall and four,
    /// 16-wide (four tile rows per group) with an odd number of groups and two groups tall, 8×8 (four images
    /// per group), 4×4 (an image per lane: a block part-filled, a second block's second half empty or
    /// short), 7×7 as 8×8 (its outputs' eighth row and column never stored; past 256 channels from a batch
    /// of 32, F(2×2) below), maps 48 to 64 wide as 64 (one
    /// tile row a group; columns past 56, 50 and 60 and rows past 54 and 9 never stored); output channels
    /// past a multiple of 8, input channels not a multiple of 16, with and without bias. Its larger
    /// transform entries make its float error larger than F(2×2)'s; `check` holds it to the same bound.
    func testLargeTiles() {
        // 8×8: four images to a group; 6 and 9 images end in a part-filled group (2, 1 images), 9 in a half-used block.
        for (b, cin, cout, h, w) in [(3, 32, 33, 8, 32), (1, 40, 32, 32, 32), (3, 32, 36, 16, 16), (1, 32, 32, 32, 16),
                                     (6, 32, 33, 8, 8), (9, 40, 32, 8, 8), (4, 64, 64, 8, 8), (2, 16, 16, 32, 32),
                                     (3, 16, 24, 16, 16), (5, 16, 16, 4, 4), (40, 40, 33, 4, 4), (50, 24, 16, 4, 4),
                                     (2, 256, 16, 4, 4), (6, 32, 33, 7, 7), (9, 16, 16, 7, 7), (2, 256, 16, 7, 7), (32, 16, 272, 7, 7),
                                     (1, 16, 17, 56, 56), (2, 16, 16, 64, 64), (1, 24, 16, 54, 50), (1, 16, 24, 9, 60)] {
            let g = ConvGeometry(batch: b, inChannels: cin, height: h, width: w, outChannels: cout, kernel: 3, stride: 1, padding: 1)
            XCTAssertTrue(conv3x3Applies(g) && largeTilesApply(height: h, width: w, inChannels: cin, outChannels: cout, batch: b),
                          "\(g) should take 4×4 tiles")
            if h == 7 && cin > 128 { XCTAssertFalse(conv3x3WeightsApply(g), "\(g): dW past 128 channels takes the panels") }
            if w > 32 { XCTAssertEqual(conv3x3WeightsApply(g), cin % 16 == 0 && cout % 16 == 0, "\(g): transformed dW on a 64-wide map") }
            check(batch: b, cin: cin, cout: cout, h: h, w: w, k: 3, s: 1, p: 1, bias: cout % 2 == 1)
        }
        // Not on other 8-wide maps, nor where a map is zero-extended, nor under 16 or past 128 channels.
        for (h, w) in [(16, 8), (6, 6), (28, 28), (14, 14), (12, 32)] {
            XCTAssertFalse(largeTilesApply(height: h, width: w, inChannels: 32, outChannels: 32, batch: 64), "\(h)×\(w)")
        }
        for (cin, cout) in [(8, 16), (16, 8), (8, 64), (128, 256)] {
            XCTAssertFalse(largeTilesApply(height: 32, width: 32, inChannels: cin, outChannels: cout, batch: 64), "\(cin) → \(cout)")
        }
        // 7×7 maps past 256 channels take F(2×2) tiles under a batch of 32 (the input gradient too).
        for (b, cin, cout) in [(2, 320, 16), (3, 16, 272)] {
            let g = ConvGeometry(batch: b, inChannels: cin, height: 7, width: 7, outChannels: cout, kernel: 3, stride: 1, padding: 1)
            XCTAssertTrue(conv3x3Applies(g) && !largeTilesApply(height: 7, width: 7, inChannels: cin, outChannels: cout, batch: b), "\(g)")
            check(batch: b, cin: cin, cout: cout, h: 7, w: 7, k: 3, s: 1, p: 1, bias: cout % 2 == 1)
        }
        // Under 16 channels or past 512, the panels.
        for (cin, cout) in [(8, 16), (16, 8), (512, 1024)] {
            let g = ConvGeometry(batch: 2, inChannels: cin, height: 7, width: 7, outChannels: cout, kernel: 3, stride: 1, padding: 1)
            XCTAssertFalse(conv3x3Applies(g), "7×7 \(cin) → \(cout)")
        }
        // Maps 48 to 64 wide: only in 4×4 tiles, so from 16 to 128 channels; else the panels, as past 64 or under 48.
        for (cin, cout, h, w) in [(8, 16, 56, 56), (16, 8, 56, 56), (128, 256, 56, 56), (16, 16, 56, 66), (16, 16, 56, 46)] {
            let g = ConvGeometry(batch: 2, inChannels: cin, height: h, width: w, outChannels: cout, kernel: 3, stride: 1, padding: 1)
            XCTAssertFalse(conv3x3Applies(g), "\(h)×\(w) \(cin) → \(cout)")
        }
        // 4×4 maps: from 16 to 512 channels; with fewer or more, the panels.
        for (cin, cout) in [(8, 16), (16, 8), (512, 1024)] {
            let g = ConvGeometry(batch: 2, inChannels: cin, height: 4, width: 4, outChannels: cout, kernel: 3, stride: 1, padding: 1)
            XCTAssertFalse(singleTilesApply(g) || largeTilesApply(height: 4, width: 4, inChannels: cin, outChannels: cout, batch: 2), "4×4 \(cin) → \(cout)")
        }
    }

    /// The input gradient with a tensor added (a residual block's shortcut gradient) is the input gradient
    /// plus that tensor, the same float additions, on every path: the transformed one adds as it stores
    /// (F(2×2), F(4×4) 32 and 16 wide, 8×8 in groups of four images, zero-extended maps' edges), the others
    /// after (direct, panels, a 4×4 map's 3×3, a stride-2 3×3, the subsampled 1×1).
    func testInputGradientWithATensorAdded() {
        for (b, cin, cout, h, k, s, p) in [(2, 8, 9, 16, 3, 1, 1), (2, 16, 16, 32, 3, 1, 1), (1, 32, 32, 16, 3, 1, 1),
                                           (6, 32, 33, 8, 3, 1, 1), (2, 8, 9, 28, 3, 1, 1), (1, 16, 16, 54, 3, 1, 1), (2, 8, 16, 13, 3, 1, 1), (17, 16, 24, 4, 3, 1, 1),
                                           (2, 3, 12, 9, 3, 1, 1), (2, 8, 9, 7, 3, 2, 1), (2, 16, 32, 8, 1, 2, 0),
                                           (5, 40, 37, 1, 3, 1, 1), (3, 24, 20, 2, 1, 2, 0), (2, 9, 8, 32, 1, 1, 0)] {
            let g = ConvGeometry(batch: b, inChannels: cin, height: h, width: h, outChannels: cout, kernel: k, stride: s, padding: p)
            let wt = random(cout * cin * k * k), dy = random(b * cout * g.outH * g.outW), r = random(b * cin * h * h)
            var plain = [Float](repeating: .nan, count: r.count), summed = plain
            convBackwardData(dy: dy, weight: wt, geometry: g, dx: &plain)
            r.withUnsafeBufferPointer { convBackwardData(dy: dy, weight: wt, geometry: g, dx: &summed, adding: $0.baseAddress!) }
            XCTAssertEqual(summed, zip(plain, r).map { $0 + $1 }, "\(g)")
            XCTAssertFalse(plain.contains { $0.isNaN }, "\(g): every input gradient written")
        }
    }

    /// The weight gradient in the transformed domain: input channels in vectors of 16 (one, two, three:
    /// the 8×32 and 8×16 tile products), chunks of several images on small maps with a partial last
    /// chunk, one image per chunk on large ones, maps shorter than wide. F(4×4) tiles (`largeTilesApply`)
    /// but for the 4×16 map and the 144 input channels (F(2×2), 5 images in chunks of 4); 9 images at 8×8
    /// end in a part-filled F(4×4) chunk of 8; 7×7 maps as 8×8, their gradient zero-extended. 4×4 maps, an
    /// image a tile and the batch the products' depth (`singleTileWeightGradient`): one image, an odd
    /// batch, input channels of one vector (the 8×16 tile alone) and of 32 + 16, 512 a side. Maps the
    /// forward zero-extends, in tiles that cover just the map (a last tile row or column part outside):
    /// 14×14 and 28×28 in F(2×2) (14×14 also past 128 channels), 13 rows, 56×56, 54×50 in F(4×4).
    func testTransformedThreeByThreeWeightGradient() {
        for (b, cin, cout, h, w) in [(3, 16, 16, 8, 8), (5, 32, 16, 8, 8), (2, 48, 32, 16, 16), (1, 16, 48, 4, 16),
                                     (2, 16, 16, 32, 32), (9, 16, 16, 8, 8), (3, 16, 48, 16, 16),
                                     (5, 144, 16, 8, 8), (9, 16, 32, 7, 7), (3, 48, 16, 7, 7),
                                     (1, 16, 16, 4, 4), (37, 48, 32, 4, 4), (6, 32, 48, 4, 4), (3, 512, 16, 4, 4),
                                     (2, 16, 32, 14, 14), (1, 160, 144, 14, 14), (1, 32, 16, 28, 28), (3, 16, 16, 13, 12),
                                     (1, 16, 16, 56, 56), (1, 32, 16, 54, 50)] {
            let g = ConvGeometry(batch: b, inChannels: cin, height: h, width: w, outChannels: cout, kernel: 3, stride: 1, padding: 1)
            XCTAssertTrue(conv3x3WeightsApply(g), "\(g) should take the transformed weight gradient")
            check(batch: b, cin: cin, cout: cout, h: h, w: w, k: 3, s: 1, p: 1, bias: cout % 2 == 1)
        }
        // Past 512 channels on a 4×4 map the panels (as the forward); so too channels not in vectors of 16.
        for (cin, cout) in [(1024, 16), (16, 1024), (24, 16)] {
            let g = ConvGeometry(batch: 2, inChannels: cin, height: 4, width: 4, outChannels: cout, kernel: 3, stride: 1, padding: 1)
            XCTAssertFalse(conv3x3WeightsApply(g), "4×4 \(cin) → \(cout)")
        }
    }

    func testImageMajorPanels() {
        check(batch: 2, cin: 3, cout: 4, h: 5, w: 6, k: 3, s: 1, p: 1, bias: true)
        check(batch: 3, cin: 2, cout: 7, h: 9, w: 9, k: 5, s: 1, p: 0, bias: true)
        check(batch: 2, cin: 3, cout: 5, h: 10, w: 9, k: 7, s: 2, p: 3, bias: false)
        check(batch: 1, cin: 1, cout: 6, h: 12, w: 12, k: 5, s: 1, p: 0, bias: true)
        // Too many input taps for the direct method: panels with masked contiguous rows (stride 1, same padding).
        check(batch: 2, cin: 64, cout: 9, h: 9, w: 7, k: 3, s: 1, p: 1, bias: false)
        // Strided: panels packed from the image's column phases in runs of up to 16 outputs of a row
        // (`PhaseLayout`). Rows a multiple of 16 (the second shape ends in a half-full panel); rows of
        // 11 (runs starting past column 16, blended into the panel row); rows of 28 (ResNet-50's stride-2
        // 3×3 at 56×56); AlexNet's stem at 64×64 (rows of 15, a last panel of one column).
        check(batch: 2, cin: 2, cout: 9, h: 8, w: 32, k: 7, s: 2, p: 3, bias: true)
        check(batch: 3, cin: 3, cout: 4, h: 5, w: 32, k: 3, s: 2, p: 1, bias: false)
        check(batch: 2, cin: 3, cout: 5, h: 21, w: 22, k: 3, s: 2, p: 1, bias: true)
        check(batch: 1, cin: 4, cout: 8, h: 56, w: 56, k: 3, s: 2, p: 1, bias: false)
        check(batch: 2, cin: 3, cout: 9, h: 64, w: 64, k: 11, s: 4, p: 2, bias: true)
        // Output rows one column wide: a panel of 20 runs (the input gradient adds each into the phases).
        check(batch: 1, cin: 3, cout: 5, h: 40, w: 2, k: 3, s: 2, p: 1, bias: false)
    }

    /// Kernels past 8×8 (more taps than a 64-bit mask held: AlexNet's 11×11 has 121) and strides past 2,
    /// on both panel layouts: image-major (few images) and pixel-major (enough images to fill its panels).
    func testLargeKernelsAndStrides() {
        check(batch: 2, cin: 3, cout: 5, h: 31, w: 29, k: 11, s: 4, p: 2, bias: true)
        check(batch: 64, cin: 2, cout: 4, h: 23, w: 23, k: 11, s: 4, p: 2, bias: true)
        check(batch: 2, cin: 2, cout: 3, h: 12, w: 13, k: 9, s: 1, p: 4, bias: false)
        check(batch: 2, cin: 3, cout: 4, h: 11, w: 10, k: 3, s: 3, p: 1, bias: true)
        check(batch: 33, cin: 33, cout: 9, h: 9, w: 9, k: 5, s: 3, p: 2, bias: false)
    }

    /// The direct method (small stride-1 convs, rows up to 32 wide): two output rows per vector pair
    /// (width ≤ 16) and one row across two vectors (17…32), with and without padding.
    func testDirectConvolution() {
        check(batch: 3, cin: 1, cout: 6, h: 32, w: 30, k: 5, s: 1, p: 0, bias: true)
        check(batch: 2, cin: 6, cout: 16, h: 14, w: 14, k: 5, s: 1, p: 0, bias: true)
        check(batch: 2, cin: 5, cout: 11, h: 9, w: 8, k: 3, s: 1, p: 1, bias: false)
        check(batch: 2, cin: 2, cout: 3, h: 7, w: 20, k: 4, s: 1, p: 2, bias: true)
        // Output planes of whole vectors, whose dy dW reads in place: LeNet-5's conv1, and 8×8 maps.
        check(batch: 3, cin: 1, cout: 6, h: 28, w: 28, k: 5, s: 1, p: 2, bias: true)
        check(batch: 3, cin: 2, cout: 8, h: 8, w: 8, k: 3, s: 1, p: 1, bias: false)
        // 6-row forward tiles: two blocks of six output channels, no bias, a partial last tile.
        check(batch: 2, cin: 2, cout: 12, h: 10, w: 9, k: 3, s: 1, p: 1, bias: false)
        // dW as outer products over 16 output channels (5×5 taps): two blocks, a zero border.
        check(batch: 3, cin: 2, cout: 32, h: 9, w: 7, k: 5, s: 1, p: 2, bias: false)
        // A 1×1 the direct forward takes, its weight gradient on the panels (ResNet-50's layer1 at 32×32).
        check(batch: 3, cin: 70, cout: 20, h: 8, w: 8, k: 1, s: 1, p: 0, bias: true)
    }

    /// Pixel-major panels (32 images' same pixel) where they fill more of their columns on more cores
    /// than image-major ones (one image's pixels); the shapes the layout tests above mean for each.
    func testPanelLayoutIsTheFullerOne() {
        let saved = Parallel.maxThreads; defer { Parallel.maxThreads = saved }
        Parallel.maxThreads = 2
        func pixelMajor(_ b: Int, _ h: Int, k: Int = 3, s: Int = 1, p: Int = 1) -> Bool {
            ConvPanels(ConvGeometry(batch: b, inChannels: 8, height: h, width: h, outChannels: 8, kernel: k, stride: s, padding: p)).pixelMajor
        }
        XCTAssertFalse(pixelMajor(16, 7), "ResNet-50 224's layer4 at batch 16: one half-full pixel-major unit, one core")
        XCTAssertTrue(pixelMajor(64, 7), "7×7 at batch 64: two full pixel-major units")
        XCTAssertTrue(pixelMajor(16, 1), "1×1 maps: an image-major panel holds one real column of 32")
        XCTAssertFalse(pixelMajor(16, 4), "4×4 at batch 16: image-major panels half full on both cores")
        XCTAssertTrue(pixelMajor(32, 4), "4×4 at batch 32: as full either way, a 3×3 pixel-major (taps read in place)")
        XCTAssertFalse(pixelMajor(32, 4, k: 1, p: 0), "4×4 at batch 32: as full either way, a 1×1 image-major (no transposes)")
        XCTAssertFalse(pixelMajor(64, 8, k: 1, p: 0), "8×8 at batch 64: full panels either way, a 1×1 image-major")
        XCTAssertTrue(pixelMajor(64, 16, k: 3, s: 2, p: 1), "3×3/2 onto 8×8 at batch 64: as full either way, pixel-major")
        XCTAssertFalse(pixelMajor(64, 9), "81 outputs: image-major")
        XCTAssertTrue(pixelMajor(64, 23, k: 11, s: 4, p: 2))
        XCTAssertTrue(pixelMajor(33, 9, k: 5, s: 3, p: 2))
        XCTAssertTrue(pixelMajor(17, 1) && pixelMajor(33, 2) && pixelMajor(20, 2, s: 2) && pixelMajor(34, 2) && pixelMajor(20, 4, s: 2))
        XCTAssertFalse(pixelMajor(2, 8) || pixelMajor(8, 4), "few images: image-major")
    }

    func testPixelMajorPanelsAndSkippedTaps() {
        // 1×1 maps (centre tap only), 2×2 maps (four taps per pixel), stride 2 onto 1×1, 1×1 projection.
        check(batch: 17, cin: 8, cout: 13, h: 1, w: 1, k: 3, s: 1, p: 1, bias: false)
        check(batch: 33, cin: 4, cout: 7, h: 2, w: 2, k: 3, s: 1, p: 1, bias: false)
        check(batch: 20, cin: 5, cout: 6, h: 2, w: 2, k: 3, s: 2, p: 1, bias: true)
        check(batch: 40, cin: 6, cout: 9, h: 4, w: 4, k: 1, s: 2, p: 0, bias: false)
        check(batch: 64, cin: 3, cout: 8, h: 4, w: 4, k: 3, s: 1, p: 1, bias: true)
        // Cin a multiple of 32: dW skips the k panels of taps outside the image, pixel by pixel.
        check(batch: 34, cin: 32, cout: 8, h: 2, w: 2, k: 3, s: 1, p: 1, bias: false)
        check(batch: 20, cin: 64, cout: 5, h: 4, w: 4, k: 3, s: 2, p: 1, bias: false)
    }

    /// 32 input channels or more: dW from the channel-blocked layouts, including partial channel
    /// panels (40 = 32 + 8), partial output panels (13), stride 2, 1×1 kernels and a 1×1 map.
    func testChannelBlockedWeightGradient() {
        check(batch: 3, cin: 40, cout: 13, h: 5, w: 6, k: 3, s: 1, p: 1, bias: true)
        check(batch: 2, cin: 32, cout: 8, h: 7, w: 7, k: 3, s: 2, p: 1, bias: false)
        check(batch: 5, cin: 33, cout: 9, h: 4, w: 4, k: 1, s: 2, p: 0, bias: false)
        check(batch: 17, cin: 64, cout: 16, h: 1, w: 1, k: 3, s: 1, p: 1, bias: false)
    }

    /// Wide rows: the blocked weight gradient's items then hold two of five output panels (the last item
    /// one) and one of two input panels, so the tiles of several panel pairs share a row's operands.
    func testChannelBlockedWeightGradientInGroups() {
        let saved = Parallel.maxThreads; defer { Parallel.maxThreads = saved }
        Parallel.maxThreads = 2
        let groups = blockedWeightGroups(coPanels: 5, cPanels: 2, rowK: 64 * 48, kernelRows: 1, taps: 1)
        XCTAssertEqual(groups.0, 2, "the shape below no longer makes uneven groups of output panels")
        XCTAssertEqual(groups.1, 1)
        check(batch: 64, cin: 40, cout: 40, h: 2, w: 48, k: 1, s: 1, p: 0, bias: false)
        // 3×3 on narrower rows: three output panels and two, each with one input panel (on two threads).
        let taps = blockedWeightGroups(coPanels: 5, cPanels: 2, rowK: 20 * 48, kernelRows: 3, taps: 9)
        XCTAssertTrue(taps.0 > 1 && 5 % taps.0 != 0 && taps.1 == 1, "\(taps)")
        check(batch: 20, cin: 40, cout: 40, h: 3, w: 48, k: 3, s: 1, p: 1, bias: true)
        // Rows of 16 or more pixels are laid out inside each item: a row with a 5-pixel tail and an odd
        // number of output panels, a 5×5 kernel's ring of rows, and no padding (rows from the top).
        check(batch: 3, cin: 40, cout: 24, h: 4, w: 37, k: 3, s: 1, p: 1, bias: false)
        check(batch: 2, cin: 33, cout: 17, h: 7, w: 40, k: 5, s: 1, p: 2, bias: false)
        check(batch: 4, cin: 64, cout: 16, h: 5, w: 34, k: 3, s: 1, p: 0, bias: true)
    }

    /// Strided convs on the channel-blocked weight gradient, whose input rows are laid out in column phases:
    /// an odd width (phases of 6 and 5 columns), stride 3 with a 5×5 kernel, and the widths' last output
    /// column meeting the border.
    func testStridedBlockedWeightGradient() {
        check(batch: 3, cin: 40, cout: 16, h: 9, w: 11, k: 3, s: 2, p: 1, bias: false)
        check(batch: 2, cin: 36, cout: 8, h: 13, w: 14, k: 5, s: 3, p: 2, bias: true)
        check(batch: 5, cin: 64, cout: 24, h: 6, w: 12, k: 3, s: 2, p: 0, bias: false)
    }

    /// The stride-2 3×3 weight gradient as outer products (`stridedWeightsApply`): ResNet-20's 16 → 32
    /// (at 16×16), odd and non-square maps whose last output row or column meets the border, one and two
    /// input vectors, one to eight output vectors, one image per task and several.
    func testStridedThreeByThreeWeightGradient() {
        for (b, cin, cout, h, w) in [(2, 16, 32, 16, 16), (3, 16, 16, 7, 9), (1, 32, 48, 8, 5), (5, 32, 16, 6, 6),
                                     (2, 16, 128, 3, 4)] {
            let g = ConvGeometry(batch: b, inChannels: cin, height: h, width: w, outChannels: cout, kernel: 3, stride: 2, padding: 1)
            XCTAssertTrue(stridedWeightsApply(g), "\(g) should take the strided weight gradient")
            check(batch: b, cin: cin, cout: cout, h: h, w: w, k: 3, s: 2, p: 1, bias: cout % 32 == 0)
        }
        for (cin, cout, s) in [(16, 8, 2), (8, 16, 2), (48, 16, 2), (64, 128, 2), (16, 144, 2), (16, 16, 1)] {
            let g = ConvGeometry(batch: 1, inChannels: cin, height: 8, width: 8, outChannels: cout, kernel: 3, stride: s, padding: 1)
            XCTAssertFalse(stridedWeightsApply(g), "\(g)")
        }
    }

    /// One pixel in and one out (ResNet's layer4 at 32×32 inputs): a matrix product with the one tap that
    /// reaches the pixel; partial GEMM panels (37 and 70 channels, batch 5), the centre tap of a 3×3 and a
    /// 5×5, a stride-2 1×1 onto one pixel (subsampled first), and a product whose 1024 output channels
    /// make 32 column panels (its work split into groups smaller than 16 panels).
    func testSinglePixelConvolutions() {
        check(batch: 5, cin: 37, cout: 70, h: 1, w: 1, k: 1, s: 1, p: 0, bias: true)
        check(batch: 3, cin: 20, cout: 33, h: 1, w: 1, k: 3, s: 1, p: 1, bias: false)
        check(batch: 2, cin: 9, cout: 17, h: 1, w: 1, k: 5, s: 1, p: 2, bias: true)
        check(batch: 4, cin: 24, cout: 40, h: 2, w: 2, k: 1, s: 2, p: 0, bias: false)
        check(batch: 6, cin: 48, cout: 1024, h: 1, w: 1, k: 1, s: 1, p: 0, bias: false)
        func tap(_ h: Int, _ k: Int, _ s: Int, _ p: Int) -> Int? {
            singlePixelTap(ConvGeometry(batch: 2, inChannels: 8, height: h, width: h, outChannels: 8, kernel: k, stride: s, padding: p))
        }
        XCTAssertEqual(tap(1, 1, 1, 0), 0)
        XCTAssertEqual(tap(1, 3, 1, 1), 4)
        XCTAssertEqual(tap(1, 5, 1, 2), 12)
        XCTAssertEqual(tap(1, 3, 2, 1), 4)       // stride changes nothing on one pixel
        XCTAssertNil(tap(2, 1, 2, 0))            // two pixels in: subsampled first, then one pixel
        XCTAssertNil(tap(3, 3, 1, 0))            // one pixel out, nine in
        XCTAssertNil(tap(2, 3, 1, 1))            // 2×2 out
    }

    /// 1×1 convs on large maps as a matrix product per image (`oneByOneProducts`): the forward and dx
    /// from 1024 pixels (a plane not a multiple of the GEMM's 32 columns, with bias; a stride-2 1×1 whose
    /// subsampled map is 32×32), the weight gradient from 196 with 64 channels a side, summed as dW (more
    /// input channels) or as dWᵀ turned round (more output channels; 72 input channels: a tail of 8).
    func testOneByOneAsProducts() {
        for (b, cin, cout, h, w, s, bias) in [(2, 5, 9, 33, 35, 1, true), (1, 4, 6, 64, 64, 2, false), (3, 96, 64, 14, 14, 1, true),
                                               (2, 64, 80, 15, 14, 1, false), (1, 64, 72, 32, 32, 1, false),
                                               (1, 72, 80, 14, 14, 1, true)] {
            let g = ConvGeometry(batch: b, inChannels: cin, height: h, width: w, outChannels: cout, kernel: 1, stride: s, padding: 0)
            let sg = g.subsampled ?? g
            XCTAssertEqual(oneByOneProducts(sg, .forward), h * w / (s * s) >= 1024 ? .perImage : b > 1 ? .wholeBatch : nil, "\(g): forward")
            XCTAssertEqual(oneByOneProducts(sg, .weightGradient), min(cin, cout) >= 64 ? .perImage : nil, "\(g): dW")
            check(batch: b, cin: cin, cout: cout, h: h, w: w, k: 1, s: s, p: 0, bias: bias)
        }
        // Not a 3×3, nor padded or strided (those are subsampled first); 32×31 (992 pixels) of one image on
        // the panels.
        for (k, s, p, h) in [(3, 1, 1, 64), (1, 1, 1, 64), (1, 2, 0, 64), (1, 1, 0, 31)] {
            let g = ConvGeometry(batch: 1, inChannels: 64, height: h, width: 32, outChannels: 64, kernel: k, stride: s, padding: p)
            XCTAssertNil(oneByOneProducts(g, .forward), "\(g)")
        }
    }

    /// 1×1 convs on planes of 32 to 1023 pixels as one product over the batch, its 32-column panels running
    /// on from one image into the next (`ImageColumns`): 7×7 (tiles across two images, a part-filled last
    /// panel, 20 output channels: a part-filled row panel), 6×6, 4×8 (panels that never cross), a depth of
    /// 200 input or output channels (a second depth block adds into tiles that cross images), a stride-2
    /// 1×1 whose subsampled map is 7×7; planes under 32 and a batch of one stay on the panels.
    func testOneByOneAcrossImages() {
        for (b, cin, cout, h, w, s, bias) in [(3, 24, 20, 7, 7, 1, true), (2, 40, 9, 6, 6, 1, false), (5, 17, 33, 4, 8, 1, true),
                                               (2, 200, 16, 7, 7, 1, false), (2, 16, 200, 7, 7, 1, true),
                                               (3, 16, 24, 14, 14, 2, false), (2, 24, 40, 14, 14, 1, false)] {
            let g = ConvGeometry(batch: b, inChannels: cin, height: h, width: w, outChannels: cout, kernel: 1, stride: s, padding: 0)
            let sg = g.subsampled ?? g
            XCTAssertEqual(oneByOneProducts(sg, .forward), .wholeBatch, "\(g): forward")
            XCTAssertEqual(oneByOneProducts(sg, .inputGradient), .wholeBatch, "\(g): dx")
            check(batch: b, cin: cin, cout: cout, h: h, w: w, k: 1, s: s, p: 0, bias: bias)
        }
        for (b, h, w) in [(4, 4, 4), (4, 5, 6), (1, 7, 7)] {
            let g = ConvGeometry(batch: b, inChannels: 64, height: h, width: w, outChannels: 64, kernel: 1, stride: 1, padding: 0)
            XCTAssertNil(oneByOneProducts(g, .forward), "\(g)")
        }
    }

    /// 1×1 convs with a stride run on the subsampled input: odd sizes, stride 3, and image-major maps;
    /// rows of 32 and more at stride 2 (the subsample's and its adjoint's vectors: 32, 33 and 70 wide,
    /// with tails of 0, 1 and 3 outputs).
    func testStridedOneByOne() {
        check(batch: 3, cin: 5, cout: 7, h: 7, w: 5, k: 1, s: 2, p: 0, bias: true)
        check(batch: 2, cin: 36, cout: 10, h: 9, w: 11, k: 1, s: 3, p: 0, bias: false)
        check(batch: 2, cin: 3, cout: 4, h: 20, w: 18, k: 1, s: 2, p: 0, bias: true)
        check(batch: 2, cin: 3, cout: 5, h: 4, w: 32, k: 1, s: 2, p: 0, bias: false)
        check(batch: 1, cin: 2, cout: 3, h: 5, w: 33, k: 1, s: 2, p: 0, bias: true)
        check(batch: 1, cin: 2, cout: 3, h: 3, w: 70, k: 1, s: 2, p: 0, bias: false)
    }

    /// Stride-2 image-major convs on rows of 32 and more: the phase layout's vector split (runs of 32
    /// columns into their even and odd ones) with tails of 0, 1 and 6 columns, at paddings 1, 2 and 3.
    func testStrideTwoPhaseLayoutOnWideRows() {
        for (h, w, k, p) in [(9, 32, 3, 1), (9, 33, 3, 2), (8, 70, 7, 3)] {
            let g = ConvGeometry(batch: 2, inChannels: 3, height: h, width: w, outChannels: 8, kernel: k, stride: 2, padding: p)
            XCTAssertNotNil(PhaseLayout(ConvPanels(g)), "\(g) should take the phase layout")
            check(batch: 2, cin: 3, cout: 8, h: h, w: w, k: k, s: 2, p: p, bias: p == 1)
        }
    }

    /// PyTorch's W[co][c][t] sits at [t][co][c] in memory, and comes back unchanged.
    func testTapMajorLayoutRoundTrip() {
        let cout = 3, cin = 5, kk = 9
        let torch = (0..<cout * cin * kk).map { Float($0) }   // each value is its index in PyTorch's order
        var tm = [Float](repeating: .nan, count: torch.count), back = tm
        ConvWeights.fromTorch(torch, &tm, outChannels: cout, inChannels: cin, taps: kk)
        for co in 0..<cout { for c in 0..<cin { for t in 0..<kk {
            XCTAssertEqual(tm[(t * cout + co) * cin + c], Float((co * cin + c) * kk + t))
        } } }
        ConvWeights.toTorch(tm, &back, outChannels: cout, inChannels: cin, taps: kk)
        XCTAssertEqual(back, torch)
    }

    /// Taps that reach no output pixel: their dW blocks are zeroed, or left alone when the caller says
    /// they already hold zeros; the other blocks are the same either way.
    func testIdleTapsOfTheWeightGradient() {
        // 2×2 map, stride 2, padding 1: the one output pixel sees input rows/columns -1…1, so taps 4, 5, 7, 8.
        XCTAssertEqual(ConvWeights.activeTaps(ConvGeometry(batch: 1, inChannels: 1, height: 2, width: 2, outChannels: 1,
                                                           kernel: 3, stride: 2, padding: 1)), [4, 5, 7, 8])
        let g = ConvGeometry(batch: 17, inChannels: 32, height: 1, width: 1, outChannels: 8, kernel: 3, stride: 1, padding: 1)
        XCTAssertEqual(ConvWeights.activeTaps(g), [4])
        let x = random(17 * 32), wt = random(9 * 8 * 32), dy = random(17 * 8)
        var zeroed = [Float](repeating: .nan, count: wt.count), kept = [Float](repeating: 7, count: wt.count)
        convBackward(dy: dy, x: x, weight: wt, geometry: g, dWeight: &zeroed, dBias: nil, dx: nil)
        convBackward(dy: dy, x: x, weight: wt, geometry: g, dWeight: &kept, dBias: nil, dx: nil, idleTapsZeroed: true)
        let block = 8 * 32
        XCTAssertEqual(Array(kept[(4 * block)..<(5 * block)]), Array(zeroed[(4 * block)..<(5 * block)]))
        XCTAssertNotEqual(zeroed[4 * block], 0)
        for t in 0..<9 where t != 4 {
            XCTAssertTrue(zeroed[(t * block)..<((t + 1) * block)].allSatisfy { $0 == 0 }, "tap \(t) zeroed")
            XCTAssertTrue(kept[(t * block)..<((t + 1) * block)].allSatisfy { $0 == 7 }, "tap \(t) left alone")
        }
    }

    func testThreadCountDoesNotChangeForward() {
        let g = ConvGeometry(batch: 8, inChannels: 4, height: 6, width: 6, outChannels: 5, kernel: 3, stride: 1, padding: 1)
        let x = random(8 * 4 * 36), wt = random(5 * 4 * 9)
        func run(_ threads: Int) -> [Float] {
            let saved = Parallel.maxThreads; defer { Parallel.maxThreads = saved }
            Parallel.maxThreads = threads
            var y = [Float](repeating: 0, count: 8 * 5 * 36)
            convForward(x: x, weight: wt, bias: nil, geometry: g, y: &y)
            return y
        }
        XCTAssertEqual(run(1), run(2))
    }
}
