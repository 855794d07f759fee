/*
 * ledger.c - the per-customer ledger that ingestion fills (tessera/ingest.h;
 * the parsing side is lib/ingest/ingest.c).
 *
 * Ledger layout: customers (one cache line each: id hash, short id inline,
 * entries) numbered in insertion order in fixed chunks, an open-addressing
 * table of 8-byte entries (hash tag, customer number) to find them, and
 * per customer one block holding its entries (16 bytes, one per day and
 * kind - purchases, refunds - sorted by day then kind: ledger_internal.h's
 * dent; readers get them decoded into the public tsr_ledger_entry, one per
 * day) followed by one 64-bit row-content hash per entry.
 *
 * Duplicates: identical rows necessarily share customer, day and amount
 * (so kind), so the hash of the first row of each entry is kept with it;
 * later distinct rows of the same customer-day go to a small ledger-wide
 * hash set (lg->extra). Memory thus grows with customer-days (plus rows that
 * repeat a customer-day with other content), not with rows. A row counts as
 * identical when its full 64-bit content hash equals an earlier one: exact
 * up to hash collisions (probability about 2^-64 per pair of rows of the
 * same customer-day). With an id column a hash table maps id -> content hash
 * (it grows with the number of distinct ids: that is what --id-col asks);
 * while the ids come in increasing order they are only listed, in order
 * (ledger_internal.h), and the table is built at the first one out of
 * order.
 */
#include "ledger_internal.h"
#include "base/sort.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Asks for transparent huge pages on a large fresh block (the customer
 * table, entry chunks): they are touched at random, and one fault per 2 MiB
 * instead of per 4 KiB halves the kernel time of a large ingest. A hint
 * only: errors are ignored. */
static void hint_huge(void *p, size_t n) {
#ifdef MADV_HUGEPAGE
  const uintptr_t h = (uintptr_t)2 << 20;
  uintptr_t lo = ((uintptr_t)p + h - 1) & ~(h - 1), hi = ((uintptr_t)p + n) & ~(h - 1);
  if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
  (void)p;
  (void)n;
#endif
}

/* Tables and arrays of TBL_MAP bytes or more (entry chunks, the customer
 * table, the customer numbers, the id and extra tables, the ids in order)
 * are mapped by themselves, 2 MiB-aligned, a whole number of 2 MiB pages,
 * advised huge: their fresh pages fault in 2 MiB at a time (calloc's and
 * realloc's blocks were not aligned, and below 4 MiB held no whole huge
 * page: on the bank file's summary 5,900 faults of 4 KiB, each several us
 * on a VM), fresh mappings are zero, and freeing returns them to the
 * system without moving glibc's mmap threshold: from malloc, once glibc
 * had raised it (it does when a large block is freed), blocks came from
 * its heaps, which keep freed memory (tsr_ledger_seal's packing freed
 * 130 MB of chunks on tx1800k, and the process kept 40 MB of them; the
 * tables' blocks from tsr__malloc_big raised tx1800k's summary peak by
 * 37 MB). Smaller ones come from calloc. A block's size tells which. */
#define TBL_MAP ((size_t)1 << 20)

static size_t tbl_span(size_t n) {
  const size_t h = (size_t)2 << 20;
  return (n + h - 1) / h * h;
}

/* A zeroed block of n bytes (freed with tbl_free(p, n)); NULL when out of
 * memory. */
static void *tbl_alloc(size_t n) {
  if (n < TBL_MAP) return tsr__calloc(1, n);
  void *probe = tsr__malloc(1); /* the allocation-failure hook of the tests */
  if (!probe) return NULL;
  tsr__free(probe);
  const size_t h = (size_t)2 << 20, m = tbl_span(n);
  if (m < n || m > SIZE_MAX - h) return NULL;
  char *p = mmap(NULL, m + h, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  char *a = (char *)(((uintptr_t)p + h - 1) & ~(uintptr_t)(h - 1));
  if (a > p) (void)munmap(p, (size_t)(a - p));
  if (a + m < p + m + h) (void)munmap(a + m, (size_t)(p + m + h - (a + m)));
  hint_huge(a, m);
  return a;
}

static void tbl_free(void *p, size_t n) {
  if (!p) return;
  if (n < TBL_MAP)
    tsr__free(p);
  else
    (void)munmap(p, tbl_span(n));
}

/* An entry chunk (POOL_CHUNK bytes). */
static void *chunk_alloc(void) { return tbl_alloc(POOL_CHUNK); }
static void chunk_free(void *p) { tbl_free(p, POOL_CHUNK); }

/* tsr__grow for an array that grows large (the ids in order: 8 bytes a
 * row; the customer numbers): from TBL_MAP bytes on in tbl_alloc's blocks,
 * the old one copied in, and then to hint elements at once when that is
 * more (0: none): the doubling's copies and its blocks of half, a
 * quarter... the size, each faulted in and zeroed, are left out. */
static tsr_status grow_big(void **buf, size_t *cap, size_t need, size_t elsize, size_t hint) {
  if (need <= *cap) return TSR_OK;
  size_t nc = *cap ? *cap : 16;
  while (nc < need) {
    if (nc > SIZE_MAX / 2 / elsize) return TSR_ENOMEM;
    nc *= 2;
  }
  /* a hint of TBL_MAP bytes or more is taken at once, even from a small
   * array (the doubling's blocks below TBL_MAP came from malloc: each of
   * their 4 KiB pages a fault) */
  const int big_hint = hint > nc && hint <= SIZE_MAX / 2 / elsize && hint * elsize >= TBL_MAP;
  if (nc * elsize < TBL_MAP && !big_hint) return tsr__grow(buf, cap, need, elsize);
  void *p = NULL;
  if (big_hint && (p = tbl_alloc(hint * elsize))) nc = hint;
  if (!p && nc * elsize < TBL_MAP) return tsr__grow(buf, cap, need, elsize);
  if (!p && !(p = tbl_alloc(nc * elsize))) return TSR_ENOMEM;
  if (*cap) memcpy(p, *buf, *cap * elsize);
  tbl_free(*buf, *cap * elsize);
  *buf = p;
  *cap = nc;
  return TSR_OK;
}

tsr_status tsr_ledger_new(tsr_ledger **out, tsr_error *err) {
  *out = tsr__calloc(1, sizeof **out);
  if (!*out) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  atomic_init(&(*out)->ready_pool, READY_NONE);
  atomic_init(&(*out)->ready_cust, READY_NONE);
  atomic_init(&(*out)->pub, NULL);
  if (pthread_mutex_init(&(*out)->pub_mu, NULL) != 0) {
    tsr__free(*out);
    *out = NULL;
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  return TSR_OK;
}

/* ------------------------------------------------------------ memory ahead */

/* A block prepared in slot by tsr__ready_fill, or NULL (then the caller
 * allocates it and its pages are zeroed as it touches them); either way
 * the next one is asked for. */
static void *ready_take(_Atomic uintptr_t *slot) {
  uintptr_t v = atomic_exchange_explicit(slot, READY_WANTED, memory_order_acquire);
  return v > READY_WANTED ? (void *)v : NULL;
}

/* Writes one byte of every 4 KiB page: the kernel allocates and zeroes
 * them now, in this thread (one fault per 2 MiB in huge pages). */
static void touch_pages(void *p, size_t n) {
  volatile char *b = p;
  for (size_t o = 0; o < n; o += 4096) b[o] = 0;
}

/* A block of n bytes into slot when one is wanted; only its used bytes
 * touched: from the first multiple of align, used bytes (a customer
 * chunk's, as tsr__cust_reserve places them). pool: an entry chunk
 * (chunk_alloc). */
static void ready_prepare(_Atomic uintptr_t *slot, size_t n, size_t used, uintptr_t align, int pool) {
  if (atomic_load_explicit(slot, memory_order_relaxed) != READY_WANTED) return;
  void *p = pool ? chunk_alloc() : tsr__malloc(n);
  if (!p) return; /* the filler allocates it itself */
  hint_huge(p, n);
  touch_pages((void *)(((uintptr_t)p + align - 1) & ~(align - 1)), used);
  atomic_store_explicit(slot, (uintptr_t)p, memory_order_release);
}

void tsr__ready_fill(tsr_ledger *lg) {
  ready_prepare(&lg->ready_pool, POOL_CHUNK, POOL_CHUNK, 1, 1);
  ready_prepare(&lg->ready_cust, CUST_BYTES, CUST_CHUNK * sizeof(cust), (uintptr_t)2 << 20, 0);
}

void tsr__ready_drop(tsr_ledger *lg) {
  uintptr_t v = atomic_exchange(&lg->ready_pool, READY_NONE);
  if (v > READY_WANTED) chunk_free((void *)v);
  v = atomic_exchange(&lg->ready_cust, READY_NONE);
  if (v > READY_WANTED) tsr__free((void *)v);
}

/* Blocks of cap >= POOL_LARGE entries come from tsr__malloc, the others
 * from the pool. */
#define POOL_LARGE ((uint32_t)1 << POOL_CLASSES)

/* Block capacities come in two classes an octave: 2^j and 3 * 2^(j-1)
 * (2, 3, 4, 6, 8, 12...): a block grows by half or a third, not double.
 * On tx1800k (10.0M customer-days) the blocks at the end of the ingest
 * held 13.4M entries with powers of two, 11.4M so (analyze's peak RSS
 * there 712 -> 648 MB, at the end of the ingest). */
/* The class of cap >= 1: the largest capacity <= cap is class_size of it. */
static unsigned blk_class(uint32_t cap) {
  unsigned j = 31u - (unsigned)__builtin_clz(cap);
  return 2 * j + (j >= 1 && ((cap >> (j - 1)) & 1));
}
static uint32_t class_size(unsigned k) {
  return k & 1 ? ((uint32_t)3 << (k / 2)) >> 1 : (uint32_t)1 << (k / 2);
}
/* The capacity after cap (a class size >= 2). */
static uint32_t class_next(uint32_t cap) { return cap & (cap - 1) ? cap + cap / 3 : cap + cap / 2; }

/* A block for cap entries and their row hashes. A class size may be a
 * recycled block of its class; any other size (a customer's exact run,
 * tsr__cust_presize) is carved from the pool. */
static void *blk_alloc(tsr_ledger *lg, uint32_t cap) {
  if (cap >= POOL_LARGE) return tsr__malloc(blk_bytes(lg, cap));
  if (cap == class_size(blk_class(cap))) {
    unsigned k = blk_class(cap);
    void *p = lg->pool_free[k];
    if (p) {
      memcpy(&lg->pool_free[k], p, sizeof p);
      return p;
    }
  }
  size_t need = blk_bytes(lg, cap);
  if (lg->pool_left < need) {
    if (lg->nchunks == lg->chunks_cap) {
      void *c = lg->chunks;
      if (tsr__grow(&c, &lg->chunks_cap, lg->nchunks + 1, sizeof(void *)) != TSR_OK) return NULL;
      lg->chunks = c;
    }
    char *chunk = ready_take(&lg->ready_pool);
    if (!chunk && !(chunk = chunk_alloc())) return NULL;
    lg->chunks[lg->nchunks++] = chunk;
    lg->pool_cur = chunk;
    lg->pool_left = POOL_CHUNK;
  }
  void *p = lg->pool_cur;
  lg->pool_cur += need;
  lg->pool_left -= need;
  return p;
}

/* A freed pool block of cap entries serves as a block of the largest
 * class size <= cap (its hashes then start at that many entries). */
static void blk_free(tsr_ledger *lg, void *p, uint32_t cap) {
  if (!p) return;
  if (cap >= POOL_LARGE) {
    tsr__free(p);
    return;
  }
  unsigned k = blk_class(cap);
  memcpy(p, &lg->pool_free[k], sizeof p);
  lg->pool_free[k] = p;
}

/* Frees the ids recorded in order. */
static void seq_drop(tsr_ledger *lg) {
  tbl_free(lg->seq, lg->seq_cap * sizeof *lg->seq);
  tbl_free(lg->seq_key, lg->seq_key_cap * sizeof *lg->seq_key);
  tsr__free(lg->runs);
  tsr__free(lg->run_ids);
  lg->seq = lg->seq_key = NULL;
  lg->runs = NULL;
  lg->run_ids = NULL;
  lg->seq_n = lg->seq_cap = lg->seq_key_cap = lg->runs_n = lg->runs_cap = 0;
  lg->run_ids_len = lg->run_ids_cap = 0;
}

void tsr_ledger_free(tsr_ledger *lg) {
  if (!lg) return;
  tsr__ready_drop(lg);
  tsr__ledger_pub_drop(lg);
  pthread_mutex_destroy(&lg->pub_mu);
  for (size_t i = 0; i < lg->n; i++) {
    const cust *c = cust_at(lg, i);
    if (c->e && c->cap >= POOL_LARGE) tsr__free(c->e);
  }
  for (size_t i = 0; i < lg->nchunks; i++) chunk_free(lg->chunks[i]);
  tsr__free(lg->chunks);
  tsr__free(lg->packed);
  for (size_t i = 0; i < lg->nchunks_c; i++) tsr__free(lg->chunks_c[i].mem);
  tsr__free(lg->chunks_c);
  tbl_free(lg->index, lg->nslots * sizeof *lg->index);
  tbl_free(lg->order, lg->order_cap * sizeof *lg->order);
  tsr__free(lg->ids);
  tbl_free(lg->rows, lg->rows_cap * sizeof *lg->rows);
  seq_drop(lg);
  tbl_free(lg->extra, lg->extra_cap * sizeof *lg->extra);
  tsr__free(lg);
}

/* The customers with a pool block in the blocks' address order (addr:
 * the blocks' addresses sorted, who: their customers' numbers) and the
 * chunks' addresses sorted (caddr), for the walks of pool_pack and
 * tsr__ledger_drain. 0, or -1 with nothing allocated when memory is
 * refused or there are 2^32 blocks or more. */
static int addr_order(const tsr_ledger *lg, size_t *nbp, uint64_t **addrp, uint32_t **whop,
                      uint64_t **caddrp) {
  size_t nb = 0;
  for (size_t i = 0; i < lg->n; i++) {
    const cust *c = cust_at(lg, i);
    if (c->e && c->cap < POOL_LARGE) nb++;
  }
  if (nb > UINT32_MAX) return -1;
  uint64_t *addr = tsr__malloc((nb ? nb : 1) * sizeof *addr);
  uint32_t *who = tsr__malloc((nb ? nb : 1) * sizeof *who);
  uint64_t *caddr = tsr__malloc((lg->nchunks ? lg->nchunks : 1) * sizeof *caddr);
  int ok = addr && who && caddr;
  if (ok) {
    size_t k = 0;
    for (size_t i = 0; i < lg->n; i++) {
      const cust *c = cust_at(lg, i);
      if (c->e && c->cap < POOL_LARGE) {
        addr[k] = (uint64_t)(uintptr_t)c->e;
        who[k++] = (uint32_t)i;
      }
    }
    for (size_t i = 0; i < lg->nchunks; i++) caddr[i] = (uint64_t)(uintptr_t)lg->chunks[i];
    ok = tsr__radix_sort_u64(addr, who, nb) == 0 && tsr__radix_sort_u64(caddr, NULL, lg->nchunks) == 0;
  }
  if (!ok) {
    tsr__free(caddr);
    tsr__free(who);
    tsr__free(addr);
    return -1;
  }
  *nbp = nb;
  *addrp = addr;
  *whop = who;
  *caddrp = caddr;
  return 0;
}

static void rev_u32(uint32_t *x, size_t n) {
  for (size_t i = 0, j = n; i + 1 < j; i++, j--) {
    uint32_t t = x[i];
    x[i] = x[j - 1];
    x[j - 1] = t;
  }
}

/* Packs the pool blocks to their used size, in place: with no more rows to
 * come, a block needs n entries, not its class-size cap (a third more on
 * tx1800k: 13.4M entries of capacity for 10.0M days with powers of two,
 * 11.4M with two classes an octave), and the recycled
 * blocks in pool_free are garbage. The blocks are moved down in address
 * order (chunks in address order, one after another): a block's new place
 * never lies after its old one (the blocks before it shrank or stayed, and
 * it fits wherever it did), so each memmove reads bytes not yet
 * overwritten; the chunks left empty are freed. Needs 12 bytes a customer
 * for a moment; when that memory is refused, nothing changes. */
static void pool_pack(tsr_ledger *lg) {
  size_t nb;
  uint64_t *addr, *caddr;
  uint32_t *who;
  if (!lg->nchunks || addr_order(lg, &nb, &addr, &who, &caddr) != 0) return;
  {
    /* the chunk blocks were last carved from (pool_cur) comes last, its
     * blocks after all others: its bytes after pool_cur were never written
     * (pages the kernel would allocate and zero now, 2 MiB at a time in
     * huge pages: 30 ms of the bank file's summary on a loaded machine),
     * and the blocks before them now fill the other chunks' free ends */
    const uint64_t cur = (uint64_t)(uintptr_t)lg->chunks[lg->nchunks - 1];
    size_t ci = 0;
    while (caddr[ci] != cur) ci++;
    memmove(caddr + ci, caddr + ci + 1, (lg->nchunks - 1 - ci) * sizeof *caddr);
    caddr[lg->nchunks - 1] = cur;
    size_t d = 0; /* the chunk written to (caddr's order) */
    char *dst = (char *)(uintptr_t)caddr[0];
    for (size_t pass = 0, k = 0; pass < 2; pass++, k = 0) for (; k < nb; k++) {
      /* pass 0: the blocks of the other chunks; pass 1: those of cur */
      /* the customers in their blocks' order are in random order: each a
       * cache miss (most of the pack's time) unless fetched ahead */
      if (k + 8 < nb) __builtin_prefetch(cust_at(lg, who[k + 8]), 1);
      if ((addr[k] - cur < POOL_CHUNK) != (pass == 1)) continue;
      cust *c = cust_at(lg, who[k]);
      const size_t bytes = blk_bytes(lg, c->n);
      /* a block never spans chunks: the next chunk when it does not fit */
      if ((size_t)((char *)(uintptr_t)caddr[d] + POOL_CHUNK - dst) < bytes)
        dst = (char *)(uintptr_t)caddr[++d];
      char *src = (char *)c->e;
      if (c->n) {
        if (dst != src) memmove(dst, src, (size_t)c->n * sizeof(dent));
        if (!lg->no_rh)
          memmove(dst + (size_t)c->n * sizeof(dent), src + (size_t)c->cap * sizeof(dent),
                  (size_t)c->n * sizeof(uint64_t));
        c->e = (dent *)(void *)dst;
        c->cap = c->n;
        dst += bytes;
      } else {
        c->e = NULL;
        c->cap = 0;
      }
    }
    /* chunks past the last one written to are empty */
    for (size_t i = d + 1; i < lg->nchunks; i++) chunk_free((void *)(uintptr_t)caddr[i]);
    for (size_t i = 0; i <= d; i++) lg->chunks[i] = (void *)(uintptr_t)caddr[i];
    lg->nchunks = d + 1;
    lg->pool_cur = dst;
    lg->pool_left = (size_t)((char *)(uintptr_t)caddr[d] + POOL_CHUNK - dst);
    memset(lg->pool_free, 0, sizeof lg->pool_free);
    /* who in the blocks' new order, for the drain (no second address
     * sort there): cur's blocks, one run [a, b) of the address order,
     * went last: who[a..nb) rotated left by b - a (three reversals) */
    size_t a = 0, b;
    while (a < nb && addr[a] < cur) a++;
    for (b = a; b < nb && addr[b] - cur < POOL_CHUNK; b++) {
    }
    if (b > a && b < nb) {
      rev_u32(who + a, b - a);
      rev_u32(who + b, nb - b);
      rev_u32(who + a, nb - a);
    }
    tsr__free(lg->packed);
    lg->packed = who;
    lg->npacked = nb;
    who = NULL;
  }
  tsr__free(caddr);
  tsr__free(who);
  tsr__free(addr);
}

/* The seal's frees: what is kept only to recognise later rows. */
static void seal_tables(tsr_ledger *lg) {
  tsr__ready_drop(lg); /* no more rows: no more blocks */
  tbl_free(lg->rows, lg->rows_cap * sizeof *lg->rows);
  seq_drop(lg);
  tbl_free(lg->extra, lg->extra_cap * sizeof *lg->extra);
  lg->rows = NULL;
  lg->extra = NULL;
  lg->rows_n = lg->rows_cap = lg->extra_n = lg->extra_cap = 0;
}

void tsr_ledger_seal(tsr_ledger *lg) {
  if (!lg) return;
  seal_tables(lg);
  if (!lg->sealed) pool_pack(lg);
  lg->sealed = 1;
}

size_t tsr_ledger_ncustomers(const tsr_ledger *lg) { return lg->n; }
const char *tsr_ledger_customer(const tsr_ledger *lg, size_t i) {
  return i < lg->n ? cust_id(lg, cust_at(lg, lg->order[i])) : NULL;
}
/* The public entries of the n dense entries e into out (at most n):
 * their count. A day's purchase entry comes before its refund entry. */
static size_t decode(const dent *e, size_t n, tsr_ledger_entry *out) {
  size_t k = 0;
  for (size_t j = 0; j < n; j++) {
    if (!k || out[k - 1].day != e[j].day) {
      memset(&out[k], 0, sizeof out[k]);
      out[k++].day = e[j].day;
    }
    tsr_ledger_entry *o = &out[k - 1];
    if (e[j].cnt & DENT_REFUND) {
      o->nrefund = e[j].cnt & ~DENT_REFUND;
      o->refund = e[j].sum;
    } else {
      o->ntx = e[j].cnt;
      o->amount = e[j].sum;
    }
  }
  return k;
}

size_t tsr__ledger_max_entries(const tsr_ledger *lg) {
  size_t m = 0;
  for (size_t i = 0; i < lg->n; i++)
    if (cust_at(lg, i)->n > m) m = cust_at(lg, i)->n;
  return m;
}

double tsr__ledger_abs_total(const tsr_ledger *lg) { return lg->abs_total; }

double tsr__ledger_abs_sums_max(const tsr_ledger *lg) {
  double m = 0;
  for (size_t i = 0; i < lg->n; i++) {
    const cust *c = cust_at(lg, i);
    double t = 0;
    for (uint32_t k = 0; k < c->n; k++) t += fabs(c->e[k].sum);
    if (!(t <= m)) m = t; /* NaN or +inf: kept (no finite t is above it) */
    if (!(m <= DBL_MAX)) return m;
  }
  return m;
}

size_t tsr__ledger_nentries(const tsr_ledger *lg, size_t i) {
  return i < lg->n ? cust_at(lg, lg->order[i])->n : 0;
}

const tsr_ledger_entry *tsr__ledger_decode(const tsr_ledger *lg, size_t i, tsr_ledger_entry *buf,
                                           size_t *n) {
  if (i >= lg->n) {
    *n = 0;
    return NULL;
  }
  const cust *c = cust_at(lg, lg->order[i]);
  *n = decode(c->e, c->n, buf);
  return buf;
}

int tsr__ledger_day_span(const tsr_ledger *lg, size_t i, int32_t *first, int32_t *last) {
  if (i >= lg->n) return 0;
  const cust *c = cust_at(lg, lg->order[i]);
  if (!c->n) return 0;
  *first = c->e[0].day;
  *last = c->e[c->n - 1].day;
  return 1;
}

int tsr__ledger_purchase_in(const tsr_ledger *lg, size_t i, int32_t from, int32_t to) {
  if (i >= lg->n) return 0;
  const cust *c = cust_at(lg, lg->order[i]);
  for (uint32_t k = 0; k < c->n && c->e[k].day <= to; k++)
    if (c->e[k].day >= from && !(c->e[k].cnt & DENT_REFUND)) return 1;
  return 0;
}

void tsr__ledger_pub_drop(tsr_ledger *lg) {
  tsr__free(atomic_load(&lg->pub));
  tsr__free(lg->pub_off);
  atomic_store(&lg->pub, NULL);
  lg->pub_off = NULL;
}

/* Makes tsr_ledger_entries' decoded copy (a no-op once made): 0, or -1 on
 * ENOMEM. */
static int pub_make(tsr_ledger *lg) {
  if (atomic_load_explicit(&lg->pub, memory_order_acquire)) return 0;
  pthread_mutex_lock(&lg->pub_mu);
  int r = 0;
  if (!atomic_load_explicit(&lg->pub, memory_order_relaxed)) {
    size_t tot = 0;
    for (size_t s = 0; s < lg->n; s++) tot += cust_at(lg, s)->n;
    size_t *off = tsr__malloc((lg->n + 1) * sizeof *off);
    tsr_ledger_entry *p = tsr__malloc((tot ? tot : 1) * sizeof *p);
    if (off && p) {
      size_t k = 0;
      for (size_t s = 0; s < lg->n; s++) {
        const cust *c = cust_at(lg, s);
        off[s] = k;
        k += decode(c->e, c->n, p + k);
      }
      off[lg->n] = k;
      lg->pub_off = off;
      atomic_store_explicit(&lg->pub, p, memory_order_release);
    } else {
      tsr__free(off);
      tsr__free(p);
      r = -1;
    }
  }
  pthread_mutex_unlock(&lg->pub_mu);
  return r;
}

/* Decoded from the blocks into the ledger's copy at the first call (see
 * tessera/ingest.h): the ledger's own entries are 16 bytes and one per
 * day and kind. */
const tsr_ledger_entry *tsr_ledger_entries(const tsr_ledger *lg, size_t i, size_t *n) {
  *n = 0;
  if (i >= lg->n || !lg->index) return NULL; /* none, or drained */
  tsr_ledger *m = (tsr_ledger *)(uintptr_t)lg; /* the copy only */
  if (pub_make(m) != 0) return NULL;
  const size_t s = lg->order[i];
  *n = lg->pub_off[s + 1] - lg->pub_off[s];
  return *n ? atomic_load_explicit(&lg->pub, memory_order_relaxed) + lg->pub_off[s] : NULL;
}

void tsr__ledger_prefetch(const tsr_ledger *lg, size_t i, int stage) {
  if (i >= lg->n) return;
  const cust *c = cust_at(lg, lg->order[i]);
  if (stage == 0) {
    __builtin_prefetch(c);
  } else if (c->n) {
    const char *e = (const char *)c->e, *end = (const char *)(c->e + c->n);
    for (int k = 0; k < 4 && e < end; k++, e += 64) __builtin_prefetch(e);
  }
}

size_t tsr__ledger_capacity(const tsr_ledger *lg) {
  size_t k = 0;
  for (size_t i = 0; i < lg->n; i++) k += cust_at(lg, i)->cap;
  return k;
}

int tsr__ledger_last_purchase(const tsr_ledger *lg, int64_t *day) {
  if (lg->has_purchase) *day = lg->last_purchase;
  return lg->has_purchase;
}

/* ------------------------------------------------------------ customers */

/* Moves the pages of the customer table, when it is one of tbl_alloc's
 * blocks, to the front of idx (a larger fresh block of tbl_alloc) and
 * clears them there; lg->index is then idx (the rebuild's table, all
 * zero). The table doubles as customers come (1 -> 2 -> 4... MiB): only
 * the added half is fresh memory, not the whole new table (the kernel's
 * zeroing of fresh pages on the VM: 0.6-1.6 ms a MiB; a memset of pages
 * already there a tenth of that). On failure nothing changes: the new
 * table is filled from fresh zero pages and the old one freed, as
 * before. */
static void index_reuse(tsr_ledger *lg, uint64_t *idx) {
#ifdef MREMAP_FIXED
  const size_t ob = lg->nslots * sizeof *lg->index;
  if (ob < TBL_MAP) return;
  void *p = mremap(lg->index, tbl_span(ob), tbl_span(ob), MREMAP_MAYMOVE | MREMAP_FIXED, idx);
  if (p == MAP_FAILED) return;
  /* the old span's pages past its slots were never written: zero */
  memset(idx, 0, ob);
  lg->index = idx;
#else
  (void)lg;
  (void)idx;
#endif
}

/* Makes room for `more` new customers without a rehash or a new chunk. */
tsr_status tsr__cust_reserve(tsr_ledger *lg, size_t more) {
  size_t need = lg->n + more;
  if (need > UINT32_MAX - 1) return TSR_ENOMEM;
  if (need > lg->order_cap) {
    void *p = lg->order;
    /* a large input: at once the customers of a TBL_MAP block */
    const size_t hint = lg->big_input ? TBL_MAP / sizeof *lg->order : 0;
    if (grow_big(&p, &lg->order_cap, need, sizeof *lg->order, hint) != TSR_OK) return TSR_ENOMEM;
    lg->order = p;
  }
  size_t nch = (need + CUST_CHUNK - 1) >> CUST_CHUNK_BITS;
  if (nch > lg->chunks_c_cap) {
    void *p = lg->chunks_c;
    if (tsr__grow(&p, &lg->chunks_c_cap, nch, sizeof *lg->chunks_c) != TSR_OK) return TSR_ENOMEM;
    lg->chunks_c = p;
  }
  while (lg->nchunks_c < nch) {
    /* untouched pages of a chunk cost nothing: small ledgers stay small.
     * Chunks are 2 MiB-aligned, in huge pages when the system allows
     * (customers are looked up at random, once per row, and fault in 2 MiB
     * at a time), except the first chunk's first 2 MiB: a ledger of up to
     * 32,768 customers keeps 4 KiB pages (the first chunk in 4 KiB pages
     * was 1,000 faults of the bank file's summary). */
    const size_t bytes = CUST_CHUNK * sizeof(cust), h = (size_t)2 << 20;
    const int first = lg->nchunks_c == 0 && !lg->big_input;
    void *mem = first ? NULL : ready_take(&lg->ready_cust); /* of CUST_BYTES */
    if (!mem) mem = tsr__malloc(CUST_BYTES);
    if (!mem) return TSR_ENOMEM;
    cust_chunk *ch = &lg->chunks_c[lg->nchunks_c++];
    ch->mem = mem;
    ch->c = (cust *)(void *)(((uintptr_t)mem + h - 1) & ~(uintptr_t)(h - 1));
    hint_huge((char *)ch->c + (first ? h : 0), bytes - (first ? h : 0));
  }
  if (need * 2 <= lg->nslots) return TSR_OK;
  /* a large input starts with a table of TBL_MAP bytes (one huge page;
   * the smaller ones before it were 256 faults of 4 KiB pages) */
  size_t ns = lg->nslots ? lg->nslots : lg->big_input ? TBL_MAP / sizeof *lg->index : 1024;
  while (need * 2 > ns) ns *= 2;
  if (ns > ((size_t)1 << 33) || ns > SIZE_MAX / sizeof(uint64_t)) return TSR_ENOMEM;
  uint64_t *idx = tbl_alloc(ns * sizeof *idx);
  if (!idx) return TSR_ENOMEM;
  index_reuse(lg, idx);
  for (size_t i = 0; i < lg->n; i++) {
    const cust *c = cust_at(lg, i);
    size_t k = (size_t)c->hash & (ns - 1);
    while (idx[k]) k = (k + 1) & (ns - 1);
    idx[k] = (c->hash >> 32) << 32 | (uint64_t)(i + 1);
  }
  if (lg->index != idx) tbl_free(lg->index, lg->nslots * sizeof *lg->index);
  lg->index = idx;
  lg->nslots = ns;
  return TSR_OK;
}

ptrdiff_t tsr_ledger_find(const tsr_ledger *lg, const char *id) {
  if (!lg->n || !lg->index) return -1; /* none, or drained (tsr__ledger_drain) */
  size_t len = strlen(id);
  uint64_t *slot;
  const cust *c = cust_probe(lg, id, len, id_hash(id, len), &slot);
  return c ? (ptrdiff_t)c->rank : -1;
}

/* A new customer in the empty table entry slot (room reserved); NULL on
 * ENOMEM. */
cust *tsr__cust_insert(tsr_ledger *lg, uint64_t *slot, const char *id, size_t len, uint64_t h) {
  cust *c = cust_at(lg, lg->n);
  if (len >= CUST_INLINE) {
    void *p = lg->ids;
    if (tsr__grow(&p, &lg->ids_cap, lg->ids_len + len + 1, 1) != TSR_OK) return NULL;
    lg->ids = p;
    c->id.off[0] = (uint32_t)lg->ids_len;
    c->id.off[1] = (uint32_t)((uint64_t)lg->ids_len >> 32);
    memcpy(lg->ids + lg->ids_len, id, len);
    lg->ids[lg->ids_len + len] = '\0';
    lg->ids_len += len + 1;
  } else {
    memcpy(c->id.in, id, len);
    c->id.in[len] = '\0';
  }
  c->hash = h;
  c->e = NULL;
  c->n = c->cap = 0;
  c->id_len = (uint32_t)len;
  c->rank = (uint32_t)lg->n;
  *slot = (h >> 32) << 32 | (uint64_t)(lg->n + 1);
  lg->order[lg->n] = (uint32_t)lg->n;
  lg->n++;
  lg->finished = 0;
  return c;
}

/* Gives customer c, which has no block yet, one for k entries: its rows
 * of a file sorted by customer, counted ahead (an exact size instead of
 * the next class size, and no copies while it fills). */
const void *tsr__cust_prefetch_grow(const tsr_ledger *lg, const cust *c) {
  __builtin_prefetch(c->e);
  __builtin_prefetch(&c->e[c->n - 1]);
  if (!lg->no_rh) __builtin_prefetch(cust_rh(c));
  const void *p = NULL;
  if (c->cap < POOL_LARGE) {
    /* the block it will take when one of its class is free (tsr__cust_add:
     * the next class size; blk_alloc: a free block of that class) */
    uint32_t nc = 2;
    while (nc <= c->cap) nc = class_next(nc);
    if (nc < POOL_LARGE && nc == class_size(blk_class(nc))) p = lg->pool_free[blk_class(nc)];
    if (p) __builtin_prefetch(p, 1);
  }
  return p;
}

int tsr__cust_presize(tsr_ledger *lg, cust *c, uint32_t k) {
  if (c->cap || k < 2) return 0;
  dent *e = blk_alloc(lg, k);
  if (!e) return -1;
  c->e = e;
  c->cap = k;
  return 0;
}

/* ------------------------------------------------------------ row hashes */

/* Set of content hashes of the 2nd and later distinct rows of a customer-day. */
static int extra_has(const tsr_ledger *lg, uint64_t h) {
  size_t m = lg->extra_cap - 1, k = (size_t)h & m;
  while (lg->extra[k]) {
    if (lg->extra[k] == h) return 1;
    k = (k + 1) & m;
  }
  return 0;
}

static int extra_add(tsr_ledger *lg, uint64_t h) {
  if ((lg->extra_n + 1) * 2 > lg->extra_cap) {
    size_t nc = lg->extra_cap ? lg->extra_cap * 2 : 1024;
    uint64_t *t = tbl_alloc(nc * sizeof *t);
    if (!t) return -1;
    for (size_t i = 0; i < lg->extra_cap; i++) {
      uint64_t v = lg->extra[i];
      if (!v) continue;
      size_t k = (size_t)v & (nc - 1);
      while (t[k]) k = (k + 1) & (nc - 1);
      t[k] = v;
    }
    tbl_free(lg->extra, lg->extra_cap * sizeof *lg->extra);
    lg->extra = t;
    lg->extra_cap = nc;
  }
  size_t m = lg->extra_cap - 1, k = (size_t)h & m;
  while (lg->extra[k]) {
    if (lg->extra[k] == h) return 0;
    k = (k + 1) & m;
  }
  lg->extra[k] = h;
  lg->extra_n++;
  return 0;
}

/* Adds a row (day, amount, content hash rh) to customer c. With track,
 * a row identical to an earlier one is counted in *identical and, with
 * drop, left out (ROW_DROPPED). */
int tsr__cust_add(tsr_ledger *lg, cust *c, int32_t day, double amount, uint64_t rh,
                    int track, int drop, int64_t *identical) {
  uint32_t n = c->n, pos;
  dent *e = c->e;
  const uint32_t kind = amount < 0 ? DENT_REFUND : 0;
  if (n == 0 || day > c->last) {
    pos = n;
  } else {
    /* the entry of (day, kind), or where it belongs: the last one, as a
     * rule (rows of a customer come by day) */
    const uint64_t key = dent_key(day, kind), lk = dent_key(e[n - 1].day, e[n - 1].cnt & DENT_REFUND);
    if (key > lk) {
      pos = n;
    } else if (key == lk) {
      pos = n - 1;
    } else {
      uint32_t lo = 0, hi = n - 1; /* first entry with a key >= key */
      while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (dent_key(e[mid].day, e[mid].cnt & DENT_REFUND) < key) lo = mid + 1;
        else hi = mid;
      }
      pos = lo;
    }
  }
  if (pos < n && e[pos].day == day && (e[pos].cnt & DENT_REFUND) == kind) {
    if ((e[pos].cnt & DENT_MAX) == DENT_MAX) { /* 2^31 - 1 rows of a kind a day */
      lg->day_full = 1;
      return ROW_ENOMEM;
    }
    if (track) {
      /* identical rows have the same day and amount, so the same kind:
       * the entry's first row's hash, or a later one in extra (without
       * row hashes in the blocks - an input with ids and single_input,
       * then another input against its word - the first one's too) */
      if ((!lg->no_rh && cust_rh(c)[pos] == rh) || (lg->extra_n && extra_has(lg, rh))) {
        (*identical)++;
        if (drop) return ROW_DROPPED;
      } else if (extra_add(lg, rh) != 0) {
        return ROW_ENOMEM;
      }
    }
  } else {
    /* the day's entry of the other kind, when there is one: the hashes of
     * the day's earlier rows are its first row's and those in extra, as
     * when a day was one entry (rows identical by content but not by
     * amount kind: inputs with other columns) */
    const uint32_t o = kind ? pos - 1 : pos; /* where it would be */
    if (track && o < n && e[o].day == day &&
        ((!lg->no_rh && cust_rh(c)[o] == rh) || (lg->extra_n && extra_has(lg, rh)))) {
      (*identical)++;
      if (drop) return ROW_DROPPED;
    }
    if (n == c->cap) {
      /* the next class size (a presized block may be any size) */
      if (c->cap >= (uint32_t)1 << 31) return ROW_ENOMEM;
      uint32_t nc = 2;
      while (nc <= c->cap) nc = class_next(nc);
      dent *ne = blk_alloc(lg, nc);
      if (!ne) return ROW_ENOMEM;
      if (n) {
        memcpy(ne, e, (size_t)n * sizeof *ne);
        if (!lg->no_rh) memcpy(ne + nc, cust_rh(c), (size_t)n * sizeof(uint64_t));
      }
      blk_free(lg, e, c->cap);
      c->e = e = ne;
      c->cap = nc;
    }
    if (pos < n) memmove(e + pos + 1, e + pos, (size_t)(n - pos) * sizeof *e);
    if (!lg->no_rh) {
      uint64_t *h = cust_rh(c);
      if (pos < n) memmove(h + pos + 1, h + pos, (size_t)(n - pos) * sizeof *h);
      h[pos] = rh;
    } else if (track && extra_add(lg, rh) != 0) {
      return ROW_ENOMEM;
    }
    e[pos].day = day;
    e[pos].cnt = kind;
    e[pos].sum = 0.0; /* as the public entry's sums start */
    c->n = n + 1;
    if (pos == n) c->last = day;
    lg->finished = 0;
  }
  e[pos].cnt++;
  e[pos].sum += amount;
  lg->abs_total += fabs(amount);
  if (!kind) {
    if (!lg->has_purchase || day > lg->last_purchase) lg->last_purchase = day;
    lg->has_purchase = 1;
  }
  return ROW_ADDED;
}

/* ------------------------------------------------------------ id table */

int tsr__rows_reserve_n(tsr_ledger *lg, size_t more) {
  if ((lg->rows_n + more) * 2 <= lg->rows_cap) return 0;
  size_t nc = lg->rows_cap ? lg->rows_cap * 2 : 4096;
  while ((lg->rows_n + more) * 2 > nc) nc *= 2;
  rowent *old = lg->rows;
  size_t oc = lg->rows_cap;
  /* looked up at random once per row: on a 1.9M-row file with
   * transaction ids, the TLB misses of 4 KiB pages were a third of the
   * summary's CPU time (more under virtualisation): huge pages */
  lg->rows = tbl_alloc(nc * sizeof *lg->rows);
  if (!lg->rows) {
    lg->rows = old;
    return -1;
  }
  lg->rows_cap = nc;
  for (size_t i = 0; i < oc; i++)
    if (old[i].key) *row_find(lg, old[i].key) = old[i];
  tbl_free(old, oc * sizeof *old);
  return 0;
}

int tsr__rows_reserve(tsr_ledger *lg) { return tsr__rows_reserve_n(lg, 1); }

/* The id after id[0..len) in a run: its trailing digits one more, the
 * length unchanged (1 in place), or 0 (no trailing digit, or all nines). */
static int id_next(char *id, size_t len) {
  for (size_t i = len; i > 0; i--) {
    char c = id[i - 1];
    if (c < '0' || c > '9') return 0;
    if (c < '9') {
      id[i - 1] = (char)(c + 1);
      return 1;
    }
    id[i - 1] = '0';
  }
  return 0;
}

/* 1 when id is the id after last in a run (id_next of last; both of len
 * bytes): last's trailing nines are zeros in id, the digit before them
 * (not a nine) one more, the bytes before that the same. Compared in
 * place, without the copy and the two calls of making the successor. */
static int id_follows(const char *last, const char *id, size_t len) {
  /* the common case, no trailing nine (9 ids in 10): the last byte one
   * more, the others equal (compared a word at a time by id_eq) */
  if (len && last[len - 1] >= '0' && last[len - 1] <= '8')
    return id[len - 1] == last[len - 1] + 1 && id_eq(last, id, len - 1);
  size_t i = len;
  while (i > 0 && last[i - 1] == '9' && id[i - 1] == '0') i--;
  if (i == 0 || last[i - 1] < '0' || last[i - 1] > '8' || id[i - 1] != last[i - 1] + 1) return 0;
  for (size_t k = 0; k + 1 < i; k++)
    if (id[k] != last[k]) return 0;
  return 1;
}

/* The id hashes of ids [0, n) recorded in order, into key (of n). */
static void seq_keys(const tsr_ledger *lg, uint64_t *key, size_t n) {
  char buf[TSR_INGEST_MAX_ID];
  for (size_t r = 0; r < lg->runs_n; r++) {
    const seq_run *q = &lg->runs[r];
    size_t end = r + 1 < lg->runs_n ? (size_t)lg->runs[r + 1].start : n;
    memcpy(buf, lg->run_ids + q->off, (size_t)q->len);
    for (size_t i = (size_t)q->start; i < end; i++) {
      key[i] = tid_key(buf, (size_t)q->len);
      if (i + 1 < end) (void)id_next(buf, (size_t)q->len);
    }
  }
}

/* Starts a run at id (the next index); 0, or -1 on ENOMEM. When the runs
 * average fewer than 8 ids (ids that do not count up), the id hashes are
 * kept in seq_key instead, from now on. */
static int seq_run_start(tsr_ledger *lg, const char *id, size_t len) {
  if (lg->runs_n >= 64 && lg->runs_n * 8 > lg->seq_n) {
    size_t cap = lg->seq_n + 1 > lg->seq_cap ? lg->seq_n + 1 : lg->seq_cap;
    uint64_t *k = tbl_alloc(cap * sizeof *k);
    if (!k) return -1;
    seq_keys(lg, k, lg->seq_n);
    lg->seq_key = k;
    lg->seq_key_cap = cap;
    tsr__free(lg->runs);
    tsr__free(lg->run_ids);
    lg->runs = NULL;
    lg->run_ids = NULL;
    lg->runs_n = lg->runs_cap = lg->run_ids_len = lg->run_ids_cap = 0;
    return 0;
  }
  if (lg->runs_n == lg->runs_cap) {
    void *p = lg->runs;
    if (tsr__grow(&p, &lg->runs_cap, lg->runs_n + 1, sizeof *lg->runs) != TSR_OK) return -1;
    lg->runs = p;
  }
  void *p = lg->run_ids;
  if (tsr__grow(&p, &lg->run_ids_cap, lg->run_ids_len + len + 1, 1) != TSR_OK) return -1;
  lg->run_ids = p;
  memcpy(lg->run_ids + lg->run_ids_len, id, len);
  seq_run *q = &lg->runs[lg->runs_n++];
  q->start = lg->seq_n;
  q->off = lg->run_ids_len;
  q->len = len;
  lg->run_ids_len += len;
  return 0;
}

int tsr__ids_append(tsr_ledger *lg, const char *id, size_t len, uint64_t key, uint64_t content) {
  int next = 0; /* id follows the last one in its run */
  if (lg->seq_n) {
    /* strictly after the last id: longer, or as long and bytewise after
     * (as the next id of a run is) */
    if (len < lg->last_len) return 1;
    if (len == lg->last_len) {
      if (!lg->seq_key && id_follows(lg->last_id, id, len)) next = 1;
      else if (memcmp(id, lg->last_id, len) <= 0) return 1;
    }
  }
  if (!lg->seq_lazy && lg->seq_n == lg->seq_cap) {
    void *p = lg->seq;
    if (grow_big(&p, &lg->seq_cap, lg->seq_n + 1, sizeof *lg->seq, lg->seq_hint) != TSR_OK)
      return -1;
    lg->seq = p;
  }
  if (!next && !lg->seq_key && seq_run_start(lg, id, len) != 0) return -1;
  if (lg->seq_key) {
    if (lg->seq_n == lg->seq_key_cap) {
      void *p = lg->seq_key;
      if (grow_big(&p, &lg->seq_key_cap, lg->seq_n + 1, sizeof *lg->seq_key, lg->seq_hint) !=
          TSR_OK)
        return -1;
      lg->seq_key = p;
    }
    lg->seq_key[lg->seq_n] = key ? key : tid_key(id, len);
  }
  if (!lg->seq_lazy) lg->seq[lg->seq_n] = content;
  lg->seq_n++;
  id_copy(lg->last_id, id, len);
  lg->last_len = len;
  return 0;
}

int tsr__ids_rebuild_begin(tsr_ledger *lg) {
  const size_t n = lg->seq_n ? lg->seq_n : 1;
  uint64_t *h = tbl_alloc(n * sizeof *h);
  if (!h) return -1;
  if (!lg->seq_key) {
    uint64_t *k = tbl_alloc(n * sizeof *k);
    if (!k) {
      tbl_free(h, n * sizeof *h);
      return -1;
    }
    seq_keys(lg, k, lg->seq_n);
    lg->seq_key = k;
    lg->seq_key_cap = n;
  }
  tbl_free(lg->seq, lg->seq_cap * sizeof *lg->seq);
  lg->seq = h;
  lg->seq_cap = n;
  lg->seq_lazy = 0;
  return 0;
}

int tsr__ids_index(tsr_ledger *lg, size_t more) {
  /* more is an estimate: when that much memory is refused, the table
   * starts at the ids so far and grows as before */
  uint64_t *key = lg->seq_key;
  if (!key && lg->seq_n) {
    if (!(key = tsr__malloc(lg->seq_n * sizeof *key))) return -1;
    seq_keys(lg, key, lg->seq_n);
  }
  if (tsr__rows_reserve_n(lg, lg->seq_n + more) != 0 && tsr__rows_reserve_n(lg, lg->seq_n) != 0) {
    if (key != lg->seq_key) tsr__free(key);
    return -1;
  }
  for (size_t i = 0; i < lg->seq_n; i++) {
    rowent *r = row_find(lg, key[i]);
    if (!r->key) lg->rows_n++;
    r->key = key[i]; /* ids in order are distinct up to hash collisions */
    r->val = lg->seq[i];
  }
  if (key != lg->seq_key) tsr__free(key);
  seq_drop(lg);
  lg->ids_hashed = 1;
  return 0;
}

/* ------------------------------------------------------------ finish */

static int all_digits(const char *s, size_t n) {
  if (!n) return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return 1;
}

/* Customer order: digit-only ids numerically (leading zeros ignored, then
 * shorter first), others bytewise. */
static int id_cmp(const char *s, size_t n, const char *t, size_t m) {
  size_t n0 = n, m0 = m;
  if (all_digits(s, n) && all_digits(t, m)) {
    while (n > 1 && *s == '0') s++, n--;
    while (m > 1 && *t == '0') t++, m--;
    if (n != m) return n < m ? -1 : 1;
    int c = memcmp(s, t, n);
    if (c) return c;
    return (n0 > m0) - (n0 < m0);
  }
  size_t k = n < m ? n : m;
  int c = memcmp(s, t, k);
  if (c) return c;
  return (n > m) - (n < m);
}

int tsr__id_cmp(const char *s, size_t n, const char *t, size_t m) { return id_cmp(s, n, t, m); }

/* Sort record of a customer: the comparison of id_cmp, decided in most
 * cases by num (digit-only ids of up to 19 significant digits: their value)
 * or pfx (the first 8 bytes, big-endian, zero-padded: bytewise order). */
typedef struct skey {
  uint64_t num, pfx;
  const char *id;
  uint32_t len, slot;
  int digits; /* 1: digit-only; 2: and num is exact */
} skey;

static int skey_cmp(const void *a, const void *b) {
  const skey *x = a, *y = b;
  if (x->digits && y->digits) {
    if (x->digits == 2 && y->digits == 2) {
      if (x->num != y->num) return x->num < y->num ? -1 : 1;
      return (x->len > y->len) - (x->len < y->len);
    }
  } else if (x->pfx != y->pfx) {
    return x->pfx < y->pfx ? -1 : 1;
  }
  return id_cmp(x->id, x->len, y->id, y->len);
}

/* The sort record of customer number slot. */
static void skey_of(const tsr_ledger *lg, uint32_t slot, skey *q) {
  const cust *c = cust_at(lg, slot);
  q->id = cust_id(lg, c);
  q->len = c->id_len;
  q->slot = slot;
  q->pfx = 0;
  for (size_t j = 0; j < 8; j++)
    q->pfx = (q->pfx << 8) | (j < q->len ? (unsigned char)q->id[j] : 0);
  q->digits = all_digits(q->id, q->len);
  q->num = 0;
  if (q->digits) {
    const char *d = q->id;
    size_t n = q->len;
    while (n > 1 && *d == '0') d++, n--;
    if (n <= 19) {
      for (size_t j = 0; j < n; j++) q->num = q->num * 10 + (uint64_t)(d[j] - '0');
      q->digits = 2;
    }
  }
}

/* Sorts the customer numbers lg->order[0..n) by skey_cmp. When every id
 * is digit-only with an exact num, or none is digit-only, one 64-bit key
 * (num, or pfx) orders any two customers whose keys differ exactly as
 * skey_cmp does: the numbers are sorted by a stable LSD radix sort on the
 * key (bytes that are equal in every key are skipped), and only runs of
 * equal keys are left to skey_cmp. Mixed files are sorted by skey_cmp
 * alone. Memory: 24 bytes a customer in the radix case (the key, the
 * number and the sort's copies of both) instead of the sort records' 104
 * - on 1.8M customers 140 MB less of fresh pages to zero. 0, or -1 when
 * out of memory. */
static int sort_order(tsr_ledger *lg) {
  const size_t n = lg->n;
  uint64_t *key = tsr__malloc((n ? n : 1) * sizeof *key);
  if (!key) return -1;
  int all_num = 1, none_digit = 1;
  skey q;
  /* one pass: a digit-only id's key is its number, any other's its
   * prefix; only when all are numbers or none is digit-only are the keys
   * used (then of one kind) */
  for (size_t i = 0; i < n; i++) {
    skey_of(lg, lg->order[i], &q);
    if (q.digits != 2) all_num = 0;
    if (q.digits) none_digit = 0;
    key[i] = q.digits == 2 ? q.num : q.pfx;
  }
  if (n < 64 || n > UINT32_MAX || (!all_num && !none_digit)) {
    tsr__free(key);
    skey *k = tsr__malloc((n ? n : 1) * sizeof *k);
    if (!k) return -1;
    for (size_t i = 0; i < n; i++) skey_of(lg, lg->order[i], &k[i]);
    qsort(k, n, sizeof *k, skey_cmp);
    for (size_t i = 0; i < n; i++) lg->order[i] = k[i].slot;
    tsr__free(k);
    return 0;
  }
  /* lg->order is sorted in place (stable: ties keep insertion order, as
   * before, although skey_cmp decides every tie of distinct ids) */
  if (tsr__radix_sort_u64(key, lg->order, n)) {
    tsr__free(key);
    return -1;
  }
  skey *run = NULL;
  size_t run_cap = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && key[j] == key[i]) j++;
    if (j - i > 1) {
      if (j - i > run_cap) {
        void *p = run;
        if (tsr__grow(&p, &run_cap, j - i, sizeof *run) != TSR_OK) {
          tsr__free(run);
          tsr__free(key);
          return -1;
        }
        run = p;
      }
      for (size_t r = i; r < j; r++) skey_of(lg, lg->order[r], &run[r - i]);
      qsort(run, j - i, sizeof *run, skey_cmp);
      for (size_t r = i; r < j; r++) lg->order[r] = run[r - i].slot;
    }
    i = j;
  }
  tsr__free(run);
  tsr__free(key);
  return 0;
}

tsr_status tsr_ledger_finish(tsr_ledger *lg, tsr_error *err) {
  /* the rows are in: blocks prepared for more are returned (a later
   * ingest prepares its own) */
  tsr__ready_drop(lg);
  if (lg->finished) return TSR_OK;
  /* entries are kept sorted by day and merged while ingesting */
  if (sort_order(lg) != 0) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  for (size_t i = 0; i < lg->n; i++) cust_at(lg, lg->order[i])->rank = (uint32_t)i;
  lg->finished = 1;
  return TSR_OK;
}

static void *pack_thread(void *arg) {
  pool_pack(arg);
  return NULL;
}

/* Customers from which tsr_ledger_finish_seal packs in a second thread
 * (below, the two steps take a few milliseconds together). */
#define FINISH_SEAL_MIN 16384

tsr_status tsr_ledger_finish_seal(tsr_ledger *lg, int threads, tsr_error *err) {
  if (lg->finished || lg->sealed || threads < 2 || lg->n < FINISH_SEAL_MIN) {
    tsr_status st = tsr_ledger_finish(lg, err);
    tsr_ledger_seal(lg);
    return st;
  }
  /* the seal's frees, then its packing (c->e, c->cap and the blocks) in a
   * second thread while this one sorts the customers (their ids, then
   * c->rank): the two touch distinct members of the customers. On the
   * bank file's summary 27 and 21 ms, one after the other before. */
  seal_tables(lg);
  pthread_t th;
  const int started = pthread_create(&th, NULL, pack_thread, lg) == 0;
  if (!started) pool_pack(lg);
  const int sorted = sort_order(lg) == 0;
  if (sorted)
    for (size_t i = 0; i < lg->n; i++) cust_at(lg, lg->order[i])->rank = (uint32_t)i;
  if (started) pthread_join(th, NULL);
  lg->sealed = 1;
  if (!sorted) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  lg->finished = 1;
  return TSR_OK;
}

/* ------------------------------------------------------------ draining */

/* See lib/internal.h. The pool blocks are visited in their order in
 * memory, a chunk after another, so the chunks behind are freed while the
 * walk goes on: on tx1800k the 321 MB of entries go while the summary's
 * 230 MB of rows come, instead of both at once. A sealed ledger has that
 * order from its packing (lg->packed: the chunks in lg->chunks' order);
 * else the blocks' and chunks' addresses are sorted (addr_order). */
int tsr__ledger_drain(tsr_ledger *lg, tsr__drain_fn fn, void *ud) {
  if (!lg->finished) return -1;
  tsr__ready_drop(lg);
  size_t nb;
  uint64_t *addr = NULL, *caddr = NULL;
  uint32_t *who = NULL;
  const int packed = lg->packed != NULL;
  if (packed) {
    nb = lg->npacked;
    who = lg->packed;
    lg->packed = NULL;
    lg->npacked = 0;
  } else if (addr_order(lg, &nb, &addr, &who, &caddr) != 0) {
    return -1;
  }
  const size_t mx = tsr__ledger_max_entries(lg);
  tsr_ledger_entry *buf = tsr__malloc((mx ? mx : 1) * sizeof *buf); /* fn's entries */
  if (!buf) {
    if (packed) { /* kept for a later call */
      lg->packed = who;
      lg->npacked = nb;
      who = NULL;
    }
    tsr__free(caddr);
    tsr__free(who);
    tsr__free(addr);
    return -1;
  }
  tsr__ledger_pub_drop(lg);
  /* the customer table is not needed for the walk */
  tbl_free(lg->index, lg->nslots * sizeof *lg->index);
  lg->index = NULL;
  lg->nslots = 0;
  /* customers without a pool block first (no entries, or a large block) */
  for (size_t i = 0; i < lg->n; i++) {
    cust *c = cust_at(lg, i);
    if (c->e && c->cap < POOL_LARGE) continue;
    fn(ud, c->rank, cust_id(lg, c), buf, decode(c->e, c->n, buf));
    if (c->e) tsr__free(c->e);
    c->e = NULL;
    c->n = c->cap = 0;
  }
  /* the chunks in the blocks' order: lg->chunks' (packed) or caddr's */
  void *const *ch = packed ? (void *const *)lg->chunks : NULL;
  size_t d = 0; /* the chunk of the blocks being read */
#define DRAIN_CHUNK(d) (packed ? (uint64_t)(uintptr_t)ch[d] : caddr[d])
  for (size_t k = 0; k < nb; k++) {
    if (k + 8 < nb) __builtin_prefetch(cust_at(lg, who[k + 8])); /* in insertion order: random */
    cust *c = cust_at(lg, who[k]);
    if (!c->e) continue; /* emptied by the packing: drained above */
    const uint64_t at = (uint64_t)(uintptr_t)c->e;
    while (d < lg->nchunks &&
           (packed ? at - DRAIN_CHUNK(d) >= POOL_CHUNK : at >= DRAIN_CHUNK(d) + POOL_CHUNK))
      chunk_free((void *)(uintptr_t)DRAIN_CHUNK(d++));
    fn(ud, c->rank, cust_id(lg, c), buf, decode(c->e, c->n, buf));
    c->e = NULL;
    c->n = c->cap = 0;
  }
  for (; d < lg->nchunks; d++) chunk_free((void *)(uintptr_t)DRAIN_CHUNK(d));
#undef DRAIN_CHUNK
  lg->nchunks = 0;
  lg->pool_cur = NULL;
  lg->pool_left = 0;
  memset(lg->pool_free, 0, sizeof lg->pool_free);
  tsr__free(buf);
  tsr__free(caddr);
  tsr__free(who);
  tsr__free(addr);
  return 0;
}
