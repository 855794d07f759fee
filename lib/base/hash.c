/*
 * hash.c - fast non-cryptographic 64-bit hashing (hash tables, duplicate
 * detection, dataset checksums) and round-trip double formatting.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K1 0x9E3779B97F4A7C15ULL
#define K2 0xC2B2AE3D27D4EB4FULL

static inline uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t step(uint64_t h, uint64_t w) {
  return rotl(h ^ (w * K2), 31) * K1;
}

uint64_t tsr__hash_bytes(const void *p, size_t n, uint64_t seed) {
  const unsigned char *b = p;
  uint64_t h = seed ^ ((uint64_t)n * K1);
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, b, 8);
    h = step(h, w);
    b += 8;
    n -= 8;
  }
  if (n) {
    uint64_t w = 0;
    memcpy(&w, b, n);
    h = step(h, w ^ ((uint64_t)n << 56));
  }
  return mix64(h);
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

/* The reference algorithm: the first of "%.15g", "%.16g", "%.17g" that
 * round-trips. */
static char *fmt_double_slow(double d, char *buf) {
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, 32, "%.*g", prec, d);
    if (prec == 17 || strtod(buf, NULL) == d) break;
  }
  return buf;
}

/* Writes M (exactly P digits, decimal exponent E of the first digit) as %g
 * does in fixed notation: trailing fractional zeros and a bare '.' dropped. */
static char *put_fixed(char *buf, int neg, uint64_t M, int P, int E) {
  char dg[20];
  for (int i = P - 1; i >= 0; i--) {
    dg[i] = (char)('0' + M % 10);
    M /= 10;
  }
  int last = P - 1; /* last significant digit to keep */
  while (last > E && last > 0 && dg[last] == '0') last--;
  char *o = buf;
  if (neg) *o++ = '-';
  if (E < 0) {
    *o++ = '0';
    *o++ = '.';
    for (int i = -1; i > E; i--) *o++ = '0';
    for (int i = 0; i <= last; i++) *o++ = dg[i];
  } else {
    for (int i = 0; i <= E; i++) *o++ = dg[i];
    if (last > E) {
      *o++ = '.';
      for (int i = E + 1; i <= last; i++) *o++ = dg[i];
    }
  }
  *o = '\0';
  return buf;
}

/* Same output as fmt_double_slow, faster: for 1e-4 <= |d| < 1e15, the
 * P-digit rounding R_P(d) is computed as round(|d| * 10^k) in long double
 * (64-bit significand: error far below 0.5 ulp of the integer; values near
 * a rounding tie go to the slow path), the round trip of R_15 and R_16 is
 * checked exactly (an integer < 2^53 divided by an exact power of ten is
 * correctly rounded), and R_17 always round-trips. %g prints these values
 * in fixed notation. */
char *tsr__fmt_double(double d, char *buf) {
  static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  if (d == 0) {
    strcpy(buf, "0");
    return buf;
  }
  if (d > -1e15 && d < 1e15 && d == (double)(int64_t)d) {
    /* an integer: "%.15g" prints exactly its digits */
    int64_t v = (int64_t)d;
    char tmp[24];
    size_t n = 0, o = 0;
    uint64_t u = v < 0 ? (uint64_t)(-v) : (uint64_t)v;
    do {
      tmp[n++] = (char)('0' + u % 10);
      u /= 10;
    } while (u);
    if (v < 0) buf[o++] = '-';
    while (n) buf[o++] = tmp[--n];
    buf[o] = '\0';
    return buf;
  }
  int neg = d < 0;
  double a = neg ? -d : d;
  if (!(a >= 1e-4 && a < 1e15)) return fmt_double_slow(d, buf);
  /* 10^E <= a < 10^(E+1); an error near a power of ten is caught below */
  int E = 14;
  while (E > -4 && (E >= 0 ? a < p10[E] : a * p10[-E] < 1)) E--;
  for (int P = 15; P <= 17; P++) {
    int k = P - 1 - E; /* fractional digits: 0..20 */
    long double x = (long double)a;
    long double sc = 1;
    for (int i = 0; i < k; i++) sc *= 10; /* exact: 10^20 < 2^67, 5^20 < 2^47 */
    x *= sc;
    long double fl = floorl(x), fr = x - fl;
    if (fr > 0.49L && fr < 0.51L) return fmt_double_slow(d, buf);
    uint64_t M = (uint64_t)fl + (fr > 0.5L);
    uint64_t lim = 1;
    for (int i = 0; i < P; i++) lim *= 10;
    if (M >= lim || M < lim / 10) return fmt_double_slow(d, buf);
    if (P < 17) {
      if (M >= ((uint64_t)1 << 53) || k > 22) return fmt_double_slow(d, buf);
      if ((double)M / p10[k] != a) continue; /* does not round-trip */
    }
    return put_fixed(buf, neg, M, P, E);
  }
  return fmt_double_slow(d, buf);
}
