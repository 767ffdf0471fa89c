import Foundation

/// Two header lines:
///
///      RUNNING   resnet18  residual on  epoch 2/10  LR 0.01  1234 samples/s
///      step 1234/5000 [██████████░░░░░░░░░░░░░░░░░░]  24.7%  ETA 3m12s  8 threads
public struct Header: Sendable {
    public var model: DashboardModel
    public init(model: DashboardModel) { self.model = model }

    public static func stateStyle(_ s: RunState, caps: RenderCaps) -> Style {
        guard caps.hasColor else { return Style(attrs: [.bold, .reverse]) }
        let bg: Color
        switch s {
        case .running: bg = .green
        case .paused: bg = .yellow
        case .done: bg = .cyan
        case .diverged: bg = .red
        case .stopped: bg = .white
        }
        return Style(fg: .black, bg: bg, attrs: .bold)
    }

    public func draw(into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        buf.withClip(rect) { b in self.drawClipped(into: &b, rect: rect, caps: caps) }
    }

    private func drawClipped(into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        guard rect.height >= 1 else { return }
        let m = model
        var x = rect.x
        x += buf.put(x: x, y: rect.y, " \(m.state.rawValue) ", style: Header.stateStyle(m.state, caps: caps))
        if !m.tagRuns.isEmpty {
            // Runs viewed by tag: what is shown and how far the first run got; no epochs, LR or ETA to tell.
            let runs = m.tagRuns.count == 1 ? m.tagRuns[0].name : "\(m.tagRuns[0].name) + \(m.tagRuns.count - 1) more"
            x += buf.put(x: x, y: rect.y, "  " + runs, style: .bold, maxWidth: rect.maxX - x)
            buf.put(x: x, y: rect.y, "  step \(m.step)", maxWidth: rect.maxX - x)
            if rect.height >= 2 { buf.put(x: rect.x + 1, y: rect.y + 1, m.runSummary, style: .dim, maxWidth: rect.width - 1) }
            return
        }
        // Each part has a short form for narrow terminals; a part that fits in neither is left out.
        var parts: [(String, String, Style)] = []
        let name = m.model.isEmpty ? "model" : m.model
        parts.append((name, name, .bold))
        if let r = m.residual {
            parts.append(("residual " + (r ? "on" : "off"), "res " + (r ? "on" : "off"), caps.fg(r ? .green : .yellow)))
        }
        let ep = m.epochs > 0 ? "\(m.epoch)/\(m.epochs)" : "\(m.epoch)"
        parts.append(("epoch " + ep, "ep " + ep, .plain))
        let lr = "LR " + Fmt.lr(m.lr)
        parts.append((lr, lr, Style(fg: caps.hasColor ? .yellow : .default, attrs: .bold)))
        let rate = Fmt.rate(m.samplesPerSecond), avg = m.samplesPerSecondIsAverage ? " avg" : ""
        parts.append((rate + " samples/s" + avg, rate + "/s" + avg, .plain))
        let longW = parts.reduce(0) { $0 + 2 + displayWidth($1.0) }
        let short = x + longW > rect.maxX
        for (long, brief, st) in parts {
            let text = short ? brief : long
            guard x + 2 + displayWidth(text) <= rect.maxX else { continue }
            x += buf.put(x: x, y: rect.y, "  ")
            x += buf.put(x: x, y: rect.y, text, style: st)
        }
        guard rect.height >= 2 else { return }
        // Progress line.
        let y = rect.y + 1
        let total = max(0, m.totalSteps)
        let frac = total > 0 ? max(0, min(1, Double(m.step) / Double(total))) : 0
        let stepText = total > 0 ? " step \(m.step)/\(total) " : " step \(m.step) "
        var px = rect.x + buf.put(x: rect.x, y: y, stepText)
        let pct = String(format: " %5.1f%%", frac * 100)
        var eta = ""
        if m.state == .done {
            eta = "  finished"
        } else if m.state == .stopped {
            eta = "  stopped"
        } else if let e = m.etaSeconds {
            eta = "  ETA " + Fmt.duration(e)
        } else if !m.replay {
            // A viewed run's log may give no estimate (paused, no throughput logged yet): nothing
            // is shown then, rather than a placeholder that looks like a stalled run.
            eta = "  ETA --"
        }
        let threads = "  \(m.threads) thread" + (m.threads == 1 ? "" : "s")
        let tailW = displayWidth(pct) + displayWidth(eta) + displayWidth(threads)
        let barW = max(0, min(60, rect.maxX - px - tailW - 2))
        if barW >= 5 {
            px += buf.put(x: px, y: y, "[")
            let filled = Int((Double(barW) * frac).rounded(.down))
            let fch: Character = caps.unicode ? "█" : "#"
            let ech: Character = caps.unicode ? "░" : "-"
            buf.hline(x: px, y: y, width: filled, fch, style: caps.fg(.green))
            buf.hline(x: px + filled, y: y, width: barW - filled, ech, style: .dim)
            px += barW
            px += buf.put(x: px, y: y, "]")
        }
        px += buf.put(x: px, y: y, pct)
        px += buf.put(x: px, y: y, eta)
        buf.put(x: px, y: y, threads, style: .dim)
    }
}
