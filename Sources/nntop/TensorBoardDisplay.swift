import Foundation
import Models
import TUI

/// `nntop view` of TensorBoard log directories (alone or with nntop run folders): finds the runs,
/// follows their files, and turns them into the dashboard's tag view and the `--text` table.
final class TensorBoardDisplay {
    /// A TensorBoard log counts as live while one of its files grew in the last this many seconds.
    /// Logs carry no end marker and no lock; PyTorch's SummaryWriter flushes every 120 s by default,
    /// so a shorter window would show a healthy run as finished between its flushes.
    static let liveWindow: Double = 150
    /// At most this many points per curve go to the dashboard (every k-th, and always the last):
    /// a million-point log draws as fast as a small one, and smoothing runs on what is drawn, as
    /// TensorBoard's does on its sample of 1,000.
    static let maxPointsPerCurve = 5000

    /// What one command-line argument became.
    enum Source {
        case nntop(RunHistory)
        /// A log directory: the runs found in it (re-scanned when followed: new runs appear).
        case logdir(String, [TensorBoardRun])
    }

    var sources: [Source]

    /// Reads every argument, or exits with one line naming the first that is neither an nntop run
    /// folder nor a log directory holding event files.
    init(paths: [String]) {
        sources = paths.map { path in
            let fm = FileManager.default
            let isNntop = fm.fileExists(atPath: path + "/config.json") || fm.fileExists(atPath: path + "/metrics.jsonl")
            var isDir: ObjCBool = false
            if !isNntop, fm.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
                let found = TensorBoardRun.runFolders(under: path)
                if !found.isEmpty { return .logdir(path, found.map { TensorBoardRun(directory: $0.path, name: $0.name) }) }
            }
            do { return .nntop(try RunHistory(directory: path)) } catch {
                let more = isDir.boolValue && !isNntop ? " nor a TensorBoard log directory (no events.out.tfevents.* file in it or below)" : ""
                fail("\(error)\(more)")
            }
        }
    }

    /// True when some argument is a TensorBoard log: the view then shows every run by tag.
    var hasLogs: Bool { sources.contains { if case .logdir = $0 { return true } else { return false } } }

    var tensorBoardRuns: [TensorBoardRun] { sources.flatMap { if case .logdir(_, let r) = $0 { return r } else { return [] } } }

    /// Reads what the logs gained (only the new bytes) and any run that appeared; re-reads nntop
    /// run folders whose run is live. True when anything changed.
    func refresh() -> Bool {
        var changed = false
        for i in sources.indices {
            switch sources[i] {
            case .logdir(let dir, let runs):
                var all = runs
                for f in TensorBoardRun.runFolders(under: dir) where !runs.contains(where: { $0.path == f.path }) {
                    all.append(TensorBoardRun(directory: f.path, name: f.name))
                    changed = true
                }
                for r in runs where r.refresh() { changed = true }
                sources[i] = .logdir(dir, all)
            case .nntop(let h):
                if h.summary.state == "running", let again = try? RunHistory(directory: h.path) { sources[i] = .nntop(again); changed = true }
            }
        }
        return changed
    }

    static func isLive(_ r: TensorBoardRun, now: Date = Date()) -> Bool { now.timeIntervalSince(r.lastGrowth) < liveWindow }

    static func thin(_ pts: [ScalarPoint]) -> [ScalarPoint] {
        guard pts.count > maxPointsPerCurve else { return pts }
        let k = (pts.count + maxPointsPerCurve - 1) / maxPointsPerCurve
        var out = stride(from: 0, to: pts.count, by: k).map { pts[$0] }
        if out.last != pts.last { out.append(pts[pts.count - 1]) }
        return out
    }

    static func summary(_ r: TensorBoardRun, now: Date = Date()) -> String {
        var parts = [isLive(r, now: now) ? "live" : "finished", "\(r.points.filter { !$0.isEmpty }.count) tags", "\(r.points.reduce(0) { $0 + $1.count }) points"]
        if r.damagedRecords > 0 { parts.append("\(r.damagedRecords) damaged record\(r.damagedRecords == 1 ? "" : "s") skipped") }
        if r.restarts > 0 { parts.append("restarted \(r.restarts)×, replayed steps dropped") }
        return parts.joined(separator: " · ")
    }

    static func tagRun(_ r: TensorBoardRun, now: Date = Date()) -> TagRun {
        TagRun(name: r.name, summary: summary(r, now: now), series: zip(r.tags, r.points).compactMap { tag, pts in
            guard !pts.isEmpty else { return nil }
            let t = thin(pts)
            return TagSeries(tag: tag, points: t.map { SeriesPoint(x: Double($0.step), y: $0.value) }, wallTimes: t.map(\.wallTime))
        })
    }

    /// An nntop run among logs: its own event file (every run folder has one, with wall times),
    /// else its metrics.jsonl curves under the same tags, on steps only.
    static func tagRun(_ h: RunHistory) -> TagRun {
        let summary = RunDisplay.summary(h)
        let own = TensorBoardRun(directory: h.path, name: h.name)
        if own.points.contains(where: { !$0.isEmpty }) {
            var t = tagRun(own)
            t.summary = summary
            return t
        }
        let curves: [(String, [CurvePoint])] = [("train/loss", h.trainLoss), ("train/acc", h.trainAccuracy), ("lr", h.learningRate),
                                                ("val/loss", h.validationLoss), ("val/acc", h.validationAccuracy),
                                                ("test/loss", h.testLoss), ("test/acc", h.testAccuracy)]
        return TagRun(name: h.name, summary: summary, series: curves.filter { !$0.1.isEmpty }.map {
            TagSeries(tag: $0.0, points: RunDisplay.points($0.1), wallTimes: [])
        })
    }

    /// The dashboard frame: every run by tag; the header's state is the first run's.
    func model(now: Date = Date()) -> DashboardModel {
        var runs: [TagRun] = [], states: [RunState] = []
        for s in sources {
            switch s {
            case .nntop(let h): runs.append(TensorBoardDisplay.tagRun(h)); states.append(RunDisplay.state(h))
            case .logdir(_, let rs):
                for r in rs { runs.append(TensorBoardDisplay.tagRun(r, now: now)); states.append(TensorBoardDisplay.isLive(r, now: now) ? .running : .done) }
            }
        }
        let first = runs.first ?? TagRun(name: "")
        let step = first.series.compactMap { $0.points.last.map { Int($0.x) } }.max() ?? 0
        let damaged = tensorBoardRuns.reduce(0) { $0 + $1.damagedRecords }
        var status = (states.contains(.running) ? "live logs read again every 2 s (a log is live while a file grew in the last \(Int(TensorBoardDisplay.liveWindow)) s)"
                                              : "finished logs") + "; / filter, t tag group, x step/time, q quits"
        if damaged > 0 { status = "\(damaged) damaged record\(damaged == 1 ? "" : "s") skipped; " + status }
        var m = DashboardModel(model: "tensorboard", state: states.first ?? .done, step: step, status: status,
                               runName: first.name, runSummary: first.summary, replay: true)
        m.tagRuns = runs
        return m
    }

    /// `--text`: each run's folder, then per tag its last value (and step), min and max.
    func text() -> String {
        var out = ""
        for s in sources {
            switch s {
            case .nntop(let h): out += RunDisplay.text([h])
            case .logdir(_, let runs):
                for r in runs {
                    out += "\(r.path)\n  tensorboard log · \(TensorBoardDisplay.summary(r)) · \(r.files.count) file\(r.files.count == 1 ? "" : "s")\n"
                    let w = max(3, r.tags.map(\.count).max() ?? 3)
                    out += "  " + "tag".padding(toLength: w, withPad: " ", startingAt: 0) + "        step          last           min           max\n"
                    for i in r.tags.indices {
                        guard let (last, lo, hi) = r.summary(of: i) else { continue }
                        func num(_ v: Double) -> String { String(format: "%14.6g", v) }
                        out += "  " + r.tags[i].padding(toLength: w, withPad: " ", startingAt: 0)
                            + String(format: " %11d", last.step) + num(last.value) + num(lo) + num(hi) + "\n"
                    }
                    out += "\n"
                }
            }
        }
        return out
    }
}
