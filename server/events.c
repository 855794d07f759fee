/*
 * events.c - the real-time endpoints of the HTTP API (server/events.h,
 * docs/realtime.md). One real-time engine per server process, opened on
 * first use over the server's database and serialised by a mutex; the
 * segment changes of the events posted here are kept in a ring for the
 * server-sent-events endpoint.
 */
#include "events.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tessera/datetime.h"
#include "tessera/realtime_app.h"

#define RING 1024

static struct {
  pthread_mutex_t mu; /* the engine */
  tsr_rt_engine *eng;
  atomic_int waiting;
  /* changes ring */
  pthread_mutex_t cmu;
  pthread_cond_t ccv;
  char *ring[RING];
  uint64_t seq; /* changes published so far */
  atomic_int sse_clients;
} RT = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
        {0}, 0, 0};

static enum MHD_Result send_busy(srv_req *r, const char *why) {
  json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", "EBUSY", "message", why);
  char *s = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_COPY);
  free(s);
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, "Retry-After", "1");
  return srv_send_response(r, 503, resp, "application/json");
}

static enum MHD_Result send_tsr(srv_req *r, tsr_status st, const tsr_error *e) {
  char msg[1200];
  if (e && e->code != TSR_OK) tsr_error_format(e, msg, sizeof msg);
  else snprintf(msg, sizeof msg, "%s", tsr_strerror(st));
  return srv_send_error(r, srv_status_http(st), tsr_status_name(st), "%s", msg);
}

/* Locks the engine (opening it on first use). 0 ok; else the response was sent. */
static int lock_engine(srv_req *r, enum MHD_Result *ret) {
  if (atomic_fetch_add(&RT.waiting, 1) >= SRV_RT_MAX_WAITING) {
    atomic_fetch_sub(&RT.waiting, 1);
    *ret = send_busy(r, "too many event batches waiting for the store: retry later");
    return -1;
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += SRV_RT_LOCK_WAIT_MS / 1000;
  ts.tv_nsec += (long)(SRV_RT_LOCK_WAIT_MS % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  int rc = pthread_mutex_timedlock(&RT.mu, &ts);
  atomic_fetch_sub(&RT.waiting, 1);
  if (rc != 0) {
    *ret = send_busy(r, "the store is falling behind: retry later");
    return -1;
  }
  if (!RT.eng) {
    tsr_error e;
    tsr_status st = tsr_rt_engine_open(r->S->db, 0, &RT.eng, &e);
    if (st != TSR_OK) {
      pthread_mutex_unlock(&RT.mu);
      *ret = send_tsr(r, st, &e);
      return -1;
    }
  }
  return 0;
}

typedef struct post_ctx {
  json_t *changes; /* array of change objects, published after the batch */
} post_ctx;

static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static void change_cb(void *ud, const tsr_rt_change *c) {
  post_ctx *x = ud;
  char at[11], day[11];
  json_t *o = json_pack(
      "{s:s,s:o,s:o,s:o,s:o,s:{s:i,s:i,s:i,s:s,s:o,s:o,s:o},s:s,s:{s:s,s:s,s:f,s:s}}",
      "customer_id", c->customer_id, "old_segment",
      c->old_segment ? json_string(c->old_segment) : json_null(), "new_segment",
      c->new_segment ? json_string(c->new_segment) : json_null(), "old_cluster",
      c->old_cluster >= 0 ? json_integer(c->old_cluster) : json_null(), "new_cluster",
      c->new_cluster >= 0 ? json_integer(c->new_cluster) : json_null(), "scores", "r",
      c->scores->r, "f", c->scores->f, "m", c->scores->m, "rfm_cell", c->scores->cell,
      "p_alive", jnum(c->scores->p_alive), "expected_purchases", jnum(c->scores->expected),
      "clv", jnum(c->scores->clv), "at", tsr_day_format(c->scores->at, at), "event", "type",
      "transaction", "date", tsr_day_format(c->event->day, day), "amount", c->event->amount,
      "transaction_id", c->event->key);
  if (o) json_array_append_new(x->changes, o);
}

static void publish(json_t *changes) {
  size_t n = json_array_size(changes);
  if (!n) return;
  pthread_mutex_lock(&RT.cmu);
  for (size_t i = 0; i < n; i++) {
    char *s = json_dumps(json_array_get(changes, i), JSON_COMPACT);
    if (!s) continue;
    size_t k = (size_t)(RT.seq % RING);
    free(RT.ring[k]);
    RT.ring[k] = s;
    RT.seq++;
  }
  pthread_cond_broadcast(&RT.ccv);
  pthread_mutex_unlock(&RT.cmu);
}

/* POST /api/v1/events (analyst: checked by the route table) */
enum MHD_Result srv_rt_events_post(srv_req *r) {
  enum MHD_Result ret;
  const char *b = r->body ? r->body : "";
  size_t len = r->body ? r->body_len : 0;
  /* lines */
  size_t nl = 0;
  for (size_t i = 0; i < len; i++) nl += b[i] == '\n';
  size_t cap = nl + 1;
  if (cap > SRV_RT_MAX_LINES + 1)
    return srv_send_error(r, 413, "ELIMIT", "expected at most %d events per request, got %zu lines",
                      SRV_RT_MAX_LINES, nl);
  tsr_rt_event *evs = malloc(cap * sizeof *evs);
  int64_t *line_of = malloc(cap * sizeof *line_of);
  unsigned char *applied = malloc(cap);
  json_t *results = json_array();
  if (!evs || !line_of || !applied || !results) {
    free(evs);
    free(line_of);
    free(applied);
    json_decref(results);
    return srv_send_error(r, 500, "ENOMEM", "out of memory");
  }
  size_t nv = 0, nrej = 0;
  int64_t ln = 0;
  json_t **slot = calloc(cap, sizeof *slot);
  for (size_t at = 0; at < len;) {
    const char *e = memchr(b + at, '\n', len - at);
    size_t l = e ? (size_t)(e - (b + at)) : len - at;
    ln++;
    const char *line = b + at;
    at += l + (e ? 1 : 0);
    size_t ll = l;
    if (ll && line[ll - 1] == '\r') ll--;
    size_t k = 0;
    while (k < ll && (line[k] == ' ' || line[k] == '\t')) k++;
    if (k == ll) continue; /* blank line */
    tsr_error err;
    tsr_error_clear(&err);
    if (tsr_rt_event_parse(line, ll, ln, &evs[nv], &err) != TSR_OK) {
      char msg[1200];
      tsr_error_format(&err, msg, sizeof msg);
      json_array_append_new(results, json_pack("{s:I,s:s,s:s,s:s}", "line", (json_int_t)ln, "status",
                                               "rejected", "field", err.field, "error", msg));
      nrej++;
      continue;
    }
    line_of[nv] = ln;
    json_t *o = json_pack("{s:I,s:s}", "line", (json_int_t)ln, "status", "accepted");
    json_array_append_new(results, o);
    slot[nv] = o;
    nv++;
  }
  size_t ndup = 0, nchg = 0;
  if (nv) {
    if (lock_engine(r, &ret)) {
      free(evs);
      free(line_of);
      free(applied);
      free(slot);
      json_decref(results);
      return ret;
    }
    post_ctx x = {json_array()};
    tsr_error err;
    tsr_status st = tsr_rt_engine_ingest(RT.eng, evs, nv, applied, change_cb, &x, &err);
    pthread_mutex_unlock(&RT.mu);
    if (st != TSR_OK) {
      json_decref(x.changes);
      free(evs);
      free(line_of);
      free(applied);
      free(slot);
      json_decref(results);
      if (st == TSR_ESTORE) return send_busy(r, "the store is busy: retry later (nothing was stored)");
      return send_tsr(r, st, &err);
    }
    for (size_t i = 0; i < nv; i++)
      if (!applied[i]) {
        json_object_set_new(slot[i], "status", json_string("duplicate"));
        ndup++;
      }
    nchg = json_array_size(x.changes);
    publish(x.changes);
    json_decref(x.changes);
  }
  free(evs);
  free(line_of);
  free(applied);
  free(slot);
  return srv_send_json(r, 200, json_pack("{s:I,s:I,s:I,s:I,s:o}", "accepted", (json_int_t)(nv - ndup),
                                     "duplicates", (json_int_t)ndup, "rejected", (json_int_t)nrej,
                                     "segment_changes", (json_int_t)nchg, "results", results));
}

enum MHD_Result srv_rt_profile_get(srv_req *r, const char *id) { return srv_rt_profile_get_or(r, id, NULL, NULL); }

/* The live profile; a customer without events gets fallback(r, st, id)
 * (the profile of the newest bundle analysis) when fallback is given. */
enum MHD_Result srv_rt_profile_get_or(srv_req *r, const char *id,
                                  enum MHD_Result (*fallback)(srv_req *, tsr_store *, const char *),
                                  tsr_store *store) {
  enum MHD_Result ret;
  int64_t at = (int64_t)time(NULL) / 86400;
  const char *as = srv_req_arg(r, "at");
  if (as && *as) {
    int64_t ts;
    if (tsr_datetime_parse(as, strlen(as), NULL, &ts) != TSR_OK)
      return srv_send_error(r, 400, "EINVAL", "at: expected a date (YYYY-MM-DD) in 1970..2100, got '%.40s'", as);
    at = ts / 86400;
  }
  if (lock_engine(r, &ret)) return ret;
  char *js = NULL;
  tsr_error e;
  tsr_status st = tsr_rt_engine_profile(RT.eng, id, at, &js, &e);
  pthread_mutex_unlock(&RT.mu);
  if (st == TSR_ENOTFOUND && fallback) return fallback(r, store, id);
  if (st != TSR_OK) return send_tsr(r, st, &e);
  ret = srv_send_body(r, 200, "application/json", js, strlen(js));
  free(js);
  return ret;
}

/* ---------------------------------------------------------------- SSE */

typedef struct sse {
  uint64_t seq;     /* next change to send */
  double deadline;  /* srv_now() seconds; 0 = none */
  int hello;
} sse;

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)pos;
  sse *s = cls;
  if (!s->hello) {
    s->hello = 1;
    return snprintf(buf, max, ": tessera segment changes\nretry: 1000\n\n");
  }
  pthread_mutex_lock(&RT.cmu);
  if (RT.seq > s->seq + RING) s->seq = RT.seq - RING; /* fell behind: oldest kept */
  if (s->seq == RT.seq) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 1;
    pthread_cond_timedwait(&RT.ccv, &RT.cmu, &ts);
  }
  ssize_t n = 0;
  while (s->seq < RT.seq) {
    const char *c = RT.ring[s->seq % RING];
    size_t need = strlen(c) + 32;
    if ((size_t)n + need > max) break;
    n += snprintf(buf + n, max - (size_t)n, "id: %llu\ndata: %s\n\n", (unsigned long long)s->seq, c);
    s->seq++;
  }
  pthread_mutex_unlock(&RT.cmu);
  if (n == 0) {
    if (s->deadline > 0 && srv_now() >= s->deadline) return MHD_CONTENT_READER_END_OF_STREAM;
    n = snprintf(buf, max, ": keepalive\n\n");
  }
  return n;
}

static void sse_free(void *cls) {
  free(cls);
  atomic_fetch_sub(&RT.sse_clients, 1);
}

enum MHD_Result srv_rt_changes_sse(srv_req *r) {
  unsigned limit = r->S->cfg.threads > 1 ? r->S->cfg.threads - 1 : 1;
  if ((unsigned)atomic_fetch_add(&RT.sse_clients, 1) >= limit) {
    atomic_fetch_sub(&RT.sse_clients, 1);
    return send_busy(r, "too many segment-change listeners for the HTTP threads (see --threads)");
  }
  sse *s = calloc(1, sizeof *s);
  if (!s) {
    atomic_fetch_sub(&RT.sse_clients, 1);
    return srv_send_error(r, 500, "ENOMEM", "out of memory");
  }
  pthread_mutex_lock(&RT.cmu);
  s->seq = RT.seq;
  pthread_mutex_unlock(&RT.cmu);
  const char *from = srv_req_arg(r, "from");
  if (from && *from) s->seq = strtoull(from, NULL, 10);
  const char *to = srv_req_arg(r, "timeout");
  if (to && *to) {
    double t = atof(to);
    if (t > 0) s->deadline = srv_now() + t;
  }
  struct MHD_Response *resp =
      MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, sse_read, s, sse_free);
  if (!resp) {
    sse_free(s);
    return srv_send_error(r, 500, "ENOMEM", "out of memory");
  }
  return srv_send_response(r, 200, resp, "text/event-stream");
}
