/*
 * tessera/retrain.h - model versions retrained on stored data (issue 7).
 *
 * tsr_retrain_run re-reads the raw inputs kept with stored datasets
 * (datasets.stored_path, written by `analyze --keep-input` and by uploads),
 * ingests them into one ledger (with a transaction-id column, rows repeated
 * across uploads are dropped), and:
 *   1. runs the whole pipeline on all the data as a stored run (command
 *      "retrain"): new, not yet promoted versions of the BTYD model, the
 *      Gamma-Gamma spend model and the cluster model;
 *   2. backtests on a holdout window (the last 25% of the observation span
 *      unless cal_end_day is given): the same pipeline fitted on the
 *      calibration part predicts the holdout purchases (MAE per customer) and
 *      gives the calibration log-likelihood; the promoted version of the
 *      model is scored on exactly the same data;
 *   3. measures segment stability against the run of the promoted model:
 *      share of customers (present in both) whose RFM segment changed, and
 *      whose cluster changed (clusters matched by largest overlap);
 *   4. promotes the new versions when the new model is not worse (holdout
 *      MAE not higher and log-likelihood not lower, within 1e-9 relative),
 *      when nothing is promoted yet, or with force.
 * Each new model's fit_stats records the datasets, the calibration end and
 * the evaluation (docs/store.md, "Retraining").
 */
#ifndef TESSERA_RETRAIN_H
#define TESSERA_RETRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/error.h"
#include "tessera/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TSR_RETRAIN_MAX_DATASETS 256

typedef struct tsr_retrain_opts {
  int64_t since_ms;            /* datasets created at or after (ms); 0 = all */
  const int64_t *dataset_ids;  /* explicit datasets (overrides since_ms), or NULL */
  size_t n_dataset_ids;
  int force;                   /* promote whatever the evaluation says */
  int64_t cal_end_day;         /* calibration end (day number); INT64_MIN = default */
  const char *model;           /* "bgnbd" (default), "mbgnbd", "pnbd" */
  const char *cluster;         /* "kmeans" (default), "gmm", "none" */
  uint64_t seed;
  const char *id_col;          /* transaction id column; NULL = the one
                                * recorded with the first dataset. Without
                                * any, several datasets are de-duplicated by
                                * identical rows (--dedupe exact) */
  /* Event lines (level 0 info, 1 warn, 2 error); may be NULL. */
  void (*on_event)(void *ud, int level, const char *step, const char *msg);
  void *ud;
} tsr_retrain_opts;

TSR_API void tsr_retrain_opts_init(tsr_retrain_opts *o);

typedef struct tsr_retrain_result {
  int64_t run_id;                /* the stored retrain run */
  size_t n_datasets;
  int64_t dataset_ids[TSR_RETRAIN_MAX_DATASETS];
  size_t customers;
  int64_t duplicates_dropped;    /* rows dropped as repeated across uploads */
  int64_t cal_end_day, end_day;  /* holdout window (cal_end_day, end_day] */
  int64_t model_id, model_version; /* new BTYD model */
  int64_t spend_id, cluster_id;  /* new spend / cluster models (0 = none) */
  int64_t old_model_id, old_model_version; /* promoted before (0 = none) */
  double mae_new, mae_old;       /* holdout MAE per customer (NAN = n/a) */
  double loglik_new, loglik_old; /* calibration log-likelihood, same data */
  double segment_changed;        /* share of common customers (NAN = n/a) */
  double cluster_changed;
  size_t compared_customers;
  int promoted;                  /* 1 when the new versions were promoted */
  char reason[256];              /* why (not) promoted */
  /* The prediction models in use (a promoted "churn" / "nbp" version),
   * retrained on the same data (docs/predict.md): one entry per model
   * tried; id 0 when it could not be fitted (why says so). */
  size_t n_predict;
  struct tsr_retrain_predict {
    const char *kind;            /* "churn" or "nbp" (static) */
    int64_t id, version;         /* the new version (0 = none stored) */
    int promoted;
    const char *metric;          /* "test AUC" or "hit rate@3" (static) */
    double metric_new, metric_old; /* NAN = n/a */
    char why[256];
  } predict[2];
} tsr_retrain_result;

/* Retrains on stored datasets (see above). TSR_ENOTFOUND when no dataset
 * has kept inputs ("no stored datasets with kept inputs ..."), TSR_EINVAL
 * for a requested dataset without kept input, TSR_EIO when a kept file is
 * missing, else the pipeline's and the store's errors. *out is filled on
 * success. */
TSR_API tsr_status tsr_retrain_run(const tsr_retrain_opts *o, tsr_store *s,
                                   tsr_retrain_result *out, tsr_error *err);

/* The result as a JSON object text (caller frees with free()). */
TSR_API tsr_status tsr_retrain_result_json(const tsr_retrain_result *r, char **out,
                                           tsr_error *err);

/* ----------------------------------------------------------- migration */

/* Counts of customers moving between segments from run a to run b (both
 * stored): one row per (from, to) pair with count > 0, customers present in
 * both runs; "(new)" / "(gone)" for customers in only one run. by_cluster
 * compares cluster numbers instead of RFM segments. */
typedef struct tsr_migration_row {
  const char *from; /* borrowed for the callback */
  const char *to;
  int64_t customers;
} tsr_migration_row;

typedef int (*tsr_migration_cb)(void *ctx, const tsr_migration_row *row);

/* Rows ordered by from, then to. */
TSR_API tsr_status tsr_segment_migration(tsr_store *s, int64_t run_a, int64_t run_b,
                                         int by_cluster, tsr_migration_cb cb, void *ctx,
                                         tsr_error *err);

#ifdef __cplusplus
}
#endif
#endif
