/*
 * gmm.c - Gaussian mixture fitted by EM (Dempster, Laird & Rubin 1977;
 * Bishop 2006, sec. 9.2.2, eqs. 9.23-9.27) with full or diagonal
 * covariances, k-means initialisation (one-hot responsibilities from the
 * best of 10 k-means++ restarts, on a sample of max(50000, n/10) rows
 * followed by Lloyd steps on all rows when n > 2 x that; scikit-learn uses
 * one restart on all rows), reg_covar added to
 * the covariance diagonals, responsibilities
 * by log-sum-exp. Each EM iteration is one pass over the data: the E-step
 * with the current parameters accumulates, per block, the mean
 * log-likelihood and the sufficient statistics shifted by the current means;
 * the M-step follows. BIC = -2 LL + p ln n, AIC = -2 LL + 2p.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "cluster_internal.h"

#define LOG_2PI 1.8378770664093454836
#define MAXK 256
#define INIT_SAMPLE 50000 /* rows for the k-means restarts of the init */
#define MAXD 64

tsr_gmm *tsr__gmm_new(size_t k, size_t d, tsr_cov_type cov) {
  tsr_gmm *g = tsr__calloc(1, sizeof *g);
  if (!g) return NULL;
  g->k = k;
  g->d = d;
  g->cov = cov;
  size_t cs = cov == TSR_COV_FULL ? k * d * d : k * d;
  g->weights = tsr__calloc(k, sizeof(double));
  g->means = tsr__calloc(k * d, sizeof(double));
  g->covariances = tsr__calloc(cs, sizeof(double));
  g->prec_chol = tsr__calloc(cs + k, sizeof(double));
  if (!g->weights || !g->means || !g->covariances || !g->prec_chol) {
    tsr_gmm_free(g);
    return NULL;
  }
  return g;
}

void tsr_gmm_free(tsr_gmm *g) {
  if (!g) return;
  tsr__free(g->weights);
  tsr__free(g->means);
  tsr__free(g->covariances);
  tsr__free(g->prec_chol);
  tsr__free(g->trace);
  tsr__free(g);
}

/* prec_chol holds, per component, the inverse of the lower Cholesky factor
 * L of the covariance (full: d x d lower triangular, so that
 * (x-mu)' Sigma^-1 (x-mu) = |L^-1 (x-mu)|^2; diag: the d inverse standard
 * deviations), then k values -sum(log diag L) (the log-determinant term). */
tsr_status tsr__gmm_prepare(tsr_gmm *g, tsr_error *err) {
  size_t k = g->k, d = g->d;
  size_t cs = g->cov == TSR_COV_FULL ? k * d * d : k * d;
  double *ld = g->prec_chol + cs;
  double L[64 * 64];
  for (size_t j = 0; j < k; j++) {
    double s = 0;
    if (g->cov == TSR_COV_DIAG) {
      for (size_t a = 0; a < d; a++) {
        double v = g->covariances[j * d + a];
        if (!(v > 0))
          return tsr_error_set(err, TSR_ENUMERIC, NULL, 0, 0, NULL,
                               "gmm: component %zu has a non-positive "
                               "variance; increase reg_covar",
                               j);
        g->prec_chol[j * d + a] = 1 / sqrt(v);
        s += 0.5 * log(v);
      }
    } else {
      const double *S = g->covariances + j * d * d;
      double *Li = g->prec_chol + j * d * d;
      memset(L, 0, d * d * sizeof *L);
      for (size_t a = 0; a < d; a++) {
        for (size_t b = 0; b <= a; b++) {
          double v = S[a * d + b];
          for (size_t c = 0; c < b; c++) v -= L[a * d + c] * L[b * d + c];
          if (a == b) {
            if (!(v > 0))
              return tsr_error_set(err, TSR_ENUMERIC, NULL, 0, 0, NULL,
                                   "gmm: covariance of component %zu is not "
                                   "positive definite; increase reg_covar",
                                   j);
            L[a * d + a] = sqrt(v);
            s += log(L[a * d + a]);
          } else {
            L[a * d + b] = v / L[b * d + b];
          }
        }
      }
      /* Li = L^-1 by forward substitution, column by column */
      memset(Li, 0, d * d * sizeof *Li);
      for (size_t c = 0; c < d; c++) {
        Li[c * d + c] = 1 / L[c * d + c];
        for (size_t a = c + 1; a < d; a++) {
          double v = 0;
          for (size_t b = c; b < a; b++) v -= L[a * d + b] * Li[b * d + c];
          Li[a * d + c] = v / L[a * d + a];
        }
      }
    }
    ld[j] = -s;
  }
  return TSR_OK;
}

/* log N(x | mu_j, Sigma_j) using the prepared factors (d: see
 * TSR__SPECIALIZE_D). */
TSR__INLINE double log_gauss(const tsr_gmm *g, size_t j, const double *x,
                             size_t d) {
  const double *mu = g->means + j * d;
  size_t cs = g->cov == TSR_COV_FULL ? g->k * d * d : g->k * d;
  double q = 0, z[MAXD];
  if (g->cov == TSR_COV_DIAG) {
    const double *is = g->prec_chol + j * d;
    for (size_t a = 0; a < d; a++) {
      double t = (x[a] - mu[a]) * is[a];
      q += t * t;
    }
  } else {
    const double *Li = g->prec_chol + j * d * d;
    for (size_t a = 0; a < d; a++) z[a] = x[a] - mu[a];
    for (size_t a = 0; a < d; a++) {
      double y = 0;
      for (size_t b = 0; b <= a; b++) y += Li[a * d + b] * z[b];
      q += y * y;
    }
  }
  return -0.5 * ((double)d * LOG_2PI + q) + g->prec_chol[cs + j];
}

/* ================================================================ E-step */

typedef struct em_ctx {
  const tsr_gmm *g;
  const double *X;
  double *logw;    /* k */
  double *bll;     /* nblocks */
  double *bstat;   /* nblocks x k x (1 + d + d*d) */
  int *labels;     /* predict pass */
  double *prob;
} em_ctx;


TSR__INLINE void em_block_d(void *vc, size_t b, size_t lo, size_t hi,
                            size_t d) {
  em_ctx *c = vc;
  const tsr_gmm *g = c->g;
  size_t k = g->k, w = 1 + d + d * d;
  double lp[MAXK], z[MAXD], ll = 0;
  double *st = c->bstat ? c->bstat + b * k * w : NULL;
  if (st) memset(st, 0, k * w * sizeof *st);
  for (size_t i = lo; i < hi; i++) {
    const double *x = c->X + i * d;
    double mx = -DBL_MAX;
    size_t am = 0;
    for (size_t j = 0; j < k; j++) {
      lp[j] = c->logw[j] + log_gauss(g, j, x, d);
      if (lp[j] > mx) {
        mx = lp[j];
        am = j;
      }
    }
    double s = 0;
    for (size_t j = 0; j < k; j++) s += lp[j] = exp(lp[j] - mx);
    ll += mx + log(s);
    double inv = 1 / s; /* responsibilities r_j = lp[j] / s */
    if (c->labels) c->labels[i] = (int)am;
    if (c->prob) c->prob[i] = lp[am] * inv;
    if (!st) continue;
    for (size_t j = 0; j < k; j++) {
      double r = lp[j] * inv;
      if (r < 1e-300) continue;
      double *sj = st + j * w;
      const double *mu = g->means + j * d;
      sj[0] += r;
      for (size_t a = 0; a < d; a++) {
        z[a] = x[a] - mu[a];
        sj[1 + a] += r * z[a];
      }
      double *S = sj + 1 + d;
      if (g->cov == TSR_COV_DIAG) {
        for (size_t a = 0; a < d; a++) S[a * d + a] += r * z[a] * z[a];
      } else {
        for (size_t a = 0; a < d; a++) {
          double ra = r * z[a];
          for (size_t bb = 0; bb <= a; bb++) S[a * d + bb] += ra * z[bb];
        }
      }
    }
  }
  c->bll[b] = ll;
}

static void em_block(void *vc, size_t b, size_t lo, size_t hi) {
  TSR__SPECIALIZE_D(em_block_d, ((em_ctx *)vc)->g->d, vc, b, lo, hi)
}

/* ================================================================ M-step */

/* Parameters from the reduced statistics (sums shifted by the old means). */
static void m_step(tsr_gmm *g, const double *stat, size_t n, double reg) {
  size_t k = g->k, d = g->d, w = 1 + d + d * d;
  for (size_t j = 0; j < k; j++) {
    const double *sj = stat + j * w;
    double nk = sj[0] + 10 * DBL_EPSILON;
    double delta[MAXD];
    g->weights[j] = nk / (double)n;
    for (size_t a = 0; a < d; a++) {
      delta[a] = sj[1 + a] / nk;
      g->means[j * d + a] += delta[a];
    }
    const double *S = sj + 1 + d;
    if (g->cov == TSR_COV_DIAG) {
      for (size_t a = 0; a < d; a++)
        g->covariances[j * d + a] =
            S[a * d + a] / nk - delta[a] * delta[a] + reg;
    } else {
      double *C = g->covariances + j * d * d;
      for (size_t a = 0; a < d; a++)
        for (size_t b = 0; b <= a; b++) {
          double v = S[a * d + b] / nk - delta[a] * delta[b];
          if (a == b) v += reg;
          C[a * d + b] = C[b * d + a] = v;
        }
    }
  }
  double ws = 0;
  for (size_t j = 0; j < k; j++) ws += g->weights[j];
  for (size_t j = 0; j < k; j++) g->weights[j] /= ws;
}

/* Statistics of a hard partition (the k-means initialisation). */
static void hard_stats(const tsr_gmm *g, const double *X, size_t n,
                       const int *lab, double *stat) {
  size_t k = g->k, d = g->d, w = 1 + d + d * d;
  memset(stat, 0, k * w * sizeof *stat);
  for (size_t i = 0; i < n; i++) {
    size_t j = (size_t)lab[i];
    double *sj = stat + j * w, z[MAXD];
    const double *x = X + i * d, *mu = g->means + j * d;
    sj[0] += 1;
    for (size_t a = 0; a < d; a++) {
      z[a] = x[a] - mu[a];
      sj[1 + a] += z[a];
    }
    double *S = sj + 1 + d;
    for (size_t a = 0; a < d; a++)
      for (size_t b = 0; b <= a; b++) S[a * d + b] += z[a] * z[b];
  }
}

static void reduce_stats(const double *bstat, size_t nb, size_t len,
                         double *stat) {
  memset(stat, 0, len * sizeof *stat);
  for (size_t b = 0; b < nb; b++)
    for (size_t t = 0; t < len; t++) stat[t] += bstat[b * len + t];
}

tsr_status tsr_gmm_predict(const tsr_gmm *g, const double *Y, size_t m,
                           int *labels, double *prob, double *loglik,
                           tsr_error *err) {
  if (!g || (!Y && m))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "gmm predict: model and rows must not be NULL");
  size_t nb = tsr__nblocks(m);
  double *bll = tsr__malloc((nb ? nb : 1) * sizeof *bll);
  double *logw = tsr__malloc(g->k * sizeof *logw);
  if (!bll || !logw) {
    tsr__free(bll);
    tsr__free(logw);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  for (size_t j = 0; j < g->k; j++) logw[j] = log(g->weights[j]);
  em_ctx c = {g, Y, logw, bll, NULL, labels, prob};
  tsr__parallel_blocks(2, m, em_block, &c);
  double ll = 0;
  for (size_t b = 0; b < nb; b++) ll += bll[b];
  if (loglik) *loglik = ll;
  tsr__free(bll);
  tsr__free(logw);
  return TSR_OK;
}

/* One EM run from the k-means partition of seed stream r. */
static tsr_status em_run(const double *X, size_t n, size_t d, size_t k,
                         const tsr_cluster_opts *o, size_t r, size_t max_iter,
                         double tol, double reg, int nthr, tsr_gmm *g,
                         int *lab, double *stat, double *bstat, double *bll,
                         double *logw, tsr_error *err) {
  tsr_cluster_opts ko = *o;
  ko.n_init = 10; /* best of 10 k-means++ restarts (sklearn: 1) */
  ko.seed = o->seed + 0x9E3779B97F4A7C15ull * r;
  ko.max_iter = 300;
  ko.tol = 1e-4;
  ko.progress = NULL;
  tsr_status st;
  size_t m = n / 10 > INIT_SAMPLE ? n / 10 : INIT_SAMPLE;
  if (n <= 2 * m || m < 10 * k) {
    st = tsr_kmeans_fit(X, n, d, k, &ko, g->means, lab, NULL, NULL, err);
    if (st != TSR_OK) return st;
  } else {
    /* large n: the restarts on a seeded sample of m rows, then Lloyd steps
     * on all rows from the sample's centres */
    double *S = tsr__malloc(m * d * sizeof *S);
    if (!S) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    tsr__rng rng;
    tsr__rng_seed(&rng, ko.seed, 0x6A11ull);
    for (size_t i = 0; i < m; i++) /* m draws with replacement */
      memcpy(S + i * d, X + tsr__rng_below(&rng, n) * d, d * sizeof *S);
    st = tsr_kmeans_fit(S, m, d, k, &ko, g->means, NULL, NULL, NULL, err);
    tsr__free(S);
    if (st != TSR_OK) return st;
    if (tsr__kmeans_polish(X, n, d, k, nthr, 300, g->means, lab) != TSR_OK)
      return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  size_t w = 1 + d + d * d, nb = tsr__nblocks(n);
  hard_stats(g, X, n, lab, stat);
  m_step(g, stat, n, reg);
  g->n_trace = 0;
  g->converged = 0;
  double prev = -DBL_MAX;
  size_t it;
  for (it = 0; it < max_iter; it++) {
    if ((st = tsr__gmm_prepare(g, err)) != TSR_OK) return st;
    for (size_t j = 0; j < k; j++) logw[j] = log(g->weights[j]);
    em_ctx c = {g, X, logw, bll, bstat, NULL, NULL};
    tsr__parallel_blocks(nthr, n, em_block, &c);
    double ll = 0;
    for (size_t b = 0; b < nb; b++) ll += bll[b];
    ll /= (double)n;
    g->trace[g->n_trace++] = ll;
    reduce_stats(bstat, nb, k * w, stat);
    m_step(g, stat, n, reg);
    if (fabs(ll - prev) < tol) {
      g->converged = 1;
      it++;
      break;
    }
    prev = ll;
  }
  g->n_iter = it;
  return tsr__gmm_prepare(g, err);
}

tsr_status tsr_gmm_fit(const double *X, size_t n, size_t d, size_t k,
                       const tsr_cluster_opts *opts, tsr_gmm **out,
                       int *labels, double *prob, tsr_error *err) {
  tsr_cluster_opts def;
  if (!opts) {
    tsr_cluster_opts_init(&def);
    opts = &def;
  }
  if (!X || !out || d == 0)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "gmm: X and out must not be NULL, d >= 1");
  if (d > MAXD)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "features",
                         "expected at most %d, got %zu", MAXD, d);
  if (k < 1 || k > n || k > MAXK)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "k",
                         "expected a value in [1, %zu], got %zu",
                         n < MAXK ? n : (size_t)MAXK, k);
  if (!(opts->reg_covar >= 0))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "reg_covar",
                         "expected a value >= 0, got %g",
                         opts->reg_covar);
  size_t n_init = opts->n_init ? opts->n_init : 1;
  size_t max_iter = opts->max_iter ? opts->max_iter : 100;
  double tol = opts->tol >= 0 ? opts->tol : 1e-3;
  int nthr = opts->n_threads > 0 ? opts->n_threads : 2;
  size_t w = 1 + d + d * d, nb = tsr__nblocks(n);
  *out = NULL;
  tsr_gmm *best = NULL, *g = NULL;
  int *lab = tsr__malloc(n * sizeof *lab);
  double *stat = tsr__malloc(k * w * sizeof *stat);
  double *bstat = tsr__malloc(nb * k * w * sizeof *bstat);
  double *bll = tsr__malloc(nb * sizeof *bll);
  double *logw = tsr__malloc(k * sizeof *logw);
  tsr_status st = TSR_OK;
  if (!lab || !stat || !bstat || !bll || !logw) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  for (size_t r = 0; r < n_init; r++) {
    g = tsr__gmm_new(k, d, opts->cov);
    if (g) g->trace = tsr__malloc(max_iter * sizeof *g->trace);
    if (!g || !g->trace) {
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      goto done;
    }
    st = em_run(X, n, d, k, opts, r, max_iter, tol, opts->reg_covar, nthr, g,
                lab, stat, bstat, bll, logw, err);
    if (st != TSR_OK) goto done;
    if (opts->progress)
      opts->progress(opts->progress_ud, "gmm", (double)(r + 1) / (double)n_init);
    double lb = g->n_trace ? g->trace[g->n_trace - 1] : -DBL_MAX;
    double blb = best && best->n_trace ? best->trace[best->n_trace - 1] : -DBL_MAX;
    if (!best || lb > blb) {
      tsr_gmm_free(best);
      best = g;
    } else {
      tsr_gmm_free(g);
    }
    g = NULL;
  }
  st = tsr_gmm_predict(best, X, n, labels, prob, &best->loglik, err);
  if (st != TSR_OK) goto done;
  best->n_params = (k - 1) + k * d +
                   (opts->cov == TSR_COV_FULL ? k * d * (d + 1) / 2 : k * d);
  best->bic = -2 * best->loglik + (double)best->n_params * log((double)n);
  best->aic = -2 * best->loglik + 2 * (double)best->n_params;
  *out = best;
  best = NULL;
done:
  tsr_gmm_free(g);
  tsr_gmm_free(best);
  tsr__free(lab);
  tsr__free(stat);
  tsr__free(bstat);
  tsr__free(bll);
  tsr__free(logw);
  return st;
}
