import SimplyCore

/// Knowledge distillation (Hinton et al. 2015) on logits[N, V]: the forward
/// value and its gradient side by side, llm.c style, like `CrossEntropy`.
///
/// For row n with weight w and temperature T, with p^T = softmax(logits / T):
///
///     value_n  = w · T² · KL(p_t^T ‖ p_s^T) = w · T² · Σ_j p_t,j (log p_t,j − log p_s,j)
///     ∂value_n / ∂s_j = w · T · (p_s,j − p_t,j)
///
/// Softmaxes subtract the row maximum and use DetMath exp/log (never libm).
/// Threads split rows, never a sum: each row is summed left to right over the
/// vocabulary, and the rows' values are summed in row order, so the bits do
/// not depend on the thread count.
public enum Distillation {
    /// Returns Σ_n w_n · T² · KL_n and ADDS gradientScale · w_n · T · (p_s − p_t)
    /// into `dlogits` row n (rows with w_n = 0 are skipped: value 0, nothing
    /// added). `student`, `teacher` and `dlogits` hold at least rows · vocab
    /// floats, row-major. With gradientScale 1 the added gradient is that of the
    /// returned value; a caller that weighs the value by a coefficient c passes
    /// gradientScale c.
    public static func lossAndGradient(dlogits: Tensor, student: Tensor, teacher: Tensor, weights: [Float],
                                       temperature: Float, gradientScale: Float = 1, rows: Int, vocab: Int,
                                       parallel: Parallel) -> Float {
        precondition(temperature > 0 && temperature.isFinite, "temperature must be a positive number")
        precondition(weights.count >= rows, "weights shorter than rows")
        precondition(student.count >= rows * vocab && teacher.count >= rows * vocab && dlogits.count >= rows * vocab,
                     "logits shorter than rows · vocab")
        let rowValues = Tensor(shape: [rows])
        let t = temperature
        let t2 = t * t
        weights.withUnsafeBufferPointer { wb in
            let wp = SendablePointer(UnsafeMutablePointer(mutating: wb.baseAddress!))
            parallel.forEachRange(rows, grain: 4) { r in
                // Per-range scratch: the student's tempered probabilities.
                let ps = UnsafeMutablePointer<Float>.allocate(capacity: vocab)
                defer { ps.deallocate() }
                for n in r {
                    let w = wp.p[n]
                    if w == 0 { rowValues.pointer[n] = 0; continue }
                    let s = student.pointer + n * vocab, q = teacher.pointer + n * vocab
                    let dl = dlogits.pointer + n * vocab
                    // Forward: both log-normalizers of the tempered logits.
                    var ms = -Float.infinity, mt = -Float.infinity
                    for j in 0..<vocab { ms = max(ms, s[j] / t); mt = max(mt, q[j] / t) }
                    var sumS: Float = 0, sumT: Float = 0
                    for j in 0..<vocab {
                        let e = DetMath.exp(s[j] / t - ms); ps[j] = e; sumS += e
                        sumT += DetMath.exp(q[j] / t - mt)
                    }
                    let logZs = ms + DetMath.log(sumS), logZt = mt + DetMath.log(sumT)
                    let invS = 1 / sumS
                    // KL(p_t ‖ p_s) = Σ p_t (log p_t − log p_s); backward T·(p_s − p_t) in the same pass.
                    let g = gradientScale * w * t
                    var kl: Float = 0
                    for j in 0..<vocab {
                        let logPt = q[j] / t - logZt
                        let logPs = s[j] / t - logZs
                        let pt = DetMath.exp(logPt)
                        kl += pt * (logPt - logPs)
                        dl[j] += g * (ps[j] * invS - pt)
                    }
                    rowValues.pointer[n] = w * t2 * kl
                }
            }
        }
        var total: Float = 0
        for n in 0..<rows { total += rowValues.pointer[n] }
        return total
    }
}

extension Transformer {
    /// After `forward` (which wrote the cross-entropy gradient into the loss
    /// gradient buffer): returns Σ w · T² · KL(softmax(teacher/T) ‖ softmax(student/T))
    /// over the last forward's positions, and adds gradientScale times its
    /// gradient to the loss gradient, so a later `backward` gives the gradient
    /// of (the forward's value) + gradientScale · (the returned value).
    /// `teacherLogits` holds [batch · seqLen, vocab] logits of the same vocabulary.
    public func addDistillationLoss(teacherLogits: Tensor, weights: [Float], temperature: Float,
                                    gradientScale: Float = 1, parallel: Parallel) -> Float {
        precondition(lastWithLogits && lastLogitsKept && lastBatch > 0, "addDistillationLoss needs a forward with logits first")
        let n = lastBatch * lastSeqLen, v = config.vocabSize
        precondition(teacherLogits.shape.last == v, "teacher logits have \(teacherLogits.shape.last ?? 0) columns, the vocabulary is \(v)")
        precondition(teacherLogits.count >= n * v, "teacher logits cover fewer than batch · seqLen positions")
        return Distillation.lossAndGradient(dlogits: dlogits, student: logitsBuffer, teacher: teacherLogits, weights: weights,
                                            temperature: temperature, gradientScale: gradientScale, rows: n, vocab: v,
                                            parallel: parallel)
    }
}
