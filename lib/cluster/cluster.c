/*
 * cluster.c - the clustering pipeline behind `tessera cluster` and
 * `tessera analyze`: feature columns -> transform (features.c) -> fit with
 * k-means, GMM or DBSCAN, k chosen automatically over a range when asked
 * (cluster_select.c) -> stable cluster ids (cluster_profile.c) -> profiles
 * -> a model that assigns new customers (cluster_model.c).
 */
#include <float.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "cluster_internal.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the process (every thread). */
static double cpu_s(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0;
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *const default_features[] = {"frequency", "recency", "monetary_value", "T"};

static ptrdiff_t find_col(const char *const *names, size_t ncols, const char *name) {
  for (size_t c = 0; c < ncols; c++)
    if (names[c] && !strcmp(names[c], name)) return (ptrdiff_t)c;
  return -1;
}

/* Checks the options before any work (naming parameter, range, value). */
static tsr_status check_opts(const tsr_cluster_opts *o, size_t n, tsr_error *err) {
  if (o->method != TSR_CLUSTER_KMEANS && o->method != TSR_CLUSTER_GMM &&
      o->method != TSR_CLUSTER_DBSCAN)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "method",
                         "expected kmeans, gmm or dbscan, got %d", (int)o->method);
  if (o->method != TSR_CLUSTER_DBSCAN) {
    if (o->k > 0 && o->k > n)
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "k",
                           "expected a value in [1, %zu] (rows), got %zu", n, o->k);
    if (o->k == 0 && (o->k_min < 2 || o->k_min > o->k_max || o->k_max > 100))
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                           "k range: expected 2 <= k_min <= k_max <= 100, got "
                           "%zu..%zu",
                           o->k_min, o->k_max);
    if (o->k == 0 && !(o->min_share >= 0 && o->min_share < 0.5))
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "min_share",
                           "expected a share in [0, 0.5), got %g", o->min_share);
    if (o->k == 0 && !(o->sil_tolerance >= 0 && o->sil_tolerance < 1))
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "sil_tolerance",
                           "expected a value in [0, 1), got %g", o->sil_tolerance);
    if (o->k == 0 && o->k_min > n)
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "k_min",
                           "expected at most %zu (rows), got %zu", n, o->k_min);
  }
  if (o->n_init > 1000)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "n_init",
                         "expected a value in [1, 1000], got %zu", o->n_init);
  if (o->max_iter > 100000)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "max_iter",
                         "expected a value in [1, 100000], got %zu", o->max_iter);
  if (!isfinite(o->tol))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "tol", "expected a finite value, got %g",
                         o->tol);
  if (!(o->reg_covar >= 0) || !isfinite(o->reg_covar))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "reg_covar", "expected a value >= 0, got %g",
                         o->reg_covar);
  if (o->cov != TSR_COV_FULL && o->cov != TSR_COV_DIAG)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "covariance", "expected full or diag, got %d",
                         (int)o->cov);
  if (!isfinite(o->eps))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "eps", "expected a finite value, got %g",
                         o->eps);
  if (o->min_samples < 1 || o->min_samples > 10000)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "min_samples",
                         "expected a value in [1, 10000], got %zu", o->min_samples);
  if (o->sample_size < 100)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "sample_size",
                         "expected a value >= 100, got %zu", o->sample_size);
  if (o->n_threads < 1 || o->n_threads > 64)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "n_threads",
                         "expected a value in [1, 64], got %d", o->n_threads);
  if (o->transform > (TSR_XFORM_LOG1P | TSR_XFORM_STANDARDIZE))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "transform", "unknown bits 0x%x",
                         o->transform);
  if (o->features && (o->nfeatures < 1 || o->nfeatures > 64))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "features", "expected 1 to 64 names, got %zu",
                         o->nfeatures);
  return TSR_OK;
}

void tsr_cluster_result_free(tsr_cluster_result *r) {
  if (!r) return;
  tsr__free(r->labels);
  tsr__free(r->probability);
  if (r->features)
    for (size_t j = 0; j < r->nfeatures; j++) tsr__free(r->features[j]);
  tsr__free(r->features);
  if (r->profiles)
    for (size_t c = 0; c < r->k; c++) {
      tsr_cluster_profile *p = &r->profiles[c];
      tsr__free(p->centroid);
      for (size_t s = 0; s < p->n_segments; s++) tsr__free(p->segments[s]);
      tsr__free(p->label);
    }
  tsr__free(r->profiles);
  tsr__free(r->kscores);
  tsr__free(r->loglik_trace);
  tsr_cluster_model_free(r->model);
  tsr__free(r);
}

tsr_cluster_model *tsr_cluster_result_take_model(tsr_cluster_result *r) {
  if (!r) return NULL;
  tsr_cluster_model *m = r->model;
  r->model = NULL;
  return m;
}

static void progress(const tsr_cluster_opts *o, const char *stage, double f) {
  if (o->progress) o->progress(o->progress_ud, stage, f);
}

/* Means of the members of each cluster in Z (labels < 0 left out). */
static void cluster_means(const double *Z, size_t n, size_t d, const int *lab, size_t k, double *C,
                          double *cnt) {
  memset(C, 0, k * d * sizeof *C);
  memset(cnt, 0, k * sizeof *cnt);
  for (size_t i = 0; i < n; i++) {
    if (lab[i] < 0) continue;
    size_t j = (size_t)lab[i];
    cnt[j] += 1;
    for (size_t t = 0; t < d; t++) C[j * d + t] += Z[i * d + t];
  }
  for (size_t j = 0; j < k; j++)
    if (cnt[j] > 0)
      for (size_t t = 0; t < d; t++) C[j * d + t] /= cnt[j];
}

/* Reorders the k components of g by perm (perm[old] = new). */
static tsr_status permute_gmm(tsr_gmm *g, const size_t *perm) {
  size_t k = g->k, d = g->d;
  size_t cs = g->cov == TSR_COV_FULL ? d * d : d;
  double *w = tsr__malloc(k * sizeof *w), *m = tsr__malloc(k * d * sizeof *m),
         *c = tsr__malloc(k * cs * sizeof *c);
  if (!w || !m || !c) {
    tsr__free(w);
    tsr__free(m);
    tsr__free(c);
    return TSR_ENOMEM;
  }
  for (size_t j = 0; j < k; j++) {
    w[perm[j]] = g->weights[j];
    memcpy(m + perm[j] * d, g->means + j * d, d * sizeof *m);
    memcpy(c + perm[j] * cs, g->covariances + j * cs, cs * sizeof *c);
  }
  memcpy(g->weights, w, k * sizeof *w);
  memcpy(g->means, m, k * d * sizeof *m);
  memcpy(g->covariances, c, k * cs * sizeof *c);
  tsr__free(w);
  tsr__free(m);
  tsr__free(c);
  return tsr__gmm_prepare(g, NULL);
}

/* DBSCAN on the transformed rows Z (eps chosen when o->eps <= 0): labels,
 * cluster count and noise into r, the core points into the model m. */
static tsr_status fit_dbscan(const tsr_cluster_opts *o, const double *Z, size_t n, size_t d,
                             size_t sample, tsr_cluster_result *r, tsr_cluster_model *m,
                             tsr_error *err) {
  tsr_status st;
  double eps = o->eps;
  if (eps <= 0) {
    progress(o, "eps", 0);
    st = tsr_dbscan_eps_auto(Z, n, d, o->min_samples, sample, o->seed, &eps, err);
    if (st != TSR_OK) return st;
  }
  r->eps = eps;
  unsigned char *core = tsr__malloc(n);
  if (!core) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  size_t nc = 0;
  progress(o, "dbscan", 0);
  st = tsr_dbscan_fit(Z, n, d, eps, o->min_samples, o->n_threads, r->labels, core, &nc, err);
  if (st != TSR_OK) {
    tsr__free(core);
    return st;
  }
  r->k = nc;
  size_t ncore = 0;
  for (size_t i = 0; i < n; i++) ncore += core[i];
  m->eps = eps;
  m->min_samples = o->min_samples;
  m->ncore = ncore;
  m->core = tsr__malloc((ncore ? ncore : 1) * d * sizeof *m->core);
  m->core_labels = tsr__malloc((ncore ? ncore : 1) * sizeof *m->core_labels);
  if (!m->core || !m->core_labels) {
    tsr__free(core);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  size_t q = 0;
  for (size_t i = 0; i < n; i++)
    if (core[i]) {
      memcpy(m->core + q * d, Z + i * d, d * sizeof *Z);
      m->core_labels[q++] = r->labels[i];
    }
  tsr__free(core);
  for (size_t i = 0; i < n; i++) r->n_noise += r->labels[i] < 0;
  return TSR_OK;
}

/* ----------------------------------------------- k-means and GMM fit */

/* A k-means or GMM fit in three named steps: score the k table (on all rows
 * or on a seeded sample), pick k, refit the chosen k on all rows. */
typedef struct kfit {
  const tsr_cluster_opts *o;
  const double *Z; /* n x d: all rows */
  size_t n, d;
  const double *Zk; /* nr x d: the rows k is chosen on (Z or the sample Zs) */
  size_t nr;
  double *Zs; /* the sample (NULL: k chosen on all rows) */
  size_t kmin, kmax, nk;
  int autok;
  int *L;            /* nr labels of the k being scored (auto k) */
  double *prob;      /* nr probabilities of the k being scored (GMM, auto k) */
  double *C, *Cbest; /* kmax x d: centres of the k being scored, of the best */
  tsr_gmm *gbest;
  size_t best_k;
  double best_score;
  double ksil[101], kmin_share[101]; /* silhouette, smallest cluster share */
  double csil;                       /* CPU seconds of the silhouettes */
} kfit;

static void kfit_free(kfit *f) {
  tsr__free(f->Zs);
  tsr__free(f->L);
  tsr__free(f->prob);
  tsr__free(f->C);
  tsr__free(f->Cbest);
  tsr_gmm_free(f->gbest);
}

static tsr_status kfit_nomem(tsr_error *err) {
  return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
}

/* Fits k clusters on the n rows X: centres into f->C, labels into L, the
 * GMM (NULL for k-means) into *g, its inertia and iterations. */
static tsr_status fit_k(kfit *f, const double *X, size_t n, size_t k, int *L, double *prob,
                        tsr_gmm **g, double *inert, size_t *it, tsr_error *err) {
  tsr_cluster_opts fo = *f->o;
  fo.progress = NULL;
  *g = NULL;
  *inert = NAN;
  *it = 0;
  if (f->o->method == TSR_CLUSTER_KMEANS)
    return tsr_kmeans_fit(X, n, f->d, k, &fo, f->C, L, inert, it, err);
  tsr_status st = tsr_gmm_fit(X, n, f->d, k, &fo, g, L, prob, err);
  if (st != TSR_OK) return st;
  memcpy(f->C, (*g)->means, k * f->d * sizeof *f->C);
  *inert = tsr__inertia(X, n, f->d, L, f->C);
  *it = (*g)->n_iter;
  return TSR_OK;
}

/* The row of the k table for k: silhouette (on a sample of the nr rows) and
 * smallest cluster share into f, the scores into r->kscores. */
static tsr_status score_k(kfit *f, tsr_cluster_result *r, size_t k, double inert, const tsr_gmm *g,
                          const double *known, double *sil, tsr_error *err) {
  const tsr_cluster_opts *o = f->o;
  size_t nr = f->nr;
  *sil = NAN;
  if (known) /* computed with the other k's (score_k_table) */
    *sil = *known;
  else if (k >= 2) {
    double ts = now_s(), cs = cpu_s();
    tsr_status st = tsr_cluster_silhouette(f->Zk, nr, f->d, f->L, o->sample_size, o->seed,
                                           o->n_threads, sil, err);
    r->seconds_silhouette += now_s() - ts;
    f->csil += cpu_s() - cs;
    if (st != TSR_OK) return st;
  }
  if (k - f->kmin < 101) {
    size_t *cnt = tsr__calloc(k, sizeof *cnt), small = nr;
    if (!cnt) return kfit_nomem(err);
    for (size_t i = 0; i < nr; i++)
      if (f->L[i] >= 0 && (size_t)f->L[i] < k) cnt[f->L[i]]++;
    for (size_t c = 0; c < k; c++)
      if (cnt[c] < small) small = cnt[c];
    tsr__free(cnt);
    f->ksil[k - f->kmin] = *sil;
    f->kmin_share[k - f->kmin] = (double)small / (double)nr;
  }
  tsr_cluster_kscore *ks = &r->kscores[k - f->kmin];
  ks->k = k;
  ks->inertia = inert;
  ks->silhouette = *sil;
  ks->bic = g ? g->bic : NAN;
  ks->aic = g ? g->aic : NAN;
  ks->loglik = g ? g->loglik : NAN;
  return TSR_OK;
}

/* The fit of k (labels in f->L, centres in f->C, its GMM g taken) kept as
 * the best one so far when its score is higher (always when k is fixed). */
static void keep_best(kfit *f, tsr_cluster_result *r, size_t k, double inert, double sil, size_t it,
                      tsr_gmm **g) {
  double score = f->o->method == TSR_CLUSTER_GMM ? -(*g)->bic : sil;
  if (!f->autok || f->best_k == 0 || score > f->best_score) {
    f->best_score = score;
    f->best_k = k;
    r->inertia = inert;
    r->silhouette = sil;
    r->n_iter = it;
    memcpy(f->Cbest, f->C, k * f->d * sizeof *f->C);
    if (f->autok && !f->Zs) {
      memcpy(r->labels, f->L, f->n * sizeof *f->L);
      if (f->prob) memcpy(r->probability, f->prob, f->n * sizeof *f->prob);
    }
    if (*g) {
      tsr_gmm_free(f->gbest);
      f->gbest = *g;
      *g = NULL;
    }
  }
}

/* Labels kept at most for the k table's shared silhouettes (k x rows). */
#define SHARED_SIL_MAX ((size_t)1 << 22)

/* Automatic k-means' table with the silhouettes of all k in one pass
 * (tsr__cluster_silhouette_multi: the sample's distances computed once, not
 * once per k; the same values): every k fitted first, its labels, centres,
 * inertia and iterations kept, then scored and compared in k order as
 * score_k_table does. *ran 0 (and nothing done) when its arrays cannot be
 * had: the caller goes on without them. */
static tsr_status score_k_table_shared(kfit *f, tsr_cluster_result *r, int *ran, tsr_error *err) {
  const tsr_cluster_opts *o = f->o;
  size_t nk = f->nk, nr = f->nr, kd = f->kmax * f->d;
  int *Lall = tsr__malloc(nk * nr * sizeof *Lall), *L0 = f->L;
  double *Call = tsr__malloc(nk * kd * sizeof *Call), *C0 = f->C;
  double *in = tsr__malloc(nk * sizeof *in), *sil = tsr__malloc(nk * sizeof *sil);
  size_t *its = tsr__malloc(nk * sizeof *its);
  tsr_status st = TSR_OK;
  *ran = Lall && Call && in && sil && its;
  if (!*ran) goto done;
  for (size_t q = 0; q < nk && st == TSR_OK; q++) {
    size_t k = f->kmin + q;
    tsr_gmm *g = NULL;
    progress(o, "kmeans", (double)q / (double)nk);
    f->C = Call + q * kd;
    st = fit_k(f, f->Zk, nr, k, Lall + q * nr, NULL, &g, &in[q], &its[q], err);
    tsr_gmm_free(g); /* none: k-means */
  }
  f->C = C0;
  if (st != TSR_OK) goto done;
  {
    double ts = now_s(), cs = cpu_s();
    st = tsr__cluster_silhouette_multi(f->Zk, nr, f->d, Lall, nk, o->sample_size, o->seed,
                                       o->n_threads, sil, err);
    r->seconds_silhouette += now_s() - ts;
    f->csil += cpu_s() - cs;
  }
  for (size_t q = 0; q < nk && st == TSR_OK; q++) {
    size_t k = f->kmin + q;
    double sq;
    tsr_gmm *g = NULL;
    f->L = Lall + q * nr;
    memcpy(f->C, Call + q * kd, k * f->d * sizeof *f->C);
    st = score_k(f, r, k, in[q], NULL, &sil[q], &sq, err);
    if (st == TSR_OK) keep_best(f, r, k, in[q], sq, its[q], &g);
  }
  f->L = L0;
done:
  tsr__free(Lall);
  tsr__free(Call);
  tsr__free(in);
  tsr__free(sil);
  tsr__free(its);
  return st;
}

/* Step 1: every k of the range fitted on the nr rows (the only k when k is
 * fixed, then on all rows), scored when k is automatic; the best one kept
 * (k-means: highest silhouette, GMM: lowest BIC; ties keep the smaller k). */
static tsr_status score_k_table(kfit *f, tsr_cluster_result *r, tsr_error *err) {
  const tsr_cluster_opts *o = f->o;
  if (f->autok && o->method == TSR_CLUSTER_KMEANS && f->nk * f->nr <= SHARED_SIL_MAX) {
    int ran;
    tsr_status st = score_k_table_shared(f, r, &ran, err);
    if (ran) return st;
  }
  for (size_t k = f->kmin; k <= f->kmax; k++) {
    int *L = f->autok ? f->L : r->labels;
    double inert, sil = NAN;
    size_t it;
    tsr_gmm *g = NULL;
    progress(o, o->method == TSR_CLUSTER_GMM ? "gmm" : "kmeans",
             (double)(k - f->kmin) / (double)f->nk);
    tsr_status st =
        fit_k(f, f->Zk, f->nr, k, L, f->autok ? f->prob : r->probability, &g, &inert, &it, err);
    if (st == TSR_OK && f->autok) st = score_k(f, r, k, inert, g, NULL, &sil, err);
    if (st != TSR_OK) {
      tsr_gmm_free(g);
      return st;
    }
    keep_best(f, r, k, inert, sil, it, &g);
    tsr_gmm_free(g);
  }
  return TSR_OK;
}

/* Step 2, automatic k-means (docs/clustering.md): among the k whose every
 * cluster holds at least min_share of the rows, the largest k whose
 * silhouette is within sil_tolerance of the best one; the elbow of the
 * inertia curve instead when it is larger and its silhouette within 4 x the
 * tolerance (customer data rarely have separated groups, where the
 * silhouette alone prefers k = 2); 0 when no k passes (the best-silhouette
 * k stays). */
static size_t pick_k(const kfit *f, const tsr_cluster_result *r) {
  const tsr_cluster_opts *o = f->o;
  size_t nk = f->nk, kmin = f->kmin;
  double top = -INFINITY;
  for (size_t q = 0; q < nk; q++)
    if (f->kmin_share[q] >= o->min_share && f->ksil[q] > top) top = f->ksil[q];
  size_t pick = 0;
  if (isfinite(top))
    for (size_t q = 0; q < nk; q++)
      if (f->kmin_share[q] >= o->min_share && f->ksil[q] >= (1 - o->sil_tolerance) * top)
        pick = kmin + q;
  if (pick && nk >= 3) {
    double xs[101], ys[101];
    for (size_t q = 0; q < nk; q++) xs[q] = (double)(kmin + q), ys[q] = r->kscores[q].inertia;
    size_t e = tsr__knee(xs, ys, nk);
    if (kmin + e > pick && f->kmin_share[e] >= o->min_share &&
        f->ksil[e] >= (1 - 4 * o->sil_tolerance) * top)
      pick = kmin + e;
  }
  return pick;
}

/* Step 3: the chosen k fitted on all rows (same seed: deterministic), when
 * the k table was computed on a sample or the picked k is not the best
 * fitted one. Its silhouette: the table's on all rows, computed later (NAN)
 * on a sample. */
static tsr_status refit_all(kfit *f, tsr_cluster_result *r, size_t k, tsr_error *err) {
  const tsr_cluster_opts *o = f->o;
  double inert;
  size_t it;
  tsr_gmm *g = NULL;
  if (f->Zs) progress(o, o->method == TSR_CLUSTER_GMM ? "gmm" : "kmeans", 1);
  tsr_status st = fit_k(f, f->Z, f->n, k, r->labels, r->probability, &g, &inert, &it, err);
  if (st != TSR_OK) return st;
  memcpy(f->Cbest, f->C, k * f->d * sizeof *f->C);
  if (g) {
    tsr_gmm_free(f->gbest);
    f->gbest = g;
  }
  f->best_k = k;
  r->inertia = inert;
  r->silhouette = f->Zs ? NAN : f->ksil[k - f->kmin];
  r->n_iter = it;
  return TSR_OK;
}

/* k-means or GMM on the transformed rows Z: the k table when k is automatic
 * (r->kscores, on a seeded sample of o->k_sample rows when there are more),
 * the chosen k fitted on all rows; labels, probabilities and scores into r,
 * the k x d centres into *C and the GMM into *gmm (owned by the caller). */
static tsr_status fit_centres(const tsr_cluster_opts *o, const double *Z, size_t n, size_t d,
                              tsr_cluster_result *r, double **C, tsr_gmm **gmm, double *csil,
                              tsr_error *err) {
  kfit f;
  memset(&f, 0, sizeof f);
  f.o = o;
  f.Z = f.Zk = Z;
  f.n = f.nr = n;
  f.d = d;
  f.kmin = o->k ? o->k : o->k_min;
  f.kmax = o->k ? o->k : o->k_max;
  if (f.kmax > n) f.kmax = n;
  f.nk = f.kmax - f.kmin + 1;
  f.autok = o->k == 0;
  tsr_status st;
  if (f.autok && o->k_sample >= f.kmax && n > o->k_sample) {
    if (tsr__sample_rows(Z, n, d, o->k_sample, o->seed, 0x6B5A3Dull, &f.Zs) != TSR_OK) goto nomem;
    f.Zk = f.Zs;
    f.nr = o->k_sample;
    r->k_sample_n = f.nr;
  }
  if (f.autok) {
    r->kscores = tsr__calloc(f.nk, sizeof *r->kscores);
    f.L = tsr__malloc(f.nr * sizeof *f.L);
    if (!r->kscores || !f.L) goto nomem;
    r->n_kscores = f.nk;
  }
  f.C = tsr__malloc(f.kmax * d * sizeof *f.C);
  f.Cbest = tsr__malloc(f.kmax * d * sizeof *f.Cbest);
  if (!f.C || !f.Cbest) goto nomem;
  if (o->method == TSR_CLUSTER_GMM) {
    f.prob = tsr__malloc(f.nr * sizeof *f.prob);
    r->probability = tsr__malloc(n * sizeof *r->probability);
    if (!f.prob || !r->probability) goto nomem;
  }
  if ((st = score_k_table(&f, r, err)) != TSR_OK) goto fail;
  size_t k = f.best_k;
  if (f.autok && o->method == TSR_CLUSTER_KMEANS && f.nk <= 101) {
    size_t pick = pick_k(&f, r);
    if (pick) k = pick;
  }
  if (f.Zs || k != f.best_k)
    if ((st = refit_all(&f, r, k, err)) != TSR_OK) goto fail;
  r->k = f.best_k;
  if (f.autok && o->method == TSR_CLUSTER_KMEANS && f.nk >= 3) {
    double xs[101], ys[101];
    for (size_t i = 0; i < f.nk; i++) {
      xs[i] = (double)r->kscores[i].k;
      ys[i] = r->kscores[i].inertia;
    }
    r->elbow_k = r->kscores[tsr__knee(xs, ys, f.nk)].k;
  }
  r->converged = 1;
  if (f.gbest) {
    tsr_gmm *g = f.gbest;
    r->loglik = g->loglik;
    r->bic = g->bic;
    r->aic = g->aic;
    r->converged = g->converged;
    r->n_trace = g->n_trace;
    r->loglik_trace = tsr__malloc((g->n_trace ? g->n_trace : 1) * sizeof(double));
    if (!r->loglik_trace) goto nomem;
    memcpy(r->loglik_trace, g->trace, g->n_trace * sizeof(double));
  }
  *csil += f.csil;
  *C = f.Cbest;
  f.Cbest = NULL;
  *gmm = f.gbest;
  f.gbest = NULL;
  kfit_free(&f);
  return TSR_OK;
nomem:
  st = kfit_nomem(err);
fail:
  *csil += f.csil;
  kfit_free(&f);
  return st;
}

static tsr_status cluster_run(const tsr_cluster_opts *opts, const tsr__col *columns,
                              const char *const *names, size_t n, size_t ncols,
                              const char *const *segments, int profiles, tsr_cluster_result **out,
                              tsr_error *err);

tsr_status tsr_cluster_run(const tsr_cluster_opts *opts, const double *const *columns,
                           const char *const *names, size_t n, size_t ncols,
                           const char *const *segments, tsr_cluster_result **out, tsr_error *err) {
  if (!out || (!columns && ncols) || (!names && ncols))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "cluster: columns, names and out must not be NULL");
  *out = NULL;
  tsr__col one[8] = {{NULL, 0}}, *cols = ncols <= 8 ? one : tsr__malloc(ncols * sizeof *cols);
  if (!cols) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  for (size_t c = 0; c < ncols; c++) cols[c] = tsr__col_of(columns[c]);
  tsr_status st = tsr__cluster_run_cols(opts, cols, names, n, ncols, segments, out, err);
  if (cols != one) tsr__free(cols);
  return st;
}

tsr_status tsr__cluster_run_cols(const tsr_cluster_opts *opts, const tsr__col *columns,
                                 const char *const *names, size_t n, size_t ncols,
                                 const char *const *segments, tsr_cluster_result **out,
                                 tsr_error *err) {
  return cluster_run(opts, columns, names, n, ncols, segments, 1, out, err);
}

tsr_status tsr__cluster_fit_cols(const tsr_cluster_opts *opts, const tsr__col *columns,
                                 const char *const *names, size_t n, size_t ncols,
                                 tsr_cluster_result **out, tsr_error *err) {
  return cluster_run(opts, columns, names, n, ncols, NULL, 0, out, err);
}

/* tsr__cluster_run_cols; the profiles left out (NULL) when profiles is 0. */
static tsr_status cluster_run(const tsr_cluster_opts *opts, const tsr__col *columns,
                              const char *const *names, size_t n, size_t ncols,
                              const char *const *segments, int profiles, tsr_cluster_result **out,
                              tsr_error *err) {
  tsr_cluster_opts o;
  if (opts)
    o = *opts;
  else
    tsr_cluster_opts_init(&o);
  if (!out || (!columns && ncols) || (!names && ncols))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "cluster: columns, names and out must not be NULL");
  *out = NULL;
  if (n == 0)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "cluster: no rows to cluster");
  tsr_status st = check_opts(&o, n, err);
  if (st != TSR_OK) return st;
  const char *const *fnames = o.features ? o.features : default_features;
  size_t d = o.features ? o.nfeatures : 4;
  tsr__col fcols[64];
  for (size_t j = 0; j < d; j++) {
    ptrdiff_t c = find_col(names, ncols, fnames[j]);
    if (c < 0)
      return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, fnames[j], "no column named '%s'",
                           fnames[j]);
    fcols[j] = columns[c];
  }

  tsr_cluster_result *r = tsr__calloc(1, sizeof *r);
  tsr_cluster_model *m = tsr__cluster_model_new();
  /* on huge pages: 58 MB for 1.8M customers, faulted in 2 MiB at a time
   * (tsr__malloc_big) instead of 4 KiB (perf: 0.1 s of the transform) */
  double *Z = tsr__malloc_big(n * d * sizeof *Z);
  int *lab = tsr__malloc_big(n * sizeof *lab); /* 7 MB: k-means works in it */
  double *C = NULL, *cnt = NULL;
  tsr_gmm *gbest = NULL;
  if (!r || !m || !Z || !lab) goto nomem;
  r->model = m;
  r->labels = lab;
  lab = NULL;
  r->method = o.method;
  r->n = n;
  r->inertia = r->silhouette = r->loglik = r->bic = r->aic = r->eps = NAN;
  r->min_samples = o.min_samples;
  r->nfeatures = d;
  r->features = tsr__calloc(d, sizeof *r->features);
  m->feats = tsr__calloc(d, sizeof *m->feats);
  if (!r->features || !m->feats) goto nomem;
  m->method = o.method;
  m->transform = o.transform;
  m->d = d;
  for (size_t j = 0; j < d; j++) {
    r->features[j] = tsr__strdup(fnames[j]);
    m->feats[j].name = tsr__strdup(fnames[j]);
    if (!r->features[j] || !m->feats[j].name) goto nomem;
  }
  double t0 = now_s(), t1;
  st = tsr__features_fit(m->feats, d, o.transform, fcols, n, Z, err);
  if (st != TSR_OK) goto fail;
  t1 = now_s();
  r->seconds_transform = t1 - t0;
  t0 = t1;
  double c0 = cpu_s(), csil = 0;

  size_t sample = o.sample_size;
  if (o.method == TSR_CLUSTER_DBSCAN) {
    if ((st = fit_dbscan(&o, Z, n, d, sample, r, m, err)) != TSR_OK) goto fail;
  } else {
    if ((st = fit_centres(&o, Z, n, d, r, &C, &gbest, &csil, err)) != TSR_OK) goto fail;
  }

  t1 = now_s();
  r->seconds_fit = t1 - t0 - r->seconds_silhouette;
  r->cpu_seconds_fit = cpu_s() - c0 - csil;
  t0 = t1;
  /* ---------------------------------------------- stable cluster ids */
  size_t k = r->k;
  {
    size_t perm[1024];
    size_t *pm = k <= 1024 ? perm : tsr__malloc(k * sizeof *pm);
    if (!pm) goto nomem;
    ptrdiff_t mc = find_col(names, ncols, "monetary_value");
    tsr__cluster_order(r->labels, n, k, mc >= 0 ? &columns[mc] : NULL, pm);
    for (size_t i = 0; i < n; i++)
      if (r->labels[i] >= 0) r->labels[i] = (int)pm[r->labels[i]];
    for (size_t q = 0; q < m->ncore; q++)
      if (m->core_labels[q] >= 0) m->core_labels[q] = (int)pm[m->core_labels[q]];
    double *Cp = tsr__malloc((k ? k : 1) * d * sizeof *Cp);
    if (!Cp || (gbest && permute_gmm(gbest, pm) != TSR_OK)) {
      tsr__free(Cp);
      if (pm != perm) tsr__free(pm);
      goto nomem;
    }
    /* centres in the new order: k-means centres; GMM means; DBSCAN member
     * means */
    if (o.method == TSR_CLUSTER_KMEANS)
      for (size_t j = 0; j < k; j++) memcpy(Cp + pm[j] * d, C + j * d, d * sizeof *C);
    if (pm != perm) tsr__free(pm);
    tsr__free(C);
    C = Cp;
  }
  cnt = tsr__malloc((k ? k : 1) * sizeof *cnt);
  if (!cnt) goto nomem;
  if (gbest)
    memcpy(C, gbest->means, k * d * sizeof *C);
  else if (o.method == TSR_CLUSTER_DBSCAN)
    cluster_means(Z, n, d, r->labels, k, C, cnt);
  if (o.method == TSR_CLUSTER_DBSCAN) r->inertia = tsr__inertia(Z, n, d, r->labels, C);
  if (k >= 2 && isnan(r->silhouette)) {
    double ts = now_s();
    st = tsr_cluster_silhouette(Z, n, d, r->labels, sample, o.seed, o.n_threads, &r->silhouette,
                                err);
    if (st != TSR_OK) goto fail;
    t1 = now_s();
    r->seconds_silhouette += t1 - ts;
    t0 += t1 - ts;
  }
  m->k = k;
  m->centers = C;
  C = NULL;
  m->gmm = gbest;
  gbest = NULL;

  if (profiles) {
    progress(&o, "profiles", 0);
    st = tsr__cluster_profiles(r, fcols, columns, names, ncols, segments, err);
    if (st != TSR_OK) goto fail;
    r->seconds_profiles = now_s() - t0;
  }
  progress(&o, "done", 1);
  tsr__free(Z);
  tsr__free(C);
  tsr__free(cnt);
  *out = r;
  return TSR_OK;

nomem:
  st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
fail:
  if (!r || r->model != m) tsr_cluster_model_free(m);
  tsr_cluster_result_free(r);
  tsr__free(Z);
  tsr__free(lab);
  tsr__free(C);
  tsr__free(cnt);
  tsr_gmm_free(gbest);
  return st;
}
