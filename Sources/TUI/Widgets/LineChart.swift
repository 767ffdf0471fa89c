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
/// Layout inside the rectangle: row 0 title and legend; rows 1...h-2 the plot; row h-1 the
/// x axis labels. Columns: y labels, the y axis, then the plot.
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

    public init(title: String, series: [ChartSeries], markers: [Marker] = [], logScale: Bool = false,
                yRange: ClosedRange<Double>? = nil, xRange: ClosedRange<Double>? = nil,
                yClamp: ClosedRange<Double>? = nil, xUnit: XAxis = .steps) {
        self.title = title; self.series = series; self.markers = markers; self.logScale = logScale
        self.yRange = yRange; self.xRange = xRange; self.yClamp = yClamp; self.xUnit = xUnit
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
    public func geometry(in rect: Rect, caps: RenderCaps) -> Geometry? {
        guard rect.width >= 8, rect.height >= 3 else { return nil }
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
        let plotRows = rect.height - 2
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
        let plot = Rect(x: rect.x + labelWidth + 1, y: rect.y + 1, width: rect.width - labelWidth - 1, height: plotRows)
        guard plot.width >= 2, plot.height >= 1 else { return nil }
        let (dx, dy) = caps.unicode ? (2, 4) : (1, 3)
        // X ticks: left, right, and the middle when wide enough.
        var xTicks: [(Int, String)] = []
        let xText: (Double) -> String = xUnit == .epochs ? Fmt.epochs : Fmt.steps
        let leftText = xText(xLo), rightText = xText(xHi) + (xUnit == .epochs ? " ep" : "")
        xTicks.append((plot.x, leftText))
        if plot.width >= 30 {
            let mid = (xLo + xHi) / 2
            xTicks.append((plot.x + plot.width / 2, xText(mid)))
        }
        xTicks.append((plot.maxX - 1, rightText))
        return Geometry(plot: plot, dotsX: dx, dotsY: dy, xMin: xLo, xMax: xHi, yMin: yLo, yMax: yHi,
                        logScale: logScale, yTicks: yTexts.map { (row: $0.0, text: $0.1) },
                        xTicks: xTicks.map { (col: $0.0, text: $0.1) }, labelWidth: labelWidth)
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

        // Marker lines (under the curves).
        let markerStyle = caps.fg(.yellow, caps.hasColor ? [] : .dim)
        var markerCols: [(col: Int, label: String)] = []
        for m in markers {
            let x = m.x
            guard x >= g.xMin, x <= g.xMax, let d = g.dot(x: x, y: g.logScale ? pow(10, g.yMax) : g.yMax) else { continue }
            let col = plot.x + d.x / g.dotsX
            markerCols.append((col, m.label))
            buf.vline(x: col, y: plot.y, height: plot.height, caps.unicode ? "┊" : ":", style: markerStyle)
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

        // Marker labels on top, alternating rows to limit overlaps.
        for (i, m) in markerCols.enumerated() {
            let row = plot.y + (plot.height >= 4 ? i % 2 : 0)
            let text = m.label
            let w = displayWidth(text)
            // Put the label right of the line, or left of it near the right edge.
            let x = m.col + 1 + w <= plot.maxX ? m.col + 1 : max(plot.x, m.col - w)
            buf.put(x: x, y: row, text, style: markerStyle, maxWidth: plot.maxX - x)
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
