/*
 * web.c - the web application's tables (tessera/store_web.h): accounts,
 * sessions, API tokens, request log, uploads, web runs and purchase
 * histories, once for every back end (tables in store/schema.def,
 * migration 2; primitives of store/store_int.h). Every statement is
 * prepared with bound parameters and kept prepared per connection. A write
 * inside an open transaction runs under a savepoint where the back end
 * needs one, so a failure (duplicate user) does not abort the caller's
 * transaction.
 */
#include "store_int.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tessera/store_web.h"

/* ================================================================ helpers */

#define WEB_DB(s, db)                                                                              \
  tsr__db *db = tsr__store_db(s);                                                                  \
  if (!db)                                                                                         \
  return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "store: web: store handle is NULL")

tsr_status tsr_web_store_cache(tsr_store *s, int on) {
  (void)on; /* every connection keeps its statements prepared */
  return tsr__store_db(s) ? TSR_OK : TSR_EUNSUPPORTED;
}

/* One write; an integrity violation is TSR_EEXIST (message from the
 * driver). OUT: *changed (may be NULL). */
static tsr_status web_write(tsr__db *db, const char *sql, const tsr__val *p, int np,
                            int64_t *changed, const char *what, tsr_error *err) {
  tsr__exec_out o;
  tsr_status st = tsr__write(db, sql, p, np, &o, what, err);
  if (st != TSR_OK && o.violation) {
    if (err) err->code = TSR_EEXIST;
    return TSR_EEXIST;
  }
  if (st == TSR_OK && changed) *changed = o.changed;
  return st;
}

#define not_found tsr__not_found

/* A row of web_users (then csrf when asked) packed into one allocation. */
typedef struct user_ctx {
  tsr_web_user *user;
  char *csrf;
  size_t cap;
  int oom;
  tsr_web_user_cb cb; /* listing instead of packing */
  void *ctx;
} user_ctx;

static const char *nz(const char *s) { return s ? s : ""; }

static int user_row(void *ctx, const tsr__cur *c) {
  user_ctx *u = ctx;
  tsr_web_user r;
  tsr__row_read(TSR__TABLE(web_users), c, 0, &r);
  r.name = nz(r.name);
  r.role = nz(r.role);
  r.pwhash = nz(r.pwhash);
  if (u->cb) return u->cb(u->ctx, &r);
  size_t ln = strlen(r.name) + 1, lr = strlen(r.role) + 1, lp = strlen(r.pwhash) + 1;
  tsr_web_user *p = tsr__malloc(sizeof *p + ln + lr + lp);
  if (!p) {
    u->oom = 1;
    return 1;
  }
  char *w = (char *)(p + 1);
  *p = r;
  p->name = memcpy(w, r.name, ln);
  p->role = memcpy(w + ln, r.role, lr);
  p->pwhash = memcpy(w + ln + lr, r.pwhash, lp);
  u->user = p;
  if (u->csrf && u->cap) snprintf(u->csrf, u->cap, "%s", nz(tsr__cur_text(c, 5)));
  return 1;
}

/* SELECT of the user columns (as "u.") then rest; one row into *out. */
static tsr_status one_user(tsr__db *db, const char *extra, const char *rest, const tsr__val *p,
                           int np, tsr_web_user **out, char *csrf, size_t cap, const char *what,
                           tsr_error *err) {
  char cols[256], sql[512];
  snprintf(sql, sizeof sql, "SELECT %s%s %s",
           tsr__select_cols(TSR__TABLE(web_users), "u.", cols, sizeof cols), extra, rest);
  user_ctx u = {NULL, csrf, cap, 0, NULL, NULL};
  int64_t n = 0;
  tsr_status st = db->m->query(db, sql, p, np, user_row, &u, &n, what, err);
  if (st == TSR_OK && u.oom) st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  if (st == TSR_OK && n == 0) st = TSR_ENOTFOUND;
  if (st == TSR_OK)
    *out = u.user;
  else
    tsr__free(u.user);
  return st;
}

/* ================================================================ users */

static int role_ok(const char *r) {
  return r && (!strcmp(r, "admin") || !strcmp(r, "analyst") || !strcmp(r, "viewer"));
}

tsr_status tsr_web_user_add(tsr_store *s, const char *name, const char *role, const char *pwhash,
                            int64_t *id, tsr_error *err) {
  if (!name || !*name || strlen(name) > 64)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "name", "user name: expected 1 to 64 bytes");
  if (!role_ok(role))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "role",
                         "role: expected admin, analyst or viewer, got '%s'", role ? role : "");
  if (!pwhash || !*pwhash)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "user: no password hash");
  WEB_DB(s, db);
  tsr_web_user u = {0, name, role, pwhash, tsr_store_now_ms()};
  tsr__exec_out o;
  tsr_status st = tsr__insert(db, TSR__TABLE(web_users), NULL, 0, &u, 1, &o, "add user", err);
  if (st != TSR_OK && o.violation)
    return tsr_error_set(err, TSR_EEXIST, NULL, 0, 0, NULL, "user '%s': already exists", name);
  if (st == TSR_OK && id) *id = o.id;
  return st;
}

tsr_status tsr_web_user_update(tsr_store *s, const char *name, const char *role, const char *pwhash,
                               tsr_error *err) {
  if (role && !role_ok(role))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "role",
                         "role: expected admin, analyst or viewer, got '%s'", role);
  WEB_DB(s, db);
  tsr__val p[] = {TSR__VT(role), TSR__VT(pwhash), TSR__VT(name)};
  int64_t n = 0;
  tsr_status st = web_write(db,
                            "UPDATE web_users SET role = coalesce(?, role),"
                            " pwhash = coalesce(?, pwhash) WHERE name = ?",
                            p, 3, &n, "update user", err);
  return not_found(st == TSR_OK && n == 0 ? TSR_ENOTFOUND : st, err, "user '%s'", name);
}

tsr_status tsr_web_user_del(tsr_store *s, const char *name, tsr_error *err) {
  WEB_DB(s, db);
  tsr__val p = TSR__VT(name);
  int64_t n = 0;
  tsr_status st =
      web_write(db, "DELETE FROM web_users WHERE name = ?", &p, 1, &n, "delete user", err);
  return not_found(st == TSR_OK && n == 0 ? TSR_ENOTFOUND : st, err, "user '%s'", name);
}

tsr_status tsr_web_user_get(tsr_store *s, int64_t id, const char *name, tsr_web_user **out,
                            tsr_error *err) {
  *out = NULL;
  WEB_DB(s, db);
  tsr__val p = id ? TSR__VI(id) : TSR__VT(nz(name));
  tsr_status st =
      one_user(db, "", id ? "FROM web_users u WHERE u.id = ?" : "FROM web_users u WHERE u.name = ?",
               &p, 1, out, NULL, 0, "get user", err);
  if (id) return not_found(st, err, "user %lld", (long long)id);
  return not_found(st, err, "user '%s'", nz(name));
}

tsr_status tsr_web_users_list(tsr_store *s, tsr_web_user_cb cb, void *ctx, tsr_error *err) {
  WEB_DB(s, db);
  char cols[256], sql[512];
  /* byte order: the collation TEXTC columns get (" COLLATE \"C\"" or "") */
  snprintf(sql, sizeof sql, "SELECT %s FROM web_users u ORDER BY u.name%s",
           tsr__select_cols(TSR__TABLE(web_users), "u.", cols, sizeof cols),
           db->m->type_sql[TSR__T_TEXTC] + strlen("TEXT"));
  user_ctx u = {NULL, NULL, 0, 0, cb, ctx};
  return db->m->query(db, sql, NULL, 0, user_row, &u, NULL, "list users", err);
}

/* ================================================================ sessions, tokens */

tsr_status tsr_web_session_add(tsr_store *s, const char *token_hash, int64_t user_id,
                               const char *csrf, int64_t expires_at, tsr_error *err) {
  WEB_DB(s, db);
  tsr__val p[] = {TSR__VT(token_hash), TSR__VI(user_id), TSR__VT(csrf), TSR__VI(tsr_store_now_ms()),
                  TSR__VI(expires_at)};
  return web_write(db,
                   "INSERT INTO web_sessions(token_hash, user_id, csrf, created_at, expires_at)"
                   " VALUES (?, ?, ?, ?, ?)",
                   p, 5, NULL, "add session", err);
}

tsr_status tsr_web_session_get(tsr_store *s, const char *token_hash, int64_t now,
                               tsr_web_user **user, char *csrf_buf, size_t cap, tsr_error *err) {
  *user = NULL;
  WEB_DB(s, db);
  tsr__val p[] = {TSR__VT(token_hash), TSR__VI(now)};
  tsr_status st = one_user(db, ", x.csrf",
                           "FROM web_sessions x JOIN web_users u ON u.id = x.user_id"
                           " WHERE x.token_hash = ? AND x.expires_at > ?",
                           p, 2, user, csrf_buf, cap, "get session", err);
  return not_found(st, err, "session");
}

tsr_status tsr_web_session_del(tsr_store *s, const char *token_hash, tsr_error *err) {
  WEB_DB(s, db);
  tsr__val p[] = {TSR__VT(token_hash), TSR__VI(tsr_store_now_ms())};
  return web_write(db, "DELETE FROM web_sessions WHERE token_hash = ? OR expires_at < ?", p, 2,
                   NULL, "delete session", err);
}

tsr_status tsr_web_sessions_del(tsr_store *s, int64_t user_id, const char *keep_hash,
                                int64_t *ended, tsr_error *err) {
  WEB_DB(s, db);
  int64_t n = 0;
  /* no session hash is empty, so coalesce(NULL, '') keeps none */
  tsr__val p[] = {TSR__VI(user_id), TSR__VT(keep_hash)};
  tsr_status st =
      web_write(db, "DELETE FROM web_sessions WHERE user_id = ? AND token_hash <> coalesce(?, '')",
                p, 2, &n, "end sessions", err);
  if (st == TSR_OK && ended) *ended = n;
  return st;
}

tsr_status tsr_web_token_add(tsr_store *s, int64_t user_id, const char *token_hash,
                             tsr_error *err) {
  WEB_DB(s, db);
  tsr__val p[] = {TSR__VI(user_id), TSR__VT(token_hash), TSR__VI(tsr_store_now_ms())};
  return web_write(db, "INSERT INTO web_tokens(user_id, token_hash, created_at) VALUES (?, ?, ?)",
                   p, 3, NULL, "add token", err);
}

tsr_status tsr_web_token_get(tsr_store *s, const char *token_hash, tsr_web_user **user,
                             tsr_error *err) {
  *user = NULL;
  WEB_DB(s, db);
  tsr__val p = TSR__VT(token_hash);
  tsr_status st = one_user(db, "",
                           "FROM web_tokens t JOIN web_users u ON u.id = t.user_id"
                           " WHERE t.token_hash = ?",
                           &p, 1, user, NULL, 0, "get token", err);
  return not_found(st, err, "token");
}

/* ================================================================ request log */

tsr_status tsr_web_requests_add(tsr_store *s, const tsr_web_request *rows, size_t n,
                                tsr_error *err) {
  if (n == 0) return TSR_OK;
  WEB_DB(s, db);
  const char *what = "log requests";
  int outer;
  tsr_status st = tsr__wr_begin(db, &outer, what, err);
  /* multi-row INSERTs (prepared once) on copies with the defaults applied:
   * one statement a row cost about 9 % of the server's CPU per decision */
  tsr_web_request chunk[64];
  for (size_t i = 0; i < n && st == TSR_OK;) {
    size_t k = 0;
    for (; k < sizeof chunk / sizeof *chunk && i < n; k++, i++) {
      chunk[k] = rows[i];
      chunk[k].method = nz(chunk[k].method);
      chunk[k].path = nz(chunk[k].path);
      if (chunk[k].repeats <= 0) chunk[k].repeats = 1;
    }
    st = tsr__insert_rows(db, TSR__TABLE(web_requests), chunk, k, sizeof *chunk, what, err);
  }
  return tsr__wr_end(db, outer, st, what, err);
}

tsr_status tsr_web_requests_count(tsr_store *s, int64_t *n, tsr_error *err) {
  WEB_DB(s, db);
  return tsr__one_i64(db, "SELECT count(*) FROM web_requests", NULL, 0, n, "count requests", err);
}

/* ================================================================ uploads, runs */

tsr_status tsr_web_upload_add(tsr_store *s, int64_t dataset_id, int64_t owner, const char *name,
                              tsr_error *err) {
  WEB_DB(s, db);
  tsr__val p[] = {TSR__VI(dataset_id), owner > 0 ? TSR__VI(owner) : TSR__VNULL, TSR__VT(nz(name))};
  return web_write(db, "INSERT INTO web_uploads(dataset_id, owner, name) VALUES (?, ?, ?)", p, 3,
                   NULL, "add upload", err);
}

tsr_status tsr_web_upload_owner(tsr_store *s, int64_t dataset_id, int64_t *owner, tsr_error *err) {
  WEB_DB(s, db);
  tsr__val p = TSR__VI(dataset_id);
  tsr_status st =
      tsr__one_i64(db, "SELECT coalesce(owner, 0) FROM web_uploads WHERE dataset_id = ?", &p, 1,
                   owner, "get upload", err);
  return not_found(st, err, "dataset %lld", (long long)dataset_id);
}

/* A delete by id: TSR_ENOTFOUND "<kind> N: not found" when no row went. */
static tsr_status delete_id(tsr_store *s, const char *sql, const char *kind, int64_t id,
                            const char *what, tsr_error *err) {
  WEB_DB(s, db);
  tsr__val p = TSR__VI(id);
  int64_t n = 0;
  tsr_status st = web_write(db, sql, &p, 1, &n, what, err);
  return not_found(st == TSR_OK && n == 0 ? TSR_ENOTFOUND : st, err, "%s %lld", kind,
                   (long long)id);
}

tsr_status tsr_web_dataset_delete(tsr_store *s, int64_t id, tsr_error *err) {
  return delete_id(s, "DELETE FROM datasets WHERE id = ?", "dataset", id, "delete dataset", err);
}

tsr_status tsr_web_run_add(tsr_store *s, int64_t run_id, int64_t upload_id, int64_t owner,
                           tsr_error *err) {
  WEB_DB(s, db);
  tsr__val p[] = {TSR__VI(run_id), TSR__VI(upload_id), owner > 0 ? TSR__VI(owner) : TSR__VNULL};
  return web_write(db,
                   "INSERT INTO web_runs(run_id, upload_id, owner) VALUES (?, ?, ?)"
                   " ON CONFLICT (run_id) DO UPDATE SET upload_id = excluded.upload_id,"
                   " owner = excluded.owner",
                   p, 3, NULL, "add web run", err);
}

typedef struct two_ints {
  int64_t a, b;
} two_ints;

static int two_ints_row(void *ctx, const tsr__cur *c) {
  two_ints *t = ctx;
  t->a = tsr__cur_i64(c, 0, 0);
  t->b = tsr__cur_i64(c, 1, 0);
  return 1;
}

tsr_status tsr_web_run_get(tsr_store *s, int64_t run_id, int64_t *upload_id, int64_t *owner,
                           tsr_error *err) {
  WEB_DB(s, db);
  tsr__val p = TSR__VI(run_id);
  two_ints t = {0, 0};
  int64_t n = 0;
  tsr_status st = db->m->query(db,
                               "SELECT coalesce(upload_id, 0), coalesce(owner, 0) FROM web_runs"
                               " WHERE run_id = ?",
                               &p, 1, two_ints_row, &t, &n, "get web run", err);
  if (st == TSR_OK && n == 0) st = TSR_ENOTFOUND;
  if (st == TSR_OK) {
    if (upload_id) *upload_id = t.a;
    if (owner) *owner = t.b;
  }
  return not_found(st, err, "run %lld", (long long)run_id);
}

tsr_status tsr_web_run_by_output(tsr_store *s, const char *dir, int64_t *run_id, tsr_error *err) {
  WEB_DB(s, db);
  tsr__val p = TSR__VT(dir);
  tsr_status st =
      tsr__one_i64(db, "SELECT id FROM runs WHERE output_dir = ? ORDER BY id DESC LIMIT 1", &p, 1,
                   run_id, "find run", err);
  return not_found(st, err, "run of %s", dir);
}

tsr_status tsr_web_runs_interrupt(tsr_store *s, int64_t *n, tsr_error *err) {
  WEB_DB(s, db);
  tsr__val p = TSR__VI(tsr_store_now_ms());
  int64_t k = 0;
  tsr_status st =
      web_write(db,
                "UPDATE runs SET status = 'interrupted', finished_at = ?, error ="
                " coalesce(error, 'interrupted: the server stopped before the run ended')"
                " WHERE status = 'running' AND id IN (SELECT run_id FROM web_runs)",
                &p, 1, &k, "interrupt web runs", err);
  if (st == TSR_OK && n) *n = k;
  return st;
}

tsr_status tsr_web_run_delete(tsr_store *s, int64_t run_id, tsr_error *err) {
  return delete_id(s, "DELETE FROM runs WHERE id = ?", "run", run_id, "delete run", err);
}

/* ================================================================ histories */

tsr_status tsr_web_history_add(tsr_store *s, int64_t run_id, const char *customer_id,
                               const tsr_web_history_row *rows, size_t n, tsr_error *err) {
  WEB_DB(s, db);
  const char *what = "add history";
  tsr__val lead[] = {TSR__VI(run_id), TSR__VT(customer_id)};
  char sql[512];
  int ncols;
  tsr__insert_sql(TSR__TABLE(web_history), 2, 1,
                  "ON CONFLICT (run_id, customer_id, day) DO UPDATE"
                  " SET ntx = excluded.ntx, amount = excluded.amount",
                  sql, sizeof sql, &ncols);
  int outer;
  tsr_status st = tsr__wr_begin(db, &outer, what, err);
  for (size_t i = 0; i < n && st == TSR_OK; i++) {
    tsr__val v[8];
    tsr__row_vals(TSR__TABLE(web_history), lead, 2, &rows[i], v);
    st = db->m->exec(db, sql, v, ncols, NULL, what, err);
  }
  return tsr__wr_end(db, outer, st, what, err);
}

/* A bulk load of histories: rows visited customer after customer, in key
 * order. */
typedef struct hist_load {
  int64_t run_id;
  const char *const *ids;
  const size_t *order; /* NULL: ids are in key order */
  size_t n;            /* customers */
  tsr_web_history_src src;
  void *ctx;
  size_t c;       /* customers visited */
  const char *id; /* the current one, its rows, the next row */
  const tsr_web_history_row *rows;
  size_t nr, k;
  size_t done;   /* rows given */
  tsr_status st; /* of src */
  tsr_error *err;
} hist_load;

/* The next row's values; 0 at the end or when src failed (h->st). */
static int hist_next(hist_load *h, tsr__val *v) {
  while (h->k >= h->nr) {
    if (h->c >= h->n || h->st != TSR_OK) return 0;
    size_t i = h->order ? h->order[h->c] : h->c;
    if (h->order) { /* in key order the rows and ids are all over memory */
      size_t far = h->c + 16, near = h->c + 8, stage;
      if (far < h->n) {
        __builtin_prefetch(&h->ids[h->order[far]]);
        stage = 0;
        h->src(h->ctx, h->order[far], NULL, &stage, NULL);
      }
      if (near < h->n) {
        __builtin_prefetch(h->ids[h->order[near]]);
        stage = 1;
        h->src(h->ctx, h->order[near], NULL, &stage, NULL);
      }
    }
    h->c++;
    h->k = h->nr = 0;
    h->st = h->src(h->ctx, i, &h->rows, &h->nr, h->err);
    if (h->st != TSR_OK) return 0;
    h->id = h->ids[i];
  }
  tsr__val lead[] = {TSR__VI(h->run_id), TSR__VT(h->id)};
  tsr__row_vals(TSR__TABLE(web_history), lead, 2, &h->rows[h->k++], v);
  h->done++;
  return 1;
}

/* tsr__rowvals_fn of the bulk load (rows come in order): NULLs past the end
 * (a NOT NULL violation stops the load). */
static void hist_vals(void *ctx, size_t i, tsr__val *out) {
  (void)i;
  if (!hist_next(ctx, out))
    for (int k = 0; k < 5; k++) out[k] = TSR__VNULL;
}

#define HIST_MULTI 200 /* rows per multi-row INSERT (5 values each) */

static tsr_status history_insert(tsr__db *db, hist_load *h, const char *what, tsr_error *err) {
  tsr__multi_ins mi;
  tsr_status st =
      tsr__multi_ins_init(&mi, TSR__TABLE(web_history), 2, HIST_MULTI, 8192, 5, what, err);
  if (st == TSR_OK && mi.ncols != 5)
    st = tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: %d columns, expected 5", what,
                       mi.ncols);
  const char *multi = mi.multi, *one = mi.one;
  tsr__val *v = mi.v;
  while (st == TSR_OK) {
    int k = 0;
    while (k < HIST_MULTI && hist_next(h, v + k * 5)) k++;
    if (k == HIST_MULTI) {
      st = db->m->exec(db, multi, v, k * 5, NULL, what, err);
      continue;
    }
    for (int r = 0; r < k && st == TSR_OK; r++)
      st = db->m->exec(db, one, v + r * 5, 5, NULL, what, err);
    break;
  }
  tsr__multi_ins_free(&mi);
  return st;
}

tsr_status tsr_web_history_load(tsr_store *s, int64_t run_id, const char *const *ids, size_t n,
                                tsr_web_history_src src, void *ctx, tsr_error *err) {
  WEB_DB(s, db);
  const char *what = "add histories";
  if (n && (!ids || !src))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "store: %s: no ids or rows", what);
  int oom;
  size_t *order = tsr__id_order(ids, sizeof *ids, n, &oom);
  if (oom)
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "store: %s: out of memory", what);
  hist_load h = {run_id, ids, order, n, src, ctx, 0, NULL, NULL, 0, 0, 0, TSR_OK, err};
  int outer;
  tsr_status st = tsr__wr_begin(db, &outer, what, err);
  if (st == TSR_OK && db->m->copy) {
    size_t total = 0; /* COPY wants the row count first */
    for (size_t i = 0; i < n && st == TSR_OK; i++) {
      const tsr_web_history_row *r = NULL;
      size_t k = 0;
      st = src(ctx, i, &r, &k, err);
      total += k;
    }
    char cols[256], ins[300];
    int ncols = 0;
    tsr__insert_sql(TSR__TABLE(web_history), 2, 0, NULL, ins, sizeof ins, &ncols);
    const char *a = strchr(ins, '('), *b = strchr(ins, ')');
    snprintf(cols, sizeof cols, "%.*s", (int)(b - a - 1), a + 1);
    if (st == TSR_OK && total)
      st = db->m->copy(db, "web_history", cols, ncols, total, hist_vals, &h, NULL, what, err);
    if (st == TSR_OK && h.st == TSR_OK && h.done != total)
      st = tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL,
                         "store: %s: the rows changed while loading", what);
  } else if (st == TSR_OK) {
    st = history_insert(db, &h, what, err);
  }
  if (st == TSR_OK && h.st != TSR_OK) st = h.st;
  tsr__free(order);
  return tsr__wr_end(db, outer, st, what, err);
}

/* ---------------------------------------------------------------- compact text */

/* Writes v in decimal at w; returns the end (tsr__put_u64: forward, two
 * digits at a time once the length is known; day gaps and cents have 1-7
 * digits). */
static char *put_i64(char *w, int64_t v) {
  if (v < 0) *w++ = '-';
  return tsr__put_u64(w, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
}

size_t tsr_web_history_format(const tsr_web_history_row *rows, size_t n, char *buf, size_t cap) {
  if (!buf || cap == 0) return SIZE_MAX;
  char *w = buf, *end = buf + cap;
  int64_t prev = 0;
  for (size_t i = 0; i < n; i++) {
    if ((size_t)(end - w) < TSR_WEB_HISTORY_ENTRY_MAX + 1) {
      buf[0] = '\0';
      return SIZE_MAX;
    }
    const tsr_web_history_row *r = &rows[i];
    if (i) *w++ = ';';
    w = put_i64(w, r->day - prev);
    prev = r->day;
    if (r->ntx != 1) {
      *w++ = '*';
      w = put_i64(w, r->ntx);
    }
    *w++ = ',';
    double a = r->amount;
    /* hundredths when a is exactly their quotient (so parsing gives a back).
     * Below 1e13 (|a 100| < 2^50) y + 0.5 and the cast round as llround
     * except within an ulp of a half, where no c / 100 is a */
    double y = a * 100;
    int64_t c = fabs(a) < 1e13                  ? (int64_t)(y + (y < 0 ? -0.5 : 0.5))
                : isfinite(a) && fabs(a) < 9e13 ? (int64_t)llround(y)
                                                : 0;
    if (fabs(a) < 9e13 && (double)c / 100.0 == a && !(c == 0 && signbit(a))) {
      w = put_i64(w, c);
    } else {
      *w++ = '~';
      w += tsr__fmt_g17(a, w);
    }
  }
  *w = '\0';
  return (size_t)(w - buf);
}

/* Reads a decimal integer at *p (optional '-'); 0 when none. */
static int get_i64(const char **p, int64_t *out) {
  const char *s = *p;
  int neg = *s == '-';
  if (neg) s++;
  if (*s < '0' || *s > '9') return 0;
  uint64_t u = 0;
  int digits = 0;
  while (*s >= '0' && *s <= '9') {
    if (++digits > 19) return 0;
    u = u * 10 + (uint64_t)(*s++ - '0');
  }
  *out = neg ? -(int64_t)u : (int64_t)u;
  *p = s;
  return 1;
}

tsr_status tsr_web_history_parse(const char *text, tsr_web_history_cb cb, void *ctx,
                                 tsr_error *err) {
  if (!text) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "history: text is NULL");
  const char *p = text;
  int64_t day = 0;
  while (*p) {
    tsr_web_history_row r;
    int64_t d;
    if (p != text && *p++ != ';') goto bad;
    if (!get_i64(&p, &d)) goto bad;
    r.day = day += d;
    r.ntx = 1;
    if (*p == '*' && (p++, !get_i64(&p, &r.ntx))) goto bad;
    if (*p++ != ',') goto bad;
    if (*p == '~') {
      char *e;
      r.amount = strtod(++p, &e);
      if (e == p) goto bad;
      p = e;
    } else {
      int64_t c;
      if (!get_i64(&p, &c)) goto bad;
      r.amount = (double)c / 100.0;
    }
    if (*p && *p != ';') goto bad;
    if (cb && cb(ctx, &r)) break;
  }
  return TSR_OK;
bad:
  return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "history",
                       "history: malformed text at byte %zu", (size_t)(p - text));
}

typedef struct hist_text {
  tsr_web_history_cb cb;
  void *ctx;
  int kept;      /* the row has the history (not NULL) */
  tsr_status st; /* of the parse */
  tsr_error *err;
} hist_text;

static int hist_text_row(void *ctx, const tsr__cur *c) {
  hist_text *h = ctx;
  const char *t = tsr__cur_text(c, 0);
  if (t) {
    h->kept = 1;
    h->st = tsr_web_history_parse(t, h->cb, h->ctx, h->err);
  }
  return 1;
}

tsr_status tsr_web_history_list(tsr_store *s, int64_t run_id, const char *customer_id,
                                tsr_web_history_cb cb, void *ctx, tsr_error *err) {
  WEB_DB(s, db);
  tsr__val p[] = {TSR__VI(run_id), TSR__VT(customer_id)};
  /* schema version 4: in the customer's row; runs stored before, and
   * customers without a row (refunds only), in web_history */
  hist_text h = {cb, ctx, 0, TSR_OK, err};
  tsr_status st =
      db->m->query(db, "SELECT history FROM customers WHERE run_id = ? AND customer_id = ?", p, 2,
                   hist_text_row, &h, NULL, "list history", err);
  if (st != TSR_OK || h.kept) return st != TSR_OK ? st : h.st;
  return tsr__select(db, TSR__TABLE(web_history), "",
                     "FROM web_history WHERE run_id = ? AND customer_id = ? ORDER BY day", p, 2,
                     (void *)cb, ctx, NULL, "list history", err);
}

/* ================================================================ aggregates */

typedef struct agg_ctx {
  int q;
  json_t *clusters, *grid, *fh;
  long long pa[10], cnt[10];
  double clv_lo, clv_hi;
  int have_clv;
} agg_ctx;

/* json number or null for a NULL column. */
static json_t *col_json(const tsr__cur *c, int i) {
  double v = tsr__cur_dbl(c, i);
  return v != v ? json_null() : json_real(v);
}

static int agg_row(void *ctx, const tsr__cur *c) {
  agg_ctx *a = ctx;
  json_t *o;
  int64_t b;
  switch (a->q) {
  case 0:
    o = json_object();
    json_object_set_new(o, "cluster", json_integer(tsr__cur_i64(c, 0, 0)));
    json_object_set_new(o, "customers", json_integer(tsr__cur_i64(c, 1, 0)));
    json_object_set_new(o, "revenue", json_real(c->m->isnull(c, 2) ? 0.0 : tsr__cur_dbl(c, 2)));
    json_object_set_new(o, "mean_frequency", col_json(c, 3));
    json_object_set_new(o, "mean_recency", col_json(c, 4));
    json_object_set_new(o, "mean_T", col_json(c, 5));
    json_object_set_new(o, "mean_monetary", col_json(c, 6));
    json_object_set_new(o, "mean_clv", col_json(c, 7));
    json_object_set_new(o, "mean_p_alive", col_json(c, 8));
    json_array_append_new(a->clusters, o);
    break;
  case 1:
    o = json_object();
    json_object_set_new(o, "r", json_integer(tsr__cur_i64(c, 0, 0)));
    json_object_set_new(o, "f", json_integer(tsr__cur_i64(c, 1, 0)));
    json_object_set_new(o, "customers", json_integer(tsr__cur_i64(c, 2, 0)));
    json_object_set_new(o, "mean_monetary", col_json(c, 3));
    json_array_append_new(a->grid, o);
    break;
  case 2:
  case 5:
    b = tsr__cur_i64(c, 0, 0);
    if (b >= 0 && b < 10) (a->q == 2 ? a->pa : a->cnt)[b] += tsr__cur_i64(c, 1, 0);
    break;
  case 3:
    o = json_object();
    json_object_set_new(o, "frequency", json_integer(tsr__cur_i64(c, 0, 0)));
    json_object_set_new(o, "customers", json_integer(tsr__cur_i64(c, 1, 0)));
    json_array_append_new(a->fh, o);
    break;
  default:
    if (!c->m->isnull(c, 0)) {
      a->clv_lo = tsr__cur_dbl(c, 0);
      a->clv_hi = tsr__cur_dbl(c, 1);
      a->have_clv = 1;
    }
  }
  return 0;
}

tsr_status tsr_web_run_aggregates(tsr_store *s, int64_t run_id, char **json, tsr_error *err) {
  *json = NULL;
  WEB_DB(s, db);
  const tsr_store_methods *m = db->m;
  char t1[64], t2[64], t3[96], sql[6][512];
  /* integer truncation as SQLite's CAST AS INTEGER, in the dialect's words */
  snprintf(t1, sizeof t1, m->trunc_int, "p_alive * 10");
  snprintf(t2, sizeof t2, m->trunc_int, "frequency");
  snprintf(t3, sizeof t3, m->trunc_int, "(clv - ?) / ?");
  snprintf(sql[0], sizeof sql[0],
           "SELECT cluster, count(*), sum(revenue), avg(frequency), avg(recency), avg(T),"
           " avg(monetary_value), avg(clv), avg(p_alive) FROM customers WHERE run_id = ? AND"
           " cluster IS NOT NULL GROUP BY cluster ORDER BY cluster");
  snprintf(sql[1], sizeof sql[1],
           "SELECT r_score, f_score, count(*), avg(monetary_value) FROM customers WHERE run_id = ?"
           " AND r_score IS NOT NULL GROUP BY r_score, f_score ORDER BY r_score, f_score");
  snprintf(sql[2], sizeof sql[2],
           "SELECT %s(%s, 9), count(*) FROM customers WHERE run_id = ? AND p_alive IS NOT NULL"
           " GROUP BY 1 ORDER BY 1",
           m->least, t1);
  snprintf(sql[3], sizeof sql[3],
           "SELECT CASE WHEN frequency IS NULL THEN NULL ELSE %s(%s, 20) END, count(*)"
           " FROM customers WHERE run_id = ? GROUP BY 1 ORDER BY 1 NULLS FIRST",
           m->least, t2);
  snprintf(sql[4], sizeof sql[4],
           "SELECT min(clv), max(clv) FROM customers WHERE run_id = ? AND clv IS NOT NULL");
  snprintf(sql[5], sizeof sql[5],
           "SELECT %s(%s(%s, 0), 9), count(*) FROM customers WHERE clv IS NOT NULL AND run_id = ?"
           " GROUP BY 1",
           m->least, m->greatest, t3);
  json_t *root = json_object(), *pah = json_array();
  agg_ctx a = {0, json_array(), json_array(), json_array(), {0}, {0}, 0, 0, 0};
  json_object_set_new(root, "clusters", a.clusters);
  json_object_set_new(root, "rf_grid", a.grid);
  json_object_set_new(root, "p_alive_hist", pah);
  json_object_set_new(root, "frequency_hist", a.fh);
  tsr__val p = TSR__VI(run_id);
  tsr_status st = TSR_OK;
  for (a.q = 0; a.q < 5 && st == TSR_OK; a.q++)
    st = m->query(db, sql[a.q], &p, 1, agg_row, &a, NULL, "aggregates", err);
  for (int b = 0; b < 10; b++) json_array_append_new(pah, json_integer(a.pa[b]));
  if (st == TSR_OK && a.have_clv) {
    /* CLV histogram: 10 equal bins between min and max */
    json_t *h = json_object(), *edges = json_array(), *counts = json_array();
    double w = (a.clv_hi - a.clv_lo) / 10;
    for (int b = 0; b <= 10; b++) json_array_append_new(edges, json_real(a.clv_lo + w * b));
    tsr__val q[] = {TSR__VD(a.clv_lo), TSR__VD(w > 0 ? w : 1), TSR__VI(run_id)};
    tsr_error scratch;
    a.q = 5;
    m->query(db, sql[5], q, 3, agg_row, &a, NULL, "aggregates", &scratch);
    for (int b = 0; b < 10; b++) json_array_append_new(counts, json_integer(a.cnt[b]));
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
