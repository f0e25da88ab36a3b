/// The hashed data cursor (docs/design.md, contract item 5). The example at
/// (step, slot) is `perm(seed, epoch)(position mod n)` with
/// position = step · batchSize + slot and epoch = position / n.
///
/// It holds no iterator state: the batch of any step is a pure function of
/// (seed, numExamples, batchSize, step), so a resume needs only the step, and
/// any worker can compute any slot. A batch that straddles an epoch boundary
/// takes its first slots from the old epoch's order and the rest from the new.
public struct DataCursor: Sendable {
    public let numExamples: Int
    public let batchSize: Int
    public let seed: UInt64

    public init(numExamples: Int, batchSize: Int, seed: UInt64) {
        precondition(numExamples >= 1, "DataCursor needs at least one example")
        precondition(batchSize >= 1, "DataCursor needs batchSize >= 1")
        self.numExamples = numExamples
        self.batchSize = batchSize
        self.seed = seed
    }

    /// Index into the dataset of the example at (step, slot), both 0-based.
    public func exampleIndex(step: Int, slot: Int) -> Int {
        precondition(step >= 0 && slot >= 0 && slot < batchSize, "step \(step), slot \(slot) out of range")
        let (position, overflow) = step.multipliedReportingOverflow(by: batchSize)
        precondition(!overflow, "step \(step) × batch \(batchSize) overflows")
        let p = position + slot
        let epoch = p / numExamples
        let perm = FeistelPermutation(n: UInt64(numExamples), seed: seed, epoch: UInt64(epoch))
        return Int(perm.apply(UInt64(p % numExamples)))
    }

    /// The epoch of the first slot of `step`.
    public func epoch(step: Int) -> Int { step * batchSize / numExamples }
}
