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
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* the same value as memcpy(&w, b, n), without a call to memcpy (ids
     * of a few bytes are hashed once per ingested row) */
    if (n >= 4) {
      uint32_t lo, hi;
      memcpy(&lo, b, 4);
      memcpy(&hi, b + n - 4, 4);
      w = (uint64_t)lo | (uint64_t)hi << (8 * (n - 4));
    } else {
      w = (uint64_t)b[0] | (uint64_t)b[n / 2] << (8 * (n / 2)) | (uint64_t)b[n - 1] << (8 * (n - 1));
    }
#else
    memcpy(&w, b, n);
#endif
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
  int n = 0;
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(buf, 32, "%.*g", prec, d);
    if (prec == 17 || strtod(buf, NULL) == d) break;
  }
  return buf + (n > 0 && n < 32 ? n : (int)strlen(buf));
}

/* Writes M (exactly P digits, decimal exponent E of the first digit) as %g
 * does in fixed notation: trailing fractional zeros and a bare '.' dropped;
 * returns the end (the NUL), as every writer below does. */
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
  return o;
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

/* M (exactly P digits, decimal exponent E < -4) as %g writes it in
 * exponent notation: "d.ddde-XX", trailing zeros and a bare '.' dropped. */
static char *put_exp(char *buf, int neg, uint64_t M, int P, int E) {
  char dg[20];
  for (int i = P - 1; i >= 0; i--) {
    dg[i] = (char)('0' + M % 10);
    M /= 10;
  }
  int last = P - 1;
  while (last > 0 && dg[last] == '0') last--;
  char *o = buf;
  if (neg) *o++ = '-';
  *o++ = dg[0];
  if (last > 0) {
    *o++ = '.';
    for (int i = 1; i <= last; i++) *o++ = dg[i];
  }
  *o++ = 'e';
  *o++ = '-';
  int x = -E;
  if (x >= 100) *o++ = (char)('0' + x / 100);
  *o++ = (char)('0' + x / 10 % 10);
  *o++ = (char)('0' + x % 10);
  *o = '\0';
  return o;
}

/* fmt_double for 1e-12 <= a = |d| < 1e-4 (exponent notation), in exact
 * integers: a = m 2^e, X = a 10^k = m 5^k / 2^s (s = -(e + k), k = 16 - E
 * so that 10^16 <= X < 10^17), R_P = round(X / 10^(17-P)); R_P reads back
 * as a when |R_P 10^(17-P) - X| is below half an ulp of a, that is
 * |2 (R_P 10^(17-P) 2^s - m 5^k)| < 5^k (equal: m even). Every quantity is
 * below 2^125. Exact ties and a power of two go to the slow path. */
static char *fmt_small(double d, double a, int neg, char *buf) {
  typedef unsigned __int128 u128;
  uint64_t bits;
  memcpy(&bits, &a, sizeof bits);
  int ex = (int)((bits >> 52) & 0x7ff);
  uint64_t m = (bits & ((1ull << 52) - 1)) | (1ull << 52);
  if (ex == 0 || m == (1ull << 52)) return fmt_double_slow(d, buf);
  int e = ex - 1075; /* a = m 2^e */
  int E = (int)floor((double)(ex - 1023) * 0.30102999566398120);
  for (int pass = 0; pass < 2; pass++) {
    int k = 16 - E, s = -(e + k);
    if (k < 21 || k > 28 || s < 1 || s > 66) break;
    u128 p5 = 1;
    for (int i = 0; i < k; i++) p5 *= 5;
    u128 N = (u128)m * p5;
    uint64_t F = (uint64_t)(N >> s);
    if (F >= tsr__pow10_u64[17]) { /* E was one too small */
      E++;
      continue;
    }
    if (F < tsr__pow10_u64[16]) break;
    u128 rem = N & (((u128)1 << s) - 1);
    for (int P = 15; P <= 17; P++) {
      uint64_t sc = tsr__pow10_u64[17 - P];
      u128 twice = ((((u128)(F % sc)) << s) + rem) << 1, full = (u128)sc << s;
      if (twice == full) return fmt_double_slow(d, buf); /* exact tie */
      uint64_t M = F / sc + (twice > full);
      if (M >= tsr__pow10_u64[P]) return fmt_double_slow(d, buf);
      if (P < 17) {
        u128 Ms = (u128)(M * sc) << s;
        u128 diff = (Ms > N ? Ms - N : N - Ms) << 1;
        if (diff > p5 || (diff == p5 && (m & 1))) continue; /* no round trip */
      }
      return put_exp(buf, neg, M, P, E);
    }
    break;
  }
  return fmt_double_slow(d, buf);
}

/* Same output as fmt_double_slow, faster: for 1e-4 <= |d| < 1e15, the
 * P-digit rounding R_P(d) is round(|d| * 10^(k-17+P)) with |d| * 10^k
 * computed exactly once as a sum of two doubles (10^k, k <= 20, is exact),
 * so its integer and fractional parts are exact up to one rounding of the
 * fraction (error below 1e-14 with the integer rest added; values within
 * 1e-9 of a rounding tie go to the slow path); R_16 and R_15 divide its integer part by 10 and 100.
 * The round trip of R_15 and R_16 is checked exactly (an integer < 2^53
 * divided by an exact power of ten is correctly rounded), and R_17 always
 * round-trips. %g prints these values in fixed notation. */
char *tsr__fmt_double_end(double d, char *buf) {
  static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  if (d == 0) {
    strcpy(buf, "0");
    return buf + 1;
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
    return buf + o;
  }
  int neg = d < 0;
  double a = neg ? -d : d;
  if (a >= 1e-12 && a < 1e-4) return fmt_small(d, a, neg, buf);
  if (!(a >= 1e-4 && a < 1e15)) return fmt_double_slow(d, buf);
  /* a short decimal (amounts, shares): M / 10^j with j <= 4 fractional
   * digits that reads back as a. Then a decimal of at most 15 digits
   * round-trips, so "%.15g" prints the nearest 15-digit decimal, and that
   * is M / 10^j (any other is at least 10x farther than the half ulp
   * between them). The product is within a few ulps of M when it is one. */
  for (int j = 1; j <= 4; j++) {
    double t = a * p10[j];
    if (t >= 9007199254740992.0) break; /* 2^53 */
    double r = floor(t + 0.5);
    if (fabs(t - r) > t * 1e-15) continue;
    if (r / p10[j] != a) continue;
    uint64_t M = (uint64_t)r;
    int m = 1;
    while (m < 16 && M >= tsr__pow10_u64[m]) m++; /* digits of M */
    if (m > 15) break;
    return put_fixed(buf, neg, M, m, m - 1 - j);
  }
  /* 10^E <= a < 10^(E+1), from the binary exponent (2^(e2-1) <= a < 2^e2,
   * so E is floor((e2-1) log10 2) or one more); an error near a power of
   * ten is caught below */
  uint64_t bits;
  memcpy(&bits, &a, sizeof bits);
  int e2 = (int)((bits >> 52) & 0x7ff) - 1022;
  int E = (int)floor((double)(e2 - 1) * 0.30102999566398120);
  if (E < -4) E = -4;
  if (E < 14 && (E + 1 >= 0 ? a >= p10[E + 1] : a * p10[-(E + 1)] >= 1)) E++;
  /* X = a 10^k exactly (hi + lo), k = 16 - E fractional digits (0..20):
   * R_17 = round(X), R_16 = round(X / 10), R_15 = round(X / 100) from its
   * integer part F and fraction fr */
  int k = 16 - E;
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
  for (int P = 15; P <= 17; P++) {
    uint64_t sc = tsr__pow10_u64[17 - P]; /* X / sc has P integer digits */
    double rest = (double)(fl % sc) + fr, half = 0.5 * (double)sc;
    if (rest > half - 1e-9 && rest < half + 1e-9) return fmt_double_slow(d, buf);
    uint64_t M = fl / sc + (rest > half);
    if (M >= tsr__pow10_u64[P] || M < tsr__pow10_u64[P - 1]) return fmt_double_slow(d, buf);
    if (P < 17 && M < ((uint64_t)1 << 53)) {
      if ((double)M / p10[k - 17 + P] != a) continue; /* does not round-trip */
    } else if (P < 17) {
      /* M too long for an exact division (X >= 2^53, so fl and fr are
       * exact): round trip when |M sc - X| is below half an ulp of a times
       * 10^k; near the bound, or at a power of two (a narrower gap below),
       * the slow path */
      int e = (int)((bits >> 52) & 0x7ff) - 1075;
      if ((bits & ((1ull << 52) - 1)) == 0 || hi < 4503599627370496.0)
        return fmt_double_slow(d, buf);
      double h = ldexp(p10[k], e - 1);
      double D = fabs((double)((int64_t)(M * sc) - (int64_t)fl) - fr);
      if (fabs(D - h) < 1e-9 * h) return fmt_double_slow(d, buf);
      if (D > h) continue; /* does not round-trip */
    }
    return put_fixed(buf, neg, M, P, E);
  }
  return fmt_double_slow(d, buf);
}

char *tsr__fmt_double(double d, char *buf) {
  tsr__fmt_double_end(d, buf);
  return buf;
}
