/*
 * uplift.c - T- and X-learner uplift models on XGBoost, cross-fitted, and
 * their evaluation (tessera/uplift.h).
 *
 * XGBoost is used through the one wrapper, tessera/gbm.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tessera/gbm.h"
#include "tessera/rng.h"
#include "tessera/uplift.h"

void tsr_uplift_opts_init(tsr_uplift_opts *o) {
  o->learner = TSR_UPLIFT_X;
  o->folds = 5;
  o->rounds = 100;
  o->depth = 4;
  o->eta = 0.1;
  o->min_child_weight = 5;
  o->seed = 1;
  o->threads = 2;
}

/* ---------------------------------------------------------------- booster */

/* The rows idx[0..k) of X (all rows when idx is NULL) as floats. */
static float *rows_f(const double *X, size_t d, const size_t *idx, size_t k) {
  float *m = tsr__malloc((k ? k : 1) * d * sizeof *m);
  if (m)
    for (size_t i = 0; i < k; i++)
      for (size_t j = 0; j < d; j++) m[i * d + j] = (float)X[(idx ? idx[i] : i) * d + j];
  return m;
}

/* Fits a booster (tessera/gbm.h: histogram trees, o->rounds rounds, no
 * early stopping) on rows idx[0..k) of X with labels lab (k values). A
 * binary fold with one class only is fitted as a regression of the constant
 * (its predictions are that class's probability, 0 or 1). */
static tsr_status gbm_fit(const double *X, size_t d, const size_t *idx, size_t k, const float *lab,
                          int binary, const tsr_uplift_opts *o, tsr_gbm **out, tsr_error *err) {
  *out = NULL;
  tsr_gbm_params p;
  tsr_gbm_params_init(&p);
  size_t pos = 0;
  for (size_t i = 0; i < k && binary; i++) pos += lab[i] > 0.5f;
  p.objective = binary && pos > 0 && pos < k ? TSR_GBM_BINARY : TSR_GBM_REGRESSION;
  p.tree_method = TSR_GBM_HIST;
  p.max_depth = o->depth;
  p.eta = o->eta;
  p.min_child_weight = o->min_child_weight;
  p.threads = o->threads;
  p.seed = o->seed % 2147483647ULL;
  p.n_rounds = o->rounds;
  p.early_stopping = 0;
  p.valid_fraction = 0;
  p.subsample = 0.8;
  p.colsample = 1.0;
  float *m = rows_f(X, d, idx, k);
  if (!m) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  tsr_gbm_data td = {k, d, m, lab, NULL};
  tsr_status st = tsr_gbm_train(&p, &td, NULL, out, NULL, err);
  tsr__free(m);
  return st;
}

/* Predicts rows idx[0..k) of X (all rows when idx is NULL) into out. */
static tsr_status gbm_predict(tsr_gbm *b, const double *X, size_t d, const size_t *idx, size_t k,
                              double *out, tsr_error *err) {
  if (k == 0) return TSR_OK;
  float *m = rows_f(X, d, idx, k);
  if (!m) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  tsr_status st = tsr_gbm_predict(b, m, k, out, err);
  tsr__free(m);
  return st;
}

/* ---------------------------------------------------------------- learners */

tsr_status tsr_uplift_fit_predict(const double *X, size_t n, size_t d, const int *treat,
                                  const double *y, const double *X_new, size_t m,
                                  const tsr_uplift_opts *opts, double *tau, double *p1, double *p0,
                                  double *tau_new, double *p1_new, double *p0_new, tsr_error *err) {
  tsr_uplift_opts o;
  if (opts) o = *opts;
  else tsr_uplift_opts_init(&o);
  if (o.folds < 2 || o.folds > 20) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "folds", "expected an integer in [2, 20], got %d", o.folds);
  if (o.rounds < 1 || o.rounds > 10000) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "rounds", "expected an integer in [1, 10000], got %d", o.rounds);
  if (o.depth < 1 || o.depth > 16) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "depth", "expected an integer in [1, 16], got %d", o.depth);
  if (!(o.eta > 0 && o.eta <= 1)) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "eta", "expected a value in (0, 1], got %g", o.eta);
  if (o.threads < 1 || o.threads > 64) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "threads", "expected an integer in [1, 64], got %d", o.threads);
  if (d < 1) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "uplift: no features");
  size_t nt = 0, yt = 0, yc = 0;
  for (size_t i = 0; i < n; i++) {
    if ((treat[i] != 0 && treat[i] != 1) || (y[i] != 0 && y[i] != 1))
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "unit %zu: treatment and response must be 0 or 1", i + 1);
    nt += (size_t)treat[i];
    if (y[i] > 0) *(treat[i] ? &yt : &yc) += 1;
  }
  if (nt < (size_t)o.folds || n - nt < (size_t)o.folds)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "group",
                         "%s group: %zu customers, need at least %d (one per fold)",
                         nt < (size_t)o.folds ? "treatment" : "control", nt < (size_t)o.folds ? nt : n - nt, o.folds);
  if (yt + yc == 0)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "responded", "no responses in either group: nothing to learn");
  double g = (double)nt / (double)n;
  tsr_status st = TSR_OK;
  int *fold = tsr__malloc(n * sizeof *fold);
  size_t *tr1 = tsr__malloc(n * sizeof *tr1), *tr0 = tsr__malloc(n * sizeof *tr0), *te = tsr__malloc(n * sizeof *te);
  float *lab = tsr__malloc(n * sizeof *lab);
  double *a = tsr__malloc((n + m + 1) * sizeof *a), *b = tsr__malloc((n + m + 1) * sizeof *b);
  double *tmp = tsr__malloc((n + m + 1) * sizeof *tmp);
  if (!fold || !tr1 || !tr0 || !te || !lab || !a || !b || !tmp) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  /* folds: a seeded permutation, stratified by group */
  {
    tsr_rng r;
    tsr_rng_seed(&r, o.seed, 0x0f01d5u);
    size_t c[2] = {0, 0};
    size_t *perm = tr1; /* scratch */
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = n; i > 1; i--) {
      size_t j = (size_t)tsr_rng_bounded(&r, i), t = perm[i - 1];
      perm[i - 1] = perm[j];
      perm[j] = t;
    }
    for (size_t k = 0; k < n; k++) {
      size_t i = perm[k];
      fold[i] = (int)(c[treat[i]]++ % (size_t)o.folds);
    }
  }
  for (size_t j = 0; j < m; j++) {
    if (tau_new) tau_new[j] = 0;
    if (p1_new) p1_new[j] = 0;
    if (p0_new) p0_new[j] = 0;
  }
  for (int f = 0; f < o.folds && st == TSR_OK; f++) {
    size_t n1 = 0, n0 = 0, ne = 0;
    for (size_t i = 0; i < n; i++) {
      if (fold[i] == f) te[ne++] = i;
      else if (treat[i]) tr1[n1++] = i;
      else tr0[n0++] = i;
    }
    tsr_gbm *mu1 = NULL, *mu0 = NULL, *t1 = NULL, *t0 = NULL;
    /* stage 1: response models */
    for (size_t k = 0; k < n1; k++) lab[k] = (float)y[tr1[k]];
    if ((st = gbm_fit(X, d, tr1, n1, lab, 1, &o, &mu1, err))) goto fold_done;
    for (size_t k = 0; k < n0; k++) lab[k] = (float)y[tr0[k]];
    if ((st = gbm_fit(X, d, tr0, n0, lab, 1, &o, &mu0, err))) goto fold_done;
    if ((st = gbm_predict(mu1, X, d, te, ne, a, err)) || (st = gbm_predict(mu0, X, d, te, ne, b, err))) goto fold_done;
    for (size_t k = 0; k < ne; k++) {
      p1[te[k]] = a[k];
      p0[te[k]] = b[k];
      tau[te[k]] = a[k] - b[k];
    }
    if (m) {
      if ((st = gbm_predict(mu1, X_new, d, NULL, m, a, err)) || (st = gbm_predict(mu0, X_new, d, NULL, m, b, err))) goto fold_done;
      for (size_t j = 0; j < m; j++) {
        if (p1_new) p1_new[j] += a[j] / o.folds;
        if (p0_new) p0_new[j] += b[j] / o.folds;
        if (o.learner == TSR_UPLIFT_T && tau_new) tau_new[j] += (a[j] - b[j]) / o.folds;
      }
    }
    if (o.learner == TSR_UPLIFT_X) {
      /* stage 2: imputed effects D1 = y - mu0(x) on the treated, D0 = mu1(x) - y on the controls */
      if ((st = gbm_predict(mu0, X, d, tr1, n1, tmp, err))) goto fold_done;
      for (size_t k = 0; k < n1; k++) lab[k] = (float)(y[tr1[k]] - tmp[k]);
      if ((st = gbm_fit(X, d, tr1, n1, lab, 0, &o, &t1, err))) goto fold_done;
      if ((st = gbm_predict(mu1, X, d, tr0, n0, tmp, err))) goto fold_done;
      for (size_t k = 0; k < n0; k++) lab[k] = (float)(tmp[k] - y[tr0[k]]);
      if ((st = gbm_fit(X, d, tr0, n0, lab, 0, &o, &t0, err))) goto fold_done;
      /* stage 3: tau = g tau0 + (1 - g) tau1, g = P(treated) (randomised: constant) */
      if ((st = gbm_predict(t1, X, d, te, ne, a, err)) || (st = gbm_predict(t0, X, d, te, ne, b, err))) goto fold_done;
      for (size_t k = 0; k < ne; k++) tau[te[k]] = g * b[k] + (1 - g) * a[k];
      if (m) {
        if ((st = gbm_predict(t1, X_new, d, NULL, m, a, err)) || (st = gbm_predict(t0, X_new, d, NULL, m, b, err))) goto fold_done;
        if (tau_new)
          for (size_t j = 0; j < m; j++) tau_new[j] += (g * b[j] + (1 - g) * a[j]) / o.folds;
      }
    }
  fold_done:
    tsr_gbm_free(mu1);
    tsr_gbm_free(mu0);
    tsr_gbm_free(t1);
    tsr_gbm_free(t0);
  }
done:
  tsr__free(fold);
  tsr__free(tr1);
  tsr__free(tr0);
  tsr__free(te);
  tsr__free(lab);
  tsr__free(a);
  tsr__free(b);
  tsr__free(tmp);
  return st;
}

/* ---------------------------------------------------------------- evaluation */

typedef struct sidx {
  double v;
  size_t i;
} sidx;

static int cmp_desc(const void *x, const void *y) {
  const sidx *a = x, *b = y;
  if (a->v > b->v) return -1;
  if (a->v < b->v) return 1;
  return a->i < b->i ? -1 : a->i > b->i;
}

static int cmp_asc(const void *x, const void *y) { return -cmp_desc(x, y); }

/* Average ranks (1-based) of v into r. */
static int ranks(const double *v, size_t n, double *r) {
  sidx *s = tsr__malloc(n * sizeof *s);
  if (!s) return -1;
  for (size_t i = 0; i < n; i++) s[i] = (sidx){v[i], i};
  qsort(s, n, sizeof *s, cmp_asc);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && s[j + 1].v == s[i].v) j++;
    double rk = (double)(i + j) / 2 + 1;
    for (size_t k = i; k <= j; k++) r[s[k].i] = rk;
    i = j + 1;
  }
  tsr__free(s);
  return 0;
}

double tsr_spearman(const double *a, const double *b, size_t n) {
  if (n < 2) return NAN;
  double *ra = tsr__malloc(2 * n * sizeof *ra);
  if (!ra) return NAN;
  double *rb = ra + n;
  if (ranks(a, n, ra) || ranks(b, n, rb)) {
    tsr__free(ra);
    return NAN;
  }
  double m = (double)(n + 1) / 2, sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < n; i++) {
    sab += (ra[i] - m) * (rb[i] - m);
    saa += (ra[i] - m) * (ra[i] - m);
    sbb += (rb[i] - m) * (rb[i] - m);
  }
  tsr__free(ra);
  return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : NAN;
}

tsr_status tsr_uplift_evaluate(const double *score, const int *treat, const double *y,
                               const double *tau_true, size_t n, tsr_uplift_eval *out,
                               double *curve, tsr_error *err) {
  memset(out, 0, sizeof *out);
  if (n < 10) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "uplift evaluation: expected at least 10 customers, got %zu", n);
  sidx *s = tsr__malloc(n * sizeof *s);
  if (!s) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  for (size_t i = 0; i < n; i++) s[i] = (sidx){score[i], i};
  qsort(s, n, sizeof *s, cmp_desc);
  double rt = 0, rc = 0, nt = 0, nc = 0, area = 0, tsum = 0, tmean = 0, tg = 0;
  if (tau_true)
    for (size_t i = 0; i < n; i++) tmean += tau_true[i] / (double)n;
  if (curve) curve[0] = 0;
  double dsy[10][2] = {{0}};
  for (size_t k = 0; k < n; k++) {
    size_t i = s[k].i;
    if (treat[i]) {
      nt++;
      rt += y[i];
    } else {
      nc++;
      rc += y[i];
    }
    double q = rt - (nc > 0 ? rc * nt / nc : 0);
    area += q;
    if (curve) curve[k + 1] = q;
    if (tau_true) {
      tsum += tau_true[i];
      tg += tsum - (double)(k + 1) * tmean;
    }
    int dd = (int)(k * 10 / n);
    out->dec_n[dd]++;
    out->dec_score[dd] += score[i];
    if (tau_true) out->dec_true[dd] += tau_true[i];
    if (treat[i]) {
      out->dec_nt[dd]++;
      dsy[dd][1] += y[i];
    } else {
      out->dec_nc[dd]++;
      dsy[dd][0] += y[i];
    }
  }
  double qn = rt - (nc > 0 ? rc * nt / nc : 0);
  out->total_uplift = qn;
  out->auuc = area / (double)n;
  out->qini = out->auuc - qn / 2;
  out->qini_norm = qn != 0 ? out->qini / (fabs(qn) / 2) : NAN;
  for (int dd = 0; dd < 10; dd++) {
    double nn = (double)out->dec_n[dd];
    out->dec_score[dd] = nn > 0 ? out->dec_score[dd] / nn : NAN;
    out->dec_true[dd] = tau_true && nn > 0 ? out->dec_true[dd] / nn : NAN;
    out->dec_obs[dd] = out->dec_nt[dd] > 0 && out->dec_nc[dd] > 0
                           ? dsy[dd][1] / (double)out->dec_nt[dd] - dsy[dd][0] / (double)out->dec_nc[dd]
                           : NAN;
  }
  out->spearman = tau_true ? tsr_spearman(score, tau_true, n) : NAN;
  out->true_gain = tau_true ? tg / (double)n : NAN;
  tsr__free(s);
  return TSR_OK;
}
