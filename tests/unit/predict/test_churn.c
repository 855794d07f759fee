/*
 * test_churn.c - churn by XGBoost (tessera/churn.h): beats the BG/NBD
 * P(alive) baseline on a simulated bundle, no leakage past the cutoff,
 * reasons, transactions-only input, errors.
 */
#include "tsr_test.h"
#include "predict_sim.h"
#include "tessera/bundle.h"
#include "predict/predict_internal.h"

#include <sys/stat.h>

static char g_dir[256];

static int setup(void **state) {
  (void)state;
  return psim_setup(g_dir, sizeof g_dir, "tsr_churn_", 4000, 2024);
}

static int teardown(void **state) {
  (void)state;
  psim_remove(g_dir);
  return 0;
}

static int64_t day(int y, unsigned m, unsigned d) { return tsr_days_from_civil(y, m, d); }

static void test_beats_p_alive(void **state) {
  (void)state;
  tsr_churn_opts o;
  tsr_churn_opts_init(&o);
  o.cal_end_day = day(2025, 6, 30);
  o.window_days = 90;
  o.gbm.threads = 1;
  tsr_churn_result *r = NULL;
  tsr_error err;
  tsr_status st = tsr_churn_run(g_dir, &o, &r, &err);
  if (st != TSR_OK) fail_msg("%s", err.msg);
  assert_int_equal(r->n_methods, 3);
  assert_true(r->has_customers && r->has_products && r->has_interactions);
  const tsr_eval_binary *m = &r->eval[0].m, *pa = &r->eval[1].m, *pz = &r->eval[2].m;
  print_message("churn rate %.3f, test %zu: AUC %.4f vs p_alive %.4f / p_zero %.4f; "
                "PR-AUC %.4f vs %.4f; Brier %.4f vs %.4f; lift %.2f vs %.2f\n",
                r->churn_rate, r->n_test, m->auc, pa->auc, pz->auc, m->pr_auc, pa->pr_auc,
                m->brier, pz->brier, m->lift_top10, pa->lift_top10);
  /* complaints and product closures carry signal BG/NBD cannot see */
  if (!(m->auc > pa->auc + 0.03)) fail_msg("AUC %.4f not above P(alive) %.4f + 0.03", m->auc, pa->auc);
  if (!(m->auc > pz->auc + 0.02)) fail_msg("AUC %.4f not above P(zero) %.4f + 0.02", m->auc, pz->auc);
  if (!(m->pr_auc > pa->pr_auc)) fail_msg("PR-AUC %.4f <= %.4f", m->pr_auc, pa->pr_auc);
  if (!(m->brier < pz->brier)) fail_msg("Brier %.4f >= %.4f", m->brier, pz->brier);
  /* calibrated: mean prediction near the observed churn rate on test */
  double sp = 0, so = 0;
  size_t nn = 0;
  for (int b = 0; b < TSR_CHURN_REL_BINS; b++) {
    nn += r->reliability[b].n;
    if (r->reliability[b].n) {
      sp += r->reliability[b].mean_pred * (double)r->reliability[b].n;
      so += r->reliability[b].observed * (double)r->reliability[b].n;
    }
  }
  assert_int_equal(nn, r->n_test);
  assert_near(sp / (double)nn, so / (double)nn, 0.03);
  /* present scoring: every customer, probabilities in [0,1], reasons */
  assert_int_equal(r->n, 4000 - 0);
  size_t with_complaint_reason = 0;
  char buf[128];
  for (size_t i = 0; i < r->n; i++) {
    assert_true(r->probability[i] >= 0 && r->probability[i] <= 1);
    tsr_churn_reason(r, i, 0, buf, sizeof buf);
    if (strstr(buf, "complain")) with_complaint_reason++;
  }
  assert_true(with_complaint_reason > 20);
  assert_non_null(r->model_json);
  assert_non_null(strstr(r->model_json, "\"format\":\"tessera-churn\""));
  /* recency matters most or close to it */
  double maximp = 0;
  for (size_t j = 0; j < r->nfeat; j++) if (r->importance[j] > maximp) maximp = r->importance[j];
  assert_true(r->importance[TSR__F_COMPLAINTS90] + r->importance[TSR__F_SINCE_COMPLAINT] > 0.05 * maximp);
  /* churn.csv: churn_probability is printf's "%.4f" of every probability */
  char *csv = NULL;
  size_t ncsv = 0;
  FILE *f = open_memstream(&csv, &ncsv);
  assert_int_equal(tsr_churn_write_csv(r, f, NULL), TSR_OK);
  fclose(f);
  const char *line = strchr(csv, '\n') + 1;
  for (size_t i = 0; i < r->n; i++) {
    char want[600];
    int k = snprintf(want, sizeof want, "%s,%.4f,", r->customer_id[i], r->probability[i]);
    if (strncmp(line, want, (size_t)k) != 0) fail_msg("churn.csv row %zu: %.40s, want %s", i, line, want);
    line = strchr(line, '\n') + 1;
  }
  free(csv);
  char *js = NULL;
  assert_int_equal(tsr_churn_eval_json(r, &js, NULL), TSR_OK);
  assert_non_null(strstr(js, "\"btyd_p_alive\":{"));
  free(js);
  tsr_churn_result_free(r);
}

/* Features at a cutoff do not change when rows after it change. */
static void test_no_leakage(void **state) {
  (void)state;
  char dir2[256];
  assert_int_equal(psim_mkdir(dir2, sizeof dir2, "tsr_churn2_"), 0);
  int32_t C = (int32_t)day(2025, 3, 31);
  /* copy the bundle, altering every row after C and adding new ones */
  const char *files[4] = {"transactions.csv", "customers.csv", "products_events.csv", "interactions.csv"};
  for (int k = 0; k < 4; k++) {
    char a[512], b[512], line[1024];
    snprintf(a, sizeof a, "%s/%s", g_dir, files[k]);
    snprintf(b, sizeof b, "%s/%s", dir2, files[k]);
    FILE *in = fopen(a, "r"), *out = fopen(b, "w");
    assert_non_null(in);
    assert_non_null(out);
    long ln = 0;
    while (fgets(line, sizeof line, in)) {
      ln++;
      char *c1 = strchr(line, ',');
      int64_t e = 0;
      int after = ln > 1 && k != 1 && c1 &&
                  tsr_datetime_parse(c1 + 1, 10, NULL, &e) == TSR_OK && e / 86400 > C;
      if (!after) { fputs(line, out); continue; }
      if (k == 0) { /* another amount, and an extra purchase a week later */
        char id[64];
        size_t l = (size_t)(c1 - line);
        memcpy(id, line, l);
        id[l] = 0;
        char d[16];
        fprintf(out, "%s,%s,999.99\n", id, tsr_day_format(e / 86400, d));
        if (e / 86400 + 7 < C + 400) fprintf(out, "%s,%s,5.00\n", id, tsr_day_format(e / 86400 + 7, d));
      } else if (k == 3) { /* every later contact becomes a complaint */
        char id[64];
        size_t l = (size_t)(c1 - line);
        memcpy(id, line, l);
        id[l] = 0;
        char d[16];
        fprintf(out, "%s,%s,phone,complaint\n", id, tsr_day_format(e / 86400, d));
      } /* k == 2: later product events dropped */
    }
    /* a customer present before C gets events after it */
    if (k == 2) fprintf(out, "C1,%s,mortgage,open\n", "2025-05-01");
    if (k == 3) fprintf(out, "C1,2025-05-02,chat,complaint\n");
    fclose(in);
    fclose(out);
  }
  tsr__pdata d1, d2;
  assert_int_equal(tsr__pdata_read(g_dir, NULL, NULL, &d1, NULL), TSR_OK);
  assert_int_equal(tsr__pdata_read(dir2, NULL, NULL, &d2, NULL), TSR_OK);
  assert_int_equal(d1.n, d2.n);
  size_t n = d1.n;
  float *x1 = malloc(n * TSR__NFEAT * sizeof *x1), *x2 = malloc(n * TSR__NFEAT * sizeof *x2);
  uint8_t *a1 = malloc(n), *a2 = malloc(n);
  int h1, h2;
  assert_int_equal(tsr__churn_features(&d1, C, 90, x1, a1, NULL, &h1, NULL), TSR_OK);
  assert_int_equal(tsr__churn_features(&d2, C, 90, x2, a2, NULL, &h2, NULL), TSR_OK);
  assert_int_equal(h1, 1);
  assert_int_equal(h2, 1);
  size_t changed_labels = 0, nactive = 0;
  for (size_t i = 0; i < n; i++) {
    assert_string_equal(tsr_ledger_customer(d1.lg, i), tsr_ledger_customer(d2.lg, i));
    assert_int_equal(a1[i], a2[i]);
    nactive += a1[i];
    for (int j = 0; j < TSR__NFEAT; j++) {
      float u = x1[i * TSR__NFEAT + j], v = x2[i * TSR__NFEAT + j];
      char fb[160];
      if (!(u == v || (isnan(u) && isnan(v))))
        fail_msg("customer %s feature %s: %g before, %g after changing later rows",
                 tsr_ledger_customer(d1.lg, i), tsr__churn_feature_label(&d1, j, fb, sizeof fb),
                 (double)u, (double)v);
    }
    if (a1[i]) changed_labels += tsr__churn_label(&d1, i, C, 90) != tsr__churn_label(&d2, i, C, 90);
  }
  /* ... while the labels, which look after the cutoff, did change */
  assert_true(nactive > 1000);
  assert_true(changed_labels > 10);
  free(x1); free(x2); free(a1); free(a2);
  tsr__pdata_release(&d1);
  tsr__pdata_release(&d2);
  psim_remove(dir2);
}

static void test_transactions_only_cdnow(void **state) {
  (void)state;
  char path[512];
  tsr_test_data("cdnow/cdnow_master.csv", path, sizeof path);
  tsr_churn_opts o;
  tsr_churn_opts_init(&o);
  o.cal_end_day = day(1997, 9, 30);
  o.gbm.threads = 1;
  tsr_churn_result *r = NULL;
  tsr_error err;
  tsr_status st = tsr_churn_run(path, &o, &r, &err);
  if (st != TSR_OK) fail_msg("%s", err.msg);
  assert_false(r->has_customers || r->has_products || r->has_interactions);
  assert_int_equal(r->window_days, day(1998, 6, 30) - day(1997, 9, 30));
  assert_int_equal(r->n_learn + r->n_test, 23570);
  print_message("CDNOW: churn rate %.3f, AUC %.4f vs p_alive %.4f, p_zero %.4f\n", r->churn_rate,
                r->eval[0].m.auc, r->eval[1].m.auc, r->eval[2].m.auc);
  /* purchase history alone: at least as good as BG/NBD, within noise */
  assert_true(r->eval[0].m.auc > r->eval[1].m.auc - 0.01);
  assert_true(r->eval[0].m.auc > 0.7);
  assert_int_equal(r->n, 23570);
  assert_true(isnan(r->importance[TSR__F_COMPLAINTS90]) || r->importance[TSR__F_COMPLAINTS90] == 0);
  tsr_churn_result_free(r);
}

/* The bundle simulator of tessera simulate --bundle (dropout driven by
 * satisfaction, which also colours the sparse interactions). */
static void test_simulate_bundle(void **state) {
  (void)state;
  char dir[256];
  assert_int_equal(psim_mkdir(dir, sizeof dir, "tsr_churn3_"), 0);
  tsr_bundle_sim_opts so;
  tsr_bundle_sim_opts_init(&so);
  so.customers = 8000;
  so.seed = 5;
  tsr_error err;
  assert_int_equal(tsr_bundle_simulate(&so, dir, NULL, NULL, &err), TSR_OK);
  tsr_churn_opts o;
  tsr_churn_opts_init(&o);
  o.cal_end_day = day(2025, 6, 30);
  o.window_days = 180;
  o.gbm.threads = 1;
  o.score = 0;
  tsr_churn_result *r = NULL;
  tsr_status st = tsr_churn_run(dir, &o, &r, &err);
  if (st != TSR_OK) fail_msg("%s", err.msg);
  assert_int_equal(r->n_methods, 3);
  assert_int_equal(r->n, 0);
  print_message("simulate --bundle: churn rate %.3f, test %zu: AUC %.4f vs p_alive %.4f / p_zero %.4f; "
                "Brier %.4f vs %.4f\n", r->churn_rate, r->n_test, r->eval[0].m.auc,
                r->eval[1].m.auc, r->eval[2].m.auc, r->eval[0].m.brier, r->eval[2].m.brier);
  /* sentiment, product tenure and product events carry what BG/NBD's
   * P(no purchase) cannot see (measured 0.8432 vs 0.8361) */
  if (!(r->eval[0].m.auc > r->eval[1].m.auc + 0.1)) fail_msg("AUC not above P(alive) + 0.1");
  if (!(r->eval[0].m.auc > r->eval[2].m.auc + 0.005))
    fail_msg("AUC %.4f not above P(no purchase) %.4f + 0.005", r->eval[0].m.auc, r->eval[2].m.auc);
  if (!(r->eval[0].m.pr_auc > r->eval[2].m.pr_auc + 0.01)) fail_msg("PR-AUC not above P(no purchase) + 0.01");
  if (!(r->eval[0].m.brier < r->eval[2].m.brier)) fail_msg("Brier not below P(no purchase)'s");
  if (!(r->eval[0].m.lift_top10 > r->eval[2].m.lift_top10)) fail_msg("top-decile lift not above P(no purchase)'s");
  /* the evaluation JSON of the contract: roc and decile lift per method */
  char *js = NULL;
  assert_int_equal(tsr_churn_eval_json(r, &js, NULL), TSR_OK);
  assert_non_null(strstr(js, "\"roc\":{\"xgboost\":[[0,0],"));
  assert_non_null(strstr(js, "\"lift\":{\"xgboost\":["));
  assert_non_null(strstr(js, "\"days_held_current_account\":"));
  free(js);
  const tsr_eval_binary *m = &r->eval[0].m;
  assert_true(m->n_roc >= 10 && m->n_roc <= TSR_EVAL_ROC_POINTS);
  assert_true(m->roc[m->n_roc - 1][0] == 1.0 && m->roc[m->n_roc - 1][1] == 1.0);
  for (size_t q = 1; q < m->n_roc; q++) assert_true(m->roc[q][0] >= m->roc[q - 1][0] && m->roc[q][1] >= m->roc[q - 1][1]);
  assert_near(m->decile_lift[0], m->lift_top10, 0.2);
  double mean_lift = 0;
  for (int q = 0; q < 10; q++) mean_lift += m->decile_lift[q] / 10;
  assert_near(mean_lift, 1.0, 0.02);
  assert_true(m->decile_lift[0] > m->decile_lift[9]);
  tsr_churn_result_free(r);
  psim_remove(dir);
}

/* One fit per cutoff: with C = E - W the evaluation's model scores (the
 * same fit: rows, rounds, validation loss) when one_fit = 1; two fits with
 * one_fit = 0, with -1 on data under 100k customers, and whenever C is not
 * E - W. */
static void test_one_fit_per_cutoff(void **state) {
  (void)state;
  tsr_churn_opts o;
  tsr_churn_opts_init(&o);
  assert_int_equal(o.one_fit, -1);
  o.cal_end_day = day(2025, 9, 30); /* the last day is 2025-12-30: C = E - W */
  o.gbm.threads = 1;
  tsr_churn_result *r[3] = {NULL, NULL, NULL};
  tsr_error err;
  for (int k = 0; k < 3; k++) {
    o.one_fit = k - 1;
    if (tsr_churn_run(g_dir, &o, &r[k], &err) != TSR_OK) fail_msg("one_fit %d: %s", k - 1, err.msg);
    assert_int_equal(r[k]->score_cutoff_day, r[k]->cal_end_day);
  }
  /* one fit: the scoring model is the evaluation's */
  const tsr_gbm_info *e = &r[2]->eval_info, *s = &r[2]->score_info;
  assert_int_equal(s->n_train, e->n_train);
  assert_int_equal(s->n_valid, e->n_valid);
  assert_int_equal(s->rounds, e->rounds);
  assert_true(s->best_valid_loss == e->best_valid_loss);
  /* two fits: the scoring model learns on all customers; auto = two here */
  for (int k = 0; k < 2; k++) {
    assert_true(r[k]->score_info.n_train > r[k]->eval_info.n_train);
    assert_int_equal(r[k]->n, r[2]->n);
  }
  size_t diff = 0;
  for (size_t i = 0; i < r[0]->n; i++) {
    assert_true(r[0]->probability[i] == r[1]->probability[i]);
    diff += r[0]->probability[i] != r[2]->probability[i];
  }
  if (!(diff > r[0]->n / 10)) fail_msg("%zu of %zu probabilities differ", diff, r[0]->n);
  assert_true(strcmp(r[0]->model_json, r[2]->model_json) != 0);
  assert_true(r[2]->eval[0].m.auc == r[0]->eval[0].m.auc); /* the same evaluation */
  for (int k = 0; k < 3; k++) tsr_churn_result_free(r[k]);
  /* another cutoff: two fits even with one_fit = 1 */
  o.one_fit = 1;
  o.cal_end_day = day(2025, 6, 30);
  o.window_days = 90;
  tsr_churn_result *q = NULL;
  if (tsr_churn_run(g_dir, &o, &q, &err) != TSR_OK) fail_msg("%s", err.msg);
  assert_true(q->score_info.n_train > q->eval_info.n_train);
  tsr_churn_result_free(q);
  o.one_fit = 2;
  assert_int_equal(tsr_churn_run(g_dir, &o, &q, &err), TSR_EINVAL);
  assert_string_equal(err.field, "one_fit");
}

/* tsr__churn_sample_learn: max of the learning customers, each class its
 * rounded share, a subset in learn's order, the same for the same seed and
 * another for another; untouched at or below max and with max = 0. */
static void test_sample_learn(void **state) {
  (void)state;
  size_t nl = 10000, n = 2 * nl, *learn = malloc(nl * sizeof *learn);
  size_t *a = malloc(nl * sizeof *a), *b = malloc(nl * sizeof *b), na, nb;
  float *y = malloc(n * sizeof *y);
  for (size_t i = 0; i < n; i++) y[i] = (i % 10) < 3 ? 1.0f : 0.0f; /* 30 % churned */
  for (size_t k = 0; k < nl; k++) learn[k] = 2 * k + (k % 3 == 0); /* every other customer */
  size_t n1 = 0;
  for (size_t k = 0; k < nl; k++) n1 += y[learn[k]] == 1.0f;
  assert_int_equal(tsr__churn_sample_learn(learn, nl, y, 2501, 42, a, &na, NULL), TSR_OK);
  assert_int_equal(na, 2501);
  size_t a1 = 0, at = 0;
  for (size_t k = 0; k < na; k++) {
    a1 += y[a[k]] == 1.0f;
    if (k) assert_true(a[k] > a[k - 1]); /* learn's order, no repeat */
    while (at < nl && learn[at] != a[k]) at++;
    assert_true(at < nl); /* a learning customer */
  }
  size_t want1 = (size_t)floor(2501.0 * (double)n1 / (double)nl + 0.5);
  assert_int_equal(a1, want1);
  assert_int_equal(tsr__churn_sample_learn(learn, nl, y, 2501, 42, b, &nb, NULL), TSR_OK);
  assert_int_equal(nb, na);
  assert_memory_equal(a, b, na * sizeof *a);
  assert_int_equal(tsr__churn_sample_learn(learn, nl, y, 2501, 43, b, &nb, NULL), TSR_OK);
  assert_int_equal(nb, na);
  assert_true(memcmp(a, b, na * sizeof *a) != 0);
  for (int q = 0; q < 2; q++) {
    assert_int_equal(tsr__churn_sample_learn(learn, nl, y, q ? nl : 0, 42, b, &nb, NULL), TSR_OK);
    assert_int_equal(nb, nl);
    assert_memory_equal(learn, b, nl * sizeof *b);
  }
  free(learn); free(a); free(b); free(y);
}

/* max_train_rows: above it a fit learns from that many customers (fit plus
 * early-stopping rows), the test set and the scored customers unchanged;
 * at or above the learning count the result is the uncapped one. */
static void test_max_train_rows(void **state) {
  (void)state;
  tsr_churn_opts o;
  tsr_churn_opts_init(&o);
  assert_int_equal(o.max_train_rows, TSR_CHURN_MAX_TRAIN_ROWS);
  assert_int_equal(TSR_CHURN_MAX_TRAIN_ROWS, 150000); /* docs/predict.md "Training rows" */
  o.cal_end_day = day(2025, 6, 30);
  o.window_days = 90;
  o.gbm.threads = 1;
  tsr_churn_result *r[3] = {NULL, NULL, NULL};
  tsr_error err;
  size_t caps[3] = {0, 1000000, 600};
  for (int k = 0; k < 3; k++) {
    o.max_train_rows = caps[k];
    if (tsr_churn_run(g_dir, &o, &r[k], &err) != TSR_OK) fail_msg("cap %zu: %s", caps[k], err.msg);
  }
  assert_true(r[0]->n_learn > 600);
  assert_int_equal(r[2]->eval_info.n_train + r[2]->eval_info.n_valid, 600);
  assert_int_equal(r[2]->score_info.n_train + r[2]->score_info.n_valid, 600);
  assert_true(r[0]->eval_info.n_train + r[0]->eval_info.n_valid == r[0]->n_learn);
  assert_int_equal(r[2]->n_test, r[0]->n_test);
  assert_int_equal(r[2]->eval[0].m.n, r[0]->eval[0].m.n);
  assert_int_equal(r[2]->n, r[0]->n);
  assert_string_equal(r[0]->model_json, r[1]->model_json);
  assert_true(strcmp(r[0]->model_json, r[2]->model_json) != 0);
  for (size_t i = 0; i < r[0]->n; i++) assert_true(r[0]->probability[i] == r[1]->probability[i]);
  assert_true(r[0]->eval[0].m.auc == r[1]->eval[0].m.auc);
  for (int k = 0; k < 3; k++) tsr_churn_result_free(r[k]);
  o.max_train_rows = 99;
  tsr_churn_result *q = NULL;
  assert_int_equal(tsr_churn_run(g_dir, &o, &q, &err), TSR_EINVAL);
  assert_string_equal(err.field, "max_train_rows");
}

static void test_errors(void **state) {
  (void)state;
  tsr_churn_opts o;
  tsr_churn_opts_init(&o);
  tsr_churn_result *r = NULL;
  tsr_error err;
  o.cal_end_day = day(2030, 1, 1);
  assert_int_equal(tsr_churn_run(g_dir, &o, &r, &err), TSR_EINVAL);
  assert_null(r);
  assert_string_equal(err.msg, "2030-01-01 is outside the data: expected a day from 2024-01-01 to the day before 2025-12-30");
  o.cal_end_day = day(2025, 9, 30);
  o.window_days = 200;
  assert_int_equal(tsr_churn_run(g_dir, &o, &r, &err), TSR_EINVAL);
  assert_string_equal(err.msg, "200 days after 2025-09-30 end after the last transaction day 2025-12-30 (at most 91)");
  o.window_days = 0;
  o.cal_end_day = TSR__NODAY;
  assert_int_equal(tsr_churn_run(g_dir, &o, &r, &err), TSR_EINVAL);
  assert_string_equal(err.field, "calibration_end");
  o.cal_end_day = day(2025, 1, 1);
  assert_int_equal(tsr_churn_run("/nonexistent/dir", &o, &r, &err), TSR_EIO);
  /* too few customers */
  char p[256];
  const char *tx = "customer_id,date,amount\nA,2024-01-01,1\nA,2024-03-01,1\nB,2024-01-05,2\nB,2024-06-01,3\n";
  assert_non_null(tsr_test_tmpfile(tx, strlen(tx), p, sizeof p));
  o.cal_end_day = day(2024, 2, 1);
  assert_int_equal(tsr_churn_run(p, &o, &r, &err), TSR_EINVAL);
  assert_string_equal(err.msg, "too few customers: 2 with a purchase by 2024-02-01, need at least 50");
  unlink(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_beats_p_alive),
      cmocka_unit_test(test_no_leakage),
      cmocka_unit_test(test_transactions_only_cdnow),
      cmocka_unit_test(test_simulate_bundle),
      cmocka_unit_test(test_one_fit_per_cutoff),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_sample_learn),
      cmocka_unit_test(test_max_train_rows),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
