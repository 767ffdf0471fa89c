import Foundation
import Models
import TUI

/// Maps the Trainer's snapshots to the dashboard's plain values and the dashboard's actions to
/// Trainer commands: the only code that knows both sides. The same for a run trained in this
/// process and one attached to over its control socket (`TrainerLink`).
final class DashboardBridge {
    let trainer: TrainerLink
    /// Earlier runs drawn behind this one (--compare), and this run's name in their legend.
    let overlays: [OverlayRun]
    let runName: String
    /// A resumed run's earlier sessions, drawn in front of what this session trains.
    let earlier: RunHistory?
    private var smoothedForward: [Double] = [], smoothedBackward: [Double] = []
    private var lastStep = -1
    private var gradientFlow = GradientFlowTracker()
    /// The compared runs' gradient flow at their last logged step (--compare), drawn as marks.
    var overlayGradients: [GradientFlow?] = []

    init(trainer: TrainerLink, overlays: [OverlayRun] = [], runName: String = "", earlier: RunHistory? = nil) {
        self.trainer = trainer; self.overlays = overlays; self.runName = runName; self.earlier = earlier
    }

    func model() -> DashboardModel {
        let s = earlier.map { trainer.latest().continuing($0) } ?? trainer.latest()
        if s.step != lastStep {
            lastStep = s.step
            // Layer times: an exponential average over steps, so the bars are readable.
            if smoothedForward.count != s.forwardMs.count { smoothedForward = s.forwardMs; smoothedBackward = s.backwardMs }
            else {
                for i in s.forwardMs.indices {
                    smoothedForward[i] = 0.9 * smoothedForward[i] + 0.1 * s.forwardMs[i]
                    smoothedBackward[i] = 0.9 * smoothedBackward[i] + 0.1 * s.backwardMs[i]
                }
            }
        }
        let stepsPerSecond = s.samplesPerSecond / Double(max(1, s.batchSize))
        let eta = stepsPerSecond > 0 && s.state == .running ? Double(s.totalSteps - s.step) / stepsPerSecond : nil
        let names = s.classNames
        func name(_ i: Int) -> String { names.indices.contains(i) ? names[i] : String(i) }
        // A prediction's pixels are one test image as stored: channel-planar planes of height×width bytes.
        func sample(_ d: DigitPrediction) -> SampleImage {
            SampleImage(width: d.width, height: d.height, channels: d.channels, pixels: d.pixels,
                        label: name(d.label), predicted: name(d.prediction.predicted),
                        confidence: Double(d.prediction.confidence), correct: d.label == d.prediction.predicted)
        }
        var m = DashboardModel(
            model: s.model, residual: s.residual, state: Self.state(s.state),
            epoch: s.epoch, epochs: s.epochs, step: s.step, totalSteps: s.totalSteps, etaSeconds: eta,
            lr: s.lr, samplesPerSecond: s.samplesPerSecond, threads: s.threads,
            trainLoss: RunDisplay.points(s.trainLoss), trainAcc: RunDisplay.points(s.trainAccuracy),
            valAcc: RunDisplay.points(s.validationAccuracy), testAcc: RunDisplay.points(s.testAccuracy),
            // A training point is one batch; evaluations cover the whole split.
            accuracySamples: AccuracySamples(train: s.batchSize, validation: trainer.validationCount, test: trainer.testCount),
            markers: s.events.map { Marker(step: $0.step, label: $0.label) },
            layers: zip(s.layerNames, zip(smoothedForward, smoothedBackward)).map {
                LayerTiming(name: $0.0, forwardMs: $0.1.0, backwardMs: $0.1.1)
            },
            samples: s.digits.map(sample), mistakes: s.mistakes.map(sample), classNames: names,
            confusion: s.confusion, status: s.message,
            stepsPerEpoch: s.stepsPerEpoch, overlays: overlays, runName: runName)
        m.statusSerial = s.messageSerial
        // A finished run's header keeps its throughput: the average over the steps this process trained.
        if m.state == .done && s.stepsTrained > 0 {
            m.samplesPerSecond = s.trainingSamplesPerSecond; m.samplesPerSecondIsAverage = true
        }
        m.valTop5 = RunDisplay.points(s.validationTop5); m.testTop5 = RunDisplay.points(s.testTop5)
        m.gradientFlow = gradientFlow.update(s.gradients, seconds: s.gradientSeconds, now: monotonicSeconds())
        if let layers = m.gradientFlow?.layers.map(\.name), !overlayGradients.isEmpty {
            m.gradientFlow?.overlays = GradientFlowDisplay.overlays(overlayGradients, layers: layers)
        }
        return m
    }

    static func state(_ s: TrainerState) -> RunState {
        switch s {
        case .running: .running
        case .paused: .paused
        case .done, .stopped: .done
        case .diverged: .diverged
        }
    }

    /// Turns a key's action into a command; the returned text confirms it in the status line until
    /// the trainer's own message (the LR that resulted, or why nothing changed) replaces it. Nothing
    /// here is computed from the snapshot's values: they may be stale by several key presses.
    func send(_ action: DashboardAction) -> String {
        let s = trainer.latest()
        let finished = trainer.isFinished
        switch action {
        case .quit:
            return "quitting"
        case _ where finished:
            return "the run has ended (q quits)"
        case .togglePause:
            trainer.send(.togglePause)
            // Only for the wording: the trainer toggles whatever state it is in when the command arrives.
            switch s.state {
            case .diverged: return "going back to the last good weights"
            case .paused: return "resuming"
            default: return "pausing at the next step"
            }
        case .scaleLR(let k):
            trainer.send(.scaleLR(Float(k)))
            return k > 1 ? "doubling the LR" : "halving the LR"
        case .setLR(let lr):
            // A typed LR is checked at once (the range needs no state); the trainer checks again.
            guard lr.isFinite, Trainer.lrRange.contains(Float(lr)) else { return "LR \(lr) refused: \(Trainer.lrRangeMessage)" }
            trainer.send(.setLR(Float(lr)))
            return "setting the LR to \(formatLR(Float(lr)))"
        case .toggleResidual:
            guard s.residual != nil else { return "\(s.model) has no residual connections" }
            trainer.send(.toggleResidual)
            return "switching residual connections at the next step"
        case .snapshot:
            trainer.send(.snapshot)
            return "saving a checkpoint at the next step"
        case .evaluate:
            guard trainer.validationCount > 0 else { return Trainer.noValidationMessage }
            trainer.send(.evaluate)
            return "evaluating on the validation set"
        }
    }
}
