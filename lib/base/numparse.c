/*
 * numparse.c - tsr__strtod: strtod with an exact fast path for the plain
 * decimals of CSV files (see lib/internal.h).
 *
 * A decimal [+-]digits[.digits][(e|E)[+-]digits] with at most 19
 * significant digits is m * 10^e10 with m < 2^64. It is rounded to the
 * nearest double (ties to even) exactly, without strtod:
 *   - m <= 2^53 and |e10| <= 22: one IEEE multiplication or division of
 *     two exact doubles (Clinger 1990, "How to read floating point
 *     numbers accurately"), correctly rounded by the hardware;
 *   - 0 <= e10 <= 19: the integer m * 10^e10 (< 2^128) rounded to 53 bits;
 *   - 10^-e10 < 2^73: the 128-bit quotient (m << s) / 10^-e10 with at
 *     least 55 bits, rounded to 53 bits with the remainder as sticky bit.
 * Anything else (more digits, larger exponents, hex, inf, nan, a missing
 * digit) goes to strtod. The results are bit-identical to strtod's in the
 * C locale (tests/unit/base/test_table.c compares millions of strings).
 */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#if defined(__SIZEOF_INT128__) && (!defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD == 0)
#define TSR_NUMPARSE_FAST 1
typedef unsigned __int128 u128;

static const double P10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
static const uint64_t U10[20] = {1ULL,
                                 10ULL,
                                 100ULL,
                                 1000ULL,
                                 10000ULL,
                                 100000ULL,
                                 1000000ULL,
                                 10000000ULL,
                                 100000000ULL,
                                 1000000000ULL,
                                 10000000000ULL,
                                 100000000000ULL,
                                 1000000000000ULL,
                                 10000000000000ULL,
                                 100000000000000ULL,
                                 1000000000000000ULL,
                                 10000000000000000ULL,
                                 100000000000000000ULL,
                                 1000000000000000000ULL,
                                 10000000000000000000ULL};

static int bitlen(u128 v) {
  uint64_t hi = (uint64_t)(v >> 64), lo = (uint64_t)v;
  return hi ? 128 - __builtin_clzll(hi) : lo ? 64 - __builtin_clzll(lo) : 0;
}

/* N * 2^e2 rounded to 53 bits, ties to even; sticky: nonzero bits below N
 * were dropped (N has more than 53 bits whenever sticky is set). */
static double round_bits(u128 N, int sticky, int e2) {
  int b = bitlen(N);
  if (b <= 53) return ldexp((double)(uint64_t)N, e2);
  int drop = b - 53;
  uint64_t mant = (uint64_t)(N >> drop);
  u128 rem = N & (((u128)1 << drop) - 1), half = (u128)1 << (drop - 1);
  if (rem > half || (rem == half && (sticky || (mant & 1)))) mant++;
  return ldexp((double)mant, e2 + drop);
}
#endif

static inline int digit(char c) { return (unsigned)(c - '0') < 10; }

double tsr__strtod(const char *s, char **end) {
#ifdef TSR_NUMPARSE_FAST
  const char *p = s;
  int neg = 0, nd = 0, fd = 0, any = 0;
  uint64_t m = 0;
  if (*p == '-' || *p == '+') neg = *p++ == '-';
  if (*p == '0') {
    if (p[1] == 'x' || p[1] == 'X') goto slow; /* hexadecimal */
    while (*p == '0') p++;
    any = 1;
  }
  for (; digit(*p); p++, any = 1) {
    if (nd == 19) goto slow;
    m = m * 10 + (uint64_t)(*p - '0'), nd++;
  }
  if (*p == '.') {
    p++;
    if (nd == 0)
      for (; *p == '0'; p++) fd++, any = 1;
    for (; digit(*p); p++, any = 1) {
      if (nd == 19) goto slow;
      m = m * 10 + (uint64_t)(*p - '0'), nd++, fd++;
    }
  }
  if (!any) goto slow;
  int e10 = 0;
  if (*p == 'e' || *p == 'E') {
    const char *q = p + 1;
    int eneg = 0, ed = 0;
    if (*q == '-' || *q == '+') eneg = *q++ == '-';
    if (!digit(*q)) goto slow; /* strtod stops before the 'e' */
    for (; digit(*q); q++) {
      if (++ed > 4) goto slow;
      e10 = e10 * 10 + (*q - '0');
    }
    if (eneg) e10 = -e10;
    p = q;
  }
  e10 -= fd;
  double v;
  if (m == 0) {
    v = 0;
  } else if (m <= (1ULL << 53) && e10 >= -22 && e10 <= 22) {
    v = e10 >= 0 ? (double)m * P10[e10] : (double)m / P10[-e10];
  } else if (e10 >= 0 && e10 <= 19) {
    v = round_bits((u128)m * U10[e10], 0, 0);
  } else if (e10 < 0 && e10 >= -38) {
    int k = -e10;
    u128 d = k <= 19 ? (u128)U10[k] : (u128)U10[19] * U10[k - 19];
    int bd = bitlen(d), sh = 55 + bd - bitlen((u128)m);
    if (sh < 0) sh = 0;
    if (bitlen((u128)m) + sh > 127) goto slow;
    u128 N = (u128)m << sh, q = N / d;
    if (bitlen(q) < 55) goto slow;
    v = round_bits(q, N % d != 0, -sh);
  } else {
    goto slow;
  }
  if (end) *end = (char *)p;
  return neg ? -v : v;
slow:
#endif
  return strtod(s, end);
}
