import Kernels

extension ModelZoo {
    /// conv(6,5x5) relu maxpool, conv(16,5x5) relu maxpool, fc 400-120-84-classes with relu between.
    static func lenet5(inChannels: Int, classes: Int) -> Network {
        Network(name: "lenet5", units: [
            Conv2d("conv1", inChannels, 6, kernel: 5), ReLU("relu1", inPlace: true), MaxPool2d("pool1", kernel: 2),
            Conv2d("conv2", 6, 16, kernel: 5), ReLU("relu2", inPlace: true), MaxPool2d("pool2", kernel: 2),
            Flatten("flatten"),
            Linear("fc1", 400, 120), ReLU("relu3", inPlace: true), Linear("fc2", 120, 84), ReLU("relu4", inPlace: true), Linear("fc3", 84, classes),
        ], classes: classes)
    }
}
