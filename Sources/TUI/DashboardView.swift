import Foundation

/// The dashboard's main panels (keys 1-4).
public enum Panel: Int, CaseIterable, Sendable {
    case curves = 1, layers, digits, confusion

    public var title: String {
        switch self {
        case .curves: return "Curves"
        case .layers: return "Layers"
        case .digits: return "Digits"
        case .confusion: return "Confusion"
        }
    }
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
    public var showMistakes = false
    /// The last status message (an action's reply, or the model's status).
    public var message = ""

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
        /// All four panels at once.
        case grid
    }

    public static let minWidth = 60, minHeight = 16
    public static let gridWidth = 140, gridHeight = 40

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
        if let tabs = layout.tabs { drawTabs(into: &buf, rect: tabs, ui: ui, caps: caps) }
        switch layout.kind {
        case .single:
            let r = layout.panels[ui.panel]!
            drawPanel(ui.panel, model: model, ui: ui, caps: caps, into: &buf, rect: r)
        case .grid:
            for p in Panel.allCases {
                let r = layout.panels[p]!
                let focused = p == ui.panel
                buf.box(r, title: "\(p.rawValue) \(p.title)", unicode: caps.unicode,
                        style: focused ? caps.fg(.cyan, .bold) : Style(attrs: .dim),
                        titleStyle: focused ? caps.fg(.cyan, .bold) : .bold)
                drawPanel(p, model: model, ui: ui, caps: caps, into: &buf, rect: r.inset(1))
            }
        case .tooSmall:
            break
        }
        drawStatus(into: &buf, rect: layout.status, model: model, ui: ui, caps: caps)
        drawKeyBar(into: &buf, rect: layout.keys, caps: caps)
        if ui.showHelp {
            let area = Rect(x: 0, y: 0, width: buf.width, height: buf.height)
            HelpOverlay().draw(into: &buf, area: area, caps: caps)
        }
    }

    static func drawTabs(into buf: inout CellBuffer, rect: Rect, ui: DashboardUI, caps: RenderCaps) {
        var x = rect.x
        for p in Panel.allCases {
            let text = " \(p.rawValue) \(p.title)" + (p == .digits && ui.showMistakes ? " (mistakes)" : "") + " "
            let st = p == ui.panel ? (caps.hasColor ? Style(fg: .black, bg: .cyan, attrs: .bold) : Style(attrs: [.reverse, .bold])) : Style(attrs: .dim)
            x += buf.put(x: x, y: rect.y, text, style: st, maxWidth: rect.maxX - x)
            x += buf.put(x: x, y: rect.y, " ", maxWidth: rect.maxX - x)
        }
        let right = "smoothing \(String(format: "%.2f", ui.smoothing)) \(caps.dot) loss \(ui.logScale ? "log" : "linear")"
        let w = displayWidth(right)
        if rect.maxX - w - 1 > x { buf.put(x: rect.maxX - w - 1, y: rect.y, right, style: .dim) }
    }

    static func drawPanel(_ p: Panel, model: DashboardModel, ui: DashboardUI, caps: RenderCaps,
                          into buf: inout CellBuffer, rect: Rect) {
        guard !rect.isEmpty else { return }
        switch p {
        case .curves: drawCurves(model: model, ui: ui, caps: caps, into: &buf, rect: rect)
        case .layers: LayerBars(layers: model.layers, sortByTime: ui.sortLayersByTime).draw(into: &buf, rect: rect, caps: caps)
        case .digits:
            let v = ui.showMistakes
                ? DigitView(samples: model.mistakes, title: "Mistakes: predicted (true) confidence  (3/m: digits)", mistakes: true)
                : DigitView(samples: model.digits, title: "Test digits: predicted, confidence  (3/m: mistakes)")
            v.draw(into: &buf, rect: rect, caps: caps)
        case .confusion: ConfusionMatrix(counts: model.confusion).draw(into: &buf, rect: rect, caps: caps)
        }
    }

    /// The two charts of the curves panel: loss (raw + EMA) on top, accuracies below.
    public static func curveCharts(model: DashboardModel, ui: DashboardUI) -> (loss: LineChart, acc: LineChart) {
        let smooth = LineChart.ema(model.trainLoss, smoothing: ui.smoothing)
        var lossSeries: [ChartSeries] = []
        if ui.smoothing > 0 { lossSeries.append(ChartSeries(name: "raw", points: model.trainLoss, color: .white, faint: true)) }
        lossSeries.append(ChartSeries(name: ui.smoothing > 0 ? "EMA \(String(format: "%.2f", ui.smoothing))" : "loss",
                                      points: smooth, color: .yellow))
        let loss = LineChart(title: "Training loss" + (ui.logScale ? " (log)" : ""), series: lossSeries,
                             markers: model.markers, logScale: ui.logScale)
        // Legends carry the latest value.
        func named(_ name: String, _ pts: [SeriesPoint], percent: Bool) -> String {
            guard let y = pts.last?.y, y.isFinite else { return name }
            return name + " " + (percent ? String(format: "%.2f%%", y) : Fmt.tick(y))
        }
        if let i = lossSeries.indices.last { lossSeries[i].name = named(lossSeries[i].name, smooth, percent: false) }
        let accSeries = [
            ChartSeries(name: named("train", model.trainAcc, percent: true), points: model.trainAcc, color: .blue),
            ChartSeries(name: named("val", model.valAcc, percent: true), points: model.valAcc, color: .green),
            ChartSeries(name: named("test", model.testAcc, percent: true), points: model.testAcc, color: .magenta),
        ]
        // Share the loss chart's step range so markers and curves line up.
        var xr: ClosedRange<Double>?
        var lo = Double.infinity, hi = -Double.infinity
        for s in [model.trainLoss, model.trainAcc, model.valAcc, model.testAcc] {
            for p in s where p.x.isFinite { lo = min(lo, p.x); hi = max(hi, p.x) }
        }
        if lo.isFinite, hi.isFinite, hi > lo { xr = lo...hi }
        var l = loss
        l.xRange = xr
        let acc = LineChart(title: "Accuracy %", series: accSeries, markers: model.markers, xRange: xr, yClamp: 0...100)
        return (l, acc)
    }

    static func drawCurves(model: DashboardModel, ui: DashboardUI, caps: RenderCaps, into buf: inout CellBuffer, rect: Rect) {
        let (loss, acc) = curveCharts(model: model, ui: ui)
        let lossH = max(3, (rect.height * 11) / 20)
        let top = Rect(x: rect.x, y: rect.y, width: rect.width, height: lossH)
        let bottom = Rect(x: rect.x, y: rect.y + lossH, width: rect.width, height: rect.height - lossH)
        loss.draw(into: &buf, rect: top, caps: caps)
        acc.draw(into: &buf, rect: bottom, caps: caps)
    }

    static func drawStatus(into buf: inout CellBuffer, rect: Rect, model: DashboardModel, ui: DashboardUI, caps: RenderCaps) {
        let y = rect.y
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

    static let keyBarItems: [(String, String)] = [
        ("space", "pause"), ("+/-", "LR"), ("?", "help"), ("q", "quit"), ("l", "set LR"), ("r", "res"), ("s", "snap"),
        ("e", "eval"), ("tab", "panel"), ("y", "log"), ("[]", "smooth"), ("o", "sort"), ("m", "mistakes"),
    ]

    static func drawKeyBar(into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        var x = rect.x
        let keyStyle = caps.hasColor ? Style(fg: .black, bg: .cyan) : Style(attrs: .reverse)
        for (k, label) in keyBarItems {
            let w = displayWidth(k) + displayWidth(label) + 2
            if x + w > rect.maxX { continue }
            x += buf.put(x: x, y: rect.y, k, style: keyStyle)
            x += buf.put(x: x, y: rect.y, " " + label + " ")
        }
    }
}
