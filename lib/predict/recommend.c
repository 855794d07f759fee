/*
 * recommend.c - next-best-product (tessera/recommend.h): popularity,
 * item-item collaborative filtering with shrinkage, implicit ALS (Hu, Koren
 * & Volinsky 2008, "Collaborative filtering for implicit feedback
 * datasets", eqs. 3-4) and per-product XGBoost propensities, blended with
 * weights chosen on a validation window.
 */
#include "../cluster/cluster_internal.h" /* tsr__parallel_chunks */
#include "evaluate_internal.h"
#include "gbm_internal.h"
#include "internal.h"
#include "predict_internal.h"
#include "recommend_internal.h"
#include "tessera/datetime.h"
#include "tessera/gbm.h"
#include "tessera/recommend.h"
#include "tessera/rng.h"

#include <ctype.h>
#include <stdatomic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { S_POP = 0, S_CF, S_ALS, S_PROP, NS = TSR_NBP_NSCORERS };
static const char *const scorer_names[NS + 1] = {"popularity", "item_cf", "als", "propensity", "blend"};
static const char *const goal_names[TSR_NBP_NGOALS] = {"home", "retirement", "saving", "travel",
                                                       "business_growth"};

#define ALS_K TSR__NBP_ALS_K
#define ALS_ALPHA 20.0
#define ALS_LAMBDA 0.1
#define ALS_SWEEPS 10
#define CF_SHRINK 10.0
/* propensity training rows per product (openers kept, others sampled and
 * weighted by the inverse sampling rate) */
#define PROP_MAX_ROWS 50000
/* propensity predictions per call (bounded memory) */
#define PROP_CHUNK 65536

void tsr_nbp_opts_init(tsr_nbp_opts *o) {
  memset(o, 0, sizeof *o);
  o->cal_end_day = TSR__NODAY;
  o->top = 3;
  o->seed = 42;
}

const char *tsr_nbp_goal_name(int g) {
  return g >= 0 && g < TSR_NBP_NGOALS ? goal_names[g] : "?";
}

static void lower(const char *s, char *b, size_t cap) {
  size_t k = 0;
  for (; *s && k + 1 < cap; s++) b[k++] = (char)tolower((unsigned char)*s);
  b[k] = 0;
}

/* Goal family of a product name, or -1 (docs/predict.md). */
static int goal_of(const char *name) {
  char b[128];
  lower(name, b, sizeof b);
  if (strstr(b, "business")) return 4;
  if (strstr(b, "mortgage") || strstr(b, "home")) return 0;
  if (strstr(b, "pension") || strstr(b, "retire")) return 1;
  if (strstr(b, "saving") || strstr(b, "invest") || strstr(b, "deposit") || strstr(b, "fund")) return 2;
  if (strstr(b, "travel") || strstr(b, "currency") || strstr(b, "fx")) return 3;
  return -1;
}

/* Product rules: age limits and business-only. */
typedef struct rule {
  double min_age, max_age; /* inclusive min, exclusive max; NaN = none */
  int business_only;
} rule;

static rule rule_of(const char *name) {
  char b[128];
  lower(name, b, sizeof b);
  rule r = {NAN, NAN, 0};
  if (strstr(b, "business")) r.business_only = 1;
  if (strstr(b, "student")) r.min_age = 18, r.max_age = 26;
  else if (strstr(b, "junior") || strstr(b, "child")) r.min_age = 0, r.max_age = 18;
  else if (strstr(b, "mortgage")) r.min_age = 18, r.max_age = 71;
  else if (strstr(b, "pension")) r.min_age = 18, r.max_age = 75;
  else if (strstr(b, "loan") || strstr(b, "credit") || strstr(b, "card")) r.min_age = 18;
  return r;
}

/* The propensity features of the last cutoff scored: the next cutoff
 * (c + W) trains on them (score_propensity). With them, buffers kept from
 * one cutoff to the next (each cutoff fills them whole), so that the big
 * ones are not given back and faulted in fresh (zeroed pages) three times:
 * the other cutoff's features, the churn features and the n x P tables of
 * the scorers (pool, see set_recycle). */
typedef struct propcache {
  int32_t day; /* TSR__NODAY: empty */
  float *x;
  uint8_t *active, *held;
  float *xs;                  /* a spare x */
  uint8_t *as, *hs;           /* a spare active, held */
  float *fx;                  /* prop_features' churn features */
  uint8_t *cand0, *rel0;      /* score_propensity's training candidates, openings */
  float *S[TSR_NBP_NSCORERS]; /* the scorers' n x P scores */
  uint8_t *cand, *sheld, *sactive;
  int16_t *cfbest;
  int poison; /* tsr__nbp_test.poison */
} propcache;

static void propcache_release(propcache *pc) {
  tsr__free(pc->x);
  tsr__free(pc->active);
  tsr__free(pc->held);
  tsr__free(pc->xs);
  tsr__free(pc->as);
  tsr__free(pc->hs);
  tsr__free(pc->fx);
  tsr__free(pc->cand0);
  tsr__free(pc->rel0);
  for (int k = 0; k < TSR_NBP_NSCORERS; k++) tsr__free(pc->S[k]);
  tsr__free(pc->cand);
  tsr__free(pc->sheld);
  tsr__free(pc->sactive);
  tsr__free(pc->cfbest);
  int poison = pc->poison;
  memset(pc, 0, sizeof *pc);
  pc->day = TSR__NODAY;
  pc->poison = poison;
}

/* The buffer kept in *slot (emptied), else a new one of bytes (filled
 * with 0xa5 bytes either way when pc->poison: its user must fill it). */
static void *take(const propcache *pc, void *slot, size_t bytes) {
  void **sl = slot, *p = *sl;
  *sl = NULL;
  if (!p) p = tsr__malloc(bytes ? bytes : 1);
  if (p && pc->poison) memset(p, 0xa5, bytes);
  return p;
}

/* p kept in *slot when it is empty, else freed. */
static void keep(void *slot, void *p) {
  void **sl = slot;
  if (!*sl) *sl = p;
  else tsr__free(p);
}

typedef struct nbp {
  propcache *pc;
  const tsr__pdata *d;
  size_t n, P;
  rule rules[TSR__MAX_PRODUCTS];
  int business_prod[TSR__MAX_PRODUCTS];
  int threads;      /* XGBoost's (0 = all cores) */
  int walk_threads; /* the propensity walks' (all cores resolved) */
  uint64_t seed;
  size_t chunk; /* propensity rows predicted per call */
  int ref_rank; /* tsr__nbp_test.ref_rank */
} nbp;

/* Ownership at day c (open and not closed by c). */
static void ownership(const nbp *s, int32_t c, uint8_t *held) {
  memset(held, 0, s->n * s->P);
  for (size_t i = 0; i < s->n; i++)
    for (size_t k = s->d->pev_off[i]; k < s->d->pev_off[i + 1] && s->d->pev[k].day <= c; k++)
      held[i * s->P + (size_t)s->d->pev[k].product] = (uint8_t)s->d->pev[k].open;
}

/* Candidates at c: active customer, not held, eligible. */
static void candidates(const nbp *s, int32_t c, const uint8_t *held, const uint8_t *active,
                       uint8_t *cand) {
  const tsr__pdata *d = s->d;
  for (size_t i = 0; i < s->n; i++) {
    int business = d->business ? d->business[i] : 0;
    for (size_t p = 0; p < s->P && !business; p++)
      if (held[i * s->P + p] && s->business_prod[p]) business = 1;
    double age = NAN;
    if (d->has_customers && d->birth[i] != TSR__NODAY) age = (double)(c - d->birth[i]) / 365.25;
    for (size_t p = 0; p < s->P; p++) {
      uint8_t ok = active[i] && !held[i * s->P + p];
      const rule *r = &s->rules[p];
      if (ok && r->business_only && !business) ok = 0;
      if (ok && !isnan(age) && !isnan(r->min_age) && age < r->min_age) ok = 0;
      if (ok && !isnan(age) && !isnan(r->max_age) && age >= r->max_age) ok = 0;
      cand[i * s->P + p] = ok;
    }
  }
}

/* Products opened in (c, c+W] that were not held at c (rel[i*P+p] = 1). */
static void openings(const nbp *s, int32_t c, int32_t W, const uint8_t *held, uint8_t *rel) {
  memset(rel, 0, s->n * s->P);
  for (size_t i = 0; i < s->n; i++)
    for (size_t k = s->d->pev_off[i]; k < s->d->pev_off[i + 1]; k++) {
      const tsr__pevent *e = &s->d->pev[k];
      if (e->day > c && e->day <= c + W && e->open && !held[i * s->P + (size_t)e->product])
        rel[i * s->P + (size_t)e->product] = 1;
    }
}

/* ------------------------------------------------------------ scorers */

static void score_popularity(const nbp *s, int32_t c, float *out) {
  double cnt[TSR__MAX_PRODUCTS] = {0};
  for (size_t i = 0; i < s->n; i++)
    for (size_t k = s->d->pev_off[i]; k < s->d->pev_off[i + 1]; k++) {
      const tsr__pevent *e = &s->d->pev[k];
      if (e->open && e->day <= c && c - e->day < 365) cnt[e->product] += 1;
    }
  for (size_t i = 0; i < s->n; i++)
    for (size_t p = 0; p < s->P; p++) out[i * s->P + p] = (float)cnt[p];
}

/* Cosine similarity with shrinkage; best[i*P+p] = the held product
 * contributing most (for the reason). */
static void score_cf(const nbp *s, const uint8_t *held, float *out, int16_t *best) {
  size_t P = s->P;
  double *co = tsr__calloc(P * P, sizeof *co);
  if (!co) return;
  for (size_t i = 0; i < s->n; i++) {
    const uint8_t *h = held + i * P;
    for (size_t a = 0; a < P; a++)
      if (h[a])
        for (size_t b = 0; b < P; b++)
          if (h[b]) co[a * P + b] += 1;
  }
  double *sim = tsr__calloc(P * P, sizeof *sim);
  if (!sim) { tsr__free(co); return; }
  for (size_t a = 0; a < P; a++)
    for (size_t b = 0; b < P; b++)
      if (a != b) sim[a * P + b] = co[a * P + b] / (sqrt(co[a * P + a] * co[b * P + b]) + CF_SHRINK);
  for (size_t i = 0; i < s->n; i++) {
    const uint8_t *h = held + i * P;
    for (size_t b = 0; b < P; b++) {
      double v = 0, bv = 0;
      int16_t ba = -1;
      for (size_t a = 0; a < P; a++)
        if (h[a]) {
          v += sim[a * P + b];
          if (sim[a * P + b] > bv) { bv = sim[a * P + b]; ba = (int16_t)a; }
        }
      out[i * P + b] = (float)v;
      best[i * P + b] = ba;
    }
  }
  tsr__free(co);
  tsr__free(sim);
}

/* Solves A x = b (k x k, symmetric positive definite) by Cholesky in place. */
static int chol_solve(double *A, double *b, int k) {
  for (int j = 0; j < k; j++) {
    double s = A[j * k + j];
    for (int m = 0; m < j; m++) s -= A[j * k + m] * A[j * k + m];
    if (!(s > 0)) return -1;
    A[j * k + j] = sqrt(s);
    for (int i = j + 1; i < k; i++) {
      double t = A[i * k + j];
      for (int m = 0; m < j; m++) t -= A[i * k + m] * A[j * k + m];
      A[i * k + j] = t / A[j * k + j];
    }
  }
  for (int i = 0; i < k; i++) {
    double t = b[i];
    for (int m = 0; m < i; m++) t -= A[i * k + m] * b[m];
    b[i] = t / A[i * k + i];
  }
  for (int i = k - 1; i >= 0; i--) {
    double t = b[i];
    for (int m = i + 1; m < k; m++) t -= A[m * k + i] * b[m];
    b[i] = t / A[i * k + i];
  }
  return 0;
}

/* Ownership patterns of the ALS users: customers holding the same products
 * have the same normal equations in the user half-step (eq. 4 depends on u
 * only through its row of held), so it is solved once per distinct row and
 * the solution shared. of[u] = pattern of customer u, rep[j] = the first
 * customer of pattern j (rep is increasing). */
typedef struct als_pat {
  size_t npat;
  size_t *of, *rep;
} als_pat;

static void als_pat_release(als_pat *ap) {
  tsr__free(ap->of);
  tsr__free(ap->rep);
  ap->of = ap->rep = NULL;
  ap->npat = 0;
}

/* distinct = 0: one pattern per customer (every customer solved; the
 * reference the memo is tested against). */
static tsr_status als_patterns(const uint8_t *held, size_t n, size_t P, int distinct, als_pat *ap,
                               tsr_error *err) {
  size_t cap = 16;
  while (cap < 2 * n) cap *= 2;
  size_t *slot = distinct ? tsr__calloc(cap, sizeof *slot) : NULL;
  ap->npat = 0;
  ap->of = tsr__malloc((n ? n : 1) * sizeof *ap->of);
  ap->rep = tsr__malloc((n ? n : 1) * sizeof *ap->rep);
  if (!ap->of || !ap->rep || (distinct && !slot)) {
    tsr__free(slot);
    als_pat_release(ap);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  for (size_t u = 0; u < n; u++) {
    const uint8_t *row = held + u * P;
    size_t j = ap->npat;
    if (distinct) { /* open addressing; slot = pattern + 1, 0 = empty */
      size_t h = (size_t)tsr__hash_bytes(row, P, 0) & (cap - 1);
      while (slot[h] && memcmp(held + ap->rep[slot[h] - 1] * P, row, P)) h = (h + 1) & (cap - 1);
      if (slot[h]) j = slot[h] - 1;
      else slot[h] = j + 1;
    }
    if (j == ap->npat) ap->rep[ap->npat++] = u;
    ap->of[u] = j;
  }
  tsr__free(slot);
  return TSR_OK;
}

/* One ALS half-step (Hu, Koren & Volinsky 2008, eqs. 4-5): solves the
 * factors F against the fixed G, r(u, i) = held. users: F = the patterns'
 * user factors (npat rows), G = the item factors (P rows); else F = the
 * item factors, G = the patterns' user factors, every customer counted (in
 * customer order, so the sums are those of solving each customer). */
static tsr_status als_step(const uint8_t *held, size_t n, size_t P, const als_pat *ap, int users,
                           double *F, const double *G, tsr_error *err) {
  const size_t k = ALS_K;
  double GtG[ALS_K * ALS_K] = {0};
  if (users) {
    for (size_t g = 0; g < P; g++)
      for (size_t a = 0; a < k; a++)
        for (size_t b = 0; b < k; b++) GtG[a * k + b] += G[g * k + a] * G[g * k + b];
    for (size_t j = 0; j < ap->npat; j++) {
      const uint8_t *h = held + ap->rep[j] * P;
      double A[ALS_K * ALS_K], bb[ALS_K] = {0};
      memcpy(A, GtG, sizeof A);
      for (size_t a = 0; a < k; a++) A[a * k + a] += ALS_LAMBDA;
      int any = 0;
      for (size_t g = 0; g < P; g++) {
        if (!h[g]) continue;
        any = 1;
        const double *y = G + g * k;
        for (size_t a = 0; a < k; a++) {
          bb[a] += (1 + ALS_ALPHA) * y[a];
          for (size_t b = 0; b < k; b++) A[a * k + b] += ALS_ALPHA * y[a] * y[b];
        }
      }
      if (!any || chol_solve(A, bb, ALS_K)) memset(bb, 0, sizeof bb);
      memcpy(F + j * k, bb, sizeof bb);
    }
    return TSR_OK;
  }
  /* items: accumulate over the customers per item. With few patterns the
   * terms x_a x_b, alpha x_a x_b and (1 + alpha) x_a of each pattern are
   * computed once (the same expressions, so the same values) and added per
   * customer. */
  enum { XX = 0, AXX = ALS_K * ALS_K, LIN = 2 * ALS_K * ALS_K, TAB = 2 * ALS_K * ALS_K + ALS_K };
  double *A = tsr__malloc(P * k * k * sizeof *A), *bb = tsr__calloc(P * k, sizeof *bb);
  double *tab = ap->npat * 4 <= n ? tsr__malloc((ap->npat ? ap->npat : 1) * TAB * sizeof *tab) : NULL;
  if (!A || !bb || (ap->npat * 4 <= n && !tab)) {
    tsr__free(A);
    tsr__free(bb);
    tsr__free(tab);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  if (tab)
    for (size_t j = 0; j < ap->npat; j++) {
      const double *x = G + j * k;
      double *t = tab + j * TAB;
      for (size_t a = 0; a < k; a++) {
        t[LIN + a] = (1 + ALS_ALPHA) * x[a];
        for (size_t b = 0; b < k; b++) {
          t[XX + a * k + b] = x[a] * x[b];
          t[AXX + a * k + b] = ALS_ALPHA * x[a] * x[b];
        }
      }
    }
  if (tab)
    for (size_t u = 0; u < n; u++) {
      const double *t = tab + ap->of[u] * TAB;
      for (size_t a = 0; a < k * k; a++) GtG[a] += t[XX + a];
    }
  else
    for (size_t u = 0; u < n; u++) {
      const double *x = G + ap->of[u] * k;
      for (size_t a = 0; a < k; a++)
        for (size_t b = 0; b < k; b++) GtG[a * k + b] += x[a] * x[b];
    }
  for (size_t p = 0; p < P; p++) {
    memcpy(A + p * k * k, GtG, sizeof GtG);
    for (size_t a = 0; a < k; a++) A[p * k * k + a * k + a] += ALS_LAMBDA;
  }
  for (size_t u = 0; u < n; u++) {
    const double *x = G + ap->of[u] * k, *t = tab ? tab + ap->of[u] * TAB : NULL;
    for (size_t p = 0; p < P; p++) {
      if (!held[u * P + p]) continue;
      double *Ap = A + p * k * k, *bp = bb + p * k;
      if (t) {
        for (size_t a = 0; a < k; a++) bp[a] += t[LIN + a];
        for (size_t a = 0; a < k * k; a++) Ap[a] += t[AXX + a];
      } else {
        for (size_t a = 0; a < k; a++) {
          bp[a] += (1 + ALS_ALPHA) * x[a];
          for (size_t b = 0; b < k; b++) Ap[a * k + b] += ALS_ALPHA * x[a] * x[b];
        }
      }
    }
  }
  for (size_t p = 0; p < P; p++) {
    if (chol_solve(A + p * k * k, bb + p * k, ALS_K)) memset(bb + p * k, 0, k * sizeof *bb);
    memcpy(F + p * k, bb + p * k, k * sizeof *bb);
  }
  tsr__free(A);
  tsr__free(bb);
  tsr__free(tab);
  return TSR_OK;
}

tsr_status tsr__nbp_als(const uint8_t *held, size_t n, size_t P, uint64_t seed, int memo,
                        float *out, double *xu, double *yi, tsr_error *err) {
  als_pat ap = {0, NULL, NULL};
  tsr_status st = als_patterns(held, n, P, memo, &ap, err);
  if (st != TSR_OK) return st;
  double *X = tsr__calloc((ap.npat ? ap.npat : 1) * ALS_K, sizeof *X);
  double *Y = tsr__malloc(P * ALS_K * sizeof *Y);
  if (!X || !Y) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  tsr_rng g;
  tsr_rng_seed(&g, seed, 0xa15);
  for (size_t i = 0; i < P * ALS_K; i++) Y[i] = 0.1 * tsr_rng_normal(&g);
  for (int it = 0; it < ALS_SWEEPS; it++) {
    if ((st = als_step(held, n, P, &ap, 1, X, Y, err)) != TSR_OK) goto done;
    if ((st = als_step(held, n, P, &ap, 0, Y, X, err)) != TSR_OK) goto done;
  }
  for (size_t u = 0; u < n; u++) {
    size_t j = ap.of[u], r = ap.rep[j];
    if (r < u) { /* a pattern seen before: its scores */
      memcpy(out + u * P, out + r * P, P * sizeof *out);
      continue;
    }
    for (size_t p = 0; p < P; p++) {
      double v = 0;
      for (size_t a = 0; a < ALS_K; a++) v += X[j * ALS_K + a] * Y[p * ALS_K + a];
      out[u * P + p] = (float)v;
    }
  }
  if (xu)
    for (size_t u = 0; u < n; u++) memcpy(xu + u * ALS_K, X + ap.of[u] * ALS_K, ALS_K * sizeof *X);
  if (yi) memcpy(yi, Y, P * ALS_K * sizeof *Y);
done:
  tsr__free(X);
  tsr__free(Y);
  als_pat_release(&ap);
  return st;
}

static tsr_status score_als(const nbp *s, const uint8_t *held, float *out, tsr_error *err) {
  return tsr__nbp_als(held, s->n, s->P, s->seed, 1, out, NULL, NULL, err);
}

/* Features for propensity: the fixed churn features (the per-product
 * tenure ones repeat ownership) plus ownership. */
static tsr_status prop_features(const nbp *s, int32_t c, int32_t W, float *x, uint8_t *active,
                                uint8_t *held, tsr_error *err) {
  size_t nf = TSR__NPROPFEAT + s->P;
  float *fx = take(s->pc, &s->pc->fx, s->n * TSR__NFEAT * sizeof *fx);
  if (!fx) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  int hb;
  tsr_status st = tsr__churn_features(s->d, c, W, fx, active, NULL, &hb, err);
  if (st == TSR_OK) {
    ownership(s, c, held);
    for (size_t i = 0; i < s->n; i++) {
      memcpy(x + i * nf, fx + i * TSR__NFEAT, TSR__NPROPFEAT * sizeof *x);
      for (size_t p = 0; p < s->P; p++) x[i * nf + TSR__NPROPFEAT + p] = held[i * s->P + p];
    }
  }
  keep(&s->pc->fx, fx);
  return st;
}

/* Propensities of rows[lo..hi) of a job on a thread (score_propensity). */
typedef struct walk_job {
  tsr_gbm *g;
  const float *x;
  const size_t *rows;
  double *pr;
  atomic_int failed; /* then the caller predicts again for the error */
} walk_job;

static void walk_block(void *ctx, size_t b, size_t lo, size_t hi) {
  walk_job *j = ctx;
  (void)b;
  if (tsr__gbm_predict_walk(j->g, j->x, j->rows + lo, hi - lo, j->pr + lo, NULL, NULL) != TSR_OK)
    atomic_store(&j->failed, 1);
}

/* Per-product XGBoost: trained on the candidates at c-W with the openings of
 * (c-W, c], applied to the candidates at c. out = probability (NaN for
 * non-candidates). */
static tsr_status score_propensity(const nbp *s, int32_t c, int32_t W, const uint8_t *cand_c,
                                   float *out, tsr_error *err) {
  size_t n = s->n, P = s->P, nf = TSR__NPROPFEAT + P;
  tsr_status st = TSR_OK;
  propcache *pc = s->pc;
  /* x0 etc.: the features at c - W (the cache's when it has them, else
   * computed into its buffers); x1 etc.: those at c, into the spares */
  int cached = pc->x && pc->day == c - W;
  pc->day = TSR__NODAY;
  int poison = pc->poison;
  pc->poison = poison && !cached; /* the cached features are kept as they are */
  float *x0 = take(pc, &pc->x, n * nf * sizeof *x0);
  uint8_t *a0 = take(pc, &pc->active, n), *h0 = take(pc, &pc->held, n * P);
  pc->poison = poison;
  float *x1 = take(pc, &pc->xs, n * nf * sizeof *x1);
  uint8_t *a1 = take(pc, &pc->as, n), *h1 = take(pc, &pc->hs, n * P);
  uint8_t *cand0 = take(pc, &pc->cand0, n * P), *rel0 = take(pc, &pc->rel0, n * P);
  /* xt: the training rows (grown as needed; about PROP_MAX_ROWS), then a
   * chunk of the rows predicted */
  const size_t chunk = s->chunk;
  size_t xcap = chunk;
  float *xt = tsr__malloc(xcap * nf * sizeof *xt), *yt = tsr__malloc(n * sizeof *yt);
  float *wt = tsr__malloc(n * sizeof *wt);
  double *pr = tsr__malloc((n ? n : 1) * sizeof *pr);
  size_t *rows = tsr__malloc((n ? n : 1) * sizeof *rows);
  if (!x0 || !x1 || !a0 || !a1 || !h0 || !h1 || !cand0 || !rel0 || !xt || !yt || !wt || !pr || !rows) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  if (!cached && (st = prop_features(s, c - W, W, x0, a0, h0, err)) != TSR_OK) goto done;
  if ((st = prop_features(s, c, W, x1, a1, h1, err)) != TSR_OK) goto done;
  candidates(s, c - W, h0, a0, cand0);
  openings(s, c - W, W, h0, rel0);
  for (size_t i = 0; i < n * P; i++) out[i] = NAN;
  for (size_t p = 0; p < P; p++) {
    size_t m = 0, pos = 0;
    /* at most PROP_MAX_ROWS training rows per product: every customer who
     * opened it, and a seeded sample of the others */
    size_t ncand = 0, nopen = 0;
    for (size_t i = 0; i < n; i++)
      if (cand0[i * P + p]) { ncand++; nopen += rel0[i * P + p]; }
    double keep = ncand > PROP_MAX_ROWS && ncand > nopen
                      ? (double)(PROP_MAX_ROWS - (nopen < PROP_MAX_ROWS / 2 ? nopen : PROP_MAX_ROWS / 2)) /
                            (double)(ncand - nopen)
                      : 1.0;
    tsr_rng rg;
    tsr_rng_seed(&rg, s->seed, 0x9e0 + p);
    double wneg = keep < 1 ? 1.0 / keep : 1.0;
    for (size_t i = 0; i < n; i++) {
      if (!cand0[i * P + p]) continue;
      if (!rel0[i * P + p] && keep < 1 && tsr_rng_uniform(&rg) >= keep) continue;
      if (m == xcap && tsr__grow((void **)&xt, &xcap, m + 1, nf * sizeof *xt) != TSR_OK) {
        st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
        goto done;
      }
      wt[m] = rel0[i * P + p] ? 1.0f : (float)wneg;
      memcpy(xt + m * nf, x0 + i * nf, nf * sizeof *xt);
      yt[m] = rel0[i * P + p];
      pos += rel0[i * P + p];
      m++;
    }
    /* the training base rate when a model cannot be fitted */
    double base = m ? (double)pos / (double)m : 0;
    int fitted = 0;
    tsr_gbm *g = NULL;
    if (pos >= 5 && m - pos >= 5) {
      tsr_gbm_params gp;
      tsr_gbm_params_init(&gp);
      gp.threads = s->threads;
      gp.seed = s->seed + p;
      gp.max_depth = 3;
      gp.n_rounds = 100;
      gp.eta = 0.2;
      gp.early_stopping = 20;
      gp.tree_method = TSR_GBM_HIST;
      tsr_gbm_data gd = {m, nf, xt, yt, keep < 1 ? wt : NULL};
      /* a model that cannot be trained is an error, not a silent base rate
       * (a missing XGBoost library must not look like AUC 0.5) */
      if ((st = tsr_gbm_train(&gp, &gd, NULL, &g, NULL, err)) != TSR_OK) goto done;
      fitted = 1;
    }
    /* the candidates at c, chunk rows at a time (a row's prediction does
     * not depend on the others): the first chunk alone (it checks the
     * walk against XGBoost), the others on the threads unless XGBoost
     * predicts (its booster is not shared between threads) */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
      if (cand_c[i * P + p]) rows[k++] = i;
    if (fitted && k) {
      size_t k0 = k < chunk ? k : chunk;
      int fb = 0;
      if ((st = tsr__gbm_predict_walk(g, x1, rows, k0, pr, &fb, err)) == TSR_OK && k > k0) {
        walk_job job = {g, x1, rows + k0, pr + k0, 0};
        tsr__parallel_chunks(fb ? 1 : s->walk_threads, k - k0, chunk, walk_block, &job);
        if (job.failed)
          st = tsr__gbm_predict_walk(g, x1, rows + k0, k - k0, pr + k0, NULL, err);
      }
    }
    for (size_t j = 0; j < k && st == TSR_OK; j++)
      out[rows[j] * P + p] = fitted ? (float)pr[j] : (float)base;
    tsr_gbm_free(g);
    if (st != TSR_OK) goto done;
  }
done:
  /* c's features kept for the cutoff c + W; c - W's buffers the spares */
  if (st == TSR_OK) pc->day = c;
  keep(&pc->x, x1); keep(&pc->active, a1); keep(&pc->held, h1);
  keep(&pc->xs, x0); keep(&pc->as, a0); keep(&pc->hs, h0);
  keep(&pc->cand0, cand0); keep(&pc->rel0, rel0);
  tsr__free(xt); tsr__free(yt); tsr__free(wt); tsr__free(pr);
  tsr__free(rows);
  return st;
}

/* All scorers at cutoff c (window W): S[s] = n*P raw scores; cand, held,
 * cfbest filled. */
typedef struct scored_set {
  float *S[NS];
  uint8_t *cand, *held, *active;
  int16_t *cfbest;
  double mean[NS], sd[NS];
} scored_set;

/* z's buffers kept in pc for the next cutoff (freed when pc has some). */
static void set_recycle(propcache *pc, scored_set *z) {
  for (int k = 0; k < NS; k++) keep(&pc->S[k], z->S[k]);
  keep(&pc->cand, z->cand);
  keep(&pc->sheld, z->held);
  keep(&pc->sactive, z->active);
  keep(&pc->cfbest, z->cfbest);
  memset(z, 0, sizeof *z);
}

static void set_free(scored_set *z) {
  for (int k = 0; k < NS; k++) tsr__free(z->S[k]);
  tsr__free(z->cand);
  tsr__free(z->held);
  tsr__free(z->active);
  tsr__free(z->cfbest);
  memset(z, 0, sizeof *z);
}

static tsr_status score_all(const nbp *s, int32_t c, int32_t W, const int *need, scored_set *z,
                            tsr_error *err) {
  size_t n = s->n, P = s->P;
  memset(z, 0, sizeof *z);
  int nomem = 0;
  propcache *pc = s->pc;
  /* the previous cutoff's buffers (each is filled whole); those of the
   * scorers not needed now freed */
  for (int k = 0; k < NS; k++) {
    if (need[k]) nomem |= !(z->S[k] = take(pc, &pc->S[k], n * P * sizeof(float)));
    else { tsr__free(pc->S[k]); pc->S[k] = NULL; }
  }
  z->cand = take(pc, &pc->cand, n * P);
  z->held = take(pc, &pc->sheld, n * P);
  z->active = take(pc, &pc->sactive, n);
  if (need[S_CF]) nomem |= !(z->cfbest = take(pc, &pc->cfbest, n * P * sizeof *z->cfbest));
  else { tsr__free(pc->cfbest); pc->cfbest = NULL; }
  tsr_status st = TSR_OK;
  if (nomem || !z->cand || !z->held || !z->active) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  /* active = a purchase by c */
  for (size_t i = 0; i < n; i++) {
    z->active[i] = (uint8_t)tsr__ledger_purchase_in(s->d->lg, i, INT32_MIN, c);
  }
  ownership(s, c, z->held);
  candidates(s, c, z->held, z->active, z->cand);
  if (need[S_POP]) score_popularity(s, c, z->S[S_POP]);
  if (need[S_CF]) score_cf(s, z->held, z->S[S_CF], z->cfbest);
  if (need[S_ALS] && (st = score_als(s, z->held, z->S[S_ALS], err)) != TSR_OK) goto done;
  if (need[S_PROP] && (st = score_propensity(s, c, W, z->cand, z->S[S_PROP], err)) != TSR_OK)
    goto done;
  /* standardisation over the candidate pairs */
  for (int k = 0; k < NS; k++) {
    if (!need[k]) continue;
    double sum = 0, sq = 0, m = 0;
    for (size_t i = 0; i < n * P; i++)
      if (z->cand[i] && isfinite(z->S[k][i])) {
        sum += z->S[k][i];
        sq += (double)z->S[k][i] * z->S[k][i];
        m += 1;
      }
    z->mean[k] = m ? sum / m : 0;
    double var = m ? sq / m - z->mean[k] * z->mean[k] : 0;
    z->sd[k] = var > 1e-18 ? sqrt(var) : 1;
  }
done:
  if (st != TSR_OK) set_free(z);
  return st;
}

static double zval(const scored_set *z, int k, size_t idx) {
  float v = z->S[k][idx];
  return isfinite(v) ? (v - z->mean[k]) / z->sd[k] : 0;
}

/* z-values of customer i's pairs: zr[p * NS + q]; zr[p * NS] = NaN for a
 * non-candidate (zval is never NaN); 0 for a scorer not computed. */
static void z_row(const nbp *s, const scored_set *z, size_t i, double *zr) {
  for (size_t p = 0; p < s->P; p++) {
    size_t idx = i * s->P + p;
    if (!z->cand[idx]) {
      zr[p * NS] = NAN;
      continue;
    }
    for (int q = 0; q < NS; q++) zr[p * NS + (size_t)q] = z->S[q] ? zval(z, q, idx) : 0;
  }
}

/* Top-k candidates of one customer (z-values zr of z_row) by the blend w
 * (or scorer only >= 0). */
static void rank_z(size_t P, const double *zr, const double *w, int only, size_t k,
                   int32_t *outp, double *outs) {
  for (size_t j = 0; j < k; j++) { outp[j] = -1; outs[j] = -INFINITY; }
  for (size_t p = 0; p < P; p++) {
    const double *zp = zr + p * NS;
    if (isnan(zp[0])) continue;
    double v = 0;
    if (only >= 0) v = zp[only];
    else
      for (int q = 0; q < NS; q++) if (w[q] != 0) v += w[q] * zp[q];
    for (size_t j = 0; j < k; j++)
      if (v > outs[j]) {
        for (size_t t = k - 1; t > j; t--) { outs[t] = outs[t - 1]; outp[t] = outp[t - 1]; }
        outs[j] = v;
        outp[j] = (int32_t)p;
        break;
      }
  }
}

static void rank_user(const nbp *s, const scored_set *z, size_t i, const double *w, int only,
                      size_t k, int32_t *outp, double *outs) {
  double zr[TSR__MAX_PRODUCTS * NS];
  z_row(s, z, i, zr);
  rank_z(s->P, zr, w, only, k, outp, outs);
}

/* The evaluated users us: their z-values (nu * P * NS, z_row each) and
 * opened products (rl[off[u]..off[u+1]]), built once for the blend grid's
 * 66 rankings; ranked: their top 3. */
typedef struct evtab {
  size_t nu;
  double *z;
  size_t *off;
  int32_t *rl, *ranked;
} evtab;

static void evtab_release(evtab *t) {
  tsr__free(t->z);
  tsr__free(t->off);
  tsr__free(t->rl);
  tsr__free(t->ranked);
  memset(t, 0, sizeof *t);
}

static tsr_status evtab_build(const nbp *s, const scored_set *z, const uint8_t *rel,
                              const size_t *us, size_t nu, evtab *t, tsr_error *err) {
  size_t P = s->P, nn = nu ? nu : 1;
  t->nu = nu;
  t->z = tsr__malloc(nn * P * NS * sizeof *t->z);
  t->off = tsr__malloc((nu + 1) * sizeof *t->off);
  t->rl = tsr__malloc(nn * P * sizeof *t->rl);
  t->ranked = tsr__malloc(nn * 3 * sizeof *t->ranked);
  if (!t->z || !t->off || !t->rl || !t->ranked) {
    evtab_release(t);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  t->off[0] = 0;
  for (size_t u = 0; u < nu; u++) {
    size_t i = us[u];
    z_row(s, z, i, t->z + u * P * NS);
    t->off[u + 1] = t->off[u];
    for (size_t p = 0; p < P; p++)
      if (rel[i * P + p]) t->rl[t->off[u + 1]++] = (int32_t)p;
  }
  return TSR_OK;
}

/* Ranking metrics @3 of the users of t by the blend w (or scorer only):
 * rank_z's top 3 (the same sums, the same ties: an earlier product wins),
 * the scorers of weight 0 left out of the loop instead of tested per pair. */
static tsr_status eval_users(const nbp *s, evtab *t, const double *w, int only,
                             tsr_eval_ranking *out, tsr_error *err) {
  const size_t P = s->P;
  if (s->ref_rank) { /* tsr__nbp_test.ref_rank: the reference */
    double sc[3];
    for (size_t u = 0; u < t->nu; u++)
      rank_z(P, t->z + u * P * NS, w, only, 3, t->ranked + u * 3, sc);
    return tsr_eval_ranking_compute(t->ranked, t->nu, 3, t->off, t->rl, out, err);
  }
  int qs[NS], nq = 0;
  for (int q = 0; q < NS; q++)
    if (only < 0 && w[q] != 0) qs[nq++] = q;
  for (size_t u = 0; u < t->nu; u++) {
    const double *zr = t->z + u * P * NS;
    int32_t p0 = -1, p1 = -1, p2 = -1;
    double s0 = -INFINITY, s1 = -INFINITY, s2 = -INFINITY;
    for (size_t p = 0; p < P; p++) {
      const double *zp = zr + p * NS;
      if (isnan(zp[0])) continue;
      double v = 0;
      if (only >= 0) v = zp[only];
      else
        for (int j = 0; j < nq; j++) v += w[qs[j]] * zp[qs[j]];
      if (v > s0) {
        s2 = s1, p2 = p1, s1 = s0, p1 = p0, s0 = v, p0 = (int32_t)p;
      } else if (v > s1) {
        s2 = s1, p2 = p1, s1 = v, p1 = (int32_t)p;
      } else if (v > s2) {
        s2 = v, p2 = (int32_t)p;
      }
    }
    int32_t *rk = t->ranked + u * 3;
    rk[0] = p0, rk[1] = p1, rk[2] = p2;
  }
  return tsr_eval_ranking_compute(t->ranked, t->nu, 3, t->off, t->rl, out, err);
}

/* Users active at c with an opening in (c, c+W]; at most cap (seeded
 * sample by stride). */
static size_t eval_user_list(const nbp *s, const scored_set *z, const uint8_t *rel, size_t *us) {
  size_t nu = 0;
  for (size_t i = 0; i < s->n; i++) {
    if (!z->active[i]) continue;
    for (size_t p = 0; p < s->P; p++)
      if (rel[i * s->P + p]) { us[nu++] = i; break; }
  }
  return nu;
}

static char *str_day(int64_t d, char *b) { return tsr_day_format(d, b); }

tsr_status tsr_nbp_run(const char *dir, const tsr_nbp_opts *opts, tsr_nbp_result **out,
                       tsr_error *err) {
  return tsr__nbp_run(dir, opts, NULL, out, err);
}

/* The options (opts NULL = defaults) into *o, checked; *out = NULL. */
static tsr_status nbp_check(const tsr_nbp_opts *opts, tsr_nbp_opts *o, tsr_nbp_result **out,
                            tsr_error *err) {
  if (opts) *o = *opts;
  else tsr_nbp_opts_init(o);
  if (!out) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "no output");
  *out = NULL;
  if (o->cal_end_day == TSR__NODAY)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "calibration_end", "required");
  if (o->top < 1 || o->top > 50)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "top", "expected 1..50, got %d", o->top);
  if (o->window_days < 0 || o->window_days > 36500)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "window", "expected 1..36500 days, got %lld",
                         (long long)o->window_days);
  return TSR_OK;
}

/* The model on d (read, read-only here), o checked. */
static tsr_status nbp_on(const char *dir, const tsr__pdata *dp, const tsr_nbp_opts *op,
                         const tsr__nbp_test *t, tsr_nbp_result **out, tsr_error *err) {
  const int all_scorers = t && t->all_scorers;
  const tsr__pdata d = *dp; /* a shallow copy: the arrays are only read */
  const tsr_nbp_opts o = *op;
  tsr_status st = TSR_OK;
  tsr_nbp_result *r = NULL;
  scored_set val, ev, now;
  memset(&val, 0, sizeof val);
  memset(&ev, 0, sizeof ev);
  memset(&now, 0, sizeof now);
  uint8_t *rel = NULL;
  size_t *us = NULL;
  propcache pc;
  memset(&pc, 0, sizeof pc);
  pc.day = TSR__NODAY;
  pc.poison = t && t->poison;
  evtab et = {0, NULL, NULL, NULL, NULL}; /* the evaluated users */
  char b1[16], b2[16], b3[16];
  if (!d.has_products || d.nprod < 2) {
    st = tsr_error_set(err, TSR_EINVAL, dir, 0, 0, NULL,
                       "no product events: next-best-product needs products_events.csv with at "
                       "least 2 products");
    goto fail;
  }
  int32_t E = d.last_day, C = (int32_t)o.cal_end_day;
  if (C < d.first_day || C >= E) {
    st = tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "calibration_end",
                       "%s is outside the data: expected a day from %s to the day before %s",
                       str_day(C, b1), str_day(d.first_day, b2), str_day(E, b3));
    goto fail;
  }
  int32_t W = o.window_days ? (int32_t)o.window_days : E - C;
  if ((int64_t)C + W > E) {
    st = tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "window",
                       "%d days after %s end after the last transaction day %s (at most %d)", (int)W,
                       str_day(C, b1), str_day(E, b2), (int)(E - C));
    goto fail;
  }
  if (C - 2 * W < d.first_day) {
    st = tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "window",
                       "%d days is too long: training and validation need two windows before %s, "
                       "which start on %s, before the first transaction day %s; use a shorter "
                       "window or a later calibration end",
                       (int)W, str_day(C, b1), str_day(C - 2 * W, b2), str_day(d.first_day, b3));
    goto fail;
  }
  nbp s;
  memset(&s, 0, sizeof s);
  s.pc = &pc;
  s.d = &d;
  s.n = d.n;
  s.P = d.nprod;
  s.threads = o.threads;
  if (t && t->walk_threads > 0) s.walk_threads = t->walk_threads;
  else if (o.threads > 0) s.walk_threads = o.threads;
  else {
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    s.walk_threads = nc < 1 ? 1 : nc > 8 ? 8 : (int)nc;
  }
  s.seed = o.seed;
  s.chunk = t && t->chunk ? t->chunk : PROP_CHUNK;
  s.ref_rank = t && t->ref_rank;
  for (size_t p = 0; p < s.P; p++) {
    s.rules[p] = rule_of(d.products[p]);
    s.business_prod[p] = s.rules[p].business_only;
  }
  r = tsr__calloc(1, sizeof *r);
  rel = tsr__malloc(s.n * s.P);
  us = tsr__malloc(s.n * sizeof *us);
  if (!r || !rel || !us) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto fail;
  }
  r->cal_end_day = C;
  r->window_days = W;
  r->last_day = E;
  r->nprod = s.P;
  r->products = tsr__calloc(s.P, sizeof *r->products);
  if (!r->products) { st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory"); goto fail; }
  for (size_t p = 0; p < s.P; p++) {
    if (!(r->products[p] = tsr__strdup(d.products[p]))) {
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      goto fail;
    }
    r->goal_of[p] = goal_of(d.products[p]);
  }
  for (int k = 0; k <= NS; k++) r->scorer[k] = scorer_names[k];

  /* 1. validation at C - W: choose the blend weights */
  const int all[NS] = {1, 1, 1, 1};
  if ((st = score_all(&s, C - W, W, all, &val, err)) != TSR_OK) goto fail;
  openings(&s, C - W, W, val.held, rel);
  size_t nu = eval_user_list(&s, &val, rel, us);
  if (nu < 10) {
    st = tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                       "too few openings to choose the blend: %zu customers opened a product "
                       "between %s and %s (need 10)",
                       nu, str_day(C - W + 1, b1), str_day(C, b2));
    goto fail;
  }
  double best = -1, w[NS];
  if ((st = evtab_build(&s, &val, rel, us, nu, &et, err)) != TSR_OK) goto fail;
  for (int a = 0; a <= 10; a++)
    for (int b = 0; a + b <= 10; b++)
      for (int c = 0; a + b + c <= 10; c++) {
        double ww[NS] = {a / 10.0, b / 10.0, c / 10.0, (10 - a - b - c) / 10.0};
        tsr_eval_ranking er;
        if ((st = eval_users(&s, &et, ww, -1, &er, err)) != TSR_OK) goto fail;
        if (er.ndcg > best + 1e-12) {
          best = er.ndcg;
          memcpy(w, ww, sizeof w);
        }
      }
  memcpy(r->weight, w, sizeof w);
  set_recycle(&pc, &val);
  evtab_release(&et);

  /* 2. evaluation at C */
  if ((st = score_all(&s, C, W, all, &ev, err)) != TSR_OK) goto fail;
  openings(&s, C, W, ev.held, rel);
  nu = eval_user_list(&s, &ev, rel, us);
  if (nu == 0) {
    st = tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                       "no customer opened a product between %s and %s: nothing to evaluate",
                       str_day(C + 1, b1), str_day(C + W, b2));
    goto fail;
  }
  r->n_eval_users = nu;
  if ((st = evtab_build(&s, &ev, rel, us, nu, &et, err)) != TSR_OK) goto fail;
  for (int k = 0; k <= NS; k++)
    if ((st = eval_users(&s, &et, w, k < NS ? k : -1, &r->eval[k], err)) != TSR_OK)
      goto fail;
  evtab_release(&et);
  /* per-product propensity AUC on the candidates */
  {
    double *sc = tsr__malloc((s.n ? s.n : 1) * sizeof *sc);
    uint8_t *lab = tsr__malloc(s.n ? s.n : 1);
    if (!sc || !lab) {
      tsr__free(sc);
      tsr__free(lab);
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      goto fail;
    }
    for (size_t p = 0; p < s.P && st == TSR_OK; p++) {
      size_t m = 0, pos = 0;
      for (size_t i = 0; i < s.n; i++)
        if (ev.cand[i * s.P + p]) {
          sc[m] = ev.S[S_PROP][i * s.P + p];
          lab[m] = rel[i * s.P + p];
          pos += lab[m++];
        }
      r->product_openings[p] = pos;
      st = tsr__eval_auc(sc, lab, m, &r->product_auc[p], err);
    }
    tsr__free(sc);
    tsr__free(lab);
    if (st != TSR_OK) goto fail;
  }
  set_recycle(&pc, &ev);

  /* 3. the present: cutoff E, propensities trained on (E-W, E]; a scorer
   * of weight 0 changes neither the ranking nor the reasons and is not
   * computed (the propensities are, for the goals) */
  int need[NS];
  for (int k = 0; k < NS; k++) need[k] = w[k] > 0 || k == S_PROP || all_scorers;
  if ((st = score_all(&s, E, W, need, &now, err)) != TSR_OK) goto fail;
  propcache_release(&pc); /* no cutoff after E */
  r->n = s.n;
  r->top = (size_t)o.top;
  r->customer_id = tsr__calloc(s.n, sizeof *r->customer_id);
  r->rec = tsr__malloc(s.n * r->top * sizeof *r->rec);
  r->goal = tsr__malloc(s.n * sizeof *r->goal);
  int32_t *tp = tsr__malloc(r->top * sizeof *tp);
  double *ts = tsr__malloc(r->top * sizeof *ts);
  if (!r->customer_id || !r->rec || !r->goal || !tp || !ts) {
    tsr__free(tp);
    tsr__free(ts);
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < s.n; i++) {
    if (!(r->customer_id[i] = tsr__strdup(tsr_ledger_customer(d.lg, i)))) {
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      break;
    }
    rank_user(&s, &now, i, w, -1, r->top, tp, ts);
    for (size_t j = 0; j < r->top; j++) {
      tsr_nbp_rec *rc = &r->rec[i * r->top + j];
      rc->product = tp[j];
      rc->score = tp[j] >= 0 ? (float)ts[j] : NAN;
      rc->reason[0] = 0;
      if (tp[j] < 0) continue;
      size_t idx = i * s.P + (size_t)tp[j];
      int bk = 0;
      double bv = -INFINITY;
      for (int k = 0; k < NS; k++)
        if (w[k] > 0 && w[k] * zval(&now, k, idx) > bv) { bv = w[k] * zval(&now, k, idx); bk = k; }
      switch (bk) {
      case S_POP:
        snprintf(rc->reason, sizeof rc->reason, "popular: %.0f openings in the last year",
                 (double)now.S[S_POP][idx]);
        break;
      case S_CF:
        if (now.cfbest[idx] >= 0)
          snprintf(rc->reason, sizeof rc->reason, "often held with %s", d.products[now.cfbest[idx]]);
        else snprintf(rc->reason, sizeof rc->reason, "often held with this customer's products");
        break;
      case S_ALS:
        snprintf(rc->reason, sizeof rc->reason, "held by customers with similar products");
        break;
      default:
        snprintf(rc->reason, sizeof rc->reason, "%s: %.0f %% chance to open in %d days",
                 d.has_customers ? "common at this life stage" : "fits this customer's activity",
                 100.0 * now.S[S_PROP][idx], (int)W);
      }
    }
    for (int g = 0; g < TSR_NBP_NGOALS; g++) {
      double none = 1;
      for (size_t p = 0; p < s.P; p++)
        if (r->goal_of[p] == g && now.cand[i * s.P + p] && isfinite(now.S[S_PROP][i * s.P + p]))
          none *= 1 - now.S[S_PROP][i * s.P + p];
      r->goal[i][g] = (float)(1 - none);
    }
  }
  tsr__free(tp);
  tsr__free(ts);
  if (st != TSR_OK) goto fail;
  set_free(&now);
  tsr__free(rel);
  tsr__free(us);
  evtab_release(&et);
  propcache_release(&pc);
  *out = r;
  return TSR_OK;
fail:
  set_free(&val);
  set_free(&ev);
  set_free(&now);
  tsr__free(rel);
  tsr__free(us);
  evtab_release(&et);
  propcache_release(&pc);
  tsr_nbp_result_free(r);
  return st;
}

tsr_status tsr__nbp_run(const char *dir, const tsr_nbp_opts *opts, const tsr__nbp_test *t,
                        tsr_nbp_result **out, tsr_error *err) {
  tsr_nbp_opts o;
  tsr_status st = nbp_check(opts, &o, out, err);
  if (st != TSR_OK) return st;
  tsr__pdata d;
  st = tsr__pdata_read_tables(dir, o.ledger, o.table_opts, o.tables, &d, err);
  if (st != TSR_OK) return st;
  st = nbp_on(dir, &d, &o, t, out, err);
  tsr__pdata_release(&d);
  return st;
}

tsr_status tsr__nbp_run_pdata(const char *dir, const tsr__pdata *d, const tsr_nbp_opts *opts,
                              tsr_nbp_result **out, tsr_error *err) {
  tsr_nbp_opts o;
  tsr_status st = nbp_check(opts, &o, out, err);
  if (st != TSR_OK) return st;
  if (!d) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "no data");
  return nbp_on(dir, d, &o, NULL, out, err);
}

void tsr_nbp_result_free(tsr_nbp_result *r) {
  if (!r) return;
  if (r->products)
    for (size_t p = 0; p < r->nprod; p++) tsr__free(r->products[p]);
  tsr__free(r->products);
  if (r->customer_id)
    for (size_t i = 0; i < r->n; i++) tsr__free(r->customer_id[i]);
  tsr__free(r->customer_id);
  tsr__free(r->rec);
  tsr__free(r->goal);
  tsr__free(r);
}
