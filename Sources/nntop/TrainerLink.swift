import Foundation
import Models

/// What a dashboard needs of a training run: its newest snapshot and a way to send it commands.
/// A Trainer in this process is one; a run reached over its control socket (`RemoteTrainer`) is
/// another, so the dashboard's code is the same for both.
protocol TrainerLink: AnyObject {
    func latest() -> TrainingSnapshot
    func send(_ c: TrainerCommand)
    var isFinished: Bool { get }
    var validationCount: Int { get }
    var testCount: Int { get }
}

extension Trainer: TrainerLink {
    var validationCount: Int { data.validation.count }
    var testCount: Int { data.test.count }
}

/// A run in another process (or this one's training child), through its control socket.
final class RemoteTrainer: TrainerLink {
    let client: ControlClient
    init(_ client: ControlClient) { self.client = client }

    /// The snapshot the server sent last; when the connection is lost without the trainer's last
    /// update, the run is shown STOPPED with a message saying so (its process ended or was killed).
    func latest() -> TrainingSnapshot {
        var s = client.latest()
        if !client.isConnected && !client.trainerEnded {
            if s.state == .running || s.state == .paused { s.state = .stopped }
            s.message = "lost the run: its process has ended (q quits)"
            s.messageSerial = -1   // the same message every frame, not a new one
        }
        return s
    }
    func send(_ c: TrainerCommand) { client.send(c) }
    var isFinished: Bool { client.isFinished }
    var validationCount: Int { client.run?.validationCount ?? 0 }
    var testCount: Int { client.run?.testCount ?? 0 }
}
