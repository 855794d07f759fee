/*
 * tessera/evaluate.h - evaluation of predictions: binary classifiers (AUC,
 * PR-AUC, Brier score, log loss, lift in the top decile, reliability table),
 * probability calibration (Platt scaling, isotonic regression) and ranked
 * recommendations (hit rate@k, NDCG@k, MAP@k).
 *
 * Definitions (docs/predict.md):
 *   AUC      area under the ROC curve = P(score of a random positive >
 *            score of a random negative) + P(tie)/2 (Mann-Whitney, tied
 *            scores get their average rank).
 *   PR-AUC   average precision: sum over positives, in decreasing score
 *            order, of (recall step) x (precision at that threshold), tied
 *            scores forming one threshold (scikit-learn's
 *            average_precision_score).
 *   Brier    mean of (p - y)^2, p a probability.
 *   log loss mean of -(y ln p + (1-y) ln(1-p)), p clipped to [1e-15, 1-1e-15].
 *   lift@10% positive rate among the ceil(n/10) highest scores divided by the
 *            overall positive rate (ties broken by lower row index first).
 *   reliability: bins of equal width on [0, 1] of the predicted probability;
 *            per bin the count, mean prediction and observed positive rate.
 *
 * All functions are pure; inputs are borrowed.
 */
#ifndef TESSERA_EVALUATE_H
#define TESSERA_EVALUATE_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TSR_EVAL_ROC_POINTS 101

typedef struct tsr_eval_binary {
  size_t n, n_pos;   /* rows, positives */
  double base_rate;  /* n_pos / n */
  double auc;        /* ROC AUC */
  double pr_auc;     /* average precision */
  double brier;      /* NaN when the scores are not probabilities in [0,1] */
  double log_loss;   /* NaN likewise */
  double lift_top10; /* lift in the top decile */
  double decile_lift[10]; /* lift of each decile by decreasing score (ties
                             by row order): its positive rate / base_rate */
  size_t n_roc;      /* points of roc, 2..TSR_EVAL_ROC_POINTS */
  double roc[TSR_EVAL_ROC_POINTS][2]; /* ROC curve (fpr, tpr) from (0,0) to
                             (1,1) at tie-group ends, thinned to the points
                             where (fpr + tpr) / 2 passes a new 1/100 */
} tsr_eval_binary;

/* Evaluates scores s against labels y (0 or 1). The ranking metrics use the
 * order of s only; Brier and log loss need s in [0, 1]. TSR_EINVAL when n
 * is 0, a label is not 0/1, a score is not finite, or only one class is
 * present (AUC undefined; message names the class). */
TSR_API tsr_status tsr_eval_binary_compute(const double *s, const uint8_t *y,
                                           size_t n, tsr_eval_binary *out,
                                           tsr_error *err);

typedef struct tsr_reliability_bin {
  double lo, hi;      /* bin bounds on the predicted probability */
  size_t n;           /* rows in the bin */
  double mean_pred;   /* mean predicted probability (NaN when empty) */
  double observed;    /* positive rate (NaN when empty) */
} tsr_reliability_bin;

/* nbins equal-width bins (1..100); out has nbins elements (caller's). A
 * probability of exactly 1 falls into the last bin. */
TSR_API tsr_status tsr_eval_reliability(const double *p, const uint8_t *y,
                                        size_t n, int nbins,
                                        tsr_reliability_bin *out,
                                        tsr_error *err);

/* ---------------------------------------------------------- calibration */

typedef enum tsr_calib_kind {
  TSR_CALIB_NONE = 0,     /* identity */
  TSR_CALIB_PLATT = 1,    /* p' = 1 / (1 + exp(-(a * logit(p) + b))), a and b
                             by maximum likelihood (Newton, Platt 1999 on the
                             log-odds of p, with his target smoothing
                             (n+ + 1)/(n+ + 2), 1/(n- + 2)) */
  TSR_CALIB_ISOTONIC = 2  /* pool-adjacent-violators fit of y on p (Zadrozny
                             & Elkan 2002); p' interpolates linearly between
                             the fitted block points, clamped at the ends */
} tsr_calib_kind;

typedef struct tsr_calibrator {
  tsr_calib_kind kind;
  double a, b;      /* Platt */
  size_t n;         /* isotonic: number of points */
  double *x, *y;    /* isotonic: increasing x, nondecreasing y (owned) */
} tsr_calibrator;

/* Fits a calibrator of kind on (p, y). p in [0, 1]. *c owned by the
 * caller (tsr_calibrator_release). */
TSR_API tsr_status tsr_calibrator_fit(tsr_calib_kind kind, const double *p,
                                      const uint8_t *y, size_t n,
                                      tsr_calibrator *c, tsr_error *err);
/* Calibrated probability of p. */
TSR_API double tsr_calibrator_apply(const tsr_calibrator *c, double p);
TSR_API void tsr_calibrator_release(tsr_calibrator *c);
/* "none", "platt", "isotonic"; parse returns TSR_EINVAL otherwise. */
TSR_API const char *tsr_calib_kind_name(tsr_calib_kind k);
TSR_API tsr_status tsr_calib_kind_parse(const char *s, tsr_calib_kind *out);

/* ------------------------------------------------------------- ranking */

typedef struct tsr_eval_ranking {
  size_t n_users;  /* users with at least one relevant item (evaluated) */
  double hit_rate; /* share of them with a relevant item in their top k */
  double ndcg;     /* mean NDCG@k, binary relevance, log2 discounts */
  double map;      /* mean AP@k = sum_{i<=k} P@i rel_i / min(|rel|, k) */
  double precision;/* mean P@k */
} tsr_eval_ranking;

/* ranked: n_users * k item ids (row u = user u's recommendations, best
 * first; -1 = no item). Relevant items of user u: rel[rel_off[u] ..
 * rel_off[u+1]) (rel_off has n_users + 1 entries). Users without relevant
 * items are skipped. TSR_EINVAL when k < 1 or no user has a relevant item. */
TSR_API tsr_status tsr_eval_ranking_compute(const int32_t *ranked,
                                            size_t n_users, size_t k,
                                            const size_t *rel_off,
                                            const int32_t *rel,
                                            tsr_eval_ranking *out,
                                            tsr_error *err);

#ifdef __cplusplus
}
#endif
#endif
