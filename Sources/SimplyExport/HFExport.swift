import Foundation
import SimplyCore
import SimplyData
import SimplyModel
import SimplyRun

/// `simply export --format hf`: a checkpoint as a Hugging Face model directory
/// that `transformers` loads with no custom code:
///
///     model.safetensors        every parameter, float32, under its HF name
///     config.json              the family's ForCausalLM (ForSequenceClassification with a score head)
///     generation_config.json   bos / eos / pad ids; end of turn (an eos id or a stop string)
///     tokenizer.json           the run's tokenizer (the byte tokenizer as an equivalent byte-level BPE)
///     tokenizer_config.json    PreTrainedTokenizerFast, specials, chat template
///
/// Simply's parameter names are already Hugging Face's, so the weights are
/// copied bit for bit; a tied model has no lm_head.weight, as HF saves it.
public enum HFExport {
    public struct Summary: Sendable {
        public let checkpoint: URL
        public let step: Int
        public let architecture: HFArchitecture
        public let parameters: Int
        public let tokenizer: String
    }

    /// The files, by name, for the checkpoint (or run directory) at `path`.
    public static func files(from path: URL) throws -> (files: [(name: String, bytes: [UInt8])], summary: Summary) {
        let trained = try TrainedModel(path, maxBatch: 1)
        let config = trained.config
        let model = trained.model
        let tensors = model.layout.entries.map { (name: $0.name, tensor: model.parameter($0.name)) }
        let weights = SafetensorsWriter.encode(tensors: tensors, metadata: ["format": "pt"])
        func text(_ j: JSONValue) -> [UInt8] { Array((j.pretty() + "\n").utf8) }
        var files: [(name: String, bytes: [UInt8])] = [("model.safetensors", weights)]
        if let published = try publishedTokenizer(config, checkpoint: trained.checkpoint) {
            // A published model's tokenizer goes back as it came, byte for byte.
            let t = published.tokenizer
            let ids = HFTokenIds(bos: t.bos, eos: t.eos, pad: t.pad)
            files.append(("config.json", text(try HFConfig.json(config.model, tokens: ids))))
            if !published.files.contains(where: { $0.name == "generation_config.json" }) {
                files.append(("generation_config.json", text(HFTokenizerFiles.generationConfig(ids, endOfTurn: ChatTemplate(tokenizer: t).endOfTurn))))
            }
            files += published.files
        } else {
            let tokenizer = try exportTokenizer(config, checkpoint: trained.checkpoint)
            let ids = HFTokenIds(bos: tokenizer.bos, eos: tokenizer.eos, pad: tokenizer.pad)
            files += [
                ("config.json", text(try HFConfig.json(config.model, tokens: ids))),
                ("generation_config.json", text(HFTokenizerFiles.generationConfig(ids, endOfTurn: ChatTemplate(tokenizer: tokenizer).endOfTurn))),
                ("tokenizer.json", Array(tokenizer.serialized().utf8)),
                ("tokenizer_config.json", text(HFTokenizerFiles.tokenizerConfig(tokenizer, maxLength: config.model.seqLen))),
            ]
        }
        let arch = HFArchitecture(family: config.model.family, scoreHead: config.model.scoreHead)
        return (files, Summary(checkpoint: trained.checkpoint, step: trained.step, architecture: arch,
                               parameters: model.layout.count, tokenizer: config.data.tokenizer))
    }

    /// Writes the files into `directory`, which must not exist or be empty.
    @discardableResult
    public static func export(from path: URL, to directory: URL) throws -> Summary {
        try checkNewDirectory(directory)
        let (files, summary) = try Self.files(from: path)
        try writeNewDirectory(directory, files: files)
        return summary
    }
}

/// An export's directory must not exist, or be empty.
func checkNewDirectory(_ directory: URL) throws {
    let fm = FileManager.default
    var isDir: ObjCBool = false
    if fm.fileExists(atPath: directory.path, isDirectory: &isDir) {
        guard isDir.boolValue else { throw HFError("\(directory.path): exists and is not a directory") }
        let entries = (try? fm.contentsOfDirectory(atPath: directory.path)) ?? []
        guard entries.isEmpty else { throw HFError("\(directory.path): not empty (holds \(entries.sorted().prefix(3).joined(separator: ", "))); export into a new directory") }
    }
}

/// Writes `files` into `directory` (checked by `checkNewDirectory`), each atomically.
func writeNewDirectory(_ directory: URL, files: [(name: String, bytes: [UInt8])]) throws {
    try checkNewDirectory(directory)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    for f in files { try writeAtomically(f.bytes, to: directory.appendingPathComponent(f.name)) }
}

extension HFExport {

    /// A published model's tokenizer (imported into RUN/tokenizer/) and its
    /// files, or nil for the byte tokenizer and Simply's own BPE files; a
    /// tokenizer that changed since the run recorded it is refused.
    static func publishedTokenizer(_ config: ExperimentConfig, checkpoint: URL) throws
        -> (tokenizer: HFTokenizer, files: [(name: String, bytes: [UInt8])])? {
        let spec = config.data.tokenizer
        guard spec != "byte", let t = try TokenizerLoader.load(spec) as? HFTokenizer else { return nil }
        try checkRecorded(t.name, spec: spec, checkpoint: checkpoint)
        var dir = URL(fileURLWithPath: spec)
        if dir.lastPathComponent == "tokenizer.json" { dir.deleteLastPathComponent() }
        return (t, try HFImport.publishedTokenizerFiles(in: dir))
    }

    static func checkRecorded(_ name: String, spec: String, checkpoint: URL) throws {
        let run = RunDirectory(checkpoint.standardizedFileURL.deletingLastPathComponent().deletingLastPathComponent())
        if let recorded = (try? run.recordedRun())?["tokenizer"]?.stringValue, recorded != name {
            throw HFError("\(spec): this tokenizer is \(name), but \(run.configURL.path) run.tokenizer records \(recorded): the file changed since training")
        }
    }

    /// The run's tokenizer as a BPETokenizer; a tokenizer file that changed
    /// since the run recorded it is refused.
    static func exportTokenizer(_ config: ExperimentConfig, checkpoint: URL) throws -> BPETokenizer {
        let spec = config.data.tokenizer
        if spec == "byte" { return try HFTokenizerFiles.byteTokenizer() }
        let t = try BPETokenizer.load(URL(fileURLWithPath: spec))
        try checkRecorded(t.name, spec: spec, checkpoint: checkpoint)
        return t
    }
}
