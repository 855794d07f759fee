/*
 * gammagamma.c - the Gamma-Gamma model of spend per transaction (Fader,
 * Hardie & Lee 2005, "RFM and CLV: using iso-value curves for customer base
 * analysis", JMR 42(4); Fader & Hardie 2013, "The Gamma-Gamma model of
 * monetary value"; FH13 below).
 *
 * Each transaction's value z ~ Gamma(p, nu), nu ~ Gamma(q, gamma) across
 * customers; the mean m_x of x transactions has (FH13 eq. 1-3)
 *   f(m_x | p,q,gamma,x) = G(px+q)/(G(px) G(q)) gamma^q m_x^(px-1) x^(px)
 *                          / (gamma + x m_x)^(px+q).
 * Parameters: p[0] = p, p[1] = q, p[2] = gamma (> 0). Fitted on customers
 * with x > 0 (repeat purchases), m_x = mean of the repeat transactions.
 */
#include "btyd_internal.h"

#include <math.h>

/* Weighted LL sum and gradient in (p, q, gamma) (log of FH13 eq. 3); lm:
 * log(m_x) of every pattern, or NULL (computed here). */
static inline __attribute__((always_inline)) int gg_loglik_lm(const double *P, const tsr_btyd_data *d, const double *lm_x,
                             double *ll, double *g) {
  const double p = P[0], q = P[1], gam = P[2];
  const double lq = tsr__lng(q), lgam = log(gam), psq = tsr__psi(q);
  double sum = 0, G[3] = {0, 0, 0};
  /* patterns are sorted by x: the x-only terms once per distinct x */
  double cx = -1, lx = 0, Lx = 0, dpx = 0, dqx = 0;
  for (size_t i = 0; i < d->n; i++) {
    const double x = d->x[i], m = d->m_x[i], w = d->weights[i];
    const double px = p * x;
    if (x != cx) {
      cx = x;
      lx = log(x);
      Lx = tsr__lng(px + q) - tsr__lng(px) - lq + q * lgam + px * lx;
      if (g) {
        const double ps = tsr__psi(px + q);
        dpx = x * (ps - tsr__psi(px) + lx);
        dqx = ps - psq + lgam;
      }
    }
    const double lm = lm_x ? lm_x[i] : log(m), lgm = log(gam + x * m);
    sum += w * (Lx + (px - 1) * lm - (px + q) * lgm);
    if (g) {
      G[0] += w * (dpx + x * (lm - lgm));
      G[1] += w * (dqx - lgm);
      G[2] += w * (q / gam - (px + q) / (gam + x * m));
    }
  }
  *ll = sum;
  if (g)
    for (int k = 0; k < 3; k++) g[k] = G[k];
  return isfinite(sum) ? 0 : -1;
}

static int gg_loglik(const double *P, const tsr_btyd_data *d, double *ll, double *g) {
  return gg_loglik_lm(P, d, NULL, ll, g);
}

int tsr__gg_loglik_lm(const double *P, const tsr_btyd_data *d, const double *lm, double *ll,
                      double *g) {
  return gg_loglik_lm(P, d, lm, ll, g);
}

static int gg_no_conditional(const double *p, double x, double tx, double T,
                             double t, double *e, double *pa) {
  (void)p, (void)x, (void)tx, (void)T, (void)t, (void)e, (void)pa;
  return -1;
}
static int gg_no_expected(const double *p, double t, double *out) {
  (void)p, (void)t, (void)out;
  return -1;
}
static double gg_no_hazard(const double *p, double x, double tx, double T) {
  (void)p, (void)x, (void)tx, (void)T;
  return 0;
}

/* Starting points: gamma scaled so that the mean p gamma/(q-1) matches the
 * weighted mean spend. */
static void gg_start(int k, const tsr_btyd_data *d, double *P) {
  static const double PP[8] = {2, 1, 6, 0.5, 10, 3, 1, 20};
  static const double QQ[8] = {3, 2, 4, 1.5, 10, 2, 6, 3};
  double s = 0, w = 0;
  for (size_t i = 0; i < d->n; i++) {
    s += d->weights[i] * d->m_x[i];
    w += d->weights[i];
  }
  double mm = (w > 0 && s > 0) ? s / w : 1.0;
  k &= 7;
  P[0] = PP[k];
  P[1] = QQ[k];
  P[2] = mm * (QQ[k] - 1 > 0.2 ? QQ[k] - 1 : 0.2) / PP[k];
}

const tsr__btyd_spec tsr__gg_spec = {
    TSR_BTYD_GG,       "gg",           3, {"p", "q", "gamma", NULL},
    gg_loglik,         gg_no_conditional, gg_no_expected,
    NULL,              NULL,           NULL,
    NULL,              gg_no_hazard,   gg_start, NULL, NULL, 0, NULL};

tsr_status tsr_gg_expected_spend(const tsr_btyd_model *gg, double x,
                                 double m_x, double *out, tsr_error *err) {
  if (!gg || gg->kind != TSR_BTYD_GG)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "model",
                         "expected a gamma-gamma model");
  tsr_status st = tsr_btyd_check_params(TSR_BTYD_GG, gg->params, err);
  if (st) return st;
  const double p = gg->params[0], q = gg->params[1], gam = gg->params[2];
  if (!(q > 1))
    return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "q",
                         "expected q > 1 for a finite mean spend, got %.17g",
                         q);
  if (!(x >= 0) || !isfinite(x) || (x > 0 && !(m_x >= 0 && isfinite(m_x))))
    return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, NULL,
                         "expected x >= 0 and m_x >= 0, got %.17g, %.17g", x,
                         m_x);
  /* FH13 eq. 5: E(M | p,q,gamma,m_x,x) = p (gamma + x m_x) / (p x + q - 1);
   * x = 0 gives the population mean p gamma / (q - 1). */
  if (x == 0) m_x = 0;
  *out = p * (gam + x * m_x) / (p * x + q - 1);
  return TSR_OK;
}

tsr_status tsr_gg_correlation(const tsr_btyd_data *d, double *out,
                              tsr_error *err) {
  if (!d || !d->x || !d->m_x)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "missing frequency or monetary column");
  double sw = 0, sx = 0, sm = 0;
  for (size_t i = 0; i < d->n; i++) {
    if (!(d->x[i] > 0)) continue;
    double w = d->weights ? d->weights[i] : 1.0;
    sw += w;
    sx += w * d->x[i];
    sm += w * d->m_x[i];
  }
  if (!(sw > 1))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "fewer than 2 repeat customers: no correlation");
  double mx = sx / sw, mm = sm / sw, cxx = 0, cmm = 0, cxm = 0;
  for (size_t i = 0; i < d->n; i++) {
    if (!(d->x[i] > 0)) continue;
    double w = d->weights ? d->weights[i] : 1.0;
    double ex = d->x[i] - mx, em = d->m_x[i] - mm;
    cxx += w * ex * ex;
    cmm += w * em * em;
    cxm += w * ex * em;
  }
  *out = (cxx > 0 && cmm > 0) ? cxm / sqrt(cxx * cmm) : 0.0;
  return TSR_OK;
}
