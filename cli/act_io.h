/*
 * act_io.h - input helpers of the act-and-measure commands (experiment,
 * offers, uplift, messages): DATA.md column binding (case, blanks and
 * punctuation ignored), a sorted customer-id index, and per-customer
 * spend windows from a transaction log.
 */
#ifndef TESSERA_CLI_ACT_IO_H
#define TESSERA_CLI_ACT_IO_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/tessera.h"

/* Column of t whose normalised name (lowercase alphanumerics only) equals
 * that of one of the names (NULL-terminated list), or -1. */
ptrdiff_t act_col(const tsr_table *t, const char *const *names);
/* Same, printing "tessera: FILE: error: missing column NAME" when absent. */
ptrdiff_t act_col_req(const tsr_table *t, const char *const *names);

/* Sorted index of ids (borrowed strings). */
typedef struct act_index {
  const char **ids; /* sorted */
  size_t *pos;      /* original position of ids[k] */
  size_t n;
} act_index;
int act_index_build(act_index *ix, const char *const *ids, size_t n);
/* Original position of id, or -1. */
ptrdiff_t act_index_find(const act_index *ix, const char *id, size_t len);
void act_index_free(act_index *ix);

/* Sums transaction amounts per customer of ix in two windows around each
 * customer's reference day ref_day[pos] (days since 1970-01-01):
 * pre[pos] += amount for days in [ref - pre_days, ref), post[pos] +=
 * amount for days in [ref, ref + post_days). Either output may be NULL.
 * Reads the log streaming (columns customer_id, timestamp or date, amount).
 * Returns an exit code (0 ok) after printing any error. */
int act_tx_windows(const char *path, const act_index *ix, const int64_t *ref_day,
                   int pre_days, int post_days, double *pre, double *post);

/* Day number of a YYYY-MM-DD or ISO timestamp text; -1 when unreadable. */
int64_t act_parse_day(const char *s);

#endif
