import CJpeg

/// JPEG through the system's libjpeg-turbo (the decode and its longjmp live in Sources/CJpeg/shim.h).
public enum JPEGDecode {
    public static func isJPEG(_ bytes: [UInt8]) -> Bool { bytes.starts(with: [0xFF, 0xD8, 0xFF]) }

    /// Greyscale or RGB. `minSide` > 0 lets libjpeg decode at 1/2, 1/4 or 1/8 scale (its scaled IDCT)
    /// while both sides stay at least `minSide`: ImageFolder passes twice the target size, so the
    /// antialiased resize after it still averages real pixels (BENCHMARKS.md has the time it saves).
    /// A truncated or corrupt file (any libjpeg warning) is refused, not padded with grey.
    public static func decode(_ bytes: [UInt8], path: String, minSide: Int = 0) throws -> DecodedImage {
        var out: UnsafeMutablePointer<UInt8>?
        var w: UInt32 = 0, h: UInt32 = 0, fw: UInt32 = 0, fh: UInt32 = 0, ch: Int32 = 0
        var message = [CChar](repeating: 0, count: Int(NNTOP_JPEG_MESSAGE))
        let status = bytes.withUnsafeBufferPointer { b in
            nntop_jpeg_decode(b.baseAddress, UInt(b.count), UInt32(clamping: max(0, minSide)), UInt32(ImageLimits.maxSide),
                              UInt(ImageLimits.maxPixels), &out, &w, &h, &fw, &fh, &ch, &message)
        }
        guard status == 0, let out else {
            throw DataError("\(path): not a valid JPEG (\(String(cString: message)))")
        }
        defer { free(out) }
        let n = Int(w) * Int(h) * Int(ch)
        return DecodedImage(width: Int(w), height: Int(h), channels: Int(ch), pixels: Array(UnsafeBufferPointer(start: out, count: n)),
                            fileWidth: Int(fw), fileHeight: Int(fh))
    }
}
