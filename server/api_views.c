/*
 * api_views.c - the JSON views behind the web app's newer pages (docs/api.md,
 * web/openapi.json). Each view is a function returning a jansson object
 * (NULL with err set); the handlers below wrap them, one registration line
 * each in api.c:
 *   GET  /api/v1/runs/{a}/compare/{b}[?by=cluster]  segment migration
 *   GET  /api/v1/runs/{id}/at-risk[?limit=N]        highest churn x revenue
 *   GET  /api/v1/runs/{id}/segment-profiles         segment_profiles.csv
 *   GET  /api/v1/runs/{id}/customers/{cid}/view     profile, churn, next best
 *                                                   products, household map
 *   POST /api/v1/runs/{id}/customers/{cid}/message  message preview
 *   POST /api/v1/me/password                        change one's password
 * The files of a run (churn.csv, nbp.csv, graph.csv, segment_profiles.csv;
 * docs/analyze.md) are read from its output folder when they exist; a view
 * leaves a part out (null or []) when its file is absent.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "srv.h"
#include "tessera/csv.h"
#include "tessera/message.h"
#include "tessera/retrain.h"

#define VIEW_TEMPLATES_MAX 65536

/* ================================================================ helpers */

static json_t *jnum_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

int views_id(const char *s, int64_t *out) {
  char *end;
  if (!s || *s < '0' || *s > '9' || strlen(s) > 18) return -1;
  long long v = strtoll(s, &end, 10);
  if (*end) return -1;
  *out = v;
  return 0;
}

enum MHD_Result views_reply(srv_req *r, json_t *view, const tsr_error *e) {
  if (view) return srv_send_json(r, 200, view);
  tsr_status st = e && e->code != TSR_OK ? e->code : TSR_ESTORE;
  return srv_send_error(r, srv_status_http(st), tsr_status_name(st), "%s", e && e->msg[0] ? e->msg : tsr_strerror(st));
}

/* The run's parameters (JSON, NULL when none) and output folder. */
static tsr_status run_info(tsr_store *st, int64_t run, json_t **params, char *dir, size_t cap, tsr_error *e) {
  tsr_run *rr = NULL;
  tsr_status s = tsr_store_run_get(st, run, &rr, e);
  if (s != TSR_OK) return s;
  if (params) *params = rr->params ? json_loads(rr->params, 0, NULL) : NULL;
  if (dir) snprintf(dir, cap, "%s", rr->output_dir && rr->status == TSR_RUN_DONE ? rr->output_dir : "");
  tsr_store_free(rr);
  return TSR_OK;
}

/* Path of file name in dir when it exists and is readable: 1, else 0. */
static int run_file(const char *dir, const char *name, char *path, size_t cap) {
  if (!dir[0]) return 0;
  int n = snprintf(path, cap, "%s/%s", dir, name);
  return n > 0 && (size_t)n < cap && access(path, R_OK) == 0;
}

/* Calls fn(ctx, v) for every row of the CSV file at path with v[i] the
 * value of column want[i] ("" when the column or the field is missing);
 * present[i] = 1 when the header has want[i]. fn returns non-zero to stop.
 * Malformed records are skipped. -1 when the file cannot be read. */
typedef int (*csv_row_fn)(void *ctx, const char *const *v);
static int csv_rows(const char *path, const char *const *want, size_t nwant, int *present, csv_row_fn fn,
                    void *ctx) {
  tsr_csv_opts o;
  tsr_csv_opts_init(&o);
  tsr_csv *c = NULL;
  if (nwant > 16 || tsr_csv_open(path, &o, &c, NULL) != TSR_OK) return -1;
  tsr_csv_record rec;
  tsr_error e;
  int idx[16];
  for (size_t i = 0; i < nwant; i++) idx[i] = -1;
  if (tsr_csv_next(c, &rec, &e) != TSR_OK) {
    tsr_csv_close(c);
    return -1;
  }
  for (size_t f = 0; f < rec.nfields; f++) {
    const char *h = rec.fields[f].ptr;
    if (f == 0 && !strncmp(h, "\xEF\xBB\xBF", 3)) h += 3;
    for (size_t i = 0; i < nwant; i++)
      if (idx[i] < 0 && !strcmp(h, want[i])) idx[i] = (int)f;
  }
  for (size_t i = 0; i < nwant; i++)
    if (present) present[i] = idx[i] >= 0;
  tsr_status s;
  while ((s = tsr_csv_next(c, &rec, &e)) != TSR_ENOTFOUND) { /* every row: no limit (the index has a memory bound) */
    if (s == TSR_EIO) break;
    if (s != TSR_OK) continue;
    const char *v[16];
    for (size_t i = 0; i < nwant; i++)
      v[i] = idx[i] >= 0 && (size_t)idx[i] < rec.nfields ? rec.fields[idx[i]].ptr : "";
    if (fn(ctx, v)) break;
  }
  tsr_csv_close(c);
  return 0;
}

/* The index of each run file (server/findex.c): the key column(s) and the
 * number column; one spec per file so that every view shares the index. */
typedef struct file_spec {
  const char *name, *key, *key2, *num;
} file_spec;
static const file_spec F_CHURN = {"churn.csv", "customer_id", NULL, "churn_probability"};
static const file_spec F_NBP = {"nbp.csv", "customer_id", NULL, NULL};
static const file_spec F_GOALS = {"goals.csv", "customer_id", NULL, NULL};
static const file_spec F_GRAPH = {"graph.csv", "source", "target", NULL};

/* csv_rows on the rows of the file at path whose key column(s) hold key
 * (callers filter on it anyway): through the index, else a scan. */
static int key_rows(const char *path, const file_spec *fs, const char *key, const char *const *want, size_t nwant,
                    csv_row_fn fn, void *ctx) {
  srv_findex *x = srv_findex_get(path, fs->key, fs->key2, fs->num);
  if (!x) return csv_rows(path, want, nwant, NULL, fn, ctx);
  int r = srv_findex_rows(x, key, want, nwant, fn, ctx);
  srv_findex_put(x);
  return r;
}

/* Copies s into out (cap bytes) without cutting a UTF-8 sequence in two, so
 * that a truncated text stays valid in JSON. */
static void copy_utf8(char *out, size_t cap, const char *s) {
  size_t n = strlen(s);
  if (n >= cap) {
    n = cap - 1;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--; /* s[n] starts the first sequence left out */
  }
  memcpy(out, s, n);
  out[n] = '\0';
}

static double num_or_nan(const char *s) {
  if (!s || !*s) return NAN;
  char *end;
  double v = strtod(s, &end);
  return *end ? NAN : v;
}

/* The units of a run's values: the period of recency and T ("weeks",
 * "days", "months", "periods of N days") and the currency ("" = unknown). */
json_t *view_units(tsr_store *st, int64_t run) {
  json_t *p = NULL;
  char period[64] = "periods";
  const char *cur = "";
  if (run_info(st, run, &p, NULL, 0, NULL) == TSR_OK && p) {
    json_t *f = json_object_get(p, "freq"), *m = json_object_get(p, "freq_multiplier");
    const char *fs = json_is_string(f) ? json_string_value(f) : "D";
    double mult = json_is_number(m) ? json_number_value(m) : 1;
    if (!strcmp(fs, "D") && mult == 7) snprintf(period, sizeof period, "weeks");
    else if (!strcmp(fs, "D") && mult == 1) snprintf(period, sizeof period, "days");
    else if (!strcmp(fs, "W") && mult == 1) snprintf(period, sizeof period, "weeks");
    else if (!strcmp(fs, "M") && mult == 1) snprintf(period, sizeof period, "months");
    else if (!strcmp(fs, "D")) snprintf(period, sizeof period, "periods of %g days", mult);
    else snprintf(period, sizeof period, "periods of %g %s", mult, !strcmp(fs, "W") ? "weeks" : "months");
    json_t *c = json_object_get(p, "currency");
    if (json_is_string(c)) cur = json_string_value(c);
  }
  json_t *o = json_pack("{s:s,s:s}", "period", period, "currency", cur);
  json_decref(p);
  return o;
}

/* ================================================================ compare */

typedef struct cmp_ctx {
  json_t *moves, *from, *to;
  json_int_t stayed, total;
} cmp_ctx;

static void add_count(json_t *o, const char *k, json_int_t n) {
  json_t *v = json_object_get(o, k);
  json_object_set_new(o, k, json_integer((v ? json_integer_value(v) : 0) + n));
}

static int cmp_cb(void *ctx, const tsr_migration_row *row) {
  cmp_ctx *c = ctx;
  json_array_append_new(c->moves, json_pack("{s:s,s:s,s:I}", "from", row->from, "to", row->to, "customers",
                                            (json_int_t)row->customers));
  add_count(c->from, row->from, row->customers);
  add_count(c->to, row->to, row->customers);
  if (!strcmp(row->from, row->to)) c->stayed += row->customers;
  if (strcmp(row->from, "(new)") && strcmp(row->to, "(gone)")) c->total += row->customers;
  return 0;
}

/* {"run_a","run_b","by","moves":[{from,to,customers}] (as `tessera
 * migration --format json`), "from":{seg:n}, "to":{seg:n}, "stayed",
 * "in_both"}. */
json_t *view_compare(tsr_store *st, int64_t a, int64_t b, int by_cluster, tsr_error *e) {
  cmp_ctx c = {json_array(), json_object(), json_object(), 0, 0};
  tsr_status s = tsr_segment_migration(st, a, b, by_cluster, cmp_cb, &c, e);
  if (s != TSR_OK) {
    json_decref(c.moves);
    json_decref(c.from);
    json_decref(c.to);
    return NULL;
  }
  return json_pack("{s:I,s:I,s:s,s:o,s:o,s:o,s:I,s:I}", "run_a", (json_int_t)a, "run_b", (json_int_t)b, "by",
                   by_cluster ? "cluster" : "segment", "moves", c.moves, "from", c.from, "to", c.to, "stayed",
                   c.stayed, "in_both", c.total);
}

enum MHD_Result views_compare_api(srv_req *r, tsr_store *st, int64_t a, const char *bs) {
  int64_t b = 0;
  if (views_id(bs, &b)) return srv_send_error(r, 400, "EINVAL", "second run id: expected a number, got '%.40s'", bs);
  const char *by = srv_req_arg(r, "by");
  if (by && *by && strcmp(by, "segment") && strcmp(by, "cluster"))
    return srv_send_error(r, 400, "EINVAL", "by: expected segment or cluster, got '%.40s'", by);
  tsr_error e;
  tsr_error_clear(&e);
  return views_reply(r, view_compare(st, a, b, by && !strcmp(by, "cluster"), &e), &e);
}

/* ================================================================ churn files */

typedef struct churn_row {
  double p;
  char reasons[3][200];
} churn_row;

typedef struct churn_find {
  const char *cid;
  churn_row *out;
  int found;
} churn_find;

static int churn_find_cb(void *ctx, const char *const *v) {
  churn_find *c = ctx;
  if (strcmp(v[0], c->cid)) return 0;
  c->out->p = num_or_nan(v[1]);
  for (int i = 0; i < 3; i++) copy_utf8(c->out->reasons[i], sizeof c->out->reasons[i], v[2 + i]);
  c->found = 1;
  return 1;
}

static const char *const CHURN_COLS[] = {"customer_id", "churn_probability", "reason_1", "reason_2", "reason_3"};

/* The churn.csv row of cid: {"probability","reasons":[..]} or NULL. */
static json_t *churn_of(const char *dir, const char *cid) {
  char path[1200];
  if (!run_file(dir, F_CHURN.name, path, sizeof path)) return NULL;
  churn_row row;
  churn_find c = {cid, &row, 0};
  if (key_rows(path, &F_CHURN, cid, CHURN_COLS, 5, churn_find_cb, &c) || !c.found) return NULL;
  json_t *rs = json_array();
  for (int i = 0; i < 3; i++)
    if (row.reasons[i][0]) json_array_append_new(rs, json_string(row.reasons[i]));
  return json_pack("{s:o,s:o}", "probability", jnum_or_null(row.p), "reasons", rs);
}

typedef struct nbp_ctx {
  const char *cid;
  json_t *arr;
} nbp_ctx;

static int nbp_cb(void *ctx, const char *const *v) {
  nbp_ctx *c = ctx;
  if (strcmp(v[0], c->cid) || json_array_size(c->arr) >= 10) return 0;
  json_array_append_new(c->arr, json_pack("{s:o,s:s,s:o,s:s}", "rank", jnum_or_null(num_or_nan(v[1])), "product",
                                          v[2], "score", jnum_or_null(num_or_nan(v[3])), "reason", v[4]));
  return 0;
}

static int rank_cmp(const void *x, const void *y) {
  double a = json_number_value(json_object_get(*(json_t *const *)x, "rank"));
  double b = json_number_value(json_object_get(*(json_t *const *)y, "rank"));
  return (a > b) - (a < b);
}

/* nbp.csv rows of cid by rank (at most 10), [] when absent. */
static json_t *nbp_of(const char *dir, const char *cid) {
  char path[1200];
  static const char *const cols[] = {"customer_id", "rank", "product", "score", "reason"};
  nbp_ctx c = {cid, json_array()};
  if (!run_file(dir, F_NBP.name, path, sizeof path)) return c.arr;
  key_rows(path, &F_NBP, cid, cols, 5, nbp_cb, &c);
  size_t n = json_array_size(c.arr);
  if (n > 1) {
    json_t *tmp[10];
    for (size_t i = 0; i < n; i++) tmp[i] = json_incref(json_array_get(c.arr, i));
    qsort(tmp, n, sizeof *tmp, rank_cmp);
    json_array_clear(c.arr);
    for (size_t i = 0; i < n; i++) json_array_append_new(c.arr, tmp[i]);
  }
  return c.arr;
}

typedef struct goals_ctx {
  const char *cid;
  json_t *obj; /* NULL until the row is found */
} goals_ctx;

static const char *const GOAL_COLS[] = {"customer_id", "home", "retirement", "saving", "travel",
                                        "business_growth"};

static int goals_cb(void *ctx, const char *const *v) {
  goals_ctx *g = ctx;
  if (strcmp(v[0], g->cid)) return 0;
  g->obj = json_object();
  for (int k = 1; k < 6; k++) json_object_set_new(g->obj, GOAL_COLS[k], jnum_or_null(num_or_nan(v[k])));
  return 1;
}

/* The goal propensities of cid in the run's goals.csv ({home, retirement,
 * saving, travel, business_growth}: P(opening a product of the family in
 * the window)), or NULL. */
static json_t *goals_of(const char *dir, const char *cid) {
  char path[1200];
  goals_ctx g = {cid, NULL};
  if (!run_file(dir, F_GOALS.name, path, sizeof path)) return NULL;
  key_rows(path, &F_GOALS, cid, GOAL_COLS, 6, goals_cb, &g);
  return g.obj;
}

/* ================================================================ household */

typedef struct hh_ctx {
  const char *cid;
  char canonical[260]; /* cid is a record merged into this profile */
  char household[260];
  json_t *records;     /* records merged into cid */
  json_t *members;
} hh_ctx;

static int hh_pass1(void *ctx, const char *const *v) {
  hh_ctx *h = ctx;
  if (!strcmp(v[2], "same_person")) {
    if (!strcmp(v[1], h->cid) && json_array_size(h->records) < 50) json_array_append_new(h->records, json_string(v[0]));
    if (!strcmp(v[0], h->cid)) copy_utf8(h->canonical, sizeof h->canonical, v[1]);
  } else if (!strcmp(v[2], "member_of") && !strcmp(v[0], h->cid)) {
    copy_utf8(h->household, sizeof h->household, v[1]);
  }
  return 0;
}

static int hh_pass2(void *ctx, const char *const *v) {
  hh_ctx *h = ctx;
  if (!strcmp(v[2], "member_of") && !strcmp(v[1], h->household) && json_array_size(h->members) < 40)
    json_array_append_new(h->members, json_string(v[0]));
  return 0;
}

/* The relations of cid in graph.csv: {"household","members","records",
 * "same_person_as"}, or NULL when the run has no graph. */
static json_t *household_of(const char *dir, const char *cid) {
  char path[1200];
  static const char *const cols[] = {"source", "target", "type"};
  if (!run_file(dir, F_GRAPH.name, path, sizeof path)) return NULL;
  hh_ctx h = {cid, "", "", json_array(), json_array()};
  /* every row hh_pass1 (hh_pass2) acts on has h.cid (h.household) as its
   * source or target: the index's rows of that key */
  if (key_rows(path, &F_GRAPH, h.cid, cols, 3, hh_pass1, &h)) {
    json_decref(h.records);
    json_decref(h.members);
    return NULL;
  }
  char canon[260];
  if (!h.household[0] && h.canonical[0]) {
    /* a merged record: the household is its profile's */
    snprintf(canon, sizeof canon, "%s", h.canonical);
    h.cid = canon;
    key_rows(path, &F_GRAPH, h.cid, cols, 3, hh_pass1, &h);
  }
  if (h.household[0]) key_rows(path, &F_GRAPH, h.household, cols, 3, hh_pass2, &h);
  return json_pack("{s:o,s:o,s:o,s:o}", "household", h.household[0] ? json_string(h.household) : json_null(),
                   "members", h.members, "records", h.records, "same_person_as",
                   h.canonical[0] ? json_string(h.canonical) : json_null());
}

/* ================================================================ customer view */

/* {"customer_id","segment","units","profile"|null,"churn"|null,
 *  "next_best_products":[],"goals"|null,"household"|null} */
json_t *view_customer(tsr_store *st, int64_t run, const char *cid, tsr_error *e) {
  tsr_customer *c = NULL;
  if (tsr_store_customer_get(st, run, cid, &c, e) != TSR_OK) return NULL;
  char dir[1100];
  run_info(st, run, NULL, dir, sizeof dir, NULL);
  json_t *profile = NULL;
  if (c->extra && !strncmp(c->extra, "{\"profile\":", 11)) {
    profile = json_loads(c->extra, 0, NULL);
    if (profile) json_object_del(profile, "profile");
  }
  json_t *o = json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "customer_id", cid, "segment",
                        c->segment ? json_string(c->segment) : json_null(), "units", view_units(st, run), "profile",
                        profile ? profile : json_null(), "churn", json_null(), "next_best_products", nbp_of(dir, cid),
                        "household", json_null());
  json_t *ch = churn_of(dir, cid);
  if (ch) json_object_set_new(o, "churn", ch);
  json_t *gl = goals_of(dir, cid);
  json_object_set_new(o, "goals", gl ? gl : json_null());
  json_t *hh = household_of(dir, cid);
  if (hh) json_object_set_new(o, "household", hh);
  tsr_store_free(c);
  return o;
}

enum MHD_Result views_customer_api(srv_req *r, tsr_store *st, int64_t run, const char *cid) {
  tsr_error e;
  tsr_error_clear(&e);
  return views_reply(r, view_customer(st, run, cid, &e), &e);
}

/* ================================================================ at risk */

#define RISK_TOP_MAX 100
#define RISK_SEGS 64

typedef struct risk_item {
  char cid[260], segment[64], reason[200];
  double p, revenue, clv, value;
  size_t ent; /* the churn.csv index entry whose reason is read at the end (fx) */
} risk_item;

typedef struct risk_ctx {
  json_t *churn; /* customer_id -> [p, reason] from churn.csv, or NULL */
  srv_findex *fx; /* else the index of churn.csv (one of them or neither) */
  double threshold;
  size_t limit, n;
  risk_item top[RISK_TOP_MAX];
  struct { char name[64]; json_int_t customers, at_risk; double revenue_at_risk; } seg[RISK_SEGS];
  size_t nseg;
} risk_ctx;

static int churn_load_cb(void *ctx, const char *const *v) {
  double p = num_or_nan(v[1]);
  if (!v[0][0] || !isfinite(p)) return 0;
  json_t *reason = json_string(v[2]); /* NULL for text that is not UTF-8: then no reason */
  json_object_set_new(ctx, v[0], json_pack("[f,o]", p, reason ? reason : json_string("")));
  return 0;
}

static int risk_cb(void *ctx, const tsr_customer *c) {
  risk_ctx *x = ctx;
  double p = NAN;
  const char *reason = "";
  size_t ent = 0;
  if (x->fx) {
    /* as the map of churn_load_cb: the last row of the customer with a
     * finite probability; a key that is not UTF-8 is never in the map */
    size_t first, n = c->customer_id[0] ? srv_findex_find(x->fx, c->customer_id, &first) : 0;
    for (size_t i = first + n; i-- > first && n;)
      if (isfinite(srv_findex_num(x->fx, i))) {
        if (srv_utf8_valid(c->customer_id)) p = srv_findex_num(x->fx, i), ent = i;
        break;
      }
  } else if (x->churn) {
    json_t *v = json_object_get(x->churn, c->customer_id);
    if (v) {
      p = json_real_value(json_array_get(v, 0));
      reason = json_string_value(json_array_get(v, 1));
    }
  } else if (isfinite(c->p_alive)) {
    p = 1 - c->p_alive;
  }
  if (!isfinite(p)) return 0;
  double value = p * (isfinite(c->revenue) ? c->revenue : 0);
  const char *sg = c->segment ? c->segment : "(none)";
  size_t k = 0;
  while (k < x->nseg && strcmp(x->seg[k].name, sg)) k++;
  if (k == x->nseg && x->nseg < RISK_SEGS) copy_utf8(x->seg[x->nseg++].name, sizeof x->seg[0].name, sg);
  if (k < x->nseg) {
    x->seg[k].customers++;
    if (p >= x->threshold) x->seg[k].at_risk++;
    x->seg[k].revenue_at_risk += value;
  }
  if (p < x->threshold) return 0;
  /* keep the top `limit` by value (insertion into a short sorted array) */
  size_t pos = x->n;
  while (pos > 0 && x->top[pos - 1].value < value) pos--;
  if (pos >= x->limit) return 0;
  size_t last = x->n < x->limit ? x->n : x->limit - 1;
  memmove(&x->top[pos + 1], &x->top[pos], (last - pos) * sizeof x->top[0]);
  risk_item *it = &x->top[pos];
  snprintf(it->cid, sizeof it->cid, "%s", c->customer_id);
  copy_utf8(it->segment, sizeof it->segment, sg);
  copy_utf8(it->reason, sizeof it->reason, reason ? reason : "");
  it->p = p;
  it->revenue = c->revenue;
  it->clv = c->clv;
  it->value = value;
  it->ent = ent;
  if (x->n < x->limit) x->n++;
  return 0;
}

/* The reason of a top item read from its churn.csv row (index): as
 * churn_load_cb keeps it ("" when not UTF-8). */
static int risk_reason_cb(void *ctx, const char *const *v) {
  risk_item *it = ctx;
  copy_utf8(it->reason, sizeof it->reason, srv_utf8_valid(v[2]) ? v[2] : "");
  return 0;
}

/* {"source":"churn_model"|"p_alive","threshold","units","customers":[..],
 *  "segments":[{segment,customers,at_risk,revenue_at_risk}]}: customers
 *  with a churn probability at or above the run's churn threshold, by
 *  churn probability x revenue. The churn probability is churn.csv's
 *  when the run has one, else 1 - P(alive). */
json_t *view_at_risk(tsr_store *st, int64_t run, size_t limit, tsr_error *e) {
  json_t *params = NULL;
  char dir[1100], path[1200];
  if (run_info(st, run, &params, dir, sizeof dir, e) != TSR_OK) return NULL;
  risk_ctx *x = calloc(1, sizeof *x);
  if (!x) {
    json_decref(params);
    tsr_error_set(e, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    return NULL;
  }
  json_t *th = json_object_get(params, "churn_threshold");
  x->threshold = json_is_number(th) ? json_number_value(th) : 0.5;
  x->limit = limit < 1 ? 1 : limit > RISK_TOP_MAX ? RISK_TOP_MAX : limit;
  if (run_file(dir, F_CHURN.name, path, sizeof path) &&
      (x->fx = srv_findex_get(path, F_CHURN.key, F_CHURN.key2, F_CHURN.num)) && !srv_findex_nnum(x->fx)) {
    srv_findex_put(x->fx); /* no probability: 1 - P(alive) */
    x->fx = NULL;
  } else if (!x->fx && run_file(dir, F_CHURN.name, path, sizeof path)) {
    x->churn = json_object();
    if (csv_rows(path, CHURN_COLS, 3, NULL, churn_load_cb, x->churn) || !json_object_size(x->churn)) {
      json_decref(x->churn);
      x->churn = NULL;
    }
  }
  tsr_customer_query q;
  tsr_customer_query_init(&q, run);
  tsr_status s = tsr_store_customers_list(st, &q, risk_cb, x, e);
  json_t *o = NULL;
  if (s == TSR_OK) {
    json_t *cs = json_array(), *sg = json_array();
    for (size_t i = 0; i < x->n; i++) {
      risk_item *it = &x->top[i];
      if (x->fx) srv_findex_values(x->fx, it->ent, CHURN_COLS, 3, risk_reason_cb, it);
      json_array_append_new(cs, json_pack("{s:s,s:s,s:f,s:s,s:o,s:o,s:f}", "customer_id", it->cid, "segment",
                                          it->segment, "churn_probability", it->p, "reason", it->reason, "revenue",
                                          jnum_or_null(it->revenue), "clv", jnum_or_null(it->clv),
                                          "revenue_at_risk", it->value));
    }
    for (size_t k = 0; k < x->nseg; k++)
      json_array_append_new(sg, json_pack("{s:s,s:I,s:I,s:f}", "segment", x->seg[k].name, "customers",
                                          x->seg[k].customers, "at_risk", x->seg[k].at_risk, "revenue_at_risk",
                                          x->seg[k].revenue_at_risk));
    o = json_pack("{s:s,s:f,s:o,s:o,s:o}", "source", x->churn || x->fx ? "churn_model" : "p_alive", "threshold",
                  x->threshold, "units", view_units(st, run), "customers", cs, "segments", sg);
  }
  json_decref(x->churn);
  srv_findex_put(x->fx);
  json_decref(params);
  free(x);
  return o;
}

enum MHD_Result views_at_risk_api(srv_req *r, tsr_store *st, int64_t run) {
  int64_t limit = 20;
  const char *ls = srv_req_arg(r, "limit");
  if (ls && *ls && (views_id(ls, &limit) || limit < 1 || limit > RISK_TOP_MAX))
    return srv_send_error(r, 400, "EINVAL", "limit: expected an integer in [1, %d], got '%.40s'", RISK_TOP_MAX, ls);
  tsr_error e;
  tsr_error_clear(&e);
  return views_reply(r, view_at_risk(st, run, (size_t)limit, &e), &e);
}

/* ================================================================ segment profiles */

static const char *const SEGP_COLS[] = {"kind", "segment", "customers", "share", "revenue", "clv_mean",
                                        "age_mean", "digital_share", "sentiment_mean", "p_alive_mean", "top_products"};

static int segp_cb(void *ctx, const char *const *v) {
  json_t *o = json_object();
  for (size_t i = 0; i < 11; i++) {
    if (i < 2 || i == 10) json_object_set_new(o, SEGP_COLS[i], json_string(v[i]));
    else json_object_set_new(o, SEGP_COLS[i], jnum_or_null(num_or_nan(v[i])));
  }
  json_array_append_new(ctx, o);
  return json_array_size(ctx) >= 1000;
}

/* {"units","segments":[rows of segment_profiles.csv]} ([] when absent). */
json_t *view_segment_profiles(tsr_store *st, int64_t run, tsr_error *e) {
  char dir[1100], path[1200];
  if (run_info(st, run, NULL, dir, sizeof dir, e) != TSR_OK) return NULL;
  json_t *a = json_array();
  if (run_file(dir, "segment_profiles.csv", path, sizeof path)) csv_rows(path, SEGP_COLS, 11, NULL, segp_cb, a);
  return json_pack("{s:o,s:o}", "units", view_units(st, run), "segments", a);
}

enum MHD_Result views_segment_profiles_api(srv_req *r, tsr_store *st, int64_t run) {
  tsr_error e;
  tsr_error_clear(&e);
  return views_reply(r, view_segment_profiles(st, run, &e), &e);
}

/* ================================================================ message preview */

static const char DEFAULT_TEMPLATES[] =
    "# The default templates of the web preview (docs/messages.md)\n"
    "[offer=* segment=* channel=sms variant=short]\n"
    "Hi {first_name}, {offer_name|a new offer} is ready for you{if next_best_product}, with {next_best_product}{end}. STOP to opt out\n"
    "[offer=* segment=* channel=push variant=short]\n"
    "{offer_name|A new offer} is waiting for you{if next_best_product}: have a look at {next_best_product}{end}.\n"
    "[offer=* segment=* channel=email variant=a]\n"
    "Hello {first_name},\n"
    "{if clv_tier=high}As one of our most valued customers, you{else}You{end} can now get {offer_name|our latest offer}.\n"
    "{if next_best_product}We think {next_best_product} would suit you.{end}\n";

const char *views_default_templates(void) { return DEFAULT_TEMPLATES; }

static int clv_cuts(tsr_store *st, int64_t run, double cut[2]);

/* "high" (CLV at or above the 80th percentile of the run by rank), "medium"
 * (at or above the median), "low", or NULL when the customer has no CLV. */
static const char *clv_tier(tsr_store *st, int64_t run, double clv) {
  if (!isfinite(clv)) return NULL;
  double cut[2] = {NAN, NAN};
  int has = clv_cuts(st, run, cut);
  if (has == 0 || has == -2) return NULL;
  if (isfinite(cut[0]) && clv >= cut[0]) return "high";
  if (isfinite(cut[1]) && clv >= cut[1]) return "medium";
  return "low";
}

/* The cuts of clv_tier (the CLV at ranks 20% and 50% by CLV descending) of
 * a run: 1, 0 when it has no customers, -2 when they cannot be read. */
typedef struct clv_all {
  double *v;
  size_t n, cap;
  int oom;
} clv_all;

static int clv_all_cb(void *ctx, const tsr_customer *c) {
  clv_all *a = ctx;
  if (a->n == a->cap) {
    size_t k = a->cap ? 2 * a->cap : 4096;
    double *v = realloc(a->v, k * sizeof *v);
    if (!v) return a->oom = 1;
    a->v = v;
    a->cap = k;
  }
  a->v[a->n++] = c->clv;
  return 0;
}

/* Descending, NULL (NAN) last: the store's ORDER BY clv DESC NULLS LAST. */
static int clv_desc_cmp(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  if (isnan(a) || isnan(b)) return isnan(a) - isnan(b);
  return (a < b) - (a > b);
}

static int clv_cuts_read(tsr_store *st, int64_t run, double cut[2]) {
  /* one pass in id order and a sort of the values: the same values as
   * ORDER BY clv DESC NULLS LAST LIMIT 1 OFFSET k, which sorts whole rows
   * (seconds to a minute on a 300k run) */
  tsr_customer_query q;
  tsr_customer_query_init(&q, run);
  clv_all a = {0};
  if (tsr_store_customers_list(st, &q, clv_all_cb, &a, NULL) != TSR_OK || a.oom) {
    free(a.v);
    return -2;
  }
  int64_t n = (int64_t)a.n;
  if (n <= 0) {
    free(a.v);
    return 0;
  }
  qsort(a.v, a.n, sizeof *a.v, clv_desc_cmp);
  int64_t off[2] = {(int64_t)floor(0.2 * (double)n), n / 2};
  for (int k = 0; k < 2; k++) cut[k] = a.v[off[k] < n ? off[k] : n - 1];
  free(a.v);
  return 1;
}

/* The cuts of the last CLV_CUTS completed runs are kept: the customers of
 * a completed run do not change (the run is known by its id, creation and
 * end times, so that a new run reusing an id is another one). */
#define CLV_CUTS 16
static struct clv_cut_entry {
  int64_t run, created, finished;
  int has;
  double cut[2];
} clv_cache[CLV_CUTS];
static size_t clv_next;
static pthread_mutex_t clv_mu = PTHREAD_MUTEX_INITIALIZER;

static int clv_cuts(tsr_store *st, int64_t run, double cut[2]) {
  tsr_run *rr = NULL;
  int64_t created = 0, finished = 0;
  int done = 0;
  if (tsr_store_run_get(st, run, &rr, NULL) == TSR_OK) {
    done = rr->status == TSR_RUN_DONE;
    created = rr->created_at;
    finished = rr->finished_at;
  }
  tsr_store_free(rr);
  if (done) {
    pthread_mutex_lock(&clv_mu);
    for (size_t i = 0; i < CLV_CUTS; i++) {
      struct clv_cut_entry *c = &clv_cache[i];
      if (c->run == run && c->created == created && c->finished == finished && (c->run || c->created)) {
        int has = c->has;
        cut[0] = c->cut[0], cut[1] = c->cut[1];
        pthread_mutex_unlock(&clv_mu);
        return has;
      }
    }
    pthread_mutex_unlock(&clv_mu);
  }
  int has = clv_cuts_read(st, run, cut);
  if (done && has >= 0) {
    pthread_mutex_lock(&clv_mu);
    struct clv_cut_entry *c = &clv_cache[clv_next++ % CLV_CUTS];
    *c = (struct clv_cut_entry){run, created, finished, has, {cut[0], cut[1]}};
    pthread_mutex_unlock(&clv_mu);
  }
  return has;
}

/* The customer's record in customers.csv of the run's data bundle (the
 * folder of the run's first input, params "inputs"): the first name (first
 * word of `name`, docs/messages.md) and opt_out (1/true/yes). Personal data:
 * only put in the preview's answer, never logged.
 *
 * The file is read once per version (path, size, modification time) into
 * an index of its customers (id, first name, opt-out) sorted by id, so a
 * preview is a binary search; the last PEOPLE_CACHE files stay indexed
 * (reference counted: a preview keeps the index it started with). */
typedef struct person {
  char first[128];
  int found, opted_out;
} person;

#define PEOPLE_CACHE 4

typedef struct person_row {
  size_t id, first; /* offsets into the arena (pointers once sorted) */
  const char *pid, *pfirst;
  size_t line;
  int opted_out;
} person_row;

typedef struct people {
  atomic_int refs;
  char path[1200];
  int64_t size, mtime_ns;
  char *arena;
  size_t narena, caparena;
  person_row *row;
  size_t n, cap;
  int oom;
} people;

static pthread_mutex_t people_mu = PTHREAD_MUTEX_INITIALIZER;
static people *people_cache[PEOPLE_CACHE]; /* most recent first */

static void people_put(people *P) {
  if (!P || atomic_fetch_sub(&P->refs, 1) != 1) return;
  free(P->arena);
  free(P->row);
  free(P);
}

static size_t people_str(people *P, const char *s) {
  size_t n = strlen(s) + 1;
  if (P->narena + n > P->caparena) {
    size_t c = P->caparena ? 2 * P->caparena : 65536;
    while (c < P->narena + n) c *= 2;
    char *a = realloc(P->arena, c);
    if (!a) return P->oom = 1, 0;
    P->arena = a;
    P->caparena = c;
  }
  memcpy(P->arena + P->narena, s, n);
  P->narena += n;
  return P->narena - n;
}

static int people_add_cb(void *ctx, const char *const *v) {
  people *P = ctx;
  if (P->n == P->cap) {
    size_t c = P->cap ? 2 * P->cap : 4096;
    person_row *r = realloc(P->row, c * sizeof *r);
    if (!r) return P->oom = 1;
    P->row = r;
    P->cap = c;
  }
  char first[128];
  size_t k = 0;
  while (v[1][k] && v[1][k] != ' ' && v[1][k] != '\t' && k + 1 < sizeof first) k++;
  copy_utf8(first, k + 1, v[1]);
  json_t *valid = json_string(first); /* not UTF-8: the default instead */
  if (!valid) first[0] = '\0';
  json_decref(valid);
  person_row *r = &P->row[P->n];
  r->id = people_str(P, v[0]);
  r->first = people_str(P, first);
  r->opted_out = !strcmp(v[2], "1") || !strcasecmp(v[2], "true") || !strcasecmp(v[2], "yes");
  r->line = P->n++;
  return P->oom;
}

static int people_cmp(const void *a, const void *b) {
  const person_row *x = a, *y = b;
  int c = strcmp(x->pid, y->pid);
  return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* The index of path with one reference (people_put), built when missing or
 * stale; NULL when the file cannot be read (or out of memory). */
static people *people_get(const char *path) {
  struct stat sb;
  if (stat(path, &sb) != 0) return NULL;
  int64_t mt = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
  pthread_mutex_lock(&people_mu);
  people *P = NULL;
  int at = -1;
  for (int i = 0; i < PEOPLE_CACHE && people_cache[i]; i++)
    if (!strcmp(people_cache[i]->path, path)) at = i;
  if (at >= 0 && people_cache[at]->size == (int64_t)sb.st_size && people_cache[at]->mtime_ns == mt) {
    P = people_cache[at];
  } else {
    P = calloc(1, sizeof *P);
    if (P) {
      atomic_init(&P->refs, 1); /* the cache's */
      snprintf(P->path, sizeof P->path, "%s", path);
      P->size = (int64_t)sb.st_size;
      P->mtime_ns = mt;
      static const char *const want[] = {"customer_id", "name", "opt_out"};
      if (csv_rows(path, want, 3, NULL, people_add_cb, P) || P->oom) {
        people_put(P);
        P = NULL;
      } else {
        for (size_t i = 0; i < P->n; i++) {
          P->row[i].pid = P->arena + P->row[i].id;
          P->row[i].pfirst = P->arena + P->row[i].first;
        }
        if (P->n) qsort(P->row, P->n, sizeof *P->row, people_cmp);
        if (at < 0) at = PEOPLE_CACHE - 1; /* replaces the stale one, else the oldest */
        people_put(people_cache[at]);
        people_cache[at] = NULL;
      }
    }
  }
  if (P) { /* to the front */
    for (int i = at; i > 0; i--) people_cache[i] = people_cache[i - 1];
    people_cache[0] = P;
    atomic_fetch_add(&P->refs, 1);
  }
  pthread_mutex_unlock(&people_mu);
  return P;
}

void srv_views_people_clear(void) {
  pthread_mutex_lock(&people_mu);
  for (int i = 0; i < PEOPLE_CACHE; i++) {
    people_put(people_cache[i]);
    people_cache[i] = NULL;
  }
  pthread_mutex_unlock(&people_mu);
}

static void person_of(json_t *params, const char *cid, person *p) {
  memset(p, 0, sizeof *p);
  const char *in = json_string_value(json_array_get(json_object_get(params, "inputs"), 0));
  const char *slash = in ? strrchr(in, '/') : NULL;
  char path[1200];
  int n = snprintf(path, sizeof path, "%.*s/customers.csv", slash ? (int)(slash - in) : 1, slash ? in : ".");
  if (!in || n <= 0 || (size_t)n >= sizeof path) return;
  people *P = people_get(path);
  if (!P) return;
  /* the first row of cid (lower bound) */
  size_t lo = 0, hi = P->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(P->row[mid].pid, cid) < 0) lo = mid + 1;
    else hi = mid;
  }
  if (lo < P->n && !strcmp(P->row[lo].pid, cid)) {
    snprintf(p->first, sizeof p->first, "%s", P->row[lo].pfirst);
    p->opted_out = P->row[lo].opted_out;
    p->found = 1;
  }
  people_put(P);
}

static const char *jstr_or(json_t *o, const char *k, const char *def) {
  json_t *v = json_object_get(o, k);
  return json_is_string(v) && *json_string_value(v) ? json_string_value(v) : def;
}

/* Renders every variant of the templates (body "templates", else the
 * defaults) that matches the customer for offer and channel:
 * {"channel","limit","personal","fields":{..},"variants":[{variant,text,
 * characters,fits,error}]}. TSR_EPARSE for a template error (FILE:LINE:COL
 * in the message), TSR_ENOTFOUND when no template matches. */
json_t *view_message(tsr_store *st, int64_t run, const char *cid, json_t *body, tsr_error *e) {
  tsr_customer *c = NULL;
  if (tsr_store_customer_get(st, run, cid, &c, e) != TSR_OK) return NULL;
  json_t *profile = c->extra && !strncmp(c->extra, "{\"profile\":", 11) ? json_loads(c->extra, 0, NULL) : NULL;
  char dir[1100];
  json_t *params = NULL;
  run_info(st, run, &params, dir, sizeof dir, NULL);
  person who;
  person_of(params, cid, &who);
  json_decref(params);
  json_t *nbp = nbp_of(dir, cid), *o = NULL;
  const char *text = jstr_or(body, "templates", DEFAULT_TEMPLATES);
  tsr_msg_templates *t = NULL;
  tsr_channel ch = TSR_CHANNEL_EMAIL;
  const char *chs = jstr_or(body, "channel", NULL);
  if (!chs) {
    /* the customer's preference, as `tessera messages` does */
    const char *pref = jstr_or(profile, "channel_preference", "");
    chs = !strcmp(pref, "mobile") ? "push" : !strcmp(pref, "phone") ? "sms" : "email";
  }
  if (strlen(text) > VIEW_TEMPLATES_MAX) {
    tsr_error_set(e, TSR_ELIMIT, NULL, 0, 0, "templates", "templates: longer than %d bytes", VIEW_TEMPLATES_MAX);
    goto done;
  }
  if (tsr_channel_parse(chs, &ch, e) != TSR_OK) goto done;
  if (tsr_msg_templates_parse(text, strlen(text), "templates", &t, e) != TSR_OK) goto done;
  tsr_msg_fields f = {0};
  json_t *pc = json_object_get(profile, "product_count");
  f.first_name = who.first[0] ? who.first : NULL; /* from the bundle's customers.csv, else the default */
  f.segment = c->segment;
  f.clv_tier = clv_tier(st, run, c->clv);
  f.next_best_product = json_string_value(json_object_get(json_array_get(nbp, 0), "product"));
  f.offer_name = jstr_or(body, "offer_name", NULL);
  f.product = jstr_or(body, "product", NULL);
  f.n_products = json_is_number(pc) ? json_number_value(pc) : NAN;
  const char *offer = jstr_or(body, "offer_id", "*");
  size_t idx[16];
  size_t nv = tsr_msg_match(t, offer, c->segment ? c->segment : "*", ch, idx, 16);
  if (!nv) {
    tsr_error_set(e, TSR_ENOTFOUND, NULL, 0, 0, "templates", "no template for the %s channel (offer %s, segment %s)",
                  tsr_channel_name(ch), offer, c->segment ? c->segment : "none");
    goto done;
  }
  json_t *vs = json_array();
  for (size_t i = 0; i < nv && !who.opted_out; i++) {
    char out[4096];
    tsr_error re;
    tsr_error_clear(&re);
    tsr_status rs = tsr_msg_render(t, idx[i], ch, &f, out, sizeof out, &re);
    json_t *v = json_pack("{s:s,s:b}", "variant", tsr_msg_variant(t, idx[i]), "fits", rs == TSR_OK);
    if (rs == TSR_OK) {
      size_t chars = 0;
      for (const unsigned char *p = (const unsigned char *)out; *p; p++) chars += (*p & 0xC0) != 0x80;
      json_object_set_new(v, "text", json_string(out));
      json_object_set_new(v, "characters", json_integer((json_int_t)chars));
    } else {
      json_object_set_new(v, "error", json_string(re.msg));
    }
    json_array_append_new(vs, v);
  }
  json_t *fields = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "first_name",
                             f.first_name ? json_string(f.first_name) : json_null(), "segment",
                             f.segment ? json_string(f.segment) : json_null(), "clv_tier",
                             f.clv_tier ? json_string(f.clv_tier) : json_null(), "next_best_product",
                             f.next_best_product ? json_string(f.next_best_product) : json_null(), "offer_name",
                             f.offer_name ? json_string(f.offer_name) : json_null(), "product",
                             f.product ? json_string(f.product) : json_null(), "n_products",
                             jnum_or_null(f.n_products));
  o = json_pack("{s:s,s:s,s:I,s:b,s:b,s:o,s:o}", "customer_id", cid, "channel", tsr_channel_name(ch), "limit",
                (json_int_t)tsr_channel_limit(ch), "personal", tsr_channel_personal(ch), "opted_out", who.opted_out,
                "fields", fields, "variants", vs);
  if (who.opted_out) json_object_set_new(o, "note", json_string("no message (opted out)"));
done:
  tsr_msg_templates_free(t);
  json_decref(nbp);
  json_decref(profile);
  tsr_store_free(c);
  return o;
}

enum MHD_Result views_message_api(srv_req *r, tsr_store *st, int64_t run, const char *cid) {
  enum MHD_Result ret;
  json_t *b = srv_body_json(r, &ret);
  if (!b) return ret;
  tsr_error e;
  tsr_error_clear(&e);
  json_t *v = view_message(st, run, cid, b, &e);
  json_decref(b);
  if (!v && (e.code == TSR_EPARSE || (e.code == TSR_ENOTFOUND && !strcmp(e.field, "templates")))) {
    char m[900];
    return srv_send_error(r, 422, tsr_status_name(e.code), "%s", tsr_error_format(&e, m, sizeof m));
  }
  return views_reply(r, v, &e);
}

/* ================================================================ password */

/* Changes the password of the logged-in user after checking the current one
 * (with the login's rate limits). 200, or an HTTP status with msg. */
int views_password_change(srv_req *r, tsr_store *st, const char *cur, const char *nw, const char *confirm, char *msg,
                          size_t cap) {
  if (!cur || !*cur || !nw || !*nw) {
    snprintf(msg, cap, "enter your current password and a new one");
    return 400;
  }
  if (strlen(nw) < 8 || strlen(nw) > 1024) {
    snprintf(msg, cap, "the new password must have 8 to 1024 characters");
    return 400;
  }
  if (confirm && strcmp(confirm, nw)) {
    snprintf(msg, cap, "the two new passwords differ");
    return 400;
  }
  tsr_web_user *u = NULL;
  char m[200];
  int code = srv_auth_login(r, r->user->name, cur, &u, m, sizeof m);
  if (code == 401) {
    snprintf(msg, cap, "the current password is wrong");
    return 403;
  }
  if (code) {
    snprintf(msg, cap, "%s", m);
    return code;
  }
  tsr_store_free(u);
  char hash[crypto_pwhash_STRBYTES];
  tsr_error e;
  if (tsr_server_hash_password(nw, hash)) {
    snprintf(msg, cap, "the password could not be hashed");
    return 500;
  }
  /* the new password and the end of the user's other sessions (whoever
   * knew the old password) in one transaction; this session stays */
  tsr_error_clear(&e);
  if (tsr_store_begin(st, &e) != TSR_OK || tsr_web_user_update(st, r->user->name, NULL, hash, &e) != TSR_OK ||
      tsr_web_sessions_del(st, r->user->id, r->session_hash[0] ? r->session_hash : NULL, NULL, &e) != TSR_OK ||
      tsr_store_commit(st, &e) != TSR_OK) {
    tsr_store_rollback(st, NULL);
    snprintf(msg, cap, "%s", e.msg);
    return srv_status_http(e.code != TSR_OK ? e.code : TSR_ESTORE);
  }
  srv_auth_cache_clear(r->S);
  snprintf(msg, cap, "your password was changed");
  return 200;
}

enum MHD_Result views_password_api(srv_req *r, tsr_store *st) {
  enum MHD_Result ret;
  json_t *b = srv_body_json(r, &ret);
  if (!b) return ret;
  char msg[300];
  int code = views_password_change(r, st, jstr_or(b, "current_password", NULL), jstr_or(b, "new_password", NULL),
                                   NULL, msg, sizeof msg);
  json_decref(b);
  if (code != 200)
    return srv_send_error(r, code, code == 403 ? "EAUTH" : code == 429 ? "ELIMIT" : code == 400 ? "EINVAL" : "ESTORE", "%s",
                      msg);
  return srv_send_json(r, 200, json_pack("{s:s,s:b}", "user", r->user->name, "changed", 1));
}

/* ================================================================ route table entries (server/routes.def) */

enum MHD_Result srv_api_me_password(srv_req *r) { return views_password_api(r, r->st); }
enum MHD_Result srv_api_run_compare(srv_req *r) { return views_compare_api(r, r->st, r->pid[0], r->parg[1]); }
enum MHD_Result srv_api_run_at_risk(srv_req *r) { return views_at_risk_api(r, r->st, r->pid[0]); }
enum MHD_Result srv_api_run_segment_profiles(srv_req *r) { return views_segment_profiles_api(r, r->st, r->pid[0]); }
enum MHD_Result srv_api_run_customer_view(srv_req *r) { return views_customer_api(r, r->st, r->pid[0], r->parg[1]); }
enum MHD_Result srv_api_run_customer_message(srv_req *r) {
  return views_message_api(r, r->st, r->pid[0], r->parg[1]);
}
enum MHD_Result srv_page_run_compare(srv_req *r) { return views_compare_page(r, r->st, r->pid[0]); }
enum MHD_Result srv_page_account(srv_req *r) { return views_account_page(r, r->st); }
