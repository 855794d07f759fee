/*
 * report_extras.c - the report sections read from files rather than from
 * the run's columns (report_internal.h tsr__report_extras, docs/report.md):
 *   - from the run's output folder, when present: run.json's data quality
 *     (rejects by reason, records merged, households, anomalies),
 *     segment_profiles.csv (issue 12), churn_eval.json and churn.csv
 *     (issue 13; layout in /work/notes/contracts.md item 1, docs/predict.md);
 *   - given by name: the JSON of `tessera offers simulate --json` and of
 *     `tessera experiment --json` (issue 15).
 * Files are bounded (TSR__REPORT_MAX_FILE bytes, MAX_ROWS table rows).
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "report_internal.h"
#include "tessera/csv.h"
#include "tessera/store_act.h"

#define TSR__REPORT_MAX_FILE ((off_t)64 << 20) /* 64 MiB per JSON input */
#define MAX_ROWS 5000                         /* rows of a table kept */

/* Appends a note (shown in the report's run section) to meta.notes. */
static void note(json_t *root, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(json_t *root, const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  json_t *meta = json_object_get(root, "meta");
  if (!meta) return;
  json_t *n = json_object_get(meta, "notes");
  if (!n) {
    n = json_array();
    if (!n || json_object_set_new(meta, "notes", n) != 0) return;
  }
  json_array_append_new(n, json_string(msg));
}

/* dir/name into buf; 0 when it does not fit. */
static int join(char *buf, size_t cap, const char *dir, const char *name) {
  int k = snprintf(buf, cap, "%s/%s", dir, name);
  return k > 0 && (size_t)k < cap;
}

static int exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

/* Loads a JSON file of at most TSR__REPORT_MAX_FILE bytes. NULL with err set
 * (file, line, column of a syntax error) on failure. */
static json_t *load_json(const char *path, tsr_error *err) {
  struct stat sb;
  if (stat(path, &sb) != 0)
    return tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "cannot read: %s", strerror(errno)), NULL;
  if (sb.st_size > TSR__REPORT_MAX_FILE)
    return tsr_error_set(err, TSR_ELIMIT, path, 0, 0, NULL, "file larger than %lld MiB",
                         (long long)(TSR__REPORT_MAX_FILE >> 20)), NULL;
  json_error_t je;
  json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
  if (!v)
    tsr_error_set(err, errno == ENOENT ? TSR_EIO : TSR_EPARSE, path, je.line, je.column, NULL,
                  "%s", je.text);
  return v;
}

/* A CSV cell: a number when the whole text is one, null when empty, else
 * the text. */
static json_t *cell(const char *p, size_t n) {
  if (n == 0) return json_null();
  char *end = NULL;
  errno = 0;
  double v = strtod(p, &end);
  if (end == p + n && errno == 0 && isfinite(v)) return json_real(v);
  return json_stringn(p, n);
}

/* Reads a CSV file (header + rows, at most max_rows kept) into
 * {"columns": [...], "rows": [[...], ...], "truncated": bool}. NULL with err
 * set on a read or parse error (a row whose field count differs from the
 * header's names its line). */
static json_t *load_csv(const char *path, size_t max_rows, tsr_error *err) {
  tsr_csv_opts co;
  tsr_csv_opts_init(&co);
  tsr_csv *c = NULL;
  if (tsr_csv_open(path, &co, &c, err) != TSR_OK) return NULL;
  json_t *cols = json_array(), *rows = json_array(), *out = json_object();
  tsr_csv_record rec;
  tsr_status st;
  size_t ncol = 0;
  int truncated = 0;
  if (!cols || !rows || !out) goto oom;
  while ((st = tsr_csv_next(c, &rec, err)) == TSR_OK) {
    if (ncol == 0) {
      ncol = rec.nfields;
      for (size_t j = 0; j < rec.nfields; j++)
        if (json_array_append_new(cols, json_stringn(rec.fields[j].ptr, rec.fields[j].len))) goto oom;
      continue;
    }
    if (json_array_size(rows) >= max_rows) {
      truncated = 1;
      break;
    }
    if (rec.nfields != ncol) {
      st = tsr_error_set(err, TSR_EPARSE, path, rec.line, 1, NULL,
                         "expected %zu fields as in the header, got %zu", ncol, rec.nfields);
      break;
    }
    json_t *r = json_array();
    if (!r || json_array_append_new(rows, r)) goto oom;
    for (size_t j = 0; j < rec.nfields; j++)
      if (json_array_append_new(r, cell(rec.fields[j].ptr, rec.fields[j].len))) goto oom;
  }
  tsr_csv_close(c);
  if (st != TSR_OK && st != TSR_ENOTFOUND && !truncated) {
    json_decref(cols);
    json_decref(rows);
    json_decref(out);
    return NULL;
  }
  json_object_set_new(out, "columns", cols);
  json_object_set_new(out, "rows", rows);
  json_object_set_new(out, "truncated", json_boolean(truncated));
  return out;
oom:
  tsr_csv_close(c);
  json_decref(cols);
  json_decref(rows);
  json_decref(out);
  tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  return NULL;
}

/* ------------------------------------------------------------ churn.csv */

typedef struct risk {
  double p;
  json_t *row; /* [customer_id, p, reason_1, reason_2, reason_3] */
} risk;

/* The top_n customers of churn.csv by churn probability, with their
 * reasons, and the count and mean probability of all of them. */
static json_t *load_churn_top(const char *path, size_t top_n, tsr_error *err) {
  tsr_csv_opts co;
  tsr_csv_opts_init(&co);
  tsr_csv *c = NULL;
  if (tsr_csv_open(path, &co, &c, err) != TSR_OK) return NULL;
  risk *top = tsr__calloc(top_n + 1, sizeof *top);
  json_t *out = NULL;
  tsr_csv_record rec;
  tsr_status st;
  size_t k = 0, n = 0, ip = 1;
  double sum = 0;
  int header = 1;
  if (!top) goto done;
  while ((st = tsr_csv_next(c, &rec, err)) == TSR_OK) {
    if (header) {
      header = 0;
      for (size_t j = 0; j < rec.nfields; j++)
        if (!strcmp(rec.fields[j].ptr, "churn_probability")) ip = j;
      continue;
    }
    if (rec.nfields <= ip) continue;
    char *end = NULL;
    double p = strtod(rec.fields[ip].ptr, &end);
    if (end == rec.fields[ip].ptr || !isfinite(p)) continue;
    n++;
    sum += p;
    if (k == top_n && !(p > top[k - 1].p)) continue;
    json_t *row = json_array();
    if (!row) goto done;
    for (size_t j = 0; j < rec.nfields && j < 5; j++)
      json_array_append_new(row, j == ip ? json_real(p) : json_stringn(rec.fields[j].ptr, rec.fields[j].len));
    size_t q = k < top_n ? k++ : k - 1;
    if (q == k - 1 && k == top_n && top[q].row) json_decref(top[q].row);
    while (q > 0 && p > top[q - 1].p) {
      top[q] = top[q - 1];
      q--;
    }
    top[q].p = p;
    top[q].row = row;
  }
  if (st != TSR_ENOTFOUND) goto done;
  out = json_object();
  json_t *a = json_array();
  if (!out || !a) {
    json_decref(out);
    json_decref(a);
    out = NULL;
    tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  for (size_t j = 0; j < k; j++) {
    json_array_append(a, top[j].row);
  }
  json_object_set_new(out, "top", a);
  json_object_set_new(out, "customers", json_integer((json_int_t)n));
  json_object_set_new(out, "mean_probability", n ? json_real(sum / (double)n) : json_null());
done:
  for (size_t j = 0; top && j < k; j++) json_decref(top[j].row);
  tsr__free(top);
  tsr_csv_close(c);
  return out;
}

/* ------------------------------------------------------------ nbp.csv */

/* The first-ranked products of nbp.csv: {"customers", "products":
 * [{product, customers, mean_score, reason}]} (an example reason of the
 * product), most recommended first; the first MAX_NBP products. */
#define MAX_NBP 64
static json_t *load_nbp(const char *path, tsr_error *err) {
  tsr_csv_opts co;
  tsr_csv_opts_init(&co);
  tsr_csv *c = NULL;
  if (tsr_csv_open(path, &co, &c, err) != TSR_OK) return NULL;
  char *name[MAX_NBP], *why[MAX_NBP];
  int64_t cnt[MAX_NBP] = {0};
  double sc[MAX_NBP] = {0};
  size_t np = 0, col[5] = {0, 1, 2, 3, 4};
  int64_t customers = 0;
  tsr_csv_record rec;
  tsr_status st;
  int header = 1, oom = 0;
  while ((st = tsr_csv_next(c, &rec, err)) == TSR_OK && !oom) {
    if (header) { /* by name: customer_id,rank,product,score,reason */
      static const char *const want[5] = {"customer_id", "rank", "product", "score", "reason"};
      for (size_t j = 0; j < rec.nfields; j++)
        for (int k = 0; k < 5; k++)
          if (!strcmp(rec.fields[j].ptr, want[k])) col[k] = j;
      header = 0;
      continue;
    }
    if (rec.nfields <= col[1] || rec.nfields <= col[2] || strcmp(rec.fields[col[1]].ptr, "1") != 0) continue;
    customers++;
    const char *prod = rec.fields[col[2]].ptr;
    size_t k = 0;
    while (k < np && strcmp(name[k], prod) != 0) k++;
    if (k == np) {
      if (np == MAX_NBP) continue;
      name[np] = tsr__strdup(prod);
      why[np] = tsr__strdup(rec.nfields > col[4] ? rec.fields[col[4]].ptr : "");
      if (!name[np] || !why[np]) {
        tsr__free(name[np]);
        tsr__free(why[np]);
        oom = 1;
        break;
      }
      np++;
    }
    cnt[k]++;
    if (rec.nfields > col[3]) sc[k] += strtod(rec.fields[col[3]].ptr, NULL);
  }
  tsr_csv_close(c);
  json_t *out = NULL;
  if (oom) tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  else if (st == TSR_ENOTFOUND) {
    /* most recommended first (insertion sort: at most MAX_NBP) */
    size_t ord[MAX_NBP];
    for (size_t i = 0; i < np; i++) {
      size_t q = i;
      while (q > 0 && cnt[ord[q - 1]] < cnt[i]) {
        ord[q] = ord[q - 1];
        q--;
      }
      ord[q] = i;
    }
    out = json_object();
    json_t *a = json_array();
    for (size_t i = 0; i < np && a; i++) {
      size_t k = ord[i];
      json_array_append_new(a, json_pack("{s:s,s:I,s:f,s:s}", "product", name[k], "customers", (json_int_t)cnt[k],
                                         "mean_score", sc[k] / (double)cnt[k], "reason", why[k]));
    }
    json_object_set_new(out, "customers", json_integer(customers));
    json_object_set_new(out, "products", a);
  }
  for (size_t i = 0; i < np; i++) {
    tsr__free(name[i]);
    tsr__free(why[i]);
  }
  return out;
}

/* ------------------------------------------------------------ sections */

static void run_dir_sections(json_t *root, const tsr_report_opts *o) {
  char path[4096];
  tsr_error e;
  const char *dir = o->out_dir;
  /* run.json: data quality of a bundle run */
  if (join(path, sizeof path, dir, "run.json") && exists(path)) {
    json_t *rj = load_json(path, &e);
    json_t *dq = json_object_get(rj, "data_quality");
    if (json_is_object(dq)) json_object_set(root, "data_quality", dq);
    if (!rj) note(root, "run.json left out: %s:%d:%d: %s", path, e.line > 0 ? (int)e.line : 0,
                  e.column > 0 ? (int)e.column : 0, e.msg);
    json_decref(rj);
  }
  if (join(path, sizeof path, dir, "segment_profiles.csv") && exists(path)) {
    json_t *t = load_csv(path, MAX_ROWS, &e);
    if (t) json_object_set_new(root, "segment_profiles", t);
    else note(root, "segment_profiles.csv left out: %s", e.msg);
  }
  json_t *churn = NULL;
  if (join(path, sizeof path, dir, "churn_eval.json") && exists(path)) {
    json_t *ev = load_json(path, &e);
    if (ev && json_is_object(json_object_get(ev, "methods"))) {
      churn = json_object();
      json_object_set_new(churn, "eval", ev);
    } else {
      if (ev) note(root, "churn_eval.json left out: no \"methods\" object");
      else note(root, "churn_eval.json left out: %s:%d:%d: %s", path, (int)e.line, (int)e.column, e.msg);
      json_decref(ev);
    }
  }
  if (join(path, sizeof path, dir, "churn.csv") && exists(path)) {
    json_t *top = load_churn_top(path, o->top_n ? o->top_n : 20, &e);
    if (top) {
      if (!churn) churn = json_object();
      json_object_set_new(churn, "customers", top);
    } else {
      note(root, "churn.csv left out: %s", e.msg);
    }
  }
  if (churn) json_object_set_new(root, "churn", churn);
  if (join(path, sizeof path, dir, "nbp.csv") && exists(path)) {
    json_t *nb = load_nbp(path, &e);
    if (nb) json_object_set_new(root, "next_best_product", nb);
    else note(root, "nbp.csv left out: %s", e.msg);
  }
}

/* A JSON input given by name: must exist and parse, and be the output of
 * what: "format": format when format is set, else an object with an array
 * under array_key. Stored as root[key]. */
static tsr_status named_input(json_t *root, const char *path, const char *key, const char *format,
                              const char *array_key, const char *what, tsr_error *err) {
  json_t *v = load_json(path, err);
  if (!v) return err ? err->code : TSR_EPARSE;
  const char *f = json_string_value(json_object_get(v, "format"));
  if (format ? !f || strcmp(f, format) != 0 : !json_is_array(json_object_get(v, array_key))) {
    json_decref(v);
    if (format)
      return tsr_error_set(err, TSR_EPARSE, path, 1, 1, NULL,
                           "expected the JSON of %s (\"format\": \"%s\")", what, format);
    return tsr_error_set(err, TSR_EPARSE, path, 1, 1, NULL,
                         "expected the JSON of %s (an \"%s\" array)", what, array_key);
  }
  if (json_object_set_new(root, key, v) != 0)
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  return TSR_OK;
}

/* ------------------------------------------------------------ decisions */

#define MAX_KEYS 64 /* distinct segments, offers and policies kept */

typedef struct keys {
  char *v[MAX_KEYS];
  size_t n;
} keys;

/* Index of s in k (added when new); MAX_KEYS when full ("other" is not
 * invented: the decision is counted in the totals only). */
static size_t key_index(keys *k, const char *s, int *oom) {
  if (!s || !*s) s = "(none)";
  for (size_t i = 0; i < k->n; i++)
    if (!strcmp(k->v[i], s)) return i;
  if (k->n == MAX_KEYS) return MAX_KEYS;
  if (!(k->v[k->n] = tsr__strdup(s))) {
    *oom = 1;
    return MAX_KEYS;
  }
  return k->n++;
}

typedef struct dec_ctx {
  keys seg, off, pol;
  int64_t n, rewarded, left_out;
  int64_t cnt[MAX_KEYS][MAX_KEYS], rcnt[MAX_KEYS][MAX_KEYS], pcnt[MAX_KEYS];
  double rsum[MAX_KEYS][MAX_KEYS];
  int oom;
} dec_ctx;

static int on_decision(void *ctx, const tsr_act_decision *d) {
  dec_ctx *c = ctx;
  c->n++;
  size_t s = key_index(&c->seg, d->segment, &c->oom), f = key_index(&c->off, d->offer_id, &c->oom),
         p = key_index(&c->pol, d->policy, &c->oom);
  if (p < MAX_KEYS) c->pcnt[p]++;
  if (isfinite(d->reward)) c->rewarded++;
  if (s == MAX_KEYS || f == MAX_KEYS) {
    c->left_out++;
    return c->oom;
  }
  c->cnt[s][f]++;
  if (isfinite(d->reward)) {
    c->rcnt[s][f]++;
    c->rsum[s][f] += d->reward;
  }
  return c->oom;
}

static json_t *keys_json(const keys *k) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < k->n; i++) json_array_append_new(a, json_string(k->v[i]));
  return a;
}

/* The offers served and rewarded (the store's act_decisions of `tessera
 * serve`, tessera/store_act.h): decisions per segment and offer, rewards,
 * policies. Absent without a store, the table or any decision. */
static tsr_status store_decisions(json_t *root, tsr_store *store, tsr_error *err) {
  int64_t n = 0, nr = 0;
  if (tsr_act_decisions_count(store, &n, &nr, NULL) != TSR_OK || n == 0) return TSR_OK;
  dec_ctx *c = tsr__calloc(1, sizeof *c);
  if (!c) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  tsr_status st = tsr_act_decisions_list(store, on_decision, c, NULL);
  if (c->oom) st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  else if (st != TSR_OK) st = TSR_OK; /* unreadable: no section */
  else {
    json_t *o = json_object(), *cnt = json_array(), *rc = json_array(), *rs = json_array(),
           *pol = json_object();
    for (size_t i = 0; i < c->seg.n; i++) {
      json_t *a = json_array(), *b = json_array(), *d = json_array();
      for (size_t j = 0; j < c->off.n; j++) {
        json_array_append_new(a, json_integer(c->cnt[i][j]));
        json_array_append_new(b, json_integer(c->rcnt[i][j]));
        json_array_append_new(d, json_real(c->rsum[i][j]));
      }
      json_array_append_new(cnt, a);
      json_array_append_new(rc, b);
      json_array_append_new(rs, d);
    }
    for (size_t i = 0; i < c->pol.n; i++) json_object_set_new(pol, c->pol.v[i], json_integer(c->pcnt[i]));
    json_object_set_new(o, "decisions", json_integer(c->n));
    json_object_set_new(o, "rewarded", json_integer(c->rewarded));
    json_object_set_new(o, "left_out", json_integer(c->left_out));
    json_object_set_new(o, "segments", keys_json(&c->seg));
    json_object_set_new(o, "offers", keys_json(&c->off));
    json_object_set_new(o, "count", cnt);
    json_object_set_new(o, "rewarded_count", rc);
    json_object_set_new(o, "reward_sum", rs);
    json_object_set_new(o, "policies", pol);
    if (!o || json_object_set_new(root, "decisions", o) != 0)
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  for (size_t i = 0; i < c->seg.n; i++) tsr__free(c->seg.v[i]);
  for (size_t i = 0; i < c->off.n; i++) tsr__free(c->off.v[i]);
  for (size_t i = 0; i < c->pol.n; i++) tsr__free(c->pol.v[i]);
  tsr__free(c);
  return st;
}

tsr_status tsr__report_extras(json_t *root, const tsr_report_opts *o, tsr_error *err) {
  if (o->out_dir && *o->out_dir) run_dir_sections(root, o);
  if (o->store) {
    tsr_status ds = store_decisions(root, o->store, err);
    if (ds != TSR_OK) return ds;
  }
  tsr_status st = TSR_OK;
  if (o->offers_sim)
    st = named_input(root, o->offers_sim, "offers", "tessera-offers-sim", NULL,
                     "'tessera offers simulate --json'", err);
  if (st == TSR_OK && o->experiment)
    st = named_input(root, o->experiment, "experiment", NULL, "experiments",
                     "'tessera experiment --json'", err);
  return st;
}
