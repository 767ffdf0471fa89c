import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A connection to a run's control socket: the snapshot it keeps up to date from the server's
/// updates (on a reader thread), and the commands it sends. `latest()`, `send(_:)` and
/// `isFinished` are the Trainer's own: a dashboard draws an attached run exactly as it draws one it
/// trains.
public final class ControlClient {
    public struct Failure: Error, CustomStringConvertible { public var description: String }

    public let runDir: String
    private let fd: Int32
    private let lock = NSLock()
    private let firstUpdate = DispatchSemaphore(value: 0)
    private var snapshot = TrainingSnapshot.blank
    private var ended = false
    private var connected = true
    private var gotFirst = false
    private var serverError: String?
    public private(set) var run: ControlUpdate.Run?
    private var attachedClients: [String] = []
    private var readerDone = DispatchSemaphore(value: 0)

    /// Connects to the run in `runDir` as `role` ("dashboard" or "script") and waits (at most
    /// `timeout` seconds) for the first, full update. Throws one sentence naming the run when it is
    /// not live, belongs to someone else, or does not answer.
    public init(runDir: String, role: String = "dashboard", timeout: Double = 10) throws {
        self.runDir = runDir
        let path = ControlWire.socketPath(in: runDir)
        guard FileManager.default.fileExists(atPath: runDir) else { throw Failure(description: "\(runDir): no such run folder") }
        do { fd = try UnixSocket.connect(path: path) } catch {
            if !RunLock.isHeld(directory: runDir) {
                throw Failure(description: "\(runDir): not a live run (no training process holds it; nntop view \(runDir) shows its log)")
            }
            throw Failure(description: "\(runDir): cannot reach the run's control socket: \(error)")
        }
        // The server must be the run's owner too: no one else's socket is talked to.
        guard let cred = UnixSocket.peer(fd), cred.uid == geteuid() else {
            close(fd)
            throw Failure(description: "\(runDir): its control socket belongs to another user; not attaching")
        }
        var tty: String?
        if let name = ttyname(STDIN_FILENO) { tty = String(cString: name).replacingOccurrences(of: "/dev/", with: "") }
        var timeoutValue = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeoutValue, socklen_t(MemoryLayout<timeval>.size))
        guard write(ControlRequest(hello: role, tty: tty)) else {
            close(fd)
            throw Failure(description: "\(runDir): the run hung up")
        }
        let t = Thread { [self] in readLoop(); readerDone.signal() }
        t.name = "nntop.attach"
        t.start()
        if firstUpdate.wait(timeout: .now() + timeout) == .timedOut {
            shutdown(fd, Int32(SHUT_RDWR))
            throw Failure(description: "\(runDir): the run did not answer within \(Int(timeout)) s")
        }
        lock.lock(); let e = serverError; let ok = gotFirst; lock.unlock()
        if let e { throw Failure(description: "\(runDir): \(e)") }
        if !ok { throw Failure(description: "\(runDir): the run hung up (it may have just ended)") }
    }

    deinit {
        shutdown(fd, Int32(SHUT_RDWR))
        _ = readerDone.wait(timeout: .now() + 2)
        close(fd)
    }

    /// The newest snapshot the server sent.
    public func latest() -> TrainingSnapshot { lock.lock(); defer { lock.unlock() }; return snapshot }

    /// True once the trainer has finished (its last update arrived), or the connection was lost.
    public var isFinished: Bool { lock.lock(); defer { lock.unlock() }; return ended || !connected }
    /// Whether the trainer itself ended (not only the connection).
    public var trainerEnded: Bool { lock.lock(); defer { lock.unlock() }; return ended }
    public var isConnected: Bool { lock.lock(); defer { lock.unlock() }; return connected }
    public var attached: [String] { lock.lock(); defer { lock.unlock() }; return attachedClients }

    /// Sends a command (intent, as a key does); false when the connection is gone.
    @discardableResult
    public func send(_ c: TrainerCommand) -> Bool { write(ControlRequest(c)) }

    /// Waits until `predicate` holds for the newest snapshot, the connection ends, or `timeout`
    /// seconds pass; returns whether it held.
    public func wait(timeout: Double, until predicate: (TrainingSnapshot) -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if predicate(latest()) { return true }
            if !isConnected { return predicate(latest()) }
            usleep(20_000)
        }
        return predicate(latest())
    }

    /// Closes the connection (the run goes on).
    public func disconnect() { shutdown(fd, Int32(SHUT_RDWR)) }

    private func write(_ r: ControlRequest) -> Bool {
        guard let body = try? ControlWire.encoder.encode(r) else { return false }
        return UnixSocket.writeAll(fd, ControlWire.frame(body))
    }

    private func readExactly(_ n: Int, into buf: inout [UInt8]) -> Bool {
        buf = [UInt8](repeating: 0, count: n)
        var off = 0
        while off < n {
            let r = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + off, n - off, 0) }
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { return false }
            off += r
        }
        return true
    }

    private func readLoop() {
        var header: [UInt8] = [], body: [UInt8] = []
        let decoder = ControlWire.decoder()
        defer {
            lock.lock(); connected = false; lock.unlock()
            firstUpdate.signal()
        }
        while readExactly(4, into: &header) {
            let n = header.withUnsafeBytes { ControlWire.length($0) }
            guard n > 0 && n <= ControlWire.maxUpdateBytes, readExactly(n, into: &body) else { return }
            let data = Data(body)
            guard let u = try? decoder.decode(ControlUpdate.self, from: data) else {
                if let e = try? decoder.decode([String: String].self, from: data), let why = e["error"] {
                    lock.lock(); serverError = why; lock.unlock()
                }
                return
            }
            lock.lock()
            if u.full || gotFirst {
                snapshot.apply(u)
                if let r = u.run { run = r }
                if let c = u.clients { attachedClients = c }
                ended = ended || u.ended
            }
            let first = !gotFirst && u.full
            if u.full { gotFirst = true }
            lock.unlock()
            if first { firstUpdate.signal() }
        }
    }

    /// One live run's status for `nntop ls`: pid, state, step, who is attached; nil when it does not
    /// answer within `timeout` seconds.
    public static func status(runDir: String, timeout: Double = 2) -> (run: ControlUpdate.Run, snapshot: TrainingSnapshot, attached: [String])? {
        guard let fd = try? UnixSocket.connect(path: ControlWire.socketPath(in: runDir)) else { return nil }
        defer { close(fd) }
        guard let cred = UnixSocket.peer(fd), cred.uid == geteuid(),
              let hello = try? ControlWire.encoder.encode(ControlRequest(hello: "status")),
              UnixSocket.writeAll(fd, ControlWire.frame(hello)) else { return nil }
        var data = Data()
        let end = Date().addingTimeInterval(timeout)
        var buf = [UInt8](repeating: 0, count: 64 * 1024)
        while Date() < end {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, Int32(max(1, end.timeIntervalSinceNow * 1000))) > 0 else { continue }
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            data.append(contentsOf: buf[0..<n])
            if data.count > 1 << 20 { return nil }
            if data.count >= 4 {
                let len = data.prefix(4).withUnsafeBytes { ControlWire.length($0) }
                if data.count >= 4 + len {
                    guard let u = try? ControlWire.decoder().decode(ControlUpdate.self, from: data.subdata(in: 4..<4 + len)),
                          let run = u.run else { return nil }
                    var s = TrainingSnapshot.blank
                    s.apply(u)
                    return (run, s, u.clients ?? [])
                }
            }
        }
        return nil
    }
}
