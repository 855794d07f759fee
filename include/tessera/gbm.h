/*
 * tessera/gbm.h - gradient-boosted trees (XGBoost through its C API) for
 * binary classification and regression: training with a validation split
 * and early stopping, class weights, prediction, SHAP contributions and
 * model bytes for the store.
 *
 * Used by churn (tessera/churn.h), next-best-product propensities
 * (tessera/recommend.h) and uplift models. The wrapper hides XGBoost: no
 * XGBoost type or header appears here.
 *
 * Data: a dense row-major float matrix (n rows, nfeat columns); NaN marks a
 * missing value (XGBoost learns a default direction for it).
 *
 * Determinism: with the same data, parameters and seed the model bytes and
 * predictions are identical for any thread count (the split is ours and
 * seeded; XGBoost runs the "exact" greedy tree method by default, whose
 * per-feature sums do not depend on the thread partition; row and column
 * subsampling draw from XGBoost's generator seeded with `seed`). The tests
 * check this (tests/unit/test_gbm.c). TSR_GBM_HIST_FIXED makes histogram
 * trees invariant too, by construction (exact, order-free sums). Churn
 * switches to it above 50 000 fit rows (docs/predict.md).
 *
 * OpenMP: XGBoost's threads spin-wait between parallel regions unless the
 * environment has OMP_WAIT_POLICY=PASSIVE *before the process starts*
 * (libgomp reads it once at load). The tessera command re-executes itself
 * with it set; other programs must set it themselves (14-27x slowdowns on a
 * busy machine otherwise).
 *
 * Thread safety: a tsr_gbm must not be used by two threads at once;
 * distinct models may.
 */
#ifndef TESSERA_GBM_H
#define TESSERA_GBM_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tsr_gbm_objective {
  TSR_GBM_BINARY = 0,    /* y in {0,1}; predictions are probabilities
                            (binary:logistic), loss = log loss */
  TSR_GBM_REGRESSION = 1 /* y real; predictions are means
                            (reg:squarederror), loss = RMSE */
} tsr_gbm_objective;

typedef enum tsr_gbm_tree_method {
  TSR_GBM_EXACT = 0, /* exact greedy splits (default; thread-count invariant) */
  TSR_GBM_HIST = 1,  /* histogram (256 bins): faster on large data; the
                        tests check it too, but it is not documented by
                        XGBoost as thread-count invariant */
  TSR_GBM_HIST_FIXED = 2 /* histogram trees (TSR_GBM_MAX_BIN bins) on
                        gradients computed here and rounded to a power-of-
                        two grid fine enough for every sum XGBoost forms in
                        double to be exact: sums do not depend on their
                        order, so models are identical for any thread count
                        (early stopping on a validation loss summed here in
                        row order). Binary and regression objectives. */
} tsr_gbm_tree_method;

/* Histogram bins per feature of the hist methods. */
#define TSR_GBM_MAX_BIN 256

/* Hyper-parameters (documented in docs/predict.md). Every field has a range;
 * tsr_gbm_check_params names the one out of range. */
typedef struct tsr_gbm_params {
  tsr_gbm_objective objective;
  tsr_gbm_tree_method tree_method;
  int max_depth;           /* tree depth, 1..16; default 4 */
  double eta;              /* learning rate, (0, 1]; default 0.1 */
  int n_rounds;            /* maximum boosting rounds, 1..100000; default 500 */
  int early_stopping;      /* stop after this many rounds without a better
                              validation loss, 0 = off (all n_rounds);
                              default 30. The model keeps the best round. */
  double valid_fraction;   /* share of rows held out for early stopping when
                              no validation set is given, [0, 0.5]; default
                              0.2 (stratified by class for TSR_GBM_BINARY);
                              0 = no validation, no early stopping */
  double subsample;        /* row share per tree, (0, 1]; default 0.8 */
  double colsample;        /* feature share per tree, (0, 1]; default 0.8 */
  double min_child_weight; /* minimum hessian sum in a leaf, >= 0; default 1 */
  double lambda;           /* L2 penalty on leaf weights, >= 0; default 1 */
  double gamma;            /* minimum loss reduction to split, >= 0; default 0 */
  double pos_weight;       /* binary: weight of each positive row relative
                              to a negative one, > 0, or 0 = balanced
                              (n_negative / n_positive); default 1 (none).
                              Multiplies the row weights, if any. Weighted
                              models are not calibrated: calibrate with
                              tsr_calibrator (tessera/evaluate.h). */
  int threads;             /* 1..256, or 0 = all cores; default 0 */
  uint64_t seed;           /* split and subsampling seed; default 42 */
} tsr_gbm_params;

TSR_API void tsr_gbm_params_init(tsr_gbm_params *p);
TSR_API tsr_status tsr_gbm_check_params(const tsr_gbm_params *p, tsr_error *err);

/* A data set, borrowed. x: n * nfeat floats, row-major, NaN = missing.
 * y: n labels (0/1 for binary). w: n row weights >= 0, or NULL (all 1). */
typedef struct tsr_gbm_data {
  size_t n, nfeat;
  const float *x;
  const float *y;
  const float *w;
} tsr_gbm_data;

/* What training did. */
typedef struct tsr_gbm_info {
  int rounds;           /* rounds in the returned model (best iteration + 1) */
  int rounds_run;       /* rounds trained before stopping */
  double best_valid_loss; /* validation log loss (binary) or RMSE; NaN when
                             there was no validation set */
  double train_loss;    /* training loss at the kept round */
  size_t n_train, n_valid;
  double pos_weight;    /* the positive-class weight used (binary) */
  double seconds;       /* wall time of training */
} tsr_gbm_info;

typedef struct tsr_gbm tsr_gbm;

/* Trains a model. valid: NULL = hold out p->valid_fraction of train (seeded,
 * stratified for binary); else the given set (same nfeat) is the validation
 * set and all of train is used. info may be NULL. *out owned by the caller
 * (tsr_gbm_free). Errors: TSR_EINVAL bad params/data (a non-finite label, a
 * binary label other than 0/1, a negative weight, fewer than 2 rows; one
 * class only for binary, naming it), TSR_ENUMERIC XGBoost failed (its
 * message copied), TSR_ENOMEM. */
TSR_API tsr_status tsr_gbm_train(const tsr_gbm_params *p,
                                 const tsr_gbm_data *train,
                                 const tsr_gbm_data *valid, tsr_gbm **out,
                                 tsr_gbm_info *info, tsr_error *err);

TSR_API void tsr_gbm_free(tsr_gbm *m);

/* Number of features the model was trained on; its objective. */
TSR_API size_t tsr_gbm_nfeatures(const tsr_gbm *m);
TSR_API tsr_gbm_objective tsr_gbm_objective_of(const tsr_gbm *m);

/* Predictions for n rows of x (n * nfeat floats, row-major, NaN = missing):
 * out[i] = probability (binary) or mean (regression). out has n elements,
 * owned by the caller. */
TSR_API tsr_status tsr_gbm_predict(tsr_gbm *m, const float *x, size_t n,
                                   double *out, tsr_error *err);

/* SHAP contributions (exact TreeSHAP, XGBoost pred_contribs): out has
 * n * (nfeat + 1) elements, row-major; column j < nfeat is feature j's
 * contribution, column nfeat the bias (expected margin). Each row sums to
 * the margin: log-odds for binary, the prediction for regression.
 * approximate != 0 uses XGBoost's fast approximation (Saabas), which also
 * sums to the margin. */
TSR_API tsr_status tsr_gbm_contributions(tsr_gbm *m, const float *x, size_t n,
                                         int approximate, double *out,
                                         tsr_error *err);

/* Model bytes (XGBoost's JSON model, which records objective and features).
 * *buf owned by the caller (free()). */
TSR_API tsr_status tsr_gbm_save(tsr_gbm *m, char **buf, size_t *len,
                                tsr_error *err);
/* Loads bytes written by tsr_gbm_save; TSR_EPARSE when they are not a
 * model. threads as in tsr_gbm_params (prediction threads). */
TSR_API tsr_status tsr_gbm_load(const void *buf, size_t len, int threads,
                                tsr_gbm **out, tsr_error *err);

#ifdef __cplusplus
}
#endif
#endif
