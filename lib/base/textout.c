/*
 * textout.c - the one CSV field writer and the one shortest-double form of
 * every output (tessera/csv.h, "writing").
 */
#include <string.h>

#include "internal.h"
#include "tessera/csv.h"

char *tsr_format_double(double d, char *buf) { return tsr__fmt_double(d, buf); }

size_t tsr_csv_quote(char *out, const char *s) {
  if (!s) return 0;
  size_t n = strcspn(s, ",\"\r\n");
  if (!s[n]) {
    memcpy(out, s, n);
    return n;
  }
  char *o = out;
  *o++ = '"';
  for (; *s; s++) {
    if (*s == '"') *o++ = '"';
    *o++ = *s;
  }
  *o++ = '"';
  return (size_t)(o - out);
}

void tsr_csv_put_field(FILE *f, const char *s) {
  if (!s) return;
  if (!s[strcspn(s, ",\"\r\n")]) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}
