/*
 * analyze_rows.h - the summary's rows as the analysis reads them (issue 18).
 *
 * A run that drains its ledger (release_ledger, no bundle) keeps each
 * customer's row in a compact form made as the summary drains the ledger
 * (tsr__summary_drain_packed): only the columns the analysis reads, the
 * doubles as they are (the models, the CLV and the clustering read them in
 * place, the files print them: the same bits) and the counts and days as
 * 32-bit integers (exact: a count beyond 32 bits is kept in a side list),
 * 72 bytes a customer instead of the 128 of tsr_summary_row; with a
 * calibration/holdout split its four columns follow, and the refunds' sum
 * (read by no step) when the rows are to be made whole again at the run's
 * end into res->summary->rows (unless the caller said nothing reads them:
 * tsr_analyze_opts.release_rows). On tx1800k (1.8M customers) 101 MB less
 * through the whole run. Other runs read res->summary's rows in place
 * through the same view.
 */
#ifndef TSR_APP_ANALYZE_ROWS_H
#define TSR_APP_ANALYZE_ROWS_H

#include "internal.h"
#include "cluster/cluster_internal.h"
#include "tessera/summary.h"

#include <stdint.h>
#include <string.h>

/* The double columns of the view. */
enum {
  TSR__AR_F,      /* frequency */
  TSR__AR_R,      /* recency */
  TSR__AR_T,      /* T */
  TSR__AR_MV,     /* monetary_value */
  TSR__AR_REV,    /* revenue */
  TSR__AR_FH,     /* frequency_holdout */
  TSR__AR_MVH,    /* monetary_value_holdout */
  TSR__AR_DH,     /* duration_holdout */
  TSR__AR_REVCAL, /* revenue_cal */
  TSR__AR_REFUND, /* refund_amount (only for tsr__arows_expand) */
  TSR__AR_NCOL
};

/* A compact row (72 bytes; the optional columns after it). UINT32_MAX in a count: its value is in
 * the side list (wide). The id first, as in tsr_summary_row. */
typedef struct tsr__crow {
  const char *customer_id;
  double frequency, recency, T, monetary_value, revenue;
  int32_t first_day, last_day;
  uint32_t n_transactions, active_days, n_refunds;
} tsr__crow;

/* A count beyond 32 bits: its row's three counts. */
typedef struct tsr__crow_wide {
  size_t row;
  const char *id; /* while the rows are made (row not known yet) */
  int64_t n_transactions, active_days, n_refunds;
} tsr__crow_wide;

typedef struct tsr__arows {
  size_t n;
  int compact;                  /* 1: tsr__crow rows (owned), 0: a tsr_summary's rows (borrowed) */
  char *base;                   /* row 0 */
  size_t stride;                /* bytes a row */
  const char *cb[TSR__AR_NCOL]; /* each double column: its value of row 0 */
  size_t cs[TSR__AR_NCOL];      /* and its stride (0: the same value for every row) */
  int holdout;                  /* compact: the holdout's columns follow each tsr__crow */
  int refunds;                  /* compact: then the refunds' sum */
  tsr__crow_wide *wide;
  size_t nwide, wide_cap;
  int oom; /* the side list could not grow */
} tsr__arows;

/* The view of s's rows (borrowed; s must outlive it). */
void tsr__arows_full(tsr__arows *a, const tsr_summary *s);

/* Compact rows made by the summary's drain: tsr__arows_begin(a,
 * holdout (the summary has a split), refunds (kept for
 * tsr__arows_expand)), then tsr__summary_drain_packed(..., tsr__arows_elem(a),
 * tsr__arows_put, a, &s, ...), then tsr__arows_adopt(a, s), which takes
 * s's rows (s->rows NULL afterwards): TSR_OK or TSR_ENOMEM. */
void tsr__arows_begin(tsr__arows *a, int holdout, int refunds);
size_t tsr__arows_elem(const tsr__arows *a);
void tsr__arows_put(void *ud, void *slot, const tsr_summary_row *r);
tsr_status tsr__arows_adopt(tsr__arows *a, tsr_summary *s, tsr_error *err);

/* The compact rows made whole into s->rows (NULL before), the view then
 * of them: TSR_OK or TSR_ENOMEM (nothing changed). */
tsr_status tsr__arows_expand(tsr__arows *a, tsr_summary *s, tsr_error *err);

void tsr__arows_release(tsr__arows *a);

int64_t tsr__arows_wide(const tsr__arows *a, size_t i, int which);

static inline const char *tsr__ar_id(const tsr__arows *a, size_t i) {
  const char *p;
  memcpy(&p, a->base + i * a->stride, sizeof p);
  return p;
}

static inline void tsr__ar_set_id(tsr__arows *a, size_t i, const char *p) {
  memcpy(a->base + i * a->stride, &p, sizeof p);
}

static inline double tsr__ar(const tsr__arows *a, int c, size_t i) {
  double v;
  memcpy(&v, a->cb[c] + i * a->cs[c], sizeof v);
  return v;
}

static inline tsr__col tsr__ar_col(const tsr__arows *a, int c) {
  tsr__col v = {a->cb[c], a->cs[c]};
  return v;
}

static inline const tsr__crow *tsr__ar_c(const tsr__arows *a, size_t i) {
  return (const tsr__crow *)(const void *)(a->base + i * a->stride);
}

static inline const tsr_summary_row *tsr__ar_s(const tsr__arows *a, size_t i) {
  return (const tsr_summary_row *)(const void *)(a->base + i * a->stride);
}

static inline int64_t tsr__ar_ntx(const tsr__arows *a, size_t i) {
  if (!a->compact) return tsr__ar_s(a, i)->n_transactions;
  uint32_t v = tsr__ar_c(a, i)->n_transactions;
  return v != UINT32_MAX ? (int64_t)v : tsr__arows_wide(a, i, 0);
}

static inline int64_t tsr__ar_active(const tsr__arows *a, size_t i) {
  if (!a->compact) return tsr__ar_s(a, i)->active_days;
  uint32_t v = tsr__ar_c(a, i)->active_days;
  return v != UINT32_MAX ? (int64_t)v : tsr__arows_wide(a, i, 1);
}

static inline int64_t tsr__ar_nref(const tsr__arows *a, size_t i) {
  if (!a->compact) return tsr__ar_s(a, i)->n_refunds;
  uint32_t v = tsr__ar_c(a, i)->n_refunds;
  return v != UINT32_MAX ? (int64_t)v : tsr__arows_wide(a, i, 2);
}

static inline int64_t tsr__ar_first(const tsr__arows *a, size_t i) {
  return a->compact ? (int64_t)tsr__ar_c(a, i)->first_day : tsr__ar_s(a, i)->first_day;
}

static inline int64_t tsr__ar_last(const tsr__arows *a, size_t i) {
  return a->compact ? (int64_t)tsr__ar_c(a, i)->last_day : tsr__ar_s(a, i)->last_day;
}

#endif
