import Foundation
import SimplyCore
import SimplyModel

/// LoRA adapters as a PEFT adapter directory, the format `peft`'s
/// `PeftModel.from_pretrained(base, DIR)` loads and `save_pretrained` writes:
///
///     adapter_config.json          peft_type LORA, r, lora_alpha, target_modules, task_type CAUSAL_LM, …
///     adapter_model.safetensors    base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight [r, in], ….lora_B.weight [out, r]
///
/// Reading takes such a directory back (any float dtype, widened to
/// float32); every error names the file and the key.
public enum PEFTAdapter {
    public static let configFile = "adapter_config.json"
    public static let weightsFile = "adapter_model.safetensors"
    static let prefix = "base_model.model."

    static let moduleNames: [(LoRATarget, String)] = [(.q, "q_proj"), (.k, "k_proj"), (.v, "v_proj"), (.o, "o_proj"),
                                                       (.gate, "gate_proj"), (.up, "up_proj"), (.down, "down_proj")]

    /// The two files for `lora`; `base` is recorded as base_model_name_or_path.
    public static func files(_ lora: LoRAAdapters, base: String) -> [(name: String, bytes: [UInt8])] {
        let targets = moduleNames.filter { lora.config.targets.contains($0.0) }.map { JSONValue.string($0.1) }
        let config: JSONValue = .object([
            ("peft_type", .string("LORA")),
            ("task_type", .string("CAUSAL_LM")),
            ("base_model_name_or_path", .string(base)),
            ("r", .int(lora.config.rank)),
            ("lora_alpha", .double(lora.config.alpha)),
            ("lora_dropout", .double(0)),
            ("target_modules", .array(targets)),
            ("bias", .string("none")),
            ("fan_in_fan_out", .bool(false)),
            ("init_lora_weights", .bool(true)),
            ("inference_mode", .bool(true)),
            ("use_rslora", .bool(false)),
            ("use_dora", .bool(false)),
        ])
        let tensors = lora.entries.map { e in
            (name: prefix + e.name, tensor: Tensor(storage: lora.params.storage, offset: lora.params.offset + e.offset, shape: e.shape))
        }
        return [(configFile, Array((config.pretty() + "\n").utf8)),
                (weightsFile, SafetensorsWriter.encode(tensors: tensors, metadata: ["format": "pt"]))]
    }

    /// The adapter directory `dir` for a model of config `model`, as adapters for `maxRows` rows.
    public static func read(_ dir: URL, model: ModelConfig, maxRows: Int) throws -> LoRAAdapters {
        let configURL = dir.appendingPathComponent(configFile)
        let bytes: [UInt8]
        do { bytes = try FileBytes.read(configURL, limit: 1 << 20) } catch { throw HFError(error.description) }
        let json: JSONValue
        do { json = try JSONValue.parse(String(decoding: bytes, as: UTF8.self)) } catch {
            throw HFError("\(configURL.path): invalid JSON: \(error)")
        }
        func bad(_ key: String, _ why: String) -> HFError { HFError("\(configURL.path): \(key): \(why)") }
        guard json["peft_type"]?.stringValue == "LORA" else { throw bad("peft_type", "only LORA adapters are read") }
        for (key, ok) in [("use_dora", false), ("use_rslora", false), ("fan_in_fan_out", false)] {
            if let v = json[key], v != .null, v.boolValue != ok { throw bad(key, "\(v.brief()) is not supported") }
        }
        if let b = json["bias"], b != .null, b != .string("none") { throw bad("bias", "\(b.brief()) is not supported (only none)") }
        // Every size is bounded before the adapters are allocated: a rank above the model's width adds nothing.
        guard let r = json["r"]?.intValue, r >= 1, r <= model.dModel else { throw bad("r", "expected an integer in 1...\(model.dModel) (the model's width)") }
        guard let alpha = json["lora_alpha"]?.doubleValue, alpha.isFinite, alpha > 0 else { throw bad("lora_alpha", "expected a positive number") }
        guard case let .array(items)? = json["target_modules"] else { throw bad("target_modules", "expected a list of module names") }
        var targets: [LoRATarget] = []
        for item in items {
            guard let name = item.stringValue, let t = moduleNames.first(where: { $0.1 == name })?.0 else {
                throw bad("target_modules", "\(item.brief()) is not one of " + moduleNames.map(\.1).joined(separator: ", "))
            }
            targets.append(t)
        }
        // Simply's order (q k v o gate up down), whatever order the file lists them in.
        let ordered = LoRATarget.allCases.filter { targets.contains($0) }
        let lora = LoRAAdapters(model: model, config: LoRAConfig(rank: r, alpha: alpha, targets: ordered), maxRows: maxRows)
        let weightsURL = dir.appendingPathComponent(weightsFile)
        let file = try SafetensorsFile.read(weightsURL)
        let known = Set(lora.entries.map { prefix + $0.name })
        for name in file.names where !known.contains(name) {
            throw HFError("\(weightsURL.path): tensor '\(name)' is not an adapter of this model and config")
        }
        for e in lora.entries {
            let name = prefix + e.name
            guard let entry = file.entries[name] else { throw HFError("\(weightsURL.path): tensor '\(name)' is missing") }
            guard entry.shape == e.shape else {
                throw HFError("\(weightsURL.path): tensor '\(name)' has shape \(entry.shape), the model implies \(e.shape)")
            }
            Tensor(storage: lora.params.storage, offset: lora.params.offset + e.offset, shape: e.shape).copy(from: try file.tensor(name))
        }
        return lora
    }
}
