/*
 * retrain_predict.c - `tessera retrain` and the churn model: when a churn
 * model is promoted (stored by `tessera churn --db` or `tessera analyze` on
 * a bundle), retrain fits a new version on the retrained data and promotes
 * it by the rule of tessera/predict_app.h (test AUC not lower, or force).
 * Window: 90 days, trained on the latest complete window.
 */
#include "internal.h"
#include "tessera/predict_app.h"
#include "tessera/retrain.h"

#include <stdio.h>
#include <string.h>

/* input: the retrained transaction file; end_day: its last day. */
tsr_status tsr__retrain_churn(const tsr_retrain_opts *o, tsr_store *s, const char *input,
                              int64_t run_id, int64_t end_day, tsr_error *err);

tsr_status tsr__retrain_churn(const tsr_retrain_opts *o, tsr_store *s, const char *input,
                              int64_t run_id, int64_t end_day, tsr_error *err) {
  tsr_model *old = NULL;
  if (tsr_store_model_promoted(s, "churn", &old, NULL) != TSR_OK || !old) return TSR_OK;
  tsr_store_free(old);
  tsr_churn_opts co;
  tsr_churn_opts_init(&co);
  co.window_days = 90;
  co.score = 1;
  if (o->seed) co.gbm.seed = o->seed;
  /* the latest complete window of the data */
  co.cal_end_day = end_day - 90;
  tsr_churn_result *r = NULL;
  tsr_error e;
  memset(&e, 0, sizeof e);
  tsr_status st = tsr_churn_run(input, &co, &r, &e);
  if (st != TSR_OK) {
    if (o->on_event) {
      char msg[TSR_ERROR_MSG_MAX + 64];
      snprintf(msg, sizeof msg, "churn model not retrained: %s", e.msg);
      o->on_event(o->ud, 1, "retrain", msg);
    }
    return st == TSR_ENOMEM ? tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory") : TSR_OK;
  }
  tsr_model_saved sv;
  st = tsr_churn_model_store(s, r, run_id, o->force, &sv, err);
  if (st == TSR_OK && o->on_event) {
    char msg[400];
    snprintf(msg, sizeof msg, "churn v%lld %s: %s", (long long)sv.version,
             sv.promoted ? "promoted" : "not promoted", sv.why);
    o->on_event(o->ud, 0, "retrain", msg);
  }
  tsr_churn_result_free(r);
  return st;
}
