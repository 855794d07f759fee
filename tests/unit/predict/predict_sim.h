/*
 * predict_sim.h - a small customer-bundle simulator for the prediction
 * tests and benchmarks (transactions.csv, customers.csv,
 * products_events.csv, interactions.csv of /work/shared/DATA.md), with
 * known mechanisms:
 *   - purchases: Poisson process with a Gamma-distributed rate while alive;
 *   - dropout: exponential lifetime; 30 % of customers are dissatisfied
 *     (3x the dropout hazard, complaints every ~60 days), and every
 *     customer complains more (every ~20 days) in the 60 days before
 *     leaving and closes a product 30 days before with probability 0.5:
 *     signals BG/NBD cannot see;
 *   - products: weekly opening chances driven by age, income, business
 *     status and co-ownership (a mortgage makes home insurance likely, a
 *     credit card travel insurance, savings plus high income an investment
 *     fund, a business account a business loan), within the eligibility
 *     rules of docs/predict.md (student account 18-25, business products
 *     for business customers only, mortgage 18-70, pension under 75).
 * Header-only; uses the public tsr_rng.
 */
#ifndef TSR_PREDICT_SIM_H
#define TSR_PREDICT_SIM_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tessera/datetime.h"
#include "tessera/rng.h"

#define PSIM_NPROD 12
static const char *const psim_products[PSIM_NPROD] = {
    "current_account", "savings_account", "credit_card", "mortgage", "personal_loan",
    "student_account", "business_account", "business_loan", "pension", "travel_insurance",
    "home_insurance", "investment_fund"};
enum {
  PS_CURRENT, PS_SAVINGS, PS_CARD, PS_MORTGAGE, PS_LOAN, PS_STUDENT, PS_BUSINESS,
  PS_BLOAN, PS_PENSION, PS_TRAVEL, PS_HOME, PS_INVEST
};

/* Weekly opening probability of product p for a customer. */
static double psim_open_prob(int p, double age, int income, int business, const int *held) {
  switch (p) {
  case PS_SAVINGS: return 0.002 * income;
  case PS_CARD: return age >= 21 ? 0.004 : 0;
  case PS_MORTGAGE: return (age >= 25 && age <= 50 && income >= 3) ? 0.004 : 0;
  case PS_LOAN: return age >= 18 ? 0.0015 : 0;
  case PS_BLOAN: return business && held[PS_BUSINESS] ? 0.01 : 0;
  case PS_PENSION: return age >= 40 && age < 75 ? 0.004 : 0;
  case PS_TRAVEL: return held[PS_CARD] ? 0.012 : 0.0008;
  case PS_HOME: return held[PS_MORTGAGE] ? 0.04 : 0.0004;
  case PS_INVEST: return held[PS_SAVINGS] && income >= 4 ? 0.008 : 0.0003;
  default: return 0;
  }
}

/* Writes the bundle of n customers into dir (which must exist); days
 * 2024-01-01 .. +729. Returns 0 on success. with_products = 0 writes
 * transactions.csv only. */
static int psim_write(const char *dir, size_t n, uint64_t seed, int with_products) {
  char path[1024];
  FILE *ft, *fc = NULL, *fp = NULL, *fi = NULL;
  snprintf(path, sizeof path, "%s/transactions.csv", dir);
  if (!(ft = fopen(path, "w"))) return -1;
  fputs("customer_id,timestamp,amount\n", ft);
  if (with_products) {
    snprintf(path, sizeof path, "%s/customers.csv", dir);
    fc = fopen(path, "w");
    snprintf(path, sizeof path, "%s/products_events.csv", dir);
    fp = fopen(path, "w");
    snprintf(path, sizeof path, "%s/interactions.csv", dir);
    fi = fopen(path, "w");
    if (!fc || !fp || !fi) return -1;
    fputs("customer_id,birth_date,join_date,income_band,customer_type\n", fc);
    fputs("customer_id,date,product,event\n", fp);
    fputs("customer_id,timestamp,channel,topic\n", fi);
  }
  int64_t D0 = tsr_days_from_civil(2024, 1, 1), SPAN = 730;
  tsr_rng g;
  tsr_rng_seed(&g, seed, 77);
  char d1[16], d2[16];
  for (size_t c = 0; c < n; c++) {
    int64_t join = D0 + (int64_t)(tsr_rng_uniform(&g) * 365);
    double age0 = 18 + tsr_rng_uniform(&g) * 62;
    int business = tsr_rng_uniform(&g) < 0.1;
    int student = !business && age0 < 25 && tsr_rng_uniform(&g) < 0.5;
    int income = 1 + (int)(tsr_rng_uniform(&g) * 5);
    int dissat = tsr_rng_uniform(&g) < 0.3;
    double lambda = tsr_rng_gamma(&g, 1.5, 1.5 / 0.035); /* purchases per day */
    double mu = (1.0 / 700) * (dissat ? 3 : 1) * tsr_rng_gamma(&g, 2, 2);
    int64_t tau = join + 1 + (int64_t)tsr_rng_exponential(&g, mu);
    int64_t end = D0 + SPAN - 1;
    /* transactions: first at join, then Poisson until tau */
    double t = (double)join;
    for (int k = 0;; k++) {
      int64_t day = (int64_t)t;
      if (day >= tau || day > end) break;
      fprintf(ft, "C%zu,%s,%.2f\n", c, tsr_day_format(day, d1),
              exp(3.3 + 0.7 * tsr_rng_normal(&g)));
      t += tsr_rng_exponential(&g, lambda);
      if (k > 100000) break;
    }
    if (!with_products) continue;
    int64_t birth = join - (int64_t)(age0 * 365.25);
    fprintf(fc, "C%zu,%s,%s,%d,%s\n", c, tsr_day_format(birth, d1), tsr_day_format(join, d2),
            income, business ? "business" : "personal");
    int held[PSIM_NPROD] = {0};
    int first = business ? PS_BUSINESS : student ? PS_STUDENT : PS_CURRENT;
    held[first] = 1;
    fprintf(fp, "C%zu,%s,%s,open\n", c, tsr_day_format(join, d1), psim_products[first]);
    int closed_one = tsr_rng_uniform(&g) < 0.5;
    for (int64_t w = join + 7; w < tau && w <= end; w += 7) {
      double age = age0 + (double)(w - join) / 365.25;
      for (int p = 0; p < PSIM_NPROD; p++) {
        if (held[p]) continue;
        if (tsr_rng_uniform(&g) < psim_open_prob(p, age, income, business, held)) {
          held[p] = 1;
          fprintf(fp, "C%zu,%s,%s,open\n", c, tsr_day_format(w, d1), psim_products[p]);
        }
      }
    }
    /* a product closed 30 days before leaving */
    if (closed_one && tau - 30 > join && tau - 30 <= end) {
      int pick = -1;
      for (int p = PSIM_NPROD - 1; p >= 0 && pick < 0; p--)
        if (held[p] && p != first) pick = p;
      if (pick >= 0)
        fprintf(fp, "C%zu,%s,%s,close\n", c, tsr_day_format(tau - 30, d1), psim_products[pick]);
    }
    /* interactions: questions, complaints of the dissatisfied, and the
     * complaints before leaving */
    for (double s = (double)join + tsr_rng_exponential(&g, 1.0 / 150); s < (double)end;
         s += tsr_rng_exponential(&g, 1.0 / 150)) {
      if ((int64_t)s >= tau) break;
      fprintf(fi, "C%zu,%sT10:00:00Z,phone,balance question\n", c, tsr_day_format((int64_t)s, d1));
    }
    if (dissat)
      for (double s = (double)join + tsr_rng_exponential(&g, 1.0 / 60); s < (double)end;
           s += tsr_rng_exponential(&g, 1.0 / 60)) {
        if ((int64_t)s >= tau) break;
        fprintf(fi, "C%zu,%sT11:00:00Z,chat,complaint\n", c, tsr_day_format((int64_t)s, d1));
      }
    for (double s = (double)(tau - 60) + tsr_rng_exponential(&g, 1.0 / 20); s < (double)tau;
         s += tsr_rng_exponential(&g, 1.0 / 20)) {
      if ((int64_t)s <= join || (int64_t)s > end) continue;
      fprintf(fi, "C%zu,%sT12:00:00Z,email,complaint about fees\n", c,
              tsr_day_format((int64_t)s, d1));
    }
  }
  int bad = fclose(ft) != 0;
  if (fc) bad |= fclose(fc) != 0;
  if (fp) bad |= fclose(fp) != 0;
  if (fi) bad |= fclose(fi) != 0;
  return bad ? -1 : 0;
}

/* A fresh folder /tmp/<prefix>XXXXXX into dir (cap bytes); 0 or -1. */
static int psim_mkdir(char *dir, size_t cap, const char *prefix) {
  snprintf(dir, cap, "/tmp/%sXXXXXX", prefix);
  return mkdtemp(dir) ? 0 : -1;
}

/* A folder with the bundle of n customers (psim_write with products). */
static int psim_setup(char *dir, size_t cap, const char *prefix, size_t n, uint64_t seed) {
  if (psim_mkdir(dir, cap, prefix)) return -1;
  return psim_write(dir, n, seed, 1);
}

/* Removes a bundle folder: the tables of psim_write and of tessera
 * simulate --bundle, then the folder. */
static void psim_remove(const char *dir) {
  static const char *const f[] = {"transactions.csv", "customers.csv", "products_events.csv",
                                  "interactions.csv", "campaign.csv", "offers.csv"};
  char p[1024];
  for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, f[i]);
    unlink(p);
  }
  rmdir(dir);
}

#endif
