/*
 * analyze_exclude.c - `analyze --exclude-anomalies` on a bundle (issue 12,
 * docs/profiles.md "Wiring"): the anomaly detector (tessera/anomaly.h)
 * scores the bundle's transactions.csv and every flagged transaction
 * (customer, UTC day, amount) is taken out of the finished ledger before
 * the re-keying to resolved ids, so that RFM, BTYD and CLV never see it.
 * A flagged row the ingest did not accept (rejected, duplicate id) has no
 * ledger entry and is not counted. Application layer; the ledger is rebuilt
 * through ledger_feed.h.
 */
#include "internal.h"
#include "ledger_feed.h"
#include "tessera/analyze.h"
#include "tessera/anomaly.h"

#include <stdlib.h>
#include <string.h>

tsr_status tsr__analyze_exclude(const tsr_analyze_opts *o, tsr_analyze_result *res,
                                const tsr_ledger *keep, tsr_error *err);

typedef struct flag_tx {
  size_t k;      /* ledger customer */
  int64_t day;   /* days since 1970-01-01 (UTC) */
  double amount;
} flag_tx;

static int cmp_flag(const void *a, const void *b) {
  const flag_tx *x = a, *y = b;
  if (x->k != y->k) return x->k < y->k ? -1 : 1;
  return (x->day > y->day) - (x->day < y->day);
}

/* Rebuilds res->ledger without the flagged transactions fl[0..nf) (sorted
 * by customer, day); *removed = those that matched a ledger entry. */
static tsr_status rebuild(tsr_analyze_result *res, const tsr_ledger *keep, const flag_tx *fl,
                          size_t nf, int64_t *removed, tsr_error *err) {
  const tsr_ledger *lg = res->ledger;
  tsr_ledger *nlg = NULL;
  tsr_ingest_stats fs;
  tsr__lfeed f;
  tsr_status st = tsr_ledger_new(&nlg, err);
  if (st == TSR_OK) st = tsr__lfeed_init(&f, nlg, "transactions", NULL, &fs, err);
  const size_t mx = tsr__ledger_max_entries(lg);
  tsr_ledger_entry *eb = tsr__malloc((mx ? mx : 1) * sizeof *eb); /* a customer's entries */
  if (st == TSR_OK && !eb) st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  size_t q = 0;
  for (size_t k = 0; st == TSR_OK && k < tsr_ledger_ncustomers(lg); k++) {
    const char *id = tsr_ledger_customer(lg, k);
    size_t n;
    const tsr_ledger_entry *e = tsr__ledger_decode(lg, k, eb, &n);
    for (size_t j = 0; st == TSR_OK && j < n; j++) {
      int64_t ntx = e[j].ntx, nref = e[j].nrefund;
      double amt = e[j].amount, ref = e[j].refund;
      while (q < nf && (fl[q].k < k || (fl[q].k == k && fl[q].day < e[j].day))) q++;
      for (; q < nf && fl[q].k == k && fl[q].day == e[j].day; q++) {
        if (fl[q].amount >= 0 && ntx > 0) {
          ntx--;
          amt = ntx && amt > fl[q].amount ? amt - fl[q].amount : 0;
        } else if (fl[q].amount < 0 && nref > 0) {
          nref--;
          ref = nref && ref < fl[q].amount ? ref - fl[q].amount : 0;
        } else {
          continue;
        }
        (*removed)++;
      }
      if (ntx == 0 && nref == 0) continue;
      char a[32], b[32];
      st = tsr__lfeed_day(&f, id, strlen(id), e[j].day, ntx, tsr__fmt_double(amt, a), nref,
                          tsr__fmt_double(ref, b), err);
    }
  }
  tsr__free(eb);
  st = tsr__lfeed_replace(&f, nlg, &res->ledger, keep, st, err);
  return st;
}

/* Runs the detector on the bundle's transactions and removes the flagged
 * ones from res->ledger (finished, not yet re-keyed); sets
 * res->dq_anomalies_excluded. A file the detector cannot read excludes
 * nothing (0; the profile step reports the anomalies as not computed).
 * The ledger replaced is freed unless it is keep (the models' ledger,
 * app/analyze_predict.c). */
tsr_status tsr__analyze_exclude(const tsr_analyze_opts *o, tsr_analyze_result *res,
                                const tsr_ledger *keep, tsr_error *err) {
  res->dq_anomalies_excluded = 0;
  const char *path = o->bundle ? tsr_bundle_path(o->bundle, TSR_BT_TRANSACTIONS) : NULL;
  if (!path) return TSR_OK;
  tsr_anomaly_detector *d;
  tsr_status st = tsr_anomaly_new(NULL, &d, err);
  if (st != TSR_OK) return st;
  tsr_anomaly_read_opts ao;
  tsr_anomaly_read_opts_init(&ao);
  if (o->bundle_opts) ao.csv = o->bundle_opts->csv;
  int64_t rejected = 0;
  tsr_error aerr;
  st = tsr_anomaly_read_csv(d, path, &ao, &rejected, &aerr);
  if (st == TSR_OK) st = tsr_anomaly_run(d, &aerr);
  if (st != TSR_OK) {
    tsr_anomaly_free(d);
    if (st == TSR_ENOMEM || st == TSR_EIO) {
      if (err) *err = aerr;
      return st;
    }
    return TSR_OK;
  }
  size_t nflag = tsr_anomaly_nflagged(d), nf = 0;
  flag_tx *fl = tsr__malloc((nflag ? nflag : 1) * sizeof *fl);
  if (!fl) {
    tsr_anomaly_free(d);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  for (size_t i = 0; i < tsr_anomaly_count(d) && nf < nflag; i++) {
    if (!tsr_anomaly_flagged(d, i)) continue;
    ptrdiff_t k = tsr_ledger_find(res->ledger, tsr_anomaly_customer(d, i));
    if (k < 0) continue;
    int64_t t = tsr_anomaly_time(d, i);
    fl[nf++] = (flag_tx){(size_t)k, t >= 0 ? t / 86400 : -((-t + 86399) / 86400),
                         tsr_anomaly_amount(d, i)};
  }
  tsr_anomaly_free(d);
  if (nf) {
    qsort(fl, nf, sizeof *fl, cmp_flag);
    st = rebuild(res, keep, fl, nf, &res->dq_anomalies_excluded, err);
  }
  tsr__free(fl);
  return st;
}
