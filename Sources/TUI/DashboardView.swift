import Foundation

/// The dashboard's main panels (keys 1-4).
public enum Panel: Int, CaseIterable, Sendable {
    case curves = 1, layers, digits, confusion

    public var title: String {
        switch self {
        case .curves: return "Curves"
        case .layers: return "Layers"
        case .digits: return "Samples"
        case .confusion: return "Confusion"
        }
    }
    /// A finished run has no layer times: its panel 2 lists the runs and the run's events.
    public func title(replay: Bool) -> String { replay && self == .layers ? "Runs" : title }
    /// Panel 2 says which of its views is on (g switches).
    public func title(replay: Bool, gradientFlow: Bool) -> String { self == .layers && gradientFlow ? "Gradients" : title(replay: replay) }
    var next: Panel { Panel(rawValue: rawValue % 4 + 1)! }
    var previous: Panel { Panel(rawValue: (rawValue + 2) % 4 + 1)! }
}

/// UI state that lives only in the dashboard (not in the trainer).
public struct DashboardUI: Equatable, Sendable {
    public var panel: Panel = .curves
    public var logScale = false
    /// EMA smoothing of the loss, 0 (raw) ... 0.99.
    public var smoothing = 0.9
    public var showHelp = false
    /// The LR prompt's text while it is open.
    public var prompt: String?
    public var promptError: String?
    public var confirmQuit = false
    public var sortLayersByTime = false
    /// Panel 2 shows the gradient flow instead of the layer times (a run's list in `nntop view`): key g.
    public var showGradientFlow = false
    public var showMistakes = false
    /// The last status message (an action's reply, or the model's status).
    public var message = ""
    /// The curves' x axis (key x).
    public var xAxis: XAxis = .steps
    /// Tag view: the regex typed after `/` ("" shows the group), the group `t` picked, and the
    /// filter prompt's text while it is open.
    public var tagFilter = ""
    public var tagGroup = 0
    public var filterPrompt: String?

    public static let smoothingSteps: [Double] = [0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.98, 0.99]

    public init() {}
}

/// Where everything goes for a terminal size.
public struct Layout: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// Below the minimum: one line saying so.
        case tooSmall
        /// One main panel at a time, with a tab row.
        case single
        /// Two panels side by side, with a tab row: the curves on the left, the chosen panel (the
        /// layers while the curves are chosen) on the right.
        case pair
        /// All four panels at once.
        case grid
    }

    public static let minWidth = 60, minHeight = 16
    public static let gridWidth = 140, gridHeight = 40
    public static let pairWidth = 100, pairHeight = 30

    public var kind: Kind
    public var header: Rect
    /// The tab row (single layout only).
    public var tabs: Rect?
    /// Panels and their rectangles (including any frame).
    public var panels: [Panel: Rect]
    public var status: Rect
    public var keys: Rect

    public static func compute(width: Int, height: Int) -> Layout {
        let zero = Rect(x: 0, y: 0, width: 0, height: 0)
        guard width >= minWidth, height >= minHeight else {
            return Layout(kind: .tooSmall, header: zero, tabs: nil, panels: [:], status: zero, keys: zero)
        }
        let header = Rect(x: 0, y: 0, width: width, height: 2)
        let status = Rect(x: 0, y: height - 2, width: width, height: 1)
        let keys = Rect(x: 0, y: height - 1, width: width, height: 1)
        if width >= gridWidth && height >= gridHeight {
            let top = 2, bottom = height - 2
            let h = bottom - top
            let leftW = width / 2
            let topH = h / 2
            var p: [Panel: Rect] = [:]
            p[.curves] = Rect(x: 0, y: top, width: leftW, height: topH)
            p[.layers] = Rect(x: leftW, y: top, width: width - leftW, height: topH)
            p[.digits] = Rect(x: 0, y: top + topH, width: leftW, height: h - topH)
            p[.confusion] = Rect(x: leftW, y: top + topH, width: width - leftW, height: h - topH)
            return Layout(kind: .grid, header: header, tabs: nil, panels: p, status: status, keys: keys)
        }
        let tabs = Rect(x: 0, y: 2, width: width, height: 1)
        let main = Rect(x: 0, y: 3, width: width, height: height - 5)
        if width >= pairWidth && height >= pairHeight {
            let leftW = width / 2
            var p: [Panel: Rect] = [.curves: Rect(x: 0, y: main.y, width: leftW, height: main.height)]
            for panel in Panel.allCases where panel != .curves {
                p[panel] = Rect(x: leftW, y: main.y, width: width - leftW, height: main.height)
            }
            return Layout(kind: .pair, header: header, tabs: tabs, panels: p, status: status, keys: keys)
        }
        var p: [Panel: Rect] = [:]
        for panel in Panel.allCases { p[panel] = main }
        return Layout(kind: .single, header: header, tabs: tabs, panels: p, status: status, keys: keys)
    }
}

/// Draws one whole frame into a cell buffer. Pure: no terminal, no clock.
public enum DashboardView {
    public static func tooSmallMessage(width: Int, height: Int) -> String {
        "terminal too small (\(width)x\(height), need \(Layout.minWidth)x\(Layout.minHeight))"
    }

    /// Renders `model` with `ui` into `buf` (which is cleared first) for the buffer's size.
    public static func render(model: DashboardModel, ui: DashboardUI, caps: RenderCaps, into buf: inout CellBuffer) {
        buf.clip = buf.bounds
        buf.clear()
        let layout = Layout.compute(width: buf.width, height: buf.height)
        if layout.kind == .tooSmall {
            buf.put(x: 0, y: 0, tooSmallMessage(width: buf.width, height: buf.height), style: .bold, maxWidth: buf.width)
            return
        }
        Header(model: model).draw(into: &buf, rect: layout.header, caps: caps)
        if let tabs = layout.tabs { drawTabs(into: &buf, rect: tabs, model: model, ui: ui, caps: caps) }
        switch layout.kind {
        case .single:
            let r = layout.panels[ui.panel]!
            drawPanel(ui.panel, model: model, ui: ui, caps: caps, into: &buf, rect: r)
        case .pair:
            let right: Panel = ui.panel == .curves ? .layers : ui.panel
            for p in [Panel.curves, right] { drawFramed(p, layout.panels[p]!, model: model, ui: ui, caps: caps, into: &buf) }
        case .grid:
            for p in Panel.allCases { drawFramed(p, layout.panels[p]!, model: model, ui: ui, caps: caps, into: &buf) }
        case .tooSmall:
            break
        }
        drawStatus(into: &buf, rect: layout.status, model: model, ui: ui, caps: caps)
        drawKeyBar(into: &buf, rect: layout.keys, model: model, caps: caps)
        if ui.showHelp {
            let area = Rect(x: 0, y: 0, width: buf.width, height: buf.height)
            var help = HelpOverlay(replay: model.replay, residual: model.residual != nil)
            help.tags = !model.tagRuns.isEmpty
            help.draw(into: &buf, area: area, caps: caps)
        }
    }

    static func drawTabs(into buf: inout CellBuffer, rect: Rect, model: DashboardModel, ui: DashboardUI, caps: RenderCaps) {
        var x = rect.x
        for p in Panel.allCases {
            let text = " \(p.rawValue) \(p.title(replay: model.replay, gradientFlow: ui.showGradientFlow))" + (p == .digits && ui.showMistakes ? " (mistakes)" : "") + " "
            let st = p == ui.panel ? (caps.hasColor ? Style(fg: .black, bg: .cyan, attrs: .bold) : Style(attrs: [.reverse, .bold])) : Style(attrs: .dim)
            x += buf.put(x: x, y: rect.y, text, style: st, maxWidth: rect.maxX - x)
            x += buf.put(x: x, y: rect.y, " ", maxWidth: rect.maxX - x)
        }
        let right = "x \(xAxis(model: model, ui: ui).rawValue) \(caps.dot) smoothing \(String(format: "%.2f", ui.smoothing)) "
            + "\(caps.dot) loss \(ui.logScale ? "log" : "linear")"
        let w = displayWidth(right)
        if rect.maxX - w - 1 > x { buf.put(x: rect.maxX - w - 1, y: rect.y, right, style: .dim) }
    }

    static func drawPanel(_ p: Panel, model: DashboardModel, ui: DashboardUI, caps: RenderCaps,
                          into buf: inout CellBuffer, rect: Rect) {
        guard !rect.isEmpty else { return }
        if !model.tagRuns.isEmpty {
            // Runs viewed by tag (TensorBoard logs): charts per tag, and each run's last values.
            switch p {
            case .curves: TagCharts(model: model, ui: ui).draw(into: &buf, rect: rect, caps: caps)
            case .layers: TagRunList(model: model).draw(into: &buf, rect: rect, caps: caps)
            case .digits, .confusion:
                buf.put(x: rect.x, y: rect.y, "A TensorBoard log keeps no digit samples or confusion matrix: panels 1 and 2 show its scalars.",
                        style: .dim, maxWidth: rect.width)
            }
            return
        }
        switch p {
        case .curves: drawCurves(model: model, ui: ui, caps: caps, into: &buf, rect: rect)
        case .layers where ui.showGradientFlow:
            GradientFlowPanel(data: model.gradientFlow, overlayColors: overlayColors, overlayMarks: overlayMarks)
                .draw(into: &buf, rect: rect, caps: caps)
        case .layers where model.replay: RunList(model: model).draw(into: &buf, rect: rect, caps: caps)
        case .layers: LayerBars(layers: model.layers, sortByTime: ui.sortLayersByTime).draw(into: &buf, rect: rect, caps: caps)
        case .digits where model.replay:
            buf.put(x: rect.x, y: rect.y, "A run folder keeps no sample images: train again to see them live.", style: .dim, maxWidth: rect.width)
        case .digits:
            let noun = isDigits(model) ? "digits" : "images"
            let v = ui.showMistakes
                ? DigitView(samples: model.mistakes, title: "Mistakes: predicted (true) confidence  (3/m: \(noun))", mistakes: true)
                : DigitView(samples: model.samples, title: "Test \(noun): predicted, confidence  (3/m: mistakes)")
            v.draw(into: &buf, rect: rect, caps: caps)
        case .confusion where model.replay:
            ConfusionMatrix(counts: model.confusion, classNames: model.classNames,
                            title: "Final test confusion matrix (rows true, columns predicted)",
                            emptyNote: "none in this run's log (it did not finish, or it predates nntop view)",
                            top5: model.testTop5.last?.y)
                .draw(into: &buf, rect: rect, caps: caps)
        case .confusion:
            ConfusionMatrix(counts: model.confusion, classNames: model.classNames, top5: latestTop5(model))
                .draw(into: &buf, rect: rect, caps: caps)
        }
    }

    /// MNIST (no names, or the names 0...9): the panel says "digits" rather than "images".
    static func isDigits(_ model: DashboardModel) -> Bool {
        model.classNames.isEmpty || model.classNames == (0..<10).map(String.init)
    }

    /// The top-5 accuracy of the newest evaluation (validation or test), which the matrix shows.
    static func latestTop5(_ model: DashboardModel) -> Double? {
        switch (model.valTop5.last, model.testTop5.last) {
        case let (v?, t?): return t.x >= v.x ? t.y : v.y
        case let (v?, nil): return v.y
        case let (nil, t?): return t.y
        case (nil, nil): return nil
        }
    }

    /// Colours of the overlaid runs, in order: apart from the current run's (yellow loss, blue,
    /// green and magenta accuracies); with 8 colours the 256-colour ones fall back to a basic one.
    public static let overlayColors: [Color] = [.cyan, .red, .index(208), .index(141), .index(43), .index(218)]
    /// Without colours, each earlier run's curves are drawn with its own letter instead.
    public static let overlayMarks: [Character] = ["o", "x", "v", "s", "z", "w"]

    /// The x axis in effect: epochs only when this run's steps per epoch are known.
    public static func xAxis(model: DashboardModel, ui: DashboardUI) -> XAxis {
        if !model.tagRuns.isEmpty { return TagCharts.axis(ui) }
        return ui.xAxis == .epochs && model.stepsPerEpoch > 0 ? .epochs : .steps
    }

    /// The two charts of the curves panel: loss (raw + EMA) on top, accuracies below, each with the
    /// overlaid runs dimmed behind, and both on one x range spanning every run.
    public static func curveCharts(model: DashboardModel, ui: DashboardUI) -> (loss: LineChart, acc: LineChart) {
        let axis = xAxis(model: model, ui: ui)
        // Step x to the chosen axis; nil when a run's epoch length is unknown (it is left out).
        func onAxis(_ pts: [SeriesPoint], stepsPerEpoch: Int) -> [SeriesPoint]? {
            guard axis == .epochs else { return pts }
            guard stepsPerEpoch > 0 else { return nil }
            return pts.map { SeriesPoint(x: $0.x / Double(stepsPerEpoch), y: $0.y) }
        }
        let spe = model.stepsPerEpoch
        let trainLoss = onAxis(model.trainLoss, stepsPerEpoch: spe) ?? []
        let trainAcc = onAxis(model.trainAcc, stepsPerEpoch: spe) ?? []
        let valAcc = onAxis(model.valAcc, stepsPerEpoch: spe) ?? []
        let testAcc = onAxis(model.testAcc, stepsPerEpoch: spe) ?? []
        let markers = model.markers.map {
            Marker(step: $0.step, label: $0.label, x: axis == .epochs ? Double($0.step) / Double(spe) : Double($0.step))
        }
        var overlayLoss: [ChartSeries] = [], overlayAcc: [ChartSeries] = []
        for (i, o) in model.overlays.enumerated() {
            let color = overlayColors[i % overlayColors.count], mark = overlayMarks[i % overlayMarks.count]
            // Unnamed: the runs legend above the charts names them (one entry per run, not per curve).
            if let pts = onAxis(o.trainLoss, stepsPerEpoch: o.stepsPerEpoch) {
                overlayLoss.append(ChartSeries(name: "", points: pts, color: color, faint: true, mark: mark))
            }
            for curve in [o.trainAcc, o.valAcc, o.testAcc] {
                if let pts = onAxis(curve, stepsPerEpoch: o.stepsPerEpoch) {
                    overlayAcc.append(ChartSeries(name: "", points: pts, color: color, faint: true, mark: mark))
                }
            }
        }

        let smooth = LineChart.ema(trainLoss, smoothing: ui.smoothing)
        var lossSeries: [ChartSeries] = []
        if ui.smoothing > 0 { lossSeries.append(ChartSeries(name: "raw", points: trainLoss, color: .white, faint: true)) }
        lossSeries += overlayLoss
        lossSeries.append(ChartSeries(name: ui.smoothing > 0 ? "EMA \(String(format: "%.2f", ui.smoothing))" : "loss",
                                      points: smooth, color: .yellow))
        // Legends carry the latest value; an accuracy with the decimals its sample size supports.
        func named(_ name: String, _ pts: [SeriesPoint], samples: Int? = nil, top5: [SeriesPoint] = []) -> String {
            guard let y = pts.last?.y, y.isFinite else { return name }
            var s = name + " " + (samples.map { Fmt.accuracy(y, samples: $0) } ?? Fmt.tick(y))
            // Top-5 beside top-1 where it was measured (more than five classes).
            if let t = top5.last?.y, t.isFinite { s += " top-5 " + (samples.map { Fmt.accuracy(t, samples: $0) } ?? Fmt.tick(t)) }
            return s
        }
        if let i = lossSeries.indices.last { lossSeries[i].name = named(lossSeries[i].name, smooth) }
        let n = model.accuracySamples
        let accSeries = overlayAcc + [
            ChartSeries(name: named("train", trainAcc, samples: n.train), points: trainAcc, color: .blue),
            ChartSeries(name: named("val", valAcc, samples: n.validation, top5: model.valTop5), points: valAcc, color: .green),
            ChartSeries(name: named("test", testAcc, samples: n.test, top5: model.testTop5), points: testAcc, color: .magenta),
        ]
        // One x range for both charts and every run, so markers and curves line up.
        var xr: ClosedRange<Double>?
        var lo = Double.infinity, hi = -Double.infinity
        for s in [trainLoss, trainAcc, valAcc, testAcc] + (overlayLoss + overlayAcc).map(\.points) {
            for p in s where p.x.isFinite { lo = min(lo, p.x); hi = max(hi, p.x) }
        }
        // An event before the first logged point (a pause at step 0) still gets its line.
        if lo.isFinite { for m in markers where m.x.isFinite { lo = min(lo, m.x); hi = max(hi, m.x) } }
        if lo.isFinite, hi.isFinite, hi > lo { xr = lo...hi }
        let loss = LineChart(title: "Training loss" + (ui.logScale ? " (log)" : ""), series: lossSeries,
                             markers: markers, logScale: ui.logScale, xRange: xr, xUnit: axis)
        // The loss chart right above labels the markers; here their lines suffice (a row more for the curves).
        let acc = LineChart(title: "Accuracy %", series: accSeries, markers: markers, xRange: xr, yClamp: 0...100, xUnit: axis,
                            labelMarkers: false)
        return (loss, acc)
    }

    /// The runs legend above the charts (only when runs are compared or viewed): this run in bold,
    /// each overlay in its colour. Entries wrap onto a second row; what still does not fit is cut.
    public static func runLegend(model: DashboardModel, caps: RenderCaps) -> [(text: String, style: Style)] {
        guard model.replay || !model.overlays.isEmpty else { return [] }
        let bullet = caps.unicode ? "● " : "* "
        var out = [(bullet + (model.runName.isEmpty ? "this run" : model.runName), Style.bold)]
        for (i, o) in model.overlays.enumerated() {
            // Without colours the legend shows the letter the run's curves are drawn with.
            let key = caps.hasColor ? bullet : "\(overlayMarks[i % overlayMarks.count]) "
            out.append((key + o.name, caps.fg(overlayColors[i % overlayColors.count], caps.hasColor ? [] : .dim)))
        }
        return out
    }

    /// Draws the legend entries from the top of `rect`; returns the rows used.
    static func drawRunLegend(_ entries: [(text: String, style: Style)], into buf: inout CellBuffer, rect: Rect, maxRows: Int) -> Int {
        guard !entries.isEmpty, rect.width > 0 else { return 0 }
        var row = 0, x = rect.x
        for e in entries {
            let w = displayWidth(e.text)
            if x > rect.x && x + w > rect.maxX {
                guard row + 1 < maxRows else { break }
                row += 1; x = rect.x
            }
            x += buf.put(x: x, y: rect.y + row, e.text, style: e.style, maxWidth: rect.maxX - x) + 2
        }
        return row + 1
    }

    static func drawCurves(model: DashboardModel, ui: DashboardUI, caps: RenderCaps, into buf: inout CellBuffer, rect: Rect) {
        let (loss, acc) = curveCharts(model: model, ui: ui)
        var rect = rect
        let legendRows = drawRunLegend(runLegend(model: model, caps: caps), into: &buf, rect: rect, maxRows: rect.height >= 16 ? 2 : 1)
        rect.y += legendRows
        rect.height -= legendRows
        let lossH = max(3, (rect.height * 11) / 20)
        let top = Rect(x: rect.x, y: rect.y, width: rect.width, height: lossH)
        let bottom = Rect(x: rect.x, y: rect.y + lossH, width: rect.width, height: rect.height - lossH)
        loss.draw(into: &buf, rect: top, caps: caps)
        acc.draw(into: &buf, rect: bottom, caps: caps)
    }

    static func drawStatus(into buf: inout CellBuffer, rect: Rect, model: DashboardModel, ui: DashboardUI, caps: RenderCaps) {
        let y = rect.y
        if let f = ui.filterPrompt {
            var x = rect.x
            x += buf.put(x: x, y: y, " filter tags (regex): /", style: caps.fg(.yellow, .bold))
            x += buf.put(x: x, y: y, f, style: Style(attrs: .underline))
            x += buf.put(x: x, y: y, "_", style: Style(attrs: .bold))
            let note = ui.promptError ?? "(Enter filters, empty Enter clears, Esc cancels)"
            buf.put(x: x + 2, y: y, note, style: ui.promptError != nil ? caps.fg(.red, .bold) : .dim, maxWidth: rect.maxX - x - 2)
            return
        }
        if let p = ui.prompt {
            var x = rect.x
            x += buf.put(x: x, y: y, " set LR: ", style: caps.fg(.yellow, .bold))
            x += buf.put(x: x, y: y, p, style: Style(attrs: .underline))
            x += buf.put(x: x, y: y, "_", style: Style(attrs: .bold))
            if let e = ui.promptError {
                buf.put(x: x + 2, y: y, e, style: caps.fg(.red, .bold), maxWidth: rect.maxX - x - 2)
            } else {
                buf.put(x: x + 2, y: y, "(Enter sets, Esc cancels; now \(Fmt.lr(model.lr)))", style: .dim, maxWidth: rect.maxX - x - 2)
            }
            return
        }
        if ui.confirmQuit {
            let st = caps.hasColor ? Style(fg: .white, bg: .red, attrs: .bold) : Style(attrs: [.reverse, .bold])
            buf.put(x: rect.x, y: y, " quit? y/n ", style: st)
            buf.put(x: rect.x + 12, y: y, "training is still \(model.state == .paused ? "paused" : "running")", style: .dim)
            return
        }
        var msg = ui.message.isEmpty ? model.status : ui.message
        if msg.isEmpty && (model.state == .done || model.state == .diverged) {
            msg = model.state == .done ? "training finished; q quits" : "training diverged; q quits"
        }
        if !msg.isEmpty { buf.put(x: rect.x + 1, y: y, msg, style: caps.fg(.cyan), maxWidth: rect.width - 1) }
    }

    /// A panel in its frame (pair and grid layouts): the chosen one's frame highlighted, its title
    /// saying what it shows (panel 2: layer times or gradient flow).
    static func drawFramed(_ p: Panel, _ r: Rect, model: DashboardModel, ui: DashboardUI, caps: RenderCaps, into buf: inout CellBuffer) {
        let focused = p == ui.panel
        buf.box(r, title: "\(p.rawValue) \(p.title(replay: model.replay, gradientFlow: ui.showGradientFlow))", unicode: caps.unicode,
                style: focused ? caps.fg(.cyan, .bold) : Style(attrs: .dim),
                titleStyle: focused ? caps.fg(.cyan, .bold) : .bold)
        drawPanel(p, model: model, ui: ui, caps: caps, into: &buf, rect: r.inset(1))
    }

    static let keyBarItems: [(String, String)] = [
        ("space", "pause"), ("+/-", "LR"), ("?", "help"), ("q", "quit"), ("d", "detach"), ("l", "set LR"), ("r", "res"), ("s", "snap"),
        ("e", "eval"), ("tab", "panel"), ("g", "grads"), ("x", "x axis"), ("y", "log"), ("[]", "smooth"), ("o", "sort"), ("m", "mistakes"),
    ]
    /// A viewed run: only the keys that do something without training.
    static let replayKeyBarItems: [(String, String)] = [
        ("x", "steps/epochs"), ("tab", "panel"), ("?", "help"), ("q", "quit"), ("g", "grads"), ("y", "log"), ("[]", "smooth"),
    ]

    /// Runs viewed by tag.
    static let tagKeyBarItems: [(String, String)] = [
        ("/", "filter"), ("t", "tag group"), ("x", "step/time"), ("[]", "smooth"), ("y", "log"), ("tab", "panel"), ("?", "help"), ("q", "quit"),
    ]

    /// `r` is offered only when the model has residual connections to switch (`residual != nil`).
    static func drawKeyBar(into buf: inout CellBuffer, rect: Rect, model: DashboardModel, caps: RenderCaps) {
        var x = rect.x
        let keyStyle = caps.hasColor ? Style(fg: .black, bg: .cyan) : Style(attrs: .reverse)
        let items = !model.tagRuns.isEmpty ? tagKeyBarItems : model.replay ? replayKeyBarItems : keyBarItems.filter { $0.0 != "r" || model.residual != nil }
        for (k, label) in items {
            let w = displayWidth(k) + displayWidth(label) + 2
            if x + w > rect.maxX { continue }
            x += buf.put(x: x, y: rect.y, k, style: keyStyle)
            x += buf.put(x: x, y: rect.y, " " + label + " ")
        }
    }
}
