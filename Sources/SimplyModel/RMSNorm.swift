import SimplyCore

/// RMSNorm (Zhang & Sennrich 2019; Llama): y = x · r · w, r = 1/sqrt(mean(x²) + eps).
/// Row statistics are left-to-right sums over the row; threads split rows.
enum RMSNorm {
    /// y[N, D], rstd[N] from x[N, D] and w[D]. With `adding`, first
    /// x ← x + adding row by row (the residual add, y += x elementwise, fused
    /// into the same pass over the row).
    static func forward(_ y: Tensor, _ rstd: Tensor, _ x: Tensor, _ w: Tensor, rows: Int, eps: Float,
                        adding: Tensor? = nil, parallel: Parallel) {
        let d = w.count
        let xp = SendablePointer(x.pointer), yp = SendablePointer(y.pointer), wp = SendablePointer(w.pointer)
        let rp = SendablePointer(rstd.pointer), ap = adding.map { SendablePointer($0.pointer) }
        parallel.forEachRange(rows, grain: 16) { r in
            for n in r {
                let xr = xp.p + n * d, yr = yp.p + n * d, w = wp.p
                if let ap {
                    let ar = ap.p + n * d
                    for j in 0..<d { xr[j] += ar[j] }
                }
                var ss: Float = 0
                for j in 0..<d { ss += xr[j] * xr[j] }
                let rs = 1 / (ss / Float(d) + eps).squareRoot()
                rp.p[n] = rs
                for j in 0..<d { yr[j] = (xr[j] * rs) * w[j] }
            }
        }
    }

    /// dx[N, D] += ∂/∂x ;  dw[D] += Σ_n dy · x · r  (rows summed in order, threads split columns;
    /// skipped when dw is nil: a frozen weight).
    static func backward(dx: Tensor, dw: Tensor?, dy: Tensor, x: Tensor, rstd: Tensor, w: Tensor, rows: Int, parallel: Parallel) {
        let d = w.count
        if let dw { parallel.forEachRange(d, grain: 64) { cols in
            for n in 0..<rows {
                let xr = x.pointer + n * d, dyr = dy.pointer + n * d
                let rs = rstd.pointer[n]
                for j in cols { dw.pointer[j] += dyr[j] * (xr[j] * rs) }
            }
        } }
        parallel.forEachRange(rows, grain: 16) { r in
            for n in r {
                let xr = x.pointer + n * d, dyr = dy.pointer + n * d, dxr = dx.pointer + n * d
                let rs = rstd.pointer[n]
                // dx_j = r·(dy_j w_j) − x_j · r³ · Σ_k (dy_k w_k x_k) / D
                var dot: Float = 0
                for j in 0..<d { dot += (dyr[j] * w.pointer[j]) * xr[j] }
                let c = rs * rs * rs * dot / Float(d)
                for j in 0..<d { dxr[j] += rs * (dyr[j] * w.pointer[j]) - xr[j] * c }
            }
        }
    }
}
