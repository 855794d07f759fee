/*
 * btyd_bench.c - benchmark helper of bench/bench_fit.sh (never part of the
 * tests): draws N customers from a BTYD model with the library's simulator,
 * rounds times to whole days (as a summary of dated transactions would),
 * writes the summary CSV that `tessera fit` and bench/fit_scipy.py read,
 * and times the in-process library fit (+ predictions for BG/NBD).
 *
 *   cc -O2 -Iinclude bench/btyd_bench.c build/libtessera.a $(pkg-config
 *      --libs gsl jansson sqlite3) -lm -o btyd_bench
 *   btyd_bench bgnbd|mbgnbd|pnbd|bgbb|gg N SEED OUT.csv
 *   btyd_bench fit MODEL SUMMARY.csv [REPEAT]
 *
 * The second form reads a summary written by the first (frequency,
 * recency, T) and times tsr_btyd_fit alone (standard errors included), the
 * best of REPEAT (default 5) runs: prints seconds= (wall) and cpu= (CPU
 * seconds of the process, all threads), the figures bench/perf_table.sh
 * sets against the scipy fit (also timed after reading the CSV).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_errno.h>

#include "tessera/btyd.h"

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* btyd_bench fit MODEL CSV [REPEAT] */
static int fit_only(int argc, char **argv) {
  tsr_btyd_kind kind;
  tsr_error err;
  if (tsr_btyd_kind_parse(argv[2], &kind, &err)) {
    fprintf(stderr, "btyd_bench: %s\n", err.msg);
    return 2;
  }
  FILE *f = fopen(argv[3], "r");
  if (!f) {
    perror(argv[3]);
    return 1;
  }
  int rep = argc > 4 ? atoi(argv[4]) : 5;
  size_t n = 0, cap = 1024;
  double *x = malloc(cap * sizeof *x), *tx = malloc(cap * sizeof *tx), *T = malloc(cap * sizeof *T);
  char line[512];
  if (!fgets(line, sizeof line, f)) return 1; /* header */
  while (fgets(line, sizeof line, f)) {
    if (n == cap) {
      cap *= 2;
      x = realloc(x, cap * sizeof *x), tx = realloc(tx, cap * sizeof *tx), T = realloc(T, cap * sizeof *T);
    }
    char *p = strchr(line, ',');
    if (!p) continue;
    x[n] = strtod(p + 1, &p);
    tx[n] = strtod(p + 1, &p);
    T[n] = strtod(p + 1, &p);
    n++;
  }
  fclose(f);
  tsr_btyd_data d = {n, x, tx, T, NULL, NULL};
  tsr_btyd_model fm;
  double best = 1e300, bestc = 1e300;
  tsr_status st = TSR_OK;
  for (int i = 0; i < (rep > 0 ? rep : 1); i++) {
    double t0 = now(), c0 = cpu_now();
    st = tsr_btyd_fit(kind, &d, NULL, &fm, &err);
    double t1 = now(), c1 = cpu_now();
    if (t1 - t0 < best) best = t1 - t0, bestc = c1 - c0;
  }
  printf("model=%s n=%zu seconds=%.4f cpu=%.4f status=%s loglik=%.4f iterations=%d", argv[2], n,
         best, bestc, tsr_status_name(st), fm.loglik, fm.iterations);
  for (size_t i = 0; i < fm.np; i++)
    printf(" %s=%.10g", tsr_btyd_param_name(kind, i), fm.params[i]);
  printf("\n");
  free(x), free(tx), free(T);
  return st == TSR_OK ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc >= 4 && !strcmp(argv[1], "fit")) {
    gsl_set_error_handler_off();
    return fit_only(argc, argv);
  }
  if (argc != 5) {
    fprintf(stderr, "usage: btyd_bench MODEL N SEED OUT.csv\n");
    return 2;
  }
  gsl_set_error_handler_off();
  tsr_btyd_kind kind;
  tsr_error err;
  if (tsr_btyd_kind_parse(argv[1], &kind, &err)) {
    fprintf(stderr, "btyd_bench: %s\n", err.msg);
    return 2;
  }
  size_t n = strtoul(argv[2], NULL, 10);
  uint64_t seed = strtoull(argv[3], NULL, 10);
  /* generating model: CDNOW-like values */
  static const double P[5][4] = {{0.25, 4.4, 0.8, 2.4}, {0.5, 6.2, 0.9, 1.6},
                                 {0.55, 10.6, 0.6, 11.7}, {1.2, 0.75, 0.66, 2.8},
                                 {0.25, 4.4, 0.8, 2.4}};
  tsr_btyd_model m, gg;
  tsr_btyd_model_init(&m, kind == TSR_BTYD_GG ? TSR_BTYD_BGNBD : kind, P[kind], NULL);
  double *x = malloc(n * sizeof *x), *tx = malloc(n * sizeof *tx),
         *T = malloc(n * sizeof *T), *mx = calloc(n, sizeof *mx);
  /* ages: 26..78 weeks in whole days (BG/BB: 6..12 opportunities) */
  for (size_t i = 0; i < n; i++)
    T[i] = kind == TSR_BTYD_BGBB ? 6 + (double)(i % 7) : (182 + (double)(i % 365)) / 7.0;
  if (tsr_btyd_simulate(&m, n, 0, T, seed, x, tx, T, &err)) {
    fprintf(stderr, "btyd_bench: %s\n", err.msg);
    return 1;
  }
  if (kind != TSR_BTYD_BGBB)
    for (size_t i = 0; i < n; i++) tx[i] = floor(tx[i] * 7) / 7; /* whole days */
  if (kind == TSR_BTYD_GG) {
    double gp[3] = {6.25, 3.74, 15.44};
    tsr_btyd_model_init(&gg, TSR_BTYD_GG, gp, NULL);
    tsr_gg_simulate(&gg, n, x, seed + 1, mx, NULL);
    for (size_t i = 0; i < n; i++) mx[i] = x[i] > 0 ? fmax(0.01, round(mx[i] * 100) / 100) : 0;
  }
  FILE *f = fopen(argv[4], "w");
  if (!f) {
    perror(argv[4]);
    return 1;
  }
  fputs(kind == TSR_BTYD_BGBB ? "customer_id,frequency,recency,periods\n"
                              : "customer_id,frequency,recency,T,monetary_value\n", f);
  for (size_t i = 0; i < n; i++) {
    if (kind == TSR_BTYD_BGBB)
      fprintf(f, "%zu,%.0f,%.0f,%.0f\n", i + 1, x[i], tx[i], T[i]);
    else
      fprintf(f, "%zu,%.0f,%.17g,%.17g,%.2f\n", i + 1, x[i], tx[i], T[i], mx[i]);
  }
  fclose(f);
  /* in-process: fit (and for BG/NBD predictions with intervals) */
  tsr_btyd_data d = {n, x, tx, T, NULL, NULL};
  size_t k = 0;
  if (kind == TSR_BTYD_GG) {
    for (size_t i = 0; i < n; i++)
      if (x[i] > 0) x[k] = x[i], mx[k] = mx[i], k++;
    d = (tsr_btyd_data){k, x, NULL, NULL, mx, NULL};
  }
  tsr_btyd_model fm;
  double t0 = now();
  tsr_status st = tsr_btyd_fit(kind, &d, NULL, &fm, &err);
  double t1 = now();
  printf("library_fit_s=%.3f status=%s iterations=%d", t1 - t0, tsr_status_name(st),
         fm.iterations);
  for (size_t i = 0; i < fm.np; i++)
    printf(" %s=%.5g", tsr_btyd_param_name(kind, i), fm.params[i]);
  if (kind == TSR_BTYD_BGNBD) {
    double *E = malloc(4 * n * sizeof *E);
    t0 = now();
    st = tsr_btyd_predict(&fm, &d, 39, 0.95, E, E + n, E + 2 * n, E + 3 * n, &err);
    t1 = now();
    printf(" library_predict_s=%.3f", t1 - t0);
    free(E);
  }
  printf("\n");
  free(x), free(tx), free(T), free(mx);
  return st == TSR_OK ? 0 : 1;
}
