import Kernels

extension ModelZoo {
    /// torchvision's AlexNet (features.N / classifier.N as in nn.Sequential; dropout 0.5; 61,100,840
    /// parameters for 3 channels and 1000 classes). Needs inputs of 63×63 or more (the last max pool
    /// wants a 3×3 map).
    static func alexnet(inChannels: Int, classes: Int) -> Network {
        Network(name: "alexnet", units: [
            Conv2d("features.0", inChannels, 64, kernel: 11, stride: 4, padding: 2), ReLU("features.1", inPlace: true),
            MaxPool2d("features.2", kernel: 3, stride: 2),
            Conv2d("features.3", 64, 192, kernel: 5, padding: 2), ReLU("features.4", inPlace: true),
            MaxPool2d("features.5", kernel: 3, stride: 2),
            Conv2d("features.6", 192, 384, kernel: 3, padding: 1), ReLU("features.7", inPlace: true),
            Conv2d("features.8", 384, 256, kernel: 3, padding: 1), ReLU("features.9", inPlace: true),
            Conv2d("features.10", 256, 256, kernel: 3, padding: 1), ReLU("features.11", inPlace: true),
            MaxPool2d("features.12", kernel: 3, stride: 2),
            AdaptiveAvgPool2d("avgpool", 6, 6), Flatten("flatten"),
            Dropout("classifier.0", p: 0.5), Linear("classifier.1", 256 * 6 * 6, 4096), ReLU("classifier.2", inPlace: true),
            Dropout("classifier.3", p: 0.5), Linear("classifier.4", 4096, 4096), ReLU("classifier.5", inPlace: true),
            Linear("classifier.6", 4096, classes),
        ], classes: classes)
    }
}
