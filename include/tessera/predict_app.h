/*
 * tessera/predict_app.h - the prediction models (churn, next-best-product)
 * as versioned models of the store, and their place in `tessera analyze`
 * on a bundle (docs/predict.md "Stored models", docs/analyze.md).
 *
 * Promotion rule (the same as the BTYD models': the new version is
 * promoted when it is not worse on its evaluation, when nothing is
 * promoted yet, or with force): churn compares the test AUC of the model
 * ("methods"."xgboost"."auc" of the evaluation), next-best-product the
 * blend's hit rate@3.
 */
#ifndef TESSERA_PREDICT_APP_H
#define TESSERA_PREDICT_APP_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/churn.h"
#include "tessera/error.h"
#include "tessera/recommend.h"
#include "tessera/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsr_model_saved {
  int64_t id, version;     /* the stored version */
  int promoted;            /* 1 when it is now the promoted version */
  double metric_new;       /* its evaluation metric (AUC or hit rate@3) */
  double metric_old;       /* the promoted version's before (NaN: none) */
  char why[200];           /* why (not) promoted, in words */
} tsr_model_saved;

/* Stores the present churn model (params = r->model_json, fit_stats = the
 * evaluation JSON) as a new version of kind "churn"; run_id 0 = none. */
TSR_API tsr_status tsr_churn_model_store(tsr_store *s, const tsr_churn_result *r, int64_t run_id,
                                         int force, tsr_model_saved *out, tsr_error *err);

/* The next-best-product evaluation as JSON: {"calibration_end", "window_days",
 * "users", "scorers": {name: {"hit_rate","ndcg","map"}}, "weights": {...},
 * "product_auc": {product: auc|null}}; *json owned (free()). */
TSR_API tsr_status tsr_nbp_eval_json(const tsr_nbp_result *r, char **json, tsr_error *err);
/* Stores kind "nbp" (params: products, goal families and blend weights;
 * fit_stats: tsr_nbp_eval_json). */
TSR_API tsr_status tsr_nbp_model_store(tsr_store *s, const tsr_nbp_result *r, int64_t run_id,
                                       int force, tsr_model_saved *out, tsr_error *err);

#ifdef __cplusplus
}
#endif
#endif
