import Kernels

/// ResNet's basic block: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), the shortcut a 1×1
/// conv + bn projection when the shape changes. `residual = false` drops the add (the plain network)
/// but keeps the projection's weights, so it can be switched back on mid-run.
public final class BasicBlock: Layer {
    public let name: String
    public let conv1: Conv2d, bn1: BatchNorm2d, relu1: ReLU, conv2: Conv2d, bn2: BatchNorm2d, relu2: ReLU
    public let downsample: (conv: Conv2d, bn: BatchNorm2d)?
    public var residual: Bool {
        didSet { for p in downsample.map({ $0.conv.parameters + $0.bn.parameters }) ?? [] { p.inUse = residual } }
    }
    public var needsInputGradient = true
    private var sum: Tensor?, dx: Tensor?

    public init(_ name: String, _ cin: Int, _ cout: Int, stride: Int, residual: Bool = true) {
        self.name = name
        conv1 = Conv2d(qualified(name, "conv1"), cin, cout, kernel: 3, stride: stride, padding: 1, bias: false)
        bn1 = BatchNorm2d(qualified(name, "bn1"), cout)
        relu1 = ReLU(qualified(name, "relu1"))
        conv2 = Conv2d(qualified(name, "conv2"), cout, cout, kernel: 3, stride: 1, padding: 1, bias: false)
        bn2 = BatchNorm2d(qualified(name, "bn2"), cout)
        relu2 = ReLU(qualified(name, "relu2"))
        downsample = (stride != 1 || cin != cout)
            ? (Conv2d(qualified(name, "downsample.0"), cin, cout, kernel: 1, stride: stride, bias: false),
               BatchNorm2d(qualified(name, "downsample.1"), cout))
            : nil
        self.residual = residual
        for p in downsample.map({ $0.conv.parameters + $0.bn.parameters }) ?? [] { p.inUse = residual }
    }

    private var layers: [Layer] {
        [conv1, bn1, conv2, bn2] + (downsample.map { [$0.conv, $0.bn] as [Layer] } ?? [])
    }
    public var parameters: [Parameter] { layers.flatMap(\.parameters) }
    public var state: [StateEntry] { layers.flatMap(\.state) }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let main = bn2.forward(conv2.forward(relu1.forward(bn1.forward(conv1.forward(x, training: training),
                                                                         training: training), training: training),
                                             training: training), training: training)
        guard residual else { return relu2.forward(main, training: training) }
        let s = Tensor.reuse(sum, main.shape); sum = s
        s.copy(from: main)
        let shortcut = downsample.map { $0.bn.forward($0.conv.forward(x, training: training), training: training) } ?? x
        addInPlace(s.data, shortcut.data, count: s.count)
        return relu2.forward(s, training: training)
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        let dSum = relu2.backward(dy)!
        let dMain = conv1.backward(bn1.backward(relu1.backward(conv2.backward(bn2.backward(dSum)!)!)!)!)!
        guard residual else { return dMain }
        let d = Tensor.reuse(dx, dMain.shape); dx = d
        d.copy(from: dMain)
        let dShortcut = downsample.map { $0.conv.backward($0.bn.backward(dSum)!)! } ?? dSum
        addInPlace(d.data, dShortcut.data, count: d.count)
        return d
    }
}
