import XCTest
@testable import TUI

final class CellBufferTests: XCTestCase {
    func testPutWritesText() {
        var b = CellBuffer(width: 10, height: 3)
        b.put(x: 2, y: 1, "abc")
        XCTAssertEqual(b.row(1), "  abc     ")
        XCTAssertEqual(b[2, 1].text, "a")
    }

    func testClipsAtRightEdgeWithoutWrapping() {
        var b = CellBuffer(width: 5, height: 2)
        b.put(x: 3, y: 0, "hello")
        XCTAssertEqual(b.row(0), "   he")
        XCTAssertEqual(b.row(1), "     ", "text must not wrap to the next line")
    }

    func testClipsAtLeftTopBottomEdges() {
        var b = CellBuffer(width: 5, height: 2)
        b.put(x: -2, y: 0, "hello")
        XCTAssertEqual(b.row(0), "llo  ")
        b.put(x: 0, y: -1, "XXXXX")
        b.put(x: 0, y: 2, "YYYYY")
        b.put(x: 0, y: 99, "YYYYY")
        b.put(x: 99, y: 0, "ZZ")
        XCTAssertEqual(b.row(0), "llo  ")
        XCTAssertEqual(b.row(1), "     ")
        b.fill(Rect(x: -3, y: -3, width: 100, height: 100), "#")
        XCTAssertEqual(b.text, "#####\n#####")
    }

    func testClipRectangle() {
        var b = CellBuffer(width: 8, height: 3)
        b.withClip(Rect(x: 2, y: 1, width: 3, height: 1)) { b in
            b.put(x: 0, y: 1, "abcdefgh")
            b.put(x: 0, y: 0, "nope")
            b.fill(Rect(x: 0, y: 2, width: 8, height: 1), "#")
        }
        XCTAssertEqual(b.text, "        \n  cde   \n        ")
        // Clip is restored afterwards.
        b.put(x: 0, y: 0, "ok")
        XCTAssertEqual(b.row(0), "ok      ")
    }

    func testWideCharactersUseTwoColumnsAndAreNotSplitAtTheEdge() {
        var b = CellBuffer(width: 5, height: 1)
        let n = b.put(x: 0, y: 0, "日本")
        XCTAssertEqual(n, 4)
        XCTAssertEqual(b.row(0), "日本 ")
        XCTAssertTrue(b[1, 0].continuation)
        var c = CellBuffer(width: 5, height: 1)
        c.put(x: 3, y: 0, "a日")  // the wide char would straddle the edge
        XCTAssertEqual(c.row(0), "   a ")
        XCTAssertFalse(c.cells.contains { $0.text == "日" })
    }

    func testOverwritingHalfAWideCharacterBlanksTheOtherHalf() {
        var b = CellBuffer(width: 4, height: 1)
        b.put(x: 0, y: 0, "日")
        b.put(x: 1, y: 0, "x")
        XCTAssertEqual(b.row(0), " x  ")
        XCTAssertFalse(b.cells.contains { $0.continuation })
    }

    func testDisplayWidth() {
        XCTAssertEqual(displayWidth("abc"), 3)
        XCTAssertEqual(displayWidth("⣿▀░✓"), 4)
        XCTAssertEqual(displayWidth("日本"), 4)
        XCTAssertEqual(displayWidth("e\u{301}"), 1)  // e + combining acute
        XCTAssertEqual(truncate("日本語", toWidth: 5), "日本")
        XCTAssertEqual(pad("ab", 4, right: true), "  ab")
    }

    func testControlCharactersNeverMoveTheCursor() {
        var b = CellBuffer(width: 6, height: 2)
        b.put(x: 0, y: 0, "a\nb\tc")
        XCTAssertEqual(b.row(0), "a b c ")
        XCTAssertEqual(b.row(1), "      ")
    }

    func testMaxWidth() {
        var b = CellBuffer(width: 10, height: 1)
        b.put(x: 1, y: 0, "abcdef", maxWidth: 3)
        XCTAssertEqual(b.row(0), " abc      ")
    }

    func testBoxAndZeroSizedBuffers() {
        var b = CellBuffer(width: 4, height: 3)
        b.box(Rect(x: 0, y: 0, width: 4, height: 3), unicode: false)
        XCTAssertEqual(b.text, "+--+\n|  |\n+--+")
        var z = CellBuffer(width: 0, height: 0)
        z.put(x: 0, y: 0, "x")
        z.fill(Rect(x: 0, y: 0, width: 3, height: 3), "#")
        XCTAssertEqual(z.cells.count, 0)
    }
}
