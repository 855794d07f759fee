/* test_analyze_harden.c - issue 11: a store failure while registering the
 * dataset fails the run (it used to be stored as done without its dataset,
 * rejects and kept input), and an output folder is never left with the
 * previous run's run.json beside half-written files. */
#include "tsr_test.h"
#include "tessera/analyze.h"
#include "tessera/store.h"

#include <dirent.h>
#include <sqlite3.h>
#include <sys/stat.h>

static const char tx[] =
    "customer_id,date,amount\n"
    "a,2024-01-01,10\n"
    "a,2024-01-15,20\n"
    "b,2024-01-03,100\n"
    "b,2024-01-03,oops\n" /* one reject */
    "c,2024-01-10,1\n"
    "d,2024-02-01,4\n";

static int count_runs_cb(void *ctx, const tsr_run *r) {
  int *n = ctx;
  n[0]++;
  if (r->status == TSR_RUN_DONE) n[1]++;
  return 0;
}

static void sql(const char *db, const char *q) {
  sqlite3 *h = NULL;
  assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
  char *msg = NULL;
  int rc = sqlite3_exec(h, q, NULL, NULL, &msg);
  if (rc != SQLITE_OK) fprintf(stderr, "%s: %s\n", q, msg ? msg : "?");
  sqlite3_free(msg);
  sqlite3_close(h);
  assert_int_equal(rc, SQLITE_OK);
}

/* table (datasets or rejects) refuses inserts: the store fails as it does
 * when another writer holds the lock past the busy timeout */
static void store_failure(const char *table) {
  char path[64], db[96], keep[96];
  assert_non_null(tsr_test_tmpfile(tx, sizeof tx - 1, path, sizeof path));
  snprintf(db, sizeof db, "%s.db", path);
  snprintf(keep, sizeof keep, "%s.files", path);
  tsr_store *s = NULL;
  tsr_error e;
  assert_int_equal(tsr_store_open(db, TSR_STORE_CREATE, &s, &e), TSR_OK);
  char q[256];
  snprintf(q, sizeof q,
           "CREATE TRIGGER no_%s BEFORE INSERT ON %s BEGIN SELECT RAISE(ABORT, 'injected'); END",
           table, table);
  sql(db, q);
  const char *inputs[] = {path};
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  o.inputs = inputs;
  o.n_inputs = 1;
  o.model = "none";
  o.cluster = "none";
  o.keep_dir = keep;
  tsr_analyze_result *r = NULL;
  tsr_error_clear(&e);
  tsr_status st = tsr_analyze_run(&o, s, &r, &e);
  assert_int_equal(st, TSR_ESTORE);
  assert_null(r);
  assert_non_null(strstr(e.msg, "injected"));
  int n[2] = {0, 0};
  assert_int_equal(tsr_store_runs_list(s, 0, 0, count_runs_cb, n, &e), TSR_OK);
  assert_int_equal(n[1], 0); /* no run claims to be done */
  tsr_store_stats ss;
  assert_int_equal(tsr_store_stats_get(s, &ss, &e), TSR_OK);
  assert_int_equal(ss.datasets, 0); /* no dataset without its rejects */
  assert_int_equal(ss.rejects, 0);
  tsr_store_close(s);
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "rm -rf %s %s %s-wal %s-shm %s", path, db, db, db, keep);
  assert_int_equal(system(cmd), 0);
}

static void test_dataset_insert_fails(void **state) {
  (void)state;
  store_failure("datasets");
}

static void test_rejects_insert_fails(void **state) {
  (void)state;
  store_failure("rejects");
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  static char buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  return buf;
}

static int tmp_files(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)))
    if (strstr(de->d_name, ".tmp-")) n++;
  closedir(d);
  return n;
}

static void test_output_folder_atomic(void **state) {
  (void)state;
  char path[64], out[96], p[160];
  assert_non_null(tsr_test_tmpfile(tx, sizeof tx - 1, path, sizeof path));
  snprintf(out, sizeof out, "%s.out", path);
  assert_int_equal(mkdir(out, 0777), 0);
  /* the previous run's files */
  snprintf(p, sizeof p, "%s/run.json", out);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs("{\"run_id\":1}\n", f);
  fclose(f);
  /* segments.csv cannot be written (a folder of that name) */
  snprintf(p, sizeof p, "%s/segments.csv", out);
  assert_int_equal(mkdir(p, 0777), 0);
  const char *inputs[] = {path};
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  o.inputs = inputs;
  o.n_inputs = 1;
  o.model = "none";
  o.cluster = "none";
  o.out_dir = out;
  tsr_analyze_result *r = NULL;
  tsr_error e;
  assert_int_equal(tsr_analyze_run(&o, NULL, &r, &e), TSR_EIO);
  /* no run.json: the folder is visibly incomplete, not the old run's */
  snprintf(p, sizeof p, "%s/run.json", out);
  assert_int_equal(access(p, F_OK), -1);
  assert_int_equal(tmp_files(out), 0);
  /* customers.csv, written before the failure, is whole */
  snprintf(p, sizeof p, "%s/customers.csv", out);
  char *c = slurp(p);
  assert_non_null(c);
  size_t lines = 0;
  for (char *q = c; *q; q++) lines += *q == '\n';
  assert_int_equal(lines, 5); /* header + 4 customers */
  assert_int_equal(c[strlen(c) - 1], '\n');
  /* once writable, the folder is complete and says so */
  snprintf(p, sizeof p, "%s/segments.csv", out);
  assert_int_equal(rmdir(p), 0);
  assert_int_equal(tsr_analyze_run(&o, NULL, &r, &e), TSR_OK);
  tsr_analyze_result_free(r);
  snprintf(p, sizeof p, "%s/run.json", out);
  c = slurp(p);
  assert_non_null(c);
  assert_non_null(strstr(c, "\"complete\":true,\"files\":[\"customers.csv\",\"segments.csv\"]"));
  assert_int_equal(tmp_files(out), 0);
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "rm -rf %s %s", path, out);
  assert_int_equal(system(cmd), 0);
}

/* The store's rows begin on a thread once their columns are final
 * (app/analyze.c rows_job), beside the clusters' profiles, the KPIs and
 * the files, with the run's events held meanwhile. A run stopped there
 * (canceled at the clusters' event) or whose rows fail (a trigger) leaves
 * the store as the sequential order does (TESSERA_PREDICT_THREADS=0): no
 * customer, the same events in the same order, the run's status. */
typedef struct stop_ctx {
  volatile int cancel;
  const char *at; /* the step whose event cancels, or NULL */
} stop_ctx;

static void stop_on_event(void *ud, int level, const char *step, const char *msg) {
  stop_ctx *c = ud;
  (void)level, (void)msg;
  if (c->at && !strcmp(step, c->at)) c->cancel = 1;
}

static int events_cb(void *ctx, const tsr_event *e) {
  char *buf = ctx;
  size_t n = strlen(buf);
  snprintf(buf + n, 8192 - n, "%lld %d %s %s\n", (long long)e->id, (int)e->level, e->step,
           strncmp(e->message, "done in", 7) ? e->message : "done");
  return 0;
}

/* One run in the given order; its events (and status) into out[8192]. */
static tsr_status early_rows_run(const char *path, int sequential, const char *cancel_at,
                                 const char *trigger, char *out, int64_t *customers) {
  char db[96];
  snprintf(db, sizeof db, "%s.db", path);
  remove(db);
  tsr_store *s = NULL;
  tsr_error e;
  assert_int_equal(tsr_store_open(db, TSR_STORE_CREATE, &s, &e), TSR_OK);
  if (trigger) sql(db, trigger);
  if (sequential) setenv("TESSERA_PREDICT_THREADS", "0", 1);
  const char *inputs[] = {path};
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  o.inputs = inputs;
  o.n_inputs = 1;
  o.model = "none"; /* the fits are not what is tested */
  stop_ctx c = {0, cancel_at};
  o.cancel = &c.cancel;
  o.on_event = stop_on_event;
  o.ud = &c;
  tsr_analyze_result *r = NULL;
  tsr_status st = tsr_analyze_run(&o, s, &r, &e);
  unsetenv("TESSERA_PREDICT_THREADS");
  tsr_analyze_result_free(r);
  out[0] = '\0';
  assert_int_equal(tsr_store_events_list(s, 0, TSR_LOG_INFO, events_cb, out, &e), TSR_OK);
  tsr_customer_query q;
  tsr_customer_query_init(&q, 1);
  assert_int_equal(tsr_store_customers_count(s, &q, customers, &e), TSR_OK);
  tsr_store_close(s);
  remove(db);
  return st;
}

static void test_early_rows_stop(void **state) {
  (void)state;
  /* 60 customers: enough for the clustering to be fitted early */
  static char tx2[8192];
  size_t n = (size_t)snprintf(tx2, sizeof tx2, "customer_id,date,amount\n");
  for (int c = 0; c < 60; c++)
    for (int k = 0; k <= c % 4; k++)
      n += (size_t)snprintf(tx2 + n, sizeof tx2 - n, "c%02d,2024-%02d-%02d,%d.%02d\n", c,
                            1 + (c + 3 * k) % 12, 1 + (c * 7 + k) % 28, 5 + c % 17, (c * k) % 100);
  char path[64];
  assert_non_null(tsr_test_tmpfile(tx2, n, path, sizeof path));
  static char seq[8192], thr[8192];
  int64_t nseq = -1, nthr = -1;
  /* done: the same events */
  assert_int_equal(early_rows_run(path, 1, NULL, NULL, seq, &nseq), TSR_OK);
  assert_int_equal(early_rows_run(path, 0, NULL, NULL, thr, &nthr), TSR_OK);
  assert_string_equal(seq, thr);
  assert_int_equal(nseq, 60);
  assert_int_equal(nthr, 60);
  assert_non_null(strstr(thr, " cluster "));
  /* canceled at the clusters' event: the rows (begun) rolled back */
  assert_int_equal(early_rows_run(path, 1, "cluster", NULL, seq, &nseq), TSR_ECANCELED);
  assert_int_equal(early_rows_run(path, 0, "cluster", NULL, thr, &nthr), TSR_ECANCELED);
  assert_string_equal(seq, thr);
  assert_int_equal(nseq, 0);
  assert_int_equal(nthr, 0);
  assert_non_null(strstr(thr, " cluster "));
  /* the rows fail: the held events are still written, before the error */
  const char *trig =
      "CREATE TRIGGER no_rows BEFORE INSERT ON customers BEGIN SELECT RAISE(ABORT, 'injected'); END";
  assert_int_equal(early_rows_run(path, 1, NULL, trig, seq, &nseq), TSR_ESTORE);
  assert_int_equal(early_rows_run(path, 0, NULL, trig, thr, &nthr), TSR_ESTORE);
  assert_string_equal(seq, thr);
  assert_int_equal(nthr, 0);
  assert_non_null(strstr(thr, " cluster "));
  assert_non_null(strstr(thr, "injected"));
  remove(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dataset_insert_fails),
      cmocka_unit_test(test_rejects_insert_fails),
      cmocka_unit_test(test_output_folder_atomic),
      cmocka_unit_test(test_early_rows_stop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
