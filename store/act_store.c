/*
 * act_store.c - the decisions of the offer bandits (tessera/store_act.h) on
 * both back ends: SQLite through its connection, PostgreSQL through libpq
 * with bound parameters. Statements never carry data in their text.
 */
#include "store_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "postgres_web.h"
#include "tessera/store_act.h"

static const char CREATE_SQL[] =
    "CREATE TABLE IF NOT EXISTS act_decisions (\n"
    "  id          TEXT PRIMARY KEY,\n"
    "  ts          BIGINT NOT NULL,\n"
    "  customer_id TEXT NOT NULL,\n"
    "  offer_id    TEXT NOT NULL,\n"
    "  policy      TEXT NOT NULL,\n"
    "  segment     TEXT,\n"
    "  propensity  DOUBLE PRECISION NOT NULL,\n"
    "  features    TEXT,\n"
    "  reward      DOUBLE PRECISION,\n"
    "  rewarded_at BIGINT\n"
    ")";

static PGconn *act_pg(tsr_store *s) {
  const tsr_store_methods *m = NULL;
  void *impl = tsr__store_impl(s, &m);
  return impl && m == &tsr__store_pg_methods ? tsr__pg_conn(impl) : NULL;
}

static sqlite3 *act_db(tsr_store *s) {
  const tsr_store_methods *m = NULL;
  void *impl = tsr__store_impl(s, &m);
  return impl && m == &tsr__store_sqlite_methods ? tsr__sqlite_db(impl) : NULL;
}

static tsr_status sq_fail(sqlite3 *db, const char *what, tsr_error *err) {
  return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: %s", what, sqlite3_errmsg(db));
}

static tsr_status pg_fail(PGconn *c, PGresult *r, const char *what, tsr_error *err) {
  const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  char buf[400];
  snprintf(buf, sizeof buf, "%s", m ? m : PQerrorMessage(c));
  size_t n = strlen(buf);
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = '\0';
  return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: %s", what, buf);
}

static tsr_status pg_cmd(PGconn *c, const char *sql, int np, const char *const *v, const char *what,
                         int64_t *changed, tsr_error *err) {
  PGresult *r = PQexecParams(c, sql, np, NULL, v, NULL, NULL, 0);
  ExecStatusType es = PQresultStatus(r);
  tsr_status st = TSR_OK;
  if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) st = pg_fail(c, r, what, err);
  else if (changed) *changed = strtoll(PQcmdTuples(r), NULL, 10);
  PQclear(r);
  return st;
}

tsr_status tsr_act_store_init(tsr_store *s, tsr_error *err) {
  PGconn *c = act_pg(s);
  if (c) return pg_cmd(c, CREATE_SQL, 0, NULL, "create act_decisions", NULL, err);
  sqlite3 *db = act_db(s);
  if (!db) return tsr_error_set(err, TSR_EUNSUPPORTED, NULL, 0, 0, NULL, "store: unknown back end");
  if (sqlite3_exec(db, CREATE_SQL, NULL, NULL, NULL) != SQLITE_OK) return sq_fail(db, "create act_decisions", err);
  return TSR_OK;
}

static const char INS_SQ[] =
    "INSERT INTO act_decisions (id, ts, customer_id, offer_id, policy, segment, propensity, "
    "features) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char INS_PG[] =
    "INSERT INTO act_decisions (id, ts, customer_id, offer_id, policy, segment, propensity, "
    "features) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
static const char UPD_SQ[] =
    "UPDATE act_decisions SET reward = ?2, rewarded_at = ?3 WHERE id = ?1 AND reward IS NULL";
static const char UPD_PG[] =
    "UPDATE act_decisions SET reward = $2, rewarded_at = $3 WHERE id = $1 AND reward IS NULL";

tsr_status tsr_act_write(tsr_store *s, const tsr_act_decision *rows, size_t n,
                         const char *const *ids, const double *rewards, const int64_t *ts,
                         size_t nr, int64_t *applied, tsr_error *err) {
  int64_t app = 0;
  tsr_status st = tsr_store_begin(s, err);
  if (st) return st;
  PGconn *c = act_pg(s);
  if (c) {
    char num[3][32];
    for (size_t i = 0; i < n && st == TSR_OK; i++) {
      snprintf(num[0], sizeof num[0], "%" PRId64, rows[i].ts);
      snprintf(num[1], sizeof num[1], "%.17g", rows[i].propensity);
      const char *v[8] = {rows[i].id, num[0], rows[i].customer_id, rows[i].offer_id,
                          rows[i].policy, rows[i].segment, num[1], rows[i].features};
      st = pg_cmd(c, INS_PG, 8, v, "insert decision", NULL, err);
    }
    for (size_t i = 0; i < nr && st == TSR_OK; i++) {
      int64_t ch = 0;
      snprintf(num[0], sizeof num[0], "%.17g", rewards[i]);
      snprintf(num[1], sizeof num[1], "%" PRId64, ts[i]);
      const char *v[3] = {ids[i], num[0], num[1]};
      st = pg_cmd(c, UPD_PG, 3, v, "record reward", &ch, err);
      app += ch;
    }
  } else {
    sqlite3 *db = act_db(s);
    sqlite3_stmt *ins = NULL, *upd = NULL;
    if (!db || sqlite3_prepare_v2(db, INS_SQ, -1, &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, UPD_SQ, -1, &upd, NULL) != SQLITE_OK)
      st = db ? sq_fail(db, "prepare decisions", err)
              : tsr_error_set(err, TSR_EUNSUPPORTED, NULL, 0, 0, NULL, "store: unknown back end");
    for (size_t i = 0; i < n && st == TSR_OK; i++) {
      const tsr_act_decision *d = &rows[i];
      sqlite3_bind_text(ins, 1, d->id, -1, SQLITE_STATIC);
      sqlite3_bind_int64(ins, 2, d->ts);
      sqlite3_bind_text(ins, 3, d->customer_id, -1, SQLITE_STATIC);
      sqlite3_bind_text(ins, 4, d->offer_id, -1, SQLITE_STATIC);
      sqlite3_bind_text(ins, 5, d->policy, -1, SQLITE_STATIC);
      if (d->segment) sqlite3_bind_text(ins, 6, d->segment, -1, SQLITE_STATIC);
      else sqlite3_bind_null(ins, 6);
      sqlite3_bind_double(ins, 7, d->propensity);
      if (d->features) sqlite3_bind_text(ins, 8, d->features, -1, SQLITE_STATIC);
      else sqlite3_bind_null(ins, 8);
      if (sqlite3_step(ins) != SQLITE_DONE) st = sq_fail(db, "insert decision", err);
      sqlite3_reset(ins);
      sqlite3_clear_bindings(ins);
    }
    for (size_t i = 0; i < nr && st == TSR_OK; i++) {
      sqlite3_bind_text(upd, 1, ids[i], -1, SQLITE_STATIC);
      sqlite3_bind_double(upd, 2, rewards[i]);
      sqlite3_bind_int64(upd, 3, ts[i]);
      if (sqlite3_step(upd) != SQLITE_DONE) st = sq_fail(db, "record reward", err);
      else app += sqlite3_changes(db);
      sqlite3_reset(upd);
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
  }
  if (st == TSR_OK) st = tsr_store_commit(s, err);
  else tsr_store_rollback(s, NULL);
  if (st == TSR_OK && applied) *applied = app;
  return st;
}

static const char LIST_SQL[] =
    "SELECT id, ts, customer_id, offer_id, policy, segment, propensity, features, reward, "
    "rewarded_at FROM act_decisions ORDER BY ts, id";

tsr_status tsr_act_decisions_list(tsr_store *s, tsr_act_decision_cb cb, void *ctx, tsr_error *err) {
  PGconn *c = act_pg(s);
  if (c) {
    PGresult *r = PQexecParams(c, LIST_SQL, 0, NULL, NULL, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      tsr_status st = pg_fail(c, r, "list decisions", err);
      PQclear(r);
      return st;
    }
    for (int i = 0; i < PQntuples(r); i++) {
      tsr_act_decision d = {PQgetvalue(r, i, 0), strtoll(PQgetvalue(r, i, 1), NULL, 10),
                            PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4),
                            PQgetisnull(r, i, 5) ? NULL : PQgetvalue(r, i, 5),
                            strtod(PQgetvalue(r, i, 6), NULL),
                            PQgetisnull(r, i, 7) ? NULL : PQgetvalue(r, i, 7),
                            PQgetisnull(r, i, 8) ? NAN : strtod(PQgetvalue(r, i, 8), NULL),
                            PQgetisnull(r, i, 9) ? 0 : strtoll(PQgetvalue(r, i, 9), NULL, 10)};
      if (cb(ctx, &d)) break;
    }
    PQclear(r);
    return TSR_OK;
  }
  sqlite3 *db = act_db(s);
  sqlite3_stmt *q = NULL;
  if (!db) return tsr_error_set(err, TSR_EUNSUPPORTED, NULL, 0, 0, NULL, "store: unknown back end");
  if (sqlite3_prepare_v2(db, LIST_SQL, -1, &q, NULL) != SQLITE_OK) return sq_fail(db, "list decisions", err);
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
#define T(i) ((const char *)sqlite3_column_text(q, i))
    tsr_act_decision d = {T(0), sqlite3_column_int64(q, 1), T(2), T(3), T(4), T(5),
                          sqlite3_column_double(q, 6), T(7),
                          sqlite3_column_type(q, 8) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 8),
                          sqlite3_column_int64(q, 9)};
#undef T
    if (cb(ctx, &d)) {
      rc = SQLITE_DONE;
      break;
    }
  }
  tsr_status st = rc == SQLITE_DONE ? TSR_OK : sq_fail(db, "list decisions", err);
  sqlite3_finalize(q);
  return st;
}

tsr_status tsr_act_decisions_count(tsr_store *s, int64_t *n, int64_t *nr, tsr_error *err) {
  static const char SQL[] = "SELECT count(*), count(reward) FROM act_decisions";
  PGconn *c = act_pg(s);
  if (c) {
    PGresult *r = PQexecParams(c, SQL, 0, NULL, NULL, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      tsr_status st = pg_fail(c, r, "count decisions", err);
      PQclear(r);
      return st;
    }
    *n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    *nr = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    return TSR_OK;
  }
  sqlite3 *db = act_db(s);
  sqlite3_stmt *q = NULL;
  if (!db) return tsr_error_set(err, TSR_EUNSUPPORTED, NULL, 0, 0, NULL, "store: unknown back end");
  if (sqlite3_prepare_v2(db, SQL, -1, &q, NULL) != SQLITE_OK) return sq_fail(db, "count decisions", err);
  tsr_status st = TSR_OK;
  if (sqlite3_step(q) == SQLITE_ROW) {
    *n = sqlite3_column_int64(q, 0);
    *nr = sqlite3_column_int64(q, 1);
  } else {
    st = sq_fail(db, "count decisions", err);
  }
  sqlite3_finalize(q);
  return st;
}
