import SimplyCore

/// Weighted softmax cross-entropy over logits[N, V]. Forward also writes the
/// gradient dlogits = w · (softmax − onehot) (llm.c fuses the two), so the
/// backward pass starts from it. The loss Σ w·CE is summed in row order.
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
                        var mx = -Float.infinity
                        for j in 0..<vocab { mx = max(mx, l[j]) }
                        var sum: Float = 0
                        for j in 0..<vocab { let e = DetMath.exp(l[j] - mx); dl[j] = e; sum += e }
                        let target = Int(tp.p[n])
                        losses.pointer[n] = w * ((mx + DetMath.log(sum)) - l[target])
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
