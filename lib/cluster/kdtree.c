/*
 * kdtree.c - a static k-d tree over the rows of a row-major matrix for the
 * radius, count and k-nearest queries of DBSCAN (Bentley 1975; split on the
 * widest dimension of the bounding box at the median, leaves of <= 32 rows,
 * pruning by the box distance).
 */
#include <float.h>
#include <string.h>

#include "cluster_internal.h"

#define LEAF 32

/* Partial quickselect of idx[lo,hi) on dimension dim so that the element of
 * rank m is in place (Hoare). */
static void select_dim(const double *X, size_t d, size_t *idx, size_t lo,
                       size_t hi, size_t m, size_t dim) {
  while (hi - lo > 16) {
    size_t mid = lo + (hi - lo) / 2;
    double a = X[idx[lo] * d + dim], b = X[idx[mid] * d + dim],
           c = X[idx[hi - 1] * d + dim];
    double piv = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
    size_t i = lo, j = hi - 1;
    for (;;) {
      while (X[idx[i] * d + dim] < piv) i++;
      while (X[idx[j] * d + dim] > piv) j--;
      if (i >= j) break;
      size_t t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
      i++;
      j--;
    }
    /* [lo, j] <= piv <= [j+1, hi) */
    if (i == j && m == j) return;
    if (m <= j)
      hi = j + 1;
    else
      lo = j + 1;
  }
  for (size_t a = lo + 1; a < hi; a++) { /* insertion sort of the rest */
    size_t v = idx[a], b = a;
    while (b > lo && X[idx[b - 1] * d + dim] > X[v * d + dim]) {
      idx[b] = idx[b - 1];
      b--;
    }
    idx[b] = v;
  }
}

typedef struct build_ctx {
  tsr__kdtree *t;
  double *boxes;
  size_t cap;
} build_ctx;

static size_t build(build_ctx *b, size_t lo, size_t hi) {
  tsr__kdtree *t = b->t;
  size_t d = t->d, me = t->nnodes++;
  tsr__kdnode *nd = &t->nodes[me];
  nd->lo = lo;
  nd->hi = hi;
  nd->left = nd->right = 0;
  nd->bmin = b->boxes + me * 2 * d;
  nd->bmax = nd->bmin + d;
  for (size_t j = 0; j < d; j++) {
    nd->bmin[j] = DBL_MAX;
    nd->bmax[j] = -DBL_MAX;
  }
  for (size_t i = lo; i < hi; i++) {
    const double *x = t->X + t->idx[i] * d;
    for (size_t j = 0; j < d; j++) {
      if (x[j] < nd->bmin[j]) nd->bmin[j] = x[j];
      if (x[j] > nd->bmax[j]) nd->bmax[j] = x[j];
    }
  }
  if (hi - lo <= LEAF) return me;
  size_t dim = 0;
  double w = -1;
  for (size_t j = 0; j < d; j++)
    if (nd->bmax[j] - nd->bmin[j] > w) {
      w = nd->bmax[j] - nd->bmin[j];
      dim = j;
    }
  if (w <= 0) return me; /* all rows equal */
  size_t m = lo + (hi - lo) / 2;
  select_dim(t->X, d, t->idx, lo, hi, m, dim);
  size_t l = build(b, lo, m);
  size_t r = build(b, m, hi);
  t->nodes[me].left = l;
  t->nodes[me].right = r;
  return me;
}

tsr_status tsr__kdtree_build(const double *X, size_t n, size_t d,
                             tsr__kdtree *t) {
  memset(t, 0, sizeof *t);
  t->X = X;
  t->n = n;
  t->d = d;
  size_t cap = 2 * (n / (LEAF / 2) + 1) + 1;
  t->idx = tsr__malloc((n ? n : 1) * sizeof *t->idx);
  t->nodes = tsr__malloc(cap * sizeof *t->nodes);
  double *boxes = tsr__malloc(cap * 2 * d * sizeof *boxes);
  if (!t->idx || !t->nodes || !boxes) {
    tsr__free(t->idx);
    tsr__free(t->nodes);
    tsr__free(boxes);
    memset(t, 0, sizeof *t);
    return TSR_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) t->idx[i] = i;
  build_ctx b = {t, boxes, cap};
  if (n) build(&b, 0, n);
  return TSR_OK;
}

void tsr__kdtree_release(tsr__kdtree *t) {
  if (!t) return;
  tsr__free(t->idx);
  if (t->nodes && t->nnodes) tsr__free(t->nodes[0].bmin);
  tsr__free(t->nodes);
  memset(t, 0, sizeof *t);
}

#define box_dist tsr__box_dist
#define box_far tsr__box_far

size_t tsr__kdtree_radius(const tsr__kdtree *t, const double *q, double r2,
                          int (*fn)(void *ctx, size_t j), void *ctx) {
  if (!t->n) return 0;
  size_t stack[128], sp = 0, calls = 0;
  stack[sp++] = 0;
  while (sp) {
    const tsr__kdnode *nd = &t->nodes[stack[--sp]];
    if (box_dist(nd, q, t->d) > r2) continue;
    if (!nd->left) {
      for (size_t i = nd->lo; i < nd->hi; i++) {
        size_t j = t->idx[i];
        if (tsr__sqdist(t->X + j * t->d, q, t->d) <= r2) {
          calls++;
          if (fn(ctx, j)) return calls;
        }
      }
      continue;
    }
    stack[sp++] = nd->right;
    stack[sp++] = nd->left;
  }
  return calls;
}

size_t tsr__kdtree_count(const tsr__kdtree *t, const double *q, double r2,
                         size_t cap) {
  if (!t->n) return 0;
  size_t stack[128], sp = 0, cnt = 0;
  stack[sp++] = 0;
  while (sp) {
    const tsr__kdnode *nd = &t->nodes[stack[--sp]];
    if (box_dist(nd, q, t->d) > r2) continue;
    if (box_far(nd, q, t->d) <= r2) { /* whole box inside */
      cnt += nd->hi - nd->lo;
      if (cnt >= cap) return cnt;
      continue;
    }
    if (!nd->left) {
      for (size_t i = nd->lo; i < nd->hi; i++)
        if (tsr__sqdist(t->X + t->idx[i] * t->d, q, t->d) <= r2)
          if (++cnt >= cap) return cnt;
      continue;
    }
    /* nearer child popped first: reaches cap sooner */
    const tsr__kdnode *l = &t->nodes[nd->left], *r = &t->nodes[nd->right];
    if (box_dist(l, q, t->d) <= box_dist(r, q, t->d)) {
      stack[sp++] = nd->right;
      stack[sp++] = nd->left;
    } else {
      stack[sp++] = nd->left;
      stack[sp++] = nd->right;
    }
  }
  return cnt;
}

/* Max-heap of k squared distances (heap[0] largest). */
static void heap_push(double *h, size_t *sz, size_t k, double v) {
  if (*sz < k) {
    size_t i = (*sz)++;
    h[i] = v;
    while (i && h[(i - 1) / 2] < h[i]) {
      double t = h[i];
      h[i] = h[(i - 1) / 2];
      h[(i - 1) / 2] = t;
      i = (i - 1) / 2;
    }
    return;
  }
  if (v >= h[0]) return;
  h[0] = v;
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < k && h[l] > h[m]) m = l;
    if (r < k && h[r] > h[m]) m = r;
    if (m == i) break;
    double t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

double tsr__kdtree_kth(const tsr__kdtree *t, const double *q, size_t k,
                       double *heap) {
  size_t sz = 0, stack[128], sp = 0;
  if (!t->n || k == 0) return DBL_MAX;
  stack[sp++] = 0;
  while (sp) {
    const tsr__kdnode *nd = &t->nodes[stack[--sp]];
    if (sz == k && box_dist(nd, q, t->d) >= heap[0]) continue;
    if (!nd->left) {
      for (size_t i = nd->lo; i < nd->hi; i++)
        heap_push(heap, &sz, k, tsr__sqdist(t->X + t->idx[i] * t->d, q, t->d));
      continue;
    }
    const tsr__kdnode *l = &t->nodes[nd->left], *r = &t->nodes[nd->right];
    /* visit the nearer child first (pushed last) */
    if (box_dist(l, q, t->d) <= box_dist(r, q, t->d)) {
      stack[sp++] = nd->right;
      stack[sp++] = nd->left;
    } else {
      stack[sp++] = nd->left;
      stack[sp++] = nd->right;
    }
  }
  return sz < k ? DBL_MAX : heap[0];
}

size_t tsr__kdtree_nearest(const tsr__kdtree *t, const double *q, double *d2) {
  size_t best = 0, stack[128], sp = 0;
  double bd = DBL_MAX;
  if (t->n) stack[sp++] = 0;
  while (sp) {
    const tsr__kdnode *nd = &t->nodes[stack[--sp]];
    if (box_dist(nd, q, t->d) > bd) continue;
    if (!nd->left) {
      for (size_t i = nd->lo; i < nd->hi; i++) {
        size_t j = t->idx[i];
        double dd = tsr__sqdist(t->X + j * t->d, q, t->d);
        if (dd < bd || (dd == bd && j < best)) {
          bd = dd;
          best = j;
        }
      }
      continue;
    }
    const tsr__kdnode *l = &t->nodes[nd->left], *r = &t->nodes[nd->right];
    if (box_dist(l, q, t->d) <= box_dist(r, q, t->d)) {
      stack[sp++] = nd->right;
      stack[sp++] = nd->left;
    } else {
      stack[sp++] = nd->left;
      stack[sp++] = nd->right;
    }
  }
  if (d2) *d2 = bd;
  return best;
}
