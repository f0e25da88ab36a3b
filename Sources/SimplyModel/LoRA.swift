import SimplyCore

/// Low-rank adapters (LoRA, Hu et al. 2021) as PEFT defines them: a target
/// linear layer y = x·Wᵀ becomes
///
///     y = x·Wᵀ + s · (x·Aᵀ)·Bᵀ,   s = alpha / rank,
///
/// with A [rank, in] and B [out, rank] trained and W frozen. PEFT's default
/// initialisation: A ~ kaiming-uniform(a = √5), i.e. U(−1/√in, 1/√in), B = 0,
/// so an attached adapter starts as the base model.
public struct LoRAConfig: Sendable, Equatable, Codable {
    /// 0: no adapters.
    public var rank = 0
    public var alpha = 16.0
    /// PEFT's lora_dropout: each adapter sees dropout(x), drawn from the
    /// named stream "lora_dropout" by (step, shard, forward, adapter, element).
    public var dropout = 0.0
    /// Which linear layers of each decoder layer carry an adapter.
    public var targets: [LoRATarget] = LoRATarget.allCases
    /// Base modules trained in full beside the adapters (PEFT's
    /// modules_to_save): RMSNorm weights. A score head always is.
    public var modulesToSave: [LoRASavedModule] = []

    public init() {}

    public init(rank: Int, alpha: Double = 16, dropout: Double = 0, targets: [LoRATarget] = LoRATarget.allCases,
                modulesToSave: [LoRASavedModule] = []) {
        self.rank = rank; self.alpha = alpha; self.dropout = dropout; self.targets = targets; self.modulesToSave = modulesToSave
    }

    public var scale: Float { Float(alpha / Double(max(1, rank))) }
}

/// The linear layers of a decoder layer, by PEFT's short module names.
public enum LoRATarget: String, CaseIterable, Sendable, Codable {
    case q, k, v, o, gate, up, down

    /// The Hugging Face module path inside `model.layers.N.`.
    public var module: String {
        switch self {
        case .q: return "self_attn.q_proj"
        case .k: return "self_attn.k_proj"
        case .v: return "self_attn.v_proj"
        case .o: return "self_attn.o_proj"
        case .gate: return "mlp.gate_proj"
        case .up: return "mlp.up_proj"
        case .down: return "mlp.down_proj"
        }
    }

    /// The target whose module is `name` ("q_proj", "gate_proj", …).
    public init?(module name: String) {
        guard let t = LoRATarget.allCases.first(where: { $0.module.hasSuffix("." + name) }) else { return nil }
        self = t
    }

    /// [out, in] of this target's weight.
    func shape(_ c: ModelConfig) -> (out: Int, inp: Int) {
        let d = c.dModel, qd = c.nHeads * c.headDim, kvd = c.nKVHeads * c.headDim, f = c.dFF
        switch self {
        case .q: return (qd, d)
        case .k, .v: return (kvd, d)
        case .o: return (d, qd)
        case .gate, .up: return (f, d)
        case .down: return (d, f)
        }
    }
}

/// Base modules a LoRA run may train in full, by PEFT's module names: the
/// final norm, each layer's two norms, Qwen3's q/k norms.
public enum LoRASavedModule: String, CaseIterable, Sendable, Codable {
    case norm, input_layernorm, post_attention_layernorm, q_norm, k_norm
    /// The token embeddings (and with tied embeddings the LM head, the same
    /// matrix): what a base needs to learn tokens it never saw (a chat
    /// template's markers, an end-of-sequence token).
    case embed_tokens
    /// An untied LM head.
    case lm_head

    /// The parameters it names in a model of config `c`, in layout order.
    func parameters(_ c: ModelConfig) -> [String] {
        switch self {
        case .norm: return ["model.norm.weight"]
        case .input_layernorm, .post_attention_layernorm:
            return (0..<c.nLayers).map { "model.layers.\($0).\(rawValue).weight" }
        case .q_norm, .k_norm:
            return c.qkNorm ? (0..<c.nLayers).map { "model.layers.\($0).self_attn.\(rawValue).weight" } : []
        case .embed_tokens: return ["model.embed_tokens.weight"]
        case .lm_head: return c.tieEmbeddings ? [] : ["lm_head.weight"]
        }
    }
}

/// Which forward a dropout mask belongs to: the training step, the gradient
/// shard and the forward's index within the shard (the Trainer sets it).
public struct LoRADropoutKey: Sendable, Equatable {
    public let seed: UInt64, step: Int, shard: Int
    public init(seed: UInt64, step: Int, shard: Int) { self.seed = seed; self.step = step; self.shard = shard }
}

/// The adapters of one model: one flat parameter buffer (A and B of every
/// target of every layer, in layer then target order, then the saved
/// modules — norms named in config.modulesToSave, then the score head when
/// the model has one — trained in full with them, as PEFT's modules_to_save),
/// its gradient buffer, and the activations the backward pass needs (x·Aᵀ per adapter).
public final class LoRAAdapters: @unchecked Sendable {
    public let config: LoRAConfig
    /// Names as PEFT saves them, without the `base_model.model.` prefix:
    /// `model.layers.N.self_attn.q_proj.lora_A.weight` [rank, in], `….lora_B.weight` [out, rank];
    /// then each saved module's own name (`model.norm.weight`, …), `score.weight` [1, d] last.
    public let entries: [ParameterEntry]
    public let params: Tensor
    public let grads: Tensor
    /// The score head's value and gradient (views of params and grads), nil without one.
    public let score, scoreGrad: Tensor?
    /// True for a second lane's adapters on another's parameters.
    public let sharesParameters: Bool

    struct Adapter {
        let a, b, gA, gB: Tensor
        let xa: Tensor          // x·Aᵀ of the last forward, [maxRows, rank]
        let index: Int          // layer · 7 + target: the dropout stream's adapter number
    }
    /// adapters[layer][target]
    let adapters: [[LoRATarget: Adapter]]
    let scratch: Tensor         // [maxRows, rank]: s·xa in the forward pass, s·dy·B in the backward pass
    let scaledXA: Tensor        // [maxRows, rank]: s·xa in the backward pass
    let dropped: Tensor?        // [maxRows, widest input]: dropout(x), with dropout > 0

    public convenience init(model c: ModelConfig, config: LoRAConfig, maxRows: Int) {
        precondition(config.rank >= 1, "LoRA needs rank >= 1")
        let r = config.rank
        var entries: [ParameterEntry] = []
        var offset = 0
        for l in 0..<c.nLayers {
            for t in LoRATarget.allCases where config.targets.contains(t) {
                let (out, inp) = t.shape(c), p = "model.layers.\(l).\(t.module)."
                entries.append(ParameterEntry(name: p + "lora_A.weight", shape: [r, inp], offset: offset, count: r * inp, decay: true))
                offset += r * inp
                entries.append(ParameterEntry(name: p + "lora_B.weight", shape: [out, r], offset: offset, count: out * r, decay: true))
                offset += out * r
            }
        }
        let layout = ParameterLayout(config: c)
        for name in LoRASavedModule.allCases.filter(config.modulesToSave.contains).flatMap({ $0.parameters(c) }) {
            guard let e = layout.entry(name) else { continue }
            entries.append(ParameterEntry(name: name, shape: e.shape, offset: offset, count: e.count, decay: e.decay))
            offset += e.count
        }
        if c.scoreHead {
            entries.append(ParameterEntry(name: "score.weight", shape: [1, c.dModel], offset: offset, count: c.dModel, decay: true))
            offset += c.dModel
        }
        self.init(model: c, config: config, entries: entries, params: Tensor(shape: [offset]), maxRows: maxRows, shared: false)
    }

    /// A second lane's adapters: `other`'s parameters (read only here), its own gradients and activations.
    public convenience init(sharingParametersOf other: LoRAAdapters) {
        self.init(model: other.model, config: other.config, entries: other.entries, params: other.params,
                  maxRows: other.scratch.shape[0], shared: true)
    }

    public let model: ModelConfig

    private init(model c: ModelConfig, config: LoRAConfig, entries: [ParameterEntry], params: Tensor, maxRows: Int, shared: Bool) {
        self.model = c
        self.config = config
        self.entries = entries
        self.params = params
        sharesParameters = shared
        let r = config.rank
        grads = Tensor(shape: [params.count])
        scratch = Tensor(shape: [maxRows, r])
        scaledXA = Tensor(shape: [maxRows, r])
        func view(_ flat: Tensor, _ e: ParameterEntry) -> Tensor {
            Tensor(storage: flat.storage, offset: flat.offset + e.offset, shape: e.shape)
        }
        if let e = entries.last, e.name == "score.weight" {
            score = view(params, e); scoreGrad = view(grads, e)
        } else {
            score = nil; scoreGrad = nil
        }
        let widest = config.targets.map { $0.shape(c).inp }.max() ?? 0
        dropped = config.dropout > 0 ? Tensor(shape: [maxRows, widest]) : nil
        var index = 0
        var layers: [[LoRATarget: Adapter]] = []
        let (params, grads) = (params, grads)
        for l in 0..<c.nLayers {
            var byTarget: [LoRATarget: Adapter] = [:]
            for (ti, t) in LoRATarget.allCases.enumerated() where config.targets.contains(t) {
                let ea = entries[index], eb = entries[index + 1]
                index += 2
                byTarget[t] = Adapter(a: view(params, ea), b: view(params, eb), gA: view(grads, ea), gB: view(grads, eb),
                                      xa: Tensor(shape: [maxRows, r]), index: l * LoRATarget.allCases.count + ti)
            }
            layers.append(byTarget)
        }
        adapters = layers
    }

    /// The saved modules' entries (trained in full, copied from the base): not lora_A / lora_B.
    public var savedEntries: [ParameterEntry] { entries.filter { !Self.isAdapter($0.name) } }

    static func isAdapter(_ name: String) -> Bool { name.hasSuffix(".lora_A.weight") || name.hasSuffix(".lora_B.weight") }

    /// The gradient view of parameter `name`.
    public func gradient(_ name: String) -> Tensor? {
        entry(name).map { Tensor(storage: grads.storage, offset: grads.offset + $0.offset, shape: $0.shape) }
    }

    /// PEFT's initialisation: A ~ U(−1/√in, 1/√in) from stream "lora" (draw
    /// (entry, i) is element i), B = 0. Saved modules are left as they are.
    public func initialize(seed: UInt64) {
        let stream = RandomStream(seed: seed, name: "lora")
        for (ei, e) in entries.enumerated() where Self.isAdapter(e.name) {
            let p = params.pointer + e.offset
            guard e.name.hasSuffix("lora_A.weight") else { p.update(repeating: 0, count: e.count); continue }
            let bound = 1 / Float(e.shape[1]).squareRoot()
            for i in 0..<e.count { p[i] = (2 * stream.uniform(UInt64(ei), UInt64(i)) - 1) * bound }
        }
    }

    public func entry(_ name: String) -> ParameterEntry? { entries.first { $0.name == name } }

    /// The view of parameter `name` in the flat buffer.
    public func parameter(_ name: String) -> Tensor? {
        entry(name).map { Tensor(storage: params.storage, offset: params.offset + $0.offset, shape: $0.shape) }
    }

    /// When false, the model computes its base alone (adapters switched off):
    /// DPO's, GRPO's and PPO's reference without a second model. Backward
    /// needs them on.
    public var enabled = true

    /// Set by the Trainer while a shard's gradient runs: forwards then apply
    /// dropout (when config.dropout > 0), each forward of the shard its own mask.
    public var dropoutKey: LoRADropoutKey? {
        didSet { forwardIndex = -1 }
    }
    /// The index within the shard of the last forward that drew a mask.
    var forwardIndex = -1
    var lastForwardDropped = false

    /// W + s·B·A for one target of one layer, as a new [out, in] tensor: the
    /// weights of a merged export (PEFT's `merge_and_unload`).
    public func merged(_ w: Tensor, layer: Int, _ target: LoRATarget) -> Tensor {
        let out = Tensor(shape: w.shape)
        out.copy(from: w)
        guard let ad = adapter(layer, target) else { return out }
        let r = config.rank, s = config.scale
        // out += (s·B)·A, B [o, r], A [r, in]
        let sb = Tensor(shape: ad.b.shape)
        for i in 0..<sb.count { sb.pointer[i] = s * ad.b.pointer[i] }
        Matmul.product(out.pointer, sb.pointer, ad.a.pointer, m: w.shape[0], n: w.shape[1], k: r, accumulate: true, parallel: .serial)
        return out
    }

    public func zeroGrads() { grads.zero() }

    func adapter(_ layer: Int, _ target: LoRATarget) -> Adapter? { adapters[layer][target] }

    /// dst = mask ⊙ src / (1−p) (or dst += that, with `add`) for adapter
    /// `ad`'s input in the current forward (rows n, width inp): the element
    /// is kept where its draw u ≥ p. One Philox block gives four draws;
    /// counter (step·2³² + shard·2¹⁶ + forward, adapter·2⁴⁰ + block).
    func applyDropout(_ src: Tensor, into dst: Tensor, add: Bool, _ ad: Adapter, rows n: Int, width inp: Int, parallel: Parallel) {
        guard let key = dropoutKey else { preconditionFailure("dropout outside a training forward") }
        let stream = RandomStream(seed: key.seed, name: "lora_dropout")
        let p = Float(config.dropout), keep = 1 / (1 - p)
        let i0 = UInt64(key.step) << 32 | UInt64(key.shard) << 16 | UInt64(forwardIndex)
        let total = n * inp, adapterBits = UInt64(ad.index) << 40
        parallel.forEachRange((total + 3) / 4, grain: 1024) { r in
            for b in r {
                let w = stream.words(i0, adapterBits | UInt64(b))
                for j in 0..<4 where 4 * b + j < total {
                    let word = j == 0 ? w.0 : j == 1 ? w.1 : j == 2 ? w.2 : w.3
                    let u = Float(word >> 8) * (1 / 16_777_216)
                    let i = 4 * b + j
                    let v = u < p ? 0 : src.pointer[i] * keep
                    if add { dst.pointer[i] += v } else { dst.pointer[i] = v }
                }
            }
        }
    }

    /// Called at the start of every full forward: the forward draws a new
    /// mask when dropout is on, the adapters enabled and a shard is training.
    func beginForward() {
        lastForwardDropped = enabled && config.dropout > 0 && dropoutKey != nil
        if lastForwardDropped { forwardIndex += 1 }
    }
}

extension Transformer {
    /// y = x·Wᵀ (+ s·(x·Aᵀ)·Bᵀ when layer `layer`'s `target` has an adapter).
    func project(_ y: Tensor, _ x: Tensor, _ w: Tensor, layer: Int, _ target: LoRATarget, rows n: Int, parallel: Parallel) {
        linearForward(y, x, w, rows: n, parallel: parallel)
        var input = x
        if let lora = adapters, lora.lastForwardDropped, let ad = lora.adapter(layer, target), let dropped = lora.dropped {
            lora.applyDropout(x, into: dropped, add: false, ad, rows: n, width: w.shape[1], parallel: parallel)
            input = dropped
        }
        addAdapter(y, input, w, layer: layer, target, rows: n, xa: adapters?.adapter(layer, target)?.xa,
                   scratch: adapters?.scratch, parallel: parallel)
    }

    /// y += s · (x·Aᵀ)·Bᵀ into y = x·Wᵀ, when the target has an adapter and
    /// adapters are enabled; xa receives x·Aᵀ, scratch s·xa (both [≥ n, rank]).
    /// The same products for any row count, so the cached path has the full
    /// forward's bits.
    func addAdapter(_ y: Tensor, _ x: Tensor, _ w: Tensor, layer: Int, _ target: LoRATarget, rows n: Int,
                    xa: Tensor?, scratch: Tensor?, parallel: Parallel) {
        guard let lora = adapters, lora.enabled, let ad = lora.adapter(layer, target), let xa, let scratch else { return }
        let r = lora.config.rank, out = w.shape[0], inp = w.shape[1]
        Matmul.product(xa.pointer, x.pointer, ad.a.pointer, m: n, n: r, k: inp, transB: true, parallel: parallel)
        let s = lora.config.scale
        for i in 0..<(n * r) { scratch.pointer[i] = s * xa.pointer[i] }
        Matmul.product(y.pointer, scratch.pointer, ad.b.pointer, m: n, n: out, k: r, transB: true, accumulate: true,
                       parallel: parallel)
    }

    /// The backward pass of `project`: dx (+)= dy·W (+ s·(dy·B)·A); dW += dyᵀ·x
    /// unless the base is frozen (adapters attached); dB += s·dyᵀ·xa, dA += (s·dy·B)ᵀ·x.
    func projectBackward(dx: Tensor, accumulateDX: Bool, dw: Tensor?, dy: Tensor, x: Tensor, w: Tensor,
                         layer: Int, _ target: LoRATarget, rows n: Int, parallel: Parallel) {
        guard let lora = adapters else {
            guard let dw else { preconditionFailure("a trained layer without its gradient") }
            linearBackward(dx: dx, accumulateDX: accumulateDX, dw: dw, dy: dy, x: x, w: w, rows: n, parallel: parallel)
            return
        }
        precondition(lora.enabled, "backward with the adapters switched off")
        let out = w.shape[0], inp = w.shape[1]
        Matmul.product(dx.pointer, dy.pointer, w.pointer, m: n, n: inp, k: out, accumulate: accumulateDX, parallel: parallel)
        guard let ad = lora.adapter(layer, target) else { return }
        let r = lora.config.rank, s = lora.config.scale, t = lora.scratch
        // t = s · dy·B [n, r]
        Matmul.product(t.pointer, dy.pointer, ad.b.pointer, m: n, n: r, k: out, parallel: parallel)
        for i in 0..<(n * r) { t.pointer[i] *= s }
        // dB[out, r] += s · dyᵀ·xa  =  dyᵀ·(s·xa)
        let sxa = lora.scaledXA
        for i in 0..<(n * r) { sxa.pointer[i] = s * ad.xa.pointer[i] }
        Matmul.product(ad.gB.pointer, dy.pointer, sxa.pointer, m: out, n: r, k: n, transA: true, accumulate: true, parallel: parallel)
        guard lora.lastForwardDropped, let dropped = lora.dropped else {
            // dA[r, in] += tᵀ·x ;  dx += t·A
            Matmul.product(ad.gA.pointer, t.pointer, x.pointer, m: r, n: inp, k: n, transA: true, accumulate: true, parallel: parallel)
            Matmul.product(dx.pointer, t.pointer, ad.a.pointer, m: n, n: inp, k: r, accumulate: true, parallel: parallel)
            return
        }
        // With dropout x' = mask ⊙ x/(1−p) (the forward's mask, drawn again):
        // dA += tᵀ·x' ;  dx += mask ⊙ (t·A)/(1−p)
        lora.applyDropout(x, into: dropped, add: false, ad, rows: n, width: inp, parallel: parallel)
        Matmul.product(ad.gA.pointer, t.pointer, dropped.pointer, m: r, n: inp, k: n, transA: true, accumulate: true, parallel: parallel)
        Matmul.product(dropped.pointer, t.pointer, ad.a.pointer, m: n, n: inp, k: r, parallel: parallel)
        lora.applyDropout(dropped, into: dx, add: true, ad, rows: n, width: inp, parallel: parallel)
    }
}
