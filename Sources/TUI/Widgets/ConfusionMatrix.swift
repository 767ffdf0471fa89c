import Foundation

/// A 10x10 confusion matrix (rows = true class, columns = predicted) with counts, shading by
/// each row's share, and per-class recall on the right.
public struct ConfusionMatrix: Sendable {
    public var counts: [[Int]]?
    public var title: String
    /// Shown under the title when there is no matrix.
    public var emptyNote: String
    public init(counts: [[Int]]?, title: String = "Confusion matrix (rows true, columns predicted)",
                emptyNote: String = "no evaluation yet (press e)") {
        self.counts = counts; self.title = title; self.emptyNote = emptyNote
    }

    /// Column width for a given rectangle width (counts right-aligned in it).
    public static func cellWidth(for width: Int) -> Int { max(4, min(7, (width - 3 - 8) / 10)) }

    public func draw(into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        buf.withClip(rect) { b in self.drawClipped(into: &b, rect: rect, caps: caps) }
    }

    /// The style of a cell showing `share` (0...1) of its row; diagonal cells are correct.
    public static func shade(share: Double, diagonal: Bool, caps: RenderCaps) -> Style {
        if caps.has256 {
            if share <= 0 { return Style(fg: .gray(8)) }
            // Green ramp for the diagonal, red ramp off it (xterm cube indices).
            let greens = [22, 28, 34, 40, 46], reds = [52, 88, 124, 160, 196]
            let i = min(4, Int(share * 5))
            let level = diagonal ? greens[i] : reds[min(4, Int(min(1, share * 4) * 4.99))]
            return Style(fg: .index(231), bg: .index(level), attrs: share > 0.5 ? .bold : [])
        }
        if caps.hasColor {
            if share <= 0 { return Style(attrs: .dim) }
            if diagonal { return Style(fg: .black, bg: .green) }
            return share >= 0.05 ? Style(fg: .white, bg: .red, attrs: .bold) : Style(fg: .red)
        }
        if share <= 0 { return Style(attrs: .dim) }
        if diagonal { return Style(attrs: .bold) }
        return share >= 0.05 ? Style(attrs: .reverse) : Style()
    }

    private func drawClipped(into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        guard rect.height >= 1, rect.width >= 1 else { return }
        guard let m = counts, m.count == 10, m.allSatisfy({ $0.count == 10 }) else {
            buf.put(x: rect.x, y: rect.y, title, style: .bold, maxWidth: rect.width)
            if rect.height >= 2 { buf.put(x: rect.x, y: rect.y + 1, emptyNote, style: .dim, maxWidth: rect.width) }
            return
        }
        // The title row goes first when there is no room for it and all ten rows.
        var rect = rect
        if rect.height >= 12 {
            buf.put(x: rect.x, y: rect.y, title, style: .bold, maxWidth: rect.width)
        } else {
            rect.y -= 1
            rect.height += 1
        }
        let digits = String(m.joined().max() ?? 0).count
        let cw = max(ConfusionMatrix.cellWidth(for: rect.width), digits + 1)
        let x0 = rect.x + 3
        var header = ""
        for c in 0..<10 { header += pad(String(c), cw, right: true) }
        buf.put(x: x0, y: rect.y + 1, header, style: .dim)
        let recallX = x0 + 10 * cw + 1
        if recallX + 7 <= rect.maxX { buf.put(x: recallX, y: rect.y + 1, "recall", style: .dim) }
        var correct = 0, total = 0
        for r in 0..<10 {
            let y = rect.y + 2 + r
            let rowSum = m[r].reduce(0, +)
            total += rowSum; correct += m[r][r]
            buf.put(x: rect.x, y: y, pad(String(r), 2, right: true) + (caps.unicode ? "│" : "|"), style: .dim)
            for c in 0..<10 {
                let n = m[r][c]
                let share = rowSum > 0 ? Double(n) / Double(rowSum) : 0
                let st = ConfusionMatrix.shade(share: share, diagonal: r == c, caps: caps)
                buf.put(x: x0 + c * cw, y: y, pad(String(n), cw - 1, right: true) + " ", style: st)
            }
            if recallX + 7 <= rect.maxX {
                let rec = rowSum > 0 ? String(format: "%5.1f%%", Double(m[r][r]) / Double(rowSum) * 100) : "    --"
                buf.put(x: recallX, y: y, rec)
            }
        }
        let fy = rect.y + 12
        if total > 0 {
            buf.put(x: rect.x, y: fy, String(format: "accuracy %.2f%% (%d/%d)", Double(correct) / Double(total) * 100, correct, total),
                    style: .bold, maxWidth: rect.width)
        }
    }
}
