/*
 * store.c - front end of the store (tessera/store.h): picks the back end by
 * URL, checks arguments, fills defaults (times), validates JSON fields, words
 * "not found" errors the same for every back end, and packs objects returned
 * by the _get functions into single allocations. The per-entity SQL is
 * store/sql_store.c's, over the back end picked here (store/store_int.h).
 */
#include "store_int.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

struct tsr_store {
  tsr__db *db; /* db->m: the back end's method table */
};

/* ================================================================ URL */

const char *tsr_store_default_url(const char *db_opt) {
  if (db_opt && *db_opt) return db_opt;
  const char *e = getenv("TESSERA_DB");
  if (e && *e) return e;
  return "tessera.db";
}

static int has_prefix(const char *s, const char *p) {
  return strncmp(s, p, strlen(p)) == 0;
}

char *tsr_store_url_display(const char *url, char *buf, size_t cap) {
  if (!buf || !cap) return buf;
  snprintf(buf, cap, "%s", url ? url : "");
  char *s = strstr(buf, "://");
  if (!s) return buf;
  s += 3;
  char *at = strchr(s, '@'), *slash = strchr(s, '/');
  if (at && (!slash || at < slash)) {
    char *colon = memchr(s, ':', (size_t)(at - s));
    if (colon) memmove(colon, at, strlen(at) + 1);
  }
  char *pw = strstr(buf, "password=");
  if (pw) {
    char *end = strchr(pw, '&');
    if (end)
      memmove(pw + 9, end, strlen(end) + 1);
    else
      pw[9] = '\0';
  }
  return buf;
}

char *tsr_store_data_dir(const char *url, const char *data_dir, char *buf, size_t cap) {
  if (!buf || !cap) return buf;
  if (data_dir && *data_dir) {
    snprintf(buf, cap, "%s", data_dir);
  } else if (!url || has_prefix(url, "postgresql://") || has_prefix(url, "postgres://")) {
    snprintf(buf, cap, "tessera-data");
  } else {
    const char *p = url;
    if (has_prefix(p, "sqlite:")) p += strlen("sqlite:");
    if (has_prefix(p, "//")) p += 2;
    snprintf(buf, cap, "%s.files", p);
  }
  return buf;
}

tsr_status tsr_store_open(const char *url, unsigned flags, tsr_store **out,
                          tsr_error *err) {
  if (!out) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "store: open: out is NULL");
  *out = NULL;
  if (!url || !*url)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "store: open: empty database URL");
  const tsr_store_methods *m = NULL;
  const char *target = url;
  if (has_prefix(url, "postgresql://") || has_prefix(url, "postgres://")) {
    /* libpq parses the URL; messages never echo its password */
    m = &tsr__store_pg_methods;
  } else if (has_prefix(url, "sqlite:")) {
    m = &tsr__store_sqlite_methods;
    target = url + strlen("sqlite:");
    if (has_prefix(target, "//")) target += 2; /* sqlite://PATH */
    if (!*target)
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                           "store: open: '%s': no file name", url);
  } else {
    const char *colon = strstr(url, "://");
    if (colon) {
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                           "store: open: unknown database URL scheme '%.*s' "
                           "(expected a file name, sqlite:FILE or "
                           "postgresql://...)",
                           (int)(colon - url), url);
    }
    m = &tsr__store_sqlite_methods;
  }
  if (m->version < 1)
    return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: back end '%s' too old", m->name);

  tsr_store *s = tsr__calloc(1, sizeof *s);
  if (!s) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "store: open: out of memory");
  tsr_status st = m->open(target, flags, &s->db, err);
  if (st == TSR_OK) st = tsr__schema_open(s->db, flags, err);
  if (st != TSR_OK) {
    if (s->db) m->close(s->db);
    tsr__free(s);
    return st;
  }
  /* runs whose process died (kill -9, crash, power loss) are marked
   * interrupted. Not fatal: a busy database must not stop an open, and the
   * next open tries again; a stale run loses no data. */
  if (!(flags & TSR_STORE_NO_MIGRATE)) tsr__store_reap_runs(s, NULL, NULL);
  *out = s;
  return TSR_OK;
}

void tsr_store_close(tsr_store *s) {
  if (!s) return;
  s->db->m->close(s->db);
  tsr__free(s);
}

void tsr_store_free(void *obj) { tsr__free(obj); }

tsr__db *tsr__store_db(tsr_store *s) { return s ? s->db : NULL; }

int tsr__store_in_tx(tsr_store *s) { return s && s->db->m->in_transaction(s->db); }

const char *tsr_store_backend(const tsr_store *s) { return s ? s->db->m->name : ""; }

/* ================================================================ checks */

#define CHECK_STORE(s, what)                                             \
  do {                                                                   \
    if (!(s))                                                            \
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,            \
                           "store: %s: store handle is NULL", what);     \
  } while (0)

/* TSR_EINVAL naming the field unless json is NULL or valid JSON text. */
static tsr_status check_json(const char *what, const char *field,
                             const char *json, tsr_error *err) {
  if (!json || tsr__json_surely_valid(json)) return TSR_OK;
  /* unsure, or invalid: jansson decides and words it */
  json_error_t je;
  json_t *j = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
  if (!j)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, field,
                         "%s: invalid JSON at %d:%d: %s", what, je.line,
                         je.column, je.text);
  json_decref(j);
  return TSR_OK;
}

static tsr_status need_str(const char *what, const char *field, const char *v,
                           tsr_error *err) {
  if (v) return TSR_OK;
  return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, field, "%s: required", what);
}

static tsr_status need_id(const char *what, int64_t id, tsr_error *err) {
  if (id > 0) return TSR_OK;
  return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                       "%s: expected an id >= 1, got %lld", what, (long long)id);
}

#define not_found tsr__not_found

/* ================================================================ packing */

/* Copies the struct of `size` bytes at src and the strings it points to
 * (at byte offsets offs) into one allocation; the copy's pointers point into
 * it. NULL on allocation failure. */
static void *pack(const void *src, size_t size, const size_t *offs, size_t n) {
  size_t total = size;
  for (size_t i = 0; i < n; i++) {
    const char *p;
    memcpy(&p, (const char *)src + offs[i], sizeof p);
    if (p) total += strlen(p) + 1;
  }
  char *blk = tsr__malloc(total);
  if (!blk) return NULL;
  memcpy(blk, src, size);
  char *w = blk + size;
  for (size_t i = 0; i < n; i++) {
    const char *p;
    memcpy(&p, (const char *)src + offs[i], sizeof p);
    if (!p) continue;
    size_t len = strlen(p) + 1;
    memcpy(w, p, len);
    const char *np = w;
    memcpy(blk + offs[i], &np, sizeof np);
    w += len;
  }
  return blk;
}

typedef struct pack_ctx {
  void *obj;
  int oom;
} pack_ctx;

#define PACK_CB(type, name, ...)                                       \
  static int name(void *ctx, const type *row) {                        \
    static const size_t offs[] = {__VA_ARGS__};                        \
    pack_ctx *pc = ctx;                                                \
    tsr__free(pc->obj);                                                \
    pc->obj = pack(row, sizeof *row, offs, TSR__ARRAY_LEN(offs));      \
    if (!pc->obj) pc->oom = 1;                                         \
    return 1;                                                          \
  }

PACK_CB(tsr_dataset, pack_dataset, offsetof(tsr_dataset, source),
        offsetof(tsr_dataset, checksum), offsetof(tsr_dataset, options),
        offsetof(tsr_dataset, stored_path))
PACK_CB(tsr_run, pack_run, offsetof(tsr_run, command), offsetof(tsr_run, params),
        offsetof(tsr_run, timings), offsetof(tsr_run, summary),
        offsetof(tsr_run, error), offsetof(tsr_run, output_dir),
        offsetof(tsr_run, dataset_source))
PACK_CB(tsr_customer, pack_customer, offsetof(tsr_customer, customer_id),
        offsetof(tsr_customer, rfm_cell), offsetof(tsr_customer, segment),
        offsetof(tsr_customer, extra), offsetof(tsr_customer, history))
PACK_CB(tsr_model, pack_model, offsetof(tsr_model, kind),
        offsetof(tsr_model, params), offsetof(tsr_model, fit_stats))

/* Ends a get: TSR_ENOMEM if packing failed, ENOTFOUND if no row came. */
static tsr_status pack_done(tsr_status st, pack_ctx *pc, void **out,
                            tsr_error *err) {
  if (st == TSR_OK && pc->oom) st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "store: out of memory");
  if (st == TSR_OK && !pc->obj) st = TSR_ENOTFOUND;
  if (st != TSR_OK) {
    tsr__free(pc->obj);
    return st;
  }
  *out = pc->obj;
  return TSR_OK;
}

/* ================================================================ schema */

tsr_status tsr_store_schema_version(tsr_store *s, int *version, tsr_error *err) {
  CHECK_STORE(s, "schema version");
  int v = 0;
  tsr_status st = tsr__schema_version(s->db, &v, err);
  if (st == TSR_OK && version) *version = v;
  return st;
}

tsr_status tsr_store_migrate(tsr_store *s, int *version, tsr_error *err) {
  CHECK_STORE(s, "migrate");
  int v = 0;
  tsr_status st = tsr__schema_migrate(s->db, &v, err);
  if (st == TSR_OK && version) *version = v;
  return st;
}

tsr_status tsr_store_stats_get(tsr_store *s, tsr_store_stats *out, tsr_error *err) {
  CHECK_STORE(s, "stats");
  if (!out) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "store: stats: out is NULL");
  memset(out, 0, sizeof *out);
  out->backend = s->db->m->name;
  out->schema_latest = tsr_store_schema_latest();
  return tsr__sql_stats(s->db, out, err);
}

/* ================================================================ transactions */

tsr_status tsr_store_begin(tsr_store *s, tsr_error *err) {
  CHECK_STORE(s, "begin");
  if (s->db->m->in_transaction(s->db))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "store: begin: a transaction is already open");
  return s->db->m->begin(s->db, err);
}

tsr_status tsr__store_begin_bulk(tsr_store *s, tsr_error *err) {
  CHECK_STORE(s, "begin");
  if (s->db->m->in_transaction(s->db))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "store: begin: a transaction is already open");
  const tsr_store_methods *m = s->db->m;
  return m->version >= 6 && m->begin_bulk ? m->begin_bulk(s->db, err) : m->begin(s->db, err);
}

tsr_status tsr_store_commit(tsr_store *s, tsr_error *err) {
  CHECK_STORE(s, "commit");
  if (!s->db->m->in_transaction(s->db))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "store: commit: no open transaction");
  return s->db->m->commit(s->db, err);
}

tsr_status tsr_store_rollback(tsr_store *s, tsr_error *err) {
  CHECK_STORE(s, "rollback");
  if (!s->db->m->in_transaction(s->db)) return TSR_OK;
  return s->db->m->rollback(s->db, err);
}

/* ================================================================ time */

int64_t tsr_store_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *tsr_store_time_format(int64_t ms, char *buf, size_t cap) {
  if (!buf || cap == 0) return buf;
  buf[0] = '\0';
  if (ms == 0) return buf;
  int64_t sec = ms / 1000, frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    sec -= 1;
  }
  time_t t = (time_t)sec;
  struct tm tm;
  if (!gmtime_r(&t, &tm)) return buf;
  char base[40];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  if (frac)
    snprintf(buf, cap, "%s.%03dZ", base, (int)frac);
  else
    snprintf(buf, cap, "%sZ", base);
  return buf;
}

/* ================================================================ status names */

static const char *const run_status_names[] = {"running", "done", "failed",
                                               "interrupted", "canceled"};

const char *tsr_run_status_name(tsr_run_status st) {
  if ((unsigned)st < TSR__ARRAY_LEN(run_status_names)) return run_status_names[st];
  return "unknown";
}

tsr_status tsr_run_status_parse(const char *name, tsr_run_status *out) {
  for (size_t i = 0; name && i < TSR__ARRAY_LEN(run_status_names); i++) {
    if (!strcmp(name, run_status_names[i])) {
      if (out) *out = (tsr_run_status)i;
      return TSR_OK;
    }
  }
  return TSR_EINVAL;
}

static const char *const level_names[] = {"info", "warn", "error"};

const char *tsr_log_level_name(tsr_log_level l) {
  if ((unsigned)l < TSR__ARRAY_LEN(level_names)) return level_names[l];
  return "unknown";
}

tsr_status tsr_log_level_parse(const char *name, tsr_log_level *out) {
  for (size_t i = 0; name && i < TSR__ARRAY_LEN(level_names); i++) {
    if (!strcmp(name, level_names[i])) {
      if (out) *out = (tsr_log_level)i;
      return TSR_OK;
    }
  }
  return TSR_EINVAL;
}

/* ================================================================ datasets */

static tsr_status check_dataset(const char *what, const tsr_dataset *d,
                                tsr_error *err) {
  tsr_status st;
  if ((st = need_str(what, "source", d->source, err))) return st;
  if ((st = need_str(what, "checksum", d->checksum, err))) return st;
  if ((st = check_json(what, "options", d->options, err))) return st;
  return TSR_OK;
}

tsr_status tsr_store_dataset_add(tsr_store *s, const tsr_dataset *d,
                                 int64_t *id, tsr_error *err) {
  CHECK_STORE(s, "insert dataset");
  if (!d) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "insert dataset: dataset is NULL");
  tsr_status st = check_dataset("insert dataset", d, err);
  if (st) return st;
  tsr_dataset c = *d;
  if (!c.created_at) c.created_at = tsr_store_now_ms();
  int64_t nid = 0;
  st = tsr__sql_dataset_add(s->db, &c, &nid, err);
  if (st == TSR_OK && id) *id = nid;
  return st;
}

tsr_status tsr_store_dataset_update(tsr_store *s, const tsr_dataset *d,
                                    tsr_error *err) {
  CHECK_STORE(s, "update dataset");
  if (!d) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "update dataset: dataset is NULL");
  tsr_status st = need_id("update dataset", d->id, err);
  if (st) return st;
  if ((st = check_json("update dataset", "options", d->options, err))) return st;
  st = tsr__sql_dataset_update(s->db, d, err);
  return not_found(st, err, "dataset %lld", (long long)d->id);
}

tsr_status tsr_store_rejects_add(tsr_store *s, int64_t dataset_id,
                                 const tsr_reject_row *rows, size_t n,
                                 tsr_error *err) {
  CHECK_STORE(s, "insert rejects");
  tsr_status st = need_id("insert rejects", dataset_id, err);
  if (st) return st;
  if (n == 0) return TSR_OK;
  if (!rows) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "insert rejects: rows is NULL");
  for (size_t i = 0; i < n; i++)
    if (!rows[i].reason)
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "reason",
                           "insert rejects: row %zu: required", i);
  return tsr__sql_rejects_add(s->db, dataset_id, rows, n, err);
}

tsr_status tsr_store_dataset_delete(tsr_store *s, int64_t id, tsr_error *err) {
  CHECK_STORE(s, "delete dataset");
  tsr_status st = need_id("delete dataset", id, err);
  if (st) return st;
  st = tsr__sql_dataset_delete(s->db, id, err);
  return not_found(st, err, "dataset %lld", (long long)id);
}

tsr_status tsr_store_dataset_get(tsr_store *s, int64_t id, tsr_dataset **out,
                                 tsr_error *err) {
  CHECK_STORE(s, "get dataset");
  if (!out) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "get dataset: out is NULL");
  *out = NULL;
  pack_ctx pc = {NULL, 0};
  tsr_status st = tsr__sql_dataset_get(s->db, id, NULL, pack_dataset, &pc, err);
  st = pack_done(st, &pc, (void **)out, err);
  return not_found(st, err, "dataset %lld", (long long)id);
}

tsr_status tsr_store_dataset_find(tsr_store *s, const char *checksum,
                                  tsr_dataset **out, tsr_error *err) {
  CHECK_STORE(s, "find dataset");
  if (!out || !checksum)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "find dataset: NULL argument");
  *out = NULL;
  pack_ctx pc = {NULL, 0};
  tsr_status st = tsr__sql_dataset_get(s->db, 0, checksum, pack_dataset, &pc, err);
  st = pack_done(st, &pc, (void **)out, err);
  return not_found(st, err, "dataset with checksum '%.80s'", checksum);
}

static tsr_status check_page(const char *what, int64_t limit, int64_t offset,
                             int have_cb, tsr_error *err) {
  if (!have_cb) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "%s: callback is NULL", what);
  if (limit < 0 || offset < 0)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "%s: limit and offset must be >= 0, got %lld and %lld",
                         what, (long long)limit, (long long)offset);
  return TSR_OK;
}

tsr_status tsr_store_datasets_list(tsr_store *s, int64_t limit, int64_t offset,
                                   tsr_store_dataset_cb cb, void *ctx,
                                   tsr_error *err) {
  CHECK_STORE(s, "list datasets");
  tsr_status st = check_page("list datasets", limit, offset, cb != NULL, err);
  if (st) return st;
  return tsr__sql_datasets_list(s->db, limit, offset, cb, ctx, err);
}

tsr_status tsr_store_rejects_list(tsr_store *s, int64_t dataset_id,
                                  int64_t limit, int64_t offset,
                                  tsr_store_reject_cb cb, void *ctx,
                                  tsr_error *err) {
  CHECK_STORE(s, "list rejects");
  tsr_status st = check_page("list rejects", limit, offset, cb != NULL, err);
  if (st) return st;
  return tsr__sql_rejects_list(s->db, dataset_id, limit, offset, cb, ctx, err);
}

/* ================================================================ runs */

tsr_status tsr_store_run_begin(tsr_store *s, const tsr_run *r, int64_t *id,
                               tsr_error *err) {
  CHECK_STORE(s, "insert run");
  if (!r) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "insert run: run is NULL");
  tsr_status st;
  if ((st = need_str("insert run", "command", r->command, err))) return st;
  if ((st = check_json("insert run", "params", r->params, err))) return st;
  if ((st = check_json("insert run", "timings", r->timings, err))) return st;
  if ((st = check_json("insert run", "summary", r->summary, err))) return st;
  if (r->dataset_id < 0)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "dataset_id",
                         "insert run: expected 0 (none) or an id, got %lld",
                         (long long)r->dataset_id);
  tsr_run c = *r;
  c.status = TSR_RUN_RUNNING;
  if (!c.created_at) c.created_at = tsr_store_now_ms();
  if (!c.started_at) c.started_at = c.created_at;
  c.finished_at = 0;
  int64_t nid = 0;
  /* the run and its owner in one transaction: a run is never left running
   * without a process to check (tsr__store_reap_runs) */
  int own_tx = !s->db->m->in_transaction(s->db);
  if (own_tx && (st = s->db->m->begin(s->db, err)) != TSR_OK) return st;
  st = tsr__sql_run_add(s->db, &c, &nid, err);
  if (st == TSR_OK) {
    char owner[400];
    tsr__run_owner_self(owner, sizeof owner);
    st = tsr__sql_run_owner_set(s->db, nid, owner, err);
  }
  if (own_tx) {
    if (st == TSR_OK) st = s->db->m->commit(s->db, err);
    else s->db->m->rollback(s->db, NULL);
  }
  if (st == TSR_OK && id) *id = nid;
  return st;
}

tsr_status tsr_store_run_set(tsr_store *s, int64_t id, const char *params,
                             const char *output_dir, tsr_error *err) {
  CHECK_STORE(s, "update run");
  tsr_status st = need_id("update run", id, err);
  if (st) return st;
  if ((st = check_json("update run", "params", params, err))) return st;
  st = tsr__sql_run_set(s->db, id, params, output_dir, err);
  return not_found(st, err, "run %lld", (long long)id);
}

tsr_status tsr_store_run_finish(tsr_store *s, int64_t id, tsr_run_status status,
                                const char *timings, const char *summary,
                                const char *error, tsr_error *err) {
  CHECK_STORE(s, "finish run");
  tsr_status st = need_id("finish run", id, err);
  if (st) return st;
  if (status == TSR_RUN_RUNNING || (unsigned)status >= TSR__ARRAY_LEN(run_status_names))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "status",
                         "finish run: expected done, failed, interrupted or "
                         "canceled, got %d", (int)status);
  if ((st = check_json("finish run", "timings", timings, err))) return st;
  if ((st = check_json("finish run", "summary", summary, err))) return st;
  st = tsr__sql_run_finish(s->db, id, status, tsr_store_now_ms(), timings,
                        summary, error, err);
  return not_found(st, err, "run %lld", (long long)id);
}

tsr_status tsr_store_runs_interrupt(tsr_store *s, int64_t *n, tsr_error *err) {
  CHECK_STORE(s, "interrupt runs");
  int64_t k = 0;
  tsr_status st = tsr__sql_runs_interrupt(s->db, tsr_store_now_ms(), &k, err);
  if (st == TSR_OK && n) *n = k;
  return st;
}

tsr_status tsr_store_run_delete(tsr_store *s, int64_t id, tsr_error *err) {
  CHECK_STORE(s, "delete run");
  tsr_status st = need_id("delete run", id, err);
  if (st) return st;
  st = tsr__sql_run_delete(s->db, id, err);
  return not_found(st, err, "run %lld", (long long)id);
}

tsr_status tsr_store_run_get(tsr_store *s, int64_t id, tsr_run **out,
                             tsr_error *err) {
  CHECK_STORE(s, "get run");
  if (!out) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "get run: out is NULL");
  *out = NULL;
  pack_ctx pc = {NULL, 0};
  tsr_status st = tsr__sql_run_get(s->db, id, pack_run, &pc, err);
  st = pack_done(st, &pc, (void **)out, err);
  return not_found(st, err, "run %lld", (long long)id);
}

tsr_status tsr_store_runs_list(tsr_store *s, int64_t limit, int64_t offset,
                               tsr_store_run_cb cb, void *ctx, tsr_error *err) {
  CHECK_STORE(s, "list runs");
  tsr_status st = check_page("list runs", limit, offset, cb != NULL, err);
  if (st) return st;
  return tsr__sql_runs_list(s->db, limit, offset, cb, ctx, err);
}

/* ================================================================ events */

tsr_status tsr_store_event_add(tsr_store *s, const tsr_event *e, int64_t *id,
                               tsr_error *err) {
  CHECK_STORE(s, "insert event");
  if (!e) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "insert event: event is NULL");
  tsr_status st;
  if ((st = need_str("insert event", "step", e->step, err))) return st;
  if ((st = need_str("insert event", "message", e->message, err))) return st;
  if ((unsigned)e->level >= TSR__ARRAY_LEN(level_names))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "level",
                         "insert event: expected info, warn or error, got %d", (int)e->level);
  tsr_event c = *e;
  if (!c.ts) c.ts = tsr_store_now_ms();
  int64_t nid = 0;
  st = tsr__sql_event_add(s->db, &c, &nid, err);
  if (st == TSR_OK && id) *id = nid;
  return st;
}

tsr_status tsr_store_events_list(tsr_store *s, int64_t run_id,
                                 tsr_log_level min_level,
                                 tsr_store_event_cb cb, void *ctx,
                                 tsr_error *err) {
  CHECK_STORE(s, "list events");
  tsr_status st = check_page("list events", 0, 0, cb != NULL, err);
  if (st) return st;
  return tsr__sql_events_list(s->db, run_id, min_level, cb, ctx, err);
}

/* ================================================================ customers */

void tsr_customer_init(tsr_customer *c) {
  memset(c, 0, sizeof *c);
  c->cluster = -1;
  c->expected_purchases = NAN;
  c->p_alive = NAN;
  c->clv = NAN;
  c->clv_lo = NAN;
  c->clv_hi = NAN;
}

void tsr_customer_query_init(tsr_customer_query *q, int64_t run_id) {
  memset(q, 0, sizeof *q);
  q->run_id = run_id;
  q->cluster = -1;
  q->sort = TSR_CUSTOMER_SORT_ID;
}

tsr_status tsr_store_customers_add(tsr_store *s, int64_t run_id,
                                   const tsr_customer *rows, size_t n,
                                   tsr_error *err) {
  return tsr__store_customers_add_lens(s, run_id, rows, NULL, n, err);
}

/* The checks of tsr_store_customers_add after the handle's. */
static tsr_status customers_check(int64_t run_id, const tsr_customer *rows, size_t n,
                                  tsr_error *err) {
  tsr_status st = need_id("insert customers", run_id, err);
  if (st) return st;
  if (n == 0) return TSR_OK;
  if (!rows) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "insert customers: rows is NULL");
  for (size_t i = 0; i < n; i++) {
    const tsr_customer *c = &rows[i];
    if (!c->customer_id)
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "customer_id",
                           "insert customers: row %zu: required", i);
    if (c->r_score < 0 || c->r_score > 5 || c->f_score < 0 || c->f_score > 5 ||
        c->m_score < 0 || c->m_score > 5)
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "score",
                           "insert customers: customer '%.80s': scores must be "
                           "in 1..5 (0 = none), got %d/%d/%d",
                           c->customer_id, c->r_score, c->f_score, c->m_score);
    if (c->extra) {
      st = check_json("insert customers", "extra", c->extra, err);
      if (st) return st;
    }
  }
  return TSR_OK;
}

tsr_status tsr__store_customers_add_lens(tsr_store *s, int64_t run_id, const tsr_customer *rows,
                                         const tsr__customer_lens *lens, size_t n, tsr_error *err) {
  CHECK_STORE(s, "insert customers");
  tsr_status st = customers_check(run_id, rows, n, err);
  if (st || n == 0) return st;
  return tsr__sql_customers_add(s->db, run_id, rows, lens, n, err);
}

tsr_status tsr__store_customers_prep(tsr__cust_ready *r, int64_t run_id, const tsr_customer *rows,
                                     const tsr__customer_lens *lens, size_t n, tsr_error *err) {
  r->run_id = run_id;
  r->n = 0;
  tsr_status st = customers_check(run_id, rows, n, err);
  if (st || n == 0) return st;
  return tsr__sql_customers_prep(r, run_id, rows, lens, n, err);
}

tsr_status tsr__store_customers_add_ready(tsr_store *s, const tsr__cust_ready *r, tsr_error *err) {
  CHECK_STORE(s, "insert customers");
  if (r->n == 0) return TSR_OK;
  return tsr__sql_customers_add_ready(s->db, r, err);
}

static tsr_status check_query(const char *what, const tsr_customer_query *q,
                              tsr_error *err) {
  if (!q) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "%s: query is NULL", what);
  if ((unsigned)q->sort > (unsigned)TSR_CUSTOMER_SORT_CLV)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "sort", "%s: unknown sort key %d", what, (int)q->sort);
  if (q->limit < 0 || q->offset < 0)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "%s: limit and offset must be >= 0", what);
  return TSR_OK;
}

tsr_status tsr_store_customers_list(tsr_store *s, const tsr_customer_query *q,
                                    tsr_store_customer_cb cb, void *ctx,
                                    tsr_error *err) {
  CHECK_STORE(s, "list customers");
  tsr_status st = check_query("list customers", q, err);
  if (st) return st;
  if ((st = check_page("list customers", 0, 0, cb != NULL, err))) return st;
  return tsr__sql_customers_list(s->db, q, cb, ctx, err);
}

tsr_status tsr_store_customers_count(tsr_store *s, const tsr_customer_query *q,
                                     int64_t *n, tsr_error *err) {
  CHECK_STORE(s, "count customers");
  tsr_status st = check_query("count customers", q, err);
  if (st) return st;
  int64_t k = 0;
  st = tsr__sql_customers_count(s->db, q, &k, err);
  if (st == TSR_OK && n) *n = k;
  return st;
}

tsr_status tsr_store_customer_get(tsr_store *s, int64_t run_id,
                                  const char *customer_id, tsr_customer **out,
                                  tsr_error *err) {
  CHECK_STORE(s, "get customer");
  if (!out || !customer_id)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "get customer: NULL argument");
  *out = NULL;
  pack_ctx pc = {NULL, 0};
  tsr_status st = tsr__sql_customer_get(s->db, run_id, customer_id, pack_customer, &pc, err);
  st = pack_done(st, &pc, (void **)out, err);
  return not_found(st, err, "run %lld: customer '%.80s'", (long long)run_id, customer_id);
}

/* ================================================================ segments */

tsr_status tsr_store_segments_add(tsr_store *s, int64_t run_id,
                                  const tsr_segment_row *rows, size_t n,
                                  tsr_error *err) {
  CHECK_STORE(s, "insert segments");
  tsr_status st = need_id("insert segments", run_id, err);
  if (st) return st;
  if (n == 0) return TSR_OK;
  if (!rows) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "insert segments: rows is NULL");
  for (size_t i = 0; i < n; i++) {
    if (!rows[i].scheme || !rows[i].segment)
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, rows[i].scheme ? "segment" : "scheme",
                           "insert segments: row %zu: required", i);
  }
  return tsr__sql_segments_add(s->db, run_id, rows, n, err);
}

tsr_status tsr_store_segments_list(tsr_store *s, int64_t run_id,
                                   const char *scheme, tsr_store_segment_cb cb,
                                   void *ctx, tsr_error *err) {
  CHECK_STORE(s, "list segments");
  tsr_status st = check_page("list segments", 0, 0, cb != NULL, err);
  if (st) return st;
  return tsr__sql_segments_list(s->db, run_id, scheme, cb, ctx, err);
}

/* ================================================================ models */

tsr_status tsr_store_model_add(tsr_store *s, const tsr_model *m, int64_t *id,
                               int64_t *version, tsr_error *err) {
  CHECK_STORE(s, "insert model");
  if (!m) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "insert model: model is NULL");
  tsr_status st;
  if ((st = need_str("insert model", "kind", m->kind, err))) return st;
  if ((st = check_json("insert model", "params", m->params, err))) return st;
  if ((st = check_json("insert model", "fit_stats", m->fit_stats, err))) return st;
  if (m->version < 0 || m->run_id < 0)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "insert model: version and run_id must be >= 0");
  tsr_model c = *m;
  if (!c.created_at) c.created_at = tsr_store_now_ms();
  c.promoted = c.promoted ? 1 : 0;
  int64_t nid = 0, nver = 0;
  st = tsr__sql_model_add(s->db, &c, &nid, &nver, err);
  if (st == TSR_OK) {
    if (id) *id = nid;
    if (version) *version = nver;
  }
  return st;
}

tsr_status tsr_store_model_set_stats(tsr_store *s, int64_t id, const char *fit_stats,
                                     tsr_error *err) {
  CHECK_STORE(s, "update model");
  tsr_status st = need_id("update model", id, err);
  if (st) return st;
  if ((st = check_json("update model", "fit_stats", fit_stats, err))) return st;
  st = tsr__sql_model_set_stats(s->db, id, fit_stats, err);
  return not_found(st, err, "model %lld", (long long)id);
}

tsr_status tsr_store_model_promote(tsr_store *s, int64_t id, tsr_error *err) {
  CHECK_STORE(s, "promote model");
  tsr_status st = need_id("promote model", id, err);
  if (st) return st;
  st = tsr__sql_model_promote(s->db, id, err);
  return not_found(st, err, "model %lld", (long long)id);
}

tsr_status tsr_store_model_get(tsr_store *s, int64_t id, tsr_model **out,
                               tsr_error *err) {
  CHECK_STORE(s, "get model");
  if (!out) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "get model: out is NULL");
  *out = NULL;
  pack_ctx pc = {NULL, 0};
  tsr_status st = tsr__sql_model_get(s->db, id, NULL, pack_model, &pc, err);
  st = pack_done(st, &pc, (void **)out, err);
  return not_found(st, err, "model %lld", (long long)id);
}

tsr_status tsr_store_model_promoted(tsr_store *s, const char *kind,
                                    tsr_model **out, tsr_error *err) {
  CHECK_STORE(s, "get model");
  if (!out || !kind) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "get model: NULL argument");
  *out = NULL;
  pack_ctx pc = {NULL, 0};
  tsr_status st = tsr__sql_model_get(s->db, 0, kind, pack_model, &pc, err);
  st = pack_done(st, &pc, (void **)out, err);
  return not_found(st, err, "promoted %.40s model", kind);
}

tsr_status tsr_store_models_list(tsr_store *s, int64_t run_id, const char *kind,
                                 tsr_store_model_cb cb, void *ctx,
                                 tsr_error *err) {
  CHECK_STORE(s, "list models");
  tsr_status st = check_page("list models", 0, 0, cb != NULL, err);
  if (st) return st;
  return tsr__sql_models_list(s->db, run_id, kind, cb, ctx, err);
}

const tsr__store_count tsr__store_counts[] = {
    {"SELECT count(*) FROM datasets", offsetof(tsr_store_stats, datasets)},
    {"SELECT count(*) FROM runs", offsetof(tsr_store_stats, runs)},
    {"SELECT count(*) FROM customers", offsetof(tsr_store_stats, customers)},
    {"SELECT count(*) FROM segments", offsetof(tsr_store_stats, segments)},
    {"SELECT count(*) FROM models", offsetof(tsr_store_stats, models)},
    {"SELECT count(*) FROM events", offsetof(tsr_store_stats, events)},
    {"SELECT count(*) FROM rejects", offsetof(tsr_store_stats, rejects)},
};
const size_t tsr__store_ncounts = TSR__ARRAY_LEN(tsr__store_counts);
