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


/* ---- the fast path (simple records, plain values) against the general
 * path (tsr__bundle_reader_general): two readers of one input in lockstep
 * give the same rows, values, rejects (FILE:LINE:COLUMN, reason, raw
 * record), on_csv records and counts. */

void tsr__bundle_reader_general(struct tsr_bundle_reader *r, int on);

typedef struct trace {
  char *b;
  size_t n, cap;
} trace;

static void tput(trace *t, const char *s, size_t n) {
  if (t->n + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 4096;
    while (cap < t->n + n + 1) cap *= 2;
    t->b = realloc(t->b, cap);
    assert_non_null(t->b);
    t->cap = cap;
  }
  memcpy(t->b + t->n, s, n);
  t->n += n;
  t->b[t->n] = '\0';
}

static void tprintf(trace *t, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  tput(t, buf, (size_t)k < sizeof buf ? (size_t)k : sizeof buf - 1);
}

static void trace_rej(void *ud, const tsr_reject *r) {
  trace *t = ud;
  tsr_error e;
  char buf[600];
  tsr_error_set(&e, r->code, r->source, r->line, r->column, r->field, "%s", r->reason);
  tprintf(t, "reject %d %s raw=", (int)r->code, tsr_error_format(&e, buf, sizeof buf));
  tput(t, r->raw, r->raw_len);
  tput(t, "\n", 1);
}

static void trace_note(void *ud, const tsr_bundle_note *n) {
  tprintf(ud, "note %s: %s\n", n->column, n->msg);
}

/* on_csv: every field as tsr_csv_next gives it (NUL-terminated). */
static void trace_csv(void *ud, const tsr_csv_record *rec) {
  trace *t = ud;
  tprintf(t, "csv %lld-%lld %zu:", (long long)rec->line, (long long)rec->end_line, rec->nfields);
  for (size_t k = 0; k < rec->nfields; k++) {
    const tsr_csv_field *f = &rec->fields[k];
    tprintf(t, " [%lld:%lld q%d len %zu str %zu ", (long long)f->line, (long long)f->column,
            f->quoted, f->len, strlen(f->ptr));
    tput(t, f->ptr, f->len);
    tput(t, "]", 1);
  }
  tput(t, " raw=", 5);
  tput(t, rec->raw, rec->raw_len);
  tput(t, "\n", 1);
}

static void trace_row(trace *t, const tsr_bundle_row *row) {
  tprintf(t, "row %lld:", (long long)row->line);
  for (size_t c = 0; c < row->n; c++) {
    const tsr_value *v = &row->v[c];
    assert_int_equal(v->s[v->len], '\0'); /* NUL-terminated */
    tprintf(t, " [%d %zu %lld %a ", v->present, v->len, (long long)v->t, v->num);
    tput(t, v->s, v->len);
    tput(t, "]", 1);
  }
  tput(t, "\n", 1);
}

/* Reads table t of path (or of mem[0..len) when path is NULL) by the fast
 * and the general path in lockstep; returns the fast path's transcript
 * (free its b) for checks of its own. */
static trace lockstep(tsr_bundle_table t, const char *path, const char *mem, size_t len,
                      int show_pii) {
  trace tr[2] = {{0}};
  tsr_bundle_reader *r[2];
  tsr_error e[2];
  tsr_status st[2];
  for (int k = 0; k < 2; k++) {
    tsr_bundle_opts o;
    tsr_bundle_opts_init(&o);
    o.on_reject = trace_rej;
    o.on_note = trace_note;
    o.ud = &tr[k];
    o.show_pii = show_pii;
    st[k] = path ? tsr_bundle_reader_open(t, path, &o, &r[k], &e[k])
                 : tsr_bundle_reader_open_mem(t, mem, len, "t.csv", &o, &r[k], &e[k]);
    assert_int_equal(st[k], TSR_OK);
    tsr_bundle_reader_on_csv(r[k], trace_csv, &tr[k]);
  }
  tsr__bundle_reader_general(r[1], 1);
  trace all = {0};
  for (;;) {
    tsr_bundle_row row[2];
    for (int k = 0; k < 2; k++) {
      st[k] = tsr_bundle_next(r[k], &row[k], &e[k]);
      if (st[k] == TSR_OK) trace_row(&tr[k], &row[k]);
      else tprintf(&tr[k], "end %d\n", (int)st[k]);
    }
    assert_string_equal(tr[0].b, tr[1].b);
    tput(&all, tr[0].b, tr[0].n);
    tr[0].n = tr[1].n = 0;
    if (st[0] != TSR_OK) break;
  }
  tsr_bundle_stats bs[2];
  for (int k = 0; k < 2; k++) {
    tsr_bundle_reader_stats(r[k], &bs[k]);
    tsr_bundle_reader_close(r[k]);
    free(tr[k].b);
  }
  assert_int_equal(bs[0].rows_read, bs[1].rows_read);
  assert_int_equal(bs[0].rows_accepted, bs[1].rows_accepted);
  assert_int_equal(bs[0].rows_rejected, bs[1].rows_rejected);
  assert_int_equal(bs[0].min_time, bs[1].min_time);
  assert_int_equal(bs[0].max_time, bs[1].max_time);
  assert_true(bs[0].checksum == bs[1].checksum);
  return all;
}

/* 1 when the transcript holds s (it may hold NUL bytes). */
static int has(const trace *t, const char *s) { return memmem(t->b, t->n, s, strlen(s)) != NULL; }

/* Rows of every kind: plain, padded, quoted, CRLF, multi-line, blank
 * lines, wrong field counts, empty required values, bad dates, numbers,
 * UTF-8, NUL and control bytes, over-long ids. */
static const char tx_rows[] =
    "transaction_id,customer_id,timestamp,amount,channel\n"
    "t1,c1,2024-01-02T10:00:00Z,12.5,web\n"
    "t2, c1 ,2024-01-03, 7 ,mobile \n"
    "t3,c2,2024-01-04,abc,web\n"
    "t4,c2,not a date,5,web\n"
    "t5,,2024-01-04,5,web\n"
    "t6,c3,2024-01-04,5\n"
    "t7,c3,2024-01-04,5,web,extra\n"
    "t8,c\xc3\xa9,2024-01-05,5,caf\xc3\xa9\n"
    "t9,c4,2024-01-05,5,ab\xff\xfe\n"
    "t10,c4\0x,2024-01-05,5,web\n"
    "t11,\"c5\",2024-01-05,\"1,5\",web\n"
    "\n"
    "t12,c5,2024-01-06,5,\"multi\nline\"\n"
    "t13,c6,2024-01-06,5,web\r\n"
    "t14,c6,2024-01-06,5,\tweb\t\n"
    "t15,c7,2024-01-07,-3.25,\x01x\x7f\n"
    "t16,c7,1899-12-31,1,web\n"
    "t17,c7,2024-02-30,1,web\n"
    "t18,c7,2024-01-07,1e999,web\n"
    "t19,c8,2024-01-07,1,\n"
    ",c8,2024-01-07,1,web\n"
    "t20,c8 x,2024-01-07 12:00,1,web\n"
    "t21,c8,2024-01-07,1,we\"b\n"
    "t22,c9,2024-01-08,2,web";

static const char cu_rows[] =
    "customer_id,name,email,birth_date,gender,city,join_date,products_held,risk_score\n"
    "c1,Anna,a@x.org,1961-03-04,F,Bern,2020-01-01,card;loan,12\n"
    "c2,Bob,b@x.org,31.12.1999,M,Zug,2020-01-01,,101\n"
    "c3,Carl,c@x.org,not-a-date,M,Chur,2020-01-01,card,5\n"
    "c4, Dora ,d@x.org,,F, Basel ,2020-01-01, card ; loan ,\n"
    "c5,\"Eve, Jr\",e@x.org,1980-01-01,F,Bern,2020-01-01,card,5\n"
    "c6,Fr\xc3\xa4nzi,f@x.org,1980-01-01,F,Z\xfcrich,2020-01-01,card,5\n"
    "c7,Gus,g@x.org,1980-01-01,M,Bern\n";

static const char pe_rows[] =
    "customer_id,date,product,event\n"
    "c1,2024-01-02,card,open\n"
    "c1,2024-01-03,card,CLOSE\n"
    "c2,2024-01-03,loan,\n"
    "c2,2024-01-03,loan,maybe\n"
    "c3,2024-01-03,,open\n"
    "c3,2024-01-03,loan, closed \n";

static void test_fast_vs_general(void **state) {
  (void)state;
  trace t = lockstep(TSR_BT_TRANSACTIONS, NULL, tx_rows, sizeof tx_rows - 1, 0);
  if (getenv("TSR_TEST_DUMP")) fwrite(t.b, 1, t.n, stderr);
  /* the errors of simple records (the fast path) pinned as the general
   * path gives them */
  assert_true(has(&t, "t.csv:4:18: error: amount: expected a number, got 'abc' raw=t3,"));
  assert_true(has(&t, "t.csv:5:7: error: timestamp: expected a date (ISO 8601), got 'not a date'"));
  assert_true(has(&t, "t.csv:6:4: error: customer_id: expected a value, got ''"));
  assert_true(has(&t, "t.csv:7:19: error: expected 5 fields, got 4"));
  assert_true(has(&t, "t.csv:8:24: error: expected 5 fields, got 6"));
  assert_true(has(&t, "t.csv:10:22: error: channel: expected valid UTF-8, got byte \\xff"));
  assert_true(has(&t, "t.csv:11:5: error: customer_id: expected text without NUL bytes"));
  assert_true(has(&t, "row 3: [1 2 0 nan c1]")); /* " c1 ", " 7 ", "mobile " trimmed */
  assert_true(has(&t, "[1 1 0 0x1.cp+2 7] [1 2 0 nan t2] [0 0 0 nan ] [1 6 0 nan mobile]"));
  assert_true(has(&t, "[1 3 0 nan \x01x\x7f]")); /* control bytes kept */
  free(t.b);
  /* personal data withheld and shown */
  t = lockstep(TSR_BT_CUSTOMERS, NULL, cu_rows, sizeof cu_rows - 1, 0);
  assert_true(has(&t, "t.csv:4:17: error: birth_date: expected a date (day-first DD/MM/YYYY HH:MM), "
                      "got '<redacted>' raw=\n"));
  assert_true(has(&t, "t.csv:7:34: error: city: expected valid UTF-8, got byte \\xfc raw=\n"));
  assert_true(has(&t, "[1 11 0 nan card ; loan]"));
  free(t.b);
  t = lockstep(TSR_BT_CUSTOMERS, NULL, cu_rows, sizeof cu_rows - 1, 1);
  assert_true(has(&t, "got 'not-a-date' raw=c3,Carl"));
  free(t.b);
  t = lockstep(TSR_BT_PRODUCTS, NULL, pe_rows, sizeof pe_rows - 1, 0);
  free(t.b);
  /* a file over several read buffers (1 MiB): records across their ends */
  char path[] = "/tmp/tsr_bundle_fast_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  assert_non_null(f);
  fputs("transaction_id,customer_id,timestamp,amount,channel\n", f);
  const char *body = tx_rows + strlen("transaction_id,customer_id,timestamp,amount,channel\n");
  size_t blen = sizeof tx_rows - 1 - (size_t)(body - tx_rows);
  for (int i = 0; i < 60000; i++) {
    fprintf(f, "x%d,c%d,2024-03-%02d,%d.%02d,%s\n", i, i % 977, 1 + i % 28, i % 500, i % 100,
            i % 3 ? "web" : " branch");
    if (i % 9000 == 0) {
      fwrite(body, 1, blen, f);
      fputc('\n', f);
    }
  }
  fclose(f);
  t = lockstep(TSR_BT_TRANSACTIONS, path, NULL, 0, 0);
  assert_true(has(&t, "row 60176: [1 4 0 nan c402] [1 10 1711238400 nan 2024-03-24] "
                      "[1 6 0 0x1.f3fd70a3d70a4p+8 499.99] [1 6 0 nan x59999]"));
  free(t.b);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_customers_binding), cmocka_unit_test(test_missing_required),
      cmocka_unit_test(test_date_detection),    cmocka_unit_test(test_hostile_rows),
      cmocka_unit_test(test_dir),               cmocka_unit_test(test_rename),
      cmocka_unit_test(test_fast_vs_general),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
