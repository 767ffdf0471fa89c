import Foundation

/// Panel 2 of `nntop view`: the runs shown (each in its legend colour, with its one-line summary)
/// and the first run's control events, step and label, in the order they happened.
public struct RunList: Sendable {
    public var model: DashboardModel
    public init(model: DashboardModel) { self.model = model }

    public func draw(into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        buf.withClip(rect) { b in self.drawClipped(into: &b, rect: rect, caps: caps) }
    }

    private func drawClipped(into buf: inout CellBuffer, rect: Rect, caps: RenderCaps) {
        guard rect.height >= 1, rect.width >= 1 else { return }
        var y = rect.y
        buf.put(x: rect.x, y: y, "Runs", style: .bold)
        y += 1
        let legend = DashboardView.runLegend(model: model, caps: caps)
        let summaries = [model.runSummary] + model.overlays.map(\.summary)
        for (entry, summary) in zip(legend, summaries) where y < rect.maxY {
            let w = buf.put(x: rect.x + 1, y: y, entry.text, style: entry.style, maxWidth: rect.width - 1)
            // The summary follows the name when it fits, else on its own line.
            if !summary.isEmpty {
                if rect.x + 1 + w + 2 + displayWidth(summary) <= rect.maxX {
                    buf.put(x: rect.x + 1 + w + 2, y: y, summary, style: .dim)
                } else if y + 1 < rect.maxY {
                    y += 1
                    buf.put(x: rect.x + 3, y: y, summary, style: .dim, maxWidth: rect.width - 3)
                }
            }
            y += 1
        }
        y += 1
        guard y < rect.maxY else { return }
        let name = model.runName.isEmpty ? "this run" : model.runName
        buf.put(x: rect.x, y: y, "Events of \(name)", style: .bold, maxWidth: rect.width)
        y += 1
        guard y < rect.maxY else { return }
        if model.markers.isEmpty {
            buf.put(x: rect.x + 1, y: y, "none (pause, resume, LR changes, residual toggles and snapshots show here)",
                    style: .dim, maxWidth: rect.width - 1)
            return
        }
        let stepW = max(4, model.markers.map { String($0.step).count }.max() ?? 4)
        for (i, m) in model.markers.enumerated() {
            // Keep the last row for "… N more" when the list does not fit.
            if y == rect.maxY - 1 && i < model.markers.count - 1 {
                buf.put(x: rect.x + 1, y: y, (caps.unicode ? "… " : "... ") + "\(model.markers.count - i) more", style: .dim)
                return
            }
            buf.put(x: rect.x + 1, y: y, "step " + pad(String(m.step), stepW, right: true), style: .dim)
            buf.put(x: rect.x + 8 + stepW, y: y, m.label, style: caps.fg(.yellow), maxWidth: rect.maxX - rect.x - 8 - stepW)
            y += 1
        }
    }
}
