import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The run's control socket (`control.sock` in the run folder), served by the training process on a
/// thread of its own: dashboards (`nntop attach`, and the one `nntop train` opens) and scripts
/// (`nntop stop|pause|lr|snap`) connect, get the snapshots and send commands.
///
/// Only the run's owner gets in: the socket is mode 0600, and every connection's peer uid
/// (SO_PEERCRED) must be this process's, else it gets one line and is closed. The trainer never
/// waits for a client: the trainer thread only publishes snapshots (a lock) and takes commands (a
/// queue); this thread reads the snapshot, writes without blocking, and keeps at most
/// `maxQueuedBytes` per client: a client that does not read is dropped, never waited on. A frame
/// longer than `ControlWire.maxRequestBytes`, one that is not a request, or a command before the
/// hello also ends that connection, and only it.
public final class ControlServer {
    public static let maxQueuedBytes = 32 << 20
    public static let maxClients = 32
    /// Updates per second to each dashboard.
    public static let updatesPerSecond = 10.0

    public let path: String
    private let listenFD: Int32
    private let trainer: Trainer
    private let snapshot: () -> TrainingSnapshot
    private let run: ControlUpdate.Run
    private var wakeRead: Int32 = -1, wakeWrite: Int32 = -1
    private let lock = NSLock()
    private var stopping = false, stopped = false
    private let done = DispatchSemaphore(value: 0)
    private var clients: [Client] = []
    /// Connections refused and dropped so far (tests and `ls`).
    private var counts = (refused: 0, dropped: 0)

    final class Client {
        let fd: Int32
        let pid: Int32
        var role: String?
        var tty: String?
        var input: [UInt8] = []
        var output = Data()
        var outputOffset = 0
        var sent = SentState()
        var closeWhenFlushed = false
        init(fd: Int32, pid: Int32) { self.fd = fd; self.pid = pid }
        var queued: Int { output.count - outputOffset }
        var label: String { "pid \(pid)" + (tty.map { " \($0)" } ?? "") }
    }

    /// Creates the socket; `snapshot` gives the snapshot clients see (a resumed run's with its
    /// earlier sessions in front), `trainer` takes their commands.
    public init(runDir: String, trainer: Trainer, validationCount: Int, testCount: Int, previousSeconds: Double,
                firstStep: Int, snapshot: @escaping () -> TrainingSnapshot) throws {
        path = ControlWire.socketPath(in: runDir)
        listenFD = try UnixSocket.listen(path: path)
        self.trainer = trainer
        self.snapshot = snapshot
        run = ControlUpdate.Run(runDir: runDir, pid: getpid(), validationCount: validationCount, testCount: testCount,
                                previousSeconds: previousSeconds, firstStep: firstStep)
        var p: [Int32] = [0, 0]
        guard pipe(&p) == 0 else { close(listenFD); throw UnixSocket.Failure(description: "pipe failed") }
        wakeRead = p[0]; wakeWrite = p[1]
        for fd in p { UnixSocket.setFlags(fd) }
    }

    /// Serves on a thread of its own until `stop`.
    public func start() {
        let t = Thread { [self] in serve(); done.signal() }
        t.name = "nntop.control"
        t.start()
    }

    /// Who is attached now ("pid 4242 pts/3").
    public var attached: [String] {
        lock.lock(); defer { lock.unlock() }
        return clients.filter { $0.role == "dashboard" }.map(\.label)
    }

    /// After the trainer has finished: sends every client its last update (for at most `flush`
    /// seconds), closes the connections and removes the socket.
    public func stop(flush: Double = 2) {
        lock.lock()
        if stopped { lock.unlock(); return }
        stopping = true
        lock.unlock()
        _ = write(wakeWrite, "x", 1)
        _ = done.wait(timeout: .now() + flush + 1)
    }

    private func serve() {
        // Its name in top -H and /proc/PID/task/*/comm.
        if let name = FileHandle(forWritingAtPath: "/proc/thread-self/comm") { name.write(Data("nntop-control".utf8)); try? name.close() }
        var nextTick = now()
        var flushDeadline: Double?
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            lock.lock(); let ending = stopping; lock.unlock()
            if ending && flushDeadline == nil {
                // One last update (the trainer has ended), then flush and close.
                tick(final: true)
                flushDeadline = now() + 2
            }
            if let d = flushDeadline, now() >= d || clients.allSatisfy({ $0.queued == 0 }) { break }
            var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            for c in clients {
                fds.append(pollfd(fd: c.fd, events: Int16(POLLIN) | (c.queued > 0 ? Int16(POLLOUT) : 0), revents: 0))
            }
            let wait = max(0, min(nextTick, flushDeadline ?? nextTick) - now())
            let r = poll(&fds, nfds_t(fds.count), Int32(wait * 1000) + 1)
            if r < 0 && errno != EINTR { break }
            if fds[1].revents != 0 { while read(wakeRead, &buffer, buffer.count) > 0 {} }
            if fds[0].revents & Int16(POLLIN) != 0 && flushDeadline == nil { acceptAll() }
            for (i, c) in clients.enumerated() {
                let ev = fds[2 + i].revents
                if ev & Int16(POLLIN | POLLHUP | POLLERR) != 0 { readFrom(c, &buffer) }
                if ev & Int16(POLLOUT) != 0 { flush(c) }
            }
            removeClosed()
            if now() >= nextTick && flushDeadline == nil {
                tick(final: false)
                nextTick = now() + 1 / Self.updatesPerSecond
            }
        }
        lock.lock()
        for c in clients { close(c.fd) }
        clients.removeAll()
        stopped = true
        lock.unlock()
        close(listenFD)
        unlink(path)
        close(wakeRead); close(wakeWrite)
    }

    private var closing: Set<Int32> = []

    private func drop(_ c: Client) { closing.insert(c.fd) }

    private func removeClosed() {
        guard !closing.isEmpty || clients.contains(where: { $0.closeWhenFlushed && $0.queued == 0 }) else { return }
        lock.lock()
        clients.removeAll { c in
            let gone = closing.contains(c.fd) || (c.closeWhenFlushed && c.queued == 0)
            if gone { close(c.fd) }
            return gone
        }
        lock.unlock()
        closing.removeAll()
    }

    private func acceptAll() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 { return }
            UnixSocket.setFlags(fd)
            // The owner only: the socket's mode keeps others out, this keeps them out even if the
            // mode was changed or the caller is root-like but not the owner.
            guard let cred = UnixSocket.peer(fd), cred.uid == geteuid() else {
                refuse(fd, "nntop: refused: this run belongs to another user\n")
                continue
            }
            guard clients.count < Self.maxClients else { refuse(fd, "nntop: refused: \(Self.maxClients) clients are attached already\n"); continue }
            lock.lock(); clients.append(Client(fd: fd, pid: cred.pid)); lock.unlock()
        }
    }

    private func refuse(_ fd: Int32, _ line: String) {
        // One frame with the reason, written without waiting (lost if the peer's buffer is full).
        let frame = ControlWire.frame((try? ControlWire.encoder.encode(["error": String(line.dropFirst(7).dropLast())])) ?? Data())
        _ = frame.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        close(fd)
        lock.lock(); counts.refused += 1; lock.unlock()
    }

    private func readFrom(_ c: Client, _ buffer: inout [UInt8]) {
        while true {
            let n = recv(c.fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if n == 0 { drop(c); return }
            if n < 0 {
                if errno == EINTR { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK { drop(c) }
                break
            }
            c.input.append(contentsOf: buffer[0..<n])
            // Never more than one frame's worth held: a client that floods is dropped at once.
            if !parseFrames(c) { drop(c); return }
        }
    }

    /// Handles the complete frames in the client's input; false when it sent garbage.
    private func parseFrames(_ c: Client) -> Bool {
        var start = 0
        defer { c.input.removeFirst(min(start, c.input.count)) }
        while c.input.count - start >= 4 {
            let len = c.input[start..<start + 4].withUnsafeBytes { ControlWire.length($0) }
            guard len > 0 && len <= ControlWire.maxRequestBytes else { return false }
            guard c.input.count - start >= 4 + len else { break }
            let body = Data(c.input[start + 4..<start + 4 + len])
            start += 4 + len
            guard let req = try? ControlWire.decoder().decode(ControlRequest.self, from: body) else { return false }
            if let hello = req.hello {
                guard c.role == nil, ["dashboard", "script", "status"].contains(hello) else { return false }
                c.role = hello
                c.tty = req.tty.map { String($0.prefix(32)) }
                if hello == "status" {
                    let s = snapshot()
                    var sent = SentState()
                    var u = s.update(&sent, ended: trainer.isFinished, run: run, clients: attached)
                    // The numbers only: ls needs no curves.
                    u.curves = nil; u.events = nil; u.digits = nil; u.mistakes = nil; u.layerNames = nil
                    enqueue(u, to: c)
                    c.closeWhenFlushed = true
                }
            } else if req.command != nil {
                guard c.role == "dashboard" || c.role == "script", let cmd = req.trainerCommand else { return false }
                trainer.send(cmd)
            } else {
                return false
            }
        }
        return c.input.count - start <= 4 + ControlWire.maxRequestBytes
    }

    private func tick(final: Bool) {
        let listeners = clients.filter { $0.role == "dashboard" || $0.role == "script" }
        guard !listeners.isEmpty else { return }
        let s = snapshot()
        let ended = trainer.isFinished
        let who = attached
        for c in listeners where !closing.contains(c.fd) {
            let u = s.update(&c.sent, ended: ended, run: run, clients: who)
            enqueue(u, to: c)
            flush(c)
        }
    }

    private func enqueue(_ u: ControlUpdate, to c: Client) {
        guard let body = try? ControlWire.encoder.encode(u) else { return }
        if c.outputOffset > 0 && c.outputOffset >= c.output.count / 2 {
            c.output.removeSubrange(0..<c.outputOffset); c.outputOffset = 0
        }
        c.output.append(ControlWire.frame(body))
        if c.queued > Self.maxQueuedBytes {
            // It does not read: dropped rather than waited on or buffered without end.
            drop(c)
            lock.lock(); counts.dropped += 1; lock.unlock()
        }
    }

    private func flush(_ c: Client) {
        while c.queued > 0 {
            let n = c.output.withUnsafeBytes { raw in
                send(c.fd, raw.baseAddress! + c.outputOffset, c.queued, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            if n < 0 {
                if errno == EINTR { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK { drop(c) }
                return
            }
            c.outputOffset += n
        }
        c.output.removeAll(keepingCapacity: false); c.outputOffset = 0
    }

    private func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
