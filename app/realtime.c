/*
 * realtime.c - the real-time path's application layer
 * (tessera/realtime_app.h): event parsing and validation, the scorer of an
 * analysis or of the store's models, the durable event log (SQLite table
 * rt_events, created when missing) and the live table over it.
 */
#include "internal.h"
#include "tessera/datetime.h"
#include "tessera/realtime_app.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ events */

static tsr_status ev_fail(tsr_error *err, tsr_status code, int64_t line, const char *field,
                          const char *what, const char *got) {
  char g[64];
  size_t n = got ? strlen(got) : 0;
  snprintf(g, sizeof g, "%.*s%s", (int)(n > 48 ? 48 : n), got ? got : "", n > 48 ? "..." : "");
  if (got)
    return tsr_error_set(err, code, "event", line, 0, field, "expected %s, got '%s'", what, g);
  return tsr_error_set(err, code, "event", line, 0, field, "expected %s", what);
}

/* A text field: JSON string (trimmed) or integer (decimal text). 1 when
 * present; -1 for another JSON type. */
static int text_field(json_t *o, const char *k, char *buf, size_t cap, size_t *len) {
  json_t *j = json_object_get(o, k);
  if (!j || json_is_null(j)) return 0;
  if (json_is_integer(j)) {
    *len = (size_t)snprintf(buf, cap, "%lld", (long long)json_integer_value(j));
    return 1;
  }
  if (!json_is_string(j)) return -1;
  const char *s = json_string_value(j);
  size_t n = json_string_length(j);
  while (n && isspace((unsigned char)*s)) s++, n--;
  while (n && isspace((unsigned char)s[n - 1])) n--;
  if (n >= cap) {
    *len = n;
    return 2; /* too long */
  }
  memcpy(buf, s, n);
  buf[n] = 0;
  *len = n;
  return 1;
}

tsr_status tsr_rt_event_parse(const char *line, size_t len, int64_t ln, tsr_rt_event *ev,
                              tsr_error *err) {
  memset(ev, 0, sizeof *ev);
  if (len > TSR_RT_MAX_LINE)
    return tsr_error_set(err, TSR_ELIMIT, "event", ln, 0, NULL,
                         "expected an event of at most %d bytes, got %zu", TSR_RT_MAX_LINE, len);
  json_error_t je;
  json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
  if (!o) return tsr_error_set(err, TSR_EPARSE, "event", ln, je.column, NULL, "%s", je.text);
  tsr_status st = TSR_OK;
  char buf[TSR_INGEST_MAX_ID + 2];
  size_t n = 0;
  if (!json_is_object(o)) {
    st = ev_fail(err, TSR_EPARSE, ln, NULL, "a JSON object", NULL);
    goto out;
  }
  int r = text_field(o, "type", buf, sizeof buf, &n);
  if (r == 0 || (r == 1 && !strcmp(buf, "transaction"))) ev->type = TSR_RT_TRANSACTION;
  else if (r == 1 && !strcmp(buf, "product")) ev->type = TSR_RT_PRODUCT;
  else if (r == 1 && !strcmp(buf, "interaction")) ev->type = TSR_RT_INTERACTION;
  else {
    st = ev_fail(err, TSR_EPARSE, ln, "type", "transaction, product or interaction",
                 r == 1 ? buf : "(not a string)");
    goto out;
  }
  r = text_field(o, "customer_id", ev->customer_id, sizeof ev->customer_id, &n);
  if (r == 2) {
    st = tsr_error_set(err, TSR_ELIMIT, "event", ln, 0, "customer_id",
                       "expected at most %d bytes, got %zu", TSR_INGEST_MAX_ID, n);
    goto out;
  }
  if (r != 1 || n == 0) {
    st = ev_fail(err, TSR_EPARSE, ln, "customer_id", "a non-empty id", r == 1 ? "" : NULL);
    goto out;
  }
  const char *tk = json_object_get(o, "timestamp") ? "timestamp" : "date";
  r = text_field(o, tk, buf, sizeof buf, &n);
  if (r != 1) {
    st = ev_fail(err, TSR_EPARSE, ln, tk, "an ISO 8601 date or timestamp", NULL);
    goto out;
  }
  tsr_status ds = tsr_datetime_parse(buf, n, NULL, &ev->ts);
  if (ds != TSR_OK) {
    st = ev_fail(err, ds, ln, tk,
                 ds == TSR_ERANGE ? "a date in 1970..2100" : "an ISO 8601 date or timestamp", buf);
    goto out;
  }
  ev->day = ev->ts >= 0 ? ev->ts / 86400 : -((-ev->ts + 86399) / 86400);
  r = text_field(o, "transaction_id", ev->key, sizeof ev->key, &n);
  if (r == 2 || r == -1) {
    st = ev_fail(err, r == 2 ? TSR_ELIMIT : TSR_EPARSE, ln, "transaction_id",
                 r == 2 ? "at most 256 bytes" : "a string or integer", NULL);
    goto out;
  }
  if (ev->type == TSR_RT_TRANSACTION) {
    json_t *a = json_object_get(o, "amount");
    if (json_is_number(a)) {
      ev->amount = json_number_value(a);
    } else if (json_is_string(a)) {
      tsr_status as = tsr_amount_parse(json_string_value(a), json_string_length(a), &ev->amount);
      if (as != TSR_OK) {
        st = ev_fail(err, as, ln, "amount", "a number", json_string_value(a));
        goto out;
      }
    } else {
      st = ev_fail(err, TSR_EPARSE, ln, "amount", "a number", NULL);
      goto out;
    }
    if (!isfinite(ev->amount)) {
      st = ev_fail(err, TSR_ERANGE, ln, "amount", "a finite number", NULL);
      goto out;
    }
  } else {
    const char *dk = ev->type == TSR_RT_PRODUCT
                         ? (json_object_get(o, "product_opened") ? "product_opened" : "product")
                         : "channel";
    r = text_field(o, dk, ev->detail, sizeof ev->detail, &n);
    if (r == 2 || r == -1 || (ev->type == TSR_RT_PRODUCT && (r != 1 || n == 0))) {
      st = ev_fail(err, r == 2 ? TSR_ELIMIT : TSR_EPARSE, ln, dk,
                   r == 2 ? "at most 127 bytes" : "a product name", NULL);
      goto out;
    }
    if (ev->type == TSR_RT_PRODUCT) {
      char act[16];
      int ra = text_field(o, "event", act, sizeof act, &n);
      if (ra == 0 || (ra == 1 && (!strcmp(act, "open") || !strcmp(act, "opened")))) ev->amount = 1;
      else if (ra == 1 && (!strcmp(act, "close") || !strcmp(act, "closed"))) ev->amount = -1;
      else {
        st = ev_fail(err, TSR_EPARSE, ln, "event", "open or close", ra == 1 ? act : NULL);
        goto out;
      }
    }
  }
out:
  json_decref(o);
  return st;
}

/* ================================================================ scorer */

tsr_status tsr_rt_scorer_from_analysis(const tsr_analyze_result *r, const tsr_analyze_opts *o,
                                       tsr_rt_scorer **out, tsr_error *err) {
  *out = NULL;
  size_t n = r->summary->n;
  const char **ids = tsr__malloc((n ? n : 1) * sizeof *ids);
  double *gap = tsr__malloc((n ? n : 1) * sizeof *gap);
  double *fr = tsr__malloc((n ? n : 1) * sizeof *fr);
  double *mon = tsr__malloc((n ? n : 1) * sizeof *mon);
  tsr_status st = TSR_OK;
  if (!ids || !gap || !fr || !mon) st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  for (size_t i = 0; st == TSR_OK && i < n; i++) {
    const tsr_summary_row *w = &r->summary->rows[i];
    ids[i] = w->customer_id;
    gap[i] = w->T - w->recency;
    fr[i] = w->frequency;
    mon[i] = w->revenue;
  }
  if (st == TSR_OK) {
    tsr_rt_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.opts.freq = r->summary->opts.freq;
    sp.opts.multiplier = r->summary->opts.multiplier;
    sp.opts.refunds = r->summary->opts.refunds;
    sp.model = r->has_model ? &r->model : NULL;
    sp.spend = r->has_spend ? &r->spend : NULL;
    sp.horizon_periods = r->horizon_periods;
    sp.discount = o->discount;
    sp.level = o->level;
    sp.churn_threshold = o->churn_threshold;
    sp.scheme = o->scheme;
    sp.cluster = r->clusters ? r->clusters->model : NULL;
    sp.n = n;
    sp.ids = ids;
    sp.gap = gap;
    sp.frequency = fr;
    sp.monetary = mon;
    st = tsr_rt_scorer_build(&sp, out, err);
  }
  tsr__free(ids);
  tsr__free(gap);
  tsr__free(fr);
  tsr__free(mon);
  return st;
}

typedef struct ref_row {
  char *id;
  double gap, fr, mon;
} ref_row;

typedef struct ref_ctx {
  ref_row *rows;
  size_t n, cap;
  int failed;
} ref_ctx;

static int ref_cb(void *ctx, const tsr_customer *c) {
  ref_ctx *x = ctx;
  void *b = x->rows;
  if (tsr__grow(&b, &x->cap, x->n + 1, sizeof *x->rows) != TSR_OK) {
    x->failed = 1;
    return 1;
  }
  x->rows = b;
  ref_row *w = &x->rows[x->n];
  w->id = tsr__strdup(c->customer_id);
  if (!w->id) {
    x->failed = 1;
    return 1;
  }
  w->gap = c->T - c->recency;
  w->fr = c->frequency;
  w->mon = c->revenue;
  x->n++;
  return 0;
}

static int ref_cmp(const void *a, const void *b) {
  return tsr_rt_id_cmp(((const ref_row *)a)->id, ((const ref_row *)b)->id);
}

typedef struct model_pick {
  tsr_model *m; /* copy of the wanted row's fields */
  int64_t id, run_id, created_at;
  char kind[32];
  char *params;
} model_pick;

static int pick_cb(void *ctx, const tsr_model *m) {
  model_pick *p = ctx;
  if (p->params && m->id <= p->id) return 0;
  tsr__free(p->params);
  p->params = tsr__strdup(m->params ? m->params : "");
  p->id = m->id;
  p->run_id = m->run_id;
  snprintf(p->kind, sizeof p->kind, "%s", m->kind);
  return 0;
}

static double jnum(json_t *o, const char *k, double def) {
  json_t *j = json_object_get(o, k);
  return json_is_number(j) ? json_number_value(j) : def;
}

tsr_status tsr_rt_scorer_from_store(tsr_store *s, tsr_rt_scorer **out, tsr_error *err) {
  *out = NULL;
  static const char *const kinds[3] = {"bgnbd", "mbgnbd", "pnbd"};
  model_pick bt;
  memset(&bt, 0, sizeof bt);
  /* the promoted BTYD model; without one, the newest fitted */
  for (int k = 0; k < 3; k++) {
    tsr_model *m = NULL;
    if (tsr_store_model_promoted(s, kinds[k], &m, NULL) == TSR_OK) {
      pick_cb(&bt, m);
      tsr_store_free(m);
    }
  }
  tsr_status st = TSR_OK;
  if (!bt.params)
    for (int k = 0; k < 3 && st == TSR_OK; k++) st = tsr_store_models_list(s, 0, kinds[k], pick_cb, &bt, err);
  if (st != TSR_OK) return st;
  if (!bt.params)
    return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL,
                         "no BTYD model in the store: run `tessera analyze` first");
  model_pick gg, cl;
  memset(&gg, 0, sizeof gg);
  memset(&cl, 0, sizeof cl);
  tsr_run *run = NULL;
  ref_ctx ref;
  memset(&ref, 0, sizeof ref);
  tsr_btyd_model model, spend;
  tsr_cluster_model *cm = NULL;
  json_t *params = NULL;
  st = tsr_store_models_list(s, bt.run_id, "gg", pick_cb, &gg, err);
  static const char *const ckinds[3] = {"kmeans", "gmm", "dbscan"};
  for (int k = 0; k < 3 && st == TSR_OK; k++) st = tsr_store_models_list(s, bt.run_id, ckinds[k], pick_cb, &cl, err);
  if (st == TSR_OK) st = tsr_store_run_get(s, bt.run_id, &run, err);
  if (st == TSR_OK) st = tsr_btyd_model_from_json(bt.params, strlen(bt.params), bt.kind, &model, err);
  if (st == TSR_OK && gg.params) st = tsr_btyd_model_from_json(gg.params, strlen(gg.params), "gg", &spend, err);
  if (st == TSR_OK && cl.params) st = tsr_cluster_model_from_json(cl.params, strlen(cl.params), cl.kind, &cm, err);
  if (st == TSR_OK) {
    tsr_customer_query q;
    tsr_customer_query_init(&q, bt.run_id);
    st = tsr_store_customers_list(s, &q, ref_cb, &ref, err);
    if (st == TSR_OK && ref.failed) st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  if (st == TSR_OK) {
    params = run->params ? json_loads(run->params, 0, NULL) : NULL;
    qsort(ref.rows, ref.n, sizeof *ref.rows, ref_cmp);
    const char **ids = tsr__malloc((ref.n + 1) * sizeof *ids);
    double *v = tsr__malloc((3 * ref.n + 1) * sizeof *v);
    if (!ids || !v) st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    for (size_t i = 0; st == TSR_OK && i < ref.n; i++) {
      ids[i] = ref.rows[i].id;
      v[i] = ref.rows[i].gap;
      v[ref.n + i] = ref.rows[i].fr;
      v[2 * ref.n + i] = ref.rows[i].mon;
    }
    if (st == TSR_OK) {
      tsr_rt_spec sp;
      memset(&sp, 0, sizeof sp);
      tsr_rt_opts_init(&sp.opts);
      const char *fq = json_string_value(json_object_get(params, "freq"));
      if (fq) tsr_freq_parse(fq, &sp.opts.freq);
      sp.opts.multiplier = jnum(params, "freq_multiplier", 7);
      const char *rf = json_string_value(json_object_get(params, "refunds"));
      sp.opts.refunds = rf && !strcmp(rf, "net") ? TSR_REFUNDS_NET : TSR_REFUNDS_EXCLUDE;
      double pd = sp.opts.multiplier *
                  (sp.opts.freq == TSR_FREQ_D ? 1 : sp.opts.freq == TSR_FREQ_W ? 7 : 30.4375);
      tsr_horizon_unit u = TSR_UNIT_MONTHS;
      const char *us = json_string_value(json_object_get(params, "unit"));
      if (us) tsr_unit_parse(us, &u);
      sp.horizon_periods = jnum(params, "horizon", 12) * tsr_unit_days(u, pd) / pd;
      sp.discount = jnum(params, "discount", 0.01);
      sp.level = 0.95;
      sp.churn_threshold = 0.5;
      sp.scheme = json_string_value(json_object_get(params, "scheme"));
      sp.model = &model;
      sp.spend = gg.params ? &spend : NULL;
      sp.cluster = cm;
      sp.n = ref.n;
      sp.ids = ids;
      sp.gap = v;
      sp.frequency = v + ref.n;
      sp.monetary = v + 2 * ref.n;
      st = tsr_rt_scorer_build(&sp, out, err);
    }
    tsr__free(ids);
    tsr__free(v);
  }
  json_decref(params);
  for (size_t i = 0; i < ref.n; i++) tsr__free(ref.rows[i].id);
  tsr__free(ref.rows);
  tsr_cluster_model_free(cm);
  tsr_store_free(run);
  tsr__free(bt.params);
  tsr__free(gg.params);
  tsr__free(cl.params);
  return st;
}

/* ================================================================ live table */

tsr_status tsr_rt_state_event(tsr_rt_state *s, const tsr_rt_opts *o, tsr_rt_table *t,
                              const tsr_rt_event *ev) {
  if (ev->type == TSR_RT_TRANSACTION) return tsr_rt_apply(s, o, ev->day, ev->amount);
  if (ev->type == TSR_RT_PRODUCT) {
    s->n_products++;
    int bit = t ? tsr_rt_table_product_bit(t, ev->detail) : -1;
    if (bit >= 0) {
      if (ev->amount < 0) s->products_held &= ~((uint64_t)1 << bit);
      else s->products_held |= (uint64_t)1 << bit;
    }
  } else {
    s->n_interactions++;
    if (ev->day > s->last_contact_day) s->last_contact_day = (int32_t)ev->day;
  }
  return TSR_OK;
}

static void apply_one(tsr_rt_state *s, const tsr_rt_opts *o, tsr_rt_table *t,
                      const tsr_rt_event *ev, int *late) {
  if (tsr_rt_state_event(s, o, t, ev) == TSR_ERANGE) *late = 1;
}

typedef struct rebuild_ctx {
  tsr_rt_state *s;
  const tsr_rt_opts *o;
  tsr_rt_table *t;
  tsr_rt_table *reg; /* product registry */
  char last[TSR_INGEST_MAX_ID + 1];
  int late;
} rebuild_ctx;

static int rebuild_cb(void *ctx, const tsr_rt_event *ev) {
  rebuild_ctx *x = ctx;
  if (x->t && strcmp(x->last, ev->customer_id)) {
    x->s = tsr_rt_table_get(x->t, ev->customer_id, 1);
    if (!x->s) return 1;
    snprintf(x->last, sizeof x->last, "%s", ev->customer_id);
  }
  apply_one(x->s, x->o, x->reg, ev, &x->late);
  return 0;
}

tsr_status tsr_rt_table_apply(tsr_rt_table *t, const tsr_rt_opts *o, tsr_rt_log *l,
                              const tsr_rt_event *ev, tsr_rt_state **state, tsr_error *err) {
  tsr_rt_state *s = tsr_rt_table_get(t, ev->customer_id, 1);
  if (!s) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  if (state) *state = s;
  int late = 0;
  apply_one(s, o, t, ev, &late);
  if (!late) return TSR_OK;
  if (!l)
    return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, NULL,
                         "customer '%s': event earlier than its latest (no log to rebuild from)",
                         ev->customer_id);
  /* late: rebuild from the stored events of this customer (day order) */
  int16_t seg = s->segment, cl = s->cluster;
  tsr_rt_state_init(s);
  s->segment = seg;
  s->cluster = cl;
  rebuild_ctx x;
  memset(&x, 0, sizeof x);
  x.s = s;
  x.o = o;
  x.reg = t;
  return tsr_rt_log_list(l, ev->customer_id, rebuild_cb, &x, err);
}

tsr_status tsr_rt_table_load(tsr_rt_table *t, const tsr_rt_opts *o, tsr_rt_log *l, tsr_error *err) {
  rebuild_ctx x;
  memset(&x, 0, sizeof x);
  x.o = o;
  x.t = t;
  x.reg = t;
  x.last[0] = 0;
  x.last[1] = 1; /* no id matches before the first */
  tsr_status st = tsr_rt_log_list(l, NULL, rebuild_cb, &x, err);
  if (st == TSR_OK && x.t && x.late)
    st = tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "event log out of order");
  return st;
}

/* ================================================================ profile */

static json_t *jreal(double v) { return isfinite(v) ? json_real(v) : json_null(); }

tsr_status tsr_rt_profile_json(const tsr_rt_scorer *sc, const tsr_rt_table *t, const char *id,
                               const tsr_rt_state *s, int64_t at, char **out, tsr_error *err) {
  *out = NULL;
  tsr_rt_scores r;
  tsr_status st = tsr_rt_score(sc, id, s, at, &r, err);
  if (st != TSR_OK && st != TSR_ENOTFOUND) return st;
  char d0[11], d1[11], d2[11], d3[11];
  json_t *o = json_object();
  json_object_set_new(o, "customer_id", json_string(id));
  json_object_set_new(o, "at", json_string(tsr_day_format(at, d0)));
  json_object_set_new(o, "has_purchase", json_boolean(st == TSR_OK));
  json_object_set_new(o, "last_event", s->open_day == TSR_RT_NODAY ? json_null()
                                                                   : json_string(tsr_day_format(s->open_day, d3)));
  json_t *sm = json_object();
  json_object_set_new(sm, "frequency", json_real(r.row.frequency));
  json_object_set_new(sm, "recency", json_real(r.row.recency));
  json_object_set_new(sm, "T", json_real(r.row.T));
  json_object_set_new(sm, "monetary_value", json_real(r.row.monetary_value));
  json_object_set_new(sm, "revenue", json_real(r.row.revenue));
  json_object_set_new(sm, "n_transactions", json_integer(r.row.n_transactions));
  json_object_set_new(sm, "active_days", json_integer(r.row.active_days));
  json_object_set_new(sm, "first_purchase", st == TSR_OK ? json_string(tsr_day_format(r.row.first_day, d1)) : json_null());
  json_object_set_new(sm, "last_purchase", st == TSR_OK ? json_string(tsr_day_format(r.row.last_day, d2)) : json_null());
  json_object_set_new(sm, "refunds", json_integer(r.row.n_refunds));
  json_object_set_new(sm, "refund_amount", json_real(r.row.refund_amount));
  json_object_set_new(sm, "products", json_integer(s->n_products));
  json_object_set_new(sm, "interactions", json_integer(s->n_interactions));
  char d4[11];
  json_object_set_new(sm, "last_interaction", s->last_contact_day == TSR_RT_NODAY
                                                  ? json_null()
                                                  : json_string(tsr_day_format(s->last_contact_day, d4)));
  json_t *held = json_array();
  for (int b = 0; b < 64; b++)
    if (s->products_held >> b & 1) {
      const char *pn = t ? tsr_rt_table_product_name(t, b) : NULL;
      if (pn) json_array_append_new(held, json_string(pn));
    }
  json_object_set_new(sm, "products_held", held);
  json_object_set_new(o, "summary", sm);
  if (st == TSR_OK) {
    json_t *sco = json_object();
    json_object_set_new(sco, "r", json_integer(r.r));
    json_object_set_new(sco, "f", json_integer(r.f));
    json_object_set_new(sco, "m", json_integer(r.m));
    json_object_set_new(sco, "rfm_cell", json_string(r.cell));
    json_object_set_new(sco, "expected_purchases", jreal(r.expected));
    json_object_set_new(sco, "p_alive", jreal(r.p_alive));
    json_object_set_new(sco, "clv", jreal(r.clv));
    json_object_set_new(sco, "churned", json_boolean(r.churned));
    json_object_set_new(o, "scores", sco);
    json_object_set_new(o, "segment", r.segment_name ? json_string(r.segment_name) : json_null());
    json_object_set_new(o, "cluster", r.cluster >= 0 ? json_integer(r.cluster) : json_null());
  }
  *out = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(o);
  if (!*out) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  return TSR_OK;
}
