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
 *   - otherwise, for -38 <= e10 <= 19, first the Eisel-Lemire algorithm
 *     (Lemire 2021, "Number parsing at a gigabyte per second"; as in
 *     fast_float): m times a 128-bit approximation of 5^e10, correct
 *     whenever the truncated product leaves no doubt (else the exact
 *     128-bit paths above). It takes the 17-digit decimals of a summary's
 *     recency and T without a 128-bit division.
 * Anything else (more digits, larger exponents, hex, inf, nan, a missing
 * digit) goes to strtod. The results are bit-identical to strtod's in the
 * C locale (tests/unit/base/test_table.c compares millions of strings).
 */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* 5^q for -38 <= q <= 19, normalized to [2^127, 2^128): truncated for
 * q >= 0, 2^b / 5^-q rounded up for q < 0 (fast_float's table, its
 * generator in tests/unit/base/test_table.c's comment). */
static const uint64_t P5[58][2] = {
    {0xd9c7dced53c72255ULL, 0x96e7bd358c904a21ULL}, /* -38 */
    {0x881cea14545c7575ULL, 0x7e50d64177da2e54ULL}, /* -37 */
    {0xaa242499697392d2ULL, 0xdde50bd1d5d0b9e9ULL}, /* -36 */
    {0xd4ad2dbfc3d07787ULL, 0x955e4ec64b44e864ULL}, /* -35 */
    {0x84ec3c97da624ab4ULL, 0xbd5af13bef0b113eULL}, /* -34 */
    {0xa6274bbdd0fadd61ULL, 0xecb1ad8aeacdd58eULL}, /* -33 */
    {0xcfb11ead453994baULL, 0x67de18eda5814af2ULL}, /* -32 */
    {0x81ceb32c4b43fcf4ULL, 0x80eacf948770ced7ULL}, /* -31 */
    {0xa2425ff75e14fc31ULL, 0xa1258379a94d028dULL}, /* -30 */
    {0xcad2f7f5359a3b3eULL, 0x096ee45813a04330ULL}, /* -29 */
    {0xfd87b5f28300ca0dULL, 0x8bca9d6e188853fcULL}, /* -28 */
    {0x9e74d1b791e07e48ULL, 0x775ea264cf55347eULL}, /* -27 */
    {0xc612062576589ddaULL, 0x95364afe032a819eULL}, /* -26 */
    {0xf79687aed3eec551ULL, 0x3a83ddbd83f52205ULL}, /* -25 */
    {0x9abe14cd44753b52ULL, 0xc4926a9672793543ULL}, /* -24 */
    {0xc16d9a0095928a27ULL, 0x75b7053c0f178294ULL}, /* -23 */
    {0xf1c90080baf72cb1ULL, 0x5324c68b12dd6339ULL}, /* -22 */
    {0x971da05074da7beeULL, 0xd3f6fc16ebca5e04ULL}, /* -21 */
    {0xbce5086492111aeaULL, 0x88f4bb1ca6bcf585ULL}, /* -20 */
    {0xec1e4a7db69561a5ULL, 0x2b31e9e3d06c32e6ULL}, /* -19 */
    {0x9392ee8e921d5d07ULL, 0x3aff322e62439fd0ULL}, /* -18 */
    {0xb877aa3236a4b449ULL, 0x09befeb9fad487c3ULL}, /* -17 */
    {0xe69594bec44de15bULL, 0x4c2ebe687989a9b4ULL}, /* -16 */
    {0x901d7cf73ab0acd9ULL, 0x0f9d37014bf60a11ULL}, /* -15 */
    {0xb424dc35095cd80fULL, 0x538484c19ef38c95ULL}, /* -14 */
    {0xe12e13424bb40e13ULL, 0x2865a5f206b06fbaULL}, /* -13 */
    {0x8cbccc096f5088cbULL, 0xf93f87b7442e45d4ULL}, /* -12 */
    {0xafebff0bcb24aafeULL, 0xf78f69a51539d749ULL}, /* -11 */
    {0xdbe6fecebdedd5beULL, 0xb573440e5a884d1cULL}, /* -10 */
    {0x89705f4136b4a597ULL, 0x31680a88f8953031ULL}, /* -9 */
    {0xabcc77118461cefcULL, 0xfdc20d2b36ba7c3eULL}, /* -8 */
    {0xd6bf94d5e57a42bcULL, 0x3d32907604691b4dULL}, /* -7 */
    {0x8637bd05af6c69b5ULL, 0xa63f9a49c2c1b110ULL}, /* -6 */
    {0xa7c5ac471b478423ULL, 0x0fcf80dc33721d54ULL}, /* -5 */
    {0xd1b71758e219652bULL, 0xd3c36113404ea4a9ULL}, /* -4 */
    {0x83126e978d4fdf3bULL, 0x645a1cac083126eaULL}, /* -3 */
    {0xa3d70a3d70a3d70aULL, 0x3d70a3d70a3d70a4ULL}, /* -2 */
    {0xccccccccccccccccULL, 0xcccccccccccccccdULL}, /* -1 */
    {0x8000000000000000ULL, 0x0000000000000000ULL}, /* 0 */
    {0xa000000000000000ULL, 0x0000000000000000ULL}, /* 1 */
    {0xc800000000000000ULL, 0x0000000000000000ULL}, /* 2 */
    {0xfa00000000000000ULL, 0x0000000000000000ULL}, /* 3 */
    {0x9c40000000000000ULL, 0x0000000000000000ULL}, /* 4 */
    {0xc350000000000000ULL, 0x0000000000000000ULL}, /* 5 */
    {0xf424000000000000ULL, 0x0000000000000000ULL}, /* 6 */
    {0x9896800000000000ULL, 0x0000000000000000ULL}, /* 7 */
    {0xbebc200000000000ULL, 0x0000000000000000ULL}, /* 8 */
    {0xee6b280000000000ULL, 0x0000000000000000ULL}, /* 9 */
    {0x9502f90000000000ULL, 0x0000000000000000ULL}, /* 10 */
    {0xba43b74000000000ULL, 0x0000000000000000ULL}, /* 11 */
    {0xe8d4a51000000000ULL, 0x0000000000000000ULL}, /* 12 */
    {0x9184e72a00000000ULL, 0x0000000000000000ULL}, /* 13 */
    {0xb5e620f480000000ULL, 0x0000000000000000ULL}, /* 14 */
    {0xe35fa931a0000000ULL, 0x0000000000000000ULL}, /* 15 */
    {0x8e1bc9bf04000000ULL, 0x0000000000000000ULL}, /* 16 */
    {0xb1a2bc2ec5000000ULL, 0x0000000000000000ULL}, /* 17 */
    {0xde0b6b3a76400000ULL, 0x0000000000000000ULL}, /* 18 */
    {0x8ac7230489e80000ULL, 0x0000000000000000ULL}, /* 19 */

};

/* m * 10^q (m > 0, -38 <= q <= 19) by Eisel-Lemire into *v; 0 when the
 * truncated product cannot decide the rounding (the caller then computes
 * it exactly). */
static int eisel_lemire(uint64_t m, int q, double *v) {
  const int lz = __builtin_clzll(m);
  const uint64_t w = m << lz;
  const uint64_t *t = P5[q + 38];
  u128 p = (u128)w * t[0];
  uint64_t hi = (uint64_t)(p >> 64), lo = (uint64_t)p;
  if ((hi & 0x1FF) == 0x1FF) { /* 55 bits needed: the next 64 of 5^q */
    const u128 p2 = (u128)w * t[1];
    const uint64_t lo2 = lo + (uint64_t)(p2 >> 64);
    if (lo2 < lo) hi++;
    lo = lo2;
    if ((hi & 0x1FF) == 0x1FF && lo == UINT64_MAX) return 0;
  }
  const int upper = (int)(hi >> 63), shift = upper + 9;
  uint64_t mant = hi >> shift;
  int e2 = (((152170 + 65536) * q) >> 16) + 63 + upper - lz + 1023;
  if (e2 <= 0 || e2 >= 2046) return 0;
  /* a tie (the product exact, in the range where 5^q is exact): even */
  if (lo <= 1 && q >= -4 && q <= 23 && (mant & 3) == 1 && (mant << shift) == hi)
    mant &= ~(uint64_t)1;
  mant += mant & 1;
  mant >>= 1;
  if (mant >= ((uint64_t)2 << 52)) {
    mant = (uint64_t)1 << 52;
    e2++;
  }
  const uint64_t bits = (mant & ~((uint64_t)1 << 52)) | (uint64_t)e2 << 52;
  memcpy(v, &bits, sizeof *v);
  return 1;
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
  } else if (e10 >= -38 && e10 <= 19 && eisel_lemire(m, e10, &v)) {
    /* v set */
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
