/*
 * btyd_sim.c - draws customer histories from the BTYD models and mean
 * spends from the Gamma-Gamma model (tessera/btyd.h), following each
 * model's story literally (not the likelihood): used by the parameter
 * recovery tests, the benchmarks and `tessera simulate`.
 */
#include "btyd_internal.h"

#include <math.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

/* One customer observed on (0, T]: writes x, t_x. */
static void sim_one(const tsr_btyd_model *m, gsl_rng *g, double T, double *x,
                    double *tx) {
  const double *P = m->params;
  double n = 0, last = 0;
  switch (m->kind) {
    case TSR_BTYD_BGNBD:
    case TSR_BTYD_MBGNBD: {
      /* lambda ~ Gamma(r, 1/alpha), p ~ Beta(a, b); dropout w.p. p after
       * each repeat purchase (MBG/NBD: also at time 0) */
      double lam = gsl_ran_gamma(g, P[0], 1.0 / P[1]);
      double p = gsl_ran_beta(g, P[2], P[3]);
      if (m->kind == TSR_BTYD_MBGNBD && gsl_rng_uniform(g) < p) break;
      double t = 0;
      for (;;) {
        if (!(lam > 0)) break;
        t += gsl_ran_exponential(g, 1.0 / lam);
        if (t > T) break;
        n++;
        last = t;
        if (gsl_rng_uniform(g) < p) break;
      }
      break;
    }
    case TSR_BTYD_PNBD: {
      /* lambda ~ Gamma(r, 1/alpha), mu ~ Gamma(s, 1/beta), lifetime
       * tau ~ Exp(mu); Poisson purchases on (0, min(tau, T)] */
      double lam = gsl_ran_gamma(g, P[0], 1.0 / P[1]);
      double mu = gsl_ran_gamma(g, P[2], 1.0 / P[3]);
      double tau = mu > 0 ? gsl_ran_exponential(g, 1.0 / mu) : INFINITY;
      double end = tau < T ? tau : T, t = 0;
      for (;;) {
        if (!(lam > 0)) break;
        t += gsl_ran_exponential(g, 1.0 / lam);
        if (t > end) break;
        n++;
        last = t;
      }
      break;
    }
    case TSR_BTYD_BGBB: {
      /* p ~ Beta(alpha, beta), theta ~ Beta(gamma, delta); at the start of
       * each of the n opportunities die w.p. theta, else buy w.p. p */
      double p = gsl_ran_beta(g, P[0], P[1]);
      double th = gsl_ran_beta(g, P[2], P[3]);
      long np = (long)floor(T + 0.5);
      for (long i = 1; i <= np; i++) {
        if (gsl_rng_uniform(g) < th) break;
        if (gsl_rng_uniform(g) < p) {
          n++;
          last = (double)i;
        }
      }
      break;
    }
    case TSR_BTYD_GG:
      break;
  }
  *x = n;
  *tx = last;
}

tsr_status tsr_btyd_simulate(const tsr_btyd_model *m, size_t n, double T0,
                             const double *T, uint64_t seed, double *x_out,
                             double *t_x_out, double *T_out, tsr_error *err) {
  tsr_status st;
  if (!m)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "model", "no model");
  if ((st = tsr_btyd_check_params(m->kind, m->params, err))) return st;
  if (m->kind == TSR_BTYD_GG)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "model",
                         "gamma-gamma draws spends: use tsr_gg_simulate");
  if (!T && !(T0 > 0 && isfinite(T0)))
    return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "T",
                         "expected a finite value > 0, got %.17g", T0);
  gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
  if (!g) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  gsl_rng_set(g, (unsigned long)seed);
  for (size_t i = 0; i < n; i++) {
    double Ti = T ? T[i] : T0;
    if (m->kind == TSR_BTYD_BGBB) Ti = floor(Ti + 0.5);
    if (!(Ti > 0) || !isfinite(Ti)) {
      gsl_rng_free(g);
      return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "T",
                           "row %zu: expected a finite value > 0, got %.17g",
                           i + 1, Ti);
    }
    sim_one(m, g, Ti, &x_out[i], &t_x_out[i]);
    T_out[i] = Ti;
  }
  gsl_rng_free(g);
  return TSR_OK;
}

tsr_status tsr_gg_simulate(const tsr_btyd_model *gg, size_t n,
                           const double *x, uint64_t seed, double *m_out,
                           tsr_error *err) {
  tsr_status st;
  if (!gg || gg->kind != TSR_BTYD_GG)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "model",
                         "expected a gamma-gamma model");
  if ((st = tsr_btyd_check_params(TSR_BTYD_GG, gg->params, err))) return st;
  gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
  if (!g) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  gsl_rng_set(g, (unsigned long)seed);
  const double p = gg->params[0], q = gg->params[1], gam = gg->params[2];
  for (size_t i = 0; i < n; i++) {
    /* nu ~ Gamma(q, 1/gamma); the mean of x spends ~ Gamma(p x, 1/(x nu)) */
    double nu = gsl_ran_gamma(g, q, 1.0 / gam);
    m_out[i] = x[i] > 0 ? gsl_ran_gamma(g, p * x[i], 1.0 / (x[i] * nu)) : 0.0;
  }
  gsl_rng_free(g);
  return TSR_OK;
}
