import Foundation
import SimplyCore

/// Byte-level BPE (GPT-2 style), compatible with Hugging Face `tokenizers`
/// files: a `BPE` model behind a `ByteLevel(add_prefix_space=False)`
/// pre-tokenizer and a `ByteLevel` decoder, without normalizer, dropout,
/// unknown-token fusing or byte fallback.
///
/// Encoding splits the text with `PreTokenizer`, writes each piece's UTF-8
/// bytes as byte-level characters, and applies merges lowest rank first, the
/// leftmost occurrence first among equal ranks — as HF's `BPE::merge_word`.
/// Unlike HF's `Tokenizer.encode`, added/special token strings inside the text
/// are not matched: they encode as plain text (see `Tokenizer.encode`).
public struct BPETokenizer: Tokenizer {
    /// An entry of `added_tokens`. The flags other than `special` only matter
    /// to HF's matching of added tokens in text (which Simply does not do);
    /// they are kept so that a loaded file writes back unchanged.
    public struct AddedToken: Sendable, Equatable {
        public let id: Int32
        public let content: String
        public let special: Bool
        public let singleWord: Bool
        public let lstrip: Bool
        public let rstrip: Bool
        public let normalized: Bool

        public init(id: Int32, content: String, special: Bool, singleWord: Bool = false,
                    lstrip: Bool = false, rstrip: Bool = false, normalized: Bool? = nil) {
            self.id = id; self.content = content; self.special = special
            self.singleWord = singleWord; self.lstrip = lstrip; self.rstrip = rstrip
            self.normalized = normalized ?? !special  // HF's default
        }
    }

    /// Model vocabulary, sorted by id (ids may have gaps).
    public let vocab: [(token: String, id: Int32)]
    /// Merges in rank order (rank = index).
    public let merges: [(left: String, right: String)]
    public let addedTokens: [AddedToken]
    public let unkToken: String?

    public let vocabSize: Int
    public let bos: Int32
    public let eos: Int32
    public let pad: Int32
    /// "bpe-" + the first 16 hex digits of the SHA-256 of `serialized()`.
    public let name: String

    /// Id of each byte's character, or -1 when the vocabulary lacks it.
    private let byteIds: [Int32]
    private let unkId: Int32
    /// (left id, right id) → (rank, merged id).
    private let mergeTable: PairTable
    /// The bytes each id decodes to (nil: no such id).
    private let idBytes: [[UInt8]?]
    private let specials: [String: Int32]
    private let canonical: [UInt8]

    /// How far ids may run past the number of tokens: ids index a table, so
    /// an id must be below `vocab.count + addedTokens.count + idSlack` (gaps
    /// allowed up to that). A file cannot make the table larger than itself.
    public static let idSlack = 1024

    /// Builds a tokenizer from its parts; any inconsistency is a `DataError`
    /// naming the JSON key it would come from (`model.vocab`, `model.merges`,
    /// `added_tokens`).
    public init(vocab: [(token: String, id: Int32)], merges: [(left: String, right: String)],
                addedTokens: [AddedToken], unkToken: String? = nil) throws {
        let idLimit = vocab.count + addedTokens.count + Self.idSlack
        func tooLarge(_ key: String, _ token: String, _ id: Int32) -> DataError {
            DataError("\(key): id \(id) of \(quoted(token)) is too large: ids must be below the number of tokens "
                      + "(\(vocab.count + addedTokens.count)) + \(Self.idSlack)")
        }
        let sortedVocab = vocab.sorted { $0.id < $1.id }
        var ids: [String: Int32] = [:]
        ids.reserveCapacity(sortedVocab.count)
        var maxId: Int32 = -1
        for (i, e) in sortedVocab.enumerated() {
            guard e.id >= 0 else { throw DataError("model.vocab: token \(quoted(e.token)) has negative id \(e.id)") }
            guard Int(e.id) < idLimit else { throw tooLarge("model.vocab", e.token, e.id) }
            if i > 0 && sortedVocab[i - 1].id == e.id {
                throw DataError("model.vocab: id \(e.id) is used by both \(quoted(sortedVocab[i - 1].token)) and \(quoted(e.token))")
            }
            guard ids.updateValue(e.id, forKey: e.token) == nil else {
                throw DataError("model.vocab: token \(quoted(e.token)) appears twice")
            }
            maxId = e.id
        }
        var table = PairTable(capacity: merges.count)
        for (rank, m) in merges.enumerated() {
            guard let a = ids[m.left], let b = ids[m.right] else {
                throw DataError("model.merges[\(rank)]: \(quoted(m.left + " " + m.right)) uses a token not in model.vocab")
            }
            guard let ab = ids[m.left + m.right] else {
                throw DataError("model.merges[\(rank)]: merged token \(quoted(m.left + m.right)) is not in model.vocab")
            }
            // A repeated pair takes its last rank, as HF's map construction does.
            table.insert(PairTable.key(a, b), rank: UInt32(rank), id: ab)
        }
        var specials: [String: Int32] = [:]
        var addedIds = Set<Int32>()
        for t in addedTokens {
            guard t.id >= 0 else { throw DataError("added_tokens: \(quoted(t.content)) has negative id \(t.id)") }
            guard Int(t.id) < idLimit else { throw tooLarge("added_tokens", t.content, t.id) }
            guard addedIds.insert(t.id).inserted else { throw DataError("added_tokens: id \(t.id) appears twice") }
            if let vid = ids[t.content], vid != t.id {
                throw DataError("added_tokens: \(quoted(t.content)) has id \(t.id) but model.vocab gives it \(vid)")
            }
            if t.special && specials[t.content] == nil { specials[t.content] = t.id }
            maxId = max(maxId, t.id)
        }
        func required(_ s: String) throws -> Int32 {
            guard let id = specials[s] else { throw DataError("added_tokens: no special token \(quoted(s))") }
            return id
        }
        bos = try required(SpecialTokens.bos)
        eos = try required(SpecialTokens.eos)
        pad = try required(SpecialTokens.pad)
        if let u = unkToken {
            guard let id = ids[u] else { throw DataError("model.unk_token: \(quoted(u)) is not in model.vocab") }
            unkId = id
        } else {
            unkId = -1
        }

        var byteIds = [Int32](repeating: -1, count: 256)
        for b in 0..<256 { byteIds[b] = ids[String(ByteLevel.scalars[b])] ?? -1 }
        // HF's ByteLevel decoder: a token whose characters are all in the byte
        // table becomes those bytes, any other token its own UTF-8. Added
        // tokens render as their content.
        var idBytes = [[UInt8]?](repeating: nil, count: Int(maxId) + 1)
        for e in sortedVocab { idBytes[Int(e.id)] = ByteLevel.decode(e.token) ?? Array(e.token.utf8) }
        for t in addedTokens { idBytes[Int(t.id)] = Array(t.content.utf8) }

        self.vocab = sortedVocab
        self.merges = merges
        self.addedTokens = addedTokens.sorted { $0.id < $1.id }
        self.unkToken = unkToken
        self.vocabSize = Int(maxId) + 1
        self.byteIds = byteIds
        self.mergeTable = table
        self.idBytes = idBytes
        self.specials = specials
        let bytes = Array(Self.serialize(vocab: sortedVocab, merges: merges, added: self.addedTokens, unk: unkToken).utf8)
        self.canonical = bytes
        self.name = "bpe-" + sha256Hex(bytes).prefix(16)
    }

    public func specialToken(_ content: String) -> Int32? { specials[content] }

    // MARK: Encode

    public func encode(_ text: String) -> [Int32] {
        var t = text
        return t.withUTF8 { buf in
            var out: [Int32] = []
            out.reserveCapacity(buf.count / 3)
            var cache = WordCache()
            let useCache = buf.count >= 4096  // building the memo costs more than it saves on short texts
            var syms: [Int32] = []
            PreTokenizer.forEachPiece(buf) { r in
                let word = UnsafeBufferPointer(rebasing: buf[r])
                if useCache, cache.append(word, to: &out) { return }
                mergeWord(word, into: &syms)
                if useCache { cache.insert(word, syms) }
                out.append(contentsOf: syms)
            }
            return out
        }
    }

    /// HF `BPE::merge_word` without dropout: start from one symbol per byte,
    /// then repeatedly merge the lowest-ranked adjacent pair. All occurrences
    /// of that pair are merged left to right before the next rank, which is
    /// the order HF's (rank, position) queue produces: a merge never creates
    /// another occurrence of its own pair.
    private func mergeWord(_ word: UnsafeBufferPointer<UInt8>, into syms: inout [Int32]) {
        syms.removeAll(keepingCapacity: true)
        for b in word {
            let id = byteIds[Int(b)]
            if id >= 0 { syms.append(id) } else if unkId >= 0 { syms.append(unkId) }  // no unk: HF drops the byte
        }
        mergeTable.mergeAll(&syms)
    }

    // MARK: Decode

    /// Token bytes are joined and decoded as UTF-8 together (so a character
    /// split across tokens survives); invalid sequences become U+FFFD.
    /// Specials render as their content; an unknown id as `<|unk:ID|>`.
    public func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        var out = ""
        for id in ids {
            if id >= 0 && Int(id) < idBytes.count, let b = idBytes[Int(id)] {
                bytes.append(contentsOf: b)
            } else {
                out += String(decoding: bytes, as: UTF8.self) + "<|unk:\(id)|>"
                bytes.removeAll(keepingCapacity: true)
            }
        }
        return out + String(decoding: bytes, as: UTF8.self)
    }

    // MARK: tokenizer.json

    /// The tokenizer.json text this tokenizer writes (deterministic: fixed key
    /// order, vocabulary by id, merges by rank).
    public func serialized() -> String { String(decoding: canonical, as: UTF8.self) }

    /// Writes a tokenizer.json that Python `tokenizers.Tokenizer.from_file`
    /// loads and encodes identically.
    public func write(to url: URL) throws {
        do { try Data(canonical).write(to: url, options: .atomic) } catch {
            throw DataError(url, "cannot write: \(error.localizedDescription)")
        }
    }

    static func serialize(vocab: [(token: String, id: Int32)], merges: [(left: String, right: String)],
                          added: [AddedToken], unk: String?) -> String {
        func s(_ x: String) -> String { JSONValue.string(x).serialized() }
        var o = "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": ["
        for (i, t) in added.enumerated() {
            o += i == 0 ? "\n" : ",\n"
            o += "    {\"id\": \(t.id), \"content\": \(s(t.content)), \"single_word\": \(t.singleWord), "
            o += "\"lstrip\": \(t.lstrip), \"rstrip\": \(t.rstrip), \"normalized\": \(t.normalized), \"special\": \(t.special)}"
        }
        o += added.isEmpty ? "],\n" : "\n  ],\n"
        o += "  \"normalizer\": null,\n"
        o += "  \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true},\n"
        o += "  \"post_processor\": null,\n"
        o += "  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true},\n"
        o += "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n"
        o += "    \"unk_token\": \(unk.map(s) ?? "null"),\n"
        o += "    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n"
        o += "    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": false,\n"
        o += "    \"vocab\": {"
        for (i, e) in vocab.enumerated() { o += (i == 0 ? "\n      " : ",\n      ") + s(e.token) + ": \(e.id)" }
        o += vocab.isEmpty ? "},\n" : "\n    },\n"
        o += "    \"merges\": ["
        for (i, m) in merges.enumerated() { o += (i == 0 ? "\n      [" : ",\n      [") + s(m.left) + ", " + s(m.right) + "]" }
        o += merges.isEmpty ? "]\n" : "\n    ]\n"
        o += "  }\n}\n"
        return o
    }

    /// Reads a Hugging Face tokenizer.json. Only byte-level BPE as described
    /// on the type is accepted; anything else is a one-line `DataError`
    /// naming the file and the key.
    public static func load(_ url: URL) throws -> BPETokenizer {
        let bytes: [UInt8]
        do { bytes = try FileBytes.read(url) } catch { throw DataError(url, error.reason) }
        return try parse(bytes, file: url.path)
    }

    /// A tokenizer.json's bytes; `file` names it in errors.
    public static func parse(_ bytes: [UInt8], file: String) throws -> BPETokenizer {
        let body = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? bytes[3...] : bytes[...]  // a UTF-8 byte-order mark
        guard let text = String(validating: body, as: UTF8.self) else { throw DataError(file: file, "not valid UTF-8") }
        let root: JSONValue
        do { root = try JSONValue.parse(text) } catch { throw DataError(file: file, "malformed JSON: \(error)") }
        do {
            return try fromJSON(root)
        } catch let e as DataError where e.file == nil {
            throw DataError(file: file, e.message)
        }
    }

    /// The parts of a parsed tokenizer.json (errors carry no file name).
    static func fromJSON(_ root: JSONValue) throws -> BPETokenizer {
        guard case .object = root else { throw DataError("top level is not a JSON object") }
        func isNull(_ v: JSONValue?) -> Bool { v == nil || v == .null }
        func type(_ v: JSONValue?) -> String? { v?["type"]?.stringValue }
        for key in ["truncation", "padding", "normalizer"] where !isNull(root[key]) {
            throw DataError("\(key): only null is supported")
        }
        // Pre-tokenizer: ByteLevel, or a Sequence holding just ByteLevel.
        var pre = root["pre_tokenizer"]
        var preKey = "pre_tokenizer"
        if type(pre) == "Sequence" {
            guard case let .array(items)? = pre?["pretokenizers"], items.count == 1 else {
                throw DataError("pre_tokenizer.pretokenizers: only a Sequence of exactly one ByteLevel is supported")
            }
            pre = items[0]; preKey = "pre_tokenizer.pretokenizers[0]"
        }
        guard type(pre) == "ByteLevel" else {
            throw DataError("\(preKey).type: \(describe(pre?["type"])) is not supported (only ByteLevel)")
        }
        if pre?["add_prefix_space"]?.boolValue != false {
            throw DataError("\(preKey).add_prefix_space: only false is supported")
        }
        if let r = pre?["use_regex"], r.boolValue != true { throw DataError("\(preKey).use_regex: only true is supported") }
        let post = root["post_processor"]
        if !isNull(post) && type(post) != "ByteLevel" {
            throw DataError("post_processor.type: \(describe(post?["type"])) is not supported (only null or ByteLevel)")
        }
        guard type(root["decoder"]) == "ByteLevel" else {
            throw DataError("decoder.type: \(describe(root["decoder"]?["type"])) is not supported (only ByteLevel)")
        }

        guard let model = root["model"], case .object = model else { throw DataError("model: missing or not an object") }
        guard type(model) == "BPE" else {
            throw DataError("model.type: \(describe(model["type"])) is not supported (only BPE)")
        }
        if !isNull(model["dropout"]) { throw DataError("model.dropout: only null is supported") }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = model[key], v != .null, v != .string("") { throw DataError("model.\(key): only null is supported") }
        }
        for key in ["fuse_unk", "byte_fallback", "ignore_merges"] {
            if let v = model[key], v != .null, v.boolValue != false { throw DataError("model.\(key): only false is supported") }
        }
        var unk: String? = nil
        if let u = model["unk_token"], u != .null {
            guard let s = u.stringValue else { throw DataError("model.unk_token: not a string") }
            unk = s
        }

        guard case let .object(vocabPairs)? = model["vocab"] else { throw DataError("model.vocab: missing or not an object") }
        var vocab: [(token: String, id: Int32)] = []
        vocab.reserveCapacity(vocabPairs.count)
        for (k, v) in vocabPairs {
            guard let id = v.intValue, let id32 = Int32(exactly: id) else {
                throw DataError("model.vocab: id of \(quoted(k)) is not an integer")
            }
            vocab.append((k, id32))
        }

        guard case let .array(mergeItems)? = model["merges"] else { throw DataError("model.merges: missing or not an array") }
        var merges: [(left: String, right: String)] = []
        merges.reserveCapacity(mergeItems.count)
        for (i, m) in mergeItems.enumerated() {
            switch m {
            case let .string(s):  // legacy "a b"
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw DataError("model.merges[\(i)]: \(quoted(s)) is not two tokens separated by one space") }
                merges.append((String(parts[0]), String(parts[1])))
            case let .array(parts):
                guard parts.count == 2, let a = parts[0].stringValue, let b = parts[1].stringValue else {
                    throw DataError("model.merges[\(i)]: expected an array of two strings")
                }
                merges.append((a, b))
            default:
                throw DataError("model.merges[\(i)]: expected a string or an array of two strings")
            }
        }

        var added: [AddedToken] = []
        if let a = root["added_tokens"], a != .null {
            guard case let .array(items) = a else { throw DataError("added_tokens: not an array") }
            for (i, t) in items.enumerated() {
                guard let id = t["id"]?.intValue, let id32 = Int32(exactly: id), let content = t["content"]?.stringValue else {
                    throw DataError("added_tokens[\(i)]: needs an integer \"id\" and a string \"content\"")
                }
                func flag(_ k: String) throws -> Bool? {
                    guard let v = t[k], v != .null else { return nil }
                    guard let b = v.boolValue else { throw DataError("added_tokens[\(i)].\(k): not a boolean") }
                    return b
                }
                added.append(AddedToken(id: id32, content: content, special: try flag("special") ?? false,
                                        singleWord: try flag("single_word") ?? false, lstrip: try flag("lstrip") ?? false,
                                        rstrip: try flag("rstrip") ?? false, normalized: try flag("normalized")))
            }
        }
        return try BPETokenizer(vocab: vocab, merges: merges, addedTokens: added, unkToken: unk)
    }

    private static func describe(_ v: JSONValue?) -> String {
        guard let v else { return "missing" }
        return v.brief()
    }
}

private func quoted(_ s: String) -> String { JSONValue.string(s).brief() }

/// Open-addressing hash map from a pair of ids to (rank, merged id); a
/// fixed multiplicative hash keeps lookups cheap in the merge loop.
struct PairTable: Sendable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private let mask: Int
    private static let empty = UInt64.max

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: Self.empty, count: size)
        values = [UInt64](repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always) static func key(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(a)) << 32 | UInt64(UInt32(b)) }

    @inline(__always) private func slot(_ k: UInt64) -> Int { Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask }

    mutating func insert(_ k: UInt64, rank: UInt32, id: Int32) {
        var i = slot(k)
        while keys[i] != Self.empty && keys[i] != k { i = (i + 1) & mask }
        keys[i] = k
        values[i] = UInt64(rank) << 32 | UInt64(UInt32(id))
    }

    @inline(__always) func find(_ k: UInt64) -> (UInt32, Int32)? {
        var i = slot(k)
        while true {
            let x = keys[i]
            if x == k { let v = values[i]; return (UInt32(v >> 32), Int32(truncatingIfNeeded: v)) }
            if x == Self.empty { return nil }
            i = (i + 1) & mask
        }
    }
}

/// Per-`encode` memo of word → ids. It stores exact results keyed by the
/// word's bytes, so output never depends on it. Words of up to 7 bytes are
/// packed into one integer key (bytes and length), longer ones keyed by bytes.
struct WordCache {
    private var short: [UInt64: Range<Int>] = [:]
    private var long: [[UInt8]: Range<Int>] = [:]
    private var store: [Int32] = []

    @inline(__always) private static func pack(_ w: UnsafeBufferPointer<UInt8>) -> UInt64? {
        guard w.count <= 7 else { return nil }
        var k = UInt64(w.count) << 56
        for (i, b) in w.enumerated() { k |= UInt64(b) << (8 * UInt64(i)) }
        return k
    }

    /// Appends the cached ids of `w` to `out`; false when not cached.
    mutating func append(_ w: UnsafeBufferPointer<UInt8>, to out: inout [Int32]) -> Bool {
        let r: Range<Int>?
        if let k = Self.pack(w) { r = short[k] } else { r = long[Array(w)] }
        guard let r else { return false }
        out.append(contentsOf: store[r])
        return true
    }

    mutating func insert(_ w: UnsafeBufferPointer<UInt8>, _ ids: [Int32]) {
        if store.count > 1 << 24 { return }  // bound memory on huge inputs
        let r = store.count..<(store.count + ids.count)
        store.append(contentsOf: ids)
        if let k = Self.pack(w) { short[k] = r } else if w.count <= 64 { long[Array(w)] = r }
    }
}
