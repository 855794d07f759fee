/*
 * report_data.c - the numbers of the HTML report: histograms (log1p bins
 * when skewed), Pearson/Spearman matrices, R x F matrices, the BTYD
 * frequency/recency matrices (as lifetimes' plot_frequency_recency_matrix
 * and plot_probability_alive_matrix), observed vs expected repeat purchases
 * (as plot_period_transactions, computed exactly from P(X(T) = n)),
 * cumulative/incremental tracking (as expected_cumulative_transactions),
 * Pareto curve; and the column view of a run they are computed from.
 * Role: computation only; the JSON lives in report_json.c, the HTML in
 * report.c. Reference: docs/report.md.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "report_internal.h"
#include "tessera/datetime.h"

/* ------------------------------------------------------------ histograms */

/* Median of the finite values (copy, qsort). */
static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int tsr__report_skewed(const double *x, size_t n) {
  double s1 = 0, mn = INFINITY;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (isfinite(x[i])) {
      s1 += x[i];
      if (x[i] < mn) mn = x[i];
      k++;
    }
  if (k < 3 || mn < 0) return 0;
  double mean = s1 / (double)k, m2 = 0, m3 = 0;
  for (size_t i = 0; i < n; i++)
    if (isfinite(x[i])) {
      double d = x[i] - mean;
      m2 += d * d;
      m3 += d * d * d;
    }
  m2 /= (double)k;
  m3 /= (double)k;
  if (m2 <= 0) return 0;
  return m3 / pow(m2, 1.5) > 1.0; /* sample skewness g1 */
}

void tsr__report_hist(const double *x, size_t n, size_t nbins, int log, tsr__hist *h) {
  memset(h, 0, sizeof *h);
  if (nbins < 1) nbins = 1;
  if (nbins > 64) nbins = 64;
  double mn = INFINITY, mx = -INFINITY;
  int integer = 1;
  for (size_t i = 0; i < n; i++)
    if (isfinite(x[i])) {
      if (x[i] < mn) mn = x[i];
      if (x[i] > mx) mx = x[i];
      if (x[i] != floor(x[i])) integer = 0;
      h->n++;
    }
  if (h->n == 0) {
    h->nbins = 0;
    h->min = h->max = NAN;
    return;
  }
  h->min = mn;
  h->max = mx;
  if (integer && mx - mn < 1e15) {
    /* counts: whole-number bins [start_b, start_{b+1} - 1], edges at the
     * half-integers between them (one bin per value when they fit) */
    h->integer = 1;
    double span = mx - mn + 1, st[65];
    size_t nb = 0;
    if (span <= (double)nbins) {
      for (double v = mn; v <= mx + 0.5 && nb < 64; v += 1) st[nb++] = v;
    } else if (log && mn >= 0) {
      h->log = 1;
      double L = log10(2 + mx); /* starts 10^(L b / nbins) - 1, rounded up */
      st[nb++] = mn;
      for (size_t b = 1; b < nbins; b++) {
        double v = ceil(pow(10, L * (double)b / (double)nbins) - 1);
        if (v > st[nb - 1] && v <= mx) st[nb++] = v;
      }
    } else {
      double w = ceil(span / (double)nbins);
      for (double v = mn; v <= mx && nb < 64; v += w) st[nb++] = v;
    }
    h->nbins = nb;
    for (size_t b = 0; b < nb; b++) h->edges[b] = st[b] - 0.5;
    h->edges[nb] = mx + 0.5;
    for (size_t i = 0; i < n; i++) {
      if (!isfinite(x[i])) continue;
      size_t lo = 0, hi = nb; /* last start <= x */
      while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (st[mid] <= x[i]) lo = mid;
        else hi = mid;
      }
      h->counts[lo]++;
    }
    return;
  }
  h->nbins = nbins;
  if (log && mn >= 0 && mx > 0) {
    h->log = 1;
    double L = log10(1 + mx);
    h->edges[0] = 0;
    for (size_t b = 1; b <= nbins; b++) h->edges[b] = pow(10, L * (double)b / (double)nbins) - 1;
    h->edges[nbins] = mx;
    for (size_t i = 0; i < n; i++)
      if (isfinite(x[i])) {
        double p = log10(1 + x[i]) / L * (double)nbins;
        size_t b = p <= 0 ? 0 : (size_t)p;
        if (b >= nbins) b = nbins - 1;
        h->counts[b]++;
      }
    return;
  }
  if (mx == mn) {
    h->nbins = 1;
    h->edges[0] = mn - 0.5;
    h->edges[1] = mn + 0.5;
    h->counts[0] = (int64_t)h->n;
    return;
  }
  double w = (mx - mn) / (double)nbins;
  for (size_t b = 0; b <= nbins; b++) h->edges[b] = mn + w * (double)b;
  h->edges[nbins] = mx;
  for (size_t i = 0; i < n; i++)
    if (isfinite(x[i])) {
      size_t b = (size_t)((x[i] - mn) / w);
      if (b >= nbins) b = nbins - 1;
      h->counts[b]++;
    }
}

/* ------------------------------------------------------------ correlation */

double tsr__report_pearson(const double *x, const double *y, size_t n) {
  double sx = 0, sy = 0;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (isfinite(x[i]) && isfinite(y[i])) {
      sx += x[i];
      sy += y[i];
      k++;
    }
  if (k < 2) return NAN;
  double mx = sx / (double)k, my = sy / (double)k, sxx = 0, syy = 0, sxy = 0;
  for (size_t i = 0; i < n; i++)
    if (isfinite(x[i]) && isfinite(y[i])) {
      double a = x[i] - mx, b = y[i] - my;
      sxx += a * a;
      syy += b * b;
      sxy += a * b;
    }
  if (sxx <= 0 || syy <= 0) return NAN;
  double r = sxy / sqrt(sxx * syy);
  return r > 1 ? 1 : r < -1 ? -1 : r;
}

typedef struct vi {
  double v;
  size_t i;
} vi;

static int cmp_vi(const void *a, const void *b) {
  const vi *p = a, *q = b;
  if (p->v != q->v) return (p->v > q->v) - (p->v < q->v);
  return (p->i > q->i) - (p->i < q->i);
}

tsr_status tsr__report_ranks(const double *x, size_t n, double *out) {
  vi *a = tsr__malloc((n ? n : 1) * sizeof *a);
  if (!a) return TSR_ENOMEM;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    out[i] = NAN;
    if (isfinite(x[i])) a[k++] = (vi){x[i], i};
  }
  qsort(a, k, sizeof *a, cmp_vi);
  for (size_t i = 0; i < k;) {
    size_t j = i;
    while (j + 1 < k && a[j + 1].v == a[i].v) j++;
    double rank = ((double)i + (double)j) / 2 + 1; /* average of i+1 .. j+1 */
    for (size_t t = i; t <= j; t++) out[a[t].i] = rank;
    i = j + 1;
  }
  tsr__free(a);
  return TSR_OK;
}

tsr_status tsr__report_corr(const double *const *cols, size_t k, size_t n, int spearman,
                            double *out) {
  const double **use = tsr__calloc(k ? k : 1, sizeof *use);
  size_t nr = k * n;
  double *ranks = spearman ? tsr__malloc((nr ? nr : 1) * sizeof *ranks) : NULL;
  if (!use || (spearman && !ranks)) {
    tsr__free(use);
    tsr__free(ranks);
    return TSR_ENOMEM;
  }
  for (size_t a = 0; a < k; a++) {
    if (spearman) {
      if (tsr__report_ranks(cols[a], n, ranks + a * n) != TSR_OK) {
        tsr__free(use);
        tsr__free(ranks);
        return TSR_ENOMEM;
      }
      use[a] = ranks + a * n;
    } else {
      use[a] = cols[a];
    }
  }
  for (size_t a = 0; a < k; a++)
    for (size_t b = a; b < k; b++) {
      double r = a == b ? 1.0 : tsr__report_pearson(use[a], use[b], n);
      if (a == b) {
        /* a constant column has no correlation, even with itself */
        double c = tsr__report_pearson(use[a], use[a], n);
        if (isnan(c)) r = NAN;
      }
      out[a * k + b] = out[b * k + a] = r;
    }
  tsr__free(use);
  tsr__free(ranks);
  return TSR_OK;
}

/* ------------------------------------------------------------ RFM */

void tsr__report_rf_matrix(const int *r, const int *f, const double *m, size_t n, int nr,
                           int nf, int64_t *count, double *mean_m) {
  size_t cells = (size_t)nr * (size_t)nf;
  for (size_t c = 0; c < cells; c++) {
    count[c] = 0;
    mean_m[c] = 0;
  }
  for (size_t i = 0; i < n; i++) {
    if (r[i] < 1 || r[i] > nr || f[i] < 1 || f[i] > nf) continue;
    size_t c = (size_t)(r[i] - 1) * (size_t)nf + (size_t)(f[i] - 1);
    count[c]++;
    mean_m[c] += m && isfinite(m[i]) ? m[i] : 0;
  }
  for (size_t c = 0; c < cells; c++) mean_m[c] = count[c] ? mean_m[c] / (double)count[c] : NAN;
}

/* ------------------------------------------------------------ model */

tsr_status tsr__report_fr_matrix(const tsr_btyd_model *m, size_t nf, double fstep, size_t nr,
                                 double max_T, double t, double *expected, double *p_alive,
                                 tsr_error *err) {
  (void)err;
  for (size_t i = 0; i < nf; i++)
    for (size_t j = 0; j < nr; j++) {
      double x = (double)i * fstep;
      double tx = nr > 1 ? (double)j * max_T / (double)(nr - 1) : max_T;
      double e = NAN, pa = NAN;
      if (tx > max_T) tx = max_T;
      /* cells the model cannot evaluate (e.g. x > 0 at t_x = 0) stay NaN */
      if (tsr_btyd_conditional(m, x, tx, max_T, t, &e, &pa, NULL) != TSR_OK) e = pa = NAN;
      if (expected) expected[i * nr + j] = e;
      if (p_alive) p_alive[i * nr + j] = pa;
    }
  return TSR_OK;
}

tsr_status tsr__report_repeat_hist(const tsr_btyd_model *m, const double *x, const double *T,
                                   size_t n, size_t nb, double *observed, double *model,
                                   tsr_error *err) {
  for (size_t b = 0; b < nb; b++) observed[b] = model[b] = 0;
  if (nb == 0) return TSR_OK;
  double *Ts = tsr__malloc((n ? n : 1) * sizeof *Ts);
  if (!Ts) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(x[i]) || !isfinite(T[i])) continue;
    double v = floor(x[i] + 0.5);
    size_t b = v < 0 ? 0 : v >= (double)(nb - 1) ? nb - 1 : (size_t)v;
    observed[b] += 1;
    Ts[k++] = T[i];
  }
  qsort(Ts, k, sizeof *Ts, cmp_double);
  tsr_status st = TSR_OK;
  for (size_t i = 0; i < k && st == TSR_OK;) {
    size_t j = i;
    while (j < k && Ts[j] == Ts[i]) j++;
    double cnt = (double)(j - i), rest = cnt;
    for (size_t b = 0; b + 1 < nb; b++) {
      double p = 0;
      st = tsr_btyd_pmf_new(m, (unsigned)b, Ts[i], &p, err);
      if (st != TSR_OK) break;
      model[b] += cnt * p;
      rest -= cnt * p;
    }
    model[nb - 1] += rest > 0 ? rest : 0;
    i = j;
  }
  tsr__free(Ts);
  return st;
}

/* Index of the summary period (D, W Monday..Sunday, M) that day falls in. */
static int64_t period_key(tsr_freq freq, int64_t day) {
  if (freq == TSR_FREQ_W) {
    int64_t d = day + 3; /* 1970-01-01 is a Thursday; weeks start on Monday */
    return d >= 0 ? d / 7 : -((-d + 6) / 7);
  }
  if (freq == TSR_FREQ_M) {
    int64_t y;
    unsigned mo, dd;
    tsr_civil_from_days(day, &y, &mo, &dd);
    return y * 12 + (int64_t)mo - 1;
  }
  return day;
}

void tsr__report_tracking_release(tsr__tracking *t) {
  if (!t) return;
  tsr__free(t->actual);
  tsr__free(t->expected);
  t->actual = t->expected = NULL;
  t->ndays = 0;
}

tsr_status tsr__report_tracking(const tsr_ledger *lg, tsr_freq freq, int64_t cutoff_day,
                                int64_t end_day, const tsr_btyd_model *m, double period_days,
                                tsr__tracking *out, tsr_error *err) {
  memset(out, 0, sizeof *out);
  size_t nc = tsr_ledger_ncustomers(lg);
  int64_t day0 = INT64_MAX;
  const size_t mx = tsr__ledger_max_entries(lg);
  tsr_ledger_entry *eb = tsr__malloc((mx ? mx : 1) * sizeof *eb); /* a customer's entries */
  if (!eb) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  for (size_t i = 0; i < nc; i++) {
    size_t ne = 0;
    const tsr_ledger_entry *e = tsr__ledger_decode(lg, i, eb, &ne);
    for (size_t j = 0; j < ne; j++)
      if (e[j].ntx > 0) {
        if (e[j].day <= cutoff_day && e[j].day < day0) day0 = e[j].day;
        break;
      }
  }
  if (day0 == INT64_MAX || end_day < day0) {
    tsr__free(eb);
    return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "tracking: no customer");
  }
  size_t nd = (size_t)(end_day - day0 + 1);
  double *births = tsr__calloc(nd, sizeof *births);
  double *ex = tsr__malloc(nd * sizeof *ex);
  out->actual = tsr__calloc(nd, sizeof *out->actual);
  out->expected = tsr__calloc(nd, sizeof *out->expected);
  tsr_status st = TSR_OK;
  if (!births || !ex || !out->actual || !out->expected) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  out->day0 = day0;
  out->ndays = nd;
  for (size_t i = 0; i < nc; i++) {
    size_t ne = 0;
    const tsr_ledger_entry *e = tsr__ledger_decode(lg, i, eb, &ne);
    int64_t last_key = 0;
    int born = 0;
    for (size_t j = 0; j < ne; j++) {
      if (e[j].ntx == 0 || e[j].day > end_day) continue;
      int64_t key = period_key(freq, e[j].day);
      if (!born) {
        if (e[j].day > cutoff_day) break;
        born = 1;
        births[e[j].day - day0] += 1;
      } else if (key != last_key) {
        out->actual[e[j].day - day0] += 1; /* a new repeat period starts */
      }
      last_key = key;
    }
  }
  /* E[X(age)] of a new customer, by age in days */
  for (size_t d = 0; d < nd; d++) {
    st = tsr_btyd_expected_new(m, (double)d / period_days, &ex[d], err);
    if (st != TSR_OK) goto done;
  }
  for (size_t t = 0; t < nd; t++) {
    double s = 0;
    for (size_t d = 0; d <= t; d++)
      if (births[d] > 0) s += births[d] * ex[t - d];
    out->expected[t] = s;
  }
done:
  tsr__free(eb);
  tsr__free(births);
  tsr__free(ex);
  if (st != TSR_OK) tsr__report_tracking_release(out);
  return st;
}

/* ------------------------------------------------------------ Pareto */

static int cmp_desc(const void *a, const void *b) { return cmp_double(b, a); }

tsr_status tsr__report_pareto(const double *revenue, size_t n, size_t npts, double *out,
                              double *top20) {
  double *v = tsr__malloc((n ? n : 1) * sizeof *v);
  if (!v) return TSR_ENOMEM;
  double total = 0;
  for (size_t i = 0; i < n; i++) {
    v[i] = isfinite(revenue[i]) ? revenue[i] : 0;
    total += v[i];
  }
  qsort(v, n, sizeof *v, cmp_desc);
  /* prefix sums in place */
  for (size_t i = 1; i < n; i++) v[i] += v[i - 1];
  for (size_t p = 0; p < npts; p++) {
    double frac = npts > 1 ? (double)p / (double)(npts - 1) : 1;
    size_t top = (size_t)ceil(frac * (double)n - 1e-9);
    out[p] = top == 0 || total <= 0 ? 0 : v[top - 1] / total;
  }
  if (top20) {
    size_t top = (n + 4) / 5;
    *top20 = n == 0 || total <= 0 ? 0 : v[top - 1] / total;
  }
  tsr__free(v);
  return TSR_OK;
}

/* ------------------------------------------------------------ column view */

void tsr__report_src_release(tsr__report_src *s) {
  if (!s) return;
  double **d[] = {&s->frequency, &s->recency, &s->T,       &s->monetary, &s->revenue,
                  &s->n_tx,      &s->active_days, &s->expected, &s->p_alive, &s->clv,
                  &s->clv_lo,    &s->clv_hi,  &s->freq_holdout};
  for (size_t i = 0; i < TSR__ARRAY_LEN(d); i++) {
    tsr__free(*d[i]);
    *d[i] = NULL;
  }
  tsr__free(s->first_day);
  tsr__free(s->last_day);
  tsr__free(s->r);
  tsr__free(s->f);
  tsr__free(s->m);
  tsr__free(s->cluster);
  tsr__free((void *)s->id);
  tsr__free((void *)s->segment);
  s->first_day = s->last_day = NULL;
  s->r = s->f = s->m = s->cluster = NULL;
  s->id = s->segment = NULL;
  tsr__free((void *)s->segment_order);
  tsr__free((void *)s->cluster_names);
  s->segment_order = s->cluster_names = NULL;
}

tsr_status tsr__report_src_alloc(tsr__report_src *s, size_t n, int with_holdout, tsr_error *err) {
  size_t nn = n ? n : 1;
  s->n = n;
  double **d[] = {&s->frequency, &s->recency, &s->T,        &s->monetary,
                  &s->revenue,   &s->n_tx,    &s->active_days, &s->expected,
                  &s->p_alive,   &s->clv,     &s->clv_lo,   &s->clv_hi,
                  &s->freq_holdout};
  size_t nd = TSR__ARRAY_LEN(d) - (with_holdout ? 0 : 1);
  int ok = 1;
  for (size_t i = 0; i < nd; i++) {
    *d[i] = tsr__malloc(nn * sizeof **d[i]);
    if (!*d[i]) ok = 0;
    else
      for (size_t j = 0; j < n; j++) (*d[i])[j] = NAN;
  }
  s->first_day = tsr__calloc(nn, sizeof *s->first_day);
  s->last_day = tsr__calloc(nn, sizeof *s->last_day);
  s->r = tsr__calloc(nn, sizeof *s->r);
  s->f = tsr__calloc(nn, sizeof *s->f);
  s->m = tsr__calloc(nn, sizeof *s->m);
  s->id = tsr__calloc(nn, sizeof *s->id);
  s->segment = tsr__calloc(nn, sizeof *s->segment);
  if (!ok || !s->first_day || !s->last_day || !s->r || !s->f || !s->m || !s->id || !s->segment) {
    tsr__report_src_release(s);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  return TSR_OK;
}

tsr_status tsr__report_src_from_result(const tsr_analyze_result *r, tsr__report_src *s,
                                       tsr_error *err) {
  const tsr_summary *sm = r->summary;
  size_t n = sm ? sm->n : 0;
  tsr_status st = tsr__report_src_alloc(s, n, sm && sm->has_holdout, err);
  if (st != TSR_OK) return st;
  if (r->clusters) {
    s->cluster = tsr__malloc((n ? n : 1) * sizeof *s->cluster);
    if (!s->cluster) {
      tsr__report_src_release(s);
      return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
  }
  for (size_t i = 0; i < n; i++) {
    const tsr_summary_row *w = &sm->rows[i];
    s->id[i] = w->customer_id;
    s->frequency[i] = w->frequency;
    s->recency[i] = w->recency;
    s->T[i] = w->T;
    s->monetary[i] = w->monetary_value;
    s->revenue[i] = w->revenue;
    s->n_tx[i] = (double)w->n_transactions;
    s->active_days[i] = (double)w->active_days;
    s->first_day[i] = w->first_day;
    s->last_day[i] = w->last_day;
    if (s->freq_holdout) s->freq_holdout[i] = w->frequency_holdout;
    if (r->r) {
      s->r[i] = r->r[i];
      s->f[i] = r->f[i];
      s->m[i] = r->m[i];
    }
    s->segment[i] = r->segment ? r->segment[i] : NULL;
    if (s->cluster) s->cluster[i] = r->clusters->labels[i];
    if (r->expected) s->expected[i] = r->expected[i];
    if (r->p_alive) s->p_alive[i] = r->p_alive[i];
    if (r->clv) {
      s->clv[i] = r->clv[i];
      s->clv_lo[i] = r->clv_lo[i];
      s->clv_hi[i] = r->clv_hi[i];
    }
  }
  s->has_model = r->has_model;
  s->has_spend = r->has_spend;
  s->model = r->model;
  s->spend = r->spend;
  s->horizon_periods = r->horizon_periods;
  s->period_days = r->period_days;
  s->scheme_name = r->scheme ? tsr_rfm_scheme_name(r->scheme) : NULL;
  size_t ns = r->scheme ? tsr_rfm_scheme_nsegments(r->scheme) : 0;
  size_t nk = r->clusters ? r->clusters->k : 0;
  s->segment_order = tsr__calloc(ns ? ns : 1, sizeof *s->segment_order);
  s->cluster_names = tsr__calloc(nk ? nk : 1, sizeof *s->cluster_names);
  if (!s->segment_order || !s->cluster_names) {
    tsr__report_src_release(s);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  for (size_t j = 0; j < ns; j++) s->segment_order[j] = tsr_rfm_scheme_segment_name(r->scheme, j);
  s->n_segment_order = ns;
  for (size_t j = 0; j < nk; j++) s->cluster_names[j] = r->clusters->profiles[j].label;
  s->n_clusters = nk;
  s->ledger = r->ledger;
  s->freq = sm ? sm->opts.freq : TSR_FREQ_D;
  s->end_day = sm ? sm->end_day : TSR_DAY_NONE;
  s->cal_end_day = sm && sm->has_holdout ? sm->cal_end_day : TSR_DAY_NONE;
  s->has_holdout = r->has_holdout && r->has_model;
  s->holdout = r->holdout;
  s->holdout_mae = r->holdout_mae;
  s->run_id = r->run_id;
  s->dataset_id = r->dataset_id;
  s->ingest = &r->ingest;
  s->timings_json = r->timings[0] ? r->timings : NULL;
  s->seconds = r->seconds;
  return TSR_OK;
}
