/*
 * analyze_history.c - the purchase history of every customer of a stored
 * run (day, purchases, amount per active day; store_web.h "history"), kept
 * by the pipeline itself so that runs made by the CLI have it as well as
 * the server's jobs (the customer pages of the web application draw it).
 *
 * Since schema version 4 a customer's history is a compact text in its own
 * row (customers.history, tsr_web_history_format), written with the row by
 * store_results() of app/analyze.c: no table of one row per active day.
 * Ledger customers without a customers row (refunds only, or purchases
 * only after the observation end) keep theirs in web_history: one bulk
 * load (tsr_web_history_load: in key order, COPY on PostgreSQL, multi-row
 * INSERTs on SQLite) in the run's store transaction; a failure fails the
 * run.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "analyze_history.h"
#include "tessera/analyze.h"

/* Customer i's active days as history rows (in a buffer reused). */
static tsr_status entries_rows(const tsr_ledger *lg, size_t i, tsr_web_history_row **rows,
                               size_t *cap, size_t *n, tsr_error *err) {
  size_t k = tsr__ledger_nentries(lg, i); /* at least the entries' count */
  tsr_ledger_entry *e = malloc((k ? k : 1) * sizeof *e);
  if (!e) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  (void)tsr__ledger_decode(lg, i, e, &k);
  if (k > *cap) {
    size_t c = k > 2 * *cap ? k : 2 * *cap;
    tsr_web_history_row *p = realloc(*rows, c * sizeof *p);
    if (!p) {
      free(e);
      return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
    *rows = p;
    *cap = c;
  }
  for (size_t j = 0; j < k; j++) {
    (*rows)[j].day = e[j].day;
    (*rows)[j].ntx = e[j].ntx;
    (*rows)[j].amount = e[j].amount;
  }
  free(e);
  *n = k;
  return TSR_OK;
}

tsr_status tsr__hist_text_add(tsr__hist_text *h, const tsr_ledger *lg, size_t li, size_t *off,
                              tsr_error *err) {
  size_t k = 0;
  tsr_status st = entries_rows(lg, li, &h->rows, &h->rcap, &k, err);
  if (st != TSR_OK) return st;
  size_t need = k * TSR_WEB_HISTORY_ENTRY_MAX + 1;
  if (h->cap - h->len < need) {
    size_t c = h->cap * 2 > h->len + need ? h->cap * 2 : h->len + need + 65536;
    char *p = realloc(h->buf, c);
    if (!p) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    h->buf = p;
    h->cap = c;
  }
  size_t len = tsr_web_history_format(h->rows, k, h->buf + h->len, h->cap - h->len);
  if (len == SIZE_MAX) return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: history text too long");
  *off = h->len;
  h->len += len + 1;
  return TSR_OK;
}

tsr_status tsr__hist_text_put(tsr__hist_text *h, const char *s, size_t n, size_t *off,
                              tsr_error *err) {
  if (h->cap - h->len < n + 1) {
    size_t c = h->cap * 2 > h->len + n + 1 ? h->cap * 2 : h->len + n + 1 + 65536;
    char *p = realloc(h->buf, c);
    if (!p) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    h->buf = p;
    h->cap = c;
  }
  memcpy(h->buf + h->len, s, n);
  h->buf[h->len + n] = '\0';
  *off = h->len;
  h->len += n + 1;
  return TSR_OK;
}

void tsr__hist_text_free(tsr__hist_text *h) {
  free(h->buf);
  free(h->rows);
  memset(h, 0, sizeof *h);
}

typedef struct hist_src {
  const tsr_ledger *lg;
  const size_t *idx; /* ledger index of customer i */
  tsr_web_history_row *rows;
  size_t cap;
} hist_src;

/* Customer i's active days as history rows (in a buffer reused). */
static tsr_status ledger_rows(void *ctx, size_t i, const tsr_web_history_row **out, size_t *n,
                              tsr_error *err) {
  hist_src *h = ctx;
  if (!out) { /* a hint: customer i comes soon */
    tsr__ledger_prefetch(h->lg, h->idx[i], (int)*n);
    return TSR_OK;
  }
  tsr_status st = entries_rows(h->lg, h->idx[i], &h->rows, &h->cap, n, err);
  *out = h->rows;
  return st;
}

tsr_status tsr__analyze_store_history(tsr_store *st, int64_t run_id, const tsr_ledger *lg,
                                      const unsigned char *skip, tsr_error *err) {
  if (!st || !lg || run_id <= 0) return TSR_OK;
  size_t nl = tsr_ledger_ncustomers(lg), nc = 0;
  for (size_t i = 0; i < nl; i++) nc += !(skip && skip[i]);
  if (nc == 0) return TSR_OK;
  const char **ids = malloc(nc * sizeof *ids);
  size_t *idx = malloc(nc * sizeof *idx);
  if (!ids || !idx) {
    free(ids);
    free(idx);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  for (size_t i = 0, k = 0; i < nl; i++)
    if (!(skip && skip[i])) {
      ids[k] = tsr_ledger_customer(lg, i);
      idx[k++] = i;
    }
  hist_src h = {lg, idx, NULL, 0};
  tsr_status s = tsr_web_history_load(st, run_id, ids, nc, ledger_rows, &h, err);
  free(h.rows);
  free(ids);
  free(idx);
  if (s != TSR_OK && err && !err->msg[0])
    tsr_error_set(err, s, NULL, 0, 0, NULL, "store: customer purchase histories: %s", tsr_strerror(s));
  return s;
}
