/*
 * test_compress.c - the patterns of the model step (lib/btyd/btyd.c
 * tsr__btyd_compress, app/analyze.c step_models): patterns given again come
 * back as they are (the sorted, unique fast path) but sorted input with a
 * repeat, or -0.0 next to 0.0, is still merged; the map's sort sends every
 * row to its pattern; fits, predictions and churn on the patterns equal
 * those on the rows bit for bit; the CLV's P(alive) cache over patterns of
 * one (x, t_x, T) equals each row computed alone.
 */
#include "btyd_testutil.h"

#include "btyd_internal.h"

static void same_pats(const tsr_btyd_data *a, const tsr_btyd_data *b) {
  assert_int_equal(a->n, b->n);
  size_t z = a->n * sizeof(double);
  assert_memory_equal(a->x, b->x, z);
  assert_memory_equal(a->t_x, b->t_x, z);
  assert_memory_equal(a->T, b->T, z);
  assert_memory_equal(a->weights, b->weights, z);
}

static void test_compress_again(void **state) {
  (void)state;
  tu_cdnow c;
  tu_cdnow_load(&c);
  tsr_btyd_data d = {c.n, c.x, c.tx, c.T, NULL, NULL};
  tsr__btyd_pat p1, p2, pm;
  assert_ok(tsr__btyd_compress(&d, 0, &p1, NULL));
  assert_true(p1.d.n > 100 && p1.d.n < c.n);
  /* the patterns again: the same, and the map the identity */
  assert_ok(tsr__btyd_compress(&p1.d, 0, &p2, NULL));
  same_pats(&p1.d, &p2.d);
  tsr__btyd_pat_release(&p2);
  assert_ok(tsr__btyd_compress(&p1.d, 1, &p2, NULL));
  same_pats(&p1.d, &p2.d);
  for (size_t k = 0; k < p2.d.n; k++) assert_int_equal(p2.map[k], k);
  tsr__btyd_pat_release(&p2);
  /* the map: each row's pattern holds its values; patterns as without */
  assert_ok(tsr__btyd_compress(&d, 1, &pm, NULL));
  same_pats(&p1.d, &pm.d);
  double *cnt = calloc(pm.d.n, sizeof *cnt);
  assert_non_null(cnt);
  for (size_t i = 0; i < c.n; i++) {
    size_t k = pm.map[i];
    assert_true(k < pm.d.n);
    assert_true(pm.d.x[k] == c.x[i] && pm.d.t_x[k] == c.tx[i] && pm.d.T[k] == c.T[i]);
    cnt[k] += 1;
  }
  assert_memory_equal(cnt, pm.d.weights, pm.d.n * sizeof *cnt);
  free(cnt);
  tsr__btyd_pat_release(&pm);
  tsr__btyd_pat_release(&p1);
  tu_cdnow_free(&c);
}

/* sorted but not unique: merged as before */
static void test_compress_sorted_repeats(void **state) {
  (void)state;
  double x[4] = {0, 0, 1, 1}, tx[4] = {-0.0, 0.0, 2, 2}, T[4] = {3, 3, 4, 4},
         w[4] = {1, 2, 3, 4};
  tsr_btyd_data d = {4, x, tx, T, NULL, w};
  tsr__btyd_pat p;
  assert_ok(tsr__btyd_compress(&d, 1, &p, NULL));
  assert_int_equal(p.d.n, 2);
  assert_true(p.d.weights[0] == 3 && p.d.weights[1] == 7);
  assert_int_equal(p.map[0], 0);
  assert_int_equal(p.map[1], 0);
  assert_int_equal(p.map[2], 1);
  assert_int_equal(p.map[3], 1);
  tsr__btyd_pat_release(&p);
  /* strictly increasing with a weight 0: dropped without a map */
  double w0[2] = {1, 0};
  tsr_btyd_data d2 = {2, x + 1, tx + 1, T + 1, NULL, w0};
  assert_ok(tsr__btyd_compress(&d2, 0, &p, NULL));
  assert_int_equal(p.d.n, 1);
  assert_true(p.d.x[0] == 0 && p.d.weights[0] == 1);
  tsr__btyd_pat_release(&p);
}

/* strictly increasing patterns with t_x, T and positive weights are
 * borrowed (pat.buf NULL, the caller's columns); without weights, or with a
 * weight 0, copied */
static void test_compress_borrows_patterns(void **state) {
  (void)state;
  double x[3] = {0, 1, 1}, tx[3] = {0, 2, 3}, T[3] = {3, 4, 4}, w[3] = {2, 1, 5},
         w0[3] = {2, 0, 5};
  tsr_btyd_data d = {3, x, tx, T, NULL, w};
  tsr__btyd_pat p;
  assert_ok(tsr__btyd_compress(&d, 0, &p, NULL));
  assert_null(p.buf);
  assert_null(p.map);
  assert_true(p.d.n == 3 && p.d.x == x && p.d.t_x == tx && p.d.T == T && p.d.weights == w);
  assert_null(p.d.m_x);
  tsr__btyd_pat_release(&p);
  assert_ok(tsr__btyd_compress(&d, 1, &p, NULL));
  assert_null(p.buf);
  assert_true(p.d.x == x && p.map[0] == 0 && p.map[1] == 1 && p.map[2] == 2);
  tsr__btyd_pat_release(&p);
  tsr_btyd_data dn = {3, x, tx, T, NULL, NULL};
  assert_ok(tsr__btyd_compress(&dn, 0, &p, NULL));
  assert_non_null(p.buf);
  assert_true(p.d.n == 3 && p.d.x != x && p.d.weights[1] == 1);
  tsr__btyd_pat_release(&p);
  tsr_btyd_data dz = {3, x, tx, T, NULL, w0};
  assert_ok(tsr__btyd_compress(&dz, 0, &p, NULL));
  assert_non_null(p.buf);
  assert_true(p.d.n == 2 && p.d.t_x[1] == 3 && p.d.weights[1] == 5);
  tsr__btyd_pat_release(&p);
}

/* the model step's way (fit, predict, churn on the patterns) equals the
 * rows' */
static void test_patterns_equal_rows(void **state) {
  (void)state;
  tu_cdnow c;
  tu_cdnow_load(&c);
  tsr_btyd_data d = {c.n, c.x, c.tx, c.T, NULL, NULL};
  tsr__btyd_pat p;
  assert_ok(tsr__btyd_compress(&d, 1, &p, NULL));
  static const tsr_btyd_kind kinds[2] = {TSR_BTYD_MBGNBD, TSR_BTYD_PNBD};
  for (int q = 0; q < 2; q++) {
    tsr_btyd_fit_opts fo;
    tsr_btyd_fit_opts_init(&fo);
    tsr_btyd_model a, b;
    assert_ok(tsr_btyd_fit(kinds[q], &d, &fo, &a, NULL));
    assert_ok(tsr_btyd_fit(kinds[q], &p.d, &fo, &b, NULL));
    assert_memory_equal(a.params, b.params, sizeof a.params);
    assert_memory_equal(&a.loglik, &b.loglik, sizeof a.loglik);
    assert_memory_equal(a.cov, b.cov, sizeof a.cov);
    assert_true(a.n_customers == b.n_customers);
    size_t n = c.n, u = p.d.n;
    double *e = malloc(4 * n * sizeof *e), *f = malloc(4 * u * sizeof *f);
    assert_non_null(e);
    assert_non_null(f);
    assert_ok(tsr_btyd_predict(&a, &d, 52, 0.9, e, e + n, e + 2 * n, e + 3 * n, NULL));
    assert_ok(tsr_btyd_predict(&a, &p.d, 52, 0.9, f, f + u, f + 2 * u, f + 3 * u, NULL));
    for (size_t i = 0; i < n; i++)
      for (int j = 0; j < 4; j++)
        assert_memory_equal(&e[j * n + i], &f[j * u + p.map[i]], sizeof *e);
    free(e);
    free(f);
    double s1, s2, a1, a2, d1, d2;
    assert_ok(tsr_btyd_churn(&a, &d, 0.5, &s1, &a1, &d1, NULL));
    assert_ok(tsr_btyd_churn(&a, &p.d, 0.5, &s2, &a2, &d2, NULL));
    assert_true(s1 == s2 && a1 == a2 && d1 == d2);
  }
  tsr__btyd_pat_release(&p);
  tu_cdnow_free(&c);
}

/* CLV over rows sharing (x, t_x, T) with other spends, and (x, T) with
 * other t_x: each equals the row computed alone */
static void test_clv_p_alive_cache(void **state) {
  (void)state;
  tu_cdnow c;
  tu_cdnow_load(&c);
  tsr_btyd_data d = {c.n, c.x, c.tx, c.T, NULL, NULL};
  tsr_btyd_fit_opts fo;
  tsr_btyd_fit_opts_init(&fo);
  tsr_btyd_model m, g;
  assert_ok(tsr_btyd_fit(TSR_BTYD_MBGNBD, &d, &fo, &m, NULL));
  assert_true(m.has_cov);
  static const double GG[3] = {6.25, 3.74, 15.44};
  assert_ok(tsr_btyd_model_init(&g, TSR_BTYD_GG, GG, NULL));
  enum { N = 9 };
  double x[N] = {2, 2, 2, 2, 2, 3, 3, 0, 2}, tx[N] = {10, 10, 10, 12, 12, 10, 10, 0, 10},
         T[N] = {30, 30, 30, 30, 30, 30, 31, 30, 31}, mx[N] = {20, 35, 50, 20, 35, 20, 20, 0, 20};
  tsr_btyd_data r = {N, x, tx, T, mx, NULL};
  tsr_clv_opts o = {52.0, 30.4375 / 7, 0.01, 0.9};
  double v[N], lo[N], hi[N];
  assert_ok(tsr_clv_compute(&m, &g, &r, &o, v, lo, hi, NULL));
  for (size_t i = 0; i < N; i++) {
    tsr_btyd_data one = {1, x + i, tx + i, T + i, mx + i, NULL};
    double v1, lo1, hi1;
    assert_ok(tsr_clv_compute(&m, &g, &one, &o, &v1, &lo1, &hi1, NULL));
    assert_memory_equal(&v[i], &v1, sizeof v1);
    assert_memory_equal(&lo[i], &lo1, sizeof lo1);
    assert_memory_equal(&hi[i], &hi1, sizeof hi1);
  }
  tu_cdnow_free(&c);
}

/* The fit's log-likelihood (taken from the last Newton step's evaluation
 * at the optimum) is the unpenalized sum at the fitted parameters, with or
 * without a penalizer (the penalized objective times W differs by far more
 * than the 1e-12 allowed here) */
static void test_fit_loglik_unpenalized(void **state) {
  (void)state;
  tu_cdnow c;
  tu_cdnow_load(&c);
  tsr_btyd_data d = {c.n, c.x, c.tx, c.T, NULL, NULL};
  const tsr_btyd_kind kinds[2] = {TSR_BTYD_BGNBD, TSR_BTYD_PNBD};
  for (int k = 0; k < 2; k++)
    for (int pen = 0; pen < 2; pen++) {
      tsr_btyd_fit_opts o;
      tsr_btyd_fit_opts_init(&o);
      o.penalizer = pen ? 0.1 : 0;
      tsr_btyd_model m;
      tsr_error err;
      if (tsr_btyd_fit(kinds[k], &d, &o, &m, &err)) fail_msg("fit: %s", err.msg);
      double ll;
      assert_ok(tsr_btyd_loglik(&m, &d, &ll, NULL));
      if (!(fabs(m.loglik - ll) <= 1e-12 * fabs(ll)))
        fail_msg("kind %d pen %d: fit loglik %.17g, loglik %.17g", k, pen, m.loglik, ll);
    }
  tu_cdnow_free(&c);
}

/* The ranked compression (finite values) equals the hash and sort (taken
 * when some value is not finite: one more row, x above all others and m_x
 * infinite, which sorts last): the same patterns, values, weights and map,
 * on rows with repeats, -0.0 and 0.0, weights and m_x */
static void test_compress_ranked_equals_hash(void **state) {
  (void)state;
  const size_t n = 20000;
  double *v = malloc(5 * (n + 1) * sizeof *v);
  assert_non_null(v);
  double *x = v, *tx = x + n + 1, *T = tx + n + 1, *m = T + n + 1, *w = m + n + 1;
  uint64_t z = 12345;
  for (size_t i = 0; i < n; i++) {
    z = z * 6364136223846793005ULL + 1442695040888963407ULL;
    unsigned r = (unsigned)(z >> 33);
    x[i] = r % 7;
    T[i] = 20 + (r >> 3) % 9 + ((r >> 7) % 2) / 7.0;
    tx[i] = x[i] == 0 ? ((r >> 9) % 2 ? -0.0 : 0.0) : (double)((r >> 11) % 20);
    m[i] = (r >> 16) % 3 ? (double)((r >> 18) % 5) : -0.0;
    w[i] = (r >> 21) % 4 == 0 ? 0.0 : 0.5 + (r >> 23) % 3;
  }
  x[n] = 100, tx[n] = 1, T[n] = 30, m[n] = INFINITY, w[n] = 1;
  for (int with_m = 0; with_m < 2; with_m++)
    for (int want_map = 0; want_map < 2; want_map++) {
      tsr_btyd_data a = {n, x, tx, T, with_m ? m : NULL, w};
      tsr_btyd_data b = {n + 1, x, tx, T, m, w};
      tsr__btyd_pat pa, pb;
      assert_ok(tsr__btyd_compress(&a, want_map, &pa, NULL));
      assert_ok(tsr__btyd_compress(&b, want_map, &pb, NULL));
      if (!with_m) { /* b with m_x: compare on a's patterns without it */
        tsr__btyd_pat_release(&pb);
        double *mm = malloc((n + 1) * sizeof *mm);
        assert_non_null(mm);
        for (size_t i = 0; i < n; i++) mm[i] = 0;
        mm[n] = INFINITY;
        b.m_x = mm;
        assert_ok(tsr__btyd_compress(&b, want_map, &pb, NULL));
        free(mm);
      }
      assert_int_equal(pb.d.n, pa.d.n + 1);
      size_t z8 = pa.d.n * sizeof(double);
      assert_memory_equal(pa.d.x, pb.d.x, z8);
      assert_memory_equal(pa.d.t_x, pb.d.t_x, z8);
      assert_memory_equal(pa.d.T, pb.d.T, z8);
      assert_memory_equal(pa.d.weights, pb.d.weights, z8);
      if (with_m) assert_memory_equal(pa.d.m_x, pb.d.m_x, z8);
      if (want_map) assert_memory_equal(pa.map, pb.map, n * sizeof *pa.map);
      assert_true(pa.d.n > 100);
      tsr__btyd_pat_release(&pa);
      tsr__btyd_pat_release(&pb);
    }
  free(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_compress_again),
      cmocka_unit_test(test_compress_sorted_repeats),
      cmocka_unit_test(test_compress_borrows_patterns),
      cmocka_unit_test(test_patterns_equal_rows),
      cmocka_unit_test(test_clv_p_alive_cache),
      cmocka_unit_test(test_fit_loglik_unpenalized),
      cmocka_unit_test(test_compress_ranked_equals_hash),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
