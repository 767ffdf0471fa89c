import Kernels

extension ModelZoo {
    /// torchvision's GoogLeNet (Inception v1) without the auxiliary heads and without transform_input:
    /// 6,624,904 parameters for 3 channels and 1000 classes. Batch norm eps 0.001, ceil-mode max pools.
    static func googlenet(inChannels: Int, classes: Int) -> Network {
        var units: [Layer] = basicConv("conv1", inChannels, 64, kernel: 7, stride: 2, padding: 3)
        units.append(MaxPool2d("maxpool1", kernel: 3, stride: 2, ceilMode: true))
        units += basicConv("conv2", 64, 64, kernel: 1)
        units += basicConv("conv3", 64, 192, kernel: 3, padding: 1)
        units.append(MaxPool2d("maxpool2", kernel: 3, stride: 2, ceilMode: true))
        units += [inception("inception3a", 192, 64, 96, 128, 16, 32, 32),
                  inception("inception3b", 256, 128, 128, 192, 32, 96, 64),
                  MaxPool2d("maxpool3", kernel: 3, stride: 2, ceilMode: true),
                  inception("inception4a", 480, 192, 96, 208, 16, 48, 64),
                  inception("inception4b", 512, 160, 112, 224, 24, 64, 64),
                  inception("inception4c", 512, 128, 128, 256, 24, 64, 64),
                  inception("inception4d", 512, 112, 144, 288, 32, 64, 64),
                  inception("inception4e", 528, 256, 160, 320, 32, 128, 128),
                  MaxPool2d("maxpool4", kernel: 2, stride: 2, ceilMode: true),
                  inception("inception5a", 832, 256, 160, 320, 32, 128, 128),
                  inception("inception5b", 832, 384, 192, 384, 48, 128, 128),
                  GlobalAvgPool("avgpool"), Dropout("dropout", p: 0.2), Linear("fc", 1024, classes)]
        return Network(name: "googlenet", units: units, classes: classes)
    }

    /// torchvision's BasicConv2d: conv without bias, batch norm (eps 0.001), ReLU.
    private static func basicConv(_ name: String, _ cin: Int, _ cout: Int, kernel: Int, stride: Int = 1,
                                  padding: Int = 0) -> [Layer] {
        [Conv2d(name + ".conv", cin, cout, kernel: kernel, stride: stride, padding: padding, bias: false),
         BatchNorm2d(name + ".bn", cout, eps: 1e-3), ReLU(name + ".relu", inPlace: true)]
    }

    /// Four branches concatenated along channels: 1×1; 1×1 then 3×3; 1×1 then 3×3 (torchvision's "5×5"
    /// branch uses a 3×3 too); 3×3/1 ceil-mode max pool then 1×1.
    private static func inception(_ name: String, _ cin: Int, _ ch1: Int, _ ch3red: Int, _ ch3: Int,
                                  _ ch5red: Int, _ ch5: Int, _ poolProj: Int) -> ChannelConcat {
        let b = { (i: Int) in "\(name).branch\(i)" }
        return ChannelConcat(name, branches: [
            Sequential(b(1), basicConv(b(1), cin, ch1, kernel: 1)),
            Sequential(b(2), basicConv(b(2) + ".0", cin, ch3red, kernel: 1) + basicConv(b(2) + ".1", ch3red, ch3, kernel: 3, padding: 1)),
            Sequential(b(3), basicConv(b(3) + ".0", cin, ch5red, kernel: 1) + basicConv(b(3) + ".1", ch5red, ch5, kernel: 3, padding: 1)),
            Sequential(b(4), [MaxPool2d(b(4) + ".0", kernel: 3, stride: 1, padding: 1, ceilMode: true)]
                       + basicConv(b(4) + ".1", cin, poolProj, kernel: 1)),
        ])
    }
}
