// Colour arithmetic: xterm's 256-colour palette, the nearest palette entry of a 24-bit colour,
// and the colour numbers curses is given for each kind of terminal. Pure, so tests can check it.

public enum Palette {
    /// The six levels of each channel in xterm's 6×6×6 colour cube (indices 16...231).
    static let cubeLevels: [Int] = [0, 95, 135, 175, 215, 255]
    /// xterm's default first 16 colours (themes change them; only used to give them an RGB value).
    static let system: [(Int, Int, Int)] = [
        (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
        (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
    ]

    /// The RGB value of xterm colour `i` (0...255).
    public static func rgb(ofIndex i: Int) -> (r: Int, g: Int, b: Int) {
        let i = max(0, min(255, i))
        if i < 16 { return system[i] }
        if i >= 232 { let v = 8 + 10 * (i - 232); return (v, v, v) }
        let c = i - 16
        return (cubeLevels[c / 36], cubeLevels[(c / 6) % 6], cubeLevels[c % 6])
    }

    /// The nearest cube level's position (0...5) for a channel value.
    static func cubeStep(_ v: Int) -> Int { v < 48 ? 0 : (v < 115 ? 1 : min(5, (v - 35) / 40)) }

    /// The xterm index (16...255) nearest to (r, g, b): the better of the colour cube's entry and
    /// the grey ramp's. The 16 system colours are never chosen: terminal themes redefine them.
    public static func nearest256(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> Int {
        let (r, g, b) = (Int(r), Int(g), Int(b))
        let qr = cubeStep(r), qg = cubeStep(g), qb = cubeStep(b)
        let cube = 16 + 36 * qr + 6 * qg + qb
        let avg = (r + g + b) / 3
        let grey = 232 + max(0, min(23, (avg - 3) / 10))
        func dist(_ i: Int) -> Int {
            let p = rgb(ofIndex: i)
            return (p.r - r) * (p.r - r) + (p.g - g) * (p.g - g) + (p.b - b) * (p.b - b)
        }
        return dist(grey) < dist(cube) ? grey : cube
    }

    /// The colour number curses is given for `c` on a terminal with `colors` colours; -1 is the
    /// terminal's default colour.
    ///
    /// A direct-colour terminal (terminfo `colors` ≥ 2^24, e.g. TERM=xterm-direct) takes 0xRRGGBB
    /// values, except that 0...7 still mean the 8 ANSI colours: named colours stay ANSI (the
    /// user's theme, as on every other terminal), palette entries become their RGB value, and a
    /// 24-bit colour below 8 (near-black blue) is sent as 8, which is near-black too.
    public static func cursesNumber(_ c: Color, colors: Int) -> Int {
        if colors >= 1 << 24 {
            func pack(_ r: Int, _ g: Int, _ b: Int) -> Int { max(8, r << 16 | g << 8 | b) }
            switch c {
            case .default: return -1
            case .rgb(let r, let g, let b): return pack(Int(r), Int(g), Int(b))
            case .gray, .index:
                let i = c.index256
                if i < 8 { return i }
                let p = rgb(ofIndex: i)
                return pack(p.r, p.g, p.b)
            default: return c.basic
            }
        }
        if colors >= 256 { return c.index256 }
        if colors >= 8 { return c.basic }
        return -1
    }
}
