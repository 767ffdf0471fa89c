import Foundation
import Kernels

/// The activation buffers of a network's inference (`Network.predict`): while it runs, every layer takes
/// its output here instead of keeping one buffer of its own, and keeps no reference to its input or
/// output, so a buffer is free again once the layers after it have read it (nothing else holds it).
/// Peak memory is then the few activations alive at once (a block's input, its branches, its output),
/// not one per layer: ResNet-50 at 224×224, batch 256, held 13.5 GB after an inference pass
/// (BENCHMARKS.md has the figures).
///
/// The buffers stay with the network for its next batch, so an evaluation faults its pages in once.
public final class ActivationArena {
    /// Every buffer this arena owns; one is lent while a view of it is alive.
    private var bases: [Tensor] = []
    /// Floats this arena holds.
    public private(set) var allocatedFloats = 0

    public init() {}

    /// A tensor of `shape` over the smallest free buffer that fits: a view, which keeps the buffer lent
    /// until the last reference to it goes. Its contents are whatever the last user left: the layer
    /// writes every element. When none fits, the largest free one is replaced by one that does (as
    /// `GradientBuffers` does: activations vary in size, and a buffer per size would add up).
    func take(_ shape: [Int]) -> Tensor {
        let count = shape.reduce(1, *)
        var pick = -1, largestFree = -1
        for i in bases.indices where isKnownUniquelyReferenced(&bases[i]) {
            if bases[i].count >= count && (pick < 0 || bases[i].count < bases[pick].count) { pick = i }
            if largestFree < 0 || bases[i].count > bases[largestFree].count { largestFree = i }
        }
        if pick < 0 {
            let fresh = Tensor(shape: [count])
            if largestFree >= 0 {
                allocatedFloats -= bases[largestFree].count
                bases[largestFree] = fresh
                pick = largestFree
            } else {
                bases.append(fresh)
                pick = bases.count - 1
            }
            allocatedFloats += count
        }
        return Tensor(view: bases[pick], offset: 0, shape: shape)
    }

    /// Runs `body` with this arena as the current thread's (`current`), restoring the one before.
    func activate<T>(_ body: () -> T) -> T {
        let previous = pthread_getspecific(arenaKey)
        pthread_setspecific(arenaKey, Unmanaged.passUnretained(self).toOpaque())
        defer { pthread_setspecific(arenaKey, previous) }
        return withExtendedLifetime(self) { body() }
    }

    /// The arena of the inference running on this thread, if any.
    static var current: ActivationArena? {
        guard let p = pthread_getspecific(arenaKey) else { return nil }
        return Unmanaged<ActivationArena>.fromOpaque(p).takeUnretainedValue()
    }
}

/// Thread-specific, because a network's replicas predict their slices on separate threads at once.
private let arenaKey: pthread_key_t = {
    var key = pthread_key_t()
    // Not inside precondition: -Ounchecked (this module's release flags) drops its condition unevaluated.
    let status = pthread_key_create(&key, nil)
    if status != 0 { fatalError("pthread_key_create failed: \(status)") }
    return key
}()

/// Whether the forward pass on this thread is an inference no backward follows (`Network.predict`):
/// layers then keep no reference to their input or output.
var predicting: Bool { ActivationArena.current != nil }

/// Keeps `t` in a layer's `slot` for its backward pass, unless predicting: an inference keeps nothing,
/// or the arena could not lend the buffer again.
func keep(_ t: Tensor, in slot: inout Tensor?) { if !predicting { slot = t } }

/// A layer's output tensor of `shape`: from the arena while predicting (not kept), else the layer's own
/// buffer `kept`, reused while the shape stays the same.
func layerOutput(_ kept: inout Tensor?, _ shape: [Int]) -> Tensor {
    if let arena = ActivationArena.current { return arena.take(shape) }
    let y = Tensor.reuse(kept, shape); kept = y
    return y
}
