import XCTest
@testable import TUI

final class DigitViewTests: XCTestCase {
    /// Columns (relative to the digit's left edge) that hold ink in a 14-wide rendering of
    /// the '1' fixture: pixels 12...15 -> cells 6 and 7.
    let inkColumns = [6, 7]

    func testModeSelection() {
        XCTAssertEqual(DigitGlyphMode.forCaps(RenderCaps(unicode: true, colors: 256)), .halfBlocks)
        XCTAssertEqual(DigitGlyphMode.forCaps(RenderCaps(unicode: true, colors: 8)), .shades)
        XCTAssertEqual(DigitGlyphMode.forCaps(RenderCaps(unicode: true, colors: 0)), .shades)
        XCTAssertEqual(DigitGlyphMode.forCaps(RenderCaps(unicode: false, colors: 256)), .ascii)
    }

    func testASCIIOneIsAFilledColumn() {
        var b = CellBuffer(width: 14, height: 7)
        DigitView.drawPixels(Fixtures.one(), into: &b, x: 0, y: 0, cols: 14, rows: 7, mode: .ascii, caps: .ascii)
        // Rows 1...5 cover pixel rows 4...23 completely: full ink.
        for y in 1...5 {
            for x in 0..<14 {
                XCTAssertEqual(b[x, y].text, inkColumns.contains(x) ? "@" : " ", "cell \(x),\(y)\n\(b.text)")
            }
        }
        // Rows 0 and 6 cover pixel rows 0-3 and 24-27: no ink.
        XCTAssertEqual(b.row(0), String(repeating: " ", count: 14))
        XCTAssertEqual(b.row(6), String(repeating: " ", count: 14))
    }

    func testShadeOneIsAFilledColumn() {
        var b = CellBuffer(width: 14, height: 7)
        DigitView.drawPixels(Fixtures.one(), into: &b, x: 0, y: 0, cols: 14, rows: 7, mode: .shades, caps: .basic)
        for y in 1...5 {
            for x in 0..<14 {
                XCTAssertEqual(b[x, y].text, inkColumns.contains(x) ? "█" : " ", "cell \(x),\(y)")
            }
        }
    }

    func testHalfBlockOneUsesGreyLevels() {
        var b = CellBuffer(width: 14, height: 7)
        DigitView.drawPixels(Fixtures.one(), into: &b, x: 0, y: 0, cols: 14, rows: 7, mode: .halfBlocks, caps: .full)
        for y in 0..<7 { for x in 0..<14 { XCTAssertEqual(b[x, y].text, "▀") } }
        // Middle rows: ink columns are white (grey 23) top and bottom, the rest black (grey 0).
        for y in 2...4 {
            for x in 0..<14 {
                let want: Color = inkColumns.contains(x) ? .gray(23) : .gray(0)
                XCTAssertEqual(b[x, y].style.fg, want, "fg \(x),\(y)")
                XCTAssertEqual(b[x, y].style.bg, want, "bg \(x),\(y)")
            }
        }
        // Row 0 covers pixel rows 0-3: black.
        XCTAssertEqual(b[6, 0].style.fg, .gray(0))
    }

    func testLargeDigitIsFullResolution() {
        var b = CellBuffer(width: 28, height: 14)
        DigitView.drawPixels(Fixtures.one(), into: &b, x: 0, y: 0, cols: 28, rows: 14, mode: .ascii, caps: .ascii)
        // Each cell is one pixel wide and two tall: ink in columns 12...15, rows 2...11.
        for y in 0..<14 { for x in 0..<28 {
            let ink = (12...15).contains(x) && (2...11).contains(y)
            XCTAssertEqual(b[x, y].text, ink ? "@" : " ", "cell \(x),\(y)")
        } }
    }

    func testCaptionsShowPredictionMarkAndConfidence() {
        let right = DigitSample(pixels: Fixtures.one(), label: 1, predicted: 1, confidence: 0.97)
        let wrong = DigitSample(pixels: Fixtures.one(), label: 7, predicted: 1, confidence: 0.51)
        XCTAssertEqual(DigitView.caption(right, caps: .full), "1 ✓ 97%")
        XCTAssertEqual(DigitView.caption(wrong, caps: .full), "1 ✗ (7) 51%")
        XCTAssertEqual(DigitView.caption(right, caps: .ascii), "1 ok 97%")
        XCTAssertEqual(DigitView.caption(wrong, caps: .ascii), "1 X (7) 51%")
        var b = CellBuffer(width: 40, height: 10)
        DigitView(samples: [right, wrong], title: "digits").draw(into: &b, rect: b.bounds, caps: .full)
        let ok = b.find("1 ✓ 97%")!
        XCTAssertEqual(b[ok.x, ok.y].style.fg, .green)
        let bad = b.find("1 ✗ (7)")!
        XCTAssertEqual(b[bad.x, bad.y].style.fg, .red)
        // Without colour the mark still tells right from wrong.
        var m = CellBuffer(width: 40, height: 10)
        DigitView(samples: [right, wrong], title: "digits").draw(into: &m, rect: m.bounds, caps: .ascii)
        XCTAssertTrue(m.contains("1 ok 97%"))
        XCTAssertTrue(m.contains("1 X (7) 51%"))
        XCTAssertTrue(m.cells.allSatisfy { $0.style.fg == .default && $0.style.bg == .default })
    }

    func testEmptyAndMalformedSamples() {
        var b = CellBuffer(width: 30, height: 10)
        DigitView(samples: [], title: "digits").draw(into: &b, rect: b.bounds, caps: .full)
        XCTAssertTrue(b.contains("no evaluation yet"))
        let bad = DigitSample(pixels: [1, 2, 3], label: 3, predicted: 3, confidence: 2)
        DigitView(samples: [bad], title: "digits").draw(into: &b, rect: b.bounds, caps: .full)
        XCTAssertTrue(b.contains("3 ✓ 100%"))
    }
}
