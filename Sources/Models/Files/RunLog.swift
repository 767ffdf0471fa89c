import Foundation

/// A run folder's log: `config.json` (every option, the nntop version, the machine's core count)
/// and `metrics.jsonl`, one JSON object per line, appended and flushed as it happens (O_APPEND, one
/// write(2) per line, no buffering), so a killed run loses at most the line being written.
///
/// Feed it the Trainer's events (`handle(_:)`, on the trainer's queue). A write error (disk full,
/// folder not writable) never stops training: the log remembers it in `error` and stops writing.
public final class RunLog {
    public let directory: String
    public var metricsPath: String { (directory as NSString).appendingPathComponent("metrics.jsonl") }
    public var configPath: String { (directory as NSString).appendingPathComponent("config.json") }

    private var metrics: AppendOnlyFile?
    /// Why the folder, config.json or metrics.jsonl could not be set up.
    private var setupFailure: String?
    private let start: Double
    /// Seconds already logged by the sessions this one continues (a resumed run keeps counting).
    public let previousSeconds: Double
    private var lastLogged: Int?
    /// The run's TensorBoard event file (train/loss, train/acc, lr, val/*, test/*).
    public private(set) var tensorBoard: TensorBoardWriter?

    /// The first write error, after which nothing more is written.
    public var error: String? { setupFailure ?? metrics?.error }

    /// Creates the folder, writes config.json and opens metrics.jsonl for appending.
    /// `stepsPerEpoch` lets `nntop runs` tell how many epochs a stopped run got through.
    public init(directory: String, config: TrainConfig, stepsPerEpoch: Int? = nil) {
        self.directory = directory
        start = monotonicSeconds()
        let previous = RunLog.readMetrics(atPath: (directory as NSString).appendingPathComponent("metrics.jsonl"))
        previousSeconds = previous.lines.compactMap { $0["time"] as? Double }.last ?? 0
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(config)) as? [String: Any] ?? [:]
            object["nntop_version"] = nntopVersion
            object["cores"] = ProcessInfo.processInfo.activeProcessorCount
            object["started"] = Date().timeIntervalSince1970
            if let stepsPerEpoch { object["steps_per_epoch"] = stepsPerEpoch }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            try (data + Data("\n".utf8)).write(to: URL(fileURLWithPath: configPath), options: .atomic)
            let file = AppendOnlyFile(path: metricsPath)
            if let e = file.error { throw POSIXFailure(e) }
            metrics = file
            // A killed run may have left half a line: start ours on a fresh one.
            if previous.endsMidLine { write(raw: "\n") }
            tensorBoard = TensorBoardWriter(directory: directory)
        } catch {
            setupFailure = "\(error)"
        }
    }

    /// Logs a Trainer event: progress (every logEvery steps), evaluations, control events and the end.
    public func handle(_ event: TrainerEvent) {
        switch event {
        case .progress(let s):
            let n = max(1, s.step - (lastLogged ?? (s.step - s.trainLoss.count)))
            lastLogged = s.step
            let loss = mean(s.trainLoss.suffix(n).map(\.value)), acc = mean(s.trainAccuracy.suffix(n).map(\.value))
            var fields: [(String, Any?)] = [("step", s.step), ("epoch", s.epoch), ("split", "train"), ("loss", loss), ("acc", acc),
                                            ("lr", s.lr), ("samples_per_s", s.samplesPerSecond), ("time", now())]
            // The gradient flow measured at this very step (the Trainer measures every logged step).
            let grad = s.gradients.flatMap { $0.step == s.step ? $0 : nil }
            if let grad { fields.append(("grad", RawJSON(grad.json))) }
            append(fields)
            tensorBoard?.scalars([("train/loss", loss), ("train/acc", acc), ("lr", s.lr)] + (grad?.tensorBoardScalars ?? []), step: s.step)
        case .evaluated(let split, let r, let s):
            append([("step", s.step), ("epoch", s.epoch), ("split", split), ("loss", r.loss), ("acc", r.accuracy)]
                   + (r.top5Accuracy.map { [("top5", $0)] } ?? []) + [("time", now())])
            tensorBoard?.scalars([("\(split)/loss", Double(r.loss)), ("\(split)/acc", Double(r.accuracy))], step: s.step)
        case .control(let e):
            append([("step", e.step), ("event", e.label), ("time", now())])
        case .finished(let s):
            if let t = s.finalTest {
                // The final confusion matrix (rows true class, columns predicted) rides on this line so
                // `nntop view` can show it; older logs lack it and are still read.
                append([("step", s.step), ("epoch", s.epoch), ("split", "test"), ("loss", t.loss), ("acc", t.accuracy)]
                       + (t.top5Accuracy.map { [("top5", $0)] } ?? []) + [("time", now()), ("confusion", t.confusion)])
                tensorBoard?.scalars([("test/loss", Double(t.loss)), ("test/acc", Double(t.accuracy))], step: s.step)
            }
            var fields: [(String, Any?)] = [("event", "end"), ("state", s.state.rawValue), ("step", s.step),
                                            ("epoch", s.epoch)]
            if let best = s.validationAccuracy.map(\.value).max() { fields.append(("best_val_acc", best)) }
            if let t = s.finalTest { fields.append(("test_acc", t.accuracy)) }
            // The run's average training throughput (this process's steps), which `nntop view` shows as
            // the live dashboard does once a run is done; older logs lack it.
            if s.stepsTrained > 0 { fields.append(("samples_per_s", s.trainingSamplesPerSecond)) }
            fields.append(("time", now()))
            append(fields)
        case .snapshotSaved, .message:
            break
        }
    }

    /// Appends one object as one line; the keys keep their order.
    public func append(_ fields: [(String, Any?)]) {
        let body = fields.map { "\(jsonString($0.0)):\(jsonValue($0.1))" }.joined(separator: ",")
        write(raw: "{\(body)}\n")
    }

    private func now() -> Double { ((previousSeconds + monotonicSeconds() - start) * 1000).rounded() / 1000 }

    private func write(raw line: String) { metrics?.append(Array(line.utf8)) }

    private func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }

    // MARK: reading

    /// The parseable lines of a metrics.jsonl (a line cut short by a kill is skipped) and whether the
    /// file ends without a newline.
    public static func readMetrics(atPath path: String) -> (lines: [[String: Any]], endsMidLine: Bool) {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG,   // not a device or a pipe
              let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return ([], false) }
        return (parseMetrics(data).lines, data.last != UInt8(ascii: "\n"))
    }

    /// metrics.jsonl's bytes read as records. A kill cuts a line short: it starts like a record and is
    /// either the last line or one a resumed run wrote a whole line after (RunLog starts afresh past a
    /// cut line); such lines are counted in `skipped`. Anything else that does not parse (two cut lines
    /// in a row, a line that is not JSON) is damage: `damagedLine` is the first such line (1-based).
    public static func parseMetrics(_ data: Data) -> (lines: [[String: Any]], skipped: Int, damagedLine: Int?) {
        var lines: [[String: Any]] = [], skipped = 0, previousCut = false
        let raw = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (i, line) in raw.enumerated() where !line.isEmpty {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                if line.first == UInt8(ascii: "{") && !previousCut { skipped += 1; previousCut = true; continue }
                return (lines, skipped, i + 1)
            }
            previousCut = false
            lines.append(o)
        }
        return (lines, skipped, nil)
    }

    /// config.json of a run folder as a TrainConfig (nil: no config.json, or not nntop's).
    public static func readConfig(directory: String) -> TrainConfig? {
        guard let data = FileManager.default.contents(atPath: (directory as NSString).appendingPathComponent("config.json"))
        else { return nil }
        return try? JSONDecoder().decode(TrainConfig.self, from: data)
    }
}

struct POSIXFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

private func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}

private func jsonValue(_ v: Any?) -> String {
    switch v {
    case let s as String: return jsonString(s)
    case let i as Int: return "\(i)"
    case let b as Bool: return b ? "true" : "false"
    case let d as Double: return d.isFinite ? "\(d)" : "null"   // JSON has no NaN or infinity
    case let f as Float: return f.isFinite ? "\(f)" : "null"
    case let r as RawJSON: return r.text
    case let m as [[Int]]: return "[" + m.map { "[" + $0.map(String.init).joined(separator: ",") + "]" }.joined(separator: ",") + "]"
    default: return "null"
    }
}

/// What `nntop runs` shows of one run folder.
public struct RunSummary {
    public var name: String
    public var path: String
    public var config: TrainConfig
    public var started: Double
    public var epochsDone: Double
    public var bestValidationAccuracy: Double?
    public var testAccuracy: Double?
    public var wallSeconds: Double
    /// done, stopped, diverged, running (its process holds the folder's `RunLock`) or damaged (its
    /// log has a line that is not a record, which `nntop view` refuses).
    public var state: String
    public var lastStep: Int
    /// The residual flag after each `r` toggle during the run, in order (empty: never toggled).
    public var residualToggles: [Bool] = []

    /// Reads a run folder; nil when it has no (readable) config.json. A run whose log has no end line
    /// (after its last start) is "running" while a live process holds the folder's lock, else
    /// "stopped" (killed).
    public init?(directory: String) {
        guard let config = RunLog.readConfig(directory: directory) else { return nil }
        self.config = config
        path = directory
        name = (directory as NSString).lastPathComponent
        let fm = FileManager.default
        let configPath = (directory as NSString).appendingPathComponent("config.json")
        let metricsPath = (directory as NSString).appendingPathComponent("metrics.jsonl")
        var extra: [String: Any] = [:]
        if let d = fm.contents(atPath: configPath), let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any] { extra = o }
        let configDate = (try? fm.attributesOfItem(atPath: configPath)[.modificationDate] as? Date) ?? nil
        started = (extra["started"] as? Double) ?? configDate?.timeIntervalSince1970 ?? 0
        var st = stat()
        let data = stat(metricsPath, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG ? fm.contents(atPath: metricsPath) ?? Data() : Data()
        let parsed = RunLog.parseMetrics(data)
        let lines = parsed.lines
        let vals = lines.filter { $0["split"] as? String == "val" }.compactMap { $0["acc"] as? Double }
        bestValidationAccuracy = vals.max()
        testAccuracy = lines.last { $0["split"] as? String == "test" }.flatMap { $0["acc"] as? Double }
        wallSeconds = lines.compactMap { $0["time"] as? Double }.last ?? 0
        lastStep = lines.compactMap { $0["step"] as? Int }.last ?? 0
        residualToggles = lines.compactMap {
            switch $0["event"] as? String { case "res on": true; case "res off": false; default: nil }
        }
        let lastEpoch = lines.compactMap { $0["epoch"] as? Int }.last ?? 0
        let end = lines.last.flatMap { $0["event"] as? String == "end" ? $0 : nil }
        if parsed.damagedLine != nil {
            state = "damaged"
        } else if let end {
            state = end["state"] as? String ?? "done"
        } else {
            state = RunLock.isHeld(directory: directory) ? "running" : "stopped"
        }
        let spe = extra["steps_per_epoch"] as? Int ?? 0
        if spe > 0 {
            // A run that ended early (--stop-at-acc) is done after fewer epochs than it was given.
            epochsDone = Double(lastStep) / Double(spe)
        } else if state == "done" {
            epochsDone = Double(config.epochs)
        } else {
            epochsDone = Double(max(0, lastEpoch - 1))
        }
    }

    /// The run folders directly inside `parent`, newest first (folders without config.json are skipped).
    public static func list(in parent: String) -> [RunSummary] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
        return names.compactMap { RunSummary(directory: (parent as NSString).appendingPathComponent($0)) }
            .sorted { ($0.started, $0.name) > ($1.started, $1.name) }
    }
}
