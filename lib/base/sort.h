/*
 * sort.h - orderings of large numeric arrays (lib/base/sort.c). Not public
 * API.
 */
#ifndef TSR_SORT_H
#define TSR_SORT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The radix key of the finite double v: unsigned keys ascend as the
 * values do (the sign bit flipped for positives, every bit for
 * negatives); -0.0 has 0.0's key, so equal values have equal keys. */
static inline uint64_t tsr__key_f64(double v) {
  uint64_t u;
  if (v == 0) v = 0;
  memcpy(&u, &v, sizeof u);
  return (u >> 63) ? ~u : u | ((uint64_t)1 << 63);
}

/* Sorts k[0..n) ascending by a stable LSD radix sort (digits of up to 11
 * bits over the bits where the keys differ; a digit equal in every key is
 * skipped), moving v[i] (when v is not NULL)
 * with k[i]. 0, or -1 when out of memory (k and v unchanged). */
int tsr__radix_sort_u64(uint64_t *k, uint32_t *v, size_t n);

/* The stable ascending order of x[0..n): order[k] = the index of the k-th
 * smallest value, equal values in index order (-0.0 equals 0.0), as a sort
 * by (value, index) gives. The values must be finite (not NaN or
 * infinite). An LSD radix sort on the order-preserving 64-bit keys
 * (digits equal in every key are skipped). 0, or -1 when out of memory or
 * n > UINT32_MAX. */
int tsr__order_f64(const double *x, size_t n, uint32_t *order);

#endif
