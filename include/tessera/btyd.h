/*
 * tessera/btyd.h - "buy 'til you die" customer-base models and customer
 * lifetime value: BG/NBD, MBG/NBD, Pareto/NBD, BG/BB and the Gamma-Gamma
 * spend model.
 *
 * References (equation numbers cited in lib/<model>.c and docs/models.md):
 *   BG/NBD     Fader, Hardie & Lee (2005), "Counting your customers the easy
 *              way", Marketing Science 24(2); Hardie's note "Implementing the
 *              BG/NBD model" (stable log-likelihood).
 *   MBG/NBD    Batislam, Denizel & Filiztekin (2007), IJRM 24(3).
 *   Pareto/NBD Schmittlein, Morrison & Colombo (1987); Fader & Hardie (2005)
 *              "A note on deriving the Pareto/NBD model".
 *   BG/BB      Fader, Hardie & Shang (2010), Marketing Science 29(6).
 *   Gamma-Gamma Fader, Hardie & Lee (2005) "RFM and CLV", JMR 42;
 *              Fader & Hardie (2013) "The Gamma-Gamma model of monetary value".
 *
 * Time is measured in model periods (e.g. weeks); tsr_btyd_model.period_days
 * records the length of one period in days so horizons can be given in
 * calendar units. All functions are pure: no global state, no printing; a
 * tsr_btyd_model is a plain value (no owned memory) and may be shared
 * read-only between threads.
 */
#ifndef TESSERA_BTYD_H
#define TESSERA_BTYD_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ data */

/* Per-customer inputs, borrowed. For BG/NBD, MBG/NBD and Pareto/NBD:
 * x = number of repeat purchases, t_x = time of the last purchase (recency),
 * T = age, all in periods since the first purchase. For BG/BB: x = frequency,
 * t_x = recency, T = number of purchase opportunities n (integers). For
 * Gamma-Gamma: x = frequency (> 0) and m_x = mean spend of the repeat
 * purchases (> 0); t_x and T are ignored (may be NULL).
 * weights: NULL = every row counts once; else the number of customers with
 * that row (>= 0). */
typedef struct tsr_btyd_data {
  size_t n;
  const double *x, *t_x, *T;
  const double *m_x;     /* mean spend; Gamma-Gamma and CLV only, else NULL */
  const double *weights; /* NULL = all 1 */
} tsr_btyd_data;

/* ---------------------------------------------------------------- models */

/* The models, in the order of include/tessera/models.def:
 * BGNBD and MBGNBD: params r, alpha, a, b; PNBD: r, alpha, s, beta;
 * BGBB: alpha, beta, gamma, delta; GG: p, q, gamma. */
typedef enum tsr_btyd_kind {
#define TSR_MODEL(KIND, name, spec, role, title) TSR_BTYD_##KIND,
#include "tessera/models.def"
#undef TSR_MODEL
} tsr_btyd_kind;

/* The number of models (the lines of models.def). */
enum {
  TSR_BTYD_NKINDS = 0
#define TSR_MODEL(KIND, name, spec, role, title) +1
#include "tessera/models.def"
#undef TSR_MODEL
};

/* What a model describes (models.def's role column). */
typedef enum tsr_model_role {
  TSR_MODEL_PURCHASE, /* continuous-time purchases: analyze, predict, CLV */
  TSR_MODEL_DISCRETE, /* discrete purchase opportunities */
  TSR_MODEL_SPEND     /* spend per purchase */
} tsr_model_role;

#define TSR_BTYD_MAXP 4

/* Typed parameter views (same order as tsr_btyd_model.params). */
typedef struct tsr_bgnbd_params {
  double r;     /* shape of the Gamma transaction-rate mixing, > 0 */
  double alpha; /* scale of the Gamma transaction-rate mixing, > 0 */
  double a;     /* Beta dropout-probability shape 1, > 0 */
  double b;     /* Beta dropout-probability shape 2, > 0 */
} tsr_bgnbd_params; /* also used for MBG/NBD */

typedef struct tsr_pnbd_params {
  double r;     /* Gamma shape of the purchase rate lambda, > 0 */
  double alpha; /* Gamma scale (rate) of lambda, > 0 */
  double s;     /* Gamma shape of the dropout rate mu, > 0 */
  double beta;  /* Gamma scale (rate) of mu, > 0 */
} tsr_pnbd_params;

typedef struct tsr_bgbb_params {
  double alpha, beta;  /* Beta of the transaction probability p, > 0 */
  double gamma, delta; /* Beta of the dropout probability theta, > 0 */
} tsr_bgbb_params;

typedef struct tsr_gg_params {
  double p;     /* Gamma shape of each spend, > 0 */
  double q;     /* Gamma shape of the spend scale nu, > 0 (> 1 for means) */
  double gamma; /* Gamma scale of nu, > 0 */
} tsr_gg_params;

/* A fitted (or given) model. Plain value; no owned memory. */
typedef struct tsr_btyd_model {
  tsr_btyd_kind kind;
  size_t np;                        /* number of parameters (3 or 4) */
  double params[TSR_BTYD_MAXP];     /* natural parameters, order above */
  double se[TSR_BTYD_MAXP];         /* standard errors (NaN if unknown) */
  double cov[TSR_BTYD_MAXP][TSR_BTYD_MAXP]; /* covariance of params */
  int has_cov;                      /* 1 when se/cov are valid */
  double loglik;                    /* log-likelihood at params (no penalty) */
  double n_customers;               /* sum of weights used in the fit */
  int converged;                    /* 1 when the gradient test passed */
  int iterations;                   /* optimiser iterations (best start) */
  double penalizer;                 /* L2 coefficient used */
  double period_days;               /* days per period (7 = weeks), > 0 */
} tsr_btyd_model;

/* "bgnbd", "mbgnbd", "pnbd", "bgbb", "gg" (static storage). */
TSR_API const char *tsr_btyd_kind_name(tsr_btyd_kind k);
/* The model's role (models.def). */
TSR_API tsr_model_role tsr_btyd_kind_role(tsr_btyd_kind k);
/* The names of the models of one role, ", "-separated, "or" before the last
 * ("bgnbd, mbgnbd or pnbd"): for messages. */
TSR_API const char *tsr_btyd_role_names(tsr_model_role role);
/* Every model's name, ", "-separated (models.def order). */
TSR_API const char *tsr_btyd_all_names(void);
/* Parses a kind name; TSR_EINVAL naming the valid ones otherwise. */
TSR_API tsr_status tsr_btyd_kind_parse(const char *s, tsr_btyd_kind *out,
                                       tsr_error *err);
/* Number of parameters and their names ("r", "alpha", ...; static). */
TSR_API size_t tsr_btyd_nparams(tsr_btyd_kind k);
TSR_API const char *tsr_btyd_param_name(tsr_btyd_kind k, size_t i);

/* Initialises *m with kind, the given natural params (np values), no
 * covariance, period_days 7. Checks the parameters (TSR_ERANGE naming the
 * parameter, its range and value). */
TSR_API tsr_status tsr_btyd_model_init(tsr_btyd_model *m, tsr_btyd_kind kind,
                                       const double *params, tsr_error *err);
/* Checks params of kind: every one finite and > 0. */
TSR_API tsr_status tsr_btyd_check_params(tsr_btyd_kind kind,
                                         const double *params,
                                         tsr_error *err);
/* Checks data for kind: n > 0, finite values, 0 <= t_x <= T, x >= 0,
 * x = 0 => t_x = 0 (BG/NBD family), BG/BB integers with x <= t_x <= T,
 * Gamma-Gamma x > 0 and m_x > 0, weights >= 0. err names row and column. */
TSR_API tsr_status tsr_btyd_check_data(tsr_btyd_kind kind,
                                       const tsr_btyd_data *d, tsr_error *err);

/* ------------------------------------------------------------------ fit */

typedef struct tsr_btyd_fit_opts {
  double penalizer;   /* L2 coefficient on the natural params added to the
                         mean negative log-likelihood (lifetimes' convention),
                         >= 0; default 0 */
  double grad_tol;    /* gradient-norm tolerance on the mean negative
                         log-likelihood in log-parameters; default 1e-9 */
  int max_iter;       /* per start; default 1000 */
  int n_starts;       /* starting points tried, 1..8; default 4 */
  const double *start;/* optional natural-parameter start (tried first) */
  int compute_se;     /* 1 (default): Hessian, standard errors, covariance */
  double period_days; /* recorded in the model; default 7 */
  int n_threads;      /* threads for the log-likelihood sums of large data
                         (> 65536 patterns), 1..64; default 1. The result
                         does not depend on it. */
} tsr_btyd_fit_opts;

TSR_API void tsr_btyd_fit_opts_init(tsr_btyd_fit_opts *o);

/* Maximum-likelihood fit of model `kind` to d (compressed internally to
 * unique patterns). opts may be NULL (defaults). On success *out holds the
 * estimates, standard errors (from the inverse Hessian of the log-likelihood,
 * numerical differentiation of the analytic gradient), log-likelihood,
 * iterations and converged = 1. Errors: TSR_EINVAL/ERANGE bad data or opts
 * (row named), TSR_ENOMEM, TSR_ECONVERGE when no start converged (message
 * says why and what to try; *out then holds the best point found with
 * converged = 0). */
TSR_API tsr_status tsr_btyd_fit(tsr_btyd_kind kind, const tsr_btyd_data *d,
                                const tsr_btyd_fit_opts *opts,
                                tsr_btyd_model *out, tsr_error *err);

/* Log-likelihood of d under m (weighted sum, no penalty). */
TSR_API tsr_status tsr_btyd_loglik(const tsr_btyd_model *m,
                                   const tsr_btyd_data *d, double *out,
                                   tsr_error *err);

/* ----------------------------------------------------------- predictions */

/* For one customer with history (x, t_x, T), t periods ahead (t >= 0):
 * *expected = E[X(T, T+t] | x, t_x, T] (conditional expected purchases),
 * *p_alive = P(still active at T | x, t_x, T). Either pointer may be NULL.
 * Not for Gamma-Gamma (TSR_EINVAL). For BG/BB, t is rounded to whole
 * periods. */
TSR_API tsr_status tsr_btyd_conditional(const tsr_btyd_model *m, double x,
                                        double t_x, double T, double t,
                                        double *expected, double *p_alive,
                                        tsr_error *err);

/* E[X(t)] for a new customer (just acquired, t periods). */
TSR_API tsr_status tsr_btyd_expected_new(const tsr_btyd_model *m, double t,
                                         double *out, tsr_error *err);

/* P(X(t) = n) for a new customer (BG/NBD, Pareto/NBD, BG/BB;
 * TSR_EUNSUPPORTED for MBG/NBD). */
TSR_API tsr_status tsr_btyd_pmf_new(const tsr_btyd_model *m, unsigned n,
                                    double t, double *out, tsr_error *err);

/* P(X(T, T+t] = n | x, t_x, T): probability that a customer with this
 * history makes exactly n purchases in the next t periods (BG/NBD,
 * Pareto/NBD, BG/BB; TSR_EUNSUPPORTED for MBG/NBD). */
TSR_API tsr_status tsr_btyd_pmf_conditional(const tsr_btyd_model *m,
                                            double x, double t_x, double T,
                                            unsigned n, double t, double *out,
                                            tsr_error *err);

/* Per-customer predictions for every row of d (evaluated once per unique
 * pattern). Arrays have d->n elements, owned by the caller; any may be NULL.
 * lo/hi: a `level` (e.g. 0.95) confidence interval of the expected purchases
 * from parameter uncertainty (delta method on the log scale using m->cov;
 * equal to expected when m has no covariance). */
TSR_API tsr_status tsr_btyd_predict(const tsr_btyd_model *m,
                                    const tsr_btyd_data *d, double t,
                                    double level, double *expected,
                                    double *expected_lo, double *expected_hi,
                                    double *p_alive, tsr_error *err);

/* Churn of the customer base: share (weighted) of customers with
 * P(alive) < threshold, expected number of active customers, and the
 * model's expected dropouts in the next period (sum over customers of
 * P(alive) x posterior dropout hazard; see docs/models.md). Any OUT may be
 * NULL. */
TSR_API tsr_status tsr_btyd_churn(const tsr_btyd_model *m,
                                  const tsr_btyd_data *d, double threshold,
                                  double *share_below, double *expected_alive,
                                  double *expected_dropouts, tsr_error *err);

/* ------------------------------------------------------------ Gamma-Gamma */

/* E[M | x, m_x]: conditional expected mean spend per transaction (eq. 5 of
 * Fader & Hardie 2013); x = 0 gives the population mean p*gamma/(q-1).
 * Requires q > 1 (TSR_ERANGE otherwise). */
TSR_API tsr_status tsr_gg_expected_spend(const tsr_btyd_model *gg, double x,
                                         double m_x, double *out,
                                         tsr_error *err);
/* Pearson correlation between frequency and mean spend over the rows with
 * x > 0 (the model assumes independence; |r| > 0.3 deserves a warning). */
TSR_API tsr_status tsr_gg_correlation(const tsr_btyd_data *d, double *out,
                                      tsr_error *err);

/* -------------------------------------------------------------------- CLV */

typedef struct tsr_clv_opts {
  double horizon;     /* horizon in periods of the BTYD model, > 0 */
  double step;        /* discounting step in periods (e.g. one month =
                         30.4375/period_days), > 0; horizon is cut into
                         ceil(horizon/step) steps, the last one partial */
  double discount;    /* discount rate per step, >= 0 (0.01 = 1 %) */
  double level;       /* interval level in (0,1), e.g. 0.95 */
} tsr_clv_opts;

/* CLV_i = sum_k E[spend_i] * (E[X(T, T+t_k]] - E[X(T, T+t_{k-1}]])
 *                         / (1 + discount)^k        (docs/models.md)
 * for every row of d; d->m_x must be set (mean repeat spend; ignored where
 * x = 0). clv_lo/clv_hi (may be NULL): delta-method interval from both
 * models' covariances. Arrays of d->n elements owned by the caller. */
TSR_API tsr_status tsr_clv_compute(const tsr_btyd_model *m,
                                   const tsr_btyd_model *gg,
                                   const tsr_btyd_data *d,
                                   const tsr_clv_opts *opts, double *clv,
                                   double *clv_lo, double *clv_hi,
                                   tsr_error *err);

/* ------------------------------------------------------------ simulation */

/* Draws n customers from model m (not GG) observed for T[i] periods
 * (T may be NULL: all observed for T0 periods); writes x, t_x, T
 * (arrays of n, owned by the caller). For BG/BB, T0/T are rounded to whole
 * periods. seed selects the GSL mt19937 stream. */
TSR_API tsr_status tsr_btyd_simulate(const tsr_btyd_model *m, size_t n,
                                     double T0, const double *T,
                                     uint64_t seed, double *x_out,
                                     double *t_x_out, double *T_out,
                                     tsr_error *err);
/* Draws mean spends m_x (n values) of customers with x[i] > 0 repeat
 * purchases from the Gamma-Gamma model (0 where x[i] == 0). */
TSR_API tsr_status tsr_gg_simulate(const tsr_btyd_model *gg, size_t n,
                                   const double *x, uint64_t seed,
                                   double *m_out, tsr_error *err);

/* ------------------------------------------------------------ model files */

/* Serialises m as JSON text ("format":"tessera-model","version":1; doubles
 * at 17 significant digits, locale-independent). *out is NUL-terminated,
 * owned by the caller (free()). */
TSR_API tsr_status tsr_btyd_model_to_json(const tsr_btyd_model *m,
                                          char **out, tsr_error *err);
/* Parses the JSON of tsr_btyd_model_to_json (round-trips exactly). name is
 * used in error reports. */
TSR_API tsr_status tsr_btyd_model_from_json(const char *text, size_t len,
                                            const char *name,
                                            tsr_btyd_model *out,
                                            tsr_error *err);
TSR_API tsr_status tsr_btyd_model_save(const tsr_btyd_model *m,
                                       const char *path, tsr_error *err);
TSR_API tsr_status tsr_btyd_model_load(const char *path, tsr_btyd_model *out,
                                       tsr_error *err);

/* ---------------------------------------------------------- special func */

/* log|2F1(a,b;c;z)| and its sign for real a, b, c (c not a non-positive
 * integer) and z < 1, accurate to ~1e-14 relative over the range used by
 * the models (series, Pfaff and Euler transforms, log space). Returns
 * TSR_ENUMERIC when it cannot evaluate. */
TSR_API tsr_status tsr_hyp2f1_log(double a, double b, double c, double z,
                                  double *log_abs, int *sign, tsr_error *err);

#ifdef __cplusplus
}
#endif
#endif
