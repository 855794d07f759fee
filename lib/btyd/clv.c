/*
 * clv.c - customer lifetime value from a BTYD model and the Gamma-Gamma
 * spend model (tessera/btyd.h, docs/models.md):
 *
 *   CLV_i = E[M_i] * sum_{k=1..K} (E_i(t_k) - E_i(t_{k-1})) / (1+d)^(t_k/step)
 *
 * where E_i(t) is the conditional expected number of purchases of customer i
 * in (T_i, T_i + t], t_k = min(k step, horizon), K = ceil(horizon/step), d
 * the discount rate per step and E[M_i] the Gamma-Gamma conditional expected
 * spend (FH13 eq. 5). This is lifetimes' customer_lifetime_value with an
 * explicit step. Intervals: delta method on log CLV with both models'
 * parameter covariances (independent fits), derivatives by forward
 * differences in the log-parameters. For BG/NBD, MBG/NBD and Pareto/NBD the
 * discounted sum factors into P(alive) times a part that depends on (x, T)
 * only, computed once per (x, T); the P(alive) of every pattern and
 * parameter set comes from the predictions (lib/btyd/predict.c) when the
 * caller kept them, and the patterns and rows run in a few threads (each
 * value computed alone: the same bits in any number of threads). The
 * patterns' part can be made first (tsr__clv_dm_make: 'tessera analyze'
 * makes it right after the predictions and frees the patterns' columns and
 * P(alive) sets before the rows' part, tsr__clv_compute_dm). Its part per
 * (x, T) can be made before the predictions (tsr__btyd_xt_make, once per
 * run of one (x, T) of the sorted patterns): its last step's expectation
 * is the predictions' at their horizon when the two horizons are one, and
 * the predictions take it from there (analyze: issue 18).
 */
#include "btyd_internal.h"

#include <math.h>
#include <string.h>

/* Discounted expected transactions of an active customer with (x, T) under
 * params P (models with the p_alive/cond_alive split): independent of t_x.
 * Returns 0, -1 when a step fails, 1 when the sum is not finite; *last
 * (unless -1): the expectation at the last step. */
static int det_alive(const tsr__btyd_spec *s, const double *P, double x,
                     double T, const tsr_clv_opts *o, double *out, double *last) {
  double prev = 0, sum = 0;
  double K = ceil(o->horizon / o->step - 1e-9);
  if (K < 1) K = 1;
  for (double k = 1; k <= K; k++) {
    double tk = fmin(k * o->step, o->horizon), e;
    if (s->cond_alive(P, x, T, tk, &e)) return -1;
    sum += (e - prev) * pow(1 + o->discount, -tk / o->step);
    prev = e;
  }
  *out = sum;
  *last = prev;
  return isfinite(sum) ? 0 : 1;
}

/* The last step's horizon (det_alive's). */
static double last_step(const tsr_clv_opts *o) {
  double K = ceil(o->horizon / o->step - 1e-9);
  if (K < 1) K = 1;
  return fmin(K * o->step, o->horizon);
}

/* Most steps det_alive_bg takes (more: det_alive). */
#define CLV_BG_STEPS 512

/* Horizons of the steps and their discount factors (det_alive's), once. */
typedef struct clv_steps {
  size_t K; /* 0: more than CLV_BG_STEPS */
  double tk[CLV_BG_STEPS], disc[CLV_BG_STEPS];
} clv_steps;

static void steps_init(const tsr_clv_opts *o, clv_steps *st) {
  double K = ceil(o->horizon / o->step - 1e-9);
  if (K < 1) K = 1;
  st->K = 0;
  if (K > CLV_BG_STEPS) return;
  for (double k = 1; k <= K; k++, st->K++) {
    st->tk[st->K] = fmin(k * o->step, o->horizon);
    st->disc[st->K] = pow(1 + o->discount, -st->tk[st->K] / o->step);
  }
}

/* det_alive for BG/NBD and MBG/NBD: every step's expectation at once
 * (tsr__bgnbd_cond_alive_many, the same values), summed as det_alive does;
 * e: K doubles of scratch. Returns and *last as det_alive. */
static int det_alive_bg(tsr_btyd_kind kind, const double *P, double x, double T,
                        const clv_steps *st, double *e, double *out, double *last) {
  double B = kind == TSR_BTYD_MBGNBD ? P[3] + x + 1 : P[3] + x;
  if (tsr__bgnbd_cond_alive_many(P[2], B, P[0] + x, P[1] + T, st->tk, st->K, e)) return -1;
  double prev = 0, sum = 0;
  for (size_t i = 0; i < st->K; i++) {
    sum += (e[i] - prev) * st->disc[i];
    prev = e[i];
  }
  *out = sum;
  *last = prev;
  return isfinite(sum) ? 0 : 1;
}

/* Discounted expected transactions of one pattern under params P. */
static int det(const tsr__btyd_spec *s, const double *P, double x, double tx,
               double T, const tsr_clv_opts *o, double *out) {
  double prev = 0, sum = 0, pa;
  double K = ceil(o->horizon / o->step - 1e-9);
  if (K < 1) K = 1;
  for (double k = 1; k <= K; k++) {
    double tk = fmin(k * o->step, o->horizon), e;
    if (s->conditional(P, x, tx, T, tk, &e, &pa)) return -1;
    sum += (e - prev) * pow(1 + o->discount, -tk / o->step);
    prev = e;
  }
  *out = sum;
  return isfinite(sum) ? 0 : -1;
}

/* GG conditional expected spend (FH13 eq. 5) under params P. */
static double spend(const double *P, double x, double m) {
  if (x <= 0) return P[0] * P[2] / (P[1] - 1);
  return P[0] * (P[2] + x * m) / (P[0] * x + P[1] - 1);
}

/* Variance of log f by the delta method: dlog[j] = d log f / d log p_j. */
static double delta_var(const tsr_btyd_model *m, const double *dlog) {
  double v = 0;
  for (size_t i = 0; i < m->np; i++)
    for (size_t j = 0; j < m->np; j++)
      v += dlog[i] * dlog[j] * m->cov[i][j] / (m->params[i] * m->params[j]);
  return v > 0 ? v : 0;
}

/* The checks of the models and options (both entry points). */
static tsr_status clv_check(const tsr_btyd_model *m, const tsr_btyd_model *gg,
                            const tsr_clv_opts *o, int want, tsr_error *err) {
  tsr_status st;
  if (m->kind == TSR_BTYD_GG)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "model",
                         "expected a purchase model, got gamma-gamma");
  if (gg->kind != TSR_BTYD_GG)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "spend",
                         "expected a gamma-gamma model, got %s",
                         tsr_btyd_kind_name(gg->kind));
  if ((st = tsr_btyd_check_params(m->kind, m->params, err)) ||
      (st = tsr_btyd_check_params(gg->kind, gg->params, err)))
    return st;
  if (!(gg->params[1] > 1))
    return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "q",
                         "expected q > 1 for a finite mean spend, got %.17g",
                         gg->params[1]);
  if (!(o->horizon > 0) || !isfinite(o->horizon))
    return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "horizon",
                         "expected a finite value > 0, got %.17g", o->horizon);
  if (!(o->step > 0) || !isfinite(o->step) || o->horizon / o->step > 10000)
    return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "step",
                         "expected a value > 0 with at most 10000 steps in the "
                         "horizon, got %.17g",
                         o->step);
  if (!(o->discount >= 0) || !isfinite(o->discount))
    return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "discount",
                         "expected a finite value >= 0, got %.17g",
                         o->discount);
  if (want && !(o->level > 0 && o->level < 1))
    return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "level",
                         "expected a value in (0, 1), got %.17g", o->level);
  return TSR_OK;
}

/* The mean spend of every repeat customer (x > 0). */
/* Row i's value of a column of rows stride bytes apart (sizeof(double):
 * an array). */
#define ROW_AT(p, i, stride) (*(const double *)((const char *)(p) + (i) * (stride)))

static tsr_status check_spend(size_t n, const double *x, const double *m_x, size_t stride,
                              tsr_error *err) {
  if (!m_x)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "monetary_value",
                         "the clv needs the mean spend of every customer");
  for (size_t i = 0; i < n; i++) {
    double mv = ROW_AT(m_x, i, stride);
    if (ROW_AT(x, i, stride) > 0 && !(mv >= 0 && isfinite(mv)))
      return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "monetary_value",
                           "row %zu: expected a finite value >= 0, got %.17g",
                           i + 1, mv);
  }
  return TSR_OK;
}

/* Patterns or rows per block of the threads. */
#define CLV_CHUNK 4096

typedef struct {
  const tsr_btyd_model *m, *gg;
  const tsr__btyd_spec *s;
  const tsr__btyd_pat *pat;
  const double *xr, *m_x;
  size_t stride; /* bytes from one row's xr (m_x) to the next's */
  const tsr_clv_opts *o;
  double (*P)[TSR_BTYD_MAXP];
  size_t J;
  int split, want;
  double z;
  const double *pas; /* split: P(alive) of the patterns under P[j], (J+1) u */
  double *DM; /* per pattern k: D0 at 2k, MV at 2k + 1 (one cache line for
                the rows, which visit the patterns in no order) */
  double (*GP)[TSR_BTYD_MAXP];
  double gv0; /* the spend model's log-variance at x = 0 (spend() ignores m there) */
  double *clv, *clv_lo, *clv_hi;
  size_t *bad; /* per block: 1 + the first pattern that fails, or 0 */
  int bg;       /* BG/NBD or MBG/NBD: det_alive_bg on the steps */
  clv_steps st;
  const tsr__btyd_xt *xt; /* split: the discounted purchases per (x, T), or NULL */
} clv_job;

/* Per pattern: the discounted purchases D0 and the purchase model's part
 * of the log-variance MV (-1: none). */
static void clv_pat_block(void *v, size_t b, size_t lo, size_t hi) {
  const clv_job *c = v;
  const tsr__btyd_spec *s = c->s;
  const tsr_btyd_model *m = c->m;
  const tsr_btyd_data *d = &c->pat->d;
  size_t u = d->n, J = c->J;
  /* the active-customer part depends on (x, T) only: cached over
   * consecutive patterns (sorted by x, then T) */
  int cvalid = 0;
  double cx = 0, cT = 0, DA[TSR_BTYD_MAXP + 1];
  double e[CLV_BG_STEPS]; /* det_alive_bg's scratch */
  const tsr__btyd_xt *xt = c->xt;
  size_t r = xt ? tsr__btyd_xt_run(xt, lo) : 0; /* the run of pattern k */
  c->bad[b] = 0;
  for (size_t k = lo; k < hi; k++) {
    double x = d->x[k], tx = d->t_x[k], T = d->T[k];
    double Dj[TSR_BTYD_MAXP + 1], pa, last;
    int bad = 0;
    if (xt)
      while (k >= xt->start[r + 1]) r++;
    if (c->split && !(cvalid && x == cx && T == cT)) {
      if (xt) /* made by det_alive(_bg) on the same arguments: NaN where it failed */
        for (size_t j = 0; j <= J && !bad; j++) bad = isnan(DA[j] = xt->DA[r * xt->nsets + j]);
      else
        for (size_t j = 0; j <= J && !bad; j++)
          bad = c->bg ? det_alive_bg(m->kind, c->P[j], x, T, &c->st, e, &DA[j], &last)
                      : det_alive(s, c->P[j], x, T, c->o, &DA[j], &last);
      cvalid = !bad;
      cx = x;
      cT = T;
    }
    for (size_t j = 0; j <= J && !bad; j++) {
      if (c->split) {
        pa = c->pas[j * u + k];
        bad = isnan(pa);
        Dj[j] = pa * DA[j];
      } else {
        bad = det(s, c->P[j], x, tx, T, c->o, &Dj[j]);
      }
    }
    if (bad) {
      c->bad[b] = k + 1;
      return;
    }
    c->DM[2 * k] = Dj[0];
    c->DM[2 * k + 1] = -1;
    if (J > 0) {
      double dl[TSR_BTYD_MAXP];
      const double l0 = log(Dj[0]); /* once, not once per parameter: the same value */
      int ok = 1;
      for (size_t j = 0; j < m->np && ok; j++) {
        ok = Dj[j + 1] > 0;
        if (ok) dl[j] = (log(Dj[j + 1]) - l0) / TSR__BTYD_DELTA_H;
      }
      if (ok) c->DM[2 * k + 1] = delta_var(m, dl);
    }
  }
}

/* Per row: the spend part and the CLV. */
static void clv_row_block(void *v, size_t b, size_t lo, size_t hi) {
  const clv_job *c = v;
  const tsr_btyd_model *gg = c->gg;
  (void)b;
  const size_t *map = c->pat->map;
  for (size_t i = lo; i < hi; i++) {
    if (i + 16 < hi) __builtin_prefetch(c->DM + 2 * map[i + 16]);
    size_t k = map[i];
    double x = ROW_AT(c->xr, i, c->stride), mx = ROW_AT(c->m_x, i, c->stride);
    const double D0 = c->DM[2 * k], MV = c->DM[2 * k + 1];
    double S = spend(gg->params, x, mx), V = S * D0, LO = V, HI = V;
    if (c->want && V > 0) {
      double var = 0, dl[TSR_BTYD_MAXP] = {0};
      if (MV >= 0) var += MV;
      if (gg->has_cov && x <= 0) {
        var += c->gv0; /* the spend part of every one-time buyer: once */
      } else if (gg->has_cov) {
        double lS = log(S);
        for (size_t j = 0; j < 3; j++) {
          double sp = spend(c->GP[j], x, mx);
          dl[j] = sp > 0 ? (log(sp) - lS) / TSR__BTYD_DELTA_H : 0;
        }
        var += delta_var(gg, dl);
      }
      LO = V * exp(-c->z * sqrt(var));
      HI = V * exp(c->z * sqrt(var));
    }
    if (c->clv) c->clv[i] = V;
    if (c->clv_lo) c->clv_lo[i] = LO;
    if (c->clv_hi) c->clv_hi[i] = HI;
  }
}

/* The purchase part of every pattern of pat (c->DM, 2u doubles, owned
 * by the caller on TSR_OK): c's model, options and intervals set here; pa:
 * the P(alive) sets of the patterns (NULL or not those of the intervals:
 * computed). The error of the first pattern that fails as the CLV gives
 * it. */
static tsr_status clv_pat_part(clv_job *c, const tsr_btyd_model *m, const tsr__btyd_pat *pat,
                               const tsr_clv_opts *o, const tsr__btyd_pa *pa,
                               const tsr__btyd_xt *xt, int want, int n_threads, tsr_error *err) {
  const tsr__btyd_spec *s = tsr__btyd_get_spec(m->kind);
  size_t u = pat->d.n;
  memset(c, 0, sizeof *c);
  c->m = m, c->s = s, c->pat = pat, c->o = o;
  c->z = tsr__btyd_zlevel(o->level);
  c->want = want;
  /* parameter sets: 0 = estimates, j+1 = p_j e^h (forward differences in
   * the log-parameters for the delta method) */
  c->J = (c->want && m->has_cov) ? m->np : 0;
  if (c->J > TSR_BTYD_MAXP) c->J = TSR_BTYD_MAXP;
  double P[TSR_BTYD_MAXP + 1][TSR_BTYD_MAXP];
  tsr__btyd_param_sets(m, c->J, P);
  c->P = P;
  c->split = s->p_alive && s->cond_alive;
  steps_init(o, &c->st);
  c->bg = c->split && c->st.K > 0 && (m->kind == TSR_BTYD_BGNBD || m->kind == TSR_BTYD_MBGNBD);
  if (c->split && tsr__btyd_xt_fits(xt, m, u, c->J + 1) && xt->o.horizon == o->horizon &&
      xt->o.step == o->step && xt->o.discount == o->discount)
    c->xt = xt;
  size_t nb = (u + CLV_CHUNK - 1) / CLV_CHUNK;
  /* per pattern: D0 and MV */
  c->DM = tsr__malloc_big(2 * (u ? u : 1) * sizeof *c->DM); /* every element written */
  c->bad = tsr__malloc((nb + 1) * sizeof *c->bad);
  double *own = NULL;
  int mem = !c->DM || !c->bad;
  if (!mem && c->split) {
    if (pa && pa->pa && pa->u == u && pa->nsets == c->J + 1) {
      c->pas = pa->pa;
    } else {
      own = tsr__malloc_big(((c->J + 1) * u + 1) * sizeof *own);
      mem = !own || tsr__btyd_p_alive_sets(s, (const double(*)[TSR_BTYD_MAXP])P, c->J + 1, &pat->d,
                                           n_threads, own);
      c->pas = own;
    }
  }
  if (mem) {
    tsr__free(c->DM), tsr__free(c->bad), tsr__free(own);
    c->DM = NULL;
    c->bad = NULL;
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  tsr__parallel_chunks(n_threads, u, CLV_CHUNK, clv_pat_block, c);
  tsr__free(own);
  c->pas = NULL;
  c->P = NULL;
  tsr_status st = TSR_OK;
  for (size_t b = 0; b < nb; b++)
    if (c->bad[b]) {
      const tsr_btyd_data *d = &pat->d;
      size_t k = c->bad[b] - 1;
      st = tsr_error_set(err, TSR_ENUMERIC, NULL, 0, 0, NULL,
                         "cannot evaluate the clv at x = %.17g, t_x = "
                         "%.17g, T = %.17g",
                         d->x[k], d->t_x[k], d->T[k]);
      break;
    }
  tsr__free(c->bad);
  c->bad = NULL;
  if (st != TSR_OK) {
    tsr__free(c->DM);
    c->DM = NULL;
  }
  return st;
}

/* The CLV of rows (x[i], m_x[i]) of the patterns pat->map[i] from the
 * patterns' part c->DM (clv_pat_part's): the spend part per row. */
static void clv_rows(clv_job *c, const tsr_btyd_model *gg, const tsr__btyd_pat *pat, size_t n,
                     const double *xr, const double *m_x, size_t stride, int n_threads, double *clv,
                     double *clv_lo, double *clv_hi) {
  c->gg = gg, c->pat = pat, c->xr = xr, c->m_x = m_x;
  c->stride = stride;
  c->clv = clv, c->clv_lo = clv_lo, c->clv_hi = clv_hi;
  /* the spend model's parameter sets of the differences, once */
  double GP[3][TSR_BTYD_MAXP];
  for (size_t j = 0; j < 3; j++) {
    memcpy(GP[j], gg->params, sizeof GP[j]);
    GP[j][j] = gg->params[j] * exp(TSR__BTYD_DELTA_H);
  }
  c->GP = GP;
  if (gg->has_cov) {
    /* clv_row_block's spend part for x = 0, the same operations */
    double S0 = spend(gg->params, 0, 0), lS = log(S0), dl[TSR_BTYD_MAXP] = {0};
    for (size_t j = 0; j < 3; j++) {
      double sp = spend(GP[j], 0, 0);
      dl[j] = sp > 0 ? (log(sp) - lS) / TSR__BTYD_DELTA_H : 0;
    }
    c->gv0 = delta_var(gg, dl);
  }
  tsr__parallel_chunks(n_threads, n, CLV_CHUNK, clv_row_block, c);
  c->GP = NULL;
}

/* The CLV of rows (x[i], m_x[i]) of the patterns pat (pat->map[i]): the
 * purchase part once per (x, t_x, T) pattern, the spend part per row; pa:
 * the P(alive) sets of the patterns (NULL or not those of the intervals:
 * computed). */
static tsr_status clv_core(const tsr_btyd_model *m, const tsr_btyd_model *gg,
                           const tsr__btyd_pat *pat, size_t n, const double *xr, const double *m_x,
                           size_t stride, const tsr_clv_opts *o, const tsr__btyd_pa *pa,
                           int n_threads, double *clv, double *clv_lo, double *clv_hi,
                           tsr_error *err) {
  clv_job c;
  tsr_status st = clv_pat_part(&c, m, pat, o, pa, NULL, clv_lo || clv_hi, n_threads, err);
  if (st != TSR_OK) return st;
  clv_rows(&c, gg, pat, n, xr, m_x, stride, n_threads, clv, clv_lo, clv_hi);
  tsr__free(c.DM);
  return TSR_OK;
}

/* The options and the purchase model as clv_check takes them (else the
 * CLV fails on them before its patterns, and its steps may be many). */
static int dm_opts_ok(const tsr_btyd_model *m, const tsr_clv_opts *o, int want) {
  return m && o && m->kind != TSR_BTYD_GG &&
         tsr_btyd_check_params(m->kind, m->params, NULL) == TSR_OK && o->horizon > 0 &&
         isfinite(o->horizon) && o->step > 0 && isfinite(o->step) &&
         o->horizon / o->step <= 10000 && o->discount >= 0 && isfinite(o->discount) &&
         (!want || (o->level > 0 && o->level < 1));
}

int tsr__clv_dm_make(const tsr_btyd_model *m, const tsr__btyd_pat *pat, const tsr_clv_opts *o,
                     const tsr__btyd_pa *pa, const tsr__btyd_xt *xt, int want, int n_threads,
                     tsr__clv_dm *dm) {
  memset(dm, 0, sizeof *dm);
  if (!pat || !dm_opts_ok(m, o, want)) return 0;
  clv_job c;
  dm->u = pat->d.n;
  dm->want = want;
  dm->st = clv_pat_part(&c, m, pat, o, pa, xt, want, n_threads, &dm->err);
  dm->DM = c.DM;
  return 1;
}

/* ------------------------------------------------------------ per (x, T) */

typedef struct xt_job {
  const tsr__btyd_spec *s;
  tsr_btyd_kind kind;
  const tsr_btyd_data *d;
  const tsr_clv_opts *o;
  const double (*P)[TSR_BTYD_MAXP];
  int bg;
  clv_steps st;
  tsr__btyd_xt *xt;
} xt_job;

/* Runs per block of the threads (a run is 5 x 12 series on tx1800k). */
#define XT_CHUNK 32

/* The runs lo..hi: every set's det_alive (clv_pat_block's call) and its
 * last step. */
static void xt_block(void *v, size_t b, size_t lo, size_t hi) {
  const xt_job *j = v;
  tsr__btyd_xt *xt = j->xt;
  const size_t ns = xt->nsets;
  double e[CLV_BG_STEPS]; /* det_alive_bg's scratch */
  (void)b;
  for (size_t r = lo; r < hi; r++) {
    const size_t k = xt->start[r];
    const double x = j->d->x[k], T = j->d->T[k];
    int ok = xt->has_ea;
    for (size_t q = 0; q < ns; q++) {
      double da = NAN, last = NAN;
      int rc = j->bg ? det_alive_bg(j->kind, j->P[q], x, T, &j->st, e, &da, &last)
                     : det_alive(j->s, j->P[q], x, T, j->o, &da, &last);
      xt->DA[r * ns + q] = rc == 0 ? da : NAN;
      xt->EA[r * ns + q] = last;
      ok = ok && rc != -1;
    }
    xt->ea_ok[r] = (unsigned char)ok;
  }
}

int tsr__btyd_xt_make(const tsr_btyd_model *m, const tsr_btyd_data *d, const tsr_clv_opts *o,
                      double t, int want, int n_threads, tsr__btyd_xt *xt) {
  memset(xt, 0, sizeof *xt);
  if (!d || !dm_opts_ok(m, o, want) || d->n == 0 || !d->x || !d->T) return 0;
  const tsr__btyd_spec *s = tsr__btyd_get_spec(m->kind);
  if (!s || !s->p_alive || !s->cond_alive) return 0;
  const size_t u = d->n;
  size_t nr = 1;
  for (size_t k = 1; k < u; k++) nr += !(d->x[k] == d->x[k - 1] && d->T[k] == d->T[k - 1]);
  /* the CLV's parameter sets (clv_pat_part) */
  size_t J = (want && m->has_cov) ? m->np : 0;
  if (J > TSR_BTYD_MAXP) J = TSR_BTYD_MAXP;
  xt->u = u, xt->nr = nr, xt->nsets = J + 1;
  xt->kind = m->kind;
  memcpy(xt->params, m->params, sizeof xt->params);
  xt->o = *o;
  xt->t = t;
  xt->has_ea = last_step(o) == t;
  xt->start = tsr__malloc((nr + 1) * sizeof *xt->start);
  xt->DA = tsr__malloc(2 * nr * xt->nsets * sizeof *xt->DA);
  xt->ea_ok = tsr__malloc(nr);
  if (!xt->start || !xt->DA || !xt->ea_ok) {
    tsr__btyd_xt_release(xt);
    return 0;
  }
  xt->EA = xt->DA + nr * xt->nsets;
  nr = 0;
  xt->start[nr++] = 0;
  for (size_t k = 1; k < u; k++)
    if (!(d->x[k] == d->x[k - 1] && d->T[k] == d->T[k - 1])) xt->start[nr++] = k;
  xt->start[nr] = u;
  double P[TSR_BTYD_MAXP + 1][TSR_BTYD_MAXP];
  tsr__btyd_param_sets(m, J, P);
  xt_job j;
  memset(&j, 0, sizeof j);
  j.s = s, j.kind = m->kind, j.d = d, j.o = o;
  j.P = (const double(*)[TSR_BTYD_MAXP])P;
  steps_init(o, &j.st);
  j.bg = j.st.K > 0 && (m->kind == TSR_BTYD_BGNBD || m->kind == TSR_BTYD_MBGNBD);
  j.xt = xt;
  tsr__parallel_chunks(n_threads, nr, XT_CHUNK, xt_block, &j);
  return 1;
}

void tsr__btyd_xt_release(tsr__btyd_xt *xt) {
  if (!xt) return;
  tsr__free(xt->start);
  tsr__free(xt->DA); /* EA is its second half */
  tsr__free(xt->ea_ok);
  memset(xt, 0, sizeof *xt);
}

int tsr__btyd_xt_fits(const tsr__btyd_xt *xt, const tsr_btyd_model *m, size_t u, size_t nsets) {
  return xt && xt->start && xt->u == u && xt->nsets >= nsets && xt->kind == m->kind &&
         !memcmp(xt->params, m->params, sizeof xt->params);
}

size_t tsr__btyd_xt_run(const tsr__btyd_xt *xt, size_t k) {
  size_t lo = 0, hi = xt->nr; /* the last run whose start <= k */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (xt->start[mid] <= k) lo = mid;
    else hi = mid;
  }
  return lo;
}

void tsr__clv_dm_release(tsr__clv_dm *dm) {
  if (!dm) return;
  tsr__free(dm->DM);
  memset(dm, 0, sizeof *dm);
}

/* The arguments' and models' checks of the CLV of rows of patterns (both
 * entry points, in this order). */
static tsr_status pat_checks(const tsr_btyd_model *m, const tsr_btyd_model *gg,
                             const tsr__btyd_pat *pat, size_t n, const double *x, const double *m_x,
                             size_t stride, const tsr_clv_opts *o, int want, tsr_error *err) {
  tsr_status st;
  if (!m || !gg || !pat || !pat->map || !x || !o)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "missing argument");
  if ((st = clv_check(m, gg, o, want, err)) || (st = check_spend(n, x, m_x, stride, err)))
    return st;
  return TSR_OK;
}

tsr_status tsr__clv_compute_dm(const tsr_btyd_model *m, const tsr_btyd_model *gg,
                               const tsr__btyd_pat *pat, size_t n, const double *x,
                               const double *m_x, size_t stride, const tsr_clv_opts *o,
                               const tsr__clv_dm *dm, int n_threads, double *clv, double *clv_lo,
                               double *clv_hi, tsr_error *err) {
  tsr_status st;
  if (!dm) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "missing argument");
  if ((st = pat_checks(m, gg, pat, n, x, m_x, stride, o, clv_lo || clv_hi, err))) return st;
  if (dm->st != TSR_OK) {
    if (err) *err = dm->err;
    return dm->st;
  }
  if (!dm->DM || dm->u != pat->d.n || dm->want != (clv_lo || clv_hi))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "the patterns' part of the clv is not of these patterns");
  clv_job c;
  memset(&c, 0, sizeof c);
  c.m = m;
  c.z = tsr__btyd_zlevel(o->level);
  c.want = dm->want;
  c.DM = dm->DM;
  clv_rows(&c, gg, pat, n, x, m_x, stride, n_threads, clv, clv_lo, clv_hi);
  return TSR_OK;
}

tsr_status tsr__clv_compute_pat(const tsr_btyd_model *m, const tsr_btyd_model *gg,
                                const tsr__btyd_pat *pat, size_t n, const double *x,
                                const double *m_x, size_t stride, const tsr_clv_opts *o,
                                const tsr__btyd_pa *pa, int n_threads, double *clv, double *clv_lo,
                                double *clv_hi, tsr_error *err) {
  tsr_status st;
  if ((st = pat_checks(m, gg, pat, n, x, m_x, stride, o, clv_lo || clv_hi, err))) return st;
  return clv_core(m, gg, pat, n, x, m_x, stride, o, pa, n_threads, clv, clv_lo, clv_hi, err);
}

tsr_status tsr_clv_compute(const tsr_btyd_model *m, const tsr_btyd_model *gg,
                           const tsr_btyd_data *d, const tsr_clv_opts *o,
                           double *clv, double *clv_lo, double *clv_hi,
                           tsr_error *err) {
  tsr_status st;
  if (!m || !gg || !d || !o)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "missing argument");
  if ((st = clv_check(m, gg, o, clv_lo || clv_hi, err))) return st;
  if (!d->m_x) return check_spend(d->n, d->x, NULL, sizeof(double), err);
  tsr_btyd_data dd = *d;
  dd.weights = NULL;
  dd.m_x = NULL;
  if ((st = tsr_btyd_check_data(m->kind, &dd, err)) ||
      (st = check_spend(d->n, d->x, d->m_x, sizeof(double), err)))
    return st;
  /* the purchase part per (x, t_x, T) pattern (0.94M of 1.8M customers;
   * 1.59M with the spend, as the patterns were) */
  tsr__btyd_pat pat;
  if ((st = tsr__btyd_compress(&dd, 1, &pat, err))) return st;
  st = clv_core(m, gg, &pat, d->n, d->x, d->m_x, sizeof(double), o, NULL, 1, clv, clv_lo, clv_hi,
                err);
  tsr__btyd_pat_release(&pat);
  return st;
}
