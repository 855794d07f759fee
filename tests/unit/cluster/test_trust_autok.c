/*
 * test_trust_autok.c - automatic k finds the segments that are there:
 * simulated customers from K well separated groups (K = 5, 6, 8, unequal
 * sizes down to 3 %) in frequency, recency, monetary_value and T; --k auto
 * must return K (issue 10), every cluster at least the minimum share, and
 * distinct names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/cluster.h"

static double unif(uint64_t *s) {
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
}
static double gauss(uint64_t *s) {
  double u = unif(s), v = unif(s);
  return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* Group centres in log1p space of (frequency, recency/T ratio, monetary, T). */
static const double CENTRES[8][4] = {
    {0.0, 0.0, 2.3, 3.6}, {1.1, 0.35, 3.4, 3.0}, {2.4, 0.95, 4.6, 3.6}, {3.4, 0.9, 2.8, 3.7},
    {1.6, 0.15, 5.6, 3.5}, {0.7, 0.8, 3.9, 1.6}, {2.9, 0.5, 6.3, 2.4}, {0.0, 0.0, 5.0, 1.0}};

static void run_k(size_t K, uint64_t seed) {
  size_t n = 4000;
  double *f = malloc(n * sizeof *f), *r = malloc(n * sizeof *r), *m = malloc(n * sizeof *m),
         *T = malloc(n * sizeof *T);
  /* sizes: group g gets weight (g + 1), the smallest about 3 % for K = 8 */
  double wsum = 0;
  for (size_t g = 0; g < K; g++) wsum += (double)(g + 1);
  uint64_t s = seed;
  size_t i = 0;
  for (size_t g = 0; g < K; g++) {
    size_t ng = g + 1 == K ? n - i : (size_t)((double)n * (double)(g + 1) / wsum);
    for (size_t j = 0; j < ng; j++, i++) {
      const double *c = CENTRES[g];
      double lt = c[3] + 0.1 * gauss(&s);
      T[i] = expm1(lt);
      f[i] = c[0] == 0 ? 0 : fmax(0, round(expm1(c[0] + 0.1 * gauss(&s))));
      double ratio = fmin(1, fmax(0, c[1] + 0.04 * gauss(&s)));
      r[i] = f[i] > 0 ? ratio * T[i] : 0;
      m[i] = expm1(c[2] + 0.1 * gauss(&s));
    }
  }
  const double *cols[4] = {f, r, m, T};
  const char *names[4] = {"frequency", "recency", "monetary_value", "T"};
  tsr_cluster_opts o;
  tsr_cluster_opts_init(&o);
  o.seed = 7;
  tsr_cluster_result *res;
  tsr_error e;
  if (tsr_cluster_run(&o, cols, names, n, 4, NULL, &res, &e)) fail_msg("cluster: %s", e.msg);
  printf("K = %zu: k auto = %zu\n", K, res->k);
  for (size_t q = 0; q < res->n_kscores; q++)
    printf("  k %zu silhouette %.4f inertia %.1f\n", res->kscores[q].k, res->kscores[q].silhouette, res->kscores[q].inertia);
  assert_int_equal(res->k, K);
  for (size_t c = 0; c < res->k; c++) {
    assert_true(res->profiles[c].share >= 0.02);
    for (size_t c2 = 0; c2 < c; c2++)
      if (!strcmp(res->profiles[c].label, res->profiles[c2].label))
        fail_msg("clusters %zu and %zu share the name '%s'", c2, c, res->profiles[c].label);
  }
  tsr_cluster_result_free(res);
  free(f), free(r), free(m), free(T);
}

static void five(void **state) { (void)state; run_k(5, 11); }
static void six(void **state) { (void)state; run_k(6, 12); }
static void eight(void **state) { (void)state; run_k(8, 13); }

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(five),
      cmocka_unit_test(six),
      cmocka_unit_test(eight),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
