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

const char *srv_job_state_name(int st) {
  switch (st) {
    case SRV_JOB_QUEUED: return "queued";
    case SRV_JOB_RUNNING: return "running";
    case SRV_JOB_DONE: return "done";
    case SRV_JOB_FAILED: return "failed";
    case SRV_JOB_CANCELED: return "canceled";
    case SRV_JOB_INTERRUPTED: return "interrupted";
    default: return "unknown";
  }
}

/* ---------------------------------------------------------------- parameters */

/* The text of an input ("" = default). */
static const char *kv_get(const srv_job *j, const char *name) {
  const tsr_param *p = tsr_param_find(name);
  const tsr_param_value *v = p ? tsr_params_cvalue(&j->params, (size_t)(p - tsr_param_at(0))) : NULL;
  return v && v->given ? v->text : "";
}

/* The failure of e as msg / field (-1). */
static int param_error(const tsr_error *e, tsr_status st, char *msg, size_t cap, char *fname,
                       size_t fcap) {
  snprintf(fname, fcap, "%s", e->field[0] ? e->field : "params");
  snprintf(msg, cap, "%s%s", e->msg, st == TSR_ENOTFOUND ? " (see /help for the list)" : "");
  return -1;
}

int srv_jobs_params_json(srv_job *j, json_t *params, char *msg, size_t cap, char *fname, size_t fcap) {
  tsr_params_init(&j->params);
  if (!params) return 0;
  tsr_error e;
  tsr_error_clear(&e);
  tsr_status st = tsr_params_from_json(&j->params, params, 0, &e);
  return st == TSR_OK ? 0 : param_error(&e, st, msg, cap, fname, fcap);
}

int srv_jobs_params_form(srv_job *j, srv_req *r, char *msg, size_t cap, char *fname, size_t fcap) {
  tsr_params_init(&j->params);
  tsr_error e;
  tsr_error_clear(&e);
  tsr_status st = TSR_OK;
  for (size_t i = 0; i < tsr_params_count() && st == TSR_OK; i++) {
    const tsr_param *p = tsr_param_at(i);
    const char *v = srv_req_field(r, p->name);
    if (v) st = tsr_params_set(&j->params, p->name, v, &e);
  }
  if (st == TSR_OK) st = tsr_params_check(&j->params, &e);
  return st == TSR_OK ? 0 : param_error(&e, st, msg, cap, fname, fcap);
}

void srv_jobs_params_prefill(srv_job *j, json_t *params) {
  tsr_params_init(&j->params);
  for (size_t i = 0; i < tsr_params_count(); i++) {
    const tsr_param *p = tsr_param_at(i);
    json_t *one = json_object();
    json_t *v = json_object_get(params, p->name);
    if (!one) return;
    if (v) json_object_set(one, p->name, v);
    tsr_params tmp;
    tsr_params_init(&tmp);
    tsr_error e;
    tsr_error_clear(&e);
    if (v && tsr_params_from_json(&tmp, one, 0, &e) == TSR_OK && tsr_params_cvalue(&tmp, i)->given)
      /* invalid: left out */
      tsr_params_set_raw(&j->params, i, tsr_params_cvalue(&tmp, i)->text);
    json_decref(one);
  }
}

static void build_opts(srv_job *j, tsr_analyze_opts *o);

/* ---------------------------------------------------------------- column check */

int srv_jobs_check_columns(srv_job *j, char *msg, size_t cap, char *fname, size_t fcap) {
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
    idx[i] = (long)tsr_csv_column_find(&rec, rec.nfields, spec, NULL);
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
static void build_opts(srv_job *j, tsr_analyze_opts *o) {
  tsr_analyze_opts_init(o);
  tsr_analyze_opts_apply(o, &j->params, 1);
}

/* ---------------------------------------------------------------- worker */

typedef struct wctx {
  srv *S;
  srv_job *j;
  tsr_store *st;
  int64_t last_rows;
  tsr_status link; /* tsr_web_run_add of the run */
  tsr_error link_err;
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

/* The run exists in the store: the job links it to its dataset and owner
 * (the library gives the id; nothing is looked up). */
static void on_run(void *ud, int64_t run_id) {
  wctx *w = ud;
  w->link = tsr_web_run_add(w->st, run_id, w->j->upload_id, w->j->owner, &w->link_err);
  pthread_mutex_lock(&w->S->jobs_mu);
  w->j->run_id = run_id;
  pthread_mutex_unlock(&w->S->jobs_mu);
}

static void run_job(srv *S, srv_job *j) {
  wctx w = {S, j, srv_store(S), 0, TSR_OK, {0}};
  tsr_analyze_opts o;
  build_opts(j, &o);
  const char *inputs[1] = {j->input};
  o.inputs = inputs;
  o.n_inputs = 1;
  o.out_dir = j->out_dir;
  o.cancel = &j->cancel;
  o.on_progress = on_progress;
  o.on_run = on_run; /* the purchase histories are stored by the pipeline (app/analyze_history.c) */
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
  if (st == TSR_OK && w.link != TSR_OK) {
    /* the run's results are stored, its link to the dataset and owner is
     * not: the job fails and says so rather than show an orphan run */
    err = w.link_err;
    st = w.link;
    char m[TSR_ERROR_MSG_MAX + 64];
    tsr_error_format(&err, m, sizeof m);
    tsr_store_run_finish(w.st, j->run_id, TSR_RUN_FAILED, NULL, NULL, m, NULL);
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
    j->state = SRV_JOB_DONE;
    j->frac = 1;
    snprintf(j->step, sizeof j->step, "done");
  } else if (st == TSR_ECANCELED) {
    j->state = j->shutdown ? SRV_JOB_INTERRUPTED : SRV_JOB_CANCELED;
    snprintf(j->error, sizeof j->error, "%s", j->shutdown ? "interrupted: the server was stopped" : "canceled");
  } else {
    j->state = SRV_JOB_FAILED;
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
    srv_job *j = S->q_head;
    S->q_head = j->next;
    if (!S->q_head) S->q_tail = NULL;
    j->next = NULL;
    if (j->cancel) {
      j->state = SRV_JOB_CANCELED;
      snprintf(j->error, sizeof j->error, "canceled");
      pthread_mutex_unlock(&S->jobs_mu);
      continue;
    }
    j->state = SRV_JOB_RUNNING;
    j->started_ms = tsr_store_now_ms();
    snprintf(j->step, sizeof j->step, "ingest");
    pthread_mutex_unlock(&S->jobs_mu);
    run_job(S, j);
  }
  return NULL;
}

int srv_jobs_start(srv *S) {
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

void srv_jobs_stop(srv *S) {
  pthread_mutex_lock(&S->jobs_mu);
  S->jobs_stop = 1;
  for (size_t i = 0; i < SRV_MAX_JOBS; i++) {
    srv_job *j = S->jobs[i];
    if (!j) continue;
    if (j->state == SRV_JOB_RUNNING) {
      j->shutdown = 1;
      j->cancel = 1;
    } else if (j->state == SRV_JOB_QUEUED) {
      j->state = SRV_JOB_INTERRUPTED;
      snprintf(j->error, sizeof j->error, "interrupted: the server was stopped");
    }
  }
  S->q_head = S->q_tail = NULL;
  pthread_cond_broadcast(&S->jobs_cv);
  pthread_mutex_unlock(&S->jobs_mu);
  for (unsigned i = 0; i < S->nworkers; i++) pthread_join(S->workers[i], NULL);
  S->nworkers = 0;
}

static void job_bind(srv_job *j, const srv_req *r, const tsr_dataset *d);

int srv_jobs_prepare(srv_req *r, int64_t ds, json_t *params, srv_job **out, char *msg, size_t cap,
                     char *fname, size_t fcap) {
  *out = NULL;
  tsr_dataset *d = NULL;
  int64_t owner = 0;
  if (ds <= 0 || tsr_web_upload_owner(r->st, ds, &owner, NULL) != TSR_OK ||
      tsr_store_dataset_get(r->st, ds, &d, NULL) != TSR_OK) {
    snprintf(msg, cap, "dataset %lld: not found", (long long)ds);
    return 404;
  }
  srv_job *j = calloc(1, sizeof *j);
  if (!j) {
    tsr_store_free(d);
    snprintf(msg, cap, "out of memory");
    return 500;
  }
  *out = j;
  int bad = params ? srv_jobs_params_json(j, params, msg, cap, fname, fcap)
                   : srv_jobs_params_form(j, r, msg, cap, fname, fcap);
  if (!bad) job_bind(j, r, d);
  tsr_store_free(d);
  if (!bad) bad = srv_jobs_check_columns(j, msg, cap, fname, fcap);
  return bad ? 400 : 0;
}

static void job_bind(srv_job *j, const srv_req *r, const tsr_dataset *d) {
  j->upload_id = d->id;
  j->owner = r->user->id;
  snprintf(j->owner_name, sizeof j->owner_name, "%s", r->user->name);
  snprintf(j->input, sizeof j->input, "%s", d->stored_path ? d->stored_path : "");
}

int64_t srv_jobs_submit(srv *S, srv_job *j) {
  unsigned char rnd[6];
  char hex[13];
  randombytes_buf(rnd, sizeof rnd);
  sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
  snprintf(j->out_dir, sizeof j->out_dir, "%s/runs/%lld-%s", S->data_dir, (long long)tsr_store_now_ms(), hex);
  pthread_mutex_lock(&S->jobs_mu);
  int64_t id = S->next_job++;
  j->id = id;
  j->state = SRV_JOB_QUEUED;
  j->created_ms = tsr_store_now_ms();
  snprintf(j->step, sizeof j->step, "queued");
  size_t slot = (size_t)(id % SRV_MAX_JOBS);
  srv_job *old = S->jobs[slot];
  if (old && (old->state == SRV_JOB_QUEUED || old->state == SRV_JOB_RUNNING)) {
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

int srv_jobs_get(srv *S, int64_t id, srv_job *out) {
  int rc = -1;
  pthread_mutex_lock(&S->jobs_mu);
  srv_job *j = id > 0 ? S->jobs[id % SRV_MAX_JOBS] : NULL;
  if (j && j->id == id) {
    *out = *j;
    out->next = NULL;
    rc = 0;
  }
  pthread_mutex_unlock(&S->jobs_mu);
  return rc;
}

int srv_jobs_get_by_run(srv *S, int64_t run_id, srv_job *out) {
  int rc = -1;
  pthread_mutex_lock(&S->jobs_mu);
  for (size_t i = 0; i < SRV_MAX_JOBS; i++) {
    srv_job *j = S->jobs[i];
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

int srv_jobs_cancel(srv *S, int64_t id) {
  int rc = -1;
  pthread_mutex_lock(&S->jobs_mu);
  srv_job *j = id > 0 ? S->jobs[id % SRV_MAX_JOBS] : NULL;
  if (j && j->id == id && (j->state == SRV_JOB_QUEUED || j->state == SRV_JOB_RUNNING)) {
    j->cancel = 1;
    rc = 0;
  }
  pthread_mutex_unlock(&S->jobs_mu);
  return rc;
}

void srv_jobs_each(srv *S, void (*cb)(void *ctx, const srv_job *j), void *ctx) {
  pthread_mutex_lock(&S->jobs_mu);
  int64_t last = S->next_job - 1;
  srv_job *copies = malloc(SRV_MAX_JOBS * sizeof *copies);
  size_t n = 0;
  for (int64_t id = last; copies && id >= 1 && id > last - 200; id--) {
    srv_job *j = S->jobs[id % SRV_MAX_JOBS];
    if (j && j->id == id) copies[n++] = *j;
  }
  pthread_mutex_unlock(&S->jobs_mu);
  for (size_t i = 0; i < n; i++) cb(ctx, &copies[i]);
  free(copies);
}
