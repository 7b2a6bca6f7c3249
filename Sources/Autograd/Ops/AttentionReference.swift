/// Attention as the formula reads — softmax(q·kᵀ/√D + bias + causal mask)·v —
/// composed of ops that each have their own backward. The readable twin of
/// the fused `attention` (Attention.swift), which does the same arithmetic in
/// blocks without materialising the (Tq, Tk) score matrix; the tests hold the
/// two against each other, forward and backward. Head-major only.
///
///     q: (B, H, Tq, D)   k, v: (B, Hkv, Tk, D) with Hkv dividing H   → (B, H, Tq, D)
public func referenceAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, bias: Tensor? = nil, causal: Bool = true,
                               prefixLengths: [Int]? = nil) -> Tensor {
    let (heads, queries, headSize) = (q.shape[1], q.shape[2], q.shape[3])
    let (kvHeads, keys) = (k.shape[1], k.shape[2])
    // Grouped heads (GQA/MQA): query head i reads K/V head i / (H / Hkv).
    let group = heads / kvHeads
    func perQueryHead(_ t: Tensor) -> Tensor {
        group == 1 ? t : concat((0..<heads).map { t.slice(1, ($0 / group)..<($0 / group + 1)) }, dim: 1)
    }
    var scores = matmul(q, perQueryHead(k).transposed(2, 3)) * (1 / Float(headSize).squareRoot())  // (B, H, Tq, Tk)
    if let bias { scores = scores + bias }                                                  // (H, Tq, Tk), e.g. ALiBi
    if let prefixLengths {                                                                  // (B, H, Tq, Tk)
        scores = scores + prefixMask(prefixLengths, heads: heads, queries: queries, keys: keys)
    } else if causal {
        scores = scores + causalMask(queries: queries, keys: keys)                          // (Tq, Tk)
    }
    return matmul(softmax(scores), perQueryHead(v))                                         // (B, H, Tq, D)
}

/// 0 where query i (at position i + Tk − Tq) may see key j, −∞ after it.
func causalMask(queries: Int, keys: Int) -> Tensor {
    var mask = [Float](repeating: 0, count: queries * keys)
    for i in 0..<queries { for j in (i + keys - queries + 1)..<keys where j >= 0 { mask[i * keys + j] = -.infinity } }
    return Tensor(mask, shape: [queries, keys])
}

/// A prefix LM's mask, per batch row (B, H, Tq, Tk): the causal mask, except
/// that the first prefixLengths[b] keys are seen by every query of row b.
func prefixMask(_ prefixLengths: [Int], heads: Int, queries: Int, keys: Int) -> Tensor {
    var mask: [Float] = []
    for prefix in prefixLengths {
        for _ in 0..<heads {
            for i in 0..<queries {
                for j in 0..<keys { mask.append(j < prefix || j <= i + keys - queries ? 0 : -.infinity) }
            }
        }
    }
    return Tensor(mask, shape: [prefixLengths.count, heads, queries, keys])
}
