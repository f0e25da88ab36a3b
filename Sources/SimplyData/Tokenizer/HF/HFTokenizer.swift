import Foundation
import SimplyCore

/// A tokenizer as a published model ships it: a Hugging Face tokenizer.json
/// run the way the Python `tokenizers` library runs it, giving the same ids.
///
/// Encoding: added tokens are split off the raw text (those with
/// `normalized: false`), the rest is normalized, the `normalized: true`
/// added tokens are split off that, the remaining pieces are pre-tokenized
/// and each word is encoded by the BPE model (see `HFAddedTokens`,
/// `HFNormalizer`, `HFPreTokenizer`, `HFBPEModel`). Decoding maps ids to
/// token strings (added tokens to their content) and runs the `decoder`
/// (`HFDecoder`); without one, tokens are joined with spaces.
///
/// Which tokens are bos, eos and pad comes from tokenizer_config.json
/// (`bos_token`, `eos_token`, `pad_token`, by content) and otherwise from
/// generation_config.json (`bos_token_id`, `eos_token_id` — the first of a
/// list —, `pad_token_id`). A model may lack bos or pad: `bosId`/`padId`
/// are then nil, and the protocol's `bos`/`pad` fall back to `eos`. A
/// tokenizer without any eos is refused.
public struct HFTokenizer: Tokenizer {
    let addedTokens: HFAddedTokens
    let normalizer: HFNormalizer?
    let preTokenizer: HFPreTokenizer?
    let model: HFBPEModel
    let decoder: HFDecoder?
    let postProcessor: HFPostProcessor?
    private let specials: [String: Int32]
    private let specialIds: Set<Int32>

    public let bosId: Int32?
    public let eos: Int32
    public let padId: Int32?
    public var bos: Int32 { bosId ?? eos }
    public var pad: Int32 { padId ?? eos }
    /// The model's chat template (set by `TokenizerLoader` from the files beside tokenizer.json).
    public var chatTemplate: ChatTemplateRenderer? = nil
    /// generation_config.json's eos_token_id list (set by `TokenizerLoader`): the ids that end a turn.
    public var endOfTurnIds: [Int32] = []
    public let vocabSize: Int
    /// "hf-" + the first 16 hex digits of the SHA-256 of the tokenizer.json
    /// bytes followed by a line naming the bos, eos and pad ids.
    public let name: String

    /// tokenizer.json larger than this is refused before it is read.
    public static let maxFileBytes = 256 << 20
    /// tokenizer_config.json / generation_config.json larger than this are refused.
    public static let maxConfigBytes = 16 << 20

    public func specialToken(_ content: String) -> Int32? { specials[content] }

    // MARK: Encode

    /// Python `tokenizer.encode(text, add_special_tokens=False)` with
    /// `tokenizer.encode_special_tokens = True`: special-token strings in
    /// `text` are plain text (data cannot inject control tokens); non-special
    /// added tokens are matched.
    public func encode(_ text: String) -> [Int32] { encode(text, parseSpecial: false) }

    /// With `parseSpecial: true` special tokens written in `text` become their
    /// ids (Python `tokenizer.encode(text, add_special_tokens=…)` with the
    /// default `encode_special_tokens = False`) — for text Simply rendered
    /// itself, such as a chat template, never for data. With
    /// `addSpecialTokens: true` the post-processor adds what the file says
    /// (e.g. bos), as Python's `add_special_tokens=True`.
    public func encode(_ text: String, parseSpecial: Bool, addSpecialTokens: Bool = false) -> [Int32] {
        let scalars = [UInt32](scalarsOf: text)
        var out: [Int32] = []
        out.reserveCapacity(scalars.count / 3)
        var syms: [Int32] = []
        var cache: [[UInt32]: [Int32]] = [:]
        let useCache = scalars.count >= 4096
        func words(_ pieces: [TextPiece]) {
            let pre = preTokenizer.map { $0.apply(pieces) } ?? pieces
            for p in pre {
                if useCache, let hit = cache[p.scalars] { out.append(contentsOf: hit); continue }
                let before = out.count
                model.tokenize(p.scalars, into: &out, &syms)
                if useCache && p.scalars.count <= 64 && cache.count < 1 << 20 { cache[p.scalars] = Array(out[before...]) }
            }
        }
        for part in addedTokens.split(scalars, pass: 0, parseSpecial: parseSpecial) {
            switch part {
            case let .token(id): out.append(id)
            case let .text(r):
                var segment = Array(scalars[r])
                if let n = normalizer { segment = n.apply(segment) }
                let atStart = r.lowerBound == 0
                for sub in addedTokens.split(segment, pass: 1, parseSpecial: parseSpecial) {
                    switch sub {
                    case let .token(id): out.append(id)
                    case let .text(q): words([TextPiece(scalars: Array(segment[q]), atStart: atStart && q.lowerBound == 0)])
                    }
                }
            }
        }
        if addSpecialTokens, let p = postProcessor { return p.apply(out) }
        return out
    }

    // MARK: Decode

    /// Python `tokenizer.decode(ids, skip_special_tokens=False)`. An id that
    /// is neither in the model nor added is left out, as Python does.
    public func decode(_ ids: [Int32]) -> String { decode(ids, skipSpecialTokens: false) }

    /// Python `tokenizer.decode(ids, skip_special_tokens=…)`: with `true`,
    /// special added tokens are left out before the decoder runs.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            if let t = addedTokens.text[id] {
                if skipSpecialTokens && specialIds.contains(id) { continue }
                tokens.append(t)
            } else if id >= 0 && Int(id) < model.tokens.count, let t = model.tokens[Int(id)] {
                tokens.append(t)
            }
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decode(tokens)
    }

    // MARK: Loading

    /// Reads `url`: a tokenizer.json, or a directory holding one. Its
    /// tokenizer_config.json and generation_config.json, when present next
    /// to it, say which tokens are bos, eos and pad.
    public static func load(_ url: URL) throws -> HFTokenizer {
        var isDir: ObjCBool = false
        let file = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue
            ? url.appendingPathComponent("tokenizer.json") : url
        let bytes: [UInt8]
        do { bytes = try FileBytes.read(file, limit: maxFileBytes) } catch { throw DataError(file, error.reason) }
        return try parse(bytes, file: file.path, configs: configs(besides: file))
    }

    /// tokenizer_config.json and generation_config.json next to `file` (nil when absent).
    static func configs(besides file: URL) throws -> (tokenizer: (JSONValue, String)?, generation: (JSONValue, String)?) {
        let dir = file.deletingLastPathComponent()
        func read(_ name: String) throws -> (JSONValue, String)? {
            let u = dir.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: u.path) else { return nil }
            let b: [UInt8]
            do { b = try FileBytes.read(u, limit: maxConfigBytes) } catch { throw DataError(u, error.reason) }
            guard let text = String(validating: b, as: UTF8.self) else { throw DataError(u, "not valid UTF-8") }
            do { return (try JSONValue.parse(text), u.path) } catch { throw DataError(u, "malformed JSON: \(error)") }
        }
        return (try read("tokenizer_config.json"), try read("generation_config.json"))
    }

    /// A tokenizer.json's bytes (`file` names it in errors) with the parsed
    /// configs and their paths.
    public static func parse(_ bytes: [UInt8], file: String,
                             configs: (tokenizer: (JSONValue, String)?, generation: (JSONValue, String)?) = (nil, nil)) throws -> HFTokenizer {
        let body = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? bytes[3...] : bytes[...]
        guard let text = String(validating: body, as: UTF8.self) else { throw DataError(file: file, "not valid UTF-8") }
        let root: JSONValue
        do { root = try JSONValue.parse(text) } catch { throw DataError(file: file, "malformed JSON: \(error)") }
        let parts: Parts
        do { parts = try Parts(root) } catch let e as DataError where e.file == nil { throw DataError(file: file, e.message) }
        return try HFTokenizer(parts, hashing: bytes, file: file, configs: configs)
    }

    /// The components of a tokenizer.json.
    struct Parts {
        var added: [HFAddedTokens.Token] = []
        var normalizer: HFNormalizer?
        var preTokenizer: HFPreTokenizer?
        var model: HFBPEModel
        var decoder: HFDecoder?
        var postProcessor: HFPostProcessor?

        init(_ json: JSONValue) throws {
            guard case .object = json else { throw DataError("top level is not a JSON object") }
            let root = HFField(json, "")
            for key in ["truncation", "padding"] where root.optional(key) != nil {
                throw DataError("\(key): only null is supported")
            }
            normalizer = try root.optional("normalizer").map(HFNormalizer.parse)
            preTokenizer = try root.optional("pre_tokenizer").map(HFPreTokenizer.parse)
            decoder = try root.optional("decoder").map(HFDecoder.parse)
            postProcessor = try root.optional("post_processor").map(HFPostProcessor.parse)

            let m = try root.required("model")
            let type = try m.optional("type")?.string() ?? "BPE"
            guard type == "BPE" else { throw m.unsupportedType(type, supported: ["BPE"]) }
            if let d = m.optional("dropout"), d.value.doubleValue != 0 { throw DataError("\(d.path): only null is supported") }
            for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
                if let v = m.optional(key), v.value != .string("") { throw DataError("\(v.path): only null is supported") }
            }
            guard case let .object(vocabPairs) = try m.required("vocab").value else {
                throw DataError("model.vocab: expected an object")
            }
            var addedItems: [HFField] = []
            if let a = root.optional("added_tokens") { addedItems = try a.array() }
            let idLimit = vocabPairs.count + addedItems.count + HFBPEModel.idSlack
            var vocab: [(String, Int32)] = []
            vocab.reserveCapacity(vocabPairs.count)
            for (k, v) in vocabPairs {
                let id = try HFField(v, "model.vocab[\(JSONValue.string(k).brief())]").int(in: 0...(idLimit - 1))
                vocab.append((k, Int32(id)))
            }
            var merges: [(String, String)] = []
            let items = try m.required("merges").array()
            merges.reserveCapacity(items.count)
            for item in items {
                switch item.value {
                case let .string(s):
                    let p = s.split(separator: " ", omittingEmptySubsequences: false)
                    guard p.count == 2 else { throw DataError("\(item.path): \(item.value.brief()) is not two tokens separated by one space") }
                    merges.append((String(p[0]), String(p[1])))
                case let .array(p):
                    guard p.count == 2, let a = p[0].stringValue, let b = p[1].stringValue else {
                        throw DataError("\(item.path): expected an array of two strings")
                    }
                    merges.append((a, b))
                default:
                    throw DataError("\(item.path): expected a string or an array of two strings")
                }
            }
            model = try HFBPEModel(vocab: vocab, merges: merges, unk: try m.optional("unk_token")?.string(),
                                   fuseUnk: try m.bool("fuse_unk", default: false),
                                   byteFallback: try m.bool("byte_fallback", default: false),
                                   ignoreMerges: try m.bool("ignore_merges", default: false), idLimit: idLimit)
            for t in addedItems {
                let id = try t.required("id").int(in: 0...(idLimit - 1))
                let special = try t.bool("special", default: false)
                added.append(HFAddedTokens.Token(
                    id: Int32(id), content: try t.required("content").string(), special: special,
                    singleWord: try t.bool("single_word", default: false), lstrip: try t.bool("lstrip", default: false),
                    rstrip: try t.bool("rstrip", default: false), normalized: try t.bool("normalized", default: !special)))
            }
        }
    }

    init(_ parts: Parts, hashing bytes: [UInt8], file: String,
         configs: (tokenizer: (JSONValue, String)?, generation: (JSONValue, String)?)) throws {
        do { addedTokens = try HFAddedTokens(parts.added, normalizer: parts.normalizer) } catch let e as DataError {
            throw DataError(file: file, e.message)
        }
        normalizer = parts.normalizer
        preTokenizer = parts.preTokenizer
        model = parts.model
        decoder = parts.decoder
        postProcessor = parts.postProcessor
        var specials: [String: Int32] = [:]
        var maxId = Int32(model.tokens.count) - 1
        for t in parts.added {
            if t.special && specials[t.content] == nil { specials[t.content] = t.id }
            maxId = max(maxId, t.id)
        }
        self.specials = specials
        specialIds = Set(parts.added.filter(\.special).map(\.id))
        vocabSize = Int(maxId) + 1

        // bos / eos / pad: by name from tokenizer_config.json, else by id from generation_config.json.
        let added = parts.added
        let model = parts.model
        func idOf(_ content: String) -> Int32? {
            added.last(where: { $0.content == content })?.id ?? model.ids[[UInt32](scalarsOf: content)]
        }
        func named(_ key: String) throws -> Int32? {
            guard let (json, path) = configs.tokenizer, let v = json[key], v != .null else { return nil }
            // A string, or an AddedToken object {"content": …}.
            guard let content = v.stringValue ?? v["content"]?.stringValue else {
                throw DataError(file: path, "\(key): expected a string or an object with \"content\"")
            }
            guard let id = idOf(content) else {
                throw DataError(file: path, "\(key): \(JSONValue.string(content).brief()) is not a token of \(file)")
            }
            return id
        }
        func numbered(_ key: String) throws -> Int32? {
            guard let (json, path) = configs.generation, let v = json[key], v != .null else { return nil }
            let first: JSONValue? = if case let .array(a) = v { a.first } else { v }
            guard let i = first?.intValue, i >= 0, i <= Int(maxId) else {
                throw DataError(file: path, "\(key): \(v.brief()) is not an id of \(file) (0...\(maxId))")
            }
            return Int32(i)
        }
        bosId = try named("bos_token") ?? numbered("bos_token_id")
        guard let eos = try named("eos_token") ?? numbered("eos_token_id") else {
            throw DataError(file: file, "no eos token: tokenizer_config.json has no eos_token and generation_config.json no eos_token_id")
        }
        self.eos = eos
        padId = try named("pad_token") ?? numbered("pad_token_id")
        let line = "\nbos \(bosId.map(String.init) ?? "none") eos \(eos) pad \(padId.map(String.init) ?? "none")\n"
        name = "hf-" + sha256Hex(bytes + Array(line.utf8)).prefix(16)
    }
}
