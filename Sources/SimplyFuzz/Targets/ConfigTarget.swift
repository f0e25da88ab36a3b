import SimplyCore
import SimplyExport
import SimplyModel
import SimplyRun

/// Configs from files: an experiment config applied and validated (as
/// `simply train --experiment_config` does), the same bytes as a Hugging Face
/// config.json (as `simply import` reads it), and each "key=value" line as a
/// `--set` override.
enum ConfigTarget {
    static let target = FuzzTarget(name: "config", summary: "ExperimentConfig apply + validate, HFConfig.parse, --set lines",
                                   run: run, seeds: seeds)

    @Sendable static func run(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        if let json = try? JSONValue.parse(text) {
            var c = ExperimentConfig.defaults
            if (try? c.apply(json, source: "experiment.json")) != nil, (try? c.validate()) != nil {
                _ = c.json().serialized()
                _ = c.identitySHA256
            }
            for seqLen in [nil, 2048] as [Int?] {
                if let (model, _) = try? HFConfig.parse(json, file: "config.json", seqLen: seqLen) {
                    invariant(HFConfig.parameterCount(model) != nil, "HFConfig.parse accepted a model whose parameter count overflows")
                    _ = (try? HFConfig.json(model, tokens: HFTokenIds(bos: 0, eos: 1, pad: 2)))?.serialized()
                }
            }
        }
        var c = ExperimentConfig.defaults
        for line in text.split(separator: "\n").prefix(64) {
            guard let eq = line.firstIndex(of: "=") else { continue }
            _ = try? c.set(String(line[..<eq]), text: String(line[line.index(after: eq)...]))
        }
        _ = try? c.validate()
    }

    @Sendable static func seeds() -> [[UInt8]] {
        var model = ModelConfig(vocabSize: 512, dModel: 64, nLayers: 2, nHeads: 4, nKVHeads: 2, dFF: 172, seqLen: 128)
        let hf = (try? HFConfig.json(model, tokens: HFTokenIds(bos: 256, eos: 257, pad: 258))) ?? .null
        model.scoreHead = true
        let reward = (try? HFConfig.json(model, tokens: HFTokenIds(bos: 256, eos: 257, pad: 258))) ?? .null
        let experiment = ExperimentConfig.defaults.json()
        let nested = #"{"model": {"d_model": 128, "n_layers": 4, "n_heads": 4, "vocab_size": 300}, "train": {"lr": 0.003, "batch_size": 16, "grad_shards": 4}}"#
        let dotted = #"{"model.seq_len": 256, "train.training_mode": "sft", "data.dataset": "data/x.bin", "grpo.num_generations": 4}"#
        let overrides = "model.d_model=256\ntrain.steps=1000\ntrain.seed=18446744073709551615\nmodel.rope_theta=500000\n"
        return [Array(hf.pretty().utf8), Array(reward.serialized().utf8), Array(experiment.pretty().utf8),
                Array(nested.utf8), Array(dotted.utf8), Array(overrides.utf8)]
    }
}
