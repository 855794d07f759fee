/*
 * test_experiment.c - A/B test statistics (tessera/experiment.h) against
 * published and hand-computed values.
 *
 * Published example: the Physicians' Health Study (Steering Committee of the
 * Physicians' Health Study Research Group, NEJM 321:129-135, 1989), as
 * analysed in Agresti, Categorical Data Analysis, 2nd ed. (Wiley 2002),
 * sec. 2.2 (Table 2.3): myocardial infarction in 189 of 11034 physicians on
 * placebo and 104 of 11037 on aspirin; difference of proportions 0.0077,
 * 95% Wald interval (0.005, 0.011); Pearson X^2 = 25.01 (= z^2 of the
 * pooled two-proportion test). More digits (mpmath, 30 digits): diff
 * 0.007706024, SE 0.001539964, interval (0.004687751, 0.010724297),
 * z = 5.001388204, p = 5.69189697e-7.
 */
#include "tsr_test.h"
#include "tessera/experiment.h"

static void test_ztest_aspirin(void **state) {
  (void)state;
  tsr_exp_test t;
  tsr_error e;
  assert_int_equal(tsr_exp_ztest(189, 11034, 104, 11037, 0.05, &t, &e), TSR_OK);
  assert_near(t.diff, 0.0077, 5e-5);             /* Agresti: 0.0077 */
  assert_near(t.diff_lo, 0.005, 5e-4);           /* Agresti: (0.005, 0.011) */
  assert_near(t.diff_hi, 0.011, 5e-4);
  assert_near(t.stat * t.stat, 25.01, 0.005);    /* Agresti: X^2 = 25.01 */
  assert_near(t.diff, 0.00770602397600478, 1e-12);
  assert_near(t.se, 0.00153996365482381, 1e-12);
  assert_near(t.diff_lo, 0.00468775067504944, 1e-9);
  assert_near(t.diff_hi, 0.0107242972769601, 1e-9);
  assert_near(t.stat, 5.00138820400838, 1e-9);
  assert_near(t.p_value, 5.69189697374086e-7, 1e-12);
  /* relative lift: 0.017129/0.009423 - 1 */
  assert_near(t.lift, (189.0 / 11034) / (104.0 / 11037) - 1, 1e-12);
  assert_true(t.lift_lo < t.lift && t.lift < t.lift_hi);
}

static void test_ztest_hand(void **state) {
  (void)state;
  /* 60/1000 vs 50/1000: pooled p = 0.055, SE0 = sqrt(.055*.945*.002) =
   * 0.0101960777, z = 0.01/0.0101960777 = 0.98081648 */
  tsr_exp_test t;
  assert_int_equal(tsr_exp_ztest(60, 1000, 50, 1000, 0.05, &t, NULL), TSR_OK);
  assert_near(t.stat, 0.01 / sqrt(0.055 * 0.945 * 0.002), 1e-12);
  assert_near(t.p_value, 0.326683251241205, 1e-9); /* erfc(z/sqrt 2), mpmath */
  assert_near(t.lift, 0.2, 1e-12);
}

static void test_ztest_errors(void **state) {
  (void)state;
  tsr_exp_test t;
  tsr_error e;
  tsr_error_clear(&e);
  assert_int_equal(tsr_exp_ztest(0, 100, 0, 100, 0.05, &t, &e), TSR_EINVAL);
  assert_string_equal(e.msg, "no responses in either group: the test is undefined");
  assert_int_equal(tsr_exp_ztest(1, 100, 0, 0, 0.05, &t, &e), TSR_EINVAL);
  assert_string_equal(e.msg, "control group: no customers");
  assert_int_equal(tsr_exp_ztest(101, 100, 0, 10, 0.05, &t, &e), TSR_EINVAL);
}

static void test_welch(void **state) {
  (void)state;
  /* means 10.5 / 9.1, variances 4 / 9, n 12 / 15: mpmath reference */
  tsr_exp_test t;
  assert_int_equal(tsr_exp_welch(10.5, 4.0, 12, 9.1, 9.0, 15, 0.05, &t, NULL), TSR_OK);
  assert_near(t.stat, 1.44913767461894, 1e-10);
  assert_near(t.df, 24.3223207091056, 1e-9);
  assert_near(t.p_value, 0.160070820370222, 1e-9);
  assert_near(t.diff, 1.4, 1e-12);
  tsr_error e;
  assert_int_equal(tsr_exp_welch(1, 0, 10, 1, 0, 10, 0.05, &t, &e), TSR_EINVAL);
  assert_int_equal(tsr_exp_welch(1, 1, 1, 1, 1, 10, 0.05, &t, &e), TSR_EINVAL);
}

static void test_srm_power_size(void **state) {
  (void)state;
  int64_t c[2] = {5050, 4950};
  double chi2, p;
  assert_int_equal(tsr_exp_srm(c, NULL, 2, &chi2, &p, NULL), TSR_OK);
  assert_near(chi2, 1.0, 1e-12);
  assert_near(p, 0.317310507862914, 1e-9); /* erfc(sqrt(1/2)) */
  double f[2] = {0.6, 0.4};
  int64_t c2[2] = {600, 400};
  assert_int_equal(tsr_exp_srm(c2, f, 2, &chi2, &p, NULL), TSR_OK);
  assert_near(chi2, 0, 1e-12);
  /* (1.96 + 0.8416)^2 (0.09 + 0.1056) / 0.0004 = 3838.1 -> 3839 */
  assert_near(tsr_exp_sample_size_prop(0.10, 0.12, 0.05, 0.8), 3839, 0);
  /* at that size the power is 0.8 */
  assert_near(tsr_exp_power_prop(0.10, 0.12, 3838.10219, 3838.10219, 0.05), 0.8, 2e-4);
  /* means: 2 (2.8016)^2 sd^2/delta^2, sd 10, delta 2 -> 392.4 -> 393 */
  assert_near(tsr_exp_sample_size_mean(10, 2, 0.05, 0.8), 393, 0);
}

static void test_adjust(void **state) {
  (void)state;
  double p[4] = {0.01, 0.04, 0.03, 0.005}, a[4];
  assert_int_equal(tsr_exp_adjust(p, 4, TSR_EXP_HOLM, a, NULL), TSR_OK);
  assert_near(a[0], 0.03, 1e-12);
  assert_near(a[1], 0.06, 1e-12);
  assert_near(a[2], 0.06, 1e-12);
  assert_near(a[3], 0.02, 1e-12);
  assert_int_equal(tsr_exp_adjust(p, 4, TSR_EXP_BH, a, NULL), TSR_OK);
  assert_near(a[0], 0.02, 1e-12);
  assert_near(a[1], 0.04, 1e-12);
  assert_near(a[2], 0.04, 1e-12);
  assert_near(a[3], 0.02, 1e-12);
}

static void test_cuped(void **state) {
  (void)state;
  double x[5] = {1, 2, 3, 4, 5}, y[5], ya[5], th, rho;
  for (int i = 0; i < 5; i++) y[i] = 2 * x[i] + 1;
  assert_int_equal(tsr_exp_cuped(y, x, 5, ya, &th, &rho, NULL), TSR_OK);
  assert_near(th, 2, 1e-12);
  assert_near(rho, 1, 1e-12);
  for (int i = 0; i < 5; i++) assert_near(ya[i], 7, 1e-12);
}

/* The driver: two groups, CUPED shrinks the interval, segments adjusted. */
static void test_analyze(void **state) {
  (void)state;
  enum { N = 4000 };
  int *g = malloc(N * sizeof *g), *s = malloc(N * sizeof *s);
  double *y = malloc(N * sizeof *y), *x = malloc(N * sizeof *x);
  tsr_rng r;
  tsr_rng_seed(&r, 7, 0);
  for (int i = 0; i < N; i++) {
    g[i] = i % 2;
    s[i] = i % 3;
    x[i] = tsr_rng_exponential(&r, 0.01);
    y[i] = 0.5 * x[i] + 10 * tsr_rng_normal(&r) + (g[i] ? 5 : 0);
  }
  tsr_exp_opts o;
  tsr_exp_opts_init(&o);
  o.metric = TSR_EXP_REVENUE;
  tsr_exp_result *res = NULL;
  tsr_error e;
  assert_int_equal(tsr_exp_analyze(g, y, x, s, N, 2, 3, &o, &res, &e), TSR_OK);
  assert_int_equal(res->groups[0].n, 2000);
  assert_true(res->cmps[0].ok);
  double w = res->cmps[0].test.diff_hi - res->cmps[0].test.diff_lo;
  double wc = res->cmps[0].cuped.diff_hi - res->cmps[0].cuped.diff_lo;
  assert_true(wc < 0.3 * w); /* rho ~ 0.98: sd shrinks by sqrt(1 - rho^2) */
  assert_near(res->cmps[0].cuped.diff, 5, 1.0);
  assert_near(res->srm_chi2, 0, 1e-12);
  assert_int_equal(res->n_seg_cmps, 3);
  for (int k = 0; k < 3; k++) assert_true(res->seg[k].p_adj >= res->seg[k].test.p_value);
  tsr_exp_result_free(res);
  /* an empty group is an error */
  for (int i = 0; i < N; i++) g[i] = 0;
  tsr_error_clear(&e);
  assert_int_equal(tsr_exp_analyze(g, y, NULL, NULL, N, 2, 0, &o, &res, &e), TSR_EINVAL);
  assert_string_equal(e.msg, "group 1: no customers");
  assert_null(res);
  /* responded with no responses: the comparison is marked, not a crash */
  for (int i = 0; i < N; i++) {
    g[i] = i % 2;
    y[i] = 0;
  }
  o.metric = TSR_EXP_RESPONDED;
  assert_int_equal(tsr_exp_analyze(g, y, NULL, NULL, N, 2, 0, &o, &res, &e), TSR_OK);
  assert_false(res->cmps[0].ok);
  assert_string_equal(res->cmps[0].note, "no responses in either group: the test is undefined");
  tsr_exp_result_free(res);
  free(g), free(s), free(y), free(x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ztest_aspirin), cmocka_unit_test(test_ztest_hand),
      cmocka_unit_test(test_ztest_errors),  cmocka_unit_test(test_welch),
      cmocka_unit_test(test_srm_power_size), cmocka_unit_test(test_adjust),
      cmocka_unit_test(test_cuped),         cmocka_unit_test(test_analyze),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
