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

/* The patterns of cli_summary_read_patterns, from the numbers of the
 * texts of x, t_x, T (tsr_table_scan_codes: a summary has a few hundred
 * distinct texts per column, each parsed once). The checks of a row
 * (those of read_plain and of tsr_btyd_check_data) on each distinct value
 * (every one is some row's), and those between columns on every row. Each
 * column's distinct values (over both parts) are sorted and every number
 * gets the rank of its value (two texts of one value, one rank); a row's
 * key is its ranks (x, then T, then t_x from the highest bits, at most 32
 * bits), the keys are sorted by a stable radix sort (rows of a pattern
 * stay in row order), and each run of equal keys is a pattern:
 * tsr__btyd_compress's patterns, in its order, with the weights summed in
 * row order. A -0.0 sends the file to the row path (tsr__btyd_compress
 * takes it equal to 0.0, keeping the first row's value). */

/* The values of column k (0 x, 1 t_x, 2 T, 3 m, 4 w) pass the checks of
 * a row: 1 when they do. */
static int pat_values_ok(const tsr_table_codes *c, int k, int bgbb) {
  for (int pt = 0; pt < 2; pt++)
    for (size_t j = 0; j < c->ndistinct[pt][k]; j++) {
      const double v = c->value[pt][k][j];
      if (!(v >= 0)) return 0;
      if (k > 2) continue;
      if (v == 0 && signbit(v)) return 0;
      if (bgbb && (v != floor(v) || (k == 2 && !(v > 0)))) return 0;
    }
  return 1;
}

static int cmp_f64(const void *pa, const void *pb) {
  const double a = *(const double *)pa, b = *(const double *)pb;
  return (a > b) - (a < b);
}

/* The distinct values of column k over both parts, sorted, into val
 * (returns their count) and the rank of each part's numbers in rank[pt]. */
static size_t pat_ranks(const tsr_table_codes *c, int k, double *val, uint32_t *rank[2]) {
  const size_t n0 = c->ndistinct[0][k], n1 = c->ndistinct[1][k];
  memcpy(val, c->value[0][k], n0 * sizeof *val);
  memcpy(val + n0, c->value[1][k], n1 * sizeof *val);
  size_t n = n0 + n1, u = 0;
  qsort(val, n, sizeof *val, cmp_f64); /* finite values, no -0.0 */
  for (size_t j = 0; j < n; j++)
    if (u == 0 || val[j] != val[u - 1]) val[u++] = val[j];
  for (int pt = 0; pt < 2; pt++)
    for (size_t j = 0; j < c->ndistinct[pt][k]; j++) {
      /* the rank of number j: its place in val (binary search) */
      const double v = c->value[pt][k][j];
      size_t lo = 0, hi = u;
      while (hi - lo > 1) {
        const size_t mid = (lo + hi) / 2;
        if (val[mid] <= v) lo = mid;
        else hi = mid;
      }
      rank[pt][j] = (uint32_t)lo;
    }
  return u;
}

/* Pattern p of the u in block b (three value columns, then the weight):
 * its values from the rank key k (column 0's rank in the top bits, then
 * column 2's, column 1's in the low bits, as pat_keys_part builds it). */
static inline void pat_put(double *b, size_t u, size_t p, double *const val[3],
                           const int bits[3], uint64_t k, double w) {
  const uint64_t m1 = ((uint64_t)1 << bits[1]) - 1, m2 = ((uint64_t)1 << bits[2]) - 1;
  b[p] = val[0][k >> (bits[1] + bits[2])];
  b[u + p] = val[1][k & m1];
  b[2 * u + p] = val[2][k >> bits[1] & m2];
  b[3 * u + p] = w;
}

/* What the rows need of the codes: each column's place in a row of
 * numbers, the part 1 row, the ranks and values of each part's numbers. */
typedef struct {
  const tsr_table_codes *c;
  uint32_t *rank[2][3];
  const double *v[2][3];
  int at[3], bits[3], bgbb;
} pat_keys;

/* The rank keys (pat_put's layout) of the rows [r0, r1) of part pt into
 * k32 (32 bits) or, when k32 is NULL, into k64 (key << 32 | row); 0, or
 * -1 when a row fails a check between its columns (t_x <= T; BG/BB x <=
 * t_x; otherwise x = 0 only with t_x = 0). */
static int pat_keys_part(const pat_keys *pk, int pt, size_t r0, size_t r1, uint32_t *k32,
                         uint64_t *k64) {
  const uint16_t *row = pk->c->code + r0 * pk->c->stride;
  const size_t stride = pk->c->stride;
  const int a0 = pk->at[0], a1 = pk->at[1], a2 = pk->at[2], b1 = pk->bits[1],
            b12 = pk->bits[1] + pk->bits[2], bgbb = pk->bgbb;
  const double *vx = pk->v[pt][0], *vtx = pk->v[pt][1], *vT = pk->v[pt][2];
  const uint32_t *rx = pk->rank[pt][0], *rtx = pk->rank[pt][1], *rT = pk->rank[pt][2];
  for (size_t r = r0; r < r1; r++, row += stride) {
    const uint16_t cx = row[a0], ctx = row[a1], cT = row[a2];
    const double x = vx[cx], tx = vtx[ctx], T = vT[cT];
    if (!(tx <= T) || (bgbb ? x > tx : x == 0 && tx != 0)) return -1;
    const uint32_t q = rx[cx] << b12 | rT[cT] << b1 | rtx[ctx];
    if (k32) k32[r] = q;
    else k64[r] = (uint64_t)q << 32 | r;
  }
  return 0;
}

/* pat_keys_part over both parts */
static int pat_keys_all(const pat_keys *pk, uint32_t *k32, uint64_t *k64) {
  const size_t n = pk->c->nrows, p1 = pk->c->part1;
  return pat_keys_part(pk, 0, 0, p1, k32, k64) || pat_keys_part(pk, 1, p1, n, k32, k64) ? -1 : 0;
}

/* Stable LSD radix sort of key[0..n) (bits total..shift+total of each key
 * the digits, in passes of at most 13 bits), tmp as the other buffer; the
 * sorted keys end in *key (key and tmp swapped as needed). */
#define PAT_RADIX_BITS 13
#define RADIX_SORT(T, key, tmp, n, shift, total)                                    \
  do {                                                                              \
    const int np_ = ((total) + PAT_RADIX_BITS - 1) / PAT_RADIX_BITS;                 \
    const int wd_ = np_ ? ((total) + np_ - 1) / np_ : 0;                             \
    uint32_t cnt_[1 << PAT_RADIX_BITS];                                             \
    for (int ps_ = 0; ps_ < np_; ps_++) {                                           \
      const int sh_ = (shift) + ps_ * wd_;                                          \
      const size_t nd_ = (size_t)1 << wd_, dm_ = nd_ - 1;                            \
      memset(cnt_, 0, nd_ * sizeof *cnt_);                                          \
      for (size_t r_ = 0; r_ < (n); r_++) cnt_[(key)[r_] >> sh_ & dm_]++;           \
      uint32_t sum_ = 0;                                                            \
      for (size_t d_ = 0; d_ < nd_; d_++) {                                         \
        const uint32_t c_ = cnt_[d_];                                               \
        cnt_[d_] = sum_;                                                            \
        sum_ += c_;                                                                 \
      }                                                                             \
      for (size_t r_ = 0; r_ < (n); r_++) (tmp)[cnt_[(key)[r_] >> sh_ & dm_]++] = (key)[r_]; \
      T *t_ = (key);                                                                \
      (key) = (tmp);                                                                \
      (tmp) = t_;                                                                   \
    }                                                                               \
  } while (0)

/* The rows of c folded into the block *block of 4 u patterns (x, t_x, T,
 * w); returns u, or (size_t)-1 (a check failed, out of memory, more than
 * 32 bits of ranks). The code block of c is used as the sort's buffers
 * when there is no weights column. */
static size_t pat_fold(tsr_table_codes *c, int bgbb, double **block) {
  const size_t n = c->nrows;
  pat_keys pk;
  memset(&pk, 0, sizeof pk);
  pk.c = c, pk.bgbb = bgbb;
  double *val[3] = {NULL, NULL, NULL};
  size_t np = (size_t)-1;
  void *kbuf = NULL, *tbuf = NULL;
  double *b = NULL;
  int total = 0;
  const int has_w = c->at[4] >= 0;
  if (c->at[0] < 0 || c->at[1] < 0 || c->at[2] < 0 || n > UINT32_MAX / 2) return np;
  for (int k = 0; k < 5; k++)
    if (c->at[k] >= 0 && !pat_values_ok(c, k, bgbb)) return np;
  for (int k = 0; k < 3; k++) {
    const size_t n0 = c->ndistinct[0][k], n1 = c->ndistinct[1][k];
    pk.at[k] = c->at[k];
    pk.rank[0][k] = malloc((n0 + 1) * sizeof(uint32_t));
    pk.rank[1][k] = malloc((n1 + 1) * sizeof(uint32_t));
    val[k] = malloc((n0 + n1 + 1) * sizeof *val[k]);
    if (!pk.rank[0][k] || !pk.rank[1][k] || !val[k]) goto done;
    pk.v[0][k] = c->value[0][k], pk.v[1][k] = c->value[1][k];
    const size_t u = pat_ranks(c, k, val[k], (uint32_t *[2]){pk.rank[0][k], pk.rank[1][k]});
    pk.bits[k] = 0;
    while (((size_t)1 << pk.bits[k]) < u) pk.bits[k]++;
    total += pk.bits[k];
  }
  if (total > 32) goto done;
  size_t u = 0;
  if (!has_w) {
    /* every row weighs 1, so the order of the rows within a pattern does
     * not matter (its weight, 1 added once per row, is its exact count):
     * the ranks alone (32 bits) are sorted, written over the rows'
     * numbers (key r at 4 r, read from 2 stride r >= 4 r), the other
     * half of the code block the sort's other buffer when it holds 8
     * bytes a row */
    uint32_t *key = (uint32_t *)(void *)c->code, *tmp;
    if (pat_keys_all(&pk, key, NULL)) goto done;
    if (c->stride >= 4) {
      tmp = key + n;
    } else {
      if (!(tbuf = malloc((n ? n : 1) * sizeof *tmp))) goto done;
      tmp = tbuf;
    }
    RADIX_SORT(uint32_t, key, tmp, n, 0, total);
    for (size_t r = 0; r < n; r++) u += r == 0 || key[r] != key[r - 1];
    if (!(b = malloc(4 * (u ? u : 1) * sizeof *b))) goto done;
    size_t p = 0;
    for (size_t r = 0; r < n;) {
      const uint32_t k = key[r];
      double w = 1.0;
      size_t j = r + 1;
      for (; j < n && key[j] == k; j++) w += 1.0;
      pat_put(b, u, p++, val, pk.bits, k, w);
      r = j;
    }
  } else {
    /* ranks << 32 | row, sorted on the rank bits (the rows below are in
     * order already), the weights summed in row order */
    uint64_t *key = kbuf = malloc((n ? n : 1) * sizeof *key), *tmp = tbuf = malloc((n ? n : 1) * sizeof *tmp);
    if (!key || !tmp) goto done;
    if (pat_keys_all(&pk, NULL, key)) goto done;
    RADIX_SORT(uint64_t, key, tmp, n, 32, total);
    for (size_t r = 0; r < n; r++) u += r == 0 || (key[r] >> 32) != (key[r - 1] >> 32);
    if (!(b = malloc(4 * (u ? u : 1) * sizeof *b))) goto done;
    const size_t at = (size_t)c->at[4];
    size_t p = 0;
    for (size_t r = 0; r < n;) {
      const uint64_t k = key[r] >> 32;
      size_t j = r;
      double w = 0;
      for (; j < n && (key[j] >> 32) == k; j++) {
        const size_t row = key[j] & 0xFFFFFFFFu;
        const double wr = c->value[row >= c->part1][4][c->code[row * c->stride + at]];
        w = j == r ? wr : w + wr;
      }
      pat_put(b, u, p++, val, pk.bits, k, w);
      r = j;
    }
  }
  *block = b;
  b = NULL;
  np = u;
done:
  free(b);
  free(kbuf);
  free(tbuf);
  for (int k = 0; k < 3; k++) free(pk.rank[0][k]), free(pk.rank[1][k]), free(val[k]);
  return np;
}

tsr_status cli_summary_read_patterns(const char *path, int bgbb, int n_parts, cli_summary *s,
                                     tsr_error *err) {
  const char *const *want[5] = {X, R, TT, M, W};
  tsr_table_codes c;
  int plain = 0;
  tsr_status st = tsr_table_scan_codes(path, 5, want, n_parts, &c, &plain, NULL);
  double *b = NULL;
  const size_t n = st == TSR_OK && plain ? pat_fold(&c, bgbb, &b) : (size_t)-1;
  tsr_table_codes_free(&c);
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
