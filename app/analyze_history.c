/*
 * analyze_history.c - the purchase history of every customer of a stored
 * run (day, purchases, amount per active day; store_web.h "history"), kept
 * by the pipeline itself so that runs made by the CLI have it as well as
 * the server's jobs (the customer pages of the web application draw it).
 * One bulk load in one transaction (tsr_web_history_load: in key order,
 * COPY on PostgreSQL, multi-row INSERTs on SQLite); a failure fails the run.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tessera/analyze.h"
#include "tessera/store_web.h"

tsr_status tsr__analyze_store_history(tsr_store *st, int64_t run_id, const tsr_ledger *lg,
                                      tsr_error *err);

typedef struct hist_src {
  const tsr_ledger *lg;
  tsr_web_history_row *rows;
  size_t cap;
} hist_src;

/* Customer i's active days as history rows (in a buffer reused). */
static tsr_status ledger_rows(void *ctx, size_t i, const tsr_web_history_row **out, size_t *n,
                              tsr_error *err) {
  hist_src *h = ctx;
  if (!out) { /* a hint: customer i comes soon */
    tsr__ledger_prefetch(h->lg, i, (int)*n);
    return TSR_OK;
  }
  size_t k = 0;
  const tsr_ledger_entry *e = tsr_ledger_entries(h->lg, i, &k);
  if (k > h->cap) {
    size_t cap = k > 2 * h->cap ? k : 2 * h->cap;
    tsr_web_history_row *p = realloc(h->rows, cap * sizeof *p);
    if (!p) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    h->rows = p;
    h->cap = cap;
  }
  for (size_t j = 0; j < k; j++) {
    h->rows[j].day = e[j].day;
    h->rows[j].ntx = e[j].ntx;
    h->rows[j].amount = e[j].amount;
  }
  *out = h->rows;
  *n = k;
  return TSR_OK;
}

tsr_status tsr__analyze_store_history(tsr_store *st, int64_t run_id, const tsr_ledger *lg,
                                      tsr_error *err) {
  if (!st || !lg || run_id <= 0) return TSR_OK;
  size_t nc = tsr_ledger_ncustomers(lg);
  const char **ids = malloc((nc ? nc : 1) * sizeof *ids);
  if (!ids) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  for (size_t i = 0; i < nc; i++) ids[i] = tsr_ledger_customer(lg, i);
  hist_src h = {lg, NULL, 0};
  tsr_status s = tsr_web_history_load(st, run_id, ids, nc, ledger_rows, &h, err);
  free(h.rows);
  free(ids);
  if (s != TSR_OK && err && !err->msg[0])
    tsr_error_set(err, s, NULL, 0, 0, NULL, "store: customer purchase histories: %s", tsr_strerror(s));
  return s;
}
