/*
 * gbm_internal.h - what the churn model needs of the XGBoost wrapper beyond
 * tessera/gbm.h: training that also hands back the validation predictions,
 * and approximate (Saabas) contributions computed here from the trees.
 * Not public API.
 */
#ifndef TSR_PREDICT_GBM_INTERNAL_H
#define TSR_PREDICT_GBM_INTERNAL_H

#include <stddef.h>

#include "tessera/error.h"
#include "tessera/gbm.h"

/* Rows of the first call of tsr__gbm_contributions_approx compared with
 * XGBoost's own approximate contributions. */
#define TSR__GBM_APPROX_CHECK 256

/* tsr_gbm_train with a validation set valid (required), writing also the
 * returned model's predictions on valid's rows into valid_pred (valid->n
 * doubles, the caller's): with TSR_GBM_HIST_FIXED those early stopping made
 * at the kept round (no second prediction), else tsr_gbm_predict's. Either
 * way they equal tsr_gbm_predict(*out, valid->x, valid->n) value for value
 * (tests/unit/predict/test_gbm.c). Errors as tsr_gbm_train. */
tsr_status tsr__gbm_train_valid(const tsr_gbm_params *p, const tsr_gbm_data *train,
                                const tsr_gbm_data *valid, tsr_gbm **out, tsr_gbm_info *info,
                                double *valid_pred, tsr_error *err);

/* tsr_gbm_contributions(m, x, n, 1, out, err) - XGBoost's approximate
 * contributions (Saabas: each split on a row's path gives its feature the
 * change of the node mean; XGBoost's RegTree::CalculateContributionsApprox)
 * - computed here from the trees of the model (parsed once, kept in m),
 * float for float as XGBoost does. The first call compares its first
 * TSR__GBM_APPROX_CHECK rows with XGBoost's; when any value differs (an
 * XGBoost that computes otherwise), this and every later call of m use
 * XGBoost. *fallback (may be NULL) = 1 then, else 0. */
tsr_status tsr__gbm_contributions_approx(tsr_gbm *m, const float *x, size_t n, double *out,
                                         int *fallback, tsr_error *err);

/* Predictions (pred: n doubles, equal to tsr_gbm_predict's) and/or
 * approximate contributions (contrib: n x (nfeat + 1) doubles, equal to
 * tsr_gbm_contributions(m, x, n, 1, ...)'s) of the rows x, each row walked
 * once through the trees here (parsed once, kept in m; the prediction is
 * the leaf values summed in float in tree order from the base margin, then
 * XGBoost's sigmoid). Either output may be NULL, not both. The rows are
 * split over `threads` threads (0 = the online cores, at most 8; one below
 * 20 000 rows): the same values for any count. The first call of m
 * compares both outputs on its first TSR__GBM_APPROX_CHECK rows with
 * XGBoost's; an output that differs (an XGBoost that computes otherwise)
 * comes from XGBoost in this and every later call. *fallback (may be NULL)
 * = 1 when the predictions came from XGBoost, | 2 the contributions, else
 * 0. tsr__gbm_contributions_approx is this with pred = NULL, one thread. */
tsr_status tsr__gbm_walk(tsr_gbm *m, const float *x, size_t n, double *pred, double *contrib,
                         int threads, int *fallback, tsr_error *err);

/* tsr_gbm_predict of the rows rows[0..n) of x (nfeat floats each; rows
 * NULL: x[0..n)) by tsr__gbm_walk's walk of the trees (one thread; the
 * caller splits rows over its threads), without XGBoost's data matrix. The
 * first call of m makes tsr__gbm_walk's check on its first
 * TSR__GBM_APPROX_CHECK rows (it mutates m: make it on one thread); when
 * the walk's predictions differ from XGBoost's (an XGBoost that computes
 * otherwise, a model not read), this and every later call of m use
 * XGBoost and *fallback (may be NULL) = 1, else 0. */
tsr_status tsr__gbm_predict_walk(tsr_gbm *m, const float *x, const size_t *rows, size_t n,
                                 double *out, int *fallback, tsr_error *err);

#endif
