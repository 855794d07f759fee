/*
 * cluster_test_util.h - helpers shared by the clustering unit tests:
 * seeded Gaussian blobs and a reader of the CDNOW customer summary.
 */
#ifndef TSR_CLUSTER_TEST_UTIL_H
#define TSR_CLUSTER_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t tu_state;
static double tu_unif(void) {
  uint64_t z = (tu_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return ((double)(z >> 11) + 0.5) * 0x1.0p-53;
}
static double tu_norm(void) {
  return sqrt(-2 * log(tu_unif())) * cos(6.283185307179586 * tu_unif());
}

/* n points in d dims around k centres spaced `sep` apart (sd 1); truth in lab. */
__attribute__((unused)) static void tu_blobs(size_t n, size_t d, size_t k, double sep, uint64_t seed,
                     double *X, int *lab) {
  tu_state = seed;
  for (size_t i = 0; i < n; i++) {
    size_t c = i % k;
    lab[i] = (int)c;
    for (size_t j = 0; j < d; j++) {
      double center = (j == c % d ? sep : 0) * (double)(1 + c / d) +
                      (j == (c + 1) % d ? sep * 0.5 * (double)c : 0);
      X[i * d + j] = center + tu_norm();
    }
  }
}

/* Reads frequency, recency, T of cdnow_customers_summary.csv (ID,f,r,T). */
__attribute__((unused)) static size_t tu_cdnow(double **f, double **r, double **T) {
  char path[1024];
  const char *dir = getenv("TSR_SHARED_DATA");
  snprintf(path, sizeof path, "%s/cdnow/cdnow_customers_summary.csv",
           dir ? dir : TSR_SHARED_DATA);
  FILE *fp = fopen(path, "r");
  if (!fp) return 0;
  char line[256];
  size_t n = 0, cap = 4096;
  *f = malloc(cap * sizeof **f);
  *r = malloc(cap * sizeof **r);
  *T = malloc(cap * sizeof **T);
  if (!fgets(line, sizeof line, fp)) {
    fclose(fp);
    return 0;
  }
  while (fgets(line, sizeof line, fp) && n < cap) {
    char *p = strchr(line, ',');
    if (!p) continue;
    (*f)[n] = strtod(p + 1, &p);
    (*r)[n] = strtod(p + 1, &p);
    (*T)[n] = strtod(p + 1, &p);
    n++;
  }
  fclose(fp);
  return n;
}

#endif
