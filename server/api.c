/*
 * api.c - the JSON API of `tessera serve` under /api/v1 (docs/api.md, served
 * as OpenAPI at /api/v1/openapi.json): login, datasets (streamed upload,
 * list, one with a preview, delete), runs (start as a background job,
 * status/progress, cancel, results), customers (profile with purchase
 * history, filtered and paged lists, CSV export), segments, models, events,
 * users. Errors: HTTP status + {"error":{"code":"E...","message":"..."}}.
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

int tsr__srv_seg_cb(void *ctx, const tsr_segment_row *s);
int tsr__srv_model_cb(void *ctx, const tsr_model *m);
void tsr__srv_job_cb(void *ctx, const job *j);

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

static enum MHD_Result fail_err(req *r, tsr_status st, const tsr_error *e) {
  char msg[1200];
  if (e && e->code != TSR_OK) tsr_error_format(e, msg, sizeof msg);
  else snprintf(msg, sizeof msg, "%s", tsr_strerror(st));
  return send_error(r, status_http(st), tsr_status_name(st), "%s", msg);
}

/* Strict non-negative integer from a path segment or query value. */
static int parse_id(const char *s, int64_t *out) {
  if (!s || !*s || strlen(s) > 18) return -1;
  int64_t v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') return -1;
    v = v * 10 + (*p - '0');
  }
  *out = v;
  return 0;
}

static int parse_query_int(req *r, const char *name, int64_t lo, int64_t hi, int64_t def,
                           int64_t *out, enum MHD_Result *ret) {
  const char *v = req_arg(r, name);
  if (!v || !*v) {
    *out = def;
    return 0;
  }
  int64_t x;
  if (parse_id(v, &x) || x < lo || x > hi) {
    *ret = send_error(r, 400, "EINVAL", "%s: expected an integer in [%lld, %lld], got '%.40s'", name,
                      (long long)lo, (long long)hi, v);
    return -1;
  }
  *out = x;
  return 0;
}

/* The JSON object body of r (NULL with a 400 sent when it does not parse). */
static json_t *body_json(req *r, enum MHD_Result *ret) {
  if (r->kind == BODY_FORM) {
    json_t *o = json_object();
    for (size_t i = 0; i < r->nfields; i++)
      json_object_set_new(o, r->fields[i].name, json_string(r->fields[i].value ? r->fields[i].value : ""));
    return o;
  }
  if (!r->body_len) return json_object();
  json_error_t je;
  json_t *j = json_loadb(r->body, r->body_len, 0, &je);
  if (!j) {
    *ret = send_error(r, 400, "EPARSE", "request body: line %d, column %d: %s", je.line, je.column,
                      je.text);
    return NULL;
  }
  if (!json_is_object(j)) {
    json_decref(j);
    *ret = send_error(r, 400, "EPARSE", "request body: expected a JSON object");
    return NULL;
  }
  return j;
}

static const char *jget_str(json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

/* 1 when the user may change an object owned by owner. */
static int may_change(req *r, int64_t owner) {
  return role_rank(r->user->role) >= 3 || (role_rank(r->user->role) >= 2 && owner == r->user->id);
}

/* ================================================================ login */

static enum MHD_Result api_login(req *r) {
  enum MHD_Result ret;
  json_t *b = body_json(r, &ret);
  if (!b) return ret;
  const char *name = jget_str(b, "name"), *pw = jget_str(b, "password");
  if (!name || !pw) {
    json_decref(b);
    return send_error(r, 400, "EINVAL", "login: expected {\"name\": ..., \"password\": ...}");
  }
  int want_token = json_is_true(json_object_get(b, "token"));
  tsr_web_user *u = NULL;
  char msg[200];
  int code = auth_login(r, name, pw, &u, msg, sizeof msg);
  json_decref(b);
  if (code) return send_error(r, code, code == 401 ? "EAUTH" : code == 429 ? "ELIMIT" : "EBUSY", "%s", msg);
  json_t *o = json_pack("{s:s,s:s}", "user", u->name, "role", u->role);
  if (want_token) {
    char tok[65], hash[65];
    tsr_store *st = srv_store(r->S);
    if (tsr_server_new_token(tok, hash) || !st || tsr_web_token_add(st, u->id, hash, NULL) != TSR_OK) {
      tsr_store_free(u);
      json_decref(o);
      return send_error(r, 500, "ESTORE", "could not create a token");
    }
    json_object_set_new(o, "token", json_string(tok));
  } else {
    if (auth_session_new(r, u)) {
      tsr_store_free(u);
      json_decref(o);
      return send_error(r, 500, "ESTORE", "could not create a session");
    }
    json_object_set_new(o, "csrf", json_string(r->csrf));
  }
  tsr_store_free(u);
  return send_json(r, 200, o);
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

static void clean_text(const char *in, char *out, size_t cap);

json_t *api_dataset_json(tsr_store *st, int64_t id, int preview, tsr_error *err) {
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
  clean_text(d->source ? d->source : "", nm, sizeof nm); /* valid UTF-8 even for old rows */
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

static enum MHD_Result datasets_list(req *r, tsr_store *st) {
  list_ctx l = {st, json_array(), {0}, 0};
  tsr_error e;
  tsr_status s = tsr_store_datasets_list(st, 1000, 0, ds_cb, &l, &e);
  if (s != TSR_OK) {
    json_decref(l.arr);
    return fail_err(r, s, &e);
  }
  for (size_t i = 0; i < l.n; i++) {
    json_t *o = api_dataset_json(st, l.ids[i], 0, NULL);
    if (o) json_array_append_new(l.arr, o);
  }
  return send_json(r, 200, json_pack("{s:o}", "datasets", l.arr));
}

/* Keeps a safe display name: the base name, printable, at most 200 bytes. */
/* Length of the valid UTF-8 sequence at p (1..4), 0 when invalid
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static size_t utf8_len(const unsigned char *p) {
  if (p[0] < 0x80) return 1;
  if (p[0] >= 0xC2 && p[0] <= 0xDF) return (p[1] & 0xC0) == 0x80 ? 2 : 0;
  if (p[0] >= 0xE0 && p[0] <= 0xEF) {
    if ((p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
    if (p[0] == 0xE0 && p[1] < 0xA0) return 0;
    if (p[0] == 0xED && p[1] >= 0xA0) return 0;
    return 3;
  }
  if (p[0] >= 0xF0 && p[0] <= 0xF4) {
    if ((p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
    if (p[0] == 0xF0 && p[1] < 0x90) return 0;
    if (p[0] == 0xF4 && p[1] >= 0x90) return 0;
    return 4;
  }
  return 0;
}

/* Text for display and storage: control characters as '_', invalid UTF-8
 * bytes as U+FFFD, at most ~200 bytes (cut at a character boundary). */
static void clean_text(const char *b, char *out, size_t cap) {
  size_t k = 0;
  for (const unsigned char *p = (const unsigned char *)b; *p && k < 200;) {
    size_t n = utf8_len(p);
    if (n == 0) {
      if (k + 4 > cap) break;
      memcpy(out + k, "\xEF\xBF\xBD", 3);
      k += 3;
      p++;
      continue;
    }
    if (k + n + 1 > cap) break;
    if (n == 1) out[k++] = (*p < 0x20 || *p == 0x7f) ? '_' : (char)*p;
    else memcpy(out + k, p, n), k += n;
    p += n;
  }
  out[k] = '\0';
}

/* A file name: the last path component of in as clean_text, "upload.csv"
 * when empty. */
static void clean_name(const char *in, char *out, size_t cap) {
  const char *b = strrchr(in, '/');
  b = b ? b + 1 : in;
  const char *b2 = strrchr(b, '\\');
  b = b2 ? b2 + 1 : b;
  clean_text(b, out, cap);
  if (!out[0]) snprintf(out, cap, "upload.csv");
}

int api_upload_finish(req *r, int64_t *dataset_id, char *msg, size_t cap) {
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
  const char *n = req_arg(r, "name");
  if (!n || !*n) n = req_field(r, "name");
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

static enum MHD_Result dataset_upload(req *r, tsr_store *st) {
  int64_t id = 0;
  char msg[600];
  int code = api_upload_finish(r, &id, msg, sizeof msg);
  if (code) return send_error(r, code, code == 400 ? "EINVAL" : "ESTORE", "%s", msg);
  tsr_error e;
  json_t *o = api_dataset_json(st, id, 1, &e);
  if (!o) return fail_err(r, e.code, &e);
  return send_json(r, 201, o);
}

static enum MHD_Result dataset_delete(req *r, tsr_store *st, int64_t id) {
  int64_t owner = 0;
  tsr_error e;
  tsr_status s = tsr_web_upload_owner(st, id, &owner, &e);
  if (s != TSR_OK) return fail_err(r, s, &e);
  if (!may_change(r, owner))
    return send_error(r, 403, "EPERM", "only the owner of dataset %lld or an admin may delete it", (long long)id);
  tsr_dataset *d = NULL;
  char path[1200] = "";
  if (tsr_store_dataset_get(st, id, &d, NULL) == TSR_OK && d->stored_path)
    snprintf(path, sizeof path, "%s", d->stored_path);
  tsr_store_free(d);
  if ((s = tsr_web_dataset_delete(st, id, &e)) != TSR_OK) return fail_err(r, s, &e);
  if (path[0]) unlink(path);
  return send_json(r, 200, json_pack("{s:I,s:b}", "id", (json_int_t)id, "deleted", 1));
}

static int rej_cb(void *ctx, const tsr_reject_row *x) {
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

static json_t *run_json(srv *S, tsr_store *st, const tsr_run *run) {
  json_t *o = json_object();
  json_object_set_new(o, "id", json_integer(run->id));
  int64_t upload = 0, owner = 0;
  tsr_web_run_get(st, run->id, &upload, &owner, NULL);
  json_object_set_new(o, "dataset_id", upload ? json_integer(upload) : json_null());
  /* the uploaded file's name rather than the server's path of it */
  tsr_dataset *d = NULL;
  if (upload && tsr_store_dataset_get(st, upload, &d, NULL) == TSR_OK)
    json_object_set_new(o, "source", json_string(d->source));
  else
    json_object_set_new(o, "source", jstr(run->dataset_source));
  tsr_store_free(d);
  json_object_set_new(o, "command", json_string(run->command));
  json_object_set_new(o, "status", json_string(tsr_run_status_name(run->status)));
  json_object_set_new(o, "created_at", jtime(run->created_at));
  json_object_set_new(o, "started_at", jtime(run->started_at));
  json_object_set_new(o, "finished_at", jtime(run->finished_at));
  json_object_set_new(o, "params", jparse(run->params));
  json_object_set_new(o, "timings", jparse(run->timings));
  json_object_set_new(o, "kpis", jparse(run->summary));
  json_object_set_new(o, "error", jstr(run->error));
  json_object_set_new(o, "customers", json_integer(run->n_customers));
  job j;
  if (jobs_get_by_run(S, run->id, &j) == 0) json_object_set_new(o, "job", job_json(&j));
  if ((run->status == TSR_RUN_FAILED) && run->dataset_id) {
    json_t *rj = json_array();
    tsr_store_rejects_list(st, run->dataset_id, 20, 0, rej_cb, rj, NULL);
    json_object_set_new(o, "rejects", rj);
  }
  return o;
}

typedef struct runs_ctx {
  srv *S;
  tsr_store *st;
  json_t *arr;
  tsr_run *rows[200];
  size_t n;
} runs_ctx;

static int run_list_cb(void *ctx, const tsr_run *run) {
  runs_ctx *c = ctx;
  json_array_append_new(c->arr, run_json(c->S, c->st, run));
  return json_array_size(c->arr) >= 200;
}

static enum MHD_Result run_start(req *r, tsr_store *st) {
  enum MHD_Result ret;
  json_t *b = body_json(r, &ret);
  if (!b) return ret;
  int64_t ds = 0;
  json_t *dv = json_object_get(b, "dataset_id");
  if (json_is_integer(dv)) ds = json_integer_value(dv);
  else if (json_is_string(dv)) parse_id(json_string_value(dv), &ds);
  if (ds <= 0) {
    json_decref(b);
    return send_error(r, 400, "EINVAL", "dataset_id: expected the id of an uploaded dataset");
  }
  tsr_dataset *d = NULL;
  tsr_error e;
  int64_t owner;
  if (tsr_web_upload_owner(st, ds, &owner, &e) != TSR_OK || tsr_store_dataset_get(st, ds, &d, &e) != TSR_OK) {
    json_decref(b);
    return send_error(r, 404, "ENOTFOUND", "dataset %lld: not found", (long long)ds);
  }
  job *j = calloc(1, sizeof *j);
  if (!j) {
    tsr_store_free(d);
    json_decref(b);
    return send_error(r, 500, "ENOMEM", "out of memory");
  }
  char msg[600], fname[64] = "";
  json_t *params = json_object_get(b, "params");
  if (!params && r->kind == BODY_FORM) params = b;
  if (params == b) json_object_del(b, "dataset_id");
  if (params == b) json_object_del(b, "csrf");
  if (jobs_params_json(j, params, msg, sizeof msg, fname, sizeof fname)) {
    free(j);
    tsr_store_free(d);
    json_decref(b);
    json_t *err = json_pack("{s:{s:s,s:s,s:s}}", "error", "code", "EINVAL", "message", msg, "field", fname);
    return send_json(r, 400, err);
  }
  json_decref(b);
  j->upload_id = ds;
  j->owner = r->user->id;
  snprintf(j->owner_name, sizeof j->owner_name, "%s", r->user->name);
  snprintf(j->input, sizeof j->input, "%s", d->stored_path ? d->stored_path : "");
  tsr_store_free(d);
  if (jobs_check_columns(j, msg, sizeof msg, fname, sizeof fname)) {
    free(j);
    json_t *err = json_pack("{s:{s:s,s:s,s:s}}", "error", "code", "EINVAL", "message", msg, "field", fname);
    return send_json(r, 400, err);
  }
  unsigned char rnd[6];
  char hex[13];
  randombytes_buf(rnd, sizeof rnd);
  sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
  snprintf(j->out_dir, sizeof j->out_dir, "%s/runs/%lld-%s", r->S->data_dir,
           (long long)tsr_store_now_ms(), hex);
  int64_t id = jobs_submit(r->S, j);
  if (!id) {
    free(j);
    return send_error(r, 503, "EBUSY", "too many jobs are queued; try again later");
  }
  job copy;
  jobs_get(r->S, id, &copy);
  return send_json(r, 202, json_pack("{s:o}", "job", job_json(&copy)));
}

char *api_run_results(srv *S, tsr_store *st, int64_t run_id, size_t *len, tsr_error *err) {
  char *c = cache_get(S, run_id, len);
  if (c) return c;
  tsr_run *run = NULL;
  if (tsr_store_run_get(st, run_id, &run, err) != TSR_OK) return NULL;
  json_t *o = json_object();
  json_object_set_new(o, "run", run_json(S, st, run));
  json_object_set_new(o, "kpis", jparse(run->summary));
  json_t *segs = json_array();
  json_object_set_new(o, "segments", segs);
  int done = run->status == TSR_RUN_DONE;
  tsr_store_free(run);
  tsr_store_segments_list(st, run_id, NULL, tsr__srv_seg_cb, segs, NULL);
  json_t *models = json_array();
  tsr_store_models_list(st, run_id, NULL, tsr__srv_model_cb, models, NULL);
  json_object_set_new(o, "models", models);
  char *agg = NULL;
  if (tsr_web_run_aggregates(st, run_id, &agg, NULL) == TSR_OK) {
    json_t *a = json_loads(agg, 0, NULL);
    json_object_set_new(o, "aggregates", a ? a : json_null());
    free(agg);
  }
  char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
  json_decref(o);
  if (!s) {
    tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    return NULL;
  }
  *len = strlen(s);
  if (done) cache_put(S, run_id, s, *len);
  return s;
}

char *api_run_report(srv *S, tsr_store *st, int64_t run_id, size_t *len, tsr_error *err) {
  /* cached under the negated run id (the results use the run id) */
  char *c = cache_get(S, -run_id, len);
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
  cache_put(S, -run_id, json, *len);
  return json;
}

int tsr__srv_seg_cb(void *ctx, const tsr_segment_row *s) {
  json_array_append_new(ctx, json_pack("{s:s,s:s,s:I,s:o,s:o,s:o,s:o,s:o,s:o}", "scheme", s->scheme,
                                       "segment", s->segment, "customers", (json_int_t)s->customers,
                                       "share", jnum(s->share), "mean_r", jnum(s->mean_r), "mean_f",
                                       jnum(s->mean_f), "mean_m", jnum(s->mean_m), "revenue",
                                       jnum(s->revenue), "revenue_share", jnum(s->revenue_share)));
  return 0;
}

int tsr__srv_model_cb(void *ctx, const tsr_model *m) {
  json_array_append_new(ctx, json_pack("{s:I,s:I,s:s,s:I,s:o,s:o,s:o,s:b}", "id", (json_int_t)m->id,
                                       "run_id", (json_int_t)m->run_id, "kind", m->kind, "version",
                                       (json_int_t)m->version, "params", jparse(m->params),
                                       "fit_stats", jparse(m->fit_stats), "created_at",
                                       jtime(m->created_at), "promoted", m->promoted));
  return 0;
}

/* ================================================================ customers */

json_t *api_customer_json(const tsr_customer *c) {
  json_t *o = json_object();
  char d1[40], d2[40];
  json_object_set_new(o, "customer_id", json_string(c->customer_id));
  json_object_set_new(o, "frequency", jnum(c->frequency));
  json_object_set_new(o, "recency", jnum(c->recency));
  json_object_set_new(o, "T", jnum(c->T));
  json_object_set_new(o, "monetary_value", jnum(c->monetary_value));
  json_object_set_new(o, "revenue", jnum(c->revenue));
  json_object_set_new(o, "transactions", json_integer(c->n_transactions));
  json_object_set_new(o, "first_purchase", json_string(tsr_day_format(c->first_purchase / 86400000, d1)));
  json_object_set_new(o, "last_purchase", json_string(tsr_day_format(c->last_purchase / 86400000, d2)));
  json_object_set_new(o, "r_score", c->r_score ? json_integer(c->r_score) : json_null());
  json_object_set_new(o, "f_score", c->f_score ? json_integer(c->f_score) : json_null());
  json_object_set_new(o, "m_score", c->m_score ? json_integer(c->m_score) : json_null());
  json_object_set_new(o, "rfm_cell", jstr(c->rfm_cell));
  json_object_set_new(o, "segment", jstr(c->segment));
  json_object_set_new(o, "cluster", c->cluster >= 0 ? json_integer(c->cluster) : json_null());
  json_object_set_new(o, "expected_purchases", jnum(c->expected_purchases));
  json_object_set_new(o, "p_alive", jnum(c->p_alive));
  json_object_set_new(o, "clv", jnum(c->clv));
  json_object_set_new(o, "clv_lo", jnum(c->clv_lo));
  json_object_set_new(o, "clv_hi", jnum(c->clv_hi));
  return o;
}

static int cust_cb(void *ctx, const tsr_customer *c) {
  json_array_append_new(ctx, api_customer_json(c));
  return 0;
}

static const char *const sort_names[] = {"id", "frequency", "recency", "monetary", "revenue", "rfm",
                                         "expected", "p_alive", "clv"};

/* Reads segment, cluster, sort, order, limit, offset into q. */
static int customer_query(req *r, int64_t run_id, tsr_customer_query *q, int paged,
                          enum MHD_Result *ret) {
  tsr_customer_query_init(q, run_id);
  const char *seg = req_arg(r, "segment");
  if (seg && *seg) q->segment = seg;
  int64_t v;
  if (parse_query_int(r, "cluster", 0, 1000, -1, &v, ret)) return -1;
  q->cluster = v;
  const char *sort = req_arg(r, "sort");
  if (sort && *sort) {
    size_t i;
    for (i = 0; i < sizeof sort_names / sizeof *sort_names; i++)
      if (!strcmp(sort, sort_names[i])) break;
    if (i == sizeof sort_names / sizeof *sort_names) {
      *ret = send_error(r, 400, "EINVAL",
                        "sort: expected one of id, frequency, recency, monetary, revenue, rfm, "
                        "expected, p_alive, clv, got '%.40s'", sort);
      return -1;
    }
    q->sort = (tsr_customer_sort)i;
  }
  const char *ord = req_arg(r, "order");
  if (ord && *ord) {
    if (strcmp(ord, "asc") && strcmp(ord, "desc")) {
      *ret = send_error(r, 400, "EINVAL", "order: expected asc or desc, got '%.40s'", ord);
      return -1;
    }
    q->descending = !strcmp(ord, "desc");
  }
  if (paged) {
    if (parse_query_int(r, "limit", 1, 1000, 50, &q->limit, ret)) return -1;
    if (parse_query_int(r, "offset", 0, INT64_C(1000000000000), 0, &q->offset, ret)) return -1;
  }
  return 0;
}

static enum MHD_Result customers_list(req *r, tsr_store *st, int64_t run_id) {
  tsr_customer_query q;
  enum MHD_Result ret;
  if (customer_query(r, run_id, &q, 1, &ret)) return ret;
  tsr_run *run = NULL;
  tsr_error e;
  tsr_status s = tsr_store_run_get(st, run_id, &run, &e);
  if (s != TSR_OK) return fail_err(r, s, &e);
  tsr_store_free(run);
  int64_t total = 0;
  if ((s = tsr_store_customers_count(st, &q, &total, &e)) != TSR_OK) return fail_err(r, s, &e);
  json_t *arr = json_array();
  if ((s = tsr_store_customers_list(st, &q, cust_cb, arr, &e)) != TSR_OK) {
    json_decref(arr);
    return fail_err(r, s, &e);
  }
  return send_json(r, 200, json_pack("{s:I,s:I,s:I,s:o}", "total", (json_int_t)total, "limit",
                                     (json_int_t)q.limit, "offset", (json_int_t)q.offset,
                                     "customers", arr));
}

static int csv_cb(void *ctx, const tsr_customer *c) {
  sbuf *b = ctx;
  char d1[16], d2[16], cl[24];
  sb_csv(b, c->customer_id);
  sb_printf(b, ",%.17g,%.17g,%.17g,%.17g,%.17g,%lld,%s,%s,", c->frequency, c->recency, c->T,
            c->monetary_value, c->revenue, (long long)c->n_transactions,
            tsr_day_format(c->first_purchase / 86400000, d1),
            tsr_day_format(c->last_purchase / 86400000, d2));
  sb_csv(b, c->rfm_cell);
  sb_puts(b, ",");
  sb_csv(b, c->segment);
  snprintf(cl, sizeof cl, "%lld", (long long)c->cluster);
  sb_printf(b, ",%s", c->cluster >= 0 ? cl : "");
  const double v[] = {c->expected_purchases, c->p_alive, c->clv, c->clv_lo, c->clv_hi};
  for (size_t i = 0; i < 5; i++) {
    if (isfinite(v[i])) sb_printf(b, ",%.17g", v[i]);
    else sb_puts(b, ",");
  }
  sb_puts(b, "\n");
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
  sbuf buf;
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
  sb_free(&cs->buf);
  free(cs);
}

static enum MHD_Result customers_csv(req *r, tsr_store *st, int64_t run_id) {
  tsr_customer_query q;
  enum MHD_Result ret;
  if (customer_query(r, run_id, &q, 0, &ret)) return ret;
  tsr_run *run = NULL;
  tsr_error e;
  tsr_status s = tsr_store_run_get(st, run_id, &run, &e);
  if (s != TSR_OK) return fail_err(r, s, &e);
  tsr_store_free(run);
  csv_stream *cs = calloc(1, sizeof *cs);
  if (!cs) return send_error(r, 500, "ENOMEM", "out of memory");
  cs->S = r->S;
  cs->q = q;
  if (q.segment) {
    snprintf(cs->segment, sizeof cs->segment, "%s", q.segment);
    cs->q.segment = cs->segment;
  }
  sb_puts(&cs->buf, "customer_id,frequency,recency,T,monetary_value,revenue,transactions,first_purchase,"
                    "last_purchase,rfm_cell,segment,cluster,expected_purchases,p_alive,clv,clv_lo,clv_hi\n");
  struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, csv_reader, cs, csv_free);
  if (!resp) {
    csv_free(cs);
    return send_error(r, 500, "ENOMEM", "out of memory");
  }
  char disp[128];
  snprintf(disp, sizeof disp, "attachment; filename=\"run-%lld-customers.csv\"", (long long)run_id);
  MHD_add_response_header(resp, "Content-Disposition", disp);
  return send_response(r, 200, resp, "text/csv; charset=utf-8");
}

static int hist_cb(void *ctx, const tsr_web_history_row *h) {
  sbuf *b = ctx;
  char d[16];
  if (b->p && b->p[b->n - 1] != '[') sb_put(b, ",", 1);
  sb_puts(b, "{\"date\":\"");
  sb_puts(b, tsr_day_format(h->day, d));
  sb_printf(b, "\",\"purchases\":%lld,\"amount\":", (long long)h->ntx);
  sb_json_num(b, h->amount);
  sb_put(b, "}", 1);
  return 0;
}

/* Writes "name":value pairs of a customer (the hot path of the API: built by
 * hand rather than through a jansson tree). */
static void customer_fields(sbuf *b, const tsr_customer *c) {
  char d[16];
  sb_puts(b, "\"customer_id\":");
  sb_json_str(b, c->customer_id);
  const struct { const char *k; double v; } nums[] = {
      {"frequency", c->frequency}, {"recency", c->recency}, {"T", c->T},
      {"monetary_value", c->monetary_value}, {"revenue", c->revenue}};
  for (size_t i = 0; i < 5; i++) {
    sb_printf(b, ",\"%s\":", nums[i].k);
    sb_json_num(b, nums[i].v);
  }
  sb_printf(b, ",\"transactions\":%lld,\"first_purchase\":\"%s\"", (long long)c->n_transactions,
            tsr_day_format(c->first_purchase / 86400000, d));
  sb_printf(b, ",\"last_purchase\":\"%s\"", tsr_day_format(c->last_purchase / 86400000, d));
  const struct { const char *k; int v; } sc[] = {{"r_score", c->r_score}, {"f_score", c->f_score}, {"m_score", c->m_score}};
  for (size_t i = 0; i < 3; i++) {
    if (sc[i].v) sb_printf(b, ",\"%s\":%d", sc[i].k, sc[i].v);
    else sb_printf(b, ",\"%s\":null", sc[i].k);
  }
  sb_puts(b, ",\"rfm_cell\":");
  sb_json_str(b, c->rfm_cell);
  sb_puts(b, ",\"segment\":");
  sb_json_str(b, c->segment);
  if (c->cluster >= 0) sb_printf(b, ",\"cluster\":%lld", (long long)c->cluster);
  else sb_puts(b, ",\"cluster\":null");
  const struct { const char *k; double v; } m[] = {
      {"expected_purchases", c->expected_purchases}, {"p_alive", c->p_alive}, {"clv", c->clv},
      {"clv_lo", c->clv_lo}, {"clv_hi", c->clv_hi}};
  for (size_t i = 0; i < 5; i++) {
    sb_printf(b, ",\"%s\":", m[i].k);
    sb_json_num(b, m[i].v);
  }
}

static enum MHD_Result customer_one(req *r, tsr_store *st, int64_t run_id, const char *cid) {
  tsr_customer *c = NULL;
  tsr_error e;
  tsr_status s = tsr_store_customer_get(st, run_id, cid, &c, &e);
  if (s != TSR_OK) return fail_err(r, s, &e);
  sbuf b = {0};
  sb_put(&b, "{", 1);
  customer_fields(&b, c);
  /* a bundle run's profile (docs/profiles.md): the JSON kept in extra */
  if (c->extra && !strncmp(c->extra, "{\"profile\":", 11)) sb_printf(&b, ",\"profile\":%s", c->extra);
  tsr_store_free(c);
  sb_printf(&b, ",\"run_id\":%lld,\"history\":[", (long long)run_id);
  tsr_web_history_list(st, run_id, cid, hist_cb, &b, NULL);
  sb_puts(&b, "]}");
  return send_sbuf(r, 200, "application/json", &b);
}

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

static enum MHD_Result profile_latest(req *r, tsr_store *st, const char *cid) {
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
  if (!best) return send_error(r, 404, "ENOTFOUND", "no profile of customer '%.64s'", cid);
  return customer_one(r, st, best, cid);
}

/* ================================================================ events, users */

typedef struct ev_ctx {
  json_t *arr;
  size_t max;
} ev_ctx;

static int ev_cb(void *ctx, const tsr_event *ev) {
  ev_ctx *c = ctx;
  char b[40];
  json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s}", "id", (json_int_t)ev->id, "run_id",
                        (json_int_t)ev->run_id, "time", tsr_store_time_format(ev->ts, b, sizeof b),
                        "level", tsr_log_level_name(ev->level), "step", ev->step, "message",
                        ev->message);
  if (!o) o = json_pack("{s:I,s:s}", "id", (json_int_t)ev->id, "message", "(unprintable)");
  json_object_set_new(o, "rows_in", ev->rows_in >= 0 ? json_integer(ev->rows_in) : json_null());
  json_object_set_new(o, "rows_out", ev->rows_out >= 0 ? json_integer(ev->rows_out) : json_null());
  json_object_set_new(o, "duration_ms", jnum(ev->duration_ms));
  json_array_append_new(c->arr, o);
  return json_array_size(c->arr) >= c->max;
}

static enum MHD_Result events_list(req *r, tsr_store *st, int64_t run_id) {
  tsr_log_level lvl = TSR_LOG_INFO;
  const char *l = req_arg(r, "level");
  if (l && *l && tsr_log_level_parse(l, &lvl) != TSR_OK)
    return send_error(r, 400, "EINVAL", "level: expected info, warn or error, got '%.40s'", l);
  enum MHD_Result ret;
  if (!run_id) {
    int64_t v;
    if (parse_query_int(r, "run", 0, INT64_C(1000000000000), 0, &v, &ret)) return ret;
    run_id = v;
  }
  ev_ctx c = {json_array(), 5000};
  tsr_error e;
  tsr_status s = tsr_store_events_list(st, run_id, lvl, ev_cb, &c, &e);
  if (s != TSR_OK) {
    json_decref(c.arr);
    return fail_err(r, s, &e);
  }
  return send_json(r, 200, json_pack("{s:o}", "events", c.arr));
}

static int user_cb(void *ctx, const tsr_web_user *u) {
  char b[40];
  json_array_append_new(ctx, json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)u->id, "name", u->name,
                                       "role", u->role, "created_at",
                                       tsr_store_time_format(u->created_at, b, sizeof b)));
  return 0;
}

static enum MHD_Result users_api(req *r, tsr_store *st, const char *name) {
  tsr_error e;
  tsr_status s;
  if (!strcmp(r->method, "GET") && !name) {
    json_t *a = json_array();
    if ((s = tsr_web_users_list(st, user_cb, a, &e)) != TSR_OK) {
      json_decref(a);
      return fail_err(r, s, &e);
    }
    return send_json(r, 200, json_pack("{s:o}", "users", a));
  }
  if (!strcmp(r->method, "POST") && !name) {
    enum MHD_Result ret;
    json_t *b = body_json(r, &ret);
    if (!b) return ret;
    const char *n = jget_str(b, "name"), *role = jget_str(b, "role"), *pw = jget_str(b, "password");
    if (!n || !role || !pw || strlen(pw) < 8 || strlen(pw) > 1024) {
      json_decref(b);
      return send_error(r, 400, "EINVAL",
                        "expected {\"name\", \"role\": admin|analyst|viewer, \"password\": 8 to 1024 bytes}");
    }
    char hash[crypto_pwhash_STRBYTES];
    if (tsr_server_hash_password(pw, hash)) {
      json_decref(b);
      return send_error(r, 500, "ENOMEM", "could not hash the password");
    }
    int64_t id = 0;
    s = tsr_web_user_add(st, n, role, hash, &id, &e);
    json_decref(b);
    if (s != TSR_OK) return fail_err(r, s, &e);
    return send_json(r, 201, json_pack("{s:I}", "id", (json_int_t)id));
  }
  if (!strcmp(r->method, "DELETE") && name) {
    if (!strcmp(name, r->user->name)) return send_error(r, 409, "EINVAL", "you cannot delete your own account");
    if ((s = tsr_web_user_del(st, name, &e)) != TSR_OK) return fail_err(r, s, &e);
    auth_cache_clear(r->S);
    return send_json(r, 200, json_pack("{s:s,s:b}", "name", name, "deleted", 1));
  }
  return send_error(r, 405, "EINVAL", "method %s not allowed here", r->method);
}

/* ================================================================ params, openapi */

static json_t *params_json(void) {
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

/* The OpenAPI description: web/openapi.json, embedded with the assets. */
static const tsr_web_asset *openapi_asset(void) {
  for (const tsr_web_asset *a = tsr_web_assets; a->path; a++)
    if (!strcmp(a->path, "/static/openapi.json")) return a;
  return NULL;
}

/* ================================================================ dispatch */

enum MHD_Result api_dispatch(req *r) {
  const char *p = r->path;
  if (strncmp(p, "/api/v1/", 8)) return send_error(r, 404, "ENOTFOUND", "no such endpoint: %s (the API lives under /api/v1)", p);
  p += 8;
  char buf[SRV_MAX_URL];
  snprintf(buf, sizeof buf, "%s", p);
  char *seg[8] = {0};
  int n = 0;
  char *save = NULL;
  for (char *t = strtok_r(buf, "/", &save); t && n < 8; t = strtok_r(NULL, "/", &save)) seg[n++] = t;
  const char *m = r->method;
  int get = !strcmp(m, "GET") || !strcmp(m, "HEAD"), post = !strcmp(m, "POST"), del = !strcmp(m, "DELETE");
  enum MHD_Result ret;
  if (n == 0) return send_json(r, 200, json_pack("{s:s,s:s}", "api", "tessera", "openapi", "/api/v1/openapi.json"));
  if (n == 1 && !strcmp(seg[0], "login")) {
    if (!post) return send_error(r, 405, "EINVAL", "use POST to log in");
    return api_login(r);
  }
  /* everything below needs a user */
  if (!auth_need(r, "viewer", &ret)) return ret;
  if (n == 1 && !strcmp(seg[0], "openapi.json") && get) {
    const tsr_web_asset *a = openapi_asset();
    if (!a) return send_error(r, 500, "ENOTFOUND", "the OpenAPI description is missing from this build");
    return send_body(r, 200, "application/json", (const char *)a->data, a->len);
  }
  if (n == 1 && !strcmp(seg[0], "params") && get) return send_json(r, 200, json_pack("{s:o}", "params", params_json()));
  if (!get && !auth_csrf(r, &ret)) return ret;
  tsr_store *st = srv_store(r->S);
  if (!st) return send_error(r, 503, "ESTORE", "the database is not available");
  if (n == 1 && !strcmp(seg[0], "logout") && post) {
    auth_logout(r);
    return send_json(r, 200, json_pack("{s:b}", "logged_out", 1));
  }
  if (n == 1 && !strcmp(seg[0], "me") && get)
    return send_json(r, 200, json_pack("{s:s,s:s,s:s}", "user", r->user->name, "role", r->user->role,
                                       "csrf", r->csrf));
  int64_t id = 0;
  /* live profile from the event log (server/events.c), else the newest bundle run */
  if (n == 2 && get && !strcmp(seg[0], "profiles")) return rt_profile_get_or(r, seg[1], profile_latest, st);
  if (!strcmp(seg[0], "datasets")) {
    if (n == 1 && get) return datasets_list(r, st);
    if (n == 1 && post) {
      if (!auth_need(r, "analyst", &ret)) return ret;
      return dataset_upload(r, st);
    }
    if (n >= 2 && parse_id(seg[1], &id)) return send_error(r, 400, "EINVAL", "dataset id: expected a number, got '%.40s'", seg[1]);
    if (n == 2 && get) {
      tsr_error e;
      json_t *o = api_dataset_json(st, id, 1, &e);
      if (!o) return fail_err(r, e.code, &e);
      return send_json(r, 200, o);
    }
    if (n == 2 && del) {
      if (!auth_need(r, "analyst", &ret)) return ret;
      return dataset_delete(r, st, id);
    }
    if (n == 3 && get && !strcmp(seg[2], "rejects")) {
      json_t *a = json_array();
      tsr_store_rejects_list(st, id, 1000, 0, rej_cb, a, NULL);
      return send_json(r, 200, json_pack("{s:o}", "rejects", a));
    }
    return send_error(r, 405, "EINVAL", "%s /api/v1/%s is not an endpoint", m, p);
  }
  if (!strcmp(seg[0], "jobs")) {
    if (n == 1 && get) {
      json_t *a = json_array();
      jobs_each(r->S, tsr__srv_job_cb, a);
      return send_json(r, 200, json_pack("{s:o}", "jobs", a));
    }
    if (n >= 2 && parse_id(seg[1], &id)) return send_error(r, 400, "EINVAL", "job id: expected a number");
    job j;
    if (jobs_get(r->S, id, &j)) return send_error(r, 404, "ENOTFOUND", "job %lld: not found", (long long)id);
    if (n == 2 && get) return send_json(r, 200, json_pack("{s:o}", "job", job_json(&j)));
    if (n == 3 && post && !strcmp(seg[2], "cancel")) {
      if (!auth_need(r, "analyst", &ret)) return ret;
      if (!may_change(r, j.owner)) return send_error(r, 403, "EPERM", "only the owner of job %lld or an admin may cancel it", (long long)id);
      if (jobs_cancel(r->S, id)) return send_error(r, 409, "EINVAL", "job %lld is not running", (long long)id);
      return send_json(r, 202, json_pack("{s:I,s:b}", "id", (json_int_t)id, "cancel_requested", 1));
    }
    return send_error(r, 405, "EINVAL", "%s /api/v1/%s is not an endpoint", m, p);
  }
  if (!strcmp(seg[0], "runs")) {
    if (n == 1 && get) {
      runs_ctx c = {r->S, st, json_array(), {0}, 0};
      tsr_store_runs_list(st, 200, 0, run_list_cb, &c, NULL);
      return send_json(r, 200, json_pack("{s:o}", "runs", c.arr));
    }
    if (n == 1 && post) {
      if (!auth_need(r, "analyst", &ret)) return ret;
      return run_start(r, st);
    }
    if (parse_id(seg[1], &id)) return send_error(r, 400, "EINVAL", "run id: expected a number, got '%.40s'", seg[1]);
    tsr_error e;
    if (n == 2 && get) {
      tsr_run *run = NULL;
      tsr_status s = tsr_store_run_get(st, id, &run, &e);
      if (s != TSR_OK) return fail_err(r, s, &e);
      json_t *o = run_json(r->S, st, run);
      tsr_store_free(run);
      return send_json(r, 200, o);
    }
    if (n == 2 && del) {
      if (!auth_need(r, "analyst", &ret)) return ret;
      int64_t owner = 0;
      tsr_status s = tsr_web_run_get(st, id, NULL, &owner, &e);
      if (s != TSR_OK && role_rank(r->user->role) < 3) return fail_err(r, s, &e);
      if (!may_change(r, owner)) return send_error(r, 403, "EPERM", "only the owner of run %lld or an admin may delete it", (long long)id);
      job j;
      if (jobs_get_by_run(r->S, id, &j) == 0 && (j.state == JOB_RUNNING || j.state == JOB_QUEUED))
        return send_error(r, 409, "EINVAL", "run %lld is still running: cancel it first", (long long)id);
      if ((s = tsr_web_run_delete(st, id, &e)) != TSR_OK) return fail_err(r, s, &e);
      cache_drop(r->S, id);
      return send_json(r, 200, json_pack("{s:I,s:b}", "id", (json_int_t)id, "deleted", 1));
    }
    if (n == 3 && post && !strcmp(seg[2], "cancel")) {
      if (!auth_need(r, "analyst", &ret)) return ret;
      job j;
      if (jobs_get_by_run(r->S, id, &j)) return send_error(r, 409, "EINVAL", "run %lld is not running", (long long)id);
      if (!may_change(r, j.owner)) return send_error(r, 403, "EPERM", "only the owner of run %lld or an admin may cancel it", (long long)id);
      if (jobs_cancel(r->S, j.id)) return send_error(r, 409, "EINVAL", "run %lld is not running", (long long)id);
      return send_json(r, 202, json_pack("{s:I,s:b}", "id", (json_int_t)id, "cancel_requested", 1));
    }
    if (n == 3 && get && !strcmp(seg[2], "results")) {
      size_t len = 0;
      char *s = api_run_results(r->S, st, id, &len, &e);
      if (!s) return fail_err(r, e.code, &e);
      enum MHD_Result res = send_body(r, 200, "application/json", s, len);
      free(s);
      return res;
    }
    if (n == 3 && get && !strcmp(seg[2], "report")) {
      size_t len = 0;
      char *s = api_run_report(r->S, st, id, &len, &e);
      if (!s) return fail_err(r, e.code, &e);
      enum MHD_Result res = send_body(r, 200, "application/json", s, len);
      free(s);
      return res;
    }
    if (n == 3 && get && !strcmp(seg[2], "customers")) return customers_list(r, st, id);
    if (n == 3 && get && !strcmp(seg[2], "customers.csv")) return customers_csv(r, st, id);
    if (n == 4 && get && !strcmp(seg[2], "customers")) return customer_one(r, st, id, seg[3]);
    if (n == 3 && get && !strcmp(seg[2], "segments")) {
      json_t *a = json_array();
      tsr_store_segments_list(st, id, NULL, tsr__srv_seg_cb, a, NULL);
      return send_json(r, 200, json_pack("{s:o}", "segments", a));
    }
    if (n == 3 && get && !strcmp(seg[2], "models")) {
      json_t *a = json_array();
      tsr_store_models_list(st, id, NULL, tsr__srv_model_cb, a, NULL);
      return send_json(r, 200, json_pack("{s:o}", "models", a));
    }
    if (n == 3 && get && !strcmp(seg[2], "events")) {
      if (id == 0) return send_error(r, 400, "EINVAL", "run id: expected a positive number");
      return events_list(r, st, id);
    }
    return send_error(r, 404, "ENOTFOUND", "%s /api/v1/%s is not an endpoint", m, p);
  }
  if (n == 3 && get && !strcmp(seg[0], "customers")) return api_predict(r, st, seg[1], seg[2]);
  if (!strcmp(seg[0], "decisions")) {
    if (!auth_need(r, "analyst", &ret)) return ret;
    return decisions_api(r, st, n, seg);
  }
  if (n == 1 && !strcmp(seg[0], "events") && get) return events_list(r, st, 0);
  /* real time (server/events.c) */
  if (n == 1 && !strcmp(seg[0], "events") && post) return rt_events_post(r);
  if (n == 2 && !strcmp(seg[0], "profiles") && get) return rt_profile_get(r, seg[1]);
  if (n == 2 && !strcmp(seg[0], "stream") && !strcmp(seg[1], "segment-changes") && get)
    return rt_changes_sse(r);
  if (n == 1 && !strcmp(seg[0], "models") && get) {
    json_t *a = json_array();
    const char *kind = req_arg(r, "kind");
    tsr_store_models_list(st, 0, kind && *kind ? kind : NULL, tsr__srv_model_cb, a, NULL);
    return send_json(r, 200, json_pack("{s:o}", "models", a));
  }
  if (!strcmp(seg[0], "users") && n <= 2) {
    if (!auth_need(r, "admin", &ret)) return ret;
    return users_api(r, st, n == 2 ? seg[1] : NULL);
  }
  if (n == 1 && !strcmp(seg[0], "retrain") && post) {
    if (!auth_need(r, "admin", &ret)) return ret;
    return retrain_api(r, st);
  }
  return send_error(r, 404, "ENOTFOUND", "%s /api/v1/%s is not an endpoint (see /api/v1/openapi.json)", m, p);
}

void tsr__srv_job_cb(void *ctx, const job *j) { json_array_append_new(ctx, job_json(j)); }
