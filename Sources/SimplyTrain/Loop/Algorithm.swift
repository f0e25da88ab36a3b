import SimplyModel
import SimplyRun

/// A training algorithm as the rest of Simply sees it: its name (the value of
/// train.training_mode), its config section, what it needs of the model, and
/// how to make its objective. Each algorithm's file declares one; the list of
/// them (SimplyPosttraining's `algorithms`) is all that the loop, the config
/// resolver, `simply train --help`, `simply bench` and the docs' table read.
public struct Algorithm: Sendable {
    /// What an algorithm needs besides the policy.
    public struct Needs: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// A scalar head on the last hidden state (a reward, a value): set model.score_head.
        public static let scoreHead = Needs(rawValue: 1)
        /// A frozen copy of the starting weights.
        public static let reference = Needs(rawValue: 2)
        /// A teacher run's checkpoint.
        public static let teacher = Needs(rawValue: 4)
        /// Completions sampled from the policy during training.
        public static let rollouts = Needs(rawValue: 8)
        /// Prompt + chosen + rejected examples.
        public static let preferencePairs = Needs(rawValue: 16)

        public var names: [String] {
            [(Needs.scoreHead, "score head"), (.reference, "reference"), (.teacher, "teacher"), (.rollouts, "rollouts"),
             (.preferencePairs, "preference pairs")].filter { contains($0.0) }.map(\.1)
        }
    }

    public let name: String
    /// One line: what it trains and from what data.
    public let summary: String
    /// Its config section, nil when it has no settings of its own.
    public let section: ConfigSection?
    public let needs: Needs
    public let makeObjective: @Sendable (ObjectiveContext) throws -> any TrainingObjective
    /// Its section is in every run's config.json, used or not: true only for
    /// the five whose sections every run has recorded since before this list
    /// existed (those files stay byte-identical). A new algorithm leaves it
    /// false: its section appears in its own runs.
    public let alwaysRecorded: Bool

    public init(name: String, summary: String, section: ConfigSection?, needs: Needs = [], alwaysRecorded: Bool = false,
                makeObjective: @escaping @Sendable (ObjectiveContext) throws -> any TrainingObjective) {
        self.name = name; self.summary = summary; self.section = section; self.needs = needs
        self.alwaysRecorded = alwaysRecorded; self.makeObjective = makeObjective
    }

    /// Pre-training: next-token cross-entropy on token windows (PretrainObjective).
    public static let pretrain = Algorithm(name: "pretrain", summary: "next-token prediction on a token corpus",
                                           section: nil, makeObjective: pretrainingObjectiveFactory)
}

/// The algorithms a binary knows, in the order they are listed.
public struct AlgorithmList: Sendable {
    public let all: [Algorithm]

    public init(_ all: [Algorithm]) {
        precondition(Set(all.map(\.name)).count == all.count, "two algorithms share a name")
        self.all = all
    }

    /// What SimplyTrain knows by itself: pre-training.
    public static let pretraining = AlgorithmList([.pretrain])

    public var names: [String] { all.map(\.name) }

    public func named(_ name: String) -> Algorithm? { all.first { $0.name == name } }

    /// The modes and sections a config may hold: the algorithms' and `lora`
    /// (adapters work with every algorithm).
    public var schema: ConfigSchema {
        ConfigSchema(modes: names, sections: all.compactMap(\.section) + [LoRAConfig.configSection],
                     alwaysRecorded: Set(all.filter(\.alwaysRecorded).compactMap { $0.section?.name }))
    }

    /// Builds the objective of `context.config.train.mode`.
    public func makeObjective(_ context: ObjectiveContext) throws -> any TrainingObjective {
        let mode = context.config.train.mode
        guard let a = named(mode) else {
            throw ConfigError("train.training_mode \(mode) is not available (have: \(names.joined(separator: ", ")))")
        }
        return try a.makeObjective(context)
    }

    /// The list as a Markdown table (`simply config algorithms`; README.md holds it, a test compares).
    public var markdownTable: String {
        var lines = ["| training_mode | trains | needs | settings |", "| --- | --- | --- | --- |"]
        for a in all {
            let needs = a.needs.names.isEmpty ? "—" : a.needs.names.joined(separator: ", ")
            let section = a.section.map { "`\($0.name).*` (\($0.keys.count) key\($0.keys.count == 1 ? "" : "s"))" } ?? "—"
            lines.append("| `\(a.name)` | \(a.summary) | \(needs) | \(section) |")
        }
        return lines.joined(separator: "\n")
    }

    /// What a config must say for its algorithm to run: its section (recorded
    /// at its defaults if absent), and a score head when it needs one.
    public func prepare(_ config: inout ExperimentConfig) {
        guard let a = named(config.train.mode) else { return }
        if let s = a.section { config.record(s) }
        if a.needs.contains(.scoreHead) { config.model.scoreHead = true }
    }
}
