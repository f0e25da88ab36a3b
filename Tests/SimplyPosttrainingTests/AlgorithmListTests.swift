import Foundation
import Testing
import SimplyCore
import SimplyRun
import SimplyTrain
import SimplyPosttraining

/// The algorithm list is the one place algorithms are named: the config
/// resolver, `simply config keys` and README's table read it.
@Suite struct AlgorithmListTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func readmeTableIsTheList() throws {
        let readme = try String(contentsOf: Self.repo.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains(algorithms.markdownTable + "\n"), "README.md's training-mode table differs from `simply config algorithms`")
    }

    @Test func everySectionKeyIsNamedDocumentedAndCanonical() throws {
        let schema = algorithms.schema
        #expect(schema.modes == algorithms.names)
        for section in schema.sections {
            #expect(!section.keys.isEmpty)
            for k in section.keys {
                #expect(k.name.hasPrefix(section.name + "."), "\(k.name) is outside its section \(section.name)")
                #expect(!k.meaning.isEmpty && !k.accepts.isEmpty, "\(k.name) needs a meaning and accepted values")
                // The default, set back, is what the key writes (and records the section).
                var c = ExperimentConfig.defaults(schema), d = c
                try c.set(k.name, k.defaultValue)
                d.record(section)
                let same = c == d
                #expect(same, "\(k.name)")
            }
        }
        // Every key name is unique across the base and the sections.
        let names = ExperimentConfig.keyNames(schema)
        #expect(Set(names).count == names.count)
    }

    /// The five sections every run has recorded stay in every new run's
    /// config.json (so a command run today writes the bytes it wrote before
    /// ORPO and SimPO existed); a later algorithm's section is recorded by its own runs.
    @Test func onlyTheLegacySectionsAreRecordedByEveryRun() {
        let schema = algorithms.schema
        #expect(schema.alwaysRecorded == ["reward", "dpo", "distill", "grpo", "ppo"])
        var c = ExperimentConfig.defaults(schema)
        #expect(Set(c.sections.keys) == schema.alwaysRecorded)
        c.train.mode = "orpo"
        algorithms.prepare(&c)
        #expect(Set(c.sections.keys) == schema.alwaysRecorded.union(["orpo"]))
    }

    @Test func sectionsRoundTripThroughConfigJSON() throws {
        var c = ExperimentConfig.defaults(algorithms.schema)
        try c.set("grpo.num_iterations", text: "3")
        try c.set("dpo.loss_type", text: "ipo")
        #expect(c.grpo.numIterations == 3 && c.dpo.lossType == "ipo")
        #expect(throws: ConfigError.self) { try c.set("grpo.num_iterations", text: "0") }
        do { try c.set("dpo.betta", text: "1"); Issue.record("accepted a misspelt key") } catch {
            #expect("\(error)".contains("did you mean 'dpo.beta'"), "\(error)")
        }
        // Written and read back (with the list, and without it as any run is read), the bits-deciding hash is the same.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("algo-list-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("config.json")
        try Data(c.json().pretty().utf8).write(to: file)
        let strict = try ExperimentConfig.fromRunConfig(file, schema: algorithms.schema)
        let any = try ExperimentConfig.fromRunConfig(file)
        #expect(strict == c && strict.identitySHA256 == c.identitySHA256 && any.identitySHA256 == c.identitySHA256)
        #expect(any.grpo.numIterations == 3)
        // A section the binary does not know is refused by name when the list is given.
        try Data(#"{"train": {"training_mode": "sft"}, "nope": {"x": 1}}"#.utf8).write(to: file)
        #expect(throws: ConfigError.self) { _ = try ExperimentConfig.fromRunConfig(file, schema: algorithms.schema) }
        // A run made before a section existed keeps only its own sections (its config.json bytes do not change).
        try Data(#"{"train": {"training_mode": "sft"}}"#.utf8).write(to: file)
        let old = try ExperimentConfig.fromRunConfig(file, schema: algorithms.schema)
        #expect(old.sections.isEmpty)
    }
}
