import Foundation

/// A run folder read back: config.json and metrics.jsonl turned into the curves, control events
/// and final confusion matrix the run logged. What `nntop view` and `--compare` draw.
public struct RunHistory {
    /// The folder as given, and its last path component (the run's name).
    public var path: String
    public var name: String
    public var config: TrainConfig
    /// Training steps per epoch: from config.json, else (older logs) the last step of a finished
    /// run divided by its epochs; nil when neither is known (no epoch axis for this run).
    public var stepsPerEpoch: Int?
    /// Training loss and accuracy as logged: each point averages the steps since the previous one.
    public var trainLoss: [CurvePoint] = []
    public var trainAccuracy: [CurvePoint] = []
    /// The scheduled learning rate and training throughput at each logged step.
    public var learningRate: [CurvePoint] = []
    public var samplesPerSecond: [CurvePoint] = []
    /// A finished run's average training samples/s, from its end line (nil: not finished, or an older log).
    public var averageSamplesPerSecond: Double?
    public var validationLoss: [CurvePoint] = []
    public var validationAccuracy: [CurvePoint] = []
    public var testLoss: [CurvePoint] = []
    public var testAccuracy: [CurvePoint] = []
    /// pause, resume, "lr 0.01", "res off", "snap"… (the end record is not an event here).
    public var events: [ControlEvent] = []
    /// The final test evaluation's matrix (rows true class, columns predicted); nil when the run
    /// did not finish or its log predates the matrix being logged.
    public var confusion: [[Int]]?
    /// The gradient flow at each logged training step that carries a `"grad"` object (older logs: none).
    public var gradients: [GradientFlow] = []
    /// Lines that could not be read: a line cut short by a kill (the last one, or one a resumed
    /// run wrote past).
    public var skippedLines = 0
    /// State, best validation, test accuracy, wall time (as `nntop runs` shows them).
    public var summary: RunSummary

    /// Why a folder cannot be read as a run; the description names the path.
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    /// Reads the run folder at `path`. Throws a `Failure` naming the path when it does not exist,
    /// is not a run folder (no config.json or metrics.jsonl) or holds something else than nntop's
    /// files. A cut-off line (a killed run) is skipped, not an error.
    public init(directory path: String) throws {
        func failure(_ why: String) -> Failure { Failure(description: "\(path): \(why)") }
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir) else { throw failure("no such run folder") }
        guard isDir.boolValue else { throw failure("not a folder (expected a run folder such as runs/20261126-101500-lenet5)") }
        let configPath = (path as NSString).appendingPathComponent("config.json")
        let metricsPath = (path as NSString).appendingPathComponent("metrics.jsonl")
        let missing = [configPath, metricsPath].filter { !fm.fileExists(atPath: $0) }.map { ($0 as NSString).lastPathComponent }
        guard missing.isEmpty else {
            throw failure("not an nntop run folder (no \(missing.joined(separator: " or ")))")
        }
        guard let config = RunLog.readConfig(directory: path) else {
            throw failure("config.json is not nntop's run options (damaged, or written by something else)")
        }
        var st = stat()
        // Not a pipe or a device: reading one would block or never end.
        guard stat(metricsPath, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { throw failure("metrics.jsonl is not a regular file") }
        guard let data = fm.contents(atPath: metricsPath) else { throw failure("cannot read metrics.jsonl") }
        guard let summary = RunSummary(directory: path) else { throw failure("cannot read config.json") }
        self.path = path
        name = (path as NSString).lastPathComponent
        self.config = config
        self.summary = summary

        let parsed = RunLog.parseMetrics(data)
        if let bad = parsed.damagedLine {
            throw failure("metrics.jsonl line \(bad) is not a metrics record (damaged, or not nntop's log)")
        }
        skippedLines = parsed.skipped
        for record in parsed.lines { add(record) }

        var extra: [String: Any] = [:]
        if let d = fm.contents(atPath: configPath), let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any] { extra = o }
        if let spe = extra["steps_per_epoch"] as? Int, spe > 0 {
            stepsPerEpoch = spe
        } else if summary.state == "done", summary.lastStep > 0, config.epochs > 0 {
            stepsPerEpoch = max(1, summary.lastStep / config.epochs)
        }
    }

    private mutating func add(_ r: [String: Any]) {
        guard let step = r["step"] as? Int else { return }
        if let event = r["event"] as? String {
            if event != "end" { events.append(ControlEvent(step: step, label: event)) }
            else { averageSamplesPerSecond = r["samples_per_s"] as? Double }
            return
        }
        func point(_ key: String) -> CurvePoint? {
            // JSON null (a NaN loss) becomes NaN: the charts skip it.
            guard r[key] != nil else { return nil }
            return CurvePoint(step: step, value: (r[key] as? Double) ?? .nan)
        }
        switch r["split"] as? String {
        case "train":
            if let p = point("loss") { trainLoss.append(p) }
            if let p = point("acc") { trainAccuracy.append(p) }
            if let p = point("lr") { learningRate.append(p) }
            if let p = point("samples_per_s") { samplesPerSecond.append(p) }
            if let g = r["grad"] as? [String: Any], let flow = GradientFlow(json: g, step: step) { gradients.append(flow) }
        case "val":
            if let p = point("loss") { validationLoss.append(p) }
            if let p = point("acc") { validationAccuracy.append(p) }
        case "test":
            if let p = point("loss") { testLoss.append(p) }
            if let p = point("acc") { testAccuracy.append(p) }
            if let m = r["confusion"] as? [[Int]], m.count >= 2, m.allSatisfy({ $0.count == m.count }) { confusion = m }
        default:
            break
        }
    }
}

extension RunHistory {
    /// What the log holds up to and including `step`: the earlier sessions of a run resumed from a
    /// checkpoint of that step (anything logged past it belongs to a branch the resumed run redoes).
    public func through(step: Int) -> RunHistory {
        var h = self
        func cut(_ c: [CurvePoint]) -> [CurvePoint] { c.filter { $0.step <= step } }
        h.trainLoss = cut(trainLoss); h.trainAccuracy = cut(trainAccuracy)
        h.learningRate = cut(learningRate); h.samplesPerSecond = cut(samplesPerSecond)
        h.validationLoss = cut(validationLoss); h.validationAccuracy = cut(validationAccuracy)
        h.testLoss = cut(testLoss); h.testAccuracy = cut(testAccuracy)
        h.events = events.filter { $0.step <= step }
        h.gradients = gradients.filter { $0.step <= step }
        return h
    }
}

extension TrainingSnapshot {
    /// This snapshot with an earlier part of the same run (`RunHistory.through(step:)` of its run
    /// folder) in front of its curves and markers: the dashboard of a resumed run shows the whole run,
    /// not only what this session trained.
    public func continuing(_ earlier: RunHistory) -> TrainingSnapshot {
        var s = self
        s.trainLoss = earlier.trainLoss + trainLoss
        s.trainAccuracy = earlier.trainAccuracy + trainAccuracy
        s.validationAccuracy = earlier.validationAccuracy + validationAccuracy
        s.validationLoss = earlier.validationLoss + validationLoss
        s.testAccuracy = earlier.testAccuracy + testAccuracy
        s.events = earlier.events + events
        return s
    }
}
