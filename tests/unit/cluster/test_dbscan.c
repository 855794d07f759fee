/* test_dbscan.c - DBSCAN against an O(n^2) brute-force reference (core
 * points, clusters and the border tie rule exactly), the k-d tree queries,
 * blobs with noise, and the eps auto rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cluster_test_util.h"
#include "tessera/cluster.h"

/* Brute force with scikit-learn's sequential expansion: clusters grown from
 * core points in index order; a border point keeps the first cluster that
 * reaches it. */
static size_t brute(const double *X, size_t n, size_t d, double eps,
                    size_t ms, int *lab) {
  unsigned char *core = calloc(n, 1);
  size_t *stack = malloc(n * sizeof *stack);
  double e2 = eps * eps;
  for (size_t i = 0; i < n; i++) {
    size_t c = 0;
    for (size_t j = 0; j < n; j++) {
      double s = 0;
      for (size_t t = 0; t < d; t++) s += pow(X[i * d + t] - X[j * d + t], 2);
      c += s <= e2;
    }
    core[i] = c >= ms;
    lab[i] = -1;
  }
  int next = 0;
  for (size_t i = 0; i < n; i++) {
    if (!core[i] || lab[i] >= 0) continue;
    size_t sp = 0;
    stack[sp++] = i;
    lab[i] = next;
    while (sp) {
      size_t p = stack[--sp];
      if (!core[p]) continue;
      for (size_t j = 0; j < n; j++) {
        if (lab[j] >= 0) continue;
        double s = 0;
        for (size_t t = 0; t < d; t++) s += pow(X[p * d + t] - X[j * d + t], 2);
        if (s <= e2) {
          lab[j] = next;
          stack[sp++] = j;
        }
      }
    }
    next++;
  }
  free(core);
  free(stack);
  return (size_t)next;
}

static void matches_brute_force(void **state) {
  (void)state;
  double *f = NULL, *r = NULL, *T = NULL;
  size_t n = tu_cdnow(&f, &r, &T);
  assert_int_equal(n, 2357);
  n = 800; /* a small sample: the first 800 customers */
  size_t d = 3;
  double *X = malloc(n * d * sizeof *X);
  for (size_t i = 0; i < n; i++) {
    X[i * d] = log1p(f[i]);
    X[i * d + 1] = log1p(r[i]) / 2;
    X[i * d + 2] = log1p(T[i]) * 3; /* T spread wider than the others */
  }
  int *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
  const double eps[] = {0.05, 0.1, 0.2, 0.35, 0.6};
  const size_t ms[] = {1, 3, 5, 12};
  for (size_t e = 0; e < 5; e++)
    for (size_t m = 0; m < 4; m++) {
      size_t nc = 0;
      assert_int_equal(tsr_dbscan_fit(X, n, d, eps[e], ms[m], 2, a, NULL, &nc, NULL), TSR_OK);
      size_t nb = brute(X, n, d, eps[e], ms[m], b);
      assert_int_equal(nc, nb);
      for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
          fail_msg("eps %g min_samples %zu row %zu: %d != brute force %d", eps[e],
                   ms[m], i, a[i], b[i]);
    }
  free(X);
  free(a);
  free(b);
  free(f);
  free(r);
  free(T);
}

/* Random points with many exact ties and border points between clusters. */
static void ties_and_borders(void **state) {
  (void)state;
  size_t n = 1500, d = 2;
  double *X = malloc(n * d * sizeof *X);
  tu_state = 5;
  for (size_t i = 0; i < n; i++) {
    X[i * d] = floor(tu_unif() * 40) / 4;
    X[i * d + 1] = floor(tu_unif() * 40) / 4;
  }
  int *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
  for (size_t ms = 2; ms <= 10; ms += 4) {
    size_t nc;
    tsr_dbscan_fit(X, n, d, 0.25, ms, 1, a, NULL, &nc, NULL);
    size_t nb = brute(X, n, d, 0.25, ms, b);
    assert_int_equal(nc, nb);
    assert_memory_equal(a, b, n * sizeof *a);
  }
  free(X);
  free(a);
  free(b);
}

static void blobs_with_eps_auto(void **state) {
  (void)state;
  size_t n = 4000, d = 2, k = 4;
  double *X = malloc(n * d * sizeof *X), eps;
  int *t = malloc(n * sizeof *t), *l = malloc(n * sizeof *l);
  tu_blobs(n, d, k, 20, 13, X, t);
  assert_int_equal(tsr_dbscan_eps_auto(X, n, d, 10, 10000, 1, &eps, NULL), TSR_OK);
  size_t nc, noise = 0;
  assert_int_equal(tsr_dbscan_fit(X, n, d, eps, 10, 2, l, NULL, &nc, NULL), TSR_OK);
  for (size_t i = 0; i < n; i++) noise += l[i] < 0;
  /* score the clustered points only */
  int *tt = malloc(n * sizeof *tt), *ll = malloc(n * sizeof *ll);
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (l[i] >= 0) {
      tt[m] = t[i];
      ll[m++] = l[i];
    }
  double ari;
  tsr_cluster_ari(tt, ll, m, &ari, NULL);
  printf("eps auto %.4f clusters %zu noise %zu ARI(clustered) %.6f\n", eps, nc, noise, ari);
  assert_int_equal(nc, k);
  assert_true(ari >= 0.99);
  assert_true(noise < n / 10); /* Gaussian tails: the knee leaves ~6% as noise */
  free(X);
  free(t);
  free(l);
  free(tt);
  free(ll);
}

static void bad_params(void **state) {
  (void)state;
  double X[2] = {0, 1};
  int l[2];
  tsr_error e;
  assert_int_equal(tsr_dbscan_fit(X, 2, 1, 0, 5, 2, l, NULL, NULL, &e), TSR_EINVAL);
  assert_string_equal(e.field, "eps");
  assert_string_equal(e.msg, "expected a value > 0, got 0");
  assert_int_equal(tsr_dbscan_fit(X, 2, 1, 1, 0, 2, l, NULL, NULL, &e), TSR_EINVAL);
  assert_string_equal(e.field, "min_samples");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(matches_brute_force),
      cmocka_unit_test(ties_and_borders),
      cmocka_unit_test(blobs_with_eps_auto),
      cmocka_unit_test(bad_params),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
