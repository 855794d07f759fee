/*
 * bgbb.c - the BG/BB model for discrete-time noncontractual settings (Fader,
 * Hardie & Shang 2010, "Customer-base analysis in a discrete-time
 * noncontractual setting", Marketing Science 29(6):1086-1108; FHS below).
 *
 * At each of n transaction opportunities an active customer buys with
 * probability p, p ~ Beta(alpha, beta); at the start of each opportunity he
 * becomes inactive with probability theta, theta ~ Beta(gamma, delta).
 * Data: x = number of transactions, t_x = opportunity of the last one,
 * n = number of opportunities (tsr_btyd_data.T), all integers.
 * Parameters: p[0] = alpha, p[1] = beta, p[2] = gamma, p[3] = delta (> 0).
 *
 * Likelihood (FHS eq. 5):
 *   L = B(alpha+x, beta+n-x)/B(alpha,beta) B(gamma, delta+n)/B(gamma,delta)
 *     + sum_{i=0}^{n-t_x-1} B(alpha+x, beta+t_x-x+i)/B(alpha,beta)
 *                           B(gamma+1, delta+t_x+i)/B(gamma,delta)
 * evaluated as a log-sum-exp with lnGamma/digamma tables over 0..max(n).
 */
#include "btyd_internal.h"

#include <math.h>
#include <string.h>

/* lnGamma and digamma tables at (shift + k), k = 0..K. */
typedef struct {
  size_t K;
  double *buf;
  double *La, *Lb, *Lab, *Ld, *Lgd, *Lg1d; /* lnGamma(alpha+k) ... */
  double *Pa, *Pb, *Pab, *Pd, *Pgd, *Pg1d; /* digamma(alpha+k) ... */
} bgbb_tab;

static int tab_init(bgbb_tab *t, const double *p, size_t K, int with_psi) {
  const double al = p[0], be = p[1], ga = p[2], de = p[3];
  size_t m = K + 1;
  t->K = K;
  t->buf = tsr__malloc((with_psi ? 12 : 6) * m * sizeof(double));
  if (!t->buf) return -1;
  double *q = t->buf;
  double **L[6] = {&t->La, &t->Lb, &t->Lab, &t->Ld, &t->Lgd, &t->Lg1d};
  double **P[6] = {&t->Pa, &t->Pb, &t->Pab, &t->Pd, &t->Pgd, &t->Pg1d};
  const double sh[6] = {al, be, al + be, de, ga + de, ga + 1 + de};
  for (int j = 0; j < 6; j++) {
    *L[j] = q;
    q += m;
    for (size_t k = 0; k < m; k++) (*L[j])[k] = tsr__lng(sh[j] + (double)k);
    if (with_psi) {
      *P[j] = q;
      q += m;
      for (size_t k = 0; k < m; k++) (*P[j])[k] = tsr__psi(sh[j] + (double)k);
    }
  }
  return 0;
}

static size_t max_n(const tsr_btyd_data *d) {
  double K = 0;
  for (size_t i = 0; i < d->n; i++)
    if (d->T[i] > K) K = d->T[i];
  return (size_t)K + 1;
}

/* log L of one customer and its gradient (g may be NULL); also the log of
 * the first term (alive after n) for P(alive). */
static double bgbb_one(const double *p, const bgbb_tab *t, size_t x, size_t tx,
                       size_t n, double *g, double *lterm0) {
  const double al = p[0], ga = p[2];
  const double lB0 = tsr__lng(al) + t->Lb[0] - t->Lab[0] + tsr__lng(ga) + t->Ld[0] -
                     t->Lgd[0];
  const double lg = tsr__lng(ga), lg1 = tsr__lng(ga + 1);
  /* term 0 */
  double l0 = t->La[x] + t->Lb[n - x] - t->Lab[n] + lg + t->Ld[n] - t->Lgd[n] - lB0;
  if (lterm0) *lterm0 = l0;
  double M = l0;
  for (size_t i = 0; tx + i < n; i++) {
    size_t m = tx + i;
    double li = t->La[x] + t->Lb[m - x] - t->Lab[m] + lg1 + t->Ld[m] - t->Lg1d[m] - lB0;
    if (li > M) M = li;
  }
  double S = 0, G[4] = {0, 0, 0, 0};
  double ca = 0, cb = 0, cg = 0, cd = 0, pg = 0, pg1 = 0;
  if (g) {
    ca = t->Pa[0] - t->Pab[0];
    cb = t->Pb[0] - t->Pab[0];
    pg = tsr__psi(ga);
    pg1 = tsr__psi(ga + 1);
    cg = pg - t->Pgd[0];
    cd = t->Pd[0] - t->Pgd[0];
  }
  double e = exp(l0 - M);
  S += e;
  if (g) {
    G[0] += e * (t->Pa[x] - t->Pab[n] - ca);
    G[1] += e * (t->Pb[n - x] - t->Pab[n] - cb);
    G[2] += e * (pg - t->Pgd[n] - cg);
    G[3] += e * (t->Pd[n] - t->Pgd[n] - cd);
  }
  for (size_t i = 0; tx + i < n; i++) {
    size_t m = tx + i;
    double li = t->La[x] + t->Lb[m - x] - t->Lab[m] + lg1 + t->Ld[m] - t->Lg1d[m] - lB0;
    e = exp(li - M);
    S += e;
    if (g) {
      G[0] += e * (t->Pa[x] - t->Pab[m] - ca);
      G[1] += e * (t->Pb[m - x] - t->Pab[m] - cb);
      G[2] += e * (pg1 - t->Pg1d[m] - cg);
      G[3] += e * (t->Pd[m] - t->Pg1d[m] - cd);
    }
  }
  if (g)
    for (int k = 0; k < 4; k++) g[k] = G[k] / S;
  return M + log(S);
}

/* Weighted LL sum and gradient (FHS eq. 5). */
static int bgbb_loglik(const double *p, const tsr_btyd_data *d, double *ll,
                       double *g) {
  bgbb_tab t;
  if (tab_init(&t, p, max_n(d), g != NULL)) return -1;
  double sum = 0, G[4] = {0, 0, 0, 0}, gi[4];
  for (size_t i = 0; i < d->n; i++) {
    const double w = d->weights[i];
    double li = bgbb_one(p, &t, (size_t)d->x[i], (size_t)d->t_x[i],
                         (size_t)d->T[i], g ? gi : NULL, NULL);
    sum += w * li;
    if (g)
      for (int k = 0; k < 4; k++) G[k] += w * gi[k];
  }
  tsr__free(t.buf);
  *ll = sum;
  if (g)
    for (int k = 0; k < 4; k++) g[k] = G[k];
  return isfinite(sum) ? 0 : -1;
}

/* log D, D = [G(1+delta+n)/G(gamma+delta+n) - G(1+delta+n+s)/G(gamma+delta+n+s)]
 * / (gamma - 1) > 0, continuous at gamma = 1 (digamma limit). */
static double bgbb_logD(double ga, double de, double n, double s) {
  if (fabs(ga - 1) < 1e-7)
    return log(tsr__psi(1 + de + n + s) - tsr__psi(1 + de + n));
  double g0 = tsr__lng(1 + de + n) - tsr__lng(ga + de + n);
  double g1 = tsr__lng(1 + de + n + s) - tsr__lng(ga + de + n + s);
  return g0 + log(-expm1(g1 - g0) / (ga - 1));
}

/* P(alive) (FHS eq. 11) and E[X(n, n+n*) | x, t_x, n] (FHS eq. 13):
 *   E = B(alpha+x+1, beta+n-x)/B(alpha,beta) delta G(gamma+delta)/G(1+delta)
 *       D(n, n*) / L. */
static int bgbb_conditional(const double *p, double x, double tx, double T,
                            double t, double *expected, double *p_alive) {
  const double al = p[0], be = p[1], ga = p[2], de = p[3];
  size_t n = (size_t)floor(T + 0.5), xs = (size_t)x, ts = (size_t)tx;
  double s = floor(t + 0.5);
  bgbb_tab tb;
  if (tab_init(&tb, p, n + 1, 0)) return -1;
  double l0, lL = bgbb_one(p, &tb, xs, ts, n, NULL, &l0);
  tsr__free(tb.buf);
  /* P(alive at n+1 opportunity) uses B(gamma, delta+n+1) in place of
   * B(gamma, delta+n): one more survival step */
  const double nd = (double)n; /* opportunities, < 2^53 */
  double lpa = l0 + log((de + nd) / (ga + de + nd)) - lL;
  *p_alive = exp(lpa);
  double lE = tsr__lnbeta(al + x + 1, be + nd - x) - tsr__lnbeta(al, be) + log(de) +
              tsr__lng(ga + de) - tsr__lng(1 + de) - lL;
  *expected = s > 0 ? exp(lE + bgbb_logD(ga, de, nd, s)) : 0.0;
  return isfinite(*expected) && isfinite(*p_alive) ? 0 : -1;
}

/* E[X(n)] = alpha/(alpha+beta) delta/(gamma-1)
 *           [1 - G(gamma+delta)/G(gamma+delta+n) G(1+delta+n)/G(1+delta)]
 * (FHS eq. 7): the conditional expectation at x = t_x = n = 0. */
static int bgbb_expected_new(const double *p, double t, double *out) {
  double pa;
  return bgbb_conditional(p, 0, 0, 0, t, out, &pa);
}

/* P(X(n) = x) (FHS eq. 8):
 *   C(n,x) B(alpha+x, beta+n-x)/B(alpha,beta) B(gamma, delta+n)/B(gamma,delta)
 * + sum_{i=x}^{n-1} C(i,x) B(alpha+x, beta+i-x)/B(alpha,beta)
 *                          B(gamma+1, delta+i)/B(gamma,delta). */
static int bgbb_pmf_new(const double *p, unsigned xx, double t, double *out) {
  const double al = p[0], be = p[1], ga = p[2], de = p[3];
  double n = floor(t + 0.5), x = xx;
  if (x > n) {
    *out = 0;
    return 0;
  }
  const double lB = tsr__lnbeta(al, be), lG = tsr__lnbeta(ga, de);
  double v = exp(tsr__lng(n + 1) - tsr__lng(x + 1) - tsr__lng(n - x + 1) +
                 tsr__lnbeta(al + x, be + n - x) - lB + tsr__lnbeta(ga, de + n) - lG);
  for (double i = x; i < n; i++)
    v += exp(tsr__lng(i + 1) - tsr__lng(x + 1) - tsr__lng(i - x + 1) +
             tsr__lnbeta(al + x, be + i - x) - lB + tsr__lnbeta(ga + 1, de + i) - lG);
  *out = v;
  return isfinite(v) ? 0 : -1;
}

/* P(X(n, n+n*) = k | x, t_x, n): a customer alive after the n-th
 * opportunity (posterior p ~ Beta(alpha+x, beta+n-x), theta ~
 * Beta(gamma, delta+n)) is a new BG/BB customer; others make none:
 *   [k = 0] (1 - P(alive after n)) + P(alive after n) P(X(n*) = k | ...). */
static int bgbb_pmf_cond(const double *p, double x, double tx, double T,
                         unsigned k, double t, double *out) {
  size_t n = (size_t)floor(T + 0.5);
  bgbb_tab tb;
  if (tab_init(&tb, p, n + 1, 0)) return -1;
  double l0, lL = bgbb_one(p, &tb, (size_t)x, (size_t)tx, n, NULL, &l0);
  tsr__free(tb.buf);
  const double pa = exp(l0 - lL);
  const double q[4] = {p[0] + x, p[1] + (double)n - x, p[2], p[3] + (double)n};
  double f;
  if (bgbb_pmf_new(q, k, t, &f)) return -1;
  *out = (k == 0 ? 1 - pa : 0) + pa * f;
  return isfinite(*out) ? 0 : -1;
}

/* Dropout probability of the next opportunity given alive after n:
 * theta | alive ~ Beta(gamma, delta+n). */
static double bgbb_hazard(const double *p, double x, double tx, double T) {
  (void)x, (void)tx;
  return p[2] / (p[2] + p[3] + T);
}

static void bgbb_start(int k, const tsr_btyd_data *d, double *p) {
  static const double A[8] = {1, 0.5, 2, 1, 0.3, 4, 1, 0.5};
  static const double B[8] = {1, 0.5, 1, 3, 0.3, 2, 0.5, 2};
  static const double G[8] = {1, 0.5, 0.5, 2, 0.3, 3, 1, 0.2};
  static const double D[8] = {1, 2, 4, 1, 0.5, 8, 3, 1};
  (void)d;
  k &= 7;
  p[0] = A[k];
  p[1] = B[k];
  p[2] = G[k];
  p[3] = D[k];
}

const tsr__btyd_spec tsr__bgbb_spec = {
    TSR_BTYD_BGBB,     "bgbb",           4, {"alpha", "beta", "gamma", "delta"},
    bgbb_loglik,       bgbb_conditional, bgbb_expected_new,
    bgbb_pmf_new,      NULL,             NULL,
    bgbb_pmf_cond,     bgbb_hazard,      bgbb_start, NULL, NULL, 0, NULL};
