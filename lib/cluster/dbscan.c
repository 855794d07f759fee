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
  size_t *rep;        /* per node: a core row inside it, or SIZE_MAX */
  unsigned char *tight; /* per node: box diagonal <= eps (all rows within
                           eps of each other) */
  size_t *up;         /* per node: parent (SIZE_MAX for the root) */
  unsigned char *owned; /* per row: inside a maximal tight node */
  unsigned char *uni;   /* per node: all its core rows in one component
                           (stays true: components only merge) */
} db_ctx;

/* Number of rows within eps of q, stopping at cap (nearer child first). */
TSR__INLINE size_t count_d(const tsr__kdtree *t, const double *q, double r2,
                           size_t cap, size_t d) {
  size_t stack[128], sp = 0, cnt = 0;
  stack[sp++] = 0;
  while (sp) {
    const tsr__kdnode *nd = &t->nodes[stack[--sp]];
    if (tsr__box_dist(nd, q, d) > r2) continue;
    if (tsr__box_far(nd, q, d) <= r2) {
      cnt += nd->hi - nd->lo;
      if (cnt >= cap) return cnt;
      continue;
    }
    if (!nd->left) {
      for (size_t a = nd->lo; a < nd->hi; a++) /* rows in leaf order */
        if (tsr__sqdist(t->X + a * d, q, d) <= r2 && ++cnt >= cap) return cnt;
      continue;
    }
    const tsr__kdnode *l = &t->nodes[nd->left], *r = &t->nodes[nd->right];
    if (tsr__box_dist(l, q, d) <= tsr__box_dist(r, q, d)) {
      stack[sp++] = nd->right;
      stack[sp++] = nd->left;
    } else {
      stack[sp++] = nd->left;
      stack[sp++] = nd->right;
    }
  }
  return cnt;
}

TSR__INLINE void core_block_d(void *vc, size_t b, size_t lo, size_t hi,
                              size_t d) {
  db_ctx *c = vc;
  (void)b;
  for (size_t i = lo; i < hi; i++)
    if (!c->core[i])
      c->core[i] = count_d(c->t, c->X + i * d, c->r2, c->min_samples, d) >=
                   c->min_samples;
}

static void core_block(void *vc, size_t b, size_t lo, size_t hi) {
  TSR__SPECIALIZE_D(core_block_d, ((db_ctx *)vc)->d, vc, b, lo, hi)
}

/* Union-find shared by the threads of the union phase: roots link to the
 * smaller index with a compare-and-swap; finds halve paths with plain
 * atomic stores (a parent only ever moves closer to its root). The
 * components do not depend on the order of the unions. */
static size_t uf_find(size_t *p, size_t x) {
  for (;;) {
    size_t y = __atomic_load_n(&p[x], __ATOMIC_ACQUIRE);
    if (y == x) return x;
    size_t z = __atomic_load_n(&p[y], __ATOMIC_ACQUIRE);
    if (z != y) __atomic_compare_exchange_n(&p[x], &y, z, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
    x = z;
  }
}

static void uf_union(size_t *p, size_t a, size_t b) {
  for (;;) {
    a = uf_find(p, a);
    b = uf_find(p, b);
    if (a == b) return;
    if (a < b) {
      size_t t = a;
      a = b;
      b = t;
    }
    size_t exp = a; /* link the larger root a under b */
    if (__atomic_compare_exchange_n(&p[a], &exp, b, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
      return;
  }
}

/* Per node: the tight flag and the parent; rows of a maximal tight node
 * with at least min_samples rows are core at once (all within eps of each
 * other). Nodes are stored in preorder (children after parents). */
static void prepare_geometry(db_ctx *c) {
  const tsr__kdtree *t = c->t;
  for (size_t v = 0; v < t->nnodes; v++) {
    const tsr__kdnode *nd = &t->nodes[v];
    double diag = 0;
    for (size_t j = 0; j < t->d; j++) {
      double w = nd->bmax[j] - nd->bmin[j];
      diag += w * w;
    }
    c->tight[v] = diag <= c->r2;
    if (v == 0) c->up[v] = SIZE_MAX;
    if (nd->left) {
      c->up[nd->left] = v;
      c->up[nd->right] = v;
    }
  }
  for (size_t v = 0; v < t->nnodes; v++) {
    const tsr__kdnode *nd = &t->nodes[v];
    if (!c->tight[v] || (c->up[v] != SIZE_MAX && c->tight[c->up[v]])) continue;
    int big = nd->hi - nd->lo >= c->min_samples;
    for (size_t a = nd->lo; a < nd->hi; a++) {
      c->owned[t->idx[a]] = 1;
      if (big) c->core[t->idx[a]] = 1;
    }
  }
}

/* Per node: a core representative (bottom-up); the core rows of a tight
 * node are joined at once. */
static void prepare_reps(db_ctx *c) {
  const tsr__kdtree *t = c->t;
  size_t d = c->d;
  for (size_t v = t->nnodes; v-- > 0;) {
    const tsr__kdnode *nd = &t->nodes[v];
    size_t r = SIZE_MAX;
    if (!nd->left) {
      /* join the core rows of the leaf that are within eps of each other */
      for (size_t i = nd->lo; i < nd->hi; i++) {
        if (!c->core[i]) continue;
        if (r == SIZE_MAX) r = i;
        if (c->tight[v]) {
          uf_union(c->parent, r, i);
          continue;
        }
        for (size_t j = nd->lo; j < i; j++)
          if (c->core[j] && tsr__sqdist(t->X + i * d, t->X + j * d, d) <= c->r2)
            uf_union(c->parent, i, j);
      }
      int u = 1;
      size_t rr = r == SIZE_MAX ? 0 : uf_find(c->parent, r);
      for (size_t i = nd->lo; i < nd->hi && u && r != SIZE_MAX; i++)
        if (c->core[i] && uf_find(c->parent, i) != rr) u = 0;
      c->uni[v] = (unsigned char)u;
    } else {
      size_t a = c->rep[nd->left], b = c->rep[nd->right];
      r = a != SIZE_MAX ? a : b;
      if (c->tight[v] && a != SIZE_MAX && b != SIZE_MAX) uf_union(c->parent, a, b);
      c->uni[v] = c->uni[nd->left] && c->uni[nd->right] &&
                  (a == SIZE_MAX || b == SIZE_MAX ||
                   uf_find(c->parent, a) == uf_find(c->parent, b));
    }
    c->rep[v] = r;
  }
}

/* Squared distances between two boxes: nearest and farthest points. */
static double bb_dist(const tsr__kdnode *A, const tsr__kdnode *B, size_t d) {
  double s = 0;
  for (size_t j = 0; j < d; j++) {
    double t = A->bmin[j] - B->bmax[j], u = B->bmin[j] - A->bmax[j];
    double g = t > u ? t : u;
    if (g > 0) s += g * g;
  }
  return s;
}

static double bb_far(const tsr__kdnode *A, const tsr__kdnode *B, size_t d) {
  double s = 0;
  for (size_t j = 0; j < d; j++) {
    double t = A->bmax[j] - B->bmin[j], u = B->bmax[j] - A->bmin[j];
    double g = t > u ? t : u;
    s += g * g;
  }
  return s;
}

/* Is some core row of node a within eps of some core row of node b?
 * (dual-tree search, first hit wins) */
static int pair_within(const db_ctx *c, size_t a, size_t b) {
  const tsr__kdtree *t = c->t;
  const tsr__kdnode *A = &t->nodes[a], *B = &t->nodes[b];
  size_t d = c->d;
  if (c->rep[a] == SIZE_MAX || c->rep[b] == SIZE_MAX) return 0;
  if (bb_dist(A, B, d) > c->r2) return 0;
  if (bb_far(A, B, d) <= c->r2) return 1;
  if (!A->left && !B->left) {
    for (size_t i = A->lo; i < A->hi; i++) {
      size_t p = t->idx[i];
      if (!c->core[p]) continue;
      for (size_t j = B->lo; j < B->hi; j++) {
        size_t q = t->idx[j];
        if (c->core[q] && tsr__sqdist(t->X + p * d, t->X + q * d, d) <= c->r2)
          return 1;
      }
    }
    return 0;
  }
  if (A->left && (!B->left || A->hi - A->lo >= B->hi - B->lo))
    return pair_within(c, A->left, b) || pair_within(c, A->right, b);
  return pair_within(c, a, B->left) || pair_within(c, a, B->right);
}

/* Joins the maximal tight node T (core rows already joined together) with
 * the tight nodes it reaches within eps. Core rows outside tight nodes are
 * joined by their own union_query. */
static void node_query(db_ctx *c, size_t T) {
  const tsr__kdtree *t = c->t;
  const tsr__kdnode *A = &t->nodes[T];
  size_t stack[256], sp = 0, d = c->d;
  stack[sp++] = 0;
  while (sp) {
    size_t v = stack[--sp];
    const tsr__kdnode *nd = &t->nodes[v];
    if (v == T || c->rep[v] == SIZE_MAX || bb_dist(A, nd, d) > c->r2) continue;
    if (c->tight[v]) {
      if (uf_find(c->parent, c->rep[v]) == uf_find(c->parent, c->rep[T])) continue;
      if (pair_within(c, T, v)) uf_union(c->parent, c->rep[T], c->rep[v]);
      continue;
    }
    if (!nd->left) continue; /* untight leaf: its rows query themselves */
    stack[sp++] = nd->right;
    stack[sp++] = nd->left;
  }
}

/* Joins core row i with every core row within eps. Subtrees without core
 * rows are skipped; a tight subtree inside the ball is joined through its
 * representative. */
TSR__INLINE void union_query_d(db_ctx *c, size_t i, size_t d) {
  const tsr__kdtree *t = c->t;
  const double *q = c->X + i * d;
  size_t stack[128], sp = 0;
  stack[sp++] = 0;
  while (sp) {
    size_t v = stack[--sp];
    const tsr__kdnode *nd = &t->nodes[v];
    if (c->rep[v] == SIZE_MAX || tsr__box_dist(nd, q, d) > c->r2) continue;
    int uni = __atomic_load_n(&c->uni[v], __ATOMIC_RELAXED);
    if (uni) {
      /* one component: skip it when already joined, join it when inside */
      if (uf_find(c->parent, c->rep[v]) == uf_find(c->parent, i)) continue;
      if (tsr__box_far(nd, q, d) <= c->r2) {
        uf_union(c->parent, i, c->rep[v]);
        continue;
      }
    }
    if (!nd->left) {
      for (size_t j = nd->lo; j < nd->hi; j++) /* rows in leaf order */
        if (j != i && c->core[j] && tsr__sqdist(t->X + j * d, q, d) <= c->r2) {
          uf_union(c->parent, i, j);
          if (uni) break; /* the rest of the leaf is joined with j */
        }
      continue;
    }
    /* a node whose children are one component becomes uniform */
    if (!uni && c->uni[nd->left] && c->uni[nd->right]) {
      size_t a = c->rep[nd->left], b = c->rep[nd->right];
      if (a == SIZE_MAX || b == SIZE_MAX ||
          uf_find(c->parent, a) == uf_find(c->parent, b)) {
        __atomic_store_n(&c->uni[v], 1, __ATOMIC_RELAXED);
        stack[sp++] = v; /* look again with the shortcut */
        continue;
      }
    }
    stack[sp++] = nd->right;
    stack[sp++] = nd->left;
  }
}

TSR__INLINE void union_block_d(void *vc, size_t b, size_t lo, size_t hi,
                               size_t d) {
  db_ctx *c = vc;
  (void)b;
  for (size_t i = lo; i < hi; i++)
    if (c->core[i] && !c->owned[i]) union_query_d(c, i, d);
}

static void union_block(void *vc, size_t b, size_t lo, size_t hi) {
  TSR__SPECIALIZE_D(union_block_d, ((db_ctx *)vc)->d, vc, b, lo, hi)
}

/* Lowest cluster id among the core rows within eps of q (-1 if none). */
static int border_query(const db_ctx *c, const double *q) {
  const tsr__kdtree *t = c->t;
  size_t stack[128], sp = 0, d = c->d;
  int best = -1;
  stack[sp++] = 0;
  while (sp) {
    size_t v = stack[--sp];
    const tsr__kdnode *nd = &t->nodes[v];
    if (c->rep[v] == SIZE_MAX || tsr__box_dist(nd, q, d) > c->r2) continue;
    if (c->uni[v] && tsr__box_far(nd, q, d) <= c->r2) {
      int l = c->labels[c->rep[v]]; /* one component: one label */
      if (best < 0 || l < best) best = l;
      continue;
    }
    if (!nd->left) {
      for (size_t j = nd->lo; j < nd->hi; j++) { /* rows in leaf order */
        if (c->core[j] && tsr__sqdist(t->X + j * d, q, d) <= c->r2) {
          int l = c->labels[j];
          if (best < 0 || l < best) best = l;
        }
      }
      continue;
    }
    stack[sp++] = nd->right;
    stack[sp++] = nd->left;
  }
  return best;
}

static void border_block(void *vc, size_t b, size_t lo, size_t hi) {
  db_ctx *c = vc;
  (void)b;
  for (size_t i = lo; i < hi; i++)
    if (!c->core[i]) c->labels[i] = border_query(c, c->X + i * c->d);
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
                         "expected a value >= 1, got %zu", min_samples);
  if (n_threads < 1) n_threads = 2;
  /* Everything runs on a copy of X in the tree's leaf order ("positions"),
   * so leaves are contiguous in memory; results are mapped back at the end. */
  size_t nn = n ? n : 1;
  tsr__kdtree t;
  memset(&t, 0, sizeof t);
  double *Xp = tsr__malloc(nn * d * sizeof *Xp);
  size_t *perm = tsr__malloc(nn * sizeof *perm);
  size_t *parent = tsr__malloc(nn * sizeof *parent);
  unsigned char *core = tsr__calloc(nn, 1), *owned = tsr__calloc(nn, 1);
  int *lab = tsr__malloc(nn * sizeof *lab);
  size_t *rep = NULL, *up = NULL;
  unsigned char *tight = NULL, *uni = NULL;
  int built = 0;
  if (Xp && perm && parent && core && owned && lab &&
      tsr__kdtree_build(X, n, d, &t) == TSR_OK) {
    built = 1;
    rep = tsr__malloc((t.nnodes ? t.nnodes : 1) * sizeof *rep);
    up = tsr__malloc((t.nnodes ? t.nnodes : 1) * sizeof *up);
    tight = tsr__malloc(t.nnodes ? t.nnodes : 1);
    uni = tsr__malloc(t.nnodes ? t.nnodes : 1);
  }
  tsr_status st = TSR_OK;
  if (!built || !rep || !tight || !up || !uni) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  for (size_t a = 0; a < n; a++) {
    perm[a] = t.idx[a];
    memcpy(Xp + a * d, X + perm[a] * d, d * sizeof *Xp);
    t.idx[a] = a;
  }
  t.X = Xp;
  db_ctx c = {&t, Xp, d, eps * eps, min_samples, core, lab, parent, rep, tight, up, owned, uni};
  prepare_geometry(&c);
  tsr__parallel_blocks(n_threads, n, core_block, &c);
  for (size_t a = 0; a < n; a++) parent[a] = a;
  prepare_reps(&c);
  tsr__parallel_blocks(n_threads, n, union_block, &c);
  for (size_t v = 0; v < t.nnodes; v++)
    if (tight[v] && (up[v] == SIZE_MAX || !tight[up[v]]) && rep[v] != SIZE_MAX)
      node_query(&c, v);
  /* number clusters by their lowest-index (original order) core point;
   * the root's slot of lab holds its component's id while numbering */
  int next = 0;
  size_t *inv = tsr__malloc(nn * sizeof *inv);
  if (!inv) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  for (size_t a = 0; a < n; a++) inv[perm[a]] = a;
  for (size_t a = 0; a < n; a++) lab[a] = -1;
  int *root_id = labels; /* scratch in original indexing */
  for (size_t i = 0; i < n; i++) root_id[i] = -1;
  for (size_t i = 0; i < n; i++) {
    size_t a = inv[i];
    if (!core[a]) continue;
    size_t r = uf_find(parent, a);
    if (root_id[perm[r]] < 0) root_id[perm[r]] = next++;
  }
  for (size_t a = 0; a < n; a++)
    if (core[a]) lab[a] = root_id[perm[uf_find(parent, a)]];
  tsr__free(inv);
  tsr__parallel_blocks(n_threads, n, border_block, &c);
  for (size_t a = 0; a < n; a++) {
    labels[perm[a]] = lab[a];
    if (is_core) is_core[perm[a]] = core[a];
  }
  if (n_clusters) *n_clusters = (size_t)next;
done:
  tsr__kdtree_release(&t);
  tsr__free(Xp);
  tsr__free(perm);
  tsr__free(parent);
  tsr__free(core);
  tsr__free(owned);
  tsr__free(lab);
  tsr__free(rep);
  tsr__free(up);
  tsr__free(tight);
  tsr__free(uni);
  return st;
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
