import Foundation

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord framing uses it.
public enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    public static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    /// TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
    public static func masked<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        let c = checksum(bytes)
        return ((c >> 15) | (c << 17)) &+ 0xA282_EAD8
    }
}

/// Writes a TensorBoard event file `events.out.tfevents.<seconds>.<host>.<pid>` into a folder:
/// TFRecord framing around hand-encoded `Event` protobufs, a first `file_version` event, then one
/// event per scalar. Every record is appended with write(2) as it is made (no buffering), so a
/// killed run loses at most the record being written. A write error is remembered in `error` and
/// stops the writer; it never throws at the caller.
public final class TensorBoardWriter {
    public var path: String { file.path }
    private let file: AppendOnlyFile

    /// The first error (opening or writing), after which nothing more is written.
    public var error: String? { file.error }

    public init(directory: String, wallTime: Double = Date().timeIntervalSince1970) {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        let name = "events.out.tfevents.\(Int(wallTime)).\(host.isEmpty ? "localhost" : host).\(getpid())"
        file = AppendOnlyFile(path: (directory as NSString).appendingPathComponent(name))
        guard file.error == nil else { return }
        var event = ProtoWriter()
        event.double(field: 1, wallTime)
        event.string(field: 3, "brain.Event:2")
        writeRecord(event.bytes)
    }

    /// Appends one scalar: Event{wall_time, step, summary{value{tag, simple_value}}}.
    public func scalar(_ tag: String, _ value: Double, step: Int, wallTime: Double = Date().timeIntervalSince1970) {
        scalars([(tag, value)], step: step, wallTime: wallTime)
    }

    /// Appends one event per scalar, all at the same step.
    public func scalars(_ values: [(String, Double)], step: Int, wallTime: Double = Date().timeIntervalSince1970) {
        for (tag, value) in values {
            var v = ProtoWriter()
            v.string(field: 1, tag)
            v.float(field: 2, Float(value))
            var summary = ProtoWriter()
            summary.message(field: 1, v.bytes)
            var event = ProtoWriter()
            event.double(field: 1, wallTime)
            event.varint(field: 2, UInt64(bitPattern: Int64(step)))
            event.message(field: 5, summary.bytes)
            writeRecord(event.bytes)
        }
    }

    /// TFRecord: uint64 length (LE), masked CRC of those 8 bytes, the data, masked CRC of the data.
    static func frame(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 16)
        let length = littleEndianBytes(UInt64(data.count))
        out += length
        out += littleEndianBytes(CRC32C.masked(length))
        out += data
        out += littleEndianBytes(CRC32C.masked(data))
        return out
    }

    private func writeRecord(_ data: [UInt8]) { file.append(TensorBoardWriter.frame(data)) }
}

private func littleEndianBytes<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
    (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) }
}

/// Just enough protobuf encoding for TensorBoard's Event.
struct ProtoWriter {
    var bytes: [UInt8] = []

    mutating func rawVarint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }
    mutating func key(_ field: Int, _ wire: Int) { rawVarint(UInt64(field << 3 | wire)) }
    mutating func varint(field: Int, _ v: UInt64) { key(field, 0); rawVarint(v) }
    mutating func double(field: Int, _ v: Double) { key(field, 1); bytes += littleEndianBytes(v.bitPattern) }
    mutating func float(field: Int, _ v: Float) { key(field, 5); bytes += littleEndianBytes(v.bitPattern) }
    mutating func message(field: Int, _ b: [UInt8]) { key(field, 2); rawVarint(UInt64(b.count)); bytes += b }
    mutating func string(field: Int, _ s: String) { message(field: field, Array(s.utf8)) }
}

public struct TensorBoardError: Error, CustomStringConvertible, Equatable {
    public var description: String
}

/// Reads the scalars of a TensorBoard event file (for tests and checks): parses the TFRecord
/// framing, verifies both CRCs of every record, and decodes Event.step and
/// summary.value{tag, simple_value}, skipping unknown fields.
public enum TensorBoardReader {
    public struct Scalar: Equatable {
        public var tag: String
        public var step: Int
        public var value: Float
    }

    public static func scalars(_ path: String) throws -> [Scalar] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TensorBoardError(description: "cannot read \(path)")
        }
        return try scalars(data: [UInt8](data))
    }

    /// The file_version strings found (the first record should carry "brain.Event:2").
    public static func fileVersions(data: [UInt8]) throws -> [String] {
        var out: [String] = []
        for record in try records(data) {
            var r = ProtoReader(record[...])
            while let (field, wire) = try r.key() {
                if field == 3, wire == 2 { out.append(String(decoding: try r.lengthDelimited(), as: UTF8.self)) }
                else { try r.skip(wire) }
            }
        }
        return out
    }

    public static func scalars(data: [UInt8]) throws -> [Scalar] {
        var out: [Scalar] = []
        for record in try records(data) {
            var r = ProtoReader(record[...])
            var step = 0
            var values: [(String, Float)] = []
            while let (field, wire) = try r.key() {
                switch (field, wire) {
                case (2, 0): step = Int(Int64(bitPattern: try r.varint()))
                case (5, 2):
                    var summary = ProtoReader(try r.lengthDelimited())
                    while let (sf, sw) = try summary.key() {
                        guard sf == 1, sw == 2 else { try summary.skip(sw); continue }
                        var value = ProtoReader(try summary.lengthDelimited())
                        var tag = "", simple: Float?
                        while let (vf, vw) = try value.key() {
                            switch (vf, vw) {
                            case (1, 2): tag = String(decoding: try value.lengthDelimited(), as: UTF8.self)
                            case (2, 5): simple = Float(bitPattern: try value.fixed32())
                            default: try value.skip(vw)
                            }
                        }
                        if let simple { values.append((tag, simple)) }
                    }
                default: try r.skip(wire)
                }
            }
            out += values.map { Scalar(tag: $0.0, step: step, value: $0.1) }
        }
        return out
    }

    /// The payloads of a TFRecord file, each checked against its length and data CRCs.
    public static func records(_ data: [UInt8]) throws -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        var i = 0
        while i < data.count {
            guard data.count - i >= 12 else { throw TensorBoardError(description: "truncated record header at byte \(i)") }
            let lengthBytes = data[i..<i + 8]
            let length = readLE(UInt64.self, data, i)
            guard readLE(UInt32.self, data, i + 8) == CRC32C.masked(lengthBytes) else {
                throw TensorBoardError(description: "length CRC mismatch at byte \(i)")
            }
            guard length <= UInt64(data.count - i - 16) else {
                throw TensorBoardError(description: "truncated record at byte \(i)")
            }
            let start = i + 12, end = start + Int(length)
            let payload = data[start..<end]
            guard readLE(UInt32.self, data, end) == CRC32C.masked(payload) else {
                throw TensorBoardError(description: "data CRC mismatch at byte \(i)")
            }
            out.append(payload)
            i = end + 4
        }
        return out
    }

    private static func readLE<T: FixedWidthInteger>(_: T.Type, _ d: [UInt8], _ at: Int) -> T {
        var v: T = 0
        for k in 0..<(T.bitWidth / 8) { v |= T(d[at + k]) << (k * 8) }
        return v
    }
}

struct ProtoReader {
    var data: ArraySlice<UInt8>
    init(_ d: ArraySlice<UInt8>) { data = d }

    private func fail(_ what: String) -> TensorBoardError { TensorBoardError(description: "bad protobuf: \(what)") }

    mutating func varint() throws -> UInt64 {
        var v: UInt64 = 0, shift: UInt64 = 0
        while let b = data.first {
            data = data.dropFirst()
            guard shift < 64 else { throw fail("varint too long") }
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
        throw fail("truncated varint")
    }
    mutating func key() throws -> (Int, Int)? {
        if data.isEmpty { return nil }
        let k = try varint()
        guard k >> 3 <= UInt64(Int32.max) else { throw fail("field number too large") }
        return (Int(k >> 3), Int(k & 7))
    }
    mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, data.count >= n else { throw fail("truncated field") }
        let out = data.prefix(n)
        data = data.dropFirst(n)
        return out
    }
    mutating func lengthDelimited() throws -> ArraySlice<UInt8> {
        let n = try varint()
        guard n <= UInt64(data.count) else { throw fail("truncated field") }
        return try take(Int(n))
    }
    mutating func fixed32() throws -> UInt32 {
        try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }
    mutating func skip(_ wire: Int) throws {
        switch wire {
        case 0: _ = try varint()
        case 1: _ = try take(8)
        case 2: _ = try lengthDelimited()
        case 5: _ = try take(4)
        default: throw fail("unsupported wire type \(wire)")
        }
    }
}
