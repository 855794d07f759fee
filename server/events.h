/*
 * events.h - the real-time endpoints of the HTTP API (server/events.c):
 *   POST /api/v1/events                     NDJSON events, per-line answers
 *   GET  /api/v1/profiles/{id}[?at=DATE]    the live profile
 *   GET  /api/v1/stream/segment-changes     server-sent events
 */
#ifndef TESSERA_SERVER_EVENTS_H
#define TESSERA_SERVER_EVENTS_H
#include "srv.h"

#define RT_MAX_LINES 10000  /* events per POST (the body is also <= SRV_MAX_BODY) */
#define RT_LOCK_WAIT_MS 2000 /* longer behind other batches: 503 + Retry-After */
#define RT_MAX_WAITING 16    /* batches queued for the engine at once, else 503 */

enum MHD_Result rt_events_post(req *r);
enum MHD_Result rt_profile_get(req *r, const char *id);
/* The live profile, or fallback(r, st, id) for a customer without events. */
enum MHD_Result rt_profile_get_or(req *r, const char *id,
                                  enum MHD_Result (*fallback)(req *, tsr_store *, const char *),
                                  tsr_store *st);
enum MHD_Result rt_changes_sse(req *r);
#endif
