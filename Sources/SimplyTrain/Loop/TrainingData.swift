import Foundation
import SimplyCore
import SimplyData
import SimplyRun

/// The token streams a run trains on, resolved from `data.dataset`: one
/// dataset ("builtin:synthetic" or a token shard path), or a weighted mixture
/// "PATH@0.7,OTHER@0.3".
public struct TrainingData: Sendable {
    public struct Part: Sendable {
        public let source: String
        public let tokens: [Int32]
        public let weight: Double
        public let sha256: String
    }

    public let parts: [Part]
    public let source: String
    /// SHA-256 of the data: for one dataset, of its tokens (little-endian
    /// Int32); for a mixture, of each part's "source sha256 weight" line. The
    /// data half of the run's identity.
    public let sha256: String

    public var tokenCount: Int { parts.reduce(0) { $0 + $1.tokens.count } }
    /// The tokenizer's name (e.g. "byte", "bpe-…" with a hash of its file).
    public let tokenizerName: String

    public static let builtinSynthetic = "builtin:synthetic"

    public static func load(_ config: ExperimentConfig) throws -> TrainingData {
        let tokenizer = try loadTokenizer(config)
        let spec = config.data.dataset
        let items = spec.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var parts: [Part] = []
        for item in items {
            var source = item, weight = 1.0
            if items.count > 1 {
                guard let at = item.lastIndex(of: "@"), let w = Double(item[item.index(after: at)...]), w >= 0, w.isFinite else {
                    throw ConfigError("data.dataset: mixture part '\(item)' needs a weight: PATH@WEIGHT")
                }
                source = String(item[..<at]); weight = w
            }
            let tokens = try loadTokens(source, config: config, tokenizer: tokenizer)
            let h = SHA256Hasher()
            tokens.withUnsafeBytes { h.update($0) }
            parts.append(Part(source: source, tokens: tokens, weight: weight, sha256: h.finalizeHex()))
        }
        guard parts.reduce(0, { $0 + $1.weight }) > 0 else { throw ConfigError("data.dataset: mixture weights sum to 0") }
        let sha: String
        if parts.count == 1 { sha = parts[0].sha256 } else {
            sha = sha256Hex(Array(parts.map { "\($0.source) \($0.sha256) \($0.weight)\n" }.joined().utf8))
        }
        return TrainingData(parts: parts, source: spec, sha256: sha, tokenizerName: tokenizer.name)
    }

    /// `data.tokenizer`, checked against the model's vocabulary.
    public static func loadTokenizer(_ config: ExperimentConfig) throws -> any Tokenizer {
        let tokenizer: any Tokenizer
        do { tokenizer = try TokenizerLoader.load(config.data.tokenizer) } catch {
            throw ConfigError("data.tokenizer: \(error)")
        }
        guard tokenizer.vocabSize <= config.model.vocabSize else {
            throw ConfigError("data.tokenizer \(config.data.tokenizer) has \(tokenizer.vocabSize) ids, more than model.vocab_size \(config.model.vocabSize)")
        }
        return tokenizer
    }

    static func loadTokens(_ source: String, config: ExperimentConfig, tokenizer: any Tokenizer) throws -> [Int32] {
        let tokens: [Int32]
        if source == builtinSynthetic {
            let text = SyntheticCorpus.generate(seed: config.train.seed, bytes: config.data.syntheticBytes)
            tokens = tokenizer.encode(text)
        } else if source.hasPrefix("builtin:") {
            throw ConfigError("data.dataset: unknown built-in dataset '\(source)' (known: \(builtinSynthetic))")
        } else {
            let url = URL(fileURLWithPath: source)
            if ExampleShard.isExampleShard(url) {
                let kind = try ExampleShard.read(url).kind
                throw ConfigError("data.dataset \(source) holds \(kind.rawValue) examples (post-training data); pretraining reads token shards (plain text or JSONL `text`); the post-training modes that read it are not available yet")
            }
            let shard = try TokenShard.read(url)
            guard shard.tokenizerName == tokenizer.name else {
                throw ConfigError("data.dataset \(source) was prepared with tokenizer '\(shard.tokenizerName)' but data.tokenizer \(config.data.tokenizer) is '\(tokenizer.name)'")
            }
            if shard.vocabSize > config.model.vocabSize {
                throw ConfigError("data.dataset \(source) was tokenized with vocabulary \(shard.vocabSize) (\(shard.tokenizerName)), larger than model.vocab_size \(config.model.vocabSize)")
            }
            tokens = shard.tokens
        }
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= config.model.vocabSize }) {
            throw ConfigError("data.dataset \(source): token id \(bad) is outside model.vocab_size \(config.model.vocabSize)")
        }
        return tokens
    }
}
