/* test_ingest.c - messy transaction logs: exact reject lines, dates,
 * amounts, duplicates, limits. */
#include "tsr_test.h"
#include <pthread.h>
#include <sys/mman.h>
#include "tessera/datetime.h"
#include "tessera/ingest.h"
#include "internal.h"
#include "ingest/ledger_internal.h"

typedef struct {
  char lines[32][300];
  int n;
} rejects;

static void on_reject(void *ud, const tsr_reject *r) {
  rejects *rj = ud;
  if (rj->n < 32)
    snprintf(rj->lines[rj->n++], 300, "%s:%lld:%lld: error: %s%s%s", r->source,
             (long long)r->line, (long long)r->column, r->field, *r->field ? ": " : "",
             r->reason);
}

static void test_dates(void **state) {
  (void)state;
  int64_t t;
#define D(s, fmt, want)                                                      \
  do {                                                                       \
    assert_int_equal(tsr_datetime_parse(s, strlen(s), fmt, &t), TSR_OK);     \
    assert_int_equal(t, (int64_t)(want));                                    \
  } while (0)
  D("1970-01-01", NULL, 0);
  D("19970101", NULL, 852076800);
  D("1997-01-01T00:00:00Z", NULL, 852076800);
  D("1997-01-01 01:30:00+01:30", NULL, 852076800);
  D("1997-01-01T02:00-0200", NULL, 852076800 + 4 * 3600);
  D("1997/01/01", NULL, 852076800);
  D("1997-01-01T00:00:00.123456Z", NULL, 852076800);
  D("31/12/1999", "%d/%m/%Y", 946598400);
  D("1999-12-31", "%d/%m/%Y", 946598400); /* ISO still accepted with a format */
  D("Dec 31, 1999 11:00 PM", "%b %d, %Y %I:%M %p", 946598400 + 23 * 3600);
  D("30-Sept-99", "%d-%b-%y", 938649600);
#undef D
  assert_int_equal(tsr_datetime_parse("1997-02-29", 10, NULL, &t), TSR_EPARSE);
  assert_int_equal(tsr_datetime_parse("1969-12-31", 10, NULL, &t), TSR_ERANGE);
  assert_int_equal(tsr_datetime_parse("2101-01-01", 10, NULL, &t), TSR_ERANGE);
  assert_int_equal(tsr_datetime_parse("01/02/1997", 10, NULL, &t), TSR_EPARSE);
  assert_int_equal(tsr_datetime_parse("1997-1-1", 8, NULL, &t), TSR_EPARSE);
  tsr_error e;
  assert_int_equal(tsr_datetime_check_format("%d/%m/%Q", &e), TSR_EINVAL);
  char buf[11];
  assert_string_equal(tsr_day_format(10956, buf), "1999-12-31");
}

static void test_amounts(void **state) {
  (void)state;
  double v;
#define A(s, want)                                                      \
  do {                                                                  \
    assert_int_equal(tsr_amount_parse(s, strlen(s), &v), TSR_OK);       \
    assert_near(v, want, 1e-12);                                        \
  } while (0)
  A("12.50", 12.5);
  A(" -3 ", -3);
  A("$1,234.56", 1234.56);
  A("-$12.00", -12);
  A("$-12.00", -12);
  A("(45.10)", -45.1);
  A("\xE2\x82\xAC" "9.99", 9.99);
  A("9.99 EUR", 9.99);
  A("USD 1,000", 1000);
  A("1e3", 1000);
  A(".5", 0.5);
#undef A
  assert_int_equal(tsr_amount_parse("12,50", 5, &v), TSR_EPARSE);
  assert_int_equal(tsr_amount_parse("1,23,456", 8, &v), TSR_EPARSE);
  assert_int_equal(tsr_amount_parse("abc", 3, &v), TSR_EPARSE);
  assert_int_equal(tsr_amount_parse("", 0, &v), TSR_EPARSE);
  assert_int_equal(tsr_amount_parse("inf", 3, &v), TSR_ERANGE);
  assert_int_equal(tsr_amount_parse("NaN", 3, &v), TSR_ERANGE);
  assert_int_equal(tsr_amount_parse("1e999", 5, &v), TSR_ERANGE);
}

/* Every kind of bad row is rejected with its exact line and the good rows
 * around it are kept. */
static void test_messy(void **state) {
  (void)state;
  static const char csv[] =
      "\xEF\xBB\xBF" "Customer ID,Date,Amount,Note\r\n"       /* 1 BOM, CRLF, header names */
      "c1,2024-01-01,10.00,ok\r\n"                             /* 2 */
      "c1,2024-01-02,\"1,200.50\",\"quoted, with comma\"\r\n"  /* 3 */
      "c2,02/01/2024,5,\"multi\r\nline note\"\r\n"             /* 4-5 format date */
      "c3,2024-13-01,5,bad month\r\n"                          /* 6 */
      "c3,2024-01-05,12,50,too many\r\n"                       /* 7 */
      ",2024-01-05,12,no id\r\n"                               /* 8 */
      "c4,1969-07-20,1,too old\r\n"                            /* 9 */
      "c4,2024-01-05,inf,not finite\r\n"                       /* 10 */
      "c4,2024-01-05,abc,bad amount\r\n"                       /* 11 */
      "c\xff" "5,2024-01-05,1,bad utf8\r\n"                    /* 12 */
      "c6,2024-01-05\r\n"                                      /* 13 short */
      "c7,\"2024-01-06\"x,1,junk after quote\r\n"              /* 14 */
      "c1,2024-01-03,-4.00,refund\r\n"                         /* 15 */
      "c1,2024-01-01,10.00,ok\r\n"                             /* 16 identical to 2 */
      "c8,2024-01-07T10:00:00+02:00,3,tz\r\n";                 /* 17 */
  rejects rj = {0};
  tsr_ingest_opts o;
  tsr_ingest_opts_init(&o);
  o.date_format = "%d/%m/%Y";
  o.on_reject = on_reject;
  o.ud = &rj;
  tsr_ledger *lg;
  tsr_error e;
  tsr_ingest_stats st;
  assert_int_equal(tsr_ledger_new(&lg, &e), TSR_OK);
  assert_int_equal(tsr_ingest_mem(lg, csv, sizeof csv - 1, "tx.csv", &o, &st, &e), TSR_OK);
  static const char *const want[] = {
      "tx.csv:6:4: error: Date: expected a date (ISO 8601, YYYYMMDD or %d/%m/%Y), got '2024-13-01'",
      "tx.csv:7:21: error: expected 4 fields, got 5",
      "tx.csv:8:1: error: Customer ID: expected an id, got ''",
      "tx.csv:9:4: error: Date: expected a date between 1970-01-01 and 2100-12-31, got '1969-07-20'",
      "tx.csv:10:15: error: Amount: expected a finite number, got 'inf'",
      "tx.csv:11:15: error: Amount: expected a number, got 'abc'",
      "tx.csv:12:2: error: Customer ID: expected valid UTF-8, got byte \\xff",
      "tx.csv:13:14: error: expected 4 fields, got 2",
      "tx.csv:14:16: error: unexpected character after closing quote",
  };
  assert_int_equal(rj.n, (int)(sizeof want / sizeof want[0]));
  for (int i = 0; i < rj.n; i++) assert_string_equal(rj.lines[i], want[i]);
  assert_int_equal(st.rows_read, 15);
  assert_int_equal(st.rows_rejected, 9);
  assert_int_equal(st.rows_accepted, 6);
  assert_int_equal(st.identical_rows, 1);
  assert_int_equal(st.refunds, 1);
  assert_string_equal(st.customer_col, "Customer ID");
  assert_int_equal(tsr_ledger_finish(lg, &e), TSR_OK);
  assert_int_equal(tsr_ledger_ncustomers(lg), 3); /* c1, c2, c8 */
  size_t n;
  const tsr_ledger_entry *en = tsr_ledger_entries(lg, 0, &n);
  assert_string_equal(tsr_ledger_customer(lg, 0), "c1");
  assert_int_equal(n, 3);
  assert_near(en[0].amount, 20.0, 1e-12); /* the identical row is kept by default */
  assert_near(en[1].amount, 1200.5, 1e-12);
  assert_near(en[2].refund, -4.0, 1e-12);
  /* c8 at 10:00+02:00 is 08:00 UTC the same day */
  en = tsr_ledger_entries(lg, 2, &n);
  assert_int_equal(en[0].day, 19729);
  tsr_ledger_free(lg);

  /* --max-errors 3 stops after the 4th reject */
  rj.n = 0;
  o.max_errors = 3;
  assert_int_equal(tsr_ledger_new(&lg, &e), TSR_OK);
  assert_int_equal(tsr_ingest_mem(lg, csv, sizeof csv - 1, "tx.csv", &o, &st, &e), TSR_EMAXERR);
  assert_int_equal(st.rows_rejected, 4);
  assert_string_equal(e.msg, "too many rejected rows: more than 3 (the maximum rejected rows)");
  tsr_ledger_free(lg);
}

static void test_ids_and_dedupe(void **state) {
  (void)state;
  static const char csv[] =
      "tx,customer,date,amount\n"
      "t1,a,2024-01-01,1\n"
      "t2,a,2024-01-02,2\n"
      "t1,a,2024-01-01,1\n"   /* same id, same content: dropped */
      "t2,b,2024-01-02,2\n"   /* same id, other content: rejected */
      "t3,a,2024-01-02,2\n";
  rejects rj = {0};
  tsr_ingest_opts o;
  tsr_ingest_opts_init(&o);
  o.id_col = "tx";
  o.on_reject = on_reject;
  o.ud = &rj;
  tsr_ledger *lg;
  tsr_ingest_stats st;
  assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
  assert_int_equal(tsr_ingest_mem(lg, csv, sizeof csv - 1, "ids.csv", &o, &st, NULL), TSR_OK);
  assert_int_equal(st.duplicate_ids, 1);
  assert_int_equal(st.rows_rejected, 1);
  assert_string_equal(rj.lines[0],
                      "ids.csv:5:1: error: tx: expected a new id, got 't2' already used by a row with other content");
  assert_int_equal(st.rows_accepted, 3);
  /* the same file again (old + new data): every row repeats an id */
  assert_int_equal(tsr_ingest_mem(lg, csv, sizeof csv - 1, "ids.csv", &o, &st, NULL), TSR_OK);
  assert_int_equal(st.rows_accepted, 0);
  assert_int_equal(st.duplicate_ids, 4);
  tsr_ledger_free(lg);

  /* without ids: --dedupe exact drops identical rows */
  static const char csv2[] = "customer_id,date,amount\na,2024-01-01,1\na,2024-01-01,1\na,2024-01-01, 1 \n";
  o.id_col = NULL;
  o.dedupe = TSR_DEDUPE_EXACT;
  assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
  assert_int_equal(tsr_ingest_mem(lg, csv2, sizeof csv2 - 1, "d.csv", &o, &st, NULL), TSR_OK);
  assert_int_equal(st.identical_rows, 2);
  assert_int_equal(st.identical_dropped, 2);
  assert_int_equal(st.rows_accepted, 1);
  tsr_ledger_free(lg);
}

static void test_header_errors(void **state) {
  (void)state;
  tsr_ledger *lg;
  tsr_error e;
  char b[300];
  assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
  static const char csv[] = "who,when,howmuch\na,2024-01-01,1\n";
  assert_int_equal(tsr_ingest_mem(lg, csv, sizeof csv - 1, "h.csv", NULL, NULL, &e), TSR_EPARSE);
  assert_string_equal(tsr_error_format(&e, b, sizeof b),
                      "h.csv:1: error: customer_col: expected a customer id column in the header; the columns are 'who', 'when', 'howmuch'");
  tsr_ingest_opts o;
  tsr_ingest_opts_init(&o);
  o.customer_col = "who";
  o.date_col = "when";
  o.amount_col = "3";
  assert_int_equal(tsr_ingest_mem(lg, csv, sizeof csv - 1, "h.csv", &o, NULL, &e), TSR_OK);
  o.amount_col = "price";
  assert_int_equal(tsr_ingest_mem(lg, csv, sizeof csv - 1, "h.csv", &o, NULL, &e), TSR_EPARSE);
  assert_string_equal(tsr_error_format(&e, b, sizeof b),
                      "h.csv:1: error: amount_col: expected a column named 'price' in the header; the columns are 'who', 'when', 'howmuch'");
  assert_int_equal(tsr_ingest_mem(lg, "", 0, "empty.csv", NULL, NULL, &e), TSR_EPARSE);
  assert_string_equal(tsr_error_format(&e, b, sizeof b),
                      "empty.csv:1: error: expected a header line, got an empty file");
  tsr_ledger_free(lg);
}

/* Huge fields are rejected, not fatal; the next row is read. */
static void test_huge_field(void **state) {
  (void)state;
  size_t big = 200000;
  char *csv = malloc(big + 200);
  size_t n = (size_t)sprintf(csv, "customer_id,date,amount,note\na,2024-01-01,1,");
  memset(csv + n, 'x', big);
  n += big;
  n += (size_t)sprintf(csv + n, "\nb,2024-01-02,2,fine\n");
  rejects rj = {0};
  tsr_ingest_opts o;
  tsr_ingest_opts_init(&o);
  o.on_reject = on_reject;
  o.ud = &rj;
  char path[64];
  assert_non_null(tsr_test_tmpfile(csv, n, path, sizeof path));
  tsr_ledger *lg;
  tsr_ingest_stats st;
  assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
  assert_int_equal(tsr_ingest_file(lg, path, &o, &st, NULL), TSR_OK);
  assert_int_equal(st.rows_rejected, 1);
  assert_int_equal(st.rows_accepted, 1);
  char want[300];
  snprintf(want, sizeof want, "%s:2:16: error: field longer than 65536 bytes", path);
  assert_string_equal(rj.lines[0], want);
  tsr_ledger_free(lg);
  unlink(path);
  free(csv);
}


/* The fast amount path must give exactly strtod's double. */
static void test_amount_fast_exact(void **state) {
  (void)state;
  char buf[64];
  unsigned x = 12345;
  for (long i = 0; i < 2000000; i++) {
    size_t p = 0;
    x = x * 1103515245u + 12345u;
    int nd = 1 + (int)((x >> 8) % 17), k = (int)((x >> 16) % 8);
    if (k >= nd) k = nd - 1;
    if ((x >> 24) % 4 == 0) buf[p++] = '-';
    for (int j = 0; j < nd; j++) {
      if (j == nd - k && k) buf[p++] = '.';
      x = x * 1103515245u + 12345u;
      buf[p++] = (char)('0' + (x >> 16) % 10);
    }
    buf[p] = '\0';
    double v = 0, w = strtod(buf, NULL);
    assert_int_equal(tsr_amount_parse(buf, p, &v), TSR_OK);
    if (memcmp(&v, &w, sizeof v) != 0) fail_msg("%s: %.17g, strtod %.17g", buf, v, w);
  }
}

/* The fixed-offset ISO path must agree with the general parser (a trailing
 * space sends the same text through the general parser). */
static void test_date_fast_same(void **state) {
  (void)state;
  char a[40], b[48];
  unsigned x = 777;
  for (long i = 0; i < 300000; i++) {
    x = x * 1103515245u + 12345u;
    unsigned y = 1960 + (x >> 8) % 150, mo = (x >> 12) % 14, d = (x >> 16) % 33;
    x = x * 1103515245u + 12345u;
    unsigned h = (x >> 8) % 26, mi = (x >> 13) % 62, se = (x >> 19) % 62, form = (x >> 26) % 4;
    if (form == 0) snprintf(a, sizeof a, "%04u-%02u-%02u", y, mo, d);
    else if (form == 1) snprintf(a, sizeof a, "%04u-%02u-%02uT%02u:%02u:%02u", y, mo, d, h, mi, se);
    else if (form == 2) snprintf(a, sizeof a, "%04u-%02u-%02uT%02u:%02u:%02uZ", y, mo, d, h, mi, se);
    else snprintf(a, sizeof a, "%04u-%02u-%02u %02u:%02u:%02uZ", y, mo, d, h, mi, se);
    snprintf(b, sizeof b, "%s ", a);
    int64_t ta = -1, tb = -2;
    tsr_status sa = tsr_datetime_parse(a, strlen(a), NULL, &ta);
    tsr_status sb = tsr_datetime_parse(b, strlen(b), NULL, &tb);
    if (sa != sb || (sa == TSR_OK && ta != tb))
      fail_msg("%s: status %d/%d, %lld/%lld", a, sa, sb, (long long)ta, (long long)tb);
  }
}

/* tsr__datetime_parse_memo against tsr_datetime_parse: runs of one date
 * (the memo's hits) with valid and broken times, invalid dates repeated
 * (never a memo), forms of other lengths, a date format. */
static void test_date_memo_same(void **state) {
  (void)state;
  static const char *const days[] = {"2024-01-31", "2024-02-29", "2023-02-29", "2024-13-01",
                                     "1969-12-31", "1970-01-01", "2100-12-31", "2101-01-01",
                                     "2024-1-05x", "2024/01/05", "0000-00-00", "2024-04-31"};
  static const char *const times[] = {"",          "T00:00:00", "T23:59:59Z", " 12:30:00Z",
                                      "T24:00:00", "T12:60:00", "T12:00:60", "T12:00:00X",
                                      "T1:00:00",  "T12:00:00+01:00", "x12:00:00", " 23:59:59"};
  tsr__date_memo memo;
  memset(&memo, 0, sizeof memo);
  unsigned x = 4242;
  size_t hits = 0;
  const char *fmt = NULL;
  for (long i = 0; i < 200000; i++) {
    x = x * 1103515245u + 12345u;
    if ((x >> 20) % 5 == 0) fmt = (x >> 8) % 2 ? "%Y-%m-%d %H" : NULL;
    static size_t di = 0;
    if ((x >> 10) % 4 == 0) di = (x >> 14) % TSR__ARRAY_LEN(days); /* else: the same date */
    char a[64];
    snprintf(a, sizeof a, "%s%s", days[di], times[(x >> 24) % TSR__ARRAY_LEN(times)]);
    int64_t tm = -1, tp = -2;
    int had = memo.valid && !memcmp(memo.ymd, a, 10);
    tsr_status sm = tsr__datetime_parse_memo(a, strlen(a), fmt, &memo, &tm);
    tsr_status sp = tsr_datetime_parse(a, strlen(a), fmt, &tp);
    if (sm != sp || (sm == TSR_OK && tm != tp))
      fail_msg("%s: status %d/%d, %lld/%lld", a, sm, sp, (long long)tm, (long long)tp);
    hits += had && sm == TSR_OK;
  }
  assert_true(hits > 10000);
}

/* Identical rows far apart in unsorted input, several distinct rows on one
 * customer-day, quoting and padding that do not change the content. */
static void test_dedupe_unsorted(void **state) {
  (void)state;
  static const char csv[] =
      "customer_id,date,amount,note\n"
      "a,2024-01-05,1,x\n"
      "a,2024-01-03,2,x\n"
      "b,2024-01-05,1,x\n"   /* other customer, same day and amount */
      "a,2024-01-05,4,x\n"   /* 2nd distinct row of a's day */
      "a,2024-01-04,8,x\n"
      "a,2024-01-05,16,x\n"  /* 3rd distinct row */
      "\"a\",2024-01-05,1,x\n" /* = row 1 */
      "a,2024-01-05, 4 ,x\n" /* = row 4 */
      "a,2024-01-05,16,\"x\"\n" /* = row 6 */
      "a,2024-01-03,2,x\n"   /* = row 2 */
      "a,2024-01-05,16,y\n"  /* distinct */
      "a,\"2024-01-05\",32,\"a,b\"\n"
      "a,2024-01-05,32,\"a,b\"\n"; /* = previous */
  for (int exact = 0; exact <= 1; exact++) {
    tsr_ingest_opts o;
    tsr_ingest_opts_init(&o);
    o.dedupe = exact ? TSR_DEDUPE_EXACT : TSR_DEDUPE_NONE;
    tsr_ledger *lg;
    tsr_ingest_stats st;
    assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
    assert_int_equal(tsr_ingest_mem(lg, csv, sizeof csv - 1, "u.csv", &o, &st, NULL), TSR_OK);
    assert_int_equal(st.identical_rows, 5);
    assert_int_equal(st.identical_dropped, exact ? 5 : 0);
    assert_int_equal(st.rows_accepted, exact ? 8 : 13);
    assert_int_equal(tsr_ledger_finish(lg, NULL), TSR_OK);
    ptrdiff_t ia = tsr_ledger_find(lg, "a");
    assert_int_equal(ia, 0);
    size_t n;
    const tsr_ledger_entry *e = tsr_ledger_entries(lg, (size_t)ia, &n);
    assert_int_equal(n, 3);
    assert_int_equal(e[0].day, 19725);
    assert_near(e[0].amount, exact ? 2 : 4, 0);
    assert_near(e[1].amount, 8, 0);
    assert_int_equal(e[2].ntx, exact ? 5 : 9);
    assert_near(e[2].amount, exact ? 1 + 4 + 16 + 16 + 32 : 1 + 4 + 16 + 1 + 4 + 16 + 16 + 32 + 32, 0);
    /* the same file again: every row is now identical to an earlier one */
    assert_int_equal(tsr_ingest_mem(lg, csv, sizeof csv - 1, "u.csv", &o, &st, NULL), TSR_OK);
    assert_int_equal(st.identical_rows, 13);
    tsr_ledger_free(lg);
  }
}

/* Many customers (table growth), ids long and short, rows in random order:
 * the ledger equals the one of the same rows in sorted order. */
static void test_shuffled_same_ledger(void **state) {
  (void)state;
  size_t nrows = 60000, cap = nrows * 120 + 100;
  char **rows = malloc(nrows * sizeof *rows);
  unsigned x = 4242;
  for (size_t i = 0; i < nrows; i++) {
    rows[i] = malloc(120);
    x = x * 1103515245u + 12345u;
    unsigned c = (x >> 8) % 5000, d = (x >> 20) % 400;
    x = x * 1103515245u + 12345u;
    if (c % 3 == 0)
      snprintf(rows[i], 120, "customer-with-a-rather-long-identifier-%05u,%s,%u.%02u\n", c,
               "2024-01-01", (x >> 8) % 100, (x >> 16) % 100);
    else
      snprintf(rows[i], 120, "%u,2024-%02u-%02uT10:00:00Z,%u\n", c, 1 + d % 12, 1 + d % 28,
               (x >> 8) % 1000);
  }
  char *a = malloc(cap), *b = malloc(cap);
  size_t la = (size_t)sprintf(a, "customer_id,date,amount\n"), lb = la;
  memcpy(b, a, la);
  for (size_t i = 0; i < nrows; i++) la += (size_t)sprintf(a + la, "%s", rows[i]);
  /* b: the same rows sorted by customer then text */
  qsort(rows, nrows, sizeof *rows, (int (*)(const void *, const void *))strcmp);
  for (size_t i = 0; i < nrows; i++) lb += (size_t)sprintf(b + lb, "%s", rows[(i * 7919) % nrows]);
  tsr_ledger *l1, *l2;
  tsr_ingest_stats s1, s2;
  assert_int_equal(tsr_ledger_new(&l1, NULL), TSR_OK);
  assert_int_equal(tsr_ledger_new(&l2, NULL), TSR_OK);
  assert_int_equal(tsr_ingest_mem(l1, a, la, "a.csv", NULL, &s1, NULL), TSR_OK);
  assert_int_equal(tsr_ingest_mem(l2, b, lb, "b.csv", NULL, &s2, NULL), TSR_OK);
  assert_int_equal(s1.rows_accepted, (int64_t)nrows);
  assert_int_equal(s1.identical_rows, s2.identical_rows);
  assert_int_equal(tsr_ledger_finish(l1, NULL), TSR_OK);
  assert_int_equal(tsr_ledger_finish(l2, NULL), TSR_OK);
  assert_int_equal(tsr_ledger_ncustomers(l1), tsr_ledger_ncustomers(l2));
  assert_true(tsr_ledger_ncustomers(l1) > 4900);
  for (size_t i = 0; i < tsr_ledger_ncustomers(l1); i++) {
    assert_string_equal(tsr_ledger_customer(l1, i), tsr_ledger_customer(l2, i));
    assert_int_equal(tsr_ledger_find(l1, tsr_ledger_customer(l1, i)), (ptrdiff_t)i);
    if (i) assert_true(strcmp(tsr_ledger_customer(l1, i - 1), tsr_ledger_customer(l1, i)) != 0);
    size_t n1, n2;
    const tsr_ledger_entry *e1 = tsr_ledger_entries(l1, i, &n1), *e2 = tsr_ledger_entries(l2, i, &n2);
    assert_int_equal(n1, n2);
    for (size_t k = 0; k < n1; k++) {
      assert_int_equal(e1[k].day, e2[k].day);
      if (k) assert_true(e1[k].day > e1[k - 1].day);
      assert_int_equal(e1[k].ntx, e2[k].ntx);
      assert_near(e1[k].amount, e2[k].amount, 1e-9 * fabs(e1[k].amount));
    }
  }
  /* numeric ids sort numerically before the others */
  assert_string_equal(tsr_ledger_customer(l1, 0), "1");
  assert_int_equal(tsr_ledger_find(l1, "no-such-customer"), -1);
  tsr_ledger_free(l1);
  tsr_ledger_free(l2);
  for (size_t i = 0; i < nrows; i++) free(rows[i]);
  free(rows);
  free(a);
  free(b);
}


/* tsr__hash_bytes's tail without memcpy gives the values of the plain
 * algorithm (ids of every length up to 40 bytes, any bytes). */
static uint64_t ref_hash(const void *p, size_t n, uint64_t seed) {
  const uint64_t K1 = 0x9E3779B97F4A7C15ULL, K2 = 0xC2B2AE3D27D4EB4FULL;
  const unsigned char *b = p;
  uint64_t h = seed ^ ((uint64_t)n * K1);
#define STEP(h, w) ((((h) ^ ((w) * K2)) << 31 | ((h) ^ ((w) * K2)) >> 33) * K1)
  while (n >= 8) {
    uint64_t w = 0;
    for (int i = 0; i < 8; i++) w |= (uint64_t)b[i] << (8 * i);
    h = STEP(h, w);
    b += 8;
    n -= 8;
  }
  if (n) {
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++) w |= (uint64_t)b[i] << (8 * i);
    w ^= (uint64_t)n << 56;
    h = STEP(h, w);
  }
#undef STEP
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

static void test_hash_tail(void **state) {
  (void)state;
  unsigned char buf[48];
  unsigned x = 7;
  for (int round = 0; round < 50; round++) {
    for (size_t i = 0; i < sizeof buf; i++) {
      x = x * 1103515245u + 12345u;
      buf[i] = (unsigned char)(x >> 16);
    }
    for (size_t n = 0; n <= 40; n++)
      for (size_t off = 0; off < 4; off++) {
        assert_true(tsr__hash_bytes(buf + off, n, round) == ref_hash(buf + off, n, (uint64_t)round));
        assert_true(tsr__hash_bytes_inline(buf + off, n, round) == ref_hash(buf + off, n, (uint64_t)round));
      }
  }
}

/* Customer ids of every length around the inline limit of the customer
 * record (27 bytes inline, 28 and more in the ledger's id text) come back
 * whole and are found. */
/* The word-at-a-time id check (ingest.c id_graphic) against the byte
 * rules: ids of 1..24 bytes with a space or VT (trimmed at the ends), an
 * invalid UTF-8 byte or a NUL (rejected) at every position; a byte the
 * check misses would leave the space in the id or accept the row. */
static void test_id_graphic(void **state) {
  (void)state;
  static const char bad[] = {' ', '\v', (char)0xFF, '\0', (char)0x80};
  for (size_t len = 1; len <= 24; len++) {
    for (size_t pos = 0; pos < len; pos++) {
      for (size_t b = 0; b < sizeof bad; b++) {
        char csv[128], id[32];
        for (size_t k = 0; k < len; k++) id[k] = (char)((k + len) % 3 ? 'a' + (int)((k * 7 + len) % 26) : '~' - (int)(k % 4));
        id[pos] = bad[b];
        size_t o = (size_t)sprintf(csv, "customer_id,date,amount\n");
        memcpy(csv + o, id, len);
        o += len;
        o += (size_t)sprintf(csv + o, ",2024-01-01,1\n");
        tsr_ingest_opts opts;
        tsr_ingest_opts_init(&opts);
        rejects rj = {.n = 0};
        opts.on_reject = on_reject;
        opts.ud = &rj;
        tsr_ledger *lg;
        assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
        tsr_ingest_stats st;
        assert_int_equal(tsr_ingest_mem(lg, csv, o, "g.csv", &opts, &st, NULL), TSR_OK);
        assert_int_equal(tsr_ledger_finish(lg, NULL), TSR_OK);
        const int space = b < 2, edge = pos == 0 || pos == len - 1;
        if (!space || (edge && len == 1)) {
          /* rejected: invalid UTF-8, NUL, or nothing left after the trim */
          assert_int_equal(st.rows_rejected, 1);
          assert_int_equal(tsr_ledger_ncustomers(lg), 0);
        } else {
          assert_int_equal(st.rows_rejected, 0);
          assert_int_equal(tsr_ledger_ncustomers(lg), 1);
          char want[32];
          size_t a = pos == 0 ? 1 : 0, e = pos == len - 1 ? len - 1 : len;
          memcpy(want, id + a, e - a);
          want[e - a] = '\0';
          assert_string_equal(tsr_ledger_customer(lg, 0), want);
        }
        tsr_ledger_free(lg);
      }
    }
  }
}

static void test_id_lengths(void **state) {
  (void)state;
  char csv[8192];
  size_t o = (size_t)sprintf(csv, "customer_id,date,amount\n");
  for (int len = 1; len <= 40; len++) {
    char id[64];
    for (int k = 0; k < len; k++) id[k] = (char)('a' + (len + k) % 26);
    id[len] = '\0';
    o += (size_t)sprintf(csv + o, "%s,2024-01-%02d,%d\n%s,2024-02-01,1\n", id, 1 + len % 28, len, id);
  }
  tsr_ledger *lg;
  assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
  assert_int_equal(tsr_ingest_mem(lg, csv, o, "m.csv", NULL, NULL, NULL), TSR_OK);
  assert_int_equal(tsr_ledger_finish(lg, NULL), TSR_OK);
  assert_int_equal(tsr_ledger_ncustomers(lg), 40);
  for (int len = 1; len <= 40; len++) {
    char id[64];
    for (int k = 0; k < len; k++) id[k] = (char)('a' + (len + k) % 26);
    id[len] = '\0';
    ptrdiff_t i = tsr_ledger_find(lg, id);
    assert_true(i >= 0);
    assert_string_equal(tsr_ledger_customer(lg, (size_t)i), id);
    size_t n;
    const tsr_ledger_entry *e = tsr_ledger_entries(lg, (size_t)i, &n);
    assert_int_equal(n, 2);
    assert_near(e[0].amount, len, 1e-12);
  }
  tsr_ledger_free(lg);
}

/* single_input with a transaction id column: blocks without row hashes
 * give the same ledger and counts as with them (days out of order,
 * repeated ids with the same and with other content, growth past the
 * presized blocks); a second input on such a ledger still counts its own
 * identical rows. */
static void test_single_input_no_hashes(void **state) {
  (void)state;
  size_t cap = 4u << 20, o = 0;
  char *csv = malloc(cap);
  o += (size_t)sprintf(csv + o, "transaction_id,customer_id,date,amount\n");
  unsigned x = 5;
  for (unsigned i = 0; i < 40000; i++) {
    x = x * 1103515245u + 12345u;
    unsigned c = (i < 20000) ? i / 9 : (x >> 8) % 2500, d = (x >> 16) % 200;
    unsigned id = i % 997 == 5 ? i - 3 : i; /* some ids again */
    if (i % 1009 == 7) id = i - 1;
    size_t at = o;
    o += (size_t)sprintf(csv + o, "T%07u,c%u,2024-%02u-%02u,%u.%02u\n", id, c, 1 + d % 12, 1 + d % 28,
                         (x >> 20) % 300, c % 100);
    if (i % 500 == 3) { /* the same row again: a duplicate id */
      memmove(csv + o, csv + at, o - at);
      o += o - at;
    }
  }
  tsr_ledger *l[2];
  tsr_ingest_stats s[2];
  for (int k = 0; k < 2; k++) {
    tsr_ingest_opts op;
    tsr_ingest_opts_init(&op);
    op.single_input = k;
    op.threads = 2;
    assert_int_equal(tsr_ledger_new(&l[k], NULL), TSR_OK);
    assert_int_equal(tsr_ingest_mem(l[k], csv, o, "t.csv", &op, &s[k], NULL), TSR_OK);
    assert_int_equal(tsr_ledger_finish(l[k], NULL), TSR_OK);
  }
  assert_true(s[0].duplicate_ids > 0);
  assert_true(s[0].rows_rejected > 0);
  assert_int_equal(s[0].duplicate_ids, s[1].duplicate_ids);
  assert_int_equal(s[0].rows_rejected, s[1].rows_rejected);
  assert_int_equal(s[0].rows_accepted, s[1].rows_accepted);
  assert_int_equal(tsr_ledger_ncustomers(l[0]), tsr_ledger_ncustomers(l[1]));
  for (size_t i = 0; i < tsr_ledger_ncustomers(l[0]); i++) {
    assert_string_equal(tsr_ledger_customer(l[0], i), tsr_ledger_customer(l[1], i));
    size_t n0, n1;
    const tsr_ledger_entry *e0 = tsr_ledger_entries(l[0], i, &n0), *e1 = tsr_ledger_entries(l[1], i, &n1);
    assert_int_equal(n0, n1);
    for (size_t j = 0; j < n0; j++) {
      assert_int_equal(e0[j].day, e1[j].day);
      if (j) assert_true(e1[j].day > e1[j - 1].day);
      assert_int_equal(e0[j].ntx, e1[j].ntx);
      assert_true(e0[j].amount == e1[j].amount);
    }
  }
  /* a second input (no ids) on the ledger without row hashes */
  static const char more[] = "customer_id,date,amount\nc1,2024-01-01,5\nc1,2024-01-01,5\n"
                             "zz,2024-01-02,1\nzz,2024-01-02,1\nzz,2024-01-02,1\nzz,2024-01-02,2\n";
  tsr_ingest_stats s2;
  assert_int_equal(tsr_ingest_mem(l[1], more, sizeof more - 1, "m.csv", NULL, &s2, NULL), TSR_OK);
  assert_int_equal(s2.identical_rows, 3);
  assert_int_equal(tsr_ledger_finish(l[1], NULL), TSR_OK);
  ptrdiff_t z = tsr_ledger_find(l[1], "zz");
  assert_true(z >= 0);
  size_t nz;
  const tsr_ledger_entry *ez = tsr_ledger_entries(l[1], (size_t)z, &nz);
  assert_int_equal(nz, 1);
  assert_int_equal(ez[0].ntx, 4);
  tsr_ledger_free(l[0]);
  tsr_ledger_free(l[1]);
  free(csv);
}

/* Rows of n customers, each customer's rows together (a file sorted by
 * customer): per customer 1 + c % 23 rows over days out of order, some
 * rows repeated (identical) and some days repeated with other amounts. */
static char *grouped_log(unsigned n, size_t *len, size_t *nrows) {
  size_t cap = (size_t)n * 24 * 40 + 100, k = 0;
  char *b = malloc(cap);
  size_t o = (size_t)sprintf(b, "customer_id,date,amount\n");
  for (unsigned c = 0; c < n; c++) {
    unsigned r = 1 + c % 23;
    for (unsigned j = 0; j < r; j++) {
      unsigned d = (j * 7 + c) % 29, amt = (c * 31 + j * 17) % 1000;
      if (j % 5 == 4) d = (j - 1) * 7 % 29 + 0 * amt; /* a repeated day */
      if (j % 6 == 5) {
        /* a row identical to the previous one */
        unsigned pj = j - 1, pd = ((pj * 7 + c) % 29), pa = (c * 31 + pj * 17) % 1000;
        if (pj % 5 == 4) pd = (pj - 1) * 7 % 29;
        d = pd;
        amt = pa;
      }
      o += (size_t)sprintf(b + o, "g%u,2024-03-%02u,%u.%02u\n", c, 1 + (d + c) % 29 % 28, amt / 10, amt % 10);
      k++;
    }
  }
  *len = o;
  *nrows = k;
  return b;
}

/* A file sorted by customer gives each customer a block of exactly its
 * rows (counted ahead in the batch) and the same ledger as the same rows
 * in another order; a second file adding rows to those customers grows
 * the odd-sized blocks, still the same ledger. */
/* Blocks grown a row at a time have the class sizes 2, 3, 4, 6, 8, 12...
 * (two an octave): two customers of k days each, rows alternating (runs of
 * one row: nothing presized), hold 2 * the first class size >= k. */
static void test_block_classes(void **state) {
  (void)state;
  static const unsigned want[] = {0, 2, 2, 3, 4, 6, 6, 8, 8, 12, 12, 12, 12, 16, 16, 16, 16,
                                  24, 24, 24, 24, 24, 24, 24, 24, 32, 32, 32, 32, 32, 32, 32,
                                  32, 48};
  for (unsigned k = 1; k < sizeof want / sizeof *want; k++) {
    char csv[8192];
    size_t len = (size_t)sprintf(csv, "customer_id,date,amount\n");
    for (unsigned d = 0; d < k; d++) {
      char day[11];
      tsr_day_format(19723 + d, day);
      len += (size_t)sprintf(csv + len, "a,%s,1\nb,%s,2\n", day, day);
    }
    tsr_ledger *lg;
    assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
    assert_int_equal(tsr_ingest_mem(lg, csv, len, "c.csv", NULL, NULL, NULL), TSR_OK);
    assert_int_equal(tsr_ledger_ncustomers(lg), 2);
    assert_int_equal(tsr__ledger_capacity(lg), 2 * want[k]);
    tsr_ledger_free(lg);
  }
}

static void test_grouped_presized(void **state) {
  (void)state;
  size_t la, nrows;
  char *a = grouped_log(3000, &la, &nrows);
  /* b: the same rows, one customer's rows spread over the file */
  char **lines = malloc(nrows * sizeof *lines);
  size_t nl = 0;
  char *body = strchr(a, '\n') + 1;
  for (char *q = body; q < a + la; q = strchr(q, '\n') + 1) lines[nl++] = q;
  assert_int_equal(nl, nrows);
  char *b = malloc(la + 1);
  size_t lb = (size_t)(body - a);
  memcpy(b, a, lb);
  for (size_t i = 0; i < nrows; i++) {
    const char *q = lines[(i * 7919) % nrows];
    size_t n = (size_t)(strchr(q, '\n') - q) + 1;
    memcpy(b + lb, q, n);
    lb += n;
  }
  assert_int_equal(lb, la);
  for (int dedupe = 0; dedupe < 2; dedupe++) {
    for (int threads = 1; threads <= 2; threads++) {
      tsr_ingest_opts o;
      tsr_ingest_opts_init(&o);
      o.threads = threads;
      o.dedupe = dedupe ? TSR_DEDUPE_EXACT : TSR_DEDUPE_NONE;
      tsr_ledger *l1, *l2;
      tsr_ingest_stats s1, s2;
      assert_int_equal(tsr_ledger_new(&l1, NULL), TSR_OK);
      assert_int_equal(tsr_ledger_new(&l2, NULL), TSR_OK);
      assert_int_equal(tsr_ingest_mem(l1, a, la, "a.csv", &o, &s1, NULL), TSR_OK);
      assert_int_equal(tsr_ingest_mem(l2, b, lb, "b.csv", &o, &s2, NULL), TSR_OK);
      assert_int_equal(s1.rows_read, (int64_t)nrows);
      assert_true(s1.identical_rows > 100);
      assert_int_equal(s1.identical_rows, s2.identical_rows);
      assert_int_equal(s1.identical_dropped, s2.identical_dropped);
      assert_int_equal(s1.rows_accepted, s2.rows_accepted);
      /* exact blocks: the rows of every customer whose run ends in its
       * batch (all but a few at batch ends; customers of one row get none
       * before their first entry, then two) */
      size_t capa = tsr__ledger_capacity(l1), capb = tsr__ledger_capacity(l2);
      /* (grown blocks, two classes an octave, may hold fewer: b's count
       * days, a's presized ones rows) */
      (void)capb;
      assert_true(capa <= nrows + 3000 / 23 + 200);
      for (int round = 0; round < 2; round++) {
        if (round) {
          /* more rows for the same customers: blocks of odd sizes grow */
          assert_int_equal(tsr_ingest_mem(l1, b, lb, "b.csv", &o, &s1, NULL), TSR_OK);
          assert_int_equal(tsr_ingest_mem(l2, a, la, "a.csv", &o, &s2, NULL), TSR_OK);
          assert_int_equal(s1.identical_rows, s2.identical_rows);
        }
        assert_int_equal(tsr_ledger_finish(l1, NULL), TSR_OK);
        assert_int_equal(tsr_ledger_finish(l2, NULL), TSR_OK);
        assert_int_equal(tsr_ledger_ncustomers(l1), 3000);
        assert_int_equal(tsr_ledger_ncustomers(l2), 3000);
        for (size_t i = 0; i < 3000; i++) {
          assert_string_equal(tsr_ledger_customer(l1, i), tsr_ledger_customer(l2, i));
          size_t n1, n2;
          const tsr_ledger_entry *e1 = tsr_ledger_entries(l1, i, &n1), *e2 = tsr_ledger_entries(l2, i, &n2);
          assert_int_equal(n1, n2);
          for (size_t k = 0; k < n1; k++) {
            assert_int_equal(e1[k].day, e2[k].day);
            if (k) assert_true(e1[k].day > e1[k - 1].day);
            assert_int_equal(e1[k].ntx, e2[k].ntx);
            assert_near(e1[k].amount, e2[k].amount, 1e-9 * fabs(e1[k].amount));
          }
        }
      }
      tsr_ledger_free(l1);
      tsr_ledger_free(l2);
    }
  }
  free(lines);
  free(a);
  free(b);
}

/* Every reject, in order (for the thread comparisons). */
typedef struct {
  char *text;
  size_t len, cap;
  long n;
} reject_log;

static void log_reject(void *ud, const tsr_reject *r) {
  reject_log *l = ud;
  char b[1200];
  int k = snprintf(b, sizeof b, "%s:%lld:%lld: %s: %s [%.*s]\n", r->source, (long long)r->line,
                   (long long)r->column, r->field, r->reason, (int)(r->raw_len > 500 ? 500 : r->raw_len),
                   r->raw);
  if (l->len + (size_t)k + 1 > l->cap) {
    l->cap = (l->len + (size_t)k + 1) * 2;
    l->text = realloc(l->text, l->cap);
  }
  memcpy(l->text + l->len, b, (size_t)k + 1);
  l->len += (size_t)k;
  l->n++;
}

/* A messy log of about 3 MB: unsorted, duplicates, quotes, CRLF, bad rows. */
static char *messy_log(size_t nrows, size_t *len) {
  size_t cap = nrows * 80 + 100;
  char *b = malloc(cap);
  size_t n = (size_t)sprintf(b, "customer_id,date,amount,note\r\n");
  unsigned x = 99;
  for (size_t i = 0; i < nrows; i++) {
    x = x * 1103515245u + 12345u;
    unsigned c = (x >> 8) % 9000, d = (x >> 18) % 300, kind = (x >> 27) % 32;
    x = x * 1103515245u + 12345u;
    unsigned amt = (x >> 8) % 50000;
    const char *eol = (x >> 28) % 2 ? "\r\n" : "\n";
    switch (kind) {
      case 0: n += (size_t)sprintf(b + n, "c%u,2024-02-30,1,x%s", c, eol); break;
      case 1: n += (size_t)sprintf(b + n, "c%u,2024-01-01,12,50,x%s", c, eol); break;
      case 2: n += (size_t)sprintf(b + n, "\"c%u\",\"2024-03-%02u\",\"%u.%02u\",\"multi\nline\"%s", c, 1 + d % 28, amt / 100, amt % 100, eol); break;
      case 3: n += (size_t)sprintf(b + n, "c%u,2024-01-%02u,-%u.5,refund%s", c, 1 + d % 28, amt % 100, eol); break;
      case 4: n += (size_t)sprintf(b + n, "c%u,2024-01-01,1,\"bad\"quote%s", c, eol); break;
      case 5: n += (size_t)sprintf(b + n, "c1,2024-01-01,1.25,dup%s", eol); break;
      default:
        n += (size_t)sprintf(b + n, "c%u,2024-%02u-%02uT%02u:00:00Z,%u.%02u,x%s", c, 1 + d % 12,
                             1 + d % 28, d % 24, amt / 100, amt % 100, eol);
    }
  }
  *len = n;
  return b;
}

/* Two threads give the same ledger, stats and rejects (in order) as one,
 * also when --max-errors stops the run and with --dedupe exact. */
static void test_threads_same(void **state) {
  (void)state;
  size_t len;
  char *csv = messy_log(70000, &len);
  assert_true(len > 2000000);
  char path[64];
  assert_non_null(tsr_test_tmpfile(csv, len, path, sizeof path));
  for (int variant = 0; variant < 4; variant++) {
    tsr_ledger *lg[2];
    tsr_ingest_stats st[2];
    reject_log rl[2];
    tsr_status rc[2];
    for (int t = 0; t < 2; t++) {
      tsr_ingest_opts o;
      tsr_ingest_opts_init(&o);
      o.threads = t ? 2 : 1;
      o.on_reject = log_reject;
      memset(&rl[t], 0, sizeof rl[t]);
      o.ud = &rl[t];
      if (variant == 1) o.max_errors = 3000;
      if (variant == 2) o.dedupe = TSR_DEDUPE_EXACT;
      assert_int_equal(tsr_ledger_new(&lg[t], NULL), TSR_OK);
      tsr_error e;
      if (variant == 3) rc[t] = tsr_ingest_mem(lg[t], csv, len, path, &o, &st[t], &e);
      else rc[t] = tsr_ingest_file(lg[t], path, &o, &st[t], &e);
      assert_int_equal(tsr_ledger_finish(lg[t], NULL), TSR_OK);
    }
    assert_int_equal(rc[0], variant == 1 ? TSR_EMAXERR : TSR_OK);
    assert_int_equal(rc[0], rc[1]);
    assert_int_equal(rl[0].n, rl[1].n);
    assert_true(rl[0].n > 1000);
    assert_string_equal(rl[0].text, rl[1].text);
    assert_int_equal(st[0].rows_read, st[1].rows_read);
    assert_int_equal(st[0].rows_accepted, st[1].rows_accepted);
    assert_int_equal(st[0].rows_rejected, st[1].rows_rejected);
    assert_int_equal(st[0].identical_rows, st[1].identical_rows);
    assert_int_equal(st[0].identical_dropped, st[1].identical_dropped);
    assert_int_equal(st[0].refunds, st[1].refunds);
    assert_true(st[0].refund_amount == st[1].refund_amount);
    assert_int_equal(st[0].min_time, st[1].min_time);
    assert_int_equal(st[0].max_time, st[1].max_time);
    assert_int_equal(st[0].checksum, st[1].checksum);
    assert_int_equal(tsr_ledger_ncustomers(lg[0]), tsr_ledger_ncustomers(lg[1]));
    for (size_t i = 0; i < tsr_ledger_ncustomers(lg[0]); i++) {
      assert_string_equal(tsr_ledger_customer(lg[0], i), tsr_ledger_customer(lg[1], i));
      size_t n0, n1;
      const tsr_ledger_entry *e0 = tsr_ledger_entries(lg[0], i, &n0);
      const tsr_ledger_entry *e1 = tsr_ledger_entries(lg[1], i, &n1);
      assert_int_equal(n0, n1);
      for (size_t k = 0; k < n0; k++) {
        assert_int_equal(e0[k].day, e1[k].day);
        assert_int_equal(e0[k].ntx, e1[k].ntx);
        assert_int_equal(e0[k].nrefund, e1[k].nrefund);
        assert_true(e0[k].amount == e1[k].amount); /* bit-identical sums */
        assert_true(e0[k].refund == e1[k].refund);
      }
    }
    for (int t = 0; t < 2; t++) {
      tsr_ledger_free(lg[t]);
      free(rl[t].text);
    }
  }
  unlink(path);
  free(csv);
}


/* Transaction ids, checked 16 rows after parsing (lib/ingest/ingest.c) and
 * listed without the table while they arrive in order: a log whose ids are
 * in order for its first third, then shuffled, with exact repeats (dropped),
 * reused ids with other content, bad dates and quoted rows (the slow reader)
 * mixed in. The generator knows every expected reject (line, column) and
 * count; one and two threads, file and memory, and a --max-errors stop must
 * all give exactly those. */
typedef struct idlog {
  char *text;
  size_t len;
  char *exp;          /* expected reject lines "LINE:COL:FIELD\n" */
  size_t explen;
  long dups, accepted, rejects;
  long stop_line, stop_accepted; /* the (max+1)-th reject and rows before */
} idlog;

static void log_pos(void *ud, const tsr_reject *r) {
  reject_log *l = ud;
  char b[96];
  int k = snprintf(b, sizeof b, "%lld:%lld:%s\n", (long long)r->line, (long long)r->column, r->field);
  if (l->len + (size_t)k + 1 > l->cap) {
    l->cap = (l->len + (size_t)k + 1) * 2;
    l->text = realloc(l->text, l->cap);
  }
  memcpy(l->text + l->len, b, (size_t)k + 1);
  l->len += (size_t)k;
  l->n++;
}

static void make_idlog(idlog *g, size_t nrows, long max_errors) {
  memset(g, 0, sizeof *g);
  size_t cap = nrows * 90 + 100;
  g->text = malloc(cap);
  g->exp = malloc(nrows * 32 + 1);
  g->exp[0] = '\0';
  char (*good)[80] = malloc(nrows * sizeof *good);
  size_t ngood = 0;
  size_t n = (size_t)sprintf(g->text, "transaction_id,customer_id,date,amount\n");
  unsigned x = 7;
  g->stop_line = -1;
  for (size_t i = 0; i < nrows; i++) {
    long line = (long)i + 2;
    x = x * 1103515245u + 12345u;
    unsigned kind = (x >> 24) % 16, c = (x >> 8) % 5000;
    /* new ids: in order for the first third, then a permutation */
    unsigned idn = i < nrows / 3 ? (unsigned)i : (unsigned)((i * 7919u) % (nrows * 4) + nrows);
    char row[80];
    int bad = 0;
    if (i > 10 && kind == 0 && ngood) {
      snprintf(row, sizeof row, "%s", good[(x >> 4) % ngood]); /* exact repeat: dropped */
      g->dups++;
      n += (size_t)sprintf(g->text + n, "%s\n", row);
      continue;
    }
    if (i > 10 && kind == 1 && ngood) {
      /* an earlier id with other content: rejected at the id (column 1) */
      const char *e = good[(x >> 4) % ngood];
      size_t il = strcspn(e, ",");
      snprintf(row, sizeof row, "%.*s,z%u,2024-05-05,9.99", (int)il, e, c);
      bad = 1;
      g->explen += (size_t)sprintf(g->exp + g->explen, "%ld:1:transaction_id\n", line);
    } else if (kind == 2) {
      /* a bad date: column after "tNNNNNNN,cNNNN," */
      int k = snprintf(row, sizeof row, "t%07u,c%u,", idn, c);
      snprintf(row + k, sizeof row - (size_t)k, "2024-13-01,1");
      bad = 1;
      g->explen += (size_t)sprintf(g->exp + g->explen, "%ld:%d:date\n", line, k + 1);
    } else if (kind == 3) {
      snprintf(row, sizeof row, "\"t%07u\",\"c%u\",2024-02-%02u,\"1.5\"", idn, c, 1 + c % 28);
    } else {
      snprintf(row, sizeof row, "t%07u,c%u,2024-%02u-%02u,%u.%02u", idn, c, 1 + c % 12, 1 + (x >> 4) % 28,
               (x >> 10) % 500, (x >> 3) % 100);
    }
    n += (size_t)sprintf(g->text + n, "%s\n", row);
    if (bad) {
      g->rejects++;
      if (g->rejects == max_errors + 1 && g->stop_line < 0) {
        g->stop_line = line;
        g->stop_accepted = g->accepted;
      }
    } else {
      g->accepted++;
      snprintf(good[ngood++], sizeof *good, "%s", row);
    }
  }
  g->len = n;
  free(good);
}

static void test_ids_ring_exact(void **state) {
  (void)state;
  idlog g;
  const long maxe = 500;
  make_idlog(&g, 60000, maxe);
  assert_true(g.dups > 1000 && g.rejects > 2 * maxe && g.stop_line > 0);
  char path[64];
  assert_non_null(tsr_test_tmpfile(g.text, g.len, path, sizeof path));
  for (int v = 0; v < 6; v++) {
    int threads = v % 2 ? 2 : 1, mem = v >= 4, stop = v == 2 || v == 3;
    tsr_ingest_opts o;
    tsr_ingest_opts_init(&o);
    o.threads = threads;
    o.on_reject = log_pos;
    reject_log rl;
    memset(&rl, 0, sizeof rl);
    o.ud = &rl;
    if (stop) o.max_errors = maxe;
    tsr_ledger *lg;
    tsr_ingest_stats st;
    assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
    tsr_status rc = mem ? tsr_ingest_mem(lg, g.text, g.len, path, &o, &st, NULL)
                        : tsr_ingest_file(lg, path, &o, &st, NULL);
    assert_string_equal(st.id_col, "transaction_id");
    if (stop) {
      /* stopped at the reject over the maximum: rows up to it read */
      assert_int_equal(rc, TSR_EMAXERR);
      assert_int_equal(st.rows_rejected, maxe + 1);
      assert_int_equal(st.rows_read, g.stop_line - 1);
      assert_int_equal(st.rows_accepted, g.stop_accepted);
      assert_int_equal(strncmp(rl.text, g.exp, rl.len), 0); /* the first rejects, in order */
      assert_int_equal(rl.n, maxe + 1);
    } else {
      assert_int_equal(rc, TSR_OK);
      assert_int_equal(st.rows_read, 60000);
      assert_int_equal(st.duplicate_ids, g.dups);
      assert_int_equal(st.rows_rejected, g.rejects);
      assert_int_equal(st.rows_accepted, g.accepted);
      assert_int_equal(rl.len, g.explen);
      assert_string_equal(rl.text, g.exp);
    }
    tsr_ledger_free(lg);
    free(rl.text);
  }
  /* the same file twice into one ledger: every id repeats */
  tsr_ingest_opts o;
  tsr_ingest_opts_init(&o);
  tsr_ledger *lg;
  tsr_ingest_stats st;
  assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
  assert_int_equal(tsr_ingest_file(lg, path, &o, &st, NULL), TSR_OK);
  assert_int_equal(tsr_ingest_file(lg, path, &o, &st, NULL), TSR_OK);
  assert_int_equal(st.rows_accepted, 0);
  assert_int_equal(st.duplicate_ids, g.accepted + g.dups);
  tsr_ledger_free(lg);
  unlink(path);
  free(g.text);
  free(g.exp);
}

/* The customer table past its chunk size (65,536 customers a chunk) and
 * several rehashes: 150,000 customers over two files into one ledger (the
 * second after tsr_ledger_finish, half of its customers already known),
 * every one found, in order, with its entries and exact sums; one and two
 * threads alike. Ids of 32+ bytes (stored outside the customer) mixed in. */
static char *many_log(unsigned from, unsigned to, unsigned day, size_t *len) {
  size_t cap = (size_t)(to - from) * 96 + 64, n = 0;
  char *b = malloc(cap);
  n += (size_t)sprintf(b, "customer_id,date,amount\n");
  unsigned span = to - from;
  for (unsigned k = 0; k < span; k++) {
    unsigned c = from + (unsigned)(((uint64_t)k * 7919u) % span); /* a permutation */
    if (c % 5 == 0)
      n += (size_t)sprintf(b + n, "customer-with-a-rather-long-identifier-%06u,2024-03-%02u,%u.%02u\n",
                           c, day, c % 1000, c % 100);
    else
      n += (size_t)sprintf(b + n, "%u,2024-03-%02u,%u.%02u\n", c, day, c % 1000, c % 100);
  }
  *len = n;
  return b;
}

static void test_many_customers(void **state) {
  (void)state;
  size_t la, lb;
  char *a = many_log(0, 100000, 1, &la), *b = many_log(50000, 150000, 2, &lb);
  char path[64];
  assert_non_null(tsr_test_tmpfile(b, lb, path, sizeof path));
  for (int v = 0; v < 4; v++) {
    /* v >= 2: as for an input of BIG_INPUT bytes (the first customer
     * chunk advised huge, the table and the customer numbers started at
     * TBL_MAP bytes) */
    const int t = 1 + (v & 1);
    tsr_ledger *lg;
    tsr_ingest_opts o;
    tsr_ingest_opts_init(&o);
    o.threads = t;
    tsr_ingest_stats st;
    assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
    lg->big_input = v >= 2;
    assert_int_equal(tsr_ingest_mem(lg, a, la, "a.csv", &o, &st, NULL), TSR_OK);
    assert_int_equal(st.rows_accepted, 100000);
    assert_int_equal(tsr_ledger_finish(lg, NULL), TSR_OK);
    assert_int_equal(tsr_ledger_ncustomers(lg), 100000);
    assert_int_equal(tsr_ingest_file(lg, path, &o, &st, NULL), TSR_OK);
    assert_int_equal(st.rows_accepted, 100000);
    assert_int_equal(tsr_ledger_finish(lg, NULL), TSR_OK);
    assert_int_equal(tsr_ledger_ncustomers(lg), 150000);
    /* digit ids first, numerically; then the long ids bytewise */
    size_t ndig = 150000 - 30000;
    for (size_t i = 0; i < 150000; i++) {
      unsigned c;
      char want[96];
      if (i < ndig) {
        c = (unsigned)(i / 4 * 5 + i % 4 + 1);
        snprintf(want, sizeof want, "%u", c);
      } else {
        c = (unsigned)(i - ndig) * 5;
        snprintf(want, sizeof want, "customer-with-a-rather-long-identifier-%06u", c);
      }
      assert_string_equal(tsr_ledger_customer(lg, i), want);
      assert_int_equal(tsr_ledger_find(lg, want), (ptrdiff_t)i);
      size_t n;
      const tsr_ledger_entry *e = tsr_ledger_entries(lg, i, &n);
      assert_int_equal(n, (c < 50000 || c >= 100000) ? 1 : 2);
      assert_int_equal(e[0].day, tsr_days_from_civil(2024, 3, c < 50000 ? 1 : c >= 100000 ? 2 : 1));
      if (n == 2) assert_int_equal(e[1].day, tsr_days_from_civil(2024, 3, 2));
      char amt[32];
      snprintf(amt, sizeof amt, "%u.%02u", c % 1000, c % 100);
      for (size_t k = 0; k < n; k++) {
        assert_int_equal(e[k].ntx, 1);
        assert_true(e[k].amount == strtod(amt, NULL));
      }
    }
    assert_int_equal(tsr_ledger_find(lg, "150000"), -1);
    assert_int_equal(tsr_ledger_find(lg, "customer-with-a-rather-long-identifier-000001"), -1);
    tsr_ledger_free(lg);
  }
  unlink(path);
  free(a);
  free(b);
}

/* 100,000 transaction ids in order (their content hashes grow at 8,192
 * to the rows expected, in one block of tbl_alloc: grow_big's hint; with
 * single_input none kept: seq_lazy), then two out of order: one identical
 * to its first row (a duplicate), one with another amount (rejected); one
 * and two threads. */
static void test_ids_in_order_hint(void **state) {
  (void)state;
  const unsigned n = 100000;
  size_t cap = (size_t)n * 48 + 256, len = 0;
  char *csv = malloc(cap);
  assert_non_null(csv);
  len += (size_t)snprintf(csv, cap, "transaction_id,customer_id,date,amount\n");
  for (unsigned i = 0; i < n; i++)
    len += (size_t)snprintf(csv + len, cap - len, "T%07u,C%u,2024-01-%02u,%u.25\n", i, i % 3000,
                            1 + i % 28, i % 97);
  len += (size_t)snprintf(csv + len, cap - len, "T%07u,C%u,2024-01-%02u,%u.25\n", 5u, 5u, 6u, 5u);
  len += (size_t)snprintf(csv + len, cap - len, "T%07u,C%u,2024-01-%02u,%u.26\n", 50000u,
                          50000u % 3000, 1 + 50000 % 28, 50000u % 97);
  for (int t = 1; t <= 4; t++) {
    tsr_ledger *lg;
    tsr_ingest_opts o;
    tsr_ingest_opts_init(&o);
    o.threads = 1 + (t - 1) % 2;
    o.single_input = t <= 2;
    tsr_ingest_stats st;
    assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
    /* the ids in order alone first: the hint taken at once */
    assert_int_equal(tsr_ingest_mem(lg, csv, len - 60, "h.csv", &o, &st, NULL), TSR_OK);
    assert_int_equal(st.rows_accepted, n);
    assert_false(lg->ids_hashed);
    assert_int_equal(lg->seq_n, n);
    if (o.single_input) {
      assert_true(lg->seq_lazy);
      assert_null(lg->seq);
    } else {
      assert_false(lg->seq_lazy);
      assert_true(lg->seq_cap >= n && lg->seq_cap * sizeof *lg->seq >= ((size_t)1 << 20));
    }
    tsr_ledger_free(lg);
    assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
    assert_int_equal(tsr_ingest_mem(lg, csv, len, "h.csv", &o, &st, NULL), TSR_OK);
    assert_int_equal(st.rows_accepted, n);
    assert_int_equal(st.duplicate_ids, 1);
    assert_int_equal(st.rows_rejected, 1);
    assert_true(lg->ids_hashed);
    assert_int_equal(tsr_ledger_ncustomers(lg), 3000);
    tsr_ledger_free(lg);
  }
  free(csv);
}

/* The rejects of an ingest as a count and a hash of their lines. */
typedef struct {
  int64_t n;
  uint64_t h;
  char first[300];
} reject_sum;

static void on_reject_sum(void *ud, const tsr_reject *r) {
  reject_sum *rs = ud;
  char line[700];
  int k = snprintf(line, sizeof line, "%s:%lld:%lld:%s:%s:%.*s", r->source, (long long)r->line,
                   (long long)r->column, r->field, r->reason, (int)r->raw_len, r->raw);
  for (int i = 0; i < k && i < (int)sizeof line; i++)
    rs->h = (rs->h ^ (unsigned char)line[i]) * 0x100000001B3ULL;
  if (!rs->n) snprintf(rs->first, sizeof rs->first, "%.290s", line);
  rs->n++;
}

/* The seq_lazy path (no content hashes while the transaction ids come in
 * order; the input read again at the first id out of order) gives the
 * rows, rejects and ledger of the path that keeps the hashes: 30,000 ids
 * in order with rejected rows among them (a bad date, a bad amount, a
 * missing id; some with the id of the next row), quoted and padded ids,
 * quoted fields with delimiters, CRLF lines; then ids again, identical
 * (duplicates), with other content (rejected) and a rejected row's id
 * (new). From memory and from a file, with and without a header, one and
 * two threads. */
static void test_ids_lazy_rebuild(void **state) {
  (void)state;
  const unsigned n = 30000;
  size_t cap = (size_t)n * 80 + 4096, len = 0;
  char *csv = malloc(cap);
  assert_non_null(csv);
  const size_t hlen = (size_t)snprintf(csv, cap, "tx,customer,date,amount,note\n");
  len = hlen;
#define ROW(...) (len += (size_t)snprintf(csv + len, cap - len, __VA_ARGS__))
  for (unsigned i = 0; i < n; i++) {
    unsigned c = (i * 7919u) % 2000, d = 1 + i % 28;
    if (i % 101 == 3) ROW("A%06u,c%u,2024-02-31,1.00,bad date\n", i + 1, c); /* next row's id */
    if (i % 211 == 5) ROW("A%06u,c%u,2024-01-%02u,abc,bad amount\n", i, c, d);
    if (i % 307 == 9) ROW(",c%u,2024-01-%02u,3.00,no id\n", c, d);
    if (i % 13 == 1)
      ROW("\" A%06u \",c%u,2024-01-%02u,%u.50,\"q,%u\"\r\n", i, c, d, i % 50, i);
    else if (i % 17 == 2)
      ROW("A%06u,c%u,2024-01-%02u,%u.25, sp\r\n", i, c, d, i % 50);
    else
      ROW("A%06u,c%u,2024-01-%02u,%u.25,n%u\n", i, c, d, i % 50, i % 3);
  }
  /* out of order: the same rows again (duplicates), others with another
   * amount (rejected), and new ids */
  for (unsigned i = 7; i < n; i += 1000) {
    unsigned c = (i * 7919u) % 2000, d = 1 + i % 28;
    ROW("A%06u,c%u,2024-01-%02u,%u.25,n%u\n", i, c, d, i % 50, i % 3);
    ROW("A%06u,c%u,2024-01-%02u,%u.75,n%u\n", i + 1, c, d, i % 50, i % 3);
    ROW("A%06u,c%u,2024-01-%02u,1.00,new\n", n + i, c, d);
  }
  ROW("\" A%06u \",c%u,2024-01-%02u,%u.50,\"q,%u\"\r\n", 14u, (14u * 7919u) % 2000, 15u, 14u, 14u);
#undef ROW
  char path[64];
  assert_non_null(tsr_test_tmpfile(csv, len, path, sizeof path));
  char hpath[64]; /* the same without its header */
  assert_non_null(tsr_test_tmpfile(csv + hlen, len - hlen, hpath, sizeof hpath));
  for (int hdr = 0; hdr < 2; hdr++) {
    tsr_ingest_stats ref;
    reject_sum rref;
    tsr_ledger *lref = NULL;
    for (int v = 0; v < 6; v++) {
      /* v 0: the reference (hashes kept); 1-2 memory, 3-4 file (one and
       * two threads); 5: a file, its ids from the start out of order */
      const char *pth = hdr ? path : hpath;
      const char *buf = hdr ? csv : csv + hlen;
      size_t blen = hdr ? len : len - hlen;
      tsr_ingest_opts o;
      tsr_ingest_opts_init(&o);
      o.single_input = v != 0;
      o.threads = 1 + (v % 2);
      reject_sum rs = {0, 14695981039346656037ULL, ""};
      o.on_reject = on_reject_sum;
      o.ud = &rs;
      if (!hdr) {
        o.header = 0;
        o.customer_col = "2";
        o.date_col = "3";
        o.amount_col = "4";
        o.id_col = "1";
      } else {
        o.id_col = "tx";
      }
      tsr_ledger *lg;
      tsr_ingest_stats st;
      assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
      tsr_status r = v >= 3 ? tsr_ingest_file(lg, pth, &o, &st, NULL)
                            : tsr_ingest_mem(lg, buf, blen, pth, &o, &st, NULL);
      assert_int_equal(r, TSR_OK);
      assert_true(lg->ids_hashed);
      assert_false(lg->seq_lazy);
      assert_int_equal(tsr_ledger_finish(lg, NULL), TSR_OK);
      if (v == 0) {
        ref = st;
        rref = rs;
        lref = lg;
        assert_true(st.duplicate_ids >= 20);
        assert_true(st.rows_rejected > 29 + 300 + 140 + 90);
        continue;
      }
      assert_int_equal(st.rows_read, ref.rows_read);
      assert_int_equal(st.rows_accepted, ref.rows_accepted);
      assert_int_equal(st.duplicate_ids, ref.duplicate_ids);
      assert_int_equal(st.rows_rejected, ref.rows_rejected);
      assert_int_equal(rs.n, rref.n);
      assert_string_equal(rs.first, rref.first);
      assert_true(rs.h == rref.h);
      assert_int_equal(tsr_ledger_ncustomers(lg), tsr_ledger_ncustomers(lref));
      for (size_t i = 0; i < tsr_ledger_ncustomers(lg); i++) {
        size_t n0, n1;
        const tsr_ledger_entry *e0 = tsr_ledger_entries(lref, i, &n0),
                               *e1 = tsr_ledger_entries(lg, i, &n1);
        assert_int_equal(n0, n1);
        for (size_t j = 0; j < n0; j++) {
          assert_int_equal(e0[j].day, e1[j].day);
          assert_int_equal(e0[j].ntx, e1[j].ntx);
          assert_true(e0[j].amount == e1[j].amount && e0[j].refund == e1[j].refund);
        }
      }
      tsr_ledger_free(lg);
    }
    tsr_ledger_free(lref);
  }
  remove(path);
  remove(hpath);
  free(csv);
}

/* On a lazy file input changed before the first id out of order (by the
 * reject callback), the rows read again differ: an error, not other
 * results. A further input with ids on a ledger whose single input kept
 * its ids lazily is refused. */
typedef struct {
  const char *path;
  int done;
} change_ctx;

static void on_reject_change(void *ud, const tsr_reject *r) {
  (void)r;
  change_ctx *cc = ud;
  if (cc->done++) return;
  FILE *f = fopen(cc->path, "r+");
  assert_non_null(f);
  assert_int_equal(fseek(f, 24, SEEK_SET), 0);
  assert_true(fputs("B0", f) >= 0); /* the first id, B1, now B0 */
  fclose(f);
}

static void test_ids_lazy_changed(void **state) {
  (void)state;
  const char text[] = "id,customer,date,amount\n"
                      "B1,c1,2024-01-01,1\nB2,c2,2024-01-02,2\nB3,c1,2024-13-01,3\n"
                      "B4,c3,2024-01-03,4\nB2,c2,2024-01-02,2\n";
  char body[sizeof text];
  memcpy(body, text, sizeof text);
  char path[64];
  assert_non_null(tsr_test_tmpfile(body, sizeof body - 1, path, sizeof path));
  change_ctx cc = {path, 0};
  tsr_ingest_opts o;
  tsr_ingest_opts_init(&o);
  o.single_input = 1;
  o.id_col = "id";
  o.on_reject = on_reject_change;
  o.ud = &cc;
  tsr_ledger *lg;
  tsr_ingest_stats st;
  tsr_error e;
  assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
  assert_int_equal(tsr_ingest_file(lg, path, &o, &st, &e), TSR_EIO);
  assert_non_null(strstr(e.msg, "changed while it was read"));
  assert_true(lg->seq_lazy); /* its hashes incomplete: no further ids */
  assert_int_equal(tsr_ingest_mem(lg, body, sizeof body - 1, "m.csv", &o, &st, &e), TSR_EINVAL);
  tsr_ledger_free(lg);
  /* unchanged: the duplicate found */
  o.on_reject = NULL;
  assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
  assert_int_equal(tsr_ingest_mem(lg, body, sizeof body - 1, "m.csv", &o, &st, &e), TSR_OK);
  assert_int_equal(st.duplicate_ids, 1);
  assert_int_equal(st.rows_rejected, 1);
  tsr_ledger_free(lg);
  /* in order to the end: still lazy; no further input with ids */
  assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
  assert_int_equal(tsr_ingest_mem(lg, body, sizeof body - 1 - 19, "m.csv", &o, &st, &e), TSR_OK);
  assert_true(lg->seq_lazy && lg->seq_n == 3);
  assert_int_equal(tsr_ingest_mem(lg, body, sizeof body - 1, "m.csv", &o, &st, &e), TSR_EINVAL);
  o.id_col = "none"; /* without ids it is taken */
  assert_int_equal(tsr_ingest_mem(lg, body, sizeof body - 1, "m.csv", &o, &st, &e), TSR_OK);
  tsr_ledger_free(lg);
  remove(path);
}

/* grow_big with a hint of TBL_MAP bytes or more from a small array: one
 * block of the hint at once, the old elements copied. */
static void test_seq_hint_block(void **state) {
  (void)state;
  tsr_ledger *lg;
  assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
  char id[16];
  for (unsigned i = 0; i < 20000; i++) {
    if (lg->seq_n == lg->seq_cap && lg->seq_n >= 8192) lg->seq_hint = 300000;
    snprintf(id, sizeof id, "X%07u", i);
    assert_int_equal(tsr__ids_append(lg, id, 8, 0, 1000 + i), 0);
  }
  assert_int_equal(lg->seq_cap, 300000);
  for (unsigned i = 0; i < 20000; i++) assert_true(lg->seq[i] == 1000 + i);
  assert_int_equal(tsr__ids_append(lg, "X0000007", 8, 0, 5), 1); /* out of order */
  tsr_ledger_free(lg);
}

/* Customer order after tsr_ledger_finish (radix sort on numbers or 8-byte
 * prefixes, ties by the full comparison): all-digit ids with leading zeros
 * (equal numbers: "7", "07", "007"), ids sharing long prefixes, and the two
 * mixed; consecutive customers must be strictly increasing in the id
 * order (tsr__id_cmp), every id found at its rank. */
static void test_customer_order(void **state) {
  (void)state;
  for (int kind = 0; kind < 3; kind++) {
    size_t cap = 40000 * 64 + 64, n = 0;
    char *b = malloc(cap);
    n += (size_t)sprintf(b, "customer_id,date,amount\n");
    unsigned x = 17u + (unsigned)kind;
    size_t rows = 0;
    for (unsigned k = 0; k < 40000; k++) {
      x = x * 1103515245u + 12345u;
      unsigned v = (x >> 8) % 30000, z = (x >> 24) % 3;
      int digits = kind == 0 || (kind == 2 && v % 2);
      if (digits)
        n += (size_t)sprintf(b + n, "%.*s%u,2024-01-01,1\n", (int)z, "000", v);
      else
        n += (size_t)sprintf(b + n, "%s%u,2024-01-01,1\n", v % 3 ? "shared-prefix-" : "sh", v);
      rows++;
    }
    tsr_ledger *lg;
    assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
    tsr_ingest_stats st;
    assert_int_equal(tsr_ingest_mem(lg, b, n, "o.csv", NULL, &st, NULL), TSR_OK);
    assert_int_equal(st.rows_accepted, (int64_t)rows);
    assert_int_equal(tsr_ledger_finish(lg, NULL), TSR_OK);
    size_t nc = tsr_ledger_ncustomers(lg);
    assert_true(nc > 20000);
    for (size_t i = 0; i < nc; i++) {
      const char *id = tsr_ledger_customer(lg, i);
      assert_int_equal(tsr_ledger_find(lg, id), (ptrdiff_t)i);
      if (i) {
        const char *p = tsr_ledger_customer(lg, i - 1);
        assert_true(tsr__id_cmp(p, strlen(p), id, strlen(id)) < 0);
      }
    }
    if (kind == 0) {
      /* one number written with 0, 1 or 2 leading zeros: adjacent, shortest first */
      int pairs = 0;
      for (unsigned v = 1; v < 30000; v++) {
        char a1[16], a2[16];
        snprintf(a1, sizeof a1, "%u", v);
        snprintf(a2, sizeof a2, "0%u", v);
        ptrdiff_t r1 = tsr_ledger_find(lg, a1), r2 = tsr_ledger_find(lg, a2);
        if (r1 >= 0 && r2 >= 0) {
          assert_int_equal(r2, r1 + 1);
          pairs++;
        }
      }
      assert_true(pairs > 3000);
    }
    tsr_ledger_free(lg);
    free(b);
  }
}

/* Allocation failures with two threads: TSR_ENOMEM or success, no leak. */
static void test_threads_alloc_failures(void **state) {
  (void)state;
  size_t len;
  char *csv = messy_log(9000, &len);
  assert_true(len > 270000); /* over the 256 KiB threshold */
  for (long k = 0; k < 30; k++) {
    tsr_ledger *lg = NULL;
    tsr_ingest_opts o;
    tsr_ingest_opts_init(&o);
    o.threads = 2;
    tsr__alloc_fail_after(k);
    tsr_status st = tsr_ledger_new(&lg, NULL);
    if (st == TSR_OK) st = tsr_ingest_mem(lg, csv, len, "m.csv", &o, NULL, NULL);
    if (st == TSR_OK) st = tsr_ledger_finish(lg, NULL);
    tsr__alloc_fail_after(-1);
    assert_true(st == TSR_OK || st == TSR_ENOMEM);
    tsr_ledger_free(lg);
  }
  free(csv);
}

/* Allocation failures anywhere give TSR_ENOMEM (or success), never a crash. */
static void test_alloc_failures(void **state) {
  (void)state;
  static const char csv[] = "customer_id,date,amount\na,2024-01-01,1\nb,2024-01-02,2\na,2024-01-03,3\n";
  for (long k = 0; k < 40; k++) {
    tsr_ledger *lg = NULL;
    tsr__alloc_fail_after(k);
    tsr_status st = tsr_ledger_new(&lg, NULL);
    if (st == TSR_OK) st = tsr_ingest_mem(lg, csv, sizeof csv - 1, "m.csv", NULL, NULL, NULL);
    if (st == TSR_OK) st = tsr_ledger_finish(lg, NULL);
    tsr__alloc_fail_after(-1);
    assert_true(st == TSR_OK || st == TSR_ENOMEM);
    tsr_ledger_free(lg);
  }
}

/* tsr_ledger_seal: the entries and lookups stay, the repeated-row tables
 * go, and no row can be added afterwards. */
static void test_seal(void **state) {
  (void)state;
  static const char csv[] =
      "tx,customer,date,amount\n"
      "t1,a,2024-01-01,1\n"
      "t3,b,2024-01-02,2\n"
      "t2,a,2024-01-02,-2\n" /* out of order: the hashed id table */
      "t4,a,2024-01-02,5\n";
  tsr_ingest_opts o;
  tsr_ingest_opts_init(&o);
  tsr_ledger *lg;
  tsr_ingest_stats st;
  assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
  tsr_ledger_seal(NULL);
  assert_int_equal(tsr_ingest_mem(lg, csv, sizeof csv - 1, "s.csv", &o, &st, NULL), TSR_OK);
  assert_int_equal(st.rows_accepted, 4);
  assert_int_equal(tsr_ledger_finish(lg, NULL), TSR_OK);
  tsr_ledger_seal(lg);
  tsr_ledger_seal(lg); /* idempotent */
  assert_int_equal(tsr_ledger_ncustomers(lg), 2);
  ptrdiff_t a = tsr_ledger_find(lg, "a");
  assert_true(a >= 0);
  assert_string_equal(tsr_ledger_customer(lg, (size_t)a), "a");
  assert_int_equal(tsr_ledger_find(lg, "c"), -1);
  size_t n;
  const tsr_ledger_entry *e = tsr_ledger_entries(lg, (size_t)a, &n);
  assert_int_equal(n, 2);
  assert_int_equal(e[1].ntx, 1);
  assert_int_equal(e[1].nrefund, 1);
  assert_true(e[1].amount == 5.0 && e[1].refund == -2.0);
  tsr_error err;
  assert_int_equal(tsr_ingest_mem(lg, csv, sizeof csv - 1, "s.csv", &o, &st, &err), TSR_EINVAL);
  assert_non_null(strstr(err.msg, "sealed"));
  assert_int_equal(tsr_ledger_ncustomers(lg), 2);
  tsr_ledger_free(lg);
}

/* Blocks faulted in ahead by another thread (tsr__ready_fill, which the
 * pipeline's parser calls while the worker is behind): the ledger takes
 * them for its next entry chunk and its next customer chunk, and fills
 * them exactly as blocks of its own. Done here in one thread, so that the
 * hand-over happens on every run (150000 customers: three customer
 * chunks; 450000 entries with row hashes: several entry chunks). */
static void test_ready_blocks(void **state) {
  (void)state;
  const unsigned nc = 150000;
  size_t cap = (size_t)nc * 3 * 32 + 64, len = 0;
  char *csv = malloc(cap);
  assert_non_null(csv);
  len += (size_t)snprintf(csv, cap, "customer_id,date,amount\n");
  for (unsigned d = 1; d <= 3; d++)
    for (unsigned i = 0; i < nc; i++)
      len += (size_t)snprintf(csv + len, cap - len, "c%06u,2024-01-%02u,%u.25\n", i, d, i % 97 + d);
  tsr_ledger *l1, *l2;
  tsr_ingest_opts o;
  tsr_ingest_opts_init(&o);
  tsr_ingest_stats s1, s2;
  assert_int_equal(tsr_ledger_new(&l1, NULL), TSR_OK);
  assert_int_equal(tsr_ledger_new(&l2, NULL), TSR_OK);
  assert_int_equal(tsr_ingest_mem(l1, csv, len, "a.csv", &o, &s1, NULL), TSR_OK);
  /* nothing asked for yet: nothing prepared */
  tsr__ready_fill(l2);
  assert_true(atomic_load(&l2->ready_pool) == READY_NONE);
  atomic_store(&l2->ready_pool, READY_WANTED);
  atomic_store(&l2->ready_cust, READY_WANTED);
  tsr__ready_fill(l2);
  assert_true(atomic_load(&l2->ready_pool) > READY_WANTED);
  assert_true(atomic_load(&l2->ready_cust) > READY_WANTED);
  uintptr_t pool = atomic_load(&l2->ready_pool), custm = atomic_load(&l2->ready_cust);
  assert_int_equal(tsr_ingest_mem(l2, csv, len, "a.csv", &o, &s2, NULL), TSR_OK);
  /* both taken (and the next ones asked for) */
  assert_true(atomic_load(&l2->ready_pool) == READY_WANTED);
  assert_true(atomic_load(&l2->ready_cust) == READY_WANTED);
  int found = 0;
  for (size_t i = 0; i < l2->nchunks; i++) found += (uintptr_t)l2->chunks[i] == pool;
  for (size_t i = 0; i < l2->nchunks_c; i++) found += (uintptr_t)l2->chunks_c[i].mem == custm;
  assert_int_equal(found, 2);
  assert_true(l2->nchunks >= 3 && l2->nchunks_c == 3);
  /* prepared and not taken: kept for later rows, freed by
   * tsr_ledger_finish (and tsr_ledger_seal, tsr_ledger_free) */
  tsr__ready_fill(l2);
  assert_true(atomic_load(&l2->ready_pool) > READY_WANTED);
  assert_int_equal(s1.rows_accepted, 3 * (int64_t)nc);
  assert_int_equal(s2.rows_accepted, s1.rows_accepted);
  assert_int_equal(tsr_ledger_finish(l1, NULL), TSR_OK);
  assert_int_equal(tsr_ledger_finish(l2, NULL), TSR_OK);
  assert_true(atomic_load(&l2->ready_pool) == READY_NONE);
  assert_true(atomic_load(&l2->ready_cust) == READY_NONE);
  assert_int_equal(tsr_ledger_ncustomers(l2), nc);
  for (size_t i = 0; i < nc; i++) {
    assert_string_equal(tsr_ledger_customer(l1, i), tsr_ledger_customer(l2, i));
    size_t n1, n2;
    const tsr_ledger_entry *e1 = tsr_ledger_entries(l1, i, &n1), *e2 = tsr_ledger_entries(l2, i, &n2);
    assert_int_equal(n1, 3);
    assert_int_equal(n2, 3);
    assert_memory_equal(e1, e2, 3 * sizeof *e1);
  }
  tsr_ledger_free(l1);
  tsr_ledger_free(l2);
  free(csv);
}

/* Appends a row "id,customer,date,amount" to csv (of cap). */
static size_t put_row(char *csv, size_t cap, size_t len, const char *id, unsigned k, double amount) {
  return len + (size_t)snprintf(csv + len, cap - len, "%s,c%u,2024-%02u-%02u,%g\n", id, k % 7,
                                1 + k % 12, 1 + k % 28, amount);
}

/* Transaction ids in increasing order are recorded without their hashes
 * when they count up by one (runs: T08, T09, T10 carries; T99 -> TA0 and
 * T999 -> T1000 start new runs, so does an id without trailing digits),
 * and with them once the runs are short (ids that skip: more than 64
 * runs). The first id out of order builds the id table from those
 * records: every earlier id repeated afterwards, with its content, is a
 * duplicate, with other content a reject; only then new ids enter. */
static void test_id_runs(void **state) {
  (void)state;
  enum { MAXID = 2000 };
  char (*ids)[16] = malloc(MAXID * sizeof *ids);
  assert_non_null(ids);
  size_t nid = 0;
  /* no runs: only the first byte differs; ':' after '9' */
  snprintf(ids[nid++], 16, "P5");
  snprintf(ids[nid++], 16, "Q6");
  snprintf(ids[nid++], 16, "R9");
  snprintf(ids[nid++], 16, "R:");
  for (unsigned i = 8; i < 100; i++) snprintf(ids[nid++], 16, "T%02u", i);
  snprintf(ids[nid++], 16, "TA0");
  snprintf(ids[nid++], 16, "TA1");
  snprintf(ids[nid++], 16, "TAx");
  for (unsigned i = 0; i < 200; i++) snprintf(ids[nid++], 16, "W%04u", 3 * i); /* skips */
  for (unsigned i = 0; i < 300; i++) snprintf(ids[nid++], 16, "X%04u", i);     /* dense, after */
  for (int mode = 0; mode < 2; mode++) {
    /* mode 0: the runs only (the ids up to TAx); 1: also the fallback */
    const size_t m = mode ? nid : 99;
    size_t cap = (m * 3 + 16) * 64, len = 0;
    char *csv = malloc(cap);
    assert_non_null(csv);
    len += (size_t)snprintf(csv, cap, "tx,customer,date,amount\n");
    for (size_t i = 0; i < m; i++) len = put_row(csv, cap, len, ids[i], (unsigned)i, (double)i + 0.5);
    /* out of order: every id again, identical; every third also with
     * another amount (rejected); then new ids */
    for (size_t i = m; i-- > 0;) {
      len = put_row(csv, cap, len, ids[i], (unsigned)i, (double)i + 0.5);
      if (i % 3 == 0) len = put_row(csv, cap, len, ids[i], (unsigned)i, (double)i + 1.5);
    }
    len = put_row(csv, cap, len, "S1", 1, 7);
    len = put_row(csv, cap, len, "T085", 2, 7);
    tsr_ingest_opts o;
    tsr_ingest_opts_init(&o);
    o.id_col = "tx";
    o.single_input = 1;
    tsr_ledger *lg;
    tsr_ingest_stats st;
    assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
    assert_int_equal(tsr_ingest_mem(lg, csv, len, "r.csv", &o, &st, NULL), TSR_OK);
    assert_int_equal(st.rows_accepted, (int64_t)m + 2);
    assert_int_equal(st.duplicate_ids, (int64_t)m);
    assert_int_equal(st.rows_rejected, (int64_t)((m + 2) / 3));
    assert_true(lg->ids_hashed);
    tsr_ledger_free(lg);
    /* the records themselves: runs while the ids count up, hashes after */
    assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
    /* every other key left to be made (0) */
    for (size_t i = 0; i < m; i++)
      assert_int_equal(tsr__ids_append(lg, ids[i], strlen(ids[i]), i % 2 ? 0 : tid_key(ids[i], strlen(ids[i])), i), 0);
    if (!mode) {
      assert_int_equal(lg->runs_n, 7); /* P5, Q6, R9, R:, T08..T99, TA0..TA1, TAx */
      assert_null(lg->seq_key);
    } else {
      assert_non_null(lg->seq_key);
      assert_int_equal(lg->runs_n, 0);
    }
    assert_int_equal(tsr__ids_append(lg, "T50", 3, tid_key("T50", 3), 0), 1);
    assert_int_equal(tsr__ids_index(lg, 0), 0);
    for (size_t i = 0; i < m; i++) {
      rowent *r = row_find(lg, tid_key(ids[i], strlen(ids[i])));
      assert_true(r->key && r->val == i);
    }
    tsr_ledger_free(lg);
    free(csv);
  }
  free(ids);
}

/* tsr_ledger_seal packs the entry blocks to their used size: the same
 * entries as an unsealed ledger of the same inputs (two files; refunds;
 * identical rows, whose row hashes move with the entries; customers of
 * 1 to 400 days, and one of 5000, whose block is not from the pool; days
 * out of order), and no capacity left over. */
static void test_seal_packs(void **state) {
  (void)state;
  const unsigned nc = 300;
  size_t cap = (size_t)200000 * 40, len[2] = {0, 0};
  char *csv[2] = {malloc(cap), malloc(cap)};
  assert_non_null(csv[0]);
  assert_non_null(csv[1]);
  for (int f = 0; f < 2; f++) len[f] += (size_t)snprintf(csv[f], cap, "customer_id,date,amount\n");
  for (unsigned c = 0; c < nc; c++) {
    unsigned days = c == 7 ? 5000 : 1 + (c * 37) % 400;
    for (unsigned d = 0; d < days; d++) {
      unsigned day = (d * 7919u + c) % (days + 3); /* out of order, some twice */
      int f = (d + c) % 2;
      double amount = (d % 11 == 0) ? -1.25 : (double)(d % 13) + 0.5;
      char date[32];
      tsr_day_format(19000 + (int64_t)day, date);
      len[f] += (size_t)snprintf(csv[f] + len[f], cap - len[f], "k%u,%s,%g\n", c, date, amount);
      if (d % 17 == 0)
        len[f] += (size_t)snprintf(csv[f] + len[f], cap - len[f], "k%u,%s,%g\n", c, date, amount);
    }
  }
  tsr_ingest_opts o;
  tsr_ingest_opts_init(&o);
  tsr_ledger *l[2];
  tsr_ingest_stats st;
  for (int k = 0; k < 2; k++) {
    assert_int_equal(tsr_ledger_new(&l[k], NULL), TSR_OK);
    for (int f = 0; f < 2; f++) {
      assert_int_equal(tsr_ingest_mem(l[k], csv[f], len[f], f ? "b.csv" : "a.csv", &o, &st, NULL), TSR_OK);
      assert_int_equal(st.rows_rejected, 0);
      assert_true(st.identical_rows > 0 && st.refunds > 0);
    }
    assert_int_equal(tsr_ledger_finish(l[k], NULL), TSR_OK);
  }
  const size_t cap0 = tsr__ledger_capacity(l[1]);
  tsr_ledger_seal(l[1]);
  assert_true(tsr__ledger_capacity(l[1]) < cap0);
  for (size_t i = 0; i < nc; i++) {
    size_t n0, n1;
    const tsr_ledger_entry *e0 = tsr_ledger_entries(l[0], i, &n0), *e1 = tsr_ledger_entries(l[1], i, &n1);
    assert_int_equal(n0, n1);
    assert_true(n0 > 0);
    assert_memory_equal(e0, e1, n0 * sizeof *e0);
    const cust *c = cust_at(l[1], l[1]->order[i]);
    if (c->cap < (1u << POOL_CLASSES)) {
      assert_int_equal(c->cap, n0); /* packed */
      const cust *c0 = cust_at(l[0], l[0]->order[i]);
      assert_memory_equal(cust_rh(c0), cust_rh(c), n0 * sizeof(uint64_t));
    }
  }
  assert_true(tsr_ledger_find(l[1], "k7") >= 0);
  tsr_ledger_free(l[0]);
  tsr_ledger_free(l[1]);
  free(csv[0]);
  free(csv[1]);
}

/* tsr_ledger_seal's packing writes nothing past the end of what was
 * carved from the chunk blocks were last taken from (its pages there were
 * never touched: they stay unallocated) and keeps every entry, across
 * several chunks: customers of 4 to 40 days (blocks with room to spare)
 * added by chunks of customers until a third chunk has been started. */
static void test_seal_fresh_tail(void **state) {
  (void)state;
  tsr_ledger *l[2];
  tsr_ingest_opts o;
  tsr_ingest_opts_init(&o);
  tsr_ingest_stats st;
  const size_t cap = (size_t)4 << 20;
  char *csv = malloc(cap);
  assert_non_null(csv);
  for (int k = 0; k < 2; k++) assert_int_equal(tsr_ledger_new(&l[k], NULL), TSR_OK);
  unsigned c = 0;
  while (l[1]->nchunks < 3) {
    size_t len = (size_t)snprintf(csv, cap, "customer_id,date,amount\n");
    for (unsigned e = c + 2000; c < e; c++) {
      unsigned days = 4 + (c * 7u) % 37;
      for (unsigned d = 0; d < days; d++) {
        char date[32];
        tsr_day_format(19000 + (int64_t)((d * 5u + c) % 400), date);
        len += (size_t)snprintf(csv + len, cap - len, "c%u,%s,%u.5\n", c, date, d % 9);
      }
    }
    for (int k = 0; k < 2; k++) {
      assert_int_equal(tsr_ingest_mem(l[k], csv, len, "a.csv", &o, &st, NULL), TSR_OK);
      assert_int_equal(st.rows_rejected, 0);
    }
  }
  for (int k = 0; k < 2; k++) assert_int_equal(tsr_ledger_finish(l[k], NULL), TSR_OK);
  /* the 2 MiB pages of the last chunk wholly after pool_cur: unallocated */
  const uintptr_t h = (uintptr_t)2 << 20;
  char *cur = l[1]->chunks[l[1]->nchunks - 1];
  char *from = (char *)(((uintptr_t)l[1]->pool_cur + h - 1) & ~(h - 1)), *to = cur + POOL_CHUNK;
  size_t npg = from < to ? (size_t)(to - from) / 4096 : 0;
  unsigned char *vec = malloc(npg ? npg : 1);
  assert_non_null(vec);
  if (npg) {
    assert_int_equal(mincore(from, (size_t)(to - from), vec), 0);
    for (size_t i = 0; i < npg; i++) assert_int_equal(vec[i] & 1, 0);
  }
  tsr_ledger_seal(l[1]);
  /* still mapped (the pack ends in it or before) or freed; never written */
  if (npg && mincore(from, (size_t)(to - from), vec) == 0)
    for (size_t i = 0; i < npg; i++) assert_int_equal(vec[i] & 1, 0);
  for (size_t i = 0; i < c; i++) {
    size_t n0, n1;
    const tsr_ledger_entry *e0 = tsr_ledger_entries(l[0], i, &n0), *e1 = tsr_ledger_entries(l[1], i, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(e0, e1, n0 * sizeof *e0);
    const cust *c1 = cust_at(l[1], l[1]->order[i]), *c0 = cust_at(l[0], l[0]->order[i]);
    assert_int_equal(c1->cap, n0); /* packed */
    assert_memory_equal(cust_rh(c0), cust_rh(c1), n0 * sizeof(uint64_t));
  }
  free(vec);
  free(csv);
  tsr_ledger_free(l[0]);
  tsr_ledger_free(l[1]);
}

/* id_eq and id_copy (the ledger's id compare and copy, in word, half
 * word and byte paths): every length to 40, a difference at each byte
 * found, exactly n bytes copied. */
static void test_id_eq_copy(void **state) {
  (void)state;
  char a[48], b[48], d[48];
  for (size_t n = 1; n <= 40; n++) {
    for (size_t i = 0; i < n; i++) a[i] = (char)('A' + (i * 7) % 26);
    memcpy(b, a, n);
    b[n] = 'x';
    a[n] = 'y'; /* bytes past n never matter */
    assert_true(id_eq(a, b, n));
    for (size_t i = 0; i < n; i++) {
      b[i] ^= 0x20;
      assert_false(id_eq(a, b, n));
      b[i] ^= 0x20;
    }
    memset(d, '#', sizeof d);
    id_copy(d, a, n);
    assert_memory_equal(d, a, n);
    for (size_t i = n; i < sizeof d; i++) assert_int_equal(d[i], '#');
  }
}

/* tsr__cust_prefetch_grow names the free block that a full customer's
 * next row of a new day moves it into (what apply_batch prefetches): for
 * every full customer of a ledger whose blocks have grown and been freed
 * (customers of 1 to 30 days, their days interleaved). */
static void test_prefetch_grow(void **state) {
  (void)state;
  const unsigned nc = 500;
  size_t cap = (size_t)nc * 30 * 40, len = 0;
  char *csv = malloc(cap);
  assert_non_null(csv);
  len += (size_t)snprintf(csv, cap, "customer_id,date,amount\n");
  for (unsigned d = 0; d < 30; d++)
    for (unsigned c = 0; c < nc; c++) {
      if (d >= 1 + (c * 13u) % 30) continue;
      char date[32];
      tsr_day_format(19000 + (int64_t)d, date);
      len += (size_t)snprintf(csv + len, cap - len, "k%u,%s,%u.25\n", c, date, c % 7);
    }
  tsr_ledger *lg;
  tsr_ingest_opts o;
  tsr_ingest_opts_init(&o);
  tsr_ingest_stats st;
  assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
  assert_int_equal(tsr_ingest_mem(lg, csv, len, "a.csv", &o, &st, NULL), TSR_OK);
  size_t named = 0, full = 0;
  int64_t ident = 0;
  for (size_t i = 0; i < lg->n; i++) {
    cust *c = cust_at(lg, i);
    if (!c->n || c->n != c->cap || c->cap >= (1u << POOL_CLASSES)) continue;
    full++;
    const void *p = tsr__cust_prefetch_grow(lg, c);
    assert_int_equal(tsr__cust_add(lg, c, c->last + 1, 1.0, 12345 + i, 0, 0, &ident), ROW_ADDED);
    if (p) {
      assert_ptr_equal(c->e, p);
      named++;
    }
  }
  assert_true(full > 50);
  assert_true(named > 10);
  tsr_ledger_free(lg);
  free(csv);
}

/* tsr_ledger_finish_seal: with 2 threads (the packing beside the sort)
 * and with 1, the same customer order, entries, ranks and packed blocks
 * as tsr_ledger_finish then tsr_ledger_seal; 20000 customers of 1 to 9
 * days in no order, ids neither all digits nor none (the sort's general
 * path) and all digits (its radix path). */
static void test_finish_seal(void **state) {
  (void)state;
  const unsigned nc = 20000;
  size_t cap = (size_t)nc * 9 * 40;
  char *csv = malloc(cap);
  assert_non_null(csv);
  for (int digits = 0; digits < 2; digits++) {
    size_t len = (size_t)snprintf(csv, cap, "customer_id,date,amount\n");
    for (unsigned d = 0; d < 9; d++)
      for (unsigned c = 0; c < nc; c++) {
        unsigned k = (c * 7919u) % nc;
        if (d >= 1 + k % 9) continue;
        char date[32];
        tsr_day_format(19000 + (int64_t)((d * 3 + k) % 40), date);
        if (digits || k % 3)
          len += (size_t)snprintf(csv + len, cap - len, "%u,%s,%u.5\n", k * 13, date, d % 5);
        else
          len += (size_t)snprintf(csv + len, cap - len, "k%u,%s,%u.5\n", k, date, d % 5);
      }
    tsr_ledger *l[3];
    tsr_ingest_opts o;
    tsr_ingest_opts_init(&o);
    tsr_ingest_stats st;
    for (int k = 0; k < 3; k++) {
      assert_int_equal(tsr_ledger_new(&l[k], NULL), TSR_OK);
      assert_int_equal(tsr_ingest_mem(l[k], csv, len, "a.csv", &o, &st, NULL), TSR_OK);
    }
    assert_true(l[0]->n >= 16384);
    assert_int_equal(tsr_ledger_finish(l[0], NULL), TSR_OK);
    tsr_ledger_seal(l[0]);
    assert_int_equal(tsr_ledger_finish_seal(l[1], 2, NULL), TSR_OK);
    assert_int_equal(tsr_ledger_finish_seal(l[2], 1, NULL), TSR_OK);
    for (int k = 1; k < 3; k++) {
      assert_true(l[k]->finished && l[k]->sealed);
      assert_int_equal(l[k]->nchunks, l[0]->nchunks);
      assert_int_equal(tsr_ledger_ncustomers(l[k]), l[0]->n);
      for (size_t i = 0; i < l[0]->n; i++) {
        size_t n0, n1;
        assert_string_equal(tsr_ledger_customer(l[k], i), tsr_ledger_customer(l[0], i));
        const tsr_ledger_entry *e0 = tsr_ledger_entries(l[0], i, &n0), *e1 = tsr_ledger_entries(l[k], i, &n1);
        assert_int_equal(n0, n1);
        assert_memory_equal(e0, e1, n0 * sizeof *e0);
        const cust *c0 = cust_at(l[0], l[0]->order[i]), *c1 = cust_at(l[k], l[k]->order[i]);
        assert_int_equal(c1->rank, i);
        assert_int_equal(c1->cap, c0->cap);
      }
      /* sealed: no more rows */
      assert_int_equal(tsr_ingest_mem(l[k], csv, len, "a.csv", &o, &st, NULL), TSR_EINVAL);
    }
    for (int k = 0; k < 3; k++) tsr_ledger_free(l[k]);
  }
  free(csv);
}

/* cust_guess (what apply_batch prefetches): the customer itself for
 * every id, whatever its table entry's distance from its hash's home
 * (ids colliding there), NULL for new ids. */
static void test_cust_guess(void **state) {
  (void)state;
  enum { N = 3000 };
  size_t cap = (size_t)N * 64 + 64, len = 0;
  char *csv = malloc(cap);
  assert_non_null(csv);
  len += (size_t)snprintf(csv, cap, "customer,date,amount\n");
  for (unsigned i = 0; i < N; i++)
    len += (size_t)snprintf(csv + len, cap - len, "c%u,2020-01-%02u,%u.5\n", i * 7, i % 28 + 1, i);
  tsr_ingest_opts o;
  tsr_ingest_opts_init(&o);
  tsr_ledger *lg;
  tsr_ingest_stats st;
  assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
  assert_int_equal(tsr_ingest_mem(lg, csv, len, "g.csv", &o, &st, NULL), TSR_OK);
  assert_int_equal(lg->n, N);
  size_t displaced = 0;
  const size_t m = lg->nslots - 1;
  for (size_t k = 0; k <= m; k++) {
    uint64_t v = lg->index[k];
    if (!v) continue;
    const cust *c = cust_at(lg, (size_t)(uint32_t)v - 1);
    if (((size_t)c->hash & m) != k) displaced++;
  }
  for (unsigned i = 0; i < N; i++) {
    char id[32];
    int n = snprintf(id, sizeof id, "c%u", i * 7);
    uint64_t h = id_hash(id, (size_t)n);
    const cust *c = cust_guess(lg, h);
    assert_non_null(c);
    assert_true(c->hash == h);
    assert_int_equal(c->id_len, n);
    assert_memory_equal(cust_id(lg, c), id, (size_t)n);
    n = snprintf(id, sizeof id, "c%u", i * 7 + 1); /* new */
    assert_null(cust_guess(lg, id_hash(id, (size_t)n)));
  }
  /* the lookups above went past their first entry */
  assert_true(displaced > N / 10);
  tsr_ledger_free(lg);
  free(csv);
}

/* The currency column, watched while the rows are parsed (issue 18): the
 * first code, the first other code or bad value (line and column), in
 * every record the reader parsed, rejected rows too; empty values skipped;
 * late values of a long input found by one thread and by two. */
static void cur_of(const char *csv, int header, int threads, tsr_ingest_stats *st) {
  tsr_ingest_opts o;
  tsr_ingest_opts_init(&o);
  o.header = header;
  o.threads = threads;
  if (!header) o.amount_col = "3";
  tsr_ledger *lg;
  assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
  assert_int_equal(tsr_ingest_mem(lg, csv, strlen(csv), "c.csv", &o, st, NULL), TSR_OK);
  tsr_ledger_free(lg);
}

static void test_currency_watch(void **state) {
  (void)state;
  tsr_ingest_stats st;
  cur_of("customer,date,amount,Currency\na,2024-01-01,5,chf\nb,2024-01-02,6, CHF \nc,2024-01-03,7,\n", 1, 0, &st);
  assert_string_equal(st.currency_col, "Currency");
  assert_string_equal(st.currency, "CHF");
  assert_string_equal(st.currency_other, "");
  assert_int_equal(st.currency_bad_line, 0);
  /* mixed: the first other code */
  cur_of("customer,date,amount,ccy\na,2024-01-01,5,EUR\nb,2024-01-02,6,eur\nb,2024-01-03,6,usd\n"
         "b,2024-01-04,6,GBP\n", 1, 0, &st);
  assert_string_equal(st.currency_col, "ccy");
  assert_string_equal(st.currency, "EUR");
  assert_string_equal(st.currency_other, "USD");
  assert_int_equal(st.currency_bad_line, 0);
  /* not a code: its line and column (after the blanks); the first event
   * ends the watch */
  cur_of("customer,date,amount,currency_code\na,2024-01-01,5,EUR\nb,2024-01-02,6, euro\nb,2024-01-03,6,USD\n", 1, 0,
         &st);
  assert_string_equal(st.currency, "EUR");
  assert_string_equal(st.currency_other, "");
  assert_int_equal(st.currency_bad_line, 3);
  assert_int_equal(st.currency_bad_column, 17);
  cur_of("customer,date,amount,CurrencyCode\na,2024-01-01,5,EUR\nb,2024-01-02,6,JPY\nb,2024-01-03,6,E1R\n", 1, 0,
         &st);
  assert_string_equal(st.currency_other, "JPY");
  assert_int_equal(st.currency_bad_line, 0);
  cur_of("customer,date,amount,currency\na,2024-01-01,5,E1R\n", 1, 0, &st);
  assert_string_equal(st.currency, "");
  assert_int_equal(st.currency_bad_line, 2);
  assert_int_equal(st.currency_bad_column, 16);
  /* only empty values; no column; a column of another name */
  cur_of("customer,date,amount,currency\na,2024-01-01,5,\nb,2024-01-02,6,  \n", 1, 0, &st);
  assert_string_equal(st.currency_col, "currency");
  assert_string_equal(st.currency, "");
  assert_int_equal(st.currency_bad_line, 0);
  cur_of("customer,date,amount\na,2024-01-01,5\n", 1, 0, &st);
  assert_string_equal(st.currency_col, "");
  assert_string_equal(st.currency, "");
  cur_of("customer,date,amount,currency name\na,2024-01-01,5,EUR\n", 1, 0, &st);
  assert_string_equal(st.currency_col, "");
  assert_string_equal(st.currency, "");
  /* rows rejected for their amount or their field count are watched; a
   * row without the column is not */
  cur_of("customer,date,amount,currency\na,2024-01-01,5,EUR\nb,2024-01-02,x,USD\n", 1, 0, &st);
  assert_int_equal(st.rows_rejected, 1);
  assert_string_equal(st.currency_other, "USD");
  cur_of("customer,date,amount,currency\na,2024-01-01,5,EUR\nb,2024-01-02,6,USD,more\n", 1, 0, &st);
  assert_int_equal(st.rows_rejected, 1);
  assert_string_equal(st.currency_other, "USD");
  cur_of("customer,date,amount,currency,note\na,2024-01-01,5,EUR,x\nb,2024-01-02,6\n", 1, 0, &st);
  assert_int_equal(st.rows_rejected, 1);
  assert_string_equal(st.currency_other, "");
  assert_int_equal(st.currency_bad_line, 0);
  /* a record the reader cannot parse is not watched */
  cur_of("customer,date,amount,currency\na,2024-01-01,5,EUR\nb,2024-01-02,6,\"USD\"x\n", 1, 0, &st);
  assert_int_equal(st.rows_rejected, 1);
  assert_string_equal(st.currency_other, "");
  assert_int_equal(st.currency_bad_line, 0);
  /* a headerless file: its first record names the column (and is not
   * watched) as a header would */
  cur_of("a,2024-01-01,5,ccy\nb,2024-01-02,6,EUR\n", 0, 0, &st);
  assert_string_equal(st.currency_col, "ccy");
  assert_string_equal(st.currency, "EUR");
  cur_of("a,2024-01-01,5,EUR\nb,2024-01-02,6,USD\n", 0, 0, &st);
  assert_string_equal(st.currency_col, "");
  assert_string_equal(st.currency, "");
  /* late values of a long input (past the pipeline's threshold, the
   * reader's buffer and many batches): one thread and two */
  enum { N = 30000 };
  size_t cap = (size_t)N * 40 + 200, len = 0;
  char *csv = malloc(cap);
  assert_non_null(csv);
  for (int late = 0; late < 3; late++) {
    for (int threads = 1; threads <= 2; threads++) {
      len = (size_t)snprintf(csv, cap, "customer,date,amount,currency\n");
      for (unsigned i = 0; i < N; i++)
        len += (size_t)snprintf(csv + len, cap - len, "c%u,2020-01-%02u,%u.5,%s\n", i % 977, i % 28 + 1, i,
                                i == 0 && late == 1 ? "EUR" : "");
      snprintf(csv + len, cap - len, "z,2020-02-01,1,%s\n", late == 0 ? "usd" : late == 1 ? "GBP" : "US");
      cur_of(csv, 1, threads, &st);
      assert_int_equal(st.rows_read, N + 1);
      assert_string_equal(st.currency, late == 0 ? "USD" : late == 1 ? "EUR" : "");
      assert_string_equal(st.currency_other, late == 1 ? "GBP" : "");
      assert_int_equal(st.currency_bad_line, late == 2 ? N + 2 : 0);
      assert_int_equal(st.currency_bad_column, late == 2 ? 16 : 0);
    }
  }
  free(csv);
}

/* The ledger's 16-byte entries (one per customer-day and kind) decode to
 * the public entries a naive merge gives, bit for bit (the same additions
 * in the same order), by tsr_ledger_entries' copy, made by several
 * threads at once, and by tsr__ledger_decode; the copy follows a later
 * ingest; a row identical by content to one of the day's other kind is
 * still recognised (inputs whose columns differ). */
typedef struct ent_ref {
  int32_t day;
  uint32_t ntx, nref;
  double amount, refund;
} ent_ref;

typedef struct ent_thr {
  const tsr_ledger *lg;
  size_t n;
  int bad;
} ent_thr;

static void *ent_first_call(void *arg) {
  ent_thr *t = arg;
  const size_t mx = tsr__ledger_max_entries(t->lg);
  tsr_ledger_entry *buf = malloc((mx ? mx : 1) * sizeof *buf);
  if (!buf) { t->bad = 1; return NULL; }
  for (size_t i = 0; i < t->n; i++) {
    size_t a, b;
    const tsr_ledger_entry *x = tsr_ledger_entries(t->lg, i, &a);
    const tsr_ledger_entry *y = tsr__ledger_decode(t->lg, i, buf, &b);
    if (a != b || (a && memcmp(x, y, a * sizeof *x) != 0)) t->bad = 1;
  }
  free(buf);
  return NULL;
}

/* A customer-day that already counts DENT_MAX rows of a kind refuses the
 * next one with that limit named (not "out of memory"); the other kind
 * and other days still count. */
static void test_day_count_limit(void **state) {
  (void)state;
  static const char a[] = "customer_id,date,amount\nc,2025-01-01,5\nc,2025-01-01,-2\n";
  static const char b[] = "customer_id,date,amount\nc,2025-01-01,-1\nc,2025-01-02,3\n";
  static const char d[] = "customer_id,date,amount\nc,2025-01-01,7\n";
  for (int th = 0; th < 2; th++) {
    tsr_ingest_opts o;
    tsr_ingest_opts_init(&o);
    o.threads = th ? 2 : 1;
    tsr_ledger *lg;
    tsr_error e;
    assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
    assert_int_equal(tsr_ingest_mem(lg, a, sizeof a - 1, "a.csv", &o, NULL, &e), TSR_OK);
    cust *c = cust_at(lg, 0);
    assert_int_equal(c->n, 2);
    assert_int_equal(c->e[0].cnt, 1); /* purchases first */
    c->e[0].cnt = DENT_MAX - 1;
    assert_int_equal(tsr_ingest_mem(lg, b, sizeof b - 1, "b.csv", &o, NULL, &e), TSR_OK);
    assert_int_equal(lg->day_full, 0);
    assert_int_equal(tsr_ingest_mem(lg, d, sizeof d - 1, "d.csv", &o, NULL, &e), TSR_OK);
    assert_int_equal(c->e[0].cnt, DENT_MAX);
    assert_int_equal(tsr_ingest_mem(lg, d, sizeof d - 1, "d.csv", &o, NULL, &e), TSR_ELIMIT);
    assert_string_equal(e.msg, "a customer's day holds more than 2147483647 rows of one kind "
                               "(purchases or refunds): the most one day can count");
    assert_int_equal(c->e[0].cnt, DENT_MAX);
    assert_int_equal(c->e[1].cnt, DENT_REFUND | 2);
    tsr_ledger_free(lg);
  }
}

static void test_dense_entries(void **state) {
  (void)state;
  enum { NC = 40, NR = 6000, ND = 30 };
  static ent_ref ref[NC][ND];
  static const double am[] = {0.1, 0.2, 0.3, -0.1, -0.7, 1e11, -1e11, 3.3, 0.0, -2.5};
  memset(ref, 0, sizeof ref);
  size_t cap = (size_t)NR * 40 + 64, len = 0;
  char *csv = malloc(cap);
  assert_non_null(csv);
  len += (size_t)snprintf(csv, cap, "customer,date,amount\n");
  uint32_t r = 12345;
  for (int k = 0; k < NR; k++) {
    r = r * 1103515245u + 12345u;
    int c = (int)((r >> 8) % NC), d = (int)((r >> 16) % ND);
    double a = am[(r >> 4) % (sizeof am / sizeof am[0])];
    char date[32];
    tsr_day_format(19000 + (int64_t)d, date);
    len += (size_t)snprintf(csv + len, cap - len, "c%d,%s,%.17g\n", c, date, a);
    ent_ref *e = &ref[c][d];
    e->day = 19000 + d;
    if (a < 0) { e->nref++; e->refund += a; }
    else { e->ntx++; e->amount += a; }
  }
  tsr_ingest_opts o;
  tsr_ingest_opts_init(&o);
  tsr_ledger *lg;
  tsr_ingest_stats st;
  assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
  assert_int_equal(tsr_ingest_mem(lg, csv, len, "d.csv", &o, &st, NULL), TSR_OK);
  assert_int_equal(st.rows_rejected, 0);
  assert_int_equal(tsr_ledger_finish(lg, NULL), TSR_OK);
  const size_t n = tsr_ledger_ncustomers(lg);
  assert_int_equal(n, NC);
  /* the first calls of tsr_ledger_entries from four threads at once */
  ent_thr t[4];
  pthread_t th[4];
  for (int k = 0; k < 4; k++) {
    t[k] = (ent_thr){lg, n, 0};
    assert_int_equal(pthread_create(&th[k], NULL, ent_first_call, &t[k]), 0);
  }
  for (int k = 0; k < 4; k++) {
    pthread_join(th[k], NULL);
    assert_int_equal(t[k].bad, 0);
  }
  for (size_t i = 0; i < n; i++) {
    int c = atoi(tsr_ledger_customer(lg, i) + 1);
    size_t ne, j = 0;
    const tsr_ledger_entry *e = tsr_ledger_entries(lg, i, &ne);
    int32_t f, l;
    assert_true(tsr__ledger_day_span(lg, i, &f, &l));
    assert_int_equal(f, e[0].day);
    assert_int_equal(l, e[ne - 1].day);
    for (int d = 0; d < ND; d++) {
      const ent_ref *x = &ref[c][d];
      if (!x->ntx && !x->nref) continue;
      assert_true(j < ne);
      assert_int_equal(e[j].day, x->day);
      assert_int_equal(e[j].ntx, x->ntx);
      assert_int_equal(e[j].nrefund, x->nref);
      assert_memory_equal(&e[j].amount, &x->amount, sizeof x->amount);
      assert_memory_equal(&e[j].refund, &x->refund, sizeof x->refund);
      assert_int_equal(tsr__ledger_purchase_in(lg, i, x->day, x->day), x->ntx > 0);
      j++;
    }
    assert_int_equal(j, ne);
  }
  /* another ingest: the copy is made again */
  static const char more[] = "customer,date,amount\nc3,2030-01-01,-4\nc3,2030-01-01,2\n";
  assert_int_equal(tsr_ingest_mem(lg, more, sizeof more - 1, "m.csv", &o, &st, NULL), TSR_OK);
  assert_int_equal(tsr_ledger_finish(lg, NULL), TSR_OK);
  size_t ne;
  ptrdiff_t c3 = tsr_ledger_find(lg, "c3");
  assert_true(c3 >= 0);
  const tsr_ledger_entry *e = tsr_ledger_entries(lg, (size_t)c3, &ne);
  assert_true(ne > 0);
  assert_int_equal(e[ne - 1].day, 21915);
  assert_true(e[ne - 1].ntx == 1 && e[ne - 1].nrefund == 1 && e[ne - 1].amount == 2.0 &&
              e[ne - 1].refund == -4.0);
  tsr_ledger_free(lg);
  free(csv);

  /* one row text, a purchase in the first input and a refund in the
   * second (their columns differ): identical by content, as when the
   * ledger kept one entry a day */
  static const char a1[] = "customer,date,amount,x\nk,2024-01-01,5,-3\n";
  static const char a2[] = "customer,date,x,amount\nk,2024-01-01,5,-3\nk,2024-01-02,5,-3\n";
  for (int drop = 0; drop < 2; drop++) {
    o.dedupe = drop ? TSR_DEDUPE_EXACT : TSR_DEDUPE_NONE;
    assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
    assert_int_equal(tsr_ingest_mem(lg, a1, sizeof a1 - 1, "a1.csv", &o, &st, NULL), TSR_OK);
    assert_int_equal(tsr_ingest_mem(lg, a2, sizeof a2 - 1, "a2.csv", &o, &st, NULL), TSR_OK);
    assert_int_equal(st.identical_rows, 1);
    assert_int_equal(tsr_ledger_finish(lg, NULL), TSR_OK);
    e = tsr_ledger_entries(lg, 0, &ne);
    assert_int_equal(ne, 2);
    assert_int_equal(e[0].ntx, 1);
    assert_int_equal(e[0].nrefund, drop ? 0 : 1);
    assert_int_equal(e[1].nrefund, 1);
    tsr_ledger_free(lg);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_seal),
      cmocka_unit_test(test_dates),       cmocka_unit_test(test_amounts),
      cmocka_unit_test(test_messy),       cmocka_unit_test(test_ids_and_dedupe),
      cmocka_unit_test(test_header_errors), cmocka_unit_test(test_huge_field),
      cmocka_unit_test(test_alloc_failures), cmocka_unit_test(test_amount_fast_exact),
      cmocka_unit_test(test_date_fast_same),  cmocka_unit_test(test_dedupe_unsorted),
      cmocka_unit_test(test_date_memo_same),
      cmocka_unit_test(test_shuffled_same_ledger), cmocka_unit_test(test_threads_same),
      cmocka_unit_test(test_threads_alloc_failures), cmocka_unit_test(test_ids_ring_exact),
      cmocka_unit_test(test_many_customers), cmocka_unit_test(test_customer_order),
      cmocka_unit_test(test_grouped_presized), cmocka_unit_test(test_block_classes),
      cmocka_unit_test(test_hash_tail),
      cmocka_unit_test(test_id_lengths), cmocka_unit_test(test_id_graphic),
      cmocka_unit_test(test_single_input_no_hashes),
      cmocka_unit_test(test_ready_blocks), cmocka_unit_test(test_id_runs),
      cmocka_unit_test(test_seal_packs), cmocka_unit_test(test_seal_fresh_tail), cmocka_unit_test(test_id_eq_copy), cmocka_unit_test(test_prefetch_grow), cmocka_unit_test(test_finish_seal), cmocka_unit_test(test_cust_guess),
      cmocka_unit_test(test_currency_watch), cmocka_unit_test(test_dense_entries),
      cmocka_unit_test(test_day_count_limit), cmocka_unit_test(test_ids_in_order_hint),
      cmocka_unit_test(test_seq_hint_block), cmocka_unit_test(test_ids_lazy_rebuild),
      cmocka_unit_test(test_ids_lazy_changed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
