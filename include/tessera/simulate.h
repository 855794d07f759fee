/*
 * tessera/simulate.h - a simulated bank-like transaction log for demos,
 * tests and benchmarks.
 *
 * Model (per customer i, time in weeks from the window start):
 *   join time      t0_i ~ Uniform(0, join_span * weeks); first purchase at t0_i
 *   purchase rate  lambda_i ~ Gamma(r, alpha)      (rate alpha; per week)
 *   dropout        p_i ~ Beta(a, b)
 *   while alive, repeat purchases form a Poisson process of rate lambda_i;
 *   after each REPEAT purchase the customer drops out with probability p_i
 *   (BG/NBD: Fader, Hardie & Lee, Marketing Science 24(2), 2005, eq. 1-5),
 *   so E[repeats in (t0, t0+t] | lambda, p] = (1 - exp(-lambda p t)) / p;
 *   spend          nu_i ~ Gamma(q, gamma) (rate gamma),
 *                  amount ~ Gamma(p, nu_i) per transaction, rounded to cents
 *                  (at least 0.01); E[amount] = p gamma / (q - 1) for q > 1
 *                  (Gamma-Gamma: Fader, Hardie & Lee, "RFM and CLV", JMR 2005).
 * The day of each purchase comes from the continuous process; its time of day
 * is then drawn from a channel-dependent hour-of-day profile. Channel and
 * category follow per-customer preferences (a persona plus a favourite).
 *
 * Rows are produced in timestamp order (ties: generation order) while
 * holding O(customers + rows of one day) memory, about 72 bytes per customer.
 * Output depends only on the options: same options, same bytes (on one
 * platform: the draws use libm log/exp/sqrt, whose last bits may differ
 * between C libraries or CPU-specific variants).
 */
#ifndef TESSERA_SIMULATE_H
#define TESSERA_SIMULATE_H

#include <stdint.h>
#include <stdio.h>

#include "tessera/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TSR_SIMULATE_MAX_CUSTOMERS ((uint64_t)100000000) /* 1e8 */
#define TSR_SIMULATE_MAX_WEEKS 5200

typedef struct tsr_simulate_opts {
  uint64_t customers; /* 1..TSR_SIMULATE_MAX_CUSTOMERS; default 1000 */
  uint64_t seed;      /* any value; default 1 */
  int64_t start_day;  /* first day of the window, days since 1970-01-01;
                         default 19723 (2024-01-01); 0..47482 (until 2099) */
  int weeks;          /* window length, 1..TSR_SIMULATE_MAX_WEEKS; default 104;
                         the window end must be before 2100-01-01 */
  double join_span;   /* joins spread over this fraction of the window, (0,1];
                         default 0.6 */
  double r, alpha;    /* BG/NBD lambda ~ Gamma(r, alpha), > 0; default .75, 4 */
  double a, b;        /* BG/NBD p ~ Beta(a, b), > 0; default 0.8, 2.5 */
  double p, q, gamma; /* Gamma-Gamma spend, > 0; default 6, 4, 15 */
  int messy;          /* tsr_simulate_write only: 1 = inject mess (see
                         docs/cli/simulate.md); default 0 */
} tsr_simulate_opts;

/* Sets the defaults above. */
TSR_API void tsr_simulate_opts_init(tsr_simulate_opts *o);

/* Checks every field; on error names the field, its range and value:
 * "weeks: expected an integer in [1, 5200], got 0" (TSR_EINVAL). */
TSR_API tsr_status tsr_simulate_check_opts(const tsr_simulate_opts *o,
                                           tsr_error *err);

/* Channel and category names (static storage). */
#define TSR_SIMULATE_NCHANNELS 5
#define TSR_SIMULATE_NCATEGORIES 10
TSR_API const char *tsr_simulate_channel_name(int channel);
TSR_API const char *tsr_simulate_category_name(int category);

/* One simulated transaction, passed to the row callback. */
typedef struct tsr_simulate_row {
  uint64_t transaction;  /* 1-based, in output order */
  uint64_t customer;     /* 0-based customer index; its id is C%06llu of
                            customer + 1 */
  int64_t time;          /* Unix seconds, UTC */
  int64_t amount_cents;  /* > 0 */
  int channel;           /* 0..TSR_SIMULATE_NCHANNELS-1 */
  int category;          /* 0..TSR_SIMULATE_NCATEGORIES-1 */
} tsr_simulate_row;

/* Row callback: return 0 to go on, nonzero to stop (TSR_ECANCELED). */
typedef int (*tsr_simulate_row_fn)(void *ud, const tsr_simulate_row *row);

/* Runs the simulation, calling fn for every transaction in timestamp order.
 * opts->messy is ignored (mess is a property of the written text).
 * Returns TSR_EINVAL for bad options, TSR_ENOMEM, TSR_ECANCELED when fn
 * stopped. */
TSR_API tsr_status tsr_simulate_run(const tsr_simulate_opts *opts,
                                    tsr_simulate_row_fn fn, void *ud,
                                    tsr_error *err);

/* Writes the log as CSV to out (borrowed, not closed), header
 *   transaction_id,customer_id,timestamp,amount,channel,category
 * with ids T0000001.., C000001.., timestamps YYYY-MM-DDTHH:MM:SSZ and
 * amounts with two decimals. With opts->messy, injects the documented mess.
 * Streams: memory does not grow with the number of rows.
 * Returns TSR_EIO on a write error, else as tsr_simulate_run. */
TSR_API tsr_status tsr_simulate_write(FILE *out, const tsr_simulate_opts *opts,
                                      tsr_error *err);

/* The latent (true) values of one customer, for tests and parameter
 * recovery. */
typedef struct tsr_simulate_customer {
  double join;    /* join time, weeks from the window start */
  double lambda;  /* purchase rate per week */
  double p;       /* dropout probability after each repeat purchase */
  double nu;      /* Gamma-Gamma spend rate; mean amount = opts->p / nu */
  int persona;    /* preference profile, 0..3 */
  int channel;    /* favourite channel */
  int category;   /* favourite category */
} tsr_simulate_customer;

/* Fills *out with the latent values of customer `index` (0-based,
 * < opts->customers) exactly as tsr_simulate_run draws them. */
TSR_API tsr_status tsr_simulate_latent(const tsr_simulate_opts *opts,
                                       uint64_t index,
                                       tsr_simulate_customer *out,
                                       tsr_error *err);

#ifdef __cplusplus
}
#endif
#endif
