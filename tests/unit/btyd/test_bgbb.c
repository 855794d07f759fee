/*
 * test_bgbb.c - BG/BB: the donations estimates of Fader, Hardie & Shang
 * (2010), gradient, predictions, robustness, parameter recovery.
 */
#include "btyd_testutil.h"

#include "btyd_internal.h"

static void fit_donations(void **state) {
  (void)state;
  double *c[4];
  size_t n = tu_read_csv(tu_data("cdnow/donations.csv"), 4, c);
  assert_int_equal(n, 22);
  tsr_btyd_data d = {n, c[0], c[1], c[2], NULL, c[3]};
  tsr_btyd_model m;
  tsr_error err;
  if (tsr_btyd_fit(TSR_BTYD_BGBB, &d, NULL, &m, &err)) fail_msg("fit: %s", err.msg);
  printf("bgbb: alpha %.6f beta %.6f gamma %.6f delta %.6f LL %.4f n %g iter %d\n",
         m.params[0], m.params[1], m.params[2], m.params[3], m.loglik,
         m.n_customers, m.iterations);
  assert_true(m.converged && m.has_cov);
  assert_close(m.params[0], 1.204, 1e-3);
  assert_close(m.params[1], 0.750, 1e-3);
  assert_close(m.params[2], 0.657, 1e-3);
  assert_close(m.params[3], 2.783, 1e-3);
  assert_abs(m.loglik, -33225.58, 0.01);
  assert_close(m.n_customers, 11104, 1e-12);
  for (int i = 0; i < 4; i++) free(c[i]);
}

static void gradient(void **state) {
  (void)state;
  double x[4] = {0, 2, 5, 3}, tx[4] = {0, 4, 6, 3}, T[4] = {6, 6, 6, 11},
         w[4] = {10, 2, 1, 1};
  tsr_btyd_data d = {4, x, tx, T, NULL, w};
  const double P[][4] = {{1.2, 0.75, 0.66, 2.78}, {0.1, 5, 3, 0.2}, {20, 1, 0.05, 40}};
  for (size_t k = 0; k < 3; k++) {
    double ll, g[4];
    assert_int_equal(tsr__bgbb_spec.loglik(P[k], &d, &ll, g), 0);
    for (int j = 0; j < 4; j++) {
      double pp[4], lp, lm, h = 1e-6 * P[k][j];
      memcpy(pp, P[k], sizeof pp);
      pp[j] += h;
      tsr__bgbb_spec.loglik(pp, &d, &lp, NULL);
      pp[j] -= 2 * h;
      tsr__bgbb_spec.loglik(pp, &d, &lm, NULL);
      double fd = (lp - lm) / (2 * h);
      if (!(fabs(fd - g[j]) <= 1e-5 * (1 + fabs(fd))))
        fail_msg("params %zu, d/d%d: analytic %.10g, numeric %.10g", k, j, g[j], fd);
    }
  }
}

static void predictions(void **state) {
  (void)state;
  double p[4] = {1.204, 0.750, 0.657, 2.783};
  tsr_btyd_model m;
  assert_ok(tsr_btyd_model_init(&m, TSR_BTYD_BGBB, p, NULL));
  /* the pmf over 0..n sums to 1 and has mean E[X(n)] (FHS eq. 7, 8) */
  double s = 0, mean = 0, e;
  for (unsigned x = 0; x <= 6; x++) {
    double q;
    assert_ok(tsr_btyd_pmf_new(&m, x, 6, &q, NULL));
    s += q;
    mean += x * q;
  }
  assert_ok(tsr_btyd_expected_new(&m, 6, &e, NULL));
  assert_close(s, 1.0, 1e-12);
  assert_close(mean, e, 1e-10);
  /* closed form of E[X(n)] */
  double want = 1.204 / (1.204 + 0.75) * 2.783 / (0.657 - 1) *
                (1 - exp(lgamma(0.657 + 2.783) - lgamma(0.657 + 2.783 + 6) +
                         lgamma(1 + 2.783 + 6) - lgamma(1 + 2.783)));
  assert_close(e, want, 1e-12);
  /* a customer active in every period is very likely alive; P(alive) and
   * the expectation are monotone in recency */
  double e1, pa1, e2, pa2;
  assert_ok(tsr_btyd_conditional(&m, 6, 6, 6, 5, &e1, &pa1, NULL));
  assert_ok(tsr_btyd_conditional(&m, 3, 3, 6, 5, &e2, &pa2, NULL));
  assert_true(pa1 > 0.9 && pa1 < 1);
  assert_true(pa2 < pa1 && e2 < e1);
  /* conditional pmf over the next 5 opportunities: sums to 1, mean = E */
  s = 0, mean = 0;
  for (unsigned k = 0; k <= 5; k++) {
    double q;
    assert_ok(tsr_btyd_pmf_conditional(&m, 3, 5, 6, k, 5, &q, NULL));
    s += q;
    mean += k * q;
  }
  assert_ok(tsr_btyd_conditional(&m, 3, 5, 6, 5, &e1, &pa1, NULL));
  assert_close(s, 1.0, 1e-12);
  assert_close(mean, e1, 1e-10);
  /* gamma = 1 uses the digamma limit: continuous */
  double q1[4] = {1.2, 0.75, 1.0, 2.8}, q2[4] = {1.2, 0.75, 1.0 + 1e-6, 2.8};
  tsr_btyd_model m1, m2;
  assert_ok(tsr_btyd_model_init(&m1, TSR_BTYD_BGBB, q1, NULL));
  assert_ok(tsr_btyd_model_init(&m2, TSR_BTYD_BGBB, q2, NULL));
  assert_ok(tsr_btyd_conditional(&m1, 2, 4, 6, 5, &e1, &pa1, NULL));
  assert_ok(tsr_btyd_conditional(&m2, 2, 4, 6, 5, &e2, &pa2, NULL));
  assert_close(e1, e2, 1e-5);
}

static void robustness(void **state) {
  (void)state;
  double x[4] = {0, 0, 300, 150}, tx[4] = {0, 0, 300, 290}, T[4] = {1, 500, 300, 500};
  tsr_btyd_data d = {4, x, tx, T, NULL, NULL};
  const double P[][4] = {{1e-4, 1e-4, 1e-4, 1e-4}, {1e4, 1e4, 1e4, 1e4},
                         {0.1, 100, 0.01, 1e3}, {50, 0.01, 3, 0.01}};
  for (size_t k = 0; k < 4; k++) {
    tsr_btyd_model m;
    double ll;
    assert_ok(tsr_btyd_model_init(&m, TSR_BTYD_BGBB, P[k], NULL));
    assert_ok(tsr_btyd_loglik(&m, &d, &ll, NULL));
    assert_true(isfinite(ll));
    for (int i = 0; i < 4; i++) {
      double e, pa;
      tsr_error err;
      if (tsr_btyd_conditional(&m, x[i], tx[i], T[i], 10, &e, &pa, &err))
        fail_msg("params %zu, row %d: %s", k, i, err.msg);
      assert_true(isfinite(e) && e >= 0 && pa >= 0 && pa <= 1);
    }
  }
}

static void recovery(void **state) {
  (void)state;
  size_t n = 100000;
  double truth[4] = {1.2, 0.75, 0.66, 2.8};
  tsr_btyd_model m, f;
  assert_ok(tsr_btyd_model_init(&m, TSR_BTYD_BGBB, truth, NULL));
  double *x = malloc(n * sizeof *x), *tx = malloc(n * sizeof *tx),
         *T = malloc(n * sizeof *T);
  for (size_t i = 0; i < n; i++) T[i] = 6 + (double)(i % 7);
  assert_ok(tsr_btyd_simulate(&m, n, 0, T, 46, x, tx, T, NULL));
  tsr_btyd_data d = {n, x, tx, T, NULL, NULL};
  tsr_error err;
  if (tsr_btyd_fit(TSR_BTYD_BGBB, &d, NULL, &f, &err)) fail_msg("%s", err.msg);
  printf("bgbb recovery: %g (%g) %g (%g) %g (%g) %g (%g)\n", f.params[0], f.se[0],
         f.params[1], f.se[1], f.params[2], f.se[2], f.params[3], f.se[3]);
  double tol = 0.05;
  for (int i = 0; i < 4; i++) assert_close(f.params[i], truth[i], tol);
  free(x), free(tx), free(T);
}

int main(void) {
  gsl_set_error_handler_off();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fit_donations), cmocka_unit_test(gradient),
      cmocka_unit_test(predictions),   cmocka_unit_test(robustness),
      cmocka_unit_test(recovery),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
