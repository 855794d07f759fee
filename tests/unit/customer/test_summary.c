/* test_summary.c - lifetimes-equivalent summaries: CDNOW reference, periods,
 * calibration/holdout, refunds. */
#include "tsr_test.h"
#include "tessera/ingest.h"
#include "tessera/summary.h"
#include "tessera/datetime.h"
#include "internal.h"

static int64_t day(const char *s) {
  int64_t t;
  assert_int_equal(tsr_datetime_parse(s, strlen(s), NULL, &t), TSR_OK);
  return t / 86400;
}

static tsr_ledger *load_mem(const char *csv, tsr_ingest_stats *st) {
  tsr_ledger *lg;
  tsr_error e;
  assert_int_equal(tsr_ledger_new(&lg, &e), TSR_OK);
  assert_int_equal(tsr_ingest_mem(lg, csv, strlen(csv), "t.csv", NULL, st, &e), TSR_OK);
  assert_int_equal(tsr_ledger_finish(lg, &e), TSR_OK);
  return lg;
}

/* The calibration summary of the CDNOW sample equals the published file. */
static void test_cdnow_calibration(void **state) {
  (void)state;
  char path[512], ref[512];
  tsr_ingest_opts o;
  tsr_ingest_opts_init(&o);
  o.header = 0;
  o.csv.delim = TSR_CSV_WS;
  o.customer_col = "2";
  o.date_col = "3";
  o.amount_col = "5";
  tsr_ledger *lg;
  tsr_error e;
  tsr_ingest_stats st;
  assert_int_equal(tsr_ledger_new(&lg, &e), TSR_OK);
  assert_int_equal(tsr_ingest_file(lg, tsr_test_data("cdnow/CDNOW_sample.txt", path, sizeof path),
                                   &o, &st, &e), TSR_OK);
  assert_int_equal(st.rows_read, 6919);
  assert_int_equal(st.rows_rejected, 0);
  assert_int_equal(st.identical_rows, 21); /* pandas duplicated().sum() agrees */
  assert_int_equal(tsr_ledger_finish(lg, &e), TSR_OK);
  tsr_summary_opts so;
  tsr_summary_opts_init(&so);
  so.freq = TSR_FREQ_D;
  so.multiplier = 7;
  so.cal_end_day = day("1997-09-30");
  so.end_day = day("1998-06-30");
  tsr_summary *s;
  assert_int_equal(tsr_summary_compute(lg, &so, &s, &e), TSR_OK);
  assert_int_equal(s->n, 2357);
  tsr_table *t;
  assert_int_equal(tsr_table_read(tsr_test_data("cdnow/cdnow_customers_summary.csv", ref, sizeof ref),
                                  NULL, &t, &e), TSR_OK);
  assert_int_equal(tsr_table_nrows(t), 2357);
  double *fr, *rc, *T;
  assert_int_equal(tsr_table_get_double(t, "frequency", &fr, &e), TSR_OK);
  assert_int_equal(tsr_table_get_double(t, "recency", &rc, &e), TSR_OK);
  assert_int_equal(tsr_table_get_double(t, "T", &T, &e), TSR_OK);
  size_t zero = 0;
  double rep = 0, ho = 0;
  for (size_t i = 0; i < s->n; i++) {
    assert_int_equal(atoi(s->rows[i].customer_id), atoi(tsr_table_cell(t, i, 0)));
    assert_near(s->rows[i].frequency, fr[i], 0);
    assert_near(s->rows[i].recency, rc[i], 0.005); /* the file has 2 decimals */
    assert_near(s->rows[i].T, T[i], 0.005);
    assert_near(s->rows[i].duration_holdout, 39.0, 1e-12);
    zero += s->rows[i].frequency == 0;
    rep += s->rows[i].frequency;
    ho += s->rows[i].frequency_holdout;
  }
  assert_int_equal(zero, 1411);
  assert_near(rep, 2457, 0);
  assert_near(ho, 1882, 0);
  /* customer 1: purchases 1997-01-01 (29.33), 01-18 (29.73), 08-02 (14.96) */
  assert_near(s->rows[0].monetary_value, (29.73 + 14.96) / 2, 1e-9);
  free(fr);
  free(rc);
  free(T);
  tsr_table_free(t);
  tsr_summary_free(s);
  tsr_ledger_free(lg);
}

/* Hand-computed example with same-day merging, weeks and months. */
static void test_periods(void **state) {
  (void)state;
  const char *csv =
      "customer_id,date,amount\n"
      "a,2024-01-01,10\n"   /* Monday */
      "a,2024-01-01T18:00:00Z,5\n"
      "a,2024-01-03,20\n"   /* same week */
      "a,2024-01-10,30\n"
      "a,2024-02-20,40\n"
      "b,2024-02-01,7\n"
      "c,2024-03-05,1\n";   /* after end: dropped */
  tsr_ingest_stats st;
  tsr_ledger *lg = load_mem(csv, &st);
  tsr_summary_opts so;
  tsr_summary_opts_init(&so);
  so.end_day = day("2024-02-29");
  tsr_summary *s;
  tsr_error e;
  assert_int_equal(tsr_summary_compute(lg, &so, &s, &e), TSR_OK);
  assert_int_equal(s->n, 2);
  /* days: 01-01 (15), 01-03 (20), 01-10 (30), 02-20 (40) */
  assert_near(s->rows[0].frequency, 3, 0);
  assert_near(s->rows[0].recency, 50, 0);
  assert_near(s->rows[0].T, 59, 0);
  assert_near(s->rows[0].monetary_value, 30, 1e-12);
  assert_near(s->rows[0].revenue, 105, 1e-12);
  assert_int_equal(s->rows[0].n_transactions, 5);
  assert_near(s->rows[1].frequency, 0, 0);
  assert_near(s->rows[1].T, 28, 0);
  assert_near(s->rows[1].monetary_value, 0, 0);
  tsr_summary_free(s);
  /* weeks: W1 {01-01,01-03}=35, W2 01-10=30, W8 02-20=40; end week of 02-29 */
  so.freq = TSR_FREQ_W;
  assert_int_equal(tsr_summary_compute(lg, &so, &s, &e), TSR_OK);
  assert_near(s->rows[0].frequency, 2, 0);
  assert_near(s->rows[0].recency, 7, 0);
  assert_near(s->rows[0].T, 8, 0);
  assert_near(s->rows[0].monetary_value, 35, 1e-12);
  tsr_summary_free(s);
  /* months: Jan = 65, Feb = 40 */
  so.freq = TSR_FREQ_M;
  assert_int_equal(tsr_summary_compute(lg, &so, &s, &e), TSR_OK);
  assert_near(s->rows[0].frequency, 1, 0);
  assert_near(s->rows[0].recency, 1, 0);
  assert_near(s->rows[0].T, 1, 0);
  assert_near(s->rows[0].monetary_value, 40, 1e-12);
  tsr_summary_free(s);
  /* calibration end 2024-01-31: holdout has a's 02-20 and not b (joins later) */
  so.freq = TSR_FREQ_D;
  so.cal_end_day = day("2024-01-31");
  assert_int_equal(tsr_summary_compute(lg, &so, &s, &e), TSR_OK);
  assert_int_equal(s->n, 1);
  assert_near(s->rows[0].frequency, 2, 0);
  assert_near(s->rows[0].T, 30, 0);
  assert_near(s->rows[0].frequency_holdout, 1, 0);
  assert_near(s->rows[0].monetary_value_holdout, 40, 1e-12);
  assert_near(s->rows[0].duration_holdout, 29, 0);
  tsr_summary_free(s);
  so.cal_end_day = day("2024-03-31");
  assert_int_equal(tsr_summary_compute(lg, &so, &s, &e), TSR_EINVAL);
  tsr_ledger_free(lg);
}

static void test_refunds(void **state) {
  (void)state;
  const char *csv =
      "customer_id,date,amount\n"
      "a,2024-01-01,10\n"
      "a,2024-01-05,20\n"
      "a,2024-01-06,-5\n"
      "a,2024-01-09,30\n";
  tsr_ingest_stats st;
  tsr_ledger *lg = load_mem(csv, &st);
  assert_int_equal(st.refunds, 1);
  assert_near(st.refund_amount, -5, 0);
  tsr_summary_opts so;
  tsr_summary_opts_init(&so);
  tsr_summary *s;
  tsr_error e;
  assert_int_equal(tsr_summary_compute(lg, &so, &s, &e), TSR_OK);
  assert_near(s->rows[0].frequency, 2, 0); /* the refund day is not a purchase */
  assert_near(s->rows[0].monetary_value, 25, 1e-12);
  assert_near(s->rows[0].revenue, 60, 1e-12);
  tsr_summary_free(s);
  so.refunds = TSR_REFUNDS_NET;
  assert_int_equal(tsr_summary_compute(lg, &so, &s, &e), TSR_OK);
  assert_near(s->rows[0].frequency, 2, 0);
  assert_near(s->rows[0].monetary_value, 22.5, 1e-12); /* (20-5+30)/2 */
  assert_near(s->rows[0].revenue, 55, 1e-12);
  tsr_summary_free(s);
  tsr_ledger_free(lg);
}


/* The fast number formatter prints what the reference algorithm (first of
 * %.15g %.16g %.17g that round-trips) prints. */
static void ref_fmt(double d, char *buf) {
  if (d == 0) {
    strcpy(buf, "0");
    return;
  }
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, 32, "%.*g", prec, d);
    if (prec == 17 || strtod(buf, NULL) == d) break;
  }
}

static void test_fmt_double(void **state) {
  (void)state;
  char a[32], b[32];
  uint64_t x = 88172645463325252ULL;
  for (long i = 0; i < 600000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    double d;
    switch (i % 6) {
      case 0: /* random bits */
        memcpy(&d, &x, sizeof d);
        if (!isfinite(d)) continue;
        break;
      case 1: d = (double)(x % 100000000) / 100.0 / (double)(1 + (x >> 40) % 97); break;
      case 2: d = (double)(x % 1000) / 7.0; break;
      case 3: d = ldexp((double)(x >> 11), -(int)((x >> 3) % 120)); break;
      case 4: d = (double)(x % 10000000) * 0.01 + 0.1 * (double)((x >> 30) % 10); break;
      default: d = pow(10, (double)((int)(x % 40) - 10)) * (1 + (double)((x >> 20) % 3) * 1e-15); break;
    }
    if ((x >> 60) & 1) d = -d;
    ref_fmt(d, a);
    tsr__fmt_double(d, b);
    if (strcmp(a, b) != 0) fail_msg("%a: expected %s, got %s", d, a, b);
  }
  double edge[] = {1e-4, 9.9999999999999995e-5, 0.1, 0.3, 1.0 / 3, 2.0 / 3, 99999999999999.99,
                   999999999999999.9, 1e15, 123456789012345.6, 0.00012345678901234567,
                   5e-324, 1.7976931348623157e308, 72.738, 46.260000000000005, 9.5, 0.5};
  for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
    for (int s = 0; s < 2; s++) {
      double d = s ? -edge[i] : edge[i];
      ref_fmt(d, a);
      tsr__fmt_double(d, b);
      if (strcmp(a, b) != 0) fail_msg("%a: expected %s, got %s", d, a, b);
    }
  }
}


/* Summaries computed and written with several threads equal one thread's. */
static void test_summary_threads_same(void **state) {
  (void)state;
  size_t nrows = 200000, cap = nrows * 48 + 64, len = 0;
  char *csv = malloc(cap);
  unsigned x;
  len = (size_t)sprintf(csv, "customer_id,date,amount\n");
  x = 5;
  for (size_t i = 0; i < nrows; i++) {
    x = x * 1103515245u + 12345u;
    unsigned c = (x >> 8) % 70000, d = (x >> 20) % 600;
    x = x * 1103515245u + 12345u;
    char day[11];
    tsr_day_format(19723 + d, day);
    len += (size_t)sprintf(csv + len, "%u,%s,%u.%02u\n", c, day, (x >> 8) % 300, (x >> 16) % 100);
  }
  tsr_ledger *lg;
  assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
  assert_int_equal(tsr_ingest_mem(lg, csv, len, "s.csv", NULL, NULL, NULL), TSR_OK);
  assert_int_equal(tsr_ledger_finish(lg, NULL), TSR_OK);
  assert_true(tsr_ledger_ncustomers(lg) > 60000);
  for (int split = 0; split < 2; split++) {
    char *text[2];
    size_t tlen[2];
    tsr_summary *s[2];
    for (int t = 0; t < 2; t++) {
      tsr_summary_opts o;
      tsr_summary_opts_init(&o);
      o.threads = t ? 3 : 1;
      if (split) {
        o.cal_end_day = 19723 + 400;
        o.multiplier = 7;
      }
      assert_int_equal(tsr_summary_compute(lg, &o, &s[t], NULL), TSR_OK);
      FILE *f = open_memstream(&text[t], &tlen[t]);
      assert_int_equal(tsr_summary_write_csv(s[t], f, 1, NULL), TSR_OK);
      fclose(f);
    }
    assert_int_equal(s[0]->n, s[1]->n);
    assert_int_equal(s[0]->excluded_refund_only, s[1]->excluded_refund_only);
    assert_memory_equal(s[0]->rows, s[1]->rows, s[0]->n * sizeof *s[0]->rows);
    assert_int_equal(tlen[0], tlen[1]);
    assert_true(tlen[0] > 60000 * 20);
    assert_memory_equal(text[0], text[1], tlen[0]);
    for (int t = 0; t < 2; t++) {
      tsr_summary_free(s[t]);
      free(text[t]);
    }
  }
  tsr_ledger_free(lg);
  free(csv);
}

/* A ledger of ~70,000 customers (refunds, refund-only customers, one
 * customer of 4,500 days: a block beyond the pool's), sealed or not. */
static tsr_ledger *drain_ledger(int seal) {
  size_t nrows = 200000, cap = nrows * 48 + 4600 * 40 + 256, len = 0;
  char *csv = malloc(cap);
  assert_non_null(csv);
  unsigned x = 11;
  len = (size_t)sprintf(csv, "customer_id,date,amount\n");
  for (size_t i = 0; i < nrows; i++) {
    x = x * 1103515245u + 12345u;
    unsigned c = (x >> 8) % 70000, d = (x >> 20) % 600;
    x = x * 1103515245u + 12345u;
    char day[11];
    tsr_day_format(19723 + d, day);
    /* c % 97 == 5: refunds only; else one row in 13 a refund */
    const char *sign = c % 97 == 5 || (x >> 4) % 13 == 0 ? "-" : "";
    len += (size_t)sprintf(csv + len, "%u,%s,%s%u.%02u\n", c, day, sign, (x >> 8) % 300,
                           (x >> 16) % 100);
  }
  for (unsigned d = 0; d < 4500; d++) {
    char day[11];
    tsr_day_format(19723 + 600 - 4500 + d, day);
    len += (size_t)sprintf(csv + len, "big,%s,%u.5\n", day, d % 50);
  }
  tsr_ledger *lg;
  assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
  assert_int_equal(tsr_ingest_mem(lg, csv, len, "d.csv", NULL, NULL, NULL), TSR_OK);
  assert_int_equal(tsr_ledger_finish(lg, NULL), TSR_OK);
  if (seal) tsr_ledger_seal(lg);
  free(csv);
  return lg;
}

/* The summary of a drained ledger (tsr__summary_compute_drain) is
 * tsr_summary_compute's, row for row; the ledger keeps its customers and
 * has no entries left; without rows, the same error. */
static void test_summary_drain_same(void **state) {
  (void)state;
  for (int v = 0; v < 4; v++) {
    const int seal = v & 1, split = v >> 1;
    tsr_ledger *a = drain_ledger(seal), *b = drain_ledger(seal);
    size_t n = tsr_ledger_ncustomers(a);
    assert_true(n > 60000);
    assert_true(tsr__ledger_capacity(b) > 0);
    tsr_summary_opts o;
    tsr_summary_opts_init(&o);
    if (split) {
      o.cal_end_day = 19723 + 400;
      o.multiplier = 7;
    }
    tsr_summary *s, *d;
    assert_int_equal(tsr_summary_compute(a, &o, &s, NULL), TSR_OK);
    assert_int_equal(tsr__summary_compute_drain(b, &o, &d, NULL), TSR_OK);
    assert_int_equal(s->n, d->n);
    assert_true(s->n > 50000 && s->n < n);
    assert_true(s->excluded_refund_only > 100);
    assert_int_equal(s->excluded_refund_only, d->excluded_refund_only);
    assert_int_equal(s->end_day, d->end_day);
    assert_int_equal(s->has_holdout, d->has_holdout);
    int big = 0;
    for (size_t i = 0; i < s->n; i++) {
      tsr_summary_row r = s->rows[i], q = d->rows[i];
      assert_string_equal(r.customer_id, q.customer_id);
      big += !strcmp(r.customer_id, "big") && r.active_days == 4500;
      r.customer_id = q.customer_id = NULL;
      assert_memory_equal(&r, &q, sizeof r);
    }
    assert_int_equal(big, 1);
    /* drained: customers kept, no entries, no lookups */
    assert_int_equal(tsr_ledger_ncustomers(b), n);
    assert_int_equal(tsr__ledger_capacity(b), 0);
    for (size_t i = 0; i < n; i += 997) {
      size_t k = 1;
      assert_string_equal(tsr_ledger_customer(a, i), tsr_ledger_customer(b, i));
      assert_null(tsr_ledger_entries(b, i, &k));
      assert_int_equal(k, 0);
    }
    assert_int_equal(tsr_ledger_find(b, "big"), -1);
    assert_true(tsr_ledger_find(a, "big") >= 0);
    tsr_summary_free(s);
    tsr_summary_free(d);
    tsr_ledger_free(a);
    tsr_ledger_free(b);
  }
  /* no customer by the end: the same error, the drained ledger freed */
  tsr_ledger *a = drain_ledger(1), *b = drain_ledger(1);
  tsr_summary_opts o;
  tsr_summary_opts_init(&o);
  o.end_day = 15000; /* before every purchase */
  tsr_summary *s = NULL, *d = NULL;
  tsr_error ea, eb;
  assert_int_equal(tsr_summary_compute(a, &o, &s, &ea), TSR_ENOTFOUND);
  assert_int_equal(tsr__summary_compute_drain(b, &o, &d, &eb), TSR_ENOTFOUND);
  assert_null(s);
  assert_null(d);
  assert_string_equal(ea.msg, eb.msg);
  tsr_ledger_free(a);
  tsr_ledger_free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cdnow_calibration),
      cmocka_unit_test(test_periods),
      cmocka_unit_test(test_refunds),
      cmocka_unit_test(test_fmt_double),
      cmocka_unit_test(test_summary_threads_same),
      cmocka_unit_test(test_summary_drain_same),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
