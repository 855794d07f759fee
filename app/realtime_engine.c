/*
 * realtime_engine.c - the real-time engine (tessera/realtime_app.h): the
 * durable event log first (one store transaction per batch), then the live
 * table, the re-scoring at the event's day and the segment changes.
 */
#include "internal.h"
#include "tessera/realtime_app.h"

#include <string.h>

struct tsr_rt_engine {
  tsr_store *store;
  tsr_rt_log *log;
  tsr_rt_scorer *scorer;
  tsr_rt_table *table;
  int readonly;
};

unsigned tsr_rt_partition(const char *id, unsigned nparts) {
  if (nparts <= 1) return 0;
  uint64_t h = 1469598103934665603ULL;
  for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
    h ^= *p;
    h *= 1099511628211ULL;
  }
  return (unsigned)(h % nparts);
}

void tsr_rt_engine_close(tsr_rt_engine *e) {
  if (!e) return;
  tsr_rt_log_close(e->log);
  tsr_rt_table_free(e->table);
  tsr_rt_scorer_free(e->scorer);
  tsr_store_close(e->store);
  tsr__free(e);
}

tsr_rt_table *tsr_rt_engine_table(tsr_rt_engine *e) { return e->table; }
const tsr_rt_scorer *tsr_rt_engine_scorer(tsr_rt_engine *e) { return e->scorer; }

/* Sets the published segment and cluster of a state from a scoring. */
static void mark(tsr_rt_state *s, const tsr_rt_scores *r) {
  s->segment = (int16_t)r->segment;
  s->cluster = (int16_t)r->cluster;
}

tsr_status tsr_rt_engine_open(const char *url, unsigned flags, tsr_rt_engine **out,
                              tsr_error *err) {
  *out = NULL;
  tsr_rt_engine *e = tsr__calloc(1, sizeof *e);
  if (!e) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  e->readonly = (flags & TSR_RT_READONLY) != 0;
  tsr_status st = tsr_store_open(url, 0, &e->store, err);
  if (st == TSR_OK) st = tsr_rt_log_open(e->store, &e->log, err);
  if (st == TSR_OK) st = tsr_rt_scorer_from_store(e->store, &e->scorer, err);
  if (st == TSR_OK) st = tsr_rt_table_new(&e->table, err);
  if (st == TSR_OK && !e->readonly) st = tsr_rt_table_load(e->table, tsr_rt_scorer_opts(e->scorer), e->log, err);
  /* the segments as of each customer's latest event, so that the first
   * change after a restart is measured against them */
  for (size_t i = 0; st == TSR_OK && i < tsr_rt_table_size(e->table); i++) {
    tsr_rt_state *s = tsr_rt_table_state(e->table, i);
    tsr_rt_scores r;
    if (s->open_day != TSR_RT_NODAY &&
        tsr_rt_score(e->scorer, tsr_rt_table_id(e->table, i), s, s->open_day, &r, NULL) == TSR_OK)
      mark(s, &r);
  }
  if (st != TSR_OK) {
    tsr_rt_engine_close(e);
    return st;
  }
  *out = e;
  return TSR_OK;
}

tsr_status tsr_rt_engine_ingest(tsr_rt_engine *e, const tsr_rt_event *evs, size_t n,
                                unsigned char *applied, tsr_rt_change_cb cb, void *ud,
                                tsr_error *err) {
  if (e->readonly)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "real-time engine opened read-only");
  tsr_status st = tsr_store_begin(e->store, err);
  for (size_t i = 0; st == TSR_OK && i < n; i++) {
    int fresh = 0;
    st = tsr_rt_log_add(e->log, &evs[i], &fresh, err);
    applied[i] = (unsigned char)fresh;
  }
  if (st == TSR_OK) st = tsr_store_commit(e->store, err);
  if (st != TSR_OK) {
    tsr_store_rollback(e->store, NULL);
    return st;
  }
  const tsr_rt_opts *o = tsr_rt_scorer_opts(e->scorer);
  const tsr_rfm_scheme *sch = tsr_rt_scorer_scheme(e->scorer);
  for (size_t i = 0; i < n; i++) {
    if (!applied[i]) continue;
    const tsr_rt_event *ev = &evs[i];
    tsr_rt_state *s = NULL;
    st = tsr_rt_table_apply(e->table, o, e->log, ev, &s, err);
    if (st != TSR_OK) return st;
    if (ev->type != TSR_RT_TRANSACTION) continue;
    tsr_rt_scores r;
    int64_t at = ev->day > s->open_day ? ev->day : s->open_day;
    if (tsr_rt_score(e->scorer, ev->customer_id, s, at, &r, NULL) != TSR_OK) continue;
    if (r.segment != s->segment || r.cluster != s->cluster) {
      tsr_rt_change c;
      c.customer_id = ev->customer_id;
      c.old_segment = s->segment >= 0 ? tsr_rfm_scheme_segment_name(sch, (size_t)s->segment) : NULL;
      c.new_segment = r.segment_name;
      c.old_cluster = s->cluster;
      c.new_cluster = r.cluster;
      c.scores = &r;
      c.event = ev;
      mark(s, &r);
      if (cb) cb(ud, &c);
    }
  }
  return TSR_OK;
}

typedef struct prof_ctx {
  tsr_rt_state s;
  const tsr_rt_opts *o;
  tsr_rt_table *t;
  int any;
} prof_ctx;

static int prof_cb(void *ctx, const tsr_rt_event *ev) {
  prof_ctx *x = ctx;
  x->any = 1;
  tsr_rt_state_event(&x->s, x->o, x->t, ev);
  return 0;
}

tsr_status tsr_rt_engine_profile(tsr_rt_engine *e, const char *id, int64_t at, char **json,
                                 tsr_error *err) {
  *json = NULL;
  prof_ctx x;
  tsr_rt_state_init(&x.s);
  x.o = tsr_rt_scorer_opts(e->scorer);
  x.any = 0;
  x.t = e->table;
  tsr_status st = tsr_rt_log_list(e->log, id, prof_cb, &x, err);
  if (st != TSR_OK) return st;
  if (!x.any) return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "customer '%s': no events", id);
  return tsr_rt_profile_json(e->scorer, e->table, id, &x.s, at, json, err);
}
