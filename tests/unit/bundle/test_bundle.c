/* test_bundle.c - the bundle reader: column binding, validation, rejects,
 * date format detection, PII redaction. */
#include "tsr_test.h"

typedef struct {
  int nrej, nnote;
  char rej[8][256];
  char notes[8][256];
} sink;

static void on_rej(void *ud, const tsr_reject *r) {
  sink *s = ud;
  if (s->nrej < 8) {
    tsr_error e;
    tsr_error_set(&e, r->code, r->source, r->line, r->column, r->field, "%s", r->reason);
    tsr_error_format(&e, s->rej[s->nrej], sizeof s->rej[0]);
  }
  s->nrej++;
}
static void on_note(void *ud, const tsr_bundle_note *n) {
  sink *s = ud;
  if (s->nnote < 8) snprintf(s->notes[s->nnote], sizeof s->notes[0], "%s: %s", n->column, n->msg);
  s->nnote++;
}

static tsr_status open_mem(tsr_bundle_table t, const char *csv, sink *s, const char *datefmt,
                           tsr_bundle_reader **r, tsr_error *e) {
  tsr_bundle_opts o;
  tsr_bundle_opts_init(&o);
  o.on_reject = on_rej;
  o.on_note = on_note;
  o.ud = s;
  o.date_format[t] = datefmt;
  return tsr_bundle_reader_open_mem(t, csv, strlen(csv), "t.csv", &o, r, e);
}

static void test_customers_binding(void **state) {
  (void)state;
  const char *csv =
      "Customer ID;Name;E-Mail;Birth Date;City;Risk Score;Shoe Size\n"
      "c1;Anna Muster;anna@example.org;1961-03-04;Bern;12;38\n"
      "c2;Bob;bob@x.org;1999-12-31;Zug;101;44\n"
      "c3;Carl;carl@x.org;not-a-date;Chur;5;40\n"
      ";Dora;d@x.org;1980-01-01;Bern;5;40\n"
      "c5;Eve;e@x.org;;Basel;;\n";
  sink s = {0};
  tsr_bundle_reader *r;
  tsr_error e;
  tsr_bundle_opts o;
  tsr_bundle_opts_init(&o);
  o.csv.delim = ';';
  o.on_reject = on_rej;
  o.on_note = on_note;
  o.ud = &s;
  assert_int_equal(tsr_bundle_reader_open_mem(TSR_BT_CUSTOMERS, csv, strlen(csv), "c.csv", &o, &r, &e), TSR_OK);
  assert_true(tsr_bundle_has(r, TSR_CU_EMAIL));
  assert_true(tsr_bundle_has(r, TSR_CU_BIRTH_DATE));
  assert_false(tsr_bundle_has(r, TSR_CU_PHONE));
  assert_string_equal(tsr_bundle_header(r, TSR_CU_RISK_SCORE), "Risk Score");
  assert_int_equal(s.nnote, 2); /* unknown column + birth_date format */
  assert_non_null(strstr(s.notes[0], "'Shoe Size'"));
  tsr_bundle_row row;
  assert_int_equal(tsr_bundle_next(r, &row, &e), TSR_OK);
  assert_string_equal(row.v[TSR_CU_CUSTOMER_ID].s, "c1");
  /* 1961-03-04 = day -3225 */
  assert_int_equal(row.v[TSR_CU_BIRTH_DATE].t, (int64_t)-3225 * 86400);
  assert_near(row.v[TSR_CU_RISK_SCORE].num, 12, 0);
  assert_int_equal(tsr_bundle_next(r, &row, &e), TSR_OK);
  assert_string_equal(row.v[TSR_CU_CUSTOMER_ID].s, "c5");
  assert_false(row.v[TSR_CU_BIRTH_DATE].present);
  assert_false(row.v[TSR_CU_RISK_SCORE].present);
  assert_int_equal(tsr_bundle_next(r, &row, &e), TSR_ENOTFOUND);
  assert_int_equal(s.nrej, 3);
  assert_string_equal(s.rej[0], "c.csv:3:33: error: risk_score: expected a number in [0, 100], got '101'");
  /* personal data redacted */
  assert_string_equal(s.rej[1], "c.csv:4:20: error: birth_date: expected a date (ISO 8601), got '<redacted>'");
  assert_string_equal(s.rej[2], "c.csv:5:1: error: customer_id: expected a value, got ''");
  tsr_bundle_stats st;
  tsr_bundle_reader_stats(r, &st);
  assert_int_equal(st.rows_read, 5);
  assert_int_equal(st.rows_accepted, 2);
  assert_int_equal(st.rows_rejected, 3);
  tsr_bundle_reader_close(r);
}

static void test_missing_required(void **state) {
  (void)state;
  sink s = {0};
  tsr_bundle_reader *r;
  tsr_error e;
  assert_int_equal(open_mem(TSR_BT_INTERACTIONS, "customer_id,channel\nc1,call\n", &s, NULL, &r, &e), TSR_EPARSE);
  char buf[512];
  assert_string_equal(tsr_error_format(&e, buf, sizeof buf),
                      "t.csv:1: error: timestamp: expected a timestamp column in the header of the interactions table");
  assert_int_equal(open_mem(TSR_BT_OFFERS, "", &s, NULL, &r, &e), TSR_EPARSE);
}

static void test_date_detection(void **state) {
  (void)state;
  sink s = {0};
  tsr_bundle_reader *r;
  tsr_error e;
  tsr_bundle_row row;
  /* day-first decided by 13 in the first position (late row) */
  const char *dmy = "customer_id,date,product_opened\nc1,01/02/2020,card\nc1,03/04/2020 10:30,loan\nc2,13/05/2021,card\n";
  assert_int_equal(open_mem(TSR_BT_PRODUCTS, dmy, &s, NULL, &r, &e), TSR_OK);
  assert_int_equal(tsr_bundle_datefmt(r, TSR_PE_DATE), TSR_DATEFMT_DMY);
  assert_int_equal(s.nnote, 1);
  assert_string_equal(s.notes[0], "date: date column 'date': day-first DD/MM/YYYY HH:MM");
  assert_int_equal(tsr_bundle_next(r, &row, &e), TSR_OK);
  assert_int_equal(row.v[TSR_PE_DATE].t, tsr_days_from_civil(2020, 2, 1) * 86400);
  assert_near(row.v[TSR_PE_EVENT].num, 1, 0);
  assert_int_equal(tsr_bundle_next(r, &row, &e), TSR_OK);
  assert_int_equal(row.v[TSR_PE_DATE].t, tsr_days_from_civil(2020, 4, 3) * 86400 + 10 * 3600 + 30 * 60);
  tsr_bundle_reader_close(r);
  /* month-first */
  const char *mdy = "customer_id,date,product_opened\nc1,01/02/2020,card\nc2,12/31/2021,card\n";
  assert_int_equal(open_mem(TSR_BT_PRODUCTS, mdy, &s, NULL, &r, &e), TSR_OK);
  assert_int_equal(tsr_bundle_datefmt(r, TSR_PE_DATE), TSR_DATEFMT_MDY);
  assert_int_equal(tsr_bundle_next(r, &row, &e), TSR_OK);
  assert_int_equal(row.v[TSR_PE_DATE].t, tsr_days_from_civil(2020, 1, 2) * 86400);
  tsr_bundle_reader_close(r);
  /* ambiguous: an error naming both forms */
  const char *amb = "customer_id,date,product_opened\nc1,01/02/2020,card\nc2,11/12/2021,card\n";
  assert_int_equal(open_mem(TSR_BT_PRODUCTS, amb, &s, NULL, &r, &e), TSR_EPARSE);
  assert_non_null(strstr(e.msg, "fit both day-first (DD/MM/YYYY) and month-first (MM/DD/YYYY)"));
  /* forced */
  assert_int_equal(open_mem(TSR_BT_PRODUCTS, amb, &s, "mdy", &r, &e), TSR_OK);
  assert_int_equal(tsr_bundle_next(r, &row, &e), TSR_OK);
  assert_int_equal(row.v[TSR_PE_DATE].t, tsr_days_from_civil(2020, 1, 2) * 86400);
  tsr_bundle_reader_close(r);
  /* mixed */
  const char *mix = "customer_id,date,product_opened\nc1,13/02/2020,card\nc2,11/30/2021,card\n";
  assert_int_equal(open_mem(TSR_BT_PRODUCTS, mix, &s, NULL, &r, &e), TSR_EPARSE);
  assert_non_null(strstr(e.msg, "mixes day-first and month-first"));
  /* YYYYMMDD and ISO timestamps with offsets */
  s.nnote = 0;
  const char *ymd = "customer_id,timestamp,amount\nc1,20200102,5\nc1,2020-01-03T10:00:00+02:00,6\n";
  assert_int_equal(open_mem(TSR_BT_TRANSACTIONS, ymd, &s, NULL, &r, &e), TSR_OK);
  assert_string_equal(s.notes[0], "timestamp: date column 'timestamp': YYYYMMDD");
  assert_int_equal(tsr_bundle_next(r, &row, &e), TSR_OK);
  assert_int_equal(row.v[TSR_TX_TIMESTAMP].t, tsr_days_from_civil(2020, 1, 2) * 86400);
  assert_int_equal(tsr_bundle_next(r, &row, &e), TSR_OK);
  assert_int_equal(row.v[TSR_TX_TIMESTAMP].t, tsr_days_from_civil(2020, 1, 3) * 86400 + 8 * 3600);
  tsr_bundle_reader_close(r);
}

static void test_hostile_rows(void **state) {
  (void)state;
  sink s = {0};
  tsr_bundle_reader *r;
  tsr_error e;
  tsr_bundle_row row;
  const char *csv = "customer_id,campaign_id,group,responded\n"
                    "c1,k1,treatment,1\n"
                    "c2,k1,control,maybe\n"
                    "c3,k1\n"
                    "c4,k1,\"unterminated,0\n";
  assert_int_equal(open_mem(TSR_BT_CAMPAIGN, csv, &s, NULL, &r, &e), TSR_OK);
  int n = 0;
  tsr_status st;
  while ((st = tsr_bundle_next(r, &row, &e)) == TSR_OK) n++;
  assert_int_equal(st, TSR_ENOTFOUND);
  assert_int_equal(n, 1);
  assert_int_equal(s.nrej, 3);
  assert_string_equal(s.rej[0], "t.csv:3:15: error: responded: expected 0 or 1, got 'maybe'");
  assert_string_equal(s.rej[1], "t.csv:4:6: error: expected 4 fields, got 2");
  tsr_bundle_reader_close(r);
  /* --max-errors */
  tsr_bundle_opts o;
  tsr_bundle_opts_init(&o);
  o.max_errors = 0;
  assert_int_equal(tsr_bundle_reader_open_mem(TSR_BT_CAMPAIGN, csv, strlen(csv), "t.csv", &o, &r, &e), TSR_OK);
  assert_int_equal(tsr_bundle_next(r, &row, &e), TSR_OK);
  assert_int_equal(tsr_bundle_next(r, &row, &e), TSR_EMAXERR);
  tsr_bundle_reader_close(r);
}

static void test_dir(void **state) {
  (void)state;
  char dir[] = "/tmp/tsr_bundle_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char p[256];
  tsr_bundle *b;
  tsr_error e;
  assert_int_equal(tsr_bundle_open_dir(dir, &b, &e), TSR_ENOTFOUND);
  snprintf(p, sizeof p, "%s/transactions.csv", dir);
  FILE *f = fopen(p, "w");
  fputs("customer_id,date,amount\nc1,2020-01-01,3\n", f);
  fclose(f);
  snprintf(p, sizeof p, "%s/products.csv", dir);
  f = fopen(p, "w");
  fputs("customer_id,date,product,event\nc1,2020-01-01,card,close\n", f);
  fclose(f);
  assert_int_equal(tsr_bundle_open_dir(dir, &b, &e), TSR_OK);
  assert_non_null(tsr_bundle_path(b, TSR_BT_PRODUCTS));
  assert_null(tsr_bundle_path(b, TSR_BT_CUSTOMERS));
  tsr_bundle_reader *r;
  assert_int_equal(tsr_bundle_open_table(b, TSR_BT_PRODUCTS, NULL, &r, &e), TSR_OK);
  tsr_bundle_row row;
  assert_int_equal(tsr_bundle_next(r, &row, &e), TSR_OK);
  assert_near(row.v[TSR_PE_EVENT].num, -1, 0);
  assert_string_equal(row.v[TSR_PE_PRODUCT].s, "card");
  tsr_bundle_reader_close(r);
  assert_int_equal(tsr_bundle_open_table(b, TSR_BT_CUSTOMERS, NULL, &r, &e), TSR_ENOTFOUND);
  tsr_bundle_free(b);
  unlink(p);
  snprintf(p, sizeof p, "%s/transactions.csv", dir);
  unlink(p);
  rmdir(dir);
}

static void test_rename(void **state) {
  (void)state;
  const char *csv = "cid,when,amount,offer\nc1,2020-01-01,5,x\n";
  const char *ren[] = {"transactions.customer_id=CID", "timestamp=when", NULL};
  tsr_bundle_opts o;
  tsr_bundle_opts_init(&o);
  o.rename = ren;
  tsr_bundle_reader *r;
  tsr_error e;
  assert_int_equal(tsr_bundle_reader_open_mem(TSR_BT_TRANSACTIONS, csv, strlen(csv), "t.csv", &o, &r, &e), TSR_OK);
  tsr_bundle_row row;
  assert_int_equal(tsr_bundle_next(r, &row, &e), TSR_OK);
  assert_string_equal(row.v[TSR_TX_CUSTOMER_ID].s, "c1");
  tsr_bundle_reader_close(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_customers_binding), cmocka_unit_test(test_missing_required),
      cmocka_unit_test(test_date_detection),    cmocka_unit_test(test_hostile_rows),
      cmocka_unit_test(test_dir),               cmocka_unit_test(test_rename),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
