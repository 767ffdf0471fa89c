import Foundation

/// One TensorBoard run: a folder holding `events.out.tfevents.*` files (read in name order, which
/// is the writers' creation order: the name starts with the creation time in seconds), turned
/// into a series of scalars per tag. `refresh()` reads only what the files gained since the last
/// call, and picks up files that appeared (a restarted writer opens a new one).
///
/// Which values are scalars, as TensorBoard's scalars plugin sees them:
/// - `simple_value` (TF1 summaries, PyTorch's SummaryWriter by default);
/// - a tensor holding one number (rank 0, or every dimension 1) whose tag's plugin is `scalars`
///   or whose metadata says DATA_CLASS_SCALAR: `float_val` (PyTorch `new_style=True`),
///   `double_val` (`double_precision=True`), or `tensor_content` by dtype (TF2/Keras
///   `tf.summary.scalar`). The plugin is taken from the first value of a tag that carries
///   metadata (TF2 writes it only on a tag's first value), as TensorBoard's accumulator does.
///
/// A `SessionLog.START` at step S (PyTorch's `SummaryWriter(purge_step=S)`, a restarted TF
/// supervisor) drops every point at step ≥ S seen so far, like TensorBoard's
/// `_CheckForRestartAndMaybePurge`: the restarted run logs those steps again.
public final class TensorBoardRun {
    public let path: String
    /// The run's name: its folder relative to the log directory named on the command line
    /// (TensorBoard's run names), or that directory's own name when it is the run.
    public let name: String
    /// Tags in the order they first appeared, and each tag's points in the order they were read.
    public private(set) var tags: [String] = []
    public private(set) var points: [[ScalarPoint]] = []
    /// When a file of this run last grew (at the first read: the newest file's modification time).
    public private(set) var lastGrowth = Date.distantPast
    /// How many SessionLog.START restarts purged earlier steps.
    public private(set) var restarts = 0
    private var followers: [TFEventsFollower] = []
    private var tagBytes: [[UInt8]] = []
    private var tagsByHash: [UInt64: [Int]] = [:]
    /// The plugin a tag's first metadata named, and whether that metadata said DATA_CLASS_SCALAR.
    private var tagPlugin: [String?] = []
    private var tagScalarClass: [Bool] = []
    /// Whether a tag's tensors are scalars (its plugin is `scalars`, or its metadata said
    /// DATA_CLASS_SCALAR): decided once per tag, not by a string compare per record.
    private var tagTensorsAreScalars: [Bool] = []
    /// The last tag looked up: logs interleave a few tags, so most lookups end here.
    private var recentTags: (hash: UInt64, index: Int) = (0, -1)
    private var event = DecodedEvent()

    /// Records skipped as damaged (bad CRC, or not an Event), over all files of the run.
    public var damagedRecords: Int { followers.reduce(0) { $0 + $1.damaged } }
    /// Bytes at the end of files that are not yet a whole record (a writer mid-record).
    public var pendingBytes: Int { followers.reduce(0) { $0 + $1.pending } }
    public var files: [String] { followers.map(\.path) }

    /// A file is an event file when its name contains "tfevents" (TensorBoard's own test,
    /// `io_wrapper.IsSummaryEventsFile`).
    public static func isEventFile(_ name: String) -> Bool { name.contains("tfevents") }

    public init(directory: String, name: String) {
        path = directory
        self.name = name
        refresh()
    }

    /// The value of `tag` at its newest step read, and min and max over the tag (NaN-free).
    public func summary(of i: Int) -> (last: ScalarPoint, min: Double, max: Double)? {
        guard let last = points[i].last else { return nil }
        var lo = Double.infinity, hi = -Double.infinity
        for p in points[i] where p.value.isFinite { lo = Swift.min(lo, p.value); hi = Swift.max(hi, p.value) }
        return (last, lo, hi)
    }

    /// Reads what every file gained since the last call, and any new file. True when something changed.
    @discardableResult
    public func refresh() -> Bool {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
            .filter(TensorBoardRun.isEventFile).sorted()
        for n in names {
            let p = (path as NSString).appendingPathComponent(n)
            if !followers.contains(where: { $0.path == p }) { followers.append(TFEventsFollower(path: p)) }
        }
        var changed = false
        for i in followers.indices {
            let before = (followers[i].offset, followers[i].size, followers[i].damaged)
            followers[i].read { p, range in self.take(p, range) }
            if before != (followers[i].offset, followers[i].size, followers[i].damaged) {
                changed = true
                // The file's modification time is when it last grew.
                lastGrowth = max(lastGrowth, modificationTime(followers[i].path))
            }
        }
        return changed
    }

    private func modificationTime(_ p: String) -> Date {
        (try? FileManager.default.attributesOfItem(atPath: p)[.modificationDate] as? Date) ?? .distantPast
    }

    /// One checked record: false when it is not an Event (counted as damaged by the follower).
    private func take(_ p: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        guard EventDecode.event(p, range, into: &event) else { return false }
        if event.sessionStatus == 1 { purge(from: event.step) }
        for v in event.values {
            let i = tagIndex(p, v.tag)
            if let pr = v.plugin, tagPlugin[i] == nil, !tagScalarClass[i] {
                tagPlugin[i] = String(decoding: UnsafeRawBufferPointer(rebasing: p[pr]), as: UTF8.self)
                tagScalarClass[i] = v.scalarMetadata
                tagTensorsAreScalars[i] = tagPlugin[i] == "scalars" || v.scalarMetadata
            } else if v.scalarMetadata, tagPlugin[i] == nil {
                tagScalarClass[i] = true
                tagTensorsAreScalars[i] = true
            }
            guard let x = v.scalar else { continue }
            // A tensor counts only when its tag belongs to the scalars plugin (a one-number
            // histogram or text tensor is not a scalar); simple_value always does.
            if v.tensor && !tagTensorsAreScalars[i] { continue }
            points[i].append(ScalarPoint(step: event.step, wallTime: event.wallTime, value: x))
        }
        return true
    }

    /// The index of a tag, added on first sight. Hash lookup without building a String per record.
    private func tagIndex(_ p: UnsafeRawBufferPointer, _ r: Range<Int>) -> Int {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a
        for k in r { h = (h ^ UInt64(p[k])) &* 0x100_0000_01B3 }
        let bytes = UnsafeRawBufferPointer(rebasing: p[r])
        func same(_ i: Int) -> Bool {
            tagBytes[i].count == bytes.count
                && tagBytes[i].withUnsafeBytes { bytes.count == 0 || memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 }
        }
        if recentTags.hash == h, recentTags.index >= 0, same(recentTags.index) { return recentTags.index }
        if let candidates = tagsByHash[h] {
            for i in candidates where same(i) { recentTags = (h, i); return i }
        }
        let i = tags.count
        tagBytes.append([UInt8](bytes))
        tags.append(String(decoding: bytes, as: UTF8.self))
        points.append([])
        tagPlugin.append(nil)
        tagScalarClass.append(false)
        tagTensorsAreScalars.append(false)
        tagsByHash[h, default: []].append(i)
        return i
    }

    private func purge(from step: Int) {
        var dropped = false
        for i in points.indices {
            let n = points[i].count
            points[i].removeAll { $0.step >= step }
            dropped = dropped || points[i].count != n
        }
        if dropped { restarts += 1 }
    }
}

extension TensorBoardRun {
    /// Why a path holds no TensorBoard log; the description names it.
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    /// The runs under a log directory, as `tensorboard --logdir DIR` finds them: DIR itself when it
    /// holds event files, and every folder below it that does, named by its path relative to DIR.
    /// Sorted by name. Empty when there are none.
    public static func runFolders(under dir: String) -> [(path: String, name: String)] {
        let fm = FileManager.default
        func hasEvents(_ d: String) -> Bool { ((try? fm.contentsOfDirectory(atPath: d)) ?? []).contains(where: isEventFile) }
        var out: [(String, String)] = []
        let rootName = ((dir as NSString).standardizingPath as NSString).lastPathComponent
        if hasEvents(dir) { out.append((dir, rootName)) }
        var sub: [String] = []
        if let e = fm.enumerator(atPath: dir) {
            while let rel = e.nextObject() as? String {
                var isDir: ObjCBool = false
                let full = (dir as NSString).appendingPathComponent(rel)
                if fm.fileExists(atPath: full, isDirectory: &isDir), isDir.boolValue, hasEvents(full) { sub.append(rel) }
            }
        }
        for rel in sub.sorted() { out.append(((dir as NSString).appendingPathComponent(rel), rel)) }
        return out
    }
}
