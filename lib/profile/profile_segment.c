/*
 * profile_segment.c - segments of the profiles (tessera/profile.h
 * tsr_profiles_segment): behavioural clusters, value tiers, life stage,
 * product affinity, and the micro-segment combining them with small cells
 * merged up (docs/profiles.md "Segments").
 */
#include "internal.h"
#include "profile_internal.h"
#include "tessera/cluster.h"
#include "tessera/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tsr_segment_opts_init(tsr_segment_opts *o) {
  memset(o, 0, sizeof *o);
  o->behaviour_k = 5;
  o->affinity_k = 5;
  o->min_cell = 50;
  o->sample = 50000;
  o->seed = 1;
  o->n_threads = 2;
}

const char *tsr_value_tier_name(int tier) {
  static const char *const n[] = {"top", "high", "medium", "low"};
  return tier >= 0 && tier < 4 ? n[tier] : "none";
}

const char *tsr_profiles_behaviour_name(const tsr_profiles *p, int c) {
  if (c < 0 || (size_t)c >= p->behaviour_k) return "";
  return p->seg_names[p->behaviour_name0 + (size_t)c];
}
const char *tsr_profiles_affinity_name(const tsr_profiles *p, int c) {
  if (c < 0 || (size_t)c >= p->affinity_k) return "";
  return p->seg_names[p->affinity_name0 + (size_t)c];
}
size_t tsr_profiles_nsegments(const tsr_profiles *p) { return p->nseg; }
const tsr_segment_summary *tsr_profiles_segment_get(const tsr_profiles *p, size_t i) {
  return i < p->nseg ? &p->seg[i] : NULL;
}

/* ------------------------------------------------------------ k-means */

/* Fits k-means on a sample of X's rows and assigns every row. */
static tsr_status kmeans_all(const double *X, size_t n, size_t d, size_t k,
                             const tsr_segment_opts *o, double *centers, int *labels,
                             tsr_error *err) {
  size_t m = n < o->sample ? n : o->sample;
  const double *S = X;
  double *own = NULL;
  if (m < n) {
    own = tsr__malloc(m * d * sizeof *own);
    if (!own) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    tsr_rng g;
    tsr_rng_seed(&g, o->seed, 77);
    /* selection sampling (Knuth 3.4.2 S): m rows in order */
    size_t got = 0;
    for (size_t i = 0; i < n && got < m; i++) {
      if ((double)(n - i) * tsr_rng_uniform(&g) < (double)(m - got)) {
        memcpy(own + got * d, X + i * d, d * sizeof *own);
        got++;
      }
    }
    S = own;
    m = got;
  }
  tsr_cluster_opts co;
  tsr_cluster_opts_init(&co);
  co.seed = o->seed;
  co.n_init = 4;
  co.n_threads = o->n_threads;
  if (k > m) k = m;
  tsr_status st = tsr_kmeans_fit(S, m, d, k, &co, centers, NULL, NULL, NULL, err);
  tsr__free(own);
  if (st != TSR_OK) return st;
  for (size_t i = 0; i < n; i++) {
    const double *x = X + i * d;
    double best = INFINITY;
    int bl = 0;
    for (size_t c = 0; c < k; c++) {
      double s = 0;
      for (size_t j = 0; j < d; j++) {
        double t = x[j] - centers[c * d + j];
        s += t * t;
      }
      if (s < best) {
        best = s;
        bl = (int)c;
      }
    }
    labels[i] = bl;
  }
  return TSR_OK;
}

/* ------------------------------------------------------------ features */

#define NNUM 8
static const char *const num_names[NNUM] = {"transactions", "revenue", "digital", "contacts",
                                            "days since last purchase", "products", "sentiment",
                                            "age"};
#define NCAT 2 /* income_band, channel_preference */
#define CAT_MAX 6

/* Numeric behaviour features of profile r (NAN = missing). */
static void num_features(const tsr_profiles *p, const tsr_profile *r, double *f) {
  f[0] = log1p((double)r->tx_count);
  f[1] = log1p(r->tx_amount > 0 ? r->tx_amount : 0);
  f[2] = r->digital_share;
  f[3] = log1p((double)r->service_contacts);
  f[4] = r->last_tx_time == INT64_MIN ? NAN : log1p((double)(p->today - r->last_tx_time / 86400));
  f[5] = (double)r->product_count;
  f[6] = r->sentiment_mean;
  f[7] = r->age;
}

static int add_name(tsr_profiles *p, const char *s) {
  if (tsr__grow((void **)&p->seg_names, &p->nseg_names_cap, p->nseg_names + 1, sizeof *p->seg_names))
    return -1;
  snprintf(p->seg_names[p->nseg_names], sizeof p->seg_names[0], "%s", s);
  p->nseg_names++;
  return 0;
}

static tsr_status behaviour(tsr_profiles *p, const tsr_segment_opts *o, tsr_error *err) {
  size_t n = p->n;
  /* categorical levels: the most frequent CAT_MAX values of each column */
  const char *lev[NCAT][CAT_MAX];
  size_t nlev[NCAT] = {0, 0};
  for (int c = 0; c < NCAT; c++) {
    size_t cnt[64] = {0};
    const char *val[64];
    size_t nv = 0;
    for (size_t i = 0; i < n; i++) {
      const char *s = c == 0 ? p->rows[i].income_band : p->rows[i].channel_preference;
      if (!*s) continue;
      size_t j;
      for (j = 0; j < nv; j++)
        if (val[j] == s) break; /* interned: pointer equality */
      if (j == nv) {
        if (nv == 64) continue;
        val[nv++] = s;
      }
      cnt[j]++;
    }
    for (size_t t = 0; t < CAT_MAX && t < nv; t++) {
      size_t bj = 0;
      for (size_t j = 1; j < nv; j++)
        if (cnt[j] > cnt[bj]) bj = j;
      if (!cnt[bj]) break;
      lev[c][nlev[c]++] = val[bj];
      cnt[bj] = 0;
    }
  }
  size_t d = NNUM + nlev[0] + nlev[1];
  double *X = tsr__malloc(n * d * sizeof *X);
  double *C = tsr__malloc(o->behaviour_k * d * sizeof *C);
  int *lab = tsr__malloc(n * sizeof *lab);
  if (!X || !C || !lab) {
    tsr__free(X);
    tsr__free(C);
    tsr__free(lab);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  double mean[NNUM] = {0}, sd[NNUM] = {0};
  size_t cnt[NNUM] = {0};
  for (size_t i = 0; i < n; i++) {
    double f[NNUM];
    num_features(p, &p->rows[i], f);
    for (int j = 0; j < NNUM; j++) {
      X[i * d + (size_t)j] = f[j];
      if (!isnan(f[j])) {
        mean[j] += f[j];
        cnt[j]++;
      }
    }
  }
  for (int j = 0; j < NNUM; j++) mean[j] = cnt[j] ? mean[j] / (double)cnt[j] : 0;
  for (size_t i = 0; i < n; i++)
    for (int j = 0; j < NNUM; j++) {
      double v = X[i * d + (size_t)j];
      if (!isnan(v)) sd[j] += (v - mean[j]) * (v - mean[j]);
    }
  for (int j = 0; j < NNUM; j++) {
    sd[j] = cnt[j] > 1 ? sqrt(sd[j] / (double)(cnt[j] - 1)) : 0;
    if (!(sd[j] > 0)) sd[j] = 1;
  }
  /* standardised numbers (missing = the mean, i.e. 0); one-hot categories
   * scaled by 1/sqrt(2): two customers differing in one category are as
   * far apart as one standard deviation */
  const double w = 1 / sqrt(2.0);
  for (size_t i = 0; i < n; i++) {
    double *x = X + i * d;
    for (int j = 0; j < NNUM; j++) x[j] = isnan(x[j]) ? 0 : (x[j] - mean[j]) / sd[j];
    size_t o2 = NNUM;
    for (int c = 0; c < NCAT; c++) {
      const char *s = c == 0 ? p->rows[i].income_band : p->rows[i].channel_preference;
      for (size_t t = 0; t < nlev[c]; t++) x[o2 + t] = s == lev[c][t] ? w : 0;
      o2 += nlev[c];
    }
  }
  size_t k = o->behaviour_k < n ? o->behaviour_k : n;
  tsr_status st = kmeans_all(X, n, d, k, o, C, lab, err);
  if (st == TSR_OK) {
    p->behaviour_k = k;
    p->behaviour_name0 = p->nseg_names;
    for (size_t c = 0; c < k && st == TSR_OK; c++) {
      /* name: the two numeric features furthest from the mean */
      int a = 0, b = 1;
      for (int j = 0; j < NNUM; j++)
        if (fabs(C[c * d + (size_t)j]) > fabs(C[c * d + (size_t)a])) a = j;
      b = a == 0 ? 1 : 0;
      for (int j = 0; j < NNUM; j++)
        if (j != a && fabs(C[c * d + (size_t)j]) > fabs(C[c * d + (size_t)b])) b = j;
      char nm[64];
      snprintf(nm, sizeof nm, "B%zu %s %s, %s %s", c + 1, C[c * d + (size_t)a] > 0 ? "high" : "low",
               num_names[a], C[c * d + (size_t)b] > 0 ? "high" : "low", num_names[b]);
      if (add_name(p, nm)) st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
    for (size_t i = 0; i < n; i++) p->rows[i].behaviour = lab[i];
  }
  tsr__free(X);
  tsr__free(C);
  tsr__free(lab);
  return st;
}

static tsr_status affinity(tsr_profiles *p, const tsr_segment_opts *o, tsr_error *err) {
  size_t n = p->n, d = p->nprod;
  if (d == 0) {
    p->affinity_k = 0;
    return TSR_OK;
  }
  double *X = tsr__malloc(n * d * sizeof *X);
  size_t k = o->affinity_k < n ? o->affinity_k : n;
  double *C = tsr__malloc(k * d * sizeof *C);
  int *lab = tsr__malloc(n * sizeof *lab);
  double share[TSR_PROFILE_MAX_PRODUCTS] = {0};
  if (!X || !C || !lab) {
    tsr__free(X);
    tsr__free(C);
    tsr__free(lab);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < d; j++) {
      X[i * d + j] = (double)(p->rows[i].products >> j & 1);
      share[j] += X[i * d + j];
    }
  for (size_t j = 0; j < d; j++) share[j] /= (double)n;
  tsr_status st = kmeans_all(X, n, d, k, o, C, lab, err);
  if (st == TSR_OK) {
    p->affinity_k = k;
    p->affinity_name0 = p->nseg_names;
    for (size_t c = 0; c < k && st == TSR_OK; c++) {
      /* name: held by most of the cluster and more than overall, by lift */
      char nm[64];
      size_t o2 = (size_t)snprintf(nm, sizeof nm, "A%zu ", c + 1);
      int any = 0;
      for (int t = 0; t < 2; t++) {
        size_t bj = d;
        double best = 0;
        for (size_t j = 0; j < d; j++) {
          double lift = C[c * d + j] - share[j];
          if (C[c * d + j] >= 0.5 && lift > best && !(any && nm[o2 - 1] && strstr(nm, p->prod[j]))) {
            best = lift;
            bj = j;
          }
        }
        if (bj == d) break;
        o2 += (size_t)snprintf(nm + o2, sizeof nm - (o2 < sizeof nm ? o2 : sizeof nm), "%s%s", any ? "+" : "", p->prod[bj]);
        if (o2 >= sizeof nm) o2 = sizeof nm - 1;
        any = 1;
      }
      if (!any) snprintf(nm + o2, sizeof nm - o2, "%s", "basic");
      if (add_name(p, nm)) st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
    for (size_t i = 0; i < n; i++) p->rows[i].affinity = lab[i];
  }
  tsr__free(X);
  tsr__free(C);
  tsr__free(lab);
  return st;
}

static int dbl_cmp_desc(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x < y) - (x > y);
}

/* Value tiers by CLV (else revenue): top 10 %, high next 20 %, medium next
 * 30 %, low the remaining 40 % (ties share the higher tier). */
static tsr_status value_tiers(tsr_profiles *p, tsr_error *err) {
  size_t n = p->n, m = 0;
  int use_clv = 0;
  for (size_t i = 0; i < n; i++)
    if (!isnan(p->rows[i].clv)) {
      use_clv = 1;
      break;
    }
  double *v = tsr__malloc((n ? n : 1) * sizeof *v);
  if (!v) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  for (size_t i = 0; i < n; i++) {
    double x = use_clv ? p->rows[i].clv : p->rows[i].tx_amount;
    if (!isnan(x)) v[m++] = x;
  }
  if (m) {
    qsort(v, m, sizeof *v, dbl_cmp_desc);
    double cut[3];
    const double q[3] = {0.10, 0.30, 0.60};
    for (int t = 0; t < 3; t++) {
      size_t idx = (size_t)ceil(q[t] * (double)m);
      cut[t] = v[idx ? idx - 1 : 0];
    }
    for (size_t i = 0; i < n; i++) {
      double x = use_clv ? p->rows[i].clv : p->rows[i].tx_amount;
      p->rows[i].value_tier = isnan(x) ? -1 : x >= cut[0] ? 0 : x >= cut[1] ? 1 : x >= cut[2] ? 2 : 3;
    }
  }
  tsr__free(v);
  p->tier_by_clv = use_clv;
  return TSR_OK;
}

/* ------------------------------------------------------------ micro */

typedef struct acc {
  size_t size, n_age, n_dig, n_sent, n_clv, n_pa;
  double revenue, clv, age, dig, sent, pa;
  uint32_t prod[TSR_PROFILE_MAX_PRODUCTS];
} acc;

static void acc_add(acc *a, const tsr_profile *r) {
  a->size++;
  a->revenue += r->tx_amount;
  if (!isnan(r->clv)) { a->clv += r->clv; a->n_clv++; }
  if (!isnan(r->age)) { a->age += r->age; a->n_age++; }
  if (!isnan(r->digital_share)) { a->dig += r->digital_share; a->n_dig++; }
  if (!isnan(r->sentiment_mean)) { a->sent += r->sentiment_mean; a->n_sent++; }
  if (!isnan(r->p_alive)) { a->pa += r->p_alive; a->n_pa++; }
  for (uint64_t b = r->products; b; b &= b - 1) a->prod[__builtin_ctzll(b)]++;
}

static void acc_summary(const tsr_profiles *p, const acc *a, const char *kind, const char *name,
                        tsr_segment_summary *s) {
  s->kind = kind;
  s->name = name;
  s->size = a->size;
  s->revenue = a->revenue;
  s->clv_mean = a->n_clv ? a->clv / (double)a->n_clv : NAN;
  s->age_mean = a->n_age ? a->age / (double)a->n_age : NAN;
  s->digital_share = a->n_dig ? a->dig / (double)a->n_dig : NAN;
  s->sentiment_mean = a->n_sent ? a->sent / (double)a->n_sent : NAN;
  s->p_alive_mean = a->n_pa ? a->pa / (double)a->n_pa : NAN;
  s->top_products[0] = '\0';
  uint32_t used = 0;
  size_t o = 0;
  for (int t = 0; t < 3; t++) {
    size_t bj = p->nprod;
    for (size_t j = 0; j < p->nprod; j++)
      if (a->prod[j] && !(used >> j & 1) && (bj == p->nprod || a->prod[j] > a->prod[bj])) bj = j;
    if (bj == p->nprod) break;
    used |= 1u << bj;
    int w = snprintf(s->top_products + o, sizeof s->top_products - o, "%s%s", t ? ";" : "", p->prod[bj]);
    if (w < 0 || (size_t)w >= sizeof s->top_products - o) break;
    o += (size_t)w;
  }
}

tsr_status tsr_profiles_segment(tsr_profiles *p, const tsr_segment_opts *o, tsr_error *err) {
  tsr_segment_opts d;
  if (!o) {
    tsr_segment_opts_init(&d);
    o = &d;
  }
  if (o->behaviour_k < 2 || o->behaviour_k > 20)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "behaviour_k", "expected an integer in [2, 20], got %zu", o->behaviour_k);
  if (o->affinity_k < 2 || o->affinity_k > 20)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "affinity_k", "expected an integer in [2, 20], got %zu", o->affinity_k);
  if (o->min_cell < 1)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "min_cell", "expected an integer >= 1, got %zu", o->min_cell);
  if (!p->finished) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "profiles not finished");
  if (p->n == 0) return TSR_OK;
  tsr_segment_opts oo = *o;
  if (oo.sample < 1000) oo.sample = 1000;
  tsr_status st;
  if ((st = behaviour(p, &oo, err)) || (st = affinity(p, &oo, err)) || (st = value_tiers(p, err)))
    return st;
  /* micro cells: stage x tier x behaviour x affinity, merged up by
   * dropping affinity, then behaviour, then tier, until min_cell */
  const size_t K = 21, NT = 5;
  size_t ncell = TSR_LS_COUNT * NT * K * K;
  size_t *cnt = tsr__calloc(ncell, sizeof *cnt);
  int32_t *name_of = tsr__malloc(ncell * sizeof *name_of);
  int32_t *assign = tsr__malloc(p->n * sizeof *assign);
  if (!cnt || !name_of || !assign) {
    tsr__free(cnt);
    tsr__free(name_of);
    tsr__free(assign);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  for (size_t c = 0; c < ncell; c++) name_of[c] = -1;
  for (size_t i = 0; i < p->n; i++) assign[i] = -1;
  p->micro_name0 = p->nseg_names;
#define CELL(s, t, b, a) ((((size_t)(s) * NT + (size_t)((t) + 1)) * K + (size_t)((b) + 1)) * K + (size_t)((a) + 1))
  for (int level = 0; level < 4; level++) {
    memset(cnt, 0, ncell * sizeof *cnt);
    for (size_t i = 0; i < p->n; i++) {
      tsr_profile *r = &p->rows[i];
      if (assign[i] >= 0) continue;
      int t = level >= 3 ? -1 : r->value_tier, b = level >= 2 ? -1 : r->behaviour,
          a = level >= 1 ? -1 : r->affinity;
      cnt[CELL(r->life_stage, t, b, a)]++;
    }
    for (size_t i = 0; i < p->n; i++) {
      tsr_profile *r = &p->rows[i];
      if (assign[i] >= 0) continue;
      int t = level >= 3 ? -1 : r->value_tier, b = level >= 2 ? -1 : r->behaviour,
          a = level >= 1 ? -1 : r->affinity;
      size_t c = CELL(r->life_stage, t, b, a);
      if (cnt[c] < o->min_cell && level < 3) continue;
      if (name_of[c] < 0) {
        char nm[64], tb[8], ta[8];
        snprintf(tb, sizeof tb, b >= 0 ? "B%d" : "*", b + 1);
        snprintf(ta, sizeof ta, a >= 0 ? "A%d" : "*", a + 1);
        if (cnt[c] < o->min_cell)
          snprintf(nm, sizeof nm, "other");
        else
          snprintf(nm, sizeof nm, "%s/%s/%s/%s", tsr_life_stage_name(r->life_stage),
                   t >= 0 ? tsr_value_tier_name(t) : "*", tb, ta);
        /* "other" is shared */
        int32_t found = -1;
        for (size_t q = p->micro_name0; q < p->nseg_names; q++)
          if (!strcmp(p->seg_names[q], nm)) found = (int32_t)q;
        if (found < 0) {
          if (add_name(p, nm)) {
            tsr__free(cnt);
            tsr__free(name_of);
            tsr__free(assign);
            return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
          }
          found = (int32_t)(p->nseg_names - 1);
        }
        name_of[c] = found;
      }
      assign[i] = name_of[c];
    }
    for (size_t c = 0; c < ncell; c++) name_of[c] = -1;
  }
#undef CELL
  tsr__free(cnt);
  tsr__free(name_of);
  /* names are stable now (no more add_name): index -> pointer */
  for (size_t i = 0; i < p->n; i++) p->rows[i].micro = p->seg_names[assign[i]];
  tsr__free(assign);
  return tsr__profiles_summaries(p, err);
}

/* Summaries per value of each segment column. */
tsr_status tsr__profiles_summaries(tsr_profiles *p, tsr_error *err) {
  size_t nmicro = p->nseg_names - p->micro_name0;
  size_t total = p->behaviour_k + 4 + TSR_LS_COUNT + p->affinity_k + nmicro;
  acc *A = tsr__calloc(total, sizeof *A);
  tsr__free(p->seg);
  p->seg = tsr__calloc(total, sizeof *p->seg);
  if (!A || !p->seg) {
    tsr__free(A);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  size_t ob = 0, ot = p->behaviour_k, ol = ot + 4, oa = ol + TSR_LS_COUNT, om = oa + p->affinity_k;
  for (size_t i = 0; i < p->n; i++) {
    const tsr_profile *r = &p->rows[i];
    if (r->behaviour >= 0) acc_add(&A[ob + (size_t)r->behaviour], r);
    if (r->value_tier >= 0) acc_add(&A[ot + (size_t)r->value_tier], r);
    acc_add(&A[ol + (size_t)r->life_stage], r);
    if (r->affinity >= 0) acc_add(&A[oa + (size_t)r->affinity], r);
    size_t mi = (size_t)(r->micro - (const char *)p->seg_names) / sizeof p->seg_names[0];
    if (mi >= p->micro_name0 && mi < p->nseg_names) acc_add(&A[om + mi - p->micro_name0], r);
  }
  size_t ns = 0;
  for (size_t c = 0; c < p->behaviour_k; c++)
    if (A[ob + c].size) acc_summary(p, &A[ob + c], "behaviour", tsr_profiles_behaviour_name(p, (int)c), &p->seg[ns++]);
  for (size_t c = 0; c < 4; c++)
    if (A[ot + c].size) acc_summary(p, &A[ot + c], p->tier_by_clv ? "value_tier" : "value_tier_revenue", tsr_value_tier_name((int)c), &p->seg[ns++]);
  for (size_t c = 0; c < TSR_LS_COUNT; c++)
    if (A[ol + c].size) acc_summary(p, &A[ol + c], "life_stage", tsr_life_stage_name((tsr_life_stage)c), &p->seg[ns++]);
  for (size_t c = 0; c < p->affinity_k; c++)
    if (A[oa + c].size) acc_summary(p, &A[oa + c], "affinity", tsr_profiles_affinity_name(p, (int)c), &p->seg[ns++]);
  for (size_t c = 0; c < nmicro; c++)
    if (A[om + c].size) acc_summary(p, &A[om + c], "micro", p->seg_names[p->micro_name0 + c], &p->seg[ns++]);
  p->nseg = ns;
  tsr__free(A);
  return TSR_OK;
}

static void put_num(FILE *f, double v, int prec) {
  if (!isnan(v)) fprintf(f, "%.*f", prec, v);
}

tsr_status tsr_profiles_write_segments_csv(const tsr_profiles *p, FILE *f, tsr_error *err) {
  fputs("kind,segment,customers,share,revenue,clv_mean,age_mean,digital_share,sentiment_mean,"
        "p_alive_mean,top_products\n", f);
  for (size_t i = 0; i < p->nseg; i++) {
    const tsr_segment_summary *s = &p->seg[i];
    fprintf(f, "%s,\"%s\",%zu,%.4f,%.2f,", s->kind, s->name, s->size,
            p->n ? (double)s->size / (double)p->n : 0.0, s->revenue);
    put_num(f, s->clv_mean, 2);
    fputc(',', f);
    put_num(f, s->age_mean, 1);
    fputc(',', f);
    put_num(f, s->digital_share, 4);
    fputc(',', f);
    put_num(f, s->sentiment_mean, 4);
    fputc(',', f);
    put_num(f, s->p_alive_mean, 4);
    fprintf(f, ",%s\n", s->top_products);
  }
  if (ferror(f)) return tsr_error_set(err, TSR_EIO, NULL, 0, 0, NULL, "write error");
  return TSR_OK;
}
