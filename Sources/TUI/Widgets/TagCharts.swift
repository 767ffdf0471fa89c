import Foundation

/// Which tags the curves panel shows for runs viewed by tag (TensorBoard logs): by default the
/// ones that look like a loss or an accuracy; `t` steps through the groups (a tag's group is what
/// comes before its first "/", as TensorBoard groups them), then all tags; `/` filters by a regex,
/// which wins over the group while it is set.
public enum TagSelection {
    /// What the default group matches (case-insensitive): "loss", "train/acc", "epoch_accuracy"…
    public static let lossOrAccuracy = "loss|acc"

    /// Every tag of every run, in order of first appearance.
    public static func allTags(_ runs: [TagRun]) -> [String] {
        var seen = Set<String>(), out: [String] = []
        for r in runs { for s in r.series where seen.insert(s.tag).inserted { out.append(s.tag) } }
        return out
    }

    /// The groups `t` cycles through: "loss & accuracy", then each prefix in order, then "all".
    public static func groups(_ tags: [String]) -> [String] {
        var seen = Set<String>(), prefixes: [String] = []
        for t in tags {
            guard let slash = t.firstIndex(of: "/") else { continue }
            let p = String(t[..<slash])
            if seen.insert(p).inserted { prefixes.append(p) }
        }
        return ["loss & accuracy"] + prefixes + ["all"]
    }

    public static func regex(_ pattern: String) -> NSRegularExpression? {
        try? NSRegularExpression(pattern: pattern, options: [.caseInsensitive])
    }

    static func matches(_ re: NSRegularExpression, _ s: String) -> Bool {
        re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }

    /// The tags shown and a label saying why ("filter /val/", "group train", …).
    public static func shown(_ runs: [TagRun], ui: DashboardUI) -> (tags: [String], label: String) {
        let tags = allTags(runs)
        if !ui.tagFilter.isEmpty, let re = regex(ui.tagFilter) {
            return (tags.filter { matches(re, $0) }, "filter /\(ui.tagFilter)/")
        }
        let gs = groups(tags)
        let g = ((ui.tagGroup % gs.count) + gs.count) % gs.count
        switch g {
        case 0:
            let re = regex(lossOrAccuracy)!
            let picked = tags.filter { matches(re, $0) }
            // A log with neither shows everything rather than nothing.
            return picked.isEmpty ? (tags, "all tags (none looks like loss or accuracy)") : (picked, "loss & accuracy")
        case gs.count - 1: return (tags, "all tags")
        default: return (tags.filter { $0.hasPrefix(gs[g] + "/") }, "group \(gs[g])")
        }
    }
}

/// The curves panel for runs viewed by tag: a line naming the selection, the runs' legend, then
/// one chart per shown tag (as many as fit, two or three across on a wide panel), each with every
/// run's curve of that tag: the first run raw (faint) and smoothed, the others smoothed in their
/// overlay colours (or letters without colour). Smoothing, log-y and the x axis (steps, relative
/// time, wall time) come from the UI state.
public struct TagCharts: Sendable {
    public var model: DashboardModel
    public var ui: DashboardUI
    public init(model: DashboardModel, ui: DashboardUI) { self.model = model; self.ui = ui }

    /// Smallest chart that still reads.
    static let minChartWidth = 36, minChartHeight = 7

    /// A series on the chosen x axis: steps, seconds since the series' first point (TensorBoard's
    /// relative time), or wall time.
    static func onAxis(_ s: TagSeries, _ axis: XAxis) -> [SeriesPoint] {
        switch axis {
        case .steps, .epochs: return s.points
        case .relative:
            guard let t0 = s.wallTimes.first else { return [] }
            return zip(s.points, s.wallTimes).map { SeriesPoint(x: $1 - t0, y: $0.y) }
        case .wall:
            return zip(s.points, s.wallTimes).map { SeriesPoint(x: $1, y: $0.y) }
        }
    }

    public static func axis(_ ui: DashboardUI) -> XAxis { ui.xAxis == .epochs ? .steps : ui.xAxis }

    /// One chart per shown tag, in order.
    public static func charts(model: DashboardModel, ui: DashboardUI) -> [LineChart] {
        let axis = axis(ui)
        return TagSelection.shown(model.tagRuns, ui: ui).tags.map { tag in
            var series: [ChartSeries] = []
            for (i, run) in model.tagRuns.enumerated() {
                guard let s = run.series.first(where: { $0.tag == tag }) else { continue }
                let raw = onAxis(s, axis)
                let smooth = LineChart.ema(raw, smoothing: ui.smoothing)
                if i == 0 {
                    if ui.smoothing > 0 { series.append(ChartSeries(name: "", points: raw, color: .white, faint: true)) }
                    let last = smooth.last.map { " " + Fmt.tick($0.y) } ?? ""
                    series.append(ChartSeries(name: (ui.smoothing > 0 ? "EMA" : "value") + last, points: smooth, color: .yellow))
                } else {
                    let k = i - 1
                    series.insert(ChartSeries(name: "", points: smooth, color: DashboardView.overlayColors[k % DashboardView.overlayColors.count],
                                              faint: true, mark: DashboardView.overlayMarks[k % DashboardView.overlayMarks.count]), at: 0)
                }
            }
            return LineChart(title: tag, series: series, logScale: ui.logScale, xUnit: axis)
        }
    }

    /// The legend of the runs: the first in bold, the others in their overlay colour or letter.
    public static func runLegend(model: DashboardModel, caps: RenderCaps) -> [(text: String, style: Style)] {
        let bullet = caps.unicode ? "● " : "* "
        return model.tagRuns.enumerated().map { i, r in
            if i == 0 { return (bullet + r.name, Style.bold) }
            let k = i - 1
            let key = caps.hasColor ? bullet : "\(DashboardView.overlayMarks[k % DashboardView.overlayMarks.count]) "
            return (key + r.name, caps.fg(DashboardView.overlayColors[k % DashboardView.overlayColors.count], caps.hasColor ? [] : .dim))
        }
    }

    public func draw(into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        buf.withClip(rect) { b in self.drawClipped(into: &b, rect: rect, caps: caps) }
    }

    private func drawClipped(into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        guard rect.height >= 2, rect.width >= 10 else { return }
        let (tags, label) = TagSelection.shown(model.tagRuns, ui: ui)
        let charts = TagCharts.charts(model: model, ui: ui)
        var r = rect
        // Where the tags shown come from, and how many fit.
        let cols = max(1, min(3, min(charts.count, r.width / TagCharts.minChartWidth)))
        let rowsRoom = max(1, (r.height - 2) / TagCharts.minChartHeight)
        let rows = max(1, min(rowsRoom, (charts.count + cols - 1) / max(1, cols)))
        let fit = min(charts.count, rows * cols)
        var line = "tags: \(label) \(caps.dot) \(fit) of \(tags.count) shown"
        if fit < tags.count { line += " \(caps.dot) / filters, t next group" }
        buf.put(x: r.x, y: r.y, line, style: caps.fg(.cyan), maxWidth: r.width)
        r.y += 1; r.height -= 1
        let legend = DashboardView.drawRunLegend(TagCharts.runLegend(model: model, caps: caps), into: &buf, rect: r, maxRows: 1)
        r.y += legend; r.height -= legend
        guard !charts.isEmpty else {
            let why = model.tagRuns.allSatisfy({ $0.series.isEmpty }) ? "no scalars in the log yet" : "no tag matches /\(ui.tagFilter)/ (/ then Enter on an empty line clears it)"
            buf.putCentered(why, in: r, y: r.y + r.height / 2, style: .dim)
            return
        }
        let w = r.width / cols, h = r.height / rows
        for (k, chart) in charts.prefix(fit).enumerated() {
            let cx = r.x + (k % cols) * w, cy = r.y + (k / cols) * h
            let cw = k % cols == cols - 1 ? r.maxX - cx : w - 1
            let ch = k / cols == rows - 1 ? r.maxY - cy : h
            chart.draw(into: &buf, rect: Rect(x: cx, y: cy, width: cw, height: ch), caps: caps)
        }
    }
}

/// Panel 2 for runs viewed by tag: each run (legend colour, summary) and its last value per tag.
public struct TagRunList: Sendable {
    public var model: DashboardModel
    public init(model: DashboardModel) { self.model = model }

    public func draw(into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        buf.withClip(rect) { b in self.drawClipped(into: &b, rect: rect, caps: caps) }
    }

    private func drawClipped(into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        var y = rect.y
        buf.put(x: rect.x, y: y, "Runs: last value per tag (step)", style: .bold, maxWidth: rect.width)
        y += 1
        let legend = TagCharts.runLegend(model: model, caps: caps)
        for (run, entry) in zip(model.tagRuns, legend) {
            guard y < rect.maxY else { return }
            let w = buf.put(x: rect.x, y: y, entry.text, style: entry.style, maxWidth: rect.width)
            buf.put(x: rect.x + w + 2, y: y, run.summary, style: .dim, maxWidth: rect.maxX - rect.x - w - 2)
            y += 1
            let tagW = min(40, max(8, run.series.map { displayWidth($0.tag) }.max() ?? 8))
            for (i, s) in run.series.enumerated() {
                guard y < rect.maxY else { return }
                if y == rect.maxY - 1 && i < run.series.count - 1 {
                    buf.put(x: rect.x + 2, y: y, (caps.unicode ? "… " : "... ") + "\(run.series.count - i) more tags", style: .dim)
                    return
                }
                buf.put(x: rect.x + 2, y: y, pad(s.tag, tagW), maxWidth: tagW)
                if let p = s.points.last {
                    buf.put(x: rect.x + 3 + tagW, y: y, pad(Fmt.tick(p.y), 7, right: true) + "  (\(Fmt.steps(p.x)))", style: caps.fg(.yellow))
                }
                y += 1
            }
        }
    }
}
