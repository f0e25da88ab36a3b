import SimplyModel
import SimplyCore

/// The settings an algorithm owns: one section of config.json ("dpo": {...}),
/// declared in the algorithm's file as a struct with defaults and a key table.
/// `ExperimentConfig` stores each section as the JSON its keys write, so the
/// loop and the config resolver never need to know the type.
public protocol ConfigSettings: Sendable {
    /// The defaults.
    init()
    /// The section's name, the first part of every key ("dpo").
    static var section: String { get }
    /// Every key, named "section.key", in the order `simply config keys` lists them.
    static var keys: [ConfigKey<Self>] { get }
}

/// A section with its type erased: what the config resolver checks a value
/// against and what `simply config keys` lists.
public struct ConfigSection: Sendable {
    public struct Key: Sendable {
        public let name: String
        public let accepts: String
        public let meaning: String
        public let defaultValue: JSONValue
        /// The value as the key writes it, or an error naming the key.
        let canonical: @Sendable (JSONValue) throws -> JSONValue
    }
    public let name: String
    public let keys: [Key]

    public init<S: ConfigSettings>(_ type: S.Type) {
        name = S.section
        keys = S.keys.map { k in
            Key(name: k.name, accepts: k.accepts, meaning: k.meaning, defaultValue: k.get(S()), canonical: { v in
                var s = S()
                try k.set(&s, v)
                return k.get(s)
            })
        }
    }

    /// The section's values at their defaults, by short name.
    var defaults: [String: JSONValue] {
        Dictionary(uniqueKeysWithValues: keys.map { (shortName($0.name), $0.defaultValue) })
    }
}

/// "dpo.beta" -> "beta".
func shortName(_ key: String) -> String {
    guard let dot = key.firstIndex(of: ".") else { return key }
    return String(key[key.index(after: dot)...])
}

/// What a config may hold beyond the base sections: the training modes and the
/// algorithms' sections a binary knows (the command line passes the whole list,
/// SimplyPosttraining's `algorithms`).
public struct ConfigSchema: Sendable {
    /// The values of train.training_mode.
    public let modes: [String]
    public let sections: [ConfigSection]
    /// Reading a run's config.json without the algorithm list: unknown
    /// sections and modes are kept as they are (the objective checks them).
    public let lenient: Bool
    /// The sections a new run records even when it does not use them: those
    /// every run's config.json has listed since before algorithms described
    /// themselves (so those files stay byte-identical). Any other section is
    /// recorded by the runs of its algorithm and by configs that set one of its keys.
    public let alwaysRecorded: Set<String>

    public init(modes: [String], sections: [ConfigSection], lenient: Bool = false, alwaysRecorded: Set<String> = []) {
        self.modes = modes; self.sections = sections; self.lenient = lenient; self.alwaysRecorded = alwaysRecorded
    }

    /// Pre-training only: what SimplyTrain knows by itself.
    public static let pretraining = ConfigSchema(modes: ["pretrain"], sections: [LoRAConfig.configSection])
    /// Any run's config.json, read back as it was written.
    public static let anyRun = ConfigSchema(modes: [], sections: [], lenient: true)

    func section(named name: String) -> ConfigSection? { sections.first { $0.name == name } }
}
