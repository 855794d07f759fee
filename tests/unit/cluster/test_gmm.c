/* test_gmm.c - Gaussian mixture: recovery of blobs and of known parameters,
 * monotone log-likelihood on CDNOW features, BIC/AIC, predict. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cluster_test_util.h"
#include "tessera/cluster.h"

static void blobs_recovered(void **state) {
  (void)state;
  size_t n = 3000, d = 3, k = 4;
  double *X = malloc(n * d * sizeof *X);
  int *t = malloc(n * sizeof *t), *l = malloc(n * sizeof *l);
  tu_blobs(n, d, k, 10, 3, X, t);
  for (int cov = 0; cov < 2; cov++) {
    tsr_cluster_opts o;
    tsr_cluster_opts_init(&o);
    o.cov = cov ? TSR_COV_DIAG : TSR_COV_FULL;
    tsr_gmm *g = NULL;
    assert_int_equal(tsr_gmm_fit(X, n, d, k, &o, &g, l, NULL, NULL), TSR_OK);
    double ari;
    tsr_cluster_ari(t, l, n, &ari, NULL);
    printf("cov=%d ARI %.6f iter %zu\n", cov, ari, g->n_iter);
    assert_true(ari >= 0.99);
    size_t p = (k - 1) + k * d + (cov ? k * d : k * d * (d + 1) / 2);
    assert_int_equal(g->n_params, p);
    assert_true(fabs(g->bic - (-2 * g->loglik + (double)p * log((double)n))) < 1e-6);
    assert_true(fabs(g->aic - (-2 * g->loglik + 2.0 * (double)p)) < 1e-6);
    int *l2 = malloc(n * sizeof *l2);
    double ll;
    assert_int_equal(tsr_gmm_predict(g, X, n, l2, NULL, &ll, NULL), TSR_OK);
    assert_memory_equal(l, l2, n * sizeof *l);
    assert_true(fabs(ll - g->loglik) < 1e-9 * fabs(ll));
    free(l2);
    tsr_gmm_free(g);
  }
  free(X);
  free(t);
  free(l);
}

/* Two 2-d Gaussians with known weights, means and covariances. */
static void parameters_recovered(void **state) {
  (void)state;
  size_t n = 40000, d = 2;
  double *X = malloc(n * d * sizeof *X);
  tu_state = 77;
  for (size_t i = 0; i < n; i++) {
    double z1 = tu_norm(), z2 = tu_norm();
    if (i % 10 < 3) { /* weight 0.3, mean (0,0), cov [[1, 0.6],[0.6, 1]] */
      X[i * d] = z1;
      X[i * d + 1] = 0.6 * z1 + 0.8 * z2;
    } else { /* weight 0.7, mean (6, 2), cov diag(0.25, 4) */
      X[i * d] = 6 + 0.5 * z1;
      X[i * d + 1] = 2 + 2 * z2;
    }
  }
  tsr_cluster_opts o;
  tsr_cluster_opts_init(&o);
  o.tol = 1e-8;
  o.max_iter = 500;
  tsr_gmm *g = NULL;
  assert_int_equal(tsr_gmm_fit(X, n, d, 2, &o, &g, NULL, NULL, NULL), TSR_OK);
  size_t a = g->means[0] < 3 ? 0 : 1, b = 1 - a;
  printf("w %.4f %.4f mu (%.3f %.3f) (%.3f %.3f) cov a %.3f %.3f %.3f b %.3f %.3f\n",
         g->weights[a], g->weights[b], g->means[a * 2], g->means[a * 2 + 1],
         g->means[b * 2], g->means[b * 2 + 1], g->covariances[a * 4],
         g->covariances[a * 4 + 1], g->covariances[a * 4 + 3],
         g->covariances[b * 4], g->covariances[b * 4 + 3]);
  assert_true(fabs(g->weights[a] - 0.3) < 0.01);
  assert_true(fabs(g->means[a * 2]) < 0.03 && fabs(g->means[a * 2 + 1]) < 0.03);
  assert_true(fabs(g->means[b * 2] - 6) < 0.03 && fabs(g->means[b * 2 + 1] - 2) < 0.05);
  assert_true(fabs(g->covariances[a * 4 + 1] - 0.6) < 0.04);
  assert_true(fabs(g->covariances[b * 4] - 0.25) < 0.02);
  assert_true(fabs(g->covariances[b * 4 + 3] - 4) < 0.15);
  assert_true(g->converged);
  tsr_gmm_free(g);
  free(X);
}

static void cdnow_loglik_monotone(void **state) {
  (void)state;
  double *f = NULL, *r = NULL, *T = NULL;
  size_t n = tu_cdnow(&f, &r, &T);
  assert_int_equal(n, 2357);
  size_t d = 3;
  double *X = malloc(n * d * sizeof *X);
  for (size_t i = 0; i < n; i++) {
    X[i * d] = log1p(f[i]);
    X[i * d + 1] = log1p(r[i]);
    X[i * d + 2] = log1p(T[i]);
  }
  for (int cov = 0; cov < 2; cov++)
    for (size_t k = 2; k <= 6; k += 2) {
      tsr_cluster_opts o;
      tsr_cluster_opts_init(&o);
      o.cov = cov ? TSR_COV_DIAG : TSR_COV_FULL;
      o.tol = 1e-10;
      o.max_iter = 300;
      o.seed = k;
      tsr_gmm *g = NULL;
      assert_int_equal(tsr_gmm_fit(X, n, d, k, &o, &g, NULL, NULL, NULL), TSR_OK);
      assert_true(g->n_trace >= 2);
      for (size_t i = 1; i < g->n_trace; i++)
        if (g->trace[i] < g->trace[i - 1] - 1e-9)
          fail_msg("cov=%d k=%zu: loglik decreased at iteration %zu: %.17g -> %.17g",
                   cov, k, i, g->trace[i - 1], g->trace[i]);
      printf("cov=%d k=%zu iters %zu mean loglik %.6f -> %.6f\n", cov, k,
             g->n_trace, g->trace[0], g->trace[g->n_trace - 1]);
      assert_true(g->loglik / (double)n >= g->trace[g->n_trace - 1] - 1e-9);
      tsr_gmm_free(g);
    }
  free(X);
  free(f);
  free(r);
  free(T);
}

/* Same seed: same mixture whatever the number of threads. */
static void thread_independent(void **state) {
  (void)state;
  size_t n = 30000, d = 3, k = 4;
  double *X = malloc(n * d * sizeof *X);
  int *t = malloc(n * sizeof *t), *l1 = malloc(n * sizeof *l1), *l2 = malloc(n * sizeof *l2);
  tu_blobs(n, d, k, 2, 21, X, t);
  tsr_cluster_opts o;
  tsr_cluster_opts_init(&o);
  o.seed = 9;
  o.n_threads = 1;
  tsr_gmm *g1 = NULL, *g2 = NULL;
  assert_int_equal(tsr_gmm_fit(X, n, d, k, &o, &g1, l1, NULL, NULL), TSR_OK);
  o.n_threads = 2;
  assert_int_equal(tsr_gmm_fit(X, n, d, k, &o, &g2, l2, NULL, NULL), TSR_OK);
  assert_true(g1->loglik == g2->loglik);
  assert_memory_equal(g1->means, g2->means, k * d * sizeof(double));
  assert_memory_equal(l1, l2, n * sizeof *l1);
  tsr_gmm_free(g1);
  tsr_gmm_free(g2);
  free(X);
  free(t);
  free(l1);
  free(l2);
}

static void bad_params(void **state) {
  (void)state;
  double X[4] = {1, 2, 3, 4};
  tsr_gmm *g = NULL;
  tsr_error e;
  assert_int_equal(tsr_gmm_fit(X, 4, 1, 5, NULL, &g, NULL, NULL, &e), TSR_EINVAL);
  assert_string_equal(e.field, "k");
  tsr_cluster_opts o;
  tsr_cluster_opts_init(&o);
  o.reg_covar = -1;
  assert_int_equal(tsr_gmm_fit(X, 4, 1, 2, &o, &g, NULL, NULL, &e), TSR_EINVAL);
  assert_string_equal(e.msg, "expected a value >= 0, got -1");
  /* identical points and no regularisation: not positive definite */
  double Y[6] = {1, 1, 1, 1, 1, 1};
  o.reg_covar = 0;
  assert_int_equal(tsr_gmm_fit(Y, 6, 1, 1, &o, &g, NULL, NULL, &e), TSR_ENUMERIC);
  assert_null(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(blobs_recovered),
      cmocka_unit_test(parameters_recovered),
      cmocka_unit_test(cdnow_loglik_monotone),
      cmocka_unit_test(thread_independent),
      cmocka_unit_test(bad_params),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
