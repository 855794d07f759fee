/*
 * internal.h - helpers shared by lib/ and store/ files; not public API.
 * Internal names carry the tsr__ prefix.
 */
#ifndef TESSERA_INTERNAL_H
#define TESSERA_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tessera/error.h"

/* Allocation through one place so tests can fail any allocation
 * (tsr__alloc_fail_after: -1 = never; n = the (n+1)-th call fails). */
void *tsr__malloc(size_t n);
void *tsr__calloc(size_t count, size_t size);
void *tsr__realloc(void *p, size_t n);
void tsr__free(void *p);
char *tsr__strdup(const char *s);
char *tsr__strndup(const char *s, size_t n);
/* Test hook: make the allocation after `n` more successful ones fail. */
TSR_API void tsr__alloc_fail_after(long n);

/* Grows *buf (of *cap elements of size elsize) to hold at least need. */
tsr_status tsr__grow(void **buf, size_t *cap, size_t need, size_t elsize);

#define TSR__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))


/* ---- hashing (lib/base/hash.c): fast non-cryptographic 64-bit hashes ---- */
uint64_t tsr__hash_bytes(const void *p, size_t n, uint64_t seed);

/* The pieces of tsr__hash_bytes, and its body for the callers that hash a
 * few bytes per input row (ids, a row's content hash): inlined there, the
 * call and the loop for a constant or 8-byte length go away. */
static inline uint64_t tsr__hash_mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

static inline uint64_t tsr__hash_step(uint64_t h, uint64_t w) {
  uint64_t x = h ^ (w * 0xC2B2AE3D27D4EB4FULL);
  return ((x << 31) | (x >> 33)) * 0x9E3779B97F4A7C15ULL;
}

static inline uint64_t tsr__hash_bytes_inline(const void *p, size_t n, uint64_t seed) {
  const unsigned char *b = p;
  uint64_t h = seed ^ ((uint64_t)n * 0x9E3779B97F4A7C15ULL);
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, b, 8);
    h = tsr__hash_step(h, w);
    b += 8;
    n -= 8;
  }
  if (n) {
    uint64_t w = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* the same value as memcpy(&w, b, n), without a call to memcpy (ids
     * of a few bytes are hashed once per ingested row) */
    if (n >= 4) {
      uint32_t lo, hi;
      memcpy(&lo, b, 4);
      memcpy(&hi, b + n - 4, 4);
      w = (uint64_t)lo | (uint64_t)hi << (8 * (n - 4));
    } else {
      w = (uint64_t)b[0] | (uint64_t)b[n / 2] << (8 * (n / 2)) | (uint64_t)b[n - 1] << (8 * (n - 1));
    }
#else
    memcpy(&w, b, n);
#endif
    h = tsr__hash_step(h, w ^ ((uint64_t)n << 56));
  }
  return tsr__hash_mix64(h);
}
typedef struct tsr__hash_stream {
  uint64_t h;
  uint64_t total;
  unsigned char tail[8];
  size_t ntail;
} tsr__hash_stream;
void tsr__hash_stream_init(tsr__hash_stream *s);
void tsr__hash_stream_update(tsr__hash_stream *s, const void *p, size_t n);
uint64_t tsr__hash_stream_final(const tsr__hash_stream *s);

/* ---- large arrays (lib/base/bigmem.c) ---- */
/* Asks for transparent huge pages on the 2 MiB-aligned inside of [p, p+n)
 * (blocks of 4 MiB or more; fresh small pages are slow to fault in). */
void tsr__advise_huge(void *p, size_t n);
/* A block for a large array (1 MiB or more: 2 MiB-aligned whole huge
 * pages; smaller: tsr__malloc); free with tsr__free. */
void *tsr__malloc_big(size_t n);

/* ---- numbers (lib/base/numparse.c) ---- */
/* strtod, bit for bit (C locale), with an exact fast path for plain
 * decimals of up to 19 significant digits and small exponents. */
double tsr__strtod(const char *s, char **end);

/* ---- CSV fields written (lib/base/textout.c) ---- */
/* The bytes of s before its first comma, quote, CR, LF or end: s is
 * written as is (tsr_csv_quote without a formula guard) when s[n] == 0,
 * else quoted. The one rule of the field writer, shared with writers that
 * copy a plain field themselves. */
static inline size_t tsr__csv_plain_span(const char *s) {
  size_t n = 0;
  while (s[n] && s[n] != ',' && s[n] != '"' && s[n] != '\r' && s[n] != '\n') n++;
  return n;
}

/* ---- CSV (lib/ingest/csv.c) ---- */
struct tsr_csv;
struct tsr_csv_record;
/* Like tsr_csv_next, but the fields of a simple record (no quotes, in the
 * buffer) point into the read buffer and are NOT NUL-terminated (len
 * counts). Same records, errors and positions as tsr_csv_next. */
tsr_status tsr__csv_next_span(struct tsr_csv *c, struct tsr_csv_record *rec, tsr_error *err);
/* The fast half of tsr__csv_next_span: 1 with a simple record (its fields
 * and raw bytes stay valid until the next tsr_csv_next, which may move the
 * buffer), 2 with a simple record of which a field starts or ends with a
 * space byte (' ', tab, VT, FF), 0 when the next record needs tsr_csv_next
 * (nothing consumed). */
int tsr__csv_next_fast(struct tsr_csv *c, struct tsr_csv_record *rec);
/* tsr__csv_next_fast making only the fields in want (bit k: field k) of a
 * record of expect fields and no space at a field's end (return 1); every
 * field otherwise. The other fields of a record it returns 1 for hold
 * nothing to read. */
int tsr__csv_next_lean(struct tsr_csv *c, struct tsr_csv_record *rec, uint64_t want, size_t expect);
/* The fast reader's AVX2 build off (0) or, where the CPU has it, on (the
 * default): for the tests of both builds. */
void tsr__csv_set_avx2(struct tsr_csv *c, int on);
/* 1 when the input cannot be read as CSV at all (UTF-16): stop, do not
 * count rows. */
int tsr__csv_fatal(const struct tsr_csv *c);
/* The day of the last fixed-form date (YYYY-MM-DD...) that
 * tsr__datetime_parse_memo read; zeroed: none yet. */
typedef struct tsr__date_memo {
  char ymd[10];
  int valid;
  int64_t day;
} tsr__date_memo;
/* tsr_datetime_parse, taking the day from memo when the date's first 10
 * bytes are the last fixed-form date's (the same results). */
tsr_status tsr__datetime_parse_memo(const char *s, size_t len, const char *fmt,
                                    tsr__date_memo *memo, int64_t *epoch_s);

/* ---- header names and fields (lib/ingest/ingest.c; lib/bundle/bundle.c) ---- */
/* Trims ASCII whitespace from both ends of (*p, *n). */
void tsr__trim(const char **p, size_t *n);
/* Normalised column name of s[0..n): its ASCII letters and digits,
 * lowercase, at most cap - 1 of them, NUL-terminated. */
void tsr__norm_name(const char *s, size_t n, char *out, size_t cap);

/* ---- bundle reader (lib/bundle/bundle.c) ---- */
struct tsr_bundle_reader;
/* on != 0: r reads every record by tsr_csv_next and checks every value in
 * full (the general path; tests compare it with the fast path). */
void tsr__bundle_reader_general(struct tsr_bundle_reader *r, int on);

/* ---- anomaly detector (lib/profile/anomaly.c) ---- */
struct tsr_anomaly_detector;
/* Before the first transaction: d keeps only what the per-transaction
 * scores, flags and customers need (tsr_anomaly_flagged, _customer_of,
 * _nflagged ...: the same values): no transaction ids (tsr_anomaly_id
 * gives "") and no ranking (tsr_anomaly_rank(d, k) gives k). */
void tsr__anomaly_tally_only(struct tsr_anomaly_detector *d);

/* ---- ledger (lib/ingest/ledger.c) ---- */
struct tsr_ledger;
/* Prefetch hints for customer i (finish order): stage 0 its slot, stage 1
 * (a few customers later, slot cached) its entries. */
void tsr__ledger_prefetch(const struct tsr_ledger *lg, size_t i, int stage);
/* Day of the last purchase (row with amount >= 0) in the ledger; 0 when
 * there is none. */
int tsr__ledger_last_purchase(const struct tsr_ledger *lg, int64_t *day);
/* The entries the customers' blocks hold room for (for tests: a file
 * sorted by customer fills blocks of exactly its rows). */
size_t tsr__ledger_capacity(const struct tsr_ledger *lg);
/* The ledger keeps its own 16-byte entries (lib/ingest/ledger_internal.h);
 * tsr_ledger_entries decodes all of them into a copy at its first call.
 * Internal readers decode one customer at a time instead:
 * tsr__ledger_decode writes customer i's entries (tsr_ledger_entries')
 * into buf, of at least tsr__ledger_max_entries(lg) entries (enough for
 * any customer), and returns buf with *n set (NULL and 0 when i is out of
 * range). Safe from several threads, each with its buffer. */
struct tsr_ledger_entry;
size_t tsr__ledger_max_entries(const struct tsr_ledger *lg);
/* The largest sum, over one customer's entries, of the magnitudes of their
 * amounts (purchases and refunds), over all customers: every sum the
 * summary adds up for a customer is at most that in magnitude. NaN or
 * +inf when one is not finite. */
double tsr__ledger_abs_sums_max(const struct tsr_ledger *lg);
/* The sum of the magnitudes of every row added to lg (in the order added):
 * at least any customer's sum of |entry sums| but for rounding (a relative
 * error of at most rows * 2^-53). */
double tsr__ledger_abs_total(const struct tsr_ledger *lg);
/* A buffer size enough for customer i alone (0 when it has no entry). */
size_t tsr__ledger_nentries(const struct tsr_ledger *lg, size_t i);
const struct tsr_ledger_entry *tsr__ledger_decode(const struct tsr_ledger *lg, size_t i,
                                                  struct tsr_ledger_entry *buf, size_t *n);
/* The first and last day of customer i's entries: 1, or 0 when it has
 * none. */
int tsr__ledger_day_span(const struct tsr_ledger *lg, size_t i, int32_t *first, int32_t *last);
/* 1 when customer i has a purchase (ntx > 0) on a day in [from, to]. */
int tsr__ledger_purchase_in(const struct tsr_ledger *lg, size_t i, int32_t from, int32_t to);
/* Drains a finished ledger: calls fn(ud, i, id, e, n) once for each
 * customer i (tsr_ledger_customer's number and id, tsr_ledger_entries'
 * entries), in the order of the entries in memory rather than i's, and
 * frees the entries as it goes (each 8 MB chunk once the walk has passed
 * it) and the customer table first. Afterwards the ledger keeps its
 * customers: tsr_ledger_ncustomers and tsr_ledger_customer as before,
 * tsr_ledger_entries gives none, tsr_ledger_find finds none; nothing may
 * be ingested into it; tsr_ledger_free frees it. Returns 0, or -1 (the
 * ledger unchanged) when it is not finished or out of memory (12 bytes a
 * customer for a moment). */
struct tsr_ledger_entry;
typedef void (*tsr__drain_fn)(void *ud, size_t i, const char *id,
                              const struct tsr_ledger_entry *e, size_t n);
int tsr__ledger_drain(struct tsr_ledger *lg, tsr__drain_fn fn, void *ud);
/* tsr_summary_compute (single-threaded: opts->threads is ignored) on a
 * ledger drained as it goes (tsr__ledger_drain): the same summary, with
 * the entries' memory freed while the rows fill theirs (the peak is the
 * larger of the two, not their sum). The rows borrow the ids of lg's
 * customers, which it keeps. After an error lg may be drained already
 * (TSR_ERANGE, TSR_ENOTFOUND) or not (TSR_EINVAL, TSR_ENOMEM). */
struct tsr_summary_opts;
struct tsr_summary;
tsr_status tsr__summary_compute_drain(struct tsr_ledger *lg, const struct tsr_summary_opts *opts,
                                      struct tsr_summary **out, tsr_error *err);
/* The same, calling also(ud, i, id, e, n, has_row) for each customer as
 * the drain hands it over (has_row: it has a summary row), before its
 * entries go: what else reads the entries (the store's purchase
 * histories, app/analyze_history.c) takes them then. */
typedef void (*tsr__drain_also_fn)(void *ud, size_t i, const char *id,
                                   const struct tsr_ledger_entry *e, size_t n, int has_row);
tsr_status tsr__summary_compute_drain_also(struct tsr_ledger *lg,
                                           const struct tsr_summary_opts *opts,
                                           tsr__drain_also_fn also, void *also_ud,
                                           struct tsr_summary **out, tsr_error *err);
/* The same with the rows in the caller's form (issue 18: a compact row of
 * the columns it reads): put(put_ud, slot, row) stores each row (whole,
 * its sums checked) into its slot of elem bytes (<= sizeof(tsr_summary_row))
 * as the drain hands it over; (*out)->rows then holds (*out)->n such slots
 * in the customers' order (tsr_summary_row's type in name only: read as
 * the caller's rows; freed with the summary). put NULL: tsr_summary_row
 * rows, as tsr__summary_compute_drain_also. */
struct tsr_summary_row;
typedef void (*tsr__summary_put_fn)(void *ud, void *slot, const struct tsr_summary_row *r);
tsr_status tsr__summary_drain_packed(struct tsr_ledger *lg, const struct tsr_summary_opts *opts,
                                     tsr__drain_also_fn also, void *also_ud, size_t elem,
                                     tsr__summary_put_fn put, void *put_ud,
                                     struct tsr_summary **out, tsr_error *err);

/* Period number of a day for tsr_freq f (lib/summary.c): D the day, W
 * weeks Monday..Sunday, M months since 1970-01. */
int64_t tsr__period_of(int f, int64_t day);
/* Customer order of tsr_ledger_finish (lib/ingest/ledger.c). */
int tsr__id_cmp(const char *s, size_t n, const char *t, size_t m);

/* ---- random numbers: the one xoshiro256** generator of the core ----
 * (Blackman & Vigna 2021). tsr_rng (tessera/rng.h, lib/base/rng.c) and the
 * clustering code's tsr__rng (lib/cluster/cluster_internal.h) both step it
 * through these two functions; they differ only in how a (seed, stream)
 * pair is turned into a state, which each keeps for reproducible outputs. */
static inline uint64_t tsr__splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static inline uint64_t tsr__xoshiro_next(uint64_t s[4]) {
  const uint64_t result = ((s[1] * 5) << 7 | (s[1] * 5) >> 57) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = (s[3] << 45) | (s[3] >> 19);
  return result;
}

/* Shortest "%.Ng" (N = 15..17) that round-trips d; buf >= 32 bytes (the
 * fast paths copy digits in fixed-size pieces: bytes after the NUL, within
 * the 32, may be overwritten). */
char *tsr__fmt_double(double d, char *buf);
/* The same text; returns the end of it (its terminating NUL), so that a
 * writer appending numbers does not measure each one again. */
char *tsr__fmt_double_end(double d, char *buf);

/* Exactly snprintf(buf, cap, "%.*f", prec, v) (default rounding mode),
 * without printf for |v| < 1e15, 0 <= prec <= 17 and cap >=
 * TSR__FIXED_BUF (lib/base/fmtfixed.c). Returns the length written (as
 * snprintf: the length wanted when cap is too small). */
#define TSR__FIXED_BUF 40
size_t tsr__fmt_fixed(double v, int prec, char *buf, size_t cap);
/* 10^k for k = 0..19 (lib/base/fmtfixed.c; the double printers' scales). */
extern const uint64_t tsr__pow10_u64[20];
/* "00".."99": two digits at a time (lib/base/fmtfixed.c). */
extern const char tsr__digit_pairs[201];
/* The decimal digits of u written at o (at most 20, no terminator); returns
 * the end. */
char *tsr__put_u64(char *o, uint64_t u);

/* profiles.csv in parts (lib/profile/profile.c), for writers that add
 * columns or format blocks of rows on several threads:
 * tsr__profiles_write_head writes the header's columns (no line end);
 * tsr__profiles_rows_text appends rows lo..hi-1 (hi capped at the row
 * count) to out, each line ended by '\n' after row(ctx, i, id, out) has
 * appended its columns (row may be NULL; id is the customer_id). Reads p
 * only: threads may format different rows at once. 0, or -1 when out of
 * memory. tsr_profiles_write_csv is the header, '\n' and every row. */
struct tsr_profiles;
struct tsr__tb_s;
void tsr__profiles_write_head(FILE *f);
int tsr__profiles_rows_text(const struct tsr_profiles *p, size_t lo, size_t hi,
                            void (*row)(void *ctx, size_t i, const char *id, struct tsr__tb_s *out),
                            void *ctx, struct tsr__tb_s *out);

/* Exactly snprintf(buf, TSR__G17_BUF, "%.17g", v), without printf for
 * 1e-3 <= |v| < 1e16 (lib/base/fmtfixed.c). Returns the length. */
#define TSR__G17_BUF 32
size_t tsr__fmt_g17(double v, char *buf);

/* Writes exactly what fprintf(f, "%.*f", prec, v) writes, through
 * tsr__fmt_fixed (printf only for what does not fit its buffer). */
void tsr__put_fixed(FILE *f, double v, int prec);

/* The lengths of a customer row's texts for a bulk load, when the caller
 * has them (0: not known, measured by the store). */
typedef struct tsr__customer_lens {
  uint32_t id, extra, history;
} tsr__customer_lens;
/* tsr_store_customers_add with lens (may be NULL): lens[i] are the lengths
 * of rows[i]'s texts, each exact or 0 (store/store.c). */
struct tsr_store;
struct tsr_customer;
tsr_status tsr__store_customers_add_lens(struct tsr_store *s, int64_t run_id,
                                         const struct tsr_customer *rows,
                                         const tsr__customer_lens *lens, size_t n,
                                         tsr_error *err);
/* A batch of customer rows made ready for the store on any thread (issue
 * 18: the store's thread then only inserts): checked as
 * tsr_store_customers_add checks them, in key order, a repeated id named,
 * their values made. It borrows the rows' texts until inserted. Zeroed
 * before first use, reused from batch to batch, freed by
 * tsr__cust_ready_free (store/sql_store.c). */
typedef struct tsr__cust_ready {
  int64_t run_id;
  size_t n, cap;    /* rows made ready, room */
  int ncols;        /* values a row */
  void *vals;       /* n * ncols values (tsr__val, store/store_int.h) */
  const char **ids; /* the rows' ids in key order */
} tsr__cust_ready;
/* Makes rows[0..n) ready (no store needed); the same errors as
 * tsr_store_customers_add's checks, in the same order. */
tsr_status tsr__store_customers_prep(tsr__cust_ready *r, int64_t run_id,
                                     const struct tsr_customer *rows,
                                     const tsr__customer_lens *lens, size_t n, tsr_error *err);
/* Inserts a ready batch: what tsr__store_customers_add_lens does after
 * its checks (the same rows, order and errors). */
tsr_status tsr__store_customers_add_ready(struct tsr_store *s, const tsr__cust_ready *r,
                                          tsr_error *err);
void tsr__cust_ready_free(tsr__cust_ready *r);
/* tsr_store_begin for a transaction that stores a run's rows in bulk
 * (store/store.c; docs/store.md). */
tsr_status tsr__store_begin_bulk(struct tsr_store *s, tsr_error *err);

#endif
