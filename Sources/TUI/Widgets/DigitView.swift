import Foundation

/// How a 28x28 digit is drawn.
public enum DigitGlyphMode: Equatable, Sendable {
    /// `▀` with a 256-colour grey foreground (top pixel) and background (bottom pixel):
    /// two pixel rows per cell.
    case halfBlocks
    /// Shade characters ` ░▒▓█` (few colours, UTF-8).
    case shades
    /// ASCII ramp ` .:-=+*#%@`.
    case ascii

    public static func forCaps(_ caps: RenderCaps) -> DigitGlyphMode {
        if !caps.unicode { return .ascii }
        return caps.has256 ? .halfBlocks : .shades
    }

    static let shadeRamp: [Character] = [" ", "░", "▒", "▓", "█"]
    static let asciiRamp: [Character] = [" ", ".", ":", "-", "=", "+", "*", "#", "%", "@"]
}

/// A grid of test digits, each with its predicted class, a ✓/✗ and the confidence.
public struct DigitView: Sendable {
    public var samples: [DigitSample]
    public var title: String
    /// Mistakes view: show the true class next to the prediction.
    public var mistakes: Bool

    public init(samples: [DigitSample], title: String, mistakes: Bool = false) {
        self.samples = samples; self.title = title; self.mistakes = mistakes
    }

    /// Size in cells of one drawn digit: 14x7 (small) or 28x14 (large).
    public static func digitSize(large: Bool) -> (cols: Int, rows: Int) { large ? (28, 14) : (14, 7) }

    /// Mean grey level of the pixel block [x0, x1) x [y0, y1).
    static func average(_ px: [UInt8], _ x0: Int, _ x1: Int, _ y0: Int, _ y1: Int) -> Int {
        guard px.count >= 784 else { return 0 }
        var sum = 0, n = 0
        for y in max(0, y0)..<min(28, max(y1, y0 + 1)) {
            for x in max(0, x0)..<min(28, max(x1, x0 + 1)) { sum += Int(px[y * 28 + x]); n += 1 }
        }
        return n > 0 ? sum / n : 0
    }

    /// Draws one digit's pixels at (x, y) in `cols` x `rows` cells.
    public static func drawPixels(_ pixels: [UInt8], into buf: inout CellBuffer, x: Int, y: Int, cols: Int, rows: Int,
                                  mode: DigitGlyphMode, caps: RenderCaps) {
        guard cols > 0, rows > 0 else { return }
        switch mode {
        case .halfBlocks:
            let sub = rows * 2
            for r in 0..<rows {
                for c in 0..<cols {
                    let x0 = c * 28 / cols, x1 = (c + 1) * 28 / cols
                    let top = average(pixels, x0, x1, (2 * r) * 28 / sub, (2 * r + 1) * 28 / sub)
                    let bot = average(pixels, x0, x1, (2 * r + 1) * 28 / sub, (2 * r + 2) * 28 / sub)
                    let st = Style(fg: .gray(top * 23 / 255), bg: .gray(bot * 23 / 255))
                    buf.set(x: x + c, y: y + r, "▀", style: st)
                }
            }
        case .shades, .ascii:
            let ramp = mode == .shades ? DigitGlyphMode.shadeRamp : DigitGlyphMode.asciiRamp
            let st = caps.fg(.white)
            for r in 0..<rows {
                for c in 0..<cols {
                    let v = average(pixels, c * 28 / cols, (c + 1) * 28 / cols, r * 28 / rows, (r + 1) * 28 / rows)
                    let i = min(ramp.count - 1, v * ramp.count / 256)
                    buf.set(x: x + c, y: y + r, ramp[i], style: st)
                }
            }
        }
    }

    /// The caption under a digit: "7 ✓ 98%" or, for a wrong prediction, "5 ✗ (3) 54%"
    /// (predicted, mark, true class, confidence).
    public static func caption(_ s: DigitSample, caps: RenderCaps) -> String {
        let conf = String(format: "%.0f%%", max(0, min(1, s.confidence)) * 100)
        if s.isCorrect { return "\(s.predicted) \(caps.check) \(conf)" }
        return "\(s.predicted) \(caps.cross) (\(s.label)) \(conf)"
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
        // Large digits only when every sample fits at that size.
        func fits(_ large: Bool) -> (perRow: Int, rowsOf: Int, cols: Int, rows: Int) {
            let (dc, dr) = DigitView.digitSize(large: large)
            let cw = dc + 2, ch = dr + 2
            let perRow = max(1, (area.width + 2) / cw)
            let rowsOf = max(0, (area.height + 1) / ch)
            return (perRow, rowsOf, dc, dr)
        }
        var layout = fits(false)
        let big = fits(true)
        if big.perRow * big.rowsOf >= samples.count && big.rowsOf >= 1 && area.width >= 28 { layout = big }
        let capacity = layout.perRow * layout.rowsOf
        guard capacity > 0 else {
            // Not even one digit fits: list captions only.
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
            DigitView.drawPixels(s.pixels, into: &buf, x: gx, y: gy, cols: layout.cols, rows: layout.rows, mode: mode, caps: caps)
            let cap = DigitView.caption(s, caps: caps)
            buf.put(x: gx, y: gy + layout.rows, cap, style: captionStyle(s, caps), maxWidth: layout.cols + 1)
        }
    }

    private func captionStyle(_ s: DigitSample, _ caps: RenderCaps) -> Style {
        caps.hasColor ? caps.fg(s.isCorrect ? .green : .red, .bold) : Style(attrs: s.isCorrect ? [] : .bold)
    }
}
