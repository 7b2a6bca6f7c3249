import Kernels

/// Rotary position embedding on x (B, H, T, D), or (B, T, H, D) with
/// `layout: .tokenMajor`, for positions offset..<offset+T
/// with explicit inverse frequencies f (D/2 of them) and a factor on cos and
/// sin: out = factor · R(p·f) x. Scaled RoPE (linear, dynamic NTK, YaRN)
/// differs from plain RoPE only in f and the factor.
public func rotaryEmbedding(_ x: Tensor, offset: Int, inverseFrequencies f: [Double], attentionFactor: Double,
                            layout: HeadLayout = .headMajor) -> Tensor {
    require(x.rank == 4, "rotaryEmbedding: needs \(layout == .tokenMajor ? "(B, T, H, D)" : "(B, H, T, D)"), got \(describe(x.shape))")
    require(x.shape[3] == 2 * f.count, "rotaryEmbedding: head size \(x.shape[3]) needs \(x.shape[3] / 2) frequencies, got \(f.count)")
    let (n, t, heads, d) = rotaryRows(x.shape, layout)
    let out = Tensor(uninitialized: x.shape)
    let table = rotaryTable(length: t, offset: offset, inverseFrequencies: f, scale: attentionFactor)
    table.withUnsafeBufferPointer { applyRotary(x.data, out.data, count: n, length: t, stride: t, heads: heads, headSize: d, table: $0.baseAddress!) }
    return out.recordOp([x]) { out in
        guard let dx = x.gradientTarget else { return }
        // factor · R is a scaled rotation: its transpose is factor · R(−angle).
        let back = Tensor(uninitialized: x.shape)
        let inverse = rotaryTable(length: t, offset: offset, inverseFrequencies: f, scale: attentionFactor, inverse: true)
        inverse.withUnsafeBufferPointer {
            applyRotary(out.grad!.data, back.data, count: n, length: t, stride: t, heads: heads, headSize: d, table: $0.baseAddress!)
        }
        vectorAccumulate(dx, back.data, x.count)
    }
}
