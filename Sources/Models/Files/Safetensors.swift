import Foundation
import Kernels

/// A safetensors file: 8-byte little-endian header length, a JSON header naming each tensor's dtype,
/// shape and byte range, then the raw little-endian data. Nothing in it executes (unlike pickle).
public struct SafetensorsFile {
    public enum DType: String { case f32 = "F32", f64 = "F64", i64 = "I64", i32 = "I32", u8 = "U8"
        var size: Int { switch self { case .f64, .i64: 8; case .f32, .i32: 4; case .u8: 1 } }
    }
    public struct Entry { public let dtype: DType; public let shape: [Int]; public let range: Range<Int> }

    public let path: String
    public let entries: [String: Entry]
    public let metadata: [String: String]
    /// Tensor names in file order (by byte offset).
    public let names: [String]
    private let bytes: Data
    private let dataStart: Int

    public struct FormatError: Error, CustomStringConvertible { public let description: String }

    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FormatError(description: "\(path): cannot be read (missing or no permission)")
        }
        try self.init(data: data, path: path)
    }

    public init(data: Data, path: String) throws {
        func fail(_ s: String) -> FormatError { FormatError(description: "\(path): \(s)") }
        bytes = data; self.path = path
        guard data.count >= 8 else { throw fail("not a safetensors file (only \(data.count) bytes)") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8) else {
            throw fail("not a safetensors file, or truncated: header length \(headerLength) exceeds the file's \(data.count - 8) remaining bytes")
        }
        dataStart = 8 + Int(headerLength)
        guard let json = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<dataStart)),
              let header = json as? [String: Any] else { throw fail("header is not a JSON object (not a safetensors file?)") }
        var entries = [String: Entry]()
        var meta = [String: String]()
        let dataLength = data.count - dataStart
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (k, v) in m { meta[k] = v as? String ?? "\(v)" }
                continue
            }
            guard let e = value as? [String: Any], let dt = e["dtype"] as? String,
                  let shape = e["shape"] as? [Int], let offsets = e["data_offsets"] as? [Int], offsets.count == 2 else {
                throw fail("tensor \(name): entry needs dtype, shape and two data_offsets")
            }
            guard let dtype = DType(rawValue: dt) else { throw fail("tensor \(name): unsupported dtype \(dt)") }
            guard shape.allSatisfy({ $0 >= 0 && $0 < 1 << 40 }) else { throw fail("tensor \(name): invalid shape \(shape)") }
            guard offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= dataLength else {
                throw fail("tensor \(name): data_offsets \(offsets) lie outside the \(dataLength) data bytes (truncated?)")
            }
            let expected = shape.reduce(1, *) * dtype.size
            guard offsets[1] - offsets[0] == expected else {
                throw fail("tensor \(name): shape \(shape) of \(dt) needs \(expected) bytes, data_offsets give \(offsets[1] - offsets[0])")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, range: offsets[0]..<offsets[1])
        }
        let ordered = entries.sorted { $0.value.range.lowerBound < $1.value.range.lowerBound }
        let nonEmpty = ordered.filter { !$0.value.range.isEmpty }
        for (a, b) in zip(nonEmpty, nonEmpty.dropFirst()) where a.value.range.upperBound > b.value.range.lowerBound {
            throw fail("tensors \(a.key) and \(b.key) overlap in the data")
        }
        self.entries = entries; metadata = meta; names = ordered.map(\.key)
    }

    /// The tensor's values as float32 (F64 and integer tensors are converted).
    public func floats(_ name: String) throws -> [Float] {
        guard let e = entries[name] else { throw FormatError(description: "\(path): no tensor named \(name)") }
        let n = e.shape.reduce(1, *)
        return bytes.withUnsafeBytes { raw -> [Float] in
            let p = raw.baseAddress! + dataStart + e.range.lowerBound
            switch e.dtype {
            case .f32: return (0..<n).map { Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
            case .f64: return (0..<n).map { Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self)))) }
            case .i64: return (0..<n).map { Float(Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))) }
            case .i32: return (0..<n).map { Float(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
            case .u8: return (0..<n).map { Float(p.load(fromByteOffset: $0, as: UInt8.self)) }
            }
        }
    }

    /// The tensor's bytes as stored (little-endian, its dtype).
    public func rawBytes(_ name: String) -> Data {
        guard let e = entries[name] else { return Data() }
        return bytes.subdata(in: dataStart + e.range.lowerBound..<dataStart + e.range.upperBound)
    }

    /// The tensor's values as float64 (exact for F64 tensors).
    public func doubles(_ name: String) throws -> [Double] {
        guard let e = entries[name] else { throw FormatError(description: "\(path): no tensor named \(name)") }
        guard e.dtype == .f64 else { return try floats(name).map(Double.init) }
        return bytes.withUnsafeBytes { raw in
            let p = raw.baseAddress! + dataStart + e.range.lowerBound
            return (0..<e.shape.reduce(1, *)).map { Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) }
        }
    }

    /// Integer tensors (labels, counters) as Int64.
    public func int64s(_ name: String) throws -> [Int64] {
        guard let e = entries[name] else { throw FormatError(description: "\(path): no tensor named \(name)") }
        guard e.dtype == .i64 else { return try floats(name).map { Int64($0) } }
        return bytes.withUnsafeBytes { raw in
            let p = raw.baseAddress! + dataStart + e.range.lowerBound
            return (0..<e.shape.reduce(1, *)).map { Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
        }
    }
}

/// Builds a safetensors file; `write` puts it on disk atomically. Tensors added as `Tensor`s are read
/// only while writing, straight from their memory: a ResNet-18 checkpoint with its optimizer state
/// (90 MB) is then not copied twice on the way to the disk.
public struct SafetensorsWriter {
    private enum Payload { case bytes(Data), tensor(Tensor, ParameterLayout) }
    private var tensors: [(name: String, dtype: SafetensorsFile.DType, shape: [Int], payload: Payload)] = []
    public var metadata: [String: String] = [:]

    public init() {}

    public mutating func add(_ name: String, shape: [Int], floats: UnsafeBufferPointer<Float>) {
        var d = Data(capacity: floats.count * 4)
        for v in floats { withUnsafeBytes(of: v.bitPattern.littleEndian) { d.append(contentsOf: $0) } }
        tensors.append((name, .f32, shape, .bytes(d)))
    }

    /// A float tensor, kept by reference: its values are the ones it holds when the file is written,
    /// in PyTorch's order (reordered then, one tensor at a time, when `layout` is not that order).
    public mutating func add(_ name: String, shape: [Int], tensor: Tensor, layout: ParameterLayout = .torch) {
        precondition(shape.reduce(1, *) == tensor.count, "\(name): shape \(shape) for \(tensor.count) floats")
        tensors.append((name, .f32, shape, .tensor(tensor, layout)))
    }

    /// A tensor's stored bytes as they are (a copy of another file's tensor).
    public mutating func add(_ name: String, dtype: SafetensorsFile.DType, shape: [Int], bytes: Data) {
        precondition(shape.reduce(1, *) * dtype.size == bytes.count, "\(name): \(bytes.count) bytes for shape \(shape) of \(dtype.rawValue)")
        tensors.append((name, dtype, shape, .bytes(bytes)))
    }

    public mutating func add(_ name: String, shape: [Int], int64s: [Int64]) {
        var d = Data(capacity: int64s.count * 8)
        for v in int64s { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        tensors.append((name, .i64, shape, .bytes(d)))
    }

    private static func size(_ p: Payload) -> Int {
        switch p { case .bytes(let d): return d.count; case .tensor(let t, _): return t.count * 4 }
    }

    /// The 8-byte length and the JSON header (padded so the data is 8-byte aligned).
    private func header() throws -> Data {
        var header: [String: Any] = [:]
        var offset = 0
        for t in tensors {
            let n = Self.size(t.payload)
            header[t.name] = ["dtype": t.dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + n]]
            offset += n
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }   // pad with spaces so the data is 8-byte aligned
        var out = Data(capacity: 8 + json.count)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        return out
    }

    /// Calls `sink` with the file's bytes in order, a piece at a time.
    private func pieces(_ sink: (UnsafeRawBufferPointer) -> Bool) throws -> Bool {
        guard try header().withUnsafeBytes({ sink($0) }) else { return false }
        for t in tensors {
            switch t.payload {
            case .bytes(let d):
                guard d.withUnsafeBytes({ sink($0) }) else { return false }
            case .tensor(let tensor, let layout):
                guard layout.withTorchOrderChunks(tensor, { chunk in
                    #if _endian(little)
                    return sink(UnsafeRawBufferPointer(chunk))
                    #else
                    return chunk.map { $0.bitPattern.littleEndian }.withUnsafeBytes { sink($0) }
                    #endif
                }) else { return false }
            }
        }
        return true
    }

    public func serialized() throws -> Data {
        var out = Data()
        _ = try pieces { out.append(contentsOf: $0); return true }
        return out
    }

    /// Writes to a temporary file in the same folder, syncs it, then renames it over `path`: a crash
    /// at any moment leaves either the old file or the complete new one.
    public func write(to path: String) throws {
        try AtomicFile.write(to: path) { fd in
            try pieces { raw in AtomicFile.writeAll(fd, raw) }
        }
    }
}

public enum AtomicFile {
    public struct WriteError: Error, CustomStringConvertible {
        public let path: String, reason: String
        public var description: String { "cannot write \(path): \(reason)" }
    }

    public static func write(_ data: Data, to path: String) throws {
        try write(to: path) { fd in data.withUnsafeBytes { writeAll(fd, $0) } }
    }

    /// Writes all of `raw` to `fd`; false on an error (errno tells which).
    static func writeAll(_ fd: Int32, _ raw: UnsafeRawBufferPointer) -> Bool {
        var done = 0
        while done < raw.count {
            let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
            if n <= 0 { return false }
            done += n
        }
        return true
    }

    /// The atomic write with the content produced by `body`, which writes to the temporary file's
    /// descriptor and returns false on a write error.
    static func write(to path: String, _ body: (Int32) throws -> Bool) throws {
        let dir = (path as NSString).deletingLastPathComponent
        let tmp = (dir.isEmpty ? "." : dir) + "/.\((path as NSString).lastPathComponent).tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw WriteError(path: tmp, reason: String(cString: strerror(errno))) }
        let ok: Bool
        do { ok = try body(fd) } catch { close(fd); unlink(tmp); throw error }
        // errno of the first step that failed: the write, the sync or the rename.
        var failure: Int32 = ok ? 0 : errno
        if failure == 0 && fsync(fd) != 0 { failure = errno }
        close(fd)
        if failure == 0 && rename(tmp, path) != 0 { failure = errno }
        guard failure == 0 else {
            unlink(tmp)
            throw WriteError(path: path, reason: String(cString: strerror(failure)))
        }
        // Sync the directory so the rename itself survives a power cut.
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    /// Removes the temporary files of writers that were killed mid-write (their process is gone);
    /// returns their names. A live writer's file, another process's included, is left alone.
    @discardableResult
    public static func removeLeftovers(in dir: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        var removed: [String] = []
        for name in names where name.hasPrefix(".") {
            guard let r = name.range(of: ".tmp-", options: .backwards), let pid = pid_t(name[r.upperBound...]),
                  pid != getpid() else { continue }
            if kill(pid, 0) == 0 || errno == EPERM { continue }
            if unlink(dir + "/" + name) == 0 { removed.append(name) }
        }
        return removed
    }
}
