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
    /// Which linear layers of each decoder layer carry an adapter.
    public var targets: [LoRATarget] = LoRATarget.allCases

    public init(rank: Int = 0, alpha: Double = 16, targets: [LoRATarget] = LoRATarget.allCases) {
        self.rank = rank; self.alpha = alpha; self.targets = targets
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
}

/// The adapters of one model: one flat parameter buffer (A and B of every
/// target of every layer, in layer then target order), its gradient buffer,
/// and the activations the backward pass needs (x·Aᵀ per adapter).
public final class LoRAAdapters: @unchecked Sendable {
    public let config: LoRAConfig
    /// Names as PEFT saves them, without the `base_model.model.` prefix:
    /// `model.layers.N.self_attn.q_proj.lora_A.weight` [rank, in], `….lora_B.weight` [out, rank].
    public let entries: [ParameterEntry]
    public let params: Tensor
    public let grads: Tensor

    struct Adapter {
        let a, b, gA, gB: Tensor
        let xa: Tensor          // x·Aᵀ of the last forward, [maxRows, rank]
    }
    /// adapters[layer][target]
    let adapters: [[LoRATarget: Adapter]]
    let scratch: Tensor         // [maxRows, rank]: s·xa in the forward pass, s·dy·B in the backward pass
    let scaledXA: Tensor        // [maxRows, rank]: s·xa in the backward pass

    public init(model c: ModelConfig, config: LoRAConfig, maxRows: Int) {
        precondition(config.rank >= 1, "LoRA needs rank >= 1")
        self.config = config
        let r = config.rank, d = c.dModel, qd = c.nHeads * c.headDim, kvd = c.nKVHeads * c.headDim, f = c.dFF
        func shape(_ t: LoRATarget) -> (out: Int, inp: Int) {
            switch t {
            case .q: return (qd, d)
            case .k, .v: return (kvd, d)
            case .o: return (d, qd)
            case .gate, .up: return (f, d)
            case .down: return (d, f)
            }
        }
        var entries: [ParameterEntry] = []
        var offset = 0
        for l in 0..<c.nLayers {
            for t in LoRATarget.allCases where config.targets.contains(t) {
                let (out, inp) = shape(t), p = "model.layers.\(l).\(t.module)."
                entries.append(ParameterEntry(name: p + "lora_A.weight", shape: [r, inp], offset: offset, count: r * inp, decay: true))
                offset += r * inp
                entries.append(ParameterEntry(name: p + "lora_B.weight", shape: [out, r], offset: offset, count: out * r, decay: true))
                offset += out * r
            }
        }
        self.entries = entries
        params = Tensor(shape: [offset])
        grads = Tensor(shape: [offset])
        scratch = Tensor(shape: [maxRows, r])
        scaledXA = Tensor(shape: [maxRows, r])
        var index = 0
        var layers: [[LoRATarget: Adapter]] = []
        let (params, grads) = (params, grads)
        for _ in 0..<c.nLayers {
            var byTarget: [LoRATarget: Adapter] = [:]
            for t in LoRATarget.allCases where config.targets.contains(t) {
                let ea = entries[index], eb = entries[index + 1]
                index += 2
                func view(_ flat: Tensor, _ e: ParameterEntry) -> Tensor {
                    Tensor(storage: flat.storage, offset: flat.offset + e.offset, shape: e.shape)
                }
                byTarget[t] = Adapter(a: view(params, ea), b: view(params, eb), gA: view(grads, ea), gB: view(grads, eb),
                                      xa: Tensor(shape: [maxRows, r]))
            }
            layers.append(byTarget)
        }
        adapters = layers
    }

    /// PEFT's initialisation: A ~ U(−1/√in, 1/√in) from stream "lora" (draw
    /// (entry, i) is element i), B = 0.
    public func initialize(seed: UInt64) {
        let stream = RandomStream(seed: seed, name: "lora")
        for (ei, e) in entries.enumerated() {
            let p = params.pointer + e.offset
            guard e.name.hasSuffix("lora_A.weight") else { p.update(repeating: 0, count: e.count); continue }
            let bound = 1 / Float(e.shape[1]).squareRoot()
            for i in 0..<e.count { p[i] = (2 * stream.uniform(UInt64(ei), UInt64(i)) - 1) * bound }
        }
    }

    public func entry(_ name: String) -> ParameterEntry? { entries.first { $0.name == name } }

    /// When false, the model computes its base alone (adapters switched off):
    /// DPO's, GRPO's and PPO's reference without a second model. Backward
    /// needs them on.
    public var enabled = true

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
}

extension Transformer {
    /// y = x·Wᵀ (+ s·(x·Aᵀ)·Bᵀ when layer `layer`'s `target` has an adapter).
    func project(_ y: Tensor, _ x: Tensor, _ w: Tensor, layer: Int, _ target: LoRATarget, rows n: Int, parallel: Parallel) {
        linearForward(y, x, w, rows: n, parallel: parallel)
        addAdapter(y, x, w, layer: layer, target, rows: n, xa: adapters?.adapter(layer, target)?.xa,
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
    func projectBackward(dx: Tensor, accumulateDX: Bool, dw: Tensor, dy: Tensor, x: Tensor, w: Tensor,
                         layer: Int, _ target: LoRATarget, rows n: Int, parallel: Parallel) {
        guard let lora = adapters else {
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
        // dA[r, in] += tᵀ·x ;  dx += t·A
        Matmul.product(ad.gA.pointer, t.pointer, x.pointer, m: r, n: inp, k: n, transA: true, accumulate: true, parallel: parallel)
        Matmul.product(dx.pointer, t.pointer, ad.a.pointer, m: n, n: inp, k: r, accumulate: true, parallel: parallel)
    }
}
