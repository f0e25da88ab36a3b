import ArgumentParser
import Foundation
import SimplyCore
import SimplyData
import SimplyModel
import SimplyRun
import SimplyTrain

/// `simply sample`: completions of a checkpoint for people to read, from the
/// KV-cache sampler. The same flags give the same text on any machine and
/// thread count.
struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Sample completions of prompts from a checkpoint (KV cache, temperature, top-k, top-p).",
        discussion: """
        Each completion ends at eos or <|im_end|>, at --max_tokens, or when the model's context is full. \
        Randomness comes from the Philox stream (--seed, "sample") at (prompt, sample, position), so the \
        output is reproducible. --temperature 0 is greedy decoding.
        """)

    @OptionGroup var model: CheckpointOption

    @Option(name: .customLong("prompt"), parsing: .singleValue, help: "A prompt (repeatable: sampled together).")
    var prompts: [String] = []

    @Flag(name: .customLong("chat"), help: "Wrap each prompt as a user turn in the chat template and sample the assistant's reply.")
    var chat = false

    @Option(name: .customLong("temperature"), help: "Softmax temperature; 0: greedy.")
    var temperature: Float = 1

    @Option(name: .customLong("top_k"), help: "Keep the k most likely tokens (0: all).")
    var topK: Int = 0

    @Option(name: .customLong("top_p"), help: "Keep the most likely tokens up to this probability mass (1: all).")
    var topP: Float = 1

    @Option(name: [.customLong("max_new_tokens"), .customLong("max_tokens")], help: "The longest completion (--max_tokens is accepted too).")
    var maxTokens: Int = 64

    @Option(name: .customLong("num_samples"), help: "Completions per prompt.")
    var numSamples: Int = 1

    @Option(name: .customLong("seed"), help: "Seed of the sampling stream.")
    var seed: UInt64 = 0

    @OptionGroup var threadOptions: ThreadOptions

    @Flag(name: .customLong("json"), help: "One JSON object per completion (tokens, log-probabilities, finish reason).")
    var json = false

    func run() throws {
        guard !prompts.isEmpty else { fail("--prompt is required (at least one)") }
        guard numSamples >= 1 else { fail("--num_samples must be >= 1 (got \(numSamples))") }
        let threadCount = threadOptions.count()
        do {
            let m = try TrainedModel(URL(fileURLWithPath: model.checkpoint), maxBatch: 1)
            let tokenizer = try TrainingData.loadTokenizer(m.config)
            let template = ChatTemplate(tokenizer: tokenizer)
            let config = SamplingConfig(temperature: temperature, topK: topK, topP: topP, maxNewTokens: maxTokens,
                                        stopSequences: template.stopSequences, seed: seed)
            do { try config.validate() } catch { fail("--\(error)") }
            let tokens = try prompts.map { text in
                (chat ? try template.prompt(.messages([ChatMessage(.user, text)])) : template.plainPrompt(text)).tokens
            }
            for (p, t) in tokens.enumerated() where t.count > m.config.model.seqLen {
                log("prompt \(p) has \(t.count) tokens, more than model.seq_len \(m.config.model.seqLen): no completion")
            }
            let sampler = Sampler(model: m.model, maxRows: max(numSamples, min(tokens.count * numSamples, 64)))
            let out = sampler.generate(prompts: tokens, samplesPerPrompt: numSamples, config: config,
                                       parallel: Parallel(threads: threadCount, deterministic: true))
            for c in out {
                // The text without the marker that ended it.
                var body = c.tokens
                if c.finishReason == .stop, let s = config.stopSequences.first(where: { body.ends(with: $0) }) {
                    body.removeLast(s.count)
                }
                let text = tokenizer.decode(body)
                let logProb = c.logProbs.reduce(0, +), modelLogProb = c.modelLogProbs.reduce(0, +)
                if json {
                    print(JSONValue.object([
                        ("prompt", .int(c.promptIndex)), ("sample", .int(c.sampleIndex)), ("text", .string(text)),
                        ("tokens", .array(c.tokens.map { .int(Int($0)) })), ("finish_reason", .string(c.finishReason.rawValue)),
                        ("logprob", .double(Double(logProb))), ("model_logprob", .double(Double(modelLogProb))),
                    ]).serialized())
                } else {
                    print("--- prompt \(c.promptIndex), sample \(c.sampleIndex): \(c.count) tokens, \(c.finishReason.rawValue), "
                          + String(format: "model logprob %.3f", modelLogProb))
                    print(text)
                }
            }
        } catch { fail("\(error)") }
    }
}

extension Array where Element: Equatable {
    func ends(with suffix: [Element]) -> Bool {
        suffix.count <= count && self[(count - suffix.count)...].elementsEqual(suffix)
    }
}
