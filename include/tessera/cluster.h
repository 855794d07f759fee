/*
 * tessera/cluster.h - micro-segmentation of customers by clustering:
 * k-means, Gaussian mixtures, DBSCAN, automatic choice of k, feature
 * transforms stored with the model, and per-cluster profiles.
 *
 * Two levels:
 *   - the algorithms on a row-major matrix X (n rows, d columns):
 *     tsr_kmeans_fit, tsr_gmm_fit, tsr_dbscan_fit, tsr_cluster_silhouette,
 *     tsr_cluster_ari;
 *   - the pipeline on named columns of a customer table: tsr_cluster_run
 *     (features -> transform -> fit (auto k) -> stable ids -> profiles ->
 *     model), tsr_cluster_model_assign for new customers, and JSON for the
 *     model and the summary.
 *
 * Algorithms and rules (auto k, eps auto, cluster-id order, labels) are
 * described in docs/clustering.md. Results are deterministic given the seed
 * and do not depend on the number of threads.
 *
 * Ownership: inputs are borrowed; every returned object belongs to the caller
 * and is freed with its _free function (which accepts NULL). Objects are not
 * thread-safe; distinct objects may be used from distinct threads.
 */
#ifndef TESSERA_CLUSTER_H
#define TESSERA_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- options */

typedef enum tsr_cluster_method {
  TSR_CLUSTER_KMEANS = 0,
  TSR_CLUSTER_GMM = 1,
  TSR_CLUSTER_DBSCAN = 2
} tsr_cluster_method;

typedef enum tsr_cov_type {
  TSR_COV_FULL = 0, /* one full d x d covariance per component */
  TSR_COV_DIAG = 1  /* diagonal covariances */
} tsr_cov_type;

/* Feature transform bits (applied in this order: log1p, then standardize). */
#define TSR_XFORM_NONE 0u
#define TSR_XFORM_LOG1P 1u       /* x -> log(1 + x); needs x > -1 */
#define TSR_XFORM_STANDARDIZE 2u /* x -> (x - median) / IQR (robust) */

/* Progress callback: stage is a static string ("kmeans", "k=3", ...),
 * frac in [0,1]. Called from the calling thread only. */
typedef void (*tsr_cluster_progress_fn)(void *ud, const char *stage,
                                        double frac);

typedef struct tsr_cluster_opts {
  tsr_cluster_method method;  /* default TSR_CLUSTER_KMEANS */
  size_t k;                   /* clusters, >= 1; 0 = auto over [k_min,k_max] */
  size_t k_min, k_max;        /* auto range, 2 <= k_min <= k_max <= 100;
                                 default 2..10 */
  const char *const *features;/* feature column names; NULL = the default
                                 frequency,recency,monetary_value,T */
  size_t nfeatures;           /* entries of features (<= 64) */
  unsigned transform;         /* TSR_XFORM_* bits; default LOG1P|STANDARDIZE */
  size_t n_init;              /* restarts, 1..1000; 0 = method default
                                 (k-means 10, GMM 1) */
  size_t max_iter;            /* 1..100000; 0 = default (k-means 300,
                                 GMM 100) */
  double tol;                 /* >= 0; < 0 = default (k-means 1e-4 relative
                                 to the mean feature variance as sklearn;
                                 GMM 1e-3 on the mean log-likelihood) */
  uint64_t seed;              /* any value; default 0 */
  tsr_cov_type cov;           /* GMM covariance type; default full */
  double reg_covar;           /* GMM, >= 0, added to the covariance
                                 diagonal; default 1e-6 */
  double eps;                 /* DBSCAN radius > 0; <= 0 = auto (knee of the
                                 k-distance curve) */
  size_t min_samples;         /* DBSCAN, 1..10000, counting the point itself;
                                 default 5 */
  size_t sample_size;         /* silhouette / eps-auto sample, >= 100;
                                 default 10000 */
  int n_threads;              /* 1..64; default 2 */
  size_t k_sample;            /* automatic k with more rows than this: the
                                 k table is computed on a seeded sample of
                                 k_sample rows and only the chosen k is
                                 fitted on all rows; 0 = always all rows;
                                 default 50000 */
  tsr_cluster_progress_fn progress; /* optional */
  void *progress_ud;
  double min_share;           /* auto k: every cluster holds at least this
                                 share of the rows, in [0, 0.5); default 0.02 */
  double sil_tolerance;       /* auto k (k-means): the largest k whose
                                 silhouette is >= (1 - tol) x the best one,
                                 in [0, 1); default 0.05 */
} tsr_cluster_opts;

/* Fills the defaults above. */
TSR_API void tsr_cluster_opts_init(tsr_cluster_opts *o);

/* "kmeans"/"gmm"/"dbscan" <-> method. parse returns TSR_EINVAL if unknown. */
TSR_API const char *tsr_cluster_method_name(tsr_cluster_method m);
TSR_API tsr_status tsr_cluster_method_parse(const char *s,
                                            tsr_cluster_method *out,
                                            tsr_error *err);
/* Parses "none", "log1p", "standardize", "log1p,standardize". */
TSR_API tsr_status tsr_cluster_transform_parse(const char *s, unsigned *out,
                                               tsr_error *err);

/* ------------------------------------------------------ matrix algorithms */

/* k-means (k-means++ greedy seeding with 2+floor(ln k) local trials, n_init
 * restarts, Lloyd iterations accelerated by Hamerly's bounds; empty clusters
 * are moved to the points farthest from their centres; the best restart is
 * then iterated until its labels stop changing, so labels and inertia are
 * exact for the returned centres).
 * X: n x d row-major. OUT: centers (k x d, caller-allocated), labels (n,
 * caller-allocated, may be NULL), *inertia (sum of squared distances, may be
 * NULL), *n_iter (iterations of the best run, may be NULL).
 * Uses opts->n_init, max_iter, tol, seed, n_threads (others ignored; opts
 * may be NULL for defaults). Requires 1 <= k <= n. */
TSR_API tsr_status tsr_kmeans_fit(const double *X, size_t n, size_t d,
                                  size_t k, const tsr_cluster_opts *opts,
                                  double *centers, int *labels,
                                  double *inertia, size_t *n_iter,
                                  tsr_error *err);

/* Gaussian mixture fitted by EM; initialised from k-means (best of 10
 * restarts, on a sample of max(50000, n/10) rows for large n). */
typedef struct tsr_gmm {
  size_t k, d;
  tsr_cov_type cov;
  double *weights;      /* k */
  double *means;        /* k x d */
  double *covariances;  /* full: k x d x d; diag: k x d */
  double loglik;        /* total log-likelihood of the training data */
  double bic, aic;      /* -2 loglik + p ln n, -2 loglik + 2 p */
  size_t n_params;      /* free parameters p */
  size_t n_iter;
  int converged;        /* 1 when |change of mean loglik| < tol */
  double *trace;        /* mean log-likelihood per EM iteration (n_trace);
                           non-decreasing up to rounding */
  size_t n_trace;
  double *prec_chol;    /* internal: Cholesky factors of the precisions */
} tsr_gmm;

/* Fits a GMM with k components on X (n x d). Uses opts->n_init, max_iter,
 * tol, seed, cov, reg_covar, n_threads. OUT: *out owned by caller
 * (tsr_gmm_free); labels (n, may be NULL) = most probable component;
 * prob (n, may be NULL) = its posterior probability. Requires k <= n. */
TSR_API tsr_status tsr_gmm_fit(const double *X, size_t n, size_t d, size_t k,
                               const tsr_cluster_opts *opts, tsr_gmm **out,
                               int *labels, double *prob, tsr_error *err);
/* Most probable component and its probability for m rows of Y (m x d);
 * *loglik (may be NULL) gets the total log-likelihood of Y. */
TSR_API tsr_status tsr_gmm_predict(const tsr_gmm *g, const double *Y,
                                   size_t m, int *labels, double *prob,
                                   double *loglik, tsr_error *err);
TSR_API void tsr_gmm_free(tsr_gmm *g);

/* DBSCAN with a k-d tree (Ester et al. 1996). A core point has at least
 * min_samples points (itself included) within distance <= eps. Clusters are
 * numbered 0.. in the order of their lowest-index core point; a border point
 * takes the lowest-numbered cluster among its core neighbours (the result of
 * scikit-learn's sequential expansion); noise is -1.
 * OUT: labels (n, caller-allocated), is_core (n, may be NULL),
 * *n_clusters (may be NULL). */
TSR_API tsr_status tsr_dbscan_fit(const double *X, size_t n, size_t d,
                                  double eps, size_t min_samples,
                                  int n_threads, int *labels,
                                  unsigned char *is_core, size_t *n_clusters,
                                  tsr_error *err);
/* eps from the k-distance curve: distances of up to sample_size seeded
 * sample points to their min_samples-th nearest neighbour (itself counted),
 * sorted; eps = the value at the knee, the point farthest from the chord
 * joining the first and last points (both axes scaled to [0,1]). */
TSR_API tsr_status tsr_dbscan_eps_auto(const double *X, size_t n, size_t d,
                                       size_t min_samples, size_t sample_size,
                                       uint64_t seed, double *eps,
                                       tsr_error *err);

/* Mean silhouette coefficient on a seeded uniform sample of at most
 * sample_size points (all points when n <= sample_size); points labelled
 * < 0 (noise) are left out. Fewer than 2 clusters gives NAN. */
TSR_API tsr_status tsr_cluster_silhouette(const double *X, size_t n, size_t d,
                                          const int *labels,
                                          size_t sample_size, uint64_t seed,
                                          int n_threads, double *out,
                                          tsr_error *err);
/* Adjusted Rand index of two labelings (any int labels; -1 is a label). */
TSR_API tsr_status tsr_cluster_ari(const int *a, const int *b, size_t n,
                                   double *out, tsr_error *err);

/* -------------------------------------------------------------- pipeline */

typedef struct tsr_cluster_model tsr_cluster_model;

/* One row of the automatic-k table. Values not computed are NAN. */
typedef struct tsr_cluster_kscore {
  size_t k;
  double inertia;    /* k-means: within-cluster sum of squares */
  double silhouette; /* on the seeded sample */
  double bic, aic;   /* GMM */
  double loglik;     /* GMM */
} tsr_cluster_kscore;

/* Profile of one cluster (id = index in tsr_cluster_result.profiles). */
typedef struct tsr_cluster_profile {
  size_t size;
  double share;         /* size / n */
  double *centroid;     /* nfeatures, mean of the members in original units */
  double mean_monetary; /* mean monetary_value, NAN if no such column */
  double mean_clv;      /* mean of column clv, NAN if absent */
  double mean_p_alive;  /* mean of column p_alive, NAN if absent */
  double revenue_share; /* share of total revenue (column revenue, else
                           monetary_value*frequency), NAN if neither */
  size_t n_segments;    /* up to 3 most common RFM segments */
  char *segments[3];
  double segment_shares[3]; /* share of the cluster in each segment */
  char *label;          /* e.g. "frequent high-value, recently active" */
} tsr_cluster_profile;

typedef struct tsr_cluster_result {
  tsr_cluster_method method;
  size_t n;             /* rows */
  size_t k;             /* clusters (DBSCAN: found) */
  int *labels;          /* n; 0..k-1, -1 = DBSCAN noise */
  double *probability;  /* n, GMM membership probability; NULL otherwise */
  size_t nfeatures;
  char **features;      /* feature names */
  tsr_cluster_profile *profiles; /* k */
  size_t n_noise;       /* DBSCAN */
  double inertia;       /* k-means (also computed for GMM/DBSCAN, in the
                           transformed space, noise left out) */
  double silhouette;    /* NAN if not computed (k < 2) */
  double loglik, bic, aic; /* GMM, else NAN */
  double eps;           /* DBSCAN eps used, else NAN */
  size_t min_samples;
  size_t n_iter;
  int converged;
  tsr_cluster_kscore *kscores; /* auto k table (n_kscores rows) or NULL */
  size_t n_kscores;
  size_t elbow_k;       /* k-means elbow of the inertia curve (0 = none) */
  size_t k_sample_n;    /* rows of the sample the k table was computed on
                           (0 = all n rows) */
  double seconds_transform;  /* wall time of the feature transform */
  double seconds_fit;        /* of the fits (all k; eps auto included) */
  double seconds_silhouette; /* of the silhouette scores */
  double seconds_profiles;   /* of the ids, profiles and labels */
  double cpu_seconds_fit;    /* process CPU time (all threads) of the fits */
  double *loglik_trace; /* GMM mean log-likelihood per EM iteration */
  size_t n_trace;
  tsr_cluster_model *model; /* owned by the result; detach with
                               tsr_cluster_result_take_model */
} tsr_cluster_result;

/* Runs the whole pipeline on ncols named columns of n values each
 * (columns[c][i] is row i of column names[c]). segments (n strings, may be
 * NULL) are the RFM segment names used by the profiles; columns named
 * monetary_value, frequency, revenue, clv, p_alive are used by the
 * profiles and the id order when present (they need not be features).
 * Missing values (NAN) in a feature column are an error naming the row.
 * OUT: *out owned by caller (tsr_cluster_result_free).
 * Errors: TSR_EINVAL (bad option, naming it), TSR_ENOTFOUND (feature
 * column absent), TSR_ERANGE (value not allowed by the transform, e.g.
 * log1p of -2: err->line is the 1-based row), TSR_ENOMEM. */
TSR_API tsr_status tsr_cluster_run(const tsr_cluster_opts *opts,
                                   const double *const *columns,
                                   const char *const *names, size_t n,
                                   size_t ncols,
                                   const char *const *segments,
                                   tsr_cluster_result **out, tsr_error *err);
TSR_API void tsr_cluster_result_free(tsr_cluster_result *r);
/* Detaches the model: the caller then owns it (tsr_cluster_model_free). */
TSR_API tsr_cluster_model *tsr_cluster_result_take_model(
    tsr_cluster_result *r);

/* JSON summary of a run (scores, k table, sizes, centroids, profiles).
 * OUT: *json is a NUL-terminated string the caller frees with free(). */
TSR_API tsr_status tsr_cluster_result_summary_json(
    const tsr_cluster_result *r, char **json, tsr_error *err);

/* Assigns m new rows given as named columns (the model's features are
 * looked up by name) with the stored transform: nearest centre (k-means),
 * most probable component (GMM, prob may be NULL), nearest core point
 * within eps or -1 (DBSCAN). labels (m) and prob (m or NULL) are
 * caller-allocated. */
TSR_API tsr_status tsr_cluster_model_assign(const tsr_cluster_model *m,
                                            const double *const *columns,
                                            const char *const *names,
                                            size_t nrows, size_t ncols,
                                            int *labels, double *prob,
                                            tsr_error *err);

/* Model file: JSON {"format":"tessera-cluster-model","version":1,...},
 * doubles with 17 significant digits. to_json: *json freed with free(). */
TSR_API tsr_status tsr_cluster_model_to_json(const tsr_cluster_model *m,
                                             char **json, tsr_error *err);
TSR_API tsr_status tsr_cluster_model_from_json(const char *json, size_t len,
                                               const char *name,
                                               tsr_cluster_model **out,
                                               tsr_error *err);
TSR_API tsr_status tsr_cluster_model_save(const tsr_cluster_model *m,
                                          const char *path, tsr_error *err);
TSR_API tsr_status tsr_cluster_model_load(const char *path,
                                          tsr_cluster_model **out,
                                          tsr_error *err);
TSR_API void tsr_cluster_model_free(tsr_cluster_model *m);

/* Model accessors (borrowed pointers, valid while the model lives). */
TSR_API tsr_cluster_method tsr_cluster_model_method(const tsr_cluster_model *m);
TSR_API size_t tsr_cluster_model_k(const tsr_cluster_model *m);
TSR_API size_t tsr_cluster_model_nfeatures(const tsr_cluster_model *m);
TSR_API const char *tsr_cluster_model_feature(const tsr_cluster_model *m,
                                              size_t j);

#ifdef __cplusplus
}
#endif
#endif
