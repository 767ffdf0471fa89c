import CPng

/// Pixels as a decoder returns them: 8-bit, interleaved, `channels` per pixel — 1 grey,
/// 2 grey+alpha, 3 RGB, 4 RGBA.
public struct DecodedImage {
    public let width: Int, height: Int, channels: Int
    public let pixels: [UInt8]
    /// The size the file declares (larger than width × height after a scaled JPEG decode).
    public let fileWidth: Int, fileHeight: Int

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8], fileWidth: Int? = nil, fileHeight: Int? = nil) {
        self.width = width; self.height = height; self.channels = channels; self.pixels = pixels
        self.fileWidth = fileWidth ?? width; self.fileHeight = fileHeight ?? height
    }
}

/// Limits checked from a file's header before anything is allocated: 16,384 a side and 64 M pixels
/// (256 MB as RGBA) — far above any training image, far below what a forged header could ask for.
public enum ImageLimits {
    public static let maxSide = 16_384
    public static let maxPixels = 1 << 26
}

/// PNG through the system's libpng (the decode and its longjmp live in Sources/CPng/shim.h).
public enum PNGDecode {
    public static func isPNG(_ bytes: [UInt8]) -> Bool { bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) }

    /// Any colour type and bit depth; palette and tRNS become RGB(A), 16 bits are rounded to 8.
    public static func decode(_ bytes: [UInt8], path: String) throws -> DecodedImage {
        var out: UnsafeMutablePointer<UInt8>?
        var w: UInt32 = 0, h: UInt32 = 0, ch: Int32 = 0
        var message = [CChar](repeating: 0, count: Int(NNTOP_PNG_MESSAGE))
        let status = bytes.withUnsafeBufferPointer { b in
            nntop_png_decode(b.baseAddress, b.count, UInt32(ImageLimits.maxSide), UInt(ImageLimits.maxPixels),
                             &out, &w, &h, &ch, &message)
        }
        guard status == 0, let out else {
            throw DataError("\(path): not a valid PNG (\(String(cString: message)))")
        }
        defer { free(out) }
        let n = Int(w) * Int(h) * Int(ch)
        return DecodedImage(width: Int(w), height: Int(h), channels: Int(ch), pixels: Array(UnsafeBufferPointer(start: out, count: n)))
    }
}
