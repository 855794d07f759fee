/*
 * test_anomaly.c - robust per-customer anomaly scores (tessera/anomaly.h)
 * on a hand-built history with one anomaly of each kind.
 */
#include "tsr_test.h"
#include "internal.h"
#include <errno.h>
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

/* Random histories: scores do not depend on the order of addition (the
 * per-customer time order, sorted or already in order); the rank is the
 * (score descending, index) order, by the radix sort and by the fallback
 * (its key allocation failing); customers in order of first transaction. */
static tsr_anomaly_detector *random_detector(unsigned seed, int shuffled) {
  tsr_anomaly_detector *d = NULL;
  tsr_error err;
  assert_int_equal(tsr_anomaly_new(NULL, &d, &err), TSR_OK);
  enum { NT = 3000 };
  static struct { char id[16], cust[8]; int64_t t; double amt; int chan, cat; } tx[NT];
  static int ord[NT];
  srand(seed);
  for (int i = 0; i < NT; i++) {
    int c = rand() % 150; /* 20 transactions a customer on average, 2..60 */
    snprintf(tx[i].id, sizeof tx[i].id, "T%d", i);
    snprintf(tx[i].cust, sizeof tx[i].cust, "C%d", c);
    tx[i].t = 1700000000 + (int64_t)(rand() % 200) * 86400 + rand() % 86400;
    if (rand() % 10 == 0 && i) tx[i].t = tx[i - 1].t + rand() % 900; /* bursts, ties */
    tx[i].amt = rand() % 7 == 0 ? 0 : 5 + rand() % 90 + (rand() % 50 == 0 ? 2000 : 0);
    tx[i].chan = rand() % 4;
    tx[i].cat = rand() % 30;
    ord[i] = i;
  }
  /* by time (customers first seen in time order), or shuffled */
  for (int i = 1; i < NT; i++)
    for (int j = i; j > 0 && tx[ord[j - 1]].t > tx[ord[j]].t; j--) {
      int k = ord[j];
      ord[j] = ord[j - 1];
      ord[j - 1] = k;
    }
  if (shuffled)
    for (int i = NT - 1; i > 0; i--) {
      int j = rand() % (i + 1), k = ord[i];
      ord[i] = ord[j];
      ord[j] = k;
    }
  static const char *chans[] = {"card_pos", "web", "mobile", "atm"};
  char cat[16];
  for (int i = 0; i < NT; i++) {
    const int k = ord[i];
    snprintf(cat, sizeof cat, "cat%d", tx[k].cat);
    add(d, tx[k].id, tx[k].cust, tx[k].t, tx[k].amt, chans[tx[k].chan], cat);
  }
  return d;
}

static void check_rank(const tsr_anomaly_detector *d) {
  size_t n = tsr_anomaly_count(d);
  char *seen = calloc(n, 1);
  for (size_t k = 0; k < n; k++) {
    size_t i = tsr_anomaly_rank(d, k);
    assert_true(i < n && !seen[i]);
    seen[i] = 1;
    if (k) {
      size_t j = tsr_anomaly_rank(d, k - 1);
      double a = tsr_anomaly_score(d, j), b = tsr_anomaly_score(d, i);
      assert_true(a > b || (a == b && j < i));
    }
  }
  free(seen);
}

static void test_orders(void **state) {
  (void)state;
  tsr_error err;
  tsr_anomaly_detector *a = random_detector(5, 0), *b = random_detector(5, 1);
  assert_int_equal(tsr_anomaly_run(a, &err), TSR_OK);
  assert_int_equal(tsr_anomaly_run(b, &err), TSR_OK);
  size_t n = tsr_anomaly_count(a), pos = 0, zero = 0;
  assert_true(tsr_anomaly_nflagged(a) > 20);
  assert_int_equal(tsr_anomaly_nflagged(a), tsr_anomaly_nflagged(b));
  for (size_t i = 0; i < n; i++) {
    size_t j = find(b, tsr_anomaly_id(a, i));
    assert_true(tsr_anomaly_score(a, i) == tsr_anomaly_score(b, j));
    pos += tsr_anomaly_score(a, i) > 0;
    zero += tsr_anomaly_score(a, i) == 0;
  }
  assert_true(pos > 50 && zero > 50); /* ties in the rank */
  check_rank(a);
  check_rank(b);
  /* customers in order of first transaction */
  size_t nc = tsr_anomaly_ncustomers(b), next = 0;
  assert_int_equal(nc, 150);
  for (size_t i = 0; i < n; i++) {
    size_t c = tsr_anomaly_customer_of(b, i);
    assert_true(c <= next);
    if (c == next) next++;
    assert_string_equal(tsr_anomaly_customer_id(b, c), tsr_anomaly_customer(b, i));
  }
  assert_null(tsr_anomaly_customer_id(b, nc));
  /* the rank without the radix sort's keys (the run's 8th allocation) */
  tsr_anomaly_detector *c = random_detector(5, 1);
  tsr__alloc_fail_after(7);
  assert_int_equal(tsr_anomaly_run(c, &err), TSR_OK);
  tsr__alloc_fail_after(-1);
  for (size_t k = 0; k < n; k++) assert_int_equal(tsr_anomaly_rank(c, k), tsr_anomaly_rank(b, k));
  tsr_anomaly_free(a);
  tsr_anomaly_free(b);
  tsr_anomaly_free(c);
}

/* tsr_anomaly_csv_header/_row give what tsr_anomaly_read_csv gives. */
static void test_csv_rows(void **state) {
  (void)state;
  const char *csv = "txid,Customer ID,date,amount,channel\n"
                    "T1,C1,2024-01-01T10:00:00Z,10,web\n"
                    "T2,C1,2024-01-02T10:00:00Z,x,web\n"
                    "T3,,2024-01-03T10:00:00Z,12,web\n"
                    "T4,C2,2024-01-03T10:00:00Z\n"
                    ",C2,2024-01-04T10:00:00Z,14,atm\n"
                    "T6,C1,someday,15,web\n";
  char path[] = "/tmp/tsr_anom_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, csv, strlen(csv)), (ssize_t)strlen(csv));
  close(fd);
  tsr_error err;
  tsr_anomaly_detector *a, *b;
  assert_int_equal(tsr_anomaly_new(NULL, &a, &err), TSR_OK);
  assert_int_equal(tsr_anomaly_new(NULL, &b, &err), TSR_OK);
  int64_t rej = 0;
  assert_int_equal(tsr_anomaly_read_csv(a, path, NULL, &rej, &err), TSR_OK);
  assert_int_equal(rej, 4);
  tsr_csv *c;
  assert_int_equal(tsr_csv_open(path, NULL, &c, &err), TSR_OK);
  tsr_csv_record rec;
  assert_int_equal(tsr_csv_next(c, &rec, &err), TSR_OK);
  assert_int_equal(tsr_anomaly_csv_row(b, &rec, "t.csv", &err), TSR_EINVAL); /* no header yet */
  assert_int_equal(tsr_anomaly_csv_header(b, &rec, "t.csv", &err), TSR_OK);
  tsr_status want[] = {TSR_OK, TSR_EPARSE, TSR_EPARSE, TSR_EPARSE, TSR_OK, TSR_EPARSE};
  for (size_t k = 0; k < 6; k++) {
    assert_int_equal(tsr_csv_next(c, &rec, &err), TSR_OK);
    assert_int_equal(tsr_anomaly_csv_row(b, &rec, "t.csv", &err), want[k]);
    if (k == 3) assert_string_equal(err.msg, "expected 5 fields as in the header, got 3");
  }
  tsr_csv_close(c);
  unlink(path);
  assert_int_equal(tsr_anomaly_count(b), tsr_anomaly_count(a));
  assert_int_equal(tsr_anomaly_count(b), 2);
  for (size_t i = 0; i < 2; i++) {
    assert_string_equal(tsr_anomaly_id(a, i), tsr_anomaly_id(b, i));
    assert_string_equal(tsr_anomaly_customer(a, i), tsr_anomaly_customer(b, i));
    assert_int_equal(tsr_anomaly_time(a, i), tsr_anomaly_time(b, i));
  }
  assert_string_equal(tsr_anomaly_id(b, 1), "L6"); /* no id: the line */
  /* a header without the amount column */
  tsr_csv_record h = {0};
  tsr_csv_field f[2] = {{.ptr = "customer_id", .len = 11}, {.ptr = "date", .len = 4}};
  h.fields = f;
  h.nfields = 2;
  assert_int_equal(tsr_anomaly_csv_header(b, &h, "t.csv", &err), TSR_EPARSE);
  assert_int_equal(tsr_anomaly_csv_row(b, &rec, "t.csv", &err), TSR_EINVAL);
  tsr_anomaly_free(a);
  tsr_anomaly_free(b);
}

/* A short history (the insertion sort of the medians): amounts 10..60 and
 * 1000 added out of order; median 40, so 1000 is 25x. */
static void test_small_median(void **state) {
  (void)state;
  tsr_anomaly_detector *d = NULL;
  tsr_error err;
  assert_int_equal(tsr_anomaly_new(NULL, &d, &err), TSR_OK);
  const double amt[] = {50, 10, 1000, 30, 60, 20, 40};
  char id[8];
  for (int k = 0; k < 7; k++) {
    snprintf(id, sizeof id, "S%d", k);
    add(d, id, "C1", 1700000000 / 86400 * 86400 + k * 5 * 86400 + 12 * 3600, amt[k], "card_pos", "dining");
  }
  assert_int_equal(tsr_anomaly_run(d, &err), TSR_OK);
  assert_int_equal(tsr_anomaly_nflagged(d), 1);
  char buf[256];
  tsr_anomaly_reasons(d, find(d, "S2"), buf, sizeof buf);
  assert_string_equal(buf, "amount 25.0x the customer's median (robust z 5.4)");
  tsr_anomaly_free(d);
}

/* Amounts as strtod reads them, by the plain-decimal fast path too:
 * random decimals of 1..17 digits and other forms, to the bit. */
static void test_amounts(void **state) {
  (void)state;
  tsr_error err;
  tsr_anomaly_detector *d;
  assert_int_equal(tsr_anomaly_new(NULL, &d, &err), TSR_OK);
  tsr_csv_field hf[3] = {{.ptr = "customer_id", .len = 11}, {.ptr = "timestamp", .len = 9},
                         {.ptr = "amount", .len = 6}};
  tsr_csv_record rec = {0};
  rec.fields = hf;
  rec.nfields = 3;
  assert_int_equal(tsr_anomaly_csv_header(d, &rec, "t.csv", &err), TSR_OK);
  static const char *const odd[] = {"1e3", " 5", "5 ", ".", "-", "+", "1.2.3", "0x10", "inf",
                                    "nan", "-0", "+.5", "5.", ".5", "00012.3400", "-0.0",
                                    "9007199254740993", "123456789012345", "1234567890123456",
                                    "0.1", "0.3", "1e400", "12,50", ""};
  srand(7);
  size_t nodd = sizeof odd / sizeof odd[0], ok = 0;
  for (size_t k = 0; k < 20000 + nodd; k++) {
    char a[64];
    if (k < nodd) {
      snprintf(a, sizeof a, "%s", odd[k]);
    } else {
      int nd = 1 + rand() % 17, dot = rand() % (nd + 2), o = 0;
      if (rand() % 5 == 0) a[o++] = rand() % 2 ? '-' : '+';
      for (int i = 0; i < nd; i++) {
        if (i == dot) a[o++] = '.';
        a[o++] = (char)('0' + rand() % 10);
      }
      a[o] = '\0';
    }
    char *end;
    errno = 0;
    double want = strtod(a, &end);
    while (*end == ' ') end++;
    int good = *a && !*end && !errno && isfinite(want);
    tsr_csv_field f[3] = {{.ptr = "C1", .len = 2}, {.ptr = "2024-01-01", .len = 10},
                          {.ptr = a, .len = strlen(a)}};
    rec.fields = f;
    tsr_status st = tsr_anomaly_csv_row(d, &rec, "t.csv", &err);
    assert_int_equal(st, good ? TSR_OK : TSR_EPARSE);
    if (good) {
      double got = tsr_anomaly_amount(d, ok++);
      assert_memory_equal(&got, &want, sizeof got);
    }
  }
  assert_true(ok > 20000);
  tsr_anomaly_free(d);
}

/* Long histories (the quickselect of the medians), added shuffled: odd
 * 41 amounts with median 100, even 42 with median exp((log 100 + log 400)
 * / 2) = 200; the spikes are 100x and 5000x. */
static void big_median(int even, const char *want) {
  tsr_anomaly_detector *d = NULL;
  tsr_error err;
  assert_int_equal(tsr_anomaly_new(NULL, &d, &err), TSR_OK);
  double amt[42];
  size_t n = 0;
  for (int k = 0; k < 20; k++) amt[n++] = 50;
  amt[n++] = 100;
  if (even) amt[n++] = 400;
  for (int k = 0; k < 19; k++) amt[n++] = even ? 1000 : 150;
  amt[n++] = even ? 1e6 : 1e4;
  srand(3);
  for (size_t i = n - 1; i > 0; i--) {
    size_t j = (size_t)rand() % (i + 1);
    double t = amt[i];
    amt[i] = amt[j];
    amt[j] = t;
  }
  char id[24];
  size_t spike = 0;
  for (size_t k = 0; k < n; k++) {
    snprintf(id, sizeof id, "B%zu", k);
    if (amt[k] >= 1e4) spike = k;
    add(d, id, "C1", 1700000000 / 86400 * 86400 + (int64_t)k * 2 * 86400 + 12 * 3600, amt[k], "card_pos",
        "dining");
  }
  assert_int_equal(tsr_anomaly_run(d, &err), TSR_OK);
  char buf[256];
  tsr_anomaly_reasons(d, spike, buf, sizeof buf);
  assert_true(tsr_anomaly_flagged(d, spike));
  assert_int_equal(strncmp(buf, want, strlen(want)), 0);
  tsr_anomaly_free(d);
}

static void test_big_median(void **state) {
  (void)state;
  big_median(0, "amount 100.0x the customer's median");
  big_median(1, "amount 5000.0x the customer's median");
}

/* tsr__anomaly_tally_only (the profiles step): the same scores, flags and
 * customers as a full detector, without ids and ranking. */
static void test_tally_only(void **state) {
  (void)state;
  tsr_anomaly_detector *d[2];
  tsr_error err;
  for (int k = 0; k < 2; k++) assert_int_equal(tsr_anomaly_new(NULL, &d[k], &err), TSR_OK);
  tsr__anomaly_tally_only(d[1]);
  const int64_t day = 86400, t0 = 1700000000 / day * day;
  static const char *const chan[] = {"card_pos", "web", "", "atm"};
  static const char *const cat[] = {"groceries", "dining", "gambling", "", "travel"};
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 6000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
    char id[16], cust[8];
    snprintf(id, sizeof id, i % 17 ? "T%d" : "", i);
    snprintf(cust, sizeof cust, "C%03d", (int)(x % 150));
    int spike = x % 97 == 0;
    for (int k = 0; k < 2; k++)
      add(d[k], id, cust, t0 + (int64_t)(x >> 8 & 0xffff) * 600, spike ? 5000 : 5 + (double)(x >> 30 & 63),
          chan[x >> 40 & 3], cat[(x >> 44 & 7) % 5]);
  }
  for (int k = 0; k < 2; k++) assert_int_equal(tsr_anomaly_run(d[k], &err), TSR_OK);
  size_t n = tsr_anomaly_count(d[0]);
  assert_int_equal(tsr_anomaly_count(d[1]), n);
  assert_true(tsr_anomaly_nflagged(d[0]) > 20);
  assert_int_equal(tsr_anomaly_nflagged(d[1]), tsr_anomaly_nflagged(d[0]));
  assert_int_equal(tsr_anomaly_ncustomers(d[1]), tsr_anomaly_ncustomers(d[0]));
  for (size_t c = 0; c < tsr_anomaly_ncustomers(d[0]); c++)
    assert_string_equal(tsr_anomaly_customer_id(d[1], c), tsr_anomaly_customer_id(d[0], c));
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(tsr_anomaly_customer_of(d[1], i), tsr_anomaly_customer_of(d[0], i));
    assert_int_equal(tsr_anomaly_flagged(d[1], i), tsr_anomaly_flagged(d[0], i));
    assert_true(tsr_anomaly_score(d[1], i) == tsr_anomaly_score(d[0], i));
    assert_string_equal(tsr_anomaly_id(d[1], i), "");
    assert_int_equal(tsr_anomaly_rank(d[1], i), i);
  }
  assert_string_equal(tsr_anomaly_id(d[0], 0), "#1"); /* the full detector keeps its ids */
  assert_string_equal(tsr_anomaly_id(d[0], 1), "T1");
  for (int k = 0; k < 2; k++) tsr_anomaly_free(d[k]);
  /* too late after the first transaction: a full detector */
  assert_int_equal(tsr_anomaly_new(NULL, &d[0], &err), TSR_OK);
  add(d[0], "A", "C1", t0, 5, "web", "dining");
  tsr__anomaly_tally_only(d[0]);
  add(d[0], "B", "C1", t0 + 60, 5, "web", "dining");
  assert_int_equal(tsr_anomaly_run(d[0], &err), TSR_OK);
  assert_string_equal(tsr_anomaly_id(d[0], 1), "B");
  tsr_anomaly_free(d[0]);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_kinds), cmocka_unit_test(test_params),
                                     cmocka_unit_test(test_orders), cmocka_unit_test(test_csv_rows),
                                     cmocka_unit_test(test_small_median), cmocka_unit_test(test_amounts),
                                     cmocka_unit_test(test_big_median),
                                     cmocka_unit_test(test_tally_only)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
