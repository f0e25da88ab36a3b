import SimplyCore

/// The keys and values of past positions of `slots` sequences, per layer, so
/// a new token costs one row of every layer instead of a forward over the
/// whole prefix. Each slot has its own length: prompts of different lengths
/// share a cache without padding, and a slot's positions are 0, 1, 2, … as
/// in a forward over that sequence alone.
///
/// It also owns the scratch buffers of `Transformer.forward(cache:segments:)`
/// for up to `tokensPerForward` new tokens, so decoding never touches the
/// model's training activations and allocates nothing per step.
public final class KVCache: @unchecked Sendable {
    public let config: ModelConfig
    public let slots: Int
    /// The most new tokens one cached forward may take (over all segments).
    public let tokensPerForward: Int
    /// Per slot: the positions filled so far.
    public private(set) var lengths: [Int]

    let keys: [Tensor], values: [Tensor]   // per layer [slots, seqLen, kvHeads·hd], keys after RoPE
    // Scratch, rows = new tokens.
    let x, ln, mid: Tensor                 // [n, d]
    let rstd: Tensor                       // [n]
    let rstdHeads: Tensor                  // [n·heads] with config.qkNorm, else empty
    let q, att: Tensor                     // [n, heads·hd]
    let k, v: Tensor                       // [n, kvHeads·hd]
    let gate, up, hidden: Tensor           // [n, dFF]
    let scores: Tensor                     // [n·heads, seqLen]
    let lastHidden: Tensor                 // [n, d] rows gathered for the LM head
    let logitsBuffer: Tensor               // [n, vocab]
    let fused: Tensor                      // [few rows, max(qd + 2·kvd, 2·dFF)]: a fused product before its split
    var loraScratch: Tensor?               // [n, rank]: x·Aᵀ, made at the first cached forward with adapters
    var loraScaled: Tensor?                // [n, rank]: s·x·Aᵀ

    public init(config c: ModelConfig, slots: Int, tokensPerForward: Int) {
        precondition(slots >= 1 && tokensPerForward >= 1, "KVCache needs slots >= 1 and tokensPerForward >= 1")
        config = c
        self.slots = slots
        self.tokensPerForward = tokensPerForward
        lengths = Array(repeating: 0, count: slots)
        let kvd = c.nKVHeads * c.headDim, qd = c.nHeads * c.headDim, n = tokensPerForward
        keys = (0..<c.nLayers).map { _ in Tensor(shape: [slots, c.seqLen, kvd]) }
        values = (0..<c.nLayers).map { _ in Tensor(shape: [slots, c.seqLen, kvd]) }
        x = Tensor(shape: [n, c.dModel]); ln = Tensor(shape: [n, c.dModel]); mid = Tensor(shape: [n, c.dModel])
        rstd = Tensor(shape: [n])
        rstdHeads = Tensor(shape: [c.qkNorm ? n * c.nHeads : 0])
        q = Tensor(shape: [n, qd]); att = Tensor(shape: [n, qd])
        k = Tensor(shape: [n, kvd]); v = Tensor(shape: [n, kvd])
        gate = Tensor(shape: [n, c.dFF]); up = Tensor(shape: [n, c.dFF]); hidden = Tensor(shape: [n, c.dFF])
        scores = Tensor(shape: [n * c.nHeads, c.seqLen])
        lastHidden = Tensor(shape: [n, c.dModel])
        logitsBuffer = Tensor(shape: [n, c.vocabSize])
        fused = Tensor(shape: [min(n, fewRowsLimit), max(qd + 2 * kvd, 2 * c.dFF)])
    }

    /// Empties every slot (the stored keys and values are simply overwritten later).
    public func clear() { for s in 0..<slots { lengths[s] = 0 } }

    /// Empties one slot.
    public func clear(slot: Int) { lengths[slot] = 0 }

    /// Makes slot `to` a copy of slot `from` (a prompt prefilled once, then
    /// sampled several times).
    public func copy(slot from: Int, to: Int) {
        precondition(from >= 0 && from < slots && to >= 0 && to < slots, "slot out of range")
        guard from != to else { return }
        let n = lengths[from] * config.nKVHeads * config.headDim, stride = config.seqLen * config.nKVHeads * config.headDim
        for l in 0..<config.nLayers {
            (keys[l].pointer + to * stride).update(from: keys[l].pointer + from * stride, count: n)
            (values[l].pointer + to * stride).update(from: values[l].pointer + from * stride, count: n)
        }
        lengths[to] = lengths[from]
    }

    func append(slot: Int, count: Int) { lengths[slot] += count }
}

extension Transformer {
    /// Feeds new tokens to cache slots: each segment's tokens go at its slot's
    /// next positions (prefill a prompt, or one sampled token). Returns the
    /// logits of each segment's last token, [segments.count, vocab], or with
    /// `allLogits` those of every new token in order, [Σ tokens, vocab]. The
    /// tensor is the cache's buffer, valid until the next call.
    ///
    /// Bits: every number equals the one `forward(tokens:…)` computes for the
    /// same token at the same position of its sequence (deterministic mode),
    /// whatever else is in the call. Rows never mix: norms, RoPE, SwiGLU and
    /// the head are per row; the deterministic matmul gives each output the
    /// same FMA chain for any row count; attention below is the full
    /// forward's arithmetic for one query row (the full forward's trailing
    /// masked probabilities are exact zeros, which add nothing to its chains).
    /// With a non-deterministic `parallel` the linear layers use OpenBLAS and
    /// that guarantee is lost. `decodeWeights` (current with the weights) makes
    /// steps of a few tokens faster; it never changes bits.
    public func forward(cache: KVCache, segments: [(slot: Int, tokens: [Int32])], allLogits: Bool = false,
                        decodeWeights: DecodeWeights? = nil, parallel: Parallel) -> Tensor {
        let c = config
        precondition(cache.config == c, "the cache was made for another model config")
        // LoRA: scratch for x·Aᵀ and s·x·Aᵀ, made once per cache.
        if let lora = adapters, cache.loraScratch?.shape[1] != lora.config.rank {
            cache.loraScratch = Tensor(shape: [cache.tokensPerForward, lora.config.rank])
            cache.loraScaled = Tensor(shape: [cache.tokensPerForward, lora.config.rank])
        }
        func adapt(_ y: Tensor, _ x: Tensor, _ w: Tensor, _ l: Int, _ t: LoRATarget, _ n: Int) {
            addAdapter(y, x, w, layer: l, t, rows: n, xa: cache.loraScratch, scratch: cache.loraScaled, parallel: parallel)
        }
        var tokens: [Int32] = [], slotOf: [Int] = [], positions: [Int] = [], lastRows: [Int] = []
        var seen = Set<Int>()
        for (slot, segment) in segments {
            precondition(slot >= 0 && slot < cache.slots, "slot \(slot) out of range 0..<\(cache.slots)")
            precondition(seen.insert(slot).inserted, "slot \(slot) appears twice in one cached forward")
            precondition(!segment.isEmpty, "empty segment for slot \(slot)")
            let start = cache.lengths[slot]
            precondition(start + segment.count <= c.seqLen,
                         "slot \(slot): \(start + segment.count) positions exceed model.seq_len \(c.seqLen)")
            for (i, t) in segment.enumerated() {
                precondition(t >= 0 && Int(t) < c.vocabSize, "token \(t) outside the vocabulary")
                tokens.append(t); slotOf.append(slot); positions.append(start + i)
            }
            lastRows.append(tokens.count - 1)
        }
        let n = tokens.count
        precondition(n >= 1 && n <= cache.tokensPerForward, "\(n) new tokens; the cache takes 1...\(cache.tokensPerForward)")
        let d = c.dModel, f = c.dFF, hd = c.headDim, h = c.nHeads, kvh = c.nKVHeads, kvd = kvh * hd, t = c.seqLen
        let qd = h * hd
        let x = cache.x, ln = cache.ln, mid = cache.mid

        // A decoding step's elementwise work (norms, RoPE, residuals, SwiGLU over a
        // few rows) is smaller than waking a second thread; threads never change bits.
        let light = n <= fewRowsLimit ? Parallel.serial : parallel
        let base = baseOnly
        let (layerParams, finalNorm, head) = base ? (baseLayerParams, baseFinalNorm, baseHead) : (self.layerParams, self.finalNorm, self.head)
        Embedding.forward(x, table: base ? baseEmbed : embed, tokens: tokens, parallel: light)
        for l in 0..<c.nLayers {
            let w = layerParams[l], wt = decodeWeights?.layers[l]
            RMSNorm.forward(ln, cache.rstd, x, w.norm1, rows: n, eps: c.normEps, parallel: light)
            if let fused = wt?.qkv, n <= fewRowsLimit {
                // One product for q, k and v (their panels side by side): one parallel region, not three.
                fusedDecodeLinear([cache.q, cache.k, cache.v], widths: [qd, kvd, kvd], ln, fused, scratch: cache.fused,
                                  rows: n, parallel: parallel)
            } else {
                decodeLinear(cache.q, ln, w.wq, wt?.wq, rows: n, parallel: parallel)
                decodeLinear(cache.k, ln, w.wk, wt?.wk, rows: n, parallel: parallel)
                decodeLinear(cache.v, ln, w.wv, wt?.wv, rows: n, parallel: parallel)
            }
            adapt(cache.q, ln, w.wq, l, .q, n)
            adapt(cache.k, ln, w.wk, l, .k, n)
            adapt(cache.v, ln, w.wv, l, .v, n)
            if let bq = w.bq, let bk = w.bk, let bv = w.bv {
                addBias(cache.q, bq, rows: n, parallel: light)
                addBias(cache.k, bk, rows: n, parallel: light)
                addBias(cache.v, bv, rows: n, parallel: light)
            }
            if let qn = w.qNorm, let kn = w.kNorm {
                // In place: each element is read before it is written, with the training forward's arithmetic.
                RMSNorm.forward(cache.q, cache.rstdHeads, cache.q, qn, rows: n * h, eps: c.normEps, parallel: light)
                RMSNorm.forward(cache.k, cache.rstdHeads, cache.k, kn, rows: n * kvh, eps: c.normEps, parallel: light)
            }
            rope.apply(cache.q, positions: positions, heads: h, parallel: light)
            rope.apply(cache.k, positions: positions, heads: kvh, parallel: light)
            let kc = cache.keys[l], vc = cache.values[l]
            for r in 0..<n {
                let o = (slotOf[r] * t + positions[r]) * kvd
                (kc.pointer + o).update(from: cache.k.pointer + r * kvd, count: kvd)
                (vc.pointer + o).update(from: cache.v.pointer + r * kvd, count: kvd)
            }
            cachedAttention(cache: cache, layer: l, rows: n, slotOf: slotOf, positions: positions, parallel: parallel)
            decodeLinear(mid, cache.att, w.wo, wt?.wo, rows: n, parallel: parallel)
            adapt(mid, cache.att, w.wo, l, .o, n)
            addInPlace(mid, x, count: n * d, parallel: light)            // xMid = x + o_proj(att)
            RMSNorm.forward(ln, cache.rstd, mid, w.norm2, rows: n, eps: c.normEps, parallel: light)
            if let fused = wt?.gateUp, n <= fewRowsLimit {
                fusedDecodeLinear([cache.gate, cache.up], widths: [f, f], ln, fused, scratch: cache.fused, rows: n,
                                  parallel: parallel)
            } else {
                decodeLinear(cache.gate, ln, w.wg, wt?.wg, rows: n, parallel: parallel)
                decodeLinear(cache.up, ln, w.wu, wt?.wu, rows: n, parallel: parallel)
            }
            adapt(cache.gate, ln, w.wg, l, .gate, n)
            adapt(cache.up, ln, w.wu, l, .up, n)
            SwiGLU.forward(cache.hidden, gate: cache.gate, up: cache.up, count: n * f, parallel: light)
            decodeLinear(x, cache.hidden, w.wd, wt?.wd, rows: n, parallel: parallel)
            adapt(x, cache.hidden, w.wd, l, .down, n)
            addInPlace(x, mid, count: n * d, parallel: light)            // out = xMid + down(h)
        }
        for (slot, segment) in segments { cache.append(slot: slot, count: segment.count) }

        RMSNorm.forward(ln, cache.rstd, x, finalNorm, rows: n, eps: c.normEps, parallel: light)
        let rows: Int, headInput: Tensor
        if allLogits {
            rows = n; headInput = ln
        } else {
            rows = lastRows.count; headInput = cache.lastHidden
            for (i, r) in lastRows.enumerated() {
                (headInput.pointer + i * d).update(from: ln.pointer + r * d, count: d)
            }
        }
        decodeLinear(cache.logitsBuffer, headInput, head, decodeWeights?.head, rows: rows, parallel: parallel)
        return Tensor(storage: cache.logitsBuffer.storage, offset: 0, shape: [rows, c.vocabSize])
    }

    /// att[r] for each new row r: its query against the cached keys and values
    /// of positions 0...positions[r] of its slot. The arithmetic of
    /// `Attention.forward` for one query row: scores are FMA chains over the
    /// head dimension, then the forward's own `Attention.softmaxRow`, and each
    /// output an FMA chain over the positions. Memory is one score row per
    /// (row, head), linear in the context like the training forward's blocks. With a sliding
    /// window the positions before it carry probability exactly 0, as in
    /// `Attention.forward`.
    func cachedAttention(cache: KVCache, layer: Int, rows n: Int, slotOf: [Int], positions: [Int], parallel: Parallel) {
        let c = config
        let hd = c.headDim, h = c.nHeads, kvh = c.nKVHeads, kvd = kvh * hd, t = c.seqLen, group = h / kvh
        let scale = 1 / Float(hd).squareRoot(), window = c.slidingWindow
        let q = cache.q, att = cache.att, scores = cache.scores
        let kc = cache.keys[layer], vc = cache.values[layer]
        slotOf.withUnsafeBufferPointer { sb in
            positions.withUnsafeBufferPointer { pb in
                let sp = SendablePointer(UnsafeMutablePointer(mutating: sb.baseAddress!))
                let pp = SendablePointer(UnsafeMutablePointer(mutating: pb.baseAddress!))
                parallel.forEachRange(n * h, grain: 4) { range in
                    for rh in range {
                        let r = rh / h, head = rh % h, kv = head / group
                        let i = pp.p[r]
                        let qp = q.pointer + r * h * hd + head * hd
                        let kp = kc.pointer + sp.p[r] * t * kvd + kv * hd
                        let vp = vc.pointer + sp.p[r] * t * kvd + kv * hd
                        let row = scores.pointer + rh * t
                        let lo = window > 0 ? max(0, i - window + 1) : 0
                        // Each score is one FMA chain over the head dimension, in order; eight
                        // positions' chains run side by side so the FMA units are not waiting on
                        // one chain's latency. Same bits as one position at a time.
                        var j = lo
                        while j + 8 <= i + 1 {
                            let k0 = kp + j * kvd
                            var a0: Float = 0, a1: Float = 0, a2: Float = 0, a3: Float = 0
                            var a4: Float = 0, a5: Float = 0, a6: Float = 0, a7: Float = 0
                            for p in 0..<hd {
                                let qv = qp[p]
                                a0 = a0.addingProduct(qv, k0[p]); a1 = a1.addingProduct(qv, k0[kvd + p])
                                a2 = a2.addingProduct(qv, k0[2 * kvd + p]); a3 = a3.addingProduct(qv, k0[3 * kvd + p])
                                a4 = a4.addingProduct(qv, k0[4 * kvd + p]); a5 = a5.addingProduct(qv, k0[5 * kvd + p])
                                a6 = a6.addingProduct(qv, k0[6 * kvd + p]); a7 = a7.addingProduct(qv, k0[7 * kvd + p])
                            }
                            row[j] = a0; row[j + 1] = a1; row[j + 2] = a2; row[j + 3] = a3
                            row[j + 4] = a4; row[j + 5] = a5; row[j + 6] = a6; row[j + 7] = a7
                            j += 8
                        }
                        while j <= i {
                            let kj = kp + j * kvd
                            var acc: Float = 0
                            for p in 0..<hd { acc = acc.addingProduct(qp[p], kj[p]) }
                            row[j] = acc
                            j += 1
                        }
                        _ = Attention.softmaxRow(row + lo, i + 1 - lo, scale: scale)
                        for j in 0..<lo { row[j] = 0 }
                        let out = att.pointer + r * h * hd + head * hd
                        // Each out[e] is the chain over j in order from 0; j innermost within
                        // 32 lanes held in registers, so out is written once.
                        var e = 0
                        while e + 32 <= hd {
                            var o0 = SIMD8<Float>(), o1 = SIMD8<Float>(), o2 = SIMD8<Float>(), o3 = SIMD8<Float>()
                            for j in 0...i {
                                let pj = SIMD8<Float>(repeating: row[j]), vj = vp + j * kvd + e
                                o0 = o0.addingProduct(pj, UnsafeRawPointer(vj).loadUnaligned(as: SIMD8<Float>.self))
                                o1 = o1.addingProduct(pj, UnsafeRawPointer(vj + 8).loadUnaligned(as: SIMD8<Float>.self))
                                o2 = o2.addingProduct(pj, UnsafeRawPointer(vj + 16).loadUnaligned(as: SIMD8<Float>.self))
                                o3 = o3.addingProduct(pj, UnsafeRawPointer(vj + 24).loadUnaligned(as: SIMD8<Float>.self))
                            }
                            UnsafeMutableRawPointer(out + e).storeBytes(of: o0, as: SIMD8<Float>.self)
                            UnsafeMutableRawPointer(out + e + 8).storeBytes(of: o1, as: SIMD8<Float>.self)
                            UnsafeMutableRawPointer(out + e + 16).storeBytes(of: o2, as: SIMD8<Float>.self)
                            UnsafeMutableRawPointer(out + e + 24).storeBytes(of: o3, as: SIMD8<Float>.self)
                            e += 32
                        }
                        if e < hd {
                            (out + e).update(repeating: 0, count: hd - e)
                            for j in 0...i {
                                let pj = row[j], vj = vp + j * kvd
                                for l in e..<hd { out[l] = out[l].addingProduct(pj, vj[l]) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The model's matrices packed as `Matmul.fewRows` panels, so a decoding
/// step of a few rows streams each weight once, contiguously, instead of
/// packing it for every token. A snapshot: `update` after the weights change
/// (the sampler does at every `generate`). Same bits as the packed product.
public final class DecodeWeights: @unchecked Sendable {
    /// Each matrix's panels. When the widths are multiples of 16, wq, wk and wv
    /// are views into one `qkv` buffer (their panels side by side), and wg, wu
    /// into `gateUp`, so one product computes them together; no extra memory.
    struct Layer { let wq, wk, wv, wo, wg, wu, wd: Tensor; let qkv, gateUp: Tensor? }
    let layers: [Layer]
    let head: Tensor

    public init(config c: ModelConfig) {
        let d = c.dModel, qd = c.nHeads * c.headDim, kvd = c.nKVHeads * c.headDim, f = c.dFF
        func panels(in k: Int, out n: Int) -> Tensor { Tensor(shape: [Matmul.packedPanelsCount(k: k, n: n)]) }
        /// Panels for outputs of `widths`, as one buffer and a view per width when every width is whole panels.
        func together(in k: Int, _ widths: [Int]) -> (Tensor?, [Tensor]) {
            guard widths.allSatisfy({ $0 % 16 == 0 }) else { return (nil, widths.map { panels(in: k, out: $0) }) }
            let all = panels(in: k, out: widths.reduce(0, +))
            var offset = 0
            let views = widths.map { w -> Tensor in
                defer { offset += w * k }
                return Tensor(storage: all.storage, offset: offset, shape: [w * k])
            }
            return (all, views)
        }
        layers = (0..<c.nLayers).map { _ in
            let (qkv, qkvViews) = together(in: d, [qd, kvd, kvd])
            let (gateUp, guViews) = together(in: d, [f, f])
            return Layer(wq: qkvViews[0], wk: qkvViews[1], wv: qkvViews[2], wo: panels(in: qd, out: d),
                         wg: guViews[0], wu: guViews[1], wd: panels(in: f, out: d), qkv: qkv, gateUp: gateUp)
        }
        head = panels(in: d, out: c.vocabSize)
    }

    /// Packs the model's current weights.
    public func update(from model: Transformer, parallel: Parallel) {
        func pack(_ w: Tensor, into t: Tensor) {   // w [out, in] (nn.Linear) → op(B) = wᵀ [in, out]
            Matmul.packPanels(t.pointer, w.pointer, k: w.shape[1], n: w.shape[0], transB: true, parallel: parallel)
        }
        let base = model.baseOnly
        for (l, t) in layers.enumerated() {
            let w = base ? model.baseLayerParams[l] : model.layerParams[l]
            pack(w.wq, into: t.wq); pack(w.wk, into: t.wk); pack(w.wv, into: t.wv); pack(w.wo, into: t.wo)
            pack(w.wg, into: t.wg); pack(w.wu, into: t.wu); pack(w.wd, into: t.wd)
        }
        pack(base ? model.baseHead : model.head, into: head)
    }
}

/// Several outputs of one input from side-by-side panels: one few-rows
/// product into `scratch` [rows, Σ widths], then each output's columns
/// copied out. Every output element is the same FMA chain as its own product.
func fusedDecodeLinear(_ outputs: [Tensor], widths: [Int], _ x: Tensor, _ packed: Tensor, scratch: Tensor, rows: Int,
                       parallel: Parallel) {
    let total = widths.reduce(0, +)
    Matmul.fewRows(scratch.pointer, x.pointer, packedB: packed.pointer, m: rows, n: total, k: x.shape[1], parallel: parallel)
    var column = 0
    for (y, w) in zip(outputs, widths) {
        for r in 0..<rows { (y.pointer + r * w).update(from: scratch.pointer + r * total + column, count: w) }
        column += w
    }
}

/// y[N, out] = x[N, in] · Wᵀ: from the packed panels for a few rows, else
/// the model's product (deterministic or OpenBLAS, as the run says).
@inline(__always)
func decodeLinear(_ y: Tensor, _ x: Tensor, _ w: Tensor, _ packed: Tensor?, rows: Int, parallel: Parallel) {
    if let packed, rows <= fewRowsLimit {
        Matmul.fewRows(y.pointer, x.pointer, packedB: packed.pointer, m: rows, n: w.shape[0], k: w.shape[1], parallel: parallel)
    } else {
        linearForward(y, x, w, rows: rows, parallel: parallel)
    }
}

/// Up to this many rows, a decoding step reads packed weights.
let fewRowsLimit = 32
