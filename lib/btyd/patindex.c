/*
 * patindex.c - the distinct values of a set of (x, t_x, T) patterns, so that
 * a likelihood computes every term once per distinct x, t_x, T, (x, t_x) or
 * (x, T) and only combines them per pattern (the sufficient-statistics form
 * of the BG/NBD and Pareto/NBD kernels; btyd_internal.h).
 *
 * On 100,000 simulated customers (44,000 patterns) there are 65 distinct x,
 * 545 t_x, 365 T, 6,100 (x, t_x) and 5,400 (x, T) pairs: the Pareto/NBD
 * 2F1 terms drop from one or two per pattern to one per pair.
 */
#include "btyd_internal.h"

#include <stdlib.h>
#include <string.h>

/* Dense numbers of 64-bit keys in the order first seen (open addressing,
 * table of 2^k >= 2 n slots holding 1 + number). */
typedef struct {
  uint64_t *key;
  uint32_t *slot;
  size_t mask, n;
} interner;

static int interner_init(interner *t, size_t n) {
  size_t cap = 16;
  while (cap < 2 * n) cap *= 2;
  t->key = tsr__malloc(n * sizeof *t->key);
  t->slot = tsr__calloc(cap, sizeof *t->slot);
  t->mask = cap - 1;
  t->n = 0;
  return t->key && t->slot ? 0 : -1;
}

static void interner_free(interner *t) {
  tsr__free(t->key);
  tsr__free(t->slot);
}

static uint32_t intern(interner *t, uint64_t k) {
  uint64_t h = k * 0x9e3779b97f4a7c15ULL;
  size_t i = (size_t)(h ^ (h >> 29)) & t->mask;
  for (;; i = (i + 1) & t->mask) {
    uint32_t s = t->slot[i];
    if (!s) {
      t->key[t->n] = k;
      t->slot[i] = (uint32_t)++t->n;
      return (uint32_t)(t->n - 1);
    }
    if (t->key[s - 1] == k) return s - 1;
  }
}

static uint64_t dkey(double v) {
  uint64_t u;
  if (v == 0) v = 0; /* -0.0 and 0.0 are one value */
  memcpy(&u, &v, sizeof u);
  return u;
}

/* Distinct values of v[0..n) into u (first-seen order; returns their
 * count) and the number of every v[i] in idx. */
static size_t distinct(interner *t, const double *v, size_t n, double *u, uint32_t *idx) {
  t->n = 0;
  memset(t->slot, 0, (t->mask + 1) * sizeof *t->slot);
  for (size_t i = 0; i < n; i++) {
    idx[i] = intern(t, dkey(v[i]));
    if (idx[i] + 1 == t->n) u[idx[i]] = v[i];
  }
  return t->n;
}

/* Pairs (a[i], b[i]) of numbers: the pair of every pattern in pi, and for
 * every pair its a and b (pa, pb). Returns the number of pairs. */
static size_t pairs(interner *t, const uint32_t *a, const uint32_t *b, size_t n,
                    uint32_t *pi, uint32_t *pa, uint32_t *pb) {
  t->n = 0;
  memset(t->slot, 0, (t->mask + 1) * sizeof *t->slot);
  for (size_t i = 0; i < n; i++) {
    pi[i] = intern(t, (uint64_t)a[i] << 32 | b[i]);
    if (pi[i] + 1 == t->n) pa[pi[i]] = a[i], pb[pi[i]] = b[i];
  }
  return t->n;
}

int tsr__btyd_index_build(const tsr_btyd_data *d, tsr__btyd_index *ix) {
  size_t n = d->n;
  memset(ix, 0, sizeof *ix);
  if (n == 0 || n > UINT32_MAX / 2) return -1;
  ix->dbuf = tsr__malloc(3 * n * sizeof(double));
  ix->ubuf = tsr__malloc(9 * n * sizeof(uint32_t));
  interner t;
  if (interner_init(&t, n) || !ix->dbuf || !ix->ubuf) {
    interner_free(&t);
    tsr__btyd_index_release(ix);
    return -1;
  }
  ix->ux = ix->dbuf;
  ix->utx = ix->ux + n;
  ix->uT = ix->utx + n;
  uint32_t *u = ix->ubuf;
  ix->ix = u, ix->itx = u + n, ix->iT = u + 2 * n;
  ix->ixtx = u + 3 * n, ix->ixT = u + 4 * n;
  ix->xtx_x = u + 5 * n, ix->xtx_tx = u + 6 * n;
  ix->xT_x = u + 7 * n, ix->xT_T = u + 8 * n;
  ix->nx = distinct(&t, d->x, n, ix->ux, ix->ix);
  ix->ntx = distinct(&t, d->t_x, n, ix->utx, ix->itx);
  ix->nT = distinct(&t, d->T, n, ix->uT, ix->iT);
  ix->nxtx = pairs(&t, ix->ix, ix->itx, n, ix->ixtx, ix->xtx_x, ix->xtx_tx);
  ix->nxT = pairs(&t, ix->ix, ix->iT, n, ix->ixT, ix->xT_x, ix->xT_T);
  interner_free(&t);
  return 0;
}

void tsr__btyd_index_release(tsr__btyd_index *ix) {
  if (!ix) return;
  tsr__free(ix->dbuf);
  tsr__free(ix->ubuf);
  memset(ix, 0, sizeof *ix);
}
