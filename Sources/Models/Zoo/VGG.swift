import Kernels

extension ModelZoo {
    /// torchvision's VGG configurations: output channels of each 3×3 conv, 0 for a 2×2 max pool.
    static let vggConfigs: [Int: [Int]] = [
        11: [64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0],
        13: [64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0],
        16: [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0],
        19: [64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0],
    ]

    /// torchvision's VGG-11/13/16/19, with batch norm after each conv or without (features.N numbered as
    /// its nn.Sequential; adaptive average pool to 7×7; classifier with dropout 0.5). VGG-16: 138,357,544
    /// parameters for 3 channels and 1000 classes.
    static func vgg(_ depth: Int, batchNorm: Bool, inChannels: Int, classes: Int) -> Network {
        var units: [Layer] = [], cin = inChannels
        for v in vggConfigs[depth]! {
            let i = units.count
            if v == 0 { units.append(MaxPool2d("features.\(i)", kernel: 2, stride: 2)); continue }
            units.append(Conv2d("features.\(i)", cin, v, kernel: 3, padding: 1))
            if batchNorm { units.append(BatchNorm2d("features.\(i + 1)", v)) }
            units.append(ReLU("features.\(units.count)", inPlace: true))
            cin = v
        }
        units += [
            AdaptiveAvgPool2d("avgpool", 7, 7), Flatten("flatten"),
            Linear("classifier.0", 512 * 7 * 7, 4096), ReLU("classifier.1", inPlace: true), Dropout("classifier.2", p: 0.5),
            Linear("classifier.3", 4096, 4096), ReLU("classifier.4", inPlace: true), Dropout("classifier.5", p: 0.5),
            Linear("classifier.6", 4096, classes),
        ]
        return Network(name: "vgg\(depth)" + (batchNorm ? "-bn" : ""), units: units, classes: classes)
    }
}
