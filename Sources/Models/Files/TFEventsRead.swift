import Foundation

// Reading TensorBoard event files written by anyone (PyTorch's SummaryWriter, TensorFlow/Keras,
// Lightning, TensorBoard's own writer, nntop): TFRecord framing, then just enough of the Event,
// Summary and TensorProto messages (tensorboard/compat/proto/{event,summary,tensor}.proto) to get
// the scalars out. Decoded by hand over raw bytes: a 100 MB file is a million records, and one
// allocation per record would cost more than the reading (BENCHMARKS.md, "TensorBoard logs").
// Models is compiled -Ounchecked: every read below checks its bounds itself (the tfevents fuzz
// target, replayed under AddressSanitizer, holds us to it).

/// One scalar of a log: a tag's value at a step, and when it was written.
public struct ScalarPoint: Equatable, Sendable {
    public var step: Int
    public var wallTime: Double
    public var value: Double
    public init(step: Int, wallTime: Double, value: Double) { self.step = step; self.wallTime = wallTime; self.value = value }
}

/// What one Event record carries that the viewer uses.
struct DecodedEvent {
    var step = 0
    var wallTime = 0.0
    /// SessionLog.status (1 = START: a restarted run; everything it logged from `step` on is replaced).
    var sessionStatus = 0
    /// (tag bytes' range in the record, metadata plugin name if any, value if it is a scalar).
    var values: [(tag: Range<Int>, plugin: Range<Int>?, scalarMetadata: Bool, scalar: Double?, tensor: Bool)] = []
}

/// A protobuf cursor over raw bytes. Every read checks the bounds (nothing else does under -Ounchecked).
struct WireCursor {
    let base: UnsafeRawBufferPointer
    var pos: Int
    let end: Int

    init(_ base: UnsafeRawBufferPointer, _ range: Range<Int>) { self.base = base; pos = range.lowerBound; end = range.upperBound }

    var atEnd: Bool { pos >= end }

    mutating func varint() -> UInt64? {
        var v: UInt64 = 0, shift: UInt64 = 0
        while pos < end {
            let b = base[pos]
            pos += 1
            if shift >= 64 { return nil }
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
        return nil
    }
    /// (field, wire type), nil at the end or on a malformed key.
    mutating func key() -> (field: UInt64, wire: UInt64)? {
        guard pos < end, let k = varint() else { return nil }
        return (k >> 3, k & 7)
    }
    mutating func fixed64() -> UInt64? {
        guard end - pos >= 8 else { return nil }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(base[pos + i]) << (8 * UInt64(i)) }
        pos += 8
        return v
    }
    mutating func fixed32() -> UInt32? {
        guard end - pos >= 4 else { return nil }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(base[pos + i]) << (8 * UInt32(i)) }
        pos += 4
        return v
    }
    mutating func lengthDelimited() -> Range<Int>? {
        guard let n = varint(), n <= UInt64(end - pos) else { return nil }
        let r = pos..<(pos + Int(n))
        pos += Int(n)
        return r
    }
    /// Skips a field of this wire type; false when malformed (groups, 3 and 4, are not used by these messages).
    mutating func skip(_ wire: UInt64) -> Bool {
        switch wire {
        case 0: return varint() != nil
        case 1: return fixed64() != nil
        case 2: return lengthDelimited() != nil
        case 5: return fixed32() != nil
        default: return false
        }
    }
}

enum EventDecode {
    /// Decodes an Event; nil when the bytes are not a well-formed Event (counted as damaged).
    static func event(_ p: UnsafeRawBufferPointer, _ range: Range<Int>, into e: inout DecodedEvent) -> Bool {
        e.step = 0; e.wallTime = 0; e.sessionStatus = 0; e.values.removeAll(keepingCapacity: true)
        var c = WireCursor(p, range)
        while !c.atEnd {
            guard let (f, w) = c.key() else { return false }
            switch (f, w) {
            case (1, 1): guard let v = c.fixed64() else { return false }; e.wallTime = Double(bitPattern: v)
            case (2, 0): guard let v = c.varint() else { return false }; e.step = Int(truncatingIfNeeded: Int64(bitPattern: v))
            case (5, 2): guard let r = c.lengthDelimited(), summary(p, r, into: &e) else { return false }
            case (7, 2):
                guard let r = c.lengthDelimited() else { return false }
                var s = WireCursor(p, r)
                while !s.atEnd {
                    guard let (sf, sw) = s.key() else { return false }
                    if sf == 1, sw == 0 { guard let v = s.varint() else { return false }; e.sessionStatus = Int(truncatingIfNeeded: v) }
                    else if !s.skip(sw) { return false }
                }
            default: guard c.skip(w) else { return false }
            }
        }
        return true
    }

    /// Summary { repeated Value value = 1 }.
    static func summary(_ p: UnsafeRawBufferPointer, _ range: Range<Int>, into e: inout DecodedEvent) -> Bool {
        var c = WireCursor(p, range)
        while !c.atEnd {
            guard let (f, w) = c.key() else { return false }
            guard f == 1, w == 2 else { guard c.skip(w) else { return false }; continue }
            guard let r = c.lengthDelimited(), value(p, r, into: &e) else { return false }
        }
        return true
    }

    /// Summary.Value { tag = 1, simple_value = 2, tensor = 8, metadata = 9 } (images, histograms,
    /// audio are skipped).
    static func value(_ p: UnsafeRawBufferPointer, _ range: Range<Int>, into e: inout DecodedEvent) -> Bool {
        var c = WireCursor(p, range)
        var tag = range.lowerBound..<range.lowerBound, plugin: Range<Int>?, scalarClass = false
        var scalar: Double?, tensorScalar: Double?, isTensor = false
        while !c.atEnd {
            guard let (f, w) = c.key() else { return false }
            switch (f, w) {
            case (1, 2): guard let r = c.lengthDelimited() else { return false }; tag = r
            case (2, 5): guard let v = c.fixed32() else { return false }; scalar = Double(Float(bitPattern: v))
            case (8, 2):
                guard let r = c.lengthDelimited() else { return false }
                isTensor = true
                guard let t = tensor(p, r) else { return false }
                tensorScalar = t
            case (9, 2):
                guard let r = c.lengthDelimited(), let m = metadata(p, r) else { return false }
                plugin = m.plugin; scalarClass = m.scalarClass
            default: guard c.skip(w) else { return false }
            }
        }
        e.values.append((tag, plugin, scalarClass, scalar ?? tensorScalar, scalar == nil && isTensor))
        return true
    }

    /// SummaryMetadata { plugin_data = 1 { plugin_name = 1 }, data_class = 4 }.
    static func metadata(_ p: UnsafeRawBufferPointer, _ range: Range<Int>) -> (plugin: Range<Int>?, scalarClass: Bool)? {
        var c = WireCursor(p, range)
        var plugin: Range<Int>?, scalarClass = false
        while !c.atEnd {
            guard let (f, w) = c.key() else { return nil }
            if f == 1, w == 2 {
                guard let r = c.lengthDelimited() else { return nil }
                var d = WireCursor(p, r)
                while !d.atEnd {
                    guard let (df, dw) = d.key() else { return nil }
                    if df == 1, dw == 2 { guard let n = d.lengthDelimited() else { return nil }; plugin = n }
                    else if !d.skip(dw) { return nil }
                }
            } else if f == 4, w == 0 {
                guard let v = c.varint() else { return nil }
                scalarClass = v == 1  // DATA_CLASS_SCALAR
            } else if !c.skip(w) { return nil }
        }
        return (plugin, scalarClass)
    }

    /// A TensorProto's value when it holds exactly one number (rank 0, or every dimension 1), as
    /// `tensor_util.make_ndarray` reads it: `tensor_content` (raw little-endian, by dtype) when
    /// present, else the typed repeated field (packed or not). `.some(nil)`: a well-formed tensor
    /// that is not one number; nil: malformed.
    static func tensor(_ p: UnsafeRawBufferPointer, _ range: Range<Int>) -> Double?? {
        var c = WireCursor(p, range)
        var dtype: UInt64 = 0, elements = 1, content: Range<Int>?
        var floats: [Double] = [], doubles: [Double] = [], ints: [Double] = []
        while !c.atEnd {
            guard let (f, w) = c.key() else { return nil }
            switch (f, w) {
            case (1, 0): guard let v = c.varint() else { return nil }; dtype = v
            case (2, 2):
                // TensorShapeProto { repeated Dim dim = 2 { int64 size = 1 } }
                guard let r = c.lengthDelimited() else { return nil }
                var s = WireCursor(p, r)
                while !s.atEnd {
                    guard let (sf, sw) = s.key() else { return nil }
                    if sf == 2, sw == 2 {
                        guard let dr = s.lengthDelimited() else { return nil }
                        var d = WireCursor(p, dr), size: Int64 = 0
                        while !d.atEnd {
                            guard let (df, dw) = d.key() else { return nil }
                            if df == 1, dw == 0 { guard let v = d.varint() else { return nil }; size = Int64(bitPattern: v) }
                            else if !d.skip(dw) { return nil }
                        }
                        elements = size == 1 ? elements : 0
                    } else if !s.skip(sw) { return nil }
                }
            case (4, 2): guard let r = c.lengthDelimited() else { return nil }; content = r
            case (5, 5): guard let v = c.fixed32() else { return nil }; floats.append(Double(Float(bitPattern: v)))
            case (5, 2):
                guard let r = c.lengthDelimited(), r.count % 4 == 0 else { return nil }
                var q = WireCursor(p, r)
                while !q.atEnd, floats.count < 2, let v = q.fixed32() { floats.append(Double(Float(bitPattern: v))) }
            case (6, 1): guard let v = c.fixed64() else { return nil }; doubles.append(Double(bitPattern: v))
            case (6, 2):
                guard let r = c.lengthDelimited(), r.count % 8 == 0 else { return nil }
                var q = WireCursor(p, r)
                while !q.atEnd, doubles.count < 2, let v = q.fixed64() { doubles.append(Double(bitPattern: v)) }
            case (7, 0), (10, 0): guard let v = c.varint() else { return nil }; ints.append(Double(Int64(bitPattern: v)))
            case (7, 2), (10, 2):
                guard let r = c.lengthDelimited() else { return nil }
                var q = WireCursor(p, r)
                while !q.atEnd, ints.count < 2 { guard let v = q.varint() else { return nil }; ints.append(Double(Int64(bitPattern: v))) }
            default: guard c.skip(w) else { return nil }
            }
        }
        guard elements == 1 else { return .some(nil) }
        if let r = content {
            var q = WireCursor(p, r)
            switch dtype {
            case 1: return r.count == 4 ? .some(q.fixed32().map { Double(Float(bitPattern: $0)) }) : .some(nil)  // DT_FLOAT
            case 2: return r.count == 8 ? .some(q.fixed64().map { Double(bitPattern: $0) }) : .some(nil)         // DT_DOUBLE
            case 3: return r.count == 4 ? .some(q.fixed32().map { Double(Int32(bitPattern: $0)) }) : .some(nil)  // DT_INT32
            case 9: return r.count == 8 ? .some(q.fixed64().map { Double(Int64(bitPattern: $0)) }) : .some(nil)  // DT_INT64
            default: return .some(nil)
            }
        }
        switch dtype {
        case 1: return .some(floats.count == 1 ? floats[0] : nil)
        case 2: return .some(doubles.count == 1 ? doubles[0] : nil)
        case 3, 9: return .some(ints.count == 1 ? ints[0] : nil)
        default: return .some(nil)
        }
    }
}

/// Follows one event file: each `read` takes only the bytes added since the previous one, in
/// chunks, and hands every complete, checked record to the caller. Framing and checks are
/// TensorBoard's record reader's (uint64 length, masked CRC-32C of the length, data, masked CRC-32C
/// of the data). Where TensorBoard stops at a bad CRC and never reads past it, this skips the
/// damaged record and counts it: a bad data CRC skips that record (its length was checked); a bad
/// length CRC (the length cannot be trusted) searches forward for the next offset whose 12 header
/// bytes check out. A record not yet complete at the end (a writer mid-write) is left for the next
/// read.
public struct TFEventsFollower {
    public let path: String
    /// Bytes consumed: complete records and skipped damage. The next read starts here.
    public private(set) var offset: Int = 0
    /// Records skipped as damaged (bad CRC, or a checked record that is not an Event).
    public private(set) var damaged = 0
    /// Searching for the next good header after a damaged one (one damage, however long).
    private var resyncing = false
    /// The file's size at the last read.
    public private(set) var size: Int = 0
    /// Bytes after `offset` that are not yet a whole record (a file still being written).
    public var pending: Int { size - offset }

    /// Bytes read per call of read(2); a bigger record gets a buffer of its size.
    static let chunk = 1 << 22
    /// A length above this is taken as damage, not as a record still to come (TensorBoard's largest
    /// records, graphs, stay far below it).
    static let maxRecord = 1 << 30

    public init(path: String) { self.path = path }

    /// Reads what was appended since the last call; `record` gets each complete record's payload
    /// (valid only during the call). Returns false when the file cannot be opened or read.
    @discardableResult
    public mutating func read(_ record: (UnsafeRawBufferPointer, Range<Int>) -> Bool) -> Bool {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return false }
        size = Int(st.st_size)
        if size < offset { offset = 0 }  // truncated and rewritten: read it again from the start
        var buffer = [UInt8](repeating: 0, count: min(TFEventsFollower.chunk, max(0, size - offset)))
        var have = 0          // valid bytes in buffer
        var bufferStart = offset
        while true {
            // Fill the buffer from the file.
            let want = min(buffer.count - have, size - (bufferStart + have))
            if want > 0 {
                let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + have, want, off_t(bufferStart + have)) }
                if n < 0 { if errno == EINTR { continue }; return false }
                have += n
                if n == 0 { size = bufferStart + have }
            }
            var pos = 0
            var needMore = 0  // bytes a record at `pos` needs beyond what the buffer holds
            let stop: Bool = buffer.withUnsafeBytes { p in
                while true {
                    let left = have - pos
                    guard left >= 12 else { needMore = 12; return bufferStart + have >= size }
                    let length = p.loadUnaligned(fromByteOffset: pos, as: UInt64.self).littleEndian
                    let lengthCRC = p.loadUnaligned(fromByteOffset: pos + 8, as: UInt32.self).littleEndian
                    guard CRC32C.masked(UnsafeRawBufferPointer(rebasing: p[pos..<pos + 8])) == lengthCRC,
                          length <= UInt64(TFEventsFollower.maxRecord) else {
                        // Damage in the header: find the next offset whose header checks out.
                        if !resyncing { damaged += 1 }
                        resyncing = true
                        pos += 1
                        while have - pos >= 12 {
                            let l = p.loadUnaligned(fromByteOffset: pos, as: UInt64.self).littleEndian
                            if l <= UInt64(TFEventsFollower.maxRecord),
                               CRC32C.masked(UnsafeRawBufferPointer(rebasing: p[pos..<pos + 8])) == p.loadUnaligned(fromByteOffset: pos + 8, as: UInt32.self).littleEndian { break }
                            pos += 1
                        }
                        continue
                    }
                    resyncing = false
                    let total = 16 + Int(length)
                    guard left >= total else { needMore = total; return bufferStart + have >= size }
                    let data = (pos + 12)..<(pos + 12 + Int(length))
                    let dataCRC = p.loadUnaligned(fromByteOffset: data.upperBound, as: UInt32.self).littleEndian
                    if CRC32C.masked(UnsafeRawBufferPointer(rebasing: p[data])) == dataCRC {
                        if !record(p, data) { damaged += 1 }
                    } else {
                        damaged += 1
                    }
                    pos += total
                }
            }
            offset = bufferStart + pos
            if stop { return true }
            // Keep the partial record, move it to the front, and read on.
            let keep = have - pos
            if keep > 0 && pos > 0 { buffer.withUnsafeMutableBytes { b in _ = memmove(b.baseAddress!, b.baseAddress! + pos, keep) } }
            have = keep
            bufferStart = offset
            if needMore > buffer.count { buffer += [UInt8](repeating: 0, count: min(needMore, size - bufferStart) - buffer.count) }
            if buffer.count - have <= 0 { return true }
        }
    }
}

extension CRC32C {
    /// Over raw bytes, 8 at a time (slicing-by-8): the reader checks every byte of a log twice
    /// over (length and data), so this is most of its time.
    static func checksum(_ p: UnsafeRawBufferPointer) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        var i = 0
        let n = p.count
        slicing.withUnsafeBufferPointer { t in
            while n - i >= 8 {
                let lo = p.loadUnaligned(fromByteOffset: i, as: UInt32.self).littleEndian ^ c
                let hi = p.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self).littleEndian
                c = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                i += 8
            }
            while i < n {
                c = t[Int((c ^ UInt32(p[i])) & 0xFF)] ^ (c >> 8)
                i += 1
            }
        }
        return c ^ 0xFFFF_FFFF
    }

    static func masked(_ p: UnsafeRawBufferPointer) -> UInt32 {
        let c = checksum(p)
        return ((c >> 15) | (c << 17)) &+ 0xA282_EAD8
    }

    /// Table k maps a byte to its CRC contribution k bytes further on.
    private static let slicing: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            t[i] = c
        }
        for k in 1..<8 { for i in 0..<256 { t[k * 256 + i] = (t[(k - 1) * 256 + i] >> 8) ^ t[Int(t[(k - 1) * 256 + i] & 0xFF)] } }
        return t
    }()
}
