import Foundation
import Models
import TUI

/// Turns run folders read back (`RunHistory`) into the dashboard's plain values and the text
/// summary: shared by `nntop view` and `--compare`.
enum RunDisplay {
    /// Reads every folder, or exits with one line naming the first that is not a readable run.
    /// Runs before any terminal setup, so a bad path never leaves the screen in curses mode.
    static func load(_ paths: [String]) -> [RunHistory] {
        paths.map { path in
            do { return try RunHistory(directory: path) } catch { fail("\(error)") }
        }
    }

    /// A curve as the dashboard's points (x the step), for live snapshots and runs read back alike.
    static func points(_ c: [CurvePoint]) -> [SeriesPoint] { c.map { SeriesPoint(x: Double($0.step), y: $0.value) } }

    /// The legend's name: the folder's name, plus the model and "nores" when the name does not
    /// already say them (a --run-dir name such as "baseline").
    static func legendName(_ h: RunHistory) -> String {
        var tags: [String] = []
        if !h.name.contains(h.config.model) { tags.append(h.config.model) }
        if h.config.hasResidualSwitch && !h.config.residual && !h.name.contains("nores") { tags.append("nores") }
        return tags.isEmpty ? h.name : "\(h.name) (\(tags.joined(separator: ", ")))"
    }

    /// "resnet18 residual off · done · 2/2 epochs · step 40 · best val 97.10% · test 97.35% · 12.3s"
    static func summary(_ h: RunHistory) -> String {
        let s = h.summary
        var parts = [h.config.model + (h.config.hasResidualSwitch ? " residual \(h.config.residual ? "on" : "off")" : ""), s.state]
        let epochs = s.epochsDone == s.epochsDone.rounded() ? String(format: "%.0f", s.epochsDone) : String(format: "%.1f", s.epochsDone)
        parts.append("\(epochs)/\(h.config.epochs) epochs")
        parts.append("step \(s.lastStep)")
        if let v = s.bestValidationAccuracy { parts.append(String(format: "best val %.2f%%", v)) }
        if let t = s.testAccuracy { parts.append(String(format: "test %.2f%%", t)) }
        parts.append(s.wallSeconds < 60 ? String(format: "%.1fs", s.wallSeconds) : Fmt.duration(s.wallSeconds))
        return parts.joined(separator: " · ")
    }

    static func overlay(_ h: RunHistory) -> OverlayRun {
        OverlayRun(name: legendName(h), summary: summary(h), stepsPerEpoch: h.stepsPerEpoch ?? 0,
                   trainLoss: points(h.trainLoss), trainAcc: points(h.trainAccuracy),
                   valAcc: points(h.validationAccuracy), testAcc: points(h.testAccuracy))
    }

    static func state(_ s: String) -> RunState {
        switch s {
        case "running": .running
        case "stopped": .stopped
        case "diverged": .diverged
        default: .done
        }
    }

    /// The state the header shows: the summary's, except that a live run whose last pause/resume
    /// event is a pause is PAUSED.
    static func state(_ h: RunHistory) -> RunState {
        let st = state(h.summary.state)
        guard st == .running, h.events.last(where: { $0.label == "pause" || $0.label == "resume" })?.label == "pause" else { return st }
        return .paused
    }

    /// A live run's time to its last step, from the log's newest training line: its throughput
    /// (samples/s, the same figure the live dashboard's ETA uses) over the batch size. nil when
    /// the run is not training (finished, paused) or the log has no throughput yet: the header
    /// then shows no ETA.
    static func eta(_ h: RunHistory, state: RunState, totalSteps: Int) -> Double? {
        guard state == .running, let rate = h.samplesPerSecond.last?.value, rate > 0, h.config.batchSize > 0 else { return nil }
        return Double(max(0, totalSteps - h.summary.lastStep)) * Double(h.config.batchSize) / rate
    }

    /// The status line of `nntop view`: what is shown, in words that match the header's state.
    static func viewNote(_ runs: [RunHistory], first: RunState) -> String {
        let what: String
        switch (runs.count, first) {
        case (1, .running), (1, .paused): what = "a live run, its log read again every 2 s"
        case (1, _): what = "a finished run read from its folder"
        case (_, .running), (_, .paused): what = "\(runs.count) runs from their folders, the first live (read again every 2 s)"
        default: what = "\(runs.count) finished runs from their folders"
        }
        return what + "; x steps/epochs, q quits"
    }

    /// The frame `nntop view` shows: the first run with its markers and final matrix, the others
    /// overlaid.
    static func replayModel(_ runs: [RunHistory]) -> DashboardModel {
        let h = runs[0], s = h.summary
        // The residual flag the run ended with: its last toggle, else its option.
        let lastToggle = h.events.last { $0.label == "res on" || $0.label == "res off" }
        let residual = h.config.hasResidualSwitch ? (lastToggle.map { $0.label == "res on" } ?? h.config.residual) : nil
        let spe = h.stepsPerEpoch ?? 0
        let st = state(h)
        let total = spe > 0 ? spe * h.config.epochs : s.lastStep
        var notes = [viewNote(runs, first: st)]
        // A done run's header shows its average throughput, as the live dashboard does at the end.
        let average = st == .done ? h.averageSamplesPerSecond : nil
        let skipped = runs.filter { $0.skippedLines > 0 }.map { "\($0.name) (\($0.skippedLines))" }
        if !skipped.isEmpty { notes.append("cut-off log lines skipped: " + skipped.joined(separator: ", ")) }
        return DashboardModel(
            model: h.config.model, residual: residual, state: st,
            epoch: Int(s.epochsDone.rounded(.up)), epochs: h.config.epochs,
            step: s.lastStep, totalSteps: total, etaSeconds: eta(h, state: st, totalSteps: total),
            lr: h.learningRate.last?.value ?? Double(h.config.lr),
            samplesPerSecond: average ?? h.samplesPerSecond.last?.value ?? 0,
            threads: h.config.threads,
            trainLoss: points(h.trainLoss), trainAcc: points(h.trainAccuracy),
            valAcc: points(h.validationAccuracy), testAcc: points(h.testAccuracy),
            // A logged training accuracy averages the log interval's batches; the test set's size is
            // what its final matrix adds up to (unknown without one: two decimals).
            accuracySamples: AccuracySamples(train: h.config.logEvery * h.config.batchSize, validation: h.config.valSize,
                                             test: h.confusion.map { $0.joined().reduce(0, +) } ?? 0),
            markers: h.events.map { Marker(step: $0.step, label: $0.label) },
            confusion: h.confusion, status: notes.joined(separator: "; "),
            stepsPerEpoch: spe, overlays: runs.dropFirst().map(overlay),
            runName: legendName(h), runSummary: summary(h), replay: true)
            .withGradientFlow(GradientFlowDisplay.replay(runs))
            .withAverageThroughput(average != nil)
    }

    /// The plain-text form of `nntop view` (stdout not a terminal, or --text).
    static func text(_ runs: [RunHistory]) -> String {
        var out = ""
        for h in runs {
            // The folder as given (its name is its last part; the summary below names the model).
            out += "\(h.path)\n"
            out += "  \(summary(h))\n"
            if h.skippedLines > 0 { out += "  \(h.skippedLines) cut-off line(s) of metrics.jsonl skipped\n" }
            out += "  events: " + (h.events.isEmpty ? "none" : h.events.map { "step \($0.step) \($0.label)" }.joined(separator: ", ")) + "\n"
            if let m = h.confusion {
                out += "  final test confusion matrix (rows true class, columns predicted):\n"
                let w = max(4, String(m.joined().max() ?? 0).count + 1)
                out += "     " + (0..<m.count).map { String(repeating: " ", count: w - 1) + "\($0)" }.joined() + "\n"
                for (r, row) in m.enumerated() {
                    out += "  \(r) |" + row.map { String(repeating: " ", count: max(0, w - String($0).count)) + "\($0)" }.joined() + "\n"
                }
            } else {
                out += "  final confusion matrix: none in the log (the run did not finish, or it predates nntop view)\n"
            }
            out += "\n"
        }
        return out + GradientFlowDisplay.text(runs)
    }
}

extension DashboardModel {
    func withGradientFlow(_ g: GradientFlowData?) -> DashboardModel { var m = self; m.gradientFlow = g; return m }
    func withAverageThroughput(_ isAverage: Bool) -> DashboardModel { var m = self; m.samplesPerSecondIsAverage = isAverage; return m }
}
