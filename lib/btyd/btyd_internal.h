/*
 * btyd_internal.h - internals shared by the BTYD model files (lib/btyd/bgnbd.c,
 * lib/btyd/mbgnbd.c, lib/btyd/paretonbd.c, lib/btyd/bgbb.c, lib/btyd/gammagamma.c), the
 * optimiser (lib/btyd/optim.c), the log 2F1 (lib/btyd/hyp2f1.c) and the generic layer
 * (lib/btyd/btyd.c). Not public API.
 */
#ifndef TESSERA_BTYD_INTERNAL_H
#define TESSERA_BTYD_INTERNAL_H

#include "internal.h"
#include "tessera/btyd.h"

/* ------------------------------------------------------------ 2F1 */

/* log|2F1(a,b;c;z)|, its sign, and (if dlog != NULL) the partial
 * derivatives of log|2F1| with respect to a, b, c, z (dlog[0..3]).
 * Returns 0 on success, -1 when it cannot evaluate. */
int tsr__hyp2f1(double a, double b, double c, double z, double *log_abs,
                int *sign, double *dlog);

/* log 2F1(a,b;c;z[i]) and (dlog != NULL) its derivatives (dlog[4 i ..])
 * for m values of z sharing a, b, c > 0: the term ratios and the harmonic
 * sums of the series are computed once for all z (ws: a workspace, zeroed
 * before first use, kept across calls, freed with tsr__hyp_ws_free).
 * Returns 0 or -1 (as tsr__hyp2f1, or a negative 2F1). */
typedef struct tsr__hyp_ws {
  void *buf;
  size_t n, cap;
  double a, b, c;
} tsr__hyp_ws;
int tsr__hyp2f1_many(double a, double b, double c, const double *z, size_t m,
                     double *lf, double *dlog, tsr__hyp_ws *ws);
void tsr__hyp_ws_free(tsr__hyp_ws *ws);
/* tsr__hyp2f1_many with, in d2log[16 i ..], the second derivatives of log
 * 2F1 in (a, b, c, z) (4 x 4, row-major, symmetric), for 0 <= z[i] < 1;
 * dlog and d2log are required. Returns 0 or -1. */
int tsr__hyp2f1_many2(double a, double b, double c, const double *z, size_t m,
                      double *lf, double *dlog, double *d2log, tsr__hyp_ws *ws);
/* tsr__hyp2f1_many2 with runs of at most lanes values of z in one vector
 * series: 4 where the CPU has AVX2 (tsr__hyp2f1_many2's choice), else 2.
 * The values are the same bit for bit whatever the lanes (the tests). */
int tsr__hyp2f1_many2_lanes(size_t lanes, double a, double b, double c, const double *z,
                            size_t m, double *lf, double *dlog, double *d2log,
                            tsr__hyp_ws *ws);

/* lib/cluster/parallel.c (declared in cluster_internal.h, which cannot be
 * included here: lib/internal.h has declarations outside its include
 * guard): fn(ctx, block, lo, hi) on blocks of chunk rows in n_threads. */
typedef void (*tsr__block_fn)(void *ctx, size_t block, size_t lo, size_t hi);
void tsr__parallel_chunks(int n_threads, size_t n, size_t chunk,
                          tsr__block_fn fn, void *ctx);

/* ------------------------------------------------------------ optimiser */

/* Objective: f(theta) and gradient g (g may be NULL). Returns 0, or -1 when
 * f is not finite at theta. */
typedef int (*tsr__fdf_fn)(const double *theta, void *ctx, double *f,
                           double *g);

/* f, gradient g and Hessian H (n x n, row-major) at theta in one pass.
 * Returns 0, or -1 when not finite. */
typedef int (*tsr__fdh_fn)(const double *theta, void *ctx, double *f,
                           double *g, double *H);

typedef struct tsr__objective {
  size_t n;
  tsr__fdf_fn fdf;
  void *ctx;
  tsr__fdh_fn fdh; /* analytic Hessian, or NULL: differences of g */
} tsr__objective;

typedef struct tsr__min_result {
  double f;       /* objective at theta */
  double gnorm;   /* Euclidean norm of the gradient at theta */
  int iterations;
  int converged;  /* 1 when gnorm <= grad_tol */
  const char *why;/* reason when not converged (static) */
} tsr__min_result;

/* Minimisation modes. */
enum {
  TSR__MIN_BFGS = 0,        /* BFGS2 only */
  TSR__MIN_BFGS_NEWTON = 1, /* BFGS2, then Newton steps to grad_tol */
  TSR__MIN_NEWTON_FIRST = 2 /* Newton from a good start (damped Newton from
                               * any start with an analytic Hessian); else
                               * as 1 */
};

/* Minimises obj from theta (IN: start, OUT: minimiser) with GSL's BFGS2
 * and/or Newton steps on the numerical Hessian of the analytic gradient
 * until the gradient norm is below grad_tol. */
tsr_status tsr__minimize(const tsr__objective *obj, double grad_tol,
                         int max_iter, int mode, double *theta,
                         tsr__min_result *res);

/* Hessian (n x n, row-major): the objective's analytic one when it has
 * fdh and fdh succeeds at theta, else by forward differences of the gradient (g0 = gradient at
 * theta, or NULL to compute it), symmetrised. Returns 0
 * or -1. */
int tsr__hessian(const tsr__objective *obj, const double *theta,
                 const double *g0, double *H);

/* Inverse of a symmetric positive-definite n x n matrix (Cholesky).
 * Returns 0, or -1 when A is not positive definite. */
int tsr__spd_inverse(size_t n, const double *A, double *Ainv);

/* ------------------------------------------------------------ patterns */

/* The distinct values of a set of (x, t_x, T) patterns (lib/btyd/patindex.c):
 * a likelihood computes its terms once per distinct x, t_x, T, (x, t_x) and
 * (x, T) and combines them per pattern. Indices are 32-bit. */
typedef struct tsr__btyd_index {
  size_t nx, ntx, nT;      /* distinct x, t_x, T */
  size_t nxtx, nxT;        /* distinct (x, t_x) and (x, T) pairs */
  double *ux, *utx, *uT;   /* the distinct values (first-seen order) */
  uint32_t *ix, *itx, *iT; /* per pattern: its x, t_x, T in ux, utx, uT */
  uint32_t *ixtx, *ixT;    /* per pattern: its (x, t_x) and (x, T) pair */
  uint32_t *xtx_x, *xtx_tx;/* per (x, t_x) pair: its x and t_x */
  uint32_t *xT_x, *xT_T;   /* per (x, T) pair: its x and T */
  double *dbuf;
  uint32_t *ubuf;
  /* the evaluations' workspace (tsr__btyd_scratch_get), kept across the
   * evaluations of a fit: a fresh block per evaluation was faulted in
   * again each time (tens of MB per Pareto/NBD evaluation on tx1800k). The
   * index is read by one thread at a time. */
  struct tsr__btyd_scratch *scratch;
} tsr__btyd_index;

typedef struct tsr__btyd_scratch {
  void *p;
  size_t cap;
} tsr__btyd_scratch;

/* At least bytes of s's block (its contents not kept when it grows), or
 * NULL (out of memory). */
void *tsr__btyd_scratch_get(tsr__btyd_scratch *s, size_t bytes);

/* Builds the index of d (n >= 1). Returns 0, or -1 (out of memory). */
int tsr__btyd_index_build(const tsr_btyd_data *d, tsr__btyd_index *ix);
void tsr__btyd_index_release(tsr__btyd_index *ix);

/* ------------------------------------------------------------ models */

/* One model of the registry (vtable at the model seam). Every function works
 * on natural parameters p[]; data are compressed patterns (weights set). */
/* A fit works on log parameters and stops with "ran to the boundary" past
 * |log p| > 18, so a fitted parameter lies in [e^-18, e^18] = [1.5e-8,
 * 6.6e7]; model files are checked against the same range on load. */
#define TSR__BTYD_LOG_BOUND 18.0

typedef struct tsr__btyd_spec {
  tsr_btyd_kind kind;
  const char *name;
  size_t np;
  const char *pnames[TSR_BTYD_MAXP];
  /* Weighted log-likelihood sum and its gradient in natural parameters
   * (g may be NULL). Returns 0 or -1 (not finite). */
  int (*loglik)(const double *p, const tsr_btyd_data *d, double *ll,
                double *g);
  /* Conditional expectation of purchases in (T, T+t] and P(alive). */
  int (*conditional)(const double *p, double x, double t_x, double T,
                     double t, double *expected, double *p_alive);
  int (*expected_new)(const double *p, double t, double *out);
  int (*pmf_new)(const double *p, unsigned n, double t, double *out);
  /* Optional split of conditional (NULL when the model has none):
   * expected = p_alive(x, t_x, T) * cond_alive(x, T, t), the second part
   * independent of t_x (cached across patterns by the callers). */
  int (*p_alive)(const double *p, double x, double t_x, double T,
                 double *out);
  int (*cond_alive)(const double *p, double x, double T, double t,
                    double *out);
  /* P(X(T, T+t] = n | x, t_x, T) (NULL when not available). */
  int (*pmf_cond)(const double *p, double x, double t_x, double T, unsigned n,
                  double t, double *out);
  /* Posterior expected dropout hazard per period given alive at T. */
  double (*hazard)(const double *p, double x, double t_x, double T);
  /* Natural-parameter starting points (k-th, k = 0..7) scaled by data. */
  void (*start)(int k, const tsr_btyd_data *d, double *p);
  /* Optional: the same sum as loglik on the patterns d with their index
   * ix (terms computed once per distinct value or pair). */
  int (*loglik_ix)(const double *p, const tsr_btyd_data *d,
                   const tsr__btyd_index *ix, double *ll, double *g);
  /* Optional: loglik_ix with, when H is not NULL, the analytic Hessian in
   * natural parameters (np x np, row-major; g may be NULL). */
  int (*eval_ix)(const double *p, const tsr_btyd_data *d,
                 const tsr__btyd_index *ix, double *ll, double *g, double *H);
  /* 1: the fit takes a first start that converged where the Hessian is
   * positive definite without a second start to agree with it (Pareto/NBD:
   * that second start was half of a fit's 2F1 work); 0: starts go on until
   * two agree (BG/NBD: cheap, and the optimum then stays bit for bit
   * where it was, the start moving it by ~1e-8 within the tolerance) */
  int one_start;
  /* Optional: p_alive of every pattern of d under nsets parameter sets
   * P[j], out[j * d->n + k] (NaN where p_alive fails), the same values
   * with its terms computed once per distinct value or pair, in n_threads
   * threads. Returns 0, or -1 (out of memory). */
  int (*p_alive_sets)(const double (*P)[TSR_BTYD_MAXP], size_t nsets,
                      const tsr_btyd_data *d, int n_threads, double *out);
} tsr__btyd_spec;

extern const tsr__btyd_spec tsr__bgnbd_spec;
extern const tsr__btyd_spec tsr__mbgnbd_spec;
extern const tsr__btyd_spec tsr__pnbd_spec;
/* log of the Pareto/NBD A0 integral's term (the integral form, for z >
 * 0.99) and its gradient (dl may be NULL): for the tests. */
int tsr__pnbd_a0_quad(const double *p, double x, double tx, double T, double *l, double *dl);
extern const tsr__btyd_spec tsr__bgbb_spec;
extern const tsr__btyd_spec tsr__gg_spec;
/* tsr__gg_spec's loglik with lm[i] = log(m_x[i]) given (a fit evaluates it
 * many times; log(m_x) does not depend on the parameters): the same bits. */
int tsr__gg_loglik_lm(const double *P, const tsr_btyd_data *d, const double *lm, double *ll,
                      double *g);

const tsr__btyd_spec *tsr__btyd_get_spec(tsr_btyd_kind k);

/* Data compressed to unique patterns (owned arrays). */
typedef struct tsr__btyd_pat {
  tsr_btyd_data d; /* points into buf; weights always set */
  double *buf;
  size_t *map;     /* map[i] = pattern of input row i (NULL unless asked) */
} tsr__btyd_pat;

/* Compresses d to unique (x, t_x, T[, m_x]) rows (hashing), sorted by x,
 * then T, then t_x, then m_x, summing weights; patterns of weight 0 are
 * dropped unless want_map (fill pat->map). When d is such patterns already
 * (strictly increasing in that order, t_x, T and weights set, all weights
 * > 0), pat->d is d itself (pat->buf NULL): d must outlive pat. */
tsr_status tsr__btyd_compress(const tsr_btyd_data *d, int want_map,
                              tsr__btyd_pat *pat, tsr_error *err);
/* tsr__btyd_compress of columns whose rows are stride bytes apart (d's
 * columns point at the first row's values: analyze compresses its
 * summary's rows in place, issue 18); the same patterns. Rows that are
 * sorted patterns already with weights (borrowed by tsr__btyd_compress):
 * TSR_EINVAL. */
tsr_status tsr__btyd_compress_rows(const tsr_btyd_data *d, size_t stride, int want_map,
                                   tsr__btyd_pat *pat, tsr_error *err);
void tsr__btyd_pat_release(tsr__btyd_pat *pat);

/* P(alive) of the patterns under the parameter sets of the intervals,
 * kept for the CLV (tsr__clv_compute_pat): pa[j * u + k]. */
typedef struct tsr__btyd_pa {
  size_t u, nsets;
  double *pa; /* owned; NULL: none */
} tsr__btyd_pa;

/* The part of the predictions and of the CLV that depends on (x, T) only,
 * once per run of one (x, T) of the patterns (sorted by x, then T, then
 * t_x: each (x, T) is one run; 24.7k runs among 0.94M patterns on
 * tx1800k), for every parameter set of the intervals (the CLV's: sets
 * 0..J, J = np with intervals and a covariance, else 0): the discounted
 * purchases of an active customer (the CLV's, NaN where they fail) and,
 * as the CLV's last step is the horizon t of the predictions, the expected
 * purchases of an active customer in t (cond_alive at t: the same
 * function on the same arguments, so the same bits), which the
 * predictions then take instead of computing them again (issue 18). Models
 * with the p_alive/cond_alive split only. */
typedef struct tsr__btyd_xt {
  size_t u;          /* patterns */
  size_t nr;         /* runs */
  size_t nsets;      /* parameter sets: J + 1 */
  tsr_btyd_kind kind;
  double params[TSR_BTYD_MAXP]; /* the model's (the sets are made from them) */
  tsr_clv_opts o;    /* the CLV's options of DA */
  double t;          /* the horizon of EA */
  int has_ea;        /* the CLV's last step is t: EA is kept */
  size_t *start;     /* [nr + 1]: the first pattern of each run, then u */
  double *DA;        /* [r * nsets + j]: discounted purchases; NaN: fail */
  double *EA;        /* [r * nsets + j]: cond_alive at t, where ea_ok[r] */
  unsigned char *ea_ok; /* [r]: cond_alive at t returned 0 for every set */
} tsr__btyd_xt;

/* The runs of the patterns d and their parts under m, the CLV options o
 * (checked as tsr__clv_dm_make does) and the predictions' horizon t (want:
 * with the intervals' sets), in n_threads threads. Returns 1 when made,
 * else 0 (a model without the split, options the CLV rejects, no patterns,
 * out of memory: the callers compute the values themselves). */
int tsr__btyd_xt_make(const tsr_btyd_model *m, const tsr_btyd_data *d, const tsr_clv_opts *o,
                      double t, int want, int n_threads, tsr__btyd_xt *xt);
void tsr__btyd_xt_release(tsr__btyd_xt *xt);
/* 1 when xt was made for the model m, u patterns and at least nsets sets. */
int tsr__btyd_xt_fits(const tsr__btyd_xt *xt, const tsr_btyd_model *m, size_t u, size_t nsets);
/* The run of pattern k < xt->u. */
size_t tsr__btyd_xt_run(const tsr__btyd_xt *xt, size_t k);

/* tsr_clv_compute for n rows given as their (x, t_x, T) patterns pat
 * (tsr__btyd_compress of the rows without m_x, with the map) and each
 * row's x and m_x: the rows need not be compressed again. Row i's x and
 * m_x are read at i * stride bytes from x and m_x (sizeof(double): arrays;
 * analyze reads its summary's rows in place). pa (may be NULL): the
 * P(alive) sets of tsr__btyd_predict_pat on these patterns; the patterns
 * in n_threads threads. */
tsr_status tsr__clv_compute_pat(const tsr_btyd_model *m, const tsr_btyd_model *gg,
                                const tsr__btyd_pat *pat, size_t n, const double *x,
                                const double *m_x, size_t stride, const tsr_clv_opts *o,
                                const tsr__btyd_pa *pa, int n_threads, double *clv, double *clv_lo,
                                double *clv_hi, tsr_error *err);

/* The purchase model's part of the CLV of every pattern (per pattern its
 * discounted purchases and their log-variance), which depends neither on
 * the spend model nor on the rows: 'tessera analyze' makes it right after
 * the predictions, and frees the patterns' columns (not their map) and
 * the P(alive) sets before the spend model and the rows (issue 18). */
typedef struct tsr__clv_dm {
  size_t u;      /* patterns */
  int want;      /* with the intervals' part */
  double *DM;    /* owned: per pattern k, D0 at 2k and MV at 2k + 1 */
  tsr_status st; /* TSR_OK, or the error the CLV gives for these patterns (err) */
  tsr_error err;
} tsr__clv_dm;

/* tsr__clv_compute_pat's part of the patterns pat under m and o (pa as
 * there; want: with intervals). Returns 0 when not made (m or o fail the
 * CLV's checks, which it then reports: the CLV needs the patterns), else 1
 * with dm->st TSR_OK or the error (a pattern that fails, out of memory)
 * that tsr__clv_compute_dm gives after its checks. */
/* xt (may be NULL): the discounted purchases per (x, T) (tsr__btyd_xt_make
 * with these options), taken when made for these patterns and sets. */
int tsr__clv_dm_make(const tsr_btyd_model *m, const tsr__btyd_pat *pat, const tsr_clv_opts *o,
                     const tsr__btyd_pa *pa, const tsr__btyd_xt *xt, int want, int n_threads,
                     tsr__clv_dm *dm);
void tsr__clv_dm_release(tsr__clv_dm *dm);
/* tsr__clv_compute_pat with the patterns' part dm (made with want =
 * clv_lo || clv_hi): of pat only pat->map and pat->d.n are read. The same
 * checks first, the same values and errors. */
tsr_status tsr__clv_compute_dm(const tsr_btyd_model *m, const tsr_btyd_model *gg,
                               const tsr__btyd_pat *pat, size_t n, const double *x,
                               const double *m_x, size_t stride, const tsr_clv_opts *o,
                               const tsr__clv_dm *dm, int n_threads, double *clv, double *clv_lo,
                               double *clv_hi, tsr_error *err);

/* ------------------------------------------------------------ predictions
 * (lib/btyd/predict.c) on patterns: the model step of 'tessera analyze'
 * gives its patterns once to the predictions, the churn, the holdout check
 * and the CLV, which share the P(alive) of every pattern. The values are
 * those of the public functions (tsr_btyd_predict, tsr_btyd_churn,
 * tsr_btyd_conditional, tsr_clv_compute) bit for bit, in any number of
 * threads. */

/* Parameter sets of the delta method: P[0] = the estimates, P[j+1] = the
 * estimates with p_j times e^h, j < J (forward differences in the
 * log-parameters). */
#define TSR__BTYD_DELTA_H 1e-6
void tsr__btyd_param_sets(const tsr_btyd_model *m, size_t J,
                          double P[TSR_BTYD_MAXP + 1][TSR_BTYD_MAXP]);

/* The P(alive) of the patterns d under P[0..nsets) into out[j * d->n + k]:
 * spec->p_alive_sets, or spec->p_alive one by one; NaN where p_alive
 * fails. Returns 0, or -1 (out of memory). */
int tsr__btyd_p_alive_sets(const tsr__btyd_spec *s, const double (*P)[TSR_BTYD_MAXP],
                           size_t nsets, const tsr_btyd_data *d, int n_threads, double *out);

void tsr__btyd_pa_release(tsr__btyd_pa *pa);

/* tsr_btyd_predict on the patterns pd (tsr__btyd_compress's order; no map:
 * out arrays have pd->n elements) in n_threads threads. keep (may be NULL)
 * receives the P(alive) of every parameter set of the intervals (models
 * with the p_alive/cond_alive split; else keep->pa = NULL). */
/* xt (may be NULL): the patterns' parts per (x, T) (tsr__btyd_xt_make with
 * this t), whose cond_alive at t is taken where kept. */
tsr_status tsr__btyd_predict_pat(const tsr_btyd_model *m, const tsr_btyd_data *pd, double t,
                                 double level, int n_threads, double *expected,
                                 double *expected_lo, double *expected_hi, double *p_alive,
                                 tsr__btyd_pa *keep, const tsr__btyd_xt *xt, tsr_error *err);

/* tsr_btyd_churn on the patterns pd with their P(alive) under m (pa, from
 * tsr__btyd_predict_pat; NULL: computed, as tsr_btyd_churn does). */
tsr_status tsr__btyd_churn_pat(const tsr_btyd_model *m, const tsr_btyd_data *pd,
                               const double *pa, double threshold, double *share_below,
                               double *expected_alive, double *expected_dropouts,
                               tsr_error *err);

/* out[i] = E[X(T, T+t[i]] | x, t_x, T of row i] for n rows given as their
 * patterns pat (with the map), as tsr_btyd_conditional row by row (its
 * error at the first row where it fails); pa: the P(alive) of the
 * patterns under m (NULL: computed); m a checked purchase model. */
tsr_status tsr__btyd_conditional_rows(const tsr_btyd_model *m, const tsr__btyd_pat *pat,
                                      const double *pa, size_t n, const double *t,
                                      int n_threads, double *out, tsr_error *err);

/* log(exp(a) + exp(b)) without overflow. */
static inline double tsr__logaddexp(double a, double b);
#include <math.h>
static inline double tsr__logaddexp(double a, double b) {
  if (a == -INFINITY) return b;
  if (b == -INFINITY) return a;
  return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

/* z quantile of a two-sided interval of that level (0 if outside (0,1)). */
double tsr__btyd_zlevel(double level);

/* lnGamma, digamma, trigamma and lnBeta through GSL's _e variants (NaN on error). */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sf_psi.h>
static inline double tsr__lng(double x) {
  gsl_sf_result r;
  return gsl_sf_lngamma_e(x, &r) == GSL_SUCCESS ? r.val : NAN;
}
static inline double tsr__psi(double x) {
  gsl_sf_result r;
  return gsl_sf_psi_e(x, &r) == GSL_SUCCESS ? r.val : NAN;
}
static inline double tsr__psi1(double x) {
  gsl_sf_result r;
  return gsl_sf_psi_1_e(x, &r) == GSL_SUCCESS ? r.val : NAN;
}
static inline double tsr__lnbeta(double a, double b) {
  return tsr__lng(a) + tsr__lng(b) - tsr__lng(a + b);
}

/* E over p ~ Beta(a, b) of (1 - (A/(A + p t))^k) / p, by adaptive
 * quadrature (fallback of the BG/NBD-family expectations when the closed
 * form is singular, a ~ 1). Returns 0 or -1. */
int tsr__beta_expect_purch(double a, double b, double A, double k, double t,
                           double *out);

/* Expected purchases in t periods of an active BG/NBD-family customer with
 * posterior p ~ Beta(a, B), lambda ~ Gamma(k, A) (lib/btyd/bgnbd.c). */
int tsr__bgnbd_cond_alive(double a, double B, double k, double A, double t,
                          double *out);
/* tsr__bgnbd_cond_alive at t[0..m) into out[0..m), the same values
 * (lib/btyd/condmany.c: the series of the horizons share their terms'
 * ratios). Returns 0, or -1 when one fails. */
int tsr__bgnbd_cond_alive_many(double a, double B, double k, double A, const double *t, size_t m,
                               double *out);
/* The same with the series in SIMD groups of at most lanes horizons (1:
 * one by one; 2: SSE2; 4: AVX2 where the CPU has it, else 2): the same
 * values whatever the lanes (the tests compare them). */
int tsr__bgnbd_cond_alive_many_lanes(size_t lanes, double a, double B, double k, double A,
                                     const double *t, size_t m, double *out);

/* Mean of the T column (for data-scaled starting points), >= 1e-3. */
double tsr__btyd_mean_T(const tsr_btyd_data *d);

#endif
