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
 * only, computed once per (x, T).
 */
#include "btyd_internal.h"

#include <math.h>
#include <string.h>

/* Discounted expected transactions of an active customer with (x, T) under
 * params P (models with the p_alive/cond_alive split): independent of t_x. */
static int det_alive(const tsr__btyd_spec *s, const double *P, double x,
                     double T, const tsr_clv_opts *o, double *out) {
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
  return isfinite(sum) ? 0 : -1;
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

tsr_status tsr_clv_compute(const tsr_btyd_model *m, const tsr_btyd_model *gg,
                           const tsr_btyd_data *d, const tsr_clv_opts *o,
                           double *clv, double *clv_lo, double *clv_hi,
                           tsr_error *err) {
  tsr_status st;
  if (!m || !gg || !d || !o)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "missing argument");
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
  if ((clv_lo || clv_hi) && !(o->level > 0 && o->level < 1))
    return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "level",
                         "expected a value in (0, 1), got %.17g", o->level);
  if (!d->m_x)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "monetary_value",
                         "the clv needs the mean spend of every customer");
  tsr_btyd_data dd = *d;
  dd.weights = NULL;
  dd.m_x = NULL;
  if ((st = tsr_btyd_check_data(m->kind, &dd, err))) return st;
  for (size_t i = 0; i < d->n; i++)
    if (d->x[i] > 0 && !(d->m_x[i] >= 0 && isfinite(d->m_x[i])))
      return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "monetary_value",
                           "row %zu: expected a finite value >= 0, got %.17g",
                           i + 1, d->m_x[i]);
  dd.m_x = d->m_x;
  tsr__btyd_pat pat;
  if ((st = tsr__btyd_compress(&dd, 1, &pat, err))) return st;
  const tsr__btyd_spec *s = tsr__btyd_get_spec(m->kind);
  size_t u = pat.d.n;
  double *V = tsr__malloc(3 * u * sizeof *V);
  if (!V) {
    tsr__btyd_pat_release(&pat);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  double *LO = V + u, *HI = LO + u;
  double z = tsr__btyd_zlevel(o->level);
  int want = (clv_lo || clv_hi);
  /* parameter sets: 0 = estimates, j+1 = p_j e^h (forward differences in
   * the log-parameters for the delta method) */
  const double h = 1e-6;
  size_t J = (want && m->has_cov) ? m->np : 0;
  if (J > TSR_BTYD_MAXP) J = TSR_BTYD_MAXP;
  double P[TSR_BTYD_MAXP + 1][TSR_BTYD_MAXP];
  for (size_t j = 0; j <= J; j++) {
    memcpy(P[j], m->params, sizeof P[j]);
    if (j > 0) P[j][j - 1] = m->params[j - 1] * exp(h);
  }
  /* the active-customer part depends on (x, T) only: cached over
   * consecutive patterns (sorted by x, then T) */
  int split = s->p_alive && s->cond_alive, cvalid = 0;
  double cx = 0, cT = 0, DA[TSR_BTYD_MAXP + 1];
  /* P(alive) depends on (x, t_x, T), not on the spend: cached over
   * consecutive patterns (sorted by x, T, t_x, then m_x) */
  int pvalid = 0;
  double ptx = 0, PA[TSR_BTYD_MAXP + 1];
  for (size_t k = 0; k < u; k++) {
    double x = pat.d.x[k], tx = pat.d.t_x[k], T = pat.d.T[k], mx = pat.d.m_x[k];
    double Dj[TSR_BTYD_MAXP + 1], S = spend(gg->params, x, mx);
    int bad = 0;
    if (split && !(cvalid && x == cx && T == cT)) {
      for (size_t j = 0; j <= J && !bad; j++) bad = det_alive(s, P[j], x, T, o, &DA[j]);
      cvalid = !bad;
      pvalid = 0;
      cx = x;
      cT = T;
    }
    if (split && !bad && !(pvalid && tx == ptx)) {
      for (size_t j = 0; j <= J && !bad; j++) bad = s->p_alive(P[j], x, tx, T, &PA[j]);
      pvalid = !bad;
      ptx = tx;
    }
    for (size_t j = 0; j <= J && !bad; j++) {
      if (split) {
        Dj[j] = PA[j] * DA[j];
      } else {
        bad = det(s, P[j], x, tx, T, o, &Dj[j]);
      }
    }
    if (bad) {
      tsr__free(V);
      tsr__btyd_pat_release(&pat);
      return tsr_error_set(err, TSR_ENUMERIC, NULL, 0, 0, NULL,
                           "cannot evaluate the clv at x = %.17g, t_x = "
                           "%.17g, T = %.17g",
                           x, tx, T);
    }
    V[k] = LO[k] = HI[k] = S * Dj[0];
    if (!want || !(V[k] > 0)) continue;
    double var = 0, dl[TSR_BTYD_MAXP];
    if (J > 0) {
      int ok = 1;
      for (size_t j = 0; j < m->np && ok; j++) {
        ok = Dj[j + 1] > 0;
        if (ok) dl[j] = (log(Dj[j + 1]) - log(Dj[0])) / h;
      }
      if (ok) var += delta_var(m, dl);
    }
    if (gg->has_cov) {
      for (size_t j = 0; j < 3; j++) {
        double pp[TSR_BTYD_MAXP];
        memcpy(pp, gg->params, sizeof pp);
        pp[j] = gg->params[j] * exp(h);
        double sp = spend(pp, x, mx);
        dl[j] = sp > 0 ? (log(sp) - log(S)) / h : 0;
      }
      var += delta_var(gg, dl);
    }
    LO[k] = V[k] * exp(-z * sqrt(var));
    HI[k] = V[k] * exp(z * sqrt(var));
  }
  for (size_t i = 0; i < d->n; i++) {
    size_t k = pat.map[i];
    if (clv) clv[i] = V[k];
    if (clv_lo) clv_lo[i] = LO[k];
    if (clv_hi) clv_hi[i] = HI[k];
  }
  tsr__free(V);
  tsr__btyd_pat_release(&pat);
  return TSR_OK;
}
