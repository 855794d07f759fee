/*
 * analyze_rows.c - the summary's rows as the analysis reads them: a view
 * of tsr_summary_row's, or compact rows (design: app/analyze_rows.h).
 */
#include "analyze_rows.h"

#include <stddef.h>
#include <stdlib.h>

/* After a compact row: with a split, its frequency_holdout,
 * monetary_value_holdout, duration_holdout and revenue_cal; then, when
 * kept, its refund_amount (doubles). */
#define CROW_HO 4

static const double zero = 0.0;

void tsr__arows_full(tsr__arows *a, const tsr_summary *s) {
  static const size_t off[TSR__AR_NCOL] = {offsetof(tsr_summary_row, frequency),
                                           offsetof(tsr_summary_row, recency),
                                           offsetof(tsr_summary_row, T),
                                           offsetof(tsr_summary_row, monetary_value),
                                           offsetof(tsr_summary_row, revenue),
                                           offsetof(tsr_summary_row, frequency_holdout),
                                           offsetof(tsr_summary_row, monetary_value_holdout),
                                           offsetof(tsr_summary_row, duration_holdout),
                                           offsetof(tsr_summary_row, revenue_cal),
                                           offsetof(tsr_summary_row, refund_amount)};
  memset(a, 0, sizeof *a);
  a->n = s->n;
  a->base = (char *)s->rows;
  a->stride = sizeof(tsr_summary_row);
  for (int c = 0; c < TSR__AR_NCOL; c++) {
    a->cb[c] = a->base ? a->base + off[c] : (const char *)&zero;
    a->cs[c] = a->base ? a->stride : 0;
  }
}

void tsr__arows_begin(tsr__arows *a, int holdout, int refunds) {
  memset(a, 0, sizeof *a);
  a->compact = 1;
  a->holdout = holdout;
  a->refunds = refunds;
  a->stride =
      sizeof(tsr__crow) + (size_t)((holdout ? CROW_HO : 0) + (refunds ? 1 : 0)) * sizeof(double);
}

size_t tsr__arows_elem(const tsr__arows *a) { return a->stride; }

/* A count in 32 bits, UINT32_MAX when it does not fit (the side list has it). */
static uint32_t count32(int64_t v, int *wide) {
  if (v >= 0 && v < (int64_t)UINT32_MAX) return (uint32_t)v;
  *wide = 1;
  return UINT32_MAX;
}

void tsr__arows_put(void *ud, void *slot, const tsr_summary_row *r) {
  tsr__arows *a = ud;
  tsr__crow c;
  int wide = 0;
  c.customer_id = r->customer_id;
  c.frequency = r->frequency;
  c.recency = r->recency;
  c.T = r->T;
  c.monetary_value = r->monetary_value;
  c.revenue = r->revenue;
  c.first_day = (int32_t)r->first_day; /* the ledger's days are 32-bit */
  c.last_day = (int32_t)r->last_day;
  c.n_transactions = count32(r->n_transactions, &wide);
  c.active_days = count32(r->active_days, &wide);
  c.n_refunds = count32(r->n_refunds, &wide);
  if (wide) {
    c.n_transactions = c.active_days = c.n_refunds = UINT32_MAX;
    if (a->nwide == a->wide_cap) {
      size_t cap = a->wide_cap ? 2 * a->wide_cap : 8;
      tsr__crow_wide *w = tsr__realloc(a->wide, cap * sizeof *w);
      if (!w) {
        a->oom = 1;
        return;
      }
      a->wide = w;
      a->wide_cap = cap;
    }
    a->wide[a->nwide++] =
        (tsr__crow_wide){0, r->customer_id, r->n_transactions, r->active_days, r->n_refunds};
  }
  memcpy(slot, &c, sizeof c);
  double v[CROW_HO + 1] = {r->frequency_holdout, r->monetary_value_holdout, r->duration_holdout,
                           r->revenue_cal, r->refund_amount};
  char *o = (char *)slot + sizeof c;
  if (a->holdout) memcpy(o, v, CROW_HO * sizeof *v), o += CROW_HO * sizeof *v;
  if (a->refunds) memcpy(o, &v[CROW_HO], sizeof *v);
}

static int wide_cmp(const void *x, const void *y) {
  const tsr__crow_wide *a = x, *b = y;
  return a->row < b->row ? -1 : a->row > b->row;
}

tsr_status tsr__arows_adopt(tsr__arows *a, tsr_summary *s, tsr_error *err) {
  if (a->oom) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  a->n = s->n;
  a->base = (char *)s->rows;
  s->rows = NULL;
  static const size_t off[TSR__AR_FH] = {
      offsetof(tsr__crow, frequency), offsetof(tsr__crow, recency), offsetof(tsr__crow, T),
      offsetof(tsr__crow, monetary_value), offsetof(tsr__crow, revenue)};
  size_t o = sizeof(tsr__crow); /* the optional columns' offset */
  for (int c = 0; c < TSR__AR_NCOL; c++) {
    if (c < TSR__AR_FH) {
      a->cb[c] = a->base + off[c];
    } else if (c < TSR__AR_REFUND ? a->holdout : a->refunds) {
      a->cb[c] = a->base + o;
      o += sizeof(double);
    } else { /* not kept: 0 (no split, no refunds' sum) */
      a->cb[c] = (const char *)&zero;
      a->cs[c] = 0;
      continue;
    }
    a->cs[c] = a->stride;
  }
  /* no split: revenue_cal is the revenue */
  if (!a->holdout) a->cb[TSR__AR_REVCAL] = a->cb[TSR__AR_REV], a->cs[TSR__AR_REVCAL] = a->stride;
  /* the side list's rows, by their ids (each customer's own pointer) */
  for (size_t i = 0, k = 0; a->nwide && i < a->n; i++) {
    const tsr__crow *c = tsr__ar_c(a, i);
    if (c->n_transactions != UINT32_MAX) continue;
    for (k = 0; k < a->nwide && a->wide[k].id != c->customer_id; k++) {
    }
    if (k < a->nwide) a->wide[k].row = i;
  }
  if (a->nwide) qsort(a->wide, a->nwide, sizeof *a->wide, wide_cmp);
  return TSR_OK;
}

int64_t tsr__arows_wide(const tsr__arows *a, size_t i, int which) {
  size_t lo = 0, hi = a->nwide;
  while (lo < hi) {
    size_t m = lo + (hi - lo) / 2;
    if (a->wide[m].row < i)
      lo = m + 1;
    else
      hi = m;
  }
  if (lo == a->nwide || a->wide[lo].row != i) return UINT32_MAX; /* never */
  const tsr__crow_wide *w = &a->wide[lo];
  return which == 0 ? w->n_transactions : which == 1 ? w->active_days : w->n_refunds;
}

tsr_status tsr__arows_expand(tsr__arows *a, tsr_summary *s, tsr_error *err) {
  if (!a || !a->compact) return TSR_OK;
  size_t n = a->n;
  tsr_summary_row *rows = tsr__malloc_big((n ? n : 1) * sizeof *rows);
  if (!rows) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  for (size_t i = 0; i < n; i++) {
    tsr_summary_row *r = &rows[i];
    r->customer_id = tsr__ar_id(a, i);
    r->frequency = tsr__ar(a, TSR__AR_F, i);
    r->recency = tsr__ar(a, TSR__AR_R, i);
    r->T = tsr__ar(a, TSR__AR_T, i);
    r->monetary_value = tsr__ar(a, TSR__AR_MV, i);
    r->frequency_holdout = tsr__ar(a, TSR__AR_FH, i);
    r->monetary_value_holdout = tsr__ar(a, TSR__AR_MVH, i);
    r->duration_holdout = tsr__ar(a, TSR__AR_DH, i);
    r->revenue = tsr__ar(a, TSR__AR_REV, i);
    r->n_transactions = tsr__ar_ntx(a, i);
    r->active_days = tsr__ar_active(a, i);
    r->first_day = tsr__ar_first(a, i);
    r->last_day = tsr__ar_last(a, i);
    r->n_refunds = tsr__ar_nref(a, i);
    r->refund_amount = tsr__ar(a, TSR__AR_REFUND, i);
    r->revenue_cal = tsr__ar(a, TSR__AR_REVCAL, i);
  }
  tsr__arows_release(a);
  s->rows = rows;
  tsr__arows_full(a, s);
  return TSR_OK;
}

void tsr__arows_release(tsr__arows *a) {
  if (a->compact) tsr__free(a->base);
  tsr__free(a->wide);
  memset(a, 0, sizeof *a);
}
