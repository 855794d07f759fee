/* test_fmtdouble.c - the table-driven shortest-double printer
 * (lib/base/fmtdouble.c) gives the previous printer's bytes for every kind
 * of double, and its text reads back as the value and is the shortest the
 * form allows.
 *
 * The reference below is the previous printer (session 22's hash.c: exact
 * integer paths for 1e-12 <= |d| < 1e15, printf elsewhere), itself checked
 * against printf in test_textout.c. TSR_FMT_TEST_SCALE=k multiplies the
 * number of values (k = 50 runs ~100 million). */
#include "tsr_test.h"
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the previous printer, verbatim but for names ---- */
/* The reference algorithm (old): the first of "%.15g", "%.16g", "%.17g" that
 * round-trips. */
static char *old_slow(double d, char *buf) {
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
  if (ex == 0 || m == (1ull << 52)) return old_slow(d, buf);
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
      if (twice == full) return old_slow(d, buf); /* exact tie */
      uint64_t M = F / sc + (twice > full);
      if (M >= tsr__pow10_u64[P]) return old_slow(d, buf);
      if (P < 17) {
        u128 Ms = (u128)(M * sc) << s;
        u128 diff = (Ms > N ? Ms - N : N - Ms) << 1;
        if (diff > p5 || (diff == p5 && (m & 1))) continue; /* no round trip */
      }
      return put_exp(buf, neg, M, P, E);
    }
    break;
  }
  return old_slow(d, buf);
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
      if (E <= 12)
        memcpy(o + 1, dg + E + 1, 16);
      else
        memcpy(o + 1, dg + E + 1, 4);
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
  if (F < tsr__pow10_u64[16] || F >= tsr__pow10_u64[17]) return old_slow(d, buf);
  int k = 16 - E;
  u128 tenk = (u128)tsr__pow10_u64[k > 19 ? 19 : k] * tsr__pow10_u64[k > 19 ? k - 19 : 0];
  u128 rem = N & (((u128)1 << s) - 1), half = (u128)1 << (s - 1);
  int pow2 = m == (1ull << 52);
  for (int P = 15; P <= 17; P++) {
    uint64_t M;
    if (P == 17) {
      if (rem == half) return old_slow(d, buf); /* exact tie */
      M = F + (rem > half);
    } else {
      uint64_t sc = P == 15 ? 100 : 10, h = sc / 2;
      uint64_t q = F / sc, r = F % sc;
      if (r == h && rem == 0) return old_slow(d, buf); /* exact tie */
      M = q + (r > h || (r == h && rem != 0));
      if (M >= tsr__pow10_u64[P]) return old_slow(d, buf); /* rounds up to 10^P */
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
    if (M >= tsr__pow10_u64[P]) return old_slow(d, buf); /* rounds up to 10^P */
    return put_fixed_fast(buf, neg, M, P, E);
  }
  return old_slow(d, buf);
}

static char *old_fmt_double_end(double d, char *buf) {
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
  if (!(a >= 1e-4 && a < 1e15)) return old_slow(d, buf);
  return fmt_mid(d, a, neg, buf);
}

/* ---- end of the previous printer ---- */

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void) {
  uint64_t x = rng_state;
  x ^= x << 13, x ^= x >> 7, x ^= x << 17;
  return rng_state = x;
}

static double from_bits(uint64_t b) {
  double d;
  memcpy(&d, &b, sizeof d);
  return d;
}

static size_t checked, slow_shortest_exceptions;

/* d: the new bytes and end equal the old; a finite value reads back; the
 * text with one significant digit fewer (correctly rounded) does not read
 * back (for normal values), unless the old form prints 17 digits where 16
 * would do (only at a power of two, where the reference's %.16g picks the
 * closer decimal that lies outside the narrower half of the interval). */
static void check(double d, int shortest) {
  char b[32], r[32];
  memset(b, 'x', sizeof b);
  char *end = tsr__fmt_double_end(d, b);
  char *rend = old_fmt_double_end(d, r);
  if (strcmp(b, r) != 0 || end - b != rend - r) {
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    print_error("%a (0x%016llx): new \"%s\" old \"%s\"\n", d, (unsigned long long)bits, b, r);
    fail();
  }
  checked++;
  if (!isfinite(d)) return;
  assert_true(strtod(b, NULL) == d);
  /* below DBL_MIN fewer digits are exact and "%.15g" may be longer than
   * needed: the form is then the reference's, not the shortest */
  if (!shortest || fabs(d) < DBL_MIN) return;
  /* significant digits of b */
  int n = 0, lead = 1, tail = 0;
  for (const char *p = b; *p && *p != 'e'; p++) {
    if (*p < '0' || *p > '9') continue;
    if (lead && *p == '0') continue;
    lead = 0;
    n++;
    tail = *p == '0' ? tail + 1 : 0;
  }
  n -= tail; /* trailing zeros of an integer part */
  if (n <= 1) return;
  char s[40];
  snprintf(s, sizeof s, "%.*e", n - 2, d);
  if (strtod(s, NULL) == d) {
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    if (!(n == 17 && (bits & ((1ull << 52) - 1)) == 0))
      print_error("not shortest: %s (%s)\n", b, s);
    assert_true(n == 17 && (bits & ((1ull << 52) - 1)) == 0);
    slow_shortest_exceptions++;
  }
}

static size_t scale(void) {
  const char *e = getenv("TSR_FMT_TEST_SCALE");
  long k = e ? strtol(e, NULL, 10) : 1;
  return k > 0 ? (size_t)k : 1;
}

/* Random bit patterns: every exponent, subnormals, inf and nan. */
static void random_bits(void **state) {
  (void)state;
  size_t n = 1000000 * scale();
  for (size_t i = 0; i < n; i++) check(from_bits(rnd()), (i & 7) == 0);
}

/* Random bits within the exponents the data have (1e-12 .. 1e15) */
static void random_bits_common(void **state) {
  (void)state;
  size_t n = 600000 * scale();
  for (size_t i = 0; i < n; i++) {
    uint64_t x = rnd();
    uint64_t ex = 983 + (x >> 52) % 90; /* 2^-40 .. 2^49 */
    check(from_bits((x & 0x800fffffffffffffull) | ex << 52), (i & 7) == 0);
  }
}

/* Random short decimals: 1-17 significant digits, decimal exponents
 * -330 .. 310, as strtod reads them. */
static void short_decimals(void **state) {
  (void)state;
  size_t n = 400000 * scale();
  char s[64];
  for (size_t i = 0; i < n; i++) {
    uint64_t x = rnd();
    int digits = 1 + (int)(x % 17);
    uint64_t m = rnd() % tsr__pow10_u64[digits];
    int e = (int)((x >> 8) % 641) - 330;
    if ((x >> 20) & 1) e = (int)((x >> 21) % 30) - 15; /* the usual range */
    snprintf(s, sizeof s, "%s%llue%d", (x >> 40) & 1 ? "-" : "", (unsigned long long)m, e);
    check(strtod(s, NULL), (i & 3) == 0);
  }
}

/* Integers of every size, and halves and quarters of them. */
static void integers(void **state) {
  (void)state;
  size_t n = 200000 * scale();
  for (size_t i = 0; i < n; i++) {
    uint64_t x = rnd();
    double d = (double)(x >> (x % 64));
    if ((x >> 6) & 1) d = -d;
    check(d, 1);
    check(d + 0.5, 1);
    check(d / 4, 1);
  }
  check(1e15, 1);
  check(-1e15, 1);
  check(999999999999999.0, 1);
  check(9007199254740992.0, 1);
  check(9007199254740993.0, 1);
  check(18446744073709551616.0, 1);
}

/* The digits of every integer below 10^8 (the integer path: its last 8
 * digits by the 8-digit routine the shortest path also uses, so every input
 * of that routine), against digits made one at a time; and tsr__put_u64's
 * digits (forward, two at a time) for the same values and the ends. */
static void naive_u64(char *o, uint64_t u) {
  char t[24];
  int n = 0;
  do t[n++] = (char)('0' + u % 10);
  while (u /= 10);
  while (n) *o++ = t[--n];
  *o = '\0';
}

static void every_8_digit_integer(void **state) {
  (void)state;
  char b[32], r[32], p[32];
  for (uint32_t v = 0; v < 100000000u; v++) {
    char *end = tsr__fmt_double_end((double)v, b);
    naive_u64(r, v);
    char *pe = tsr__put_u64(p, v);
    *pe = '\0';
    if (strcmp(b, r) != 0 || (size_t)(end - b) != strlen(r) || strcmp(p, r) != 0) {
      print_error("%u: fmt \"%s\" put_u64 \"%s\" want \"%s\"\n", v, b, p, r);
      fail();
    }
  }
  uint64_t ends[] = {9,
                     10,
                     99,
                     100,
                     999,
                     1000,
                     9999999999999999999ull,
                     10000000000000000000ull,
                     UINT64_MAX,
                     12345678901234567890ull};
  for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
    naive_u64(r, ends[i]);
    *tsr__put_u64(p, ends[i]) = '\0';
    assert_string_equal(p, r);
  }
  for (int i = 0; i < 1000000; i++) {
    uint64_t x = rnd();
    x >>= x % 64;
    naive_u64(r, x);
    *tsr__put_u64(p, x) = '\0';
    assert_string_equal(p, r);
  }
}

/* Powers of ten and two, their neighbours, the ends of the range. */
static void powers_and_limits(void **state) {
  (void)state;
  char s[32];
  for (int e = -330; e <= 310; e++) {
    snprintf(s, sizeof s, "1e%d", e);
    double p = strtod(s, NULL);
    for (int sgn = 0; sgn < 2; sgn++) {
      double d = sgn ? -p : p, lo = d, hi = d;
      check(d, 1);
      for (int k = 0; k < 4; k++) {
        lo = nextafter(lo, 0);
        hi = nextafter(hi, sgn ? -INFINITY : INFINITY);
        check(lo, 1);
        check(hi, 1);
      }
    }
  }
  for (int e = -1074; e <= 1023; e++) {
    double p = ldexp(1.0, e), lo = p, hi = p;
    check(p, 1);
    check(-p, 1);
    check(3 * p / 2, 1);
    for (int k = 0; k < 4; k++) {
      lo = nextafter(lo, 0);
      hi = nextafter(hi, INFINITY);
      check(lo, 1);
      check(hi, 1);
    }
  }
  const double lim[] = {DBL_MAX,
                        -DBL_MAX,
                        DBL_MIN,
                        -DBL_MIN,
                        DBL_TRUE_MIN,
                        -DBL_TRUE_MIN,
                        DBL_EPSILON,
                        0.0,
                        -0.0,
                        INFINITY,
                        -INFINITY,
                        NAN,
                        -NAN,
                        nextafter(DBL_MIN, 0),
                        nextafter(DBL_MIN, 1)};
  for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++) check(lim[i], 1);
  for (size_t i = 0; i < 200000; i++) { /* subnormals */
    uint64_t x = rnd();
    check(from_bits(x & 0x800fffffffffffffull), (i & 7) == 0);
  }
}

/* Values near ties: 16 and 17 significant digits ending in 5 (exactly
 * representable ones where the binary exponent allows), money-like values
 * (cents, means of cents) and x.25, x.75 near 2^52. */
static void near_ties(void **state) {
  (void)state;
  size_t n = 200000 * scale();
  char s[64];
  for (size_t i = 0; i < n; i++) {
    uint64_t x = rnd();
    int digits = 16 + (int)(x & 1);
    uint64_t m = tsr__pow10_u64[digits - 1] + rnd() % (9 * tsr__pow10_u64[digits - 1]);
    m = m / 10 * 10 + 5;
    int e = (int)((x >> 8) % 40) - 30;
    snprintf(s, sizeof s, "%llue%d", (unsigned long long)m, e);
    check(strtod(s, NULL), 1);
    double q = ldexp((double)((rnd() >> 11) | 1), -(int)(x >> 16) % 8);
    check(q, 1);
    check((double)(rnd() % 10000000) / 100, 1);
    check((double)(rnd() % 10000000) / 100 / (double)(1 + x % 97), (i & 3) == 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(random_bits),
      cmocka_unit_test(random_bits_common),
      cmocka_unit_test(short_decimals),
      cmocka_unit_test(integers),
      cmocka_unit_test(every_8_digit_integer),
      cmocka_unit_test(powers_and_limits),
      cmocka_unit_test(near_ties),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  printf("checked %zu values (%zu 17-digit forms where 16 would do)\n", checked,
         slow_shortest_exceptions);
  return rc;
}
