/*
 * tsr_test.h - common includes and helpers of the unit tests (cmocka).
 */
#ifndef TSR_TEST_H
#define TSR_TEST_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>

#include <cmocka.h>

#include "tessera/tessera.h"

/* Asserts |a-b| <= tol, printing both values. */
#define assert_near(a, b, tol)                                                \
  do {                                                                        \
    double a_ = (a), b_ = (b), t_ = (tol);                                    \
    if (!(fabs(a_ - b_) <= t_)) {                                             \
      fail_msg("%s = %.10g, expected %s = %.10g (tolerance %g)", #a, a_, #b, \
               b_, t_);                                                       \
    }                                                                         \
  } while (0)

/* Path of a shared reference data file (../shared/data/...). */
static inline const char *tsr_test_data(const char *rel, char *buf, size_t cap) {
  const char *d = getenv("TSR_SHARED_DATA");
  if (!d || !*d) d = TSR_SHARED_DATA;
  snprintf(buf, cap, "%s/%s", d, rel);
  return buf;
}

/* Writes len bytes to a fresh temporary file; returns its path (static buf). */
static inline const char *tsr_test_tmpfile(const char *data, size_t len, char *path, size_t cap) {
  snprintf(path, cap, "/tmp/tsr_test_XXXXXX");
  int fd = mkstemp(path);
  if (fd < 0) return NULL;
  FILE *f = fdopen(fd, "wb");
  fwrite(data, 1, len, f);
  fclose(f);
  return path;
}
#endif
