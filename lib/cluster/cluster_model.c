/*
 * cluster_model.c - the clustering model: the feature transform, the
 * centres / mixture / DBSCAN core points, assignment of new rows, and the
 * JSON model file ({"format":"tessera-cluster-model","version":1,...},
 * doubles at 17 significant digits; jansson formats numbers without the
 * locale).
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cluster_internal.h"

#define MODEL_FORMAT "tessera-cluster-model"
#define MODEL_VERSION 1

tsr_cluster_model *tsr__cluster_model_new(void) {
  return tsr__calloc(1, sizeof(tsr_cluster_model));
}

void tsr_cluster_model_free(tsr_cluster_model *m) {
  if (!m) return;
  if (m->feats)
    for (size_t j = 0; j < m->d; j++) tsr__free(m->feats[j].name);
  tsr__free(m->feats);
  tsr__free(m->centers);
  tsr_gmm_free(m->gmm);
  tsr__free(m->core);
  tsr__free(m->core_labels);
  tsr__free(m);
}

tsr_cluster_method tsr_cluster_model_method(const tsr_cluster_model *m) {
  return m->method;
}
size_t tsr_cluster_model_k(const tsr_cluster_model *m) { return m->k; }
size_t tsr_cluster_model_nfeatures(const tsr_cluster_model *m) { return m->d; }
const char *tsr_cluster_model_feature(const tsr_cluster_model *m, size_t j) {
  return j < m->d ? m->feats[j].name : NULL;
}

/* ============================================================ assign */

tsr_status tsr__cluster_model_assign_z(const tsr_cluster_model *m,
                                       const double *Z, size_t nrows,
                                       int *labels, double *prob,
                                       tsr_error *err) {
  size_t d = m->d;
  if (m->method == TSR_CLUSTER_GMM)
    return tsr_gmm_predict(m->gmm, Z, nrows, labels, prob, NULL, err);
  if (m->method == TSR_CLUSTER_KMEANS) {
    for (size_t i = 0; i < nrows; i++) {
      double bd = DBL_MAX;
      int bj = 0;
      for (size_t j = 0; j < m->k; j++) {
        double dd = tsr__sqdist(Z + i * d, m->centers + j * d, d);
        if (dd < bd) {
          bd = dd;
          bj = (int)j;
        }
      }
      labels[i] = bj;
      if (prob) prob[i] = 1;
    }
    return TSR_OK;
  }
  /* DBSCAN: nearest core point within eps, else noise */
  tsr__kdtree t;
  if (tsr__kdtree_build(m->core, m->ncore, d, &t) != TSR_OK)
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  for (size_t i = 0; i < nrows; i++) {
    double d2 = DBL_MAX;
    size_t q = m->ncore ? tsr__kdtree_nearest(&t, Z + i * d, &d2) : 0;
    labels[i] = m->ncore && d2 <= m->eps * m->eps ? m->core_labels[q] : -1;
    if (prob) prob[i] = labels[i] >= 0 ? 1 : 0;
  }
  tsr__kdtree_release(&t);
  return TSR_OK;
}

tsr_status tsr_cluster_model_assign(const tsr_cluster_model *m,
                                    const double *const *columns,
                                    const char *const *names, size_t nrows,
                                    size_t ncols, int *labels, double *prob,
                                    tsr_error *err) {
  if (!m || !labels || (ncols && (!columns || !names)))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "assign: model, columns and labels must not be NULL");
  size_t d = m->d;
  const double *cols[64];
  for (size_t j = 0; j < d; j++) {
    cols[j] = NULL;
    for (size_t c = 0; c < ncols; c++)
      if (names[c] && !strcmp(names[c], m->feats[j].name)) cols[j] = columns[c];
    if (!cols[j])
      return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, m->feats[j].name,
                           "no column named '%s' (the model needs it)",
                           m->feats[j].name);
  }
  double *Z = tsr__malloc((nrows ? nrows : 1) * d * sizeof *Z);
  if (!Z) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  tsr_status st = tsr__features_apply(m->feats, d, cols, nrows, Z, err);
  if (st == TSR_OK) st = tsr__cluster_model_assign_z(m, Z, nrows, labels, prob, err);
  tsr__free(Z);
  return st;
}

/* ============================================================== JSON */

static json_t *vec(const double *v, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(a, json_real(v[i]));
  return a;
}

static json_t *mat(const double *v, size_t r, size_t c) {
  json_t *a = json_array();
  for (size_t i = 0; i < r; i++) json_array_append_new(a, vec(v + i * c, c));
  return a;
}

static const char *xform_name(unsigned t) {
  switch (t) {
    case TSR_XFORM_NONE: return "none";
    case TSR_XFORM_LOG1P: return "log1p";
    case TSR_XFORM_STANDARDIZE: return "standardize";
    default: return "log1p,standardize";
  }
}

tsr_status tsr_cluster_model_to_json(const tsr_cluster_model *m, char **json,
                                     tsr_error *err) {
  if (!m || !json)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "model: model and json must not be NULL");
  size_t d = m->d, k = m->k;
  json_t *o = json_object();
  json_object_set_new(o, "format", json_string(MODEL_FORMAT));
  json_object_set_new(o, "version", json_integer(MODEL_VERSION));
  json_object_set_new(o, "method", json_string(tsr_cluster_method_name(m->method)));
  json_object_set_new(o, "transform", json_string(xform_name(m->transform)));
  json_object_set_new(o, "k", json_integer((json_int_t)k));
  json_t *fa = json_array();
  for (size_t j = 0; j < d; j++) {
    json_t *f = json_object();
    json_object_set_new(f, "name", json_string(m->feats[j].name));
    json_object_set_new(f, "log1p", json_boolean(m->feats[j].log1p));
    json_object_set_new(f, "center", json_real(m->feats[j].center));
    json_object_set_new(f, "scale", json_real(m->feats[j].scale));
    json_array_append_new(fa, f);
  }
  json_object_set_new(o, "features", fa);
  json_object_set_new(o, "centers", mat(m->centers, k, d));
  if (m->method == TSR_CLUSTER_GMM && m->gmm) {
    const tsr_gmm *g = m->gmm;
    json_t *go = json_object();
    json_object_set_new(go, "covariance_type",
                        json_string(g->cov == TSR_COV_FULL ? "full" : "diag"));
    json_object_set_new(go, "weights", vec(g->weights, k));
    json_object_set_new(go, "means", mat(g->means, k, d));
    json_t *ca = json_array();
    for (size_t j = 0; j < k; j++)
      json_array_append_new(ca, g->cov == TSR_COV_FULL
                                    ? mat(g->covariances + j * d * d, d, d)
                                    : vec(g->covariances + j * d, d));
    json_object_set_new(go, "covariances", ca);
    json_object_set_new(o, "gmm", go);
  }
  if (m->method == TSR_CLUSTER_DBSCAN) {
    json_t *db = json_object();
    json_object_set_new(db, "eps", json_real(m->eps));
    json_object_set_new(db, "min_samples", json_integer((json_int_t)m->min_samples));
    json_object_set_new(db, "core_points", mat(m->core, m->ncore, d));
    json_t *cl = json_array();
    for (size_t q = 0; q < m->ncore; q++) json_array_append_new(cl, json_integer(m->core_labels[q]));
    json_object_set_new(db, "core_labels", cl);
    json_object_set_new(o, "dbscan", db);
  }
  char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
  json_decref(o);
  if (!s) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  *json = s;
  return TSR_OK;
}

/* Reads a number array of exactly n entries into v. */
static int get_vec(json_t *a, double *v, size_t n) {
  if (!json_is_array(a) || json_array_size(a) != n) return -1;
  for (size_t i = 0; i < n; i++) {
    json_t *x = json_array_get(a, i);
    if (!json_is_number(x)) return -1;
    v[i] = json_number_value(x);
    if (!isfinite(v[i])) return -1;
  }
  return 0;
}

static int get_mat(json_t *a, double *v, size_t r, size_t c) {
  if (!json_is_array(a) || json_array_size(a) != r) return -1;
  for (size_t i = 0; i < r; i++)
    if (get_vec(json_array_get(a, i), v + i * c, c)) return -1;
  return 0;
}

tsr_status tsr_cluster_model_from_json(const char *text, size_t len,
                                       const char *name,
                                       tsr_cluster_model **out,
                                       tsr_error *err) {
  if (!text || !out)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "model: text and out must not be NULL");
  *out = NULL;
  json_error_t je;
  json_t *o = json_loadb(text, len, 0, &je);
  if (!o)
    return tsr_error_set(err, TSR_EPARSE, name, je.line, je.column, NULL,
                         "model: %s", je.text);
  tsr_status st = TSR_OK;
  const char *what = "";
  tsr_cluster_model *m = tsr__cluster_model_new();
  if (!m) {
    json_decref(o);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
#define BAD(w)   \
  do {           \
    what = (w);  \
    goto bad;    \
  } while (0)
  json_t *fmt = json_object_get(o, "format");
  if (!json_is_string(fmt) || strcmp(json_string_value(fmt), MODEL_FORMAT))
    BAD("format: expected \"" MODEL_FORMAT "\"");
  json_t *ver = json_object_get(o, "version");
  if (!json_is_integer(ver) || json_integer_value(ver) != MODEL_VERSION)
    BAD("version: expected 1");
  json_t *me = json_object_get(o, "method");
  if (!json_is_string(me) ||
      tsr_cluster_method_parse(json_string_value(me), &m->method, NULL) != TSR_OK)
    BAD("method: expected kmeans, gmm or dbscan");
  json_t *tr = json_object_get(o, "transform");
  if (!json_is_string(tr) ||
      tsr_cluster_transform_parse(json_string_value(tr), &m->transform, NULL) != TSR_OK)
    BAD("transform: expected none, log1p, standardize or log1p,standardize");
  json_t *kk = json_object_get(o, "k");
  if (!json_is_integer(kk) || json_integer_value(kk) < 0 ||
      json_integer_value(kk) > 100000)
    BAD("k: expected an integer in [0, 100000]");
  m->k = (size_t)json_integer_value(kk);
  json_t *fa = json_object_get(o, "features");
  if (!json_is_array(fa) || json_array_size(fa) < 1 || json_array_size(fa) > 64)
    BAD("features: expected an array of 1 to 64 features");
  size_t d = json_array_size(fa), k = m->k;
  m->feats = tsr__calloc(d, sizeof *m->feats);
  if (!m->feats) goto nomem;
  m->d = d;
  for (size_t j = 0; j < d; j++) {
    json_t *f = json_array_get(fa, j);
    json_t *nm = json_object_get(f, "name"), *lg = json_object_get(f, "log1p"),
           *ce = json_object_get(f, "center"), *sc = json_object_get(f, "scale");
    if (!json_is_string(nm) || !json_is_boolean(lg) || !json_is_number(ce) ||
        !json_is_number(sc) || !(json_number_value(sc) > 0))
      BAD("features: each needs name, log1p, center and scale > 0");
    m->feats[j].name = tsr__strdup(json_string_value(nm));
    if (!m->feats[j].name) goto nomem;
    m->feats[j].log1p = json_is_true(lg);
    m->feats[j].center = json_number_value(ce);
    m->feats[j].scale = json_number_value(sc);
  }
  m->centers = tsr__malloc((k ? k : 1) * d * sizeof *m->centers);
  if (!m->centers) goto nomem;
  if (get_mat(json_object_get(o, "centers"), m->centers, k, d))
    BAD("centers: expected k arrays of one number per feature");
  if (m->method == TSR_CLUSTER_KMEANS && k < 1) BAD("k: expected at least 1");
  if (m->method == TSR_CLUSTER_GMM) {
    json_t *go = json_object_get(o, "gmm");
    json_t *ct = json_object_get(go, "covariance_type");
    if (!json_is_string(ct)) BAD("gmm.covariance_type: expected full or diag");
    tsr_cov_type cov;
    if (!strcmp(json_string_value(ct), "full")) cov = TSR_COV_FULL;
    else if (!strcmp(json_string_value(ct), "diag")) cov = TSR_COV_DIAG;
    else BAD("gmm.covariance_type: expected full or diag");
    if (k < 1 || k > 256 || d > 64) BAD("gmm: expected 1 <= k <= 256");
    m->gmm = tsr__gmm_new(k, d, cov);
    if (!m->gmm) goto nomem;
    if (get_vec(json_object_get(go, "weights"), m->gmm->weights, k))
      BAD("gmm.weights: expected k numbers");
    if (get_mat(json_object_get(go, "means"), m->gmm->means, k, d))
      BAD("gmm.means: expected k arrays of d numbers");
    json_t *ca = json_object_get(go, "covariances");
    if (!json_is_array(ca) || json_array_size(ca) != k)
      BAD("gmm.covariances: expected k entries");
    for (size_t j = 0; j < k; j++) {
      int bad = cov == TSR_COV_FULL
                    ? get_mat(json_array_get(ca, j), m->gmm->covariances + j * d * d, d, d)
                    : get_vec(json_array_get(ca, j), m->gmm->covariances + j * d, d);
      if (bad) BAD("gmm.covariances: wrong shape");
    }
    for (size_t j = 0; j < k; j++)
      if (!(m->gmm->weights[j] > 0)) BAD("gmm.weights: expected values > 0");
    if (tsr__gmm_prepare(m->gmm, NULL) != TSR_OK)
      BAD("gmm.covariances: not positive definite");
  }
  if (m->method == TSR_CLUSTER_DBSCAN) {
    json_t *db = json_object_get(o, "dbscan");
    json_t *e = json_object_get(db, "eps"), *ms = json_object_get(db, "min_samples");
    json_t *cp = json_object_get(db, "core_points"), *cl = json_object_get(db, "core_labels");
    if (!json_is_number(e) || !(json_number_value(e) > 0)) BAD("dbscan.eps: expected a number > 0");
    if (!json_is_integer(ms) || json_integer_value(ms) < 1) BAD("dbscan.min_samples: expected an integer >= 1");
    if (!json_is_array(cp) || !json_is_array(cl) || json_array_size(cp) != json_array_size(cl))
      BAD("dbscan: core_points and core_labels must be arrays of equal length");
    m->eps = json_number_value(e);
    m->min_samples = (size_t)json_integer_value(ms);
    m->ncore = json_array_size(cp);
    m->core = tsr__malloc((m->ncore ? m->ncore : 1) * d * sizeof *m->core);
    m->core_labels = tsr__malloc((m->ncore ? m->ncore : 1) * sizeof *m->core_labels);
    if (!m->core || !m->core_labels) goto nomem;
    if (get_mat(cp, m->core, m->ncore, d)) BAD("dbscan.core_points: wrong shape");
    for (size_t q = 0; q < m->ncore; q++) {
      json_t *x = json_array_get(cl, q);
      if (!json_is_integer(x) || json_integer_value(x) < 0 ||
          (size_t)json_integer_value(x) >= k)
        BAD("dbscan.core_labels: expected integers in [0, k)");
      m->core_labels[q] = (int)json_integer_value(x);
    }
  }
#undef BAD
  json_decref(o);
  *out = m;
  return TSR_OK;
bad:
  st = tsr_error_set(err, TSR_EPARSE, name, 0, 0, NULL, "model: %s", what);
  goto fail;
nomem:
  st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
fail:
  json_decref(o);
  tsr_cluster_model_free(m);
  return st;
}

tsr_status tsr_cluster_model_save(const tsr_cluster_model *m, const char *path,
                                  tsr_error *err) {
  char *s = NULL;
  tsr_status st = tsr_cluster_model_to_json(m, &s, err);
  if (st != TSR_OK) return st;
  FILE *f = fopen(path, "w");
  if (!f) {
    int e = errno;
    free(s);
    return tsr_error_set(err, TSR_EIO, path, 0, 0, NULL,
                         "cannot open for writing: %s", strerror(e));
  }
  size_t len = strlen(s);
  int bad = fwrite(s, 1, len, f) != len || fputc('\n', f) == EOF;
  bad |= fclose(f) != 0;
  free(s);
  if (bad) return tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "write error");
  return TSR_OK;
}

#define MODEL_MAX_BYTES ((size_t)1 << 31)

tsr_status tsr_cluster_model_load(const char *path, tsr_cluster_model **out,
                                  tsr_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "cannot open: %s",
                         strerror(errno));
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (tsr__grow((void **)&buf, &cap, len + 65536, 1) != TSR_OK) {
      fclose(f);
      tsr__free(buf);
      return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (len > MODEL_MAX_BYTES) {
      fclose(f);
      tsr__free(buf);
      return tsr_error_set(err, TSR_ELIMIT, path, 0, 0, NULL,
                           "model file larger than 2 GiB");
    }
    if (got == 0) break;
  }
  int rerr = ferror(f);
  fclose(f);
  if (rerr) {
    tsr__free(buf);
    return tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "read error");
  }
  tsr_status st = tsr_cluster_model_from_json(buf, len, path, out, err);
  tsr__free(buf);
  return st;
}
