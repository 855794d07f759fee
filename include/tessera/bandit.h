/*
 * tessera/bandit.h - offer selection by multi-armed bandits, an offer
 * response simulator to evaluate them, and off-policy evaluation of logged
 * decisions.
 *
 * Policies (one arm = one offer, or one message phrasing):
 *   uniform    uniform among the eligible arms (baseline)
 *   egreedy    epsilon-greedy on the per-segment mean reward (baseline)
 *   thompson   Thompson sampling per segment: Beta-Bernoulli for 0/1 rewards
 *              (Thompson 1933; Chapelle & Li, NIPS 2011), Gaussian for
 *              amounts (posterior N(mean, s^2/(n+1)) with the running sample
 *              variance s^2, prior mean 0 with one pseudo-observation)
 *   linucb     disjoint LinUCB (Li, Chu, Langford & Schapire, WWW 2010,
 *              algorithm 1): ridge regression per arm on the context x,
 *              score theta_a'x + alpha sqrt(x' A_a^-1 x), A_a = lambda I +
 *              sum x x'
 *   lints      linear Thompson sampling (Agrawal & Goyal, ICML 2013):
 *              theta ~ N(theta_a, v^2 A_a^-1), i.e. the score of arm a is
 *              N(theta_a'x, v^2 x' A_a^-1 x)
 * Every policy mixes in a minimum exploration rate: with probability
 * min_explore the arm is uniform among the eligible ones. The action is drawn
 * from the policy's action distribution pi(a|x), so the recorded propensity
 * pi(a|x) is the probability with which the arm was actually chosen; for the
 * sampling policies pi is estimated by mc_draws posterior draws (thompson:
 * cached per segment and eligible set, recomputed when the segment's
 * posterior changed).
 *
 * Objects are not thread-safe (callers serialise); no global state; the
 * random generator is passed in.
 */
#ifndef TESSERA_BANDIT_H
#define TESSERA_BANDIT_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/error.h"
#include "tessera/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tsr_bandit_policy {
  TSR_BANDIT_UNIFORM = 0,
  TSR_BANDIT_EGREEDY = 1,
  TSR_BANDIT_THOMPSON = 2,
  TSR_BANDIT_LINUCB = 3,
  TSR_BANDIT_LINTS = 4
} tsr_bandit_policy;
#define TSR_BANDIT_NPOLICIES 5

/* "uniform", "egreedy", "thompson", "linucb", "lints" (static storage). */
TSR_API const char *tsr_bandit_policy_name(tsr_bandit_policy p);
/* TSR_EINVAL "policy: expected uniform, egreedy, thompson, linucb or lints,
 * got 'x'". */
TSR_API tsr_status tsr_bandit_policy_parse(const char *s, tsr_bandit_policy *p, tsr_error *err);

typedef enum { TSR_REWARD_BINARY = 0, TSR_REWARD_AMOUNT = 1 } tsr_bandit_reward;

#define TSR_BANDIT_MAX_ARMS 256
#define TSR_BANDIT_MAX_DIM 64
#define TSR_BANDIT_MAX_SEGMENTS 4096

typedef struct tsr_bandit_opts {
  tsr_bandit_policy policy; /* default thompson */
  size_t n_arms;            /* 1..TSR_BANDIT_MAX_ARMS (required) */
  size_t n_segments;        /* 1..TSR_BANDIT_MAX_SEGMENTS; default 1 */
  size_t dim;               /* context features (linucb, lints), 1..64;
                               default TSR_BANDIT_PROFILE_DIM */
  tsr_bandit_reward reward; /* default binary (rewards 0/1) */
  double epsilon;           /* egreedy exploration, [0,1]; default 0.1 */
  double min_explore;       /* uniform floor mixed into every policy,
                               [0,1]; default 0.01 */
  double alpha;             /* linucb width, >= 0; default 1 */
  double lambda;            /* ridge regularisation, > 0; default 1 */
  double v;                 /* lints posterior scale, > 0; default 0.5 */
  double prior_a, prior_b;  /* Beta prior, > 0; default 1, 1 */
  int mc_draws;             /* draws estimating pi for thompson/lints,
                               16..100000; default 256 */
} tsr_bandit_opts;
TSR_API void tsr_bandit_opts_init(tsr_bandit_opts *o);
/* Checks every field; names the field, range and value. */
TSR_API tsr_status tsr_bandit_check_opts(const tsr_bandit_opts *o, tsr_error *err);

typedef struct tsr_bandit tsr_bandit;

/* OUT: *out (tsr_bandit_free). */
TSR_API tsr_status tsr_bandit_new(const tsr_bandit_opts *o, tsr_bandit **out, tsr_error *err);
TSR_API void tsr_bandit_free(tsr_bandit *b);
TSR_API const tsr_bandit_opts *tsr_bandit_get_opts(const tsr_bandit *b);

/* The action distribution pi(.|segment, x) over the n_arms (0 for an
 * ineligible arm). eligible: n_arms flags (NULL = all). x: dim features
 * (may be NULL for the non-contextual policies). g: used by the sampling
 * policies. TSR_ENOTFOUND "no eligible offer" when no arm is eligible.
 * OUT: probs (n_arms values summing to 1). */
TSR_API tsr_status tsr_bandit_probs(tsr_bandit *b, size_t segment, const double *x,
                                    const unsigned char *eligible, tsr_rng *g, double *probs,
                                    tsr_error *err);
/* Draws an arm from pi. OUT: *arm, *propensity = pi(arm). */
TSR_API tsr_status tsr_bandit_choose(tsr_bandit *b, size_t segment, const double *x,
                                     const unsigned char *eligible, tsr_rng *g, size_t *arm,
                                     double *propensity, tsr_error *err);
/* Feeds back the reward of arm in (segment, x): 0/1 for binary rewards
 * (TSR_EINVAL otherwise), a finite amount for amounts. */
TSR_API tsr_status tsr_bandit_update(tsr_bandit *b, size_t segment, const double *x, size_t arm,
                                     double reward, tsr_error *err);
/* The model's expected reward of arm (posterior mean per segment, or
 * theta_a'x for the linear policies). */
TSR_API double tsr_bandit_mean(const tsr_bandit *b, size_t segment, const double *x, size_t arm);
/* Updates seen so far. */
TSR_API int64_t tsr_bandit_updates(const tsr_bandit *b);
/* Grows the number of segments to n_segments (>= the current number, at
 * most TSR_BANDIT_MAX_SEGMENTS): the new segments start at the prior, the
 * state of the others is kept (the same as a new bandit fed every update
 * again). TSR_EINVAL out of range, TSR_ENOMEM (b unchanged). */
TSR_API tsr_status tsr_bandit_grow_segments(tsr_bandit *b, size_t n_segments, tsr_error *err);

/* ------------------------------------------------------------ profile features
 * The documented context of the linear policies (docs/offers.md), from a
 * customer profile: x = [1, log1p(frequency), recency/T (0 when T = 0),
 * log1p(monetary_value)/5, p_alive (0.5 when unknown), log1p(max(clv, 0))/5
 * (0 when unknown)]. NaN inputs take the stated defaults. */
#define TSR_BANDIT_PROFILE_DIM 6
TSR_API void tsr_bandit_profile_features(double frequency, double recency, double T,
                                         double monetary_value, double p_alive, double clv,
                                         double x[TSR_BANDIT_PROFILE_DIM]);

/* ------------------------------------------------------------ offer simulator
 * A customer population (tessera/simulate.h latent values) and a logistic
 * offer response model: P(respond to offer k | customer i) =
 * logistic(beta0_k + beta_k'z_i + gamma_{k,persona_i}), z_i the customer's
 * profile features (TSR_BANDIT_PROFILE_DIM, from the latent purchase rate,
 * dropout and spend), coefficients drawn from the seed so that different
 * offers are best for different customers. Base response about 5%. */
typedef struct tsr_offer_sim_opts {
  uint64_t customers; /* 1..1e7; default 2000 */
  size_t offers;      /* 2..TSR_BANDIT_MAX_ARMS; default 5 */
  uint64_t seed;      /* default 1 */
  double base_rate;   /* mean response probability, (0, 0.5]; default 0.05 */
} tsr_offer_sim_opts;
TSR_API void tsr_offer_sim_opts_init(tsr_offer_sim_opts *o);

typedef struct tsr_offer_sim tsr_offer_sim;
TSR_API tsr_status tsr_offer_sim_new(const tsr_offer_sim_opts *o, tsr_offer_sim **out,
                                     tsr_error *err);
TSR_API void tsr_offer_sim_free(tsr_offer_sim *s);
TSR_API uint64_t tsr_offer_sim_customers(const tsr_offer_sim *s);
TSR_API size_t tsr_offer_sim_offers(const tsr_offer_sim *s);
/* Segment (persona, 0..3) and features of customer i. */
TSR_API void tsr_offer_sim_customer(const tsr_offer_sim *s, uint64_t i, size_t *segment,
                                    double x[TSR_BANDIT_PROFILE_DIM]);
/* True response probability of customer i to offer k. */
TSR_API double tsr_offer_sim_prob(const tsr_offer_sim *s, uint64_t i, size_t k);
#define TSR_OFFER_SIM_SEGMENTS 4

/* Runs a policy for steps decisions: each step a uniformly drawn customer,
 * the policy's offer, a Bernoulli response from the true probability, the
 * update. Regret = sum over steps of (best true probability of the
 * customer - true probability of the chosen offer) (expected regret).
 * cb (may be NULL) is called every `every` steps and at the end with the
 * step count, cumulative reward and cumulative regret; nonzero stops.
 * log (may be NULL) receives every decision. */
typedef struct tsr_offer_sim_result {
  int64_t steps;
  double reward;      /* cumulative responses */
  double regret;      /* cumulative expected regret */
  double best_reward; /* expected responses of the best offer per customer */
} tsr_offer_sim_result;
typedef int (*tsr_offer_sim_cb)(void *ctx, int64_t step, double reward, double regret);
typedef int (*tsr_offer_sim_log_cb)(void *ctx, uint64_t customer, size_t segment,
                                    const double *x, size_t offer, double propensity,
                                    double reward);
TSR_API tsr_status tsr_offer_sim_run(const tsr_offer_sim *s, const tsr_bandit_opts *policy,
                                     int64_t steps, uint64_t seed, int64_t every,
                                     tsr_offer_sim_cb cb, tsr_offer_sim_log_cb log, void *ctx,
                                     tsr_offer_sim_result *out, tsr_error *err);

/* ------------------------------------------------------------ off-policy evaluation
 * Value of a policy estimated from n logged decisions (segment, x (n x dim
 * row-major; NULL when dim = 0), logged arm, its logging propensity > 0,
 * reward), by 2-fold cross-fitting: the policy (and, for DR, a ridge
 * reward model per arm on x, or per-segment means without x) is trained on
 * one half in log order and frozen; its action distribution pi is
 * evaluated on the other half; then the halves swap.
 *   IPS: mean of pi(a_i|x_i)/p_i r_i (Horvitz-Thompson)
 *   DR:  mean of sum_a pi(a|x_i) q(x_i,a) + pi(a_i|x_i)/p_i (r_i - q(x_i,a_i))
 *        (Dudik, Langford & Li, ICML 2011)
 * Confidence intervals: mean +- z_{1-alpha/2} sd/sqrt(n). */
typedef struct tsr_ope_result {
  int64_t n;
  double logged;          /* mean logged reward */
  double ips, ips_lo, ips_hi;
  double dr, dr_lo, dr_hi;
  double ess;             /* effective sample size of the weights
                             (sum w)^2 / sum w^2 */
} tsr_ope_result;
TSR_API tsr_status tsr_bandit_replay(const tsr_bandit_opts *policy, size_t n, const size_t *segment,
                                     const double *x, const size_t *arm, const double *propensity,
                                     const double *reward, uint64_t seed, double alpha,
                                     tsr_ope_result *out, tsr_error *err);

/* ------------------------------------------------------------ eligibility rules
 * offers.csv's `eligible` column (docs/act.md "Eligibility rules"):
 * comparisons of profile fields joined by `and` / `or` (and binds
 * tighter), each optionally preceded by `not`, e.g. "age >= 25 and age <=
 * 60 and income_band in (middle, high)", "not holds credit_card".
 * Number fields: frequency, recency, T, monetary_value, revenue, p_alive,
 * clv (the store's customer), age, risk_score, digital_share, tenure_years,
 * product_count (profiles.csv of a bundle run); operators < <= > >= = !=.
 * Word fields: segment, income_band, life_stage, risk_band,
 * channel_preference; operators = != and `in (w1, w2, ...)` (up to 16
 * words). `holds PRODUCT`: PRODUCT is among the products held.
 * A comparison with an unknown field (NaN, NULL) is false, and so is its
 * `not`. The empty rule is always true. */
typedef struct tsr_offer_profile {
  double frequency, recency, T, monetary_value, revenue, p_alive, clv; /* NaN = unknown */
  const char *segment; /* NULL = unknown */
  /* bundle profile fields (tsr_offer_profile_init: all unknown) */
  double age, risk_score, digital_share, tenure_years, product_count; /* NaN = unknown */
  const char *income_band, *life_stage, *risk_band, *channel_preference; /* NULL = unknown */
  const char *products; /* ';'-separated products held; NULL = unknown */
} tsr_offer_profile;
/* Sets every field unknown (NaN / NULL). */
TSR_API void tsr_offer_profile_init(tsr_offer_profile *p);
typedef struct tsr_offer_rule tsr_offer_rule;
/* OUT: *out (tsr_offer_rule_free). TSR_EPARSE with err->column the 1-based
 * byte column: "eligible: unknown field 'shoe_size' (expected ...)". */
TSR_API tsr_status tsr_offer_rule_parse(const char *text, tsr_offer_rule **out, tsr_error *err);
TSR_API int tsr_offer_rule_eval(const tsr_offer_rule *r, const tsr_offer_profile *p);
TSR_API void tsr_offer_rule_free(tsr_offer_rule *r);

#ifdef __cplusplus
}
#endif
#endif
