import Foundation

/// One row of the gradient-flow figures: a layer, or a unit (ResNet block) of layers together.
public struct LayerFlow: Equatable, Sendable {
    public var name: String
    /// ‖∇W‖, ‖W‖ and the update-to-weight ratio ‖ΔW‖/‖W‖ (ΔW the update the optimizer applied).
    public var gradNorm: Double
    public var weightNorm: Double
    public var updateRatio: Double
    /// False when the layer took no part in the step (a bypassed shortcut projection).
    public var inUse: Bool
    public init(name: String, gradNorm: Double, weightNorm: Double, updateRatio: Double, inUse: Bool = true) {
        self.name = name; self.gradNorm = gradNorm; self.weightNorm = weightNorm; self.updateRatio = updateRatio; self.inUse = inUse
    }
}

/// Where an update-to-weight ratio lies: ~1e-3 is the classic healthy figure, 1e-6 a stalled layer,
/// 1e-1 one about to diverge. The band is a decade and more either side of 1e-3.
public enum UpdateBand: Equatable, Sendable {
    case stalled, healthy, large

    public static let healthyRange: Range<Double> = 1e-5..<1e-2

    public init?(ratio: Double) {
        guard ratio.isFinite else { return nil }
        self = ratio < UpdateBand.healthyRange.lowerBound ? .stalled : ratio >= UpdateBand.healthyRange.upperBound ? .large : .healthy
    }
    public var color: Color { self == .healthy ? .green : self == .stalled ? .yellow : .red }
    /// The mark under a chart column and after a table row (also without colour).
    public var mark: Character { self == .healthy ? " " : self == .stalled ? "v" : "^" }
    public var word: String { self == .healthy ? "" : self == .stalled ? "low" : "HIGH" }
}

/// What the gradient-flow view of the layers panel shows.
public struct GradientFlowData: Equatable, Sendable {
    /// The step the figures were measured at.
    public var step: Int
    /// The table: one row per unit (a ResNet block sums its layers), input to output.
    public var units: [LayerFlow]
    /// The chart: each conv and linear layer, input to output.
    public var layers: [LayerFlow]
    /// The chart's faint state: each layer's ‖∇W‖ as it was shown before (same order; nil: none yet).
    public var previous: [Double]?
    public var previousStep: Int?
    /// How often the figures are measured, e.g. "every step" or "every 10 steps".
    public var sampling: String
    /// Earlier runs' ‖∇W‖ per chart layer (matched by name; nil where the run has no such layer),
    /// drawn as marks in the run's colour: `nntop view` and `--compare`.
    public var overlays: [[Double?]]

    public init(step: Int, units: [LayerFlow], layers: [LayerFlow], previous: [Double]? = nil, previousStep: Int? = nil,
                sampling: String = "every step", overlays: [[Double?]] = []) {
        self.step = step; self.units = units; self.layers = layers; self.previous = previous
        self.previousStep = previousStep; self.sampling = sampling; self.overlays = overlays
    }
}

/// Panel 2's gradient-flow view (key g): a table of the figures per unit, and a chart of each conv
/// and linear layer's gradient norm from input to output on a log scale, the previous state faint
/// behind it, colour (and a v / ^ mark) for layers whose update ratio is outside the healthy band.
///
///     Gradient flow, step 840 (every step; g: timings)
///     unit         ‖∇W‖     ‖W‖     upd/W         1e0 ┤
///     conv1     3.1e-02  4.2e+00  1.2e-03        1e-1 ┤  █ █
///     layer1.0  1.0e-02  1.1e+01  4.0e-04 low    1e-2 ┤█ █ █ █▓
public struct GradientFlowPanel: Sendable {
    public var data: GradientFlowData?
    /// The overlays' colours and marks, in order (DashboardView's).
    public var overlayColors: [Color]
    public var overlayMarks: [Character]

    public init(data: GradientFlowData?, overlayColors: [Color] = [], overlayMarks: [Character] = []) {
        self.data = data; self.overlayColors = overlayColors; self.overlayMarks = overlayMarks
    }

    /// The table's width (name, three figures, the band word).
    static func tableWidth(nameW: Int) -> Int { nameW + 3 * 9 + 5 }

    public func draw(into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        buf.withClip(rect) { b in self.drawClipped(into: &b, rect: rect, caps: caps) }
    }

    private func drawClipped(into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        guard rect.height >= 1, rect.width >= 10 else { return }
        guard let d = data, !d.units.isEmpty else {
            buf.put(x: rect.x, y: rect.y, "Gradient flow (g: timings)", style: .bold, maxWidth: rect.width)
            if rect.height >= 2 { buf.put(x: rect.x, y: rect.y + 1, "no gradient figures yet (measured after a training step)", style: .dim, maxWidth: rect.width) }
            return
        }
        buf.put(x: rect.x, y: rect.y, "Gradient flow, step \(d.step) (\(d.sampling); g: timings)", style: .bold, maxWidth: rect.width)
        let body = Rect(x: rect.x, y: rect.y + 1, width: rect.width, height: rect.height - 1)
        let nameW = min(max(4, d.units.map { displayWidth($0.name) }.max() ?? 4), 14)
        let tableW = Self.tableWidth(nameW: nameW)
        let chartMin = max(12, d.layers.count + 8)
        if body.width >= tableW + 2 + chartMin {
            // Side by side: the table left, the chart right.
            drawTable(d, into: &buf, rect: Rect(x: body.x, y: body.y, width: tableW, height: body.height), nameW: nameW, caps: caps)
            drawChart(d, into: &buf, rect: Rect(x: body.x + tableW + 2, y: body.y, width: body.width - tableW - 2, height: body.height), caps: caps)
        } else {
            // Stacked: the table's rows first, the chart below when at least 6 rows are left.
            let tableH = min(body.height, d.units.count + 1)
            let chartH = body.height - tableH
            if chartH >= 6 {
                drawTable(d, into: &buf, rect: Rect(x: body.x, y: body.y, width: body.width, height: tableH), nameW: nameW, caps: caps)
                drawChart(d, into: &buf, rect: Rect(x: body.x, y: body.y + tableH, width: body.width, height: chartH), caps: caps)
            } else {
                drawTable(d, into: &buf, rect: body, nameW: nameW, caps: caps)
            }
        }
    }

    public static func sci(_ v: Double) -> String {
        guard v.isFinite else { return "-" }
        return v == 0 ? "0" : String(format: "%.1e", v)
    }

    private func drawTable(_ d: GradientFlowData, into buf: inout CellBuffer, rect: Rect, nameW: Int, caps: RenderCaps) {
        guard rect.height >= 1 else { return }
        let heads = caps.unicode ? ["‖∇W‖", "‖W‖", "upd/W"] : ["|dW|", "|W|", "upd/W"]
        buf.put(x: rect.x, y: rect.y, pad("unit", nameW) + heads.map { " " + pad($0, 8, right: true) }.joined(), style: .dim)
        let available = rect.height - 1
        let shown = d.units.count > available ? max(0, available - 1) : d.units.count
        let ell = caps.unicode ? "…" : "~"
        for (i, u) in d.units.prefix(shown).enumerated() {
            let y = rect.y + 1 + i
            var x = rect.x + buf.put(x: rect.x, y: y, pad(truncate(u.name, toWidth: nameW, ellipsis: ell), nameW))
            guard u.inUse else { buf.put(x: x + 1, y: y, "not in use (bypassed)", style: .dim); continue }
            x += buf.put(x: x, y: y, " " + pad(Self.sci(u.gradNorm), 8, right: true) + " " + pad(Self.sci(u.weightNorm), 8, right: true) + " ")
            let band = UpdateBand(ratio: u.updateRatio)
            let st = band.map { $0 == .healthy ? Style.plain : caps.fg($0.color, .bold) } ?? .plain
            x += buf.put(x: x, y: y, pad(Self.sci(u.updateRatio), 8, right: true), style: st)
            if let band, band != .healthy { buf.put(x: x + 1, y: y, band.word, style: st) }
        }
        if shown < d.units.count, available > 0 {
            buf.put(x: rect.x, y: rect.y + 1 + shown, "\(caps.unicode ? "…" : "...") \(d.units.count - shown) more", style: .dim)
        }
    }

    /// The decades the chart spans: every finite, positive norm shown (now, before, overlays).
    static func decades(_ d: GradientFlowData) -> ClosedRange<Int>? {
        var values = d.layers.filter(\.inUse).map(\.gradNorm) + (d.previous ?? [])
        for o in d.overlays { values += o.compactMap { $0 } }
        let logs = values.filter { $0.isFinite && $0 > 0 }.map(log10)
        guard let lo = logs.min(), let hi = logs.max() else { return nil }
        let a = Int(lo.rounded(.down)), b = max(Int(hi.rounded(.up)), a + 1)
        return a...b
    }

    /// Cells of a bar `rows` high for `v` on the decades `r` (0 for none; 1 at least for a positive value).
    static func barHeight(_ v: Double?, _ r: ClosedRange<Int>, rows: Int) -> Int {
        guard let v, v.isFinite, v > 0 else { return 0 }
        let f = (log10(v) - Double(r.lowerBound)) / Double(r.upperBound - r.lowerBound)
        return min(rows, max(1, Int((f * Double(rows)).rounded())))
    }

    private func drawChart(_ d: GradientFlowData, into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        // Rows: bars, the band marks, the legend.
        let rows = rect.height - 2
        guard rows >= 3, let dec = Self.decades(d) else { return }
        let axisW = 6
        let n = d.layers.count
        let colW = max(1, min(3, (rect.width - axisW) / max(1, n)))
        let full: Character = caps.unicode ? "█" : "#", rose: Character = caps.unicode ? "▓" : "+"
        let fell: Character = caps.unicode ? "░" : ":"
        let dot: Character = caps.unicode ? "●" : "o"
        // The axis: a label at each decade's row.
        for k in dec {
            let h = Self.barHeight(pow(10, Double(k)), dec, rows: rows)
            let y = rect.y + rows - max(h, 1)
            buf.put(x: rect.x, y: y, pad("1e\(k)", axisW - 1, right: true) + (caps.unicode ? "┤" : "|"), style: .dim)
        }
        for i in 0..<rows { if buf[rect.x + axisW - 1, rect.y + i].text == " " { buf.set(x: rect.x + axisW - 1, y: rect.y + i, caps.unicode ? "│" : "|", style: .dim) } }
        let x0 = rect.x + axisW
        for (i, l) in d.layers.enumerated() {
            let x = x0 + i * colW
            guard x < rect.maxX else { break }
            let band = l.inUse ? UpdateBand(ratio: l.updateRatio) : nil
            let style = caps.fg(band?.color ?? .white)
            let cur = l.inUse ? Self.barHeight(l.gradNorm, dec, rows: rows) : 0
            let prev = Self.barHeight(d.previous.flatMap { i < $0.count ? $0[i] : nil }, dec, rows: rows)
            for h in 1...rows {
                let y = rect.y + rows - h
                if colW >= 2 {
                    if h <= cur { buf.set(x: x, y: y, full, style: style) }
                    if h <= prev { buf.set(x: x + 1, y: y, fell, style: Style(attrs: .dim)) }
                } else if h <= min(cur, prev) || (h <= cur && d.previous == nil) {
                    buf.set(x: x, y: y, full, style: style)
                } else if h <= cur {
                    buf.set(x: x, y: y, rose, style: style)
                } else if h <= prev {
                    buf.set(x: x, y: y, fell, style: Style(attrs: .dim))
                }
            }
            for (k, o) in d.overlays.enumerated() {
                let h = Self.barHeight(i < o.count ? o[i] : nil, dec, rows: rows)
                guard h > 0 else { continue }
                let mark = caps.hasColor ? dot : (k < overlayMarks.count ? overlayMarks[k] : dot)
                let color = k < overlayColors.count ? overlayColors[k] : .cyan
                buf.set(x: x + (colW >= 3 ? 2 : 0), y: rect.y + rows - h, mark, style: caps.fg(color))
            }
            buf.set(x: x, y: rect.y + rows, l.inUse ? (band?.mark ?? " ") : "-", style: caps.fg(band?.color ?? .white, .bold))
        }
        // Legend: what the columns are and what the marks mean.
        let first = d.layers.first?.name ?? "", last = d.layers.last?.name ?? ""
        // As much as fits, most important first: which end is which, the faint state, the marks.
        var parts = ["\(first) \(caps.unicode ? "→" : "->") \(last)"]
        if d.previous != nil {
            parts.append(colW >= 2 ? "\(fell) step \(d.previousStep ?? 0)" : "\(rose) rose \(fell) fell since \(d.previousStep ?? 0)")
        }
        parts.append("v/^ upd/W \(caps.unicode ? "<" : "<") 1e-5 / \(caps.unicode ? "≥" : ">=") 1e-2")
        var legend = ""
        for p in parts where displayWidth(legend) + 2 + displayWidth(p) <= rect.width || legend.isEmpty {
            legend += (legend.isEmpty ? "" : "  ") + p
        }
        buf.put(x: rect.x, y: rect.y + rows + 1, legend, style: .dim, maxWidth: rect.width)
    }
}
