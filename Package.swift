// swift-tools-version:5.9
import PackageDescription

// Release builds compile the numeric modules for this machine's CPU so that
// SIMD.addProduct lowers to FMA instructions instead of a libm call per lane.
// Kernels also drop bounds checks (-Ounchecked): they index raw pointers whose
// bounds are checked once, at the op that calls them. Autograd keeps -O so its
// shape preconditions stay active. `unsafeFlags` are allowed in a root package;
// the price is that tinygpt cannot be used as a dependency of another package.
let nativeCPU: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "native"], .when(configuration: .release))]
let kernelFlags: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-target-cpu", "native"], .when(configuration: .release))]

let package = Package(
    name: "tinygpt",
    products: [
        .executable(name: "tinygpt", targets: ["tinygpt"]),
        .library(name: "TinyGPT", targets: ["Files", "Kernels", "Autograd", "NN", "Model", "Tokenizer", "Train", "Generate"]),
    ],
    targets: [
        .target(name: "Files"),
        .target(name: "Kernels", swiftSettings: kernelFlags),
        .target(name: "Autograd", dependencies: ["Kernels"], swiftSettings: nativeCPU),
        .target(name: "NN", dependencies: ["Autograd", "Kernels"], swiftSettings: nativeCPU),
        .target(name: "Model", dependencies: ["NN", "Autograd", "Kernels", "Files"], swiftSettings: nativeCPU),
        .target(name: "Tokenizer", dependencies: ["Files"], swiftSettings: nativeCPU),
        .target(name: "Train", dependencies: ["Model", "NN", "Autograd", "Kernels", "Tokenizer", "Files"], swiftSettings: nativeCPU),
        .target(name: "Generate", dependencies: ["Model", "NN", "Autograd", "Kernels", "Tokenizer"], swiftSettings: nativeCPU),
        .executableTarget(name: "tinygpt", dependencies: ["Files", "Kernels", "Autograd", "NN", "Model", "Tokenizer", "Train", "Generate"], swiftSettings: nativeCPU),
        // Shared test helpers (scratch directories); no XCTest, so `swift build` builds it too.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"]),
        .testTarget(name: "AutogradTests", dependencies: ["Autograd", "Kernels"]),
        .testTarget(name: "NNTests", dependencies: ["NN", "Autograd", "Kernels"]),
        .testTarget(name: "ModelTests", dependencies: ["TestSupport", "Model", "NN", "Autograd", "Kernels"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TrainTests", dependencies: ["TestSupport", "Train", "Model", "NN", "Autograd", "Kernels", "Tokenizer", "Files"]),
        .testTarget(name: "GenerateTests", dependencies: ["Generate", "Model", "NN", "Autograd", "Kernels", "Tokenizer"]),
        .testTarget(name: "TokenizerTests", dependencies: ["TestSupport", "Tokenizer"], resources: [.copy("Fixtures")]),
        // Runs the built executable; the dependency makes `swift test` build it first.
        .testTarget(name: "CommandLineTests", dependencies: ["TestSupport", "tinygpt"]),
    ]
)
