/// One named parameter tensor inside the flat parameter buffer.
public struct ParameterEntry: Sendable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public let count: Int
    /// AdamW weight decay applies (matrices yes, norm weights no; nanoGPT's rule).
    public let decay: Bool
}

/// Every parameter's name, shape and place in one flat buffer. Names and
/// shapes are Hugging Face Llama's; the order here fixes hashing and
/// checkpoints.
public struct ParameterLayout: Sendable {
    public let entries: [ParameterEntry]
    public let count: Int

    public init(config c: ModelConfig) {
        var entries: [ParameterEntry] = []
        var offset = 0
        func add(_ name: String, _ shape: [Int]) {
            let n = shape.reduce(1, *)
            entries.append(ParameterEntry(name: name, shape: shape, offset: offset, count: n, decay: shape.count >= 2))
            offset += n
        }
        let d = c.dModel, hd = c.headDim
        add("model.embed_tokens.weight", [c.vocabSize, d])
        for l in 0..<c.nLayers {
            let p = "model.layers.\(l)."
            add(p + "input_layernorm.weight", [d])
            add(p + "self_attn.q_proj.weight", [c.nHeads * hd, d])
            if c.qkvBias { add(p + "self_attn.q_proj.bias", [c.nHeads * hd]) }
            add(p + "self_attn.k_proj.weight", [c.nKVHeads * hd, d])
            if c.qkvBias { add(p + "self_attn.k_proj.bias", [c.nKVHeads * hd]) }
            add(p + "self_attn.v_proj.weight", [c.nKVHeads * hd, d])
            if c.qkvBias { add(p + "self_attn.v_proj.bias", [c.nKVHeads * hd]) }
            if c.qkNorm {
                add(p + "self_attn.q_norm.weight", [hd])
                add(p + "self_attn.k_norm.weight", [hd])
            }
            add(p + "self_attn.o_proj.weight", [d, c.nHeads * hd])
            add(p + "post_attention_layernorm.weight", [d])
            add(p + "mlp.gate_proj.weight", [c.dFF, d])
            add(p + "mlp.up_proj.weight", [c.dFF, d])
            add(p + "mlp.down_proj.weight", [d, c.dFF])
        }
        add("model.norm.weight", [d])
        if !c.tieEmbeddings { add("lm_head.weight", [c.vocabSize, d]) }
        if c.scoreHead { add("score.weight", [1, d]) }
        self.entries = entries
        self.count = offset
    }

    public func entry(_ name: String) -> ParameterEntry? { entries.first { $0.name == name } }
}
