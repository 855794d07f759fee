/*
 * sqlite.c - the SQLite back end of the store: the primitives of
 * store/store_int.h (connection, statements with bound values, cursors,
 * transactions) and the words of SQLite's dialect. The tables, their SQL
 * and the migrations are the generic layer's (store/schema.def).
 *
 * One sqlite3 connection per handle, opened NOMUTEX (one thread at a time),
 * WAL journal (checked: the pragma must return "wal"), synchronous=NORMAL
 * (commits append to the WAL without fsync; durable at checkpoints and at
 * the end of a run: synchronous=FULL for that commit; a run's bulk load
 * in the rollback journal when the database is not open elsewhere, its
 * pages written back by a thread while it runs), busy timeout 5 s, foreign
 * keys on (off during a run's bulk load). Every statement is prepared with bound
 * parameters and kept prepared per handle, by its text. Times are INTEGER
 * ms since the epoch (UTC).
 */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#define STMT_CACHE 192 /* statements kept prepared per handle */
#define BUSY_MS 5000    /* how long a connection waits for another's lock */

typedef struct sq {
  tsr__db base;
  sqlite3 *db;
  struct {
    uint64_t hash;
    char *sql;
    sqlite3_stmt *st;
  } qc[STMT_CACHE];
  int nqc;
  int bulk;        /* a begin_bulk transaction runs with the rollback journal */
  int bulk_secure; /* a begin_bulk transaction turned secure_delete off */
  int bulk_fk;     /* a begin_bulk transaction turned foreign_keys off */
  int wb_fd;       /* SQLite's descriptor of the database during a bulk load, or -1 */
  pthread_t wb_th; /* its writeback thread (wb_fd >= 0) */
  pthread_mutex_t wb_mu;
  pthread_cond_t wb_cv;
  int wb_pending, wb_stop; /* under wb_mu */
} sq;

/* TSR_ESTORE "store: <what>: <sqlite message>", read at once. */
static tsr_status sq_fail(sq *q, const char *what, tsr_error *err) {
  return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: %s", what,
                       sqlite3_errmsg(q->db));
}

/* The cached statement for sql, or a new one (*cached tells which; a new
 * one is cached when there is room). A statement still stepping (a
 * callback re-entered the store) is never reused. NULL on failure. */
static sqlite3_stmt *get_stmt(sq *q, const char *sql, const char *what, int *cached,
                              tsr_error *err) {
  *cached = 0;
  uint64_t h = tsr__sql_hash(sql);
  int i = 0;
  for (; i < q->nqc; i++) {
    if (q->qc[i].hash != h || strcmp(q->qc[i].sql, sql) != 0) continue;
    if (sqlite3_stmt_busy(q->qc[i].st)) break; /* re-entered: use a fresh one */
    *cached = 1;
    return q->qc[i].st;
  }
  int room = i == q->nqc && q->nqc < STMT_CACHE;
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v3(q->db, sql, -1, room ? SQLITE_PREPARE_PERSISTENT : 0, &s, NULL) !=
      SQLITE_OK) {
    sq_fail(q, what, err);
    sqlite3_finalize(s);
    return NULL;
  }
  char *copy = room ? tsr__strdup(sql) : NULL;
  if (copy) {
    q->qc[q->nqc].hash = h;
    q->qc[q->nqc].sql = copy;
    q->qc[q->nqc].st = s;
    q->nqc++;
    *cached = 1;
  }
  return s;
}

static void put_stmt(sqlite3_stmt *s, int cached) {
  if (cached) {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  } else {
    sqlite3_finalize(s);
  }
}

static void bind_vals(sqlite3_stmt *s, const tsr__val *p, int np) {
  for (int i = 0; i < np; i++) {
    switch (p[i].t) {
      case TSR__V_I64: sqlite3_bind_int64(s, i + 1, p[i].i); break;
      case TSR__V_DBL:
        if (isnan(p[i].d))
          sqlite3_bind_null(s, i + 1);
        else
          sqlite3_bind_double(s, i + 1, p[i].d);
        break;
      case TSR__V_TEXT:
        if (p[i].n)
          sqlite3_bind_text64(s, i + 1, p[i].s, p[i].n, SQLITE_STATIC, SQLITE_UTF8);
        else
          sqlite3_bind_text(s, i + 1, p[i].s, -1, SQLITE_STATIC);
        break;
      default: sqlite3_bind_null(s, i + 1); break;
    }
  }
}

static int violation(sq *q) {
  int x = sqlite3_extended_errcode(q->db);
  if (x == SQLITE_CONSTRAINT_PRIMARYKEY || x == SQLITE_CONSTRAINT_UNIQUE) return TSR__VIOL_UNIQUE;
  if (x == SQLITE_CONSTRAINT_FOREIGNKEY) return TSR__VIOL_FK;
  return (x & 0xff) == SQLITE_CONSTRAINT ? TSR__VIOL_OTHER : TSR__VIOL_NONE;
}

/* ================================================================ statements */

static tsr_status sq_script(tsr__db *db, const char *sql, const char *what, tsr_error *err) {
  sq *q = (sq *)db;
  char *msg = NULL;
  if (sqlite3_exec(q->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    tsr_status s = tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: %s", what,
                                 msg ? msg : sqlite3_errmsg(q->db));
    sqlite3_free(msg);
    return s;
  }
  return TSR_OK;
}

static tsr_status sq_exec(tsr__db *db, const char *sql, const tsr__val *p, int np,
                          tsr__exec_out *out, const char *what, tsr_error *err) {
  sq *q = (sq *)db;
  if (out) memset(out, 0, sizeof *out);
  int cached;
  sqlite3_stmt *s = get_stmt(q, sql, what, &cached, err);
  if (!s) return TSR_ESTORE;
  bind_vals(s, p, np);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    if (out && !out->have_id) {
      out->id = sqlite3_column_int64(s, 0);
      out->have_id = 1;
    }
  }
  tsr_status st = TSR_OK;
  if (rc != SQLITE_DONE) {
    st = sq_fail(q, what, err);
    if (out) out->violation = violation(q);
  } else if (out) {
    out->changed = sqlite3_changes64(q->db);
  }
  put_stmt(s, cached);
  return st;
}

static tsr_status sq_query(tsr__db *db, const char *sql, const tsr__val *p, int np,
                           tsr__row_fn row, void *ctx, int64_t *found, const char *what,
                           tsr_error *err) {
  sq *q = (sq *)db;
  int cached;
  sqlite3_stmt *s = get_stmt(q, sql, what, &cached, err);
  if (!s) return TSR_ESTORE;
  bind_vals(s, p, np);
  tsr__cur c = {db->m, s, 0};
  tsr_status st = TSR_OK;
  int64_t k = 0;
  for (;;) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      st = sq_fail(q, what, err);
      break;
    }
    k++;
    if (row(ctx, &c)) break;
  }
  put_stmt(s, cached);
  if (found) *found = k;
  return st;
}

static int sq_isnull(const tsr__cur *c, int i) {
  return sqlite3_column_type(c->h, i) == SQLITE_NULL;
}
static int64_t sq_i64(const tsr__cur *c, int i) { return sqlite3_column_int64(c->h, i); }
static double sq_dbl(const tsr__cur *c, int i) { return sqlite3_column_double(c->h, i); }
static const char *sq_text(const tsr__cur *c, int i) {
  return (const char *)sqlite3_column_text(c->h, i);
}

/* ================================================================ bulk load */

/* A bulk load is one INSERT ... SELECT from tsr_rows(?), an eponymous
 * virtual table (registered per connection, usable only in top-level SQL)
 * whose rows are the producer's values, handed over with
 * sqlite3_bind_pointer: no value is bound, no statement is reset per few
 * rows, and the statement journal (a multi-row INSERT keeps the pages it
 * changes in a temp file) is written once per load instead of once per
 * statement of 32 rows: that was 10 page copies per stored page. */
#define LOAD_COLS 32 /* columns c0..c31 (customers: 24) */
#define LOAD_PTR "tsr_rows"

typedef struct load_src {
  tsr__rowvals_fn vals;
  void *ctx;
  size_t n, at; /* rows; the row produced last */
  int ncols;
  tsr__val v[LOAD_COLS];
} load_src;

typedef struct load_cur {
  sqlite3_vtab_cursor base;
  load_src *src;
  size_t i;
} load_cur;

static int vt_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                      sqlite3_vtab **out, char **msg) {
  (void)aux, (void)argc, (void)argv, (void)msg;
  char sql[512];
  size_t o = (size_t)snprintf(sql, sizeof sql, "CREATE TABLE x(");
  for (int i = 0; i < LOAD_COLS; i++) o += (size_t)snprintf(sql + o, sizeof sql - o, "c%d, ", i);
  snprintf(sql + o, sizeof sql - o, "src HIDDEN)");
  int rc = sqlite3_declare_vtab(db, sql);
  if (rc != SQLITE_OK) return rc;
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  sqlite3_vtab *t = sqlite3_malloc(sizeof *t);
  if (!t) return SQLITE_NOMEM;
  memset(t, 0, sizeof *t);
  *out = t;
  return SQLITE_OK;
}

static int vt_disconnect(sqlite3_vtab *t) {
  sqlite3_free(t);
  return SQLITE_OK;
}

/* The only plan: src = ? given. */
static int vt_best_index(sqlite3_vtab *t, sqlite3_index_info *x) {
  (void)t;
  for (int i = 0; i < x->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &x->aConstraint[i];
    if (c->iColumn != LOAD_COLS || c->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    if (!c->usable) return SQLITE_CONSTRAINT;
    x->aConstraintUsage[i].argvIndex = 1;
    x->aConstraintUsage[i].omit = 1;
    x->idxNum = 1;
    x->estimatedCost = 1;
    return SQLITE_OK;
  }
  return SQLITE_CONSTRAINT;
}

static int vt_open(sqlite3_vtab *t, sqlite3_vtab_cursor **out) {
  (void)t;
  load_cur *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  *out = &c->base;
  return SQLITE_OK;
}

static int vt_close(sqlite3_vtab_cursor *c) {
  sqlite3_free(c);
  return SQLITE_OK;
}

static void vt_produce(load_cur *c) {
  load_src *s = c->src;
  if (c->i < s->n) {
    s->vals(s->ctx, c->i, s->v);
    s->at = c->i;
  }
}

static int vt_filter(sqlite3_vtab_cursor *cur, int idx, const char *idxs, int argc,
                     sqlite3_value **argv) {
  (void)idxs;
  load_cur *c = (load_cur *)cur;
  c->src = idx == 1 && argc == 1 ? sqlite3_value_pointer(argv[0], LOAD_PTR) : NULL;
  c->i = 0;
  if (!c->src) return SQLITE_ERROR;
  vt_produce(c);
  return SQLITE_OK;
}

static int vt_next(sqlite3_vtab_cursor *cur) {
  load_cur *c = (load_cur *)cur;
  c->i++;
  vt_produce(c);
  return SQLITE_OK;
}

static int vt_eof(sqlite3_vtab_cursor *cur) {
  load_cur *c = (load_cur *)cur;
  return c->i >= c->src->n;
}

/* The value as bind_vals binds it (NaN: NULL; text borrowed, with its
 * length when the producer knows it). */
static int vt_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  const load_src *s = ((load_cur *)cur)->src;
  if (col >= s->ncols) {
    sqlite3_result_null(ctx);
    return SQLITE_OK;
  }
  const tsr__val *p = &s->v[col];
  switch (p->t) {
    case TSR__V_I64: sqlite3_result_int64(ctx, p->i); break;
    case TSR__V_DBL:
      if (isnan(p->d))
        sqlite3_result_null(ctx);
      else
        sqlite3_result_double(ctx, p->d);
      break;
    case TSR__V_TEXT:
      if (p->n)
        sqlite3_result_text64(ctx, p->s, p->n, SQLITE_STATIC, SQLITE_UTF8);
      else
        sqlite3_result_text(ctx, p->s, -1, SQLITE_STATIC);
      break;
    default: sqlite3_result_null(ctx); break;
  }
  return SQLITE_OK;
}

static int vt_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *id) {
  *id = (sqlite3_int64)((load_cur *)cur)->i;
  return SQLITE_OK;
}

static const sqlite3_module load_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only: no CREATE VIRTUAL TABLE */
    .xConnect = vt_connect,
    .xBestIndex = vt_best_index,
    .xDisconnect = vt_disconnect,
    .xOpen = vt_open,
    .xClose = vt_close,
    .xFilter = vt_filter,
    .xNext = vt_next,
    .xEof = vt_eof,
    .xColumn = vt_column,
    .xRowid = vt_rowid,
};

/* Early writeback of a bulk load (issue 18): the pages SQLite has written
 * into the database file so far (its cache spills them as the load goes
 * on) are handed to the disk now, asynchronously, instead of all of them
 * by the commit's fdatasync (tx1800k: 370 MB, 0.25 s at the end of the
 * run). Only the timing changes: the kernel may write dirty pages at any
 * time anyway, and the commit still syncs the file (durability and the
 * journal's ordering are SQLite's, untouched). The descriptor is SQLite's
 * own (never a second one: closing another descriptor of the file would
 * drop the process's POSIX locks on it), read through
 * SQLITE_FCNTL_FILE_POINTER from the unix VFS's file (its descriptor
 * follows the methods, VFS and inode pointers) and used only when fstat
 * says it is the database file itself; otherwise nothing is done. */
static int bulk_fd(sq *q) {
  sqlite3_file *f = NULL;
  const char *path = sqlite3_db_filename(q->db, "main");
  if (!path || !path[0] ||
      sqlite3_file_control(q->db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || !f ||
      !f->pMethods)
    return -1;
  sqlite3_vfs *vfs = NULL;
  if (sqlite3_file_control(q->db, "main", SQLITE_FCNTL_VFS_POINTER, &vfs) != SQLITE_OK || !vfs ||
      strncmp(vfs->zName, "unix", 4) != 0)
    return -1;
  struct unix_head { /* the start of the unix VFS's unixFile */
    const void *methods, *vfs, *inode;
    int h;
  } head;
  memcpy(&head, f, sizeof head);
  struct stat a, b;
  if (head.h < 0 || fstat(head.h, &a) != 0 || stat(path, &b) != 0 || a.st_dev != b.st_dev ||
      a.st_ino != b.st_ino)
    return -1;
  return head.h;
}

/* The writeback thread: waits for a kick, then starts the writeback of
 * what is dirty (sync_file_range may block while the device's queue is
 * full: the load never waits for it). */
static void *wb_main(void *arg) {
  sq *q = arg;
  pthread_mutex_lock(&q->wb_mu);
  for (;;) {
    while (!q->wb_pending && !q->wb_stop) pthread_cond_wait(&q->wb_cv, &q->wb_mu);
    if (q->wb_stop) break;
    q->wb_pending = 0;
    pthread_mutex_unlock(&q->wb_mu);
    sync_file_range(q->wb_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    pthread_mutex_lock(&q->wb_mu);
  }
  pthread_mutex_unlock(&q->wb_mu);
  return NULL;
}

/* Starts the writeback thread of a bulk load (none when SQLite's
 * descriptor is not found or no thread starts: the commit syncs it all as
 * before). */
static void wb_start(sq *q) {
  q->wb_fd = bulk_fd(q);
  if (q->wb_fd < 0) return;
  q->wb_pending = q->wb_stop = 0;
  if (pthread_mutex_init(&q->wb_mu, NULL) != 0) {
    q->wb_fd = -1;
    return;
  }
  if (pthread_cond_init(&q->wb_cv, NULL) != 0) {
    pthread_mutex_destroy(&q->wb_mu);
    q->wb_fd = -1;
    return;
  }
  if (pthread_create(&q->wb_th, NULL, wb_main, q) != 0) {
    pthread_cond_destroy(&q->wb_cv);
    pthread_mutex_destroy(&q->wb_mu);
    q->wb_fd = -1;
  }
}

/* A load has written more pages: start their writeback. */
static void wb_kick(sq *q) {
  if (q->wb_fd < 0) return;
  pthread_mutex_lock(&q->wb_mu);
  q->wb_pending = 1;
  pthread_cond_signal(&q->wb_cv);
  pthread_mutex_unlock(&q->wb_mu);
}

/* Stops the writeback thread (before the descriptor can go). */
static void wb_stop(sq *q) {
  if (q->wb_fd < 0) return;
  pthread_mutex_lock(&q->wb_mu);
  q->wb_stop = 1;
  pthread_cond_signal(&q->wb_cv);
  pthread_mutex_unlock(&q->wb_mu);
  pthread_join(q->wb_th, NULL);
  pthread_cond_destroy(&q->wb_cv);
  pthread_mutex_destroy(&q->wb_mu);
  q->wb_fd = -1;
}

static tsr_status sq_load(tsr__db *db, const char *table, const char *cols, int ncols, size_t n,
                          tsr__rowvals_fn vals, void *ctx, tsr__exec_out *out, const char *what,
                          tsr_error *err) {
  sq *q = (sq *)db;
  if (out) memset(out, 0, sizeof *out);
  if (ncols < 1 || ncols > LOAD_COLS)
    return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: %d columns, at most %d",
                         what, ncols, LOAD_COLS);
  if (n == 0) return TSR_OK;
  char sql[2048];
  size_t o = (size_t)snprintf(sql, sizeof sql, "INSERT INTO %s(%s) SELECT ", table, cols);
  for (int i = 0; i < ncols && o < sizeof sql; i++)
    o += (size_t)snprintf(sql + o, sizeof sql - o, "%sc%d", i ? ", " : "", i);
  if (o < sizeof sql) o += (size_t)snprintf(sql + o, sizeof sql - o, " FROM " LOAD_PTR "(?)");
  if (o >= sizeof sql)
    return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: statement too long", what);
  int cached;
  sqlite3_stmt *s = get_stmt(q, sql, what, &cached, err);
  if (!s) return TSR_ESTORE;
  load_src src = {vals, ctx, n, 0, ncols, {{0}}};
  sqlite3_bind_pointer(s, 1, &src, LOAD_PTR, NULL);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
  }
  tsr_status st = TSR_OK;
  if (rc != SQLITE_DONE) {
    st = sq_fail(q, what, err);
    if (out) {
      out->violation = violation(q);
      out->have_row = 1;
      out->row = src.at;
    }
  } else if (out) {
    out->changed = sqlite3_changes64(q->db);
  }
  put_stmt(s, cached);
  if (st == TSR_OK && q->bulk) wb_kick(q);
  return st;
}

/* ================================================================ transactions */

/* A caller's transaction (tsr_store_begin: analyze's store step) keeps
 * the journal of its savepoints in memory. A bulk load larger than the
 * page cache spills pages of its earlier statements to the WAL, and each
 * spilled page is first copied to the open statement's journal (SQLite
 * journals any page not yet journaled that existed when the statement
 * began): on tx1800k that file got as many bytes as the database, 370 MB.
 * The setting holds from BEGIN (it is read when the write transaction
 * opens) to the end of the transaction; it is a speed setting only, so a
 * failure to change it is ignored. */
static void sq_temp_store(tsr__db *db, const char *sql) {
  tsr_error scratch;
  sq_script(db, sql, "temp store", &scratch);
}

static tsr_status sq_begin(tsr__db *db, tsr_error *err) {
  sq_temp_store(db, "PRAGMA temp_store = MEMORY");
  tsr_status st = sq_script(db, "BEGIN IMMEDIATE", "begin", err);
  if (st != TSR_OK) sq_temp_store(db, "PRAGMA temp_store = DEFAULT");
  return st;
}

static tsr_status sq_pragma(sq *q, const char *sql, char *buf, size_t cap);

/* The end of a begin_bulk transaction: back to WAL (a failure leaves the
 * rollback journal; the next opener switches), then the usual sync. */
static void sq_bulk_end(sq *q) {
  if (q->bulk_secure) {
    char sd[8];
    sq_pragma(q, "PRAGMA secure_delete = ON", sd, sizeof sd);
    q->bulk_secure = 0;
  }
  if (q->bulk_fk) {
    char fk[8];
    sq_script(&q->base, "PRAGMA foreign_keys = ON", "foreign keys", NULL);
    q->bulk_fk =
        !(sq_pragma(q, "PRAGMA foreign_keys", fk, sizeof fk) == TSR_OK && !strcmp(fk, "1"));
  }
  if (!q->bulk) return;
  q->bulk = 0;
  wb_stop(q);
  char mode[32];
  sq_pragma(q, "PRAGMA journal_mode = WAL", mode, sizeof mode);
  sq_temp_store(&q->base, "PRAGMA synchronous = NORMAL");
}

/* A run's bulk load (analyze's store transaction: hundreds of MB of new
 * pages) in the rollback journal when no other connection has the
 * database open: new pages go once into the database file, where in WAL
 * mode each goes into the WAL, then is read back and copied into the
 * database by the checkpoint after the commit, with an fsync of each file
 * (tx1800k: 370 MB three times, 1.3-2.1 CPU s of the store thread;
 * docs/store.md). Only pages that existed before are journaled.
 * journal_mode = DELETE needs the database to itself (an open connection
 * holds a shared lock in WAL mode): when another has it open the switch
 * fails at once and the transaction runs in WAL as any other. The
 * transaction is durable like a finished run (synchronous = EXTRA: the
 * journal synced before the database is written, the database at the
 * commit, the directory after the journal is deleted); a crash before
 * the commit leaves a hot journal, and the next opener rolls it back (the
 * run is then "interrupted" with none of its rows). The commit or
 * rollback switches back to WAL; an opener meanwhile waits (sq_open).
 * secure_delete (on in Debian's SQLite) is off for the transaction and
 * back on after it: the transaction adds rows and updates its own run's
 * row and model flags, deletes nothing, so what it would zero is space
 * freed by its own page splits (copies of rows it keeps) and earlier
 * versions of those rows; that zeroing was 4.4 % of the load's
 * instructions (docs/store.md). foreign_keys is off likewise: every row
 * the transaction adds names its run, checked to exist in it (need_run),
 * and the check opened a cursor on runs per customer row (7 % of the
 * load's instructions). */
static tsr_status sq_begin_bulk(tsr__db *db, tsr_error *err) {
  sq *q = (sq *)db;
  char mode[32];
  if (sq_pragma(q, "PRAGMA journal_mode = DELETE", mode, sizeof mode) == TSR_OK &&
      !strcmp(mode, "delete")) {
    q->bulk = 1;
    sq_temp_store(db, "PRAGMA synchronous = EXTRA");
    wb_start(q);
  }
  char sd[8];
  if (sq_pragma(q, "PRAGMA secure_delete", sd, sizeof sd) == TSR_OK && !strcmp(sd, "1") &&
      sq_pragma(q, "PRAGMA secure_delete = OFF", sd, sizeof sd) == TSR_OK && !strcmp(sd, "0"))
    q->bulk_secure = 1;
  char fk[8];
  if (sq_script(db, "PRAGMA foreign_keys = OFF", "foreign keys", NULL) == TSR_OK &&
      sq_pragma(q, "PRAGMA foreign_keys", fk, sizeof fk) == TSR_OK && !strcmp(fk, "0"))
    q->bulk_fk = 1;
  tsr_status st = sq_begin(db, err);
  if (st != TSR_OK) sq_bulk_end(q);
  return st;
}

static tsr_status sq_commit(tsr__db *db, tsr_error *err) {
  tsr_status st = sq_script(db, "COMMIT", "commit", err);
  if (st == TSR_OK) {
    sq_temp_store(db, "PRAGMA temp_store = DEFAULT");
    sq_bulk_end((sq *)db);
  }
  return st;
}
static tsr_status sq_rollback(tsr__db *db, tsr_error *err) {
  tsr_status st = sq_script(db, "ROLLBACK", "rollback", err);
  if (!sqlite3_get_autocommit(((sq *)db)->db)) return st;
  sq_temp_store(db, "PRAGMA temp_store = DEFAULT");
  sq_bulk_end((sq *)db);
  return st;
}
static int sq_in_transaction(tsr__db *db) { return !sqlite3_get_autocommit(((sq *)db)->db); }

/* ================================================================ open, catalog, size */

static void sq_close(tsr__db *db) {
  sq *q = (sq *)db;
  if (!q) return;
  wb_stop(q);
  for (int k = 0; k < q->nqc; k++) {
    sqlite3_finalize(q->qc[k].st);
    tsr__free(q->qc[k].sql);
  }
  if (q->db) {
    if (!sqlite3_get_autocommit(q->db)) sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(q->db);
  }
  tsr__free(q->base.label);
  tsr__free(q);
}

/* Runs a pragma that returns one text value, into buf. */
static tsr_status sq_pragma(sq *q, const char *sql, char *buf, size_t cap) {
  sqlite3_stmt *s = NULL;
  buf[0] = '\0';
  if (sqlite3_prepare_v2(q->db, sql, -1, &s, NULL) != SQLITE_OK) return TSR_ESTORE;
  int rc = sqlite3_step(s);
  tsr_status st = TSR_OK;
  if (rc == SQLITE_ROW) {
    const char *v = (const char *)sqlite3_column_text(s, 0);
    snprintf(buf, cap, "%s", v ? v : "");
  } else if (rc != SQLITE_DONE) {
    st = TSR_ESTORE;
  }
  sqlite3_finalize(s);
  return st;
}

static tsr_status sq_open(const char *target, unsigned flags, tsr__db **out, tsr_error *err) {
  *out = NULL;
  int memory = !strcmp(target, ":memory:");
  int fresh = memory; /* a new database: its page size can still be chosen */
  struct stat sb;
  if (!memory) {
    if (stat(target, &sb) != 0) {
      fresh = 1;
      if (errno == ENOENT && !(flags & TSR_STORE_CREATE))
        return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL,
                             "store: open %s: database does not exist", target);
    } else if (S_ISDIR(sb.st_mode)) {
      return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: open %s: is a directory",
                           target);
    } else if (sb.st_size == 0) {
      fresh = 1;
    }
  }
  sq *q = tsr__calloc(1, sizeof *q);
  if (q) q->base.label = tsr__strdup(target);
  if (!q || !q->base.label) {
    tsr__free(q);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "store: open: out of memory");
  }
  q->base.m = &tsr__store_sqlite_methods;
  q->wb_fd = -1;
  int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (flags & TSR_STORE_CREATE) oflags |= SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(target, &q->db, oflags, NULL);
  if (rc != SQLITE_OK) {
    int sys = q->db ? sqlite3_system_errno(q->db) : 0;
    const char *msg = q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc);
    if (sys)
      tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: open %s: %s (%s)", target, msg,
                    strerror(sys));
    else
      tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: open %s: %s", target, msg);
    sq_close(&q->base);
    return TSR_ESTORE;
  }
  sqlite3_extended_result_codes(q->db, 1);
  sqlite3_busy_timeout(q->db, BUSY_MS);
  if (sqlite3_create_module_v2(q->db, LOAD_PTR, &load_module, NULL, NULL) != SQLITE_OK) {
    tsr_status s = sq_fail(q, "open: bulk load", err);
    sq_close(&q->base);
    return s;
  }

  char what[300];
  snprintf(what, sizeof what, "open %s", target);
  char mode[32];
  tsr_status st = TSR_OK;
  /* 16 KiB pages: a 1M-customer insert takes 25-30% less CPU than with the
   * default 4 KiB (fewer page splits and WAL frames; docs/store.md). Only
   * possible before the first table exists and before WAL is on. */
  if (fresh) st = sq_script(&q->base, "PRAGMA page_size = 16384", what, err);
  /* a run's bulk load (sq_begin_bulk) keeps the database in the rollback
   * journal until its commit: wait for it as for a lock */
  for (int waited = 0; st == TSR_OK; waited += 20) {
    st = sq_pragma(q, "PRAGMA journal_mode = WAL", mode, sizeof mode);
    int busy = (sqlite3_errcode(q->db) & 0xff) == SQLITE_BUSY;
    if (st == TSR_OK || !busy || waited >= BUSY_MS) break;
    st = TSR_OK;
    sqlite3_sleep(20);
  }
  if (st == TSR_OK && strcmp(mode, "wal") != 0 && !(memory && !strcmp(mode, "memory")))
    st = tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL,
                       "store: open %s: cannot switch to WAL journal (got '%s')", target, mode);
  else if (st != TSR_OK)
    st = sq_fail(q, what, err);
  if (st == TSR_OK) st = sq_script(&q->base, "PRAGMA synchronous = NORMAL", what, err);
  if (st == TSR_OK) st = sq_script(&q->base, "PRAGMA foreign_keys = ON", what, err);
  if (st == TSR_OK) {
    char fk[8];
    if (sq_pragma(q, "PRAGMA foreign_keys", fk, sizeof fk) != TSR_OK || strcmp(fk, "1"))
      st = tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL,
                         "store: open %s: cannot enable foreign keys", target);
  }
  if (st != TSR_OK) {
    sq_close(&q->base);
    return st;
  }
  *out = &q->base;
  return TSR_OK;
}

static tsr_status sq_size(tsr__db *db, tsr_store_stats *out, tsr_error *err) {
  sq *q = (sq *)db;
  sq_pragma(q, "PRAGMA journal_mode", out->journal_mode, sizeof out->journal_mode);
  int64_t pages = 0, psize = 0;
  tsr_status st = tsr__one_i64(db, "PRAGMA page_count", NULL, 0, &pages, "stats", err);
  if (st == TSR_OK) st = tsr__one_i64(db, "PRAGMA page_size", NULL, 0, &psize, "stats", err);
  out->size_bytes = pages * psize;
  return st;
}

const tsr_store_methods tsr__store_sqlite_methods = {
    .version = TSR_STORE_METHODS_VERSION,
    .name = "sqlite",
    /* ID, ROWID (implicit), I64, INT, DBL, TEXT, TEXTC (BINARY is byte order) */
    .type_sql = {"INTEGER PRIMARY KEY", NULL, "INTEGER", "INTEGER", "REAL", "TEXT", "TEXT"},
    .rowid = "rowid", .without_rowid = " WITHOUT ROWID", .no_limit = "LIMIT -1",
    .least = "min", .greatest = "max", .trunc_int = "CAST(%s AS INTEGER)",
    .catalog_has = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
    .catalog_all = "SELECT count(*) FROM sqlite_master",
    TSR__BACKEND_FUNCS(sq),
    .begin_write = "BEGIN IMMEDIATE", /* takes the write lock: also serialises migrations */
    .random_reads = "PRAGMA cache_size = -65536",
    /* a finished run is durable: its commit fsyncs the WAL (and with it
     * every earlier commit of the run) */
    .durable_on = "PRAGMA synchronous = FULL", .durable_off = "PRAGMA synchronous = NORMAL",
    .load = sq_load,
    .begin_bulk = sq_begin_bulk,
};
