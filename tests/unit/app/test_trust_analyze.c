/*
 * test_trust_analyze.c - issue 10 defects of the analyze pipeline: long
 * input paths in the stored parameters (no fixed buffers), RFM on
 * calibration revenue only, customers with T = 0, failed model fits that
 * never end "ok".
 */
#include "tsr_test.h"
#include "tessera/analyze.h"
#include "tessera/datetime.h"
#include "tessera/store.h"

#include <gsl/gsl_errno.h>
#include <sys/stat.h>

/* Runs analyze on inputs; returns the status, *r the result (or NULL). */
static tsr_status run(const char **inputs, size_t n, const char *model, int spend,
                      int64_t cal_end, int64_t end, tsr_store *st, tsr_analyze_result **r,
                      tsr_error *e) {
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  o.inputs = inputs;
  o.n_inputs = n;
  o.model = model;
  o.spend = spend;
  o.cluster = "none";
  o.summary.cal_end_day = cal_end;
  if (end != TSR_DAY_NONE) o.summary.end_day = end;
  return tsr_analyze_run(&o, st, r, e);
}

/* The run's parameters (with every input path) are stored whole, however
 * long the paths: 6 inputs of ~1500 characters each. */
static void long_paths(void **state) {
  (void)state;
  char dir[] = "/tmp/tsr_trust_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char file[128];
  snprintf(file, sizeof file, "%s/tx.csv", dir);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fputs("customer_id,date,amount\na,2024-01-01,10\nb,2024-01-03,5\na,2024-02-01,7\n", f);
  fclose(f);
  /* dir/./././.../tx.csv */
  size_t L = strlen(dir) + 2 * 750 + 16;
  char *longp = malloc(L);
  size_t k = (size_t)snprintf(longp, L, "%s", dir);
  for (int i = 0; i < 750; i++) longp[k++] = '/', longp[k++] = '.';
  snprintf(longp + k, L - k, "/tx.csv");
  const char *inputs[6] = {longp, longp, longp, longp, longp, longp};
  char db[160];
  snprintf(db, sizeof db, "%s/t.db", dir);
  tsr_store *st;
  tsr_error e;
  assert_int_equal(tsr_store_open(db, TSR_STORE_CREATE, &st, &e), TSR_OK);
  tsr_analyze_result *r = NULL;
  tsr_status s = run(inputs, 6, "none", 0, TSR_DAY_NONE, TSR_DAY_NONE, st, &r, &e);
  if (s != TSR_OK) fail_msg("analyze: %s", e.msg);
  tsr_run *rr;
  assert_int_equal(tsr_store_run_get(st, r->run_id, &rr, &e), TSR_OK);
  assert_int_equal(rr->status, TSR_RUN_DONE);
  assert_non_null(rr->params);
  assert_true(strlen(rr->params) > 6 * strlen(longp));
  assert_non_null(strstr(rr->params, "\"seed\":"));
  tsr_store_free(rr);
  tsr_analyze_result_free(r);
  tsr_store_close(st);
  free(longp);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

/* With a calibration end, M scores use calibration spend only: a huge
 * holdout purchase changes nothing; the scores equal those of the same log
 * cut at the calibration end. */
static void rfm_calibration(void **state) {
  (void)state;
  char full[64], cut[64];
  tsr_test_tmpfile("", 0, full, sizeof full);
  tsr_test_tmpfile("", 0, cut, sizeof cut);
  FILE *ff = fopen(full, "w"), *fc = fopen(cut, "w");
  fputs("customer_id,date,amount\n", ff);
  fputs("customer_id,date,amount\n", fc);
  for (int c = 0; c < 40; c++) {
    for (int j = 0; j <= c % 4; j++) {
      fprintf(ff, "c%02d,2024-01-%02d,%d\n", c, 1 + 7 * j, 5 + c);
      fprintf(fc, "c%02d,2024-01-%02d,%d\n", c, 1 + 7 * j, 5 + c);
    }
    /* holdout: the smallest spenders buy for a fortune */
    if (c < 10) fprintf(ff, "c%02d,2024-03-%02d,%d\n", c, 1 + c, 100000);
  }
  fclose(ff), fclose(fc);
  int64_t cal = tsr_days_from_civil(2024, 1, 31), end = tsr_days_from_civil(2024, 3, 31);
  tsr_analyze_result *a, *b;
  tsr_error e;
  const char *in1[] = {full}, *in2[] = {cut};
  assert_int_equal(run(in1, 1, "none", 0, cal, end, NULL, &a, &e), TSR_OK);
  assert_int_equal(run(in2, 1, "none", 0, TSR_DAY_NONE, cal, NULL, &b, &e), TSR_OK);
  assert_true(a->has_holdout);
  assert_int_equal(a->summary->n, 40);
  assert_int_equal(b->summary->n, 40);
  for (size_t i = 0; i < 40; i++) {
    assert_string_equal(a->summary->rows[i].customer_id, b->summary->rows[i].customer_id);
    assert_int_equal(a->m[i], b->m[i]);
    assert_int_equal(a->r[i], b->r[i]);
    assert_int_equal(a->f[i], b->f[i]);
    assert_near(a->summary->rows[i].revenue_cal, b->summary->rows[i].revenue, 1e-9);
  }
  tsr_analyze_result_free(a);
  tsr_analyze_result_free(b);
  unlink(full), unlink(cut);
}

/* CDNOW cut at 1997-03-25, the last day a new customer joined: the
 * customers who first bought that day have T = 0. The model is fitted and
 * every customer gets predictions, with and without a holdout. */
static void t_zero(void **state) {
  (void)state;
  char path[1024];
  const char *in[] = {tsr_test_data("cdnow/cdnow_sample.csv", path, sizeof path)};
  int64_t q1 = tsr_days_from_civil(1997, 3, 25), end = tsr_days_from_civil(1998, 6, 30);
  for (int split = 0; split < 2; split++) {
    tsr_analyze_result *r;
    tsr_error e;
    tsr_status st = run(in, 1, "bgnbd", 1, split ? q1 : TSR_DAY_NONE, split ? end : q1, NULL, &r, &e);
    if (st != TSR_OK) fail_msg("analyze (split %d): %s", split, e.msg);
    assert_true(r->has_model);
    size_t nz = 0;
    for (size_t i = 0; i < r->summary->n; i++) {
      if (r->summary->rows[i].T == 0) nz++;
      assert_true(isfinite(r->expected[i]) && isfinite(r->p_alive[i]));
    }
    assert_true(nz > 0);
    assert_int_equal(r->summary->n, 2357);
    tsr_analyze_result_free(r);
  }
}

/* A requested model that cannot be fitted fails the run (status failed,
 * TSR_ECONVERGE, an error event) instead of ending "ok" without
 * predictions. */
static void failed_fit(void **state) {
  (void)state;
  char path[64], db[80];
  tsr_test_tmpfile("", 0, path, sizeof path);
  FILE *f = fopen(path, "w");
  fputs("customer_id,date,amount\n", f);
  /* nobody buys again: no model is identified, even penalized */
  for (int c = 0; c < 200; c++) fprintf(f, "c%03d,2024-01-%02d,%d\n", c, 1 + c % 28, 10);
  fputs("c000,2024-01-01,5\n", f);
  fclose(f);
  snprintf(db, sizeof db, "%s.db", path);
  tsr_store *st;
  tsr_error e;
  assert_int_equal(tsr_store_open(db, TSR_STORE_CREATE, &st, &e), TSR_OK);
  tsr_analyze_result *r = NULL;
  const char *in[] = {path};
  const char *models[] = {"bgnbd", "auto"};
  for (int k = 0; k < 2; k++) {
    tsr_status s = run(in, 1, models[k], 0, TSR_DAY_NONE, TSR_DAY_NONE, st, &r, &e);
    assert_int_equal(s, TSR_ECONVERGE);
    assert_null(r);
    assert_non_null(strstr(e.msg, "none"));
  }
  for (int64_t id = 1; id <= 2; id++) {
    tsr_run *rr;
    assert_int_equal(tsr_store_run_get(st, id, &rr, &e), TSR_OK);
    assert_int_equal(rr->status, TSR_RUN_FAILED);
    assert_non_null(rr->error);
    tsr_store_free(rr);
  }
  tsr_store_close(st);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -f %s %s-wal %s-shm", db, db, db);
  assert_int_equal(system(cmd), 0);
  unlink(path);
}

/* Excluding anomalies without a bundle (possible through the API and the
 * web form) fails the run instead of being ignored. */
static void exclude_needs_bundle(void **state) {
  (void)state;
  char path[64];
  tsr_test_tmpfile("customer_id,date,amount\nc1,2024-01-01,10\nc1,2024-02-01,5\n", 0, path, sizeof path);
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  const char *in[] = {path};
  o.inputs = in;
  o.n_inputs = 1;
  o.model = "none";
  o.cluster = "none";
  o.exclude_anomalies = 1;
  tsr_analyze_result *r = NULL;
  tsr_error e;
  assert_int_equal(tsr_analyze_run(&o, NULL, &r, &e), TSR_EINVAL);
  assert_null(r);
  assert_non_null(strstr(e.msg, "needs a data bundle"));
  remove(path);
}

int main(void) {
  gsl_set_error_handler_off();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(long_paths),
      cmocka_unit_test(rfm_calibration),
      cmocka_unit_test(t_zero),
      cmocka_unit_test(failed_fit),
      cmocka_unit_test(exclude_needs_bundle),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
