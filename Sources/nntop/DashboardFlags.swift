import ArgumentParser
import Foundation
import TUI

/// How the dashboard draws, the same for `nntop train` and `nntop view`.
struct DashboardFlags: ParsableArguments {
    @Flag(help: "Draw the dashboard with ASCII characters only (automatic in a non-UTF-8 locale).")
    var ascii = false
    @Flag(name: .customLong("no-color"), help: "No colours in the dashboard (also when NO_COLOR is set).")
    var noColor = false

    /// NO_COLOR set to anything non-empty turns colour off as well (no-color.org).
    var options: DashboardOptions {
        DashboardOptions(ascii: ascii, color: !noColor && (ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty)
    }
}

extension DashboardExit {
    /// The shell's status for a dashboard ended by a signal (128 + its number); nil otherwise.
    var signalStatus: Int32? {
        switch self {
        case .interrupted: 130
        case .terminated: 143
        case .hangup: 129
        case .quit, .detached: nil
        }
    }
}
