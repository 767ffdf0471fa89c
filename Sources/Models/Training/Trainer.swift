import Foundation
import Kernels

/// What the UI (or a script) asks of a running Trainer; applied in order between two steps.
/// Commands carry intent ("halve the LR"), never a value computed from a snapshot the sender may
/// hold stale: the Trainer applies each to its own current values and owns their valid range.
public enum TrainerCommand: Equatable, Sendable {
    case pause, resume
    /// Pauses a running run, resumes a paused one, rolls a diverged one back (`p`).
    case togglePause
    /// Sets the LR in effect from the next step (the schedule goes on from it, scaled).
    case setLR(Float)
    /// Multiplies the LR in effect by this factor: 2 doubles it, 0.5 halves it.
    case scaleLR(Float)
    case setResidual(Bool), toggleResidual, snapshot, evaluate, stop
}

public enum TrainerState: String, Codable { case running, paused, done, diverged, stopped }

/// A point of a curve: x is the global step.
public struct CurvePoint: Equatable { public var step: Int; public var value: Double }

/// A control action as it happened, for markers on the curves and the metrics log.
public struct ControlEvent: Equatable { public var step: Int; public var label: String }

/// One test image and the model's latest prediction for it (any size and channel count).
public struct DigitPrediction {
    /// The image as stored: `channels` planes of height × width bytes (MNIST: one 28×28 plane).
    public var pixels: [UInt8]
    public var label: Int
    public var prediction: Prediction
    public var channels = 1, height = 28, width = 28
    public init(pixels: [UInt8], label: Int, prediction: Prediction, channels: Int = 1, height: Int = 28, width: Int = 28) {
        self.pixels = pixels; self.label = label; self.prediction = prediction
        self.channels = channels; self.height = height; self.width = width
    }
}

/// Everything the dashboard shows, published after every step behind a lock.
public struct TrainingSnapshot {
    public var model: String
    public var residual: Bool?
    public var state: TrainerState = .running
    public var step = 0, totalSteps = 0, epoch = 0, epochs = 0, stepInEpoch = 0, stepsPerEpoch = 0
    public var loss: Double = .nan, batchAccuracy: Double = .nan
    /// The LR in effect: that of the latest step, or the one the next step uses once set.
    public var lr: Double = 0
    /// The schedule's base: `lr` is it scaled by the schedule (equal with a constant schedule).
    public var baseLR: Double = 0
    public var batchSize = 0
    /// Training throughput over the latest ≥ 0.5 s of step time (0 while paused or diverged). In a
    /// `.progress` event's snapshot: over the steps since the previous progress event.
    public var samplesPerSecond: Double = 0
    public var elapsedSeconds: Double = 0
    /// Steps trained by this process, and the time they took (evaluations, checkpoints and pauses
    /// not counted): the final throughput is their ratio.
    public var stepsTrained = 0, trainingSeconds: Double = 0
    public var trainingSamplesPerSecond: Double { Double(stepsTrained * batchSize) / max(trainingSeconds, 1e-9) }
    public var threads = 1
    public var layerNames: [String] = []
    public var forwardMs: [Double] = [], backwardMs: [Double] = []
    public var trainLoss: [CurvePoint] = [], trainAccuracy: [CurvePoint] = []
    public var validationAccuracy: [CurvePoint] = [], validationLoss: [CurvePoint] = []
    public var testAccuracy: [CurvePoint] = []
    /// Top-5 accuracies of the same evaluations (empty with 5 classes or fewer).
    public var validationTop5: [CurvePoint] = [], testTop5: [CurvePoint] = []
    /// The classes' names in class order (the confusion matrix's rows and columns, the samples' labels).
    public var classNames: [String] = []
    /// The network's input, [C, H, W].
    public var inputShape: [Int] = []
    /// The data set's name (mnist, cifar10, …).
    public var dataset = ""
    public var events: [ControlEvent] = []
    public var digits: [DigitPrediction] = []
    public var mistakes: [DigitPrediction] = []
    public var confusion: [[Int]]? = nil
    public var message = "" { didSet { messageSerial &+= 1 } }
    /// Counts messages, so one repeated word for word still reads as new.
    public var messageSerial = 0
    public var finalTest: EvaluationResult? = nil
    /// Per-layer gradient and weight norms and update ratios of the newest measured step (GradientFlow.swift).
    public var gradients: GradientFlow? = nil
    /// Seconds of training between two measured steps besides every logged step (0: every step).
    public var gradientSeconds = 0.0
}

/// What the headless logger hears, on the trainer's queue.
public enum TrainerEvent {
    case progress(TrainingSnapshot)
    case evaluated(split: String, result: EvaluationResult, snapshot: TrainingSnapshot)
    case control(ControlEvent)
    case snapshotSaved(path: String)
    case message(String)
    case finished(TrainingSnapshot)
}

/// Trains a model on a background queue, publishing a snapshot after every step and taking commands
/// between steps. The only traffic with the UI thread: `latest()` and `send(_:)`.
public final class Trainer {
    public let config: TrainConfig
    public let network: Network
    public let optimizer: Optimizer
    public let data: DataSplits
    public var onEvent: ((TrainerEvent) -> Void)?
    /// Where checkpoints go: `s` snapshots, --save-every, best.safetensors and last.safetensors
    /// (nil: none are written).
    public var checkpointDirectory: String?
    /// Best validation accuracy so far (best.safetensors holds those weights).
    public private(set) var bestValidationAccuracy: Double = -1
    /// A mean cross-entropy this high gives the right class e^-10000: the weights have blown up even
    /// when the loss stays finite (an overflowed update can kill every ReLU instead of making NaNs).
    static let divergedLoss: Float = 1e4
    /// Dashboard runs: a diverged run waits in the DIVERGED state instead of ending, so the user can
    /// lower the LR and go back to the last good weights (headless runs stop: nobody is watching).
    public var pauseOnDivergence = false
    /// The newest checkpoint written from healthy weights: where a diverged run goes back to.
    private var lastGoodCheckpoint: String?
    /// Every LR a run may use: --lr, `l`, `+` and `-` (and any other sender of commands) are held to it.
    public static let lrRange: ClosedRange<Float> = 1e-8...1000
    /// The one explanation of `lrRange`, for every place that refuses an LR.
    public static let lrRangeMessage = "a learning rate must be between \(formatLR(lrRange.lowerBound)) and \(formatLR(lrRange.upperBound))"
    /// Sample predictions are recomputed from the current weights this often (seconds of wall time).
    public var digitRefreshSeconds = 3.0
    /// Gradient-flow figures are measured at every logged step and besides once this many seconds of
    /// training have passed since the last measured step (0: every step). Measuring every step costs
    /// LeNet-5 about 2 % of a step (BENCHMARKS.md), so the dashboard samples: about 0.1 ms per 0.25 s (0.04 %).
    public var gradientSeconds = 0.25 { didSet { current.gradientSeconds = gradientSeconds } }
    private lazy var gradientGroups = GradientGroups(network)
    private var lastMeasured = -Double.infinity
    /// Bumped by whatever changes a checkpoint's contents at a given step (LR, residual, roll-back).
    private var changes = 0
    /// The step-N checkpoints written at `step` while `changes` was as recorded: an `s` with nothing
    /// new since is folded into the newest of them instead of writing the same weights again.
    private var stepFiles: (step: Int, changes: Int, names: [String])?

    private let lock = NSLock()
    private let wake = NSCondition()
    private var commands: [TrainerCommand] = []
    private var published: TrainingSnapshot
    private var current: TrainingSnapshot
    private let queue = DispatchQueue(label: "nntop.trainer", qos: .userInitiated)
    private let finished = DispatchSemaphore(value: 0)
    /// The LR the user set; the schedule scales it.
    private var baseLR: Float
    private let sampleItems: [Int]
    /// Where training starts: (1, 0) for a new run, later for a resumed one.
    private var startEpoch = 1, startStepInEpoch = 0
    /// Set when --stop-at-acc's test accuracy has been reached: the run ends at the next step.
    private var targetReached = false
    /// The latest --stop-at-acc test evaluation and the step it was made at.
    private var lastTest: (Int, EvaluationResult)?

    public init(config: TrainConfig, data: DataSplits) throws {
        guard let net = ModelZoo.make(config.model, inChannels: data.spec.channels, classes: data.spec.classes,
                                      residual: config.residual, seed: config.seed) else {
            throw DataError("unknown model \(config.model); choose one of \(ModelZoo.names.joined(separator: ", "))")
        }
        guard let kind = OptimizerKind(rawValue: config.optimizer) else {
            throw DataError("unknown optimizer \(config.optimizer); choose one of \(OptimizerKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard config.lr.isFinite, Self.lrRange.contains(config.lr) else {
            throw DataError("--lr \(formatLR(config.lr)) refused: \(Self.lrRangeMessage)")
        }
        guard data.train.count >= config.batchSize else {
            throw DataError("--batch-size \(config.batchSize) is larger than the \(data.train.count) training images")
        }
        self.config = config; self.data = data; network = net
        baseLR = config.lr
        optimizer = Optimizer(kind, parameters: net.parameters, lr: config.lr, momentum: config.momentum,
                              weightDecay: config.weightDecay)
        var s = TrainingSnapshot(model: config.model)
        s.residual = net.residual
        s.epochs = config.epochs
        s.stepsPerEpoch = data.train.count / config.batchSize
        s.totalSteps = s.stepsPerEpoch * config.epochs
        s.threads = config.threads
        // The LR the first step uses (a warmup starts below --lr).
        s.lr = Double(config.lr * LRSchedule(config, stepsPerEpoch: s.stepsPerEpoch).factor(step: 0))
        s.baseLR = Double(config.lr)
        s.batchSize = config.batchSize
        s.layerNames = net.units.map(\.name)
        s.classNames = data.spec.classNames
        s.inputShape = data.spec.inputShape
        s.dataset = data.spec.dataset
        s.gradientSeconds = gradientSeconds
        current = s; published = s
        sampleItems = Array(0..<min(24, data.test.count))
    }

    /// The newest published snapshot (cheap: arrays are shared, not copied).
    public func latest() -> TrainingSnapshot { lock.lock(); defer { lock.unlock() }; return published }

    /// Queues a command for the next step boundary (wakes a paused trainer).
    public func send(_ c: TrainerCommand) {
        wake.lock(); commands.append(c); wake.signal(); wake.unlock()
    }

    /// Starts training on the background queue.
    public func start() { queue.async { self.run() } }

    /// Blocks until the run has ended.
    public func wait() { finished.wait(); finished.signal() }

    /// The same, for at most `seconds`: false if the run is still going.
    public func wait(timeout seconds: Double) -> Bool {
        guard finished.wait(timeout: .now() + seconds) == .success else { return false }
        finished.signal()
        return true
    }

    /// True once run() has returned (a dashboard run that diverged is waiting, not finished).
    public var isFinished: Bool { lock.lock(); defer { lock.unlock() }; return ended }
    private var ended = false

    private func publish() { lock.lock(); published = current; lock.unlock() }
    private func emit(_ e: TrainerEvent) { onEvent?(e) }

    /// The run's LR schedule (LRSchedule.swift): a factor per step, from the step count alone.
    public var schedule: LRSchedule { LRSchedule(config, stepsPerEpoch: current.stepsPerEpoch) }

    /// The schedule's factor for the step after `step` steps.
    private func scheduleFactor(step: Int) -> Float { schedule.factor(step: step) }

    private func scheduledLR(step: Int) -> Float { baseLR * scheduleFactor(step: step) }

    /// Makes `lr` the LR in effect from the next step (if `lrRange` allows it); the schedule goes on
    /// from it, so its base becomes `lr` over the schedule's current factor: every later step's LR is
    /// `lr` times how much the schedule has moved since (a milestone still multiplies it by γ, the
    /// cosine still decays it, a warmup still raises it: `lr` at 10 % of the warmup ends it at 10 × `lr`).
    private func setLR(_ lr: Float) {
        let old = scheduledLR(step: current.step)
        guard lr.isFinite, Self.lrRange.contains(lr) else {
            current.message = "LR \(formatLR(lr)) refused: \(Self.lrRangeMessage) (LR stays \(formatLR(old)))"
            return
        }
        let f = scheduleFactor(step: current.step)
        let base = f > 0 ? lr / f : lr
        // A warmup (or a γ above 1) raises the LR later: the LR it would reach is held to the range too.
        let peak = base * schedule.peakFactor(from: current.step)
        guard peak.isFinite, peak <= Self.lrRange.upperBound * (1 + 1e-6) else {
            current.message = "LR \(formatLR(lr)) refused: the schedule would raise it to \(formatLR(peak)) later, and \(Self.lrRangeMessage) (LR stays \(formatLR(old)))"
            return
        }
        baseLR = base
        current.baseLR = Double(baseLR)
        optimizer.lr = lr
        current.lr = Double(lr)
        changes += 1
        mark("lr \(formatLR(lr))")
        current.message = "LR \(formatLR(old)) → \(formatLR(lr))"
    }

    private var runStart = 0.0

    private func run() {
        Parallel.maxThreads = max(1, config.threads)
        let start = monotonicSeconds()
        runStart = start
        let b = config.batchSize
        let x = Tensor(shape: [b] + data.spec.inputShape)
        let augmentation = config.augmentation
        let labels = UnsafeMutablePointer<Int32>.allocate(capacity: b)
        defer { labels.deallocate() }
        // Throughput counts step time only (evaluations, checkpoints, digits and pauses left out):
        // the header's window of at least 0.5 s, and the interval since the previous progress event.
        var windowSeconds = 0.0, windowSamples = 0, logSeconds = 0.0, logSamples = 0
        var lastDigits = start
        var lossEMA: Double = .nan
        var stopped = false
        refreshDigits()
        training: for epoch in startEpoch...max(startEpoch, config.epochs) where epoch <= config.epochs {
            var rng = SeededRandom(seed: config.seed &* 0x9E37_79B9 &+ UInt64(epoch))
            var order = Array(0..<data.train.count)
            order.shuffle(using: &rng)
            current.epoch = epoch
            let first = epoch == startEpoch ? startStepInEpoch : 0
            // s moves on only when a step is taken: after a divergence the same batch is tried again.
            var s = first
            while s < current.stepsPerEpoch {
                if targetReached { break training }
                if handleCommands() { stopped = true; break training }
                optimizer.lr = scheduledLR(step: current.step)
                let stepStart = monotonicSeconds()
                data.train.fill(items: order[s * b..<(s + 1) * b], x: x, labels: labels,
                                augmentation: augmentation, epoch: epoch, firstPosition: s * b)
                // Forward, loss and backward (gradients of a diverged step are never applied); the
                // step picks the dropout masks, so a resumed run draws the ones it would have.
                network.step = current.step
                let ce = network.trainStep(x, labels: labels)
                guard ce.loss.isFinite && ce.loss < Self.divergedLoss else {
                    current.state = .diverged
                    current.samplesPerSecond = 0
                    windowSeconds = 0; windowSamples = 0
                    // The step count (as on the progress bar) is that of the last good step.
                    let what = String(format: "loss %.3g after step %d: the run diverged", Double(ce.loss), current.step)
                    guard pauseOnDivergence else {
                        current.message = "\(what); try a lower --lr (now \(formatLR(optimizer.lr)))"
                        publish(); emit(.message(current.message))
                        break training
                    }
                    let back = lastGoodCheckpoint.map { ($0 as NSString).lastPathComponent } ?? "the initial weights"
                    mark("diverged")
                    current.message = "\(what). Lower the LR (-), p goes back to \(back), q quits"
                    publish(); emit(.message(current.message))
                    // Waits here until the user rolls back (p) or quits.
                    if handleCommands() { stopped = true; break training }
                    continue
                }
                let next = current.step + 1
                optimizer.measure = next % config.logEvery == 0 || stepStart - lastMeasured >= gradientSeconds
                if optimizer.measure { lastMeasured = stepStart }
                optimizer.step()
                let now = monotonicSeconds()
                let stepSeconds = now - stepStart
                current.step += 1; current.stepInEpoch = s + 1
                if optimizer.measure {
                    current.gradients = gradientGroups.figures(optimizer.measured, inUse: optimizer.parameters.map(\.inUse), step: current.step)
                }
                s += 1
                current.stepsTrained += 1; current.trainingSeconds += stepSeconds
                windowSamples += b; windowSeconds += stepSeconds
                logSamples += b; logSeconds += stepSeconds
                // The first step after a start, a pause or a divergence gives a figure at once.
                if windowSeconds >= 0.5 || current.samplesPerSecond == 0 {
                    current.samplesPerSecond = Double(windowSamples) / max(windowSeconds, 1e-9)
                    windowSeconds = 0; windowSamples = 0
                }
                current.loss = Double(ce.loss); current.batchAccuracy = 100 * Double(ce.correct) / Double(b)
                lossEMA = lossEMA.isNaN ? current.loss : 0.9 * lossEMA + 0.1 * current.loss
                current.lr = Double(optimizer.lr)
                current.elapsedSeconds = now - start
                current.forwardMs = network.forwardSeconds.map { $0 * 1000 }
                current.backwardMs = network.backwardSeconds.map { $0 * 1000 }
                current.trainLoss.append(CurvePoint(step: current.step, value: current.loss))
                current.trainAccuracy.append(CurvePoint(step: current.step, value: current.batchAccuracy))
                if now - lastDigits >= digitRefreshSeconds {
                    refreshDigits()
                    lastDigits = monotonicSeconds()
                }
                publish()
                if current.step % config.logEvery == 0 {
                    var line = current
                    line.samplesPerSecond = Double(logSamples) / max(logSeconds, 1e-9)
                    logSamples = 0; logSeconds = 0
                    emit(.progress(line))
                }
                if config.saveEvery > 0 && current.step % config.saveEvery == 0 {
                    saveStepCheckpoint(label: nil)
                }
                if config.evalEvery > 0 && current.step % config.evalEvery == 0 && s < current.stepsPerEpoch {
                    validate()
                }
            }
            validate()
            if targetReached { break training }
        }
        // The weights the run ends with (not diverged ones: those stay as the user last saw them).
        if current.state != .diverged { refreshDigits() }
        current.samplesPerSecond = 0   // nothing trains any more (the whole run's figure: trainingSamplesPerSecond)
        if !stopped && current.state != .diverged {
            // --stop-at-acc has just evaluated these very weights on the test set: the same result.
            let test: EvaluationResult
            if let (step, result) = lastTest, step == current.step { test = result } else {
                test = Evaluator.evaluate(network, data.test, batchSize: b)
                current.testAccuracy.append(CurvePoint(step: current.step, value: test.accuracy))
                if let t5 = test.top5Accuracy { current.testTop5.append(CurvePoint(step: current.step, value: t5)) }
            }
            current.finalTest = test
            current.confusion = test.confusion
            current.mistakes = mistakes(test, in: data.test)
            current.state = .done
        } else if stopped && current.state != .diverged {
            current.state = .stopped
        }
        // The final weights, unless they are garbage (a diverged run keeps its earlier checkpoints).
        if current.state != .diverged && current.step > 0 { save("last.safetensors", label: nil) }
        current.elapsedSeconds = monotonicSeconds() - start
        lock.lock(); published = current; ended = true; lock.unlock()
        emit(.finished(current))
        finished.signal()
    }

    /// Applies queued commands; blocks while paused. Returns true when the run should stop.
    private func handleCommands() -> Bool {
        while true {
            wake.lock()
            let pending = commands; commands.removeAll()
            wake.unlock()
            for c in pending {
                switch c {
                case .pause:
                    if current.state == .running { current.state = .paused; current.samplesPerSecond = 0; mark("pause") }
                case .resume:
                    if current.state == .paused { current.state = .running; mark("resume") }
                    else if current.state == .diverged { rollBack() }
                case .setLR(let lr):
                    setLR(lr)
                case .scaleLR(let k):
                    setLR(scheduledLR(step: current.step) * k)
                case .togglePause:
                    switch current.state {
                    case .running: current.state = .paused; current.samplesPerSecond = 0; mark("pause")
                    case .paused: current.state = .running; mark("resume")
                    case .diverged: rollBack()
                    default: break
                    }
                case .setResidual, .toggleResidual:
                    guard let was = network.residual else { current.message = "\(config.model) has no residual connections"; break }
                    let on: Bool
                    if case .setResidual(let v) = c { on = v } else { on = !was }
                    network.residual = on
                    current.residual = on
                    changes += 1
                    mark(on ? "res on" : "res off")
                case .snapshot:
                    // Never a checkpoint of diverged weights.
                    if current.state == .diverged { current.message = "the weights diverged: nothing saved (p goes back to good weights)" }
                    else { saveSnapshot() }
                case .evaluate:
                    if data.validation.count == 0 { current.message = Self.noValidationMessage }
                    else if current.state == .diverged { current.message = "the weights diverged: nothing to evaluate (p goes back to good weights)" }
                    else { validate() }
                case .stop:
                    return true
                }
            }
            publish()
            if current.state != .paused && current.state != .diverged { return false }
            wake.lock()
            if commands.isEmpty { wake.wait() }
            wake.unlock()
        }
    }

    private func mark(_ label: String) {
        let e = ControlEvent(step: current.step, label: label)
        current.events.append(e)
        current.message = label
        emit(.control(e))
    }

    private func validate() {
        guard data.validation.count > 0 else { return }
        let r = Evaluator.evaluate(network, data.validation, batchSize: config.batchSize)
        current.validationAccuracy.append(CurvePoint(step: current.step, value: r.accuracy))
        current.validationLoss.append(CurvePoint(step: current.step, value: r.loss))
        if let t5 = r.top5Accuracy { current.validationTop5.append(CurvePoint(step: current.step, value: t5)) }
        current.confusion = r.confusion
        current.mistakes = mistakes(r, in: data.validation)
        // --stop-at-acc's check on the test set; logged after the validation line.
        var testCheck: EvaluationResult?
        if let target = config.stopAtAccuracy, !targetReached {
            let test = Evaluator.evaluate(network, data.test, batchSize: config.batchSize)
            testCheck = test
            lastTest = (current.step, test)
            current.testAccuracy.append(CurvePoint(step: current.step, value: test.accuracy))
            if let t5 = test.top5Accuracy { current.testTop5.append(CurvePoint(step: current.step, value: t5)) }
            if test.accuracy >= target {
                targetReached = true
                current.message = String(format: "test accuracy %.2f%% reached --stop-at-acc %.2f%% at step %d, %.1f s into training",
                                         test.accuracy, target, current.step, monotonicSeconds() - runStart)
                emit(.message(current.message))
            }
        }
        if r.accuracy > bestValidationAccuracy {
            bestValidationAccuracy = r.accuracy
            // The weights alone (Keras' save_weights_only): PyTorch's load_state_dict takes it bare.
            save("best.safetensors", label: nil, weightsOnly: true)
        }
        refreshDigits()
        publish()
        emit(.evaluated(split: "val", result: r, snapshot: current))
        if let testCheck { emit(.evaluated(split: "test", result: testCheck, snapshot: current)) }
    }

    private func refreshDigits() {
        let preds = Evaluator.predict(network, data.test, items: sampleItems)
        current.digits = zip(sampleItems, preds).map { sample(data.test, $0, $1) }
    }

    private func sample(_ d: Dataset, _ item: Int, _ p: Prediction) -> DigitPrediction {
        DigitPrediction(pixels: d.pixels(item), label: d.label(item), prediction: p,
                        channels: d.source.channels, height: d.source.rows, width: d.source.cols)
    }

    private func mistakes(_ r: EvaluationResult, in d: Dataset) -> [DigitPrediction] {
        r.mistakes.suffix(24).map {
            sample(d, $0.item, Prediction(predicted: $0.predicted, confidence: $0.confidence))
        }
    }

    /// What `e` answers in a run without a validation set.
    public static let noValidationMessage = "no validation set (--val-size 0): nothing to evaluate"

    private func saveSnapshot() { saveStepCheckpoint(label: "snap") }

    /// Writes checkpoints/step-N.safetensors (`s` or --save-every). Pressed again with nothing changed
    /// at that step, it writes nothing and says which file already holds these weights; after a change
    /// at the same step (LR, residual, roll-back) it writes step-N-2, step-N-3, … beside the first.
    private func saveStepCheckpoint(label: String?) {
        if let f = stepFiles, f.step == current.step, f.changes == changes, let last = f.names.last {
            if label != nil { current.message = "nothing new to save: \(last) already holds step \(current.step)'s weights" }
            return
        }
        let earlier = stepFiles?.step == current.step ? stepFiles?.names ?? [] : []
        let file = String(format: "step-%06d", current.step) + (earlier.isEmpty ? "" : "-\(earlier.count + 1)") + ".safetensors"
        if save(file, label: label) { stepFiles = (current.step, changes, earlier + [file]) }
    }

    /// After a divergence: back to the newest checkpoint this run wrote (weights and optimizer state),
    /// or to the initial weights if none was written yet. The step count goes on, so the curves keep
    /// their history and show where the run went back.
    private func rollBack() {
        changes += 1
        defer { refreshDigits() }
        let residual = network.residual
        if let path = lastGoodCheckpoint {
            do {
                // best.safetensors holds the weights only: the optimizer's state then starts afresh.
                let file: SafetensorsFile
                do { file = try SafetensorsFile(path: path) } catch { throw CheckpointError("\(error)") }
                let full = Checkpoint.hasOptimizerState(file)
                let meta = try Checkpoint.load(file: file, into: network, optimizer: full ? optimizer : nil)
                if !full { resetOptimizerState() }
                network.residual = residual
                current.state = .running
                mark("back to \(meta["step"].map { "step \($0)" } ?? (path as NSString).lastPathComponent)")
                if !full { current.message += " (\((path as NSString).lastPathComponent) holds weights only: the optimizer state starts afresh)" }
            } catch {
                current.message = "cannot go back to \(path): \(error); q quits"
            }
            return
        }
        guard let fresh = ModelZoo.make(config.model, inChannels: data.spec.channels, classes: data.spec.classes,
                                        residual: residual ?? true, seed: config.seed) else { return }
        for (mine, initial) in zip(network.state, fresh.state) { mine.tensor.copy(from: initial.tensor) }
        resetOptimizerState()
        current.state = .running
        mark("back to initial weights")
    }

    /// Momentum and Adam's moments back to zero, as at a run's start.
    private func resetOptimizerState() {
        for b in optimizer.buffers.joined() { b.zero() }
        optimizer.steps = optimizer.steps.map { _ in 0 }
        optimizer.buffersReplaced()
    }

    /// Everything a resumed run needs besides the tensors.
    func checkpointMetadata() -> [String: String] {
        let configJSON = (try? JSONEncoder().encode(config)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return ["step": "\(current.step)", "epoch": "\(current.epoch)", "step_in_epoch": "\(current.stepInEpoch)",
                "base_lr": "\(baseLR)", "seed": "\(config.seed)", "config": configJSON, "nntop_version": nntopVersion,
                "best_val_acc": "\(bestValidationAccuracy)", "data_order": "shuffled per epoch from seed and epoch",
                "data": data.spec.json]
    }

    /// Writes a checkpoint atomically; a failure (disk full, folder not writable) becomes a message
    /// and training goes on with the earlier checkpoints intact.
    @discardableResult
    private func save(_ file: String, label: String?, weightsOnly: Bool = false) -> Bool {
        guard let dir = checkpointDirectory else {
            if label != nil { current.message = "no checkpoint folder for this run" }
            return false
        }
        let path = (dir as NSString).appendingPathComponent(file)
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try Checkpoint.save(network, optimizer: weightsOnly ? nil : optimizer, metadata: checkpointMetadata(), to: path)
            lastGoodCheckpoint = path
            if let label { mark(label) }
            if label != nil || file.hasPrefix("step-") {
                current.message = "saved \(path)"
                emit(.snapshotSaved(path: path))
            }
            return true
        } catch {
            let reason = (error as? AtomicFile.WriteError)?.reason ?? "\(error)"
            current.message = "could not save \(path): \(reason); training goes on"
            emit(.message(current.message))
            return false
        }
    }

    /// Continues the run a checkpoint was written from: weights, optimizer state, step, epoch,
    /// position in the epoch's data order, LR and residual flag. Call before `start()`.
    public func resume(from path: String) throws {
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: path) } catch { throw CheckpointError("\(error)") }
        try resume(from: file)
    }

    /// The same, from a checkpoint file already read (its options were needed first).
    public func resume(from file: SafetensorsFile) throws {
        let path = file.path
        try Checkpoint.checkFits(file, spec: data.spec)
        // Refused rather than resumed with fresh momentum: a resumed run computes what an unbroken one does.
        guard Checkpoint.hasOptimizerState(file) else {
            throw CheckpointError("\(path): holds the weights only, no optimizer state (best.safetensors and nntop export's files are weights-only): --resume needs the run's last.safetensors or a step-N checkpoint; --weights \(path) starts a new run from these weights")
        }
        let meta = try Checkpoint.load(file: file, into: network, optimizer: optimizer)
        guard let step = meta["step"].flatMap(Int.init), let epoch = meta["epoch"].flatMap(Int.init),
              let inEpoch = meta["step_in_epoch"].flatMap(Int.init) else {
            throw CheckpointError("\(path): has no training position (step, epoch) in its metadata: use --weights to start from its weights")
        }
        var e = max(1, epoch), s = inEpoch
        if s >= current.stepsPerEpoch { e += 1; s = 0 }
        startEpoch = e; startStepInEpoch = s
        current.step = step; current.epoch = e; current.stepInEpoch = s
        if let lr = meta["base_lr"].flatMap(Float.init) { baseLR = lr; current.baseLR = Double(lr) }
        current.lr = Double(scheduledLR(step: step))
        if let best = meta["best_val_acc"].flatMap(Double.init) { bestValidationAccuracy = best }
        current.residual = network.residual
        current.message = "resumed from \(path) at step \(step)"
        publish()
    }

    /// Loads only the weights (fine-tuning, or someone else's model). Call before `start()`.
    public func loadWeights(from path: String) throws {
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: path) } catch { throw CheckpointError("\(error)") }
        try Checkpoint.checkFits(file, spec: data.spec)
        try Checkpoint.load(file: file, into: network)
        network.residual = config.residual
        current.message = "weights from \(path)"
        publish()
    }
}

public func formatLR(_ lr: Float) -> String {
    String(format: "%g", Double(lr))
}
