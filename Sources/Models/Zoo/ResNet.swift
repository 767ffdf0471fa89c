import Kernels

extension ModelZoo {
    /// ResNet-18 with torchvision's names; the stem conv has a bias (11,175,434 parameters for 1 channel, 10 classes).
    static func resnet18(inChannels: Int, classes: Int, residual: Bool) -> Network {
        // The stem's bn1 writes its input gradient over the max pool's, which nothing else reads.
        var units: [Layer] = [Conv2d("conv1", inChannels, 64, kernel: 7, stride: 2, padding: 3, bias: true),
                              BatchNorm2d("bn1", 64, gradientInPlace: true), ReLU("relu", inPlace: true), MaxPool2d("maxpool", kernel: 3, stride: 2, padding: 1)]
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

extension ModelZoo {
    /// torchvision's ResNet-34/50/101/152: stem conv 7×7 stride 2 without bias, batch norm, ReLU, max pool
    /// 3/2, four stages (widths 64/128/256/512, the first block of stages 2–4 striding 2) of basic blocks
    /// (34) or v1.5 bottlenecks (50+), global average pool, fc (ResNet-50: 25,557,032 parameters for
    /// 3 channels and 1,000 classes).
    static func resnet(depth: Int, inChannels: Int, classes: Int, residual: Bool) -> Network {
        let counts: [Int] = [34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]][depth]!
        let bottleneck = depth >= 50
        var units: [Layer] = [Conv2d("conv1", inChannels, 64, kernel: 7, stride: 2, padding: 3, bias: false),
                              BatchNorm2d("bn1", 64, gradientInPlace: true), ReLU("relu", inPlace: true),
                              MaxPool2d("maxpool", kernel: 3, stride: 2, padding: 1)]
        var cin = 64
        for (i, (width, n)) in zip([64, 128, 256, 512], counts).enumerated() {
            for j in 0..<n {
                let name = "layer\(i + 1).\(j)", stride = j == 0 && i > 0 ? 2 : 1
                if bottleneck {
                    units.append(Bottleneck(name, cin, width: width, stride: stride, residual: residual))
                    cin = width * Bottleneck.expansion
                } else {
                    units.append(BasicBlock(name, cin, width, stride: stride, residual: residual))
                    cin = width
                }
            }
        }
        units += [GlobalAvgPool("avgpool"), Linear("fc", cin, classes)]
        return Network(name: "resnet\(depth)", units: units, classes: classes)
    }

    /// He et al. 2016 §4.2: conv 3×3 to 16 channels, batch norm, ReLU, then three stages of n = (depth − 2)/6
    /// basic blocks (16/32/64 channels, strides 1/2/2, projection shortcuts where the shape changes),
    /// global average pool, fc.
    static func cifarResNet(depth: Int, inChannels: Int, classes: Int, residual: Bool) -> Network {
        precondition((depth - 2) % 6 == 0, "CIFAR ResNet depth \(depth) is not 6n+2")
        let n = (depth - 2) / 6
        var units: [Layer] = [Conv2d("conv1", inChannels, 16, kernel: 3, stride: 1, padding: 1, bias: false),
                              BatchNorm2d("bn1", 16, gradientInPlace: true), ReLU("relu", inPlace: true)]
        var cin = 16
        for (i, (cout, stride)) in [(16, 1), (32, 2), (64, 2)].enumerated() {
            for j in 0..<n {
                units.append(BasicBlock("layer\(i + 1).\(j)", j == 0 ? cin : cout, cout, stride: j == 0 ? stride : 1,
                                        residual: residual))
            }
            cin = cout
        }
        units += [GlobalAvgPool("avgpool"), Linear("fc", 64, classes)]
        return Network(name: "resnet\(depth)-cifar", units: units, classes: classes)
    }
}
