/*
 * retrain.c - model versions retrained on stored data, their evaluation
 * against the promoted version, promotion, and segment migration between
 * runs (tessera/retrain.h; rules in docs/store.md, "Retraining").
 */
#include "internal.h"
#include "base/textbuf.h"
#include "tessera/retrain.h"
#include "retrain_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tessera/analyze.h"
#include "tessera/datetime.h"

void tsr_retrain_opts_init(tsr_retrain_opts *o) {
  memset(o, 0, sizeof *o);
  o->cal_end_day = INT64_MIN;
  o->model = "bgnbd";
  o->cluster = "kmeans";
}

/* ================================================================ events */

static void rt_event(const tsr_retrain_opts *o, int level, const char *step,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Formats one event line for the caller's callback. */
static void rt_event(const tsr_retrain_opts *o, int level, const char *step,
                     const char *fmt, ...) {
  if (!o->on_event) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  o->on_event(o->ud, level, step, msg);
}

/* ================================================================ datasets */

typedef struct ds_item {
  int64_t id, created_at;
  char *stored_path; /* owned */
  char *options;     /* owned, or NULL */
} ds_item;

typedef struct ds_list {
  ds_item *v;
  size_t n, cap;
  int oom;
} ds_list;

/* Keeps a copy of every dataset row. */
static int collect_ds(void *ctx, const tsr_dataset *d) {
  ds_list *l = ctx;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    ds_item *nv = tsr__realloc(l->v, cap * sizeof *nv);
    if (!nv) {
      l->oom = 1;
      return 1;
    }
    l->v = nv;
    l->cap = cap;
  }
  ds_item *it = &l->v[l->n];
  it->id = d->id;
  it->created_at = d->created_at;
  it->stored_path = d->stored_path ? tsr__strdup(d->stored_path) : NULL;
  it->options = d->options ? tsr__strdup(d->options) : NULL;
  if ((d->stored_path && !it->stored_path) || (d->options && !it->options)) {
    tsr__free(it->stored_path);
    tsr__free(it->options);
    l->oom = 1;
    return 1;
  }
  l->n++;
  return 0;
}

static void ds_list_release(ds_list *l) {
  for (size_t i = 0; i < l->n; i++) {
    tsr__free(l->v[i].stored_path);
    tsr__free(l->v[i].options);
  }
  tsr__free(l->v);
}

static int cmp_ds_id(const void *a, const void *b) {
  const ds_item *x = a, *y = b;
  return x->id < y->id ? -1 : x->id > y->id;
}

/* ================================================================ evaluation */

/* Holdout MAE and calibration log-likelihood of model m on the split
 * summary s. */
static tsr_status score_model(const tsr_btyd_model *m, const tsr_summary *s, double *mae,
                              double *ll, tsr_error *err) {
  size_t n = s->n;
  double *x = tsr__malloc((n ? n : 1) * sizeof *x), *tx = tsr__malloc((n ? n : 1) * sizeof *tx),
         *T = tsr__malloc((n ? n : 1) * sizeof *T);
  tsr_status st = TSR_OK;
  if (!x || !tx || !T) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto out;
  }
  double sum = 0;
  for (size_t i = 0; i < n; i++) {
    const tsr_summary_row *r = &s->rows[i];
    x[i] = r->frequency;
    tx[i] = r->recency;
    T[i] = r->T;
    double pred = 0;
    st = tsr_btyd_conditional(m, r->frequency, r->recency, r->T, r->duration_holdout, &pred, NULL,
                              err);
    if (st != TSR_OK) goto out;
    sum += fabs(pred - r->frequency_holdout);
  }
  *mae = n ? sum / (double)n : NAN;
  tsr_btyd_data d = {n, x, tx, T, NULL, NULL};
  st = tsr_btyd_loglik(m, &d, ll, err);
out:
  tsr__free(x);
  tsr__free(tx);
  tsr__free(T);
  return st;
}

/* ================================================================ stability */

typedef struct old_row {
  char *id;      /* owned */
  char *segment; /* owned, or NULL */
  int64_t cluster;
} old_row;

typedef struct old_rows {
  old_row *v;
  size_t n, cap;
  int oom;
} old_rows;

static int collect_old(void *ctx, const tsr_customer *c) {
  old_rows *o = ctx;
  if (o->n == o->cap) {
    size_t cap = o->cap ? o->cap * 2 : 1024;
    old_row *nv = tsr__realloc(o->v, cap * sizeof *nv);
    if (!nv) {
      o->oom = 1;
      return 1;
    }
    o->v = nv;
    o->cap = cap;
  }
  old_row *r = &o->v[o->n];
  r->id = tsr__strdup(c->customer_id);
  r->segment = c->segment ? tsr__strdup(c->segment) : NULL;
  r->cluster = c->cluster;
  if (!r->id || (c->segment && !r->segment)) {
    tsr__free(r->id);
    tsr__free(r->segment);
    o->oom = 1;
    return 1;
  }
  o->n++;
  return 0;
}

static void old_rows_release(old_rows *o) {
  for (size_t i = 0; i < o->n; i++) {
    tsr__free(o->v[i].id);
    tsr__free(o->v[i].segment);
  }
  tsr__free(o->v);
}

static int cmp_old_id(const void *a, const void *b) {
  return strcmp(((const old_row *)a)->id, ((const old_row *)b)->id);
}

static int same_str(const char *a, const char *b) {
  if (!a || !b) return a == b;
  return !strcmp(a, b);
}

#define MAXK 128

/* Share of customers of the old run (present in res) whose segment changed,
 * and whose cluster changed once each old cluster is matched to the new
 * cluster it overlaps most. */
static tsr_status stability(tsr_store *s, int64_t old_run, const tsr_analyze_result *res,
                            double *seg_changed, double *clu_changed, size_t *common,
                            tsr_error *err) {
  *seg_changed = *clu_changed = NAN;
  *common = 0;
  old_rows o = {0};
  tsr_customer_query q;
  tsr_customer_query_init(&q, old_run);
  tsr_status st = tsr_store_customers_list(s, &q, collect_old, &o, err);
  if (st == TSR_OK && o.oom) st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  if (st != TSR_OK || o.n == 0) {
    old_rows_release(&o);
    return st;
  }
  qsort(o.v, o.n, sizeof *o.v, cmp_old_id);
  int64_t(*overlap)[MAXK] = tsr__calloc(MAXK, sizeof *overlap);
  size_t nseg = 0, nclu = 0, ncommon = 0;
  int64_t *match_idx = tsr__malloc((res->summary->n ? res->summary->n : 1) * sizeof *match_idx);
  if (!match_idx || !overlap) {
    tsr__free(match_idx);
    tsr__free(overlap);
    old_rows_release(&o);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  for (size_t i = 0; i < res->summary->n; i++) {
    match_idx[i] = -1;
    old_row key = {(char *)res->summary->rows[i].customer_id, NULL, 0};
    old_row *hit = bsearch(&key, o.v, o.n, sizeof *o.v, cmp_old_id);
    if (!hit) continue;
    match_idx[i] = hit - o.v;
    ncommon++;
    if (!same_str(hit->segment, res->segment[i])) nseg++;
    if (res->clusters && hit->cluster >= 0 && hit->cluster < MAXK && res->clusters->labels[i] >= 0 &&
        res->clusters->labels[i] < MAXK)
      overlap[hit->cluster][res->clusters->labels[i]]++;
  }
  if (ncommon) {
    *seg_changed = (double)nseg / (double)ncommon;
    if (res->clusters) {
      int map[MAXK];
      for (int a = 0; a < MAXK; a++) {
        int best = -1;
        int64_t bv = 0;
        for (int b = 0; b < MAXK; b++)
          if (overlap[a][b] > bv) {
            bv = overlap[a][b];
            best = b;
          }
        map[a] = best;
      }
      for (size_t i = 0; i < res->summary->n; i++) {
        if (match_idx[i] < 0) continue;
        int64_t oc = o.v[match_idx[i]].cluster;
        int nc = res->clusters->labels[i];
        if (oc < 0 || oc >= MAXK || map[oc] != nc) nclu++;
      }
      *clu_changed = (double)nclu / (double)ncommon;
    }
  }
  *common = ncommon;
  tsr__free(overlap);
  tsr__free(match_idx);
  old_rows_release(&o);
  return TSR_OK;
}

/* ================================================================ models of a run */

typedef struct run_models {
  int64_t btyd, spend, cluster;
  const char *kind;
  const char *cluster_kind;
} run_models;

static int collect_models(void *ctx, const tsr_model *m) {
  run_models *r = ctx;
  if (!strcmp(m->kind, r->kind)) r->btyd = m->id;
  else if (!strcmp(m->kind, "gg")) r->spend = m->id;
  else if (r->cluster_kind && !strcmp(m->kind, r->cluster_kind)) r->cluster = m->id;
  return 0;
}

/* Adds object `add` to the fit_stats of model id. */
static tsr_status merge_stats(tsr_store *s, int64_t id, json_t *add, tsr_error *err) {
  tsr_model *m = NULL;
  tsr_status st = tsr_store_model_get(s, id, &m, err);
  if (st != TSR_OK) return st;
  json_t *j = m->fit_stats ? json_loads(m->fit_stats, 0, NULL) : NULL;
  tsr_store_free(m);
  if (!j || !json_is_object(j)) {
    json_decref(j);
    j = json_object();
  }
  json_object_update(j, add);
  char *txt = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(j);
  if (!txt) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  st = tsr_store_model_set_stats(s, id, txt, err);
  free(txt);
  return st;
}

tsr_status tsr__retrain_add_stats(tsr_store *s, int64_t id, const char *members, tsr_error *err) {
  tsr__tb b = {0};
  tsr__tb_printf(&b, "{%s}", members);
  char *txt = tsr__tb_take(&b);
  json_t *add = txt ? json_loads(txt, 0, NULL) : NULL;
  tsr__free(txt);
  if (!add) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  tsr_status st = merge_stats(s, id, add, err);
  json_decref(add);
  return st;
}

static json_t *jnum_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* ================================================================ run */

/* 3. Backtest: the same pipeline on the calibration part of the data
 * (*cal), scored on its holdout (out->mae_new, out->loglik_new). */
static tsr_status backtest(const tsr_retrain_opts *o, const tsr_analyze_opts *ao,
                           const tsr_analyze_result *full, const char *mname,
                           tsr_retrain_result *out, tsr_analyze_result **cal, tsr_error *err) {
  tsr_status st = TSR_OK;
  int64_t first = full->kpis.first_day, last = full->summary->end_day;
  int64_t cal_end = o->cal_end_day;
  if (cal_end == INT64_MIN) cal_end = first + (int64_t)floor(0.75 * (double)(last - first));
  out->cal_end_day = cal_end;
  if (cal_end <= first || cal_end >= last) {
    char d1[11], d2[11];
    st = tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "calibration-end",
                       "retrain: calibration end must fall inside the data (%s .. %s)",
                       tsr_day_format(first, d1), tsr_day_format(last, d2));
  }
  if (st == TSR_OK) {
    tsr_analyze_opts co = *ao;
    co.summary.cal_end_day = cal_end;
    co.summary.end_day = last;
    co.cluster = "none";
    co.command = NULL;
    co.dataset_id = 0;
    co.on_event = NULL;
    st = tsr_analyze_run(&co, NULL, cal, err);
  }
  if (st == TSR_OK && !(*cal)->has_model)
    st = tsr_error_set(err, TSR_ECONVERGE, NULL, 0, 0, NULL,
                       "retrain: the %s model could not be fitted on the calibration window",
                       mname);
  if (st == TSR_OK) st = score_model(&(*cal)->model, (*cal)->summary, &out->mae_new, &out->loglik_new, err);
  return st;
}

/* 4. The promoted version (*old, if any) scored on the same calibration
 * data, and the stability of segments and clusters against its run. */
static tsr_status compare_promoted(tsr_store *s, const char *mname, const tsr_analyze_result *full,
                                   const tsr_analyze_result *cal, tsr_retrain_result *out,
                                   tsr_model **old, tsr_error *err) {
  tsr_status st = TSR_OK;
  tsr_error e2;
  if (tsr_store_model_promoted(s, mname, old, &e2) == TSR_OK) {
    out->old_model_id = (*old)->id;
    out->old_model_version = (*old)->version;
    tsr_btyd_model om;
    tsr_error e3;
    if ((*old)->params && tsr_btyd_model_from_json((*old)->params, strlen((*old)->params), "model", &om, &e3) == TSR_OK)
      st = score_model(&om, cal->summary, &out->mae_old, &out->loglik_old, err);
    if (st == TSR_OK && (*old)->run_id > 0)
      st = stability(s, (*old)->run_id, full, &out->segment_changed, &out->cluster_changed,
                     &out->compared_customers, err);
  }
  return st;
}

/* 5a. The rule: promote when not worse on both holdout MAE and
 * log-likelihood (or nothing is promoted yet, or o->force). */
static void decide(const tsr_retrain_opts *o, const char *mname, tsr_retrain_result *out) {
  const double tol = 1e-9;
  int better_mae = !(out->mae_new > out->mae_old * (1 + tol) + tol);
  int better_ll = !(out->loglik_new < out->loglik_old - tol * fabs(out->loglik_old) - tol);
  if (!out->old_model_id) {
    out->promoted = 1;
    snprintf(out->reason, sizeof out->reason, "no promoted %s model yet", mname);
  } else if (isnan(out->mae_old) || isnan(out->loglik_old)) {
    out->promoted = 1;
    snprintf(out->reason, sizeof out->reason, "the promoted version cannot be scored");
  } else if (better_mae && better_ll) {
    out->promoted = 1;
    snprintf(out->reason, sizeof out->reason,
             "not worse: holdout MAE %.6g <= %.6g and log-likelihood %.6g >= %.6g", out->mae_new,
             out->mae_old, out->loglik_new, out->loglik_old);
  } else {
    snprintf(out->reason, sizeof out->reason, "worse: %s", !better_mae
                 ? "holdout MAE higher than the promoted version's"
                 : "log-likelihood lower than the promoted version's");
    if (o->force) {
      out->promoted = 1;
      size_t k = strlen(out->reason);
      snprintf(out->reason + k, sizeof out->reason - k, " (promoted anyway: forced)");
    }
  }
}

/* 5b. The evaluation stored with the new models, and their promotion, in
 * one transaction. */
static tsr_status record_evaluation(const tsr_retrain_opts *o, tsr_store *s, const char *mname,
                                    tsr_retrain_result *out, tsr_error *err) {
  tsr_status st;
  json_t *ev = json_object();
  json_object_set_new(ev, "calibration_end", json_string(tsr_day_format(out->cal_end_day, (char[11]){0})));
  json_object_set_new(ev, "end", json_string(tsr_day_format(out->end_day, (char[11]){0})));
  json_object_set_new(ev, "holdout_mae", jnum_or_null(out->mae_new));
  json_object_set_new(ev, "calibration_loglik", jnum_or_null(out->loglik_new));
  json_object_set_new(ev, "compared_to_model", out->old_model_id ? json_integer(out->old_model_id) : json_null());
  json_object_set_new(ev, "compared_to_version", out->old_model_id ? json_integer(out->old_model_version) : json_null());
  json_object_set_new(ev, "previous_holdout_mae", jnum_or_null(out->mae_old));
  json_object_set_new(ev, "previous_calibration_loglik", jnum_or_null(out->loglik_old));
  json_object_set_new(ev, "segment_changed_share", jnum_or_null(out->segment_changed));
  json_object_set_new(ev, "cluster_changed_share", jnum_or_null(out->cluster_changed));
  json_object_set_new(ev, "compared_customers", json_integer((json_int_t)out->compared_customers));
  json_object_set_new(ev, "promoted", json_boolean(out->promoted));
  json_object_set_new(ev, "forced", json_boolean(o->force && out->promoted && strstr(out->reason, "promoted anyway")));
  json_object_set_new(ev, "reason", json_string(out->reason));
  json_t *add = json_object();
  json_object_set_new(add, "evaluation", ev);
  if (!ev || !add)
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  else
    st = tsr_store_begin(s, err);
  int64_t ids[3] = {out->model_id, out->spend_id, out->cluster_id};
  for (int k = 0; k < 3 && st == TSR_OK; k++) {
    if (!ids[k]) continue;
    st = merge_stats(s, ids[k], add, err);
    if (st == TSR_OK && out->promoted) st = tsr_store_model_promote(s, ids[k], err);
  }
  if (st == TSR_OK)
    st = tsr_store_commit(s, err);
  else
    tsr_store_rollback(s, NULL);
  json_decref(add);
  if (st == TSR_OK)
    rt_event(o, 0, "retrain", "%s v%lld %s: %s", mname, (long long)out->model_version,
             out->promoted ? "promoted" : "not promoted", out->reason);
  return st;
}

/* The folder of the newest kept bundle among inputs (a kept
 * ".../transactions.csv" with its tables beside it), or NULL; owned. */
static char *tables_dir(char *const *inputs, size_t n) {
  for (size_t k = n; k-- > 0;) {
    const char *slash = strrchr(inputs[k], '/');
    if (!slash || strcmp(slash + 1, "transactions.csv")) continue;
    char *d = tsr__strdup(inputs[k]);
    if (d) d[slash - inputs[k]] = '\0';
    return d;
  }
  return NULL;
}

tsr_status tsr_retrain_run(const tsr_retrain_opts *o, tsr_store *s, tsr_retrain_result *out,
                           tsr_error *err) {
  if (!o || !s || !out)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "retrain: NULL argument");
  memset(out, 0, sizeof *out);
  out->mae_new = out->mae_old = out->loglik_new = out->loglik_old = NAN;
  out->segment_changed = out->cluster_changed = NAN;
  const char *mname = o->model ? o->model : "bgnbd";
  const char *cname = o->cluster ? o->cluster : "kmeans";

  /* 1. the datasets with kept inputs */
  ds_list dl = {0};
  tsr_status st = tsr_store_datasets_list(s, 0, 0, collect_ds, &dl, err);
  if (st == TSR_OK && dl.oom) st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  if (st != TSR_OK) {
    ds_list_release(&dl);
    return st;
  }
  if (dl.n) qsort(dl.v, dl.n, sizeof *dl.v, cmp_ds_id);
  ds_item *use[TSR_RETRAIN_MAX_DATASETS];
  size_t nuse = 0;
  if (o->dataset_ids && o->n_dataset_ids) {
    for (size_t k = 0; k < o->n_dataset_ids && st == TSR_OK; k++) {
      ds_item key = {o->dataset_ids[k], 0, NULL, NULL};
      ds_item *d = dl.n ? bsearch(&key, dl.v, dl.n, sizeof *dl.v, cmp_ds_id) : NULL;
      if (!d)
        st = tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "dataset %lld: not found",
                           (long long)o->dataset_ids[k]);
      else if (!d->stored_path)
        st = tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "datasets",
                           "dataset %lld: its input was not kept when it was analysed",
                           (long long)d->id);
      else if (nuse < TSR_RETRAIN_MAX_DATASETS)
        use[nuse++] = d;
    }
  } else {
    for (size_t k = 0; k < dl.n; k++)
      if (dl.v[k].stored_path && dl.v[k].created_at >= o->since_ms && nuse < TSR_RETRAIN_MAX_DATASETS)
        use[nuse++] = &dl.v[k];
  }
  if (st == TSR_OK && nuse == 0)
    st = tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL,
                       "no stored datasets with kept inputs%s",
                       o->since_ms ? " since the given date" : "");
  /* the inputs: every kept file, ';'-separated per dataset */
  char **inputs = NULL;
  size_t ninputs = 0, capin = 0;
  char idlist[4096] = "";
  size_t il = 0;
  for (size_t k = 0; st == TSR_OK && k < nuse; k++) {
    out->dataset_ids[out->n_datasets++] = use[k]->id;
    il += (size_t)snprintf(idlist + il, sizeof idlist - (il < sizeof idlist ? il : sizeof idlist),
                           "%s%lld", k ? "," : "", (long long)use[k]->id);
    if (il >= sizeof idlist) il = sizeof idlist - 1;
    char *save = NULL;
    char *copy = tsr__strdup(use[k]->stored_path);
    if (!copy) {
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      break;
    }
    for (char *t = strtok_r(copy, ";", &save); t && st == TSR_OK; t = strtok_r(NULL, ";", &save)) {
      if (ninputs == capin) {
        capin = capin ? capin * 2 : 8;
        char **nv = tsr__realloc(inputs, capin * sizeof *nv);
        if (!nv) {
          st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
          break;
        }
        inputs = nv;
      }
      inputs[ninputs] = tsr__strdup(t);
      if (!inputs[ninputs]) st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      else ninputs++;
    }
    tsr__free(copy);
  }
  /* column mapping of the first dataset (all uploads of one source share it) */
  json_t *opt = NULL;
  if (st == TSR_OK && use[0]->options) opt = json_loads(use[0]->options, 0, NULL);
  tsr_analyze_opts ao;
  tsr_analyze_opts_init(&ao);
  tsr_params pv; /* the dataset's columns as analysis inputs (tessera/params.def) */
  tsr_params_init(&pv);
  if (opt) tsr_params_from_json(&pv, opt, TSR_PARAMS_LENIENT, NULL);
  tsr_analyze_opts_apply(&ao, &pv, 1);
  if (o->id_col && *o->id_col) ao.ingest.id_col = o->id_col;
  if (!ao.ingest.id_col && nuse > 1) {
    /* no transaction id: overlapping uploads repeat identical rows */
    ao.ingest.dedupe = TSR_DEDUPE_EXACT;
    rt_event(o, 1, "retrain",
             "no transaction id column: rows identical across the %zu datasets are dropped "
             "(exact duplicates removed)", nuse);
  }
  ao.inputs = (const char *const *)inputs;
  ao.n_inputs = ninputs;
  ao.model = mname;
  ao.cluster = cname;
  ao.seed = o->seed;
  ao.command = "retrain";
  ao.dataset_id = nuse ? use[nuse - 1]->id : 0;
  ao.on_event = o->on_event;
  ao.ud = o->ud;
  char mstats[4200];
  snprintf(mstats, sizeof mstats, "\"datasets\":[%s],\"trained_by\":\"retrain\"", idlist);
  ao.model_stats = mstats;

  /* 2. the new versions, fitted on all the data and stored (not promoted) */
  tsr_analyze_result *full = NULL, *cal = NULL;
  if (st == TSR_OK) {
    rt_event(o, 0, "retrain", "refitting on %zu dataset(s), %zu file(s)", nuse, ninputs);
    st = tsr_analyze_run(&ao, s, &full, err);
  }
  if (st == TSR_OK && !full->has_model)
    st = tsr_error_set(err, TSR_ECONVERGE, NULL, 0, 0, NULL,
                       "retrain: the %s model could not be fitted (see 'tessera log %lld')", mname,
                       (long long)full->run_id);
  if (st == TSR_OK) {
    out->run_id = full->run_id;
    out->customers = full->summary->n;
    out->duplicates_dropped = full->ingest.duplicate_ids +
                              (ao.ingest.dedupe == TSR_DEDUPE_EXACT ? full->ingest.identical_rows : 0);
    out->end_day = full->summary->end_day;
    run_models rm = {0, 0, 0, mname, full->clusters ? cname : NULL};
    st = tsr_store_models_list(s, full->run_id, NULL, collect_models, &rm, err);
    out->model_id = rm.btyd;
    out->spend_id = rm.spend;
    out->cluster_id = rm.cluster;
    if (st == TSR_OK && rm.btyd) {
      tsr_model *m = NULL;
      if (tsr_store_model_get(s, rm.btyd, &m, NULL) == TSR_OK) out->model_version = m->version;
      tsr_store_free(m);
    }
  }

  /* 3. backtest: the same pipeline on the calibration part */
  if (st == TSR_OK) st = backtest(o, &ao, full, mname, out, &cal, err);
  /* 4. the promoted version on the same data */
  tsr_model *old = NULL;
  if (st == TSR_OK) st = compare_promoted(s, mname, full, cal, out, &old, err);
  /* 5. the rule */
  if (st == TSR_OK) {
    decide(o, mname, out);
    st = record_evaluation(o, s, mname, out, err);
  }
  tsr_store_free(old);
  /* the churn and next-best-product models in use, on the same ledger */
  if (st == TSR_OK) {
    char *tables = tables_dir(inputs, ninputs);
    st = tsr__retrain_predict(o, s, full->ledger, tables, out->run_id, out->end_day, mstats, out, err);
    tsr__free(tables);
  }
  tsr_analyze_result_free(full);
  tsr_analyze_result_free(cal);
  json_decref(opt);
  for (size_t k = 0; k < ninputs; k++) tsr__free(inputs[k]);
  tsr__free(inputs);
  ds_list_release(&dl);
  return st;
}

tsr_status tsr_retrain_result_json(const tsr_retrain_result *r, char **out, tsr_error *err) {
  json_t *j = json_object(), *ds = json_array();
  for (size_t k = 0; k < r->n_datasets; k++) json_array_append_new(ds, json_integer(r->dataset_ids[k]));
  char d1[11], d2[11];
  json_object_set_new(j, "run_id", json_integer(r->run_id));
  json_object_set_new(j, "datasets", ds);
  json_object_set_new(j, "customers", json_integer((json_int_t)r->customers));
  json_object_set_new(j, "duplicates_dropped", json_integer((json_int_t)r->duplicates_dropped));
  json_object_set_new(j, "calibration_end", json_string(tsr_day_format(r->cal_end_day, d1)));
  json_object_set_new(j, "end", json_string(tsr_day_format(r->end_day, d2)));
  json_object_set_new(j, "model_id", json_integer(r->model_id));
  json_object_set_new(j, "model_version", json_integer(r->model_version));
  json_object_set_new(j, "spend_model_id", r->spend_id ? json_integer(r->spend_id) : json_null());
  json_object_set_new(j, "cluster_model_id", r->cluster_id ? json_integer(r->cluster_id) : json_null());
  json_object_set_new(j, "previous_model_id", r->old_model_id ? json_integer(r->old_model_id) : json_null());
  json_object_set_new(j, "previous_model_version", r->old_model_id ? json_integer(r->old_model_version) : json_null());
  json_object_set_new(j, "holdout_mae", jnum_or_null(r->mae_new));
  json_object_set_new(j, "previous_holdout_mae", jnum_or_null(r->mae_old));
  json_object_set_new(j, "calibration_loglik", jnum_or_null(r->loglik_new));
  json_object_set_new(j, "previous_calibration_loglik", jnum_or_null(r->loglik_old));
  json_object_set_new(j, "segment_changed_share", jnum_or_null(r->segment_changed));
  json_object_set_new(j, "cluster_changed_share", jnum_or_null(r->cluster_changed));
  json_object_set_new(j, "compared_customers", json_integer((json_int_t)r->compared_customers));
  json_object_set_new(j, "promoted", json_boolean(r->promoted));
  json_object_set_new(j, "reason", json_string(r->reason));
  json_t *pm = json_object();
  for (size_t k = 0; k < r->n_predict; k++) {
    const struct tsr_retrain_predict *p = &r->predict[k];
    json_object_set_new(pm, p->kind, json_pack("{s:o,s:o,s:b,s:s,s:o,s:o,s:s}", "model_id",
                                               p->id ? json_integer(p->id) : json_null(), "version",
                                               p->id ? json_integer(p->version) : json_null(),
                                               "promoted", p->promoted, "metric", p->metric,
                                               "value", jnum_or_null(p->metric_new), "previous_value",
                                               jnum_or_null(p->metric_old), "reason", p->why));
  }
  json_object_set_new(j, "prediction_models", pm);
  char *txt = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(j);
  if (!txt) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  *out = txt;
  return TSR_OK;
}

/* ================================================================ migration */

typedef struct name_tab {
  char *v[256];
  size_t n;
} name_tab;

/* Index of name in t (added when new); -1 when full or out of memory. */
static int intern(name_tab *t, const char *name) {
  for (size_t i = 0; i < t->n; i++)
    if (!strcmp(t->v[i], name)) return (int)i;
  if (t->n == TSR__ARRAY_LEN(t->v)) return -1;
  t->v[t->n] = tsr__strdup(name);
  if (!t->v[t->n]) return -1;
  return (int)t->n++;
}

static void label_of(const old_row *r, int by_cluster, char *buf, size_t cap) {
  if (by_cluster) {
    if (r->cluster >= 0)
      snprintf(buf, cap, "%lld", (long long)r->cluster);
    else
      snprintf(buf, cap, "(none)");
  } else {
    snprintf(buf, cap, "%s", r->segment ? r->segment : "(none)");
  }
}

tsr_status tsr_segment_migration(tsr_store *s, int64_t run_a, int64_t run_b, int by_cluster,
                                 tsr_migration_cb cb, void *ctx, tsr_error *err) {
  if (!s || !cb) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "migration: NULL argument");
  tsr_run *ra = NULL, *rb = NULL;
  tsr_status st = tsr_store_run_get(s, run_a, &ra, err);
  if (st == TSR_OK) st = tsr_store_run_get(s, run_b, &rb, err);
  tsr_store_free(ra);
  tsr_store_free(rb);
  if (st != TSR_OK) return st;
  old_rows a = {0}, b = {0};
  tsr_customer_query q;
  tsr_customer_query_init(&q, run_a);
  st = tsr_store_customers_list(s, &q, collect_old, &a, err);
  if (st == TSR_OK) {
    tsr_customer_query_init(&q, run_b);
    st = tsr_store_customers_list(s, &q, collect_old, &b, err);
  }
  if (st == TSR_OK && (a.oom || b.oom)) st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  name_tab names = {{0}, 0};
  int64_t *counts = NULL;
  size_t K = TSR__ARRAY_LEN(names.v);
  if (st == TSR_OK) {
    if (a.n) qsort(a.v, a.n, sizeof *a.v, cmp_old_id);
    if (b.n) qsort(b.v, b.n, sizeof *b.v, cmp_old_id);
    counts = tsr__calloc(K * K, sizeof *counts);
    if (!counts) st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  size_t i = 0, j = 0;
  char la[64], lb[64];
  while (st == TSR_OK && (i < a.n || j < b.n)) {
    int c = i >= a.n ? 1 : j >= b.n ? -1 : strcmp(a.v[i].id, b.v[j].id);
    int fi, ti;
    if (c == 0) {
      label_of(&a.v[i++], by_cluster, la, sizeof la);
      label_of(&b.v[j++], by_cluster, lb, sizeof lb);
    } else if (c < 0) {
      label_of(&a.v[i++], by_cluster, la, sizeof la);
      snprintf(lb, sizeof lb, "(gone)");
    } else {
      snprintf(la, sizeof la, "(new)");
      label_of(&b.v[j++], by_cluster, lb, sizeof lb);
    }
    fi = intern(&names, la);
    ti = intern(&names, lb);
    if (fi < 0 || ti < 0) {
      st = tsr_error_set(err, TSR_ELIMIT, NULL, 0, 0, NULL, "migration: more than %zu segments", K);
      break;
    }
    counts[(size_t)fi * K + (size_t)ti]++;
  }
  if (st == TSR_OK) {
    /* names in byte order */
    int order[256];
    for (size_t k = 0; k < names.n; k++) order[k] = (int)k;
    for (size_t x = 1; x < names.n; x++)
      for (size_t y = x; y > 0 && strcmp(names.v[order[y - 1]], names.v[order[y]]) > 0; y--) {
        int t = order[y];
        order[y] = order[y - 1];
        order[y - 1] = t;
      }
    int stop = 0;
    for (size_t x = 0; x < names.n && !stop; x++)
      for (size_t y = 0; y < names.n && !stop; y++) {
        int64_t v = counts[(size_t)order[x] * K + (size_t)order[y]];
        if (!v) continue;
        tsr_migration_row row = {names.v[order[x]], names.v[order[y]], v};
        stop = cb(ctx, &row);
      }
  }
  for (size_t k = 0; k < names.n; k++) tsr__free(names.v[k]);
  tsr__free(counts);
  old_rows_release(&a);
  old_rows_release(&b);
  return st;
}
