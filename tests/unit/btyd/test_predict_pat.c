/*
 * test_predict_pat.c - the predictions on patterns of the model step
 * (lib/btyd/predict.c, the Pareto/NBD P(alive) per (x, t_x) and (x, T)
 * pair in lib/btyd/paretonbd.c, MBG/NBD's in lib/btyd/mbgnbd.c, the
 * CLV's shared P(alive) in lib/btyd/clv.c): every value equals the public per-customer functions
 * (tsr_btyd_conditional on the estimates and on the delta method's
 * parameter sets) bit for bit, in 1 and 2 threads, on patterns spanning
 * several blocks, with the Pareto/NBD's integral form (z > 0.99), t_x = T
 * and alpha < beta; the holdout rows with one t or several; the first
 * failing row's error; the CLV from its patterns' part made first and
 * Gamma-Gamma fitted on its patterns made first (analyze's order); the
 * part per (x, T) shared by the predictions and the CLV.
 */
#include "btyd_testutil.h"

#include <gsl/gsl_cdf.h>

#include "btyd_internal.h"

/* CDNOW's rows and shifted copies: at least 4 blocks of 4096 patterns. */
typedef struct {
  size_t n;
  double *x, *tx, *T, *m;
} rows;

static void rows_make(rows *r) {
  tu_cdnow c;
  tu_cdnow_load(&c);
  enum { COPIES = 24 };
  r->n = COPIES * c.n;
  r->x = malloc(r->n * sizeof *r->x);
  r->tx = malloc(r->n * sizeof *r->tx);
  r->T = malloc(r->n * sizeof *r->T);
  r->m = malloc(r->n * sizeof *r->m);
  for (size_t j = 0; j < COPIES; j++)
    for (size_t i = 0; i < c.n; i++) {
      size_t k = j * c.n + i;
      r->x[k] = c.x[i];
      r->T[k] = c.T[i] + 0.25 * (double)j;
      /* some copies buy on their last day (t_x = T) */
      r->tx[k] = (j == 3 && c.x[i] > 0) ? r->T[k] : c.tx[i] + (c.x[i] > 0 ? 0.125 * j : 0);
      r->m[k] = c.x[i] > 0 ? 10 + (double)(i % 37) : 0;
    }
  tu_cdnow_free(&c);
}

static void rows_free(rows *r) { free(r->x), free(r->tx), free(r->T), free(r->m); }

static void same_bits(double a, double b) {
  if (memcmp(&a, &b, sizeof a) && !(isnan(a) && isnan(b)))
    fail_msg("%.17g differs from %.17g", a, b);
}

/* Pareto/NBD P(alive) per pair = pnbd_p_alive per pattern, with the
 * integral form, t_x = T and alpha < beta among them; MBG/NBD's with its
 * logs per value = mbgnbd_p_alive */
static void test_pnbd_p_alive_sets(void **state) {
  (void)state;
  rows r;
  rows_make(&r);
  tsr_btyd_data d = {r.n, r.x, r.tx, r.T, NULL, NULL};
  tsr__btyd_pat pat;
  assert_ok(tsr__btyd_compress(&d, 0, &pat, NULL));
  size_t u = pat.d.n;
  assert_true(u > 4 * 4096);
  const tsr__btyd_spec *s = tsr__btyd_get_spec(TSR_BTYD_PNBD);
  assert_non_null(s->p_alive_sets);
  double P[4][TSR_BTYD_MAXP] = {{0.55, 10.6, 0.61, 11.7},
                                {0.55, 10.6 * 1.000001, 0.61, 11.7},
                                {0.5, 20, 0.5, 0.01}, /* z > 0.99 at small t_x */
                                {0.5, 1, 0.5, 10}};   /* alpha < beta */
  double *a = malloc(4 * u * sizeof *a), *b = malloc(4 * u * sizeof *b);
  assert_ok(s->p_alive_sets((const double(*)[TSR_BTYD_MAXP])P, 4, &pat.d, 1, a));
  assert_ok(s->p_alive_sets((const double(*)[TSR_BTYD_MAXP])P, 4, &pat.d, 2, b));
  size_t quad = 0, last = 0;
  for (size_t q = 0; q < 4; q++)
    for (size_t k = 0; k < u; k++) {
      double x = pat.d.x[k], tx = pat.d.t_x[k], T = pat.d.T[k], pa;
      double want = s->p_alive(P[q], x, tx, T, &pa) ? NAN : pa;
      same_bits(a[q * u + k], want);
      same_bits(b[q * u + k], want);
      quad += q == 2 && 19.99 / (20 + tx) > 0.99;
      last += q == 0 && tx == T && x > 0;
    }
  assert_true(quad > 100 && last > 100);
  /* MBG/NBD: the logs per x, T and t_x */
  s = tsr__btyd_get_spec(TSR_BTYD_MBGNBD);
  assert_non_null(s->p_alive_sets);
  double M[3][TSR_BTYD_MAXP] = {{1.1, 5.76, 1.62, 7.92},
                                {1.1, 5.76, 1.62 * 1.000001, 7.92},
                                {0.2, 0.5, 0.3, 40}};
  assert_ok(s->p_alive_sets((const double(*)[TSR_BTYD_MAXP])M, 3, &pat.d, 1, a));
  assert_ok(s->p_alive_sets((const double(*)[TSR_BTYD_MAXP])M, 3, &pat.d, 2, b));
  for (size_t q = 0; q < 3; q++)
    for (size_t k = 0; k < u; k++) {
      double pa;
      assert_int_equal(s->p_alive(M[q], pat.d.x[k], pat.d.t_x[k], pat.d.T[k], &pa), 0);
      same_bits(a[q * u + k], pa);
      same_bits(b[q * u + k], pa);
    }
  free(a);
  free(b);
  tsr__btyd_pat_release(&pat);
  rows_free(&r);
}

/* The model of kind k fitted on CDNOW (with the covariance). */
static void fit_cdnow(tsr_btyd_kind k, tsr_btyd_model *m) {
  tu_cdnow c;
  tu_cdnow_load(&c);
  tsr_btyd_data d = {c.n, c.x, c.tx, c.T, NULL, NULL};
  tsr_btyd_fit_opts fo;
  tsr_btyd_fit_opts_init(&fo);
  assert_ok(tsr_btyd_fit(k, &d, &fo, m, NULL));
  assert_true(m->has_cov);
  tu_cdnow_free(&c);
}

/* predict_pat, churn_pat and the kept P(alive) = the per-customer public
 * functions on the delta method's parameter sets */
static void test_predict_pat(void **state) {
  (void)state;
  static const tsr_btyd_kind kinds[3] = {TSR_BTYD_PNBD, TSR_BTYD_MBGNBD, TSR_BTYD_BGNBD};
  rows r;
  rows_make(&r);
  tsr_btyd_data d = {r.n, r.x, r.tx, r.T, NULL, NULL};
  tsr__btyd_pat pat;
  assert_ok(tsr__btyd_compress(&d, 0, &pat, NULL));
  size_t u = pat.d.n;
  const double t = 39, level = 0.9, h = 1e-6;
  for (int q = 0; q < 3; q++) {
    tsr_btyd_model m;
    fit_cdnow(kinds[q], &m);
    const tsr__btyd_spec *s = tsr__btyd_get_spec(m.kind);
    size_t np = m.np;
    /* the parameter sets as models */
    tsr_btyd_model mj[TSR_BTYD_MAXP + 1];
    for (size_t j = 0; j <= np; j++) {
      double p[TSR_BTYD_MAXP];
      memcpy(p, m.params, sizeof p);
      if (j) p[j - 1] = m.params[j - 1] * exp(h);
      assert_ok(tsr_btyd_model_init(&mj[j], m.kind, p, NULL));
    }
    double z = gsl_cdf_ugaussian_Pinv(0.5 + 0.5 * level);
    for (int nt = 1; nt <= 2; nt++) {
      double *o = malloc(4 * u * sizeof *o);
      tsr__btyd_pa keep;
      assert_ok(tsr__btyd_predict_pat(&m, &pat.d, t, level, nt, o, o + u, o + 2 * u, o + 3 * u,
                                      &keep, NULL, NULL));
      assert_non_null(keep.pa);
      assert_int_equal(keep.nsets, np + 1);
      assert_int_equal(keep.u, u);
      for (size_t k = 0; k < u; k++) {
        double x = pat.d.x[k], tx = pat.d.t_x[k], T = pat.d.T[k], E[TSR_BTYD_MAXP + 1], pa;
        for (size_t j = 0; j <= np; j++) {
          assert_ok(tsr_btyd_conditional(&mj[j], x, tx, T, t, &E[j], &pa, NULL));
          same_bits(keep.pa[j * u + k], pa);
          if (j == 0) same_bits(o[3 * u + k], pa);
        }
        same_bits(o[k], E[0]);
        double lo = E[0], hi = E[0];
        if (E[0] > 0) {
          double dl[TSR_BTYD_MAXP], v = 0;
          for (size_t j = 0; j < np; j++) dl[j] = (log(E[j + 1]) - log(E[0])) / h;
          for (size_t i = 0; i < np; i++)
            for (size_t j = 0; j < np; j++)
              v += dl[i] * dl[j] * (m.cov[i][j] / (m.params[i] * m.params[j]));
          double sd = v > 0 ? sqrt(v) : 0;
          lo = E[0] * exp(-z * sd);
          hi = E[0] * exp(z * sd);
        }
        same_bits(o[u + k], lo);
        same_bits(o[2 * u + k], hi);
      }
      /* the churn on the kept P(alive) = on its own = the public one */
      double s1, a1, d1, s2, a2, d2, s3, a3, d3, W = 0, below = 0, alive = 0, drop = 0;
      assert_ok(tsr__btyd_churn_pat(&m, &pat.d, o + 3 * u, 0.5, &s1, &a1, &d1, NULL));
      assert_ok(tsr__btyd_churn_pat(&m, &pat.d, NULL, 0.5, &s2, &a2, &d2, NULL));
      assert_ok(tsr_btyd_churn(&m, &d, 0.5, &s3, &a3, &d3, NULL));
      for (size_t k = 0; k < u; k++) {
        double x = pat.d.x[k], tx = pat.d.t_x[k], T = pat.d.T[k], w = pat.d.weights[k], e, pa;
        assert_ok(tsr_btyd_conditional(&m, x, tx, T, 0, &e, &pa, NULL));
        W += w;
        if (pa < 0.5) below += w;
        alive += w * pa;
        drop += w * pa * s->hazard(m.params, x, tx, T);
      }
      same_bits(s1, below / W), same_bits(a1, alive), same_bits(d1, drop);
      same_bits(s2, s1), same_bits(a2, a1), same_bits(d2, d1);
      same_bits(s3, s1), same_bits(a3, a1), same_bits(d3, d1);
      tsr__btyd_pa_release(&keep);
      tsr__btyd_pa_release(&keep); /* released twice: a no-op */
      free(o);
    }
  }
  tsr__btyd_pat_release(&pat);
  rows_free(&r);
}

/* the holdout predictions of rows = tsr_btyd_conditional row by row: one t
 * (per pattern) or several (per row), P(alive) given or not, 1 or 2
 * threads; a row that fails gives its error */
static void test_conditional_rows(void **state) {
  (void)state;
  static const tsr_btyd_kind kinds[2] = {TSR_BTYD_PNBD, TSR_BTYD_MBGNBD};
  rows r;
  rows_make(&r);
  size_t n = r.n;
  tsr_btyd_data d = {n, r.x, r.tx, r.T, NULL, NULL};
  tsr__btyd_pat pat;
  assert_ok(tsr__btyd_compress(&d, 1, &pat, NULL));
  size_t u = pat.d.n;
  double *t = malloc(n * sizeof *t), *out = malloc(n * sizeof *out), *pa = malloc(u * sizeof *pa);
  for (int q = 0; q < 2; q++) {
    tsr_btyd_model m;
    fit_cdnow(kinds[q], &m);
    assert_ok(tsr__btyd_predict_pat(&m, &pat.d, 1, 0.9, 1, NULL, NULL, NULL, pa, NULL, NULL, NULL));
    for (int var = 0; var < 2; var++) {
      for (size_t i = 0; i < n; i++) t[i] = var ? (double)(i % 5) * 7.5 : 39;
      for (int nt = 1; nt <= 2; nt++)
        for (int given = 0; given < 2; given++) {
          assert_ok(tsr__btyd_conditional_rows(&m, &pat, given ? pa : NULL, n, t, nt, out, NULL));
          for (size_t i = 0; i < n; i++) {
            double e;
            assert_ok(tsr_btyd_conditional(&m, r.x[i], r.tx[i], r.T[i], t[i], &e, NULL, NULL));
            same_bits(out[i], e);
          }
        }
    }
    /* a bad t: the error of that row (the first) */
    t[n / 2] = -1;
    t[n / 2 + 5] = -2;
    tsr_error e1, e2;
    assert_int_equal(tsr__btyd_conditional_rows(&m, &pat, pa, n, t, 2, out, &e1), TSR_ERANGE);
    assert_int_equal(tsr_btyd_conditional(&m, r.x[n / 2], r.tx[n / 2], r.T[n / 2], -1, NULL, NULL,
                                          &e2),
                     TSR_ERANGE);
    assert_string_equal(e1.msg, e2.msg);
  }
  free(t);
  free(out);
  free(pa);
  tsr__btyd_pat_release(&pat);
  rows_free(&r);
}

/* A Gamma-Gamma model with a covariance. */
static void spend_model(tsr_btyd_model *g) {
  static const double GG[3] = {6.25, 3.74, 15.44};
  assert_ok(tsr_btyd_model_init(g, TSR_BTYD_GG, GG, NULL));
  g->has_cov = 1;
  for (int i = 0; i < 3; i++) g->cov[i][i] = 0.01 * GG[i] * GG[i];
}

/* the CLV on the kept P(alive) in 2 threads = the public one (which
 * computes its own), also when the kept sets do not fit the intervals;
 * values as the discounted differences of tsr_btyd_conditional */
static void test_clv_shared(void **state) {
  (void)state;
  static const tsr_btyd_kind kinds[2] = {TSR_BTYD_PNBD, TSR_BTYD_MBGNBD};
  rows r;
  rows_make(&r);
  size_t n = r.n;
  tsr_btyd_data d = {n, r.x, r.tx, r.T, NULL, NULL}, dm = {n, r.x, r.tx, r.T, r.m, NULL};
  tsr__btyd_pat pat;
  assert_ok(tsr__btyd_compress(&d, 1, &pat, NULL));
  size_t u = pat.d.n;
  tsr_btyd_model g;
  spend_model(&g);
  tsr_clv_opts o = {26.0, 30.4375 / 7, 0.01, 0.9};
  double *a = malloc(3 * n * sizeof *a), *b = malloc(3 * n * sizeof *b);
  for (int q = 0; q < 2; q++) {
    tsr_btyd_model m;
    fit_cdnow(kinds[q], &m);
    assert_ok(tsr_clv_compute(&m, &g, &dm, &o, a, a + n, a + 2 * n, NULL));
    for (int fits = 0; fits < 2; fits++) {
      tsr__btyd_pa keep;
      /* level given: the sets of the intervals; else only the estimates */
      assert_ok(tsr__btyd_predict_pat(&m, &pat.d, 26, 0.9, 2, NULL, fits ? b : NULL, NULL, NULL,
                                      &keep, NULL, NULL));
      assert_int_equal(keep.nsets, fits ? m.np + 1 : 1);
      assert_ok(tsr__clv_compute_pat(&m, &g, &pat, n, r.x, r.m, sizeof(double), &o, &keep, 2, b,
                                     b + n, b + 2 * n, NULL));
      for (size_t i = 0; i < 3 * n; i++) same_bits(b[i], a[i]);
      /* x and m_x read in place from rows of a struct (as analyze reads
       * its summary's rows, issue 18): the same bits */
      struct { double m, pad, x; } *rw = malloc(n * sizeof *rw);
      for (size_t i = 0; i < n; i++) rw[i].x = r.x[i], rw[i].m = r.m[i], rw[i].pad = -7;
      memset(b, 0, 3 * n * sizeof *b);
      assert_ok(tsr__clv_compute_pat(&m, &g, &pat, n, &rw->x, &rw->m, sizeof *rw, &o, &keep, 2, b,
                                     b + n, b + 2 * n, NULL));
      for (size_t i = 0; i < 3 * n; i++) same_bits(b[i], a[i]);
      free(rw);
      tsr__btyd_pa_release(&keep);
    }
    /* the purchase part: the discounted differences of the expectations */
    for (size_t i = 0; i < n; i += 97) {
      double prev = 0, D = 0, tk, e;
      for (int k = 1; k <= 6; k++) {
        tk = fmin(k * o.step, o.horizon);
        assert_ok(tsr_btyd_conditional(&m, r.x[i], r.tx[i], r.T[i], tk, &e, NULL, NULL));
        D += (e - prev) * pow(1 + o.discount, -tk / o.step);
        prev = e;
      }
      double S;
      assert_ok(tsr_gg_expected_spend(&g, r.x[i], r.m[i], &S, NULL));
      assert_close(a[i], S * D, 1e-12);
    }
  }
  (void)u;
  free(a);
  free(b);
  tsr__btyd_pat_release(&pat);
  rows_free(&r);
}

/* the CLV from its patterns' part made first (tsr__clv_dm_make, analyze's
 * order: issue 18) in 1 and 2 threads, the patterns' columns and P(alive)
 * sets freed before the rows, = the public CLV bit for bit; the checks of
 * the models and options first as tsr__clv_compute_pat has them; options
 * the CLV rejects: not made */
static void test_clv_dm(void **state) {
  (void)state;
  static const tsr_btyd_kind kinds[3] = {TSR_BTYD_PNBD, TSR_BTYD_MBGNBD, TSR_BTYD_BGNBD};
  rows r;
  rows_make(&r);
  size_t n = r.n;
  tsr_btyd_data d = {n, r.x, r.tx, r.T, NULL, NULL}, dx = {n, r.x, r.tx, r.T, r.m, NULL};
  tsr_btyd_model g;
  spend_model(&g);
  tsr_clv_opts o = {26.0, 30.4375 / 7, 0.01, 0.9};
  double *a = malloc(3 * n * sizeof *a), *b = malloc(3 * n * sizeof *b);
  for (int q = 0; q < 3; q++) {
    tsr_btyd_model m;
    fit_cdnow(kinds[q], &m);
    assert_ok(tsr_clv_compute(&m, &g, &dx, &o, a, a + n, a + 2 * n, NULL));
    for (int th = 1; th <= 2; th++) {
      tsr__btyd_pat pat;
      assert_ok(tsr__btyd_compress(&d, 1, &pat, NULL));
      tsr__btyd_pa keep;
      assert_ok(tsr__btyd_predict_pat(&m, &pat.d, 26, 0.9, th, NULL, b, NULL, NULL, &keep, NULL, NULL));
      tsr__clv_dm dm;
      assert_int_equal(tsr__clv_dm_make(&m, &pat, &o, &keep, NULL, 1, th, &dm), 1);
      assert_int_equal(dm.st, TSR_OK);
      tsr__btyd_pa_release(&keep);
      free(pat.buf); /* the map only from here */
      pat.buf = NULL;
      pat.d = (tsr_btyd_data){pat.d.n, NULL, NULL, NULL, NULL, NULL};
      memset(b, 0, 3 * n * sizeof *b);
      assert_ok(tsr__clv_compute_dm(&m, &g, &pat, n, r.x, r.m, sizeof(double), &o, &dm, th, b,
                                    b + n, b + 2 * n, NULL));
      for (size_t i = 0; i < 3 * n; i++) same_bits(b[i], a[i]);
      /* the spend model's check first, as the CLV on the patterns */
      tsr_btyd_model bad = g;
      bad.params[1] = 0.5;
      tsr_error e;
      assert_int_equal(tsr__clv_compute_dm(&m, &bad, &pat, n, r.x, r.m, sizeof(double), &o, &dm, th,
                                           b, b + n, b + 2 * n, &e),
                       TSR_ERANGE);
      assert_string_equal(e.field, "q");
      tsr__clv_dm_release(&dm);
      assert_null(dm.DM);
      tsr__btyd_pat_release(&pat);
    }
    /* options the CLV rejects: not made (the CLV says why) */
    tsr__btyd_pat pat;
    assert_ok(tsr__btyd_compress(&d, 1, &pat, NULL));
    tsr_clv_opts ob = o;
    ob.horizon = 0;
    tsr__clv_dm dm;
    assert_int_equal(tsr__clv_dm_make(&m, &pat, &ob, NULL, NULL, 1, 1, &dm), 0);
    assert_null(dm.DM);
    ob = o;
    ob.step = 1e-9;
    assert_int_equal(tsr__clv_dm_make(&m, &pat, &ob, NULL, NULL, 1, 1, &dm), 0);
    tsr__btyd_pat_release(&pat);
  }
  free(a);
  free(b);
  rows_free(&r);
}

/* the part per (x, T) made once (tsr__btyd_xt_make, analyze's order: issue
 * 18) on patterns with many t_x per (x, T) (CDNOW's copies): its runs are
 * those of (x, T); its expectation at the horizon is cond_alive's for every
 * set bit for bit; the predictions and the CLV's patterns' part that take
 * it equal those that compute their own, in 1 and 2 threads; a horizon
 * that is not the CLV's last step, or another model: not taken, the same */
static void test_xt_shared(void **state) {
  (void)state;
  static const tsr_btyd_kind kinds[3] = {TSR_BTYD_PNBD, TSR_BTYD_MBGNBD, TSR_BTYD_BGNBD};
  rows r;
  rows_make(&r);
  size_t n = r.n;
  tsr_btyd_data d = {n, r.x, r.tx, r.T, NULL, NULL};
  tsr_clv_opts o = {26.0, 30.4375 / 7, 0.01, 0.9};
  tsr__btyd_pat pat;
  assert_ok(tsr__btyd_compress(&d, 1, &pat, NULL));
  const size_t u = pat.d.n;
  double *a = malloc(4 * u * sizeof *a), *b = malloc(4 * u * sizeof *b);
  for (int q = 0; q < 3; q++) {
    tsr_btyd_model m;
    fit_cdnow(kinds[q], &m);
    const tsr__btyd_spec *s = tsr__btyd_get_spec(m.kind);
    for (int th = 1; th <= 2; th++) {
      tsr__btyd_xt xt;
      assert_int_equal(tsr__btyd_xt_make(&m, &pat.d, &o, o.horizon, 1, th, &xt), 1);
      assert_true(xt.has_ea);
      assert_int_equal(xt.nsets, m.np + 1);
      /* the runs: one (x, T) each, a new (x, T) at each start, repeated t_x */
      assert_true(xt.nr > 100 && 2 * xt.nr < u);
      assert_int_equal(xt.start[0], 0);
      assert_int_equal(xt.start[xt.nr], u);
      double P[TSR_BTYD_MAXP + 1][TSR_BTYD_MAXP];
      tsr__btyd_param_sets(&m, m.np, P);
      size_t ok = 0;
      for (size_t rr = 0; rr < xt.nr; rr++) {
        for (size_t k = xt.start[rr]; k < xt.start[rr + 1]; k++) {
          assert_true(pat.d.x[k] == pat.d.x[xt.start[rr]] && pat.d.T[k] == pat.d.T[xt.start[rr]]);
          assert_int_equal(tsr__btyd_xt_run(&xt, k), rr);
        }
        if (rr > 0)
          assert_false(pat.d.x[xt.start[rr]] == pat.d.x[xt.start[rr] - 1] &&
                       pat.d.T[xt.start[rr]] == pat.d.T[xt.start[rr] - 1]);
        if (!xt.ea_ok[rr]) continue;
        ok++;
        for (size_t j = 0; j < xt.nsets; j++) {
          double e;
          assert_int_equal(
              s->cond_alive(P[j], pat.d.x[xt.start[rr]], pat.d.T[xt.start[rr]], o.horizon, &e), 0);
          same_bits(xt.EA[rr * xt.nsets + j], e);
        }
      }
      assert_int_equal(ok, xt.nr);
      /* the predictions with and without it (and with a model it was not
       * made for, a horizon it has not: not taken) */
      tsr_btyd_model m2 = m;
      m2.params[0] *= 1.5;
      const struct {
        const tsr_btyd_model *m;
        double t;
      } cases[3] = {{&m, o.horizon}, {&m, 39}, {&m2, o.horizon}};
      for (int c = 0; c < 3; c++) {
        tsr__btyd_pa ka, kb;
        assert_ok(tsr__btyd_predict_pat(cases[c].m, &pat.d, cases[c].t, 0.9, th, a, a + u, a + 2 * u,
                                        a + 3 * u, &ka, NULL, NULL));
        assert_ok(tsr__btyd_predict_pat(cases[c].m, &pat.d, cases[c].t, 0.9, th, b, b + u, b + 2 * u,
                                        b + 3 * u, &kb, &xt, NULL));
        for (size_t i = 0; i < 4 * u; i++) same_bits(b[i], a[i]);
        /* the CLV's part of the patterns with and without it */
        if (c != 1) {
          tsr__clv_dm da, db;
          assert_int_equal(tsr__clv_dm_make(cases[c].m, &pat, &o, &ka, NULL, 1, th, &da), 1);
          assert_int_equal(tsr__clv_dm_make(cases[c].m, &pat, &o, &kb, &xt, 1, th, &db), 1);
          assert_int_equal(da.st, TSR_OK);
          assert_int_equal(db.st, TSR_OK);
          for (size_t i = 0; i < 2 * u; i++) same_bits(db.DM[i], da.DM[i]);
          tsr__clv_dm_release(&da);
          tsr__clv_dm_release(&db);
        }
        tsr__btyd_pa_release(&ka);
        tsr__btyd_pa_release(&kb);
      }
      tsr__btyd_xt_release(&xt);
      assert_null(xt.start);
      /* a horizon that is not the last step: no expectation kept */
      tsr_clv_opts o2 = o;
      o2.step = 7;
      assert_int_equal(tsr__btyd_xt_make(&m, &pat.d, &o2, o2.horizon + 1, 1, th, &xt), 1);
      assert_false(xt.has_ea);
      for (size_t rr = 0; rr < xt.nr; rr++) assert_false(xt.ea_ok[rr]);
      tsr__btyd_xt_release(&xt);
      /* options the CLV rejects: not made */
      o2 = o;
      o2.horizon = 0;
      assert_int_equal(tsr__btyd_xt_make(&m, &pat.d, &o2, 26, 1, th, &xt), 0);
      assert_null(xt.start);
    }
  }
  free(a);
  free(b);
  tsr__btyd_pat_release(&pat);
  rows_free(&r);
}

/* Gamma-Gamma fitted on its (x, m_x) patterns made first (analyze's
 * spend step: issue 18) = fitted on the customers, bit for bit; the
 * patterns' t_x and T columns, which the data has not, are zeros */
static void test_gg_patterns(void **state) {
  (void)state;
  rows r;
  rows_make(&r);
  size_t nr = 0;
  double *gx = malloc(r.n * sizeof *gx), *gm = malloc(r.n * sizeof *gm);
  for (size_t i = 0; i < r.n; i++)
    if (r.x[i] > 0 && r.m[i] > 0)
      gx[nr] = r.x[i], gm[nr] = r.m[i] + 0.01 * (double)(i % 1000), nr++;
  tsr_btyd_data gd = {nr, gx, NULL, NULL, gm, NULL};
  tsr_btyd_fit_opts fo;
  tsr_btyd_fit_opts_init(&fo);
  tsr_btyd_model a, b;
  assert_ok(tsr_btyd_fit(TSR_BTYD_GG, &gd, &fo, &a, NULL));
  tsr__btyd_pat gp;
  assert_ok(tsr__btyd_compress(&gd, 0, &gp, NULL));
  assert_true(gp.d.n < nr);
  for (size_t k = 0; k < gp.d.n; k++) {
    same_bits(gp.d.t_x[k], 0.0);
    same_bits(gp.d.T[k], 0.0);
  }
  free(gx), free(gm);
  assert_ok(tsr_btyd_fit(TSR_BTYD_GG, &gp.d, &fo, &b, NULL));
  for (size_t j = 0; j < a.np; j++) same_bits(b.params[j], a.params[j]);
  for (size_t i = 0; i < a.np; i++)
    for (size_t j = 0; j < a.np; j++) same_bits(b.cov[i][j], a.cov[i][j]);
  same_bits(b.loglik, a.loglik);
  assert_int_equal(b.iterations, a.iterations);
  tsr__btyd_pat_release(&gp);
  /* the purchase models' patterns: m_x zeros */
  tsr_btyd_data d = {r.n, r.x, r.tx, r.T, NULL, NULL};
  assert_ok(tsr__btyd_compress(&d, 1, &gp, NULL));
  for (size_t k = 0; k < gp.d.n; k++) same_bits(gp.buf[3 * gp.d.n + k], 0.0);
  tsr__btyd_pat_release(&gp);
  rows_free(&r);
}

/* the patterns of rows read in place (analyze's summary rows: issue 18) =
 * those of the columns, map included; with a value not finite (the
 * hashing's fallback) too */
static void test_compress_rows(void **state) {
  (void)state;
  rows r;
  rows_make(&r);
  size_t n = r.n;
  struct row {
    double x, pad, tx, T;
  } *rw = malloc(n * sizeof *rw);
  for (int bad = 0; bad < 2; bad++) {
    if (bad) r.tx[n / 3] = INFINITY;
    for (size_t i = 0; i < n; i++) rw[i] = (struct row){r.x[i], -1, r.tx[i], r.T[i]};
    tsr_btyd_data d = {n, r.x, r.tx, r.T, NULL, NULL};
    tsr_btyd_data dr = {n, &rw->x, &rw->tx, &rw->T, NULL, NULL};
    tsr__btyd_pat a, b;
    assert_ok(tsr__btyd_compress(&d, 1, &a, NULL));
    assert_ok(tsr__btyd_compress_rows(&dr, sizeof *rw, 1, &b, NULL));
    assert_int_equal(a.d.n, b.d.n);
    for (size_t k = 0; k < a.d.n; k++) {
      same_bits(a.d.x[k], b.d.x[k]);
      same_bits(a.d.t_x[k], b.d.t_x[k]);
      same_bits(a.d.T[k], b.d.T[k]);
      same_bits(a.d.weights[k], b.d.weights[k]);
    }
    assert_memory_equal(a.map, b.map, n * sizeof *a.map);
    tsr__btyd_pat_release(&a);
    tsr__btyd_pat_release(&b);
  }
  free(rw);
  rows_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pnbd_p_alive_sets),
      cmocka_unit_test(test_predict_pat),
      cmocka_unit_test(test_conditional_rows),
      cmocka_unit_test(test_clv_shared),
      cmocka_unit_test(test_clv_dm),
      cmocka_unit_test(test_xt_shared),
      cmocka_unit_test(test_gg_patterns),
      cmocka_unit_test(test_compress_rows),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
