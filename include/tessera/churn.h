/*
 * tessera/churn.h - churn risk by gradient boosting (XGBoost), with reasons,
 * evaluated side by side with the BG/NBD P(alive) baseline.
 *
 * Definitions (docs/predict.md):
 *   cutoff c      features use data on days <= c only (transactions, and
 *                 when the folder has them customers.csv,
 *                 products_events.csv, interactions.csv);
 *   label         1 (churned) when the customer has no purchase - and, when
 *                 product events exist, opens or closes nothing - on days
 *                 c+1 .. c+W (W = the window);
 *   customers     those with a purchase on or before c.
 *
 * tsr_churn_run does two fits (one when C = E - W on large data, see
 * tsr_churn_opts.one_fit):
 *   1. evaluation: cutoff = the calibration end C, window W (default: the
 *      rest of the data). Customers are split at random (seeded) into 70 %
 *      for learning (80 % fit, 20 % early stopping and calibration) and
 *      30 % test. The test metrics of the model and of the BG/NBD baselines
 *      (1 - P(alive), and the model's own P(no purchase in the window))
 *      fitted on the same cutoff are reported on the same test customers.
 *   2. scoring for the present: the latest complete window, cutoff E - W
 *      (E = the last transaction day), labels on E-W+1 .. E, all customers
 *      (80/20 for early stopping and calibration); then every customer is
 *      scored with features at E: P(no purchase in the next W days).
 *
 * Reasons: per customer the three features with the largest positive SHAP
 * contributions (towards churn) of the present model, as plain words.
 */
#ifndef TESSERA_CHURN_H
#define TESSERA_CHURN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tessera/error.h"
#include "tessera/evaluate.h"
#include "tessera/bundle.h"
#include "tessera/gbm.h"
#include "tessera/ingest.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsr_churn_opts {
  int64_t cal_end_day;     /* the calibration end (day number), required */
  int64_t window_days;     /* W, >= 1; 0 = from the calibration end to the
                              last transaction day */
  tsr_gbm_params gbm;      /* defaults of tsr_gbm_params_init with
                              pos_weight 0 (balanced classes) */
  tsr_calib_kind calibration; /* default TSR_CALIB_ISOTONIC */
  double test_fraction;    /* customers held out for evaluation, [0.1, 0.5];
                              default 0.3 */
  size_t min_customers;    /* fewer customers at a cutoff is an error;
                              default 50 (>= 20) */
  int history_windows;     /* earlier windows whose rows are added to the
                              fit rows (cutoffs c - W, c - 2W, ... with a
                              window of data before them), 0..8; default 0 */
  int score;               /* 1 (default): also fit the present model and
                              score every customer; 0: evaluation only */
  const tsr_ledger *ledger; /* NULL (default): the transactions are read
                              from dir; else these (a finished ledger,
                              borrowed), and dir is the folder of the
                              optional tables (NULL: none). `tessera
                              retrain` passes the ledger of its stored
                              datasets (several files, de-duplicated). */
  const tsr_bundle_opts *table_opts; /* how the optional tables are read:
                              column renames, date forms, CSV dialect
                              (borrowed; NULL = defaults; its callbacks
                              and max_errors are not used) */
  const tsr_bundle *tables; /* NULL (default): the optional tables of
                              folder dir; else this bundle's customer,
                              product and interaction files (borrowed;
                              `tessera churn --products FILE` ...) */
  int one_fit;             /* when the calibration end is the scoring cutoff
                              (C = E - W): 1 the evaluation's model (fitted
                              on the learning customers) also scores, one
                              fit instead of two; 0 two fits; -1 (default)
                              one fit from 100 000 customers on
                              (docs/predict.md "One fit per cutoff") */
  size_t max_train_rows;   /* learning customers of a fit (fit plus early
                              stopping and calibration) at most: above, a
                              seeded sample stratified by label (the others
                              are still scored; the test customers are
                              never in it); 0 = all, else >= 100; default
                              TSR_CHURN_MAX_TRAIN_ROWS (docs/predict.md
                              "Training rows") */
} tsr_churn_opts;

#define TSR_CHURN_MAX_TRAIN_ROWS 150000

TSR_API void tsr_churn_opts_init(tsr_churn_opts *o);

/* One evaluation row: the scores of a method on the test customers. */
typedef struct tsr_churn_eval {
  const char *method;      /* "xgboost", "btyd_p_alive", "btyd_p_zero" */
  tsr_eval_binary m;
} tsr_churn_eval;

#define TSR_CHURN_MAX_FEATURES 48
#define TSR_CHURN_REL_BINS 10

typedef struct tsr_churn_result {
  int64_t cal_end_day, window_days, last_day, score_cutoff_day;
  /* evaluation (fit 1) */
  size_t n_learn, n_test;          /* customers */
  size_t n_history;                /* fit rows from earlier windows */
  double churn_rate;               /* share churned among all customers at C */
  size_t n_methods;                /* 1, or 3 with the BG/NBD baselines */
  tsr_churn_eval eval[3];          /* eval[0] is the model */
  tsr_reliability_bin reliability[TSR_CHURN_REL_BINS]; /* model, test set */
  tsr_gbm_info eval_info;
  /* features */
  size_t nfeat;
  const char *feature[TSR_CHURN_MAX_FEATURES]; /* names (static, or in
                                                  feature_text) */
  char *feature_text;              /* names of the product features (owned) */
  double importance[TSR_CHURN_MAX_FEATURES];   /* mean |SHAP| on the scored
                                                  customers (log-odds) */
  int has_customers, has_products, has_interactions;
  /* scoring for the present (fit 2; n = 0 with opts.score = 0) */
  size_t n;
  char **customer_id;              /* n ids (owned) */
  double *probability;             /* n calibrated P(churn in W days) */
  int8_t (*reason_feature)[3];     /* n x 3 feature indices, -1 = none */
  float (*reason_value)[3];        /* their values */
  tsr_gbm_info score_info;
  char *model_json;                /* the present model: {"format":
                                      "tessera-churn", ...} (owned) */
  int64_t rejected_rows;           /* bad rows of the optional tables */
  tsr_error first_reject;          /* the first of them (code 0 if none) */
} tsr_churn_result;

/* Runs evaluation and scoring on the customer data in dir (a folder with
 * transactions.csv and optional tables, or a transaction file). *out owned
 * by the caller (tsr_churn_result_free). Errors: TSR_EIO/EPARSE unreadable
 * input (file, line, column named), TSR_EINVAL bad options (the calibration
 * end not inside the data, a window past the last day, too few customers,
 * one class only - message says which and what to change), TSR_ENUMERIC
 * from XGBoost, TSR_ENOMEM. */
TSR_API tsr_status tsr_churn_run(const char *dir, const tsr_churn_opts *opts,
                                 tsr_churn_result **out, tsr_error *err);
TSR_API void tsr_churn_result_free(tsr_churn_result *r);

/* Reason k (0..2) of customer i in plain words into buf ("" when none). */
TSR_API char *tsr_churn_reason(const tsr_churn_result *r, size_t i, int k,
                               char *buf, size_t cap);

/* Writes the scores as CSV: customer_id,churn_probability,reason_1,
 * reason_2,reason_3 (probability with 4 decimals; empty reasons when fewer
 * than three features push the risk up). TSR_EIO on a write error. */
TSR_API tsr_status tsr_churn_write_csv(const tsr_churn_result *r, FILE *f, tsr_error *err);

/* The evaluation as JSON (methods, metrics, "roc" {method: [[fpr, tpr],
 * ...]} with <= 101 points, "lift" {method: [lift of deciles 1..10]},
 * reliability, importance, windows); *json owned by the caller (free()). */
TSR_API tsr_status tsr_churn_eval_json(const tsr_churn_result *r, char **json,
                                       tsr_error *err);

#ifdef __cplusplus
}
#endif
#endif
