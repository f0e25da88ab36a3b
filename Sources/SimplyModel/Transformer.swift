import SimplyCore

/// A Llama-family decoder in float32 with a hand-written backward pass,
/// llm.c style: one flat parameter buffer, one flat gradient buffer, and every
/// activation buffer allocated once at init for maxBatch × seqLen rows.
public final class Transformer: @unchecked Sendable {
    public let config: ModelConfig
    public let layout: ParameterLayout
    public let params: Tensor
    /// The base's gradients; empty (never allocated) for a model made with
    /// LoRA adapters, whose base is frozen. What the optimizer trains is
    /// `trainableParams` / `trainableGrads`.
    public let grads: Tensor
    public let maxBatch: Int
    /// Which of the Trainer's two shard lanes this model serves: 0, or 1 for
    /// a second model on another's parameters (`init(sharingParametersOf:)`).
    /// Objectives with a frozen model of their own keep one per lane.
    public let lane: Int
    /// Gradient checkpointing: 0 keeps every layer's activations; k ≥ 1 keeps
    /// k layers' worth (the forward writes layer l's into set l % k) and the
    /// backward recomputes each k-layer segment from its input, residual[s],
    /// before going back through it. The recomputation runs the forward's own
    /// code on the same inputs, so every bit is the same.
    public let checkpointEvery: Int

    let rope: RoPE

    // Per-layer parameter and gradient views, resolved once.
    struct LayerWeights {
        var norm1, wq, wk, wv, wo, norm2, wg, wu, wd: Tensor
        var bq, bk, bv: Tensor?            // config.qkvBias
        var qNorm, kNorm: Tensor?          // config.qkNorm
    }
    /// Views of `params`; with LoRA, a saved module's (a norm trained in
    /// full) is a view of the adapters' buffer instead.
    private(set) var layerParams: [LayerWeights]
    let layerGrads: [LayerWeights]?    // nil: frozen base (LoRA)
    /// With LoRA: the gradients of a layer's norms trained in full (saved modules), nil where frozen.
    struct SavedNormGrads { let norm1, norm2, qNorm, kNorm: Tensor? }
    private(set) var savedGrads: [SavedNormGrads?] = []
    private(set) var finalNormGrad, embedGrad, headGrad: Tensor?
    private(set) var embed, head, finalNorm: Tensor
    /// The base's own views: what the model computes with its adapters
    /// switched off (saved modules then revert too, as PEFT's disable_adapter).
    let baseLayerParams: [LayerWeights]
    let baseEmbed, baseHead, baseFinalNorm: Tensor
    /// True while attached adapters are switched off.
    var baseOnly: Bool { adapters.map { !$0.enabled } ?? false }
    let gEmbed, gFinalNorm, gHead: Tensor?
    /// [1, d] when config.scoreHead: a view of `params`, or with LoRA of the
    /// adapters' buffer (the score head is trained with them).
    private(set) var score, gScore: Tensor?

    // Activations. Rows N = batch · seqLen.
    struct LayerActivations {
        let rstd1, ln1, q, k, v, stats, attOut, xMid, rstd2, ln2, gate, up, hidden: Tensor
        /// With config.qkNorm: the projections before their per-head norm, and its 1/rms per (row, head).
        let qRaw, kRaw, rstdQ, rstdK: Tensor?
    }
    let acts: [LayerActivations]
    let residual: [Tensor]           // residual[l] enters layer l; residual[L] enters the final norm
    let rstdFinal, lnFinal, logitsBuffer, dlogits, losses: Tensor
    /// Where the last forward left the loss gradient: `dlogits`, or with
    /// `keepLogits: false` the logits buffer itself (its pages are all the
    /// memory the head's output takes; `dlogits` is then never touched).
    private(set) var lossGradient: Tensor
    // Backward scratch.
    let dResidual, dMid, dLn, dq, dk, dv, dAttOut, dHidden, dGate, dUp: Tensor
    let dqRaw, dkRaw: Tensor?            // config.qkNorm

    /// Backward adds its gradient into `grads` instead of into zeroed ones:
    /// each region's gradient (the embedding; the final norm with an untied
    /// and a score head; each layer) is computed in a scratch the size of the
    /// embedding plus one region, starting from zero as always, and added once
    /// final: grads[i] = grads[i] + g[i], per element. So two gradient shards
    /// can share one buffer and still give the tree's g₀ + g₁ bits (the
    /// Trainer's in-place pair), with no second parameter-sized buffer. Full
    /// models only (no adapters), and one backward per forward.
    public var addsGradients = false {
        didSet { precondition(!addsGradients || (adapters == nil && grads.count == layout.count), "addsGradients needs a model with all its gradients (no LoRA)") }
    }
    /// Made by the first backward with `addsGradients` (nil: never used).
    private var addingScratch: AddingScratch?

    /// `addsGradients`' scratch and its views, laid out like `grads` region by region.
    final class AddingScratch {
        let buffer: Tensor
        /// The embedding's gradient, [V, d] at 0.
        let embed: Tensor
        /// Where one region (a layer or the tail) starts in `buffer`.
        let slot: Int
        let layers: [LayerWeights]
        let layerRanges: [Range<Int>]
        /// Final norm, untied head, score head: `grads`' tail.
        let tailRange: Range<Int>
        let finalNorm: Tensor, head: Tensor, score: Tensor?

        init(model m: Transformer) {
            let c = m.config, layout = m.layout
            func offset(_ name: String) -> Int { layout.entry(name)!.offset }
            let embedCount = layout.entry("model.embed_tokens.weight")!.count
            let starts = (0..<c.nLayers).map { offset("model.layers.\($0).input_layernorm.weight") }
            let tailStart = offset("model.norm.weight")
            let ranges = (0..<c.nLayers).map { starts[$0]..<($0 + 1 < c.nLayers ? starts[$0 + 1] : tailStart) }
            layerRanges = ranges
            tailRange = tailStart..<layout.count
            let slot = embedCount
            self.slot = slot
            let span = max(layout.count - tailStart, ranges.map(\.count).max() ?? 0)
            let buffer = Tensor(shape: [embedCount + span])
            self.buffer = buffer
            func view(_ name: String, regionStart: Int) -> Tensor {
                let e = layout.entry(name)!
                return Tensor(storage: buffer.storage, offset: slot + e.offset - regionStart, shape: e.shape)
            }
            embed = Tensor(storage: buffer.storage, offset: 0, shape: [c.vocabSize, c.dModel])
            layers = (0..<c.nLayers).map { l in
                let p = "model.layers.\(l).", r = ranges[l].lowerBound
                func v(_ n: String) -> Tensor { view(p + n, regionStart: r) }
                func o(_ n: String) -> Tensor? { layout.entry(p + n) == nil ? nil : v(n) }
                return LayerWeights(norm1: v("input_layernorm.weight"), wq: v("self_attn.q_proj.weight"),
                                    wk: v("self_attn.k_proj.weight"), wv: v("self_attn.v_proj.weight"),
                                    wo: v("self_attn.o_proj.weight"), norm2: v("post_attention_layernorm.weight"),
                                    wg: v("mlp.gate_proj.weight"), wu: v("mlp.up_proj.weight"), wd: v("mlp.down_proj.weight"),
                                    bq: o("self_attn.q_proj.bias"), bk: o("self_attn.k_proj.bias"), bv: o("self_attn.v_proj.bias"),
                                    qNorm: o("self_attn.q_norm.weight"), kNorm: o("self_attn.k_norm.weight"))
            }
            finalNorm = view("model.norm.weight", regionStart: tailStart)
            head = c.tieEmbeddings ? embed : view("lm_head.weight", regionStart: tailStart)
            score = layout.entry("score.weight") == nil ? nil : view("score.weight", regionStart: tailStart)
        }

        /// Zeroes the region slot's first `count` floats.
        func clearSlot(_ count: Int) { (buffer.pointer + slot).update(repeating: 0, count: count) }

        /// grads[range] += slot[0..<range.count] (`addInPlace`: the tree's x + y per element).
        func addSlot(into grads: Tensor, _ range: Range<Int>, parallel: Parallel) {
            addInPlace(Tensor(storage: grads.storage, offset: grads.offset + range.lowerBound, shape: [range.count]),
                       Tensor(storage: buffer.storage, offset: slot, shape: [range.count]), count: range.count, parallel: parallel)
        }
    }

    /// LoRA adapters (`attach`, or `init(config:maxBatch:lora:)`): when set,
    /// the base weights are frozen — the backward pass computes no gradient
    /// for them, only through them — and the adapters' gradients (and the
    /// score head's) go to `adapters.grads`.
    public private(set) var adapters: LoRAAdapters?

    /// Attaches adapters made for this model's config and at least maxBatch ×
    /// seq_len rows. A score head moves into the adapters' buffer (its current
    /// value copied), where it is trained with them.
    public func attach(_ lora: LoRAAdapters) {
        precondition(lora.scratch.shape[0] >= maxBatch * config.seqLen, "adapters made for fewer rows than the model")
        precondition((lora.score != nil) == config.scoreHead, "adapters made for a model with\(config.scoreHead ? "out" : "") a score head")
        adapters = lora
        // Saved modules (norms, embeddings, a score head) start from the base's values and live in the adapters' buffer.
        resetSavedModules()
        if let s = lora.score, let g = lora.scoreGrad { score = s; gScore = g }
        finalNormGrad = lora.gradient("model.norm.weight")
        if let t = lora.parameter("model.norm.weight") { finalNorm = t }
        embedGrad = lora.gradient("model.embed_tokens.weight")
        headGrad = config.tieEmbeddings ? embedGrad : lora.gradient("lm_head.weight")
        if let t = lora.parameter("model.embed_tokens.weight") {
            embed = t
            if config.tieEmbeddings { head = t }
        }
        if let t = lora.parameter("lm_head.weight") { head = t }
        savedGrads = (0..<config.nLayers).map { l in
            let p = "model.layers.\(l)."
            let n1 = p + "input_layernorm.weight", n2 = p + "post_attention_layernorm.weight"
            let qn = p + "self_attn.q_norm.weight", kn = p + "self_attn.k_norm.weight"
            if let t = lora.parameter(n1) { layerParams[l].norm1 = t }
            if let t = lora.parameter(n2) { layerParams[l].norm2 = t }
            if let t = lora.parameter(qn) { layerParams[l].qNorm = t }
            if let t = lora.parameter(kn) { layerParams[l].kNorm = t }
            let g = SavedNormGrads(norm1: lora.gradient(n1), norm2: lora.gradient(n2), qNorm: lora.gradient(qn), kNorm: lora.gradient(kn))
            return [g.norm1, g.norm2, g.qNorm, g.kNorm].allSatisfy { $0 == nil } ? nil : g
        }
    }

    /// Copies every saved module (a norm or the embeddings trained in full,
    /// the score head) from the base's values into the adapters: after the
    /// base was loaded, the adapters start from it.
    public func resetSavedModules() {
        guard let a = adapters, !a.sharesParameters else { return }
        for e in a.savedEntries { a.parameter(e.name)!.copy(from: baseParameter(e.name)) }
    }

    /// The base's own view of parameter `name` (not a saved module's copy):
    /// where loading a base checkpoint writes.
    public func baseParameter(_ name: String) -> Tensor {
        guard let e = layout.entry(name) else { fatalError("no parameter \(name)") }
        return Tensor(storage: params.storage, offset: params.offset + e.offset, shape: e.shape)
    }

    /// What the optimizer trains: the adapters (and score head) with LoRA, else every parameter.
    public var trainableParams: Tensor { adapters?.params ?? params }
    public var trainableGrads: Tensor { adapters?.grads ?? grads }
    /// Their names, shapes, offsets and weight decay, in buffer order.
    public var trainableEntries: [ParameterEntry] { adapters?.entries ?? layout.entries }

    // What the last forward saw.
    var lastTokens: [Int32]
    var lastBatch = 0, lastSeqLen = 0
    var lastWithLogits = true
    /// False after a `keepLogits: false` forward: the logits buffer holds the loss gradient.
    var lastLogitsKept = true

    public convenience init(config: ModelConfig, maxBatch: Int, checkpointEvery: Int = 0) {
        self.init(config: config, maxBatch: maxBatch, params: nil, lane: 0, frozenBase: false, checkpointEvery: checkpointEvery)
    }

    /// A model whose base is frozen and trained through LoRA adapters
    /// (`lora.rank` ≥ 1): the base's gradients are never allocated.
    /// `initialize(seed:)` initializes the adapters too.
    public convenience init(config: ModelConfig, maxBatch: Int, lora: LoRAConfig, checkpointEvery: Int = 0) {
        self.init(config: config, maxBatch: maxBatch, params: nil, lane: 0, frozenBase: true, checkpointEvery: checkpointEvery)
        attach(LoRAAdapters(model: config, config: lora, maxRows: maxBatch * config.seqLen))
    }

    /// A second workspace on `other`'s parameters (the same storage, read
    /// only here): its own activations and gradients, so two gradient shards
    /// can run at once, one on each. Adapters are shared the same way.
    public convenience init(sharingParametersOf other: Transformer) {
        self.init(config: other.config, maxBatch: other.maxBatch, params: other.params, lane: 1,
                  frozenBase: other.layerGrads == nil, checkpointEvery: other.checkpointEvery)
        if let a = other.adapters { attach(LoRAAdapters(sharingParametersOf: a)) }
    }

    init(config: ModelConfig, maxBatch: Int, params shared: Tensor?, lane: Int, frozenBase: Bool, checkpointEvery: Int) {
        precondition(checkpointEvery >= 0, "checkpointEvery must be >= 0")
        self.config = config
        self.maxBatch = maxBatch
        self.lane = lane
        self.checkpointEvery = checkpointEvery
        lastTokens = []
        lastTokens.reserveCapacity(maxBatch * config.seqLen)
        layout = ParameterLayout(config: config)
        params = shared ?? Tensor(shape: [layout.count])
        grads = Tensor(shape: [frozenBase ? 0 : layout.count])
        rope = RoPE(headDim: config.headDim, seqLen: config.seqLen, theta: config.ropeTheta, scaling: config.ropeScaling)

        let layout = self.layout
        func views(_ flat: Tensor) -> ([LayerWeights], Tensor, Tensor, Tensor) {
            func v(_ name: String) -> Tensor {
                let e = layout.entry(name)!
                return Tensor(storage: flat.storage, offset: flat.offset + e.offset, shape: e.shape)
            }
            func optional(_ name: String) -> Tensor? { layout.entry(name) == nil ? nil : v(name) }
            let layers = (0..<config.nLayers).map { l -> LayerWeights in
                let p = "model.layers.\(l)."
                return LayerWeights(norm1: v(p + "input_layernorm.weight"), wq: v(p + "self_attn.q_proj.weight"),
                                    wk: v(p + "self_attn.k_proj.weight"), wv: v(p + "self_attn.v_proj.weight"),
                                    wo: v(p + "self_attn.o_proj.weight"), norm2: v(p + "post_attention_layernorm.weight"),
                                    wg: v(p + "mlp.gate_proj.weight"), wu: v(p + "mlp.up_proj.weight"),
                                    wd: v(p + "mlp.down_proj.weight"),
                                    bq: optional(p + "self_attn.q_proj.bias"), bk: optional(p + "self_attn.k_proj.bias"),
                                    bv: optional(p + "self_attn.v_proj.bias"),
                                    qNorm: optional(p + "self_attn.q_norm.weight"), kNorm: optional(p + "self_attn.k_norm.weight"))
            }
            let e = v("model.embed_tokens.weight")
            return (layers, e, v("model.norm.weight"), config.tieEmbeddings ? e : v("lm_head.weight"))
        }
        (layerParams, embed, finalNorm, head) = views(params)
        (baseLayerParams, baseEmbed, baseFinalNorm, baseHead) = (layerParams, embed, finalNorm, head)
        if frozenBase {
            (layerGrads, gEmbed, gFinalNorm, gHead) = (nil, nil, nil, nil)
        } else {
            (layerGrads, gEmbed, gFinalNorm, gHead) = views(grads)
        }
        if let e = layout.entry("score.weight") {
            score = Tensor(storage: params.storage, offset: params.offset + e.offset, shape: e.shape)
            gScore = frozenBase ? nil : Tensor(storage: grads.storage, offset: grads.offset + e.offset, shape: e.shape)
        } else {
            score = nil; gScore = nil
        }

        let n = maxBatch * config.seqLen, d = config.dModel, hd = config.headDim
        let qd = config.nHeads * hd, kvd = config.nKVHeads * hd, f = config.dFF, t = config.seqLen
        let statsCount = Attention.statsCount(batch: maxBatch, heads: config.nHeads, seqLen: t)
        acts = (0..<(checkpointEvery > 0 ? min(checkpointEvery, config.nLayers) : config.nLayers)).map { _ in
            LayerActivations(rstd1: Tensor(shape: [n]), ln1: Tensor(shape: [n, d]), q: Tensor(shape: [n, qd]),
                             k: Tensor(shape: [n, kvd]), v: Tensor(shape: [n, kvd]), stats: Tensor(shape: [statsCount]),
                             attOut: Tensor(shape: [n, qd]), xMid: Tensor(shape: [n, d]), rstd2: Tensor(shape: [n]),
                             ln2: Tensor(shape: [n, d]), gate: Tensor(shape: [n, f]), up: Tensor(shape: [n, f]),
                             hidden: Tensor(shape: [n, f]),
                             qRaw: config.qkNorm ? Tensor(shape: [n, qd]) : nil, kRaw: config.qkNorm ? Tensor(shape: [n, kvd]) : nil,
                             rstdQ: config.qkNorm ? Tensor(shape: [n * config.nHeads]) : nil,
                             rstdK: config.qkNorm ? Tensor(shape: [n * config.nKVHeads]) : nil)
        }
        residual = (0...config.nLayers).map { _ in Tensor(shape: [n, d]) }
        rstdFinal = Tensor(shape: [n]); lnFinal = Tensor(shape: [n, d])
        logitsBuffer = Tensor(shape: [n, config.vocabSize]); dlogits = Tensor(shape: [n, config.vocabSize])
        lossGradient = dlogits
        losses = Tensor(shape: [n])
        dResidual = Tensor(shape: [n, d]); dMid = Tensor(shape: [n, d]); dLn = Tensor(shape: [n, d])
        dq = Tensor(shape: [n, qd]); dk = Tensor(shape: [n, kvd]); dv = Tensor(shape: [n, kvd])
        dAttOut = Tensor(shape: [n, qd])
        dHidden = Tensor(shape: [n, f]); dGate = Tensor(shape: [n, f]); dUp = Tensor(shape: [n, f])
        dqRaw = config.qkNorm ? Tensor(shape: [n, qd]) : nil
        dkRaw = config.qkNorm ? Tensor(shape: [n, kvd]) : nil
    }

    /// Normal(0, initStd) for matrices — o_proj and down_proj scaled by
    /// 1/sqrt(2·nLayers) as in GPT-2 — 1 for norm weights and 0 for biases.
    /// Draw (e, i) of stream "init" is element i of entry e.
    public func initialize(seed: UInt64) {
        initializeBase(seed: seed)
        adapters?.initialize(seed: seed)
        resetSavedModules()
    }

    /// `initialize(seed:)` of the base parameters alone (adapters untouched).
    public func initializeBase(seed: UInt64) {
        let stream = RandomStream(seed: seed, name: "init")
        let residualScale = 1 / Float(2 * config.nLayers).squareRoot()
        for (ei, e) in layout.entries.enumerated() {
            let p = params.pointer + e.offset
            if e.shape.count == 1 {
                p.update(repeating: e.name.hasSuffix(".bias") ? 0 : 1, count: e.count)
                continue
            }
            var std = config.initStd
            if e.name.hasSuffix("o_proj.weight") || e.name.hasSuffix("down_proj.weight") { std *= residualScale }
            for i in 0..<e.count { p[i] = stream.normal(UInt64(ei), UInt64(i)) * std }
        }
    }

    /// SHA-256 of the base's parameters in layout order, the score head left
    /// out (a LoRA run trains it): what a LoRA run records of its frozen base.
    public func baseSHA256() -> String {
        let h = SHA256Hasher()
        for e in layout.entries where e.name != "score.weight" { h.update(baseParameter(e.name)) }
        return h.finalizeHex()
    }

    /// A parameter by name; with adapters attached, a saved module (a norm
    /// trained in full, the score head) is the adapters' copy.
    public func parameter(_ name: String) -> Tensor {
        if let s = adapters?.parameter(name) { return s }
        return baseParameter(name)
    }

    public func gradient(_ name: String) -> Tensor {
        if let g = adapters?.gradient(name) { return g }
        guard let e = layout.entry(name), grads.count > 0 else { fatalError("no gradient \(name)") }
        return Tensor(storage: grads.storage, offset: grads.offset + e.offset, shape: e.shape)
    }

    /// Zeroes what backward adds into: the trainable gradients.
    public func zeroGrads() { trainableGrads.zero() }

    /// Logits of the last forward, [batch, seqLen, vocab] (not after a `keepLogits: false` forward).
    public var logits: Tensor {
        precondition(lastLogitsKept, "logits after a forward that overwrote them with the loss gradient (keepLogits: false)")
        return Tensor(storage: logitsBuffer.storage, offset: 0, shape: [lastBatch, lastSeqLen, config.vocabSize])
    }

    func view(_ t: Tensor, _ shape: [Int]) -> Tensor { Tensor(storage: t.storage, offset: t.offset, shape: shape) }

    /// Per-position w·CE of the last forward, [batch · seqLen]; −logπ(target)
    /// where the weight was 1.
    public var positionLosses: Tensor { Tensor(storage: losses.storage, offset: 0, shape: [lastBatch * lastSeqLen]) }

    /// The final-norm hidden states of the last forward, [batch · seqLen, d].
    public var finalHidden: Tensor {
        Tensor(storage: lnFinal.storage, offset: 0, shape: [lastBatch * lastSeqLen, config.dModel])
    }

    /// Multiplies position i's loss gradient by scale[i]: backward then gives
    /// the gradient of Σ scale[i]·w[i]·CE[i]. Post-training objectives (DPO,
    /// policy gradients) use it to turn per-sequence coefficients into one
    /// backward pass.
    public func scaleLossGradient(_ scale: [Float], parallel: Parallel) {
        let n = lastBatch * lastSeqLen, v = config.vocabSize
        precondition(scale.count >= n, "scale shorter than batch·seqLen")
        let dl = lossGradient
        scale.withUnsafeBufferPointer { sb in
            let sp = SendablePointer(UnsafeMutablePointer(mutating: sb.baseAddress!))
            parallel.forEachRange(n, grain: 4) { r in
                for i in r {
                    let s = sp.p[i], row = dl.pointer + i * v
                    for j in 0..<v { row[j] *= s }
                }
            }
        }
    }

    /// The greedy next token at each position of the last forward: the argmax
    /// of its logits, the lowest id on ties.
    public func predictedTokens() -> [Int32] {
        precondition(lastWithLogits && lastLogitsKept, "predictedTokens() needs a forward with logits kept")
        let n = lastBatch * lastSeqLen, v = config.vocabSize
        return (0..<n).map { i in
            let row = logitsBuffer.pointer + i * v
            var best = 0
            for j in 1..<v where row[j] > row[best] { best = j }
            return Int32(best)
        }
    }

    /// The score head's value at each of `rows` (indices into batch · seqLen)
    /// of the last forward: score · finalHidden[row].
    public func scores(rows: [Int]) -> [Float] {
        guard let w = score else { preconditionFailure("scores() needs model.score_head") }
        let d = config.dModel
        return rows.map { r in
            var acc: Float = 0
            let h = lnFinal.pointer + r * d
            for j in 0..<d { acc = acc.addingProduct(w.pointer[j], h[j]) }
            return acc
        }
    }

    /// Σ_i weights[i] · CE(targets[i] | logits at i) over [batch, seqLen] positions.
    /// With `withLogits: false` the LM head is skipped (score-head models): the
    /// value is 0 and backward starts from `scoreGradients` alone. With
    /// `keepLogits: false` the loss gradient overwrites the logits (one
    /// [rows, vocab] buffer instead of two; `logits` is then not readable).
    public func forward(tokens: [Int32], targets: [Int32], weights: [Float], batch: Int, seqLen: Int,
                        parallel: Parallel, withLogits: Bool = true, keepLogits: Bool = true) -> Float {
        let c = config
        precondition(batch >= 1 && batch <= maxBatch && seqLen >= 1 && seqLen <= c.seqLen, "batch/seqLen out of range")
        let n = batch * seqLen
        precondition(tokens.count >= n && targets.count >= n && weights.count >= n, "tokens/targets/weights shorter than batch·seqLen")
        for i in 0..<n {
            precondition(tokens[i] >= 0 && Int(tokens[i]) < c.vocabSize, "token \(tokens[i]) at \(i) outside the vocabulary")
            // A zero-weight position is never read, so its target may be anything (e.g. -100).
            precondition(weights[i] == 0 || (targets[i] >= 0 && Int(targets[i]) < c.vocabSize),
                         "target \(targets[i]) at \(i) outside the vocabulary")
        }
        // Reuses lastTokens' storage: no allocation after the first call.
        lastTokens.removeAll(keepingCapacity: true)
        lastTokens.append(contentsOf: tokens[0..<n])
        lastBatch = batch; lastSeqLen = seqLen
        adapters?.beginForward()
        let hd = c.headDim

        // Embedding lookup.
        let base = baseOnly
        let (layerParams, finalNorm, head) = base ? (baseLayerParams, baseFinalNorm, baseHead) : (self.layerParams, self.finalNorm, self.head)
        Embedding.forward(residual[0], table: base ? baseEmbed : embed, tokens: lastTokens, parallel: parallel)

        let attention = Attention(batch: batch, seqLen: seqLen, heads: c.nHeads, kvHeads: c.nKVHeads, headDim: hd,
                                  window: c.slidingWindow)
        // The residual add that ends layer l (residual[l+1] += xMid) is done by the
        // next norm's pass over the rows (`adding:`), the same y += x per element.
        var pendingAdd: Tensor? = nil
        for l in 0..<c.nLayers {
            forwardLayer(l, layerParams[l], attention, rows: n, pendingAdd: pendingAdd, parallel: parallel)
            pendingAdd = activations(l).xMid                                 // out = down(h) + xMid
        }
        RMSNorm.forward(lnFinal, rstdFinal, residual[c.nLayers], finalNorm, rows: n, eps: c.normEps, adding: pendingAdd,
                        parallel: parallel)
        lastWithLogits = withLogits
        lastLogitsKept = keepLogits
        lossGradient = keepLogits ? dlogits : logitsBuffer
        guard withLogits else { return 0 }
        linearForward(logitsBuffer, lnFinal, head, rows: n, parallel: parallel)
        return CrossEntropy.forward(dlogits: lossGradient, losses: losses, logits: logitsBuffer, targets: targets,
                                    weights: weights, rows: n, vocab: c.vocabSize, parallel: parallel)
    }

    /// The activation set layer l uses (its own, or with checkpointing its segment's slot).
    func activations(_ l: Int) -> LayerActivations { acts[checkpointEvery > 0 ? l % checkpointEvery : l] }

    /// Layer l's forward from residual[l] into its activation set. With
    /// `pendingAdd` the previous layer's residual add (residual[l] += it) is
    /// done first, inside the first norm's pass. A recomputation (the
    /// backward's, with checkpointing) passes nil, since residual[l] is
    /// complete by then, and `output: false`: residual[l + 1] is not written
    /// again (the backward does not read the down projection's output).
    func forwardLayer(_ l: Int, _ w: LayerWeights, _ attention: Attention, rows n: Int, pendingAdd: Tensor?,
                      output: Bool = true, parallel: Parallel) {
        let c = config, a = activations(l), x = residual[l]
        RMSNorm.forward(a.ln1, a.rstd1, x, w.norm1, rows: n, eps: c.normEps, adding: pendingAdd, parallel: parallel)
        projectQKV(w, layer: l, q: a.qRaw ?? a.q, k: a.kRaw ?? a.k, v: a.v, x: a.ln1, rows: n, parallel: parallel)
        if let qn = w.qNorm, let kn = w.kNorm, let qRaw = a.qRaw, let kRaw = a.kRaw, let rq = a.rstdQ, let rk = a.rstdK {
            // Qwen3: RMSNorm over each head's vector, before RoPE.
            RMSNorm.forward(a.q, rq, qRaw, qn, rows: n * c.nHeads, eps: c.normEps, parallel: parallel)
            RMSNorm.forward(a.k, rk, kRaw, kn, rows: n * c.nKVHeads, eps: c.normEps, parallel: parallel)
        }
        rope.apply(a.q, heads: c.nHeads, and: a.k, heads: c.nKVHeads, rows: n, seqLen: attention.seqLen, inverse: false,
                   parallel: parallel)
        attention.forward(out: a.attOut, stats: a.stats, q: a.q, k: a.k, v: a.v, parallel: parallel)
        project(a.xMid, a.attOut, w.wo, layer: l, .o, rows: n, parallel: parallel)
        // xMid = o_proj(att) + x, then norm 2, in one pass
        RMSNorm.forward(a.ln2, a.rstd2, a.xMid, w.norm2, rows: n, eps: c.normEps, adding: x, parallel: parallel)
        project(a.gate, a.ln2, w.wg, layer: l, .gate, rows: n, parallel: parallel)
        project(a.up, a.ln2, w.wu, layer: l, .up, rows: n, parallel: parallel)
        SwiGLU.forward(a.hidden, gate: a.gate, up: a.up, count: n * c.dFF, parallel: parallel)
        if output { project(residual[l + 1], a.hidden, w.wd, layer: l, .down, rows: n, parallel: parallel) }
    }

    /// Adds the gradient of the last forward's value into `grads`, plus that
    /// of Σ dr·scores(row) for each (row, dr) in `scoreGradients`, added in
    /// the order given.
    public func backward(parallel: Parallel, scoreGradients: [(row: Int, gradient: Float)] = []) {
        let c = config
        let n = lastBatch * lastSeqLen, f = c.dFF
        precondition(n > 0, "backward before forward")

        // Head and final norm.
        let frozen = adapters != nil
        if addsGradients && addingScratch == nil { addingScratch = AddingScratch(model: self) }
        let adding = addsGradients ? addingScratch : nil
        if let adding {
            adding.embed.zero()
            adding.clearSlot(adding.tailRange.count)
        }
        if lastWithLogits, let dw = frozen ? headGrad : (adding?.head ?? gHead) {
            linearBackward(dx: dLn, accumulateDX: false, dw: dw, dy: lossGradient, x: lnFinal, w: head, rows: n, parallel: parallel)
        } else if lastWithLogits {
            // Frozen head: the gradient flows through it only.
            Matmul.product(dLn.pointer, lossGradient.pointer, head.pointer, m: n, n: c.dModel, k: c.vocabSize, parallel: parallel)
        } else {
            dLn.zero()
        }
        if !scoreGradients.isEmpty {
            guard let w = score, let gw = adding?.score ?? gScore else { preconditionFailure("score gradients need model.score_head") }
            let d = c.dModel
            for (row, dr) in scoreGradients {
                let h = lnFinal.pointer + row * d, dh = dLn.pointer + row * d
                for j in 0..<d {
                    gw.pointer[j] = gw.pointer[j].addingProduct(dr, h[j])
                    dh[j] = dh[j].addingProduct(dr, w.pointer[j])
                }
            }
        }
        dResidual.zero()
        RMSNorm.backward(dx: dResidual, dw: frozen ? finalNormGrad : (adding?.finalNorm ?? gFinalNorm), dy: dLn,
                         x: residual[c.nLayers], rstd: rstdFinal, w: finalNorm, rows: n, parallel: parallel)
        if let adding { adding.addSlot(into: grads, adding.tailRange, parallel: parallel) }

        let attention = Attention(batch: lastBatch, seqLen: lastSeqLen, heads: c.nHeads, kvHeads: c.nKVHeads, headDim: c.headDim,
                                  window: c.slidingWindow)
        let k = checkpointEvery
        for l in stride(from: c.nLayers - 1, through: 0, by: -1) {
            // Checkpointing: entering a segment from its top, recompute its layers
            // (the last segment's activations are still those of the forward).
            if k > 0 && (l + 1) % k == 0 && l + 1 < c.nLayers {
                for r in (l + 1 - k)...l {
                    forwardLayer(r, layerParams[r], attention, rows: n, pendingAdd: nil, output: false, parallel: parallel)
                }
            }
            // g: nil for a frozen base (no dW, no norm or bias gradients).
            let w = layerParams[l], g = frozen ? nil : (adding?.layers[l] ?? layerGrads?[l]), a = activations(l), x = residual[l]
            if let adding { adding.clearSlot(adding.layerRanges[l].count) }
            let saved = frozen && !savedGrads.isEmpty ? savedGrads[l] : nil   // LoRA's norms trained in full
            // out = xMid + down(hidden): dMid = dResidual (+ the norm-2 path below).
            dMid.copy(from: dResidual)
            projectBackward(dx: dHidden, accumulateDX: false, dw: g?.wd, dy: dResidual, x: a.hidden, w: w.wd,
                            layer: l, .down, rows: n, parallel: parallel)
            SwiGLU.backward(dgate: dGate, dup: dUp, dh: dHidden, gate: a.gate, up: a.up, count: n * f, parallel: parallel)
            projectBackward(dx: dLn, accumulateDX: false, dw: g?.wg, dy: dGate, x: a.ln2, w: w.wg, layer: l, .gate, rows: n, parallel: parallel)
            projectBackward(dx: dLn, accumulateDX: true, dw: g?.wu, dy: dUp, x: a.ln2, w: w.wu, layer: l, .up, rows: n, parallel: parallel)
            RMSNorm.backward(dx: dMid, dw: g?.norm2 ?? saved?.norm2, dy: dLn, x: a.xMid, rstd: a.rstd2, w: w.norm2, rows: n, parallel: parallel)
            // xMid = x + o_proj(attOut): dResidual = dMid (+ the norm-1 path below).
            dResidual.copy(from: dMid)
            projectBackward(dx: dAttOut, accumulateDX: false, dw: g?.wo, dy: dMid, x: a.attOut, w: w.wo, layer: l, .o, rows: n, parallel: parallel)
            attention.backward(dq: dq, dk: dk, dv: dv, dout: dAttOut, stats: a.stats,
                               q: a.q, k: a.k, v: a.v, parallel: parallel)
            rope.apply(dq, heads: c.nHeads, and: dk, heads: c.nKVHeads, rows: n, seqLen: lastSeqLen, inverse: true,
                       parallel: parallel)
            var dqProj = dq, dkProj = dk
            if let qn = w.qNorm, let kn = w.kNorm, let qRaw = a.qRaw, let kRaw = a.kRaw,
               let rq = a.rstdQ, let rk = a.rstdK, let dqRaw, let dkRaw {
                dqRaw.zero(); dkRaw.zero()
                RMSNorm.backward(dx: dqRaw, dw: g?.qNorm ?? saved?.qNorm, dy: dq, x: qRaw, rstd: rq, w: qn, rows: n * c.nHeads, parallel: parallel)
                RMSNorm.backward(dx: dkRaw, dw: g?.kNorm ?? saved?.kNorm, dy: dk, x: kRaw, rstd: rk, w: kn, rows: n * c.nKVHeads, parallel: parallel)
                dqProj = dqRaw; dkProj = dkRaw
            }
            if let gbq = g?.bq, let gbk = g?.bk, let gbv = g?.bv {
                biasBackward(gbq, dy: dqProj, rows: n, parallel: parallel)
                biasBackward(gbk, dy: dkProj, rows: n, parallel: parallel)
                biasBackward(gbv, dy: dv, rows: n, parallel: parallel)
            }
            projectBackward(dx: dLn, accumulateDX: false, dw: g?.wq, dy: dqProj, x: a.ln1, w: w.wq, layer: l, .q, rows: n, parallel: parallel)
            projectBackward(dx: dLn, accumulateDX: true, dw: g?.wk, dy: dkProj, x: a.ln1, w: w.wk, layer: l, .k, rows: n, parallel: parallel)
            projectBackward(dx: dLn, accumulateDX: true, dw: g?.wv, dy: dv, x: a.ln1, w: w.wv, layer: l, .v, rows: n, parallel: parallel)
            RMSNorm.backward(dx: dResidual, dw: g?.norm1 ?? saved?.norm1, dy: dLn, x: x, rstd: a.rstd1, w: w.norm1, rows: n, parallel: parallel)
            if let adding { adding.addSlot(into: grads, adding.layerRanges[l], parallel: parallel) }
        }
        if let g = frozen ? embedGrad : (adding?.embed ?? gEmbed) { Embedding.backward(g, dx: dResidual, tokens: lastTokens, parallel: parallel) }
        if let adding { addInPlace(grads, adding.embed, count: adding.embed.count, parallel: parallel) }
    }
}

/// Resident bytes of a model's buffers by what they hold (`simply bench`'s
/// memory breakdown). Each buffer is counted once, by the pages it has
/// touched (`Storage.residentBytes`).
public struct ModelMemory: Sendable {
    public var weights = 0, gradients = 0, activations = 0, scratch = 0
    public init() {}
}

extension Transformer {
    /// This model's buffers; `weights` only where it owns them (a second
    /// lane shares the first's parameters).
    public func memoryUse() -> ModelMemory {
        var m = ModelMemory()
        func bytes(_ ts: [Tensor?]) -> Int {
            var seen = Set<ObjectIdentifier>()
            return ts.compactMap { $0 }.reduce(0) { sum, t in
                seen.insert(ObjectIdentifier(t.storage)).inserted ? sum + t.storage.residentBytes : sum
            }
        }
        if lane == 0 { m.weights = bytes([params]) }
        m.gradients = bytes([grads, addingScratch?.buffer])
        var activationTensors: [Tensor?] = residual + [rstdFinal, lnFinal, logitsBuffer, dlogits, losses]
        for a in acts {
            activationTensors += [a.rstd1, a.ln1, a.q, a.k, a.v, a.stats, a.attOut, a.xMid, a.rstd2, a.ln2, a.gate, a.up,
                                  a.hidden, a.qRaw, a.kRaw, a.rstdQ, a.rstdK]
        }
        m.activations = bytes(activationTensors)
        m.scratch = bytes([dResidual, dMid, dLn, dq, dk, dv, dAttOut, dHidden, dGate, dUp, dqRaw, dkRaw])
        if let a = adapters {
            if !a.sharesParameters { m.weights += bytes([a.params]) }
            m.gradients += bytes([a.grads])
            m.activations += bytes([a.scratch, a.scaledXA, a.dropped] + a.adapters.flatMap { $0.values.map(\.xa) })
        }
        return m
    }
}

extension Transformer {
    /// q, k, v = x·Wᵀ (+ b with config.qkvBias) for `rows` rows of x.
    func projectQKV(_ w: LayerWeights, layer l: Int, q: Tensor, k: Tensor, v: Tensor, x: Tensor, rows n: Int, parallel: Parallel) {
        project(q, x, w.wq, layer: l, .q, rows: n, parallel: parallel)
        project(k, x, w.wk, layer: l, .k, rows: n, parallel: parallel)
        project(v, x, w.wv, layer: l, .v, rows: n, parallel: parallel)
        if let bq = w.bq, let bk = w.bk, let bv = w.bv {
            addBias(q, bq, rows: n, parallel: parallel)
            addBias(k, bk, rows: n, parallel: parallel)
            addBias(v, bv, rows: n, parallel: parallel)
        }
    }
}

/// y[n, j] += b[j] for every row n < rows.
func addBias(_ y: Tensor, _ b: Tensor, rows: Int, parallel: Parallel) {
    let width = b.count
    parallel.forEachRange(rows, grain: 16) { r in
        for n in r {
            let row = y.pointer + n * width
            for j in 0..<width { row[j] += b.pointer[j] }
        }
    }
}

/// db[j] += Σ_n dy[n, j], the rows summed in order (threads split columns).
func biasBackward(_ db: Tensor, dy: Tensor, rows: Int, parallel: Parallel) {
    let width = db.count
    parallel.forEachRange(width, grain: 64) { cols in
        for n in 0..<rows {
            let row = dy.pointer + n * width
            for j in cols { db.pointer[j] += row[j] }
        }
    }
}

/// y += x, elementwise.
func addInPlace(_ y: Tensor, _ x: Tensor, count: Int, parallel: Parallel) {
    parallel.forEachRange(count, grain: 8192) { r in
        for i in r { y.pointer[i] += x.pointer[i] }
    }
}
