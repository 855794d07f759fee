/* test_fmtfixed.c - tsr__fmt_fixed (lib/base/fmtfixed.c) prints exactly
 * what snprintf("%.*f") prints: exact binary ties to even (0.125, 2.5),
 * values just beside a tie (2.675), -0.0 and negatives that round to zero,
 * subnormals, integers up to 1e15, every precision 0..17, and the printf
 * fallback (huge, inf, nan, a short buffer). */
#include "tsr_test.h"
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

static void same(double v, int prec) {
  char want[512], got[512];
  int n = snprintf(want, sizeof want, "%.*f", prec, v);
  memset(got, 'x', sizeof got);
  size_t k = tsr__fmt_fixed(v, prec, got, sizeof got);
  if (k != (size_t)n || strcmp(got, want) != 0)
    fail_msg("%%.%df of %.17g (%a): got '%s' (%zu), want '%s' (%d)", prec, v, v, got, k, want, n);
}

static void test_fixed_edges(void **state) {
  (void)state;
  static const double v[] = {0.0,
                             -0.0,
                             0.125,
                             -0.125,
                             0.375,
                             2.5,
                             3.5,
                             -2.5,
                             0.5,
                             1.5,
                             2.675,
                             1.005,
                             0.045,
                             1e-300,
                             -1e-300,
                             4.9e-324,
                             -4.9e-324,
                             DBL_MIN,
                             0.00049999999999999999,
                             0.0005,
                             -0.0004,
                             -0.00005,
                             123456789.98765,
                             999999999999999.9,
                             -999999999999999.9,
                             999999999999999.0,
                             1e15 - 0.5,
                             9007199254740991.0,
                             1e15,
                             -1e15,
                             1e16,
                             1e300,
                             -DBL_MAX,
                             INFINITY,
                             -INFINITY,
                             NAN,
                             4503599627370495.5,
                             0.1,
                             0.7,
                             33.333333333333336,
                             66.66666666666667};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
    for (int p = 0; p <= 17; p++) same(v[i], p);
  /* out-of-range precisions and a buffer too short for the fast path go
   * to printf (and give its length) */
  same(2.675, 18);
  same(2.675, 30);
  char small[8];
  assert_int_equal(tsr__fmt_fixed(12345.678, 4, small, sizeof small), 10);
  assert_string_equal(small, "12345.6");
}

/* random doubles of every magnitude, and amounts / shares as the writers
 * have them, against printf */
static void test_fixed_random(void **state) {
  (void)state;
  uint64_t s = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 400000; i++) {
    uint64_t r = tsr__splitmix64(&s);
    double v;
    switch (i % 5) {
      case 0: memcpy(&v, &r, sizeof v); break; /* any bit pattern */
      case 1: v = ldexp((double)(r >> 11), (int)(r % 80) - 100); break;
      case 2: v = (double)(int64_t)(r % 2000000) / 100.0 - 10000; break; /* cents */
      case 3: v = (double)(r % 10001) / 10000.0; break;                  /* shares */
      default: v = (double)(r >> 11) / 9007199254740992.0 * pow(10, (double)(r % 16)); break;
    }
    if (r & 1) v = -v;
    same(v, (int)(r >> 5) % 18);
    same(v, (int)(r >> 9) % 5);
  }
  /* ties of the exact binary value: k / 2^j for every precision */
  for (int j = 1; j <= 20; j++)
    for (int k = -64; k <= 64; k++)
      for (int p = 0; p <= 17; p++) same(ldexp(k, -j), p);
}

/* tsr__put_fixed writes what fprintf "%.*f" writes, the huge values of
 * the printf fallback (longer than its buffer) included */
static void test_put_fixed(void **state) {
  (void)state;
  char *a = NULL, *b = NULL;
  size_t na = 0, nb = 0;
  FILE *fa = open_memstream(&a, &na), *fb = open_memstream(&b, &nb);
  assert_non_null(fa);
  assert_non_null(fb);
  static const double v[] = {0.0, -0.0, 2.675, 0.00005, -0.00005, 123456.125, 1e15, 1e300, -DBL_MAX,
                             INFINITY, NAN, 0.33333333333333331, 4.9e-324};
  uint64_t s = 7;
  for (int i = 0; i < 20000; i++) {
    double x = i < (int)(sizeof v / sizeof v[0]) ? v[i] : (double)(int64_t)(tsr__splitmix64(&s) % 20000001) / 1000.0 - 10000;
    for (int p = 0; p <= 6; p++) {
      tsr__put_fixed(fa, x, p);
      fputc(';', fa);
      fprintf(fb, "%.*f;", p, x);
    }
  }
  fclose(fa);
  fclose(fb);
  assert_int_equal(na, nb);
  assert_string_equal(a, b);
  assert_non_null(strstr(a, ";1000000000000000052504760255204420248704"));
  free(a);
  free(b);
}

static void same_g17(double v) {
  char want[64], got[64];
  int n = snprintf(want, sizeof want, "%.17g", v);
  memset(got, 'x', sizeof got);
  size_t k = tsr__fmt_g17(v, got);
  if (k != (size_t)n || strcmp(got, want) != 0)
    fail_msg("%%.17g of %a: got '%s' (%zu), want '%s' (%d)", v, got, k, want, n);
}

/* tsr__fmt_g17 prints what "%.17g" prints: sums of amounts (the purchase
 * histories' inexact days), random doubles of every magnitude, the
 * neighbours of every power of ten and of values that round up to one
 * (9.99999999999999999), ties, and the printf range (tiny, huge, inf, nan,
 * zeros) */
static void test_g17(void **state) {
  (void)state;
  static const double v[] = {0.0, -0.0, 1e-3, 0.1 + 0.2, 57.900000000000006, 1e16, 9999999999999998.0,
                             1e15, 0.001, 0.00099999999999999, 1e-300, 4.9e-324, DBL_MAX, -DBL_MAX,
                             INFINITY, -INFINITY, NAN, 0.5, 2.5, 123456789.125, 0.30000000000000004};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) same_g17(v[i]);
  for (int k = -5; k <= 17; k++) {
    double p = pow(10, k);
    double lo = p, hi = p;
    for (int j = 0; j < 40; j++) {
      same_g17(lo);
      same_g17(-hi);
      lo = nextafter(lo, 0);
      hi = nextafter(hi, INFINITY);
    }
    /* values whose 17-digit rounding carries to the next power of ten */
    double c = p * 0.99999999999999999;
    for (int j = 0; j < 20; j++) {
      same_g17(c);
      c = nextafter(c, 0);
    }
  }
  uint64_t s = 0x243F6A8885A308D3ull;
  for (int i = 0; i < 400000; i++) {
    uint64_t r = tsr__splitmix64(&s);
    double x;
    switch (i % 4) {
      case 0: memcpy(&x, &r, sizeof x); break;
      case 1: x = ldexp((double)(r >> 11), (int)(r % 80) - 100); break;
      case 2: { /* a day's total: a sum of amounts in cents */
        x = 0;
        for (int j = 0; j < 2 + (int)(r % 5); j++)
          x += (double)(int64_t)(tsr__splitmix64(&s) % 2000000) / 100.0;
        break;
      }
      default: x = (double)(r >> 11) / 9007199254740992.0 * pow(10, (double)(r % 22) - 4); break;
    }
    if (r & 1) x = -x;
    same_g17(x);
  }
  /* exact binary ties at the 17th digit: k / 2^j */
  for (int j = 1; j <= 60; j++)
    for (int k = 1; k <= 64; k++) same_g17(ldexp(k, -j) + 1e5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixed_edges),
      cmocka_unit_test(test_fixed_random),
      cmocka_unit_test(test_put_fixed),
      cmocka_unit_test(test_g17),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
