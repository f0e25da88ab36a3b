import ArgumentParser
import Foundation
import SimplyCore
import SimplyData
import SimplyEval
import SimplyModel
import SimplyPosttraining
import SimplyRun
import SimplyTrain

/// `simply eval loss`: the mean next-token cross-entropy of a checkpoint on
/// held-out windows. By default the data is the run's own `data.dataset`; for
/// the built-in corpus it is regenerated with another seed
/// (`--synthetic_seed`, default the run's train.seed + 1), so the text is
/// new sentences from the same grammar, never the training text.
///
/// Windows 0, 1, 2, … of seq_len tokens (the pretraining windows, in stream
/// order, no shuffling) are run in batches; every position counts once. The
/// positions' CE values are summed in stream order in float64, so the number
/// is the same for any thread count and batch size.
///
/// `--data FILE` evaluates a prepared file instead: a token shard (windows
/// as above), or an example shard, where each example is one row (cut to
/// seq_len + 1 tokens, as SFT cuts) and only its loss-masked tokens count
/// (the completion of a supervised example, the chosen reply of a
/// preference pair). Perplexity = exp(mean NLL), with DetMath's exp.
struct EvalLoss: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loss",
        abstract: "Mean next-token loss of a checkpoint on held-out windows (deterministic, batched).")

    @OptionGroup var model: CheckpointOption

    var checkpoint: String { model.checkpoint }

    @Option(name: .customLong("set"), parsing: .singleValue,
            help: "Override a data key of the run's config: --set data.dataset=PATH, --set data.synthetic_bytes=N (repeatable).")
    var overrides: [String] = []

    @Option(name: .customLong("synthetic_seed"), help: "Seed of the built-in corpus to evaluate on (default: the run's train.seed + 1, text it never trained on).")
    var syntheticSeed: UInt64?

    @Option(name: .customLong("max_windows"), help: "Evaluate at most this many windows (0: all).")
    var maxWindows: Int = 1024

    @Option(name: .customLong("batch_size"), help: "Windows per forward pass (changes speed, never the result).")
    var batchSize: Int = 8

    @OptionGroup var threadOptions: ThreadOptions

    @Option(name: .customLong("data"), help: "A prepared token shard or example shard to evaluate on (example shards: loss-masked tokens only).")
    var dataPath: String?

    @OptionGroup var results: ResultsOutput

    var out: String? { results.out }

    @Flag(name: .customLong("json"), help: "Print one JSON line instead of text.")
    var json = false

    func run() throws {
        guard batchSize >= 1 else { fail("--batch_size must be >= 1") }
        guard maxWindows >= 0 else { fail("--max_windows must be >= 0") }
        let threadCount = threadOptions.count()
        do {
            let trained = try TrainedModel(URL(fileURLWithPath: checkpoint), maxBatch: batchSize)
            let url = trained.checkpoint, model = trained.model
            var config = trained.config
            guard !config.model.scoreHead else { throw ConfigError("\(url.path): a score-head model has no next-token loss") }
            if let path = dataPath {
                guard FileManager.default.fileExists(atPath: path) else { throw ConfigError("--data \(path): no such file") }
                guard syntheticSeed == nil else { throw ConfigError("--synthetic_seed applies to the built-in corpus, not --data \(path)") }
                if ExampleShard.isExampleShard(URL(fileURLWithPath: path)) {
                    try evaluateExamples(trained, path: path, threads: threadCount)
                    return
                }
                config.data.dataset = path
            }
            for o in overrides {
                guard let eq = o.firstIndex(of: "=") else { throw ConfigError("--set \(o): expected key=value") }
                let key = String(o[..<eq])
                guard key.hasPrefix("data.") else { throw ConfigError("--set \(key): only data.* keys can change for an evaluation") }
                try config.set(key, text: String(o[o.index(after: eq)...]))
            }
            let builtin = config.data.dataset == TrainingData.builtinSynthetic
            if let s = syntheticSeed {
                guard builtin else { throw ConfigError("--synthetic_seed applies to data.dataset \(TrainingData.builtinSynthetic), not \(config.data.dataset)") }
                config.train.seed = s
            } else if builtin {
                config.train.seed = config.train.seed &+ 1
            }
            // The built-in corpus is generated from train.seed: here, the evaluation seed.
            let data = try TrainingData.load(config)
            guard data.parts.count == 1 else { throw ConfigError("data.dataset: evaluate one dataset at a time, not a mixture") }
            let t = config.model.seqLen
            let windows = try PretrainWindows(tokens: data.parts[0].tokens, seqLen: t)
            let count = maxWindows == 0 ? windows.numExamples : min(maxWindows, windows.numExamples)


            let start = monotonicSeconds()
            let result = LossEvaluation.windows(model, windows, count: count, batch: batchSize,
                                                parallel: Parallel(threads: threadCount, deterministic: true))
            let seconds = monotonicSeconds() - start
            let tokens = result.tokens, mean = result.loss
            let source = builtin ? "\(config.data.dataset) seed \(config.train.seed), \(config.data.syntheticBytes) bytes" : config.data.dataset
            let perplexity = result.perplexity
            if json {
                print(JSONValue.object([
                    ("checkpoint", .string(url.path)), ("step", .int(trained.step)), ("data", .string(source)),
                    ("windows", .int(count)), ("tokens", .int(tokens)), ("loss", .double(mean)),
                    ("loss_bits", .string(String(Double(mean).bitPattern, radix: 16))), ("perplexity", .double(perplexity)),
                ]).serialized())
            } else {
                print(String(format: "held-out loss %.4f over %d windows x %d = %d tokens; %@; %@ (step %d); %.1f s",
                             mean, count, t, tokens, source, url.path, trained.step, seconds))
                print(String(format: "perplexity %.4f", perplexity))
            }
            EvalResults.write("loss", [
                ("checkpoint", EvalResults.checkpoint(url, step: trained.step)),
                ("data", EvalResults.data(source, sha256: data.sha256)),
                ("loss", .double(mean)), ("nll", .double(mean)), ("perplexity", .double(perplexity)),
                ("tokens", .int(tokens)), ("windows", .int(count)),
                ("settings", .object([("max_windows", .int(maxWindows)), ("seq_len", .int(t)),
                                      ("masked_only", .bool(false))])),
            ], to: out)
        } catch { fail("\(error)") }
    }

    /// Mean NLL over the loss-masked target tokens of an example shard.
    func evaluateExamples(_ trained: TrainedModel, path: String, threads: Int) throws {
        let shard = try ExampleShard.read(URL(fileURLWithPath: path))
        let tokenizer = try TrainingData.loadTokenizer(trained.config)
        guard shard.tokenizerName == tokenizer.name else {
            throw ConfigError("--data \(path): prepared with tokenizer '\(shard.tokenizerName)' but the model's is '\(tokenizer.name)'")
        }
        guard shard.kind != .prompt else {
            throw ConfigError("--data \(path): holds prompt examples, which have no loss tokens (use eval generate)")
        }
        // A supervised example is its one sequence; a preference pair is prompt + chosen.
        let sequences = shard.examples.map { $0.kind == .preference ? $0.sequences[0] + $0.sequences[1] : $0.sequences[0] }
        let limit = maxWindows == 0 ? sequences.count : min(maxWindows, sequences.count)
        let t = trained.config.model.seqLen
        let start = monotonicSeconds()
        let result = LossEvaluation.maskedTokens(trained.model, Array(sequences[..<limit]), batch: batchSize, pad: tokenizer.pad,
                                                 parallel: Parallel(threads: threads, deterministic: true))
        let seconds = monotonicSeconds() - start
        let tokens = result.tokens, truncated = result.truncated
        guard tokens > 0 else { throw ConfigError("--data \(path): no loss-masked tokens in the first \(limit) examples") }
        let mean = result.loss, perplexity = result.perplexity
        let url = trained.checkpoint
        if json {
            print(JSONValue.object([
                ("checkpoint", .string(url.path)), ("step", .int(trained.step)), ("data", .string(path)),
                ("examples", .int(limit)), ("tokens", .int(tokens)), ("loss", .double(mean)),
                ("loss_bits", .string(String(mean.bitPattern, radix: 16))), ("perplexity", .double(perplexity)),
                ("truncated", .int(truncated)),
            ]).serialized())
        } else {
            print(String(format: "held-out loss %.4f over %d loss tokens of %d %@ examples; %@; %@ (step %d); %.1f s",
                         mean, tokens, limit, shard.kind.rawValue, path, url.path, trained.step, seconds)
                  + (truncated > 0 ? "; \(truncated) examples cut at model.seq_len \(t)" : ""))
            print(String(format: "perplexity %.4f", perplexity))
        }
        EvalResults.write("loss", [
            ("checkpoint", EvalResults.checkpoint(url, step: trained.step)),
            ("data", EvalResults.data(path, sha256: shard.contentHash)),
            ("loss", .double(mean)), ("nll", .double(mean)), ("perplexity", .double(perplexity)),
            ("tokens", .int(tokens)), ("examples", .int(limit)), ("truncated", .int(truncated)),
            ("settings", .object([("max_windows", .int(maxWindows)), ("seq_len", .int(t)), ("masked_only", .bool(true))])),
        ], to: out)
    }
}
