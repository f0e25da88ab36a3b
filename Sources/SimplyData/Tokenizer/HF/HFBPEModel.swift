import SimplyCore

/// The `model` of a tokenizer.json: `BPE` as `tokenizers` runs it, without
/// dropout, continuing-subword prefix or end-of-word suffix.
///
/// A word starts as one symbol per scalar, looked up in the vocabulary. A
/// scalar missing from it becomes, with `byte_fallback`, the `<0xXX>` tokens
/// of its UTF-8 bytes (when all exist), else the `unk_token` (consecutive
/// ones fused into one with `fuse_unk`), else nothing. Merges then apply
/// lowest rank first (`PairTable.mergeAll`, shared with `BPETokenizer`).
/// With `ignore_merges` a word that is itself in the vocabulary is that one
/// token, merges or not.
struct HFBPEModel: Sendable {
    /// Token strings by id (nil: no such id in the model).
    let tokens: [String?]
    /// Every token (as scalars) to its id.
    let ids: [[UInt32]: Int32]
    /// Ids of one-scalar tokens of the Basic Multilingual Plane (-1: none).
    private let single: [Int32]
    private let merges: PairTable
    /// `<0xXX>` ids when byte_fallback is on (-1: absent).
    private let byteFallback: [Int32]?
    private let unkId: Int32?
    private let fuseUnk: Bool
    private let ignoreMerges: Bool
    let mergeCount: Int

    /// Ids must be below the number of tokens plus this.
    static let idSlack = BPETokenizer.idSlack

    init(vocab: [(String, Int32)], merges mergeList: [(String, String)], unk: String?, fuseUnk: Bool,
         byteFallback: Bool, ignoreMerges: Bool, idLimit: Int) throws {
        var ids: [[UInt32]: Int32] = [:]
        ids.reserveCapacity(vocab.count)
        var maxId: Int32 = -1
        for (token, id) in vocab {
            guard id >= 0, Int(id) < idLimit else {
                throw DataError("model.vocab: id \(id) of \(JSONValue.string(token).brief()) is outside 0..<\(idLimit)")
            }
            guard ids.updateValue(id, forKey: [UInt32](scalarsOf: token)) == nil else {
                throw DataError("model.vocab: token \(JSONValue.string(token).brief()) appears twice")
            }
            maxId = max(maxId, id)
        }
        var tokens = [String?](repeating: nil, count: Int(maxId) + 1)
        for (token, id) in vocab {
            if let other = tokens[Int(id)] {
                throw DataError("model.vocab: id \(id) is used by both \(JSONValue.string(other).brief()) and \(JSONValue.string(token).brief())")
            }
            tokens[Int(id)] = token
        }
        var single = [Int32](repeating: -1, count: 0x10000)
        for (token, id) in vocab {
            let s = token.unicodeScalars
            if s.count == 1, let u = s.first, u.value < 0x10000 { single[Int(u.value)] = id }
        }
        var table = PairTable(capacity: mergeList.count)
        for (rank, (a, b)) in mergeList.enumerated() {
            guard let l = ids[[UInt32](scalarsOf: a)], let r = ids[[UInt32](scalarsOf: b)] else {
                throw DataError("model.merges[\(rank)]: \(JSONValue.string(a + " " + b).brief()) uses a token not in model.vocab")
            }
            guard let m = ids[[UInt32](scalarsOf: a + b)] else {
                throw DataError("model.merges[\(rank)]: merged token \(JSONValue.string(a + b).brief()) is not in model.vocab")
            }
            table.insert(PairTable.key(l, r), rank: UInt32(rank), id: m)  // a repeated pair keeps its last rank, as HF's map
        }
        if let unk {
            guard let id = ids[[UInt32](scalarsOf: unk)] else {
                throw DataError("model.unk_token: \(JSONValue.string(unk).brief()) is not in model.vocab")
            }
            unkId = id
        } else {
            unkId = nil
        }
        if byteFallback {
            var bytes = [Int32](repeating: -1, count: 256)
            for b in 0..<256 {
                let hex = String(b, radix: 16, uppercase: true)
                bytes[b] = ids[[UInt32](scalarsOf: "<0x" + (b < 16 ? "0" : "") + hex + ">")] ?? -1
            }
            self.byteFallback = bytes
        } else {
            self.byteFallback = nil
        }
        self.tokens = tokens
        self.ids = ids
        self.single = single
        self.merges = table
        self.fuseUnk = fuseUnk
        self.ignoreMerges = ignoreMerges
        self.mergeCount = mergeList.count
    }

    @inline(__always)
    private func id(of v: UInt32) -> Int32? {
        if v < 0x10000 { let i = single[Int(v)]; return i >= 0 ? i : nil }
        return ids[[v]]
    }

    /// Appends the ids of `word` to `out`; `syms` is scratch space.
    func tokenize(_ word: [UInt32], into out: inout [Int32], _ syms: inout [Int32]) {
        if word.isEmpty { return }
        if ignoreMerges, let id = word.count == 1 ? id(of: word[0]) : ids[word] {
            out.append(id)
            return
        }
        syms.removeAll(keepingCapacity: true)
        var pendingUnk = false
        for v in word {
            if let id = id(of: v) {
                if pendingUnk, let u = unkId { syms.append(u); pendingUnk = false }
                syms.append(id)
                continue
            }
            if let table = byteFallback, let u = Unicode.Scalar(v) {
                let utf8 = Array(String(u).utf8)
                if utf8.allSatisfy({ table[Int($0)] >= 0 }) {
                    // As tokenizers: the byte tokens go in without flushing a pending unk first.
                    for b in utf8 { syms.append(table[Int(b)]) }
                    continue
                }
            }
            if let u = unkId {
                if pendingUnk && !fuseUnk { syms.append(u) }
                pendingUnk = true
            }
        }
        if pendingUnk, let u = unkId { syms.append(u) }
        merges.mergeAll(&syms)
        out.append(contentsOf: syms)
    }
}
