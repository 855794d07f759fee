/*
 * test_pdata_shared.c - churn and next-best-product on one tsr__pdata read
 * before (tsr__churn_run_pdata, tsr__nbp_run_pdata: `tessera analyze` reads
 * the tables once for both): at once on two threads, their results are
 * those of tsr_churn_run and tsr_nbp_run reading the tables themselves,
 * bit for bit, and the shared data is left as read.
 */
#include <pthread.h>

#include "tsr_test.h"
#include "predict_sim.h"
#include "predict/predict_internal.h"
#include "tessera/churn.h"
#include "tessera/recommend.h"
#include "tessera/sentiment.h"

static char g_dir[256];

static int setup(void **state) {
  (void)state;
  return psim_setup(g_dir, sizeof g_dir, "tsr_pdata_", 3000, 91);
}

static int teardown(void **state) {
  (void)state;
  psim_remove(g_dir);
  return 0;
}

static uint64_t mix(uint64_t h, const void *p, size_t k) {
  const unsigned char *b = p;
  for (size_t i = 0; i < k; i++) h = (h ^ b[i]) * 1099511628211ULL;
  return h;
}

/* A digest of everything the models read in d. */
static uint64_t digest(const tsr__pdata *d) {
  uint64_t h = 14695981039346656037ULL;
  size_t n = d->n;
  h = mix(h, &d->n, sizeof d->n);
  h = mix(h, &d->first_day, sizeof d->first_day);
  h = mix(h, &d->last_day, sizeof d->last_day);
  for (size_t i = 0; i < n; i++) {
    size_t ne;
    const tsr_ledger_entry *e = tsr_ledger_entries(d->lg, i, &ne);
    h = mix(h, tsr_ledger_customer(d->lg, i), strlen(tsr_ledger_customer(d->lg, i)));
    h = mix(h, e, ne * sizeof *e);
  }
  if (d->has_customers) {
    h = mix(h, d->birth, n * sizeof *d->birth);
    h = mix(h, d->join, n * sizeof *d->join);
    h = mix(h, d->income, n * sizeof *d->income);
    h = mix(h, d->risk, n * sizeof *d->risk);
    h = mix(h, d->business, n);
  }
  if (d->has_products) {
    for (size_t p = 0; p < d->nprod; p++) h = mix(h, d->products[p], strlen(d->products[p]));
    h = mix(h, d->pev_off, (n + 1) * sizeof *d->pev_off);
    h = mix(h, d->pev, d->pev_off[n] * sizeof *d->pev);
    h = mix(h, d->slot, d->nslot * sizeof *d->slot);
  }
  if (d->has_interactions) {
    h = mix(h, d->iev_off, (n + 1) * sizeof *d->iev_off);
    h = mix(h, d->iev, d->iev_off[n] * sizeof *d->iev);
  }
  return h;
}

typedef struct job {
  const tsr__pdata *d;
  tsr_churn_opts co;
  tsr_churn_result *churn;
  tsr_status st;
  tsr_error err;
} job;

static void *churn_thread(void *arg) {
  job *j = arg;
  j->st = tsr__churn_run_pdata(j->d, &j->co, &j->churn, &j->err);
  return NULL;
}

static void test_shared_same(void **state) {
  (void)state;
  tsr_churn_opts co;
  tsr_churn_opts_init(&co);
  co.cal_end_day = tsr_days_from_civil(2025, 9, 1);
  co.window_days = 120;
  co.gbm.threads = 1;
  tsr_nbp_opts no;
  tsr_nbp_opts_init(&no);
  no.cal_end_day = co.cal_end_day;
  no.window_days = 120;
  no.threads = 1;
  tsr_error err;
  /* alone: each model reads the tables */
  tsr_churn_result *c1 = NULL;
  tsr_nbp_result *n1 = NULL;
  if (tsr_churn_run(g_dir, &co, &c1, &err) != TSR_OK) fail_msg("%s", err.msg);
  if (tsr_nbp_run(g_dir, &no, &n1, &err) != TSR_OK) fail_msg("%s", err.msg);
  /* shared: read once, both at once */
  tsr__pdata d;
  if (tsr__pdata_read_tables(g_dir, NULL, NULL, NULL, &d, &err) != TSR_OK) fail_msg("%s", err.msg);
  const uint64_t before = digest(&d);
  job j;
  memset(&j, 0, sizeof j);
  j.d = &d;
  j.co = co;
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, churn_thread, &j), 0);
  tsr_nbp_result *n2 = NULL;
  tsr_status st = tsr__nbp_run_pdata(g_dir, &d, &no, &n2, &err);
  pthread_join(th, NULL);
  if (st != TSR_OK) fail_msg("nbp: %s", err.msg);
  if (j.st != TSR_OK) fail_msg("churn: %s", j.err.msg);
  assert_true(digest(&d) == before); /* only read */
  /* a second churn on the same data after both: the same again */
  tsr_churn_result *c3 = NULL;
  if (tsr__churn_run_pdata(&d, &co, &c3, &err) != TSR_OK) fail_msg("%s", err.msg);
  tsr__pdata_release(&d);
  const tsr_churn_result *c[2] = {j.churn, c3};
  for (int k = 0; k < 2; k++) {
    const tsr_churn_result *a = c1, *b = c[k];
    assert_int_equal(a->n, b->n);
    assert_true(a->n > 1000);
    for (size_t i = 0; i < a->n; i++) {
      assert_string_equal(a->customer_id[i], b->customer_id[i]);
      assert_memory_equal(&a->probability[i], &b->probability[i], sizeof a->probability[i]);
      assert_memory_equal(a->reason_feature[i], b->reason_feature[i], sizeof a->reason_feature[i]);
      assert_memory_equal(a->reason_value[i], b->reason_value[i], sizeof a->reason_value[i]);
    }
    assert_memory_equal(&a->eval[0], &b->eval[0], sizeof a->eval[0]);
    assert_int_equal(a->nfeat, b->nfeat);
    for (size_t f = 0; f < a->nfeat; f++) assert_string_equal(a->feature[f], b->feature[f]);
    assert_memory_equal(a->importance, b->importance, sizeof a->importance);
    assert_string_equal(a->model_json, b->model_json);
    assert_int_equal(a->has_customers, b->has_customers);
    assert_int_equal(a->has_products, b->has_products);
    assert_int_equal(a->has_interactions, b->has_interactions);
    assert_true(a->has_products && a->has_interactions && a->has_customers);
  }
  /* next-best-product */
  assert_int_equal(n1->n, n2->n);
  assert_int_equal(n1->top, n2->top);
  assert_int_equal(n1->nprod, n2->nprod);
  for (size_t p = 0; p < n1->nprod; p++) assert_string_equal(n1->products[p], n2->products[p]);
  for (int k = 0; k < TSR_NBP_NSCORERS; k++) assert_true(n1->weight[k] == n2->weight[k]);
  for (int k = 0; k <= TSR_NBP_NSCORERS; k++)
    assert_memory_equal(&n1->eval[k], &n2->eval[k], sizeof n1->eval[k]);
  for (size_t i = 0; i < n1->n; i++) assert_string_equal(n1->customer_id[i], n2->customer_id[i]);
  for (size_t i = 0; i < n1->n * n1->top; i++) {
    const tsr_nbp_rec *x = &n1->rec[i], *y = &n2->rec[i];
    assert_int_equal(x->product, y->product);
    if (x->product < 0) continue;
    assert_memory_equal(&x->score, &y->score, sizeof x->score);
    assert_string_equal(x->reason, y->reason);
  }
  assert_memory_equal(n1->goal, n2->goal, n1->n * sizeof *n1->goal);
  tsr_churn_result_free(c1);
  tsr_churn_result_free(j.churn);
  tsr_churn_result_free(c3);
  tsr_nbp_result_free(n1);
  tsr_nbp_result_free(n2);
}

/* The entry points check their arguments as the public ones do. */
static void test_shared_errors(void **state) {
  (void)state;
  tsr_error err;
  tsr_churn_result *c = NULL;
  tsr_nbp_result *r = NULL;
  tsr_nbp_opts no;
  tsr_nbp_opts_init(&no);
  no.cal_end_day = tsr_days_from_civil(2025, 9, 1);
  assert_int_equal(tsr__churn_run_pdata(NULL, NULL, &c, &err), TSR_EINVAL);
  assert_null(c);
  assert_int_equal(tsr__nbp_run_pdata(g_dir, NULL, &no, &r, &err), TSR_EINVAL);
  assert_null(r);
  tsr__pdata d;
  if (tsr__pdata_read_tables(g_dir, NULL, NULL, NULL, &d, &err) != TSR_OK) fail_msg("%s", err.msg);
  assert_int_equal(tsr__nbp_run_pdata(g_dir, &d, NULL, &r, &err), TSR_EINVAL); /* no cutoff */
  assert_string_equal(err.field, "calibration_end");
  tsr_churn_opts co;
  tsr_churn_opts_init(&co);
  co.cal_end_day = tsr_days_from_civil(2020, 1, 1); /* before the data */
  assert_int_equal(tsr__churn_run_pdata(&d, &co, &c, &err), TSR_EINVAL);
  assert_null(c);
  tsr__pdata_release(&d);
}

/* The interactions' complaint flags and sentiments (kept per distinct text
 * while reading, pdata.c text_score) are those of scoring each row: more
 * distinct messages than the memo keeps, each several times, messages that
 * are prefixes of others, messages of 256 bytes and more, empty messages
 * and topics; one interaction per customer. */
static void test_interaction_texts(void **state) {
  (void)state;
  char dir[256], p[512];
  assert_int_equal(psim_mkdir(dir, sizeof dir, "tsr_itext_"), 0);
  const size_t n = 40000, distinct = 20000; /* > TSR__TEXT_MEMO_MAX */
  static const char *const stems[] = {"I am unhappy with the fee", "Thanks great help",
                                      "Terrible wait on the phone", "Please update my address",
                                      "Thanks great help!!!", "I am unhappy"};
  char *msg = malloc(n * 320);
  snprintf(p, sizeof p, "%s/transactions.csv", dir);
  FILE *ft = fopen(p, "w");
  snprintf(p, sizeof p, "%s/interactions.csv", dir);
  FILE *fi = fopen(p, "w");
  assert_non_null(ft);
  assert_non_null(fi);
  fprintf(ft, "transaction_id,customer_id,timestamp,amount\n");
  fprintf(fi, "interaction_id,customer_id,timestamp,channel,topic,message\n");
  for (size_t i = 0; i < n; i++) {
    size_t k = (i * 7919) % distinct; /* each text twice, scattered */
    char *m = msg + i * 320;
    if (k % 97 == 0) m[0] = '\0';
    else if (k % 89 == 0) {
      int h = snprintf(m, 320, "awful %zu ", k); /* 300 bytes: never kept */
      memset(m + h, 'a', 300 - (size_t)h);
      m[300] = '\0';
    } else if (k < 600) snprintf(m, 320, "%s", stems[k % 6]); /* few texts, many times */
    else snprintf(m, 320, "%s %zu", stems[k % 6], k);
    fprintf(ft, "T%zu,C%zu,2025-01-0%zuT10:00:00Z,10.5\n", i, i, 1 + i % 9);
    fprintf(fi, "I%zu,C%zu,2025-01-0%zuT11:00:00Z,call,%s,%s\n", i, i, 1 + i % 9,
            k % 5 == 0 ? "complaint" : k % 5 == 1 ? "" : "fees", m);
  }
  fclose(ft);
  fclose(fi);
  tsr__pdata d;
  tsr_error err;
  if (tsr__pdata_read_tables(dir, NULL, NULL, NULL, &d, &err) != TSR_OK) fail_msg("%s", err.msg);
  assert_true(d.has_interactions);
  size_t kept_complaints = 0;
  for (size_t i = 0; i < n; i++) {
    char id[32];
    snprintf(id, sizeof id, "C%zu", i);
    ptrdiff_t c = tsr_ledger_find(d.lg, id);
    assert_true(c >= 0);
    assert_int_equal(d.iev_off[c + 1] - d.iev_off[c], 1);
    const tsr__ievent *e = &d.iev[d.iev_off[c]];
    size_t k = (i * 7919) % distinct;
    const char *m = msg + i * 320;
    int want_c = k % 5 == 0 || strstr(m, "unhappy") || strstr(m, "Terrible") || strstr(m, "awful");
    assert_int_equal(e->complaint, want_c);
    kept_complaints += e->complaint;
    if (!m[0]) {
      assert_true(isnan(e->sentiment));
      continue;
    }
    tsr_sentiment_result sr;
    tsr_sentiment_score(m, strlen(m), &sr);
    float want = (float)sr.compound;
    if (memcmp(&want, &e->sentiment, sizeof want))
      fail_msg("row %zu '%s': sentiment %.9g, scored %.9g", i, m, (double)e->sentiment,
               (double)want);
  }
  assert_true(kept_complaints > n / 4 && kept_complaints < n);
  tsr__pdata_release(&d);
  free(msg);
  psim_remove(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shared_same),
      cmocka_unit_test(test_shared_errors),
      cmocka_unit_test(test_interaction_texts),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
