/*
 * predict.c - the predictions of a purchase model on compressed patterns
 * (btyd_internal.h): P(alive) under the parameter sets of the intervals
 * once per pattern, shared by the expected purchases and their intervals,
 * the churn, the holdout check and the CLV (lib/btyd/clv.c), in a few
 * threads; the expectation of an active customer at the horizon taken from
 * the CLV's part per (x, T) when the caller made it (tsr__btyd_xt_make). Every value is the one of the public functions (lib/btyd/btyd.c)
 * for that pattern: the same functions on the same arguments, each pattern
 * on its own, so neither the threads nor the sharing change a bit.
 */
#include "btyd_internal.h"

#include <math.h>
#include <string.h>

/* Patterns per block of the threads (a block is a few ms of work). */
#define PRED_CHUNK 4096

void tsr__btyd_param_sets(const tsr_btyd_model *m, size_t J,
                          double P[TSR_BTYD_MAXP + 1][TSR_BTYD_MAXP]) {
  if (J > TSR_BTYD_MAXP) J = TSR_BTYD_MAXP;
  for (size_t j = 0; j <= J; j++) {
    memcpy(P[j], m->params, sizeof P[j]);
    if (j > 0) P[j][j - 1] = m->params[j - 1] * exp(TSR__BTYD_DELTA_H);
  }
}

void tsr__btyd_pa_release(tsr__btyd_pa *pa) {
  if (!pa) return;
  tsr__free(pa->pa);
  memset(pa, 0, sizeof *pa);
}

/* ------------------------------------------------------------ P(alive) */

typedef struct {
  const tsr__btyd_spec *s;
  const double (*P)[TSR_BTYD_MAXP];
  size_t nsets;
  const tsr_btyd_data *d;
  double *out;
} pa_job;

static void pa_block(void *v, size_t b, size_t lo, size_t hi) {
  const pa_job *j = v;
  size_t u = j->d->n;
  (void)b;
  for (size_t k = lo; k < hi; k++)
    for (size_t q = 0; q < j->nsets; q++) {
      double pa;
      j->out[q * u + k] =
          j->s->p_alive(j->P[q], j->d->x[k], j->d->t_x[k], j->d->T[k], &pa) ? NAN : pa;
    }
}

int tsr__btyd_p_alive_sets(const tsr__btyd_spec *s, const double (*P)[TSR_BTYD_MAXP],
                           size_t nsets, const tsr_btyd_data *d, int n_threads, double *out) {
  if (d->n == 0 || nsets == 0) return 0;
  if (s->p_alive_sets) return s->p_alive_sets(P, nsets, d, n_threads, out);
  pa_job j = {s, P, nsets, d, out};
  tsr__parallel_chunks(n_threads, d->n, PRED_CHUNK, pa_block, &j);
  return 0;
}

/* ------------------------------------------------------------ predict */

typedef struct {
  const tsr__btyd_spec *s;
  const tsr_btyd_data *d;
  double (*P)[TSR_BTYD_MAXP];
  size_t J, np;
  double t, z;
  int want_int;
  double C[TSR_BTYD_MAXP][TSR_BTYD_MAXP];
  const double *pas; /* (J+1) * u P(alive), split models */
  const tsr__btyd_xt *xt; /* split: cond_alive at t per (x, T) where kept, or NULL */
  double *E, *LO, *HI, *PA;
  size_t *bad; /* per block: 1 + the first pattern that fails, or 0 */
} pred_job;

static void pred_block(void *v, size_t b, size_t lo, size_t hi) {
  const pred_job *j = v;
  const tsr__btyd_spec *s = j->s;
  const tsr_btyd_data *d = j->d;
  size_t u = d->n, J = j->J, np = j->np;
  double t = j->t;
  /* the alive-part of the expectation depends on (x, T) only: cached over
   * consecutive patterns (sorted by x, then T) */
  int split = j->pas != NULL, cvalid = 0;
  double cx = 0, cT = 0, EA[TSR_BTYD_MAXP + 1];
  const tsr__btyd_xt *xt = j->xt;
  size_t r = xt ? tsr__btyd_xt_run(xt, lo) : 0; /* the run of pattern k */
  j->bad[b] = 0;
  for (size_t k = lo; k < hi; k++) {
    double x = d->x[k], tx = d->t_x[k], T = d->T[k];
    double Ej[TSR_BTYD_MAXP + 1], pa = NAN;
    int bad = 0;
    if (xt)
      while (k >= xt->start[r + 1]) r++;
    if (split && !(cvalid && x == cx && T == cT)) {
      if (xt && xt->ea_ok[r]) /* the CLV's last step: cond_alive on the same arguments */
        memcpy(EA, xt->EA + r * xt->nsets, (J + 1) * sizeof *EA);
      else
        for (size_t q = 0; q <= J && !bad; q++) bad = s->cond_alive(j->P[q], x, T, t, &EA[q]);
      cvalid = !bad;
      cx = x;
      cT = T;
    }
    for (size_t q = 0; q <= J && !bad; q++) {
      if (split) {
        pa = j->pas[q * u + k];
        bad = isnan(pa);
        Ej[q] = pa * EA[q];
      } else {
        bad = s->conditional(j->P[q], x, tx, T, t, &Ej[q], &pa);
      }
      if (q == 0) j->PA[k] = pa;
    }
    if (bad || !isfinite(Ej[0])) {
      j->bad[b] = k + 1;
      return;
    }
    double *E = j->E, *LO = j->LO, *HI = j->HI;
    E[k] = LO[k] = HI[k] = Ej[0];
    if (j->want_int && E[k] > 0) {
      double dlog[TSR_BTYD_MAXP], var = 0;
      const double l0 = log(Ej[0]); /* once, not once per parameter: the same value */
      int ok = 1;
      for (size_t q = 0; q < np; q++) {
        ok = ok && Ej[q + 1] > 0;
        if (ok) dlog[q] = (log(Ej[q + 1]) - l0) / TSR__BTYD_DELTA_H;
      }
      if (ok) {
        for (size_t a = 0; a < np; a++)
          for (size_t c = 0; c < np; c++) var += dlog[a] * dlog[c] * j->C[a][c];
        double sd = var > 0 ? sqrt(var) : 0;
        LO[k] = E[k] * exp(-j->z * sd);
        HI[k] = E[k] * exp(j->z * sd);
      }
    }
  }
}

tsr_status tsr__btyd_predict_pat(const tsr_btyd_model *m, const tsr_btyd_data *pd, double t,
                                 double level, int n_threads, double *expected,
                                 double *expected_lo, double *expected_hi, double *p_alive,
                                 tsr__btyd_pa *keep, const tsr__btyd_xt *xt, tsr_error *err) {
  const tsr__btyd_spec *s = tsr__btyd_get_spec(m->kind);
  size_t u = pd->n, np = m->np;
  if (keep) memset(keep, 0, sizeof *keep);
  pred_job j;
  memset(&j, 0, sizeof j);
  j.s = s;
  j.d = pd;
  j.np = np;
  j.t = t;
  j.want_int = (expected_lo || expected_hi) && m->has_cov;
  j.z = tsr__btyd_zlevel(level);
  if (j.want_int)
    for (size_t a = 0; a < np; a++)
      for (size_t c = 0; c < np; c++) j.C[a][c] = m->cov[a][c] / (m->params[a] * m->params[c]);
  double P[TSR_BTYD_MAXP + 1][TSR_BTYD_MAXP];
  j.J = j.want_int ? (np > TSR_BTYD_MAXP ? TSR_BTYD_MAXP : np) : 0;
  tsr__btyd_param_sets(m, j.J, P);
  j.P = P;
  size_t nb = (u + PRED_CHUNK - 1) / PRED_CHUNK;
  int split = s->p_alive && s->cond_alive;
  /* scratch: E, LO, HI, PA of the patterns (any output may be NULL), the
   * P(alive) sets, the blocks' first failures */
  int scratch = !expected || !expected_lo || !expected_hi || !p_alive;
  /* on 2 MiB pages (tsr__malloc_big): every element is written, and a
   * fresh 4 KiB page costs ~1 us to fault in on a VM (37 MB of P(alive)
   * sets on tx1800k) */
  double *buf = scratch ? tsr__malloc_big((4 * u + 1) * sizeof *buf) : NULL;
  double *pas = split ? tsr__malloc_big(((j.J + 1) * u + 1) * sizeof *pas) : NULL;
  j.bad = tsr__malloc((nb + 1) * sizeof *j.bad);
  if ((scratch && !buf) || (split && !pas) || !j.bad ||
      (split && tsr__btyd_p_alive_sets(s, (const double(*)[TSR_BTYD_MAXP])P, j.J + 1, pd,
                                       n_threads, pas))) {
    tsr__free(buf), tsr__free(pas), tsr__free(j.bad);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  j.pas = pas;
  if (split && tsr__btyd_xt_fits(xt, m, u, j.J + 1) && xt->t == t && xt->has_ea) j.xt = xt;
  j.E = expected ? expected : buf;
  j.LO = expected_lo ? expected_lo : buf + u;
  j.HI = expected_hi ? expected_hi : buf + 2 * u;
  j.PA = p_alive ? p_alive : buf + 3 * u;
  tsr__parallel_chunks(n_threads, u, PRED_CHUNK, pred_block, &j);
  tsr_status st = TSR_OK;
  for (size_t b = 0; b < nb; b++)
    if (j.bad[b]) {
      size_t k = j.bad[b] - 1;
      st = tsr_error_set(err, TSR_ENUMERIC, NULL, 0, 0, NULL,
                         "cannot evaluate the conditional expectation at "
                         "x = %.17g, t_x = %.17g, T = %.17g",
                         pd->x[k], pd->t_x[k], pd->T[k]);
      break;
    }
  tsr__free(buf);
  tsr__free(j.bad);
  if (st == TSR_OK && keep && pas) {
    keep->u = u;
    keep->nsets = j.J + 1;
    keep->pa = pas;
  } else {
    tsr__free(pas);
  }
  return st;
}

/* ------------------------------------------------------------ churn */

tsr_status tsr__btyd_churn_pat(const tsr_btyd_model *m, const tsr_btyd_data *pd,
                               const double *pa, double threshold, double *share_below,
                               double *expected_alive, double *expected_dropouts,
                               tsr_error *err) {
  const tsr__btyd_spec *s = tsr__btyd_get_spec(m->kind);
  int split = s->p_alive && s->cond_alive;
  double *own = NULL;
  if (split && !pa) {
    /* P(alive) of the patterns under the estimates (Pareto/NBD: per pair) */
    double P[TSR_BTYD_MAXP + 1][TSR_BTYD_MAXP];
    tsr__btyd_param_sets(m, 0, P);
    if (!(own = tsr__malloc((pd->n ? pd->n : 1) * sizeof *own)) ||
        tsr__btyd_p_alive_sets(s, (const double(*)[TSR_BTYD_MAXP])P, 1, pd, 1, own)) {
      tsr__free(own);
      return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
    pa = own;
  }
  double W = 0, below = 0, alive = 0, drop = 0;
  for (size_t k = 0; k < pd->n; k++) {
    double x = pd->x[k], tx = pd->t_x[k], T = pd->T[k], w = pd->weights[k], e, p = NAN;
    int bad;
    if (split) {
      /* conditional(t = 0) = p_alive * cond_alive(t = 0), failing as it */
      p = pa[k];
      bad = isnan(p) || s->cond_alive(m->params, x, T, 0, &e) || !isfinite(p * e);
    } else {
      bad = s->conditional(m->params, x, tx, T, 0, &e, &p);
    }
    if (bad) {
      tsr__free(own);
      return tsr_error_set(err, TSR_ENUMERIC, NULL, 0, 0, NULL,
                           "cannot evaluate P(alive) at x = %.17g, t_x = "
                           "%.17g, T = %.17g",
                           x, tx, T);
    }
    W += w;
    if (p < threshold) below += w;
    alive += w * p;
    drop += w * p * s->hazard(m->params, x, tx, T);
  }
  tsr__free(own);
  if (share_below) *share_below = W > 0 ? below / W : 0;
  if (expected_alive) *expected_alive = alive;
  if (expected_dropouts) *expected_dropouts = drop;
  return TSR_OK;
}

/* ------------------------------------------------------------ holdout */

typedef struct {
  const tsr__btyd_spec *s;
  const tsr_btyd_model *m;
  const tsr__btyd_pat *pat;
  const double *pa, *t;
  double t0;    /* the t of every row (same_t) */
  int same_t;
  double *epat; /* same_t: per pattern, its prediction (NaN: fails) */
  double *out;
} cond_job;

/* The expectation of pattern k at t, NaN where conditional fails. */
static double cond_one(const cond_job *j, size_t k, double t, int *cvalid, double *cx,
                       double *cT, double *ce) {
  const tsr_btyd_data *d = &j->pat->d;
  double x = d->x[k], tx = d->t_x[k], T = d->T[k], e, pa;
  if (!(x >= 0) || !(tx >= 0) || !(T >= tx) || !isfinite(T) || !(t >= 0) || !isfinite(t))
    return NAN;
  if (!j->pa) return j->s->conditional(j->m->params, x, tx, T, t, &e, &pa) ? NAN : e;
  pa = j->pa[k];
  if (isnan(pa)) return NAN;
  if (!(cvalid && *cvalid && x == *cx && T == *cT)) {
    if (j->s->cond_alive(j->m->params, x, T, t, &e)) e = NAN;
    if (cvalid) *cvalid = 1, *cx = x, *cT = T, *ce = e;
  } else {
    e = *ce;
  }
  if (isnan(e)) return NAN;
  double v = pa * e;
  return isfinite(v) ? v : NAN;
}

static void cond_pat_block(void *v, size_t b, size_t lo, size_t hi) {
  const cond_job *j = v;
  int cvalid = 0;
  double cx = 0, cT = 0, ce = 0;
  (void)b;
  for (size_t k = lo; k < hi; k++) j->epat[k] = cond_one(j, k, j->t0, &cvalid, &cx, &cT, &ce);
}

static void cond_row_block(void *v, size_t b, size_t lo, size_t hi) {
  const cond_job *j = v;
  (void)b;
  for (size_t i = lo; i < hi; i++)
    j->out[i] = cond_one(j, j->pat->map[i], j->t[i], NULL, NULL, NULL, NULL);
}

tsr_status tsr__btyd_conditional_rows(const tsr_btyd_model *m, const tsr__btyd_pat *pat,
                                      const double *pa, size_t n, const double *t,
                                      int n_threads, double *out, tsr_error *err) {
  const tsr__btyd_spec *s = tsr__btyd_get_spec(m->kind);
  size_t u = pat->d.n;
  tsr_status st;
  cond_job j;
  memset(&j, 0, sizeof j);
  j.s = s;
  j.m = m;
  j.pat = pat;
  j.t = t;
  j.out = out;
  double *own = NULL;
  if (s->p_alive && s->cond_alive) {
    if (!pa) {
      /* P(alive) of the patterns under the estimates */
      double P[TSR_BTYD_MAXP + 1][TSR_BTYD_MAXP];
      tsr__btyd_param_sets(m, 0, P);
      if (!(own = tsr__malloc((u ? u : 1) * sizeof *own)) ||
          tsr__btyd_p_alive_sets(s, (const double(*)[TSR_BTYD_MAXP])P, 1, &pat->d, n_threads,
                                 own)) {
        tsr__free(own);
        return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      }
      pa = own;
    }
    j.pa = pa;
  }
  j.same_t = n > 0;
  for (size_t i = 1; i < n && j.same_t; i++) j.same_t = t[i] == t[0];
  if (j.same_t) {
    /* one t (the holdout of a split): per pattern, then per row */
    j.t0 = t[0];
    if (!(j.epat = tsr__malloc((u ? u : 1) * sizeof *j.epat))) {
      tsr__free(own);
      return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
    tsr__parallel_chunks(n_threads, u, PRED_CHUNK, cond_pat_block, &j);
    for (size_t i = 0; i < n; i++) out[i] = j.epat[pat->map[i]];
    tsr__free(j.epat);
  } else {
    tsr__parallel_chunks(n_threads, n, PRED_CHUNK, cond_row_block, &j);
  }
  tsr__free(own);
  /* the first row that fails: tsr_btyd_conditional's error */
  for (size_t i = 0; i < n; i++)
    if (isnan(out[i])) {
      const tsr_btyd_data *d = &pat->d;
      size_t k = pat->map[i];
      double e;
      st = tsr_btyd_conditional(m, d->x[k], d->t_x[k], d->T[k], t[i], &e, NULL, err);
      if (st != TSR_OK) return st;
      out[i] = e; /* NaN by the model itself: as the row's own call */
    }
  return TSR_OK;
}
