/*
 * test_anomaly.c - robust per-customer anomaly scores (tessera/anomaly.h)
 * on a hand-built history with one anomaly of each kind.
 */
#include "tsr_test.h"
#include "tessera/anomaly.h"

static void add(tsr_anomaly_detector *d, const char *id, const char *cust, int64_t t, double amount,
                const char *chan, const char *cat) {
  tsr_anomaly_tx tx = {id, cust, t, amount, chan, cat};
  tsr_error err;
  assert_int_equal(tsr_anomaly_add(d, &tx, &err), TSR_OK);
}

static size_t find(const tsr_anomaly_detector *d, const char *id) {
  for (size_t i = 0; i < tsr_anomaly_count(d); i++)
    if (!strcmp(tsr_anomaly_id(d, i), id)) return i;
  fail_msg("%s not found", id);
  return 0;
}

static void test_kinds(void **state) {
  (void)state;
  tsr_anomaly_detector *d = NULL;
  tsr_error err;
  assert_int_equal(tsr_anomaly_new(NULL, &d, &err), TSR_OK);
  const int64_t day = 86400, t0 = 1700000000 / day * day;
  char id[16], cust[8];
  /* 40 customers, 30 normal transactions each: around 12:00-14:00,
   * amounts 20..40, groceries or dining, card_pos */
  for (int c = 0; c < 40; c++) {
    snprintf(cust, sizeof cust, "C%02d", c);
    for (int k = 0; k < 30; k++) {
      snprintf(id, sizeof id, "T%02d_%02d", c, k);
      add(d, id, cust, t0 + k * 3 * day + 12 * 3600 + (k % 5) * 1500, 20 + (k * 7) % 21, "card_pos",
          k % 2 ? "groceries" : "dining");
    }
  }
  /* customer C00: a 30x amount; C01: 03:00; C02: gambling; C03: a burst of 5 */
  add(d, "SPIKE", "C00", t0 + 91 * day + 13 * 3600, 900, "card_pos", "groceries");
  add(d, "NIGHT", "C01", t0 + 91 * day + 3 * 3600, 30, "card_pos", "dining");
  add(d, "GAMBLE", "C02", t0 + 91 * day + 13 * 3600, 30, "card_pos", "gambling");
  for (int k = 0; k < 5; k++) {
    snprintf(id, sizeof id, "BURST%d", k);
    add(d, id, "C03", t0 + 91 * day + 13 * 3600 + k * 600, 30, "card_pos", "dining");
  }
  assert_int_equal(tsr_anomaly_run(d, &err), TSR_OK);
  assert_int_equal(tsr_anomaly_count(d), 1208);
  /* the 8 injected transactions are exactly the flagged ones */
  assert_int_equal(tsr_anomaly_nflagged(d), 8);
  for (size_t k = 0; k < 8; k++) {
    const char *tid = tsr_anomaly_id(d, tsr_anomaly_rank(d, k));
    assert_true(!strcmp(tid, "SPIKE") || !strcmp(tid, "NIGHT") || !strcmp(tid, "GAMBLE") ||
                !strncmp(tid, "BURST", 5));
  }
  char buf[512];
  size_t i = find(d, "SPIKE");
  /* log amounts of C00 (31 of them, the spike included): median 27; 900/27 = 33.3x */
  tsr_anomaly_reasons(d, i, buf, sizeof buf);
  assert_non_null(strstr(buf, "amount 33.3x the customer's median"));
  tsr_anomaly_reasons(d, find(d, "NIGHT"), buf, sizeof buf);
  assert_non_null(strstr(buf, "unusual hour 03:00"));
  i = find(d, "GAMBLE");
  tsr_anomaly_reasons(d, i, buf, sizeof buf);
  assert_string_equal(buf, "merchant category 'gambling' never used otherwise");
  /* gambling: share 1/1208 < 0.1 %: full weight 4 */
  assert_near(tsr_anomaly_score(d, i), 4.0, 1e-6);
  i = find(d, "BURST2");
  tsr_anomaly_reasons(d, i, buf, sizeof buf);
  assert_string_equal(buf, "burst: 5 transactions within 60 min");
  assert_near(tsr_anomaly_score(d, i), 5.0, 1e-6);
  /* a normal transaction scores 0 */
  assert_near(tsr_anomaly_score(d, find(d, "T10_10")), 0, 0);
  tsr_anomaly_free(d);
}

static void test_params(void **state) {
  (void)state;
  tsr_anomaly_params p;
  tsr_anomaly_params_init(&p);
  p.burst_count = 1;
  tsr_anomaly_detector *d = NULL;
  tsr_error err;
  assert_int_equal(tsr_anomaly_new(&p, &d, &err), TSR_EINVAL);
  assert_string_equal(err.field, "burst_count");
  tsr_anomaly_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_kinds), cmocka_unit_test(test_params)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
