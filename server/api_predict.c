/*
 * api_predict.c - a customer's churn risk with reasons and next best
 * products over HTTP (docs/web.md "API", web/openapi.json):
 *   GET /api/v1/customers/{id}/churn
 *   GET /api/v1/customers/{id}/next-best-products
 * Both read the newest completed run whose output folder holds the
 * predictions of `tessera analyze` on a bundle (churn.csv, churn_eval.json,
 * nbp.csv; app/analyze_predict.c). 404 when no run scored the customer.
 */
#include "srv.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/csv.h"

#define PRED_RUNS 200

typedef struct runs_ctx {
  int64_t id[PRED_RUNS];
  char *dir[PRED_RUNS];
  size_t n;
} runs_ctx;

static int run_cb(void *ctx, const tsr_run *run) {
  runs_ctx *c = ctx;
  if (c->n < PRED_RUNS && run->status == TSR_RUN_DONE && run->output_dir && *run->output_dir) {
    c->id[c->n] = run->id;
    c->dir[c->n] = strdup(run->output_dir);
    if (c->dir[c->n]) c->n++;
  }
  return c->n >= PRED_RUNS;
}

typedef struct row_call {
  void (*row)(void *ctx, const tsr_csv_record *rec);
  void *ctx;
} row_call;

static int row_rec(void *ctx, const struct tsr_csv_record *rec) {
  row_call *r = ctx;
  r->row(r->ctx, rec);
  return 0;
}

/* Calls row(ctx, fields) for every data row of dir/name whose first field
 * is cid (the first run of consecutive ones); returns the number of such
 * rows, -1 when the file is missing. Through the index of the views
 * (findex.c, same key and number columns as api_views.c) when the file's
 * first column is customer_id, else by a scan. */
static long scan(const char *dir, const char *name, const char *cid,
                 void (*row)(void *ctx, const tsr_csv_record *rec), void *ctx) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  srv_findex *x = srv_findex_get(path, "customer_id", NULL, !strcmp(name, "churn.csv") ? "churn_probability" : NULL);
  if (x && srv_findex_key_col(x) == 0) {
    size_t first, n = srv_findex_find(x, cid, &first);
    long hits = 0;
    row_call rc = {row, ctx};
    for (size_t i = first; i < first + n; i++) {
      if (i > first && srv_findex_seq(x, i) != srv_findex_seq(x, i - 1) + 1) break; /* not consecutive */
      if (srv_findex_record(x, i, row_rec, &rc) < 0) break;
      hits++;
    }
    srv_findex_put(x);
    return hits;
  }
  srv_findex_put(x);
  tsr_csv *c = NULL;
  if (tsr_csv_open(path, NULL, &c, NULL) != TSR_OK) return -1;
  tsr_csv_record rec;
  long hits = 0, line = 0;
  tsr_status st;
  while ((st = tsr_csv_next(c, &rec, NULL)) != TSR_ENOTFOUND) {
    if (st == TSR_EIO) break;
    if (st != TSR_OK || line++ == 0 || rec.nfields == 0) continue;
    if (strcmp(rec.fields[0].ptr, cid)) {
      if (hits) break; /* the rows of a customer are consecutive */
      continue;
    }
    hits++;
    row(ctx, &rec);
  }
  tsr_csv_close(c);
  return hits;
}

static json_t *num_or_null(const char *s) {
  char *end;
  double v = strtod(s, &end);
  return end != s && isfinite(v) ? json_real(v) : json_null();
}

static void churn_row(void *ctx, const tsr_csv_record *rec) {
  json_t *o = ctx, *reasons = json_array();
  json_object_set_new(o, "churn_probability", rec->nfields > 1 ? num_or_null(rec->fields[1].ptr) : json_null());
  for (size_t k = 2; k < rec->nfields && k < 5; k++)
    if (rec->fields[k].len) json_array_append_new(reasons, json_string(rec->fields[k].ptr));
  json_object_set_new(o, "reasons", reasons);
}

static void nbp_row(void *ctx, const tsr_csv_record *rec) {
  json_t *a = ctx;
  if (rec->nfields < 5) return;
  json_array_append_new(a, json_pack("{s:I,s:s,s:o,s:s}", "rank", (json_int_t)strtoll(rec->fields[1].ptr, NULL, 10),
                                     "product", rec->fields[2].ptr, "score", num_or_null(rec->fields[3].ptr),
                                     "reason", rec->fields[4].ptr));
}

enum MHD_Result api_predict(srv_req *r, tsr_store *st, const char *cid, const char *what) {
  int churn = !strcmp(what, "churn");
  if (!churn && strcmp(what, "next-best-products"))
    return srv_send_error(r, 404, "ENOTFOUND", "GET /api/v1/customers/{id}/%.40s is not an endpoint", what);
  if (!*cid || strlen(cid) > 256) return srv_send_error(r, 400, "EINVAL", "customer id: expected 1 to 256 bytes");
  runs_ctx c;
  memset(&c, 0, sizeof c);
  tsr_store_runs_list(st, PRED_RUNS, 0, run_cb, &c, NULL);
  json_t *out = NULL;
  for (size_t i = 0; i < c.n && !out; i++) {
    /* newest first: runs are listed newest first, but do not rely on it */
    size_t best = i;
    for (size_t k = i + 1; k < c.n; k++)
      if (c.id[k] > c.id[best]) best = k;
    int64_t tid = c.id[i]; char *tdir = c.dir[i];
    c.id[i] = c.id[best]; c.dir[i] = c.dir[best];
    c.id[best] = tid; c.dir[best] = tdir;
    json_t *o = json_object();
    long hits;
    if (churn) {
      hits = scan(c.dir[i], "churn.csv", cid, churn_row, o);
      if (hits > 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/churn_eval.json", c.dir[i]);
        json_t *ev = json_load_file(path, 0, NULL);
        json_t *w = ev ? json_object_get(ev, "window_days") : NULL;
        json_t *d = ev ? json_object_get(ev, "last_day") : NULL;
        json_object_set(o, "window_days", w ? w : json_null());
        json_object_set(o, "scored_at", d ? d : json_null());
        json_decref(ev);
      }
    } else {
      json_t *a = json_array();
      hits = scan(c.dir[i], "nbp.csv", cid, nbp_row, a);
      json_object_set_new(o, "products", a);
    }
    if (hits > 0) {
      json_object_set_new(o, "customer_id", json_string(cid));
      json_object_set_new(o, "run_id", json_integer((json_int_t)c.id[i]));
      out = o;
    } else {
      json_decref(o);
    }
  }
  for (size_t i = 0; i < c.n; i++) free(c.dir[i]);
  if (!out)
    return srv_send_error(r, 404, "ENOTFOUND", "no %s for customer '%.64s' (run tessera analyze on a bundle)",
                      churn ? "churn score" : "next best products", cid);
  return srv_send_json(r, 200, out);
}

/* route table entries (server/routes.def) */
enum MHD_Result srv_api_customer_churn(srv_req *r) { return api_predict(r, r->st, r->parg[0], "churn"); }
enum MHD_Result srv_api_customer_nbp(srv_req *r) {
  return api_predict(r, r->st, r->parg[0], "next-best-products");
}
