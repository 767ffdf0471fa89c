import ArgumentParser
import Foundation
import Models

/// `nntop stop|pause|resume|snap|lr RUN`: one command to a running training through its control
/// socket, for scripts. Each waits (at most --timeout seconds) until the trainer has applied it and
/// prints the outcome in one line; exit 1 with one line when the run is not live or does not answer.
struct RunTarget: ParsableArguments {
    @Argument(help: ArgumentHelp("The run folder (or its name under ./runs).", valueName: "run"), completion: .directory)
    var run: String
    @Option(help: "Seconds to wait for the run to apply the command (an evaluation in progress finishes first).")
    var timeout: Double = 60

    /// The run, connected to as a script; exits with one line when that is not possible.
    func connect() -> (ControlClient, String) {
        let dir = RunFolders.resolve(run)
        do { return (try ControlClient(runDir: dir, role: "script"), dir) } catch { fail("\(error)") }
    }

    /// Sends `command`, waits until `applied` holds for the run's snapshot (or it ends), returns it.
    func apply(_ command: TrainerCommand, until applied: (TrainingSnapshot, TrainingSnapshot) -> Bool) -> (ControlClient, String, TrainingSnapshot) {
        let (client, dir) = connect()
        let before = client.latest()
        if client.trainerEnded { fail("\(dir): the run has ended (\(before.state.rawValue) at step \(before.step))") }
        guard client.send(command) else { fail("\(dir): the run hung up") }
        guard client.wait(timeout: timeout, until: { applied(before, $0) }) else {
            if !client.isConnected { fail("\(dir): the run ended before applying it") }
            fail("\(dir): sent, but not applied within \(Int(timeout)) s (is it evaluating?)")
        }
        return (client, dir, client.latest())
    }
}

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop a running training at its next step: it writes last.safetensors and its end line, as q does.")
    @OptionGroup var target: RunTarget

    func run() throws {
        let (client, dir) = target.connect()
        if client.trainerEnded { fail("\(dir): the run has ended already") }
        client.send(.stop)
        guard client.wait(timeout: target.timeout, until: { _ in client.trainerEnded }) else {
            fail("\(dir): asked to stop, still running after \(Int(target.timeout)) s")
        }
        let s = client.latest()
        let last = dir + "/checkpoints/last.safetensors"
        let saved = FileManager.default.fileExists(atPath: last) ? "; saved \(last)" : ""
        print("stopped at epoch \(s.epoch) step \(s.step)/\(s.totalSteps)\(saved)")
    }
}

struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Pause a running training (nntop resume goes on).")
    @OptionGroup var target: RunTarget

    func run() throws {
        let (_, _, s) = target.apply(.pause) { _, now in now.state != .running }
        print(s.state == .paused ? "paused at step \(s.step)" : "not paused: the run is \(s.state.rawValue) at step \(s.step)")
    }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Resume a paused training (a diverged one goes back to its last good weights, as p does).")
    @OptionGroup var target: RunTarget

    func run() throws {
        let (_, _, s) = target.apply(.resume) { before, now in now.state != before.state || before.state == .running }
        print("\(s.state.rawValue) at step \(s.step)")
    }
}

struct LR: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lr", abstract: "Set a running training's learning rate from its next step (as l does).")
    @OptionGroup var target: RunTarget
    @Argument(help: "The learning rate.")
    var value: Float

    func run() throws {
        guard value.isFinite, Trainer.lrRange.contains(value) else { fail("LR \(formatLR(value)) refused: \(Trainer.lrRangeMessage)") }
        // The trainer answers with the LR that resulted (or why not): the message that follows the command.
        let (_, _, s) = target.apply(.setLR(value)) { before, now in now.messageSerial != before.messageSerial }
        print(s.message)
    }
}

struct Snap: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Save a checkpoint of a running training now (as s does); prints the file.")
    @OptionGroup var target: RunTarget

    func run() throws {
        let (_, _, s) = target.apply(.snapshot) { before, now in now.messageSerial != before.messageSerial }
        print(s.message)
        if !s.message.hasPrefix("saved") && !s.message.hasPrefix("nothing new") { throw ExitCode(1) }
    }
}
