/*
 * ingest.c - transaction logs into a per-customer ledger (see
 * tessera/ingest.h).
 *
 * Each record: field count checked against the header, customer id (trimmed,
 * non-empty, valid UTF-8, no NUL, at most TSR_INGEST_MAX_ID bytes), date
 * (tessera/datetime.h), amount (tsr_amount_parse, lib/ingest/amount.c),
 * optional transaction id (while the ids come in order, with a single
 * input that can be read again, no row is hashed for them: the first id
 * out of order reads the input again up to it, lazy_rebuild). Parsed rows
 * are queued in a batch of compact
 * tuples; a full batch is applied to the ledger (lib/ingest/ledger.c) with
 * software prefetching (customer table entry BATCH_D1 rows ahead, the
 * customer BATCH_D0 rows ahead, the customer's last entry BATCH_D2 rows
 * ahead), so the cache misses of many rows overlap
 * instead of adding up. With more than PIPE_MIN_BYTES of input a second
 * thread applies the batches while the first parses; while the applying
 * thread has used more CPU time, the parser also zeroes the ledger's next
 * fresh blocks for it (tsr__ready_fill, ledger_internal.h). Parsing is
 * not split across threads: the two threads' CPU times end within about
 * 10 % of each other, so on two cores a third thread would not shorten
 * the ingest (docs/performance.md).
 */
#include "ledger_internal.h"
#include "tessera/datetime.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

void tsr_ingest_opts_init(tsr_ingest_opts *o) {
  memset(o, 0, sizeof *o);
  tsr_csv_opts_init(&o->csv);
  o->header = 1;
  o->max_errors = -1;
}

/* Length of the valid UTF-8 prefix of s[0..n). */
static size_t utf8_valid_prefix(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      k = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      k = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      k = 3;
      cp = c & 0x07;
    } else {
      return i;
    }
    for (size_t j = 1; j <= k; j++) {
      if (i + j >= n || (s[i + j] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (s[i + j] & 0x3F);
    }
    if ((k == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
      return i;
    i += k + 1;
  }
  return i;
}

/* 'value' for messages: at most 40 bytes, non-printables as \xHH. */
static const char *fmt_got(char *buf, size_t cap, const char *s, size_t len) {
  size_t o = 0;
  for (size_t i = 0; i < len && o + 6 < cap; i++) {
    unsigned char c = (unsigned char)s[i];
    if (i >= 40) {
      o += (size_t)snprintf(buf + o, cap - o, "...");
      break;
    }
    if (c < 0x20 || c == 0x7F || c == '\'' || c == '\\') {
      o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
    } else {
      buf[o++] = (char)c;
    }
  }
  buf[o] = '\0';
  return buf;
}

/* ------------------------------------------------------------ ingestion */

/* A parsed row waiting in the batch. */
typedef struct pending {
  uint64_t ch;     /* customer id hash (set in apply_batch) */
  uint64_t rh;     /* row content hash */
  cust *c;         /* resolved in apply_batch */
  int64_t t;       /* epoch seconds */
  double amount;
  uint32_t id_off, id_len; /* customer id in the batch arena */
} pending;

#define BATCH 4096
#define BATCH_D1 24 /* rows ahead: prefetch the customer table entry */
#define BATCH_D0 12 /* rows ahead: prefetch the customer that entry names */
#define BATCH_D2 8  /* rows ahead: resolve the customer, prefetch its last entry */

typedef struct batch {
  size_t n, used;
  pending p[BATCH];
  char arena[BATCH * (TSR_INGEST_MAX_ID + 1)];
} batch;

/* A parsed row whose transaction id is checked RING rows later, so that
 * the id table's slot (a cache miss on a large file) is fetched while
 * the rows in between are parsed. Its pointers are into the read buffer:
 * the ring is emptied before anything that may move it (tsr_csv_next) and
 * before any reject, so rejects keep the order of the file. */
#define RING 16
typedef struct staged {
  const char *cid, *tid, *raw;
  size_t clen, tlen, raw_len;
  uint64_t key, content; /* content 0: not made (the ledger's seq_lazy) */
  int64_t t, tline, tcol, ord, off;
  double amount;
  const tsr_csv_record *rec; /* the record, while commit runs from do_record
                                (NULL in the ring), and its stable */
  int stable;
} staged;

/* Two-thread pipeline: the calling thread parses rows into batches, a
 * worker applies them to the ledger in the same order. */
#define NBATCH 4
#define PIPE_MIN_BYTES ((int64_t)256 << 10)

typedef struct pipeline {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;       /* a batch was queued, freed, or the run ended */
  batch *full[NBATCH + 1]; /* FIFO of parsed batches (the ingest's own batch
                              plus NBATCH more circulate) */
  size_t full_head, full_n;
  batch *spare[NBATCH + 1]; /* applied batches, free for parsing */
  size_t spare_n;
  batch *all[NBATCH];
  int done;                /* the parser has queued its last batch */
  _Atomic int64_t worker_ns; /* the worker's CPU time after its last batch */
  int64_t parser_ns0;      /* the parsing thread's CPU time at the start */
  int failed;              /* the worker ran out of memory */
} pipeline;

typedef struct ictx {
  tsr_ledger *lg;
  const tsr_ingest_opts *o;
  tsr_ingest_stats *st;
  tsr_csv *csv;
  size_t nfields;      /* expected per record */
  ptrdiff_t ci, di, ai, ti; /* column indexes (-1 = none) */
  char names[4][64];
  batch *b;
  char *scratch;       /* canonical row text for hashing */
  size_t scratch_cap;
  pipeline *pp;        /* NULL: one thread */
  struct staged *ring; /* parsed rows waiting for the transaction id check */
  size_t ring_head, ring_n;
  int committing;      /* inside commit(): a reject must not flush the ring */
  tsr__date_memo dmemo; /* the last row's date and its day */
  ptrdiff_t ki;        /* the currency column while watched (-1 = not) */
  /* The input again, for the content hashes of the ledger's seq_lazy
   * (ledger_internal.h): a regular file's path, or a buffer (src_path
   * NULL); neither: the hashes are kept as the rows come. */
  const char *src_path;
  const char *src_buf;
  size_t src_len;
  /* while seq_lazy: the records (rows_read numbers, ascending) that did
   * not reach tsr__ids_append (rejects), the rows the rebuild skips */
  int64_t *gaps;
  size_t ngaps, gaps_cap;
  tsr_error lazy_err; /* the rebuild's error (code TSR_OK: none) */
} ictx;

void tsr__trim(const char **p, size_t *n) {
  while (*n && isspace((unsigned char)**p)) {
    (*p)++;
    (*n)--;
  }
  while (*n && isspace((unsigned char)(*p)[*n - 1])) (*n)--;
}

static tsr_status reject(ictx *x, const tsr_csv_record *rec, tsr_status code, int64_t line,
                         int64_t col, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static tsr_status ring_flush(ictx *x);

static tsr_status reject(ictx *x, const tsr_csv_record *rec, tsr_status code, int64_t line,
                         int64_t col, const char *field, const char *fmt, ...) {
  if (x->ring_n && !x->committing) {
    /* the rows before this one first: their rejects come first */
    tsr_status fs = ring_flush(x);
    if (fs != TSR_OK) return fs;
  }
  char reason[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  x->st->rows_rejected++;
  if (x->o->on_reject) {
    tsr_reject r = {code, tsr_csv_name(x->csv), line, col, field ? field : "", reason,
                    rec->raw, rec->raw_len};
    x->o->on_reject(x->o->ud, &r);
  }
  if (x->o->max_errors >= 0 && x->st->rows_rejected > x->o->max_errors) return TSR_EMAXERR;
  return TSR_OK;
}

/* Nonzero when a byte of w is below 0x21 or above 0x7E: the exact tests
 * "has a byte less than n" and "has a byte more than n" (Bit Twiddling
 * Hacks, hasless and hasmore; exact as to whether any byte is). */
static inline uint64_t word_not_graphic(uint64_t w) {
  const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
  return (((w - ones * 0x21) & ~w) | ((w + ones * (127 - 0x7E)) | w)) & high;
}

/* 1 when s[0..n) (n >= 1) is printable ASCII without spaces (0x21..0x7E):
 * 8 bytes a step (the last word overlapping), instead of a loop a byte
 * whose exit was mispredicted twice a row (customer and transaction id). */
static inline int id_graphic(const char *s, size_t n) {
  if (n >= 4 && n < 8) {
    /* two overlapping half words in one word (the bank file's 7-byte
     * customer ids: a byte loop before, 40 instructions a row) */
    uint32_t lo, hi;
    memcpy(&lo, s, 4);
    memcpy(&hi, s + n - 4, 4);
    return !word_not_graphic((uint64_t)hi << 32 | lo);
  }
  if (n < 8) {
    size_t i = 0;
    while (i < n && (unsigned char)(s[i] - 0x21) < 0x5E) i++;
    return i == n;
  }
  uint64_t w, bad = 0;
  for (size_t i = 0; i + 8 < n; i += 8) {
    memcpy(&w, s + i, 8);
    bad |= word_not_graphic(w);
  }
  memcpy(&w, s + n - 8, 8);
  return !(bad | word_not_graphic(w));
}

/* check_id's trim and checks of an id that is not all printable ASCII. */
static __attribute__((noinline)) int check_id_slow(ictx *x, const tsr_csv_record *rec, size_t fi,
                                                   const char *name, const char **p, size_t *n,
                                                   tsr_status *st) {
  const tsr_csv_field *f = &rec->fields[fi];
  char got[200];
  tsr__trim(p, n);
  if (*n == 0) {
    *st = reject(x, rec, TSR_EPARSE, f->line, f->column, name, "expected an id, got ''");
    return -1;
  }
  if (memchr(*p, '\0', *n)) {
    *st = reject(x, rec, TSR_EPARSE, f->line, f->column, name,
                 "expected text without NUL bytes, got '%s'", fmt_got(got, sizeof got, *p, *n));
    return -1;
  }
  if (*n > TSR_INGEST_MAX_ID) {
    *st = reject(x, rec, TSR_ELIMIT, f->line, f->column, name,
                 "expected at most %d bytes, got %zu", TSR_INGEST_MAX_ID, *n);
    return -1;
  }
  size_t ok = utf8_valid_prefix((const unsigned char *)*p, *n);
  if (ok != *n) {
    *st = reject(x, rec, TSR_EPARSE, f->line, f->column + (int64_t)ok + (int64_t)(*p - f->ptr),
                 name, "expected valid UTF-8, got byte \\x%02x",
                 (unsigned char)(*p)[ok]);
    return -1;
  }
  return 0;
}

/* Text field checks shared by the customer and transaction ids: *p, *n
 * the id (trimmed), 0; or -1 with *st the reject's status. Printable
 * ASCII without spaces, the common id, has nothing to trim or check
 * (here, inline; the rest in check_id_slow). */
static inline int check_id(ictx *x, const tsr_csv_record *rec, size_t fi, const char *name,
                           const char **p, size_t *n, tsr_status *st) {
  const tsr_csv_field *f = &rec->fields[fi];
  *p = f->ptr;
  *n = f->len;
  if (*n && *n <= TSR_INGEST_MAX_ID && id_graphic(*p, *n)) return 0;
  return check_id_slow(x, rec, fi, name, p, n, st);
}

static inline int is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* The two halves of the 128-bit product of a and b, xored. */
static inline uint64_t mum(uint64_t a, uint64_t b) {
  unsigned __int128 r = (unsigned __int128)a * b;
  return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* 64-bit hash of a row's text for the identical-row and id checks (only
 * compared within one process, never stored): two independent lanes, each
 * folding 16 bytes with one 64x64->128-bit multiply (as wyhash does), so
 * that a 100-byte row costs about 60 instructions (the four lanes of two
 * multiplies and a rotation per 8 bytes before: 140). The keys K1, K2 have
 * every byte's top bit set, so a word of ASCII text never cancels them
 * (a zero factor would drop the other word); a lane's state is added back
 * so that no block can erase what came before it. */
static uint64_t text_hash(const char *p, size_t n, uint64_t seed) {
  const uint64_t K1 = 0x9EB7F9B9FFCAFC95ULL, K2 = 0xC2B2BEBDA7FECFCFULL;
  if (n < 32) return tsr__hash_bytes_inline(p, n, seed);
  uint64_t a = seed ^ n, b = seed + K2;
  const char *end = p + n;
  uint64_t w[4];
  while (end - p > 32) {
    memcpy(w, p, 32);
    a += mum(w[0] ^ K1, w[1] ^ a);
    b += mum(w[2] ^ K2, w[3] ^ b);
    p += 32;
  }
  /* the last 32 bytes (overlapping; the length is in the seed) */
  memcpy(w, end - 32, 32);
  a += mum(w[0] ^ K1, w[1] ^ a);
  b += mum(w[2] ^ K2, w[3] ^ b);
  return mum(a ^ K2, b ^ K1) ^ a;
}

/* 64-bit hash of a row's content: its trimmed, unquoted fields. Rows are
 * identical when these fields are. The hashed text is the fields joined by
 * the delimiter, each quoted CSV-style when it holds the delimiter, a quote,
 * a line end (or, with the whitespace delimiter, a space or tab) - an
 * injective encoding, which for the common row (no quotes, nothing to trim)
 * is the raw record itself. Never 0; 0 means out of memory. */
static uint64_t row_hash(ictx *x, const tsr_csv_record *rec, int stable) {
  const int ws = x->o->csv.delim == TSR_CSV_WS;
  /* a record of the fast reader (stable) holds no quote; stable == 1:
   * no field of it starts or ends with a space (tsr__csv_next_fast) */
  int plain = !ws && (stable || !memchr(rec->raw, '"', rec->raw_len));
  for (size_t k = 0; plain && stable != 1 && k < rec->nfields; k++) {
    const tsr_csv_field *f = &rec->fields[k];
    if (f->quoted || (f->len && (is_space((unsigned char)f->ptr[0]) ||
                                 is_space((unsigned char)f->ptr[f->len - 1]))))
      plain = 0;
  }
  uint64_t h;
  if (plain) {
    h = text_hash(rec->raw, rec->raw_len, 0x51ED270B27CE0A17ULL);
  } else {
    const char sep = ws ? ' ' : (char)x->o->csv.delim;
    size_t o = 0;
    for (size_t k = 0; k < rec->nfields; k++) {
      const char *p = rec->fields[k].ptr;
      size_t n = rec->fields[k].len;
      tsr__trim(&p, &n);
      if (o + 2 * n + 3 > x->scratch_cap) {
        void *sp = x->scratch;
        if (tsr__grow(&sp, &x->scratch_cap, o + 2 * n + 3, 1) != TSR_OK) return 0;
        x->scratch = sp;
      }
      char *d = x->scratch;
      if (k) d[o++] = sep;
      int q = 0;
      for (size_t i = 0; i < n && !q; i++) {
        char ch = p[i];
        q = ch == sep || ch == '"' || ch == '\n' || ch == '\r' || (ws && ch == '\t');
      }
      if (!q) {
        memcpy(d + o, p, n);
        o += n;
      } else {
        d[o++] = '"';
        for (size_t i = 0; i < n; i++) {
          if (p[i] == '"') d[o++] = '"';
          d[o++] = p[i];
        }
        d[o++] = '"';
      }
    }
    h = text_hash(x->scratch, o, 0x51ED270B27CE0A17ULL);
  }
  return h ? h : 1;
}

/* Applies the queued rows to the ledger, in order, prefetching ahead: the
 * table entry BATCH_D1 rows ahead, the customer it names BATCH_D0 rows
 * ahead, the customer's last entry BATCH_D2 rows ahead. */
static tsr_status apply_batch(ictx *x, batch *bt) {
  const size_t m = bt->n;
  if (!m) return TSR_OK;
  tsr_ledger *lg = x->lg;
  tsr_ingest_stats *st = x->st;
  if (tsr__cust_reserve(lg, m) != TSR_OK) return TSR_ENOMEM;
  const size_t mask = lg->nslots - 1;
  const int track = x->ti < 0, drop = x->o->dedupe == TSR_DEDUPE_EXACT;
  pending *p = bt->p;
  /* the ids' hashes here, not as the rows are parsed: with two threads
   * the parser is the busier one (the bank file's summary: 0.34 against
   * 0.25 CPU s) */
  for (size_t i = 0; i < m; i++) p[i].ch = id_hash(bt->arena + p[i].id_off, p[i].id_len);
  for (size_t i = 0; i < m && i < BATCH_D1; i++) {
    __builtin_prefetch(&lg->index[p[i].ch & mask]);
    if (i < BATCH_D0) cust_prefetch(lg, p[i].ch);
  }
  for (size_t i = 0; i < m + BATCH_D2; i++) {
    if (i + BATCH_D1 < m) __builtin_prefetch(&lg->index[p[i + BATCH_D1].ch & mask]);
    if (i + BATCH_D0 < m) cust_prefetch(lg, p[i + BATCH_D0].ch);
    if (i < m) {
      /* resolve row i, BATCH_D2 rows before applying it */
      pending *q = &p[i];
      const char *id = bt->arena + q->id_off;
      uint64_t *slot;
      cust *c = cust_probe(lg, id, q->id_len, q->ch, &slot);
      if (!c) c = tsr__cust_insert(lg, slot, id, q->id_len, q->ch);
      q->c = c;
      if (c && !c->cap) {
        /* a customer without entries: when its rows come together (a file
         * sorted by customer) and end in this batch, a block of their
         * number, filled without copies */
        size_t j = i + 1;
        while (j < m && p[j].ch == q->ch && p[j].id_len == q->id_len &&
               id_eq(bt->arena + p[j].id_off, id, q->id_len))
          j++;
        if (j < m && j - i >= 2 && tsr__cust_presize(lg, c, (uint32_t)(j - i)) != 0)
          return TSR_ENOMEM;
      }
      if (c && c->n) {
        /* the entry the row will touch: a new one after the last (written;
         * the usual case of a file in time order), else the last */
        int64_t t = q->t;
        int32_t day = (int32_t)(t >= 0 ? t / 86400 : -((-t + 86399) / 86400));
        if (day > c->last && c->n < c->cap) {
          __builtin_prefetch(&c->e[c->n], 1);
          if (!lg->no_rh) __builtin_prefetch(&cust_rh(c)[c->n], 1);
        } else if (day <= c->last) {
          __builtin_prefetch(&c->e[c->n - 1]);
          if (track && !lg->no_rh) __builtin_prefetch(&cust_rh(c)[c->n - 1]);
        } else {
          /* a new day and a full block: it grows (copied into the next
           * class's block), the copy's misses waited for in tsr__cust_add
           * (its memcpy 10 % of the bank file's summary samples) */
          tsr__cust_prefetch_grow(lg, c);
        }
      }
    }
    if (i < BATCH_D2) continue;
    pending *q = &p[i - BATCH_D2];
    if (!q->c) return TSR_ENOMEM;
    int64_t t = q->t;
    int64_t day = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int r = tsr__cust_add(lg, q->c, (int32_t)day, q->amount, q->rh, track, drop, &st->identical_rows);
    if (r == ROW_ENOMEM) return TSR_ENOMEM;
    if (r == ROW_DROPPED) {
      st->identical_dropped++;
      continue;
    }
    if (q->amount < 0) {
      st->refunds++;
      st->refund_amount += q->amount;
    }
    if (st->rows_accepted == 0 || t < st->min_time) st->min_time = t;
    if (st->rows_accepted == 0 || t > st->max_time) st->max_time = t;
    st->rows_accepted++;
  }
  return TSR_OK;
}

/* CPU time of the calling thread in nanoseconds (0 if unknown). */
static int64_t thread_ns(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  return (int64_t)ts.tv_sec * 1000000000 + (int64_t)ts.tv_nsec;
}

/* Worker of the pipeline: applies queued batches in order. */
static void *pipe_worker(void *arg) {
  ictx *x = arg;
  pipeline *pp = x->pp;
  pthread_mutex_lock(&pp->mu);
  for (;;) {
    while (!pp->full_n && !pp->done) pthread_cond_wait(&pp->cv, &pp->mu);
    if (!pp->full_n) break;
    batch *b = pp->full[pp->full_head];
    pp->full_head = (pp->full_head + 1) % (NBATCH + 1);
    pp->full_n--;
    int failed = pp->failed;
    pthread_mutex_unlock(&pp->mu);
    tsr_status st = failed ? TSR_OK : apply_batch(x, b);
    b->n = b->used = 0;
    atomic_store_explicit(&pp->worker_ns, thread_ns(), memory_order_relaxed);
    pthread_mutex_lock(&pp->mu);
    if (st != TSR_OK) pp->failed = 1;
    pp->spare[pp->spare_n++] = b;
    pthread_cond_broadcast(&pp->cv);
  }
  pthread_mutex_unlock(&pp->mu);
  return NULL;
}

/* Hands the current batch to the worker and takes a free one. */
static tsr_status pipe_submit(ictx *x) {
  pipeline *pp = x->pp;
  /* while the worker has used more CPU time than this thread, the
   * ledger's next fresh blocks are zeroed here rather than by it
   * (tsr__ready_fill): the kernel's page clearing goes to the less busy
   * thread (on tx1800k a third of the worker's time; on the 1M bundle's
   * file, sorted by customer, the worker is the less busy one) */
  if (atomic_load_explicit(&pp->worker_ns, memory_order_relaxed) > thread_ns() - pp->parser_ns0)
    tsr__ready_fill(x->lg);
  pthread_mutex_lock(&pp->mu);
  pp->full[(pp->full_head + pp->full_n) % (NBATCH + 1)] = x->b;
  pp->full_n++;
  pthread_cond_broadcast(&pp->cv);
  while (!pp->spare_n && !pp->failed) pthread_cond_wait(&pp->cv, &pp->mu);
  int failed = pp->failed;
  x->b = pp->spare_n ? pp->spare[--pp->spare_n] : NULL;
  pthread_mutex_unlock(&pp->mu);
  return failed ? TSR_ENOMEM : TSR_OK;
}

/* Starts the worker; 0, or -1 (then ingestion uses one thread). */
static int pipe_start(ictx *x) {
  pipeline *pp = tsr__calloc(1, sizeof *pp);
  if (!pp) return -1;
  atomic_init(&pp->worker_ns, 0);
  pp->parser_ns0 = thread_ns();
  for (int i = 0; i < NBATCH; i++) {
    pp->all[i] = tsr__malloc(sizeof(batch));
    if (!pp->all[i]) goto fail;
    pp->all[i]->n = pp->all[i]->used = 0;
  }
  if (pthread_mutex_init(&pp->mu, NULL) != 0) goto fail;
  if (pthread_cond_init(&pp->cv, NULL) != 0) {
    pthread_mutex_destroy(&pp->mu);
    goto fail;
  }
  x->pp = pp;
  if (pthread_create(&pp->th, NULL, pipe_worker, x) != 0) {
    x->pp = NULL;
    pthread_cond_destroy(&pp->cv);
    pthread_mutex_destroy(&pp->mu);
    goto fail;
  }
  /* the parser fills the ingest's own batch; the pool holds the others */
  for (int i = 0; i < NBATCH; i++) pp->spare[pp->spare_n++] = pp->all[i];
  return 0;
fail:
  for (int i = 0; i < NBATCH; i++) tsr__free(pp->all[i]);
  tsr__free(pp);
  return -1;
}

/* Queues the last rows, waits for the worker; TSR_ENOMEM if it failed. */
static tsr_status pipe_finish(ictx *x) {
  pipeline *pp = x->pp;
  pthread_mutex_lock(&pp->mu);
  if (x->b && x->b->n) {
    pp->full[(pp->full_head + pp->full_n) % (NBATCH + 1)] = x->b;
    pp->full_n++;
    x->b = NULL;
  }
  pp->done = 1;
  pthread_cond_broadcast(&pp->cv);
  pthread_mutex_unlock(&pp->mu);
  pthread_join(pp->th, NULL);
  /* a block prepared and not taken stays for the ledger's next rows
   * (tsr_ingest_mem called per 4 MiB chunk: not zeroed again each call) */
  int failed = pp->failed;
  pthread_cond_destroy(&pp->cv);
  pthread_mutex_destroy(&pp->mu);
  for (int i = 0; i < NBATCH; i++)
    if (pp->all[i] != x->b) tsr__free(pp->all[i]);
  tsr__free(pp);
  x->pp = NULL;
  return failed ? TSR_ENOMEM : TSR_OK;
}

/* Queued rows: a full batch is applied now (one thread) or handed over. */
static tsr_status batch_full(ictx *x) {
  if (x->pp) return pipe_submit(x);
  tsr_status st = apply_batch(x, x->b);
  x->b->n = x->b->used = 0;
  return st;
}

/* The rows after sr in the input, estimated from the bytes per row so
 * far (at most 2^30; 0 when the size is unknown). */
static size_t rows_after(const ictx *x, const staged *sr) {
  int64_t size = tsr_csv_size(x->csv);
  size_t more = 0;
  if (size > sr->off && sr->off > 0 && sr->ord > 0)
    more = (size_t)((double)(size - sr->off) / ((double)sr->off / (double)sr->ord));
  return more > ((size_t)1 << 30) ? (size_t)1 << 30 : more;
}

/* While the ledger's seq_lazy: record rows_read of the ingest (its last
 * record) as a gap when that record did not reach tsr__ids_append (0, or
 * -1 on ENOMEM). */
static int lazy_note(ictx *x) {
  const tsr_ledger *lg = x->lg;
  if (!lg->seq_lazy || (int64_t)(lg->seq_n + x->ngaps) >= x->st->rows_read) return 0;
  if (x->ngaps == x->gaps_cap) {
    void *p = x->gaps;
    if (tsr__grow(&p, &x->gaps_cap, x->ngaps + 1, sizeof *x->gaps) != TSR_OK) return -1;
    x->gaps = p;
  }
  x->gaps[x->ngaps++] = x->st->rows_read;
  return 0;
}

/* Ends the ledger's seq_lazy at the first transaction id out of order
 * (record upto): the content hashes of the rows recorded in order, made
 * by reading the input again from its start up to that record, the
 * records in x->gaps (rejected) skipped. The reader splits the same
 * records, and row_hash gives a row the same hash on either of the
 * reader's paths. Each row's transaction id is checked against the one
 * recorded: an input changed in between is an error, not other results. */
static tsr_status lazy_rebuild(ictx *x, int64_t upto) {
  tsr_ledger *lg = x->lg;
  if (tsr__ids_rebuild_begin(lg) != 0) return TSR_ENOMEM;
  tsr_csv_opts co = x->o->csv;
  co.no_checksum = 1;
  tsr_csv *c = NULL;
  tsr_error e;
  tsr_status st = x->src_path
                      ? tsr_csv_open(x->src_path, &co, &c, &e)
                      : tsr_csv_open_mem(x->src_buf, x->src_len, tsr_csv_name(x->csv), &co, &c, &e);
  if (st != TSR_OK) {
    lg->seq_lazy = 1;
    x->lazy_err = e;
    return st;
  }
  tsr_csv_record rec;
  /* the first record: the header, or the first data row (records that
   * are none before it skipped, as ingest does) */
  do {
    st = tsr_csv_next(c, &rec, &e);
  } while (st != TSR_OK && st != TSR_ENOTFOUND && st != TSR_EIO && st != TSR_ENOMEM &&
           !tsr__csv_fatal(c));
  size_t gi = 0, i = 0;
  int stable = 0, have = !x->o->header; /* rec: data record 1 */
  for (int64_t ord = 1; st == TSR_OK && ord < upto; ord++) {
    if (!have) {
      stable = tsr__csv_next_lean(c, &rec, ~(uint64_t)0, x->nfields);
      st = stable ? TSR_OK : tsr_csv_next(c, &rec, &e);
      if (st == TSR_ENOTFOUND || st == TSR_EIO || st == TSR_ENOMEM) break;
    }
    have = 0;
    if (gi < x->ngaps && x->gaps[gi] == ord) {
      gi++;
      st = TSR_OK;
      continue;
    }
    if (st != TSR_OK || i >= lg->seq_n || rec.nfields != x->nfields) {
      st = TSR_EPARSE;
      break;
    }
    const char *p = rec.fields[x->ti].ptr;
    size_t n = rec.fields[x->ti].len;
    tsr__trim(&p, &n);
    if (tid_key(p, n) != lg->seq_key[i]) {
      st = TSR_EPARSE;
      break;
    }
    if (!(lg->seq[i++] = row_hash(x, &rec, stable))) st = TSR_ENOMEM;
  }
  tsr_csv_close(c);
  if (st == TSR_OK && i == lg->seq_n) return TSR_OK;
  /* the hashes are incomplete: a further input with ids stays refused */
  lg->seq_lazy = 1;
  if (st == TSR_ENOMEM) return st;
  if (st == TSR_EIO) {
    x->lazy_err = e;
    return st;
  }
  return tsr_error_set(&x->lazy_err, TSR_EIO, tsr_csv_name(x->csv), 0, 0, NULL,
                       "the input changed while it was read (its transaction ids "
                       "read again differ)");
}

/* The transaction id check and the hand-over of a staged row to the
 * batch, in file order. */
static tsr_status commit(ictx *x, const staged *sr) {
  uint64_t key = sr->key; /* 0: not made yet (tid_key is never 0) */
  uint64_t content = sr->content;
  if (x->ti >= 0 && !x->lg->ids_hashed) {
    /* the ids in order grow (from 64 KiB) to the rows expected in all at
     * once: not copied again, nor twice the memory faulted in */
    size_t cap = x->lg->seq_lazy ? x->lg->seq_key_cap : x->lg->seq_cap;
    if (x->lg->seq_n == cap && x->lg->seq_n >= ((size_t)1 << 13))
      x->lg->seq_hint = x->lg->seq_n + rows_after(x, sr) + ((size_t)1 << 16);
    int a = ids_append_next(x->lg, sr->tid, sr->tlen, content)
                ? 0
                : tsr__ids_append(x->lg, sr->tid, sr->tlen, key, content);
    if (a < 0) return TSR_ENOMEM;
    /* the first id out of order: the hashes of the rows before it (made
     * now when not kept), then the table, with room for the rows of the
     * rest of the input (filled without a rehash) */
    if (a > 0 && x->lg->seq_lazy) {
      tsr_status rs = lazy_rebuild(x, sr->ord);
      if (rs != TSR_OK) return rs;
    }
    if (a > 0 && tsr__ids_index(x->lg, rows_after(x, sr)) != 0) return TSR_ENOMEM;
  }
  if (!content && x->ti >= 0 && x->lg->ids_hashed) {
    /* a row of seq_lazy (do_record's record): its hash, now needed */
    if (!(content = row_hash(x, sr->rec, sr->stable))) return TSR_ENOMEM;
  }
  if (x->ti >= 0 && x->lg->ids_hashed) {
    if ((x->lg->rows_n + 1) * 2 > x->lg->rows_cap && tsr__rows_reserve(x->lg) != 0)
      return TSR_ENOMEM;
    if (!key) key = tid_key(sr->tid, sr->tlen);
    rowent *r = row_find(x->lg, key);
    if (r->key) {
      if (r->val == content) {
        x->st->duplicate_ids++;
        return TSR_OK;
      }
      char got[200];
      tsr_csv_record rec;
      memset(&rec, 0, sizeof rec);
      rec.raw = sr->raw;
      rec.raw_len = sr->raw_len;
      x->committing = 1;
      tsr_status st = reject(x, &rec, TSR_EPARSE, sr->tline, sr->tcol, x->names[3],
                             "expected a new id, got '%s' already used by a row with other content",
                             fmt_got(got, sizeof got, sr->tid, sr->tlen));
      x->committing = 0;
      return st;
    }
    r->key = key;
    r->val = content;
    x->lg->rows_n++;
  }
  batch *bt = x->b;
  pending *pd = &bt->p[bt->n++];
  pd->rh = content; /* 0 for a row of seq_lazy: no_rh, never read */
  pd->t = sr->t;
  pd->amount = sr->amount;
  pd->id_off = (uint32_t)bt->used;
  pd->id_len = (uint32_t)sr->clen;
  id_copy(bt->arena + bt->used, sr->cid, sr->clen);
  bt->used += sr->clen;
  if (bt->n == BATCH) return batch_full(x);
  return TSR_OK;
}

/* Commits every staged row. On a stop (too many rejects, no memory) the
 * rows after the stopping one are dropped unread: rows_read counts up to
 * it, as without the ring. */
static tsr_status ring_flush(ictx *x) {
  while (x->ring_n) {
    const staged *sr = &x->ring[x->ring_head];
    x->ring_head = (x->ring_head + 1) % RING;
    x->ring_n--;
    tsr_status st = commit(x, sr);
    if (st != TSR_OK) {
      x->st->rows_read = sr->ord;
      x->ring_n = 0;
      return st;
    }
  }
  return TSR_OK;
}

/* Checks one record; a good row is staged (stable: its pointers stay
 * valid until the next tsr_csv_next) or committed at once. */
static tsr_status do_record(ictx *x, const tsr_csv_record *rec, int stable) {
  tsr_status st = TSR_OK;
  char got[200];
  if (rec->nfields != x->nfields) {
    /* point at the first extra field, or just after the last one */
    const tsr_csv_field *lf = &rec->fields[rec->nfields > x->nfields ? x->nfields : rec->nfields - 1];
    int64_t col = rec->nfields > x->nfields ? lf->column
                                            : lf->column + (int64_t)lf->len + (lf->quoted ? 2 : 0);
    return reject(x, rec, TSR_EPARSE, lf->line, col, "",
                  "expected %zu fields, got %zu", x->nfields, rec->nfields);
  }
  staged sr;
  if (check_id(x, rec, (size_t)x->ci, x->names[0], &sr.cid, &sr.clen, &st)) return st;
  const tsr_csv_field *df = &rec->fields[x->di];
  tsr_status ds = tsr__datetime_parse_memo(df->ptr, df->len, x->o->date_format, &x->dmemo, &sr.t);
  if (ds == TSR_ERANGE)
    return reject(x, rec, TSR_ERANGE, df->line, df->column, x->names[1],
                  "expected a date between 1970-01-01 and 2100-12-31, got '%s'",
                  fmt_got(got, sizeof got, df->ptr, df->len));
  if (ds != TSR_OK) {
    if (x->o->date_format && *x->o->date_format)
      return reject(x, rec, TSR_EPARSE, df->line, df->column, x->names[1],
                    "expected a date (ISO 8601, YYYYMMDD or %s), got '%s'", x->o->date_format,
                    fmt_got(got, sizeof got, df->ptr, df->len));
    return reject(x, rec, TSR_EPARSE, df->line, df->column, x->names[1],
                  "expected a date (ISO 8601 or YYYYMMDD), got '%s'",
                  fmt_got(got, sizeof got, df->ptr, df->len));
  }
  double amount = 0;
  if (x->ai >= 0) {
    const tsr_csv_field *af = &rec->fields[x->ai];
    tsr_status as;
    if (x->o->decimal_comma) {
      /* swap the marks: "1.234,56" -> "1,234.56" */
      char sw[128];
      if (af->len >= sizeof sw) {
        as = TSR_EPARSE;
      } else {
        for (size_t k = 0; k < af->len; k++)
          sw[k] = af->ptr[k] == ',' ? '.' : af->ptr[k] == '.' ? ',' : af->ptr[k];
        as = tsr_amount_parse(sw, af->len, &amount);
      }
    } else {
      as = tsr_amount_parse(af->ptr, af->len, &amount);
    }
    if (as == TSR_ERANGE)
      return reject(x, rec, TSR_ERANGE, af->line, af->column, x->names[2],
                    "expected a finite number, got '%s'", fmt_got(got, sizeof got, af->ptr, af->len));
    if (as != TSR_OK)
      return reject(x, rec, TSR_EPARSE, af->line, af->column, x->names[2],
                    "expected a number, got '%s'", fmt_got(got, sizeof got, af->ptr, af->len));
    double lim = x->o->max_amount > 0 ? x->o->max_amount : TSR_INGEST_MAX_AMOUNT;
    if (!(fabs(amount) <= lim))
      return reject(x, rec, TSR_ERANGE, af->line, af->column, x->names[2],
                    "expected an amount of at most %g in magnitude, got '%s'",
                    lim, fmt_got(got, sizeof got, af->ptr, af->len));
  }
  sr.amount = amount;
  /* with the ledger's seq_lazy no row's hash is made unless an id comes
   * out of order (commit) */
  sr.content = 0;
  if (!x->lg->seq_lazy && !(sr.content = row_hash(x, rec, stable))) return TSR_ENOMEM;
  sr.rec = rec;
  sr.stable = stable;
  sr.key = 0;
  if (x->ti >= 0) {
    if (check_id(x, rec, (size_t)x->ti, x->names[3], &sr.tid, &sr.tlen, &st)) return st;
    const tsr_csv_field *tf = &rec->fields[x->ti];
    /* the id's hash when the table is in use; while ids come in order
     * (tsr__ids_append) only if it keeps them (seq_key), made in commit */
    if (x->lg->ids_hashed) sr.key = tid_key(sr.tid, sr.tlen);
    sr.tline = tf->line;
    sr.tcol = tf->column;
    if (x->lg->ids_hashed) __builtin_prefetch(&x->lg->rows[sr.key & (x->lg->rows_cap - 1)]);
  }
  sr.raw = rec->raw;
  sr.raw_len = rec->raw_len;
  sr.ord = x->st->rows_read;
  sr.off = rec->offset;
  if (!stable || !x->ring || x->ti < 0 || !x->lg->ids_hashed) {
    if (x->ring_n && (st = ring_flush(x)) != TSR_OK) return st;
    return commit(x, &sr);
  }
  if (x->ring_n == RING) {
    const staged *old = &x->ring[x->ring_head];
    x->ring_head = (x->ring_head + 1) % RING;
    x->ring_n--;
    if ((st = commit(x, old)) != TSR_OK) {
      x->st->rows_read = old->ord;
      x->ring_n = 0;
      return st;
    }
  }
  sr.rec = NULL; /* not kept past this call */
  x->ring[(x->ring_head + x->ring_n) % RING] = sr;
  x->ring_n++;
  return TSR_OK;
}

static const char *const auto_customer[] = {"customerid", "customer", "custid", "clientid",
                                            "client", "userid", "memberid", "accountid",
                                            "customerno", "customernumber", NULL};
static const char *const auto_date[] = {"date", "timestamp", "datetime", "transactiondate",
                                        "orderdate", "purchasedate", "invoicedate", "time",
                                        "createdat", "eventtime", "ts", "txdate", NULL};
static const char *const auto_amount[] = {"amount", "value", "monetaryvalue", "monetary",
                                          "revenue", "sales", "spend", "total", "price",
                                          "amt", "transactionamount", "ordervalue", NULL};

/* A transaction id column found by name: repeated ids are dropped by
 * default (documented; --id-col none turns it off). */
static const char *const auto_txid[] = {"transactionid", "txid", "txnid", "transid", "orderid",
                                        "ordernumber", "orderno", "invoiceid", "invoiceno",
                                        "invoicenumber", "receiptid", "paymentid", NULL};
/* Column k of the header as text (at most 63 bytes) into name. */
static void hdr_name(const tsr_csv_record *hdr, size_t k, char *name) {
  snprintf(name, 64, "%.*s", (int)(hdr->fields[k].len > 63 ? 63 : hdr->fields[k].len),
           hdr->fields[k].ptr);
}

/* ------------------------------------------------------------ currency */

/* Index of the first field of the first record named as a currency column
 * (case-insensitive, as it stands), its name into st; -1 when none. */
static ptrdiff_t currency_col_find(const tsr_csv_record *rec, tsr_ingest_stats *st) {
  static const char *const names[] = {"currency", "ccy", "currencycode", "currency_code"};
  for (size_t j = 0; j < rec->nfields; j++) {
    const tsr_csv_field *f = &rec->fields[j];
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
      size_t n = strlen(names[k]);
      if (f->len != n) continue;
      size_t i = 0;
      while (i < n && tolower((unsigned char)f->ptr[i]) == names[k][i]) i++;
      if (i == n) {
        hdr_name(rec, j, st->currency_col);
        return (ptrdiff_t)j;
      }
    }
  }
  return -1;
}

/* The currency column's value in rec (a record the reader parsed): the
 * first code, then the first value that is another code or not a code,
 * after which watching ends (tsr_ingest_stats.currency). */
static void currency_watch(ictx *x, const tsr_csv_record *rec) {
  if ((size_t)x->ki >= rec->nfields) return;
  const tsr_csv_field *f = &rec->fields[x->ki];
  const char *v = f->ptr;
  size_t n = f->len;
  /* the code seen so far, as it stands (a currency column of one code:
   * every row): nothing to trim, nothing changes */
  if (n == 3 && x->st->currency[0] && !memcmp(v, x->st->currency, 3)) return;
  while (n && (*v == ' ' || *v == '\t')) v++, n--;
  while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r')) n--;
  if (n == 0) return;
  tsr_ingest_stats *st = x->st;
  char code[4] = "";
  int ok = n == 3;
  for (size_t i = 0; ok && i < 3; i++) {
    char c = v[i] >= 'a' && v[i] <= 'z' ? (char)(v[i] - 32) : v[i];
    ok = c >= 'A' && c <= 'Z';
    code[i] = c;
  }
  if (!ok) {
    st->currency_bad_line = rec->line;
    st->currency_bad_column = f->column + (int64_t)(v - f->ptr);
    x->ki = -1;
  } else if (!st->currency[0]) {
    memcpy(st->currency, code, 4);
  } else if (memcmp(st->currency, code, 4) != 0) {
    memcpy(st->currency_other, code, 4);
    x->ki = -1;
  }
}

/* The column spec names (tsr_csv_column_find) into *out and its header
 * name. Two columns of one normalised name (`amount` and `Amount`) are an
 * error naming both: guessing one would silently read the wrong numbers.
 * *out stays -1 when none matches. */
static tsr_status find_col(ictx *x, const tsr_csv_record *hdr, const char *spec, const char *opt,
                           ptrdiff_t *out, char *name, tsr_error *err) {
  size_t second = 0;
  *out = tsr_csv_column_find(hdr, x->nfields, spec, &second);
  if (*out == -2) {
    /* the first match is the only one before the second */
    tsr_csv_record before = *hdr;
    before.nfields = second;
    ptrdiff_t first = tsr_csv_column_find(&before, second, spec, NULL);
    char ns[64], other[64];
    tsr__norm_name(spec, strlen(spec), ns, sizeof ns);
    hdr_name(hdr, (size_t)first, name);
    hdr_name(hdr, second, other);
    *out = -1;
    return tsr_error_set(err, TSR_EINVAL, tsr_csv_name(x->csv), 1, 0, opt,
                         "two columns match '%s': %td '%s' and %zu '%s'; choose one by "
                         "number (%td)",
                         ns, first + 1, name, second + 1, other, first + 1);
  }
  if (*out >= 0 && hdr) hdr_name(hdr, (size_t)*out, name);
  return TSR_OK;
}

/* Resolves one column spec against the header (or by number). */
/* The header's column names as "a, b, c" (cut at cap, with "..."). */
static void header_list(const tsr_csv_record *hdr, char *buf, size_t cap) {
  size_t k = 0;
  buf[0] = '\0';
  for (size_t f = 0; hdr && f < hdr->nfields && k + 8 < cap; f++) {
    size_t len = hdr->fields[f].len, room = cap - k - 8;
    if (len > room) len = room;
    k += (size_t)snprintf(buf + k, cap - k, "%s'%.*s'", f ? ", " : "", (int)len, hdr->fields[f].ptr);
    if (len < hdr->fields[f].len || (f + 1 < hdr->nfields && k + 8 >= cap)) {
      snprintf(buf + (k < cap - 4 ? k : cap - 4), 4, "...");
      break;
    }
  }
}

static tsr_status resolve_col(ictx *x, const tsr_csv_record *hdr, const char *spec,
                              const char *const *auto_names, const char *what,
                              const char *opt, int required, ptrdiff_t *out, char *name,
                              tsr_error *err) {
  *out = -1;
  const char *src = tsr_csv_name(x->csv);
  tsr_status st;
  if (spec && *spec) {
    if ((st = find_col(x, hdr, spec, opt, out, name, err)) != TSR_OK) return st;
    if (*out >= 0) {
      if (!hdr) snprintf(name, 64, "%s", what);
      return TSR_OK;
    }
    char *end;
    long v = strtol(spec, &end, 10);
    if (*end == '\0' && v >= 1)
      return tsr_error_set(err, TSR_EINVAL, src, 1, 0, opt,
                           "expected a column number in 1..%zu, got %ld", x->nfields, v);
    char cols[320];
    header_list(hdr, cols, sizeof cols);
    return tsr_error_set(err, TSR_EPARSE, src, 1, 0, opt,
                         "expected a column named '%s' in the header; the columns are %s",
                         spec, cols);
  }
  if (spec && !*spec) return TSR_OK; /* explicitly none */
  if (hdr) {
    for (const char *const *a = auto_names; *a; a++) {
      if ((st = find_col(x, hdr, *a, opt, out, name, err)) != TSR_OK) return st;
      if (*out >= 0) return TSR_OK;
    }
    if (!required) return TSR_OK;
    char cols[320];
    header_list(hdr, cols, sizeof cols);
    return tsr_error_set(err, TSR_EPARSE, src, 1, 0, opt,
                         "expected %s %s column in the header; the columns are %s",
                         strchr("aeiou", what[0]) ? "an" : "a", what, cols);
  }
  return TSR_OK;
}

/* The fields do_record and currency_watch read, as tsr__csv_next_lean's
 * mask (all when one is past the 64th). */
static uint64_t want_fields(const ictx *x) {
  const ptrdiff_t col[5] = {x->ci, x->di, x->ai, x->ti, x->ki};
  uint64_t w = 0;
  for (int k = 0; k < 5; k++) {
    if (col[k] >= 64) return ~(uint64_t)0;
    if (col[k] >= 0) w |= (uint64_t)1 << col[k];
  }
  return w;
}

/* src_path (a regular file) or src_buf[0..src_len): where c reads, to be
 * read again (lazy_rebuild); both NULL when it cannot be. */
static tsr_status ingest(tsr_ledger *lg, tsr_csv *c, const tsr_ingest_opts *opts,
                         tsr_ingest_stats *stats, tsr_error *err, const char *src_path,
                         const char *src_buf, size_t src_len) {
  tsr_ingest_opts defo;
  if (!opts) {
    tsr_ingest_opts_init(&defo);
    opts = &defo;
  }
  tsr_ingest_stats local;
  if (!stats) stats = &local;
  memset(stats, 0, sizeof *stats);
  if (lg->sealed)
    return tsr_error_set(err, TSR_EINVAL, tsr_csv_name(c), 0, 0, NULL,
                         "the ledger is sealed: no more rows can be ingested into it");
  tsr__ledger_pub_drop(lg); /* tsr_ledger_entries' copy: the entries change */
  if (opts->date_format && *opts->date_format) {
    tsr_status fs = tsr_datetime_check_format(opts->date_format, err);
    if (fs != TSR_OK) return fs;
  }
  ictx x = {.lg = lg,
            .o = opts,
            .st = stats,
            .csv = c,
            .ci = -1,
            .di = -1,
            .ai = -1,
            .ti = -1,
            .names = {"customer_id", "date", "amount", "transaction_id"},
            .ki = -1};
  tsr_csv_record rec;
  tsr_status st;
  /* first record: header, or the first data row of a headerless file */
  for (int first = 1;; first = 0) {
    st = tsr_csv_next(c, &rec, err);
    /* the currency column: named in the very first record */
    if (st == TSR_OK && first) x.ki = currency_col_find(&rec, stats);
    if (st == TSR_ENOTFOUND)
      return tsr_error_set(err, TSR_EPARSE, tsr_csv_name(c), 1, 0, NULL,
                           "expected a header line, got an empty file");
    if (st == TSR_EIO || st == TSR_ENOMEM || tsr__csv_fatal(c)) return st;
    if (st == TSR_OK) break;
    if (opts->header) return st; /* a broken header is fatal: columns unknown */
  }
  x.nfields = rec.nfields;
  const tsr_csv_record *hdr = opts->header ? &rec : NULL;
  const char *cspec = opts->customer_col, *dspec = opts->date_col, *aspec = opts->amount_col;
  if (!hdr) {
    /* a headerless file: columns 1, 2 (and 3 when there are exactly 3
     * fields) by rule, reported in stats for a warning; with more fields
     * the amount column is never guessed */
    if (!aspec && x.nfields > 3)
      return tsr_error_set(err, TSR_EINVAL, tsr_csv_name(c), 1, 0, "amount_col",
                           "a file without a header and %zu columns: say which column "
                           "holds the amount or that there is none", x.nfields);
    if (!cspec || !dspec || !aspec) stats->columns_by_rule = 1;
    if (!cspec) cspec = "1";
    if (!dspec) dspec = "2";
    if (!aspec) aspec = x.nfields == 3 ? "3" : "";
  }
  const char *ispec = opts->id_col;
  if (ispec && !strcmp(ispec, "none")) ispec = ""; /* explicitly none */
  x.ti = -1;
  if ((st = resolve_col(&x, hdr, cspec, auto_customer, "customer id", "customer_col", 1, &x.ci, x.names[0], err)) ||
      (st = resolve_col(&x, hdr, dspec, auto_date, "date", "date_col", 1, &x.di, x.names[1], err)) ||
      (st = resolve_col(&x, hdr, aspec, auto_amount, "amount", "amount_col", 1, &x.ai, x.names[2], err)) ||
      (st = resolve_col(&x, hdr, ispec, auto_txid, "transaction id", "id_col", 0, &x.ti, x.names[3], err)))
    return st;
  if (!hdr) {
    snprintf(x.names[0], 64, "customer_id");
    snprintf(x.names[1], 64, "date");
    snprintf(x.names[2], 64, "amount");
    snprintf(x.names[3], 64, "transaction_id");
  }
  snprintf(stats->customer_col, sizeof stats->customer_col, "%s", x.names[0]);
  snprintf(stats->date_col, sizeof stats->date_col, "%s", x.names[1]);
  snprintf(stats->amount_col, sizeof stats->amount_col, "%s", x.ai >= 0 ? x.names[2] : "");
  snprintf(stats->id_col, sizeof stats->id_col, "%s", x.ti >= 0 ? x.names[3] : "");
  if (x.ci == x.di || (x.ai >= 0 && (x.ai == x.ci || x.ai == x.di)))
    return tsr_error_set(err, TSR_EINVAL, tsr_csv_name(c), 1, 0, NULL,
                         "customer, date and amount must be distinct columns");
  if (x.ti >= 0 && lg->seq_lazy && lg->seq_n)
    return tsr_error_set(err, TSR_EINVAL, tsr_csv_name(c), 0, 0, NULL,
                         "the ledger's single input had transaction ids: no further input "
                         "with them can be checked against its ids");
  /* one input with transaction ids: no row hashes in the blocks */
  if (opts->single_input && x.ti >= 0 && lg->n == 0 && lg->nchunks == 0) lg->no_rh = 1;
  /* and no content hashes of its ids while they come in order, when the
   * input can be read again (seq_lazy, ledger_internal.h) */
  x.src_path = src_path;
  x.src_buf = src_buf;
  x.src_len = src_len;
  if (lg->no_rh && x.ti >= 0 && !lg->seq_n && !lg->ids_hashed && (src_path || src_buf))
    lg->seq_lazy = 1;
  if (tsr_csv_size(c) >= BIG_INPUT) lg->big_input = 1;
  x.b = tsr__malloc(sizeof *x.b);
  if (!x.b) return tsr_error_set(err, TSR_ENOMEM, tsr_csv_name(c), 0, 0, NULL, "out of memory");
  x.b->n = x.b->used = 0;
  batch *own = x.b;
  if (opts->threads >= 2 && (tsr_csv_size(c) < 0 || tsr_csv_size(c) >= PIPE_MIN_BYTES))
    pipe_start(&x); /* on failure: one thread */
  if (!hdr) {
    stats->rows_read++;
    st = do_record(&x, &rec, 0);
    if (st == TSR_OK && lazy_note(&x) != 0) st = TSR_ENOMEM;
    if (st != TSR_OK) goto done;
  }
  staged ring[RING];
  if (x.ti >= 0) x.ring = ring;
  uint64_t want = want_fields(&x);
  ptrdiff_t want_ki = x.ki;
  for (;;) {
    tsr_error rerr;
    /* only the fields read here are made (a field-count reject makes all) */
    if (x.ki != want_ki) { /* the currency column no longer watched */
      want = want_fields(&x);
      want_ki = x.ki;
    }
    int stable = tsr__csv_next_lean(c, &rec, want, x.nfields);
    if (stable) {
      st = TSR_OK;
    } else {
      /* tsr_csv_next may move the buffer the staged rows point into */
      if (x.ring_n && (st = ring_flush(&x)) != TSR_OK) goto done;
      st = tsr_csv_next(c, &rec, &rerr);
    }
    if (st == TSR_ENOTFOUND) {
      st = TSR_OK;
      break;
    }
    if (st == TSR_EIO || st == TSR_ENOMEM) {
      if (err) *err = rerr;
      goto done;
    }
    stats->rows_read++;
    if (st != TSR_OK) {
      st = reject(&x, &rec, st, rerr.line, rerr.column, "", "%s", rerr.msg);
    } else {
      if (x.ki >= 0) currency_watch(&x, &rec);
      st = do_record(&x, &rec, stable);
    }
    if (st == TSR_OK && lazy_note(&x) != 0) st = TSR_ENOMEM;
    if (st != TSR_OK) goto done;
    if (opts->on_progress && (stats->rows_read & 0xFFFF) == 0)
      opts->on_progress(opts->ud, tsr_csv_bytes_read(c), tsr_csv_size(c), stats->rows_read);
  }
done:
  /* rows parsed before a stop stay accepted */
  if (x.ring_n) {
    tsr_status fs = ring_flush(&x);
    if (fs != TSR_OK && st == TSR_OK) st = fs;
  }
  x.ring = NULL;
  {
    tsr_status fs;
    if (x.pp) {
      fs = pipe_finish(&x);
    } else {
      fs = x.b ? apply_batch(&x, x.b) : TSR_OK;
    }
    if (fs != TSR_OK && (st == TSR_OK || st == TSR_EMAXERR)) st = TSR_ENOMEM;
  }
  if (x.b != own) tsr__free(x.b);
  tsr__free(own);
  tsr__free(x.scratch);
  tsr__free(x.gaps);
  stats->bytes = tsr_csv_bytes_read(c);
  stats->checksum = tsr_csv_checksum(c);
  if (opts->on_progress)
    opts->on_progress(opts->ud, tsr_csv_bytes_read(c), tsr_csv_size(c), stats->rows_read);
  if (x.lazy_err.code != TSR_OK && st == x.lazy_err.code) {
    if (err) *err = x.lazy_err;
    return st;
  }
  if (st == TSR_EMAXERR)
    return tsr_error_set(err, TSR_EMAXERR, tsr_csv_name(c), 0, 0, NULL,
                         "too many rejected rows: more than %lld (the maximum rejected rows)",
                         (long long)opts->max_errors);
  if (st == TSR_ENOMEM && x.lg->day_full)
    return tsr_error_set(err, TSR_ELIMIT, tsr_csv_name(c), 0, 0, NULL,
                         "a customer's day holds more than %u rows of one kind (purchases or "
                         "refunds): the most one day can count",
                         (unsigned)DENT_MAX);
  if (st == TSR_ENOMEM) return tsr_error_set(err, TSR_ENOMEM, tsr_csv_name(c), 0, 0, NULL, "out of memory");
  return st;
}

tsr_status tsr_ingest_file(tsr_ledger *lg, const char *path, const tsr_ingest_opts *opts,
                           tsr_ingest_stats *stats, tsr_error *err) {
  tsr_csv *c;
  tsr_status st = tsr_csv_open(path, opts ? &opts->csv : NULL, &c, err);
  if (st != TSR_OK) return st;
  /* a regular file can be read again (not stdin, a pipe) */
  const int again = strcmp(path, "-") != 0 && tsr_csv_size(c) >= 0;
  st = ingest(lg, c, opts, stats, err, again ? path : NULL, NULL, 0);
  tsr_csv_close(c);
  return st;
}

tsr_status tsr_ingest_mem(tsr_ledger *lg, const char *buf, size_t len, const char *name,
                          const tsr_ingest_opts *opts, tsr_ingest_stats *stats,
                          tsr_error *err) {
  tsr_csv *c;
  tsr_status st = tsr_csv_open_mem(buf, len, name, opts ? &opts->csv : NULL, &c, err);
  if (st != TSR_OK) return st;
  st = ingest(lg, c, opts, stats, err, NULL, buf ? buf : "", len);
  tsr_csv_close(c);
  return st;
}
