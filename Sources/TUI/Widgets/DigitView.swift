import Foundation

/// How a sample image is drawn.
public enum DigitGlyphMode: Equatable, Sendable {
    /// `▀` with the top pixel's colour as foreground and the bottom pixel's as background: two
    /// pixel rows per cell. Colour images in 24-bit colour on a direct-colour terminal, else the
    /// nearest of the 256-colour cube and grey ramp; grey images on the 256-colour grey ramp.
    case halfBlocks
    /// Shade characters ` ░▒▓█` of the brightness (few colours, UTF-8).
    case shades
    /// ASCII ramp ` .:-=+*#%@` of the brightness.
    case ascii

    public static func forCaps(_ caps: RenderCaps) -> DigitGlyphMode {
        if !caps.unicode { return .ascii }
        return caps.has256 ? .halfBlocks : .shades
    }

    static let shadeRamp: [Character] = [" ", "░", "▒", "▓", "█"]
    static let asciiRamp: [Character] = [" ", ".", ":", "-", "=", "+", "*", "#", "%", "@"]
}

/// A grid of test images (MNIST digits, CIFAR photos, ...), each scaled to the same cell box with
/// its predicted class, a ✓/✗, the true class when wrong, and the confidence under it.
public struct DigitView: Sendable {
    public var samples: [SampleImage]
    public var title: String
    /// Mistakes view (only changes the empty note).
    public var mistakes: Bool

    public init(samples: [SampleImage], title: String, mistakes: Bool = false) {
        self.samples = samples; self.title = title; self.mistakes = mistakes
    }

    /// MNIST digits (an empty literal means the `SampleImage` form).
    @_disfavoredOverload
    public init(samples: [DigitSample], title: String, mistakes: Bool = false) {
        self.init(samples: samples.map(\.image), title: title, mistakes: mistakes)
    }

    /// Size in cells of one image's box: 14x7 (small) or 28x14 (large). A cell is about twice as
    /// tall as wide, so either box shows a square image undistorted.
    public static func digitSize(large: Bool) -> (cols: Int, rows: Int) { large ? (28, 14) : (14, 7) }

    /// Mean of plane `plane` over the pixel block [x0, x1) x [y0, y1) (at least one pixel).
    static func mean(_ img: SampleImage, plane: Int, _ x0: Int, _ x1: Int, _ y0: Int, _ y1: Int) -> Int {
        let w = img.width, h = img.height
        let xs = max(0, x0), xe = min(w, max(x1, x0 + 1)), ys = max(0, y0), ye = min(h, max(y1, y0 + 1))
        guard xs < xe, ys < ye else { return 0 }
        let base = plane * w * h, n = img.pixels.count
        var sum = 0
        img.pixels.withUnsafeBufferPointer { px in
            for y in ys..<ye {
                for x in xs..<xe {
                    let i = base + y * w + x
                    if i < n { sum += Int(px[i]) }
                }
            }
        }
        return sum / ((xe - xs) * (ye - ys))
    }

    /// The block's mean colour; a grey image repeats its one plane.
    static func blockRGB(_ img: SampleImage, _ x0: Int, _ x1: Int, _ y0: Int, _ y1: Int) -> (r: Int, g: Int, b: Int) {
        if img.channels == 3 {
            return (mean(img, plane: 0, x0, x1, y0, y1), mean(img, plane: 1, x0, x1, y0, y1), mean(img, plane: 2, x0, x1, y0, y1))
        }
        let v = mean(img, plane: 0, x0, x1, y0, y1)
        return (v, v, v)
    }

    /// Perceived brightness (ITU-R 601 weights), for the shade and ASCII ramps.
    static func brightness(_ c: (r: Int, g: Int, b: Int)) -> Int { (299 * c.r + 587 * c.g + 114 * c.b) / 1000 }

    /// The cell colour of a block for a half-block image.
    static func color(_ c: (r: Int, g: Int, b: Int), grey: Bool, caps: RenderCaps) -> Color {
        if caps.hasTrueColor { return .rgb(UInt8(c.r), UInt8(c.g), UInt8(c.b)) }
        // Grey images keep the 24-step grey ramp (finer than the cube's greys): MNIST as before.
        if grey { return .gray(c.r * 23 / 255) }
        return .index(Palette.nearest256(UInt8(c.r), UInt8(c.g), UInt8(c.b)))
    }

    /// The part of a `cols` x `rows` cell box that shows a `width` x `height` image undistorted
    /// (a cell is one pixel wide and two tall), centred: (x, y) offsets and size in cells.
    public static func fit(width: Int, height: Int, cols: Int, rows: Int) -> (x: Int, y: Int, cols: Int, rows: Int) {
        guard width > 0, height > 0, cols > 0, rows > 0 else { return (0, 0, cols, rows) }
        let scale = min(Double(cols) / Double(width), Double(2 * rows) / Double(height))
        let c = max(1, min(cols, Int((Double(width) * scale).rounded())))
        let r = max(1, min(rows, Int((Double(height) * scale / 2).rounded())))
        return ((cols - c) / 2, (rows - r) / 2, c, r)
    }

    /// Draws `img` stretched over exactly `cols` x `rows` cells at (x, y), each cell the mean of
    /// the pixels it covers.
    public static func drawImage(_ img: SampleImage, into buf: inout CellBuffer, x: Int, y: Int, cols: Int, rows: Int,
                                 mode: DigitGlyphMode, caps: RenderCaps) {
        guard cols > 0, rows > 0 else { return }
        let w = img.width, h = img.height, grey = img.channels != 3
        switch mode {
        case .halfBlocks:
            let sub = rows * 2
            for r in 0..<rows {
                for c in 0..<cols {
                    let x0 = c * w / cols, x1 = (c + 1) * w / cols
                    let top = blockRGB(img, x0, x1, (2 * r) * h / sub, (2 * r + 1) * h / sub)
                    let bot = blockRGB(img, x0, x1, (2 * r + 1) * h / sub, (2 * r + 2) * h / sub)
                    let st = Style(fg: color(top, grey: grey, caps: caps), bg: color(bot, grey: grey, caps: caps))
                    buf.set(x: x + c, y: y + r, "▀", style: st)
                }
            }
        case .shades, .ascii:
            let ramp = mode == .shades ? DigitGlyphMode.shadeRamp : DigitGlyphMode.asciiRamp
            let st = caps.fg(.white)
            for r in 0..<rows {
                for c in 0..<cols {
                    let v = brightness(blockRGB(img, c * w / cols, (c + 1) * w / cols, r * h / rows, (r + 1) * h / rows))
                    let i = min(ramp.count - 1, v * ramp.count / 256)
                    buf.set(x: x + c, y: y + r, ramp[i], style: st)
                }
            }
        }
    }

    /// Draws one 28x28 grey digit's pixels at (x, y) in `cols` x `rows` cells.
    public static func drawPixels(_ pixels: [UInt8], into buf: inout CellBuffer, x: Int, y: Int, cols: Int, rows: Int,
                                  mode: DigitGlyphMode, caps: RenderCaps) {
        let img = SampleImage(width: 28, height: 28, channels: 1, pixels: pixels, label: "", predicted: "", confidence: 0, correct: true)
        drawImage(img, into: &buf, x: x, y: y, cols: cols, rows: rows, mode: mode, caps: caps)
    }

    /// The caption under an image: "7 ✓ 98%" or, for a wrong prediction, "5 ✗ (3) 54%"
    /// (predicted, mark, true class, confidence).
    public static func caption(_ s: SampleImage, caps: RenderCaps) -> String {
        let conf = String(format: "%.0f%%", max(0, min(1, s.confidence)) * 100)
        if s.correct { return "\(s.predicted) \(caps.check) \(conf)" }
        return "\(s.predicted) \(caps.cross) (\(s.label)) \(conf)"
    }

    public static func caption(_ s: DigitSample, caps: RenderCaps) -> String { caption(s.image, caps: caps) }

    /// The caption in at most `width` columns: one line when it fits; else the predicted name cut
    /// to leave room for the mark and confidence ("automob… ✗ 54%") and, when wrong, the true
    /// class on a second line ("(truck)").
    public static func captionLines(_ s: SampleImage, width: Int, caps: RenderCaps) -> [String] {
        let one = caption(s, caps: caps)
        if displayWidth(one) <= width { return [one] }
        let ell = caps.unicode ? "…" : "."
        let conf = String(format: "%.0f%%", max(0, min(1, s.confidence)) * 100)
        let tail = " \(s.correct ? caps.check : caps.cross) \(conf)"
        let first = truncate(s.predicted, toWidth: max(1, width - displayWidth(tail)), ellipsis: ell) + tail
        if s.correct { return [first] }
        return [first, "(" + truncate(s.label, toWidth: max(1, width - 2), ellipsis: ell) + ")"]
    }

    public func draw(into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        buf.withClip(rect) { b in self.drawClipped(into: &b, rect: rect, caps: caps) }
    }

    private func drawClipped(into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        guard rect.height >= 1, rect.width >= 1 else { return }
        buf.put(x: rect.x, y: rect.y, title, style: .bold, maxWidth: rect.width)
        let area = Rect(x: rect.x, y: rect.y + 1, width: rect.width, height: rect.height - 1)
        if samples.isEmpty {
            if area.height >= 1 {
                buf.put(x: area.x, y: area.y, mistakes ? "no mistakes to show yet" : "no evaluation yet (press e)", style: .dim)
            }
            return
        }
        let mode = DigitGlyphMode.forCaps(caps)
        // Each image gets its box, a caption row and a blank row (which a two-line caption uses;
        // the last grid row then needs its blank row too).
        func fits(_ large: Bool) -> (perRow: Int, rowsOf: Int, cols: Int, rows: Int) {
            let (dc, dr) = DigitView.digitSize(large: large)
            let cw = dc + 2, ch = dr + 2
            let twoLine = samples.contains { DigitView.captionLines($0, width: dc + 1, caps: caps).count > 1 }
            let perRow = max(1, (area.width + 2) / cw)
            let rowsOf = max(0, (area.height + (twoLine ? 0 : 1)) / ch)
            return (perRow, rowsOf, dc, dr)
        }
        var layout = fits(false)
        let big = fits(true)
        // Large images only when every sample fits at that size.
        if big.perRow * big.rowsOf >= samples.count && big.rowsOf >= 1 && area.width >= 28 { layout = big }
        let capacity = layout.perRow * layout.rowsOf
        guard capacity > 0 else {
            // Not even one image fits: list captions only.
            var x = area.x
            for s in samples where area.height >= 1 {
                let t = DigitView.caption(s, caps: caps)
                x += buf.put(x: x, y: area.y, t, style: captionStyle(s, caps)) + 2
                if x >= area.maxX { break }
            }
            return
        }
        for (i, s) in samples.prefix(capacity).enumerated() {
            let gx = area.x + (i % layout.perRow) * (layout.cols + 2)
            let gy = area.y + (i / layout.perRow) * (layout.rows + 2)
            let f = DigitView.fit(width: s.width, height: s.height, cols: layout.cols, rows: layout.rows)
            DigitView.drawImage(s, into: &buf, x: gx + f.x, y: gy + f.y, cols: f.cols, rows: f.rows, mode: mode, caps: caps)
            for (k, line) in DigitView.captionLines(s, width: layout.cols + 1, caps: caps).enumerated() {
                buf.put(x: gx, y: gy + layout.rows + k, line, style: captionStyle(s, caps), maxWidth: layout.cols + 1)
            }
        }
    }

    private func captionStyle(_ s: SampleImage, _ caps: RenderCaps) -> Style {
        caps.hasColor ? caps.fg(s.correct ? .green : .red, .bold) : Style(attrs: s.correct ? [] : .bold)
    }
}
