/*
 * cluster_profile.c - stable cluster ids and per-cluster profiles: size,
 * share, centroid in original units, mean monetary value, CLV and P(alive),
 * revenue share, most common RFM segments and a generated label; plus the
 * JSON summary of a run. Rules in docs/clustering.md.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cluster_internal.h"

/* ============================================================ id order */

typedef struct ord {
  size_t id, size;
  double money;
} ord;

static int cmp_ord(const void *a, const void *b) {
  const ord *x = a, *y = b;
  if (x->money != y->money) return x->money > y->money ? -1 : 1;
  if (x->size != y->size) return x->size > y->size ? -1 : 1;
  return (x->id > y->id) - (x->id < y->id);
}

tsr_status tsr__cluster_order(const int *labels, size_t n, size_t k, const tsr__col *monetary,
                              size_t *perm) {
  ord *o = tsr__calloc(k ? k : 1, sizeof *o);
  if (!o) return TSR_ENOMEM;
  for (size_t j = 0; j < k; j++) o[j].id = j;
  for (size_t i = 0; i < n; i++) {
    if (labels[i] < 0) continue;
    ord *c = &o[labels[i]];
    c->size++;
    double mv = monetary ? tsr__col_at(*monetary, i) : NAN;
    if (monetary && isfinite(mv)) c->money += mv;
  }
  for (size_t j = 0; j < k; j++)
    o[j].money = monetary && o[j].size ? o[j].money / (double)o[j].size : 0;
  qsort(o, k, sizeof *o, cmp_ord);
  for (size_t j = 0; j < k; j++) perm[o[j].id] = j;
  tsr__free(o);
  return TSR_OK;
}

/* ============================================================== labels */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Mid-rank percentile of v in sorted s[0..n-1]: (#less + #equal/2) / n. */
static double mid_rank(const double *s, size_t n, double v) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t m = (lo + hi) / 2;
    if (s[m] < v)
      lo = m + 1;
    else
      hi = m;
  }
  size_t less = lo;
  hi = n;
  while (lo < hi) {
    size_t m = (lo + hi) / 2;
    if (s[m] <= v)
      lo = m + 1;
    else
      hi = m;
  }
  return ((double)less + 0.5 * (double)(lo - less)) / (double)n;
}

/* Reference sample for percentiles: every step-th value, at most this many. */
#define RANK_REF 20000

/* Mean mid-rank percentile of each cluster's members for column col
 * against the column's values (a systematic sample of RANK_REF values when
 * n is larger); out: k values. */
static tsr_status cluster_ranks(tsr__col col, const int *lab, size_t n, size_t k, double *out) {
  size_t step = (n + RANK_REF - 1) / RANK_REF, m = (n + step - 1) / step;
  double *s = tsr__malloc((m ? m : 1) * sizeof *s);
  size_t *cnt = tsr__calloc(k ? k : 1, sizeof *cnt);
  if (!s || !cnt) {
    tsr__free(s);
    tsr__free(cnt);
    return TSR_ENOMEM;
  }
  for (size_t i = 0; i < m; i++) s[i] = tsr__col_at(col, i * step);
  qsort(s, m, sizeof *s, cmp_double);
  for (size_t j = 0; j < k; j++) out[j] = 0;
  /* members of the sample first; clusters with fewer than 100 of them
   * then use all their members */
  for (size_t i = 0; i < n; i += step) {
    if (lab[i] < 0) continue;
    out[lab[i]] += mid_rank(s, m, tsr__col_at(col, i));
    cnt[lab[i]]++;
  }
  unsigned char *few = tsr__calloc(k ? k : 1, 1);
  if (!few) {
    tsr__free(s);
    tsr__free(cnt);
    return TSR_ENOMEM;
  }
  int any = 0;
  for (size_t j = 0; j < k; j++) any |= few[j] = cnt[j] < 100;
  if (any && step > 1)
    for (size_t i = 0; i < n; i++) {
      if (lab[i] < 0 || i % step == 0 || !few[lab[i]]) continue;
      out[lab[i]] += mid_rank(s, m, tsr__col_at(col, i));
      cnt[lab[i]]++;
    }
  tsr__free(few);
  for (size_t j = 0; j < k; j++) out[j] = cnt[j] ? out[j] / (double)cnt[j] : 0.5;
  tsr__free(s);
  tsr__free(cnt);
  return TSR_OK;
}

/* -1 low (<= 0.4), 0 middle, +1 high (>= 0.6). */
static int level(double r) { return r >= 0.6 ? 1 : (r <= 0.4 ? -1 : 0); }

static ptrdiff_t find_col(const char *const *names, size_t ncols, const char *name) {
  for (size_t c = 0; c < ncols; c++)
    if (names[c] && !strcmp(names[c], name)) return (ptrdiff_t)c;
  return -1;
}

/* ============================================================ profiles */

#define MAXSEG 256

tsr_status tsr__cluster_profiles(tsr_cluster_result *r, const tsr__col *fcols,
                                 const tsr__col *columns, const char *const *names, size_t ncols,
                                 const char *const *segments, tsr_error *err) {
  size_t n = r->n, k = r->k, d = r->nfeatures;
  const int *lab = r->labels;
  tsr_status st = TSR_OK;
  double *ranks = NULL, *inact = NULL, *fr = NULL;
  size_t *segcnt = NULL;
  const char *segname[MAXSEG];
  size_t nseg = 0;
  r->profiles = tsr__calloc(k ? k : 1, sizeof *r->profiles);
  if (!r->profiles) goto nomem;
  ptrdiff_t cm = find_col(names, ncols, "monetary_value"), cf = find_col(names, ncols, "frequency"),
            cr = find_col(names, ncols, "recency"), ct = find_col(names, ncols, "T"),
            crev = find_col(names, ncols, "revenue"), cclv = find_col(names, ncols, "clv"),
            cpa = find_col(names, ncols, "p_alive");
  double *tot = tsr__calloc(k ? k : 1, 6 * sizeof(double));
  if (!tot) goto nomem;
  /* per cluster: sum monetary, sum clv, sum p_alive, revenue, n of each */
  double revenue_all = 0;
  size_t nm[3 * 1024 + 1];
  size_t *nmv = k <= 1024 ? nm : tsr__calloc(3 * k, sizeof *nmv);
  if (!nmv) {
    tsr__free(tot);
    goto nomem;
  }
  memset(nmv, 0, 3 * k * sizeof *nmv);
  for (size_t j = 0; j < k; j++) {
    r->profiles[j].centroid = tsr__calloc(d ? d : 1, sizeof(double));
    if (!r->profiles[j].centroid) {
      if (nmv != nm) tsr__free(nmv);
      tsr__free(tot);
      goto nomem;
    }
  }
  for (size_t i = 0; i < n; i++) {
    int l = lab[i];
    double rev = NAN;
    if (crev >= 0)
      rev = tsr__col_at(columns[crev], i);
    else if (cm >= 0 && cf >= 0)
      rev = tsr__col_at(columns[cm], i) * tsr__col_at(columns[cf], i);
    if (isfinite(rev)) revenue_all += rev;
    if (l < 0) continue;
    tsr_cluster_profile *p = &r->profiles[l];
    p->size++;
    for (size_t j = 0; j < d; j++) p->centroid[j] += tsr__col_at(fcols[j], i);
    double *t = tot + (size_t)l * 6;
    if (cm >= 0 && isfinite(tsr__col_at(columns[cm], i))) {
      t[0] += tsr__col_at(columns[cm], i);
      nmv[3 * l]++;
    }
    if (cclv >= 0 && isfinite(tsr__col_at(columns[cclv], i))) {
      t[1] += tsr__col_at(columns[cclv], i);
      nmv[3 * l + 1]++;
    }
    if (cpa >= 0 && isfinite(tsr__col_at(columns[cpa], i))) {
      t[2] += tsr__col_at(columns[cpa], i);
      nmv[3 * l + 2]++;
    }
    if (isfinite(rev)) t[3] += rev;
  }
  for (size_t j = 0; j < k; j++) {
    tsr_cluster_profile *p = &r->profiles[j];
    double *t = tot + j * 6;
    p->share = (double)p->size / (double)n;
    for (size_t q = 0; q < d; q++)
      p->centroid[q] = p->size ? p->centroid[q] / (double)p->size : NAN;
    p->mean_monetary = nmv[3 * j] ? t[0] / (double)nmv[3 * j] : NAN;
    p->mean_clv = nmv[3 * j + 1] ? t[1] / (double)nmv[3 * j + 1] : NAN;
    p->mean_p_alive = nmv[3 * j + 2] ? t[2] / (double)nmv[3 * j + 2] : NAN;
    p->revenue_share =
        (crev >= 0 || (cm >= 0 && cf >= 0)) && revenue_all > 0 ? t[3] / revenue_all : NAN;
  }
  if (nmv != nm) tsr__free(nmv);
  tsr__free(tot);

  /* ------------------------------------------------ RFM segments */
  if (segments) {
    segcnt = tsr__calloc((k ? k : 1) * (MAXSEG + 1), sizeof *segcnt);
    if (!segcnt) goto nomem;
    for (size_t i = 0; i < n; i++) {
      if (lab[i] < 0 || !segments[i] || !segments[i][0]) continue;
      /* the names are distinct texts: the same pointer first (analyze's
       * segments point at one text per name), the texts when none is */
      size_t s = 0;
      while (s < nseg && segname[s] != segments[i]) s++;
      if (s == nseg) {
        s = 0;
        while (s < nseg && strcmp(segname[s], segments[i])) s++;
      }
      if (s == nseg) {
        if (nseg == MAXSEG) continue; /* too many distinct names */
        segname[nseg++] = segments[i];
      }
      segcnt[(size_t)lab[i] * (MAXSEG + 1) + s]++;
    }
    for (size_t j = 0; j < k; j++) {
      tsr_cluster_profile *p = &r->profiles[j];
      size_t *c = segcnt + j * (MAXSEG + 1);
      for (size_t t = 0; t < 3; t++) {
        size_t bs = 0, bc = 0;
        for (size_t s = 0; s < nseg; s++)
          if (c[s] > bc) { /* first name seen wins ties */
            bc = c[s];
            bs = s;
          }
        if (!bc) break;
        p->segments[t] = tsr__strdup(segname[bs]);
        if (!p->segments[t]) goto nomem;
        p->segment_shares[t] = (double)bc / (double)p->size;
        p->n_segments++;
        c[bs] = 0;
      }
    }
  }

  /* ------------------------------------------------------- labels */
  ranks = tsr__malloc((k ? k : 1) * 4 * sizeof *ranks);
  inact = tsr__malloc(n * sizeof *inact);
  if (!ranks || !inact) goto nomem;
  double *rf = ranks, *rm = ranks + k, *ra = ranks + 2 * k, *rt = ranks + 3 * k;
  int hf = cf >= 0, hm = cm >= 0, ha = cr >= 0 && ct >= 0, ht = ct >= 0;
  if (hf && cluster_ranks(columns[cf], lab, n, k, rf) != TSR_OK) goto nomem;
  if (hm && cluster_ranks(columns[cm], lab, n, k, rm) != TSR_OK) goto nomem;
  if (ht && cluster_ranks(columns[ct], lab, n, k, rt) != TSR_OK) goto nomem;
  if (ha) {
    for (size_t i = 0; i < n; i++)
      inact[i] = tsr__col_at(columns[ct], i) - tsr__col_at(columns[cr], i);
    if (cluster_ranks(tsr__col_of(inact), lab, n, k, ra) != TSR_OK) goto nomem;
  }
  for (size_t j = 0; j < k; j++) {
    char buf[256];
    size_t len = 0;
    buf[0] = '\0';
    if (hf || hm || ha) {
      const char *fw[] = {"infrequent", "occasional", "frequent"};
      const char *mw[] = {"low-value", "mid-value", "high-value"};
      const char *aw[] = {"recently active", "cooling", "lapsed"};
      if (hf) len += (size_t)snprintf(buf + len, sizeof buf - len, "%s", fw[level(rf[j]) + 1]);
      if (hm)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", len ? " " : "",
                                mw[level(rm[j]) + 1]);
      if (ha)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", len ? ", " : "",
                                aw[level(ra[j]) + 1]);
      if (ht && level(rt[j]) < 0 && len < sizeof buf)
        len += (size_t)snprintf(buf + len, sizeof buf - len, ", new");
    } else {
      /* generic: the two features farthest from the middle */
      if (!fr) {
        fr = tsr__malloc((k ? k : 1) * d * sizeof *fr);
        if (!fr) goto nomem;
        for (size_t q = 0; q < d; q++)
          if (cluster_ranks(fcols[q], lab, n, k, fr + q * k) != TSR_OK) goto nomem;
      }
      size_t used = SIZE_MAX;
      for (size_t t = 0; t < 2 && t < d; t++) {
        size_t bq = SIZE_MAX;
        double bdev = 0.1, brank = 0.5;
        for (size_t q = 0; q < d; q++) {
          if (q == used) continue;
          double rq = fr[q * k + j];
          if (fabs(rq - 0.5) > bdev) {
            bdev = fabs(rq - 0.5);
            bq = q;
            brank = rq;
          }
        }
        if (bq == SIZE_MAX) break;
        used = bq;
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s %s", len ? ", " : "",
                                brank > 0.5 ? "high" : "low", r->features[bq]);
        if (len >= sizeof buf) len = sizeof buf - 1;
      }
      if (!len) snprintf(buf, sizeof buf, "typical");
    }
    r->profiles[j].label = tsr__strdup(buf);
    if (!r->profiles[j].label) goto nomem;
  }
  goto done;
nomem:
  st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
done:
  tsr__free(segcnt);
  tsr__free(fr);
  tsr__free(ranks);
  tsr__free(inact);
  return st;
}

/* ============================================================= summary */

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static const char *transform_name(unsigned t) {
  switch (t) {
  case TSR_XFORM_NONE:
    return "none";
  case TSR_XFORM_LOG1P:
    return "log1p";
  case TSR_XFORM_STANDARDIZE:
    return "standardize";
  default:
    return "log1p,standardize";
  }
}

tsr_status tsr_cluster_result_summary_json(const tsr_cluster_result *r, char **json,
                                           tsr_error *err) {
  if (!r || !json)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "summary: result and json must not be NULL");
  json_t *o = json_object();
  json_object_set_new(o, "method", json_string(tsr_cluster_method_name(r->method)));
  json_object_set_new(o, "n", json_integer((json_int_t)r->n));
  json_object_set_new(o, "k", json_integer((json_int_t)r->k));
  json_t *fa = json_array();
  for (size_t j = 0; j < r->nfeatures; j++) json_array_append_new(fa, json_string(r->features[j]));
  json_object_set_new(o, "features", fa);
  if (r->model)
    json_object_set_new(o, "transform", json_string(transform_name(r->model->transform)));
  json_object_set_new(o, "inertia", num(r->inertia));
  json_object_set_new(o, "silhouette", num(r->silhouette));
  if (r->method == TSR_CLUSTER_GMM) {
    json_object_set_new(o, "loglik", num(r->loglik));
    json_object_set_new(o, "bic", num(r->bic));
    json_object_set_new(o, "aic", num(r->aic));
    json_t *tr = json_array();
    for (size_t i = 0; i < r->n_trace; i++) json_array_append_new(tr, num(r->loglik_trace[i]));
    json_object_set_new(o, "loglik_trace", tr);
  }
  if (r->method == TSR_CLUSTER_DBSCAN) {
    json_object_set_new(o, "eps", num(r->eps));
    json_object_set_new(o, "min_samples", json_integer((json_int_t)r->min_samples));
    json_object_set_new(o, "n_noise", json_integer((json_int_t)r->n_noise));
  } else {
    json_object_set_new(o, "n_iter", json_integer((json_int_t)r->n_iter));
    json_object_set_new(o, "converged", json_boolean(r->converged));
  }
  if (r->kscores) {
    json_t *kt = json_array();
    for (size_t i = 0; i < r->n_kscores; i++) {
      const tsr_cluster_kscore *s = &r->kscores[i];
      json_t *e = json_object();
      json_object_set_new(e, "k", json_integer((json_int_t)s->k));
      json_object_set_new(e, "inertia", num(s->inertia));
      json_object_set_new(e, "silhouette", num(s->silhouette));
      if (r->method == TSR_CLUSTER_GMM) {
        json_object_set_new(e, "bic", num(s->bic));
        json_object_set_new(e, "aic", num(s->aic));
        json_object_set_new(e, "loglik", num(s->loglik));
      }
      json_array_append_new(kt, e);
    }
    json_object_set_new(o, "k_table", kt);
    json_object_set_new(o, "k_table_rows",
                        json_integer((json_int_t)(r->k_sample_n ? r->k_sample_n : r->n)));
    if (r->elbow_k) json_object_set_new(o, "elbow_k", json_integer((json_int_t)r->elbow_k));
  }
  json_t *tm = json_object();
  json_object_set_new(tm, "transform", json_real(r->seconds_transform));
  json_object_set_new(tm, "fit", json_real(r->seconds_fit));
  json_object_set_new(tm, "silhouette", json_real(r->seconds_silhouette));
  json_object_set_new(tm, "profiles", json_real(r->seconds_profiles));
  json_object_set_new(tm, "cpu_fit", json_real(r->cpu_seconds_fit));
  json_object_set_new(o, "seconds", tm);
  json_t *cl = json_array();
  for (size_t j = 0; j < r->k && r->profiles; j++) {
    const tsr_cluster_profile *p = &r->profiles[j];
    json_t *e = json_object();
    json_object_set_new(e, "id", json_integer((json_int_t)j));
    json_object_set_new(e, "label", json_string(p->label ? p->label : ""));
    json_object_set_new(e, "size", json_integer((json_int_t)p->size));
    json_object_set_new(e, "share", num(p->share));
    json_t *c = json_object();
    for (size_t q = 0; q < r->nfeatures; q++)
      json_object_set_new(c, r->features[q], num(p->centroid[q]));
    json_object_set_new(e, "centroid", c);
    json_object_set_new(e, "mean_monetary", num(p->mean_monetary));
    json_object_set_new(e, "mean_clv", num(p->mean_clv));
    json_object_set_new(e, "mean_p_alive", num(p->mean_p_alive));
    json_object_set_new(e, "revenue_share", num(p->revenue_share));
    json_t *sg = json_array();
    for (size_t s = 0; s < p->n_segments; s++) {
      json_t *x = json_object();
      json_object_set_new(x, "name", json_string(p->segments[s]));
      json_object_set_new(x, "share", num(p->segment_shares[s]));
      json_array_append_new(sg, x);
    }
    json_object_set_new(e, "segments", sg);
    json_array_append_new(cl, e);
  }
  json_object_set_new(o, "clusters", cl);
  char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
  json_decref(o);
  if (!s) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  *json = s;
  return TSR_OK;
}
