/* test_store.c - the store (tessera/store.h), one suite for both back ends:
 * every object round-trips, migrations are idempotent, errors are worded,
 * hostile strings stay data, readers run beside a writer, and a
 * 200k-customer batch comes back intact.
 *
 * SQLite by default. With TSR_TEST_STORE_BACKEND=postgresql the same cases
 * run against the PostgreSQL server named by TSR_TEST_PG_HOST/PORT/USER
 * (tests/pg/with_pg.sh starts a throwaway one); each case gets a fresh
 * database. The few back-end specific checks (files, WAL pragma, libpq
 * errors) branch on use_pg. */
#include "tsr_test.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sqlite3.h>
#include <libpq-fe.h>

#include "internal.h"
#include "tessera/store.h"
#include "tessera/store_web.h"
#include "store_int.h"

/* ---------------------------------------------------------------- helpers */

static char tmpdir[256];

static int setup_dir(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/tsr_store_XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state) {
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static const char *dbpath(const char *name, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/%s", tmpdir, name);
  return buf;
}

/* ---------------------------------------------------------------- back end */

static int use_pg; /* TSR_TEST_STORE_BACKEND=postgresql */

static const char *envs(const char *k) {
  const char *v = getenv(k);
  return v ? v : "";
}

/* The PostgreSQL database name of a test database name ("conc.db" ->
 * "tsr_conc"). */
static void pg_dbname(const char *name, char *buf, size_t cap) {
  size_t o = (size_t)snprintf(buf, cap, "tsr_");
  for (const char *p = name; *p && *p != '.' && o + 1 < cap; p++)
    buf[o++] = (char)((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ? *p : '_');
  buf[o] = '\0';
}

/* URL of database `db` on the test server. */
static const char *pg_url(const char *db, char *buf, size_t cap) {
  snprintf(buf, cap, "postgresql://%s@/%s?host=%s&port=%s", envs("TSR_TEST_PG_USER"), db,
           envs("TSR_TEST_PG_HOST"), envs("TSR_TEST_PG_PORT"));
  return buf;
}

static void no_notices(void *arg, const char *msg) {
  (void)arg;
  (void)msg;
}

/* Runs sql on database db of the test server; fails the test on error. */
static void pg_sql(const char *db, const char *sql) {
  char url[600];
  PGconn *c = PQconnectdb(pg_url(db, url, sizeof url));
  if (PQstatus(c) != CONNECTION_OK) fail_msg("connect %s: %s", url, PQerrorMessage(c));
  PQsetNoticeProcessor(c, no_notices, NULL);
  PGresult *r = PQexec(c, sql);
  ExecStatusType es = PQresultStatus(r);
  if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) fail_msg("%s: %s", sql, PQerrorMessage(c));
  PQclear(r);
  PQfinish(c);
}

/* One integer from sql on database db. */
static long long pg_int(const char *db, const char *sql) {
  char url[600];
  PGconn *c = PQconnectdb(pg_url(db, url, sizeof url));
  if (PQstatus(c) != CONNECTION_OK) fail_msg("connect %s: %s", url, PQerrorMessage(c));
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) fail_msg("%s: %s", sql, PQerrorMessage(c));
  long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  PQfinish(c);
  return v;
}

/* Drops and creates the database of test database `name`. */
static void pg_fresh(const char *name) {
  char db[64], sql[200];
  pg_dbname(name, db, sizeof db);
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
  pg_sql("postgres", sql);
  snprintf(sql, sizeof sql, "CREATE DATABASE %s STRATEGY FILE_COPY", db);
  pg_sql("postgres", sql);
}

/* The store URL of test database `name` on the back end under test. */
static const char *db_url(const char *name, char *buf, size_t cap) {
  if (!use_pg) return dbpath(name, buf, cap);
  char db[64];
  pg_dbname(name, db, sizeof db);
  return pg_url(db, buf, cap);
}

/* Fails the test printing the error when st is not TSR_OK. */
static void check_ok(tsr_status st, const tsr_error *e, const char *expr,
                     int line) {
  if (st != TSR_OK) {
    char buf[1024];
    tsr_error_format(e, buf, sizeof buf);
    fail_msg("line %d: %s returned %s: %s", line, expr, tsr_status_name(st), buf);
  }
}
#define OK(expr)                                   \
  do {                                             \
    tsr_error_clear(&err);                         \
    tsr_status s__ = (expr);                       \
    check_ok(s__, &err, #expr, __LINE__);          \
  } while (0)

static tsr_store *open_new(const char *name) {
  char p[600];
  tsr_store *s = NULL;
  tsr_error err;
  if (use_pg) pg_fresh(name);
  OK(tsr_store_open(db_url(name, p, sizeof p), TSR_STORE_CREATE, &s, &err));
  return s;
}

static void assert_str_eq_null(const char *a, const char *b) {
  if (!a || !b) {
    if (a != b) fail_msg("'%s' != '%s'", a ? a : "(null)", b ? b : "(null)");
    return;
  }
  assert_string_equal(a, b);
}

/* Doubles equal, NaN equal to NaN. */
static void assert_dbl_same(double a, double b) {
  if (isnan(a) && isnan(b)) return;
  if (a != b) fail_msg("%.17g != %.17g", a, b);
}

/* ---------------------------------------------------------------- open */

static void test_default_url(void **state) {
  (void)state;
  unsetenv("TESSERA_DB");
  assert_string_equal(tsr_store_default_url(NULL), "tessera.db");
  assert_string_equal(tsr_store_default_url(""), "tessera.db");
  setenv("TESSERA_DB", "/x/env.db", 1);
  assert_string_equal(tsr_store_default_url(NULL), "/x/env.db");
  assert_string_equal(tsr_store_default_url("opt.db"), "opt.db");
  unsetenv("TESSERA_DB");
  char b[128];
  assert_string_equal(tsr_store_url_display("postgresql://u:pw@h:5432/db", b, sizeof b), "postgresql://u@h:5432/db");
  assert_string_equal(tsr_store_url_display("postgresql:///db?password=pw&host=/tmp", b, sizeof b),
                      "postgresql:///db?password=&host=/tmp");
  assert_string_equal(tsr_store_url_display("postgresql://h/db?password=pw", b, sizeof b), "postgresql://h/db?password=");
  assert_string_equal(tsr_store_url_display("a/b.db", b, sizeof b), "a/b.db");
  assert_string_equal(tsr_store_data_dir("x/t.db", NULL, b, sizeof b), "x/t.db.files");
  assert_string_equal(tsr_store_data_dir("sqlite:t.db", NULL, b, sizeof b), "t.db.files");
  assert_string_equal(tsr_store_data_dir("postgresql://h/db", NULL, b, sizeof b), "tessera-data");
  assert_string_equal(tsr_store_data_dir("postgresql://h/db", "/srv/d", b, sizeof b), "/srv/d");
}

/* PostgreSQL: connection failures are TSR_ESTORE with libpq's message and
 * never the password; a foreign database is refused. */
static void test_open_errors_pg(void) {
  char url[600], db[64];
  tsr_store *s = NULL;
  tsr_error err;
  snprintf(url, sizeof url, "postgresql://%s:secret@/tsr_no_such_db?host=%s&port=%s",
           envs("TSR_TEST_PG_USER"), envs("TSR_TEST_PG_HOST"), envs("TSR_TEST_PG_PORT"));
  assert_int_equal(tsr_store_open(url, 0, &s, &err), TSR_ESTORE);
  assert_null(s);
  assert_null(strstr(err.msg, "secret"));
  assert_non_null(strstr(err.msg, "store: open postgresql://"));
  assert_non_null(strstr(err.msg, "tsr_no_such_db"));
  pg_fresh("foreign.db");
  pg_dbname("foreign.db", db, sizeof db);
  pg_sql(db, "CREATE TABLE t(x int)");
  assert_int_equal(tsr_store_open(db_url("foreign.db", url, sizeof url), 0, &s, &err), TSR_ESTORE);
  assert_non_null(strstr(err.msg, "not a tessera database"));
  assert_int_equal(tsr_store_open("mysql://h/db", 0, &s, &err), TSR_EINVAL);
  s = open_new("ok.db");
  assert_string_equal(tsr_store_backend(s), "postgresql");
  tsr_store_close(s);
}

static void test_open_errors(void **state) {
  (void)state;
  if (use_pg) {
    test_open_errors_pg();
    return;
  }
  char p[512], msg[1024];
  tsr_store *s = NULL;
  tsr_error err;

  /* missing without CREATE */
  dbpath("missing.db", p, sizeof p);
  assert_int_equal(tsr_store_open(p, 0, &s, &err), TSR_ESTORE);
  assert_null(s);
  snprintf(msg, sizeof msg, "store: open %s: database does not exist", p);
  assert_string_equal(err.msg, msg);
  assert_int_equal(access(p, F_OK), -1); /* not created */

  /* bad directory with CREATE */
  dbpath("no/such/dir/x.db", p, sizeof p);
  assert_int_equal(tsr_store_open(p, TSR_STORE_CREATE, &s, &err), TSR_ESTORE);
  snprintf(msg, sizeof msg, "store: open %s: unable to open database file", p);
  assert_non_null(strstr(err.msg, msg));

  /* a directory */
  assert_int_equal(tsr_store_open(tmpdir, 0, &s, &err), TSR_ESTORE);
  assert_non_null(strstr(err.msg, "is a directory"));

  /* a corrupt file */
  dbpath("corrupt.db", p, sizeof p);
  FILE *f = fopen(p, "wb");
  for (int i = 0; i < 200; i++) fputs("this is not a database at all\n", f);
  fclose(f);
  assert_int_equal(tsr_store_open(p, 0, &s, &err), TSR_ESTORE);
  snprintf(msg, sizeof msg, "store: open %s: file is not a database", p);
  assert_string_equal(err.msg, msg);

  /* a foreign SQLite database */
  dbpath("foreign.db", p, sizeof p);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  assert_int_equal(tsr_store_open(p, 0, &s, &err), TSR_ESTORE);
  assert_non_null(strstr(err.msg, "not a tessera database"));

  /* URLs (postgresql:// is covered by the PostgreSQL run of this suite) */
  assert_int_equal(tsr_store_open("mysql://h/db", 0, &s, &err), TSR_EINVAL);
  assert_non_null(strstr(err.msg, "unknown database URL scheme 'mysql'"));
  assert_int_equal(tsr_store_open("", 0, &s, &err), TSR_EINVAL);
  assert_int_equal(tsr_store_open("sqlite:", 0, &s, &err), TSR_EINVAL);

  /* sqlite: prefix works */
  char url[600];
  snprintf(url, sizeof url, "sqlite:%s", dbpath("prefixed.db", p, sizeof p));
  OK(tsr_store_open(url, TSR_STORE_CREATE, &s, &err));
  assert_string_equal(tsr_store_backend(s), "sqlite");
  tsr_store_close(s);
  assert_int_equal(access(p, F_OK), 0);
  tsr_store_close(NULL);
  tsr_store_free(NULL);
}

/* PostgreSQL: schema_version rows, a future schema refused, an empty
 * database brought up by migrate. */
static void test_migrations_pg(void) {
  char p[600];
  tsr_error err;
  tsr_store *s = open_new("mig.db");
  tsr_store_stats stats;
  OK(tsr_store_stats_get(s, &stats, &err));
  assert_string_equal(stats.backend, "postgresql");
  assert_int_equal(stats.schema_version, tsr_store_schema_latest());
  assert_int_equal(stats.runs, 0);
  assert_true(stats.size_bytes > 0);
  int v = -1;
  OK(tsr_store_migrate(s, &v, &err));
  assert_int_equal(v, tsr_store_schema_latest());
  tsr_store_close(s);
  tsr_store *a = NULL, *b = NULL;
  OK(tsr_store_open(db_url("mig.db", p, sizeof p), 0, &a, &err));
  OK(tsr_store_open(p, TSR_STORE_NO_MIGRATE, &b, &err));
  OK(tsr_store_schema_version(b, &v, &err));
  assert_int_equal(v, tsr_store_schema_latest());
  tsr_store_close(a);
  tsr_store_close(b);
  assert_int_equal(pg_int("tsr_mig", "SELECT count(*) FROM schema_version"), tsr_store_schema_latest());
  pg_sql("tsr_mig", "INSERT INTO schema_version VALUES (999, 0, 'future')");
  assert_int_equal(tsr_store_open(p, 0, &a, &err), TSR_ESTORE);
  assert_non_null(strstr(err.msg, "schema version 999 is newer"));
  pg_fresh("empty.db");
  OK(tsr_store_open(db_url("empty.db", p, sizeof p), TSR_STORE_NO_MIGRATE, &a, &err));
  OK(tsr_store_schema_version(a, &v, &err));
  assert_int_equal(v, 0);
  OK(tsr_store_migrate(a, &v, &err));
  assert_int_equal(v, tsr_store_schema_latest());
  tsr_store_close(a);
}

static void test_wal_and_migrations(void **state) {
  (void)state;
  if (use_pg) {
    test_migrations_pg();
    return;
  }
  char p[512];
  tsr_error err;
  tsr_store *s = open_new("mig.db");
  tsr_store_stats stats;
  OK(tsr_store_stats_get(s, &stats, &err));
  assert_string_equal(stats.journal_mode, "wal");
  assert_int_equal(stats.schema_version, tsr_store_schema_latest());
  assert_int_equal(stats.schema_latest, tsr_store_schema_latest());
  assert_int_equal(stats.runs, 0);
  int v = -1;
  OK(tsr_store_migrate(s, &v, &err)); /* again: no-op */
  assert_int_equal(v, tsr_store_schema_latest());
  tsr_store_close(s);

  /* open twice more, with and without migration */
  tsr_store *a = NULL, *b = NULL;
  dbpath("mig.db", p, sizeof p);
  OK(tsr_store_open(p, 0, &a, &err));
  OK(tsr_store_open(p, TSR_STORE_NO_MIGRATE, &b, &err));
  OK(tsr_store_schema_version(b, &v, &err));
  assert_int_equal(v, tsr_store_schema_latest());
  tsr_store_close(a);
  tsr_store_close(b);

  /* the file itself says WAL, and schema_version has one row per version */
  sqlite3 *db;
  assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
  sqlite3_finalize(st);
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 16384); /* chosen at creation */
  sqlite3_finalize(st);
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), max(version) FROM schema_version", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), tsr_store_schema_latest());
  assert_int_equal(sqlite3_column_int(st, 1), tsr_store_schema_latest());
  sqlite3_finalize(st);
  /* a database from the future is refused */
  assert_int_equal(sqlite3_exec(db, "INSERT INTO schema_version VALUES (999, 0, 'future')", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  assert_int_equal(tsr_store_open(p, 0, &a, &err), TSR_ESTORE);
  assert_non_null(strstr(err.msg, "schema version 999 is newer"));

  /* an empty database with NO_MIGRATE stays at version 0, migrate brings it up */
  OK(tsr_store_open(dbpath("empty.db", p, sizeof p), TSR_STORE_CREATE | TSR_STORE_NO_MIGRATE, &a, &err));
  OK(tsr_store_schema_version(a, &v, &err));
  assert_int_equal(v, 0);
  OK(tsr_store_migrate(a, &v, &err));
  assert_int_equal(v, tsr_store_schema_latest());
  tsr_store_close(a);
}

/* ---------------------------------------------------------------- datasets */

typedef struct collect {
  int n;
  char buf[16][256];
  int64_t ids[16];
} collect;

static int collect_dataset(void *ctx, const tsr_dataset *d) {
  collect *c = ctx;
  if (c->n < 16) {
    c->ids[c->n] = d->id;
    snprintf(c->buf[c->n], 256, "%s", d->source);
  }
  c->n++;
  return 0;
}

static int collect_reject(void *ctx, const tsr_reject_row *r) {
  collect *c = ctx;
  if (c->n < 16) {
    c->ids[c->n] = r->line;
    snprintf(c->buf[c->n], 256, "%lld|%s|%s|%s", (long long)r->column,
             r->field ? r->field : "(null)", r->reason, r->raw ? r->raw : "(null)");
  }
  c->n++;
  return 0;
}

static void test_dataset_roundtrip(void **state) {
  (void)state;
  tsr_error err;
  tsr_store *s = open_new("ds.db");
  tsr_dataset d = {.created_at = 1700000000123,
                   .source = "tx.csv",
                   .checksum = "ab12cd",
                   .bytes = 12345,
                   .rows_read = 100,
                   .rows_accepted = 95,
                   .rows_rejected = 5,
                   .duplicates = 2,
                   .refunds = 3,
                   .options = "{\"customer_col\":\"id\",\"date_format\":\"%d/%m/%Y\"}",
                   .stored_path = "/var/lib/tessera/1.csv"};
  int64_t id = 0;
  OK(tsr_store_dataset_add(s, &d, &id, &err));
  assert_true(id > 0);
  tsr_dataset *g = NULL;
  OK(tsr_store_dataset_get(s, id, &g, &err));
  assert_int_equal(g->id, id);
  assert_int_equal(g->created_at, d.created_at);
  assert_string_equal(g->source, d.source);
  assert_string_equal(g->checksum, d.checksum);
  assert_int_equal(g->bytes, 12345);
  assert_int_equal(g->rows_read, 100);
  assert_int_equal(g->rows_accepted, 95);
  assert_int_equal(g->rows_rejected, 5);
  assert_int_equal(g->duplicates, 2);
  assert_int_equal(g->refunds, 3);
  assert_string_equal(g->options, d.options);
  assert_string_equal(g->stored_path, d.stored_path);
  tsr_store_free(g);

  /* second dataset with NULLs and default time; update; find by checksum */
  tsr_dataset d2 = {.source = "upload.csv", .checksum = "ab12cd"};
  int64_t id2 = 0;
  int64_t before = tsr_store_now_ms();
  OK(tsr_store_dataset_add(s, &d2, &id2, &err));
  OK(tsr_store_dataset_find(s, "ab12cd", &g, &err));
  assert_int_equal(g->id, id2);
  assert_true(g->created_at >= before && g->created_at <= tsr_store_now_ms());
  assert_null(g->options);
  assert_null(g->stored_path);
  tsr_store_free(g);
  d2.id = id2;
  d2.rows_read = 7;
  d2.stored_path = "/data/2.csv";
  OK(tsr_store_dataset_update(s, &d2, &err));
  OK(tsr_store_dataset_get(s, id2, &g, &err));
  assert_int_equal(g->rows_read, 7);
  assert_string_equal(g->stored_path, "/data/2.csv");
  tsr_store_free(g);

  collect c = {0};
  OK(tsr_store_datasets_list(s, 0, 0, collect_dataset, &c, &err));
  assert_int_equal(c.n, 2);
  assert_int_equal(c.ids[0], id2); /* newest first */
  assert_int_equal(c.ids[1], id);

  /* rejects */
  tsr_reject_row rj[3] = {
      {0, 12, 3, "amount", "amount: expected a number, got '12,50'", "C1,2020-01-01,\"12,50\""},
      {0, 4, 0, NULL, "wrong field count: expected 3, got 2", NULL},
      {0, 40, 2, "date", "date: out of range", "x"},
  };
  OK(tsr_store_rejects_add(s, id, rj, 3, &err));
  memset(&c, 0, sizeof c);
  OK(tsr_store_rejects_list(s, id, 0, 0, collect_reject, &c, &err));
  assert_int_equal(c.n, 3);
  assert_int_equal(c.ids[0], 4);
  assert_string_equal(c.buf[0], "0|(null)|wrong field count: expected 3, got 2|(null)");
  assert_int_equal(c.ids[1], 12);
  assert_string_equal(c.buf[1], "3|amount|amount: expected a number, got '12,50'|C1,2020-01-01,\"12,50\"");
  memset(&c, 0, sizeof c);
  OK(tsr_store_rejects_list(s, id, 1, 2, collect_reject, &c, &err));
  assert_int_equal(c.n, 1);
  assert_int_equal(c.ids[0], 40);

  /* errors */
  assert_int_equal(tsr_store_dataset_get(s, 999, &g, &err), TSR_ENOTFOUND);
  assert_string_equal(err.msg, "dataset 999: not found");
  assert_null(g);
  assert_int_equal(tsr_store_rejects_add(s, 999, rj, 1, &err), TSR_ENOTFOUND);
  assert_string_equal(err.msg, "dataset 999: not found");
  tsr_dataset bad = {.source = "x", .checksum = "y", .options = "{not json"};
  assert_int_equal(tsr_store_dataset_add(s, &bad, NULL, &err), TSR_EINVAL);
  assert_string_equal(err.field, "options");
  assert_non_null(strstr(err.msg, "insert dataset: invalid JSON"));
  tsr_dataset nosrc = {.checksum = "y"};
  assert_int_equal(tsr_store_dataset_add(s, &nosrc, NULL, &err), TSR_EINVAL);
  assert_string_equal(err.field, "source");
  tsr_store_close(s);
}

/* ---------------------------------------------------------------- runs */

static int collect_run(void *ctx, const tsr_run *r) {
  collect *c = ctx;
  if (c->n < 16) {
    c->ids[c->n] = r->id;
    snprintf(c->buf[c->n], 256, "%s|%s|%s|%lld", r->command,
             tsr_run_status_name(r->status),
             r->dataset_source ? r->dataset_source : "(null)",
             (long long)r->n_customers);
  }
  c->n++;
  return 0;
}

static void test_run_roundtrip(void **state) {
  (void)state;
  tsr_error err;
  tsr_store *s = open_new("runs.db");
  tsr_dataset d = {.source = "tx.csv", .checksum = "00ff"};
  int64_t did = 0;
  OK(tsr_store_dataset_add(s, &d, &did, &err));

  tsr_run r = {.dataset_id = did,
               .created_at = 1700000000000,
               .command = "analyze",
               .params = "{\"freq\":\"D\",\"multiplier\":7}",
               .started_at = 1700000000500,
               .output_dir = "out/"};
  int64_t rid = 0;
  OK(tsr_store_run_begin(s, &r, &rid, &err));
  tsr_run *g = NULL;
  OK(tsr_store_run_get(s, rid, &g, &err));
  assert_int_equal(g->id, rid);
  assert_int_equal(g->dataset_id, did);
  assert_int_equal(g->created_at, 1700000000000);
  assert_int_equal(g->started_at, 1700000000500);
  assert_int_equal(g->finished_at, 0);
  assert_int_equal(g->status, TSR_RUN_RUNNING);
  assert_string_equal(g->command, "analyze");
  assert_string_equal(g->params, r.params);
  assert_null(g->timings);
  assert_null(g->summary);
  assert_null(g->error);
  assert_string_equal(g->output_dir, "out/");
  assert_string_equal(g->dataset_source, "tx.csv");
  assert_int_equal(g->n_customers, 0);
  tsr_store_free(g);

  OK(tsr_store_run_set(s, rid, NULL, "out2/", &err));
  OK(tsr_store_run_finish(s, rid, TSR_RUN_DONE, "{\"ingest\":12.5,\"rfm\":3}",
                          "{\"customers\":2357,\"revenue\":1.5e5}", NULL, &err));
  OK(tsr_store_run_get(s, rid, &g, &err));
  assert_int_equal(g->status, TSR_RUN_DONE);
  assert_true(g->finished_at >= g->started_at);
  assert_string_equal(g->timings, "{\"ingest\":12.5,\"rfm\":3}");
  assert_string_equal(g->summary, "{\"customers\":2357,\"revenue\":1.5e5}");
  assert_string_equal(g->params, r.params); /* kept */
  assert_string_equal(g->output_dir, "out2/");
  tsr_store_free(g);

  /* a failed run without dataset; a running one gets interrupted */
  tsr_run r2 = {.command = "fit"};
  int64_t rid2 = 0, rid3 = 0;
  OK(tsr_store_run_begin(s, &r2, &rid2, &err));
  OK(tsr_store_run_finish(s, rid2, TSR_RUN_FAILED, NULL, NULL, "fit did not converge", &err));
  OK(tsr_store_run_begin(s, &r2, &rid3, &err));
  int64_t n = 0;
  OK(tsr_store_runs_interrupt(s, &n, &err));
  assert_int_equal(n, 1);
  OK(tsr_store_run_get(s, rid2, &g, &err));
  assert_int_equal(g->status, TSR_RUN_FAILED);
  assert_string_equal(g->error, "fit did not converge");
  assert_int_equal(g->dataset_id, 0);
  assert_null(g->dataset_source);
  tsr_store_free(g);

  collect c = {0};
  OK(tsr_store_runs_list(s, 0, 0, collect_run, &c, &err));
  assert_int_equal(c.n, 3);
  assert_int_equal(c.ids[0], rid3); /* newest first */
  assert_string_equal(c.buf[0], "fit|interrupted|(null)|0");
  assert_string_equal(c.buf[1], "fit|failed|(null)|0");
  assert_string_equal(c.buf[2], "analyze|done|tx.csv|0");
  memset(&c, 0, sizeof c);
  OK(tsr_store_runs_list(s, 1, 1, collect_run, &c, &err));
  assert_int_equal(c.n, 1);
  assert_int_equal(c.ids[0], rid2);

  /* errors */
  assert_int_equal(tsr_store_run_get(s, 42, &g, &err), TSR_ENOTFOUND);
  assert_string_equal(err.msg, "run 42: not found");
  assert_int_equal(tsr_store_run_finish(s, 42, TSR_RUN_DONE, NULL, NULL, NULL, &err), TSR_ENOTFOUND);
  assert_string_equal(err.msg, "run 42: not found");
  assert_int_equal(tsr_store_run_finish(s, rid, TSR_RUN_RUNNING, NULL, NULL, NULL, &err), TSR_EINVAL);
  tsr_run bad = {.command = "x", .params = "[1,"};
  assert_int_equal(tsr_store_run_begin(s, &bad, NULL, &err), TSR_EINVAL);
  assert_string_equal(err.field, "params");
  tsr_run nods = {.command = "x", .dataset_id = 77};
  assert_int_equal(tsr_store_run_begin(s, &nods, NULL, &err), TSR_ENOTFOUND);
  assert_string_equal(err.msg, "dataset 77: not found");

  tsr_run_status rs;
  assert_int_equal(tsr_run_status_parse("canceled", &rs), TSR_OK);
  assert_int_equal(rs, TSR_RUN_CANCELED);
  assert_int_equal(tsr_run_status_parse("nope", &rs), TSR_EINVAL);
  tsr_store_close(s);
}

/* ---------------------------------------------------------------- events */

typedef struct ev_collect {
  int n;
  tsr_event ev[8];
  char step[8][64], msg[8][128];
} ev_collect;

static int collect_event(void *ctx, const tsr_event *e) {
  ev_collect *c = ctx;
  if (c->n < 8) {
    c->ev[c->n] = *e;
    snprintf(c->step[c->n], 64, "%s", e->step);
    snprintf(c->msg[c->n], 128, "%s", e->message);
  }
  c->n++;
  return 0;
}

static void test_events(void **state) {
  (void)state;
  tsr_error err;
  tsr_store *s = open_new("ev.db");
  tsr_run r = {.command = "analyze"};
  int64_t rid;
  OK(tsr_store_run_begin(s, &r, &rid, &err));
  tsr_event e1 = {.run_id = rid, .ts = 1700000000001, .level = TSR_LOG_INFO, .step = "ingest",
                  .message = "read 100 rows", .rows_in = 100, .rows_out = 95, .duration_ms = 12.25};
  tsr_event e2 = {.run_id = rid, .level = TSR_LOG_WARN, .step = "ingest",
                  .message = "19 identical rows kept", .rows_in = -1, .rows_out = -1, .duration_ms = NAN};
  tsr_event e3 = {.run_id = rid, .level = TSR_LOG_ERROR, .step = "fit",
                  .message = "did not converge", .rows_in = 0, .rows_out = -1, .duration_ms = -1};
  int64_t id1;
  OK(tsr_store_event_add(s, &e1, &id1, &err));
  OK(tsr_store_event_add(s, &e2, NULL, &err));
  OK(tsr_store_event_add(s, &e3, NULL, &err));
  ev_collect c = {0};
  OK(tsr_store_events_list(s, rid, TSR_LOG_INFO, collect_event, &c, &err));
  assert_int_equal(c.n, 3);
  assert_int_equal(c.ev[0].id, id1);
  assert_int_equal(c.ev[0].run_id, rid);
  assert_int_equal(c.ev[0].ts, 1700000000001);
  assert_int_equal(c.ev[0].level, TSR_LOG_INFO);
  assert_string_equal(c.step[0], "ingest");
  assert_string_equal(c.msg[0], "read 100 rows");
  assert_int_equal(c.ev[0].rows_in, 100);
  assert_int_equal(c.ev[0].rows_out, 95);
  assert_dbl_same(c.ev[0].duration_ms, 12.25);
  assert_true(c.ev[1].ts > 0);
  assert_int_equal(c.ev[1].rows_in, -1);
  assert_int_equal(c.ev[1].rows_out, -1);
  assert_true(isnan(c.ev[1].duration_ms));
  assert_int_equal(c.ev[2].rows_in, 0);
  assert_true(isnan(c.ev[2].duration_ms));
  memset(&c, 0, sizeof c);
  OK(tsr_store_events_list(s, rid, TSR_LOG_WARN, collect_event, &c, &err));
  assert_int_equal(c.n, 2);
  assert_int_equal(c.ev[0].level, TSR_LOG_WARN);
  memset(&c, 0, sizeof c);
  OK(tsr_store_events_list(s, rid, TSR_LOG_ERROR, collect_event, &c, &err));
  assert_int_equal(c.n, 1);
  assert_string_equal(c.step[0], "fit");

  /* an event without run, listed under "all runs" */
  tsr_event e4 = {.level = TSR_LOG_INFO, .step = "server", .message = "started", .rows_in = -1, .rows_out = -1, .duration_ms = NAN};
  OK(tsr_store_event_add(s, &e4, NULL, &err));
  memset(&c, 0, sizeof c);
  OK(tsr_store_events_list(s, 0, TSR_LOG_INFO, collect_event, &c, &err));
  assert_int_equal(c.n, 4);
  assert_int_equal(c.ev[3].run_id, 0);

  e4.run_id = 999;
  assert_int_equal(tsr_store_event_add(s, &e4, NULL, &err), TSR_ENOTFOUND);
  assert_string_equal(err.msg, "run 999: not found");
  tsr_log_level lv;
  assert_int_equal(tsr_log_level_parse("warn", &lv), TSR_OK);
  assert_int_equal(lv, TSR_LOG_WARN);
  assert_int_equal(tsr_log_level_parse("debug", &lv), TSR_EINVAL);
  tsr_store_close(s);
}

/* ---------------------------------------------------------------- customers */

static void assert_customer_eq(const tsr_customer *a, const tsr_customer *b) {
  assert_string_equal(a->customer_id, b->customer_id);
  assert_dbl_same(a->frequency, b->frequency);
  assert_dbl_same(a->recency, b->recency);
  assert_dbl_same(a->T, b->T);
  assert_dbl_same(a->monetary_value, b->monetary_value);
  assert_dbl_same(a->revenue, b->revenue);
  assert_int_equal(a->n_transactions, b->n_transactions);
  assert_int_equal(a->first_purchase, b->first_purchase);
  assert_int_equal(a->last_purchase, b->last_purchase);
  assert_int_equal(a->r_score, b->r_score);
  assert_int_equal(a->f_score, b->f_score);
  assert_int_equal(a->m_score, b->m_score);
  assert_str_eq_null(a->rfm_cell, b->rfm_cell);
  assert_str_eq_null(a->segment, b->segment);
  assert_int_equal(a->cluster, b->cluster);
  assert_dbl_same(a->expected_purchases, b->expected_purchases);
  assert_dbl_same(a->p_alive, b->p_alive);
  assert_dbl_same(a->clv, b->clv);
  assert_dbl_same(a->clv_lo, b->clv_lo);
  assert_dbl_same(a->clv_hi, b->clv_hi);
  assert_str_eq_null(a->extra, b->extra);
  assert_str_eq_null(a->history, b->history);
}

typedef struct cust_collect {
  int n;
  char ids[32][48];
} cust_collect;

static int collect_customer(void *ctx, const tsr_customer *c) {
  cust_collect *cc = ctx;
  if (cc->n < 32) snprintf(cc->ids[cc->n], 48, "%s", c->customer_id);
  cc->n++;
  return 0;
}

static void test_customers_roundtrip(void **state) {
  (void)state;
  tsr_error err;
  tsr_store *s = open_new("cust.db");
  tsr_run r = {.command = "analyze"};
  int64_t rid;
  OK(tsr_store_run_begin(s, &r, &rid, &err));

  tsr_customer c[3];
  tsr_customer_init(&c[0]);
  c[0] = (tsr_customer){.customer_id = "C001",
                        .frequency = 3,
                        .recency = 30.5,
                        .T = 38.142857142857146,
                        .monetary_value = 22.345678901234567,
                        .revenue = 100.01,
                        .n_transactions = 4,
                        .first_purchase = 852076800000,
                        .last_purchase = 870048000000,
                        .r_score = 5,
                        .f_score = 4,
                        .m_score = 3,
                        .rfm_cell = "543",
                        .segment = "champions",
                        .cluster = 2,
                        .expected_purchases = 1.2345,
                        .p_alive = 0.987,
                        .clv = 250.5,
                        .clv_lo = 200.25,
                        .clv_hi = 300.75,
                        .extra = "{\"channel\":\"web\"}"};
  tsr_customer_init(&c[1]); /* every nullable field NULL */
  c[1].customer_id = "C002";
  c[1].frequency = 0;
  c[1].n_transactions = 1;
  tsr_customer_init(&c[2]);
  c[2].customer_id = "C003";
  c[2].frequency = 1;
  c[2].segment = "champions";
  c[2].cluster = 0;
  c[2].clv = 10;
  OK(tsr_store_customers_add(s, rid, c, 3, &err));

  for (int i = 0; i < 3; i++) {
    tsr_customer *g = NULL;
    OK(tsr_store_customer_get(s, rid, c[i].customer_id, &g, &err));
    assert_customer_eq(g, &c[i]);
    tsr_store_free(g);
  }
  tsr_run *rg;
  OK(tsr_store_run_get(s, rid, &rg, &err));
  assert_int_equal(rg->n_customers, 3);
  tsr_store_free(rg);

  /* list: filters, sort, paging, count */
  tsr_customer_query q;
  tsr_customer_query_init(&q, rid);
  cust_collect cc = {0};
  OK(tsr_store_customers_list(s, &q, collect_customer, &cc, &err));
  assert_int_equal(cc.n, 3);
  assert_string_equal(cc.ids[0], "C001");
  q.segment = "champions";
  memset(&cc, 0, sizeof cc);
  OK(tsr_store_customers_list(s, &q, collect_customer, &cc, &err));
  assert_int_equal(cc.n, 2);
  int64_t n = 0;
  OK(tsr_store_customers_count(s, &q, &n, &err));
  assert_int_equal(n, 2);
  q.cluster = 0;
  OK(tsr_store_customers_count(s, &q, &n, &err));
  assert_int_equal(n, 1);
  tsr_customer_query_init(&q, rid);
  q.sort = TSR_CUSTOMER_SORT_CLV;
  q.descending = 1;
  memset(&cc, 0, sizeof cc);
  OK(tsr_store_customers_list(s, &q, collect_customer, &cc, &err));
  assert_string_equal(cc.ids[0], "C001");
  assert_string_equal(cc.ids[1], "C003");
  assert_string_equal(cc.ids[2], "C002"); /* NULL last when descending */
  q.limit = 1;
  q.offset = 1;
  memset(&cc, 0, sizeof cc);
  OK(tsr_store_customers_list(s, &q, collect_customer, &cc, &err));
  assert_int_equal(cc.n, 1);
  assert_string_equal(cc.ids[0], "C003");

  /* a duplicate in a batch: nothing of that batch is stored */
  tsr_customer dup[3];
  for (int i = 0; i < 3; i++) tsr_customer_init(&dup[i]);
  dup[0].customer_id = "D1";
  dup[1].customer_id = "D2";
  dup[2].customer_id = "D1";
  assert_int_equal(tsr_store_customers_add(s, rid, dup, 3, &err), TSR_ESTORE);
  char expect[200];
  snprintf(expect, sizeof expect,
           "store: insert customers: run %lld: customer 'D1' appears twice", (long long)rid);
  assert_string_equal(err.msg, expect);
  tsr_customer *g = NULL;
  assert_int_equal(tsr_store_customer_get(s, rid, "D2", &g, &err), TSR_ENOTFOUND);
  snprintf(expect, sizeof expect, "run %lld: customer 'D2': not found", (long long)rid);
  assert_string_equal(err.msg, expect);
  OK(tsr_store_run_get(s, rid, &rg, &err));
  assert_int_equal(rg->n_customers, 3);
  tsr_store_free(rg);

  /* errors */
  assert_int_equal(tsr_store_customers_add(s, 999, c, 1, &err), TSR_ENOTFOUND);
  assert_string_equal(err.msg, "run 999: not found");
  dup[0].r_score = 6;
  assert_int_equal(tsr_store_customers_add(s, rid, dup, 1, &err), TSR_EINVAL);
  dup[0].r_score = 0;
  dup[0].extra = "{";
  assert_int_equal(tsr_store_customers_add(s, rid, dup, 1, &err), TSR_EINVAL);
  assert_string_equal(err.field, "extra");
  OK(tsr_store_customers_add(s, rid, NULL, 0, &err));
  tsr_store_close(s);
}

/* ---------------------------------------------------------------- histories */

typedef struct hist_rows {
  tsr_web_history_row r[16];
  size_t n;
} hist_rows;

static int hist_collect(void *ctx, const tsr_web_history_row *h) {
  hist_rows *x = ctx;
  if (x->n < 16) x->r[x->n++] = *h;
  return 0;
}

static void assert_rows_same(const hist_rows *got, const tsr_web_history_row *want, size_t n) {
  assert_int_equal(got->n, n);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(got->r[i].day, want[i].day);
    assert_int_equal(got->r[i].ntx, want[i].ntx);
    if (memcmp(&got->r[i].amount, &want[i].amount, sizeof(double)) != 0)
      fail_msg("row %zu: amount %.17g != %.17g", i, got->r[i].amount, want[i].amount);
  }
}

/* The compact history text: its exact form, a bit-exact round trip of
 * amounts that are not whole hundredths (and -0), and malformed texts. */
static void test_history_text(void **state) {
  (void)state;
  tsr_error err;
  tsr_web_history_row h[] = {{19723, 2, 15},       {19737, 1, 20.5},   {19738, 0, 0},
                             {19800, 3, 0.1 + 0.2}, {19801, 1, -0.0},  {19702, 1, 1e300},
                             {-5, 4294967295, 123456789.01}};
  size_t n = sizeof h / sizeof *h;
  char buf[1024];
  size_t len = tsr_web_history_format(h, 2, buf, sizeof buf);
  assert_string_equal(buf, "19723*2,1500;14,2050");
  assert_int_equal(len, strlen(buf));
  len = tsr_web_history_format(h, n, buf, sizeof buf);
  assert_int_equal(len, strlen(buf));
  assert_non_null(strstr(buf, ";1*0,0;"));
  assert_non_null(strstr(buf, "~0.30000000000000004"));
  hist_rows got = {0};
  OK(tsr_web_history_parse(buf, hist_collect, &got, &err));
  assert_rows_same(&got, h, n);
  assert_true(signbit(got.r[4].amount));
  /* empty; a buffer too small */
  assert_int_equal(tsr_web_history_format(h, 0, buf, sizeof buf), 0);
  assert_string_equal(buf, "");
  assert_int_equal(tsr_web_history_format(h, 2, buf, 40), SIZE_MAX);
  got.n = 0;
  OK(tsr_web_history_parse("", hist_collect, &got, &err));
  assert_int_equal(got.n, 0);
  const char *bad[] = {"1", "1,", "x,1", "1,2;", "1,2;;3,4", "1*,2", "1,~", "1,2x", ";1,2"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    got.n = 0;
    assert_int_equal(tsr_web_history_parse(bad[i], hist_collect, &got, &err), TSR_EINVAL);
    assert_non_null(strstr(err.msg, "history: malformed text at byte"));
  }
}

/* schema version 4: a customer's history is kept in its row and read from
 * there; a row without one (NULL: stored before version 4) falls back to
 * the web_history table; a customer without a row (refunds only) too. */
static void test_history_in_customer_row(void **state) {
  (void)state;
  tsr_error err;
  tsr_store *s = open_new("histrow.db");
  tsr_run r = {.command = "analyze"};
  int64_t rid;
  OK(tsr_store_run_begin(s, &r, &rid, &err));
  tsr_web_history_row ha[] = {{19723, 2, 15}, {19737, 1, 0.1 + 0.2}};
  tsr_web_history_row hold[] = {{19000, 1, 5.5}, {19005, 2, 4.5}};
  tsr_web_history_row hrefund[] = {{19010, 0, 0}};
  char text[256];
  tsr_web_history_format(ha, 2, text, sizeof text);
  tsr_customer c[3];
  for (int i = 0; i < 3; i++) tsr_customer_init(&c[i]);
  c[0].customer_id = "A";
  c[0].history = text;
  c[1].customer_id = "OLD"; /* history NULL: in web_history */
  c[2].customer_id = "CRM";
  c[2].history = "";
  OK(tsr_store_customers_add(s, rid, c, 3, &err));
  OK(tsr_web_history_add(s, rid, "OLD", hold, 2, &err));
  OK(tsr_web_history_add(s, rid, "REFUND", hrefund, 1, &err));
  for (int i = 0; i < 3; i++) {
    tsr_customer *g = NULL;
    OK(tsr_store_customer_get(s, rid, c[i].customer_id, &g, &err));
    assert_customer_eq(g, &c[i]);
    tsr_store_free(g);
  }
  hist_rows got = {0};
  OK(tsr_web_history_list(s, rid, "A", hist_collect, &got, &err));
  assert_rows_same(&got, ha, 2);
  got.n = 0;
  OK(tsr_web_history_list(s, rid, "OLD", hist_collect, &got, &err));
  assert_rows_same(&got, hold, 2);
  got.n = 0;
  OK(tsr_web_history_list(s, rid, "REFUND", hist_collect, &got, &err));
  assert_rows_same(&got, hrefund, 1);
  got.n = 0;
  OK(tsr_web_history_list(s, rid, "CRM", hist_collect, &got, &err));
  assert_int_equal(got.n, 0);
  /* the bulk load path (COPY on PostgreSQL) carries the text too */
  tsr_customer many[100];
  char ids[100][8];
  for (int i = 0; i < 100; i++) {
    tsr_customer_init(&many[i]);
    snprintf(ids[i], sizeof ids[i], "M%03d", 99 - i);
    many[i].customer_id = ids[i];
    many[i].history = text;
  }
  OK(tsr_store_customers_add(s, rid, many, 100, &err));
  got.n = 0;
  OK(tsr_web_history_list(s, rid, "M042", hist_collect, &got, &err));
  assert_rows_same(&got, ha, 2);
  tsr_store_close(s);
}

/* The texts' lengths a caller passes (analyze's batches) go with their
 * rows, also when the store sorts them; 0 is measured. Stored texts are
 * whole: a length from the wrong row cuts or overruns them. */
static void test_customers_lens(void **state) {
  (void)state;
  tsr_error err;
  tsr_store *s = open_new("lens.db");
  tsr_run r = {.command = "analyze"};
  int64_t rid;
  OK(tsr_store_run_begin(s, &r, &rid, &err));
  enum { N = 7 };
  static const char *const ids[N] = {"Z9", "A", "MMMMMMMMMMMM", "B12345", "A0", "Q", "ZZZZZZZZZZZZZZZZZZZZ"};
  static const char *const hist[N] = {"", "abc", "h2-long-long-long-history", NULL, "x", "0123456789", "hh"};
  static const char *const extra[N] = {"{\"a\":1}", NULL, "{}", "{\"long\":\"value value\"}", NULL, "[1,2,3]", "{\"z\":true}"};
  tsr_customer c[N];
  tsr__customer_lens lens[N];
  for (int i = 0; i < N; i++) {
    tsr_customer_init(&c[i]);
    c[i].customer_id = ids[i];
    c[i].history = hist[i];
    c[i].extra = extra[i];
    lens[i].id = (uint32_t)strlen(ids[i]);
    lens[i].history = hist[i] ? (uint32_t)strlen(hist[i]) : 0;
    lens[i].extra = extra[i] && i != 5 ? (uint32_t)strlen(extra[i]) : 0; /* row 5: measured */
  }
  OK(tsr__store_customers_add_lens(s, rid, c, lens, N, &err));
  for (int i = 0; i < N; i++) {
    tsr_customer *g = NULL;
    OK(tsr_store_customer_get(s, rid, ids[i], &g, &err));
    assert_customer_eq(g, &c[i]);
    tsr_store_free(g);
  }
  tsr_store_close(s);
}

/* Rows made ready off the store (tsr__store_customers_prep, as analyze's
 * fill thread does) and inserted by tsr__store_customers_add_ready store
 * what tsr__store_customers_add_lens stores, with its errors: one ready
 * batch reused for batches of growing and shrinking sizes, texts with and
 * without their lengths, ids out of order. */
static void test_customers_ready(void **state) {
  (void)state;
  tsr_error err, err2;
  tsr_store *s = open_new("ready.db");
  tsr_run r = {.command = "analyze"};
  int64_t ra, rb;
  OK(tsr_store_run_begin(s, &r, &ra, &err));
  OK(tsr_store_run_begin(s, &r, &rb, &err));
  enum { N = 300 };
  static char ids[N][24], hist[N][24];
  tsr_customer c[N];
  tsr__customer_lens lens[N];
  for (int i = 0; i < N; i++) {
    snprintf(ids[i], sizeof ids[i], "c%d", (i * 7919) % 1000); /* out of order, distinct */
    snprintf(hist[i], sizeof hist[i], "%d,%d", 19000 + i, i * 3);
    tsr_customer_init(&c[i]);
    c[i].customer_id = ids[i];
    c[i].history = i % 5 ? hist[i] : NULL;
    c[i].frequency = i % 3 ? (double)i / 7.0 : NAN;
    c[i].r_score = i % 6;
    c[i].segment = i % 2 ? "loyal" : NULL;
    c[i].cluster = i % 4 - 1;
    lens[i] = (tsr__customer_lens){(uint32_t)strlen(ids[i]),
                                   i % 5 && i % 2 ? (uint32_t)strlen(hist[i]) : 0, 0};
  }
  static const size_t cut[] = {0, 10, 200, 201, 300}; /* batches of 10, 190, 1, 99 */
  tsr__cust_ready rd;
  memset(&rd, 0, sizeof rd);
  for (size_t k = 0; k + 1 < sizeof cut / sizeof cut[0]; k++) {
    size_t a = cut[k], n = cut[k + 1] - a;
    OK(tsr__store_customers_add_lens(s, ra, c + a, lens + a, n, &err));
    OK(tsr__store_customers_prep(&rd, rb, c + a, k % 2 ? NULL : lens + a, n, &err));
    OK(tsr__store_customers_add_ready(s, &rd, &err));
  }
  const char *cols = "customer_id, frequency, recency, T, monetary_value, revenue, "
                     "n_transactions, first_purchase, last_purchase, r_score, f_score, m_score, "
                     "rfm_cell, segment, cluster, expected_purchases, p_alive, clv, clv_lo, "
                     "clv_hi, extra, history";
  char sql[1200];
  for (int dir = 0; dir < 2; dir++) {
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM (SELECT %s FROM customers WHERE run_id = ? EXCEPT "
             "SELECT %s FROM customers WHERE run_id = ?) x",
             cols, cols);
    tsr__val p[] = {TSR__VI(dir ? rb : ra), TSR__VI(dir ? ra : rb)};
    int64_t v = -1;
    OK(tsr__one_i64(tsr__store_db(s), sql, p, 2, &v, "test", &err));
    assert_int_equal(v, 0);
  }
  tsr_run *g;
  OK(tsr_store_run_get(s, rb, &g, &err));
  assert_int_equal(g->n_customers, N);
  tsr_store_free(g);

  /* the errors of add_lens: a repeated id in the batch, an id stored
   * already (named from the row the database refused), a bad score */
  c[3].customer_id = ids[4];
  assert_int_equal(tsr__store_customers_add_lens(s, ra, c, NULL, 10, &err), TSR_ESTORE);
  assert_int_equal(tsr__store_customers_prep(&rd, ra, c, NULL, 10, &err2), TSR_ESTORE);
  assert_int_equal(rd.n, 0);
  assert_string_equal(err.msg, err2.msg);
  c[3].customer_id = ids[3];
  tsr_customer one;
  tsr_customer_init(&one);
  one.customer_id = ids[42];
  OK(tsr__store_customers_prep(&rd, rb, &one, NULL, 1, &err));
  assert_int_equal(tsr__store_customers_add_ready(s, &rd, &err), TSR_ESTORE);
  char expect[200];
  snprintf(expect, sizeof expect, "store: insert customers: run %lld: customer '%s' appears twice",
           (long long)rb, ids[42]);
  assert_string_equal(err.msg, expect);
  one.r_score = 9;
  assert_int_equal(tsr__store_customers_add_lens(s, ra, &one, NULL, 1, &err), TSR_EINVAL);
  assert_int_equal(tsr__store_customers_prep(&rd, rb, &one, NULL, 1, &err2), TSR_EINVAL);
  assert_string_equal(err.msg, err2.msg);
  tsr__cust_ready_free(&rd);
  tsr_store_close(s);
}

/* SQLite: a caller's transaction keeps its statement journal in memory
 * (temp_store MEMORY from BEGIN to COMMIT or ROLLBACK), and the
 * connection is back to the default after either. */
static int64_t temp_store_of(tsr_store *s) {
  int64_t v = -1;
  tsr_error err;
  OK(tsr__one_i64(tsr__store_db(s), "PRAGMA temp_store", NULL, 0, &v, "test", &err));
  return v;
}

static void test_tx_temp_store(void **state) {
  (void)state;
  if (use_pg) return;
  tsr_error err;
  tsr_store *s = open_new("tempstore.db");
  assert_int_equal(temp_store_of(s), 0);
  OK(tsr_store_begin(s, &err));
  assert_int_equal(temp_store_of(s), 2);
  OK(tsr_store_commit(s, &err));
  assert_int_equal(temp_store_of(s), 0);
  OK(tsr_store_begin(s, &err));
  assert_int_equal(temp_store_of(s), 2);
  OK(tsr_store_rollback(s, &err));
  assert_int_equal(temp_store_of(s), 0);
  tsr_store_close(s);
}

/* ---------------------------------------------------------------- bulk load (SQLite) */

static int text_cb(void *ctx, const tsr__cur *c) {
  const char *v = c->m->get_text(c, 0);
  snprintf((char *)ctx, 32, "%s", v ? v : "");
  return 1;
}

/* One text value of sql on s's own connection, into buf (32 bytes). */
static const char *text_of(tsr_store *s, const char *sql, char *buf) {
  tsr_error err;
  tsr__db *db = tsr__store_db(s);
  buf[0] = '\0';
  OK(db->m->query(db, sql, NULL, 0, text_cb, buf, NULL, "test", &err));
  return buf;
}

static int64_t n_customers(tsr_store *s) {
  int64_t v = -1;
  tsr_error err;
  OK(tsr__one_i64(tsr__store_db(s), "SELECT count(*) FROM customers", NULL, 0, &v, "test", &err));
  return v;
}

enum { BULK_N = 40000 }; /* rows: about 3 MB, more than the page cache (spills) */

/* Adds BULK_N customers (ids prefix00000..) to run rid. */
static void bulk_rows(tsr_store *s, int64_t rid, const char *prefix) {
  tsr_error err;
  tsr_customer *rows = malloc(BULK_N * sizeof *rows);
  char(*ids)[24] = malloc((size_t)BULK_N * 24);
  assert_non_null(rows);
  assert_non_null(ids);
  for (int i = 0; i < BULK_N; i++) {
    snprintf(ids[i], 24, "%s%05d", prefix, i);
    tsr_customer_init(&rows[i]);
    rows[i].customer_id = ids[i];
    rows[i].frequency = i % 13;
    rows[i].history = "19723*2,1500;14,2000;7,~12.345678901234567";
  }
  OK(tsr_store_customers_add(s, rid, rows, BULK_N, &err));
  free(rows);
  free(ids);
}

typedef struct opener_arg {
  char path[600];
  int64_t seen; /* customers the opener counted, -1: its open failed */
  char msg[TSR_ERROR_MSG_MAX];
} opener_arg;

static void *opener_main(void *p) {
  opener_arg *a = p;
  tsr_store *s = NULL;
  tsr_error err;
  a->seen = -1;
  if (tsr_store_open(a->path, 0, &s, &err) != TSR_OK) {
    tsr_error_format(&err, a->msg, sizeof a->msg);
    return NULL;
  }
  tsr__one_i64(tsr__store_db(s), "SELECT count(*) FROM customers", NULL, 0, &a->seen, "test", &err);
  tsr_store_close(s);
  return NULL;
}

/* The process's threads (/proc/self/task), -1 when unknown. */
static int n_threads(void) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return -1;
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

/* A run's bulk load (tsr__store_begin_bulk) runs in the rollback journal
 * when the connection is alone, and back in WAL after its commit or
 * rollback; with another connection open it stays in WAL (that reader is
 * never blocked); a connection opened during the load waits for it.
 * Foreign keys are off during a load and on again after it; a load in
 * the rollback journal has its writeback thread (joined at its end). */
static void test_bulk_journal(void **state) {
  (void)state;
  if (use_pg) return;
  tsr_error err;
  char buf[32], path[600], jpath[640];
  tsr_store *s = open_new("bulk.db");
  db_url("bulk.db", path, sizeof path);
  snprintf(jpath, sizeof jpath, "%s-journal", path);
  tsr_run r = {.command = "analyze"};
  int64_t rid;
  OK(tsr_store_run_begin(s, &r, &rid, &err));
  assert_string_equal(text_of(s, "PRAGMA journal_mode", buf), "wal");
  /* the connection's secure_delete (on in Debian's build, maybe off in
   * others): off during a load, as it was after */
  char sd0[32];
  text_of(s, "PRAGMA secure_delete", sd0);

  int th0 = n_threads();
  assert_string_equal(text_of(s, "PRAGMA foreign_keys", buf), "1");

  /* alone: rollback journal, rolled back whole */
  OK(tsr__store_begin_bulk(s, &err));
  assert_string_equal(text_of(s, "PRAGMA journal_mode", buf), "delete");
  assert_string_equal(text_of(s, "PRAGMA synchronous", buf), "3"); /* EXTRA */
  assert_string_equal(text_of(s, "PRAGMA secure_delete", buf), "0");
  assert_string_equal(text_of(s, "PRAGMA foreign_keys", buf), "0");
  if (th0 > 0) assert_int_equal(n_threads(), th0 + 1); /* the writeback thread */
  assert_int_equal(temp_store_of(s), 2);
  bulk_rows(s, rid, "a");
  assert_int_equal(access(jpath, F_OK), 0);
  OK(tsr_store_rollback(s, &err));
  assert_string_equal(text_of(s, "PRAGMA journal_mode", buf), "wal");
  assert_string_equal(text_of(s, "PRAGMA synchronous", buf), "1"); /* NORMAL */
  assert_string_equal(text_of(s, "PRAGMA secure_delete", buf), sd0);
  assert_string_equal(text_of(s, "PRAGMA foreign_keys", buf), "1");
  if (th0 > 0) assert_int_equal(n_threads(), th0);
  assert_int_equal(temp_store_of(s), 0);
  assert_int_equal(n_customers(s), 0);
  assert_int_not_equal(access(jpath, F_OK), 0);

  /* alone, committed */
  OK(tsr__store_begin_bulk(s, &err));
  bulk_rows(s, rid, "a");
  OK(tsr_store_commit(s, &err));
  assert_string_equal(text_of(s, "PRAGMA journal_mode", buf), "wal");
  assert_string_equal(text_of(s, "PRAGMA secure_delete", buf), sd0);
  assert_string_equal(text_of(s, "PRAGMA foreign_keys", buf), "1");
  if (th0 > 0) assert_int_equal(n_threads(), th0);
  assert_int_equal(n_customers(s), BULK_N);
  assert_string_equal(text_of(s, "PRAGMA integrity_check", buf), "ok");
  assert_string_equal(text_of(s, "PRAGMA foreign_key_check", buf), "");

  /* another connection open: WAL, and it reads beside the load */
  tsr_store *o = NULL;
  OK(tsr_store_open(path, 0, &o, &err));
  OK(tsr_store_run_begin(s, &r, &rid, &err));
  OK(tsr__store_begin_bulk(s, &err));
  assert_string_equal(text_of(s, "PRAGMA journal_mode", buf), "wal");
  assert_string_equal(text_of(s, "PRAGMA secure_delete", buf), "0");
  assert_string_equal(text_of(s, "PRAGMA foreign_keys", buf), "0");
  if (th0 > 0) assert_int_equal(n_threads(), th0); /* no writeback in WAL */
  bulk_rows(s, rid, "b");
  assert_int_equal(n_customers(o), BULK_N);
  OK(tsr_store_commit(s, &err));
  assert_string_equal(text_of(s, "PRAGMA secure_delete", buf), sd0);
  assert_string_equal(text_of(s, "PRAGMA foreign_keys", buf), "1");
  assert_int_equal(n_customers(o), 2 * BULK_N);
  tsr_store_close(o);

  /* alone again; an opener meanwhile waits for the commit, both when the
   * load holds the database's write lock only (rows in the page cache: the
   * opener cannot switch to WAL yet) and when it spilled pages (the
   * exclusive lock: the opener cannot read yet) */
  for (int big = 0; big < 2; big++) {
    OK(tsr_store_run_begin(s, &r, &rid, &err));
    OK(tsr__store_begin_bulk(s, &err));
    assert_string_equal(text_of(s, "PRAGMA journal_mode", buf), "delete");
    tsr_customer one;
    tsr_customer_init(&one);
    one.customer_id = "solo";
    if (big) bulk_rows(s, rid, "c");
    else OK(tsr_store_customers_add(s, rid, &one, 1, &err));
    opener_arg a;
    memset(&a, 0, sizeof a);
    snprintf(a.path, sizeof a.path, "%s", path);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, opener_main, &a), 0);
    usleep(300 * 1000);
    OK(tsr_store_commit(s, &err));
    pthread_join(th, NULL);
    if (a.seen < 0) fail_msg("opener failed: %s", a.msg);
    assert_int_equal(a.seen, 2 * BULK_N + 1 + big * BULK_N);
    assert_string_equal(text_of(s, "PRAGMA journal_mode", buf), "wal");
  }
  tsr_store_close(s);
}

/* A process killed in the middle of a bulk load leaves a hot journal:
 * the next opener rolls it back (none of the run's rows, the database
 * intact, in WAL) and marks the run interrupted. */
static void test_bulk_crash(void **state) {
  (void)state;
  if (use_pg) return;
  char path[600], jpath[640], buf[32];
  db_url("bulkcrash.db", path, sizeof path);
  snprintf(jpath, sizeof jpath, "%s-journal", path);
  tsr_store_close(open_new("bulkcrash.db"));
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    tsr_store *s = NULL;
    tsr_error e;
    tsr_run r = {.command = "analyze"};
    int64_t rid;
    if (tsr_store_open(path, 0, &s, &e) || tsr_store_run_begin(s, &r, &rid, &e) ||
        tsr__store_begin_bulk(s, &e))
      _exit(2);
    bulk_rows(s, rid, "k");
    kill(getpid(), SIGKILL);
    _exit(3);
  }
  int ws = 0;
  assert_int_equal(waitpid(pid, &ws, 0), pid);
  assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
  struct stat sb;
  assert_int_equal(stat(jpath, &sb), 0); /* hot */
  assert_true(sb.st_size > 0);
  tsr_store *s = NULL;
  tsr_error err;
  OK(tsr_store_open(path, 0, &s, &err));
  assert_string_equal(text_of(s, "PRAGMA journal_mode", buf), "wal");
  assert_string_equal(text_of(s, "PRAGMA integrity_check", buf), "ok");
  assert_int_equal(n_customers(s), 0);
  int64_t n = -1;
  OK(tsr__one_i64(tsr__store_db(s), "SELECT count(*) FROM runs WHERE status = 'interrupted'", NULL,
                  0, &n, "test", &err));
  assert_int_equal(n, 1);
  tsr_store_close(s);
}

/* Unsorted ids of mixed lengths and shared prefixes come back in strcmp
 * order; a batch overlapping stored rows fails whole, on the multi-row and
 * on the single-row path. */
static void test_customers_order_and_overlap(void **state) {
  (void)state;
  tsr_error err;
  tsr_store *s = open_new("order.db");
  tsr_run r = {.command = "analyze"};
  int64_t rid;
  OK(tsr_store_run_begin(s, &r, &rid, &err));
  enum { N = 100 };
  static char ids[N][40];
  tsr_customer rows[N];
  for (int i = 0; i < N; i++) {
    int k = (i * 37) % N;
    if (k % 4 == 0)
      snprintf(ids[i], 40, "%d", k * 13);
    else if (k % 4 == 1)
      snprintf(ids[i], 40, "customer-with-a-long-common-prefix-%d", k);
    else if (k % 4 == 2)
      snprintf(ids[i], 40, "x%c", 'A' + k % 26);
    else
      snprintf(ids[i], 40, "x%c%d", 'A' + k % 26, k);
    tsr_customer_init(&rows[i]);
    rows[i].customer_id = ids[i];
  }
  /* make ids unique (the x%c ones may repeat) */
  for (int i = 0; i < N; i++)
    for (int j = 0; j < i; j++)
      if (!strcmp(ids[i], ids[j])) snprintf(ids[i], 40, "dup-fixed-%d", i);
  OK(tsr_store_customers_add(s, rid, rows, N, &err));
  tsr_customer_query q;
  tsr_customer_query_init(&q, rid);
  cust_collect cc = {0};
  OK(tsr_store_customers_list(s, &q, collect_customer, &cc, &err));
  assert_int_equal(cc.n, N);
  for (int i = 1; i < 32; i++)
    if (strcmp(cc.ids[i - 1], cc.ids[i]) >= 0) fail_msg("'%s' before '%s'", cc.ids[i - 1], cc.ids[i]);

  /* overlap: 40 rows (one multi-row statement + 8 single) sharing one id */
  static char more[40][16];
  tsr_customer m[40];
  for (int i = 0; i < 40; i++) {
    snprintf(more[i], 16, "zz%03d", i);
    tsr_customer_init(&m[i]);
    m[i].customer_id = more[i];
  }
  char expect0[200];
  m[5].customer_id = ids[0]; /* already stored: in the multi-row part */
  assert_int_equal(tsr_store_customers_add(s, rid, m, 40, &err), TSR_ESTORE);
  /* both name the key: PostgreSQL's COPY from the violation's detail,
   * SQLite's bulk load from the row it refused */
  snprintf(expect0, sizeof expect0, "store: insert customers: run %lld: customer '0' appears twice",
           (long long)rid);
  assert_string_equal(err.msg, expect0);
  m[5].customer_id = more[5];
  tsr_customer last;
  tsr_customer_init(&last);
  last.customer_id = "zzz-stored";
  OK(tsr_store_customers_add(s, rid, &last, 1, &err));
  m[39].customer_id = "zzz-stored"; /* sorts last: in the single-row tail */
  OK(tsr_store_begin(s, &err));
  assert_int_equal(tsr_store_customers_add(s, rid, m, 40, &err), TSR_ESTORE);
  char expect[200];
  snprintf(expect, sizeof expect,
           "store: insert customers: run %lld: customer 'zzz-stored' appears twice", (long long)rid);
  assert_string_equal(err.msg, expect);
  OK(tsr_store_commit(s, &err));
  int64_t n;
  OK(tsr_store_customers_count(s, &q, &n, &err));
  assert_int_equal(n, N + 1);
  tsr_run *g;
  OK(tsr_store_run_get(s, rid, &g, &err));
  assert_int_equal(g->n_customers, N + 1);
  tsr_store_free(g);
  tsr_store_close(s);
}

/* ---------------------------------------------------------------- segments */

typedef struct seg_collect {
  int n;
  tsr_segment_row row[8];
  char scheme[8][32], seg[8][32];
} seg_collect;

static int collect_segment(void *ctx, const tsr_segment_row *r) {
  seg_collect *c = ctx;
  if (c->n < 8) {
    c->row[c->n] = *r;
    snprintf(c->scheme[c->n], 32, "%s", r->scheme);
    snprintf(c->seg[c->n], 32, "%s", r->segment);
  }
  c->n++;
  return 0;
}

static void test_segments_roundtrip(void **state) {
  (void)state;
  tsr_error err;
  tsr_store *s = open_new("seg.db");
  tsr_run r = {.command = "analyze"};
  int64_t rid;
  OK(tsr_store_run_begin(s, &r, &rid, &err));
  tsr_segment_row rows[3] = {
      {"rfm10", "champions", 100, 0.25, 4.8, 4.5, 4.2, 5000.5, 0.5},
      {"rfm10", "hibernating", 300, 0.75, 1.2, 1.1, 1.5, 5000.5, 0.5},
      {"rfm11", "lost", 50, 0.125, 1, 1, 1, 10, NAN},
  };
  OK(tsr_store_segments_add(s, rid, rows, 3, &err));
  seg_collect c = {0};
  OK(tsr_store_segments_list(s, rid, NULL, collect_segment, &c, &err));
  assert_int_equal(c.n, 3);
  assert_string_equal(c.seg[0], "hibernating"); /* customers desc within scheme */
  assert_string_equal(c.seg[1], "champions");
  assert_string_equal(c.scheme[2], "rfm11");
  assert_int_equal(c.row[1].customers, 100);
  assert_dbl_same(c.row[1].share, 0.25);
  assert_dbl_same(c.row[1].mean_r, 4.8);
  assert_dbl_same(c.row[1].mean_f, 4.5);
  assert_dbl_same(c.row[1].mean_m, 4.2);
  assert_dbl_same(c.row[1].revenue, 5000.5);
  assert_dbl_same(c.row[1].revenue_share, 0.5);
  assert_true(isnan(c.row[2].revenue_share));
  memset(&c, 0, sizeof c);
  OK(tsr_store_segments_list(s, rid, "rfm11", collect_segment, &c, &err));
  assert_int_equal(c.n, 1);
  assert_int_equal(tsr_store_segments_add(s, rid, rows, 1, &err), TSR_ESTORE);
  assert_non_null(strstr(err.msg, "segment 'champions' of scheme 'rfm10' appears twice"));
  tsr_store_close(s);
}

/* ---------------------------------------------------------------- models */

static int collect_model(void *ctx, const tsr_model *m) {
  collect *c = ctx;
  if (c->n < 16) {
    c->ids[c->n] = m->id;
    snprintf(c->buf[c->n], 256, "%s v%lld%s", m->kind, (long long)m->version,
             m->promoted ? " *" : "");
  }
  c->n++;
  return 0;
}

static void test_models_roundtrip(void **state) {
  (void)state;
  tsr_error err;
  tsr_store *s = open_new("models.db");
  tsr_run r = {.command = "fit"};
  int64_t rid;
  OK(tsr_store_run_begin(s, &r, &rid, &err));
  tsr_model m = {.run_id = rid,
                 .kind = "bgnbd",
                 .params = "{\"r\":0.243,\"alpha\":4.414,\"a\":0.793,\"b\":2.426}",
                 .fit_stats = "{\"ll\":-9582.43,\"iterations\":16}",
                 .created_at = 1700000000000,
                 .promoted = 1};
  int64_t id1, v1, id2, v2, id3, v3;
  OK(tsr_store_model_add(s, &m, &id1, &v1, &err));
  assert_int_equal(v1, 1);
  tsr_model *g;
  OK(tsr_store_model_get(s, id1, &g, &err));
  assert_int_equal(g->id, id1);
  assert_int_equal(g->run_id, rid);
  assert_string_equal(g->kind, "bgnbd");
  assert_int_equal(g->version, 1);
  assert_string_equal(g->params, m.params);
  assert_string_equal(g->fit_stats, m.fit_stats);
  assert_int_equal(g->created_at, 1700000000000);
  assert_int_equal(g->promoted, 1);
  tsr_store_free(g);

  m.promoted = 0;
  m.created_at = 0;
  OK(tsr_store_model_add(s, &m, &id2, &v2, &err));
  assert_int_equal(v2, 2);
  tsr_model gg = {.kind = "gg", .promoted = 1};
  OK(tsr_store_model_add(s, &gg, &id3, &v3, &err));
  assert_int_equal(v3, 1);
  OK(tsr_store_model_promoted(s, "bgnbd", &g, &err));
  assert_int_equal(g->id, id1);
  tsr_store_free(g);
  OK(tsr_store_model_promote(s, id2, &err));
  OK(tsr_store_model_promoted(s, "bgnbd", &g, &err));
  assert_int_equal(g->id, id2);
  assert_int_equal(g->run_id, rid);
  tsr_store_free(g);

  collect c = {0};
  OK(tsr_store_models_list(s, 0, NULL, collect_model, &c, &err));
  assert_int_equal(c.n, 3);
  assert_string_equal(c.buf[0], "bgnbd v2 *");
  assert_string_equal(c.buf[1], "bgnbd v1");
  assert_string_equal(c.buf[2], "gg v1 *");
  memset(&c, 0, sizeof c);
  OK(tsr_store_models_list(s, rid, NULL, collect_model, &c, &err));
  assert_int_equal(c.n, 2);
  memset(&c, 0, sizeof c);
  OK(tsr_store_models_list(s, 0, "gg", collect_model, &c, &err));
  assert_int_equal(c.n, 1);

  /* fit_stats replaced (retrain adds its evaluation) */
  OK(tsr_store_model_set_stats(s, id2, "{\"ll\":-1,\"evaluation\":{\"promoted\":true}}", &err));
  OK(tsr_store_model_get(s, id2, &g, &err));
  assert_string_equal(g->fit_stats, "{\"ll\":-1,\"evaluation\":{\"promoted\":true}}");
  tsr_store_free(g);
  assert_int_equal(tsr_store_model_set_stats(s, 999, "{}", &err), TSR_ENOTFOUND);
  assert_string_equal(err.msg, "model 999: not found");
  assert_int_equal(tsr_store_model_set_stats(s, id2, "{", &err), TSR_EINVAL);

  m.version = 2;
  assert_int_equal(tsr_store_model_add(s, &m, NULL, NULL, &err), TSR_EEXIST);
  assert_int_equal(tsr_store_model_promote(s, 999, &err), TSR_ENOTFOUND);
  assert_string_equal(err.msg, "model 999: not found");
  assert_int_equal(tsr_store_model_promoted(s, "kmeans", &g, &err), TSR_ENOTFOUND);
  tsr_store_close(s);
}

/* ---------------------------------------------------------------- deletes */

static void test_deletes(void **state) {
  (void)state;
  tsr_error err;
  tsr_store *s = open_new("del.db");
  tsr_dataset d = {.source = "tx.csv", .checksum = "c1"};
  int64_t did, rid, rid2, mid;
  OK(tsr_store_dataset_add(s, &d, &did, &err));
  tsr_reject_row rj = {0, 3, 1, "date", "date: bad", "x"};
  OK(tsr_store_rejects_add(s, did, &rj, 1, &err));
  tsr_run r = {.dataset_id = did, .command = "analyze"};
  OK(tsr_store_run_begin(s, &r, &rid, &err));
  OK(tsr_store_run_begin(s, &r, &rid2, &err));
  tsr_customer c;
  tsr_customer_init(&c);
  c.customer_id = "a";
  OK(tsr_store_customers_add(s, rid, &c, 1, &err));
  OK(tsr_store_customers_add(s, rid2, &c, 1, &err));
  tsr_segment_row sr = {"rf10", "champions", 1, 1, 5, 5, 5, 10, 1};
  OK(tsr_store_segments_add(s, rid, &sr, 1, &err));
  tsr_event e = {.run_id = rid, .step = "x", .message = "y", .rows_in = -1, .rows_out = -1, .duration_ms = NAN};
  OK(tsr_store_event_add(s, &e, NULL, &err));
  tsr_model m = {.run_id = rid, .kind = "bgnbd", .promoted = 1};
  OK(tsr_store_model_add(s, &m, &mid, NULL, &err));

  OK(tsr_store_run_delete(s, rid, &err));
  tsr_store_stats st;
  OK(tsr_store_stats_get(s, &st, &err));
  assert_int_equal(st.runs, 1);
  assert_int_equal(st.customers, 1); /* the other run's */
  assert_int_equal(st.segments, 0);
  assert_int_equal(st.events, 0);
  assert_int_equal(st.models, 1);
  tsr_model *gm;
  OK(tsr_store_model_get(s, mid, &gm, &err));
  assert_int_equal(gm->run_id, 0);
  tsr_store_free(gm);
  assert_int_equal(tsr_store_run_delete(s, rid, &err), TSR_ENOTFOUND);
  char expect[64];
  snprintf(expect, sizeof expect, "run %lld: not found", (long long)rid);
  assert_string_equal(err.msg, expect);

  OK(tsr_store_dataset_delete(s, did, &err));
  OK(tsr_store_stats_get(s, &st, &err));
  assert_int_equal(st.datasets, 0);
  assert_int_equal(st.rejects, 0);
  tsr_run *g;
  OK(tsr_store_run_get(s, rid2, &g, &err));
  assert_int_equal(g->dataset_id, 0);
  assert_null(g->dataset_source);
  tsr_store_free(g);
  assert_int_equal(tsr_store_dataset_delete(s, did, &err), TSR_ENOTFOUND);
  assert_int_equal(tsr_store_dataset_delete(s, 0, &err), TSR_EINVAL);
  tsr_store_close(s);
}

/* ---------------------------------------------------------------- hostile */

static void test_hostile_strings(void **state) {
  (void)state;
  tsr_error err;
  tsr_store *s = open_new("hostile.db");
  const char *evil[] = {
      "'; DROP TABLE runs; --",
      "Robert'); DROP TABLE customers;--",
      "\"quoted\" and 'single' and `back`",
      "semi;colon\nnew line\ttab",
      "unicode: \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
      "%s%n%x",
      "back\\slash \\N \\t \\\\ \\.", /* COPY's escapes must stay data */
      "",
  };
  for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
    tsr_dataset d = {.source = evil[i], .checksum = evil[i], .stored_path = evil[i]};
    int64_t did;
    OK(tsr_store_dataset_add(s, &d, &did, &err));
    tsr_run r = {.dataset_id = did, .command = evil[i], .output_dir = evil[i]};
    int64_t rid;
    OK(tsr_store_run_begin(s, &r, &rid, &err));
    OK(tsr_store_run_finish(s, rid, TSR_RUN_FAILED, NULL, NULL, evil[i], &err));
    tsr_event e = {.run_id = rid, .step = evil[i], .message = evil[i], .rows_in = -1,
                   .rows_out = -1, .duration_ms = NAN};
    OK(tsr_store_event_add(s, &e, NULL, &err));
    tsr_customer c;
    tsr_customer_init(&c);
    c.customer_id = evil[i];
    c.segment = evil[i];
    c.rfm_cell = evil[i];
    OK(tsr_store_customers_add(s, rid, &c, 1, &err));
    tsr_segment_row sr = {.scheme = evil[i], .segment = evil[i]};
    OK(tsr_store_segments_add(s, rid, &sr, 1, &err));

    tsr_run *g;
    OK(tsr_store_run_get(s, rid, &g, &err));
    assert_string_equal(g->command, evil[i]);
    assert_string_equal(g->error, evil[i]);
    assert_string_equal(g->dataset_source, evil[i]);
    tsr_store_free(g);
    tsr_customer *gc;
    OK(tsr_store_customer_get(s, rid, evil[i], &gc, &err));
    assert_string_equal(gc->segment, evil[i]);
    tsr_store_free(gc);
    tsr_customer_query q;
    tsr_customer_query_init(&q, rid);
    q.segment = evil[i];
    int64_t n;
    OK(tsr_store_customers_count(s, &q, &n, &err));
    assert_int_equal(n, 1);
    tsr_dataset *gd;
    OK(tsr_store_dataset_find(s, evil[i], &gd, &err));
    assert_int_equal(gd->id, did);
    tsr_store_free(gd);
  }
  tsr_store_stats st;
  OK(tsr_store_stats_get(s, &st, &err));
  assert_int_equal(st.runs, 8);
  assert_int_equal(st.customers, 8);
  assert_int_equal(st.datasets, 8);
  tsr_store_close(s);
}

/* ---------------------------------------------------------------- transactions */

static void test_transactions(void **state) {
  (void)state;
  tsr_error err;
  tsr_store *s = open_new("tx.db");
  tsr_run r = {.command = "analyze"};
  int64_t rid;
  OK(tsr_store_begin(s, &err));
  assert_int_equal(tsr_store_begin(s, &err), TSR_EINVAL);
  OK(tsr_store_run_begin(s, &r, &rid, &err));
  OK(tsr_store_rollback(s, &err));
  tsr_run *g;
  assert_int_equal(tsr_store_run_get(s, rid, &g, &err), TSR_ENOTFOUND);
  assert_int_equal(tsr_store_commit(s, &err), TSR_EINVAL);
  OK(tsr_store_rollback(s, &err)); /* no-op */

  OK(tsr_store_begin(s, &err));
  OK(tsr_store_run_begin(s, &r, &rid, &err));
  tsr_customer c[2];
  tsr_customer_init(&c[0]);
  tsr_customer_init(&c[1]);
  c[0].customer_id = "a";
  c[1].customer_id = "a";
  /* a failing batch inside a transaction rolls back only itself */
  assert_int_equal(tsr_store_customers_add(s, rid, c, 2, &err), TSR_ESTORE);
  c[1].customer_id = "b";
  OK(tsr_store_customers_add(s, rid, c, 2, &err));
  OK(tsr_store_commit(s, &err));
  OK(tsr_store_run_get(s, rid, &g, &err));
  assert_int_equal(g->n_customers, 2);
  tsr_store_free(g);
  tsr_store_close(s);
}

/* ---------------------------------------------------------------- concurrency */

typedef struct reader_arg {
  char path[600];
  atomic_int stop; /* set by the main thread */
  atomic_int reads;
  int errors;
  char last_err[512];
} reader_arg;

static int count_run_cb(void *ctx, const tsr_run *r) {
  (void)r;
  (*(int *)ctx)++;
  return 0;
}

/* Reads runs and customer counts on its own handle until told to stop. */
static void *reader_main(void *p) {
  reader_arg *a = p;
  tsr_store *s = NULL;
  tsr_error err;
  if (tsr_store_open(a->path, 0, &s, &err) != TSR_OK) {
    a->errors++;
    snprintf(a->last_err, sizeof a->last_err, "%s", err.msg);
    return NULL;
  }
  while (!atomic_load(&a->stop)) {
    int n = 0;
    tsr_store_stats st;
    if (tsr_store_runs_list(s, 10, 0, count_run_cb, &n, &err) != TSR_OK ||
        tsr_store_stats_get(s, &st, &err) != TSR_OK) {
      a->errors++;
      snprintf(a->last_err, sizeof a->last_err, "%s", err.msg);
      break;
    }
    a->reads++;
  }
  tsr_store_close(s);
  return NULL;
}

static void test_concurrent_reader(void **state) {
  (void)state;
  tsr_error err;
  tsr_store *w = open_new("conc.db");
  reader_arg ra;
  memset(&ra, 0, sizeof ra);
  db_url("conc.db", ra.path, sizeof ra.path);

  /* two handles, one thread: the reader sees the last committed state while
   * the writer holds an open transaction, and is not blocked */
  tsr_store *r = NULL;
  OK(tsr_store_open(ra.path, 0, &r, &err));
  tsr_run run = {.command = "analyze"};
  int64_t rid;
  OK(tsr_store_begin(w, &err));
  OK(tsr_store_run_begin(w, &run, &rid, &err));
  int n = 0;
  OK(tsr_store_runs_list(r, 0, 0, count_run_cb, &n, &err));
  assert_int_equal(n, 0);
  OK(tsr_store_commit(w, &err));
  n = 0;
  OK(tsr_store_runs_list(r, 0, 0, count_run_cb, &n, &err));
  assert_int_equal(n, 1);
  tsr_store_close(r);

  /* a reader thread polls while the writer inserts batches */
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, reader_main, &ra), 0);
  enum { B = 2000 };
  tsr_customer *rows = calloc(B, sizeof *rows);
  char(*ids)[16] = calloc(B, 16);
  for (int batch = 0; batch < 20; batch++) {
    OK(tsr_store_run_begin(w, &run, &rid, &err));
    for (int i = 0; i < B; i++) {
      tsr_customer_init(&rows[i]);
      snprintf(ids[i], 16, "c%d", i);
      rows[i].customer_id = ids[i];
      rows[i].frequency = i;
    }
    OK(tsr_store_customers_add(w, rid, rows, B, &err));
    tsr_event e = {.run_id = rid, .step = "store", .message = "batch", .rows_in = B,
                   .rows_out = B, .duration_ms = 1};
    OK(tsr_store_event_add(w, &e, NULL, &err));
    OK(tsr_store_run_finish(w, rid, TSR_RUN_DONE, NULL, NULL, NULL, &err));
  }
  /* on a loaded machine the writer may finish first: let the reader read */
  for (int w = 0; w < 10000 && atomic_load(&ra.reads) == 0 && !ra.errors; w++) usleep(1000);
  atomic_store(&ra.stop, 1);
  pthread_join(th, NULL);
  if (ra.errors) fail_msg("reader failed: %s", ra.last_err);
  assert_true(ra.reads > 0);
  tsr_store_stats st;
  OK(tsr_store_stats_get(w, &st, &err));
  assert_int_equal(st.customers, 20 * B);
  free(rows);
  free(ids);
  tsr_store_close(w);
}

/* Writes runs, events and customer batches on its own handle. */
static void *writer_main(void *p) {
  reader_arg *a = p;
  tsr_store *s = NULL;
  tsr_error err;
  if (tsr_store_open(a->path, 0, &s, &err) != TSR_OK) {
    a->errors++;
    snprintf(a->last_err, sizeof a->last_err, "%s", err.msg);
    return NULL;
  }
  char ids[50][16];
  tsr_customer rows[50];
  for (int i = 0; i < 50; i++) {
    snprintf(ids[i], 16, "w%d", 49 - i);
    tsr_customer_init(&rows[i]);
    rows[i].customer_id = ids[i];
  }
  for (int k = 0; k < 100; k++) {
    tsr_run r = {.command = "writer"};
    int64_t rid;
    tsr_event e = {.step = "w", .message = "m", .rows_in = -1, .rows_out = -1, .duration_ms = NAN};
    if (tsr_store_run_begin(s, &r, &rid, &err) != TSR_OK ||
        (e.run_id = rid, tsr_store_event_add(s, &e, NULL, &err)) != TSR_OK ||
        tsr_store_customers_add(s, rid, rows, 50, &err) != TSR_OK ||
        tsr_store_run_finish(s, rid, TSR_RUN_DONE, NULL, NULL, NULL, &err) != TSR_OK) {
      a->errors++;
      snprintf(a->last_err, sizeof a->last_err, "%s", err.msg);
      break;
    }
    a->reads++;
  }
  tsr_store_close(s);
  return NULL;
}

/* Two writers on two handles: the busy timeout queues them, nothing fails. */
static void test_concurrent_writers(void **state) {
  (void)state;
  tsr_store *s = open_new("writers.db");
  reader_arg a[2];
  pthread_t th[2];
  for (int i = 0; i < 2; i++) {
    memset(&a[i], 0, sizeof a[i]);
    db_url("writers.db", a[i].path, sizeof a[i].path);
    assert_int_equal(pthread_create(&th[i], NULL, writer_main, &a[i]), 0);
  }
  for (int i = 0; i < 2; i++) {
    pthread_join(th[i], NULL);
    if (a[i].errors) fail_msg("writer %d failed: %s", i, a[i].last_err);
    assert_int_equal(a[i].reads, 100);
  }
  tsr_store_stats st;
  tsr_error err;
  OK(tsr_store_stats_get(s, &st, &err));
  assert_int_equal(st.runs, 200);
  assert_int_equal(st.events, 200);
  assert_int_equal(st.customers, 200 * 50);
  tsr_store_close(s);
}

/* ---------------------------------------------------------------- large batch */

typedef struct sum_ctx {
  int64_t n;
  double freq_sum;
  int64_t ntx_sum;
  int bad;
} sum_ctx;

static int sum_customer(void *ctx, const tsr_customer *c) {
  sum_ctx *sc = ctx;
  /* ids are "cust%07d" and ascending in id order */
  long k = strtol(c->customer_id + 4, NULL, 10);
  if (k != sc->n || c->frequency != (double)(k % 97) || c->clv != (double)k * 0.5 ||
      c->r_score != (int)(k % 5) + 1 || (k % 3 == 0 ? c->segment != NULL : strcmp(c->segment, "loyal_customers") != 0))
    sc->bad++;
  sc->n++;
  sc->freq_sum += c->frequency;
  sc->ntx_sum += c->n_transactions;
  return 0;
}

static void test_large_batch(void **state) {
  (void)state;
  tsr_error err;
  tsr_store *s = open_new("large.db");
  tsr_run r = {.command = "analyze"};
  int64_t rid;
  OK(tsr_store_run_begin(s, &r, &rid, &err));
  enum { N = 200000 };
  tsr_customer *rows = malloc(N * sizeof *rows);
  char(*ids)[16] = malloc((size_t)N * 16);
  double fsum = 0;
  int64_t tsum = 0;
  /* insert in a scrambled order */
  for (int i = 0; i < N; i++) {
    int k = (int)(((int64_t)i * 7919) % N);
    snprintf(ids[i], 16, "cust%07d", k);
    tsr_customer_init(&rows[i]);
    rows[i].customer_id = ids[i];
    rows[i].frequency = k % 97;
    rows[i].n_transactions = k % 97 + 1;
    rows[i].clv = k * 0.5;
    rows[i].r_score = k % 5 + 1;
    rows[i].segment = k % 3 == 0 ? NULL : "loyal_customers";
    fsum += rows[i].frequency;
    tsum += rows[i].n_transactions;
  }
  OK(tsr_store_customers_add(s, rid, rows, N, &err));
  tsr_customer_query q;
  tsr_customer_query_init(&q, rid);
  sum_ctx sc = {0};
  OK(tsr_store_customers_list(s, &q, sum_customer, &sc, &err));
  assert_int_equal(sc.n, N);
  assert_int_equal(sc.bad, 0);
  assert_dbl_same(sc.freq_sum, fsum);
  assert_int_equal(sc.ntx_sum, tsum);
  int64_t n;
  q.segment = "loyal_customers";
  OK(tsr_store_customers_count(s, &q, &n, &err));
  assert_int_equal(n, N - (N + 2) / 3);
  tsr_run *g;
  OK(tsr_store_run_get(s, rid, &g, &err));
  assert_int_equal(g->n_customers, N);
  tsr_store_free(g);
  free(rows);
  free(ids);
  tsr_store_close(s);
}

/* A callback may call back into the store, even the query it runs in. */
typedef struct reenter_ctx {
  tsr_store *s;
  int outer, inner;
  tsr_status st;
} reenter_ctx;

static int count_inner(void *ctx, const tsr_run *r) {
  (void)r;
  ((reenter_ctx *)ctx)->inner++;
  return 0;
}

static int reenter(void *ctx, const tsr_run *r) {
  reenter_ctx *c = ctx;
  tsr_error err;
  c->outer++;
  tsr_run *g = NULL;
  c->st |= tsr_store_run_get(c->s, r->id, &g, &err);
  tsr_store_free(g);
  c->st |= tsr_store_runs_list(c->s, 0, 0, count_inner, c, &err);
  return 0;
}

static void test_reentrant_reads(void **state) {
  (void)state;
  tsr_error err;
  tsr_store *s = open_new("reenter.db");
  tsr_run r = {.command = "analyze"};
  for (int i = 0; i < 3; i++) OK(tsr_store_run_begin(s, &r, NULL, &err));
  reenter_ctx c = {s, 0, 0, TSR_OK};
  OK(tsr_store_runs_list(s, 0, 0, reenter, &c, &err));
  assert_int_equal(c.st, TSR_OK);
  assert_int_equal(c.outer, 3);
  assert_int_equal(c.inner, 9);
  /* and the cached statements still work afterwards */
  c.outer = c.inner = 0;
  OK(tsr_store_runs_list(s, 0, 0, reenter, &c, &err));
  assert_int_equal(c.outer, 3);
  tsr_store_close(s);
}

/* ---------------------------------------------------------------- misc */

static void test_time_format(void **state) {
  (void)state;
  char buf[40];
  assert_string_equal(tsr_store_time_format(0, buf, sizeof buf), "");
  assert_string_equal(tsr_store_time_format(1700000000000, buf, sizeof buf), "2023-11-14T22:13:20Z");
  assert_string_equal(tsr_store_time_format(1700000000123, buf, sizeof buf), "2023-11-14T22:13:20.123Z");
  assert_string_equal(tsr_store_time_format(-1, buf, sizeof buf), "1969-12-31T23:59:59.999Z");
  assert_true(tsr_store_now_ms() > 1700000000000);
}

/* Every allocation of open/get failing in turn gives TSR_ENOMEM, never a
 * crash or leak (checked under ASan). */
static void test_alloc_failures(void **state) {
  (void)state;
  tsr_error err;
  char p[600];
  tsr_store *s = open_new("oom.db");
  tsr_run r = {.command = "analyze"};
  int64_t rid;
  OK(tsr_store_run_begin(s, &r, &rid, &err));
  tsr_store_close(s);
  db_url("oom.db", p, sizeof p);
  int ok = 0;
  for (long k = 0; k < 20 && !ok; k++) {
    tsr__alloc_fail_after(k);
    tsr_status st = tsr_store_open(p, 0, &s, &err);
    tsr_run *g = NULL;
    if (st == TSR_OK) st = tsr_store_run_get(s, rid, &g, &err);
    tsr__alloc_fail_after(-1);
    if (st == TSR_OK) ok = 1;
    else assert_int_equal(st, TSR_ENOMEM);
    tsr_store_free(g);
    tsr_store_close(s); /* NULL when open failed */
    s = NULL;
  }
  assert_true(ok);

  /* an unsorted batch needs memory to be sorted: failing it stores nothing */
  OK(tsr_store_open(p, 0, &s, &err));
  tsr_customer c[2];
  tsr_customer_init(&c[0]);
  tsr_customer_init(&c[1]);
  c[0].customer_id = "b";
  c[1].customer_id = "a";
  tsr__alloc_fail_after(0);
  tsr_status st = tsr_store_customers_add(s, rid, c, 2, &err);
  tsr__alloc_fail_after(-1);
  assert_int_equal(st, TSR_ENOMEM);
  tsr_customer_query q;
  tsr_customer_query_init(&q, rid);
  int64_t n = -1;
  OK(tsr_store_customers_count(s, &q, &n, &err));
  assert_int_equal(n, 0);
  OK(tsr_store_customers_add(s, rid, c, 2, &err));
  OK(tsr_store_customers_count(s, &q, &n, &err));
  assert_int_equal(n, 2);
  /* gets fail cleanly when the result cannot be allocated */
  tsr_customer *g = NULL;
  tsr__alloc_fail_after(0);
  st = tsr_store_customer_get(s, rid, "a", &g, &err);
  tsr__alloc_fail_after(-1);
  assert_int_equal(st, TSR_ENOMEM);
  assert_null(g);
  tsr_store_close(s);
}

int main(void) {
  use_pg = !strcmp(envs("TSR_TEST_STORE_BACKEND"), "postgresql");
  if (use_pg && !*envs("TSR_TEST_PG_HOST")) {
    fprintf(stderr, "test_store: TSR_TEST_STORE_BACKEND=postgresql needs TSR_TEST_PG_HOST (tests/pg/with_pg.sh)\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_url),
      cmocka_unit_test(test_open_errors),
      cmocka_unit_test(test_wal_and_migrations),
      cmocka_unit_test(test_dataset_roundtrip),
      cmocka_unit_test(test_run_roundtrip),
      cmocka_unit_test(test_events),
      cmocka_unit_test(test_customers_roundtrip),
      cmocka_unit_test(test_customers_order_and_overlap),
      cmocka_unit_test(test_customers_lens),
      cmocka_unit_test(test_customers_ready),
      cmocka_unit_test(test_tx_temp_store),
      cmocka_unit_test(test_history_text),
      cmocka_unit_test(test_history_in_customer_row),
      cmocka_unit_test(test_segments_roundtrip),
      cmocka_unit_test(test_models_roundtrip),
      cmocka_unit_test(test_deletes),
      cmocka_unit_test(test_hostile_strings),
      cmocka_unit_test(test_transactions),
      cmocka_unit_test(test_concurrent_reader),
      cmocka_unit_test(test_concurrent_writers),
      cmocka_unit_test(test_bulk_journal),
      cmocka_unit_test(test_bulk_crash),
      cmocka_unit_test(test_large_batch),
      cmocka_unit_test(test_reentrant_reads),
      cmocka_unit_test(test_time_format),
      cmocka_unit_test(test_alloc_failures),
  };
  return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
