/*
 * postgres.c - the PostgreSQL back end of the store over libpq: the
 * primitives of store/store_int.h (connection, statements with bound
 * values, cursors, transactions, COPY) and the words of PostgreSQL's
 * dialect. The tables, their SQL and the migrations are the generic
 * layer's (store/schema.def).
 *
 * One connection per handle (one thread at a time). Every statement with
 * data goes through PQprepare/PQexecPrepared with text parameters: data is
 * never interpolated into SQL. Statements are prepared on first use and
 * kept per connection, by their text ("?" placeholders become "$N").
 * Bulk loads use COPY ... FROM STDIN (text format, escaped). Migrations run
 * under an advisory lock so concurrent openers serialise. Identifiers of
 * customers, segments and kinds sort byte-wise (COLLATE "C") as on SQLite.
 *
 * Reference: PostgreSQL 15 documentation, chapter 34 (libpq), COPY.
 */
#include "store_int.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pq_lazy.h" /* libpq, opened on the first connection */

/* Key of the advisory lock that serialises migrations ("tessera"). */
#define PG_MIGRATE_LOCK "7465737365726101"

#define STMT_CACHE 192 /* statements kept prepared per connection */

typedef struct pg {
  tsr__db base;
  PGconn *c;
  uint64_t hash[STMT_CACHE];
  char *sql[STMT_CACHE]; /* prepared as "q<i>" */
  int nq;
} pg;

/* ================================================================ errors */

/* Copies libpq's message (without "ERROR:" and trailing newline) at once. */
static tsr_status pg_fail(pg *q, const PGresult *r, const char *what, tsr_error *err) {
  const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  char buf[512];
  snprintf(buf, sizeof buf, "%s", m ? m : PQerrorMessage(q->c));
  size_t n = strlen(buf);
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = '\0';
  return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: %s", what, buf);
}

/* The last element of the key named in a unique violation's detail
 * "Key (run_id, customer_id)=(7, C1) already exists.", into buf. */
static void dup_key(const PGresult *r, char *buf, size_t cap) {
  buf[0] = '\0';
  const char *d = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
  const char *s = d ? strstr(d, ")=(") : NULL;
  const char *e = d ? strstr(d, ") already exists") : NULL;
  if (!s || !e || e < s) return;
  s = strstr(s, ", ");
  if (!s || s > e) return;
  s += 2;
  snprintf(buf, cap, "%.*s", (int)(e - s), s);
}

/* The failure of r into err and out (violation class, key). */
static tsr_status pg_fail_out(pg *q, const PGresult *r, tsr__exec_out *out, const char *what,
                              tsr_error *err) {
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  if (out && state && !strncmp(state, "23", 2)) {
    out->violation = !strcmp(state, "23505")   ? TSR__VIOL_UNIQUE
                     : !strcmp(state, "23503") ? TSR__VIOL_FK
                                               : TSR__VIOL_OTHER;
    if (out->violation == TSR__VIOL_UNIQUE) dup_key(r, out->key, sizeof out->key);
  }
  return pg_fail(q, r, what, err);
}

/* ================================================================ values */

/* Text parameters: NULL = SQL NULL; numbers written into num. Small
 * statements keep them on the stack. */
typedef struct ptext {
  const char *v_[24], **v;
  char num_[24][32], (*num)[32];
} ptext;

/* A double at 17 significant digits (exact round trip). */
static int fmt_dbl(char *buf, size_t cap, double x) {
  if (isinf(x)) return snprintf(buf, cap, "%s", x > 0 ? "Infinity" : "-Infinity");
  return snprintf(buf, cap, "%.17g", x);
}

/* Text form of value p (NULL for SQL NULL); numbers written into num. */
static const char *val_text(const tsr__val *p, char num[32]) {
  switch (p->t) {
    case TSR__V_I64: snprintf(num, 32, "%" PRId64, p->i); return num;
    case TSR__V_DBL:
      if (isnan(p->d)) return NULL;
      fmt_dbl(num, 32, p->d);
      return num;
    case TSR__V_TEXT: return p->s;
    default: return NULL;
  }
}

/* A copy of sql, then (after its NUL) the same text with "?" and "?N"
 * placeholders written "$N": one allocation, freed as one. */
static char *with_numbered(const char *sql, const char **numbered) {
  size_t len = strlen(sql), k = 0;
  for (const char *s = sql; *s; s++) k += *s == '?';
  char *out = tsr__malloc(2 * len + 2 + 8 * k);
  if (!out) return NULL;
  memcpy(out, sql, len + 1);
  char *o = out + len + 1;
  *numbered = o;
  int n = 0;
  for (const char *s = sql; *s; s++) {
    if (*s != '?')
      *o++ = *s;
    else if (s[1] >= '0' && s[1] <= '9')
      *o++ = '$';
    else
      o += sprintf(o, "$%d", ++n);
  }
  *o = '\0';
  return out;
}

/* Runs sql with p: prepared once per connection (a full cache runs it as an
 * unnamed statement, parameters still bound). NULL on a failure to prepare
 * (message in err). */
static PGresult *pg_run(pg *q, const char *sql, const tsr__val *p, int np, const char *what,
                        tsr_error *err) {
  ptext small, *t = &small;
  small.v = small.v_;
  small.num = small.num_;
  if (np > (int)TSR__ARRAY_LEN(small.v_) && !(t = tsr__malloc(sizeof *t + (size_t)np * 40))) {
    tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "store: %s: out of memory", what);
    return NULL;
  }
  if (t != &small) {
    t->v = (const char **)(t + 1);
    t->num = (char(*)[32])(t->v + np);
  }
  for (int i = 0; i < np; i++) t->v[i] = val_text(&p[i], t->num[i]);
  uint64_t h = tsr__sql_hash(sql);
  int i = 0;
  while (i < q->nq && (q->hash[i] != h || strcmp(q->sql[i], sql) != 0)) i++;
  PGresult *r = NULL;
  char name[16];
  snprintf(name, sizeof name, "q%d", i);
  if (i == q->nq) {
    const char *numbered = NULL;
    char *copy = with_numbered(sql, &numbered);
    if (!copy) {
      if (t != &small) tsr__free(t);
      tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "store: %s: out of memory", what);
      return NULL;
    }
    if (q->nq < STMT_CACHE) {
      r = PQprepare(q->c, name, numbered, 0, NULL);
      if (PQresultStatus(r) == PGRES_COMMAND_OK) {
        PQclear(r);
        r = NULL;
        q->hash[q->nq] = h;
        q->sql[q->nq++] = copy;
        copy = NULL;
      }
    } else {
      r = PQexecParams(q->c, numbered, np, NULL, t->v, NULL, NULL, 0);
    }
    tsr__free(copy);
  }
  if (!r) r = PQexecPrepared(q->c, name, np, t->v, NULL, NULL, 0);
  if (t != &small) tsr__free(t);
  return r;
}

/* ================================================================ statements */

static tsr_status pg_script(tsr__db *db, const char *sql, const char *what, tsr_error *err) {
  pg *q = (pg *)db;
  PGresult *r = PQexec(q->c, sql);
  ExecStatusType es = PQresultStatus(r);
  tsr_status st = TSR_OK;
  if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) st = pg_fail(q, r, what, err);
  PQclear(r);
  return st;
}

static tsr_status pg_exec(tsr__db *db, const char *sql, const tsr__val *p, int np,
                          tsr__exec_out *out, const char *what, tsr_error *err) {
  pg *q = (pg *)db;
  if (out) memset(out, 0, sizeof *out);
  PGresult *r = pg_run(q, sql, p, np, what, err);
  if (!r) return err ? err->code : TSR_ESTORE;
  ExecStatusType es = PQresultStatus(r);
  tsr_status st = TSR_OK;
  if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
    st = pg_fail_out(q, r, out, what, err);
  } else if (out) {
    const char *t = PQcmdTuples(r);
    out->changed = t && *t ? strtoll(t, NULL, 10) : 0;
    if (es == PGRES_TUPLES_OK && PQntuples(r) > 0) {
      out->have_id = 1;
      out->id = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    }
  }
  PQclear(r);
  return st;
}

/* The whole result is fetched before callbacks run, so a callback may call
 * back into the store. */
static tsr_status pg_query(tsr__db *db, const char *sql, const tsr__val *p, int np,
                           tsr__row_fn row, void *ctx, int64_t *found, const char *what,
                           tsr_error *err) {
  pg *q = (pg *)db;
  PGresult *r = pg_run(q, sql, p, np, what, err);
  if (!r) return err ? err->code : TSR_ESTORE;
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    tsr_status st = pg_fail(q, r, what, err);
    PQclear(r);
    return st;
  }
  int n = PQntuples(r);
  if (found) *found = n;
  tsr__cur c = {db->m, r, 0};
  for (c.row = 0; c.row < n; c.row++)
    if (row(ctx, &c)) break;
  PQclear(r);
  return TSR_OK;
}

static int pg_isnull(const tsr__cur *c, int i) { return PQgetisnull(c->h, c->row, i); }
static int64_t pg_i64(const tsr__cur *c, int i) {
  return strtoll(PQgetvalue(c->h, c->row, i), NULL, 10);
}
static double pg_dbl(const tsr__cur *c, int i) { return strtod(PQgetvalue(c->h, c->row, i), NULL); }
static const char *pg_text(const tsr__cur *c, int i) { return PQgetvalue(c->h, c->row, i); }

/* ---------------------------------------------------------------- COPY */

/* A growing COPY buffer. */
typedef struct cbuf {
  char *p;
  size_t n, cap;
  int oom;
} cbuf;

static void cb_put(cbuf *b, const char *s, size_t len) {
  if (b->oom) return;
  if (b->n + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->n + len + 1) cap *= 2;
    char *np = tsr__realloc(b->p, cap);
    if (!np) {
      b->oom = 1;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, len);
  b->n += len;
}

/* Appends a field in COPY text format: \N for NULL, text escaped. */
static void cb_val(cbuf *b, const tsr__val *v) {
  char num[32];
  const char *s = val_text(v, num);
  if (!s) {
    cb_put(b, "\\N", 2);
    return;
  }
  const char *run = s;
  for (; *s; s++) {
    const char *esc = NULL;
    switch (*s) {
      case '\\': esc = "\\\\"; break;
      case '\n': esc = "\\n"; break;
      case '\r': esc = "\\r"; break;
      case '\t': esc = "\\t"; break;
      default: break;
    }
    if (!esc) continue;
    cb_put(b, run, (size_t)(s - run));
    cb_put(b, esc, 2);
    run = s + 1;
  }
  cb_put(b, run, (size_t)(s - run));
}

#define COPY_CHUNK (1 << 20) /* bytes per PQputCopyData */

static tsr_status pg_copy(tsr__db *db, const char *table, const char *cols, int ncols, size_t n,
                          tsr__rowvals_fn vals, void *ctx, tsr__exec_out *out, const char *what,
                          tsr_error *err) {
  pg *q = (pg *)db;
  if (out) memset(out, 0, sizeof *out);
  char sql[1200];
  snprintf(sql, sizeof sql, "COPY %s (%s) FROM STDIN", table, cols);
  PGresult *r = PQexec(q->c, sql);
  if (PQresultStatus(r) != PGRES_COPY_IN) {
    tsr_status st = pg_fail(q, r, what, err);
    PQclear(r);
    return st;
  }
  PQclear(r);
  tsr__val v[64];
  cbuf b = {0};
  const char *abort_msg = ncols > 64 ? "too many columns" : NULL;
  for (size_t i = 0; !abort_msg && i < n; i++) {
    vals(ctx, i, v);
    for (int k = 0; k < ncols; k++) {
      if (k) cb_put(&b, "\t", 1);
      cb_val(&b, &v[k]);
    }
    cb_put(&b, "\n", 1);
    if (b.oom) {
      abort_msg = "out of memory";
      break;
    }
    if (b.n >= COPY_CHUNK || i + 1 == n) {
      if (PQputCopyData(q->c, b.p, (int)b.n) != 1) abort_msg = "send failed";
      b.n = 0;
    }
  }
  tsr__free(b.p);
  if (PQputCopyEnd(q->c, abort_msg) != 1 && !abort_msg) abort_msg = "send failed";
  /* drain every result to NULL */
  PGresult *bad = NULL;
  while ((r = PQgetResult(q->c)) != NULL) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK && !bad)
      bad = r;
    else
      PQclear(r);
  }
  tsr_status st = TSR_OK;
  if (b.oom)
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "store: %s: out of memory", what);
  else if (bad)
    st = pg_fail_out(q, bad, out, what, err);
  else if (abort_msg)
    st = tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: %s", what, abort_msg);
  PQclear(bad);
  return st;
}

/* ================================================================ transactions */

static int pg_in_transaction(tsr__db *db) {
  return PQtransactionStatus(((pg *)db)->c) != PQTRANS_IDLE;
}
static tsr_status pg_begin(tsr__db *db, tsr_error *err) { return pg_script(db, "BEGIN", "begin", err); }
static tsr_status pg_commit(tsr__db *db, tsr_error *err) {
  int aborted = PQtransactionStatus(((pg *)db)->c) == PQTRANS_INERROR;
  tsr_status st = pg_script(db, "COMMIT", "commit", err);
  if (st == TSR_OK && aborted)
    return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL,
                         "store: commit: the transaction failed and was rolled back");
  return st;
}
static tsr_status pg_rollback(tsr__db *db, tsr_error *err) {
  return pg_script(db, "ROLLBACK", "rollback", err);
}

/* ================================================================ open, catalog, size */

static void quiet_notices(void *arg, const char *message) {
  (void)arg;
  (void)message; /* the library never prints */
}

static void pg_close(tsr__db *db) {
  pg *q = (pg *)db;
  if (!q) return;
  if (q->c) {
    if (PQstatus(q->c) == CONNECTION_OK && pg_in_transaction(db)) PQclear(PQexec(q->c, "ROLLBACK"));
    PQfinish(q->c);
  }
  for (int i = 0; i < q->nq; i++) tsr__free(q->sql[i]);
  tsr__free(q->base.label);
  tsr__free(q);
}

static tsr_status pg_open(const char *target, unsigned flags, tsr__db **out, tsr_error *err) {
  (void)flags;
  *out = NULL;
  pg *q = tsr__calloc(1, sizeof *q);
  size_t cap = strlen(target) + 1;
  if (q) q->base.label = tsr__malloc(cap);
  if (!q || !q->base.label) {
    tsr__free(q);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "store: open: out of memory");
  }
  tsr_store_url_display(target, q->base.label, cap); /* messages never echo the password */
  q->base.m = &tsr__store_pg_methods;
  q->c = PQconnectdb(target);
  if (!q->c || PQstatus(q->c) != CONNECTION_OK) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", q->c ? PQerrorMessage(q->c) : tsr__pq_why());
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = '\0';
    tsr_status st = tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: open %s: %s",
                                  q->base.label, buf);
    pg_close(&q->base);
    return st;
  }
  PQsetNoticeProcessor(q->c, quiet_notices, NULL);
  char what[300];
  snprintf(what, sizeof what, "open %s", q->base.label);
  tsr_status st = pg_script(&q->base, "SET client_min_messages = warning", what, err);
  if (st == TSR_OK) st = pg_script(&q->base, "SET extra_float_digits = 3", what, err);
  if (st != TSR_OK) {
    pg_close(&q->base);
    return st;
  }
  *out = &q->base;
  return TSR_OK;
}

static tsr_status pg_lock_schema(tsr__db *db, tsr_error *err) {
  return pg_script(db, "SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK ")", "migrate", err);
}

static tsr_status pg_size(tsr__db *db, tsr_store_stats *out, tsr_error *err) {
  snprintf(out->journal_mode, sizeof out->journal_mode, "wal");
  return tsr__one_i64(db, "SELECT pg_database_size(current_database())", NULL, 0, &out->size_bytes,
                      "stats", err);
}

#define IDENTITY "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
#define IN_SCHEMA "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"

const tsr_store_methods tsr__store_pg_methods = {
    .version = TSR_STORE_METHODS_VERSION,
    .name = "postgresql",
    /* ID, ROWID, I64, INT, DBL, TEXT, TEXTC */
    .type_sql = {IDENTITY, IDENTITY, "BIGINT", "INTEGER", "DOUBLE PRECISION", "TEXT",
                 "TEXT COLLATE \"C\""},
    .rowid = "id", .without_rowid = "", .no_limit = "LIMIT ALL", .least = "least",
    .greatest = "greatest", .trunc_int = "trunc(%s)::bigint", .stmt_savepoint = 1,
    .catalog_has = IN_SCHEMA " AND tablename = ?", .catalog_all = IN_SCHEMA,
    .lock_schema = pg_lock_schema, .copy = pg_copy,
    TSR__BACKEND_FUNCS(pg),
    .begin_write = "BEGIN",
};
