/*
 * dateguess.c - the --date-format suggestion: which common strptime-style
 * format reads a sample of dates the built-in forms rejected.
 */
#include <string.h>

#include "tessera/datetime.h"

/* Day-first and month-first pairs are adjacent (even index: day-first). */
static const char *const FORMATS[] = {
    "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%m.%d.%Y", "%d-%m-%Y", "%m-%d-%Y",
    "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S",
    "%d.%m.%Y %H:%M", "%m.%d.%Y %H:%M", "%d/%m/%y", "%m/%d/%y", "%d.%m.%y", "%m.%d.%y",
    "%d-%m-%y", "%m-%d-%y", "%d %b %Y", "%b %d %Y", "%d %B %Y", "%B %d, %Y",
    "%d-%b-%Y", "%b %d, %Y", "%Y/%m/%d", "%Y/%d/%m", "%Y.%m.%d", "%Y.%d.%m",
    NULL, NULL};

static int reads_all(const char *fmt, const char *const *v, size_t n) {
  size_t ok = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t t;
    if (!v[i]) continue;
    if (tsr_datetime_parse(v[i], strlen(v[i]), fmt, &t) != TSR_OK) return 0;
    ok++;
  }
  return ok > 0;
}

const char *tsr_datetime_guess_format(const char *const *values, size_t n, int *ambiguous) {
  if (ambiguous) *ambiguous = 0;
  for (size_t k = 0; FORMATS[k]; k += 2) {
    int a = reads_all(FORMATS[k], values, n);
    int b = FORMATS[k + 1] && reads_all(FORMATS[k + 1], values, n);
    if (a && b && ambiguous) *ambiguous = 1;
    if (a) return FORMATS[k];
    if (b) return FORMATS[k + 1];
  }
  return NULL;
}
