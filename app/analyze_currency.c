/*
 * analyze_currency.c - the currency of a run's amounts (issue 10): the
 * code given with --currency, else the one code of the currency columns of
 * every input (transactions.csv of a bundle), else unknown. The report and
 * run.json label amounts with it ("amount units" when unknown).
 * docs/analyze.md "Currency".
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "tessera/analyze.h"
#include "tessera/ingest.h"
#include "tessera/report.h"

int tsr_currency_code_valid(const char *code) {
  if (!code) return 0;
  for (int i = 0; i < 3; i++)
    if (code[i] < 'A' || code[i] > 'Z') return 0;
  return code[3] == '\0';
}

/* What the currency column of one input holds. */
typedef enum { CUR_NONE, CUR_ONE, CUR_SEVERAL, CUR_BAD } cur_kind;

/* The currency column of input path as its ingest watched it (s):
 * CUR_NONE (no column, no value, or standard input), CUR_ONE (code),
 * CUR_SEVERAL (code and other), CUR_BAD (a value that is not a code, on
 * *bad_line). */
static cur_kind input_kind(const char *path, const tsr_ingest_stats *s, char code[4],
                           char other[4], int64_t *bad_line) {
  code[0] = other[0] = '\0';
  if (!s || !strcmp(path, "-") || !s->currency_col[0]) return CUR_NONE;
  memcpy(code, s->currency, 4);
  if (s->currency_bad_line > 0) {
    *bad_line = s->currency_bad_line;
    return CUR_BAD;
  }
  if (s->currency_other[0]) {
    memcpy(other, s->currency_other, 4);
    return CUR_SEVERAL;
  }
  return code[0] ? CUR_ONE : CUR_NONE;
}

/* Sets r->currency and r->currency_source; *warn gets a warning for the
 * event log ("" when none). TSR_EINVAL for a malformed o->currency.
 * in[i] is the ingest's report on o->inputs[i] (NULL: none was ingested):
 * each input's column is watched whole by its ingest (one code in every
 * non-empty row), and the inputs must agree: a file that mixes currencies, inputs with different
 * codes, or an input without a code beside one with a code are never
 * labelled with one of them (amount units, with a warning naming the
 * files). */
tsr_status tsr__analyze_currency(const tsr_analyze_opts *o, const tsr_ingest_stats *in_stats,
                                 tsr_analyze_result *r, char *warn, size_t cap, tsr_error *err) {
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
    switch (input_kind(in, in_stats ? &in_stats[i] : NULL, one, other, &line)) {
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
