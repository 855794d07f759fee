/*
 * test_mbgnbd.c - MBG/NBD: the CDNOW estimates (lifetimes'
 * ModifiedBetaGeoFitter reference), gradient, predictions, robustness,
 * parameter recovery.
 */
#include "btyd_testutil.h"

#include "btyd_internal.h"

static void fit_cdnow(void **state) {
  (void)state;
  tu_cdnow c;
  tu_cdnow_load(&c);
  tsr_btyd_data d = {c.n, c.x, c.tx, c.T, NULL, NULL};
  tsr_btyd_model m;
  tsr_error err;
  if (tsr_btyd_fit(TSR_BTYD_MBGNBD, &d, NULL, &m, &err)) fail_msg("fit: %s", err.msg);
  printf("mbgnbd: r %.6f alpha %.6f a %.6f b %.6f LL %.4f iter %d\n", m.params[0],
         m.params[1], m.params[2], m.params[3], m.loglik, m.iterations);
  assert_true(m.converged && m.has_cov);
  assert_close(m.params[0], 0.525, 5e-3);
  assert_close(m.params[1], 6.183, 5e-3);
  assert_close(m.params[2], 0.891, 5e-3);
  assert_close(m.params[3], 1.614, 5e-3);
  assert_abs(m.loglik, -9582.13, 0.05);
  tu_cdnow_free(&c);
}

static void gradient(void **state) {
  (void)state;
  double x[4] = {0, 2, 7, 300}, tx[4] = {0, 30.43, 20, 38.8},
         T[4] = {38.86, 38.86, 30, 38.86}, w[4] = {3, 2, 1, 1};
  tsr_btyd_data d = {4, x, tx, T, NULL, w};
  const double P[][4] = {{0.525, 6.18, 0.89, 1.61}, {2, 0.5, 0.2, 0.3}, {0.1, 40, 5, 0.05}};
  for (size_t k = 0; k < 3; k++) {
    double ll, g[4];
    assert_int_equal(tsr__mbgnbd_spec.loglik(P[k], &d, &ll, g), 0);
    for (int j = 0; j < 4; j++) {
      double pp[4], lp, lm, h = 1e-6 * P[k][j];
      memcpy(pp, P[k], sizeof pp);
      pp[j] += h;
      tsr__mbgnbd_spec.loglik(pp, &d, &lp, NULL);
      pp[j] -= 2 * h;
      tsr__mbgnbd_spec.loglik(pp, &d, &lm, NULL);
      double fd = (lp - lm) / (2 * h);
      if (!(fabs(fd - g[j]) <= 1e-5 * (1 + fabs(fd))))
        fail_msg("params %zu, d/d%d: analytic %.10g, numeric %.10g", k, j, g[j], fd);
    }
  }
}

/* the log-likelihood sum (log(alpha + t_x) and log(alpha + T) from a
 * table of the values seen, two slots a value; one exp a pattern) equals,
 * bit for bit, the plain formula with every log and exp per pattern: on
 * the CDNOW patterns and on 3,000 patterns of 2,900 distinct t_x and 5
 * distinct T (slots of the table shared and overwritten), under three
 * parameter sets */
static double ref_loglik(const double *p, const tsr_btyd_data *d, double *G) {
  const double r = p[0], alpha = p[1], a = p[2], b = p[3];
  const double la = log(alpha), lnr = tsr__lng(r), lab = tsr__lng(a + b), lb = tsr__lng(b),
               psr = tsr__psi(r), psab = tsr__psi(a + b), psb = tsr__psi(b), lna = log(a);
  double sum = 0;
  G[0] = G[1] = G[2] = G[3] = 0;
  for (size_t i = 0; i < d->n; i++) {
    const double x = d->x[i], tx = d->t_x[i], T = d->T[i], w = d->weights[i];
    const double lbx = log(b + x);
    const double A12 = tsr__lng(r + x) - lnr + r * la + lab + tsr__lng(b + x + 1) - lb -
                       tsr__lng(a + b + x + 1);
    const double pabx = tsr__psi(a + b + x + 1), dA1r = tsr__psi(r + x) - psr + la,
                 dA2a = psab - pabx, dA2b = psab + tsr__psi(b + x + 1) - psb - pabx;
    const double lT = log(alpha + T), iT = 1 / (alpha + T), ltx = log(alpha + tx);
    const double A3 = -(r + x) * lT, A4 = lna - lbx - (r + x) * ltx;
    const double M = A3 > A4 ? A3 : A4, e3 = exp(A3 - M), e4 = exp(A4 - M);
    sum += w * (A12 + M + log(e3 + e4));
    const double w3 = e3 / (e3 + e4), w4 = 1 - w3;
    G[0] += w * (dA1r - w3 * lT - w4 * ltx);
    G[1] += w * (r / alpha - w3 * (r + x) * iT - w4 * (r + x) / (alpha + tx));
    G[2] += w * (dA2a + w4 / a);
    G[3] += w * (dA2b - w4 / (b + x));
  }
  return sum;
}

static void loglik_bits(void **state) {
  (void)state;
  tu_cdnow c;
  tu_cdnow_load(&c);
  tsr_btyd_data rows = {c.n, c.x, c.tx, c.T, NULL, NULL};
  tsr__btyd_pat pat;
  assert_ok(tsr__btyd_compress(&rows, 0, &pat, NULL));
  enum { N = 3000 };
  double *v = malloc(4 * N * sizeof *v);
  assert_non_null(v);
  for (size_t i = 0; i < N; i++) {
    v[i] = (double)(i % 7);
    v[N + i] = v[i] == 0 ? 0 : 0.37 * (double)(i % 2900) + 0.01;
    v[2 * N + i] = 1100.5 + 0.25 * (double)(i % 5);
    v[3 * N + i] = 1 + (double)(i % 3);
  }
  tsr_btyd_data syn = {N, v, v + N, v + 2 * N, NULL, v + 3 * N};
  const tsr_btyd_data *sets[2] = {&pat.d, &syn};
  const double P[][4] = {{0.525, 6.18, 0.89, 1.61}, {2, 0.5, 0.2, 0.3}, {0.1, 40, 5, 0.05}};
  for (int s = 0; s < 2; s++)
    for (size_t k = 0; k < 3; k++) {
      double ll, g[4], G[4];
      assert_int_equal(tsr__mbgnbd_spec.loglik(P[k], sets[s], &ll, g), 0);
      const double ref = ref_loglik(P[k], sets[s], G);
      assert_memory_equal(&ll, &ref, sizeof ll);
      assert_memory_equal(g, G, sizeof g);
    }
  free(v);
  tsr__btyd_pat_release(&pat);
  tu_cdnow_free(&c);
}

static void predictions(void **state) {
  (void)state;
  double p[4] = {0.525, 6.183, 0.891, 1.614};
  tsr_btyd_model m;
  assert_ok(tsr_btyd_model_init(&m, TSR_BTYD_MBGNBD, p, NULL));
  double e, pa, e0;
  /* a customer without repeat purchases may be inactive: P(alive) < 1 */
  assert_ok(tsr_btyd_conditional(&m, 0, 0, 38.86, 39, &e, &pa, NULL));
  assert_true(pa < 1 && pa > 0);
  assert_close(pa, 1 / (1 + 0.891 / 1.614 * pow(6.183 / (6.183 + 38.86), -0.525)), 1e-12);
  /* E[X(t)] of a new customer = the conditional one at x = t_x = T = 0 */
  assert_ok(tsr_btyd_expected_new(&m, 39, &e0, NULL));
  assert_ok(tsr_btyd_conditional(&m, 0, 0, 0, 39, &e, &pa, NULL));
  assert_close(e0, e, 1e-12);
  assert_close(pa, 1.614 / (0.891 + 1.614), 1e-12);
  /* quadrature fallback (a ~ 1) agrees with the closed form nearby */
  double q1[4] = {0.5, 4, 1.0, 2}, q2[4] = {0.5, 4, 1.0002, 2}, e1, e2;
  tsr_btyd_model m1, m2;
  assert_ok(tsr_btyd_model_init(&m1, TSR_BTYD_MBGNBD, q1, NULL));
  assert_ok(tsr_btyd_model_init(&m2, TSR_BTYD_MBGNBD, q2, NULL));
  assert_ok(tsr_btyd_conditional(&m1, 3, 20, 30, 20, &e1, &pa, NULL));
  assert_ok(tsr_btyd_conditional(&m2, 3, 20, 30, 20, &e2, &pa, NULL));
  assert_close(e1, e2, 2e-4);
}

static void robustness(void **state) {
  (void)state;
  double x[5] = {0, 1, 300, 2000, 5}, tx[5] = {0, 0.01, 38, 38.9, 1e-9},
         T[5] = {39, 39, 39, 39, 1e4};
  tsr_btyd_data d = {5, x, tx, T, NULL, NULL};
  const double P[][4] = {{0.525, 6.183, 0.891, 1.614}, {0.1, 1, 0.2, 0.3},
                         {1e-6, 1e-6, 1e-6, 1e-6},    {1e6, 1e6, 1e6, 1e6},
                         {50, 0.01, 0.01, 1e4},       {1e-3, 1e5, 1e3, 1e-3}};
  for (size_t k = 0; k < sizeof P / sizeof P[0]; k++) {
    tsr_btyd_model m;
    double ll;
    assert_ok(tsr_btyd_model_init(&m, TSR_BTYD_MBGNBD, P[k], NULL));
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
  double truth[4] = {0.5, 6.0, 0.9, 1.6};
  tsr_btyd_model m, f;
  assert_ok(tsr_btyd_model_init(&m, TSR_BTYD_MBGNBD, truth, NULL));
  double *x = malloc(n * sizeof *x), *tx = malloc(n * sizeof *tx),
         *T = malloc(n * sizeof *T);
  for (size_t i = 0; i < n; i++) T[i] = 26 + (double)(i % 53);
  assert_ok(tsr_btyd_simulate(&m, n, 0, T, 45, x, tx, T, NULL));
  tsr_btyd_data d = {n, x, tx, T, NULL, NULL};
  tsr_error err;
  if (tsr_btyd_fit(TSR_BTYD_MBGNBD, &d, NULL, &f, &err)) fail_msg("%s", err.msg);
  printf("mbgnbd recovery: %g (%g) %g (%g) %g (%g) %g (%g)\n", f.params[0], f.se[0],
         f.params[1], f.se[1], f.params[2], f.se[2], f.params[3], f.se[3]);
  double tol = 0.05;
  for (int i = 0; i < 4; i++) assert_close(f.params[i], truth[i], tol);
  free(x), free(tx), free(T);
}

int main(void) {
  gsl_set_error_handler_off();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fit_cdnow),   cmocka_unit_test(gradient),
      cmocka_unit_test(loglik_bits),
      cmocka_unit_test(predictions), cmocka_unit_test(robustness),
      cmocka_unit_test(recovery),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
