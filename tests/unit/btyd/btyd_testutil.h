/*
 * btyd_testutil.h - helpers of the BTYD unit tests: a tiny numeric CSV
 * loader for the shared reference data (TSR_SHARED_DATA) and assertions
 * that print both values.
 */
#ifndef TSR_BTYD_TESTUTIL_H
#define TSR_BTYD_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "tessera/btyd.h"

/* Path of a file of the shared data folder (env var wins over the macro). */
static inline const char *tu_data(const char *rel) {
  static char buf[4096];
  const char *root = getenv("TSR_SHARED_DATA");
  if (!root || !*root) root = TSR_SHARED_DATA;
  snprintf(buf, sizeof buf, "%s/%s", root, rel);
  return buf;
}

/* Reads a numeric CSV with a header: ncol columns (the first ncol), rows
 * into *cols[c] (malloc'd). Non-numeric cells (ids) are parsed with strtod
 * too (ids here are numeric). Returns the number of rows. */
static inline size_t tu_read_csv(const char *path, size_t ncol, double **cols) {
  FILE *f = fopen(path, "r");
  char line[1024];
  size_t n = 0, cap = 1024;
  if (!f) {
    fail_msg("cannot open %s", path);
    return 0;
  }
  for (size_t c = 0; c < ncol; c++) cols[c] = malloc(cap * sizeof(double));
  if (!fgets(line, sizeof line, f)) {
    fclose(f);
    return 0;
  }
  while (fgets(line, sizeof line, f)) {
    if (n == cap) {
      cap *= 2;
      for (size_t c = 0; c < ncol; c++) cols[c] = realloc(cols[c], cap * sizeof(double));
    }
    char *p = line;
    for (size_t c = 0; c < ncol; c++) {
      cols[c][n] = strtod(p, &p);
      if (*p == ',') p++;
    }
    n++;
  }
  fclose(f);
  return n;
}

#define assert_close(got, want, reltol)                                      \
  do {                                                                       \
    double g_ = (got), w_ = (want);                                          \
    if (!(fabs(g_ - w_) <= (reltol) * fabs(w_)))                             \
      fail_msg("%s = %.10g, expected %.10g (rel. tol %g, rel. err %.3g)",     \
               #got, g_, w_, (double)(reltol), fabs(g_ - w_) / fabs(w_));     \
  } while (0)

#define assert_abs(got, want, abstol)                                        \
  do {                                                                       \
    double g_ = (got), w_ = (want);                                          \
    if (!(fabs(g_ - w_) <= (abstol)))                                        \
      fail_msg("%s = %.10g, expected %.10g (abs. tol %g)", #got, g_, w_,      \
               (double)(abstol));                                            \
  } while (0)

#define assert_ok(expr)                                                      \
  do {                                                                       \
    tsr_error e_;                                                            \
    tsr_error_clear(&e_);                                                    \
    tsr_status s_ = (expr);                                                  \
    (void)e_;                                                                \
    if (s_ != TSR_OK) fail_msg("%s returned %s", #expr, tsr_status_name(s_)); \
  } while (0)

/* The CDNOW 39-week calibration summary (weeks). */
typedef struct {
  size_t n;
  double *id, *x, *tx, *T;
} tu_cdnow;

static inline void tu_cdnow_load(tu_cdnow *c) {
  double *cols[4];
  c->n = tu_read_csv(tu_data("cdnow/cdnow_customers_summary.csv"), 4, cols);
  c->id = cols[0];
  c->x = cols[1];
  c->tx = cols[2];
  c->T = cols[3];
}
static inline void tu_cdnow_free(tu_cdnow *c) {
  free(c->id), free(c->x), free(c->tx), free(c->T);
}

#endif
