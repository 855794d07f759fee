/* test_sort.c - the radix order of doubles (lib/base/sort.c) equals a sort
 * by (value, index): ties in index order, -0.0 equal to 0.0, negatives,
 * tiny and huge magnitudes, constant digits skipped. */
#include "tsr_test.h"
#include "base/sort.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  double v;
  size_t i;
} vi;

static int vi_cmp(const void *a, const void *b) {
  const vi *x = a, *y = b;
  if (x->v < y->v) return -1;
  if (x->v > y->v) return 1;
  return (x->i > y->i) - (x->i < y->i);
}

/* tsr__order_f64 against qsort on (value, index) */
static void check(const double *x, size_t n) {
  uint32_t *ord = malloc((n ? n : 1) * sizeof *ord);
  vi *k = malloc((n ? n : 1) * sizeof *k);
  assert_non_null(ord);
  assert_non_null(k);
  for (size_t i = 0; i < n; i++) k[i].v = x[i], k[i].i = i;
  qsort(k, n, sizeof *k, vi_cmp);
  assert_int_equal(tsr__order_f64(x, n, ord), 0);
  for (size_t p = 0; p < n; p++) assert_int_equal(ord[p], k[p].i);
  free(ord);
  free(k);
}

/* tsr__radix_sort_u64: keys ascending, payload moved with its key, ties
 * in input order (stable), top-byte-only and full-width keys, no payload;
 * keys varying in a middle range of bits (addresses: 25 bits above 4 zero
 * bits, 3 passes, an odd number; 21 bits: 2 passes), all keys equal */
static void test_radix_u64(void **state) {
  (void)state;
  enum { N = 5000 };
  uint64_t *k = malloc(N * sizeof *k), *k0 = malloc(N * sizeof *k0);
  uint32_t *v = malloc(N * sizeof *v);
  assert_non_null(k), assert_non_null(k0), assert_non_null(v);
  uint64_t s = 88172645463325252ULL;
  for (int shape = 0; shape < 6; shape++) {
    for (uint32_t i = 0; i < N; i++) {
      s ^= s << 13, s ^= s >> 7, s ^= s << 17;
      k[i] = shape == 0   ? s % 97
             : shape == 1 ? (s % 7) << 56
             : shape == 2 ? s
             : shape == 3 ? 0x7f3a00000000ULL + ((s % ((uint64_t)1 << 25)) << 4)
             : shape == 4 ? s % 1800000
                          : 12345;
      k0[i] = k[i];
      v[i] = i;
    }
    assert_int_equal(tsr__radix_sort_u64(k, v, N), 0);
    for (uint32_t p = 0; p < N; p++) {
      assert_true(k[p] == k0[v[p]]);
      if (p) assert_true(k[p - 1] < k[p] || (k[p - 1] == k[p] && v[p - 1] < v[p]));
    }
    for (uint32_t i = 0; i < N; i++) k0[i] = k[N - 1 - i];
    assert_int_equal(tsr__radix_sort_u64(k0, NULL, N), 0);
    assert_memory_equal(k0, k, N * sizeof *k);
  }
  free(k), free(k0), free(v);
}

static void test_order_radix(void **state) {
  (void)state;
  enum { N = 20000 };
  double *x = malloc(N * sizeof *x);
  assert_non_null(x);
  uint64_t s = 42;
  for (size_t i = 0; i < N; i++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    double u = (double)(s >> 11) / 9007199254740992.0;
    switch (i % 6) {
      case 0: x[i] = floor(u * 10); break;              /* small integers: ties */
      case 1: x[i] = (u - 0.5) * 1e6; break;            /* negatives */
      case 2: x[i] = (i % 12 == 2) ? -0.0 : 0.0; break; /* -0.0 ties 0.0 */
      case 3: x[i] = u * 1e-300; break;                 /* tiny */
      case 4: x[i] = -u * 1e300; break;                 /* huge negative */
      default: x[i] = round(u * 520) / 7; break;        /* weeks as RFM has them */
    }
  }
  check(x, N);
  /* only small integers: the high digits are constant and skipped */
  for (size_t i = 0; i < N; i++) x[i] = (double)(i * 7919 % 13);
  check(x, N);
  /* all equal, one, none */
  for (size_t i = 0; i < N; i++) x[i] = 3.5;
  check(x, N);
  check(x, 1);
  check(x, 0);
  free(x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_order_radix),
      cmocka_unit_test(test_radix_u64),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
