import CNcurses
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The only type that calls ncurses. Use from the main thread only.
final class Terminal {
    /// Whether curses is active: `shutdown` may be called twice.
    private var isActive = false

    let caps: RenderCaps
    private var screen: OpaquePointer?
    private var pairs: [Int: Int32] = [:]
    private var nextPair: Int32 = 1
    private let maxPairs: Int32
    private let useColor: Bool

    /// Starts curses on stdin/stdout, or returns nil if the terminal cannot be initialised.
    init?(options: DashboardOptions) {
        nntop_setlocale_all()
        let utf8 = nntop_codeset_is_utf8() != 0
        nntop_save_terminal_modes()
        guard let scr = nntop_newterm() else { return nil }
        screen = scr
        isActive = true
        nntop_install_fatal_handlers()
        cbreak()
        noecho()
        nonl()
        keypad(nntop_stdscr(), true)
        intrflush(nntop_stdscr(), false)
        leaveok(nntop_stdscr(), true)
        curs_set(0)
        set_escdelay(25)
        wtimeout(nntop_stdscr(), 100)
        var colors = 0
        if options.color && has_colors() {
            start_color()
            use_default_colors()
            // Truecolour only where curses itself can send it: a terminfo entry with 2^24 colours
            // (xterm-direct, tmux-direct, ...), whose setaf takes 0xRRGGBB. COLORTERM=truecolor
            // under a 256-colour TERM is not enough: curses would still send palette indices, and
            // COLORTERM is not forwarded by ssh and inside tmux describes the outer terminal.
            let n = Int(nntop_colors())
            colors = n >= 1 << 24 ? 1 << 24 : (n >= 256 ? 256 : (n >= 8 ? 8 : 0))
        }
        useColor = colors > 0
        maxPairs = useColor ? nntop_color_pairs() : 0
        caps = RenderCaps(unicode: utf8 && !options.ascii, colors: colors)
        clear()
    }

    /// The current size (columns, rows).
    var size: (width: Int, height: Int) {
        var y: Int32 = 0, x: Int32 = 0
        nntop_getmaxyx(nntop_stdscr(), &y, &x)
        return (Int(x), Int(y))
    }

    /// Waits up to `ms` milliseconds for a key; ERR (-1) when none.
    func readKey(timeoutMs: Int) -> Int32 {
        wtimeout(nntop_stdscr(), Int32(max(0, timeoutMs)))
        return wgetch(nntop_stdscr())
    }

    /// After KEY_RESIZE: forget the old contents so the next frame repaints everything.
    func resized() {
        clearok(nntop_stdscr(), true)
    }

    /// The colour pair for `style`; nil when every pair is taken (`present` then starts over).
    private func pair(for style: Style) -> Int32? {
        guard useColor else { return 0 }
        let fg = Palette.cursesNumber(style.fg, colors: caps.colors)
        let bg = Palette.cursesNumber(style.bg, colors: caps.colors)
        if fg < 0 && bg < 0 { return 0 }
        let key = (fg + 1) << 26 | (bg + 1)
        if let p = pairs[key] { return p }
        guard nextPair < maxPairs else { return nil }
        let p = nextPair
        if nntop_init_pair(p, Int32(fg), Int32(bg)) == ERR { return 0 }
        nextPair += 1
        pairs[key] = p
        return p
    }

    private func attr(for a: Attr) -> attr_t {
        var r = nntop_a_normal()
        if a.contains(.bold) { r |= nntop_a_bold() }
        if a.contains(.dim) { r |= nntop_a_dim() }
        if a.contains(.reverse) { r |= nntop_a_reverse() }
        if a.contains(.underline) { r |= nntop_a_underline() }
        return r
    }

    /// Copies the buffer to the screen (curses sends only what changed). The bottom-right
    /// cell is never written: writing it would scroll or wrap on many terminals.
    ///
    /// Colour images need many (fg, bg) pairs and new images bring new ones: when the pair table
    /// is full, every pair is forgotten and the frame is drawn again from a clean screen, rather
    /// than leaving later cells in the default colours.
    func present(_ buf: CellBuffer) {
        if !put(buf) {
            pairs.removeAll()
            nextPair = 1
            clearok(nntop_stdscr(), true)
            _ = put(buf)
        }
        wnoutrefresh(nntop_stdscr())
        doupdate()
    }

    /// Writes every cell; false when the colour pairs ran out (the rest use pair 0).
    private func put(_ buf: CellBuffer) -> Bool {
        let (w, h) = size
        let cols = min(w, buf.width), rows = min(h, buf.height)
        var wch = [wchar_t](repeating: 0, count: 8)
        var complete = true
        for y in 0..<rows {
            for x in 0..<cols {
                if y == h - 1 && x == w - 1 { continue }
                let c = buf[x, y]
                if c.continuation { continue }
                var n = 0
                for s in c.text.unicodeScalars {
                    if n >= 5 { break }
                    var v = s.value
                    if !caps.unicode && v > 126 { v = 63 }  // '?': never send non-ASCII to a non-UTF-8 terminal
                    if v < 32 { v = 32 }
                    wch[n] = wchar_t(bitPattern: v)
                    n += 1
                    if !caps.unicode { break }
                }
                if n == 0 { wch[0] = 32; n = 1 }
                wch[n] = 0
                let p = pair(for: c.style)
                if p == nil { complete = false }
                _ = nntop_put_cell(Int32(y), Int32(x), wch, attr(for: c.style.attrs), p ?? 0)
            }
        }
        return complete
    }

    /// Leaves curses and restores the terminal. Safe to call twice.
    func shutdown() {
        guard isActive else { return }
        curs_set(1)
        endwin()
        nntop_restore_fatal_handlers()
        isActive = false
        if let s = screen {
            delscreen(s)
            screen = nil
        }
    }
}
