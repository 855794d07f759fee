/*
 * store_int.h - the seam between the store front end (store.c: URL dispatch,
 * argument checks, defaults, JSON validation, error wording, packing of
 * returned objects) and its back ends (sqlite.c; later postgresql.c).
 *
 * A back end is a versioned method table, in the manner of SQLite's
 * sqlite3_io_methods: fields are only ever appended; a front end reading a
 * table checks `version` before using a field added after version 1.
 * Not public API.
 *
 * Contract of every method:
 *   - impl is the back end's handle from open(); one thread at a time.
 *   - Arguments have been checked and defaulted by store.c (times filled in,
 *     JSON validated, required strings non-NULL).
 *   - Errors: TSR_ESTORE with "store: <what>: <driver message>" in err;
 *     TSR_ENOTFOUND without a message (store.c words it).
 *   - Reads call cb once per row with borrowed data; cb != 0 stops.
 */
#ifndef TESSERA_STORE_INT_H
#define TESSERA_STORE_INT_H

#include "internal.h"
#include "tessera/store.h"

#define TSR_STORE_METHODS_VERSION 3

typedef struct tsr_store_methods {
  int version;      /* TSR_STORE_METHODS_VERSION this table implements */
  const char *name; /* "sqlite" */

  tsr_status (*open)(const char *target, unsigned flags, void **impl,
                     tsr_error *err);
  void (*close)(void *impl);

  tsr_status (*schema_version)(void *impl, int *version, tsr_error *err);
  tsr_status (*migrate)(void *impl, int *version, tsr_error *err);
  tsr_status (*stats)(void *impl, tsr_store_stats *out, tsr_error *err);

  tsr_status (*begin)(void *impl, tsr_error *err);
  tsr_status (*commit)(void *impl, tsr_error *err);
  tsr_status (*rollback)(void *impl, tsr_error *err);
  int (*in_transaction)(void *impl);

  /* datasets */
  tsr_status (*dataset_add)(void *impl, const tsr_dataset *d, int64_t *id,
                            tsr_error *err);
  tsr_status (*dataset_update)(void *impl, const tsr_dataset *d,
                               tsr_error *err);
  tsr_status (*rejects_add)(void *impl, int64_t dataset_id,
                            const tsr_reject_row *rows, size_t n, tsr_error *err);
  /* by id (> 0) or, when id == 0, the newest with checksum */
  tsr_status (*dataset_get)(void *impl, int64_t id, const char *checksum,
                            tsr_store_dataset_cb cb, void *ctx,
                            tsr_error *err);
  tsr_status (*datasets_list)(void *impl, int64_t limit, int64_t offset,
                              tsr_store_dataset_cb cb, void *ctx,
                              tsr_error *err);
  tsr_status (*rejects_list)(void *impl, int64_t dataset_id, int64_t limit,
                             int64_t offset, tsr_store_reject_cb cb, void *ctx,
                             tsr_error *err);

  /* runs */
  tsr_status (*run_add)(void *impl, const tsr_run *r, int64_t *id,
                        tsr_error *err);
  tsr_status (*run_set)(void *impl, int64_t id, const char *params,
                        const char *output_dir, tsr_error *err);
  tsr_status (*run_finish)(void *impl, int64_t id, tsr_run_status status,
                           int64_t finished_at, const char *timings,
                           const char *summary, const char *error,
                           tsr_error *err);
  tsr_status (*runs_interrupt)(void *impl, int64_t finished_at, int64_t *n,
                               tsr_error *err);
  tsr_status (*run_get)(void *impl, int64_t id, tsr_store_run_cb cb, void *ctx,
                        tsr_error *err);
  tsr_status (*runs_list)(void *impl, int64_t limit, int64_t offset,
                          tsr_store_run_cb cb, void *ctx, tsr_error *err);

  /* events */
  tsr_status (*event_add)(void *impl, const tsr_event *e, int64_t *id,
                          tsr_error *err);
  tsr_status (*events_list)(void *impl, int64_t run_id,
                            tsr_log_level min_level, tsr_store_event_cb cb,
                            void *ctx, tsr_error *err);

  /* customers */
  tsr_status (*customers_add)(void *impl, int64_t run_id,
                              const tsr_customer *rows, size_t n,
                              tsr_error *err);
  tsr_status (*customers_list)(void *impl, const tsr_customer_query *q,
                               tsr_store_customer_cb cb, void *ctx,
                               tsr_error *err);
  tsr_status (*customers_count)(void *impl, const tsr_customer_query *q,
                                int64_t *n, tsr_error *err);
  tsr_status (*customer_get)(void *impl, int64_t run_id,
                             const char *customer_id, tsr_store_customer_cb cb,
                             void *ctx, tsr_error *err);

  /* segments */
  tsr_status (*segments_add)(void *impl, int64_t run_id,
                             const tsr_segment_row *rows, size_t n,
                             tsr_error *err);
  tsr_status (*segments_list)(void *impl, int64_t run_id, const char *scheme,
                              tsr_store_segment_cb cb, void *ctx,
                              tsr_error *err);

  /* models */
  tsr_status (*model_add)(void *impl, const tsr_model *m, int64_t *id,
                          int64_t *version, tsr_error *err);
  tsr_status (*model_promote)(void *impl, int64_t id, tsr_error *err);
  /* by id (> 0) or, when id == 0, the promoted model of kind */
  tsr_status (*model_get)(void *impl, int64_t id, const char *kind,
                          tsr_store_model_cb cb, void *ctx, tsr_error *err);
  tsr_status (*models_list)(void *impl, int64_t run_id, const char *kind,
                            tsr_store_model_cb cb, void *ctx, tsr_error *err);

  /* deletes (children go by the schema's cascades) */
  tsr_status (*dataset_delete)(void *impl, int64_t id, tsr_error *err);
  tsr_status (*run_delete)(void *impl, int64_t id, tsr_error *err);

  /* version 2 */
  tsr_status (*model_set_stats)(void *impl, int64_t id, const char *fit_stats,
                                tsr_error *err);

  /* version 3: the process that owns a running run (issue 11) */
  tsr_status (*run_owner_set)(void *impl, int64_t id, const char *owner,
                              tsr_error *err);
  /* Running runs with an owner: cb(ctx, id, owner) per row. */
  tsr_status (*runs_owned_list)(void *impl,
                                int (*cb)(void *ctx, int64_t id, const char *owner),
                                void *ctx, tsr_error *err);
} tsr_store_methods;

/* The SQLite back end (store/sqlite.c). */
extern const tsr_store_methods tsr__store_sqlite_methods;
/* The PostgreSQL back end (store/postgres.c). */
extern const tsr_store_methods tsr__store_pg_methods;

/* The back-end handle of s (and its method table in *m, may be NULL), for
 * the web tables (store/sqlite_web.c). */
void *tsr__store_impl(tsr_store *s, const tsr_store_methods **m);
/* The sqlite3 connection of an impl of tsr__store_sqlite_methods. */
struct sqlite3 *tsr__sqlite_db(void *impl);
/* Run owners (store/run_owner.c): this process as "HOST|BOOT|PID|START";
 * 1 when the owner ran on this host and is gone; marks the runs of gone
 * owners interrupted (OUT: *n, may be NULL). */
void tsr__run_owner_self(char *buf, size_t cap);
int tsr__run_owner_gone(const char *owner);
tsr_status tsr__store_reap_runs(tsr_store *s, int64_t *n, tsr_error *err);
/* 1 when s has an open transaction (tsr_store_begin). */
int tsr__store_in_tx(tsr_store *s);

/* Row counts of tsr_store_stats: the query of each and where it goes; the
 * same SQL on every back end (store/store.c). */
typedef struct tsr__store_count {
  const char *sql;
  size_t off; /* offsetof(tsr_store_stats, ...) of an int64_t */
} tsr__store_count;
extern const tsr__store_count tsr__store_counts[];
extern const size_t tsr__store_ncounts;

#endif
