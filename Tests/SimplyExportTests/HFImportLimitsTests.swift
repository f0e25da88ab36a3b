import Foundation
import Testing
import SimplyCore
import SimplyExport
import SimplyModel

/// A config.json with huge sizes is refused before any layout or tensor is
/// allocated, with one line naming config.json.
@Suite struct HFImportLimitsTests {
    /// A small model directory written directly (no training): config.json and zero weights.
    func modelDirectory(_ name: String) throws -> (URL, JSONValue) {
        let dir = try scratchDirectory(name)
        let model = ModelConfig(vocabSize: 259, dModel: 16, nLayers: 1, nHeads: 2, nKVHeads: 2, dFF: 24, seqLen: 32)
        let layout = ParameterLayout(config: model)
        let tensors = layout.entries.map { (name: $0.name, tensor: Tensor(shape: $0.shape)) }
        try Data(SafetensorsWriter.encode(tensors: tensors)).write(to: dir.appendingPathComponent("model.safetensors"))
        let json = try HFConfig.json(model, tokens: HFTokenIds(bos: 256, eos: 257, pad: 258))
        try writeJSON(json, dir.appendingPathComponent("config.json"))
        return (dir, json)
    }

    @Test func hugeSizesAreRefusedBeforeAllocation() throws {
        let (dir, good) = try modelDirectory("limits")
        defer { try? FileManager.default.removeItem(at: dir) }
        let configURL = dir.appendingPathComponent("config.json")
        let out = dir.appendingPathComponent("out")
        // The unchanged directory imports: the refusals below are the sizes' doing.
        _ = try HFImport.importModel(from: dir, to: out, options: .init(tokenizer: "byte"))
        try FileManager.default.removeItem(at: out)

        func refused(_ changes: [(String, JSONValue?)], _ fragments: [String] = []) throws {
            var json = good
            for (k, v) in changes { json = setting(json, k, v) }
            try writeJSON(json, configURL)
            do {
                try HFImport.importModel(from: dir, to: out, options: .init(tokenizer: "byte"))
                Issue.record("imported \(changes)")
            } catch {
                let m = "\(error)"
                #expect(m.contains(configURL.path) && !m.contains("\n"), "\(m)")
                for f in fragments { #expect(m.contains(f), "\"\(m)\" lacks \"\(f)\"") }
            }
            #expect(!FileManager.default.fileExists(atPath: out.path))
        }
        try refused([("vocab_size", .int(1_000_000_000_000))])
        try refused([("hidden_size", .int(1 << 62)), ("num_attention_heads", .int(1 << 60)), ("num_key_value_heads", .int(1 << 60)),
                     ("head_dim", nil)])
        try refused([("num_hidden_layers", .int(1_000_000_000))])
        try refused([("intermediate_size", .int(1 << 62))])
        try refused([("vocab_size", .int(Int.max))])
        try refused([("max_position_embeddings", .number("1e30"))], ["max_position_embeddings"])
        try refused([("vocab_size", .number("1e12"))], ["vocab_size"])
    }

    @Test func parameterCountIsCheckedArithmetic() {
        let small = ModelConfig(vocabSize: 259, dModel: 16, nLayers: 1, nHeads: 2, nKVHeads: 2, dFF: 24, seqLen: 32)
        #expect(HFConfig.parameterCount(small) == ParameterLayout(config: small).count)
        var untied = small
        untied.tieEmbeddings = false
        untied.scoreHead = true
        #expect(HFConfig.parameterCount(untied) == ParameterLayout(config: untied).count)
        var huge = small
        huge.dModel = 1 << 62
        huge.nHeads = 1 << 60
        huge.nKVHeads = 1 << 60
        #expect(HFConfig.parameterCount(huge) == nil)
        huge = small
        huge.nLayers = Int.max / 2
        #expect(HFConfig.parameterCount(huge) == nil)
    }

    /// A huge max_position_embeddings is capped (a note), not allocated.
    @Test func hugeContextIsCapped() throws {
        let (dir, good) = try modelDirectory("context")
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeJSON(setting(good, "max_position_embeddings", .int(Int.max)), dir.appendingPathComponent("config.json"))
        let s = try HFImport.importModel(from: dir, to: dir.appendingPathComponent("out"), options: .init(tokenizer: "byte"))
        #expect(s.config.model.seqLen == HFImport.defaultMaxSeqLen)
        #expect(s.notes.contains { $0.contains("max_position_embeddings") })
    }
}
