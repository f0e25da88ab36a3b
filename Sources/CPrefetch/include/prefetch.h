#ifndef SIMPLY_PREFETCH_H
#define SIMPLY_PREFETCH_H

// A hint that the cache line holding p will be read soon. Swift has no
// prefetch of its own; this inline function compiles to one instruction.
static inline __attribute__((always_inline)) void simply_prefetch(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

// A hint that the cache line holding p will be written soon (prefetchw):
// the line arrives owned, so the store that follows does not wait for it.
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

#endif
