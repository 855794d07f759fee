/*
 * bandit.c - multi-armed bandit policies (tessera/bandit.h): uniform,
 * epsilon-greedy, Thompson sampling per segment, disjoint LinUCB and linear
 * Thompson sampling, all with a minimum exploration rate and an explicit
 * action distribution (the recorded propensity).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "tessera/bandit.h"

static const char *const policy_names[TSR_BANDIT_NPOLICIES] = {"uniform", "egreedy", "thompson",
                                                                "linucb", "lints"};

const char *tsr_bandit_policy_name(tsr_bandit_policy p) {
  return (unsigned)p < TSR_BANDIT_NPOLICIES ? policy_names[p] : "unknown";
}

tsr_status tsr_bandit_policy_parse(const char *s, tsr_bandit_policy *p, tsr_error *err) {
  for (int i = 0; i < TSR_BANDIT_NPOLICIES; i++)
    if (s && !strcmp(s, policy_names[i])) {
      *p = (tsr_bandit_policy)i;
      return TSR_OK;
    }
  return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "policy",
                       "expected uniform, egreedy, thompson, linucb or lints, got '%.64s'",
                       s ? s : "");
}

void tsr_bandit_opts_init(tsr_bandit_opts *o) {
  memset(o, 0, sizeof *o);
  o->policy = TSR_BANDIT_THOMPSON;
  o->n_segments = 1;
  o->dim = TSR_BANDIT_PROFILE_DIM;
  o->reward = TSR_REWARD_BINARY;
  o->epsilon = 0.1;
  o->min_explore = 0.01;
  o->alpha = 1;
  o->lambda = 1;
  o->v = 0.5;
  o->prior_a = o->prior_b = 1;
  o->mc_draws = 256;
}

tsr_status tsr_bandit_check_opts(const tsr_bandit_opts *o, tsr_error *err) {
#define BAD(f, fmt, ...) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, f, fmt, __VA_ARGS__)
  if ((unsigned)o->policy >= TSR_BANDIT_NPOLICIES) BAD("policy", "expected a policy 0..4, got %d", (int)o->policy);
  if (o->n_arms < 1 || o->n_arms > TSR_BANDIT_MAX_ARMS)
    BAD("n_arms", "expected an integer in [1, %d], got %zu", TSR_BANDIT_MAX_ARMS, o->n_arms);
  if (o->n_segments < 1 || o->n_segments > TSR_BANDIT_MAX_SEGMENTS)
    BAD("n_segments", "expected an integer in [1, %d], got %zu", TSR_BANDIT_MAX_SEGMENTS, o->n_segments);
  if (o->dim < 1 || o->dim > TSR_BANDIT_MAX_DIM)
    BAD("dim", "expected an integer in [1, %d], got %zu", TSR_BANDIT_MAX_DIM, o->dim);
  if (o->reward != TSR_REWARD_BINARY && o->reward != TSR_REWARD_AMOUNT)
    BAD("reward", "expected binary or amount, got %d", (int)o->reward);
  if (!(o->epsilon >= 0 && o->epsilon <= 1)) BAD("epsilon", "expected a value in [0, 1], got %g", o->epsilon);
  if (!(o->min_explore >= 0 && o->min_explore <= 1))
    BAD("min_explore", "expected a value in [0, 1], got %g", o->min_explore);
  if (!(o->alpha >= 0 && isfinite(o->alpha))) BAD("alpha", "expected a value >= 0, got %g", o->alpha);
  if (!(o->lambda > 0 && isfinite(o->lambda))) BAD("lambda", "expected a value > 0, got %g", o->lambda);
  if (!(o->v > 0 && isfinite(o->v))) BAD("v", "expected a value > 0, got %g", o->v);
  if (!(o->prior_a > 0 && o->prior_b > 0 && isfinite(o->prior_a) && isfinite(o->prior_b)))
    BAD("prior", "expected Beta prior parameters > 0, got %g, %g", o->prior_a, o->prior_b);
  if (o->mc_draws < 16 || o->mc_draws > 100000)
    BAD("mc_draws", "expected an integer in [16, 100000], got %d", o->mc_draws);
#undef BAD
  return TSR_OK;
}

struct tsr_bandit {
  tsr_bandit_opts o;
  size_t K, S, d;
  double *n, *sum, *sumsq;   /* S x K */
  int64_t *seg_ver;          /* S: updates of the segment */
  /* thompson pi per (segment, set of eligible arms): a cache of NC entries
   * (a power of two); an entry lives in one of the 4 slots after
   * hash(segment, set) */
  size_t NC;
  double *cache;             /* NC x K: pi */
  unsigned char *cache_elig; /* NC x K: the eligible set of the entry */
  uint32_t *cache_seg;       /* NC: the segment of the entry */
  int64_t *cache_ver;        /* NC: seg_ver of the entry (-1 = empty) */
  double *Ainv, *bv;         /* K x d x d, K x d */
  double *work;              /* 4 K + d scratch */
  int64_t updates;
};

void tsr_bandit_free(tsr_bandit *b) {
  if (!b) return;
  tsr__free(b->n);
  tsr__free(b->sum);
  tsr__free(b->sumsq);
  tsr__free(b->seg_ver);
  tsr__free(b->cache);
  tsr__free(b->cache_ver);
  tsr__free(b->cache_elig);
  tsr__free(b->cache_seg);
  tsr__free(b->Ainv);
  tsr__free(b->bv);
  tsr__free(b->work);
  tsr__free(b);
}

tsr_status tsr_bandit_new(const tsr_bandit_opts *o, tsr_bandit **out, tsr_error *err) {
  *out = NULL;
  tsr_status st = tsr_bandit_check_opts(o, err);
  if (st) return st;
  tsr_bandit *b = tsr__calloc(1, sizeof *b);
  if (!b) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  b->o = *o;
  size_t K = b->K = o->n_arms, S = b->S = o->n_segments, d = b->d = o->dim;
  b->n = tsr__calloc(S * K, sizeof *b->n);
  b->sum = tsr__calloc(S * K, sizeof *b->sum);
  b->sumsq = tsr__calloc(S * K, sizeof *b->sumsq);
  b->seg_ver = tsr__calloc(S, sizeof *b->seg_ver);
  /* 8 eligible sets per segment, at most 2^20 cached probabilities */
  size_t NC = 64;
  while (NC < 8 * S && NC * 2 * K <= ((size_t)1 << 20)) NC *= 2;
  b->NC = NC;
  b->cache = tsr__calloc(NC * K, sizeof *b->cache);
  b->cache_ver = tsr__calloc(NC, sizeof *b->cache_ver);
  b->cache_elig = tsr__calloc(NC * K, 1);
  b->cache_seg = tsr__calloc(NC, sizeof *b->cache_seg);
  b->Ainv = tsr__calloc(K * d * d, sizeof *b->Ainv);
  b->bv = tsr__calloc(K * d, sizeof *b->bv);
  b->work = tsr__calloc(4 * K + d, sizeof *b->work);
  if (!b->n || !b->sum || !b->sumsq || !b->seg_ver || !b->cache || !b->cache_ver ||
      !b->cache_elig || !b->cache_seg || !b->Ainv || !b->bv || !b->work) {
    tsr_bandit_free(b);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  for (size_t i = 0; i < NC; i++) b->cache_ver[i] = -1;
  for (size_t k = 0; k < K; k++)
    for (size_t i = 0; i < d; i++) b->Ainv[k * d * d + i * d + i] = 1.0 / o->lambda;
  *out = b;
  return TSR_OK;
}

const tsr_bandit_opts *tsr_bandit_get_opts(const tsr_bandit *b) { return &b->o; }
int64_t tsr_bandit_updates(const tsr_bandit *b) { return b->updates; }

/* *p (old_n items of sz bytes) grown to new_n, the new items zero. */
static int grow_zero(void **p, size_t old_n, size_t new_n, size_t sz) {
  char *q = tsr__realloc(*p, new_n * sz);
  if (!q) return -1;
  memset(q + old_n * sz, 0, (new_n - old_n) * sz);
  *p = q;
  return 0;
}

tsr_status tsr_bandit_grow_segments(tsr_bandit *b, size_t n_segments, tsr_error *err) {
  if (n_segments < b->S || n_segments > TSR_BANDIT_MAX_SEGMENTS)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "n_segments", "expected an integer in [%zu, %d], got %zu",
                         b->S, TSR_BANDIT_MAX_SEGMENTS, n_segments);
  size_t S = b->S, K = b->K;
  /* each array grows on its own: one that grew keeps zeros beyond S * K,
   * which are never read while b->S is the old count */
  if (grow_zero((void **)&b->n, S * K, n_segments * K, sizeof *b->n) ||
      grow_zero((void **)&b->sum, S * K, n_segments * K, sizeof *b->sum) ||
      grow_zero((void **)&b->sumsq, S * K, n_segments * K, sizeof *b->sumsq) ||
      grow_zero((void **)&b->seg_ver, S, n_segments, sizeof *b->seg_ver))
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  b->S = b->o.n_segments = n_segments;
  return TSR_OK;
}

/* Posterior (or empirical) mean reward of arm k in segment s. */
static double seg_mean(const tsr_bandit *b, size_t s, size_t k) {
  double n = b->n[s * b->K + k], sm = b->sum[s * b->K + k];
  if (b->o.reward == TSR_REWARD_BINARY) return (b->o.prior_a + sm) / (b->o.prior_a + b->o.prior_b + n);
  return sm / (n + 1);
}

/* theta_k'x and x'A_k^-1 x. */
static void lin_score(const tsr_bandit *b, size_t k, const double *x, double *mean, double *var) {
  size_t d = b->d;
  const double *A = b->Ainv + k * d * d, *bv = b->bv + k * d;
  double m = 0, v = 0;
  for (size_t i = 0; i < d; i++) {
    double ai = 0, th = 0;
    for (size_t j = 0; j < d; j++) {
      ai += A[i * d + j] * x[j];
      th += A[i * d + j] * bv[j];
    }
    m += th * x[i];
    v += ai * x[i];
  }
  *mean = m;
  *var = v > 0 ? v : 0;
}

double tsr_bandit_mean(const tsr_bandit *b, size_t segment, const double *x, size_t arm) {
  if (arm >= b->K) return NAN;
  if ((b->o.policy == TSR_BANDIT_LINUCB || b->o.policy == TSR_BANDIT_LINTS) && x) {
    double m, v;
    lin_score(b, arm, x, &m, &v);
    return m;
  }
  return seg_mean(b, segment < b->S ? segment : 0, arm);
}

/* Puts mass 1/|ties| on the maxima of score over the eligible arms. */
static void argmax_probs(size_t K, const double *score, const unsigned char *el, double *p) {
  double best = -INFINITY;
  size_t nt = 0;
  for (size_t k = 0; k < K; k++)
    if (!el || el[k]) {
      if (score[k] > best) {
        best = score[k];
        nt = 1;
      } else if (score[k] == best) {
        nt++;
      }
    }
  for (size_t k = 0; k < K; k++) p[k] = (!el || el[k]) && score[k] == best ? 1.0 / (double)nt : 0;
}

/* A draw of arm k's mean reward from the segment posterior. */
static double ts_draw(const tsr_bandit *b, size_t s, size_t k, tsr_rng *g) {
  size_t i = s * b->K + k;
  double n = b->n[i], sm = b->sum[i];
  if (b->o.reward == TSR_REWARD_BINARY) return tsr_rng_beta(g, b->o.prior_a + sm, b->o.prior_b + n - sm);
  double var = 1;
  if (n >= 2) {
    double mu = sm / n;
    var = (b->sumsq[i] - n * mu * mu) / (n - 1);
    if (!(var > 1e-12)) var = 1e-12;
  }
  return sm / (n + 1) + sqrt(var / (n + 1)) * tsr_rng_normal(g);
}

tsr_status tsr_bandit_probs(tsr_bandit *b, size_t segment, const double *x,
                            const unsigned char *el, tsr_rng *g, double *p, tsr_error *err) {
  size_t K = b->K, m = 0;
  if (segment >= b->S)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "segment", "expected an index in [0, %zu), got %zu", b->S, segment);
  for (size_t k = 0; k < K; k++) m += !el || el[k];
  if (m == 0) return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "no eligible offer");
  int lin = b->o.policy == TSR_BANDIT_LINUCB || b->o.policy == TSR_BANDIT_LINTS;
  if (lin && !x) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "x", "policy %s needs the context features", tsr_bandit_policy_name(b->o.policy));
  double *sc = b->work, *mu = b->work + K, *sd = b->work + 2 * K;
  switch (b->o.policy) {
    case TSR_BANDIT_UNIFORM:
      for (size_t k = 0; k < K; k++) p[k] = !el || el[k] ? 1.0 / (double)m : 0;
      return TSR_OK;
    case TSR_BANDIT_EGREEDY:
      for (size_t k = 0; k < K; k++) sc[k] = seg_mean(b, segment, k);
      argmax_probs(K, sc, el, p);
      for (size_t k = 0; k < K; k++)
        if (!el || el[k]) p[k] = b->o.epsilon / (double)m + (1 - b->o.epsilon) * p[k];
      break;
    case TSR_BANDIT_THOMPSON: {
      uint64_t h = 1469598103934665603ULL ^ segment;
      for (size_t k = 0; k < K; k++) h = (h ^ (unsigned)(!el || el[k])) * 1099511628211ULL;
      size_t h0 = (size_t)(h ^ (h >> 29)), slot = SIZE_MAX, spare = SIZE_MAX;
      for (size_t j = 0; j < 4 && slot == SIZE_MAX; j++) {
        size_t i = (h0 + j) & (b->NC - 1);
        int same = b->cache_ver[i] >= 0 && b->cache_seg[i] == segment;
        for (size_t k = 0; same && k < K; k++) same = b->cache_elig[i * K + k] == (unsigned char)(!el || el[k]);
        if (same) slot = i; /* this set's entry, current or stale */
        else if (spare == SIZE_MAX && (b->cache_ver[i] < 0 || b->cache_ver[i] != b->seg_ver[b->cache_seg[i]]))
          spare = i; /* empty or stale */
      }
      if (slot == SIZE_MAX) slot = spare != SIZE_MAX ? spare : h0 & (b->NC - 1);
      double *c = b->cache + slot * K;
      unsigned char *ce = b->cache_elig + slot * K;
      int hit = b->cache_ver[slot] == b->seg_ver[segment] && b->cache_seg[slot] == segment;
      for (size_t k = 0; hit && k < K; k++) hit = ce[k] == (unsigned char)(!el || el[k]);
      if (!hit) {
        for (size_t k = 0; k < K; k++) c[k] = 0;
        for (int t = 0; t < b->o.mc_draws; t++) {
          double best = -INFINITY;
          size_t bk = 0;
          for (size_t k = 0; k < K; k++)
            if (!el || el[k]) {
              double v = ts_draw(b, segment, k, g);
              if (v > best) {
                best = v;
                bk = k;
              }
            }
          c[bk] += 1;
        }
        for (size_t k = 0; k < K; k++) {
          c[k] /= (double)b->o.mc_draws;
          ce[k] = (unsigned char)(!el || el[k]);
        }
        b->cache_ver[slot] = b->seg_ver[segment];
        b->cache_seg[slot] = (uint32_t)segment;
      }
      memcpy(p, c, K * sizeof *p);
      break;
    }
    case TSR_BANDIT_LINUCB:
      for (size_t k = 0; k < K; k++) {
        double mm, v;
        lin_score(b, k, x, &mm, &v);
        sc[k] = mm + b->o.alpha * sqrt(v);
      }
      argmax_probs(K, sc, el, p);
      break;
    case TSR_BANDIT_LINTS:
      for (size_t k = 0; k < K; k++) {
        double v;
        lin_score(b, k, x, &mu[k], &v);
        sd[k] = b->o.v * sqrt(v);
        p[k] = 0;
      }
      for (int t = 0; t < b->o.mc_draws; t++) {
        double best = -INFINITY;
        size_t bk = 0;
        for (size_t k = 0; k < K; k++)
          if (!el || el[k]) {
            double v = mu[k] + sd[k] * tsr_rng_normal(g);
            if (v > best) {
              best = v;
              bk = k;
            }
          }
        p[bk] += 1;
      }
      for (size_t k = 0; k < K; k++) p[k] /= (double)b->o.mc_draws;
      break;
  }
  double e = b->o.min_explore;
  for (size_t k = 0; k < K; k++) p[k] = !el || el[k] ? e / (double)m + (1 - e) * p[k] : 0;
  return TSR_OK;
}

tsr_status tsr_bandit_choose(tsr_bandit *b, size_t segment, const double *x,
                             const unsigned char *el, tsr_rng *g, size_t *arm, double *prop,
                             tsr_error *err) {
  double *p = b->work + 3 * b->K;
  tsr_status st = tsr_bandit_probs(b, segment, x, el, g, p, err);
  if (st) return st;
  double u = tsr_rng_uniform(g), c = 0;
  size_t k = 0, last = 0;
  for (; k < b->K; k++) {
    if (p[k] <= 0) continue;
    last = k;
    c += p[k];
    if (u < c) break;
  }
  if (k >= b->K) k = last; /* rounding: u beyond the total */
  *arm = k;
  *prop = p[k];
  return TSR_OK;
}

tsr_status tsr_bandit_update(tsr_bandit *b, size_t segment, const double *x, size_t arm,
                             double r, tsr_error *err) {
  if (arm >= b->K) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "arm", "expected an index in [0, %zu), got %zu", b->K, arm);
  if (segment >= b->S)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "segment", "expected an index in [0, %zu), got %zu", b->S, segment);
  if (!isfinite(r)) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "reward", "expected a finite number");
  if (b->o.reward == TSR_REWARD_BINARY && r != 0 && r != 1)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "reward", "expected 0 or 1, got %g", r);
  size_t i = segment * b->K + arm;
  b->n[i] += 1;
  b->sum[i] += r;
  b->sumsq[i] += r * r;
  b->seg_ver[segment]++;
  b->updates++;
  if (x) {
    /* Sherman-Morrison: (A + x x')^-1 = A^-1 - (A^-1 x)(A^-1 x)' / (1 + x'A^-1 x) */
    size_t d = b->d;
    double *A = b->Ainv + arm * d * d, *u = b->work + 4 * b->K, den = 1;
    for (size_t r0 = 0; r0 < d; r0++) {
      double s = 0;
      for (size_t j = 0; j < d; j++) s += A[r0 * d + j] * x[j];
      u[r0] = s;
      den += s * x[r0];
    }
    for (size_t r0 = 0; r0 < d; r0++)
      for (size_t j = 0; j < d; j++) A[r0 * d + j] -= u[r0] * u[j] / den;
    for (size_t j = 0; j < d; j++) b->bv[arm * d + j] += r * x[j];
  }
  return TSR_OK;
}

void tsr_bandit_profile_features(double frequency, double recency, double T, double monetary,
                                 double p_alive, double clv, double x[TSR_BANDIT_PROFILE_DIM]) {
  x[0] = 1;
  x[1] = isfinite(frequency) && frequency > 0 ? log1p(frequency) : 0;
  x[2] = isfinite(recency) && isfinite(T) && T > 0 ? fmin(1, fmax(0, recency / T)) : 0;
  x[3] = isfinite(monetary) && monetary > 0 ? log1p(monetary) / 5 : 0;
  x[4] = isfinite(p_alive) ? fmin(1, fmax(0, p_alive)) : 0.5;
  x[5] = isfinite(clv) && clv > 0 ? log1p(clv) / 5 : 0;
}
