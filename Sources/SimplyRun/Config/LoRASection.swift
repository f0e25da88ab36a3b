import Foundation
import SimplyCore
import SimplyModel

/// The `lora` section: low-rank adapters on a frozen base (Hu et al. 2021,
/// as PEFT defines them). Recorded only by runs that set one of its keys, so
/// every run without adapters keeps its config.json and config hash.
extension LoRAConfig: ConfigSettings {
    public static let section = "lora"
    public static let keys: [ConfigKey<LoRAConfig>] = [
        .int("lora.rank", \.rank, min: 0, max: 4096, "adapter rank r (0: no adapters, every parameter trains)"),
        .double("lora.alpha", \.alpha, range: 1e-6...1e6, "adapter scale numerator: the update is (alpha/r)·B·A"),
        .double("lora.dropout", \.dropout, range: 0...0.9, "dropout on each adapter's input while training (stream lora_dropout)"),
        ConfigKey(name: "lora.targets", accepts: "list of q, k, v, o, gate, up, down (or one comma-separated string)",
                  meaning: "the linear layers of every decoder layer that get an adapter",
                  get: { .array($0.targets.map { .string($0.rawValue) }) },
                  set: { c, v in
                      var names: [String] = []
                      if let s = v.stringValue {
                          names = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                      } else if case let .array(items) = v {
                          for item in items {
                              guard let s = item.stringValue else { throw ConfigError("lora.targets: expected names, got \(item.serialized())") }
                              names.append(s)
                          }
                      } else {
                          throw ConfigError("lora.targets: expected a list of names, got \(v.serialized().prefix(80))")
                      }
                      var set = Set<LoRATarget>()
                      for n in names {
                          // PEFT's module names are accepted too (q_proj, gate_proj, …).
                          guard let t = LoRATarget(rawValue: n) ?? LoRATarget(module: n) else {
                              throw ConfigError("lora.targets: \(n.prefix(40)) is not one of q, k, v, o, gate, up, down")
                          }
                          set.insert(t)
                      }
                      guard !set.isEmpty else { throw ConfigError("lora.targets: name at least one layer") }
                      // Kept in the model's order, whatever the order written.
                      c.targets = LoRATarget.allCases.filter(set.contains)
                  }),
        ConfigKey(name: "lora.modules_to_save", accepts: "list of norm, input_layernorm, post_attention_layernorm, q_norm, k_norm, embed_tokens, lm_head",
                  meaning: "base modules trained in full beside the adapters (PEFT's modules_to_save; a score head always is; embed_tokens also trains a tied LM head)",
                  get: { .array($0.modulesToSave.map { .string($0.rawValue) }) },
                  set: { c, v in
                      var names: [String] = []
                      if let s = v.stringValue {
                          names = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                      } else if case let .array(items) = v {
                          for item in items {
                              guard let s = item.stringValue else { throw ConfigError("lora.modules_to_save: expected names, got \(item.serialized().prefix(40))") }
                              names.append(s)
                          }
                      } else {
                          throw ConfigError("lora.modules_to_save: expected a list of names, got \(v.serialized().prefix(80))")
                      }
                      var set = Set<LoRASavedModule>()
                      for n in names where n != "score" {
                          guard let m = LoRASavedModule(rawValue: n) else {
                              throw ConfigError("lora.modules_to_save: \(n.prefix(40)) is not one of norm, input_layernorm, post_attention_layernorm, q_norm, k_norm, embed_tokens, lm_head")
                          }
                          set.insert(m)
                      }
                      c.modulesToSave = LoRASavedModule.allCases.filter(set.contains)
                  }),
    ]
    /// The section as the config resolver sees it.
    public static let configSection = ConfigSection(LoRAConfig.self)
}

extension ExperimentConfig {
    /// The run's adapters (rank 0: none).
    public func loraSettings() throws -> LoRAConfig { try settings(LoRAConfig.self) }
}
