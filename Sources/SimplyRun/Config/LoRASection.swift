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
        .names("lora.targets", \.targets, "the linear layers of every decoder layer that get an adapter",
               parse: { LoRATarget(rawValue: $0) ?? LoRATarget(module: $0) }, atLeastOne: true),   // PEFT's q_proj … too
        .names("lora.modules_to_save", \.modulesToSave,
               "base modules trained in full beside the adapters (PEFT's modules_to_save; a score head always is; embed_tokens also trains a tied LM head)",
               parse: { LoRASavedModule(rawValue: $0) }, ignoring: ["score"]),
    ]
    /// The section as the config resolver sees it.
    public static let configSection = ConfigSection(LoRAConfig.self)
}

extension ExperimentConfig {
    /// The run's adapters (rank 0: none).
    public func loraSettings() throws -> LoRAConfig { try settings(LoRAConfig.self) }
}

extension ConfigKey {
    /// A key holding a set of names from `T`'s cases: a JSON list or one
    /// comma-separated string, kept in the cases' order whatever the order
    /// written; names in `ignoring` are accepted and dropped.
    static func names<T: CaseIterable & Hashable & RawRepresentable>(
        _ name: String, _ kp: WritableKeyPath<Root, [T]> & Sendable, _ meaning: String,
        parse: @escaping @Sendable (String) -> T?, atLeastOne: Bool = false, ignoring: Set<String> = []
    ) -> ConfigKey where T.RawValue == String, T.AllCases: Sendable {
        let choices = T.allCases.map(\.rawValue).joined(separator: ", ")
        return ConfigKey(name: name, accepts: "list of \(choices) (or one comma-separated string)", meaning: meaning,
                         get: { .array($0[keyPath: kp].map { .string($0.rawValue) }) },
                         set: { c, v in
            var names: [String] = []
            if let s = v.stringValue {
                names = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            } else if case let .array(items) = v {
                for item in items {
                    guard let s = item.stringValue else { throw ConfigError("\(name): expected names, got \(brief(item.serialized()))") }
                    names.append(s)
                }
            } else {
                throw ConfigError("\(name): expected a list of names, got \(brief(v.serialized()))")
            }
            var set = Set<T>()
            for n in names where !ignoring.contains(n) {
                guard let t = parse(n) else { throw ConfigError("\(name): \(brief(n)) is not one of \(choices)") }
                set.insert(t)
            }
            if atLeastOne && set.isEmpty { throw ConfigError("\(name): name at least one") }
            c[keyPath: kp] = T.allCases.filter(set.contains)
        })
    }
}
