/*
 * views.c - the view layer of the server (issue 17): JSON values (jansson
 * json_t *) of datasets, runs, run results, customers, jobs, events and the
 * analysis inputs. api.c sends them; pages.c renders the same values (no
 * JSON text is parsed back). Every message shown to the web goes through
 * srv_web_text. The dashboard of a finished run is cached as a value.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"
#include "tessera/csv.h"
#include "tessera/datetime.h"
#include "tessera/report.h"

/* ================================================================ helpers */

static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }
static json_t *jstr(const char *s) { return s ? json_string(s) : json_null(); }
static json_t *jtime(int64_t ms) {
  char b[40];
  return ms ? json_string(tsr_store_time_format(ms, b, sizeof b)) : json_null();
}
/* Parsed JSON text, or the text as a string when it does not parse. */
static json_t *jparse(const char *s) {
  if (!s) return json_null();
  json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
  return j ? j : json_string(s);
}

/* Web words of a message (srv_web_text), or null. */
static json_t *jweb(const srv *S, const char *s) {
  if (!s) return json_null();
  char m[1200];
  srv_web_text(S, s, m, sizeof m);
  json_t *j = json_string(m);
  return j ? j : json_string("(unprintable message)");
}

/* ================================================================ results cache */

/* 16 entries keyed by run id (results, a json_t value) or minus the run id
 * (the report's JSON text); readers get copies. */
static json_t *cache_get_value(srv *S, int64_t key) {
  json_t *out = NULL;
  pthread_mutex_lock(&S->cache_mu);
  for (size_t i = 0; i < 16; i++)
    if (S->cache[i].key == key && S->cache[i].val) {
      out = json_deep_copy(S->cache[i].val); /* values are not shared between threads */
      break;
    }
  pthread_mutex_unlock(&S->cache_mu);
  return out;
}

static char *cache_get_text(srv *S, int64_t key, size_t *len) {
  char *out = NULL;
  pthread_mutex_lock(&S->cache_mu);
  for (size_t i = 0; i < 16; i++) {
    if (S->cache[i].key == key && S->cache[i].text) {
      out = malloc(S->cache[i].len + 1);
      if (out) {
        memcpy(out, S->cache[i].text, S->cache[i].len + 1);
        *len = S->cache[i].len;
      }
      break;
    }
  }
  pthread_mutex_unlock(&S->cache_mu);
  return out;
}

/* Keeps a copy of val or of text (len bytes). */
static void cache_put(srv *S, int64_t key, const json_t *val, const char *text, size_t len) {
  json_t *v = val ? json_deep_copy(val) : NULL;
  char *c = text ? malloc(len + 1) : NULL;
  if (text && c) {
    memcpy(c, text, len);
    c[len] = '\0';
  }
  if (!v && !c) return;
  pthread_mutex_lock(&S->cache_mu);
  unsigned i = S->cache_next++ % 16;
  json_decref(S->cache[i].val);
  free(S->cache[i].text);
  S->cache[i].key = key;
  S->cache[i].val = v;
  S->cache[i].text = c;
  S->cache[i].len = len;
  pthread_mutex_unlock(&S->cache_mu);
}

void srv_cache_drop(srv *S, int64_t run_id) {
  pthread_mutex_lock(&S->cache_mu);
  for (size_t i = 0; i < 16; i++) {
    if (S->cache[i].key == run_id || S->cache[i].key == -run_id) {
      json_decref(S->cache[i].val);
      free(S->cache[i].text);
      S->cache[i].val = NULL;
      S->cache[i].text = NULL;
      S->cache[i].key = 0;
    }
  }
  pthread_mutex_unlock(&S->cache_mu);
}

void srv_cache_free(srv *S) {
  for (size_t i = 0; i < 16; i++) {
    json_decref(S->cache[i].val);
    free(S->cache[i].text);
  }
}

/* ================================================================ datasets */

static const char *const guess_customer[] = {"customer_id", "customer", "cust_id", "client_id", "user_id", "clientid", "customerid", NULL};
static const char *const guess_date[] = {"date", "timestamp", "order_date", "datetime", "time", "ts", "purchase_date", NULL};
static const char *const guess_amount[] = {"amount", "value", "total", "revenue", "sales", "spend", "price", NULL};

static int guess(const char *h, const char *const *names) {
  for (size_t i = 0; names[i]; i++)
    if (!strcasecmp(h, names[i])) return 1;
  return 0;
}

/* Header and first rows of a stored file. */
static json_t *preview_json(const char *path) {
  json_t *p = json_object();
  tsr_csv *c = NULL;
  tsr_error e;
  tsr_csv_opts co;
  tsr_csv_opts_init(&co);
  if (!path || tsr_csv_open(path, &co, &c, &e) != TSR_OK) {
    json_object_set_new(p, "error", json_string("the stored file cannot be read"));
    return p;
  }
  json_t *cols = json_array(), *rows = json_array(), *g = json_object();
  tsr_csv_record rec;
  int header = 1;
  int n = 0;
  json_t *bad = json_array();
  while (n <= SRV_PREVIEW_ROWS) {
    tsr_status st = tsr_csv_next(c, &rec, &e);
    if (st == TSR_ENOTFOUND || st == TSR_EIO) break;
    if (st != TSR_OK) {
      char m[700];
      json_array_append_new(bad, json_string(tsr_error_format(&e, m, sizeof m)));
      if (json_array_size(bad) > 20) break;
      continue;
    }
    json_t *row = json_array();
    for (size_t i = 0; i < rec.nfields && i < 64; i++) {
      char cell[201];
      size_t len = rec.fields[i].len < 200 ? rec.fields[i].len : 200;
      memcpy(cell, rec.fields[i].ptr, len);
      cell[len] = '\0';
      for (size_t k = 0; k < len; k++)
        if (cell[k] == '\0') cell[k] = ' ';
      json_t *s = json_stringn(cell, len);
      if (!s) s = json_string("(invalid UTF-8)");
      if (header) {
        json_array_append_new(cols, s);
        if (!json_object_get(g, "customer_col") && guess(cell, guess_customer))
          json_object_set_new(g, "customer_col", json_string(cell));
        else if (!json_object_get(g, "date_col") && guess(cell, guess_date))
          json_object_set_new(g, "date_col", json_string(cell));
        else if (!json_object_get(g, "amount_col") && guess(cell, guess_amount))
          json_object_set_new(g, "amount_col", json_string(cell));
      } else {
        json_array_append_new(row, s);
      }
    }
    if (header) {
      json_decref(row);
      header = 0;
    } else {
      json_array_append_new(rows, row);
      n++;
    }
    if (n >= SRV_PREVIEW_ROWS) break;
  }
  tsr_csv_close(c);
  json_object_set_new(p, "columns", cols);
  json_object_set_new(p, "rows", rows);
  json_object_set_new(p, "guess", g);
  json_object_set_new(p, "problems", bad);
  return p;
}

json_t *srv_view_dataset(tsr_store *st, int64_t id, int preview, tsr_error *err) {
  tsr_dataset *d = NULL;
  if (tsr_store_dataset_get(st, id, &d, err) != TSR_OK) return NULL;
  int64_t owner = 0;
  if (tsr_web_upload_owner(st, id, &owner, err) != TSR_OK) {
    tsr_store_free(d);
    return NULL;
  }
  json_t *o = json_object();
  json_object_set_new(o, "id", json_integer(d->id));
  char nm[256];
  srv_clean_text(d->source ? d->source : "", nm, sizeof nm); /* valid UTF-8 even for old rows */
  json_object_set_new(o, "name", json_string(nm));
  json_object_set_new(o, "created_at", jtime(d->created_at));
  json_object_set_new(o, "checksum", json_string(d->checksum));
  json_object_set_new(o, "bytes", json_integer(d->bytes));
  json_object_set_new(o, "owner_id", json_integer(owner));
  tsr_web_user *u = NULL;
  if (owner && tsr_web_user_get(st, owner, NULL, &u, NULL) == TSR_OK) {
    json_object_set_new(o, "owner", json_string(u->name));
    tsr_store_free(u);
  } else {
    json_object_set_new(o, "owner", json_null());
  }
  if (preview) json_object_set_new(o, "preview", preview_json(d->stored_path));
  tsr_store_free(d);
  return o;
}

int srv_reject_cb(void *ctx, const tsr_reject_row *x) {
  json_t *o = json_object();
  json_object_set_new(o, "line", json_integer(x->line));
  json_object_set_new(o, "column", json_integer(x->column));
  json_t *f = x->field ? json_string(x->field) : NULL;
  json_object_set_new(o, "field", f ? f : json_null());
  json_t *why = json_string(x->reason);
  json_object_set_new(o, "reason", why ? why : json_string("(invalid UTF-8)"));
  json_t *raw = x->raw ? json_string(x->raw) : NULL;
  json_object_set_new(o, "raw", raw ? raw : json_null());
  json_array_append_new(ctx, o);
  return 0;
}

/* ================================================================ runs */

json_t *srv_view_run_row(srv *S, tsr_store *st, const tsr_run *run) {
  int64_t upload = 0, owner = 0;
  tsr_web_run_get(st, run->id, &upload, &owner, NULL);
  /* the uploaded file's name rather than the server's path of it */
  tsr_dataset *d = NULL;
  json_t *source = upload && tsr_store_dataset_get(st, upload, &d, NULL) == TSR_OK
                       ? json_string(d->source)
                       : jstr(run->dataset_source);
  tsr_store_free(d);
  /* "o*": a value that cannot be made (invalid UTF-8) leaves its key out */
  json_t *o = json_pack("{s:I, s:o*, s:o*, s:o*, s:o*, s:o*, s:o*, s:o*, s:o*, s:o*, s:o*, s:o*, s:I}",
                        "id", (json_int_t)run->id,
                        "dataset_id", upload ? json_integer(upload) : json_null(),
                        "source", source,
                        "command", json_string(run->command),
                        "status", json_string(tsr_run_status_name(run->status)),
                        "created_at", jtime(run->created_at),
                        "started_at", jtime(run->started_at),
                        "finished_at", jtime(run->finished_at),
                        "params", jparse(run->params),
                        "timings", jparse(run->timings),
                        "kpis", jparse(run->summary),
                        "error", jweb(S, run->error),
                        "customers", (json_int_t)run->n_customers);
  if (!o) return json_object();
  srv_job j;
  if (srv_jobs_get_by_run(S, run->id, &j) == 0) json_object_set_new(o, "job", srv_view_job(S, &j));
  if ((run->status == TSR_RUN_FAILED) && run->dataset_id) {
    json_t *rj = json_array();
    tsr_store_rejects_list(st, run->dataset_id, 20, 0, srv_reject_cb, rj, NULL);
    json_object_set_new(o, "rejects", rj);
  }
  return o;
}

json_t *srv_view_run_results(srv *S, tsr_store *st, int64_t run_id, tsr_error *err) {
  json_t *c = cache_get_value(S, run_id);
  if (c) return c;
  tsr_run *run = NULL;
  if (tsr_store_run_get(st, run_id, &run, err) != TSR_OK) return NULL;
  json_t *o = json_object();
  json_object_set_new(o, "run", srv_view_run_row(S, st, run));
  json_object_set_new(o, "kpis", jparse(run->summary));
  json_t *segs = json_array();
  json_object_set_new(o, "segments", segs);
  int done = run->status == TSR_RUN_DONE;
  tsr_store_free(run);
  tsr_store_segments_list(st, run_id, NULL, srv_seg_cb, segs, NULL);
  json_t *models = json_array();
  tsr_store_models_list(st, run_id, NULL, srv_model_cb, models, NULL);
  json_object_set_new(o, "models", models);
  char *agg = NULL;
  if (tsr_web_run_aggregates(st, run_id, &agg, NULL) == TSR_OK) {
    json_t *a = json_loads(agg, 0, NULL); /* the store keeps the aggregates as JSON text */
    json_object_set_new(o, "aggregates", a ? a : json_null());
    free(agg);
  }
  if (done) cache_put(S, run_id, o, NULL, 0);
  return o;
}

char *srv_run_report(srv *S, tsr_store *st, int64_t run_id, size_t *len, tsr_error *err) {
  /* cached under the negated run id (the results use the run id) */
  char *c = cache_get_text(S, -run_id, len);
  if (c) return c;
  tsr_report_opts o;
  tsr_report_opts_init(&o);
  o.store = st;
  int64_t upload = 0;
  tsr_dataset *d = NULL;
  char name[300] = "";
  if (tsr_web_run_get(st, run_id, &upload, NULL, NULL) == TSR_OK && upload &&
      tsr_store_dataset_get(st, upload, &d, NULL) == TSR_OK)
    snprintf(name, sizeof name, "%s", d->source);
  tsr_store_free(d);
  if (name[0]) o.source = name;
  char *json = NULL;
  if (tsr_report_data_json_stored(st, run_id, &o, &json, err) != TSR_OK) return NULL;
  *len = strlen(json);
  cache_put(S, -run_id, NULL, json, *len);
  return json;
}

int srv_seg_cb(void *ctx, const tsr_segment_row *s) {
  json_array_append_new(ctx, json_pack("{s:s,s:s,s:I,s:o,s:o,s:o,s:o,s:o,s:o}", "scheme", s->scheme,
                                       "segment", s->segment, "customers", (json_int_t)s->customers,
                                       "share", jnum(s->share), "mean_r", jnum(s->mean_r), "mean_f",
                                       jnum(s->mean_f), "mean_m", jnum(s->mean_m), "revenue",
                                       jnum(s->revenue), "revenue_share", jnum(s->revenue_share)));
  return 0;
}

int srv_model_cb(void *ctx, const tsr_model *m) {
  json_array_append_new(ctx, json_pack("{s:I,s:I,s:s,s:I,s:o,s:o,s:o,s:b}", "id", (json_int_t)m->id,
                                       "run_id", (json_int_t)m->run_id, "kind", m->kind, "version",
                                       (json_int_t)m->version, "params", jparse(m->params),
                                       "fit_stats", jparse(m->fit_stats), "created_at",
                                       jtime(m->created_at), "promoted", m->promoted));
  return 0;
}

json_t *srv_view_customer_row(const tsr_customer *c) {
  char d1[40], d2[40];
  json_t *o = json_pack("{s:o*, s:o, s:o, s:o, s:o, s:o, s:I, s:s, s:s, s:o, s:o, s:o, s:o*, s:o*, s:o,"
                        " s:o, s:o, s:o, s:o, s:o}",
                        "customer_id", json_string(c->customer_id),
                        "frequency", jnum(c->frequency),
                        "recency", jnum(c->recency),
                        "T", jnum(c->T),
                        "monetary_value", jnum(c->monetary_value),
                        "revenue", jnum(c->revenue),
                        "transactions", (json_int_t)c->n_transactions,
                        "first_purchase", tsr_day_format(c->first_purchase / 86400000, d1),
                        "last_purchase", tsr_day_format(c->last_purchase / 86400000, d2),
                        "r_score", c->r_score ? json_integer(c->r_score) : json_null(),
                        "f_score", c->f_score ? json_integer(c->f_score) : json_null(),
                        "m_score", c->m_score ? json_integer(c->m_score) : json_null(),
                        "rfm_cell", jstr(c->rfm_cell),
                        "segment", jstr(c->segment),
                        "cluster", c->cluster >= 0 ? json_integer(c->cluster) : json_null(),
                        "expected_purchases", jnum(c->expected_purchases),
                        "p_alive", jnum(c->p_alive),
                        "clv", jnum(c->clv),
                        "clv_lo", jnum(c->clv_lo),
                        "clv_hi", jnum(c->clv_hi));
  return o ? o : json_object();
}

static const char *const customer_sorts[] = {"id", "frequency", "recency", "monetary", "revenue",
                                             "rfm", "expected", "p_alive", "clv"};

int srv_customer_sort(const char *name) {
  for (size_t i = 0; name && i < sizeof customer_sorts / sizeof *customer_sorts; i++)
    if (!strcmp(name, customer_sorts[i])) return (int)i;
  return -1;
}

const char *srv_customer_sort_name(tsr_customer_sort sort) {
  size_t i = (size_t)sort;
  return i < sizeof customer_sorts / sizeof *customer_sorts ? customer_sorts[i] : "id";
}

static int cust_cb(void *ctx, const tsr_customer *c) {
  json_array_append_new(ctx, srv_view_customer_row(c));
  return 0;
}

json_t *srv_view_customers(tsr_store *st, const tsr_customer_query *q, tsr_error *err) {
  tsr_run *run = NULL;
  if (tsr_store_run_get(st, q->run_id, &run, err) != TSR_OK) return NULL;
  tsr_store_free(run);
  int64_t total = 0;
  if (tsr_store_customers_count(st, q, &total, err) != TSR_OK) return NULL;
  json_t *arr = json_array();
  if (tsr_store_customers_list(st, q, cust_cb, arr, err) != TSR_OK) {
    json_decref(arr);
    return NULL;
  }
  return json_pack("{s:I,s:I,s:I,s:o}", "total", (json_int_t)total, "limit", (json_int_t)q->limit,
                   "offset", (json_int_t)q->offset, "customers", arr);
}

static int hist_cb(void *ctx, const tsr_web_history_row *h) {
  char d[16];
  json_array_append_new(ctx, json_pack("{s:s,s:I,s:o}", "date", tsr_day_format(h->day, d), "purchases",
                                       (json_int_t)h->ntx, "amount", jnum(h->amount)));
  return 0;
}

json_t *srv_view_customer(tsr_store *st, int64_t run_id, const char *cid, tsr_error *err) {
  tsr_customer *c = NULL;
  if (tsr_store_customer_get(st, run_id, cid, &c, err) != TSR_OK) return NULL;
  json_t *o = srv_view_customer_row(c);
  /* a bundle run's profile (docs/profiles.md): the JSON kept in extra */
  if (c->extra && !strncmp(c->extra, "{\"profile\":", 11)) {
    json_t *x = json_loads(c->extra, 0, NULL); /* stored as JSON text; sent as it is */
    if (x) json_object_set_new(o, "profile", x);
  }
  json_object_set_new(o, "run_id", json_integer(run_id));
  json_t *h = json_array();
  /* in the row (schema version 4), else in web_history (runs stored before) */
  if (c->history) tsr_web_history_parse(c->history, hist_cb, h, NULL);
  else tsr_web_history_list(st, run_id, cid, hist_cb, h, NULL);
  tsr_store_free(c);
  json_object_set_new(o, "history", h);
  return o;
}

/* ================================================================ events */

json_t *srv_view_event(const srv *S, const tsr_event *ev) {
  char b[40];
  json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:s,s:o}", "id", (json_int_t)ev->id, "run_id",
                        (json_int_t)ev->run_id, "time", tsr_store_time_format(ev->ts, b, sizeof b),
                        "level", tsr_log_level_name(ev->level), "step", ev->step, "message",
                        jweb(S, ev->message));
  if (!o) o = json_pack("{s:I,s:s}", "id", (json_int_t)ev->id, "message", "(unprintable)");
  json_object_set_new(o, "rows_in", ev->rows_in >= 0 ? json_integer(ev->rows_in) : json_null());
  json_object_set_new(o, "rows_out", ev->rows_out >= 0 ? json_integer(ev->rows_out) : json_null());
  json_object_set_new(o, "duration_ms", jnum(ev->duration_ms));
  return o;
}

/* ================================================================ jobs */

json_t *srv_view_job(const srv *S, const srv_job *j) {
  char t1[40], t2[40], t3[40];
  json_t *o = json_pack("{s:I, s:s, s:o*, s:f, s:I, s:o, s:I, s:o*, s:o, s:s, s:s, s:s}",
                        "id", (json_int_t)j->id,
                        "state", srv_job_state_name(j->state),
                        "step", json_string(j->step),
                        "progress", floor(j->frac * 1000 + 0.5) / 10,
                        "rows_read", (json_int_t)j->rows,
                        "run_id", j->run_id ? json_integer(j->run_id) : json_null(),
                        "dataset_id", (json_int_t)j->upload_id,
                        "owner", json_string(j->owner_name),
                        "error", j->error[0] ? jweb(S, j->error) : json_null(),
                        "created_at", tsr_store_time_format(j->created_ms, t1, sizeof t1),
                        "started_at", tsr_store_time_format(j->started_ms, t2, sizeof t2),
                        "finished_at", tsr_store_time_format(j->finished_ms, t3, sizeof t3));
  if (!o) return json_object();
  json_t *p = json_object();
  for (size_t i = 0; i < tsr_params_count(); i++) { /* the given inputs, as text */
    const tsr_param_value *v = tsr_params_cvalue(&j->params, i);
    if (v->given) json_object_set_new(p, tsr_param_at(i)->name, json_string(v->text));
  }
  json_object_set_new(o, "params", p);
  return o;
}

typedef struct jobs_ctx {
  const srv *S;
  json_t *arr;
} jobs_ctx;

static void job_cb(void *ctx, const srv_job *j) {
  jobs_ctx *c = ctx;
  json_array_append_new(c->arr, srv_view_job(c->S, j));
}

json_t *srv_view_jobs(srv_req *r, tsr_error *err) {
  (void)err;
  jobs_ctx c = {r->S, json_array()};
  srv_jobs_each(r->S, job_cb, &c);
  return json_pack("{s:o}", "jobs", c.arr);
}

/* ================================================================ tables of a run */

json_t *srv_view_run_segments(srv_req *r, tsr_error *err) {
  (void)err;
  json_t *a = json_array();
  tsr_store_segments_list(r->st, r->pid[0], NULL, srv_seg_cb, a, NULL);
  return json_pack("{s:o}", "segments", a);
}

json_t *srv_view_run_models(srv_req *r, tsr_error *err) {
  (void)err;
  json_t *a = json_array();
  tsr_store_models_list(r->st, r->pid[0], NULL, srv_model_cb, a, NULL);
  return json_pack("{s:o}", "models", a);
}

json_t *srv_view_models(srv_req *r, tsr_error *err) {
  (void)err;
  json_t *a = json_array();
  const char *kind = srv_req_arg(r, "kind");
  tsr_store_models_list(r->st, 0, kind && *kind ? kind : NULL, srv_model_cb, a, NULL);
  return json_pack("{s:o}", "models", a);
}

json_t *srv_view_dataset_rejects(srv_req *r, tsr_error *err) {
  (void)err;
  json_t *a = json_array();
  tsr_store_rejects_list(r->st, r->pid[0], 1000, 0, srv_reject_cb, a, NULL);
  return json_pack("{s:o}", "rejects", a);
}

json_t *srv_view_run_results_route(srv_req *r, tsr_error *err) {
  return srv_view_run_results(r->S, r->st, r->pid[0], err);
}

json_t *srv_view_me(srv_req *r, tsr_error *err) {
  (void)err;
  return json_pack("{s:s,s:s,s:s}", "user", r->user->name, "role", r->user->role, "csrf", r->csrf);
}

json_t *srv_view_api_index(srv_req *r, tsr_error *err) {
  (void)r;
  (void)err;
  return json_pack("{s:s,s:s}", "api", "tessera", "openapi", "/api/v1/openapi.json");
}

/* ================================================================ analysis inputs */

json_t *srv_view_params(void) {
  json_t *a = json_array();
  for (size_t i = 0; i < tsr_params_count(); i++) {
    const tsr_param *p = tsr_param_at(i);
    char range[200];
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "name", p->name, "option", p->option,
                          "type", tsr_param_type_name(p->type), "unit", p->unit, "default", p->def,
                          "valid", tsr_param_range(p, range, sizeof range), "description",
                          p->description);
    if (p->type == TSR_PARAM_NUMBER || p->type == TSR_PARAM_INTEGER) {
      json_object_set_new(o, "min", json_real(p->min));
      json_object_set_new(o, "max", json_real(p->max));
      json_object_set_new(o, "min_exclusive", json_boolean(p->min_open));
    }
    if (p->type == TSR_PARAM_CHOICE) {
      json_t *c = json_array();
      char buf[200];
      snprintf(buf, sizeof buf, "%s", p->choices);
      char *save = NULL;
      for (char *t = strtok_r(buf, "|", &save); t; t = strtok_r(NULL, "|", &save))
        json_array_append_new(c, json_string(t));
      json_object_set_new(o, "choices", c);
    }
    json_array_append_new(a, o);
  }
  return a;
}

json_t *srv_view_params_list(srv_req *r, tsr_error *err) {
  (void)r;
  (void)err;
  return json_pack("{s:o}", "params", srv_view_params());
}
