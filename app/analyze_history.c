/*
 * analyze_history.c - the purchase history of every customer of a stored
 * run (day, purchases, amount per active day; store_web.h "history"), kept
 * by the pipeline itself so that runs made by the CLI have it as well as
 * the server's jobs (the customer pages of the web application draw it).
 * One transaction; a failure fails the run.
 */
#include <stdlib.h>

#include "internal.h"
#include "tessera/analyze.h"
#include "tessera/store_web.h"

tsr_status tsr__analyze_store_history(tsr_store *st, int64_t run_id, const tsr_ledger *lg,
                                      tsr_error *err);

tsr_status tsr__analyze_store_history(tsr_store *st, int64_t run_id, const tsr_ledger *lg,
                                      tsr_error *err) {
  if (!st || !lg || run_id <= 0) return TSR_OK;
  tsr_status s = tsr_store_begin(st, err);
  if (s != TSR_OK) return s;
  size_t cap = 0;
  tsr_web_history_row *rows = NULL;
  for (size_t i = 0; i < tsr_ledger_ncustomers(lg) && s == TSR_OK; i++) {
    size_t n = 0;
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
  if (s == TSR_OK) s = tsr_store_commit(st, err);
  else tsr_store_rollback(st, NULL);
  if (s != TSR_OK && err && !err->msg[0])
    tsr_error_set(err, s, NULL, 0, 0, NULL, "store: customer purchase histories: %s", tsr_strerror(s));
  return s;
}
