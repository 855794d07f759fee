/* test_analyze_rows.c - the compact rows of a run that drains its ledger
 * (app/analyze_rows.h): every result file is byte for byte the one of a
 * run that keeps tsr_summary_row's rows, with and without a
 * calibration/holdout split; the rows made whole at the end are those of
 * tsr_summary_compute bit for bit (refunds, several rows a day); with
 * release_rows the rows are not made (NULL); a count beyond 32 bits is
 * kept exactly (the side list). */
#include "tsr_test.h"
#include "analyze_rows.h"
#include "tessera/analyze.h"
#include "tessera/datetime.h"
#include "tessera/simulate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void run_opts(const char *in, const char *out, int release, int rows, int quick,
                     int64_t cal_end, tsr_analyze_result **r) {
  const char *inputs[] = {in};
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  o.inputs = inputs;
  o.n_inputs = 1;
  o.out_dir = out;
  if (quick) o.model = "none", o.cluster = "none";
  o.summary.cal_end_day = cal_end;
  o.release_ledger = release;
  o.release_rows = rows;
  tsr_error e;
  tsr_status s = tsr_analyze_run(&o, NULL, r, &e);
  if (s != TSR_OK) fail_msg("analyze: %s", e.msg);
}

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

static void simulate_to(char *in, uint64_t n, uint64_t seed) {
  int fd = mkstemp(in);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  assert_non_null(f);
  tsr_simulate_opts so;
  tsr_simulate_opts_init(&so);
  so.customers = n;
  so.seed = seed;
  assert_int_equal(tsr_simulate_write(f, &so, NULL), TSR_OK);
  fclose(f);
}

/* Refunds, several rows a day, amounts not whole hundredths, a
 * refund-only customer. */
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
  fputs("c00,2024-01-01,0.2\nc01,2024-11-30,-0.7\nr1,2024-03-03,-5.25\n", f);
  fclose(f);
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
  run_opts(in, keep, 0, 0, quick, cal_end, &a);
  run_opts(in, compact, 1, 0, quick, cal_end, &b);
  run_opts(in, bare, 1, 1, quick, cal_end, &c);
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
  simulate_to(in, 1500, 11);
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
      cmocka_unit_test(test_compact_rows_files),
      cmocka_unit_test(test_compact_rows_edges),
      cmocka_unit_test(test_compact_rows_wide),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
