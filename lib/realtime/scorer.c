/*
 * scorer.c - re-scoring one customer's state with the promoted models
 * (tessera/realtime.h): BTYD closed forms, Gamma-Gamma CLV, the RFM cell by
 * stored cut points (value and tie-break id) and the cluster by the stored
 * model; its JSON form.
 */
#include "internal.h"
#include "tessera/datetime.h"
#include "tessera/realtime.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A cut point of a quintile score: the customer at sorted position
 * floor(t (n - 1) / 5), t = 1..4. (v, id) > cut means a score above t. */
typedef struct rt_cut {
  double v;
  char *id;
} rt_cut;

struct tsr_rt_scorer {
  tsr_rt_opts opts;
  int has_model, has_spend;
  tsr_btyd_model model, spend;
  double horizon_periods, discount, level, churn_threshold, period_days;
  char *scheme_name;
  tsr_rfm_scheme *scheme;
  tsr_cluster_model *cluster;
  size_t n;             /* reference customers */
  rt_cut cuts[3][4];    /* gap, frequency, monetary */
};

void tsr_rt_scorer_free(tsr_rt_scorer *sc) {
  if (!sc) return;
  for (int a = 0; a < 3; a++)
    for (int t = 0; t < 4; t++) tsr__free(sc->cuts[a][t].id);
  tsr__free(sc->scheme_name);
  tsr_rfm_scheme_free(sc->scheme);
  tsr_cluster_model_free(sc->cluster);
  tsr__free(sc);
}

const tsr_rt_opts *tsr_rt_scorer_opts(const tsr_rt_scorer *sc) { return &sc->opts; }
const tsr_rfm_scheme *tsr_rt_scorer_scheme(const tsr_rt_scorer *sc) { return sc->scheme; }

static double period_days(const tsr_rt_opts *o) {
  return o->multiplier * (o->freq == TSR_FREQ_D ? 1 : o->freq == TSR_FREQ_W ? 7 : 30.4375);
}

static tsr_status load_scheme(tsr_rt_scorer *sc, const char *name, tsr_error *err) {
  if (!name || !*name) name = "rf10";
  sc->scheme_name = tsr__strdup(name);
  if (!sc->scheme_name) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  if (!strcmp(name, "rf10") || !strcmp(name, "rfm11"))
    return tsr_rfm_scheme_builtin(name, &sc->scheme, err);
  return tsr_rfm_scheme_read(name, &sc->scheme, err);
}

/* Sorting of the reference population: value, then customer order (the
 * summary rows are in customer order, so the index decides ties). */
typedef struct keyed {
  double v;
  size_t i;
} keyed;

static int keyed_cmp(const void *a, const void *b) {
  const keyed *x = a, *y = b;
  if (x->v < y->v) return -1;
  if (x->v > y->v) return 1;
  return (x->i > y->i) - (x->i < y->i);
}

static tsr_status make_cuts(rt_cut cuts[4], const double *v, const char *const *ids, size_t n,
                            keyed *k, tsr_error *err) {
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(v[i]))
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                           "reference customer %zu: expected finite RFM inputs", i);
    k[i].v = v[i];
    k[i].i = i;
  }
  qsort(k, n, sizeof *k, keyed_cmp);
  for (int t = 1; t <= 4; t++) {
    size_t pos = n > 1 ? (size_t)((uint64_t)t * (n - 1) / 5) : 0;
    cuts[t - 1].v = k[pos].v;
    cuts[t - 1].id = tsr__strdup(ids[k[pos].i]);
    if (!cuts[t - 1].id) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  return TSR_OK;
}

tsr_status tsr_rt_scorer_build(const tsr_rt_spec *sp, tsr_rt_scorer **out, tsr_error *err) {
  *out = NULL;
  if (!(sp->opts.multiplier > 0))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "freq-multiplier",
                         "expected a number > 0, got %g", sp->opts.multiplier);
  if (sp->n == 0 || !sp->ids || !sp->gap || !sp->frequency || !sp->monetary)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "realtime scorer: expected a reference population (RFM cut points)");
  tsr_rt_scorer *sc = tsr__calloc(1, sizeof *sc);
  if (!sc) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  sc->opts = sp->opts;
  sc->period_days = period_days(&sp->opts);
  sc->horizon_periods = sp->horizon_periods;
  sc->discount = sp->discount;
  sc->level = sp->level > 0 && sp->level < 1 ? sp->level : 0.95;
  sc->churn_threshold = sp->churn_threshold;
  sc->n = sp->n;
  if (sp->model) {
    sc->model = *sp->model;
    sc->has_model = 1;
    if (sp->spend) {
      sc->spend = *sp->spend;
      sc->has_spend = 1;
    }
  }
  tsr_status st = load_scheme(sc, sp->scheme, err);
  if (st == TSR_OK && sp->cluster) {
    char *js = NULL;
    st = tsr_cluster_model_to_json(sp->cluster, &js, err);
    if (st == TSR_OK) st = tsr_cluster_model_from_json(js, strlen(js), "cluster", &sc->cluster, err);
    free(js);
  }
  if (st == TSR_OK) {
    keyed *k = tsr__malloc(sp->n * sizeof *k);
    if (!k) st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    const double *v[3] = {sp->gap, sp->frequency, sp->monetary};
    for (int a = 0; a < 3 && st == TSR_OK; a++) st = make_cuts(sc->cuts[a], v[a], sp->ids, sp->n, k, err);
    tsr__free(k);
  }
  if (st != TSR_OK) {
    tsr_rt_scorer_free(sc);
    return st;
  }
  *out = sc;
  return TSR_OK;
}

/* Quintile score of (v, id) against the cut points: 1..5. */
static int score_of(const tsr_rt_scorer *sc, int a, double v, const char *id) {
  if (sc->n == 1) return 3;
  int s = 1;
  for (int t = 0; t < 4; t++) {
    const rt_cut *c = &sc->cuts[a][t];
    if (v > c->v || (v == c->v && tsr_rt_id_cmp(id, c->id) > 0)) s++;
  }
  return s;
}

tsr_status tsr_rt_score(const tsr_rt_scorer *sc, const char *id, const tsr_rt_state *s,
                        int64_t at, tsr_rt_scores *o, tsr_error *err) {
  memset(o, 0, sizeof *o);
  o->expected = o->p_alive = o->clv = NAN;
  o->cluster = -1;
  o->segment = -1;
  o->at = at;
  tsr_status st = tsr_rt_summary(s, &sc->opts, at, &o->row);
  o->row.customer_id = id;
  if (st == TSR_ERANGE) {
    char a[11], b[11];
    return tsr_error_set(err, st, NULL, 0, 0, "at",
                         "customer '%s': expected a day at or after its latest event %s, got %s",
                         id, tsr_day_format(s->open_day, a), tsr_day_format(at, b));
  }
  if (st == TSR_ENOTFOUND)
    return tsr_error_set(err, st, NULL, 0, 0, NULL, "customer '%s': no purchase yet", id);
  const tsr_summary_row *r = &o->row;
  o->r = 6 - score_of(sc, 0, r->T - r->recency, id);
  o->f = score_of(sc, 1, r->frequency, id);
  o->m = score_of(sc, 2, r->revenue, id);
  tsr_rfm_cell(o->r, o->f, o->m, o->cell);
  o->segment = tsr_rfm_segment_index(sc->scheme, o->r, o->f, o->m);
  o->segment_name = tsr_rfm_scheme_segment_name(sc->scheme, (size_t)o->segment);
  if (sc->has_model && !(r->T > 0)) {
    /* first purchase period = evaluation period: T = 0, which the model's
     * data check refuses. Such a customer is a new one: E[X(t)] of a new
     * customer, alive (BG/NBD, Pareto/NBD); no CLV (docs/realtime.md) */
    if (tsr_btyd_expected_new(&sc->model, sc->horizon_periods, &o->expected, NULL) != TSR_OK)
      o->expected = NAN;
    o->p_alive = sc->model.kind == TSR_BTYD_MBGNBD ? NAN : 1.0;
  } else if (sc->has_model) {
    double x = r->frequency, tx = r->recency, T = r->T, mx = r->monetary_value;
    tsr_btyd_data d = {1, &x, &tx, &T, &mx, NULL};
    st = tsr_btyd_predict(&sc->model, &d, sc->horizon_periods, sc->level, &o->expected, NULL, NULL,
                          &o->p_alive, err);
    if (st != TSR_OK) return st;
    o->churned = o->p_alive < sc->churn_threshold;
    if (sc->has_spend) {
      tsr_clv_opts co;
      co.horizon = sc->horizon_periods;
      co.step = 30.4375 / sc->period_days;
      co.discount = sc->discount;
      co.level = sc->level;
      st = tsr_clv_compute(&sc->model, &sc->spend, &d, &co, &o->clv, NULL, NULL, err);
      if (st != TSR_OK) return st;
    }
  }
  if (sc->cluster) {
    const double cols[7] = {r->frequency, r->recency, r->monetary_value, r->T, r->revenue,
                            o->clv, o->p_alive};
    const double *cp[7] = {&cols[0], &cols[1], &cols[2], &cols[3], &cols[4], &cols[5], &cols[6]};
    static const char *const names[7] = {"frequency", "recency", "monetary_value", "T",
                                         "revenue", "clv", "p_alive"};
    int lab = -1;
    /* features outside the model's transform (T = 0 under a log transform,
     * a missing CLV): no cluster rather than no scores */
    if (tsr_cluster_model_assign(sc->cluster, cp, names, 1, 7, &lab, NULL, NULL) == TSR_OK)
      o->cluster = lab;
  }
  return TSR_OK;
}

/* ------------------------------------------------------------ JSON */

static json_t *btyd_json(const tsr_btyd_model *m, tsr_error *err) {
  char *js = NULL;
  if (tsr_btyd_model_to_json(m, &js, err) != TSR_OK) return NULL;
  json_t *j = json_loads(js, 0, NULL);
  free(js);
  return j;
}

tsr_status tsr_rt_scorer_to_json(const tsr_rt_scorer *sc, char **out, tsr_error *err) {
  *out = NULL;
  json_t *o = json_object();
  json_object_set_new(o, "format", json_string("tessera-realtime-scorer"));
  json_object_set_new(o, "version", json_integer(1));
  char fq[2] = {"DWM"[sc->opts.freq], 0};
  json_object_set_new(o, "freq", json_string(fq));
  json_object_set_new(o, "freq_multiplier", json_real(sc->opts.multiplier));
  json_object_set_new(o, "refunds",
                      json_string(sc->opts.refunds == TSR_REFUNDS_NET ? "net" : "exclude"));
  json_object_set_new(o, "horizon_periods", json_real(sc->horizon_periods));
  json_object_set_new(o, "discount", json_real(sc->discount));
  json_object_set_new(o, "level", json_real(sc->level));
  json_object_set_new(o, "churn_threshold", json_real(sc->churn_threshold));
  json_object_set_new(o, "scheme", json_string(sc->scheme_name));
  json_object_set_new(o, "reference_customers", json_integer((json_int_t)sc->n));
  static const char *const axes[3] = {"recency_gap", "frequency", "monetary"};
  json_t *cuts = json_object();
  for (int a = 0; a < 3; a++) {
    json_t *arr = json_array();
    for (int t = 0; t < 4; t++)
      json_array_append_new(arr, json_pack("{s:f,s:s}", "value", sc->cuts[a][t].v, "id",
                                           sc->cuts[a][t].id));
    json_object_set_new(cuts, axes[a], arr);
  }
  json_object_set_new(o, "cuts", cuts);
  tsr_status st = TSR_OK;
  if (sc->has_model) {
    json_t *m = btyd_json(&sc->model, err);
    if (!m) st = err && err->code ? err->code : TSR_ENOMEM;
    else json_object_set_new(o, "model", m);
  }
  if (st == TSR_OK && sc->has_spend) {
    json_t *m = btyd_json(&sc->spend, err);
    if (!m) st = err && err->code ? err->code : TSR_ENOMEM;
    else json_object_set_new(o, "spend", m);
  }
  if (st == TSR_OK && sc->cluster) {
    char *js = NULL;
    st = tsr_cluster_model_to_json(sc->cluster, &js, err);
    if (st == TSR_OK) json_object_set_new(o, "cluster", json_loads(js, 0, NULL));
    free(js);
  }
  if (st == TSR_OK) {
    *out = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!*out) st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  json_decref(o);
  return st;
}

static tsr_status bad(tsr_error *err, const char *field, const char *what) {
  return tsr_error_set(err, TSR_EPARSE, "realtime scorer", 0, 0, field, "expected %s", what);
}

static tsr_status num(json_t *o, const char *k, double *v, tsr_error *err) {
  json_t *j = json_object_get(o, k);
  if (!json_is_number(j)) return bad(err, k, "a number");
  *v = json_number_value(j);
  return TSR_OK;
}

tsr_status tsr_rt_scorer_from_json(const char *text, size_t len, tsr_rt_scorer **out,
                                   tsr_error *err) {
  *out = NULL;
  json_error_t je;
  json_t *o = json_loadb(text, len, 0, &je);
  if (!o)
    return tsr_error_set(err, TSR_EPARSE, "realtime scorer", je.line, je.column, NULL, "%s",
                         je.text);
  tsr_rt_scorer *sc = tsr__calloc(1, sizeof *sc);
  tsr_status st = sc ? TSR_OK : tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  if (st == TSR_OK && strcmp(json_string_value(json_object_get(o, "format")) ? json_string_value(json_object_get(o, "format")) : "", "tessera-realtime-scorer"))
    st = bad(err, "format", "\"tessera-realtime-scorer\"");
  const char *fq = json_string_value(json_object_get(o, "freq"));
  if (st == TSR_OK) {
    tsr_rt_opts_init(&sc->opts);
    if (!fq || tsr_freq_parse(fq, &sc->opts.freq) != TSR_OK) st = bad(err, "freq", "D, W or M");
  }
  if (st == TSR_OK) st = num(o, "freq_multiplier", &sc->opts.multiplier, err);
  if (st == TSR_OK) {
    const char *rf = json_string_value(json_object_get(o, "refunds"));
    sc->opts.refunds = rf && !strcmp(rf, "net") ? TSR_REFUNDS_NET : TSR_REFUNDS_EXCLUDE;
    sc->period_days = period_days(&sc->opts);
  }
  if (st == TSR_OK) st = num(o, "horizon_periods", &sc->horizon_periods, err);
  if (st == TSR_OK) st = num(o, "discount", &sc->discount, err);
  if (st == TSR_OK) st = num(o, "level", &sc->level, err);
  if (st == TSR_OK) st = num(o, "churn_threshold", &sc->churn_threshold, err);
  if (st == TSR_OK) {
    json_t *n = json_object_get(o, "reference_customers");
    if (!json_is_integer(n) || json_integer_value(n) < 1) st = bad(err, "reference_customers", "an integer >= 1");
    else sc->n = (size_t)json_integer_value(n);
  }
  if (st == TSR_OK) st = load_scheme(sc, json_string_value(json_object_get(o, "scheme")), err);
  static const char *const axes[3] = {"recency_gap", "frequency", "monetary"};
  json_t *cuts = json_object_get(o, "cuts");
  for (int a = 0; a < 3 && st == TSR_OK; a++) {
    json_t *arr = json_object_get(cuts, axes[a]);
    if (!json_is_array(arr) || json_array_size(arr) != 4) {
      st = bad(err, axes[a], "4 cut points");
      break;
    }
    for (int t = 0; t < 4 && st == TSR_OK; t++) {
      json_t *c = json_array_get(arr, (size_t)t);
      const char *id = json_string_value(json_object_get(c, "id"));
      if (!id) st = bad(err, axes[a], "cut points with an id");
      else if ((st = num(c, "value", &sc->cuts[a][t].v, err)) == TSR_OK &&
               !(sc->cuts[a][t].id = tsr__strdup(id)))
        st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
  }
  static const char *const mk[2] = {"model", "spend"};
  for (int i = 0; i < 2 && st == TSR_OK; i++) {
    json_t *m = json_object_get(o, mk[i]);
    if (!m) break;
    char *js = json_dumps(m, JSON_COMPACT | JSON_REAL_PRECISION(17));
    st = js ? tsr_btyd_model_from_json(js, strlen(js), mk[i], i ? &sc->spend : &sc->model, err)
            : tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    free(js);
    if (st == TSR_OK) {
      if (i) sc->has_spend = 1;
      else sc->has_model = 1;
    }
  }
  json_t *cm = json_object_get(o, "cluster");
  if (st == TSR_OK && cm) {
    char *js = json_dumps(cm, JSON_COMPACT | JSON_REAL_PRECISION(17));
    st = js ? tsr_cluster_model_from_json(js, strlen(js), "cluster", &sc->cluster, err)
            : tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    free(js);
  }
  json_decref(o);
  if (st != TSR_OK) {
    tsr_rt_scorer_free(sc);
    return st;
  }
  *out = sc;
  return TSR_OK;
}
