import Foundation
import XCTest

/// The nntop executable `swift test` builds next to the test bundle, and the one way these tests
/// run a child process: every wait has a deadline, after which the child is killed and the test
/// fails with what it printed so far (no test can hang CI).
enum NntopBinary {
    static let url = Bundle.main.bundleURL.appendingPathComponent("nntop")

    struct Result { var status: Int32; var out: String; var err: String }

    /// Runs nntop (or `executable`) with `args` (no standard input) to completion, at most `timeout`
    /// seconds, and returns its exit status and output.
    static func run(_ args: [String], cwd: String? = nil, executable: String? = nil, timeout: TimeInterval = 180,
                    file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        let child = try Child(args, cwd: cwd, executable: executable)
        return try child.finish(timeout: timeout, file: file, line: line)
    }
}

/// A child process whose standard output and error are read as they come (on background threads),
/// so a test can wait, with a deadline, for a line to appear, signal it, and collect the rest.
final class Child {
    struct TimedOut: Error, CustomStringConvertible { var description: String }

    let process = Process()
    private let lock = NSLock()
    private var outData = Data(), errData = Data()
    private var openStreams = 2
    private let streamsClosed = DispatchSemaphore(value: 0)
    private let exited = DispatchSemaphore(value: 0)
    let what: String

    var pid: pid_t { process.processIdentifier }
    /// What the child has printed so far.
    var out: String { lock.lock(); defer { lock.unlock() }; return String(decoding: outData, as: UTF8.self) }
    var err: String { lock.lock(); defer { lock.unlock() }; return String(decoding: errData, as: UTF8.self) }

    init(_ args: [String], cwd: String? = nil, executable: String? = nil, environment: [String: String]? = nil) throws {
        process.executableURL = executable.map { URL(fileURLWithPath: $0) } ?? NntopBinary.url
        process.arguments = args
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        if let environment { process.environment = environment }
        what = ([process.executableURL!.lastPathComponent] + args).joined(separator: " ")
        let out = Pipe(), err = Pipe()
        process.standardOutput = out; process.standardError = err
        process.standardInput = FileHandle.nullDevice
        process.terminationHandler = { [exited] _ in exited.signal() }
        try process.run()
        for (pipe, isOut) in [(out, true), (err, false)] {
            let handle = pipe.fileHandleForReading
            Thread.detachNewThread { [self] in
                while true {
                    let chunk = handle.availableData
                    lock.lock()
                    if chunk.isEmpty {
                        openStreams -= 1
                        lock.unlock()
                        streamsClosed.signal()
                        return
                    }
                    if isOut { outData.append(chunk) } else { errData.append(chunk) }
                    lock.unlock()
                }
            }
        }
    }

    /// Kills the child (SIGKILL), fails the test with what it printed, and throws.
    private func giveUp(_ why: String, file: StaticString, line: UInt) -> TimedOut {
        kill(pid, SIGKILL)
        let message = "\(what): \(why); killed it. stdout so far:\n\(out)\nstderr so far:\n\(err)"
        XCTFail(message, file: file, line: line)
        return TimedOut(description: "\(what): \(why)")
    }

    /// Waits until stdout (or stderr) contains `text`; fails and kills the child after `timeout`
    /// seconds, or when it exits without printing it. Returns the stream's text so far.
    @discardableResult
    func waitFor(_ text: String, inStderr: Bool = false, timeout: TimeInterval = 120,
                 file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let end = Date().addingTimeInterval(timeout)
        while true {
            let got = inStderr ? err : out
            if got.contains(text) { return got }
            if !process.isRunning {
                // It may have printed the text just before exiting: give the readers a moment.
                let closed = end < Date().addingTimeInterval(5) ? end : Date().addingTimeInterval(5)
                if waitStreams(until: closed), (inStderr ? err : out).contains(text) { return inStderr ? err : out }
                throw giveUp("exited (status \(process.terminationStatus)) without printing '\(text)'", file: file, line: line)
            }
            guard Date() < end else { throw giveUp("no '\(text)' within \(Int(timeout)) s", file: file, line: line) }
            usleep(20_000)
        }
    }

    private func waitStreams(until end: Date) -> Bool {
        while true {
            lock.lock(); let open = openStreams; lock.unlock()
            if open == 0 { return true }
            if streamsClosed.wait(timeout: .now() + max(0, end.timeIntervalSinceNow)) == .timedOut { return false }
        }
    }

    /// Waits for the child to exit and its output to end, at most `timeout` seconds.
    func finish(timeout: TimeInterval = 180, file: StaticString = #filePath, line: UInt = #line) throws -> NntopBinary.Result {
        let end = Date().addingTimeInterval(timeout)
        if exited.wait(timeout: .now() + timeout) == .timedOut {
            throw giveUp("still running after \(Int(timeout)) s", file: file, line: line)
        }
        exited.signal()   // later calls see it exited too
        // A grandchild could hold the pipes open: the output gets a deadline too.
        guard waitStreams(until: max(end, Date().addingTimeInterval(10))) else {
            throw giveUp("exited but its output did not end", file: file, line: line)
        }
        return NntopBinary.Result(status: process.terminationStatus, out: out, err: err)
    }

    /// How the child ended: .exit or .uncaughtSignal (after `finish`).
    var terminationReason: Process.TerminationReason { process.terminationReason }
}
