/*
 * analyze_predict.h - churn risk and next-best-product in `tessera analyze`
 * on a bundle (app/analyze_predict.c; docs/analyze.md "Predictions").
 * Not public API.
 */
#ifndef TSR_ANALYZE_PREDICT_H
#define TSR_ANALYZE_PREDICT_H

#include <stddef.h>

#include "tessera/analyze.h"
#include "tessera/store.h"

/* The churn window of analyze: days. */
#define TSR_ANALYZE_CHURN_WINDOW 90

/* Runs churn (and next-best-product when the bundle has product events) on
 * the bundle's folder; the results go to res->predict, the models to the
 * store (when given, with run res->run_id). A model that cannot be fitted
 * on these data (too few customers, one class, too short a history, no
 * product events) is left out and said in note[] (a warning for the event
 * log; "" when all went well): the run goes on. Errors: TSR_ENOMEM and
 * store failures. */
tsr_status tsr__analyze_predict(const tsr_analyze_opts *o, tsr_store *store,
                                tsr_analyze_result *res, char *note, size_t cap,
                                tsr_error *err);
/* Writes churn.csv, churn_eval.json, nbp.csv into dir and adds the columns
 * churn_probability, churn_reason_1, next_best_product to dir/profiles.csv;
 * appends the file names to files (a jansson array). */
struct json_t;
tsr_status tsr__analyze_predict_write(const tsr_analyze_result *r, const char *dir,
                                      struct json_t *files, tsr_error *err);
void tsr__analyze_predict_free(struct tsr__predict_out *p);

#endif
