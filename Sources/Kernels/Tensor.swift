import Foundation
import CCacheHints

/// A float32 tensor: a shape and a 64-byte aligned, contiguous, row-major (NCHW) buffer.
/// Reference semantics on purpose: layers allocate their buffers once and reuse them every step.
public final class Tensor {
    public let shape: [Int]
    public let count: Int
    public let data: UnsafeMutablePointer<Float>
    /// Set for a view: the tensor whose memory this one reads (kept alive, never freed here).
    private let base: Tensor?

    /// The tensor that owns this one's memory: itself, or the one a view (of a view) reads.
    public var storage: Tensor { base?.storage ?? self }

    /// A reshaped view of `base`'s memory (e.g. flatten), no copy.
    public init(view base: Tensor, shape: [Int]) {
        precondition(shape.reduce(1, *) == base.count, "view \(shape) of \(base.shape)")
        self.shape = shape; count = base.count; data = base.data; self.base = base
    }

    /// A view of `shape.reduce(1, *)` consecutive floats of `base` from `offset` (a slice of the batch).
    public init(view base: Tensor, offset: Int, shape: [Int]) {
        let n = shape.reduce(1, *)
        precondition(offset >= 0 && offset + n <= base.count, "view \(shape) at \(offset) of \(base.shape)")
        self.shape = shape; count = n; data = base.data + offset; self.base = base
    }

    public init(shape: [Int]) {
        base = nil
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        count = shape.reduce(1, *)
        var raw: UnsafeMutableRawPointer?
        // Round up so a SIMD16 access at the tail never reads past the allocation.
        let bytes = max(64, (count * MemoryLayout<Float>.stride + 63) / 64 * 64)
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else { fatalError("out of memory allocating \(shape)") }
        data = raw.bindMemory(to: Float.self, capacity: bytes / 4)
        data.initialize(repeating: 0, count: bytes / 4)
    }

    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    deinit { if base == nil { free(data) } }

    public subscript(i: Int) -> Float {
        get { data[i] }
        set { data[i] = newValue }
    }

    public var array: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    public func fill(_ v: Float) { data.update(repeating: v, count: count) }
    public func zero() { fill(0) }

    public func copy(from other: Tensor) {
        precondition(other.count == count, "copy of \(other.shape) into \(shape)")
        data.update(from: other.data, count: count)
    }

    /// Returns `existing` when it already has `shape`, else a new zeroed tensor: how layers keep their buffers per batch size.
    public static func reuse(_ existing: Tensor?, _ shape: [Int]) -> Tensor {
        if let existing, existing.shape == shape { return existing }
        return Tensor(shape: shape)
    }
}

@inline(__always) func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

// 8-float vectors through the C shim: always inlined, where the standard library's spellings were not
// (CCacheHints/shim.h).
@inline(__always) func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { nntop_load8(p) }
@inline(__always) func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) { nntop_store8(p, v) }
@inline(__always) func low8(_ v: SIMD16<Float>) -> SIMD8<Float> { nntop_low8(v) }
@inline(__always) func high8(_ v: SIMD16<Float>) -> SIMD8<Float> { nntop_high8(v) }

@inline(__always) func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// d[0..<n] = s[0..<n] inline: the rows copied here are 5 to 800 floats, where a memmove call costs
/// more than the copy (figures in BENCHMARKS.md).
@inline(__always) func copyFloats(_ d: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    while i + 16 <= n { store16(load16(s + i), d + i); i += 16 }
    while i < n { d[i] = s[i]; i += 1 }
}

/// d[0..<n] = 0 inline, for the same reason.
@inline(__always) func zeroFloats(_ d: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    while i + 16 <= n { store16(SIMD16<Float>(), d + i); i += 16 }
    while i < n { d[i] = 0; i += 1 }
}
