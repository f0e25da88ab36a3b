import Foundation
import SimplyCore
import SimplyData

/// The token stream a run trains on, resolved from `data.dataset`.
public struct TrainingData: Sendable {
    public let tokens: [Int32]
    public let source: String
    /// SHA-256 of the tokens (little-endian Int32): the data half of the run's identity.
    public let sha256: String

    public static let builtinSynthetic = "builtin:synthetic"

    public static func load(_ config: ExperimentConfig) throws -> TrainingData {
        let tokens: [Int32]
        let source = config.data.dataset
        if source == builtinSynthetic {
            let text = SyntheticCorpus.generate(seed: config.train.seed, bytes: config.data.syntheticBytes)
            tokens = ByteTokenizer().encode(text)
        } else if source.hasPrefix("builtin:") {
            throw ConfigError("data.dataset: unknown built-in dataset '\(source)' (known: \(builtinSynthetic))")
        } else {
            let shard = try TokenShard.read(URL(fileURLWithPath: source))
            if shard.vocabSize > config.model.vocabSize {
                throw ConfigError("data.dataset \(source) was tokenized with vocabulary \(shard.vocabSize) (\(shard.tokenizerName)), larger than model.vocab_size \(config.model.vocabSize)")
            }
            tokens = shard.tokens
        }
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= config.model.vocabSize }) {
            throw ConfigError("data.dataset \(source): token id \(bad) is outside model.vocab_size \(config.model.vocabSize)")
        }
        let h = SHA256Hasher()
        tokens.withUnsafeBytes { h.update($0) }
        return TrainingData(tokens: tokens, source: source, sha256: h.finalizeHex())
    }
}
