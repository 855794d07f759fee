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

/* The purchase histories of a ledger drained by the summary
 * (tsr__summary_compute_drain_also with tsr__hist_pack_take), so that the
 * ledger goes before the models instead of after the store (issue 18: on
 * tx1800k 325 MB of ledger at the peak, against 66 MB of histories). Each
 * ledger customer i (tsr_ledger_customer's number) has a record at
 * buf + off[i]: for a customer without a summary row (row[i] 0) its id and
 * a NUL first, then a varint of the entries' count and each entry: a
 * zigzag varint of its day minus the previous one's (from 0), a varint of
 * ntx * 2 + (1 when the amount is raw), then the amount as a zigzag varint
 * of hundredths when it is exactly their quotient (as the history text
 * writes it), else its 8 bytes. The rows come back bit for bit. */
typedef struct tsr__hist_pack {
  unsigned char *buf;
  size_t len, cap;
  size_t *off;        /* [n] */
  unsigned char *row; /* [n] 1: the customer has a summary row */
  size_t n;
  int oom; /* a record could not be kept */
  struct tsr__hist_feed *feed; /* the packing thread (tsr__hist_pack_start), or NULL */
} tsr__hist_pack;

/* A pack for the n customers of a ledger: TSR_OK or TSR_ENOMEM. */
tsr_status tsr__hist_pack_init(tsr__hist_pack *p, size_t n, tsr_error *err);
/* Packs on a thread from here to tsr__hist_pack_end (issue 18: the drain
 * runs on one core, the other is idle meanwhile): tsr__hist_pack_take
 * only copies each customer's days (day, purchases, amount) into chunks
 * that the thread encodes. Without a thread (none could start) the pack
 * is made by tsr__hist_pack_take itself. The pack is the same either way. */
void tsr__hist_pack_start(tsr__hist_pack *p);
/* The drain's hook (tsr__drain_also_fn; ud the pack): keeps customer i's
 * record (p->oom on failure). */
void tsr__hist_pack_take(void *ud, size_t i, const char *id, const tsr_ledger_entry *e, size_t k,
                         int has_row);
/* Waits for the packing thread (if any): the pack is complete (or
 * p->oom). Safe to call again. */
void tsr__hist_pack_end(tsr__hist_pack *p);
/* Ends the thread (tsr__hist_pack_end) and frees the pack. */
void tsr__hist_pack_free(tsr__hist_pack *p);

/* Starts loading customer i's record (i < p->n; else nothing): the
 * records are in the drain's order, read in the customers' order (a
 * cache miss each, issue 18). */
void tsr__hist_pack_prefetch(const tsr__hist_pack *p, size_t i);

/* Appends the text of customer i's history from a pack; as
 * tsr__hist_text_add. */
tsr_status tsr__hist_text_add_pack(tsr__hist_text *h, const tsr__hist_pack *p, size_t i,
                                   size_t *off, tsr_error *err);

/* Stores in the web_history table the histories of the ledger customers
 * whose skip byte is 0 (skip NULL: all), in one bulk load (joins an open
 * transaction); from lg, or when it is NULL from the pack hp. */
tsr_status tsr__analyze_store_history(tsr_store *st, int64_t run_id, const tsr_ledger *lg,
                                      const tsr__hist_pack *hp, const unsigned char *skip,
                                      tsr_error *err);

#endif
