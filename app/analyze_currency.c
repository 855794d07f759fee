/*
 * analyze_currency.c - the currency of a run's amounts (issue 10): the
 * code given with --currency, else the one code of the currency columns of
 * every input (transactions.csv of a bundle), else unknown. The report and
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

/* What the currency column of one input holds. */
typedef enum { CUR_NONE, CUR_ONE, CUR_SEVERAL, CUR_BAD } cur_kind;

/* Reads the currency column of file path whole: CUR_NONE (no column, no
 * value, or unreadable: the ingest reports that), CUR_ONE (code), CUR_SEVERAL
 * (code and other), CUR_BAD (a value that is not a code, on *bad_line). */
static cur_kind scan_file(const char *path, const tsr_csv_opts *co, char code[4], char other[4],
                          int64_t *bad_line) {
  code[0] = other[0] = '\0';
  tsr_csv *c = NULL;
  if (!strcmp(path, "-") || tsr_csv_open(path, co, &c, NULL) != TSR_OK) return CUR_NONE;
  tsr_csv_record rec;
  size_t col = (size_t)-1;
  if (tsr_csv_next(c, &rec, NULL) == TSR_OK)
    for (size_t j = 0; j < rec.nfields; j++)
      if (is_currency_name(rec.fields[j].ptr, rec.fields[j].len)) {
        col = j;
        break;
      }
  cur_kind k = CUR_NONE;
  tsr_status st;
  while (col != (size_t)-1 && k < CUR_SEVERAL && (st = tsr_csv_next(c, &rec, NULL)) != TSR_ENOTFOUND) {
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
      *bad_line = rec.line;
      k = CUR_BAD;
    } else if (!code[0]) {
      memcpy(code, one, 4);
      k = CUR_ONE;
    } else if (strcmp(code, one) != 0) {
      memcpy(other, one, 4);
      k = CUR_SEVERAL;
    }
  }
  tsr_csv_close(c);
  return k;
}

/* Sets r->currency and r->currency_source; *warn gets a warning for the
 * event log ("" when none). TSR_EINVAL for a malformed o->currency. Each
 * input's column is read whole (one code in every non-empty row), and the
 * inputs must agree: a file that mixes currencies, inputs with different
 * codes, or an input without a code beside one with a code are never
 * labelled with one of them (amount units, with a warning naming the
 * files). */
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
  if (!o->inputs || o->indb_table) return TSR_OK;
  char code[4] = "";
  const char *with = NULL, *without = NULL; /* an input with the code, one without any */
  for (size_t i = 0; i < o->n_inputs; i++) {
    const char *in = o->inputs[i];
    char one[4], other[4];
    int64_t line = 0;
    switch (scan_file(in, &o->ingest.csv, one, other, &line)) {
      case CUR_NONE:
        if (!without) without = in;
        continue;
      case CUR_BAD:
        snprintf(warn, cap, "%s:%lld: the currency column holds a value that is not a "
                 "three-letter code: amounts are shown in amount units (give --currency CODE)",
                 in, (long long)line);
        return TSR_OK;
      case CUR_SEVERAL:
        snprintf(warn, cap, "%s: the currency column holds several codes (%s, %s, ...): the "
                 "amounts are added as they are and shown in amount units; convert them to one "
                 "currency", in, one, other);
        return TSR_OK;
      case CUR_ONE:
        if (!with) {
          memcpy(code, one, 4);
          with = in;
        } else if (strcmp(code, one) != 0) {
          snprintf(warn, cap, "the inputs disagree on the currency (%s: %s, %s: %s): the amounts "
                   "are added as they are and shown in amount units; convert them to one "
                   "currency", with, code, in, one);
          return TSR_OK;
        }
    }
  }
  if (with && without) {
    snprintf(warn, cap, "%s has no currency code while %s is in %s: the amounts are shown in "
             "amount units (give --currency CODE when all inputs share one)", without, with, code);
  } else if (with) {
    memcpy(r->currency, code, 4);
    r->currency_source = "column";
  }
  return TSR_OK;
}
