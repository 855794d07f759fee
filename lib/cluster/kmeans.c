/*
 * kmeans.c - k-means clustering: greedy k-means++ seeding (Arthur &
 * Vassilvitskii 2007; 2 + floor(ln k) local trials as scikit-learn), Lloyd
 * iterations accelerated with Hamerly's bounds (Hamerly 2010, "Making
 * k-means even faster", Alg. 2), several restarts keeping the lowest
 * inertia, then Lloyd steps on the best run until its labels stop changing
 * (the "polish"; it never raises the inertia). Tolerance as scikit-learn:
 * tol * mean per-feature variance, compared with the sum of squared centre
 * shifts. The data are memory-bound at small d: the seeding adopts each
 * centre inside the next candidates' pass and leaves every point's nearest
 * centre for the first Lloyd step, and the centre sums are updated only for
 * the points that change cluster. On many rows (at least 2 x 32768, or
 * 512 per cluster) the restarts run on a seeded sample of 32768 rows (256
 * per cluster when more) and the best run's centres are refined on all rows
 * by the polish: n_init restarts cost about one pass over a sample instead
 * of n_init runs over all rows. The distances to the centres are computed
 * four centres per vector; the Lloyd steps have a build for CPUs with AVX
 * (one operation per four centres instead of two), chosen at run time,
 * with the same operations in each lane: the same bits on every CPU.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "cluster_internal.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Rows of the sample the restarts run on when there are at least twice as
 * many (tsr_kmeans_fit). */
#define KM_SAMPLE 32768

/* ================================================================ seeding */

typedef struct pp_ctx {
  const double *X;
  size_t d;
  double *closest;    /* n: squared distance to the nearest chosen centre */
  int *near;          /* n: index of that centre (ties: the earlier) */
  const size_t *cand; /* trial candidate rows */
  size_t ntrial;
  double *candT; /* d x ntp: the candidates by feature, zeros past
                    ntrial (ntp: ntrial rounded up to even) */
  size_t ntp;
  double *bpot;    /* nblocks x ntrial */
  double *bsum;    /* nblocks: block sums of closest */
  size_t best;     /* first centre (initial pass) */
  const double *P; /* centre chosen but not yet folded into closest
                      (NULL: none) */
  int pj;          /* its index */
} pp_ctx;

/* Folds P into closest/near for row i. */
TSR__INLINE double pp_fold(pp_ctx *c, size_t i, const double *x, size_t d) {
  double cl = c->closest[i];
  if (c->P) {
    double dd = tsr__sqdist(x, c->P, d);
    if (dd < cl) {
      c->closest[i] = cl = dd;
      c->near[i] = c->pj;
    }
  }
  return cl;
}

/* Folds the pending centre into closest, then the potential of each trial
 * candidate over one block (sums over i in row order, as separate passes
 * would). */
TSR__INLINE void pp_trial_block_d(void *vc, size_t b, size_t lo, size_t hi, size_t d) {
  pp_ctx *c = vc;
  double acc[64];
  size_t nt = c->ntrial;
#ifdef __SSE2__
  /* two candidates per vector: per lane the same distance sums and the
   * same running sum of min(dd, cl) in row order */
  size_t ntp = c->ntp;
  const double *CT = c->candT;
  __m128d av[32];
  for (size_t t = 0; t < ntp; t += 2) av[t / 2] = _mm_setzero_pd();
  for (size_t i = lo; i < hi; i++) {
    const double *x = c->X + i * d;
    __m128d clv = _mm_set1_pd(pp_fold(c, i, x, d));
    for (size_t t = 0; t < ntp; t += 2) {
      __m128d dd = _mm_setzero_pd();
      for (size_t q = 0; q < d; q++) {
        __m128d u = _mm_sub_pd(_mm_set1_pd(x[q]), _mm_loadu_pd(CT + q * ntp + t));
        dd = _mm_add_pd(dd, _mm_mul_pd(u, u));
      }
      av[t / 2] = _mm_add_pd(av[t / 2], _mm_min_pd(dd, clv));
    }
  }
  for (size_t t = 0; t < ntp; t += 2) _mm_storeu_pd(acc + t, av[t / 2]);
#else
  for (size_t t = 0; t < nt; t++) acc[t] = 0;
  for (size_t i = lo; i < hi; i++) {
    const double *x = c->X + i * d;
    double cl = pp_fold(c, i, x, d);
    for (size_t t = 0; t < nt; t++) {
      double dd = tsr__sqdist(x, c->X + c->cand[t] * d, d);
      acc[t] += dd < cl ? dd : cl;
    }
  }
#endif
  for (size_t t = 0; t < nt; t++) c->bpot[b * nt + t] = acc[t];
}

TSR__INLINE void pp_fold_block_d(void *vc, size_t b, size_t lo, size_t hi, size_t d) {
  pp_ctx *c = vc;
  (void)b;
  for (size_t i = lo; i < hi; i++) pp_fold(c, i, c->X + i * d, d);
}

static void pp_trial_block(void *vc, size_t b, size_t lo, size_t hi) {
  TSR__SPECIALIZE_D(pp_trial_block_d, ((pp_ctx *)vc)->d, vc, b, lo, hi)
}

static void pp_fold_block(void *vc, size_t b, size_t lo, size_t hi){
    TSR__SPECIALIZE_D(pp_fold_block_d, ((pp_ctx *)vc)->d, vc, b, lo, hi)}

/* The first centre: closest = its distance, block sums. */
TSR__INLINE void pp_first_block_d(void *vc, size_t b, size_t lo, size_t hi, size_t d) {
  pp_ctx *c = vc;
  const double *q = c->X + c->best * d;
  double s = 0;
  for (size_t i = lo; i < hi; i++) {
    c->closest[i] = tsr__sqdist(c->X + i * d, q, d);
    c->near[i] = 0;
    s += c->closest[i];
  }
  c->bsum[b] = s;
}

static void pp_first_block(void *vc, size_t b, size_t lo, size_t hi) {
  TSR__SPECIALIZE_D(pp_first_block_d, ((pp_ctx *)vc)->d, vc, b, lo, hi)
}

/* Row whose cumulative sum of closest (P folded in) first reaches v
 * (searchsorted left), walking the block sums first. */
static size_t pp_search(const pp_ctx *c, size_t n, double v) {
  size_t nb = tsr__nblocks(n);
  double cum = 0;
  size_t b = 0;
  for (; b + 1 < nb; b++) {
    if (cum + c->bsum[b] >= v) break;
    cum += c->bsum[b];
  }
  size_t lo = b * TSR__BLOCK, hi = lo + TSR__BLOCK;
  if (hi > n) hi = n;
  for (size_t i = lo; i < hi; i++) {
    double cl = c->closest[i];
    if (c->P) {
      double dd = tsr__sqdist(c->X + i * c->d, c->P, c->d);
      if (dd < cl) cl = dd;
    }
    cum += cl;
    if (cum >= v) return i;
  }
  return n - 1;
}

/* Greedy k-means++; on return closest/near hold every row's nearest centre
 * (exact, ties to the lower index) for the first Lloyd step. */
static tsr_status kmeanspp(const double *X, size_t n, size_t d, size_t k, tsr__rng *rng,
                           tsr__pool *pool, double *centers, double *closest, int *near) {
  size_t ntrial = 2 + (size_t)floor(log((double)k));
  size_t nb = tsr__nblocks(n);
  size_t cand[64];
  if (ntrial > 64) ntrial = 64;
  size_t ntp = (ntrial + 1) / 2 * 2;
  double *bpot = tsr__malloc(nb * ntrial * sizeof *bpot);
  double *bsum = tsr__malloc(nb * sizeof *bsum);
  double *candT = tsr__calloc(d * ntp, sizeof *candT);
  if (!bpot || !bsum || !candT) {
    tsr__free(bpot);
    tsr__free(bsum);
    tsr__free(candT);
    return TSR_ENOMEM;
  }
  pp_ctx c = {X, d, closest, near, cand, ntrial, candT, ntp, bpot, bsum, 0, NULL, 0};
  size_t first = tsr__rng_below(rng, n);
  memcpy(centers, X + first * d, d * sizeof *centers);
  c.best = first;
  tsr__pool_blocks(pool, n, pp_first_block, &c);
  double pot = 0;
  for (size_t b = 0; b < nb; b++) pot += bsum[b];
  for (size_t j = 1; j < k; j++) {
    for (size_t t = 0; t < ntrial; t++) cand[t] = pp_search(&c, n, tsr__rng_unif(rng) * pot);
    for (size_t t = 0; t < ntrial; t++)
      for (size_t q = 0; q < d; q++) candT[q * ntp + t] = X[cand[t] * d + q];
    tsr__pool_blocks(pool, n, pp_trial_block, &c);
    size_t best = 0;
    double bestpot = DBL_MAX;
    for (size_t t = 0; t < ntrial; t++) {
      double s = 0;
      for (size_t b = 0; b < nb; b++) s += bpot[b * ntrial + t];
      if (s < bestpot) {
        bestpot = s;
        best = t;
      }
    }
    memcpy(centers + j * d, X + cand[best] * d, d * sizeof *centers);
    c.P = centers + j * d; /* folded in by the next pass or search */
    c.pj = (int)j;
    pot = 0;
    for (size_t b = 0; b < nb; b++) pot += bsum[b] = bpot[b * ntrial + best];
  }
  if (c.P) tsr__pool_blocks(pool, n, pp_fold_block, &c); /* the last */
  tsr__free(bpot);
  tsr__free(bsum);
  tsr__free(candT);
  return TSR_OK;
}

/* ================================================================ Hamerly */

typedef struct hm_ctx {
  const double *X;
  size_t d, k;
  const double *C;  /* k x d current centres */
  const double *CT; /* d x kp: the same by feature (two_nearest) */
  size_t kp;
  const double *s; /* k: half distance to the nearest other centre */
  const double *p; /* k: movement of each centre in the last update */
  size_t r1;       /* centre that moved most; p2 = second largest */
  double p1, p2;
  int first; /* 1: initialise bounds with a full scan; 2: labels
                and upper bounds from the seeding (closest) */
  const double *closest;
  int *a;         /* n labels */
  double *u, *l;  /* n upper / lower bounds (Euclidean, not squared) */
  double *bsum;   /* nblocks x k x d */
  double *bcnt;   /* nblocks x k */
  size_t *bchg;   /* nblocks: labels changed */
  double *binert; /* nblocks (final pass) */
} hm_ctx;

/* Nearest and second-nearest centre of x (squared distances) from the
 * centres by feature, CT (d x kp, kp >= k rounded up to KM_LANES, zeros
 * past k): each distance is the same sum, in the same order, as
 * tsr__sqdist's (four centres per generic vector: two SSE2 operations, or
 * one AVX operation where the caller is compiled for AVX, hm_block_avx;
 * the same value in each lane either way), and the scan keeps its ties
 * (the earlier centre; d2 may equal d1). */
#define KM_LANES 4
#define KM_CHUNK 64  /* centres per scan of the distance buffer */
#define HM_BATCH 256 /* rows per batch of bound tests (hm_block) */
#if defined(__GNUC__)
typedef double km_v4d __attribute__((vector_size(4 * sizeof(double))));
#endif

TSR__INLINE void two_nearest(const double *x, const double *CT, size_t k, size_t kp, size_t d,
                             size_t *j1, double *d1, double *d2) {
  double b1 = DBL_MAX, b2 = DBL_MAX;
  size_t bj = 0;
  double buf[KM_CHUNK];
  for (size_t j0 = 0; j0 < k; j0 += KM_CHUNK) {
    size_t jn = k - j0 < KM_CHUNK ? k - j0 : KM_CHUNK;
#if defined(__GNUC__)
    /* jn rounded up to 4 stays within kp (zeros past k) and KM_CHUNK */
    for (size_t j = 0; j < jn; j += 4) {
      km_v4d acc = {0, 0, 0, 0};
      for (size_t t = 0; t < d; t++) {
        km_v4d c;
        memcpy(&c, CT + t * kp + j0 + j, sizeof c);
        km_v4d u = x[t] - c;
        acc = acc + u * u;
      }
      memcpy(buf + j, &acc, sizeof acc);
    }
#else
    for (size_t j = 0; j < jn; j++) {
      double acc = 0;
      for (size_t t = 0; t < d; t++) {
        double u = x[t] - CT[t * kp + j0 + j];
        acc += u * u;
      }
      buf[j] = acc;
    }
#endif
    for (size_t j = 0; j < jn; j++) {
      double dd = buf[j];
      if (dd < b1) {
        b2 = b1;
        b1 = dd;
        bj = j0 + j;
      } else if (dd < b2) {
        b2 = dd;
      }
    }
  }
  *j1 = bj;
  *d1 = b1;
  *d2 = b2;
}

/* The centres C (k x d) by feature into CT (d x kp, zeros past k). */
static void centres_by_feature(const double *C, size_t k, size_t d, size_t kp, double *CT) {
  for (size_t t = 0; t < d; t++) {
    for (size_t j = 0; j < k; j++) CT[t * kp + j] = C[j * d + t];
    for (size_t j = k; j < kp; j++) CT[t * kp + j] = 0;
  }
}

/* One Hamerly assignment pass over a block plus the block's contribution to
 * the centre sums: all its points on the first pass, afterwards only the
 * moves (minus from the old cluster, plus to the new). */
TSR__INLINE void hm_block_d(void *vc, size_t b, size_t lo, size_t hi, size_t d) {
  hm_ctx *c = vc;
  const size_t k = c->k, kp = c->kp;
  const double *const X = c->X, *const CT = c->CT;
  int *const a = c->a;
  double *const u = c->u, *const l = c->l;
  size_t chg = 0;
  double *sum = c->bsum + b * k * d, *cnt = c->bcnt + b * k;
  memset(sum, 0, k * d * sizeof *sum);
  memset(cnt, 0, k * sizeof *cnt);
  if (c->first) {
    for (size_t i = lo; i < hi; i++) {
      const double *x = X + i * d;
      if (c->first == 2) { /* exact nearest centre known from the seeding */
        u[i] = sqrt(c->closest[i]);
        l[i] = 0; /* a valid (loose) lower bound */
      } else {
        size_t j1;
        double d1, d2;
        two_nearest(x, CT, k, kp, d, &j1, &d1, &d2);
        a[i] = (int)j1;
        u[i] = sqrt(d1);
        l[i] = k > 1 ? sqrt(d2) : DBL_MAX;
      }
      size_t ai = (size_t)a[i];
      double *sj = sum + ai * d;
      for (size_t t = 0; t < d; t++) sj[t] += x[t];
      cnt[ai] += 1;
    }
    c->bchg[b] = hi - lo;
    return;
  }
  const double *const p = c->p, *const s = c->s, *const C = c->C;
  const size_t r1 = c->r1;
  const double p1 = c->p1, p2 = c->p2;
  /* by batches: the bounds of every row updated without branches, the rows
   * whose bound test fails listed (with their threshold), then those rows
   * in row order (the centre sums change in the same order) */
  size_t q[HM_BATCH];
  double qm[HM_BATCH];
  for (size_t i0 = lo; i0 < hi; i0 += HM_BATCH) {
    size_t i1 = hi - i0 < HM_BATCH ? hi : i0 + HM_BATCH, nq = 0;
    for (size_t i = i0; i < i1; i++) {
      size_t ai = (size_t)a[i];
      double ui = u[i] + p[ai];
      double li = l[i] - (ai == r1 ? p2 : p1);
      double m = s[ai] > li ? s[ai] : li;
      u[i] = ui;
      l[i] = li;
      q[nq] = i;
      qm[nq] = m;
      nq += ui > m;
    }
    for (size_t e = 0; e < nq; e++) {
      size_t i = q[e], ai = (size_t)a[i];
      double m = qm[e];
      const double *x = X + i * d;
      double ui = sqrt(tsr__sqdist(x, C + ai * d, d));
      u[i] = ui;
      if (ui > m) {
        size_t j1;
        double d1, d2;
        two_nearest(x, CT, k, kp, d, &j1, &d1, &d2);
        if (j1 != ai) {
          a[i] = (int)j1;
          chg++;
          double *so = sum + ai * d, *sn = sum + j1 * d;
          for (size_t t = 0; t < d; t++) {
            so[t] -= x[t];
            sn[t] += x[t];
          }
          cnt[ai] -= 1;
          cnt[j1] += 1;
        }
        u[i] = sqrt(d1);
        l[i] = k > 1 ? sqrt(d2) : DBL_MAX;
      }
    }
  }
  c->bchg[b] = chg;
}

static void hm_block(void *vc, size_t b, size_t lo, size_t hi) {
  TSR__SPECIALIZE_D(hm_block_d, ((hm_ctx *)vc)->d, vc, b, lo, hi)
}

#if defined(__x86_64__) && defined(__GNUC__)
/* hm_block compiled for AVX (checked at run time, km_block_fn): the
 * distances of two_nearest four centres per operation; every operation is
 * the one of hm_block (no fused multiply-add), so the results are too. */
__attribute__((target("avx"))) static void hm_block_avx(void *vc, size_t b, size_t lo, size_t hi) {
  TSR__SPECIALIZE_D(hm_block_d, ((hm_ctx *)vc)->d, vc, b, lo, hi)
}

static tsr__block_fn km_block_fn(void) {
  return __builtin_cpu_supports("avx") ? hm_block_avx : hm_block;
}
#else
static tsr__block_fn km_block_fn(void) { return hm_block; }
#endif

/* Exact labels and inertia with the final centres. */
TSR__INLINE void final_block_d(void *vc, size_t b, size_t lo, size_t hi, size_t d) {
  hm_ctx *c = vc;
  double s = 0;
  for (size_t i = lo; i < hi; i++) {
    size_t j1;
    double d1, d2;
    two_nearest(c->X + i * d, c->CT, c->k, c->kp, d, &j1, &d1, &d2);
    c->a[i] = (int)j1;
    s += d1;
  }
  c->binert[b] = s;
}

static void final_block(void *vc, size_t b, size_t lo, size_t hi){
    TSR__SPECIALIZE_D(final_block_d, ((hm_ctx *)vc)->d, vc, b, lo, hi)}

/* Inertia with the current labels (exact when the labels are). */
TSR__INLINE void inert_block_d(void *vc, size_t b, size_t lo, size_t hi, size_t d) {
  hm_ctx *c = vc;
  double s = 0;
  for (size_t i = lo; i < hi; i++) s += tsr__sqdist(c->X + i * d, c->C + (size_t)c->a[i] * d, d);
  c->binert[b] = s;
}

static void inert_block(void *vc, size_t b, size_t lo, size_t hi) {
  TSR__SPECIALIZE_D(inert_block_d, ((hm_ctx *)vc)->d, vc, b, lo, hi)
}

typedef struct km_work {
  int *a;
  double *u, *l, *closest, *bsum, *bcnt, *binert, *C, *Cnew, *s, *p;
  double *sum, *cnt; /* k x d centre sums and k counts of the run */
  double *CT;        /* d x kp: C by feature */
  size_t kp;
  tsr__pool *pool; /* the runs' workers (NULL: one thread) */
  size_t *bchg;
  int own_a; /* a is ours (else the caller's labels) */
} km_work;

static void work_free(km_work *w) {
  if (w->own_a) tsr__free(w->a);
  tsr__free(w->u);
  tsr__free(w->l);
  tsr__free(w->closest);
  tsr__free(w->bsum);
  tsr__free(w->bcnt);
  tsr__free(w->binert);
  tsr__free(w->C);
  tsr__free(w->Cnew);
  tsr__free(w->s);
  tsr__free(w->p);
  tsr__free(w->bchg);
  tsr__free(w->sum);
  tsr__free(w->cnt);
  tsr__free(w->CT);
  tsr__pool_free(w->pool);
}

/* The work arrays of runs on n rows and the workers of n_threads (none
 * when they cannot be had: one thread); the labels are worked on in place
 * in labels (n) when not NULL (no fresh array and no copy: 7 MB of new
 * pages on 1.8M rows); TSR_ENOMEM: nothing kept. */
static tsr_status work_alloc(km_work *w, size_t n, size_t d, size_t k, int n_threads, int *labels) {
  size_t nb = tsr__nblocks(n);
  memset(w, 0, sizeof *w);
  w->kp = (k + KM_LANES - 1) / KM_LANES * KM_LANES;
  /* the rows' arrays on huge pages when large (the polish on all rows:
   * 50 MB for 1.8M rows, faulted in 2 MiB at a time; tsr__malloc_big) */
  w->own_a = labels == NULL;
  w->a = labels ? labels : tsr__malloc_big(n * sizeof *w->a);
  w->u = tsr__malloc_big(n * sizeof *w->u);
  w->l = tsr__malloc_big(n * sizeof *w->l);
  w->closest = tsr__malloc_big((n > k ? n : k) * sizeof *w->closest);
  w->bsum = tsr__malloc(nb * k * d * sizeof *w->bsum);
  w->bcnt = tsr__malloc(nb * k * sizeof *w->bcnt);
  w->binert = tsr__malloc(nb * sizeof *w->binert);
  w->bchg = tsr__malloc(nb * sizeof *w->bchg);
  w->C = tsr__malloc(k * d * sizeof *w->C);
  w->Cnew = tsr__malloc(k * d * sizeof *w->Cnew);
  w->s = tsr__malloc(k * sizeof *w->s);
  w->p = tsr__malloc(k * sizeof *w->p);
  w->sum = tsr__malloc(k * d * sizeof *w->sum);
  w->cnt = tsr__malloc(k * sizeof *w->cnt);
  w->CT = tsr__malloc(d * w->kp * sizeof *w->CT);
  w->pool = tsr__pool_new(n_threads);
  if (!w->a || !w->u || !w->l || !w->closest || !w->bsum || !w->bcnt || !w->binert || !w->bchg ||
      !w->C || !w->Cnew || !w->s || !w->p || !w->sum || !w->cnt || !w->CT) {
    work_free(w);
    return TSR_ENOMEM;
  }
  return TSR_OK;
}

/* One k-means run from k-means++ seeding (or from w->C when rng is NULL);
 * writes C, a, *inertia. *strict = 1 when it ended with unchanged labels:
 * then labels and inertia are exact for C. Otherwise the inertia is that of
 * the last labels (an upper bound), or exact after a full pass when
 * exact_end is set. */
static tsr_status km_run(const double *X, size_t n, size_t d, size_t k, size_t max_iter,
                         double tol_abs, tsr__rng *rng, tsr__pool *pool, km_work *w, int exact_end,
                         double *inertia, size_t *n_iter, int *strict) {
  if (rng) { /* else start from the centres already in w->C */
    tsr_status st = kmeanspp(X, n, d, k, rng, pool, w->C, w->closest, w->a);
    if (st != TSR_OK) return st;
  }
  size_t nb = tsr__nblocks(n);
  hm_ctx c;
  memset(&c, 0, sizeof c);
  c.X = X;
  c.d = d;
  c.k = k;
  c.C = w->C;
  c.CT = w->CT;
  c.kp = w->kp;
  c.s = w->s;
  c.p = w->p;
  c.a = w->a;
  c.u = w->u;
  c.l = w->l;
  c.bsum = w->bsum;
  c.bcnt = w->bcnt;
  c.bchg = w->bchg;
  c.binert = w->binert;
  c.first = rng ? 2 : 1;
  c.closest = w->closest;
  size_t it = 0;
  tsr__block_fn step = km_block_fn();
  *strict = 0;
  for (; it < max_iter; it++) {
    /* s[j] = half the distance from centre j to its nearest other centre */
    for (size_t j = 0; j < k; j++) {
      double m = DBL_MAX;
      for (size_t t = 0; t < k; t++)
        if (t != j) {
          double dd = tsr__sqdist(w->C + j * d, w->C + t * d, d);
          if (dd < m) m = dd;
        }
      w->s[j] = k > 1 ? 0.5 * sqrt(m) : DBL_MAX;
    }
    centres_by_feature(w->C, k, d, w->kp, w->CT);
    tsr__pool_blocks(pool, n, step, &c);
    size_t chg = 0;
    for (size_t b = 0; b < nb; b++) chg += w->bchg[b];
    /* new centres: add the block sums (or moves) in block order */
    double *cnt = w->cnt;
    if (c.first) {
      memset(w->sum, 0, k * d * sizeof *w->sum);
      memset(cnt, 0, k * sizeof *cnt);
    }
    for (size_t b = 0; b < nb; b++) {
      for (size_t j = 0; j < k * d; j++) w->sum[j] += w->bsum[b * k * d + j];
      for (size_t j = 0; j < k; j++) cnt[j] += w->bcnt[b * k + j];
    }
    size_t relocated = 0;
    for (size_t j = 0; j < k; j++) {
      if (cnt[j] > 0.5) {
        for (size_t t = 0; t < d; t++) w->Cnew[j * d + t] = w->sum[j * d + t] / cnt[j];
        continue;
      }
      /* empty cluster: move it to the point farthest from its centre
       * (bounds stay valid: the move is counted in p[j]) */
      double far = -1;
      size_t fi = 0;
      for (size_t i = 0; i < n; i++) {
        double dd = tsr__sqdist(X + i * d, w->C + (size_t)w->a[i] * d, d);
        int taken = 0;
        for (size_t q = 0; q < j; q++)
          if (cnt[q] < 0.5 && !memcmp(w->Cnew + q * d, X + i * d, d * sizeof(double))) taken = 1;
        if (dd > far && !taken) {
          far = dd;
          fi = i;
        }
      }
      memcpy(w->Cnew + j * d, X + fi * d, d * sizeof(double));
      relocated++;
    }
    double shift = 0, p1 = 0, p2 = 0;
    size_t r1 = 0;
    for (size_t j = 0; j < k; j++) {
      double dd = tsr__sqdist(w->C + j * d, w->Cnew + j * d, d);
      shift += dd;
      w->p[j] = sqrt(dd);
      if (w->p[j] > p1) {
        p2 = p1;
        p1 = w->p[j];
        r1 = j;
      } else if (w->p[j] > p2) {
        p2 = w->p[j];
      }
    }
    memcpy(w->C, w->Cnew, k * d * sizeof *w->C);
    c.r1 = r1;
    c.p1 = p1;
    c.p2 = p2;
    int was_first = c.first;
    c.first = 0;
    if (!was_first && chg == 0 && relocated == 0) {
      it++;
      *strict = 1; /* labels unchanged, so the centres too */
      break;
    }
    if (shift <= tol_abs) {
      it++;
      break;
    }
  }
  if (!*strict && exact_end) centres_by_feature(w->C, k, d, w->kp, w->CT);
  tsr__pool_blocks(pool, n, *strict || !exact_end ? inert_block : final_block, &c);
  double s = 0;
  for (size_t b = 0; b < nb; b++) s += w->binert[b];
  *inertia = s;
  *n_iter = it;
  return TSR_OK;
}

/* Sum over the features of their variance (two passes: mean, then mean
 * squared deviation; each feature's sums in row order). Up to MV_COLS
 * features share a pass over the rows instead of one pass each. */
#define MV_COLS 16

double tsr__km_mean_var(const double *X, size_t n, size_t d) {
  double mv = 0;
  for (size_t t0 = 0; t0 < d; t0 += MV_COLS) {
    size_t w = d - t0 < MV_COLS ? d - t0 : MV_COLS;
    double m[MV_COLS] = {0}, v[MV_COLS] = {0};
    for (size_t i = 0; i < n; i++) {
      const double *x = X + i * d + t0;
      for (size_t t = 0; t < w; t++) m[t] += x[t];
    }
    for (size_t t = 0; t < w; t++) m[t] /= (double)n;
    for (size_t i = 0; i < n; i++) {
      const double *x = X + i * d + t0;
      for (size_t t = 0; t < w; t++) {
        double z = x[t] - m[t];
        v[t] += z * z;
      }
    }
    for (size_t t = 0; t < w; t++) mv += v[t] / (double)n;
  }
  return mv;
}

tsr_status tsr_kmeans_fit(const double *X, size_t n, size_t d, size_t k,
                          const tsr_cluster_opts *opts, double *centers, int *labels,
                          double *inertia, size_t *n_iter, tsr_error *err) {
  tsr_cluster_opts def;
  if (!opts) {
    tsr_cluster_opts_init(&def);
    opts = &def;
  }
  if (!X || !centers || d == 0)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "kmeans: X and centers must not be NULL, d >= 1");
  if (k < 1 || k > n)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "k",
                         "expected a value in [1, %zu] (rows), got %zu", n, k);
  size_t n_init = opts->n_init ? opts->n_init : 10;
  size_t max_iter = opts->max_iter ? opts->max_iter : 300;
  double tol = opts->tol >= 0 ? opts->tol : 1e-4;
  int nthr = opts->n_threads > 0 ? opts->n_threads : 2;
  /* tolerance relative to the mean per-feature variance (sklearn) */
  double tol_abs = tol * tsr__km_mean_var(X, n, d) / (double)d;
  km_work w;
  if (work_alloc(&w, n, d, k, nthr, labels) != TSR_OK)
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  /* many rows: the restarts run on a seeded sample of KM_SAMPLE rows (at
   * least 256 per cluster); only the best one is refined on all rows */
  size_t ns = KM_SAMPLE > 256 * k ? KM_SAMPLE : 256 * k;
  const double *Xr = X;
  size_t nr = n;
  double *Xs = NULL;
  if (n >= 2 * ns) {
    if (tsr__sample_rows(X, n, d, ns, opts->seed, 0x4B4D53ull, &Xs) != TSR_OK) {
      work_free(&w);
      return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
    Xr = Xs;
    nr = ns;
  }
  double best = DBL_MAX;
  size_t best_it = 0;
  for (size_t r = 0; r < n_init; r++) {
    tsr__rng rng;
    tsr__rng_seed(&rng, opts->seed, r + 1);
    double in;
    size_t it;
    int strict;
    tsr_status st = km_run(Xr, nr, d, k, max_iter, tol_abs, &rng, w.pool, &w, 0, &in, &it, &strict);
    if (st != TSR_OK) {
      work_free(&w);
      tsr__free(Xs);
      return tsr_error_set(err, st, NULL, 0, 0, NULL, "out of memory");
    }
    if (opts->progress)
      opts->progress(opts->progress_ud, "kmeans", (double)(r + 1) / (double)n_init);
    if (in < best) { /* in: inertia of the run's last labels */
      best = in;
      best_it = it;
      memcpy(centers, w.C, k * d * sizeof *centers);
    }
  }
  /* polish the best run: Lloyd steps until the labels stop changing (never
   * raises the inertia; usually a few cheap bounded iterations); its labels
   * and inertia are exact */
  {
    double in;
    size_t it;
    int strict;
    memcpy(w.C, centers, k * d * sizeof *centers);
    km_run(X, n, d, k, max_iter, 0, NULL, w.pool, &w, 1, &in, &it, &strict);
    best = in;
    best_it += it;
    memcpy(centers, w.C, k * d * sizeof *centers);
  }
  work_free(&w);
  tsr__free(Xs);
  if (inertia) *inertia = best;
  if (n_iter) *n_iter = best_it;
  return TSR_OK;
}

tsr_status tsr__kmeans_polish(const double *X, size_t n, size_t d, size_t k, int n_threads,
                              size_t max_iter, double *centers, int *labels) {
  km_work w;
  if (work_alloc(&w, n, d, k, n_threads > 0 ? n_threads : 2, labels) != TSR_OK) return TSR_ENOMEM;
  double in;
  size_t it;
  int strict;
  memcpy(w.C, centers, k * d * sizeof *centers);
  km_run(X, n, d, k, max_iter ? max_iter : 300, 0, NULL, w.pool, &w, 1, &in, &it, &strict);
  memcpy(centers, w.C, k * d * sizeof *centers);
  work_free(&w);
  return TSR_OK;
}
