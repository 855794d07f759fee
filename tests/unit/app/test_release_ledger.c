/* test_release_ledger.c - tsr_analyze_opts.release_ledger: the ledger is
 * freed after the summary (res->ledger NULL, the ids in res->ids) and every
 * result file is byte for byte the one of a run that keeps it; with a
 * store the option is ignored (the purchase histories read the ledger).
 * customers.csv of 20,000 customers (blocks of 8192 lines formatted two at
 * a time) has every customer once, in order, with whole lines. */
#include "tsr_test.h"
#include "tessera/analyze.h"
#include "tessera/simulate.h"
#include "tessera/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void run(const char *in, const char *out, int release, tsr_store *st,
                tsr_analyze_result **r) {
  const char *inputs[] = {in};
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  o.inputs = inputs;
  o.n_inputs = 1;
  o.out_dir = out;
  o.release_ledger = release;
  tsr_error e;
  tsr_status s = tsr_analyze_run(&o, st, r, &e);
  if (s != TSR_OK) fail_msg("analyze: %s", e.msg);
}

static void same_file(const char *a, const char *b, const char *name) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "cmp -s %s/%s %s/%s", a, name, b, name);
  if (system(cmd) != 0) fail_msg("%s differs", name);
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
  static const char *files[] = {"customers.csv", "segments.csv", "clusters.csv", "run.json",
                                "gg.json", "cluster_model.json"};
  for (size_t k = 0; k < sizeof files / sizeof *files; k++) same_file(keep, rel, files[k]);
  /* with a store: kept */
  tsr_store *st;
  tsr_error e;
  assert_int_equal(tsr_store_open(db, TSR_STORE_CREATE, &st, &e), TSR_OK);
  run(in, withdb, 1, st, &c);
  assert_non_null(c->ledger);
  assert_null(c->ids);
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
  const char *inputs[] = {in};
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  o.inputs = inputs;
  o.n_inputs = 1;
  o.out_dir = out;
  o.model = "none";
  o.cluster = "none";
  o.release_ledger = 1;
  tsr_analyze_result *r;
  tsr_error e;
  assert_int_equal(tsr_analyze_run(&o, NULL, &r, &e), TSR_OK);
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_release_ledger),
      cmocka_unit_test(test_customer_blocks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
