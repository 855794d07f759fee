/*
 * retrain_predict.c - `tessera retrain` and the prediction models: when a
 * churn or next-best-product model is promoted (stored by `tessera churn
 * --db`, `tessera recommend --db` or `tessera analyze` on a bundle), retrain
 * fits a new version on the retrained data and promotes it by the rule of
 * tessera/predict_app.h (churn: test AUC not lower; next-best-product: the
 * blend's hit rate@3 not lower; or force).
 *
 * Data: the transactions are the retrain run's ledger (every kept file of
 * the chosen datasets, de-duplicated as for the BTYD models); the customer,
 * product and interaction tables are those kept beside the newest kept
 * bundle (app/analyze_predict.c, tsr__analyze_keep_bundle). Window: 90
 * days (TSR_ANALYZE_CHURN_WINDOW); the model is evaluated on the window
 * after the cutoff E - 90 and scores the present (E = the last day).
 */
#include "internal.h"
#include "analyze_predict.h"
#include "retrain_internal.h"
#include "tessera/predict_app.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void say(const tsr_retrain_opts *o, int level, const char *what, const char *msg) {
  if (!o->on_event) return;
  char line[TSR_ERROR_MSG_MAX + 300];
  snprintf(line, sizeof line, "%s%s", what, msg);
  o->on_event(o->ud, level, "retrain", line);
}

static int promoted(tsr_store *s, const char *kind) {
  tsr_model *m = NULL;
  int has = tsr_store_model_promoted(s, kind, &m, NULL) == TSR_OK && m;
  tsr_store_free(m);
  return has;
}

/* The outcome of a stored version into *p, as an event, and the retrain's
 * datasets added to its fit_stats. */
static tsr_status saved(const tsr_retrain_opts *o, tsr_store *s, struct tsr_retrain_predict *p,
                        const tsr_model_saved *sv, const char *stats, tsr_error *err) {
  p->id = sv->id;
  p->version = sv->version;
  p->promoted = sv->promoted;
  p->metric_new = sv->metric_new;
  p->metric_old = sv->metric_old;
  snprintf(p->why, sizeof p->why, "%s", sv->why);
  tsr_status st = tsr__retrain_add_stats(s, sv->id, stats, err);
  if (st == TSR_OK && o->on_event) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s v%lld %s: %s", p->kind, (long long)sv->version,
             sv->promoted ? "promoted" : "not promoted", sv->why);
    o->on_event(o->ud, 0, "retrain", msg);
  }
  return st;
}

/* A model that cannot be fitted on these data is said (warning, and in
 * p->why) and skipped; only running out of memory stops the retrain. */
static tsr_status not_fitted(const tsr_retrain_opts *o, struct tsr_retrain_predict *p,
                             const char *what, tsr_status st, const tsr_error *e, tsr_error *err) {
  snprintf(p->why, sizeof p->why, "not retrained: %.200s", e->msg);
  char head[64];
  snprintf(head, sizeof head, "%s model not retrained: ", what);
  say(o, 1, head, e->msg);
  return st == TSR_ENOMEM ? tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory")
                          : TSR_OK;
}

static struct tsr_retrain_predict *entry(tsr_retrain_result *out, const char *kind,
                                         const char *metric) {
  struct tsr_retrain_predict *p = &out->predict[out->n_predict++];
  memset(p, 0, sizeof *p);
  p->kind = kind;
  p->metric = metric;
  p->metric_new = p->metric_old = NAN;
  return p;
}

tsr_status tsr__retrain_predict(const tsr_retrain_opts *o, tsr_store *s, const tsr_ledger *lg,
                                const char *tables, int64_t run_id, int64_t end_day,
                                const char *stats, tsr_retrain_result *out, tsr_error *err) {
  const int W = TSR_ANALYZE_CHURN_WINDOW;
  tsr_status st = TSR_OK;
  tsr_error e;
  memset(&e, 0, sizeof e);
  if (promoted(s, "churn")) {
    struct tsr_retrain_predict *p = entry(out, "churn", "test AUC");
    tsr_churn_opts co;
    tsr_churn_opts_init(&co);
    co.window_days = W;
    co.cal_end_day = end_day - W; /* the latest complete window */
    co.ledger = lg;
    if (o->seed) co.gbm.seed = o->seed;
    tsr_churn_result *r = NULL;
    tsr_model_saved sv;
    st = tsr_churn_run(tables, &co, &r, &e);
    if (st != TSR_OK) {
      st = not_fitted(o, p, "churn", st, &e, err);
    } else {
      st = tsr_churn_model_store(s, r, run_id, o->force, &sv, err);
      if (st == TSR_OK) st = saved(o, s, p, &sv, stats, err);
    }
    tsr_churn_result_free(r);
    if (st != TSR_OK) return st;
  }
  if (promoted(s, "nbp")) {
    struct tsr_retrain_predict *p = entry(out, "nbp", "hit rate@3");
    tsr_nbp_opts no;
    tsr_nbp_opts_init(&no);
    no.window_days = W;
    no.cal_end_day = end_day - W;
    no.ledger = lg;
    if (o->seed) no.seed = o->seed;
    tsr_nbp_result *r = NULL;
    tsr_model_saved sv;
    if (!tables) {
      tsr_error_set(&e, TSR_EINVAL, NULL, 0, 0, NULL,
                    "no product events kept (analyze a bundle with --keep-input)");
      st = not_fitted(o, p, "next-best-product", TSR_EINVAL, &e, err);
    } else if ((st = tsr_nbp_run(tables, &no, &r, &e)) != TSR_OK) {
      st = not_fitted(o, p, "next-best-product", st, &e, err);
    } else {
      st = tsr_nbp_model_store(s, r, run_id, o->force, &sv, err);
      if (st == TSR_OK) st = saved(o, s, p, &sv, stats, err);
    }
    tsr_nbp_result_free(r);
  }
  return st;
}
