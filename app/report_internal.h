/*
 * report_internal.h - the numbers behind the HTML report (app/report_data.c):
 * histograms, correlation matrices, R x F matrices, the model's
 * frequency/recency matrices, repeat-transaction histograms, tracking
 * series, Pareto curve, and the column view of a run they are computed from.
 * Not public API; unit-tested in tests/unit/test_report_data.c.
 * Layout of the JSON built from them: docs/report.md.
 */
#ifndef TESSERA_REPORT_INTERNAL_H
#define TESSERA_REPORT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tessera/analyze.h"
#include "tessera/report.h"

/* ------------------------------------------------------------ histograms */

typedef struct tsr__hist {
  int log;         /* 1: log1p bins (edges 10^(k L / nbins) - 1) */
  int integer;     /* 1: whole-number data, bins [edge + 0.5, next edge - 0.5] */
  size_t nbins;
  double edges[65];/* nbins + 1 */
  int64_t counts[64];
  size_t n;        /* finite values counted */
  double min, max; /* of the finite values */
} tsr__hist;

/* 1 when x (NaN skipped) is non-negative and right-skewed enough for log
 * bins: sample skewness > 2 and max > 20 x the median... see report_data.c. */
int tsr__report_skewed(const double *x, size_t n);
/* Histogram of the finite values of x in nbins (1..64) equal-width bins
 * over [min, max] (log1p bins when log and min >= 0); the last bin is closed.
 * Whole-number data gets whole-number bins: one per value when max - min
 * < nbins, else ranges of whole numbers (equal widths, or log-spaced
 * starts when log), edges at the half-integers between them (integer = 1). */
void tsr__report_hist(const double *x, size_t n, size_t nbins, int log, tsr__hist *out);

/* ------------------------------------------------------------ correlation */

/* Pearson correlation of the pairs where both are finite; NaN when fewer
 * than 2 pairs or a constant column. */
double tsr__report_pearson(const double *x, const double *y, size_t n);
/* Average ranks (1-based, ties averaged) of x into out; NaN stays NaN. */
tsr_status tsr__report_ranks(const double *x, size_t n, double *out);
/* k x k matrix (row-major) of Pearson (spearman = 0) or Spearman
 * correlations of the columns cols[0..k). */
tsr_status tsr__report_corr(const double *const *cols, size_t k, size_t n, int spearman,
                            double *out);

/* ------------------------------------------------------------ RFM */

/* count[(r-1) * nf + (f-1)] and mean_m (of m over the cell, NaN when
 * empty) for scores r in 1..nr, f in 1..nf (others skipped). */
void tsr__report_rf_matrix(const int *r, const int *f, const double *m, size_t n, int nr,
                           int nf, int64_t *count, double *mean_m);

/* ------------------------------------------------------------ model */

/* The lifetimes frequency/recency matrices: for frequency x_i = i * fstep
 * (i < nf) and recency t_j = j * max_T / (nr - 1) (j < nr), at T = max_T,
 * expected[i * nr + j] = E[X(T, T+t] | x_i, t_j, T] and p_alive likewise
 * (NaN where t_j is 0 < x_i, impossible histories are kept as lifetimes
 * does). Either output may be NULL. */
tsr_status tsr__report_fr_matrix(const tsr_btyd_model *m, size_t nf, double fstep, size_t nr,
                                 double max_T, double t, double *expected, double *p_alive,
                                 tsr_error *err);
/* Observed and model-expected numbers of customers with 0, 1, ...,
 * nb - 2 and nb - 1 or more repeat purchases in their own calibration
 * period T: model[k] = sum_i P(X(T_i) = k) (exact, grouped by distinct T),
 * the last bucket the remainder. */
tsr_status tsr__report_repeat_hist(const tsr_btyd_model *m, const double *x, const double *T,
                                   size_t n, size_t nb, double *observed, double *model,
                                   tsr_error *err);

/* Tracking: repeat purchases per day of the customers born (first
 * purchase) up to cutoff_day, from day0 to end_day, actual and as the
 * model expects: expected cumulative repeat purchases by day t =
 * sum over customers of E[X((t - birth) / period_days)]. */
typedef struct tsr__tracking {
  int64_t day0;    /* first day (first birth) */
  size_t ndays;    /* days day0 .. end_day */
  double *actual;  /* ndays: repeat purchases on the day (owned) */
  double *expected;/* ndays: expected cumulative by the end of the day (owned) */
} tsr__tracking;
/* births[i], and for each customer the days of its repeat purchase periods
 * (period_key groups days into the summary's periods: D, W or M) come from
 * the ledger. */
tsr_status tsr__report_tracking(const tsr_ledger *lg, tsr_freq freq, int64_t cutoff_day,
                                int64_t end_day, const tsr_btyd_model *m, double period_days,
                                tsr__tracking *out, tsr_error *err);
void tsr__report_tracking_release(tsr__tracking *t);

/* ------------------------------------------------------------ Pareto */

/* Share of the revenue of the top p% customers for p = 0..npts-1 scaled to
 * 0..100 %: out[i] = share of the top ceil(i/(npts-1) n) customers. *top20
 * = share of the top ceil(n/5). */
tsr_status tsr__report_pareto(const double *revenue, size_t n, size_t npts, double *out,
                              double *top20);

/* ------------------------------------------------------------ the column view of a run */

typedef struct tsr__report_src {
  size_t n;
  const char **id;            /* borrowed */
  double *frequency, *recency, *T, *monetary, *revenue; /* n each */
  double *n_tx;               /* purchases */
  double *active_days;        /* NULL when unknown (stored runs) */
  int64_t *first_day, *last_day;
  int *r, *f, *m;             /* RFM scores, 0 = none */
  const char **segment;       /* borrowed */
  int *cluster;               /* NULL = no clusters; -1 = noise */
  double *expected, *p_alive, *clv, *clv_lo, *clv_hi; /* NaN = none */
  double *freq_holdout;       /* NULL without holdout */
  int has_model, has_spend;
  tsr_btyd_model model, spend;
  double horizon_periods, period_days;
  const char *scheme_name;
  const char **segment_order; /* scheme order (owned array of borrowed names) */
  size_t n_segment_order;
  const char **cluster_names; /* k names (owned array, borrowed names; NULL entries ok) */
  size_t n_clusters;
  const tsr_ledger *ledger;   /* NULL = no tracking */
  tsr_freq freq;
  int64_t end_day, cal_end_day; /* TSR_DAY_NONE when unknown / no split */
  int has_holdout;
  const tsr_holdout_bucket *holdout; /* TSR_HOLDOUT_BUCKETS or NULL */
  double holdout_mae;
  const char *kpis_json;      /* the run's KPI object (run.json), or NULL */
  const char *timings_json;   /* or NULL */
  const char *params_json;    /* or NULL */
  int64_t run_id, dataset_id;
  const tsr_ingest_stats *ingest; /* or NULL */
  double seconds;
} tsr__report_src;

/* Allocates the columns of src (n rows; NaN-filled doubles, zeroed ints). */
tsr_status tsr__report_src_alloc(tsr__report_src *src, size_t n, int with_holdout,
                                 tsr_error *err);
void tsr__report_src_release(tsr__report_src *src);
/* The column view of an analyze result (borrowing its strings). */
tsr_status tsr__report_src_from_result(const tsr_analyze_result *r, tsr__report_src *src,
                                       tsr_error *err);

/* The report data JSON (docs/report.md) of src. *out: malloc'd text. */
tsr_status tsr__report_json(const tsr__report_src *src, const tsr_report_opts *o, char **out,
                            tsr_error *err);

/* The sections read from files (app/report_extras.c, docs/report.md):
 * "data_quality" and "households" (run.json), "segment_profiles"
 * (segment_profiles.csv), "churn" (churn_eval.json, churn.csv) from
 * o->out_dir when present; "offers" (o->offers_sim) and "experiment"
 * (o->experiment), which must exist and parse (TSR_EIO / TSR_EPARSE with
 * FILE:LINE:COLUMN). A file of the run folder that does not parse is left
 * out with a note in meta.notes. */
tsr_status tsr__report_extras(json_t *root, const tsr_report_opts *o, tsr_error *err);

/* The vendored asset (generated report_assets.c): "chart.js",
 * "chartjs-chart-matrix.js", "report.js", "report.css". Empty (len 0) when
 * it was not available at build time. */
const char *tsr__report_asset(const char *name, size_t *len);

#endif
