/*
 * summary_io.c - the summary CSV reader of `tessera fit` / `predict`
 * (see summary_io.h), on the in-memory table of tessera/table.h.
 */
#include "summary_io.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* malloc on transparent huge pages (fresh 4 KiB pages are slow to fault
 * in: on a VM, 12 MB cost 40 ms): from 512 KiB on, 2 MiB-aligned whole
 * 2 MiB pages, all of which can be huge (lib/base/bigmem.c does the same
 * for the library; advising only the aligned inside of a malloc block left
 * the 4 MB column block half on 4 KiB pages and the id array wholly).
 * free() releases it. */
static void *malloc_huge(size_t n) {
#ifdef MADV_HUGEPAGE
  const size_t H = (size_t)2 << 20;
  if (n >= H / 4 && n <= SIZE_MAX - H) {
    void *p = NULL;
    size_t m = (n + H - 1) / H * H;
    if (posix_memalign(&p, H, m) != 0) return NULL;
    (void)madvise(p, m, MADV_HUGEPAGE);
    return p;
  }
#endif
  return malloc(n);
}

/* First column of t named by one of names, or -1. */
static ptrdiff_t find_col(const tsr_table *t, const char *const *names) {
  for (size_t k = 0; names[k]; k++) {
    ptrdiff_t c = tsr_table_find(t, names[k]);
    if (c >= 0) return c;
  }
  return -1;
}

void cli_summary_free(cli_summary *s) {
  if (!s) return;
  free(s->ids);
  free(s->x);
  free(s->idbuf);
  tsr_table_free(s->table);
  memset(s, 0, sizeof *s);
}

static const char *const ID[] = {"customer_id", "ID", "id", NULL};
static const char *const X[] = {"frequency", "frequency_cal", NULL};
static const char *const R[] = {"recency", "recency_cal", NULL};
static const char *const TT[] = {"T", "T_cal", "periods", NULL};
static const char *const M[] = {"monetary_value", "monetary_value_cal", NULL};
static const char *const W[] = {"weights", "weight", NULL};

/* The fast path of cli_summary_read_values: the columns of a plain file
 * (tsr_table_read_numeric), in range. Returns 1 when s is filled. */
static int read_plain(const char *path, int need_m, cli_summary *s) {
  const char *const *want[5] = {X, R, TT, M, W};
  double *col[5], *block;
  size_t n;
  int plain;
  if (tsr_table_read_numeric(path, 5, want, col, &n, &block, &plain, NULL) || !plain)
    return 0;
  if (!col[0] || !col[1] || !col[2] || (need_m && !col[3])) {
    free(block);
    return 0;
  }
  for (size_t r = 0; r < n; r++) {
    const double x = col[0][r], tx = col[1][r], T = col[2][r];
    if (!(x >= 0 && T >= 0 && tx >= 0 && tx <= T) || (col[3] && !(col[3][r] >= 0)) ||
        (col[4] && !(col[4][r] >= 0))) {
      free(block); /* the table path names the cell */
      return 0;
    }
  }
  memset(s, 0, sizeof *s);
  s->n = n;
  s->x = block; /* the first column: the block */
  s->t_x = col[1];
  s->T = col[2];
  s->m = col[3];
  s->w = col[4];
  return 1;
}

tsr_status cli_summary_read_values(const char *path, int need_m, cli_summary *s,
                                   tsr_error *err) {
  if (read_plain(path, need_m, s)) return TSR_OK;
  return cli_summary_read(path, need_m, s, err);
}

/* The patterns of cli_summary_read_patterns. As the rows come, each of
 * x, t_x, T has its distinct values numbered (a small table per column
 * that stays in cache: a summary has a few hundred distinct values per
 * column) and the row gets one 64-bit key of its three numbers (a file
 * read in two parts numbers each part's values apart). Then the numbers
 * become ranks (each column's distinct values sorted), at most 32 bits
 * above the row number, the keys are sorted on their upper bits by a
 * stable radix sort (rows of a pattern stay in row order), and each run of
 * equal keys is a pattern: tsr__btyd_compress's patterns, in its order (x,
 * then T, then t_x), with the weights summed in row order. A -0.0 sends
 * the file to the row path (tsr__btyd_compress takes it equal to 0.0,
 * keeping the first row's value), as do more than 2^13 distinct values in
 * a column of a part or more than 32 bits of ranks. */
#define PAT_CBITS 13

typedef struct {
  uint64_t *key;  /* bits of the distinct values */
  uint32_t *slot; /* 1 + number, or 0 */
  size_t n, cap, mask;
  uint64_t last; /* the last value and its number: runs of equal values */
  uint32_t last_n;
} pat_col;

typedef struct {
  pat_col col[2][3]; /* of each part of the scan */
  size_t first[2];   /* the first row of each part (nrows: none) */
  uint64_t *key;     /* per row: its numbers; then ranks << 32 | row */
  double *w;         /* per row weight (a weights column) */
  size_t nrows;
  int has_m, has_w, bgbb;
} pat_acc;

static size_t pat_hash(uint64_t k, size_t mask) {
  k = (k ^ (k >> 31)) * 0xbf58476d1ce4e5b9ULL;
  return (size_t)(k ^ (k >> 29)) & mask;
}

/* pat_col_number for a value k not in c, whose free slot is i. */
static __attribute__((noinline)) int64_t pat_col_add(pat_col *c, uint64_t k, size_t i) {
  if (c->n + 1 >= (size_t)1 << PAT_CBITS) return -1;
  if (2 * (c->n + 1) > c->cap) { /* double: keys and the table (2 cap slots) */
    const size_t cap = 2 * c->cap;
    uint64_t *key = realloc(c->key, cap * sizeof *key);
    if (!key) return -1;
    c->key = key;
    uint32_t *slot = calloc(2 * cap, sizeof *slot);
    if (!slot) return -1;
    free(c->slot);
    c->slot = slot, c->cap = cap, c->mask = 2 * cap - 1;
    for (size_t j = 0; j < c->n; j++) {
      size_t h = pat_hash(c->key[j], c->mask);
      while (c->slot[h]) h = (h + 1) & c->mask;
      c->slot[h] = (uint32_t)(j + 1);
    }
    i = pat_hash(k, c->mask);
    while (c->slot[i]) i = (i + 1) & c->mask;
  }
  c->key[c->n] = k;
  c->slot[i] = (uint32_t)++c->n;
  c->last = k, c->last_n = (uint32_t)(c->n - 1);
  return (int64_t)(c->n - 1);
}

/* Number of value v in column c (new values numbered as they come);
 * -1 when out of memory or beyond PAT_CBITS bits. Inlined: the value is
 * nearly always known (a few hundred per column). */
static inline int64_t pat_col_number(pat_col *c, double v) {
  uint64_t k;
  memcpy(&k, &v, sizeof k);
  if (k == c->last && c->n) return c->last_n;
  size_t i = pat_hash(k, c->mask);
  for (;; i = (i + 1) & c->mask) {
    const uint32_t s = c->slot[i];
    if (!s) break;
    if (c->key[s - 1] == k) {
      c->last = k, c->last_n = s - 1;
      return s - 1;
    }
  }
  return pat_col_add(c, k, i);
}

static int pat_begin(void *v, size_t nrows, const int *present) {
  pat_acc *a = v;
  if (!present[0] || !present[1] || !present[2] || nrows > UINT32_MAX / 2) return -1;
  a->has_m = present[3], a->has_w = present[4];
  a->nrows = nrows;
  for (int pt = 0; pt < 2; pt++) {
    a->first[pt] = nrows;
    for (int k = 0; k < 3; k++) {
      pat_col *c = &a->col[pt][k];
      c->cap = 256, c->mask = 511;
      c->key = malloc(c->cap * sizeof *c->key);
      c->slot = calloc(c->mask + 1, sizeof *c->slot);
      if (!c->key || !c->slot) return -1;
    }
  }
  a->key = malloc(nrows * sizeof *a->key);
  if (a->has_w) a->w = malloc(nrows * sizeof *a->w);
  return a->key && (!a->has_w || a->w) ? 0 : -1;
}

static int pat_row(void *v, int part, size_t r, const double *c) {
  pat_acc *a = v;
  pat_col *col = a->col[part];
  if (a->first[part] == a->nrows) a->first[part] = r;
  const double x = c[0], tx = c[1], T = c[2];
  /* the range checks of read_plain (the table path names the cell) */
  if (!(x >= 0 && T >= 0 && tx >= 0 && tx <= T) || (a->has_m && !(c[3] >= 0)) ||
      (a->has_w && !(c[4] >= 0)))
    return -1;
  /* and those of tsr_btyd_check_data, whose messages name the row */
  if (a->bgbb ? !(T > 0) || x != floor(x) || tx != floor(tx) || T != floor(T) || x > tx
              : x == 0 && tx != 0)
    return -1;
  if ((x == 0 && signbit(x)) || (tx == 0 && signbit(tx)) || (T == 0 && signbit(T))) return -1;
  const int64_t cx = pat_col_number(&col[0], x), ctx = pat_col_number(&col[1], tx),
                cT = pat_col_number(&col[2], T);
  if (cx < 0 || ctx < 0 || cT < 0) return -1;
  a->key[r] = (uint64_t)cx << (2 * PAT_CBITS) | (uint64_t)cT << PAT_CBITS | (uint64_t)ctx;
  if (a->has_w) a->w[r] = c[4];
  return 0;
}

static void pat_acc_free(pat_acc *a) {
  for (int pt = 0; pt < 2; pt++)
    for (int k = 0; k < 3; k++) free(a->col[pt][k].key), free(a->col[pt][k].slot);
  free(a->key);
  free(a->w);
}

static int cmp_u64_as_f64(const void *pa, const void *pb) {
  double a, b;
  memcpy(&a, pa, sizeof a);
  memcpy(&b, pb, sizeof b);
  return (a > b) - (a < b);
}

/* The distinct values of column k over both parts, sorted, into val
 * (returns their count) and the rank of each part's numbers in rank[pt]. */
static size_t pat_ranks(const pat_acc *a, int k, uint64_t *val, uint32_t **rank) {
  const pat_col *c0 = &a->col[0][k], *c1 = &a->col[1][k];
  memcpy(val, c0->key, c0->n * sizeof *val);
  memcpy(val + c0->n, c1->key, c1->n * sizeof *val);
  size_t n = c0->n + c1->n, u = 0;
  qsort(val, n, sizeof *val, cmp_u64_as_f64); /* finite values, no -0.0 */
  for (size_t j = 0; j < n; j++)
    if (u == 0 || val[j] != val[u - 1]) val[u++] = val[j];
  for (int pt = 0; pt < 2; pt++) {
    const pat_col *c = &a->col[pt][k];
    for (size_t j = 0; j < c->n; j++) {
      /* the rank of number j: its place in val (binary search) */
      double v;
      memcpy(&v, &c->key[j], sizeof v);
      size_t lo = 0, hi = u;
      while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        double m;
        memcpy(&m, &val[mid], sizeof m);
        if (m <= v) lo = mid;
        else hi = mid;
      }
      rank[pt][j] = (uint32_t)lo;
    }
  }
  return u;
}

/* Pattern p of the u in block b (three value columns, then the weight):
 * its values from the rank key k (column 0's rank in the top bits, then
 * column 2's, column 1's in the low bits, as pat_fold builds it). */
static inline void pat_put(double *b, size_t u, size_t p, uint64_t *const val[3],
                           const int bits[3], uint64_t k, double w) {
  const uint64_t m1 = ((uint64_t)1 << bits[1]) - 1, m2 = ((uint64_t)1 << bits[2]) - 1;
  memcpy(&b[p], &val[0][k >> (bits[1] + bits[2])], sizeof *b);
  memcpy(&b[u + p], &val[1][k & m1], sizeof *b);
  memcpy(&b[2 * u + p], &val[2][k >> bits[1] & m2], sizeof *b);
  b[3 * u + p] = w;
}

/* pat_fold without a weights column: every row weighs 1, so the order
 * of the rows within a pattern does not matter (its weight, 1 added once
 * per row, is its exact count): the ranks alone (32 bits) are sorted, in
 * the first half of a's key buffer with the second half as the radix
 * sort's other buffer (no fresh pages to fault in). The patterns and
 * weights of pat_fold, bit for bit. */
static size_t pat_fold_counts(pat_acc *a, uint32_t *const rank[2][3], uint64_t *const val[3],
                              const int bits[3], int total, double **block) {
  const size_t n = a->nrows;
  const uint64_t m = ((uint64_t)1 << PAT_CBITS) - 1;
  unsigned char *buf = (unsigned char *)a->key;
  /* key r (8 bytes at 8 r) read before rank r (4 bytes at 4 r <= 8 r) is
   * written: the ranks overwrite only keys read already */
  for (size_t r = 0; r < n; r++) {
    uint64_t k;
    memcpy(&k, buf + 8 * r, sizeof k);
    uint32_t *const *rk = rank[r >= a->first[1]]; /* part 1: from its first row */
    const uint32_t q = (uint32_t)((uint64_t)rk[0][k >> (2 * PAT_CBITS)] << (bits[1] + bits[2]) |
                                  (uint64_t)rk[2][k >> PAT_CBITS & m] << bits[1] | rk[1][k & m]);
    memcpy(buf + 4 * r, &q, sizeof q);
  }
  uint32_t *key = (uint32_t *)(void *)buf, *tmp = key + n;
  for (int sh = 0; sh < total; sh += 11) {
    size_t cnt[2048] = {0};
    for (size_t r = 0; r < n; r++) cnt[key[r] >> sh & 2047]++;
    size_t sum = 0;
    for (size_t d = 0; d < 2048; d++) {
      const size_t c = cnt[d];
      cnt[d] = sum;
      sum += c;
    }
    for (size_t r = 0; r < n; r++) tmp[cnt[key[r] >> sh & 2047]++] = key[r];
    uint32_t *t = key;
    key = tmp;
    tmp = t;
  }
  size_t u = 0;
  for (size_t r = 0; r < n; r++) u += r == 0 || key[r] != key[r - 1];
  double *b = malloc(4 * (u ? u : 1) * sizeof *b);
  if (!b) return (size_t)-1;
  size_t p = 0;
  for (size_t r = 0; r < n;) {
    const uint32_t k = key[r];
    double w = 1.0;
    size_t j = r + 1;
    for (; j < n && key[j] == k; j++) w += 1.0;
    pat_put(b, u, p++, val, bits, k, w);
    r = j;
  }
  *block = b;
  return u;
}

/* The keys of a (numbers) turned into ranks << 32 | row (x, T, t_x from
 * the highest bits), sorted by them, folded into the block b of 4 n
 * patterns (x, t_x, T, w); returns the number of patterns, or (size_t)-1
 * (out of memory, or more than 32 bits of ranks). */
static size_t pat_fold(pat_acc *a, double **block) {
  const size_t n = a->nrows;
  uint32_t *rank[2][3];
  uint64_t *val[3];
  int bits[3], total = 0;
  size_t np = (size_t)-1;
  uint64_t *tmp = NULL;
  double *b = NULL;
  for (int k = 0; k < 3; k++) rank[0][k] = rank[1][k] = NULL, val[k] = NULL;
  for (int k = 0; k < 3; k++) {
    const size_t n0 = a->col[0][k].n, n1 = a->col[1][k].n;
    rank[0][k] = malloc((n0 + 1) * sizeof **rank);
    rank[1][k] = malloc((n1 + 1) * sizeof **rank);
    val[k] = malloc((n0 + n1 + 1) * sizeof *val[k]);
    if (!rank[0][k] || !rank[1][k] || !val[k]) goto done;
    uint32_t *rk[2] = {rank[0][k], rank[1][k]};
    const size_t u = pat_ranks(a, k, val[k], rk);
    bits[k] = 0;
    while (((size_t)1 << bits[k]) < u) bits[k]++;
    total += bits[k];
  }
  if (total > 32) goto done;
  /* ranks in place of numbers: x, then T, then t_x */
  const uint64_t m = ((uint64_t)1 << PAT_CBITS) - 1;
  if (!a->has_w) {
    np = pat_fold_counts(a, rank, val, bits, total, block);
    goto done;
  }
  for (size_t r = 0; r < n; r++) {
    const uint64_t k = a->key[r];
    uint32_t *const *rk = rank[r >= a->first[1]]; /* part 1: from its first row */
    const uint64_t q = ((uint64_t)rk[0][k >> (2 * PAT_CBITS)] << (bits[1] + bits[2]) |
                        (uint64_t)rk[2][k >> PAT_CBITS & m] << bits[1] | rk[1][k & m]);
    a->key[r] = q << 32 | r;
  }
  /* stable LSD radix sort on the rank bits (11 bits a pass; the rows
   * below are in order already) */
  tmp = malloc(n * sizeof *tmp);
  if (!tmp) goto done;
  for (int sh = 32; sh < 32 + total; sh += 11) {
    size_t cnt[2048] = {0};
    for (size_t r = 0; r < n; r++) cnt[a->key[r] >> sh & 2047]++;
    size_t sum = 0;
    for (size_t d = 0; d < 2048; d++) {
      const size_t c = cnt[d];
      cnt[d] = sum;
      sum += c;
    }
    for (size_t r = 0; r < n; r++) tmp[cnt[a->key[r] >> sh & 2047]++] = a->key[r];
    uint64_t *t = a->key;
    a->key = tmp;
    tmp = t;
  }
  /* runs of equal ranks: the patterns */
  size_t u = 0;
  for (size_t r = 0; r < n; r++) u += r == 0 || (a->key[r] >> 32) != (a->key[r - 1] >> 32);
  b = malloc(4 * (u ? u : 1) * sizeof *b);
  if (!b) goto done;
  size_t p = 0;
  for (size_t r = 0; r < n;) {
    const uint64_t k = a->key[r] >> 32;
    double w = a->has_w ? a->w[a->key[r] & 0xFFFFFFFFu] : 1.0;
    size_t j = r + 1;
    for (; j < n && (a->key[j] >> 32) == k; j++)
      w += a->has_w ? a->w[a->key[j] & 0xFFFFFFFFu] : 1.0;
    pat_put(b, u, p++, val, bits, k, w);
    r = j;
  }
  *block = b;
  b = NULL;
  np = u;
done:
  free(b);
  free(tmp);
  for (int k = 0; k < 3; k++) free(rank[0][k]), free(rank[1][k]), free(val[k]);
  return np;
}

tsr_status cli_summary_read_patterns(const char *path, int bgbb, int n_parts, cli_summary *s,
                                     tsr_error *err) {
  const char *const *want[5] = {X, R, TT, M, W};
  pat_acc a;
  int plain = 0;
  memset(&a, 0, sizeof a);
  a.bgbb = bgbb;
  tsr_status st =
      tsr_table_scan_numeric(path, 5, want, pat_begin, pat_row, &a, n_parts, &plain, NULL);
  double *b = NULL;
  const size_t n = st == TSR_OK && plain ? pat_fold(&a, &b) : (size_t)-1;
  pat_acc_free(&a);
  if (n == (size_t)-1) return cli_summary_read_values(path, 0, s, err);
  memset(s, 0, sizeof *s);
  s->n = n;
  s->x = b; /* the block */
  s->t_x = b + n;
  s->T = b + 2 * n;
  s->w = b + 3 * n;
  return TSR_OK;
}

tsr_status cli_summary_read(const char *path, int need_m, cli_summary *s,
                            tsr_error *err) {
  tsr_table *t = NULL;
  tsr_status st;
  memset(s, 0, sizeof *s);
  if ((st = tsr_table_read(path, NULL, &t, err))) return st;
  const char *name = tsr_table_name(t);
  ptrdiff_t ci = find_col(t, ID), cx = find_col(t, X), cr = find_col(t, R),
            cT = find_col(t, TT), cm = find_col(t, M), cw = find_col(t, W);
  const char *miss = cx < 0 ? "frequency" : cr < 0 ? "recency" : cT < 0 ? "T" :
                     (need_m && cm < 0) ? "monetary_value" : NULL;
  if (miss) {
    /* a transaction log (a date or an amount column, no frequency) */
    static const char *const TXCOLS[] = {"date", "timestamp", "time", "datetime", "order_date",
                                         "transaction_date", "amount", "value", "price",
                                         "transaction_id", "order_id", NULL};
    int txlog = cx < 0 && find_col(t, TXCOLS) >= 0;
    st = tsr_error_set(err, TSR_EPARSE, name, 1, 0, miss,
                       "missing column (expected a header with frequency, "
                       "recency, T%s)%s",
                       need_m ? ", monetary_value" : "",
                       txlog ? "; this looks like a transaction log: run 'tessera summary "
                               "FILE -o summary.csv' first and give that summary" : "");
    tsr_table_free(t);
    return st;
  }
  size_t n = tsr_table_nrows(t);
  if (n == 0) {
    st = tsr_error_set(err, TSR_EPARSE, name, 2, 0, NULL,
                       "no customers: the file has only a header");
    tsr_table_free(t);
    return st;
  }
  s->n = n;
  s->x = malloc_huge(5 * n * sizeof(double));
  s->ids = malloc_huge(n * sizeof(char *));
  if (!s->x || !s->ids) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto fail;
  }
  s->t_x = s->x + n;
  s->T = s->t_x + n;
  {
    ptrdiff_t cols[5] = {cx, cr, cT, cm, cw};
    double *dst[5] = {s->x, s->t_x, s->T, s->T + n, s->T + 2 * n};
    for (int k = 0; k < 5; k++) {
      if (cols[k] >= 0 && (st = tsr_table_column_double_to(t, (size_t)cols[k], dst[k], err)))
        goto fail;
    }
    if (cm >= 0) s->m = s->T + n;
    if (cw >= 0) s->w = s->T + 2 * n;
  }
  /* range checks naming the offending cell */
  for (size_t r = 0; r < n; r++) {
    double x = s->x[r], tx = s->t_x[r], T = s->T[r];
    ptrdiff_t bad = -1;
    const char *want = NULL;
    if (!(x >= 0)) bad = cx, want = "a value >= 0";
    else if (!(T >= 0)) bad = cT, want = "a value >= 0";
    else if (!(tx >= 0 && tx <= T)) bad = cr, want = "a value in [0, T]";
    else if (s->m && !(s->m[r] >= 0)) bad = cm, want = "a value >= 0";
    else if (s->w && !(s->w[r] >= 0)) bad = cw, want = "a value >= 0";
    if (bad >= 0) {
      st = tsr_error_set(err, TSR_ERANGE, name, tsr_table_row_line(t, r),
                         (int64_t)bad + 1, tsr_table_colname(t, (size_t)bad),
                         "expected %s, got '%.40s'", want,
                         tsr_table_cell(t, r, (size_t)bad));
      goto fail;
    }
  }
  /* ids: the cells of the table, kept until cli_summary_free */
  if (ci < 0) {
    s->idbuf = malloc(21 * n);
    if (!s->idbuf) {
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      goto fail;
    }
  }
  for (size_t r = 0; r < n; r++) {
    if (ci >= 0) {
      s->ids[r] = (char *)tsr_table_cell(t, r, (size_t)ci);
    } else {
      s->ids[r] = s->idbuf + 21 * r;
      snprintf(s->ids[r], 21, "%zu", r + 1);
    }
  }
  s->table = t;
  return TSR_OK;
fail:
  cli_summary_free(s);
  tsr_table_free(t);
  return st;
}
