import Foundation

/// The machine's measured FMA peak: every thread runs a chain of independent `SIMD16<Float>` FMAs
/// (enough accumulators to cover the FMA latency), the same instructions the GEMM microkernel issues.
/// Returns GFLOP/s summed over `threads` concurrent tasks of the worker pool (capped by `Parallel.maxThreads`).
public func measurePeakGFLOPs(threads: Int, seconds: Double = 0.2) -> Double {
    let iterations = 1 << 20
    // 12 chains where 32 vector registers hold them (AVX-512); 6 with AVX2's 16 of 8 floats, where 12
    // spilled and the figure read low (`wideRegisters`).
    let chains = wideRegisters ? 12 : 6
    func chain(_ seed: Float) -> Float {
        var a0 = SIMD16<Float>(repeating: seed), a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3, a4 = a0 + 4, a5 = a0 + 5
        var a6 = a0 + 6, a7 = a0 + 7, a8 = a0 + 8, a9 = a0 + 9, a10 = a0 + 10, a11 = a0 + 11
        let m = SIMD16<Float>(repeating: 0.999_999), c = SIMD16<Float>(repeating: 1e-7)
        for _ in 0..<iterations {
            a0 = a0.addingProduct(m, c); a1 = a1.addingProduct(m, c); a2 = a2.addingProduct(m, c)
            a3 = a3.addingProduct(m, c); a4 = a4.addingProduct(m, c); a5 = a5.addingProduct(m, c)
            if wideRegisters {
                a6 = a6.addingProduct(m, c); a7 = a7.addingProduct(m, c); a8 = a8.addingProduct(m, c)
                a9 = a9.addingProduct(m, c); a10 = a10.addingProduct(m, c); a11 = a11.addingProduct(m, c)
            }
        }
        let s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11
        return s.sum()
    }
    let flopsPerChain = Double(iterations) * Double(chains) * 16 * 2
    var best = 0.0
    let start = DispatchTime.now().uptimeNanoseconds
    let sink = UnsafeMutablePointer<Float>.allocate(capacity: max(1, threads))
    defer { sink.deallocate() }
    repeat {
        let t0 = DispatchTime.now().uptimeNanoseconds
        Parallel.run(max(1, threads)) { i in sink[i] = chain(Float(i) * 1e-3) }
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        best = max(best, flopsPerChain * Double(max(1, threads)) / dt / 1e9)
    } while Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 < seconds
    return best
}

/// GFLOP/s of the 8×32 register tile (`microTile`) on one thread with `k`-deep L1/L2-resident panels, the
/// best of `runs` timed batches of calls (a probe for kernel work: how close the inner loop itself
/// comes to the FMA peak).
public func measureMicrokernelGFLOPs(k: Int, runs: Int = 20) -> Double {
    let a = UnsafeMutablePointer<Float>.allocate(capacity: 8 * k + 16), b = UnsafeMutablePointer<Float>.allocate(capacity: 32 * k + 16)
    let t = UnsafeMutablePointer<Float>.allocate(capacity: 256)
    defer { a.deallocate(); b.deallocate(); t.deallocate() }
    a.initialize(repeating: 0.001, count: 8 * k + 16); t.initialize(repeating: 0, count: 256); b.initialize(repeating: 0.002, count: 32 * k + 16)
    // About 10 M multiply-adds per timed batch: long against the clock's resolution, short enough that
    // the best of them misses the other processes' interruptions.
    let calls = max(1, 10_000_000 / max(1, k * 8 * 32))
    var best = Double.infinity
    for run in 0...runs {
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<calls { microTile(k, a, b, t, accumulate: true) }
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        if run > 0 { best = min(best, dt) }   // run 0 warms up
    }
    return Double(calls) * Double(k) * 8 * 32 * 2 / best / 1e9
}
