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
    /// TensorBoard logs' other two axes: seconds since the run's first point, and the clock time.
    case relative = "relative time", wall = "wall time"
}

/// One tag of a TensorBoard log (or of an nntop run shown beside one): its points, x the step,
/// and the wall time of each.
public struct TagSeries: Equatable, Sendable {
    public var tag: String
    public var points: [SeriesPoint]
    public var wallTimes: [Double]
    public init(tag: String, points: [SeriesPoint], wallTimes: [Double]) { self.tag = tag; self.points = points; self.wallTimes = wallTimes }
}

/// A run shown by tags (`nntop view` of TensorBoard logs): any tag, not only nntop's four curves.
public struct TagRun: Equatable, Sendable {
    public var name: String
    /// One line for the runs list: state, points, damaged records.
    public var summary: String
    public var series: [TagSeries]
    public init(name: String, summary: String = "", series: [TagSeries] = []) { self.name = name; self.summary = summary; self.series = series }
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

/// One test image and the model's prediction for it, as the images panel draws it.
public struct SampleImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    /// 3: red, green, blue. 1: grey. Any other count is drawn grey from the first plane.
    public var channels: Int
    /// Channel-planar, as the network sees it (NCHW without the N) and as `ImageSet` stores it:
    /// `channels` planes of `height` rows of `width` bytes, 0 dark ... 255 bright (MNIST's ink
    /// is 255, so digits show white on black). Missing bytes are drawn black.
    public var pixels: [UInt8]
    /// The true class's name and the predicted class's (the panel truncates them to fit).
    public var label: String
    public var predicted: String
    /// The predicted class's probability, 0...1.
    public var confidence: Double
    public var correct: Bool
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8], label: String, predicted: String,
                confidence: Double, correct: Bool) {
        self.width = width; self.height = height; self.channels = channels; self.pixels = pixels
        self.label = label; self.predicted = predicted; self.confidence = confidence; self.correct = correct
    }
}

/// An MNIST digit (28×28 grey, classes 0...9): a shorthand that becomes a `SampleImage`.
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
    public var image: SampleImage {
        SampleImage(width: 28, height: 28, channels: 1, pixels: pixels, label: String(label), predicted: String(predicted),
                    confidence: confidence, correct: isCorrect)
    }
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
    /// `samplesPerSecond` is a finished run's average over all its steps (the header says "avg"), not the
    /// latest window's, which is 0 once nothing trains.
    public var samplesPerSecondIsAverage = false
    public var threads: Int
    public var trainLoss: [SeriesPoint]
    /// Accuracies in percent.
    public var trainAcc: [SeriesPoint]
    public var valAcc: [SeriesPoint]
    public var testAcc: [SeriesPoint]
    /// Top-5 accuracies in percent (empty: not measured, e.g. five classes or fewer); shown in the
    /// accuracy legend beside the top-1 value.
    public var valTop5: [SeriesPoint]
    public var testTop5: [SeriesPoint]
    /// The images behind each accuracy point (the decimals shown follow from them).
    public var accuracySamples: AccuracySamples
    public var markers: [Marker]
    /// Model order, already smoothed by the app.
    public var layers: [LayerTiming]
    /// The latest evaluation's sample test images.
    public var samples: [SampleImage]
    /// The latest wrong predictions.
    public var mistakes: [SampleImage]
    /// The class names, in class-index order (empty: the indices "0", "1", ... stand in).
    public var classNames: [String]
    /// N×N for N classes, rows = true class, columns = predicted class.
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
    /// Runs shown by tag (TensorBoard logs, alone or with nntop runs): when not empty the curves
    /// panel shows one chart per selected tag and panel 2 each run's last value per tag.
    public var tagRuns: [TagRun] = []
    /// Per-layer gradient flow (panel 2, key g); nil: none measured yet, or none in a run's log.
    public var gradientFlow: GradientFlowData? = nil

    public init(model: String = "", residual: Bool? = nil, state: RunState = .running,
                epoch: Int = 0, epochs: Int = 0, step: Int = 0, totalSteps: Int = 0, etaSeconds: Double? = nil,
                lr: Double = 0, samplesPerSecond: Double = 0, threads: Int = 1,
                trainLoss: [SeriesPoint] = [], trainAcc: [SeriesPoint] = [], valAcc: [SeriesPoint] = [],
                testAcc: [SeriesPoint] = [], valTop5: [SeriesPoint] = [], testTop5: [SeriesPoint] = [],
                accuracySamples: AccuracySamples = AccuracySamples(),
                markers: [Marker] = [], layers: [LayerTiming] = [],
                samples: [SampleImage] = [], mistakes: [SampleImage] = [], classNames: [String] = [], confusion: [[Int]]? = nil,
                status: String = "", stepsPerEpoch: Int = 0, overlays: [OverlayRun] = [], runName: String = "",
                runSummary: String = "", replay: Bool = false) {
        self.model = model; self.residual = residual; self.state = state
        self.epoch = epoch; self.epochs = epochs; self.step = step; self.totalSteps = totalSteps
        self.etaSeconds = etaSeconds; self.lr = lr; self.samplesPerSecond = samplesPerSecond
        self.threads = threads; self.trainLoss = trainLoss; self.trainAcc = trainAcc; self.valAcc = valAcc
        self.testAcc = testAcc; self.valTop5 = valTop5; self.testTop5 = testTop5
        self.accuracySamples = accuracySamples; self.markers = markers; self.layers = layers; self.samples = samples
        self.mistakes = mistakes; self.classNames = classNames; self.confusion = confusion; self.status = status
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
