/*
 * evaluate.c - metrics of binary classifiers and rankings, Platt and
 * isotonic calibration (tessera/evaluate.h; definitions there and in
 * docs/predict.md).
 */
#include "internal.h"
#include "tessera/evaluate.h"
#include "base/sort.h"
#include "evaluate_internal.h"

#include <math.h>
#include <string.h>

static tsr_status check_xy(const double *s, const uint8_t *y, size_t n, int probs,
                           size_t *npos, tsr_error *err) {
  if (!s || !y || n == 0)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "no rows to evaluate");
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (y[i] > 1)
      return tsr_error_set(err, TSR_EINVAL, NULL, (int64_t)i + 1, 0, "label",
                           "expected 0 or 1 in row %zu, got %u", i + 1, (unsigned)y[i]);
    if (!isfinite(s[i]) || (probs && (s[i] < 0 || s[i] > 1)))
      return tsr_error_set(err, TSR_EINVAL, NULL, (int64_t)i + 1, 0, "score",
                           "expected a %s in row %zu, got %g",
                           probs ? "probability in [0, 1]" : "finite score", i + 1, s[i]);
    k += y[i];
  }
  *npos = k;
  return TSR_OK;
}

/* The tie-group walk down the ranking (rank_labels): returns the AUC,
 * and unless out is NULL puts the average precision and the ROC points
 * into it. npos: positives, 0 < npos < n. */
static double rank_walk(const uint64_t *k, const uint32_t *lab, size_t n, size_t npos,
                        tsr_eval_binary *out) {
  size_t nneg = n - npos;
  /* a positive scores above every negative after its group, half for
   * those inside it */
  double auc = 0, ap = 0;
  size_t tp = 0, fp = 0;
  int last_step = 0;
  if (out) {
    out->roc[0][0] = out->roc[0][1] = 0;
    out->n_roc = 1;
  }
  for (size_t g = 0; g < n;) {
    size_t h = g, gp = 0, gn = 0;
    while (h < n && k[h] == k[g]) {
      if (lab[h]) gp++; else gn++;
      h++;
    }
    /* positives of this group beat the negatives below it */
    size_t neg_below = nneg - fp - gn;
    auc += (double)gp * ((double)neg_below + 0.5 * (double)gn);
    double r0 = (double)tp / (double)npos;
    tp += gp;
    fp += gn;
    g = h;
    if (!out) continue;
    double prec = (double)tp / (double)(tp + fp);
    ap += ((double)tp / (double)npos - r0) * prec;
    double fpr = (double)fp / (double)nneg, tpr = (double)tp / (double)npos;
    int step = g == n ? 100 : (int)floor(50 * (fpr + tpr));
    if (step > last_step && out->n_roc < TSR_EVAL_ROC_POINTS) {
      out->roc[out->n_roc][0] = fpr;
      out->roc[out->n_roc][1] = tpr;
      out->n_roc++;
      last_step = step;
    }
  }
  if (out) out->pr_auc = ap;
  return auc / ((double)npos * (double)nneg);
}

/* The ranking of the finite scores s[0..n): *k = their radix keys
 * (lib/base/sort.h) inverted, so ascending keys are descending scores,
 * equal keys equal scores (-0 as 0); *lab = the labels y (0 or 1) in that
 * order, ties in row order (the radix sort is stable). TSR_ENOMEM. */
static tsr_status rank_labels(const double *s, const uint8_t *y, size_t n, uint64_t **k,
                              uint32_t **lab, tsr_error *err) {
  *k = tsr__malloc((n ? n : 1) * sizeof **k);
  *lab = tsr__malloc((n ? n : 1) * sizeof **lab);
  if (*k && *lab) {
    for (size_t i = 0; i < n; i++) {
      (*k)[i] = ~tsr__key_f64(s[i]);
      (*lab)[i] = y[i] != 0;
    }
    if (tsr__radix_sort_u64(*k, *lab, n) == 0) return TSR_OK;
  }
  tsr__free(*k);
  tsr__free(*lab);
  *k = NULL;
  *lab = NULL;
  return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
}

tsr_status tsr__eval_auc(const double *s, const uint8_t *y, size_t n, double *auc,
                         tsr_error *err) {
  *auc = NAN;
  size_t pos = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(s[i])) return TSR_OK;
    pos += y[i] != 0;
  }
  if (pos == 0 || pos == n) return TSR_OK;
  uint64_t *k;
  uint32_t *lab;
  tsr_status st = rank_labels(s, y, n, &k, &lab, err);
  if (st != TSR_OK) return st;
  *auc = rank_walk(k, lab, n, pos, NULL);
  tsr__free(k);
  tsr__free(lab);
  return TSR_OK;
}

tsr_status tsr_eval_binary_compute(const double *s, const uint8_t *y, size_t n,
                                   tsr_eval_binary *out, tsr_error *err) {
  size_t npos = 0;
  tsr_status st = check_xy(s, y, n, 0, &npos, err);
  if (st != TSR_OK) return st;
  if (npos == 0 || npos == n)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "label",
                         "one class only: every label is %d (%zu rows)", npos ? 1 : 0, n);
  uint64_t *k;
  uint32_t *v; /* the labels from the highest score down */
  if ((st = rank_labels(s, y, n, &k, &v, err)) != TSR_OK) return st;
  int probs = 1;
  for (size_t i = 0; i < n; i++)
    if (s[i] < 0 || s[i] > 1) probs = 0;
  memset(out, 0, sizeof *out);
  out->n = n;
  out->n_pos = npos;
  out->base_rate = (double)npos / (double)n;
  out->auc = rank_walk(k, v, n, npos, out);
  tsr__free(k);

  size_t top = (n + 9) / 10, tpos = 0;
  for (size_t r = 0; r < top; r++) tpos += v[r];
  out->lift_top10 = ((double)tpos / (double)top) / out->base_rate;
  for (int d = 0; d < 10; d++) {
    size_t a = n * (size_t)d / 10, b = n * (size_t)(d + 1) / 10, c = 0;
    for (size_t r = a; r < b; r++) c += v[r];
    out->decile_lift[d] = b > a ? ((double)c / (double)(b - a)) / out->base_rate : NAN;
  }

  if (probs) {
    double b = 0, ll = 0;
    for (size_t i = 0; i < n; i++) {
      double d = s[i] - y[i];
      b += d * d;
      double p = s[i] < 1e-15 ? 1e-15 : s[i] > 1 - 1e-15 ? 1 - 1e-15 : s[i];
      ll -= y[i] ? log(p) : log1p(-p);
    }
    out->brier = b / (double)n;
    out->log_loss = ll / (double)n;
  } else {
    out->brier = NAN;
    out->log_loss = NAN;
  }
  tsr__free(v);
  return TSR_OK;
}

tsr_status tsr_eval_reliability(const double *p, const uint8_t *y, size_t n, int nbins,
                                tsr_reliability_bin *out, tsr_error *err) {
  size_t npos;
  if (nbins < 1 || nbins > 100)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "bins",
                         "expected 1..100 bins, got %d", nbins);
  tsr_status st = check_xy(p, y, n, 1, &npos, err);
  if (st != TSR_OK) return st;
  double *sp = tsr__calloc((size_t)nbins, sizeof *sp);
  double *sy = tsr__calloc((size_t)nbins, sizeof *sy);
  if (!sp || !sy) {
    tsr__free(sp);
    tsr__free(sy);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  for (int b = 0; b < nbins; b++) {
    out[b].lo = (double)b / nbins;
    out[b].hi = (double)(b + 1) / nbins;
    out[b].n = 0;
  }
  for (size_t i = 0; i < n; i++) {
    int b = (int)(p[i] * nbins);
    if (b >= nbins) b = nbins - 1;
    out[b].n++;
    sp[b] += p[i];
    sy[b] += y[i];
  }
  for (int b = 0; b < nbins; b++) {
    out[b].mean_pred = out[b].n ? sp[b] / (double)out[b].n : NAN;
    out[b].observed = out[b].n ? sy[b] / (double)out[b].n : NAN;
  }
  tsr__free(sp);
  tsr__free(sy);
  return TSR_OK;
}

/* ----------------------------------------------------------- calibration */

const char *tsr_calib_kind_name(tsr_calib_kind k) {
  switch (k) {
  case TSR_CALIB_NONE: return "none";
  case TSR_CALIB_PLATT: return "platt";
  case TSR_CALIB_ISOTONIC: return "isotonic";
  }
  return "unknown";
}

tsr_status tsr_calib_kind_parse(const char *s, tsr_calib_kind *out) {
  if (!s) return TSR_EINVAL;
  if (!strcmp(s, "none")) *out = TSR_CALIB_NONE;
  else if (!strcmp(s, "platt")) *out = TSR_CALIB_PLATT;
  else if (!strcmp(s, "isotonic")) *out = TSR_CALIB_ISOTONIC;
  else return TSR_EINVAL;
  return TSR_OK;
}

static double logit_clip(double p) {
  if (p < 1e-12) p = 1e-12;
  if (p > 1 - 1e-12) p = 1 - 1e-12;
  return log(p / (1 - p));
}

/* Platt (1999) with Lin, Lin & Weng (2007)'s Newton iteration with
 * backtracking, on the log-odds of p. */
static tsr_status fit_platt(const double *p, const uint8_t *y, size_t n, size_t npos,
                            tsr_calibrator *c, tsr_error *err) {
  double hi = ((double)npos + 1) / ((double)npos + 2);
  double lo = 1.0 / ((double)(n - npos) + 2);
  double a = 1, b = 0;
  /* objective: sum t*(-f) + log(1+exp(f))... with f = -(a z + b) in Platt's
   * sign; here q = sigmoid(a z + b) and F = -sum t ln q + (1-t) ln(1-q) */
#define PLATT_F(A, B, OUT)                                           \
  do {                                                               \
    double f_ = 0;                                                   \
    for (size_t i = 0; i < n; i++) {                                 \
      double t_ = y[i] ? hi : lo, m_ = (A) * logit_clip(p[i]) + (B); \
      /* -t m + log(1 + e^m), stably */                              \
      f_ += (m_ > 0 ? m_ + log1p(exp(-m_)) : log1p(exp(m_))) - t_ * m_; \
    }                                                                \
    (OUT) = f_;                                                      \
  } while (0)
  double F;
  PLATT_F(a, b, F);
  for (int it = 0; it < 100; it++) {
    double g1 = 0, g2 = 0, h11 = 1e-12, h22 = 1e-12, h21 = 0;
    for (size_t i = 0; i < n; i++) {
      double z = logit_clip(p[i]), t = y[i] ? hi : lo;
      double m = a * z + b;
      double q = m >= 0 ? 1 / (1 + exp(-m)) : exp(m) / (1 + exp(m));
      double d = q - t, w = q * (1 - q);
      g1 += d * z;
      g2 += d;
      h11 += w * z * z;
      h22 += w;
      h21 += w * z;
    }
    if (fabs(g1) < 1e-9 * (double)n && fabs(g2) < 1e-9 * (double)n) break;
    double det = h11 * h22 - h21 * h21;
    if (!(det > 0)) break;
    double da = -(h22 * g1 - h21 * g2) / det, db = -(-h21 * g1 + h11 * g2) / det;
    double step = 1, Fn = F;
    while (step > 1e-10) {
      PLATT_F(a + step * da, b + step * db, Fn);
      if (Fn < F + 1e-4 * step * (g1 * da + g2 * db)) break;
      step /= 2;
    }
    if (step <= 1e-10) break;
    a += step * da;
    b += step * db;
    F = Fn;
  }
#undef PLATT_F
  if (!isfinite(a) || !isfinite(b))
    return tsr_error_set(err, TSR_ENUMERIC, NULL, 0, 0, NULL, "platt scaling diverged");
  c->a = a;
  c->b = b;
  return TSR_OK;
}

/* Pool adjacent violators on (p, y) sorted by (p, row) (lib/base/sort.c);
 * equal p pooled first. */
static tsr_status fit_isotonic(const double *p, const uint8_t *y, size_t n,
                               tsr_calibrator *c, tsr_error *err) {
  uint32_t *v = n <= UINT32_MAX ? tsr__malloc(n * sizeof *v) : NULL;
  /* blocks: value sum, weight, x range */
  double *sv = tsr__malloc(n * sizeof *sv), *sw = tsr__malloc(n * sizeof *sw);
  double *xl = tsr__malloc(n * sizeof *xl), *xh = tsr__malloc(n * sizeof *xh);
  tsr_status st = TSR_OK;
  if (!v || !sv || !sw || !xl || !xh) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  if (tsr__order_f64(p, n, v) != 0) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  size_t nb = 0;
  for (size_t i = 0; i < n; i++) {
    double x = p[v[i]], yy = y[v[i]];
    if (nb && xh[nb - 1] == x) {
      sv[nb - 1] += yy;
      sw[nb - 1] += 1;
    } else {
      sv[nb] = yy;
      sw[nb] = 1;
      xl[nb] = xh[nb] = x;
      nb++;
    }
    while (nb > 1 && sv[nb - 2] / sw[nb - 2] >= sv[nb - 1] / sw[nb - 1]) {
      sv[nb - 2] += sv[nb - 1];
      sw[nb - 2] += sw[nb - 1];
      xh[nb - 2] = xh[nb - 1];
      nb--;
    }
  }
  c->x = tsr__malloc(2 * nb * sizeof *c->x);
  c->y = tsr__malloc(2 * nb * sizeof *c->y);
  if (!c->x || !c->y) {
    tsr__free(c->x);
    tsr__free(c->y);
    c->x = c->y = NULL;
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  size_t k = 0;
  for (size_t b = 0; b < nb; b++) {
    double val = sv[b] / sw[b];
    c->x[k] = xl[b];
    c->y[k++] = val;
    if (xh[b] > xl[b]) {
      c->x[k] = xh[b];
      c->y[k++] = val;
    }
  }
  c->n = k;
done:
  tsr__free(v);
  tsr__free(sv);
  tsr__free(sw);
  tsr__free(xl);
  tsr__free(xh);
  return st;
}

tsr_status tsr_calibrator_fit(tsr_calib_kind kind, const double *p, const uint8_t *y,
                              size_t n, tsr_calibrator *c, tsr_error *err) {
  memset(c, 0, sizeof *c);
  c->kind = kind;
  c->a = 1;
  if (kind == TSR_CALIB_NONE) return TSR_OK;
  if (kind != TSR_CALIB_PLATT && kind != TSR_CALIB_ISOTONIC)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "calibration",
                         "expected none, platt or isotonic");
  size_t npos;
  tsr_status st = check_xy(p, y, n, 1, &npos, err);
  if (st != TSR_OK) return st;
  if (npos == 0 || npos == n)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "label",
                         "cannot calibrate on one class only (every label is %d)",
                         npos ? 1 : 0);
  return kind == TSR_CALIB_PLATT ? fit_platt(p, y, n, npos, c, err)
                                 : fit_isotonic(p, y, n, c, err);
}

double tsr_calibrator_apply(const tsr_calibrator *c, double p) {
  if (!c) return p;
  switch (c->kind) {
  case TSR_CALIB_NONE: return p;
  case TSR_CALIB_PLATT: {
    double m = c->a * logit_clip(p) + c->b;
    return m >= 0 ? 1 / (1 + exp(-m)) : exp(m) / (1 + exp(m));
  }
  case TSR_CALIB_ISOTONIC: {
    if (c->n == 0) return p;
    if (p <= c->x[0]) return c->y[0];
    if (p >= c->x[c->n - 1]) return c->y[c->n - 1];
    size_t lo = 0, hi = c->n - 1; /* x[lo] < p <= x[hi] */
    while (hi - lo > 1) {
      size_t mid = (lo + hi) / 2;
      if (c->x[mid] < p) lo = mid; else hi = mid;
    }
    double t = (p - c->x[lo]) / (c->x[hi] - c->x[lo]);
    return c->y[lo] + t * (c->y[hi] - c->y[lo]);
  }
  }
  return p;
}

void tsr_calibrator_release(tsr_calibrator *c) {
  if (!c) return;
  tsr__free(c->x);
  tsr__free(c->y);
  c->x = c->y = NULL;
  c->n = 0;
}

/* --------------------------------------------------------------- ranking */

tsr_status tsr_eval_ranking_compute(const int32_t *ranked, size_t n_users, size_t k,
                                    const size_t *rel_off, const int32_t *rel,
                                    tsr_eval_ranking *out, tsr_error *err) {
  if (k < 1) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "k", "expected k >= 1");
  memset(out, 0, sizeof *out);
  /* the discounts 1 / log2(i + 2) of the first ranks computed once (the
   * same expression, so the same values) */
  enum { NDISC = 64 };
  double disc[NDISC];
  for (size_t i = 0; i < NDISC; i++) disc[i] = 1.0 / log2((double)i + 2);
  double hit = 0, ndcg = 0, map = 0, prec = 0;
  size_t users = 0;
  for (size_t u = 0; u < n_users; u++) {
    size_t nr = rel_off[u + 1] - rel_off[u];
    if (nr == 0) continue;
    const int32_t *r = rel + rel_off[u];
    users++;
    double dcg = 0, idcg = 0, ap = 0;
    size_t hits = 0;
    for (size_t i = 0; i < k; i++) {
      int32_t item = ranked[u * k + i];
      int is_rel = 0;
      if (item >= 0)
        for (size_t j = 0; j < nr; j++)
          if (r[j] == item) { is_rel = 1; break; }
      if (is_rel) {
        hits++;
        dcg += i < NDISC ? disc[i] : 1.0 / log2((double)i + 2);
        ap += (double)hits / (double)(i + 1);
      }
      if (i < nr) idcg += i < NDISC ? disc[i] : 1.0 / log2((double)i + 2);
    }
    hit += hits > 0;
    ndcg += dcg / idcg;
    map += ap / (double)(nr < k ? nr : k);
    prec += (double)hits / (double)k;
  }
  if (users == 0)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "no user has a relevant item to evaluate against");
  out->n_users = users;
  out->hit_rate = hit / (double)users;
  out->ndcg = ndcg / (double)users;
  out->map = map / (double)users;
  out->precision = prec / (double)users;
  return TSR_OK;
}
