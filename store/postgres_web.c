/*
 * postgres_web.c - the web application's tables (tessera/store_web.h) on the
 * PostgreSQL back end; store/sqlite_web.c hands every call on a PostgreSQL
 * store to the tsr__pgweb_* functions here. Schema: migration 2 of
 * store/postgres.c. Statements are prepared once per connection
 * (PQprepare/PQexecPrepared), parameters always bound, never written into
 * SQL text. A write inside an open transaction
 * runs under a savepoint so that a failure (duplicate user) does not abort
 * the caller's transaction.
 */
#include "store_int.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "postgres_web.h"

/* ================================================================ helpers */

#define NP 9
typedef struct params {
  const char *v[NP];
  char num[NP][32];
  int n;
} params;

static void p_text(params *p, const char *s) { p->v[p->n++] = s; }
static void p_i64(params *p, int64_t x) {
  snprintf(p->num[p->n], sizeof p->num[0], "%" PRId64, x);
  p->v[p->n] = p->num[p->n];
  p->n++;
}
static void p_i64n(params *p, int64_t x) { /* NULL when x <= 0 */
  if (x > 0) p_i64(p, x);
  else p->v[p->n++] = NULL;
}
static void p_dbl(params *p, double x) {
  snprintf(p->num[p->n], sizeof p->num[0], "%.17g", x);
  p->v[p->n] = p->num[p->n];
  p->n++;
}

static tsr_status fail(PGconn *c, const PGresult *r, const char *what, tsr_error *err) {
  const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  char buf[512];
  snprintf(buf, sizeof buf, "%s", m ? m : PQerrorMessage(c));
  size_t n = strlen(buf);
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = '\0';
  return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: %s", what, buf);
}

static int in_tx(PGconn *c) { return PQtransactionStatus(c) != PQTRANS_IDLE; }

static tsr_status sql(PGconn *c, const char *text, const char *what, tsr_error *err) {
  PGresult *r = PQexec(c, text);
  ExecStatusType es = PQresultStatus(r);
  tsr_status st = TSR_OK;
  if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) st = fail(c, r, what, err);
  PQclear(r);
  return st;
}

/* ---------------------------------------------------------------- prepared statements
 * Each statement text (a literal of this file, compared by address) is
 * prepared once per connection as "tw<i>" and then run with PQexecPrepared.
 * The registry is keyed by connection and forgotten when postgres.c closes
 * it; a connection is used by one thread at a time, so only registration
 * needs the lock. A full registry falls back to PQexecParams (an unnamed
 * statement, parameters still bound). */
#define REG_CONNS 256
#define REG_STMTS 48
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
  PGconn *c;
  const char *sql[REG_STMTS];
  int n;
} reg[REG_CONNS];

void tsr__pgweb_forget(PGconn *c) {
  pthread_mutex_lock(&reg_mu);
  for (int i = 0; i < REG_CONNS; i++)
    if (reg[i].c == c) memset(&reg[i], 0, sizeof reg[i]);
  pthread_mutex_unlock(&reg_mu);
}

static PGresult *exec(PGconn *c, const char *text, const params *p) {
  int slot = -1, idx = -1;
  pthread_mutex_lock(&reg_mu);
  for (int i = 0; i < REG_CONNS && slot < 0; i++)
    if (reg[i].c == c) slot = i;
  for (int i = 0; i < REG_CONNS && slot < 0; i++)
    if (!reg[i].c) {
      reg[i].c = c;
      slot = i;
    }
  if (slot >= 0)
    for (int i = 0; i < reg[slot].n; i++)
      if (reg[slot].sql[i] == text) idx = i;
  int fresh = slot >= 0 && idx < 0 && reg[slot].n < REG_STMTS;
  if (fresh) idx = reg[slot].n;
  pthread_mutex_unlock(&reg_mu);
  int np = p ? p->n : 0;
  const char *const *v = p ? p->v : NULL;
  if (idx < 0) return PQexecParams(c, text, np, NULL, v, NULL, NULL, 0);
  char name[16];
  snprintf(name, sizeof name, "tw%d", idx);
  if (fresh) {
    PGresult *r = PQprepare(c, name, text, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) return r; /* the caller reports it */
    PQclear(r);
    pthread_mutex_lock(&reg_mu);
    reg[slot].sql[idx] = text;
    reg[slot].n = idx + 1;
    pthread_mutex_unlock(&reg_mu);
  }
  return PQexecPrepared(c, name, np, v, NULL, NULL, 0);
}

/* Runs text with p. OK: *res (caller clears, may be NULL), *changed rows
 * (may be NULL). Failure: TSR_ESTORE worded with what; TSR_EEXIST instead
 * on an integrity violation (SQLSTATE class 23) when constraint is set, as
 * sqlite_web.c's web_done says for SQLITE_CONSTRAINT. */
static tsr_status run_c(PGconn *c, const char *text, const params *p, const char *what,
                        PGresult **res, int64_t *changed, int constraint, tsr_error *err) {
  if (res) *res = NULL;
  PGresult *r = exec(c, text, p);
  ExecStatusType es = PQresultStatus(r);
  if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    tsr_status st = fail(c, r, what, err);
    if (constraint && state && !strncmp(state, "23", 2)) {
      if (err) err->code = TSR_EEXIST;
      st = TSR_EEXIST;
    }
    PQclear(r);
    return st;
  }
  if (changed) {
    const char *t = PQcmdTuples(r);
    *changed = t && *t ? strtoll(t, NULL, 10) : 0;
  }
  if (res) *res = r;
  else PQclear(r);
  return TSR_OK;
}

static tsr_status run(PGconn *c, const char *text, const params *p, const char *what,
                      PGresult **res, int64_t *changed, tsr_error *err) {
  return run_c(c, text, p, what, res, changed, 0, err);
}

/* One write statement; under a savepoint inside an open transaction. */
static tsr_status write1(PGconn *c, const char *text, const params *p, const char *what,
                         int64_t *changed, tsr_error *err) {
  int outer = in_tx(c);
  tsr_status st;
  if (outer && (st = sql(c, "SAVEPOINT tsr_web", what, err)) != TSR_OK) return st;
  st = run_c(c, text, p, what, NULL, changed, 1, err);
  if (outer) {
    tsr_error scratch;
    if (st != TSR_OK) sql(c, "ROLLBACK TO tsr_web", what, &scratch);
    tsr_status st2 = sql(c, "RELEASE tsr_web", what, st ? &scratch : err);
    if (st == TSR_OK) st = st2;
  }
  return st;
}

/* Begins an atomic multi-statement write (BEGIN, or a savepoint). */
static tsr_status wbegin(PGconn *c, int *outer, const char *what, tsr_error *err) {
  *outer = in_tx(c);
  return sql(c, *outer ? "SAVEPOINT tsr_web" : "BEGIN", what, err);
}
static tsr_status wend(PGconn *c, int outer, tsr_status st, const char *what, tsr_error *err) {
  if (st == TSR_OK) {
    st = sql(c, outer ? "RELEASE tsr_web" : "COMMIT", what, err);
    if (st == TSR_OK) return TSR_OK;
  }
  tsr_error scratch;
  if (outer) {
    sql(c, "ROLLBACK TO tsr_web", what, &scratch);
    sql(c, "RELEASE tsr_web", what, &scratch);
  } else if (in_tx(c)) {
    sql(c, "ROLLBACK", what, &scratch);
  }
  return st;
}

static const char *ctext(const PGresult *r, int i, int c) {
  return PQgetisnull(r, i, c) ? "" : PQgetvalue(r, i, c);
}
static int64_t ci64(const PGresult *r, int i, int c) {
  return PQgetisnull(r, i, c) ? 0 : strtoll(PQgetvalue(r, i, c), NULL, 10);
}
static double cdbl(const PGresult *r, int i, int c) {
  return PQgetisnull(r, i, c) ? 0.0 : strtod(PQgetvalue(r, i, c), NULL);
}
static json_t *cjson(const PGresult *r, int i, int c) {
  return PQgetisnull(r, i, c) ? json_null() : json_real(strtod(PQgetvalue(r, i, c), NULL));
}

/* Packs row i (id, name, role, pwhash, created_at) into one allocation. */
static tsr_web_user *pack_user(const PGresult *r, int i) {
  const char *name = ctext(r, i, 1), *role = ctext(r, i, 2), *pw = ctext(r, i, 3);
  size_t ln = strlen(name) + 1, lr = strlen(role) + 1, lp = strlen(pw) + 1;
  tsr_web_user *u = tsr__malloc(sizeof *u + ln + lr + lp);
  if (!u) return NULL;
  char *p = (char *)(u + 1);
  memcpy(p, name, ln);
  u->name = p;
  p += ln;
  memcpy(p, role, lr);
  u->role = p;
  p += lr;
  memcpy(p, pw, lp);
  u->pwhash = p;
  u->id = ci64(r, i, 0);
  u->created_at = ci64(r, i, 4);
  return u;
}

/* A one-row user query into *out; TSR_ENOTFOUND without a message. */
static tsr_status one_user(PGconn *c, const char *text, const params *p, tsr_web_user **out,
                           char *csrf_buf, size_t cap, const char *what, tsr_error *err) {
  PGresult *r;
  tsr_status st = run(c, text, p, what, &r, NULL, err);
  if (st != TSR_OK) return st;
  if (PQntuples(r) == 0) {
    st = TSR_ENOTFOUND;
  } else {
    *out = pack_user(r, 0);
    if (!*out) st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    if (csrf_buf && cap) snprintf(csrf_buf, cap, "%s", ctext(r, 0, 5));
  }
  PQclear(r);
  return st;
}

/* A one-integer query; TSR_ENOTFOUND without a message when no row. */
static tsr_status one_int(PGconn *c, const char *text, const params *p, int64_t *out,
                          const char *what, tsr_error *err) {
  PGresult *r;
  tsr_status st = run(c, text, p, what, &r, NULL, err);
  if (st != TSR_OK) return st;
  if (PQntuples(r) == 0) st = TSR_ENOTFOUND;
  else *out = ci64(r, 0, 0);
  PQclear(r);
  return st;
}

#define USER_COLS "u.id, u.name, u.role, u.pwhash, u.created_at"

/* ================================================================ users */

tsr_status tsr__pgweb_user_add(PGconn *c, const char *name, const char *role, const char *pwhash,
                               int64_t *id, tsr_error *err) {
  params p = {0};
  p_text(&p, name);
  p_text(&p, role);
  p_text(&p, pwhash);
  p_i64(&p, tsr_store_now_ms());
  int outer = in_tx(c);
  tsr_status st;
  if (outer && (st = sql(c, "SAVEPOINT tsr_web", "add user", err)) != TSR_OK) return st;
  PGresult *r;
  st = run_c(c, "INSERT INTO web_users(name, role, pwhash, created_at) VALUES ($1,$2,$3,$4) "
                "RETURNING id",
             &p, "add user", &r, NULL, 1, err);
  if (st == TSR_OK) {
    if (id) *id = ci64(r, 0, 0);
    PQclear(r);
  }
  if (outer) {
    tsr_error scratch;
    if (st != TSR_OK) sql(c, "ROLLBACK TO tsr_web", "add user", &scratch);
    tsr_status st2 = sql(c, "RELEASE tsr_web", "add user", st ? &scratch : err);
    if (st == TSR_OK) st = st2;
  }
  return st;
}

tsr_status tsr__pgweb_user_update(PGconn *c, const char *name, const char *role,
                                  const char *pwhash, int64_t *changed, tsr_error *err) {
  params p = {0};
  p_text(&p, role);
  p_text(&p, pwhash);
  p_text(&p, name);
  return write1(c,
                "UPDATE web_users SET role = coalesce($1, role), pwhash = coalesce($2, pwhash) "
                "WHERE name = $3",
                &p, "update user", changed, err);
}

tsr_status tsr__pgweb_user_del(PGconn *c, const char *name, int64_t *changed, tsr_error *err) {
  params p = {0};
  p_text(&p, name);
  return write1(c, "DELETE FROM web_users WHERE name = $1", &p, "delete user", changed, err);
}

tsr_status tsr__pgweb_user_get(PGconn *c, int64_t id, const char *name, tsr_web_user **out,
                               tsr_error *err) {
  params p = {0};
  if (id) p_i64(&p, id);
  else p_text(&p, name ? name : "");
  return one_user(c,
                  id ? "SELECT " USER_COLS " FROM web_users u WHERE u.id = $1"
                     : "SELECT " USER_COLS " FROM web_users u WHERE u.name = $1",
                  &p, out, NULL, 0, "get user", err);
}

tsr_status tsr__pgweb_users_list(PGconn *c, tsr_web_user_cb cb, void *ctx, tsr_error *err) {
  PGresult *r;
  tsr_status st = run(c, "SELECT " USER_COLS " FROM web_users u ORDER BY u.name COLLATE \"C\"",
                      NULL, "list users", &r, NULL, err);
  if (st != TSR_OK) return st;
  for (int i = 0, n = PQntuples(r); i < n; i++) {
    tsr_web_user u = {ci64(r, i, 0), ctext(r, i, 1), ctext(r, i, 2), ctext(r, i, 3),
                      ci64(r, i, 4)};
    if (cb(ctx, &u)) break;
  }
  PQclear(r);
  return TSR_OK;
}

/* ================================================================ sessions, tokens */

tsr_status tsr__pgweb_session_add(PGconn *c, const char *token_hash, int64_t user_id,
                                  const char *csrf, int64_t expires_at, tsr_error *err) {
  params p = {0};
  p_text(&p, token_hash);
  p_i64(&p, user_id);
  p_text(&p, csrf);
  p_i64(&p, tsr_store_now_ms());
  p_i64(&p, expires_at);
  return write1(c,
                "INSERT INTO web_sessions(token_hash, user_id, csrf, created_at, expires_at) "
                "VALUES ($1,$2,$3,$4,$5)",
                &p, "add session", NULL, err);
}

tsr_status tsr__pgweb_session_get(PGconn *c, const char *token_hash, int64_t now,
                                  tsr_web_user **user, char *csrf_buf, size_t cap,
                                  tsr_error *err) {
  params p = {0};
  p_text(&p, token_hash);
  p_i64(&p, now);
  return one_user(c,
                  "SELECT " USER_COLS ", x.csrf FROM web_sessions x "
                  "JOIN web_users u ON u.id = x.user_id "
                  "WHERE x.token_hash = $1 AND x.expires_at > $2",
                  &p, user, csrf_buf, cap, "get session", err);
}

tsr_status tsr__pgweb_session_del(PGconn *c, const char *token_hash, tsr_error *err) {
  params p = {0};
  p_text(&p, token_hash);
  p_i64(&p, tsr_store_now_ms());
  return write1(c, "DELETE FROM web_sessions WHERE token_hash = $1 OR expires_at < $2", &p,
                "delete session", NULL, err);
}

tsr_status tsr__pgweb_token_add(PGconn *c, int64_t user_id, const char *token_hash,
                                tsr_error *err) {
  params p = {0};
  p_i64(&p, user_id);
  p_text(&p, token_hash);
  p_i64(&p, tsr_store_now_ms());
  return write1(c, "INSERT INTO web_tokens(user_id, token_hash, created_at) VALUES ($1,$2,$3)",
                &p, "add token", NULL, err);
}

tsr_status tsr__pgweb_token_get(PGconn *c, const char *token_hash, tsr_web_user **user,
                                tsr_error *err) {
  params p = {0};
  p_text(&p, token_hash);
  return one_user(c,
                  "SELECT " USER_COLS " FROM web_tokens t "
                  "JOIN web_users u ON u.id = t.user_id WHERE t.token_hash = $1",
                  &p, user, NULL, 0, "get token", err);
}

/* ================================================================ request log */

tsr_status tsr__pgweb_requests_add(PGconn *c, const tsr_web_request *rows, size_t n,
                                   tsr_error *err) {
  int outer;
  tsr_status st = wbegin(c, &outer, "log requests", err);
  if (st != TSR_OK) return st;
  for (size_t i = 0; i < n && st == TSR_OK; i++) {
    const tsr_web_request *q = &rows[i];
    params p = {0};
    p_i64(&p, q->ts);
    p_text(&p, q->user);
    p_text(&p, q->method ? q->method : "");
    p_text(&p, q->path ? q->path : "");
    p_i64(&p, q->status);
    p_dbl(&p, q->duration_ms);
    p_i64(&p, q->bytes_in);
    p_i64(&p, q->bytes_out);
    p_i64(&p, q->repeats > 0 ? q->repeats : 1);
    st = run(c,
             "INSERT INTO web_requests(ts, user_name, method, path, status, duration_ms, "
             "bytes_in, bytes_out, repeats) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
             &p, "log requests", NULL, NULL, err);
  }
  return wend(c, outer, st, "log requests", err);
}

tsr_status tsr__pgweb_requests_count(PGconn *c, int64_t *n, tsr_error *err) {
  return one_int(c, "SELECT count(*) FROM web_requests", NULL, n, "count requests", err);
}

/* ================================================================ uploads, runs */

tsr_status tsr__pgweb_upload_add(PGconn *c, int64_t dataset_id, int64_t owner, const char *name,
                                 tsr_error *err) {
  params p = {0};
  p_i64(&p, dataset_id);
  p_i64n(&p, owner);
  p_text(&p, name ? name : "");
  return write1(c, "INSERT INTO web_uploads(dataset_id, owner, name) VALUES ($1,$2,$3)", &p,
                "add upload", NULL, err);
}

tsr_status tsr__pgweb_upload_owner(PGconn *c, int64_t dataset_id, int64_t *owner,
                                   tsr_error *err) {
  params p = {0};
  p_i64(&p, dataset_id);
  return one_int(c, "SELECT coalesce(owner, 0) FROM web_uploads WHERE dataset_id = $1", &p,
                 owner, "get upload", err);
}

tsr_status tsr__pgweb_dataset_delete(PGconn *c, int64_t id, int64_t *changed, tsr_error *err) {
  params p = {0};
  p_i64(&p, id);
  return write1(c, "DELETE FROM datasets WHERE id = $1", &p, "delete dataset", changed, err);
}

tsr_status tsr__pgweb_run_add(PGconn *c, int64_t run_id, int64_t upload_id, int64_t owner,
                              tsr_error *err) {
  params p = {0};
  p_i64(&p, run_id);
  p_i64(&p, upload_id);
  p_i64n(&p, owner);
  return write1(c,
                "INSERT INTO web_runs(run_id, upload_id, owner) VALUES ($1,$2,$3) "
                "ON CONFLICT (run_id) DO UPDATE SET upload_id = EXCLUDED.upload_id, "
                "owner = EXCLUDED.owner",
                &p, "add web run", NULL, err);
}

tsr_status tsr__pgweb_run_get(PGconn *c, int64_t run_id, int64_t *upload_id, int64_t *owner,
                              tsr_error *err) {
  params p = {0};
  p_i64(&p, run_id);
  PGresult *r;
  tsr_status st = run(c,
                      "SELECT coalesce(upload_id, 0), coalesce(owner, 0) FROM web_runs "
                      "WHERE run_id = $1",
                      &p, "get web run", &r, NULL, err);
  if (st != TSR_OK) return st;
  if (PQntuples(r) == 0) {
    st = TSR_ENOTFOUND;
  } else {
    if (upload_id) *upload_id = ci64(r, 0, 0);
    if (owner) *owner = ci64(r, 0, 1);
  }
  PQclear(r);
  return st;
}

tsr_status tsr__pgweb_run_by_output(PGconn *c, const char *dir, int64_t *run_id,
                                    tsr_error *err) {
  params p = {0};
  p_text(&p, dir);
  return one_int(c, "SELECT id FROM runs WHERE output_dir = $1 ORDER BY id DESC LIMIT 1", &p,
                 run_id, "find run", err);
}

tsr_status tsr__pgweb_runs_interrupt(PGconn *c, int64_t *n, tsr_error *err) {
  params p = {0};
  p_i64(&p, tsr_store_now_ms());
  return write1(c,
                "UPDATE runs SET status = 'interrupted', finished_at = $1, error = "
                "coalesce(error, 'interrupted: the server stopped before the run ended') "
                "WHERE status = 'running' AND id IN (SELECT run_id FROM web_runs)",
                &p, "interrupt web runs", n, err);
}

tsr_status tsr__pgweb_run_delete(PGconn *c, int64_t run_id, int64_t *changed, tsr_error *err) {
  params p = {0};
  p_i64(&p, run_id);
  return write1(c, "DELETE FROM runs WHERE id = $1", &p, "delete run", changed, err);
}

/* ================================================================ histories */

tsr_status tsr__pgweb_history_add(PGconn *c, int64_t run_id, const char *customer_id,
                                  const tsr_web_history_row *rows, size_t n, tsr_error *err) {
  int outer;
  tsr_status st = wbegin(c, &outer, "add history", err);
  if (st != TSR_OK) return st;
  for (size_t i = 0; i < n && st == TSR_OK; i++) {
    params p = {0};
    p_i64(&p, run_id);
    p_text(&p, customer_id);
    p_i64(&p, rows[i].day);
    p_i64(&p, rows[i].ntx);
    p_dbl(&p, rows[i].amount);
    st = run(c,
             "INSERT INTO web_history(run_id, customer_id, day, ntx, amount) "
             "VALUES ($1,$2,$3,$4,$5) ON CONFLICT (run_id, customer_id, day) DO UPDATE "
             "SET ntx = EXCLUDED.ntx, amount = EXCLUDED.amount",
             &p, "add history", NULL, NULL, err);
  }
  return wend(c, outer, st, "add history", err);
}

tsr_status tsr__pgweb_history_list(PGconn *c, int64_t run_id, const char *customer_id,
                                   tsr_web_history_cb cb, void *ctx, tsr_error *err) {
  params p = {0};
  p_i64(&p, run_id);
  p_text(&p, customer_id);
  PGresult *r;
  tsr_status st = run(c,
                      "SELECT day, ntx, amount FROM web_history WHERE run_id = $1 AND "
                      "customer_id = $2 ORDER BY day",
                      &p, "list history", &r, NULL, err);
  if (st != TSR_OK) return st;
  for (int i = 0, n = PQntuples(r); i < n; i++) {
    tsr_web_history_row h = {ci64(r, i, 0), ci64(r, i, 1), cdbl(r, i, 2)};
    if (cb(ctx, &h)) break;
  }
  PQclear(r);
  return TSR_OK;
}

/* ================================================================ aggregates */

tsr_status tsr__pgweb_run_aggregates(PGconn *c, int64_t run_id, char **json, tsr_error *err) {
  /* CAST AS INTEGER truncates on SQLite; trunc() does the same here. */
  static const char *const sqls[] = {
      "SELECT cluster, count(*), sum(revenue), avg(frequency), avg(recency), avg(t), "
      "avg(monetary_value), avg(clv), avg(p_alive) FROM customers WHERE run_id = $1 AND cluster "
      "IS NOT NULL GROUP BY cluster ORDER BY cluster",
      "SELECT r_score, f_score, count(*), avg(monetary_value) FROM customers WHERE run_id = $1 "
      "AND r_score IS NOT NULL GROUP BY r_score, f_score ORDER BY r_score, f_score",
      "SELECT least(trunc(p_alive * 10)::bigint, 9), count(*) FROM customers WHERE run_id = $1 "
      "AND p_alive IS NOT NULL GROUP BY 1 ORDER BY 1",
      "SELECT CASE WHEN frequency IS NULL THEN NULL ELSE least(trunc(frequency)::bigint, 20) END, "
      "count(*) FROM customers WHERE run_id = $1 GROUP BY 1 ORDER BY 1 NULLS FIRST",
      "SELECT min(clv), max(clv) FROM customers WHERE run_id = $1 AND clv IS NOT NULL",
  };
  json_t *root = json_object(), *clusters = json_array(), *grid = json_array(),
         *pah = json_array(), *fh = json_array();
  json_object_set_new(root, "clusters", clusters);
  json_object_set_new(root, "rf_grid", grid);
  json_object_set_new(root, "p_alive_hist", pah);
  json_object_set_new(root, "frequency_hist", fh);
  long long pa[10] = {0};
  double clv_lo = 0, clv_hi = 0;
  int have_clv = 0;
  tsr_status st = TSR_OK;
  for (size_t q = 0; q < TSR__ARRAY_LEN(sqls) && st == TSR_OK; q++) {
    params p = {0};
    p_i64(&p, run_id);
    PGresult *r;
    if ((st = run(c, sqls[q], &p, "aggregates", &r, NULL, err)) != TSR_OK) break;
    for (int i = 0, n = PQntuples(r); i < n; i++) {
      if (q == 0) {
        json_t *o = json_object();
        json_object_set_new(o, "cluster", json_integer(ci64(r, i, 0)));
        json_object_set_new(o, "customers", json_integer(ci64(r, i, 1)));
        json_object_set_new(o, "revenue", json_real(cdbl(r, i, 2)));
        json_object_set_new(o, "mean_frequency", cjson(r, i, 3));
        json_object_set_new(o, "mean_recency", cjson(r, i, 4));
        json_object_set_new(o, "mean_T", cjson(r, i, 5));
        json_object_set_new(o, "mean_monetary", cjson(r, i, 6));
        json_object_set_new(o, "mean_clv", cjson(r, i, 7));
        json_object_set_new(o, "mean_p_alive", cjson(r, i, 8));
        json_array_append_new(clusters, o);
      } else if (q == 1) {
        json_t *o = json_object();
        json_object_set_new(o, "r", json_integer(ci64(r, i, 0)));
        json_object_set_new(o, "f", json_integer(ci64(r, i, 1)));
        json_object_set_new(o, "customers", json_integer(ci64(r, i, 2)));
        json_object_set_new(o, "mean_monetary", cjson(r, i, 3));
        json_array_append_new(grid, o);
      } else if (q == 2) {
        int64_t b = ci64(r, i, 0);
        if (b >= 0 && b < 10) pa[b] += ci64(r, i, 1);
      } else if (q == 3) {
        json_t *o = json_object();
        json_object_set_new(o, "frequency", json_integer(ci64(r, i, 0)));
        json_object_set_new(o, "customers", json_integer(ci64(r, i, 1)));
        json_array_append_new(fh, o);
      } else if (!PQgetisnull(r, i, 0)) {
        clv_lo = cdbl(r, i, 0);
        clv_hi = cdbl(r, i, 1);
        have_clv = 1;
      }
    }
    PQclear(r);
  }
  for (int b = 0; b < 10; b++) json_array_append_new(pah, json_integer(pa[b]));
  if (st == TSR_OK && have_clv) {
    json_t *h = json_object(), *edges = json_array(), *counts = json_array();
    long long cnt[10] = {0};
    double w = (clv_hi - clv_lo) / 10;
    for (int b = 0; b <= 10; b++) json_array_append_new(edges, json_real(clv_lo + w * b));
    params p = {0};
    p_i64(&p, run_id);
    p_dbl(&p, clv_lo);
    p_dbl(&p, w > 0 ? w : 1);
    PGresult *r;
    tsr_error scratch;
    if (run(c,
            "SELECT least(greatest(trunc((clv - $2::double precision) / $3::double precision)"
            "::bigint, 0), 9), count(*) FROM customers WHERE run_id = $1 AND clv IS NOT NULL "
            "GROUP BY 1",
            &p, "aggregates", &r, NULL, &scratch) == TSR_OK) {
      for (int i = 0, n = PQntuples(r); i < n; i++) {
        int64_t b = ci64(r, i, 0);
        if (b >= 0 && b < 10) cnt[b] += ci64(r, i, 1);
      }
      PQclear(r);
    }
    for (int b = 0; b < 10; b++) json_array_append_new(counts, json_integer(cnt[b]));
    json_object_set_new(h, "edges", edges);
    json_object_set_new(h, "counts", counts);
    json_object_set_new(root, "clv_hist", h);
  }
  if (st == TSR_OK) {
    *json = json_dumps(root, JSON_COMPACT);
    if (!*json) st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  json_decref(root);
  return st;
}
