import ArgumentParser
import Foundation
import Models
import TUI

struct View: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show finished runs on the dashboard, without training: curves, events, final confusion matrix.",
        discussion: """
        The first RUN is shown in full: its loss and accuracy curves with a marker per control \
        action, its events (panel 2) and its final test confusion matrix (panel 4); every further \
        RUN is drawn dimmed behind it, in its own colour, on the same axes. x switches the x axis \
        between steps and epochs (epochs line up runs of different batch or data sizes); q quits.

        When stdout is not a terminal (or with --text) it prints each run's summary, events and \
        matrix instead. A RUN that is missing, not a run folder or holds a damaged log is refused \
        with one line naming it; a line cut short by a killed run is skipped.

        Example: nntop view runs/20261126-101500-resnet18 runs/20261126-100200-resnet18-nores
        """)

    @Argument(help: ArgumentHelp("Run folders (each holds config.json and metrics.jsonl), e.g. runs/20261126-101500-lenet5.", valueName: "run"))
    var runs: [String]
    @Flag(help: "Print the runs as text instead of the dashboard (automatic when stdout is not a terminal).")
    var text = false
    @OptionGroup var display: DashboardFlags

    func validate() throws {
        guard !runs.isEmpty else { throw ValidationError("name at least one run folder, e.g. nntop view runs/20261126-101500-lenet5 (nntop runs lists them)") }
    }

    func run() throws {
        // Every folder is read, and refused if need be, before the terminal is touched.
        let histories = RunDisplay.load(runs)
        if text || !Dashboard.canRun() {
            print(RunDisplay.text(histories), terminator: "")
            return
        }
        // A run still being written (a headless run under nohup, say) is read again every 2 s, so
        // `nntop view` can watch it live; a read that fails mid-write keeps the previous frame.
        var current = histories
        var model = RunDisplay.replayModel(current)
        var lastRead = Date()
        let poll = { () -> DashboardModel in
            guard current.contains(where: { $0.summary.state == "running" }), Date().timeIntervalSince(lastRead) >= 2 else { return model }
            lastRead = Date()
            if let again = try? current.map({ try RunHistory(directory: $0.path) }) {
                current = again
                model = RunDisplay.replayModel(again)
            }
            return model
        }
        // In view the dashboard answers the training keys itself (nothing trains here); only q comes through.
        let exit = Dashboard.run(options: display.options, poll: poll, send: { _ in "" })
        if let code = exit.signalStatus { Foundation.exit(code) }
    }
}
