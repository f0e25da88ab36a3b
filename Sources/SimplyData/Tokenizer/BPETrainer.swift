/// Trains a byte-level BPE tokenizer (the same scheme as HF's `BpeTrainer`
/// behind a `ByteLevel` pre-tokenizer), single-threaded and deterministic.
///
/// - Ids 0…255 are the 256 byte-level characters in byte order; merged tokens
///   follow in merge order; the specials `SpecialTokens.all` take the last ids.
/// - Each step merges the adjacent pair with the highest count over the
///   pre-token word counts. Ties go to the smallest (left id, right id) —
///   HF's tie rule, applied to these ids. Training stops when the vocabulary
///   (specials included) reaches `vocabSize` or no pair occurs at least
///   `minFrequency` times.
/// - Words are sorted by their bytes before training, so the result is a
///   function of the multiset of pre-tokens only, not of text order.
/// - Pair counts are updated incrementally: a merge only revisits the words
///   that contain the pair (a lazily updated max-heap finds the next pair).
public enum BPETrainer {
    public static func train(texts: [String], vocabSize: Int, minFrequency: Int = 2) throws -> BPETokenizer {
        let specials = SpecialTokens.all
        guard vocabSize >= 256 + specials.count, vocabSize <= Int(Int32.max) else {
            throw DataError("vocab_size \(vocabSize) must be at least \(256 + specials.count) (256 bytes + \(specials.count) specials)")
        }
        guard minFrequency >= 1 else { throw DataError("min_frequency \(minFrequency) must be at least 1") }

        // Word counts, then words in byte order.
        var counts: [[UInt8]: Int] = [:]
        for text in texts {
            var t = text
            t.withUTF8 { buf in
                PreTokenizer.forEachPiece(buf) { r in counts[Array(buf[r]), default: 0] += 1 }
            }
        }
        let sortedWords = counts.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        var words: [[Int32]] = sortedWords.map { $0.key.map { Int32($0) } }
        let wordCounts: [Int] = sortedWords.map { $0.value }

        var pairCounts: [UInt64: Int] = [:]
        var wordsWith: [UInt64: [Int32]] = [:]  // may hold stale or repeated word indices
        for (w, syms) in words.enumerated() where syms.count >= 2 {
            for i in 0..<(syms.count - 1) {
                let k = PairTable.key(syms[i], syms[i + 1])
                pairCounts[k, default: 0] += wordCounts[w]
                if wordsWith[k]?.last != Int32(w) { wordsWith[k, default: []].append(Int32(w)) }
            }
        }
        var heap = BinaryHeap(sorted: pairCounts.map { PairCount(count: $0.value, key: $0.key) }.sorted())

        var tokens: [[UInt8]] = (0..<256).map { [UInt8($0)] }
        var tokenIds: [[UInt8]: Int32] = [:]
        for (i, t) in tokens.enumerated() { tokenIds[t] = Int32(i) }
        var merges: [(left: Int32, right: Int32)] = []
        let target = vocabSize - specials.count

        while tokens.count < target, let top = heap.pop() {
            let current = pairCounts[top.key] ?? 0
            if current != top.count {  // stale entry: counts only fall, so re-queue the true count
                if current > 0 { heap.push(PairCount(count: current, key: top.key)) }
                continue
            }
            if current < minFrequency { break }
            let left = Int32(truncatingIfNeeded: top.key >> 32), right = Int32(truncatingIfNeeded: top.key)
            let bytes = tokens[Int(left)] + tokens[Int(right)]
            let merged: Int32
            if let id = tokenIds[bytes] {
                merged = id  // the same bytes from a different split (as HF: no new vocab entry)
            } else {
                merged = Int32(tokens.count)
                tokens.append(bytes)
                tokenIds[bytes] = merged
            }
            merges.append((left, right))

            var touched: [UInt64] = []
            var ws = wordsWith.removeValue(forKey: top.key) ?? []
            ws.sort()
            var previous: Int32 = -1
            for w in ws where w != previous {
                previous = w
                var syms = words[Int(w)]
                words[Int(w)] = []  // move out, so editing `syms` does not copy it
                let c = wordCounts[Int(w)]
                func add(_ k: UInt64) {
                    pairCounts[k, default: 0] += c
                    touched.append(k)
                    if wordsWith[k]?.last != w { wordsWith[k, default: []].append(w) }
                }
                // Merge left to right in place, updating only the pairs next to
                // each merge (as HF's `Word::merge` reports its changes): the pair
                // before now ends in `merged` — its left symbol may be a merge
                // made earlier in this pass — and the pair after starts with it.
                // Changes to (left, right) itself are moot: it is dropped below.
                let n = syms.count
                var out = 0, i = 0, changed = false
                while i < n {
                    if i + 1 < n && syms[i] == left && syms[i + 1] == right {
                        changed = true
                        if out > 0 {
                            let p = syms[out - 1]
                            pairCounts[PairTable.key(p, left)]! -= c
                            add(PairTable.key(p, merged))
                        }
                        if i + 2 < n {
                            let next = syms[i + 2]
                            pairCounts[PairTable.key(right, next)]! -= c
                            add(PairTable.key(merged, next))
                        }
                        syms[out] = merged; i += 2
                    } else {
                        syms[out] = syms[i]; i += 1
                    }
                    out += 1
                }
                if changed { syms.removeLast(n - out) }  // else a stale entry of wordsWith
                words[Int(w)] = syms
            }
            pairCounts[top.key] = nil
            touched.sort()
            var last: UInt64? = nil
            for k in touched where k != last {
                last = k
                if let c = pairCounts[k], c > 0 { heap.push(PairCount(count: c, key: k)) }
            }
        }

        let strings = tokens.map { ByteLevel.encode($0) }
        var vocab: [(token: String, id: Int32)] = strings.enumerated().map { ($0.element, Int32($0.offset)) }
        var added: [BPETokenizer.AddedToken] = []
        for s in specials {
            let id = Int32(vocab.count)
            vocab.append((s, id))
            added.append(.init(id: id, content: s, special: true, normalized: false))
        }
        return try BPETokenizer(vocab: vocab, merges: merges.map { (strings[Int($0.left)], strings[Int($0.right)]) },
                                addedTokens: added)
    }
}

/// A pair and its count, ordered for the trainer's queue: higher count
/// first, then the smaller pair (the min of `BinaryHeap` is the next merge).
struct PairCount: Comparable {
    var count: Int
    var key: UInt64
    static func < (x: PairCount, y: PairCount) -> Bool { x.count != y.count ? x.count > y.count : x.key < y.key }
}
