/*
 * sqlite_web.c - the web application's tables (tessera/store_web.h) on the
 * SQLite back end: accounts, sessions, API tokens, request log, uploads, web
 * runs and purchase histories. Schema: migration 2 (store_web_sql.h).
 * Every statement is prepared with bound parameters. On a PostgreSQL store
 * each function hands over to store/postgres_web.c after its argument
 * checks and words the not-found and already-exists errors the same way.
 */
#include "store_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "tessera/store_web.h"
#include "postgres_web.h"

/* ================================================================ helpers */

/* The PostgreSQL connection of s when s is on the PostgreSQL back end (the
 * web tables then go to store/postgres_web.c), else NULL. */
static PGconn *web_pg(tsr_store *s) {
  const tsr_store_methods *m = NULL;
  void *impl = tsr__store_impl(s, &m);
  return impl && m == &tsr__store_pg_methods ? tsr__pg_conn(impl) : NULL;
}

/* The connection of s, or NULL with TSR_EUNSUPPORTED in err. */
static sqlite3 *web_db(tsr_store *s, tsr_error *err) {
  const tsr_store_methods *m = NULL;
  void *impl = tsr__store_impl(s, &m);
  if (!impl || m != &tsr__store_sqlite_methods) {
    tsr_error_set(err, TSR_EUNSUPPORTED, NULL, 0, 0, NULL,
                  "store: web tables need the SQLite back end");
    return NULL;
  }
  return tsr__sqlite_db(impl);
}

static tsr_status web_fail(sqlite3 *db, const char *what, tsr_error *err) {
  return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: %s", what, sqlite3_errmsg(db));
}

/* Prepares sql on s; NULL on failure (err set). */
static sqlite3_stmt *web_prep(tsr_store *s, sqlite3 **dbp, const char *sql, const char *what,
                              tsr_error *err) {
  sqlite3 *db = web_db(s, err);
  if (!db) return NULL;
  *dbp = db;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    web_fail(db, what, err);
    return NULL;
  }
  return st;
}

/* ---------------------------------------------------------------- statement cache
 * Connections registered with tsr_web_store_cache keep the hot statements
 * (logins, customer histories) prepared. The registry is keyed by the
 * sqlite3 connection; each connection is used by one thread at a time, so a
 * cached statement is never shared between threads. */

enum { K_TOKEN = 0, K_SESSION, K_USER_ID, K_USER_NAME, K_HISTORY, K_HISTORY_ADD, K_COUNT };

#define CACHE_MAX 256
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
  sqlite3 *db;
  sqlite3_stmt *st[K_COUNT];
} cache[CACHE_MAX];

tsr_status tsr_web_store_cache(tsr_store *s, int on) {
  if (web_pg(s)) return TSR_OK; /* PostgreSQL: nothing kept per connection */
  sqlite3 *db = web_db(s, NULL);
  if (!db) return TSR_EUNSUPPORTED;
  tsr_status r = on ? TSR_ELIMIT : TSR_OK;
  pthread_mutex_lock(&cache_mu);
  for (size_t i = 0; i < CACHE_MAX; i++) {
    if (cache[i].db == db) {
      if (!on) {
        for (int k = 0; k < K_COUNT; k++) sqlite3_finalize(cache[i].st[k]);
        memset(&cache[i], 0, sizeof cache[i]);
      }
      r = TSR_OK;
      break;
    }
  }
  if (on && r != TSR_OK) {
    for (size_t i = 0; i < CACHE_MAX; i++) {
      if (!cache[i].db) {
        cache[i].db = db;
        r = TSR_OK;
        break;
      }
    }
  }
  pthread_mutex_unlock(&cache_mu);
  return r;
}

/* Like web_prep, through the cache when the connection is registered
 * (*cached = 1: release with web_fin, never finalize). */
static sqlite3_stmt *web_prep_k(tsr_store *s, sqlite3 **dbp, int k, const char *sql,
                                const char *what, int *cached, tsr_error *err) {
  *cached = 0;
  sqlite3 *db = web_db(s, err);
  if (!db) return NULL;
  *dbp = db;
  sqlite3_stmt *st = NULL;
  int slot = -1;
  pthread_mutex_lock(&cache_mu);
  for (int i = 0; i < CACHE_MAX; i++) {
    if (cache[i].db == db) {
      slot = i;
      st = cache[i].st[k];
      break;
    }
  }
  pthread_mutex_unlock(&cache_mu);
  if (st) {
    *cached = 1;
    return st;
  }
  if (sqlite3_prepare_v3(db, sql, -1, slot >= 0 ? SQLITE_PREPARE_PERSISTENT : 0, &st, NULL) != SQLITE_OK) {
    web_fail(db, what, err);
    return NULL;
  }
  if (slot >= 0) {
    pthread_mutex_lock(&cache_mu);
    if (cache[slot].db == db && !cache[slot].st[k]) {
      cache[slot].st[k] = st;
      *cached = 1;
    }
    pthread_mutex_unlock(&cache_mu);
  }
  return st;
}

/* Ends the use of a statement from web_prep / web_prep_k. */
static void web_fin(sqlite3_stmt *st, int cached) {
  if (cached) {
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
  } else {
    sqlite3_finalize(st);
  }
}

static void bind_text(sqlite3_stmt *st, int i, const char *v) {
  if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
  else sqlite3_bind_null(st, i);
}

/* Steps a write statement to completion and finalizes it. */
static tsr_status web_done(sqlite3 *db, sqlite3_stmt *st, const char *what, tsr_error *err) {
  int rc = sqlite3_step(st);
  tsr_status r = TSR_OK;
  if ((rc & 0xff) == SQLITE_CONSTRAINT) {
    r = tsr_error_set(err, TSR_EEXIST, NULL, 0, 0, NULL, "store: %s: %s", what, sqlite3_errmsg(db));
  } else if (rc != SQLITE_DONE) {
    r = web_fail(db, what, err);
  }
  sqlite3_finalize(st);
  return r;
}

static const char *col_text(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? (const char *)t : "";
}

/* Packs the current row (id, name, role, pwhash, created_at) into one
 * allocation. */
static tsr_web_user *pack_user(sqlite3_stmt *st) {
  const char *name = col_text(st, 1), *role = col_text(st, 2), *pw = col_text(st, 3);
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
  u->id = sqlite3_column_int64(st, 0);
  u->created_at = sqlite3_column_int64(st, 4);
  return u;
}

/* Steps a one-row user query into *out. */
static tsr_status one_user(sqlite3 *db, sqlite3_stmt *st, int cached, tsr_web_user **out,
                           const char *what, tsr_error *err) {
  int rc = sqlite3_step(st);
  tsr_status r = TSR_OK;
  if (rc == SQLITE_ROW) {
    *out = pack_user(st);
    if (!*out) r = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  } else if (rc == SQLITE_DONE) {
    r = tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "%s: not found", what);
  } else {
    r = web_fail(db, what, err);
  }
  web_fin(st, cached);
  return r;
}

#define USER_COLS "u.id, u.name, u.role, u.pwhash, u.created_at"

/* ================================================================ users */

static int role_ok(const char *r) {
  return r && (!strcmp(r, "admin") || !strcmp(r, "analyst") || !strcmp(r, "viewer"));
}

tsr_status tsr_web_user_add(tsr_store *s, const char *name, const char *role,
                            const char *pwhash, int64_t *id, tsr_error *err) {
  if (!name || !*name || strlen(name) > 64)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "name", "user name: expected 1 to 64 bytes");
  if (!role_ok(role))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "role",
                         "role: expected admin, analyst or viewer, got '%s'", role ? role : "");
  if (!pwhash || !*pwhash) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "user: no password hash");
  PGconn *pc = web_pg(s);
  if (pc) {
    tsr_status r = tsr__pgweb_user_add(pc, name, role, pwhash, id, err);
    if (r == TSR_EEXIST)
      return tsr_error_set(err, TSR_EEXIST, NULL, 0, 0, NULL, "user '%s': already exists", name);
    return r;
  }
  sqlite3 *db;
  sqlite3_stmt *st = web_prep(s, &db,
                              "INSERT INTO web_users(name, role, pwhash, created_at) VALUES (?,?,?,?)",
                              "add user", err);
  if (!st) return err ? err->code : TSR_ESTORE;
  bind_text(st, 1, name);
  bind_text(st, 2, role);
  bind_text(st, 3, pwhash);
  sqlite3_bind_int64(st, 4, tsr_store_now_ms());
  tsr_status r = web_done(db, st, "add user", err);
  if (r == TSR_EEXIST)
    return tsr_error_set(err, TSR_EEXIST, NULL, 0, 0, NULL, "user '%s': already exists", name);
  if (r == TSR_OK && id) *id = sqlite3_last_insert_rowid(db);
  return r;
}

tsr_status tsr_web_user_update(tsr_store *s, const char *name, const char *role,
                               const char *pwhash, tsr_error *err) {
  if (role && !role_ok(role))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "role",
                         "role: expected admin, analyst or viewer, got '%s'", role);
  PGconn *pc = web_pg(s);
  if (pc) {
    int64_t changed = 0;
    tsr_status r = tsr__pgweb_user_update(pc, name, role, pwhash, &changed, err);
    if (r == TSR_OK && changed == 0)
      return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "user '%s': not found", name);
    return r;
  }
  sqlite3 *db;
  sqlite3_stmt *st = web_prep(s, &db,
                              "UPDATE web_users SET role = coalesce(?, role), "
                              "pwhash = coalesce(?, pwhash) WHERE name = ?",
                              "update user", err);
  if (!st) return err ? err->code : TSR_ESTORE;
  bind_text(st, 1, role);
  bind_text(st, 2, pwhash);
  bind_text(st, 3, name);
  tsr_status r = web_done(db, st, "update user", err);
  if (r == TSR_OK && sqlite3_changes(db) == 0)
    return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "user '%s': not found", name);
  return r;
}

tsr_status tsr_web_user_del(tsr_store *s, const char *name, tsr_error *err) {
  PGconn *pc = web_pg(s);
  if (pc) {
    int64_t changed = 0;
    tsr_status r = tsr__pgweb_user_del(pc, name, &changed, err);
    if (r == TSR_OK && changed == 0)
      return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "user '%s': not found", name);
    return r;
  }
  sqlite3 *db;
  sqlite3_stmt *st = web_prep(s, &db, "DELETE FROM web_users WHERE name = ?", "delete user", err);
  if (!st) return err ? err->code : TSR_ESTORE;
  bind_text(st, 1, name);
  tsr_status r = web_done(db, st, "delete user", err);
  if (r == TSR_OK && sqlite3_changes(db) == 0)
    return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "user '%s': not found", name);
  return r;
}

tsr_status tsr_web_user_get(tsr_store *s, int64_t id, const char *name, tsr_web_user **out,
                            tsr_error *err) {
  *out = NULL;
  PGconn *pc = web_pg(s);
  tsr_status r;
  if (pc) {
    r = tsr__pgweb_user_get(pc, id, name, out, err);
  } else {
    sqlite3 *db;
    int cached;
    sqlite3_stmt *st = web_prep_k(s, &db, id ? K_USER_ID : K_USER_NAME,
                                  id ? "SELECT " USER_COLS " FROM web_users u WHERE u.id = ?"
                                     : "SELECT " USER_COLS " FROM web_users u WHERE u.name = ?",
                                  "get user", &cached, err);
    if (!st) return err ? err->code : TSR_ESTORE;
    if (id) sqlite3_bind_int64(st, 1, id);
    else bind_text(st, 1, name ? name : "");
    r = one_user(db, st, cached, out, "user", err);
  }
  if (r == TSR_ENOTFOUND) {
    if (id) tsr_error_set(err, r, NULL, 0, 0, NULL, "user %lld: not found", (long long)id);
    else tsr_error_set(err, r, NULL, 0, 0, NULL, "user '%s': not found", name ? name : "");
  }
  return r;
}

tsr_status tsr_web_users_list(tsr_store *s, tsr_web_user_cb cb, void *ctx, tsr_error *err) {
  PGconn *pc = web_pg(s);
  if (pc) return tsr__pgweb_users_list(pc, cb, ctx, err);
  sqlite3 *db;
  sqlite3_stmt *st = web_prep(s, &db, "SELECT " USER_COLS " FROM web_users u ORDER BY u.name",
                              "list users", err);
  if (!st) return err ? err->code : TSR_ESTORE;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    tsr_web_user u = {sqlite3_column_int64(st, 0), col_text(st, 1), col_text(st, 2),
                      col_text(st, 3), sqlite3_column_int64(st, 4)};
    if (cb(ctx, &u)) {
      rc = SQLITE_DONE;
      break;
    }
  }
  tsr_status r = rc == SQLITE_DONE ? TSR_OK : web_fail(db, "list users", err);
  sqlite3_finalize(st);
  return r;
}

/* ================================================================ sessions, tokens */

tsr_status tsr_web_session_add(tsr_store *s, const char *token_hash, int64_t user_id,
                               const char *csrf, int64_t expires_at, tsr_error *err) {
  PGconn *pc = web_pg(s);
  if (pc) return tsr__pgweb_session_add(pc, token_hash, user_id, csrf, expires_at, err);
  sqlite3 *db;
  sqlite3_stmt *st = web_prep(s, &db,
                              "INSERT INTO web_sessions(token_hash, user_id, csrf, created_at, "
                              "expires_at) VALUES (?,?,?,?,?)",
                              "add session", err);
  if (!st) return err ? err->code : TSR_ESTORE;
  bind_text(st, 1, token_hash);
  sqlite3_bind_int64(st, 2, user_id);
  bind_text(st, 3, csrf);
  sqlite3_bind_int64(st, 4, tsr_store_now_ms());
  sqlite3_bind_int64(st, 5, expires_at);
  return web_done(db, st, "add session", err);
}

tsr_status tsr_web_session_get(tsr_store *s, const char *token_hash, int64_t now,
                               tsr_web_user **user, char *csrf_buf, size_t cap, tsr_error *err) {
  *user = NULL;
  PGconn *pc = web_pg(s);
  if (pc) {
    tsr_status r = tsr__pgweb_session_get(pc, token_hash, now, user, csrf_buf, cap, err);
    if (r == TSR_ENOTFOUND)
      return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "session: not found");
    return r;
  }
  sqlite3 *db;
  int cached;
  sqlite3_stmt *st = web_prep_k(s, &db, K_SESSION,
                                "SELECT " USER_COLS ", x.csrf FROM web_sessions x "
                                "JOIN web_users u ON u.id = x.user_id "
                                "WHERE x.token_hash = ? AND x.expires_at > ?",
                                "get session", &cached, err);
  if (!st) return err ? err->code : TSR_ESTORE;
  bind_text(st, 1, token_hash);
  sqlite3_bind_int64(st, 2, now);
  int rc = sqlite3_step(st);
  tsr_status r = TSR_OK;
  if (rc == SQLITE_ROW) {
    *user = pack_user(st);
    if (!*user) r = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    if (csrf_buf && cap) snprintf(csrf_buf, cap, "%s", col_text(st, 5));
  } else if (rc == SQLITE_DONE) {
    r = tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "session: not found");
  } else {
    r = web_fail(db, "get session", err);
  }
  web_fin(st, cached);
  return r;
}

tsr_status tsr_web_session_del(tsr_store *s, const char *token_hash, tsr_error *err) {
  PGconn *pc = web_pg(s);
  if (pc) return tsr__pgweb_session_del(pc, token_hash, err);
  sqlite3 *db;
  sqlite3_stmt *st = web_prep(s, &db,
                              "DELETE FROM web_sessions WHERE token_hash = ? OR expires_at < ?",
                              "delete session", err);
  if (!st) return err ? err->code : TSR_ESTORE;
  bind_text(st, 1, token_hash);
  sqlite3_bind_int64(st, 2, tsr_store_now_ms());
  return web_done(db, st, "delete session", err);
}

tsr_status tsr_web_token_add(tsr_store *s, int64_t user_id, const char *token_hash,
                             tsr_error *err) {
  PGconn *pc = web_pg(s);
  if (pc) return tsr__pgweb_token_add(pc, user_id, token_hash, err);
  sqlite3 *db;
  sqlite3_stmt *st = web_prep(s, &db,
                              "INSERT INTO web_tokens(user_id, token_hash, created_at) VALUES (?,?,?)",
                              "add token", err);
  if (!st) return err ? err->code : TSR_ESTORE;
  sqlite3_bind_int64(st, 1, user_id);
  bind_text(st, 2, token_hash);
  sqlite3_bind_int64(st, 3, tsr_store_now_ms());
  return web_done(db, st, "add token", err);
}

tsr_status tsr_web_token_get(tsr_store *s, const char *token_hash, tsr_web_user **user,
                             tsr_error *err) {
  *user = NULL;
  PGconn *pc = web_pg(s);
  if (pc) {
    tsr_status r = tsr__pgweb_token_get(pc, token_hash, user, err);
    if (r == TSR_ENOTFOUND)
      return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "token: not found");
    return r;
  }
  sqlite3 *db;
  int cached;
  sqlite3_stmt *st = web_prep_k(s, &db, K_TOKEN,
                                "SELECT " USER_COLS " FROM web_tokens t "
                                "JOIN web_users u ON u.id = t.user_id WHERE t.token_hash = ?",
                                "get token", &cached, err);
  if (!st) return err ? err->code : TSR_ESTORE;
  bind_text(st, 1, token_hash);
  return one_user(db, st, cached, user, "token", err);
}

/* ================================================================ request log */

tsr_status tsr_web_requests_add(tsr_store *s, const tsr_web_request *rows, size_t n,
                                tsr_error *err) {
  if (n == 0) return TSR_OK;
  PGconn *pc = web_pg(s);
  if (pc) return tsr__pgweb_requests_add(pc, rows, n, err);
  sqlite3 *db;
  sqlite3_stmt *st = web_prep(s, &db,
                              "INSERT INTO web_requests(ts, user_name, method, path, status, "
                              "duration_ms, bytes_in, bytes_out, repeats) VALUES (?,?,?,?,?,?,?,?,?)",
                              "log requests", err);
  if (!st) return err ? err->code : TSR_ESTORE;
  int outer = tsr__store_in_tx(s);
  if (!outer && sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
    tsr_status r = web_fail(db, "log requests", err);
    sqlite3_finalize(st);
    return r;
  }
  tsr_status r = TSR_OK;
  for (size_t i = 0; i < n && r == TSR_OK; i++) {
    const tsr_web_request *q = &rows[i];
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, q->ts);
    bind_text(st, 2, q->user);
    bind_text(st, 3, q->method ? q->method : "");
    bind_text(st, 4, q->path ? q->path : "");
    sqlite3_bind_int(st, 5, q->status);
    sqlite3_bind_double(st, 6, q->duration_ms);
    sqlite3_bind_int64(st, 7, q->bytes_in);
    sqlite3_bind_int64(st, 8, q->bytes_out);
    sqlite3_bind_int64(st, 9, q->repeats > 0 ? q->repeats : 1);
    if (sqlite3_step(st) != SQLITE_DONE) r = web_fail(db, "log requests", err);
  }
  sqlite3_finalize(st);
  if (!outer) {
    if (r == TSR_OK && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
      r = web_fail(db, "log requests", err);
    if (r != TSR_OK) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  }
  return r;
}

/* Runs a one-integer query with up to one integer and one text parameter. */
static tsr_status one_int(tsr_store *s, const char *sql, int64_t a, const char *t, int64_t *out,
                          const char *what, tsr_error *err) {
  sqlite3 *db;
  sqlite3_stmt *st = web_prep(s, &db, sql, what, err);
  if (!st) return err ? err->code : TSR_ESTORE;
  int np = sqlite3_bind_parameter_count(st);
  if (np >= 1) {
    if (t) bind_text(st, 1, t);
    else sqlite3_bind_int64(st, 1, a);
  }
  int rc = sqlite3_step(st);
  tsr_status r = TSR_OK;
  if (rc == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
  else if (rc == SQLITE_DONE) r = TSR_ENOTFOUND;
  else r = web_fail(db, what, err);
  sqlite3_finalize(st);
  return r;
}

tsr_status tsr_web_requests_count(tsr_store *s, int64_t *n, tsr_error *err) {
  PGconn *pc = web_pg(s);
  if (pc) return tsr__pgweb_requests_count(pc, n, err);
  return one_int(s, "SELECT count(*) FROM web_requests", 0, NULL, n, "count requests", err);
}

/* ================================================================ uploads, runs */

tsr_status tsr_web_upload_add(tsr_store *s, int64_t dataset_id, int64_t owner, const char *name,
                              tsr_error *err) {
  PGconn *pc = web_pg(s);
  if (pc) return tsr__pgweb_upload_add(pc, dataset_id, owner, name, err);
  sqlite3 *db;
  sqlite3_stmt *st = web_prep(s, &db,
                              "INSERT INTO web_uploads(dataset_id, owner, name) VALUES (?,?,?)",
                              "add upload", err);
  if (!st) return err ? err->code : TSR_ESTORE;
  sqlite3_bind_int64(st, 1, dataset_id);
  if (owner > 0) sqlite3_bind_int64(st, 2, owner);
  else sqlite3_bind_null(st, 2);
  bind_text(st, 3, name ? name : "");
  return web_done(db, st, "add upload", err);
}

tsr_status tsr_web_upload_owner(tsr_store *s, int64_t dataset_id, int64_t *owner, tsr_error *err) {
  PGconn *pc = web_pg(s);
  tsr_status r = pc ? tsr__pgweb_upload_owner(pc, dataset_id, owner, err)
                    : one_int(s, "SELECT coalesce(owner, 0) FROM web_uploads WHERE dataset_id = ?",
                              dataset_id, NULL, owner, "get upload", err);
  if (r == TSR_ENOTFOUND)
    return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "dataset %lld: not found",
                         (long long)dataset_id);
  return r;
}

tsr_status tsr_web_dataset_delete(tsr_store *s, int64_t id, tsr_error *err) {
  PGconn *pc = web_pg(s);
  if (pc) {
    int64_t changed = 0;
    tsr_status r = tsr__pgweb_dataset_delete(pc, id, &changed, err);
    if (r == TSR_OK && changed == 0)
      return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "dataset %lld: not found",
                           (long long)id);
    return r;
  }
  sqlite3 *db;
  sqlite3_stmt *st = web_prep(s, &db, "DELETE FROM datasets WHERE id = ?", "delete dataset", err);
  if (!st) return err ? err->code : TSR_ESTORE;
  sqlite3_bind_int64(st, 1, id);
  tsr_status r = web_done(db, st, "delete dataset", err);
  if (r == TSR_OK && sqlite3_changes(db) == 0)
    return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "dataset %lld: not found", (long long)id);
  return r;
}

tsr_status tsr_web_run_add(tsr_store *s, int64_t run_id, int64_t upload_id, int64_t owner,
                           tsr_error *err) {
  PGconn *pc = web_pg(s);
  if (pc) return tsr__pgweb_run_add(pc, run_id, upload_id, owner, err);
  sqlite3 *db;
  sqlite3_stmt *st = web_prep(s, &db,
                              "INSERT OR REPLACE INTO web_runs(run_id, upload_id, owner) VALUES (?,?,?)",
                              "add web run", err);
  if (!st) return err ? err->code : TSR_ESTORE;
  sqlite3_bind_int64(st, 1, run_id);
  sqlite3_bind_int64(st, 2, upload_id);
  if (owner > 0) sqlite3_bind_int64(st, 3, owner);
  else sqlite3_bind_null(st, 3);
  return web_done(db, st, "add web run", err);
}

tsr_status tsr_web_run_get(tsr_store *s, int64_t run_id, int64_t *upload_id, int64_t *owner,
                           tsr_error *err) {
  PGconn *pc = web_pg(s);
  if (pc) {
    tsr_status r = tsr__pgweb_run_get(pc, run_id, upload_id, owner, err);
    if (r == TSR_ENOTFOUND)
      return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "run %lld: not found",
                           (long long)run_id);
    return r;
  }
  sqlite3 *db;
  sqlite3_stmt *st = web_prep(s, &db,
                              "SELECT coalesce(upload_id, 0), coalesce(owner, 0) FROM web_runs "
                              "WHERE run_id = ?",
                              "get web run", err);
  if (!st) return err ? err->code : TSR_ESTORE;
  sqlite3_bind_int64(st, 1, run_id);
  int rc = sqlite3_step(st);
  tsr_status r = TSR_OK;
  if (rc == SQLITE_ROW) {
    if (upload_id) *upload_id = sqlite3_column_int64(st, 0);
    if (owner) *owner = sqlite3_column_int64(st, 1);
  } else if (rc == SQLITE_DONE) {
    r = tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "run %lld: not found", (long long)run_id);
  } else {
    r = web_fail(db, "get web run", err);
  }
  sqlite3_finalize(st);
  return r;
}

tsr_status tsr_web_run_by_output(tsr_store *s, const char *dir, int64_t *run_id, tsr_error *err) {
  PGconn *pc = web_pg(s);
  tsr_status r =
      pc ? tsr__pgweb_run_by_output(pc, dir, run_id, err)
         : one_int(s, "SELECT id FROM runs WHERE output_dir = ? ORDER BY id DESC LIMIT 1", 0, dir,
                   run_id, "find run", err);
  if (r == TSR_ENOTFOUND)
    return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "run of %s: not found", dir);
  return r;
}

tsr_status tsr_web_runs_interrupt(tsr_store *s, int64_t *n, tsr_error *err) {
  PGconn *pc = web_pg(s);
  if (pc) {
    int64_t changed = 0;
    tsr_status r = tsr__pgweb_runs_interrupt(pc, &changed, err);
    if (r == TSR_OK && n) *n = changed;
    return r;
  }
  sqlite3 *db;
  sqlite3_stmt *st = web_prep(s, &db,
                              "UPDATE runs SET status = 'interrupted', finished_at = ?, error = "
                              "coalesce(error, 'interrupted: the server stopped before the run ended') "
                              "WHERE status = 'running' AND id IN (SELECT run_id FROM web_runs)",
                              "interrupt web runs", err);
  if (!st) return err ? err->code : TSR_ESTORE;
  sqlite3_bind_int64(st, 1, tsr_store_now_ms());
  tsr_status r = web_done(db, st, "interrupt web runs", err);
  if (r == TSR_OK && n) *n = sqlite3_changes(db);
  return r;
}

tsr_status tsr_web_run_delete(tsr_store *s, int64_t run_id, tsr_error *err) {
  PGconn *pc = web_pg(s);
  if (pc) {
    int64_t changed = 0;
    tsr_status r = tsr__pgweb_run_delete(pc, run_id, &changed, err);
    if (r == TSR_OK && changed == 0)
      return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "run %lld: not found",
                           (long long)run_id);
    return r;
  }
  sqlite3 *db;
  sqlite3_stmt *st = web_prep(s, &db, "DELETE FROM runs WHERE id = ?", "delete run", err);
  if (!st) return err ? err->code : TSR_ESTORE;
  sqlite3_bind_int64(st, 1, run_id);
  tsr_status r = web_done(db, st, "delete run", err);
  if (r == TSR_OK && sqlite3_changes(db) == 0)
    return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "run %lld: not found", (long long)run_id);
  return r;
}

/* ================================================================ histories */

tsr_status tsr_web_history_add(tsr_store *s, int64_t run_id, const char *customer_id,
                               const tsr_web_history_row *rows, size_t n, tsr_error *err) {
  PGconn *pc = web_pg(s);
  if (pc) return tsr__pgweb_history_add(pc, run_id, customer_id, rows, n, err);
  sqlite3 *db;
  int cached;
  sqlite3_stmt *st = web_prep_k(s, &db, K_HISTORY_ADD,
                                /* an upsert, as on PostgreSQL: REPLACE with foreign
                                 * keys on is 4x slower */
                                "INSERT INTO web_history(run_id, customer_id, day, ntx, amount) "
                                "VALUES (?,?,?,?,?) ON CONFLICT(run_id, customer_id, day) DO UPDATE SET "
                                "ntx = excluded.ntx, amount = excluded.amount",
                                "add history", &cached, err);
  if (!st) return err ? err->code : TSR_ESTORE;
  tsr_status r = TSR_OK;
  for (size_t i = 0; i < n && r == TSR_OK; i++) {
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, customer_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, rows[i].day);
    sqlite3_bind_int64(st, 4, rows[i].ntx);
    sqlite3_bind_double(st, 5, rows[i].amount);
    if (sqlite3_step(st) != SQLITE_DONE) r = web_fail(db, "add history", err);
  }
  web_fin(st, cached);
  return r;
}

tsr_status tsr_web_history_list(tsr_store *s, int64_t run_id, const char *customer_id,
                                tsr_web_history_cb cb, void *ctx, tsr_error *err) {
  PGconn *pc = web_pg(s);
  if (pc) return tsr__pgweb_history_list(pc, run_id, customer_id, cb, ctx, err);
  sqlite3 *db;
  int cached;
  sqlite3_stmt *st = web_prep_k(s, &db, K_HISTORY,
                                "SELECT day, ntx, amount FROM web_history WHERE run_id = ? AND "
                                "customer_id = ? ORDER BY day",
                                "list history", &cached, err);
  if (!st) return err ? err->code : TSR_ESTORE;
  sqlite3_bind_int64(st, 1, run_id);
  bind_text(st, 2, customer_id);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    tsr_web_history_row h = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                             sqlite3_column_double(st, 2)};
    if (cb(ctx, &h)) {
      rc = SQLITE_DONE;
      break;
    }
  }
  tsr_status r = rc == SQLITE_DONE ? TSR_OK : web_fail(db, "list history", err);
  web_fin(st, cached);
  return r;
}

/* ================================================================ aggregates */

static double col_num(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? 0.0 : sqlite3_column_double(st, i);
}

/* json number or null for a NULL column. */
static json_t *col_json(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null()
                                                   : json_real(sqlite3_column_double(st, i));
}

tsr_status tsr_web_run_aggregates(tsr_store *s, int64_t run_id, char **json, tsr_error *err) {
  *json = NULL;
  PGconn *pc = web_pg(s);
  if (pc) return tsr__pgweb_run_aggregates(pc, run_id, json, err);
  sqlite3 *db = web_db(s, err);
  if (!db) return err ? err->code : TSR_EUNSUPPORTED;
  static const char *const sqls[] = {
      "SELECT cluster, count(*), sum(revenue), avg(frequency), avg(recency), avg(T), "
      "avg(monetary_value), avg(clv), avg(p_alive) FROM customers WHERE run_id = ? AND cluster "
      "IS NOT NULL GROUP BY cluster ORDER BY cluster",
      "SELECT r_score, f_score, count(*), avg(monetary_value) FROM customers WHERE run_id = ? "
      "AND r_score IS NOT NULL GROUP BY r_score, f_score ORDER BY r_score, f_score",
      "SELECT min(CAST(p_alive * 10 AS INTEGER), 9), count(*) FROM customers WHERE run_id = ? "
      "AND p_alive IS NOT NULL GROUP BY 1 ORDER BY 1",
      "SELECT min(CAST(frequency AS INTEGER), 20), count(*) FROM customers WHERE run_id = ? "
      "GROUP BY 1 ORDER BY 1",
      "SELECT min(clv), max(clv) FROM customers WHERE run_id = ? AND clv IS NOT NULL",
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
  tsr_status r = TSR_OK;
  for (size_t q = 0; q < TSR__ARRAY_LEN(sqls) && r == TSR_OK; q++) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sqls[q], -1, &st, NULL) != SQLITE_OK) {
      r = web_fail(db, "aggregates", err);
      break;
    }
    sqlite3_bind_int64(st, 1, run_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      if (q == 0) {
        json_t *c = json_object();
        json_object_set_new(c, "cluster", json_integer(sqlite3_column_int64(st, 0)));
        json_object_set_new(c, "customers", json_integer(sqlite3_column_int64(st, 1)));
        json_object_set_new(c, "revenue", json_real(col_num(st, 2)));
        json_object_set_new(c, "mean_frequency", col_json(st, 3));
        json_object_set_new(c, "mean_recency", col_json(st, 4));
        json_object_set_new(c, "mean_T", col_json(st, 5));
        json_object_set_new(c, "mean_monetary", col_json(st, 6));
        json_object_set_new(c, "mean_clv", col_json(st, 7));
        json_object_set_new(c, "mean_p_alive", col_json(st, 8));
        json_array_append_new(clusters, c);
      } else if (q == 1) {
        json_t *c = json_object();
        json_object_set_new(c, "r", json_integer(sqlite3_column_int64(st, 0)));
        json_object_set_new(c, "f", json_integer(sqlite3_column_int64(st, 1)));
        json_object_set_new(c, "customers", json_integer(sqlite3_column_int64(st, 2)));
        json_object_set_new(c, "mean_monetary", col_json(st, 3));
        json_array_append_new(grid, c);
      } else if (q == 2) {
        int64_t b = sqlite3_column_int64(st, 0);
        if (b >= 0 && b < 10) pa[b] += sqlite3_column_int64(st, 1);
      } else if (q == 3) {
        json_t *c = json_object();
        json_object_set_new(c, "frequency", json_integer(sqlite3_column_int64(st, 0)));
        json_object_set_new(c, "customers", json_integer(sqlite3_column_int64(st, 1)));
        json_array_append_new(fh, c);
      } else {
        if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
          clv_lo = sqlite3_column_double(st, 0);
          clv_hi = sqlite3_column_double(st, 1);
          have_clv = 1;
        }
      }
    }
    if (rc != SQLITE_DONE) r = web_fail(db, "aggregates", err);
    sqlite3_finalize(st);
  }
  for (int b = 0; b < 10; b++) json_array_append_new(pah, json_integer(pa[b]));
  if (r == TSR_OK && have_clv) {
    /* CLV histogram: 10 equal bins between min and max */
    json_t *h = json_object(), *edges = json_array(), *counts = json_array();
    long long cnt[10] = {0};
    double w = (clv_hi - clv_lo) / 10;
    for (int b = 0; b <= 10; b++) json_array_append_new(edges, json_real(clv_lo + w * b));
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT min(max(CAST((clv - ?2) / ?3 AS INTEGER), 0), 9), count(*) "
                           "FROM customers WHERE run_id = ?1 AND clv IS NOT NULL GROUP BY 1",
                           -1, &st, NULL) == SQLITE_OK) {
      sqlite3_bind_int64(st, 1, run_id);
      sqlite3_bind_double(st, 2, clv_lo);
      sqlite3_bind_double(st, 3, w > 0 ? w : 1);
      while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t b = sqlite3_column_int64(st, 0);
        if (b >= 0 && b < 10) cnt[b] += sqlite3_column_int64(st, 1);
      }
    }
    sqlite3_finalize(st);
    for (int b = 0; b < 10; b++) json_array_append_new(counts, json_integer(cnt[b]));
    json_object_set_new(h, "edges", edges);
    json_object_set_new(h, "counts", counts);
    json_object_set_new(root, "clv_hist", h);
  }
  if (r == TSR_OK) {
    *json = json_dumps(root, JSON_COMPACT);
    if (!*json) r = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  json_decref(root);
  return r;
}
