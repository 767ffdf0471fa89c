import Foundation

/// Training-split augmentation: a random crop of the input after `pad` pixels of zero padding on
/// every side (torchvision's RandomCrop(size, padding=pad)), and a horizontal flip with p = 0.5.
/// Each image's draw is a hash of (seed, epoch, position in the epoch's order), not a stream:
/// a resumed run, which restores epoch and position, draws exactly what the uninterrupted run drew.
public struct Augmentation: Equatable, Sendable {
    public var crop: Bool
    public var flip: Bool
    public var pad: Int
    public var seed: UInt64

    public init(crop: Bool, flip: Bool, pad: Int = 4, seed: UInt64) {
        self.crop = crop; self.flip = flip; self.pad = pad; self.seed = seed
    }

    public var isNone: Bool { !(crop && pad > 0) && !flip }

    /// The names --augment takes.
    public static let names = ["crop", "flip"]

    /// Parses "crop,flip", "crop", "flip" or "none" into the list a config stores.
    public static func parse(_ s: String) throws -> [String] {
        let parts = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        if parts == ["none"] { return [] }
        for p in parts where !names.contains(p) {
            throw DataError("--augment \(s): unknown '\(p)'; give crop, flip, crop,flip or none")
        }
        guard !parts.isEmpty else { throw DataError("--augment is empty; give crop, flip, crop,flip or none") }
        return names.filter(parts.contains)
    }

    /// One image's draw: the crop's offset into the padded image (0...2·pad in each direction; pad,
    /// pad is the uncropped image) and whether it is mirrored.
    public struct Draw: Equatable { public var dy: Int; public var dx: Int; public var flip: Bool }

    public func draw(epoch: Int, position: Int) -> Draw {
        var h = mix(seed ^ 0xA076_1D64_78BD_642F)
        h = mix(h ^ UInt64(truncatingIfNeeded: epoch))
        h = mix(h ^ UInt64(truncatingIfNeeded: position))
        let span = UInt64(2 * pad + 1)
        let dy = crop && pad > 0 ? Int(h % span) : pad
        let dx = crop && pad > 0 ? Int((h >> 21) % span) : pad
        return Draw(dy: dy, dx: dx, flip: flip && (h >> 63) == 1)
    }

    /// SplitMix64's finaliser: every input bit moves every output bit.
    @inline(__always) func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
