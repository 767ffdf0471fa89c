import XCTest
@testable import TUI

final class LayoutTests: XCTestCase {
    func render(_ w: Int, _ h: Int, ui: DashboardUI = DashboardUI(), caps: RenderCaps = .full,
                model: DashboardModel = Fixtures.model()) -> CellBuffer {
        var b = CellBuffer(width: w, height: h)
        DashboardView.render(model: model, ui: ui, caps: caps, into: &b)
        return b
    }

    func testTooSmall() {
        let b = render(59, 30)
        XCTAssertEqual(b.row(0).trimmingCharacters(in: .whitespaces), "terminal too small (59x30, need 60x16)")
        XCTAssertEqual(b.row(1).trimmingCharacters(in: .whitespaces), "")
        let c = render(100, 15)
        XCTAssertTrue(c.row(0).hasPrefix("terminal too small (100x15, need 60x16)"))
        // Tiny sizes clip the message, never crash.
        for (w, h) in [(0, 0), (1, 1), (10, 2), (59, 16), (60, 15)] {
            let t = render(w, h)
            XCTAssertEqual(t.width, w)
            if w >= 8 && h >= 1 { XCTAssertTrue(t.row(0).hasPrefix("terminal")) }
        }
        // Growing back to the minimum shows the dashboard.
        let ok = render(60, 16)
        XCTAssertFalse(ok.contains("too small"))
        XCTAssertTrue(ok.contains("RUNNING"))
    }

    func testEveryPanelAt80x24() {
        var ui = DashboardUI()
        var seen: [Panel: CellBuffer] = [:]
        for p in Panel.allCases {
            ui.panel = p
            let b = render(80, 24, ui: ui)
            seen[p] = b
            // Header, tab row and key bar on every panel.
            XCTAssertTrue(b.row(0).contains("RUNNING"))
            XCTAssertTrue(b.row(0).contains("LR 0.0125"))
            XCTAssertTrue(b.row(0).contains("resnet18"))
            XCTAssertTrue(b.row(1).contains("step 1234/5000"))
            XCTAssertTrue(b.row(23).contains("quit"))
            XCTAssertTrue(b.row(23).contains("help"))
            XCTAssertTrue(b.contains("Curves") && b.contains("Confusion"))
        }
        XCTAssertTrue(seen[.curves]!.contains("Training loss"))
        XCTAssertTrue(seen[.curves]!.contains("Accuracy"))
        XCTAssertTrue(seen[.curves]!.contains("lr 0.02"), "marker label")
        XCTAssertTrue(seen[.layers]!.contains("layer4.1.conv2"))
        XCTAssertTrue(seen[.layers]!.contains("conv1"))
        XCTAssertTrue(seen[.digits]!.contains("1 ✓ 97%"))
        XCTAssertTrue(seen[.digits]!.contains("▀"))
        XCTAssertTrue(seen[.confusion]!.contains("905"))
    }

    func testGridAt160x50ShowsAllPanelsAtOnce() {
        let b = render(160, 50)
        for s in ["RUNNING", "LR 0.0125", "Training loss", "Accuracy", "layer4.1.conv2", "conv1", "1 ✓ 97%", "905",
                  "Confusion", "quit"] {
            XCTAssertTrue(b.contains(s), "160x50 lacks \(s)")
        }
        XCTAssertEqual(Layout.compute(width: 160, height: 50).kind, .grid)
        XCTAssertEqual(Layout.compute(width: 80, height: 24).kind, .single)
    }

    func testPanelsDoNotOverlap() {
        for (w, h) in [(80, 24), (160, 50), (60, 16), (200, 60)] {
            let l = Layout.compute(width: w, height: h)
            let bounds = Rect(x: 0, y: 0, width: w, height: h)
            var rects = [l.header, l.status, l.keys] + (l.tabs.map { [$0] } ?? [])
            if l.kind == .grid { rects += Panel.allCases.map { l.panels[$0]! } } else { rects.append(l.panels[.curves]!) }
            for (i, a) in rects.enumerated() {
                XCTAssertEqual(a.intersection(bounds), a, "\(a) outside \(w)x\(h)")
                for b in rects[(i + 1)...] { XCTAssertTrue(a.intersection(b).isEmpty, "\(a) overlaps \(b)") }
            }
        }
    }

    func testKeyBarKeepsHelpAndQuitAtMinimumWidth() {
        let b = render(60, 16)
        XCTAssertTrue(b.row(15).contains("? help"), b.row(15))
        XCTAssertTrue(b.row(15).contains("q quit"), b.row(15))
    }

    /// `r` is offered (key bar and help) only for a model with residual connections to switch:
    /// not for LeNet-5 (`residual == nil`), whatever the room.
    func testResidualKeyOnlyForAModelWithResidualConnections() {
        var lenet = Fixtures.model()
        lenet.model = "lenet5"
        lenet.residual = nil
        for w in [80, 160] {
            let plain = render(w, 24, model: lenet)
            XCTAssertFalse(plain.row(23).contains("r res"), plain.row(23))
            XCTAssertTrue(plain.row(23).contains("s snap"), "other training keys stay: \(plain.row(23))")
        }
        XCTAssertTrue(render(160, 24).row(23).contains("r res"), render(160, 24).row(23))
        var ui = DashboardUI()
        ui.showHelp = true
        XCTAssertFalse(render(80, 24, ui: ui, model: lenet).contains("residual"))
        XCTAssertTrue(render(80, 24, ui: ui).contains("toggle residual connections"))
    }

    func testConfusionFitsAtMinimumSize() {
        var ui = DashboardUI()
        ui.panel = .confusion
        let b = render(60, 16, ui: ui)
        // All ten class rows are visible (class 9's diagonal count is 909).
        XCTAssertTrue(b.contains("909"), b.text)
        XCTAssertTrue(b.contains("900"))
    }

    func testStatusLine() {
        var ui = DashboardUI()
        ui.message = "LR 0.01 -> 0.02"
        XCTAssertTrue(render(80, 24, ui: ui).row(22).contains("LR 0.01 -> 0.02"))
        ui.confirmQuit = true
        XCTAssertTrue(render(80, 24, ui: ui).row(22).contains("quit? y/n"))
        ui.confirmQuit = false
        ui.prompt = "0.5"
        ui.promptError = "bad"
        let b = render(80, 24, ui: ui)
        XCTAssertTrue(b.row(22).contains("0.5"))
        XCTAssertTrue(b.row(22).contains("bad"))
        var m = Fixtures.model()
        m.status = "saved snapshot"
        XCTAssertTrue(render(80, 24, model: m).row(22).contains("saved snapshot"))
    }

    func testHelpOverlayAt80x24() {
        var ui = DashboardUI()
        ui.showHelp = true
        let b = render(80, 24, ui: ui)
        XCTAssertTrue(b.contains("Keys"))
        XCTAssertTrue(b.contains("F10"))
    }

    func testASCIIAndNoColourFrames() {
        var ui = DashboardUI()
        for size in [(80, 24), (160, 50)] {
            for p in Panel.allCases {
                ui.panel = p
                ui.showHelp = p == .layers
                let a = render(size.0, size.1, ui: ui, caps: .ascii)
                XCTAssertTrue(a.allText.unicodeScalars.allSatisfy(\.isASCII), "non-ASCII in \(p)\n\(a.text)")
                XCTAssertTrue(a.cells.allSatisfy { $0.style.fg == .default && $0.style.bg == .default }, "colour in \(p)")
                XCTAssertTrue(a.contains("RUNNING"))
            }
        }
        ui.panel = .digits
        ui.showHelp = false
        XCTAssertTrue(render(80, 24, ui: ui, caps: .ascii).contains("1 ok 97%"))
        XCTAssertTrue(render(80, 24, ui: ui, caps: .mono).contains("1 ✓ 97%"))
        XCTAssertTrue(render(80, 24, ui: ui, caps: .basic).contains("█"), "shade digits with 8 colours")
    }

    func testEveryRowFitsItsWidth() {
        for (w, h) in [(60, 16), (80, 24), (100, 30), (160, 50)] {
            var ui = DashboardUI()
            for p in Panel.allCases {
                ui.panel = p
                let b = render(w, h, ui: ui)
                for y in 0..<h { XCTAssertEqual(displayWidth(b.row(y)), w, "row \(y) at \(w)x\(h)") }
            }
        }
    }
}
