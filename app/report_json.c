/*
 * report_json.c - the report data JSON ("format": "tessera-report",
 * "version": 1) built from the column view of a run (report_internal.h):
 * KPIs (whole base and per segment), distributions, correlations, RFM
 * matrices, clusters, model plots, tracking, holdout, top customers, joins
 * and leavers, Pareto, run metadata. Everything is aggregated or sampled so
 * the JSON stays small for millions of customers. Layout: docs/report.md.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "report_internal.h"
#include "tessera/retrain.h"
#include "tessera/tessera.h"
#include "tessera/datetime.h"

#define HIST_BINS 30
#define FR_CELLS 30
#define REPEAT_BUCKETS 11 /* 0..9 and 10+ */
#define PARETO_POINTS 101

/* A builder: json values are created through these helpers, which record
 * an allocation failure instead of crashing on NULL. */
typedef struct jb {
  int oom;
} jb;

static json_t *chk(jb *b, json_t *v) {
  if (!v) b->oom = 1;
  return v;
}

/* A number, null when not finite. */
static json_t *jr(jb *b, double v) { return chk(b, isfinite(v) ? json_real(v) : json_null()); }
/* Rounded to 4 significant digits (samples: smaller JSON). */
static json_t *jr4(jb *b, double v) {
  if (!isfinite(v)) return chk(b, json_null());
  if (v == 0) return chk(b, json_integer(0));
  double e = pow(10, 3 - floor(log10(fabs(v))));
  return chk(b, json_real(round(v * e) / e));
}
static json_t *ji(jb *b, int64_t v) { return chk(b, json_integer((json_int_t)v)); }
static json_t *js(jb *b, const char *s) { return chk(b, s ? json_string(s) : json_null()); }
static json_t *jobj(jb *b) { return chk(b, json_object()); }
static json_t *jarr(jb *b) { return chk(b, json_array()); }

static void put(jb *b, json_t *o, const char *k, json_t *v) {
  if (!o || !v || json_object_set_new(o, k, v) != 0) {
    b->oom = 1;
    if (!o) json_decref(v);
  }
}
static void push(jb *b, json_t *a, json_t *v) {
  if (!a || !v || json_array_append_new(a, v) != 0) {
    b->oom = 1;
    if (!a) json_decref(v);
  }
}
static json_t *darr(jb *b, const double *v, size_t n) {
  json_t *a = jarr(b);
  for (size_t i = 0; i < n; i++) push(b, a, jr(b, v[i]));
  return a;
}

/* Months since year 0 of a day number. */
static int64_t period_month(int64_t day) {
  int64_t y;
  unsigned m, d;
  tsr_civil_from_days(day, &y, &m, &d);
  return y * 12 + (int64_t)m - 1;
}

static json_t *day_str(jb *b, int64_t day) {
  if (day == TSR_DAY_NONE || day == INT64_MAX || day == INT64_MIN) return chk(b, json_null());
  char d[16];
  return js(b, tsr_day_format(day, d));
}

/* ------------------------------------------------------------ KPIs */

typedef struct kacc {
  int64_t customers;
  double transactions, visits, revenue, clv, p_alive;
  int64_t churned, with_model, with_clv, repeat;
  int64_t first, last;
} kacc;

static void kacc_add(kacc *k, const tsr__report_src *s, size_t i, double thr) {
  k->customers++;
  k->transactions += s->n_tx[i];
  if (s->active_days) k->visits += s->active_days[i];
  k->revenue += s->revenue[i];
  k->repeat += s->frequency[i] > 0;
  if (isfinite(s->p_alive[i])) {
    k->with_model++;
    k->p_alive += s->p_alive[i];
    k->churned += s->p_alive[i] < thr;
  }
  if (isfinite(s->clv[i])) {
    k->with_clv++;
    k->clv += s->clv[i];
  }
  if (s->first_day[i] < k->first) k->first = s->first_day[i];
  if (s->last_day[i] > k->last) k->last = s->last_day[i];
}

static json_t *kacc_json(jb *b, const kacc *k, const tsr__report_src *s, double total_rev) {
  json_t *o = jobj(b);
  put(b, o, "customers", ji(b, k->customers));
  put(b, o, "transactions", jr(b, k->transactions));
  put(b, o, "visits", s->active_days ? jr(b, k->visits) : chk(b, json_null()));
  put(b, o, "revenue", jr(b, k->revenue));
  put(b, o, "revenue_share", jr(b, total_rev > 0 ? k->revenue / total_rev : NAN));
  put(b, o, "repeat_share", jr(b, k->customers ? (double)k->repeat / (double)k->customers : NAN));
  put(b, o, "churn_rate",
      jr(b, k->with_model ? (double)k->churned / (double)k->with_model : NAN));
  put(b, o, "mean_p_alive", jr(b, k->with_model ? k->p_alive / (double)k->with_model : NAN));
  put(b, o, "clv_total", jr(b, k->with_clv ? k->clv : NAN));
  put(b, o, "clv_mean", jr(b, k->with_clv ? k->clv / (double)k->with_clv : NAN));
  put(b, o, "first_purchase", day_str(b, k->customers ? k->first : TSR_DAY_NONE));
  put(b, o, "last_purchase", day_str(b, k->customers ? k->last : TSR_DAY_NONE));
  return o;
}

/* Segment index of customer i in names[0..*nn) (added when new, up to cap). */
static size_t seg_index(const char **names, size_t *nn, size_t cap, const char *seg) {
  const char *s = seg ? seg : "(none)";
  for (size_t j = 0; j < *nn; j++)
    if (names[j] == s || !strcmp(names[j], s)) return j;
  if (*nn < cap) {
    names[*nn] = s;
    return (*nn)++;
  }
  return cap; /* overflow: counted nowhere */
}

#define MAX_SEGMENTS 64

static tsr_status section_kpis(jb *b, json_t *root, const tsr__report_src *s,
                               const tsr_report_opts *o, double top20) {
  kacc all = {0};
  all.first = INT64_MAX;
  all.last = INT64_MIN;
  const char *names[MAX_SEGMENTS];
  size_t nn = 0;
  kacc seg[MAX_SEGMENTS];
  for (size_t j = 0; j < s->n_segment_order && nn < MAX_SEGMENTS; j++) names[nn++] = s->segment_order[j];
  for (size_t j = 0; j < MAX_SEGMENTS; j++) {
    memset(&seg[j], 0, sizeof seg[j]);
    seg[j].first = INT64_MAX;
    seg[j].last = INT64_MIN;
  }
  double sum_r[MAX_SEGMENTS] = {0}, sum_f[MAX_SEGMENTS] = {0}, sum_m[MAX_SEGMENTS] = {0};
  for (size_t i = 0; i < s->n; i++) {
    kacc_add(&all, s, i, o->churn_threshold);
    size_t j = seg_index(names, &nn, MAX_SEGMENTS, s->segment[i]);
    if (j < MAX_SEGMENTS) {
      kacc_add(&seg[j], s, i, o->churn_threshold);
      sum_r[j] += s->r[i];
      sum_f[j] += s->f[i];
      sum_m[j] += s->m[i];
    }
  }
  json_t *k = kacc_json(b, &all, s, all.revenue);
  put(b, k, "top20_revenue_share", jr(b, top20));
  /* the run's own KPI values (run.json) win where present */
  if (s->kpis_json) {
    json_t *rk = json_loads(s->kpis_json, 0, NULL);
    if (rk && json_is_object(rk)) json_object_update(k, rk);
    json_decref(rk);
  }
  put(b, root, "kpis", k);
  /* revenue share of the top 20 % within each segment: revenues grouped
   * by segment (counting sort), then the Pareto share of each group */
  double *rv = tsr__malloc((s->n ? s->n : 1) * sizeof *rv);
  size_t off[MAX_SEGMENTS + 1] = {0}, fill[MAX_SEGMENTS] = {0};
  if (!rv) return TSR_ENOMEM;
  for (size_t j = 0; j < nn; j++) off[j + 1] = off[j] + (size_t)seg[j].customers;
  for (size_t i = 0; i < s->n; i++) {
    size_t j = seg_index(names, &nn, MAX_SEGMENTS, s->segment[i]);
    if (j < MAX_SEGMENTS) rv[off[j] + fill[j]++] = s->revenue[i];
  }
  json_t *arr = jarr(b);
  for (size_t j = 0; j < nn; j++) {
    json_t *so = kacc_json(b, &seg[j], s, all.revenue);
    double one, t20 = NAN;
    if (tsr__report_pareto(rv + off[j], (size_t)seg[j].customers, 1, &one, &t20) != TSR_OK) b->oom = 1;
    put(b, so, "top20_revenue_share", jr(b, seg[j].customers ? t20 : NAN));
    put(b, so, "segment", js(b, names[j]));
    put(b, so, "share", jr(b, s->n ? (double)seg[j].customers / (double)s->n : NAN));
    double c = (double)seg[j].customers;
    put(b, so, "mean_r", jr(b, c > 0 ? sum_r[j] / c : NAN));
    put(b, so, "mean_f", jr(b, c > 0 ? sum_f[j] / c : NAN));
    put(b, so, "mean_m", jr(b, c > 0 ? sum_m[j] / c : NAN));
    push(b, arr, so);
  }
  put(b, root, "segments", arr);
  tsr__free(rv);
  return TSR_OK;
}

/* ------------------------------------------------------------ distributions */

static json_t *hist_json(jb *b, const double *x, size_t n, const char *label) {
  tsr__hist h;
  int lg = tsr__report_skewed(x, n);
  tsr__report_hist(x, n, HIST_BINS, lg, &h);
  json_t *o = jobj(b);
  put(b, o, "label", js(b, label));
  put(b, o, "log", chk(b, json_boolean(h.log)));
  put(b, o, "integer", chk(b, json_boolean(h.integer)));
  put(b, o, "n", ji(b, (int64_t)h.n));
  put(b, o, "min", jr(b, h.min));
  put(b, o, "max", jr(b, h.max));
  json_t *e = jarr(b), *c = jarr(b);
  for (size_t i = 0; i <= h.nbins && h.nbins; i++) push(b, e, jr4(b, h.edges[i]));
  for (size_t i = 0; i < h.nbins; i++) push(b, c, ji(b, h.counts[i]));
  put(b, o, "edges", e);
  put(b, o, "counts", c);
  return o;
}

/* Columns shown in distributions and correlations. */
typedef struct colref {
  const char *key, *label;
  const double *v;
} colref;

static size_t feature_cols(const tsr__report_src *s, colref *c) {
  size_t k = 0;
  c[k++] = (colref){"frequency", "frequency (repeat periods)", s->frequency};
  c[k++] = (colref){"recency", "recency", s->recency};
  c[k++] = (colref){"T", "T (age)", s->T};
  c[k++] = (colref){"monetary_value", "monetary value (mean repeat spend)", s->monetary};
  c[k++] = (colref){"revenue", "revenue", s->revenue};
  c[k++] = (colref){"n_transactions", "purchases", s->n_tx};
  if (s->has_model) {
    c[k++] = (colref){"expected_purchases", "expected purchases", s->expected};
    c[k++] = (colref){"p_alive", "P(alive)", s->p_alive};
  }
  if (s->has_spend) c[k++] = (colref){"clv", "CLV", s->clv};
  return k;
}

static tsr_status section_features(jb *b, json_t *root, const tsr__report_src *s,
                                   const tsr_report_opts *o) {
  colref c[12];
  size_t k = feature_cols(s, c);
  json_t *d = jobj(b);
  for (size_t j = 0; j < k; j++) put(b, d, c[j].key, hist_json(b, c[j].v, s->n, c[j].label));
  put(b, root, "distributions", d);
  const double *cols[12];
  json_t *names = jarr(b), *labels = jarr(b);
  for (size_t j = 0; j < k; j++) {
    cols[j] = c[j].v;
    push(b, names, js(b, c[j].key));
    push(b, labels, js(b, c[j].label));
  }
  double P[144], S[144];
  if (tsr__report_corr(cols, k, s->n, 0, P) != TSR_OK || tsr__report_corr(cols, k, s->n, 1, S) != TSR_OK) {
    json_decref(names);
    json_decref(labels);
    return TSR_ENOMEM;
  }
  json_t *co = jobj(b);
  put(b, co, "features", names);
  put(b, co, "labels", labels);
  json_t *pa = jarr(b), *sa = jarr(b);
  for (size_t i = 0; i < k; i++) {
    json_t *pr = jarr(b), *sr = jarr(b);
    for (size_t j = 0; j < k; j++) {
      push(b, pr, jr4(b, P[i * k + j]));
      push(b, sr, jr4(b, S[i * k + j]));
    }
    push(b, pa, pr);
    push(b, sa, sr);
  }
  put(b, co, "pearson", pa);
  put(b, co, "spearman", sa);
  put(b, root, "correlation", co);
  /* frequency vs monetary value of repeat customers: sample + the
   * Gamma-Gamma independence check (their correlation) */
  size_t rep = 0;
  for (size_t i = 0; i < s->n; i++) rep += s->frequency[i] > 0;
  double *fx = tsr__malloc((rep ? rep : 1) * sizeof *fx), *mx = tsr__malloc((rep ? rep : 1) * sizeof *mx);
  if (!fx || !mx) {
    tsr__free(fx);
    tsr__free(mx);
    return TSR_ENOMEM;
  }
  size_t r = 0;
  for (size_t i = 0; i < s->n; i++)
    if (s->frequency[i] > 0) {
      fx[r] = s->frequency[i];
      mx[r++] = s->monetary[i];
    }
  json_t *fm = jobj(b);
  put(b, fm, "repeat_customers", ji(b, (int64_t)rep));
  put(b, fm, "pearson", jr(b, tsr__report_pearson(fx, mx, rep)));
  double *rx = tsr__malloc((rep ? rep : 1) * sizeof *rx), *ry = tsr__malloc((rep ? rep : 1) * sizeof *ry);
  double sp = NAN;
  if (rx && ry && tsr__report_ranks(fx, rep, rx) == TSR_OK && tsr__report_ranks(mx, rep, ry) == TSR_OK)
    sp = tsr__report_pearson(rx, ry, rep);
  tsr__free(rx);
  tsr__free(ry);
  put(b, fm, "spearman", jr(b, sp));
  size_t step = rep > o->sample ? (rep + o->sample - 1) / o->sample : 1;
  json_t *pts = jarr(b);
  for (size_t i = 0; i < rep; i += step) {
    json_t *p = jarr(b);
    push(b, p, jr4(b, fx[i]));
    push(b, p, jr4(b, mx[i]));
    push(b, pts, p);
  }
  put(b, fm, "sample_step", ji(b, (int64_t)step));
  put(b, fm, "points", pts);
  put(b, root, "frequency_monetary", fm);
  tsr__free(fx);
  tsr__free(mx);
  return TSR_OK;
}

/* ------------------------------------------------------------ RFM */

static void section_rfm(jb *b, json_t *root, const tsr__report_src *s) {
  int nr = 0, nf = 0;
  for (size_t i = 0; i < s->n; i++) {
    if (s->r[i] > nr) nr = s->r[i];
    if (s->f[i] > nf) nf = s->f[i];
  }
  if (nr > 10) nr = 10;
  if (nf > 10) nf = 10;
  int64_t cnt[100];
  double mm[100];
  double ms[100];
  tsr__report_rf_matrix(s->r, s->f, s->monetary, s->n, nr, nf, cnt, mm);
  /* mean spend per customer of each cell: revenue over the whole window */
  tsr__report_rf_matrix(s->r, s->f, s->revenue, s->n, nr, nf, cnt, ms);
  json_t *o = jobj(b);
  put(b, o, "scheme", js(b, s->scheme_name));
  put(b, o, "r_levels", ji(b, nr));
  put(b, o, "f_levels", ji(b, nf));
  json_t *ca = jarr(b), *ma = jarr(b), *sa = jarr(b);
  for (int r = 0; r < nr; r++) {
    json_t *cr = jarr(b), *mr = jarr(b), *sr = jarr(b);
    for (int f = 0; f < nf; f++) {
      push(b, cr, ji(b, cnt[r * nf + f]));
      push(b, mr, jr4(b, mm[r * nf + f]));
      push(b, sr, jr(b, ms[r * nf + f]));
    }
    push(b, ca, cr);
    push(b, ma, mr);
    push(b, sa, sr);
  }
  put(b, o, "count", ca);
  put(b, o, "mean_monetary", ma);
  put(b, o, "mean_spend", sa);
  put(b, root, "rfm", o);
}

/* ------------------------------------------------------------ clusters */

/* Top two principal axes of the k x k covariance C (power iteration with
 * deflation). */
static void pca2(double *C, size_t k, double *v1, double *v2, double *l1, double *l2) {
  double *vs[2] = {v1, v2}, *ls[2] = {l1, l2};
  for (int c = 0; c < 2; c++) {
    double *v = vs[c];
    for (size_t i = 0; i < k; i++) v[i] = 1.0 / sqrt((double)k) + 0.01 * (double)i * (c ? -1 : 1);
    double lambda = 0;
    for (int it = 0; it < 500; it++) {
      double w[16] = {0}, norm = 0;
      for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) w[i] += C[i * k + j] * v[j];
      for (size_t i = 0; i < k; i++) norm += w[i] * w[i];
      norm = sqrt(norm);
      if (norm <= 0) break;
      for (size_t i = 0; i < k; i++) v[i] = w[i] / norm;
      lambda = norm;
    }
    *ls[c] = lambda;
    for (size_t i = 0; i < k; i++)
      for (size_t j = 0; j < k; j++) C[i * k + j] -= lambda * v[i] * v[j];
  }
}

static tsr_status section_clusters(jb *b, json_t *root, const tsr__report_src *s,
                                   const tsr_report_opts *o) {
  if (!s->cluster) return TSR_OK;
  size_t k = s->n_clusters;
  for (size_t i = 0; i < s->n; i++)
    if (s->cluster[i] >= 0 && (size_t)s->cluster[i] + 1 > k) k = (size_t)s->cluster[i] + 1;
  if (k > 1000) k = 1000;
  enum { NF = 5 };
  const char *fk[NF] = {"frequency", "recency", "T", "monetary_value", "revenue"};
  const double *fv[NF] = {s->frequency, s->recency, s->T, s->monetary, s->revenue};
  double *sum = tsr__calloc((k + 1) * (NF + 2), sizeof *sum);
  int64_t *size = tsr__calloc(k + 1, sizeof *size);
  if (!sum || !size) {
    tsr__free(sum);
    tsr__free(size);
    return TSR_ENOMEM;
  }
  /* overall mean and sd of log1p(feature) for the projection */
  double mu[NF] = {0}, sd[NF] = {0}, C[NF * NF] = {0};
  size_t nn = 0;
  for (size_t i = 0; i < s->n; i++) {
    int c = s->cluster[i];
    size_t ci = c < 0 || (size_t)c >= k ? k : (size_t)c; /* k = noise */
    size[ci]++;
    for (int j = 0; j < NF; j++) sum[ci * (NF + 2) + (size_t)j] += isfinite(fv[j][i]) ? fv[j][i] : 0;
    sum[ci * (NF + 2) + NF] += isfinite(s->p_alive[i]) ? s->p_alive[i] : 0;
    sum[ci * (NF + 2) + NF + 1] += isfinite(s->clv[i]) ? s->clv[i] : 0;
    for (int j = 0; j < NF; j++) mu[j] += log1p(fmax(0, isfinite(fv[j][i]) ? fv[j][i] : 0));
    nn++;
  }
  for (int j = 0; j < NF; j++) mu[j] = nn ? mu[j] / (double)nn : 0;
  for (size_t i = 0; i < s->n; i++)
    for (int a = 0; a < NF; a++) {
      double da = log1p(fmax(0, isfinite(fv[a][i]) ? fv[a][i] : 0)) - mu[a];
      sd[a] += da * da;
    }
  for (int j = 0; j < NF; j++) {
    sd[j] = nn > 1 ? sqrt(sd[j] / (double)(nn - 1)) : 0;
    if (!(sd[j] > 0)) sd[j] = 1;
  }
  for (size_t i = 0; i < s->n; i++) {
    double z[NF];
    for (int a = 0; a < NF; a++) z[a] = (log1p(fmax(0, isfinite(fv[a][i]) ? fv[a][i] : 0)) - mu[a]) / sd[a];
    for (int a = 0; a < NF; a++)
      for (int c = 0; c < NF; c++) C[a * NF + c] += z[a] * z[c];
  }
  double total = 0;
  for (int j = 0; j < NF * NF; j++) C[j] = nn > 1 ? C[j] / (double)(nn - 1) : 0;
  for (int j = 0; j < NF; j++) total += C[j * NF + j];
  double v1[NF], v2[NF], l1 = 0, l2 = 0;
  pca2(C, NF, v1, v2, &l1, &l2);
  json_t *co = jobj(b);
  put(b, co, "k", ji(b, (int64_t)k));
  json_t *feat = jarr(b);
  for (int j = 0; j < NF; j++) push(b, feat, js(b, fk[j]));
  push(b, feat, js(b, "p_alive"));
  push(b, feat, js(b, "clv"));
  put(b, co, "features", feat);
  json_t *cl = jarr(b);
  double tot_feat[NF + 2] = {0};
  for (size_t c = 0; c <= k; c++)
    for (int j = 0; j < NF + 2; j++) tot_feat[j] += sum[c * (NF + 2) + (size_t)j];
  for (size_t c = 0; c <= k; c++) {
    if (c == k && size[k] == 0) break;
    json_t *x = jobj(b);
    char nm[64];
    const char *label = c < k && c < s->n_clusters && s->cluster_names ? s->cluster_names[c] : NULL;
    snprintf(nm, sizeof nm, c == k ? "noise" : "cluster %zu", c);
    put(b, x, "id", ji(b, c == k ? -1 : (int64_t)c));
    put(b, x, "name", js(b, nm));
    put(b, x, "label", js(b, label));
    put(b, x, "size", ji(b, size[c]));
    put(b, x, "share", jr(b, s->n ? (double)size[c] / (double)s->n : NAN));
    json_t *means = jarr(b), *rel = jarr(b);
    for (int j = 0; j < NF + 2; j++) {
      double m = size[c] ? sum[c * (NF + 2) + (size_t)j] / (double)size[c] : NAN;
      double all = s->n ? tot_feat[j] / (double)s->n : NAN;
      if ((j == NF && !s->has_model) || (j == NF + 1 && !s->has_spend)) m = all = NAN;
      push(b, means, jr4(b, m));
      push(b, rel, jr4(b, all != 0 ? m / all : NAN)); /* cluster mean / overall mean */
    }
    put(b, x, "mean", means);
    put(b, x, "relative", rel);
    push(b, cl, x);
  }
  put(b, co, "clusters", cl);
  /* projection: first two principal components of standardized log1p
   * features, a stride sample of customers */
  json_t *pr = jobj(b);
  json_t *ax1 = jarr(b), *ax2 = jarr(b);
  for (int j = 0; j < NF; j++) {
    push(b, ax1, jr4(b, v1[j]));
    push(b, ax2, jr4(b, v2[j]));
  }
  put(b, pr, "axis1", ax1);
  put(b, pr, "axis2", ax2);
  put(b, pr, "explained", jr4(b, total > 0 ? (l1 + l2) / total : NAN));
  size_t step = s->n > o->sample ? (s->n + o->sample - 1) / o->sample : 1;
  json_t *pts = jarr(b);
  for (size_t i = 0; i < s->n; i += step) {
    double p1 = 0, p2 = 0;
    for (int a = 0; a < NF; a++) {
      double z = (log1p(fmax(0, isfinite(fv[a][i]) ? fv[a][i] : 0)) - mu[a]) / sd[a];
      p1 += z * v1[a];
      p2 += z * v2[a];
    }
    json_t *p = jarr(b);
    push(b, p, jr4(b, p1));
    push(b, p, jr4(b, p2));
    push(b, p, ji(b, s->cluster[i]));
    push(b, pts, p);
  }
  put(b, pr, "sample_step", ji(b, (int64_t)step));
  put(b, pr, "points", pts);
  put(b, co, "projection", pr);
  put(b, root, "clusters", co);
  tsr__free(sum);
  tsr__free(size);
  return TSR_OK;
}

/* ------------------------------------------------------------ model */

static tsr_status section_model(jb *b, json_t *root, const tsr__report_src *s, tsr_error *err) {
  if (!s->has_model) return TSR_OK;
  const tsr_btyd_model *m = &s->model;
  json_t *o = jobj(b);
  put(b, o, "kind", js(b, tsr_btyd_kind_name(m->kind)));
  json_t *ps = jarr(b);
  const tsr_btyd_model *both[2] = {m, s->has_spend ? &s->spend : NULL};
  for (int q = 0; q < 2; q++) {
    if (!both[q]) continue;
    for (size_t i = 0; i < both[q]->np; i++) {
      json_t *p = jobj(b);
      put(b, p, "model", js(b, tsr_btyd_kind_name(both[q]->kind)));
      put(b, p, "name", js(b, tsr_btyd_param_name(both[q]->kind, i)));
      put(b, p, "value", jr(b, both[q]->params[i]));
      put(b, p, "se", jr(b, both[q]->has_cov ? both[q]->se[i] : NAN));
      push(b, ps, p);
    }
  }
  put(b, o, "params", ps);
  put(b, o, "loglik", jr(b, m->loglik));
  put(b, o, "converged", chk(b, json_boolean(m->converged)));
  put(b, o, "iterations", ji(b, m->iterations));
  if (s->has_spend) {
    put(b, o, "spend_loglik", jr(b, s->spend.loglik));
    put(b, o, "spend_converged", chk(b, json_boolean(s->spend.converged)));
  }
  put(b, o, "period_days", jr(b, s->period_days));
  put(b, o, "horizon_periods", jr(b, s->horizon_periods));
  /* frequency/recency matrices at T = max T */
  double max_f = 0, max_T = 0;
  for (size_t i = 0; i < s->n; i++) {
    if (s->frequency[i] > max_f) max_f = s->frequency[i];
    if (s->T[i] > max_T) max_T = s->T[i];
  }
  size_t nf = (size_t)max_f + 1;
  double fstep = 1;
  if (nf > FR_CELLS) {
    fstep = ceil(max_f / (FR_CELLS - 1));
    nf = (size_t)(max_f / fstep) + 1;
  }
  size_t nr = FR_CELLS;
  double *E = tsr__malloc(nf * nr * sizeof *E), *PA = tsr__malloc(nf * nr * sizeof *PA);
  if (!E || !PA) {
    tsr__free(E);
    tsr__free(PA);
    json_decref(o);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  tsr__report_fr_matrix(m, nf, fstep, nr, max_T, s->horizon_periods, E, PA, err);
  json_t *fr = jobj(b);
  put(b, fr, "T", jr4(b, max_T));
  put(b, fr, "t", jr4(b, s->horizon_periods));
  json_t *fa = jarr(b), *ra = jarr(b), *ea = jarr(b), *pa = jarr(b);
  for (size_t i = 0; i < nf; i++) push(b, fa, jr4(b, (double)i * fstep));
  for (size_t j = 0; j < nr; j++) push(b, ra, jr4(b, (double)j * max_T / (double)(nr - 1)));
  for (size_t i = 0; i < nf; i++) {
    json_t *er = jarr(b), *pr = jarr(b);
    for (size_t j = 0; j < nr; j++) {
      push(b, er, jr4(b, E[i * nr + j]));
      push(b, pr, jr4(b, PA[i * nr + j]));
    }
    push(b, ea, er);
    push(b, pa, pr);
  }
  tsr__free(E);
  tsr__free(PA);
  put(b, fr, "frequency", fa);
  put(b, fr, "recency", ra);
  put(b, fr, "expected", ea);
  put(b, fr, "p_alive", pa);
  put(b, o, "frequency_recency", fr);
  /* observed vs expected repeat purchases in the calibration period */
  double obs[REPEAT_BUCKETS], mod[REPEAT_BUCKETS];
  tsr_error e2;
  if (tsr__report_repeat_hist(m, s->frequency, s->T, s->n, REPEAT_BUCKETS, obs, mod, &e2) == TSR_OK) {
    json_t *rh = jobj(b);
    put(b, rh, "observed", darr(b, obs, REPEAT_BUCKETS));
    put(b, rh, "model", darr(b, mod, REPEAT_BUCKETS));
    put(b, o, "repeat_purchases", rh);
  } else if (e2.code == TSR_ENOMEM) {
    if (err) *err = e2;
    json_decref(o);
    return TSR_ENOMEM;
  }
  put(b, root, "model", o);
  return TSR_OK;
}

static tsr_status section_tracking(jb *b, json_t *root, const tsr__report_src *s, tsr_error *err) {
  if (!s->has_model || !s->ledger || s->end_day == TSR_DAY_NONE || !(s->period_days > 0))
    return TSR_OK;
  int64_t cutoff = s->cal_end_day != TSR_DAY_NONE ? s->cal_end_day : s->end_day;
  tsr__tracking t;
  tsr_error e2;
  tsr_status st = tsr__report_tracking(s->ledger, s->freq, cutoff, s->end_day, &s->model,
                                       s->period_days, &t, &e2);
  if (st == TSR_ENOMEM) {
    if (err) *err = e2;
    return st;
  }
  if (st != TSR_OK) return TSR_OK; /* nothing to track */
  /* weekly points (or coarser, at most ~260 points) */
  size_t step = 7;
  while (t.ndays / step > 260) step += 7;
  json_t *o = jobj(b), *dates = jarr(b), *ac = jarr(b), *ec = jarr(b), *ai = jarr(b), *ei = jarr(b);
  double cum = 0, prev_a = 0, prev_e = 0;
  for (size_t d = 0; d < t.ndays; d++) {
    cum += t.actual[d];
    if ((d + 1) % step == 0 || d + 1 == t.ndays) {
      push(b, dates, day_str(b, t.day0 + (int64_t)d));
      push(b, ac, jr(b, cum));
      push(b, ec, jr4(b, t.expected[d]));
      push(b, ai, jr(b, cum - prev_a));
      push(b, ei, jr4(b, t.expected[d] - prev_e));
      prev_a = cum;
      prev_e = t.expected[d];
    }
  }
  put(b, o, "step_days", ji(b, (int64_t)step));
  put(b, o, "dates", dates);
  put(b, o, "actual_cumulative", ac);
  put(b, o, "expected_cumulative", ec);
  put(b, o, "actual", ai);
  put(b, o, "expected", ei);
  put(b, o, "calibration_end", day_str(b, s->cal_end_day));
  put(b, root, "tracking", o);
  tsr__report_tracking_release(&t);
  return TSR_OK;
}

static void section_holdout(jb *b, json_t *root, const tsr__report_src *s) {
  if (!s->has_holdout || !s->holdout) return;
  json_t *o = jobj(b), *bk = jarr(b);
  for (int i = 0; i < TSR_HOLDOUT_BUCKETS; i++) {
    const tsr_holdout_bucket *h = &s->holdout[i];
    json_t *x = jobj(b);
    char lab[16];
    snprintf(lab, sizeof lab, "%d%s", h->frequency, i == TSR_HOLDOUT_BUCKETS - 1 ? "+" : "");
    put(b, x, "frequency", js(b, lab));
    put(b, x, "customers", ji(b, (int64_t)h->customers));
    put(b, x, "actual", jr(b, h->actual));
    put(b, x, "predicted", jr(b, h->predicted));
    push(b, bk, x);
  }
  put(b, o, "buckets", bk);
  put(b, o, "mae", jr(b, s->holdout_mae));
  put(b, o, "calibration_end", day_str(b, s->cal_end_day));
  put(b, root, "holdout", o);
}

/* ------------------------------------------------------------ customers */

/* Keeps the indexes of the top_n largest key[i] (ties: smaller index). */
static size_t top_indexes(const double *key, size_t n, size_t top_n, size_t *idx) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(key[i])) continue;
    if (k == top_n && !(key[i] > key[idx[k - 1]])) continue;
    size_t p = k < top_n ? k++ : k - 1;
    while (p > 0 && key[i] > key[idx[p - 1]]) {
      idx[p] = idx[p - 1];
      p--;
    }
    idx[p] = i;
  }
  return k;
}

static json_t *customer_row(jb *b, const tsr__report_src *s, size_t i) {
  json_t *o = jobj(b);
  put(b, o, "customer_id", js(b, s->id[i]));
  put(b, o, "segment", js(b, s->segment[i]));
  put(b, o, "frequency", jr(b, s->frequency[i]));
  put(b, o, "recency", jr(b, s->recency[i]));
  put(b, o, "T", jr(b, s->T[i]));
  put(b, o, "revenue", jr(b, s->revenue[i]));
  put(b, o, "last_purchase", day_str(b, s->last_day[i]));
  put(b, o, "p_alive", jr(b, s->p_alive[i]));
  put(b, o, "expected_purchases", jr(b, s->expected[i]));
  put(b, o, "clv", jr(b, s->clv[i]));
  put(b, o, "clv_lo", jr(b, s->clv_lo[i]));
  put(b, o, "clv_hi", jr(b, s->clv_hi[i]));
  return o;
}

static tsr_status section_customers(jb *b, json_t *root, const tsr__report_src *s,
                                    const tsr_report_opts *o) {
  size_t *idx = tsr__malloc((o->top_n ? o->top_n : 1) * sizeof *idx);
  double *risk = tsr__malloc((s->n ? s->n : 1) * sizeof *risk);
  if (!idx || !risk) {
    tsr__free(idx);
    tsr__free(risk);
    return TSR_ENOMEM;
  }
  /* top by CLV (by revenue without a spend model) */
  size_t k = top_indexes(s->has_spend ? s->clv : s->revenue, s->n, o->top_n, idx);
  json_t *a = jarr(b);
  for (size_t j = 0; j < k; j++) push(b, a, customer_row(b, s, idx[j]));
  put(b, root, "top_customers", a);
  put(b, root, "top_customers_by", js(b, s->has_spend ? "clv" : "revenue"));
  /* at risk: P(alive) below the threshold, by revenue x (1 - P(alive)) */
  if (s->has_model) {
    for (size_t i = 0; i < s->n; i++)
      risk[i] = isfinite(s->p_alive[i]) && s->p_alive[i] < o->churn_threshold
                    ? s->revenue[i] * (1 - s->p_alive[i])
                    : NAN;
    k = top_indexes(risk, s->n, o->top_n, idx);
    a = jarr(b);
    for (size_t j = 0; j < k; j++) {
      json_t *row = customer_row(b, s, idx[j]);
      put(b, row, "revenue_at_risk", jr(b, risk[idx[j]]));
      push(b, a, row);
    }
    put(b, root, "at_risk", a);
  }
  tsr__free(idx);
  tsr__free(risk);
  return TSR_OK;
}

/* Joins (first purchase) and leavers (last purchase of customers whose
 * P(alive) is below the threshold) per calendar month. */
static tsr_status section_monthly(jb *b, json_t *root, const tsr__report_src *s,
                                  const tsr_report_opts *o) {
  if (s->n == 0) return TSR_OK;
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (size_t i = 0; i < s->n; i++) {
    int64_t a = period_month(s->first_day[i]), z = period_month(s->last_day[i]);
    if (a < lo) lo = a;
    if (z > hi) hi = z;
  }
  size_t nm = (size_t)(hi - lo + 1);
  if (nm > 1200) nm = 1200;
  double *j = tsr__calloc(nm, sizeof *j), *l = tsr__calloc(nm, sizeof *l);
  if (!j || !l) {
    tsr__free(j);
    tsr__free(l);
    return TSR_ENOMEM;
  }
  for (size_t i = 0; i < s->n; i++) {
    int64_t a = period_month(s->first_day[i]) - lo, z = period_month(s->last_day[i]) - lo;
    if (a >= 0 && (size_t)a < nm) j[a] += 1;
    if (z >= 0 && (size_t)z < nm && isfinite(s->p_alive[i]) && s->p_alive[i] < o->churn_threshold)
      l[z] += 1;
  }
  json_t *x = jobj(b), *months = jarr(b);
  for (size_t m = 0; m < nm; m++) {
    char buf[48];
    int64_t v = lo + (int64_t)m;
    snprintf(buf, sizeof buf, "%04lld-%02lld", (long long)(v / 12), (long long)(v % 12 + 1));
    push(b, months, js(b, buf));
  }
  put(b, x, "months", months);
  put(b, x, "joins", darr(b, j, nm));
  put(b, x, "leavers", s->has_model ? darr(b, l, nm) : chk(b, json_null()));
  put(b, root, "monthly", x);
  tsr__free(j);
  tsr__free(l);
  return TSR_OK;
}

/* ------------------------------------------------------------ meta */

typedef struct rej_ctx {
  jb *b;
  json_t *a;
} rej_ctx;

static int on_reject(void *ctx, const tsr_reject_row *r) {
  rej_ctx *c = ctx;
  json_t *o = jobj(c->b);
  put(c->b, o, "line", ji(c->b, r->line));
  put(c->b, o, "column", ji(c->b, r->column));
  put(c->b, o, "field", js(c->b, r->field));
  put(c->b, o, "reason", js(c->b, r->reason));
  push(c->b, c->a, o);
  return 0;
}

typedef struct ev_ctx {
  jb *b;
  json_t *a;
  size_t n;
} ev_ctx;

static int on_event(void *ctx, const tsr_event *e) {
  ev_ctx *c = ctx;
  if (c->n++ >= 500) return 1;
  json_t *o = jobj(c->b);
  char ts[40];
  put(c->b, o, "ts", js(c->b, tsr_store_time_format(e->ts, ts, sizeof ts)));
  put(c->b, o, "level", js(c->b, tsr_log_level_name(e->level)));
  put(c->b, o, "step", js(c->b, e->step));
  put(c->b, o, "message", js(c->b, e->message));
  put(c->b, o, "duration_ms", jr(c->b, e->duration_ms >= 0 ? e->duration_ms : NAN));
  push(c->b, c->a, o);
  return 0;
}

static void section_meta(jb *b, json_t *root, const tsr__report_src *s, const tsr_report_opts *o) {
  json_t *m = jobj(b);
  put(b, m, "title", js(b, o->title ? o->title : "tessera analysis report"));
  put(b, m, "tessera_version", js(b, tsr_version()));
  char now[40];
  put(b, m, "generated_at", js(b, tsr_store_time_format(tsr_store_now_ms(), now, sizeof now)));
  put(b, m, "run_id", s->run_id > 0 ? ji(b, s->run_id) : chk(b, json_null()));
  put(b, m, "source", js(b, o->source));
  put(b, m, "customers", ji(b, (int64_t)s->n));
  put(b, m, "has_model", chk(b, json_boolean(s->has_model)));
  put(b, m, "has_spend", chk(b, json_boolean(s->has_spend)));
  put(b, m, "has_clusters", chk(b, json_boolean(s->cluster != NULL)));
  put(b, m, "has_holdout", chk(b, json_boolean(s->has_holdout)));
  put(b, m, "churn_threshold", jr(b, o->churn_threshold));
  put(b, m, "period_days", jr(b, s->period_days));
  /* the currency of the amounts: the report's option, else the run's */
  const char *cur = o->currency, *cur_src = o->currency ? "option" : NULL;
  json_t *kp = !cur && s->kpis_json ? json_loads(s->kpis_json, 0, NULL) : NULL;
  const char *kc = json_string_value(json_object_get(kp, "currency"));
  if (!cur && kc && tsr_currency_code_valid(kc)) {
    cur = kc;
    cur_src = json_string_value(json_object_get(kp, "currency_source"));
  }
  put(b, m, "currency", js(b, cur));
  put(b, m, "currency_source", js(b, cur ? cur_src : NULL));
  json_decref(kp);
  put(b, m, "horizon_periods", jr(b, s->horizon_periods));
  put(b, m, "end", day_str(b, s->end_day));
  put(b, m, "calibration_end", day_str(b, s->cal_end_day));
  put(b, m, "seconds", jr(b, s->seconds));
  const char *pj = o->params_json ? o->params_json : s->params_json;
  json_t *p = pj ? json_loads(pj, 0, NULL) : NULL;
  put(b, m, "params", p ? p : chk(b, json_null()));
  json_t *t = s->timings_json ? json_loads(s->timings_json, 0, NULL) : NULL;
  put(b, m, "timings_ms", t ? t : chk(b, json_null()));
  if (s->ingest) {
    const tsr_ingest_stats *g = s->ingest;
    json_t *x = jobj(b);
    put(b, x, "rows_read", ji(b, g->rows_read));
    put(b, x, "rows_accepted", ji(b, g->rows_accepted));
    put(b, x, "rows_rejected", ji(b, g->rows_rejected));
    put(b, x, "identical_rows", ji(b, g->identical_rows));
    put(b, x, "duplicate_ids", ji(b, g->duplicate_ids));
    put(b, x, "refunds", ji(b, g->refunds));
    put(b, x, "bytes", ji(b, g->bytes));
    put(b, x, "customer_col", js(b, g->customer_col));
    put(b, x, "date_col", js(b, g->date_col));
    put(b, x, "amount_col", js(b, g->amount_col));
    put(b, m, "ingest", x);
  }
  json_t *rj = jarr(b);
  if (o->store && s->dataset_id > 0 && o->max_rejects > 0) {
    rej_ctx c = {b, rj};
    tsr_store_rejects_list(o->store, s->dataset_id, (int64_t)o->max_rejects, 0, on_reject, &c, NULL);
  }
  put(b, m, "rejects", rj);
  json_t *ev = jarr(b);
  if (o->store && s->run_id > 0) {
    ev_ctx c = {b, ev, 0};
    tsr_store_events_list(o->store, s->run_id, TSR_LOG_INFO, on_event, &c, NULL);
  }
  put(b, m, "events", ev);
  put(b, root, "meta", m);
}

/* ------------------------------------------------------------ migration */

typedef struct prev_ctx {
  int64_t cur, prev;
} prev_ctx;

/* The newest earlier run that stored customers. */
static int find_prev(void *ctx, const tsr_run *r) {
  prev_ctx *p = ctx;
  if (r->id < p->cur && r->status == TSR_RUN_DONE && r->n_customers > 0) {
    p->prev = r->id;
    return 1;
  }
  return 0;
}

typedef struct mig_ctx {
  jb *b;
  json_t *rows;
} mig_ctx;

static int on_move(void *ctx, const tsr_migration_row *m) {
  mig_ctx *c = ctx;
  json_t *o = jobj(c->b);
  put(c->b, o, "from", js(c->b, m->from));
  put(c->b, o, "to", js(c->b, m->to));
  put(c->b, o, "customers", ji(c->b, m->customers));
  if (o) json_array_append_new(c->rows, o);
  return 0;
}

/* Segment migration from the previous stored run to this one (issue 7):
 * {"from_run", "to_run", "moves": [{"from","to","customers"}]}; absent
 * without a store or an earlier run. */
static void section_migration(jb *b, json_t *root, const tsr__report_src *s,
                              const tsr_report_opts *o) {
  if (!o->store || s->run_id <= 0) return;
  prev_ctx p = {s->run_id, 0};
  if (tsr_store_runs_list(o->store, 0, 0, find_prev, &p, NULL) != TSR_OK || !p.prev) return;
  mig_ctx c = {b, jarr(b)};
  if (!c.rows) return;
  if (tsr_segment_migration(o->store, p.prev, s->run_id, 0, on_move, &c, NULL) != TSR_OK) {
    json_decref(c.rows);
    return;
  }
  json_t *m = jobj(b);
  put(b, m, "from_run", ji(b, p.prev));
  put(b, m, "to_run", ji(b, s->run_id));
  put(b, m, "moves", c.rows);
  put(b, root, "migration", m);
}

/* ------------------------------------------------------------ whole */

tsr_status tsr__report_json(const tsr__report_src *s, const tsr_report_opts *opts, char **out,
                            tsr_error *err) {
  *out = NULL;
  tsr_report_opts o;
  if (opts) o = *opts;
  else tsr_report_opts_init(&o);
  jb b = {0};
  json_t *root = jobj(&b);
  tsr_status st = TSR_OK;
  put(&b, root, "format", js(&b, "tessera-report"));
  put(&b, root, "version", ji(&b, 1));
  section_meta(&b, root, s, &o);
  double pts[PARETO_POINTS], top20 = NAN;
  if (tsr__report_pareto(s->revenue, s->n, PARETO_POINTS, pts, &top20) != TSR_OK) st = TSR_ENOMEM;
  if (st == TSR_OK) {
    json_t *p = jobj(&b);
    put(&b, p, "revenue_share", darr(&b, pts, PARETO_POINTS));
    put(&b, p, "top20_share", jr(&b, top20));
    put(&b, root, "pareto", p);
    st = section_kpis(&b, root, s, &o, top20);
  }
  if (st == TSR_OK) {
    st = section_features(&b, root, s, &o);
  }
  if (st == TSR_OK) section_rfm(&b, root, s);
  if (st == TSR_OK) st = section_clusters(&b, root, s, &o);
  if (st == TSR_OK) st = section_model(&b, root, s, err);
  if (st == TSR_OK) st = section_tracking(&b, root, s, err);
  if (st == TSR_OK) section_holdout(&b, root, s);
  if (st == TSR_OK) st = section_customers(&b, root, s, &o);
  if (st == TSR_OK) st = section_monthly(&b, root, s, &o);
  if (st == TSR_OK) section_migration(&b, root, s, &o);
  if (st == TSR_OK && !b.oom) st = tsr__report_extras(root, &o, err);
  if (st == TSR_OK && !b.oom) {
    *out = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(12));
    if (!*out) b.oom = 1;
  }
  json_decref(root);
  if (st == TSR_OK && b.oom) st = TSR_ENOMEM;
  if (st == TSR_ENOMEM) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  return st;
}
