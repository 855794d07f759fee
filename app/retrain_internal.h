/*
 * retrain_internal.h - the parts of `tessera retrain` shared by
 * app/retrain.c and app/retrain_predict.c. Not public API.
 */
#ifndef TSR_RETRAIN_INTERNAL_H
#define TSR_RETRAIN_INTERNAL_H

#include <stdint.h>

#include "tessera/ingest.h"
#include "tessera/retrain.h"
#include "tessera/store.h"

/* Adds the JSON object members text ("\"k\":v,...") to the fit_stats of
 * model id. */
tsr_status tsr__retrain_add_stats(tsr_store *s, int64_t id, const char *members, tsr_error *err);

/* Retrains the churn and next-best-product models that are in use (a
 * version promoted) on the ledger lg of the retrain run run_id (last day
 * end_day), with the customer, product and interaction tables of folder
 * tables (NULL: none kept); each new version is stored with stats (JSON
 * members) added to its evaluation and promoted by the rule of
 * tessera/predict_app.h; out->predict[] says what happened. A model that
 * cannot be fitted on these data is a warning event, not an error. */
tsr_status tsr__retrain_predict(const tsr_retrain_opts *o, tsr_store *s, const tsr_ledger *lg,
                                const char *tables, int64_t run_id, int64_t end_day,
                                const char *stats, tsr_retrain_result *out, tsr_error *err);

#endif
