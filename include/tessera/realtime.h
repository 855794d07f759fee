/*
 * tessera/realtime.h - the real-time path's pure core (issue 14): a compact
 * per-customer state updated in O(1) per event, evaluated into exactly the
 * summary row `tessera summary` computes, and re-scored with the promoted
 * models (BTYD expected purchases and P(alive), Gamma-Gamma CLV, RFM cell
 * by stored cut points, cluster by stored centroids) into a segment.
 *
 * State semantics (docs/realtime.md). Events of one customer are applied
 * in non-decreasing day order. The state keeps the sums of the days before
 * the latest event day ("committed", exactly the walk of lib summary.c over
 * the ledger's day entries) plus the latest day's entry still open (purchase
 * and refund sums and counts of that day, in arrival order). Same-day events
 * in any order therefore give the ledger's entry for that day; an event of
 * an earlier day than the open one is "late": tsr_rt_apply refuses it with
 * TSR_ERANGE and the caller rebuilds the state from that customer's stored
 * events sorted by day (tsr_rt_state_init + tsr_rt_apply each).
 *
 * Evaluation at a day `at` (tsr_rt_summary): the open entry is committed on
 * a copy and frequency / recency / T / monetary value / revenue / counts
 * are those of `tessera summary --end at` over the same events. T and the
 * recency gap (T - recency) grow with `at` while no event arrives; at must
 * not be before the customer's latest event day (TSR_ERANGE). No
 * calibration/holdout split: the live profile is on the whole history.
 *
 * Ownership: states are plain values (no pointers) the caller stores where
 * it likes (an array, a store row); a scorer is immutable once built and may
 * be shared between threads.
 */
#ifndef TESSERA_REALTIME_H
#define TESSERA_REALTIME_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/btyd.h"
#include "tessera/cluster.h"
#include "tessera/error.h"
#include "tessera/rfm.h"
#include "tessera/summary.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TSR_RT_NODAY INT32_MIN

/* Summary semantics of the state (those of the reference analysis). */
typedef struct tsr_rt_opts {
  tsr_freq freq;       /* period of same-day/period merging (default D) */
  double multiplier;   /* periods per output unit (default 7 = weeks on D) */
  tsr_refunds refunds; /* refunds excluded (default) or netted */
} tsr_rt_opts;

TSR_API void tsr_rt_opts_init(tsr_rt_opts *o);

/* One customer's incremental state: 120 bytes, no pointers. */
typedef struct tsr_rt_state {
  /* committed: every day before open_day */
  double first_amt;      /* spend of the first purchase period */
  double total_amt;      /* spend of all purchase periods */
  double revenue;        /* total spend (net of refunds with TSR_REFUNDS_NET) */
  double refund_amount;  /* sum of refunds (<= 0), open day included */
  /* the open entry: the latest event day, not yet committed */
  double o_amount, o_refund;
  int32_t first_p, last_p; /* first / last purchase period */
  int32_t first_day, last_day; /* committed first / last purchase day */
  int32_t open_day;      /* TSR_RT_NODAY = no event yet */
  uint32_t nper;         /* purchase periods */
  uint32_t n_tx;         /* purchase rows */
  uint32_t active_days;  /* days with a purchase */
  uint32_t n_refunds;    /* refund rows, open day included */
  uint32_t o_ntx, o_nrefund;
  uint64_t products_held; /* product set: bit i = product i of the table's
                            registry (the first 64 distinct names) held */
  uint32_t n_products;   /* product events (opened or closed) */
  uint32_t n_interactions; /* interaction events */
  int32_t last_contact_day; /* latest interaction day (TSR_RT_NODAY none) */
  int16_t segment;       /* last published RFM segment index (-1 none) */
  int16_t cluster;       /* last published cluster (-1 none) */
} tsr_rt_state;

TSR_API void tsr_rt_state_init(tsr_rt_state *s);

/* Applies one event of day `day` (days since 1970-01-01) and amount
 * (negative = refund). TSR_ERANGE when day < s->open_day (a late event:
 * rebuild, see above); TSR_EINVAL for a non-finite amount or a day outside
 * 1970..2100. O(1). */
TSR_API tsr_status tsr_rt_apply(tsr_rt_state *s, const tsr_rt_opts *o, int64_t day,
                                double amount);

/* Summary row of the state at day `at` (the row's customer_id is left
 * NULL; first_day/last_day are purchase days). TSR_ENOTFOUND when the
 * customer has no purchase (only refunds, or nothing); TSR_ERANGE when at
 * is before the latest event day. */
TSR_API tsr_status tsr_rt_summary(const tsr_rt_state *s, const tsr_rt_opts *o, int64_t at,
                                  tsr_summary_row *out);

/* ------------------------------------------------------------ scoring */

typedef struct tsr_rt_scorer tsr_rt_scorer;

/* What a scorer is built from: the reference analysis (its summary rows
 * give the RFM cut points, its fitted models the scores). Borrowed during
 * tsr_rt_scorer_build; the scorer copies what it keeps. */
typedef struct tsr_rt_spec {
  tsr_rt_opts opts;
  const tsr_btyd_model *model;  /* BG/NBD, MBG/NBD or Pareto/NBD; NULL = none */
  const tsr_btyd_model *spend;  /* Gamma-Gamma; NULL = no CLV */
  double horizon_periods;       /* expected purchases / CLV horizon, periods */
  double discount;              /* per month (CLV), analyze's --discount */
  double level;                 /* interval level (0.95) */
  double churn_threshold;       /* P(alive) below = churned (0.5) */
  const char *scheme;           /* "rf10", "rfm11" or a scheme file */
  const tsr_cluster_model *cluster; /* NULL = no clusters */
  /* reference population for the RFM cut points: n customers in the
   * ledger's customer order (ids sorted as tsr_ledger_finish sorts them) */
  size_t n;
  const char *const *ids;
  const double *gap, *frequency, *monetary; /* T - recency, frequency, revenue */
} tsr_rt_spec;

/* Builds a scorer. *out owned by the caller (tsr_rt_scorer_free). */
TSR_API tsr_status tsr_rt_scorer_build(const tsr_rt_spec *spec, tsr_rt_scorer **out,
                                       tsr_error *err);
TSR_API void tsr_rt_scorer_free(tsr_rt_scorer *sc);
TSR_API const tsr_rt_opts *tsr_rt_scorer_opts(const tsr_rt_scorer *sc);
TSR_API const tsr_rfm_scheme *tsr_rt_scorer_scheme(const tsr_rt_scorer *sc);
/* The scorer as JSON (models, cut points with their tie-break ids, options)
 * and back; *json freed with free(). */
TSR_API tsr_status tsr_rt_scorer_to_json(const tsr_rt_scorer *sc, char **json, tsr_error *err);
TSR_API tsr_status tsr_rt_scorer_from_json(const char *json, size_t len, tsr_rt_scorer **out,
                                           tsr_error *err);

/* Scores of one customer. */
typedef struct tsr_rt_scores {
  tsr_summary_row row;   /* the summary at `at` (customer_id as passed) */
  int64_t at;            /* evaluation day */
  int r, f, m;           /* RFM scores 1..5 */
  char cell[4];          /* "545" */
  int segment;           /* index in the scheme */
  const char *segment_name; /* borrowed from the scorer */
  double expected;       /* expected purchases over the horizon (NAN: no model) */
  double p_alive;        /* NAN: no model */
  double clv;            /* NAN: no spend model */
  int churned;           /* p_alive < churn threshold (0 without model) */
  int cluster;           /* -1: no cluster model, or features outside its
                            transform (T = 0 under a log transform) */
} tsr_rt_scores;

/* Evaluates state s of customer `id` at `at` and scores it. The RFM score
 * of a value v is 1 + the number of the four stored cut points (value, id)
 * that (v, id) exceeds in (value, customer order) order: exactly the batch
 * quintiles (pandas rank method 'first') for the reference customers with
 * their reference values. Errors as tsr_rt_summary. */
TSR_API tsr_status tsr_rt_score(const tsr_rt_scorer *sc, const char *id, const tsr_rt_state *s,
                                int64_t at, tsr_rt_scores *out, tsr_error *err);

/* The customer order of tsr_ledger_finish: digit-only ids numerically
 * (leading zeros ignored, then shorter first), others bytewise. */
TSR_API int tsr_rt_id_cmp(const char *a, const char *b);

/* ------------------------------------------------------------ live table */

/* Customer id -> state, open addressing; ids kept in one arena. Not
 * thread-safe: one writer (or external locking). */
typedef struct tsr_rt_table tsr_rt_table;

TSR_API tsr_status tsr_rt_table_new(tsr_rt_table **out, tsr_error *err);
TSR_API void tsr_rt_table_free(tsr_rt_table *t);
/* The state of id, created (initialised) when absent and create != 0; NULL
 * when absent (create == 0) or out of memory. The pointer is valid until
 * the next insertion. */
TSR_API tsr_rt_state *tsr_rt_table_get(tsr_rt_table *t, const char *id, int create);
TSR_API size_t tsr_rt_table_size(const tsr_rt_table *t);
/* Customer i (0..size-1, insertion order) and its state. */
TSR_API const char *tsr_rt_table_id(const tsr_rt_table *t, size_t i);
TSR_API tsr_rt_state *tsr_rt_table_state(tsr_rt_table *t, size_t i);
/* The product registry of the table: the bit of a product name (added
 * when new; the first 64 distinct names get bits 0..63), -1 when the
 * registry is full. tsr_rt_table_product_name(t, bit) is the name. */
TSR_API int tsr_rt_table_product_bit(tsr_rt_table *t, const char *name);
TSR_API const char *tsr_rt_table_product_name(const tsr_rt_table *t, int bit);
/* Bytes held by the table (states, ids, hash slots). */
TSR_API size_t tsr_rt_table_bytes(const tsr_rt_table *t);

#ifdef __cplusplus
}
#endif
#endif
