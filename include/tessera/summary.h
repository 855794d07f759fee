/*
 * tessera/summary.h - per-customer RFM summary with the semantics of Python
 * lifetimes' summary_data_from_transaction_data and
 * calibration_and_holdout_data.
 *
 * Periods: D = calendar days (UTC), W = weeks Monday..Sunday (pandas 'W'),
 * M = calendar months. Transactions of one customer in one period merge into
 * one (amounts summed). Rows whose period starts after the observation end
 * are ignored. Then per customer:
 *   frequency      = number of periods with a purchase - 1
 *   recency        = (last period - first period) / multiplier
 *   T              = (end period - first period) / multiplier
 *   monetary_value = mean amount of the repeat periods (first excluded), 0
 *                    when frequency is 0
 * With a calibration end, the above uses only periods up to it (end = the
 * calibration end) and the holdout columns count the periods after it up to
 * the observation end: frequency_holdout (periods), monetary_value_holdout
 * (mean amount per holdout transaction, as lifetimes), duration_holdout.
 * Only customers with a purchase by the (calibration) end appear.
 */
#ifndef TESSERA_SUMMARY_H
#define TESSERA_SUMMARY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tessera/error.h"
#include "tessera/ingest.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tsr_freq { TSR_FREQ_D = 0, TSR_FREQ_W = 1, TSR_FREQ_M = 2 } tsr_freq;

#define TSR_DAY_NONE INT64_MIN

typedef struct tsr_summary_opts {
  tsr_freq freq;          /* period (default D) */
  double multiplier;      /* periods per output unit, > 0 (default 1; 7 with D = weeks) */
  int64_t end_day;        /* observation end (day number); TSR_DAY_NONE = last date in data */
  int64_t cal_end_day;    /* calibration end; TSR_DAY_NONE = no split */
  tsr_refunds refunds;    /* refunds excluded (default) or netted into spend */
  int threads;            /* 0 or 1 (default): one thread; 2+: compute and
                             write (CSV) in parallel, identical results */
} tsr_summary_opts;

TSR_API void tsr_summary_opts_init(tsr_summary_opts *o);

typedef struct tsr_summary_row {
  const char *customer_id;  /* borrowed from the ledger */
  double frequency, recency, T, monetary_value; /* calibration values with a split */
  double frequency_holdout, monetary_value_holdout, duration_holdout;
  /* profile extras (over the whole observation window up to end) */
  double revenue;           /* total spend (refunds netted with TSR_REFUNDS_NET) */
  int64_t n_transactions;   /* purchase rows */
  int64_t active_days;      /* days with a purchase ("visits") */
  int64_t first_day, last_day; /* first and last purchase day */
  int64_t n_refunds;
  double refund_amount;     /* <= 0 */
  double revenue_cal;       /* spend up to the calibration end (= revenue
                               without a calibration/holdout split) */
} tsr_summary_row;

typedef struct tsr_summary {
  size_t n;
  tsr_summary_row *rows;    /* owned */
  int has_holdout;
  int64_t end_day, cal_end_day;
  tsr_summary_opts opts;
  size_t excluded_refund_only; /* customers with refunds but no purchase */
} tsr_summary;

/* Computes the summary of a finished ledger (tsr_ledger_finish). The rows
 * borrow customer ids from lg: lg must outlive *out. *out owned by caller
 * (tsr_summary_free). TSR_EINVAL for bad options (calibration end not
 * before the end, multiplier <= 0), TSR_ENOTFOUND when no customer has a
 * purchase by the end. */
TSR_API tsr_status tsr_summary_compute(const tsr_ledger *lg,
                                       const tsr_summary_opts *opts,
                                       tsr_summary **out, tsr_error *err);
TSR_API void tsr_summary_free(tsr_summary *s);

/* One customer's row from its ledger entries (sorted by day, one entry per
 * day, as tsr_ledger_entries gives them), with the observation end end_day
 * (> 0 days of data; o->end_day is ignored) and o's period, multiplier,
 * refunds and calibration end. out->customer_id is kept. Returns 1 and fills
 * *out when the customer has a purchase by the (calibration) end, else 0.
 * The batch summary and the in-database aggregate (pgext/) both use it. */
TSR_API int tsr_summary_row_from_entries(const tsr_ledger_entry *e, size_t k,
                                         const tsr_summary_opts *o, int64_t end_day,
                                         tsr_summary_row *out);

/* Writes the summary as CSV (header customer_id,frequency,recency,T,
 * monetary_value or the calibration/holdout layout; with extras != 0 the
 * profile columns follow) or as JSON (an array of objects). The CSV rows
 * of a regular file other than stdout go to its descriptor (after fflush),
 * by O_DIRECT where the file system allows it; the bytes are the same. */
TSR_API tsr_status tsr_summary_write_csv(const tsr_summary *s, FILE *f, int extras,
                                         tsr_error *err);
TSR_API tsr_status tsr_summary_write_json(const tsr_summary *s, FILE *f, int extras,
                                          tsr_error *err);

/* The CSV of tsr_summary_compute's summary of lg as tsr_summary_write_csv
 * writes it (the same bytes, for any opts->threads), without keeping the
 * rows: blocks of customers are summarised and formatted by opts->threads
 * threads and written in order. Only for a summary that cannot fail:
 * tsr_summary_can_stream(lg, opts) is 1 when no option or amount could
 * make tsr_summary_compute fail (no calibration split, the observation end
 * at or after the last purchase, no sums near overflow); it reads every
 * entry. tsr_summary_stream_csv gives TSR_EINVAL, writing nothing, for
 * options that could fail, and TSR_ERANGE (part of the rows written) when
 * a customer's sums overflow, which tsr_summary_can_stream rules out; as
 * well TSR_ENOMEM or TSR_EIO. lg must be finished. */
TSR_API int tsr_summary_can_stream(const tsr_ledger *lg, const tsr_summary_opts *opts);
TSR_API tsr_status tsr_summary_stream_csv(const tsr_ledger *lg, const tsr_summary_opts *opts,
                                          FILE *f, int extras, tsr_error *err);

/* Parses "D", "W" or "M". */
TSR_API tsr_status tsr_freq_parse(const char *s, tsr_freq *out);

#ifdef __cplusplus
}
#endif
#endif
