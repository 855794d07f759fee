/*
 * test_uplift.c - uplift learners and their evaluation (tessera/uplift.h).
 */
#include "tsr_test.h"
#include "tessera/uplift.h"

/* Qini by hand: scores rank units 0..5; treated 0,2,4 respond 1,1,0;
 * controls 1,3,5 respond 0,1,0.
 * k=1: T(1 resp)        Q = 1
 * k=2: +C(0)            Q = 1 - 0*1/1 = 1
 * k=3: +T(1)            Q = 2 - 0 = 2
 * k=4: +C(1)            Q = 2 - 1*2/2 = 1
 * k=5: +T(0)            Q = 2 - 1*3/2 = 0.5
 * k=6: +C(0)            Q = 2 - 1*3/3 = 1
 * AUUC = (1+1+2+1+0.5+1)/6 = 6.5/6; Qini = AUUC - 1/2. */
static void test_qini_hand(void **state) {
  (void)state;
  double score[12], y[12], curve[13];
  int t[12];
  /* 12 units: the 6 above twice (n >= 10); ranks interleave the copies */
  for (int i = 0; i < 12; i++) {
    int b = i / 2;
    score[i] = 100 - i;
    t[i] = b % 2 == 0;
    static const double yy[6] = {1, 0, 1, 1, 0, 0};
    y[i] = yy[b];
  }
  tsr_uplift_eval e;
  assert_int_equal(tsr_uplift_evaluate(score, t, y, NULL, 12, &e, curve, NULL), TSR_OK);
  /* doubled data: Q(2k) = 2 Q_small(k); odd k in between */
  assert_near(curve[2], 2, 1e-12);
  assert_near(curve[6], 4, 1e-12);
  assert_near(curve[8], 2, 1e-12);
  assert_near(curve[12], 2, 1e-12);
  double area = 0;
  for (int k = 1; k <= 12; k++) area += curve[k];
  assert_near(e.auuc, area / 12, 1e-12);
  assert_near(e.qini, area / 12 - 1, 1e-12);
  assert_true(isnan(e.spearman));
}

static void test_spearman(void **state) {
  (void)state;
  double a[5] = {1, 2, 3, 4, 5}, b[5] = {5, 6, 7, 8, 7}, c[5] = {5, 4, 3, 2, 1};
  assert_near(tsr_spearman(a, c, 5), -1, 1e-12);
  /* ranks of b: 1 2 3.5 5 3.5: r = 0.8208 (average ranks, Pearson of ranks) */
  assert_near(tsr_spearman(a, b, 5), 0.82078268166812, 1e-9);
}

/* Simulated campaign: tau = 0.15 on x0 > 0, 0 otherwise; base rate depends
 * on x1. Both learners rank customers better than random. */
static void test_learners_beat_random(void **state) {
  (void)state;
  enum { N = 3000, D = 4 };
  double *X = malloc(N * D * sizeof *X), *y = malloc(N * sizeof *y), *truth = malloc(N * sizeof *truth);
  double *tau = malloc(N * sizeof *tau), *p1 = malloc(N * sizeof *p1), *p0 = malloc(N * sizeof *p0);
  int *t = malloc(N * sizeof *t);
  tsr_rng g;
  tsr_rng_seed(&g, 21, 0);
  for (int i = 0; i < N; i++) {
    for (int j = 0; j < D; j++) X[i * D + j] = tsr_rng_normal(&g);
    double base = 1 / (1 + exp(-(-1.5 + 0.5 * X[i * D + 1])));
    truth[i] = X[i * D] > 0 ? 0.15 : 0;
    t[i] = tsr_rng_uniform(&g) < 0.5;
    y[i] = tsr_rng_uniform(&g) < base + (t[i] ? truth[i] : 0);
  }
  for (int L = 0; L < 2; L++) {
    tsr_uplift_opts o;
    tsr_uplift_opts_init(&o);
    o.learner = L ? TSR_UPLIFT_X : TSR_UPLIFT_T;
    o.rounds = 50;
    o.depth = 3;
    tsr_error e;
    tsr_error_clear(&e);
    tsr_status st = tsr_uplift_fit_predict(X, N, D, t, y, NULL, 0, &o, tau, p1, p0, NULL, NULL, NULL, &e);
    if (st) fail_msg("%s", e.msg);
    for (int i = 0; i < N; i++) assert_true(p1[i] > 0 && p1[i] < 1 && p0[i] > 0 && p0[i] < 1);
    tsr_uplift_eval ev;
    assert_int_equal(tsr_uplift_evaluate(tau, t, y, truth, N, &ev, NULL, NULL), TSR_OK);
    print_message("%s-learner: spearman %.3f true gain %.3f qini %.3f\n", L ? "X" : "T", ev.spearman, ev.true_gain, ev.qini);
    assert_true(ev.spearman > 0.3);
    assert_true(ev.true_gain > 0.2 * 0.15 * N / 8); /* well above random (0) */
    assert_true(ev.qini > 0);
    assert_true(ev.dec_true[0] > ev.dec_true[9]);
  }
  /* no responses: a clear error */
  for (int i = 0; i < N; i++) y[i] = 0;
  tsr_error e;
  assert_int_equal(tsr_uplift_fit_predict(X, N, D, t, y, NULL, 0, NULL, tau, p1, p0, NULL, NULL, NULL, &e), TSR_EINVAL);
  assert_string_equal(e.msg, "no responses in either group: nothing to learn");
  for (int i = 0; i < N; i++) t[i] = 1;
  assert_int_equal(tsr_uplift_fit_predict(X, N, D, t, y, NULL, 0, NULL, tau, p1, p0, NULL, NULL, NULL, &e), TSR_EINVAL);
  assert_string_equal(e.msg, "control group: 0 customers, need at least 5 (one per fold)");
  free(X), free(y), free(truth), free(tau), free(p1), free(p0), free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_qini_hand), cmocka_unit_test(test_spearman),
                                     cmocka_unit_test(test_learners_beat_random)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
