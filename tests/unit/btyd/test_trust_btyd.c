/*
 * test_trust_btyd.c - issue 10 defects of the BTYD models: customers with
 * T = 0, degenerate optima reported as not converged, a penalizer that
 * does not depend on the time unit, the documented horizon range.
 */
#include "btyd_testutil.h"

#include "btyd_internal.h"

static const tsr_btyd_kind CONT[] = {TSR_BTYD_BGNBD, TSR_BTYD_MBGNBD, TSR_BTYD_PNBD};

/* Customers whose first purchase is on the end date (T = 0) add exactly 0
 * to the log-likelihood, the fit accepts them and predicts for them. */
static void t_zero(void **state) {
  (void)state;
  tu_cdnow c;
  tu_cdnow_load(&c);
  size_t n = c.n, n2 = n + 50;
  double *x = calloc(n2, sizeof *x), *tx = calloc(n2, sizeof *tx), *T = calloc(n2, sizeof *T);
  memcpy(x, c.x, n * sizeof *x), memcpy(tx, c.tx, n * sizeof *x), memcpy(T, c.T, n * sizeof *x);
  for (size_t k = 0; k < sizeof CONT / sizeof *CONT; k++) {
    tsr_btyd_data d = {n, c.x, c.tx, c.T, NULL, NULL}, d2 = {n2, x, tx, T, NULL, NULL};
    tsr_btyd_model m, m2;
    tsr_error err;
    if (tsr_btyd_fit(CONT[k], &d, NULL, &m, &err)) fail_msg("fit: %s", err.msg);
    if (tsr_btyd_fit(CONT[k], &d2, NULL, &m2, &err)) fail_msg("fit with T = 0: %s", err.msg);
    double ll, ll2;
    assert_ok(tsr_btyd_loglik(&m, &d, &ll, NULL));
    assert_ok(tsr_btyd_loglik(&m, &d2, &ll2, NULL));
    assert_abs(ll2, ll, 1e-9 * fabs(ll));
    for (int j = 0; j < 4; j++) assert_close(m2.params[j], m.params[j], 1e-5);
    double e, pa, e0;
    assert_ok(tsr_btyd_conditional(&m, 0, 0, 0, 39, &e, &pa, NULL));
    assert_ok(tsr_btyd_expected_new(&m, 39, &e0, NULL));
    assert_close(e, e0, 1e-9);
    assert_true(pa > 0 && pa <= 1);
  }
  free(x), free(tx), free(T);
  tu_cdnow_free(&c);
}

/* Nobody repeats: the likelihood has no interior maximum; no model may
 * report such a fit as converged. */
static void degenerate(void **state) {
  (void)state;
  size_t n = 500;
  double *x = calloc(n, sizeof *x), *tx = calloc(n, sizeof *tx), *T = calloc(n, sizeof *T);
  for (size_t i = 0; i < n; i++) T[i] = 1 + (double)(i % 52);
  /* the same in a time unit 100 times larger: MBG/NBD used to end at
   * a = 33952, b = 3e-5 with a positive definite Hessian and converged */
  for (int scaled = 0; scaled < 2; scaled++) {
  if (scaled)
    for (size_t i = 0; i < n; i++) T[i] = 0.01 * (1 + (double)(i % 39));
  for (size_t k = 0; k < sizeof CONT / sizeof *CONT; k++) {
    tsr_btyd_data d = {n, x, tx, T, NULL, NULL};
    tsr_btyd_model m;
    tsr_error err;
    tsr_status st = tsr_btyd_fit(CONT[k], &d, NULL, &m, &err);
    if (st != TSR_ECONVERGE)
      fail_msg("model %d: status %d, converged %d, params %g %g %g %g", (int)CONT[k],
               (int)st, m.converged, m.params[0], m.params[1], m.params[2], m.params[3]);
    assert_int_equal(m.converged, 0);
    assert_non_null(strstr(err.msg, "not converge"));
    assert_non_null(strstr(err.msg, "try"));
  }
  }
  free(x), free(tx), free(T);
}

/* The penalized fit is the same whatever the time unit: times x 1e6 give
 * the same r, a, b and alpha x 1e6 (lifetimes' convention: the penalty
 * takes alpha in a unit where the largest T is 1). */
static void penalizer_unit(void **state) {
  (void)state;
  tu_cdnow c;
  tu_cdnow_load(&c);
  size_t n = c.n;
  double *tx = malloc(n * sizeof *tx), *T = malloc(n * sizeof *T);
  for (size_t i = 0; i < n; i++) tx[i] = c.tx[i] * 1e6, T[i] = c.T[i] * 1e6;
  for (size_t k = 0; k < sizeof CONT / sizeof *CONT; k++) {
    tsr_btyd_data d = {n, c.x, c.tx, c.T, NULL, NULL}, d6 = {n, c.x, tx, T, NULL, NULL};
    tsr_btyd_fit_opts o;
    tsr_btyd_fit_opts_init(&o);
    o.penalizer = 0.001;
    tsr_btyd_model m, m6;
    tsr_error err;
    if (tsr_btyd_fit(CONT[k], &d, &o, &m, &err)) fail_msg("fit: %s", err.msg);
    if (tsr_btyd_fit(CONT[k], &d6, &o, &m6, &err)) fail_msg("fit x1e6: %s", err.msg);
    for (int j = 0; j < 4; j++) {
      int timep = j == 1 || (CONT[k] == TSR_BTYD_PNBD && j == 3);
      assert_close(m6.params[j], m.params[j] * (timep ? 1e6 : 1), 1e-4);
    }
    if (CONT[k] == TSR_BTYD_BGNBD) {
      /* lifetimes' penalized objective on CDNOW (bench/lifetimes_penalty.py,
       * scipy): r = 0.242776, a = 0.498446, b = 1.323244 */
      assert_abs(m.params[0], 0.242776, 1e-5);
      assert_abs(m.params[2], 0.498446, 1e-5);
      assert_abs(m.params[3], 1.323244, 1e-5);
    }
  }
  free(tx), free(T);
  tu_cdnow_free(&c);
}

/* predict --t accepts up to 1e9 periods: every model evaluates E[X(t)] and
 * the conditional expectation over the whole range, increasing in t. */
static void long_horizons(void **state) {
  (void)state;
  static const double P[][4] = {{0.2426, 4.4137, 0.7930, 2.4262},
                                {0.525, 6.183, 0.891, 1.614},
                                {0.5531, 10.5763, 0.6062, 11.6715}};
  for (size_t k = 0; k < sizeof CONT / sizeof *CONT; k++) {
    tsr_btyd_model m;
    assert_ok(tsr_btyd_model_init(&m, CONT[k], P[k], NULL));
    double prev = 0, prevc = 0;
    for (double t = 1; t <= 1e9 * 1.0001; t *= 10) {
      double e, ec, pa;
      tsr_error err;
      if (tsr_btyd_expected_new(&m, t, &e, &err)) fail_msg("model %d t %g: %s", (int)CONT[k], t, err.msg);
      if (tsr_btyd_conditional(&m, 2, 30, 38.86, t, &ec, &pa, &err))
        fail_msg("model %d t %g: %s", (int)CONT[k], t, err.msg);
      assert_true(isfinite(e) && e > prev);
      assert_true(isfinite(ec) && ec > prevc);
      prev = e, prevc = ec;
    }
  }
}

/* The quadrature used beyond the closed form's reach agrees with it where
 * both work. */
static void quadrature_matches(void **state) {
  (void)state;
  for (double t = 10; t <= 1e6; t *= 10) {
    double q, c;
    assert_int_equal(tsr__beta_expect_purch(0.793, 2.4262 + 2, 4.4137 + 38.86, 0.2426 + 2, t, &q), 0);
    assert_int_equal(tsr__bgnbd_cond_alive(0.793, 2.4262 + 2, 0.2426 + 2, 4.4137 + 38.86, t, &c), 0);
    assert_close(q, c, 1e-7);
  }
}

int main(void) {
  gsl_set_error_handler_off();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_zero),
      cmocka_unit_test(degenerate),
      cmocka_unit_test(penalizer_unit),
      cmocka_unit_test(long_horizons),
      cmocka_unit_test(quadrature_matches),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
