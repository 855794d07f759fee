/*
 * test_hyp2f1.c - log 2F1 of lib/btyd/hyp2f1.c against mpmath references
 * (hyp2f1_ref.h), closed forms, derivatives and refusals.
 */
#include "btyd_testutil.h"

#include "btyd_internal.h"
#include "hyp2f1_ref.h"

/* |log F - ref| <= 1e-13 max(1, |ref|) on z in [0, 1); 1e-10 for z < 0,
 * where rounding w = z/(z-1) alone costs ~1e-16 |dlogF/dw|. */
static void reference(void **state) {
  (void)state;
  size_t n = sizeof hyp_ref / sizeof hyp_ref[0];
  for (size_t i = 0; i < n; i++) {
    const double *r = hyp_ref[i];
    double l;
    int sg;
    tsr_error err;
    if (tsr_hyp2f1_log(r[0], r[1], r[2], r[3], &l, &sg, &err))
      fail_msg("2F1(%g, %g; %g; %g) refused: %s", r[0], r[1], r[2], r[3], err.msg);
    double tol = (r[3] >= 0 ? 1e-13 : 1e-10) * fmax(1.0, fabs(r[4]));
    if (!(fabs(l - r[4]) <= tol) || sg != (int)r[5])
      fail_msg("log 2F1(%.17g, %.17g; %.17g; %.17g) = %.17g (sign %d), "
               "expected %.17g (sign %d)",
               r[0], r[1], r[2], r[3], l, sg, r[4], (int)r[5]);
  }
}

static void closed_forms(void **state) {
  (void)state;
  const double zs[] = {-1e4, -50, -1, -0.3, 0, 0.2, 0.9, 0.999, 0.99999};
  for (size_t i = 0; i < sizeof zs / sizeof zs[0]; i++) {
    double z = zs[i], l;
    int sg;
    /* 2F1(a, b; b; z) = (1-z)^-a */
    assert_ok(tsr_hyp2f1_log(2.5, 3.25, 3.25, z, &l, &sg, NULL));
    assert_abs(l, -2.5 * log1p(-z), 1e-12 * fmax(1, fabs(l)));
    /* 2F1(1, 1; 2; z) = -log(1-z)/z */
    assert_ok(tsr_hyp2f1_log(1, 1, 2, z, &l, &sg, NULL));
    double want = z == 0 ? 0 : log(-log1p(-z) / z);
    /* beyond z = 0.999 the series needs ~40/(1-z) terms and rounding
     * accumulates (documented in lib/btyd/hyp2f1.c) */
    assert_abs(l, want, z <= 0.999 ? 1e-13 : 1e-10);
  }
}

/* d log F / d(a, b, c, z) against central differences. */
static void derivatives(void **state) {
  (void)state;
  const double P[][4] = {{0.8, 1.6, 2.8, 0.05}, {30.5, 1.6, 31.5, 0.6},
                         {300.2, 12.1, 301.2, 0.95}, {2.5, 3.5, 4.1, -0.7},
                         {2.5, 0.5, 1.7, -20}, {1.2, 7.5, 3.1, 0.3}};
  for (size_t k = 0; k < sizeof P / sizeof P[0]; k++) {
    double l, sg_l, d[4];
    int sg;
    assert_int_equal(tsr__hyp2f1(P[k][0], P[k][1], P[k][2], P[k][3], &l, &sg, d), 0);
    (void)sg_l;
    for (int j = 0; j < 4; j++) {
      double pp[4], lp, lm, h = 1e-6 * fmax(1e-3, fabs(P[k][j]));
      memcpy(pp, P[k], sizeof pp);
      pp[j] += h;
      assert_int_equal(tsr__hyp2f1(pp[0], pp[1], pp[2], pp[3], &lp, &sg, NULL), 0);
      pp[j] -= 2 * h;
      assert_int_equal(tsr__hyp2f1(pp[0], pp[1], pp[2], pp[3], &lm, &sg, NULL), 0);
      double fd = (lp - lm) / (2 * h);
      if (!(fabs(fd - d[j]) <= 1e-6 * (1 + fabs(fd))))
        fail_msg("case %zu, d/d%d: analytic %.12g, numeric %.12g", k, j, d[j], fd);
    }
  }
}

static void refusals(void **state) {
  (void)state;
  double l;
  int sg;
  tsr_error err;
  assert_int_equal(tsr_hyp2f1_log(1, 2, 3, 1.0, &l, &sg, &err), TSR_ENUMERIC);
  assert_int_equal(tsr_hyp2f1_log(1, 2, -3, 0.5, &l, &sg, &err), TSR_ENUMERIC);
  assert_int_equal(tsr_hyp2f1_log(1, 2, 3, NAN, &l, &sg, &err), TSR_ENUMERIC);
  assert_string_equal(err.field, "2F1");
  /* terminating series: 2F1(-2, b; c; z) = 1 - 2bz/c + b(b+1)z^2/(c(c+1)) */
  assert_ok(tsr_hyp2f1_log(-2, 3, 4, 0.5, &l, &sg, NULL));
  assert_abs(exp(l) * sg, 1 - 2 * 3 * 0.5 / 4 + 3 * 4 * 0.25 / (4 * 5), 1e-14);
}

/* tsr__hyp2f1_many2 (lanes of z in one vector series, each stopping on its
 * own) against tsr__hyp2f1_many (one z at a time): log F and its gradient
 * bit for bit, for runs of every length (a 0 in between, lanes that stop
 * after very different numbers of terms); the second derivatives against
 * central differences of the gradient in z and a */
static void many2_lanes(void **state) {
  (void)state;
  enum { M = 23 };
  double z[M], l1[M], d1[4 * M], l2[M], d2[4 * M], h[16 * M];
  for (int i = 0; i < M; i++) z[i] = i == 5 ? 0 : (i % 3 == 0 ? 0.9 / (1 + i) : 0.02 * (i + 1));
  static const double P[][3] = {{1.3, 1.58, 2.3}, {35.2, 1.1, 36.2}, {0.6, 7.5, 1.6}};
  for (size_t k = 0; k < sizeof P / sizeof *P; k++) {
    const double a = P[k][0], b = P[k][1], c = P[k][2];
    for (int m = 1; m <= M; m++) {
      tsr__hyp_ws w1, w2;
      memset(&w1, 0, sizeof w1);
      memset(&w2, 0, sizeof w2);
      assert_int_equal(tsr__hyp2f1_many(a, b, c, z, (size_t)m, l1, d1, &w1), 0);
      assert_int_equal(tsr__hyp2f1_many2(a, b, c, z, (size_t)m, l2, d2, h, &w2), 0);
      assert_memory_equal(l1, l2, (size_t)m * sizeof *l1);
      assert_memory_equal(d1, d2, 4 * (size_t)m * sizeof *d1);
      /* two lanes and four (AVX2, when the CPU has it): the same values,
       * second derivatives included */
      for (size_t lanes = 2; lanes <= 4; lanes += 2) {
        double l4[M], d4[4 * M], h4[16 * M];
        tsr__hyp_ws w4;
        memset(&w4, 0, sizeof w4);
        assert_int_equal(tsr__hyp2f1_many2_lanes(lanes, a, b, c, z, (size_t)m, l4, d4, h4, &w4), 0);
        assert_memory_equal(l4, l2, (size_t)m * sizeof *l4);
        assert_memory_equal(d4, d2, 4 * (size_t)m * sizeof *d4);
        assert_memory_equal(h4, h, 16 * (size_t)m * sizeof *h4);
        tsr__hyp_ws_free(&w4);
      }
      tsr__hyp_ws_free(&w1);
      tsr__hyp_ws_free(&w2);
    }
    for (int i = 0; i < M; i++) {
      if (z[i] == 0) continue;
      double zp = z[i] * (1 + 1e-6), zm = z[i] * (1 - 1e-6), lf, gp[4], gm[4];
      int sg;
      assert_int_equal(tsr__hyp2f1(a, b, c, zp, &lf, &sg, gp), 0);
      assert_int_equal(tsr__hyp2f1(a, b, c, zm, &lf, &sg, gm), 0);
      for (int j = 0; j < 4; j++)
        assert_abs(h[16 * i + 3 * 4 + j], (gp[j] - gm[j]) / (zp - zm),
                   1e-6 * (1 + fabs(h[16 * i + 3 * 4 + j])));
      const double ha = 1e-6 * a;
      assert_int_equal(tsr__hyp2f1(a + ha, b, c, z[i], &lf, &sg, gp), 0);
      assert_int_equal(tsr__hyp2f1(a - ha, b, c, z[i], &lf, &sg, gm), 0);
      for (int j = 0; j < 4; j++)
        assert_abs(h[16 * i + j], (gp[j] - gm[j]) / (2 * ha), 1e-6 * (1 + fabs(h[16 * i + j])));
    }
  }
}

int main(void) {
  gsl_set_error_handler_off();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(reference),
      cmocka_unit_test(closed_forms),
      cmocka_unit_test(derivatives),
      cmocka_unit_test(refusals),
      cmocka_unit_test(many2_lanes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
