import Kernels

/// Inference folds a conv followed by its batch norm, and the ReLU after that if there is one, into
/// the conv's epilogue (`ConvEpilogue`): one pass over the output instead of three. Found from the
/// layer kinds at `i` (the network's units, a Sequential's layers), never from a model's name.
/// Returns the conv, its epilogue and how many layers it stands for; nil where no fold applies.
func evalFold(_ layers: [Layer], at i: Int) -> (conv: Conv2d, epilogue: ConvEpilogue, count: Int)? {
    guard let conv = layers[i] as? Conv2d, i + 1 < layers.count, let bn = layers[i + 1] as? BatchNorm2d else { return nil }
    var e = bn.evalScaleShift()
    e.relu = i + 2 < layers.count && layers[i + 2] is ReLU
    return (conv, e, e.relu ? 3 : 2)
}
