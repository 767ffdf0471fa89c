// swift-tools-version:5.9
import PackageDescription

// The kernels are built for the host CPU by default: a generic x86-64 build turns every
// SIMD FMA into a call to fmaf (DESIGN.md, Kernels, has the measured cost). NNTOP_PORTABLE=1
// builds a binary that runs on any CPU of the architecture (slower).
let portable = Context.environment["NNTOP_PORTABLE"] == "1"
// -O even in debug builds: `swift test` compiles debug, and -Onone kernels are far slower.
let hotFlags: [String] = (portable ? [] : ["-target-cpu", "native"]) + ["-Ounchecked"]

let package = Package(
    name: "nntop",
    platforms: [.macOS(.v13)],
    products: [.executable(name: "nntop", targets: ["nntop"])],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CNcurses", path: "Sources/CNcurses"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // libpng and libjpeg(-turbo) decode image folders; only Models/Data imports them.
        .systemLibrary(name: "CPng", path: "Sources/CPng"),
        .systemLibrary(name: "CJpeg", path: "Sources/CJpeg"),
        // Software prefetches and non-temporal stores (a header of static inline functions, nothing to link): Kernels/Prefetch.swift, GEMM.swift.
        .systemLibrary(name: "CCacheHints", path: "Sources/CCacheHints"),
        .target(name: "Kernels", dependencies: ["CCacheHints"], swiftSettings: [.unsafeFlags(hotFlags)]),
        .target(name: "Models", dependencies: ["Kernels", "CZlib", "CPng", "CJpeg"], swiftSettings: [.unsafeFlags(hotFlags)]),
        .target(name: "TUI", dependencies: ["CNcurses"]),
        .executableTarget(name: "nntop", dependencies: [
            "Models", "TUI", "Kernels",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Fuzz targets (scripts/fuzz.sh builds them with -sanitize=fuzzer; built plainly, a corpus replayer).
        .executableTarget(name: "nntop-fuzz", dependencies: ["Models"], path: "Sources/nntop-fuzz"),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models"], exclude: ["Fixtures"]),
        .testTarget(name: "TUITests", dependencies: ["TUI"]),
        .testTarget(name: "CLITests", dependencies: ["nntop", "Models"]),
    ]
)
