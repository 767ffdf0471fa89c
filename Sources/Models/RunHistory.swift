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
    public var validationLoss: [CurvePoint] = []
    public var validationAccuracy: [CurvePoint] = []
    public var testLoss: [CurvePoint] = []
    public var testAccuracy: [CurvePoint] = []
    /// pause, resume, "lr 0.01", "res off", "snap"… (the end record is not an event here).
    public var events: [ControlEvent] = []
    /// The final test evaluation's matrix (rows true class, columns predicted); nil when the run
    /// did not finish or its log predates the matrix being logged.
    public var confusion: [[Int]]?
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

        let rawLines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        var previousCut = false
        for (i, line) in rawLines.enumerated() where !line.isEmpty {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)), let record = object as? [String: Any] else {
                // A kill cuts a line short: it starts like a record and is either the last line or
                // one a resumed run wrote a whole line after (RunLog starts afresh past a cut line),
                // so two in a row, or anything else, is damage rather than a kill.
                if line.first == UInt8(ascii: "{") && !previousCut { skippedLines += 1; previousCut = true; continue }
                throw failure("metrics.jsonl line \(i + 1) is not a metrics record (damaged, or not nntop's log)")
            }
            previousCut = false
            add(record)
        }

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
        case "val":
            if let p = point("loss") { validationLoss.append(p) }
            if let p = point("acc") { validationAccuracy.append(p) }
        case "test":
            if let p = point("loss") { testLoss.append(p) }
            if let p = point("acc") { testAccuracy.append(p) }
            if let m = r["confusion"] as? [[Int]], m.count == 10, m.allSatisfy({ $0.count == 10 }) { confusion = m }
        default:
            break
        }
    }
}
