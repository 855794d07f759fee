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

/* "00".."99": two digits at a time. */
static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* The 4 digits of v < 10^4 at o. */
static inline void put4(char *o, uint32_t v) {
  memcpy(o, digit_pairs + 2 * (v / 100), 2);
  memcpy(o + 2, digit_pairs + 2 * (v % 100), 2);
}

/* The 17 digits of u < 10^17 (leading zeros kept) at t, in independent
 * chunks of four (no chain of divisions by 100). */
static inline void digits17(char *t, uint64_t u) {
  uint64_t r = u % 10000000000000000ull; /* 10^16 */
  t[0] = (char)('0' + u / 10000000000000000ull);
  uint32_t hi = (uint32_t)(r / 100000000), lo = (uint32_t)(r % 100000000);
  put4(t + 1, hi / 10000);
  put4(t + 5, hi % 10000);
  put4(t + 9, lo / 10000);
  put4(t + 13, lo % 10000);
}

/* M (exactly P digits, decimal exponent E, -4 <= E < P <= 17) as %g writes
 * it in fixed notation: trailing fractional zeros and a bare '.' dropped;
 * returns the end (the NUL). Copies of fixed size, which may write past
 * the NUL: buf has room for 32 bytes (tsr__fmt_double's contract). */
static char *put_fixed_fast(char *buf, int neg, uint64_t M, int P, int E) {
  char t[48];
  digits17(t, M);
  const char *dg = t + 17 - P;
  int last = P - 1; /* last significant digit to keep */
  while (last > E && last > 0 && dg[last] == '0') last--;
  char *o = buf;
  if (neg) *o++ = '-';
  if (E < 0) {
    memcpy(o, "0.0000", 6); /* "0." and -E - 1 zeros */
    o += 1 - E;
    memcpy(o, dg, 17);
    o += last + 1;
  } else {
    memcpy(o, dg, 16); /* E + 1 <= 15 digits */
    o += E + 1;
    if (last > E) {
      *o = '.';
      /* the fraction (last - E <= 16 - E digits; the bytes read are in t):
       * 16 bytes reach buf + 1 + (E + 1) + 1 + 16, within 32 while E <= 12 */
      if (E <= 12) memcpy(o + 1, dg + E + 1, 16);
      else memcpy(o + 1, dg + E + 1, 4);
      o += last - E + 1;
    }
  }
  *o = '\0';
  return o;
}

/* Same output as fmt_double_slow, faster: for 1e-4 <= a = |d| < 1e15, in
 * exact integers. a = m 2^-s (3 <= s <= 66 here); with k = 16 - E (E the
 * decimal exponent of a, 2 <= k <= 20; 21 for the first estimate of E,
 * which may be one too small) N = m 10^k < 2^123 is X 2^s for
 * X = a 10^k, 10^16 <= X < 10^17: F = floor(X) = N >> s, and the fraction
 * is rem / 2^s. R_P = round(X / 10^(17-P)) from F's last 17 - P digits
 * and rem; exact ties go to the slow path (printf breaks them by the exact
 * value, as here, but they are rare). R_P reads back as a when C = R_P
 * 10^(17-P) is within half an ulp of X: an ulp of a is 10^k in units of
 * N, so when 2 |C 2^s - N| < 10^k, or equal with m even (strtod's tie to
 * even); below a power of two (m = 2^52) the gap to the next double down
 * is half as wide (4 (N - C 2^s) <= 10^k: a tie goes to a's even m). %g
 * prints these values in fixed notation (-4 <= E <= 14 < P). */
static char *fmt_mid(double d, double a, int neg, char *buf) {
  typedef unsigned __int128 u128;
  uint64_t bits;
  memcpy(&bits, &a, sizeof bits);
  int ex = (int)((bits >> 52) & 0x7ff);
  uint64_t m = (bits & ((1ull << 52) - 1)) | (1ull << 52);
  int s = 1075 - ex;
  /* floor(log10(2^(ex-1023))) (exact for |ex - 1023| < 1650): E is that or
   * one more */
  int E = (int)(((int64_t)(ex - 1023) * 78913) >> 18);
  u128 N = 0;
  uint64_t F = 0;
  for (int pass = 0; pass < 2; pass++) {
    int k = 16 - E;
    N = (u128)m * tsr__pow10_u64[k > 19 ? 19 : k];
    if (k > 19) N *= tsr__pow10_u64[k - 19]; /* k <= 21: m 10^21 < 2^123 */
    F = (uint64_t)(N >> s);
    if (F < tsr__pow10_u64[17]) break;
    E++; /* a >= 10^(E+1) */
  }
  if (F < tsr__pow10_u64[16] || F >= tsr__pow10_u64[17]) return fmt_double_slow(d, buf);
  int k = 16 - E;
  u128 tenk = (u128)tsr__pow10_u64[k > 19 ? 19 : k] * tsr__pow10_u64[k > 19 ? k - 19 : 0];
  u128 rem = N & (((u128)1 << s) - 1), half = (u128)1 << (s - 1);
  int pow2 = m == (1ull << 52);
  for (int P = 15; P <= 17; P++) {
    uint64_t M;
    if (P == 17) {
      if (rem == half) return fmt_double_slow(d, buf); /* exact tie */
      M = F + (rem > half);
    } else {
      uint64_t sc = P == 15 ? 100 : 10, h = sc / 2;
      uint64_t q = F / sc, r = F % sc;
      if (r == h && rem == 0) return fmt_double_slow(d, buf); /* exact tie */
      M = q + (r > h || (r == h && rem != 0));
      if (M >= tsr__pow10_u64[P]) return fmt_double_slow(d, buf); /* rounds up to 10^P */
      u128 C = (u128)(M * sc) << s;
      if (C >= N) {
        u128 diff2 = (C - N) << 1;
        if (diff2 > tenk || (diff2 == tenk && (m & 1))) continue; /* no round trip */
      } else if (pow2) {
        if (((N - C) << 2) > tenk) continue;
      } else {
        u128 diff2 = (N - C) << 1;
        if (diff2 > tenk || (diff2 == tenk && (m & 1))) continue;
      }
    }
    if (M >= tsr__pow10_u64[P]) return fmt_double_slow(d, buf); /* rounds up to 10^P */
    return put_fixed_fast(buf, neg, M, P, E);
  }
  return fmt_double_slow(d, buf);
}

char *tsr__fmt_double_end(double d, char *buf) {
  if (d == 0) {
    strcpy(buf, "0");
    return buf + 1;
  }
  if (d > -1e15 && d < 1e15 && d == (double)(int64_t)d) {
    /* an integer: "%.15g" prints exactly its digits */
    int64_t v = (int64_t)d;
    uint64_t u = v < 0 ? (uint64_t)(-v) : (uint64_t)v;
    int n = 1;
    while (n < 15 && u >= tsr__pow10_u64[n]) n++;
    char *o = buf, t[48];
    if (v < 0) *o++ = '-';
    digits17(t, u);
    memcpy(o, t + 17 - n, 16); /* n <= 15; buf has room for 32 bytes */
    o[n] = '\0';
    return o + n;
  }
  int neg = d < 0;
  double a = neg ? -d : d;
  if (a >= 1e-12 && a < 1e-4) return fmt_small(d, a, neg, buf);
  if (!(a >= 1e-4 && a < 1e15)) return fmt_double_slow(d, buf);
  return fmt_mid(d, a, neg, buf);
}

char *tsr__fmt_double(double d, char *buf) {
  tsr__fmt_double_end(d, buf);
  return buf;
}
