#!/usr/bin/env python3
"""Derives the constants in Sources/SimplyCore/Math/ (DetMath).

Run once by hand; the Swift code holds the printed literals and never needs
Python.  Needs only mpmath (pip install mpmath; it also ships with torch's
sympy, so the project venv works:
    python3 -m venv .venv && .venv/bin/pip install torch==2.13.0+cpu safetensors numpy
    .venv/bin/python tools/detmath/fit_coefficients.py

What it prints:
  * split constants (ln2, pi/2) as exact hex literals, each part the
    correctly rounded remainder of the previous ones (mpmath, 200 digits);
  * the bits of 2/pi as UInt64 words for the Payne-Hanek reduction;
  * minimax polynomials (Remez exchange, run in 60-digit arithmetic, then
    rounded to the target format) for Float exp and the two pieces of erf.
Taylor coefficients used elsewhere (log, tanh, Double exp/sin/cos) are exact
rationals written in the Swift source and need no script.
"""
import mpmath as mp

mp.mp.dps = 450


def hexd(v):
    """Correctly rounded double of an mpf, as a Swift hex literal."""
    return float(v).hex()  # float(mpf) rounds to nearest


def rnd_double(v):
    return mp.mpf(float(v))


def rnd_float(v):
    import struct
    d = float(v)
    f = struct.unpack('f', struct.pack('f', d))[0]  # double -> float (may double-round; checked below)
    # fix double rounding: pick the nearest float to the exact value among f and its neighbours
    cands = []
    b = struct.unpack('I', struct.pack('f', f))[0]
    for db in (-1, 0, 1):
        c = struct.unpack('f', struct.pack('I', (b + db) & 0xffffffff))[0]
        cands.append((abs(mp.mpf(c) - v), c))
    return min(cands)[1]


def truncated_double(v, bits):
    """v rounded to a double with only `bits` significant bits (trailing zeros)."""
    e = mp.floor(mp.log(abs(v), 2))
    scale = mp.mpf(2) ** (bits - 1 - e)
    return mp.nint(v * scale) / scale


def remez(f, w, a, b, basis, iters=30):
    """Minimax fit of sum c_j*basis_j(x) to f on [a,b] with weight w: minimises max|w*(f-p)|."""
    n = len(basis)
    # Chebyshev-extrema starting reference (n+1 points)
    xs = [(a + b) / 2 + (b - a) / 2 * mp.cos(mp.pi * k / n) for k in range(n, -1, -1)]
    for _ in range(iters):
        # solve sum c_j B_j(x_i) + (-1)^i E / w(x_i) = f(x_i)
        A = mp.matrix(n + 1, n + 1)
        rhs = mp.matrix(n + 1, 1)
        for i, x in enumerate(xs):
            for j, B in enumerate(basis):
                A[i, j] = B(x)
            A[i, n] = (-1) ** i / w(x)
            rhs[i] = f(x)
        sol = mp.lu_solve(A, rhs)
        c = [sol[j] for j in range(n)]
        err = lambda x: w(x) * (f(x) - sum(cj * B(x) for cj, B in zip(c, basis)))
        # new reference: extrema of err on a fine grid, one per sign run
        N = 4000
        grid = [a + (b - a) * k / N for k in range(N + 1)]
        ev = [err(x) for x in grid]
        runs = []
        for x, e in zip(grid, ev):
            if e == 0:
                continue
            if runs and mp.sign(e) == mp.sign(runs[-1][1]):
                if abs(e) > abs(runs[-1][1]):
                    runs[-1] = (x, e)
            else:
                runs.append((x, e))
        while len(runs) > n + 1:  # drop the smallest end extremum
            if abs(runs[0][1]) < abs(runs[-1][1]):
                runs.pop(0)
            else:
                runs.pop()
        if len(runs) < n + 1:
            break
        xs = [x for x, _ in runs]
    return c, max(abs(e) for e in ev)


def main():
    ln2 = mp.log(2)
    print("// ln2 splits")
    l1 = rnd_double(ln2); l2 = rnd_double(ln2 - l1)
    print("ln2Hi (double)  ", hexd(l1), " ln2Lo", hexd(l2))
    l1t = truncated_double(ln2, 42); l2t = rnd_double(ln2 - l1t)
    print("ln2Hi42 (double, 42 bits, n*hi exact for |n|<2^11)", hexd(l1t), " ln2Lo42", hexd(l2t))
    f1 = mp.mpf(rnd_float(ln2)); f2 = mp.mpf(rnd_float(ln2 - f1))
    print("Float ln2Hi", float(f1).hex(), " ln2Lo", float(f2).hex())
    print("log2e double", hexd(1 / ln2), " float", float(mp.mpf(rnd_float(1 / ln2))).hex())

    pio2 = mp.pi / 2
    p1 = rnd_double(pio2); p2 = rnd_double(pio2 - p1); p3 = rnd_double(pio2 - p1 - p2)
    print("// pi/2 = P1 + P2 + P3 (each the rounded remainder)")
    print("pio2_1", hexd(p1), " pio2_2", hexd(p2), " pio2_3", hexd(p3))
    print("2/pi double", hexd(2 / mp.pi))
    t1 = rnd_double(mp.mpf(2) / 3)
    print("2/3 = hi + lo", hexd(t1), hexd(mp.mpf(2) / 3 - t1))

    # bits of 2/pi: word i holds bits with weights 2^(63-64i) .. 2^(-64i), i.e. the
    # table starts with one zero word (integer part and a 64-bit guard) then 2/pi's fraction.
    words = []
    v = 2 / mp.pi  # in (0,1)
    nw = 22
    scaled = mp.floor(v * mp.mpf(2) ** (64 * (nw - 1)))
    val = int(scaled)
    ws = [0] + [(val >> (64 * (nw - 2 - i))) & 0xFFFFFFFFFFFFFFFF for i in range(nw - 1)]
    print("// 2/pi bits, word 0 = 0 guard; word i>=1 = bits 64(i-1)+1 .. 64i of 2/pi's fraction")
    print(", ".join("0x%016X" % w for w in ws))

    mp.mp.dps = 60
    # Float exp: exp(r) ~ 1 + r + r^2*(c2 + c3 r + c4 r^2 + c5 r^3 + c6 r^4), relative error.
    a = mp.mpf('0.3466')
    f = lambda r: mp.exp(r) - 1 - r
    w = lambda r: 1 / mp.exp(r)
    basis = [lambda r, k=k: r ** (k + 2) for k in range(5)]
    c, e = remez(f, w, -a, a, basis)
    print("// Float exp: q(r) = (exp(r)-1-r)/r^2, minimax rel. error of exp:", mp.nstr(e, 5))
    print("expf c2..c6:", [float(mp.mpf(rnd_float(x))).hex() for x in c])

    # erf on [0, 1]: erf(x) = x * A(x^2), relative error.
    f = lambda z: mp.erf(mp.sqrt(z)) / mp.sqrt(z) if z != 0 else 2 / mp.sqrt(mp.pi)
    for deg in (7,):  # degree 8 gives 8e-13, 9 gives 2e-14: more than Float needs
        basis = [lambda z, k=k: z ** k for k in range(deg + 1)]
        c, e = remez(f, lambda z: 1 / f(z), mp.mpf(0), mp.mpf(1), basis)
        print("// erf [0,1]: erf(x) = x*A(x^2), degree", deg, "rel. error", mp.nstr(e, 5))
        print("erfA:", [hexd(x) for x in c])

    # erf on [1, 4]: erfc(x) = exp(-x^2) * B(x - 2.5), relative error of erfcx.
    f = lambda u: mp.exp((u + mp.mpf('2.5')) ** 2) * mp.erfc(u + mp.mpf('2.5'))
    for deg in (13,):  # degree 11: 2.8e-8, 15: 2.8e-11
        basis = [lambda u, k=k: u ** k for k in range(deg + 1)]
        c, e = remez(f, lambda u: 1 / f(u), mp.mpf(-1.5), mp.mpf(1.5), basis)
        cond = sum(abs(x) * mp.mpf(1.5) ** k for k, x in enumerate(c)) / f(mp.mpf(-1.5))
        print("// erfc [1,4]: erfc(x) = exp(-x^2)*B(x-2.5), degree", deg, "rel. error", mp.nstr(e, 5),
              "sum|c|h^k/min B", mp.nstr(cond, 3))
        print("erfB:", [hexd(x) for x in c])


main()
