/*
 * sort.c - LSD radix sort of 64-bit keys with a 32-bit payload, and the
 * stable order of an array of doubles on top of it (sort.h); used by RFM,
 * entity resolution, the ledger's id order and the ranking of classifier
 * scores (lib/predict/evaluate.c). RFM ranks 1.8M customers three times:
 * glibc's qsort (a merge sort through a comparison function) took 3 % of a
 * 10M-transaction analyze; 8 counting passes of 8-bit digits (fewer: a digit equal in every
 * key is skipped) take a fraction of it.
 */
#include "internal.h"
#include "base/sort.h"

#include <string.h>

int tsr__radix_sort_u64(uint64_t *k, uint32_t *v, size_t n) {
  if (n < 2) return 0;
  uint64_t *k2 = tsr__malloc(n * sizeof *k2);
  uint32_t *v2 = v ? tsr__malloc(n * sizeof *v2) : NULL;
  if (!k2 || (v && !v2)) {
    tsr__free(k2), tsr__free(v2);
    return -1;
  }
  size_t cnt[8][256];
  memset(cnt, 0, sizeof cnt);
  for (size_t i = 0; i < n; i++)
    for (int d = 0; d < 8; d++) cnt[d][(k[i] >> (8 * d)) & 0xff]++;
  uint64_t *ks = k, *kd = k2;
  uint32_t *vs = v, *vd = v2;
  for (int d = 0; d < 8; d++) {
    size_t *c = cnt[d];
    if (c[(ks[0] >> (8 * d)) & 0xff] == n) continue; /* one digit value */
    size_t sum = 0;
    for (int b = 0; b < 256; b++) {
      size_t t = c[b];
      c[b] = sum;
      sum += t;
    }
    for (size_t i = 0; i < n; i++) {
      size_t p = c[(ks[i] >> (8 * d)) & 0xff]++;
      kd[p] = ks[i];
      if (v) vd[p] = vs[i];
    }
    uint64_t *kt = ks;
    ks = kd, kd = kt;
    uint32_t *vt = vs;
    vs = vd, vd = vt;
  }
  if (ks != k) {
    memcpy(k, ks, n * sizeof *k);
    if (v) memcpy(v, vs, n * sizeof *v);
  }
  tsr__free(k2), tsr__free(v2);
  return 0;
}

int tsr__order_f64(const double *x, size_t n, uint32_t *order) {
  if (n > UINT32_MAX) return -1;
  if (n == 0) return 0;
  uint64_t *k = tsr__malloc(n * sizeof *k);
  if (!k) return -1;
  for (size_t i = 0; i < n; i++) {
    k[i] = tsr__key_f64(x[i]);
    order[i] = (uint32_t)i;
  }
  int rc = tsr__radix_sort_u64(k, order, n);
  tsr__free(k);
  return rc;
}
