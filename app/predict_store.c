/*
 * predict_store.c - churn and next-best-product models as versioned models
 * of the store, promoted by the rule of tessera/predict_app.h.
 */
#include "internal.h"
#include "tessera/predict_app.h"
#include "tessera/datetime.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The metric at path a.b.c of the promoted version's fit_stats (NaN when
 * there is none or it cannot be read); *has = 1 when a version is promoted. */
static double promoted_metric(tsr_store *s, const char *kind, const char *const *path, int *has) {
  tsr_model *old = NULL;
  *has = 0;
  if (tsr_store_model_promoted(s, kind, &old, NULL) != TSR_OK || !old) return NAN;
  *has = 1;
  double v = NAN;
  json_t *j = old->fit_stats ? json_loads(old->fit_stats, 0, NULL) : NULL;
  json_t *o = j;
  for (int k = 0; o && path[k]; k++) o = json_object_get(o, path[k]);
  if (o && json_is_number(o)) v = json_number_value(o);
  json_decref(j);
  tsr_store_free(old);
  return v;
}

static tsr_status save(tsr_store *s, const char *kind, const char *label, const char *params,
                       const char *stats, double metric, const char *const *path, int64_t run_id,
                       int force, tsr_model_saved *out, tsr_error *err) {
  tsr_model_saved r;
  memset(&r, 0, sizeof r);
  int has = 0;
  r.metric_new = metric;
  r.metric_old = promoted_metric(s, kind, path, &has);
  if (!has) {
    r.promoted = 1;
    snprintf(r.why, sizeof r.why, "no promoted %s model yet", kind);
  } else if (!isfinite(r.metric_old)) {
    r.promoted = 1;
    snprintf(r.why, sizeof r.why, "the promoted version has no %s", label);
  } else if (!(metric >= r.metric_old - 1e-9 * fabs(r.metric_old))) {
    r.promoted = force;
    snprintf(r.why, sizeof r.why, "%s %.4f lower than the promoted version's %.4f%s", label, metric,
             r.metric_old, force ? " (promoted anyway: --force)" : "");
  } else {
    r.promoted = 1;
    snprintf(r.why, sizeof r.why, "%s %.4f not lower than the promoted version's %.4f", label,
             metric, r.metric_old);
  }
  tsr_model m;
  memset(&m, 0, sizeof m);
  m.kind = kind;
  m.run_id = run_id;
  m.params = params;
  m.fit_stats = stats;
  m.promoted = r.promoted;
  tsr_status st = tsr_store_model_add(s, &m, &r.id, &r.version, err);
  if (st == TSR_OK && out) *out = r;
  return st;
}

tsr_status tsr_churn_model_store(tsr_store *s, const tsr_churn_result *r, int64_t run_id, int force,
                                 tsr_model_saved *out, tsr_error *err) {
  if (!r->model_json)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "no present churn model to store");
  char *ev = NULL;
  tsr_status st = tsr_churn_eval_json(r, &ev, err);
  if (st != TSR_OK) return st;
  static const char *const path[] = {"methods", "xgboost", "auc", NULL};
  st = save(s, "churn", "test AUC", r->model_json, ev, r->eval[0].m.auc, path, run_id, force, out, err);
  free(ev);
  return st;
}

static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

tsr_status tsr_nbp_eval_json(const tsr_nbp_result *r, char **json, tsr_error *err) {
  char d1[16];
  json_t *j = json_object(), *sc = json_object(), *w = json_object(), *pa = json_object();
  json_object_set_new(j, "calibration_end", json_string(tsr_day_format(r->cal_end_day, d1)));
  json_object_set_new(j, "window_days", json_integer((json_int_t)r->window_days));
  json_object_set_new(j, "users", json_integer((json_int_t)r->n_eval_users));
  for (int k = 0; k <= TSR_NBP_NSCORERS; k++) {
    json_t *e = json_object();
    json_object_set_new(e, "hit_rate", jnum(r->eval[k].hit_rate));
    json_object_set_new(e, "ndcg", jnum(r->eval[k].ndcg));
    json_object_set_new(e, "map", jnum(r->eval[k].map));
    json_object_set_new(sc, r->scorer[k], e);
    if (k < TSR_NBP_NSCORERS) json_object_set_new(w, r->scorer[k], jnum(r->weight[k]));
  }
  for (size_t p = 0; p < r->nprod; p++) json_object_set_new(pa, r->products[p], jnum(r->product_auc[p]));
  json_object_set_new(j, "scorers", sc);
  json_object_set_new(j, "weights", w);
  json_object_set_new(j, "product_auc", pa);
  *json = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  if (!*json) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  return TSR_OK;
}

tsr_status tsr_nbp_model_store(tsr_store *s, const tsr_nbp_result *r, int64_t run_id, int force,
                               tsr_model_saved *out, tsr_error *err) {
  char *ev = NULL;
  tsr_status st = tsr_nbp_eval_json(r, &ev, err);
  if (st != TSR_OK) return st;
  json_t *p = json_object(), *prods = json_array(), *w = json_object();
  char d1[16];
  json_object_set_new(p, "format", json_string("tessera-nbp"));
  json_object_set_new(p, "version", json_integer(1));
  json_object_set_new(p, "calibration_end", json_string(tsr_day_format(r->cal_end_day, d1)));
  json_object_set_new(p, "window_days", json_integer((json_int_t)r->window_days));
  for (size_t k = 0; k < r->nprod; k++) {
    json_t *e = json_object();
    json_object_set_new(e, "name", json_string(r->products[k]));
    int g = r->goal_of[k];
    json_object_set_new(e, "goal", g >= 0 ? json_string(tsr_nbp_goal_name(g)) : json_null());
    json_array_append_new(prods, e);
  }
  for (int k = 0; k < TSR_NBP_NSCORERS; k++) json_object_set_new(w, r->scorer[k], jnum(r->weight[k]));
  json_object_set_new(p, "products", prods);
  json_object_set_new(p, "weights", w);
  char *params = json_dumps(p, JSON_COMPACT);
  json_decref(p);
  if (!params) {
    free(ev);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  static const char *const path[] = {"scorers", "blend", "hit_rate", NULL};
  st = save(s, "nbp", "hit rate@3", params, ev, r->eval[TSR_NBP_NSCORERS].hit_rate, path, run_id,
            force, out, err);
  free(params);
  free(ev);
  return st;
}
