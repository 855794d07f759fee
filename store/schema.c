/*
 * schema.c - what store/schema.def generates: the table descriptors, the
 * DDL of each migration in the back end's dialect, INSERT and SELECT column
 * lists, the values bound from a row struct and the mapping of a result row
 * back into it, and the one migration runner (versions recorded in the
 * schema_version table).
 */
#include "store_int.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/store_act.h"
#include "tessera/store_events.h"
#include "tessera/store_web.h"

/* ================================================================ descriptors */

typedef struct tsr__norow {
  char none;
} tsr__norow;

/* the row type of each table, for offsetof */
#define TABLE(name, ctype, since, flags, cons) typedef ctype row_##name;
#include "schema.def"

#define COL(t, name, type, map, field, arg, flags, cons, since)                                   \
  {#name, TSR__T_##type, TSR__M_##map, offsetof(row_##t, field), sizeof(((row_##t *)0)->field),  \
   arg, flags, cons, since},
#define DCOL(t, name, type, cons, since) {#name, TSR__T_##type, TSR__M_NONE, 0, 0, 0, TSR__CF_DB, cons, since},
#define XCOL(t, expr, map, field)                                                                 \
  {expr, TSR__T_TEXT, TSR__M_##map, offsetof(row_##t, field), sizeof(((row_##t *)0)->field), 0,   \
   TSR__CF_EXPR | TSR__CF_NOINS, "", 0},
static const tsr__col all_cols[] = {
#include "schema.def"
};

/* the table of each column of all_cols */
static const unsigned char col_table[] = {
#define COL(t, ...) TSR__TBL_##t,
#define DCOL(t, ...) TSR__TBL_##t,
#define XCOL(t, ...) TSR__TBL_##t,
#include "schema.def"
};

/* The tables; cols/ncols are filled from all_cols (listed table by table). */
tsr__table tsr__tables[TSR__TBL_COUNT] = {
#define TABLE(name, ctype, since, flags, cons) {#name, sizeof(ctype), since, flags, cons, NULL, 0, ""},
#include "schema.def"
};

typedef struct index_def {
  const char *name;
  int table;
  const char *spec;
  int unique, since;
} index_def;

static const index_def indexes[] = {
#define INDEX(name, t, spec, unique, since) {#name, TSR__TBL_##t, spec, unique, since},
#include "schema.def"
};

typedef struct migration_def {
  int version;
  const char *description;
} migration_def;

static const migration_def migrations[] = {
#define MIGRATION(v, d) {v, d},
#include "schema.def"
};

#define LATEST_VERSION (migrations[TSR__ARRAY_LEN(migrations) - 1].version)

int tsr_store_schema_latest(void) { return LATEST_VERSION; }

/* Fills the column ranges once (before main, no threads yet). */
__attribute__((constructor)) static void tables_init(void) {
  for (size_t i = 0; i < TSR__ARRAY_LEN(all_cols); i++) {
    tsr__table *t = &tsr__tables[col_table[i]];
    if (!t->cols) t->cols = &all_cols[i];
    t->ncols++;
  }
  for (int k = 0; k < TSR__TBL_COUNT; k++)
    tsr__select_cols(&tsr__tables[k], "", tsr__tables[k].select, sizeof tsr__tables[k].select);
}

/* ================================================================ SQL text */

/* Appends printf output to buf (of cap) at *o; *o past cap marks overflow. */
static void put(char *buf, size_t cap, size_t *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t cap, size_t *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(*o < cap ? buf + *o : NULL, *o < cap ? cap - *o : 0, fmt, ap);
  va_end(ap);
  if (k > 0) *o += (size_t)k;
}

static int readable(const tsr__col *c) { return c->map != TSR__M_NONE; }

const char *tsr__select_cols(const tsr__table *t, const char *prefix, char *buf, size_t cap) {
  size_t o = 0;
  buf[0] = '\0';
  for (int i = 0; i < t->ncols; i++) {
    const tsr__col *c = &t->cols[i];
    if (!readable(c)) continue;
    put(buf, cap, &o, "%s%s%s", o ? ", " : "", c->flags & TSR__CF_EXPR ? "" : prefix, c->name);
  }
  return o < cap ? buf : NULL;
}

int tsr__select_ncols(const tsr__table *t) {
  int n = 0;
  for (int i = 0; i < t->ncols; i++) n += readable(&t->cols[i]);
  return n;
}

void tsr__row_read(const tsr__table *t, const tsr__cur *c, int first, void *row) {
  int k = first;
  char *base = row;
  for (int i = 0; i < t->ncols; i++) {
    const tsr__col *col = &t->cols[i];
    if (!readable(col)) continue;
    void *f = base + col->off;
    int64_t dflt = col->arg == TSR__ALWAYS ? 0 : col->arg - 1;
    switch (col->map) {
      case TSR__M_I64: {
        int64_t v = tsr__cur_i64(c, k, dflt);
        memcpy(f, &v, sizeof v);
        break;
      }
      case TSR__M_INT: {
        int v = (int)tsr__cur_i64(c, k, dflt);
        memcpy(f, &v, sizeof v);
        break;
      }
      case TSR__M_DBL: {
        double v = tsr__cur_dbl(c, k);
        memcpy(f, &v, sizeof v);
        break;
      }
      case TSR__M_TEXT: {
        const char *v = tsr__cur_text(c, k);
        memcpy(f, &v, sizeof v);
        break;
      }
      case TSR__M_CHARS: {
        const char *v = tsr__cur_text(c, k);
        snprintf(f, col->size, "%s", v ? v : "");
        break;
      }
      case TSR__M_STATUS: {
        tsr_run_status v = TSR_RUN_FAILED;
        tsr_run_status_parse(tsr__cur_text(c, k), &v);
        memcpy(f, &v, sizeof v);
        break;
      }
      case TSR__M_LEVEL: {
        tsr_log_level v = TSR_LOG_INFO;
        tsr_log_level_parse(tsr__cur_text(c, k), &v);
        memcpy(f, &v, sizeof v);
        break;
      }
      default: break;
    }
    k++;
  }
}

static int insertable(const tsr__col *c) {
  return !(c->flags & (TSR__CF_NOINS | TSR__CF_DB)) && c->map != TSR__M_NONE;
}

const char *tsr__insert_sql(const tsr__table *t, int nlead, int nrows, const char *tail, char *buf,
                            size_t cap, int *ncols) {
  size_t o = 0;
  int n = 0, lead = 0;
  put(buf, cap, &o, "INSERT INTO %s(", t->name);
  for (int i = 0; i < t->ncols; i++) {
    const tsr__col *c = &t->cols[i];
    int use = (c->flags & TSR__CF_DB) ? lead++ < nlead : insertable(c);
    if (use) put(buf, cap, &o, "%s%s", n++ ? ", " : "", c->name);
  }
  put(buf, cap, &o, ") VALUES ");
  for (int r = 0; r < nrows; r++) {
    put(buf, cap, &o, "%s(", r ? ", " : "");
    for (int i = 0; i < n; i++) put(buf, cap, &o, i ? ", ?" : "?");
    put(buf, cap, &o, ")");
  }
  if (tail) put(buf, cap, &o, " %s", tail);
  *ncols = n;
  return o < cap ? buf : NULL;
}

int tsr__row_vals(const tsr__table *t, const tsr__val *lead, int nlead, const void *row,
                  tsr__val *out) {
  int n = 0, k = 0;
  const char *base = row;
  for (int i = 0; i < t->ncols; i++) {
    const tsr__col *c = &t->cols[i];
    if (c->flags & TSR__CF_DB) {
      if (k < nlead) out[n++] = lead[k++];
      continue;
    }
    if (!insertable(c)) continue;
    const void *f = base + c->off;
    tsr__val v = TSR__VNULL;
    switch (c->map) {
      case TSR__M_I64: {
        int64_t x;
        memcpy(&x, f, sizeof x);
        if (c->arg == TSR__ALWAYS || x >= c->arg) v = TSR__VI(x);
        break;
      }
      case TSR__M_INT: {
        int x;
        memcpy(&x, f, sizeof x);
        if (c->arg == TSR__ALWAYS || x >= c->arg) v = TSR__VI(x);
        break;
      }
      case TSR__M_DBL: {
        double x;
        memcpy(&x, f, sizeof x);
        if (!isnan(x) && !(c->arg == TSR__NONNEG && x < 0)) v = TSR__VD(x);
        break;
      }
      case TSR__M_TEXT: {
        const char *x;
        memcpy(&x, f, sizeof x);
        v = TSR__VT(x);
        break;
      }
      case TSR__M_CHARS:
        if (*(const char *)f) v = TSR__VT((const char *)f);
        break;
      case TSR__M_STATUS: {
        tsr_run_status x;
        memcpy(&x, f, sizeof x);
        v = TSR__VT(tsr_run_status_name(x));
        break;
      }
      case TSR__M_LEVEL: {
        tsr_log_level x;
        memcpy(&x, f, sizeof x);
        v = TSR__VT(tsr_log_level_name(x));
        break;
      }
      default: break;
    }
    out[n++] = v;
  }
  return n;
}

tsr_status tsr__insert(tsr__db *db, const tsr__table *t, const tsr__val *lead, int nlead,
                       const void *row, int want_id, tsr__exec_out *out, const char *what,
                       tsr_error *err) {
  char sql[1024];
  tsr__val v[64];
  int ncols;
  if (out) memset(out, 0, sizeof *out);
  if (!tsr__insert_sql(t, nlead, 1, want_id ? "RETURNING id" : NULL, sql, sizeof sql, &ncols) ||
      ncols > (int)TSR__ARRAY_LEN(v))
    return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: statement too long", what);
  tsr__row_vals(t, lead, nlead, row, v);
  return tsr__write(db, sql, v, ncols, out, what, err);
}

tsr_status tsr__insert_rows(tsr__db *db, const tsr__table *t, const void *rows, size_t n,
                            size_t stride, const char *what, tsr_error *err) {
  enum { MAXV = 1024 };
  char one[1024], many[16384];
  tsr__val v[MAXV];
  int ncols;
  if (!tsr__insert_sql(t, 0, 1, NULL, one, sizeof one, &ncols) || ncols > 64)
    return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: statement too long", what);
  /* full groups of per rows share one statement text (prepared once) */
  int per = MAXV / ncols < 32 ? MAXV / ncols : 32;
  if (!tsr__insert_sql(t, 0, per, NULL, many, sizeof many, &ncols)) per = 1;
  const char *base = rows;
  size_t i = 0;
  tsr_status st = TSR_OK;
  for (; st == TSR_OK && per > 1 && n - i >= (size_t)per; i += (size_t)per) {
    for (int k = 0; k < per; k++) tsr__row_vals(t, NULL, 0, base + (i + (size_t)k) * stride, v + k * ncols);
    st = db->m->exec(db, many, v, per * ncols, NULL, what, err);
  }
  for (; st == TSR_OK && i < n; i++) {
    tsr__row_vals(t, NULL, 0, base + i * stride, v);
    st = db->m->exec(db, one, v, ncols, NULL, what, err);
  }
  return st;
}

/* ================================================================ DDL */

static void ddl_col(const tsr_store_methods *m, const tsr__col *c, char *buf, size_t cap,
                    size_t *o) {
  put(buf, cap, o, "%s %s%s", c->name, m->type_sql[c->type], c->constraints);
}

/* CREATE TABLE of t (columns created with it: since <= upto) and its indexes. */
static void ddl_table(const tsr_store_methods *m, const tsr__table *t, int upto, int if_not,
                      char *buf, size_t cap, size_t *o) {
  put(buf, cap, o, "CREATE TABLE %s%s (\n", if_not ? "IF NOT EXISTS " : "", t->name);
  int n = 0;
  for (int i = 0; i < t->ncols; i++) {
    const tsr__col *c = &t->cols[i];
    if ((c->flags & TSR__CF_EXPR) || c->since > upto || !m->type_sql[c->type]) continue;
    put(buf, cap, o, "%s  ", n++ ? ",\n" : "");
    ddl_col(m, c, buf, cap, o);
  }
  if (*t->constraints) put(buf, cap, o, ",\n  %s", t->constraints);
  put(buf, cap, o, "\n)%s;\n", t->flags & TSR__TF_WITHOUT_ROWID ? m->without_rowid : "");
}

static void ddl_index(const index_def *x, int if_not, char *buf, size_t cap, size_t *o) {
  put(buf, cap, o, "CREATE %sINDEX %s%s ON %s%s;\n", x->unique ? "UNIQUE " : "",
      if_not ? "IF NOT EXISTS " : "", x->name, tsr__tables[x->table].name, x->spec);
}

/* The DDL of migration v into buf. */
static void ddl_version(const tsr_store_methods *m, int v, char *buf, size_t cap, size_t *o) {
  for (int k = 0; k < TSR__TBL_COUNT; k++) {
    const tsr__table *t = &tsr__tables[k];
    if (t->since == v) {
      ddl_table(m, t, v, 0, buf, cap, o);
      for (size_t i = 0; i < TSR__ARRAY_LEN(indexes); i++)
        if (indexes[i].table == k && indexes[i].since == v) ddl_index(&indexes[i], 0, buf, cap, o);
      continue;
    }
    if (t->since == 0 || t->since > v) continue;
    for (int i = 0; i < t->ncols; i++) {
      const tsr__col *c = &t->cols[i];
      if (c->since != v || (c->flags & TSR__CF_EXPR)) continue;
      put(buf, cap, o, "ALTER TABLE %s ADD COLUMN ", t->name);
      ddl_col(m, c, buf, cap, o);
      put(buf, cap, o, ";\n");
    }
  }
  for (size_t i = 0; i < TSR__ARRAY_LEN(indexes); i++) /* on tables of earlier versions */
    if (indexes[i].since == v && tsr__tables[indexes[i].table].since != v)
      ddl_index(&indexes[i], 0, buf, cap, o);
}

tsr_status tsr__table_ensure(tsr__db *db, const tsr__table *t, tsr_error *err) {
  char buf[4096];
  size_t o = 0;
  ddl_table(db->m, t, 0, 1, buf, sizeof buf, &o);
  for (size_t i = 0; i < TSR__ARRAY_LEN(indexes); i++)
    if (&tsr__tables[indexes[i].table] == t) ddl_index(&indexes[i], 1, buf, sizeof buf, &o);
  char what[80];
  snprintf(what, sizeof what, "create %s", t->name);
  if (o >= sizeof buf)
    return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: DDL too long", what);
  return db->m->script(db, buf, what, err);
}

/* ================================================================ migrations */

/* *ours: the schema_version table exists; *others: objects in the database. */
static tsr_status catalog(tsr__db *db, int *ours, int64_t *others, tsr_error *err) {
  int64_t n = 0;
  tsr__val p = TSR__VT("schema_version");
  tsr_status st = tsr__one_i64(db, db->m->catalog_has, &p, 1, &n, "read schema", err);
  *ours = n > 0;
  if (st == TSR_OK) st = tsr__one_i64(db, db->m->catalog_all, NULL, 0, others, "read schema", err);
  return st;
}

tsr_status tsr__schema_version(tsr__db *db, int *version, tsr_error *err) {
  *version = 0;
  int ours = 0;
  int64_t others = 0;
  tsr_status st = catalog(db, &ours, &others, err);
  if (st || !ours) return st;
  int64_t v = 0;
  st = tsr__one_i64(db, "SELECT coalesce(max(version), 0) FROM schema_version", NULL, 0, &v,
                    "read schema version", err);
  if (st == TSR_OK) *version = (int)v;
  return st == TSR_ENOTFOUND ? TSR_OK : st;
}

static tsr_status too_new(tsr__db *db, int v, tsr_error *err) {
  return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL,
                       "store: %s: schema version %d is newer than this tessera supports (%d)",
                       db->label, v, LATEST_VERSION);
}

tsr_status tsr__schema_migrate(tsr__db *db, int *version, tsr_error *err) {
  const tsr_store_methods *m = db->m;
  if (m->in_transaction(db))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "store: migrate: not allowed inside a transaction");
  /* the write transaction (and the back end's lock) serialises concurrent
   * migrators; the version is read again under it */
  tsr_status st = m->script(db, m->begin_write, "migrate", err);
  if (st) return st;
  if (m->lock_schema) st = m->lock_schema(db, err);
  if (st == TSR_OK) st = tsr__table_ensure(db, TSR__TABLE(schema_version), err);
  int cur = 0;
  if (st == TSR_OK) st = tsr__schema_version(db, &cur, err);
  if (st == TSR_OK && cur > LATEST_VERSION) st = too_new(db, cur, err);
  for (size_t i = 0; st == TSR_OK && i < TSR__ARRAY_LEN(migrations); i++) {
    const migration_def *g = &migrations[i];
    if (g->version <= cur) continue;
    char what[64];
    snprintf(what, sizeof what, "migrate to version %d", g->version);
    size_t cap = 16384, o = 0;
    char *ddl = tsr__malloc(cap);
    if (!ddl) {
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "store: %s: out of memory", what);
      break;
    }
    ddl_version(m, g->version, ddl, cap, &o);
    st = o < cap ? m->script(db, ddl, what, err)
                 : tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: %s: DDL too long", what);
    tsr__free(ddl);
    if (st) break;
    tsr__val p[3] = {TSR__VI(g->version), TSR__VI(tsr_store_now_ms()), TSR__VT(g->description)};
    st = m->exec(db, "INSERT INTO schema_version(version, applied_at, description) VALUES (?, ?, ?)",
                 p, 3, NULL, what, err);
    cur = g->version;
  }
  st = tsr__wr_end(db, 0, st, "migrate", err);
  if (st == TSR_OK && version) *version = cur;
  return st;
}

tsr_status tsr__schema_open(tsr__db *db, unsigned flags, tsr_error *err) {
  int ours = 0;
  int64_t others = 0;
  tsr_status st = catalog(db, &ours, &others, err);
  if (st == TSR_OK && !ours && others > 0)
    return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL,
                         "store: open %s: not a tessera database (no schema_version table)",
                         db->label);
  int v = 0;
  if (st == TSR_OK) st = tsr__schema_version(db, &v, err);
  if (st != TSR_OK) return st;
  if (flags & TSR_STORE_NO_MIGRATE) return v > LATEST_VERSION ? too_new(db, v, err) : TSR_OK;
  if (v != LATEST_VERSION) st = tsr__schema_migrate(db, &v, err);
  return st;
}
