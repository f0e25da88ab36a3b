import Foundation
import SimplyCore
import SimplyData
import SimplyModel
import SimplyRun
import SimplyTrain
import Testing

/// A temporary directory per test, removed when dropped.
final class Scratch {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("simply-posttrain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    func file(_ name: String) -> URL { url.appendingPathComponent(name) }
}

let goldenURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("golden")

/// The numbers of a golden file's array `v` (`what` names it): a missing key,
/// a non-number or (unless `allowEmpty`) an empty array records a failure, so
/// a renamed key can never turn a comparison into a loop over nothing.
func goldenDoubles(_ v: JSONValue?, _ what: String, allowEmpty: Bool = false,
                   sourceLocation: SourceLocation = #_sourceLocation) -> [Double] {
    guard case let .array(a)? = v else {
        Issue.record("golden: \(what) is missing or not an array", sourceLocation: sourceLocation)
        return []
    }
    let x = a.compactMap(\.doubleValue)
    if x.count != a.count { Issue.record("golden: \(what) holds a non-number", sourceLocation: sourceLocation) }
    if x.isEmpty && !allowEmpty { Issue.record("golden: \(what) is empty", sourceLocation: sourceLocation) }
    return x
}

/// max |a − b| / max |b|: the error relative to the tensor's scale
/// (infinite when the lengths differ or there is nothing to compare).
func relativeError(_ a: [Float], _ b: [Double]) -> Double {
    guard a.count == b.count && !a.isEmpty else { return .infinity }
    var maxDiff = 0.0, maxRef = 0.0
    for (x, y) in zip(a, b) { maxDiff = max(maxDiff, abs(Double(x) - y)); maxRef = max(maxRef, abs(y)) }
    return maxDiff / max(maxRef, 1e-30)
}

/// zip(a, b) for comparing a result with its reference: records a failure
/// when the lengths differ or there is nothing to compare.
func pairs<A, B>(_ a: [A], _ b: [B], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) -> Zip2Sequence<[A], [B]> {
    if a.count != b.count || a.isEmpty {
        Issue.record("\(what): \(a.count) values against \(b.count)", sourceLocation: sourceLocation)
    }
    return zip(a, b)
}

/// The step at which an interruption test stops a run: drawn from a Philox
/// stream keyed by `name` and SIMPLY_TEST_SEED (default 1), never from an
/// unseeded generator, so a failure reproduces with the seed it prints.
func stopStep(_ range: ClosedRange<Int>, _ name: String) -> Int {
    let seed = ProcessInfo.processInfo.environment["SIMPLY_TEST_SEED"].flatMap { UInt64($0) } ?? 1
    return range.lowerBound + Int(RandomStream(seed: seed, name: "test.stop." + name).uint64(0) % UInt64(range.count))
}

/// Writes `count` generated task examples in `format` and prepares them with the byte tokenizer.
func preparedTasks(_ format: TaskRecordFormat, task: TaskKind = .addition, count: Int, split: TaskSplit = .train,
                   in dir: Scratch, name: String) throws -> URL {
    let examples = TaskGenerator.examples(task, seed: 5, split: split, count: count, maxDigits: 2)
    let jsonl = dir.file(name + ".jsonl")
    try Data(examples.map { format.record($0, conversational: true).serialized() + "\n" }.joined().utf8).write(to: jsonl)
    let out = dir.file(name + ".ex")
    _ = try DataPrepare.prepare(inputs: [jsonl], format: .auto, textField: "text", tokenizer: ByteTokenizer(), output: out)
    return out
}

/// A very small model over the byte tokenizer for objective tests.
func smallConfig(mode: Algorithm, dataset: URL, batch: Int = 4, shards: Int = 2, steps: Int = 4) -> ExperimentConfig {
    var c = ExperimentConfig(model: ModelConfig(vocabSize: 260, dModel: 32, nLayers: 2, nHeads: 4, nKVHeads: 2,
                                                dFF: 64, seqLen: 96))
    c.train.mode = mode.name
    c.train.batchSize = batch
    c.train.gradShards = shards
    c.train.steps = steps
    c.train.warmupSteps = 1
    c.train.lr = 3e-3
    c.data.dataset = dataset.path
    return c
}

/// Checks an objective's analytic gradient against central differences
/// (Richardson-extrapolated, steps 2e-3 and 4e-3) of `loss` at the largest
/// gradient entry of each named parameter. `loss` zeroes the model's
/// gradients, runs the objective's shard and returns its loss; the gradient
/// it leaves at the unperturbed weights is the one checked.
func expectGradientMatchesFiniteDifferences(_ model: Transformer, names: [String], minGradient: Double = 1e-5,
                                            tolerance: Double = 3e-2, loss: () -> Double,
                                            sourceLocation: SourceLocation = #_sourceLocation) throws {
    _ = loss()
    let grads = Tensor(shape: [model.layout.count])
    grads.copy(from: model.grads)
    for name in names {
        let e = try #require(model.layout.entry(name), sourceLocation: sourceLocation)
        let i = (0..<e.count).max { abs(grads.pointer[e.offset + $0]) < abs(grads.pointer[e.offset + $1]) }!
        let p = model.parameter(name), saved = p.pointer[i]
        func central(_ h: Float) -> Double {
            p.pointer[i] = saved + h; let up = loss()
            p.pointer[i] = saved - h; let down = loss()
            p.pointer[i] = saved
            return (up - down) / (Double(saved + h) - Double(saved - h))
        }
        let fd = (4 * central(2e-3) - central(4e-3)) / 3
        let g = Double(grads.pointer[e.offset + i])
        #expect(abs(g) > minGradient, "\(name): pick a sizeable gradient", sourceLocation: sourceLocation)
        #expect(abs(fd - g) <= tolerance * abs(g), "\(name)[\(i)]: analytic \(g) vs numeric \(fd)", sourceLocation: sourceLocation)
    }
}
