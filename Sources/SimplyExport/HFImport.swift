import Foundation
import SimplyCore
import SimplyData
import SimplyModel
import SimplyRun

/// `simply import HF_DIR OUT`: a Hugging Face Llama, Qwen2, Qwen3 or Mistral
/// checkpoint (safetensors, one file or sharded) as a Simply run directory
///
///     OUT/config.json            the resolved config (+ a `run` section naming the source)
///     OUT/experiment.json        the same config without `run`: `--experiment_config` for `simply train`
///     OUT/checkpoints/step-00000000/   the weights (float32), loadable with --load_checkpoint / --checkpoint
///     OUT/tokenizer.json         the model's tokenizer when it is one of Simply's own BPE files
///     OUT/tokenizer/             a published model's tokenizer files, copied byte for byte
///                                (tokenizer.json, tokenizer_config.json, chat_template.jinja,
///                                generation_config.json): its own ids and chat template
///
/// F32 weights are copied bit for bit; F16 and BF16 widen to float32
/// exactly; F64 is rounded to float32 (and said so).
public enum HFImport {
    public struct Options: Sendable {
        /// model.seq_len; default max_position_embeddings, at most `defaultMaxSeqLen`.
        public var seqLen: Int? = nil
        /// "byte" or a tokenizer.json path; default: HF_DIR/tokenizer.json.
        public var tokenizer: String? = nil
        /// The algorithm sections the run's config.json records (the command line passes every algorithm's).
        public var schema: ConfigSchema = .pretraining
        public init(seqLen: Int? = nil, tokenizer: String? = nil, schema: ConfigSchema = .pretraining) {
            self.seqLen = seqLen; self.tokenizer = tokenizer; self.schema = schema
        }
    }

    /// Activations and RoPE tables grow with seq_len; a larger context is asked for with --seq_len.
    public static let defaultMaxSeqLen = 2048

    public struct Summary: Sendable {
        public let config: ExperimentConfig
        public let architecture: HFArchitecture
        public let checkpoint: URL
        /// Lines worth telling the user (conversions, ignored tensors, a capped context).
        public let notes: [String]
    }

    /// The tokenizer an import writes into the run directory.
    public enum ImportedTokenizer {
        /// One of Simply's own BPE files: OUT/tokenizer.json in canonical form.
        case simply(BPETokenizer)
        /// A published model's: its files, copied byte for byte into OUT/tokenizer/.
        case published(HFTokenizer, files: [(name: String, bytes: [UInt8])])

        var name: String {
            switch self { case let .simply(t): return t.name; case let .published(t, _): return t.name }
        }
    }

    /// The files of a published tokenizer that travel with it, when present.
    public static let publishedTokenizerFiles = ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
                                                 "generation_config.json", "special_tokens_map.json"]

    /// The `publishedTokenizerFiles` present in `directory`, by name, each at most `HFTokenizer.maxFileBytes`.
    static func publishedTokenizerFiles(in directory: URL) throws -> [(name: String, bytes: [UInt8])] {
        var files: [(name: String, bytes: [UInt8])] = []
        for name in publishedTokenizerFiles {
            let f = directory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: f.path) else { continue }
            do { files.append((name, try FileBytes.read(f, limit: HFTokenizer.maxFileBytes))) } catch { throw HFError(error.description) }
        }
        return files
    }

    /// The Simply config for the model in `directory` (config.json + tokenizer).
    public static func experimentConfig(_ directory: URL, options: Options = Options(), out: URL? = nil,
                                        notes: inout [String]) throws -> (ExperimentConfig, HFArchitecture, ImportedTokenizer?) {
        let configURL = directory.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw HFError("\(configURL.path): missing (not a Hugging Face model directory?)")
        }
        let data: [UInt8]
        do { data = try FileBytes.read(configURL, limit: 16 << 20) } catch { throw HFError(error.description) }
        let json: JSONValue
        do { json = try JSONValue.parse(String(decoding: data, as: UTF8.self)) } catch {
            throw HFError("\(configURL.path): invalid JSON: \(error)")
        }
        var seqLen = options.seqLen
        if seqLen == nil, let m = json["max_position_embeddings"]?.intValue, m > defaultMaxSeqLen {
            seqLen = defaultMaxSeqLen
            notes.append("max_position_embeddings \(m): model.seq_len set to \(defaultMaxSeqLen) (choose with --seq_len)")
        }
        let (model, arch) = try HFConfig.parse(json, file: configURL.path, seqLen: seqLen)
        var config = ExperimentConfig.defaults(options.schema)
        config.model = model
        if arch == .sequenceClassification { config.train.mode = "reward" }

        // The tokenizer.
        var copied: ImportedTokenizer? = nil
        let tokenizer: any Tokenizer
        if let spec = options.tokenizer {
            tokenizer = try TokenizerLoader.load(spec)
            config.data.tokenizer = spec
        } else {
            let url = directory.appendingPathComponent("tokenizer.json")
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw HFError("\(directory.path): no tokenizer.json; pass --tokenizer byte or --tokenizer FILE.json")
            }
            let loaded: any Tokenizer
            do { loaded = try TokenizerLoader.load(url.path) } catch {
                throw HFError("\(error); pass --tokenizer byte or --tokenizer FILE.json to import the weights with another tokenizer")
            }
            if let t = loaded as? BPETokenizer, HFTokenizerFiles.isByteTokenizer(t) {
                tokenizer = ByteTokenizer()
                config.data.tokenizer = "byte"
            } else if let t = loaded as? BPETokenizer {
                tokenizer = t
                copied = .simply(t)
                config.data.tokenizer = (out ?? directory).appendingPathComponent("tokenizer.json").standardizedFileURL.path
            } else if let t = loaded as? HFTokenizer {
                tokenizer = t
                copied = .published(t, files: try publishedTokenizerFiles(in: directory))
                config.data.tokenizer = (out ?? directory).appendingPathComponent("tokenizer").standardizedFileURL.path
                notes.append("tokenizer: \(t.name), chat template: " + (t.chatTemplate == nil ? "none (Simply's ChatML)" : "the model's own"))
            } else {
                throw HFError("\(url.path): not a tokenizer Simply imports")
            }
        }
        if tokenizer.vocabSize > model.vocabSize {
            throw HFError("\(configURL.path): vocab_size: \(model.vocabSize) is smaller than the tokenizer's \(tokenizer.vocabSize) ids")
        }
        do { try config.validate() } catch { throw HFError("\(configURL.path): \(error)") }
        return (config, arch, copied)
    }

    /// Reads the model in `directory` and writes the run directory `out`.
    @discardableResult
    public static func importModel(from directory: URL, to out: URL, options: Options = Options()) throws -> Summary {
        var notes: [String] = []
        let (config, arch, tokenizer) = try experimentConfig(directory, options: options, out: out, notes: &notes)
        let params = try weights(directory, config: config.model, notes: &notes)
        let layout = ParameterLayout(config: config.model)

        let run = RunDirectory(out)
        guard case var .object(sections) = config.json() else { fatalError("config json is an object") }
        let configHash = config.identitySHA256
        let tokenizerName = try tokenizer?.name ?? TokenizerLoader.load(config.data.tokenizer).name
        // Everything that can fail is read before anything is written.
        sections.append(("run", .object([
            ("simply_version", .string(Simply.version)),
            ("training_mode", .string("import")),
            ("imported_from", .string(directory.standardizedFileURL.path)),
            ("hf_architecture", .string(arch.rawValue)),
            ("tokenizer", .string(tokenizerName)),
            ("config_sha256", .string(configHash)),
        ])))
        try run.create(config: .object(sections))
        guard case let .object(plain) = config.json() else { fatalError("config json is an object") }
        try writeAtomically(Array((JSONValue.object(plain.filter { $0.0 != "checkpoint" }).pretty() + "\n").utf8),
                            to: out.appendingPathComponent("experiment.json"))
        switch tokenizer {
        case let .simply(t)?: try t.write(to: out.appendingPathComponent("tokenizer.json"))
        case let .published(_, files)?:
            let dir = out.appendingPathComponent("tokenizer")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for f in files { try writeAtomically(f.bytes, to: dir.appendingPathComponent(f.name)) }
        case nil: break
        }

        let tensors = layout.entries.map {
            CheckpointTensor(name: $0.name, tensor: Tensor(storage: params.storage, offset: params.offset + $0.offset, shape: $0.shape))
        }
        let checkpoint = try Checkpoints.write(
            runDirectory: out, step: 0, tensors: tensors, configSHA256: configHash, dataCursor: .object([]),
            extra: .object([("simply_version", .string(Simply.version)), ("imported_from", .string(directory.standardizedFileURL.path))]),
            options: CheckpointOptions(shardBytes: config.checkpoint.shardMB << 20, compressionLevel: config.checkpoint.compressionLevel,
                                       keepLast: 0))
        return Summary(config: config, architecture: arch, checkpoint: checkpoint, notes: notes)
    }

    /// Refuses a config.json whose parameters could not be in the weight
    /// files (each at least 2 bytes, BF16), before the layout and its buffer
    /// are built: a config claiming 10^12 parameters next to a small file
    /// must not allocate terabytes first.
    static func checkSize(_ model: ModelConfig, weights hf: HFWeights) throws {
        var fileBytes = 0
        for file in Set(hf.location.map(\.file)) {
            let size = ((try? FileManager.default.attributesOfItem(atPath: file.path))?[.size] as? NSNumber)?.intValue ?? 0
            fileBytes = fileBytes.addingReportingOverflow(size).overflow ? Int.max : fileBytes + size
        }
        let config = hf.directory.appendingPathComponent("config.json").path
        guard let n = HFConfig.parameterCount(model) else {
            throw HFError("\(config): the model's parameter count overflows a 64-bit integer")
        }
        guard n <= fileBytes / 2 else {
            throw HFError("\(config): describes \(n) parameters, but the weight files hold \(fileBytes) bytes "
                          + "(at least \(n.multipliedReportingOverflow(by: 2).overflow ? Int.max : 2 * n) needed): wrong config.json or missing shards")
        }
    }

    /// The flat parameter buffer of `model`, filled from the HF tensors. Every
    /// tensor of the file must be used, except the rotary tables old
    /// checkpoints stored and lm_head.weight of a tied model.
    public static func weights(_ directory: URL, config model: ModelConfig, notes: inout [String]) throws -> Tensor {
        let hf = try HFWeights(directory: directory)
        try checkSize(model, weights: hf)
        let layout = ParameterLayout(config: model)
        let params = Tensor(shape: [layout.count])
        var converted: [String: Int] = [:]
        for e in layout.entries {
            guard let file = hf.file(of: e.name) else {
                let where_ = FileManager.default.fileExists(atPath: directory.appendingPathComponent(HFWeights.indexFile).path)
                    ? directory.appendingPathComponent(HFWeights.indexFile) : directory.appendingPathComponent(HFWeights.singleFile)
                throw HFError("\(where_.path): tensor '\(e.name)' is missing"
                              + (e.name == "lm_head.weight" ? " (config.json says tie_word_embeddings false)" : ""))
            }
            let (_, entry) = try hf.entry(e.name)
            guard entry.shape == e.shape else {
                throw HFError("\(file.path): tensor '\(e.name)' has shape \(entry.shape), config.json implies \(e.shape)")
            }
            guard ["F32", "BF16", "F16", "F64"].contains(entry.dtype) else {
                throw HFError("\(file.path): tensor '\(e.name)' is \(entry.dtype); only F32, BF16, F16 and F64 are read")
            }
            if entry.dtype != "F32" { converted[entry.dtype, default: 0] += 1 }
            let t = try hf.tensor(e.name)
            (params.pointer + e.offset).update(from: t.pointer, count: e.count)
        }
        let used = Set(layout.entries.map(\.name))
        for (name, file) in hf.location where !used.contains(name) {
            if name.hasSuffix(".rotary_emb.inv_freq") { continue }
            if name == "lm_head.weight" && model.tieEmbeddings {
                notes.append("lm_head.weight ignored: tie_word_embeddings is true, so the head is model.embed_tokens.weight (as in transformers)")
                continue
            }
            throw HFError("\(file.path): tensor '\(name)' has no place in a \(model.family) model of this config"
                          + (name.hasSuffix(".bias") && !model.qkvBias ? " (biases are not supported)" : ""))
        }
        for (dtype, n) in converted.sorted(by: { $0.key < $1.key }) {
            notes.append(dtype == "F64" ? "\(n) F64 tensor(s) rounded to float32"
                                        : "\(n) \(dtype) tensor(s) widened to float32 (exact)")
        }
        return params
    }
}
