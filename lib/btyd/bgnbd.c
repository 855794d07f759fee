/*
 * bgnbd.c - the BG/NBD model (Fader, Hardie & Lee 2005, "Counting your
 * customers the easy way: an alternative to the Pareto/NBD model",
 * Marketing Science 24(2):275-284; FHL below).
 *
 * While active a customer buys as Poisson(lambda), lambda ~ Gamma(r, alpha);
 * after every purchase he drops out with probability p, p ~ Beta(a, b).
 * Parameters: p[0] = r, p[1] = alpha, p[2] = a, p[3] = b (all > 0).
 *
 * The log-likelihood follows the numerically stable form of Hardie's note
 * "Implementing the BG/NBD model" (FHL eq. 6 rearranged):
 *   LL = ln G(r+x) - ln G(r) + r ln(alpha)                          (A1)
 *      + ln G(a+b) + ln G(b+x) - ln G(b) - ln G(a+b+x)               (A2)
 *      + ln[ (alpha+T)^-(r+x) + [x>0] a/(b+x-1) (alpha+t_x)^-(r+x) ] (A3,A4)
 * with the last logarithm evaluated by log-sum-exp, so x = 0, x in the
 * hundreds and a+b < 1 neither overflow nor give NaN.
 */
#include "btyd_internal.h"

#include <math.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_integration.h>

/* ------------------------------------------------------------ likelihood */

/* Weighted sum of LL over patterns (sorted by x: the x-only terms are
 * computed once per distinct x) and its gradient in (r, alpha, a, b). */
static int bgnbd_loglik(const double *p, const tsr_btyd_data *d, double *ll,
                        double *g) {
  const double r = p[0], alpha = p[1], a = p[2], b = p[3];
  const double la = log(alpha), lnr = tsr__lng(r), lab = tsr__lng(a + b),
               lb = tsr__lng(b), psr = tsr__psi(r), psab = tsr__psi(a + b),
               psb = tsr__psi(b), lna = log(a);
  double sum = 0, G[4] = {0, 0, 0, 0};
  double cx = -1, A12 = 0, dA1r = 0, dA2a = 0, dA2b = 0, lbx = 0;
  double cT = -1, lT = 0, iT = 0; /* log(alpha+T), 1/(alpha+T) of the T run */
  for (size_t i = 0; i < d->n; i++) {
    const double x = d->x[i], tx = d->t_x[i], T = d->T[i], w = d->weights[i];
    if (x != cx) {
      cx = x;
      lbx = x > 0 ? log(b + x - 1) : 0;
      A12 = tsr__lng(r + x) - lnr + r * la + lab + tsr__lng(b + x) - lb -
            tsr__lng(a + b + x);
      if (g) {
        double pabx = tsr__psi(a + b + x);
        dA1r = tsr__psi(r + x) - psr + la;
        dA2a = psab - pabx;
        dA2b = psab + tsr__psi(b + x) - psb - pabx;
      }
    }
    if (T != cT) {
      cT = T;
      lT = log(alpha + T);
      iT = 1 / (alpha + T);
    }
    const double A3 = -(r + x) * lT;
    double li;
    if (x > 0) {
      const double ltx = log(alpha + tx);
      const double A4 = lna - lbx - (r + x) * ltx;
      const double M = A3 > A4 ? A3 : A4;
      const double e3 = exp(A3 - M), e4 = exp(A4 - M);
      li = A12 + M + log(e3 + e4);
      if (g) {
        const double w3 = e3 / (e3 + e4), w4 = 1 - w3;
        G[0] += w * (dA1r - w3 * lT - w4 * ltx);
        G[1] += w * (r / alpha - w3 * (r + x) * iT -
                     w4 * (r + x) / (alpha + tx));
        G[2] += w * (dA2a + w4 / a);
        G[3] += w * (dA2b - w4 / (b + x - 1));
      }
    } else {
      li = A12 + A3;
      if (g) {
        G[0] += w * (dA1r - lT);
        G[1] += w * (r / alpha - (r + x) * iT);
        G[2] += w * dA2a;
        G[3] += w * dA2b;
      }
    }
    sum += w * li;
  }
  *ll = sum;
  if (g)
    for (int k = 0; k < 4; k++) g[k] = G[k];
  return isfinite(sum) ? 0 : -1;
}

/* The same sum on indexed patterns: the x-only terms once per distinct x,
 * log(alpha + t_x) and log(alpha + T) once per distinct t_x and T; per
 * pattern only the log-sum-exp of A3 and A4 (one exp, one log). With H
 * (4 x 4, row-major) also the analytic Hessian in (r, alpha, a, b): per
 * pattern, with weights w3 + w4 = 1 of the log-sum-exp and D = dA3 - dA4,
 *   d2 LL = d2 A12 + w3 d2 A3 + w4 d2 A4 + w3 w4 D D^T,
 * whose nonzero parts are d2A3/dr dalpha = -1/(alpha+T), d2A3/dalpha2 =
 * (r+x)/(alpha+T)^2 (t_x for A4), d2A4/da2 = -1/a^2, d2A4/db2 = 1/(b+x-1)^2
 * and the trigamma terms of A12 per distinct x. */
/* Terms of one distinct x (bgnbd_eval_ix): A12, log(b+x-1), 1/(b+x-1),
 * the x-only gradient (d1r, d2a, d2b) and Hessian (h1r, h2a, h2b) parts,
 * side by side so that a pattern reads them from one place. */
typedef struct {
  double A12, lbx, ib, d1r, d2a, d2b, h1r, h2a, h2b;
} bg_xterm;

/* log(alpha + t) and 1/(alpha + t) of one distinct t_x or T. */
typedef struct {
  double l, i;
} bg_tterm;

/* Patterns per block of bgnbd_eval_ix's two loops. */
#define BG_BLOCK 512

static int bgnbd_eval_ix(const double *p, const tsr_btyd_data *d,
                         const tsr__btyd_index *ix, double *ll, double *g, double *H) {
  const double r = p[0], alpha = p[1], a = p[2], b = p[3];
  const double la = log(alpha), lnr = tsr__lng(r), lab = tsr__lng(a + b),
               lb = tsr__lng(b), psr = tsr__psi(r), psab = tsr__psi(a + b),
               psb = tsr__psi(b), lna = log(a);
  const size_t nx = ix->nx, ntx = ix->ntx, nT = ix->nT;
  double gl[4];
  if (H && !g) g = gl;
  /* per x: A12, log(b+x-1) and the x-only gradient (and Hessian) terms;
   * per t_x and T: log(alpha + t) and 1/(alpha + t) */
  bg_xterm *xt = tsr__malloc(nx * sizeof *xt + (ntx + nT) * sizeof(bg_tterm));
  if (!xt) return -1;
  bg_tterm *tt = (bg_tterm *)(xt + nx), *Tt = tt + ntx;
  const double t1r = H ? tsr__psi1(r) : 0, t1ab = H ? tsr__psi1(a + b) : 0,
               t1b = H ? tsr__psi1(b) : 0;
  for (size_t k = 0; k < nx; k++) {
    const double x = ix->ux[k];
    bg_xterm *q = &xt[k];
    q->lbx = x > 0 ? log(b + x - 1) : 0;
    q->ib = x > 0 ? 1 / (b + x - 1) : 0;
    q->A12 = tsr__lng(r + x) - lnr + r * la + lab + tsr__lng(b + x) - lb -
             tsr__lng(a + b + x);
    q->d1r = q->d2a = q->d2b = q->h1r = q->h2a = q->h2b = 0;
    if (g) {
      const double pabx = tsr__psi(a + b + x);
      q->d1r = tsr__psi(r + x) - psr + la;
      q->d2a = psab - pabx;
      q->d2b = psab + tsr__psi(b + x) - psb - pabx;
    }
    if (H) {
      const double t1abx = tsr__psi1(a + b + x);
      q->h1r = tsr__psi1(r + x) - t1r;
      q->h2a = t1ab - t1abx;
      q->h2b = t1ab + tsr__psi1(b + x) - t1b - t1abx;
    }
  }
  for (size_t k = 0; k < ntx; k++) {
    tt[k].l = log(alpha + ix->utx[k]);
    tt[k].i = 1 / (alpha + ix->utx[k]);
  }
  for (size_t k = 0; k < nT; k++) {
    Tt[k].l = log(alpha + ix->uT[k]);
    Tt[k].i = 1 / (alpha + ix->uT[k]);
  }
  const double ra = r / alpha, ia = -1 / a;
  double sum = 0, G[4] = {0, 0, 0, 0};
  /* Hessian sums: rr, r alpha, alpha alpha, the (a, b) block, and the
   * w3 w4 D D^T outer products (10 entries, upper triangle) */
  double Hrr = 0, Hra = 0, Haa = 0, Hpa = 0, Hpb = 0, Hpab = 0, O[10] = {0};
  /* Blocks of patterns in two loops: the first makes the only calls (exp
   * and log), the second sums without one, so that its running sums are
   * not saved around every call (the vector registers are all the
   * caller's to save). Same values, same order of the sums as one loop. */
  double eb[BG_BLOCK], l1b[BG_BLOCK];
  for (size_t i0 = 0; i0 < d->n; i0 += BG_BLOCK) {
    const size_t i1 = d->n - i0 < BG_BLOCK ? d->n : i0 + BG_BLOCK;
    for (size_t i = i0; i < i1; i++) {
      const bg_xterm *q = &xt[ix->ix[i]];
      const double x = ix->ux[ix->ix[i]], rx = r + x;
      if (x > 0) {
        const double A3 = -rx * Tt[ix->iT[i]].l;
        const double A4 = lna - q->lbx - rx * tt[ix->itx[i]].l;
        /* log(e^A3 + e^A4) = max + log(1 + e^-|A3 - A4|) (log, not
         * log1p: 3x faster, absolute error 1e-16 on a term of order 1) */
        eb[i - i0] = exp(-fabs(A3 - A4));
        l1b[i - i0] = log(1 + eb[i - i0]);
      }
    }
    for (size_t i = i0; i < i1; i++) {
      const uint32_t kx = ix->ix[i];
      const bg_xterm *q = &xt[kx];
      const bg_tterm *tT = &Tt[ix->iT[i]];
      const double x = ix->ux[kx], w = d->weights[i], rx = r + x;
      const double A3 = -rx * tT->l;
      if (x > 0) {
        const bg_tterm *tx = &tt[ix->itx[i]];
        const double A4 = lna - q->lbx - rx * tx->l;
        const double e = eb[i - i0], l1p = l1b[i - i0];
        sum += w * (q->A12 + (A3 > A4 ? A3 : A4) + l1p);
        if (g) {
          const double wmax = 1 / (1 + e), wmin = e * wmax;
          const double w3 = A3 > A4 ? wmax : wmin, w4 = A3 > A4 ? wmin : wmax;
          G[0] += w * (q->d1r - w3 * tT->l - w4 * tx->l);
          G[1] += w * (ra - rx * (w3 * tT->i + w4 * tx->i));
          G[2] += w * (q->d2a + w4 / a);
          G[3] += w * (q->d2b - w4 * q->ib);
          if (H) {
            const double it3 = tT->i, it4 = tx->i;
            Hrr += w * q->h1r;
            Hra -= w * (w3 * it3 + w4 * it4);
            Haa += w * rx * (w3 * it3 * it3 + w4 * it4 * it4);
            Hpa += w * (q->h2a - w4 / (a * a));
            Hpb += w * (q->h2b + w4 * q->ib * q->ib);
            Hpab += w * q->h2a;
            const double ww = w * w3 * w4;
            const double D0 = tx->l - tT->l, D1 = -rx * (it3 - it4), D2 = ia, D3 = q->ib;
            O[0] += ww * D0 * D0, O[1] += ww * D0 * D1, O[2] += ww * D0 * D2;
            O[3] += ww * D0 * D3, O[4] += ww * D1 * D1, O[5] += ww * D1 * D2;
            O[6] += ww * D1 * D3, O[7] += ww * D2 * D2, O[8] += ww * D2 * D3;
            O[9] += ww * D3 * D3;
          }
        }
      } else {
        sum += w * (q->A12 + A3);
        if (g) {
          G[0] += w * (q->d1r - tT->l);
          G[1] += w * (ra - rx * tT->i);
          G[2] += w * q->d2a;
          G[3] += w * q->d2b;
          if (H) {
            Hrr += w * q->h1r;
            Hra -= w * tT->i;
            Haa += w * rx * tT->i * tT->i;
            Hpa += w * q->h2a;
            Hpb += w * q->h2b;
            Hpab += w * q->h2a;
          }
        }
      }
    }
  }
  tsr__free(xt);
  *ll = sum;
  if (g)
    for (int k = 0; k < 4; k++) g[k] = G[k];
  if (H) {
    double W = 0;
    for (size_t i = 0; i < d->n; i++) W += d->weights[i];
    /* A12's r ln(alpha): d2/dr dalpha = 1/alpha, d2/dalpha2 = -r/alpha^2 */
    const double U[10] = {Hrr + O[0],
                          Hra + W / alpha + O[1],
                          O[2],
                          O[3],
                          Haa - W * r / (alpha * alpha) + O[4],
                          O[5],
                          O[6],
                          Hpa + O[7],
                          Hpab + O[8],
                          Hpb + O[9]};
    for (int i = 0, k = 0; i < 4; i++)
      for (int j = i; j < 4; j++, k++) H[i * 4 + j] = H[j * 4 + i] = U[k];
    for (int k = 0; k < 16; k++)
      if (!isfinite(H[k])) return -1;
  }
  return isfinite(sum) ? 0 : -1;
}

static int bgnbd_loglik_ix(const double *p, const tsr_btyd_data *d,
                           const tsr__btyd_index *ix, double *ll, double *g) {
  return bgnbd_eval_ix(p, d, ix, ll, g, NULL);
}

/* ------------------------------------------------------------ quadrature */

typedef struct {
  double a, b, A, k, t, lB;
} bq_ctx;

static double bq_f(double p, void *v) {
  const bq_ctx *c = v;
  if (p <= 0 || p >= 1) return 0; /* endpoints: measure 0 */
  /* (1 - (A/(A+pt))^k)/p * Beta density */
  double u = -expm1(-c->k * log1p(p * c->t / c->A));
  double ld = (c->a - 1) * log(p) + (c->b - 1) * log1p(-p) - c->lB;
  return u / p * exp(ld);
}

int tsr__beta_expect_purch(double a, double b, double A, double k, double t,
                           double *out) {
  bq_ctx c = {a, b, A, k, t, tsr__lnbeta(a, b)};
  gsl_function F = {bq_f, &c};
  gsl_integration_workspace *w = gsl_integration_workspace_alloc(256);
  double res, abserr;
  if (!w) return -1;
  /* for long horizons (t >> A) the integrand changes within p ~ A/t of
   * 0: break the interval there (decades around A/t) */
  double pts[8];
  size_t np = 0;
  pts[np++] = 0.0;
  for (double f = 1e-3; f <= 1e3 * 1.0001 && t > 0; f *= 31.6227766) {
    double q = f * A / t;
    if (q > 1e-300 && q < 0.5 && q > pts[np - 1]) pts[np++] = q;
  }
  pts[np++] = 1.0;
  int st = np > 2 ? gsl_integration_qagp(&F, pts, np, 0.0, 1e-11, 256, w, &res, &abserr)
                  : gsl_integration_qags(&F, 0.0, 1.0, 0.0, 1e-11, 256, w, &res, &abserr);
  gsl_integration_workspace_free(w);
  if (st != GSL_SUCCESS && !(abserr <= 1e-8 * fabs(res))) return -1;
  *out = res;
  return isfinite(res) ? 0 : -1;
}

/* ------------------------------------------------------------ predictions */

/* P(alive | x, t_x, T) (FHL eq. 13, log form). */
static double bgnbd_palive(double r, double alpha, double a, double b,
                           double x, double tx, double T) {
  if (x == 0) return 1.0;
  double l = log(a) - log(b + x - 1) +
             (r + x) * (log(alpha + T) - log(alpha + tx));
  return 1.0 / (1.0 + exp(l));
}

/* E over p ~ Beta(a, B), lambda ~ Gamma(k, A) of the purchases of an
 * active customer in the next t periods:
 *   [(a+B-1)/(a-1)] [1 - (A/(A+t))^k 2F1(k, B; a+B-1; t/(A+t))]
 * (FHL eq. 10 numerator with B = b+x, k = r+x, A = alpha+T; eq. 9 with
 * x = T = 0), with a quadrature fallback when a ~ 1 or a+B-1 <= 0. */
int tsr__bgnbd_cond_alive(double a, double B, double k, double A, double t,
                          double *out) {
  if (t == 0) {
    *out = 0;
    return 0;
  }
  double c = a + B - 1;
  if (fabs(a - 1) > 1e-4 && c > 0) {
    double lf;
    int sg;
    double z = t / (A + t);
    if (tsr__hyp2f1(k, B, c, z, &lf, &sg, NULL) == 0 && sg > 0) {
      double l = lf + k * (log(A) - log(A + t));
      double v = c / (a - 1) * -expm1(l);
      if (isfinite(v) && v >= 0 && fabs(l) > 1e-6) {
        *out = v;
        return 0;
      }
    }
  }
  return tsr__beta_expect_purch(a, B, A, k, t, out);
}

static int bgnbd_conditional(const double *p, double x, double tx, double T,
                             double t, double *expected, double *p_alive) {
  const double r = p[0], alpha = p[1], a = p[2], b = p[3];
  double pa = bgnbd_palive(r, alpha, a, b, x, tx, T), e;
  if (tsr__bgnbd_cond_alive(a, b + x, r + x, alpha + T, t, &e)) return -1;
  *expected = pa * e;
  *p_alive = pa;
  return isfinite(*expected) && isfinite(pa) ? 0 : -1;
}

/* E[X(t)] = (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1;
 * t/(alpha+t))]   (FHL eq. 9): the conditional one at x = 0, T = 0. */
static int bgnbd_expected_new(const double *p, double t, double *out) {
  return tsr__bgnbd_cond_alive(p[2], p[3], p[0], p[1], t, out);
}

/* P(X(t) = n) (FHL eq. 8):
 *   B(a,b+n)/B(a,b) G(r+n)/(G(r) n!) (alpha/(alpha+t))^r (t/(alpha+t))^n
 * + [n>0] B(a+1,b+n-1)/B(a,b) P(NBD(r, alpha/(alpha+t)) >= n). */
static int bgnbd_pmf_new(const double *p, unsigned n, double t, double *out) {
  const double r = p[0], alpha = p[1], a = p[2], b = p[3];
  const double lBab = tsr__lnbeta(a, b);
  if (t == 0) {
    *out = n == 0 ? 1.0 : 0.0;
    return 0;
  }
  double l1 = tsr__lnbeta(a, b + n) - lBab + tsr__lng(r + n) - tsr__lng(r) -
              tsr__lng(n + 1.0) + r * log(alpha / (alpha + t)) +
              n * log(t / (alpha + t));
  double v = exp(l1);
  if (n > 0) {
    double q = gsl_cdf_negative_binomial_Q(n - 1, alpha / (alpha + t), r);
    v += exp(tsr__lnbeta(a + 1, b + n - 1) - lBab) * q;
  }
  *out = v;
  return isfinite(v) ? 0 : -1;
}

static int bgnbd_p_alive(const double *p, double x, double tx, double T,
                         double *out) {
  *out = bgnbd_palive(p[0], p[1], p[2], p[3], x, tx, T);
  return isfinite(*out) ? 0 : -1;
}

static int bgnbd_cond_alive(const double *p, double x, double T, double t,
                            double *out) {
  return tsr__bgnbd_cond_alive(p[2], p[3] + x, p[0] + x, p[1] + T, t, out);
}

/* P(X(T, T+t] = n | x, t_x, T): inactive customers make none; an active
 * one is a new BG/NBD customer with the posterior (r+x, alpha+T, a, b+x)
 * (Fader, Hardie & Lee, "Deriving the conditional PMF of the BG/NBD model"):
 *   [n = 0] (1 - P(alive)) + P(alive) P(X(t) = n | r+x, alpha+T, a, b+x). */
static int bgnbd_pmf_cond(const double *p, double x, double tx, double T,
                          unsigned n, double t, double *out) {
  const double q[4] = {p[0] + x, p[1] + T, p[2], p[3] + x};
  double pa = bgnbd_palive(p[0], p[1], p[2], p[3], x, tx, T), f;
  if (bgnbd_pmf_new(q, n, t, &f)) return -1;
  *out = (n == 0 ? 1 - pa : 0) + pa * f;
  return isfinite(*out) ? 0 : -1;
}

/* Dropout hazard given alive: E[lambda p | alive] with lambda ~
 * Gamma(r+x, alpha+T), p ~ Beta(a, b+x). */
static double bgnbd_hazard(const double *p, double x, double tx, double T) {
  (void)tx;
  return (p[0] + x) / (p[1] + T) * p[2] / (p[2] + p[3] + x);
}

/* Starting points: a spread of shapes, alpha scaled to the mean age. */
static void bgnbd_start(int k, const tsr_btyd_data *d, double *p) {
  static const double R[8] = {1, 0.5, 0.25, 2, 1, 0.1, 4, 0.5};
  static const double A[8] = {0.2, 0.1, 0.5, 0.05, 1, 0.02, 0.2, 2};
  static const double AA[8] = {1, 0.5, 1, 2, 0.5, 1, 3, 0.2};
  static const double BB[8] = {1, 2, 3, 2, 0.5, 5, 6, 0.5};
  double mT = tsr__btyd_mean_T(d);
  k &= 7;
  p[0] = R[k];
  p[1] = A[k] * mT;
  p[2] = AA[k];
  p[3] = BB[k];
}

const tsr__btyd_spec tsr__bgnbd_spec = {
    TSR_BTYD_BGNBD,      "bgnbd",           4, {"r", "alpha", "a", "b"},
    bgnbd_loglik,        bgnbd_conditional, bgnbd_expected_new,
    bgnbd_pmf_new,       bgnbd_p_alive,     bgnbd_cond_alive,
    bgnbd_pmf_cond,      bgnbd_hazard,      bgnbd_start,
    bgnbd_loglik_ix,     bgnbd_eval_ix,       0, NULL};
