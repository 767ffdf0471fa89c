import Foundation
import Kernels

/// The models nntop trains, built exactly as ../shared/reference/torch_models.py defines them.
public enum ModelZoo {
    public static let names = ["lenet5", "resnet18"]

    /// Builds a model with PyTorch's default initialisation drawn from `seed`.
    public static func make(_ name: String, inChannels: Int = 1, classes: Int = 10, residual: Bool = true,
                            seed: UInt64 = 0) -> Network? {
        let net: Network
        switch name {
        case "lenet5": net = lenet5(inChannels: inChannels, classes: classes)
        case "resnet18": net = resnet18(inChannels: inChannels, classes: classes, residual: residual)
        default: return nil
        }
        var rng = SeededRandom(seed: seed)
        initialize(net, rng: &rng)
        // Batch norm needs the whole batch's statistics: only models without it are split across cores.
        if !allLayers(net).contains(where: { $0 is BatchNorm2d }) {
            net.makeReplica = { make(name, inChannels: inChannels, classes: classes, residual: residual, seed: seed)! }
        }
        return net
    }

    /// conv(6,5x5) relu maxpool, conv(16,5x5) relu maxpool, fc 400-120-84-classes with relu between.
    static func lenet5(inChannels: Int, classes: Int) -> Network {
        Network(name: "lenet5", units: [
            Conv2d("conv1", inChannels, 6, kernel: 5), ReLU("relu1"), MaxPool2d("pool1", kernel: 2),
            Conv2d("conv2", 6, 16, kernel: 5), ReLU("relu2"), MaxPool2d("pool2", kernel: 2),
            Flatten("flatten"),
            Linear("fc1", 400, 120), ReLU("relu3"), Linear("fc2", 120, 84), ReLU("relu4"), Linear("fc3", 84, classes),
        ], classes: classes)
    }

    /// ResNet-18 with torchvision's names; the stem conv has a bias (11,175,434 parameters for 1 channel, 10 classes).
    static func resnet18(inChannels: Int, classes: Int, residual: Bool) -> Network {
        // The stem's bn1 writes its input gradient over the max pool's, which nothing else reads.
        var units: [Layer] = [Conv2d("conv1", inChannels, 64, kernel: 7, stride: 2, padding: 3, bias: true),
                              BatchNorm2d("bn1", 64, gradientInPlace: true), ReLU("relu"), MaxPool2d("maxpool", kernel: 3, stride: 2, padding: 1)]
        var cin = 64
        for (i, (cout, stride)) in [(64, 1), (128, 2), (256, 2), (512, 2)].enumerated() {
            units.append(BasicBlock("layer\(i + 1).0", cin, cout, stride: stride, residual: residual))
            units.append(BasicBlock("layer\(i + 1).1", cout, cout, stride: 1, residual: residual))
            cin = cout
        }
        units += [GlobalAvgPool("avgpool"), Linear("fc", 512, classes)]
        return Network(name: "resnet18", units: units, classes: classes)
    }

    /// PyTorch's defaults: conv and linear weights kaiming_uniform(a=√5), i.e. U(±1/√fan_in), biases
    /// U(±1/√fan_in); batch norm weight 1, bias 0 (set by BatchNorm2d itself).
    static func initialize(_ net: Network, rng: inout SeededRandom) {
        for layer in allLayers(net) {
            let (w, b): (Parameter?, Parameter?)
            if let c = layer as? Conv2d { (w, b) = (c.weight, c.bias) }
            else if let l = layer as? Linear { (w, b) = (l.weight, l.bias) }
            else { continue }
            guard let w else { continue }
            let bound = 1 / Float(w.value.count / w.value.shape[0]).squareRoot()
            // Drawn in PyTorch's order, whatever the layout in memory, so a seed gives the same model.
            w.layout.setTorchOrder((0..<w.value.count).map { _ in rng.uniform(-bound, bound) }, into: w.value)
            if let b { for i in 0..<b.value.count { b.value[i] = rng.uniform(-bound, bound) } }
        }
    }

    /// Every leaf layer, in state_dict order (inside blocks too).
    public static func allLayers(_ net: Network) -> [Layer] {
        net.units.flatMap { unit -> [Layer] in
            guard let block = unit as? BasicBlock else { return [unit] }
            return [block.conv1, block.bn1, block.conv2, block.bn2] + (block.downsample.map { [$0.conv, $0.bn] } ?? [])
        }
    }
}
