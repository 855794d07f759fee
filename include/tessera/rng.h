/*
 * tessera/rng.h - a small seeded pseudo-random number generator for
 * simulation: xoshiro256** (Blackman & Vigna, "Scrambled linear pseudorandom
 * number generators", ACM TOMS 2021) seeded through splitmix64, with the
 * draws the simulators need: uniform, normal (Marsaglia polar), exponential,
 * gamma (Marsaglia & Tsang 2000, with the u^(1/shape) boost for shape < 1),
 * beta (ratio of gammas), Poisson (multiplication for small means, Hörmann's
 * PTRS transformed rejection for mean >= 10).
 *
 * The state is a plain struct the caller owns (stack, array, anything); there
 * is no global state. Not thread-safe per object; use one tsr_rng per thread
 * (tsr_rng_seed with distinct streams gives independent-looking sequences).
 *
 * Draw functions return values, not tsr_status: they have no failure path.
 * Parameters must be finite and > 0 where noted; otherwise NaN is returned
 * (0 for tsr_rng_poisson). Output depends only on (seed, stream) and the
 * sequence of calls, on every platform (IEEE double, libm log/exp/sqrt).
 */
#ifndef TESSERA_RNG_H
#define TESSERA_RNG_H

#include <stdint.h>

#include "tessera/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsr_rng {
  uint64_t s[4]; /* xoshiro256** state; never all zero */
} tsr_rng;

/* Seeds g from (seed, stream): distinct streams of one seed give
 * independent-looking sequences (the simulator uses one stream per
 * customer). Any values are valid. */
TSR_API void tsr_rng_seed(tsr_rng *g, uint64_t seed, uint64_t stream);

/* Next 64 random bits. */
TSR_API uint64_t tsr_rng_next(tsr_rng *g);

/* Uniform on [0, 1) with 53 random bits. */
TSR_API double tsr_rng_uniform(tsr_rng *g);
/* Uniform on (0, 1) (never 0: safe for log). */
TSR_API double tsr_rng_uniform_pos(tsr_rng *g);
/* Uniform integer in [0, n) without modulo bias (Lemire); 0 when n == 0. */
TSR_API uint64_t tsr_rng_bounded(tsr_rng *g, uint64_t n);

/* Standard normal N(0, 1). */
TSR_API double tsr_rng_normal(tsr_rng *g);
/* Exponential with the given rate (> 0): mean 1/rate. */
TSR_API double tsr_rng_exponential(tsr_rng *g, double rate);
/* Gamma with shape (> 0) and RATE (> 0): density ∝ x^(shape-1) e^(-rate x),
 * mean shape/rate. (GSL's gsl_ran_gamma takes a scale = 1/rate.) */
TSR_API double tsr_rng_gamma(tsr_rng *g, double shape, double rate);
/* Beta(a, b), a > 0, b > 0: mean a/(a+b). */
TSR_API double tsr_rng_beta(tsr_rng *g, double a, double b);
/* Poisson with the given mean (>= 0). */
TSR_API uint64_t tsr_rng_poisson(tsr_rng *g, double mean);

#ifdef __cplusplus
}
#endif
#endif
