/*
 * tessera/analyze.h - the whole analysis pipeline of `tessera analyze` and of
 * the web application's jobs: ingest -> summary -> RFM -> BTYD + spend
 * models (expected purchases, P(alive), CLV) -> clusters -> files + store.
 *
 * One call runs everything; progress and the event log reach the caller
 * through callbacks (the library never prints). Every step is also written
 * to the store's event log when a store is given.
 */
#ifndef TESSERA_ANALYZE_H
#define TESSERA_ANALYZE_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/btyd.h"
#include "tessera/cluster.h"
#include "tessera/error.h"
#include "tessera/ingest.h"
#include "tessera/params.h"
#include "tessera/profile.h"
#include "tessera/rfm.h"
#include "tessera/store.h"
#include "tessera/summary.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tsr_horizon_unit {
  TSR_UNIT_DAYS = 0,
  TSR_UNIT_WEEKS = 1,
  TSR_UNIT_MONTHS = 2, /* 30.4375 days */
  TSR_UNIT_YEARS = 3,  /* 365.25 days */
  TSR_UNIT_PERIODS = 4 /* periods of the summary (freq x multiplier) */
} tsr_horizon_unit;

/* Days per unit; for TSR_UNIT_PERIODS, period_days. */
TSR_API double tsr_unit_days(tsr_horizon_unit u, double period_days);
/* "days", "weeks", "months", "years", "periods" (singular accepted). */
TSR_API tsr_status tsr_unit_parse(const char *s, tsr_horizon_unit *out);

typedef struct tsr_analyze_opts {
  const char *const *inputs; /* transaction files (>= 1; "-" = stdin) */
  size_t n_inputs;
  tsr_ingest_opts ingest;    /* columns, formats, rejects callback... */
  tsr_summary_opts summary;  /* default here: freq D, multiplier 7 (weeks) */
  const char *scheme;        /* RFM scheme: "rf10" (default), "rfm11" or a file */
  const char *model;         /* "bgnbd" (default), "mbgnbd", "pnbd", "none" */
  int spend;                 /* 1 (default): Gamma-Gamma spend model + CLV */
  double horizon;            /* CLV / expected-purchase horizon, > 0; default 12 */
  tsr_horizon_unit unit;     /* default months */
  double discount;           /* per month, >= 0, < 1; default 0.01 */
  double level;              /* interval level, default 0.95 */
  double churn_threshold;    /* P(alive) below this = churned; default 0.5 */
  const char *cluster;       /* "kmeans" (default), "gmm", "dbscan", "none" */
  tsr_cluster_opts cluster_opts; /* k (0 = auto), seed, features... */
  const char *out_dir;       /* files written here (created); NULL = none */
  const char *report_path;   /* reserved for the HTML report; NULL = none */
  const char *currency;      /* ISO 4217 code of the amounts (tsr_currency_code_valid);
                              * NULL = from a currency column of the first
                              * input when it holds one code, else unknown
                              * (docs/analyze.md "Currency") */
  uint64_t seed;
  const volatile int *cancel; /* set non-zero to stop (TSR_ECANCELED) */
  /* Stored runs (issue 7). */
  const char *command;       /* run command stored; NULL = "analyze" */
  const char *keep_dir;      /* non-NULL: copy each input to
                              * keep_dir/<checksum>[-<i>].csv (created) and
                              * record it as the dataset's stored_path
                              * (';'-separated for several inputs); a
                              * bundle is kept as keep_dir/<checksum>/
                              * transactions.csv with the tables the
                              * prediction models read (docs/store.md) */
  int64_t dataset_id;        /* > 0: the inputs are stored datasets (retrain):
                              * no new dataset is registered, the run refers
                              * to this one */
  const char *model_stats;   /* JSON object members ("\"k\":v,...") added to
                              * the fit_stats of every stored model, or NULL */
  /* Multi-source profiles (issue 12, docs/profiles.md): with a bundle, its
   * tables are read after the models and give profiles.csv,
   * segment_profiles.csv and the stored profiles (customers.extra). The
   * transaction inputs are the bundle's transactions. NULL = none. */
  const tsr_bundle *bundle;
  const tsr_bundle_opts *bundle_opts;   /* NULL = defaults */
  const tsr_segment_opts *segment_opts; /* NULL = defaults */
  const tsr_profile_opts *profile_opts; /* NULL = defaults */
  /* Personal data in the store: TSR_PII_DROP (default) or TSR_PII_ENCRYPT
   * with pii_key (docs/profiles.md "Personal data"). */
  int pii_mode;
  /* 1: transactions flagged by the anomaly detector (tessera/anomaly.h)
   * are kept out of the ledger, hence of RFM, BTYD and CLV; they still
   * count in data quality (bundle runs only; default 0). */
  int exclude_anomalies;
  const unsigned char *pii_key;         /* TSR_PII_KEY_BYTES, borrowed */
  /* In-database analysis (docs/pg-extension.md "analyze --in-db"): when
   * indb_table is non-NULL the ledger is read from that table of the
   * PostgreSQL database at indb_url (customer-day aggregates computed by the
   * server) instead of from the files; inputs[0] then names the table for
   * the event log and the stored dataset. */
  const char *indb_url;
  const char *indb_table;
  /* Progress: step name, fraction of the whole run in [0,1]. */
  void (*on_progress)(void *ud, const char *step, double frac);
  /* Event log line (also stored): level 0 info, 1 warn, 2 error. */
  void (*on_event)(void *ud, int level, const char *step, const char *msg);
  /* The stored run's id, once it exists (before its first event). */
  void (*on_run)(void *ud, int64_t run_id);
  void *ud;
  /* 1: the ledger (every transaction) is freed once the summary is
   * computed, before the models (its memory was most of the peak of a
   * large run); res->ledger is then NULL and the summary's customer ids
   * live in res->ids. With a store, the purchase histories it stores are
   * kept compactly from the ledger first. Not with a bundle (ignored): set
   * it when nothing after the run reads res->ledger (a report does).
   * Default 0. */
  int release_ledger;
  /* 1 (with release_ledger): nothing after the run reads the summary's
   * rows: res->summary->rows is NULL afterwards (its n and other fields
   * set). With release_ledger the run keeps its rows compactly either
   * way (80 bytes a customer instead of 128, 72 with release_rows); this
   * spares making them whole at its end (the CLI). Default 0. */
  int release_rows;
} tsr_analyze_opts;

TSR_API void tsr_analyze_opts_init(tsr_analyze_opts *o);

/* The analysis inputs of tessera/params.def (tessera/params.h) onto o: every
 * non-empty value, or with given_only only the given ones (o keeps the
 * rest). Strings are borrowed from p (p must outlive o's use). */
TSR_API void tsr_analyze_opts_apply(tsr_analyze_opts *o, const tsr_params *p, int given_only);
/* The inverse: o's values as the table's inputs (all marked given; values
 * outside the table's ranges, e.g. a scheme file, are kept as they are). */
TSR_API void tsr_analyze_opts_params(const tsr_analyze_opts *o, tsr_params *p);

/* KPIs of the whole base (docs/analyze.md). */
typedef struct tsr_kpis {
  size_t customers;
  int64_t transactions;      /* purchase rows */
  int64_t visits;            /* active customer-days */
  double revenue;            /* total spend */
  double repeat_share;       /* share of customers with a repeat purchase */
  double top20_revenue_share;/* revenue share of the top 20% customers */
  int64_t first_day, last_day; /* first purchase, last purchase in the data */
  double churn_rate;         /* share with P(alive) < threshold (NAN without model) */
  double expected_alive;     /* expected active customers (NAN without model) */
  double expected_dropouts;  /* expected dropouts next period */
  double clv_total, clv_mean;/* NAN without spend model */
  double mean_p_alive;
} tsr_kpis;

typedef struct tsr_holdout_bucket {
  int frequency;       /* calibration repeat purchases (the last bucket is "or more") */
  size_t customers;
  double actual;       /* mean holdout purchases */
  double predicted;    /* mean model prediction */
} tsr_holdout_bucket;

#define TSR_HOLDOUT_BUCKETS 8

typedef struct tsr_analyze_result {
  int64_t run_id;              /* 0 when no store */
  int64_t dataset_id;
  tsr_ingest_stats ingest;     /* summed over the inputs (checksum 0 when the run has
                                  * no store and no keep_dir: not computed) */
  tsr_ledger *ledger;          /* owned; finished and sealed (tsr_ledger_seal) */
  tsr_summary *summary;        /* owned; rows in customer order */
  int *r, *f, *m;              /* RFM scores (summary->n each) */
  const char **segment;        /* segment name per customer (borrowed from scheme) */
  tsr_rfm_scheme *scheme;      /* owned */
  tsr_rfm_segment_stats *segments; /* per segment of the scheme */
  size_t n_segments;
  int has_model, has_spend;
  tsr_btyd_model model, spend; /* fitted models */
  double gg_correlation;       /* frequency vs monetary (repeat customers) */
  double horizon_periods;      /* prediction horizon in model periods */
  double *expected, *expected_lo, *expected_hi, *p_alive; /* per customer */
  double *clv, *clv_lo, *clv_hi;
  tsr_cluster_result *clusters; /* owned, or NULL */
  int has_holdout;
  tsr_holdout_bucket holdout[TSR_HOLDOUT_BUCKETS];
  double holdout_mae;          /* mean absolute error per customer */
  double holdout_actual_total, holdout_predicted_total;
  tsr_kpis kpis;
  double period_days;
  double seconds;              /* wall time of the run */
  char timings[512];           /* JSON {"ingest": ms, ...} */
  tsr_profiles *profiles;      /* owned; NULL without a bundle */
  char **pii;                  /* owned; per profile the sealed personal
                                  data (base64) or NULL (TSR_PII_ENCRYPT) */
  /* Data quality of a bundle run (docs/profiles.md "Wiring"); -1 = not
   * computed (no customers table / no bundle). */
  int64_t dq_crm_records;      /* CRM records given to entity resolution */
  int64_t dq_records_merged;   /* records re-keyed to another record's id */
  int64_t dq_households;       /* households of two or more persons */
  int64_t dq_household_links;  /* persons linked to a household head */
  int64_t dq_transactions_scored; /* transactions scored for anomalies */
  int64_t dq_anomalies;        /* transactions flagged */
  int64_t dq_anomalies_excluded; /* flagged transactions kept out of the
                                  ledger (exclude_anomalies), else -1 */
  int64_t dq_rejected[TSR_BT_COUNT]; /* rows rejected per bundle table
                                  (transactions: see ingest) */
  struct {
    char key[128];             /* "TABLE: FIELD: reason", the value left out */
    int64_t n;
  } dq_reasons[16];            /* rejected rows by reason (first 16 reasons) */
  size_t dq_nreasons;
  char currency[4];            /* ISO 4217 code of the amounts, "" = unknown */
  const char *currency_source; /* "option", "column" or NULL (static) */
  struct tsr__predict_out *predict; /* churn and next-best-product of a
                                  bundle run (app/analyze_predict.c), or NULL */
  char *ids;                   /* owned; with release_ledger the customer ids
                                  (NUL-terminated, one after the other) the
                                  summary rows point into, else NULL */
  struct tsr__arows *arows;    /* owned; the rows as the run read them
                                  (app/analyze_rows.h), internal */
} tsr_analyze_result;

/* Runs the pipeline. store may be NULL (nothing stored). On success *out is
 * owned by the caller (tsr_analyze_result_free). Ingestion problems follow
 * tsr_ingest_file (TSR_EMAXERR, TSR_EIO, TSR_EPARSE for a missing column);
 * a model that does not converge is reported as a warning event and its
 * columns are left empty (NAN) rather than failing the run. With a store, a
 * failed run is recorded as failed with its error. */
TSR_API tsr_status tsr_analyze_run(const tsr_analyze_opts *opts, tsr_store *store,
                                   tsr_analyze_result **out, tsr_error *err);
TSR_API void tsr_analyze_result_free(tsr_analyze_result *r);

/* Writes customers.csv (one row per customer, every computed column),
 * segments.csv, clusters.csv, holdout.csv, the model JSON files and run.json
 * into dir (created if missing). */
TSR_API tsr_status tsr_analyze_write_files(const tsr_analyze_result *r,
                                           const tsr_analyze_opts *opts,
                                           const char *dir, tsr_error *err);

/* KPIs as a JSON object text (caller frees with free()). */
TSR_API tsr_status tsr_analyze_kpis_json(const tsr_analyze_result *r, char **out,
                                         tsr_error *err);

#ifdef __cplusplus
}
#endif
#endif
