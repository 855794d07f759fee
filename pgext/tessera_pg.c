/*
 * tessera_pg.c - tessera inside PostgreSQL (CREATE EXTENSION tessera).
 *
 * Thin glue between PostgreSQL's function manager and libtessera: the
 * per-customer summary and the model fits run the same lib/ code as the
 * tessera command (tsr_summary_row_from_entries, tsr_btyd_fit, the
 * predictions), so the SQL results equal `tessera summary`, `fit` and
 * `predict`. Aggregate states are mergeable (combine, serialise,
 * deserialise), which makes the aggregates parallel safe and lets a
 * partitioned or sharded table compute them where the rows are.
 * docs/pg-extension.md describes the functions, the layout and the limits.
 */
#include "postgres.h"

#include <dlfcn.h>
#include <math.h>
#include <string.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "tessera/btyd.h"
#include "tessera/cluster.h"
#include "tessera/summary.h"

PG_MODULE_MAGIC;

/* jansson's json_object(), which libtessera calls under this name in the
 * module (see pgext/Makefile: the server has a json_object() too). The
 * pointer is looked up once per backend. */
typedef struct json_t json_t;
json_t *tsr_pg_json_object(void);
json_t *tsr_pg_json_object(void) {
  static json_t *(*real)(void) = NULL;
  if (!real) {
    void *h = dlopen("libjansson.so.4", RTLD_NOW | RTLD_LOCAL);
    if (h) real = (json_t * (*)(void)) dlsym(h, "json_object");
    if (!real) ereport(ERROR, (errmsg("tessera: cannot find jansson's json_object")));
  }
  return real();
}

/* Days between 1970-01-01 (tessera's day 0) and 2000-01-01 (PostgreSQL's). */
#define TSR_PG_EPOCH_DAYS 10957

static int32 ts_day(TimestampTz ts) {
  int64 q = ts / USECS_PER_DAY;
  if (ts % USECS_PER_DAY != 0 && ts < 0) q--;
  return (int32)(q + TSR_PG_EPOCH_DAYS);
}

static void raise_tsr(const tsr_error *err, const char *what) {
  ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                  errmsg("tessera: %s: %s%s%s", what, err->field[0] ? err->field : "",
                         err->field[0] ? ": " : "", err->msg)));
}

/* ================================================================ summary */

/* One transaction row of the state: its UTC day and amount. */
typedef struct sum_tx {
  int32 day;
  double amount;
} sum_tx;

/* The state of tessera_summary for one customer: the rows seen (merged by
 * day in the final function) and the window. Rows are kept as they come;
 * combine appends, so the result does not depend on the plan. */
typedef struct sum_state {
  int32 n, cap;
  int32 end_day, cal_day; /* cal_day = INT32_MIN: no calibration split */
  double period_days;     /* periods per output unit (--freq-multiplier) */
  int32 freq;             /* tsr_freq: D, W (Monday..Sunday) or M (calendar month) */
  int32 have_window;
  sum_tx *tx;
} sum_state;

static sum_state *sum_state_new(MemoryContext cx) {
  sum_state *s = MemoryContextAllocZero(cx, sizeof *s);
  s->cap = 8;
  s->tx = MemoryContextAlloc(cx, (Size)s->cap * sizeof *s->tx);
  s->cal_day = INT32_MIN;
  return s;
}

static void sum_state_push(sum_state *s, int32 day, double amount) {
  if (s->n == s->cap) {
    if (s->cap > (int32)(MaxAllocSize / sizeof *s->tx / 2))
      ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                      errmsg("tessera_summary: too many rows for one customer")));
    s->cap *= 2;
    s->tx = repalloc(s->tx, (Size)s->cap * sizeof *s->tx);
  }
  s->tx[s->n].day = day;
  s->tx[s->n].amount = amount;
  s->n++;
}

static void sum_state_window(sum_state *s, TimestampTz end, int32 freq, double period_days,
                             int has_cal, TimestampTz cal) {
  int32 e = ts_day(end), c = has_cal ? ts_day(cal) : INT32_MIN;
  if (!(period_days > 0) || !isfinite(period_days))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("tessera_summary: period_days: expected a number > 0, got %g",
                           period_days)));
  if (has_cal && c >= e)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("tessera_summary: calibration_end: expected a date before period_end")));
  if (s->have_window && (s->end_day != e || s->period_days != period_days || s->cal_day != c ||
                         s->freq != freq))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("tessera_summary: period_end, period, period_days and calibration_end "
                           "must be the same for every row of a group")));
  s->end_day = e;
  s->freq = freq;
  s->cal_day = c;
  s->period_days = period_days;
  s->have_window = 1;
}

static double amount_arg(FunctionCallInfo fcinfo, int i) {
  Oid t = get_fn_expr_argtype(fcinfo->flinfo, i);
  if (t == FLOAT8OID) return PG_GETARG_FLOAT8(i);
  return DatumGetFloat8(DirectFunctionCall1(numeric_float8, PG_GETARG_DATUM(i)));
}

/* The period argument ("char" 'D', 'W' or 'M') of the 0.3 variants. */
static int32 period_arg(FunctionCallInfo fcinfo, int i) {
  char p[2] = {PG_GETARG_CHAR(i), '\0'};
  tsr_freq f;
  if (tsr_freq_parse(p, &f) != TSR_OK)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("tessera_summary: period: expected 'D', 'W' or 'M', got '%s'", p)));
  return (int32)f;
}

/* The transition of every variant: (state, ts, amount, period_end, [period
 * text,] multiplier[, calibration_end]); with_period: the period argument
 * is present (else days). */
static Datum sum_transition(FunctionCallInfo fcinfo, int has_cal, int with_period) {
  MemoryContext agg;
  if (!AggCheckCallContext(fcinfo, &agg))
    ereport(ERROR, (errmsg("tessera_summary_sfunc called outside an aggregate")));
  sum_state *s = PG_ARGISNULL(0) ? sum_state_new(agg) : (sum_state *)PG_GETARG_POINTER(0);
  /* rows with a NULL timestamp or amount are skipped (documented) */
  if (PG_ARGISNULL(1) || PG_ARGISNULL(2)) PG_RETURN_POINTER(s);
  const int m = 4 + with_period; /* the multiplier's argument */
  for (int i = 3; i <= m + has_cal; i++)
    if (PG_ARGISNULL(i))
      ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                      errmsg("tessera_summary: period_end, period, period_days and "
                             "calibration_end must not be NULL")));
  double amount = amount_arg(fcinfo, 2);
  if (!isfinite(amount))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("tessera_summary: amount: expected a finite number")));
  sum_state_window(s, PG_GETARG_TIMESTAMPTZ(3), with_period ? period_arg(fcinfo, 4) : TSR_FREQ_D,
                   PG_GETARG_FLOAT8(m), has_cal, has_cal ? PG_GETARG_TIMESTAMPTZ(m + 1) : 0);
  sum_state_push(s, ts_day(PG_GETARG_TIMESTAMPTZ(1)), amount);
  PG_RETURN_POINTER(s);
}

PG_FUNCTION_INFO_V1(tessera_summary_sfunc);
Datum tessera_summary_sfunc(PG_FUNCTION_ARGS) { return sum_transition(fcinfo, 0, 0); }

PG_FUNCTION_INFO_V1(tessera_summary_cal_sfunc);
Datum tessera_summary_cal_sfunc(PG_FUNCTION_ARGS) { return sum_transition(fcinfo, 1, 0); }

/* 0.3: calendar periods, tessera_summary(ts, amount, period_end, period, multiplier[, cal]) */
PG_FUNCTION_INFO_V1(tessera_summary_period_sfunc);
Datum tessera_summary_period_sfunc(PG_FUNCTION_ARGS) { return sum_transition(fcinfo, 0, 1); }

PG_FUNCTION_INFO_V1(tessera_summary_period_cal_sfunc);
Datum tessera_summary_period_cal_sfunc(PG_FUNCTION_ARGS) { return sum_transition(fcinfo, 1, 1); }

PG_FUNCTION_INFO_V1(tessera_summary_combine);
Datum tessera_summary_combine(PG_FUNCTION_ARGS) {
  MemoryContext agg;
  if (!AggCheckCallContext(fcinfo, &agg))
    ereport(ERROR, (errmsg("tessera_summary_combine called outside an aggregate")));
  if (PG_ARGISNULL(1)) {
    if (PG_ARGISNULL(0)) PG_RETURN_NULL();
    PG_RETURN_POINTER(PG_GETARG_POINTER(0));
  }
  sum_state *b = (sum_state *)PG_GETARG_POINTER(1);
  sum_state *a = PG_ARGISNULL(0) ? sum_state_new(agg) : (sum_state *)PG_GETARG_POINTER(0);
  MemoryContext old = MemoryContextSwitchTo(agg);
  if (b->have_window) {
    if (a->have_window &&
        (a->end_day != b->end_day || a->period_days != b->period_days ||
         a->cal_day != b->cal_day || a->freq != b->freq))
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                      errmsg("tessera_summary: period_end, period, period_days and "
                             "calibration_end must be the same for every row of a group")));
    a->end_day = b->end_day;
    a->freq = b->freq;
    a->cal_day = b->cal_day;
    a->period_days = b->period_days;
    a->have_window = 1;
  }
  for (int32 i = 0; i < b->n; i++) sum_state_push(a, b->tx[i].day, b->tx[i].amount);
  MemoryContextSwitchTo(old);
  PG_RETURN_POINTER(a);
}

/* Serialised state: the header fields (n, end_day, cal_day, have_window,
 * freq, period_days) then n (day, amount) pairs. */
PG_FUNCTION_INFO_V1(tessera_summary_serial);
Datum tessera_summary_serial(PG_FUNCTION_ARGS) {
  sum_state *s = (sum_state *)PG_GETARG_POINTER(0);
  Size head = 5 * sizeof(int32) + sizeof(double);
  Size sz = head + (Size)s->n * (sizeof(int32) + sizeof(double));
  bytea *out = palloc(VARHDRSZ + sz);
  SET_VARSIZE(out, VARHDRSZ + sz);
  char *p = VARDATA(out);
  int32 h[5] = {s->n, s->end_day, s->cal_day, s->have_window, s->freq};
  memcpy(p, h, sizeof h);
  memcpy(p + sizeof h, &s->period_days, sizeof(double));
  p += head;
  for (int32 i = 0; i < s->n; i++) {
    memcpy(p, &s->tx[i].day, sizeof(int32));
    memcpy(p + sizeof(int32), &s->tx[i].amount, sizeof(double));
    p += sizeof(int32) + sizeof(double);
  }
  PG_RETURN_BYTEA_P(out);
}

PG_FUNCTION_INFO_V1(tessera_summary_deserial);
Datum tessera_summary_deserial(PG_FUNCTION_ARGS) {
  MemoryContext agg;
  if (!AggCheckCallContext(fcinfo, &agg))
    ereport(ERROR, (errmsg("tessera_summary_deserial called outside an aggregate")));
  bytea *in = PG_GETARG_BYTEA_PP(0);
  const char *p = VARDATA_ANY(in);
  Size len = VARSIZE_ANY_EXHDR(in);
  Size head = 5 * sizeof(int32) + sizeof(double);
  int32 h[5];
  if (len < head) ereport(ERROR, (errmsg("tessera_summary: corrupt state")));
  memcpy(h, p, sizeof h);
  if (h[0] < 0 || h[4] < TSR_FREQ_D || h[4] > TSR_FREQ_M ||
      len != head + (Size)h[0] * (sizeof(int32) + sizeof(double)))
    ereport(ERROR, (errmsg("tessera_summary: corrupt state")));
  sum_state *s = sum_state_new(agg);
  s->end_day = h[1];
  s->cal_day = h[2];
  s->have_window = h[3];
  s->freq = h[4];
  memcpy(&s->period_days, p + sizeof h, sizeof(double));
  p += head;
  for (int32 i = 0; i < h[0]; i++) {
    int32 d;
    double a;
    memcpy(&d, p, sizeof d);
    memcpy(&a, p + sizeof d, sizeof a);
    sum_state_push(s, d, a);
    p += sizeof d + sizeof a;
  }
  PG_RETURN_POINTER(s);
}

static int tx_cmp(const void *a, const void *b) {
  const sum_tx *x = a, *y = b;
  return (x->day > y->day) - (x->day < y->day);
}

/* The final function: rows merged into one entry per day (as the ledger
 * does), then tsr_summary_row_from_entries. NULL when the customer has no
 * purchase by the (calibration) end, as `tessera summary` leaves such
 * customers out. */
static Datum sum_final(FunctionCallInfo fcinfo, int split) {
  if (PG_ARGISNULL(0)) PG_RETURN_NULL();
  sum_state *s = (sum_state *)PG_GETARG_POINTER(0);
  if (!s->have_window || s->n == 0) PG_RETURN_NULL();
  sum_tx *tx = palloc((Size)s->n * sizeof *tx);
  memcpy(tx, s->tx, (Size)s->n * sizeof *tx);
  qsort(tx, (size_t)s->n, sizeof *tx, tx_cmp);
  tsr_ledger_entry *e = palloc0((Size)s->n * sizeof *e);
  size_t k = 0;
  for (int32 i = 0; i < s->n; i++) {
    if (k == 0 || e[k - 1].day != tx[i].day) e[k++].day = tx[i].day;
    tsr_ledger_entry *cur = &e[k - 1];
    if (tx[i].amount >= 0) {
      cur->ntx++;
      cur->amount += tx[i].amount;
    } else {
      cur->nrefund++;
      cur->refund += tx[i].amount;
    }
  }
  tsr_summary_opts o;
  tsr_summary_opts_init(&o);
  o.freq = (tsr_freq)s->freq;
  o.multiplier = s->period_days;
  o.cal_end_day = split ? s->cal_day : TSR_DAY_NONE;
  tsr_summary_row r;
  memset(&r, 0, sizeof r);
  if (!tsr_summary_row_from_entries(e, k, &o, s->end_day, &r)) PG_RETURN_NULL();
  TupleDesc td;
  if (get_call_result_type(fcinfo, NULL, &td) != TYPEFUNC_COMPOSITE)
    ereport(ERROR, (errmsg("tessera_summary: result type is not composite")));
  td = BlessTupleDesc(td);
  Datum v[7];
  bool nulls[7] = {0};
  v[0] = Float8GetDatum(r.frequency);
  v[1] = Float8GetDatum(r.recency);
  v[2] = Float8GetDatum(r.T);
  v[3] = Float8GetDatum(r.monetary_value);
  v[4] = Float8GetDatum(r.frequency_holdout);
  v[5] = Float8GetDatum(r.monetary_value_holdout);
  v[6] = Float8GetDatum(r.duration_holdout);
  if (td->natts != (split ? 7 : 4))
    ereport(ERROR, (errmsg("tessera_summary: unexpected result type")));
  PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(td, v, nulls)));
}

PG_FUNCTION_INFO_V1(tessera_summary_final);
Datum tessera_summary_final(PG_FUNCTION_ARGS) { return sum_final(fcinfo, 0); }

PG_FUNCTION_INFO_V1(tessera_summary_cal_final);
Datum tessera_summary_cal_final(PG_FUNCTION_ARGS) { return sum_final(fcinfo, 1); }

/* ==================================================================== fit */

/* The state of tessera_fit: the model and the histogram of distinct
 * (a, b, c) patterns with weights ((x, t_x, T), or (x, m_x, 0) for
 * Gamma-Gamma), compacted by sorting whenever the buffer fills. Mergeable:
 * combine appends and compacts; the final function fits on the patterns. */
typedef struct fit_pat {
  double a, b, c, w;
} fit_pat;

typedef struct fit_state {
  int32 kind; /* tsr_btyd_kind, -1 before the first row */
  int32 n, cap, compact_at;
  fit_pat *p;
} fit_state;

static int pat_cmp(const void *x, const void *y) {
  const fit_pat *a = x, *b = y;
  if (a->a != b->a) return a->a < b->a ? -1 : 1;
  if (a->b != b->b) return a->b < b->b ? -1 : 1;
  if (a->c != b->c) return a->c < b->c ? -1 : 1;
  return 0;
}

static void fit_compact(fit_state *s) {
  if (s->n < 2) return;
  qsort(s->p, (size_t)s->n, sizeof *s->p, pat_cmp);
  int32 k = 0;
  for (int32 i = 0; i < s->n; i++) {
    if (k > 0 && pat_cmp(&s->p[k - 1], &s->p[i]) == 0) s->p[k - 1].w += s->p[i].w;
    else s->p[k++] = s->p[i];
  }
  s->n = k;
}

static fit_state *fit_state_new(MemoryContext cx) {
  fit_state *s = MemoryContextAllocZero(cx, sizeof *s);
  s->kind = -1;
  s->cap = 1024;
  s->compact_at = s->cap;
  s->p = MemoryContextAlloc(cx, (Size)s->cap * sizeof *s->p);
  return s;
}

static void fit_push(fit_state *s, double a, double b, double c, double w) {
  if (s->n == s->compact_at) {
    fit_compact(s);
    if (s->n > s->cap / 2) { /* mostly distinct: grow */
      if (s->cap > (int32)(MaxAllocSize / sizeof *s->p / 2))
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("tessera_fit: too many distinct customer patterns")));
      s->cap *= 2;
      s->p = repalloc(s->p, (Size)s->cap * sizeof *s->p);
    }
    s->compact_at = s->cap;
  }
  s->p[s->n++] = (fit_pat){a, b, c, w};
}

static void fit_set_kind(fit_state *s, int32 kind) {
  if (s->kind >= 0 && s->kind != kind)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("tessera_fit: the model must be the same for every row")));
  s->kind = kind;
}

PG_FUNCTION_INFO_V1(tessera_fit_sfunc);
Datum tessera_fit_sfunc(PG_FUNCTION_ARGS) {
  MemoryContext agg;
  if (!AggCheckCallContext(fcinfo, &agg))
    ereport(ERROR, (errmsg("tessera_fit_sfunc called outside an aggregate")));
  fit_state *s = PG_ARGISNULL(0) ? fit_state_new(agg) : (fit_state *)PG_GETARG_POINTER(0);
  if (PG_ARGISNULL(1))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("tessera_fit: model is NULL")));
  if (s->kind < 0) {
    char *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
    tsr_btyd_kind k;
    tsr_error err;
    tsr_error_clear(&err);
    if (tsr_btyd_kind_parse(name, &k, &err)) raise_tsr(&err, "tessera_fit");
    fit_set_kind(s, (int32)k);
  }
  int nargs = PG_NARGS();
  for (int i = 2; i < nargs; i++)
    if (PG_ARGISNULL(i)) PG_RETURN_POINTER(s); /* rows with NULLs are skipped */
  MemoryContext old = MemoryContextSwitchTo(agg);
  if (s->kind == TSR_BTYD_GG) {
    /* (model, frequency, monetary_value): repeat customers with spend > 0 */
    if (nargs != 4)
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                      errmsg("tessera_fit: gg takes (model, frequency, monetary_value)")));
    double x = PG_GETARG_FLOAT8(2), m = PG_GETARG_FLOAT8(nargs - 1);
    if (x > 0 && m > 0) fit_push(s, x, m, 0, 1);
  } else {
    if (nargs < 5)
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                      errmsg("tessera_fit: %s needs frequency, recency and T",
                             tsr_btyd_kind_name((tsr_btyd_kind)s->kind))));
    fit_push(s, PG_GETARG_FLOAT8(2), PG_GETARG_FLOAT8(3), PG_GETARG_FLOAT8(4), 1);
  }
  MemoryContextSwitchTo(old);
  PG_RETURN_POINTER(s);
}

PG_FUNCTION_INFO_V1(tessera_fit_combine);
Datum tessera_fit_combine(PG_FUNCTION_ARGS) {
  MemoryContext agg;
  if (!AggCheckCallContext(fcinfo, &agg))
    ereport(ERROR, (errmsg("tessera_fit_combine called outside an aggregate")));
  if (PG_ARGISNULL(1)) {
    if (PG_ARGISNULL(0)) PG_RETURN_NULL();
    PG_RETURN_POINTER(PG_GETARG_POINTER(0));
  }
  fit_state *b = (fit_state *)PG_GETARG_POINTER(1);
  fit_state *a = PG_ARGISNULL(0) ? fit_state_new(agg) : (fit_state *)PG_GETARG_POINTER(0);
  if (b->kind >= 0) fit_set_kind(a, b->kind);
  MemoryContext old = MemoryContextSwitchTo(agg);
  for (int32 i = 0; i < b->n; i++) fit_push(a, b->p[i].a, b->p[i].b, b->p[i].c, b->p[i].w);
  MemoryContextSwitchTo(old);
  PG_RETURN_POINTER(a);
}

PG_FUNCTION_INFO_V1(tessera_fit_serial);
Datum tessera_fit_serial(PG_FUNCTION_ARGS) {
  fit_state *s = (fit_state *)PG_GETARG_POINTER(0);
  fit_compact(s);
  Size sz = 2 * sizeof(int32) + (Size)s->n * sizeof(fit_pat);
  bytea *out = palloc(VARHDRSZ + sz);
  SET_VARSIZE(out, VARHDRSZ + sz);
  int32 h[2] = {s->kind, s->n};
  memcpy(VARDATA(out), h, sizeof h);
  if (s->n) memcpy(VARDATA(out) + sizeof h, s->p, (Size)s->n * sizeof(fit_pat));
  PG_RETURN_BYTEA_P(out);
}

PG_FUNCTION_INFO_V1(tessera_fit_deserial);
Datum tessera_fit_deserial(PG_FUNCTION_ARGS) {
  MemoryContext agg;
  if (!AggCheckCallContext(fcinfo, &agg))
    ereport(ERROR, (errmsg("tessera_fit_deserial called outside an aggregate")));
  bytea *in = PG_GETARG_BYTEA_PP(0);
  Size len = VARSIZE_ANY_EXHDR(in);
  int32 h[2];
  if (len < sizeof h) ereport(ERROR, (errmsg("tessera_fit: corrupt state")));
  memcpy(h, VARDATA_ANY(in), sizeof h);
  if (h[1] < 0 || len != sizeof h + (Size)h[1] * sizeof(fit_pat))
    ereport(ERROR, (errmsg("tessera_fit: corrupt state")));
  fit_state *s = fit_state_new(agg);
  s->kind = h[0];
  MemoryContext old = MemoryContextSwitchTo(agg);
  const char *p = VARDATA_ANY(in) + sizeof h;
  for (int32 i = 0; i < h[1]; i++) {
    fit_pat q;
    memcpy(&q, p + (Size)i * sizeof q, sizeof q);
    fit_push(s, q.a, q.b, q.c, q.w);
  }
  MemoryContextSwitchTo(old);
  PG_RETURN_POINTER(s);
}

/* The fit on the pattern histogram; returns the model JSON of
 * `tessera fit` (text of the json type, key order kept). */
PG_FUNCTION_INFO_V1(tessera_fit_final);
Datum tessera_fit_final(PG_FUNCTION_ARGS) {
  if (PG_ARGISNULL(0)) PG_RETURN_NULL();
  fit_state *s = (fit_state *)PG_GETARG_POINTER(0);
  if (s->kind < 0) PG_RETURN_NULL();
  fit_compact(s);
  if (s->n == 0)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("tessera_fit: no customers to fit%s",
                           s->kind == TSR_BTYD_GG ? " (Gamma-Gamma needs repeat customers with "
                                                    "monetary_value > 0)"
                                                  : "")));
  size_t n = (size_t)s->n;
  double *a = palloc(n * sizeof *a), *b = palloc(n * sizeof *b), *c = palloc(n * sizeof *c),
         *w = palloc(n * sizeof *w);
  for (size_t i = 0; i < n; i++) {
    a[i] = s->p[i].a;
    b[i] = s->p[i].b;
    c[i] = s->p[i].c;
    w[i] = s->p[i].w;
  }
  tsr_btyd_data d;
  if (s->kind == TSR_BTYD_GG) d = (tsr_btyd_data){n, a, NULL, NULL, b, w};
  else d = (tsr_btyd_data){n, a, b, c, NULL, w};
  tsr_btyd_fit_opts fo;
  tsr_btyd_fit_opts_init(&fo);
  tsr_btyd_model m;
  tsr_error err;
  tsr_error_clear(&err);
  if (tsr_btyd_fit((tsr_btyd_kind)s->kind, &d, &fo, &m, &err)) raise_tsr(&err, "tessera_fit");
  char *js = NULL;
  if (tsr_btyd_model_to_json(&m, &js, &err)) raise_tsr(&err, "tessera_fit");
  text *t = cstring_to_text(js);
  free(js);
  PG_RETURN_TEXT_P(t);
}

/* ================================================================ scoring */

/* A parsed model cached in fn_extra for as long as the model text of the
 * call stays the same (one parse per query, not per row). */
typedef struct model_cache {
  char *text;
  Size len;
  tsr_btyd_model m;
} model_cache;

static const tsr_btyd_model *model_arg(FunctionCallInfo fcinfo, int i, int slot) {
  text *t = PG_GETARG_TEXT_PP(i);
  const char *p = VARDATA_ANY(t);
  Size len = VARSIZE_ANY_EXHDR(t);
  model_cache *cache = fcinfo->flinfo->fn_extra;
  if (!cache) {
    cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, 2 * sizeof *cache);
    fcinfo->flinfo->fn_extra = cache;
  }
  model_cache *c = &cache[slot];
  if (c->text && c->len == len && memcmp(c->text, p, len) == 0) return &c->m;
  tsr_error err;
  tsr_error_clear(&err);
  tsr_btyd_model m;
  if (tsr_btyd_model_from_json(p, len, "model", &m, &err)) raise_tsr(&err, "model");
  if (c->text) pfree(c->text);
  c->text = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, len ? len : 1);
  memcpy(c->text, p, len);
  c->len = len;
  c->m = m;
  return &c->m;
}

static void check_purchase_model(const tsr_btyd_model *m, const char *fn) {
  if (tsr_btyd_kind_role(m->kind) == TSR_MODEL_SPEND)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("%s: expected a purchase model (%s), got %s", fn,
                           tsr_btyd_role_names(TSR_MODEL_PURCHASE), tsr_btyd_kind_name(m->kind))));
}

PG_FUNCTION_INFO_V1(tessera_p_alive);
Datum tessera_p_alive(PG_FUNCTION_ARGS) {
  const tsr_btyd_model *m = model_arg(fcinfo, 0, 0);
  check_purchase_model(m, "tessera_p_alive");
  double pa;
  tsr_error err;
  tsr_error_clear(&err);
  if (tsr_btyd_conditional(m, PG_GETARG_FLOAT8(1), PG_GETARG_FLOAT8(2), PG_GETARG_FLOAT8(3), 0,
                           NULL, &pa, &err))
    raise_tsr(&err, "tessera_p_alive");
  PG_RETURN_FLOAT8(pa);
}

PG_FUNCTION_INFO_V1(tessera_expected_purchases);
Datum tessera_expected_purchases(PG_FUNCTION_ARGS) {
  const tsr_btyd_model *m = model_arg(fcinfo, 0, 0);
  check_purchase_model(m, "tessera_expected_purchases");
  double ex;
  tsr_error err;
  tsr_error_clear(&err);
  if (tsr_btyd_conditional(m, PG_GETARG_FLOAT8(2), PG_GETARG_FLOAT8(3), PG_GETARG_FLOAT8(4),
                           PG_GETARG_FLOAT8(1), &ex, NULL, &err))
    raise_tsr(&err, "tessera_expected_purchases");
  PG_RETURN_FLOAT8(ex);
}

/* tessera_clv(model, spend_model, frequency, recency, T, monetary_value,
 * horizon, discount, step): tsr_clv_compute for one customer. */
PG_FUNCTION_INFO_V1(tessera_clv);
Datum tessera_clv(PG_FUNCTION_ARGS) {
  const tsr_btyd_model *m = model_arg(fcinfo, 0, 0);
  const tsr_btyd_model *gg = model_arg(fcinfo, 1, 1);
  check_purchase_model(m, "tessera_clv");
  if (gg->kind != TSR_BTYD_GG)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("tessera_clv: spend_model: expected a gg model, got %s",
                           tsr_btyd_kind_name(gg->kind))));
  double x = PG_GETARG_FLOAT8(2), tx = PG_GETARG_FLOAT8(3), T = PG_GETARG_FLOAT8(4),
         mx = PG_GETARG_FLOAT8(5);
  tsr_clv_opts o = {PG_GETARG_FLOAT8(6), PG_GETARG_FLOAT8(8), PG_GETARG_FLOAT8(7), 0.95};
  tsr_btyd_data d = {1, &x, &tx, &T, &mx, NULL};
  double clv;
  tsr_error err;
  tsr_error_clear(&err);
  if (tsr_clv_compute(m, gg, &d, &o, &clv, NULL, NULL, &err)) raise_tsr(&err, "tessera_clv");
  PG_RETURN_FLOAT8(clv);
}

/* tessera_rfm_score(value, cuts float8[], reverse bool): 1 + the number of
 * cut points below the value (quintile scores from stored cut points;
 * reverse for recency gaps, where smaller is better). */
PG_FUNCTION_INFO_V1(tessera_rfm_score);
Datum tessera_rfm_score(PG_FUNCTION_ARGS) {
  double v = PG_GETARG_FLOAT8(0);
  ArrayType *arr = PG_GETARG_ARRAYTYPE_P(1);
  bool reverse = PG_GETARG_BOOL(2);
  Datum *el;
  bool *nulls;
  int n;
  if (ARR_ELEMTYPE(arr) != FLOAT8OID) ereport(ERROR, (errmsg("tessera_rfm_score: cuts: float8[]")));
  deconstruct_array(arr, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &el, &nulls, &n);
  int below = 0;
  for (int i = 0; i < n; i++)
    if (!nulls[i] && v > DatumGetFloat8(el[i])) below++;
  int score = 1 + below;
  if (reverse) score = n + 1 - below;
  PG_RETURN_INT32(score);
}

/* tessera_cluster(model json, names text[], values float8[]): the cluster of
 * one customer by the stored model (nearest centre, most probable
 * component, or DBSCAN's nearest core point / -1). */
typedef struct cluster_cache {
  char *text;
  Size len;
  tsr_cluster_model *m;
} cluster_cache;

static void cluster_cache_free(void *arg) {
  cluster_cache *c = arg;
  if (c->m) tsr_cluster_model_free(c->m);
  c->m = NULL;
}

PG_FUNCTION_INFO_V1(tessera_cluster);
Datum tessera_cluster(PG_FUNCTION_ARGS) {
  text *t = PG_GETARG_TEXT_PP(0);
  const char *p = VARDATA_ANY(t);
  Size len = VARSIZE_ANY_EXHDR(t);
  cluster_cache *c = fcinfo->flinfo->fn_extra;
  if (!c) {
    c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof *c);
    MemoryContextCallback *cb = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof *cb);
    cb->func = cluster_cache_free;
    cb->arg = c;
    MemoryContextRegisterResetCallback(fcinfo->flinfo->fn_mcxt, cb);
    fcinfo->flinfo->fn_extra = c;
  }
  if (!c->m || c->len != len || memcmp(c->text, p, len) != 0) {
    tsr_error err;
    tsr_error_clear(&err);
    tsr_cluster_model *m = NULL;
    if (tsr_cluster_model_from_json(p, len, "model", &m, &err)) raise_tsr(&err, "tessera_cluster");
    if (c->m) tsr_cluster_model_free(c->m);
    if (c->text) pfree(c->text);
    c->m = m;
    c->text = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, len ? len : 1);
    memcpy(c->text, p, len);
    c->len = len;
  }
  ArrayType *na = PG_GETARG_ARRAYTYPE_P(1), *va = PG_GETARG_ARRAYTYPE_P(2);
  Datum *nd, *vd;
  bool *nn, *vn;
  int nnames, nvals;
  deconstruct_array(na, TEXTOID, -1, false, TYPALIGN_INT, &nd, &nn, &nnames);
  deconstruct_array(va, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &vd, &vn, &nvals);
  if (nnames != nvals)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("tessera_cluster: expected as many values as names, got %d and %d",
                           nvals, nnames)));
  const char **names = palloc(sizeof(char *) * (Size)(nnames ? nnames : 1));
  double *vals = palloc(sizeof(double) * (Size)(nvals ? nvals : 1));
  const double **cols = palloc(sizeof(double *) * (Size)(nvals ? nvals : 1));
  for (int i = 0; i < nnames; i++) {
    if (nn[i] || vn[i]) PG_RETURN_NULL();
    names[i] = TextDatumGetCString(nd[i]);
    vals[i] = DatumGetFloat8(vd[i]);
    cols[i] = &vals[i];
  }
  int label = -1;
  tsr_error err;
  tsr_error_clear(&err);
  if (tsr_cluster_model_assign(c->m, cols, names, 1, (size_t)nnames, &label, NULL, &err))
    raise_tsr(&err, "tessera_cluster");
  PG_RETURN_INT32(label);
}
