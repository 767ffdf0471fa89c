import ArgumentParser
import Foundation
import Models
import TUI

struct View: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show runs on the dashboard, without training: nntop run folders and TensorBoard logs (PyTorch, TensorFlow/Keras, Lightning), live.",
        discussion: """
        The first RUN is shown in full: its loss and accuracy curves with a marker per control \
        action, its events (panel 2) and its final test confusion matrix (panel 4); every further \
        RUN is drawn dimmed behind it, in its own colour, on the same axes. x switches the x axis \
        between steps and epochs (epochs line up runs of different batch or data sizes); q quits.

        A RUN may also be a TensorBoard log directory: a folder of events.out.tfevents.* files (one \
        run), or a tree of them (every folder below holding event files is a run, named by its \
        path, as tensorboard --logdir names them). Then every run is shown by tag: one chart per \
        tag (loss and accuracy first; / filters tags by regex, t steps through tag groups, x goes \
        steps / relative time / wall time), and panel 2 lists each run's last value per tag. The \
        logs are read again every 2 s (only the new bytes); a log is live while a file of it grew \
        in the last 150 s. Damaged records are skipped and counted.

        When stdout is not a terminal (or with --text) it prints each run's summary, events and \
        matrix instead. A RUN that is missing, not a run folder or holds a damaged log is refused \
        with one line naming it; a line cut short by a killed run is skipped.

        Example: nntop view runs/20261126-101500-resnet18 runs/20261126-100200-resnet18-nores
        """)

    @Argument(help: ArgumentHelp("Run folders (each holds config.json and metrics.jsonl), e.g. runs/20261126-101500-lenet5, or TensorBoard log directories.", valueName: "run"))
    var runs: [String]
    @Flag(help: "Print the runs as text instead of the dashboard (automatic when stdout is not a terminal).")
    var text = false
    @OptionGroup var display: DashboardFlags

    func validate() throws {
        guard !runs.isEmpty else { throw ValidationError("name at least one run folder, e.g. nntop view runs/20261126-101500-lenet5 (nntop runs lists them)") }
    }

    func run() throws {
        // Every folder is read, and refused if need be, before the terminal is touched.
        let logs = TensorBoardDisplay(paths: runs)
        if logs.hasLogs { return showLogs(logs) }
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

    /// TensorBoard logs (and any nntop runs beside them), by tag. Followed every 2 s: only the
    /// bytes the files gained are read.
    func showLogs(_ logs: TensorBoardDisplay) {
        if text || !Dashboard.canRun() {
            print(logs.text(), terminator: "")
            return
        }
        var model = logs.model()
        var lastRead = Date()
        let poll = { () -> DashboardModel in
            guard Date().timeIntervalSince(lastRead) >= 2 else { return model }
            lastRead = Date()
            _ = logs.refresh()
            // Rebuilt even when nothing was read: live turns to finished with time alone.
            model = logs.model()
            return model
        }
        let exit = Dashboard.run(options: display.options, poll: poll, send: { _ in "" })
        if let code = exit.signalStatus { Foundation.exit(code) }
    }
}
