import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Which register block the blocked matmul runs: one per register file.
///
/// Every shape is plain Swift over `SIMDn<Float>`, valid on any CPU (a shape
/// meant for another register file is only slower, never wrong), and every
/// shape sums each element p = 0, 1, …, k-1 with one FMA per step, so all of
/// them give bit-identical results.
public enum MatmulKernel: String, CaseIterable, Sendable {
    /// 12×32 block of SIMD16: 24 accumulators for 32 zmm registers.
    case avx512
    /// 6×16 block of SIMD8: 12 accumulators for 16 ymm registers.
    case avx2
    /// 8×12 block of SIMD4: 24 accumulators for 32 128-bit NEON registers.
    case neon
    /// 4×8 block of SIMD4: 8 accumulators, fits 16 128-bit registers (SSE2, anything).
    case generic

    public static let environmentVariable = "TINYGPT_MATMUL_KERNEL"

    /// The kernel this process uses: `TINYGPT_MATMUL_KERNEL` when it names
    /// one, else the best the CPU and the build both support. Settable (tests
    /// run every shape); the value never changes what a product computes.
    nonisolated(unsafe) public static var current: MatmulKernel = forced ?? detected

    /// Whether `current` came from the environment variable.
    public static var isForced: Bool { forced != nil }

    /// The one-line error for a `TINYGPT_MATMUL_KERNEL` that names no kernel, or nil.
    public static var environmentError: String? {
        guard let value = ProcessInfo.processInfo.environment[environmentVariable],
              MatmulKernel(rawValue: value) == nil else { return nil }
        return "\(environmentVariable)='\(value)' is not a matmul kernel; allowed: "
            + allCases.map(\.rawValue).joined(separator: ", ") + " (or unset it to detect the CPU)"
    }

    private static let forced: MatmulKernel? =
        ProcessInfo.processInfo.environment[environmentVariable].flatMap(MatmulKernel.init(rawValue:))

    /// Register block as "rows×columns of SIMDn".
    public var blockDescription: String {
        switch self {
        case .avx512: return "12×32 of SIMD16"
        case .avx2: return "6×16 of SIMD8"
        case .neon: return "8×12 of SIMD4"
        case .generic: return "4×8 of SIMD4"
        }
    }

    /// The best shape for this CPU, capped by what this build's instructions
    /// can use: an x86-64-v3 build run on an AVX-512 machine has no zmm
    /// registers, so the 12×32 block would spill there. (Package.swift defines
    /// TINYGPT_NO_AVX512 / TINYGPT_NO_AVX2 for named targets that lack them.)
    public static let detected: MatmulKernel = {
        #if arch(arm64)
        return .neon
        #elseif arch(x86_64)
        let cpu = x86Features()
        #if TINYGPT_NO_AVX2
        return .generic
        #elseif TINYGPT_NO_AVX512
        return cpu.avx2 && cpu.fma ? .avx2 : .generic
        #else
        return cpu.avx512f ? .avx512 : cpu.avx2 && cpu.fma ? .avx2 : .generic
        #endif
        #else
        return .generic
        #endif
    }()

    /// AVX2, FMA and AVX-512F support as the operating system reports it
    /// (which also says whether it saves the wider registers).
    static func x86Features() -> (avx2: Bool, fma: Bool, avx512f: Bool) {
        #if os(macOS)
        func flag(_ name: String) -> Bool {
            var value: Int32 = 0
            var size = MemoryLayout<Int32>.size
            return sysctlbyname(name, &value, &size, nil, 0) == 0 && value != 0
        }
        return (flag("hw.optional.avx2_0"), flag("hw.optional.fma"), flag("hw.optional.avx512f"))
        #else
        // Linux: the first "flags" line of /proc/cpuinfo (all cores are alike).
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else {
            return (false, false, false)
        }
        let flags = Set(line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ":" }).map(String.init))
        return (flags.contains("avx2"), flags.contains("fma"), flags.contains("avx512f"))
        #endif
    }
}
