/*
 * predict_bench.c - churn model benchmark (not a test): churn features of a
 * bundle at a cutoff, a seeded 70/30 customer split, XGBoost (tessera/gbm.h)
 * trained and timed, test AUC; the same matrix written as CSV for
 * bench/churn_sklearn.py; then scoring and SHAP timed on NSCORE rows (the
 * feature rows repeated).
 * Usage: predict_bench BUNDLE CAL_END(YYYY-MM-DD) WINDOW_DAYS OUT.csv NSCORE
 * Prints "key value" lines.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "predict/predict_internal.h"
#include "tessera/datetime.h"
#include "tessera/evaluate.h"
#include "tessera/gbm.h"
#include "tessera/rng.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: predict_bench BUNDLE CAL_END WINDOW_DAYS OUT.csv NSCORE\n");
    return 2;
  }
  tsr_error err;
  int64_t sec;
  if (tsr_datetime_parse(argv[2], strlen(argv[2]), NULL, &sec)) return 2;
  int32_t C = (int32_t)(sec / 86400), W = atoi(argv[3]);
  size_t nscore = (size_t)atol(argv[5]);
  double t0 = now();
  tsr__pdata d;
  if (tsr__pdata_read(argv[1], &d, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
  double t_read = now() - t0;
  size_t n = d.n, nf = TSR__NFEAT;
  float *x = malloc(n * nf * sizeof *x);
  uint8_t *active = malloc(n);
  int hb;
  t0 = now();
  if (tsr__churn_features(&d, C, W, x, active, NULL, &hb, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
  double t_feat = now() - t0;
  float *xtr = malloc(n * nf * sizeof *xtr), *ytr = malloc(n * sizeof *ytr);
  float *xte = malloc(n * nf * sizeof *xte);
  uint8_t *yte = malloc(n);
  size_t ntr = 0, nte = 0;
  tsr_rng g;
  tsr_rng_seed(&g, 42, 1);
  FILE *f = fopen(argv[4], "w");
  char fb[160];
  for (size_t j = 0; j < nf; j++) {
    const char *name = tsr__churn_feature_label(&d, (int)j, fb, sizeof fb);
    if (*name) fprintf(f, "%s,", name);
    else fprintf(f, "unused_%zu,", j);
  }
  fprintf(f, "label,test\n");
  for (size_t i = 0; i < n; i++) {
    if (!active[i]) continue;
    uint8_t y = tsr__churn_label(&d, i, C, W);
    int test = tsr_rng_uniform(&g) < 0.3;
    const float *r = x + i * nf;
    for (size_t j = 0; j < nf; j++) {
      if (isnan(r[j])) fputs(",", f);
      else fprintf(f, "%.9g,", (double)r[j]);
    }
    fprintf(f, "%d,%d\n", y, test);
    if (test) {
      memcpy(xte + nte * nf, r, nf * sizeof *r);
      yte[nte++] = y;
    } else {
      memcpy(xtr + ntr * nf, r, nf * sizeof *r);
      ytr[ntr++] = y;
    }
  }
  fclose(f);
  tsr_gbm_params p;
  tsr_gbm_params_init(&p);
  if (getenv("BENCH_HIST")) p.tree_method = TSR_GBM_HIST;
  tsr_gbm_data gd = {ntr, nf, xtr, ytr, NULL};
  tsr_gbm *m = NULL;
  tsr_gbm_info info;
  t0 = now();
  if (tsr_gbm_train(&p, &gd, NULL, &m, &info, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
  double t_train = now() - t0;
  double *pr = malloc((nte > nscore ? nte : nscore) * sizeof *pr);
  tsr_gbm_predict(m, xte, nte, pr, &err);
  tsr_eval_binary e;
  tsr_eval_binary_compute(pr, yte, nte, &e, &err);
  printf("customers %zu\ntrain_rows %zu\ntest_rows %zu\nread_s %.3f\nfeatures_s %.3f\n", n, ntr, nte,
         t_read, t_feat);
  printf("xgb_rounds %d\nxgb_train_s %.3f\nxgb_auc %.5f\n", info.rounds, t_train, e.auc);
  /* scoring nscore rows */
  float *xs = malloc(nscore * nf * sizeof *xs);
  for (size_t i = 0; i < nscore; i++) memcpy(xs + i * nf, xtr + (i % ntr) * nf, nf * sizeof *xs);
  t0 = now();
  tsr_gbm_predict(m, xs, nscore, pr, &err);
  printf("score_rows %zu\nscore_s %.3f\n", nscore, now() - t0);
  size_t nshap = nscore < 100000 ? nscore : 100000;
  double *c = malloc(nshap * (nf + 1) * sizeof *c);
  t0 = now();
  tsr_gbm_contributions(m, xs, nshap, 0, c, &err);
  printf("shap_rows %zu\nshap_exact_s %.3f\n", nshap, now() - t0);
  t0 = now();
  tsr_gbm_contributions(m, xs, nshap, 1, c, &err);
  printf("shap_approx_s %.3f\n", now() - t0);
  tsr_gbm_free(m);
  tsr__pdata_release(&d);
  free(x); free(active); free(xtr); free(ytr); free(xte); free(yte); free(pr); free(xs); free(c);
  return 0;
}
