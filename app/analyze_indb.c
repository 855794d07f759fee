/*
 * analyze_indb.c - the ledger of `tessera analyze --in-db TABLE` computed
 * where the data is (issue 16, docs/pg-extension.md "analyze --in-db").
 *
 * The PostgreSQL server groups the table by (customer, UTC day) and returns
 * one row per customer-day: purchase count and sum, refund count and sum,
 * and the counts of rows it cannot use (NULL customer, date or amount, an
 * amount beyond the plausible bound). The query groups by the customer
 * column itself, so on a table hash-partitioned by customer over
 * postgres_fdw shards (scripts/pg-cluster.sh) PostgreSQL pushes the whole
 * aggregation to each shard (partition-wise aggregate): raw rows never
 * leave the servers, only customer-day rows do.
 *
 * Those rows fill the ledger through the public ingest API (ledger_feed.h),
 * so same-day merging, refunds, the calibration window and the customer
 * order are exactly those of `tessera analyze` on the exported file, with
 * the same counts and sums, except that the database adds a day's amounts
 * in its own order (exactly for numeric columns), where the file path adds
 * doubles in file order: a day with several purchases may differ in the
 * last bit.
 *
 * Column names resolve as in the CSV path (a header line made of the
 * table's column names goes through the same matcher), the date column
 * must be date, timestamp or timestamptz (timestamptz: the UTC day), the
 * amount column numeric. Not applied in the database: transaction-id
 * deduplication and identical-row detection (see the docs).
 */
#include "internal.h"
#include "base/textbuf.h"
#include "tessera/datetime.h"
#include "tessera/ingest.h"
#include "tessera/store.h"
#include "ledger_feed.h"

#include "pq_lazy.h" /* libpq, opened on the first connection */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct indb {
  PGconn *c;
  const char *table;           /* as the user named it (messages) */
  const tsr_ingest_opts *io;   /* the caller's options and callbacks */
  tsr__lfeed feed;             /* the ledger being filled */
  tsr_ingest_stats sql;        /* rows the database could not use */
} indb;

static void quiet_notices(void *arg, const char *message) {
  (void)arg;
  (void)message; /* the library never prints */
}

/* libpq's message of r (or of the connection) without the final newline. */
static tsr_status pg_error(indb *d, PGresult *r, const char *what, tsr_error *err) {
  char msg[512];
  snprintf(msg, sizeof msg, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(d->c));
  if (!msg[0]) snprintf(msg, sizeof msg, "%s", PQerrorMessage(d->c));
  size_t n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) msg[--n] = '\0';
  return tsr_error_set(err, TSR_ESTORE, d->table, 0, 0, NULL, "%s: %s", what, msg);
}

/* Rows the database could not use: n rejects with reason, counted as read. */
static void sql_reject(indb *d, int64_t n, const char *field, const char *reason) {
  d->sql.rows_read += n;
  d->sql.rows_rejected += n;
  if (!d->io->on_reject) return;
  tsr_reject r = {TSR_EPARSE, d->table, 0, 0, field, reason, "", 0};
  for (int64_t i = 0; i < n; i++) d->io->on_reject(d->io->ud, &r);
}

/* ------------------------------------------------------------ the query */

typedef struct colinfo {
  char name[64];
  char type[64];     /* typname: date, timestamptz, numeric, ... */
  char category;     /* typcategory: N numeric, D date/time, ... */
} colinfo;

/* The table's columns in order; *n of them (at most cap). */
static tsr_status table_columns(indb *d, const char *regclass, colinfo *cols, size_t cap,
                                size_t *n, tsr_error *err) {
  const char *p[1] = {regclass};
  PGresult *r = PQexecParams(d->c,
                             "SELECT a.attname, t.typname, t.typcategory FROM pg_attribute a"
                             " JOIN pg_type t ON t.oid = a.atttypid"
                             " WHERE a.attrelid = $1::regclass AND a.attnum > 0"
                             " AND NOT a.attisdropped ORDER BY a.attnum",
                             1, NULL, p, NULL, NULL, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    tsr_status st = pg_error(d, r, "read the columns", err);
    PQclear(r);
    return st;
  }
  *n = 0;
  for (int i = 0; i < PQntuples(r) && *n < cap; i++, (*n)++) {
    snprintf(cols[*n].name, sizeof cols[0].name, "%s", PQgetvalue(r, i, 0));
    snprintf(cols[*n].type, sizeof cols[0].type, "%s", PQgetvalue(r, i, 1));
    cols[*n].category = PQgetvalue(r, i, 2)[0];
  }
  PQclear(r);
  return TSR_OK;
}

/* Resolves the customer, date and amount columns as the CSV reader would
 * resolve them in a file whose header is the table's column names. */
static tsr_status resolve_columns(indb *d, const colinfo *cols, size_t n, char names[3][64],
                                  tsr_error *err) {
  tsr__tb h = {0};
  for (size_t i = 0; i < n; i++) {
    tsr__tb_printf(&h, "%s\"", i ? "," : "");
    for (const char *p = cols[i].name; *p; p++) tsr__tb_printf(&h, *p == '"' ? "\"\"" : "%c", *p);
    tsr__tb_printf(&h, "\"");
  }
  tsr__tb_printf(&h, "\n");
  char *hdr = tsr__tb_take(&h);
  if (!hdr) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  tsr_ingest_opts o = *d->io;
  tsr_csv_opts_init(&o.csv);
  o.header = 1;
  o.on_reject = NULL;
  o.on_progress = NULL;
  o.threads = 0;
  tsr_ledger *scratch = NULL;
  tsr_ingest_stats s;
  tsr_status st = tsr_ledger_new(&scratch, err);
  if (st == TSR_OK) st = tsr_ingest_mem(scratch, hdr, strlen(hdr), d->table, &o, &s, err);
  tsr_ledger_free(scratch);
  tsr__free(hdr);
  if (st != TSR_OK) return st;
  snprintf(names[0], 64, "%s", s.customer_col);
  snprintf(names[1], 64, "%s", s.date_col);
  snprintf(names[2], 64, "%s", d->io->amount_col && !*d->io->amount_col ? "" : s.amount_col);
  return TSR_OK;
}

static const colinfo *find_col(const colinfo *cols, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(cols[i].name, name)) return &cols[i];
  return NULL;
}

/* The query (caller frees with tsr__free). */
static tsr_status build_sql(indb *d, const char *regclass, const colinfo *cols, size_t n,
                            char names[3][64], char **out, tsr_error *err) {
  const colinfo *cc = find_col(cols, n, names[0]), *dc = find_col(cols, n, names[1]);
  const colinfo *ac = names[2][0] ? find_col(cols, n, names[2]) : NULL;
  if (!cc || !dc || (names[2][0] && !ac))
    return tsr_error_set(err, TSR_EPARSE, d->table, 0, 0, NULL,
                         "cannot find the resolved columns in the table");
  const char *dayfmt;
  if (!strcmp(dc->type, "date")) dayfmt = "(%s - DATE '1970-01-01')";
  else if (!strcmp(dc->type, "timestamptz"))
    /* the UTC day; AT TIME ZONE 'UTC' would keep the aggregate off the
     * shards (postgres_fdw ships no function of a collatable constant) */
    dayfmt = "((%s AT TIME ZONE INTERVAL '00:00')::date - DATE '1970-01-01')";
  else if (!strcmp(dc->type, "timestamp")) dayfmt = "(%s::date - DATE '1970-01-01')";
  else
    return tsr_error_set(err, TSR_EPARSE, d->table, 0, 0, dc->name,
                         "expected a column of type date, timestamp or timestamptz, got %s",
                         dc->type);
  if (ac && ac->category != 'N')
    return tsr_error_set(err, TSR_EPARSE, d->table, 0, 0, ac->name,
                         "expected a numeric column (numeric, integer, real), got %s", ac->type);
  char *ci = PQescapeIdentifier(d->c, cc->name, strlen(cc->name));
  char *di = PQescapeIdentifier(d->c, dc->name, strlen(dc->name));
  char *ai = ac ? PQescapeIdentifier(d->c, ac->name, strlen(ac->name)) : NULL;
  if (!ci || !di || (ac && !ai)) {
    PQfreemem(ci), PQfreemem(di), PQfreemem(ai);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  char lim[40], amt[80];
  tsr__fmt_double(d->io->max_amount > 0 ? d->io->max_amount : TSR_INGEST_MAX_AMOUNT, lim);
  snprintf(amt, sizeof amt, "%s", ai ? ai : "0");
  tsr__tb b = {0};
  tsr__tb_printf(&b, "SELECT %s, ", ci); /* any type: libpq gives its text */
  tsr__tb_printf(&b, dayfmt, di);
  tsr__tb_printf(&b,
                 ", count(*) FILTER (WHERE %s BETWEEN 0 AND %s)"
                 ", sum(%s) FILTER (WHERE %s BETWEEN 0 AND %s)"
                 ", count(*) FILTER (WHERE %s < 0 AND %s >= -%s)"
                 ", sum(%s) FILTER (WHERE %s < 0 AND %s >= -%s)"
                 ", count(*) FILTER (WHERE %s IS NULL)"
                 ", count(*) FILTER (WHERE NOT %s BETWEEN -%s AND %s)"
                 " FROM %s GROUP BY %s, ",
                 amt, lim, amt, amt, lim, amt, amt, lim, amt, amt, amt, lim, amt, amt, lim, lim,
                 regclass, ci);
  tsr__tb_printf(&b, dayfmt, di);
  PQfreemem(ci), PQfreemem(di), PQfreemem(ai);
  if (!(*out = tsr__tb_take(&b)))
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  return TSR_OK;
}

/* ------------------------------------------------------------ the rows */

static int64_t col_i64(const PGresult *r, int c) {
  return PQgetisnull(r, 0, c) ? 0 : strtoll(PQgetvalue(r, 0, c), NULL, 10);
}

/* One customer-day row of the result into the chunk. */
static tsr_status take_row(indb *d, const PGresult *r, tsr_error *err) {
  int64_t np = col_i64(r, 2), nr = col_i64(r, 4), nnull = col_i64(r, 6), nrange = col_i64(r, 7);
  int64_t all = np + nr + nnull + nrange;
  if (PQgetisnull(r, 0, 0)) {
    sql_reject(d, all, "customer_id", "expected an id, got NULL");
    return TSR_OK;
  }
  if (PQgetisnull(r, 0, 1)) {
    sql_reject(d, all, "date", "expected a date, got NULL");
    return TSR_OK;
  }
  if (nnull) sql_reject(d, nnull, "amount", "expected a number, got NULL");
  if (nrange) {
    char reason[96];
    snprintf(reason, sizeof reason, "expected a finite amount of at most %g in magnitude",
             d->io->max_amount > 0 ? d->io->max_amount : TSR_INGEST_MAX_AMOUNT);
    sql_reject(d, nrange, "amount", reason);
  }
  /* the sums as PostgreSQL prints them (numeric exact, float8 shortest) */
  return tsr__lfeed_day(&d->feed, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0),
                        strtoll(PQgetvalue(r, 0, 1), NULL, 10), np, PQgetvalue(r, 0, 3), nr,
                        PQgetvalue(r, 0, 5), err);
}

/* An order-independent checksum of the result rows (the database returns
 * them in any order). */
static uint64_t row_hash(const PGresult *r) {
  uint64_t h = 0;
  for (int c = 0; c < PQnfields(r); c++)
    h = tsr__hash_bytes(PQgetvalue(r, 0, c), (size_t)PQgetlength(r, 0, c), h + (uint64_t)c);
  return h;
}

/* Runs sql in single-row mode and feeds every row. */
static tsr_status stream(indb *d, const char *sql, tsr_error *err) {
  if (!PQsendQuery(d->c, sql) || !PQsetSingleRowMode(d->c)) return pg_error(d, NULL, "query", err);
  tsr_status st = TSR_OK;
  uint64_t sum = 0;
  PGresult *r;
  while ((r = PQgetResult(d->c)) != NULL) {
    ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_SINGLE_TUPLE && st == TSR_OK) {
      /* the DataRow message: type, length, field count, then length + text per field */
      d->sql.bytes += 7;
      for (int c = 0; c < PQnfields(r); c++) d->sql.bytes += 4 + PQgetlength(r, 0, c);
      sum += row_hash(r);
      st = take_row(d, r, err);
    } else if (s != PGRES_SINGLE_TUPLE && s != PGRES_TUPLES_OK && st == TSR_OK) {
      st = pg_error(d, r, "query", err);
    }
    PQclear(r); /* after an error: read on to the end of the results */
  }
  d->sql.checksum = sum;
  return st;
}

tsr_status tsr__analyze_indb_ingest(const char *url, const char *table, tsr_ledger *lg,
                                    const tsr_ingest_opts *io, tsr_ingest_stats *stats,
                                    char **sql_out, tsr_error *err);

/* Fills lg from the table of the PostgreSQL database at url (see the file
 * comment). io: the column names, max_errors, max_amount and the callbacks
 * (rejects are reported against the table, line 0). *stats as
 * tsr_ingest_file's, with bytes = the bytes of the customer-day rows
 * received. *sql_out (owned, tsr__free; may stay NULL on early errors): the
 * query run. */
tsr_status tsr__analyze_indb_ingest(const char *url, const char *table, tsr_ledger *lg,
                                    const tsr_ingest_opts *io, tsr_ingest_stats *stats,
                                    char **sql_out, tsr_error *err) {
  *sql_out = NULL;
  memset(stats, 0, sizeof *stats);
  indb d = {0};
  d.table = table;
  d.io = io;
  if (io->id_col && *io->id_col)
    return tsr_error_set(err, TSR_EINVAL, table, 0, 0, "id_col",
                         "a transaction id column is not used in the database; leave it out");
  if (io->dedupe == TSR_DEDUPE_EXACT)
    return tsr_error_set(err, TSR_EINVAL, table, 0, 0, "dedupe",
                         "removing identical rows is not done in the database; leave it out");
  char shown[1024];
  d.c = PQconnectdb(url);
  if (!d.c || PQstatus(d.c) != CONNECTION_OK) {
    char what[1100];
    snprintf(what, sizeof what, "connect to %s", tsr_store_url_display(url, shown, sizeof shown));
    tsr_status st = d.c ? pg_error(&d, NULL, what, err)
                        : tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "%s", tsr__pq_why());
    PQfinish(d.c);
    return st;
  }
  PQsetNoticeProcessor(d.c, quiet_notices, NULL);
  tsr_status st = TSR_OK;
  char *sql = NULL;
  const char *tp[1] = {table};
  PGresult *r = PQexecParams(d.c, "SELECT to_regclass($1)::text", 1, NULL, tp, NULL, NULL, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    st = pg_error(&d, r, "find the table", err);
  } else if (PQgetisnull(r, 0, 0)) {
    st = tsr_error_set(err, TSR_ENOTFOUND, table, 0, 0, NULL,
                       "expected a table or view of that name in %s",
                       tsr_store_url_display(url, shown, sizeof shown));
  }
  char regclass[300] = "";
  if (st == TSR_OK) snprintf(regclass, sizeof regclass, "%s", PQgetvalue(r, 0, 0));
  PQclear(r);
  colinfo cols[256];
  size_t ncols = 0;
  char names[3][64];
  if (st == TSR_OK) st = table_columns(&d, regclass, cols, TSR__ARRAY_LEN(cols), &ncols, err);
  if (st == TSR_OK) st = resolve_columns(&d, cols, ncols, names, err);
  if (st == TSR_OK) st = build_sql(&d, regclass, cols, ncols, names, &sql, err);
  if (st == TSR_OK) {
    st = tsr__lfeed_init(&d.feed, lg, table, io, stats, err);
    if (st == TSR_OK) st = stream(&d, sql, err);
    tsr_status fs = tsr__lfeed_finish(&d.feed, st == TSR_OK ? err : NULL);
    if (st == TSR_OK) st = fs;
    /* the feed's counts plus the rows the database rejected; the bytes
     * and checksum of what the database sent */
    stats->rows_read += d.sql.rows_read;
    stats->rows_rejected += d.sql.rows_rejected;
    stats->bytes = d.sql.bytes;
    stats->checksum = d.sql.checksum;
    snprintf(stats->customer_col, sizeof stats->customer_col, "%s", names[0]);
    snprintf(stats->date_col, sizeof stats->date_col, "%s", names[1]);
    snprintf(stats->amount_col, sizeof stats->amount_col, "%s", names[2]);
  }
  PQfinish(d.c);
  *sql_out = sql;
  return st;
}
