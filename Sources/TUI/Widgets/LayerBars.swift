import Foundation

/// Per-layer forward and backward time per step as horizontal bars, with each layer's share
/// of the step and the total.
///
///     layer        fwd ms  bwd ms  share  ████████▒▒▒▒▒▒▒
public struct LayerBars: Sendable {
    public var layers: [LayerTiming]
    public var sortByTime: Bool

    public init(layers: [LayerTiming], sortByTime: Bool = false) {
        self.layers = layers; self.sortByTime = sortByTime
    }

    /// The rows in display order.
    public var ordered: [LayerTiming] {
        sortByTime ? layers.enumerated().sorted {
            $0.element.totalMs != $1.element.totalMs ? $0.element.totalMs > $1.element.totalMs : $0.offset < $1.offset
        }.map(\.element) : layers
    }

    public func draw(into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        buf.withClip(rect) { b in self.drawClipped(into: &b, rect: rect, caps: caps) }
    }

    private func drawClipped(into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        guard rect.height >= 1, rect.width >= 10 else { return }
        let fwdColor = Color.cyan, bwdColor = Color.magenta
        let total = layers.reduce(0) { $0 + $1.totalMs }
        let totalF = layers.reduce(0) { $0 + $1.forwardMs }
        let totalB = layers.reduce(0) { $0 + $1.backwardMs }
        let order = sortByTime ? "by time" : "model order"
        buf.put(x: rect.x, y: rect.y, "Layer time per step (\(order), o: sort, g: gradients)", style: .bold, maxWidth: rect.width)
        if layers.isEmpty {
            if rect.height >= 2 { buf.put(x: rect.x, y: rect.y + 1, "no layer timings yet", style: .dim) }
            return
        }
        let nameW = min(max(5, layers.map { displayWidth($0.name) }.max() ?? 5), max(5, rect.width / 4), 22)
        let numW = 7
        let fixed = nameW + 1 + numW + 1 + numW + 1 + 6 + 1
        let barW = max(0, rect.width - fixed)
        // Header row.
        if rect.height >= 2 {
            let head = pad("layer", nameW) + " " + pad("fwd ms", numW, right: true) + " " + pad("bwd ms", numW, right: true)
                + " " + pad("share", 6, right: true) + " "
            buf.put(x: rect.x, y: rect.y + 1, head, style: .dim)
            let lx = rect.x + displayWidth(head)
            if barW >= 12 {
                let fb: Character = caps.unicode ? "█" : "#"
                let bb: Character = caps.unicode ? (caps.hasColor ? "█" : "▒") : "="
                buf.set(x: lx, y: rect.y + 1, fb, style: caps.fg(fwdColor))
                buf.put(x: lx + 1, y: rect.y + 1, " fwd ", style: .dim)
                buf.set(x: lx + 6, y: rect.y + 1, bb, style: caps.fg(bwdColor))
                buf.put(x: lx + 7, y: rect.y + 1, " bwd", style: .dim)
            }
        }
        let rows = ordered
        let listTop = rect.y + 2
        let footerRows = 1
        let available = max(0, rect.height - 2 - footerRows)
        let maxT = rows.map(\.totalMs).max() ?? 0
        let shown = rows.count > available ? max(0, available - 1) : rows.count
        for (i, l) in rows.prefix(shown).enumerated() {
            let y = listTop + i
            let share = total > 0 ? l.totalMs / total * 100 : 0
            let line = pad(truncate(l.name, toWidth: nameW, ellipsis: caps.unicode ? "…" : "~"), nameW) + " "
                + pad(Fmt.ms(l.forwardMs), numW, right: true) + " " + pad(Fmt.ms(l.backwardMs), numW, right: true) + " "
                + pad(String(format: "%.1f%%", share), 6, right: true) + " "
            let used = buf.put(x: rect.x, y: y, line)
            drawBar(into: &buf, x: rect.x + used, y: y, width: barW, fwd: l.forwardMs, bwd: l.backwardMs,
                    maxT: maxT, caps: caps, fwdColor: fwdColor, bwdColor: bwdColor)
        }
        if shown < rows.count, available > 0 {
            buf.put(x: rect.x, y: listTop + shown, "… \(rows.count - shown) more layers".replacingOccurrences(of: "…", with: caps.unicode ? "…" : "..."), style: .dim)
        }
        // Footer: totals.
        let fy = listTop + min(available, rows.count)
        if fy < rect.maxY {
            let text = pad("total", nameW) + " " + pad(Fmt.ms(totalF), numW, right: true) + " "
                + pad(Fmt.ms(totalB), numW, right: true) + " " + pad("100%", 6, right: true) + "  = "
                + Fmt.ms(total) + " ms/step"
            buf.put(x: rect.x, y: fy, text, style: .bold)
        }
    }

    private func drawBar(into buf: inout CellBuffer, x: Int, y: Int, width: Int, fwd: Double, bwd: Double,
                         maxT: Double, caps: RenderCaps, fwdColor: Color, bwdColor: Color) {
        guard width > 0, maxT > 0 else { return }
        let scale = Double(width) / maxT
        let fw = Int((max(0, fwd) * scale).rounded())
        let tw = min(width, Int((max(0, fwd + bwd) * scale).rounded()))
        let fb: Character = caps.unicode ? "█" : "#"
        let bb: Character = caps.unicode ? (caps.hasColor ? "█" : "▒") : "="
        buf.hline(x: x, y: y, width: min(fw, tw), fb, style: caps.fg(fwdColor))
        if tw > fw { buf.hline(x: x + fw, y: y, width: tw - fw, bb, style: caps.fg(bwdColor)) }
    }
}
