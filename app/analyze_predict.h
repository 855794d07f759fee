/*
 * analyze_predict.h - churn risk and next-best-product in `tessera analyze`
 * on a bundle (app/analyze_predict.c; docs/analyze.md "Predictions").
 * Not public API.
 */
#ifndef TSR_ANALYZE_PREDICT_H
#define TSR_ANALYZE_PREDICT_H

#include <stddef.h>
#include <stdio.h>

#include "tessera/analyze.h"
#include "tessera/store.h"

/* The churn window of analyze: days. */
#define TSR_ANALYZE_CHURN_WINDOW 90

/* 1 when the run's ingest (o->inputs, o->ingest) gives the very ledger the
 * models read alone (the bundle's transaction file with the default ingest
 * options and the transactions' date form of o->bundle_opts); else 0, and
 * why[] (may be NULL) names the first difference. */
int tsr__analyze_predict_shares(const tsr_analyze_opts *o, char *why, size_t cap);
/* Starts churn and next-best-product of a bundle run on a thread of their
 * own, once res->ledger is final (after the ingest, the exclusion of
 * anomalies and the re-keying): it reads the last transaction day there,
 * then touches only *res->predict (never the store). *raw (raw may be NULL;
 * *raw NULL: the models read the file again): the run's ledger as ingested,
 * before the exclusion and the re-keying, when tsr__analyze_predict_shares;
 * taken over (freed here) unless it is res->ledger, which both threads
 * then only read; *raw is set to NULL. The results go to res->predict;
 * tsr_analyze_result_free waits for the thread. No thread with
 * TESSERA_PREDICT_THREADS=0 (or when none can be started): the models then
 * run in tsr__analyze_predict. Errors: TSR_ENOMEM. */
tsr_status tsr__analyze_predict_start(const tsr_analyze_opts *o, tsr_analyze_result *res,
                                      tsr_ledger **raw, tsr_error *err);
/* 1 when a bundle run starts the models as soon as its ledger's days are
 * final (before the entity resolution and the re-keying: app/analyze.c
 * step_ingest); 0 with TESSERA_PREDICT_THREADS=0 (no thread: the models
 * start after the dataset is stored, the sequential order). */
int tsr__analyze_predict_early(void);
/* The ledger raw, lent to the models by tsr__analyze_predict_start while
 * it was res->ledger, after the re-keying: when it is res->ledger no
 * longer, it is handed to the models (freed by the last of them to read
 * it) or freed now (no model reads it any more); else nothing happens. */
void tsr__analyze_predict_adopt(tsr_analyze_result *res, tsr_ledger *raw);
/* Which ledger the models read (for the event log; "" without models). */
const char *tsr__analyze_predict_source(const struct tsr__predict_out *p);
/* Waits for the models started by tsr__analyze_predict_start (or runs
 * them, when not started: churn, and next-best-product when the bundle has
 * product events, on the bundle's transactions and tables); the models go
 * to the store (when given, with run res->run_id). A model that cannot be fitted
 * on these data (too few customers, one class, too short a history, no
 * product events) is left out and said in note[] (a warning for the event
 * log; "" when all went well): the run goes on. Errors: TSR_ENOMEM and
 * store failures. */
tsr_status tsr__analyze_predict(const tsr_analyze_opts *o, tsr_store *store,
                                tsr_analyze_result *res, char *note, size_t cap,
                                tsr_error *err);
/* Writes churn.csv, churn_eval.json, nbp.csv, goals.csv into dir;
 * appends the file names to files (a jansson array). */
struct json_t;
tsr_status tsr__analyze_predict_write(const tsr_analyze_result *r, const char *dir,
                                      struct json_t *files, tsr_error *err);
/* The prediction columns of profiles.csv (churn_probability,
 * churn_reason_1, next_best_product, goal_home, goal_retirement,
 * goal_saving, goal_travel, goal_business_growth), written with it
 * (tsr__profiles_write_head, tsr__profiles_rows_text): *out NULL when the
 * run has no predictions. Errors: TSR_ENOMEM. tsr__predict_cols_head
 * writes the header's columns; tsr__predict_cols_row (ctx a cursor, one
 * per thread, hints zero at first: the positions of the last ids found,
 * rows in id order find the next id right after) appends a row's. */
struct tsr__predict_cols;
struct tsr__tb_s;
struct tsr__predict_cursor {
  const struct tsr__predict_cols *pc;
  size_t hc, hr;
};
tsr_status tsr__predict_cols_init(const tsr_analyze_result *r, struct tsr__predict_cols **out,
                                  tsr_error *err);
void tsr__predict_cols_head(void *ctx, FILE *f);
void tsr__predict_cols_row(void *ctx, size_t i, const char *id, struct tsr__tb_s *out);
void tsr__predict_cols_free(struct tsr__predict_cols *pc);
void tsr__analyze_predict_free(struct tsr__predict_out *p);
/* tsr_analyze_write_files in two parts (app/analyze_write.c), so that a
 * bundle run writes the files that do not depend on churn or
 * next-best-product while its models end: _begin creates dir, removes
 * dir/run.json and writes every file but the models' and profiles.csv
 * (*files: their names, for run.json, profiles.csv among them); _end writes
 * profiles.csv with the models' columns and the models' files
 * (tsr__analyze_predict_write), then run.json, and frees files. */
tsr_status tsr__analyze_write_begin(const tsr_analyze_result *r, const tsr_analyze_opts *o,
                                   const char *dir, struct json_t **files, tsr_error *err);
tsr_status tsr__analyze_write_end(const tsr_analyze_result *r, const char *dir,
                                  struct json_t *files, tsr_error *err);
/* customers.csv of r written early (issue 18: beside the clusters'
 * profiles and the KPIs, which it does not read) into DIR's temporary file
 * of that name, complete and synced but not in place: tmp (cap bytes) its
 * path, "" when none is left (an error, the file removed). DIR is created
 * when missing (*made_dir 1: a failed run removes it again).
 * tsr__analyze_write_files_with puts it in place, in its turn among the
 * files (or removes it when a file before it fails): the folder as
 * tsr_analyze_write_files leaves it. */
tsr_status tsr__analyze_customers_early(const tsr_analyze_result *r, const char *dir, char *tmp,
                                        size_t cap, int *made_dir, tsr_error *err);
/* tsr_analyze_write_files with customers.csv from cust_tmp (NULL: made
 * here). */
tsr_status tsr__analyze_write_files_with(const tsr_analyze_result *r, const tsr_analyze_opts *o,
                                         const char *dir, const char *cust_tmp, tsr_error *err);

/* `analyze --keep-input` on a bundle: keeps folder keep_dir/<sum>/ with
 * transactions.csv (a copy of the transaction file) and the tables the
 * prediction models read, rewritten with standard headers and ISO dates so
 * they read back without the run's options: customers.csv (customer_id,
 * birth_date, join_date, income_band, risk_score: no names, e-mails,
 * phones or addresses), products_events.csv (customer_id, date, product_opened,
 * event) and interactions.csv (customer_id, timestamp, channel, topic,
 * message). *out = the kept transactions.csv path (tsr__free). `tessera
 * retrain` finds the tables beside it (docs/store.md "Retraining"). */
tsr_status tsr__analyze_keep_bundle(const tsr_analyze_opts *o, const char *sum, char **out,
                                    tsr_error *err);
/* Copies file src to dst (created or truncated); app/analyze.c. */
tsr_status tsr__copy_file(const char *src, const char *dst, tsr_error *err);

#endif
