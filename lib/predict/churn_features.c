/*
 * churn_features.c - per-customer churn features at a cutoff day, built
 * from data on or before the cutoff only (predict_internal.h), the churn
 * label of the window after it, and the plain-words reasons.
 *
 * No-leakage rule: every loop below stops at the cutoff (entries are sorted
 * by day); the BG/NBD model is fitted on these truncated histories.
 * tests/unit/test_churn.c changes rows after the cutoff and checks that no
 * feature changes.
 */
#include "internal.h"
#include "predict_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const feature_names[TSR__NFEAT] = {
    "days_since_purchase", "days_since_first_purchase", "purchase_days", "purchase_days_90d",
    "purchase_days_365d", "purchase_trend_90d", "spend_90d", "mean_spend", "mean_gap_days",
    "overdue_ratio", "refunds", "btyd_p_alive", "btyd_expected_purchases", "age",
    "days_since_join", "income_band", "risk_score", "products_held", "products_opened_365d",
    "products_closed_365d", "contacts_90d", "complaints_90d", "days_since_complaint"};

const char *tsr__churn_feature_name(int j) {
  return j >= 0 && j < TSR__NFEAT ? feature_names[j] : "?";
}

tsr_status tsr__churn_features(const tsr__pdata *d, int32_t c, int32_t window, float *x,
                               uint8_t *active, tsr_btyd_model *mout, int *has_btyd,
                               tsr_error *err) {
  size_t n = d->n, na = 0;
  double *bx = tsr__malloc(n * sizeof *bx), *btx = tsr__malloc(n * sizeof *btx);
  double *bT = tsr__malloc(n * sizeof *bT), *pa = tsr__malloc(n * sizeof *pa);
  double *ex = tsr__malloc(n * sizeof *ex);
  size_t *map = tsr__malloc(n * sizeof *map);
  tsr_status st = TSR_OK;
  if (!bx || !btx || !bT || !pa || !ex || !map) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    float *f = x + i * TSR__NFEAT;
    for (int j = 0; j < TSR__NFEAT; j++) f[j] = NAN;
    size_t ne;
    const tsr_ledger_entry *e = tsr_ledger_entries(d->lg, i, &ne);
    int32_t first = TSR__NODAY, last = TSR__NODAY;
    double visits = 0, v90 = 0, v365 = 0, vprev90 = 0, s90 = 0, spend = 0, refunds = 0;
    for (size_t k = 0; k < ne && e[k].day <= c; k++) {
      refunds += e[k].nrefund;
      if (e[k].ntx == 0) continue;
      if (first == TSR__NODAY) first = e[k].day;
      last = e[k].day;
      visits += 1;
      spend += e[k].amount;
      int32_t age = c - e[k].day;
      if (age < 90) { v90 += 1; s90 += e[k].amount; }
      else if (age < 180) vprev90 += 1;
      if (age < 365) v365 += 1;
    }
    active[i] = first != TSR__NODAY;
    if (!active[i]) continue;
    f[TSR__F_RECENCY] = (float)(c - last);
    f[TSR__F_TENURE] = (float)(c - first);
    f[TSR__F_VISITS] = (float)visits;
    f[TSR__F_VISITS90] = (float)v90;
    f[TSR__F_VISITS365] = (float)v365;
    f[TSR__F_TREND] = (float)(v90 - vprev90);
    f[TSR__F_SPEND90] = (float)s90;
    f[TSR__F_MEANSPEND] = (float)(spend / visits);
    if (visits > 1) {
      double gap = (double)(last - first) / (visits - 1);
      f[TSR__F_GAP] = (float)gap;
      f[TSR__F_OVERDUE] = (float)((double)(c - last) / (gap > 1 ? gap : 1));
    }
    f[TSR__F_REFUNDS] = (float)refunds;
    /* BG/NBD inputs in weeks (lifetimes: freq D, multiplier 7) */
    /* first purchase on the cutoff day: T = 0 is outside the model's
     * data; such customers get the values of a new customer below */
    if (c > first) {
      bx[na] = visits - 1;
      btx[na] = (double)(last - first) / 7.0;
      bT[na] = (double)(c - first) / 7.0;
      map[na++] = i;
    }

    if (d->has_customers) {
      if (d->birth[i] != TSR__NODAY && d->birth[i] <= c)
        f[TSR__F_AGE] = (float)((double)(c - d->birth[i]) / 365.25);
      if (d->join[i] != TSR__NODAY && d->join[i] <= c) f[TSR__F_MEMBER] = (float)(c - d->join[i]);
      f[TSR__F_INCOME] = d->income[i];
      f[TSR__F_RISK] = d->risk[i];
    }
    if (d->has_products) {
      int held[TSR__MAX_PRODUCTS];
      memset(held, 0, sizeof(int) * d->nprod);
      double opens = 0, closes = 0;
      for (size_t k = d->pev_off[i]; k < d->pev_off[i + 1] && d->pev[k].day <= c; k++) {
        const tsr__pevent *p = &d->pev[k];
        held[p->product] = p->open;
        if (c - p->day < 365) {
          if (p->open) opens += 1; else closes += 1;
        }
      }
      double h = 0;
      for (size_t k = 0; k < d->nprod; k++) h += held[k];
      f[TSR__F_HELD] = (float)h;
      f[TSR__F_OPENS365] = (float)opens;
      f[TSR__F_CLOSES365] = (float)closes;
    }
    if (d->has_interactions) {
      double contacts = 0, complaints = 0;
      int32_t lastc = TSR__NODAY;
      for (size_t k = d->iev_off[i]; k < d->iev_off[i + 1] && d->iev[k].day <= c; k++) {
        const tsr__ievent *v = &d->iev[k];
        if (c - v->day < 90) {
          contacts += 1;
          complaints += v->complaint;
        }
        if (v->complaint) lastc = v->day;
      }
      f[TSR__F_CONTACTS90] = (float)contacts;
      f[TSR__F_COMPLAINTS90] = (float)complaints;
      if (lastc != TSR__NODAY) f[TSR__F_SINCE_COMPLAINT] = (float)(c - lastc);
    }
  }
  /* BG/NBD at the cutoff on the active customers */
  *has_btyd = 0;
  if (na >= 10) {
    tsr_btyd_data bd = {na, bx, btx, bT, NULL, NULL};
    tsr_btyd_fit_opts fo;
    tsr_btyd_fit_opts_init(&fo);
    fo.compute_se = 0;
    tsr_btyd_model m;
    tsr_error ferr;
    tsr_status fs = tsr_btyd_fit(TSR_BTYD_BGNBD, &bd, &fo, &m, &ferr);
    /* a fit that did not pass the gradient test still gives usable scores */
    if (fs == TSR_OK || fs == TSR_ECONVERGE) {
      if (tsr_btyd_predict(&m, &bd, (double)window / 7.0, 0.95, ex, NULL, NULL, pa, &ferr) ==
          TSR_OK) {
        *has_btyd = 1;
        if (mout) *mout = m;
        for (size_t k = 0; k < na; k++) {
          x[map[k] * TSR__NFEAT + TSR__F_PALIVE] = (float)pa[k];
          x[map[k] * TSR__NFEAT + TSR__F_EXPECTED] = (float)ex[k];
        }
        double enew = NAN;
        tsr_btyd_expected_new(&m, (double)window / 7.0, &enew, NULL);
        for (size_t i = 0; i < n; i++)
          if (active[i] && x[i * TSR__NFEAT + TSR__F_TENURE] == 0) {
            x[i * TSR__NFEAT + TSR__F_PALIVE] = 1.0f;
            x[i * TSR__NFEAT + TSR__F_EXPECTED] = (float)enew;
          }
      }
    }
  }
done:
  tsr__free(bx);
  tsr__free(btx);
  tsr__free(bT);
  tsr__free(pa);
  tsr__free(ex);
  tsr__free(map);
  return st;
}

uint8_t tsr__churn_label(const tsr__pdata *d, size_t i, int32_t c, int32_t window) {
  size_t ne;
  const tsr_ledger_entry *e = tsr_ledger_entries(d->lg, i, &ne);
  for (size_t k = 0; k < ne; k++)
    if (e[k].day > c && e[k].day <= c + window && e[k].ntx > 0) return 0;
  if (d->has_products)
    for (size_t k = d->pev_off[i]; k < d->pev_off[i + 1]; k++)
      if (d->pev[k].day > c && d->pev[k].day <= c + window) return 0;
  return 1;
}

static const char *plural(double v, const char *one, const char *many) {
  return fabs(v - 1) < 1e-9 ? one : many;
}

char *tsr__churn_reason(int j, float fv, char *buf, size_t cap) {
  double v = fv;
  if (isnan(v) && j != TSR__F_GAP && j != TSR__F_OVERDUE && j != TSR__F_SINCE_COMPLAINT) {
    snprintf(buf, cap, "%s unknown", tsr__churn_feature_name(j));
    return buf;
  }
  switch (j) {
  case TSR__F_RECENCY: {
    double w = floor(v / 7 + 0.5);
    if (v < 14) snprintf(buf, cap, "last purchase %.0f %s ago", v, plural(v, "day", "days"));
    else snprintf(buf, cap, "no purchase for %.0f weeks", w);
    break;
  }
  case TSR__F_TENURE:
    snprintf(buf, cap, "first purchase %.0f months ago", floor(v / 30.44 + 0.5));
    break;
  case TSR__F_VISITS:
    snprintf(buf, cap, "%.0f purchase %s in all", v, plural(v, "day", "days"));
    break;
  case TSR__F_VISITS90:
    snprintf(buf, cap, "%.0f purchase %s in the last 90 days", v, plural(v, "day", "days"));
    break;
  case TSR__F_VISITS365:
    snprintf(buf, cap, "%.0f purchase %s in the last year", v, plural(v, "day", "days"));
    break;
  case TSR__F_TREND:
    if (v < 0) snprintf(buf, cap, "%.0f fewer purchase days than in the previous 90 days", -v);
    else if (v > 0) snprintf(buf, cap, "%.0f more purchase days than in the previous 90 days", v);
    else snprintf(buf, cap, "purchases flat over the last 180 days");
    break;
  case TSR__F_SPEND90:
    snprintf(buf, cap, "spent %.2f in the last 90 days", v);
    break;
  case TSR__F_MEANSPEND:
    snprintf(buf, cap, "spends %.2f per purchase day on average", v);
    break;
  case TSR__F_GAP:
    if (isnan(v)) snprintf(buf, cap, "only one purchase day");
    else snprintf(buf, cap, "buys every %.0f days on average", v);
    break;
  case TSR__F_OVERDUE:
    if (isnan(v)) snprintf(buf, cap, "only one purchase day");
    else snprintf(buf, cap, "%.1f times the usual gap since the last purchase", v);
    break;
  case TSR__F_REFUNDS:
    snprintf(buf, cap, "%.0f %s", v, plural(v, "refund", "refunds"));
    break;
  case TSR__F_PALIVE:
    snprintf(buf, cap, "BG/NBD P(alive) %.0f %%", 100 * v);
    break;
  case TSR__F_EXPECTED:
    snprintf(buf, cap, "%.1f purchases expected by BG/NBD in the window", v);
    break;
  case TSR__F_AGE:
    snprintf(buf, cap, "aged %.0f", floor(v));
    break;
  case TSR__F_MEMBER:
    snprintf(buf, cap, "customer for %.0f months", floor(v / 30.44 + 0.5));
    break;
  case TSR__F_INCOME:
    snprintf(buf, cap, "income band %g", v);
    break;
  case TSR__F_RISK:
    snprintf(buf, cap, "risk score %.0f", v);
    break;
  case TSR__F_HELD:
    snprintf(buf, cap, "holds %.0f %s", v, plural(v, "product", "products"));
    break;
  case TSR__F_OPENS365:
    snprintf(buf, cap, "opened %.0f %s in the last year", v, plural(v, "product", "products"));
    break;
  case TSR__F_CLOSES365:
    snprintf(buf, cap, "closed %.0f %s in the last year", v, plural(v, "product", "products"));
    break;
  case TSR__F_CONTACTS90:
    snprintf(buf, cap, "%.0f service %s in 90 days", v, plural(v, "contact", "contacts"));
    break;
  case TSR__F_COMPLAINTS90:
    snprintf(buf, cap, "%.0f %s in 90 days", v, plural(v, "complaint", "complaints"));
    break;
  case TSR__F_SINCE_COMPLAINT:
    if (isnan(v)) snprintf(buf, cap, "no complaint on record");
    else snprintf(buf, cap, "complained %.0f days ago", v);
    break;
  default:
    snprintf(buf, cap, "feature %d", j);
  }
  return buf;
}
