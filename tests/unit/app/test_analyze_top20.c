/* test_analyze_top20.c - the KPIs' revenue share of the top 20 % customers
 * (app/analyze.c top20_revenue, a radix sort of the revenues' keys, on the
 * side thread or in the sequential order) is the very double of the sum
 * of a qsort in descending order: revenues of every sign and scale, ties,
 * zeros, refunds netted below zero. */
#include "tsr_test.h"
#include "tessera/analyze.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_desc(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x < y) - (x > y);
}

/* Customers whose revenues mix scales (the sum's order matters), ties at
 * the top 20 % boundary, zeros (a purchase and its refund) and negatives
 * (refunds above the purchases). */
static char *make_tx(size_t n) {
  size_t cap = n * 160 + 64, len = 0;
  char *s = malloc(cap);
  if (!s) return NULL;
  len += (size_t)snprintf(s + len, cap - len, "customer_id,date,amount\n");
  for (size_t i = 0; i < n; i++) {
    const char *d1 = i % 2 ? "2024-01-03" : "2024-02-10", *d2 = "2024-03-01";
    switch (i % 8) {
      case 0: len += (size_t)snprintf(s + len, cap - len, "c%zu,%s,%zu.37\n", i, d1, 1000000000000 + i); break;
      case 1: len += (size_t)snprintf(s + len, cap - len, "c%zu,%s,0.%02zu\n", i, d1, i % 100); break;
      case 2: len += (size_t)snprintf(s + len, cap - len, "c%zu,%s,5\nc%zu,%s,-5\n", i, d1, i, d2); break;
      case 3: len += (size_t)snprintf(s + len, cap - len, "c%zu,%s,1\nc%zu,%s,-3.25\n", i, d1, i, d2); break;
      case 4: len += (size_t)snprintf(s + len, cap - len, "c%zu,%s,42.42\n", i, d1); break;
      case 5: len += (size_t)snprintf(s + len, cap - len, "c%zu,%s,%zu.1\nc%zu,%s,3.3\n", i, d1, i * 7919 % 100000, i, d2); break;
      case 6: len += (size_t)snprintf(s + len, cap - len, "c%zu,%s,0.001\n", i, d1); break;
      default: len += (size_t)snprintf(s + len, cap - len, "c%zu,%s,-%zu.5\nc%zu,%s,1\n", i, d2, i % 13, i, d1); break;
    }
  }
  return s;
}

static void check(const char *path, const char *threads) {
  setenv("TESSERA_PREDICT_THREADS", threads, 1);
  const char *inputs[] = {path};
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  o.inputs = inputs;
  o.n_inputs = 1;
  o.model = "none";
  o.cluster = "none";
  o.summary.refunds = TSR_REFUNDS_NET;
  tsr_analyze_result *r;
  tsr_error e;
  assert_int_equal(tsr_analyze_run(&o, NULL, &r, &e), TSR_OK);
  unsetenv("TESSERA_PREDICT_THREADS");
  size_t n = r->summary->n, top = (n + 4) / 5, neg = 0, zero = 0;
  double *rev = malloc(n * sizeof *rev), total = 0;
  assert_non_null(rev);
  for (size_t i = 0; i < n; i++) {
    rev[i] = r->summary->rows[i].revenue;
    total += rev[i];
    neg += rev[i] < 0;
    zero += rev[i] == 0;
  }
  assert_true(neg > 0 && zero > 0); /* the data have both */
  qsort(rev, n, sizeof *rev, cmp_desc);
  double s = 0;
  for (size_t i = 0; i < top; i++) s += rev[i];
  free(rev);
  assert_true(total > 0);
  double want = s / total;
  assert_true(r->kpis.revenue == total);
  assert_true(r->kpis.top20_revenue_share == want); /* the same double */
  tsr_analyze_result_free(r);
}

static void test_top20_exact(void **state) {
  (void)state;
  static const size_t ns[] = {1001, 4003};
  for (size_t t = 0; t < 2; t++) {
    size_t n = ns[t];
    char *tx = make_tx(n);
    assert_non_null(tx);
    char path[64];
    assert_non_null(tsr_test_tmpfile(tx, strlen(tx), path, sizeof path));
    free(tx);
    check(path, "0"); /* the sequential order */
    check(path, "1"); /* the side thread */
    remove(path);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_top20_exact),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
