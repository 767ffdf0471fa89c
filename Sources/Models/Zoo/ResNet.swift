import Kernels

extension ModelZoo {
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
}
