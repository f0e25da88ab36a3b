import ArgumentParser
import Foundation
import SimplyCore
import SimplyExport
import SimplyRun
import SimplyTrain

/// `simply eval logits`: the raw logits of a checkpoint on given token rows,
/// for checks against other implementations (tools/interop/hf_interop.py).
struct EvalLogits: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logits",
        abstract: "Write a checkpoint's logits on fixed tokens to a safetensors file (interop checks).",
        discussion: """
        --tokens is a safetensors file with an integer tensor input_ids [B, T]. The output holds logits \
        [B, T, vocab] (float32) and, for a score-head model, scores [B, T]. Prints one JSON line with the \
        next-token loss computed as transformers does with labels = input_ids.
        """)

    @OptionGroup var model: CheckpointOption

    var checkpoint: String { model.checkpoint }

    @Option(name: .customLong("tokens"), help: "A safetensors file holding input_ids [B, T] (I32 or I64).")
    var tokens: String

    @Option(name: .customLong("out"), help: "The safetensors file to write.")
    var out: String

    @OptionGroup var threadOptions: ThreadOptions

    func run() throws {
        let threadCount = threadOptions.count()
        do {
            let file = try SafetensorsFile.read(URL(fileURLWithPath: tokens))
            guard let e = file.entries["input_ids"] else { throw HFError("\(tokens): no tensor 'input_ids'") }
            guard e.shape.count == 2, e.shape[0] >= 1, e.shape[1] >= 1 else {
                throw HFError("\(tokens): input_ids has shape \(e.shape); expected [B, T]")
            }
            let ids = try file.int32s("input_ids")
            let (b, t) = (e.shape[0], e.shape[1])
            let trained = try TrainedModel(URL(fileURLWithPath: checkpoint), maxBatch: b)
            let c = trained.config.model
            guard t <= c.seqLen else { throw HFError("\(tokens): input_ids has \(t) positions; model.seq_len is \(c.seqLen)") }
            if let i = ids.firstIndex(where: { $0 < 0 || Int($0) >= c.vocabSize }) {
                throw HFError("\(tokens): input_ids[\(i / t), \(i % t)] = \(ids[i]) is outside the vocabulary (\(c.vocabSize))")
            }
            let o = ModelOutputs(model: trained.model, tokens: ids, batch: b, seqLen: t,
                                 parallel: Parallel(threads: threadCount, deterministic: true))
            var tensors = [(name: "logits", tensor: o.logits)]
            if let s = o.scores { tensors.append((name: "scores", tensor: s)) }
            try writeAtomically(SafetensorsWriter.encode(tensors: tensors), to: URL(fileURLWithPath: out))
            print(JSONValue.object([("checkpoint", .string(trained.checkpoint.path)), ("loss", .double(o.loss)),
                                    ("batch", .int(b)), ("seq_len", .int(t)), ("out", .string(out))]).serialized())
        } catch { fail("\(error)") }
    }
}
