import SimplyCore
import SimplyExport
import SimplyModel
import SimplyRun

/// What a LoRA adapter brings from outside: PEFT's adapter_config.json
/// (`PEFTAdapter.parseConfig`, for a small model with q/k norms and a score
/// head) and a LoRA checkpoint's `extra.lora` (`LoRABase`). A parsed config
/// must make adapters within its bounds and write back to the same settings.
enum LoRAFuzzTarget {
    static let target = FuzzTarget(name: "lora", summary: "PEFTAdapter.parseConfig (adapter_config.json) and LoRABase (manifest extra.lora)",
                                   run: run, seeds: seeds)

    static let model: ModelConfig = {
        var c = ModelConfig(vocabSize: 32, dModel: 16, nLayers: 2, nHeads: 2, nKVHeads: 1, dFF: 24, seqLen: 8)
        c.qkNorm = true
        c.scoreHead = true
        return c
    }()

    @Sendable static func run(_ bytes: [UInt8]) {
        if let config = try? PEFTAdapter.parseConfig(bytes, file: "adapter_config.json", model: model) {
            invariant(config.rank >= 1 && config.rank <= model.dModel && !config.targets.isEmpty, "a parsed config out of bounds")
            let adapters = LoRAAdapters(model: model, config: config, maxRows: 1)
            let written = PEFTAdapter.files(adapters, base: "base")[0].bytes
            invariant((try? PEFTAdapter.parseConfig(written, file: "rewritten", model: model)) == config, "a parsed config does not write back")
        }
        guard let text = String(validating: bytes, as: UTF8.self), let json = try? JSONValue.parse(text) else { return }
        if let base = try? LoRABase(extra: .object([("lora", json)]), file: "manifest.json") {
            invariant((try? LoRABase(extra: .object([("lora", base.json)]), file: "rewritten")) == base, "extra.lora does not write back")
        }
    }

    @Sendable static func seeds() -> [[UInt8]] {
        let full = LoRAAdapters(model: model, config: LoRAConfig(rank: 4, alpha: 8, dropout: 0.05, modulesToSave: [.norm, .q_norm]), maxRows: 1)
        let small = LoRAAdapters(model: model, config: LoRAConfig(rank: 1, alpha: 1, targets: [.q, .v]), maxRows: 1)
        let base = LoRABase(config: full.config, checkpoint: "runs/base/checkpoints/step-00000000", stateSHA256: String(repeating: "a", count: 64),
                            sha256: String(repeating: "b", count: 64))
        return [PEFTAdapter.files(full, base: "base")[0].bytes, PEFTAdapter.files(small, base: "")[0].bytes,
                Array(base.json.pretty().utf8)]
    }
}
