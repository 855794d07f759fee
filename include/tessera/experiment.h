/*
 * tessera/experiment.h - analysis of A/B tests (campaign experiments):
 * two-proportion z-test, Welch's t-test, confidence intervals for the
 * difference and the relative lift, sample-ratio mismatch (chi-square),
 * power and sample size, CUPED variance reduction, multiple-testing
 * correction (Holm, Benjamini-Hochberg) and a whole-experiment driver.
 *
 * References: Agresti, Categorical Data Analysis, 2nd ed. (2002) sec. 2.2
 * (Wald interval for a difference of proportions, pooled z-test = Pearson
 * X^2 of the 2x2 table); Welch, Biometrika 34 (1947) (unequal-variance t,
 * Welch-Satterthwaite df); Deng, Xu, Kohavi & Walker, "Improving the
 * Sensitivity of Online Controlled Experiments by Utilizing Pre-Experiment
 * Data" (WSDM 2013) for CUPED; Holm, Scand. J. Statist. 6 (1979);
 * Benjamini & Hochberg, JRSS B 57 (1995). Distributions from GSL.
 *
 * Pure functions: no global state, no printing; inputs borrowed.
 */
#ifndef TESSERA_EXPERIMENT_H
#define TESSERA_EXPERIMENT_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Result of comparing a treatment arm (t) with the control (c). */
typedef struct tsr_exp_test {
  double diff;          /* mean_t - mean_c (rate difference for proportions) */
  double diff_lo, diff_hi; /* (1 - alpha) CI of diff (Wald, unpooled SE) */
  double lift;          /* diff / mean_c (relative lift); NaN when mean_c = 0 */
  double lift_lo, lift_hi; /* CI of the lift (delta method on the ratio) */
  double stat;          /* z (proportions, pooled SE) or Welch t */
  double df;            /* Welch-Satterthwaite degrees of freedom; Inf for z */
  double p_value;       /* two-sided */
  double se;            /* unpooled standard error of diff */
} tsr_exp_test;

/* Two-proportion z-test: x_t responders of n_t vs x_c of n_c, alpha in
 * (0,1). The test statistic uses the pooled proportion (its square is the
 * Pearson X^2 of the 2x2 table); the interval the unpooled Wald SE.
 * TSR_EINVAL: n <= 0, x outside [0, n], or both groups with no (or only)
 * responders ("no responses in either group: the test is undefined"). */
TSR_API tsr_status tsr_exp_ztest(int64_t x_t, int64_t n_t, int64_t x_c, int64_t n_c,
                                 double alpha, tsr_exp_test *out, tsr_error *err);

/* Welch's unequal-variance t-test from group means, sample variances
 * (n - 1 denominator) and sizes (each >= 2). TSR_EINVAL when both
 * variances are 0 or a size < 2. */
TSR_API tsr_status tsr_exp_welch(double mean_t, double var_t, int64_t n_t, double mean_c,
                                 double var_c, int64_t n_c, double alpha, tsr_exp_test *out,
                                 tsr_error *err);

/* Sample-ratio mismatch: chi-square goodness of fit of k observed group
 * sizes against the expected allocation frac (k values > 0 summing to 1;
 * NULL = equal). OUT: *chi2, *p (k - 1 df). */
TSR_API tsr_status tsr_exp_srm(const int64_t *counts, const double *frac, size_t k,
                               double *chi2, double *p, tsr_error *err);

/* Power of the two-sided two-proportion z-test (normal approximation,
 * unpooled variances) with n_t, n_c customers at true rates p_c and p_t. */
TSR_API double tsr_exp_power_prop(double p_c, double p_t, double n_t, double n_c, double alpha);
/* Customers per group (equal groups) for the given power to detect p_c ->
 * p_t: n = (z_{1-a/2} + z_{power})^2 (p_c(1-p_c) + p_t(1-p_t)) / (p_t-p_c)^2,
 * rounded up. 0 when p_t == p_c or an argument is out of range. */
TSR_API double tsr_exp_sample_size_prop(double p_c, double p_t, double alpha, double power);
/* Same for means: n = 2 (z_{1-a/2} + z_{power})^2 sd^2 / delta^2, rounded up. */
TSR_API double tsr_exp_sample_size_mean(double sd, double delta, double alpha, double power);

/* Multiple-testing adjustment of k p-values (in place into adj, which may
 * alias p): Holm's step-down (family-wise error) or Benjamini-Hochberg's
 * step-up (false discovery rate). Adjusted values are monotone and <= 1. */
typedef enum { TSR_EXP_HOLM = 0, TSR_EXP_BH = 1, TSR_EXP_NONE = 2 } tsr_exp_correction;
TSR_API tsr_status tsr_exp_adjust(const double *p, size_t k, tsr_exp_correction how,
                                  double *adj, tsr_error *err);

/* CUPED: theta = cov(y, x) / var(x) over all n units; y_adj[i] = y[i] -
 * theta (x[i] - mean(x)) (y_adj may alias y). OUT: *theta, *rho (the
 * correlation; the variance shrinks by about 1 - rho^2). var(x) = 0 gives
 * theta = 0 (nothing to remove). */
TSR_API tsr_status tsr_exp_cuped(const double *y, const double *x, size_t n, double *y_adj,
                                 double *theta, double *rho, tsr_error *err);

/* ------------------------------------------------------------ whole experiment */

typedef enum { TSR_EXP_RESPONDED = 0, TSR_EXP_REVENUE = 1 } tsr_exp_metric;

typedef struct tsr_exp_opts {
  tsr_exp_metric metric;   /* default TSR_EXP_RESPONDED */
  double alpha;            /* (0, 0.5]; default 0.05 */
  double power;            /* for the sample size, (0.5, 1); default 0.8 */
  double mde;              /* relative effect the sample size is for, > 0;
                              default 0.1 (a 10% lift) */
  tsr_exp_correction correction; /* per-segment tests; default TSR_EXP_HOLM */
  const double *alloc;     /* expected share of each group (n_groups values
                              summing to 1) for the SRM check; NULL = equal */
  int control;             /* index of the control group; default 0 */
} tsr_exp_opts;
TSR_API void tsr_exp_opts_init(tsr_exp_opts *o);

/* One group (arm) of the experiment, or a group within a segment. */
typedef struct tsr_exp_group {
  int64_t n;          /* customers */
  int64_t responders; /* y > 0 */
  double mean;        /* response rate or mean revenue */
  double var;         /* sample variance of y (n - 1) */
  double mean_adj;    /* CUPED-adjusted mean (= mean without pre-period data) */
} tsr_exp_group;

/* Comparison of one treatment group with the control. */
typedef struct tsr_exp_cmp {
  int group;            /* treatment group index */
  tsr_exp_test test;    /* on y */
  tsr_exp_test cuped;   /* on the CUPED-adjusted y (Welch); valid when has_x */
  double power;         /* power to detect the observed sizes' mde */
  double n_needed;      /* customers per group to detect a relative lift of
                           mde at the control's rate/mean with the power */
  int ok;               /* 0 when the test is undefined (message in note) */
  char note[160];
} tsr_exp_cmp;

typedef struct tsr_exp_segment_cmp {
  int segment;
  int group;
  int64_t n_t, n_c;
  double mean_t, mean_c;
  tsr_exp_test test;
  double p_adj;         /* after the correction across all segment tests */
  int ok;
} tsr_exp_segment_cmp;

typedef struct tsr_exp_result {
  size_t n_groups, n_segments;
  tsr_exp_group *groups;     /* n_groups */
  tsr_exp_cmp *cmps;         /* n_groups - 1: every group but the control */
  double srm_chi2, srm_p;
  int has_x;                 /* pre-period covariate given */
  double cuped_theta, cuped_rho;
  tsr_exp_segment_cmp *seg;  /* n_seg_cmps (segments x treatment groups) */
  size_t n_seg_cmps;
} tsr_exp_result;

/* Analyses n units: group[i] in [0, n_groups), y[i] (0/1 for responded, an
 * amount for revenue), x (pre-period covariate, NULL = none), segment
 * (segment index in [0, n_segments), NULL = no breakdown). Every group
 * must have at least one unit (TSR_EINVAL "group 2: no customers").
 * OUT: *out (tsr_exp_result_free). */
TSR_API tsr_status tsr_exp_analyze(const int *group, const double *y, const double *x,
                                   const int *segment, size_t n, size_t n_groups,
                                   size_t n_segments, const tsr_exp_opts *opts,
                                   tsr_exp_result **out, tsr_error *err);
TSR_API void tsr_exp_result_free(tsr_exp_result *r);

#ifdef __cplusplus
}
#endif
#endif
