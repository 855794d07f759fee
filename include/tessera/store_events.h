/*
 * tessera/store_events.h - the store's durable event log of the real-time
 * path (issue 14): one validated event, and the table rt_events it is kept
 * in (store/realtime_log.c). A store-floor header: the application layer
 * (tessera/realtime_app.h) builds on it; the store needs nothing above it.
 */
#ifndef TESSERA_STORE_EVENTS_H
#define TESSERA_STORE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/error.h"
#include "tessera/ingest.h"
#include "tessera/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tsr_rt_event_type {
  TSR_RT_TRANSACTION = 0,
  TSR_RT_PRODUCT = 1,
  TSR_RT_INTERACTION = 2
} tsr_rt_event_type;

/* One validated event (strings NUL-terminated, within the struct). */
typedef struct tsr_rt_event {
  tsr_rt_event_type type;
  char customer_id[TSR_INGEST_MAX_ID + 1];
  char key[TSR_INGEST_MAX_ID + 1]; /* transaction_id (or the caller's key); "" = none */
  int64_t ts;                      /* epoch seconds (UTC) */
  int64_t day;                     /* ts / 86400 */
  double amount;                   /* transactions; negative = refund; product
                                      events: 1 opened, -1 closed; else 0 */
  char detail[128];                /* product (product events), channel (interactions) */
} tsr_rt_event;

/* ------------------------------------------------------------ event log */

/* The durable event log (table rt_events, created when missing; SQLite and
 * PostgreSQL stores). One handle per thread, over an open store. */
typedef struct tsr_rt_log tsr_rt_log;
TSR_API tsr_status tsr_rt_log_open(tsr_store *s, tsr_rt_log **out, tsr_error *err);
TSR_API void tsr_rt_log_close(tsr_rt_log *l);
/* Appends ev (inside the store's open transaction, if any). *fresh = 1
 * when stored, 0 when an event with the same non-empty key was stored
 * before (nothing written: idempotent). */
TSR_API tsr_status tsr_rt_log_add(tsr_rt_log *l, const tsr_rt_event *ev, int *fresh,
                                  tsr_error *err);
typedef int (*tsr_rt_log_cb)(void *ctx, const tsr_rt_event *ev);
/* Events of one customer (NULL = all customers, by customer) in (day,
 * arrival) order. */
TSR_API tsr_status tsr_rt_log_list(tsr_rt_log *l, const char *customer_id, tsr_rt_log_cb cb,
                                   void *ctx, tsr_error *err);
/* Number of stored events. */
TSR_API tsr_status tsr_rt_log_count(tsr_rt_log *l, int64_t *n, tsr_error *err);

#ifdef __cplusplus
}
#endif
#endif
