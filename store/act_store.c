/*
 * act_store.c - the decisions of the offer bandits (tessera/store_act.h)
 * on every back end: table act_decisions of store/schema.def (made on first
 * use), statements with bound parameters through store/store_int.h.
 */
#include "store_int.h"

#include <stdio.h>
#include <string.h>

#include "tessera/store_act.h"

tsr_status tsr_act_store_init(tsr_store *s, tsr_error *err) {
  tsr__db *db = tsr__store_db(s);
  if (!db) return tsr_error_set(err, TSR_EUNSUPPORTED, NULL, 0, 0, NULL, "store: unknown back end");
  return tsr__table_ensure(db, TSR__TABLE(act_decisions), err);
}

tsr_status tsr_act_write(tsr_store *s, const tsr_act_decision *rows, size_t n,
                         const char *const *ids, const double *rewards, const int64_t *ts,
                         size_t nr, int64_t *applied, tsr_error *err) {
  int64_t app = 0;
  tsr_status st = tsr_store_begin(s, err);
  if (st) return st;
  tsr__db *db = tsr__store_db(s);
  if (n) st = tsr__insert_rows(db, TSR__TABLE(act_decisions), rows, n, sizeof *rows, "insert decision", err);
  for (size_t i = 0; i < nr && st == TSR_OK; i++) {
    tsr__val p[] = {TSR__VD(rewards[i]), TSR__VI(ts[i]), TSR__VT(ids[i])};
    tsr__exec_out o;
    st = db->m->exec(db,
                     "UPDATE act_decisions SET reward = ?, rewarded_at = ? WHERE id = ?"
                     " AND reward IS NULL",
                     p, 3, &o, "record reward", err);
    app += o.changed;
  }
  if (st == TSR_OK) st = tsr_store_commit(s, err);
  else tsr_store_rollback(s, NULL);
  if (st == TSR_OK && applied) *applied = app;
  return st;
}

tsr_status tsr_act_decisions_list(tsr_store *s, tsr_act_decision_cb cb, void *ctx, tsr_error *err) {
  tsr__db *db = tsr__store_db(s);
  if (!db) return tsr_error_set(err, TSR_EUNSUPPORTED, NULL, 0, 0, NULL, "store: unknown back end");
  return tsr__select(db, TSR__TABLE(act_decisions), "", "FROM act_decisions ORDER BY ts, id", NULL,
                     0, (void *)cb, ctx, NULL, "list decisions", err);
}

tsr_status tsr_act_decision_get(tsr_store *s, const char *id, tsr_act_decision_cb cb, void *ctx,
                                tsr_error *err) {
  tsr__db *db = tsr__store_db(s);
  if (!db) return tsr_error_set(err, TSR_EUNSUPPORTED, NULL, 0, 0, NULL, "store: unknown back end");
  tsr__val p[] = {TSR__VT(id)};
  int64_t n = 0;
  tsr_status st = tsr__select(db, TSR__TABLE(act_decisions), "", "FROM act_decisions WHERE id = ?", p, 1,
                              (void *)cb, ctx, &n, "get decision", err);
  return st == TSR_OK && n == 0 ? TSR_ENOTFOUND : st;
}

static int two_counts(void *ctx, const tsr__cur *c) {
  int64_t *n = ctx;
  n[0] = tsr__cur_i64(c, 0, 0);
  n[1] = tsr__cur_i64(c, 1, 0);
  return 1;
}

tsr_status tsr_act_decisions_count(tsr_store *s, int64_t *n, int64_t *nr, tsr_error *err) {
  tsr__db *db = tsr__store_db(s);
  if (!db) return tsr_error_set(err, TSR_EUNSUPPORTED, NULL, 0, 0, NULL, "store: unknown back end");
  int64_t k[2] = {0, 0};
  tsr_status st = db->m->query(db, "SELECT count(*), count(reward) FROM act_decisions", NULL, 0,
                               two_counts, k, NULL, "count decisions", err);
  *n = k[0];
  *nr = k[1];
  return st;
}
