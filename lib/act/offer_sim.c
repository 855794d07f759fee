/*
 * offer_sim.c - the offer response simulator and the policy simulation
 * loop (tessera/bandit.h), plus off-policy evaluation of logged decisions
 * (IPS and doubly robust, cross-fitted).
 */
#include <math.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "internal.h"
#include "tessera/bandit.h"
#include "tessera/simulate.h"

#define D TSR_BANDIT_PROFILE_DIM
#define NP TSR_OFFER_SIM_SEGMENTS

struct tsr_offer_sim {
  tsr_offer_sim_opts o;
  double *x;        /* N x D features */
  unsigned char *seg; /* N personas */
  double *beta;     /* K x D (beta0 in column 0) on standardised features */
  double *gam;      /* K x NP */
  double mean[D], sd[D];
  double *pbest;    /* N */
};

void tsr_offer_sim_opts_init(tsr_offer_sim_opts *o) {
  o->customers = 2000;
  o->offers = 5;
  o->seed = 1;
  o->base_rate = 0.05;
}

void tsr_offer_sim_free(tsr_offer_sim *s) {
  if (!s) return;
  tsr__free(s->x);
  tsr__free(s->seg);
  tsr__free(s->beta);
  tsr__free(s->gam);
  tsr__free(s->pbest);
  tsr__free(s);
}

uint64_t tsr_offer_sim_customers(const tsr_offer_sim *s) { return s->o.customers; }
size_t tsr_offer_sim_offers(const tsr_offer_sim *s) { return s->o.offers; }

void tsr_offer_sim_customer(const tsr_offer_sim *s, uint64_t i, size_t *segment, double x[TSR_BANDIT_PROFILE_DIM]) {
  *segment = s->seg[i];
  memcpy(x, s->x + i * D, D * sizeof *x);
}

double tsr_offer_sim_prob(const tsr_offer_sim *s, uint64_t i, size_t k) {
  const double *x = s->x + i * D, *b = s->beta + k * D;
  double eta = b[0] + s->gam[k * NP + s->seg[i]];
  for (size_t j = 1; j < D; j++) eta += b[j] * (x[j] - s->mean[j]) / s->sd[j];
  return 1 / (1 + exp(-eta));
}

tsr_status tsr_offer_sim_new(const tsr_offer_sim_opts *o, tsr_offer_sim **out, tsr_error *err) {
  *out = NULL;
  if (o->customers < 1 || o->customers > 10000000)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "customers", "expected an integer in [1, 10000000], got %llu", (unsigned long long)o->customers);
  if (o->offers < 2 || o->offers > TSR_BANDIT_MAX_ARMS)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "offers", "expected an integer in [2, %d], got %zu", TSR_BANDIT_MAX_ARMS, o->offers);
  if (!(o->base_rate > 0 && o->base_rate <= 0.5))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "base_rate", "expected a value in (0, 0.5], got %g", o->base_rate);
  tsr_offer_sim *s = tsr__calloc(1, sizeof *s);
  if (!s) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  s->o = *o;
  size_t N = (size_t)o->customers, K = o->offers;
  s->x = tsr__malloc(N * D * sizeof *s->x);
  s->seg = tsr__malloc(N);
  s->beta = tsr__malloc(K * D * sizeof *s->beta);
  s->gam = tsr__malloc(K * NP * sizeof *s->gam);
  s->pbest = tsr__malloc(N * sizeof *s->pbest);
  if (!s->x || !s->seg || !s->beta || !s->gam || !s->pbest) {
    tsr_offer_sim_free(s);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  tsr_simulate_opts so;
  tsr_simulate_opts_init(&so);
  so.customers = o->customers;
  so.seed = o->seed;
  for (size_t i = 0; i < N; i++) {
    tsr_simulate_customer c;
    tsr_status st = tsr_simulate_latent(&so, i, &c, err);
    if (st) {
      tsr_offer_sim_free(s);
      return st;
    }
    /* profile-like features from the latent values: yearly purchases, an
     * activity proxy, mean spend, survival over half a year, a value proxy */
    double f = 52 * c.lambda, spend = so.p / c.nu;
    double alive = exp(-c.p * c.lambda * 26);
    tsr_bandit_profile_features(f, 1 - c.p, 1, spend, alive, f * spend * alive, s->x + i * D);
    s->seg[i] = (unsigned char)(c.persona & 3);
  }
  for (size_t j = 0; j < D; j++) {
    double m = 0, v = 0;
    for (size_t i = 0; i < N; i++) m += s->x[i * D + j];
    m /= (double)N;
    for (size_t i = 0; i < N; i++) v += (s->x[i * D + j] - m) * (s->x[i * D + j] - m);
    s->mean[j] = m;
    s->sd[j] = N > 1 && v > 0 ? sqrt(v / (double)(N - 1)) : 1;
  }
  tsr_rng g;
  tsr_rng_seed(&g, o->seed, 0x0ffe75u);
  double l0 = log(o->base_rate / (1 - o->base_rate));
  for (size_t k = 0; k < K; k++) {
    s->beta[k * D] = l0 + 0.2 * tsr_rng_normal(&g);
    for (size_t j = 1; j < D; j++) s->beta[k * D + j] = 0.6 * tsr_rng_normal(&g);
    for (size_t q = 0; q < NP; q++) s->gam[k * NP + q] = 0.5 * tsr_rng_normal(&g);
  }
  for (size_t i = 0; i < N; i++) {
    double b = 0;
    for (size_t k = 0; k < K; k++) b = fmax(b, tsr_offer_sim_prob(s, i, k));
    s->pbest[i] = b;
  }
  *out = s;
  return TSR_OK;
}

tsr_status tsr_offer_sim_run(const tsr_offer_sim *s, const tsr_bandit_opts *po, int64_t steps,
                             uint64_t seed, int64_t every, tsr_offer_sim_cb cb,
                             tsr_offer_sim_log_cb log, void *ctx, tsr_offer_sim_result *out,
                             tsr_error *err) {
  memset(out, 0, sizeof *out);
  if (steps < 1) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "steps", "expected an integer >= 1, got %lld", (long long)steps);
  tsr_bandit_opts o = *po;
  o.n_arms = s->o.offers;
  o.n_segments = NP;
  o.dim = D;
  o.reward = TSR_REWARD_BINARY;
  tsr_bandit *b = NULL;
  tsr_status st = tsr_bandit_new(&o, &b, err);
  if (st) return st;
  tsr_rng g;
  tsr_rng_seed(&g, seed, 0xbad17u);
  double x[D];
  for (int64_t t = 1; t <= steps; t++) {
    uint64_t i = tsr_rng_bounded(&g, s->o.customers);
    size_t seg, arm;
    double prop;
    tsr_offer_sim_customer(s, i, &seg, x);
    if ((st = tsr_bandit_choose(b, seg, x, NULL, &g, &arm, &prop, err))) break;
    double p = tsr_offer_sim_prob(s, i, arm);
    double r = tsr_rng_uniform(&g) < p ? 1 : 0;
    if ((st = tsr_bandit_update(b, seg, x, arm, r, err))) break;
    out->steps = t;
    out->reward += r;
    out->regret += s->pbest[i] - p;
    out->best_reward += s->pbest[i];
    if (log && log(ctx, i, seg, x, arm, prop, r)) {
      st = tsr_error_set(err, TSR_ECANCELED, NULL, 0, 0, NULL, "canceled");
      break;
    }
    if (cb && ((every > 0 && t % every == 0) || t == steps) && cb(ctx, t, out->reward, out->regret)) {
      st = tsr_error_set(err, TSR_ECANCELED, NULL, 0, 0, NULL, "canceled");
      break;
    }
  }
  tsr_bandit_free(b);
  return st;
}

/* ------------------------------------------------------------ off-policy evaluation */

tsr_status tsr_bandit_replay(const tsr_bandit_opts *po, size_t n, const size_t *segment,
                             const double *x, const size_t *arm, const double *prop,
                             const double *reward, uint64_t seed, double alpha,
                             tsr_ope_result *out, tsr_error *err) {
  memset(out, 0, sizeof *out);
  if (n < 2) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "replay: expected at least 2 logged decisions, got %zu", n);
  if (!(alpha > 0 && alpha < 1)) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "alpha", "expected a value in (0, 1), got %g", alpha);
  tsr_status st = tsr_bandit_check_opts(po, err);
  if (st) return st;
  int lin = po->policy == TSR_BANDIT_LINUCB || po->policy == TSR_BANDIT_LINTS;
  if (lin && !x) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "replay: policy %s needs context features in the log", tsr_bandit_policy_name(po->policy));
  size_t K = po->n_arms, d = po->dim;
  for (size_t i = 0; i < n; i++) {
    if (arm[i] >= K || segment[i] >= po->n_segments)
      return tsr_error_set(err, TSR_EINVAL, NULL, (int64_t)i + 1, 0, NULL, "replay: decision %zu: offer or segment out of range", i + 1);
    if (!(prop[i] > 0 && prop[i] <= 1))
      return tsr_error_set(err, TSR_EINVAL, NULL, (int64_t)i + 1, 0, "propensity", "expected a value in (0, 1], got %g", prop[i]);
    if (!isfinite(reward[i])) return tsr_error_set(err, TSR_EINVAL, NULL, (int64_t)i + 1, 0, "reward", "expected a number");
  }
  double *ips = tsr__malloc(n * sizeof *ips), *dr = tsr__malloc(n * sizeof *dr);
  double *pi = tsr__malloc(K * sizeof *pi), *w = tsr__malloc(n * sizeof *w);
  if (!ips || !dr || !pi || !w) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  tsr_rng g;
  tsr_rng_seed(&g, seed, 0x0e7a1u);
  size_t half = n / 2;
  for (int fold = 0; fold < 2 && st == TSR_OK; fold++) {
    size_t tr0 = fold ? half : 0, tr1 = fold ? n : half, ev0 = fold ? 0 : half, ev1 = fold ? half : n;
    tsr_bandit_opts ro = *po;
    ro.policy = x ? TSR_BANDIT_LINUCB : TSR_BANDIT_EGREEDY; /* the reward model q */
    ro.reward = TSR_REWARD_AMOUNT;
    tsr_bandit *pol = NULL, *q = NULL;
    if ((st = tsr_bandit_new(po, &pol, err)) || (st = tsr_bandit_new(&ro, &q, err))) {
      tsr_bandit_free(pol);
      break;
    }
    for (size_t i = tr0; i < tr1 && st == TSR_OK; i++) {
      const double *xi = x ? x + i * d : NULL;
      double r = reward[i];
      if (po->reward == TSR_REWARD_BINARY) r = r > 0 ? 1 : 0;
      st = tsr_bandit_update(pol, segment[i], xi, arm[i], r, err);
      if (!st) st = tsr_bandit_update(q, segment[i], xi, arm[i], reward[i], err);
    }
    for (size_t i = ev0; i < ev1 && st == TSR_OK; i++) {
      const double *xi = x ? x + i * d : NULL;
      if ((st = tsr_bandit_probs(pol, segment[i], xi, NULL, &g, pi, err))) break;
      double dm = 0;
      for (size_t k = 0; k < K; k++) dm += pi[k] * tsr_bandit_mean(q, segment[i], xi, k);
      w[i] = pi[arm[i]] / prop[i];
      ips[i] = w[i] * reward[i];
      dr[i] = dm + w[i] * (reward[i] - tsr_bandit_mean(q, segment[i], xi, arm[i]));
    }
    tsr_bandit_free(pol);
    tsr_bandit_free(q);
  }
  if (st) goto done;
  double z = gsl_cdf_ugaussian_Qinv(alpha / 2), mi = 0, md = 0, ml = 0, vi = 0, vd = 0, sw = 0, sw2 = 0;
  for (size_t i = 0; i < n; i++) {
    mi += ips[i];
    md += dr[i];
    ml += reward[i];
    sw += w[i];
    sw2 += w[i] * w[i];
  }
  mi /= (double)n;
  md /= (double)n;
  for (size_t i = 0; i < n; i++) {
    vi += (ips[i] - mi) * (ips[i] - mi);
    vd += (dr[i] - md) * (dr[i] - md);
  }
  double sei = sqrt(vi / (double)(n - 1) / (double)n), sed = sqrt(vd / (double)(n - 1) / (double)n);
  out->n = (int64_t)n;
  out->logged = ml / (double)n;
  out->ips = mi;
  out->ips_lo = mi - z * sei;
  out->ips_hi = mi + z * sei;
  out->dr = md;
  out->dr_lo = md - z * sed;
  out->dr_hi = md + z * sed;
  out->ess = sw2 > 0 ? sw * sw / sw2 : 0;
done:
  tsr__free(ips);
  tsr__free(dr);
  tsr__free(pi);
  tsr__free(w);
  return st;
}
