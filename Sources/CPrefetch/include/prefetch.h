#ifndef SIMPLY_PREFETCH_H
#define SIMPLY_PREFETCH_H

// Small C inline helpers for the kernels, for what Swift cannot say in one
// instruction: prefetch hints, a vector square root and the packing transposes.

// A hint that the cache line holding p will be read soon. Swift has no
// prefetch of its own; this inline function compiles to one instruction.
static inline __attribute__((always_inline)) void simply_prefetch(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

// A hint that the cache line holding p will be written soon, so the store
// that follows does not wait for memory. It is prefetchw where the target
// has PRFCHW; the AVX2 build's `haswell` target has not, and there it is
// prefetcht0, which brings the line in shared (measured: that alone took
// the cold-C cost of a 135M step's products away).
static inline __attribute__((always_inline)) void simply_prefetch_write(const void *p) {
    __builtin_prefetch(p, 1, 3);
}

// out[0..<8] = the square roots of x[0..<8], in one instruction (vsqrtps).
// Swift's SIMD8<Float>.squareRoot() goes lane by lane through sqrtf; IEEE
// square root is correctly rounded either way, so the bits are the same.
typedef float simply_float8 __attribute__((ext_vector_type(8)));

static inline __attribute__((always_inline)) void simply_sqrt8(const float *x, float *out) {
    simply_float8 v;
    __builtin_memcpy(&v, x, sizeof v);
    v = __builtin_elementwise_sqrt(v);
    __builtin_memcpy(out, &v, sizeof v);
}


// The packing transposes of the matrix kernel (MatmulPacked.swift): an
// 8 × 8 block, src row r (stride lds) becoming dst column r (dst row stride
// ldd): dst[q·ldd + r] = src[r·lds + q]. Three rounds of 8-lane shuffles
// (unpack, 2-lane shuffle, 128-bit halves), 8 vector loads and 8 vector
// stores instead of 64 scalar moves. Values are only moved, never computed.
static inline __attribute__((always_inline)) void simply_transpose_rounds(
    simply_float8 r0, simply_float8 r1, simply_float8 r2, simply_float8 r3,
    simply_float8 r4, simply_float8 r5, simply_float8 r6, simply_float8 r7, simply_float8 *o) {
    simply_float8 t0 = __builtin_shufflevector(r0, r1, 0, 8, 1, 9, 4, 12, 5, 13);
    simply_float8 t1 = __builtin_shufflevector(r0, r1, 2, 10, 3, 11, 6, 14, 7, 15);
    simply_float8 t2 = __builtin_shufflevector(r2, r3, 0, 8, 1, 9, 4, 12, 5, 13);
    simply_float8 t3 = __builtin_shufflevector(r2, r3, 2, 10, 3, 11, 6, 14, 7, 15);
    simply_float8 t4 = __builtin_shufflevector(r4, r5, 0, 8, 1, 9, 4, 12, 5, 13);
    simply_float8 t5 = __builtin_shufflevector(r4, r5, 2, 10, 3, 11, 6, 14, 7, 15);
    simply_float8 t6 = __builtin_shufflevector(r6, r7, 0, 8, 1, 9, 4, 12, 5, 13);
    simply_float8 t7 = __builtin_shufflevector(r6, r7, 2, 10, 3, 11, 6, 14, 7, 15);
    simply_float8 u0 = __builtin_shufflevector(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13);
    simply_float8 u1 = __builtin_shufflevector(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
    simply_float8 u2 = __builtin_shufflevector(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13);
    simply_float8 u3 = __builtin_shufflevector(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
    simply_float8 u4 = __builtin_shufflevector(t4, t6, 0, 1, 8, 9, 4, 5, 12, 13);
    simply_float8 u5 = __builtin_shufflevector(t4, t6, 2, 3, 10, 11, 6, 7, 14, 15);
    simply_float8 u6 = __builtin_shufflevector(t5, t7, 0, 1, 8, 9, 4, 5, 12, 13);
    simply_float8 u7 = __builtin_shufflevector(t5, t7, 2, 3, 10, 11, 6, 7, 14, 15);
    o[0] = __builtin_shufflevector(u0, u4, 0, 1, 2, 3, 8, 9, 10, 11);
    o[1] = __builtin_shufflevector(u1, u5, 0, 1, 2, 3, 8, 9, 10, 11);
    o[2] = __builtin_shufflevector(u2, u6, 0, 1, 2, 3, 8, 9, 10, 11);
    o[3] = __builtin_shufflevector(u3, u7, 0, 1, 2, 3, 8, 9, 10, 11);
    o[4] = __builtin_shufflevector(u0, u4, 4, 5, 6, 7, 12, 13, 14, 15);
    o[5] = __builtin_shufflevector(u1, u5, 4, 5, 6, 7, 12, 13, 14, 15);
    o[6] = __builtin_shufflevector(u2, u6, 4, 5, 6, 7, 12, 13, 14, 15);
    o[7] = __builtin_shufflevector(u3, u7, 4, 5, 6, 7, 12, 13, 14, 15);
}

static inline __attribute__((always_inline)) simply_float8 simply_load8(const float *p) {
    simply_float8 v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

// 8 rows in, 8 columns of 8 out.
static inline __attribute__((always_inline)) void simply_transpose8x8(
    const float *src, long lds, float *dst, long ldd) {
    simply_float8 o[8];
    simply_transpose_rounds(simply_load8(src), simply_load8(src + lds), simply_load8(src + 2 * lds),
                            simply_load8(src + 3 * lds), simply_load8(src + 4 * lds), simply_load8(src + 5 * lds),
                            simply_load8(src + 6 * lds), simply_load8(src + 7 * lds), o);
    for (int q = 0; q < 8; q++) __builtin_memcpy(dst + q * ldd, &o[q], sizeof o[q]);
}

// 6 rows in, 8 columns of 6 out (the AVX2 kernel's A panels are 6 rows).
static inline __attribute__((always_inline)) void simply_transpose6x8(
    const float *src, long lds, float *dst, long ldd) {
    simply_float8 o[8];
    simply_float8 z = simply_load8(src + 5 * lds);   // rows 6 and 7 are never stored
    simply_transpose_rounds(simply_load8(src), simply_load8(src + lds), simply_load8(src + 2 * lds),
                            simply_load8(src + 3 * lds), simply_load8(src + 4 * lds), z, z, z, o);
    for (int q = 0; q < 8; q++) __builtin_memcpy(dst + q * ldd, &o[q], 6 * sizeof(float));
}

#endif
