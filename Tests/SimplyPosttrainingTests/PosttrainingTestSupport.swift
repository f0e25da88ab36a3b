import Foundation
import SimplyCore
import SimplyData
import SimplyModel
import SimplyTrain

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
func smallConfig(mode: TrainingMode, dataset: URL, batch: Int = 4, shards: Int = 2, steps: Int = 4) -> ExperimentConfig {
    var c = ExperimentConfig(model: ModelConfig(vocabSize: 260, dModel: 32, nLayers: 2, nHeads: 4, nKVHeads: 2,
                                                dFF: 64, seqLen: 96))
    c.train.mode = mode.rawValue
    c.train.batchSize = batch
    c.train.gradShards = shards
    c.train.steps = steps
    c.train.warmupSteps = 1
    c.train.lr = 3e-3
    c.data.dataset = dataset.path
    return c
}
