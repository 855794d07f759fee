/*
 * bench_store.c - insert speed of the store: customers rows/s through
 * tsr_store_customers_add (one call = one transaction, one prepared
 * statement), and event appends/s through tsr_store_event_add (autocommit).
 * Not a test. Usage: bench_store [N_CUSTOMERS] [DB_PATH]   (default 1000000)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tessera/store.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of this process: on a shared machine the wall clock also counts
 * other tenants' load; CPU time is what the insert itself costs. */
static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int die(const tsr_error *e) {
  char buf[1024];
  fprintf(stderr, "bench_store: %s\n", tsr_error_format(e, buf, sizeof buf));
  return 1;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
  const char *path = argc > 2 ? argv[2] : "/tmp/tsr_bench_store.db";
  char wal[600], shm[600];
  snprintf(wal, sizeof wal, "%s-wal", path);
  snprintf(shm, sizeof shm, "%s-shm", path);
  unlink(path);
  unlink(wal);
  unlink(shm);

  static const char *segs[] = {"champions", "loyal_customers", "potential_loyalists",
                               "new_customers", "promising", "need_attention",
                               "about_to_sleep", "at_risk", "cant_lose", "hibernating"};
  tsr_customer *rows = malloc((size_t)n * sizeof *rows);
  char(*ids)[24] = malloc((size_t)n * 24);
  char(*cells)[4] = malloc((size_t)n * 4);
  if (!rows || !ids || !cells) return 1;
  srand(42);
  for (long i = 0; i < n; i++) {
    /* ids in a shuffled order, as a hash-table walk would give them */
    long k = getenv("SORTED") ? i : (long)(((long long)i * 7919) % n);
    snprintf(ids[i], 24, "C%09ld", k);
    tsr_customer *c = &rows[i];
    tsr_customer_init(c);
    c->customer_id = ids[i];
    c->frequency = rand() % 20;
    c->recency = rand() % 500 / 7.0;
    c->T = c->recency + rand() % 100 / 7.0;
    c->monetary_value = rand() % 100000 / 100.0;
    c->revenue = c->monetary_value * (c->frequency + 1);
    c->n_transactions = (int64_t)c->frequency + 1;
    c->first_purchase = 852076800000LL + rand() % 1000 * 86400000LL;
    c->last_purchase = c->first_purchase + (int64_t)(c->recency * 7 * 86400000.0);
    c->r_score = rand() % 5 + 1;
    c->f_score = rand() % 5 + 1;
    c->m_score = rand() % 5 + 1;
    snprintf(cells[i], 4, "%d%d%d", c->r_score, c->f_score, c->m_score);
    c->rfm_cell = cells[i];
    c->segment = segs[rand() % 10];
    c->cluster = rand() % 6;
    c->expected_purchases = rand() % 1000 / 100.0;
    c->p_alive = rand() % 1000 / 1000.0;
    c->clv = rand() % 100000 / 10.0;
    c->clv_lo = c->clv * 0.8;
    c->clv_hi = c->clv * 1.2;
  }

  tsr_store *s;
  tsr_error err;
  if (tsr_store_open(path, TSR_STORE_CREATE, &s, &err)) return die(&err);
  tsr_run r = {.command = "bench"};
  int64_t rid;
  if (tsr_store_run_begin(s, &r, &rid, &err)) return die(&err);

  /* explicit transaction, so the insert and the commit (WAL write, fsync,
   * auto-checkpoint into the database file) are timed apart */
  double t0 = now_s(), c0 = cpu_s(), t1, c1;
  if (tsr_store_begin(s, &err)) return die(&err);
  if (tsr_store_customers_add(s, rid, rows, (size_t)n, &err)) return die(&err);
  t1 = now_s();
  c1 = cpu_s();
  if (tsr_store_commit(s, &err)) return die(&err);
  double t2 = now_s(), c2 = cpu_s();
  printf("customers insert: %ld rows (22 columns) in %.3f s wall = %.0f rows/s; "
         "%.3f s CPU = %.0f rows/CPU-s\n",
         n, t1 - t0, (double)n / (t1 - t0), c1 - c0, (double)n / (c1 - c0));
  printf("with commit:      %.3f s wall = %.0f rows/s; %.3f s CPU = %.0f rows/CPU-s\n",
         t2 - t0, (double)n / (t2 - t0), c2 - c0, (double)n / (c2 - c0));

  long ne = 20000;
  t0 = now_s();
  for (long i = 0; i < ne; i++) {
    tsr_event e = {.run_id = rid, .level = TSR_LOG_INFO, .step = "bench",
                   .message = "step done", .rows_in = i, .rows_out = i,
                   .duration_ms = 0.5};
    if (tsr_store_event_add(s, &e, NULL, &err)) return die(&err);
  }
  t1 = now_s();
  printf("events: %ld appends in %.3f s = %.0f events/s (%.1f us each, autocommit)\n",
         ne, t1 - t0, (double)ne / (t1 - t0), (t1 - t0) / (double)ne * 1e6);
  /* point lookups, as the web app's customer page does */
  long ng = n < 100000 ? n : 100000;
  t0 = now_s();
  c0 = cpu_s();
  for (long i = 0; i < ng; i++) {
    tsr_customer *g = NULL;
    if (tsr_store_customer_get(s, rid, ids[(i * 31) % n], &g, &err)) return die(&err);
    tsr_store_free(g);
  }
  t1 = now_s();
  c1 = cpu_s();
  printf("customer get: %ld lookups in %.3f s wall = %.0f/s; %.3f s CPU = %.0f/CPU-s\n", ng,
         t1 - t0, (double)ng / (t1 - t0), c1 - c0, (double)ng / (c1 - c0));
  tsr_store_close(s);
  free(rows);
  free(ids);
  free(cells);
  unlink(path);
  unlink(wal);
  unlink(shm);
  return 0;
}
