// swift-tools-version:6.0
import PackageDescription

// Release builds compile the numeric modules for this machine's CPU so that
// SIMD.addProduct lowers to FMA instructions instead of a libm call per lane.
// Kernels also drop bounds checks (-Ounchecked): they index raw pointers whose
// bounds are checked once, at the op that calls them. Autograd keeps -O so its
// shape preconditions stay active. `unsafeFlags` are allowed in a root package;
// the price is that tinygpt cannot be used as a dependency of another package.
//
// TINYGPT_TARGET_CPU names another target than this machine (x86-64-v3 for
// AVX2 + FMA, x86-64-v4 for AVX-512, or an LLVM CPU name: znver3, apple-m1, …), e.g.
//   TINYGPT_TARGET_CPU=x86-64-v3 swift build -c release --scratch-path .build-avx2
// For named x86 targets without AVX-512 (or AVX2) the Kernels module gets
// TINYGPT_NO_AVX512 (TINYGPT_NO_AVX2), so the matmul never picks a register
// block the build's instructions cannot hold, whatever the CPU it runs on.
import Foundation

let targetCPU = ProcessInfo.processInfo.environment["TINYGPT_TARGET_CPU"].flatMap { $0.isEmpty ? nil : $0 } ?? "native"
let withoutAVX2: Set<String> = ["x86-64", "x86-64-v2", "core2", "nehalem", "westmere", "sandybridge", "ivybridge",
                                "btver2", "bdver1", "bdver2", "silvermont", "goldmont", "goldmont-plus", "tremont"]
let withoutAVX512: Set<String> = withoutAVX2.union(["x86-64-v3", "haswell", "broadwell", "skylake", "alderlake",
                                                    "raptorlake", "meteorlake", "arrowlake", "gracemont", "bdver3", "bdver4",
                                                    "znver1", "znver2", "znver3"])
let isaDefines: [SwiftSetting] = (withoutAVX2.contains(targetCPU) ? [.define("TINYGPT_NO_AVX2")] : [])
    + (withoutAVX512.contains(targetCPU) ? [.define("TINYGPT_NO_AVX512")] : [])
// On x86-64 the CPU goes through the clang importer as -march, whose CPU and
// target features Swift's code generation uses too: the micro-architecture
// levels (x86-64-v3) are -march names, not LLVM CPUs, and Swift 6.0 passes
// -target-cpu on as -mcpu, which clang refuses for x86-64.
#if arch(x86_64)
let cpuFlags = ["-Xcc", "-march=\(targetCPU)"]
#else
let cpuFlags = ["-target-cpu", targetCPU]
#endif
let nativeCPU: [SwiftSetting] = [.unsafeFlags(cpuFlags, .when(configuration: .release))]
let kernelFlags: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"] + cpuFlags, .when(configuration: .release))] + isaDefines

let package = Package(
    name: "tinygpt",
    // Atomic (Synchronization, Swift 6.0) is available from macOS 15.
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tinygpt", targets: ["tinygpt"]),
        .library(name: "TinyGPT", targets: ["Files", "Kernels", "Autograd", "NN", "Config", "Model", "Formats", "Tokenizer", "Train", "Generate", "Serve"]),
    ],
    targets: [
        .target(name: "Files"),
        .target(name: "Kernels", swiftSettings: kernelFlags),
        .target(name: "Autograd", dependencies: ["Kernels"], swiftSettings: nativeCPU),
        .target(name: "NN", dependencies: ["Autograd", "Kernels"], swiftSettings: nativeCPU),
        // The run config and its settings: what a model, a run and a sampler are asked to be.
        .target(name: "Config", dependencies: ["NN", "Kernels", "Files"], swiftSettings: nativeCPU),
        // The network.
        .target(name: "Model", dependencies: ["Config", "NN", "Autograd", "Kernels"], swiftSettings: nativeCPU),
        .target(name: "Tokenizer", dependencies: ["Files"], swiftSettings: nativeCPU),
        // Files on disk: safetensors, checkpoints, run and output directories, Hugging Face.
        .target(name: "Formats", dependencies: ["Model", "Config", "Tokenizer", "NN", "Autograd", "Kernels", "Files"], swiftSettings: nativeCPU),
        .target(name: "Train", dependencies: ["Formats", "Model", "Config", "NN", "Autograd", "Kernels", "Tokenizer", "ChatTemplate", "Files", "Generate"], swiftSettings: nativeCPU),
        .target(name: "Generate", dependencies: ["Model", "Config", "Formats", "NN", "Autograd", "Kernels", "Tokenizer", "ChatTemplate"], swiftSettings: nativeCPU),
        // Chat templates: the Jinja subset models' templates are written in.
        .target(name: "ChatTemplate", dependencies: ["Files"]),
        // The OpenAI-compatible HTTP server (`tinygpt serve`) on the system's sockets.
        .target(name: "Serve", dependencies: ["Generate", "Config", "Tokenizer", "ChatTemplate", "Files"], swiftSettings: nativeCPU),
        .executableTarget(name: "tinygpt", dependencies: ["Files", "Kernels", "Autograd", "NN", "Config", "Model", "Formats", "Tokenizer", "Train", "Generate", "Serve"], swiftSettings: nativeCPU),
        // Shared test helpers (scratch directories); no XCTest, so `swift build` builds it too.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "FilesTests", dependencies: ["Files"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"]),
        .testTarget(name: "AutogradTests", dependencies: ["Autograd", "Kernels"]),
        .testTarget(name: "NNTests", dependencies: ["NN", "Autograd", "Kernels"]),
        .testTarget(name: "ConfigTests", dependencies: ["Config", "Model", "NN"]),
        .testTarget(name: "ModelTests", dependencies: ["TestSupport", "Model", "Formats", "Config", "NN", "Autograd", "Kernels"], resources: [.copy("Fixtures")]),
        .testTarget(name: "FormatsTests", dependencies: ["TestSupport", "Formats", "Model", "Config", "NN", "Autograd", "Kernels", "Files", "Tokenizer"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "TrainTests", dependencies: ["TestSupport", "Train", "Formats", "Config", "Model", "NN", "Autograd", "Kernels", "Tokenizer", "Files", "Generate"]),
        .testTarget(name: "GenerateTests", dependencies: ["Generate", "Config", "Model", "Formats", "NN", "Autograd", "Kernels", "Tokenizer", "ChatTemplate"]),
        .testTarget(name: "ServeTests", dependencies: ["Serve", "Generate", "Config", "Model", "Tokenizer", "ChatTemplate", "Files"]),
        .testTarget(name: "ChatTemplateTests", dependencies: ["ChatTemplate", "Files"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TokenizerTests", dependencies: ["TestSupport", "Tokenizer"], resources: [.copy("Fixtures")]),
        // Runs the built executable; the dependency makes `swift test` build it first.
        .testTarget(name: "CommandLineTests", dependencies: ["TestSupport", "tinygpt"]),
    ],
    // Swift 6 mode's data-race checking rejects raw pointers shared with worker
    // threads (the parallel BPE encoder); the code is compiled in Swift 5 mode.
    swiftLanguageModes: [.v5]
)
