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
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
