/*
 * test_patindex.c - the sufficient-statistics form of the fits: the index of
 * distinct values (lib/btyd/patindex.c) describes every pattern exactly, and
 * the indexed BG/NBD and Pareto/NBD log-likelihoods equal the per-pattern
 * ones (value and gradient) on CDNOW, in both Pareto/NBD branches
 * (alpha >= beta and alpha < beta) and on its integral path (z > 0.99);
 * the analytic BG/NBD and Pareto/NBD Hessians equal differences of the
 * gradient; the Pareto/NBD evaluations' workspace kept in the index changes
 * no bit.
 */
#include "btyd_testutil.h"

#include "btyd_internal.h"

typedef struct {
  tu_cdnow c;
  tsr__btyd_pat pat;
  tsr__btyd_index ix;
} fixture;

static void load(fixture *f) {
  tsr_error err;
  tu_cdnow_load(&f->c);
  tsr_btyd_data d = {f->c.n, f->c.x, f->c.tx, f->c.T, NULL, NULL};
  if (tsr__btyd_compress(&d, 0, &f->pat, &err)) fail_msg("compress: %s", err.msg);
  assert_int_equal(tsr__btyd_index_build(&f->pat.d, &f->ix), 0);
}

static void unload(fixture *f) {
  tsr__btyd_index_release(&f->ix);
  tsr__btyd_pat_release(&f->pat);
  tu_cdnow_free(&f->c);
}

/* The pairs of ix (k: number of pairs, pi: the pair of each pattern, pa,
 * pb: its numbers) are numbered in the order first seen, each its
 * patterns' pair. */
static void pairs_first_seen(const tsr__btyd_index *ix, size_t n, size_t k, const uint32_t *pi,
                             const uint32_t *pa, const uint32_t *pb, const uint32_t *a,
                             const uint32_t *b) {
  uint32_t next = 0;
  for (size_t i = 0; i < n; i++) {
    assert_true(pi[i] <= next);
    if (pi[i] == next) next++;
    assert_int_equal(pa[pi[i]], a[i]);
    assert_int_equal(pb[pi[i]], b[i]);
  }
  assert_int_equal(next, k);
  (void)ix;
}

/* The index of the patterns of d in another order (every pattern once,
 * x not in runs: the pairs by their hash), the same properties. */
static void index_shuffled(const tsr_btyd_data *d) {
  const size_t n = d->n;
  double *c = malloc(3 * n * sizeof *c), *w = malloc(n * sizeof *w);
  assert_non_null(c);
  assert_non_null(w);
  size_t step = 7919 % n ? 7919 : 7907;
  for (size_t i = 0; i < n; i++) {
    const size_t j = i * step % n;
    c[i] = d->x[j], c[n + i] = d->t_x[j], c[2 * n + i] = d->T[j], w[i] = 1;
  }
  tsr_btyd_data s = {n, c, c + n, c + 2 * n, NULL, w};
  tsr__btyd_index ix;
  assert_int_equal(tsr__btyd_index_build(&s, &ix), 0);
  int runs = 1;
  for (size_t i = 1; i < n; i++) runs &= ix.ix[i] - ix.ix[i - 1] <= 1;
  assert_false(runs);
  for (size_t i = 0; i < n; i++) {
    assert_true(ix.ux[ix.ix[i]] == s.x[i]);
    assert_true(ix.utx[ix.itx[i]] == s.t_x[i]);
    assert_true(ix.uT[ix.iT[i]] == s.T[i]);
  }
  pairs_first_seen(&ix, n, ix.nxtx, ix.ixtx, ix.xtx_x, ix.xtx_tx, ix.ix, ix.itx);
  pairs_first_seen(&ix, n, ix.nxT, ix.ixT, ix.xT_x, ix.xT_T, ix.ix, ix.iT);
  tsr__btyd_index_release(&ix);
  free(c);
  free(w);
}

/* Every pattern's values come back through its indices; pairs are those of
 * their patterns, distinct, and numbered in the order first seen (the
 * patterns sorted by x: pairs by runs of x), also on the patterns in
 * another order (pairs by their hash). */
static void index_exact(void **state) {
  (void)state;
  fixture f;
  load(&f);
  const tsr_btyd_data *d = &f.pat.d;
  const tsr__btyd_index *ix = &f.ix;
  pairs_first_seen(ix, d->n, ix->nxtx, ix->ixtx, ix->xtx_x, ix->xtx_tx, ix->ix, ix->itx);
  pairs_first_seen(ix, d->n, ix->nxT, ix->ixT, ix->xT_x, ix->xT_T, ix->ix, ix->iT);
  index_shuffled(d);
  assert_true(ix->nx > 1 && ix->nx < d->n && ix->nxtx <= d->n && ix->nxT <= d->n);
  for (size_t i = 0; i < d->n; i++) {
    assert_true(ix->ux[ix->ix[i]] == d->x[i]);
    assert_true(ix->utx[ix->itx[i]] == d->t_x[i]);
    assert_true(ix->uT[ix->iT[i]] == d->T[i]);
    assert_int_equal(ix->xtx_x[ix->ixtx[i]], ix->ix[i]);
    assert_int_equal(ix->xtx_tx[ix->ixtx[i]], ix->itx[i]);
    assert_int_equal(ix->xT_x[ix->ixT[i]], ix->ix[i]);
    assert_int_equal(ix->xT_T[ix->ixT[i]], ix->iT[i]);
  }
  for (size_t a = 0; a < ix->nxtx; a++)
    for (size_t b = a + 1; b < ix->nxtx; b++)
      assert_false(ix->xtx_x[a] == ix->xtx_x[b] && ix->xtx_tx[a] == ix->xtx_tx[b]);
  for (size_t a = 0; a < ix->nx; a++)
    for (size_t b = a + 1; b < ix->nx; b++) assert_true(ix->ux[a] != ix->ux[b]);
  printf("CDNOW: %zu patterns, %zu x, %zu t_x, %zu T, %zu (x,t_x), %zu (x,T)\n", d->n,
         ix->nx, ix->ntx, ix->nT, ix->nxtx, ix->nxT);
  unload(&f);
}

static void same_sums(const tsr__btyd_spec *s, const fixture *f, const double *p) {
  double l0, l1, g0[4], g1[4];
  assert_int_equal(s->loglik(p, &f->pat.d, &l0, g0), 0);
  assert_int_equal(s->loglik_ix(p, &f->pat.d, &f->ix, &l1, g1), 0);
  assert_close(l1, l0, 1e-12);
  for (int k = 0; k < 4; k++) assert_abs(g1[k], g0[k], 1e-9 * (1 + fabs(g0[k])));
  /* without the gradient: the same value */
  assert_int_equal(s->loglik_ix(p, &f->pat.d, &f->ix, &l1, NULL), 0);
  assert_close(l1, l0, 1e-12);
}

static void bgnbd_equal(void **state) {
  (void)state;
  fixture f;
  load(&f);
  static const double P[][4] = {{0.2426, 4.4137, 0.7930, 2.4262}, {1.5, 0.3, 3.0, 0.4},
                                {0.05, 80, 0.2, 9}};
  /* more than one of bgnbd_eval_ix's blocks of 512 patterns, the last
   * one partial */
  assert_true(f.pat.d.n > 512 && f.pat.d.n % 512 != 0);
  for (size_t k = 0; k < sizeof P / sizeof *P; k++) same_sums(&tsr__bgnbd_spec, &f, P[k]);
  unload(&f);
}

static void pnbd_equal(void **state) {
  (void)state;
  fixture f;
  load(&f);
  /* alpha >= beta, alpha < beta, and alpha >> beta (z > 0.99 at t_x = 0:
   * the integral path for some patterns, 2F1 pairs for the others) */
  static const double P[][4] = {{0.5531, 10.5763, 0.6062, 11.6715},
                                {0.5531, 12.5, 0.6062, 3.1},
                                {0.8, 300, 0.4, 0.5}};
  /* several of pnbd_eval_ix's blocks of 256 patterns, the last one
   * partial, the third parameter set with patterns of both paths in a
   * block */
  assert_true(f.pat.d.n > 2 * 256 && f.pat.d.n % 256 != 0);
  for (size_t k = 0; k < sizeof P / sizeof *P; k++) same_sums(&tsr__pnbd_spec, &f, P[k]);
  unload(&f);
}

/* The analytic Hessian of a model with eval_ix equals central differences
 * of its analytic gradient (relative step 1e-5: truncation ~1e-10, rounding
 * ~1e-11 relative to the gradient's size), and its value and gradient are
 * loglik_ix's (to gtol: Pareto/NBD's 2F1 series then run a few terms longer). */
static void same_hessian(const tsr__btyd_spec *s, const fixture *f, const double *p,
                         double gtol) {
  double l0, l1, g0[4], g1[4], H[16];
  assert_non_null(s->eval_ix);
  assert_int_equal(s->loglik_ix(p, &f->pat.d, &f->ix, &l0, g0), 0);
  assert_int_equal(s->eval_ix(p, &f->pat.d, &f->ix, &l1, g1, H), 0);
  assert_close(l1, l0, gtol);
  for (int k = 0; k < 4; k++) assert_abs(g1[k], g0[k], gtol * (1 + fabs(g0[k])));
  double gs = 0;
  for (int k = 0; k < 4; k++) gs = fmax(gs, fabs(g0[k]) * p[k]);
  for (int j = 0; j < 4; j++) {
    double q[4] = {p[0], p[1], p[2], p[3]}, gp[4], gm[4], l;
    double h = 1e-5 * p[j];
    q[j] = p[j] + h;
    assert_int_equal(s->loglik_ix(q, &f->pat.d, &f->ix, &l, gp), 0);
    q[j] = p[j] - h;
    assert_int_equal(s->loglik_ix(q, &f->pat.d, &f->ix, &l, gm), 0);
    for (int i = 0; i < 4; i++) {
      double num = (gp[i] - gm[i]) / (2 * h);
      /* in log-parameter units (what the fit and the standard errors use) */
      assert_abs(H[i * 4 + j] * p[i] * p[j], num * p[i] * p[j],
                 1e-6 * (fabs(num * p[i] * p[j]) + 1e-3 * f->c.n + gs));
      assert_true(H[i * 4 + j] == H[j * 4 + i]);
    }
  }
}

static void bgnbd_hessian(void **state) {
  (void)state;
  fixture f;
  load(&f);
  static const double P[][4] = {{0.2426, 4.4137, 0.7930, 2.4262}, {1.5, 0.3, 3.0, 0.4},
                                {0.05, 80, 0.2, 9}};
  for (size_t k = 0; k < sizeof P / sizeof *P; k++) same_hessian(&tsr__bgnbd_spec, &f, P[k], 1e-15);
  unload(&f);
}

/* The analytic Pareto/NBD Hessian (second derivatives of log 2F1 through
 * the chain rule): alpha >= beta, alpha < beta, alpha = beta (z = 0: the
 * series' limit). With alpha >> beta (the integral path for some
 * patterns) there is none: eval_ix fails with H, not without. */
static void pnbd_hessian(void **state) {
  (void)state;
  fixture f;
  load(&f);
  static const double P[][4] = {{0.5531, 10.5763, 0.6062, 11.6715},
                                {0.5531, 12.5, 0.6062, 3.1},
                                {0.5531, 11.0, 0.6062, 11.0},
                                {2.5, 3.0, 0.3, 40.0}};
  for (size_t k = 0; k < sizeof P / sizeof *P; k++) same_hessian(&tsr__pnbd_spec, &f, P[k], 1e-15);
  const double q[4] = {0.8, 300, 0.4, 0.5};
  double l, g[4], H[16];
  assert_int_equal(tsr__pnbd_spec.eval_ix(q, &f.pat.d, &f.ix, &l, g, H), -1);
  assert_int_equal(tsr__pnbd_spec.eval_ix(q, &f.pat.d, &f.ix, &l, g, NULL), 0);
  unload(&f);
}

/* tsr__hessian takes differences of the gradient where the analytic
 * Hessian fails: f = x0^2 + x0 x1 + 2 x1^2 (Hessian 2 1; 1 4) with an fdh
 * that fails right of x0 = 0. */
static int q_fdf(const double *th, void *ctx, double *f, double *g) {
  (void)ctx;
  *f = th[0] * th[0] + th[0] * th[1] + 2 * th[1] * th[1];
  if (g) g[0] = 2 * th[0] + th[1], g[1] = th[0] + 4 * th[1];
  return 0;
}
static int q_fdh(const double *th, void *ctx, double *f, double *g, double *H) {
  if (th[0] > 0) return -1;
  q_fdf(th, ctx, f, g);
  H[0] = 2, H[1] = H[2] = 1, H[3] = 4;
  return 0;
}
static void hessian_fallback(void **state) {
  (void)state;
  tsr__objective o = {2, q_fdf, NULL, q_fdh};
  double H[4];
  const double a[2] = {-1, 0.5}, b[2] = {1, 0.5};
  assert_int_equal(tsr__hessian(&o, a, NULL, H), 0);
  assert_true(H[0] == 2 && H[1] == 1 && H[3] == 4);
  assert_int_equal(tsr__hessian(&o, b, NULL, H), 0);
  assert_abs(H[0], 2, 1e-5);
  assert_abs(H[1], 1, 1e-5);
  assert_abs(H[2], 1, 1e-5);
  assert_abs(H[3], 4, 1e-5);
}

/* A gradient with a floor above grad_tol (as on hundreds of thousands of
 * patterns, where rounding keeps |g| near 1e-7) on an objective whose f no
 * longer changes at that scale: damped Newton stops at the floor in a few
 * evaluations. It used to accept zero-length steps (f + 1e-4 lam slope
 * rounds to f) for 100 steps of 33 backtracks each: 16 s on 300k customers. */
static int floor_evals;
static int floor_fdh(const double *th, void *ctx, double *f, double *g, double *H) {
  (void)ctx;
  floor_evals++;
  *f = 1000 + 0.5 * (th[0] * th[0] + th[1] * th[1]);
  for (int i = 0; i < 2; i++) g[i] = th[i] + (th[i] >= 0 ? 1e-7 : -1e-7);
  H[0] = H[3] = 1;
  H[1] = H[2] = 0;
  return 0;
}
static int floor_fdf(const double *th, void *ctx, double *f, double *g) {
  double H[4];
  return floor_fdh(th, ctx, f, g, H);
}
static void newton_floor(void **state) {
  (void)state;
  tsr__objective o = {2, floor_fdf, NULL, floor_fdh};
  double th[2] = {0.7, -1.3};
  tsr__min_result r;
  floor_evals = 0;
  assert_int_equal(tsr__minimize(&o, 1e-9, 200, TSR__MIN_NEWTON_FIRST, th, &r), TSR_OK);
  assert_true(r.converged);
  assert_true(fabs(th[0]) < 1e-6 && fabs(th[1]) < 1e-6);
  assert_true(floor_evals < 40);
}

/* pnbd_eval_ix keeps its buffers in the index's workspace across
 * evaluations: with and without the Hessian, in both branches, the
 * workspace grown or not and filled with NaN (nothing stale is read), the
 * values are bit for bit those of a fresh index. */
static void pnbd_workspace(void **state) {
  (void)state;
  fixture f;
  load(&f);
  static const double P[][4] = {{0.5531, 12.5, 0.6062, 3.1},
                                {0.5531, 10.5763, 0.6062, 11.6715},
                                {0.8, 300, 0.4, 0.5},
                                {2.5, 3.0, 0.3, 40.0}};
  static const int withH[] = {0, 1, 0, 1};
  for (int pass = 0; pass < 2; pass++)
    for (size_t k = 0; k < sizeof P / sizeof *P; k++) {
      if (pass) memset(f.ix.scratch->p, 0xff, f.ix.scratch->cap);
      tsr__btyd_index fresh;
      assert_int_equal(tsr__btyd_index_build(&f.pat.d, &fresh), 0);
      double l0, l1, g0[4], g1[4], H0[16], H1[16];
      int r0 = tsr__pnbd_spec.eval_ix(P[k], &f.pat.d, &fresh, &l0, g0, withH[k] ? H0 : NULL);
      int r1 = tsr__pnbd_spec.eval_ix(P[k], &f.pat.d, &f.ix, &l1, g1, withH[k] ? H1 : NULL);
      assert_int_equal(r0, 0);
      assert_int_equal(r1, 0);
      assert_memory_equal(&l0, &l1, sizeof l0);
      assert_memory_equal(g0, g1, sizeof g0);
      if (withH[k]) assert_memory_equal(H0, H1, sizeof H0);
      tsr__btyd_index_release(&fresh);
    }
  unload(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(index_exact),      cmocka_unit_test(bgnbd_equal),
      cmocka_unit_test(pnbd_equal),       cmocka_unit_test(bgnbd_hessian),
      cmocka_unit_test(pnbd_hessian),     cmocka_unit_test(pnbd_workspace),
      cmocka_unit_test(hessian_fallback), cmocka_unit_test(newton_floor),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
