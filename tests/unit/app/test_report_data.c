/*
 * test_report_data.c - the numbers behind the HTML report (app/report_data.c,
 * app/report_json.c) against hand computation on small inputs, the HTML
 * escaping of data strings, and allocation failures.
 */
#include "tsr_test.h"

#include <jansson.h>

#include "internal.h"
#include "report_internal.h"
#include "tessera/datetime.h"
#include "tessera/report.h"

/* ------------------------------------------------------------ histograms */

static void test_hist_integer_bins(void **state) {
  (void)state;
  double x[] = {0, 1, 1, 2, 5, NAN};
  tsr__hist h;
  tsr__report_hist(x, 6, 30, 0, &h);
  assert_int_equal(h.nbins, 6); /* one bin per integer 0..5 */
  assert_int_equal(h.n, 5);
  int64_t want[] = {1, 2, 1, 0, 0, 1};
  for (int i = 0; i < 6; i++) assert_int_equal(h.counts[i], want[i]);
  assert_near(h.edges[0], -0.5, 0);
  assert_near(h.edges[6], 5.5, 0);
  assert_int_equal(h.log, 0);
}

static void test_hist_linear_bins(void **state) {
  (void)state;
  double x[] = {0.5, 1.5, 2.5, 3.5, 10.5};
  tsr__hist h;
  tsr__report_hist(x, 5, 5, 0, &h);
  assert_int_equal(h.nbins, 5);
  /* width 2: [0.5,2.5) [2.5,4.5) ... [8.5,10.5] */
  int64_t want[] = {2, 2, 0, 0, 1};
  for (int i = 0; i < 5; i++) assert_int_equal(h.counts[i], want[i]);
  assert_near(h.edges[1], 2.5, 1e-12);
  assert_near(h.edges[5], 10.5, 0);
}

static void test_hist_log_bins(void **state) {
  (void)state;
  double x[] = {0, 5.5, 50, 500, 999};
  tsr__hist h;
  tsr__report_hist(x, 5, 3, 1, &h);
  assert_int_equal(h.log, 1);
  assert_int_equal(h.integer, 0);
  assert_int_equal(h.nbins, 3);
  /* log1p edges: 10^(k L / 3) - 1 with L = log10(1000) = 3: 0, 9, 99, 999 */
  assert_near(h.edges[0], 0, 0);
  assert_near(h.edges[1], 9, 1e-9);
  assert_near(h.edges[2], 99, 1e-9);
  assert_near(h.edges[3], 999, 0);
  int64_t want[] = {2, 1, 2};
  for (int i = 0; i < 3; i++) assert_int_equal(h.counts[i], want[i]);
}

/* Counts wider than the number of bins: whole-number ranges (issue 10), every
 * edge half-way between two whole numbers, nothing lost. */
static void test_hist_whole_number_bins(void **state) {
  (void)state;
  double x[100];
  for (int i = 0; i < 100; i++) x[i] = i;
  tsr__hist h;
  tsr__report_hist(x, 100, 30, 0, &h);
  assert_int_equal(h.integer, 1);
  assert_int_equal(h.nbins, 25); /* width ceil(100 / 30) = 4 */
  int64_t tot = 0;
  for (size_t b = 0; b < h.nbins; b++) {
    assert_near(h.edges[b] + 0.5, floor(h.edges[b] + 0.5), 0);
    assert_near(h.edges[b + 1] - h.edges[b], 4, 0);
    assert_int_equal(h.counts[b], 4);
    tot += h.counts[b];
  }
  assert_int_equal(tot, 100);
  /* log-spaced whole-number starts: 10^(b L / 3) - 1 rounded up, L = log10(1001) */
  double y[] = {0, 5, 50, 500, 999};
  tsr__report_hist(y, 5, 3, 1, &h);
  assert_int_equal(h.integer, 1);
  assert_int_equal(h.log, 1);
  assert_int_equal(h.nbins, 3);
  assert_near(h.edges[0], -0.5, 0);
  assert_near(h.edges[1], 9.5, 0);
  assert_near(h.edges[2], 99.5, 0);
  assert_near(h.edges[3], 999.5, 0);
  int64_t want[] = {2, 1, 2};
  for (int i = 0; i < 3; i++) assert_int_equal(h.counts[i], want[i]);
}

static void test_skewed(void **state) {
  (void)state;
  double a[] = {1, 1, 1, 1, 100}, b[] = {1, 2, 3, 4, 5}, c[] = {-5, 1, 1, 1, 100};
  assert_int_equal(tsr__report_skewed(a, 5), 1);
  assert_int_equal(tsr__report_skewed(b, 5), 0);
  assert_int_equal(tsr__report_skewed(c, 5), 0); /* negative values: no log scale */
}

/* ------------------------------------------------------------ correlation */

static void test_pearson_spearman(void **state) {
  (void)state;
  double x[] = {1, 2, 3, 4, 5}, y[] = {2, 4, 5, 4, 5};
  /* by hand: sxy = 6, sxx = 10, syy = 6 */
  assert_near(tsr__report_pearson(x, y, 5), 6 / sqrt(60), 1e-12);
  /* ranks of y with ties averaged: 1, 2.5, 4.5, 2.5, 4.5 */
  double r[5];
  assert_int_equal(tsr__report_ranks(y, 5, r), TSR_OK);
  double want[] = {1, 2.5, 4.5, 2.5, 4.5};
  for (int i = 0; i < 5; i++) assert_near(r[i], want[i], 0);
  const double *cols[2] = {x, y};
  double P[4], S[4];
  assert_int_equal(tsr__report_corr(cols, 2, 5, 0, P), TSR_OK);
  assert_int_equal(tsr__report_corr(cols, 2, 5, 1, S), TSR_OK);
  assert_near(P[0], 1, 0);
  assert_near(P[1], 6 / sqrt(60), 1e-12);
  assert_near(P[2], P[1], 0);
  /* Spearman: sxy = 7, syy = 9 on the ranks */
  assert_near(S[1], 7 / sqrt(90), 1e-12);
  /* a NaN pair is skipped; a constant column has no correlation */
  double xn[] = {1, 2, 3, 4, 5, NAN}, yn[] = {2, 4, 5, 4, 5, 100}, k[] = {3, 3, 3, 3, 3, 3};
  assert_near(tsr__report_pearson(xn, yn, 6), 6 / sqrt(60), 1e-12);
  assert_true(isnan(tsr__report_pearson(xn, k, 6)));
}

/* ------------------------------------------------------------ RFM, Pareto */

static void test_rf_matrix(void **state) {
  (void)state;
  int r[] = {1, 1, 2, 5, 0}, f[] = {1, 1, 3, 5, 2};
  double m[] = {10, 20, 30, 40, 50};
  int64_t cnt[25];
  double mm[25];
  tsr__report_rf_matrix(r, f, m, 5, 5, 5, cnt, mm);
  assert_int_equal(cnt[0], 2);
  assert_near(mm[0], 15, 1e-12);
  assert_int_equal(cnt[1 * 5 + 2], 1);
  assert_near(mm[1 * 5 + 2], 30, 0);
  assert_int_equal(cnt[24], 1);
  assert_near(mm[24], 40, 0);
  int64_t total = 0;
  for (int i = 0; i < 25; i++) total += cnt[i];
  assert_int_equal(total, 4); /* score 0 skipped */
  assert_true(isnan(mm[3]));
}

static void test_pareto(void **state) {
  (void)state;
  double rev[] = {10, 0, 30, 60};
  double out[5], top20 = 0;
  assert_int_equal(tsr__report_pareto(rev, 4, 5, out, &top20), TSR_OK);
  double want[] = {0, 0.6, 0.9, 1.0, 1.0}; /* top 0, 1, 2, 3, 4 customers */
  for (int i = 0; i < 5; i++) assert_near(out[i], want[i], 1e-12);
  assert_near(top20, 0.6, 1e-12); /* ceil(4 / 5) = 1 customer */
}

/* ------------------------------------------------------------ model plots */

static tsr_btyd_model bgnbd(void) {
  tsr_btyd_model m;
  /* CDNOW estimates of Fader, Hardie & Lee (2005) */
  double p[4] = {0.243, 4.414, 0.793, 2.426};
  assert_int_equal(tsr_btyd_model_init(&m, TSR_BTYD_BGNBD, p, NULL), TSR_OK);
  m.period_days = 7;
  return m;
}

static void test_repeat_hist(void **state) {
  (void)state;
  tsr_btyd_model m = bgnbd();
  double x[] = {0, 1, 1, 12}, T[] = {10, 20, 10, 30};
  double obs[4], mod[4];
  assert_int_equal(tsr__report_repeat_hist(&m, x, T, 4, 4, obs, mod, NULL), TSR_OK);
  double wo[] = {1, 2, 0, 1};
  for (int i = 0; i < 4; i++) assert_near(obs[i], wo[i], 0);
  /* model[k] = sum_i P(X(T_i) = k); the last bucket is the rest */
  double s = 0;
  for (unsigned k = 0; k < 3; k++) {
    double want = 0, p;
    for (int i = 0; i < 4; i++) {
      assert_int_equal(tsr_btyd_pmf_new(&m, k, T[i], &p, NULL), TSR_OK);
      want += p;
    }
    assert_near(mod[k], want, 1e-12);
    s += mod[k];
  }
  assert_near(mod[3], 4 - s, 1e-12);
}

static void test_fr_matrix(void **state) {
  (void)state;
  tsr_btyd_model m = bgnbd();
  double E[4 * 5], PA[4 * 5];
  assert_int_equal(tsr__report_fr_matrix(&m, 4, 2, 5, 40, 10, E, PA, NULL), TSR_OK);
  /* cell (frequency 2 * 2 = 4, recency 3 * 40 / 4 = 30) at T = 40, t = 10 */
  double e, pa;
  assert_int_equal(tsr_btyd_conditional(&m, 4, 30, 40, 10, &e, &pa, NULL), TSR_OK);
  assert_near(E[2 * 5 + 3], e, 1e-12);
  assert_near(PA[2 * 5 + 3], pa, 1e-12);
  /* BG/NBD: without repeat purchases the customer is alive, whatever t_x */
  for (int j = 0; j < 5; j++) {
    assert_near(PA[j], 1, 1e-12);
    assert_near(E[j], E[0], 1e-12);
  }
}

static const char TX[] =
    "customer_id,date,amount\n"
    "A,2024-01-01,10\n" /* Monday */
    "A,2024-01-03,5\n"
    "A,2024-01-03,5\n"
    "A,2024-01-10,20\n"
    "B,2024-01-02,7\n"
    "B,2024-01-05,3\n"
    "C,2024-01-12,1\n"; /* born after the cutoff below */

static tsr_ledger *ledger(void) {
  tsr_ledger *lg = NULL;
  tsr_ingest_opts io;
  tsr_ingest_opts_init(&io);
  assert_int_equal(tsr_ledger_new(&lg, NULL), TSR_OK);
  assert_int_equal(tsr_ingest_mem(lg, TX, sizeof TX - 1, "tx", &io, NULL, NULL), TSR_OK);
  assert_int_equal(tsr_ledger_finish(lg, NULL), TSR_OK);
  return lg;
}

static void test_tracking(void **state) {
  (void)state;
  tsr_ledger *lg = ledger();
  tsr_btyd_model m = bgnbd();
  int64_t d0 = tsr_days_from_civil(2024, 1, 1), end = tsr_days_from_civil(2024, 1, 12);
  tsr__tracking t;
  assert_int_equal(tsr__report_tracking(lg, TSR_FREQ_D, d0 + 9, end, &m, 7, &t, NULL), TSR_OK);
  assert_int_equal(t.day0, d0);
  assert_int_equal(t.ndays, 12);
  /* daily periods: A repeats on Jan 3 and Jan 10, B on Jan 5; C not born by the cutoff */
  double want[12] = {0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0};
  for (int i = 0; i < 12; i++) assert_near(t.actual[i], want[i], 0);
  /* expected by the end of Jan 10: A aged 9 days, B aged 8 days */
  double ea, eb;
  assert_int_equal(tsr_btyd_expected_new(&m, 9.0 / 7, &ea, NULL), TSR_OK);
  assert_int_equal(tsr_btyd_expected_new(&m, 8.0 / 7, &eb, NULL), TSR_OK);
  assert_near(t.expected[9], ea + eb, 1e-12);
  assert_near(t.expected[0], 0, 1e-12);
  tsr__report_tracking_release(&t);
  /* weekly periods (Monday..Sunday): A's Jan 3 is in its first week */
  assert_int_equal(tsr__report_tracking(lg, TSR_FREQ_W, d0 + 9, end, &m, 7, &t, NULL), TSR_OK);
  double wantw[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0};
  for (int i = 0; i < 12; i++) assert_near(t.actual[i], wantw[i], 0);
  tsr__report_tracking_release(&t);
  tsr_ledger_free(lg);
}

/* ------------------------------------------------------------ KPIs and JSON */

/* Six customers, a hostile id and no model: KPIs by hand. */
static const char TX2[] =
    "customer_id,date,amount\n"
    "c1,2024-01-01,100\n"
    "c1,2024-02-01,50\n"
    "c1,2024-02-01,25\n" /* same day: one visit, two purchases */
    "c2,2024-01-15,10\n"
    "c3,2024-03-01,40\n"
    "c3,2024-04-01,40\n"
    "c4,2024-05-01,5\n"
    "c5,2024-05-10,1\n"
    "\"</script><b>&'x\",2024-06-01,300\n";

static tsr_analyze_result *analyze_small(const char *path) {
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  const char *in[1] = {path};
  o.inputs = in;
  o.n_inputs = 1;
  o.model = "none";
  o.cluster = "none";
  tsr_analyze_result *r = NULL;
  tsr_error err;
  tsr_status st = tsr_analyze_run(&o, NULL, &r, &err);
  if (st != TSR_OK) fail_msg("analyze: %s", err.msg);
  return r;
}

static double num(json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }

static void test_kpis_json(void **state) {
  (void)state;
  char path[64];
  tsr_test_tmpfile(TX2, sizeof TX2 - 1, path, sizeof path);
  tsr_analyze_result *r = analyze_small(path);
  char *js = NULL;
  assert_int_equal(tsr_report_data_json(r, NULL, &js, NULL), TSR_OK);
  json_error_t je;
  json_t *d = json_loads(js, 0, &je);
  assert_non_null(d);
  assert_string_equal(json_string_value(json_object_get(d, "format")), "tessera-report");
  json_t *k = json_object_get(d, "kpis");
  assert_near(num(k, "customers"), 6, 0);
  assert_near(num(k, "transactions"), 9, 0);
  assert_near(num(k, "visits"), 8, 0);
  assert_near(num(k, "revenue"), 571, 1e-9);
  /* top 20% = ceil(6 / 5) = 2 customers: 300 + 175 */
  assert_near(num(k, "top20_revenue_share"), 475.0 / 571, 1e-9);
  assert_near(num(k, "repeat_share"), 2.0 / 6, 1e-12);
  assert_string_equal(json_string_value(json_object_get(k, "first_purchase")), "2024-01-01");
  assert_string_equal(json_string_value(json_object_get(k, "last_purchase")), "2024-06-01");
  assert_true(json_is_null(json_object_get(k, "churn_rate")));
  /* segments add up to the base */
  double cust = 0, rev = 0, share = 0;
  json_t *s;
  size_t i;
  json_array_foreach(json_object_get(d, "segments"), i, s) {
    cust += num(s, "customers");
    rev += num(s, "revenue");
    share += num(s, "revenue_share");
  }
  assert_near(cust, 6, 0);
  assert_near(rev, 571, 1e-9);
  assert_near(share, 1, 1e-12);
  /* Pareto: the top customer (300) is 1/6 of the base */
  json_t *p = json_object_get(json_object_get(d, "pareto"), "revenue_share");
  assert_int_equal(json_array_size(p), 101);
  assert_near(json_number_value(json_array_get(p, 100)), 1, 1e-12);
  assert_near(json_number_value(json_array_get(p, 10)), 300.0 / 571, 1e-12); /* ceil(0.6) = 1 */
  /* monthly joins: Jan 2, Feb 0, Mar 1, Apr 0, May 2, Jun 1 */
  json_t *mo = json_object_get(d, "monthly");
  double jw[] = {2, 0, 1, 0, 2, 1};
  assert_int_equal(json_array_size(json_object_get(mo, "joins")), 6);
  for (size_t m = 0; m < 6; m++) assert_near(json_number_value(json_array_get(json_object_get(mo, "joins"), m)), jw[m], 0);
  assert_string_equal(json_string_value(json_array_get(json_object_get(mo, "months"), 0)), "2024-01");
  /* the top customer by revenue (no spend model) is the hostile id, intact */
  json_t *top = json_array_get(json_object_get(d, "top_customers"), 0);
  assert_string_equal(json_string_value(json_object_get(top, "customer_id")), "</script><b>&'x");
  assert_null(json_object_get(d, "model"));
  /* R x F mean spend: count x mean spend over the cells gives back the
   * whole revenue (every customer has an R and an F score) */
  json_t *rfm = json_object_get(d, "rfm");
  json_t *cnt = json_object_get(rfm, "count"), *msp = json_object_get(rfm, "mean_spend");
  double tot = 0, n_cells = 0;
  for (size_t a = 0; a < json_array_size(cnt); a++)
    for (size_t b = 0; b < json_array_size(json_array_get(cnt, a)); b++) {
      double c = json_number_value(json_array_get(json_array_get(cnt, a), b));
      if (c > 0) tot += c * json_number_value(json_array_get(json_array_get(msp, a), b)), n_cells++;
      else assert_true(json_is_null(json_array_get(json_array_get(msp, a), b)));
    }
  assert_true(n_cells >= 2);
  assert_near(tot, 571, 1e-9);
  /* no currency column, no option: amounts in amount units */
  assert_true(json_is_null(json_object_get(json_object_get(d, "meta"), "currency")));
  json_decref(d);
  tsr_report_opts ro;
  tsr_report_opts_init(&ro);
  ro.currency = "JPY";
  char *js2 = NULL;
  assert_int_equal(tsr_report_data_json(r, &ro, &js2, NULL), TSR_OK);
  d = json_loads(js2, 0, NULL);
  assert_string_equal(json_string_value(json_object_get(json_object_get(d, "meta"), "currency")), "JPY");
  json_decref(d);
  free(js2);

  /* the HTML: the id appears only escaped; the data parses back */
  char html[128];
  snprintf(html, sizeof html, "%s.html", path);
  assert_int_equal(tsr_report_html_write(js, "a <title> & \"quotes\"", html, NULL), TSR_OK);
  FILE *f = fopen(html, "rb");
  assert_non_null(f);
  static char buf[1 << 22];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  assert_null(strstr(buf, "</script><b>"));
  assert_null(strstr(buf, "<b>&"));
  assert_non_null(strstr(buf, "\\u003c/script\\u003e\\u003cb\\u003e\\u0026'x"));
  assert_non_null(strstr(buf, "<title>a &lt;title&gt; &amp; &quot;quotes&quot;</title>"));
  assert_null(strstr(buf, "src=\"http"));
  assert_null(strstr(buf, "href=\"http"));
  /* every script element closes where it should: as many "</script" as "<script" */
  size_t open = 0, close = 0;
  for (const char *q = buf; (q = strstr(q, "<script")); q++) open++;
  for (const char *q = buf; (q = strstr(q, "</script")); q++) close++;
  assert_int_equal(open, close);
  unlink(html);
  free(js);
  tsr_analyze_result_free(r);
  unlink(path);
}

static void test_opts_checked(void **state) {
  (void)state;
  char path[64];
  tsr_test_tmpfile(TX2, sizeof TX2 - 1, path, sizeof path);
  tsr_analyze_result *r = analyze_small(path);
  tsr_report_opts o;
  tsr_report_opts_init(&o);
  o.churn_threshold = 1.5;
  char *js = NULL;
  tsr_error err;
  assert_int_equal(tsr_report_data_json(r, &o, &js, &err), TSR_EINVAL);
  assert_string_equal(err.field, "churn_threshold");
  tsr_report_opts_init(&o);
  o.top_n = 0;
  assert_int_equal(tsr_report_data_json(r, &o, &js, &err), TSR_EINVAL);
  assert_null(js);
  tsr_analyze_result_free(r);
  unlink(path);
}

/* Every allocation of the JSON builder may fail: ENOMEM, no leak, no crash. */
static void test_alloc_failures(void **state) {
  (void)state;
  char path[64];
  tsr_test_tmpfile(TX2, sizeof TX2 - 1, path, sizeof path);
  tsr_analyze_result *r = analyze_small(path);
  int ok = 0;
  for (long k = 0; k < 200 && !ok; k++) {
    char *js = NULL;
    tsr__alloc_fail_after(k);
    tsr_status st = tsr_report_data_json(r, NULL, &js, NULL);
    tsr__alloc_fail_after(-1);
    if (st == TSR_OK) {
      ok = 1;
      free(js);
    } else {
      assert_int_equal(st, TSR_ENOMEM);
      assert_null(js);
    }
  }
  assert_true(ok);
  tsr_analyze_result_free(r);
  unlink(path);
}


/* A hand-made column view with a model, clusters and a ledger: the
 * at-risk ranking, cluster sizes and every section under allocation
 * failures. */
static void fill_src(tsr__report_src *s, tsr_ledger *lg) {
  assert_int_equal(tsr__report_src_alloc(s, 4, 0, NULL), TSR_OK);
  static const char *ids[4] = {"a", "b", "c", "d"};
  static const char *segs[4] = {"x", "y", "x", "y"};
  static int cl[4] = {0, 1, 0, -1};
  double f[4] = {0, 3, 1, 5}, rec[4] = {0, 20, 5, 30}, T[4] = {40, 40, 30, 35};
  double mon[4] = {0, 20, 10, 50}, rev[4] = {10, 100, 30, 400}, pa[4] = {1, 0.2, 0.4, 0.9};
  s->cluster = tsr__malloc(4 * sizeof *s->cluster);
  assert_non_null(s->cluster);
  for (int i = 0; i < 4; i++) {
    s->id[i] = ids[i];
    s->segment[i] = segs[i];
    s->cluster[i] = cl[i];
    s->frequency[i] = f[i];
    s->recency[i] = rec[i];
    s->T[i] = T[i];
    s->monetary[i] = mon[i];
    s->revenue[i] = rev[i];
    s->n_tx[i] = f[i] + 1;
    s->active_days[i] = f[i] + 1;
    s->first_day[i] = tsr_days_from_civil(2024, 1, 1 + (unsigned)i);
    s->last_day[i] = tsr_days_from_civil(2024, 2, 1 + (unsigned)i);
    s->r[i] = 1 + i;
    s->f[i] = 2 + i;
    s->m[i] = 1;
    s->p_alive[i] = pa[i];
    s->expected[i] = 2 * pa[i];
  }
  s->n_clusters = 2;
  s->has_model = 1;
  s->model = bgnbd();
  s->period_days = 7;
  s->horizon_periods = 10;
  s->ledger = lg;
  s->freq = TSR_FREQ_D;
  s->end_day = tsr_days_from_civil(2024, 1, 12);
  s->cal_end_day = TSR_DAY_NONE;
}

static void test_sections_by_hand(void **state) {
  (void)state;
  tsr_ledger *lg = ledger();
  tsr__report_src s;
  memset(&s, 0, sizeof s);
  fill_src(&s, lg);
  tsr_report_opts o;
  tsr_report_opts_init(&o);
  char *js = NULL;
  assert_int_equal(tsr__report_json(&s, &o, &js, NULL), TSR_OK);
  json_t *d = json_loads(js, 0, NULL);
  assert_non_null(d);
  /* at risk: P(alive) < 0.5 (b, c), by revenue x (1 - P(alive)): b 80, c 18 */
  json_t *ar = json_object_get(d, "at_risk");
  assert_int_equal(json_array_size(ar), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(ar, 0), "customer_id")), "b");
  assert_near(num(json_array_get(ar, 0), "revenue_at_risk"), 80, 1e-12);
  assert_near(num(json_array_get(ar, 1), "revenue_at_risk"), 18, 1e-12);
  /* top by revenue without a spend model: d, b, c, a */
  json_t *top = json_object_get(d, "top_customers");
  assert_string_equal(json_string_value(json_object_get(json_array_get(top, 0), "customer_id")), "d");
  assert_string_equal(json_string_value(json_object_get(json_array_get(top, 3), "customer_id")), "a");
  /* churn per segment: x = {a 1.0, c 0.4} -> 1/2; y = {b 0.2, d 0.9} -> 1/2 */
  json_t *sg = json_array_get(json_object_get(d, "segments"), 0);
  assert_string_equal(json_string_value(json_object_get(sg, "segment")), "x");
  assert_near(num(sg, "churn_rate"), 0.5, 0);
  assert_near(num(sg, "revenue"), 40, 0);
  /* top 20 % of segment x = ceil(2 / 5) = 1 customer: c, 30 of 40 */
  assert_near(num(sg, "top20_revenue_share"), 0.75, 1e-12);
  assert_near(num(json_object_get(d, "kpis"), "churn_rate"), 0.5, 0);
  /* clusters: 0 = {a, c}, 1 = {b}, noise = {d}; mean revenue of cluster 0 = 20 */
  json_t *cs = json_object_get(json_object_get(d, "clusters"), "clusters");
  assert_int_equal(json_array_size(cs), 3);
  assert_near(num(json_array_get(cs, 0), "size"), 2, 0);
  assert_near(json_number_value(json_array_get(json_object_get(json_array_get(cs, 0), "mean"), 4)), 20, 0);
  assert_near(num(json_array_get(cs, 2), "id"), -1, 0);
  /* leavers: last purchase in 2024-02 of b and c */
  json_t *lv = json_object_get(json_object_get(d, "monthly"), "leavers");
  assert_near(json_number_value(json_array_get(lv, 1)), 2, 0);
  /* tracking: 3 repeat purchases of A and B by Jan 12 */
  json_t *tr = json_object_get(d, "tracking");
  json_t *ac = json_object_get(tr, "actual_cumulative");
  assert_near(json_number_value(json_array_get(ac, json_array_size(ac) - 1)), 3, 0);
  json_decref(d);
  free(js);
  /* every allocation failing in turn */
  int ok = 0;
  for (long k = 0; k < 400 && !ok; k++) {
    tsr__alloc_fail_after(k);
    tsr_status st = tsr__report_json(&s, &o, &js, NULL);
    tsr__alloc_fail_after(-1);
    if (st == TSR_OK) {
      ok = 1;
      free(js);
    } else {
      assert_int_equal(st, TSR_ENOMEM);
    }
  }
  assert_true(ok);
  tsr__report_src_release(&s);
  tsr_ledger_free(lg);
}


/* A stored run's report data equals the report data of the run itself
 * (the web dashboard and the file report agree), tracking included since
 * the input is still there; the holdout section is the one difference. */
static void test_stored_equals_result(void **state) {
  (void)state;
  char tx[64], db[96];
  snprintf(tx, sizeof tx, "/tmp/tsr_rep_XXXXXX");
  int fd = mkstemp(tx);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  tsr_simulate_opts so;
  tsr_simulate_opts_init(&so);
  so.customers = 400;
  so.seed = 9;
  assert_int_equal(tsr_simulate_write(f, &so, NULL), TSR_OK);
  fclose(f);
  snprintf(db, sizeof db, "%s.db", tx);
  tsr_store *st = NULL;
  assert_int_equal(tsr_store_open(db, TSR_STORE_CREATE, &st, NULL), TSR_OK);
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  const char *in[1] = {tx};
  o.inputs = in;
  o.n_inputs = 1;
  o.cluster_opts.k = 2;
  o.summary.cal_end_day = tsr_days_from_civil(2025, 6, 30);
  tsr_analyze_result *r = NULL;
  tsr_error err;
  if (tsr_analyze_run(&o, st, &r, &err) != TSR_OK) fail_msg("analyze: %s", err.msg);
  tsr_report_opts ro;
  tsr_report_opts_init(&ro);
  ro.store = st;
  ro.source = tx;
  char *a = NULL, *b = NULL;
  assert_int_equal(tsr_report_data_json(r, &ro, &a, NULL), TSR_OK);
  assert_int_equal(tsr_report_data_json_stored(st, r->run_id, &ro, &b, NULL), TSR_OK);
  json_t *ja = json_loads(a, 0, NULL), *jb2 = json_loads(b, 0, NULL);
  assert_non_null(ja);
  assert_non_null(jb2);
  const char *same[] = {"kpis", "pareto", "monthly", "distributions", "correlation",
                        "frequency_monetary", "rfm", "model", "tracking", "top_customers",
                        "at_risk"};
  for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
    json_t *x = json_object_get(ja, same[i]), *y = json_object_get(jb2, same[i]);
    if (!x || !json_equal(x, y)) fail_msg("section %s differs between the run and the stored run", same[i]);
  }
  assert_non_null(json_object_get(ja, "holdout"));
  assert_null(json_object_get(jb2, "holdout"));
  /* with no_input the tracking plots are left out */
  free(b);
  ro.no_input = 1;
  assert_int_equal(tsr_report_data_json_stored(st, r->run_id, &ro, &b, NULL), TSR_OK);
  json_decref(jb2);
  jb2 = json_loads(b, 0, NULL);
  assert_null(json_object_get(jb2, "tracking"));
  /* a missing run */
  free(b);
  b = NULL;
  assert_int_equal(tsr_report_data_json_stored(st, 999, &ro, &b, &err), TSR_ENOTFOUND);
  json_decref(ja);
  json_decref(jb2);
  free(a);
  tsr_analyze_result_free(r);
  tsr_store_close(st);
  unlink(tx);
  unlink(db);
  char side[128];
  snprintf(side, sizeof side, "%s-wal", db);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", db);
  unlink(side);
}

static void test_assets(void **state) {
  (void)state;
  size_t n = 0;
  const char *js = tsr_report_asset("report.js", &n);
  assert_true(n > 1000);
  assert_non_null(strstr(js, "TesseraReport"));
  tsr_report_asset("report.css", &n);
  assert_true(n > 100);
  tsr_report_asset("no-such-asset", &n);
  assert_int_equal(n, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hist_integer_bins), cmocka_unit_test(test_hist_linear_bins),
      cmocka_unit_test(test_hist_log_bins),     cmocka_unit_test(test_skewed),
      cmocka_unit_test(test_hist_whole_number_bins),
      cmocka_unit_test(test_pearson_spearman),  cmocka_unit_test(test_rf_matrix),
      cmocka_unit_test(test_pareto),            cmocka_unit_test(test_repeat_hist),
      cmocka_unit_test(test_fr_matrix),         cmocka_unit_test(test_tracking),
      cmocka_unit_test(test_kpis_json),         cmocka_unit_test(test_opts_checked),
      cmocka_unit_test(test_alloc_failures),    cmocka_unit_test(test_sections_by_hand),
      cmocka_unit_test(test_stored_equals_result), cmocka_unit_test(test_assets),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
