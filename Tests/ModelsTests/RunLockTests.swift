import Foundation
import XCTest
@testable import Models

/// The run folder's lock (issue 15 item 5): one writer at a time, released when its holder goes,
/// and seen by readers.
final class RunLockTests: XCTestCase {
    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "nntop-lock-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    func testASecondHolderIsRefusedUntilTheFirstLetsGo() throws {
        let dir = try tempDir()
        XCTAssertFalse(RunLock.isHeld(directory: dir))   // no lock file yet
        var first: RunLock? = try RunLock(directory: dir)
        XCTAssertTrue(RunLock.isHeld(directory: dir))
        XCTAssertThrowsError(try RunLock(directory: dir)) { error in
            let f = error as? RunLock.Failure
            XCTAssertEqual(f?.isHeld, true)
            XCTAssertEqual(f?.heldBy, getpid())
            XCTAssertTrue("\(error)".contains(dir), "\(error)")
        }
        first = nil
        _ = first
        // The file stays; nobody holds it: free again.
        XCTAssertTrue(FileManager.default.fileExists(atPath: RunLock.path(in: dir)))
        XCTAssertFalse(RunLock.isHeld(directory: dir))
        XCTAssertNoThrow(try RunLock(directory: dir))
    }

    /// A process killed with SIGKILL holds no lock: the kernel drops it (a stale lock file never blocks).
    func testAKilledHoldersLockDoesNotBlock() throws {
        let dir = try tempDir()
        let p = Process()
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/flock") else { throw XCTSkip("no flock(1)") }
        // A shell takes the same flock(2) lock on the file (fd 9), then becomes `sleep` holding it:
        // one process, killed below with SIGKILL, no chance to unlock.
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", #"exec 9>"$0" && /usr/bin/flock -x 9 && exec sleep 60"#, RunLock.path(in: dir)]
        try p.run()
        addTeardownBlock { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let deadline = Date().addingTimeInterval(10)
        while !RunLock.isHeld(directory: dir) && Date() < deadline { usleep(20_000) }
        XCTAssertTrue(RunLock.isHeld(directory: dir))
        XCTAssertThrowsError(try RunLock(directory: dir))
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertFalse(RunLock.isHeld(directory: dir))
        XCTAssertNoThrow(try RunLock(directory: dir))
    }
}
