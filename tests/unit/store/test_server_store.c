/*
 * test_server_store.c - the web application's tables in the store
 * (tessera/store_web.h, store/sqlite_web.c): accounts, sessions, tokens,
 * request log, uploads, web runs, histories, dashboard aggregates, and the
 * statement cache of long-lived handles.
 *
 * With TSR_TEST_PG_URL set (tests/pg/with_pg.sh, ctest unit/test_server_store_pg)
 * the same tests run on PostgreSQL: each starts from an empty public schema.
 */
#include "tsr_test.h"
#include "tessera/store_web.h"

#include <libpq-fe.h>

/* The PostgreSQL URL to test against, or NULL for SQLite. */
static const char *pg_url(void) {
  const char *u = getenv("TSR_TEST_PG_URL");
  return u && *u ? u : NULL;
}

static void pg_quiet(void *arg, const char *msg) {
  (void)arg;
  (void)msg;
}

/* Empties the test database (drops and recreates the public schema). */
static void pg_reset(const char *url) {
  PGconn *c = PQconnectdb(url);
  if (PQstatus(c) != CONNECTION_OK) fail_msg("connect: %s", PQerrorMessage(c));
  PQsetNoticeProcessor(c, pg_quiet, NULL);
  PGresult *r = PQexec(c, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
  if (PQresultStatus(r) != PGRES_COMMAND_OK) fail_msg("reset: %s", PQerrorMessage(c));
  PQclear(r);
  PQfinish(c);
}

typedef struct fx {
  char dir[256], db[1024];
  tsr_store *s;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/tsr-web-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->db, sizeof f->db, "%s/w.db", f->dir);
  const char *url = pg_url();
  if (url) {
    pg_reset(url);
    snprintf(f->db, sizeof f->db, "%s", url);
  }
  tsr_error e;
  if (tsr_store_open(f->db, TSR_STORE_CREATE, &f->s, &e) != TSR_OK) fail_msg("open: %s", e.msg);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  tsr_web_store_cache(f->s, 0);
  tsr_store_close(f->s);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  if (system(cmd) != 0) return 1;
  free(f);
  return 0;
}

static int count_users(void *ctx, const tsr_web_user *u) {
  (void)u;
  (*(int *)ctx)++;
  return 0;
}

static void users(void **state) {
  fx *f = *state;
  tsr_error e;
  int64_t id = 0, id2 = 0;
  assert_int_equal(tsr_web_user_add(f->s, "ana", "analyst", "$argon2id$x", &id, &e), TSR_OK);
  assert_true(id > 0);
  assert_int_equal(tsr_web_user_add(f->s, "ana", "viewer", "$argon2id$y", NULL, &e), TSR_EEXIST);
  assert_string_equal(e.msg, "user 'ana': already exists");
  assert_int_equal(tsr_web_user_add(f->s, "bob", "root", "h", NULL, &e), TSR_EINVAL);
  assert_string_equal(e.msg, "role: expected admin, analyst or viewer, got 'root'");
  assert_int_equal(tsr_web_user_add(f->s, "", "viewer", "h", NULL, &e), TSR_EINVAL);
  /* hostile names are data, not SQL */
  assert_int_equal(tsr_web_user_add(f->s, "x'); DROP TABLE web_users; --", "viewer", "h", &id2, &e), TSR_OK);
  tsr_web_user *u = NULL;
  assert_int_equal(tsr_web_user_get(f->s, 0, "ana", &u, &e), TSR_OK);
  assert_int_equal(u->id, id);
  assert_string_equal(u->role, "analyst");
  assert_string_equal(u->pwhash, "$argon2id$x");
  tsr_store_free(u);
  assert_int_equal(tsr_web_user_get(f->s, id2, NULL, &u, &e), TSR_OK);
  assert_string_equal(u->name, "x'); DROP TABLE web_users; --");
  tsr_store_free(u);
  assert_int_equal(tsr_web_user_update(f->s, "ana", "admin", NULL, &e), TSR_OK);
  assert_int_equal(tsr_web_user_get(f->s, 0, "ana", &u, &e), TSR_OK);
  assert_string_equal(u->role, "admin");
  assert_string_equal(u->pwhash, "$argon2id$x");
  tsr_store_free(u);
  assert_int_equal(tsr_web_user_update(f->s, "nobody", NULL, "h", &e), TSR_ENOTFOUND);
  /* a failed write inside a transaction leaves the transaction usable
   * (PostgreSQL: a savepoint around the statement) */
  assert_int_equal(tsr_store_begin(f->s, &e), TSR_OK);
  assert_int_equal(tsr_web_user_add(f->s, "ana", "viewer", "h", NULL, &e), TSR_EEXIST);
  assert_int_equal(tsr_web_user_add(f->s, "tx", "viewer", "h", NULL, &e), TSR_OK);
  assert_int_equal(tsr_store_commit(f->s, &e), TSR_OK);
  assert_int_equal(tsr_web_user_get(f->s, 0, "tx", &u, &e), TSR_OK);
  tsr_store_free(u);
  assert_int_equal(tsr_web_user_del(f->s, "tx", &e), TSR_OK);
  assert_int_equal(tsr_web_user_del(f->s, "tx", &e), TSR_ENOTFOUND);
  assert_string_equal(e.msg, "user 'tx': not found");
  int n = 0;
  assert_int_equal(tsr_web_users_list(f->s, count_users, &n, &e), TSR_OK);
  assert_int_equal(n, 2);
  assert_int_equal(tsr_web_user_del(f->s, "nobody", &e), TSR_ENOTFOUND);
  assert_string_equal(e.msg, "user 'nobody': not found");
}

static void sessions_tokens(void **state) {
  fx *f = *state;
  tsr_error e;
  int64_t id = 0;
  char csrf[80];
  assert_int_equal(tsr_web_user_add(f->s, "vic", "viewer", "h", &id, &e), TSR_OK);
  int64_t now = tsr_store_now_ms();
  assert_int_equal(tsr_web_session_add(f->s, "aaaa", id, "csrf-1", now + 60000, &e), TSR_OK);
  assert_int_equal(tsr_web_session_add(f->s, "old", id, "csrf-2", now - 1, &e), TSR_OK);
  tsr_web_user *u = NULL;
  assert_int_equal(tsr_web_session_get(f->s, "aaaa", now, &u, csrf, sizeof csrf, &e), TSR_OK);
  assert_string_equal(u->name, "vic");
  assert_string_equal(csrf, "csrf-1");
  tsr_store_free(u);
  assert_int_equal(tsr_web_session_get(f->s, "old", now, &u, csrf, sizeof csrf, &e), TSR_ENOTFOUND);
  assert_null(u);
  assert_int_equal(tsr_web_token_add(f->s, id, "tokhash", &e), TSR_OK);
  assert_int_equal(tsr_web_token_add(f->s, id, "tokhash", &e), TSR_EEXIST);
  assert_int_equal(tsr_web_token_get(f->s, "tokhash", &u, &e), TSR_OK);
  assert_string_equal(u->role, "viewer");
  tsr_store_free(u);
  assert_int_equal(tsr_web_token_get(f->s, "other", &u, &e), TSR_ENOTFOUND);
  /* deleting the session; deleting the user removes its tokens */
  assert_int_equal(tsr_web_session_del(f->s, "aaaa", &e), TSR_OK);
  assert_int_equal(tsr_web_session_get(f->s, "aaaa", now, &u, csrf, sizeof csrf, &e), TSR_ENOTFOUND);
  assert_int_equal(tsr_web_user_del(f->s, "vic", &e), TSR_OK);
  assert_int_equal(tsr_web_token_get(f->s, "tokhash", &u, &e), TSR_ENOTFOUND);
}

/* A password change ends the user's other sessions, not the current one
 * and not another user's. */
static void sessions_of_user(void **state) {
  fx *f = *state;
  tsr_error e;
  int64_t ana = 0, bob = 0, n = -1;
  char csrf[80];
  tsr_web_user *u = NULL;
  assert_int_equal(tsr_web_user_add(f->s, "ana", "viewer", "h", &ana, &e), TSR_OK);
  assert_int_equal(tsr_web_user_add(f->s, "bob", "viewer", "h", &bob, &e), TSR_OK);
  int64_t now = tsr_store_now_ms();
  const char *ana_s[] = {"a-here", "a-phone", "a-laptop"};
  for (size_t i = 0; i < 3; i++)
    assert_int_equal(tsr_web_session_add(f->s, ana_s[i], ana, "c", now + 60000, &e), TSR_OK);
  assert_int_equal(tsr_web_session_add(f->s, "b-one", bob, "c", now + 60000, &e), TSR_OK);
  assert_int_equal(tsr_web_sessions_del(f->s, ana, "a-here", &n, &e), TSR_OK);
  assert_int_equal(n, 2);
  assert_int_equal(tsr_web_session_get(f->s, "a-here", now, &u, csrf, sizeof csrf, &e), TSR_OK);
  assert_string_equal(u->name, "ana");
  tsr_store_free(u);
  assert_int_equal(tsr_web_session_get(f->s, "a-phone", now, &u, csrf, sizeof csrf, &e), TSR_ENOTFOUND);
  assert_int_equal(tsr_web_session_get(f->s, "a-laptop", now, &u, csrf, sizeof csrf, &e), TSR_ENOTFOUND);
  assert_int_equal(tsr_web_session_get(f->s, "b-one", now, &u, csrf, sizeof csrf, &e), TSR_OK);
  tsr_store_free(u);
  /* without a session to keep (a change from the command line): all of them */
  assert_int_equal(tsr_web_sessions_del(f->s, ana, NULL, &n, &e), TSR_OK);
  assert_int_equal(n, 1);
  assert_int_equal(tsr_web_session_get(f->s, "a-here", now, &u, csrf, sizeof csrf, &e), TSR_ENOTFOUND);
  assert_int_equal(tsr_web_sessions_del(f->s, ana, NULL, NULL, &e), TSR_OK);
  assert_int_equal(tsr_web_session_get(f->s, "b-one", now, &u, csrf, sizeof csrf, &e), TSR_OK);
  tsr_store_free(u);
}

static int hist_cb(void *ctx, const tsr_web_history_row *h) {
  double *sum = ctx;
  sum[0] += h->amount;
  sum[1] += (double)h->ntx;
  sum[2] = (double)h->day; /* last day, in order */
  return 0;
}

/* Source of history_bulk_load: customer i has i % 4 active days; fails at
 * customer fail_at (when >= 0). */
typedef struct bulk_src {
  tsr_web_history_row rows[4];
  long fail_at;
  size_t hints; /* calls with rows == NULL */
} bulk_src;

static tsr_status bulk_rows(void *ctx, size_t i, const tsr_web_history_row **rows, size_t *n,
                            tsr_error *err) {
  bulk_src *b = ctx;
  if (!rows) {
    assert_true(i < 601 && *n <= 1);
    b->hints++;
    return TSR_OK;
  }
  if (b->fail_at >= 0 && (long)i == b->fail_at)
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "source failed at %zu", i);
  *n = i % 4;
  for (size_t j = 0; j < *n; j++) {
    b->rows[j].day = 20000 + (int64_t)(3 * j + i % 5);
    b->rows[j].ntx = (int64_t)j + 1;
    b->rows[j].amount = 0.25 * (double)i + (double)j;
  }
  *rows = b->rows;
  return TSR_OK;
}

/* The bulk load stores every row of every customer given in any id order
 * (more rows than one multi-row statement holds, plus a tail), refuses a
 * second load of the same rows and rolls back when the source fails. */
static void history_bulk_load(void **state) {
  fx *f = *state;
  tsr_error e;
  tsr_run r;
  memset(&r, 0, sizeof r);
  r.command = "analyze";
  int64_t run = 0, run2 = 0;
  assert_int_equal(tsr_store_run_begin(f->s, &r, &run, &e), TSR_OK);
  assert_int_equal(tsr_store_run_begin(f->s, &r, &run2, &e), TSR_OK);
  enum { N = 601 };
  static char names[N][16];
  const char *ids[N];
  for (int i = 0; i < N; i++) { /* descending, then a few out of place */
    snprintf(names[i], sizeof names[i], "K%04d", (N - i) * 7 % 1000 + (i % 3 ? 0 : 1000));
    ids[i] = names[i];
  }
  bulk_src b = {.fail_at = -1};
  assert_int_equal(tsr_web_history_load(f->s, run, ids, N, bulk_rows, &b, &e), TSR_OK);
  assert_true(b.hints > N); /* ids out of order: rows fetched ahead */
  for (int i = 0; i < N; i++) {
    double sum[3] = {0, 0, 0};
    assert_int_equal(tsr_web_history_list(f->s, run, ids[i], hist_cb, sum, &e), TSR_OK);
    int k = i % 4;
    double amount = 0, ntx = 0;
    for (int j = 0; j < k; j++) {
      amount += 0.25 * i + j;
      ntx += j + 1;
    }
    assert_near(sum[0], amount, 0);
    assert_near(sum[1], ntx, 0);
    if (k) assert_near(sum[2], 20000 + 3 * (k - 1) + i % 5, 0);
  }
  /* the same rows again: refused, nothing changed */
  assert_int_not_equal(tsr_web_history_load(f->s, run, ids, N, bulk_rows, &b, &e), TSR_OK);
  double sum[3] = {0, 0, 0};
  assert_int_equal(tsr_web_history_list(f->s, run, ids[N - 1], hist_cb, sum, &e), TSR_OK);
  assert_near(sum[0], 0.25 * (N - 1) * 0, 0); /* (N - 1) % 4 == 0: no rows */
  assert_int_equal(tsr_web_history_list(f->s, run, ids[N - 2], hist_cb, sum, &e), TSR_OK);
  assert_near(sum[1], 1 + 2 + 3, 0);
  /* a failing source: its status, nothing of run2 stored */
  b.fail_at = 450;
  assert_int_equal(tsr_web_history_load(f->s, run2, ids, N, bulk_rows, &b, &e), TSR_ENOMEM);
  assert_non_null(strstr(e.msg, "source failed at 450"));
  memset(sum, 0, sizeof sum);
  assert_int_equal(tsr_web_history_list(f->s, run2, ids[1], hist_cb, sum, &e), TSR_OK);
  assert_near(sum[1], 0, 0);
  /* no customers: nothing to do */
  assert_int_equal(tsr_web_history_load(f->s, run2, NULL, 0, NULL, NULL, &e), TSR_OK);
}

static void runs_uploads_history(void **state) {
  fx *f = *state;
  tsr_error e;
  int64_t uid = 0, ds = 0, run = 0, n = 0, owner = -1, up = -1;
  assert_int_equal(tsr_web_user_add(f->s, "ana", "analyst", "h", &uid, &e), TSR_OK);
  tsr_dataset d;
  memset(&d, 0, sizeof d);
  d.source = "tx.csv";
  d.checksum = "abc";
  assert_int_equal(tsr_store_dataset_add(f->s, &d, &ds, &e), TSR_OK);
  assert_int_equal(tsr_web_upload_add(f->s, ds, uid, "tx.csv", &e), TSR_OK);
  assert_int_equal(tsr_web_upload_owner(f->s, ds, &owner, &e), TSR_OK);
  assert_int_equal(owner, uid);
  assert_int_equal(tsr_web_upload_owner(f->s, ds + 1, &owner, &e), TSR_ENOTFOUND);
  tsr_run r;
  memset(&r, 0, sizeof r);
  r.command = "analyze";
  r.dataset_id = ds;
  r.output_dir = "/data/runs/x1";
  assert_int_equal(tsr_store_run_begin(f->s, &r, &run, &e), TSR_OK);
  int64_t found = 0;
  assert_int_equal(tsr_web_run_by_output(f->s, "/data/runs/x1", &found, &e), TSR_OK);
  assert_int_equal(found, run);
  assert_int_equal(tsr_web_run_by_output(f->s, "/data/runs/none", &found, &e), TSR_ENOTFOUND);
  /* a run of the CLI (not a web run) is never touched by the interrupt */
  tsr_run cli;
  memset(&cli, 0, sizeof cli);
  cli.command = "analyze";
  int64_t cli_run = 0, changed = -1;
  assert_int_equal(tsr_store_run_begin(f->s, &cli, &cli_run, &e), TSR_OK);
  assert_int_equal(tsr_web_run_add(f->s, run, ds, uid, &e), TSR_OK);
  assert_int_equal(tsr_web_runs_interrupt(f->s, &changed, &e), TSR_OK);
  assert_int_equal(changed, 1);
  tsr_run *got = NULL;
  assert_int_equal(tsr_store_run_get(f->s, run, &got, &e), TSR_OK);
  assert_int_equal(got->status, TSR_RUN_INTERRUPTED);
  tsr_store_free(got);
  assert_int_equal(tsr_store_run_get(f->s, cli_run, &got, &e), TSR_OK);
  assert_int_equal(got->status, TSR_RUN_RUNNING);
  tsr_store_free(got);
  assert_int_equal(tsr_web_run_get(f->s, run, &up, &owner, &e), TSR_OK);
  assert_int_equal(up, ds);
  assert_int_equal(owner, uid);
  /* customers and histories */
  tsr_customer c[3];
  const char *ids[3] = {"C1", "C2", "=C3"};
  for (int i = 0; i < 3; i++) {
    tsr_customer_init(&c[i]);
    c[i].customer_id = ids[i];
    c[i].frequency = i;
    c[i].revenue = 10.0 * (i + 1);
    c[i].r_score = i + 1;
    c[i].f_score = 1;
    c[i].cluster = i % 2;
    c[i].p_alive = 0.45 * i;
    c[i].clv = 5.0 * i;
  }
  assert_int_equal(tsr_store_customers_add(f->s, run, c, 3, &e), TSR_OK);
  tsr_web_history_row h[3] = {{19000, 1, 5.5}, {19005, 2, 4.5}, {19010, 1, 0.25}};
  assert_int_equal(tsr_store_begin(f->s, &e), TSR_OK);
  assert_int_equal(tsr_web_history_add(f->s, run, "C1", h, 3, &e), TSR_OK);
  assert_int_equal(tsr_store_commit(f->s, &e), TSR_OK);
  double sum[3] = {0, 0, 0};
  assert_int_equal(tsr_web_history_list(f->s, run, "C1", hist_cb, sum, &e), TSR_OK);
  assert_near(sum[0], 10.25, 0);
  assert_near(sum[1], 4, 0);
  assert_near(sum[2], 19010, 0);
  char *agg = NULL;
  assert_int_equal(tsr_web_run_aggregates(f->s, run, &agg, &e), TSR_OK);
  assert_non_null(strstr(agg, "\"clusters\":[{\"cluster\":0,\"customers\":2"));
  assert_non_null(strstr(agg, "\"p_alive_hist\":[1,0,0,0,1,0,0,0,0,1]"));
  assert_non_null(strstr(agg, "\"clv_hist\""));
  free(agg);
  /* deleting the run removes customers and history; deleting the dataset its upload row */
  assert_int_equal(tsr_web_run_delete(f->s, run, &e), TSR_OK);
  memset(sum, 0, sizeof sum);
  assert_int_equal(tsr_web_history_list(f->s, run, "C1", hist_cb, sum, &e), TSR_OK);
  assert_near(sum[1], 0, 0);
  assert_int_equal(tsr_web_run_delete(f->s, run, &e), TSR_ENOTFOUND);
  assert_int_equal(tsr_web_dataset_delete(f->s, ds, &e), TSR_OK);
  assert_int_equal(tsr_web_upload_owner(f->s, ds, &owner, &e), TSR_ENOTFOUND);
  assert_int_equal(tsr_web_dataset_delete(f->s, ds, &e), TSR_ENOTFOUND);
  (void)n;
}

static void request_log_and_cache(void **state) {
  fx *f = *state;
  tsr_error e;
  assert_int_equal(tsr_web_store_cache(f->s, 1), TSR_OK);
  assert_int_equal(tsr_web_store_cache(f->s, 1), TSR_OK); /* idempotent */
  tsr_web_request rows[3] = {
      {1000, "ana", "GET", "/api/v1/runs", 200, 1.5, 0, 120, 1},
      {1001, NULL, "POST", "/api/v1/login", 401, 70.0, 40, 90, 1},
      {1002, "ana", "POST", "/api/v1/datasets", 201, 12.0, 183756, 900, 1}};
  assert_int_equal(tsr_web_requests_add(f->s, rows, 3, &e), TSR_OK);
  int64_t n = 0;
  assert_int_equal(tsr_web_requests_count(f->s, &n, &e), TSR_OK);
  assert_int_equal(n, 3);
  /* 150 rows: multi-row statements of 32 in chunks of 64 plus single rows,
   * NULL method and path and repeats 0 take their defaults */
  tsr_web_request many[150];
  for (int i = 0; i < 150; i++)
    many[i] = (tsr_web_request){2000 + i, i % 2 ? "ana" : NULL, i % 3 ? "GET" : NULL,
                                i % 5 ? "/api/v1/decisions" : NULL, 200, 0.5, 10, 20, 0};
  assert_int_equal(tsr_web_requests_add(f->s, many, 150, &e), TSR_OK);
  assert_int_equal(tsr_web_requests_count(f->s, &n, &e), TSR_OK);
  assert_int_equal(n, 153);
  int64_t del = 0;
  assert_int_equal(tsr_web_requests_prune(f->s, 2100, 0, &del, &e), TSR_OK); /* ts < 2100 */
  assert_int_equal(del, 103);
  assert_int_equal(tsr_web_requests_count(f->s, &n, &e), TSR_OK);
  assert_int_equal(n, 50);
  /* cached statements are reused across calls */
  int64_t id = 0;
  assert_int_equal(tsr_web_user_add(f->s, "c", "viewer", "h", &id, &e), TSR_OK);
  for (int i = 0; i < 3; i++) {
    tsr_web_user *u = NULL;
    assert_int_equal(tsr_web_user_get(f->s, 0, "c", &u, &e), TSR_OK);
    assert_int_equal(u->id, id);
    tsr_store_free(u);
    assert_int_equal(tsr_web_user_get(f->s, 0, "d", &u, &e), TSR_ENOTFOUND);
  }
  assert_int_equal(tsr_web_store_cache(f->s, 0), TSR_OK);
}

/* issue 11: request log retention by age and by rows */
static void request_log_retention(void **state) {
  fx *f = *state;
  tsr_error e;
  tsr_web_request rows[5];
  for (int i = 0; i < 5; i++) {
    tsr_web_request q = {1000 + i, NULL, "POST", "/api/v1/login", 401, 1.0, 10, 20, i == 4 ? 250 : 1};
    rows[i] = q;
  }
  assert_int_equal(tsr_web_requests_add(f->s, rows, 5, &e), TSR_OK);
  int64_t n = 0, del = 0;
  assert_int_equal(tsr_web_requests_prune(f->s, 1002, 0, &del, &e), TSR_OK); /* age */
  assert_int_equal(del, 2);
  assert_int_equal(tsr_web_requests_count(f->s, &n, &e), TSR_OK);
  assert_int_equal(n, 3);
  assert_int_equal(tsr_web_requests_prune(f->s, 0, 1, &del, &e), TSR_OK); /* rows */
  assert_int_equal(del, 2);
  assert_int_equal(tsr_web_requests_count(f->s, &n, &e), TSR_OK);
  assert_int_equal(n, 1);
}

/* issue 11: failed logins per (user, address), in the store */
static void login_failures(void **state) {
  fx *f = *state;
  tsr_error e;
  int64_t k = -1;
  const int64_t W = 300000;
  assert_int_equal(tsr_web_login_fails(f->s, "admin", "10.0.0.1", 0, &k, &e), TSR_OK);
  assert_int_equal(k, 0);
  for (int i = 0; i < 3; i++)
    assert_int_equal(tsr_web_login_fail(f->s, "admin", "10.0.0.1", 1000000 + i, W, &e), TSR_OK);
  assert_int_equal(tsr_web_login_fail(f->s, "admin", "10.0.0.2", 1000000, W, &e), TSR_OK);
  assert_int_equal(tsr_web_login_fails(f->s, "admin", "10.0.0.1", 1000000 - W, &k, &e), TSR_OK);
  assert_int_equal(k, 3);
  assert_int_equal(tsr_web_login_fails(f->s, "admin", "10.0.0.2", 1000000 - W, &k, &e), TSR_OK);
  assert_int_equal(k, 1);
  assert_int_equal(tsr_web_login_fails(f->s, "ana", "10.0.0.1", 1000000 - W, &k, &e), TSR_OK);
  assert_int_equal(k, 0);
  /* a failure after the window starts a new count */
  assert_int_equal(tsr_web_login_fail(f->s, "admin", "10.0.0.1", 1000000 + W + 10, W, &e), TSR_OK);
  assert_int_equal(tsr_web_login_fails(f->s, "admin", "10.0.0.1", 1000000 + 10, &k, &e), TSR_OK);
  assert_int_equal(k, 1);
  assert_int_equal(tsr_web_login_clear(f->s, "admin", "10.0.0.1", &e), TSR_OK);
  assert_int_equal(tsr_web_login_fails(f->s, "admin", "10.0.0.1", 0, &k, &e), TSR_OK);
  assert_int_equal(k, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(users, setup, teardown),
      cmocka_unit_test_setup_teardown(sessions_tokens, setup, teardown),
      cmocka_unit_test_setup_teardown(sessions_of_user, setup, teardown),
      cmocka_unit_test_setup_teardown(runs_uploads_history, setup, teardown),
      cmocka_unit_test_setup_teardown(history_bulk_load, setup, teardown),
      cmocka_unit_test_setup_teardown(request_log_and_cache, setup, teardown),
      cmocka_unit_test_setup_teardown(request_log_retention, setup, teardown),
      cmocka_unit_test_setup_teardown(login_failures, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
