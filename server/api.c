/*
 * api.c - the JSON API of `tessera serve` under /api/v1 (docs/api.md, served
 * as OpenAPI at /api/v1/openapi.json): login, datasets (streamed upload,
 * list, one with a preview, delete), runs (start as a background job,
 * status/progress, cancel, results), customers (profile with purchase
 * history, filtered and paged lists, CSV export), segments, models, events,
 * users. Errors: HTTP status + {"error":{"code":"E...","message":"..."}}.
 * The handlers named in routes.def; the JSON values come from views.c.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "srv.h"
#include "events.h"
#include "tessera/csv.h"
#include "tessera/datetime.h"
#include "tessera/report.h"

/* ================================================================ helpers */

/* 1 when the user may change an object owned by owner. */
static int may_change(srv_req *r, int64_t owner) {
  return srv_role_rank(r->user->role) >= 3 || (srv_role_rank(r->user->role) >= 2 && owner == r->user->id);
}

/* ================================================================ login */

enum MHD_Result srv_api_login(srv_req *r) {
  enum MHD_Result ret;
  json_t *b = srv_body_json(r, &ret);
  if (!b) return ret;
  const char *name = srv_json_text(b, "name"), *pw = srv_json_text(b, "password");
  if (!name || !pw) {
    json_decref(b);
    return srv_send_error(r, 400, "EINVAL", "login: expected {\"name\": ..., \"password\": ...}");
  }
  int want_token = json_is_true(json_object_get(b, "token"));
  tsr_web_user *u = NULL;
  char msg[200];
  int code = srv_auth_login(r, name, pw, &u, msg, sizeof msg);
  json_decref(b);
  if (code) return srv_send_error(r, code, code == 401 ? "EAUTH" : code == 429 ? "ELIMIT" : "EBUSY", "%s", msg);
  json_t *o = json_pack("{s:s,s:s}", "user", u->name, "role", u->role);
  if (want_token) {
    char tok[65], hash[65];
    tsr_store *st = srv_store(r->S);
    if (tsr_server_new_token(tok, hash) || !st || tsr_web_token_add(st, u->id, hash, NULL) != TSR_OK) {
      tsr_store_free(u);
      json_decref(o);
      return srv_send_error(r, 500, "ESTORE", "could not create a token");
    }
    json_object_set_new(o, "token", json_string(tok));
  } else {
    if (srv_auth_session_new(r, u)) {
      tsr_store_free(u);
      json_decref(o);
      return srv_send_error(r, 500, "ESTORE", "could not create a session");
    }
    json_object_set_new(o, "csrf", json_string(r->csrf));
  }
  tsr_store_free(u);
  return srv_send_json(r, 200, o);
}

typedef struct list_ctx {
  tsr_store *st;
  json_t *arr;
  int64_t ids[200];
  size_t n;
} list_ctx;

static int ds_cb(void *ctx, const tsr_dataset *d) {
  list_ctx *l = ctx;
  if (l->n < 200) l->ids[l->n++] = d->id;
  return 0;
}

enum MHD_Result srv_api_datasets_list(srv_req *r) {
  tsr_store *st = r->st;
  list_ctx l = {st, json_array(), {0}, 0};
  tsr_error e;
  tsr_status s = tsr_store_datasets_list(st, 1000, 0, ds_cb, &l, &e);
  if (s != TSR_OK) {
    json_decref(l.arr);
    return srv_send_tsr(r, s, &e);
  }
  for (size_t i = 0; i < l.n; i++) {
    json_t *o = srv_view_dataset(st, l.ids[i], 0, NULL);
    if (o) json_array_append_new(l.arr, o);
  }
  return srv_send_json(r, 200, json_pack("{s:o}", "datasets", l.arr));
}

/* A file name: the last path component of in as clean_text, "upload.csv"
 * when empty. */
static void clean_name(const char *in, char *out, size_t cap) {
  const char *b = strrchr(in, '/');
  b = b ? b + 1 : in;
  const char *b2 = strrchr(b, '\\');
  b = b2 ? b2 + 1 : b;
  srv_clean_text(b, out, cap);
  if (!out[0]) snprintf(out, cap, "upload.csv");
}

int srv_upload_finish(srv_req *r, int64_t *dataset_id, char *msg, size_t cap) {
  srv *S = r->S;
  tsr_store *st = srv_store(S);
  if (!r->up_tmp[0] || r->up_bytes == 0) {
    snprintf(msg, cap, "the upload is empty: choose a CSV file of transactions");
    return 400;
  }
  if (!st) {
    snprintf(msg, cap, "the database is not available");
    return 500;
  }
  unsigned char h[32];
  char sum[65], name[256];
  crypto_generichash_final(&r->up_hash, h, sizeof h);
  sodium_bin2hex(sum, sizeof sum, h, sizeof h);
  const char *n = srv_req_arg(r, "name");
  if (!n || !*n) n = srv_req_field(r, "name");
  if (!n || !*n) n = r->up_name[0] ? r->up_name : "upload.csv";
  clean_name(n, name, sizeof name);
  tsr_dataset d;
  memset(&d, 0, sizeof d);
  d.source = name;
  d.checksum = sum;
  d.bytes = r->up_bytes;
  d.options = "{\"uploaded\":true}";
  tsr_error e;
  if (tsr_store_dataset_add(st, &d, &d.id, &e) != TSR_OK) {
    snprintf(msg, cap, "%s", e.msg);
    return 500;
  }
  char path[1200];
  snprintf(path, sizeof path, "%s/uploads/%lld.csv", S->data_dir, (long long)d.id);
  if (rename(r->up_tmp, path) != 0) {
    snprintf(msg, cap, "cannot store the upload: %s", strerror(errno));
    tsr_web_dataset_delete(st, d.id, NULL);
    return 500;
  }
  r->up_tmp[0] = '\0';
  d.stored_path = path;
  if (tsr_store_dataset_update(st, &d, &e) != TSR_OK ||
      tsr_web_upload_add(st, d.id, r->user->id, name, &e) != TSR_OK) {
    snprintf(msg, cap, "%s", e.msg);
    unlink(path);
    tsr_web_dataset_delete(st, d.id, NULL);
    return 500;
  }
  *dataset_id = d.id;
  return 0;
}

enum MHD_Result srv_api_dataset_upload(srv_req *r) {
  tsr_store *st = r->st;
  int64_t id = 0;
  char msg[600];
  int code = srv_upload_finish(r, &id, msg, sizeof msg);
  if (code) return srv_send_error(r, code, code == 400 ? "EINVAL" : "ESTORE", "%s", msg);
  tsr_error e;
  json_t *o = srv_view_dataset(st, id, 1, &e);
  if (!o) return srv_send_tsr(r, e.code, &e);
  return srv_send_json(r, 201, o);
}

enum MHD_Result srv_api_dataset_delete(srv_req *r) {
  tsr_store *st = r->st;
  int64_t id = r->pid[0];
  int64_t owner = 0;
  tsr_error e;
  tsr_status s = tsr_web_upload_owner(st, id, &owner, &e);
  if (s != TSR_OK) return srv_send_tsr(r, s, &e);
  if (!may_change(r, owner))
    return srv_send_error(r, 403, "EPERM", "only the owner of dataset %lld or an admin may delete it", (long long)id);
  tsr_dataset *d = NULL;
  char path[1200] = "";
  if (tsr_store_dataset_get(st, id, &d, NULL) == TSR_OK && d->stored_path)
    snprintf(path, sizeof path, "%s", d->stored_path);
  tsr_store_free(d);
  if ((s = tsr_web_dataset_delete(st, id, &e)) != TSR_OK) return srv_send_tsr(r, s, &e);
  if (path[0]) unlink(path);
  return srv_send_json(r, 200, json_pack("{s:I,s:b}", "id", (json_int_t)id, "deleted", 1));
}

/* ================================================================ runs */

typedef struct runs_ctx {
  srv *S;
  tsr_store *st;
  json_t *arr;
  tsr_run *rows[200];
  size_t n;
} runs_ctx;

static int run_list_cb(void *ctx, const tsr_run *run) {
  runs_ctx *c = ctx;
  json_array_append_new(c->arr, srv_view_run_row(c->S, c->st, run));
  return json_array_size(c->arr) >= 200;
}

enum MHD_Result srv_api_run_start(srv_req *r) {
  enum MHD_Result ret;
  json_t *b = srv_body_json(r, &ret);
  if (!b) return ret;
  int64_t ds = 0;
  json_t *dv = json_object_get(b, "dataset_id");
  if (json_is_integer(dv)) ds = json_integer_value(dv);
  else if (json_is_string(dv)) srv_parse_id(json_string_value(dv), &ds);
  if (ds <= 0) {
    json_decref(b);
    return srv_send_error(r, 400, "EINVAL", "dataset_id: expected the id of an uploaded dataset");
  }
  char msg[600], fname[64] = "";
  json_t *params = json_object_get(b, "params");
  if (!params && r->kind == SRV_BODY_FORM) params = b;
  if (params == b) json_object_del(b, "dataset_id");
  if (params == b) json_object_del(b, "csrf");
  srv_job *j = NULL;
  int code = srv_jobs_prepare(r, ds, params, &j, msg, sizeof msg, fname,
                              sizeof fname);
  json_decref(b);
  if (code == 400) {
    free(j);
    char words[700];
    srv_web_text(r->S, msg, words, sizeof words);
    json_t *err = json_pack("{s:{s:s,s:s,s:s}}", "error", "code", "EINVAL", "message", words, "field", fname);
    return srv_send_json(r, 400, err);
  }
  if (code) {
    free(j);
    return srv_send_error(r, code, code == 404 ? "ENOTFOUND" : "ENOMEM", "%s", msg);
  }
  int64_t id = srv_jobs_submit(r->S, j);
  if (!id) {
    free(j);
    return srv_send_error(r, 503, "EBUSY", "too many jobs are queued; try again later");
  }
  srv_job copy;
  srv_jobs_get(r->S, id, &copy);
  return srv_send_json(r, 202, json_pack("{s:o}", "job", srv_view_job(r->S, &copy)));
}

/* ================================================================ customers */

/* Reads segment, cluster, sort, order, limit, offset into q. */
static int customer_query(srv_req *r, int64_t run_id, tsr_customer_query *q, int paged,
                          enum MHD_Result *ret) {
  tsr_customer_query_init(q, run_id);
  const char *seg = srv_req_arg(r, "segment");
  if (seg && *seg) q->segment = seg;
  int64_t v;
  if (srv_query_int(r, "cluster", 0, 1000, -1, &v, ret)) return -1;
  q->cluster = v;
  const char *sort = srv_req_arg(r, "sort");
  if (sort && *sort) {
    int i = srv_customer_sort(sort);
    if (i < 0) {
      *ret = srv_send_error(r, 400, "EINVAL",
                        "sort: expected one of id, frequency, recency, monetary, revenue, rfm, "
                        "expected, p_alive, clv, got '%.40s'", sort);
      return -1;
    }
    q->sort = (tsr_customer_sort)i;
  }
  const char *ord = srv_req_arg(r, "order");
  if (ord && *ord) {
    if (strcmp(ord, "asc") && strcmp(ord, "desc")) {
      *ret = srv_send_error(r, 400, "EINVAL", "order: expected asc or desc, got '%.40s'", ord);
      return -1;
    }
    q->descending = !strcmp(ord, "desc");
  }
  if (paged) {
    if (srv_query_int(r, "limit", 1, 1000, 50, &q->limit, ret)) return -1;
    if (srv_query_int(r, "offset", 0, INT64_C(1000000000000), 0, &q->offset, ret)) return -1;
  }
  return 0;
}

enum MHD_Result srv_api_run_customers(srv_req *r) {
  tsr_customer_query q;
  enum MHD_Result ret;
  if (customer_query(r, r->pid[0], &q, 1, &ret)) return ret;
  tsr_error e;
  tsr_error_clear(&e);
  json_t *v = srv_view_customers(r->st, &q, &e);
  return v ? srv_send_json(r, 200, v) : srv_send_tsr(r, e.code, &e);
}

static int csv_cb(void *ctx, const tsr_customer *c) {
  srv_buf *b = ctx;
  char d1[16], d2[16], cl[24];
  srv_buf_csv(b, c->customer_id);
  srv_buf_printf(b, ",%.17g,%.17g,%.17g,%.17g,%.17g,%lld,%s,%s,", c->frequency, c->recency, c->T,
            c->monetary_value, c->revenue, (long long)c->n_transactions,
            tsr_day_format(c->first_purchase / 86400000, d1),
            tsr_day_format(c->last_purchase / 86400000, d2));
  srv_buf_csv(b, c->rfm_cell);
  srv_buf_puts(b, ",");
  srv_buf_csv(b, c->segment);
  snprintf(cl, sizeof cl, "%lld", (long long)c->cluster);
  srv_buf_printf(b, ",%s", c->cluster >= 0 ? cl : "");
  const double v[] = {c->expected_purchases, c->p_alive, c->clv, c->clv_lo, c->clv_hi};
  for (size_t i = 0; i < 5; i++) {
    if (isfinite(v[i])) srv_buf_printf(b, ",%.17g", v[i]);
    else srv_buf_puts(b, ",");
  }
  srv_buf_puts(b, "\n");
  return b->oom;
}

/* The CSV export is streamed: pages of CSV_PAGE customers are read into a
 * buffer as the client takes the bytes (in the connection's own thread, with
 * that thread's store handle), so a segment of a million customers is never
 * held in memory. */
#define CSV_PAGE 20000

typedef struct csv_stream {
  srv *S;
  tsr_customer_query q;
  char segment[TSR_PARAM_TEXT_MAX + 1];
  srv_buf buf;
  size_t pos;
  int64_t rows;
  int done;
} csv_stream;

static int csv_count_cb(void *ctx, const tsr_customer *c) {
  csv_stream *cs = ctx;
  cs->rows++;
  return csv_cb(&cs->buf, c);
}

static ssize_t csv_reader(void *cls, uint64_t pos, char *out, size_t max) {
  csv_stream *cs = cls;
  (void)pos;
  while (cs->pos >= cs->buf.n) {
    if (cs->done) return MHD_CONTENT_READER_END_OF_STREAM;
    cs->buf.n = 0;
    cs->pos = 0;
    tsr_store *st = srv_store(cs->S);
    int64_t before = cs->rows;
    cs->q.limit = CSV_PAGE;
    if (!st || tsr_store_customers_list(st, &cs->q, csv_count_cb, cs, NULL) != TSR_OK || cs->buf.oom)
      return MHD_CONTENT_READER_END_WITH_ERROR;
    if (cs->rows - before < CSV_PAGE) cs->done = 1;
    cs->q.offset += CSV_PAGE;
  }
  size_t n = cs->buf.n - cs->pos < max ? cs->buf.n - cs->pos : max;
  memcpy(out, cs->buf.p + cs->pos, n);
  cs->pos += n;
  atomic_fetch_add(&cs->S->m_bytes_out, (long long)n);
  return (ssize_t)n;
}

static void csv_free(void *cls) {
  csv_stream *cs = cls;
  srv_buf_free(&cs->buf);
  free(cs);
}

enum MHD_Result srv_api_run_customers_csv(srv_req *r) {
  tsr_store *st = r->st;
  int64_t run_id = r->pid[0];
  tsr_customer_query q;
  enum MHD_Result ret;
  if (customer_query(r, run_id, &q, 0, &ret)) return ret;
  tsr_run *run = NULL;
  tsr_error e;
  tsr_status s = tsr_store_run_get(st, run_id, &run, &e);
  if (s != TSR_OK) return srv_send_tsr(r, s, &e);
  tsr_store_free(run);
  csv_stream *cs = calloc(1, sizeof *cs);
  if (!cs) return srv_send_error(r, 500, "ENOMEM", "out of memory");
  cs->S = r->S;
  cs->q = q;
  if (q.segment) {
    snprintf(cs->segment, sizeof cs->segment, "%s", q.segment);
    cs->q.segment = cs->segment;
  }
  srv_buf_puts(&cs->buf, "customer_id,frequency,recency,T,monetary_value,revenue,transactions,first_purchase,"
                    "last_purchase,rfm_cell,segment,cluster,expected_purchases,p_alive,clv,clv_lo,clv_hi\n");
  struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, csv_reader, cs, csv_free);
  if (!resp) {
    csv_free(cs);
    return srv_send_error(r, 500, "ENOMEM", "out of memory");
  }
  char disp[128];
  snprintf(disp, sizeof disp, "attachment; filename=\"run-%lld-customers.csv\"", (long long)run_id);
  MHD_add_response_header(resp, "Content-Disposition", disp);
  return srv_send_response(r, 200, resp, "text/csv; charset=utf-8");
}

static enum MHD_Result customer_one(srv_req *r, tsr_store *st, int64_t run_id, const char *cid) {
  tsr_error e;
  tsr_error_clear(&e);
  json_t *o = srv_view_customer(st, run_id, cid, &e);
  if (!o) return srv_send_tsr(r, e.code, &e);
  return srv_send_json(r, 200, o);
}

enum MHD_Result srv_api_run_customer(srv_req *r) { return customer_one(r, r->st, r->pid[0], r->parg[1]); }

/* GET /api/v1/profiles/{id}: the customer's profile in the newest run
 * that has it (runs of bundle analyses, docs/profiles.md). */
typedef struct prof_ctx {
  int64_t ids[200];
  size_t n;
} prof_ctx;

static int prof_run_cb(void *ctx, const tsr_run *run) {
  prof_ctx *c = ctx;
  if (c->n < 200 && run->status == TSR_RUN_DONE) c->ids[c->n++] = run->id;
  return c->n >= 200;
}

static enum MHD_Result profile_latest(srv_req *r, tsr_store *st, const char *cid) {
  prof_ctx c = {{0}, 0};
  tsr_store_runs_list(st, 200, 0, prof_run_cb, &c, NULL);
  int64_t best = 0;
  for (size_t i = 0; i < c.n; i++) {
    if (c.ids[i] <= best) continue;
    tsr_customer *cu = NULL;
    if (tsr_store_customer_get(st, c.ids[i], cid, &cu, NULL) == TSR_OK) {
      if (cu->extra && !strncmp(cu->extra, "{\"profile\":", 11)) best = c.ids[i];
      tsr_store_free(cu);
    }
  }
  if (!best) return srv_send_error(r, 404, "ENOTFOUND", "no profile of customer '%.64s'", cid);
  return customer_one(r, st, best, cid);
}

/* GET /api/v1/profiles/{id}: the live profile from the event log
 * (server/events.c), else the newest bundle run's. */
enum MHD_Result srv_api_profile(srv_req *r) { return srv_rt_profile_get_or(r, r->parg[0], profile_latest, r->st); }

/* ================================================================ jobs */

/* The job of the path, or NULL with a 404 sent. */
static int path_job(srv_req *r, srv_job *j, enum MHD_Result *ret) {
  if (srv_jobs_get(r->S, r->pid[0], j) == 0) return 0;
  *ret = srv_send_error(r, 404, "ENOTFOUND", "job %lld: not found", (long long)r->pid[0]);
  return -1;
}

enum MHD_Result srv_api_job_get(srv_req *r) {
  srv_job j;
  enum MHD_Result ret;
  if (path_job(r, &j, &ret)) return ret;
  return srv_send_json(r, 200, json_pack("{s:o}", "job", srv_view_job(r->S, &j)));
}

enum MHD_Result srv_api_job_cancel(srv_req *r) {
  srv_job j;
  enum MHD_Result ret;
  int64_t id = r->pid[0];
  if (path_job(r, &j, &ret)) return ret;
  if (!may_change(r, j.owner)) return srv_send_error(r, 403, "EPERM", "only the owner of job %lld or an admin may cancel it", (long long)id);
  if (srv_jobs_cancel(r->S, id)) return srv_send_error(r, 409, "EINVAL", "job %lld is not running", (long long)id);
  return srv_send_json(r, 202, json_pack("{s:I,s:b}", "id", (json_int_t)id, "cancel_requested", 1));
}

/* ================================================================ runs */

enum MHD_Result srv_api_runs_list(srv_req *r) {
  runs_ctx c = {r->S, r->st, json_array(), {0}, 0};
  tsr_store_runs_list(r->st, 200, 0, run_list_cb, &c, NULL);
  return srv_send_json(r, 200, json_pack("{s:o}", "runs", c.arr));
}

enum MHD_Result srv_api_run_get(srv_req *r) {
  tsr_run *run = NULL;
  tsr_error e;
  tsr_status s = tsr_store_run_get(r->st, r->pid[0], &run, &e);
  if (s != TSR_OK) return srv_send_tsr(r, s, &e);
  json_t *o = srv_view_run_row(r->S, r->st, run);
  tsr_store_free(run);
  return srv_send_json(r, 200, o);
}

enum MHD_Result srv_api_run_delete(srv_req *r) {
  int64_t id = r->pid[0], owner = 0;
  tsr_error e;
  tsr_status s = tsr_web_run_get(r->st, id, NULL, &owner, &e);
  if (s != TSR_OK && srv_role_rank(r->user->role) < 3) return srv_send_tsr(r, s, &e);
  if (!may_change(r, owner)) return srv_send_error(r, 403, "EPERM", "only the owner of run %lld or an admin may delete it", (long long)id);
  srv_job j;
  if (srv_jobs_get_by_run(r->S, id, &j) == 0 && (j.state == SRV_JOB_RUNNING || j.state == SRV_JOB_QUEUED))
    return srv_send_error(r, 409, "EINVAL", "run %lld is still running: cancel it first", (long long)id);
  if ((s = tsr_web_run_delete(r->st, id, &e)) != TSR_OK) return srv_send_tsr(r, s, &e);
  srv_cache_drop(r->S, id);
  return srv_send_json(r, 200, json_pack("{s:I,s:b}", "id", (json_int_t)id, "deleted", 1));
}

enum MHD_Result srv_api_run_cancel(srv_req *r) {
  int64_t id = r->pid[0];
  srv_job j;
  if (srv_jobs_get_by_run(r->S, id, &j)) return srv_send_error(r, 409, "EINVAL", "run %lld is not running", (long long)id);
  if (!may_change(r, j.owner)) return srv_send_error(r, 403, "EPERM", "only the owner of run %lld or an admin may cancel it", (long long)id);
  if (srv_jobs_cancel(r->S, j.id)) return srv_send_error(r, 409, "EINVAL", "run %lld is not running", (long long)id);
  return srv_send_json(r, 202, json_pack("{s:I,s:b}", "id", (json_int_t)id, "cancel_requested", 1));
}

/* The report's data: JSON text made by the report (app/report_json.c),
 * sent as it is. */
enum MHD_Result srv_api_run_report(srv_req *r) {
  size_t len = 0;
  tsr_error e;
  tsr_error_clear(&e);
  char *s = srv_run_report(r->S, r->st, r->pid[0], &len, &e);
  if (!s) return srv_send_tsr(r, e.code, &e);
  enum MHD_Result res = srv_send_body(r, 200, "application/json", s, len);
  free(s);
  return res;
}

/* ================================================================ events, users */

typedef struct ev_ctx {
  const srv *S;
  json_t *arr;
  size_t max;
} ev_ctx;

static int ev_cb(void *ctx, const tsr_event *ev) {
  ev_ctx *c = ctx;
  json_array_append_new(c->arr, srv_view_event(c->S, ev));
  return json_array_size(c->arr) >= c->max;
}

static enum MHD_Result events_list(srv_req *r, tsr_store *st, int64_t run_id) {
  tsr_log_level lvl = TSR_LOG_INFO;
  const char *l = srv_req_arg(r, "level");
  if (l && *l && tsr_log_level_parse(l, &lvl) != TSR_OK)
    return srv_send_error(r, 400, "EINVAL", "level: expected info, warn or error, got '%.40s'", l);
  enum MHD_Result ret;
  if (!run_id) {
    int64_t v;
    if (srv_query_int(r, "run", 0, INT64_C(1000000000000), 0, &v, &ret)) return ret;
    run_id = v;
  }
  ev_ctx c = {r->S, json_array(), 5000};
  tsr_error e;
  tsr_status s = tsr_store_events_list(st, run_id, lvl, ev_cb, &c, &e);
  if (s != TSR_OK) {
    json_decref(c.arr);
    return srv_send_tsr(r, s, &e);
  }
  return srv_send_json(r, 200, json_pack("{s:o}", "events", c.arr));
}

enum MHD_Result srv_api_events(srv_req *r) { return events_list(r, r->st, 0); }

enum MHD_Result srv_api_run_events(srv_req *r) {
  if (r->pid[0] == 0) return srv_send_error(r, 400, "EINVAL", "run id: expected a positive number");
  return events_list(r, r->st, r->pid[0]);
}

enum MHD_Result srv_api_events_post(srv_req *r) { return srv_rt_events_post(r); }
enum MHD_Result srv_api_stream(srv_req *r) { return srv_rt_changes_sse(r); }

static int user_cb(void *ctx, const tsr_web_user *u) {
  char b[40];
  json_array_append_new(ctx, json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)u->id, "name", u->name,
                                       "role", u->role, "created_at",
                                       tsr_store_time_format(u->created_at, b, sizeof b)));
  return 0;
}

enum MHD_Result srv_api_users_list(srv_req *r) {
  tsr_error e;
  json_t *a = json_array();
  tsr_status s = tsr_web_users_list(r->st, user_cb, a, &e);
  if (s != TSR_OK) {
    json_decref(a);
    return srv_send_tsr(r, s, &e);
  }
  return srv_send_json(r, 200, json_pack("{s:o}", "users", a));
}

enum MHD_Result srv_api_user_add(srv_req *r) {
  enum MHD_Result ret;
  json_t *b = srv_body_json(r, &ret);
  if (!b) return ret;
  const char *n = srv_json_text(b, "name"), *role = srv_json_text(b, "role"), *pw = srv_json_text(b, "password");
  if (!n || !role || !pw || strlen(pw) < 8 || strlen(pw) > 1024) {
    json_decref(b);
    return srv_send_error(r, 400, "EINVAL",
                          "expected {\"name\", \"role\": admin|analyst|viewer, \"password\": 8 to 1024 bytes}");
  }
  char hash[crypto_pwhash_STRBYTES];
  if (tsr_server_hash_password(pw, hash)) {
    json_decref(b);
    return srv_send_error(r, 500, "ENOMEM", "could not hash the password");
  }
  int64_t id = 0;
  tsr_error e;
  tsr_status s = tsr_web_user_add(r->st, n, role, hash, &id, &e);
  json_decref(b);
  if (s != TSR_OK) return srv_send_tsr(r, s, &e);
  return srv_send_json(r, 201, json_pack("{s:I}", "id", (json_int_t)id));
}

enum MHD_Result srv_api_user_delete(srv_req *r) {
  const char *name = r->parg[0];
  tsr_error e;
  if (!strcmp(name, r->user->name)) return srv_send_error(r, 409, "EINVAL", "you cannot delete your own account");
  tsr_status s = tsr_web_user_del(r->st, name, &e);
  if (s != TSR_OK) return srv_send_tsr(r, s, &e);
  srv_auth_cache_clear(r->S);
  return srv_send_json(r, 200, json_pack("{s:s,s:b}", "name", name, "deleted", 1));
}

/* ================================================================ the rest */

enum MHD_Result srv_api_logout(srv_req *r) {
  srv_auth_logout(r);
  return srv_send_json(r, 200, json_pack("{s:b}", "logged_out", 1));
}

/* The OpenAPI description: web/openapi.json, embedded with the assets. */
enum MHD_Result srv_api_openapi(srv_req *r) {
  for (const tsr_web_asset *a = tsr_web_assets; a->path; a++)
    if (!strcmp(a->path, "/static/openapi.json"))
      return srv_send_body(r, 200, "application/json", (const char *)a->data, a->len);
  return srv_send_error(r, 500, "ENOTFOUND", "the OpenAPI description is missing from this build");
}

enum MHD_Result srv_api_dataset_get(srv_req *r) {
  tsr_error e;
  tsr_error_clear(&e);
  json_t *o = srv_view_dataset(r->st, r->pid[0], 1, &e);
  if (!o) return srv_send_tsr(r, e.code, &e);
  return srv_send_json(r, 200, o);
}

enum MHD_Result srv_api_retrain(srv_req *r) { return srv_retrain_api(r, r->st); }

/* The decisions of server/decisions.c, with its path segments after /api/v1. */
enum MHD_Result srv_api_decisions(srv_req *r) {
  char buf[SRV_MAX_URL];
  snprintf(buf, sizeof buf, "%s", r->path + 8);
  char *seg[8] = {0};
  int n = 0;
  char *save = NULL;
  for (char *t = strtok_r(buf, "/", &save); t && n < 8; t = strtok_r(NULL, "/", &save)) seg[n++] = t;
  return srv_decisions_api(r, r->st, n, seg);
}
