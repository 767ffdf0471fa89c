import ArgumentParser
import Foundation
import Models
import TUI

struct Attach: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open the dashboard on a running training: its whole history, then live; every key works.",
        discussion: """
        A training run serves its dashboard on a control socket in its run folder (owner only), \
        whether it was started with the dashboard or --headless. The run goes on when the dashboard \
        goes away (d detaches, a closed terminal or dropped SSH connection too); q and Ctrl-C stop \
        it, as in the dashboard that started it. Several dashboards may be attached at once.

        With no RUN: the only live run in ./runs, or a list of them to pick from.
        """)

    @Argument(help: ArgumentHelp("The run folder (or its name under ./runs).", valueName: "run"), completion: .directory)
    var runFolder: String?
    @OptionGroup var display: DashboardFlags

    func run() throws {
        let dir = runFolder.map(RunFolders.resolve) ?? RunFolders.pickLive()
        guard RunLock.isHeld(directory: dir) else {
            fail("\(dir): not a live run (no training process holds it; nntop view \(dir) shows its log)")
        }
        guard Dashboard.canRun() else {
            fail("attach needs a terminal (stdin and stdout a TTY, TERM set); nntop view \(dir) --text prints its log")
        }
        let client: ControlClient
        do { client = try ControlClient(runDir: dir) } catch { fail("\(error)") }
        AttachedDashboard.run(client, shownDir: dir, options: display.options)
    }
}

/// Finding run folders for attach and the script commands.
enum RunFolders {
    /// RUN as given, or `runs/RUN` when only that exists; one line and exit 1 when neither does.
    static func resolve(_ run: String) -> String {
        let fm = FileManager.default
        if fm.fileExists(atPath: run) { return run }
        let underRuns = ("runs" as NSString).appendingPathComponent(run)
        if !run.contains("/"), fm.fileExists(atPath: underRuns) { return underRuns }
        fail("\(run): no such run folder (nntop ls lists the runs)")
    }

    /// The live runs in `parent` (their process holds the folder's lock), newest first.
    static func live(in parent: String = "runs") -> [RunSummary] {
        RunSummary.list(in: parent).filter { RunLock.isHeld(directory: $0.path) }
    }

    /// The one live run in ./runs; with several, asks which (a terminal) or lists them and exits.
    static func pickLive() -> String {
        let runs = live()
        if runs.isEmpty { fail("no live run in runs/ (nntop ls lists the runs; nntop attach RUN names one elsewhere)") }
        if runs.count == 1 { return runs[0].path }
        let list = runs.enumerated().map { i, r in "  \(i + 1)  \(r.path)  \(r.config.model)  step \(r.lastStep)" }.joined(separator: "\n")
        guard isatty(STDIN_FILENO) == 1 else { fail("\(runs.count) live runs; name one:\n\(list)") }
        print("live runs:\n\(list)")
        print("attach to which (1-\(runs.count))? ", terminator: "")
        fflush(stdout)
        guard let line = readLine(), let i = Int(line.trimmingCharacters(in: .whitespaces)), (1...runs.count).contains(i) else {
            fail("no run picked")
        }
        return runs[i - 1].path
    }
}

/// The dashboard on a run reached through its control socket: `nntop attach`, and the dashboard
/// `nntop train` opens on the training process it starts. Leaving it with d, or losing the terminal,
/// leaves the run training; q (confirmed), Ctrl-C and SIGTERM stop the run at its next step (it
/// writes last.safetensors) and print its last lines, as a dashboard always has.
enum AttachedDashboard {
    static func run(_ client: ControlClient, shownDir: String, options: DashboardOptions,
                    overlays: [OverlayRun] = [], overlayGradients: [GradientFlow?] = [], runName: String = "",
                    trainingProcess: pid_t? = nil) -> Never {
        let link = RemoteTrainer(client)
        let bridge = DashboardBridge(trainer: link, overlays: overlays, runName: runName)
        bridge.overlayGradients = overlayGradients
        let exit = Dashboard.run(options: options, poll: { bridge.model() }, send: { bridge.send($0) })
        let pid = client.run?.pid ?? 0
        switch exit {
        case .detached:
            client.disconnect()
            if client.trainerEnded || !client.isConnected && !RunLock.isHeld(directory: shownDir) {
                print("the run has ended; nntop view \(shownDir) shows it")
            } else {
                print("detached: the run goes on (pid \(pid)); nntop attach \(shownDir) comes back to it, nntop stop \(shownDir) ends it")
            }
            Foundation.exit(0)
        case .hangup:
            // The terminal is gone: nothing to print to, and the run goes on.
            client.disconnect()
            Foundation.exit(129)
        case .quit, .interrupted, .terminated:
            break
        }
        if !client.trainerEnded && client.isConnected {
            client.send(.stop)
            // Stops at the next step boundary (an evaluation in progress finishes first).
            _ = client.wait(timeout: .infinity) { _ in client.trainerEnded }
        }
        let s = client.latest()
        let info = client.run
        let last = shownDir + "/checkpoints/last.safetensors"
        let saved = FileManager.default.fileExists(atPath: last) && s.step > 0 ? "; saved \(last)" : ""
        if client.trainerEnded {
            print(trainingRateLine(s, firstStep: info?.firstStep ?? 0))
            if let t = s.finalTest {
                print(String(format: "final test_acc=%.2f%% test_loss=%.4f epochs=%d steps=%d wall=%.1fs",
                             t.accuracy, t.loss, s.epoch, s.step, (info?.previousSeconds ?? 0) + s.elapsedSeconds))
            } else {
                print("stopped at epoch \(s.epoch) step \(s.step)/\(s.totalSteps)\(saved)")
            }
        } else {
            print("lost the run at step \(s.step): its process ended without its last update")
        }
        if let child = trainingProcess { TrainingProcess.reap(child, timeout: 10) }
        if let code = exit.signalStatus { Foundation.exit(code) }
        Foundation.exit(s.state == .diverged ? 3 : 0)
    }
}

/// `nntop train` with the dashboard: the training runs in a process of its own (a new session, so a
/// dropped terminal's SIGHUP never reaches it), and this process is its first attached dashboard.
enum TrainingProcess {
    /// Set in the training process's environment: it trains as a headless run does, serves its
    /// control socket, says where when it is ready, then lets go of the terminal.
    static let environmentKey = "NNTOP_TRAINING_PROCESS"
    static let readyPrefix = "nntop-ready\t"

    static var isTrainingProcess: Bool { ProcessInfo.processInfo.environment[environmentKey] == "1" }

    /// Starts this same command line as the training process and waits until it is serving (its
    /// run folder) or has failed (then its messages are passed on and this process exits as it did).
    static func launch() -> (pid: pid_t, runDir: String) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0, fcntl(fds[0], F_SETFD, FD_CLOEXEC) == 0, fcntl(fds[1], F_SETFD, FD_CLOEXEC) == 0 else { fail("cannot start the training process: pipe: \(String(cString: strerror(errno)))") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // Its own session: no controlling terminal, so no SIGHUP or Ctrl-C from this one.
        posix_spawnattr_setflags(&attr, 0x80)   // POSIX_SPAWN_SETSID (glibc 2.26), not exported to Swift
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let argv: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var env = ProcessInfo.processInfo.environment
        env[environmentKey] = "1"
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let r = posix_spawn(&pid, exe, &actions, &attr, argv, envp)
        close(fds[1])
        guard r == 0 else { close(fds[0]); fail("cannot start the training process: \(String(cString: strerror(r)))") }
        // Ctrl-C or SIGTERM while it loads: it is stopped too, not left training with no dashboard.
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            src.setEventHandler { kill(pid, SIGTERM); Foundation.exit(128 + sig) }
            src.resume()
            sources.append(src)
        }
        defer {
            sources.forEach { $0.cancel() }
            for sig in [SIGINT, SIGTERM, SIGHUP] { signal(sig, SIG_DFL) }
        }
        let input = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true)
        var pending = Data()
        while true {
            let chunk = input.availableData
            if chunk.isEmpty { break }
            pending.append(chunk)
            while let nl = pending.firstIndex(of: 10) {
                let line = String(decoding: pending[pending.startIndex..<nl], as: UTF8.self)
                pending.removeSubrange(pending.startIndex...nl)
                if line.hasPrefix(readyPrefix) { return (pid, String(line.dropFirst(readyPrefix.count))) }
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
        }
        if !pending.isEmpty { FileHandle.standardError.write(pending) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        Foundation.exit(code == 0 ? 1 : code)
    }

    /// In the training process, once its control socket listens: tells the launcher where the run is,
    /// then lets go of the pipe (nobody reads it once the dashboard is up).
    static func announceReady(runDir: String) {
        print(readyPrefix + runDir)
        fflush(stdout)
        let null = open("/dev/null", O_RDWR)
        if null >= 0 {
            dup2(null, 1); dup2(null, 2)
            if null > 2 { close(null) }
        }
    }

    /// Waits (at most `timeout` s) for the training process to exit, so the shell prompt comes back
    /// after the run has ended.
    static func reap(_ pid: pid_t, timeout: Double) {
        let end = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while Date() < end {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid || (r < 0 && errno != EINTR) { return }
            usleep(20_000)
        }
    }
}
