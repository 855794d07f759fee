/*
 * test_report_extras.c - the report sections read from files
 * (app/report_extras.c) and the currency of a run (app/analyze_currency.c):
 * a run folder with run.json, segment_profiles.csv, churn_eval.json and
 * churn.csv becomes the data_quality, segment_profiles and churn sections
 * with the files' values; malformed files of the folder become notes, a
 * malformed named input an error with FILE:LINE:COLUMN; the currency comes
 * from the option, else a currency column holding one code, else none (with
 * a warning for mixed codes).
 */
#include "tsr_test.h"

#include <jansson.h>
#include <sys/stat.h>

#include "internal.h"
#include "report_internal.h"
#include "tessera/report.h"
#include "tessera/store_act.h"

tsr_status tsr__analyze_currency(const tsr_analyze_opts *o, const tsr_ingest_stats *in_stats,
                                 tsr_analyze_result *r, char *warn, size_t cap, tsr_error *err);

static char dir[256];
static char last_warn[512]; /* the warning of the last currency_of(2) */

static void put_file(const char *name, const char *text) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "wb");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/tsr-rext-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  static const char *const f[] = {"run.json", "segment_profiles.csv", "churn_eval.json", "churn.csv",
                                  "offers.json", "bad.json", "tx.csv", "nbp.csv", "t.db", "t.db-wal", "t.db-shm"};
  char p[512];
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, f[i]);
    unlink(p);
  }
  rmdir(dir);
  return 0;
}

static json_t *root_with_meta(void) {
  json_t *root = json_object();
  json_object_set_new(root, "meta", json_object());
  return root;
}

static void test_run_folder(void **state) {
  (void)state;
  put_file("run.json", "{\"run_id\":1,\"kpis\":{},\"data_quality\":{\"crm_records\":622,\"records_merged\":22,"
                       "\"households\":183,\"rejects_by_reason\":{\"customers: birth_date: expected a date\":3}}}\n");
  put_file("segment_profiles.csv", "kind,segment,customers,share,revenue,top_products\n"
                                   "life_stage,\"student, young\",97,0.1617,97832.91,current_account;student_account\n"
                                   "value_tier,top,58,0.0967,405713.06,\n");
  put_file("churn_eval.json", "{\"methods\":{\"xgboost\":{\"auc\":0.72}},\"roc\":{\"xgboost\":[[0,0],[1,1]]}}");
  put_file("churn.csv", "customer_id,churn_probability,reason_1,reason_2,reason_3\n"
                        "C1,0.20,a,b,c\nC2,0.90,no purchase for 21 weeks,x,y\nC3,0.50,d,e,f\nC4,0.95,g,h,i\n");
  put_file("nbp.csv", "customer_id,rank,product,score,reason\n"
                      "C1,1,savings,1.5,\"common, at this stage\"\nC1,2,mortgage,0.2,x\n"
                      "C2,1,mortgage,0.5,often after a loan\nC3,1,mortgage,1.5,y\nC3,2,savings,0.1,z\n");
  tsr_report_opts o;
  tsr_report_opts_init(&o);
  o.out_dir = dir;
  o.top_n = 2;
  json_t *root = root_with_meta();
  tsr_error err;
  assert_int_equal(tsr__report_extras(root, &o, &err), TSR_OK);
  json_t *dq = json_object_get(root, "data_quality");
  assert_int_equal(json_integer_value(json_object_get(dq, "records_merged")), 22);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(dq, "rejects_by_reason"),
                                                      "customers: birth_date: expected a date")), 3);
  json_t *sp = json_object_get(root, "segment_profiles");
  assert_int_equal(json_array_size(json_object_get(sp, "columns")), 6);
  json_t *rows = json_object_get(sp, "rows");
  assert_int_equal(json_array_size(rows), 2);
  json_t *r0 = json_array_get(rows, 0);
  assert_string_equal(json_string_value(json_array_get(r0, 1)), "student, young"); /* quoted comma */
  assert_near(json_number_value(json_array_get(r0, 2)), 97, 0);
  assert_near(json_number_value(json_array_get(r0, 4)), 97832.91, 1e-9);
  assert_true(json_is_null(json_array_get(json_array_get(rows, 1), 5))); /* empty cell */
  json_t *ch = json_object_get(root, "churn");
  assert_near(json_number_value(json_object_get(json_object_get(json_object_get(json_object_get(ch, "eval"), "methods"), "xgboost"), "auc")), 0.72, 0);
  json_t *cu = json_object_get(ch, "customers");
  assert_int_equal(json_integer_value(json_object_get(cu, "customers")), 4);
  assert_near(json_number_value(json_object_get(cu, "mean_probability")), (0.2 + 0.9 + 0.5 + 0.95) / 4, 1e-12);
  json_t *top = json_object_get(cu, "top"); /* the two highest, highest first */
  assert_int_equal(json_array_size(top), 2);
  assert_string_equal(json_string_value(json_array_get(json_array_get(top, 0), 0)), "C4");
  assert_string_equal(json_string_value(json_array_get(json_array_get(top, 1), 0)), "C2");
  assert_string_equal(json_string_value(json_array_get(json_array_get(top, 1), 2)), "no purchase for 21 weeks");
  /* next best product: first ranks only, most recommended first */
  json_t *nb = json_object_get(root, "next_best_product");
  assert_int_equal(json_integer_value(json_object_get(nb, "customers")), 3);
  json_t *p0 = json_array_get(json_object_get(nb, "products"), 0), *p1 = json_array_get(json_object_get(nb, "products"), 1);
  assert_string_equal(json_string_value(json_object_get(p0, "product")), "mortgage");
  assert_int_equal(json_integer_value(json_object_get(p0, "customers")), 2);
  assert_near(json_number_value(json_object_get(p0, "mean_score")), 1.0, 1e-12);
  assert_string_equal(json_string_value(json_object_get(p1, "reason")), "common, at this stage");
  assert_null(json_object_get(json_object_get(root, "meta"), "notes"));
  json_decref(root);
  /* a malformed file of the folder: left out with a note naming line and column */
  put_file("churn_eval.json", "{\"methods\": {\n  \"xgboost\": [}\n");
  root = root_with_meta();
  assert_int_equal(tsr__report_extras(root, &o, &err), TSR_OK);
  assert_null(json_object_get(json_object_get(root, "churn"), "eval"));
  json_t *notes = json_object_get(json_object_get(root, "meta"), "notes");
  assert_int_equal(json_array_size(notes), 1);
  assert_non_null(strstr(json_string_value(json_array_get(notes, 0)), "churn_eval.json:2:"));
  json_decref(root);
}

static void test_named_inputs(void **state) {
  (void)state;
  char off[512], bad[512];
  snprintf(off, sizeof off, "%s/offers.json", dir);
  snprintf(bad, sizeof bad, "%s/bad.json", dir);
  put_file("offers.json", "{\"format\":\"tessera-offers-sim\",\"policies\":[{\"policy\":\"uniform\",\"regret\":4.5}]}");
  put_file("bad.json", "{\"experiments\": [\n 1,\n ]\n");
  tsr_report_opts o;
  tsr_report_opts_init(&o);
  o.offers_sim = off;
  json_t *root = root_with_meta();
  tsr_error err;
  assert_int_equal(tsr__report_extras(root, &o, &err), TSR_OK);
  assert_near(json_number_value(json_object_get(json_array_get(json_object_get(json_object_get(root, "offers"), "policies"), 0), "regret")), 4.5, 0);
  /* syntax error: file, line and column */
  o.experiment = bad;
  assert_int_equal(tsr__report_extras(root, &o, &err), TSR_EPARSE);
  assert_string_equal(err.source, bad);
  assert_int_equal(err.line, 3);
  /* the other command's JSON */
  o.experiment = off;
  assert_int_equal(tsr__report_extras(root, &o, &err), TSR_EPARSE);
  assert_non_null(strstr(err.msg, "tessera experiment --json"));
  o.experiment = NULL;
  o.offers_sim = "/nonexistent/offers.json";
  assert_int_equal(tsr__report_extras(root, &o, &err), TSR_EIO);
  json_decref(root);
}

/* The ingest's report on the file at path (its currency column). */
static void ingest_of(const char *path, tsr_ingest_stats *s) {
  tsr_ingest_opts io;
  tsr_ingest_opts_init(&io);
  io.customer_col = "id";
  tsr_ledger *lg;
  assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
  assert_int_equal(tsr_ingest_file(lg, path, &io, s, NULL), TSR_OK);
  tsr_ledger_free(lg);
}

static void currency_of(const char *csv, const char *opt, const char *want, const char *want_src,
                        const char *warn_part) {
  put_file("tx.csv", csv);
  char p[512];
  snprintf(p, sizeof p, "%s/tx.csv", dir);
  const char *in[] = {p};
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  o.inputs = in;
  o.n_inputs = 1;
  o.currency = opt;
  tsr_analyze_result r;
  memset(&r, 0, sizeof r);
  char warn[512];
  tsr_error err;
  tsr_ingest_stats s[1];
  ingest_of(p, &s[0]);
  assert_int_equal(tsr__analyze_currency(&o, s, &r, warn, sizeof warn, &err), TSR_OK);
  assert_string_equal(r.currency, want);
  if (want_src) assert_string_equal(r.currency_source, want_src);
  else assert_null(r.currency_source);
  if (warn_part) assert_non_null(strstr(warn, warn_part));
  else assert_string_equal(warn, "");
  memcpy(last_warn, warn, sizeof warn);
}

/* Two inputs: the currency of the run when both are read. */
static void currency_of2(const char *csv1, const char *csv2, const char *want, const char *warn_part) {
  put_file("tx1.csv", csv1);
  put_file("tx2.csv", csv2);
  char p1[512], p2[512];
  snprintf(p1, sizeof p1, "%s/tx1.csv", dir);
  snprintf(p2, sizeof p2, "%s/tx2.csv", dir);
  const char *in[] = {p1, p2};
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  o.inputs = in;
  o.n_inputs = 2;
  tsr_analyze_result r;
  memset(&r, 0, sizeof r);
  char warn[512];
  tsr_error err;
  tsr_ingest_stats s[2];
  ingest_of(p1, &s[0]);
  ingest_of(p2, &s[1]);
  assert_int_equal(tsr__analyze_currency(&o, s, &r, warn, sizeof warn, &err), TSR_OK);
  assert_string_equal(r.currency, want);
  if (*want) assert_string_equal(r.currency_source, "column");
  else assert_null(r.currency_source);
  if (warn_part) assert_non_null(strstr(warn, warn_part));
  else assert_string_equal(warn, "");
  memcpy(last_warn, warn, sizeof warn);
}

static void test_currency(void **state) {
  (void)state;
  assert_true(tsr_currency_code_valid("EUR"));
  assert_false(tsr_currency_code_valid("eur"));
  assert_false(tsr_currency_code_valid("EURO"));
  assert_false(tsr_currency_code_valid("E1R"));
  assert_false(tsr_currency_code_valid(NULL));
  currency_of("id,date,amount,Currency\na,2024-01-01,5,chf\nb,2024-01-02,6, CHF \nc,2024-01-03,7,\n", NULL, "CHF",
              "column", NULL);
  currency_of("id,date,amount,ccy\na,2024-01-01,5,EUR\nb,2024-01-02,6,USD\n", NULL, "", NULL, "several codes (EUR, USD");
  currency_of("id,date,amount,currency\na,2024-01-01,5,EUR\nb,2024-01-02,6,euro\n", NULL, "", NULL, "tx.csv:3:");
  currency_of("id,date,amount\na,2024-01-01,5\n", NULL, "", NULL, NULL);
  currency_of("id,date,amount,currency\na,2024-01-01,5,EUR\n", "GBP", "GBP", "option", NULL); /* the option wins */
  /* every input is read: agreeing inputs give the code; disagreeing ones,
   * or one without a code, give amount units and say which files */
  currency_of2("id,date,amount,currency\na,2024-01-01,5,EUR\n", "id,date,amount,ccy\nb,2024-01-02,6,eur\n", "EUR",
               NULL);
  currency_of2("id,date,amount,currency\na,2024-01-01,5,EUR\n", "id,date,amount,currency\nb,2024-01-02,6,USD\n", "",
               "disagree on the currency");
  currency_of2("id,date,amount,currency\na,2024-01-01,5,EUR\n", "id,date,amount,currency\nb,2024-01-02,6,USD\n", "",
               "tx1.csv: EUR, ");
  currency_of2("id,date,amount,currency\na,2024-01-01,5,EUR\n", "id,date,amount\nb,2024-01-02,6\n", "",
               "tx2.csv has no currency code while ");
  currency_of2("id,date,amount\na,2024-01-01,5\n", "id,date,amount,currency\nb,2024-01-02,6,GBP\n", "",
               "is in GBP");
  currency_of2("id,date,amount\na,2024-01-01,5\n", "id,date,amount\nb,2024-01-02,6\n", "", NULL);
  currency_of2("id,date,amount,currency\na,2024-01-01,5,EUR\n", "id,date,amount,currency\nb,2024-01-02,6,EUR\nc,2024-01-02,6,JPY\n", "",
               "tx2.csv: the currency column holds several codes (EUR, JPY");
  /* the messages, whole (as when the column was read again after the
   * ingest, issue 18) */
  char want[1024];
  currency_of("id,date,amount,ccy\na,2024-01-01,5,EUR\nb,2024-01-02,6,USD\n", NULL, "", NULL, "several");
  snprintf(want, sizeof want, "%s/tx.csv: the currency column holds several codes (EUR, USD, ...): the amounts "
           "are added as they are and shown in amount units; convert them to one currency", dir);
  assert_string_equal(last_warn, want);
  currency_of("id,date,amount,currency\na,2024-01-01,5,EUR\nb,2024-01-02,6,euro\n", NULL, "", NULL, "tx.csv:3:");
  snprintf(want, sizeof want, "%s/tx.csv:3: the currency column holds a value that is not a three-letter code: "
           "amounts are shown in amount units (give --currency CODE)", dir);
  assert_string_equal(last_warn, want);
  currency_of2("id,date,amount,currency\na,2024-01-01,5,EUR\n", "id,date,amount,currency\nb,2024-01-02,6,USD\n", "",
               "disagree");
  snprintf(want, sizeof want, "the inputs disagree on the currency (%s/tx1.csv: EUR, %s/tx2.csv: USD): the "
           "amounts are added as they are and shown in amount units; convert them to one currency", dir, dir);
  assert_string_equal(last_warn, want);
  currency_of2("id,date,amount,currency\na,2024-01-01,5,EUR\n", "id,date,amount\nb,2024-01-02,6\n", "", "while");
  snprintf(want, sizeof want, "%s/tx2.csv has no currency code while %s/tx1.csv is in EUR: the amounts are shown "
           "in amount units (give --currency CODE when all inputs share one)", dir, dir);
  assert_string_equal(last_warn, want);
  /* an empty currency field is skipped; a column of empty fields is no
   * code (beside a code: the warning of an input without one) */
  currency_of("id,date,amount,currency\na,2024-01-01,5,\nb,2024-01-02,6,GBP\nc,2024-01-03,7, \n", NULL, "GBP",
              "column", NULL);
  currency_of("id,date,amount,currency\na,2024-01-01,5,\nb,2024-01-02,6,\n", NULL, "", NULL, NULL);
  currency_of2("id,date,amount,currency\na,2024-01-01,5,\n", "id,date,amount,currency\nb,2024-01-02,6,CAD\n", "",
               "tx1.csv has no currency code while ");
  /* a code only after many rows of empty fields; a second code or a bad
   * value only there (a rejected row's too) */
  for (int k = 0; k < 3; k++) {
    size_t cap = 9000 * 24 + 200, len = 0;
    char *csv = malloc(cap);
    assert_non_null(csv);
    len = (size_t)snprintf(csv, cap, "id,date,amount,currency\n");
    for (int i = 0; i < 9000; i++)
      len += (size_t)snprintf(csv + len, cap - len, "c%d,2024-01-%02d,%d,%s\n", i % 50, i % 28 + 1, i,
                              k && i == 0 ? "NOK" : "");
    snprintf(csv + len, cap - len, "z,2024-02-01,%s,%s\n", k == 2 ? "oops" : "1", k == 0 ? "NOK" : k == 1 ? "SEK" : "kr");
    currency_of(csv, NULL, k == 0 ? "NOK" : "", k == 0 ? "column" : NULL,
                k == 0 ? NULL : k == 1 ? "several codes (NOK, SEK" : "tx.csv:9002:");
    free(csv);
  }
  /* standard input and a run without the ingest's reports: no code */
  {
    const char *in[] = {"-"};
    tsr_analyze_opts o;
    tsr_analyze_opts_init(&o);
    o.inputs = in;
    o.n_inputs = 1;
    tsr_ingest_stats s;
    memset(&s, 0, sizeof s);
    snprintf(s.currency_col, sizeof s.currency_col, "currency");
    memcpy(s.currency, "EUR", 4);
    tsr_analyze_result r;
    memset(&r, 0, sizeof r);
    char warn[512];
    assert_int_equal(tsr__analyze_currency(&o, &s, &r, warn, sizeof warn, NULL), TSR_OK);
    assert_string_equal(r.currency, "");
    assert_string_equal(warn, "");
    in[0] = "tx.csv";
    assert_int_equal(tsr__analyze_currency(&o, &s, &r, warn, sizeof warn, NULL), TSR_OK);
    assert_string_equal(r.currency, "EUR");
    assert_int_equal(tsr__analyze_currency(&o, NULL, &r, warn, sizeof warn, NULL), TSR_OK);
    assert_string_equal(r.currency, "");
  }
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  o.currency = "pounds";
  tsr_analyze_result r;
  memset(&r, 0, sizeof r);
  char warn[64];
  tsr_error err;
  assert_int_equal(tsr__analyze_currency(&o, NULL, &r, warn, sizeof warn, &err), TSR_EINVAL);
  assert_non_null(strstr(err.msg, "ISO 4217"));
}

/* The offers served (store act_decisions): counts per segment and offer,
 * rewards, policies; absent without decisions. */
static void test_decisions(void **state) {
  (void)state;
  char url[512];
  snprintf(url, sizeof url, "%s/t.db", dir);
  tsr_store *st = NULL;
  tsr_error err;
  assert_int_equal(tsr_store_open(url, TSR_STORE_CREATE, &st, &err), TSR_OK);
  tsr_report_opts o;
  tsr_report_opts_init(&o);
  o.store = st;
  json_t *root = root_with_meta();
  assert_int_equal(tsr__report_extras(root, &o, &err), TSR_OK); /* no act table yet */
  assert_null(json_object_get(root, "decisions"));
  assert_int_equal(tsr_act_store_init(st, &err), TSR_OK);
  tsr_act_decision d[4] = {
      {"d1", 1, "C1", "O1", "thompson", "S0", 0.5, NULL, NAN, 0},
      {"d2", 2, "C2", "O2", "thompson", "S0", 0.5, NULL, NAN, 0},
      {"d3", 3, "C3", "O1", "linucb", "S1", 0.9, NULL, NAN, 0},
      {"d4", 4, "C4", "O1", "thompson", "S0", 0.5, NULL, NAN, 0},
  };
  const char *ids[] = {"d1", "d3", "d4"};
  double rew[] = {1, 0, 1};
  int64_t ts[] = {10, 11, 12};
  int64_t applied = 0;
  assert_int_equal(tsr_act_write(st, d, 4, ids, rew, ts, 3, &applied, &err), TSR_OK);
  assert_int_equal(applied, 3);
  assert_int_equal(tsr__report_extras(root, &o, &err), TSR_OK);
  json_t *q = json_object_get(root, "decisions");
  assert_int_equal(json_integer_value(json_object_get(q, "decisions")), 4);
  assert_int_equal(json_integer_value(json_object_get(q, "rewarded")), 3);
  assert_string_equal(json_string_value(json_array_get(json_object_get(q, "segments"), 0)), "S0");
  assert_string_equal(json_string_value(json_array_get(json_object_get(q, "offers"), 0)), "O1");
  json_t *cnt = json_object_get(q, "count"), *rs = json_object_get(q, "reward_sum");
  assert_int_equal(json_integer_value(json_array_get(json_array_get(cnt, 0), 0)), 2); /* S0 O1 */
  assert_int_equal(json_integer_value(json_array_get(json_array_get(cnt, 0), 1)), 1); /* S0 O2 */
  assert_int_equal(json_integer_value(json_array_get(json_array_get(cnt, 1), 0)), 1); /* S1 O1 */
  assert_near(json_number_value(json_array_get(json_array_get(rs, 0), 0)), 2, 0);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(q, "policies"), "thompson")), 3);
  json_decref(root);
  tsr_store_close(st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_run_folder),
      cmocka_unit_test(test_named_inputs),
      cmocka_unit_test(test_currency),
      cmocka_unit_test(test_decisions),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
