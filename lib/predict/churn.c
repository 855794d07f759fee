/*
 * churn.c - churn risk by gradient boosting with SHAP reasons and the
 * BG/NBD baselines (tessera/churn.h).
 */
#include "internal.h"
#include "base/textbuf.h"
#include "gbm_internal.h"
#include "predict_internal.h"
#include "tessera/churn.h"
#include "tessera/datetime.h"
#include "tessera/rng.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHAP_EXACT_MAX 200000

void tsr_churn_opts_init(tsr_churn_opts *o) {
  memset(o, 0, sizeof *o);
  o->cal_end_day = TSR__NODAY;
  o->window_days = 0;
  tsr_gbm_params_init(&o->gbm);
  o->gbm.pos_weight = 0;
  o->calibration = TSR_CALIB_ISOTONIC;
  o->test_fraction = 0.3;
  o->min_customers = 50;
  o->history_windows = 0;
  o->score = 1;
  o->one_fit = -1;
  o->max_train_rows = TSR_CHURN_MAX_TRAIN_ROWS;
}

/* ------------------------------------------------------------- helpers */

static float *gather(const float *x, const size_t *idx, size_t k) {
  float *o = tsr__malloc((k ? k : 1) * TSR__NFEAT * sizeof *o);
  if (!o) return NULL;
  for (size_t i = 0; i < k; i++)
    memcpy(o + i * TSR__NFEAT, x + idx[i] * TSR__NFEAT, TSR__NFEAT * sizeof *o);
  return o;
}

static char *day_str(int64_t d, char *b) { return tsr_day_format(d, b); }

/* A fitted, calibrated model on one cutoff. */
typedef struct fitted {
  tsr_gbm *gbm;
  tsr_calibrator cal;
  tsr_gbm_info info;
} fitted;

static void fitted_release(fitted *f) {
  tsr_gbm_free(f->gbm);
  tsr_calibrator_release(&f->cal);
  memset(f, 0, sizeof *f);
}

/* Rows of earlier windows: features and labels of learning customers at
 * cutoffs before the one being fitted (fit rows only). */
typedef struct history {
  float *x, *y;
  size_t n;
} history;

static void history_release(history *h) {
  tsr__free(h->x);
  tsr__free(h->y);
  memset(h, 0, sizeof *h);
}

/* gather, followed by the history rows. */
static float *gather_plus(const float *x, const size_t *idx, size_t k, const history *h) {
  float *o = tsr__malloc((k + h->n ? k + h->n : 1) * TSR__NFEAT * sizeof *o);
  if (!o) return NULL;
  for (size_t i = 0; i < k; i++)
    memcpy(o + i * TSR__NFEAT, x + idx[i] * TSR__NFEAT, TSR__NFEAT * sizeof *o);
  if (h->n) memcpy(o + k * TSR__NFEAT, h->x, h->n * TSR__NFEAT * sizeof *o);
  return o;
}

/* The rows of the customers with mask[i] = 1 at the cutoffs c - W, c - 2W,
 * ... (o->history_windows of them, each with at least a window of data
 * before it): more examples of the same prediction, all of them with
 * labels that end on or before c. */
static tsr_status history_rows(const tsr__pdata *d, const tsr_churn_opts *o, int32_t c, int32_t W,
                               const uint8_t *mask, history *h, tsr_error *err) {
  memset(h, 0, sizeof *h);
  size_t n = d->n;
  int K = 0;
  while (K < o->history_windows && (int64_t)c - (int64_t)(K + 1) * W >= (int64_t)d->first_day + W) K++;
  if (K == 0) return TSR_OK;
  float *xk = tsr__malloc(n * TSR__NFEAT * sizeof *xk);
  uint8_t *act = tsr__malloc(n);
  h->x = tsr__malloc((size_t)K * n * TSR__NFEAT * sizeof *h->x);
  h->y = tsr__malloc((size_t)K * n * sizeof *h->y);
  tsr_status st = TSR_OK;
  if (!xk || !act || !h->x || !h->y) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  for (int k = 1; k <= K && st == TSR_OK; k++) {
    int32_t ck = c - k * W;
    int hb;
    st = tsr__churn_features(d, ck, W, xk, act, NULL, &hb, err);
    for (size_t i = 0; i < n && st == TSR_OK; i++) {
      if (!mask[i] || !act[i]) continue;
      memcpy(h->x + h->n * TSR__NFEAT, xk + i * TSR__NFEAT, TSR__NFEAT * sizeof *xk);
      h->y[h->n++] = tsr__churn_label(d, i, ck, W);
    }
  }
done:
  tsr__free(xk);
  tsr__free(act);
  if (st != TSR_OK) history_release(h);
  return st;
}

/* The most rows a churn model is fitted on (docs/predict.md). */
#define TSR__CHURN_MAX_FIT 250000
/* Above this many fit rows, exact greedy trees give way to histogram trees
 * (TSR_GBM_HIST_FIXED: 256 bins, thread-count invariant; docs/predict.md):
 * exact trees cost about 40 % of a 300k-customer bundle analyze. Small data
 * keeps the exact method and its results. */
#define TSR__CHURN_HIST_MIN 50000
/* From this many customers on, when the evaluation cutoff is the scoring
 * cutoff (analyze: C = E - W), the evaluation's model (fitted on the 70 %
 * learning customers) also scores everyone: one fit instead of two, and the
 * reported test metrics are those of the model that scored
 * (docs/predict.md "One fit per cutoff"). Small data keeps two fits. */
#define TSR__CHURN_ONE_FIT_MIN 100000
/* From this many test customers on, the evaluation's predictions come from
 * walking the trees here (tsr__gbm_walk: XGBoost's values, checked on the
 * first rows; no DMatrix copy of the rows). */
#define TSR__CHURN_WALK_MIN 50000

tsr_status tsr__churn_sample_learn(const size_t *learn, size_t nl, const float *y, size_t max,
                                   uint64_t seed, size_t *out, size_t *nout, tsr_error *err) {
  if (max == 0 || nl <= max) {
    if (out != learn) memcpy(out, learn, nl * sizeof *out);
    *nout = nl;
    return TSR_OK;
  }
  size_t *pos = tsr__malloc(nl * sizeof *pos);
  uint8_t *keep = tsr__calloc(nl, 1);
  if (!pos || !keep) {
    tsr__free(pos);
    tsr__free(keep);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  size_t n1 = 0;
  for (size_t k = 0; k < nl; k++) n1 += y[learn[k]] == 1.0f;
  /* each class its share of max, rounded (k0 <= n0 as max < nl) */
  size_t k1 = (size_t)floor((double)max * (double)n1 / (double)nl + 0.5);
  size_t want[2] = {max - k1, k1};
  tsr_rng g;
  tsr_rng_seed(&g, seed, 0xc43);
  for (int c = 0; c < 2; c++) {
    size_t m = 0;
    for (size_t k = 0; k < nl; k++)
      if ((y[learn[k]] == 1.0f) == (c == 1)) pos[m++] = k;
    /* the first want[c] of a seeded shuffle (partial Fisher-Yates) */
    for (size_t i = 0; i < want[c] && i < m; i++) {
      size_t j = i + (size_t)tsr_rng_bounded(&g, m - i);
      size_t t = pos[i];
      pos[i] = pos[j];
      pos[j] = t;
      keep[pos[i]] = 1;
    }
  }
  size_t o = 0;
  for (size_t k = 0; k < nl; k++)
    if (keep[k]) out[o++] = learn[k];
  *nout = o;
  tsr__free(pos);
  tsr__free(keep);
  return TSR_OK;
}

/* Trains on rows learn[0..nl) of x/y and the history rows h: a seeded
 * 80/20 split of learn into fit and early-stopping/calibration rows; the
 * history rows are fit rows. */
static tsr_status fit_calibrated(const tsr_churn_opts *o, const float *x, const float *y,
                                 const size_t *learn, size_t nl, const history *h,
                                 int64_t cutoff, int64_t window, fitted *out, tsr_error *err) {
  tsr_status st = TSR_OK;
  history hk = *h; /* h, or its sample when there are too many rows */
  int hk_own = 0;
  memset(out, 0, sizeof *out);
  size_t *fi = tsr__malloc((nl ? nl : 1) * sizeof *fi), *vi = tsr__malloc((nl ? nl : 1) * sizeof *vi);
  size_t *ls = NULL; /* the sampled learning customers */
  float *xf = NULL, *xv = NULL, *yf = NULL, *yv = NULL;
  double *pv = NULL;
  uint8_t *lv = NULL;
  size_t nf = 0, nv = 0;
  if (!fi || !vi) { st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory"); goto done; }
  /* at most o->max_train_rows learning customers: a seeded sample
   * stratified by label (docs/predict.md "Training rows") */
  if (o->max_train_rows && nl > o->max_train_rows) {
    if (!(ls = tsr__malloc(nl * sizeof *ls))) {
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      goto done;
    }
    st = tsr__churn_sample_learn(learn, nl, y, o->max_train_rows, o->gbm.seed, ls, &nl, err);
    if (st != TSR_OK) goto done;
    learn = ls;
  }
  tsr_rng g;
  tsr_rng_seed(&g, o->gbm.seed, 0xc41);
  for (size_t k = 0; k < nl; k++) {
    if (tsr_rng_uniform(&g) < 0.2) vi[nv++] = learn[k];
    else fi[nf++] = learn[k];
  }
  /* At most TSR__CHURN_MAX_FIT fit rows: beyond it, a seeded sample of the
   * fit and history rows, each kept with the same probability (exact greedy
   * trees on millions of rows cost many minutes and gain little;
   * docs/predict.md). Small data is untouched. */
  if (nf + h->n > TSR__CHURN_MAX_FIT) {
    double keep = (double)TSR__CHURN_MAX_FIT / (double)(nf + h->n);
    tsr_rng gs;
    tsr_rng_seed(&gs, o->gbm.seed, 0xc42);
    size_t m = 0;
    for (size_t k = 0; k < nf; k++)
      if (tsr_rng_uniform(&gs) < keep) fi[m++] = fi[k];
    nf = m;
    if (h->n) {
      hk.n = 0;
      hk.x = tsr__malloc(h->n * TSR__NFEAT * sizeof *hk.x);
      hk.y = tsr__malloc(h->n * sizeof *hk.y);
      hk_own = 1;
      if (!hk.x || !hk.y) { st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory"); goto done; }
      for (size_t k = 0; k < h->n; k++) {
        if (tsr_rng_uniform(&gs) >= keep) continue;
        memcpy(hk.x + hk.n * TSR__NFEAT, h->x + k * TSR__NFEAT, TSR__NFEAT * sizeof *hk.x);
        hk.y[hk.n++] = h->y[k];
      }
    }
  }
  h = &hk;
  size_t pos_f = 0, pos_v = 0, nf0 = nf;
  xf = gather_plus(x, fi, nf, h);
  xv = gather(x, vi, nv);
  nf += h->n;
  yf = tsr__malloc((nf ? nf : 1) * sizeof *yf);
  yv = tsr__malloc((nv ? nv : 1) * sizeof *yv);
  pv = tsr__malloc((nv ? nv : 1) * sizeof *pv);
  lv = tsr__malloc(nv ? nv : 1);
  if (!xf || !xv || !yf || !yv || !pv || !lv) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  for (size_t k = 0; k < nf; k++) pos_f += (yf[k] = k < nf0 ? y[fi[k]] : h->y[k - nf0]) == 1.0f;
  for (size_t k = 0; k < nv; k++) {
    yv[k] = y[vi[k]];
    lv[k] = yv[k] == 1.0f;
    pos_v += lv[k];
  }
  char b1[16];
  if (pos_f == 0 || pos_f == nf || pos_v == 0 || pos_v == nv) {
    st = tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                       "one class only at cutoff %s: %s of the %zu customers churned in the "
                       "%lld days after it; choose another calibration end or churn window",
                       day_str(cutoff, b1), pos_f + pos_v == 0 ? "none" : "all", nl,
                       (long long)window);
    goto done;
  }
  tsr_gbm_data df = {nf, TSR__NFEAT, xf, yf, NULL}, dv = {nv, TSR__NFEAT, xv, yv, NULL};
  tsr_gbm_params gp = o->gbm;
  if (gp.tree_method == TSR_GBM_EXACT && nf > TSR__CHURN_HIST_MIN) gp.tree_method = TSR_GBM_HIST_FIXED;
  /* pv: the early-stopping rows' predictions, from training */
  st = tsr__gbm_train_valid(&gp, &df, &dv, &out->gbm, &out->info, pv, err);
  if (st != TSR_OK) goto done;
  st = tsr_calibrator_fit(o->calibration, pv, lv, nv, &out->cal, err);
done:
  if (st != TSR_OK) fitted_release(out);
  if (hk_own) history_release(&hk);
  tsr__free(ls);
  tsr__free(fi);
  tsr__free(vi);
  tsr__free(xf);
  tsr__free(xv);
  tsr__free(yf);
  tsr__free(yv);
  tsr__free(pv);
  tsr__free(lv);
  return st;
}

static tsr_status too_few(tsr_error *err, size_t k, int64_t cutoff, size_t min) {
  char b[16];
  return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                       "too few customers: %zu with a purchase by %s, need at least %zu",
                       k, day_str(cutoff, b), min);
}

/* ----------------------------------------------------------------- run */

static tsr_status check_opts(const tsr_churn_opts *o, tsr_error *err) {
  if (o->cal_end_day == TSR__NODAY)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "calibration_end", "required");
  if (o->window_days < 0 || o->window_days > 36500)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "window",
                         "expected 1..36500 days (or 0 = the rest of the data), got %lld",
                         (long long)o->window_days);
  if (!(o->test_fraction >= 0.1 && o->test_fraction <= 0.5))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "test_fraction",
                         "expected a value in [0.1, 0.5], got %g", o->test_fraction);
  if (o->history_windows < 0 || o->history_windows > 8)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "history_windows",
                         "expected 0..8 earlier windows, got %d", o->history_windows);
  if (o->one_fit < -1 || o->one_fit > 1)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "one_fit",
                         "expected -1 (auto), 0 or 1, got %d", o->one_fit);
  if (o->max_train_rows != 0 && o->max_train_rows < 100)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "max_train_rows",
                         "expected 0 (all) or at least 100, got %zu", o->max_train_rows);
  if (o->min_customers < 20)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "min_customers",
                         "expected at least 20, got %zu", o->min_customers);
  return tsr_gbm_check_params(&o->gbm, err);
}

/* The features at one cutoff, kept from the evaluation for the scoring
 * model when both use the same cutoff (analyze: C = E - W). */
typedef struct cutfeat {
  int32_t day; /* TSR__NODAY: none */
  float *x;
  uint8_t *active;
} cutfeat;

static void cutfeat_release(cutfeat *k) {
  tsr__free(k->x);
  tsr__free(k->active);
  k->x = NULL;
  k->active = NULL;
  k->day = TSR__NODAY;
}

/* keep: NULL, or where to leave the features at C (day, x, active);
 * keep_fit: NULL, or where to leave the fitted model (one fit per cutoff). */
static tsr_status evaluate_cutoff(const tsr__pdata *d, const tsr_churn_opts *o, int32_t C,
                                  int32_t W, tsr_churn_result *r, cutfeat *keep, fitted *keep_fit,
                                  tsr_error *err) {
  tsr_status st = TSR_OK;
  size_t n = d->n;
  float *x = tsr__malloc(n * TSR__NFEAT * sizeof *x), *y = tsr__malloc(n * sizeof *y);
  uint8_t *active = tsr__malloc(n), *lt = NULL;
  size_t *learn = tsr__malloc(n * sizeof *learn), *test = tsr__malloc(n * sizeof *test);
  float *xt = NULL;
  double *pt = NULL, *pa = NULL, *pz = NULL;
  fitted f;
  memset(&f, 0, sizeof f);
  history hist = {0};
  if (!x || !y || !active || !learn || !test) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  tsr_btyd_model m;
  int has_btyd = 0;
  st = tsr__churn_features(d, C, W, x, active, &m, &has_btyd, err);
  if (st != TSR_OK) goto done;
  if (keep) {
    if (!(keep->active = tsr__malloc(n))) {
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      goto done;
    }
    memcpy(keep->active, active, n);
  }
  size_t nl = 0, nt = 0, na = 0, nchurn = 0;
  tsr_rng g;
  tsr_rng_seed(&g, o->gbm.seed, 0x7e57);
  for (size_t i = 0; i < n; i++) {
    if (!active[i]) continue;
    na++;
    y[i] = tsr__churn_label(d, i, C, W);
    nchurn += y[i] == 1.0f;
    if (tsr_rng_uniform(&g) < o->test_fraction) test[nt++] = i;
    else learn[nl++] = i;
  }
  if (na < o->min_customers) { st = too_few(err, na, C, o->min_customers); goto done; }
  r->churn_rate = (double)nchurn / (double)na;
  r->n_learn = nl;
  r->n_test = nt;
  /* the learning customers' earlier windows: mask = learn */
  memset(active, 0, n);
  for (size_t k = 0; k < nl; k++) active[learn[k]] = 1;
  st = history_rows(d, o, C, W, active, &hist, err);
  if (st != TSR_OK) goto done;
  r->n_history = hist.n;
  st = fit_calibrated(o, x, y, learn, nl, &hist, C, W, &f, err);
  if (st != TSR_OK) goto done;
  r->eval_info = f.info;
  xt = gather(x, test, nt);
  pt = tsr__malloc((nt ? nt : 1) * sizeof *pt);
  pa = tsr__malloc((nt ? nt : 1) * sizeof *pa);
  pz = tsr__malloc((nt ? nt : 1) * sizeof *pz);
  lt = tsr__malloc(nt ? nt : 1);
  if (!xt || !pt || !pa || !pz || !lt) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  /* large data: the predictions by walking the trees here (equal to
   * XGBoost's, tsr__gbm_walk) */
  st = nt > TSR__CHURN_WALK_MIN ? tsr__gbm_walk(f.gbm, xt, nt, pt, NULL, o->gbm.threads, NULL, err)
                                : tsr_gbm_predict(f.gbm, xt, nt, pt, err);
  if (st != TSR_OK) goto done;
  for (size_t k = 0; k < nt; k++) {
    pt[k] = tsr_calibrator_apply(&f.cal, pt[k]);
    lt[k] = y[test[k]] == 1.0f;
  }
  r->eval[0].method = "xgboost";
  st = tsr_eval_binary_compute(pt, lt, nt, &r->eval[0].m, err);
  if (st != TSR_OK) goto done;
  st = tsr_eval_reliability(pt, lt, nt, TSR_CHURN_REL_BINS, r->reliability, err);
  if (st != TSR_OK) goto done;
  r->n_methods = 1;
  if (has_btyd) {
    int ok = 1;
    for (size_t k = 0; k < nt && ok; k++) {
      const float *fx = x + test[k] * TSR__NFEAT;
      pa[k] = 1.0 - fx[TSR__F_PALIVE];
      double bx = fx[TSR__F_VISITS] - 1, T = fx[TSR__F_TENURE] / 7.0;
      double tx = (fx[TSR__F_TENURE] - fx[TSR__F_RECENCY]) / 7.0;
      tsr_status ps = T > 0 ? tsr_btyd_pmf_conditional(&m, bx, tx, T, 0, W / 7.0, &pz[k], NULL)
                            : tsr_btyd_pmf_new(&m, 0, W / 7.0, &pz[k], NULL);
      if (ps != TSR_OK || !isfinite(pz[k])) ok = 0;
      if (pz[k] < 0) pz[k] = 0;
      if (pz[k] > 1) pz[k] = 1;
      if (!isfinite(pa[k])) ok = 0;
    }
    if (ok && tsr_eval_binary_compute(pa, lt, nt, &r->eval[1].m, NULL) == TSR_OK &&
        tsr_eval_binary_compute(pz, lt, nt, &r->eval[2].m, NULL) == TSR_OK) {
      r->eval[1].method = "btyd_p_alive";
      r->eval[2].method = "btyd_p_zero";
      r->n_methods = 3;
    }
  }
done:
  if (keep && st == TSR_OK) { /* x is unchanged since the features */
    keep->x = x;
    keep->day = C;
    x = NULL;
  }
  if (keep_fit && st == TSR_OK) {
    *keep_fit = f;
    memset(&f, 0, sizeof f);
  }
  fitted_release(&f);
  history_release(&hist);
  tsr__free(x);
  tsr__free(y);
  tsr__free(active);
  tsr__free(learn);
  tsr__free(test);
  tsr__free(xt);
  tsr__free(pt);
  tsr__free(pa);
  tsr__free(pz);
  tsr__free(lt);
  return st;
}

static void cal_json(tsr__tb *b, const tsr_calibrator *c) {
  tsr__tb_printf(b, "{\"kind\":\"%s\"", tsr_calib_kind_name(c->kind));
  if (c->kind == TSR_CALIB_PLATT) {
    tsr__tb_printf(b, ",\"a\":");
    tsr__tb_jnum(b, c->a);
    tsr__tb_printf(b, ",\"b\":");
    tsr__tb_jnum(b, c->b);
  } else if (c->kind == TSR_CALIB_ISOTONIC) {
    for (int pass = 0; pass < 2; pass++) {
      tsr__tb_printf(b, pass ? ",\"y\":[" : ",\"x\":[");
      for (size_t k = 0; k < c->n; k++) {
        if (k) tsr__tb_printf(b, ",");
        tsr__tb_jnum(b, pass ? c->y[k] : c->x[k]);
      }
      tsr__tb_printf(b, "]");
    }
  }
  tsr__tb_printf(b, "}");
}

/* kept: the features of the evaluation's cutoff (taken over when it is C2);
 * pre: NULL, or the evaluation's model at C2, taken over instead of a
 * second fit (one fit per cutoff). */
static tsr_status score_present(const tsr__pdata *d, const tsr_churn_opts *o, int32_t W,
                                cutfeat *kept, fitted *pre, tsr_churn_result *r, tsr_error *err) {
  tsr_status st = TSR_OK;
  size_t n = d->n;
  int32_t E = d->last_day, C2 = E - W;
  r->score_cutoff_day = C2;
  int reuse = kept->x && kept->day == C2;
  float *x = reuse ? kept->x : tsr__malloc(n * TSR__NFEAT * sizeof *x);
  float *y = tsr__malloc(n * sizeof *y);
  uint8_t *active = reuse ? kept->active : tsr__malloc(n);
  if (reuse) kept->x = NULL, kept->active = NULL;
  size_t *learn = tsr__malloc(n * sizeof *learn);
  double *contrib = NULL;
  char *booster = NULL;
  fitted f;
  memset(&f, 0, sizeof f);
  history hist = {0};
  if (!x || !y || !active || !learn) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  int has_btyd;
  if (pre) {
    f = *pre;
    memset(pre, 0, sizeof *pre);
  } else {
    if (!reuse && (st = tsr__churn_features(d, C2, W, x, active, NULL, &has_btyd, err)) != TSR_OK)
      goto done;
    size_t nl = 0;
    for (size_t i = 0; i < n; i++)
      if (active[i]) {
        y[i] = tsr__churn_label(d, i, C2, W);
        learn[nl++] = i;
      }
    if (nl < o->min_customers) { st = too_few(err, nl, C2, o->min_customers); goto done; }
    st = history_rows(d, o, C2, W, active, &hist, err);
    if (st != TSR_OK) goto done;
    st = fit_calibrated(o, x, y, learn, nl, &hist, C2, W, &f, err);
    history_release(&hist);
    if (st != TSR_OK) goto done;
  }
  r->score_info = f.info;
  /* the present: features at E for every customer */
  st = tsr__churn_features(d, E, W, x, active, NULL, &has_btyd, err);
  if (st != TSR_OK) goto done;
  r->n = n;
  r->customer_id = tsr__calloc(n, sizeof *r->customer_id);
  r->probability = tsr__malloc(n * sizeof *r->probability);
  r->reason_feature = tsr__malloc(n * sizeof *r->reason_feature);
  r->reason_value = tsr__malloc(n * sizeof *r->reason_value);
  if (!r->customer_id || !r->probability || !r->reason_feature || !r->reason_value) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < n; i++)
    if (!(r->customer_id[i] = tsr__strdup(tsr_ledger_customer(d->lg, i)))) {
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      goto done;
    }
  /* exact TreeSHAP up to SHAP_EXACT_MAX customers, approximate (Saabas)
   * contributions beyond (about 20x faster; XGBoost's, computed here from
   * the trees, in the same walk as the predictions; docs/predict.md) */
  int walk = n > SHAP_EXACT_MAX;
  if (!walk) {
    st = tsr_gbm_predict(f.gbm, x, n, r->probability, err);
    if (st != TSR_OK) goto done;
  }
  /* SHAP in chunks (n x 24 doubles at once would be large) */
  const size_t CH = 65536;
  contrib = tsr__malloc(CH * (TSR__NFEAT + 1) * sizeof *contrib);
  if (!contrib) { st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory"); goto done; }
  double imp[TSR__NFEAT] = {0};
  for (size_t off = 0; off < n; off += CH) {
    size_t k = n - off < CH ? n - off : CH;
    st = walk ? tsr__gbm_walk(f.gbm, x + off * TSR__NFEAT, k, r->probability + off, contrib,
                              o->gbm.threads, NULL, err)
              : tsr_gbm_contributions(f.gbm, x + off * TSR__NFEAT, k, 0, contrib, err);
    if (st != TSR_OK) goto done;
    for (size_t i = off; i < off + k; i++)
      r->probability[i] = tsr_calibrator_apply(&f.cal, r->probability[i]);
    for (size_t i = 0; i < k; i++) {
      const double *c = contrib + i * (TSR__NFEAT + 1);
      int top[3] = {-1, -1, -1};
      for (int j = 0; j < TSR__NFEAT; j++) {
        imp[j] += fabs(c[j]);
        if (!(c[j] > 1e-6)) continue;
        for (int s = 0; s < 3; s++)
          if (top[s] < 0 || c[j] > c[top[s]]) {
            for (int t = 2; t > s; t--) top[t] = top[t - 1];
            top[s] = j;
            break;
          }
      }
      for (int s = 0; s < 3; s++) {
        r->reason_feature[off + i][s] = (int8_t)top[s];
        r->reason_value[off + i][s] = top[s] >= 0 ? x[(off + i) * TSR__NFEAT + (size_t)top[s]] : NAN;
      }
    }
  }
  for (int j = 0; j < TSR__NFEAT; j++) r->importance[j] = imp[j] / (double)n;
  /* the model document */
  size_t blen;
  st = tsr_gbm_save(f.gbm, &booster, &blen, err);
  if (st != TSR_OK) goto done;
  tsr__tb b = {0};
  char d1[16], d2[16];
  tsr__tb_printf(&b, "{\"format\":\"tessera-churn\",\"version\":1,\"cutoff\":\"%s\",\"window_days\":%d,"
                "\"last_day\":\"%s\",\"features\":[",
            day_str(C2, d1), (int)W, day_str(E, d2));
  for (size_t j = 0; j < r->nfeat; j++) {
    if (j) tsr__tb_printf(&b, ",");
    tsr__tb_jstr(&b, r->feature[j]); /* product names may hold quotes */
  }
  tsr__tb_printf(&b, "],\"calibration\":");
  cal_json(&b, &f.cal);
  tsr__tb_printf(&b, ",\"booster\":");
  if (blen > (size_t)INT_MAX) b.oom = 1; /* a booster over 2 GB: out of memory */
  else tsr__tb_printf(&b, "%.*s", (int)blen, booster);
  tsr__tb_printf(&b, "}");
  if (!(r->model_json = tsr__tb_take(&b))) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
done:
  fitted_release(&f);
  tsr__free(x);
  tsr__free(y);
  tsr__free(active);
  tsr__free(learn);
  tsr__free(contrib);
  free(booster);
  return st;
}

/* r->feature[] of the data d: the fixed names and the product slots' names
 * (kept in r->feature_text). */
static tsr_status set_feature_names(const tsr__pdata *d, tsr_churn_result *r, tsr_error *err) {
  r->nfeat = tsr__churn_nfeat(d);
  size_t len = 0, off = 0;
  char b[160];
  for (size_t j = TSR__NFIXED; j < r->nfeat; j++)
    len += strlen(tsr__churn_feature_label(d, (int)j, b, sizeof b)) + 1;
  r->feature_text = tsr__malloc(len ? len : 1);
  if (!r->feature_text) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  for (size_t j = 0; j < r->nfeat; j++) {
    if (j < TSR__NFIXED) {
      r->feature[j] = tsr__churn_feature_name((int)j);
      continue;
    }
    const char *l = tsr__churn_feature_label(d, (int)j, b, sizeof b);
    size_t k = strlen(l) + 1;
    memcpy(r->feature_text + off, l, k);
    r->feature[j] = r->feature_text + off;
    off += k;
  }
  return TSR_OK;
}

/* The model on d (read, read-only here), o checked. */
static tsr_status churn_on(const tsr__pdata *dp, const tsr_churn_opts *op, tsr_churn_result **out,
                           tsr_error *err) {
  const tsr__pdata d = *dp; /* a shallow copy: the arrays are only read */
  const tsr_churn_opts o = *op;
  tsr_status st;
  tsr_churn_result *r = tsr__calloc(1, sizeof *r);
  if (!r) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  char b1[16], b2[16], b3[16];
  int32_t E = d.last_day, C = (int32_t)o.cal_end_day;
  if (C < d.first_day || C >= E) {
    st = tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "calibration_end",
                       "%s is outside the data: expected a day from %s to the day before %s",
                       day_str(C, b1), day_str(d.first_day, b2), day_str(E, b3));
    goto fail;
  }
  int32_t W = o.window_days ? (int32_t)o.window_days : E - C;
  if ((int64_t)C + W > E) {
    st = tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "window",
                       "%d days after %s end after the last transaction day %s (at most %d)",
                       (int)W, day_str(C, b1), day_str(E, b2), (int)(E - C));
    goto fail;
  }
  r->cal_end_day = C;
  r->window_days = W;
  r->last_day = E;
  st = set_feature_names(&d, r, err);
  if (st != TSR_OK) goto fail;
  r->has_customers = d.has_customers;
  r->has_products = d.has_products;
  r->has_interactions = d.has_interactions;
  r->rejected_rows = d.rejected;
  r->first_reject = d.first_reject;
  cutfeat kept = {TSR__NODAY, NULL, NULL};
  /* one fit per cutoff: on large data the evaluation's model, when its
   * cutoff is the scoring one, also scores (docs/predict.md) */
  fitted one;
  memset(&one, 0, sizeof one);
  int one_fit = o.score && C == E - W &&
                (o.one_fit == 1 || (o.one_fit == -1 && d.n >= TSR__CHURN_ONE_FIT_MIN));
  st = evaluate_cutoff(&d, &o, C, W, r, o.score && C == E - W ? &kept : NULL,
                       one_fit ? &one : NULL, err);
  if (st == TSR_OK && o.score) st = score_present(&d, &o, W, &kept, one_fit ? &one : NULL, r, err);
  fitted_release(&one);
  cutfeat_release(&kept);
  if (st != TSR_OK) goto fail;
  *out = r;
  return TSR_OK;
fail:
  tsr_churn_result_free(r);
  return st;
}

tsr_status tsr_churn_run(const char *dir, const tsr_churn_opts *opts, tsr_churn_result **out,
                         tsr_error *err) {
  tsr_churn_opts o;
  if (opts) o = *opts;
  else tsr_churn_opts_init(&o);
  if (!out) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "no output");
  *out = NULL;
  tsr_status st = check_opts(&o, err);
  if (st != TSR_OK) return st;
  tsr__pdata d;
  st = tsr__pdata_read_tables(dir, o.ledger, o.table_opts, o.tables, &d, err);
  if (st != TSR_OK) return st;
  st = churn_on(&d, &o, out, err);
  tsr__pdata_release(&d);
  return st;
}

tsr_status tsr__churn_run_pdata(const tsr__pdata *d, const tsr_churn_opts *opts,
                                tsr_churn_result **out, tsr_error *err) {
  tsr_churn_opts o;
  if (opts) o = *opts;
  else tsr_churn_opts_init(&o);
  if (!out) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "no output");
  *out = NULL;
  if (!d) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "no data");
  tsr_status st = check_opts(&o, err);
  if (st != TSR_OK) return st;
  return churn_on(d, &o, out, err);
}

void tsr_churn_result_free(tsr_churn_result *r) {
  if (!r) return;
  if (r->customer_id)
    for (size_t i = 0; i < r->n; i++) tsr__free(r->customer_id[i]);
  tsr__free(r->customer_id);
  tsr__free(r->probability);
  tsr__free(r->reason_feature);
  tsr__free(r->reason_value);
  tsr__free(r->model_json);
  tsr__free(r->feature_text);
  tsr__free(r);
}

char *tsr_churn_reason(const tsr_churn_result *r, size_t i, int k, char *buf, size_t cap) {
  if (cap) buf[0] = '\0';
  if (!r || i >= r->n || k < 0 || k > 2 || !r->reason_feature) return buf;
  int j = r->reason_feature[i][k];
  if (j < 0) return buf;
  return tsr__churn_reason(j, r->feature[j], r->reason_value[i][k], buf, cap);
}

/* {"n":..,"n_churned":..,"auc":..,...}: the metrics by name from a table
 * (one loop rather than a call pair per field). */
static void eval_json(tsr__tb *b, const tsr_eval_binary *m) {
  const struct {
    const char *key;
    double v;
  } f[] = {{"auc", m->auc},           {"pr_auc", m->pr_auc},
           {"brier", m->brier},       {"log_loss", m->log_loss},
           {"lift_top10", m->lift_top10}};
  tsr__tb_printf(b, "{\"n\":%zu,\"n_churned\":%zu", m->n, m->n_pos);
  for (size_t k = 0; k < sizeof f / sizeof *f; k++) {
    tsr__tb_printf(b, ",\"%s\":", f[k].key);
    tsr__tb_jnum(b, f[k].v);
  }
  tsr__tb_printf(b, "}");
}

tsr_status tsr_churn_eval_json(const tsr_churn_result *r, char **json, tsr_error *err) {
  tsr__tb b = {0};
  char d1[16], d2[16], d3[16];
  tsr__tb_printf(&b,
            "{\"calibration_end\":\"%s\",\"window_days\":%lld,\"last_day\":\"%s\","
            "\"score_cutoff\":\"%s\",\"n_learn\":%zu,\"n_test\":%zu,\"churn_rate\":",
            day_str(r->cal_end_day, d1), (long long)r->window_days, day_str(r->last_day, d2),
            r->n ? day_str(r->score_cutoff_day, d3) : "", r->n_learn, r->n_test);
  tsr__tb_jnum(&b, r->churn_rate);
  tsr__tb_printf(&b, ",\"n_history\":%zu,\"rounds\":%d,\"methods\":{", r->n_history, r->eval_info.rounds);
  for (size_t k = 0; k < r->n_methods; k++) {
    tsr__tb_printf(&b, "%s\"%s\":", k ? "," : "", r->eval[k].method);
    eval_json(&b, &r->eval[k].m);
  }
  tsr__tb_printf(&b, "},\"roc\":{");
  for (size_t k = 0; k < r->n_methods; k++) {
    const tsr_eval_binary *m = &r->eval[k].m;
    tsr__tb_printf(&b, "%s\"%s\":[", k ? "," : "", r->eval[k].method);
    for (size_t q = 0; q < m->n_roc; q++)
      tsr__tb_printf(&b, "%s[%.6g,%.6g]", q ? "," : "", m->roc[q][0], m->roc[q][1]);
    tsr__tb_printf(&b, "]");
  }
  tsr__tb_printf(&b, "},\"lift\":{");
  for (size_t k = 0; k < r->n_methods; k++) {
    tsr__tb_printf(&b, "%s\"%s\":[", k ? "," : "", r->eval[k].method);
    for (int q = 0; q < 10; q++) {
      if (q) tsr__tb_printf(&b, ",");
      tsr__tb_jnum(&b, r->eval[k].m.decile_lift[q]);
    }
    tsr__tb_printf(&b, "]");
  }
  tsr__tb_printf(&b, "},\"reliability\":[");
  for (int k = 0; k < TSR_CHURN_REL_BINS; k++) {
    const tsr_reliability_bin *rb = &r->reliability[k];
    tsr__tb_printf(&b, "%s{\"lo\":%g,\"hi\":%g,\"n\":%zu,\"mean_predicted\":", k ? "," : "", rb->lo,
              rb->hi, rb->n);
    tsr__tb_jnum(&b, rb->mean_pred);
    tsr__tb_printf(&b, ",\"observed\":");
    tsr__tb_jnum(&b, rb->observed);
    tsr__tb_printf(&b, "}");
  }
  tsr__tb_printf(&b, "],\"importance\":{");
  for (size_t j = 0; j < r->nfeat; j++) {
    if (j) tsr__tb_printf(&b, ",");
    tsr__tb_jstr(&b, r->feature[j]);
    tsr__tb_printf(&b, ":");
    tsr__tb_jnum(&b, r->importance[j]);
  }
  tsr__tb_printf(&b, "}}");
  if (!(*json = tsr__tb_take(&b)))
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  return TSR_OK;
}
