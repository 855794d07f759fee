/*
 * model_json.c - model files of the BTYD and spend models (tessera/btyd.h):
 *   {"format":"tessera-model","version":1,"model":"bgnbd",
 *    "params":{"r":...,...},"se":{...},"cov":[[...],...],"loglik":...,
 *    "n_customers":...,"converged":true,"iterations":...,
 *    "penalizer":...,"period_days":7}
 * Doubles are written by jansson with 17 significant digits ("%.17g",
 * locale-independent), so a model round-trips exactly; unknown values
 * (NaN standard errors) are written as null.
 */
#include "btyd_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define TSR_MODEL_FORMAT "tessera-model"
#define TSR_MODEL_VERSION 1
#define TSR_MODEL_MAX_BYTES (16 << 20)

static json_t *jreal(double v) { return isfinite(v) ? json_real(v) : json_null(); }

tsr_status tsr_btyd_model_to_json(const tsr_btyd_model *m, char **out,
                                  tsr_error *err) {
  tsr_status st;
  if (!m) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "model", "no model");
  if ((st = tsr_btyd_check_params(m->kind, m->params, err))) return st;
  json_t *o = json_object(), *p = json_object(), *se = json_object();
  int bad = !o || !p || !se;
  size_t np = tsr_btyd_nparams(m->kind);
  bad |= json_object_set_new(o, "format", json_string(TSR_MODEL_FORMAT));
  bad |= json_object_set_new(o, "version", json_integer(TSR_MODEL_VERSION));
  bad |= json_object_set_new(o, "model", json_string(tsr_btyd_kind_name(m->kind)));
  for (size_t i = 0; i < np; i++) {
    const char *nm = tsr_btyd_param_name(m->kind, i);
    bad |= json_object_set_new(p, nm, json_real(m->params[i]));
    bad |= json_object_set_new(se, nm, m->has_cov ? jreal(m->se[i]) : json_null());
  }
  bad |= json_object_set_new(o, "params", p);
  bad |= json_object_set_new(o, "se", se);
  if (m->has_cov) {
    json_t *cov = json_array();
    bad |= !cov;
    for (size_t i = 0; i < np && cov; i++) {
      json_t *row = json_array();
      bad |= !row;
      for (size_t j = 0; j < np && row; j++)
        bad |= json_array_append_new(row, jreal(m->cov[i][j]));
      bad |= json_array_append_new(cov, row);
    }
    bad |= json_object_set_new(o, "cov", cov);
  }
  bad |= json_object_set_new(o, "loglik", jreal(m->loglik));
  double nc = m->n_customers;
  bad |= json_object_set_new(o, "n_customers",
                             (nc == floor(nc) && fabs(nc) < 9e15)
                                 ? json_integer((json_int_t)nc)
                                 : jreal(nc));
  bad |= json_object_set_new(o, "converged", json_boolean(m->converged));
  bad |= json_object_set_new(o, "iterations", json_integer(m->iterations));
  bad |= json_object_set_new(o, "penalizer", json_real(m->penalizer));
  bad |= json_object_set_new(o, "period_days", json_real(m->period_days));
  char *s = bad ? NULL
                : json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                                    JSON_REAL_PRECISION(17));
  json_decref(o);
  if (!s) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  /* hand out memory the caller frees with free() */
  size_t len = strlen(s);
  char *r = malloc(len + 1);
  if (r) memcpy(r, s, len + 1);
  free(s);
  if (!r) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  *out = r;
  return TSR_OK;
}

/* Reads a number member (integer or real); null -> NaN when allow_null. */
static int get_num(json_t *o, const char *key, int allow_null, double *v) {
  json_t *j = json_object_get(o, key);
  if (!j) return -1;
  if (json_is_null(j) && allow_null) {
    *v = NAN;
    return 0;
  }
  if (!json_is_number(j)) return -1;
  *v = json_number_value(j);
  return 0;
}

tsr_status tsr_btyd_model_from_json(const char *text, size_t len,
                                    const char *name, tsr_btyd_model *out,
                                    tsr_error *err) {
  json_error_t je;
  const char *src = name ? name : "model";
  json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!o)
    return tsr_error_set(err, TSR_EPARSE, src, je.line, je.column, NULL,
                         "invalid json: %s", je.text);
  tsr_status st = TSR_OK;
  tsr_btyd_model m;
  memset(&m, 0, sizeof m);
  json_t *f = json_object_get(o, "format"), *jm = json_object_get(o, "model");
  double ver = 0;
  if (!json_is_object(o) || !json_is_string(f) ||
      strcmp(json_string_value(f), TSR_MODEL_FORMAT)) {
    st = tsr_error_set(err, TSR_EPARSE, src, 0, 0, "format",
                       "expected \"" TSR_MODEL_FORMAT "\": not a tessera "
                       "model file");
    goto done;
  }
  if (get_num(o, "version", 0, &ver) || ver != TSR_MODEL_VERSION) {
    st = tsr_error_set(err, TSR_EUNSUPPORTED, src, 0, 0, "version",
                       "expected %d, got %g: written by another tessera "
                       "version",
                       TSR_MODEL_VERSION, ver);
    goto done;
  }
  if (!json_is_string(jm) ||
      tsr_btyd_kind_parse(json_string_value(jm), &m.kind, err)) {
    st = tsr_error_set(err, TSR_EPARSE, src, 0, 0, "model",
                       "expected one of bgnbd, mbgnbd, pnbd, bgbb, gg");
    goto done;
  }
  m.np = tsr_btyd_nparams(m.kind);
  json_t *p = json_object_get(o, "params"), *se = json_object_get(o, "se");
  for (size_t i = 0; i < m.np; i++) {
    const char *nm = tsr_btyd_param_name(m.kind, i);
    if (!json_is_object(p) || get_num(p, nm, 0, &m.params[i])) {
      st = tsr_error_set(err, TSR_EPARSE, src, 0, 0, "params",
                         "missing parameter '%s'", nm);
      goto done;
    }
    m.se[i] = NAN;
    if (json_is_object(se)) get_num(se, nm, 1, &m.se[i]);
  }
  for (size_t i = m.np; i < TSR_BTYD_MAXP; i++) m.se[i] = NAN;
  if ((st = tsr_btyd_check_params(m.kind, m.params, err))) {
    if (err) snprintf(err->source, sizeof err->source, "%s", src);
    goto done;
  }
  /* a fit never yields a parameter outside the range it searches: such a
   * file was edited or corrupted and would predict nonsense (r = 1e308
   * predicts -0) */
  for (size_t i = 0; i < m.np; i++)
    if (fabs(log(m.params[i])) > TSR__BTYD_LOG_BOUND) {
      st = tsr_error_set(err, TSR_ERANGE, src, 0, 0, tsr_btyd_param_name(m.kind, i),
                         "expected a value in [%.3g, %.3g] (the range a fit searches), got %.17g",
                         exp(-TSR__BTYD_LOG_BOUND), exp(TSR__BTYD_LOG_BOUND), m.params[i]);
      goto done;
    }
  json_t *cov = json_object_get(o, "cov");
  if (json_is_array(cov) && json_array_size(cov) == m.np) {
    m.has_cov = 1;
    for (size_t i = 0; i < m.np; i++) {
      json_t *row = json_array_get(cov, i);
      for (size_t j = 0; j < m.np; j++) {
        json_t *v = json_is_array(row) ? json_array_get(row, j) : NULL;
        if (!v || !json_is_number(v)) {
          m.has_cov = 0;
          break;
        }
        m.cov[i][j] = json_number_value(v);
      }
    }
  }
  if (get_num(o, "loglik", 1, &m.loglik)) m.loglik = NAN;
  if (get_num(o, "n_customers", 1, &m.n_customers)) m.n_customers = 0;
  json_t *c = json_object_get(o, "converged");
  m.converged = json_is_true(c);
  double it = 0;
  if (get_num(o, "iterations", 0, &it) == 0) m.iterations = (int)it;
  if (get_num(o, "penalizer", 0, &m.penalizer)) m.penalizer = 0;
  if (get_num(o, "period_days", 0, &m.period_days) || !(m.period_days > 0))
    m.period_days = 7.0;
  *out = m;
done:
  json_decref(o);
  return st;
}

tsr_status tsr_btyd_model_save(const tsr_btyd_model *m, const char *path,
                               tsr_error *err) {
  char *s = NULL;
  tsr_status st = tsr_btyd_model_to_json(m, &s, err);
  if (st) return st;
  FILE *f = fopen(path, "w");
  if (!f) {
    st = tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "cannot write: %s",
                       strerror(errno));
    free(s);
    return st;
  }
  int bad = fputs(s, f) < 0 || fputc('\n', f) == EOF;
  bad |= fclose(f) != 0;
  free(s);
  if (bad)
    return tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "write failed: %s",
                         strerror(errno));
  return TSR_OK;
}

tsr_status tsr_btyd_model_load(const char *path, tsr_btyd_model *out,
                               tsr_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "cannot open: %s",
                         strerror(errno));
  size_t cap = 4096, len = 0;
  char *buf = tsr__malloc(cap);
  tsr_status st = TSR_OK;
  while (buf) {
    if (len == cap) {
      if (cap >= TSR_MODEL_MAX_BYTES) {
        st = tsr_error_set(err, TSR_ELIMIT, path, 0, 0, NULL,
                           "model file larger than %d bytes",
                           TSR_MODEL_MAX_BYTES);
        break;
      }
      char *nb = tsr__realloc(buf, cap * 2);
      if (!nb) {
        tsr__free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t k = fread(buf + len, 1, cap - len, f);
    len += k;
    if (k == 0) break;
  }
  int rerr = ferror(f);
  fclose(f);
  if (!buf) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  if (!st && rerr)
    st = tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "read error");
  if (!st) st = tsr_btyd_model_from_json(buf, len, path, out, err);
  tsr__free(buf);
  return st;
}
