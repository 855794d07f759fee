/*
 * fmtfixed.c - "%.Nf" without printf: the exact decimal value of a double
 * rounded to N fractional digits, as glibc's printf does it in the default
 * rounding mode (ties of the exact binary value to even). The CSV and JSON
 * writers of columns documented with a fixed number of decimals (profiles,
 * churn probabilities) print millions of these; printf's arbitrary
 * precision path (__printf_fp) is most of their cost.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

const uint64_t tsr__pow10_u64[20] = {1ull,
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
                                     100000000000000000ull,
                                     1000000000000000000ull,
                                     10000000000000000000ull};

const char tsr__digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Forward: the length first (the counts of the outputs are mostly one or
 * two digits), then two digits at a time from the end. */
char *tsr__put_u64(char *o, uint64_t u) {
  if (u < 10) {
    *o = (char)('0' + u);
    return o + 1;
  }
  int n = 2;
  while (n < 20 && u >= tsr__pow10_u64[n]) n++;
  char *e = o + n, *q = e;
  while (u >= 100) {
    q -= 2;
    memcpy(q, tsr__digit_pairs + 2 * (u % 100), 2);
    u /= 100;
  }
  if (u >= 10)
    memcpy(q - 2, tsr__digit_pairs + 2 * u, 2);
  else
    q[-1] = (char)('0' + u);
  return e;
}

/* v = m 2^e exactly (m < 2^53); |v| < 1e15 and 0 <= prec <= 17, so
 * m 10^prec < 2^110 and the scaled value fits 128 bits. */
size_t tsr__fmt_fixed(double v, int prec, char *buf, size_t cap) {
  if (prec < 0 || prec > 17 || cap < TSR__FIXED_BUF || !(fabs(v) < 1e15)) {
    int n = snprintf(buf, cap, "%.*f", prec, v);
    return n < 0 ? 0 : (size_t)n;
  }
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  int neg = (int)(bits >> 63);
  int ex = (int)((bits >> 52) & 0x7ff);
  uint64_t m = bits & ((1ull << 52) - 1);
  int e;
  if (ex == 0) {
    e = -1074; /* subnormal (or zero) */
  } else {
    m |= 1ull << 52;
    e = ex - 1075;
  }
  const uint64_t P = tsr__pow10_u64[prec];
  unsigned __int128 q;
  if (e >= 0) {
    q = ((unsigned __int128)(m << e)) * P; /* an integer below 1e15: m << e < 2^50 */
  } else {
    int k = -e;
    unsigned __int128 x = (unsigned __int128)m * P; /* < 2^110 */
    if (k >= 112) {
      q = 0; /* x < 2^110 < half of 2^k: rounds to zero */
    } else {
      q = x >> k;
      unsigned __int128 rem = x - (q << k), half = (unsigned __int128)1 << (k - 1);
      if (rem > half || (rem == half && (q & 1))) q++;
    }
  }
  /* q < 1e15 10^prec + 1: integer part and fraction */
  uint64_t ip, fp;
  if (!(uint64_t)(q >> 64)) { /* the usual case: a 64-bit division, not __udivmodti4 */
    ip = (uint64_t)q / P;
    fp = (uint64_t)q % P;
  } else {
    ip = (uint64_t)(q / P);
    fp = (uint64_t)(q % P);
  }
  char *o = buf;
  if (neg) *o++ = '-'; /* printf keeps the sign of -0.0 and of what rounds to zero */
  o = tsr__put_u64(o, ip);
  if (prec > 0) {
    *o++ = '.';
    for (int d = prec - 1; d >= 0; d--) {
      o[d] = (char)('0' + fp % 10);
      fp /= 10;
    }
    o += prec;
  }
  *o = '\0';
  return (size_t)(o - buf);
}

void tsr__put_fixed(FILE *f, double v, int prec) {
  char b[64];
  size_t n = tsr__fmt_fixed(v, prec, b, sizeof b);
  if (n < sizeof b)
    fwrite(b, 1, n, f);
  else
    fprintf(f, "%.*f", prec, v); /* huge |v|: hundreds of digits */
}

/* "%.17g" of v in fixed notation, exactly: for 1e-3 <= |v| < 1e16 the
 * exponent X of v rounded to 17 digits is in -3..16, so %g writes it as
 * "%.(16-X)f" with trailing fractional zeros (and a bare '.') dropped.
 * q = round(|v| 10^(16-X)) is computed exactly as in tsr__fmt_fixed (m 10^p
 * < 2^117 for p <= 19); X starts from log10 and is right when q has 17
 * digits. q = 10^16 (|v| at a power of ten, where X could be one less) and
 * everything else go to printf. */
size_t tsr__fmt_g17(double v, char *buf) {
  double a = fabs(v);
  if (!(a >= 1e-3 && a < 1e16)) goto slow;
  uint64_t bits;
  memcpy(&bits, &a, sizeof bits);
  uint64_t m = (bits & ((1ull << 52) - 1)) | (1ull << 52); /* a is normal here */
  int e = (int)((bits >> 52) & 0x7ff) - 1075;
  int X = (int)floor(log10(a));
  for (int pass = 0; pass < 3; pass++) {
    int p = 16 - X;
    if (p < 0 || p > 19) goto slow;
    unsigned __int128 q;
    if (e >= 0) {
      q = (unsigned __int128)(m << e) * tsr__pow10_u64[p]; /* m << e < 2^54 */
    } else {
      int k = -e; /* 1..63 for a >= 1e-3 */
      unsigned __int128 x = (unsigned __int128)m * tsr__pow10_u64[p];
      q = x >> k;
      unsigned __int128 rem = x - (q << k), half = (unsigned __int128)1 << (k - 1);
      if (rem > half || (rem == half && (q & 1))) q++;
    }
    if (q == tsr__pow10_u64[16]) goto slow;
    if (q < tsr__pow10_u64[16]) {
      X--;
      continue;
    }
    if (q >= tsr__pow10_u64[17]) {
      X++;
      continue;
    }
    /* the 17 digits of q; X + 1 of them before the point */
    char dg[17];
    uint64_t u = (uint64_t)q;
    for (int i = 16; i >= 0; i--) {
      dg[i] = (char)('0' + u % 10);
      u /= 10;
    }
    int last = 16;
    while (last > X && last > 0 && dg[last] == '0') last--;
    char *o = buf;
    if (signbit(v)) *o++ = '-';
    if (X < 0) {
      *o++ = '0';
      *o++ = '.';
      for (int i = -1; i > X; i--) *o++ = '0';
      for (int i = 0; i <= last; i++) *o++ = dg[i];
    } else {
      for (int i = 0; i <= X; i++) *o++ = dg[i];
      if (last > X) {
        *o++ = '.';
        for (int i = X + 1; i <= last; i++) *o++ = dg[i];
      }
    }
    *o = '\0';
    return (size_t)(o - buf);
  }
slow:;
  int n = snprintf(buf, TSR__G17_BUF, "%.17g", v);
  return n < 0 ? 0 : (size_t)n;
}
