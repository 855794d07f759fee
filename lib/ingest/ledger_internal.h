/*
 * ledger_internal.h - the ledger's layout, shared by lib/ingest/ledger.c
 * (the ledger) and lib/ingest/ingest.c (which fills it). Not public API.
 */
#ifndef TESSERA_LEDGER_INTERNAL_H
#define TESSERA_LEDGER_INTERNAL_H

#include "internal.h"
#include "tessera/ingest.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define CUST_INLINE 28

/* The ledger's own entry (16 bytes; the public tsr_ledger_entry is 32):
 * the rows of one kind (purchases: amount >= 0; refunds: amount < 0) of a
 * customer-day. cnt: the rows (low 31 bits) | DENT_REFUND for refunds;
 * sum: their amounts, added in row order from 0.0 exactly as the public
 * entry's amount or refund is, so the decoded entry (tsr__ledger_decode:
 * a day's purchase entry, then its refund entry, merged into one) is
 * bit-identical. A block holds them sorted by (day, kind), purchases
 * first. Issue 18: on tx1800k the entry blocks at the end of the ingest
 * were 364 MB of 32-byte entries. */
typedef struct dent {
  int32_t day;
  uint32_t cnt;
  double sum;
} dent;
#define DENT_REFUND 0x80000000u
#define DENT_MAX 0x7FFFFFFFu /* rows of one kind of a customer-day */

/* The order of entries in a block: day, then kind. */
static inline uint64_t dent_key(int32_t day, uint32_t refund) {
  return (uint64_t)((uint32_t)day ^ 0x80000000u) << 1 | (refund ? 1u : 0u);
}

/* A customer (64 bytes, one cache line), stored in insertion order in
 * chunks of CUST_CHUNK (never moved once created); the customer table
 * (lg->index) maps id hashes to these numbers. */
typedef struct cust {
  uint64_t hash;        /* of the id (never 0) */
  dent *e;              /* [cap] entries sorted by day and kind, then [cap]
                           uint64_t content hashes of each one's first row */
  uint32_t n, cap;
  uint32_t id_len;
  uint32_t rank;        /* index in lg->order (after tsr_ledger_finish) */
  int32_t last;         /* e[n - 1].day when n > 0: a row of a later day is
                           appended without reading the entries */
  union {
    char in[CUST_INLINE]; /* id_len < CUST_INLINE: the id, NUL-terminated */
    uint32_t off[2];      /* else its offset in lg->ids (low, high half) */
  } id;
} cust;

/* Entry blocks of fewer than 2^POOL_CLASSES entries come from POOL_CHUNK
 * chunks (freed ones are recycled by class, two an octave: ledger.c's
 * blk_class); larger ones from tsr__malloc. A block's cap is a class size
 * (2, 3, 4, 6, 8, 12...), or the exact row count of
 * a customer whose rows come together (tsr__cust_presize). */
#define POOL_CHUNK ((size_t)8 << 20)
#define POOL_CLASSES 12

typedef char cust_is_one_line[sizeof(cust) == 64 ? 1 : -1];

/* Customers are numbered in insertion order and live in chunks of
 * CUST_CHUNK records (64-byte aligned; allocated as they fill). */
#define CUST_CHUNK_BITS 16 /* 4 MiB of customers */
#define CUST_CHUNK ((size_t)1 << CUST_CHUNK_BITS)

typedef struct cust_chunk {
  cust *c;   /* aligned */
  void *mem; /* as allocated */
} cust_chunk;

typedef struct seq_run {
  uint64_t start;   /* index in lg->seq of the run's first id */
  uint64_t off;     /* its text: lg->run_ids + off, len bytes */
  uint64_t len;
} seq_run;

typedef struct rowent {
  uint64_t key; /* 0 = empty */
  uint64_t val;
} rowent;

struct tsr_ledger {
  /* The customer table: nslots (a power of two, load <= 1/2) entries of
   * (id hash >> 32) << 32 | (customer number + 1); 0 = empty. 8 bytes a
   * slot instead of the 64-byte customer itself: on 335k customers the
   * table is 8 MB instead of 64 MB (plus the tables it grew through), and
   * zeroing those pages was the largest single cost of a large ingest. */
  uint64_t *index;
  size_t nslots, n;
  cust_chunk *chunks_c;
  size_t nchunks_c, chunks_c_cap;
  uint32_t *order;      /* customer numbers: insertion order, sorted by
                           tsr_ledger_finish */
  size_t order_cap;
  char *ids;            /* ids of CUST_INLINE bytes or more */
  size_t ids_len, ids_cap;
  rowent *rows;         /* id column: id hash -> content hash */
  size_t rows_n, rows_cap;
  /* While the transaction ids arrive in increasing order (shorter first,
   * then bytewise: a total order), a new id cannot repeat an earlier one:
   * only their content hashes are appended here, in order, without the
   * table's random access. Their id hashes, needed only when an id comes
   * out of order, are kept as runs of ids that count up by one (the same
   * length, the trailing digits one more: T0000041, T0000042...; the run's
   * first id is kept and the others are made again) or, once runs are
   * short on average, in seq_key. The first id out of order moves them
   * into rows (ids_hashed), which serves every later lookup. On tx1800k
   * (10.2M ids, one run) 8 bytes an id instead of 16: 82 MB less.
   * With seq_lazy (the ledger's single input, which the ingest can read
   * again: ingest.c) the content hashes are not kept either (seq NULL,
   * nothing hashed a row): the first id out of order has the ingest read
   * its input again up to that row and hash the rows then
   * (tsr__ids_rebuild_begin). On tx1800k another 82 MB, and a hash a
   * row, less. */
  uint64_t *seq;        /* content hashes (NULL while seq_lazy) */
  size_t seq_n, seq_cap;
  size_t seq_hint;      /* the ids the ingest expects in all (0: unknown):
                           seq and seq_key grow to it at once */
  uint64_t *seq_key;    /* id hashes (NULL while runs are kept) */
  size_t seq_key_cap;
  struct seq_run *runs; /* the first id of each run, in order */
  size_t runs_n, runs_cap;
  char *run_ids;        /* their text */
  size_t run_ids_len, run_ids_cap;
  char last_id[TSR_INGEST_MAX_ID];
  size_t last_len;
  int ids_hashed;
  int seq_lazy;         /* seq's content hashes are not kept (above) */
  uint64_t *extra;      /* set of content hashes of 2nd+ rows of a customer-day */
  size_t extra_n, extra_cap;
  /* entry blocks: carved from chunks, recycled by capacity class */
  void *pool_free[2 * POOL_CLASSES]; /* by blk_class (two an octave) */
  char *pool_cur;
  size_t pool_left;
  void **chunks;
  size_t nchunks, chunks_cap;
  /* pool_pack's order of the blocks it packed (customer numbers; those it
   * emptied have c->e NULL): the blocks' order in memory, chunk by chunk in
   * chunks' order, kept for tsr__ledger_drain (nothing moves a block
   * after the seal); NULL when not packed or once drained */
  uint32_t *packed;
  size_t npacked;
  /* no_rh: the ledger's only input (tsr_ingest_opts.single_input) has a
   * transaction id column, so no row ever needs an earlier row's content
   * hash (identical rows are not tracked with ids): the blocks hold
   * entries only, a third less memory and one cache line less per row */
  int no_rh;
  /* big_input: the ingest reads an input of BIG_INPUT bytes or more, so
   * the ledger will hold many customers: the first customer chunk is
   * advised huge from its start too (else its first 2 MiB, 32,768
   * customers, fault in 4 KiB at a time: 512 faults of several us each
   * on a VM, the bank file's summary) */
  int big_input;
  int32_t last_purchase; /* day of the last purchase row (has_purchase) */
  double abs_total;      /* the sum of every added row's |amount|: a bound of
                            tsr__ledger_abs_sums_max without its walk */
  int has_purchase;
  int finished;
  int day_full;         /* a row was refused: its customer-day already held
                           DENT_MAX rows of its kind (the ingest reports
                           that limit, not a lack of memory) */
  int sealed;           /* tsr_ledger_seal: rows, seq and extra freed */
  /* Fresh memory faulted in ahead by another thread: while ingest.c's
   * pipeline runs, the applying thread (the slower of the two) takes its
   * next entry chunk (POOL_CHUNK bytes) and customer chunk (CUST_BYTES)
   * from here, and the parsing thread zeroes pages (the kernel's page
   * clearing was a third of the applier's time) instead of it. Each slot:
   * READY_NONE (nothing asked), READY_WANTED (the applier took or missed
   * one: the parser prepares the next), or the block. See tsr__ready_*. */
  _Atomic uintptr_t ready_pool, ready_cust;
  /* tsr_ledger_entries' decoded copy of every customer's entries, made at
   * its first call (under pub_mu: callers may be threads) and dropped when
   * the entries change (tsr__ledger_pub_drop): pub_off[slot]..[slot + 1]
   * by customer number. NULL while none is made. */
  _Atomic(tsr_ledger_entry *) pub;
  size_t *pub_off;
  pthread_mutex_t pub_mu;
};

/* An input of this many bytes sets big_input. */
#define BIG_INPUT ((int64_t)32 << 20)
#define READY_NONE ((uintptr_t)0)
#define READY_WANTED ((uintptr_t)1)
/* Bytes of a customer chunk's allocation (2 MiB extra for the alignment of
 * the chunks after the first). */
#define CUST_BYTES (CUST_CHUNK * sizeof(cust) + ((size_t)2 << 20))

/* Called by the thread that does not fill lg, while another fills it:
 * faults in the blocks the filler asked for (a few cheap checks when
 * none is wanted). */
void tsr__ready_fill(tsr_ledger *lg);
/* Frees blocks prepared and not taken (no other thread may be using lg:
 * tsr_ledger_finish, tsr_ledger_seal, tsr_ledger_free), and asks for
 * none. */
void tsr__ready_drop(tsr_ledger *lg);

static inline uint64_t *cust_rh(const cust *c) { return (uint64_t *)(void *)(c->e + c->cap); }
/* Bytes of a block of cap entries (and their row hashes unless no_rh). */
static inline size_t blk_bytes(const tsr_ledger *lg, uint32_t cap) {
  return (size_t)cap * (sizeof(dent) + (lg->no_rh ? 0 : sizeof(uint64_t)));
}
static inline const char *cust_id(const tsr_ledger *lg, const cust *c) {
  return c->id_len < CUST_INLINE ? c->id.in
                                  : lg->ids + ((size_t)c->id.off[0] | (size_t)c->id.off[1] << 16 << 16);
}

/* The key of a transaction id in the id table (ingest.c's sr.key, and the
 * ledger's rebuild of the keys of ids kept as runs; never 0). */
static inline uint64_t tid_key(const char *id, size_t len) {
  uint64_t h = tsr__hash_bytes_inline(id, len, 0x7A5D);
  return h ? h : 1;
}

static inline uint64_t id_hash(const char *id, size_t len) {
  uint64_t h = tsr__hash_bytes_inline(id, len, 0);
  return h ? h : 1;
}

/* a[0..n) == b[0..n) for ids: two overlapping words each when 8 <= n <=
 * 16 (the common id; compared once a row), two overlapping half words
 * when 4 <= n < 8, else memcmp. */
static inline int id_eq(const char *a, const char *b, size_t n) {
  if (n >= 8 && n <= 16) {
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, a, 8);
    memcpy(&a1, a + n - 8, 8);
    memcpy(&b0, b, 8);
    memcpy(&b1, b + n - 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  if (n >= 4 && n < 8) {
    /* two overlapping half words (the bank file's 7-byte ids: a call to
     * memcmp a row, 13 % of its summary's samples) */
    uint32_t a0, a1, b0, b1;
    memcpy(&a0, a, 4);
    memcpy(&a1, a + n - 4, 4);
    memcpy(&b0, b, 4);
    memcpy(&b1, b + n - 4, 4);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  return memcmp(a, b, n) == 0;
}

/* memcpy(d, s, n) for ids, as id_eq compares them. */
static inline void id_copy(char *d, const char *s, size_t n) {
  if (n >= 8 && n <= 16) {
    uint64_t w0, w1;
    memcpy(&w0, s, 8);
    memcpy(&w1, s + n - 8, 8);
    memcpy(d, &w0, 8);
    memcpy(d + n - 8, &w1, 8);
  } else if (n >= 4 && n < 8) {
    uint32_t w0, w1;
    memcpy(&w0, s, 4);
    memcpy(&w1, s + n - 4, 4);
    memcpy(d, &w0, 4);
    memcpy(d + n - 4, &w1, 4);
  } else {
    memcpy(d, s, n);
  }
}

/* Customer number i. */
static inline cust *cust_at(const tsr_ledger *lg, size_t i) {
  return lg->chunks_c[i >> CUST_CHUNK_BITS].c + (i & (CUST_CHUNK - 1));
}

/* The customer with id (hash h), or NULL with *slot set to the empty table
 * entry where it belongs (lg->n > 0 or nslots > 0 required). */
static inline cust *cust_probe(const tsr_ledger *lg, const char *id, size_t len, uint64_t h,
                               uint64_t **slot) {
  size_t m = lg->nslots - 1, k = (size_t)h & m;
  const uint64_t tag = h >> 32;
  for (;;) {
    uint64_t v = lg->index[k];
    if (!v) {
      *slot = &lg->index[k];
      return NULL;
    }
    if (v >> 32 == tag) {
      cust *c = cust_at(lg, (size_t)(uint32_t)v - 1);
      if (c->hash == h && c->id_len == len && id_eq(cust_id(lg, c), id, len)) return c;
    }
    k = (k + 1) & m;
  }
}

/* The customer that the first table entry with hash h's tag (its high 32
 * bits) names: the customer with hash h unless another id shares the tag
 * (then maybe another one), NULL when none does (a new id). Reads the
 * table only: what apply_batch prefetches ahead of a row's lookup. */
static inline const cust *cust_guess(const tsr_ledger *lg, uint64_t h) {
  const size_t m = lg->nslots - 1;
  const uint64_t tag = h >> 32;
  for (size_t k = (size_t)h & m;; k = (k + 1) & m) {
    uint64_t v = lg->index[k];
    if (!v) return NULL;
    if (v >> 32 == tag) return cust_at(lg, (size_t)(uint32_t)v - 1);
  }
}

/* Prefetches cust_guess(lg, h): the entries it reads before the customer's
 * are in the table's cache line prefetched earlier, as a rule. The first
 * entry alone (before) named another customer for a fifth of tx1800k's
 * rows (load 0.43), and their lookups waited for memory: apply_batch's
 * samples on tx1800k's summary 2,408 -> 1,526 (with the memcmp after it). */
static inline void cust_prefetch(const tsr_ledger *lg, uint64_t h) {
  const cust *c = cust_guess(lg, h);
  if (c) __builtin_prefetch(c);
}

/* Finds key; returns the slot (key present or empty slot for it). */
static inline rowent *row_find(tsr_ledger *lg, uint64_t key) {
  size_t m = lg->rows_cap - 1;
  size_t k = (size_t)key & m;
  while (lg->rows[k].key && lg->rows[k].key != key) k = (k + 1) & m;
  return &lg->rows[k];
}

enum { ROW_ADDED = 0, ROW_DROPPED = 1, ROW_ENOMEM = -1 };

/* Frees tsr_ledger_entries' decoded copy (the entries are about to change;
 * no other thread may be using lg). */
void tsr__ledger_pub_drop(tsr_ledger *lg);

/* Makes room for `more` new customers without a rehash or a new chunk. */
tsr_status tsr__cust_reserve(tsr_ledger *lg, size_t more);
/* A new customer in the empty table entry slot (from cust_probe; room
 * reserved); NULL on ENOMEM. */
cust *tsr__cust_insert(tsr_ledger *lg, uint64_t *slot, const char *id, size_t len, uint64_t h);
/* Adds a row (day, amount, content hash rh) to customer c. With track,
 * a row identical to an earlier one is counted in *identical and, with
 * drop, left out (ROW_DROPPED). */
int tsr__cust_add(tsr_ledger *lg, cust *c, int32_t day, double amount, uint64_t rh,
                  int track, int drop, int64_t *identical);
/* Prefetches what tsr__cust_add reads and writes when customer c's block
 * (full: n == cap > 0) grows: the block, and the free block of the next
 * class that it will take when there is one (returned; else NULL). */
const void *tsr__cust_prefetch_grow(const tsr_ledger *lg, const cust *c);
/* Gives customer c, which has no block yet, a block of k entries (k >= 2;
 * else nothing): 0, or -1 on ENOMEM. */
int tsr__cust_presize(tsr_ledger *lg, cust *c, uint32_t k);
/* Room for one more transaction id (0, or -1 on ENOMEM). */
int tsr__rows_reserve(tsr_ledger *lg);
/* Room for `more` transaction ids without a rehash (0, or -1 on ENOMEM). */
int tsr__rows_reserve_n(tsr_ledger *lg, size_t more);
/* Records a transaction id (id[0..len), its hash key or 0 to have it made
 * when it is kept, the row's content hash) when it comes after every
 * earlier one: 0; 1 when it does not (the
 * caller switches to the table with tsr__ids_index); -1 on ENOMEM. */
int tsr__ids_append(tsr_ledger *lg, const char *id, size_t len, uint64_t key, uint64_t content);
/* tsr__ids_append's common case, inline: while the ids are kept as runs,
 * an id that follows the last one with its last byte one more (not past
 * '9'; T0000041 after T0000040) is counted, and that byte is all of it
 * that changes in last_id: 1 (content kept unless seq_lazy). 0: call
 * tsr__ids_append. ~20 instructions instead of ~80 a row and a call. */
static inline int ids_append_next(tsr_ledger *lg, const char *id, size_t len, uint64_t content) {
  if (!lg->seq_n || lg->seq_key || len != lg->last_len || len < 2 ||
      (!lg->seq_lazy && lg->seq_n == lg->seq_cap))
    return 0;
  const char l = lg->last_id[len - 1];
  if (l < '0' || l > '8' || id[len - 1] != l + 1 || !id_eq(lg->last_id, id, len - 1)) return 0;
  if (!lg->seq_lazy) lg->seq[lg->seq_n] = content;
  lg->seq_n++;
  lg->last_id[len - 1] = (char)(l + 1);
  return 1;
}
/* Moves the ids recorded in order into the table, with room for `more`
 * (0, or -1 on ENOMEM). With seq_lazy, tsr__ids_rebuild_begin first and
 * its content hashes filled. */
int tsr__ids_index(tsr_ledger *lg, size_t more);
/* Ends seq_lazy: lg->seq gets room for the seq_n content hashes (the
 * caller fills them, from its input) and lg->seq_key the ids' hashes (to
 * check the rows read again against). 0, or -1 on ENOMEM (then still
 * lazy). */
int tsr__ids_rebuild_begin(tsr_ledger *lg);

#endif
