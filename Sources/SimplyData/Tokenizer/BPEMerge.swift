/// The merge loop of byte-pair encoding, shared by `BPETokenizer` and the
/// `BPE` model of published tokenizers (`HFBPEModel`).
extension PairTable {
    /// HF `Word::merge_all` without dropout: repeatedly merge the
    /// lowest-ranked adjacent pair of `syms`. All occurrences of that pair are
    /// merged left to right before the next rank, which is the order HF's
    /// (rank, position) queue produces: a merge never creates another
    /// occurrence of its own pair.
    func mergeAll(_ syms: inout [Int32]) {
        if syms.count > 64 { mergeLong(&syms); return }
        while syms.count >= 2 {
            var bestRank = UInt32.max
            var bestId: Int32 = -1
            var left: Int32 = 0, right: Int32 = 0
            for i in 0..<(syms.count - 1) {
                if let (rank, id) = find(PairTable.key(syms[i], syms[i + 1])), rank < bestRank {
                    bestRank = rank; bestId = id; left = syms[i]; right = syms[i + 1]
                }
            }
            if bestId < 0 { break }
            var w = 0, i = 0
            let n = syms.count
            while i < n {
                if i + 1 < n && syms[i] == left && syms[i + 1] == right {
                    syms[w] = bestId; i += 2
                } else {
                    syms[w] = syms[i]; i += 1
                }
                w += 1
            }
            syms.removeLast(n - w)
        }
    }

    /// The same merges for long words (a page of CJK text or a base64 blob
    /// is one pre-token) in O(n log n), as HF does it: a min-heap of
    /// (rank, position) over a linked list of symbols. An entry is stale when
    /// its left symbol is gone or the pair there no longer has its rank.
    func mergeLong(_ syms: inout [Int32]) {
        let n = syms.count
        var next = [Int32](unsafeUninitializedCapacity: n) { b, c in for i in 0..<n { b[i] = Int32(i + 1) }; c = n }
        var prev = [Int32](unsafeUninitializedCapacity: n) { b, c in for i in 0..<n { b[i] = Int32(i - 1) }; c = n }
        next[n - 1] = -1
        var alive = [Bool](repeating: true, count: n)
        var heap = BinaryHeap<UInt64>()
        for i in 0..<(n - 1) {
            if let (rank, _) = find(PairTable.key(syms[i], syms[i + 1])) { heap.push(UInt64(rank) << 32 | UInt64(i)) }
        }
        while let top = heap.pop() {
            let rank = UInt32(top >> 32), pos = Int(top & 0xFFFF_FFFF)
            let right = Int(next[pos])
            guard alive[pos], right >= 0, let (r, merged) = find(PairTable.key(syms[pos], syms[right])), r == rank else {
                continue
            }
            syms[pos] = merged
            alive[right] = false
            let after = Int(next[right])
            next[pos] = Int32(after)
            if after >= 0 { prev[after] = Int32(pos) }
            let before = Int(prev[pos])
            if before >= 0, let (r2, _) = find(PairTable.key(syms[before], merged)) {
                heap.push(UInt64(r2) << 32 | UInt64(before))
            }
            if after >= 0, let (r2, _) = find(PairTable.key(merged, syms[after])) {
                heap.push(UInt64(r2) << 32 | UInt64(pos))
            }
        }
        var w = 0
        for i in 0..<n where alive[i] { syms[w] = syms[i]; w += 1 }
        syms.removeLast(n - w)
    }
}
