/*
 * test_gammagamma.c - Gamma-Gamma spend model: the published CDNOW
 * estimates (Fader & Hardie 2013: p 6.25, q 3.74, gamma 15.44 on the 946
 * repeat customers), conditional expected spend, recovery, CLV.
 */
#include "btyd_testutil.h"

#include "btyd_internal.h"

/* Repeat customers of the CDNOW sample's 39-week calibration: x = number
 * of repeat purchase days, m = mean of their (same-day summed) amounts. */
static size_t cdnow_spend(double **x_out, double **m_out) {
  double *cols[4];
  size_t n = tu_read_csv(tu_data("cdnow/cdnow_sample.csv"), 4, cols);
  double *x = calloc(n, sizeof *x), *m = calloc(n, sizeof *m);
  size_t k = 0, i = 0;
  /* rows are grouped by customer and sorted by date */
  while (i < n) {
    size_t j = i;
    double id = cols[0][i], lastday = -1, first = 1, cnt = 0, sum = 0, day = 0;
    while (j < n && cols[0][j] == id) {
      if (cols[1][j] <= 19970930) {
        if (cols[1][j] != lastday) {
          if (lastday >= 0 && !first) { cnt++; sum += day; }
          if (lastday >= 0) first = 0;
          lastday = cols[1][j];
          day = 0;
        }
        day += cols[3][j];
      }
      j++;
    }
    if (lastday >= 0 && !first) { cnt++; sum += day; }
    if (cnt > 0) {
      x[k] = cnt;
      m[k] = sum / cnt;
      k++;
    }
    i = j;
  }
  for (int c = 0; c < 4; c++) free(cols[c]);
  *x_out = x;
  *m_out = m;
  return k;
}

static void fit_cdnow(void **state) {
  (void)state;
  double *x, *m;
  size_t n = cdnow_spend(&x, &m);
  assert_int_equal(n, 946);
  tsr_btyd_data d = {n, x, NULL, NULL, m, NULL};
  tsr_btyd_model g;
  tsr_error err;
  if (tsr_btyd_fit(TSR_BTYD_GG, &d, NULL, &g, &err)) fail_msg("%s", err.msg);
  printf("gg: p %.6f q %.6f gamma %.6f LL %.4f iter %d\n", g.params[0],
         g.params[1], g.params[2], g.loglik, g.iterations);
  assert_true(g.converged && g.has_cov);
  assert_close(g.params[0], 6.25, 2e-3);
  assert_close(g.params[1], 3.74, 2e-3);
  assert_close(g.params[2], 15.44, 2e-3);
  double r;
  assert_ok(tsr_gg_correlation(&d, &r, NULL));
  assert_true(fabs(r) < 0.2);
  /* E(M | x, m_x) (FH13 eq. 5) */
  double e;
  assert_ok(tsr_gg_expected_spend(&g, 0, 0, &e, NULL));
  assert_close(e, g.params[0] * g.params[2] / (g.params[1] - 1), 1e-12);
  assert_ok(tsr_gg_expected_spend(&g, 2, 40, &e, NULL));
  assert_close(e, g.params[0] * (g.params[2] + 80) / (2 * g.params[0] + g.params[1] - 1), 1e-12);
  free(x), free(m);
}

static void recovery(void **state) {
  (void)state;
  size_t n = 100000;
  double truth[3] = {6.0, 4.0, 15.0};
  tsr_btyd_model g, f;
  assert_ok(tsr_btyd_model_init(&g, TSR_BTYD_GG, truth, NULL));
  double *x = malloc(n * sizeof *x), *m = malloc(n * sizeof *m);
  for (size_t i = 0; i < n; i++) x[i] = 1 + (double)(i % 7);
  assert_ok(tsr_gg_simulate(&g, n, x, 1, m, NULL));
  tsr_btyd_data d = {n, x, NULL, NULL, m, NULL};
  tsr_error err;
  if (tsr_btyd_fit(TSR_BTYD_GG, &d, NULL, &f, &err)) fail_msg("%s", err.msg);
  printf("gg recovery: %g (%g) %g (%g) %g (%g)\n", f.params[0], f.se[0], f.params[1], f.se[1], f.params[2], f.se[2]);
  double tol = 0.05;
  for (int i = 0; i < 3; i++) assert_close(f.params[i], truth[i], tol);
  free(x), free(m);
}

static void bad_data(void **state) {
  (void)state;
  double x[2] = {1, 0}, m[2] = {10, 5};
  tsr_btyd_data d = {2, x, NULL, NULL, m, NULL};
  tsr_btyd_model g;
  tsr_error err;
  assert_int_equal(tsr_btyd_fit(TSR_BTYD_GG, &d, NULL, &g, &err), TSR_ERANGE);
  assert_string_equal(err.field, "frequency");
}

/* The fit's log-likelihood with log(m_x) computed once per pattern
 * (tsr__gg_loglik_lm, lib/btyd/btyd.c's fit) = the model's own, value and
 * gradient bit for bit, at several parameters. */
static void loglik_lm(void **state) {
  (void)state;
  size_t n = 20000;
  double truth[3] = {6.0, 4.0, 15.0};
  tsr_btyd_model g;
  assert_ok(tsr_btyd_model_init(&g, TSR_BTYD_GG, truth, NULL));
  double *x = malloc(n * sizeof *x), *m = malloc(n * sizeof *m), *w = malloc(n * sizeof *w),
         *lm = malloc(n * sizeof *lm);
  for (size_t i = 0; i < n; i++) x[i] = 1 + (double)(i % 7), w[i] = 1 + (double)(i % 3);
  assert_ok(tsr_gg_simulate(&g, n, x, 1, m, NULL));
  for (size_t i = 0; i < n; i++) lm[i] = log(m[i]);
  tsr_btyd_data d = {n, x, NULL, NULL, m, w};
  const tsr__btyd_spec *s = tsr__btyd_get_spec(TSR_BTYD_GG);
  static const double P[3][3] = {{6, 4, 15}, {0.5, 1.5, 3}, {20, 9.25, 150}};
  for (int q = 0; q < 3; q++) {
    double a, b, ga[3], gb[3];
    assert_int_equal(s->loglik(P[q], &d, &a, ga), 0);
    assert_int_equal(tsr__gg_loglik_lm(P[q], &d, lm, &b, gb), 0);
    assert_memory_equal(&a, &b, sizeof a);
    assert_memory_equal(ga, gb, sizeof ga);
    assert_int_equal(tsr__gg_loglik_lm(P[q], &d, lm, &b, NULL), 0);
    assert_memory_equal(&a, &b, sizeof a);
  }
  free(x), free(m), free(w), free(lm);
}

int main(void) {
  gsl_set_error_handler_off();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fit_cdnow),
      cmocka_unit_test(recovery),
      cmocka_unit_test(bad_data),
      cmocka_unit_test(loglik_lm),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
