import SimplyCore

/// Weighted softmax cross-entropy over logits[N, V]. Forward also writes the
/// gradient dlogits = w · (softmax − onehot) (llm.c fuses the two), so the
/// backward pass starts from it. The loss Σ w·CE is summed in row order.
/// `dlogits` may be `logits` itself (each row is read before it is overwritten).
enum CrossEntropy {
    static func forward(dlogits: Tensor, losses: Tensor, logits: Tensor, targets: [Int32], weights: [Float],
                        rows: Int, vocab: Int, parallel: Parallel) -> Float {
        targets.withUnsafeBufferPointer { tb in
            weights.withUnsafeBufferPointer { wb in
                let tp = SendablePointer(UnsafeMutablePointer(mutating: tb.baseAddress!))
                let wp = SendablePointer(UnsafeMutablePointer(mutating: wb.baseAddress!))
                parallel.forEachRange(rows, grain: 4) { r in
                    for n in r {
                        let l = logits.pointer + n * vocab, dl = dlogits.pointer + n * vocab
                        let w = wp.p[n]
                        if w == 0 {
                            dl.update(repeating: 0, count: vocab)
                            losses.pointer[n] = 0
                            continue
                        }
                        // Same values as the plain loops: max, then e_j = exp(l_j − max) (8 lanes
                        // at a time, elements independent), then their left-to-right sum.
                        let target = Int(tp.p[n])
                        let targetLogit = l[target]
                        let mx = Lanes.rowMax(l, vocab)
                        Lanes.expShifted(dl, l, vocab, shift: mx)
                        let sum = Lanes.sequentialSum(dl, vocab)
                        losses.pointer[n] = w * ((mx + DetMath.log(sum)) - targetLogit)
                        let inv = 1 / sum
                        for j in 0..<vocab { dl[j] = w * (dl[j] * inv) }
                        dl[target] -= w
                    }
                }
            }
        }
        var total: Float = 0
        for n in 0..<rows { total += losses.pointer[n] }
        return total
    }
}
