/*
 * tessera/uplift.h - uplift (heterogeneous treatment effect) models of a
 * randomised campaign: T-learner and X-learner (Künzel, Sekhon, Bickel &
 * Yu, PNAS 116(10), 2019) on gradient-boosted trees (XGBoost C API),
 * cross-fitted (honest: every campaign customer's estimate comes from models
 * that never saw it), with the evaluation measures: Qini curve, AUUC,
 * uplift by decile, and, when the true individual effect is known
 * (simulated bundles), the rank correlation and the true gain.
 *
 * Pure computation: no global state, no printing; inputs borrowed.
 * XGBoost runs with nthread = opts.threads; set OMP_WAIT_POLICY=PASSIVE in
 * busy environments (docs/uplift.md).
 */
#ifndef TESSERA_UPLIFT_H
#define TESSERA_UPLIFT_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { TSR_UPLIFT_T = 0, TSR_UPLIFT_X = 1 } tsr_uplift_learner;

typedef struct tsr_uplift_opts {
  tsr_uplift_learner learner; /* default TSR_UPLIFT_X */
  int folds;                  /* cross-fitting folds, 2..20; default 5 */
  int rounds;                 /* boosting rounds, 1..10000; default 100 */
  int depth;                  /* tree depth, 1..16; default 4 */
  double eta;                 /* learning rate, (0, 1]; default 0.1 */
  double min_child_weight;    /* >= 0; default 5 */
  uint64_t seed;              /* folds and XGBoost; default 1 */
  int threads;                /* XGBoost threads, 1..64; default 2 */
} tsr_uplift_opts;
TSR_API void tsr_uplift_opts_init(tsr_uplift_opts *o);

/* Fits the learner on n campaign units (X: n x d row-major features, NaN =
 * missing; treat[i] 0/1; y[i] 0/1 response) and predicts:
 *   tau[i], p1[i], p0[i] for the n units, cross-fitted over opts.folds;
 *   tau_new, p1_new, p0_new for m further units X_new (may be 0) with the
 *   average of the fold models.
 * p1/p0: the response models' P(respond | treated / control); tau: the
 * T-learner's p1 - p0, or the X-learner's g tau0 + (1 - g) tau1 with g the
 * treated share. TSR_EINVAL when a group has fewer than opts.folds units or
 * no responses at all. */
TSR_API tsr_status tsr_uplift_fit_predict(const double *X, size_t n, size_t d, const int *treat,
                                          const double *y, const double *X_new, size_t m,
                                          const tsr_uplift_opts *opts, double *tau, double *p1,
                                          double *p0, double *tau_new, double *p1_new,
                                          double *p0_new, tsr_error *err);

/* Evaluation of scores (higher = treat first) on n campaign units. */
typedef struct tsr_uplift_eval {
  double auuc;       /* mean height of the Qini curve: (1/n) sum_k Q(k),
                        Q(k) = R_T(k) - R_C(k) N_T(k)/N_C(k) incremental
                        responses among the top k */
  double qini;       /* auuc - Q(n)/2: area above random targeting
                        (incremental responses; > 0 beats random) */
  double qini_norm;  /* qini / (n/2 |Q(n)|) (0 random; NaN when Q(n) = 0) */
  double total_uplift; /* Q(n) */
  /* deciles of the score (1 = highest): customers, treated, control,
   * observed uplift (rate_T - rate_C), mean score, mean true effect */
  int64_t dec_n[10], dec_nt[10], dec_nc[10];
  double dec_obs[10], dec_score[10], dec_true[10];
  /* with the truth (tau_true != NULL): */
  double spearman;   /* rank correlation of score and true effect */
  double true_gain;  /* (1/n) sum_k (sum of true effects of the top k - k
                        mean effect): expected incremental responses above
                        random, > 0 beats random */
} tsr_uplift_eval;
/* curve (may be NULL): n + 1 values Q(0..n). */
TSR_API tsr_status tsr_uplift_evaluate(const double *score, const int *treat, const double *y,
                                       const double *tau_true, size_t n, tsr_uplift_eval *out,
                                       double *curve, tsr_error *err);

/* Spearman rank correlation (average ranks for ties). NaN when n < 2 or a
 * series is constant. */
TSR_API double tsr_spearman(const double *a, const double *b, size_t n);

#ifdef __cplusplus
}
#endif
#endif
