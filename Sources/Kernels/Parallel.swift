import Foundation
#if canImport(Synchronization)
import Synchronization
#endif

/// Splits work across cores. A persistent pool of worker threads takes each call's chunks; a call
/// costs a few hundred nanoseconds (an atomic generation bump that spinning workers see, a condition
/// signal when they have gone to sleep), where `DispatchQueue.concurrentPerform` costs more (DESIGN.md) and
/// wakes cores + 2 threads. Chunking depends only on `n`, `grain` and `maxThreads`, never on timing,
/// so reductions done per chunk give the same result run after run.
public enum Parallel {
    /// Upper bound on concurrently running chunks (`--threads`).
    nonisolated(unsafe) public static var maxThreads: Int = ProcessInfo.processInfo.activeProcessorCount

    /// Number of chunks `ranges(n, grain:)` splits into (1 inside `serial`).
    @inline(__always)
    public static func chunkCount(_ n: Int, grain: Int) -> Int {
        isSerial ? 1 : min(maxThreads, max(1, n / max(1, grain)))
    }

    /// Runs `body` with every kernel it calls on this thread unsplit: a model replica that owns one
    /// core for its slice of the batch (Models' Network.trainStep) pays no per-op fork/join. A
    /// thread-local flag, so the chunking never depends on what other threads are doing.
    public static func serial<R>(_ body: () -> R) -> R {
        let was = isSerial
        pthread_setspecific(serialKey, serialOn)
        defer { if !was { pthread_setspecific(serialKey, nil) } }
        return body()
    }

    private static let serialKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()
    nonisolated(unsafe) private static let serialOn = UnsafeMutableRawPointer(bitPattern: 1)!
    /// True inside `serial` on this thread.
    @inline(__always) public static var isSerial: Bool { pthread_getspecific(serialKey) != nil }

    /// Calls `body` on disjoint subranges covering `0..<n`; runs inline when the work is small.
    /// `grain` is the smallest range worth handing to another thread.
    public static func ranges(_ n: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard n > 0 else { return }
        let chunks = chunkCount(n, grain: grain)
        if chunks <= 1 { body(0..<n); return }
        run(chunks) { c in
            let lo = n * c / chunks, hi = n * (c + 1) / chunks
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Calls `body(i)` for every i in `0..<n`, chunked as `ranges`.
    public static func forEach(_ n: Int, grain: Int = 1, _ body: (Int) -> Void) {
        ranges(n, grain: grain) { r in for i in r { body(i) } }
    }

    /// Calls `body(t, i)` for every i in `0..<n`, items handed out in order to whichever of `tasks`
    /// concurrent tasks asks next (t: the task, for its own scratch). For work whose results do not
    /// depend on which task does an item (no per-task reductions): a core that runs slower this minute
    /// then takes fewer items instead of holding up the join.
    public static func dynamic(_ n: Int, tasks: Int, _ body: (Int, Int) -> Void) {
        guard tasks > 1 && n > 1 else { inOrder(n) { i in body(0, i) }; return }
        let next = Atomic<Int>(0)
        run(tasks) { t in
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if i >= n { break }
                body(t, i)
            }
        }
    }

    /// `dynamic`, with each task told the item it will take after this one (nil at the end): it claims
    /// that one before starting this, so a kernel can ask for the next item's input while it computes.
    public static func dynamicAhead(_ n: Int, tasks: Int, _ body: (Int, Int, Int?) -> Void) {
        guard tasks > 1 && n > 1 else { inOrder(n) { i in body(0, i, i + 1 < n ? i + 1 : nil) }; return }
        let next = Atomic<Int>(0)
        run(tasks) { t in
            var i = next.wrappingAdd(1, ordering: .relaxed).oldValue
            while i < n {
                let j = next.wrappingAdd(1, ordering: .relaxed).oldValue
                body(t, i, j < n ? j : nil)
                i = j
            }
        }
    }

    /// body(i) for i in 0..<n on this thread, through a call the optimiser keeps, as the pool's tasks call
    /// it: a kernel's work closure inlined into the kernel compiled to slower code (the 16-channel
    /// transformed conv took 2.5 ms on one thread, 1.5 ms called like this; BENCHMARKS.md).
    @inline(never)
    private static func inOrder(_ n: Int, _ body: (Int) -> Void) { for i in 0..<n { body(i) } }

    /// Calls `body(t)` for t in `0..<tasks` concurrently (one task per thread; tasks > maxThreads run in turn).
    public static func run(_ tasks: Int, _ body: (Int) -> Void) {
        guard tasks > 1 else { if tasks == 1 { body(0) }; return }
        #if os(Linux)
        WorkerPool.shared.run(tasks, body)
        #else
        DispatchQueue.concurrentPerform(iterations: tasks, execute: body)
        #endif
    }
}

#if os(Linux)
/// Persistent workers, each with its own slot: the caller publishes the job, bumps every helper's `go`
/// counter, runs its own share, then waits until every helper's `finished` counter has caught up. A
/// helper spins on its `go` for a while and then sleeps on a condition. Tasks are dealt statically
/// (task t to participant t % participants), and the job is only replaced once all helpers are done.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    final class Slot {
        let go = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        var pad: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
    }

    private let busy = Atomic<Bool>(false)
    private let sleepers = Atomic<Int>(0)
    nonisolated(unsafe) private var job: ((Int) -> Void)?
    nonisolated(unsafe) private var taskCount = 0
    nonisolated(unsafe) private var participants = 1
    nonisolated(unsafe) private var round = 0
    nonisolated(unsafe) private var slots: [Slot] = []
    private let cond = NSCondition()

    private func ensureWorkers(_ count: Int) {
        while slots.count < count {
            let slot = Slot(), index = slots.count + 1
            slots.append(slot)
            let t = Thread { [unowned self] in self.workerLoop(slot, index) }
            t.stackSize = 1 << 20
            t.start()
        }
    }

    func run(_ tasks: Int, _ body: (Int) -> Void) {
        // Re-entrant or concurrent callers run their tasks inline, in order: same chunks, same result.
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            for t in 0..<tasks { body(t) }
            return
        }
        defer { busy.store(false, ordering: .releasing) }
        let helpers = min(tasks, max(1, Parallel.maxThreads)) - 1
        if helpers == 0 { for t in 0..<tasks { body(t) }; return }
        ensureWorkers(helpers)
        withoutActuallyEscaping(body) { b in
            job = b; taskCount = tasks; participants = helpers + 1
            round += 1
            for i in 0..<helpers { slots[i].go.store(round, ordering: .sequentiallyConsistent) }
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 { cond.lock(); cond.broadcast(); cond.unlock() }
            var t = 0
            while t < tasks { b(t); t += participants }
            // Spin (a helper usually finishes within microseconds), yielding the core now and then
            // so an oversubscribed machine does not starve the helper we wait for.
            for i in 0..<helpers {
                var spins = 0
                while slots[i].finished.load(ordering: .acquiring) != round {
                    spins += 1
                    if spins & 1023 == 0 { sched_yield() }
                }
            }
            job = nil
        }
    }

    private func workerLoop(_ slot: Slot, _ index: Int) {
        var seen = 0
        while true {
            var spins = 0
            while slot.go.load(ordering: .acquiring) == seen {
                spins += 1
                if spins < 200_000 { if spins & 1023 == 0 { sched_yield() }; continue }
                cond.lock()
                sleepers.wrappingAdd(1, ordering: .sequentiallyConsistent)
                while slot.go.load(ordering: .sequentiallyConsistent) == seen {
                    _ = cond.wait(until: Date(timeIntervalSinceNow: 0.01))
                }
                sleepers.wrappingSubtract(1, ordering: .sequentiallyConsistent)
                cond.unlock()
            }
            seen = slot.go.load(ordering: .acquiring)
            if let job {
                var t = index
                while t < taskCount { job(t); t += participants }
            }
            slot.finished.store(seen, ordering: .releasing)
        }
    }
}
#endif
