/*
 * ledger_feed.h - filling a ledger from customer-day aggregates (count and
 * sum of purchases, count and sum of refunds) through the public ingest
 * API, so that the ledger is exactly the one a file of those rows would
 * give: a day with n purchases becomes n rows (the sum, then n - 1
 * purchases of 0), with m refunds the refund sum then m - 1 refunds of
 * -1e-300 (which vanish in the sum: |refund sum| > 1e-280). Used by
 * `analyze --in-db` (analyze_indb.c) and by the re-keying of merged
 * records to their resolved id (analyze_rekey.c). App floor, internal.
 */
#ifndef TSR_APP_LEDGER_FEED_H
#define TSR_APP_LEDGER_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/ingest.h"

typedef struct tsr__lfeed {
  tsr_ledger *lg;
  const char *name;          /* source named in rejects */
  tsr_ingest_opts feed;      /* options of the generated CSV */
  const tsr_ingest_opts *io; /* the caller's: on_reject, on_progress, max_errors (may be NULL) */
  tsr_ingest_stats *st;      /* summed over the chunks */
  char *buf;
  size_t len, cap;
  int64_t rows;
} tsr__lfeed;

/* Starts feeding lg; rejects and progress go to io's callbacks (io may be
 * NULL), reported against name with line 0 and no raw text; st is reset
 * and receives the counts of the generated rows. */
tsr_status tsr__lfeed_init(tsr__lfeed *f, tsr_ledger *lg, const char *name,
                           const tsr_ingest_opts *io, tsr_ingest_stats *st, tsr_error *err);
/* One customer-day: day (days since 1970-01-01), ntx purchases summing to
 * the number text purchases, nrefund refunds summing to refunds (text). */
tsr_status tsr__lfeed_day(tsr__lfeed *f, const char *id, size_t idlen, int64_t day, int64_t ntx,
                          const char *purchases, int64_t nrefund, const char *refunds,
                          tsr_error *err);
/* Ingests what is left and releases the buffer (also after an error). */
tsr_status tsr__lfeed_finish(tsr__lfeed *f, tsr_error *err);
/* Ends a rebuild fed into nlg (st: the status so far): finishes the feed
 * and nlg (sealed), then replaces *dst with nlg on success (freeing the old *dst
 * unless it is keep: a ledger someone else still owns) or frees nlg. */
tsr_status tsr__lfeed_replace(tsr__lfeed *f, tsr_ledger *nlg, tsr_ledger **dst,
                              const tsr_ledger *keep, tsr_status st, tsr_error *err);

#endif
