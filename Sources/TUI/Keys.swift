import Foundation

/// A decoded key press.
public enum Key: Equatable, Sendable {
    case char(Character)
    case enter, escape, backspace, tab, backTab
    case up, down, left, right
    /// Function key F1...F12.
    case function(Int)
    /// The terminal was resized (KEY_RESIZE).
    case resize
    case other(Int32)

    /// ncurses key codes this file needs (from curses.h; fixed by the X/Open standard
    /// and ncurses' ABI, repeated here so the mapping is testable without ncurses).
    public enum Code {
        public static let down: Int32 = 0o402, up: Int32 = 0o403, left: Int32 = 0o404, right: Int32 = 0o405
        public static let backspace: Int32 = 0o407
        public static let f0: Int32 = 0o410
        public static let enter: Int32 = 0o527
        public static let backTab: Int32 = 0o541
        public static let resize: Int32 = 0o632
    }

    /// Decodes a `getch()` result (a byte, or a KEY_* code above 255).
    public static func decode(_ code: Int32) -> Key {
        switch code {
        case 9: return .tab
        case 10, 13, Code.enter: return .enter
        case 27: return .escape
        case 8, 127, Code.backspace: return .backspace
        case Code.up: return .up
        case Code.down: return .down
        case Code.left: return .left
        case Code.right: return .right
        case Code.backTab: return .backTab
        case Code.resize: return .resize
        case (Code.f0 + 1)...(Code.f0 + 12): return .function(Int(code - Code.f0))
        case 32...126:
            return .char(Character(Unicode.Scalar(UInt8(code))))
        default:
            return .other(code)
        }
    }
}

/// What a key press asks of the run loop.
public enum KeyOutcome: Equatable, Sendable {
    /// Nothing to send (the UI state may have changed: redraw).
    case none
    /// Send this action to the app and show its reply.
    case send(DashboardAction)
    /// Leave the dashboard.
    case quit
    /// Leave the dashboard and let the run go on without it (`d`).
    case detach
}

/// Reading a typed learning rate. Only whether it is a number: the app's trainer owns the range of
/// valid LRs and refuses the others with its own message.
public enum LRInput {
    /// Parses a typed learning rate ("0.01", "1e-3", ".5"); nil with a reason when invalid.
    public static func parse(_ text: String) -> Result<Double, LRInputError> {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.isEmpty { return .failure(.empty) }
        let allowed = Set("0123456789.eE+-")
        guard t.allSatisfy({ allowed.contains($0) }), let v = Double(t), v.isFinite else {
            return .failure(.notANumber(t))
        }
        return .success(v)
    }
}

public enum LRInputError: Error, Equatable, CustomStringConvertible {
    case empty
    case notANumber(String)

    public var description: String {
        switch self {
        case .empty: return "type a learning rate, e.g. 0.01 (Esc cancels)"
        case .notANumber(let s): return "invalid learning rate '\(s)': type a number like 0.01 or 1e-3"
        }
    }
}

extension DashboardUI {
    /// What `d` says in `nntop view`.
    public static let nothingToDetachMessage = "nothing to detach from: view only reads the run's log (q quits)"

    /// What a training key (pause, LR, residual, snapshot, evaluate) says in `nntop view`.
    public static let nothingTrainsMessage = "nothing is training here: view only reads the run's log (q quits)"

    /// Applies one key press to the UI state. `state` decides whether quitting asks first;
    /// `replay` (`nntop view`): nothing trains, so q quits at once and the training keys say so
    /// at once instead of sending anything (or opening the LR prompt).
    public mutating func handle(_ key: Key, state: RunState, replay: Bool = false, tags: Bool = false) -> KeyOutcome {
        if key == .resize { return .none }
        if showHelp {
            showHelp = false
            return .none
        }
        if prompt != nil { return handlePrompt(key) }
        if filterPrompt != nil { return handleFilterPrompt(key) }
        if tags {
            // Runs viewed by tag: / filters the tags by a regex, t steps through the tag groups
            // (and drops the filter), x goes steps → relative time → wall time, as TensorBoard's axes.
            switch key {
            case .char("/"):
                filterPrompt = tagFilter
                promptError = nil
                return .none
            case .char("t"):
                tagGroup += 1
                tagFilter = ""
                return .none
            case .char("x"):
                xAxis = xAxis == .steps || xAxis == .epochs ? .relative : xAxis == .relative ? .wall : .steps
                message = "x axis: \(xAxis.rawValue)"
                return .none
            default:
                break
            }
        }
        if confirmQuit {
            confirmQuit = false
            if key == .char("y") || key == .char("Y") { return .quit }
            message = "quit cancelled"
            return .none
        }
        if replay {
            switch key {
            case .char(" "), .char("p"), .char("+"), .char("="), .char("-"), .char("_"), .char("l"), .char("L"),
                 .char("r"), .char("s"), .char("e"):
                message = DashboardUI.nothingTrainsMessage
                return .none
            case .char("q"), .char("Q"), .function(10):
                return .quit
            case .char("d"):
                message = DashboardUI.nothingToDetachMessage
                return .none
            default:
                break
            }
        }
        switch key {
        case .char(" "), .char("p"): return .send(.togglePause)
        case .char("+"), .char("="): return .send(.scaleLR(2))
        case .char("-"), .char("_"): return .send(.scaleLR(0.5))
        case .char("l"), .char("L"):
            prompt = ""
            promptError = nil
            return .none
        case .char("r"): return .send(.toggleResidual)
        case .char("s"): return .send(.snapshot)
        case .char("e"): return .send(.evaluate)
        // Never the same key as stopping: the run goes on, `nntop attach` comes back to it.
        case .char("d"): return state == .running || state == .paused || state == .diverged ? .detach : .quit
        case .tab: panel = panel.next; return .none
        case .backTab: panel = panel.previous; return .none
        case .char("1"): panel = .curves; return .none
        case .char("2"): panel = .layers; return .none
        case .char("3"):
            if panel == .digits { showMistakes.toggle() }
            panel = .digits
            return .none
        case .char("4"): panel = .confusion; return .none
        case .char("m"):
            showMistakes.toggle()
            panel = .digits
            return .none
        case .char("x"):
            xAxis = xAxis == .steps ? .epochs : .steps
            message = "x axis: \(xAxis.rawValue)"
            return .none
        case .char("o"): sortLayersByTime.toggle(); return .none
        case .char("g"):
            // Panel 2 between its layer times (runs list in view) and the gradient flow, shown at once.
            showGradientFlow.toggle()
            panel = .layers
            return .none
        case .char("y"): logScale.toggle(); return .none
        case .char("["): smoothing = DashboardUI.smoothingStep(from: smoothing, up: false); return .none
        case .char("]"): smoothing = DashboardUI.smoothingStep(from: smoothing, up: true); return .none
        case .char("?"), .char("h"), .function(1):
            showHelp = true
            return .none
        case .char("q"), .char("Q"), .function(10):
            if state == .running || state == .paused {
                confirmQuit = true
                return .none
            }
            return .quit
        case .escape:
            message = ""
            return .none
        default:
            return .none
        }
    }

    private mutating func handlePrompt(_ key: Key) -> KeyOutcome {
        switch key {
        case .escape:
            prompt = nil
            promptError = nil
            message = "learning rate unchanged"
            return .none
        case .enter:
            switch LRInput.parse(prompt ?? "") {
            case .success(let v):
                prompt = nil
                promptError = nil
                return .send(.setLR(v))
            case .failure(let e):
                promptError = e.description
                return .none
            }
        case .backspace:
            if var p = prompt, !p.isEmpty { p.removeLast(); prompt = p }
            promptError = nil
            return .none
        case .char(let c):
            if "0123456789.eE+-".contains(c), (prompt ?? "").count < 24 {
                prompt = (prompt ?? "") + String(c)
                promptError = nil
            } else {
                promptError = "only digits, '.', 'e' and '-' (Enter sets, Esc cancels)"
            }
            return .none
        default:
            return .none
        }
    }

    private mutating func handleFilterPrompt(_ key: Key) -> KeyOutcome {
        switch key {
        case .escape:
            filterPrompt = nil
            promptError = nil
            message = tagFilter.isEmpty ? "no filter" : "filter unchanged: /\(tagFilter)/"
        case .enter:
            let text = filterPrompt ?? ""
            // A pattern that does not compile stays in the prompt with the reason, rather than
            // silently showing nothing.
            guard text.isEmpty || TagSelection.regex(text) != nil else {
                promptError = "not a regular expression: \(text)"
                return .none
            }
            tagFilter = text
            filterPrompt = nil
            promptError = nil
            message = text.isEmpty ? "filter cleared" : "filter /\(text)/"
        case .backspace:
            if var p = filterPrompt, !p.isEmpty { p.removeLast(); filterPrompt = p }
            promptError = nil
        case .char(let c):
            if (filterPrompt ?? "").count < 60 { filterPrompt = (filterPrompt ?? "") + String(c) }
            promptError = nil
        default:
            break
        }
        return .none
    }

    static func smoothingStep(from s: Double, up: Bool) -> Double {
        let steps = DashboardUI.smoothingSteps
        if up { return steps.first(where: { $0 > s + 1e-9 }) ?? steps.last! }
        return steps.last(where: { $0 < s - 1e-9 }) ?? steps.first!
    }
}
