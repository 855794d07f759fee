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

/* a * b = *hi + *lo exactly (Dekker's product with Veltkamp splitting; no
 * overflow or underflow for the magnitudes used here). */
static inline void two_prod(double a, double b, double *hi, double *lo) {
  const double sp = 134217729.0; /* 2^27 + 1 */
  double p = a * b;
  double t = sp * a, ah = t - (t - a), al = a - ah;
  t = sp * b;
  double bh = t - (t - b), bl = b - bh;
  *hi = p;
  *lo = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

/* Same output as fmt_double_slow, faster: for 1e-4 <= |d| < 1e15, the
 * P-digit rounding R_P(d) is round(|d| * 10^k) with the product computed
 * exactly as a sum of two doubles (10^k, k <= 20, is exact), so its integer
 * and fractional parts are exact up to one rounding of the fraction (error
 * below 1e-15; values within 0.01 of a rounding tie go to the slow path).
 * The round trip of R_15 and R_16 is checked exactly (an integer < 2^53
 * divided by an exact power of ten is correctly rounded), and R_17 always
 * round-trips. %g prints these values in fixed notation. */
char *tsr__fmt_double(double d, char *buf) {
  static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  static const uint64_t u10[18] = {1ull,
                                   10ull,
                                   100ull,
                                   1000ull,
                                   10000ull,
                                   100000ull,
                                   1000000ull,
                                   10000000ull,
                                   100000000ull,
                                   1000000000ull,
                                   10000000000ull,
                                   100000000000ull,
                                   1000000000000ull,
                                   10000000000000ull,
                                   100000000000000ull,
                                   1000000000000000ull,
                                   10000000000000000ull,
                                   100000000000000000ull};
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
    double hi, lo;
    two_prod(a, p10[k], &hi, &lo);
    uint64_t fl;
    double fr;
    if (hi < 4503599627370496.0) { /* 2^52: hi has a fraction */
      double f0 = floor(hi);
      fl = (uint64_t)f0;
      fr = (hi - f0) + lo;
    } else { /* hi is an integer (< 2^64 as a < 10^(E+1)) */
      double fe = floor(lo);
      fl = (uint64_t)hi + (uint64_t)(int64_t)fe;
      fr = lo - fe;
    }
    if (fr < 0) {
      fl--;
      fr += 1;
    } else if (fr >= 1) {
      fl++;
      fr -= 1;
    }
    if (fr > 0.49 && fr < 0.51) return fmt_double_slow(d, buf);
    uint64_t M = fl + (fr > 0.5);
    if (M >= u10[P] || M < u10[P - 1]) return fmt_double_slow(d, buf);
    if (P < 17) {
      if (M >= ((uint64_t)1 << 53)) return fmt_double_slow(d, buf);
      if ((double)M / p10[k] != a) continue; /* does not round-trip */
    }
    return put_fixed(buf, neg, M, P, E);
  }
  return fmt_double_slow(d, buf);
}
