import Foundation

/// Reusable packing buffers, so a training step allocates nothing after its first call.
public final class ScratchPool: @unchecked Sendable {
    public static let shared = ScratchPool()
    private var free: [(UnsafeMutablePointer<Float>, Int)] = []
    private let lock = NSLock()
    /// Floats the pool has ever allocated (it never frees): what its buffers add to the process's memory.
    public private(set) var allocatedFloats = 0

    public func take(_ count: Int) -> (UnsafeMutablePointer<Float>, Int) {
        lock.lock(); defer { lock.unlock() }
        // Best fit: the smallest free buffer that is large enough, so a small request never takes the
        // buffer a later large one needs (which would then allocate, and fault in fresh pages, every step).
        var pick = -1
        for (i, b) in free.enumerated() where b.1 >= count && (pick < 0 || b.1 < free[pick].1) { pick = i }
        if pick >= 0 { return free.remove(at: pick) }
        var raw: UnsafeMutableRawPointer?
        let cap = max(count, 1024)
        allocatedFloats += cap
        guard posix_memalign(&raw, 64, cap * 4) == 0, let raw else { fatalError("out of memory (GEMM scratch)") }
        return (raw.bindMemory(to: Float.self, capacity: cap), cap)
    }

    public func give(_ buf: (UnsafeMutablePointer<Float>, Int)) {
        lock.lock(); defer { lock.unlock() }
        free.append(buf)
    }
}
