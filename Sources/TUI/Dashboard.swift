import CNcurses
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The live dashboard: a run loop on the calling (main) thread.
public enum Dashboard {
    /// Frames per second at most (the loop also polls the model at this rate).
    public static let framesPerSecond = 10.0

    /// True when a dashboard can be shown: stdin and stdout are TTYs, and TERM is set, not
    /// "dumb", and known to terminfo.
    public static func canRun() -> Bool {
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else { return false }
        guard let term = ProcessInfo.processInfo.environment["TERM"], !term.isEmpty, term != "dumb" else { return false }
        return nntop_term_known(term) != 0
    }

    /// Runs the UI on the calling (main) thread until the user quits or a signal arrives.
    /// Calls `poll` at most ~10x/s to get the newest model, and `send` for each action;
    /// `send` returns a status message to show (e.g. "LR 0.01 -> 0.02"). A confirmed quit
    /// calls `send(.quit)` once before returning `.quit`. SIGINT, SIGTERM and SIGHUP are
    /// caught while the dashboard runs and returned as `.interrupted`, `.terminated` and
    /// `.hangup`; the terminal is restored on every exit path, and the previous signal
    /// dispositions are put back (except after a hangup, when SIGHUP stays ignored: the
    /// terminal is gone and the app should shut down without being killed by the next
    /// SIGHUP). Returns `.hangup` as well if the terminal cannot be initialised or goes away.
    public static func run(options: DashboardOptions, poll: () -> DashboardModel,
                           send: (DashboardAction) -> String) -> DashboardExit {
        _ = nntop_take_signal()
        // Installed before curses starts, so ncurses keeps ours; a dead tty must not kill
        // us with SIGPIPE while we restore it.
        nntop_install_handlers()
        guard let term = Terminal(options: options) else {
            nntop_restore_handlers(0)
            return .hangup
        }
        let reason = loop(term: term, poll: poll, send: send)
        term.shutdown()
        nntop_restore_handlers(reason == .hangup ? 1 : 0)
        return reason
    }

    private static func loop(term: Terminal, poll: () -> DashboardModel,
                             send: (DashboardAction) -> String) -> DashboardExit {
        var ui = DashboardUI()
        var model = poll()
        var lastPoll = now()
        var lastModelStatus = (model.status, model.statusSerial)
        if !model.status.isEmpty { ui.message = model.status }
        var buf = CellBuffer(width: 0, height: 0)
        let frame = 1.0 / framesPerSecond
        var fastErrors = 0

        func exitFor(signal s: Int32) -> DashboardExit? {
            switch s {
            case SIGINT: return .interrupted
            case SIGTERM: return .terminated
            case SIGHUP: return .hangup
            default: return nil
            }
        }

        while true {
            if let e = exitFor(signal: nntop_take_signal()) { return e }
            if now() - lastPoll >= frame * 0.95 {
                model = poll()
                lastPoll = now()
                if model.status != lastModelStatus.0 || model.statusSerial != lastModelStatus.1 {
                    lastModelStatus = (model.status, model.statusSerial)
                    if !model.status.isEmpty { ui.message = model.status }
                }
            }
            let (w, h) = term.size
            if w != buf.width || h != buf.height { buf = CellBuffer(width: w, height: h) }
            DashboardView.render(model: model, ui: ui, caps: term.caps, into: &buf)
            term.present(buf)
            let frameStart = now()

            // Read keys until the next frame is due.
            while true {
                let remaining = frame - (now() - frameStart)
                if remaining <= 0 { break }
                let t0 = now()
                let code = term.readKey(timeoutMs: Int((remaining * 1000).rounded(.up)))
                if let e = exitFor(signal: nntop_take_signal()) { return e }
                if code == ERR {
                    // A vanished terminal makes getch fail at once, over and over.
                    if now() - t0 < 0.002 { fastErrors += 1 } else { fastErrors = 0 }
                    if fastErrors >= 200 { return .hangup }
                    continue
                }
                fastErrors = 0
                let key = Key.decode(code)
                if key == .resize {
                    term.resized()
                    break
                }
                // A viewed run trains nothing: q quits at once whatever state its log ended in.
                switch ui.handle(key, state: model.state, replay: model.replay, tags: !model.tagRuns.isEmpty) {
                case .none:
                    break
                case .send(let action):
                    ui.message = send(action)
                case .quit:
                    _ = send(.quit)
                    return .quit
                case .detach:
                    return .detached
                }
                // The key's effect shows at the next frame (at most ~10 frames a second).
            }
        }
    }

    private static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
