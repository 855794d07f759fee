/*
 * test_bgnbd.c - BG/NBD: published CDNOW estimates (Fader, Hardie & Lee
 * 2005), predictions, numerical robustness, parameter recovery.
 */
#include "btyd_testutil.h"

static void fit_cdnow(void **state) {
  (void)state;
  tu_cdnow c;
  tu_cdnow_load(&c);
  assert_int_equal(c.n, 2357);
  tsr_btyd_data d = {c.n, c.x, c.tx, c.T, NULL, NULL};
  tsr_btyd_model m;
  tsr_error err;
  tsr_status st = tsr_btyd_fit(TSR_BTYD_BGNBD, &d, NULL, &m, &err);
  if (st) fail_msg("fit: %s", err.msg);
  assert_true(m.converged);
  assert_close(m.params[0], 0.2426, 5e-4);
  assert_close(m.params[1], 4.4137, 5e-4);
  assert_close(m.params[2], 0.7930, 5e-4);
  assert_close(m.params[3], 2.4262, 5e-4);
  assert_abs(m.loglik, -9582.43, 0.01);
  assert_true(m.has_cov);
  for (int i = 0; i < 4; i++) assert_true(m.se[i] > 0 && m.se[i] < m.params[i]);
  printf("bgnbd: r %.6f alpha %.6f a %.6f b %.6f LL %.4f iter %d se %.4g %.4g %.4g %.4g\n",
         m.params[0], m.params[1], m.params[2], m.params[3], m.loglik,
         m.iterations, m.se[0], m.se[1], m.se[2], m.se[3]);
  tu_cdnow_free(&c);
}

static void predictions(void **state) {
  (void)state;
  double p[4] = {0.2426, 4.4137, 0.7930, 2.4262};
  tsr_btyd_model m;
  assert_ok(tsr_btyd_model_init(&m, TSR_BTYD_BGNBD, p, NULL));
  double e, pa;
  assert_ok(tsr_btyd_expected_new(&m, 52, &e, NULL));
  assert_close(e, 1.444, 1e-3);
  assert_ok(tsr_btyd_conditional(&m, 26, 30.857, 31.0, 52, &e, &pa, NULL));
  assert_close(e, 25.76, 2e-3);
  assert_close(pa, 0.969, 1e-3);
  assert_ok(tsr_btyd_conditional(&m, 2, 30.43, 38.86, 39, &e, &pa, NULL));
  assert_close(e, 1.226, 1e-3);
  /* pmf sums to 1 and its mean is E[X(t)] */
  double s = 0, mean = 0;
  for (unsigned n = 0; n < 400; n++) {
    double q;
    assert_ok(tsr_btyd_pmf_new(&m, n, 39, &q, NULL));
    s += q;
    mean += n * q;
  }
  assert_ok(tsr_btyd_expected_new(&m, 39, &e, NULL));
  assert_close(s, 1.0, 1e-9);
  assert_close(mean, e, 1e-6);
  /* conditional pmf: sums to 1, mean = conditional expectation */
  s = 0, mean = 0;
  for (unsigned n = 0; n < 400; n++) {
    double q;
    assert_ok(tsr_btyd_pmf_conditional(&m, 26, 30.857, 31.0, n, 52, &q, NULL));
    s += q;
    mean += n * q;
  }
  assert_ok(tsr_btyd_conditional(&m, 26, 30.857, 31.0, 52, &e, &pa, NULL));
  assert_close(s, 1.0, 1e-9);
  assert_close(mean, e, 1e-6);
  /* a ~ 1 uses the quadrature fallback: continuous across a = 1 */
  double p1[4] = {0.5, 4, 1.0, 2}, p2[4] = {0.5, 4, 1.001, 2};
  double e1, e2;
  tsr_btyd_model m1, m2;
  assert_ok(tsr_btyd_model_init(&m1, TSR_BTYD_BGNBD, p1, NULL));
  assert_ok(tsr_btyd_model_init(&m2, TSR_BTYD_BGNBD, p2, NULL));
  assert_ok(tsr_btyd_conditional(&m1, 3, 20, 30, 20, &e1, &pa, NULL));
  assert_ok(tsr_btyd_conditional(&m2, 3, 20, 30, 20, &e2, &pa, NULL));
  assert_close(e1, e2, 1e-3);
}

/* x = 0, x = 300, a+b < 1, extreme parameters: finite log-likelihood. */
static void robustness(void **state) {
  (void)state;
  double x[5] = {0, 1, 300, 2000, 5}, tx[5] = {0, 0.01, 38, 38.9, 1e-9},
         T[5] = {39, 39, 39, 39, 1e4};
  tsr_btyd_data d = {5, x, tx, T, NULL, NULL};
  const double P[][4] = {{0.2426, 4.4137, 0.793, 2.4262}, {0.1, 1, 0.2, 0.3},
                         {1e-6, 1e-6, 1e-6, 1e-6},        {1e6, 1e6, 1e6, 1e6},
                         {50, 0.01, 0.01, 1e4},           {1e-3, 1e5, 1e3, 1e-3}};
  for (size_t k = 0; k < sizeof P / sizeof P[0]; k++) {
    tsr_btyd_model m;
    double ll;
    assert_ok(tsr_btyd_model_init(&m, TSR_BTYD_BGNBD, P[k], NULL));
    assert_ok(tsr_btyd_loglik(&m, &d, &ll, NULL));
    assert_true(isfinite(ll));
    for (int i = 0; i < 5; i++) {
      double e, pa;
      if (tsr_btyd_conditional(&m, x[i], tx[i], T[i], 10, &e, &pa, NULL) == TSR_OK) {
        assert_true(isfinite(e) && e >= 0);
        assert_true(pa >= 0 && pa <= 1);
      }
    }
  }
}

static void recovery(void **state) {
  (void)state;
  size_t n = 100000;
  double truth[4] = {0.25, 4.0, 0.8, 2.5};
  tsr_btyd_model m, f;
  assert_ok(tsr_btyd_model_init(&m, TSR_BTYD_BGNBD, truth, NULL));
  double *x = malloc(n * sizeof *x), *tx = malloc(n * sizeof *tx),
         *T = malloc(n * sizeof *T);
  assert_ok(tsr_btyd_simulate(&m, n, 52, NULL, 42, x, tx, T, NULL));
  /* varying ages: 26..78 weeks */
  for (size_t i = 0; i < n; i++) T[i] = 26 + (double)(i % 53);
  assert_ok(tsr_btyd_simulate(&m, n, 0, T, 43, x, tx, T, NULL));
  tsr_btyd_data d = {n, x, tx, T, NULL, NULL};
  tsr_error err;
  if (tsr_btyd_fit(TSR_BTYD_BGNBD, &d, NULL, &f, &err)) fail_msg("%s", err.msg);
  double tol = 0.05;
  for (int i = 0; i < 4; i++) assert_close(f.params[i], truth[i], tol);
  /* > 65536 patterns: block sums; the thread count does not change a bit */
  tsr_btyd_fit_opts o;
  tsr_btyd_model f2;
  tsr_btyd_fit_opts_init(&o);
  o.n_threads = 3;
  assert_ok(tsr_btyd_fit(TSR_BTYD_BGNBD, &d, &o, &f2, NULL));
  for (int i = 0; i < 4; i++) assert_true(f2.params[i] == f.params[i]);
  assert_true(f2.loglik == f.loglik);
  free(x), free(tx), free(T);
}

int main(void) {
  gsl_set_error_handler_off();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fit_cdnow),
      cmocka_unit_test(predictions),
      cmocka_unit_test(robustness),
      cmocka_unit_test(recovery),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
