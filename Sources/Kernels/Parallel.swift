import Foundation

/// Splits work across cores with `DispatchQueue.concurrentPerform` in a few large chunks
/// (one call costs about 1 µs; many small calls would dominate small layers).
public enum Parallel {
    /// Upper bound on concurrently running chunks (`--threads`).
    nonisolated(unsafe) public static var maxThreads: Int = ProcessInfo.processInfo.activeProcessorCount

    /// Calls `body` on disjoint subranges covering `0..<n`; runs inline when the work is small.
    /// `grain` is the smallest range worth handing to another thread.
    public static func ranges(_ n: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard n > 0 else { return }
        let chunks = min(maxThreads, max(1, n / max(1, grain)))
        if chunks <= 1 { body(0..<n); return }
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = n * c / chunks, hi = n * (c + 1) / chunks
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Calls `body(i)` for every i in `0..<n`, chunked as `ranges`.
    public static func forEach(_ n: Int, grain: Int = 1, _ body: (Int) -> Void) {
        ranges(n, grain: grain) { r in for i in r { body(i) } }
    }
}
