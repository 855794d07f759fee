/*
 * columns.c - the one column resolver (tessera/csv.h, tsr_csv_column_find):
 * a column given by name or by 1-based number, as ingestion, the API and
 * the web jobs read it.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tessera/csv.h"

/* s without punctuation or spaces, lower case ("Customer ID" ->
 * "customerid"), cut at cap - 1 bytes (internal.h: also the bundle's). */
void tsr__norm_name(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n && o + 1 < cap; i++) {
    unsigned char c = (unsigned char)s[i];
    if (isalnum(c)) out[o++] = (char)tolower(c);
  }
  out[o] = '\0';
}

ptrdiff_t tsr_csv_column_find(const tsr_csv_record *hdr, size_t nfields, const char *spec,
                              size_t *second) {
  if (!spec || !*spec) return -1;
  ptrdiff_t found = -1;
  char ns[64];
  tsr__norm_name(spec, strlen(spec), ns, sizeof ns);
  for (size_t k = 0; hdr && *ns && k < hdr->nfields; k++) {
    char nh[64];
    tsr__norm_name(hdr->fields[k].ptr, hdr->fields[k].len, nh, sizeof nh);
    if (strcmp(nh, ns) != 0) continue;
    if (found >= 0) {
      if (second) *second = k;
      return -2;
    }
    found = (ptrdiff_t)k;
  }
  if (found >= 0) return found;
  /* a name of punctuation only ("#") matches byte for byte */
  for (size_t k = 0; hdr && k < hdr->nfields; k++)
    if (hdr->fields[k].len == strlen(spec) && !memcmp(hdr->fields[k].ptr, spec, hdr->fields[k].len))
      return (ptrdiff_t)k;
  char *end;
  long v = strtol(spec, &end, 10);
  if (*end == '\0' && v >= 1 && (size_t)v <= (hdr ? hdr->nfields : nfields)) return (ptrdiff_t)(v - 1);
  return -1;
}
