/*
 * test_evaluate.c - metrics and calibration (tessera/evaluate.h) against
 * hand-computed values and plain reference computations.
 */
#include "tsr_test.h"
#include "predict/evaluate_internal.h"

static void test_binary_metrics(void **state) {
  (void)state;
  /* scikit-learn's documentation example: AUC 0.75, AP 0.8333 */
  double s[4] = {0.1, 0.4, 0.35, 0.8};
  uint8_t y[4] = {0, 0, 1, 1};
  tsr_eval_binary e;
  assert_int_equal(tsr_eval_binary_compute(s, y, 4, &e, NULL), TSR_OK);
  assert_near(e.auc, 0.75, 1e-12);
  assert_near(e.pr_auc, 5.0 / 6.0, 1e-12);
  assert_near(e.brier, (0.01 + 0.16 + 0.4225 + 0.04) / 4, 1e-12);
  assert_near(e.log_loss, -(log(0.9) + log(0.6) + log(0.35) + log(0.8)) / 4, 1e-12);
  assert_near(e.lift_top10, 2.0, 1e-12); /* top ceil(4/10)=1 row is positive, base 0.5 */
  assert_near(e.base_rate, 0.5, 0);
  /* ties: positive 0.5 vs negative 0.5 counts one half */
  double t[4] = {0.9, 0.5, 0.5, 0.1};
  uint8_t ty[4] = {1, 0, 1, 0};
  assert_int_equal(tsr_eval_binary_compute(t, ty, 4, &e, NULL), TSR_OK);
  assert_near(e.auc, 3.5 / 4, 1e-12);
  assert_near(e.pr_auc, 0.5 + 0.5 * 2.0 / 3.0, 1e-12);
  double c[4] = {0.5, 0.5, 0.5, 0.5};
  assert_int_equal(tsr_eval_binary_compute(c, ty, 4, &e, NULL), TSR_OK);
  assert_near(e.auc, 0.5, 1e-12);
  assert_near(e.pr_auc, 0.5, 1e-12);
  /* scores outside [0,1]: ranking metrics only */
  double z[4] = {-3, 2, 1, 5};
  assert_int_equal(tsr_eval_binary_compute(z, y, 4, &e, NULL), TSR_OK);
  assert_near(e.auc, 0.75, 1e-12);
  assert_true(isnan(e.brier));
  /* 20 rows: top 2 both positive, 5 positives: lift (2/2)/(5/20) = 4 */
  double s20[20];
  uint8_t y20[20] = {0};
  for (int i = 0; i < 20; i++) s20[i] = 1.0 - i / 20.0;
  y20[0] = y20[1] = y20[5] = y20[10] = y20[19] = 1;
  assert_int_equal(tsr_eval_binary_compute(s20, y20, 20, &e, NULL), TSR_OK);
  assert_near(e.lift_top10, 4.0, 1e-12);
  tsr_error err;
  uint8_t one[4] = {1, 1, 1, 1};
  assert_int_equal(tsr_eval_binary_compute(s, one, 4, &e, &err), TSR_EINVAL);
  assert_string_equal(err.msg, "one class only: every label is 1 (4 rows)");
  double bad[4] = {0.1, NAN, 0.2, 0.3};
  assert_int_equal(tsr_eval_binary_compute(bad, y, 4, &e, &err), TSR_EINVAL);
  assert_string_equal(err.msg, "expected a finite score in row 2, got nan");
}

static void test_reliability(void **state) {
  (void)state;
  double p[5] = {0.05, 0.15, 0.12, 0.95, 1.0};
  uint8_t y[5] = {0, 0, 1, 1, 1};
  tsr_reliability_bin b[10];
  assert_int_equal(tsr_eval_reliability(p, y, 5, 10, b, NULL), TSR_OK);
  assert_int_equal(b[0].n, 1);
  assert_near(b[0].mean_pred, 0.05, 1e-12);
  assert_near(b[0].observed, 0, 0);
  assert_int_equal(b[1].n, 2);
  assert_near(b[1].mean_pred, 0.135, 1e-12);
  assert_near(b[1].observed, 0.5, 0);
  assert_int_equal(b[9].n, 2);
  assert_near(b[9].mean_pred, 0.975, 1e-12);
  assert_int_equal(b[5].n, 0);
  assert_true(isnan(b[5].observed));
  assert_near(b[3].lo, 0.3, 1e-12);
}

static void test_isotonic(void **state) {
  (void)state;
  double p[4] = {0.3, 0.1, 0.4, 0.2};
  uint8_t y[4] = {0, 0, 1, 1};
  /* sorted: (0.1,0) (0.2,1) (0.3,0) (0.4,1): PAV pools 0.2-0.3 at 0.5 */
  tsr_calibrator c;
  assert_int_equal(tsr_calibrator_fit(TSR_CALIB_ISOTONIC, p, y, 4, &c, NULL), TSR_OK);
  assert_int_equal(c.n, 4);
  assert_near(tsr_calibrator_apply(&c, 0.0), 0.0, 1e-12);
  assert_near(tsr_calibrator_apply(&c, 0.15), 0.25, 1e-12);
  assert_near(tsr_calibrator_apply(&c, 0.25), 0.5, 1e-12);
  assert_near(tsr_calibrator_apply(&c, 0.35), 0.75, 1e-12);
  assert_near(tsr_calibrator_apply(&c, 0.9), 1.0, 1e-12);
  tsr_calibrator_release(&c);
}

static void test_platt_recovers(void **state) {
  (void)state;
  /* reported p = sigmoid(z), truth P(y=1) = sigmoid(2 z + 0.5) */
  size_t n = 40000;
  double *p = malloc(n * sizeof *p);
  uint8_t *y = malloc(n);
  tsr_rng g;
  tsr_rng_seed(&g, 99, 0);
  for (size_t i = 0; i < n; i++) {
    double z = tsr_rng_normal(&g);
    p[i] = 1 / (1 + exp(-z));
    y[i] = tsr_rng_uniform(&g) < 1 / (1 + exp(-(2 * z + 0.5)));
  }
  tsr_calibrator c;
  assert_int_equal(tsr_calibrator_fit(TSR_CALIB_PLATT, p, y, n, &c, NULL), TSR_OK);
  assert_near(c.a, 2.0, 0.1);
  assert_near(c.b, 0.5, 0.06);
  assert_near(tsr_calibrator_apply(&c, 0.5), 1 / (1 + exp(-c.b)), 1e-12);
  tsr_calibrator_release(&c);
  tsr_calib_kind k;
  assert_int_equal(tsr_calib_kind_parse("isotonic", &k), TSR_OK);
  assert_int_equal(k, TSR_CALIB_ISOTONIC);
  assert_int_equal(tsr_calib_kind_parse("spline", &k), TSR_EINVAL);
  free(p);
  free(y);
}

static void test_ranking(void **state) {
  (void)state;
  int32_t ranked[4 * 3] = {1, 2, 3, 4, 5, 6, 9, 9, 9, -1, -1, -1};
  size_t off[5] = {0, 1, 3, 3, 4};
  int32_t rel[4] = {2, 7, 4, 1};
  tsr_eval_ranking r;
  assert_int_equal(tsr_eval_ranking_compute(ranked, 4, 3, off, rel, &r, NULL), TSR_OK);
  assert_int_equal(r.n_users, 3); /* user 2 has nothing relevant */
  assert_near(r.hit_rate, 2.0 / 3.0, 1e-12);
  double n0 = 1 / log2(3.0), n1 = 1 / (1 + 1 / log2(3.0));
  assert_near(r.ndcg, (n0 + n1) / 3, 1e-12);
  assert_near(r.map, (0.5 + 0.5) / 3, 1e-12);
  assert_near(r.precision, (1.0 / 3 + 1.0 / 3) / 3, 1e-12);
  size_t off0[2] = {0, 0};
  tsr_error err;
  assert_int_equal(tsr_eval_ranking_compute(ranked, 1, 3, off0, rel, &r, &err), TSR_EINVAL);
}

/* NDCG of long rankings (k = 70: ranks past the 64 discounts kept in a
 * table) equals the sum of 1 / log2(rank + 1) computed here, bit for bit:
 * one user, relevant items at ranks 1, 3, 64, 65 and 70. */
static void test_ranking_long(void **state) {
  (void)state;
  enum { K = 70 };
  int32_t ranked[K];
  for (int i = 0; i < K; i++) ranked[i] = 100 + i;
  int32_t rel[5] = {100, 102, 163, 164, 169};
  size_t off[2] = {0, 5};
  tsr_eval_ranking r;
  assert_int_equal(tsr_eval_ranking_compute(ranked, 1, K, off, rel, &r, NULL), TSR_OK);
  double dcg = 0, idcg = 0;
  for (int i = 0; i < K; i++) {
    for (int j = 0; j < 5; j++)
      if (rel[j] == ranked[i]) dcg += 1.0 / log2((double)i + 2);
    if (i < 5) idcg += 1.0 / log2((double)i + 2);
  }
  assert_true(r.ndcg == dcg / idcg);
}

/* ---- plain references: pairs for the AUC, thresholds for the average
 * precision, qsort on (-score, row) for the lifts and on (p, row) for PAV */

typedef struct {
  double s;
  size_t i;
} ref_row;

static int ref_desc(const void *a, const void *b) {
  const ref_row *x = a, *y = b;
  if (x->s != y->s) return x->s > y->s ? -1 : 1;
  return (x->i > y->i) - (x->i < y->i);
}

static int ref_asc(const void *a, const void *b) {
  const ref_row *x = a, *y = b;
  if (x->s != y->s) return x->s < y->s ? -1 : 1;
  return (x->i > y->i) - (x->i < y->i);
}

/* every (positive, negative) pair: 2 when the positive scores higher, 1
 * on a tie; the sum of halves is exact, so the AUC is too */
static double ref_auc(const double *s, const uint8_t *y, size_t n) {
  uint64_t twice = 0, pos = 0;
  for (size_t i = 0; i < n; i++) {
    pos += y[i];
    if (!y[i]) continue;
    for (size_t j = 0; j < n; j++)
      if (!y[j]) twice += s[i] > s[j] ? 2 : s[i] == s[j];
  }
  return ((double)twice / 2) / ((double)pos * (double)(n - pos));
}

/* sum over the distinct scores t from the top of (recall(t) - recall of
 * the previous t) * precision(t), the rows scoring >= t counted */
static double ref_ap(const double *s, const uint8_t *y, size_t n, const ref_row *d) {
  size_t npos = 0;
  for (size_t i = 0; i < n; i++) npos += y[i];
  double ap = 0, r0 = 0;
  for (size_t g = 0; g < n; g++) {
    if (g > 0 && d[g].s == d[g - 1].s) continue;
    size_t tp = 0, fp = 0;
    for (size_t i = 0; i < n; i++)
      if (s[i] >= d[g].s) { if (y[i]) tp++; else fp++; }
    double r = (double)tp / (double)npos;
    ap += (r - r0) * ((double)tp / (double)(tp + fp));
    r0 = (double)tp / (double)npos;
  }
  return ap;
}

/* Scores of kind v (0 coarse grid, 1 few negative values, 2 -0 beside 0,
 * 3 floats as next-best-product has them, 4 distinct), labels ~1/3. */
static void ref_data(int v, size_t n, uint64_t *r, double *s, uint8_t *y) {
  for (size_t i = 0; i < n; i++) {
    *r = *r * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t u = (uint32_t)(*r >> 33);
    switch (v) {
    case 0: s[i] = (double)(u % 1000) / 997.0; break;
    case 1: s[i] = (double)((int)(u % 7) - 3) * 0.25; break;
    case 2: s[i] = (u & 1) ? 0.0 : (u & 2) ? -0.0 : (double)(u % 5); break;
    case 3: s[i] = (double)((float)(u % 300) / 299.0f); break;
    default: s[i] = (double)u / 4294967296.0;
    }
    y[i] = (uint8_t)((u >> 7) % 3 == 0);
  }
}

/* tsr_eval_binary_compute's AUC, average precision and lifts, and
 * tsr__eval_auc, bit for bit against the references on random scores
 * with many ties; tsr__eval_auc's NaN cases. */
static void test_binary_reference(void **state) {
  (void)state;
  enum { N = 3001 };
  double *s = malloc(N * sizeof *s);
  uint8_t *y = malloc(N);
  ref_row *d = malloc(N * sizeof *d);
  assert_non_null(s), assert_non_null(y), assert_non_null(d);
  uint64_t r = 12345;
  for (int v = 0; v < 6; v++) {
    size_t n = v == 5 ? 2 : N - (size_t)v * 97;
    ref_data(v == 5 ? 4 : v, n, &r, s, y);
    if (v == 5) y[0] = 0, y[1] = 1; /* one row per class */
    tsr_eval_binary e;
    assert_int_equal(tsr_eval_binary_compute(s, y, n, &e, NULL), TSR_OK);
    double a = 0, ra = ref_auc(s, y, n);
    assert_int_equal(tsr__eval_auc(s, y, n, &a, NULL), TSR_OK);
    if (a != ra || e.auc != ra) fail_msg("kind %d: auc %.17g, %.17g, reference %.17g", v, e.auc, a, ra);
    for (size_t i = 0; i < n; i++) d[i].s = s[i], d[i].i = i;
    qsort(d, n, sizeof *d, ref_desc);
    double rap = ref_ap(s, y, n, d);
    if (e.pr_auc != rap) fail_msg("kind %d: ap %.17g, reference %.17g", v, e.pr_auc, rap);
    /* the lifts take rows in (-score, row) order: a tie group cut by a
     * decile's edge counts its lower rows */
    size_t top = (n + 9) / 10, tpos = 0;
    for (size_t k = 0; k < top; k++) tpos += y[d[k].i];
    assert_true(e.lift_top10 == ((double)tpos / (double)top) / e.base_rate);
    for (int q = 0; q < 10; q++) {
      size_t lo = n * (size_t)q / 10, hi = n * (size_t)(q + 1) / 10, k = 0;
      for (size_t i = lo; i < hi; i++) k += y[d[i].i];
      double want = hi > lo ? ((double)k / (double)(hi - lo)) / e.base_rate : NAN;
      if (!(e.decile_lift[q] == want || (isnan(want) && isnan(e.decile_lift[q]))))
        fail_msg("kind %d decile %d: %.17g, reference %.17g", v, q, e.decile_lift[q], want);
    }
  }
  double a = 0;
  memset(y, 0, N);
  assert_int_equal(tsr__eval_auc(s, y, N, &a, NULL), TSR_OK);
  assert_true(isnan(a)); /* one class */
  y[3] = 1;
  s[7] = INFINITY;
  assert_int_equal(tsr__eval_auc(s, y, N, &a, NULL), TSR_OK);
  assert_true(isnan(a)); /* not finite */
  a = 0;
  assert_int_equal(tsr__eval_auc(s, y, 0, &a, NULL), TSR_OK);
  assert_true(isnan(a));
  free(s), free(y), free(d);
}

/* Isotonic calibration on ties (-0 beside 0 included) against PAV on the
 * rows in qsort's (p, row) order: the same knots, bit for bit. */
static void test_isotonic_reference(void **state) {
  (void)state;
  enum { N = 2000 };
  double *p = malloc(N * sizeof *p), *sv = malloc(N * sizeof *sv), *sw = malloc(N * sizeof *sw);
  double *xl = malloc(N * sizeof *xl), *xh = malloc(N * sizeof *xh);
  uint8_t *y = malloc(N);
  ref_row *d = malloc(N * sizeof *d);
  uint64_t r = 777;
  ref_data(3, N, &r, p, y);
  for (size_t i = 0; i < N; i += 13) p[i] = (i / 13) % 2 ? -0.0 : 0.0;
  tsr_calibrator c;
  assert_int_equal(tsr_calibrator_fit(TSR_CALIB_ISOTONIC, p, y, N, &c, NULL), TSR_OK);
  for (size_t i = 0; i < N; i++) d[i].s = p[i], d[i].i = i;
  qsort(d, N, sizeof *d, ref_asc);
  size_t nb = 0;
  for (size_t i = 0; i < N; i++) {
    double x = d[i].s, yy = y[d[i].i];
    if (nb && xh[nb - 1] == x) {
      sv[nb - 1] += yy, sw[nb - 1] += 1;
    } else {
      sv[nb] = yy, sw[nb] = 1, xl[nb] = xh[nb] = x;
      nb++;
    }
    while (nb > 1 && sv[nb - 2] / sw[nb - 2] >= sv[nb - 1] / sw[nb - 1]) {
      sv[nb - 2] += sv[nb - 1], sw[nb - 2] += sw[nb - 1], xh[nb - 2] = xh[nb - 1];
      nb--;
    }
  }
  assert_true(nb > 3);
  size_t k = 0;
  for (size_t b = 0; b < nb; b++) {
    double val = sv[b] / sw[b];
    assert_true(k < c.n);
    assert_memory_equal(&c.x[k], &xl[b], sizeof xl[b]); /* -0 and 0 told apart */
    assert_true(c.y[k++] == val);
    if (xh[b] > xl[b]) {
      assert_true(k < c.n);
      assert_true(c.x[k] == xh[b] && c.y[k++] == val);
    }
  }
  assert_int_equal(k, c.n);
  tsr_calibrator_release(&c);
  free(p), free(sv), free(sw), free(xl), free(xh), free(y), free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_binary_metrics), cmocka_unit_test(test_reliability),
      cmocka_unit_test(test_isotonic), cmocka_unit_test(test_platt_recovers),
      cmocka_unit_test(test_ranking), cmocka_unit_test(test_ranking_long),
      cmocka_unit_test(test_binary_reference), cmocka_unit_test(test_isotonic_reference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
