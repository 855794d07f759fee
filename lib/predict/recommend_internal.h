/*
 * recommend_internal.h - next-best-product internals exposed to the unit
 * tests (lib/predict/recommend.c).
 */
#ifndef TSR_RECOMMEND_INTERNAL_H
#define TSR_RECOMMEND_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/error.h"
#include "tessera/recommend.h"

#define TSR__NBP_ALS_K 8 /* ALS factors */

/* The ALS scorer: out[u * P + p] = x_u . y_p after the sweeps, for the
 * n x P ownership matrix held (0/1), seeded; unless NULL, xu (n x K) and
 * yi (P x K) get the factors. memo: the user half-step is solved once per
 * distinct ownership row and shared (bit-identical to memo = 0, which
 * solves every customer). TSR_ENOMEM. */
tsr_status tsr__nbp_als(const uint8_t *held, size_t n, size_t P, uint64_t seed, int memo,
                        float *out, double *xu, double *yi, tsr_error *err);

/* Variants of tsr_nbp_run that must give its result bit for bit. */
typedef struct tsr__nbp_test {
  int all_scorers; /* the present's scorers of weight 0 computed too */
  size_t chunk;    /* propensity rows predicted per call; 0 = default */
  int poison;      /* the buffers kept from one cutoff to the next (and new
                      ones) filled with 0xa5 bytes before each use */
  int walk_threads; /* threads of the propensity walks; 0 = the options' */
  int ref_rank;    /* the blend grid's and the evaluation's top 3 by rank_z
                      (the general ranking) instead of eval_users' own */
} tsr__nbp_test;

/* tsr_nbp_run with t (NULL = as tsr_nbp_run). */
tsr_status tsr__nbp_run(const char *dir, const tsr_nbp_opts *opts, const tsr__nbp_test *t,
                        tsr_nbp_result **out, tsr_error *err);

#endif
