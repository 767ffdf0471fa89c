import Foundation
import Models
import TUI

/// The dashboard's gradient-flow values from the Trainer's figures: the newest figures every frame,
/// and as the chart's faint state the figures as they were some seconds before (the state is moved
/// on every `holdSeconds`), so a change such as `r` shows as bars moving away from their faint selves.
struct GradientFlowTracker {
    var holdSeconds = 2.0
    private var anchor: GradientFlow?, previous: GradientFlow?, anchorTime = -Double.infinity

    mutating func update(_ g: GradientFlow?, seconds: Double, now: Double) -> GradientFlowData? {
        guard let g else { return nil }
        if anchor == nil || now - anchorTime >= holdSeconds {
            if anchor != nil { previous = anchor }
            anchor = g; anchorTime = now
        }
        var d = GradientFlowDisplay.data(g, sampling: GradientFlowDisplay.sampling(seconds: seconds))
        if let p = previous {
            let names = d.layers.map(\.name)
            let byName = Dictionary(p.layers.filter { $0.matrix && $0.inUse }.map { ($0.name, $0.gradNorm) }, uniquingKeysWith: { a, _ in a })
            d.previous = names.map { byName[$0] ?? .nan }
            d.previousStep = p.step
        }
        return d
    }
}

enum GradientFlowDisplay {
    static func sampling(seconds: Double) -> String { seconds <= 0 ? "every step" : String(format: "sampled every %g s", seconds) }

    static func flow(_ f: GradientFlow.Figures) -> LayerFlow {
        LayerFlow(name: f.name, gradNorm: f.gradNorm, weightNorm: f.weightNorm, updateRatio: f.updateRatio, inUse: f.inUse)
    }

    /// Table rows per unit, chart columns per conv and linear layer.
    static func data(_ g: GradientFlow, sampling: String) -> GradientFlowData {
        GradientFlowData(step: g.step, units: g.units.map(flow), layers: g.layers.filter(\.matrix).map(flow), sampling: sampling)
    }
}

extension GradientFlowDisplay {
    /// Each earlier run's ‖∇W‖ at its last logged step, per chart layer of `layers` (by name).
    static func overlays(_ runs: [GradientFlow?], layers: [String]) -> [[Double?]] {
        runs.map { g in
            let byName = Dictionary((g?.layers ?? []).filter(\.inUse).map { ($0.name, $0.gradNorm) }, uniquingKeysWith: { a, _ in a })
            return layers.map { byName[$0] }
        }
    }

    /// `nntop view`: the first run's gradient flow at its last logged step, the other runs' as marks.
    static func replay(_ runs: [RunHistory]) -> GradientFlowData? {
        guard let g = runs.first?.gradients.last else { return nil }
        var d = data(g, sampling: "as logged every \(runs[0].config.logEvery) steps")
        d.overlays = overlays(runs.dropFirst().map(\.gradients.last), layers: d.layers.map(\.name))
        return d
    }

    /// `nntop view --text`: the runs' figures at their last logged step side by side, per unit (a ResNet
    /// block's layers together) and per conv / linear layer, input to output.
    static func text(_ runs: [RunHistory]) -> String {
        let flows = runs.map(\.gradients.last)
        guard flows.contains(where: { $0 != nil }) else { return "" }
        func table(_ title: String, _ rows: (GradientFlow) -> [GradientFlow.Figures]) -> String {
            var names: [String] = []
            for f in flows.compactMap({ $0 }) { for r in rows(f) where !names.contains(r.name) { names.append(r.name) } }
            let nameW = max(6, names.map(\.count).max() ?? 6)
            var out = "  \(title)\n"
            func cell(_ a: String, _ b: String, _ c: String, _ d: String) -> String {
                "  " + a.padded(to: 8, right: true) + b.padded(to: 9, right: true) + c.padded(to: 9, right: true) + " " + d.padded(to: 4)
            }
            out += "  " + "".padded(to: nameW) + runs.indices.map { "  " + "run \($0 + 1)".padded(to: 31) }.joined() + "\n"
            out += "  " + "layer".padded(to: nameW) + runs.indices.map { _ in cell("‖∇W‖", "‖W‖", "upd/W", "") }.joined() + "\n"
            for n in names {
                out += "  " + n.padded(to: nameW)
                for f in flows {
                    guard let r = f.flatMap({ rows($0).first { $0.name == n } }) else { out += cell("-", "", "", ""); continue }
                    guard r.inUse else { out += cell("bypassed", "", "", ""); continue }
                    out += cell(GradientFlowPanel.sci(r.gradNorm), GradientFlowPanel.sci(r.weightNorm),
                                GradientFlowPanel.sci(r.updateRatio), UpdateBand(ratio: r.updateRatio)?.word ?? "")
                }
                out += "\n"
            }
            return out
        }
        var out = "gradient flow at each run's last logged step (run 1 = \(runs[0].name)"
        for (i, r) in runs.enumerated().dropFirst() { out += ", run \(i + 1) = \(r.name)" }
        out += "; steps " + flows.map { $0.map { "\($0.step)" } ?? "-" }.joined(separator: ", ") + "):\n"
        out += table("per unit (a block's layers together)") { $0.units }
        out += table("per conv / linear layer") { $0.layers.filter(\.matrix) }
        return out
    }
}

