/*
 * analyze_history.h - the purchase histories of a stored run
 * (app/analyze_history.c), for store_results() of app/analyze.c.
 */
#ifndef TSR_APP_ANALYZE_HISTORY_H
#define TSR_APP_ANALYZE_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/ingest.h"
#include "tessera/store_web.h"

/* Texts of customers' histories (tsr_web_history_format) one after the
 * other in buf, each with its NUL; rows is scratch. Zero-initialise; reuse
 * by setting len = 0; release with tsr__hist_text_free. */
typedef struct tsr__hist_text {
  char *buf;
  size_t len, cap;
  tsr_web_history_row *rows;
  size_t rcap;
} tsr__hist_text;

/* Appends the text of ledger customer li's active days. OUT: *off, its
 * offset in h->buf (which may move on the next call). */
tsr_status tsr__hist_text_add(tsr__hist_text *h, const tsr_ledger *lg, size_t li, size_t *off,
                              tsr_error *err);
/* Appends the n bytes at s and a NUL (analyze's batches put each row's id
 * beside its history: the store reads one batch's texts in order). OUT:
 * *off as above. */
tsr_status tsr__hist_text_put(tsr__hist_text *h, const char *s, size_t n, size_t *off,
                              tsr_error *err);
void tsr__hist_text_free(tsr__hist_text *h);

/* Stores in the web_history table the histories of the ledger customers
 * whose skip byte is 0 (skip NULL: all), in one bulk load (joins an open
 * transaction). */
tsr_status tsr__analyze_store_history(tsr_store *st, int64_t run_id, const tsr_ledger *lg,
                                      const unsigned char *skip, tsr_error *err);

#endif
