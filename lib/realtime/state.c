/*
 * state.c - the per-customer incremental state of the real-time path
 * (tessera/realtime.h): O(1) per event, evaluated into the summary row of
 * lib/summary.c. commit() is the body of summary.c's walk over one ledger
 * day entry (no calibration split), applied in the same order with the
 * same floating-point operations, so the evaluated row is bit-identical to
 * the batch row for events applied in non-decreasing day order.
 */
#include "internal.h"
#include "tessera/datetime.h"
#include "tessera/realtime.h"

#include <math.h>
#include <string.h>

void tsr_rt_opts_init(tsr_rt_opts *o) {
  memset(o, 0, sizeof *o);
  o->freq = TSR_FREQ_D;
  o->multiplier = 7;
  o->refunds = TSR_REFUNDS_EXCLUDE;
}

void tsr_rt_state_init(tsr_rt_state *s) {
  memset(s, 0, sizeof *s);
  s->first_day = s->last_day = s->open_day = TSR_RT_NODAY;
  s->first_p = s->last_p = 0;
  s->segment = -1;
  s->cluster = -1;
  s->last_contact_day = TSR_RT_NODAY;
}

/* One day entry into the committed sums (summary.c's walk). */
static void commit(tsr_rt_state *s, const tsr_rt_opts *o, int32_t day, double amount,
                   double refund, uint32_t ntx, uint32_t nrefund) {
  const int net = o->refunds == TSR_REFUNDS_NET;
  int64_t p = tsr__period_of((int)o->freq, day);
  double amt = amount + (net ? refund : 0);
  if (ntx || net) s->revenue += amt;
  s->n_refunds += nrefund;
  s->refund_amount += refund;
  if (!ntx) {
    if (net && s->nper > 0) {
      s->total_amt += refund;
      if (s->nper == 1) s->first_amt += refund;
    }
    return;
  }
  s->n_tx += ntx;
  s->active_days++;
  if (s->first_day == TSR_RT_NODAY) s->first_day = day;
  s->last_day = day;
  if (s->nper == 0 || p != s->last_p) {
    if (s->nper == 0) s->first_p = (int32_t)p;
    s->nper++;
  }
  s->total_amt += amt;
  if (s->nper == 1) s->first_amt += amt;
  s->last_p = (int32_t)p;
}

tsr_status tsr_rt_apply(tsr_rt_state *s, const tsr_rt_opts *o, int64_t day, double amount) {
  if (!isfinite(amount) || day < TSR_DATE_MIN_DAY || day > TSR_DATE_MAX_DAY) return TSR_EINVAL;
  if (s->open_day != TSR_RT_NODAY) {
    if (day < s->open_day) return TSR_ERANGE;
    if (day > s->open_day) {
      commit(s, o, s->open_day, s->o_amount, s->o_refund, s->o_ntx, s->o_nrefund);
      s->o_amount = s->o_refund = 0;
      s->o_ntx = s->o_nrefund = 0;
    }
  }
  s->open_day = (int32_t)day;
  if (amount >= 0) {
    s->o_amount += amount;
    s->o_ntx++;
  } else {
    s->o_refund += amount;
    s->o_nrefund++;
  }
  return TSR_OK;
}

tsr_status tsr_rt_summary(const tsr_rt_state *s0, const tsr_rt_opts *o, int64_t at,
                          tsr_summary_row *out) {
  memset(out, 0, sizeof *out);
  if (s0->open_day != TSR_RT_NODAY && at < s0->open_day) return TSR_ERANGE;
  tsr_rt_state s = *s0;
  if (s.open_day != TSR_RT_NODAY)
    commit(&s, o, s.open_day, s.o_amount, s.o_refund, s.o_ntx, s.o_nrefund);
  out->revenue = s.revenue;
  out->n_transactions = s.n_tx;
  out->active_days = s.active_days;
  out->n_refunds = s.n_refunds;
  out->refund_amount = s.refund_amount;
  if (s.nper == 0) return TSR_ENOTFOUND;
  const double mult = o->multiplier;
  const int64_t p_at = tsr__period_of((int)o->freq, at);
  out->frequency = (double)(s.nper - 1);
  out->recency = (double)((int64_t)s.last_p - s.first_p) / mult;
  out->T = (double)(p_at - s.first_p) / mult;
  out->monetary_value = s.nper > 1 ? (s.total_amt - s.first_amt) / (double)(s.nper - 1) : 0.0;
  out->first_day = s.first_day;
  out->last_day = s.last_day;
  return TSR_OK;
}

int tsr_rt_id_cmp(const char *a, const char *b) {
  return tsr__id_cmp(a, strlen(a), b, strlen(b));
}
