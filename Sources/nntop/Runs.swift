import ArgumentParser
import Foundation
import Models

struct Runs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the run folders in DIR, newest first: model, data set, residual, epochs, best validation and test accuracy, wall time, state.",
        discussion: """
        A run folder holds config.json and metrics.jsonl (see the README). A run whose log has no \
        end line is "running" while its nntop process lives (it holds the folder's run.lock), else \
        "stopped" (killed); "damaged" is a log with a line that is not a record (nntop view refuses it). \
        A live run's state is asked of it over its control socket: running, paused or diverged, its \
        pid, and the terminals of the dashboards attached to it (nntop attach RUN opens one).
        """,
        aliases: ["ls"])

    @Argument(help: "The folder holding run folders.")
    var dir: String = "runs"

    func run() throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            fail("\(dir): no such folder (runs go to ./runs unless --run-dir says otherwise)")
        }
        let runs = RunSummary.list(in: dir)
        guard !runs.isEmpty else { print("no runs in \(dir)"); return }
        let header = ["RUN", "MODEL", "DATA", "RESIDUAL", "EPOCHS", "BEST VAL", "TEST", "WALL", "STATE"]
        let rows = runs.map { r -> [String] in
            let residual = r.config.hasResidualSwitch ? residualColumn(r) : "-"
            let epochs = r.epochsDone == r.epochsDone.rounded() ? String(format: "%.0f", r.epochsDone)
                                                                  : String(format: "%.1f", r.epochsDone)
            return [r.name, r.config.model, r.config.datasetName, residual, "\(epochs)/\(r.config.epochs)", percent(r.bestValidationAccuracy),
                    percent(r.testAccuracy), duration(r.wallSeconds), r.state == "running" ? liveState(r.path) : r.state]
        }
        let widths = header.indices.map { i in ([header] + rows).map { $0[i].count }.max() ?? 0 }
        for row in [header] + rows {
            let cells = row.enumerated().map { i, c in
                // Names and words left-aligned, numbers right-aligned.
                [0, 1, 2, 3, 8].contains(i) ? c.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                                         : String(repeating: " ", count: widths[i] - c.count) + c
            }
            print(cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
    }

    /// A live run's state as it answers on its control socket: "paused (pid 4242, attached: pts/3)".
    func liveState(_ dir: String) -> String {
        guard let st = ControlClient.status(runDir: dir) else {
            return "running" + (RunLock.holder(directory: dir).map { " (pid \($0))" } ?? "")
        }
        let attached = st.attached.isEmpty ? "" : ", attached: " + st.attached.joined(separator: ", ")
        return "\(st.snapshot.state.rawValue) (pid \(st.run.pid)\(attached))"
    }

    /// "on", or how it ended when `r` toggled it mid-run: "on→off", "on→…→on".
    func residualColumn(_ r: RunSummary) -> String {
        let word = { (on: Bool) in on ? "on" : "off" }
        guard let last = r.residualToggles.last else { return word(r.config.residual) }
        return word(r.config.residual) + (r.residualToggles.count > 1 ? "→…→" : "→") + word(last)
    }

    func percent(_ v: Double?) -> String { v.map { String(format: "%.2f%%", $0) } ?? "-" }

    func duration(_ s: Double) -> String {
        if s < 60 { return String(format: "%.1fs", s) }
        let t = Int(s.rounded())
        return t < 3600 ? String(format: "%dm%02ds", t / 60, t % 60) : String(format: "%dh%02dm", t / 3600, t / 60 % 60)
    }
}
