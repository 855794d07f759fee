/*
 * analyze_currency.c - the currency of a run's amounts (issue 10): the
 * code given with --currency, else the one code of a currency column of the
 * first input (transactions.csv of a bundle), else unknown. The report and
 * run.json label amounts with it ("amount units" when unknown).
 * docs/analyze.md "Currency".
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "tessera/analyze.h"
#include "tessera/csv.h"
#include "tessera/report.h"

int tsr_currency_code_valid(const char *code) {
  if (!code) return 0;
  for (int i = 0; i < 3; i++)
    if (code[i] < 'A' || code[i] > 'Z') return 0;
  return code[3] == '\0';
}

/* Column names taken as the currency column (case-insensitive), as the
 * bundle reader's aliases (lib/bundle/bundle.c). */
static int is_currency_name(const char *s, size_t n) {
  static const char *const names[] = {"currency", "ccy", "currencycode", "currency_code"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strlen(names[i]) == n && !strncasecmp(s, names[i], n)) return 1;
  return 0;
}

tsr_status tsr__analyze_currency(const tsr_analyze_opts *o, tsr_analyze_result *r, char *warn,
                                 size_t cap, tsr_error *err);

/* Sets r->currency and r->currency_source; *warn gets a warning for the
 * event log ("" when none). TSR_EINVAL for a malformed o->currency. The
 * column is read whole (one code in every non-empty row), so a file that
 * mixes currencies is never labelled with one of them. */
tsr_status tsr__analyze_currency(const tsr_analyze_opts *o, tsr_analyze_result *r, char *warn,
                                 size_t cap, tsr_error *err) {
  if (cap) warn[0] = '\0';
  r->currency[0] = '\0';
  r->currency_source = NULL;
  if (o->currency && o->currency[0]) {
    if (!tsr_currency_code_valid(o->currency))
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "currency",
                           "expected a three-letter ISO 4217 code such as EUR, got '%.32s'",
                           o->currency);
    memcpy(r->currency, o->currency, 4);
    r->currency_source = "option";
    return TSR_OK;
  }
  if (!o->inputs || o->n_inputs == 0 || !strcmp(o->inputs[0], "-")) return TSR_OK;
  tsr_csv *c = NULL;
  if (tsr_csv_open(o->inputs[0], &o->ingest.csv, &c, NULL) != TSR_OK) return TSR_OK;
  tsr_csv_record rec;
  size_t col = (size_t)-1;
  if (tsr_csv_next(c, &rec, NULL) == TSR_OK)
    for (size_t j = 0; j < rec.nfields; j++)
      if (is_currency_name(rec.fields[j].ptr, rec.fields[j].len)) {
        col = j;
        break;
      }
  char code[4] = "", other[4] = "";
  int bad = 0;
  int64_t bad_line = 0;
  tsr_status st;
  while (col != (size_t)-1 && !other[0] && (st = tsr_csv_next(c, &rec, NULL)) != TSR_ENOTFOUND) {
    if (st != TSR_OK) {
      if (st == TSR_EIO) break;
      continue; /* a malformed row is the ingest's to reject */
    }
    if (col >= rec.nfields) continue;
    const char *v = rec.fields[col].ptr;
    size_t n = rec.fields[col].len;
    while (n && (*v == ' ' || *v == '\t')) v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r')) n--;
    if (n == 0) continue;
    char one[4] = "";
    if (n == 3) {
      for (int i = 0; i < 3; i++) one[i] = (char)(v[i] >= 'a' && v[i] <= 'z' ? v[i] - 32 : v[i]);
      one[3] = '\0';
    }
    if (!tsr_currency_code_valid(one)) {
      bad = 1;
      bad_line = rec.line;
      break;
    }
    if (!code[0]) memcpy(code, one, 4);
    else if (strcmp(code, one) != 0) memcpy(other, one, 4);
  }
  tsr_csv_close(c);
  if (col == (size_t)-1) return TSR_OK;
  if (bad)
    snprintf(warn, cap, "%s:%lld: the currency column holds a value that is not a three-letter "
             "code: amounts are shown in amount units (give --currency CODE)", o->inputs[0],
             (long long)bad_line);
  else if (other[0])
    snprintf(warn, cap, "%s: the currency column holds several codes (%s, %s, ...): the amounts "
             "are added as they are and shown in amount units; convert them to one currency",
             o->inputs[0], code, other);
  else if (code[0]) {
    memcpy(r->currency, code, 4);
    r->currency_source = "column";
  }
  return TSR_OK;
}
