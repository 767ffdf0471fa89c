// The plain values one dashboard frame shows. The app fills them from the trainer; the TUI
// knows nothing of models or kernels.

public enum RunState: String, Sendable, CaseIterable {
    case running = "RUNNING", paused = "PAUSED", done = "DONE", diverged = "DIVERGED", stopping = "STOPPING"
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
    public init(step: Int, label: String) { self.step = step; self.label = label }
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

    public init(model: String = "", residual: Bool? = nil, state: RunState = .running,
                epoch: Int = 0, epochs: Int = 0, step: Int = 0, totalSteps: Int = 0, etaSeconds: Double? = nil,
                lr: Double = 0, samplesPerSecond: Double = 0, threads: Int = 1,
                trainLoss: [SeriesPoint] = [], trainAcc: [SeriesPoint] = [], valAcc: [SeriesPoint] = [],
                testAcc: [SeriesPoint] = [], markers: [Marker] = [], layers: [LayerTiming] = [],
                digits: [DigitSample] = [], mistakes: [DigitSample] = [], confusion: [[Int]]? = nil,
                status: String = "") {
        self.model = model; self.residual = residual; self.state = state
        self.epoch = epoch; self.epochs = epochs; self.step = step; self.totalSteps = totalSteps
        self.etaSeconds = etaSeconds; self.lr = lr; self.samplesPerSecond = samplesPerSecond
        self.threads = threads; self.trainLoss = trainLoss; self.trainAcc = trainAcc; self.valAcc = valAcc
        self.testAcc = testAcc; self.markers = markers; self.layers = layers; self.digits = digits
        self.mistakes = mistakes; self.confusion = confusion; self.status = status
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
    case finished
}
