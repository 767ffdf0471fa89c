import Foundation
import Models
import XCTest

/// A run's control socket against strangers and garbage: only its owner gets in, and nothing sent
/// to it (random bytes, a 100 MB message, a client that never reads, attach/detach cycles) stalls,
/// crashes or changes the training.
final class ControlSocketTests: XCTestCase {
    var workDir: String!

    override func setUpWithError() throws {
        workDir = NSTemporaryDirectory() + "nntop-socket-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        TrainingProcesses.kill(under: workDir)
        try? FileManager.default.removeItem(atPath: workDir)
    }

    /// A headless LeNet-5 run, seeded, one thread: deterministic losses.
    func startRun(_ dir: String, trainLimit: Int = 12000, epochs: Int = 1) throws -> Child {
        try Child(["lenet5", "--headless", "--train-limit", "\(trainLimit)", "--val-size", "200", "--epochs", "\(epochs)",
                   "--threads", "1", "--seed", "7", "--log-every", "5", "--run-dir", dir], cwd: workDir)
    }

    /// Waits (deadline `timeout`) until the run answers on its socket and has trained past `step`.
    @discardableResult
    func waitForStep(_ dir: String, past step: Int, timeout: Double = 60, file: StaticString = #filePath, line: UInt = #line) -> Int? {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if let s = ControlClient.status(runDir: dir)?.snapshot.step, s > step { return s }
            usleep(50_000)
        }
        XCTFail("\(dir): no step past \(step) within \(Int(timeout)) s", file: file, line: line)
        return nil
    }

    func trainLosses(_ dir: String) throws -> [String] {
        try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            .filter { $0.contains(#""split":"train""#) }
            .map { line in String(line.split(separator: ",").first { $0.hasPrefix(#""loss""#) } ?? "") }
    }

    /// Runs `/usr/bin/python3 -c script args…` as user nobody (tests run as root).
    func runAsNobody(_ script: String, _ args: [String]) throws -> NntopBinary.Result {
        try NntopBinary.run(["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script] + args,
                            executable: "/usr/bin/setpriv", timeout: 30)
    }

    static let strangerClient = """
    import socket, struct, sys, time
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    try:
        s.connect(sys.argv[1])
    except OSError as e:
        print("CONNECT-REFUSED", e.errno); sys.exit(0)
    for m in (b'{"hello":"dashboard"}', b'{"command":"pause"}'):
        try: s.sendall(struct.pack(">I", len(m)) + m)
        except OSError: pass
    got = b""
    end = time.time() + 5   # an accepted stranger would get updates for ever: read 5 s at most
    while time.time() < end:
        try: b = s.recv(65536)
        except OSError: break
        if not b: break
        got += b
    print("GOT", got[4:].decode(errors="replace"))
    """

    func testAStrangerIsRefusedByTheSocketsModeAndByItsCredentials() throws {
        let dir = workDir + "/run"
        let run = try startRun(dir, trainLimit: 30000, epochs: 2)
        let first = try XCTUnwrap(waitForStep(dir, past: 2))
        let sock = ControlWire.socketPath(in: dir)
        var st = stat()
        XCTAssertEqual(stat(sock, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600, "the control socket is the owner's only")
        // Mode 0600: another user cannot even connect.
        var r = try runAsNobody(Self.strangerClient, [sock])
        XCTAssertTrue(r.out.contains("CONNECT-REFUSED 13"), r.out + r.err)
        // Opened up by mistake: the server still checks who connects (SO_PEERCRED) and hangs up on
        // a stranger with one line, taking none of its commands.
        chmod(sock, 0o666)
        r = try runAsNobody(Self.strangerClient, [sock])
        XCTAssertTrue(r.out.contains("GOT ") && r.out.contains("another user"), r.out + r.err)
        let after = try XCTUnwrap(ControlClient.status(runDir: dir))
        XCTAssertEqual(after.snapshot.state, .running, "a stranger's pause was applied")
        XCTAssertNotNil(waitForStep(dir, past: max(first, after.snapshot.step)), "training stalled")
        // nntop itself, run by another user, says so in one line.
        let cli = try NntopBinary.run(["--reuid=65534", "--regid=65534", "--clear-groups", NntopBinary.url.path, "pause", dir],
                                      executable: "/usr/bin/setpriv", timeout: 30)
        if cli.status != 126 {   // the binary may not be readable by nobody where the build lives
            XCTAssertEqual(cli.status, 1, cli.err)
            XCTAssertEqual(cli.err.split(separator: "\n").count, 1, cli.err)
        }
        kill(run.pid, SIGTERM)
        _ = try run.finish(timeout: 60)
    }

    /// Random bytes, a 100 MB message and a client that never reads, during a run; attach/detach
    /// cycles during the same run: its losses equal those of a run nobody touched (same seed).
    func testNoiseAndAttachCyclesChangeNothing() throws {
        let quiet = workDir + "/quiet", noisy = workDir + "/noisy"
        let undisturbed = try startRun(quiet)
        XCTAssertEqual(try undisturbed.finish(timeout: 300).status, 0)

        let run = try startRun(noisy)
        var step = try XCTUnwrap(waitForStep(noisy, past: 1))
        let sock = ControlWire.socketPath(in: noisy)
        // Random bytes.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<5 {
            let fd = try UnixSocket.connect(path: sock)
            let junk = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = junk.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(fd)
        }
        // A well-formed header announcing 100 MB, then the 100 MB.
        let big = try UnixSocket.connect(path: sock)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(big, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var header = UInt32(100 << 20).bigEndian
        _ = send(big, &header, 4, Int32(MSG_NOSIGNAL))
        let chunk = [UInt8](repeating: 0x7b, count: 1 << 20)
        var sentBytes = 0
        for _ in 0..<100 {
            let n = chunk.withUnsafeBytes { send(big, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }   // the server hung up on it, as it should
            sentBytes += n
        }
        close(big)
        XCTAssertLessThan(sentBytes, 100 << 20, "the server read a 100 MB message instead of hanging up")
        // A dashboard that never reads (connected for the rest of the run).
        let silent = try UnixSocket.connect(path: sock)
        defer { close(silent) }
        let hello = ControlWire.frame(try JSONEncoder().encode(ControlRequest(hello: "dashboard")))
        _ = hello.withUnsafeBytes { send(silent, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        step = try XCTUnwrap(waitForStep(noisy, past: step), "training stalled after the noise")
        // Attach and detach, again and again.
        var cycles = 0
        while cycles < 20, let c = try? ControlClient(runDir: noisy) {
            XCTAssertGreaterThan(c.latest().trainLoss.count, 0, "an attached client gets the curves")
            c.disconnect()
            cycles += 1
        }
        XCTAssertGreaterThan(cycles, 2, "could not attach")
        let r = try run.finish(timeout: 300)
        XCTAssertEqual(r.status, 0, r.err)
        let expected = try trainLosses(quiet), got = try trainLosses(noisy)
        XCTAssertGreaterThan(expected.count, 10)
        XCTAssertEqual(got, expected, "the disturbed run's losses differ from the undisturbed run's")
    }
}

/// Training processes a test started (a dashboard's lives on after its terminal, by design): found
/// by their working directory or command line under the test's folder, and killed by pid.
enum TrainingProcesses {
    static func pids(under dir: String) -> [pid_t] {
        let me = getpid()
        let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return procs.compactMap { pid_t($0) }.filter { pid in
            guard pid != me else { return false }
            let cmd = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))).map { String(decoding: $0, as: UTF8.self) } ?? ""
            guard cmd.contains("nntop") else { return false }
            let cwd = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd")) ?? ""
            return cwd.hasPrefix(dir) || cmd.contains(dir)
        }
    }

    static func kill(under dir: String) {
        for pid in pids(under: dir) { Glibc.kill(pid, SIGKILL) }
    }
}
