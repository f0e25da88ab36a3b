/// Fixed-length language-modelling windows over one token stream. Example e
/// is tokens[e·seqLen ..< e·seqLen + seqLen + 1]: the first seqLen tokens are
/// the inputs, the last seqLen the targets (inputs shifted by one). Windows
/// do not overlap except for that one shared token, so an epoch sees each
/// target once. Document boundaries are just eos tokens inside windows.
public struct PretrainWindows: Sendable {
    public let tokens: [Int32]
    public let seqLen: Int

    public init(tokens: [Int32], seqLen: Int) throws {
        guard seqLen >= 1 else { throw DataError("seq_len must be >= 1, got \(seqLen)") }
        guard tokens.count > seqLen else {
            throw DataError("the token stream has \(tokens.count) tokens, too few for one window of seq_len \(seqLen) (needs \(seqLen + 1))")
        }
        self.tokens = tokens
        self.seqLen = seqLen
    }

    /// (tokens.count - 1) / seqLen.
    public var numExamples: Int { (tokens.count - 1) / seqLen }

    /// Writes example `example`'s inputs and targets at `offset` in both buffers.
    public func fill(example: Int, inputs: inout [Int32], targets: inout [Int32], at offset: Int) {
        precondition(example >= 0 && example < numExamples, "example \(example) out of range 0..<\(numExamples)")
        precondition(offset >= 0 && offset + seqLen <= inputs.count && offset + seqLen <= targets.count)
        let start = example * seqLen
        tokens.withUnsafeBufferPointer { src in
            for j in 0..<seqLen {
                inputs[offset + j] = src[start + j]
                targets[offset + j] = src[start + j + 1]
            }
        }
    }
}
