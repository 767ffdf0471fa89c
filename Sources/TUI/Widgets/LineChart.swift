import Foundation

/// One line of a chart.
public struct ChartSeries: Equatable, Sendable {
    public var name: String
    public var points: [SeriesPoint]
    public var color: Color
    /// Faint series (e.g. raw loss) are drawn dim and lose to normal series where they overlap.
    public var faint: Bool
    /// Drawn in every cell this faint series owns when the terminal has no colours: what tells
    /// one earlier run from another there.
    public var mark: Character?
    public init(name: String, points: [SeriesPoint], color: Color, faint: Bool = false, mark: Character? = nil) {
        self.name = name; self.points = points; self.color = color; self.faint = faint; self.mark = mark
    }
}

/// A line chart with y tick labels on the left, step labels below, labelled vertical marker
/// lines, braille dots (2x4 per cell) or an ASCII fallback (1x3 per cell).
///
/// Layout inside the rectangle: row 0 title and legend; then, when markers are labelled, one or
/// two rows of marker labels (each line rises to its label); the plot; the last row the x axis
/// labels. Columns: y labels, the y axis, then the plot. Marker labels never overprint each
/// other, another marker's line or a curve: one that does not fit goes on the next label row,
/// else is shortened with an ellipsis, else left out (its line stays).
public struct LineChart: Sendable {
    public var title: String
    public var series: [ChartSeries]
    public var markers: [Marker]
    public var logScale: Bool
    /// Fixed y range (in data units); nil = from the data.
    public var yRange: ClosedRange<Double>?
    /// Fixed x range; nil = from the data.
    public var xRange: ClosedRange<Double>?
    /// Limits applied to an automatic y range (e.g. 0...100 for accuracy).
    public var yClamp: ClosedRange<Double>?
    /// What x counts: step labels are whole numbers, epoch labels keep fractions and say "ep".
    public var xUnit: XAxis
    /// False: markers are drawn as lines only (e.g. a chart right below one that labels them).
    public var labelMarkers: Bool

    public init(title: String, series: [ChartSeries], markers: [Marker] = [], logScale: Bool = false,
                yRange: ClosedRange<Double>? = nil, xRange: ClosedRange<Double>? = nil,
                yClamp: ClosedRange<Double>? = nil, xUnit: XAxis = .steps, labelMarkers: Bool = true) {
        self.title = title; self.series = series; self.markers = markers; self.logScale = logScale
        self.yRange = yRange; self.xRange = xRange; self.yClamp = yClamp; self.xUnit = xUnit
        self.labelMarkers = labelMarkers
    }

    /// Where the plot lands in a rectangle and how data maps to it. Public so tests can
    /// check scaling independently of drawing.
    public struct Geometry: Equatable, Sendable {
        /// The plot cells (excluding axes and labels).
        public var plot: Rect
        /// Sub-cell resolution: dots per cell horizontally and vertically.
        public var dotsX: Int, dotsY: Int
        /// Data range; y in transformed units (log10 when logScale).
        public var xMin: Double, xMax: Double, yMin: Double, yMax: Double
        public var logScale: Bool
        /// Tick labels as (row, text), top first.
        public var yTicks: [(row: Int, text: String)]
        /// Step labels as (column, text).
        public var xTicks: [(col: Int, text: String)]
        public var labelWidth: Int
        /// Rows of marker labels right above the plot (0: none).
        public var markerRows: Int = 0

        public static func == (a: Geometry, b: Geometry) -> Bool {
            a.plot == b.plot && a.xMin == b.xMin && a.xMax == b.xMax && a.yMin == b.yMin && a.yMax == b.yMax
        }

        func ty(_ y: Double) -> Double? {
            if logScale { return y > 0 && y.isFinite ? log10(y) : nil }
            return y.isFinite ? y : nil
        }

        /// Dot coordinates (0,0 = top-left dot of the plot) of a data point, or nil.
        public func dot(x: Double, y: Double) -> (x: Int, y: Int)? {
            guard x.isFinite, let t = ty(y) else { return nil }
            let pw = plot.width * dotsX, ph = plot.height * dotsY
            let fx = xMax > xMin ? (x - xMin) / (xMax - xMin) : 0.5
            let fy = yMax > yMin ? (yMax - t) / (yMax - yMin) : 0.5
            return (LineChart.Geometry.toInt(fx * Double(pw - 1)), LineChart.Geometry.toInt(fy * Double(ph - 1)))
        }

        /// Rounds to the nearest integer, clamped so far out-of-range data cannot trap.
        @inline(__always) static func toInt(_ v: Double) -> Int {
            let c = max(-1e9, min(1e9, v)) + 0.5
            return c >= 0 ? Int(c) : Int(c.rounded(.down))
        }

        /// The buffer cell a data point lands in (may lie outside the plot if out of range).
        public func cell(x: Double, y: Double) -> (x: Int, y: Int)? {
            guard let d = dot(x: x, y: y) else { return nil }
            return (plot.x + floorDiv(d.x, dotsX), plot.y + floorDiv(d.y, dotsY))
        }
    }

    static func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }

    /// Computes the geometry, or nil when the rectangle is too small or there is no data.
    /// Marker labels get as many rows above the plot as they need, up to two (one in a short chart).
    public func geometry(in rect: Rect, caps: RenderCaps) -> Geometry? {
        let most = !labelMarkers || markers.isEmpty ? 0 : rect.height >= 14 ? 2 : rect.height >= 6 ? 1 : 0
        guard let g = geometry(in: rect, caps: caps, markerRows: most), most > 0 else {
            return geometry(in: rect, caps: caps, markerRows: 0)
        }
        let used = (placeMarkerLabels(g, caps: caps).map(\.row).max() ?? -1) + 1
        return used == most ? g : geometry(in: rect, caps: caps, markerRows: used)
    }

    func geometry(in rect: Rect, caps: RenderCaps, markerRows: Int) -> Geometry? {
        guard rect.width >= 8, rect.height >= 3 + markerRows else { return nil }
        func ty(_ y: Double) -> Double? {
            if logScale { return y > 0 && y.isFinite ? log10(y) : nil }
            return y.isFinite ? y : nil
        }
        var xLo = Double.infinity, xHi = -Double.infinity, yLo = Double.infinity, yHi = -Double.infinity
        for s in series {
            for p in s.points where p.x.isFinite {
                guard let t = ty(p.y) else { continue }
                xLo = min(xLo, p.x); xHi = max(xHi, p.x)
                yLo = min(yLo, t); yHi = max(yHi, t)
            }
        }
        if let xr = xRange { xLo = xr.lowerBound; xHi = xr.upperBound }
        if let yr = yRange {
            guard let a = ty(yr.lowerBound), let b = ty(yr.upperBound) else { return nil }
            yLo = a; yHi = b
        } else if let c = yClamp, yLo.isFinite {
            if let a = ty(c.lowerBound) { yLo = max(yLo, a) }
            if let b = ty(c.upperBound) { yHi = min(yHi, b) }
        }
        guard xLo.isFinite, xHi.isFinite, yLo.isFinite, yHi.isFinite else { return nil }
        if xHi <= xLo { xHi = xLo + 1 }
        if yHi <= yLo {
            let d = logScale ? 0.5 : max(abs(yLo) * 0.1, 0.5)
            yLo -= d; yHi += d
        }
        func label(_ t: Double) -> String { Fmt.tick(logScale ? pow(10, t) : t) }
        let plotRows = rect.height - 2 - markerRows
        // Which rows get a tick label: top, bottom, and evenly spaced ones between.
        var tickRows: [Int] = [0]
        if plotRows >= 2 { tickRows.append(plotRows - 1) }
        if plotRows >= 5 { tickRows.append((plotRows - 1) / 2) }
        if plotRows >= 10 { tickRows.append((plotRows - 1) / 4); tickRows.append(3 * (plotRows - 1) / 4) }
        tickRows = Array(Set(tickRows)).sorted()
        let yTexts = tickRows.map { r -> (Int, String) in
            let f = plotRows > 1 ? Double(r) / Double(plotRows - 1) : 0
            return (r, label(yHi - f * (yHi - yLo)))
        }
        let labelWidth = min(7, yTexts.map { displayWidth($0.1) }.max() ?? 1)
        let plot = Rect(x: rect.x + labelWidth + 1, y: rect.y + 1 + markerRows, width: rect.width - labelWidth - 1, height: plotRows)
        guard plot.width >= 2, plot.height >= 1 else { return nil }
        let (dx, dy) = caps.unicode ? (2, 4) : (1, 3)
        // X ticks: left, right, and the middle when wide enough.
        var xTicks: [(Int, String)] = []
        let xText: (Double) -> String
        switch xUnit {
        case .steps: xText = Fmt.steps
        case .epochs: xText = Fmt.epochs
        case .relative: xText = Fmt.duration
        case .wall: xText = Fmt.clock
        }
        let leftText = xText(xLo), rightText = xText(xHi) + (xUnit == .epochs ? " ep" : "")
        xTicks.append((plot.x, leftText))
        if plot.width >= 30 {
            let mid = (xLo + xHi) / 2
            xTicks.append((plot.x + plot.width / 2, xText(mid)))
        }
        xTicks.append((plot.maxX - 1, rightText))
        return Geometry(plot: plot, dotsX: dx, dotsY: dy, xMin: xLo, xMax: xHi, yMin: yLo, yMax: yHi,
                        logScale: logScale, yTicks: yTexts.map { (row: $0.0, text: $0.1) },
                        xTicks: xTicks.map { (col: $0.0, text: $0.1) }, labelWidth: labelWidth, markerRows: markerRows)
    }

    /// The buffer column of each marker's line (markers outside the x range have none).
    func markerColumns(_ g: Geometry) -> [(col: Int, label: String)] {
        markers.compactMap { m in
            guard m.x >= g.xMin, m.x <= g.xMax, let d = g.dot(x: m.x, y: g.logScale ? pow(10, g.yMax) : g.yMax) else { return nil }
            return (g.plot.x + d.x / g.dotsX, m.label)
        }
    }

    /// Where the marker labels go in the label rows above the plot, as a staircase: each label sits
    /// on a row of its own line's top (its line runs from that row down), right of the line ("┊lr
    /// 0.01"), or left of it ("snap┊") when there is no room right and no other marker there. Markers are placed from the
    /// right; each takes the lowest row where it fits whole, else the row where the most of it fits,
    /// cut with an ellipsis (two characters at least), else has no label (its line stays on the
    /// plot). A label never covers another label or a line, and keeps a blank from any other.
    /// Markers on one column share a label ("pause,resume").
    func placeMarkerLabels(_ g: Geometry, caps: RenderCaps) -> [(row: Int, x: Int, text: String, col: Int)] {
        let rows = g.markerRows, plot = g.plot
        guard rows > 0 else { return [] }
        var groups: [(col: Int, label: String)] = []
        for m in markerColumns(g).sorted(by: { $0.col < $1.col }) {
            if let last = groups.last, last.col == m.col {
                if !last.label.split(separator: ",").contains(Substring(m.label)) { groups[groups.count - 1].label += "," + m.label }
            } else {
                groups.append(m)
            }
        }
        // used[row][i]: a label or a line already takes plot column i of that label row.
        var used = [[Bool]](repeating: [Bool](repeating: false, count: plot.width), count: rows)
        // Columns from..<to of row r are free, and so are the cells either side of them except
        // the label's own line at `own`.
        func fits(_ r: Int, _ from: Int, _ to: Int, own: Int) -> Bool {
            guard from >= 0, to <= plot.width, from < to else { return false }
            return (max(0, from - 1)..<min(plot.width, to + 1)).allSatisfy { $0 == own || !used[r][$0] }
        }
        let ellipsis = caps.unicode ? "…" : "~"
        var out: [(row: Int, x: Int, text: String, col: Int)] = []
        for gr in groups.reversed() {
            let c = gr.col - plot.x, w = displayWidth(gr.label)
            // The line from row r down to the plot must be free.
            func lineFree(_ r: Int) -> Bool { (r..<rows).allSatisfy { !used[$0][c] } }
            var spot: (row: Int, from: Int, text: String)?
            for r in (0..<rows).reversed() where spot == nil && lineFree(r) && fits(r, c + 1, c + 1 + w, own: c) { spot = (r, c + 1, gr.label) }
            // Left of the line only clear of every other marker, placed yet or not: "a┊b┊" would not
            // say which line "b" belongs to.
            let clearLeft = !groups.contains { $0.col - plot.x >= c - w - 1 && $0.col - plot.x < c }
            for r in (0..<rows).reversed() where spot == nil && clearLeft && lineFree(r) && fits(r, c - w, c, own: c) { spot = (r, c - w, gr.label) }
            if spot == nil {
                var best = (row: 0, room: 0)
                for r in (0..<rows).reversed() where lineFree(r) {
                    var n = 0
                    while fits(r, c + 1, c + 2 + n, own: c) { n += 1 }
                    if n > best.room { best = (r, n) }
                }
                if best.room >= 3 {
                    var cut = ""
                    for ch in gr.label {
                        if displayWidth(cut + String(ch)) > best.room - 1 { break }
                        cut.append(ch)
                    }
                    spot = (best.row, c + 1, cut + ellipsis)
                }
            }
            guard let sp = spot else { continue }
            for i in sp.from..<(sp.from + displayWidth(sp.text)) { used[sp.row][i] = true }
            for r in sp.row..<rows { used[r][c] = true }
            out.append((sp.row, plot.x + sp.from, sp.text, gr.col))
        }
        return out
    }

    public func draw(into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        buf.withClip(rect) { b in self.drawClipped(into: &b, rect: rect, caps: caps) }
    }

    private func drawClipped(into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        guard rect.height >= 1, rect.width >= 1 else { return }
        // Title and legend.
        let used = buf.put(x: rect.x, y: rect.y, title, style: .bold, maxWidth: rect.width)
        var lx = rect.x + used + 2
        let bullet = caps.unicode ? "● " : "* "
        for s in series where !s.name.isEmpty {
            let text = bullet + s.name
            let w = displayWidth(text)
            if lx + w > rect.maxX { break }
            buf.put(x: lx, y: rect.y, text, style: caps.fg(s.color, s.faint ? .dim : []))
            lx += w + 2
        }
        guard let g = geometry(in: rect, caps: caps) else {
            if rect.height >= 2 {
                let msg = series.allSatisfy({ $0.points.isEmpty }) ? "waiting for data" : "too small"
                buf.putCentered(msg, in: rect, y: rect.y + rect.height / 2, style: .dim)
            }
            return
        }
        let plot = g.plot
        let axisStyle = Style(attrs: .dim)
        // Y axis and ticks.
        for r in 0..<plot.height {
            buf.set(x: plot.x - 1, y: plot.y + r, caps.unicode ? "│" : "|", style: axisStyle)
        }
        for t in g.yTicks {
            buf.put(x: rect.x, y: plot.y + t.row, pad(t.text, g.labelWidth, right: true), style: axisStyle)
            buf.set(x: plot.x - 1, y: plot.y + t.row, caps.unicode ? "┤" : "+", style: axisStyle)
        }
        // X axis labels on the last row.
        let axisRow = rect.maxY - 1
        buf.set(x: plot.x - 1, y: axisRow, caps.unicode ? "└" : "+", style: axisStyle)
        var nextFree = plot.x
        for (i, t) in g.xTicks.enumerated() {
            let w = displayWidth(t.text)
            var x = t.col - w / 2
            if i == 0 { x = t.col }
            if i == g.xTicks.count - 1 { x = t.col - w + 1 }
            x = max(x, nextFree)
            if x + w > plot.maxX { continue }
            buf.put(x: x, y: axisRow, t.text, style: axisStyle)
            nextFree = x + w + 1
        }

        // Dots per series. Points are bucketed per dot column: each column draws one
        // vertical span (min...max) and joins the previous column with a line, so a long
        // series costs O(points) and looks the same as joining every pair of points.
        var layers: [[UInt8]] = []
        for s in series {
            var r = Raster(width: plot.width, height: plot.height, dotsX: g.dotsX, dotsY: g.dotsY, braille: caps.unicode)
            var col = Int.min, last = 0, lo = 0, hi = 0
            for p in s.points {
                guard let d = g.dot(x: p.x, y: p.y) else {
                    if col != Int.min { r.vspan(col, lo, hi) }
                    col = Int.min
                    continue
                }
                if d.x == col {
                    last = d.y; lo = min(lo, d.y); hi = max(hi, d.y)
                    continue
                }
                if col != Int.min {
                    r.vspan(col, lo, hi)
                    r.line(col, last, d.x, d.y)
                }
                col = d.x; last = d.y; lo = d.y; hi = d.y
            }
            if col != Int.min { r.vspan(col, lo, hi) }
            layers.append(r.bits)
        }

        // Marker lines (under the curves); a labelled one rises to its label's row.
        let markerStyle = caps.fg(.yellow, caps.hasColor ? [] : .dim)
        let labels = placeMarkerLabels(g, caps: caps)
        for m in markerColumns(g) {
            let rise = labels.first { $0.col == m.col }.map { g.markerRows - $0.row } ?? 0
            buf.vline(x: m.col, y: plot.y - rise, height: plot.height + rise, caps.unicode ? "┊" : ":", style: markerStyle)
        }

        // Composite the curves.
        for cy in 0..<plot.height {
            for cx in 0..<plot.width {
                let i = cy * plot.width + cx
                var union: UInt8 = 0
                var owner = -1
                for (si, l) in layers.enumerated() where l[i] != 0 {
                    union |= l[i]
                    if owner < 0 || !series[si].faint || series[owner].faint { owner = si }
                }
                guard owner >= 0 else { continue }
                let s = series[owner]
                let ch: Character
                if s.faint, !caps.hasColor, let mark = s.mark {
                    ch = mark
                } else if caps.unicode {
                    // A normal series keeps its own dots crisp over a faint cloud.
                    let bits = s.faint ? union : layers[owner][i]
                    ch = Character(Unicode.Scalar(0x2800 + UInt32(bits))!)
                } else if s.faint {
                    ch = "."
                } else {
                    switch layers[owner][i] {
                    case 1: ch = "'"
                    case 2: ch = "-"
                    case 4: ch = "."
                    case 5: ch = ":"
                    default: ch = "|"
                    }
                }
                var st = caps.fg(s.color, s.faint ? .dim : [])
                if !caps.hasColor && !s.faint { st.attrs.insert(.bold) }
                buf.set(x: plot.x + cx, y: plot.y + cy, ch, style: st)
            }
        }

        // Marker labels in their rows above the plot, clear of the curves and of each other.
        for l in labels {
            buf.put(x: l.x, y: plot.y - g.markerRows + l.row, l.text, style: markerStyle)
        }
    }

    /// Dot raster of one series: braille bits (2x4 per cell) or ASCII sub-rows (1x3).
    struct Raster {
        let width: Int, height: Int, dotsX: Int, dotsY: Int, braille: Bool
        var bits: [UInt8]
        init(width: Int, height: Int, dotsX: Int, dotsY: Int, braille: Bool) {
            self.width = width; self.height = height; self.dotsX = dotsX; self.dotsY = dotsY; self.braille = braille
            bits = [UInt8](repeating: 0, count: width * height)
        }
        static let brailleBits: [UInt8] = [0x01, 0x02, 0x04, 0x40, 0x08, 0x10, 0x20, 0x80]

        mutating func dot(_ x: Int, _ y: Int) {
            guard x >= 0, y >= 0, x < width * dotsX, y < height * dotsY else { return }
            let sx = x % dotsX, sy = y % dotsY
            let bit = braille ? Raster.brailleBits[sx * 4 + sy] : UInt8(1) << UInt8(sy)
            bits[(y / dotsY) * width + x / dotsX] |= bit
        }

        mutating func vspan(_ x: Int, _ y0: Int, _ y1: Int) {
            guard x >= 0, x < width * dotsX else { return }
            let a = max(0, min(y0, y1)), b = min(height * dotsY - 1, max(y0, y1))
            guard a <= b else { return }
            for y in a...b { dot(x, y) }
        }

        /// Bresenham from (x0, y0) to (x1, y1); off-raster dots are dropped.
        mutating func line(_ xa: Int, _ ya: Int, _ x1: Int, _ y1: Int) {
            var x0 = xa, y0 = ya
            // Far off-raster endpoints (out-of-range data) are clamped to keep this bounded.
            let lim = 4 * (width * dotsX + height * dotsY) + 16
            x0 = max(-lim, min(lim, x0)); y0 = max(-lim, min(lim, y0))
            let xe = max(-lim, min(lim, x1)), ye = max(-lim, min(lim, y1))
            let dx = abs(xe - x0), dy = -abs(ye - y0)
            let sx = x0 < xe ? 1 : -1, sy = y0 < ye ? 1 : -1
            var err = dx + dy
            while true {
                dot(x0, y0)
                if x0 == xe && y0 == ye { break }
                let e2 = 2 * err
                if e2 >= dy { err += dy; x0 += sx }
                if e2 <= dx { err += dx; y0 += sy }
            }
        }
    }

    /// Exponential moving average with TensorBoard-style debiasing; `smoothing` in 0..<1
    /// (0 = raw). Non-finite values are skipped.
    public static func ema(_ points: [SeriesPoint], smoothing: Double) -> [SeriesPoint] {
        let s = max(0, min(0.999, smoothing))
        var out: [SeriesPoint] = []
        out.reserveCapacity(points.count)
        var acc = 0.0, weight = 0.0
        for p in points where p.y.isFinite {
            acc = acc * s + (1 - s) * p.y
            weight = weight * s + (1 - s)
            out.append(SeriesPoint(x: p.x, y: acc / weight))
        }
        return out
    }
}
