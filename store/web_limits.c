/*
 * web_limits.c - the store side of the web server's limits (issue 11):
 * request log retention (age and row limits) and failed-login counts kept
 * per user name and client address, so that a restart does not reset a
 * lock-out. One SQL text for every back end (?N parameters). See tessera/store_web.h and docs/web.md.
 */
#include "store_int.h"
#include "tessera/store_web.h"

#include <string.h>

/* One statement parameter: text (s != NULL) or integer. */
typedef struct wparam {
  const char *s;
  int64_t i;
} wparam;

/* Runs sql with params; OUT (may be NULL): *one = the first column of the
 * first row (*got = 1 when there was a row), *changed = rows changed. */
static tsr_status wexec(tsr_store *s, const char *sql, const wparam *p, int np, int64_t *one,
                        int *got, int64_t *changed, const char *what, tsr_error *err) {
  tsr__db *db = tsr__store_db(s);
  if (got) *got = 0;
  if (changed) *changed = 0;
  if (!db) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "store: %s: no store", what);
  tsr__val v[8];
  for (int k = 0; k < np && k < 8; k++) v[k] = p[k].s ? TSR__VT(p[k].s) : TSR__VI(p[k].i);
  tsr__exec_out o;
  tsr_status st = tsr__write(db, sql, v, np, &o, what, err);
  if (st == TSR_OK && o.have_id && one) {
    *one = o.id;
    if (got) *got = 1;
  }
  if (st == TSR_OK && changed) *changed = o.changed;
  return st;
}

tsr_status tsr_web_requests_prune(tsr_store *s, int64_t before_ts, int64_t max_rows,
                                  int64_t *deleted, tsr_error *err) {
  int64_t a = 0, b = 0;
  wparam p1[1] = {{NULL, before_ts}};
  tsr_status st = wexec(s, "DELETE FROM web_requests WHERE ts < ?1", p1, 1, NULL, NULL, &a,
                        "prune request log", err);
  if (st == TSR_OK && max_rows > 0) {
    wparam p2[1] = {{NULL, max_rows}};
    st = wexec(s,
               "DELETE FROM web_requests WHERE id <= (SELECT id FROM web_requests ORDER BY id DESC "
               "LIMIT 1 OFFSET ?1)",
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
                        "SELECT fails FROM web_login_failures WHERE user_name = ?1 AND address = ?2"
                        " AND first_ts >= ?3",
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
      "VALUES (?1, ?2, 1, ?3, ?3) ON CONFLICT (user_name, address) DO UPDATE SET "
      "fails = CASE WHEN web_login_failures.first_ts < ?4 THEN 1 ELSE web_login_failures.fails + 1 END, "
      "first_ts = CASE WHEN web_login_failures.first_ts < ?4 THEN ?3 ELSE web_login_failures.first_ts END, "
      "last_ts = ?3",
      p, 4, NULL, NULL, NULL, "record login failure", err);
  if (st != TSR_OK) return st;
  /* old entries of other pairs go, so the table stays small */
  wparam q[1] = {{NULL, now - window_ms}};
  return wexec(s, "DELETE FROM web_login_failures WHERE last_ts < ?1", q, 1, NULL, NULL, NULL,
               "record login failure", err);
}

tsr_status tsr_web_login_clear(tsr_store *s, const char *user, const char *address,
                               tsr_error *err) {
  wparam p[2] = {{user, 0}, {address, 0}};
  return wexec(s, "DELETE FROM web_login_failures WHERE user_name = ?1 AND address = ?2", p, 2,
               NULL, NULL, NULL, "clear login failures", err);
}
