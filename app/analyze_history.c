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
 *
 * A run that frees its ledger after the summary (release_ledger) takes the
 * histories from a pack made while the summary drains the ledger
 * (tsr__hist_pack, analyze_history.h): 5 bytes an active day instead of
 * the ledger's 16 and its 64 bytes a customer, and the same rows. The
 * pack is encoded on its own thread while the drain runs (the drain only
 * copies each customer's days into chunks for it), and the row-fill
 * thread prefetches its records ahead: they are in the drain's order,
 * read in the customers' order.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "analyze_history.h"
#include "tessera/analyze.h"

/* Room for k rows in *rows (of *cap): 0, or -1 when out of memory. */
static int rows_room(tsr_web_history_row **rows, size_t *cap, size_t k) {
  if (k <= *cap) return 0;
  size_t c = k > 2 * *cap ? k : 2 * *cap;
  tsr_web_history_row *p = realloc(*rows, c * sizeof *p);
  if (!p) return -1;
  *rows = p;
  *cap = c;
  return 0;
}

/* Customer i's active days as history rows (in a buffer reused). */
static tsr_status entries_rows(const tsr_ledger *lg, size_t i, tsr_web_history_row **rows,
                               size_t *cap, size_t *n, tsr_error *err) {
  size_t k = tsr__ledger_nentries(lg, i); /* at least the entries' count */
  tsr_ledger_entry *e = malloc((k ? k : 1) * sizeof *e);
  if (!e) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  (void)tsr__ledger_decode(lg, i, e, &k);
  if (rows_room(rows, cap, k)) {
    free(e);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
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

/* ------------------------------------------------------------ the pack */

static unsigned char *put_uv(unsigned char *w, uint64_t v) {
  while (v >= 0x80) {
    *w++ = (unsigned char)(v | 0x80);
    v >>= 7;
  }
  *w++ = (unsigned char)v;
  return w;
}

static const unsigned char *get_uv(const unsigned char *r, uint64_t *v) {
  uint64_t x = 0;
  for (int s = 0;; s += 7) {
    unsigned char b = *r++;
    x |= (uint64_t)(b & 0x7F) << s;
    if (!(b & 0x80)) break;
  }
  *v = x;
  return r;
}

static uint64_t zz(int64_t v) {
  return ((uint64_t)v << 1) ^ (uint64_t) - (int64_t)((uint64_t)v >> 63);
}
static int64_t unzz(uint64_t u) { return (int64_t)(u >> 1) ^ -(int64_t)(u & 1); }

/* The hundredths of a, when a is exactly their quotient (the history
 * text's test: tsr_web_history_format): 1 and *c, else 0. */
static int cents_of(double a, int64_t *c) {
  if (!(isfinite(a) && fabs(a) < 9e13)) return 0;
  int64_t v = (int64_t)llround(a * 100);
  if ((double)v / 100.0 != a || (v == 0 && signbit(a))) return 0;
  *c = v;
  return 1;
}

/* The most bytes of an entry: two varints of 64 bits, 8 raw bytes. */
#define PACK_ENTRY_MAX 28

tsr_status tsr__hist_pack_init(tsr__hist_pack *p, size_t n, tsr_error *err) {
  memset(p, 0, sizeof *p);
  p->n = n;
  /* written at random (the customers come in the drain's order): on 2 MiB
   * pages, as the pack itself (pack_put) */
  p->off = tsr__malloc_big((n ? n : 1) * sizeof *p->off);
  p->row = tsr__malloc_big(n ? n : 1);
  if (p->row) memset(p->row, 0, n ? n : 1);
  if (!p->off || !p->row) {
    tsr__hist_pack_free(p);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  return TSR_OK;
}

/* One day of a customer as the pack needs it (the thread's input). */
typedef struct pack_day {
  int32_t day;
  uint32_t ntx;
  double amount;
} pack_day;

/* Customer i's record from k days; as tsr__hist_pack_take. */
static void pack_put(tsr__hist_pack *p, size_t i, const char *id, const pack_day *e, size_t k,
                     int has_row) {
  if (p->oom || i >= p->n) return;
  size_t idl = has_row ? 0 : strlen(id) + 1;
  if (k > (SIZE_MAX - 64 - idl) / PACK_ENTRY_MAX) {
    p->oom = 1;
    return;
  }
  size_t need = idl + 10 + k * PACK_ENTRY_MAX;
  if (p->cap - p->len < need) {
    /* large blocks are mapped (cmd_analyze.c's M_MMAP_THRESHOLD): growing
     * moves no bytes */
    size_t c =
        p->cap + p->cap / 2 > p->len + need ? p->cap + p->cap / 2 : p->len + need + (1 << 20);
    unsigned char *b = tsr__realloc(p->buf, c);
    if (!b) {
      p->oom = 1;
      return;
    }
    /* its fresh pages fault 2 MiB at a time: 4 KiB ones were 8 % of
     * analyze's page faults on tx1800k */
    tsr__advise_huge(b, c);
    p->buf = b;
    p->cap = c;
  }
  p->off[i] = p->len;
  p->row[i] = (unsigned char)(has_row != 0);
  unsigned char *w = p->buf + p->len;
  memcpy(w, id, idl);
  w = put_uv(w + idl, k);
  int64_t prev = 0;
  for (size_t j = 0; j < k; j++) {
    int64_t c = 0;
    int cents = cents_of(e[j].amount, &c);
    w = put_uv(w, zz((int64_t)e[j].day - prev));
    prev = e[j].day;
    w = put_uv(w, (uint64_t)e[j].ntx << 1 | (uint64_t)!cents);
    if (cents) {
      w = put_uv(w, zz(c));
    } else {
      memcpy(w, &e[j].amount, sizeof e[j].amount);
      w += sizeof e[j].amount;
    }
  }
  p->len = (size_t)(w - p->buf);
}

/* ------------------------------------------------------------ the packing thread */

/* The drain copies each customer's days into a chunk: a header (its
 * number, days, summary row, id length), its id when it has no row
 * (padded to 8 bytes), then its days; full chunks go to the thread in
 * order through a ring of FEED_CHUNKS, which the drain waits on when all
 * are full. A customer larger than a chunk is packed by the drain itself
 * once the thread has caught up (the records' places are their own: off). */
#define FEED_CHUNKS 4
#define FEED_BYTES (1u << 20)

typedef struct feed_head {
  size_t i, k, idl; /* idl: the id's bytes with its NUL, 0 with a row */
  int has_row;
} feed_head;

typedef struct tsr__hist_feed {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv; /* a chunk filled, a chunk freed, the end */
  unsigned char *chunk[FEED_CHUNKS];
  size_t used[FEED_CHUNKS];
  size_t head, tail; /* chunks handed over (head) and packed (tail), counting */
  int done;          /* the drain has ended */
  size_t fill;       /* the drain's chunk: head % FEED_CHUNKS; fill bytes in it */
} tsr__hist_feed;

static size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

static void feed_chunk(tsr__hist_pack *p, const unsigned char *c, size_t n) {
  for (size_t at = 0; at < n;) {
    feed_head h;
    memcpy(&h, c + at, sizeof h);
    at += sizeof h;
    const char *id = (const char *)c + at;
    at += pad8(h.idl);
    pack_put(p, h.i, h.idl ? id : "", (const pack_day *)(const void *)(c + at), h.k, h.has_row);
    at += h.k * sizeof(pack_day);
  }
}

static void *feed_main(void *arg) {
  tsr__hist_pack *p = arg;
  tsr__hist_feed *f = p->feed;
  pthread_mutex_lock(&f->mu);
  for (;;) {
    while (f->tail == f->head && !f->done) pthread_cond_wait(&f->cv, &f->mu);
    if (f->tail == f->head) break;
    size_t c = f->tail % FEED_CHUNKS;
    pthread_mutex_unlock(&f->mu);
    feed_chunk(p, f->chunk[c], f->used[c]);
    pthread_mutex_lock(&f->mu);
    f->tail++;
    pthread_cond_broadcast(&f->cv);
  }
  pthread_mutex_unlock(&f->mu);
  return NULL;
}

void tsr__hist_pack_start(tsr__hist_pack *p) {
  tsr__hist_feed *f = tsr__calloc(1, sizeof *f);
  if (!f) return;
  int ok = 1;
  for (int c = 0; c < FEED_CHUNKS && ok; c++) ok = (f->chunk[c] = tsr__malloc(FEED_BYTES)) != NULL;
  int mu = ok && pthread_mutex_init(&f->mu, NULL) == 0;
  int cv = mu && pthread_cond_init(&f->cv, NULL) == 0;
  p->feed = f;
  if (!cv || pthread_create(&f->th, NULL, feed_main, p) != 0) {
    if (cv) pthread_cond_destroy(&f->cv);
    if (mu) pthread_mutex_destroy(&f->mu);
    for (int c = 0; c < FEED_CHUNKS; c++) tsr__free(f->chunk[c]);
    tsr__free(f);
    p->feed = NULL; /* packed by the drain itself */
  }
}

/* Hands the drain's chunk to the thread (if it holds anything) and waits
 * for a free one; all: waits until the thread has packed every chunk. */
static void feed_flush(tsr__hist_feed *f, int all) {
  pthread_mutex_lock(&f->mu);
  if (f->fill) {
    f->used[f->head % FEED_CHUNKS] = f->fill;
    f->head++;
    f->fill = 0;
    pthread_cond_broadcast(&f->cv);
  }
  while (all ? f->tail != f->head : f->head - f->tail == FEED_CHUNKS)
    pthread_cond_wait(&f->cv, &f->mu);
  pthread_mutex_unlock(&f->mu);
}

void tsr__hist_pack_take(void *ud, size_t i, const char *id, const tsr_ledger_entry *e, size_t k,
                         int has_row) {
  tsr__hist_pack *p = ud;
  tsr__hist_feed *f = p->feed;
  size_t idl = has_row ? 0 : strlen(id) + 1;
  if (f && k <= (FEED_BYTES - sizeof(feed_head) - pad8(idl)) / sizeof(pack_day)) {
    size_t need = sizeof(feed_head) + pad8(idl) + k * sizeof(pack_day);
    if (FEED_BYTES - f->fill < need) feed_flush(f, 0);
    unsigned char *w = f->chunk[f->head % FEED_CHUNKS] + f->fill;
    feed_head h = {i, k, idl, has_row};
    memcpy(w, &h, sizeof h);
    w += sizeof h;
    memcpy(w, id, idl);
    w += pad8(idl);
    pack_day *d = (pack_day *)(void *)w;
    for (size_t j = 0; j < k; j++) {
      d[j].day = e[j].day;
      d[j].ntx = e[j].ntx;
      d[j].amount = e[j].amount;
    }
    f->fill += need;
    return;
  }
  if (f) feed_flush(f, 1); /* a very large customer: here, the thread idle */
  pack_day buf[64];
  pack_day *d = k <= 64 ? buf : tsr__malloc(k * sizeof *d);
  if (!d) {
    p->oom = 1;
    return;
  }
  for (size_t j = 0; j < k; j++) {
    d[j].day = e[j].day;
    d[j].ntx = e[j].ntx;
    d[j].amount = e[j].amount;
  }
  pack_put(p, i, id, d, k, has_row);
  if (d != buf) tsr__free(d);
}

void tsr__hist_pack_end(tsr__hist_pack *p) {
  tsr__hist_feed *f = p->feed;
  if (!f) return;
  feed_flush(f, 1);
  pthread_mutex_lock(&f->mu);
  f->done = 1;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
  pthread_join(f->th, NULL);
  pthread_cond_destroy(&f->cv);
  pthread_mutex_destroy(&f->mu);
  for (int c = 0; c < FEED_CHUNKS; c++) tsr__free(f->chunk[c]);
  tsr__free(f);
  p->feed = NULL;
}

void tsr__hist_pack_free(tsr__hist_pack *p) {
  tsr__hist_pack_end(p);
  tsr__free(p->buf);
  tsr__free(p->off);
  tsr__free(p->row);
  memset(p, 0, sizeof *p);
}

void tsr__hist_pack_prefetch(const tsr__hist_pack *p, size_t i) {
  if (i >= p->n) return;
  const unsigned char *r = p->buf + p->off[i];
  __builtin_prefetch(r);
  __builtin_prefetch(r + 63); /* a record of a few dozen bytes may cross a line */
}

/* Customer i's id, when it has no summary row. */
static const char *pack_id(const tsr__hist_pack *p, size_t i) {
  return (const char *)p->buf + p->off[i];
}

/* Customer i's rows from the pack (in a buffer reused). */
static tsr_status pack_rows(const tsr__hist_pack *p, size_t i, tsr_web_history_row **rows,
                            size_t *cap, size_t *n, tsr_error *err) {
  const unsigned char *r = p->buf + p->off[i];
  if (!p->row[i]) r += strlen((const char *)r) + 1;
  uint64_t k;
  r = get_uv(r, &k);
  if (rows_room(rows, cap, (size_t)k))
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  int64_t day = 0;
  for (size_t j = 0; j < k; j++) {
    tsr_web_history_row *o = &(*rows)[j];
    uint64_t v;
    r = get_uv(r, &v);
    o->day = day += unzz(v);
    r = get_uv(r, &v);
    o->ntx = (int64_t)(v >> 1);
    if (v & 1) {
      memcpy(&o->amount, r, sizeof o->amount);
      r += sizeof o->amount;
    } else {
      r = get_uv(r, &v);
      o->amount = (double)unzz(v) / 100.0;
    }
  }
  *n = (size_t)k;
  return TSR_OK;
}

/* ------------------------------------------------------------ texts */

/* Appends the text of the k rows in h->rows. */
static tsr_status text_add_rows(tsr__hist_text *h, size_t k, size_t *off, tsr_error *err) {
  size_t need = k * TSR_WEB_HISTORY_ENTRY_MAX + 1;
  if (h->cap - h->len < need) {
    size_t c = h->cap * 2 > h->len + need ? h->cap * 2 : h->len + need + 65536;
    char *p = realloc(h->buf, c);
    if (!p) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    h->buf = p;
    h->cap = c;
  }
  size_t len = tsr_web_history_format(h->rows, k, h->buf + h->len, h->cap - h->len);
  if (len == SIZE_MAX)
    return tsr_error_set(err, TSR_ESTORE, NULL, 0, 0, NULL, "store: history text too long");
  *off = h->len;
  h->len += len + 1;
  return TSR_OK;
}

tsr_status tsr__hist_text_add(tsr__hist_text *h, const tsr_ledger *lg, size_t li, size_t *off,
                              tsr_error *err) {
  size_t k = 0;
  tsr_status st = entries_rows(lg, li, &h->rows, &h->rcap, &k, err);
  return st == TSR_OK ? text_add_rows(h, k, off, err) : st;
}

tsr_status tsr__hist_text_add_pack(tsr__hist_text *h, const tsr__hist_pack *p, size_t i,
                                   size_t *off, tsr_error *err) {
  size_t k = 0;
  tsr_status st = pack_rows(p, i, &h->rows, &h->rcap, &k, err);
  return st == TSR_OK ? text_add_rows(h, k, off, err) : st;
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
  const tsr_ledger *lg; /* or */
  const tsr__hist_pack *hp;
  const size_t *idx; /* ledger index of customer i */
  tsr_web_history_row *rows;
  size_t cap;
} hist_src;

/* Customer i's active days as history rows (in a buffer reused). */
static tsr_status ledger_rows(void *ctx, size_t i, const tsr_web_history_row **out, size_t *n,
                              tsr_error *err) {
  hist_src *h = ctx;
  if (!out) { /* a hint: customer i comes soon */
    if (h->lg) tsr__ledger_prefetch(h->lg, h->idx[i], (int)*n);
    return TSR_OK;
  }
  tsr_status st = h->lg ? entries_rows(h->lg, h->idx[i], &h->rows, &h->cap, n, err)
                        : pack_rows(h->hp, h->idx[i], &h->rows, &h->cap, n, err);
  *out = h->rows;
  return st;
}

tsr_status tsr__analyze_store_history(tsr_store *st, int64_t run_id, const tsr_ledger *lg,
                                      const tsr__hist_pack *hp, const unsigned char *skip,
                                      tsr_error *err) {
  if (!st || (!lg && !hp) || run_id <= 0) return TSR_OK;
  size_t nl = lg ? tsr_ledger_ncustomers(lg) : hp->n, nc = 0;
  /* from a pack, only customers without a row: their ids are in it */
  for (size_t i = 0; i < nl; i++) nc += !(skip && skip[i]) && (lg || !hp->row[i]);
  if (nc == 0) return TSR_OK;
  const char **ids = malloc(nc * sizeof *ids);
  size_t *idx = malloc(nc * sizeof *idx);
  if (!ids || !idx) {
    free(ids);
    free(idx);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  for (size_t i = 0, k = 0; i < nl; i++)
    if (!(skip && skip[i]) && (lg || !hp->row[i])) {
      ids[k] = lg ? tsr_ledger_customer(lg, i) : pack_id(hp, i);
      idx[k++] = i;
    }
  hist_src h = {lg, lg ? NULL : hp, idx, NULL, 0};
  tsr_status s = tsr_web_history_load(st, run_id, ids, nc, ledger_rows, &h, err);
  free(h.rows);
  free(ids);
  free(idx);
  if (s != TSR_OK && err && !err->msg[0])
    tsr_error_set(err, s, NULL, 0, 0, NULL, "store: customer purchase histories: %s",
                  tsr_strerror(s));
  return s;
}
