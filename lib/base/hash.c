/*
 * hash.c - fast non-cryptographic 64-bit hashing (hash tables, duplicate
 * detection, dataset checksums). The round-trip double text is in
 * fmtdouble.c.
 */
#include "internal.h"

#include <string.h>

#define K1 0x9E3779B97F4A7C15ULL
#define K2 0xC2B2AE3D27D4EB4FULL

static inline uint64_t mix64(uint64_t x) { return tsr__hash_mix64(x); }

static inline uint64_t step(uint64_t h, uint64_t w) { return tsr__hash_step(h, w); }

uint64_t tsr__hash_bytes(const void *p, size_t n, uint64_t seed) {
  return tsr__hash_bytes_inline(p, n, seed);
}

void tsr__hash_stream_init(tsr__hash_stream *s) { memset(s, 0, sizeof *s); }

void tsr__hash_stream_update(tsr__hash_stream *s, const void *p, size_t n) {
  const unsigned char *b = p;
  s->total += n;
  if (s->ntail) {
    while (n && s->ntail < 8) {
      s->tail[s->ntail++] = *b++;
      n--;
    }
    if (s->ntail < 8) return;
    uint64_t w;
    memcpy(&w, s->tail, 8);
    s->h = step(s->h, w);
    s->ntail = 0;
  }
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, b, 8);
    s->h = step(s->h, w);
    b += 8;
    n -= 8;
  }
  memcpy(s->tail, b, n);
  s->ntail = n;
}

uint64_t tsr__hash_stream_final(const tsr__hash_stream *s) {
  uint64_t h = s->h;
  if (s->ntail) {
    uint64_t w = 0;
    memcpy(&w, s->tail, s->ntail);
    h = step(h, w);
  }
  return mix64(h ^ (s->total * K1));
}
