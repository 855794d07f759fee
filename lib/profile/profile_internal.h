/*
 * profile_internal.h - helpers shared by lib/profile/: the string tools of
 * resolve, anomaly and sentiment, and the profile builder's internals
 * (profile.c, profile_segment.c); not public API.
 */
#ifndef TESSERA_PROFILE_INTERNAL_H
#define TESSERA_PROFILE_INTERNAL_H


#include <stddef.h>
#include <stdint.h>

#include "tessera/csv.h"

/* Index of the header field whose normalised name (lowercase letters and
 * digits only) equals one of names (already normalised, NULL-terminated
 * list, tried in order), or -1. */
ptrdiff_t tsr__col_find(const tsr_csv_record *hdr, const char *const *names);

/* Reads the CSV table at path row by row with the rules of the profile
 * readers (resolve, anomalies): a header line is required; header(ctx,
 * hdr, source, err) binds the columns (non-zero status stops); each data
 * row with the header's field count goes to row(ctx, rec, source, e), which
 * returns TSR_OK, TSR_ENOMEM (stops, e copied to err) or another status to
 * reject the row with e's message. Rejected rows (wrong field count, CSV
 * errors, row's refusals) go to on_reject with the raw record when
 * raw_in_rejects (never for personal data); more than max_errors (>= 0)
 * rejects stop with TSR_EMAXERR. *rejected (may be NULL) = rows rejected. */
typedef struct tsr_reject tsr_reject;
typedef struct tsr__csv_rows {
  const tsr_csv_opts *csv;
  int64_t max_errors;
  void (*on_reject)(void *ud, const tsr_reject *r);
  void *ud;
  int raw_in_rejects;
  tsr_status (*header)(void *ctx, const tsr_csv_record *hdr, const char *source, tsr_error *err);
  tsr_status (*row)(void *ctx, const tsr_csv_record *rec, const char *source, tsr_error *e);
  void *ctx;
} tsr__csv_rows;
tsr_status tsr__csv_read_rows(const char *path, const tsr__csv_rows *rd, int64_t *rejected,
                              tsr_error *err);

/* Parses a calendar date (YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD, DD.MM.YYYY;
 * anything after a 'T' or a space ignored) into days since 1970-01-01 (any
 * year from 1800 to 2200). 0 on success, -1 otherwise. */
int tsr__parse_day(const char *s, size_t n, int32_t *day);

/* Edit distances of the resolver (resolve.c; bytes, strings cut to 255):
 * the Levenshtein distance when it is <= k, else k + 1; and 1 when it is
 * at most 1. */
size_t tsr__resolve_lev_bounded(const char *a, size_t na, const char *b, size_t nb, size_t k);
int tsr__resolve_lev_le1(const char *a, size_t na, const char *b, size_t nb);
/* The resolver's birth-date level of two days (INT32_MIN: none): 0 missing,
 * 1 different, 2 similar (near day, day and month swapped, one wrong digit,
 * two neighbouring digits swapped), 3 same. */
int tsr__resolve_dob_level(int32_t a, int32_t b);

/* Monotonic clock in seconds. */
double tsr__now(void);

/* A growable byte arena of NUL-terminated strings addressed by offset. */
typedef struct tsr__strpool {
  char *buf;
  size_t used, cap;
} tsr__strpool;
/* Appends s[0..n) plus a NUL; *off receives its offset. 0 or -1 (ENOMEM). */
int tsr__strpool_add(tsr__strpool *p, const char *s, size_t n, uint32_t *off);
void tsr__strpool_release(tsr__strpool *p);

/* An interning hash table of strings: id -> dense index (0, 1, ...). */
typedef struct tsr__intern {
  tsr__strpool pool;
  uint32_t *off;     /* offset of each index's string */
  uint32_t *len;     /* its length (up to a NUL byte) */
  size_t n, cap_n;
  uint64_t *slots;   /* high 32 bits of the hash << 32 | index + 1; 0 = empty */
  size_t nslots;
} tsr__intern;
/* Index of s (added when new). *idx receives it. 0 or -1 (ENOMEM). */
int tsr__intern_get(tsr__intern *t, const char *s, size_t n, uint32_t *idx);
/* tsr__intern_get with a one-entry cache *last (index + 1, 0 = none): the
 * same string as the last call's (consecutive rows of one customer) is
 * not looked up again. */
int tsr__intern_get_last(tsr__intern *t, const char *s, size_t n, uint32_t *last, uint32_t *idx);
const char *tsr__intern_str(const tsr__intern *t, uint32_t idx);
void tsr__intern_release(tsr__intern *t);


/* ---- the profile builder ---- */


#include "tessera/profile.h"

/* Open-addressing map of strings to uint32 values (the key is found from
 * the value by a callback, so the map stores no strings). */
typedef struct tsr__smap {
  uint32_t *slot; /* UINT32_MAX = empty */
  uint64_t *hash;
  size_t n, cap;
} tsr__smap;
void tsr__smap_release(tsr__smap *m);

typedef struct tsr__arena_blk {
  struct tsr__arena_blk *next;
  char data[];
} tsr__arena_blk;

/* A product event kept until finish. */
typedef struct tsr__pevent {
  uint32_t row;
  int32_t day;
  uint8_t prod;
  uint8_t open;
} tsr__pevent;

/* Transactions of one resolved customer staged ahead of the tables
 * (tsr_profiles_stage_table). */
typedef struct tsr__txstage {
  int64_t count, last_time, first_day, n_dig, n_chan;
  double amount;
} tsr__txstage;

struct tsr_profiles {
  tsr_profile_opts o;
  tsr_profile *rows;
  size_t n, cap;
  tsr__smap ids;              /* resolved id -> row */
  char last_rec[64];          /* tsr__profiles_row's last record id (last_ok) */
  size_t last_n;
  uint32_t last_row;
  int last_ok;
  tsr__smap map;              /* record id -> mapping index */
  const char **map_from, **map_to;
  size_t map_n, map_cap;
  const char **pool;          /* interned strings */
  size_t pool_n, pool_cap;
  tsr__smap pool_map;
  tsr__arena_blk *arena;
  size_t arena_used, arena_cap;
  const char *prod[TSR_PROFILE_MAX_PRODUCTS];
  size_t nprod;
  int64_t products_dropped;   /* product names beyond the catalogue limit */
  tsr__pevent *ev;
  size_t ev_n, ev_cap;
  int64_t max_day, today;
  /* staged transactions: raw id -> staged customer; resolved id (order of
   * first transaction) -> totals */
  tsr__intern st_raw, st_res;
  uint32_t *st_of_raw, st_last;
  size_t st_of_raw_cap;
  tsr__txstage *st;
  size_t st_cap;
  int has_interactions, has_events, has_anomalies, finished;
  void (*on_record)(void *ud, size_t profile, const tsr_bundle_row *row);
  void *on_record_ud;
  /* segments */
  tsr_segment_summary *seg;
  size_t nseg;
  char (*seg_names)[64];      /* behaviour names, affinity names, micro names */
  size_t nseg_names, nseg_names_cap;
  size_t micro_name0;         /* first micro-segment name */
  int micro_started, tier_by_clv;
  size_t behaviour_k, affinity_k;
  size_t behaviour_name0, affinity_name0; /* first index in seg_names */
};

tsr_profile *tsr__profiles_row(tsr_profiles *p, const char *rec, size_t n);
tsr_status tsr__profiles_summaries(tsr_profiles *p, tsr_error *err);

#endif
