/* test_analyze_history.c - the pipeline stores every customer's purchase
 * history with the run (app/analyze_history.c), so runs of the CLI have it
 * as well as the server's jobs; and it reports the run's id once the run
 * exists (on_run), before its first event. */
#include "tsr_test.h"
#include "analyze_history.h"
#include "tessera/analyze.h"
#include "tessera/store_web.h"

#include <sqlite3.h>

static const char tx[] =
    "customer_id,date,amount\n"
    "a,2024-01-01,10\n"
    "a,2024-01-01,5\n"   /* same day: one row of 2 purchases */
    "a,2024-01-15,20\n"
    "b,2024-01-03,100\n"
    "c,2024-01-10,1\n"
    "d,2024-01-12,-7\n"; /* refunds only: no customers row */

typedef struct seen {
  int64_t run_id;
  int events_before_run;
  int events;
} seen;

static void on_run(void *ud, int64_t run_id) {
  seen *s = ud;
  s->run_id = run_id;
  s->events_before_run = s->events;
}

static void on_event(void *ud, int level, const char *step, const char *msg) {
  (void)level, (void)step, (void)msg;
  ((seen *)ud)->events++;
}

typedef struct hist {
  tsr_web_history_row rows[8];
  size_t n;
} hist;

static int hist_cb(void *ctx, const tsr_web_history_row *h) {
  hist *x = ctx;
  if (x->n < 8) x->rows[x->n++] = *h;
  return 0;
}

static void test_history_stored(void **state) {
  (void)state;
  char path[64], db[80];
  assert_non_null(tsr_test_tmpfile(tx, sizeof tx - 1, path, sizeof path));
  snprintf(db, sizeof db, "%s.db", path);
  const char *inputs[] = {path};
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  o.inputs = inputs;
  o.n_inputs = 1;
  o.model = "none";
  o.cluster = "none";
  seen s = {0, -1, 0};
  o.on_run = on_run;
  o.on_event = on_event;
  o.ud = &s;
  tsr_store *st;
  tsr_error e;
  assert_int_equal(tsr_store_open(db, TSR_STORE_CREATE, &st, &e), TSR_OK);
  tsr_analyze_result *r;
  assert_int_equal(tsr_analyze_run(&o, st, &r, &e), TSR_OK);
  assert_true(r->run_id > 0);
  assert_int_equal(s.run_id, r->run_id);
  assert_int_equal(s.events_before_run, 0);
  assert_true(s.events > 0);
  hist h = {{{0}}, 0};
  assert_int_equal(tsr_web_history_list(st, r->run_id, "a", hist_cb, &h, &e), TSR_OK);
  assert_int_equal(h.n, 2);
  assert_int_equal(h.rows[0].day, 19723); /* 2024-01-01 */
  assert_int_equal(h.rows[0].ntx, 2);
  assert_near(h.rows[0].amount, 15, 1e-12);
  assert_int_equal(h.rows[1].day, 19737); /* 2024-01-15 */
  assert_int_equal(h.rows[1].ntx, 1);
  assert_near(h.rows[1].amount, 20, 1e-12);
  h.n = 0;
  assert_int_equal(tsr_web_history_list(st, r->run_id, "b", hist_cb, &h, &e), TSR_OK);
  assert_int_equal(h.n, 1);
  assert_near(h.rows[0].amount, 100, 1e-12);
  /* schema version 4: in the customer's row, none in web_history; the
   * refunds-only customer has no row and keeps its history there */
  tsr_customer *c = NULL;
  assert_int_equal(tsr_store_customer_get(st, r->run_id, "a", &c, &e), TSR_OK);
  assert_non_null(c->history);
  assert_string_equal(c->history, "19723*2,1500;14,2000");
  tsr_store_free(c);
  h.n = 0;
  assert_int_equal(tsr_web_history_list(st, r->run_id, "d", hist_cb, &h, &e), TSR_OK);
  assert_int_equal(h.n, 1);
  assert_int_equal(h.rows[0].day, 19734);
  assert_int_equal(h.rows[0].ntx, 0);
  assert_int_equal(tsr_store_customer_get(st, r->run_id, "d", &c, &e), TSR_ENOTFOUND);
  sqlite3 *db3 = NULL;
  sqlite3_stmt *q = NULL;
  assert_int_equal(sqlite3_open(db, &db3), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db3, "SELECT group_concat(customer_id) FROM web_history", -1, &q, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "d");
  sqlite3_finalize(q);
  sqlite3_close(db3);
  tsr_analyze_result_free(r);
  tsr_store_close(st);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -f %s %s-wal %s-shm", db, db, db);
  assert_int_equal(system(cmd), 0);
  unlink(path);
}

/* The pack made on its thread (tsr__hist_pack_start) is the one made by
 * the drain's hook alone: many chunks (the ring full, the drain waiting),
 * customers without a row (their ids), a customer larger than a chunk
 * (packed by the drain once the thread has caught up), amounts not in
 * whole hundredths, customers in another order than their numbers. */
static void test_pack_thread(void **state) {
  (void)state;
  enum { N = 40000, BIG = 70000 };
  tsr_ledger_entry *e = calloc(BIG, sizeof *e);
  assert_non_null(e);
  tsr__hist_pack p[2];
  tsr_error err;
  for (int t = 0; t < 2; t++) {
    assert_int_equal(tsr__hist_pack_init(&p[t], N, &err), TSR_OK);
    if (t) tsr__hist_pack_start(&p[t]);
    for (size_t m = 0; m < N; m++) {
      size_t i = (m * 7919) % N; /* the drain's order is not the numbers' */
      size_t k = i == 777 ? BIG : 1 + (i * 13) % 40;
      for (size_t j = 0; j < k; j++) {
        e[j].day = (int32_t)(19000 + j * 3 + i % 5);
        e[j].ntx = (uint32_t)((i + j) % 4);
        e[j].amount = (i + j) % 9 == 0 ? 0.1 * (double)(i + j) + 1e-9
                                       : (double)((i * 31 + j) % 100000) / 100.0;
      }
      char id[32];
      snprintf(id, sizeof id, "cust-%zu", i);
      tsr__hist_pack_take(&p[t], i, id, e, k, i % 11 != 0);
    }
    tsr__hist_pack_end(&p[t]);
    tsr__hist_pack_end(&p[t]); /* again: nothing */
    assert_false(p[t].oom);
  }
  assert_int_equal(p[0].len, p[1].len);
  assert_memory_equal(p[0].buf, p[1].buf, p[0].len);
  assert_memory_equal(p[0].off, p[1].off, N * sizeof *p[0].off);
  assert_memory_equal(p[0].row, p[1].row, N);
  /* and the texts come out of it as the drain gave the days */
  tsr__hist_text h = {0};
  size_t off;
  assert_int_equal(tsr__hist_text_add_pack(&h, &p[1], 777, &off, &err), TSR_OK);
  assert_int_equal(strncmp(h.buf + off, "19002,", 6), 0);
  tsr__hist_text_free(&h);
  tsr__hist_pack_free(&p[0]);
  tsr__hist_pack_free(&p[1]);
  /* a pack freed with its thread running (a failed drain) */
  assert_int_equal(tsr__hist_pack_init(&p[0], 4, &err), TSR_OK);
  tsr__hist_pack_start(&p[0]);
  tsr__hist_pack_take(&p[0], 2, "x", e, 3, 1);
  tsr__hist_pack_free(&p[0]);
  free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_history_stored),
      cmocka_unit_test(test_pack_thread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
