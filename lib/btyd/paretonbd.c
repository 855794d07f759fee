/*
 * paretonbd.c - the Pareto/NBD model (Schmittlein, Morrison & Colombo 1987,
 * "Counting your customers: who are they and what will they do next?",
 * Management Science 33(1); SMC below) in the form of Fader & Hardie (2005),
 * "A note on deriving the Pareto/NBD model and related expressions"
 * (brucehardie.com/notes/009; FH05 below).
 *
 * While alive a customer buys as Poisson(lambda), lambda ~ Gamma(r, alpha);
 * his lifetime is Exp(mu), mu ~ Gamma(s, beta).
 * Parameters: p[0] = r, p[1] = alpha, p[2] = s, p[3] = beta (all > 0).
 *
 * Likelihood (FH05 eq. 22-23):
 *   L = G(r+x) alpha^r beta^s / G(r)
 *       * [ (alpha+T)^-(r+x) (beta+T)^-s + s/(r+s+x) A0 ],
 *   A0 = 2F1(r+s+x, s+1; r+s+x+1; (alpha-beta)/(alpha+t_x)) / (alpha+t_x)^(r+s+x)
 *      - 2F1(r+s+x, s+1; r+s+x+1; (alpha-beta)/(alpha+T)) / (alpha+T)^(r+s+x)
 *   for alpha >= beta, and with (r+x, beta-alpha, beta) in place of
 *   (s+1, alpha-beta, alpha) for alpha < beta, so that 0 <= z < 1.
 * Everything is in logs (log 2F1 of lib/btyd/hyp2f1.c, log-sum-exp, expm1 for the
 * difference); the gradient uses the derivatives of log 2F1 in a, b, c, z.
 */
#include "btyd_internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* Above this z the 2F1 series needs thousands of terms: A0 is then taken
 * from its integral form (FH05 eq. 21 before integration),
 *   s/(r+s+x) A0 = s * int_{t_x}^{T} (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau,
 * by adaptive Gauss-Kronrod quadrature, scaled by the integrand at t_x. */
#define PNBD_Z_QUAD 0.99

/* Patterns per block of pnbd_eval_ix's two loops. */
#define PNBD_BLOCK 256

/* The integral form's quadrature. z > PNBD_Z_QUAD means the smaller of
 * alpha and beta (m) plus t_x is under 1% of the larger plus t_x: the
 * factor (m+tau)^-e falls by orders of magnitude just after t_x (the more
 * so as m -> 0, where the fits that go there wander), so the integral is
 * taken in u = log((m+tau)/(m+t_x)), dtau = (m+tau) du, where the
 * integrand is smooth over [0, log((m+T)/(m+t_x))]. The value and its four
 * derivative integrals (f times d log f / d param) share one adaptive
 * Gauss-Kronrod 21-point rule (GSL's qk21 nodes, weights and error
 * estimate): every node computes the logs and f once, and the interval
 * with the largest error relative to its component's tolerance is halved
 * until every component meets relative 1e-11 (at most PNBD_QLIMIT
 * intervals; 1e-8 accepted then, as before). Each integrand keeps one sign
 * (la, lb >= 0, tau >= t_x), so the relative tolerance is well posed. */
#define PNBD_QLIMIT 200
#define PNBD_QTOL 1e-11

static const double pq_xgk[11] = {
    0.995657163025808080735527280689003, 0.973906528517171720077964012084452,
    0.930157491355708226001207180059508, 0.865063366688984510732096688423493,
    0.780817726586416897063717578345042, 0.679409568299024406234327365114874,
    0.562757134668604683339000099272694, 0.433395394129247190799265943165784,
    0.294392862701460198131126603103866, 0.148874338981631210884826001129720,
    0.000000000000000000000000000000000};
static const double pq_wg[5] = {
    0.066671344308688137593568809893332, 0.149451349150580593145776339657697,
    0.219086362515982043995534934228163, 0.269266719309996355091226921569469,
    0.295524224714752870173892994651338};
static const double pq_wgk[11] = {
    0.011694638867371874278064396062192, 0.032558162307964727478818972459390,
    0.054755896574351996031381300244580, 0.075039674810919952767043140916190,
    0.093125454583697605535065465083366, 0.109387158802297641899210590325805,
    0.123491976262065851077600105167567, 0.134709217311473325928054001771707,
    0.142775938577060080797094273138717, 0.147739104901338491374841515972068,
    0.149445554002916905664936468389821};

typedef struct {
  double r, alpha, s, beta, x, tx;
  double m0; /* m + t_x, m = min(alpha, beta) */
  double o0; /* the other of alpha, beta plus t_x */
  int am;    /* 1: m = alpha */
  int nk;    /* components: 1 (value) or 5 (and the derivatives) */
} pq_ctx;

/* The nk integrands at u (the Jacobian m+tau included, over m+t_x). */
static void pq_node(const pq_ctx *c, double u, double *v) {
  const double d = c->m0 * expm1(u); /* tau - t_x */
  const double lm = u, lo = log1p(d / c->o0);
  const double la = c->am ? lm : lo, lb = c->am ? lo : lm;
  const double f = exp(u - (c->r + c->x) * la - (c->s + 1) * lb);
  v[0] = f;
  if (c->nk == 1) return;
  const double a0 = c->alpha + c->tx, b0 = c->beta + c->tx;
  v[1] = -f * la;
  v[2] = f * (c->r + c->x) * d / ((a0 + d) * a0);
  v[3] = -f * lb;
  v[4] = f * (c->s + 1) * d / ((b0 + d) * b0);
}

typedef struct {
  double a, b, res[5], err[5];
} pq_iv;

/* GK21 on [a, b] for the nk components (gsl_integration_qk21's rule and
 * error estimate). */
static void pq_qk21(const pq_ctx *c, pq_iv *iv) {
  const int nk = c->nk;
  const double ctr = 0.5 * (iv->a + iv->b), hl = 0.5 * (iv->b - iv->a), ahl = fabs(hl);
  double fc[5], f1[10][5], f2[10][5], rg[5], rk[5], ra[5], rasc[5];
  pq_node(c, ctr, fc);
  for (int k = 0; k < nk; k++) rg[k] = 0, rk[k] = fc[k] * pq_wgk[10], ra[k] = fabs(rk[k]);
  for (int j = 0; j < 10; j++) {
    const double dx = hl * pq_xgk[j];
    pq_node(c, ctr - dx, f1[j]);
    pq_node(c, ctr + dx, f2[j]);
    for (int k = 0; k < nk; k++) {
      const double s2 = f1[j][k] + f2[j][k];
      if (j & 1) rg[k] += pq_wg[j / 2] * s2;
      rk[k] += pq_wgk[j] * s2;
      ra[k] += pq_wgk[j] * (fabs(f1[j][k]) + fabs(f2[j][k]));
    }
  }
  for (int k = 0; k < nk; k++) {
    const double mean = rk[k] * 0.5;
    rasc[k] = pq_wgk[10] * fabs(fc[k] - mean);
    for (int j = 0; j < 10; j++)
      rasc[k] += pq_wgk[j] * (fabs(f1[j][k] - mean) + fabs(f2[j][k] - mean));
    double e = fabs((rk[k] - rg[k]) * hl);
    const double resasc = rasc[k] * ahl, resabs = ra[k] * ahl;
    if (resasc != 0 && e != 0) e = resasc * fmin(1, pow(200 * e / resasc, 1.5));
    if (resabs > DBL_MIN / (50 * DBL_EPSILON)) e = fmax(50 * DBL_EPSILON * resabs, e);
    iv->res[k] = rk[k] * hl;
    iv->err[k] = e;
  }
}

/* The nk integrals over [0, ub] into J; tol: the relative tolerance met
 * (PNBD_QTOL, or 1e-8 at the interval limit). Returns 0 or -1. */
static int pq_adapt(const pq_ctx *c, double ub, double *J) {
  const int nk = c->nk;
  pq_iv iv[PNBD_QLIMIT];
  size_t n = 1;
  iv[0].a = 0, iv[0].b = ub;
  pq_qk21(c, &iv[0]);
  for (;;) {
    double S[5] = {0}, E[5] = {0};
    for (size_t i = 0; i < n; i++)
      for (int k = 0; k < nk; k++) S[k] += iv[i].res[k], E[k] += iv[i].err[k];
    int ok = 1, ok8 = 1;
    for (int k = 0; k < nk; k++) {
      ok &= E[k] <= PNBD_QTOL * fabs(S[k]);
      ok8 &= E[k] <= 1e-8 * fabs(S[k]);
    }
    if (ok || n == PNBD_QLIMIT) {
      for (int k = 0; k < nk; k++) J[k] = S[k];
      return ok || ok8 ? 0 : -1;
    }
    /* halve the interval whose error is largest relative to the tolerance
     * of its worst component */
    size_t w = 0;
    double wr = -1;
    for (size_t i = 0; i < n; i++)
      for (int k = 0; k < nk; k++) {
        const double q = iv[i].err[k] / (fabs(S[k]) + DBL_MIN);
        if (q > wr) wr = q, w = i;
      }
    const double mid = 0.5 * (iv[w].a + iv[w].b);
    if (!(mid > iv[w].a && mid < iv[w].b)) { /* no room to halve: roundoff */
      for (int k = 0; k < nk; k++) J[k] = S[k];
      return ok8 ? 0 : -1;
    }
    iv[n].a = mid, iv[n].b = iv[w].b;
    iv[w].b = mid;
    pq_qk21(c, &iv[w]);
    pq_qk21(c, &iv[n]);
    n++;
  }
}

/* log of s * int_{t_x}^{T} ... and its gradient (dl may be NULL); -inf when
 * t_x = T. Returns 0 or -1. */
static int a0_quad(const double *p, double x, double tx, double T, double *l, double *dl) {
  const double r = p[0], alpha = p[1], s = p[2], beta = p[3];
  if (tx >= T) {
    *l = -INFINITY;
    if (dl) dl[0] = dl[1] = dl[2] = dl[3] = 0;
    return 0;
  }
  const int am = alpha < beta;
  const double m = am ? alpha : beta, o = am ? beta : alpha;
  pq_ctx c = {r, alpha, s, beta, x, tx, m + tx, o + tx, am, dl ? 5 : 1};
  double J[5];
  if (pq_adapt(&c, log((m + T) / (m + tx)), J) || !(J[0] > 0)) return -1;
  *l = log(s) - (r + x) * log(alpha + tx) - (s + 1) * log(beta + tx) + log(m + tx) + log(J[0]);
  if (dl) {
    dl[0] = -log(alpha + tx) + J[1] / J[0];
    dl[1] = -(r + x) / (alpha + tx) + J[2] / J[0];
    dl[2] = 1 / s - log(beta + tx) + J[3] / J[0];
    dl[3] = -(s + 1) / (beta + tx) + J[4] / J[0];
  }
  return isfinite(*l) ? 0 : -1;
}

int tsr__pnbd_a0_quad(const double *p, double x, double tx, double T, double *l, double *dl) {
  return a0_quad(p, x, tx, T, l, dl);
}

/* The 2F1 parameters of an A0 term: a2 = r+s+x, b2, c = a2+1 and z at
 * tau. ab: 1 when alpha >= beta. */
static void a0_args(double r, double alpha, double s, double beta, double x, double tau,
                    int ab, double *a2, double *b2, double *z) {
  *a2 = r + s + x;
  *b2 = ab ? s + 1 : r + x;
  *z = ab ? (alpha - beta) / (alpha + tau) : (beta - alpha) / (beta + tau);
}

/* log of one A0 term from lf = log 2F1 and F = its derivatives in (a, b,
 * c, z), and the term's gradient in (r, alpha, s, beta). */
static void a0_finish(double r, double alpha, double s, double beta, double x,
                      double tau, int ab, double lf, const double *F, double *l,
                      double *dl) {
  const double a2 = r + s + x, m = ab ? alpha : beta;
  const double lm = log(m + tau);
  *l = lf - a2 * lm;
  if (dl) {
    if (ab) {
      dl[0] = F[0] + F[2] - lm;
      dl[2] = F[0] + F[1] + F[2] - lm;
      dl[1] = F[3] * (beta + tau) / ((alpha + tau) * (alpha + tau)) - a2 / (alpha + tau);
      dl[3] = -F[3] / (alpha + tau);
    } else {
      dl[0] = F[0] + F[1] + F[2] - lm;
      dl[2] = F[0] + F[2] - lm;
      dl[1] = -F[3] / (beta + tau);
      dl[3] = F[3] * (alpha + tau) / ((beta + tau) * (beta + tau)) - a2 / (beta + tau);
    }
  }
}

/* The Hessian hl (4 x 4 in (r, alpha, s, beta)) of one A0 term from F and
 * Hf = the first and second derivatives of log 2F1 in (a, b, c, z): the
 * chain rule J' Hf J + F_z d2z, J = d(a, b, c, z)/d(r, alpha, s, beta)
 * (a = c - 1 = r+s+x, b = s+1 or r+x, z = |alpha-beta|/(m+tau)), plus
 * the Hessian of -a2 log(m + tau). */
static void a0_hessian(double r, double alpha, double s, double beta, double x,
                       double tau, int ab, const double *F, const double *Hf, double *hl) {
  /* J is sparse: a and c = a + 1 move together (along e: with r and s),
   * b with s (ab) or r (else), z with alpha and beta only (za, zb); J' Hf J
   * written out with the second derivatives along e, b and z (Hee, Heb,
   * ...), plus F_z d2z and the Hessian of -a2 log(m + tau) */
  const double a2 = r + s + x;
  const double Hee = Hf[0] + 2 * Hf[2] + Hf[10], Heb = Hf[1] + Hf[9], Hez = Hf[3] + Hf[11],
               Hbb = Hf[5], Hbz = Hf[7], Hzz = Hf[15];
  double za, zb, h[16];
  if (ab) {
    const double u = alpha + tau, v = beta + tau, iu = 1 / u;
    za = v * iu * iu, zb = -iu;
    /* r: e; s: e + b */
    h[0] = Hee, h[2] = Hee + Heb, h[10] = Hee + 2 * Heb + Hbb;
    h[1] = Hez * za, h[3] = Hez * zb;
    h[6] = (Hez + Hbz) * za, h[11] = (Hez + Hbz) * zb;
    h[5] = Hzz * za * za + F[3] * (-2 * v * iu * iu * iu) + a2 * iu * iu;
    h[7] = Hzz * za * zb + F[3] * (iu * iu);
    h[15] = Hzz * zb * zb;
    h[1] += -iu, h[6] += -iu;
  } else {
    const double u = beta + tau, v = alpha + tau, iu = 1 / u;
    za = -iu, zb = v * iu * iu;
    /* r: e + b; s: e */
    h[0] = Hee + 2 * Heb + Hbb, h[2] = Hee + Heb, h[10] = Hee;
    h[1] = (Hez + Hbz) * za, h[3] = (Hez + Hbz) * zb;
    h[6] = Hez * za, h[11] = Hez * zb;
    h[5] = Hzz * za * za;
    h[7] = Hzz * za * zb + F[3] * (iu * iu);
    h[15] = Hzz * zb * zb + F[3] * (-2 * v * iu * iu * iu) + a2 * iu * iu;
    h[3] += -iu, h[11] += -iu;
  }
  for (int i = 0; i < 4; i++)
    for (int j = i; j < 4; j++) hl[i * 4 + j] = hl[j * 4 + i] = h[i * 4 + j];
}

/* log of one A0 term, 2F1(a2, b2; a2+1; z) / (m + tau)^a2, and its
 * gradient in (r, alpha, s, beta). ab: 1 when alpha >= beta. */
static int a0_term(double r, double alpha, double s, double beta, double x,
                   double tau, int ab, double *l, double *dl) {
  double a2, b2, z, lf, F[4];
  int sg;
  a0_args(r, alpha, s, beta, x, tau, ab, &a2, &b2, &z);
  if (tsr__hyp2f1(a2, b2, a2 + 1, z, &lf, &sg, dl ? F : NULL) || sg < 0)
    return -1;
  a0_finish(r, alpha, s, beta, x, tau, ab, lf, F, l, dl);
  return 0;
}

/* log of the bracket of L for one customer, its gradient (dl may be NULL)
 * and P(alive) = first term / bracket (FH05 section 5). */
/* The A0 term at tau = T depends on (x, T) only: cached across
 * consecutive patterns (sorted by x, then T) within one evaluation. */
typedef struct {
  int valid, with_d;
  double x, T, l2, d2[4];
} pnbd_cache;

/* The bracket's terms e^lE and e^v1 - e^(ls+l2) scaled by e^-M, M the
 * larger exponent: the larger term is e^0 = 1 exactly, one exp (NaN:
 * fmax's way); u1 - u2 = u1 (1 - exp(l2 - l1)) without cancellation;
 * S = u0 + u12. */
static inline void pnbd_terms(double lE, double v1, double l1, double l2, double *M,
                              double *u0, double *u1, double *u12, double *S) {
  if (lE >= v1)
    *M = lE, *u0 = 1, *u1 = exp(v1 - lE);
  else if (v1 > lE)
    *M = v1, *u0 = exp(lE - v1), *u1 = 1;
  else
    *M = fmax(lE, v1), *u0 = exp(lE - *M), *u1 = exp(v1 - *M);
  *u12 = l2 < l1 ? *u1 * -expm1(l2 - l1) : 0.0;
  *S = *u0 + *u12;
}

/* The log bracket from its parts: lE = log of the alive term
 * (alpha+T)^-(r+x) (beta+T)^-s and its gradient dE, ls = log(s/(r+s+x)),
 * l1 and l2 = the log A0
 * terms at t_x and T and their gradients d1, d2 (d* used only with dl). */
/* wts (NULL or 3): the weights u0/S, u1/S and -u2/S of the three terms
 * (the Hessian's). */
static int pnbd_bracket(double r, double s, double x, double ls, double lE, const double *dE,
                        double l1, const double *d1, double l2, const double *d2,
                        double *lb, double *dl, double *palive, double *wts) {
  const double a2 = r + s + x;
  double M, u0, u1, u12, S;
  pnbd_terms(lE, ls + l1, l1, l2, &M, &u0, &u1, &u12, &S);
  *lb = M + log(S);
  if (palive) *palive = u0 / S;
  if (wts) wts[0] = u0 / S, wts[1] = u1 / S, wts[2] = -(u1 - u12) / S;
  if (dl) {
    const double u2 = u1 - u12;
    const double dS[4] = {-1 / a2, 0, 1 / s - 1 / a2, 0};
    for (int k = 0; k < 4; k++)
      dl[k] = (u0 * dE[k] + u12 * dS[k] + u1 * d1[k] - u2 * d2[k]) / S;
  }
  return isfinite(*lb) ? 0 : -1;
}

static int pnbd_one_c(const double *p, double x, double tx, double T,
                      double *lb, double *dl, double *palive, pnbd_cache *c);

static int pnbd_one(const double *p, double x, double tx, double T, double *lb,
                    double *dl, double *palive) {
  return pnbd_one_c(p, x, tx, T, lb, dl, palive, NULL);
}

static int pnbd_one_c(const double *p, double x, double tx, double T,
                      double *lb, double *dl, double *palive, pnbd_cache *c) {
  const double r = p[0], alpha = p[1], s = p[2], beta = p[3];
  const int ab = alpha >= beta;
  double l1, l2, d1[4] = {0, 0, 0, 0}, d2[4] = {0, 0, 0, 0};
  const double z1 = fabs(alpha - beta) / ((ab ? alpha : beta) + tx);
  if (z1 > PNBD_Z_QUAD) {
    /* integral form: bracket = e^lE + e^lI */
    double lI, dI[4];
    if (a0_quad(p, x, tx, T, &lI, dl ? dI : NULL)) return -1;
    const double lE = -(r + x) * log(alpha + T) - s * log(beta + T);
    const double M = fmax(lE, lI);
    const double u0 = exp(lE - M), uI = exp(lI - M), S = u0 + uI;
    *lb = M + log(S);
    if (palive) *palive = u0 / S;
    if (dl) {
      const double dE[4] = {-log(alpha + T), -(r + x) / (alpha + T),
                            -log(beta + T), -s / (beta + T)};
      for (int k = 0; k < 4; k++) dl[k] = (u0 * dE[k] + uI * dI[k]) / S;
    }
    return isfinite(*lb) ? 0 : -1;
  }
  if (a0_term(r, alpha, s, beta, x, tx, ab, &l1, dl ? d1 : NULL)) return -1;
  if (tx == T) {
    l2 = l1;
    if (dl)
      for (int k = 0; k < 4; k++) d2[k] = d1[k];
  } else if (c && c->valid && c->x == x && c->T == T && (c->with_d || !dl)) {
    l2 = c->l2;
    if (dl)
      for (int k = 0; k < 4; k++) d2[k] = c->d2[k];
  } else {
    if (a0_term(r, alpha, s, beta, x, T, ab, &l2, dl ? d2 : NULL)) return -1;
    if (c) {
      c->valid = 1;
      c->with_d = dl != NULL;
      c->x = x;
      c->T = T;
      c->l2 = l2;
      if (dl)
        for (int k = 0; k < 4; k++) c->d2[k] = d2[k];
    }
  }
  const double lat = log(alpha + T), lbt = log(beta + T);
  const double dE[4] = {-lat, -(r + x) / (alpha + T), -lbt, -s / (beta + T)};
  return pnbd_bracket(r, s, x, log(s) - log(r + s + x), -(r + x) * lat - s * lbt, dE, l1, d1,
                      l2, d2, lb, dl, palive, NULL);
}

/* Weighted LL sum and gradient (FH05 eq. 22). */
static int pnbd_loglik(const double *p, const tsr_btyd_data *d, double *ll,
                       double *g) {
  const double r = p[0], alpha = p[1], s = p[2], beta = p[3];
  const double C0 = -tsr__lng(r) + r * log(alpha) + s * log(beta);
  const double psr = tsr__psi(r);
  double sum = 0, G[4] = {0, 0, 0, 0}, cx = -1, lgx = 0, psx = 0;
  pnbd_cache cache = {0, 0, 0, 0, 0, {0, 0, 0, 0}};
  for (size_t i = 0; i < d->n; i++) {
    const double x = d->x[i], w = d->weights[i];
    double lb, dl[4];
    if (x != cx) {
      cx = x;
      lgx = tsr__lng(r + x);
      if (g) psx = tsr__psi(r + x);
    }
    if (pnbd_one_c(p, x, d->t_x[i], d->T[i], &lb, g ? dl : NULL, NULL, &cache))
      return -1;
    sum += w * (C0 + lgx + lb);
    if (g) {
      G[0] += w * (psx - psr + log(alpha) + dl[0]);
      G[1] += w * (r / alpha + dl[1]);
      G[2] += w * (log(beta) + dl[2]);
      G[3] += w * (s / beta + dl[3]);
    }
  }
  *ll = sum;
  if (g)
    for (int k = 0; k < 4; k++) g[k] = G[k];
  return isfinite(sum) ? 0 : -1;
}

/* The same sum on indexed patterns: the log 2F1 terms once per (x, t_x)
 * and (x, T) pair (those some pattern needs: not on the integral path, and
 * t_x < T for the second), the x-only terms once per x, the logs of T once
 * per T; per pattern only the bracket (four exp/log). With H, also the
 * Hessian in (r, alpha, s, beta) (g then required): second derivatives of
 * log 2F1 (tsr__hyp2f1_many2) through the chain rule per pair, and per
 * pattern the Hessian of the log of a signed sum of exponentials,
 *   d2 log sum_i c_i e^{v_i} = sum_i w_i (d2 v_i + dv_i dv_i') - dl dl',
 * w_i = c_i e^{v_i} / sum. Returns -1 with H when some pattern takes the
 * integral path (z > PNBD_Z_QUAD: no second derivatives there; the
 * optimiser then backs off, or takes differences of the gradient). */
static int pnbd_eval_ix(const double *p, const tsr_btyd_data *d,
                        const tsr__btyd_index *ix, double *ll, double *g, double *H) {
  const double r = p[0], alpha = p[1], s = p[2], beta = p[3];
  const int ab = alpha >= beta;
  const double C0 = -tsr__lng(r) + r * log(alpha) + s * log(beta);
  const double psr = tsr__psi(r), la = log(alpha), lbe = log(beta);
  const double t1r = H ? tsr__psi1(r) : 0;
  const double m = ab ? alpha : beta, dab = fabs(alpha - beta);
  const size_t nx = ix->nx, n1 = ix->nxtx, n2 = ix->nxT, nT = ix->nT;
  /* per x: log(s/(r+s+x)), ln G(r+x), psi(r+x); per pair: log A0 term, its gradient and
   * whether it is needed; per T: log(alpha+T), log(beta+T) */
  double gl[4];
  if (H && !g) g = gl;
  if (H) {
    /* z is largest at the smallest t_x */
    double tmin = INFINITY;
    for (size_t k = 0; k < ix->ntx; k++) tmin = fmin(tmin, ix->utx[k]);
    if (dab / (m + tmin) > PNBD_Z_QUAD) return -1;
  }
  /* not zeroed but for the pairs' flags: every other entry is written
   * before it is read (a pair's terms where its flag is set) */
  /* in the index's workspace, kept across the fit's evaluations (fresh
   * pages each time were 7.5 % of analyze's page faults on tx1800k): buf,
   * with H hb (per x trigamma(r+x), per pair the term's Hessian), the
   * pairs' 2F1 arguments and values (zv: at most n1 + n2 pairs), their
   * ids (pid) and the start of each x's pairs (start) */
  const size_t nbuf = 5 * nx + 6 * (n1 + n2) + 2 * n2 + 3 * nT + 1;
  const size_t nhb = H ? 2 * nx + 17 * n1 + 18 * n2 + 1 : 0;
  const size_t nzv = 6 * (n1 + n2) + 1, npid = (n1 + n2) / 2 + 1, nst = nx + 1;
  double *buf = tsr__btyd_scratch_get(ix->scratch, (nbuf + nhb + nzv + npid + nst) * sizeof *buf);
  if (!buf) return -1;
  double *hb = H ? buf + nbuf : NULL;
  double *t1x = hb, *h1 = H ? hb + nx : NULL, *h2 = H ? h1 + 16 * n1 : NULL;
  /* with H: the summed weights of the Hessian's parts per (x, T) pair (the
   * alive term, hw0; the A0 term at T, hw2), (x, t_x) pair (the A0 term at
   * t_x, hw1) and x (log s/(r+s+x), hwS) */
  double *hw0 = H ? h2 + 16 * n2 : NULL, *hw2 = H ? hw0 + n2 : NULL,
         *hw1 = H ? hw2 + n2 : NULL, *hwS = H ? hw1 + n1 : NULL;
  if (H) memset(hw0, 0, (2 * n2 + n1 + nx) * sizeof *hw0);
  double *lsx = buf, *lgx = lsx + nx, *psx = lgx + nx, *l1 = psx + nx, *d1 = l1 + n1, *need1 = d1 + 4 * n1,
         *l2 = need1 + n1, *d2 = l2 + n2, *need2 = d2 + 4 * n2, *lat = need2 + n2,
         *lbt = lat + nT, *dS0 = lbt + nT, *dS2 = dS0 + nx, *lE2 = dS2 + nx, *dE21 = lE2 + n2,
         *dE3 = dE21 + n2;
  memset(need1, 0, n1 * sizeof *need1);
  memset(need2, 0, n2 * sizeof *need2);
  int bad = 0;
  for (size_t k = 0; k < nx; k++) {
    lgx[k] = tsr__lng(r + ix->ux[k]);
    lsx[k] = log(s) - log(r + s + ix->ux[k]);
    if (g) psx[k] = tsr__psi(r + ix->ux[k]);
    if (H) t1x[k] = tsr__psi1(r + ix->ux[k]);
  }
  for (size_t k = 0; k < nT; k++) {
    lat[k] = log(alpha + ix->uT[k]);
    lbt[k] = log(beta + ix->uT[k]);
  }
  /* the integral form by t_x (z is largest at the smallest t_x) */
  unsigned char *quad = tsr__malloc(ix->ntx ? ix->ntx : 1);
  if (!quad) bad = 1;
  for (size_t k = 0; k < ix->ntx && !bad; k++) quad[k] = dab / (m + ix->utx[k]) > PNBD_Z_QUAD;
  for (size_t i = 0; i < d->n && !bad; i++) {
    const uint32_t ktx = ix->itx[i];
    if (quad[ktx]) continue; /* integral form */
    need1[ix->ixtx[i]] = 1;
    if (ix->utx[ktx] != ix->uT[ix->iT[i]]) need2[ix->ixT[i]] = 1;
  }
  tsr__free(quad);
  /* the needed pairs grouped by x (counting sort): one 2F1 table per x */
  size_t np = 0;
  for (size_t k = 0; k < n1; k++) np += need1[k] != 0;
  for (size_t k = 0; k < n2; k++) np += need2[k] != 0;
  double *zv = buf + nbuf + nhb, *lv = zv + np, *Fv = lv + np;
  uint32_t *pid = (uint32_t *)(void *)(zv + nzv); /* pair (k, or n1 + k) */
  size_t *start = (size_t *)(void *)(zv + nzv + npid);
  memset(start, 0, nst * sizeof *start);
  double *Hv = NULL; /* with H: the 2F1 Hessians of one x's pairs */
  tsr__hyp_ws ws;
  memset(&ws, 0, sizeof ws);
  for (size_t k = 0; k < n1 && !bad; k++)
    if (need1[k]) start[ix->xtx_x[k] + 1]++;
  for (size_t k = 0; k < n2 && !bad; k++)
    if (need2[k]) start[ix->xT_x[k] + 1]++;
  for (size_t k = 0; k < nx && !bad; k++) start[k + 1] += start[k];
  for (size_t k = 0; k < n1 && !bad; k++)
    if (need1[k]) pid[start[ix->xtx_x[k]]++] = (uint32_t)k;
  for (size_t k = 0; k < n2 && !bad; k++)
    if (need2[k]) pid[start[ix->xT_x[k]]++] = (uint32_t)(n1 + k);
  for (size_t k = nx; k > 0 && !bad; k--) start[k] = start[k - 1];
  if (!bad) start[0] = 0;
  if (H && !bad) {
    size_t maxg = 1;
    for (size_t k = 0; k < nx; k++)
      if (start[k + 1] - start[k] > maxg) maxg = start[k + 1] - start[k];
    if (!(Hv = tsr__malloc(16 * maxg * sizeof *Hv))) bad = 1;
  }
  for (size_t kx = 0; kx < nx && !bad; kx++) {
    const size_t lo = start[kx], hi = start[kx + 1];
    const double x = ix->ux[kx];
    double a2 = 0, b2 = 0;
    for (size_t j = lo; j < hi; j++) {
      const uint32_t q = pid[j];
      const double tau = q < n1 ? ix->utx[ix->xtx_tx[q]] : ix->uT[ix->xT_T[q - n1]];
      a0_args(r, alpha, s, beta, x, tau, ab, &a2, &b2, &zv[j]);
    }
    if (hi > lo &&
        (H ? tsr__hyp2f1_many2(a2, b2, a2 + 1, zv + lo, hi - lo, lv + lo, Fv + 4 * lo,
                               Hv, &ws)
           : tsr__hyp2f1_many(a2, b2, a2 + 1, zv + lo, hi - lo, lv + lo,
                              g ? Fv + 4 * lo : NULL, &ws))) {
      bad = 1;
      break;
    }
    for (size_t j = lo; j < hi; j++) {
      const uint32_t q = pid[j];
      const int first = q < n1;
      const size_t k = first ? q : q - n1;
      const double tau = first ? ix->utx[ix->xtx_tx[k]] : ix->uT[ix->xT_T[k]];
      a0_finish(r, alpha, s, beta, x, tau, ab, lv[j], Fv + 4 * j, first ? &l1[k] : &l2[k],
                g ? (first ? &d1[4 * k] : &d2[4 * k]) : NULL);
      if (H)
        a0_hessian(r, alpha, s, beta, x, tau, ab, Fv + 4 * j, Hv + 16 * (j - lo),
                   first ? &h1[16 * k] : &h2[16 * k]);
    }
  }
  tsr__hyp_ws_free(&ws);
  tsr__free(Hv);
  /* per x: dS of pnbd_bracket (the derivatives of log(s/(r+s+x))); per
   * (x, T) pair: the log of the alive term and its alpha derivative; per
   * T: its beta derivative (the values pnbd_bracket's callers compute per
   * pattern) */
  for (size_t k = 0; k < nx && !bad; k++) {
    const double a2 = r + s + ix->ux[k];
    dS0[k] = -1 / a2;
    dS2[k] = 1 / s - 1 / a2;
  }
  for (size_t k = 0; k < n2 && !bad; k++) {
    const uint32_t kT = ix->xT_T[k];
    const double x = ix->ux[ix->xT_x[k]], T = ix->uT[kT];
    lE2[k] = -(r + x) * lat[kT] - s * lbt[kT];
    dE21[k] = -(r + x) / (alpha + T);
  }
  for (size_t k = 0; k < nT && !bad; k++) dE3[k] = -s / (beta + ix->uT[k]);
  const double ra = r / alpha, sb = s / beta, aa = alpha * alpha, bb = beta * beta;
  double sum = 0, G[4] = {0, 0, 0, 0}, HH[16] = {0}, DD[10] = {0};
  /* Blocks of patterns in two loops: the first makes the calls of
   * pnbd_bracket (exp, expm1, log: its three terms u0, u1, u1 - u2 scaled
   * by e^-M, their sum S and the log bracket), the second the arithmetic
   * without a call, so that its running sums are not saved around every
   * call. The values and the order of the sums are those of one loop over
   * pnbd_bracket. */
  double bu0[PNBD_BLOCK], bu1[PNBD_BLOCK], bu12[PNBD_BLOCK], bS[PNBD_BLOCK], blb[PNBD_BLOCK];
  for (size_t i0 = 0; i0 < d->n && !bad; i0 += PNBD_BLOCK) {
    const size_t i1 = d->n - i0 < PNBD_BLOCK ? d->n : i0 + PNBD_BLOCK;
    for (size_t i = i0; i < i1; i++) {
      const uint32_t k1 = ix->ixtx[i];
      if (!need1[k1]) continue;
      const uint32_t k2 = ix->ixT[i];
      const int same = ix->utx[ix->itx[i]] == ix->uT[ix->iT[i]];
      const double lE = lE2[k2], L1 = l1[k1], m2 = same ? L1 : l2[k2];
      /* pnbd_bracket: the larger term is e^0 = 1 exactly, one exp (NaN:
       * fmax's way); u1 - u2 = u1 (1 - exp(l2 - l1)) without cancellation */
      double M, u0, u1, u12, S;
      pnbd_terms(lE, lsx[ix->ix[i]] + L1, L1, m2, &M, &u0, &u1, &u12, &S);
      const size_t j = i - i0;
      bu0[j] = u0, bu1[j] = u1, bu12[j] = u12, bS[j] = S;
      blb[j] = M + log(S);
    }
    for (size_t i = i0; i < i1 && !bad; i++) {
      const uint32_t kx = ix->ix[i], kT = ix->iT[i], k1 = ix->ixtx[i], k2 = ix->ixT[i];
      const double x = ix->ux[kx], tx = ix->utx[ix->itx[i]], T = ix->uT[kT], w = d->weights[i];
      double lb, dl[4];
      /* need1: every pattern of the pair is off the integral form */
      if (!need1[k1]) {
        bad = pnbd_one(p, x, tx, T, &lb, g ? dl : NULL, NULL);
      } else {
        const size_t j = i - i0;
        const double u0 = bu0[j], u1 = bu1[j], u12 = bu12[j], S = bS[j];
        lb = blb[j];
        bad = isfinite(lb) ? 0 : -1;
        if (g && !bad) {
          const double dE[4] = {-lat[kT], dE21[k2], -lbt[kT], dE3[kT]};
          const double dS[4] = {dS0[kx], 0, dS2[kx], 0};
          const double *e1 = &d1[4 * k1], *e2 = tx == T ? &d1[4 * k1] : &d2[4 * k2];
          const double u2 = u1 - u12;
          for (int k = 0; k < 4; k++)
            dl[k] = (u0 * dE[k] + u12 * dS[k] + u1 * e1[k] - u2 * e2[k]) / S;
        }
        if (H && !bad) {
          /* the three terms v0 = lE, v1 = ls + l1, v2 = ls + l2 with
           * weights wt = u0/S, u1/S, -u2/S: their parts of the Hessian
           * depend on the pattern only through these weights, and are
           * summed per (x, T) pair, (x, t_x) pair and x after the loop;
           * only dl dl' is per pattern */
          const double wt[3] = {u0 / S, u1 / S, -(u1 - u12) / S};
          const double W0 = w * wt[0], W1 = w * wt[1], W2 = w * wt[2];
          hw0[k2] += W0;
          if (tx == T) {
            hw1[k1] += W1 + W2;
          } else {
            hw1[k1] += W1;
            hw2[k2] += W2;
          }
          hwS[kx] += W1 + W2;
          for (int a = 0, q = 0; a < 4; a++)
            for (int b = a; b < 4; b++, q++) DD[q] += w * dl[a] * dl[b];
        }
      }
      if (bad) break;
      sum += w * (C0 + lgx[kx] + lb);
      if (g) {
        G[0] += w * (psx[kx] - psr + la + dl[0]);
        G[1] += w * (ra + dl[1]);
        G[2] += w * (lbe + dl[2]);
        G[3] += w * (sb + dl[3]);
      }
      if (H) {
        /* C0 + ln G(r+x): trigamma, 1/alpha, -r/alpha^2, 1/beta, -s/beta^2 */
        HH[0] += w * (t1x[kx] - t1r);
        HH[1] += w / alpha;
        HH[5] += -w * r / aa;
        HH[11] += w / beta;
        HH[15] += -w * s / bb;
      }
    }
  }
  if (H && !bad) {
    /* the parts of the three terms, per pair and per x:
     * sum_i w_i (d2 v_i + dv_i dv_i'), minus the patterns' dl dl' */
    for (size_t k = 0; k < n2; k++) {
      const uint32_t kx = ix->xT_x[k], kT = ix->xT_T[k];
      const double x = ix->ux[kx], T = ix->uT[kT], a2 = r + s + x;
      const double dS[4] = {-1 / a2, 0, 1 / s - 1 / a2, 0};
      if (hw0[k] != 0) {
        const double iu = 1 / (alpha + T), iv = 1 / (beta + T);
        const double dE[4] = {-lat[kT], -(r + x) * iu, -lbt[kT], -s * iv};
        double hE[16] = {0};
        hE[0 * 4 + 1] = -iu;
        hE[1 * 4 + 1] = (r + x) * iu * iu;
        hE[2 * 4 + 3] = -iv;
        hE[3 * 4 + 3] = s * iv * iv;
        for (int a = 0; a < 4; a++)
          for (int b = a; b < 4; b++) HH[a * 4 + b] += hw0[k] * (hE[a * 4 + b] + dE[a] * dE[b]);
      }
      if (hw2[k] != 0) {
        const double *e = &d2[4 * k], *q = &h2[16 * k];
        for (int a = 0; a < 4; a++)
          for (int b = a; b < 4; b++)
            HH[a * 4 + b] += hw2[k] * (q[a * 4 + b] + (dS[a] + e[a]) * (dS[b] + e[b]));
      }
    }
    for (size_t k = 0; k < n1; k++) {
      if (hw1[k] == 0) continue;
      const double x = ix->ux[ix->xtx_x[k]], a2 = r + s + x;
      const double dS[4] = {-1 / a2, 0, 1 / s - 1 / a2, 0};
      const double *e = &d1[4 * k], *q = &h1[16 * k];
      for (int a = 0; a < 4; a++)
        for (int b = a; b < 4; b++)
          HH[a * 4 + b] += hw1[k] * (q[a * 4 + b] + (dS[a] + e[a]) * (dS[b] + e[b]));
    }
    for (size_t k = 0; k < nx; k++) {
      /* d2 log(s/(r+s+x)): 1/a2^2 in (r, r), (r, s), (s, s) less 1/s^2 */
      const double a2 = r + s + ix->ux[k], q = hwS[k] / (a2 * a2);
      HH[0] += q, HH[2] += q, HH[10] += q - hwS[k] / (s * s);
    }
    for (int a = 0, q = 0; a < 4; a++)
      for (int b = a; b < 4; b++, q++) HH[a * 4 + b] -= DD[q];
  }
  if (bad) return -1;
  *ll = sum;
  if (g)
    for (int k = 0; k < 4; k++) g[k] = G[k];
  if (!isfinite(sum)) return -1;
  if (H) {
    for (int a = 0; a < 4; a++)
      for (int b = a; b < 4; b++) H[a * 4 + b] = H[b * 4 + a] = HH[a * 4 + b];
    for (int k = 0; k < 16; k++)
      if (!isfinite(H[k])) return -1;
  }
  return 0;
}

static int pnbd_loglik_ix(const double *p, const tsr_btyd_data *d,
                          const tsr__btyd_index *ix, double *ll, double *g) {
  return pnbd_eval_ix(p, d, ix, ll, g, NULL);
}

/* (1 - y^(s-1)) / (s-1) for 0 < y <= 1, continuous at s = 1. */
static double pow_ratio(double y, double s) {
  double ly = log(y);
  if (fabs(s - 1) < 1e-12) return -ly;
  return -expm1((s - 1) * ly) / (s - 1);
}

/* P(alive) of every pattern of d under the parameter sets P[0..nsets)
 * (spec->p_alive_sets): pnbd_p_alive's values, with its A0 terms computed
 * once per (x, t_x) and (x, T) pair (the index of lib/btyd/patindex.c)
 * instead of twice per pattern, and only for the pairs some pattern takes:
 * the patterns whose z at t_x exceeds PNBD_Z_QUAD take the integral form
 * (pnbd_one as it is), those with t_x = T no term at T. */
typedef struct {
  const double (*P)[TSR_BTYD_MAXP];
  size_t nsets;
  const tsr_btyd_data *d;
  const tsr__btyd_index *ix;
  unsigned char *st1, *st2; /* per set and pair: 0 not needed, 1 needed, 2 ok, 3 failed */
  double *L1, *L2;          /* per set and pair: the log A0 term */
  double *lat, *lbt;        /* per set and T: log(alpha+T), log(beta+T) */
  double *ls;               /* per set and x: log(s) - log(r+s+x) */
  double *out;
} pnbd_pas_job;

static int pnbd_quad(const double *p, double tx) {
  const double alpha = p[1], beta = p[3];
  const int ab = alpha >= beta;
  return fabs(alpha - beta) / ((ab ? alpha : beta) + tx) > PNBD_Z_QUAD;
}

/* Pairs [lo, hi) of the (x, t_x) pairs followed by the (x, T) pairs. */
static void pnbd_pas_pairs(void *v, size_t b, size_t lo, size_t hi) {
  const pnbd_pas_job *j = v;
  const tsr__btyd_index *ix = j->ix;
  const size_t n1 = ix->nxtx, n2 = ix->nxT;
  (void)b;
  for (size_t i = lo; i < hi; i++) {
    const int first = i < n1;
    const size_t pr = first ? i : i - n1, n = first ? n1 : n2;
    const double x = ix->ux[first ? ix->xtx_x[pr] : ix->xT_x[pr]];
    const double tau = first ? ix->utx[ix->xtx_tx[pr]] : ix->uT[ix->xT_T[pr]];
    unsigned char *st = first ? j->st1 : j->st2;
    double *L = first ? j->L1 : j->L2;
    for (size_t q = 0; q < j->nsets; q++) {
      if (!st[q * n + pr]) continue;
      const double *p = j->P[q];
      const double r = p[0], alpha = p[1], s = p[2], beta = p[3];
      st[q * n + pr] = a0_term(r, alpha, s, beta, x, tau, alpha >= beta, &L[q * n + pr], NULL)
                           ? 3 : 2;
    }
  }
}

static void pnbd_pas_pats(void *v, size_t b, size_t lo, size_t hi) {
  const pnbd_pas_job *j = v;
  const tsr__btyd_index *ix = j->ix;
  const tsr_btyd_data *d = j->d;
  const size_t u = d->n, n1 = ix->nxtx, n2 = ix->nxT;
  (void)b;
  for (size_t k = lo; k < hi; k++) {
    const double x = d->x[k], tx = d->t_x[k], T = d->T[k];
    for (size_t q = 0; q < j->nsets; q++) {
      const double *p = j->P[q];
      const double r = p[0], s = p[2];
      double lb, pa, l1, l2;
      double *out = &j->out[q * u + k];
      if (pnbd_quad(p, tx)) {
        *out = pnbd_one(p, x, tx, T, &lb, NULL, &pa) ? NAN : pa;
        continue;
      }
      const size_t i1 = q * n1 + ix->ixtx[k], i2 = q * n2 + ix->ixT[k];
      if (j->st1[i1] != 2 || (tx != T && j->st2[i2] != 2)) {
        *out = NAN;
        continue;
      }
      l1 = j->L1[i1];
      l2 = tx == T ? l1 : j->L2[i2];
      /* as pnbd_one_c (the logs of T and x of the tables: the same values) */
      const double lat = j->lat[q * ix->nT + ix->iT[k]], lbt = j->lbt[q * ix->nT + ix->iT[k]];
      *out = pnbd_bracket(r, s, x, j->ls[q * ix->nx + ix->ix[k]], -(r + x) * lat - s * lbt, NULL,
                          l1, NULL, l2, NULL, &lb, NULL, &pa, NULL)
                 ? NAN
                 : pa;
    }
  }
}

static int pnbd_p_alive_sets(const double (*P)[TSR_BTYD_MAXP], size_t nsets,
                             const tsr_btyd_data *d, int n_threads, double *out) {
  const size_t u = d->n;
  tsr__btyd_index ix;
  if (u == 0 || nsets == 0) return 0;
  if (tsr__btyd_index_build(d, &ix)) return -1;
  const size_t n1 = ix.nxtx, n2 = ix.nxT;
  const size_t nT = ix.nT, nx = ix.nx;
  pnbd_pas_job j = {P, nsets, d, &ix, NULL, NULL, NULL, NULL, NULL, NULL, NULL, out};
  j.st1 = tsr__calloc(nsets * (n1 + n2), 1);
  j.L1 = tsr__malloc_big(nsets * (n1 + n2 + 2 * nT + nx) * sizeof *j.L1);
  if (!j.st1 || !j.L1) {
    tsr__free(j.st1), tsr__free(j.L1);
    tsr__btyd_index_release(&ix);
    return -1;
  }
  j.st2 = j.st1 + nsets * n1;
  j.L2 = j.L1 + nsets * n1;
  j.lat = j.L2 + nsets * n2;
  j.lbt = j.lat + nsets * nT;
  j.ls = j.lbt + nsets * nT;
  for (size_t q = 0; q < nsets; q++) {
    const double r = P[q][0], alpha = P[q][1], s = P[q][2], beta = P[q][3];
    for (size_t i = 0; i < nT; i++) {
      j.lat[q * nT + i] = log(alpha + ix.uT[i]);
      j.lbt[q * nT + i] = log(beta + ix.uT[i]);
    }
    for (size_t i = 0; i < nx; i++) j.ls[q * nx + i] = log(s) - log(r + s + ix.ux[i]);
  }
  /* the pairs the patterns take */
  for (size_t k = 0; k < u; k++) {
    const double tx = d->t_x[k];
    for (size_t q = 0; q < nsets; q++) {
      if (pnbd_quad(P[q], tx)) continue;
      j.st1[q * n1 + ix.ixtx[k]] = 1;
      if (tx != d->T[k]) j.st2[q * n2 + ix.ixT[k]] = 1;
    }
  }
  tsr__parallel_chunks(n_threads, n1 + n2, 1024, pnbd_pas_pairs, &j);
  tsr__parallel_chunks(n_threads, u, 4096, pnbd_pas_pats, &j);
  tsr__free(j.st1);
  tsr__free(j.L1);
  tsr__btyd_index_release(&ix);
  return 0;
}

/* E[Y(t) | x, t_x, T] = (r+x)(beta+T)/(alpha+T) * [1 - ((beta+T)/(beta+T+t))^(s-1)]
 *   / (s-1) * P(alive)   (FH05 section 6, SMC eq. 22). */
static int pnbd_p_alive(const double *p, double x, double tx, double T,
                        double *out) {
  double lb;
  return pnbd_one(p, x, tx, T, &lb, NULL, out);
}

static int pnbd_cond_alive(const double *p, double x, double T, double t,
                           double *out) {
  const double r = p[0], alpha = p[1], s = p[2], beta = p[3];
  *out = (r + x) * (beta + T) / (alpha + T) * pow_ratio((beta + T) / (beta + T + t), s);
  return isfinite(*out) ? 0 : -1;
}

static int pnbd_conditional(const double *p, double x, double tx, double T,
                            double t, double *expected, double *p_alive) {
  double pa, e;
  if (pnbd_p_alive(p, x, tx, T, &pa) || pnbd_cond_alive(p, x, T, t, &e)) return -1;
  *p_alive = pa;
  *expected = pa * e;
  return isfinite(*expected) ? 0 : -1;
}

/* E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)] (FH05 eq. 8). */
static int pnbd_expected_new(const double *p, double t, double *out) {
  *out = p[0] * p[3] / p[1] * pow_ratio(p[3] / (p[3] + t), p[2]);
  return isfinite(*out) ? 0 : -1;
}

/* P(X(t) = n) for a new customer (Fader & Hardie 2006, "Deriving an
 * expression for P(X(t) = x) under the Pareto/NBD model", eq. 18):
 *   G(r+n)/(G(r) n!) (alpha/(alpha+t))^r (t/(alpha+t))^n (beta/(beta+t))^s
 * + alpha^r beta^s B(r+n, s+1)/B(r, s)
 *   * [ B1 - sum_{j=0}^{n} G(r+s+j)/(G(r+s) j!) t^j B2(j) ]
 * with, for alpha >= beta (m = alpha, b2 = s+1, d = alpha-beta; else
 * m = beta, b2 = r+n, d = beta-alpha), c = r+s+n+1:
 *   B1 = 2F1(r+s, b2; c; d/m) / m^(r+s),
 *   B2(j) = 2F1(r+s+j, b2; c; d/(m+t)) / (m+t)^(r+s+j).
 * The bracket (dying before t with n purchases) is summed in logs. */
static int pnbd_pmf_new(const double *p, unsigned n, double t, double *out) {
  const double r = p[0], alpha = p[1], s = p[2], beta = p[3], x = n;
  if (t == 0) {
    *out = n == 0 ? 1.0 : 0.0;
    return 0;
  }
  const double l0 = tsr__lng(r + x) - tsr__lng(r) - tsr__lng(x + 1) +
                    r * log(alpha / (alpha + t)) + x * log(t / (alpha + t)) +
                    s * log(beta / (beta + t));
  const int ab = alpha >= beta;
  const double m = ab ? alpha : beta, b2 = ab ? s + 1 : r + x,
               d = ab ? alpha - beta : beta - alpha, c = r + s + x + 1;
  double lf;
  int sg;
  if (tsr__hyp2f1(r + s, b2, c, d / m, &lf, &sg, NULL) || sg < 0) return -1;
  const double lB1 = lf - (r + s) * log(m);
  /* B1 - sum: B1 is the j -> infinity completion of the sum, so the
   * difference is positive; subtract term by term in scaled space */
  double S = 1.0; /* B1 / e^lB1 */
  for (double j = 0; j <= x; j++) {
    if (tsr__hyp2f1(r + s + j, b2, c, d / (m + t), &lf, &sg, NULL) || sg < 0) return -1;
    double lt = tsr__lng(r + s + j) - tsr__lng(r + s) - tsr__lng(j + 1) +
                j * log(t) + lf - (r + s + j) * log(m + t);
    S -= exp(lt - lB1);
  }
  double v = exp(l0);
  if (S > 0)
    v += exp(r * log(alpha) + s * log(beta) + tsr__lnbeta(r + x, s + 1) -
             tsr__lnbeta(r, s) + lB1 + log(S));
  *out = v;
  return isfinite(v) ? 0 : -1;
}

/* P(X(T, T+t] = n | x, t_x, T): an active customer is a new Pareto/NBD
 * customer with the posterior (r+x, alpha+T, s, beta+T); others buy none. */
static int pnbd_pmf_cond(const double *p, double x, double tx, double T,
                         unsigned n, double t, double *out) {
  const double q[4] = {p[0] + x, p[1] + T, p[2], p[3] + T};
  double pa, f;
  if (pnbd_p_alive(p, x, tx, T, &pa) || pnbd_pmf_new(q, n, t, &f)) return -1;
  *out = (n == 0 ? 1 - pa : 0) + pa * f;
  return isfinite(*out) ? 0 : -1;
}

/* Posterior dropout hazard given alive at T: mu ~ Gamma(s, beta+T). */
static double pnbd_hazard(const double *p, double x, double tx, double T) {
  (void)x, (void)tx;
  return p[2] / (p[3] + T);
}

static void pnbd_start(int k, const tsr_btyd_data *d, double *p) {
  static const double R[8] = {1, 0.5, 0.25, 2, 1, 0.1, 4, 0.5};
  static const double A[8] = {0.5, 0.25, 1, 0.1, 2, 0.05, 0.5, 4};
  static const double S[8] = {1, 0.5, 1, 2, 0.5, 0.25, 3, 1};
  static const double B[8] = {0.5, 0.25, 1, 2, 0.1, 0.05, 4, 1};
  double mT = tsr__btyd_mean_T(d);
  k &= 7;
  p[0] = R[k];
  p[1] = A[k] * mT;
  p[2] = S[k];
  p[3] = B[k] * mT;
}

const tsr__btyd_spec tsr__pnbd_spec = {
    TSR_BTYD_PNBD,     "pnbd",           4, {"r", "alpha", "s", "beta"},
    pnbd_loglik,       pnbd_conditional, pnbd_expected_new,
    pnbd_pmf_new,      pnbd_p_alive,     pnbd_cond_alive,
    pnbd_pmf_cond,     pnbd_hazard,      pnbd_start,
    pnbd_loglik_ix, pnbd_eval_ix,      1, pnbd_p_alive_sets};
