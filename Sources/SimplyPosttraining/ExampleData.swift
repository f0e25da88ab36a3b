import Foundation
import SimplyCore
import SimplyData
import SimplyModel
import SimplyRun
import SimplyTrain

/// A post-training dataset: the example shard named by `data.dataset`, read
/// and checked against `data.tokenizer`, the model and the kind the mode needs,
/// with the hashed cursor that picks example (step, slot).
public struct ExampleData: Sendable {
    public let shard: ExampleShard
    public let source: String
    /// `data.tokenizer`, the one the shard was prepared with.
    public let tokenizer: any Tokenizer
    public let cursor: DataCursor

    /// `perStep`: examples a step reads (default train.batch_size; GRPO reads
    /// batch_size / num_generations prompts).
    public init(config: ExperimentConfig, kind: ExampleKind, perStep: Int? = nil) throws {
        let mode = config.train.mode
        source = config.data.dataset
        guard !source.hasPrefix("builtin:"), !source.contains(",") else {
            throw ConfigError("data.dataset: training_mode \(mode) reads one example shard from `simply data prepare` (got '\(source)')")
        }
        let url = URL(fileURLWithPath: source)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ConfigError("data.dataset \(source): no such file (make it with `simply data generate … --format \(kind == .supervised ? "alpaca" : kind == .preference ? "preference --conversational" : "prompt_only --conversational")` and `simply data prepare`)")
        }
        guard ExampleShard.isExampleShard(url) else {
            throw ConfigError("data.dataset \(source) is not an example shard: prepare \(kind.rawValue) data with `simply data prepare FILE.jsonl`")
        }
        shard = try ExampleShard.read(url)
        guard shard.kind == kind else {
            throw ConfigError("data.dataset \(source) holds \(shard.kind.rawValue) examples; training_mode \(mode) needs \(kind.rawValue) examples")
        }
        tokenizer = try TrainingData.loadTokenizer(config)
        guard shard.tokenizerName == tokenizer.name else {
            throw ConfigError("data.dataset \(source) was prepared with tokenizer '\(shard.tokenizerName)' but data.tokenizer \(config.data.tokenizer) is '\(tokenizer.name)'")
        }
        guard !shard.examples.isEmpty else { throw ConfigError("data.dataset \(source) has no examples") }
        cursor = DataCursor(numExamples: shard.examples.count, batchSize: perStep ?? config.train.batchSize, seed: config.train.seed)
    }

    public var identity: DataIdentity {
        DataIdentity(source: source, sha256: shard.contentHash,
                     tokens: shard.examples.reduce(0) { $0 + $1.tokenCount }, tokenizerName: shard.tokenizerName)
    }

    public func example(step: Int, slot: Int) -> PreparedExample {
        shard.examples[cursor.exampleIndex(step: step, slot: slot)]
    }

    public func dataCursor(step: Int) -> JSONValue {
        .object([("step", .int(step)), ("epochs", .array([.int(cursor.epoch(step: step))])),
                 ("examples_per_epoch", .array([.int(shard.examples.count)]))])
    }
}

