/*
 * features.c - feature transforms of the clustering pipeline: optional
 * log1p, then robust standardisation (x - median) / IQR. The fitted
 * parameters are stored with the model (cluster_model.c) so new customers
 * are transformed the same way. IQR 0 falls back to the standard deviation,
 * then to 1.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_internal.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double tsr__quantile_sorted(const double *v, size_t n, double q) {
  if (n == 0) return NAN;
  double h = q * (double)(n - 1);
  size_t lo = (size_t)floor(h);
  if (lo + 1 >= n) return v[n - 1];
  double f = h - (double)lo;
  return v[lo] + f * (v[lo + 1] - v[lo]);
}

/* Puts the k-th smallest of v[0..n) at v[k], smaller or equal ones before
 * it and larger or equal ones after (introselect: quickselect with a
 * median-of-three pivot; a sort of the range left after 2 log2(n) rounds
 * bounds the worst case). */
static void select_kth(double *v, size_t n, size_t k) {
  size_t lo = 0, hi = n; /* k is in [lo, hi) */
  int budget = 2;
  for (size_t m = n; m > 1; m >>= 1) budget += 2;
  while (hi - lo > 16) {
    if (budget-- == 0) {
      qsort(v + lo, hi - lo, sizeof *v, cmp_double);
      return;
    }
    size_t mid = lo + (hi - lo) / 2;
    double a = v[lo], b = v[mid], c = v[hi - 1];
    double piv = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
    /* Hoare partition: [lo, j] <= piv <= [j + 1, hi) */
    size_t i = lo, j = hi - 1;
    for (;;) {
      while (v[i] < piv) i++;
      while (v[j] > piv) j--;
      if (i >= j) break;
      double t = v[i];
      v[i] = v[j];
      v[j] = t;
      i++;
      j--;
    }
    if (k <= j)
      hi = j + 1;
    else
      lo = j + 1;
  }
  for (size_t i = lo + 1; i < hi; i++) { /* insertion sort of the rest */
    double x = v[i];
    size_t j = i;
    for (; j > lo && v[j - 1] > x; j--) v[j] = v[j - 1];
    v[j] = x;
  }
}

double tsr__quantile_select(double *v, size_t n, double q) {
  if (n == 0) return NAN;
  double h = q * (double)(n - 1);
  size_t lo = (size_t)floor(h);
  if (lo + 1 >= n) {
    select_kth(v, n, n - 1);
    return v[n - 1];
  }
  select_kth(v, n, lo);
  double next = v[lo + 1]; /* the (lo + 1)-th smallest: the least after lo */
  for (size_t i = lo + 2; i < n; i++)
    if (v[i] < next) next = v[i];
  double f = h - (double)lo;
  return v[lo] + f * (next - v[lo]);
}

/* A direct-mapped memo of log1p by the bits of the argument: customer
 * columns repeat few values (counts, days / 7), so most rows look their
 * value up instead of computing it (the same bits either way). Turned off
 * for a column whose first MEMO_PROBE lookups mostly miss (amounts). */
#define MEMO_BITS 12
#define MEMO_PROBE 8192

typedef struct log1p_memo {
  uint64_t key[1u << MEMO_BITS];
  double val[1u << MEMO_BITS];
  size_t lookups, hits;
  int off;
} log1p_memo;

static void memo_reset(log1p_memo *m) {
  /* 0xFFF8... is a NaN pattern log1p is never asked for (finite inputs) */
  for (size_t i = 0; i < (1u << MEMO_BITS); i++) m->key[i] = 0xFFF8000000000001ull;
  m->lookups = m->hits = 0;
  m->off = 0;
}

static double memo_log1p(log1p_memo *m, double x) {
  if (m->off) return log1p(x);
  uint64_t b;
  memcpy(&b, &x, sizeof b);
  size_t h = (size_t)((b * 0x9E3779B97F4A7C15ull) >> (64 - MEMO_BITS));
  if (++m->lookups == MEMO_PROBE && m->hits < MEMO_PROBE / 2) m->off = 1;
  if (m->key[h] == b) {
    m->hits++;
    return m->val[h];
  }
  double v = log1p(x);
  m->key[h] = b;
  m->val[h] = v;
  return v;
}

/* tsr__quantile_select's value for q when the order statistics it reads
 * (floor(q (n-1)) and the next) lie in v[from..to) and every value before
 * from is <= and every value from to on is >= those of v[from..to): the
 * selection and the scan for the next stay in the range. */
static double quantile_range(double *v, size_t n, double q, size_t from, size_t to) {
  double h = q * (double)(n - 1);
  size_t lo = (size_t)floor(h);
  if (lo + 1 >= n || lo < from || lo + 1 >= to) return tsr__quantile_select(v, n, q);
  select_kth(v + from, to - from, lo - from);
  double next = v[lo + 1];
  for (size_t i = lo + 2; i < to; i++)
    if (v[i] < next) next = v[i];
  double f = h - (double)lo;
  return v[lo] + f * (next - v[lo]);
}

/* Median, upper and lower quartile (tsr__quantile_select's values): the
 * median's selection splits v, the quartiles are selected in their halves. */
static void quartiles(double *v, size_t n, double *med, double *q3, double *q1) {
  *med = tsr__quantile_select(v, n, 0.5);
  size_t m = n ? (size_t)floor(0.5 * (double)(n - 1)) : 0;
  /* v[0..m] <= v[m] <= v[m+1..n), as sets */
  *q3 = quantile_range(v, n, 0.75, m + 1, n);
  /* the q3 selection permuted v[m+1..n) only */
  *q1 = quantile_range(v, n, 0.25, 0, m + 1);
}

/* Quartiles of a column of few distinct values by counting them: an
 * open-addressing table of value bits and counts, the distinct values
 * sorted, the order statistics read off the cumulative counts. The same
 * values as quartiles() (the quantiles depend only on the order statistics;
 * distinct bits are distinct values once -0.0 is ruled out). 0: more than
 * CNT_MAX distinct values, a -0.0, or no memory; the caller selects. */
#define CNT_BITS 13
#define CNT_MAX 4096
#define CNT_EMPTY 0xFFF8000000000001ull /* a NaN: never a finite value */

typedef struct cnt_val {
  double v;
  size_t c;
} cnt_val;

static int cmp_cnt_val(const void *a, const void *b) {
  return cmp_double(&((const cnt_val *)a)->v, &((const cnt_val *)b)->v);
}

/* Value of rank r (0-based) of the sorted distinct values u[0..m). */
static double rank_value(const cnt_val *u, size_t m, size_t r) {
  size_t cum = 0;
  for (size_t i = 0; i < m; i++) {
    cum += u[i].c;
    if (r < cum) return u[i].v;
  }
  return u[m - 1].v;
}

/* tsr__quantile_select's value for q from the distinct values. */
static double count_quantile(const cnt_val *u, size_t m, size_t n, double q) {
  double h = q * (double)(n - 1);
  size_t lo = (size_t)floor(h);
  if (lo + 1 >= n) return u[m - 1].v;
  double a = rank_value(u, m, lo), next = rank_value(u, m, lo + 1);
  double f = h - (double)lo;
  return a + f * (next - a);
}

static int quartiles_count(const double *v, size_t n, double *med, double *q3, double *q1) {
  size_t cap = (size_t)1 << CNT_BITS, m = 0;
  uint64_t *key = tsr__malloc(cap * sizeof *key);
  size_t *cnt = tsr__calloc(cap, sizeof *cnt);
  cnt_val *u = NULL;
  int ok = 0;
  if (!key || !cnt || n == 0) goto done;
  for (size_t i = 0; i < cap; i++) key[i] = CNT_EMPTY;
  for (size_t i = 0; i < n; i++) {
    uint64_t b;
    memcpy(&b, &v[i], sizeof b);
    if (b == 0x8000000000000000ull) goto done; /* -0.0 == 0.0: select */
    size_t h = (size_t)((b * 0x9E3779B97F4A7C15ull) >> (64 - CNT_BITS));
    while (key[h] != b && key[h] != CNT_EMPTY) h = (h + 1) & (cap - 1);
    if (key[h] == CNT_EMPTY) {
      if (m == CNT_MAX) goto done;
      key[h] = b;
      m++;
    }
    cnt[h]++;
  }
  u = tsr__malloc(m * sizeof *u);
  if (!u) goto done;
  for (size_t h = 0, q = 0; h < cap; h++)
    if (key[h] != CNT_EMPTY) {
      memcpy(&u[q].v, &key[h], sizeof u[q].v);
      u[q++].c = cnt[h];
    }
  qsort(u, m, sizeof *u, cmp_cnt_val);
  *med = count_quantile(u, m, n, 0.5);
  *q3 = count_quantile(u, m, n, 0.75);
  *q1 = count_quantile(u, m, n, 0.25);
  ok = 1;
done:
  tsr__free(key);
  tsr__free(cnt);
  tsr__free(u);
  return ok;
}

/* Transformed value of one raw value (log1p part only); checks the domain. */
static tsr_status raw_value(const tsr__feature *f, log1p_memo *mm, double x, size_t row,
                            double *out, tsr_error *err) {
  if (!isfinite(x))
    return tsr_error_set(err, TSR_ERANGE, NULL, (int64_t)row + 1, 0, f->name,
                         "expected a finite number, got %g", x);
  if (f->log1p) {
    if (x <= -1)
      return tsr_error_set(err, TSR_ERANGE, NULL, (int64_t)row + 1, 0, f->name,
                           "log1p needs values > -1, got %.17g", x);
    x = mm ? memo_log1p(mm, x) : log1p(x);
  }
  *out = x;
  return TSR_OK;
}

tsr_status tsr__features_apply(const tsr__feature *feats, size_t d, const double *const *cols,
                               size_t n, double *Z, tsr_error *err) {
  log1p_memo *mm = n >= 4 * MEMO_PROBE ? tsr__malloc(sizeof *mm) : NULL;
  for (size_t j = 0; j < d; j++) {
    const tsr__feature *f = &feats[j];
    if (mm) memo_reset(mm);
    for (size_t i = 0; i < n; i++) {
      double v = 0;
      tsr_status st = raw_value(f, mm, cols[j][i], i, &v, err);
      if (st != TSR_OK) {
        tsr__free(mm);
        return st;
      }
      Z[i * d + j] = (v - f->center) / f->scale;
    }
  }
  tsr__free(mm);
  return TSR_OK;
}

/* The centre and scale of feature f from its n transformed values in tmp
 * (their sum in row order: mean * n); tmp is reordered. */
static void scale_of(tsr__feature *f, double *tmp, size_t n, double mean) {
  mean /= (double)n;
  double var = 0;
  for (size_t i = 0; i < n; i++) var += (tmp[i] - mean) * (tmp[i] - mean);
  double sd = n > 1 ? sqrt(var / (double)(n - 1)) : 0;
  /* order statistics by selection, O(n) (a full sort was 1/3 of the
   * clustering step on a million customers); the same values */
  double med, q3, q1;
  if (!quartiles_count(tmp, n, &med, &q3, &q1)) quartiles(tmp, n, &med, &q3, &q1);
  double iqr = q3 - q1;
  f->center = med;
  f->scale = iqr > 0 ? iqr : (sd > 0 ? sd : 1);
}

/* The column-by-column form of tsr__features_fit: the reference, and the
 * path that reports the first rejected value of the first column having
 * one. */
static tsr_status features_fit_cols(tsr__feature *feats, size_t d, unsigned transform,
                                    const tsr__col *cols, size_t n, double *Z, log1p_memo *mm,
                                    double *tmp, tsr_error *err) {
  for (size_t j = 0; j < d; j++) {
    tsr__feature *f = &feats[j];
    f->log1p = (transform & TSR_XFORM_LOG1P) != 0;
    f->center = 0;
    f->scale = 1;
    if (mm) memo_reset(mm);
    double mean = 0;
    for (size_t i = 0; i < n; i++) {
      double v = 0;
      tsr_status st = raw_value(f, mm, tsr__col_at(cols[j], i), i, &v, err);
      if (st != TSR_OK) return st;
      Z[i * d + j] = v;
      if (tmp) {
        tmp[i] = v;
        mean += v;
      }
    }
    if (tmp) scale_of(f, tmp, n, mean);
    for (size_t i = 0; i < n; i++) Z[i * d + j] = (Z[i * d + j] - f->center) / f->scale;
  }
  return TSR_OK;
}

/* Columns at most this many go through tsr__features_fit's one pass over
 * the rows (a memo each). */
#define FIT_ROW_COLS 8

/* The transformed columns go into Z once (log1p per value, memoised),
 * the order statistics are selected on a copy, then Z is standardised in
 * place: the values of tsr__features_apply, bit for bit. Up to
 * FIT_ROW_COLS features are read in one pass over the rows (the columns
 * are fields of the summary's rows: one pass reads each row's cache line
 * once instead of once per feature), and Z is standardised in one pass;
 * every value and sum is the column-by-column one (same operations, each
 * sum in row order). A rejected value: the columns are read again one by
 * one, so that the error is that of the first column with one. */
tsr_status tsr__features_fit(tsr__feature *feats, size_t d, unsigned transform,
                             const tsr__col *cols, size_t n, double *Z, tsr_error *err) {
  double *tmp = NULL;
  log1p_memo *mm = NULL;
  int memo = n >= 4 * MEMO_PROBE, rows = d <= FIT_ROW_COLS;
  if (memo) mm = tsr__malloc((rows ? d : 1) * sizeof *mm);
  if (transform & TSR_XFORM_STANDARDIZE) {
    tmp = tsr__malloc_big(n * sizeof *tmp); /* 14 MB on 1.8M rows: 2 MiB pages */
    if (!tmp) {
      tsr__free(mm);
      return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
  }
  tsr_status st = TSR_OK;
  if (rows) {
    for (size_t j = 0; j < d; j++) {
      feats[j].log1p = (transform & TSR_XFORM_LOG1P) != 0;
      feats[j].center = 0;
      feats[j].scale = 1;
      if (mm) memo_reset(&mm[j]);
    }
    for (size_t i = 0; i < n && st == TSR_OK; i++)
      for (size_t j = 0; j < d; j++) {
        double v = 0;
        st = raw_value(&feats[j], mm ? &mm[j] : NULL, tsr__col_at(cols[j], i), i, &v, NULL);
        if (st != TSR_OK) break;
        Z[i * d + j] = v;
      }
    if (st == TSR_OK) {
      if (tmp)
        for (size_t j = 0; j < d; j++) {
          double mean = 0;
          for (size_t i = 0; i < n; i++) {
            double v = Z[i * d + j];
            tmp[i] = v;
            mean += v;
          }
          scale_of(&feats[j], tmp, n, mean);
        }
      double c[FIT_ROW_COLS], sc[FIT_ROW_COLS];
      for (size_t j = 0; j < d; j++) c[j] = feats[j].center, sc[j] = feats[j].scale;
      for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) Z[i * d + j] = (Z[i * d + j] - c[j]) / sc[j];
      tsr__free(tmp);
      tsr__free(mm);
      return TSR_OK;
    }
  }
  st = features_fit_cols(feats, d, transform, cols, n, Z, mm, tmp, err);
  tsr__free(tmp);
  tsr__free(mm);
  return st;
}
