/*
 * sql_store.c - the per-entity work of the store (datasets, rejects, runs,
 * events, customers, segments, models) once for every back end: SQL common
 * to SQLite and PostgreSQL, column lists, binds and row mapping from
 * store/schema.def, run through the back end's primitives
 * (store/store_int.h). Arguments were checked and defaulted by store.c.
 * Errors: TSR_ESTORE "store: <what>: <driver message>"; TSR_ENOTFOUND
 * without a message where store.c words it.
 */
#include "store_int.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ helpers */

tsr_status tsr__wr_begin(tsr__db *db, int *outer, const char *what, tsr_error *err) {
  *outer = db->m->in_transaction(db);
  return db->m->script(db, *outer ? "SAVEPOINT tsr_write" : db->m->begin_write, what, err);
}

tsr_status tsr__wr_end(tsr__db *db, int outer, tsr_status st, const char *what, tsr_error *err) {
  if (st == TSR_OK) {
    st = db->m->script(db, outer ? "RELEASE tsr_write" : "COMMIT", what, err);
    if (st == TSR_OK) return TSR_OK;
  }
  /* keep the first error message: roll back with a scratch error */
  tsr_error scratch;
  if (outer) {
    db->m->script(db, "ROLLBACK TO tsr_write", what, &scratch);
    db->m->script(db, "RELEASE tsr_write", what, &scratch);
  } else if (db->m->in_transaction(db)) {
    db->m->script(db, "ROLLBACK", what, &scratch);
  }
  return st;
}

tsr_status tsr__write(tsr__db *db, const char *sql, const tsr__val *p, int np, tsr__exec_out *out,
                      const char *what, tsr_error *err) {
  tsr__exec_out local;
  if (!out) out = &local;
  memset(out, 0, sizeof *out);
  if (!db->m->stmt_savepoint || !db->m->in_transaction(db))
    return db->m->exec(db, sql, p, np, out, what, err);
  /* a failure must not abort the caller's transaction */
  tsr_status st = db->m->script(db, "SAVEPOINT tsr_write", what, err);
  if (st) return st;
  st = db->m->exec(db, sql, p, np, out, what, err);
  tsr_error scratch;
  if (st != TSR_OK) db->m->script(db, "ROLLBACK TO tsr_write", what, &scratch);
  tsr_status st2 = db->m->script(db, "RELEASE tsr_write", what, st ? &scratch : err);
  return st ? st : st2;
}

tsr_status tsr__one_i64(tsr__db *db, const char *sql, const tsr__val *p, int np, int64_t *out,
                        const char *what, tsr_error *err) {
  tsr__exec_out r;
  memset(&r, 0, sizeof r);
  tsr_status st = db->m->exec(db, sql, p, np, &r, what, err);
  if (st == TSR_OK && !r.have_id) return TSR_ENOTFOUND;
  if (st == TSR_OK) *out = r.id;
  return st;
}

/* FNV-1a of the length, the first and the last 128 bytes (long multi-row
 * INSERTs differ in length or at their ends; equal hashes are compared in
 * full by the caller). */
uint64_t tsr__sql_hash(const char *s) {
  size_t n = strlen(s);
  uint64_t h = 1469598103934665603ULL ^ n;
  for (size_t i = 0; i < n; i++) {
    h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    if (i == 127 && n > 256) i = n - 129;
  }
  return h;
}

int64_t tsr__cur_i64(const tsr__cur *c, int col, int64_t if_null) {
  return c->m->isnull(c, col) ? if_null : c->m->get_i64(c, col);
}
double tsr__cur_dbl(const tsr__cur *c, int col) {
  return c->m->isnull(c, col) ? NAN : c->m->get_dbl(c, col);
}
const char *tsr__cur_text(const tsr__cur *c, int col) {
  return c->m->isnull(c, col) ? NULL : c->m->get_text(c, col);
}

/* A query whose rows map onto table t's struct and go to cb. */
typedef int (*any_cb)(void *ctx, const void *row);
typedef struct map_ctx {
  const tsr__table *t;
  any_cb cb;
  void *ctx;
} map_ctx;

static int map_row(void *ctx, const tsr__cur *c) {
  map_ctx *m = ctx;
  union {
    max_align_t align;
    char bytes[2048];
  } row;
  memset(&row, 0, m->t->size);
  tsr__row_read(m->t, c, 0, &row);
  return m->cb(m->ctx, &row);
}

tsr_status tsr__select(tsr__db *db, const tsr__table *t, const char *prefix, const char *rest,
                       const tsr__val *p, int np, void *cb, void *ctx, int64_t *found,
                       const char *what, tsr_error *err) {
  char cols[1024], sql[2048];
  const char *list = *prefix ? tsr__select_cols(t, prefix, cols, sizeof cols) : t->select;
  if (t->size > 2048 || snprintf(sql, sizeof sql, "SELECT %s %s", list, rest) >= (int)sizeof sql)
    return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: query too long", what);
  map_ctx m = {t, (any_cb)cb, ctx};
  return db->m->query(db, sql, p, np, map_row, &m, found, what, err);
}

/* Like tsr__select, TSR_ENOTFOUND when no row came. */
static tsr_status select_one(tsr__db *db, const tsr__table *t, const char *prefix,
                             const char *rest, const tsr__val *p, int np, void *cb, void *ctx,
                             const char *what, tsr_error *err) {
  int64_t n = 0;
  tsr_status st = tsr__select(db, t, prefix, rest, p, np, cb, ctx, &n, what, err);
  return st == TSR_OK && n == 0 ? TSR_ENOTFOUND : st;
}

/* " LIMIT ? OFFSET ?" with its values appended to p at *np. */
static const char *page(tsr__db *db, int64_t limit, int64_t offset, tsr__val *p, int *np,
                        char *buf, size_t cap) {
  if (limit > 0) {
    p[(*np)++] = TSR__VI(limit);
    snprintf(buf, cap, " LIMIT ? OFFSET ?");
  } else {
    snprintf(buf, cap, " %s OFFSET ?", db->m->no_limit);
  }
  p[(*np)++] = TSR__VI(offset);
  return buf;
}

/* An UPDATE/DELETE of one row: TSR_ENOTFOUND when none changed. */
static tsr_status change_one(tsr__db *db, const char *sql, const tsr__val *p, int np,
                             const char *what, tsr_error *err) {
  tsr__exec_out o;
  tsr_status st = tsr__write(db, sql, p, np, &o, what, err);
  return st == TSR_OK && o.changed == 0 ? TSR_ENOTFOUND : st;
}

/* TSR_ENOTFOUND "<kind> N: not found" unless the row exists. */
static tsr_status need_row(tsr__db *db, const char *sql, const char *kind, int64_t id,
                           const char *what, tsr_error *err) {
  tsr__val p = TSR__VI(id);
  int64_t one = 0;
  tsr_status st = tsr__one_i64(db, sql, &p, 1, &one, what, err);
  if (st == TSR_ENOTFOUND)
    return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "%s %lld: not found", kind,
                         (long long)id);
  return st;
}

/* Inserts row into t (*id from RETURNING id); a foreign key violation is
 * TSR_ENOTFOUND "<parent> N: not found". */
static tsr_status insert_child(tsr__db *db, const tsr__table *t, const void *row,
                               const char *parent, int64_t parent_id, int64_t *id,
                               const char *what, tsr_error *err) {
  tsr__exec_out o;
  tsr_status st = tsr__insert(db, t, NULL, 0, row, 1, &o, what, err);
  if (st == TSR_OK)
    *id = o.id;
  else if (o.violation == TSR__VIOL_FK)
    st = tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "%s %lld: not found", parent,
                       (long long)parent_id);
  return st;
}

static tsr_status need_run(tsr__db *db, int64_t id, const char *what, tsr_error *err) {
  return need_row(db, "SELECT 1 FROM runs WHERE id = ?", "run", id, what, err);
}

tsr_status tsr__not_found(tsr_status st, tsr_error *err, const char *fmt, ...) {
  if (st != TSR_ENOTFOUND) return st;
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "%s: not found", what);
}

/* ================================================================ stats */

tsr_status tsr__sql_stats(tsr__db *db, tsr_store_stats *out, tsr_error *err) {
  tsr_status st = tsr__schema_version(db, &out->schema_version, err);
  if (st == TSR_OK) st = db->m->size(db, out, err);
  if (st || out->schema_version < 1) return st;
  for (size_t i = 0; i < tsr__store_ncounts; i++) {
    int64_t v = 0;
    st = tsr__one_i64(db, tsr__store_counts[i].sql, NULL, 0, &v, "stats", err);
    if (st) return st;
    memcpy((char *)out + tsr__store_counts[i].off, &v, sizeof v);
  }
  return TSR_OK;
}

/* ================================================================ datasets */

tsr_status tsr__sql_dataset_add(tsr__db *db, const tsr_dataset *d, int64_t *id, tsr_error *err) {
  tsr__exec_out o;
  tsr_status st = tsr__insert(db, TSR__TABLE(datasets), NULL, 0, d, 1, &o, "insert dataset", err);
  if (st == TSR_OK) *id = o.id;
  return st;
}

tsr_status tsr__sql_dataset_update(tsr__db *db, const tsr_dataset *d, tsr_error *err) {
  tsr__val p[] = {TSR__VI(d->bytes),         TSR__VI(d->rows_read),  TSR__VI(d->rows_accepted),
                  TSR__VI(d->rows_rejected), TSR__VI(d->duplicates), TSR__VI(d->refunds),
                  TSR__VT(d->options),       TSR__VT(d->stored_path), TSR__VI(d->id)};
  return change_one(db,
                    "UPDATE datasets SET bytes = ?, rows_read = ?, rows_accepted = ?,"
                    " rows_rejected = ?, duplicates = ?, refunds = ?,"
                    " options = coalesce(?, options), stored_path = coalesce(?, stored_path)"
                    " WHERE id = ?",
                    p, 9, "update dataset", err);
}

tsr_status tsr__sql_rejects_add(tsr__db *db, int64_t dataset_id, const tsr_reject_row *rows,
                                size_t n, tsr_error *err) {
  const char *what = "insert rejects";
  int outer;
  tsr_status st = tsr__wr_begin(db, &outer, what, err);
  if (st) return st;
  st = need_row(db, "SELECT 1 FROM datasets WHERE id = ?", "dataset", dataset_id, what, err);
  for (size_t i = 0; st == TSR_OK && i < n; i++) {
    tsr_reject_row r = rows[i];
    r.dataset_id = dataset_id;
    st = tsr__insert(db, TSR__TABLE(rejects), NULL, 0, &r, 0, NULL, what, err);
  }
  return tsr__wr_end(db, outer, st, what, err);
}

tsr_status tsr__sql_dataset_get(tsr__db *db, int64_t id, const char *checksum,
                                tsr_store_dataset_cb cb, void *ctx, tsr_error *err) {
  tsr__val p = checksum ? TSR__VT(checksum) : TSR__VI(id);
  return select_one(db, TSR__TABLE(datasets), "",
                    checksum ? "FROM datasets WHERE checksum = ? ORDER BY id DESC LIMIT 1"
                             : "FROM datasets WHERE id = ?",
                    &p, 1, (void *)cb, ctx, "get dataset", err);
}

tsr_status tsr__sql_datasets_list(tsr__db *db, int64_t limit, int64_t offset,
                                  tsr_store_dataset_cb cb, void *ctx, tsr_error *err) {
  tsr__val p[2];
  int np = 0;
  char pg[64], rest[160];
  snprintf(rest, sizeof rest, "FROM datasets ORDER BY created_at DESC, id DESC%s",
           page(db, limit, offset, p, &np, pg, sizeof pg));
  return tsr__select(db, TSR__TABLE(datasets), "", rest, p, np, (void *)cb, ctx, NULL,
                     "list datasets", err);
}

tsr_status tsr__sql_rejects_list(tsr__db *db, int64_t dataset_id, int64_t limit, int64_t offset,
                                 tsr_store_reject_cb cb, void *ctx, tsr_error *err) {
  tsr__val p[3] = {TSR__VI(dataset_id)};
  int np = 1;
  char pg[64], rest[160];
  snprintf(rest, sizeof rest, "FROM rejects WHERE dataset_id = ? ORDER BY line, %s%s", db->m->rowid,
           page(db, limit, offset, p, &np, pg, sizeof pg));
  return tsr__select(db, TSR__TABLE(rejects), "", rest, p, np, (void *)cb, ctx, NULL,
                     "list rejects", err);
}

tsr_status tsr__sql_dataset_delete(tsr__db *db, int64_t id, tsr_error *err) {
  tsr__val p = TSR__VI(id);
  return change_one(db, "DELETE FROM datasets WHERE id = ?", &p, 1, "delete dataset", err);
}

/* ================================================================ runs */

tsr_status tsr__sql_run_add(tsr__db *db, const tsr_run *r, int64_t *id, tsr_error *err) {
  return insert_child(db, TSR__TABLE(runs), r, "dataset", r->dataset_id, id, "insert run", err);
}

tsr_status tsr__sql_run_set(tsr__db *db, int64_t id, const char *params, const char *output_dir,
                            tsr_error *err) {
  tsr__val p[] = {TSR__VT(params), TSR__VT(output_dir), TSR__VI(id)};
  return change_one(db,
                    "UPDATE runs SET params = coalesce(?, params),"
                    " output_dir = coalesce(?, output_dir) WHERE id = ?",
                    p, 3, "update run", err);
}

tsr_status tsr__sql_run_finish(tsr__db *db, int64_t id, tsr_run_status status,
                               int64_t finished_at, const char *timings, const char *summary,
                               const char *error, tsr_error *err) {
  tsr__val p[] = {TSR__VT(tsr_run_status_name(status)), TSR__VI(finished_at), TSR__VT(timings),
                  TSR__VT(summary), TSR__VT(error), TSR__VI(id)};
  /* the end of a run is durable (with it everything the run stored) */
  int sync = db->m->durable_on && !db->m->in_transaction(db);
  tsr_status st = sync ? db->m->script(db, db->m->durable_on, "finish run", err) : TSR_OK;
  if (st == TSR_OK)
    st = change_one(db,
                    "UPDATE runs SET status = ?, finished_at = ?,"
                    " timings = coalesce(?, timings), summary = coalesce(?, summary),"
                    " error = coalesce(?, error) WHERE id = ?",
                    p, 6, "finish run", err);
  if (sync) {
    tsr_error scratch;
    tsr_status s2 = db->m->script(db, db->m->durable_off, "finish run", st ? &scratch : err);
    if (st == TSR_OK) st = s2;
  }
  return st;
}

tsr_status tsr__sql_runs_interrupt(tsr__db *db, int64_t finished_at, int64_t *n, tsr_error *err) {
  tsr__val p = TSR__VI(finished_at);
  tsr__exec_out o;
  tsr_status st = tsr__write(db,
                             "UPDATE runs SET status = 'interrupted', finished_at = ?"
                             " WHERE status = 'running'",
                             &p, 1, &o, "interrupt runs", err);
  if (st == TSR_OK) *n = o.changed;
  return st;
}

#define RUN_FROM " FROM runs r LEFT JOIN datasets d ON d.id = r.dataset_id"

tsr_status tsr__sql_run_get(tsr__db *db, int64_t id, tsr_store_run_cb cb, void *ctx,
                            tsr_error *err) {
  tsr__val p = TSR__VI(id);
  return select_one(db, TSR__TABLE(runs), "r.", RUN_FROM " WHERE r.id = ?", &p, 1, (void *)cb,
                    ctx, "get run", err);
}

tsr_status tsr__sql_runs_list(tsr__db *db, int64_t limit, int64_t offset, tsr_store_run_cb cb,
                              void *ctx, tsr_error *err) {
  tsr__val p[2];
  int np = 0;
  char pg[64], rest[256];
  snprintf(rest, sizeof rest, RUN_FROM " ORDER BY r.created_at DESC, r.id DESC%s",
           page(db, limit, offset, p, &np, pg, sizeof pg));
  return tsr__select(db, TSR__TABLE(runs), "r.", rest, p, np, (void *)cb, ctx, NULL, "list runs",
                     err);
}

tsr_status tsr__sql_run_delete(tsr__db *db, int64_t id, tsr_error *err) {
  tsr__val p = TSR__VI(id);
  return change_one(db, "DELETE FROM runs WHERE id = ?", &p, 1, "delete run", err);
}

tsr_status tsr__sql_run_owner_set(tsr__db *db, int64_t id, const char *owner, tsr_error *err) {
  tsr__val p[] = {TSR__VT(owner), TSR__VI(id)};
  return tsr__write(db, "UPDATE runs SET owner = ? WHERE id = ?", p, 2, NULL, "set run owner", err);
}

typedef struct owned_ctx {
  int (*cb)(void *ctx, int64_t id, const char *owner);
  void *ctx;
} owned_ctx;

static int owned_row(void *ctx, const tsr__cur *c) {
  owned_ctx *o = ctx;
  return o->cb(o->ctx, tsr__cur_i64(c, 0, 0), tsr__cur_text(c, 1));
}

tsr_status tsr__sql_runs_owned_list(tsr__db *db,
                                    int (*cb)(void *ctx, int64_t id, const char *owner),
                                    void *ctx, tsr_error *err) {
  owned_ctx o = {cb, ctx};
  return db->m->query(db,
                      "SELECT id, owner FROM runs WHERE status = 'running' AND owner IS NOT NULL"
                      " ORDER BY id",
                      NULL, 0, owned_row, &o, NULL, "list run owners", err);
}

/* ================================================================ events */

tsr_status tsr__sql_event_add(tsr__db *db, const tsr_event *e, int64_t *id, tsr_error *err) {
  return insert_child(db, TSR__TABLE(events), e, "run", e->run_id, id, "insert event", err);
}

tsr_status tsr__sql_events_list(tsr__db *db, int64_t run_id, tsr_log_level min_level,
                                tsr_store_event_cb cb, void *ctx, tsr_error *err) {
  tsr__val p[2];
  int np = 0;
  if (run_id > 0) p[np++] = TSR__VI(run_id);
  p[np++] = TSR__VI((int64_t)min_level);
  char rest[256];
  snprintf(rest, sizeof rest,
           "FROM events WHERE %s(CASE level WHEN 'error' THEN 2 WHEN 'warn' THEN 1 ELSE 0 END)"
           " >= ? ORDER BY id",
           run_id > 0 ? "run_id = ? AND " : "");
  return tsr__select(db, TSR__TABLE(events), "", rest, p, np, (void *)cb, ctx, NULL,
                     "list events", err);
}

/* ================================================================ customers */

typedef struct sort_item {
  uint64_t key; /* 8 bytes of the id after the common prefix, big-endian */
  size_t idx;
} sort_item;

typedef struct id_ref {
  const char *id;
  size_t idx;
} id_ref;

static int cmp_id_ref(const void *a, const void *b) {
  return strcmp(((const id_ref *)a)->id, ((const id_ref *)b)->id);
}

#define ID_AT(base, stride, i) (*(const char *const *)((const char *)(base) + (i) * (stride)))

size_t *tsr__id_order(const void *ids, size_t stride, size_t n, int *oom) {
  *oom = 0;
  size_t i = 1;
  while (i < n && strcmp(ID_AT(ids, stride, i - 1), ID_AT(ids, stride, i)) < 0) i++;
  if (i >= n) return NULL;
  const char *first = ID_AT(ids, stride, 0);
  size_t d = strlen(first);
  for (i = 1; i < n && d > 0; i++) {
    const char *id = ID_AT(ids, stride, i);
    size_t k = 0;
    while (k < d && id[k] == first[k]) k++;
    d = k;
  }
  size_t *p = tsr__malloc(n * sizeof *p);
  sort_item *x = tsr__malloc(n * sizeof *x), *y = tsr__malloc(n * sizeof *y);
  if (!p || !x || !y) {
    tsr__free(p);
    tsr__free(x);
    tsr__free(y);
    *oom = 1;
    return NULL;
  }
  for (i = 0; i < n; i++) {
    const unsigned char *id = (const unsigned char *)ID_AT(ids, stride, i) + d;
    uint64_t k = 0;
    int b = 0;
    for (; b < 8 && id[b]; b++) k = (k << 8) | id[b];
    if (b < 8) k = b ? k << (8 * (8 - b)) : 0; /* no shift by 64 */
    x[i].key = k;
    x[i].idx = i;
  }
  for (int shift = 0; shift < 64; shift += 8) {
    size_t count[256] = {0};
    for (i = 0; i < n; i++) count[(x[i].key >> shift) & 0xff]++;
    if (count[(x[0].key >> shift) & 0xff] == n) continue; /* all agree */
    size_t pos = 0;
    for (int c = 0; c < 256; c++) {
      size_t t = count[c];
      count[c] = pos;
      pos += t;
    }
    for (i = 0; i < n; i++) y[count[(x[i].key >> shift) & 0xff]++] = x[i];
    sort_item *t = x;
    x = y;
    y = t;
  }
  for (i = 0; i < n; i++) p[i] = x[i].idx;
  tsr__free(y);
  /* order runs of equal keys by the whole id */
  for (i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && x[j].key == x[i].key) j++;
    if (j - i > 1) {
      id_ref *r = tsr__malloc((j - i) * sizeof *r);
      if (!r) {
        tsr__free(p);
        tsr__free(x);
        *oom = 1;
        return NULL;
      }
      for (size_t k = i; k < j; k++) r[k - i] = (id_ref){ID_AT(ids, stride, p[k]), p[k]};
      qsort(r, j - i, sizeof *r, cmp_id_ref);
      for (size_t k = i; k < j; k++) p[k] = r[k - i].idx;
      tsr__free(r);
    }
    i = j;
  }
  tsr__free(x);
  return p;
}

typedef struct cust_load {
  int64_t run_id;
  const tsr_customer *rows;
  const tsr__customer_lens *lens; /* may be NULL */
  const size_t *order;
  size_t n;
  int at_id, at_history, at_extra; /* their places among a row's values */
} cust_load;

#define CUST_ROW(l, i) (&(l)->rows[(l)->order ? (l)->order[i] : (i)])

static void customer_vals(void *ctx, size_t i, tsr__val *out) {
  const cust_load *l = ctx;
  if (l->order) { /* rows in key order are all over memory: fetch ahead */
    if (i + 16 < l->n) __builtin_prefetch(&l->rows[l->order[i + 16]]);
    if (i + 8 < l->n) {
      const tsr_customer *c = &l->rows[l->order[i + 8]];
      __builtin_prefetch(c->customer_id);
      if (c->rfm_cell) __builtin_prefetch(c->rfm_cell);
    }
  }
  tsr__val lead = TSR__VI(l->run_id);
  size_t k = l->order ? l->order[i] : i;
  const tsr_customer *c = &l->rows[k];
  tsr__row_vals(TSR__TABLE(customers), &lead, 1, c, out);
  if (!l->lens) return;
  /* the texts whose lengths the caller knows (no strlen in the load) */
  const tsr__customer_lens *n = &l->lens[k];
  out[l->at_id].n = n->id;
  out[l->at_history].n = n->history;
  out[l->at_extra].n = n->extra;
}

/* Where tsr__row_vals puts a customer's id, history and extra. */
static void customer_text_places(cust_load *l) {
  static const char id[] = "i", history[] = "h", extra[] = "x";
  tsr_customer probe;
  tsr_customer_init(&probe);
  probe.customer_id = id;
  probe.history = history;
  probe.extra = extra;
  tsr__val v[64];
  tsr__val lead = TSR__VI(l->run_id);
  int n = tsr__row_vals(TSR__TABLE(customers), &lead, 1, &probe, v);
  for (int j = 0; j < n; j++) {
    if (v[j].t != TSR__V_TEXT) continue;
    if (v[j].s == id) l->at_id = j;
    else if (v[j].s == history) l->at_history = j;
    else if (v[j].s == extra) l->at_extra = j;
  }
}

/* Words a unique violation: customer id is stored already. */
static tsr_status customers_dup(int64_t run_id, const char *id, const char *what, tsr_error *err) {
  return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, "customer_id",
                       "store: %s: run %lld: customer '%.80s' appears twice", what,
                       (long long)run_id, id);
}

tsr_status tsr__multi_ins_init(tsr__multi_ins *m, const tsr__table *t, int nlead, int nrows,
                               size_t cap, int max_cols, const char *what, tsr_error *err) {
  m->ncols = 0;
  m->one[0] = 0;
  m->multi = tsr__malloc(cap);
  m->v = tsr__malloc((size_t)nrows * (size_t)max_cols * sizeof *m->v);
  if (!m->multi || !m->v)
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "store: %s: out of memory", what);
  if (!tsr__insert_sql(t, nlead, nrows, NULL, m->multi, cap, &m->ncols) ||
      !tsr__insert_sql(t, nlead, 1, NULL, m->one, sizeof m->one, &m->ncols) || m->ncols > max_cols)
    return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: statement too long", what);
  return TSR_OK;
}

void tsr__multi_ins_free(tsr__multi_ins *m) {
  tsr__free(m->multi);
  tsr__free(m->v);
  m->multi = NULL;
  m->v = NULL;
}

/* The rows in key order (*order NULL: already), a repeated id named:
 * in key order it is a neighbour, named before the database would. */
static tsr_status cust_order(cust_load *l, size_t **order, const char *what, tsr_error *err) {
  int oom;
  *order = tsr__id_order(l->n ? (const void *)&l->rows[0].customer_id : NULL, sizeof *l->rows, l->n,
                         &oom);
  l->order = *order;
  if (oom) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "store: %s: out of memory", what);
  for (size_t i = 1; l->order && i < l->n; i++)
    if (!strcmp(CUST_ROW(l, i - 1)->customer_id, CUST_ROW(l, i)->customer_id))
      return customers_dup(l->run_id, CUST_ROW(l, i)->customer_id, what, err);
  return TSR_OK;
}

/* The id of the row a load produced i-th. */
typedef const char *(*cust_id_fn)(const void *ctx, size_t i);

static const char *load_row_id(const void *ctx, size_t i) {
  return CUST_ROW((const cust_load *)ctx, i)->customer_id;
}

/* Inserts n rows, produced in key order by vals, through the back end's
 * bulk load (COPY on PostgreSQL, one INSERT ... SELECT from the rows on
 * SQLite), and counts them in the run's row. */
static tsr_status cust_insert(tsr__db *db, int64_t run_id, size_t n, tsr__rowvals_fn vals,
                              void *ctx, cust_id_fn row_id, tsr_error *err) {
  const char *what = "insert customers";
  int outer;
  tsr_status st = tsr__wr_begin(db, &outer, what, err);
  if (st == TSR_OK) st = need_run(db, run_id, what, err);
  if (st == TSR_OK && n > 0) {
    char cols[1024];
    int ncols = 0;
    char ins[1200];
    tsr__insert_sql(TSR__TABLE(customers), 1, 0, NULL, ins, sizeof ins, &ncols);
    /* "INSERT INTO customers(a, b) VALUES " -> "a, b" */
    const char *a = strchr(ins, '('), *b = strchr(ins, ')');
    snprintf(cols, sizeof cols, "%.*s", (int)(b - a - 1), a + 1);
    tsr__exec_out o;
    memset(&o, 0, sizeof o);
    if (db->m->copy) {
      st = db->m->copy(db, "customers", cols, ncols, n, vals, ctx, &o, what, err);
    } else if (db->m->version >= 5 && db->m->load) {
      st = db->m->load(db, "customers", cols, ncols, n, vals, ctx, &o, what, err);
    } else {
      st = tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: no bulk load in back end %s",
                         what, db->m->name);
    }
    /* COPY names the key, the load the row */
    if (st && o.violation == TSR__VIOL_UNIQUE && o.key[0])
      st = customers_dup(run_id, o.key, what, err);
    else if (st && o.violation == TSR__VIOL_UNIQUE && o.have_row && o.row < n)
      st = customers_dup(run_id, row_id(ctx, o.row), what, err);
  }
  if (st == TSR_OK) {
    tsr__val p[] = {TSR__VI((int64_t)n), TSR__VI(run_id)};
    st = db->m->exec(db, "UPDATE runs SET n_customers = n_customers + ? WHERE id = ?", p, 2, NULL,
                     what, err);
  }
  return tsr__wr_end(db, outer, st, what, err);
}

tsr_status tsr__sql_customers_add(tsr__db *db, int64_t run_id, const tsr_customer *rows,
                                  const tsr__customer_lens *lens, size_t n, tsr_error *err) {
  size_t *order = NULL;
  cust_load l = {run_id, rows, lens, NULL, n, 0, 0, 0};
  tsr_status st = cust_order(&l, &order, "insert customers", err);
  if (st == TSR_OK && lens) customer_text_places(&l);
  if (st == TSR_OK) st = cust_insert(db, run_id, n, customer_vals, &l, load_row_id, err);
  tsr__free(order);
  return st;
}

tsr_status tsr__sql_customers_prep(tsr__cust_ready *r, int64_t run_id, const tsr_customer *rows,
                                   const tsr__customer_lens *lens, size_t n, tsr_error *err) {
  const char *what = "insert customers";
  size_t *order = NULL;
  cust_load l = {run_id, rows, lens, NULL, n, 0, 0, 0};
  r->run_id = run_id;
  r->n = 0;
  tsr_status st = cust_order(&l, &order, what, err);
  if (st == TSR_OK && lens) customer_text_places(&l);
  tsr__val v[64];
  int ncols =
      n ? tsr__row_vals(TSR__TABLE(customers), &(tsr__val){.t = TSR__V_I64}, 1, &rows[0], v) : 0;
  if (st == TSR_OK && n > r->cap) {
    tsr__val *vals = tsr__realloc(r->vals, n * (size_t)ncols * sizeof *vals);
    if (vals) r->vals = vals;
    const char **ids = vals ? tsr__realloc(r->ids, n * sizeof *ids) : NULL;
    if (ids) r->ids = ids;
    if (!vals || !ids)
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "store: %s: out of memory", what);
    else
      r->cap = n;
  }
  /* the values as the load would make them, row by row in key order */
  for (size_t i = 0; st == TSR_OK && i < n; i++) {
    customer_vals(&l, i, (tsr__val *)r->vals + i * (size_t)ncols);
    r->ids[i] = CUST_ROW(&l, i)->customer_id;
  }
  tsr__free(order);
  if (st == TSR_OK) {
    r->n = n;
    r->ncols = ncols;
  }
  return st;
}

/* tsr__rowvals_fn of a ready batch: its values copied. (A compact copy of
 * the values, 16 bytes instead of tsr__val's 40, cost more instructions
 * on both threads than the 4.5 MB it saved per batch.) */
static void ready_vals(void *ctx, size_t i, tsr__val *out) {
  const tsr__cust_ready *r = ctx;
  memcpy(out, (const tsr__val *)r->vals + i * (size_t)r->ncols, (size_t)r->ncols * sizeof *out);
}

static const char *ready_row_id(const void *ctx, size_t i) {
  return ((const tsr__cust_ready *)ctx)->ids[i];
}

tsr_status tsr__sql_customers_add_ready(tsr__db *db, const tsr__cust_ready *r, tsr_error *err) {
  return cust_insert(db, r->run_id, r->n, ready_vals, (void *)r, ready_row_id, err);
}

void tsr__cust_ready_free(tsr__cust_ready *r) {
  tsr__free(r->vals);
  tsr__free(r->ids);
  memset(r, 0, sizeof *r);
}

/* "WHERE ..." of q from constant fragments; values appended to p. */
static const char *customer_where(const tsr_customer_query *q, tsr__val *p, int *np, char *buf,
                                  size_t cap) {
  p[(*np)++] = TSR__VI(q->run_id);
  if (q->segment) p[(*np)++] = TSR__VT(q->segment);
  if (q->cluster >= 0) p[(*np)++] = TSR__VI(q->cluster);
  snprintf(buf, cap, " WHERE run_id = ?%s%s", q->segment ? " AND segment = ?" : "",
           q->cluster >= 0 ? " AND cluster = ?" : "");
  return buf;
}

tsr_status tsr__sql_customers_list(tsr__db *db, const tsr_customer_query *q,
                                   tsr_store_customer_cb cb, void *ctx, tsr_error *err) {
  static const char *const sort_cols[] = {
      [TSR_CUSTOMER_SORT_ID] = "customer_id",
      [TSR_CUSTOMER_SORT_FREQUENCY] = "frequency",
      [TSR_CUSTOMER_SORT_RECENCY] = "recency",
      [TSR_CUSTOMER_SORT_MONETARY] = "monetary_value",
      [TSR_CUSTOMER_SORT_REVENUE] = "revenue",
      [TSR_CUSTOMER_SORT_RFM] = "rfm_cell",
      [TSR_CUSTOMER_SORT_EXPECTED] = "expected_purchases",
      [TSR_CUSTOMER_SORT_P_ALIVE] = "p_alive",
      [TSR_CUSTOMER_SORT_CLV] = "clv",
  };
  tsr__val p[5];
  int np = 0;
  char where[128], pg[64], order[128], rest[512];
  customer_where(q, p, &np, where, sizeof where);
  const char *idir = q->descending ? "DESC" : "ASC";
  /* NULLs first ascending, last descending, on every back end */
  if (q->sort == TSR_CUSTOMER_SORT_ID)
    snprintf(order, sizeof order, "customer_id %s", idir);
  else
    snprintf(order, sizeof order, "%s %s, customer_id %s", sort_cols[q->sort],
             q->descending ? "DESC NULLS LAST" : "ASC NULLS FIRST", idir);
  snprintf(rest, sizeof rest, "FROM customers%s ORDER BY %s%s", where, order,
           page(db, q->limit, q->offset, p, &np, pg, sizeof pg));
  return tsr__select(db, TSR__TABLE(customers), "", rest, p, np, (void *)cb, ctx, NULL,
                     "list customers", err);
}

tsr_status tsr__sql_customers_count(tsr__db *db, const tsr_customer_query *q, int64_t *n,
                                    tsr_error *err) {
  tsr__val p[3];
  int np = 0;
  char where[128], sql[256];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM customers%s",
           customer_where(q, p, &np, where, sizeof where));
  *n = 0;
  tsr_status st = tsr__one_i64(db, sql, p, np, n, "count customers", err);
  return st == TSR_ENOTFOUND ? TSR_OK : st;
}

tsr_status tsr__sql_customer_get(tsr__db *db, int64_t run_id, const char *customer_id,
                                 tsr_store_customer_cb cb, void *ctx, tsr_error *err) {
  tsr__val p[] = {TSR__VI(run_id), TSR__VT(customer_id)};
  return select_one(db, TSR__TABLE(customers), "",
                    "FROM customers WHERE run_id = ? AND customer_id = ?", p, 2, (void *)cb, ctx,
                    "get customer", err);
}

/* ================================================================ segments */

tsr_status tsr__sql_segments_add(tsr__db *db, int64_t run_id, const tsr_segment_row *rows,
                                 size_t n, tsr_error *err) {
  const char *what = "insert segments";
  int outer;
  tsr_status st = tsr__wr_begin(db, &outer, what, err);
  if (st) return st;
  st = need_run(db, run_id, what, err);
  tsr__val lead = TSR__VI(run_id);
  for (size_t i = 0; st == TSR_OK && i < n; i++) {
    tsr__exec_out o;
    st = tsr__insert(db, TSR__TABLE(segments), &lead, 1, &rows[i], 0, &o, what, err);
    if (st && o.violation == TSR__VIOL_UNIQUE)
      st = tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, "segment",
                         "store: %s: run %lld: segment '%.80s' of scheme '%.80s' appears twice",
                         what, (long long)run_id, rows[i].segment, rows[i].scheme);
  }
  return tsr__wr_end(db, outer, st, what, err);
}

tsr_status tsr__sql_segments_list(tsr__db *db, int64_t run_id, const char *scheme,
                                  tsr_store_segment_cb cb, void *ctx, tsr_error *err) {
  tsr__val p[] = {TSR__VI(run_id), TSR__VT(scheme)};
  return tsr__select(db, TSR__TABLE(segments), "",
                     scheme ? "FROM segments WHERE run_id = ? AND scheme = ?"
                              " ORDER BY scheme, customers DESC, segment"
                            : "FROM segments WHERE run_id = ? ORDER BY scheme, customers DESC, segment",
                     p, scheme ? 2 : 1, (void *)cb, ctx, NULL, "list segments", err);
}

/* ================================================================ models */

/* Makes model id (of kind) the only promoted one of its kind. */
static tsr_status promote(tsr__db *db, int64_t id, const char *kind, const char *what,
                          tsr_error *err) {
  tsr__val k = TSR__VT(kind), i = TSR__VI(id);
  tsr_status st = db->m->exec(db, "UPDATE models SET promoted = 0 WHERE kind = ? AND promoted = 1",
                              &k, 1, NULL, what, err);
  if (st) return st;
  return db->m->exec(db, "UPDATE models SET promoted = 1 WHERE id = ?", &i, 1, NULL, what, err);
}

tsr_status tsr__sql_model_add(tsr__db *db, const tsr_model *m, int64_t *id, int64_t *version,
                              tsr_error *err) {
  const char *what = "insert model";
  int outer;
  tsr_status st = tsr__wr_begin(db, &outer, what, err);
  if (st) return st;
  if (m->run_id > 0) st = need_run(db, m->run_id, what, err);
  tsr_model c = *m;
  if (st == TSR_OK && c.version == 0) {
    tsr__val k = TSR__VT(m->kind);
    st = tsr__one_i64(db, "SELECT coalesce(max(version), 0) + 1 FROM models WHERE kind = ?", &k, 1,
                      &c.version, what, err);
  }
  tsr__exec_out o;
  memset(&o, 0, sizeof o);
  if (st == TSR_OK) {
    st = tsr__insert(db, TSR__TABLE(models), NULL, 0, &c, 1, &o, what, err);
    if (st && o.violation == TSR__VIOL_UNIQUE)
      st = tsr_error_set(err, TSR_EEXIST, NULL, 0, 0, "version",
                         "store: %s: %.40s version %lld already exists", what, m->kind,
                         (long long)c.version);
  }
  if (st == TSR_OK && m->promoted) st = promote(db, o.id, m->kind, what, err);
  st = tsr__wr_end(db, outer, st, what, err);
  if (st == TSR_OK) {
    *id = o.id;
    *version = c.version;
  }
  return st;
}

typedef struct kind_buf {
  char kind[256];
} kind_buf;

static int kind_row(void *ctx, const tsr__cur *c) {
  const char *k = tsr__cur_text(c, 0);
  snprintf(((kind_buf *)ctx)->kind, sizeof ((kind_buf *)ctx)->kind, "%s", k ? k : "");
  return 1;
}

tsr_status tsr__sql_model_promote(tsr__db *db, int64_t id, tsr_error *err) {
  const char *what = "promote model";
  int outer;
  tsr_status st = tsr__wr_begin(db, &outer, what, err);
  if (st) return st;
  tsr__val p = TSR__VI(id);
  kind_buf k = {""};
  int64_t n = 0;
  st = db->m->query(db, "SELECT kind FROM models WHERE id = ?", &p, 1, kind_row, &k, &n, what, err);
  if (st == TSR_OK && n == 0) st = TSR_ENOTFOUND;
  if (st == TSR_OK) st = promote(db, id, k.kind, what, err);
  return tsr__wr_end(db, outer, st, what, err);
}

tsr_status tsr__sql_model_set_stats(tsr__db *db, int64_t id, const char *fit_stats,
                                    tsr_error *err) {
  tsr__val p[] = {TSR__VT(fit_stats), TSR__VI(id)};
  return change_one(db, "UPDATE models SET fit_stats = ? WHERE id = ?", p, 2, "update model", err);
}

tsr_status tsr__sql_model_get(tsr__db *db, int64_t id, const char *kind, tsr_store_model_cb cb,
                              void *ctx, tsr_error *err) {
  int by_kind = id <= 0;
  tsr__val p = by_kind ? TSR__VT(kind) : TSR__VI(id);
  return select_one(db, TSR__TABLE(models), "",
                    by_kind ? "FROM models WHERE kind = ? AND promoted = 1"
                            : "FROM models WHERE id = ?",
                    &p, 1, (void *)cb, ctx, "get model", err);
}

tsr_status tsr__sql_models_list(tsr__db *db, int64_t run_id, const char *kind,
                                tsr_store_model_cb cb, void *ctx, tsr_error *err) {
  tsr__val p[2];
  int np = 0;
  if (run_id != 0) p[np++] = TSR__VI(run_id);
  if (kind) p[np++] = TSR__VT(kind);
  char rest[256];
  snprintf(rest, sizeof rest, "FROM models%s%s%s ORDER BY kind, version DESC",
           run_id != 0 || kind ? " WHERE " : "", run_id != 0 ? "run_id = ?" : "",
           kind ? (run_id != 0 ? " AND kind = ?" : "kind = ?") : "");
  return tsr__select(db, TSR__TABLE(models), "", rest, p, np, (void *)cb, ctx, NULL,
                     "list models", err);
}
