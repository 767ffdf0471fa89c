import Kernels

/// The input-gradient buffers of one network's backward pass, shared by its layers: a layer takes its
/// dx here, and whoever consumes that gradient gives it back, so a buffer lives only from the layer that
/// writes it to the layer that reads it. Peak memory is then the few gradients alive at once (a block's
/// incoming gradient, its branch's, the sum) instead of one buffer per layer (ResNet-50 at 224×224,
/// batch 16: about 1 GB fewer; BENCHMARKS.md has the figures).
///
/// A layer outside a network has none and allocates each gradient afresh.
public final class GradientBuffers {
    /// Buffers not lent out, any size.
    private var free: [Tensor] = []
    /// Buffers lent out, by identity: only these are taken back.
    private var lent: [ObjectIdentifier: Tensor] = [:]
    /// Floats this pool holds (it keeps them for the next step).
    public private(set) var allocatedFloats = 0
    /// Buffers lent and not given back: 0 between backward passes, or a gradient was dropped.
    var lentCount: Int { lent.count }

    public init() {}

    /// A buffer of `shape`, lent until `give`. Its contents are whatever the last user left: the layer
    /// writes every element. The smallest free buffer that fits, so a small gradient never takes the
    /// buffer a later large one needs (which would allocate, and fault in fresh pages, every step).
    /// When none fits, the largest free one is replaced by one that does: gradients grow towards the
    /// input (VGG's double at each pool), and keeping the smaller ones would hold a buffer per size.
    public func take(_ shape: [Int]) -> Tensor {
        let count = shape.reduce(1, *)
        var pick = -1
        for (i, b) in free.enumerated() where b.count >= count && (pick < 0 || b.count < free[pick].count) { pick = i }
        let base: Tensor
        if pick >= 0 { base = free.remove(at: pick) } else {
            if let largest = free.indices.max(by: { free[$0].count < free[$1].count }) {
                allocatedFloats -= free.remove(at: largest).count
            }
            base = Tensor(shape: [count]); allocatedFloats += count
        }
        lent[ObjectIdentifier(base)] = base
        return Tensor(view: base, offset: 0, shape: shape)
    }

    /// Takes back the buffer under `t` (a view of it, reshaped or not) if it is one of this pool's lent
    /// out, unless one of `keeping` lies in the same buffer (an in-place layer returned its incoming
    /// gradient, or it is the gradient a block was handed, which its caller gives back).
    /// Anything else (the network's logits gradient, a caller's own tensor) is left alone.
    public func give(_ t: Tensor?, keeping: [Tensor?] = []) {
        guard let t else { return }
        let id = ObjectIdentifier(t.storage)
        if keeping.contains(where: { $0.map { ObjectIdentifier($0.storage) == id } ?? false }) { return }
        if let base = lent.removeValue(forKey: id) { free.append(base) }
    }
}

/// A layer that writes its input gradient into a buffer of the network's `GradientBuffers`.
public protocol GradientBufferUser: AnyObject {
    var gradientBuffers: GradientBuffers? { get set }
}

extension GradientBufferUser {
    /// A buffer for this layer's input gradient: the network's, or a fresh one outside a network.
    func gradientBuffer(_ shape: [Int]) -> Tensor { gradientBuffers?.take(shape) ?? Tensor(shape: shape) }
    /// Hands back a gradient this layer took from a child's backward and has finished reading.
    func release(_ t: Tensor?, keeping: Tensor?...) { gradientBuffers?.give(t, keeping: keeping) }
}
