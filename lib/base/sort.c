/*
 * sort.c - LSD radix sort of 64-bit keys with a 32-bit payload, and the
 * stable order of an array of doubles on top of it (sort.h); used by RFM,
 * entity resolution, the ledger's id and address orders and the ranking of
 * classifier scores (lib/predict/evaluate.c). RFM ranks 1.8M customers
 * three times: glibc's qsort (a merge sort through a comparison function)
 * took 3 % of a 10M-transaction analyze; counting passes take a fraction of
 * it.
 *
 * Only the bits where some key differs from the first are sorted on (one
 * pass finds them): the ledger's block addresses span ~25 bits, customer
 * numbers ~21, so they take 3 and 2 passes of up to 11-bit digits (the
 * digits balanced: 25 bits are 3 of 9) where 8-bit digits took 4 and 3;
 * full-width keys take 6 instead of 8. A digit equal in every key is still
 * skipped. The copies come from tsr__malloc_big: on 2 MiB pages a sort of
 * 1.8M keys faults 11 times instead of 5,300 (issue 18: the sort's fresh
 * pages were 16 % of analyze's page faults).
 */
#include "internal.h"
#include "base/sort.h"

#include <string.h>

/* The widest digit: 2048 counters (16 KiB of uint64) stay in L1/L2 while a
 * pass scatters to as many places. */
#define RADIX_MAXBITS 11
#define RADIX_MAXPASS ((64 + RADIX_MAXBITS - 1) / RADIX_MAXBITS)

int tsr__radix_sort_u64(uint64_t *k, uint32_t *v, size_t n) {
  if (n < 2) return 0;
  /* the bits that vary: lo .. hi-1 */
  uint64_t diff = 0;
  const uint64_t k0 = k[0];
  for (size_t i = 1; i < n; i++) diff |= k[i] ^ k0;
  if (!diff) return 0; /* all keys equal: a stable sort changes nothing */
  const int lo = __builtin_ctzll(diff), hi = 64 - __builtin_clzll(diff);
  const int np = (hi - lo + RADIX_MAXBITS - 1) / RADIX_MAXBITS;
  const int bits = (hi - lo + np - 1) / np; /* balanced digits */
  const size_t nb = (size_t)1 << bits;
  const uint64_t mask = nb - 1;
  uint64_t *k2 = tsr__malloc_big(n * sizeof *k2);
  uint32_t *v2 = v ? tsr__malloc_big(n * sizeof *v2) : NULL;
  size_t *cnt = tsr__calloc((size_t)np << bits, sizeof *cnt);
  if (!k2 || (v && !v2) || !cnt) {
    tsr__free(k2), tsr__free(v2), tsr__free(cnt);
    return -1;
  }
  int sh[RADIX_MAXPASS];
  for (int d = 0; d < np; d++) sh[d] = lo + d * bits;
  for (size_t i = 0; i < n; i++) {
    const uint64_t x = k[i];
    for (int d = 0; d < np; d++) cnt[((size_t)d << bits) + ((x >> sh[d]) & mask)]++;
  }
  uint64_t *ks = k, *kd = k2;
  uint32_t *vs = v, *vd = v2;
  for (int d = 0; d < np; d++) {
    size_t *c = cnt + ((size_t)d << bits);
    const int s = sh[d];
    if (c[(ks[0] >> s) & mask] == n) continue; /* one digit value */
    size_t sum = 0;
    for (size_t b = 0; b < nb; b++) {
      size_t t = c[b];
      c[b] = sum;
      sum += t;
    }
    if (v) {
      for (size_t i = 0; i < n; i++) {
        const uint64_t x = ks[i];
        const size_t p = c[(x >> s) & mask]++;
        kd[p] = x;
        vd[p] = vs[i];
      }
    } else {
      for (size_t i = 0; i < n; i++) {
        const uint64_t x = ks[i];
        kd[c[(x >> s) & mask]++] = x;
      }
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
  tsr__free(k2), tsr__free(v2), tsr__free(cnt);
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
