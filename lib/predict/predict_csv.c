/*
 * predict_csv.c - the CSV outputs of the prediction models, shared by
 * `tessera churn`, `tessera recommend` and `tessera analyze` on a bundle:
 * churn.csv (customer_id,churn_probability,reason_1,reason_2,reason_3),
 * nbp.csv (customer_id,rank,product,score,reason) and the goal
 * propensities (customer_id,<goal>...). RFC 4180 quoting.
 */
#include "internal.h"
#include "tessera/churn.h"
#include "tessera/csv.h"
#include "tessera/recommend.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void put_field(FILE *f, const char *s) { tsr_csv_put_field(f, s); } /* the one CSV rule */

static tsr_status done(FILE *f, tsr_error *err) {
  if (ferror(f))
    return tsr_error_set(err, TSR_EIO, NULL, 0, 0, NULL, "write error: %s", strerror(errno));
  return TSR_OK;
}

tsr_status tsr_churn_write_csv(const tsr_churn_result *r, FILE *f, tsr_error *err) {
  fputs("customer_id,churn_probability,reason_1,reason_2,reason_3\n", f);
  char buf[160];
  for (size_t i = 0; i < r->n; i++) {
    put_field(f, r->customer_id[i]);
    fputc(',', f);
    tsr__put_fixed(f, r->probability[i], 4);
    for (int k = 0; k < 3; k++) {
      fputc(',', f);
      put_field(f, tsr_churn_reason(r, i, k, buf, sizeof buf));
    }
    fputc('\n', f);
  }
  return done(f, err);
}

tsr_status tsr_nbp_write_csv(const tsr_nbp_result *r, FILE *f, tsr_error *err) {
  fputs("customer_id,rank,product,score,reason\n", f);
  for (size_t i = 0; i < r->n; i++)
    for (size_t j = 0; j < r->top; j++) {
      const tsr_nbp_rec *rec = &r->rec[i * r->top + j];
      if (rec->product < 0) break;
      put_field(f, r->customer_id[i]);
      fprintf(f, ",%zu,", j + 1);
      put_field(f, r->products[rec->product]);
      fputc(',', f);
      tsr__put_fixed(f, (double)rec->score, 4);
      fputc(',', f);
      put_field(f, rec->reason);
      fputc('\n', f);
    }
  return done(f, err);
}

tsr_status tsr_nbp_write_goals_csv(const tsr_nbp_result *r, FILE *f, tsr_error *err) {
  fputs("customer_id", f);
  for (int k = 0; k < TSR_NBP_NGOALS; k++) fprintf(f, ",%s", tsr_nbp_goal_name(k));
  fputc('\n', f);
  for (size_t i = 0; i < r->n; i++) {
    put_field(f, r->customer_id[i]);
    for (int k = 0; k < TSR_NBP_NGOALS; k++) {
      fputc(',', f);
      tsr__put_fixed(f, (double)r->goal[i][k], 4);
    }
    fputc('\n', f);
  }
  return done(f, err);
}
