import SimplyCore

/// Fixed-size rows for the model: [rows, seqLen] inputs, targets, and the
/// loss mask of each target, filled from token sequences.
public struct SequenceRows: Sendable {
    public let rows: Int
    public let seqLen: Int
    public let pad: Int32
    public var inputs: [Int32]
    public var targets: [Int32]
    /// 1 where the target is in the loss (its mask), else 0.
    public var mask: [Float]
    /// Per row: the number of tokens placed (≤ seqLen + 1), and the index of
    /// the last input position holding a real token.
    public var lengths: [Int]

    public init(rows: Int, seqLen: Int, pad: Int32) {
        self.rows = rows; self.seqLen = seqLen; self.pad = pad
        inputs = Array(repeating: pad, count: rows * seqLen)
        targets = Array(repeating: pad, count: rows * seqLen)
        mask = Array(repeating: 0, count: rows * seqLen)
        lengths = Array(repeating: 0, count: rows)
    }

    /// Row `row` := `seq`, cut to seqLen + 1 tokens (the end is dropped, as
    /// TRL truncates), then padded. Input j is token j, target j is token
    /// j + 1 with token j + 1's mask. Returns false when the cut dropped masked tokens.
    @discardableResult
    public mutating func set(row: Int, _ seq: MaskedTokens) -> Bool {
        let n = min(seq.count, seqLen + 1)
        let o = row * seqLen
        for j in 0..<seqLen {
            inputs[o + j] = j < n ? seq.tokens[j] : pad
            let has = j + 1 < n
            targets[o + j] = has ? seq.tokens[j + 1] : pad
            mask[o + j] = has && seq.mask[j + 1] ? 1 : 0
        }
        lengths[row] = n
        return !seq.mask[n...].contains(true)
    }

    /// Rows 2·pair and 2·pair + 1 := prompt + chosen, prompt + rejected of a
    /// preference example (the layout the reward model and DPO share, so a
    /// gradient shard always holds whole pairs).
    public mutating func setPair(_ pair: Int, _ e: PreparedExample) {
        set(row: 2 * pair, e.sequences[0] + e.sequences[1])
        set(row: 2 * pair + 1, e.sequences[0] + e.sequences[2])
    }

    /// The `rows`-row gradient shard `shard`: its own arrays, so two shards
    /// can be read at once (Trainer's concurrent shards).
    public func shard(_ shard: Int, rows: Int) -> (inputs: [Int32], targets: [Int32], mask: [Float]) {
        let n = rows * seqLen, lo = shard * n
        return (Array(inputs[lo..<(lo + n)]), Array(targets[lo..<(lo + n)]), Array(mask[lo..<(lo + n)]))
    }

    /// Input position of the last real token of `row` (where a score head reads).
    public func lastPosition(row: Int) -> Int { row * seqLen + max(0, min(lengths[row], seqLen) - 1) }

    /// SHA-256 of inputs, targets and mask: the batch hash.
    public func hash(into h: SHA256Hasher) {
        inputs.withUnsafeBytes { h.update($0) }
        targets.withUnsafeBytes { h.update($0) }
        mask.withUnsafeBytes { h.update($0) }
    }
}
