import Foundation
import Testing
import SimplyCore
import SimplyRun
import SimplyTrain

/// The repository's configs/ folder, found from this file's path.
let configsURL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("configs")

@Suite struct ConfigTests {
    @Test func namedConfigsResolveAndValidate() throws {
        let tiny = try ExperimentConfig.resolve(experiment: "tiny", configDirectory: configsURL, overrides: [])
        #expect(tiny.model.dModel == 128)
        let small = try ExperimentConfig.resolve(experiment: "small", configDirectory: configsURL, overrides: [])
        #expect(small.model.vocabSize == 8192 && small.model.dModel == 384 && small.model.nLayers == 6)
        #expect(small.model.nHeads == 6 && small.model.seqLen == 256 && small.train.batchSize == 8)
    }

    @Test func overridesApplyWithTypes() throws {
        let c = try ExperimentConfig.resolve(experiment: "tiny", configDirectory: configsURL,
                                             overrides: ["train.steps=7", "train.lr=0.01", "model.tie_embeddings=false",
                                                         "data.dataset=some/file.tokens", "train.seed=18446744073709551615"])
        #expect(c.train.steps == 7 && c.train.lr == 0.01 && !c.model.tieEmbeddings)
        #expect(c.data.dataset == "some/file.tokens" && c.train.seed == UInt64.max)
    }

    @Test func unknownKeysAndBadValuesNameTheKey() {
        func message(_ overrides: [String]) -> String {
            do {
                _ = try ExperimentConfig.resolve(experiment: "tiny", configDirectory: configsURL, overrides: overrides)
                return "no error"
            } catch { return "\(error)" }
        }
        #expect(message(["model.d_modle=3"]).contains("unknown config key 'model.d_modle'"))
        #expect(message(["model.d_modle=3"]).contains("model.d_model"))  // suggestion
        #expect(message(["train.lr=fast"]).contains("train.lr"))
        #expect(message(["train.steps=1.5"]).contains("train.steps"))
        #expect(message(["train.steps"]).contains("key=value"))
        #expect(message(["train.grad_shards=3"]).contains("train.grad_shards"))
        #expect(message(["model.n_heads=3"]).contains("n_heads"))
        #expect(message(["train.seed=-1"]).contains("train.seed"))
    }

    @Test func unknownKeyInFileNamesFileAndKey() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("simply-config-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{"train": {"stepz": 3}}"#.utf8).write(to: dir.appendingPathComponent("bad.json"))
        try Data(#"{"train": {"steps": 3,}}"#.utf8).write(to: dir.appendingPathComponent("broken.json"))
        #expect(throws: ConfigError.self) { _ = try ExperimentConfig.resolve(experiment: "bad", configDirectory: dir, overrides: []) }
        do { _ = try ExperimentConfig.resolve(experiment: "bad", configDirectory: dir, overrides: []) } catch {
            #expect("\(error)".contains("bad.json") && "\(error)".contains("train.stepz"))
        }
        do { _ = try ExperimentConfig.resolve(experiment: "broken", configDirectory: dir, overrides: []) } catch {
            #expect("\(error)".contains("broken.json") && "\(error)".contains("invalid JSON"))
        }
        do { _ = try ExperimentConfig.resolve(experiment: "nope", configDirectory: dir, overrides: []) } catch {
            #expect("\(error)".contains("nope") && "\(error)".contains("bad"))
        }
    }

    @Test func resolvedJSONRoundTrips() throws {
        let c = try ExperimentConfig.resolve(experiment: "tiny", configDirectory: configsURL, overrides: ["train.lr=0.0031"])
        var d = ExperimentConfig.defaults
        try d.apply(try JSONValue.parse(c.json().serialized()), source: "round trip")
        #expect(d == c)
    }
}
