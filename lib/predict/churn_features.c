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

static const char *const feature_names[TSR__NFIXED] = {
    "days_since_purchase", "days_since_first_purchase", "purchase_days", "purchase_days_90d",
    "purchase_days_365d", "purchase_trend_90d", "spend_90d", "mean_spend", "mean_gap_days",
    "overdue_ratio", "refunds", "btyd_p_alive", "btyd_expected_purchases", "age",
    "days_since_join", "income_band", "risk_score", "products_held", "products_opened_365d",
    "products_closed_365d", "contacts_90d", "complaints_90d", "days_since_complaint",
    "contacts", "days_since_contact", "sentiment_mean", "sentiment_last", "sentiment_min_90d",
    "product_events_per_year", "days_since_product_event", "btyd_p_no_purchase"};

#define HELD_PREFIX "days_held_"

const char *tsr__churn_feature_name(int j) {
  return j >= 0 && j < TSR__NFIXED ? feature_names[j] : "?";
}

const char *tsr__churn_feature_label(const tsr__pdata *d, int j, char *buf, size_t cap) {
  if (j < TSR__NFIXED) return tsr__churn_feature_name(j);
  size_t k = (size_t)(j - TSR__NFIXED);
  if (cap) buf[0] = '\0';
  if (k < d->nslot) snprintf(buf, cap, HELD_PREFIX "%s", d->products[d->slot[k]]);
  return buf;
}

size_t tsr__churn_nfeat(const tsr__pdata *d) { return TSR__NFIXED + d->nslot; }

tsr_status tsr__churn_features(const tsr__pdata *d, int32_t c, int32_t window, float *x,
                               uint8_t *active, tsr_btyd_model *mout, int *has_btyd,
                               tsr_error *err) {
  size_t n = d->n, na = 0;
  double *bx = tsr__malloc(n * sizeof *bx), *btx = tsr__malloc(n * sizeof *btx);
  double *bT = tsr__malloc(n * sizeof *bT), *pa = tsr__malloc(n * sizeof *pa);
  double *ex = tsr__malloc(n * sizeof *ex);
  size_t *map = tsr__malloc(n * sizeof *map);
  const size_t mx = tsr__ledger_max_entries(d->lg);
  tsr_ledger_entry *eb = tsr__malloc((mx ? mx : 1) * sizeof *eb); /* a customer's entries */
  tsr_status st = TSR_OK;
  if (!bx || !btx || !bT || !pa || !ex || !map || !eb) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    float *f = x + i * TSR__NFEAT;
    for (int j = 0; j < TSR__NFEAT; j++) f[j] = NAN;
    size_t ne;
    const tsr_ledger_entry *e = tsr__ledger_decode(d->lg, i, eb, &ne);
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
      int32_t since[TSR__MAX_PRODUCTS];
      memset(since, 0, sizeof(int32_t) * d->nprod);
      double opens = 0, closes = 0, nev = 0;
      int32_t pfirst = TSR__NODAY, plast = TSR__NODAY;
      for (size_t k = d->pev_off[i]; k < d->pev_off[i + 1] && d->pev[k].day <= c; k++) {
        const tsr__pevent *p = &d->pev[k];
        if (p->open && !held[p->product]) since[p->product] = p->day;
        held[p->product] = p->open;
        if (pfirst == TSR__NODAY) pfirst = p->day;
        plast = p->day;
        nev += 1;
        if (c - p->day < 365) {
          if (p->open) opens += 1; else closes += 1;
        }
      }
      double h = 0;
      for (size_t k = 0; k < d->nprod; k++) h += held[k];
      f[TSR__F_HELD] = (float)h;
      f[TSR__F_OPENS365] = (float)opens;
      f[TSR__F_CLOSES365] = (float)closes;
      if (plast != TSR__NODAY) {
        /* at least half a year of history, so one early event is no rate of 700 */
        double years = (double)(c - pfirst) / 365.25;
        f[TSR__F_PEV_RATE] = (float)(nev / (years > 0.5 ? years : 0.5));
        f[TSR__F_SINCE_PEVENT] = (float)(c - plast);
      }
      for (size_t k = 0; k < d->nslot; k++)
        if (held[d->slot[k]]) f[TSR__F_HELD_DAYS0 + k] = (float)(c - since[d->slot[k]]);
    }
    if (d->has_interactions) {
      double contacts = 0, complaints = 0, all = 0, ssum = 0, sn = 0;
      float slast = NAN, smin90 = NAN;
      int32_t lastc = TSR__NODAY, lastv = TSR__NODAY;
      for (size_t k = d->iev_off[i]; k < d->iev_off[i + 1] && d->iev[k].day <= c; k++) {
        const tsr__ievent *v = &d->iev[k];
        if (c - v->day < 90) {
          contacts += 1;
          complaints += v->complaint;
          if (!isnan(v->sentiment) && !(v->sentiment >= smin90)) smin90 = v->sentiment;
        }
        if (v->complaint) lastc = v->day;
        all += 1;
        lastv = v->day;
        if (!isnan(v->sentiment)) {
          ssum += v->sentiment;
          sn += 1;
          slast = v->sentiment;
        }
      }
      f[TSR__F_CONTACTS90] = (float)contacts;
      f[TSR__F_COMPLAINTS90] = (float)complaints;
      if (lastc != TSR__NODAY) f[TSR__F_SINCE_COMPLAINT] = (float)(c - lastc);
      f[TSR__F_CONTACTS] = (float)all;
      if (lastv != TSR__NODAY) f[TSR__F_SINCE_CONTACT] = (float)(c - lastv);
      if (sn > 0) f[TSR__F_SENT_MEAN] = (float)(ssum / sn);
      f[TSR__F_SENT_LAST] = slast;
      f[TSR__F_SENT_MIN90] = smin90;
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
        double hw = (double)window / 7.0;
        for (size_t k = 0; k < na; k++) {
          x[map[k] * TSR__NFEAT + TSR__F_PALIVE] = (float)pa[k];
          x[map[k] * TSR__NFEAT + TSR__F_EXPECTED] = (float)ex[k];
          double pz = NAN;
          if (tsr_btyd_pmf_conditional(&m, bx[k], btx[k], bT[k], 0, hw, &pz, NULL) == TSR_OK &&
              isfinite(pz))
            x[map[k] * TSR__NFEAT + TSR__F_PZERO] = (float)(pz < 0 ? 0 : pz > 1 ? 1 : pz);
        }
        double enew = NAN, pznew = NAN;
        tsr_btyd_expected_new(&m, hw, &enew, NULL);
        if (tsr_btyd_pmf_new(&m, 0, hw, &pznew, NULL) != TSR_OK || !isfinite(pznew)) pznew = NAN;
        for (size_t i = 0; i < n; i++)
          if (active[i] && x[i * TSR__NFEAT + TSR__F_TENURE] == 0) {
            x[i * TSR__NFEAT + TSR__F_PALIVE] = 1.0f;
            x[i * TSR__NFEAT + TSR__F_EXPECTED] = (float)enew;
            x[i * TSR__NFEAT + TSR__F_PZERO] = (float)pznew;
          }
      }
    }
  }
done:
  tsr__free(eb);
  tsr__free(bx);
  tsr__free(btx);
  tsr__free(bT);
  tsr__free(pa);
  tsr__free(ex);
  tsr__free(map);
  return st;
}

uint8_t tsr__churn_label(const tsr__pdata *d, size_t i, int32_t c, int32_t window) {
  if (tsr__ledger_purchase_in(d->lg, i, c + 1, c + window)) return 0;
  if (d->has_products)
    for (size_t k = d->pev_off[i]; k < d->pev_off[i + 1]; k++)
      if (d->pev[k].day > c && d->pev[k].day <= c + window) return 0;
  return 1;
}

static const char *plural(double v, const char *one, const char *many) {
  return fabs(v - 1) < 1e-9 ? one : many;
}

static void say_duration(char *buf, size_t cap, const char *what, double days) {
  if (days < 60) snprintf(buf, cap, "%s %.0f %s", what, days, plural(days, "day", "days"));
  else if (days < 730) snprintf(buf, cap, "%s %.0f months", what, floor(days / 30.44 + 0.5));
  else snprintf(buf, cap, "%s %.0f years", what, floor(days / 365.25));
}

char *tsr__churn_reason(int j, const char *name, float fv, char *buf, size_t cap) {
  double v = fv;
  if (j >= TSR__NFIXED) {
    const char *prod = name && !strncmp(name, HELD_PREFIX, strlen(HELD_PREFIX))
                           ? name + strlen(HELD_PREFIX) : "a product";
    char what[160];
    snprintf(what, sizeof what, "has held %s for", prod);
    if (isnan(v)) snprintf(buf, cap, "does not hold %s", prod);
    else say_duration(buf, cap, what, v);
    return buf;
  }
  if (isnan(v) && j != TSR__F_GAP && j != TSR__F_OVERDUE && j != TSR__F_SINCE_COMPLAINT &&
      j != TSR__F_SINCE_CONTACT && j != TSR__F_SENT_MEAN && j != TSR__F_SENT_LAST &&
      j != TSR__F_SENT_MIN90 && j != TSR__F_PEV_RATE && j != TSR__F_SINCE_PEVENT &&
      j != TSR__F_PZERO) {
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
    if (v < 0)
      snprintf(buf, cap, "%.0f fewer purchase %s than in the previous 90 days", -v,
               plural(-v, "day", "days"));
    else if (v > 0)
      snprintf(buf, cap, "%.0f more purchase %s than in the previous 90 days", v,
               plural(v, "day", "days"));
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
  case TSR__F_CONTACTS:
    snprintf(buf, cap, "%.0f service %s in all", v, plural(v, "contact", "contacts"));
    break;
  case TSR__F_SINCE_CONTACT:
    if (isnan(v)) snprintf(buf, cap, "no service contact on record");
    else snprintf(buf, cap, "last service contact %.0f days ago", v);
    break;
  case TSR__F_SENT_MEAN:
  case TSR__F_SENT_LAST:
  case TSR__F_SENT_MIN90: {
    static const char *const what[3] = {"messages", "last message", "worst message in 90 days"};
    int w = j - TSR__F_SENT_MEAN;
    if (isnan(v)) snprintf(buf, cap, "no message on record%s", w == 2 ? " in 90 days" : "");
    else snprintf(buf, cap, "%s %s (sentiment %+.2f)",
                  v <= -0.05 ? "unhappy" : v >= 0.05 ? "happy" : "neutral", what[w], v);
    break;
  }
  case TSR__F_PZERO:
    if (isnan(v)) snprintf(buf, cap, "no BG/NBD model");
    else snprintf(buf, cap, "BG/NBD P(no purchase in the window) %.0f %%", 100 * v);
    break;
  case TSR__F_PEV_RATE:
    if (isnan(v)) snprintf(buf, cap, "no product opened or closed");
    else snprintf(buf, cap, "%.1f product openings or closings a year", v);
    break;
  case TSR__F_SINCE_PEVENT:
    if (isnan(v)) snprintf(buf, cap, "no product opened or closed");
    else {
      say_duration(buf, cap, "last product opened or closed", v);
      size_t l = strlen(buf);
      if (l + 4 < cap) memcpy(buf + l, " ago", 5);
    }
    break;
  default:
    snprintf(buf, cap, "feature %d", j);
  }
  return buf;
}
