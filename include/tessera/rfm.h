/*
 * tessera/rfm.h - RFM scores (recency, frequency, monetary value, 1..5 by
 * quintiles) and named segments from a scheme of score ranges.
 *
 * Scores reproduce pandas exactly:
 *   pd.qcut(x.rank(method='first'), 5, labels=[1, 2, 3, 4, 5])
 * i.e. rank k = 1..n by ascending value, ties in order of appearance, and
 * score = max(1, ceil(5 (k - 1) / (n - 1))) for n >= 2 (checked against
 * pandas 1.5.3 for every n up to 1,500 and samples up to 300,000). For
 * n == 1 (where pandas raises "Bin edges must be unique") the score is 3.
 * R is scored on the days since the last purchase with the labels reversed
 * (R = 6 - score(gap): the smallest gap gets 5). The exact rules, the
 * built-in schemes and the scheme file format are in docs/rfm.md.
 *
 * Ownership: inputs are borrowed; output arrays are allocated by the caller;
 * a tsr_rfm_scheme is owned by the caller (tsr_rfm_scheme_free) and the
 * segment names it returns live as long as it. A scheme is immutable after
 * creation and may be shared between threads.
 */
#ifndef TESSERA_RFM_H
#define TESSERA_RFM_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ scores */

/* Quintile scores of x[0..n) into out[0..n) (caller-allocated), 1..5 as
 * pandas qcut(x.rank(method='first'), 5, labels=[1..5]); with reverse != 0
 * the labels are reversed (6 - score). Every x[i] must be finite
 * (TSR_EINVAL naming the index otherwise). n == 0 is valid (no output). */
TSR_API tsr_status tsr_rfm_quintiles(const double *x, size_t n, int reverse,
                                     int *out, tsr_error *err);

/* R, F and M scores of n customers:
 *   recency_gap  days (or any unit) since the last purchase, T - recency;
 *                a smaller gap scores higher (R reversed)
 *   frequency    repeat purchases
 *   monetary     the money measure (see docs/rfm.md)
 * OUT: r, f, m (caller-allocated, n ints each; any may be NULL together
 * with its input to skip that score). */
TSR_API tsr_status tsr_rfm_score(const double *recency_gap,
                                 const double *frequency,
                                 const double *monetary, size_t n, int *r,
                                 int *f, int *m, tsr_error *err);

/* FM score: (f + m) / 2 rounded half up, 1..5. */
TSR_API int tsr_rfm_fm(int f, int m);

/* The RFM cell "545" of scores 1..5 into out (4 bytes with the NUL);
 * returns out. */
TSR_API char *tsr_rfm_cell(int r, int f, int m, char out[4]);

/* ------------------------------------------------------------ schemes */

typedef struct tsr_rfm_scheme tsr_rfm_scheme;

#define TSR_RFM_MAX_RULES 1000
#define TSR_RFM_MAX_NAME 64 /* bytes of a segment name */

/* Built-in scheme "rf10" (10-segment R x F map) or "rfm11" (R vs FM with
 * lost). Unknown name: TSR_ENOTFOUND. *out owned by the caller. */
TSR_API tsr_status tsr_rfm_scheme_builtin(const char *name,
                                          tsr_rfm_scheme **out,
                                          tsr_error *err);

/* Reads a scheme file (CSV with header segment,r,f,m,fm; see docs/rfm.md).
 * Errors name file:line:column (TSR_EPARSE, TSR_ELIMIT, TSR_EIO).
 * *out owned by the caller. */
TSR_API tsr_status tsr_rfm_scheme_read(const char *path, tsr_rfm_scheme **out,
                                       tsr_error *err);
/* Same from memory (buf borrowed during the call); name used in errors. */
TSR_API tsr_status tsr_rfm_scheme_parse(const char *buf, size_t len,
                                        const char *name, tsr_rfm_scheme **out,
                                        tsr_error *err);
/* Accepts NULL. */
TSR_API void tsr_rfm_scheme_free(tsr_rfm_scheme *s);

/* "rf10", "rfm11" or the file name (borrowed). */
TSR_API const char *tsr_rfm_scheme_name(const tsr_rfm_scheme *s);
/* Number of distinct segments, in scheme order (order of first appearance
 * in the rules); "other" comes last when some score combination matches
 * no rule. */
TSR_API size_t tsr_rfm_scheme_nsegments(const tsr_rfm_scheme *s);
/* Name of segment i (borrowed; NULL when i is out of range). */
TSR_API const char *tsr_rfm_scheme_segment_name(const tsr_rfm_scheme *s,
                                                size_t i);

/* Index of the segment of scores (r, f, m), each 1..5 (first matching rule
 * wins); -1 when a score is outside 1..5. */
TSR_API int tsr_rfm_segment_index(const tsr_rfm_scheme *s, int r, int f,
                                  int m);
/* Name of the segment of (r, f, m) (borrowed), or NULL for bad scores. */
TSR_API const char *tsr_rfm_segment(const tsr_rfm_scheme *s, int r, int f,
                                    int m);

/* ------------------------------------------------------------ summary */

typedef struct tsr_rfm_segment_stats {
  const char *segment;  /* borrowed from the scheme */
  size_t customers;
  double share;         /* customers / n; 0 when n == 0 */
  double mean_r, mean_f, mean_m; /* mean scores; 0 for an empty segment */
  double revenue;       /* sum of revenue over the segment */
  double revenue_share; /* revenue / total revenue; 0 when the total is 0 */
} tsr_rfm_segment_stats;

/* Per-segment summary of n scored customers. revenue may be NULL (all 0).
 * OUT: out[0..tsr_rfm_scheme_nsegments(s)) (caller-allocated), in scheme
 * order, empty segments included. Scores must be 1..5 (TSR_EINVAL naming
 * the index otherwise). */
TSR_API tsr_status tsr_rfm_segment_summary(const tsr_rfm_scheme *s,
                                           const int *r, const int *f,
                                           const int *m,
                                           const double *revenue, size_t n,
                                           tsr_rfm_segment_stats *out,
                                           tsr_error *err);

#ifdef __cplusplus
}
#endif
#endif
