/*
 * cluster_internal.h - internals shared by the clustering files (kmeans.c,
 * gmm.c, dbscan.c, kdtree.c, cluster_select.c, features.c,
 * cluster_profile.c, cluster_model.c): the seeded PRNG, a deterministic
 * parallel-for over fixed blocks, the k-d tree and the model struct.
 */
#ifndef TESSERA_CLUSTER_INTERNAL_H
#define TESSERA_CLUSTER_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "tessera/cluster.h"

/* ------------------------------------------------------------------ PRNG */

/* The core's xoshiro256** (lib/internal.h) with the clustering seeding. */
typedef struct tsr__rng {
  uint64_t s[4];
} tsr__rng;

static inline void tsr__rng_seed(tsr__rng *r, uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
  for (int i = 0; i < 4; i++) r->s[i] = tsr__splitmix64(&x);
}

static inline uint64_t tsr__rng_next(tsr__rng *r) { return tsr__xoshiro_next(r->s); }

/* Uniform in [0,1). */
static inline double tsr__rng_unif(tsr__rng *r) {
  return (double)(tsr__rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0,n), n > 0 (Lemire's multiply, tiny bias ignored). */
static inline size_t tsr__rng_below(tsr__rng *r, size_t n) {
  return (size_t)(((unsigned __int128)tsr__rng_next(r) * n) >> 64);
}

/* Squared Euclidean distance. */
static inline double tsr__sqdist(const double *a, const double *b, size_t d) {
  double s = 0;
  for (size_t j = 0; j < d; j++) {
    double t = a[j] - b[j];
    s += t * t;
  }
  return s;
}

/* Calls fn(args..., D) with D a compile-time constant for the common small
 * dimensions so that always-inline bodies get specialised loops. */
#define TSR__INLINE static inline __attribute__((always_inline))
#define TSR__SPECIALIZE_D(fn, d, ...)                                                              \
  switch (d) {                                                                                     \
  case 1:                                                                                          \
    fn(__VA_ARGS__, 1);                                                                            \
    break;                                                                                         \
  case 2:                                                                                          \
    fn(__VA_ARGS__, 2);                                                                            \
    break;                                                                                         \
  case 3:                                                                                          \
    fn(__VA_ARGS__, 3);                                                                            \
    break;                                                                                         \
  case 4:                                                                                          \
    fn(__VA_ARGS__, 4);                                                                            \
    break;                                                                                         \
  case 5:                                                                                          \
    fn(__VA_ARGS__, 5);                                                                            \
    break;                                                                                         \
  case 6:                                                                                          \
    fn(__VA_ARGS__, 6);                                                                            \
    break;                                                                                         \
  case 8:                                                                                          \
    fn(__VA_ARGS__, 8);                                                                            \
    break;                                                                                         \
  default:                                                                                         \
    fn(__VA_ARGS__, d);                                                                            \
    break;                                                                                         \
  }

/* ---------------------------------------------------------- parallel for */

/* Blocks of this many rows: results reduced per block in block order so
 * they do not depend on the number of threads. */
#define TSR__BLOCK 8192

typedef void (*tsr__block_fn)(void *ctx, size_t block, size_t lo, size_t hi);

/* Runs fn(ctx, b, lo, hi) for every block b of [0,n) on up to n_threads
 * threads (the caller's thread included). Falls back to one thread if a
 * thread cannot be created. */
void tsr__parallel_blocks(int n_threads, size_t n, tsr__block_fn fn, void *ctx);
/* Same with blocks of `chunk` rows. */
void tsr__parallel_chunks(int n_threads, size_t n, size_t chunk, tsr__block_fn fn, void *ctx);
/* Workers kept for many loops (k-means' iterations): tsr__pool_new(n)
 * starts n - 1 threads on the first loop of more than one block (NULL, or
 * no thread started: every loop runs on the caller's thread); a loop wakes
 * them and waits only for those that took a block. Same results as
 * tsr__parallel_chunks. */
typedef struct tsr__pool tsr__pool;
tsr__pool *tsr__pool_new(int n_threads);
void tsr__pool_chunks(tsr__pool *p, size_t n, size_t chunk, tsr__block_fn fn, void *ctx);
void tsr__pool_blocks(tsr__pool *p, size_t n, tsr__block_fn fn, void *ctx);
void tsr__pool_free(tsr__pool *p);
static inline size_t tsr__nblocks(size_t n) { return (n + TSR__BLOCK - 1) / TSR__BLOCK; }

/* ------------------------------------------------------------- k-d tree */

typedef struct tsr__kdtree {
  const double *X; /* borrowed, n x d */
  size_t n, d;
  size_t *idx; /* permutation of rows; leaves are ranges of idx */
  struct tsr__kdnode *nodes;
  size_t nnodes;
} tsr__kdtree;

typedef struct tsr__kdnode {
  size_t lo, hi;       /* range in idx */
  size_t left, right;  /* children (0 = leaf) */
  double *bmin, *bmax; /* bounding box (d each, into a shared array) */
} tsr__kdnode;

/* Squared distance from q to the box of nd (0 inside). */
static inline double tsr__box_dist(const tsr__kdnode *nd, const double *q, size_t d) {
  double s = 0;
  for (size_t j = 0; j < d; j++) {
    double t = 0;
    if (q[j] < nd->bmin[j])
      t = nd->bmin[j] - q[j];
    else if (q[j] > nd->bmax[j])
      t = q[j] - nd->bmax[j];
    s += t * t;
  }
  return s;
}

/* Squared distance from q to the farthest corner of the box of nd. */
static inline double tsr__box_far(const tsr__kdnode *nd, const double *q, size_t d) {
  double s = 0;
  for (size_t j = 0; j < d; j++) {
    double a = q[j] - nd->bmin[j], b = nd->bmax[j] - q[j];
    if (a < 0) a = -a;
    if (b < 0) b = -b;
    double t = a > b ? a : b;
    s += t * t;
  }
  return s;
}

tsr_status tsr__kdtree_build(const double *X, size_t n, size_t d, tsr__kdtree *t);
void tsr__kdtree_release(tsr__kdtree *t);
/* Calls fn(ctx, j) for every row j with |X[j]-q|^2 <= r2; stops early when
 * fn returns nonzero. Returns the number of calls. */
size_t tsr__kdtree_radius(const tsr__kdtree *t, const double *q, double r2,
                          int (*fn)(void *ctx, size_t j), void *ctx);
/* Number of rows within r2 of q, stopping at cap. */
size_t tsr__kdtree_count(const tsr__kdtree *t, const double *q, double r2, size_t cap);
/* Squared distance to the k-th nearest row of q (q's own row counted if it
 * is in the tree). heap: scratch of k doubles. */
double tsr__kdtree_kth(const tsr__kdtree *t, const double *q, size_t k, double *heap);
/* Nearest row to q; *d2 its squared distance. */
size_t tsr__kdtree_nearest(const tsr__kdtree *t, const double *q, double *d2);

/* -------------------------------------------------------------- features */

typedef struct tsr__feature {
  char *name;
  int log1p;     /* 1: log1p applied first */
  double center; /* subtracted after log1p (0 when not standardising) */
  double scale;  /* divided by (1 when not standardising) */
} tsr__feature;

/* A column of values read in place: value i at base + i * stride bytes
 * (stride sizeof(double): an array; larger: one field of an array of
 * structs, e.g. the summary's rows, with no copy; issue 18). */
typedef struct tsr__col {
  const char *base;
  size_t stride;
} tsr__col;

static inline tsr__col tsr__col_of(const double *a) {
  tsr__col c = {(const char *)a, sizeof(double)};
  return c;
}

static inline double tsr__col_at(tsr__col c, size_t i) {
  double v;
  memcpy(&v, c.base + i * c.stride, sizeof v);
  return v;
}

/* The clustering of tsr_cluster_run on columns read in place. */
tsr_status tsr__cluster_run_cols(const tsr_cluster_opts *opts, const tsr__col *columns,
                                 const char *const *names, size_t n, size_t ncols,
                                 const char *const *segments, tsr_cluster_result **out,
                                 tsr_error *err);
/* The same without the profiles (r->profiles NULL; tsr__cluster_profiles
 * makes them): analyze fits early and profiles with the models' columns. */
tsr_status tsr__cluster_fit_cols(const tsr_cluster_opts *opts, const tsr__col *columns,
                                 const char *const *names, size_t n, size_t ncols,
                                 tsr_cluster_result **out, tsr_error *err);

/* Fits the transform on columns (n values each) and writes the transformed
 * row-major matrix Z (n x d). feats[j].name must be set by the caller.
 * err->line = 1-based row of a value the transform rejects. */
tsr_status tsr__features_fit(tsr__feature *feats, size_t d, unsigned transform,
                             const tsr__col *cols, size_t n, double *Z, tsr_error *err);
/* Applies a fitted transform. */
tsr_status tsr__features_apply(const tsr__feature *feats, size_t d, const double *const *cols,
                               size_t n, double *Z, tsr_error *err);
/* Linear-interpolated quantile (numpy default) of sorted v[0..n-1]. */
double tsr__quantile_sorted(const double *v, size_t n, double q);
/* The same quantile of v in any order, by selection (v is reordered). */
double tsr__quantile_select(double *v, size_t n, double q);

/* ----------------------------------------------------------------- model */

struct tsr_cluster_model {
  tsr_cluster_method method;
  unsigned transform;
  size_t d, k;
  tsr__feature *feats; /* d */
  double *centers;     /* k x d in the transformed space (k-means; GMM
                          means; DBSCAN: cluster means) */
  tsr_gmm *gmm;        /* GMM */
  double eps;          /* DBSCAN */
  size_t min_samples;
  double *core;     /* DBSCAN core points, ncore x d (transformed) */
  int *core_labels; /* ncore */
  size_t ncore;
};

tsr_cluster_model *tsr__cluster_model_new(void);
/* Assigns rows of Z (m x d, transformed). */
tsr_status tsr__cluster_model_assign_z(const tsr_cluster_model *m, const double *Z, size_t nrows,
                                       int *labels, double *prob, tsr_error *err);

/* Lloyd steps (Hamerly) from the given centres until the labels stop
 * changing (or max_iter; 0 = 300); centres updated in place, labels (n, may
 * be NULL) exact for them. TSR_ENOMEM only. */
tsr_status tsr__kmeans_polish(const double *X, size_t n, size_t d, size_t k, int n_threads,
                              size_t max_iter, double *centers, int *labels);

/* Sum over the d features of X (n x d) of their variance (population),
 * the scale of the k-means tolerance (kmeans.c). */
double tsr__km_mean_var(const double *X, size_t n, size_t d);

/* GMM internals used by the model file. */
tsr_gmm *tsr__gmm_new(size_t k, size_t d, tsr_cov_type cov);
tsr_status tsr__gmm_prepare(tsr_gmm *g, tsr_error *err);

/* Profiles (cluster_profile.c). */
tsr_status tsr__cluster_profiles(tsr_cluster_result *r, const tsr__col *fcols,
                                 const tsr__col *columns, const char *const *names, size_t ncols,
                                 const char *const *segments, tsr_error *err);
/* Order of cluster ids (cluster_profile.c): perm[old] = new. */
tsr_status tsr__cluster_order(const int *labels, size_t n, size_t k, const tsr__col *monetary,
                              size_t *perm);
/* Elbow (cluster_select.c): index of the knee of y over x (max distance to
 * the chord, both axes scaled to [0,1]); n >= 3 else 0. */
size_t tsr__knee(const double *x, const double *y, size_t n);
/* Within-cluster sum of squares of labels (noise left out). */
/* m rows of X (n x d, m <= n) drawn without replacement with a generator
 * seeded by (seed, stream), kept in their original order, into *out (m x d,
 * owned by the caller). */
/* tsr_cluster_silhouette of K labellings (K x n, row-major) of the same
 * rows into out (K values); the same values, each pair's distance computed
 * once when every row is labelled in every labelling. */
tsr_status tsr__cluster_silhouette_multi(const double *X, size_t n, size_t d, const int *labels,
                                         size_t K, size_t sample_size, uint64_t seed, int n_threads,
                                         double *out, tsr_error *err);
tsr_status tsr__sample_rows(const double *X, size_t n, size_t d, size_t m, uint64_t seed,
                            uint64_t stream, double **out);
double tsr__inertia(const double *X, size_t n, size_t d, const int *labels, const double *centers);

#endif
