/* test_release_ledger.c - tsr_analyze_opts.release_ledger: the ledger is
 * freed after the summary (res->ledger NULL, the ids in res->ids) and every
 * result file is byte for byte the one of a run that keeps it; with a
 * store as well (the stored purchase histories come from a compact copy
 * made while the summary drains the ledger: the same rows).
 * customers.csv of 20,000 customers (blocks of 8192 lines formatted two at
 * a time) has every customer once, in order, with whole lines. The
 * compact rows of such a run (app/analyze_rows.h) below. */
#include "tsr_test.h"
#include "analyze_rows.h"
#include "tessera/analyze.h"
#include "tessera/datetime.h"
#include "tessera/simulate.h"
#include "tessera/store.h"
#include "tessera/store_web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One run of in into out: quick (no model, no clusters), end_day and
 * cal_end (or TSR_DAY_NONE), release_ledger = release, release_rows =
 * rows, with the store st (or NULL). */
static void run_opts(const char *in, const char *out, int release, int rows, int quick,
                     int64_t end_day, int64_t cal_end, tsr_store *st, tsr_analyze_result **r) {
  const char *inputs[] = {in};
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  o.inputs = inputs;
  o.n_inputs = 1;
  o.out_dir = out;
  if (quick) o.model = "none", o.cluster = "none";
  if (end_day != TSR_DAY_NONE) o.summary.end_day = end_day;
  o.summary.cal_end_day = cal_end;
  o.release_ledger = release;
  o.release_rows = rows;
  tsr_error e;
  tsr_status s = tsr_analyze_run(&o, st, r, &e);
  if (s != TSR_OK) fail_msg("analyze: %s", e.msg);
}

static void run_with(const char *in, const char *out, int release, int quick, int64_t end_day,
                     tsr_store *st, tsr_analyze_result **r) {
  run_opts(in, out, release, 0, quick, end_day, TSR_DAY_NONE, st, r);
}

static void run(const char *in, const char *out, int release, tsr_store *st,
                tsr_analyze_result **r) {
  run_with(in, out, release, 0, TSR_DAY_NONE, st, r);
}

static void same_file(const char *a, const char *b, const char *name) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "cmp -s %s/%s %s/%s", a, name, b, name);
  if (system(cmd) != 0) fail_msg("%s differs", name);
}

typedef struct hist_rows {
  tsr_web_history_row r[64];
  size_t n;
} hist_rows;

static int hist_cb(void *ctx, const tsr_web_history_row *row) {
  hist_rows *h = ctx;
  if (h->n < 64) h->r[h->n] = *row;
  h->n++;
  return 0;
}

/* Every ledger customer's stored history is the same in runs a and b. */
static void same_histories(tsr_store *st, int64_t a, int64_t b, const tsr_ledger *lg) {
  size_t rows = 0;
  for (size_t i = 0; i < tsr_ledger_ncustomers(lg); i++) {
    const char *id = tsr_ledger_customer(lg, i);
    hist_rows ha = {.n = 0}, hb = {.n = 0};
    tsr_error e;
    assert_int_equal(tsr_web_history_list(st, a, id, hist_cb, &ha, &e), TSR_OK);
    assert_int_equal(tsr_web_history_list(st, b, id, hist_cb, &hb, &e), TSR_OK);
    assert_int_equal(ha.n, hb.n);
    assert_true(ha.n > 0);
    rows += ha.n;
    for (size_t j = 0; j < ha.n && j < 64; j++) {
      assert_true(ha.r[j].day == hb.r[j].day && ha.r[j].ntx == hb.r[j].ntx);
      assert_memory_equal(&ha.r[j].amount, &hb.r[j].amount, sizeof(double));
    }
  }
  assert_true(rows >= tsr_ledger_ncustomers(lg));
}

/* Customers without a summary row (refunds only; purchases only after the
 * observation end), amounts not whole hundredths, several rows a day: the
 * histories from the pack are those from the ledger. */
static void edges_to(char *in) {
  int fd = mkstemp(in);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  assert_non_null(f);
  fputs("customer_id,date,amount\n", f);
  for (int c = 0; c < 40; c++)
    for (int k = 0; k < 6; k++)
      fprintf(f, "c%02d,2024-%02d-%02d,%s\n", c, 1 + k * 2, 1 + (c + k) % 27,
              k == 1   ? "0.1"
              : k == 2 ? "12345.678901"
              : k == 3 ? "-3.5"
                       : "19.99");
  /* two rows on one day (0.1 + 0.2 is not 0.3), a refund-only customer,
   * one who buys only after the observation end */
  fputs("c00,2024-01-01,0.2\nr1,2024-03-03,-5.25\nlate,2024-12-30,7.5\n", f);
  fclose(f);
}

static void test_release_ledger_store_edges(void **state) {
  (void)state;
  char in[] = "/tmp/tsr_rle_XXXXXX";
  edges_to(in);
  char out[64], db[64];
  snprintf(out, sizeof out, "%s.out", in);
  snprintf(db, sizeof db, "%s.db", in);
  tsr_store *st;
  tsr_error e;
  assert_int_equal(tsr_store_open(db, TSR_STORE_CREATE, &st, &e), TSR_OK);
  tsr_analyze_result *r[2];
  for (int rel = 0; rel < 2; rel++) /* 2024-12-29: "late" buys after it */
    run_with(in, out, rel, 1, 20086, st, &r[rel]);
  assert_non_null(r[0]->ledger);
  assert_null(r[1]->ledger);
  assert_int_equal(r[0]->summary->n, 40);
  same_histories(st, r[1]->run_id, r[0]->run_id, r[0]->ledger);
  tsr_analyze_result_free(r[0]);
  tsr_analyze_result_free(r[1]);
  tsr_store_close(st);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf %s %s %s-wal %s-shm", out, db, db, db);
  assert_int_equal(system(cmd), 0);
  unlink(in);
}

/* a simulated transaction log of n customers in the temporary file in
 * (a mkstemp template, filled in) */
static void simulate_to(char *in, uint64_t n, uint64_t seed, int weeks) {
  int fd = mkstemp(in);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  assert_non_null(f);
  tsr_simulate_opts so;
  tsr_simulate_opts_init(&so);
  so.customers = n;
  so.seed = seed;
  if (weeks) so.weeks = weeks;
  assert_int_equal(tsr_simulate_write(f, &so, NULL), TSR_OK);
  fclose(f);
}

static void test_release_ledger(void **state) {
  (void)state;
  char in[] = "/tmp/tsr_rl_XXXXXX";
  simulate_to(in, 1500, 7, 0);
  char keep[64], rel[64], db[64], withdb[64];
  snprintf(keep, sizeof keep, "%s.keep", in);
  snprintf(rel, sizeof rel, "%s.rel", in);
  snprintf(db, sizeof db, "%s.db", in);
  snprintf(withdb, sizeof withdb, "%s.withdb", in);
  tsr_analyze_result *a, *b, *c;
  run(in, keep, 0, NULL, &a);
  run(in, rel, 1, NULL, &b);
  assert_non_null(a->ledger);
  assert_null(a->ids);
  assert_null(b->ledger);
  assert_non_null(b->ids);
  assert_int_equal(a->summary->n, b->summary->n);
  for (size_t i = 0; i < b->summary->n; i++) {
    assert_string_equal(a->summary->rows[i].customer_id, b->summary->rows[i].customer_id);
    assert_true(b->summary->rows[i].customer_id >= b->ids);
  }
  assert_true(b->has_model && b->has_spend);
  static const char *files[] = {"customers.csv", "segments.csv", "clusters.csv",
                                "run.json",      "gg.json",      "cluster_model.json"};
  for (size_t k = 0; k < sizeof files / sizeof *files; k++) same_file(keep, rel, files[k]);
  /* with a store: freed as well, the stored purchase histories taken
   * from the pack made while the summary drained it (the same rows as a
   * run that keeps the ledger: every customer's, by day, amounts bit for
   * bit) */
  tsr_store *st;
  tsr_error e;
  assert_int_equal(tsr_store_open(db, TSR_STORE_CREATE, &st, &e), TSR_OK);
  run(in, withdb, 1, st, &c);
  assert_null(c->ledger);
  assert_non_null(c->ids);
  tsr_analyze_result *d;
  run(in, withdb, 0, st, &d);
  assert_non_null(d->ledger);
  same_histories(st, c->run_id, d->run_id, d->ledger);
  tsr_analyze_result_free(d);
  tsr_analyze_result_free(c);
  tsr_store_close(st);
  tsr_analyze_result_free(a);
  tsr_analyze_result_free(b);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf %s %s %s %s %s-wal %s-shm", keep, rel, withdb, db, db, db);
  assert_int_equal(system(cmd), 0);
  unlink(in);
}

static void test_customer_blocks(void **state) {
  (void)state;
  char in[] = "/tmp/tsr_cb_XXXXXX";
  simulate_to(in, 20000, 3, 20);
  char out[64], path[96];
  snprintf(out, sizeof out, "%s.out", in);
  tsr_analyze_result *r;
  run_with(in, out, 1, 1, TSR_DAY_NONE, NULL, &r);
  size_t n = r->summary->n;
  assert_true(n > 2 * 8192 + 100);
  snprintf(path, sizeof path, "%s/customers.csv", out);
  FILE *c = fopen(path, "r");
  assert_non_null(c);
  char line[4096];
  assert_non_null(fgets(line, sizeof line, c)); /* header */
  size_t i = 0;
  while (fgets(line, sizeof line, c)) {
    assert_true(i < n);
    size_t len = strlen(line);
    assert_true(len > 0 && line[len - 1] == '\n');
    size_t k = strlen(r->summary->rows[i].customer_id);
    assert_memory_equal(line, r->summary->rows[i].customer_id, k);
    assert_int_equal(line[k], ',');
    /* 24 fields: 23 commas */
    size_t commas = 0;
    for (size_t j = 0; j < len; j++) commas += line[j] == ',';
    assert_int_equal(commas, 23);
    i++;
  }
  assert_int_equal(i, n);
  fclose(c);
  tsr_analyze_result_free(r);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf %s", out);
  assert_int_equal(system(cmd), 0);
  unlink(in);
}

/* The compact rows of a run that drains its ledger (app/analyze_rows.h):
 * every result file is byte for byte the one of a run that keeps
 * tsr_summary_row's rows, with and without a calibration/holdout split;
 * the rows made whole at the end are those of tsr_summary_compute bit for
 * bit (refunds, several rows a day); with release_rows the rows are not
 * made (NULL); a count beyond 32 bits is kept exactly (the side list). */
static void same_dir(const char *a, const char *b) {
  char cmd[512];
  /* run.json's seconds and timings differ */
  snprintf(cmd, sizeof cmd,
           "cd %s && for f in *; do [ \"$f\" = run.json ] || cmp -s \"$f\" \"%s/$f\" || exit 1; "
           "done",
           a, b);
  if (system(cmd) != 0) fail_msg("%s and %s differ", a, b);
}

/* The rows of a and b are the same, field by field (ids by their text). */
static void same_rows(const tsr_summary *a, const tsr_summary *b) {
  assert_int_equal(a->n, b->n);
  assert_non_null(a->rows);
  assert_non_null(b->rows);
  for (size_t i = 0; i < a->n; i++) {
    tsr_summary_row x = a->rows[i], y = b->rows[i];
    assert_string_equal(x.customer_id, y.customer_id);
    x.customer_id = y.customer_id = NULL;
    assert_memory_equal(&x, &y, sizeof x);
  }
}

static void rm_dirs(const char *in) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf %s.keep %s.compact %s.bare", in, in, in);
  assert_int_equal(system(cmd), 0);
}

/* keep / compact / compact without rows: the same files; the compact
 * rows made whole equal the kept ones. */
static void three_runs(const char *in, int quick, int64_t cal_end) {
  char keep[64], compact[64], bare[64];
  snprintf(keep, sizeof keep, "%s.keep", in);
  snprintf(compact, sizeof compact, "%s.compact", in);
  snprintf(bare, sizeof bare, "%s.bare", in);
  tsr_analyze_result *a, *b, *c;
  run_opts(in, keep, 0, 0, quick, TSR_DAY_NONE, cal_end, NULL, &a);
  run_opts(in, compact, 1, 0, quick, TSR_DAY_NONE, cal_end, NULL, &b);
  run_opts(in, bare, 1, 1, quick, TSR_DAY_NONE, cal_end, NULL, &c);
  assert_int_equal(a->has_holdout, cal_end != TSR_DAY_NONE);
  same_dir(keep, compact);
  same_dir(keep, bare);
  same_rows(a->summary, b->summary);
  for (size_t i = 0; i < b->summary->n; i++) assert_true(b->summary->rows[i].customer_id >= b->ids);
  assert_null(c->summary->rows);
  assert_int_equal(c->summary->n, a->summary->n);
  assert_int_equal(c->summary->has_holdout, a->summary->has_holdout);
  assert_memory_equal(&c->kpis, &a->kpis, sizeof a->kpis);
  tsr_analyze_result_free(a);
  tsr_analyze_result_free(b);
  tsr_analyze_result_free(c);
  rm_dirs(in);
}

static void test_compact_rows_files(void **state) {
  (void)state;
  char in[] = "/tmp/tsr_ar_XXXXXX";
  simulate_to(in, 1500, 11, 0);
  three_runs(in, 0, TSR_DAY_NONE);
  /* with a calibration/holdout split: its columns follow each row */
  three_runs(in, 0, tsr_days_from_civil(2024, 9, 30));
  unlink(in);
}

static void test_compact_rows_edges(void **state) {
  (void)state;
  char in[] = "/tmp/tsr_are_XXXXXX";
  edges_to(in);
  three_runs(in, 1, TSR_DAY_NONE);
  three_runs(in, 1, tsr_days_from_civil(2024, 8, 31));
  unlink(in);
}

/* Counts beyond 32 bits kept exactly, in rows that the side list finds
 * by their ids; the rows made whole again bit for bit. */
static void test_compact_rows_wide(void **state) {
  (void)state;
  for (int ho = 0; ho < 4; ho++) {
    tsr__arows a;
    int refunds = ho >> 1;
    tsr__arows_begin(&a, ho & 1, refunds);
    size_t elem = tsr__arows_elem(&a);
    assert_int_equal(elem, 72 + (ho & 1 ? 32 : 0) + (refunds ? 8 : 0));
    static const char *ids[4] = {"w0", "w1", "w2", "w3"};
    tsr_summary_row in[4];
    memset(in, 0, sizeof in);
    for (int i = 0; i < 4; i++) {
      tsr_summary_row *r = &in[i];
      r->customer_id = ids[i];
      r->frequency = i;
      r->recency = 0.1 * i;
      r->T = 3.5 + i;
      r->monetary_value = 1.25 * i;
      r->revenue = 100.0 / 3 + i;
      r->revenue_cal = (ho & 1) ? 7.0 / 3 : r->revenue;
      r->n_transactions = i + 1;
      r->active_days = i + 1;
      r->n_refunds = i;
      r->refund_amount = refunds ? -0.5 * i : 0;
      r->first_day = -40000 + i;
      r->last_day = 2000000 + i;
      if (ho & 1) {
        r->frequency_holdout = 2;
        r->monetary_value_holdout = 0.3;
        r->duration_holdout = 52.0 / 7;
      }
    }
    in[3].n_transactions = (int64_t)5 << 32; /* wide, made first */
    in[3].n_refunds = 1;
    in[1].active_days = (int64_t)UINT32_MAX;
    in[1].n_transactions = (int64_t)UINT32_MAX + 3;
    char *buf = tsr__malloc(4 * elem);
    assert_non_null(buf);
    static const int order[4] = {3, 0, 1, 2};
    for (int k = 0; k < 4; k++) tsr__arows_put(&a, buf + (size_t)order[k] * elem, &in[order[k]]);
    tsr_summary s;
    memset(&s, 0, sizeof s);
    s.n = 4;
    s.has_holdout = ho & 1;
    s.rows = (tsr_summary_row *)(void *)buf;
    tsr_error e;
    assert_int_equal(tsr__arows_adopt(&a, &s, &e), TSR_OK);
    assert_null(s.rows);
    for (size_t i = 0; i < 4; i++) {
      assert_true(tsr__ar_id(&a, i) == ids[i]);
      assert_true(tsr__ar_ntx(&a, i) == in[i].n_transactions);
      assert_true(tsr__ar_active(&a, i) == in[i].active_days);
      assert_true(tsr__ar_nref(&a, i) == in[i].n_refunds);
      assert_true(tsr__ar_first(&a, i) == in[i].first_day);
      assert_true(tsr__ar_last(&a, i) == in[i].last_day);
      assert_true(tsr__ar(&a, TSR__AR_REVCAL, i) == in[i].revenue_cal);
      assert_true(tsr__ar(&a, TSR__AR_DH, i) == in[i].duration_holdout);
    }
    assert_int_equal(tsr__arows_expand(&a, &s, &e), TSR_OK);
    assert_non_null(s.rows);
    assert_memory_equal(s.rows, in, sizeof in);
    tsr__arows_release(&a);
    tsr__free(s.rows);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_release_ledger),     cmocka_unit_test(test_release_ledger_store_edges),
      cmocka_unit_test(test_customer_blocks),    cmocka_unit_test(test_compact_rows_files),
      cmocka_unit_test(test_compact_rows_edges), cmocka_unit_test(test_compact_rows_wide),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
