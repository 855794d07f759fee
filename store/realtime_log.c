/*
 * realtime_log.c - the durable event log of the real-time path
 * (tessera/store_events.h): table rt_events of store/schema.def, created
 * when missing (on demand, outside the numbered migrations, so the optional
 * real-time path adds nothing to stores that never use it). The UNIQUE key
 * makes a repeated delivery a no-op (ON CONFLICT DO NOTHING). Statements go
 * through store/store_int.h, kept prepared per connection.
 */
#include "store_int.h"
#include "tessera/store_events.h"

#include <stdio.h>
#include <string.h>

struct tsr_rt_log {
  tsr__db *db;
  char add_sql[512], one_sql[512], all_sql[512];
};

tsr_status tsr_rt_log_open(tsr_store *s, tsr_rt_log **out, tsr_error *err) {
  *out = NULL;
  tsr__db *db = tsr__store_db(s);
  if (!db) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "store: event log: no store");
  const tsr__table *t = TSR__TABLE(rt_events);
  tsr_status st = tsr__table_ensure(db, t, err);
  if (st) return st;
  /* the log's two indexes (key, customer) are probed at random for every
   * event (SQLite: a 64 MiB page cache on this connection keeps them in
   * memory rather than re-reading pages through the kernel) */
  if (db->m->random_reads) db->m->script(db, db->m->random_reads, "tune", NULL);
  tsr_rt_log *l = tsr__calloc(1, sizeof *l);
  if (!l) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  l->db = db;
  int ncols;
  char cols[256];
  tsr__insert_sql(t, 0, 1, "ON CONFLICT (key) DO NOTHING", l->add_sql, sizeof l->add_sql, &ncols);
  tsr__select_cols(t, "", cols, sizeof cols);
  snprintf(l->one_sql, sizeof l->one_sql,
           "SELECT %s FROM rt_events WHERE customer_id = ? ORDER BY day, seq", cols);
  snprintf(l->all_sql, sizeof l->all_sql, "SELECT %s FROM rt_events ORDER BY customer_id, day, seq",
           cols);
  *out = l;
  return TSR_OK;
}

void tsr_rt_log_close(tsr_rt_log *l) { tsr__free(l); }

tsr_status tsr_rt_log_add(tsr_rt_log *l, const tsr_rt_event *ev, int *fresh, tsr_error *err) {
  tsr__val v[8];
  int n = tsr__row_vals(TSR__TABLE(rt_events), NULL, 0, ev, v);
  tsr__exec_out o;
  tsr_status st = l->db->m->exec(l->db, l->add_sql, v, n, &o, "insert event", err);
  if (st == TSR_OK) *fresh = o.changed > 0;
  return st;
}

typedef struct list_ctx {
  tsr_rt_log_cb cb;
  void *ctx;
  tsr_rt_event *ev;
} list_ctx;

static int event_row(void *ctx, const tsr__cur *c) {
  list_ctx *l = ctx;
  memset(l->ev, 0, sizeof *l->ev);
  tsr__row_read(TSR__TABLE(rt_events), c, 0, l->ev);
  return l->cb(l->ctx, l->ev);
}

tsr_status tsr_rt_log_list(tsr_rt_log *l, const char *cid, tsr_rt_log_cb cb, void *ctx,
                           tsr_error *err) {
  list_ctx x = {cb, ctx, tsr__malloc(sizeof(tsr_rt_event))};
  if (!x.ev) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  tsr__val p = TSR__VT(cid);
  tsr_status st = l->db->m->query(l->db, cid ? l->one_sql : l->all_sql, &p, cid ? 1 : 0, event_row,
                                  &x, NULL, "read events", err);
  tsr__free(x.ev);
  return st;
}

tsr_status tsr_rt_log_count(tsr_rt_log *l, int64_t *n, tsr_error *err) {
  *n = 0;
  tsr_status st = tsr__one_i64(l->db, "SELECT count(*) FROM rt_events", NULL, 0, n, "count events", err);
  return st == TSR_ENOTFOUND ? TSR_OK : st;
}
