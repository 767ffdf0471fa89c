import XCTest
@testable import Kernels

/// `Parallel.dynamic` and `dynamicAhead` hand out every item exactly once, to task indices inside the
/// range they were given.
final class ParallelTests: XCTestCase {
    /// `body(n, tasks, threads)` for each pool size and work shape, `Parallel.maxThreads` restored after.
    private func forEachShape(_ body: (Int, Int, Int) -> Void) {
        let saved = Parallel.maxThreads
        defer { Parallel.maxThreads = saved }
        for threads in [1, 2, 4] {
            Parallel.maxThreads = threads
            for (n, tasks) in [(0, 2), (1, 2), (7, 3), (1000, 2), (1000, 1)] { body(n, tasks, threads) }
        }
    }

    func testDynamicVisitsEveryItemOnce() {
        forEachShape { n, tasks, threads in
            let visits = UnsafeMutablePointer<Int>.allocate(capacity: max(1, n))
            visits.initialize(repeating: 0, count: max(1, n))
            defer { visits.deallocate() }
            let badTask = UnsafeMutablePointer<Int>.allocate(capacity: 1)
            badTask.initialize(to: 0)
            defer { badTask.deallocate() }
            Parallel.dynamic(n, tasks: tasks) { t, i in
                visits[i] += 1
                if t < 0 || t >= tasks { badTask.pointee = 1 }
            }
            XCTAssertEqual((0..<n).filter { visits[$0] != 1 }.count, 0, "n \(n) tasks \(tasks) threads \(threads)")
            XCTAssertEqual(badTask.pointee, 0, "task index outside 0..<\(tasks)")
        }
    }

    /// The join waits for a helper far slower than the caller: every task's write is there when `run`
    /// returns, round after round.
    func testRunWaitsForASlowHelper() {
        let saved = Parallel.maxThreads
        defer { Parallel.maxThreads = saved }
        Parallel.maxThreads = 2
        let done = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        defer { done.deallocate() }
        for round in 1...5 {
            done.initialize(repeating: 0, count: 2)
            Parallel.run(2) { t in
                // Task 1 runs on the helper, 5 ms behind the caller.
                if t == 1 { usleep(5_000) }
                done[t] = round
            }
            XCTAssertEqual([done[0], done[1]], [round, round], "round \(round)")
        }
    }

    /// `run`: every task of every round exactly once, and finished when `run` returns, over rounds of 1 to 5
    /// tasks on 2 and 3 threads, every 7th round's task 1 held back 0.2 ms so that the caller ends first.
    func testRunRunsEveryTaskOnce() {
        let saved = Parallel.maxThreads
        defer { Parallel.maxThreads = saved }
        for threads in [2, 3] {
            Parallel.maxThreads = threads
            let runs = UnsafeMutablePointer<Int>.allocate(capacity: 5)
            defer { runs.deallocate() }
            var wrong = 0
            for round in 0..<3000 {
                let tasks = 1 + round % 5
                runs.initialize(repeating: 0, count: 5)
                Parallel.run(tasks) { t in
                    if t == 1 && round % 7 == 0 { usleep(200) }
                    runs[t] += 1
                }
                if (0..<tasks).contains(where: { runs[$0] != 1 }) || (tasks..<5).contains(where: { runs[$0] != 0 }) { wrong += 1 }
            }
            XCTAssertEqual(wrong, 0, "rounds with a task run other than once, \(threads) threads")
        }
    }

    /// `dynamicAhead`: every item once, and the `next` a task is told is the item that same task runs next
    /// (nil after its last), so a prefetch of it lands on the core that reads it.
    func testDynamicAheadTellsEachTaskItsNextItem() {
        forEachShape { n, tasks, threads in
            // Per task, the (item, next) pairs in the order it ran them; each task appends only to its own.
            var runs = [[(Int, Int?)]](repeating: [], count: max(1, tasks))
            runs.withUnsafeMutableBufferPointer { r in
                Parallel.dynamicAhead(n, tasks: tasks) { t, i, next in r[t].append((i, next)) }
            }
            let items = runs.flatMap { $0.map(\.0) }.sorted()
            XCTAssertEqual(items, Array(0..<n), "n \(n) tasks \(tasks) threads \(threads)")
            for (t, run) in runs.enumerated() {
                for (k, (_, next)) in run.enumerated() {
                    XCTAssertEqual(next, k + 1 < run.count ? run[k + 1].0 : nil, "task \(t) step \(k), n \(n)")
                }
            }
        }
    }
}
