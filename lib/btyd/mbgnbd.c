/*
 * mbgnbd.c - the MBG/NBD model (Batislam, Denizel & Filiztekin 2007,
 * "Empirical validation and comparison of models for customer base
 * analysis", IJRM 24(3):201-209; BDF below).
 *
 * As BG/NBD, but a customer may also drop out right after the first
 * purchase (time 0), so customers with no repeat purchase can be inactive.
 * Parameters: p[0] = r, p[1] = alpha, p[2] = a, p[3] = b (all > 0).
 *   LL = ln G(r+x) - ln G(r) + r ln alpha
 *      + ln G(a+b) + ln G(b+x+1) - ln G(b) - ln G(a+b+x+1)
 *      + ln[ (alpha+T)^-(r+x) + a/(b+x) (alpha+t_x)^-(r+x) ]   (BDF eq. 7)
 * evaluated with log-sum-exp (no overflow at x = 0 or large x).
 */
#include "btyd_internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* log(alpha + t_x) of the patterns (t_x does not come in runs: sorted by
 * x, then T, then t_x): a table of the values seen in this call, by the
 * bits of t_x, two slots a value (its home slot and the other one of the
 * pair); a hit is the log computed before for the same t_x (one log a
 * distinct t_x instead of one a pattern; with one slot a value, a third of
 * the patterns of the 100k bench missed). */
#define MBG_LTX_BITS 11

typedef struct {
  double tx, l; /* l NaN: empty */
} mbg_ltx;

static double ltx_of(mbg_ltx *tab, double alpha, double tx) {
  uint64_t u;
  memcpy(&u, &tx, sizeof u);
  u *= 0x9e3779b97f4a7c15ULL;
  mbg_ltx *e = &tab[u >> (64 - MBG_LTX_BITS)], *o = &tab[(u >> (64 - MBG_LTX_BITS)) ^ 1];
  if (e->tx == tx && !isnan(e->l)) return e->l;
  if (o->tx == tx && !isnan(o->l)) return o->l;
  /* the home slot, unless it is taken and the other one free */
  if (!isnan(e->l) && isnan(o->l)) e = o;
  e->tx = tx;
  e->l = log(alpha + tx);
  return e->l;
}

static int mbgnbd_loglik(const double *p, const tsr_btyd_data *d, double *ll,
                         double *g) {
  const double r = p[0], alpha = p[1], a = p[2], b = p[3];
  const double la = log(alpha), lnr = tsr__lng(r), lab = tsr__lng(a + b),
               lb = tsr__lng(b), psr = tsr__psi(r), psab = tsr__psi(a + b),
               psb = tsr__psi(b), lna = log(a);
  double sum = 0, G[4] = {0, 0, 0, 0};
  double cx = -1, A12 = 0, dA1r = 0, dA2a = 0, dA2b = 0, lbx = 0;
  double cT = -1, lT = 0, iT = 0; /* log(alpha+T), 1/(alpha+T) of the T run */
  const double ra = r / alpha;
  mbg_ltx tab[1 << MBG_LTX_BITS];
  for (size_t k = 0; k < (1u << MBG_LTX_BITS); k++) tab[k].tx = 0, tab[k].l = NAN;
  for (size_t i = 0; i < d->n; i++) {
    const double x = d->x[i], tx = d->t_x[i], T = d->T[i], w = d->weights[i];
    if (x != cx) {
      cx = x;
      lbx = log(b + x);
      A12 = tsr__lng(r + x) - lnr + r * la + lab + tsr__lng(b + x + 1) - lb -
            tsr__lng(a + b + x + 1);
      if (g) {
        double pabx = tsr__psi(a + b + x + 1);
        dA1r = tsr__psi(r + x) - psr + la;
        dA2a = psab - pabx;
        dA2b = psab + tsr__psi(b + x + 1) - psb - pabx;
      }
    }
    if (T != cT) {
      cT = T;
      lT = ltx_of(tab, alpha, T);
      iT = 1 / (alpha + T);
    }
    const double ltx = ltx_of(tab, alpha, tx);
    const double A3 = -(r + x) * lT;
    const double A4 = lna - lbx - (r + x) * ltx;
    const double M = A3 > A4 ? A3 : A4;
    /* the larger term is exp(0) = 1 exactly: one exp */
    const double d3 = A3 - M, d4 = A4 - M;
    const double e3 = d3 == 0 ? 1.0 : exp(d3), e4 = d4 == 0 ? 1.0 : exp(d4);
    sum += w * (A12 + M + log(e3 + e4));
    if (g) {
      const double w3 = e3 / (e3 + e4), w4 = 1 - w3;
      G[0] += w * (dA1r - w3 * lT - w4 * ltx);
      G[1] += w * (ra - w3 * (r + x) * iT -
                   w4 * (r + x) / (alpha + tx));
      G[2] += w * (dA2a + w4 / a);
      G[3] += w * (dA2b - w4 / (b + x));
    }
  }
  *ll = sum;
  if (g)
    for (int k = 0; k < 4; k++) g[k] = G[k];
  return isfinite(sum) ? 0 : -1;
}

/* P(alive) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)) (BDF eq. 9);
 * E[Y(t)|x,t_x,T] = P(alive) (a+b+x)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x)
 *   2F1(r+x, b+x+1; a+b+x; t/(alpha+T+t))]  (BDF eq. 10). */
static int mbgnbd_p_alive(const double *p, double x, double tx, double T,
                          double *out) {
  const double r = p[0], alpha = p[1], a = p[2], b = p[3];
  double l = log(a) - log(b + x) + (r + x) * (log(alpha + T) - log(alpha + tx));
  *out = 1.0 / (1.0 + exp(l));
  return isfinite(*out) ? 0 : -1;
}

/* P(alive) of every pattern of d under the parameter sets P[0..nsets)
 * (spec->p_alive_sets): mbgnbd_p_alive's values with log(a) - log(b+x)
 * once per x and the logs of alpha+T and alpha+t_x once per value (the
 * index of lib/btyd/patindex.c): per pattern one exp. */
typedef struct {
  const double (*P)[TSR_BTYD_MAXP];
  size_t nsets;
  const tsr_btyd_data *d;
  const tsr__btyd_index *ix;
  const double *A, *LT, *Ltx; /* per set: per x, T, t_x */
  double *out;
} mbgnbd_pas_job;

static void mbgnbd_pas_pats(void *v, size_t b, size_t lo, size_t hi) {
  const mbgnbd_pas_job *j = v;
  const tsr__btyd_index *ix = j->ix;
  const size_t u = j->d->n, nx = ix->nx, nT = ix->nT, ntx = ix->ntx;
  (void)b;
  for (size_t k = lo; k < hi; k++) {
    const double x = j->d->x[k];
    for (size_t q = 0; q < j->nsets; q++) {
      const double r = j->P[q][0];
      /* as mbgnbd_p_alive */
      double l = j->A[q * nx + ix->ix[k]] +
                 (r + x) * (j->LT[q * nT + ix->iT[k]] - j->Ltx[q * ntx + ix->itx[k]]);
      double pa = 1.0 / (1.0 + exp(l));
      j->out[q * u + k] = isfinite(pa) ? pa : NAN;
    }
  }
}

static int mbgnbd_p_alive_sets(const double (*P)[TSR_BTYD_MAXP], size_t nsets,
                               const tsr_btyd_data *d, int n_threads, double *out) {
  tsr__btyd_index ix;
  if (d->n == 0 || nsets == 0) return 0;
  if (tsr__btyd_index_build(d, &ix)) return -1;
  const size_t nx = ix.nx, nT = ix.nT, ntx = ix.ntx;
  double *buf = tsr__malloc(nsets * (nx + nT + ntx) * sizeof *buf);
  if (!buf) {
    tsr__btyd_index_release(&ix);
    return -1;
  }
  mbgnbd_pas_job j = {P, nsets, d, &ix, buf, buf + nsets * nx, buf + nsets * (nx + nT), out};
  for (size_t q = 0; q < nsets; q++) {
    const double alpha = P[q][1], a = P[q][2], bb = P[q][3];
    for (size_t i = 0; i < nx; i++) buf[q * nx + i] = log(a) - log(bb + ix.ux[i]);
    for (size_t i = 0; i < nT; i++) buf[nsets * nx + q * nT + i] = log(alpha + ix.uT[i]);
    for (size_t i = 0; i < ntx; i++)
      buf[nsets * (nx + nT) + q * ntx + i] = log(alpha + ix.utx[i]);
  }
  tsr__parallel_chunks(n_threads, d->n, 4096, mbgnbd_pas_pats, &j);
  tsr__free(buf);
  tsr__btyd_index_release(&ix);
  return 0;
}

static int mbgnbd_cond_alive(const double *p, double x, double T, double t,
                             double *out) {
  return tsr__bgnbd_cond_alive(p[2], p[3] + x + 1, p[0] + x, p[1] + T, t, out);
}

static int mbgnbd_conditional(const double *p, double x, double tx, double T,
                              double t, double *expected, double *p_alive) {
  double pa, e;
  if (mbgnbd_p_alive(p, x, tx, T, &pa)) return -1;
  if (mbgnbd_cond_alive(p, x, T, t, &e)) return -1;
  *expected = pa * e;
  *p_alive = pa;
  return isfinite(*expected) && isfinite(pa) ? 0 : -1;
}

/* E[X(t)] = b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))]
 * (BDF eq. 8): the conditional expectation at x = t_x = T = 0. */
static int mbgnbd_expected_new(const double *p, double t, double *out) {
  double pa;
  return mbgnbd_conditional(p, 0, 0, 0, t, out, &pa);
}

static double mbgnbd_hazard(const double *p, double x, double tx, double T) {
  (void)tx;
  return (p[0] + x) / (p[1] + T) * p[2] / (p[2] + p[3] + x + 1);
}

static void mbgnbd_start(int k, const tsr_btyd_data *d, double *p) {
  tsr__bgnbd_spec.start(k, d, p);
}

const tsr__btyd_spec tsr__mbgnbd_spec = {
    TSR_BTYD_MBGNBD,      "mbgnbd",           4, {"r", "alpha", "a", "b"},
    mbgnbd_loglik,        mbgnbd_conditional, mbgnbd_expected_new,
    NULL,                 mbgnbd_p_alive,     mbgnbd_cond_alive,
    NULL,                 mbgnbd_hazard,      mbgnbd_start, NULL, NULL, 0, mbgnbd_p_alive_sets};
