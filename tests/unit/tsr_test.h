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

/* Path of a reference data file: $TSR_SHARED_DATA (default tests/data, the
 * small public files kept in the repository), then ../shared/data beside the
 * checkout (larger outside files). A test whose file is in neither place is
 * skipped with a message naming the file. */
static inline const char *tsr__test_data_find(const char *rel, char *buf, size_t cap) {
  const char *d = getenv("TSR_SHARED_DATA");
  if (!d || !*d) d = TSR_SHARED_DATA;
  snprintf(buf, cap, "%s/%s", d, rel);
  if (access(buf, R_OK) == 0) return buf;
  snprintf(buf, cap, "%s/../shared/data/%s", TSR_SOURCE_DIR, rel);
  if (access(buf, R_OK) == 0) return buf;
  return NULL;
}
#define tsr_test_data(rel, buf, cap)                                                      \
  (tsr__test_data_find((rel), (buf), (cap))                                              \
       ? (const char *)(buf)                                                              \
       : (print_message("skipped: needs the outside data file %s ($TSR_SHARED_DATA or "  \
                        "../shared/data)\n", (rel)),                                      \
          skip(), (const char *)(buf)))

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
