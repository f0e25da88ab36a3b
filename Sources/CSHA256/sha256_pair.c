// SHA-256 (FIPS 180-4) of two equal-length messages, their rounds interleaved.
// See include/sha256_pair.h for why.
#include "sha256_pair.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

static const uint32_t round_constants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t initial_state[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

#define SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))

// Runs `blocks` 64-byte blocks of both messages through the compression
// function. The SHA-NI instructions keep the state as two vectors, ABEF and
// CDGH; the message schedule keeps the last four 4-word groups, w[g & 3].
SHA_TARGET static void compress_pair(uint32_t state[2][8], const uint8_t *data[2], size_t blocks) {
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i abef[2], cdgh[2], saved_abef[2], saved_cdgh[2], w[2][4];
    for (int n = 0; n < 2; n++) {
        __m128i dcba = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[n][0]), 0xB1);
        __m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[n][4]), 0x1B);
        abef[n] = _mm_alignr_epi8(dcba, efgh, 8);
        cdgh[n] = _mm_blend_epi16(efgh, dcba, 0xF0);
    }
    for (size_t b = 0; b < blocks; b++) {
        for (int n = 0; n < 2; n++) { saved_abef[n] = abef[n]; saved_cdgh[n] = cdgh[n]; }
        // Fully unrolled, so every w index is a constant and stays in a register.
        _Pragma("clang loop unroll(full)")
        for (int g = 0; g < 16; g++) {
            __m128i k = _mm_loadu_si128((const __m128i *)&round_constants[4 * g]);
            for (int n = 0; n < 2; n++) {
                __m128i m;
                if (g < 4) {
                    m = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data[n] + 64 * b + 16 * g)), byte_swap);
                } else {
                    // W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], four at a time.
                    m = _mm_sha256msg1_epu32(w[n][g & 3], w[n][(g + 1) & 3]);
                    m = _mm_add_epi32(m, _mm_alignr_epi8(w[n][(g + 3) & 3], w[n][(g + 2) & 3], 4));
                    m = _mm_sha256msg2_epu32(m, w[n][(g + 3) & 3]);
                }
                w[n][g & 3] = m;
                __m128i wk = _mm_add_epi32(m, k);
                cdgh[n] = _mm_sha256rnds2_epu32(cdgh[n], abef[n], wk);
                abef[n] = _mm_sha256rnds2_epu32(abef[n], cdgh[n], _mm_shuffle_epi32(wk, 0x0E));
            }
        }
        for (int n = 0; n < 2; n++) {
            abef[n] = _mm_add_epi32(abef[n], saved_abef[n]);
            cdgh[n] = _mm_add_epi32(cdgh[n], saved_cdgh[n]);
        }
    }
    for (int n = 0; n < 2; n++) {
        __m128i feba = _mm_shuffle_epi32(abef[n], 0x1B);
        __m128i dchg = _mm_shuffle_epi32(cdgh[n], 0xB1);
        _mm_storeu_si128((__m128i *)&state[n][0], _mm_blend_epi16(feba, dchg, 0xF0));
        _mm_storeu_si128((__m128i *)&state[n][4], _mm_alignr_epi8(dchg, feba, 8));
    }
}

int simply_sha256_pair_available(void) {
    return __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1");
}

void simply_sha256_pair(const uint8_t *a, const uint8_t *b, size_t length,
                        uint8_t out_a[32], uint8_t out_b[32]) {
    uint32_t state[2][8];
    memcpy(state[0], initial_state, sizeof initial_state);
    memcpy(state[1], initial_state, sizeof initial_state);
    const uint8_t *data[2] = {a, b};
    compress_pair(state, data, length / 64);
    // Both messages are whole blocks, so the padding is one block of its own:
    // 0x80, zeros, the length in bits (big-endian).
    uint8_t padding[64] = {0x80};
    uint64_t bits = (uint64_t)length * 8;
    for (int i = 0; i < 8; i++) padding[63 - i] = (uint8_t)(bits >> (8 * i));
    const uint8_t *pad[2] = {padding, padding};
    compress_pair(state, pad, 1);
    uint8_t *out[2] = {out_a, out_b};
    for (int n = 0; n < 2; n++)
        for (int i = 0; i < 8; i++) {
            uint32_t v = state[n][i];
            out[n][4 * i] = (uint8_t)(v >> 24); out[n][4 * i + 1] = (uint8_t)(v >> 16);
            out[n][4 * i + 2] = (uint8_t)(v >> 8); out[n][4 * i + 3] = (uint8_t)v;
        }
}

#else

int simply_sha256_pair_available(void) { return 0; }

void simply_sha256_pair(const uint8_t *a, const uint8_t *b, size_t length,
                        uint8_t out_a[32], uint8_t out_b[32]) {
    (void)a; (void)b; (void)length; (void)out_a; (void)out_b;
    __builtin_trap();
}

#endif
