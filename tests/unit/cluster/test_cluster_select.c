/* test_cluster_select.c - silhouette, adjusted Rand index and the knee rule
 * against scikit-learn 1.2.1 values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cluster/cluster_internal.h"
#include "cluster_test_util.h"
#include "tessera/cluster.h"

#define assert_close(a, b, tol)                                                                    \
  do {                                                                                             \
    double a_ = (a), b_ = (b);                                                                     \
    if (!(fabs(a_ - b_) <= (tol))) fail_msg("%.17g != %.17g (tol %g)", a_, b_, (double)(tol));     \
  } while (0)

static void ari_reference(void **state) {
  (void)state;
  double v;
  int a1[] = {0, 0, 1, 1}, b1[] = {0, 0, 1, 2};
  assert_int_equal(tsr_cluster_ari(a1, b1, 4, &v, NULL), TSR_OK);
  assert_close(v, 0.5714285714285714, 1e-15);
  int a2[] = {0, 0, 0, 1, 1, 1}, b2[] = {0, 0, 1, 1, 2, 2};
  tsr_cluster_ari(a2, b2, 6, &v, NULL);
  assert_close(v, 0.24242424242424243, 1e-15);
  int a3[] = {0, 1, 2, 3}, b3[] = {0, 0, 0, 0};
  tsr_cluster_ari(a3, b3, 4, &v, NULL);
  assert_close(v, 0.0, 1e-15);
  int a4[] = {5, 5, -1, 7}, b4[] = {1, 1, 0, 2}; /* relabelled: identical */
  tsr_cluster_ari(a4, b4, 4, &v, NULL);
  assert_close(v, 1.0, 1e-15);
}

static void silhouette_reference(void **state) {
  (void)state;
  double X[] = {0, 0, 1, 0, 0, 1, 5, 5, 6, 5, 5, 7, 10, 0, 11, 1}, v;
  int l[] = {0, 0, 0, 1, 1, 1, 2, 2};
  assert_int_equal(tsr_cluster_silhouette(X, 8, 2, l, 100, 1, 2, &v, NULL), TSR_OK);
  assert_close(v, 0.8015271258105366, 1e-12);
  /* noise (-1) is left out; one cluster gives NAN */
  int l2[] = {0, 0, 0, 0, 0, 0, -1, -1};
  tsr_cluster_silhouette(X, 8, 2, l2, 100, 1, 2, &v, NULL);
  assert_true(isnan(v));
}

static void silhouette_sample_close(void **state) {
  (void)state;
  size_t n = 6000, d = 2;
  double *X = malloc(n * d * sizeof *X), full, samp;
  int *l = malloc(n * sizeof *l);
  tu_blobs(n, d, 3, 4, 9, X, l);
  tsr_cluster_silhouette(X, n, d, l, n, 1, 2, &full, NULL);
  tsr_cluster_silhouette(X, n, d, l, 1000, 1, 2, &samp, NULL);
  printf("silhouette full %.6f sample %.6f\n", full, samp);
  assert_close(samp, full, 0.03);
  double again;
  tsr_cluster_silhouette(X, n, d, l, 1000, 1, 1, &again, NULL);
  assert_true(again == samp); /* seeded, thread-independent */
  free(X);
  free(l);
}

/* Every row labelled: the sample is drawn without the n-place pool; it is
 * the pool's sample (a noise row after the others leaves the pool 0..n-1:
 * the pool path, the same draws). */
static void silhouette_pool_free_sample(void **state) {
  (void)state;
  size_t n = 5000, d = 3;
  double *X = malloc((n + 1) * d * sizeof *X);
  int *l = malloc((n + 1) * sizeof *l);
  tu_blobs(n, d, 4, 3, 11, X, l);
  for (size_t t = 0; t < d; t++) X[n * d + t] = 100;
  l[n] = -1;
  size_t sizes[] = {100, 777, 4999, 5000, 9000};
  for (size_t q = 0; q < 5; q++) {
    double a, b;
    assert_int_equal(tsr_cluster_silhouette(X, n, d, l, sizes[q], 7, 2, &a, NULL), TSR_OK);
    assert_int_equal(tsr_cluster_silhouette(X, n + 1, d, l, sizes[q], 7, 2, &b, NULL), TSR_OK);
    assert_memory_equal(&a, &b, sizeof a);
  }
  free(X);
  free(l);
}

/* The k table's silhouettes of several labellings at once: each value that
 * of tsr_cluster_silhouette (bit for bit), any thread count, a sample
 * smaller or larger than the rows, one-cluster and noisy labellings. */
static void silhouette_multi_same(void **state) {
  (void)state;
  size_t n = 3001, d = 4, K = 5;
  double *X = malloc(n * d * sizeof *X);
  int *L = malloc(K * n * sizeof *L);
  tu_blobs(n, d, 5, 2, 3, X, L);
  for (size_t i = 0; i < n; i++) {
    L[n + i] = L[i] % 2;               /* two clusters */
    L[2 * n + i] = 0;                  /* one: NAN */
    L[3 * n + i] = (int)((i * 7) % 9); /* nine, unrelated to X */
    L[4 * n + i] = (int)(i % 3) * 5;   /* sparse label values */
  }
  size_t sizes[] = {100, 1000, 2999, 5000};
  for (size_t z = 0; z < 4; z++)
    for (int th = 1; th <= 2; th++) {
      double out[5], ref;
      assert_int_equal(tsr__cluster_silhouette_multi(X, n, d, L, K, sizes[z], 5, th, out, NULL),
                       TSR_OK);
      for (size_t q = 0; q < K; q++) {
        assert_int_equal(tsr_cluster_silhouette(X, n, d, L + q * n, sizes[z], 5, th, &ref, NULL),
                         TSR_OK);
        if (isnan(ref))
          assert_true(isnan(out[q]));
        else
          assert_memory_equal(&out[q], &ref, sizeof ref);
      }
    }
  L[4 * n + 17] = -1; /* noise: each labelling on its own */
  double out[5], ref;
  assert_int_equal(tsr__cluster_silhouette_multi(X, n, d, L, K, 500, 5, 2, out, NULL), TSR_OK);
  tsr_cluster_silhouette(X, n, d, L + 4 * n, 500, 5, 2, &ref, NULL);
  assert_memory_equal(&out[4], &ref, sizeof ref);
  free(X);
  free(L);
}

static void parse_helpers(void **state) {
  (void)state;
  unsigned t;
  tsr_cluster_method m;
  tsr_error e;
  assert_int_equal(tsr_cluster_transform_parse("log1p,standardize", &t, NULL), TSR_OK);
  assert_int_equal(t, TSR_XFORM_LOG1P | TSR_XFORM_STANDARDIZE);
  assert_int_equal(tsr_cluster_transform_parse("log", &t, &e), TSR_EINVAL);
  assert_string_equal(e.field, "transform");
  assert_int_equal(tsr_cluster_method_parse("dbscan", &m, NULL), TSR_OK);
  assert_int_equal(m, TSR_CLUSTER_DBSCAN);
  assert_int_equal(tsr_cluster_method_parse("x", &m, &e), TSR_EINVAL);
  assert_string_equal(e.msg, "expected kmeans, gmm or dbscan, got 'x'");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ari_reference),           cmocka_unit_test(silhouette_reference),
      cmocka_unit_test(silhouette_sample_close), cmocka_unit_test(silhouette_pool_free_sample),
      cmocka_unit_test(silhouette_multi_same),   cmocka_unit_test(parse_helpers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
