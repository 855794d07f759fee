/*
 * events.h - the real-time endpoints of the HTTP API (server/events.c):
 *   POST /api/v1/events                     NDJSON events, per-line answers
 *   GET  /api/v1/profiles/{id}[?at=DATE]    the live profile
 *   GET  /api/v1/stream/segment-changes     server-sent events
 */
#ifndef TESSERA_SERVER_EVENTS_H
#define TESSERA_SERVER_EVENTS_H
#include "srv.h"

#define SRV_RT_MAX_LINES 10000  /* events per POST (the body is also <= SRV_MAX_BODY) */
#define SRV_RT_LOCK_WAIT_MS 2000 /* longer behind other batches: 503 + Retry-After */
#define SRV_RT_MAX_WAITING 16    /* batches queued for the engine at once, else 503 */

enum MHD_Result srv_rt_events_post(srv_req *r);
enum MHD_Result srv_rt_profile_get(srv_req *r, const char *id);
/* The live profile, or fallback(r, st, id) for a customer without events. */
enum MHD_Result srv_rt_profile_get_or(srv_req *r, const char *id,
                                  enum MHD_Result (*fallback)(srv_req *, tsr_store *, const char *),
                                  tsr_store *st);
enum MHD_Result srv_rt_changes_sse(srv_req *r);
#endif
