/*
 * tessera/anomaly.h - transaction anomalies against each customer's own
 * history, by robust statistics (no model to train). Per transaction:
 *   - amount: z = (log|amount| - median) / max(1.4826 MAD, 0.25) over the
 *     customer's log amounts (median and MAD are robust: the anomalies
 *     themselves barely move them); counts when z >= amount_z;
 *   - hour: the circular distance (hours) of the time of day from the
 *     customer's circular mean hour, divided by max(1.4826 x the median of
 *     those distances, 2 h); counts when >= hour_z;
 *   - a merchant category or a channel the customer uses in this
 *     transaction only, after at least min_history other transactions
 *     (evidence new_category_score, new_channel_score, times the rarity
 *     of the value among all transactions: 1 at a share <= 0.1 %, 0 at a
 *     share >= 10 %, linear in log10 of the share between);
 *   - burst: at least burst_count of the customer's transactions within
 *     burst_window seconds (evidence = their number).
 * The score is the sum of the evidence (0 = nothing unusual); a
 * transaction is flagged when score >= flag_score. Amount and hour need
 * min_history transactions of the customer. Transactions are flagged,
 * never dropped. See docs/anomalies.md.
 *
 * Not thread-safe; distinct detectors are independent.
 */
#ifndef TESSERA_ANOMALY_H
#define TESSERA_ANOMALY_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/csv.h"
#include "tessera/error.h"
#include "tessera/ingest.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsr_anomaly_params {
  int min_history;          /* >= 2; default 5 */
  double amount_z;          /* > 0; default 3 */
  double hour_z;            /* > 0; default 3.5 */
  double new_category_score;/* >= 0; default 4 */
  double new_channel_score; /* >= 0; default 2 */
  int64_t burst_window;     /* seconds, >= 1; default 3600 */
  int burst_count;          /* >= 2; default 4 */
  double flag_score;        /* > 0; default 3 */
} tsr_anomaly_params;

TSR_API void tsr_anomaly_params_init(tsr_anomaly_params *p);
TSR_API tsr_status tsr_anomaly_check_params(const tsr_anomaly_params *p,
                                            tsr_error *err);

/* One transaction; strings borrowed for the call (channel, category,
 * transaction_id may be NULL). time: seconds since the epoch, UTC. */
typedef struct tsr_anomaly_tx {
  const char *transaction_id;
  const char *customer_id;
  int64_t time;
  double amount;
  const char *channel;
  const char *merchant_category;
} tsr_anomaly_tx;

typedef struct tsr_anomaly_detector tsr_anomaly_detector;

TSR_API tsr_status tsr_anomaly_new(const tsr_anomaly_params *p,
                                   tsr_anomaly_detector **out, tsr_error *err);
TSR_API void tsr_anomaly_free(tsr_anomaly_detector *d);
/* Adds a transaction (copies what it needs). */
TSR_API tsr_status tsr_anomaly_add(tsr_anomaly_detector *d,
                                   const tsr_anomaly_tx *tx, tsr_error *err);

typedef struct tsr_anomaly_read_opts {
  tsr_csv_opts csv;
  int64_t max_errors;  /* -1 = unlimited (default) */
  void (*on_reject)(void *ud, const tsr_reject *r);
  void *ud;
} tsr_anomaly_read_opts;
TSR_API void tsr_anomaly_read_opts_init(tsr_anomaly_read_opts *o);
/* Reads transactions.csv (streaming; columns by header name: customer_id,
 * timestamp (or date), amount required; transaction_id, channel,
 * merchant_category optional). Without transaction_id a row's id is "L"
 * and its line number. Bad rows go to on_reject and are counted. */
TSR_API tsr_status tsr_anomaly_read_csv(tsr_anomaly_detector *d,
                                        const char *path,
                                        const tsr_anomaly_read_opts *o,
                                        int64_t *rejected, tsr_error *err);

/* The same CSV input record by record, for a caller that reads the file
 * itself (the profile step reads transactions.csv once for the profiles
 * and the anomalies): tsr_anomaly_csv_header binds the columns from the
 * header record as tsr_anomaly_read_csv does (TSR_EPARSE when a required
 * one is missing); tsr_anomaly_csv_row adds one data record by the same
 * rules (TSR_EPARSE for a bad row, with the reason tsr_anomaly_read_csv
 * gives; nothing is added then). source names the file in errors. */
TSR_API tsr_status tsr_anomaly_csv_header(tsr_anomaly_detector *d,
                                          const tsr_csv_record *hdr,
                                          const char *source, tsr_error *err);
TSR_API tsr_status tsr_anomaly_csv_row(tsr_anomaly_detector *d,
                                       const tsr_csv_record *rec,
                                       const char *source, tsr_error *err);

/* Scores every transaction. Called once. */
TSR_API tsr_status tsr_anomaly_run(tsr_anomaly_detector *d, tsr_error *err);

TSR_API size_t tsr_anomaly_count(const tsr_anomaly_detector *d);
/* Index (order of addition) of the k-th transaction by descending score
 * (ties in order of addition). */
TSR_API size_t tsr_anomaly_rank(const tsr_anomaly_detector *d, size_t k);
TSR_API double tsr_anomaly_score(const tsr_anomaly_detector *d, size_t i);
TSR_API int tsr_anomaly_flagged(const tsr_anomaly_detector *d, size_t i);
TSR_API const char *tsr_anomaly_id(const tsr_anomaly_detector *d, size_t i);
TSR_API const char *tsr_anomaly_customer(const tsr_anomaly_detector *d,
                                         size_t i);
/* Time (seconds since the epoch, UTC) and amount of transaction i, as
 * read. */
TSR_API int64_t tsr_anomaly_time(const tsr_anomaly_detector *d, size_t i);
TSR_API double tsr_anomaly_amount(const tsr_anomaly_detector *d, size_t i);
/* Plain reasons, e.g. "amount 18.3x the customer's median (robust z 9.2);
 * burst: 6 transactions within 60 min". Returns buf. */
TSR_API char *tsr_anomaly_reasons(const tsr_anomaly_detector *d, size_t i,
                                  char *buf, size_t cap);
/* Customers, numbered 0, 1, ... in the order of their first transaction:
 * how many, the id of customer c, the customer of transaction i. */
TSR_API size_t tsr_anomaly_ncustomers(const tsr_anomaly_detector *d);
TSR_API const char *tsr_anomaly_customer_id(const tsr_anomaly_detector *d,
                                            size_t c);
TSR_API size_t tsr_anomaly_customer_of(const tsr_anomaly_detector *d,
                                       size_t i);
/* Flagged transactions. */
TSR_API size_t tsr_anomaly_nflagged(const tsr_anomaly_detector *d);

#ifdef __cplusplus
}
#endif
#endif
