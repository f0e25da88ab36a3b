import Foundation
import Testing
import SimplyData
import SimplyRun
import SimplyTrain

/// data.tokenizer: the committed BPE of configs/small, and the checks that
/// keep a tokenizer from silently mismatching the data or the model.
@Suite struct TokenizerConfigTests {
    var repoRoot: URL { configsURL.deletingLastPathComponent() }

    @Test func smallUsesATrainedBPEOf8192() throws {
        var small = try ExperimentConfig.resolve(experiment: "small", configDirectory: configsURL, overrides: [])
        #expect(small.data.tokenizer == "configs/tokenizers/small-bpe-8192.json")
        small.data.tokenizer = repoRoot.appendingPathComponent(small.data.tokenizer).path
        let tok = try TrainingData.loadTokenizer(small)
        #expect(tok.vocabSize == 8192 && small.model.vocabSize == 8192 && tok.name.hasPrefix("bpe-"))
        // It learned the built-in corpus: far fewer tokens than bytes, and exact round trip.
        let text = SyntheticCorpus.generate(seed: small.train.seed, bytes: 20_000)
        let ids = tok.encode(text)
        #expect(Double(text.utf8.count) / Double(ids.count) > 3, "\(text.utf8.count) bytes -> \(ids.count) tokens")
        #expect(tok.decode(ids) == text)
        #expect(tok.specialToken(SpecialTokens.imStart) != nil && tok.specialToken(SpecialTokens.eos) == tok.eos)
        // The small config's data is encoded with it (a run records its name).
        small.data.syntheticBytes = 20_000
        let data = try TrainingData.load(small)
        #expect(data.tokenizerName == tok.name && data.parts[0].tokens == ids)
    }

    @Test func mismatchesAreRefusedNamingTheKey() throws {
        let dir = try temporaryDirectory("tokenizer-config")
        defer { try? FileManager.default.removeItem(at: dir) }
        let bpe = repoRoot.appendingPathComponent("configs/tokenizers/small-bpe-8192.json").path
        // A shard prepared with the byte tokenizer, trained with the BPE.
        let text = dir.appendingPathComponent("t.txt")
        try Data("some text to prepare".utf8).write(to: text)
        let shard = dir.appendingPathComponent("t.tokens")
        _ = try DataPrepare.prepare(inputs: [text], format: .text, textField: "text", tokenizer: ByteTokenizer(), output: shard)
        var c = try ExperimentConfig.resolve(experiment: "small", configDirectory: configsURL,
                                             overrides: ["data.dataset=\(shard.path)", "data.tokenizer=\(bpe)"])
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "" } catch { return "\(error)" }
        }
        let m1 = message { _ = try TrainingData.load(c) }
        #expect(m1.contains("data.dataset \(shard.path) was prepared with tokenizer 'byte'") && m1.contains("data.tokenizer"), "\(m1)")
        // A tokenizer with more ids than the model.
        c = try ExperimentConfig.resolve(experiment: "tiny", configDirectory: configsURL, overrides: ["data.tokenizer=\(bpe)"])
        let m2 = message { _ = try TrainingData.load(c) }
        #expect(m2.contains("has 8192 ids, more than model.vocab_size 512"), "\(m2)")
        // A missing file names the key and the path.
        c.data.tokenizer = dir.appendingPathComponent("absent.json").path
        let m3 = message { _ = try TrainingData.load(c) }
        #expect(m3.hasPrefix("data.tokenizer: ") && m3.contains("absent.json"), "\(m3)")
    }
}
