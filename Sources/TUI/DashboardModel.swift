// The plain values one dashboard frame shows. The app fills them from the trainer; the TUI
// knows nothing of models or kernels.

public enum RunState: String, Sendable, CaseIterable {
    case running = "RUNNING", paused = "PAUSED", done = "DONE", diverged = "DIVERGED"
    /// A finished run that was stopped before its last step (shown by `nntop view`).
    case stopped = "STOPPED"
}

public struct SeriesPoint: Equatable, Sendable {
    /// The training step.
    public var x: Double
    public var y: Double
    public init(x: Double, y: Double) { self.x = x; self.y = y }
}

/// An event drawn as a labelled vertical line on the curves, e.g. "lr 0.02", "pause", "res off".
public struct Marker: Equatable, Sendable {
    public var step: Int
    public var label: String
    /// Where the line goes on the chart's x axis: the step, or the epoch on an epoch axis.
    public var x: Double
    public init(step: Int, label: String, x: Double? = nil) { self.step = step; self.label = label; self.x = x ?? Double(step) }
}

/// The x axis of the curves (key x): training steps, or epochs, which line up runs of different
/// batch sizes or training-set sizes.
public enum XAxis: String, Equatable, Sendable {
    case steps, epochs
}

/// An earlier run drawn dimmed behind the current one, in its own colour, on the same axes
/// (`--compare`, and every run after the first in `nntop view`).
public struct OverlayRun: Equatable, Sendable {
    /// The legend's name: the run folder's name plus what tells it apart, e.g. "…-resnet18-nores".
    public var name: String
    /// One line for the runs list: model, state, best validation and test accuracy, wall time.
    public var summary: String
    /// 0 when unknown: the run then has no place on an epoch axis.
    public var stepsPerEpoch: Int
    /// x = step. Loss as logged (already averaged over the log interval, so not smoothed again).
    public var trainLoss: [SeriesPoint]
    public var trainAcc: [SeriesPoint]
    public var valAcc: [SeriesPoint]
    public var testAcc: [SeriesPoint]
    public init(name: String, summary: String = "", stepsPerEpoch: Int = 0, trainLoss: [SeriesPoint] = [],
                trainAcc: [SeriesPoint] = [], valAcc: [SeriesPoint] = [], testAcc: [SeriesPoint] = []) {
        self.name = name; self.summary = summary; self.stepsPerEpoch = stepsPerEpoch; self.trainLoss = trainLoss
        self.trainAcc = trainAcc; self.valAcc = valAcc; self.testAcc = testAcc
    }
}

/// How many images each accuracy point is measured over (0: unknown), which decides how many
/// decimals it is shown with (`Fmt.accuracy`).
public struct AccuracySamples: Equatable, Sendable {
    /// A training point: one batch live, the log interval's batches in a run's log.
    public var train: Int
    public var validation: Int
    public var test: Int
    public init(train: Int = 0, validation: Int = 0, test: Int = 0) {
        self.train = train; self.validation = validation; self.test = test
    }
}

public struct LayerTiming: Equatable, Sendable {
    public var name: String
    public var forwardMs: Double
    public var backwardMs: Double
    public init(name: String, forwardMs: Double, backwardMs: Double) {
        self.name = name; self.forwardMs = forwardMs; self.backwardMs = backwardMs
    }
    public var totalMs: Double { forwardMs + backwardMs }
}

public struct DigitSample: Equatable, Sendable {
    /// 28x28 row-major grey levels, 0 = background, 255 = ink.
    public var pixels: [UInt8]
    public var label: Int
    public var predicted: Int
    /// 0...1
    public var confidence: Double
    public init(pixels: [UInt8], label: Int, predicted: Int, confidence: Double) {
        self.pixels = pixels; self.label = label; self.predicted = predicted; self.confidence = confidence
    }
    public var isCorrect: Bool { label == predicted }
}

/// Everything one frame shows.
public struct DashboardModel: Equatable, Sendable {
    public var model: String
    /// nil when the model has no residual switch.
    public var residual: Bool?
    public var state: RunState
    public var epoch: Int
    public var epochs: Int
    public var step: Int
    public var totalSteps: Int
    public var etaSeconds: Double?
    public var lr: Double
    public var samplesPerSecond: Double
    public var threads: Int
    public var trainLoss: [SeriesPoint]
    /// Accuracies in percent.
    public var trainAcc: [SeriesPoint]
    public var valAcc: [SeriesPoint]
    public var testAcc: [SeriesPoint]
    /// The images behind each accuracy point (the decimals shown follow from them).
    public var accuracySamples: AccuracySamples
    public var markers: [Marker]
    /// Model order, already smoothed by the app.
    public var layers: [LayerTiming]
    /// The latest evaluation's sample test digits.
    public var digits: [DigitSample]
    /// The latest wrong predictions.
    public var mistakes: [DigitSample]
    /// 10x10, rows = true class, columns = predicted class.
    public var confusion: [[Int]]?
    /// The last confirmation or error message.
    public var status: String
    /// Changes with every new status message, even one repeating the previous text word for word,
    /// so that it replaces the reply a key got (e.g. a second "LR refused" after a second `+`).
    public var statusSerial = 0
    /// Training steps per epoch of this run (0: unknown, no epoch axis).
    public var stepsPerEpoch: Int
    /// Earlier runs drawn behind this one.
    public var overlays: [OverlayRun]
    /// This run's name in the legend and runs list ("" : "this run").
    public var runName: String
    /// This run's line in the runs list (`nntop view`).
    public var runSummary: String
    /// A finished run read from its folder (`nntop view`): nothing trains, so q quits at once,
    /// panel 2 lists the runs and this run's events instead of layer times, and the key bar
    /// shows only the keys that do something.
    public var replay: Bool

    public init(model: String = "", residual: Bool? = nil, state: RunState = .running,
                epoch: Int = 0, epochs: Int = 0, step: Int = 0, totalSteps: Int = 0, etaSeconds: Double? = nil,
                lr: Double = 0, samplesPerSecond: Double = 0, threads: Int = 1,
                trainLoss: [SeriesPoint] = [], trainAcc: [SeriesPoint] = [], valAcc: [SeriesPoint] = [],
                testAcc: [SeriesPoint] = [], accuracySamples: AccuracySamples = AccuracySamples(),
                markers: [Marker] = [], layers: [LayerTiming] = [],
                digits: [DigitSample] = [], mistakes: [DigitSample] = [], confusion: [[Int]]? = nil,
                status: String = "", stepsPerEpoch: Int = 0, overlays: [OverlayRun] = [], runName: String = "",
                runSummary: String = "", replay: Bool = false) {
        self.model = model; self.residual = residual; self.state = state
        self.epoch = epoch; self.epochs = epochs; self.step = step; self.totalSteps = totalSteps
        self.etaSeconds = etaSeconds; self.lr = lr; self.samplesPerSecond = samplesPerSecond
        self.threads = threads; self.trainLoss = trainLoss; self.trainAcc = trainAcc; self.valAcc = valAcc
        self.testAcc = testAcc; self.accuracySamples = accuracySamples; self.markers = markers; self.layers = layers; self.digits = digits
        self.mistakes = mistakes; self.confusion = confusion; self.status = status
        self.stepsPerEpoch = stepsPerEpoch; self.overlays = overlays; self.runName = runName
        self.runSummary = runSummary; self.replay = replay
    }
}

public enum DashboardAction: Equatable, Sendable {
    case togglePause
    /// 2 or 0.5
    case scaleLR(Double)
    case setLR(Double)
    case toggleResidual
    case snapshot
    case evaluate
    case quit
}

public struct DashboardOptions: Sendable {
    public var ascii: Bool
    public var color: Bool
    public init(ascii: Bool = false, color: Bool = true) { self.ascii = ascii; self.color = color }
}

public enum DashboardExit: Equatable, Sendable {
    case quit
    /// SIGINT
    case interrupted
    /// SIGTERM
    case terminated
    /// SIGHUP (or the terminal went away)
    case hangup
    /// `d`: the user left the dashboard on purpose; the run goes on.
    case detached
}
