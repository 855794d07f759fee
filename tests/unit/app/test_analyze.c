/* test_analyze.c - the pipeline's KPIs against hand computation, the store
 * round trip of a run, and failure recording. */
#include "tsr_test.h"
#include "tessera/analyze.h"

static const char tx[] =
    "customer_id,date,amount\n"
    "a,2024-01-01,10\n"
    "a,2024-01-01,5\n"   /* same day: one visit */
    "a,2024-01-15,20\n"
    "b,2024-01-03,100\n"
    "c,2024-01-10,1\n"
    "c,2024-01-11,-1\n"  /* refund */
    "d,2024-02-01,4\n"
    "e,2024-02-05,2\n";

static void test_kpis(void **state) {
  (void)state;
  char path[64];
  assert_non_null(tsr_test_tmpfile(tx, sizeof tx - 1, path, sizeof path));
  const char *inputs[] = {path};
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  o.inputs = inputs;
  o.n_inputs = 1;
  o.model = "none";
  o.cluster = "none";
  tsr_analyze_result *r;
  tsr_error e;
  assert_int_equal(tsr_analyze_run(&o, NULL, &r, &e), TSR_OK);
  const tsr_kpis *k = &r->kpis;
  assert_int_equal(k->customers, 5);
  assert_int_equal(k->transactions, 7);
  assert_int_equal(k->visits, 6);
  assert_near(k->revenue, 142, 1e-9);
  assert_near(k->repeat_share, 0.2, 1e-12);
  /* top 20% = 1 customer: b with 100 of 142 */
  assert_near(k->top20_revenue_share, 100.0 / 142.0, 1e-12);
  assert_true(isnan(k->churn_rate));
  assert_int_equal(r->ingest.refunds, 1);
  /* segment counts add up */
  size_t s = 0;
  for (size_t j = 0; j < r->n_segments; j++) s += r->segments[j].customers;
  assert_int_equal(s, 5);
  /* RFM scored one column at a time in one buffer: the scores of
   * tsr_rfm_score on the summary's columns */
  size_t n = r->summary->n;
  double gap[5], fr[5], mon[5];
  int rs[5], fs[5], ms[5];
  assert_int_equal(n, 5);
  for (size_t i = 0; i < n; i++) {
    const tsr_summary_row *w = &r->summary->rows[i];
    gap[i] = w->T - w->recency;
    fr[i] = w->frequency;
    mon[i] = w->revenue;
  }
  assert_int_equal(tsr_rfm_score(gap, fr, mon, n, rs, fs, ms, NULL), TSR_OK);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(r->r[i], rs[i]);
    assert_int_equal(r->f[i], fs[i]);
    assert_int_equal(r->m[i], ms[i]);
  }
  /* no model: the prediction and CLV columns are there, NaN (made after
   * the fits since issue 18) */
  for (size_t i = 0; i < n; i++) {
    assert_true(isnan(r->expected[i]) && isnan(r->expected_lo[i]) && isnan(r->expected_hi[i]));
    assert_true(isnan(r->p_alive[i]) && isnan(r->clv[i]) && isnan(r->clv_lo[i]) &&
                isnan(r->clv_hi[i]));
  }
  tsr_analyze_result_free(r);
  unlink(path);
}

static void test_store_round_trip(void **state) {
  (void)state;
  char path[64], db[80], out[80];
  assert_non_null(tsr_test_tmpfile(tx, sizeof tx - 1, path, sizeof path));
  snprintf(db, sizeof db, "%s.db", path);
  snprintf(out, sizeof out, "%s.out", path);
  const char *inputs[] = {path};
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  o.inputs = inputs;
  o.n_inputs = 1;
  o.model = "none";
  o.cluster = "none";
  o.out_dir = out;
  tsr_store *st;
  tsr_error e;
  assert_int_equal(tsr_store_open(db, TSR_STORE_CREATE, &st, &e), TSR_OK);
  tsr_analyze_result *r;
  assert_int_equal(tsr_analyze_run(&o, st, &r, &e), TSR_OK);
  assert_true(r->run_id > 0);
  tsr_run *run;
  assert_int_equal(tsr_store_run_get(st, r->run_id, &run, &e), TSR_OK);
  assert_int_equal(run->status, TSR_RUN_DONE);
  assert_int_equal(run->n_customers, 5);
  assert_non_null(strstr(run->summary, "\"customers\":5"));
  tsr_store_free(run);
  tsr_customer *c;
  assert_int_equal(tsr_store_customer_get(st, r->run_id, "a", &c, &e), TSR_OK);
  assert_near(c->frequency, 1, 0);
  assert_near(c->revenue, 35, 1e-12);
  tsr_store_free(c);
  tsr_analyze_result_free(r);
  /* a missing file: the run is recorded as failed with the error */
  const char *bad[] = {"/nonexistent/tx.csv"};
  o.inputs = bad;
  assert_int_equal(tsr_analyze_run(&o, st, &r, &e), TSR_EIO);
  assert_null(r);
  tsr_store_close(st);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf %s %s %s-wal %s-shm", out, db, db, db);
  assert_int_equal(system(cmd), 0);
  unlink(path);
}

typedef struct steps {
  char seq[256];
} steps;

static int ev_step(void *ctx, const tsr_event *e) {
  steps *s = ctx;
  size_t n = strlen(s->seq);
  snprintf(s->seq + n, sizeof s->seq - n, "%s%s", n ? "," : "", e->step);
  return 0;
}

static int run_last(void *ctx, const tsr_run *r) {
  *(int64_t *)ctx = r->id;
  return 1;
}

/* The files are written on a thread beside the store step: both logged
 * (files first) and timed; when the files fail the run fails with their
 * error and stores no customer (the store's commit waits for them). */
static void test_store_files_beside(void **state) {
  (void)state;
  char path[64], db[80], out[80];
  assert_non_null(tsr_test_tmpfile(tx, sizeof tx - 1, path, sizeof path));
  snprintf(db, sizeof db, "%s.db", path);
  snprintf(out, sizeof out, "%s.out", path);
  const char *inputs[] = {path};
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  o.inputs = inputs;
  o.n_inputs = 1;
  o.model = "none";
  o.cluster = "none";
  o.out_dir = out;
  tsr_store *st;
  tsr_error e;
  assert_int_equal(tsr_store_open(db, TSR_STORE_CREATE, &st, &e), TSR_OK);
  tsr_analyze_result *r;
  assert_int_equal(tsr_analyze_run(&o, st, &r, &e), TSR_OK);
  steps sq = {""};
  assert_int_equal(tsr_store_events_list(st, r->run_id, TSR_LOG_INFO, ev_step, &sq, &e), TSR_OK);
  assert_non_null(strstr(sq.seq, ",files,store,end"));
  assert_non_null(strstr(r->timings, "\"files\":"));
  assert_non_null(strstr(r->timings, "\"store\":"));
  assert_true(strstr(r->timings, "\"files\":") < strstr(r->timings, "\"store\":"));
  char f[160];
  snprintf(f, sizeof f, "%s/customers.csv", out);
  assert_int_equal(access(f, R_OK), 0);
  snprintf(f, sizeof f, "%s/run.json", out);
  assert_int_equal(access(f, R_OK), 0);
  tsr_analyze_result_free(r);
  /* files that cannot be written: the run fails with their error, stores
   * no customer */
  o.out_dir = "/nonexistent/tsr/out";
  assert_int_equal(tsr_analyze_run(&o, st, &r, &e), TSR_EIO);
  assert_null(r);
  assert_non_null(strstr(e.msg, "cannot create directory"));
  int64_t id = 0;
  assert_int_equal(tsr_store_runs_list(st, 1, 0, run_last, &id, &e), TSR_OK);
  tsr_run *run;
  assert_int_equal(tsr_store_run_get(st, id, &run, &e), TSR_OK);
  assert_int_equal(run->status, TSR_RUN_FAILED);
  assert_int_equal(run->n_customers, 0);
  assert_non_null(strstr(run->error, "cannot create directory"));
  tsr_store_free(run);
  tsr_customer_query q;
  tsr_customer_query_init(&q, id);
  int64_t n = -1;
  assert_int_equal(tsr_store_customers_count(st, &q, &n, &e), TSR_OK);
  assert_int_equal(n, 0);
  tsr_store_close(st);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf %s %s %s-wal %s-shm", out, db, db, db);
  assert_int_equal(system(cmd), 0);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kpis),
      cmocka_unit_test(test_store_round_trip),
      cmocka_unit_test(test_store_files_beside),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
