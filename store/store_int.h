/*
 * store_int.h - the seam between the store's generic layer and its back
 * ends. Not public API.
 *
 *   store.c       the front end (tessera/store.h): URL dispatch, argument
 *                 checks, defaults, JSON validation, error wording, packing.
 *   schema.def    every table, column, index and migration, once.
 *   schema.c      DDL, column lists, binds and row mapping generated from
 *                 schema.def; the one migration runner.
 *   sql_store.c   the per-entity work (datasets, runs, customers, ...) in
 *                 SQL common to both dialects.
 *   web.c, web_limits.c, act_store.c, realtime_log.c
 *                 the web, offer and real-time tables, likewise.
 *   sqlite.c, postgres.c
 *                 the back ends: a versioned method table of primitives
 *                 (connection, statements with bound values, cursors,
 *                 transactions) and the words of their SQL dialect.
 *
 * SQL text given to exec/query uses "?" (or "?N") placeholders; the
 * PostgreSQL back end numbers them "$N". Values are tsr__val; NULL text is
 * SQL NULL.
 *
 * The method table is versioned in the manner of SQLite's
 * sqlite3_io_methods: fields are only ever appended; the generic layer
 * checks `version` before using a field added after version 4.
 */
#ifndef TESSERA_STORE_INT_H
#define TESSERA_STORE_INT_H

#include "internal.h"
#include "tessera/store.h"

#define TSR_STORE_METHODS_VERSION 6

/* ================================================================ values */

typedef enum tsr__vtype { TSR__V_NULL = 0, TSR__V_I64, TSR__V_DBL, TSR__V_TEXT } tsr__vtype;

typedef struct tsr__val {
  tsr__vtype t;
  int64_t i;
  double d;
  const char *s; /* borrowed until the statement ran */
  size_t n;      /* TEXT: strlen(s) when known, else 0 (measured then) */
} tsr__val;

#define TSR__VNULL ((tsr__val){.t = TSR__V_NULL})
#define TSR__VI(x) ((tsr__val){.t = TSR__V_I64, .i = (x)})
#define TSR__VD(x) ((tsr__val){.t = TSR__V_DBL, .d = (x)})
/* text; NULL pointer = SQL NULL */
#define TSR__VT(x) ((tsr__val){.t = (x) ? TSR__V_TEXT : TSR__V_NULL, .s = (x)})

/* Constraint violation classes of a failed write. */
enum { TSR__VIOL_NONE = 0, TSR__VIOL_UNIQUE, TSR__VIOL_FK, TSR__VIOL_OTHER };

/* What a statement did. */
typedef struct tsr__exec_out {
  int64_t changed; /* rows affected */
  int64_t id;      /* first column of the first row returned (RETURNING, SELECT) */
  int have_id;     /* a row came back */
  int violation;   /* on failure: TSR__VIOL_* */
  char key[256];   /* on a unique violation, the key value when the driver names it */
  int have_row;    /* a bulk load (load) failed at row `row` */
  size_t row;
} tsr__exec_out;

struct tsr_store_methods;

/* Every back-end connection starts with this. */
typedef struct tsr__db {
  const struct tsr_store_methods *m;
  char *label; /* for messages: the file, or the URL without its password */
} tsr__db;

/* A row of a result, read through the back end's getters. */
typedef struct tsr__cur {
  const struct tsr_store_methods *m;
  void *h;
  int row;
} tsr__cur;
typedef int (*tsr__row_fn)(void *ctx, const tsr__cur *c); /* nonzero stops */

/* Produces the values of row i for a bulk load. */
typedef void (*tsr__rowvals_fn)(void *ctx, size_t i, tsr__val *out);

/* ================================================================ back ends */

enum { TSR__T_ID = 0, TSR__T_ROWID, TSR__T_I64, TSR__T_INT, TSR__T_DBL, TSR__T_TEXT, TSR__T_TEXTC,
       TSR__T_COUNT };

typedef struct tsr_store_methods {
  int version;      /* TSR_STORE_METHODS_VERSION this table implements */
  const char *name; /* "sqlite", "postgresql" */

  /* the dialect's words */
  const char *type_sql[TSR__T_COUNT]; /* NULL: the column is implicit (ROWID) */
  const char *rowid;                  /* how SQL names a ROWID column */
  const char *without_rowid;          /* appended to TSR__TF_WITHOUT_ROWID tables */
  const char *no_limit;               /* "LIMIT ..." that means all rows, before OFFSET */
  const char *least, *greatest;       /* two-argument min / max */
  const char *trunc_int;              /* printf format truncating %s to an integer */
  int stmt_savepoint; /* a failed statement aborts the open transaction: guard writes */

  /* connection */
  tsr_status (*open)(const char *target, unsigned flags, tsr__db **db, tsr_error *err);
  void (*close)(tsr__db *db);
  /* one integer: the number of tables named ? (catalog_has), of all
   * objects (catalog_all); a database with objects but no schema_version
   * table is not ours */
  const char *catalog_has, *catalog_all;
  /* inside the migration's transaction: serialise migrators (may be NULL) */
  tsr_status (*lock_schema)(tsr__db *db, tsr_error *err);
  /* size_bytes and journal_mode of stats */
  tsr_status (*size)(tsr__db *db, tsr_store_stats *out, tsr_error *err);

  /* statements (prepared, cached by text, values bound) */
  tsr_status (*script)(tsr__db *db, const char *sql, const char *what, tsr_error *err);
  tsr_status (*exec)(tsr__db *db, const char *sql, const tsr__val *p, int np, tsr__exec_out *out,
                     const char *what, tsr_error *err);
  /* rows to row() until it returns nonzero; *found (may be NULL) counts
   * them. row may call back into the store. */
  tsr_status (*query)(tsr__db *db, const char *sql, const tsr__val *p, int np, tsr__row_fn row,
                      void *ctx, int64_t *found, const char *what, tsr_error *err);
  /* Bulk load of n rows of ncols values with COPY-like speed (may be NULL:
   * multi-row INSERT then). */
  tsr_status (*copy)(tsr__db *db, const char *table, const char *cols, int ncols, size_t n,
                     tsr__rowvals_fn vals, void *ctx, tsr__exec_out *out, const char *what,
                     tsr_error *err);

  /* cursor */
  int (*isnull)(const tsr__cur *c, int col);
  int64_t (*get_i64)(const tsr__cur *c, int col);
  double (*get_dbl)(const tsr__cur *c, int col);
  const char *(*get_text)(const tsr__cur *c, int col);

  /* transactions */
  tsr_status (*begin)(tsr__db *db, tsr_error *err);
  tsr_status (*commit)(tsr__db *db, tsr_error *err);
  tsr_status (*rollback)(tsr__db *db, tsr_error *err);
  int (*in_transaction)(tsr__db *db);
  const char *begin_write; /* SQL opening a write transaction */
  /* SQL run on a connection that will probe indexes at random (or NULL) */
  const char *random_reads;
  /* SQL making the next commits durable (fsync) and back to the default,
   * or NULL when every commit is durable (PostgreSQL) */
  const char *durable_on, *durable_off;

  /* version 5 */
  /* Bulk load of n rows like copy, as one statement (may be NULL): no
   * values bound, no statement per few rows. On failure out->have_row
   * and out->row say which row the database refused. */
  tsr_status (*load)(tsr__db *db, const char *table, const char *cols, int ncols, size_t n,
                     tsr__rowvals_fn vals, void *ctx, tsr__exec_out *out, const char *what,
                     tsr_error *err);

  /* version 6 */
  /* Opens a write transaction like begin for one large load (may be NULL:
   * begin). commit and rollback end it as any other. */
  tsr_status (*begin_bulk)(tsr__db *db, tsr_error *err);
} tsr_store_methods;

/* The function fields of a back end whose functions are named
 * <prefix>_open, <prefix>_close, ... */
#define TSR__BACKEND_FUNCS(p)                                                                   \
  .open = p##_open, .close = p##_close, .size = p##_size, .script = p##_script,                 \
  .exec = p##_exec, .query = p##_query, .isnull = p##_isnull, .get_i64 = p##_i64,               \
  .get_dbl = p##_dbl, .get_text = p##_text, .begin = p##_begin, .commit = p##_commit,           \
  .rollback = p##_rollback, .in_transaction = p##_in_transaction

/* 1 when text is JSON that json_loads(JSON_DECODE_ANY | JSON_ALLOW_NUL)
 * surely accepts, read without allocating; 0 when invalid or unsure (ask
 * jansson then). store/json_check.c */
int tsr__json_surely_valid(const char *text);

/* The SQLite back end (store/sqlite.c). */
extern const tsr_store_methods tsr__store_sqlite_methods;
/* The PostgreSQL back end (store/postgres.c). */
extern const tsr_store_methods tsr__store_pg_methods;

/* The connection of s (store/store.c). */
tsr__db *tsr__store_db(tsr_store *s);
/* 1 when s has an open transaction (tsr_store_begin). */
int tsr__store_in_tx(tsr_store *s);

/* ================================================================ schema (schema.c) */

enum { TSR__TF_WITHOUT_ROWID = 1, TSR__TF_ON_DEMAND = 2 };
enum { TSR__CF_NOINS = 1, TSR__CF_DB = 2 /* DCOL */, TSR__CF_EXPR = 4 /* XCOL */ };
enum { TSR__M_NONE = 0, TSR__M_I64, TSR__M_INT, TSR__M_DBL, TSR__M_TEXT, TSR__M_CHARS,
       TSR__M_STATUS, TSR__M_LEVEL };
#define TSR__ALWAYS INT64_MIN
#define TSR__NONNEG 1

typedef struct tsr__col {
  const char *name; /* column, or the expression of an XCOL */
  int type;         /* TSR__T_* */
  int map;          /* TSR__M_* */
  size_t off, size; /* the C field */
  int64_t arg;      /* see schema.def */
  int flags;        /* TSR__CF_* */
  const char *constraints;
  int since;
} tsr__col;

typedef struct tsr__table {
  const char *name;
  size_t size; /* of the C struct */
  int since, flags;
  const char *constraints;
  const tsr__col *cols;
  int ncols;
  char select[512]; /* tsr__select_cols without prefix */
} tsr__table;

enum {
#define TABLE(name, ctype, since, flags, cons) TSR__TBL_##name,
#include "schema.def"
  TSR__TBL_COUNT
};

extern tsr__table tsr__tables[TSR__TBL_COUNT]; /* filled before main */
#define TSR__TABLE(name) (&tsr__tables[TSR__TBL_##name])

/* "a, b, c": the columns read into the struct (prefix before each name,
 * e.g. "r."), then the XCOL expressions. */
const char *tsr__select_cols(const tsr__table *t, const char *prefix, char *buf, size_t cap);
/* The number of columns tsr__select_cols lists. */
int tsr__select_ncols(const tsr__table *t);
/* Reads the row at cursor c (columns from first) into the struct at row. */
void tsr__row_read(const tsr__table *t, const tsr__cur *c, int first, void *row);
/* The INSERT of t taking nlead leading DCOL values then the struct's
 * columns, with nrows value groups and an optional tail ("RETURNING id");
 * OUT: *ncols per row. Returns buf, or NULL when too long. */
const char *tsr__insert_sql(const tsr__table *t, int nlead, int nrows, const char *tail, char *buf,
                            size_t cap, int *ncols);
/* The two statements of a bulk load of t (nlead lead values a row):
 * `multi` inserts nrows rows, `one` a single row (for the tail); `v` holds
 * the values of nrows rows of at most max_cols columns; ncols = columns a
 * row. Free with tsr__multi_ins_free (also after a failed init). */
typedef struct {
  char *multi;
  char one[1200];
  tsr__val *v;
  int ncols;
} tsr__multi_ins;
tsr_status tsr__multi_ins_init(tsr__multi_ins *m, const tsr__table *t, int nlead, int nrows,
                               size_t cap, int max_cols, const char *what, tsr_error *err);
void tsr__multi_ins_free(tsr__multi_ins *m);
/* The values of that INSERT for one row: lead values then the struct's. */
int tsr__row_vals(const tsr__table *t, const tsr__val *lead, int nlead, const void *row,
                  tsr__val *out);

/* Inserts one row (lead values, then the struct's); *id from RETURNING id
 * when want_id. Errors as exec (out->violation). */
tsr_status tsr__insert(tsr__db *db, const tsr__table *t, const tsr__val *lead, int nlead,
                       const void *row, int want_id, tsr__exec_out *out, const char *what,
                       tsr_error *err);
/* Inserts n rows of t (row i at (char *)rows + i * stride, no lead values)
 * in statements of many rows, for batches written inside the caller's
 * transaction: a failure fails the batch (the caller rolls back). */
tsr_status tsr__insert_rows(tsr__db *db, const tsr__table *t, const void *rows, size_t n,
                            size_t stride, const char *what, tsr_error *err);
/* CREATE TABLE IF NOT EXISTS of an on-demand table and its indexes. */
tsr_status tsr__table_ensure(tsr__db *db, const tsr__table *t, tsr_error *err);

/* The schema version of db (0: none yet). */
tsr_status tsr__schema_version(tsr__db *db, int *version, tsr_error *err);
/* Applies the missing migrations; *version (may be NULL) after. */
tsr_status tsr__schema_migrate(tsr__db *db, int *version, tsr_error *err);
/* After connecting: refuses a foreign database, migrates unless
 * TSR_STORE_NO_MIGRATE, refuses a newer schema. */
tsr_status tsr__schema_open(tsr__db *db, unsigned flags, tsr_error *err);

/* ================================================================ generic helpers (sql_store.c) */

/* A write of several statements: BEGIN (the back end's) or a savepoint in
 * an open transaction; wr_end commits or rolls back keeping the first error. */
tsr_status tsr__wr_begin(tsr__db *db, int *outer, const char *what, tsr_error *err);
tsr_status tsr__wr_end(tsr__db *db, int outer, tsr_status st, const char *what, tsr_error *err);
/* One write statement, guarded by a savepoint where the dialect needs it. */
tsr_status tsr__write(tsr__db *db, const char *sql, const tsr__val *p, int np, tsr__exec_out *out,
                      const char *what, tsr_error *err);
/* A query returning one integer: TSR_ENOTFOUND (no message) without a row. */
tsr_status tsr__one_i64(tsr__db *db, const char *sql, const tsr__val *p, int np, int64_t *out,
                        const char *what, tsr_error *err);
/* "SELECT <t's columns, each after prefix> <rest>" with p; each row read
 * into t's struct and passed (borrowed) to cb(ctx, row); *found (may be
 * NULL) counts rows. */
tsr_status tsr__select(tsr__db *db, const tsr__table *t, const char *prefix, const char *rest,
                       const tsr__val *p, int np, void *cb, void *ctx, int64_t *found,
                       const char *what, tsr_error *err);
/* Words TSR_ENOTFOUND as "<object>: not found"; other statuses pass. */
tsr_status tsr__not_found(tsr_status st, tsr_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The order of n ids (the text pointers at ids, ids + stride, ...) in
 * strcmp order (the byte order of keys on both back ends): NULL when they
 * already are strictly increasing, else a new array of indexes (tsr__free).
 * Appending in key order to a b-tree is 3-4x faster than inserting at
 * random places. An LSD radix sort on the 8 bytes that follow the prefix
 * all ids share (zero-padded: a shorter id sorts first, as in strcmp),
 * skipping byte positions where all keys agree; runs of equal keys are
 * then ordered with strcmp. *oom on allocation failure. */
size_t *tsr__id_order(const void *ids, size_t stride, size_t n, int *oom);
/* A hash of SQL text, for the back ends' statement caches. */
uint64_t tsr__sql_hash(const char *sql);
/* Cursor getters with the NULL conventions of schema.def. */
int64_t tsr__cur_i64(const tsr__cur *c, int col, int64_t if_null);
double tsr__cur_dbl(const tsr__cur *c, int col); /* NaN for NULL */
const char *tsr__cur_text(const tsr__cur *c, int col);

/* The per-entity functions (sql_store.c), called by store.c. */
tsr_status tsr__sql_stats(tsr__db *db, tsr_store_stats *out, tsr_error *err);
tsr_status tsr__sql_dataset_add(tsr__db *db, const tsr_dataset *d, int64_t *id, tsr_error *err);
tsr_status tsr__sql_dataset_update(tsr__db *db, const tsr_dataset *d, tsr_error *err);
tsr_status tsr__sql_rejects_add(tsr__db *db, int64_t dataset_id, const tsr_reject_row *rows,
                                size_t n, tsr_error *err);
/* by id (> 0) or, when id == 0, the newest with checksum */
tsr_status tsr__sql_dataset_get(tsr__db *db, int64_t id, const char *checksum,
                                tsr_store_dataset_cb cb, void *ctx, tsr_error *err);
tsr_status tsr__sql_datasets_list(tsr__db *db, int64_t limit, int64_t offset,
                                  tsr_store_dataset_cb cb, void *ctx, tsr_error *err);
tsr_status tsr__sql_rejects_list(tsr__db *db, int64_t dataset_id, int64_t limit, int64_t offset,
                                 tsr_store_reject_cb cb, void *ctx, tsr_error *err);
tsr_status tsr__sql_run_add(tsr__db *db, const tsr_run *r, int64_t *id, tsr_error *err);
tsr_status tsr__sql_run_set(tsr__db *db, int64_t id, const char *params, const char *output_dir,
                            tsr_error *err);
tsr_status tsr__sql_run_finish(tsr__db *db, int64_t id, tsr_run_status status,
                               int64_t finished_at, const char *timings, const char *summary,
                               const char *error, tsr_error *err);
tsr_status tsr__sql_runs_interrupt(tsr__db *db, int64_t finished_at, int64_t *n, tsr_error *err);
tsr_status tsr__sql_run_get(tsr__db *db, int64_t id, tsr_store_run_cb cb, void *ctx,
                            tsr_error *err);
tsr_status tsr__sql_runs_list(tsr__db *db, int64_t limit, int64_t offset, tsr_store_run_cb cb,
                              void *ctx, tsr_error *err);
tsr_status tsr__sql_event_add(tsr__db *db, const tsr_event *e, int64_t *id, tsr_error *err);
tsr_status tsr__sql_events_list(tsr__db *db, int64_t run_id, tsr_log_level min_level,
                                tsr_store_event_cb cb, void *ctx, tsr_error *err);
/* lens (may be NULL): the rows' text lengths, each exact or 0 */
tsr_status tsr__sql_customers_add(tsr__db *db, int64_t run_id, const tsr_customer *rows,
                                  const tsr__customer_lens *lens, size_t n, tsr_error *err);
/* tsr__store_customers_prep's and tsr__store_customers_add_ready's part
 * (lib/internal.h) */
tsr_status tsr__sql_customers_prep(tsr__cust_ready *r, int64_t run_id, const tsr_customer *rows,
                                   const tsr__customer_lens *lens, size_t n, tsr_error *err);
tsr_status tsr__sql_customers_add_ready(tsr__db *db, const tsr__cust_ready *r, tsr_error *err);
tsr_status tsr__sql_customers_list(tsr__db *db, const tsr_customer_query *q,
                                   tsr_store_customer_cb cb, void *ctx, tsr_error *err);
tsr_status tsr__sql_customers_count(tsr__db *db, const tsr_customer_query *q, int64_t *n,
                                    tsr_error *err);
tsr_status tsr__sql_customer_get(tsr__db *db, int64_t run_id, const char *customer_id,
                                 tsr_store_customer_cb cb, void *ctx, tsr_error *err);
tsr_status tsr__sql_segments_add(tsr__db *db, int64_t run_id, const tsr_segment_row *rows,
                                 size_t n, tsr_error *err);
tsr_status tsr__sql_segments_list(tsr__db *db, int64_t run_id, const char *scheme,
                                  tsr_store_segment_cb cb, void *ctx, tsr_error *err);
tsr_status tsr__sql_model_add(tsr__db *db, const tsr_model *m, int64_t *id, int64_t *version,
                              tsr_error *err);
tsr_status tsr__sql_model_promote(tsr__db *db, int64_t id, tsr_error *err);
tsr_status tsr__sql_model_set_stats(tsr__db *db, int64_t id, const char *fit_stats,
                                    tsr_error *err);
/* by id (> 0) or, when id == 0, the promoted model of kind */
tsr_status tsr__sql_model_get(tsr__db *db, int64_t id, const char *kind, tsr_store_model_cb cb,
                              void *ctx, tsr_error *err);
tsr_status tsr__sql_models_list(tsr__db *db, int64_t run_id, const char *kind,
                                tsr_store_model_cb cb, void *ctx, tsr_error *err);
/* deletes (children go by the schema's cascades); TSR_ENOTFOUND when absent */
tsr_status tsr__sql_dataset_delete(tsr__db *db, int64_t id, tsr_error *err);
tsr_status tsr__sql_run_delete(tsr__db *db, int64_t id, tsr_error *err);
/* the process that owns a running run (issue 11) */
tsr_status tsr__sql_run_owner_set(tsr__db *db, int64_t id, const char *owner, tsr_error *err);
/* Running runs with an owner: cb(ctx, id, owner) per row. */
tsr_status tsr__sql_runs_owned_list(tsr__db *db,
                                    int (*cb)(void *ctx, int64_t id, const char *owner),
                                    void *ctx, tsr_error *err);

/* ================================================================ run owners (run_owner.c) */

/* This process as "HOST|BOOT|PID|START"; 1 when the owner ran on this host
 * and is gone; marks the runs of gone owners interrupted (OUT: *n, may be
 * NULL). */
void tsr__run_owner_self(char *buf, size_t cap);
int tsr__run_owner_gone(const char *owner);
tsr_status tsr__store_reap_runs(tsr_store *s, int64_t *n, tsr_error *err);

/* Row counts of tsr_store_stats: the query of each and where it goes; the
 * same SQL on every back end (store/store.c). */
typedef struct tsr__store_count {
  const char *sql;
  size_t off; /* offsetof(tsr_store_stats, ...) of an int64_t */
} tsr__store_count;
extern const tsr__store_count tsr__store_counts[];
extern const size_t tsr__store_ncounts;

#endif
