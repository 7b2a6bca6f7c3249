// Microkernels, unrolled register by register (Swift has no fixed-size register arrays).
// Every one computes C[MR×NR] (+)= Apanel · Bpanel over `kc` steps, p = 0, 1, …, kc-1 in order,
// with one fused multiply-add per element per step, so the rounding of an element
// depends only on its inputs and never on which kernel or thread computed it.

/// 12×32 register block: 24 accumulators of SIMD16<Float>.
/// `a` is an MR-tall packed panel (a[p*12 + r]), `b` has rows of 32 floats `ldb` apart.
@inline(__always)
func microKernel12x32(kc: Int, a: UnsafePointer<Float>, aRowStride: Int = 1, aStep: Int = 12,
                         b: UnsafePointer<Float>, ldb: Int,
                         c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
    var c0_0 = SIMD16<Float>()
    var c0_1 = SIMD16<Float>()
    var c1_0 = SIMD16<Float>()
    var c1_1 = SIMD16<Float>()
    var c2_0 = SIMD16<Float>()
    var c2_1 = SIMD16<Float>()
    var c3_0 = SIMD16<Float>()
    var c3_1 = SIMD16<Float>()
    var c4_0 = SIMD16<Float>()
    var c4_1 = SIMD16<Float>()
    var c5_0 = SIMD16<Float>()
    var c5_1 = SIMD16<Float>()
    var c6_0 = SIMD16<Float>()
    var c6_1 = SIMD16<Float>()
    var c7_0 = SIMD16<Float>()
    var c7_1 = SIMD16<Float>()
    var c8_0 = SIMD16<Float>()
    var c8_1 = SIMD16<Float>()
    var c9_0 = SIMD16<Float>()
    var c9_1 = SIMD16<Float>()
    var c10_0 = SIMD16<Float>()
    var c10_1 = SIMD16<Float>()
    var c11_0 = SIMD16<Float>()
    var c11_1 = SIMD16<Float>()
    if loadC {
        c0_0 = UnsafeRawPointer(c + 0 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c0_1 = UnsafeRawPointer(c + 0 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c1_0 = UnsafeRawPointer(c + 1 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c1_1 = UnsafeRawPointer(c + 1 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c2_0 = UnsafeRawPointer(c + 2 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c2_1 = UnsafeRawPointer(c + 2 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c3_0 = UnsafeRawPointer(c + 3 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c3_1 = UnsafeRawPointer(c + 3 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c4_0 = UnsafeRawPointer(c + 4 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c4_1 = UnsafeRawPointer(c + 4 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c5_0 = UnsafeRawPointer(c + 5 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c5_1 = UnsafeRawPointer(c + 5 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c6_0 = UnsafeRawPointer(c + 6 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c6_1 = UnsafeRawPointer(c + 6 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c7_0 = UnsafeRawPointer(c + 7 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c7_1 = UnsafeRawPointer(c + 7 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c8_0 = UnsafeRawPointer(c + 8 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c8_1 = UnsafeRawPointer(c + 8 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c9_0 = UnsafeRawPointer(c + 9 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c9_1 = UnsafeRawPointer(c + 9 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c10_0 = UnsafeRawPointer(c + 10 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c10_1 = UnsafeRawPointer(c + 10 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c11_0 = UnsafeRawPointer(c + 11 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c11_1 = UnsafeRawPointer(c + 11 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
    }
    var ap = a
    var bp = b
    for _ in 0..<kc {
        let b0 = UnsafeRawPointer(bp + 0).loadUnaligned(as: SIMD16<Float>.self)
        let b1 = UnsafeRawPointer(bp + 16).loadUnaligned(as: SIMD16<Float>.self)
        let a0 = SIMD16<Float>(repeating: ap[0 * aRowStride])
        c0_0.addProduct(a0, b0)
        c0_1.addProduct(a0, b1)
        let a1 = SIMD16<Float>(repeating: ap[1 * aRowStride])
        c1_0.addProduct(a1, b0)
        c1_1.addProduct(a1, b1)
        let a2 = SIMD16<Float>(repeating: ap[2 * aRowStride])
        c2_0.addProduct(a2, b0)
        c2_1.addProduct(a2, b1)
        let a3 = SIMD16<Float>(repeating: ap[3 * aRowStride])
        c3_0.addProduct(a3, b0)
        c3_1.addProduct(a3, b1)
        let a4 = SIMD16<Float>(repeating: ap[4 * aRowStride])
        c4_0.addProduct(a4, b0)
        c4_1.addProduct(a4, b1)
        let a5 = SIMD16<Float>(repeating: ap[5 * aRowStride])
        c5_0.addProduct(a5, b0)
        c5_1.addProduct(a5, b1)
        let a6 = SIMD16<Float>(repeating: ap[6 * aRowStride])
        c6_0.addProduct(a6, b0)
        c6_1.addProduct(a6, b1)
        let a7 = SIMD16<Float>(repeating: ap[7 * aRowStride])
        c7_0.addProduct(a7, b0)
        c7_1.addProduct(a7, b1)
        let a8 = SIMD16<Float>(repeating: ap[8 * aRowStride])
        c8_0.addProduct(a8, b0)
        c8_1.addProduct(a8, b1)
        let a9 = SIMD16<Float>(repeating: ap[9 * aRowStride])
        c9_0.addProduct(a9, b0)
        c9_1.addProduct(a9, b1)
        let a10 = SIMD16<Float>(repeating: ap[10 * aRowStride])
        c10_0.addProduct(a10, b0)
        c10_1.addProduct(a10, b1)
        let a11 = SIMD16<Float>(repeating: ap[11 * aRowStride])
        c11_0.addProduct(a11, b0)
        c11_1.addProduct(a11, b1)
        ap += aStep
        bp += ldb
    }
    UnsafeMutableRawPointer(c + 0 * ldc + 0).storeBytes(of: c0_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 16).storeBytes(of: c0_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 1 * ldc + 0).storeBytes(of: c1_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 1 * ldc + 16).storeBytes(of: c1_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 2 * ldc + 0).storeBytes(of: c2_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 2 * ldc + 16).storeBytes(of: c2_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 3 * ldc + 0).storeBytes(of: c3_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 3 * ldc + 16).storeBytes(of: c3_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 4 * ldc + 0).storeBytes(of: c4_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 4 * ldc + 16).storeBytes(of: c4_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 5 * ldc + 0).storeBytes(of: c5_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 5 * ldc + 16).storeBytes(of: c5_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 6 * ldc + 0).storeBytes(of: c6_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 6 * ldc + 16).storeBytes(of: c6_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 7 * ldc + 0).storeBytes(of: c7_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 7 * ldc + 16).storeBytes(of: c7_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 8 * ldc + 0).storeBytes(of: c8_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 8 * ldc + 16).storeBytes(of: c8_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 9 * ldc + 0).storeBytes(of: c9_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 9 * ldc + 16).storeBytes(of: c9_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 10 * ldc + 0).storeBytes(of: c10_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 10 * ldc + 16).storeBytes(of: c10_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 11 * ldc + 0).storeBytes(of: c11_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 11 * ldc + 16).storeBytes(of: c11_1, as: SIMD16<Float>.self)
}

/// 12×16 register block: 12 accumulators of SIMD16<Float>.
/// `a` is an MR-tall packed panel (a[p*12 + r]), `b` has rows of 16 floats `ldb` apart.
@inline(__always)
func microKernel12x16(kc: Int, a: UnsafePointer<Float>, aRowStride: Int = 1, aStep: Int = 12,
                         b: UnsafePointer<Float>, ldb: Int,
                         c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
    var c0_0 = SIMD16<Float>()
    var c1_0 = SIMD16<Float>()
    var c2_0 = SIMD16<Float>()
    var c3_0 = SIMD16<Float>()
    var c4_0 = SIMD16<Float>()
    var c5_0 = SIMD16<Float>()
    var c6_0 = SIMD16<Float>()
    var c7_0 = SIMD16<Float>()
    var c8_0 = SIMD16<Float>()
    var c9_0 = SIMD16<Float>()
    var c10_0 = SIMD16<Float>()
    var c11_0 = SIMD16<Float>()
    if loadC {
        c0_0 = UnsafeRawPointer(c + 0 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c1_0 = UnsafeRawPointer(c + 1 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c2_0 = UnsafeRawPointer(c + 2 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c3_0 = UnsafeRawPointer(c + 3 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c4_0 = UnsafeRawPointer(c + 4 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c5_0 = UnsafeRawPointer(c + 5 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c6_0 = UnsafeRawPointer(c + 6 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c7_0 = UnsafeRawPointer(c + 7 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c8_0 = UnsafeRawPointer(c + 8 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c9_0 = UnsafeRawPointer(c + 9 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c10_0 = UnsafeRawPointer(c + 10 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c11_0 = UnsafeRawPointer(c + 11 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
    }
    var ap = a
    var bp = b
    for _ in 0..<kc {
        let b0 = UnsafeRawPointer(bp + 0).loadUnaligned(as: SIMD16<Float>.self)
        let a0 = SIMD16<Float>(repeating: ap[0 * aRowStride])
        c0_0.addProduct(a0, b0)
        let a1 = SIMD16<Float>(repeating: ap[1 * aRowStride])
        c1_0.addProduct(a1, b0)
        let a2 = SIMD16<Float>(repeating: ap[2 * aRowStride])
        c2_0.addProduct(a2, b0)
        let a3 = SIMD16<Float>(repeating: ap[3 * aRowStride])
        c3_0.addProduct(a3, b0)
        let a4 = SIMD16<Float>(repeating: ap[4 * aRowStride])
        c4_0.addProduct(a4, b0)
        let a5 = SIMD16<Float>(repeating: ap[5 * aRowStride])
        c5_0.addProduct(a5, b0)
        let a6 = SIMD16<Float>(repeating: ap[6 * aRowStride])
        c6_0.addProduct(a6, b0)
        let a7 = SIMD16<Float>(repeating: ap[7 * aRowStride])
        c7_0.addProduct(a7, b0)
        let a8 = SIMD16<Float>(repeating: ap[8 * aRowStride])
        c8_0.addProduct(a8, b0)
        let a9 = SIMD16<Float>(repeating: ap[9 * aRowStride])
        c9_0.addProduct(a9, b0)
        let a10 = SIMD16<Float>(repeating: ap[10 * aRowStride])
        c10_0.addProduct(a10, b0)
        let a11 = SIMD16<Float>(repeating: ap[11 * aRowStride])
        c11_0.addProduct(a11, b0)
        ap += aStep
        bp += ldb
    }
    UnsafeMutableRawPointer(c + 0 * ldc + 0).storeBytes(of: c0_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 1 * ldc + 0).storeBytes(of: c1_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 2 * ldc + 0).storeBytes(of: c2_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 3 * ldc + 0).storeBytes(of: c3_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 4 * ldc + 0).storeBytes(of: c4_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 5 * ldc + 0).storeBytes(of: c5_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 6 * ldc + 0).storeBytes(of: c6_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 7 * ldc + 0).storeBytes(of: c7_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 8 * ldc + 0).storeBytes(of: c8_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 9 * ldc + 0).storeBytes(of: c9_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 10 * ldc + 0).storeBytes(of: c10_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 11 * ldc + 0).storeBytes(of: c11_0, as: SIMD16<Float>.self)
}

/// 1×32 register block: 2 accumulators of SIMD16<Float>.
/// `a` is an MR-tall packed panel (a[p*1 + r]), `b` has rows of 32 floats `ldb` apart.
@inline(__always)
func microKernel1x32(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                         c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
    var c0_0 = SIMD16<Float>()
    var c0_1 = SIMD16<Float>()
    if loadC {
        c0_0 = UnsafeRawPointer(c + 0 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c0_1 = UnsafeRawPointer(c + 0 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
    }
    var ap = a
    var bp = b
    for _ in 0..<kc {
        let b0 = UnsafeRawPointer(bp + 0).loadUnaligned(as: SIMD16<Float>.self)
        let b1 = UnsafeRawPointer(bp + 16).loadUnaligned(as: SIMD16<Float>.self)
        let a0 = SIMD16<Float>(repeating: ap[0])
        c0_0.addProduct(a0, b0)
        c0_1.addProduct(a0, b1)
        ap += 1
        bp += ldb
    }
    UnsafeMutableRawPointer(c + 0 * ldc + 0).storeBytes(of: c0_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 16).storeBytes(of: c0_1, as: SIMD16<Float>.self)
}

/// 2×32 register block: 4 accumulators of SIMD16<Float>.
/// `a` is an MR-tall packed panel (a[p*2 + r]), `b` has rows of 32 floats `ldb` apart.
@inline(__always)
func microKernel2x32(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                         c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
    var c0_0 = SIMD16<Float>()
    var c0_1 = SIMD16<Float>()
    var c1_0 = SIMD16<Float>()
    var c1_1 = SIMD16<Float>()
    if loadC {
        c0_0 = UnsafeRawPointer(c + 0 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c0_1 = UnsafeRawPointer(c + 0 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c1_0 = UnsafeRawPointer(c + 1 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c1_1 = UnsafeRawPointer(c + 1 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
    }
    var ap = a
    var bp = b
    for _ in 0..<kc {
        let b0 = UnsafeRawPointer(bp + 0).loadUnaligned(as: SIMD16<Float>.self)
        let b1 = UnsafeRawPointer(bp + 16).loadUnaligned(as: SIMD16<Float>.self)
        let a0 = SIMD16<Float>(repeating: ap[0])
        c0_0.addProduct(a0, b0)
        c0_1.addProduct(a0, b1)
        let a1 = SIMD16<Float>(repeating: ap[1])
        c1_0.addProduct(a1, b0)
        c1_1.addProduct(a1, b1)
        ap += 2
        bp += ldb
    }
    UnsafeMutableRawPointer(c + 0 * ldc + 0).storeBytes(of: c0_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 16).storeBytes(of: c0_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 1 * ldc + 0).storeBytes(of: c1_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 1 * ldc + 16).storeBytes(of: c1_1, as: SIMD16<Float>.self)
}

/// 3×32 register block: 6 accumulators of SIMD16<Float>.
/// `a` is an MR-tall packed panel (a[p*3 + r]), `b` has rows of 32 floats `ldb` apart.
@inline(__always)
func microKernel3x32(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                         c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
    var c0_0 = SIMD16<Float>()
    var c0_1 = SIMD16<Float>()
    var c1_0 = SIMD16<Float>()
    var c1_1 = SIMD16<Float>()
    var c2_0 = SIMD16<Float>()
    var c2_1 = SIMD16<Float>()
    if loadC {
        c0_0 = UnsafeRawPointer(c + 0 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c0_1 = UnsafeRawPointer(c + 0 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c1_0 = UnsafeRawPointer(c + 1 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c1_1 = UnsafeRawPointer(c + 1 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c2_0 = UnsafeRawPointer(c + 2 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c2_1 = UnsafeRawPointer(c + 2 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
    }
    var ap = a
    var bp = b
    for _ in 0..<kc {
        let b0 = UnsafeRawPointer(bp + 0).loadUnaligned(as: SIMD16<Float>.self)
        let b1 = UnsafeRawPointer(bp + 16).loadUnaligned(as: SIMD16<Float>.self)
        let a0 = SIMD16<Float>(repeating: ap[0])
        c0_0.addProduct(a0, b0)
        c0_1.addProduct(a0, b1)
        let a1 = SIMD16<Float>(repeating: ap[1])
        c1_0.addProduct(a1, b0)
        c1_1.addProduct(a1, b1)
        let a2 = SIMD16<Float>(repeating: ap[2])
        c2_0.addProduct(a2, b0)
        c2_1.addProduct(a2, b1)
        ap += 3
        bp += ldb
    }
    UnsafeMutableRawPointer(c + 0 * ldc + 0).storeBytes(of: c0_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 16).storeBytes(of: c0_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 1 * ldc + 0).storeBytes(of: c1_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 1 * ldc + 16).storeBytes(of: c1_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 2 * ldc + 0).storeBytes(of: c2_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 2 * ldc + 16).storeBytes(of: c2_1, as: SIMD16<Float>.self)
}

/// 4×32 register block: 8 accumulators of SIMD16<Float>.
/// `a` is an MR-tall packed panel (a[p*4 + r]), `b` has rows of 32 floats `ldb` apart.
@inline(__always)
func microKernel4x32(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                         c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
    var c0_0 = SIMD16<Float>()
    var c0_1 = SIMD16<Float>()
    var c1_0 = SIMD16<Float>()
    var c1_1 = SIMD16<Float>()
    var c2_0 = SIMD16<Float>()
    var c2_1 = SIMD16<Float>()
    var c3_0 = SIMD16<Float>()
    var c3_1 = SIMD16<Float>()
    if loadC {
        c0_0 = UnsafeRawPointer(c + 0 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c0_1 = UnsafeRawPointer(c + 0 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c1_0 = UnsafeRawPointer(c + 1 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c1_1 = UnsafeRawPointer(c + 1 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c2_0 = UnsafeRawPointer(c + 2 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c2_1 = UnsafeRawPointer(c + 2 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c3_0 = UnsafeRawPointer(c + 3 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c3_1 = UnsafeRawPointer(c + 3 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
    }
    var ap = a
    var bp = b
    for _ in 0..<kc {
        let b0 = UnsafeRawPointer(bp + 0).loadUnaligned(as: SIMD16<Float>.self)
        let b1 = UnsafeRawPointer(bp + 16).loadUnaligned(as: SIMD16<Float>.self)
        let a0 = SIMD16<Float>(repeating: ap[0])
        c0_0.addProduct(a0, b0)
        c0_1.addProduct(a0, b1)
        let a1 = SIMD16<Float>(repeating: ap[1])
        c1_0.addProduct(a1, b0)
        c1_1.addProduct(a1, b1)
        let a2 = SIMD16<Float>(repeating: ap[2])
        c2_0.addProduct(a2, b0)
        c2_1.addProduct(a2, b1)
        let a3 = SIMD16<Float>(repeating: ap[3])
        c3_0.addProduct(a3, b0)
        c3_1.addProduct(a3, b1)
        ap += 4
        bp += ldb
    }
    UnsafeMutableRawPointer(c + 0 * ldc + 0).storeBytes(of: c0_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 16).storeBytes(of: c0_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 1 * ldc + 0).storeBytes(of: c1_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 1 * ldc + 16).storeBytes(of: c1_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 2 * ldc + 0).storeBytes(of: c2_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 2 * ldc + 16).storeBytes(of: c2_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 3 * ldc + 0).storeBytes(of: c3_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 3 * ldc + 16).storeBytes(of: c3_1, as: SIMD16<Float>.self)
}

/// 5×32 register block: 10 accumulators of SIMD16<Float>.
/// `a` is an MR-tall packed panel (a[p*5 + r]), `b` has rows of 32 floats `ldb` apart.
@inline(__always)
func microKernel5x32(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                         c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
    var c0_0 = SIMD16<Float>()
    var c0_1 = SIMD16<Float>()
    var c1_0 = SIMD16<Float>()
    var c1_1 = SIMD16<Float>()
    var c2_0 = SIMD16<Float>()
    var c2_1 = SIMD16<Float>()
    var c3_0 = SIMD16<Float>()
    var c3_1 = SIMD16<Float>()
    var c4_0 = SIMD16<Float>()
    var c4_1 = SIMD16<Float>()
    if loadC {
        c0_0 = UnsafeRawPointer(c + 0 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c0_1 = UnsafeRawPointer(c + 0 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c1_0 = UnsafeRawPointer(c + 1 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c1_1 = UnsafeRawPointer(c + 1 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c2_0 = UnsafeRawPointer(c + 2 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c2_1 = UnsafeRawPointer(c + 2 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c3_0 = UnsafeRawPointer(c + 3 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c3_1 = UnsafeRawPointer(c + 3 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c4_0 = UnsafeRawPointer(c + 4 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c4_1 = UnsafeRawPointer(c + 4 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
    }
    var ap = a
    var bp = b
    for _ in 0..<kc {
        let b0 = UnsafeRawPointer(bp + 0).loadUnaligned(as: SIMD16<Float>.self)
        let b1 = UnsafeRawPointer(bp + 16).loadUnaligned(as: SIMD16<Float>.self)
        let a0 = SIMD16<Float>(repeating: ap[0])
        c0_0.addProduct(a0, b0)
        c0_1.addProduct(a0, b1)
        let a1 = SIMD16<Float>(repeating: ap[1])
        c1_0.addProduct(a1, b0)
        c1_1.addProduct(a1, b1)
        let a2 = SIMD16<Float>(repeating: ap[2])
        c2_0.addProduct(a2, b0)
        c2_1.addProduct(a2, b1)
        let a3 = SIMD16<Float>(repeating: ap[3])
        c3_0.addProduct(a3, b0)
        c3_1.addProduct(a3, b1)
        let a4 = SIMD16<Float>(repeating: ap[4])
        c4_0.addProduct(a4, b0)
        c4_1.addProduct(a4, b1)
        ap += 5
        bp += ldb
    }
    UnsafeMutableRawPointer(c + 0 * ldc + 0).storeBytes(of: c0_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 16).storeBytes(of: c0_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 1 * ldc + 0).storeBytes(of: c1_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 1 * ldc + 16).storeBytes(of: c1_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 2 * ldc + 0).storeBytes(of: c2_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 2 * ldc + 16).storeBytes(of: c2_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 3 * ldc + 0).storeBytes(of: c3_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 3 * ldc + 16).storeBytes(of: c3_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 4 * ldc + 0).storeBytes(of: c4_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 4 * ldc + 16).storeBytes(of: c4_1, as: SIMD16<Float>.self)
}

/// 6×32 register block: 12 accumulators of SIMD16<Float>.
/// `a` is an MR-tall packed panel (a[p*6 + r]), `b` has rows of 32 floats `ldb` apart.
@inline(__always)
func microKernel6x32(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                         c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
    var c0_0 = SIMD16<Float>()
    var c0_1 = SIMD16<Float>()
    var c1_0 = SIMD16<Float>()
    var c1_1 = SIMD16<Float>()
    var c2_0 = SIMD16<Float>()
    var c2_1 = SIMD16<Float>()
    var c3_0 = SIMD16<Float>()
    var c3_1 = SIMD16<Float>()
    var c4_0 = SIMD16<Float>()
    var c4_1 = SIMD16<Float>()
    var c5_0 = SIMD16<Float>()
    var c5_1 = SIMD16<Float>()
    if loadC {
        c0_0 = UnsafeRawPointer(c + 0 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c0_1 = UnsafeRawPointer(c + 0 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c1_0 = UnsafeRawPointer(c + 1 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c1_1 = UnsafeRawPointer(c + 1 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c2_0 = UnsafeRawPointer(c + 2 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c2_1 = UnsafeRawPointer(c + 2 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c3_0 = UnsafeRawPointer(c + 3 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c3_1 = UnsafeRawPointer(c + 3 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c4_0 = UnsafeRawPointer(c + 4 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c4_1 = UnsafeRawPointer(c + 4 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c5_0 = UnsafeRawPointer(c + 5 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c5_1 = UnsafeRawPointer(c + 5 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
    }
    var ap = a
    var bp = b
    for _ in 0..<kc {
        let b0 = UnsafeRawPointer(bp + 0).loadUnaligned(as: SIMD16<Float>.self)
        let b1 = UnsafeRawPointer(bp + 16).loadUnaligned(as: SIMD16<Float>.self)
        let a0 = SIMD16<Float>(repeating: ap[0])
        c0_0.addProduct(a0, b0)
        c0_1.addProduct(a0, b1)
        let a1 = SIMD16<Float>(repeating: ap[1])
        c1_0.addProduct(a1, b0)
        c1_1.addProduct(a1, b1)
        let a2 = SIMD16<Float>(repeating: ap[2])
        c2_0.addProduct(a2, b0)
        c2_1.addProduct(a2, b1)
        let a3 = SIMD16<Float>(repeating: ap[3])
        c3_0.addProduct(a3, b0)
        c3_1.addProduct(a3, b1)
        let a4 = SIMD16<Float>(repeating: ap[4])
        c4_0.addProduct(a4, b0)
        c4_1.addProduct(a4, b1)
        let a5 = SIMD16<Float>(repeating: ap[5])
        c5_0.addProduct(a5, b0)
        c5_1.addProduct(a5, b1)
        ap += 6
        bp += ldb
    }
    UnsafeMutableRawPointer(c + 0 * ldc + 0).storeBytes(of: c0_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 16).storeBytes(of: c0_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 1 * ldc + 0).storeBytes(of: c1_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 1 * ldc + 16).storeBytes(of: c1_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 2 * ldc + 0).storeBytes(of: c2_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 2 * ldc + 16).storeBytes(of: c2_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 3 * ldc + 0).storeBytes(of: c3_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 3 * ldc + 16).storeBytes(of: c3_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 4 * ldc + 0).storeBytes(of: c4_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 4 * ldc + 16).storeBytes(of: c4_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 5 * ldc + 0).storeBytes(of: c5_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 5 * ldc + 16).storeBytes(of: c5_1, as: SIMD16<Float>.self)
}

/// 7×32 register block: 14 accumulators of SIMD16<Float>.
/// `a` is an MR-tall packed panel (a[p*7 + r]), `b` has rows of 32 floats `ldb` apart.
@inline(__always)
func microKernel7x32(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                         c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
    var c0_0 = SIMD16<Float>()
    var c0_1 = SIMD16<Float>()
    var c1_0 = SIMD16<Float>()
    var c1_1 = SIMD16<Float>()
    var c2_0 = SIMD16<Float>()
    var c2_1 = SIMD16<Float>()
    var c3_0 = SIMD16<Float>()
    var c3_1 = SIMD16<Float>()
    var c4_0 = SIMD16<Float>()
    var c4_1 = SIMD16<Float>()
    var c5_0 = SIMD16<Float>()
    var c5_1 = SIMD16<Float>()
    var c6_0 = SIMD16<Float>()
    var c6_1 = SIMD16<Float>()
    if loadC {
        c0_0 = UnsafeRawPointer(c + 0 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c0_1 = UnsafeRawPointer(c + 0 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c1_0 = UnsafeRawPointer(c + 1 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c1_1 = UnsafeRawPointer(c + 1 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c2_0 = UnsafeRawPointer(c + 2 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c2_1 = UnsafeRawPointer(c + 2 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c3_0 = UnsafeRawPointer(c + 3 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c3_1 = UnsafeRawPointer(c + 3 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c4_0 = UnsafeRawPointer(c + 4 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c4_1 = UnsafeRawPointer(c + 4 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c5_0 = UnsafeRawPointer(c + 5 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c5_1 = UnsafeRawPointer(c + 5 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c6_0 = UnsafeRawPointer(c + 6 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c6_1 = UnsafeRawPointer(c + 6 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
    }
    var ap = a
    var bp = b
    for _ in 0..<kc {
        let b0 = UnsafeRawPointer(bp + 0).loadUnaligned(as: SIMD16<Float>.self)
        let b1 = UnsafeRawPointer(bp + 16).loadUnaligned(as: SIMD16<Float>.self)
        let a0 = SIMD16<Float>(repeating: ap[0])
        c0_0.addProduct(a0, b0)
        c0_1.addProduct(a0, b1)
        let a1 = SIMD16<Float>(repeating: ap[1])
        c1_0.addProduct(a1, b0)
        c1_1.addProduct(a1, b1)
        let a2 = SIMD16<Float>(repeating: ap[2])
        c2_0.addProduct(a2, b0)
        c2_1.addProduct(a2, b1)
        let a3 = SIMD16<Float>(repeating: ap[3])
        c3_0.addProduct(a3, b0)
        c3_1.addProduct(a3, b1)
        let a4 = SIMD16<Float>(repeating: ap[4])
        c4_0.addProduct(a4, b0)
        c4_1.addProduct(a4, b1)
        let a5 = SIMD16<Float>(repeating: ap[5])
        c5_0.addProduct(a5, b0)
        c5_1.addProduct(a5, b1)
        let a6 = SIMD16<Float>(repeating: ap[6])
        c6_0.addProduct(a6, b0)
        c6_1.addProduct(a6, b1)
        ap += 7
        bp += ldb
    }
    UnsafeMutableRawPointer(c + 0 * ldc + 0).storeBytes(of: c0_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 16).storeBytes(of: c0_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 1 * ldc + 0).storeBytes(of: c1_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 1 * ldc + 16).storeBytes(of: c1_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 2 * ldc + 0).storeBytes(of: c2_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 2 * ldc + 16).storeBytes(of: c2_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 3 * ldc + 0).storeBytes(of: c3_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 3 * ldc + 16).storeBytes(of: c3_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 4 * ldc + 0).storeBytes(of: c4_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 4 * ldc + 16).storeBytes(of: c4_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 5 * ldc + 0).storeBytes(of: c5_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 5 * ldc + 16).storeBytes(of: c5_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 6 * ldc + 0).storeBytes(of: c6_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 6 * ldc + 16).storeBytes(of: c6_1, as: SIMD16<Float>.self)
}

/// 8×32 register block: 16 accumulators of SIMD16<Float>.
/// `a` is an MR-tall packed panel (a[p*8 + r]), `b` has rows of 32 floats `ldb` apart.
@inline(__always)
func microKernel8x32(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                         c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
    var c0_0 = SIMD16<Float>()
    var c0_1 = SIMD16<Float>()
    var c1_0 = SIMD16<Float>()
    var c1_1 = SIMD16<Float>()
    var c2_0 = SIMD16<Float>()
    var c2_1 = SIMD16<Float>()
    var c3_0 = SIMD16<Float>()
    var c3_1 = SIMD16<Float>()
    var c4_0 = SIMD16<Float>()
    var c4_1 = SIMD16<Float>()
    var c5_0 = SIMD16<Float>()
    var c5_1 = SIMD16<Float>()
    var c6_0 = SIMD16<Float>()
    var c6_1 = SIMD16<Float>()
    var c7_0 = SIMD16<Float>()
    var c7_1 = SIMD16<Float>()
    if loadC {
        c0_0 = UnsafeRawPointer(c + 0 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c0_1 = UnsafeRawPointer(c + 0 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c1_0 = UnsafeRawPointer(c + 1 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c1_1 = UnsafeRawPointer(c + 1 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c2_0 = UnsafeRawPointer(c + 2 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c2_1 = UnsafeRawPointer(c + 2 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c3_0 = UnsafeRawPointer(c + 3 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c3_1 = UnsafeRawPointer(c + 3 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c4_0 = UnsafeRawPointer(c + 4 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c4_1 = UnsafeRawPointer(c + 4 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c5_0 = UnsafeRawPointer(c + 5 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c5_1 = UnsafeRawPointer(c + 5 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c6_0 = UnsafeRawPointer(c + 6 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c6_1 = UnsafeRawPointer(c + 6 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c7_0 = UnsafeRawPointer(c + 7 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c7_1 = UnsafeRawPointer(c + 7 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
    }
    var ap = a
    var bp = b
    for _ in 0..<kc {
        let b0 = UnsafeRawPointer(bp + 0).loadUnaligned(as: SIMD16<Float>.self)
        let b1 = UnsafeRawPointer(bp + 16).loadUnaligned(as: SIMD16<Float>.self)
        let a0 = SIMD16<Float>(repeating: ap[0])
        c0_0.addProduct(a0, b0)
        c0_1.addProduct(a0, b1)
        let a1 = SIMD16<Float>(repeating: ap[1])
        c1_0.addProduct(a1, b0)
        c1_1.addProduct(a1, b1)
        let a2 = SIMD16<Float>(repeating: ap[2])
        c2_0.addProduct(a2, b0)
        c2_1.addProduct(a2, b1)
        let a3 = SIMD16<Float>(repeating: ap[3])
        c3_0.addProduct(a3, b0)
        c3_1.addProduct(a3, b1)
        let a4 = SIMD16<Float>(repeating: ap[4])
        c4_0.addProduct(a4, b0)
        c4_1.addProduct(a4, b1)
        let a5 = SIMD16<Float>(repeating: ap[5])
        c5_0.addProduct(a5, b0)
        c5_1.addProduct(a5, b1)
        let a6 = SIMD16<Float>(repeating: ap[6])
        c6_0.addProduct(a6, b0)
        c6_1.addProduct(a6, b1)
        let a7 = SIMD16<Float>(repeating: ap[7])
        c7_0.addProduct(a7, b0)
        c7_1.addProduct(a7, b1)
        ap += 8
        bp += ldb
    }
    UnsafeMutableRawPointer(c + 0 * ldc + 0).storeBytes(of: c0_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 16).storeBytes(of: c0_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 1 * ldc + 0).storeBytes(of: c1_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 1 * ldc + 16).storeBytes(of: c1_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 2 * ldc + 0).storeBytes(of: c2_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 2 * ldc + 16).storeBytes(of: c2_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 3 * ldc + 0).storeBytes(of: c3_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 3 * ldc + 16).storeBytes(of: c3_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 4 * ldc + 0).storeBytes(of: c4_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 4 * ldc + 16).storeBytes(of: c4_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 5 * ldc + 0).storeBytes(of: c5_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 5 * ldc + 16).storeBytes(of: c5_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 6 * ldc + 0).storeBytes(of: c6_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 6 * ldc + 16).storeBytes(of: c6_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 7 * ldc + 0).storeBytes(of: c7_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 7 * ldc + 16).storeBytes(of: c7_1, as: SIMD16<Float>.self)
}

/// 1×256 register block: 16 accumulators of SIMD16<Float>.
/// `a` is an MR-tall packed panel (a[p*1 + r]), `b` has rows of 256 floats `ldb` apart.
@inline(__always)
func microKernel1x256(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                         c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
    var c0_0 = SIMD16<Float>()
    var c0_1 = SIMD16<Float>()
    var c0_2 = SIMD16<Float>()
    var c0_3 = SIMD16<Float>()
    var c0_4 = SIMD16<Float>()
    var c0_5 = SIMD16<Float>()
    var c0_6 = SIMD16<Float>()
    var c0_7 = SIMD16<Float>()
    var c0_8 = SIMD16<Float>()
    var c0_9 = SIMD16<Float>()
    var c0_10 = SIMD16<Float>()
    var c0_11 = SIMD16<Float>()
    var c0_12 = SIMD16<Float>()
    var c0_13 = SIMD16<Float>()
    var c0_14 = SIMD16<Float>()
    var c0_15 = SIMD16<Float>()
    if loadC {
        c0_0 = UnsafeRawPointer(c + 0 * ldc + 0).loadUnaligned(as: SIMD16<Float>.self)
        c0_1 = UnsafeRawPointer(c + 0 * ldc + 16).loadUnaligned(as: SIMD16<Float>.self)
        c0_2 = UnsafeRawPointer(c + 0 * ldc + 32).loadUnaligned(as: SIMD16<Float>.self)
        c0_3 = UnsafeRawPointer(c + 0 * ldc + 48).loadUnaligned(as: SIMD16<Float>.self)
        c0_4 = UnsafeRawPointer(c + 0 * ldc + 64).loadUnaligned(as: SIMD16<Float>.self)
        c0_5 = UnsafeRawPointer(c + 0 * ldc + 80).loadUnaligned(as: SIMD16<Float>.self)
        c0_6 = UnsafeRawPointer(c + 0 * ldc + 96).loadUnaligned(as: SIMD16<Float>.self)
        c0_7 = UnsafeRawPointer(c + 0 * ldc + 112).loadUnaligned(as: SIMD16<Float>.self)
        c0_8 = UnsafeRawPointer(c + 0 * ldc + 128).loadUnaligned(as: SIMD16<Float>.self)
        c0_9 = UnsafeRawPointer(c + 0 * ldc + 144).loadUnaligned(as: SIMD16<Float>.self)
        c0_10 = UnsafeRawPointer(c + 0 * ldc + 160).loadUnaligned(as: SIMD16<Float>.self)
        c0_11 = UnsafeRawPointer(c + 0 * ldc + 176).loadUnaligned(as: SIMD16<Float>.self)
        c0_12 = UnsafeRawPointer(c + 0 * ldc + 192).loadUnaligned(as: SIMD16<Float>.self)
        c0_13 = UnsafeRawPointer(c + 0 * ldc + 208).loadUnaligned(as: SIMD16<Float>.self)
        c0_14 = UnsafeRawPointer(c + 0 * ldc + 224).loadUnaligned(as: SIMD16<Float>.self)
        c0_15 = UnsafeRawPointer(c + 0 * ldc + 240).loadUnaligned(as: SIMD16<Float>.self)
    }
    var ap = a
    var bp = b
    for _ in 0..<kc {
        let b0 = UnsafeRawPointer(bp + 0).loadUnaligned(as: SIMD16<Float>.self)
        let b1 = UnsafeRawPointer(bp + 16).loadUnaligned(as: SIMD16<Float>.self)
        let b2 = UnsafeRawPointer(bp + 32).loadUnaligned(as: SIMD16<Float>.self)
        let b3 = UnsafeRawPointer(bp + 48).loadUnaligned(as: SIMD16<Float>.self)
        let b4 = UnsafeRawPointer(bp + 64).loadUnaligned(as: SIMD16<Float>.self)
        let b5 = UnsafeRawPointer(bp + 80).loadUnaligned(as: SIMD16<Float>.self)
        let b6 = UnsafeRawPointer(bp + 96).loadUnaligned(as: SIMD16<Float>.self)
        let b7 = UnsafeRawPointer(bp + 112).loadUnaligned(as: SIMD16<Float>.self)
        let b8 = UnsafeRawPointer(bp + 128).loadUnaligned(as: SIMD16<Float>.self)
        let b9 = UnsafeRawPointer(bp + 144).loadUnaligned(as: SIMD16<Float>.self)
        let b10 = UnsafeRawPointer(bp + 160).loadUnaligned(as: SIMD16<Float>.self)
        let b11 = UnsafeRawPointer(bp + 176).loadUnaligned(as: SIMD16<Float>.self)
        let b12 = UnsafeRawPointer(bp + 192).loadUnaligned(as: SIMD16<Float>.self)
        let b13 = UnsafeRawPointer(bp + 208).loadUnaligned(as: SIMD16<Float>.self)
        let b14 = UnsafeRawPointer(bp + 224).loadUnaligned(as: SIMD16<Float>.self)
        let b15 = UnsafeRawPointer(bp + 240).loadUnaligned(as: SIMD16<Float>.self)
        let a0 = SIMD16<Float>(repeating: ap[0])
        c0_0.addProduct(a0, b0)
        c0_1.addProduct(a0, b1)
        c0_2.addProduct(a0, b2)
        c0_3.addProduct(a0, b3)
        c0_4.addProduct(a0, b4)
        c0_5.addProduct(a0, b5)
        c0_6.addProduct(a0, b6)
        c0_7.addProduct(a0, b7)
        c0_8.addProduct(a0, b8)
        c0_9.addProduct(a0, b9)
        c0_10.addProduct(a0, b10)
        c0_11.addProduct(a0, b11)
        c0_12.addProduct(a0, b12)
        c0_13.addProduct(a0, b13)
        c0_14.addProduct(a0, b14)
        c0_15.addProduct(a0, b15)
        ap += 1
        bp += ldb
    }
    UnsafeMutableRawPointer(c + 0 * ldc + 0).storeBytes(of: c0_0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 16).storeBytes(of: c0_1, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 32).storeBytes(of: c0_2, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 48).storeBytes(of: c0_3, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 64).storeBytes(of: c0_4, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 80).storeBytes(of: c0_5, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 96).storeBytes(of: c0_6, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 112).storeBytes(of: c0_7, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 128).storeBytes(of: c0_8, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 144).storeBytes(of: c0_9, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 160).storeBytes(of: c0_10, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 176).storeBytes(of: c0_11, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 192).storeBytes(of: c0_12, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 208).storeBytes(of: c0_13, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 224).storeBytes(of: c0_14, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(c + 0 * ldc + 240).storeBytes(of: c0_15, as: SIMD16<Float>.self)
}

/// 12×8 register block: 12 accumulators of SIMD8<Float>.
/// `a` is an MR-tall packed panel (a[p*12 + r]), `b` has rows of 8 floats `ldb` apart.
@inline(__always)
func microKernel12x8(kc: Int, a: UnsafePointer<Float>, aRowStride: Int = 1, aStep: Int = 12,
                         b: UnsafePointer<Float>, ldb: Int,
                         c: UnsafeMutablePointer<Float>, ldc: Int, loadC: Bool) {
    var c0_0 = SIMD8<Float>()
    var c1_0 = SIMD8<Float>()
    var c2_0 = SIMD8<Float>()
    var c3_0 = SIMD8<Float>()
    var c4_0 = SIMD8<Float>()
    var c5_0 = SIMD8<Float>()
    var c6_0 = SIMD8<Float>()
    var c7_0 = SIMD8<Float>()
    var c8_0 = SIMD8<Float>()
    var c9_0 = SIMD8<Float>()
    var c10_0 = SIMD8<Float>()
    var c11_0 = SIMD8<Float>()
    if loadC {
        c0_0 = UnsafeRawPointer(c + 0 * ldc + 0).loadUnaligned(as: SIMD8<Float>.self)
        c1_0 = UnsafeRawPointer(c + 1 * ldc + 0).loadUnaligned(as: SIMD8<Float>.self)
        c2_0 = UnsafeRawPointer(c + 2 * ldc + 0).loadUnaligned(as: SIMD8<Float>.self)
        c3_0 = UnsafeRawPointer(c + 3 * ldc + 0).loadUnaligned(as: SIMD8<Float>.self)
        c4_0 = UnsafeRawPointer(c + 4 * ldc + 0).loadUnaligned(as: SIMD8<Float>.self)
        c5_0 = UnsafeRawPointer(c + 5 * ldc + 0).loadUnaligned(as: SIMD8<Float>.self)
        c6_0 = UnsafeRawPointer(c + 6 * ldc + 0).loadUnaligned(as: SIMD8<Float>.self)
        c7_0 = UnsafeRawPointer(c + 7 * ldc + 0).loadUnaligned(as: SIMD8<Float>.self)
        c8_0 = UnsafeRawPointer(c + 8 * ldc + 0).loadUnaligned(as: SIMD8<Float>.self)
        c9_0 = UnsafeRawPointer(c + 9 * ldc + 0).loadUnaligned(as: SIMD8<Float>.self)
        c10_0 = UnsafeRawPointer(c + 10 * ldc + 0).loadUnaligned(as: SIMD8<Float>.self)
        c11_0 = UnsafeRawPointer(c + 11 * ldc + 0).loadUnaligned(as: SIMD8<Float>.self)
    }
    var ap = a
    var bp = b
    for _ in 0..<kc {
        let b0 = UnsafeRawPointer(bp + 0).loadUnaligned(as: SIMD8<Float>.self)
        let a0 = SIMD8<Float>(repeating: ap[0 * aRowStride])
        c0_0.addProduct(a0, b0)
        let a1 = SIMD8<Float>(repeating: ap[1 * aRowStride])
        c1_0.addProduct(a1, b0)
        let a2 = SIMD8<Float>(repeating: ap[2 * aRowStride])
        c2_0.addProduct(a2, b0)
        let a3 = SIMD8<Float>(repeating: ap[3 * aRowStride])
        c3_0.addProduct(a3, b0)
        let a4 = SIMD8<Float>(repeating: ap[4 * aRowStride])
        c4_0.addProduct(a4, b0)
        let a5 = SIMD8<Float>(repeating: ap[5 * aRowStride])
        c5_0.addProduct(a5, b0)
        let a6 = SIMD8<Float>(repeating: ap[6 * aRowStride])
        c6_0.addProduct(a6, b0)
        let a7 = SIMD8<Float>(repeating: ap[7 * aRowStride])
        c7_0.addProduct(a7, b0)
        let a8 = SIMD8<Float>(repeating: ap[8 * aRowStride])
        c8_0.addProduct(a8, b0)
        let a9 = SIMD8<Float>(repeating: ap[9 * aRowStride])
        c9_0.addProduct(a9, b0)
        let a10 = SIMD8<Float>(repeating: ap[10 * aRowStride])
        c10_0.addProduct(a10, b0)
        let a11 = SIMD8<Float>(repeating: ap[11 * aRowStride])
        c11_0.addProduct(a11, b0)
        ap += aStep
        bp += ldb
    }
    UnsafeMutableRawPointer(c + 0 * ldc + 0).storeBytes(of: c0_0, as: SIMD8<Float>.self)
    UnsafeMutableRawPointer(c + 1 * ldc + 0).storeBytes(of: c1_0, as: SIMD8<Float>.self)
    UnsafeMutableRawPointer(c + 2 * ldc + 0).storeBytes(of: c2_0, as: SIMD8<Float>.self)
    UnsafeMutableRawPointer(c + 3 * ldc + 0).storeBytes(of: c3_0, as: SIMD8<Float>.self)
    UnsafeMutableRawPointer(c + 4 * ldc + 0).storeBytes(of: c4_0, as: SIMD8<Float>.self)
    UnsafeMutableRawPointer(c + 5 * ldc + 0).storeBytes(of: c5_0, as: SIMD8<Float>.self)
    UnsafeMutableRawPointer(c + 6 * ldc + 0).storeBytes(of: c6_0, as: SIMD8<Float>.self)
    UnsafeMutableRawPointer(c + 7 * ldc + 0).storeBytes(of: c7_0, as: SIMD8<Float>.self)
    UnsafeMutableRawPointer(c + 8 * ldc + 0).storeBytes(of: c8_0, as: SIMD8<Float>.self)
    UnsafeMutableRawPointer(c + 9 * ldc + 0).storeBytes(of: c9_0, as: SIMD8<Float>.self)
    UnsafeMutableRawPointer(c + 10 * ldc + 0).storeBytes(of: c10_0, as: SIMD8<Float>.self)
    UnsafeMutableRawPointer(c + 11 * ldc + 0).storeBytes(of: c11_0, as: SIMD8<Float>.self)
}
