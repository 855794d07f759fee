/*
 * jobs.c - background analysis jobs of the web application: a queue served
 * by a pool of worker threads (default 2), each with its own store handle,
 * running tsr_analyze_run with progress (step, %, rows read), cancel, and
 * the run's event log. On shutdown running jobs are canceled between steps
 * (the run's results are stored in one transaction, so nothing is
 * half-written) and their runs marked interrupted.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"
#include "tessera/csv.h"
#include "tessera/datetime.h"
#include "tessera/ingest.h"

const char *job_state_name(int st) {
  switch (st) {
    case JOB_QUEUED: return "queued";
    case JOB_RUNNING: return "running";
    case JOB_DONE: return "done";
    case JOB_FAILED: return "failed";
    case JOB_CANCELED: return "canceled";
    case JOB_INTERRUPTED: return "interrupted";
    default: return "unknown";
  }
}

/* ---------------------------------------------------------------- parameters */

static const char *kv_get(const job *j, const char *name) {
  for (size_t i = 0; i < j->nkv; i++)
    if (!strcmp(j->kv[i].name, name)) return j->kv[i].value;
  return "";
}

/* Checks one value against the params table and keeps it. */
static int kv_set(job *j, const char *name, const char *value, char *msg, size_t cap,
                  char *fname, size_t fcap) {
  const tsr_param *p = tsr_param_find(name);
  snprintf(fname, fcap, "%s", name);
  if (!p) {
    snprintf(msg, cap, "%s: unknown parameter (see /help for the list)", name);
    return -1;
  }
  tsr_error e;
  tsr_error_clear(&e);
  if (tsr_param_check(p, value, NULL, &e) != TSR_OK) {
    snprintf(msg, cap, "%s", e.msg);
    return -1;
  }
  if (!strcmp(name, "date_format") && *value &&
      tsr_datetime_check_format(value, &e) != TSR_OK) {
    snprintf(msg, cap, "date_format: %s", e.msg);
    return -1;
  }
  if (!*value) return 0;
  for (size_t i = 0; i < j->nkv; i++)
    if (!strcmp(j->kv[i].name, name)) {
      snprintf(j->kv[i].value, sizeof j->kv[i].value, "%s", value);
      return 0;
    }
  if (j->nkv >= JOB_MAX_KV) {
    snprintf(msg, cap, "too many parameters");
    return -1;
  }
  snprintf(j->kv[j->nkv].name, sizeof j->kv[j->nkv].name, "%s", name);
  snprintf(j->kv[j->nkv].value, sizeof j->kv[j->nkv].value, "%s", value);
  j->nkv++;
  return 0;
}

/* Cross-field checks after every value passed on its own. */
static int kv_check_all(job *j, char *msg, size_t cap, char *fname, size_t fcap) {
  const char *e = kv_get(j, "end"), *c = kv_get(j, "calibration_end");
  if (*e && *c && strcmp(c, e) >= 0) {
    snprintf(fname, fcap, "calibration_end");
    snprintf(msg, cap, "calibration_end: must be before end (%s), got '%s'", e, c);
    return -1;
  }
  return 0;
}

int jobs_params_json(job *j, json_t *params, char *msg, size_t cap, char *fname, size_t fcap) {
  if (!params) return 0;
  if (!json_is_object(params)) {
    snprintf(fname, fcap, "params");
    snprintf(msg, cap, "params: expected an object of name: value");
    return -1;
  }
  const char *key;
  json_t *v;
  json_object_foreach(params, key, v) {
    char buf[TSR_PARAM_TEXT_MAX + 64];
    if (json_is_string(v)) {
      snprintf(buf, sizeof buf, "%s", json_string_value(v));
      if (strlen(json_string_value(v)) >= sizeof buf) {
        snprintf(fname, fcap, "%s", key);
        snprintf(msg, cap, "%s: value too long", key);
        return -1;
      }
    } else if (json_is_integer(v)) {
      snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
      snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
    } else if (json_is_boolean(v)) {
      snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "yes" : "no");
    } else if (json_is_null(v)) {
      buf[0] = '\0';
    } else {
      snprintf(fname, fcap, "%s", key);
      snprintf(msg, cap, "%s: expected a string or number", key);
      return -1;
    }
    if (kv_set(j, key, buf, msg, cap, fname, fcap)) return -1;
  }
  return kv_check_all(j, msg, cap, fname, fcap);
}

int jobs_params_form(job *j, req *r, char *msg, size_t cap, char *fname, size_t fcap) {
  for (size_t i = 0; i < tsr_params_count(); i++) {
    const tsr_param *p = tsr_param_at(i);
    const char *v = req_field(r, p->name);
    if (v && kv_set(j, p->name, v, msg, cap, fname, fcap)) return -1;
  }
  return kv_check_all(j, msg, cap, fname, fcap);
}

static void build_opts(job *j, tsr_analyze_opts *o);

/* ---------------------------------------------------------------- column check */

/* Index of column spec (a header name, or a 1-based number) in the header,
 * or -1. */
static long find_col(const tsr_csv_record *hdr, const char *spec) {
  char *end = NULL;
  long n = strtol(spec, &end, 10);
  if (end && !*end && n >= 1) return n <= (long)hdr->nfields ? n - 1 : -1;
  for (size_t i = 0; i < hdr->nfields; i++)
    if (hdr->fields[i].len == strlen(spec) && !memcmp(hdr->fields[i].ptr, spec, hdr->fields[i].len)) return (long)i;
  return -1;
}

int jobs_check_columns(job *j, char *msg, size_t cap, char *fname, size_t fcap) {
  tsr_csv_opts co;
  tsr_csv_opts_init(&co);
  tsr_analyze_opts o;
  build_opts(j, &o);
  co.delim = o.ingest.csv.delim;
  tsr_csv *c = NULL;
  tsr_error e;
  if (tsr_csv_open(j->input, &co, &c, &e) != TSR_OK) {
    snprintf(fname, fcap, "dataset_id");
    snprintf(msg, cap, "the uploaded file cannot be read: %s", e.msg);
    return -1;
  }
  tsr_csv_record rec;
  tsr_status st;
  while ((st = tsr_csv_next(c, &rec, &e)) == TSR_EPARSE || st == TSR_ELIMIT) {
  }
  if (st != TSR_OK) {
    tsr_csv_close(c);
    snprintf(fname, fcap, "dataset_id");
    snprintf(msg, cap, "the uploaded file has no header line");
    return -1;
  }
  /* copy the header: the record is overwritten by the next read */
  char cols[4096];
  size_t k = 0;
  static const char *const names[] = {"customer_col", "date_col", "amount_col", "id_col"};
  long idx[4] = {-1, -1, -1, -1};
  int rc = 0;
  for (size_t i = 0; i < 4 && rc == 0; i++) {
    const char *spec = kv_get(j, names[i]);
    if (!*spec) continue;
    idx[i] = find_col(&rec, spec);
    if (idx[i] < 0) {
      for (size_t f = 0; f < rec.nfields && k + 8 < sizeof cols; f++)
        k += (size_t)snprintf(cols + k, sizeof cols - k, "%s%.*s", f ? ", " : "",
                              (int)(rec.fields[f].len < 64 ? rec.fields[f].len : 64), rec.fields[f].ptr);
      snprintf(fname, fcap, "%s", names[i]);
      snprintf(msg, cap, "%s: the file has no column '%s'; its columns are: %s", names[i], spec, cols);
      rc = -1;
    }
  }
  /* the date and amount columns must read on at least one of the first rows */
  int rows = 0, dates_ok = 0, amounts_ok = 0;
  char bad_date[80] = "", bad_amount[80] = "";
  while (rc == 0 && rows < SRV_PREVIEW_ROWS && (st = tsr_csv_next(c, &rec, &e)) != TSR_ENOTFOUND && st != TSR_EIO) {
    if (st != TSR_OK) continue;
    rows++;
    if (idx[1] >= 0 && (size_t)idx[1] < rec.nfields) {
      const tsr_csv_field *f = &rec.fields[idx[1]];
      int64_t t;
      if (tsr_datetime_parse(f->ptr, f->len, o.ingest.date_format, &t) == TSR_OK) dates_ok++;
      else if (!bad_date[0]) snprintf(bad_date, sizeof bad_date, "%.*s", (int)(f->len < 60 ? f->len : 60), f->ptr);
    }
    if (idx[2] >= 0 && (size_t)idx[2] < rec.nfields) {
      const tsr_csv_field *f = &rec.fields[idx[2]];
      double v;
      if (tsr_amount_parse(f->ptr, f->len, &v) == TSR_OK) amounts_ok++;
      else if (!bad_amount[0]) snprintf(bad_amount, sizeof bad_amount, "%.*s", (int)(f->len < 60 ? f->len : 60), f->ptr);
    }
  }
  tsr_csv_close(c);
  if (rc == 0 && rows > 0 && idx[1] >= 0 && dates_ok == 0) {
    snprintf(fname, fcap, "date_col");
    snprintf(msg, cap, "date_col: none of the first %d rows holds a date in column '%s' (for example '%s'); "
             "choose the date column or give its date_format", rows, kv_get(j, "date_col"), bad_date);
    rc = -1;
  }
  if (rc == 0 && rows > 0 && idx[2] >= 0 && amounts_ok == 0) {
    snprintf(fname, fcap, "amount_col");
    snprintf(msg, cap, "amount_col: none of the first %d rows holds an amount in column '%s' (for example '%s')",
             rows, kv_get(j, "amount_col"), bad_amount);
    rc = -1;
  }
  return rc;
}

/* Fills o from the validated values of j (strings borrowed from j). */
static void build_opts(job *j, tsr_analyze_opts *o) {
  const char *v;
  tsr_analyze_opts_init(o);
  if (*(v = kv_get(j, "customer_col"))) o->ingest.customer_col = v;
  if (*(v = kv_get(j, "date_col"))) o->ingest.date_col = v;
  if (*(v = kv_get(j, "amount_col"))) o->ingest.amount_col = v;
  if (*(v = kv_get(j, "id_col"))) o->ingest.id_col = v;
  if (*(v = kv_get(j, "date_format"))) o->ingest.date_format = v;
  v = kv_get(j, "delimiter");
  if (!strcmp(v, ";")) o->ingest.csv.delim = ';';
  else if (!strcmp(v, "tab")) o->ingest.csv.delim = '\t';
  else if (!strcmp(v, "pipe")) o->ingest.csv.delim = '|';
  else if (!strcmp(v, "whitespace")) o->ingest.csv.delim = TSR_CSV_WS;
  if (*(v = kv_get(j, "max_errors"))) o->ingest.max_errors = strtoll(v, NULL, 10);
  if (*(v = kv_get(j, "freq"))) tsr_freq_parse(v, &o->summary.freq);
  if (*(v = kv_get(j, "freq_multiplier"))) o->summary.multiplier = strtod(v, NULL);
  int64_t t;
  if (*(v = kv_get(j, "end")) && tsr_datetime_parse(v, strlen(v), NULL, &t) == TSR_OK)
    o->summary.end_day = t / 86400;
  if (*(v = kv_get(j, "calibration_end")) && tsr_datetime_parse(v, strlen(v), NULL, &t) == TSR_OK)
    o->summary.cal_end_day = t / 86400;
  if (!strcmp(kv_get(j, "refunds"), "net")) o->summary.refunds = TSR_REFUNDS_NET;
  if (!strcmp(kv_get(j, "dedupe"), "exact")) o->ingest.dedupe = TSR_DEDUPE_EXACT;
  if (*(v = kv_get(j, "scheme"))) o->scheme = v;
  if (*(v = kv_get(j, "model"))) o->model = v;
  if (!strcmp(kv_get(j, "spend"), "no")) o->spend = 0;
  if (*(v = kv_get(j, "horizon"))) o->horizon = strtod(v, NULL);
  if (*(v = kv_get(j, "unit"))) tsr_unit_parse(v, &o->unit);
  if (*(v = kv_get(j, "discount"))) o->discount = strtod(v, NULL);
  if (*(v = kv_get(j, "level"))) o->level = strtod(v, NULL);
  if (*(v = kv_get(j, "churn_threshold"))) o->churn_threshold = strtod(v, NULL);
  if (*(v = kv_get(j, "currency"))) o->currency = v;
  if (*(v = kv_get(j, "cluster"))) o->cluster = v;
  if (*(v = kv_get(j, "k"))) o->cluster_opts.k = (size_t)strtol(v, NULL, 10);
  if (*(v = kv_get(j, "seed"))) o->seed = (uint64_t)strtoll(v, NULL, 10);
}

/* ---------------------------------------------------------------- worker */

typedef struct wctx {
  srv *S;
  job *j;
  tsr_store *st;
  int64_t last_rows;
} wctx;

static void on_progress(void *ud, const char *step, double frac) {
  wctx *w = ud;
  pthread_mutex_lock(&w->S->jobs_mu);
  snprintf(w->j->step, sizeof w->j->step, "%s", step);
  w->j->frac = frac;
  pthread_mutex_unlock(&w->S->jobs_mu);
}

static void on_rows(void *ud, int64_t done, int64_t total, int64_t rows) {
  wctx *w = ud;
  (void)done;
  (void)total;
  atomic_fetch_add(&w->S->m_rows, rows - w->last_rows);
  w->last_rows = rows;
  pthread_mutex_lock(&w->S->jobs_mu);
  w->j->rows = rows;
  if (total > 0) w->j->frac = 0.5 * (double)done / (double)total; /* ingest is the first half */
  pthread_mutex_unlock(&w->S->jobs_mu);
}

static void on_event(void *ud, int level, const char *step, const char *msg) {
  wctx *w = ud;
  (void)level;
  (void)step;
  (void)msg;
  if (w->j->run_id == 0) {
    int64_t id = 0;
    if (tsr_web_run_by_output(w->st, w->j->out_dir, &id, NULL) == TSR_OK) {
      tsr_web_run_add(w->st, id, w->j->upload_id, w->j->owner, NULL);
      pthread_mutex_lock(&w->S->jobs_mu);
      w->j->run_id = id;
      pthread_mutex_unlock(&w->S->jobs_mu);
    }
  }
}

/* Stores the purchase history of every customer (for the customer page). */
static tsr_status store_history(tsr_store *st, const tsr_analyze_result *res) {
  const tsr_ledger *lg = res->ledger;
  if (!lg) return TSR_OK;
  tsr_status s = tsr_store_begin(st, NULL);
  if (s != TSR_OK) return s;
  size_t cap = 0;
  tsr_web_history_row *rows = NULL;
  for (size_t i = 0; i < tsr_ledger_ncustomers(lg) && s == TSR_OK; i++) {
    size_t n = 0;
    const tsr_ledger_entry *e = tsr_ledger_entries(lg, i, &n);
    if (n > cap) {
      tsr_web_history_row *p = realloc(rows, n * sizeof *rows);
      if (!p) {
        s = TSR_ENOMEM;
        break;
      }
      rows = p;
      cap = n;
    }
    for (size_t k = 0; k < n; k++) {
      rows[k].day = e[k].day;
      rows[k].ntx = e[k].ntx;
      rows[k].amount = e[k].amount;
    }
    s = tsr_web_history_add(st, res->run_id, tsr_ledger_customer(lg, i), rows, n, NULL);
  }
  free(rows);
  if (s == TSR_OK) s = tsr_store_commit(st, NULL);
  else tsr_store_rollback(st, NULL);
  return s;
}

static void run_job(srv *S, job *j) {
  wctx w = {S, j, srv_store(S), 0};
  tsr_analyze_opts o;
  build_opts(j, &o);
  const char *inputs[1] = {j->input};
  o.inputs = inputs;
  o.n_inputs = 1;
  o.out_dir = j->out_dir;
  o.cancel = &j->cancel;
  o.on_progress = on_progress;
  o.on_event = on_event;
  o.ud = &w;
  o.ingest.on_progress = on_rows;
  o.ingest.ud = &w;
  atomic_fetch_add(&S->m_jobs_started, 1);
  atomic_fetch_add(&S->jobs_running, 1);
  tsr_analyze_result *res = NULL;
  tsr_error err;
  tsr_error_clear(&err);
  tsr_status st = w.st ? tsr_analyze_run(&o, w.st, &res, &err)
                       : tsr_error_set(&err, TSR_ESTORE, NULL, 0, 0, NULL, "store: cannot open");
  if (st == TSR_OK && res && w.st) {
    tsr_status ws = TSR_OK;
    if (j->run_id == 0) {
      j->run_id = res->run_id;
      ws = tsr_web_run_add(w.st, res->run_id, j->upload_id, j->owner, &err);
    }
    on_progress(&w, "history", 0.97);
    if (ws == TSR_OK && (ws = store_history(w.st, res)) != TSR_OK)
      tsr_error_set(&err, ws, NULL, 0, 0, NULL, "store: customer purchase histories: %s",
                    tsr_strerror(ws));
    if (ws != TSR_OK) {
      /* the run's results are stored, its web records are not: the job
       * fails and says so rather than show a run without its histories */
      char m[TSR_ERROR_MSG_MAX + 64];
      tsr_error_format(&err, m, sizeof m);
      tsr_store_run_finish(w.st, res->run_id, TSR_RUN_FAILED, NULL, NULL, m, NULL);
      st = ws;
    }
  } else if (j->run_id == 0 && w.st) {
    on_event(&w, 2, "end", "");
  }
  char msg[sizeof j->error];
  msg[0] = '\0';
  if (st != TSR_OK) tsr_error_format(&err, msg, sizeof msg);
  if (st == TSR_ECANCELED && j->shutdown && j->run_id > 0 && w.st)
    tsr_store_run_finish(w.st, j->run_id, TSR_RUN_INTERRUPTED, NULL, NULL,
                         "interrupted: the server was stopped", NULL);
  tsr_analyze_result_free(res);
  pthread_mutex_lock(&S->jobs_mu);
  j->finished_ms = tsr_store_now_ms();
  if (st == TSR_OK) {
    j->state = JOB_DONE;
    j->frac = 1;
    snprintf(j->step, sizeof j->step, "done");
  } else if (st == TSR_ECANCELED) {
    j->state = j->shutdown ? JOB_INTERRUPTED : JOB_CANCELED;
    snprintf(j->error, sizeof j->error, "%s", j->shutdown ? "interrupted: the server was stopped" : "canceled");
  } else {
    j->state = JOB_FAILED;
    snprintf(j->error, sizeof j->error, "%s", msg[0] ? msg : tsr_strerror(st));
  }
  pthread_mutex_unlock(&S->jobs_mu);
  atomic_fetch_sub(&S->jobs_running, 1);
  if (st == TSR_OK) atomic_fetch_add(&S->m_jobs_done, 1);
  else if (st == TSR_ECANCELED) atomic_fetch_add(&S->m_jobs_canceled, 1);
  else atomic_fetch_add(&S->m_jobs_failed, 1);
}

static void *worker_main(void *arg) {
  srv *S = arg;
  for (;;) {
    pthread_mutex_lock(&S->jobs_mu);
    while (!S->q_head && !S->jobs_stop) pthread_cond_wait(&S->jobs_cv, &S->jobs_mu);
    if (S->jobs_stop) {
      pthread_mutex_unlock(&S->jobs_mu);
      break;
    }
    job *j = S->q_head;
    S->q_head = j->next;
    if (!S->q_head) S->q_tail = NULL;
    j->next = NULL;
    if (j->cancel) {
      j->state = JOB_CANCELED;
      snprintf(j->error, sizeof j->error, "canceled");
      pthread_mutex_unlock(&S->jobs_mu);
      continue;
    }
    j->state = JOB_RUNNING;
    j->started_ms = tsr_store_now_ms();
    snprintf(j->step, sizeof j->step, "ingest");
    pthread_mutex_unlock(&S->jobs_mu);
    run_job(S, j);
  }
  return NULL;
}

int jobs_start(srv *S) {
  unsigned n = S->cfg.workers ? S->cfg.workers : 2;
  S->workers = calloc(n, sizeof *S->workers);
  if (!S->workers) return -1;
  S->next_job = 1;
  for (unsigned i = 0; i < n; i++) {
    if (pthread_create(&S->workers[i], NULL, worker_main, S) != 0) return -1;
    S->nworkers++;
  }
  return 0;
}

void jobs_stop(srv *S) {
  pthread_mutex_lock(&S->jobs_mu);
  S->jobs_stop = 1;
  for (size_t i = 0; i < SRV_MAX_JOBS; i++) {
    job *j = S->jobs[i];
    if (!j) continue;
    if (j->state == JOB_RUNNING) {
      j->shutdown = 1;
      j->cancel = 1;
    } else if (j->state == JOB_QUEUED) {
      j->state = JOB_INTERRUPTED;
      snprintf(j->error, sizeof j->error, "interrupted: the server was stopped");
    }
  }
  S->q_head = S->q_tail = NULL;
  pthread_cond_broadcast(&S->jobs_cv);
  pthread_mutex_unlock(&S->jobs_mu);
  for (unsigned i = 0; i < S->nworkers; i++) pthread_join(S->workers[i], NULL);
  S->nworkers = 0;
}

int64_t jobs_submit(srv *S, job *j) {
  pthread_mutex_lock(&S->jobs_mu);
  int64_t id = S->next_job++;
  j->id = id;
  j->state = JOB_QUEUED;
  j->created_ms = tsr_store_now_ms();
  snprintf(j->step, sizeof j->step, "queued");
  size_t slot = (size_t)(id % SRV_MAX_JOBS);
  job *old = S->jobs[slot];
  if (old && (old->state == JOB_QUEUED || old->state == JOB_RUNNING)) {
    /* the table is full of live jobs */
    S->next_job--;
    pthread_mutex_unlock(&S->jobs_mu);
    return 0;
  }
  free(old);
  S->jobs[slot] = j;
  j->next = NULL;
  if (S->q_tail) S->q_tail->next = j;
  else S->q_head = j;
  S->q_tail = j;
  pthread_cond_signal(&S->jobs_cv);
  pthread_mutex_unlock(&S->jobs_mu);
  return id;
}

int jobs_get(srv *S, int64_t id, job *out) {
  int rc = -1;
  pthread_mutex_lock(&S->jobs_mu);
  job *j = id > 0 ? S->jobs[id % SRV_MAX_JOBS] : NULL;
  if (j && j->id == id) {
    *out = *j;
    out->next = NULL;
    rc = 0;
  }
  pthread_mutex_unlock(&S->jobs_mu);
  return rc;
}

int jobs_get_by_run(srv *S, int64_t run_id, job *out) {
  int rc = -1;
  pthread_mutex_lock(&S->jobs_mu);
  for (size_t i = 0; i < SRV_MAX_JOBS; i++) {
    job *j = S->jobs[i];
    if (j && j->run_id == run_id) {
      *out = *j;
      out->next = NULL;
      rc = 0;
      break;
    }
  }
  pthread_mutex_unlock(&S->jobs_mu);
  return rc;
}

int jobs_cancel(srv *S, int64_t id) {
  int rc = -1;
  pthread_mutex_lock(&S->jobs_mu);
  job *j = id > 0 ? S->jobs[id % SRV_MAX_JOBS] : NULL;
  if (j && j->id == id && (j->state == JOB_QUEUED || j->state == JOB_RUNNING)) {
    j->cancel = 1;
    rc = 0;
  }
  pthread_mutex_unlock(&S->jobs_mu);
  return rc;
}

void jobs_each(srv *S, void (*cb)(void *ctx, const job *j), void *ctx) {
  pthread_mutex_lock(&S->jobs_mu);
  int64_t last = S->next_job - 1;
  job *copies = malloc(SRV_MAX_JOBS * sizeof *copies);
  size_t n = 0;
  for (int64_t id = last; copies && id >= 1 && id > last - 200; id--) {
    job *j = S->jobs[id % SRV_MAX_JOBS];
    if (j && j->id == id) copies[n++] = *j;
  }
  pthread_mutex_unlock(&S->jobs_mu);
  for (size_t i = 0; i < n; i++) cb(ctx, &copies[i]);
  free(copies);
}

json_t *job_json(const job *j) {
  json_t *o = json_object();
  json_object_set_new(o, "id", json_integer(j->id));
  json_object_set_new(o, "state", json_string(job_state_name(j->state)));
  json_object_set_new(o, "step", json_string(j->step));
  json_object_set_new(o, "progress", json_real(floor(j->frac * 1000 + 0.5) / 10));
  json_object_set_new(o, "rows_read", json_integer(j->rows));
  json_object_set_new(o, "run_id", j->run_id ? json_integer(j->run_id) : json_null());
  json_object_set_new(o, "dataset_id", json_integer(j->upload_id));
  json_object_set_new(o, "owner", json_string(j->owner_name));
  json_object_set_new(o, "error", j->error[0] ? json_string(j->error) : json_null());
  char b[40];
  json_object_set_new(o, "created_at", json_string(tsr_store_time_format(j->created_ms, b, sizeof b)));
  json_object_set_new(o, "started_at", json_string(tsr_store_time_format(j->started_ms, b, sizeof b)));
  json_object_set_new(o, "finished_at", json_string(tsr_store_time_format(j->finished_ms, b, sizeof b)));
  json_t *p = json_object();
  for (size_t i = 0; i < j->nkv; i++) json_object_set_new(p, j->kv[i].name, json_string(j->kv[i].value));
  json_object_set_new(o, "params", p);
  return o;
}
