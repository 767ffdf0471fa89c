import Foundation

// torch.cat(..., dim=1) over NCHW tensors, and its adjoint: a part of `channels` channels sits at channel
// `offset` of an output of `total` channels, one contiguous run of channels·plane floats per sample.

/// dst[n][offset ..< offset + channels] = src[n] for every sample n.
public func copyChannelsIn(_ src: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int, into dst: UnsafeMutablePointer<Float>,
                           total: Int, offset: Int) {
    let run = channels * plane
    Parallel.forEach(batch, grain: max(1, 16384 / max(1, run))) { n in
        (dst + (n * total + offset) * plane).update(from: src + n * run, count: run)
    }
}

/// dst[n] = src[n][offset ..< offset + channels] for every sample n (the adjoint of `copyChannelsIn`).
public func copyChannelsOut(_ src: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int, total: Int, offset: Int,
                            into dst: UnsafeMutablePointer<Float>) {
    let run = channels * plane
    Parallel.forEach(batch, grain: max(1, 16384 / max(1, run))) { n in
        (dst + n * run).update(from: src + (n * total + offset) * plane, count: run)
    }
}
