/*
 * test_gbm.c - the XGBoost wrapper (tessera/gbm.h): learning, determinism
 * across thread counts, SHAP additivity, save/load, early stopping, errors.
 */
#include "tsr_test.h"
#include "predict/gbm_internal.h"

#define NF 4

/* y = 1 when 2*x0 + x1 + noise > 0; x2 pure noise; x3 sometimes missing. */
static void make_binary(size_t n, uint64_t seed, float *x, float *y) {
  tsr_rng g;
  tsr_rng_seed(&g, seed, 1);
  for (size_t i = 0; i < n; i++) {
    double a = tsr_rng_normal(&g), b = tsr_rng_normal(&g), c = tsr_rng_normal(&g);
    double d = tsr_rng_normal(&g);
    x[i * NF + 0] = (float)a;
    x[i * NF + 1] = (float)b;
    x[i * NF + 2] = (float)c;
    x[i * NF + 3] = (i % 5 == 0) ? NAN : (float)d;
    y[i] = (2 * a + b + 0.5 * tsr_rng_normal(&g) > 0.8) ? 1.0f : 0.0f;
  }
}

/* n rows of make_binary(seed) in new arrays *x, *y (the caller frees them). */
static void new_binary(size_t n, uint64_t seed, float **x, float **y) {
  *x = malloc(n * NF * sizeof **x);
  *y = malloc(n * sizeof **y);
  make_binary(n, seed, *x, *y);
}

static double auc_of(const double *p, const float *y, size_t n) {
  /* O(n^2) reference: P(score_pos > score_neg) + ties/2 */
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++)
    if (y[i] == 1)
      for (size_t j = 0; j < n; j++)
        if (y[j] == 0) {
          num += p[i] > p[j] ? 1 : p[i] == p[j] ? 0.5 : 0;
          den += 1;
        }
  return num / den;
}

static void test_binary_learns_and_is_deterministic(void **state) {
  (void)state;
  size_t n = 3000, nt = 1000;
  float *x, *y, *xt, *yt;
  new_binary(n, 7, &x, &y);
  new_binary(nt, 8, &xt, &yt);
  for (int method = 0; method < 2; method++) {
    tsr_gbm_params p;
    tsr_gbm_params_init(&p);
    p.tree_method = method ? TSR_GBM_HIST : TSR_GBM_EXACT;
    tsr_gbm_data d = {n, NF, x, y, NULL};
    double *pr[2];
    char *bytes[2];
    size_t len[2];
    tsr_gbm_info info[2];
    for (int t = 0; t < 2; t++) {
      p.threads = t ? 2 : 1;
      tsr_gbm *m = NULL;
      tsr_error err;
      assert_int_equal(tsr_gbm_train(&p, &d, NULL, &m, &info[t], &err), TSR_OK);
      assert_int_equal(tsr_gbm_nfeatures(m), NF);
      pr[t] = malloc(nt * sizeof(double));
      assert_int_equal(tsr_gbm_predict(m, xt, nt, pr[t], &err), TSR_OK);
      assert_int_equal(tsr_gbm_save(m, &bytes[t], &len[t], &err), TSR_OK);
      tsr_gbm_free(m);
    }
    /* a clearly learnt signal: the Bayes AUC here is about 0.97 */
    double auc = auc_of(pr[0], yt, nt);
    if (auc < 0.93) fail_msg("method %d: AUC %.4f < 0.93", method, auc);
    assert_int_equal(info[0].n_train + info[0].n_valid, n);
    assert_int_equal(info[0].n_valid, 600); /* 20 % stratified, rounded per class */
    /* same model for 1 and 2 threads */
    assert_int_equal(info[0].rounds, info[1].rounds);
    for (size_t i = 0; i < nt; i++)
      if (pr[0][i] != pr[1][i])
        fail_msg("method %d row %zu: %.9g (1 thread) != %.9g (2 threads)", method, i,
                 pr[0][i], pr[1][i]);
    for (int t = 0; t < 2; t++) {
      free(pr[t]);
      free(bytes[t]);
    }
  }
  free(x); free(y); free(xt); free(yt);
}

/* TSR_GBM_HIST_FIXED on data large enough for XGBoost's histogram builder
 * to split the rows between threads (120 000 rows, blocks of 256 to 2048
 * rows): binary with balanced class weights and regression give the same
 * model bytes and predictions for 1 and 2 threads, and the binary model
 * learns as well as the exact one. */
static void test_hist_fixed_is_thread_invariant(void **state) {
  (void)state;
  size_t n = 120000, nt = 1500;
  float *x = malloc(n * NF * sizeof *x), *y = malloc(n * sizeof *y), *yr = malloc(n * sizeof *yr);
  float *xt = malloc(nt * NF * sizeof *xt), *yt = malloc(nt * sizeof *yt);
  make_binary(n, 21, x, y);
  make_binary(nt, 22, xt, yt);
  for (size_t i = 0; i < n; i++) yr[i] = 3 * x[i * NF] - x[i * NF + 1] + y[i];
  for (int obj = 0; obj < 2; obj++) {
    tsr_gbm_params p;
    tsr_gbm_params_init(&p);
    p.tree_method = TSR_GBM_HIST_FIXED;
    p.objective = obj ? TSR_GBM_REGRESSION : TSR_GBM_BINARY;
    p.pos_weight = obj ? 1 : 0; /* balanced: rows carry weights */
    p.n_rounds = 80;
    p.early_stopping = 10;
    tsr_gbm_data d = {n, NF, x, obj ? yr : y, NULL};
    double *pr[2];
    char *bytes[2];
    size_t len[2];
    tsr_gbm_info info[2];
    for (int t = 0; t < 2; t++) {
      p.threads = t ? 2 : 1;
      tsr_gbm *m = NULL;
      tsr_error err;
      if (tsr_gbm_train(&p, &d, NULL, &m, &info[t], &err) != TSR_OK) fail_msg("%s", err.msg);
      pr[t] = malloc(nt * sizeof(double));
      assert_int_equal(tsr_gbm_predict(m, xt, nt, pr[t], &err), TSR_OK);
      assert_int_equal(tsr_gbm_save(m, &bytes[t], &len[t], &err), TSR_OK);
      tsr_gbm_free(m);
    }
    assert_true(info[0].rounds > 10);
    assert_true(isfinite(info[0].best_valid_loss));
    assert_int_equal(info[0].rounds, info[1].rounds);
    assert_true(info[0].best_valid_loss == info[1].best_valid_loss);
    for (size_t i = 0; i < nt; i++)
      if (pr[0][i] != pr[1][i])
        fail_msg("objective %d row %zu: %.9g (1 thread) != %.9g (2 threads)", obj, i, pr[0][i],
                 pr[1][i]);
    assert_int_equal(len[0], len[1]);
    assert_memory_equal(bytes[0], bytes[1], len[0]);
    if (!obj) {
      double auc = auc_of(pr[0], yt, nt);
      if (auc < 0.95) fail_msg("hist_fixed: AUC %.4f < 0.95", auc);
    } else {
      double se = 0;
      for (size_t i = 0; i < nt; i++) {
        double e = pr[0][i] - (3 * xt[i * NF] - xt[i * NF + 1] + yt[i]);
        se += e * e;
      }
      if (sqrt(se / (double)nt) > 0.3) fail_msg("hist_fixed: RMSE %.4f > 0.3", sqrt(se / (double)nt));
    }
    for (int t = 0; t < 2; t++) {
      free(pr[t]);
      free(bytes[t]);
    }
  }
  free(x); free(y); free(yr); free(xt); free(yt);
}

/* A default binary model (one thread) on n rows of make_binary(seed);
 * *x and *y (malloc'd, the caller frees them) hold the rows. */
static tsr_gbm *train_binary(size_t n, uint64_t seed, float **x, float **y) {
  new_binary(n, seed, x, y);
  tsr_gbm_params p;
  tsr_gbm_params_init(&p);
  p.threads = 1;
  tsr_gbm_data d = {n, NF, *x, *y, NULL};
  tsr_gbm *m = NULL;
  assert_int_equal(tsr_gbm_train(&p, &d, NULL, &m, NULL, NULL), TSR_OK);
  return m;
}

static void test_shap_sums_to_margin_and_ranks_features(void **state) {
  (void)state;
  float *x, *y;
  tsr_gbm *m = train_binary(2000, 11, &x, &y);
  size_t k = 200;
  double *pr = malloc(k * sizeof *pr), *c = malloc(k * (NF + 1) * sizeof *c);
  assert_int_equal(tsr_gbm_predict(m, x, k, pr, NULL), TSR_OK);
  double mean_abs[NF] = {0};
  for (int approx = 0; approx < 2; approx++) {
    assert_int_equal(tsr_gbm_contributions(m, x, k, approx, c, NULL), TSR_OK);
    for (size_t i = 0; i < k; i++) {
      double s = 0;
      for (int j = 0; j <= NF; j++) s += c[i * (NF + 1) + j];
      double logit = log(pr[i] / (1 - pr[i]));
      assert_near(s, logit, 1e-3);
      if (!approx)
        for (int j = 0; j < NF; j++) mean_abs[j] += fabs(c[i * (NF + 1) + j]) / (double)k;
    }
  }
  /* x0 (weight 2) > x1 (weight 1) > the noise features */
  if (!(mean_abs[0] > mean_abs[1] && mean_abs[1] > 2 * mean_abs[2] && mean_abs[1] > 2 * mean_abs[3]))
    fail_msg("mean |SHAP| %.3f %.3f %.3f %.3f not ordered", mean_abs[0], mean_abs[1],
             mean_abs[2], mean_abs[3]);
  tsr_gbm_free(m);
  free(pr); free(c); free(x); free(y);
}

static void test_save_load_round_trip(void **state) {
  (void)state;
  float *x, *y;
  tsr_gbm *m = train_binary(1500, 3, &x, &y), *m2 = NULL;
  char *buf = NULL;
  size_t len = 0;
  assert_int_equal(tsr_gbm_save(m, &buf, &len, NULL), TSR_OK);
  assert_true(len > 100);
  assert_int_equal(buf[0], '{');
  assert_int_equal(tsr_gbm_load(buf, len, 1, &m2, NULL), TSR_OK);
  assert_int_equal(tsr_gbm_nfeatures(m2), NF);
  assert_int_equal(tsr_gbm_objective_of(m2), TSR_GBM_BINARY);
  double a[100], b[100];
  assert_int_equal(tsr_gbm_predict(m, x, 100, a, NULL), TSR_OK);
  assert_int_equal(tsr_gbm_predict(m2, x, 100, b, NULL), TSR_OK);
  for (int i = 0; i < 100; i++) assert_true(a[i] == b[i]);
  tsr_error err;
  tsr_gbm *bad = NULL;
  assert_int_equal(tsr_gbm_load("not a model", 11, 1, &bad, &err), TSR_EPARSE);
  assert_null(bad);
  assert_non_null(strstr(err.msg, "xgboost: loading the model"));
  free(buf);
  tsr_gbm_free(m);
  tsr_gbm_free(m2);
  free(x); free(y);
}

static void test_regression_and_early_stopping(void **state) {
  (void)state;
  size_t n = 2000;
  float *x = malloc(n * 2 * sizeof *x), *y = malloc(n * sizeof *y);
  tsr_rng g;
  tsr_rng_seed(&g, 5, 2);
  for (size_t i = 0; i < n; i++) {
    double a = tsr_rng_uniform(&g) * 4 - 2, b = tsr_rng_uniform(&g) * 4 - 2;
    x[2 * i] = (float)a;
    x[2 * i + 1] = (float)b;
    y[i] = (float)(2 * a + b * b + 0.1 * tsr_rng_normal(&g));
  }
  tsr_gbm_params p;
  tsr_gbm_params_init(&p);
  p.objective = TSR_GBM_REGRESSION;
  p.eta = 0.3;
  p.n_rounds = 2000;
  p.early_stopping = 10;
  p.threads = 1;
  tsr_gbm_data d = {n, 2, x, y, NULL};
  tsr_gbm *m = NULL;
  tsr_gbm_info info;
  assert_int_equal(tsr_gbm_train(&p, &d, NULL, &m, &info, NULL), TSR_OK);
  assert_int_equal(tsr_gbm_objective_of(m), TSR_GBM_REGRESSION);
  /* stopped early: 10 rounds after the best, far before 2000 */
  assert_int_equal(info.rounds_run - info.rounds, 10);
  assert_true(info.rounds_run < 2000);
  /* noise sd 0.1; trees approximate the smooth function to about 0.15 */
  if (!(info.best_valid_loss < 0.25)) fail_msg("validation RMSE %.4f", info.best_valid_loss);
  double pr[4];
  float q[8] = {0, 0, 1, 1, -1, 1.5f, 1.5f, -1.5f};
  assert_int_equal(tsr_gbm_predict(m, q, 4, pr, NULL), TSR_OK);
  assert_near(pr[0], 0.0, 0.3);
  assert_near(pr[1], 3.0, 0.3);
  assert_near(pr[2], 0.25, 0.3);
  assert_near(pr[3], 5.25, 0.3);
  /* contributions sum to the prediction */
  double c[4 * 3];
  assert_int_equal(tsr_gbm_contributions(m, q, 4, 0, c, NULL), TSR_OK);
  for (int i = 0; i < 4; i++) assert_near(c[3 * i] + c[3 * i + 1] + c[3 * i + 2], pr[i], 1e-4);
  tsr_gbm_free(m);
  free(x); free(y);
}

static void test_class_weights(void **state) {
  (void)state;
  size_t n = 2000;
  float *x = malloc(n * NF * sizeof *x), *y = malloc(n * sizeof *y);
  make_binary(n, 21, x, y);
  size_t npos = 0;
  for (size_t i = 0; i < n; i++) npos += y[i] == 1;
  tsr_gbm_params p;
  tsr_gbm_params_init(&p);
  p.threads = 1;
  p.pos_weight = 0; /* balanced */
  tsr_gbm_data d = {n, NF, x, y, NULL};
  tsr_gbm *m = NULL, *m1 = NULL;
  tsr_gbm_info info;
  assert_int_equal(tsr_gbm_train(&p, &d, NULL, &m, &info, NULL), TSR_OK);
  assert_near(info.pos_weight, (double)(n - npos) / (double)npos, 1e-12);
  tsr_gbm_free(m);
  p.pos_weight = 5;
  assert_int_equal(tsr_gbm_train(&p, &d, NULL, &m, &info, NULL), TSR_OK);
  assert_near(info.pos_weight, 5.0, 0);
  p.pos_weight = 1;
  assert_int_equal(tsr_gbm_train(&p, &d, NULL, &m1, NULL, NULL), TSR_OK);
  /* weighting positives 5x raises the mean probability */
  double a[500], b[500], ma = 0, mb = 0;
  assert_int_equal(tsr_gbm_predict(m, x, 500, a, NULL), TSR_OK);
  assert_int_equal(tsr_gbm_predict(m1, x, 500, b, NULL), TSR_OK);
  for (int i = 0; i < 500; i++) { ma += a[i] / 500; mb += b[i] / 500; }
  assert_true(npos < n / 2);
  if (!(ma > mb + 0.05)) fail_msg("weighted mean %.4f vs unweighted %.4f", ma, mb);
  tsr_gbm_free(m);
  tsr_gbm_free(m1);
  free(x); free(y);
}

static void test_errors(void **state) {
  (void)state;
  float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[4] = {1, 1, 1, 1}, y2[4] = {0, 1, 2, 0};
  tsr_gbm_params p;
  tsr_gbm_params_init(&p);
  tsr_gbm_data d = {4, 2, x, y, NULL};
  tsr_gbm *m = (tsr_gbm *)1;
  tsr_error err;
  assert_int_equal(tsr_gbm_train(&p, &d, NULL, &m, NULL, &err), TSR_EINVAL);
  assert_null(m);
  assert_string_equal(err.msg, "one class only: every label is 1 (4 rows)");
  d.y = y2;
  assert_int_equal(tsr_gbm_train(&p, &d, NULL, &m, NULL, &err), TSR_EINVAL);
  assert_string_equal(err.msg, "binary label of row 3 must be 0 or 1, got 2");
  p.eta = 0;
  assert_int_equal(tsr_gbm_check_params(&p, &err), TSR_EINVAL);
  assert_string_equal(err.field, "eta");
  assert_string_equal(err.msg, "expected a value in (0, 1], got 0");
  tsr_gbm_params_init(&p);
  p.max_depth = 17;
  assert_int_equal(tsr_gbm_check_params(&p, &err), TSR_EINVAL);
  assert_string_equal(err.field, "max_depth");
  tsr_gbm_free(NULL);
}

/* tsr__gbm_train_valid: the validation predictions handed back equal the
 * model's own, for the exact method (predicted after training) and for
 * TSR_GBM_HIST_FIXED (kept from early stopping at the best round: the run
 * stops early, so a copy of the last round's would differ). */
static void test_train_gives_validation_predictions(void **state) {
  (void)state;
  size_t n = 4000, nv = 1000;
  float *x, *y, *xv, *yv;
  new_binary(n, 31, &x, &y);
  new_binary(nv, 32, &xv, &yv);
  double *pv = malloc(nv * sizeof *pv), *pp = malloc(nv * sizeof *pp);
  for (int method = 0; method < 2; method++) {
    tsr_gbm_params p;
    tsr_gbm_params_init(&p);
    p.threads = 1;
    p.eta = 0.3;
    p.early_stopping = 5;
    p.tree_method = method ? TSR_GBM_HIST_FIXED : TSR_GBM_EXACT;
    tsr_gbm_data d = {n, NF, x, y, NULL}, dv = {nv, NF, xv, yv, NULL};
    tsr_gbm *m = NULL;
    tsr_gbm_info info;
    for (size_t i = 0; i < nv; i++) pv[i] = -1;
    assert_int_equal(tsr__gbm_train_valid(&p, &d, &dv, &m, &info, pv, NULL), TSR_OK);
    assert_true(info.rounds < info.rounds_run); /* the model was sliced */
    assert_int_equal(tsr_gbm_predict(m, xv, nv, pp, NULL), TSR_OK);
    for (size_t i = 0; i < nv; i++)
      if (pv[i] != pp[i])
        fail_msg("method %d row %zu: validation prediction %.9g, model %.9g", method, i, pv[i], pp[i]);
    /* the training loss is that of the kept (sliced) model, not of the
     * last round run: its logloss on the training rows */
    double *pt = malloc(n * sizeof *pt), ll = 0;
    assert_int_equal(tsr_gbm_predict(m, x, n, pt, NULL), TSR_OK);
    for (size_t i = 0; i < n; i++) {
      double q = pt[i] < 1e-16 ? 1e-16 : pt[i] > 1 - 1e-16 ? 1 - 1e-16 : pt[i];
      ll += y[i] == 1.0f ? -log(q) : -log(1 - q);
    }
    ll /= (double)n;
    if (fabs(info.train_loss - ll) > (method ? 1e-9 : 1e-5) * ll)
      fail_msg("method %d: training loss %.12g, of the kept model %.12g", method, info.train_loss, ll);
    free(pt);
    tsr_gbm_free(m);
  }
  tsr_error err;
  tsr_gbm *m = (tsr_gbm *)1;
  tsr_gbm_params p;
  tsr_gbm_params_init(&p);
  tsr_gbm_data d = {n, NF, x, y, NULL};
  assert_int_equal(tsr__gbm_train_valid(&p, &d, NULL, &m, NULL, pv, &err), TSR_EINVAL);
  assert_null(m);
  free(x); free(y); free(xv); free(yv); free(pv); free(pp);
}

/* tsr__gbm_contributions_approx (walking the trees here) equals XGBoost's
 * approximate contributions float for float on every row - missing values,
 * both tree methods, a regression model - in one call and in two (the
 * second call past the checked rows), and never falls back. */
static void test_approx_contributions_equal_xgboost(void **state) {
  (void)state;
  size_t n = 3000, k = 1000, w = NF + 1;
  float *x, *y;
  new_binary(n, 41, &x, &y);
  double *a = malloc(k * w * sizeof *a), *b = malloc(k * w * sizeof *b);
  for (int variant = 0; variant < 3; variant++) {
    tsr_gbm_params p;
    tsr_gbm_params_init(&p);
    p.threads = 1;
    p.max_depth = 6;
    p.tree_method = variant == 1 ? TSR_GBM_HIST_FIXED : TSR_GBM_EXACT;
    float *yy = y, *yr = NULL;
    if (variant == 2) { /* regression on x0 - x1 */
      p.objective = TSR_GBM_REGRESSION;
      yr = malloc(n * sizeof *yr);
      for (size_t i = 0; i < n; i++) yr[i] = x[i * NF] - x[i * NF + 1] + (i % 7 == 0);
      yy = yr;
    }
    tsr_gbm_data d = {n, NF, x, yy, NULL};
    tsr_gbm *m = NULL;
    assert_int_equal(tsr_gbm_train(&p, &d, NULL, &m, NULL, NULL), TSR_OK);
    int fb = -1;
    assert_int_equal(tsr__gbm_contributions_approx(m, x, 300, a, &fb, NULL), TSR_OK);
    assert_int_equal(fb, 0);
    assert_int_equal(tsr__gbm_contributions_approx(m, x + 300 * NF, k - 300, a + 300 * w, &fb, NULL),
                     TSR_OK);
    assert_int_equal(fb, 0);
    assert_int_equal(tsr_gbm_contributions(m, x, k, 1, b, NULL), TSR_OK);
    size_t nz = 0;
    for (size_t i = 0; i < k * w; i++) {
      if (a[i] != b[i])
        fail_msg("variant %d row %zu column %zu: %.9g here, %.9g by XGBoost", variant, i / w, i % w,
                 a[i], b[i]);
      nz += a[i] != 0;
    }
    assert_true(nz > k); /* not all zero */
    tsr_gbm_free(m);
    free(yr);
  }
  free(x); free(y); free(a); free(b);
}

/* tsr__gbm_walk (one walk of the trees here for predictions and
 * approximate contributions, rows 8 at a time, over threads) equals
 * XGBoost's tsr_gbm_predict and approximate contributions value for value
 * on every row - missing values, depth-6 trees on 4 features (a feature
 * several times on a path), both tree methods, a regression model - for 1,
 * 2 and 3 threads (the row ranges split differently; 20 000 rows at least
 * to use them) and a row count that is not a multiple of the block; the
 * prediction alone too; never falls back. Variant 3: a gamma so large that
 * every tree is its root leaf (walked zero steps, no shares). */
static void test_walk_equals_xgboost(void **state) {
  (void)state;
  size_t n = 24003, w = NF + 1;
  float *x, *y;
  new_binary(n, 43, &x, &y);
  double *pa = malloc(n * sizeof *pa), *pb = malloc(n * sizeof *pb);
  double *ca = malloc(n * w * sizeof *ca), *cb = malloc(n * w * sizeof *cb);
  for (int variant = 0; variant < 4; variant++) {
    tsr_gbm_params p;
    tsr_gbm_params_init(&p);
    p.threads = 2;
    p.max_depth = 6;
    p.n_rounds = 40;
    p.tree_method = variant == 1 ? TSR_GBM_HIST_FIXED : TSR_GBM_EXACT;
    if (variant == 3) p.gamma = 1e9, p.n_rounds = 5;
    float *yy = y, *yr = NULL;
    if (variant == 2) {
      p.objective = TSR_GBM_REGRESSION;
      yr = malloc(n * sizeof *yr);
      for (size_t i = 0; i < n; i++) yr[i] = x[i * NF] - x[i * NF + 1] + (i % 7 == 0);
      yy = yr;
    }
    tsr_gbm_data d = {n, NF, x, yy, NULL};
    tsr_gbm *m = NULL;
    assert_int_equal(tsr_gbm_train(&p, &d, NULL, &m, NULL, NULL), TSR_OK);
    assert_int_equal(tsr_gbm_predict(m, x, n, pb, NULL), TSR_OK);
    assert_int_equal(tsr_gbm_contributions(m, x, n, 1, cb, NULL), TSR_OK);
    for (int threads = 1; threads <= 3; threads++) {
      int fb = -1;
      memset(pa, 0, n * sizeof *pa);
      memset(ca, 0, n * w * sizeof *ca);
      assert_int_equal(tsr__gbm_walk(m, x, n, pa, ca, threads, &fb, NULL), TSR_OK);
      assert_int_equal(fb, 0);
      for (size_t i = 0; i < n; i++)
        if (pa[i] != pb[i])
          fail_msg("variant %d threads %d row %zu: %.9g here, %.9g by XGBoost", variant, threads,
                   i, pa[i], pb[i]);
      for (size_t i = 0; i < n * w; i++)
        if (ca[i] != cb[i])
          fail_msg("variant %d threads %d row %zu column %zu: %.9g here, %.9g by XGBoost", variant,
                   threads, i / w, i % w, ca[i], cb[i]);
    }
    memset(pa, 0, n * sizeof *pa);
    int fb = -1;
    assert_int_equal(tsr__gbm_walk(m, x + 5 * NF, n - 5, pa, NULL, 0, &fb, NULL), TSR_OK);
    assert_int_equal(fb, 0);
    for (size_t i = 0; i + 5 < n; i++) assert_true(pa[i] == pb[i + 5]);
    assert_int_equal(tsr__gbm_walk(m, x, n, NULL, NULL, 1, NULL, NULL), TSR_EINVAL);
    tsr_gbm_free(m);
    free(yr);
  }
  free(x); free(y); free(pa); free(pb); free(ca); free(cb);
}

/* tsr__gbm_predict_walk (walking the trees here) equals tsr_gbm_predict
 * (XGBoost's predictor) double for double on every row - missing values,
 * the three tree methods, early stopping (a sliced model), a regression
 * model, a loaded model - in one call and in later calls, and never falls
 * back; a model whose objective is not the one its trees were trained for
 * (a binary model loaded as regression) differs on the checked rows and
 * falls back to XGBoost for good. */
static void test_predict_walk_equals_xgboost(void **state) {
  (void)state;
  size_t n = 3000, k = 2000;
  float *x, *y;
  new_binary(n, 43, &x, &y);
  double *a = malloc(k * sizeof *a), *b = malloc(k * sizeof *b);
  for (int variant = 0; variant < 5; variant++) {
    tsr_gbm_params p;
    tsr_gbm_params_init(&p);
    p.threads = 1;
    p.max_depth = variant == 3 ? 3 : 6;
    p.tree_method = variant == 1 ? TSR_GBM_HIST_FIXED : variant == 3 ? TSR_GBM_HIST : TSR_GBM_EXACT;
    if (variant == 3) p.n_rounds = 100, p.eta = 0.2, p.early_stopping = 5;
    float *yy = y, *yr = NULL;
    if (variant == 2) { /* regression on x0 - x1 */
      p.objective = TSR_GBM_REGRESSION;
      yr = malloc(n * sizeof *yr);
      for (size_t i = 0; i < n; i++) yr[i] = x[i * NF] - x[i * NF + 1] + (i % 7 == 0);
      yy = yr;
    }
    tsr_gbm_data d = {n, NF, x, yy, NULL};
    tsr_gbm *m = NULL;
    assert_int_equal(tsr_gbm_train(&p, &d, NULL, &m, NULL, NULL), TSR_OK);
    if (variant == 4) { /* the model saved and loaded */
      char *buf = NULL;
      size_t len = 0;
      tsr_gbm *m2 = NULL;
      assert_int_equal(tsr_gbm_save(m, &buf, &len, NULL), TSR_OK);
      assert_int_equal(tsr_gbm_load(buf, len, 1, &m2, NULL), TSR_OK);
      free(buf);
      tsr_gbm_free(m);
      m = m2;
    }
    int fb = -1;
    assert_int_equal(tsr__gbm_predict_walk(m, x, NULL, 700, a, &fb, NULL), TSR_OK);
    assert_int_equal(fb, 0);
    assert_int_equal(tsr__gbm_predict_walk(m, x + 700 * NF, NULL, k - 700, a + 700, &fb, NULL), TSR_OK);
    assert_int_equal(fb, 0);
    /* rows by index, in a fresh order with repeats */
    size_t *ri = malloc(k * sizeof *ri);
    double *ai = malloc(k * sizeof *ai);
    for (size_t i = 0; i < k; i++) ri[i] = (i * 7919 + 13) % k;
    assert_int_equal(tsr__gbm_predict_walk(m, x, ri, k, ai, &fb, NULL), TSR_OK);
    assert_int_equal(fb, 0);
    for (size_t i = 0; i < k; i++) assert_true(ai[i] == a[ri[i]]);
    free(ri);
    free(ai);
    /* the approximation's trees beside the walk's */
    double c[NF + 1];
    assert_int_equal(tsr__gbm_contributions_approx(m, x, 1, c, &fb, NULL), TSR_OK);
    assert_int_equal(tsr_gbm_predict(m, x, k, b, NULL), TSR_OK);
    size_t distinct = 0;
    for (size_t i = 0; i < k; i++) {
      if (a[i] != b[i])
        fail_msg("variant %d row %zu: %.9g here, %.9g by XGBoost", variant, i, a[i], b[i]);
      distinct += i && a[i] != a[i - 1];
    }
    assert_true(distinct > k / 4);
    tsr_gbm_free(m);
    free(yr);
  }
  /* a binary model loaded as a regression: margins here, probabilities by
   * XGBoost: the check falls back */
  tsr_gbm_params p;
  tsr_gbm_params_init(&p);
  p.threads = 1;
  tsr_gbm_data d = {n, NF, x, y, NULL};
  tsr_gbm *m = NULL, *m2 = NULL;
  assert_int_equal(tsr_gbm_train(&p, &d, NULL, &m, NULL, NULL), TSR_OK);
  char *buf = NULL;
  size_t len = 0;
  assert_int_equal(tsr_gbm_save(m, &buf, &len, NULL), TSR_OK);
  char *at = strstr(buf, "\"binary\"");
  assert_non_null(at);
  char *nb = malloc(len + 16);
  size_t pre = (size_t)(at - buf);
  memcpy(nb, buf, pre);
  memcpy(nb + pre, "\"regression\"", 12);
  memcpy(nb + pre + 12, at + 8, len - pre - 8);
  assert_int_equal(tsr_gbm_load(nb, len + 4, 1, &m2, NULL), TSR_OK);
  assert_int_equal(tsr_gbm_objective_of(m2), TSR_GBM_REGRESSION);
  int fb = -1;
  size_t rv[10] = {9, 3, 1999, 0, 0, 5, 77, 1500, 2, 1};
  assert_int_equal(tsr__gbm_predict_walk(m2, x, NULL, k, a, &fb, NULL), TSR_OK);
  assert_int_equal(fb, 1);
  assert_int_equal(tsr_gbm_predict(m, x, k, b, NULL), TSR_OK);
  for (size_t i = 0; i < k; i++)
    if (!(a[i] == b[i] && a[i] > 0 && a[i] < 1)) fail_msg("row %zu: %.9g %.9g", i, a[i], b[i]);
  assert_int_equal(tsr__gbm_predict_walk(m2, x, rv, 10, a + 10, &fb, NULL), TSR_OK);
  assert_int_equal(fb, 1);
  for (size_t i = 0; i < 10; i++) assert_true(a[10 + i] == b[rv[i]]); /* rows by index */
  /* errors */
  tsr_error err;
  assert_int_equal(tsr__gbm_predict_walk(NULL, x, NULL, 1, a, &fb, &err), TSR_EINVAL);
  assert_int_equal(tsr__gbm_predict_walk(m, x, NULL, 0, a, &fb, NULL), TSR_OK);
  assert_int_equal(fb, 0);
  tsr_gbm_free(m);
  tsr_gbm_free(m2);
  free(buf); free(nb); free(x); free(y); free(a); free(b);
}

/* The prediction walk (a leaf steps to itself until the tree's depth) on
 * trees of one leaf (no split: min_child_weight above the data's hessian)
 * and on depth-5 trees with leaves at several depths (gamma prunes some
 * splits), 16-row blocks and a 13-row tail, rows by index: XGBoost's
 * predictions on every row, no fallback. */
static void test_predict_walk_leaf_depths(void **state) {
  (void)state;
  size_t n = 1500, k = 1213;
  float *x, *y;
  new_binary(n, 7, &x, &y);
  double *a = malloc(k * sizeof *a), *b = malloc(k * sizeof *b);
  size_t *ri = malloc(k * sizeof *ri);
  for (size_t i = 0; i < k; i++) ri[i] = (i * 331 + 5) % n;
  float *xs = malloc(k * NF * sizeof *xs);
  for (size_t i = 0; i < k; i++) memcpy(xs + i * NF, x + ri[i] * NF, NF * sizeof *xs);
  for (int variant = 0; variant < 2; variant++) {
    tsr_gbm_params p;
    tsr_gbm_params_init(&p);
    p.threads = 1;
    p.n_rounds = 20;
    p.early_stopping = 0;
    p.tree_method = TSR_GBM_HIST;
    p.max_depth = 5;
    if (variant == 0) p.min_child_weight = 1e9;
    else p.gamma = 2.0;
    tsr_gbm_data d = {n, NF, x, y, NULL};
    tsr_gbm *m = NULL;
    assert_int_equal(tsr_gbm_train(&p, &d, NULL, &m, NULL, NULL), TSR_OK);
    int fb = -1;
    assert_int_equal(tsr__gbm_predict_walk(m, x, ri, k, a, &fb, NULL), TSR_OK);
    assert_int_equal(fb, 0);
    assert_int_equal(tsr_gbm_predict(m, xs, k, b, NULL), TSR_OK);
    size_t distinct = 0;
    for (size_t i = 0; i < k; i++) {
      if (a[i] != b[i])
        fail_msg("variant %d row %zu: %.9g here, %.9g by XGBoost", variant, i, a[i], b[i]);
      distinct += i && a[i] != a[i - 1];
    }
    if (variant == 0) assert_int_equal(distinct, 0);
    else assert_true(distinct > k / 8);
    tsr_gbm_free(m);
  }
  free(x); free(y); free(a); free(b); free(ri); free(xs);
}

/* Training without an info (no training loss wanted: the training set is
 * not evaluated each round) gives the model of training with one, value
 * for value, with and without early stopping and validation; the info's
 * training loss is still there when asked. */
static void test_train_without_info_same_model(void **state) {
  (void)state;
  size_t n = 2500, k = 500;
  float *x, *y;
  new_binary(n, 47, &x, &y);
  double *a = malloc(k * sizeof *a), *b = malloc(k * sizeof *b);
  for (int variant = 0; variant < 3; variant++) {
    tsr_gbm_params p;
    tsr_gbm_params_init(&p);
    p.threads = 1;
    p.tree_method = variant == 1 ? TSR_GBM_EXACT : TSR_GBM_HIST;
    p.n_rounds = 80;
    p.eta = 0.3;
    p.early_stopping = variant == 2 ? 0 : 5;
    if (variant == 2) p.valid_fraction = 0;
    tsr_gbm_data d = {n, NF, x, y, NULL};
    tsr_gbm *m1 = NULL, *m2 = NULL;
    tsr_gbm_info info;
    assert_int_equal(tsr_gbm_train(&p, &d, NULL, &m1, &info, NULL), TSR_OK);
    assert_true(isfinite(info.train_loss) && info.train_loss > 0);
    if (variant == 2) assert_int_equal(info.rounds, 80);
    else assert_true(info.rounds < 80); /* stopped early */
    assert_int_equal(tsr_gbm_train(&p, &d, NULL, &m2, NULL, NULL), TSR_OK);
    assert_int_equal(tsr_gbm_predict(m1, x, k, a, NULL), TSR_OK);
    assert_int_equal(tsr_gbm_predict(m2, x, k, b, NULL), TSR_OK);
    for (size_t i = 0; i < k; i++)
      if (a[i] != b[i]) fail_msg("variant %d row %zu: %.9g with info, %.9g without", variant, i, a[i], b[i]);
    tsr_gbm_free(m1);
    tsr_gbm_free(m2);
  }
  free(x); free(y); free(a); free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_binary_learns_and_is_deterministic),
      cmocka_unit_test(test_hist_fixed_is_thread_invariant),
      cmocka_unit_test(test_shap_sums_to_margin_and_ranks_features),
      cmocka_unit_test(test_save_load_round_trip),
      cmocka_unit_test(test_regression_and_early_stopping),
      cmocka_unit_test(test_class_weights),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_walk_equals_xgboost),
      cmocka_unit_test(test_train_gives_validation_predictions),
      cmocka_unit_test(test_approx_contributions_equal_xgboost),
      cmocka_unit_test(test_predict_walk_equals_xgboost),
      cmocka_unit_test(test_predict_walk_leaf_depths),
      cmocka_unit_test(test_train_without_info_same_model),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
