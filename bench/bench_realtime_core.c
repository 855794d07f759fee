/*
 * bench_realtime_core.c - the real-time core alone (not a test):
 *   1. the update of one event (table lookup + O(1) state update + full
 *      re-scoring: BTYD expected purchases and P(alive), Gamma-Gamma CLV,
 *      RFM cell, segment, k-means cluster), p50/p99 and events/s, on a
 *      simulated log analysed in-process;
 *   2. memory of the live table at N customers (default 1M): the table's
 *      own bytes and the RSS growth, per customer.
 * Usage: bench_realtime_core [N_CUSTOMERS] [SIM_CUSTOMERS]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tessera/tessera.h"
#include "tessera/realtime.h"
#include "tessera/realtime_app.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, res = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
    fclose(f);
  }
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct ev {
  char id[16];
  int64_t day;
  double amount;
} ev;

int main(int argc, char **argv) {
  size_t N = argc > 1 ? (size_t)atol(argv[1]) : 1000000;
  size_t SIM = argc > 2 ? (size_t)atol(argv[2]) : 20000;
  tsr_error err;
  /* 1. a simulated log, analysed: the scorer */
  char path[] = "/tmp/tsr_rt_bench_XXXXXX";
  int fd = mkstemp(path);
  FILE *f = fdopen(fd, "w");
  tsr_simulate_opts so;
  tsr_simulate_opts_init(&so);
  so.customers = SIM;
  so.seed = 42;
  if (tsr_simulate_write(f, &so, &err) != TSR_OK) return fprintf(stderr, "%s\n", err.msg), 1;
  fclose(f);
  const char *inputs[1] = {path};
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  o.inputs = inputs;
  o.n_inputs = 1;
  o.cluster_opts.k = 6;
  tsr_analyze_result *res = NULL;
  if (tsr_analyze_run(&o, NULL, &res, &err) != TSR_OK) return fprintf(stderr, "%s\n", err.msg), 1;
  tsr_rt_scorer *sc = NULL;
  if (tsr_rt_scorer_from_analysis(res, &o, &sc, &err) != TSR_OK) return fprintf(stderr, "%s\n", err.msg), 1;
  const tsr_rt_opts *ro = tsr_rt_scorer_opts(sc);
  /* the log's events in file order */
  f = fopen(path, "r");
  char line[512];
  size_t cap = 1 << 20, n = 0;
  ev *evs = malloc(cap * sizeof *evs);
  if (!fgets(line, sizeof line, f)) return 1;
  while (fgets(line, sizeof line, f)) {
    if (n == cap) evs = realloc(evs, (cap *= 2) * sizeof *evs);
    char *save = NULL, *tok[6] = {0};
    int k = 0;
    for (char *t = strtok_r(line, ",\n", &save); t && k < 6; t = strtok_r(NULL, ",\n", &save)) tok[k++] = t;
    if (k < 4) continue;
    snprintf(evs[n].id, sizeof evs[n].id, "%s", tok[1]);
    int64_t ts;
    if (tsr_datetime_parse(tok[2], strlen(tok[2]), NULL, &ts) != TSR_OK) continue;
    evs[n].day = ts / 86400;
    if (tsr_amount_parse(tok[3], strlen(tok[3]), &evs[n].amount) != TSR_OK) continue;
    n++;
  }
  fclose(f);
  unlink(path);
  tsr_rt_table *t = NULL;
  tsr_rt_table_new(&t, &err);
  double *lat = malloc(n * sizeof *lat);
  size_t changes = 0;
  double t0 = now();
  for (size_t i = 0; i < n; i++) {
    double a = now();
    tsr_rt_state *s = tsr_rt_table_get(t, evs[i].id, 1);
    if (tsr_rt_apply(s, ro, evs[i].day, evs[i].amount) != TSR_OK) continue;
    tsr_rt_scores r;
    if (tsr_rt_score(sc, evs[i].id, s, evs[i].day, &r, NULL) == TSR_OK && r.segment != s->segment) {
      s->segment = (int16_t)r.segment;
      changes++;
    }
    lat[i] = now() - a;
  }
  double el = now() - t0;
  qsort(lat, n, sizeof *lat, cmpd);
  printf("update (lookup + state + re-score with BTYD, CLV, RFM, k-means): %zu events of %zu "
         "customers, %.0f events/s on one thread; p50 %.1f us, p99 %.1f us, max %.1f us; "
         "%zu segment changes\n",
         n, tsr_rt_table_size(t), (double)n / el, lat[n / 2] * 1e6,
         lat[(size_t)((double)(n - 1) * 0.99)] * 1e6, lat[n - 1] * 1e6, changes);
  tsr_rt_table_free(t);
  /* 2. memory at N customers, 3 events each */
  long r0 = rss_kb();
  tsr_rt_table_new(&t, &err);
  char id[32];
  t0 = now();
  for (size_t c = 0; c < N; c++) {
    snprintf(id, sizeof id, "C%08zu", c);
    tsr_rt_state *s = tsr_rt_table_get(t, id, 1);
    if (!s) return fprintf(stderr, "out of memory at %zu\n", c), 1;
    for (int e = 0; e < 3; e++) tsr_rt_apply(s, ro, 19000 + (int64_t)(c % 300) + 30 * e, 10.0 + e);
  }
  el = now() - t0;
  long r1 = rss_kb();
  printf("memory at %zu customers (ids of 9 bytes): table %.1f bytes/customer (state %zu bytes, "
         "id, hash slot, growth slack), RSS growth %.1f bytes/customer; %.2f M state updates/s\n",
         N, (double)tsr_rt_table_bytes(t) / (double)N, sizeof(tsr_rt_state),
         (double)(r1 - r0) * 1024.0 / (double)N, 3.0 * (double)N / el / 1e6);
  tsr_rt_table_free(t);
  tsr_rt_scorer_free(sc);
  tsr_analyze_result_free(res);
  free(evs);
  free(lat);
  return 0;
}
