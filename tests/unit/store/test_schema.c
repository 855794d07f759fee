/* test_schema.c - the store's schema is described once (store/schema.def)
 * and generated per dialect. On SQLite: a fresh database equals, object for
 * object, the schema written by hand up to release b984e54
 * (schema_v3_sqlite.sql); a database of that release's version 1, with data,
 * migrates to the same schema and keeps its rows; the on-demand tables are
 * made once. On PostgreSQL the store suites (unit/test_store_pg, ...) run
 * on the generated schema. */
#include "tsr_test.h"
#include "tessera/store.h"
#include "tessera/store_act.h"

#include <ctype.h>
#include <sqlite3.h>

static char dir[64];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/tsr-schema-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

/* The fixture's SQL of versions lo..hi (lines after "-- @version N"). */
static char *fixture(int lo, int hi) {
  char path[512];
  snprintf(path, sizeof path, "%s/tests/unit/store/schema_v3_sqlite.sql", TSR_SOURCE_DIR);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char *out = calloc(1, 1 << 16), line[1024];
  int v = 0;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "-- @version %d", &v) == 1) continue;
    if (v >= lo && v <= hi && strncmp(line, "--", 2) != 0) strcat(out, line);
  }
  fclose(f);
  return out;
}

/* "type name: sql" of every object but schema_version, white space folded
 * (none after "(" or before ")"), sorted by name; one per line. */
static char *objects(const char *file) {
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(file, &db), SQLITE_OK);
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT type, name, sql FROM sqlite_master WHERE name <>"
                                      " 'schema_version' AND sql IS NOT NULL ORDER BY name",
                                      -1, &st, NULL),
                   SQLITE_OK);
  char *out = calloc(1, 1 << 16);
  size_t o = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    o += (size_t)sprintf(out + o, "%s %s: ", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1));
    int space = 0;
    for (const char *p = (const char *)sqlite3_column_text(st, 2); *p; p++) {
      if (isspace((unsigned char)*p)) {
        space = 1;
        continue;
      }
      if (space && o && out[o - 1] != '(' && *p != ')' && *p != ',') out[o++] = ' ';
      space = 0;
      out[o++] = *p;
    }
    out[o++] = '\n';
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

static void exec_file(const char *file, const char *sql) {
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(file, &db), SQLITE_OK);
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s", msg);
  sqlite3_close(db);
}

static void test_fresh_equals_handwritten(void **state) {
  (void)state;
  char gen[128], hand[128];
  snprintf(gen, sizeof gen, "%s/gen.db", dir);
  snprintf(hand, sizeof hand, "%s/hand.db", dir);
  tsr_error err;
  tsr_store *s = NULL;
  assert_int_equal(tsr_store_open(gen, TSR_STORE_CREATE, &s, &err), TSR_OK);
  tsr_store_close(s);
  char *sql = fixture(1, 4);
  exec_file(hand, sql);
  char *a = objects(gen), *b = objects(hand);
  assert_true(strlen(a) > 1000);
  assert_string_equal(a, b);
  free(sql);
  free(a);
  free(b);
}

static void test_version1_migrates(void **state) {
  (void)state;
  char old[128], fresh[128];
  snprintf(old, sizeof old, "%s/v1.db", dir);
  snprintf(fresh, sizeof fresh, "%s/fresh.db", dir);
  char *sql = fixture(1, 1);
  exec_file(old, sql);
  exec_file(old,
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL,"
            " description TEXT NOT NULL);"
            "INSERT INTO schema_version VALUES (1, 0, 'v1');"
            "INSERT INTO runs(id, created_at, command, status) VALUES (7, 1, 'analyze', 'done');"
            "INSERT INTO customers(run_id, customer_id, frequency) VALUES (7, 'C1', 2.5);");
  tsr_error err;
  tsr_store *s = NULL;
  assert_int_equal(tsr_store_open(old, 0, &s, &err), TSR_OK);
  int v = 0;
  assert_int_equal(tsr_store_schema_version(s, &v, &err), TSR_OK);
  assert_int_equal(v, tsr_store_schema_latest());
  assert_int_equal(v, 4);
  tsr_customer *c = NULL;
  assert_int_equal(tsr_store_customer_get(s, 7, "C1", &c, &err), TSR_OK);
  assert_float_equal(c->frequency, 2.5, 0);
  assert_true(isnan(c->recency));
  assert_int_equal(c->cluster, -1);
  tsr_store_free(c);
  tsr_run *r = NULL;
  assert_int_equal(tsr_store_run_get(s, 7, &r, &err), TSR_OK);
  assert_int_equal(r->status, TSR_RUN_DONE);
  tsr_store_free(r);
  tsr_store_close(s);
  assert_int_equal(tsr_store_open(fresh, TSR_STORE_CREATE, &s, &err), TSR_OK);
  tsr_store_close(s);
  char *a = objects(old), *b = objects(fresh);
  assert_string_equal(a, b);
  free(sql);
  free(a);
  free(b);
}

static void test_on_demand_tables(void **state) {
  (void)state;
  char file[128];
  snprintf(file, sizeof file, "%s/act.db", dir);
  tsr_error err;
  tsr_store *s = NULL;
  assert_int_equal(tsr_store_open(file, TSR_STORE_CREATE, &s, &err), TSR_OK);
  tsr_store_close(s);
  char *before = objects(file);
  assert_null(strstr(before, "act_decisions")); /* nothing until used */
  free(before);
  assert_int_equal(tsr_store_open(file, 0, &s, &err), TSR_OK);
  assert_int_equal(tsr_act_store_init(s, &err), TSR_OK);
  assert_int_equal(tsr_act_store_init(s, &err), TSR_OK); /* idempotent */
  tsr_act_decision d = {"D1", 5, "C1", "O1", "thompson", NULL, 0.25, NULL, NAN, 0};
  int64_t applied = -1;
  assert_int_equal(tsr_act_write(s, &d, 1, NULL, NULL, NULL, 0, &applied, &err), TSR_OK);
  int64_t n = 0, nr = 0;
  assert_int_equal(tsr_act_decisions_count(s, &n, &nr, &err), TSR_OK);
  assert_int_equal(n, 1);
  assert_int_equal(nr, 0);
  tsr_store_close(s);
  char *o = objects(file);
  assert_non_null(strstr(o, "table act_decisions: CREATE TABLE act_decisions (id TEXT PRIMARY KEY,"));
  assert_non_null(strstr(o, "propensity REAL NOT NULL"));
  free(o);
}

typedef struct listed {
  int n;
  int ok;
} listed;

static int check_listed(void *ctx, const tsr_act_decision *d) {
  listed *l = ctx;
  char id[16], cid[16];
  snprintf(id, sizeof id, "B%03d", l->n);
  snprintf(cid, sizeof cid, "C%d", l->n);
  int want_reward = l->n == 3 || l->n == 69;
  if (strcmp(d->id, id) || strcmp(d->customer_id, cid) || d->ts != 1000 + l->n ||
      fabs(d->propensity - (l->n + 1) / 100.0) > 1e-12 || strcmp(d->offer_id, l->n % 2 ? "O2" : "O1") ||
      (l->n % 3 ? d->segment != NULL : strcmp(d->segment, "champions")) ||
      (want_reward ? d->reward != (l->n == 3 ? 1 : 0) : !isnan(d->reward)))
    l->ok = 0;
  l->n++;
  return 0;
}

/* A batch of 70 decisions (multi-row statements of 32 and single rows) and
 * two rewards in one transaction; a repeated id fails the whole batch. */
static void test_act_batch(void **state) {
  (void)state;
  char file[128];
  snprintf(file, sizeof file, "%s/act_batch.db", dir);
  tsr_error err;
  tsr_store *s = NULL;
  assert_int_equal(tsr_store_open(file, TSR_STORE_CREATE, &s, &err), TSR_OK);
  assert_int_equal(tsr_act_store_init(s, &err), TSR_OK);
  enum { N = 70 };
  tsr_act_decision d[N];
  char ids[N][16], cids[N][16];
  for (int i = 0; i < N; i++) {
    snprintf(ids[i], sizeof ids[i], "B%03d", i);
    snprintf(cids[i], sizeof cids[i], "C%d", i);
    d[i] = (tsr_act_decision){ids[i], 1000 + i, cids[i], i % 2 ? "O2" : "O1", "thompson",
                              i % 3 ? NULL : "champions", (i + 1) / 100.0, "1;0.5", NAN, 0};
  }
  const char *rid[] = {"B003", "B069", "nope"};
  double rw[] = {1, 0, 1};
  int64_t rts[] = {5000, 5001, 5002}, applied = -1;
  assert_int_equal(tsr_act_write(s, d, N, rid, rw, rts, 3, &applied, &err), TSR_OK);
  assert_int_equal(applied, 2);
  int64_t n = 0, nr = 0;
  assert_int_equal(tsr_act_decisions_count(s, &n, &nr, &err), TSR_OK);
  assert_int_equal(n, N);
  assert_int_equal(nr, 2);
  listed l = {0, 1};
  assert_int_equal(tsr_act_decisions_list(s, check_listed, &l, &err), TSR_OK);
  assert_int_equal(l.n, N);
  assert_true(l.ok);
  /* the same ids again: the batch fails, nothing more is stored */
  for (int i = 0; i < N; i++) snprintf(ids[i], sizeof ids[i], "X%03d", i);
  snprintf(ids[40], sizeof ids[40], "B010");
  assert_int_not_equal(tsr_act_write(s, d, N, NULL, NULL, NULL, 0, NULL, &err), TSR_OK);
  assert_int_equal(tsr_act_decisions_count(s, &n, &nr, &err), TSR_OK);
  assert_int_equal(n, N);
  tsr_store_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fresh_equals_handwritten),
      cmocka_unit_test(test_version1_migrates),
      cmocka_unit_test(test_on_demand_tables),
      cmocka_unit_test(test_act_batch),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
