import SimplyCore

/// Token embedding lookup and its backward (a scatter-add).
enum Embedding {
    /// x[n, :] = table[tokens[n], :]
    static func forward(_ x: Tensor, table: Tensor, tokens: [Int32], parallel: Parallel) {
        let d = table.shape[1]
        let rows = tokens.count
        tokens.withUnsafeBufferPointer { tb in
            let tp = SendablePointer(UnsafeMutablePointer(mutating: tb.baseAddress!))
            parallel.forEachRange(rows, grain: 64) { r in
                for n in r {
                    (x.pointer + n * d).update(from: table.pointer + Int(tp.p[n]) * d, count: d)
                }
            }
        }
    }

    /// dtable[tokens[n], :] += dx[n, :], rows added in order n = 0, 1, …
    /// (threads split the columns, so repeated tokens still add in row order).
    static func backward(_ dtable: Tensor, dx: Tensor, tokens: [Int32], parallel: Parallel) {
        let d = dtable.shape[1]
        tokens.withUnsafeBufferPointer { tb in
            let tp = SendablePointer(UnsafeMutablePointer(mutating: tb.baseAddress!))
            let rows = tb.count
            parallel.forEachRange(d, grain: 32) { cols in
                for n in 0..<rows {
                    let dst = dtable.pointer + Int(tp.p[n]) * d, src = dx.pointer + n * d
                    for j in cols { dst[j] += src[j] }
                }
            }
        }
    }
}
