/*
 * dbscan.c - DBSCAN (Ester, Kriegel, Sander & Xu 1996) on a k-d tree
 * (kdtree.c): core points by counting neighbours (stopping at min_samples),
 * clusters as connected components of core points (union-find), border
 * points to the lowest-numbered adjacent cluster, noise -1. Also the eps
 * rule from the k-distance curve (docs/clustering.md).
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_internal.h"

typedef struct db_ctx {
  const tsr__kdtree *t;
  const double *X;
  size_t d;
  double r2;
  size_t min_samples;
  unsigned char *core;
  int *labels;
  size_t *parent;
  size_t cur;   /* union pass: the core point being expanded */
  int best;     /* border pass: lowest cluster id seen */
} db_ctx;

static void core_block(void *vc, size_t b, size_t lo, size_t hi) {
  db_ctx *c = vc;
  (void)b;
  for (size_t i = lo; i < hi; i++)
    c->core[i] = tsr__kdtree_count(c->t, c->X + i * c->d, c->r2,
                                   c->min_samples) >= c->min_samples;
}

static size_t uf_find(size_t *p, size_t x) {
  while (p[x] != x) {
    p[x] = p[p[x]];
    x = p[x];
  }
  return x;
}

static int union_cb(void *vc, size_t j) {
  db_ctx *c = vc;
  if (j > c->cur && c->core[j]) {
    size_t a = uf_find(c->parent, c->cur), b = uf_find(c->parent, j);
    if (a != b) {
      if (a < b)
        c->parent[b] = a;
      else
        c->parent[a] = b;
    }
  }
  return 0;
}

typedef struct border_ctx {
  const db_ctx *c;
  int best;
} border_ctx;

static int border_cb(void *vb, size_t j) {
  border_ctx *bc = vb;
  if (bc->c->core[j]) {
    int l = bc->c->labels[j];
    if (bc->best < 0 || l < bc->best) bc->best = l;
  }
  return 0;
}

static void border_block(void *vc, size_t b, size_t lo, size_t hi) {
  db_ctx *c = vc;
  (void)b;
  for (size_t i = lo; i < hi; i++) {
    if (c->core[i]) continue;
    border_ctx bc = {c, -1};
    tsr__kdtree_radius(c->t, c->X + i * c->d, c->r2, border_cb, &bc);
    c->labels[i] = bc.best;
  }
}

tsr_status tsr_dbscan_fit(const double *X, size_t n, size_t d, double eps,
                          size_t min_samples, int n_threads, int *labels,
                          unsigned char *is_core, size_t *n_clusters,
                          tsr_error *err) {
  if (!X || !labels || d == 0)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "dbscan: X and labels must not be NULL, d >= 1");
  if (!(eps > 0) || !isfinite(eps))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "eps",
                         "expected a value > 0, got %g", eps);
  if (min_samples < 1)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "min_samples",
                         "expected a value >= 1, got %zu",
                         min_samples);
  if (n_threads < 1) n_threads = 2;
  tsr__kdtree t;
  unsigned char *core = is_core ? is_core : tsr__malloc(n ? n : 1);
  size_t *parent = tsr__malloc((n ? n : 1) * sizeof *parent);
  if (!core || !parent || tsr__kdtree_build(X, n, d, &t) != TSR_OK) {
    if (!is_core) tsr__free(core);
    tsr__free(parent);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  db_ctx c = {&t, X, d, eps * eps, min_samples, core, labels, parent, 0, -1};
  tsr__parallel_blocks(n_threads, n, core_block, &c);
  for (size_t i = 0; i < n; i++) parent[i] = i;
  for (size_t i = 0; i < n; i++) {
    if (!core[i]) continue;
    c.cur = i;
    tsr__kdtree_radius(&t, X + i * d, c.r2, union_cb, &c);
  }
  /* number clusters by their lowest-index core point */
  int next = 0;
  for (size_t i = 0; i < n; i++) labels[i] = -1;
  for (size_t i = 0; i < n; i++) {
    if (!core[i]) continue;
    size_t r = uf_find(parent, i);
    if (labels[r] < 0) labels[r] = next++;
    labels[i] = labels[r];
  }
  tsr__parallel_blocks(n_threads, n, border_block, &c);
  tsr__kdtree_release(&t);
  tsr__free(parent);
  if (!is_core) tsr__free(core);
  if (n_clusters) *n_clusters = (size_t)next;
  return TSR_OK;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

tsr_status tsr_dbscan_eps_auto(const double *X, size_t n, size_t d,
                               size_t min_samples, size_t sample_size,
                               uint64_t seed, double *eps, tsr_error *err) {
  if (!X || !eps || d == 0 || n == 0)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "eps auto: needs at least one row");
  if (min_samples < 1) min_samples = 1;
  size_t s = n < sample_size ? n : sample_size;
  size_t *perm = tsr__malloc(n * sizeof *perm);
  double *kd = tsr__malloc(s * sizeof *kd);
  double *x = tsr__malloc(s * sizeof *x);
  double *heap = tsr__malloc(min_samples * sizeof *heap);
  tsr__kdtree t;
  memset(&t, 0, sizeof t);
  if (!perm || !kd || !x || !heap || tsr__kdtree_build(X, n, d, &t) != TSR_OK) {
    tsr__free(perm);
    tsr__free(kd);
    tsr__free(x);
    tsr__free(heap);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  tsr__rng rng;
  tsr__rng_seed(&rng, seed, 0xDB5CA11ull);
  for (size_t i = 0; i < n; i++) perm[i] = i;
  for (size_t i = 0; i < s && s < n; i++) { /* partial Fisher-Yates */
    size_t j = i + tsr__rng_below(&rng, n - i);
    size_t tmp = perm[i];
    perm[i] = perm[j];
    perm[j] = tmp;
  }
  for (size_t i = 0; i < s; i++) {
    double v = tsr__kdtree_kth(&t, X + perm[i] * d, min_samples, heap);
    kd[i] = v == DBL_MAX ? NAN : sqrt(v);
    x[i] = (double)i;
  }
  size_t m = 0; /* drop NAN (fewer rows than min_samples) */
  for (size_t i = 0; i < s; i++)
    if (!isnan(kd[i])) kd[m++] = kd[i];
  qsort(kd, m, sizeof *kd, cmp_double);
  double e = 0;
  if (m >= 3)
    e = kd[tsr__knee(x, kd, m)];
  else if (m)
    e = kd[m - 1];
  if (!(e > 0)) { /* duplicates: smallest positive k-distance */
    for (size_t i = 0; i < m; i++)
      if (kd[i] > 0) {
        e = kd[i];
        break;
      }
    if (!(e > 0)) e = 1;
  }
  *eps = e;
  tsr__kdtree_release(&t);
  tsr__free(perm);
  tsr__free(kd);
  tsr__free(x);
  tsr__free(heap);
  return TSR_OK;
}
