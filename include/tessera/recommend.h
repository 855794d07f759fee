/*
 * tessera/recommend.h - next-best-product: which product a customer is
 * likely to open next, among those they do not hold and are eligible for,
 * with goal propensities (home, retirement, saving, travel, business growth).
 *
 * Scorers (docs/predict.md):
 *   popularity   openings of the product in the 365 days before the cutoff
 *                (the baseline);
 *   item-item CF cosine similarity of product ownership with shrinkage:
 *                sim(a,b) = n_ab / (sqrt(n_a n_b) + 10); score(u,b) = sum of
 *                sim(a,b) over the products a that u holds;
 *   ALS          implicit weighted matrix factorisation (Hu, Koren & Volinsky
 *                2008): confidence 1 + 20 r_ui, 8 factors, lambda 0.1, 10
 *                alternating least-squares sweeps, seeded;
 *   propensity   one XGBoost model per product on the profile features and
 *                the ownership of the other products, trained on the
 *                openings of the window before the cutoff.
 * Each scorer is standardised (z-score over the candidate pairs) and they
 * are blended with non-negative weights summing to 1 (grid step 0.1)
 * chosen to maximise NDCG@3 on a validation window one window earlier.
 *
 * Evaluation: the openings in the W days after the calibration end, of
 * customers who open something then: hit rate@3, NDCG@3, MAP@3 of the blend,
 * of each scorer and of the popularity baseline; per-product propensity AUC.
 *
 * Eligibility (by product name, case-insensitive): "student" products for
 * ages 18-25; "junior"/"child" under 18; "mortgage" 18-70; "pension" under
 * 75; "loan", "credit" and "card" 18 and over; "business" products only for
 * business customers (those holding a business product: the bundle's
 * customers.csv has no customer-type column). An unknown age passes the
 * age rules.
 */
#ifndef TESSERA_RECOMMEND_H
#define TESSERA_RECOMMEND_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "tessera/bundle.h"
#include "tessera/error.h"
#include "tessera/evaluate.h"
#include "tessera/ingest.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TSR_NBP_NGOALS 5
#define TSR_NBP_NSCORERS 4 /* popularity, cf, als, propensity */

typedef struct tsr_nbp_opts {
  int64_t cal_end_day;   /* required */
  int64_t window_days;   /* W >= 1; 0 = from the calibration end to the last
                            day, at most a third of the data before it */
  int top;               /* recommendations per customer, 1..50; default 3 */
  int threads;           /* XGBoost's and the propensity predictions'
                            threads, 0 = all cores */
  uint64_t seed;         /* default 42 */
  const tsr_ledger *ledger; /* as tsr_churn_opts.ledger: NULL = read the
                            transactions from dir, else these, with the
                            tables of folder dir */
  const tsr_bundle_opts *table_opts; /* as tsr_churn_opts.table_opts */
  const tsr_bundle *tables;          /* as tsr_churn_opts.tables */
} tsr_nbp_opts;

TSR_API void tsr_nbp_opts_init(tsr_nbp_opts *o);

typedef struct tsr_nbp_rec {
  int32_t product;       /* index into products */
  float score;           /* blended standardised score (higher = better) */
  char reason[80];
} tsr_nbp_rec;

typedef struct tsr_nbp_result {
  int64_t cal_end_day, window_days, last_day;
  size_t nprod;
  char **products;                 /* names (owned) */
  int goal_of[256];                /* product -> goal 0..4 or -1 */
  /* evaluation at the calibration end */
  size_t n_eval_users;
  const char *scorer[TSR_NBP_NSCORERS + 1]; /* names; last = "blend" */
  tsr_eval_ranking eval[TSR_NBP_NSCORERS + 1];
  double weight[TSR_NBP_NSCORERS]; /* blend weights chosen on validation */
  double product_auc[256];         /* propensity AUC per product (NaN: n/a) */
  size_t product_openings[256];    /* openings in the evaluation window */
  /* recommendations for the present (features at the last day) */
  size_t n, top;
  char **customer_id;              /* n (owned) */
  tsr_nbp_rec *rec;                /* n * top; product -1 = fewer candidates */
  float (*goal)[TSR_NBP_NGOALS];   /* n goal propensities, P(opening a
                                      product of the family in W days) */
} tsr_nbp_result;

/* Goal names: "home", "retirement", "saving", "travel", "business_growth". */
TSR_API const char *tsr_nbp_goal_name(int g);

/* Runs on a folder with transactions.csv and products_events.csv (required:
 * TSR_EINVAL "no product events: ..." otherwise) and optional
 * customers.csv / interactions.csv. *out owned by the caller. */
TSR_API tsr_status tsr_nbp_run(const char *dir, const tsr_nbp_opts *opts,
                               tsr_nbp_result **out, tsr_error *err);
TSR_API void tsr_nbp_result_free(tsr_nbp_result *r);

/* CSV of the recommendations: customer_id,rank,product,score,reason (rank
 * 1..top; fewer rows when fewer candidates). TSR_EIO on a write error. */
TSR_API tsr_status tsr_nbp_write_csv(const tsr_nbp_result *r, FILE *f, tsr_error *err);
/* CSV of the goal propensities: customer_id,home,retirement,saving,travel,
 * business_growth. */
TSR_API tsr_status tsr_nbp_write_goals_csv(const tsr_nbp_result *r, FILE *f, tsr_error *err);

#ifdef __cplusplus
}
#endif
#endif
