import Foundation

/// What a run's control socket carries (DESIGN: the same snapshot/command pair a dashboard in the
/// training process uses). Every message is a frame: a 4-byte big-endian length, then that many
/// bytes of JSON. A client sends one `ControlRequest` per frame (a hello, then commands); the server
/// answers a dashboard or script client with one full `ControlUpdate` (the whole history) and then,
/// ten times a second, updates holding only what changed (new curve points, new events, digits when
/// they were predicted again) and the small numbers of the newest snapshot.
public enum ControlWire {
    /// The socket's name in the run folder.
    public static let socketName = "control.sock"
    /// A client's message is a hello or a command: anything longer is garbage and ends the connection.
    public static let maxRequestBytes = 64 * 1024
    /// What a client accepts from the server in one frame (a full update of a very long run).
    public static let maxUpdateBytes = 512 << 20

    public static func socketPath(in runDir: String) -> String {
        (runDir as NSString).appendingPathComponent(socketName)
    }

    /// The frame of `payload`: its length (4 bytes, big-endian) and the payload.
    public static func frame(_ payload: Data) -> Data {
        var n = UInt32(payload.count).bigEndian
        var d = Data(bytes: &n, count: 4)
        d.append(payload)
        return d
    }

    /// The length a frame header announces.
    static func length(_ header: UnsafeRawBufferPointer) -> Int {
        Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }()
    static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }
}

/// A client's message: who it is (first), or one command. Commands carry intent, as the keys do;
/// the trainer applies them in order with its own values and ranges.
public struct ControlRequest: Codable, Equatable {
    /// "dashboard" (attach), "script" (stop, pause, lr, snap) or "status" (ls: one status, then the
    /// server hangs up).
    public var hello: String?
    /// The client's terminal ("pts/3"), shown by `nntop ls` as who is attached.
    public var tty: String?
    public var command: String?
    public var value: Double?

    public init(hello: String? = nil, tty: String? = nil, command: String? = nil, value: Double? = nil) {
        self.hello = hello; self.tty = tty; self.command = command; self.value = value
    }

    public init(_ c: TrainerCommand) {
        switch c {
        case .pause: command = "pause"
        case .resume: command = "resume"
        case .togglePause: command = "togglePause"
        case .setLR(let v): command = "setLR"; value = Double(v)
        case .scaleLR(let k): command = "scaleLR"; value = Double(k)
        case .setResidual(let on): command = on ? "residualOn" : "residualOff"
        case .toggleResidual: command = "toggleResidual"
        case .snapshot: command = "snapshot"
        case .evaluate: command = "evaluate"
        case .stop: command = "stop"
        }
    }

    /// The command this request carries, if it is one the trainer knows (values are checked by the
    /// trainer, as a key's are).
    public var trainerCommand: TrainerCommand? {
        switch command {
        case "pause": return .pause
        case "resume": return .resume
        case "togglePause": return .togglePause
        case "setLR": return value.map { .setLR(Float($0)) }
        case "scaleLR": return value.flatMap { $0 == 2 || $0 == 0.5 ? .scaleLR(Float($0)) : nil }
        case "residualOn": return .setResidual(true)
        case "residualOff": return .setResidual(false)
        case "toggleResidual": return .toggleResidual
        case "snapshot": return .snapshot
        case "evaluate": return .evaluate
        case "stop": return .stop
        default: return nil
        }
    }
}

/// One message from the server: the full state (`full`), or what changed since the client's
/// previous update. A curve's `from` is the index its points start at in the whole curve.
public struct ControlUpdate: Codable {
    public struct Run: Codable, Equatable {
        public var runDir: String
        public var pid: Int32
        public var validationCount: Int
        public var testCount: Int
        /// Training time of earlier sessions (a resumed run), for the final wall time.
        public var previousSeconds: Double
        /// The step this process started at (0, or a resumed run's).
        public var firstStep: Int
    }
    public struct Numbers: Codable, Equatable {
        var model: String, residual: Bool?, state: String
        var step, totalSteps, epoch, epochs, stepInEpoch, stepsPerEpoch, batchSize, threads, stepsTrained: Int
        var loss, batchAccuracy, lr, baseLR, samplesPerSecond, elapsedSeconds, trainingSeconds: Double
        var message: String, messageSerial: Int
        var forwardMs, backwardMs: [Double]
    }
    public struct Tail: Codable { public var from: Int; public var steps: [Int]; public var values: [Double] }
    public struct EventTail: Codable { public var from: Int; public var steps: [Int]; public var labels: [String] }
    public struct Digit: Codable {
        var pixels: Data; var label: Int; var predicted: Int; var confidence: Float
        var channels: Int, height: Int, width: Int
    }
    public struct Evaluation: Codable { var loss: Double; var correct: Int; var count: Int; var top5Correct: Int }
    /// What the run trains on (full updates only): the sample images' and the matrix's class names.
    public struct RunData: Codable { var classNames: [String]; var inputShape: [Int]; var dataset: String }

    public var full: Bool
    /// The trainer has finished: this is the last update.
    public var ended: Bool
    public var run: Run?
    /// Who is attached (status answers and full updates).
    public var clients: [String]?
    public var numbers: Numbers
    public var layerNames: [String]?
    public var curves: [String: Tail]?
    public var events: EventTail?
    public var digits: [Digit]?
    public var mistakes: [Digit]?
    public var confusion: [[Int]]?
    public var finalTest: Evaluation?
    public var data: RunData?
    /// The newest gradient-flow figures, when they changed.
    public var gradients: GradientFlow?
    public var gradientSeconds: Double?
}

/// What the server has already sent one client: the next update carries only the rest.
struct SentState {
    var started = false
    var curveCounts: [String: Int] = [:]
    var events = 0
    var layerNames: [String] = []
    var digits = "", mistakes = ""
    var confusion: [[Int]]?
    var finalTest = false
    var gradients: GradientFlow?
}

extension TrainingSnapshot {
    static let curveKeys: [(String, WritableKeyPath<TrainingSnapshot, [CurvePoint]>)] = [
        ("trainLoss", \.trainLoss), ("trainAccuracy", \.trainAccuracy), ("validationAccuracy", \.validationAccuracy),
        ("validationLoss", \.validationLoss), ("testAccuracy", \.testAccuracy),
        ("validationTop5", \.validationTop5), ("testTop5", \.testTop5),
    ]

    /// The update that brings a client holding `sent` up to this snapshot (and records it as sent).
    func update(_ sent: inout SentState, ended: Bool, run: ControlUpdate.Run?, clients: [String]?) -> ControlUpdate {
        let full = !sent.started
        sent.started = true
        let n = ControlUpdate.Numbers(
            model: model, residual: residual, state: state.rawValue, step: step, totalSteps: totalSteps, epoch: epoch,
            epochs: epochs, stepInEpoch: stepInEpoch, stepsPerEpoch: stepsPerEpoch, batchSize: batchSize, threads: threads,
            stepsTrained: stepsTrained, loss: loss, batchAccuracy: batchAccuracy, lr: lr, baseLR: baseLR,
            samplesPerSecond: samplesPerSecond, elapsedSeconds: elapsedSeconds, trainingSeconds: trainingSeconds,
            message: message, messageSerial: messageSerial, forwardMs: forwardMs, backwardMs: backwardMs)
        var u = ControlUpdate(full: full, ended: ended, run: full ? run : nil, clients: clients, numbers: n)
        if full { u.data = ControlUpdate.RunData(classNames: classNames, inputShape: inputShape, dataset: dataset) }
        if let g = gradients, g != sent.gradients || full {
            u.gradients = g; u.gradientSeconds = gradientSeconds; sent.gradients = g
        }
        if sent.layerNames != layerNames { u.layerNames = layerNames; sent.layerNames = layerNames }
        var curves: [String: ControlUpdate.Tail] = [:]
        for (key, path) in Self.curveKeys {
            let c = self[keyPath: path]
            // Curves only grow; one that shrank (never expected) is sent again whole.
            var from = sent.curveCounts[key] ?? 0
            if from > c.count { from = 0 }
            if from < c.count || full {
                curves[key] = ControlUpdate.Tail(from: from, steps: c[from...].map(\.step), values: c[from...].map(\.value))
            }
            sent.curveCounts[key] = c.count
        }
        if !curves.isEmpty { u.curves = curves }
        if sent.events > events.count { sent.events = 0 }
        if sent.events < events.count || full {
            let tail = events[sent.events...]
            u.events = ControlUpdate.EventTail(from: sent.events, steps: tail.map(\.step), labels: tail.map(\.label))
            sent.events = events.count
        }
        func signature(_ d: [DigitPrediction]) -> String {
            d.map { "\($0.label):\($0.prediction.predicted):\($0.prediction.confidence)" }.joined(separator: ",")
        }
        func wire(_ d: [DigitPrediction]) -> [ControlUpdate.Digit] {
            d.map { ControlUpdate.Digit(pixels: Data($0.pixels), label: $0.label, predicted: $0.prediction.predicted,
                                        confidence: $0.prediction.confidence, channels: $0.channels, height: $0.height,
                                        width: $0.width) }
        }
        let ds = signature(digits)
        if ds != sent.digits || full { u.digits = wire(digits); sent.digits = ds }
        let ms = signature(mistakes)
        if ms != sent.mistakes || full { u.mistakes = wire(mistakes); sent.mistakes = ms }
        if let confusion, confusion != sent.confusion { u.confusion = confusion; sent.confusion = confusion }
        if let t = finalTest, !sent.finalTest {
            u.finalTest = ControlUpdate.Evaluation(loss: t.loss, correct: t.correct, count: t.count, top5Correct: t.top5Correct)
            sent.finalTest = true
        }
        return u
    }

    /// An empty snapshot that updates are applied to, on the client.
    static var blank: TrainingSnapshot { TrainingSnapshot(model: "") }

    /// Applies an update from the server (a full one replaces everything).
    mutating func apply(_ u: ControlUpdate) {
        if u.full { self = .blank }
        let n = u.numbers
        model = n.model; residual = n.residual; state = TrainerState(rawValue: n.state) ?? .running
        step = n.step; totalSteps = n.totalSteps; epoch = n.epoch; epochs = n.epochs; stepInEpoch = n.stepInEpoch
        stepsPerEpoch = n.stepsPerEpoch; batchSize = n.batchSize; threads = n.threads; stepsTrained = n.stepsTrained
        loss = n.loss; batchAccuracy = n.batchAccuracy; lr = n.lr; baseLR = n.baseLR; samplesPerSecond = n.samplesPerSecond
        elapsedSeconds = n.elapsedSeconds; trainingSeconds = n.trainingSeconds
        forwardMs = n.forwardMs; backwardMs = n.backwardMs
        message = n.message; messageSerial = n.messageSerial   // in this order: setting message bumps the serial
        if let l = u.layerNames { layerNames = l }
        for (key, path) in Self.curveKeys {
            guard let t = u.curves?[key] else { continue }
            var c = self[keyPath: path]
            c.removeSubrange(min(t.from, c.count)...)
            c += zip(t.steps, t.values).map { CurvePoint(step: $0, value: $1) }
            self[keyPath: path] = c
        }
        if let e = u.events {
            events.removeSubrange(min(e.from, events.count)...)
            events += zip(e.steps, e.labels).map { ControlEvent(step: $0, label: $1) }
        }
        func local(_ d: [ControlUpdate.Digit]) -> [DigitPrediction] {
            d.map { DigitPrediction(pixels: [UInt8]($0.pixels), label: $0.label,
                                    prediction: Prediction(predicted: $0.predicted, confidence: $0.confidence),
                                    channels: $0.channels, height: $0.height, width: $0.width) }
        }
        if let d = u.digits { digits = local(d) }
        if let m = u.mistakes { mistakes = local(m) }
        if let c = u.confusion { confusion = c }
        if let d = u.data { classNames = d.classNames; inputShape = d.inputShape; dataset = d.dataset }
        if let g = u.gradients { gradients = g; gradientSeconds = u.gradientSeconds ?? gradientSeconds }
        if let t = u.finalTest {
            var r = EvaluationResult(classes: confusion?.count ?? classNames.count)
            r.loss = t.loss; r.correct = t.correct; r.count = t.count; r.top5Correct = t.top5Correct
            if let c = confusion { r.confusion = c }
            finalTest = r
        }
    }
}
