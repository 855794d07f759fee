/*
 * analyze_history.c - the purchase history of every customer of a stored
 * run (day, purchases, amount per active day; store_web.h "history"), kept
 * by the pipeline itself so that runs made by the CLI have it as well as
 * the server's jobs (the customer pages of the web application draw it).
 * One transaction; a failure fails the run.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tessera/analyze.h"
#include "tessera/store_web.h"

tsr_status tsr__analyze_store_history(tsr_store *st, int64_t run_id, const tsr_ledger *lg,
                                      tsr_error *err);

static const tsr_ledger *sort_lg;
static int by_id(const void *a, const void *b) {
  return strcmp(tsr_ledger_customer(sort_lg, *(const size_t *)a), tsr_ledger_customer(sort_lg, *(const size_t *)b));
}

tsr_status tsr__analyze_store_history(tsr_store *st, int64_t run_id, const tsr_ledger *lg,
                                      tsr_error *err) {
  if (!st || !lg || run_id <= 0) return TSR_OK;
  /* in the order of the table's key (run, customer, day): appended at the
   * end of the index instead of scattered through it (4x faster once the
   * table outgrows SQLite's page cache) */
  size_t nc = tsr_ledger_ncustomers(lg);
  size_t *order = malloc((nc ? nc : 1) * sizeof *order);
  if (!order) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  for (size_t i = 0; i < nc; i++) order[i] = i;
  static pthread_mutex_t sort_mu = PTHREAD_MUTEX_INITIALIZER; /* qsort has no context argument */
  pthread_mutex_lock(&sort_mu);
  sort_lg = lg;
  qsort(order, nc, sizeof *order, by_id);
  pthread_mutex_unlock(&sort_mu);
  tsr_status s = tsr_store_begin(st, err);
  if (s != TSR_OK) return s;
  /* one prepared statement for all customers (released below) */
  int cached = tsr_web_store_cache(st, 1) == TSR_OK;
  size_t cap = 0;
  tsr_web_history_row *rows = NULL;
  for (size_t c = 0; c < nc && s == TSR_OK; c++) {
    size_t i = order[c], n = 0;
    const tsr_ledger_entry *e = tsr_ledger_entries(lg, i, &n);
    if (n > cap) {
      tsr_web_history_row *p = realloc(rows, n * sizeof *rows);
      if (!p) {
        s = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
        break;
      }
      rows = p;
      cap = n;
    }
    for (size_t k = 0; k < n; k++) {
      rows[k].day = e[k].day;
      rows[k].ntx = e[k].ntx;
      rows[k].amount = e[k].amount;
    }
    s = tsr_web_history_add(st, run_id, tsr_ledger_customer(lg, i), rows, n, err);
  }
  free(rows);
  free(order);
  if (cached) tsr_web_store_cache(st, 0);
  if (s == TSR_OK) s = tsr_store_commit(st, err);
  else tsr_store_rollback(st, NULL);
  if (s != TSR_OK && err && !err->msg[0])
    tsr_error_set(err, s, NULL, 0, 0, NULL, "store: customer purchase histories: %s", tsr_strerror(s));
  return s;
}
