import SimplyCore

/// y[N, out] = x[N, in] · Wᵀ, W stored [out, in] like nn.Linear.
@inline(__always)
func linearForward(_ y: Tensor, _ x: Tensor, _ w: Tensor, rows: Int, parallel: Parallel) {
    let out = w.shape[0], inp = w.shape[1]
    Matmul.product(y.pointer, x.pointer, w.pointer, m: rows, n: out, k: inp, transB: true, parallel: parallel)
}

/// dx[N, in] (+)= dy[N, out] · W ;  dW[out, in] += dyᵀ · x.
@inline(__always)
func linearBackward(dx: Tensor, accumulateDX: Bool, dw: Tensor, dy: Tensor, x: Tensor, w: Tensor,
                    rows: Int, parallel: Parallel) {
    let out = w.shape[0], inp = w.shape[1]
    Matmul.product(dx.pointer, dy.pointer, w.pointer, m: rows, n: inp, k: out,
                         accumulate: accumulateDX, parallel: parallel)
    Matmul.product(dw.pointer, dy.pointer, x.pointer, m: out, n: inp, k: rows,
                         transA: true, accumulate: true, parallel: parallel)
}
