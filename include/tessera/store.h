/*
 * tessera/store.h - the persistent store of tessera: datasets (inputs and
 * their rejected rows), runs (parameters, status, timings, KPIs), per-run
 * customer results, segment summaries, fitted models, and the event log of
 * every pipeline step.
 *
 * One interface, several back ends chosen by URL (see tsr_store_open):
 *   "tessera.db", "sqlite:tessera.db"  SQLite (the embedded default, WAL)
 *   "postgresql://..."                  PostgreSQL (libpq; store/postgres.c)
 * The back end is reached through a versioned method table (store/store_int.h,
 * in the manner of sqlite3_io_methods); callers never see it.
 *
 * Conventions
 *   - Every function returns tsr_status; the last argument tsr_error *err
 *     (may be NULL) receives a message such as
 *     "store: insert run: database is locked". Store failures are
 *     TSR_ESTORE, bad arguments TSR_EINVAL, a missing object TSR_ENOTFOUND
 *     ("run 42: not found").
 *   - Times are int64 milliseconds since 1970-01-01T00:00:00Z (UTC); 0 means
 *     "unset" (or "now" where an insert says so). tsr_store_time_format()
 *     renders ISO 8601.
 *   - JSON fields (options, params, timings, summary, extra, fit_stats) are
 *     JSON text; they are checked on insert (TSR_EINVAL naming the field when
 *     not valid JSON) and returned verbatim. NULL = absent.
 *   - Nullable numbers: doubles use NaN for NULL, cluster uses -1, scores 0,
 *     counts -1 as documented per field.
 *
 * Ownership
 *   - Inputs are borrowed for the duration of the call, never retained.
 *   - List functions call a callback once per row; the row and all its
 *     strings are borrowed and valid only during that callback (copy what you
 *     keep). A callback returning nonzero stops the listing; the function then
 *     still returns TSR_OK.
 *   - Get functions return one allocation (struct plus its strings) owned by
 *     the caller and released with tsr_store_free().
 *
 * Thread safety
 *   A tsr_store handle must be used by one thread at a time; open one handle
 *   per thread (the web server: one per worker). Distinct handles on the same
 *   database may be used concurrently from threads or processes: SQLite runs
 *   in WAL mode (readers never block the writer), synchronous=NORMAL, busy
 *   timeout 5 s, foreign keys on.
 *
 * Durability and atomicity
 *   Each write call is atomic. tsr_store_begin/commit/rollback group calls in
 *   one transaction (no nesting). A run's results are complete exactly when
 *   its status is TSR_RUN_DONE.
 */
#ifndef TESSERA_STORE_H
#define TESSERA_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsr_store tsr_store;

/* ------------------------------------------------------------ open, close */

/* Flags of tsr_store_open. */
#define TSR_STORE_CREATE 0x1u     /* create the database if it does not exist */
#define TSR_STORE_NO_MIGRATE 0x2u /* do not apply pending migrations (db info) */

/* The database URL the CLI and server use: db_opt (the --db value) when
 * non-NULL and non-empty, else the environment variable TESSERA_DB when set
 * and non-empty, else "tessera.db" (in the current directory). Returns a
 * borrowed pointer (db_opt, the environment's storage, or a literal). */
TSR_API const char *tsr_store_default_url(const char *db_opt);

/* The folder where copies of raw inputs are kept (analyze --keep-input,
 * uploads) so retraining can re-read them: data_dir when non-NULL and
 * non-empty; for a SQLite url "<database file>.files"; for PostgreSQL
 * "tessera-data" (relative to the current directory). Written to buf
 * (truncated to cap); returns buf. */
TSR_API char *tsr_store_data_dir(const char *url, const char *data_dir, char *buf,
                                 size_t cap);

/* url for display: a password in it ("user:pw@", "password=...") is left
 * out. Written to buf (truncated to cap); returns buf. */
TSR_API char *tsr_store_url_display(const char *url, char *buf, size_t cap);

/* Opens the store at url:
 *   "PATH" or "sqlite:PATH"   SQLite database file
 *   "postgresql://..." or "postgres://..."  PostgreSQL (libpq connection
 *                             URI; the database must exist, tables are
 *                             created by the migrations)
 * Without TSR_STORE_CREATE a missing file is TSR_ESTORE
 * ("store: open x.db: database does not exist"). A file that is not a tessera
 * SQLite database is TSR_ESTORE ("store: open x.db: file is not a database").
 * Pending schema migrations are applied unless TSR_STORE_NO_MIGRATE; a schema
 * newer than this library knows is TSR_ESTORE.
 * OUT: *out, owned by the caller, released with tsr_store_close. */
TSR_API tsr_status tsr_store_open(const char *url, unsigned flags,
                                  tsr_store **out, tsr_error *err);
/* Closes the handle (rolls back an open transaction). Accepts NULL. */
TSR_API void tsr_store_close(tsr_store *s);

/* Releases an object returned by a tsr_store_*_get function. Accepts NULL. */
TSR_API void tsr_store_free(void *obj);

/* Back end name: "sqlite" or "postgresql". Static storage. */
TSR_API const char *tsr_store_backend(const tsr_store *s);

/* ------------------------------------------------------------ schema */

/* Schema version this library creates and understands. */
TSR_API int tsr_store_schema_latest(void);
/* OUT: *version = schema version of the open database (0 = empty). */
TSR_API tsr_status tsr_store_schema_version(tsr_store *s, int *version,
                                            tsr_error *err);
/* Applies pending migrations (each in its own transaction; safe to run
 * concurrently and repeatedly). OUT (may be NULL): *version afterwards. */
TSR_API tsr_status tsr_store_migrate(tsr_store *s, int *version,
                                     tsr_error *err);

typedef struct tsr_store_stats {
  const char *backend;   /* "sqlite"; static storage */
  int schema_version;    /* of the database */
  int schema_latest;     /* of this library */
  char journal_mode[16]; /* "wal" */
  int64_t size_bytes;    /* database size (pages * page size) */
  int64_t datasets, runs, customers, segments, models, events, rejects;
} tsr_store_stats;

/* Fills *out (counts of rows per table, sizes). */
TSR_API tsr_status tsr_store_stats_get(tsr_store *s, tsr_store_stats *out,
                                       tsr_error *err);

/* ------------------------------------------------------------ transactions */

/* Starts a write transaction (SQLite: BEGIN IMMEDIATE). Not nestable
 * (TSR_EINVAL if one is open). Write calls in between join it. */
TSR_API tsr_status tsr_store_begin(tsr_store *s, tsr_error *err);
TSR_API tsr_status tsr_store_commit(tsr_store *s, tsr_error *err);
/* Rolls back; no-op without an open transaction. */
TSR_API tsr_status tsr_store_rollback(tsr_store *s, tsr_error *err);

/* ------------------------------------------------------------ time */

/* Current time, ms since the epoch (UTC). */
TSR_API int64_t tsr_store_now_ms(void);
/* Renders ms as "2026-11-23T15:30:37.123Z" (millis left out when 0) into buf
 * (>= 32 bytes); "" for 0. Returns buf. */
TSR_API char *tsr_store_time_format(int64_t ms, char *buf, size_t cap);

/* ------------------------------------------------------------ datasets */

typedef struct tsr_dataset {
  int64_t id;              /* assigned on insert */
  int64_t created_at;      /* ms; 0 on insert = now */
  const char *source;      /* path or upload name; required */
  const char *checksum;    /* hex digest computed by the caller; required */
  int64_t bytes;           /* size of the input */
  int64_t rows_read;       /* data rows read (header excluded) */
  int64_t rows_accepted;
  int64_t rows_rejected;
  int64_t duplicates;      /* rows dropped or flagged as duplicates */
  int64_t refunds;         /* rows with negative amounts */
  const char *options;     /* JSON: column mapping, date format, ...; or NULL */
  const char *stored_path; /* where a copy of the raw file is kept, or NULL */
} tsr_dataset;

/* One rejected input row. */
typedef struct tsr_reject_row {
  int64_t dataset_id; /* ignored by tsr_store_rejects_add (argument wins) */
  int64_t line;       /* 1-based */
  int64_t column;     /* 1-based; 0 = unknown */
  const char *field;  /* column name, or NULL */
  const char *reason; /* "amount: expected a number, got '12,50'"; required */
  const char *raw;    /* raw record text, or NULL (caller keeps the first N) */
} tsr_reject_row;

/* Inserts a dataset. OUT: *id (may be NULL). */
TSR_API tsr_status tsr_store_dataset_add(tsr_store *s, const tsr_dataset *d,
                                         int64_t *id, tsr_error *err);
/* Updates the row counts, options and stored_path of dataset d->id (datasets
 * are often registered before their rows are counted). */
TSR_API tsr_status tsr_store_dataset_update(tsr_store *s, const tsr_dataset *d,
                                            tsr_error *err);
/* Appends n rejects of a dataset in one transaction. */
TSR_API tsr_status tsr_store_rejects_add(tsr_store *s, int64_t dataset_id,
                                         const tsr_reject_row *rows, size_t n,
                                         tsr_error *err);
/* Deletes dataset id and its rejects; its runs stay, detached (dataset_id
 * becomes 0). Does not touch the file at stored_path. TSR_ENOTFOUND
 * "dataset 7: not found". */
TSR_API tsr_status tsr_store_dataset_delete(tsr_store *s, int64_t id,
                                            tsr_error *err);
/* OUT: *out, caller frees with tsr_store_free. TSR_ENOTFOUND
 * "dataset 7: not found". */
TSR_API tsr_status tsr_store_dataset_get(tsr_store *s, int64_t id,
                                         tsr_dataset **out, tsr_error *err);
/* The most recent dataset with this checksum, or TSR_ENOTFOUND. */
TSR_API tsr_status tsr_store_dataset_find(tsr_store *s, const char *checksum,
                                          tsr_dataset **out, tsr_error *err);

typedef int (*tsr_store_dataset_cb)(void *ctx, const tsr_dataset *row);
/* Datasets newest first; limit 0 = all. */
TSR_API tsr_status tsr_store_datasets_list(tsr_store *s, int64_t limit,
                                           int64_t offset,
                                           tsr_store_dataset_cb cb, void *ctx,
                                           tsr_error *err);

typedef int (*tsr_store_reject_cb)(void *ctx, const tsr_reject_row *row);
/* Rejects of a dataset in line order; limit 0 = all. */
TSR_API tsr_status tsr_store_rejects_list(tsr_store *s, int64_t dataset_id,
                                          int64_t limit, int64_t offset,
                                          tsr_store_reject_cb cb, void *ctx,
                                          tsr_error *err);

/* ------------------------------------------------------------ runs */

typedef enum tsr_run_status {
  TSR_RUN_RUNNING = 0,
  TSR_RUN_DONE = 1,
  TSR_RUN_FAILED = 2,
  TSR_RUN_INTERRUPTED = 3,
  TSR_RUN_CANCELED = 4
} tsr_run_status;

/* "running", "done", "failed", "interrupted", "canceled"; static storage. */
TSR_API const char *tsr_run_status_name(tsr_run_status st);
/* Parses a name above; TSR_EINVAL otherwise. */
TSR_API tsr_status tsr_run_status_parse(const char *name, tsr_run_status *out);

typedef struct tsr_run {
  int64_t id;             /* assigned by tsr_store_run_begin */
  int64_t dataset_id;     /* 0 = none */
  int64_t created_at;     /* ms; 0 on insert = now */
  const char *command;    /* "analyze", "fit", ...; required */
  const char *params;     /* JSON of the parameters, or NULL */
  tsr_run_status status;  /* ignored on insert (always running) */
  int64_t started_at;     /* ms; 0 on insert = created_at */
  int64_t finished_at;    /* ms; 0 while running */
  const char *timings;    /* JSON {"step": ms, ...}, or NULL */
  const char *summary;    /* JSON of the KPIs, or NULL */
  const char *error;      /* error message of a failed run, or NULL */
  const char *output_dir; /* where the run wrote its files, or NULL */
  /* Read-only, filled by reads: */
  int64_t n_customers;        /* rows in customers for this run */
  const char *dataset_source; /* source of dataset_id, or NULL */
} tsr_run;

/* Inserts a run with status running. OUT: *id (may be NULL). */
TSR_API tsr_status tsr_store_run_begin(tsr_store *s, const tsr_run *r,
                                       int64_t *id, tsr_error *err);
/* Sets output_dir / params of a running run (either may be NULL = keep). */
TSR_API tsr_status tsr_store_run_set(tsr_store *s, int64_t id,
                                     const char *params,
                                     const char *output_dir, tsr_error *err);
/* Ends run id: status (done, failed, interrupted, canceled), finished_at =
 * now; timings, summary and error (NULL = keep the stored value).
 * TSR_ENOTFOUND when no such run. */
TSR_API tsr_status tsr_store_run_finish(tsr_store *s, int64_t id,
                                        tsr_run_status status,
                                        const char *timings,
                                        const char *summary,
                                        const char *error, tsr_error *err);
/* Marks every run still "running" as interrupted (server start/stop, or a
 * crashed process). It cannot tell a crashed run from one another process
 * is running right now: call it only when no other writer runs pipelines
 * (a later schema version will record the owner of each run).
 * OUT (may be NULL): *n runs changed. */
TSR_API tsr_status tsr_store_runs_interrupt(tsr_store *s, int64_t *n,
                                            tsr_error *err);

/* Deletes run id with its customers, segments and events; its models stay,
 * detached (run_id becomes 0). TSR_ENOTFOUND "run 42: not found". */
TSR_API tsr_status tsr_store_run_delete(tsr_store *s, int64_t id,
                                        tsr_error *err);

/* OUT: *out (tsr_store_free). TSR_ENOTFOUND "run 42: not found". */
TSR_API tsr_status tsr_store_run_get(tsr_store *s, int64_t id, tsr_run **out,
                                     tsr_error *err);

typedef int (*tsr_store_run_cb)(void *ctx, const tsr_run *row);
/* Runs newest first (created_at, then id); limit 0 = all. */
TSR_API tsr_status tsr_store_runs_list(tsr_store *s, int64_t limit,
                                       int64_t offset, tsr_store_run_cb cb,
                                       void *ctx, tsr_error *err);

/* ------------------------------------------------------------ events */

typedef enum tsr_log_level {
  TSR_LOG_INFO = 0,
  TSR_LOG_WARN = 1,
  TSR_LOG_ERROR = 2
} tsr_log_level;

/* "info", "warn", "error"; static storage. */
TSR_API const char *tsr_log_level_name(tsr_log_level l);
/* Parses a name above; TSR_EINVAL otherwise. */
TSR_API tsr_status tsr_log_level_parse(const char *name, tsr_log_level *out);

typedef struct tsr_event {
  int64_t id;          /* assigned on insert */
  int64_t run_id;      /* 0 = not tied to a run */
  int64_t ts;          /* ms; 0 on insert = now */
  tsr_log_level level;
  const char *step;    /* "ingest", "summary", "rfm", "store", ...; required */
  const char *message; /* one line; required (may be "") */
  int64_t rows_in;     /* -1 = NULL */
  int64_t rows_out;    /* -1 = NULL */
  double duration_ms;  /* NaN or < 0 = NULL */
} tsr_event;

/* Appends one event (a prepared statement; no fsync beyond the WAL). OUT:
 * *id (may be NULL). */
TSR_API tsr_status tsr_store_event_add(tsr_store *s, const tsr_event *e,
                                       int64_t *id, tsr_error *err);

typedef int (*tsr_store_event_cb)(void *ctx, const tsr_event *row);
/* Events of a run (run_id 0 = of all runs) in order of insertion, at or
 * above min_level. */
TSR_API tsr_status tsr_store_events_list(tsr_store *s, int64_t run_id,
                                         tsr_log_level min_level,
                                         tsr_store_event_cb cb, void *ctx,
                                         tsr_error *err);

/* ------------------------------------------------------------ customers */

typedef struct tsr_customer {
  const char *customer_id; /* required, unique within a run */
  double frequency;        /* repeat purchase periods */
  double recency;          /* age at last purchase, in the run's unit */
  double T;                /* age at the end of observation */
  double monetary_value;   /* mean repeat-period amount */
  double revenue;          /* total amount */
  int64_t n_transactions;
  int64_t first_purchase;  /* ms */
  int64_t last_purchase;   /* ms */
  int r_score, f_score, m_score; /* 1..5; 0 = NULL */
  const char *rfm_cell;    /* "555", or NULL */
  const char *segment;     /* "champions", ..., or NULL */
  int64_t cluster;         /* >= 0; -1 = NULL */
  double expected_purchases; /* NaN = NULL (and the four below) */
  double p_alive;
  double clv;
  double clv_lo;
  double clv_hi;
  const char *extra;       /* JSON of further columns, or NULL */
  const char *history;     /* purchase history, one entry per active day, as
                              tsr_web_history_format text (store_web.h);
                              "" = none; NULL = not kept in the row (runs
                              stored before schema version 4: the
                              web_history table holds it) */
} tsr_customer;

/* Sets every field to its NULL value (strings NULL, doubles NaN except the
 * five summary measures 0, cluster -1, scores 0). */
TSR_API void tsr_customer_init(tsr_customer *c);

/* Inserts n customer rows of run run_id in one transaction (a savepoint
 * when the caller has one open), in customer_id order (sorted by the store
 * unless already sorted), in one bulk load (COPY on PostgreSQL, one
 * INSERT ... SELECT on SQLite; docs/store.md). The rows are all
 * stored or none. A repeated customer_id is TSR_ESTORE naming it. Pass a
 * run's customers in large batches (analyze: 8,192 rows a call, in key
 * order) rather than many small ones. */
TSR_API tsr_status tsr_store_customers_add(tsr_store *s, int64_t run_id,
                                           const tsr_customer *rows, size_t n,
                                           tsr_error *err);

typedef enum tsr_customer_sort {
  TSR_CUSTOMER_SORT_ID = 0,
  TSR_CUSTOMER_SORT_FREQUENCY,
  TSR_CUSTOMER_SORT_RECENCY,
  TSR_CUSTOMER_SORT_MONETARY,
  TSR_CUSTOMER_SORT_REVENUE,
  TSR_CUSTOMER_SORT_RFM,
  TSR_CUSTOMER_SORT_EXPECTED,
  TSR_CUSTOMER_SORT_P_ALIVE,
  TSR_CUSTOMER_SORT_CLV
} tsr_customer_sort;

typedef struct tsr_customer_query {
  int64_t run_id;
  const char *segment;    /* NULL = any */
  int64_t cluster;        /* -1 = any */
  tsr_customer_sort sort; /* ties broken by customer_id */
  int descending;
  int64_t limit;          /* 0 = all */
  int64_t offset;
} tsr_customer_query;

/* Any segment, any cluster, by id ascending, all rows. */
TSR_API void tsr_customer_query_init(tsr_customer_query *q, int64_t run_id);

typedef int (*tsr_store_customer_cb)(void *ctx, const tsr_customer *row);
/* Customers of q->run_id matching q, in q's order. */
TSR_API tsr_status tsr_store_customers_list(tsr_store *s,
                                            const tsr_customer_query *q,
                                            tsr_store_customer_cb cb,
                                            void *ctx, tsr_error *err);
/* OUT: *n = rows matching q (limit/offset ignored), for paging. */
TSR_API tsr_status tsr_store_customers_count(tsr_store *s,
                                             const tsr_customer_query *q,
                                             int64_t *n, tsr_error *err);
/* OUT: *out (tsr_store_free). TSR_ENOTFOUND
 * "run 42: customer 'C7': not found". */
TSR_API tsr_status tsr_store_customer_get(tsr_store *s, int64_t run_id,
                                          const char *customer_id,
                                          tsr_customer **out, tsr_error *err);

/* ------------------------------------------------------------ segments */

typedef struct tsr_segment_row {
  const char *scheme;  /* "rfm10", "rfm11", "custom", ...; required */
  const char *segment; /* required */
  int64_t customers;
  double share;        /* of customers, 0..1 */
  double mean_r, mean_f, mean_m;
  double revenue;
  double revenue_share; /* 0..1 */
} tsr_segment_row;

/* Inserts n segment rows of run run_id in one transaction. */
TSR_API tsr_status tsr_store_segments_add(tsr_store *s, int64_t run_id,
                                          const tsr_segment_row *rows,
                                          size_t n, tsr_error *err);
typedef int (*tsr_store_segment_cb)(void *ctx, const tsr_segment_row *row);
/* Segments of a run (scheme NULL = all), by scheme then customers desc. */
TSR_API tsr_status tsr_store_segments_list(tsr_store *s, int64_t run_id,
                                           const char *scheme,
                                           tsr_store_segment_cb cb, void *ctx,
                                           tsr_error *err);

/* ------------------------------------------------------------ models */

typedef struct tsr_model {
  int64_t id;            /* assigned on insert */
  int64_t run_id;        /* run that fitted it; 0 = none */
  const char *kind;      /* "bgnbd", "gg", "kmeans", ...; required */
  int64_t version;       /* per kind, 1, 2, ...; 0 on insert = next */
  const char *params;    /* JSON of the fitted parameters, or NULL */
  const char *fit_stats; /* JSON (log-likelihood, iterations, holdout...) */
  int64_t created_at;    /* ms; 0 on insert = now */
  int promoted;          /* 1 = the version used for scoring */
} tsr_model;

/* Inserts a model (promoted as given; promoting demotes the other versions of
 * the kind). OUT: *id and *version (either may be NULL). */
TSR_API tsr_status tsr_store_model_add(tsr_store *s, const tsr_model *m,
                                       int64_t *id, int64_t *version,
                                       tsr_error *err);
/* Replaces the fit_stats JSON of model id (retrain adds its evaluation).
 * TSR_ENOTFOUND "model 3: not found". */
TSR_API tsr_status tsr_store_model_set_stats(tsr_store *s, int64_t id,
                                             const char *fit_stats,
                                             tsr_error *err);
/* Makes model id the promoted version of its kind. */
TSR_API tsr_status tsr_store_model_promote(tsr_store *s, int64_t id,
                                           tsr_error *err);
/* OUT: *out (tsr_store_free). TSR_ENOTFOUND "model 3: not found". */
TSR_API tsr_status tsr_store_model_get(tsr_store *s, int64_t id,
                                       tsr_model **out, tsr_error *err);
/* The promoted model of a kind, TSR_ENOTFOUND if none. */
TSR_API tsr_status tsr_store_model_promoted(tsr_store *s, const char *kind,
                                            tsr_model **out, tsr_error *err);

typedef int (*tsr_store_model_cb)(void *ctx, const tsr_model *row);
/* Models of a run (run_id 0 = all runs) and kind (NULL = all), by kind then
 * version descending. */
TSR_API tsr_status tsr_store_models_list(tsr_store *s, int64_t run_id,
                                         const char *kind,
                                         tsr_store_model_cb cb, void *ctx,
                                         tsr_error *err);

#ifdef __cplusplus
}
#endif
#endif
