/*
 * textout.c - the one CSV field writer and the one shortest-double form of
 * every output (tessera/csv.h, "writing").
 */
#include <string.h>

#include "internal.h"
#include "tessera/csv.h"

char *tsr_format_double(double d, char *buf) { return tsr__fmt_double(d, buf); }

/* The field rule, written as spans through put: s as is, or quoted with
 * inner quotes doubled (and a leading ' before a formula start with
 * TSR_CSV_FORMULA_GUARD). */
static void csv_field(const char *s, unsigned flags, void (*put)(void *, const char *, size_t),
                      void *ctx) {
  if (!s) return;
  int formula = (flags & TSR_CSV_FORMULA_GUARD) && s[0] && strchr("=+-@\t\r", s[0]);
  size_t n = tsr__csv_plain_span(s); /* strcspn without its set-up for a short id */
  if (!s[n] && !formula) {
    put(ctx, s, n);
    return;
  }
  put(ctx, formula ? "\"'" : "\"", formula ? 2 : 1);
  for (;;) {
    size_t k = strcspn(s, "\"");
    put(ctx, s, k);
    if (!s[k]) break;
    put(ctx, "\"\"", 2);
    s += k + 1;
  }
  put(ctx, "\"", 1);
}

static void put_mem(void *ctx, const char *s, size_t n) {
  char **o = ctx;
  memcpy(*o, s, n);
  *o += n;
}

static void put_file(void *ctx, const char *s, size_t n) {
  if (n) fwrite(s, 1, n, (FILE *)ctx);
}

size_t tsr_csv_quote(char *out, const char *s, unsigned flags) {
  char *o = out;
  csv_field(s, flags, put_mem, &o);
  return (size_t)(o - out);
}

void tsr_csv_put_field(FILE *f, const char *s) { csv_field(s, 0, put_file, f); }
