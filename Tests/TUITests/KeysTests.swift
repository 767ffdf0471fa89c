import XCTest
@testable import TUI

final class KeysTests: XCTestCase {
    func testDecodeCursesCodes() {
        XCTAssertEqual(Key.decode(32), .char(" "))
        XCTAssertEqual(Key.decode(Int32(UInt8(ascii: "q"))), .char("q"))
        XCTAssertEqual(Key.decode(9), .tab)
        XCTAssertEqual(Key.decode(10), .enter)
        XCTAssertEqual(Key.decode(13), .enter)
        XCTAssertEqual(Key.decode(27), .escape)
        XCTAssertEqual(Key.decode(127), .backspace)
        XCTAssertEqual(Key.decode(0o407), .backspace)  // KEY_BACKSPACE
        XCTAssertEqual(Key.decode(0o410 + 1), .function(1))  // KEY_F(1)
        XCTAssertEqual(Key.decode(0o410 + 10), .function(10))
        XCTAssertEqual(Key.decode(0o632), .resize)  // KEY_RESIZE
        XCTAssertEqual(Key.decode(0o541), .backTab)
        XCTAssertEqual(Key.decode(-1), .other(-1))
    }

    func testActionKeys() {
        let table: [(Key, DashboardAction)] = [
            (.char(" "), .togglePause), (.char("p"), .togglePause),
            (.char("+"), .scaleLR(2)), (.char("-"), .scaleLR(0.5)),
            (.char("r"), .toggleResidual), (.char("s"), .snapshot), (.char("e"), .evaluate),
        ]
        for (k, a) in table {
            var ui = DashboardUI()
            XCTAssertEqual(ui.handle(k, state: .running), .send(a), "\(k)")
            XCTAssertEqual(ui, DashboardUI(), "action keys leave the UI state alone")
        }
    }

    func testPanelKeys() {
        var ui = DashboardUI()
        XCTAssertEqual(ui.panel, .curves)
        _ = ui.handle(.tab, state: .running); XCTAssertEqual(ui.panel, .layers)
        _ = ui.handle(.tab, state: .running); XCTAssertEqual(ui.panel, .digits)
        _ = ui.handle(.tab, state: .running); XCTAssertEqual(ui.panel, .confusion)
        _ = ui.handle(.tab, state: .running); XCTAssertEqual(ui.panel, .curves)
        _ = ui.handle(.backTab, state: .running); XCTAssertEqual(ui.panel, .confusion)
        _ = ui.handle(.char("2"), state: .running); XCTAssertEqual(ui.panel, .layers)
        _ = ui.handle(.char("4"), state: .running); XCTAssertEqual(ui.panel, .confusion)
        _ = ui.handle(.char("1"), state: .running); XCTAssertEqual(ui.panel, .curves)
        _ = ui.handle(.char("3"), state: .running); XCTAssertEqual(ui.panel, .digits)
        XCTAssertFalse(ui.showMistakes)
        _ = ui.handle(.char("3"), state: .running)
        XCTAssertTrue(ui.showMistakes, "3 again switches to the mistakes view")
        _ = ui.handle(.char("m"), state: .running)
        XCTAssertFalse(ui.showMistakes)
    }

    func testViewToggles() {
        var ui = DashboardUI()
        XCTAssertEqual(ui.handle(.char("y"), state: .running), .none)
        XCTAssertTrue(ui.logScale)
        _ = ui.handle(.char("o"), state: .running)
        XCTAssertTrue(ui.sortLayersByTime)
        let s0 = ui.smoothing
        _ = ui.handle(.char("]"), state: .running)
        XCTAssertGreaterThan(ui.smoothing, s0)
        for _ in 0..<20 { _ = ui.handle(.char("]"), state: .running) }
        XCTAssertLessThan(ui.smoothing, 1)
        for _ in 0..<20 { _ = ui.handle(.char("["), state: .running) }
        XCTAssertEqual(ui.smoothing, 0, "[ goes down to raw")
        _ = ui.handle(.char("?"), state: .running)
        XCTAssertTrue(ui.showHelp)
        XCTAssertEqual(ui.handle(.char("s"), state: .running), .none, "a key closes help and is not acted on")
        XCTAssertFalse(ui.showHelp)
        _ = ui.handle(.function(1), state: .running)
        XCTAssertTrue(ui.showHelp)
    }

    func testQuitAsksWhileTraining() {
        for st in [RunState.running, .paused] {
            var ui = DashboardUI()
            XCTAssertEqual(ui.handle(.char("q"), state: st), .none)
            XCTAssertTrue(ui.confirmQuit)
            XCTAssertEqual(ui.handle(.char("y"), state: st), .quit)

            var ui2 = DashboardUI()
            _ = ui2.handle(.function(10), state: st)
            XCTAssertTrue(ui2.confirmQuit)
            XCTAssertEqual(ui2.handle(.char("n"), state: st), .none)
            XCTAssertFalse(ui2.confirmQuit)
            // Any other key cancels too and is not acted on.
            _ = ui2.handle(.char("q"), state: st)
            XCTAssertEqual(ui2.handle(.char("s"), state: st), .none)
            XCTAssertFalse(ui2.confirmQuit)
        }
    }

    func testQuitIsImmediateWhenDone() {
        for st in [RunState.done, .diverged] {
            var ui = DashboardUI()
            XCTAssertEqual(ui.handle(.char("q"), state: st), .quit)
            var ui2 = DashboardUI()
            XCTAssertEqual(ui2.handle(.function(10), state: st), .quit)
        }
    }

    /// `nntop view` trains nothing: the training keys say so at once (no LR prompt first, nothing
    /// sent), whatever state the viewed run is in; q quits at once even for a live run.
    func testInViewTrainingKeysSayAtOnceThatNothingTrains() {
        let keys: [Key] = [.char(" "), .char("p"), .char("+"), .char("-"), .char("l"), .char("L"), .char("r"), .char("s"), .char("e")]
        for st in [RunState.running, .paused, .done] {
            for k in keys {
                var ui = DashboardUI()
                XCTAssertEqual(ui.handle(k, state: st, replay: true), .none, "\(k) in \(st)")
                XCTAssertNil(ui.prompt, "\(k) opened the LR prompt")
                XCTAssertTrue(ui.message.hasPrefix("nothing is training"), "\(k): '\(ui.message)'")
            }
            var ui = DashboardUI()
            XCTAssertEqual(ui.handle(.char("q"), state: st, replay: true), .quit)
            XCTAssertFalse(ui.confirmQuit)
        }
        // Keys that only change the view still work.
        var ui = DashboardUI()
        XCTAssertEqual(ui.handle(.char("x"), state: .running, replay: true), .none)
        XCTAssertEqual(ui.xAxis, .epochs)
    }

    func testLRPromptFlow() {
        var ui = DashboardUI()
        XCTAssertEqual(ui.handle(.char("l"), state: .running), .none)
        XCTAssertEqual(ui.prompt, "")
        for c in "0.05" { XCTAssertEqual(ui.handle(.char(c), state: .running), .none) }
        // Keys that are actions elsewhere are text (or ignored) inside the prompt.
        XCTAssertEqual(ui.handle(.char("q"), state: .running), .none)
        XCTAssertFalse(ui.confirmQuit)
        XCTAssertEqual(ui.prompt, "0.05")
        XCTAssertEqual(ui.handle(.backspace, state: .running), .none)
        XCTAssertEqual(ui.prompt, "0.0")
        XCTAssertEqual(ui.handle(.char("2"), state: .running), .none)
        XCTAssertEqual(ui.handle(.enter, state: .running), .send(.setLR(0.02)))
        XCTAssertNil(ui.prompt)

        // Invalid input: error shown, prompt stays open; Esc cancels without sending.
        _ = ui.handle(.char("l"), state: .running)
        for c in "1e" { _ = ui.handle(.char(c), state: .running) }
        XCTAssertEqual(ui.handle(.enter, state: .running), .none)
        XCTAssertNotNil(ui.promptError)
        XCTAssertNotNil(ui.prompt)
        XCTAssertEqual(ui.handle(.escape, state: .running), .none)
        XCTAssertNil(ui.prompt)
    }

    func testLRParsing() {
        XCTAssertEqual(try? LRInput.parse("0.01").get(), 0.01)
        XCTAssertEqual(try? LRInput.parse(" 1e-3 ").get(), 0.001)
        XCTAssertEqual(try? LRInput.parse(".5").get(), 0.5)
        XCTAssertEqual(try? LRInput.parse("2E-2").get(), 0.02)
        // Only numbers: whether one is a usable LR is the trainer's to say (TrainerTests).
        XCTAssertEqual(try? LRInput.parse("100").get(), 100)
        XCTAssertEqual(try? LRInput.parse("-0.1").get(), -0.1)
        for bad in ["", "abc", "1e", "nan", "inf", "0x10", "1.2.3", "1-2"] {
            XCTAssertNil(try? LRInput.parse(bad).get(), "'\(bad)' should be rejected")
        }
        if case .failure(let e) = LRInput.parse("abc") { XCTAssertTrue(e.description.contains("abc")) } else { XCTFail() }
    }
}

final class DashboardEntryTests: XCTestCase {
    func testCanRunIsFalseWithoutATerminal() throws {
        // Under `swift test` stdout is usually a pipe; only check when it is not a TTY.
        try XCTSkipIf(isatty(1) == 1 && isatty(0) == 1, "running on a terminal")
        XCTAssertFalse(Dashboard.canRun())
    }
}
