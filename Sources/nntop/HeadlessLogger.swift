import Foundation
import Models

/// Headless mode: one progress line per log interval, one per evaluation, and one final line.
final class HeadlessLogger {
    let config: TrainConfig
    private var lastLogged = 0
    /// A resumed run: the step it resumed at and the training seconds of its earlier sessions.
    var firstStep = 0, previousSeconds = 0.0
    /// Named on its own line at the end when the run wrote it.
    var lastCheckpoint: String?

    init(config: TrainConfig) { self.config = config }

    func handle(_ event: TrainerEvent) {
        switch event {
        case .progress(let s):
            let window = s.trainLoss.suffix(s.step - lastLogged)
            let accWindow = s.trainAccuracy.suffix(s.step - lastLogged)
            lastLogged = s.step
            let loss = window.map(\.value).reduce(0, +) / Double(max(window.count, 1))
            let acc = accWindow.map(\.value).reduce(0, +) / Double(max(accWindow.count, 1))
            say(String(format: "epoch %d/%d step %d/%d loss %.4f acc %.1f%% lr %@ %.0f samples/s",
                       s.epoch, s.epochs, s.stepInEpoch, s.stepsPerEpoch, loss, acc,
                       formatLR(Float(s.lr)), s.samplesPerSecond))
        case .evaluated(let split, let r, let s):
            say(String(format: "%@ epoch %d step %d loss %.4f acc %.2f%% (%d images)", split, s.epoch, s.step,
                       r.loss, r.accuracy, r.count) + (r.top5Accuracy.map { String(format: " top-5 %.2f%%", $0) } ?? ""))
        case .control(let e):
            say("step \(e.step): \(e.label)")
        case .snapshotSaved(let path):
            say("saved \(path)")
        case .message(let m):
            say(m)
        case .finished(let s):
            // The run's training time (all sessions), as `nntop runs` shows it: not data loading.
            let wall = previousSeconds + s.elapsedSeconds
            if let lastCheckpoint, s.state != .diverged, s.step > 0, FileManager.default.fileExists(atPath: lastCheckpoint) {
                say("saved \(lastCheckpoint)")
            }
            say(trainingRateLine(s, firstStep: firstStep))
            if let t = s.finalTest {
                if let t5 = t.top5Accuracy { say(String(format: "test top-5 accuracy %.2f%%", t5)) }
                say(String(format: "final test_acc=%.2f%% test_loss=%.4f epochs=%d steps=%d wall=%.1fs",
                           t.accuracy, t.loss, s.epoch, s.step, wall))
            } else {
                say(String(format: "final state=%@ epochs=%d steps=%d wall=%.1fs", s.state.rawValue, s.epoch, s.step, wall))
            }
        }
    }

    private func say(_ line: String) {
        print(line)
        fflush(stdout)
    }
}

/// "trained N steps in T s: R samples/s" — this process's steps and the time they took
/// (evaluations, checkpoints and pauses not counted); a resumed run also says where it resumed
/// and how many steps the run has in all.
func trainingRateLine(_ s: TrainingSnapshot, firstStep: Int = 0) -> String {
    let line = String(format: "trained %d steps in %.1f s: %.0f samples/s", s.stepsTrained, s.trainingSeconds,
                      s.trainingSamplesPerSecond)
    return firstStep == 0 ? line : line + " (resumed at step \(firstStep); \(s.step) steps in all)"
}
