/*
 * tessera/realtime_app.h - the real-time path's application layer (issue
 * 14): events (parsing and validation with the CSV reader's rules), the
 * scorer built from an analysis or from the store's promoted models, and
 * the durable event log (tessera/store_events.h, idempotent by event
 * key) the live state is rebuilt from. docs/realtime.md describes the formats and guarantees.
 */
#ifndef TESSERA_REALTIME_APP_H
#define TESSERA_REALTIME_APP_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/analyze.h"
#include "tessera/error.h"
#include "tessera/ingest.h"
#include "tessera/realtime.h"
#include "tessera/store.h"
#include "tessera/store_events.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TSR_RT_MAX_BATCH 10000   /* events per HTTP request / Redis read */
#define TSR_RT_MAX_LINE 65536    /* bytes of one NDJSON event */

/* Parses one NDJSON line: an object with "type" ("transaction", "product",
 * "interaction"; default transaction) and the columns of DATA.md:
 * customer_id (required, <= 256 bytes), timestamp or date (required; ISO
 * 8601, YYYYMMDD), amount (transactions, required: a JSON number or a
 * string in the CSV reader's amount forms), transaction_id (optional),
 * product_opened / product (product events, with "event": "open" (default)
 * or "close"), channel (interactions).
 * Errors TSR_EPARSE / TSR_ERANGE / TSR_ELIMIT with field and reason in err
 * (source "event", line = line). */
TSR_API tsr_status tsr_rt_event_parse(const char *line, size_t len, int64_t lineno,
                                      tsr_rt_event *ev, tsr_error *err);

/* The scorer of an analysis result (its options, models and summary rows). */
TSR_API tsr_status tsr_rt_scorer_from_analysis(const tsr_analyze_result *r,
                                               const tsr_analyze_opts *o,
                                               tsr_rt_scorer **out, tsr_error *err);
/* The scorer of the store's promoted models: the promoted BTYD model, the
 * Gamma-Gamma and cluster models of the same run, the run's options and its
 * customers as the RFM reference. TSR_ENOTFOUND without a promoted model. */
TSR_API tsr_status tsr_rt_scorer_from_store(tsr_store *s, tsr_rt_scorer **out, tsr_error *err);

/* Applies ev to its customer's state in t (transactions only change the
 * summary; product and interaction events count). A late event (earlier
 * than the customer's latest) rebuilds the customer's state from the
 * store's log (the event must already be stored) or, with l == NULL,
 * returns TSR_ERANGE. */
TSR_API tsr_status tsr_rt_table_apply(tsr_rt_table *t, const tsr_rt_opts *o, tsr_rt_log *l,
                                      const tsr_rt_event *ev, tsr_rt_state **state,
                                      tsr_error *err);
/* Rebuilds t from the store's log (all customers). */
TSR_API tsr_status tsr_rt_table_load(tsr_rt_table *t, const tsr_rt_opts *o, tsr_rt_log *l,
                                     tsr_error *err);

/* The live profile of a customer as a JSON object text (free()): summary,
 * scores, segment, cluster, evaluated at day `at`. */
TSR_API tsr_status tsr_rt_profile_json(const tsr_rt_scorer *sc, const tsr_rt_table *t,
                                       const char *id, const tsr_rt_state *s, int64_t at,
                                       char **out, tsr_error *err);
/* Applies one event to a state (transactions: tsr_rt_apply; products: the
 * product set through t's registry; interactions: count, latest day).
 * TSR_ERANGE for a late transaction. */
TSR_API tsr_status tsr_rt_state_event(tsr_rt_state *s, const tsr_rt_opts *o, tsr_rt_table *t,
                                      const tsr_rt_event *ev);


/* ------------------------------------------------------------ engine */

/* A segment (or cluster) change caused by an event. */
typedef struct tsr_rt_change {
  const char *customer_id;
  const char *old_segment;      /* NULL: none before (new customer) */
  const char *new_segment;
  int old_cluster, new_cluster; /* -1: none */
  const tsr_rt_scores *scores;  /* at the event's day */
  const tsr_rt_event *event;    /* the triggering event */
} tsr_rt_change;
typedef void (*tsr_rt_change_cb)(void *ud, const tsr_rt_change *c);

/* The real-time engine: a store, its event log, the scorer and the live
 * table (rebuilt from the log when opened, unless TSR_RT_READONLY: then
 * only profiles can be read). One caller at a time (the HTTP server
 * serialises with a mutex). */
typedef struct tsr_rt_engine tsr_rt_engine;
#define TSR_RT_READONLY 0x1u
TSR_API tsr_status tsr_rt_engine_open(const char *db_url, unsigned flags, tsr_rt_engine **out,
                                      tsr_error *err);
TSR_API void tsr_rt_engine_close(tsr_rt_engine *e);
/* Partition (0..nparts-1) of a customer id: FNV-1a 64 of its bytes mod nparts. */
TSR_API unsigned tsr_rt_partition(const char *customer_id, unsigned nparts);
/* Makes evs[0..n) durable in one store transaction (an event whose key was
 * stored before is skipped: applied[i] = 0, else 1), then applies the fresh
 * ones to the live table, re-scores each touched customer at the event's
 * day and calls cb for every segment or cluster change. Nothing is applied
 * when the transaction fails (TSR_ESTORE: retry later). */
TSR_API tsr_status tsr_rt_engine_ingest(tsr_rt_engine *e, const tsr_rt_event *evs, size_t n,
                                        unsigned char *applied, tsr_rt_change_cb cb, void *ud,
                                        tsr_error *err);
/* The live profile of id at day `at` as JSON (free()), its state rebuilt
 * from the durable log (so it sees every consumer's events). TSR_ENOTFOUND
 * for a customer without events. */
TSR_API tsr_status tsr_rt_engine_profile(tsr_rt_engine *e, const char *id, int64_t at,
                                         char **json, tsr_error *err);
TSR_API tsr_rt_table *tsr_rt_engine_table(tsr_rt_engine *e);
TSR_API const tsr_rt_scorer *tsr_rt_engine_scorer(tsr_rt_engine *e);

#ifdef __cplusplus
}
#endif
#endif
