/*
 * web_limits.c - the store side of the web server's limits (issue 11):
 * request log retention (age and row limits) and failed-login counts kept
 * per user name and client address, so that a restart does not reset a
 * lock-out. One SQL text for both back ends ($N parameters; "?N" on
 * SQLite). See tessera/store_web.h and docs/web.md.
 */
#include "store_int.h"
#include "tessera/store_web.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "postgres_web.h"

/* One statement parameter: text (s != NULL) or integer. */
typedef struct wparam {
  const char *s;
  int64_t i;
} wparam;

/* Runs sql with params; OUT (may be NULL): *one = the first column of the
 * first row (*got = 1 when there was a row), *changed = rows changed. */
static tsr_status wexec(tsr_store *s, const char *sql, const wparam *p, int np, int64_t *one,
                        int *got, int64_t *changed, const char *what, tsr_error *err) {
  const tsr_store_methods *m = NULL;
  void *impl = tsr__store_impl(s, &m);
  if (got) *got = 0;
  if (changed) *changed = 0;
  if (m == &tsr__store_pg_methods) {
    PGconn *c = tsr__pg_conn(impl);
    const char *v[8];
    char num[8][32];
    for (int k = 0; k < np; k++) {
      if (p[k].s) {
        v[k] = p[k].s;
      } else {
        snprintf(num[k], sizeof num[k], "%" PRId64, p[k].i);
        v[k] = num[k];
      }
    }
    PGresult *r = PQexecParams(c, sql, np, NULL, v, NULL, NULL, 0);
    ExecStatusType es = PQresultStatus(r);
    tsr_status st = TSR_OK;
    if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
      const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
      st = tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: %s", what,
                         msg ? msg : PQerrorMessage(c));
    } else {
      if (es == PGRES_TUPLES_OK && PQntuples(r) > 0 && one) {
        *one = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        if (got) *got = 1;
      }
      if (changed) *changed = strtoll(PQcmdTuples(r), NULL, 10);
    }
    PQclear(r);
    return st;
  }
  sqlite3 *db = tsr__sqlite_db(impl);
  char q[1024];
  snprintf(q, sizeof q, "%s", sql);
  for (char *c = q; *c; c++)
    if (*c == '$') *c = '?';
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
    return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: %s", what,
                         sqlite3_errmsg(db));
  for (int k = 0; k < np; k++) {
    if (p[k].s) sqlite3_bind_text(st, k + 1, p[k].s, -1, SQLITE_STATIC);
    else sqlite3_bind_int64(st, k + 1, p[k].i);
  }
  int rc = sqlite3_step(st);
  tsr_status r = TSR_OK;
  if (rc == SQLITE_ROW) {
    if (one) *one = sqlite3_column_int64(st, 0);
    if (got) *got = 1;
  } else if (rc != SQLITE_DONE) {
    r = tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: %s", what, sqlite3_errmsg(db));
  }
  if (r == TSR_OK && changed) *changed = sqlite3_changes64(db);
  sqlite3_finalize(st);
  return r;
}

tsr_status tsr_web_requests_prune(tsr_store *s, int64_t before_ts, int64_t max_rows,
                                  int64_t *deleted, tsr_error *err) {
  int64_t a = 0, b = 0;
  wparam p1[1] = {{NULL, before_ts}};
  tsr_status st = wexec(s, "DELETE FROM web_requests WHERE ts < $1", p1, 1, NULL, NULL, &a,
                        "prune request log", err);
  if (st == TSR_OK && max_rows > 0) {
    wparam p2[1] = {{NULL, max_rows}};
    st = wexec(s,
               "DELETE FROM web_requests WHERE id <= (SELECT id FROM web_requests ORDER BY id DESC "
               "LIMIT 1 OFFSET $1)",
               p2, 1, NULL, NULL, &b, "prune request log", err);
  }
  if (deleted) *deleted = a + b;
  return st;
}

tsr_status tsr_web_login_fails(tsr_store *s, const char *user, const char *address, int64_t since,
                               int64_t *fails, tsr_error *err) {
  wparam p[3] = {{user, 0}, {address, 0}, {NULL, since}};
  int got = 0;
  *fails = 0;
  tsr_status st = wexec(s,
                        "SELECT fails FROM web_login_failures WHERE user_name = $1 AND address = $2"
                        " AND first_ts >= $3",
                        p, 3, fails, &got, NULL, "read login failures", err);
  if (!got) *fails = 0;
  return st;
}

tsr_status tsr_web_login_fail(tsr_store *s, const char *user, const char *address, int64_t now,
                              int64_t window_ms, tsr_error *err) {
  wparam p[4] = {{user, 0}, {address, 0}, {NULL, now}, {NULL, now - window_ms}};
  tsr_status st = wexec(
      s,
      "INSERT INTO web_login_failures(user_name, address, fails, first_ts, last_ts) "
      "VALUES ($1, $2, 1, $3, $3) ON CONFLICT (user_name, address) DO UPDATE SET "
      "fails = CASE WHEN web_login_failures.first_ts < $4 THEN 1 ELSE web_login_failures.fails + 1 END, "
      "first_ts = CASE WHEN web_login_failures.first_ts < $4 THEN $3 ELSE web_login_failures.first_ts END, "
      "last_ts = $3",
      p, 4, NULL, NULL, NULL, "record login failure", err);
  if (st != TSR_OK) return st;
  /* old entries of other pairs go, so the table stays small */
  wparam q[1] = {{NULL, now - window_ms}};
  return wexec(s, "DELETE FROM web_login_failures WHERE last_ts < $1", q, 1, NULL, NULL, NULL,
               "record login failure", err);
}

tsr_status tsr_web_login_clear(tsr_store *s, const char *user, const char *address,
                               tsr_error *err) {
  wparam p[2] = {{user, 0}, {address, 0}};
  return wexec(s, "DELETE FROM web_login_failures WHERE user_name = $1 AND address = $2", p, 2,
               NULL, NULL, NULL, "clear login failures", err);
}
