/*
 * test_recommend.c - next-best-product (tessera/recommend.h) on a simulated
 * bundle: beats popularity, respects eligibility and holdings, goals.
 */
#include "tsr_test.h"
#include "predict_sim.h"
#include "predict/recommend_internal.h"

static char g_dir[256];

static int setup(void **state) {
  (void)state;
  return psim_setup(g_dir, sizeof g_dir, "tsr_nbp_", 5000, 77);
}

static int teardown(void **state) {
  (void)state;
  psim_remove(g_dir);
  return 0;
}

static int find_product(const tsr_nbp_result *r, const char *name) {
  for (size_t p = 0; p < r->nprod; p++)
    if (!strcmp(r->products[p], name)) return (int)p;
  return -1;
}

/* the options of the tests that compare runs: cutoff 2025-08-31, a
 * 120-day window, one thread (bit-for-bit comparisons) */
static void test_opts(tsr_nbp_opts *o) {
  tsr_nbp_opts_init(o);
  o->cal_end_day = tsr_days_from_civil(2025, 8, 31);
  o->window_days = 120;
  o->threads = 1;
}

static void test_beats_popularity(void **state) {
  (void)state;
  tsr_nbp_opts o;
  test_opts(&o);
  tsr_nbp_result *r = NULL;
  tsr_error err;
  tsr_status st = tsr_nbp_run(g_dir, &o, &r, &err);
  if (st != TSR_OK) fail_msg("%s", err.msg);
  const tsr_eval_ranking *pop = &r->eval[0], *bl = &r->eval[TSR_NBP_NSCORERS];
  print_message("users %zu; hit@3 blend %.4f pop %.4f cf %.4f als %.4f prop %.4f; NDCG@3 %.4f vs "
                "%.4f; MAP@3 %.4f vs %.4f; weights %.1f %.1f %.1f %.1f\n",
                r->n_eval_users, bl->hit_rate, pop->hit_rate, r->eval[1].hit_rate,
                r->eval[2].hit_rate, r->eval[3].hit_rate, bl->ndcg, pop->ndcg, bl->map, pop->map,
                r->weight[0], r->weight[1], r->weight[2], r->weight[3]);
  assert_true(r->n_eval_users > 100);
  if (!(bl->hit_rate > pop->hit_rate + 0.05)) fail_msg("hit rate %.4f vs popularity %.4f", bl->hit_rate, pop->hit_rate);
  if (!(bl->ndcg > pop->ndcg + 0.03)) fail_msg("NDCG %.4f vs popularity %.4f", bl->ndcg, pop->ndcg);
  assert_true(bl->map > pop->map);
  assert_near(r->weight[0] + r->weight[1] + r->weight[2] + r->weight[3], 1.0, 1e-9);
  /* home insurance follows a mortgage: its propensity model ranks well */
  int home = find_product(r, "home_insurance");
  assert_true(home >= 0);
  if (!(r->product_auc[home] > 0.8)) fail_msg("home_insurance AUC %.4f", r->product_auc[home]);
  /* eligibility against the simulator's customers.csv: business products
   * only for business customers, student accounts for ages 18-25 */
  int bacc = find_product(r, "business_account"), bloan = find_product(r, "business_loan");
  int student = find_product(r, "student_account");
  char path[512], line[256];
  snprintf(path, sizeof path, "%s/customers.csv", g_dir);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  assert_non_null(fgets(line, sizeof line, f));
  size_t with_rec = 0, n_student = 0;
  int64_t E = r->last_day;
  while (fgets(line, sizeof line, f)) {
    char id[32], birth[16], join[16], type[16];
    int inc;
    assert_int_equal(sscanf(line, "%31[^,],%15[^,],%15[^,],%d,%15s", id, birth, join, &inc, type), 5);
    size_t i = 0;
    while (i < r->n && strcmp(r->customer_id[i], id)) i++;
    if (i == r->n) continue; /* no transaction */
    int y;
    unsigned mo, da;
    assert_int_equal(sscanf(birth, "%d-%u-%u", &y, &mo, &da), 3);
    double age = (double)(E - tsr_days_from_civil(y, mo, da)) / 365.25;
    for (size_t j = 0; j < r->top; j++) {
      const tsr_nbp_rec *rc = &r->rec[i * r->top + j];
      if (rc->product < 0) continue;
      with_rec++;
      assert_true(rc->reason[0] != 0);
      if (rc->product == bacc || rc->product == bloan)
        if (strcmp(type, "business")) fail_msg("%s (%s) gets %s", id, type, r->products[rc->product]);
      if (rc->product == student) {
        n_student++;
        if (age < 18 || age >= 26) fail_msg("%s aged %.1f gets a student account", id, age);
      }
      if (j) assert_true(rc->score <= r->rec[i * r->top + j - 1].score);
    }
    for (int g = 0; g < TSR_NBP_NGOALS; g++) assert_true(r->goal[i][g] >= 0 && r->goal[i][g] <= 1);
  }
  fclose(f);
  assert_true(with_rec > r->n);
  /* nbp.csv and the goals: every score is printf's "%.4f" */
  char *csv = NULL, want[600];
  size_t ncsv = 0;
  f = open_memstream(&csv, &ncsv);
  assert_int_equal(tsr_nbp_write_csv(r, f, NULL), TSR_OK);
  fclose(f);
  const char *ln = strchr(csv, '\n') + 1;
  for (size_t i = 0; i < r->n; i++)
    for (size_t j = 0; j < r->top; j++) {
      const tsr_nbp_rec *rc = &r->rec[i * r->top + j];
      if (rc->product < 0) break;
      int k = snprintf(want, sizeof want, "%s,%zu,%s,%.4f,", r->customer_id[i], j + 1,
                       r->products[rc->product], (double)rc->score);
      if (strncmp(ln, want, (size_t)k) != 0) fail_msg("nbp.csv: %.60s, want %s", ln, want);
      ln = strchr(ln, '\n') + 1;
    }
  assert_int_equal(*ln, 0);
  free(csv);
  f = open_memstream(&csv, &ncsv);
  assert_int_equal(tsr_nbp_write_goals_csv(r, f, NULL), TSR_OK);
  fclose(f);
  ln = strchr(csv, '\n') + 1;
  for (size_t i = 0; i < r->n; i++) {
    int k = snprintf(want, sizeof want, "%s", r->customer_id[i]);
    for (int g = 0; g < TSR_NBP_NGOALS; g++)
      k += snprintf(want + k, sizeof want - (size_t)k, ",%.4f", (double)r->goal[i][g]);
    want[k++] = '\n';
    if (strncmp(ln, want, (size_t)k) != 0) fail_msg("goals row %zu: %.60s, want %.*s", i, ln, k, want);
    ln += k;
  }
  free(csv);
  tsr_nbp_result_free(r);
}

static void test_errors(void **state) {
  (void)state;
  tsr_nbp_opts o;
  tsr_nbp_opts_init(&o);
  tsr_nbp_result *r = NULL;
  tsr_error err;
  char path[512];
  tsr_test_data("cdnow/cdnow_master.csv", path, sizeof path);
  o.cal_end_day = tsr_days_from_civil(1997, 9, 30);
  assert_int_equal(tsr_nbp_run(path, &o, &r, &err), TSR_EINVAL);
  assert_non_null(strstr(err.msg, "no product events"));
  o.cal_end_day = tsr_days_from_civil(2024, 6, 30);
  o.window_days = 100;
  assert_int_equal(tsr_nbp_run(g_dir, &o, &r, &err), TSR_EINVAL);
  assert_string_equal(err.msg, "100 days is too long: training and validation need two windows before 2024-06-30, which start on 2023-12-13, before the first transaction day 2024-01-01; use a shorter window or a later calibration end");
  o.top = 0;
  assert_int_equal(tsr_nbp_run(g_dir, &o, &r, &err), TSR_EINVAL);
  assert_null(r);
}

/* Two results the same bit for bit (recommendations, reasons, goals,
 * evaluation). */
static void same_result(const tsr_nbp_result *a, const tsr_nbp_result *b) {
  for (int k = 0; k < TSR_NBP_NSCORERS; k++) assert_true(a->weight[k] == b->weight[k]);
  for (int k = 0; k <= TSR_NBP_NSCORERS; k++)
    assert_memory_equal(&a->eval[k], &b->eval[k], sizeof a->eval[k]);
  assert_memory_equal(a->product_auc, b->product_auc, a->nprod * sizeof *a->product_auc);
  assert_int_equal(a->n, b->n);
  assert_int_equal(a->top, b->top);
  for (size_t i = 0; i < a->n * a->top; i++) {
    const tsr_nbp_rec *x = &a->rec[i], *y = &b->rec[i];
    assert_int_equal(x->product, y->product);
    if (x->product < 0) continue;
    assert_memory_equal(&x->score, &y->score, sizeof x->score);
    assert_string_equal(x->reason, y->reason);
  }
  assert_memory_equal(a->goal, b->goal, a->n * sizeof *a->goal);
}

/* The present's scorers of weight 0 are not computed: the recommendations,
 * reasons and goals are those of computing every scorer, bit for bit; the
 * propensities predicted a few rows at a time (chunks, and a training
 * buffer grown from them, on 3 threads) are those predicted at once on
 * one; buffers filled with
 * garbage before each use (those kept from one cutoff for the next too)
 * give the same result (each use fills them whole); the evaluated users
 * ranked by the general rank_z (ref_rank) give the same weights and
 * metrics. */
static void test_variants_exact(void **state) {
  (void)state;
  tsr_nbp_opts o;
  test_opts(&o);
  tsr_nbp_result *a = NULL, *b = NULL, *c = NULL, *d = NULL;
  tsr_error err;
  tsr__nbp_test all = {1, 0, 0, 0, 0}, small = {0, 7, 0, 3, 0}, poison = {0, 0, 1, 0, 0};
  tsr__nbp_test ref = {0, 0, 0, 0, 1};
  tsr_nbp_result *e = NULL;
  if (tsr__nbp_run(g_dir, &o, &ref, &e, &err) != TSR_OK) fail_msg("%s", err.msg);
  if (tsr__nbp_run(g_dir, &o, &all, &a, &err) != TSR_OK) fail_msg("%s", err.msg);
  if (tsr__nbp_run(g_dir, &o, NULL, &b, &err) != TSR_OK) fail_msg("%s", err.msg);
  if (tsr__nbp_run(g_dir, &o, &small, &c, &err) != TSR_OK) fail_msg("%s", err.msg);
  if (tsr__nbp_run(g_dir, &o, &poison, &d, &err) != TSR_OK) fail_msg("%s", err.msg);
  same_result(a, b);
  same_result(b, c);
  same_result(b, d);
  same_result(b, e);
  tsr_nbp_result_free(e);
  int zero = 0, some = 0;
  for (int k = 0; k < TSR_NBP_NSCORERS; k++) {
    zero += a->weight[k] == 0;
    some += a->weight[k] > 0 && k != 3;
  }
  assert_true(zero > 0); /* something is skipped ... */
  assert_true(some > 0); /* ... and a scorer besides the propensities kept */
  tsr_nbp_result_free(a);
  tsr_nbp_result_free(b);
  tsr_nbp_result_free(c);
  tsr_nbp_result_free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_beats_popularity),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_variants_exact),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
