/*
 * evaluate_internal.h - the AUC alone, for callers that need no other
 * metric (lib/predict/evaluate.c). Not public API.
 */
#ifndef TSR_EVALUATE_INTERNAL_H
#define TSR_EVALUATE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/error.h"

/* The AUC of scores s[0..n) against labels y (0 = negative), by the same
 * ranking and tie-group walk as tsr_eval_binary_compute (its auc bit for
 * bit) without the other metrics; NaN when a score is not finite or y has
 * one class only (or n = 0), where tsr_eval_binary_compute fails.
 * TSR_ENOMEM. */
tsr_status tsr__eval_auc(const double *s, const uint8_t *y, size_t n, double *auc,
                         tsr_error *err);

#endif
