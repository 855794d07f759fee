/*
 * ledger_feed.c - a ledger filled from customer-day aggregates through the
 * public ingest API (see ledger_feed.h).
 */
#include "internal.h"
#include "ledger_feed.h"
#include "tessera/datetime.h"

#include <float.h>
#include <stdio.h>
#include <string.h>

#define FEED_CHUNK ((size_t)4 << 20) /* CSV bytes per tsr_ingest_mem call */
#define FEED_HEADER "customer_id,date,amount\n"

/* A rejected row of the generated CSV, reported against the source (its
 * line numbers mean nothing to the user, nor does its text). */
static void feed_reject(void *ud, const tsr_reject *r) {
  tsr__lfeed *f = ud;
  if (!f->io || !f->io->on_reject) return;
  tsr_reject t = *r;
  t.source = f->name;
  t.line = 0;
  t.column = 0;
  t.raw = "";
  t.raw_len = 0;
  f->io->on_reject(f->io->ud, &t);
}

/* Adds the stats of one chunk s to the totals. */
static void stats_add(tsr_ingest_stats *a, const tsr_ingest_stats *s) {
  a->rows_read += s->rows_read;
  a->rows_accepted += s->rows_accepted;
  a->rows_rejected += s->rows_rejected;
  a->refunds += s->refunds;
  a->refund_amount += s->refund_amount;
  if (s->rows_accepted && (s->min_time < a->min_time || a->min_time == INT64_MAX))
    a->min_time = s->min_time;
  if (s->rows_accepted && (s->max_time > a->max_time || a->max_time == INT64_MIN))
    a->max_time = s->max_time;
}

static tsr_status put(tsr__lfeed *f, const char *s, size_t n) {
  if (f->len + n + 1 > f->cap) {
    void *p = f->buf;
    tsr_status st = tsr__grow(&p, &f->cap, f->len + n + 1, 1);
    if (st != TSR_OK) return st;
    f->buf = p;
  }
  memcpy(f->buf + f->len, s, n);
  f->len += n;
  return TSR_OK;
}

/* Ingests the chunk built so far. */
static tsr_status flush(tsr__lfeed *f, tsr_error *err) {
  if (f->len <= sizeof FEED_HEADER - 1) return TSR_OK;
  tsr_ingest_stats s;
  tsr_status st = tsr_ingest_mem(f->lg, f->buf, f->len, f->name, &f->feed, &s, err);
  if (st != TSR_OK) return st;
  stats_add(f->st, &s);
  f->rows += s.rows_read;
  f->len = sizeof FEED_HEADER - 1;
  if (f->io && f->io->on_progress) f->io->on_progress(f->io->ud, 0, 0, f->rows);
  const int64_t maxe = f->io ? f->io->max_errors : -1;
  if (maxe >= 0 && f->st->rows_rejected > maxe)
    return tsr_error_set(err, TSR_EMAXERR, f->name, 0, 0, NULL,
                         "more than %lld rows rejected; stopped", (long long)maxe);
  return TSR_OK;
}

/* One CSV line: the quoted customer id, the day, the amount text. */
static tsr_status put_row(tsr__lfeed *f, const char *id, size_t idlen, const char *day,
                          const char *amount) {
  if (put(f, "\"", 1)) return TSR_ENOMEM;
  for (const char *p = id, *q; p < id + idlen; p = q + 1) {
    q = memchr(p, '"', (size_t)(id + idlen - p));
    if (!q) {
      if (put(f, p, (size_t)(id + idlen - p))) return TSR_ENOMEM;
      break;
    }
    if (put(f, p, (size_t)(q - p + 1)) || put(f, "\"", 1)) return TSR_ENOMEM;
  }
  if (put(f, "\",", 2) || put(f, day, strlen(day)) || put(f, ",", 1) ||
      put(f, amount, strlen(amount)) || put(f, "\n", 1))
    return TSR_ENOMEM;
  return TSR_OK;
}

tsr_status tsr__lfeed_init(tsr__lfeed *f, tsr_ledger *lg, const char *name,
                           const tsr_ingest_opts *io, tsr_ingest_stats *st, tsr_error *err) {
  memset(f, 0, sizeof *f);
  f->lg = lg;
  f->name = name;
  f->io = io;
  f->st = st;
  memset(st, 0, sizeof *st);
  st->min_time = INT64_MAX;
  st->max_time = INT64_MIN;
  tsr_ingest_opts_init(&f->feed);
  f->feed.customer_col = "customer_id";
  f->feed.date_col = "date";
  f->feed.amount_col = "amount";
  f->feed.max_amount = DBL_MAX; /* bounded per row by the caller; a day's sum may exceed it */
  f->feed.threads = io ? io->threads : 0;
  f->feed.on_reject = feed_reject;
  f->feed.ud = f;
  if (put(f, FEED_HEADER, sizeof FEED_HEADER - 1))
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  return TSR_OK;
}

tsr_status tsr__lfeed_day(tsr__lfeed *f, const char *id, size_t idlen, int64_t day, int64_t ntx,
                          const char *purchases, int64_t nrefund, const char *refunds,
                          tsr_error *err) {
  char ds[16];
  if (day < INT32_MIN || day > INT32_MAX) snprintf(ds, sizeof ds, "%s", "out-of-range");
  else tsr_day_format(day, ds);
  for (int64_t i = 0; i < ntx; i++)
    if (put_row(f, id, idlen, ds, i == 0 ? purchases : "0")) goto oom;
  for (int64_t i = 0; i < nrefund; i++)
    if (put_row(f, id, idlen, ds, i == 0 ? refunds : "-1e-300")) goto oom;
  if (f->len >= FEED_CHUNK) return flush(f, err);
  return TSR_OK;
oom:
  return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
}

tsr_status tsr__lfeed_finish(tsr__lfeed *f, tsr_error *err) {
  tsr_status st = flush(f, err);
  tsr__free(f->buf);
  f->buf = NULL;
  if (f->st->min_time == INT64_MAX) f->st->min_time = f->st->max_time = 0;
  return st;
}

tsr_status tsr__lfeed_replace(tsr__lfeed *f, tsr_ledger *nlg, tsr_ledger **dst,
                              const tsr_ledger *keep, tsr_status st, tsr_error *err) {
  if (nlg) {
    tsr_status fst = tsr__lfeed_finish(f, st == TSR_OK ? err : NULL);
    if (st == TSR_OK) st = fst;
  }
  if (st == TSR_OK) st = tsr_ledger_finish(nlg, err);
  if (st == TSR_OK) {
    tsr_ledger_seal(nlg); /* a rebuilt ledger: nothing more is ingested */
    if (*dst != keep) tsr_ledger_free(*dst);
    *dst = nlg;
  } else {
    tsr_ledger_free(nlg);
  }
  return st;
}
