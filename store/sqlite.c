/*
 * sqlite.c - the SQLite back end of the store (store/store_int.h).
 *
 * One sqlite3 connection per handle, opened NOMUTEX (one thread at a time),
 * WAL journal (checked: the pragma must return "wal"), synchronous=NORMAL
 * (commits append to the WAL without fsync; durable at checkpoints), busy
 * timeout 5 s, foreign keys on. Every statement is prepared with bound
 * parameters; the frequent ones are prepared once per handle and reused.
 * The schema is built by the versioned migrations below and recorded in the
 * schema_version table. Times are INTEGER ms since the epoch (UTC).
 */
#include "store_int.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "store_web_sql.h"

/* ================================================================ schema */

typedef struct migration {
  int version;
  const char *description;
  const char *sql;
} migration;

/* Append-only: never edit a released migration, add a new one. Version 2+
 * will add users, sessions, tokens and requests (issue 6). */
static const migration migrations[] = {
    {1, "datasets, rejects, runs, customers, segments, models, events",
     "CREATE TABLE datasets (\n"
     "  id            INTEGER PRIMARY KEY,\n"
     "  created_at    INTEGER NOT NULL,\n"
     "  source        TEXT NOT NULL,\n"
     "  checksum      TEXT NOT NULL,\n"
     "  bytes         INTEGER NOT NULL DEFAULT 0,\n"
     "  rows_read     INTEGER NOT NULL DEFAULT 0,\n"
     "  rows_accepted INTEGER NOT NULL DEFAULT 0,\n"
     "  rows_rejected INTEGER NOT NULL DEFAULT 0,\n"
     "  duplicates    INTEGER NOT NULL DEFAULT 0,\n"
     "  refunds       INTEGER NOT NULL DEFAULT 0,\n"
     "  options       TEXT,\n"
     "  stored_path   TEXT\n"
     ");\n"
     "CREATE INDEX datasets_checksum ON datasets(checksum, id);\n"
     "CREATE TABLE rejects (\n"
     "  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,\n"
     "  line       INTEGER NOT NULL,\n"
     "  col        INTEGER NOT NULL DEFAULT 0,\n"
     "  field      TEXT,\n"
     "  reason     TEXT NOT NULL,\n"
     "  raw        TEXT\n"
     ");\n"
     "CREATE INDEX rejects_dataset ON rejects(dataset_id, line);\n"
     "CREATE TABLE runs (\n"
     "  id          INTEGER PRIMARY KEY,\n"
     "  dataset_id  INTEGER REFERENCES datasets(id) ON DELETE SET NULL,\n"
     "  created_at  INTEGER NOT NULL,\n"
     "  command     TEXT NOT NULL,\n"
     "  params      TEXT,\n"
     "  status      TEXT NOT NULL CHECK (status IN\n"
     "                ('running','done','failed','interrupted','canceled')),\n"
     "  started_at  INTEGER,\n"
     "  finished_at INTEGER,\n"
     "  timings     TEXT,\n"
     "  summary     TEXT,\n"
     "  error       TEXT,\n"
     "  output_dir  TEXT,\n"
     "  n_customers INTEGER NOT NULL DEFAULT 0\n"
     ");\n"
     "CREATE INDEX runs_created ON runs(created_at, id);\n"
     "CREATE INDEX runs_dataset ON runs(dataset_id);\n"
     "CREATE INDEX runs_status ON runs(status);\n"
     "CREATE TABLE customers (\n"
     "  run_id             INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
     "  customer_id        TEXT NOT NULL,\n"
     "  frequency          REAL,\n"
     "  recency            REAL,\n"
     "  T                  REAL,\n"
     "  monetary_value     REAL,\n"
     "  revenue            REAL,\n"
     "  n_transactions     INTEGER,\n"
     "  first_purchase     INTEGER,\n"
     "  last_purchase      INTEGER,\n"
     "  r_score            INTEGER,\n"
     "  f_score            INTEGER,\n"
     "  m_score            INTEGER,\n"
     "  rfm_cell           TEXT,\n"
     "  segment            TEXT,\n"
     "  cluster            INTEGER,\n"
     "  expected_purchases REAL,\n"
     "  p_alive            REAL,\n"
     "  clv                REAL,\n"
     "  clv_lo             REAL,\n"
     "  clv_hi             REAL,\n"
     "  extra              TEXT,\n"
     "  PRIMARY KEY (run_id, customer_id)\n"
     ") WITHOUT ROWID;\n"
     "CREATE TABLE segments (\n"
     "  run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
     "  scheme        TEXT NOT NULL,\n"
     "  segment       TEXT NOT NULL,\n"
     "  customers     INTEGER NOT NULL,\n"
     "  share         REAL,\n"
     "  mean_r        REAL,\n"
     "  mean_f        REAL,\n"
     "  mean_m        REAL,\n"
     "  revenue       REAL,\n"
     "  revenue_share REAL,\n"
     "  PRIMARY KEY (run_id, scheme, segment)\n"
     ");\n"
     "CREATE TABLE models (\n"
     "  id         INTEGER PRIMARY KEY,\n"
     "  run_id     INTEGER REFERENCES runs(id) ON DELETE SET NULL,\n"
     "  kind       TEXT NOT NULL,\n"
     "  version    INTEGER NOT NULL,\n"
     "  params     TEXT,\n"
     "  fit_stats  TEXT,\n"
     "  created_at INTEGER NOT NULL,\n"
     "  promoted   INTEGER NOT NULL DEFAULT 0 CHECK (promoted IN (0, 1)),\n"
     "  UNIQUE (kind, version)\n"
     ");\n"
     "CREATE UNIQUE INDEX models_promoted ON models(kind) WHERE promoted = 1;\n"
     "CREATE INDEX models_run ON models(run_id);\n"
     "CREATE TABLE events (\n"
     "  id          INTEGER PRIMARY KEY,\n"
     "  run_id      INTEGER REFERENCES runs(id) ON DELETE CASCADE,\n"
     "  ts          INTEGER NOT NULL,\n"
     "  level       TEXT NOT NULL CHECK (level IN ('info','warn','error')),\n"
     "  step        TEXT NOT NULL,\n"
     "  message     TEXT NOT NULL,\n"
     "  rows_in     INTEGER,\n"
     "  rows_out    INTEGER,\n"
     "  duration_ms REAL\n"
     ");\n"
     "CREATE INDEX events_run ON events(run_id, id);\n"},
    {2, "web accounts, sessions, API tokens, request log, uploads, histories (issue 6)",
     TSR__STORE_WEB_MIGRATION_2},
    {3, "run owners, request log repeats, login failures (issue 11)",
     "ALTER TABLE runs ADD COLUMN owner TEXT;\n"
     "ALTER TABLE web_requests ADD COLUMN repeats INTEGER NOT NULL DEFAULT 1;\n"
     "CREATE TABLE web_login_failures (\n"
     "  user_name TEXT NOT NULL,\n"
     "  address   TEXT NOT NULL,\n"
     "  fails     INTEGER NOT NULL,\n"
     "  first_ts  INTEGER NOT NULL,\n"
     "  last_ts   INTEGER NOT NULL,\n"
     "  PRIMARY KEY (user_name, address)\n"
     ");\n"},
};

#define LATEST_VERSION (migrations[TSR__ARRAY_LEN(migrations) - 1].version)

int tsr_store_schema_latest(void) { return LATEST_VERSION; }

/* ================================================================ statements */

/* The statements prepared once per handle and reused. */
#define STMTS(X)                                                               \
  X(BEGIN_IMM, "BEGIN IMMEDIATE")                                              \
  X(COMMIT, "COMMIT")                                                          \
  X(ROLLBACK, "ROLLBACK")                                                      \
  X(SAVEPOINT, "SAVEPOINT tsr_write")                                          \
  X(RELEASE, "RELEASE tsr_write")                                              \
  X(ROLLBACK_TO, "ROLLBACK TO tsr_write")                                      \
  X(DATASET_ADD,                                                               \
    "INSERT INTO datasets(created_at, source, checksum, bytes, rows_read,"     \
    " rows_accepted, rows_rejected, duplicates, refunds, options, stored_path)" \
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")                  \
  X(DATASET_UPDATE,                                                            \
    "UPDATE datasets SET bytes = ?2, rows_read = ?3, rows_accepted = ?4,"      \
    " rows_rejected = ?5, duplicates = ?6, refunds = ?7,"                      \
    " options = coalesce(?8, options), stored_path = coalesce(?9, stored_path)" \
    " WHERE id = ?1")                                                          \
  X(REJECT_ADD,                                                                \
    "INSERT INTO rejects(dataset_id, line, col, field, reason, raw)"           \
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)")                                        \
  X(DATASET_EXISTS, "SELECT 1 FROM datasets WHERE id = ?1")                    \
  X(RUN_ADD,                                                                   \
    "INSERT INTO runs(dataset_id, created_at, command, params, status,"        \
    " started_at, finished_at, timings, summary, error, output_dir)"           \
    " VALUES (?1, ?2, ?3, ?4, 'running', ?5, NULL, ?6, ?7, ?8, ?9)")           \
  X(RUN_SET,                                                                   \
    "UPDATE runs SET params = coalesce(?2, params),"                           \
    " output_dir = coalesce(?3, output_dir) WHERE id = ?1")                    \
  X(RUN_FINISH,                                                                \
    "UPDATE runs SET status = ?2, finished_at = ?3,"                           \
    " timings = coalesce(?4, timings), summary = coalesce(?5, summary),"       \
    " error = coalesce(?6, error) WHERE id = ?1")                              \
  X(RUNS_INTERRUPT,                                                            \
    "UPDATE runs SET status = 'interrupted', finished_at = ?1"                 \
    " WHERE status = 'running'")                                               \
  X(RUN_EXISTS, "SELECT 1 FROM runs WHERE id = ?1")                            \
  X(RUN_ADD_CUSTOMERS,                                                         \
    "UPDATE runs SET n_customers = n_customers + ?2 WHERE id = ?1")            \
  X(EVENT_ADD,                                                                 \
    "INSERT INTO events(run_id, ts, level, step, message, rows_in, rows_out,"  \
    " duration_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")                   \
  X(CUSTOMER_ADD,                                                              \
    "INSERT INTO customers(run_id, customer_id, frequency, recency, T,"        \
    " monetary_value, revenue, n_transactions, first_purchase, last_purchase," \
    " r_score, f_score, m_score, rfm_cell, segment, cluster,"                  \
    " expected_purchases, p_alive, clv, clv_lo, clv_hi, extra)"                \
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"    \
    " ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)")                                \
  X(SEGMENT_ADD,                                                               \
    "INSERT INTO segments(run_id, scheme, segment, customers, share, mean_r,"  \
    " mean_f, mean_m, revenue, revenue_share)"                                 \
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")                       \
  X(MODEL_NEXT_VERSION,                                                        \
    "SELECT coalesce(max(version), 0) + 1 FROM models WHERE kind = ?1")        \
  X(MODEL_ADD,                                                                 \
    "INSERT INTO models(run_id, kind, version, params, fit_stats, created_at," \
    " promoted) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)")                           \
  X(MODEL_KIND, "SELECT kind FROM models WHERE id = ?1")                       \
  X(MODEL_DEMOTE, "UPDATE models SET promoted = 0 WHERE kind = ?1 AND promoted = 1") \
  X(MODEL_PROMOTE, "UPDATE models SET promoted = 1 WHERE id = ?1")           \
  X(MODEL_SET_STATS, "UPDATE models SET fit_stats = ?2 WHERE id = ?1")         \
  X(DATASET_DELETE, "DELETE FROM datasets WHERE id = ?1")                      \
  X(RUN_DELETE, "DELETE FROM runs WHERE id = ?1")

enum {
#define X(name, sql) S_##name,
  STMTS(X)
#undef X
      S_COUNT
};

static const char *const stmt_sql[] = {
#define X(name, sql) sql,
    STMTS(X)
#undef X
};

#define QCACHE_SIZE 64 /* read queries kept prepared per handle */

typedef struct sq {
  sqlite3 *db;
  char *path;
  sqlite3_stmt *st[S_COUNT];
  sqlite3_stmt *cust_multi; /* multi-row customers INSERT, lazily built */
  struct {
    char *sql;
    sqlite3_stmt *st;
  } qc[QCACHE_SIZE]; /* read queries by SQL text (see query_stmt) */
  int nqc;
} sq;

/* TSR_ESTORE "store: <what>: <sqlite message>", read at once. */
static tsr_status sq_fail(sq *q, const char *what, tsr_error *err) {
  return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: %s",
                       what, sqlite3_errmsg(q->db));
}

/* The cached statement k, prepared on first use; NULL on failure (err set). */
static sqlite3_stmt *sq_stmt(sq *q, int k, tsr_error *err) {
  if (!q->st[k]) {
    if (sqlite3_prepare_v3(q->db, stmt_sql[k], -1, SQLITE_PREPARE_PERSISTENT,
                           &q->st[k], NULL) != SQLITE_OK) {
      sq_fail(q, "prepare", err);
      q->st[k] = NULL;
      return NULL;
    }
  }
  return q->st[k];
}

/* Steps st once expecting no row (or ignoring it), then resets it. */
static tsr_status sq_run(sq *q, sqlite3_stmt *st, const char *what,
                         tsr_error *err) {
  int rc = sqlite3_step(st);
  tsr_status s = TSR_OK;
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) s = sq_fail(q, what, err);
  sqlite3_reset(st);
  return s;
}

/* Runs the cached statement k (no parameters). */
static tsr_status sq_run_k(sq *q, int k, const char *what, tsr_error *err) {
  sqlite3_stmt *st = sq_stmt(q, k, err);
  if (!st) return TSR_ESTORE;
  return sq_run(q, st, what, err);
}

/* Runs SQL text without parameters (schema, pragmas). */
static tsr_status sq_exec(sq *q, const char *sql, const char *what,
                          tsr_error *err) {
  char *msg = NULL;
  if (sqlite3_exec(q->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    tsr_status s = tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL,
                                 "store: %s: %s", what,
                                 msg ? msg : sqlite3_errmsg(q->db));
    sqlite3_free(msg);
    return s;
  }
  return TSR_OK;
}

/* Binding helpers: NULL strings, NaN doubles and out-of-range sentinels
 * become SQL NULL. */
static void bind_text(sqlite3_stmt *st, int i, const char *s) {
  if (s)
    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i);
}
static void bind_dbl(sqlite3_stmt *st, int i, double v) {
  if (isnan(v))
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_double(st, i, v);
}
static void bind_i64_or_null(sqlite3_stmt *st, int i, int64_t v, int64_t null_below) {
  if (v < null_below)
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_int64(st, i, v);
}

static const char *col_text(sqlite3_stmt *st, int i) {
  return (const char *)sqlite3_column_text(st, i);
}
static double col_dbl(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}
static int64_t col_i64(sqlite3_stmt *st, int i, int64_t if_null) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? if_null : sqlite3_column_int64(st, i);
}

/* ================================================================ write transactions */

/* Starts an atomic write: BEGIN IMMEDIATE when no transaction is open (so a
 * read inside cannot make the later write fail with BUSY_SNAPSHOT), else a
 * savepoint inside the caller's transaction. *outer tells which. */
static tsr_status wr_begin(sq *q, int *outer, const char *what, tsr_error *err) {
  *outer = !sqlite3_get_autocommit(q->db);
  return sq_run_k(q, *outer ? S_SAVEPOINT : S_BEGIN_IMM, what, err);
}

/* Ends the write begun by wr_begin: commit/release when st is TSR_OK, else
 * roll back. Returns st, or the commit's failure. */
static tsr_status wr_end(sq *q, int outer, tsr_status st, const char *what,
                         tsr_error *err) {
  if (st == TSR_OK) {
    st = sq_run_k(q, outer ? S_RELEASE : S_COMMIT, what, err);
    if (st == TSR_OK) return TSR_OK;
  }
  /* Keep the first error message: roll back with a scratch error. */
  tsr_error scratch;
  if (outer) {
    sq_run_k(q, S_ROLLBACK_TO, what, &scratch);
    sq_run_k(q, S_RELEASE, what, &scratch);
  } else if (!sqlite3_get_autocommit(q->db)) {
    sq_run_k(q, S_ROLLBACK, what, &scratch);
  }
  return st;
}

/* ================================================================ open, migrate */

static int has_table(sq *q, const char *name, tsr_error *err, tsr_status *st) {
  sqlite3_stmt *s = NULL;
  *st = TSR_OK;
  if (sqlite3_prepare_v2(q->db,
                         "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                         -1, &s, NULL) != SQLITE_OK) {
    *st = sq_fail(q, "read schema", err);
    return 0;
  }
  sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) *st = sq_fail(q, "read schema", err);
  sqlite3_finalize(s);
  return rc == SQLITE_ROW;
}

static tsr_status sq_schema_version(void *impl, int *version, tsr_error *err) {
  sq *q = impl;
  tsr_status st;
  *version = 0;
  if (!has_table(q, "schema_version", err, &st)) return st;
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(q->db, "SELECT coalesce(max(version), 0) FROM schema_version",
                         -1, &s, NULL) != SQLITE_OK)
    return sq_fail(q, "read schema version", err);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW)
    *version = sqlite3_column_int(s, 0);
  else
    st = sq_fail(q, "read schema version", err);
  sqlite3_finalize(s);
  return st;
}

static tsr_status sq_migrate(void *impl, int *version, tsr_error *err) {
  sq *q = impl;
  if (!sqlite3_get_autocommit(q->db))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "store: migrate: not allowed inside a transaction");
  /* BEGIN IMMEDIATE serialises concurrent migrators; the version is read
   * again under the lock. */
  tsr_status st = sq_run_k(q, S_BEGIN_IMM, "migrate", err);
  if (st) return st;
  st = sq_exec(q,
               "CREATE TABLE IF NOT EXISTS schema_version (\n"
               "  version     INTEGER PRIMARY KEY,\n"
               "  applied_at  INTEGER NOT NULL,\n"
               "  description TEXT NOT NULL\n"
               ")",
               "migrate", err);
  int cur = 0;
  if (st == TSR_OK) st = sq_schema_version(q, &cur, err);
  if (st == TSR_OK && cur > LATEST_VERSION)
    st = tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL,
                       "store: %s: schema version %d is newer than this "
                       "tessera supports (%d)",
                       q->path, cur, LATEST_VERSION);
  for (size_t i = 0; st == TSR_OK && i < TSR__ARRAY_LEN(migrations); i++) {
    const migration *m = &migrations[i];
    if (m->version <= cur) continue;
    char what[64];
    snprintf(what, sizeof what, "migrate to version %d", m->version);
    st = sq_exec(q, m->sql, what, err);
    if (st) break;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(q->db,
                           "INSERT INTO schema_version(version, applied_at, description)"
                           " VALUES (?1, ?2, ?3)",
                           -1, &s, NULL) != SQLITE_OK) {
      st = sq_fail(q, what, err);
      break;
    }
    sqlite3_bind_int(s, 1, m->version);
    sqlite3_bind_int64(s, 2, tsr_store_now_ms());
    sqlite3_bind_text(s, 3, m->description, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE) st = sq_fail(q, what, err);
    sqlite3_finalize(s);
    cur = m->version;
  }
  st = wr_end(q, 0, st, "migrate", err);
  if (st == TSR_OK && version) *version = cur;
  return st;
}

static void sq_close(void *impl) {
  sq *q = impl;
  if (!q) return;
  for (int k = 0; k < S_COUNT; k++) sqlite3_finalize(q->st[k]);
  sqlite3_finalize(q->cust_multi);
  for (int k = 0; k < q->nqc; k++) {
    sqlite3_finalize(q->qc[k].st);
    tsr__free(q->qc[k].sql);
  }
  if (q->db) {
    if (!sqlite3_get_autocommit(q->db))
      sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(q->db);
  }
  tsr__free(q->path);
  tsr__free(q);
}

/* Runs a pragma that returns one text value, into buf. */
static tsr_status sq_pragma(sq *q, const char *sql, char *buf, size_t cap,
                            tsr_error *err) {
  sqlite3_stmt *s = NULL;
  buf[0] = '\0';
  if (sqlite3_prepare_v2(q->db, sql, -1, &s, NULL) != SQLITE_OK) return TSR_ESTORE;
  int rc = sqlite3_step(s);
  tsr_status st = TSR_OK;
  if (rc == SQLITE_ROW) {
    const char *v = col_text(s, 0);
    snprintf(buf, cap, "%s", v ? v : "");
  } else if (rc != SQLITE_DONE) {
    st = TSR_ESTORE;
  }
  sqlite3_finalize(s);
  (void)err;
  return st;
}

static tsr_status sq_open(const char *target, unsigned flags, void **impl,
                          tsr_error *err) {
  *impl = NULL;
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
      return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL,
                           "store: open %s: is a directory", target);
    } else if (sb.st_size == 0) {
      fresh = 1;
    }
  }
  sq *q = tsr__calloc(1, sizeof *q);
  if (!q) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "store: open: out of memory");
  q->path = tsr__strdup(target);
  if (!q->path) {
    tsr__free(q);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "store: open: out of memory");
  }
  int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (flags & TSR_STORE_CREATE) oflags |= SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(target, &q->db, oflags, NULL);
  if (rc != SQLITE_OK) {
    int sys = q->db ? sqlite3_system_errno(q->db) : 0;
    if (sys)
      tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: open %s: %s (%s)",
                    target, q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc),
                    strerror(sys));
    else
      tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: open %s: %s",
                    target, q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
    sq_close(q);
    return TSR_ESTORE;
  }
  sqlite3_extended_result_codes(q->db, 1);
  sqlite3_busy_timeout(q->db, 5000);

  char what[300];
  snprintf(what, sizeof what, "open %s", target);
  char mode[32];
  tsr_status st = TSR_OK;
  /* 16 KiB pages: a 1M-customer insert takes 25-30% less CPU than with the
   * default 4 KiB (fewer page splits and WAL frames; docs/store.md). Only
   * possible before the first table exists and before WAL is on. */
  if (fresh) st = sq_exec(q, "PRAGMA page_size = 16384", what, err);
  if (st == TSR_OK) st = sq_pragma(q, "PRAGMA journal_mode = WAL", mode, sizeof mode, err);
  if (st == TSR_OK && strcmp(mode, "wal") != 0 && !(memory && !strcmp(mode, "memory")))
    st = tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL,
                       "store: open %s: cannot switch to WAL journal (got '%s')",
                       target, mode);
  else if (st != TSR_OK)
    st = sq_fail(q, what, err);
  if (st == TSR_OK) st = sq_exec(q, "PRAGMA synchronous = NORMAL", what, err);
  if (st == TSR_OK) st = sq_exec(q, "PRAGMA foreign_keys = ON", what, err);
  if (st == TSR_OK) {
    char fk[8];
    if (sq_pragma(q, "PRAGMA foreign_keys", fk, sizeof fk, err) != TSR_OK || strcmp(fk, "1"))
      st = tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL,
                         "store: open %s: cannot enable foreign keys", target);
  }
  /* A database holding tables but no schema_version is not ours. */
  if (st == TSR_OK && !has_table(q, "schema_version", err, &st) && st == TSR_OK) {
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(q->db, "SELECT count(*) FROM sqlite_master", -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW)
      st = sq_fail(q, what, err);
    else if (sqlite3_column_int64(s, 0) > 0)
      st = tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL,
                         "store: open %s: not a tessera database (no "
                         "schema_version table)",
                         target);
    sqlite3_finalize(s);
  }
  if (st == TSR_OK) {
    int v = 0;
    if (flags & TSR_STORE_NO_MIGRATE) {
      st = sq_schema_version(q, &v, err);
      if (st == TSR_OK && v > LATEST_VERSION)
        st = tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL,
                           "store: %s: schema version %d is newer than this "
                           "tessera supports (%d)",
                           target, v, LATEST_VERSION);
    } else {
      st = sq_schema_version(q, &v, err);
      if (st == TSR_OK && v != LATEST_VERSION) st = sq_migrate(q, &v, err);
    }
  }
  if (st != TSR_OK) {
    sq_close(q);
    return st;
  }
  *impl = q;
  return TSR_OK;
}

static tsr_status count_rows(sq *q, const char *sql, int64_t *out, tsr_error *err) {
  sqlite3_stmt *s = NULL;
  *out = 0;
  if (sqlite3_prepare_v2(q->db, sql, -1, &s, NULL) != SQLITE_OK) return sq_fail(q, "stats", err);
  tsr_status st = TSR_OK;
  if (sqlite3_step(s) == SQLITE_ROW)
    *out = sqlite3_column_int64(s, 0);
  else
    st = sq_fail(q, "stats", err);
  sqlite3_finalize(s);
  return st;
}

static tsr_status sq_stats(void *impl, tsr_store_stats *out, tsr_error *err) {
  sq *q = impl;
  tsr_status st = sq_schema_version(q, &out->schema_version, err);
  if (st) return st;
  sq_pragma(q, "PRAGMA journal_mode", out->journal_mode, sizeof out->journal_mode, err);
  int64_t pages = 0, psize = 0;
  if ((st = count_rows(q, "PRAGMA page_count", &pages, err))) return st;
  if ((st = count_rows(q, "PRAGMA page_size", &psize, err))) return st;
  out->size_bytes = pages * psize;
  if (out->schema_version < 1) return TSR_OK;
  for (size_t i = 0; i < tsr__store_ncounts; i++) {
    int64_t v = 0;
    if ((st = count_rows(q, tsr__store_counts[i].sql, &v, err))) return st;
    memcpy((char *)out + tsr__store_counts[i].off, &v, sizeof v);
  }
  return TSR_OK;
}

/* ================================================================ transactions */

static tsr_status sq_begin(void *impl, tsr_error *err) {
  return sq_run_k(impl, S_BEGIN_IMM, "begin", err);
}
static tsr_status sq_commit(void *impl, tsr_error *err) {
  return sq_run_k(impl, S_COMMIT, "commit", err);
}
static tsr_status sq_rollback(void *impl, tsr_error *err) {
  return sq_run_k(impl, S_ROLLBACK, "rollback", err);
}
static int sq_in_transaction(void *impl) {
  sq *q = impl;
  return !sqlite3_get_autocommit(q->db);
}

/* Returns 1 when the cached "exists" statement k finds id, 0 when not, -1 on
 * error (err set). */
static int sq_exists(sq *q, int k, int64_t id, const char *what, tsr_error *err) {
  sqlite3_stmt *s = sq_stmt(q, k, err);
  if (!s) return -1;
  sqlite3_bind_int64(s, 1, id);
  int rc = sqlite3_step(s);
  int r = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
  if (r < 0) sq_fail(q, what, err);
  sqlite3_reset(s);
  return r;
}

/* ================================================================ datasets */

static tsr_status sq_dataset_add(void *impl, const tsr_dataset *d, int64_t *id,
                                 tsr_error *err) {
  sq *q = impl;
  sqlite3_stmt *s = sq_stmt(q, S_DATASET_ADD, err);
  if (!s) return TSR_ESTORE;
  sqlite3_bind_int64(s, 1, d->created_at);
  bind_text(s, 2, d->source);
  bind_text(s, 3, d->checksum);
  sqlite3_bind_int64(s, 4, d->bytes);
  sqlite3_bind_int64(s, 5, d->rows_read);
  sqlite3_bind_int64(s, 6, d->rows_accepted);
  sqlite3_bind_int64(s, 7, d->rows_rejected);
  sqlite3_bind_int64(s, 8, d->duplicates);
  sqlite3_bind_int64(s, 9, d->refunds);
  bind_text(s, 10, d->options);
  bind_text(s, 11, d->stored_path);
  tsr_status st = sq_run(q, s, "insert dataset", err);
  if (st == TSR_OK) *id = sqlite3_last_insert_rowid(q->db);
  return st;
}

static tsr_status sq_dataset_update(void *impl, const tsr_dataset *d,
                                    tsr_error *err) {
  sq *q = impl;
  sqlite3_stmt *s = sq_stmt(q, S_DATASET_UPDATE, err);
  if (!s) return TSR_ESTORE;
  sqlite3_bind_int64(s, 1, d->id);
  sqlite3_bind_int64(s, 2, d->bytes);
  sqlite3_bind_int64(s, 3, d->rows_read);
  sqlite3_bind_int64(s, 4, d->rows_accepted);
  sqlite3_bind_int64(s, 5, d->rows_rejected);
  sqlite3_bind_int64(s, 6, d->duplicates);
  sqlite3_bind_int64(s, 7, d->refunds);
  bind_text(s, 8, d->options);
  bind_text(s, 9, d->stored_path);
  tsr_status st = sq_run(q, s, "update dataset", err);
  if (st == TSR_OK && sqlite3_changes(q->db) == 0) return TSR_ENOTFOUND;
  return st;
}

static tsr_status sq_rejects_add(void *impl, int64_t dataset_id,
                                 const tsr_reject_row *rows, size_t n,
                                 tsr_error *err) {
  sq *q = impl;
  int outer;
  tsr_status st = wr_begin(q, &outer, "insert rejects", err);
  if (st) return st;
  int ex = sq_exists(q, S_DATASET_EXISTS, dataset_id, "insert rejects", err);
  if (ex < 0)
    st = TSR_ESTORE;
  else if (ex == 0)
    st = tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "dataset %lld: not found",
                       (long long)dataset_id);
  sqlite3_stmt *s = st ? NULL : sq_stmt(q, S_REJECT_ADD, err);
  if (!st && !s) st = TSR_ESTORE;
  if (s) sqlite3_bind_int64(s, 1, dataset_id);
  for (size_t i = 0; st == TSR_OK && i < n; i++) {
    const tsr_reject_row *r = &rows[i];
    sqlite3_bind_int64(s, 2, r->line);
    sqlite3_bind_int64(s, 3, r->column);
    bind_text(s, 4, r->field);
    bind_text(s, 5, r->reason);
    bind_text(s, 6, r->raw);
    st = sq_run(q, s, "insert rejects", err);
  }
  if (s) sqlite3_clear_bindings(s);
  return wr_end(q, outer, st, "insert rejects", err);
}

#define DATASET_COLS                                                        \
  "id, created_at, source, checksum, bytes, rows_read, rows_accepted,"      \
  " rows_rejected, duplicates, refunds, options, stored_path"

static void row_dataset(sqlite3_stmt *s, tsr_dataset *d) {
  d->id = sqlite3_column_int64(s, 0);
  d->created_at = sqlite3_column_int64(s, 1);
  d->source = col_text(s, 2);
  d->checksum = col_text(s, 3);
  d->bytes = sqlite3_column_int64(s, 4);
  d->rows_read = sqlite3_column_int64(s, 5);
  d->rows_accepted = sqlite3_column_int64(s, 6);
  d->rows_rejected = sqlite3_column_int64(s, 7);
  d->duplicates = sqlite3_column_int64(s, 8);
  d->refunds = sqlite3_column_int64(s, 9);
  d->options = col_text(s, 10);
  d->stored_path = col_text(s, 11);
}

/* Generic query loop: runs sql (from the handle's query cache when
 * possible), lets bind() bind, calls row() for each row until it returns
 * nonzero. found (may be NULL) counts rows. A callback may call back into
 * the store, even the same query: a statement still stepping is never
 * reused, a fresh one is prepared instead. */
typedef void (*bind_fn)(sqlite3_stmt *s, const void *args);
typedef void (*any_cb)(void); /* a tsr_store_*_cb, cast back by row_fn */
typedef int (*row_fn)(sqlite3_stmt *s, any_cb cb, void *ctx);

/* The cached statement for sql, or a new one (*cached tells which; a new
 * one is cached when there is room). NULL on failure (err set). */
static sqlite3_stmt *query_stmt(sq *q, const char *sql, const char *what,
                                int *cached, tsr_error *err) {
  *cached = 0;
  int i = 0;
  for (; i < q->nqc; i++) {
    if (strcmp(q->qc[i].sql, sql) != 0) continue;
    if (sqlite3_stmt_busy(q->qc[i].st)) break; /* re-entered: use a fresh one */
    *cached = 1;
    return q->qc[i].st;
  }
  int room = i == q->nqc && q->nqc < QCACHE_SIZE;
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v3(q->db, sql, -1, room ? SQLITE_PREPARE_PERSISTENT : 0, &s,
                         NULL) != SQLITE_OK) {
    sq_fail(q, what, err);
    return NULL;
  }
  if (room) {
    char *copy = tsr__strdup(sql);
    if (copy) {
      q->qc[q->nqc].sql = copy;
      q->qc[q->nqc].st = s;
      q->nqc++;
      *cached = 1;
    }
  }
  return s;
}

static tsr_status sq_query(sq *q, const char *sql, const char *what,
                           bind_fn bind, const void *args, row_fn row,
                           any_cb cb, void *ctx, int64_t *found,
                           tsr_error *err) {
  int cached;
  sqlite3_stmt *s = query_stmt(q, sql, what, &cached, err);
  if (!s) return TSR_ESTORE;
  if (bind) bind(s, args);
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
    if (row(s, cb, ctx)) break;
  }
  if (cached) {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  } else {
    sqlite3_finalize(s);
  }
  if (found) *found = k;
  return st;
}

typedef struct qargs {
  int64_t i1, i2, i3, i4;
  const char *t1, *t2;
} qargs;

static int row_dataset_cb(sqlite3_stmt *s, any_cb cb, void *ctx) {
  tsr_dataset d;
  row_dataset(s, &d);
  return ((tsr_store_dataset_cb)cb)(ctx, &d);
}

static void bind_dataset_get(sqlite3_stmt *s, const void *args) {
  const qargs *a = args;
  if (a->t1)
    sqlite3_bind_text(s, 1, a->t1, -1, SQLITE_STATIC);
  else
    sqlite3_bind_int64(s, 1, a->i1);
}

static tsr_status sq_dataset_get(void *impl, int64_t id, const char *checksum,
                                 tsr_store_dataset_cb cb, void *ctx,
                                 tsr_error *err) {
  qargs a = {.i1 = id, .t1 = checksum};
  int64_t n = 0;
  tsr_status st = sq_query(impl,
                           checksum ? "SELECT " DATASET_COLS " FROM datasets WHERE checksum = ?1"
                                      " ORDER BY id DESC LIMIT 1"
                                    : "SELECT " DATASET_COLS " FROM datasets WHERE id = ?1",
                           "get dataset", bind_dataset_get, &a, row_dataset_cb,
                           (any_cb)cb, ctx, &n, err);
  if (st == TSR_OK && n == 0) return TSR_ENOTFOUND;
  return st;
}

static void bind_page(sqlite3_stmt *s, const void *args) {
  const qargs *a = args;
  sqlite3_bind_int64(s, 1, a->i1);
  sqlite3_bind_int64(s, 2, a->i2 > 0 ? a->i2 : -1);
  sqlite3_bind_int64(s, 3, a->i3);
}

static tsr_status sq_datasets_list(void *impl, int64_t limit, int64_t offset,
                                   tsr_store_dataset_cb cb, void *ctx,
                                   tsr_error *err) {
  qargs a = {.i1 = 0, .i2 = limit, .i3 = offset};
  return sq_query(impl,
                  "SELECT " DATASET_COLS " FROM datasets WHERE ?1 = 0"
                  " ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3",
                  "list datasets", bind_page, &a, row_dataset_cb, (any_cb)cb,
                  ctx, NULL, err);
}

static int row_reject_cb(sqlite3_stmt *s, any_cb cb, void *ctx) {
  tsr_reject_row r;
  r.dataset_id = sqlite3_column_int64(s, 0);
  r.line = sqlite3_column_int64(s, 1);
  r.column = sqlite3_column_int64(s, 2);
  r.field = col_text(s, 3);
  r.reason = col_text(s, 4);
  r.raw = col_text(s, 5);
  return ((tsr_store_reject_cb)cb)(ctx, &r);
}

static tsr_status sq_rejects_list(void *impl, int64_t dataset_id, int64_t limit,
                                  int64_t offset, tsr_store_reject_cb cb,
                                  void *ctx, tsr_error *err) {
  qargs a = {.i1 = dataset_id, .i2 = limit, .i3 = offset};
  return sq_query(impl,
                  "SELECT dataset_id, line, col, field, reason, raw FROM rejects"
                  " WHERE dataset_id = ?1 ORDER BY line, rowid LIMIT ?2 OFFSET ?3",
                  "list rejects", bind_page, &a, row_reject_cb, (any_cb)cb, ctx,
                  NULL, err);
}

/* ================================================================ runs */

static tsr_status sq_run_add(void *impl, const tsr_run *r, int64_t *id,
                             tsr_error *err) {
  sq *q = impl;
  sqlite3_stmt *s = sq_stmt(q, S_RUN_ADD, err);
  if (!s) return TSR_ESTORE;
  bind_i64_or_null(s, 1, r->dataset_id, 1);
  sqlite3_bind_int64(s, 2, r->created_at);
  bind_text(s, 3, r->command);
  bind_text(s, 4, r->params);
  sqlite3_bind_int64(s, 5, r->started_at);
  bind_text(s, 6, r->timings);
  bind_text(s, 7, r->summary);
  bind_text(s, 8, r->error);
  bind_text(s, 9, r->output_dir);
  tsr_status st = sq_run(q, s, "insert run", err);
  if (st == TSR_OK) *id = sqlite3_last_insert_rowid(q->db);
  else if (sqlite3_extended_errcode(q->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
    st = tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "dataset %lld: not found",
                       (long long)r->dataset_id);
  return st;
}

static tsr_status sq_run_set(void *impl, int64_t id, const char *params,
                             const char *output_dir, tsr_error *err) {
  sq *q = impl;
  sqlite3_stmt *s = sq_stmt(q, S_RUN_SET, err);
  if (!s) return TSR_ESTORE;
  sqlite3_bind_int64(s, 1, id);
  bind_text(s, 2, params);
  bind_text(s, 3, output_dir);
  tsr_status st = sq_run(q, s, "update run", err);
  if (st == TSR_OK && sqlite3_changes(q->db) == 0) return TSR_ENOTFOUND;
  return st;
}

static tsr_status sq_run_finish(void *impl, int64_t id, tsr_run_status status,
                                int64_t finished_at, const char *timings,
                                const char *summary, const char *error,
                                tsr_error *err) {
  sq *q = impl;
  sqlite3_stmt *s = sq_stmt(q, S_RUN_FINISH, err);
  if (!s) return TSR_ESTORE;
  sqlite3_bind_int64(s, 1, id);
  sqlite3_bind_text(s, 2, tsr_run_status_name(status), -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, finished_at);
  bind_text(s, 4, timings);
  bind_text(s, 5, summary);
  bind_text(s, 6, error);
  tsr_status st = sq_run(q, s, "finish run", err);
  if (st == TSR_OK && sqlite3_changes(q->db) == 0) return TSR_ENOTFOUND;
  return st;
}

static tsr_status sq_runs_interrupt(void *impl, int64_t finished_at, int64_t *n,
                                    tsr_error *err) {
  sq *q = impl;
  sqlite3_stmt *s = sq_stmt(q, S_RUNS_INTERRUPT, err);
  if (!s) return TSR_ESTORE;
  sqlite3_bind_int64(s, 1, finished_at);
  tsr_status st = sq_run(q, s, "interrupt runs", err);
  if (st == TSR_OK) *n = sqlite3_changes64(q->db);
  return st;
}

#define RUN_SELECT                                                          \
  "SELECT r.id, r.dataset_id, r.created_at, r.command, r.params, r.status," \
  " r.started_at, r.finished_at, r.timings, r.summary, r.error,"            \
  " r.output_dir, r.n_customers, d.source"                                  \
  " FROM runs r LEFT JOIN datasets d ON d.id = r.dataset_id"

static int row_run_cb(sqlite3_stmt *s, any_cb cb, void *ctx) {
  tsr_run r;
  r.id = sqlite3_column_int64(s, 0);
  r.dataset_id = col_i64(s, 1, 0);
  r.created_at = sqlite3_column_int64(s, 2);
  r.command = col_text(s, 3);
  r.params = col_text(s, 4);
  r.status = TSR_RUN_FAILED;
  tsr_run_status_parse(col_text(s, 5), &r.status);
  r.started_at = col_i64(s, 6, 0);
  r.finished_at = col_i64(s, 7, 0);
  r.timings = col_text(s, 8);
  r.summary = col_text(s, 9);
  r.error = col_text(s, 10);
  r.output_dir = col_text(s, 11);
  r.n_customers = sqlite3_column_int64(s, 12);
  r.dataset_source = col_text(s, 13);
  return ((tsr_store_run_cb)cb)(ctx, &r);
}

static void bind_i1(sqlite3_stmt *s, const void *args) {
  sqlite3_bind_int64(s, 1, ((const qargs *)args)->i1);
}

static tsr_status sq_run_get(void *impl, int64_t id, tsr_store_run_cb cb,
                             void *ctx, tsr_error *err) {
  qargs a = {.i1 = id};
  int64_t n = 0;
  tsr_status st = sq_query(impl, RUN_SELECT " WHERE r.id = ?1", "get run", bind_i1,
                           &a, row_run_cb, (any_cb)cb, ctx, &n, err);
  if (st == TSR_OK && n == 0) return TSR_ENOTFOUND;
  return st;
}

static tsr_status sq_runs_list(void *impl, int64_t limit, int64_t offset,
                               tsr_store_run_cb cb, void *ctx, tsr_error *err) {
  qargs a = {.i1 = 0, .i2 = limit, .i3 = offset};
  return sq_query(impl,
                  RUN_SELECT " WHERE ?1 = 0 ORDER BY r.created_at DESC, r.id DESC"
                             " LIMIT ?2 OFFSET ?3",
                  "list runs", bind_page, &a, row_run_cb, (any_cb)cb, ctx, NULL,
                  err);
}

/* ================================================================ events */

static tsr_status sq_event_add(void *impl, const tsr_event *e, int64_t *id,
                               tsr_error *err) {
  sq *q = impl;
  sqlite3_stmt *s = sq_stmt(q, S_EVENT_ADD, err);
  if (!s) return TSR_ESTORE;
  bind_i64_or_null(s, 1, e->run_id, 1);
  sqlite3_bind_int64(s, 2, e->ts);
  sqlite3_bind_text(s, 3, tsr_log_level_name(e->level), -1, SQLITE_STATIC);
  bind_text(s, 4, e->step);
  bind_text(s, 5, e->message);
  bind_i64_or_null(s, 6, e->rows_in, 0);
  bind_i64_or_null(s, 7, e->rows_out, 0);
  if (isnan(e->duration_ms) || e->duration_ms < 0)
    sqlite3_bind_null(s, 8);
  else
    sqlite3_bind_double(s, 8, e->duration_ms);
  tsr_status st = sq_run(q, s, "insert event", err);
  if (st == TSR_OK) *id = sqlite3_last_insert_rowid(q->db);
  else if (sqlite3_extended_errcode(q->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
    st = tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "run %lld: not found",
                       (long long)e->run_id);
  return st;
}

static int row_event_cb(sqlite3_stmt *s, any_cb cb, void *ctx) {
  tsr_event e;
  e.id = sqlite3_column_int64(s, 0);
  e.run_id = col_i64(s, 1, 0);
  e.ts = sqlite3_column_int64(s, 2);
  e.level = TSR_LOG_INFO;
  tsr_log_level_parse(col_text(s, 3), &e.level);
  e.step = col_text(s, 4);
  e.message = col_text(s, 5);
  e.rows_in = col_i64(s, 6, -1);
  e.rows_out = col_i64(s, 7, -1);
  e.duration_ms = col_dbl(s, 8);
  return ((tsr_store_event_cb)cb)(ctx, &e);
}

static void bind_events(sqlite3_stmt *s, const void *args) {
  const qargs *a = args;
  if (a->i1 > 0) sqlite3_bind_int64(s, 1, a->i1);
  sqlite3_bind_int64(s, 2, a->i2);
}

static tsr_status sq_events_list(void *impl, int64_t run_id,
                                 tsr_log_level min_level, tsr_store_event_cb cb,
                                 void *ctx, tsr_error *err) {
  qargs a = {.i1 = run_id, .i2 = (int64_t)min_level};
#define EV_SELECT                                                            \
  "SELECT id, run_id, ts, level, step, message, rows_in, rows_out,"          \
  " duration_ms FROM events WHERE "
#define EV_LEVEL                                                             \
  " (CASE level WHEN 'error' THEN 2 WHEN 'warn' THEN 1 ELSE 0 END) >= ?2"
  return sq_query(impl,
                  run_id > 0 ? EV_SELECT "run_id = ?1 AND" EV_LEVEL " ORDER BY id"
                             : EV_SELECT EV_LEVEL " ORDER BY id",
                  "list events", bind_events, &a, row_event_cb, (any_cb)cb,
                  ctx, NULL, err);
#undef EV_SELECT
#undef EV_LEVEL
}

/* ================================================================ customers */

/* Checks that run id exists: TSR_ENOTFOUND "run N: not found". */
static tsr_status need_run(sq *q, int64_t id, const char *what, tsr_error *err) {
  int ex = sq_exists(q, S_RUN_EXISTS, id, what, err);
  if (ex < 0) return TSR_ESTORE;
  if (ex == 0)
    return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "run %lld: not found", (long long)id);
  return TSR_OK;
}

static int cmp_customer_ptr(const void *a, const void *b) {
  const tsr_customer *x = *(const tsr_customer *const *)a;
  const tsr_customer *y = *(const tsr_customer *const *)b;
  return strcmp(x->customer_id, y->customer_id);
}

typedef struct sort_item {
  uint64_t key; /* 8 bytes of the id after the common prefix, big-endian */
  size_t idx;
} sort_item;

/* The rows in key order: NULL when rows already are (then use rows as is),
 * else a new array of pointers sorted by customer_id in strcmp order (the
 * BINARY collation of the key). Appending in key order to the WITHOUT ROWID
 * b-tree is 3-4x faster than inserting at random places.
 * The sort is an LSD radix sort on the 8 bytes that follow the prefix all
 * ids share (zero-padded, so a shorter id sorts first, as in strcmp),
 * skipping byte positions where all keys agree; groups of equal keys are
 * then ordered with strcmp. *oom on allocation failure. */
static const tsr_customer **sorted_rows(const tsr_customer *rows, size_t n, int *oom) {
  *oom = 0;
  size_t i = 1;
  while (i < n && strcmp(rows[i - 1].customer_id, rows[i].customer_id) < 0) i++;
  if (i >= n) return NULL;
  const char *first = rows[0].customer_id;
  size_t d = strlen(first);
  for (i = 1; i < n && d > 0; i++) {
    const char *id = rows[i].customer_id;
    size_t k = 0;
    while (k < d && id[k] == first[k]) k++;
    d = k;
  }
  const tsr_customer **p = tsr__malloc(n * sizeof *p);
  sort_item *x = tsr__malloc(n * sizeof *x), *y = tsr__malloc(n * sizeof *y);
  if (!p || !x || !y) {
    tsr__free(p);
    tsr__free(x);
    tsr__free(y);
    *oom = 1;
    return NULL;
  }
  for (i = 0; i < n; i++) {
    const unsigned char *id = (const unsigned char *)rows[i].customer_id + d;
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
  for (i = 0; i < n; i++) p[i] = &rows[x[i].idx];
  for (i = 0; i < n;) { /* order runs of equal keys by the whole id */
    size_t j = i + 1;
    while (j < n && x[j].key == x[i].key) j++;
    if (j - i > 1) qsort(p + i, j - i, sizeof *p, cmp_customer_ptr);
    i = j;
  }
  tsr__free(x);
  tsr__free(y);
  return p;
}

/* Binds customer c to the 22 parameters starting at base+1 (run_id first). */
static void bind_customer(sqlite3_stmt *s, int base, int64_t run_id,
                          const tsr_customer *c) {
  sqlite3_bind_int64(s, base + 1, run_id);
  sqlite3_bind_text(s, base + 2, c->customer_id, -1, SQLITE_STATIC);
  bind_dbl(s, base + 3, c->frequency);
  bind_dbl(s, base + 4, c->recency);
  bind_dbl(s, base + 5, c->T);
  bind_dbl(s, base + 6, c->monetary_value);
  bind_dbl(s, base + 7, c->revenue);
  sqlite3_bind_int64(s, base + 8, c->n_transactions);
  sqlite3_bind_int64(s, base + 9, c->first_purchase);
  sqlite3_bind_int64(s, base + 10, c->last_purchase);
  bind_i64_or_null(s, base + 11, c->r_score, 1);
  bind_i64_or_null(s, base + 12, c->f_score, 1);
  bind_i64_or_null(s, base + 13, c->m_score, 1);
  bind_text(s, base + 14, c->rfm_cell);
  bind_text(s, base + 15, c->segment);
  bind_i64_or_null(s, base + 16, c->cluster, 0);
  bind_dbl(s, base + 17, c->expected_purchases);
  bind_dbl(s, base + 18, c->p_alive);
  bind_dbl(s, base + 19, c->clv);
  bind_dbl(s, base + 20, c->clv_lo);
  bind_dbl(s, base + 21, c->clv_hi);
  bind_text(s, base + 22, c->extra);
}

#define CUSTOMER_NCOLS 22
#define CUSTOMER_MULTI 32 /* rows per multi-row INSERT (704 parameters) */

/* The cached INSERT of CUSTOMER_MULTI rows (built from constant text). */
static sqlite3_stmt *customer_multi_stmt(sq *q, tsr_error *err) {
  if (q->cust_multi) return q->cust_multi;
  const char *head = stmt_sql[S_CUSTOMER_ADD];
  const char *values = strstr(head, " VALUES");
  size_t hlen = (size_t)(values - head);
  size_t cap = hlen + 16 + CUSTOMER_MULTI * (CUSTOMER_NCOLS * 2 + 4);
  char *sql = tsr__malloc(cap);
  if (!sql) {
    tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "store: insert customers: out of memory");
    return NULL;
  }
  size_t o = 0;
  memcpy(sql, head, hlen);
  o = hlen;
  o += (size_t)snprintf(sql + o, cap - o, " VALUES ");
  for (int r = 0; r < CUSTOMER_MULTI; r++) {
    sql[o++] = r ? ',' : ' ';
    sql[o++] = '(';
    for (int c = 0; c < CUSTOMER_NCOLS; c++) {
      if (c) sql[o++] = ',';
      sql[o++] = '?';
    }
    sql[o++] = ')';
  }
  sql[o] = '\0';
  if (sqlite3_prepare_v3(q->db, sql, (int)o, SQLITE_PREPARE_PERSISTENT, &q->cust_multi, NULL) != SQLITE_OK) {
    sq_fail(q, "prepare", err);
    q->cust_multi = NULL;
  }
  tsr__free(sql);
  return q->cust_multi;
}

/* Inserts the rows in key order, CUSTOMER_MULTI per statement (fewer VM
 * starts and resets per row), the tail one by one. */
static tsr_status sq_customers_add(void *impl, int64_t run_id,
                                   const tsr_customer *rows, size_t n,
                                   tsr_error *err) {
  sq *q = impl;
  const char *what = "insert customers";
  int oom;
  const tsr_customer **order = sorted_rows(rows, n, &oom);
  if (oom) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "store: %s: out of memory", what);
#define ROW(i) (order ? order[i] : &rows[i])
  /* in key order a repeated id is a neighbour: name it before SQLite would */
  for (size_t i = 1; order && i < n; i++) {
    if (!strcmp(order[i - 1]->customer_id, order[i]->customer_id)) {
      tsr_status st = tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, "customer_id",
                                    "store: %s: run %lld: customer '%.80s' appears twice",
                                    what, (long long)run_id, order[i]->customer_id);
      tsr__free(order);
      return st;
    }
  }
  int outer;
  tsr_status st = wr_begin(q, &outer, what, err);
  if (st) {
    tsr__free(order);
    return st;
  }
  st = need_run(q, run_id, what, err);
  size_t i = 0;
  if (st == TSR_OK && n >= CUSTOMER_MULTI) {
    sqlite3_stmt *m = customer_multi_stmt(q, err);
    if (!m) st = TSR_ESTORE;
    for (; st == TSR_OK && i + CUSTOMER_MULTI <= n; i += CUSTOMER_MULTI) {
      for (int r = 0; r < CUSTOMER_MULTI; r++)
        bind_customer(m, r * CUSTOMER_NCOLS, run_id, ROW(i + (size_t)r));
      if (sqlite3_step(m) != SQLITE_DONE) {
        if (sqlite3_extended_errcode(q->db) == SQLITE_CONSTRAINT_PRIMARYKEY)
          st = tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, "customer_id",
                             "store: %s: run %lld: customers '%.80s'..'%.80s' "
                             "overlap customers already stored",
                             what, (long long)run_id, ROW(i)->customer_id,
                             ROW(i + CUSTOMER_MULTI - 1)->customer_id);
        else
          st = sq_fail(q, what, err);
      }
      sqlite3_reset(m);
    }
    if (m) sqlite3_clear_bindings(m);
  }
  sqlite3_stmt *s = st || i == n ? NULL : sq_stmt(q, S_CUSTOMER_ADD, err);
  if (!st && i < n && !s) st = TSR_ESTORE;
  for (; st == TSR_OK && i < n; i++) {
    const tsr_customer *c = ROW(i);
    bind_customer(s, 0, run_id, c);
    if (sqlite3_step(s) != SQLITE_DONE) {
      if (sqlite3_extended_errcode(q->db) == SQLITE_CONSTRAINT_PRIMARYKEY)
        st = tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, "customer_id",
                           "store: %s: run %lld: customer '%.80s' appears twice",
                           what, (long long)run_id, c->customer_id);
      else
        st = sq_fail(q, what, err);
    }
    sqlite3_reset(s);
  }
#undef ROW
  if (s) sqlite3_clear_bindings(s);
  if (st == TSR_OK) {
    sqlite3_stmt *u = sq_stmt(q, S_RUN_ADD_CUSTOMERS, err);
    if (!u) {
      st = TSR_ESTORE;
    } else {
      sqlite3_bind_int64(u, 1, run_id);
      sqlite3_bind_int64(u, 2, (sqlite3_int64)n);
      st = sq_run(q, u, what, err);
    }
  }
  tsr__free(order);
  return wr_end(q, outer, st, what, err);
}

#define CUSTOMER_COLS                                                       \
  "customer_id, frequency, recency, T, monetary_value, revenue,"            \
  " n_transactions, first_purchase, last_purchase, r_score, f_score,"       \
  " m_score, rfm_cell, segment, cluster, expected_purchases, p_alive, clv," \
  " clv_lo, clv_hi, extra"

static int row_customer_cb(sqlite3_stmt *s, any_cb cb, void *ctx) {
  tsr_customer c;
  c.customer_id = col_text(s, 0);
  c.frequency = col_dbl(s, 1);
  c.recency = col_dbl(s, 2);
  c.T = col_dbl(s, 3);
  c.monetary_value = col_dbl(s, 4);
  c.revenue = col_dbl(s, 5);
  c.n_transactions = col_i64(s, 6, 0);
  c.first_purchase = col_i64(s, 7, 0);
  c.last_purchase = col_i64(s, 8, 0);
  c.r_score = (int)col_i64(s, 9, 0);
  c.f_score = (int)col_i64(s, 10, 0);
  c.m_score = (int)col_i64(s, 11, 0);
  c.rfm_cell = col_text(s, 12);
  c.segment = col_text(s, 13);
  c.cluster = col_i64(s, 14, -1);
  c.expected_purchases = col_dbl(s, 15);
  c.p_alive = col_dbl(s, 16);
  c.clv = col_dbl(s, 17);
  c.clv_lo = col_dbl(s, 18);
  c.clv_hi = col_dbl(s, 19);
  c.extra = col_text(s, 20);
  return ((tsr_store_customer_cb)cb)(ctx, &c);
}

/* Builds "WHERE ..." for q into buf (constant fragments only: user values
 * are bound as ?1 run, ?2 segment, ?3 cluster). */
static void customer_where(const tsr_customer_query *q, char *buf, size_t cap) {
  snprintf(buf, cap, " WHERE run_id = ?1%s%s", q->segment ? " AND segment = ?2" : "",
           q->cluster >= 0 ? " AND cluster = ?3" : "");
}

static void bind_customer_filter(sqlite3_stmt *s, const void *args) {
  const tsr_customer_query *q = args;
  sqlite3_bind_int64(s, 1, q->run_id);
  if (q->segment) sqlite3_bind_text(s, 2, q->segment, -1, SQLITE_STATIC);
  if (q->cluster >= 0) sqlite3_bind_int64(s, 3, q->cluster);
}

static void bind_customer_query(sqlite3_stmt *s, const void *args) {
  const tsr_customer_query *q = args;
  bind_customer_filter(s, q);
  sqlite3_bind_int64(s, 4, q->limit > 0 ? q->limit : -1);
  sqlite3_bind_int64(s, 5, q->offset);
}

static tsr_status sq_customers_list(void *impl, const tsr_customer_query *q,
                                    tsr_store_customer_cb cb, void *ctx,
                                    tsr_error *err) {
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
  char where[128], sql[512];
  customer_where(q, where, sizeof where);
  const char *dir = q->descending ? "DESC" : "ASC";
  if (q->sort == TSR_CUSTOMER_SORT_ID)
    snprintf(sql, sizeof sql,
             "SELECT " CUSTOMER_COLS " FROM customers%s ORDER BY customer_id %s"
             " LIMIT ?4 OFFSET ?5",
             where, dir);
  else
    snprintf(sql, sizeof sql,
             "SELECT " CUSTOMER_COLS " FROM customers%s ORDER BY %s %s,"
             " customer_id %s LIMIT ?4 OFFSET ?5",
             where, sort_cols[q->sort], dir, dir);
  return sq_query(impl, sql, "list customers", bind_customer_query, q,
                  row_customer_cb, (any_cb)cb, ctx, NULL, err);
}

static int row_count_cb(sqlite3_stmt *s, any_cb cb, void *ctx) {
  (void)cb;
  *(int64_t *)ctx = sqlite3_column_int64(s, 0);
  return 1;
}

static tsr_status sq_customers_count(void *impl, const tsr_customer_query *q,
                                     int64_t *n, tsr_error *err) {
  char where[128], sql[256];
  customer_where(q, where, sizeof where);
  snprintf(sql, sizeof sql, "SELECT count(*) FROM customers%s", where);
  *n = 0;
  return sq_query(impl, sql, "count customers", bind_customer_filter, q,
                  row_count_cb, NULL, n, NULL, err);
}

static void bind_customer_get(sqlite3_stmt *s, const void *args) {
  const qargs *a = args;
  sqlite3_bind_int64(s, 1, a->i1);
  sqlite3_bind_text(s, 2, a->t1, -1, SQLITE_STATIC);
}

static tsr_status sq_customer_get(void *impl, int64_t run_id,
                                  const char *customer_id,
                                  tsr_store_customer_cb cb, void *ctx,
                                  tsr_error *err) {
  qargs a = {.i1 = run_id, .t1 = customer_id};
  int64_t n = 0;
  tsr_status st = sq_query(impl,
                           "SELECT " CUSTOMER_COLS " FROM customers"
                           " WHERE run_id = ?1 AND customer_id = ?2",
                           "get customer", bind_customer_get, &a,
                           row_customer_cb, (any_cb)cb, ctx, &n, err);
  if (st == TSR_OK && n == 0) return TSR_ENOTFOUND;
  return st;
}

/* ================================================================ segments */

static tsr_status sq_segments_add(void *impl, int64_t run_id,
                                  const tsr_segment_row *rows, size_t n,
                                  tsr_error *err) {
  sq *q = impl;
  const char *what = "insert segments";
  int outer;
  tsr_status st = wr_begin(q, &outer, what, err);
  if (st) return st;
  st = need_run(q, run_id, what, err);
  sqlite3_stmt *s = st ? NULL : sq_stmt(q, S_SEGMENT_ADD, err);
  if (!st && !s) st = TSR_ESTORE;
  if (s) sqlite3_bind_int64(s, 1, run_id);
  for (size_t i = 0; st == TSR_OK && i < n; i++) {
    const tsr_segment_row *r = &rows[i];
    bind_text(s, 2, r->scheme);
    bind_text(s, 3, r->segment);
    sqlite3_bind_int64(s, 4, r->customers);
    bind_dbl(s, 5, r->share);
    bind_dbl(s, 6, r->mean_r);
    bind_dbl(s, 7, r->mean_f);
    bind_dbl(s, 8, r->mean_m);
    bind_dbl(s, 9, r->revenue);
    bind_dbl(s, 10, r->revenue_share);
    if (sqlite3_step(s) != SQLITE_DONE) {
      if (sqlite3_extended_errcode(q->db) == SQLITE_CONSTRAINT_PRIMARYKEY)
        st = tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, "segment",
                           "store: %s: run %lld: segment '%.80s' of scheme "
                           "'%.80s' appears twice",
                           what, (long long)run_id, r->segment, r->scheme);
      else
        st = sq_fail(q, what, err);
    }
    sqlite3_reset(s);
  }
  if (s) sqlite3_clear_bindings(s);
  return wr_end(q, outer, st, what, err);
}

static int row_segment_cb(sqlite3_stmt *s, any_cb cb, void *ctx) {
  tsr_segment_row r;
  r.scheme = col_text(s, 0);
  r.segment = col_text(s, 1);
  r.customers = sqlite3_column_int64(s, 2);
  r.share = col_dbl(s, 3);
  r.mean_r = col_dbl(s, 4);
  r.mean_f = col_dbl(s, 5);
  r.mean_m = col_dbl(s, 6);
  r.revenue = col_dbl(s, 7);
  r.revenue_share = col_dbl(s, 8);
  return ((tsr_store_segment_cb)cb)(ctx, &r);
}

static void bind_i1_t1(sqlite3_stmt *s, const void *args) {
  const qargs *a = args;
  sqlite3_bind_int64(s, 1, a->i1);
  if (a->t1) sqlite3_bind_text(s, 2, a->t1, -1, SQLITE_STATIC);
}

static tsr_status sq_segments_list(void *impl, int64_t run_id,
                                   const char *scheme, tsr_store_segment_cb cb,
                                   void *ctx, tsr_error *err) {
  qargs a = {.i1 = run_id, .t1 = scheme};
  return sq_query(impl,
                  scheme ? "SELECT scheme, segment, customers, share, mean_r, mean_f,"
                           " mean_m, revenue, revenue_share FROM segments"
                           " WHERE run_id = ?1 AND scheme = ?2"
                           " ORDER BY scheme, customers DESC, segment"
                         : "SELECT scheme, segment, customers, share, mean_r, mean_f,"
                           " mean_m, revenue, revenue_share FROM segments"
                           " WHERE run_id = ?1 ORDER BY scheme, customers DESC, segment",
                  "list segments", bind_i1_t1, &a, row_segment_cb, (any_cb)cb,
                  ctx, NULL, err);
}

/* ================================================================ models */

/* Makes model id (of kind) the only promoted one of its kind. */
static tsr_status promote(sq *q, int64_t id, const char *kind, const char *what,
                          tsr_error *err) {
  sqlite3_stmt *s = sq_stmt(q, S_MODEL_DEMOTE, err);
  if (!s) return TSR_ESTORE;
  sqlite3_bind_text(s, 1, kind, -1, SQLITE_TRANSIENT);
  tsr_status st = sq_run(q, s, what, err);
  if (st) return st;
  if (!(s = sq_stmt(q, S_MODEL_PROMOTE, err))) return TSR_ESTORE;
  sqlite3_bind_int64(s, 1, id);
  return sq_run(q, s, what, err);
}

static tsr_status sq_model_add(void *impl, const tsr_model *m, int64_t *id,
                               int64_t *version, tsr_error *err) {
  sq *q = impl;
  const char *what = "insert model";
  int outer;
  tsr_status st = wr_begin(q, &outer, what, err);
  if (st) return st;
  if (m->run_id > 0) st = need_run(q, m->run_id, what, err);
  int64_t ver = m->version;
  if (st == TSR_OK && ver == 0) {
    sqlite3_stmt *s = sq_stmt(q, S_MODEL_NEXT_VERSION, err);
    if (!s) {
      st = TSR_ESTORE;
    } else {
      sqlite3_bind_text(s, 1, m->kind, -1, SQLITE_STATIC);
      if (sqlite3_step(s) == SQLITE_ROW)
        ver = sqlite3_column_int64(s, 0);
      else
        st = sq_fail(q, what, err);
      sqlite3_reset(s);
    }
  }
  if (st == TSR_OK) {
    sqlite3_stmt *s = sq_stmt(q, S_MODEL_ADD, err);
    if (!s) {
      st = TSR_ESTORE;
    } else {
      bind_i64_or_null(s, 1, m->run_id, 1);
      bind_text(s, 2, m->kind);
      sqlite3_bind_int64(s, 3, ver);
      bind_text(s, 4, m->params);
      bind_text(s, 5, m->fit_stats);
      sqlite3_bind_int64(s, 6, m->created_at);
      if (sqlite3_step(s) != SQLITE_DONE) {
        if (sqlite3_extended_errcode(q->db) == SQLITE_CONSTRAINT_UNIQUE)
          st = tsr_error_set(err, TSR_EEXIST, NULL, 0, 0, "version",
                             "store: %s: %.40s version %lld already exists", what,
                             m->kind, (long long)ver);
        else
          st = sq_fail(q, what, err);
      }
      sqlite3_reset(s);
    }
  }
  int64_t nid = st == TSR_OK ? sqlite3_last_insert_rowid(q->db) : 0;
  if (st == TSR_OK && m->promoted) st = promote(q, nid, m->kind, what, err);
  st = wr_end(q, outer, st, what, err);
  if (st == TSR_OK) {
    *id = nid;
    *version = ver;
  }
  return st;
}

static tsr_status sq_model_promote(void *impl, int64_t id, tsr_error *err) {
  sq *q = impl;
  const char *what = "promote model";
  int outer;
  tsr_status st = wr_begin(q, &outer, what, err);
  if (st) return st;
  sqlite3_stmt *s = sq_stmt(q, S_MODEL_KIND, err);
  char kind[256] = "";
  if (!s) {
    st = TSR_ESTORE;
  } else {
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
      snprintf(kind, sizeof kind, "%s", col_text(s, 0));
    else if (rc == SQLITE_DONE)
      st = TSR_ENOTFOUND;
    else
      st = sq_fail(q, what, err);
    sqlite3_reset(s);
  }
  if (st == TSR_OK) st = promote(q, id, kind, what, err);
  return wr_end(q, outer, st, what, err);
}

static tsr_status sq_model_set_stats(void *impl, int64_t id, const char *fit_stats,
                                     tsr_error *err) {
  sq *q = impl;
  sqlite3_stmt *s = sq_stmt(q, S_MODEL_SET_STATS, err);
  if (!s) return TSR_ESTORE;
  sqlite3_bind_int64(s, 1, id);
  bind_text(s, 2, fit_stats);
  tsr_status st = sq_run(q, s, "update model", err);
  if (st == TSR_OK && sqlite3_changes(q->db) == 0) return TSR_ENOTFOUND;
  return st;
}

#define MODEL_COLS \
  "id, run_id, kind, version, params, fit_stats, created_at, promoted"

static int row_model_cb(sqlite3_stmt *s, any_cb cb, void *ctx) {
  tsr_model m;
  m.id = sqlite3_column_int64(s, 0);
  m.run_id = col_i64(s, 1, 0);
  m.kind = col_text(s, 2);
  m.version = sqlite3_column_int64(s, 3);
  m.params = col_text(s, 4);
  m.fit_stats = col_text(s, 5);
  m.created_at = sqlite3_column_int64(s, 6);
  m.promoted = sqlite3_column_int(s, 7);
  return ((tsr_store_model_cb)cb)(ctx, &m);
}

static void bind_model_get(sqlite3_stmt *s, const void *args) {
  const qargs *a = args;
  if (a->t1)
    sqlite3_bind_text(s, 1, a->t1, -1, SQLITE_STATIC);
  else
    sqlite3_bind_int64(s, 1, a->i1);
}

static tsr_status sq_model_get(void *impl, int64_t id, const char *kind,
                               tsr_store_model_cb cb, void *ctx,
                               tsr_error *err) {
  qargs a = {.i1 = id, .t1 = id > 0 ? NULL : kind};
  int64_t n = 0;
  tsr_status st = sq_query(impl,
                           a.t1 ? "SELECT " MODEL_COLS " FROM models WHERE kind = ?1 AND promoted = 1"
                                : "SELECT " MODEL_COLS " FROM models WHERE id = ?1",
                           "get model", bind_model_get, &a, row_model_cb,
                           (any_cb)cb, ctx, &n, err);
  if (st == TSR_OK && n == 0) return TSR_ENOTFOUND;
  return st;
}

static void bind_models_list(sqlite3_stmt *s, const void *args) {
  const qargs *a = args;
  sqlite3_bind_int64(s, 1, a->i1);
  if (a->t1) sqlite3_bind_text(s, 2, a->t1, -1, SQLITE_STATIC);
}

static tsr_status sq_models_list(void *impl, int64_t run_id, const char *kind,
                                 tsr_store_model_cb cb, void *ctx,
                                 tsr_error *err) {
  qargs a = {.i1 = run_id, .t1 = kind};
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT " MODEL_COLS " FROM models WHERE (?1 = 0 OR run_id = ?1)%s"
           " ORDER BY kind, version DESC",
           kind ? " AND kind = ?2" : "");
  return sq_query(impl, sql, "list models", bind_models_list, &a, row_model_cb,
                  (any_cb)cb, ctx, NULL, err);
}

/* ================================================================ deletes */

/* Runs the cached DELETE k for id in one write transaction; TSR_ENOTFOUND
 * when no row had that id. */
static tsr_status sq_delete(sq *q, int k, int64_t id, const char *what,
                            tsr_error *err) {
  int outer;
  tsr_status st = wr_begin(q, &outer, what, err);
  if (st) return st;
  sqlite3_stmt *s = sq_stmt(q, k, err);
  if (!s) {
    st = TSR_ESTORE;
  } else {
    sqlite3_bind_int64(s, 1, id);
    st = sq_run(q, s, what, err);
    if (st == TSR_OK && sqlite3_changes(q->db) == 0) st = TSR_ENOTFOUND;
  }
  return wr_end(q, outer, st, what, err);
}

static tsr_status sq_dataset_delete(void *impl, int64_t id, tsr_error *err) {
  return sq_delete(impl, S_DATASET_DELETE, id, "delete dataset", err);
}

static tsr_status sq_run_delete(void *impl, int64_t id, tsr_error *err) {
  return sq_delete(impl, S_RUN_DELETE, id, "delete run", err);
}

/* ================================================================ table */

/* ---------------------------------------------------------------- owners */

static tsr_status sq_run_owner_set(void *impl, int64_t id, const char *owner, tsr_error *err) {
  sq *q = impl;
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(q->db, "UPDATE runs SET owner = ?2 WHERE id = ?1", -1, &s, NULL) !=
      SQLITE_OK)
    return sq_fail(q, "set run owner", err);
  sqlite3_bind_int64(s, 1, id);
  sqlite3_bind_text(s, 2, owner, -1, SQLITE_STATIC);
  tsr_status st = sqlite3_step(s) == SQLITE_DONE ? TSR_OK : sq_fail(q, "set run owner", err);
  sqlite3_finalize(s);
  return st;
}

static tsr_status sq_runs_owned_list(void *impl,
                                     int (*cb)(void *ctx, int64_t id, const char *owner),
                                     void *ctx, tsr_error *err) {
  sq *q = impl;
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(q->db,
                         "SELECT id, owner FROM runs WHERE status = 'running' AND owner IS NOT NULL"
                         " ORDER BY id",
                         -1, &s, NULL) != SQLITE_OK)
    return sq_fail(q, "list run owners", err);
  tsr_status st = TSR_OK;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW)
    if (cb(ctx, sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1))) break;
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) st = sq_fail(q, "list run owners", err);
  sqlite3_finalize(s);
  return st;
}

const tsr_store_methods tsr__store_sqlite_methods = {
    .version = TSR_STORE_METHODS_VERSION,
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .migrate = sq_migrate,
    .stats = sq_stats,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .in_transaction = sq_in_transaction,
    .dataset_add = sq_dataset_add,
    .dataset_update = sq_dataset_update,
    .rejects_add = sq_rejects_add,
    .dataset_get = sq_dataset_get,
    .datasets_list = sq_datasets_list,
    .rejects_list = sq_rejects_list,
    .run_add = sq_run_add,
    .run_set = sq_run_set,
    .run_finish = sq_run_finish,
    .runs_interrupt = sq_runs_interrupt,
    .run_get = sq_run_get,
    .runs_list = sq_runs_list,
    .event_add = sq_event_add,
    .events_list = sq_events_list,
    .customers_add = sq_customers_add,
    .customers_list = sq_customers_list,
    .customers_count = sq_customers_count,
    .customer_get = sq_customer_get,
    .segments_add = sq_segments_add,
    .segments_list = sq_segments_list,
    .model_add = sq_model_add,
    .model_promote = sq_model_promote,
    .model_get = sq_model_get,
    .models_list = sq_models_list,
    .dataset_delete = sq_dataset_delete,
    .run_delete = sq_run_delete,
    .model_set_stats = sq_model_set_stats,
    .run_owner_set = sq_run_owner_set,
    .runs_owned_list = sq_runs_owned_list,
};

/* The SQLite connection of a handle of this back end (store/sqlite_web.c). */
struct sqlite3 *tsr__sqlite_db(void *impl) { return impl ? ((sq *)impl)->db : NULL; }
