/// Bilinear resampling of channel-planar 8-bit images, antialiased when shrinking: each output
/// pixel averages the input under a triangle filter whose radius is one input pixel when growing
/// and `in/out` input pixels when shrinking (PIL's BILINEAR does the same), so a 224→32 shrink
/// averages about 14×14 pixels instead of sampling 2×2 of them and aliasing.
public enum Resize {
    /// For each output index along one axis: the first input index and the normalised weights.
    struct Taps {
        let first: [Int]
        let weights: [[Float]]

        init(from n: Int, to m: Int) {
            let scale = Double(n) / Double(m), radius = max(scale, 1)
            var first = [Int](), weights = [[Float]]()
            for i in 0..<m {
                // Pixel centres: output i sits at input coordinate (i + 0.5) * scale.
                let centre = (Double(i) + 0.5) * scale
                let lo = max(0, Int((centre - radius).rounded(.down))), hi = min(n - 1, Int((centre + radius).rounded(.up)))
                var w = (lo...hi).map { k in max(0, 1 - abs((Double(k) + 0.5 - centre) / radius)) }
                let total = w.reduce(0, +)
                w = w.map { $0 / total }
                first.append(lo)
                weights.append(w.map(Float.init))
            }
            self.first = first; self.weights = weights
        }
    }

    /// Resizes `planes` planes of height × width bytes at `src` into planes of toHeight × toWidth at `dst`.
    public static func planes(_ src: UnsafePointer<UInt8>, planes: Int, width: Int, height: Int,
                              into dst: UnsafeMutablePointer<UInt8>, toWidth: Int, toHeight: Int) {
        if width == toWidth && height == toHeight {
            dst.update(from: src, count: planes * width * height); return
        }
        let tx = Taps(from: width, to: toWidth), ty = Taps(from: height, to: toHeight)
        var rows = [Float](repeating: 0, count: height * toWidth)   // the horizontal pass of one plane
        for p in 0..<planes {
            let s = src + p * width * height, d = dst + p * toWidth * toHeight
            rows.withUnsafeMutableBufferPointer { r in
                for y in 0..<height {
                    let line = s + y * width
                    for x in 0..<toWidth {
                        let f = tx.first[x]
                        var acc: Float = 0
                        for (k, w) in tx.weights[x].enumerated() { acc += w * Float(line[f + k]) }
                        r[y * toWidth + x] = acc
                    }
                }
                for y in 0..<toHeight {
                    let f = ty.first[y], ws = ty.weights[y]
                    for x in 0..<toWidth {
                        var acc: Float = 0
                        for (k, w) in ws.enumerated() { acc += w * r[(f + k) * toWidth + x] }
                        d[y * toWidth + x] = UInt8(max(0, min(255, acc.rounded())))
                    }
                }
            }
        }
    }

    /// Array convenience for tests and small images.
    public static func planes(_ src: [UInt8], planes: Int, width: Int, height: Int, toWidth: Int, toHeight: Int) -> [UInt8] {
        precondition(src.count == planes * width * height)
        var out = [UInt8](repeating: 0, count: planes * toWidth * toHeight)
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in
                Self.planes(s.baseAddress!, planes: planes, width: width, height: height,
                            into: d.baseAddress!, toWidth: toWidth, toHeight: toHeight)
            }
        }
        return out
    }
}

extension DecodedImage {
    /// Grey (1 plane) or RGB (3 planes), channel-planar; alpha is composited on black (c·a/255, rounded).
    public func planar() -> (pixels: [UInt8], channels: Int) {
        let n = width * height, colour = channels >= 3, out = colour ? 3 : 1
        var planes = [UInt8](repeating: 0, count: out * n)
        pixels.withUnsafeBufferPointer { s in
            planes.withUnsafeMutableBufferPointer { d in
                let hasAlpha = channels == 2 || channels == 4
                for i in 0..<n {
                    let px = s.baseAddress! + i * channels
                    let a = hasAlpha ? UInt32(px[channels - 1]) : 255
                    for c in 0..<out {
                        let v = UInt32(px[c])
                        d[c * n + i] = hasAlpha ? UInt8((v * a + 127) / 255) : UInt8(v)
                    }
                }
            }
        }
        return (planes, out)
    }
}
