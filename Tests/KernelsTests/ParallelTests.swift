import XCTest
@testable import Kernels

/// `Parallel.dynamic` hands out every item exactly once, to task indices inside the range it was given.
final class ParallelTests: XCTestCase {
    func testDynamicVisitsEveryItemOnce() {
        let saved = Parallel.maxThreads
        defer { Parallel.maxThreads = saved }
        for threads in [1, 2, 4] {
            Parallel.maxThreads = threads
            for (n, tasks) in [(0, 2), (1, 2), (7, 3), (1000, 2), (1000, 1)] {
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
    }
}
