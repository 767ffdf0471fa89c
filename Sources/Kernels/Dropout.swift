import Foundation

// Dropout with masks that are a pure function of (seed, layer salt, training step, element position):
// no generator state, so a resumed run draws the same masks as one that never stopped, and a batch
// split across cores draws the same as one core (the position counts from the batch's first sample).

/// Whether dropout keeps element `position` at `step`: the SplitMix64 finaliser of
/// seed·K1 + salt·K2 + step·K3 + position (mod 2^64); its top 24 bits u are kept when u >= ceil(p·2^24).
@inline(__always)
public func dropoutKeeps(seed: UInt64, salt: UInt64, step: UInt64, position: UInt64, threshold: UInt64) -> Bool {
    var z = seed &* 0x9E37_79B9_7F4A_7C15 &+ salt &* 0xC2B2_AE3D_27D4_EB4F &+ step &* 0x1656_67B1_9E37_79F9 &+ position
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    z ^= z >> 31
    return z >> 40 >= threshold
}

/// The 24-bit threshold of `dropoutKeeps` for a drop probability p.
public func dropoutThreshold(_ p: Float) -> UInt64 { UInt64((Double(p) * 16_777_216).rounded(.up)) }

/// y = x · mask, mask = 1/(1-p) where kept, 0 where dropped (kept in `mask` for the backward pass);
/// element i has position firstPosition + i.
public func dropoutForward(x: UnsafePointer<Float>, count: Int, p: Float, seed: UInt64, salt: UInt64, step: UInt64,
                           firstPosition: UInt64, mask: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>) {
    let threshold = dropoutThreshold(p), scale = 1 / (1 - p)
    Parallel.ranges(count, grain: 65536) { r in
        for i in r {
            let keep = dropoutKeeps(seed: seed, salt: salt, step: step, position: firstPosition + UInt64(i), threshold: threshold)
            mask[i] = keep ? scale : 0
            y[i] = x[i] * mask[i]
        }
    }
}

/// dx = dy · mask (the same mask as the forward pass).
public func dropoutBackward(dy: UnsafePointer<Float>, mask: UnsafePointer<Float>, count: Int, dx: UnsafeMutablePointer<Float>) {
    Parallel.ranges(count, grain: 65536) { r in
        for i in r { dx[i] = dy[i] * mask[i] }
    }
}
