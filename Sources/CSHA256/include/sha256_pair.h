#ifndef SIMPLY_SHA256_PAIR_H
#define SIMPLY_SHA256_PAIR_H

#include <stddef.h>
#include <stdint.h>

// Two SHA-256 digests at once with the x86 SHA extensions (SHA-NI).
//
// One SHA-256 stream is a chain of dependent sha256rnds2 instructions, so a
// single stream runs at the instruction's latency, not its throughput. The
// state hash (StateHasher.swift) hashes independent 1 MiB pieces, so two
// pieces can share one core: their rounds interleave and each hides the
// other's latency (measured on Zen 2: 1.6 GB/s for one stream, 2.8 GB/s for
// the pair). The digests are plain SHA-256, equal to OpenSSL's bit for bit
// (StateHasherTests).

// 1 when this CPU has the SHA extensions (and SSE4.1), else 0; then
// simply_sha256_pair must not be called.
int simply_sha256_pair_available(void);

// out_a = SHA-256(a[0..<length]), out_b = SHA-256(b[0..<length]).
// length must be a multiple of 64.
void simply_sha256_pair(const uint8_t *a, const uint8_t *b, size_t length,
                        uint8_t out_a[32], uint8_t out_b[32]);

#endif
