/*
 * tessera/store_act.h - decisions and rewards of the offer bandits in the
 * store (table act_decisions), on SQLite and PostgreSQL.
 *
 * The table is created by tsr_act_store_init (CREATE TABLE IF NOT EXISTS,
 * idempotent; kept out of the numbered migrations so that it can be
 * folded into one later without renumbering). Same conventions as
 * tessera/store.h: tsr_status return, tsr_error *err last, borrowed inputs,
 * callbacks get borrowed rows; one thread per handle.
 *
 * A reward is recorded at most once: tsr_act_rewards_write updates only a
 * decision whose reward is still NULL, so a repeated reward never counts
 * twice even across server restarts.
 */
#ifndef TESSERA_STORE_ACT_H
#define TESSERA_STORE_ACT_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/error.h"
#include "tessera/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsr_act_decision {
  const char *id;          /* unique decision id */
  int64_t ts;              /* ms */
  const char *customer_id;
  const char *offer_id;
  const char *policy;      /* "thompson", ... */
  const char *segment;     /* or NULL */
  double propensity;       /* (0, 1] */
  const char *features;    /* context as text "x0;x1;..." or NULL */
  double reward;           /* NaN = no reward yet */
  int64_t rewarded_at;     /* ms, 0 = none */
} tsr_act_decision;

/* Creates the act tables when missing. */
TSR_API tsr_status tsr_act_store_init(tsr_store *s, tsr_error *err);

/* Inserts n decisions (reward ignored) and then applies nr rewards
 * (ids[i], rewards[i], at ts[i]) in one transaction. OUT (may be NULL):
 * *applied = rewards stored (a reward for an unknown decision or one that
 * already has a reward is skipped, not an error here). */
TSR_API tsr_status tsr_act_write(tsr_store *s, const tsr_act_decision *rows, size_t n,
                                 const char *const *ids, const double *rewards,
                                 const int64_t *ts, size_t nr, int64_t *applied,
                                 tsr_error *err);

typedef int (*tsr_act_decision_cb)(void *ctx, const tsr_act_decision *d);
/* Every decision in time order (ts, then insertion). */
TSR_API tsr_status tsr_act_decisions_list(tsr_store *s, tsr_act_decision_cb cb, void *ctx,
                                          tsr_error *err);
/* The decision with this id, passed (borrowed) to cb; TSR_ENOTFOUND
 * (no message) when there is none. */
TSR_API tsr_status tsr_act_decision_get(tsr_store *s, const char *id, tsr_act_decision_cb cb,
                                        void *ctx, tsr_error *err);
/* OUT: *n decisions, *nr of them with a reward. */
TSR_API tsr_status tsr_act_decisions_count(tsr_store *s, int64_t *n, int64_t *nr,
                                           tsr_error *err);

#ifdef __cplusplus
}
#endif
#endif
