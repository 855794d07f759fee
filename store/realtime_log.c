/*
 * realtime_log.c - the durable event log of the real-time path
 * (tessera/store_events.h): SQLite table rt_events, created when missing
 * (CREATE TABLE IF NOT EXISTS, outside the numbered migrations so the
 * optional real-time path adds nothing to stores that never use it). The
 * UNIQUE key makes a repeated delivery a no-op (ON CONFLICT DO NOTHING).
 */
#include "store_int.h"
#include "tessera/store_events.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

enum { Q_ADD = 0, Q_ONE, Q_ALL, Q_COUNT, Q_N };
static const char *const log_sql[Q_N] = {
    "INSERT INTO rt_events(key, customer_id, type, ts, day, amount, detail) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(key) DO NOTHING",
    "SELECT key, customer_id, type, ts, day, amount, detail FROM rt_events "
    "WHERE customer_id = ?1 ORDER BY day, seq",
    "SELECT key, customer_id, type, ts, day, amount, detail FROM rt_events "
    "ORDER BY customer_id, day, seq",
    "SELECT count(*) FROM rt_events"};

struct tsr_rt_log {
  sqlite3 *db;
  sqlite3_stmt *q[Q_N];
};

static tsr_status log_fail(sqlite3 *db, const char *what, tsr_error *err) {
  return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: %s", what, sqlite3_errmsg(db));
}

tsr_status tsr_rt_log_open(tsr_store *s, tsr_rt_log **out, tsr_error *err) {
  *out = NULL;
  const tsr_store_methods *m = NULL;
  void *impl = tsr__store_impl(s, &m);
  if (!impl || m != &tsr__store_sqlite_methods)
    return tsr_error_set(err, TSR_EUNSUPPORTED, NULL, 0, 0, NULL,
                         "store: the real-time event log needs a SQLite store (PostgreSQL: not yet)");
  sqlite3 *db = tsr__sqlite_db(impl);
  if (sqlite3_exec(db,
                   "CREATE TABLE IF NOT EXISTS rt_events (\n"
                   "  seq INTEGER PRIMARY KEY,\n"
                   "  key TEXT UNIQUE,\n"
                   "  customer_id TEXT NOT NULL,\n"
                   "  type INTEGER NOT NULL,\n"
                   "  ts INTEGER NOT NULL,\n"
                   "  day INTEGER NOT NULL,\n"
                   "  amount REAL NOT NULL,\n"
                   "  detail TEXT);\n"
                   "CREATE INDEX IF NOT EXISTS rt_events_customer ON rt_events(customer_id, day, seq);",
                   NULL, NULL, NULL) != SQLITE_OK)
    return log_fail(db, "create rt_events", err);
  /* the log's two indexes (key, customer) are probed at random for every
   * event: keep them in memory (64 MiB page cache on this connection)
   * rather than re-reading pages through the kernel */
  sqlite3_exec(db, "PRAGMA cache_size = -65536", NULL, NULL, NULL);
  tsr_rt_log *l = tsr__calloc(1, sizeof *l);
  if (!l) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  l->db = db;
  for (int i = 0; i < Q_N; i++)
    if (sqlite3_prepare_v3(db, log_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &l->q[i], NULL) != SQLITE_OK) {
      tsr_status st = log_fail(db, "prepare rt_events", err);
      tsr_rt_log_close(l);
      return st;
    }
  *out = l;
  return TSR_OK;
}

void tsr_rt_log_close(tsr_rt_log *l) {
  if (!l) return;
  for (int i = 0; i < Q_N; i++) sqlite3_finalize(l->q[i]);
  tsr__free(l);
}

tsr_status tsr_rt_log_add(tsr_rt_log *l, const tsr_rt_event *ev, int *fresh, tsr_error *err) {
  sqlite3_stmt *q = l->q[Q_ADD];
  sqlite3_reset(q);
  if (ev->key[0]) sqlite3_bind_text(q, 1, ev->key, -1, SQLITE_STATIC);
  else sqlite3_bind_null(q, 1);
  sqlite3_bind_text(q, 2, ev->customer_id, -1, SQLITE_STATIC);
  sqlite3_bind_int(q, 3, (int)ev->type);
  sqlite3_bind_int64(q, 4, ev->ts);
  sqlite3_bind_int64(q, 5, ev->day);
  sqlite3_bind_double(q, 6, ev->amount);
  if (ev->detail[0]) sqlite3_bind_text(q, 7, ev->detail, -1, SQLITE_STATIC);
  else sqlite3_bind_null(q, 7);
  int rc = sqlite3_step(q);
  sqlite3_reset(q);
  sqlite3_clear_bindings(q);
  if (rc != SQLITE_DONE) return log_fail(l->db, "insert event", err);
  *fresh = sqlite3_changes(l->db) > 0;
  return TSR_OK;
}

static void row_event(sqlite3_stmt *q, tsr_rt_event *ev) {
  memset(ev, 0, sizeof *ev);
  const unsigned char *k = sqlite3_column_text(q, 0);
  if (k) snprintf(ev->key, sizeof ev->key, "%s", (const char *)k);
  snprintf(ev->customer_id, sizeof ev->customer_id, "%s", (const char *)sqlite3_column_text(q, 1));
  ev->type = (tsr_rt_event_type)sqlite3_column_int(q, 2);
  ev->ts = sqlite3_column_int64(q, 3);
  ev->day = sqlite3_column_int64(q, 4);
  ev->amount = sqlite3_column_double(q, 5);
  const unsigned char *d = sqlite3_column_text(q, 6);
  if (d) snprintf(ev->detail, sizeof ev->detail, "%s", (const char *)d);
}

tsr_status tsr_rt_log_list(tsr_rt_log *l, const char *cid, tsr_rt_log_cb cb, void *ctx,
                           tsr_error *err) {
  sqlite3_stmt *q = l->q[cid ? Q_ONE : Q_ALL];
  sqlite3_reset(q);
  if (cid) sqlite3_bind_text(q, 1, cid, -1, SQLITE_TRANSIENT);
  tsr_rt_event *ev = tsr__malloc(sizeof *ev);
  if (!ev) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    row_event(q, ev);
    if (cb(ctx, ev)) break;
  }
  tsr__free(ev);
  tsr_status st = rc == SQLITE_ROW || rc == SQLITE_DONE ? TSR_OK : log_fail(l->db, "read events", err);
  sqlite3_reset(q);
  sqlite3_clear_bindings(q);
  return st;
}

tsr_status tsr_rt_log_count(tsr_rt_log *l, int64_t *n, tsr_error *err) {
  sqlite3_stmt *q = l->q[Q_COUNT];
  sqlite3_reset(q);
  int rc = sqlite3_step(q);
  *n = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
  sqlite3_reset(q);
  return rc == SQLITE_ROW ? TSR_OK : log_fail(l->db, "count events", err);
}

