/*
 * gbm.c - gradient-boosted trees over XGBoost's C API (tessera/gbm.h).
 *
 * Every XGBoost call is checked and its message copied at once
 * (XGBGetLastError is thread-local and overwritten by the next call);
 * prediction buffers belong to the booster and are copied before the next
 * call. Early stopping is done here, round by round, so that the split and
 * the kept round are ours; the returned booster is sliced to the best round.
 */
#include "internal.h"
#include "gbm_internal.h"
#include "tessera/gbm.h"
#include "tessera/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dlfcn.h>
#include <pthread.h>
#include <unistd.h>

#include <xgboost/c_api.h>

/* XGBoost is loaded on first use (dlopen), not at process start: linking it
 * made every tessera command pay its loader and C++ static initialisers
 * (libxgboost, libdmlc, libstdc++, libgomp: about 14 ms of CPU per
 * process) although only churn, uplift and recommend train or load
 * boosters. The header still gives the prototypes; calls go through the
 * table below (the only process-wide state of this file, set once under
 * pthread_once). TESSERA_XGBOOST_LIB names another library file. */
#define XGB_FUNCS(X)                                                                 \
  X(XGBGetLastError) X(XGDMatrixCreateFromMat) X(XGDMatrixSetFloatInfo)              \
  X(XGDMatrixFree) X(XGBoosterCreate) X(XGBoosterFree) X(XGBoosterSetParam)          \
  X(XGBoosterUpdateOneIter) X(XGBoosterEvalOneIter) X(XGBoosterSlice)                \
  X(XGBoosterBoostOneIter)                                                           \
  X(XGBoosterSetAttr) X(XGBoosterGetAttr) X(XGBoosterPredictFromDMatrix)             \
  X(XGBoosterSaveModelToBuffer) X(XGBoosterLoadModelFromBuffer) X(XGBoosterGetNumFeature)
#define XGB_FIELD(f) __typeof__(&f) p_##f;
static struct {
  XGB_FUNCS(XGB_FIELD)
  int ok;
  char why[256];
} xgb;
static pthread_once_t xgb_once = PTHREAD_ONCE_INIT;

static void xgb_open(void) {
  static const char *const names[] = {"libxgboost.so.0", "libxgboost.so"};
  const char *env = getenv("TESSERA_XGBOOST_LIB");
  void *h = NULL;
  const char *tried = env && *env ? env : names[0];
  if (env && *env)
    h = dlopen(env, RTLD_NOW | RTLD_LOCAL);
  else
    for (size_t i = 0; !h && i < sizeof names / sizeof *names; i++) h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    snprintf(xgb.why, sizeof xgb.why, "cannot load the XGBoost library %s (install libxgboost0 or "
             "libxgboost-dev, or set TESSERA_XGBOOST_LIB): %s", tried, e ? e : "not found");
    return;
  }
#define XGB_SYM(f)                                                                   \
  *(void **)(&xgb.p_##f) = dlsym(h, #f);                                             \
  if (!xgb.p_##f) {                                                                  \
    snprintf(xgb.why, sizeof xgb.why, "the XGBoost library %s has no function %s "   \
             "(XGBoost >= 1.6 is needed)", tried, #f);                               \
    return;                                                                          \
  }
  XGB_FUNCS(XGB_SYM)
#undef XGB_SYM
  xgb.ok = 1;
}

/* Loads XGBoost once; TSR_EUNSUPPORTED with the library's name when it cannot. */
static tsr_status xgb_need(tsr_error *err) {
  pthread_once(&xgb_once, xgb_open);
  if (xgb.ok) return TSR_OK;
  return tsr_error_set(err, TSR_EUNSUPPORTED, NULL, 0, 0, NULL, "%s", xgb.why);
}

/* Every XGBoost call below goes through the table (the models that reach
 * them were made after xgb_need succeeded). */
#define XGB_CALL(f) (*xgb.p_##f)
#define XGBGetLastError XGB_CALL(XGBGetLastError)
#define XGDMatrixCreateFromMat XGB_CALL(XGDMatrixCreateFromMat)
#define XGDMatrixSetFloatInfo XGB_CALL(XGDMatrixSetFloatInfo)
#define XGDMatrixFree XGB_CALL(XGDMatrixFree)
#define XGBoosterCreate XGB_CALL(XGBoosterCreate)
#define XGBoosterFree XGB_CALL(XGBoosterFree)
#define XGBoosterSetParam XGB_CALL(XGBoosterSetParam)
#define XGBoosterUpdateOneIter XGB_CALL(XGBoosterUpdateOneIter)
#define XGBoosterEvalOneIter XGB_CALL(XGBoosterEvalOneIter)
#define XGBoosterBoostOneIter XGB_CALL(XGBoosterBoostOneIter)
#define XGBoosterSlice XGB_CALL(XGBoosterSlice)
#define XGBoosterSetAttr XGB_CALL(XGBoosterSetAttr)
#define XGBoosterGetAttr XGB_CALL(XGBoosterGetAttr)
#define XGBoosterPredictFromDMatrix XGB_CALL(XGBoosterPredictFromDMatrix)
#define XGBoosterSaveModelToBuffer XGB_CALL(XGBoosterSaveModelToBuffer)
#define XGBoosterLoadModelFromBuffer XGB_CALL(XGBoosterLoadModelFromBuffer)
#define XGBoosterGetNumFeature XGB_CALL(XGBoosterGetNumFeature)

/* One node of the trees as tsr__gbm_walk walks them (16 bytes, all trees
 * in one array, each tree's nodes in XGBoost's order). */
typedef struct gbm_node {
  int32_t left;         /* index of the left child in the array, -1 at a
                           leaf; the right child is left + 1 */
  uint32_t split;       /* feature of the split | GBM_DLEFT when a missing
                           value goes left */
  float cond;           /* split threshold (go left when x < cond), or the
                           leaf value */
  float delta;          /* mean of this node - mean of its parent (float,
                           as XGBoost's CalculateContributionsApprox
                           computes it on the way down); 0 at a root */
} gbm_node;
#define GBM_DLEFT 0x80000000u

/* One feature's share of a tree's approximate contributions on the path
 * to a leaf: the changes of the node mean at its splits on the path,
 * summed in path order (float). */
typedef struct gbm_share {
  uint32_t feat;
  float sum;
} gbm_share;
/* One node of the trees as walk_pred_rows walks them (the predictions
 * alone): a leaf is its own child (left = itself, inner = 0), so every
 * row of a tree takes the tree's depth steps without a branch. */
typedef struct gbm_pnode {
  int32_t left;         /* the left child (the right one is left + 1); a
                           leaf: itself */
  uint32_t split;       /* as gbm_node's; 0 at a leaf */
  float cond;           /* as gbm_node's (the leaf value at a leaf) */
  int32_t inner;        /* 1 at a split, 0 at a leaf */
} gbm_pnode;

/* The trees of a model: node root[t] is the root of tree t. */
typedef struct gbm_trees {
  size_t ntree, nnode;
  size_t *root;         /* ntree + 1 (root[ntree] = nnode) */
  gbm_node *node;       /* nnode */
  uint8_t *depth;       /* ntree: the most splits on a path of the tree */
  uint32_t *share_at;   /* nnode + 1: the shares of the path to leaf j are
                           share[share_at[j] .. share_at[j + 1]), in the
                           order of the features' first splits (none for
                           a split node) */
  gbm_share *share;
  gbm_pnode *pnode;     /* nnode: the same nodes for walk_pred_rows */
  float base;           /* the margin every prediction starts from (the
                           base score, as a logit for binary models) */
} gbm_trees;

struct tsr_gbm {
  BoosterHandle b;
  size_t nfeat;
  tsr_gbm_objective objective;
  int approx;           /* tsr__gbm_walk's contributions: 0 not checked
                           yet, 1 ours equal XGBoost's, -1 XGBoost's */
  int walk_pred;        /* the same for its predictions */
  float approx_bias;    /* the bias column (the same for every row) */
  gbm_trees trees;
};

/* Rows per DMatrix when predicting (bounds the copy XGBoost makes). */
#define GBM_CHUNK 131072

void tsr_gbm_params_init(tsr_gbm_params *p) {
  memset(p, 0, sizeof *p);
  p->objective = TSR_GBM_BINARY;
  p->tree_method = TSR_GBM_EXACT;
  p->max_depth = 4;
  p->eta = 0.1;
  p->n_rounds = 500;
  p->early_stopping = 30;
  p->valid_fraction = 0.2;
  p->subsample = 0.8;
  p->colsample = 0.8;
  p->min_child_weight = 1.0;
  p->lambda = 1.0;
  p->gamma = 0.0;
  p->pos_weight = 1.0;
  p->threads = 0;
  p->seed = 42;
}

static tsr_status bad_param(tsr_error *err, const char *name, const char *range,
                            double v) {
  return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, name,
                       "expected %s, got %g", range, v);
}

tsr_status tsr_gbm_check_params(const tsr_gbm_params *p, tsr_error *err) {
  if (!p) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "no parameters");
  if (p->objective != TSR_GBM_BINARY && p->objective != TSR_GBM_REGRESSION)
    return bad_param(err, "objective", "binary (0) or regression (1)", p->objective);
  if (p->tree_method != TSR_GBM_EXACT && p->tree_method != TSR_GBM_HIST &&
      p->tree_method != TSR_GBM_HIST_FIXED)
    return bad_param(err, "tree_method", "exact (0), hist (1) or hist_fixed (2)", p->tree_method);
  if (p->max_depth < 1 || p->max_depth > 16)
    return bad_param(err, "max_depth", "an integer in 1..16", p->max_depth);
  if (!(p->eta > 0 && p->eta <= 1)) return bad_param(err, "eta", "a value in (0, 1]", p->eta);
  if (p->n_rounds < 1 || p->n_rounds > 100000)
    return bad_param(err, "n_rounds", "an integer in 1..100000", p->n_rounds);
  if (p->early_stopping < 0 || p->early_stopping > 100000)
    return bad_param(err, "early_stopping", "an integer in 0..100000", p->early_stopping);
  if (!(p->valid_fraction >= 0 && p->valid_fraction <= 0.5))
    return bad_param(err, "valid_fraction", "a value in [0, 0.5]", p->valid_fraction);
  if (!(p->subsample > 0 && p->subsample <= 1))
    return bad_param(err, "subsample", "a value in (0, 1]", p->subsample);
  if (!(p->colsample > 0 && p->colsample <= 1))
    return bad_param(err, "colsample", "a value in (0, 1]", p->colsample);
  if (!(p->min_child_weight >= 0 && isfinite(p->min_child_weight)))
    return bad_param(err, "min_child_weight", "a finite value >= 0", p->min_child_weight);
  if (!(p->lambda >= 0 && isfinite(p->lambda)))
    return bad_param(err, "lambda", "a finite value >= 0", p->lambda);
  if (!(p->gamma >= 0 && isfinite(p->gamma)))
    return bad_param(err, "gamma", "a finite value >= 0", p->gamma);
  if (!(p->pos_weight >= 0 && isfinite(p->pos_weight)))
    return bad_param(err, "pos_weight", "a finite value > 0, or 0 for balanced", p->pos_weight);
  if (p->threads < 0 || p->threads > 256)
    return bad_param(err, "threads", "an integer in 0..256", p->threads);
  return TSR_OK;
}

/* Copies XGBoost's last error into err. */
static tsr_status xgb_fail(tsr_error *err, tsr_status code, const char *what) {
  const char *m = XGBGetLastError();
  char msg[TSR_ERROR_MSG_MAX - 64];
  snprintf(msg, sizeof msg, "%s", m && *m ? m : "unknown error");
  /* XGBoost messages may span lines; keep the first. */
  char *nl = strchr(msg, '\n');
  if (nl) *nl = '\0';
  return tsr_error_set(err, code, NULL, 0, 0, NULL, "xgboost: %s: %s", what, msg);
}

#define XGB_CHECK(call, what)                                       \
  do {                                                              \
    if ((call) != 0) {                                              \
      st = xgb_fail(err, TSR_ENUMERIC, what);                       \
      goto done;                                                    \
    }                                                               \
  } while (0)

static tsr_status check_data(const tsr_gbm_data *d, tsr_gbm_objective obj,
                             const char *name, tsr_error *err) {
  if (!d || !d->x || !d->y)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, name, "no data");
  if (d->nfeat < 1 || d->nfeat > 1000000)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, name,
                         "expected 1..1000000 features, got %zu", d->nfeat);
  for (size_t i = 0; i < d->n; i++) {
    float y = d->y[i];
    if (!isfinite(y))
      return tsr_error_set(err, TSR_EINVAL, NULL, (int64_t)i + 1, 0, name,
                           "label of row %zu is not finite", i + 1);
    if (obj == TSR_GBM_BINARY && y != 0.0f && y != 1.0f)
      return tsr_error_set(err, TSR_EINVAL, NULL, (int64_t)i + 1, 0, name,
                           "binary label of row %zu must be 0 or 1, got %g", i + 1,
                           (double)y);
    if (d->w && !(d->w[i] >= 0 && isfinite(d->w[i])))
      return tsr_error_set(err, TSR_EINVAL, NULL, (int64_t)i + 1, 0, name,
                           "weight of row %zu must be finite and >= 0, got %g", i + 1,
                           (double)d->w[i]);
  }
  return TSR_OK;
}

/* A DMatrix of rows idx (or all rows when idx is NULL) of d, with labels and
 * the weights w (NULL = none). */
static tsr_status make_dmatrix(const tsr_gbm_data *d, const size_t *idx, size_t n,
                               const float *w, DMatrixHandle *out, tsr_error *err) {
  tsr_status st = TSR_OK;
  float *x = NULL, *y = NULL;
  const float *xs = d->x, *ys = d->y;
  *out = NULL;
  if (idx) {
    x = tsr__malloc(n * d->nfeat * sizeof *x);
    y = tsr__malloc(n * sizeof *y);
    if (!x || !y) {
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory (%zu rows)", n);
      goto done;
    }
    for (size_t i = 0; i < n; i++) {
      memcpy(x + i * d->nfeat, d->x + idx[i] * d->nfeat, d->nfeat * sizeof *x);
      y[i] = d->y[idx[i]];
    }
    xs = x;
    ys = y;
  }
  XGB_CHECK(XGDMatrixCreateFromMat(xs, (bst_ulong)n, (bst_ulong)d->nfeat, NAN, out),
            "creating the data matrix");
  XGB_CHECK(XGDMatrixSetFloatInfo(*out, "label", ys, (bst_ulong)n), "setting labels");
  if (w) XGB_CHECK(XGDMatrixSetFloatInfo(*out, "weight", w, (bst_ulong)n), "setting weights");
done:
  if (st != TSR_OK && *out) {
    XGDMatrixFree(*out);
    *out = NULL;
  }
  tsr__free(x);
  tsr__free(y);
  return st;
}

/* Parses "name-metric:value" out of an XGBoost evaluation string. */
static double parse_eval(const char *s, const char *key) {
  const char *p = strstr(s, key);
  if (!p) return NAN;
  p = strchr(p, ':');
  if (!p) return NAN;
  return strtod(p + 1, NULL);
}

static tsr_status set_param(BoosterHandle b, const char *k, const char *v, tsr_error *err) {
  if (XGBoosterSetParam(b, k, v) != 0) {
    char what[96];
    snprintf(what, sizeof what, "setting %s=%s", k, v);
    return xgb_fail(err, TSR_ENUMERIC, what);
  }
  return TSR_OK;
}

static tsr_status set_params(BoosterHandle b, const tsr_gbm_params *p, tsr_error *err) {
  char v[64];
  tsr_status st;
#define SETP(k, ...)                                 \
  do {                                               \
    snprintf(v, sizeof v, __VA_ARGS__);              \
    if ((st = set_param(b, k, v, err)) != TSR_OK) return st; \
  } while (0)
  SETP("verbosity", "0");
  SETP("objective", "%s", p->objective == TSR_GBM_BINARY ? "binary:logistic" : "reg:squarederror");
  SETP("eval_metric", "%s", p->objective == TSR_GBM_BINARY ? "logloss" : "rmse");
  SETP("tree_method", "%s", p->tree_method == TSR_GBM_EXACT ? "exact" : "hist");
  if (p->tree_method == TSR_GBM_HIST_FIXED) SETP("max_bin", "%d", TSR_GBM_MAX_BIN);
  SETP("max_depth", "%d", p->max_depth);
  SETP("eta", "%.17g", p->eta);
  SETP("subsample", "%.17g", p->subsample);
  SETP("colsample_bytree", "%.17g", p->colsample);
  SETP("min_child_weight", "%.17g", p->min_child_weight);
  SETP("lambda", "%.17g", p->lambda);
  SETP("gamma", "%.17g", p->gamma);
  SETP("nthread", "%d", p->threads);
  SETP("seed", "%d", (int)(p->seed % 2147483647u));
#undef SETP
  return TSR_OK;
}

/* ------------------------------------------------ TSR_GBM_HIST_FIXED */

/* Loss of predictions p (probabilities or means) against y, weights w (NULL
 * = 1), summed in row order: XGBoost's logloss (p clipped to 1e-16) or
 * RMSE. */
static double fixed_loss(tsr_gbm_objective obj, const float *p, const float *y, const float *w,
                         size_t n) {
  double s = 0, sw = 0;
  for (size_t i = 0; i < n; i++) {
    double wi = w ? w[i] : 1.0, pi = p[i], l;
    if (obj == TSR_GBM_BINARY) {
      pi = pi < 1e-16 ? 1e-16 : pi > 1 - 1e-16 ? 1 - 1e-16 : pi;
      l = y[i] == 1.0f ? -log(pi) : -log(1 - pi);
    } else {
      l = (y[i] - pi) * (y[i] - pi);
    }
    s += wi * l;
    sw += wi;
  }
  if (!(sw > 0)) return NAN;
  return obj == TSR_GBM_BINARY ? s / sw : sqrt(s / sw);
}

/* Gradient and hessian of each row (logistic or squared loss, times the
 * weight), rounded to the grid 2^-S with S chosen from the largest value
 * m < 2^e and the row count: every value is k * 2^-S with |k| <= 2^24, exact
 * in float, and any sum of n of them has |sum k| < 2^53, exact in double
 * whatever the order of the additions (XGBoost's histograms sum in double
 * per thread, then across threads). */
static void fixed_gradients(tsr_gbm_objective obj, const float *p, const float *y, const float *w,
                            size_t n, float *g, float *h) {
  double m = 0;
  for (size_t i = 0; i < n; i++) {
    double wi = w ? w[i] : 1.0, gi, hi;
    if (obj == TSR_GBM_BINARY) {
      gi = wi * ((double)p[i] - y[i]);
      hi = wi * fmax((double)p[i] * (1.0 - p[i]), 1e-16);
    } else {
      gi = wi * ((double)p[i] - y[i]);
      hi = wi;
    }
    if (fabs(gi) > m) m = fabs(gi);
    if (hi > m) m = hi;
    g[i] = (float)gi; /* rounded below */
    h[i] = (float)hi;
  }
  int e = 0, en = 0;
  if (m > 0) frexp(m, &e); /* m < 2^e */
  frexp((double)(n ? n : 1), &en); /* n < 2^en */
  int S = 24 - e - (en > 29 ? en - 29 : 0);
  if (S > 100) S = 100;
  const double up = ldexp(1.0, S), down = ldexp(1.0, -S); /* exact scalings */
  for (size_t i = 0; i < n; i++) {
    g[i] = (float)(nearbyint(g[i] * up) * down);
    h[i] = (float)(nearbyint(h[i] * up) * down);
  }
}

/* Current predictions of a cached matrix (booster-owned until the next
 * call). */
static tsr_status fixed_predict(BoosterHandle b, DMatrixHandle d, size_t n, const float **out,
                                tsr_error *err) {
  static const char cfg[] = "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
                            "\"iteration_end\": 0, \"strict_shape\": false}";
  const bst_ulong *shape = NULL;
  bst_ulong dim = 0, total = 1;
  if (XGBoosterPredictFromDMatrix(b, d, cfg, &shape, &dim, out) != 0)
    return xgb_fail(err, TSR_ENUMERIC, "predicting");
  for (bst_ulong i = 0; i < dim; i++) total *= shape[i];
  if (total != (bst_ulong)n)
    return tsr_error_set(err, TSR_ENUMERIC, NULL, 0, 0, NULL,
                         "xgboost: expected %zu predictions, got %llu", n,
                         (unsigned long long)total);
  return TSR_OK;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* tsr_gbm_train; valid_pred (NULL: not wanted) as tsr__gbm_train_valid. */
static tsr_status gbm_train(const tsr_gbm_params *p, const tsr_gbm_data *train,
                            const tsr_gbm_data *valid, tsr_gbm **out, tsr_gbm_info *info,
                            double *valid_pred, tsr_error *err) {
  tsr_status st;
  tsr_gbm_info inf;
  double t0 = now_s();
  memset(&inf, 0, sizeof inf);
  inf.best_valid_loss = NAN;
  if (out) *out = NULL;
  if (!out) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "no output");
  if ((st = tsr_gbm_check_params(p, err)) != TSR_OK) return st;
  if ((st = check_data(train, p->objective, "train", err)) != TSR_OK) return st;
  if ((st = xgb_need(err)) != TSR_OK) return st;
  if (valid) {
    if ((st = check_data(valid, p->objective, "valid", err)) != TSR_OK) return st;
    if (valid->nfeat != train->nfeat)
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "valid",
                           "expected %zu features as in train, got %zu", train->nfeat,
                           valid->nfeat);
  }
  if (train->n < 2)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "train",
                         "expected at least 2 rows, got %zu", train->n);

  DMatrixHandle dtrain = NULL, dvalid = NULL;
  BoosterHandle b = NULL, best = NULL;
  size_t *idx = NULL;
  float *wtrain = NULL, *wvalid = NULL;
  double *vloss = NULL, *tloss = NULL;
  float *fy = NULL, *fp = NULL, *fg = NULL, *fh = NULL; /* TSR_GBM_HIST_FIXED */
  float *fvbest = NULL; /* its validation predictions at the best round so far */
  float *ftbest = NULL; /* its training predictions at the best round so far
                           (the training loss is computed once, at the end) */
  tsr_gbm *m = NULL;
  size_t n_train = train->n, n_valid = 0;
  const tsr_gbm_data *vd = valid;

  /* class counts and the positive weight */
  double wpos = 1.0;
  if (p->objective == TSR_GBM_BINARY) {
    size_t npos = 0;
    for (size_t i = 0; i < train->n; i++) npos += train->y[i] == 1.0f;
    if (npos == 0 || npos == train->n)
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "train",
                           "one class only: every label is %d (%zu rows)",
                           npos ? 1 : 0, train->n);
    wpos = p->pos_weight > 0 ? p->pos_weight
                             : (double)(train->n - npos) / (double)npos;
  }
  inf.pos_weight = wpos;

  if (!valid && p->valid_fraction > 0) {
    idx = tsr__malloc(2 * train->n * sizeof *idx);
    if (!idx) { st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory"); goto done; }
    /* stratified seeded split: shuffle each class, take its first share */
    tsr_rng g;
    tsr_rng_seed(&g, p->seed, 0x9b3d);
    size_t nt = 0, nv = 0;
    size_t *vpart = idx + train->n;
    int nclass = p->objective == TSR_GBM_BINARY ? 2 : 1;
    size_t *grp = tsr__malloc(train->n * sizeof *grp);
    if (!grp) { st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory"); goto done; }
    for (int c = 0; c < nclass; c++) {
      size_t mm = 0;
      for (size_t i = 0; i < train->n; i++)
        if (nclass == 1 || (int)train->y[i] == c) grp[mm++] = i;
      for (size_t i = mm; i > 1; i--) {
        size_t j = (size_t)tsr_rng_bounded(&g, i);
        size_t t = grp[i - 1];
        grp[i - 1] = grp[j];
        grp[j] = t;
      }
      size_t k = (size_t)floor(p->valid_fraction * (double)mm + 0.5);
      if (k >= mm) k = mm - 1; /* keep one of each class for training */
      for (size_t i = 0; i < k; i++) vpart[nv++] = grp[i];
      for (size_t i = k; i < mm; i++) idx[nt++] = grp[i];
    }
    tsr__free(grp);
    memmove(idx + nt, vpart, nv * sizeof *idx);
    n_train = nt;
    n_valid = nv;
  } else if (valid) {
    n_valid = valid->n;
  }

  /* weights: row weights times the positive-class weight */
  if (train->w || wpos != 1.0) {
    wtrain = tsr__malloc((n_train ? n_train : 1) * sizeof *wtrain);
    wvalid = tsr__malloc((n_valid ? n_valid : 1) * sizeof *wvalid);
    if (!wtrain || !wvalid) { st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory"); goto done; }
    for (size_t i = 0; i < n_train; i++) {
      size_t r = idx ? idx[i] : i;
      double w = train->w ? train->w[r] : 1.0;
      if (p->objective == TSR_GBM_BINARY && train->y[r] == 1.0f) w *= wpos;
      wtrain[i] = (float)w;
    }
    for (size_t i = 0; i < n_valid; i++) {
      const tsr_gbm_data *src = vd ? vd : train;
      size_t r = vd ? i : idx[n_train + i];
      double w = src->w ? src->w[r] : 1.0;
      if (p->objective == TSR_GBM_BINARY && src->y[r] == 1.0f) w *= wpos;
      wvalid[i] = (float)w;
    }
  }

  if ((st = make_dmatrix(train, idx, n_train, wtrain, &dtrain, err)) != TSR_OK) goto done;
  if (n_valid > 0) {
    if (vd)
      st = make_dmatrix(vd, NULL, n_valid, (vd->w || wpos != 1.0) ? wvalid : NULL, &dvalid, err);
    else
      st = make_dmatrix(train, idx + n_train, n_valid, wvalid, &dvalid, err);
    if (st != TSR_OK) goto done;
  }

  DMatrixHandle cache[2] = {dtrain, dvalid};
  XGB_CHECK(XGBoosterCreate(cache, dvalid ? 2 : 1, &b), "creating the booster");
  if ((st = set_params(b, p, err)) != TSR_OK) goto done;

  vloss = tsr__malloc((size_t)p->n_rounds * sizeof *vloss);
  tloss = tsr__malloc((size_t)p->n_rounds * sizeof *tloss);
  if (!vloss || !tloss) { st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory"); goto done; }
  const char *metric = p->objective == TSR_GBM_BINARY ? "-logloss" : "-rmse";
  char vkey[32], tkey[32];
  snprintf(vkey, sizeof vkey, "valid%s", metric);
  snprintf(tkey, sizeof tkey, "train%s", metric);
  int fixed = p->tree_method == TSR_GBM_HIST_FIXED;
  if (fixed) {
    /* labels of the two matrices in their row order, the training
     * predictions and the rounded gradients */
    fy = tsr__malloc((n_train + n_valid + 1) * sizeof *fy);
    fp = tsr__malloc((n_train ? n_train : 1) * sizeof *fp);
    fg = tsr__malloc((n_train ? n_train : 1) * sizeof *fg);
    fh = tsr__malloc((n_train ? n_train : 1) * sizeof *fh);
    if (valid_pred && n_valid) fvbest = tsr__malloc(n_valid * sizeof *fvbest);
    ftbest = tsr__malloc((n_train ? n_train : 1) * sizeof *ftbest);
    if (!fy || !fp || !fg || !fh || !ftbest || (valid_pred && n_valid && !fvbest)) { st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory"); goto done; }
    for (size_t i = 0; i < n_train; i++) fy[i] = train->y[idx ? idx[i] : i];
    for (size_t i = 0; i < n_valid; i++) fy[n_train + i] = vd ? vd->y[i] : train->y[idx[n_train + i]];
    const float *pp;
    if ((st = fixed_predict(b, dtrain, n_train, &pp, err)) != TSR_OK) goto done;
    memcpy(fp, pp, n_train * sizeof *fp);
  }
  const float *fwv = (vd ? (vd->w || wpos != 1.0) : wvalid != NULL) ? wvalid : NULL;
  int best_it = 0, it;
  for (it = 0; it < p->n_rounds; it++) {
    if (fixed) {
      fixed_gradients(p->objective, fp, fy, wtrain, n_train, fg, fh);
      XGB_CHECK(XGBoosterBoostOneIter(b, dtrain, fg, fh, (bst_ulong)n_train), "training a round");
      const float *pp;
      if ((st = fixed_predict(b, dtrain, n_train, &pp, err)) != TSR_OK) goto done;
      memcpy(fp, pp, n_train * sizeof *fp);
      tloss[it] = NAN; /* below, of the kept round only */
      vloss[it] = NAN;
      if (dvalid) {
        if ((st = fixed_predict(b, dvalid, n_valid, &pp, err)) != TSR_OK) goto done;
        vloss[it] = fixed_loss(p->objective, pp, fy + n_train, fwv, n_valid);
        /* kept for the caller: the predictions of the model sliced to the
         * best round (the same float sums, tree by tree) */
        if (it == 0 || vloss[it] < vloss[best_it]) {
          if (fvbest) memcpy(fvbest, pp, n_valid * sizeof *fvbest);
          memcpy(ftbest, fp, n_train * sizeof *ftbest);
        }
      }
    } else {
      XGB_CHECK(XGBoosterUpdateOneIter(b, it, dtrain), "training a round");
      const char *names[2] = {"train", "valid"};
      const char *res = NULL;
      /* the training loss only for the caller's info (evaluating does not
       * change the model: the metric reads XGBoost's prediction cache) */
      int ev0 = info ? 0 : 1, nev = (dvalid ? 2 : 1) - ev0;
      if (nev > 0)
        XGB_CHECK(XGBoosterEvalOneIter(b, it, cache + ev0, names + ev0, (bst_ulong)nev, &res),
                  "evaluating a round");
      tloss[it] = info ? parse_eval(res, tkey) : NAN;
      vloss[it] = dvalid ? parse_eval(res, vkey) : NAN;
      if (dvalid && !isfinite(vloss[it])) {
        st = tsr_error_set(err, TSR_ENUMERIC, NULL, 0, 0, NULL,
                           "xgboost: unreadable evaluation '%.80s'", res ? res : "");
        goto done;
      }
    }
    if (dvalid) {
      if (!isfinite(vloss[it])) {
        st = tsr_error_set(err, TSR_ENUMERIC, NULL, 0, 0, NULL,
                           "xgboost: validation loss is not finite at round %d", it + 1);
        goto done;
      }
      if (vloss[it] < vloss[best_it]) best_it = it;
      if (p->early_stopping > 0 && it - best_it >= p->early_stopping) {
        it++;
        break;
      }
    } else {
      best_it = it;
    }
  }
  inf.rounds_run = it;
  inf.rounds = best_it + 1;
  inf.best_valid_loss = vloss[best_it];
  /* TSR_GBM_HIST_FIXED: the training loss of the kept round from its
   * predictions (without a validation set the last round: fp) */
  if (fixed) tloss[best_it] = fixed_loss(p->objective, dvalid ? ftbest : fp, fy, wtrain, n_train);
  inf.train_loss = tloss[best_it];
  if (best_it + 1 < it) {
    int rc = XGBoosterSlice(b, 0, best_it + 1, 1, &best);
    if (rc != 0) { st = xgb_fail(err, TSR_ENUMERIC, "keeping the best round"); goto done; }
    XGBoosterFree(b);
    b = best;
    best = NULL;
  }
  if (XGBoosterSetAttr(b, "tessera_objective",
                       p->objective == TSR_GBM_BINARY ? "binary" : "regression") != 0) {
    st = xgb_fail(err, TSR_ENUMERIC, "setting an attribute");
    goto done;
  }
  m = tsr__calloc(1, sizeof *m);
  if (!m) { st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory"); goto done; }
  m->b = b;
  b = NULL;
  m->nfeat = train->nfeat;
  m->objective = p->objective;
  if (valid_pred) {
    if (fvbest)
      for (size_t i = 0; i < n_valid; i++) valid_pred[i] = fvbest[i];
    else if ((st = tsr_gbm_predict(m, valid->x, valid->n, valid_pred, err)) != TSR_OK)
      goto done;
  }
  inf.n_train = n_train;
  inf.n_valid = n_valid;
  *out = m;
  m = NULL;
  st = TSR_OK;
done:
  if (b) XGBoosterFree(b);
  if (best) XGBoosterFree(best);
  if (dtrain) XGDMatrixFree(dtrain);
  if (dvalid) XGDMatrixFree(dvalid);
  tsr__free(idx);
  tsr__free(wtrain);
  tsr__free(wvalid);
  tsr__free(vloss);
  tsr__free(tloss);
  tsr__free(fy);
  tsr__free(fp);
  tsr__free(fg);
  tsr__free(fh);
  tsr__free(fvbest);
  tsr__free(ftbest);
  tsr_gbm_free(m);
  inf.seconds = now_s() - t0;
  if (info) *info = inf;
  return st;
}

tsr_status tsr_gbm_train(const tsr_gbm_params *p, const tsr_gbm_data *train,
                         const tsr_gbm_data *valid, tsr_gbm **out,
                         tsr_gbm_info *info, tsr_error *err) {
  return gbm_train(p, train, valid, out, info, NULL, err);
}

tsr_status tsr__gbm_train_valid(const tsr_gbm_params *p, const tsr_gbm_data *train_set,
                                const tsr_gbm_data *valid, tsr_gbm **out, tsr_gbm_info *info,
                                double *valid_pred, tsr_error *err) {
  if (out) *out = NULL;
  if (!valid || (!valid_pred && valid->n))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "valid", "no validation set or output");
  return gbm_train(p, train_set, valid, out, info, valid_pred, err);
}

static void trees_release(gbm_trees *t) {
  tsr__free(t->root);
  tsr__free(t->node);
  tsr__free(t->depth);
  tsr__free(t->share_at);
  tsr__free(t->share);
  tsr__free(t->pnode);
  memset(t, 0, sizeof *t);
}

void tsr_gbm_free(tsr_gbm *m) {
  if (!m) return;
  if (m->b) XGBoosterFree(m->b);
  trees_release(&m->trees);
  tsr__free(m);
}

size_t tsr_gbm_nfeatures(const tsr_gbm *m) { return m ? m->nfeat : 0; }
tsr_gbm_objective tsr_gbm_objective_of(const tsr_gbm *m) {
  return m ? m->objective : TSR_GBM_BINARY;
}

/* Prediction of type 0 (value), 2 (contributions) or 3 (approximate
 * contributions) in chunks; width = output values per row. */
static tsr_status predict_type(tsr_gbm *m, const float *x, size_t n, int type,
                               size_t width, double *out, tsr_error *err) {
  tsr_status st = TSR_OK;
  if (!m || (!x && n) || (!out && n))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "no model or data");
  char cfg[160];
  snprintf(cfg, sizeof cfg,
           "{\"type\": %d, \"training\": false, \"iteration_begin\": 0, "
           "\"iteration_end\": 0, \"strict_shape\": false}",
           type);
  DMatrixHandle d = NULL;
  for (size_t off = 0; off < n; off += GBM_CHUNK) {
    size_t k = n - off < GBM_CHUNK ? n - off : GBM_CHUNK;
    XGB_CHECK(XGDMatrixCreateFromMat(x + off * m->nfeat, (bst_ulong)k, (bst_ulong)m->nfeat,
                                     NAN, &d),
              "creating the data matrix");
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    const float *res = NULL;
    XGB_CHECK(XGBoosterPredictFromDMatrix(m->b, d, cfg, &shape, &dim, &res), "predicting");
    bst_ulong total = 1;
    for (bst_ulong i = 0; i < dim; i++) total *= shape[i];
    if (total != (bst_ulong)(k * width)) {
      st = tsr_error_set(err, TSR_ENUMERIC, NULL, 0, 0, NULL,
                         "xgboost: expected %zu predictions, got %llu", k * width,
                         (unsigned long long)total);
      goto done;
    }
    for (size_t i = 0; i < k * width; i++) out[off * width + i] = res[i];
    XGDMatrixFree(d);
    d = NULL;
  }
done:
  if (d) XGDMatrixFree(d);
  return st;
}

tsr_status tsr_gbm_predict(tsr_gbm *m, const float *x, size_t n, double *out,
                           tsr_error *err) {
  return predict_type(m, x, n, 0, 1, out, err);
}

tsr_status tsr_gbm_contributions(tsr_gbm *m, const float *x, size_t n, int approximate,
                                 double *out, tsr_error *err) {
  if (!m) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "no model");
  return predict_type(m, x, n, approximate ? 3 : 2, m->nfeat + 1, out, err);
}

tsr_status tsr_gbm_save(tsr_gbm *m, char **buf, size_t *len, tsr_error *err) {
  tsr_status st = TSR_OK;
  if (!m || !buf || !len) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "no model");
  *buf = NULL;
  *len = 0;
  bst_ulong n = 0;
  const char *p = NULL;
  XGB_CHECK(XGBoosterSaveModelToBuffer(m->b, "{\"format\": \"json\"}", &n, &p),
            "saving the model");
  *buf = tsr__malloc((size_t)n + 1);
  if (!*buf) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  memcpy(*buf, p, (size_t)n);
  (*buf)[n] = '\0';
  *len = (size_t)n;
done:
  return st;
}

tsr_status tsr_gbm_load(const void *buf, size_t len, int threads, tsr_gbm **out,
                        tsr_error *err) {
  tsr_status st = TSR_OK;
  BoosterHandle b = NULL;
  if (!out) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "no output");
  *out = NULL;
  if (!buf || len == 0)
    return tsr_error_set(err, TSR_EPARSE, NULL, 0, 0, NULL, "empty model");
  if (threads < 0 || threads > 256) return bad_param(err, "threads", "an integer in 0..256", threads);
  if ((st = xgb_need(err)) != TSR_OK) return st;
  XGB_CHECK(XGBoosterCreate(NULL, 0, &b), "creating the booster");
  if (XGBoosterLoadModelFromBuffer(b, buf, (bst_ulong)len) != 0) {
    st = xgb_fail(err, TSR_EPARSE, "loading the model");
    goto done;
  }
  char v[16];
  snprintf(v, sizeof v, "%d", threads);
  if ((st = set_param(b, "nthread", v, err)) != TSR_OK) goto done;
  bst_ulong nf = 0;
  XGB_CHECK(XGBoosterGetNumFeature(b, &nf), "reading the feature count");
  const char *obj = NULL;
  int ok = 0;
  XGB_CHECK(XGBoosterGetAttr(b, "tessera_objective", &obj, &ok), "reading an attribute");
  tsr_gbm *m = tsr__calloc(1, sizeof *m);
  if (!m) { st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory"); goto done; }
  m->b = b;
  b = NULL;
  m->nfeat = (size_t)nf;
  m->objective = (ok && obj && strcmp(obj, "regression") == 0) ? TSR_GBM_REGRESSION : TSR_GBM_BINARY;
  *out = m;
done:
  if (b) XGBoosterFree(b);
  return st;
}

/* ------------------------------------------ approximate contributions */

/* The values of the next array "key":[...] at or after *cur (the model
 * JSON that tsr_gbm_save writes): their count into *count, the values
 * (when v is not NULL, at most cap of them) as floats; *cur moves past the
 * array. 0 when there is no such array or a value is unreadable. */
static int json_array(const char **cur, const char *key, float *v, size_t cap, size_t *count) {
  char pat[48];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(*cur, pat);
  if (!p) return 0;
  p += strlen(pat);
  while (*p == ' ') p++;
  if (*p++ != '[') return 0;
  size_t k = 0;
  for (;;) {
    while (*p == ' ' || *p == ',') p++;
    if (*p == ']') break;
    float f;
    if (strncmp(p, "true", 4) == 0) f = 1, p += 4;
    else if (strncmp(p, "false", 5) == 0) f = 0, p += 5;
    else {
      char *e;
      f = strtof(p, &e);
      if (e == p) return 0;
      p = e;
    }
    if (v) {
      if (k >= cap) return 0;
      v[k] = f;
    }
    k++;
  }
  *count = k;
  *cur = p + 1;
  return 1;
}

/* The path from node j of t down to its leaves: pf/pd hold the np splits
 * above j (feature, delta of the child taken). At a leaf, its shares: for
 * each feature on the path, at its first split, the sum of its deltas in
 * path order (the values walk_rows adds). cnt: the count of each leaf's
 * shares (pass 1); out: NULL, or where they go, at t->share_at (pass 2). */
static void path_shares(const gbm_trees *t, size_t j, uint32_t *pf, float *pd, int np,
                        uint32_t *cnt, gbm_share *out) {
  const gbm_node *nd = &t->node[j];
  if (nd->left < 0) {
    uint32_t c = 0;
    for (int k = 0; k < np; k++) {
      int again = 0;
      for (int e = 0; e < k && !again; e++) again = pf[e] == pf[k];
      if (again) continue; /* summed at its first split */
      float sum = pd[k];
      for (int e = k + 1; e < np; e++)
        if (pf[e] == pf[k]) sum += pd[e];
      if (out) out[t->share_at[j] + c] = (gbm_share){pf[k], sum};
      c++;
    }
    cnt[j] = c;
    return;
  }
  pf[np] = nd->split & ~GBM_DLEFT;
  for (size_t side = 0; side < 2; side++) {
    size_t ch = (size_t)nd->left + side;
    pd[np] = t->node[ch].delta;
    path_shares(t, ch, pf, pd, np + 1, cnt, out);
  }
}

/* t->share_at and t->share of t's nodes (t->depth is trees_parse's); 0
 * when out of memory. */
static int trees_shares(gbm_trees *t) {
  uint32_t *cnt = tsr__calloc(t->nnode + 1, sizeof *cnt);
  uint32_t pf[65];
  float pd[65];
  t->share_at = tsr__malloc((t->nnode + 1) * sizeof *t->share_at);
  if (!cnt || !t->share_at) {
    tsr__free(cnt);
    return 0;
  }
  for (int pass = 0; pass < 2; pass++) {
    for (size_t q = 0; q < t->ntree; q++)
      path_shares(t, t->root[q], pf, pd, 0, cnt, pass ? t->share : NULL);
    if (pass) break;
    size_t total = 0;
    for (size_t j = 0; j < t->nnode; j++) {
      t->share_at[j] = (uint32_t)total;
      total += cnt[j];
    }
    t->share_at[t->nnode] = (uint32_t)total;
    if (total > UINT32_MAX || !(t->share = tsr__malloc((total ? total : 1) * sizeof *t->share))) {
      tsr__free(cnt);
      return 0;
    }
  }
  tsr__free(cnt);
  return 1;
}

/* The trees of m's booster (0 when they are not the numeric trees walked
 * below: XGBoost is asked instead); TSR_ENOMEM or XGBoost's error. */
static tsr_status trees_parse(tsr_gbm *m, int *ok, tsr_error *err) {
  gbm_trees *t = &m->trees;
  char *js = NULL;
  size_t len = 0;
  float *tmp = NULL;
  int32_t *left = NULL, *split = NULL;
  uint8_t *dleft = NULL;
  float *cond = NULL, *mean = NULL, *depth = NULL;
  *ok = 0;
  tsr_status st = tsr_gbm_save(m, &js, &len, err);
  if (st != TSR_OK) return st;
  /* the base score (a string in XGBoost's JSON: "base_score":"5E-1") */
  const char *bs = strstr(js, "\"base_score\":");
  if (!bs) goto done;
  bs += strlen("\"base_score\":");
  while (*bs == ' ' || *bs == '"') bs++;
  char *be;
  float base = strtof(bs, &be);
  if (be == bs || !isfinite(base)) goto done;
  if (m->objective == TSR_GBM_BINARY) {
    if (!(base > 0.0f && base < 1.0f)) goto done;
    base = -logf(1.0f / base - 1.0f); /* XGBoost's ProbToMargin */
  }
  t->base = base;
  const char *start = strstr(js, "\"trees\":");
  if (!start) goto done;
  /* pass 1: trees and nodes (each tree has one "left_children") */
  size_t ntree = 0, nnode = 0, k;
  for (const char *c = start; json_array(&c, "left_children", NULL, 0, &k);) ntree++, nnode += k;
  if (nnode > (size_t)INT32_MAX) goto done;
  size_t nn1 = nnode ? nnode : 1;
  t->root = tsr__malloc((ntree + 1) * sizeof *t->root);
  t->node = tsr__malloc(nn1 * sizeof *t->node);
  tmp = tsr__malloc(nn1 * sizeof *tmp);
  left = tsr__malloc(nn1 * sizeof *left);
  split = tsr__malloc(nn1 * sizeof *split);
  dleft = tsr__malloc(nn1);
  cond = tsr__malloc(nn1 * sizeof *cond);
  mean = tsr__malloc(nn1 * sizeof *mean);
  depth = tsr__malloc(nn1 * sizeof *depth);
  t->pnode = tsr__malloc(nn1 * sizeof *t->pnode);
  t->depth = tsr__malloc((ntree ? ntree : 1) * sizeof *t->depth);
  if (!t->root || !t->node || !t->pnode || !t->depth || !tmp || !left || !split || !dleft || !cond || !mean || !depth) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  t->ntree = ntree;
  t->nnode = nnode;
  /* pass 2: each key's arrays in tree order */
  static const char *const keys[] = {"left_children", "split_indices", "default_left",
                                     "split_conditions", "sum_hessian", "split_type"};
  for (size_t q = 0; q < sizeof keys / sizeof *keys; q++) {
    const char *c = start;
    size_t at = 0;
    for (size_t i = 0; i < ntree; i++) {
      if (!json_array(&c, keys[q], tmp + at, nnode - at, &k)) goto done;
      if (q == 0) t->root[i] = at;
      else if (at != t->root[i] || k != t->root[i + 1] - t->root[i]) goto done;
      for (size_t j = 0; j < k; j++) {
        float f = tmp[at + j];
        switch (q) {
        case 0: left[at + j] = (int32_t)f; break;
        case 1: split[at + j] = (int32_t)f; break;
        case 2: dleft[at + j] = f != 0; break;
        case 3: cond[at + j] = f; break;
        case 4: mean[at + j] = f; break; /* the hessian sums for now */
        default: if (f != 0) goto done;  /* a categorical split */
        }
      }
      at += k;
    }
    if (q == 0) t->root[ntree] = at;
    if (at != nnode) goto done;
  }
  /* checks: children after their parent, right = left + 1 inside the tree,
   * features in range, paths of at most 64 splits */
  for (size_t i = 0; i < ntree; i++) {
    size_t o = t->root[i], nn = t->root[i + 1] - o;
    if (nn == 0) goto done;
    for (size_t j = 0; j < nn; j++) depth[o + j] = 0;
    for (size_t j = 0; j < nn; j++) {
      int32_t l = left[o + j];
      if (l == -1) continue;
      if (l <= (int32_t)j || (size_t)l + 1 >= nn || split[o + j] < 0 ||
          (size_t)split[o + j] >= m->nfeat || depth[o + j] >= 64)
        goto done;
      depth[o + (size_t)l] = depth[o + (size_t)l + 1] = depth[o + j] + 1;
    }
    /* node means bottom-up (children have larger ids), in float as
     * XGBoost's FillNodeMeanValue: (m_l h_l + m_r h_r) / h */
    float *mn = mean + o, *hess = tmp + o;
    const int32_t *lf = left + o;
    for (size_t j = 0; j < nn; j++) hess[j] = mn[j];
    for (size_t j = nn; j-- > 0;) {
      int32_t l = lf[j];
      if (l == -1) {
        mn[j] = cond[o + j];
        continue;
      }
      float r = mn[l] * hess[l];
      r += mn[l + 1] * hess[l + 1];
      r /= hess[j];
      mn[j] = r;
    }
    /* the nodes, with the change of the mean from the parent (the value
     * CalculateContributionsApprox adds on the way down) */
    for (size_t j = 0; j < nn; j++) {
      gbm_node *nd = &t->node[o + j];
      nd->left = lf[j] == -1 ? -1 : (int32_t)o + lf[j];
      nd->split = lf[j] == -1 ? 0 : (uint32_t)split[o + j] | (dleft[o + j] ? GBM_DLEFT : 0);
      nd->cond = cond[o + j];
      nd->delta = 0;
    }
    for (size_t j = 0; j < nn; j++) {
      int32_t l = lf[j];
      if (l == -1) continue;
      t->node[o + (size_t)l].delta = mn[l] - mn[j];
      t->node[o + (size_t)l + 1].delta = mn[l + 1] - mn[j];
    }
    /* the prediction walk's nodes and the tree's depth (at most 64) */
    float dmax = 0;
    for (size_t j = 0; j < nn; j++) {
      const gbm_node *nd = &t->node[o + j];
      gbm_pnode *pn = &t->pnode[o + j];
      pn->left = nd->left < 0 ? (int32_t)(o + j) : nd->left;
      pn->split = nd->split;
      pn->cond = nd->cond;
      pn->inner = nd->left >= 0;
      if (depth[o + j] > dmax) dmax = depth[o + j];
    }
    t->depth[i] = (uint8_t)dmax;
  }
  if (!trees_shares(t)) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  *ok = 1;
done:
  if (!*ok) trees_release(t);
  tsr__free(tmp);
  tsr__free(left);
  tsr__free(split);
  tsr__free(dleft);
  tsr__free(cond);
  tsr__free(mean);
  tsr__free(depth);
  free(js);
  return st;
}

/* XGBoost's sigmoid of a margin (1.6, PredTransform of binary:logistic:
 * 1 / (expf(min(-x, 88.7)) + 1 + 1e-16), all in float, scalar expf). */
static float gbm_sigmoid(float x) {
  float e = -x;
  if (-88.7f > x) e = 88.7f;
  return 1.0f / (expf(e) + 1.0f + 1e-16f);
}

/* Rows walked together through one tree (independent chains of loads the
 * processor overlaps). */
#define GBM_WALK_BLOCK 8

/* Rows [from, to) of x walked once through every tree: the prediction
 * (pred, may be NULL) and the approximate contributions (contrib, may be
 * NULL: the nfeat feature columns; the bias column is set by the caller).
 * Contributions tree by tree as XGBoost's CalculateContributionsApprox:
 * along the path each split adds the change of the node mean to its
 * feature (the last split also the leaf value minus the leaf's mean, which
 * is 0: left out), and a tree's sum per feature, in path order, is then
 * added to the row's: the leaf's shares (trees_shares; float: 0 + d1 + d2
 * and d1 + d2 are equal, and a row's sum never is -0, so +0 and -0 add
 * alike). The prediction as XGBoost's predictor: the base margin plus the
 * leaf values in tree order, in float, then the sigmoid for a binary
 * model. Rows go through a tree GBM_WALK_BLOCK at a time, each the tree's
 * depth steps (a row at a leaf stays there; a short last block walks its
 * first row again in the empty places), each row's sums in the same
 * order. acc: GBM_WALK_BLOCK * nfeat floats, the caller's. */
static void walk_rows(const tsr_gbm *m, const float *x, const size_t *rows, size_t from,
                      size_t to, double *pred, double *contrib, float *acc) {
  const gbm_trees *t = &m->trees;
  const gbm_node *node = t->node;
  const gbm_share *share = t->share;
  const uint32_t *share_at = t->share_at;
  const uint8_t *depth = t->depth;
  const size_t nf = m->nfeat, w = nf + 1, ntree = t->ntree;
  const size_t *root = t->root;
  const int binary = m->objective == TSR_GBM_BINARY;
  for (size_t i0 = from; i0 < to; i0 += GBM_WALK_BLOCK) {
    const size_t B = to - i0 < GBM_WALK_BLOCK ? to - i0 : GBM_WALK_BLOCK;
    const float *xr[GBM_WALK_BLOCK];
    float margin[GBM_WALK_BLOCK];
    for (size_t r = 0; r < GBM_WALK_BLOCK; r++) {
      xr[r] = x + (rows ? rows[i0 + (r < B ? r : 0)] : i0 + (r < B ? r : 0)) * nf;
      margin[r] = t->base;
    }
    if (contrib) memset(acc, 0, GBM_WALK_BLOCK * nf * sizeof *acc);
    for (size_t q = 0; q < ntree; q++) {
      uint32_t cur[GBM_WALK_BLOCK];
      for (size_t r = 0; r < GBM_WALK_BLOCK; r++) cur[r] = (uint32_t)root[q];
      for (int dd = depth[q]; dd > 0; dd--) {
        for (size_t r = 0; r < GBM_WALK_BLOCK; r++) {
          const gbm_node *nd = node + cur[r];
          /* a leaf's split is feature 0: read, not used */
          float v = xr[r][nd->split & ~GBM_DLEFT];
          /* right when not v < cond (so NaN), except a missing value
           * whose default is left (no branch on the data) */
          uint32_t right = (uint32_t)(!(v < nd->cond) & !((v != v) & (int)(nd->split >> 31)));
          uint32_t next = (uint32_t)nd->left + right;
          cur[r] = nd->left < 0 ? cur[r] : next;
        }
      }
      for (size_t r = 0; r < GBM_WALK_BLOCK; r++) margin[r] += node[cur[r]].cond;
      if (!contrib) continue;
      for (size_t r = 0; r < GBM_WALK_BLOCK; r++) {
        float *a = acc + r * nf;
        for (uint32_t k = share_at[cur[r]], e = share_at[cur[r] + 1]; k < e; k++)
          a[share[k].feat] += share[k].sum;
      }
    }
    for (size_t r = 0; r < B; r++) {
      if (pred) pred[i0 + r] = binary ? gbm_sigmoid(margin[r]) : margin[r];
      if (contrib) {
        double *o = contrib + (i0 + r) * w;
        const float *a = acc + r * nf;
        for (size_t j = 0; j < nf; j++) o[j] = a[j];
      }
    }
  }
}

/* Rows walked together by walk_pred_rows. */
#define GBM_PWALK_BLOCK 16

/* B rows xr of a block through every tree: XGBoost's predictions as
 * walk_rows computes them (the base margin plus the leaf values in tree
 * order, in float; the sigmoid for a binary model), without the
 * contributions' bookkeeping: each row takes depth[q] steps through tree
 * q, a leaf stepping to itself, so the steps have no branch. */
static inline void walk_pred_block(const gbm_trees *t, int binary, const float *const *xr,
                                   size_t B, double *pred) {
  const gbm_pnode *pn = t->pnode;
  float margin[GBM_PWALK_BLOCK];
  int32_t cur[GBM_PWALK_BLOCK];
  for (size_t r = 0; r < B; r++) margin[r] = t->base;
  for (size_t q = 0; q < t->ntree; q++) {
    const int32_t r0 = (int32_t)t->root[q];
    for (size_t r = 0; r < B; r++) cur[r] = r0;
    for (unsigned d = t->depth[q]; d > 0; d--)
      for (size_t r = 0; r < B; r++) {
        const gbm_pnode *nd = pn + cur[r];
        float v = xr[r][nd->split & ~GBM_DLEFT];
        /* as walk_rows: right when not v < cond (so NaN), except a
         * missing value whose default is left; never at a leaf */
        int right = !(v < nd->cond) & !((v != v) & (int)(nd->split >> 31));
        cur[r] = nd->left + (right & nd->inner);
      }
    for (size_t r = 0; r < B; r++) margin[r] += pn[cur[r]].cond;
  }
  for (size_t r = 0; r < B; r++) pred[r] = binary ? gbm_sigmoid(margin[r]) : margin[r];
}

/* The predictions of rows [from, to) of x (rows: their indices, NULL = in
 * order) into pred[from..to), walk_pred_block's blocks. */
static void walk_pred_rows(const tsr_gbm *m, const float *x, const size_t *rows, size_t from,
                           size_t to, double *pred) {
  const size_t nf = m->nfeat;
  const int binary = m->objective == TSR_GBM_BINARY;
  const float *xr[GBM_PWALK_BLOCK];
  size_t i0 = from;
  for (; to - i0 >= GBM_PWALK_BLOCK; i0 += GBM_PWALK_BLOCK) {
    for (size_t r = 0; r < GBM_PWALK_BLOCK; r++) xr[r] = x + (rows ? rows[i0 + r] : i0 + r) * nf;
    walk_pred_block(&m->trees, binary, xr, GBM_PWALK_BLOCK, pred + i0);
  }
  if (i0 < to) {
    for (size_t r = 0; r < to - i0; r++) xr[r] = x + (rows ? rows[i0 + r] : i0 + r) * nf;
    walk_pred_block(&m->trees, binary, xr, to - i0, pred + i0);
  }
}

typedef struct walk_job {
  const tsr_gbm *m;
  const float *x;
  const size_t *rows;   /* NULL: x's rows in order */
  size_t from, to;
  double *pred, *contrib;
  float *buf;           /* GBM_WALK_BLOCK * nfeat floats */
} walk_job;

static void *walk_run(void *arg) {
  walk_job *j = arg;
  if (!j->contrib) walk_pred_rows(j->m, j->x, j->rows, j->from, j->to, j->pred);
  else walk_rows(j->m, j->x, j->rows, j->from, j->to, j->pred, j->contrib, j->buf);
  return NULL;
}

#define GBM_WALK_THREADS_MAX 8
/* Below this many rows one thread walks. */
#define GBM_WALK_PAR_MIN 20000

/* walk_rows over [0, n) split into up to `threads` equal row ranges (each
 * row's values depend on that row only: the same for any split). */
static tsr_status walk_par(const tsr_gbm *m, const float *x, const size_t *rows, size_t n,
                           double *pred, double *contrib, int threads, tsr_error *err) {
  size_t nt = threads > 0 ? (size_t)threads : 1;
  if (nt > GBM_WALK_THREADS_MAX) nt = GBM_WALK_THREADS_MAX;
  if (n < GBM_WALK_PAR_MIN) nt = 1;
  const size_t nf = m->nfeat;
  const size_t per = GBM_WALK_BLOCK * (nf ? nf : 1);
  float *buf = tsr__malloc(nt * per * sizeof *buf);
  if (!buf) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  walk_job jobs[GBM_WALK_THREADS_MAX];
  pthread_t th[GBM_WALK_THREADS_MAX];
  int started[GBM_WALK_THREADS_MAX] = {0};
  for (size_t k = 0; k < nt; k++) {
    jobs[k] = (walk_job){m, x, rows, n * k / nt, n * (k + 1) / nt, pred, contrib, buf + k * per};
  }
  for (size_t k = 1; k < nt; k++) started[k] = pthread_create(&th[k], NULL, walk_run, &jobs[k]) == 0;
  walk_run(&jobs[0]);
  for (size_t k = 1; k < nt; k++) {
    if (started[k]) pthread_join(th[k], NULL);
    else walk_run(&jobs[k]);
  }
  tsr__free(buf);
  return TSR_OK;
}

/* The threads of tsr__gbm_walk for threads = 0: the online cores. */
static int walk_threads(int threads) {
  if (threads > 0) return threads;
  long c = sysconf(_SC_NPROCESSORS_ONLN);
  return c > 0 ? (int)(c > GBM_WALK_THREADS_MAX ? GBM_WALK_THREADS_MAX : c) : 1;
}

/* The first call of m: parses the trees and compares the walk's
 * predictions and contributions on the first TSR__GBM_APPROX_CHECK rows of
 * x with XGBoost's (m->walk_pred, m->approx = 1 equal, -1 XGBoost's). */
static tsr_status walk_check(tsr_gbm *m, const float *x, size_t n, tsr_error *err) {
  int ok;
  tsr_status st = trees_parse(m, &ok, err);
  if (st != TSR_OK) return st;
  if (!ok) {
    m->approx = m->walk_pred = -1;
    return TSR_OK;
  }
  const size_t nf = m->nfeat, w = nf + 1;
  size_t k = n < TSR__GBM_APPROX_CHECK ? n : TSR__GBM_APPROX_CHECK;
  double *xg = tsr__malloc(k * w * sizeof *xg), *ours = tsr__malloc(k * w * sizeof *ours);
  double *pg = tsr__malloc(k * sizeof *pg), *po = tsr__malloc(2 * k * sizeof *po);
  float *buf = tsr__malloc(GBM_WALK_BLOCK * (nf ? nf : 1) * sizeof *buf);
  if (!xg || !ours || !pg || !po || !buf) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  /* the predictions of both walks (walk_rows' when they come with
   * contributions, else walk_pred_rows') */
  walk_rows(m, x, NULL, 0, k, po + k, ours, buf);
  walk_pred_rows(m, x, NULL, 0, k, po);
  /* XGBoost's values of the same rows: the same floats, and the bias
   * column (the sum of the root means and the base score, the same for
   * every row) */
  if ((st = predict_type(m, x, k, 3, w, xg, err)) != TSR_OK) goto done;
  if ((st = predict_type(m, x, k, 0, 1, pg, err)) != TSR_OK) goto done;
  int same = 1, same_pred = 1;
  for (size_t i = 0; i < k && same; i++)
    for (size_t j = 0; j <= nf && same; j++)
      same = j < nf ? xg[i * w + j] == ours[i * w + j] : xg[i * w + nf] == xg[nf];
  for (size_t i = 0; i < k && same_pred; i++) same_pred = pg[i] == po[i] && pg[i] == po[k + i];
  m->approx_bias = k ? (float)xg[nf] : 0.0f;
  m->approx = same ? 1 : -1;
  m->walk_pred = same_pred ? 1 : -1;
done:
  tsr__free(xg);
  tsr__free(ours);
  tsr__free(pg);
  tsr__free(po);
  tsr__free(buf);
  return st;
}

tsr_status tsr__gbm_walk(tsr_gbm *m, const float *x, size_t n, double *pred, double *contrib,
                         int threads, int *fallback, tsr_error *err) {
  tsr_status st = TSR_OK;
  if (fallback) *fallback = 0;
  if (!m || (!x && n) || (!pred && !contrib))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "no model or data");
  if (threads < 0 || threads > 256) return bad_param(err, "threads", "an integer in 0..256", threads);
  if (n == 0) return TSR_OK;
  if (m->approx == 0 && (st = walk_check(m, x, n, err)) != TSR_OK) return st;
  const size_t nf = m->nfeat, w = nf + 1;
  int ours_pred = pred && m->walk_pred == 1, ours_contrib = contrib && m->approx == 1;
  if (ours_pred || ours_contrib)
    st = walk_par(m, x, NULL, n, ours_pred ? pred : NULL, ours_contrib ? contrib : NULL,
                  walk_threads(threads), err);
  if (st == TSR_OK && ours_contrib)
    for (size_t i = 0; i < n; i++) contrib[i * w + nf] = m->approx_bias;
  if (st == TSR_OK && pred && !ours_pred) {
    if (fallback) *fallback |= 1;
    st = predict_type(m, x, n, 0, 1, pred, err);
  }
  if (st == TSR_OK && contrib && !ours_contrib) {
    if (fallback) *fallback |= 2;
    st = predict_type(m, x, n, 3, w, contrib, err);
  }
  return st;
}

tsr_status tsr__gbm_contributions_approx(tsr_gbm *m, const float *x, size_t n, double *out,
                                         int *fallback, tsr_error *err) {
  if (fallback) *fallback = 0;
  if (!m || (!x && n) || (!out && n))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "no model or data");
  int fb = 0;
  tsr_status st = tsr__gbm_walk(m, x, n, NULL, out, 1, &fb, err);
  if (fallback) *fallback = (fb & 2) != 0;
  return st;
}

/* ------------------------------------------------ predictions walked */

/* XGBoost's predictions of rows (NULL: x[0..n)), GBM_CHUNK rows gathered
 * at a time. */
static tsr_status walk_xgboost(tsr_gbm *m, const float *x, const size_t *rows, size_t n,
                               double *out, tsr_error *err) {
  if (!rows) return predict_type(m, x, n, 0, 1, out, err);
  const size_t nf = m->nfeat, ck = n < GBM_CHUNK ? n : GBM_CHUNK;
  float *xs = tsr__malloc(ck * nf * sizeof *xs);
  if (!xs) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  tsr_status st = TSR_OK;
  for (size_t o = 0; o < n && st == TSR_OK; o += ck) {
    size_t k = n - o < ck ? n - o : ck;
    for (size_t j = 0; j < k; j++) memcpy(xs + j * nf, x + rows[o + j] * nf, nf * sizeof *xs);
    st = predict_type(m, xs, k, 0, 1, out + o, err);
  }
  tsr__free(xs);
  return st;
}

tsr_status tsr__gbm_predict_walk(tsr_gbm *m, const float *x, const size_t *rows, size_t n,
                                 double *out, int *fallback, tsr_error *err) {
  tsr_status st = TSR_OK;
  if (fallback) *fallback = 0;
  if (!m || (!x && n) || (!out && n))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "no model or data");
  if (n == 0) return TSR_OK;
  if (m->approx == 0) {
    /* the first call: tsr__gbm_walk's check on the first rows (gathered) */
    const size_t nf = m->nfeat;
    size_t k = n < TSR__GBM_APPROX_CHECK ? n : TSR__GBM_APPROX_CHECK;
    float *xs = NULL;
    if (rows) {
      if (!(xs = tsr__malloc(k * (nf ? nf : 1) * sizeof *xs)))
        return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      for (size_t j = 0; j < k; j++) memcpy(xs + j * nf, x + rows[j] * nf, nf * sizeof *xs);
    }
    st = walk_check(m, xs ? xs : x, k, err);
    tsr__free(xs);
    if (st != TSR_OK) return st;
  }
  if (m->walk_pred != 1) {
    if (fallback) *fallback = 1;
    return walk_xgboost(m, x, rows, n, out, err);
  }
  return walk_par(m, x, rows, n, out, NULL, 1, err);
}
