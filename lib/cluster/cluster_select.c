/*
 * cluster_select.c - scores used to choose and check a clustering: the
 * silhouette coefficient on a seeded sample (Rousseeuw 1987), the adjusted
 * Rand index (Hubert & Arabie 1985), the knee of a curve (elbow of the
 * inertia, eps of DBSCAN: the point farthest from the chord, both axes
 * scaled to [0,1], as the "kneedle" idea of Satopaa et al. 2011), the
 * within-cluster sum of squares, and the option helpers.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_internal.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

/* ================================================================ options */

void tsr_cluster_opts_init(tsr_cluster_opts *o) {
  memset(o, 0, sizeof *o);
  o->method = TSR_CLUSTER_KMEANS;
  o->k = 0;
  o->k_min = 2;
  o->k_max = 10;
  o->transform = TSR_XFORM_LOG1P | TSR_XFORM_STANDARDIZE;
  o->n_init = 0;
  o->max_iter = 0;
  o->tol = -1;
  o->seed = 0;
  o->cov = TSR_COV_FULL;
  o->reg_covar = 1e-6;
  o->eps = 0;
  o->min_samples = 5;
  o->sample_size = 10000;
  o->n_threads = 2;
  o->min_share = 0.02;
  o->sil_tolerance = 0.05;
  o->k_sample = 50000;
}

const char *tsr_cluster_method_name(tsr_cluster_method m) {
  switch (m) {
  case TSR_CLUSTER_KMEANS:
    return "kmeans";
  case TSR_CLUSTER_GMM:
    return "gmm";
  case TSR_CLUSTER_DBSCAN:
    return "dbscan";
  }
  return "unknown";
}

tsr_status tsr_cluster_method_parse(const char *s, tsr_cluster_method *out, tsr_error *err) {
  if (s && !strcmp(s, "kmeans"))
    *out = TSR_CLUSTER_KMEANS;
  else if (s && !strcmp(s, "gmm"))
    *out = TSR_CLUSTER_GMM;
  else if (s && !strcmp(s, "dbscan"))
    *out = TSR_CLUSTER_DBSCAN;
  else
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "method",
                         "expected kmeans, gmm or dbscan, got '%s'", s ? s : "");
  return TSR_OK;
}

tsr_status tsr_cluster_transform_parse(const char *s, unsigned *out, tsr_error *err) {
  if (s && !strcmp(s, "none"))
    *out = TSR_XFORM_NONE;
  else if (s && !strcmp(s, "log1p"))
    *out = TSR_XFORM_LOG1P;
  else if (s && !strcmp(s, "standardize"))
    *out = TSR_XFORM_STANDARDIZE;
  else if (s && !strcmp(s, "log1p,standardize"))
    *out = TSR_XFORM_LOG1P | TSR_XFORM_STANDARDIZE;
  else
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "transform",
                         "expected none, log1p, standardize or "
                         "log1p,standardize, got '%s'",
                         s ? s : "");
  return TSR_OK;
}

/* ============================================================== sampling */

/* Floyd's sampler (declared in cluster_internal.h). */
tsr_status tsr__sample_rows(const double *X, size_t n, size_t d, size_t m, uint64_t seed,
                            uint64_t stream, double **out) {
  *out = NULL;
  unsigned char *pick = tsr__calloc(n, 1);
  double *S = tsr__malloc(m * d * sizeof *S);
  if (!pick || !S) {
    tsr__free(pick);
    tsr__free(S);
    return TSR_ENOMEM;
  }
  /* Floyd's algorithm: m distinct rows, O(m) draws */
  tsr__rng rng;
  tsr__rng_seed(&rng, seed, stream);
  for (size_t j = n - m; j < n; j++) {
    size_t t = (size_t)tsr__rng_below(&rng, j + 1);
    if (pick[t]) t = j;
    pick[t] = 1;
  }
  size_t q = 0;
  for (size_t i = 0; i < n; i++)
    if (pick[i]) memcpy(S + (q++) * d, X + i * d, d * sizeof *S);
  tsr__free(pick);
  *out = S;
  return TSR_OK;
}

/* ============================================================== inertia */

double tsr__inertia(const double *X, size_t n, size_t d, const int *labels, const double *centers) {
  double s = 0;
  for (size_t i = 0; i < n; i++)
    if (labels[i] >= 0) s += tsr__sqdist(X + i * d, centers + (size_t)labels[i] * d, d);
  return s;
}

/* ================================================================= knee */

size_t tsr__knee(const double *x, const double *y, size_t n) {
  if (n < 3) return 0;
  double x0 = x[0], x1 = x[n - 1], y0 = y[0], y1 = y[n - 1];
  double dx = x1 - x0, dy = y1 - y0;
  if (dx == 0) return 0;
  if (dy == 0) return 0;
  size_t best = 0;
  double bd = -1;
  for (size_t i = 0; i < n; i++) {
    double u = (x[i] - x0) / dx, v = (y[i] - y0) / dy;
    /* chord is v = u; distance proportional to |v - u| */
    double dist = fabs(v - u);
    if (dist > bd) {
      bd = dist;
      best = i;
    }
  }
  return best;
}

/* ============================================================ silhouette */

typedef struct sil_ctx {
  const double *X;
  size_t d, s, nlab;
  const size_t *rows;  /* s sampled rows */
  const int *lab;      /* s compact labels */
  const size_t *cnt;   /* nlab sizes within the sample */
  const size_t *start; /* nlab + 1: label l occupies [start[l], start[l+1])
                          of Xs */
  const double *Xs;    /* d x s: the sample by feature, grouped by label */
  double *val;         /* s silhouette values */
  double *scratch;     /* nthreads... per block: nlab sums */
  int avx;             /* the CPU has AVX: sil_sum_avx */
} sil_ctx;

/* Sum of the distances from x to the points lo..hi-1 of Xs (d x s). */
TSR__INLINE double sil_sum(const double *x, const double *Xs, size_t s, size_t lo, size_t hi,
                           size_t d) {
  size_t j = lo;
  double tot = 0;
#ifdef __SSE2__
  __m128d a0 = _mm_setzero_pd(), a1 = _mm_setzero_pd();
  for (; j + 4 <= hi; j += 4) {
    __m128d s0 = _mm_setzero_pd(), s1 = _mm_setzero_pd();
    for (size_t t = 0; t < d; t++) {
      __m128d xv = _mm_set1_pd(x[t]);
      __m128d u0 = _mm_sub_pd(xv, _mm_loadu_pd(Xs + t * s + j));
      __m128d u1 = _mm_sub_pd(xv, _mm_loadu_pd(Xs + t * s + j + 2));
      s0 = _mm_add_pd(s0, _mm_mul_pd(u0, u0));
      s1 = _mm_add_pd(s1, _mm_mul_pd(u1, u1));
    }
    a0 = _mm_add_pd(a0, _mm_sqrt_pd(s0));
    a1 = _mm_add_pd(a1, _mm_sqrt_pd(s1));
  }
  double buf[2];
  _mm_storeu_pd(buf, _mm_add_pd(a0, a1));
  tot = buf[0] + buf[1];
#endif
  for (; j < hi; j++) {
    double q = 0;
    for (size_t t = 0; t < d; t++) {
      double u = x[t] - Xs[t * s + j];
      q += u * u;
    }
    tot += sqrt(q);
  }
  return tot;
}

#if defined(__x86_64__) && defined(__GNUC__)
#define SIL_AVX 1
/* sil_sum with 256-bit vectors, for CPUs with AVX (checked at run time). */
__attribute__((target("avx"))) static double sil_sum_avx(const double *x, const double *Xs,
                                                         size_t s, size_t lo, size_t hi, size_t d) {
  size_t j = lo;
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
  for (; j + 8 <= hi; j += 8) {
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    for (size_t t = 0; t < d; t++) {
      __m256d xv = _mm256_set1_pd(x[t]);
      __m256d u0 = _mm256_sub_pd(xv, _mm256_loadu_pd(Xs + t * s + j));
      __m256d u1 = _mm256_sub_pd(xv, _mm256_loadu_pd(Xs + t * s + j + 4));
      s0 = _mm256_add_pd(s0, _mm256_mul_pd(u0, u0));
      s1 = _mm256_add_pd(s1, _mm256_mul_pd(u1, u1));
    }
    a0 = _mm256_add_pd(a0, _mm256_sqrt_pd(s0));
    a1 = _mm256_add_pd(a1, _mm256_sqrt_pd(s1));
  }
  double buf[4];
  _mm256_storeu_pd(buf, _mm256_add_pd(a0, a1));
  double tot = (buf[0] + buf[1]) + (buf[2] + buf[3]);
  for (; j < hi; j++) {
    double q = 0;
    for (size_t t = 0; t < d; t++) {
      double u = x[t] - Xs[t * s + j];
      q += u * u;
    }
    tot += sqrt(q);
  }
  return tot;
}
#else
#define SIL_AVX 0
#endif

TSR__INLINE void sil_block_d(void *vc, size_t b, size_t lo, size_t hi, size_t d) {
  sil_ctx *c = vc;
  double *sum = c->scratch + b * c->nlab;
  for (size_t i = lo; i < hi; i++) {
    const double *xi = c->X + c->rows[i] * d;
#if SIL_AVX
    if (c->avx)
      for (size_t l = 0; l < c->nlab; l++)
        sum[l] = sil_sum_avx(xi, c->Xs, c->s, c->start[l], c->start[l + 1], d);
    else
#endif
      for (size_t l = 0; l < c->nlab; l++)
        sum[l] = sil_sum(xi, c->Xs, c->s, c->start[l], c->start[l + 1], d);
    size_t li = (size_t)c->lab[i];
    if (c->cnt[li] <= 1) {
      c->val[i] = 0;
      continue;
    }
    double a = sum[li] / (double)(c->cnt[li] - 1), bmin = DBL_MAX;
    for (size_t l = 0; l < c->nlab; l++)
      if (l != li && c->cnt[l] > 0) {
        double m = sum[l] / (double)c->cnt[l];
        if (m < bmin) bmin = m;
      }
    double mx = a > bmin ? a : bmin;
    c->val[i] = mx > 0 ? (bmin - a) / mx : 0;
  }
}

static void sil_block(void *vc, size_t b, size_t lo, size_t hi) {
  TSR__SPECIALIZE_D(sil_block_d, ((sil_ctx *)vc)->d, vc, b, lo, hi)
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* The sample's labels (labels[rows[i]], i < s) as 0..nlab-1 in label
 * order: sorted gets the distinct labels, lab (written only when there are
 * two or more) each row's place among them. Returns nlab. */
static size_t compact_labels(const int *labels, const size_t *rows, size_t s, int *sorted,
                             int *lab) {
  for (size_t i = 0; i < s; i++) sorted[i] = labels[rows[i]];
  qsort(sorted, s, sizeof *sorted, cmp_int);
  size_t nlab = 0;
  for (size_t i = 0; i < s; i++)
    if (i == 0 || sorted[i] != sorted[i - 1]) sorted[nlab++] = sorted[i];
  if (nlab < 2) return nlab;
  for (size_t i = 0; i < s; i++) {
    int v = labels[rows[i]];
    size_t lo = 0, hi = nlab;
    while (hi - lo > 1) {
      size_t mid = (lo + hi) / 2;
      if (sorted[mid] <= v)
        lo = mid;
      else
        hi = mid;
    }
    lab[i] = (int)lo;
  }
  return nlab;
}

/* The first s places of the partial Fisher-Yates shuffle of 0..n-1 that
 * tsr_cluster_silhouette draws (stream 0x5111, the same draws and swaps)
 * into out, without the n-place array: the places at or past s that a swap
 * wrote are kept in a small open-addressing table (at most s of them).
 * TSR_ENOMEM, or TSR_OK. */
static tsr_status sample_rows(size_t n, size_t s, uint64_t seed, size_t *out) {
  for (size_t i = 0; i < s; i++) out[i] = i;
  if (s >= n) return TSR_OK;
  size_t cap = 16;
  while (cap < 2 * s) cap <<= 1;
  size_t *key = tsr__malloc(cap * sizeof *key), *val = tsr__malloc(cap * sizeof *val);
  if (!key || !val) {
    tsr__free(key);
    tsr__free(val);
    return TSR_ENOMEM;
  }
  for (size_t h = 0; h < cap; h++) key[h] = SIZE_MAX; /* no place is SIZE_MAX */
  tsr__rng rng;
  tsr__rng_seed(&rng, seed, 0x5111ull);
  for (size_t i = 0; i < s; i++) {
    size_t j = i + tsr__rng_below(&rng, n - i), t = out[i];
    if (j < s) {
      out[i] = out[j];
      out[j] = t;
      continue;
    }
    size_t h = (size_t)(((uint64_t)j * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
    while (key[h] != SIZE_MAX && key[h] != j) h = (h + 1) & (cap - 1);
    if (key[h] == SIZE_MAX) { /* never swapped yet: it holds j */
      key[h] = j;
      val[h] = j;
    }
    out[i] = val[h];
    val[h] = t;
  }
  tsr__free(key);
  tsr__free(val);
  return TSR_OK;
}

tsr_status tsr_cluster_silhouette(const double *X, size_t n, size_t d, const int *labels,
                                  size_t sample_size, uint64_t seed, int n_threads, double *out,
                                  tsr_error *err) {
  if (!X || !labels || !out)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "silhouette: X, labels and out must not be NULL");
  *out = NAN;
  size_t m = 0;
  for (size_t i = 0; i < n; i++) m += labels[i] >= 0;
  if (sample_size < 2) sample_size = 2;
  size_t s = m < sample_size ? m : sample_size;
  /* every row labelled (k-means, GMM): the pool is 0..n-1 and only its
   * first s places are kept, no n-row pool (sample_rows) */
  size_t *pool = tsr__malloc(((m == n ? s : m) ? (m == n ? s : m) : 1) * sizeof *pool);
  int *lab = tsr__malloc((s ? s : 1) * sizeof *lab);
  int *sorted = tsr__malloc((s ? s : 1) * sizeof *sorted);
  double *val = tsr__malloc((s ? s : 1) * sizeof *val);
  size_t *cnt = NULL, *start = NULL, *fill = NULL;
  double *scratch = NULL, *Xs = NULL;
  tsr_status st = TSR_OK;
  if (!pool || !lab || !sorted || !val) goto nomem;
  if (m == n) {
    if (sample_rows(n, s, seed, pool) != TSR_OK) goto nomem;
  } else {
    m = 0;
    for (size_t i = 0; i < n; i++)
      if (labels[i] >= 0) pool[m++] = i;
    tsr__rng rng;
    tsr__rng_seed(&rng, seed, 0x5111ull);
    if (s < m)
      for (size_t i = 0; i < s; i++) {
        size_t j = i + tsr__rng_below(&rng, m - i);
        size_t t = pool[i];
        pool[i] = pool[j];
        pool[j] = t;
      }
  }
  size_t nlab = compact_labels(labels, pool, s, sorted, lab);
  if (nlab < 2) goto done;
  cnt = tsr__calloc(nlab, sizeof *cnt);
  start = tsr__calloc(nlab + 1, sizeof *start);
  fill = tsr__malloc(nlab * sizeof *fill);
  Xs = tsr__malloc(s * d * sizeof *Xs);
  scratch = tsr__malloc(((s + 63) / 64) * nlab * sizeof *scratch);
  if (!cnt || !start || !fill || !Xs || !scratch) goto nomem;
  for (size_t i = 0; i < s; i++) cnt[lab[i]]++;
  /* the sample by feature (contiguous, vector loads), grouped by label */
  for (size_t l = 0; l < nlab; l++) start[l + 1] = start[l] + cnt[l];
  memcpy(fill, start, nlab * sizeof *fill);
  for (size_t i = 0; i < s; i++) {
    size_t q = fill[lab[i]]++;
    const double *xi = X + pool[i] * d;
    for (size_t t = 0; t < d; t++) Xs[t * s + q] = xi[t];
  }
  sil_ctx c = {X, d, s, nlab, pool, lab, cnt, start, Xs, val, scratch, 0};
#if SIL_AVX
  c.avx = __builtin_cpu_supports("avx");
#endif
  /* small blocks of the sample: quadratic work per row */
  tsr__parallel_chunks(n_threads > 0 ? n_threads : 2, s, 64, sil_block, &c);
  double tot = 0;
  for (size_t i = 0; i < s; i++) tot += val[i];
  *out = tot / (double)s;
  goto done;
nomem:
  st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
done:
  tsr__free(pool);
  tsr__free(lab);
  tsr__free(sorted);
  tsr__free(val);
  tsr__free(cnt);
  tsr__free(start);
  tsr__free(fill);
  tsr__free(Xs);
  tsr__free(scratch);
  return st;
}

/* ------------------------------------------- silhouettes of K labellings */

/* tsr_cluster_silhouette's values for K labellings of the same rows, every
 * row labelled in each (k-means' k table): the sample is the same rows for
 * all of them (the same draws), so the distances from each sampled row to
 * the sample are computed once and each labelling only adds them up, in
 * the order and with the lanes of sil_sum / sil_sum_avx (a sum per lane of
 * the places of a group, the lanes added as there): the same bits. A pair's
 * distance is the same operations there and here (subtract, square, add in
 * feature order, square root; no contraction: no FMA in this build). */
typedef struct silm_ctx {
  const double *X;
  size_t d, s, K, ls;   /* ls: stride of the per-labelling label arrays */
  const size_t *rows;   /* s sampled rows */
  const double *Xs;     /* d x s: the sample by feature, in sample order */
  const int *lab;       /* K x s compact labels */
  const size_t *nlab;   /* K */
  const size_t *cnt;    /* K x ls */
  const size_t *start;  /* K x (ls + 1) */
  const size_t *perm;   /* K x s: place in the grouped order -> sample place */
  double *val;          /* K x s */
  unsigned char *bfail; /* per block: out of memory */
  int lanes;            /* 8: sil_sum_avx, 4: sil_sum (SSE2), 1: scalar */
} silm_ctx;

/* The distances from x to the s sampled rows (Xs by feature) into D. */
TSR__INLINE void silm_dist_d(const double *x, const double *Xs, size_t s, double *D, size_t d) {
  for (size_t j = 0; j < s; j++) {
    double q = 0;
    for (size_t t = 0; t < d; t++) {
      double u = x[t] - Xs[t * s + j];
      q += u * u;
    }
    D[j] = sqrt(q);
  }
}

static void silm_dist(const double *x, const double *Xs, size_t s, double *D, size_t d) {
  TSR__SPECIALIZE_D(silm_dist_d, d, x, Xs, s, D)
}

#if SIL_AVX
/* silm_dist four distances per 256-bit vector (the same operations in each
 * lane), for CPUs with AVX. */
__attribute__((target("avx"))) static void silm_dist_avx(const double *x, const double *Xs,
                                                         size_t s, double *D, size_t d) {
  size_t j = 0;
  for (; j + 4 <= s; j += 4) {
    __m256d q = _mm256_setzero_pd();
    for (size_t t = 0; t < d; t++) {
      __m256d u = _mm256_sub_pd(_mm256_set1_pd(x[t]), _mm256_loadu_pd(Xs + t * s + j));
      q = _mm256_add_pd(q, _mm256_mul_pd(u, u));
    }
    _mm256_storeu_pd(D + j, _mm256_sqrt_pd(q));
  }
  for (; j < s; j++) {
    double q = 0;
    for (size_t t = 0; t < d; t++) {
      double u = x[t] - Xs[t * s + j];
      q += u * u;
    }
    D[j] = sqrt(q);
  }
}
#endif

/* sil_sum's (or sil_sum_avx's) sum of D over the places lo..hi-1 of the
 * grouped order perm. */
static double silm_sum(const double *D, const size_t *perm, size_t lo, size_t hi, int lanes) {
  size_t j = lo;
  double tot = 0;
  if (lanes == 8) {
    double a0[4] = {0, 0, 0, 0}, a1[4] = {0, 0, 0, 0};
    for (; j + 8 <= hi; j += 8)
      for (size_t l = 0; l < 4; l++) {
        a0[l] += D[perm[j + l]];
        a1[l] += D[perm[j + 4 + l]];
      }
    double b[4];
    for (size_t l = 0; l < 4; l++) b[l] = a0[l] + a1[l];
    tot = (b[0] + b[1]) + (b[2] + b[3]);
  } else if (lanes == 4) {
    double a0[2] = {0, 0}, a1[2] = {0, 0};
    for (; j + 4 <= hi; j += 4)
      for (size_t l = 0; l < 2; l++) {
        a0[l] += D[perm[j + l]];
        a1[l] += D[perm[j + 2 + l]];
      }
    tot = (a0[0] + a1[0]) + (a0[1] + a1[1]);
  }
  for (; j < hi; j++) tot += D[perm[j]];
  return tot;
}

static void silm_block(void *vc, size_t b, size_t lo, size_t hi) {
  silm_ctx *c = vc;
  size_t s = c->s;
  double *D = tsr__malloc(s * sizeof *D), *sum = tsr__malloc(c->ls * sizeof *sum);
  if (!D || !sum) {
    c->bfail[b] = 1;
    tsr__free(D);
    tsr__free(sum);
    return;
  }
  for (size_t i = lo; i < hi; i++) {
#if SIL_AVX
    if (c->lanes == 8)
      silm_dist_avx(c->X + c->rows[i] * c->d, c->Xs, s, D, c->d);
    else
#endif
      silm_dist(c->X + c->rows[i] * c->d, c->Xs, s, D, c->d);
    for (size_t q = 0; q < c->K; q++) {
      size_t nlab = c->nlab[q];
      if (nlab < 2) continue;
      const size_t *cnt = c->cnt + q * c->ls, *start = c->start + q * (c->ls + 1);
      const size_t *perm = c->perm + q * s;
      for (size_t l = 0; l < nlab; l++)
        sum[l] = silm_sum(D, perm, start[l], start[l + 1], c->lanes);
      /* sil_block_d's value */
      size_t li = (size_t)c->lab[q * s + i];
      if (cnt[li] <= 1) {
        c->val[q * s + i] = 0;
        continue;
      }
      double a = sum[li] / (double)(cnt[li] - 1), bmin = DBL_MAX;
      for (size_t l = 0; l < nlab; l++)
        if (l != li && cnt[l] > 0) {
          double m = sum[l] / (double)cnt[l];
          if (m < bmin) bmin = m;
        }
      double mx = a > bmin ? a : bmin;
      c->val[q * s + i] = mx > 0 ? (bmin - a) / mx : 0;
    }
  }
  tsr__free(D);
  tsr__free(sum);
}

tsr_status tsr__cluster_silhouette_multi(const double *X, size_t n, size_t d, const int *labels,
                                         size_t K, size_t sample_size, uint64_t seed, int n_threads,
                                         double *out, tsr_error *err) {
  for (size_t q = 0; q < K; q++) out[q] = NAN;
  int all = n > 0;
  for (size_t i = 0; i < K * n && all; i++) all = labels[i] >= 0;
  if (!all) { /* unlabelled rows: each labelling's own pool */
    for (size_t q = 0; q < K; q++) {
      tsr_status st = tsr_cluster_silhouette(X, n, d, labels + q * n, sample_size, seed, n_threads,
                                             &out[q], err);
      if (st != TSR_OK) return st;
    }
    return TSR_OK;
  }
  if (sample_size < 2) sample_size = 2;
  size_t s = n < sample_size ? n : sample_size, ls = s, nb = (s + 63) / 64;
  silm_ctx c;
  memset(&c, 0, sizeof c);
  size_t *rows = tsr__malloc(s * sizeof *rows), *nlab = tsr__calloc(K, sizeof *nlab);
  size_t *cnt = tsr__calloc(K * ls, sizeof *cnt), *start = tsr__calloc(K * (ls + 1), sizeof *start);
  size_t *perm = tsr__malloc(K * s * sizeof *perm), *fill = tsr__malloc(ls * sizeof *fill);
  int *lab = tsr__malloc(K * s * sizeof *lab), *sorted = tsr__malloc(s * sizeof *sorted);
  double *Xs = tsr__malloc(s * d * sizeof *Xs), *val = tsr__malloc(K * s * sizeof *val);
  unsigned char *bfail = tsr__calloc(nb, 1);
  tsr_status st = TSR_OK;
  if (!rows || !nlab || !cnt || !start || !perm || !fill || !lab || !sorted || !Xs || !val ||
      !bfail || sample_rows(n, s, seed, rows) != TSR_OK)
    goto nomem;
  for (size_t i = 0; i < s; i++)
    for (size_t t = 0; t < d; t++) Xs[t * s + i] = X[rows[i] * d + t];
  for (size_t q = 0; q < K; q++) { /* tsr_cluster_silhouette's grouping */
    const int *L = labels + q * n;
    int *lq = lab + q * s;
    size_t nl = compact_labels(L, rows, s, sorted, lq);
    nlab[q] = nl;
    if (nl < 2) continue;
    size_t *cq = cnt + q * ls, *sq = start + q * (ls + 1), *pq = perm + q * s;
    for (size_t i = 0; i < s; i++) cq[lq[i]]++;
    for (size_t l = 0; l < nl; l++) sq[l + 1] = sq[l] + cq[l];
    memcpy(fill, sq, nl * sizeof *fill);
    for (size_t i = 0; i < s; i++) pq[fill[lq[i]]++] = i;
  }
  c.X = X;
  c.d = d;
  c.s = s;
  c.K = K;
  c.ls = ls;
  c.rows = rows;
  c.Xs = Xs;
  c.lab = lab;
  c.nlab = nlab;
  c.cnt = cnt;
  c.start = start;
  c.perm = perm;
  c.val = val;
  c.bfail = bfail;
#if SIL_AVX
  c.lanes = __builtin_cpu_supports("avx") ? 8 : 4;
#elif defined(__SSE2__)
  c.lanes = 4;
#else
  c.lanes = 1;
#endif
  tsr__parallel_chunks(n_threads > 0 ? n_threads : 2, s, 64, silm_block, &c);
  for (size_t b = 0; b < nb; b++)
    if (bfail[b]) goto nomem;
  for (size_t q = 0; q < K; q++) {
    if (nlab[q] < 2) continue;
    double tot = 0;
    for (size_t i = 0; i < s; i++) tot += val[q * s + i];
    out[q] = tot / (double)s;
  }
  goto done;
nomem:
  st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
done:
  tsr__free(rows);
  tsr__free(nlab);
  tsr__free(cnt);
  tsr__free(start);
  tsr__free(perm);
  tsr__free(fill);
  tsr__free(lab);
  tsr__free(sorted);
  tsr__free(Xs);
  tsr__free(val);
  tsr__free(bfail);
  return st;
}

/* ================================================================== ARI */

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Sum over runs of equal keys of C(run, 2). */
static double pair_sum(uint64_t *keys, size_t n) {
  qsort(keys, n, sizeof *keys, cmp_u64);
  double s = 0;
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    run = (i > 0 && keys[i] == keys[i - 1]) ? run + 1 : 1;
    if (i + 1 == n || keys[i + 1] != keys[i]) s += (double)run * (double)(run - 1) / 2;
  }
  return s;
}

tsr_status tsr_cluster_ari(const int *a, const int *b, size_t n, double *out, tsr_error *err) {
  if ((!a || !b) && n)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "ari: labels must not be NULL");
  uint64_t *k = tsr__malloc((n ? n : 1) * sizeof *k);
  if (!k) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  for (size_t i = 0; i < n; i++) k[i] = (uint32_t)a[i];
  double sa = pair_sum(k, n);
  for (size_t i = 0; i < n; i++) k[i] = (uint32_t)b[i];
  double sb = pair_sum(k, n);
  for (size_t i = 0; i < n; i++) k[i] = ((uint64_t)(uint32_t)a[i] << 32) | (uint32_t)b[i];
  double sab = pair_sum(k, n);
  tsr__free(k);
  double tot = (double)n * (double)(n - (n > 0)) / 2;
  double expct = tot > 0 ? sa * sb / tot : 0;
  double mx = 0.5 * (sa + sb);
  if (mx == expct)
    *out = 1.0; /* both trivial partitions: identical (sklearn) */
  else
    *out = (sab - expct) / (mx - expct);
  return TSR_OK;
}
