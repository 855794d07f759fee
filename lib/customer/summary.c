/*
 * summary.c - per-customer frequency/recency/T/monetary summary (see
 * tessera/summary.h for the exact semantics, which follow lifetimes'
 * summary_data_from_transaction_data and calibration_and_holdout_data).
 */
#include "internal.h"
#include "base/textbuf.h"
#include "tessera/csv.h"
#include "tessera/datetime.h"
#include "tessera/summary.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void tsr_summary_opts_init(tsr_summary_opts *o) {
  memset(o, 0, sizeof *o);
  o->freq = TSR_FREQ_D;
  o->multiplier = 1;
  o->end_day = TSR_DAY_NONE;
  o->cal_end_day = TSR_DAY_NONE;
  o->refunds = TSR_REFUNDS_EXCLUDE;
}

tsr_status tsr_freq_parse(const char *s, tsr_freq *out) {
  if (!strcmp(s, "D") || !strcmp(s, "d")) *out = TSR_FREQ_D;
  else if (!strcmp(s, "W") || !strcmp(s, "w")) *out = TSR_FREQ_W;
  else if (!strcmp(s, "M") || !strcmp(s, "m")) *out = TSR_FREQ_M;
  else return TSR_EINVAL;
  return TSR_OK;
}

static int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}

/* Period number of a day. W: weeks Monday..Sunday (1970-01-01 is a Thursday,
 * so day -3 is a Monday). M: months since 1970-01. */
int64_t tsr__period_of(int f, int64_t day) {
  switch (f) {
    case TSR_FREQ_D:
      return day;
    case TSR_FREQ_W:
      return floordiv(day + 3, 7);
    case TSR_FREQ_M: {
      int64_t y;
      unsigned m, d;
      tsr_civil_from_days(day, &y, &m, &d);
      return (y - 1970) * 12 + (int64_t)m - 1;
    }
  }
  return day;
}

/* Summary rows of customers [from, to) of a ledger (one thread's share). */
typedef struct sum_job {
  const tsr_ledger *lg;
  tsr_summary_opts o;
  int split;
  int64_t p_end, p_cal;
  size_t from, to;
  tsr_summary_row *out; /* kept rows, contiguous */
  size_t n, excluded;
  const char *overflow; /* first customer whose sums are not finite, or NULL */
  tsr_ledger_entry *buf; /* a customer's entries (tsr__ledger_decode) */
} sum_job;

/* One customer's row from its entries (see tessera/summary.h). Returns 1
 * when the customer has a purchase by the (calibration) end; 0 otherwise,
 * with *refund_only set when the customer has refunds but no purchase. */
static int row_from_entries(const tsr_ledger_entry *e, size_t k, const tsr_summary_opts *op,
                            int split, int64_t p_end, int64_t p_cal, tsr_summary_row *out,
                            int *refund_only) {
  const tsr_summary_opts o = *op;
  const double mult = o.multiplier;
  const int net = o.refunds == TSR_REFUNDS_NET;
  tsr_summary_row r;
  memset(&r, 0, sizeof r);
  r.customer_id = out->customer_id;
  /* calibration periods: walk entries, merging days of one period */
  int64_t first_p = 0, last_p = 0, cur_p = INT64_MIN;
  int64_t nper = 0;
  double first_amt = 0, total_amt = 0, cur_amt = 0;
  int64_t ho_per = 0, ho_cur = INT64_MIN, ho_tx = 0;
  double ho_amt = 0;
  int64_t first_day = -1, last_day = -1;
  for (size_t j = 0; j < k; j++) {
    int64_t p = tsr__period_of(o.freq, e[j].day);
    if (p > p_end) break; /* period starts after the observation end */
    double amt = e[j].amount + (net ? e[j].refund : 0);
    if (e[j].ntx || net) {
      r.revenue += amt;
      if (p <= p_cal) r.revenue_cal += amt;
    }
    r.n_refunds += e[j].nrefund;
    r.refund_amount += e[j].refund;
    if (!e[j].ntx) {
      /* refund-only day: netted into the current period's spend */
      if (net && p <= p_cal && nper > 0) {
        cur_amt += e[j].refund;
        total_amt += e[j].refund;
        if (nper == 1) first_amt += e[j].refund;
      } else if (net && p > p_cal && ho_per > 0) {
        ho_amt += e[j].refund;
      }
      continue;
    }
    r.n_transactions += e[j].ntx;
    r.active_days++;
    if (first_day < 0) first_day = e[j].day;
    last_day = e[j].day;
    if (p <= p_cal) {
      if (p != cur_p) {
        if (nper == 0) first_p = p;
        nper++;
        cur_p = p;
        cur_amt = 0;
      }
      cur_amt += amt;
      total_amt += amt;
      if (nper == 1) first_amt += amt;
      last_p = p;
    } else {
      if (nper == 0) break; /* no calibration purchase: not in the summary */
      if (p != ho_cur) {
        ho_per++;
        ho_cur = p;
      }
      ho_tx += e[j].ntx + (net ? e[j].nrefund : 0);
      ho_amt += amt;
    }
  }
  (void)cur_amt;
  *refund_only = nper == 0 && r.n_refunds;
  if (nper == 0) return 0;
  r.frequency = (double)(nper - 1);
  r.recency = (double)(last_p - first_p) / mult;
  r.T = (double)(p_cal - first_p) / mult;
  r.monetary_value = nper > 1 ? (total_amt - first_amt) / (double)(nper - 1) : 0.0;
  r.first_day = first_day;
  r.last_day = last_day;
  if (split) {
    r.frequency_holdout = (double)ho_per;
    r.monetary_value_holdout = ho_tx > 0 ? ho_amt / (double)ho_tx : 0.0;
    r.duration_holdout = (double)(p_end - p_cal) / mult;
  }
  *out = r;
  return 1;
}

int tsr_summary_row_from_entries(const tsr_ledger_entry *e, size_t k, const tsr_summary_opts *o,
                                 int64_t end_day, tsr_summary_row *out) {
  const int split = o->cal_end_day != TSR_DAY_NONE && o->cal_end_day < end_day;
  const int64_t p_end = tsr__period_of(o->freq, end_day);
  const int64_t p_cal = tsr__period_of(o->freq, split ? o->cal_end_day : end_day);
  int refund_only;
  return row_from_entries(e, k, o, split, p_end, p_cal, out, &refund_only);
}

static void *sum_range(void *arg) {
  sum_job *j0 = arg;
  const tsr_ledger *lg = j0->lg;
  for (size_t i = j0->from; i < j0->to && i < j0->from + 16; i++) tsr__ledger_prefetch(lg, i, 0);
  for (size_t i = j0->from; i < j0->to && i < j0->from + 8; i++) tsr__ledger_prefetch(lg, i, 1);
  for (size_t i = j0->from; i < j0->to; i++) {
    tsr__ledger_prefetch(lg, i + 16, 0); /* slots, then entries, ahead */
    tsr__ledger_prefetch(lg, i + 8, 1);
    size_t k;
    const tsr_ledger_entry *e = tsr__ledger_decode(lg, i, j0->buf, &k);
    tsr_summary_row *r = &j0->out[j0->n];
    r->customer_id = tsr_ledger_customer(lg, i);
    int refund_only;
    if (row_from_entries(e, k, &j0->o, j0->split, j0->p_end, j0->p_cal, r, &refund_only)) {
      if (!j0->overflow &&
          !(isfinite(r->revenue) && isfinite(r->refund_amount) && isfinite(r->monetary_value) &&
            isfinite(r->monetary_value_holdout)))
        j0->overflow = r->customer_id; /* huge amounts add up to inf */
      j0->n++;
    }
    else if (refund_only)
      j0->excluded++;
  }
  return NULL;
}

/* The summary of lg without its rows: the options checked, the ends
 * found (*p_end, *p_cal their periods), s->rows n rows of room. */
static tsr_status sum_begin(const tsr_ledger *lg, const tsr_summary_opts *opts, size_t elem,
                            tsr_summary **out, int64_t *p_end_out, int64_t *p_cal_out,
                            tsr_error *err) {
  *out = NULL;
  tsr_summary_opts o;
  if (opts) o = *opts;
  else tsr_summary_opts_init(&o);
  if (!(o.multiplier > 0))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "freq-multiplier",
                         "expected a number > 0, got %g", o.multiplier);
  size_t n = tsr_ledger_ncustomers(lg);
  int64_t end = o.end_day;
  if (end == TSR_DAY_NONE) {
    /* the last day with a purchase (the ledger keeps it) */
    int any = tsr__ledger_last_purchase(lg, &end);
    if (!any)
      return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL,
                           "no purchases: every accepted row is a refund or there are no rows");
  }
  int split = o.cal_end_day != TSR_DAY_NONE;
  if (split && o.cal_end_day >= end) {
    char a[11], b[11];
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "calibration-end",
                         "expected a date before the observation end %s, got %s",
                         tsr_day_format(end, a), tsr_day_format(o.cal_end_day, b));
  }
  int64_t cal_end = split ? o.cal_end_day : end;
  const int64_t p_end = tsr__period_of(o.freq, end);
  const int64_t p_cal = tsr__period_of(o.freq, cal_end);

  tsr_summary *s = tsr__calloc(1, sizeof *s);
  if (!s) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  /* every kept row is written whole (row_from_entries): no zeroing; on
   * huge pages, as 4 KiB pages the rows' faults were 5 % of the bank
   * file's summary (136 bytes a customer: 46 MB there, 245 MB on tx1800k);
   * elem bytes a row (the caller's own form of them, tsr__summary_drain_packed) */
  s->rows = n <= SIZE_MAX / elem ? tsr__malloc_big((n ? n : 1) * elem) : NULL;
  if (!s->rows) {
    tsr__free(s);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  s->has_holdout = split;
  s->end_day = end;
  s->cal_end_day = split ? cal_end : TSR_DAY_NONE;
  s->opts = o;
  *p_end_out = p_end;
  *p_cal_out = p_cal;
  *out = s;
  return TSR_OK;
}

/* The end of a summary: the error of an overflow (customer id) or of no
 * rows (s freed), else s into *out. */
static tsr_status sum_end(tsr_summary *s, const char *overflow, tsr_summary **out, tsr_error *err) {
  if (overflow) {
    tsr_status st = tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "amount",
                                  "customer '%.200s': the sum of the amounts overflows "
                                  "(is beyond the largest number, %.2g)",
                                  overflow, DBL_MAX);
    tsr_summary_free(s);
    return st;
  }
  if (s->n == 0) {
    tsr_summary_free(s);
    return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL,
                         "no customer has a purchase by the observation end");
  }
  *out = s;
  return TSR_OK;
}

tsr_status tsr_summary_compute(const tsr_ledger *lg, const tsr_summary_opts *opts,
                               tsr_summary **out, tsr_error *err) {
  tsr_summary *s;
  int64_t p_end, p_cal;
  tsr_status st0 = sum_begin(lg, opts, sizeof *s->rows, &s, &p_end, &p_cal, err);
  if (st0 != TSR_OK) return st0;
  const tsr_summary_opts o = s->opts;
  const int split = s->has_holdout;
  const size_t n = tsr_ledger_ncustomers(lg);
  /* customers in contiguous shares, one per thread; rows kept in order */
  size_t nt = o.threads >= 2 && n >= 50000 ? (size_t)(o.threads > 8 ? 8 : o.threads) : 1;
  sum_job jobs[8];
  pthread_t th[8];
  int started[8] = {0};
  /* each thread decodes its customers' entries into its buffer (not
   * tsr_ledger_entries' copy of them all) */
  const size_t mx = tsr__ledger_max_entries(lg);
  int nomem = 0;
  for (size_t t = 0; t < nt; t++) {
    sum_job *j = &jobs[t];
    memset(j, 0, sizeof *j);
    if (!(j->buf = tsr__malloc((mx ? mx : 1) * sizeof *j->buf))) nomem = 1;
    j->lg = lg;
    j->o = o;
    j->split = split;
    j->p_end = p_end;
    j->p_cal = p_cal;
    j->from = n * t / nt;
    j->to = n * (t + 1) / nt;
    j->out = s->rows + j->from;
  }
  if (nomem) {
    for (size_t t = 0; t < nt; t++) tsr__free(jobs[t].buf);
    tsr_summary_free(s);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  for (size_t t = 1; t < nt; t++) started[t] = pthread_create(&th[t], NULL, sum_range, &jobs[t]) == 0;
  sum_range(&jobs[0]);
  for (size_t t = 1; t < nt; t++) {
    if (started[t]) pthread_join(th[t], NULL);
    else sum_range(&jobs[t]);
  }
  for (size_t t = 0; t < nt; t++) {
    if (s->rows + s->n != jobs[t].out)
      memmove(s->rows + s->n, jobs[t].out, jobs[t].n * sizeof *s->rows);
    s->n += jobs[t].n;
    s->excluded_refund_only += jobs[t].excluded;
    tsr__free(jobs[t].buf);
  }
  const char *overflow = NULL;
  for (size_t t = 0; t < nt && !overflow; t++) overflow = jobs[t].overflow;
  return sum_end(s, overflow, out, err);
}

/* tsr__summary_compute_drain: each customer's row as the ledger's drain
 * hands it over, written at its customer number's place (the drain gives
 * the customers in their blocks' address order, i.e. at random), with a
 * bit for each customer that has a row; then the rows are moved down over
 * the places of customers without one, in order: one sequential pass. (The
 * rows were appended in the drain's order and then permuted to the
 * customers' order cycle by cycle: a random read and write of each row
 * after the sequential write, and 8 bytes a customer of indexes, fresh
 * pages; issue 18.) In the caller's form (put, elem bytes) or as a
 * tsr_summary_row (put NULL). */
typedef struct drain_job {
  tsr_summary *s;
  char *rows; /* s->rows' bytes, elem a row; customer i's at i */
  size_t elem;
  tsr__summary_put_fn put;
  void *put_ud;
  uint64_t *has; /* bit i: customer i has a row */
  int split;
  int64_t p_end, p_cal;
  size_t overflow; /* the first customer (number) whose sums are not finite; SIZE_MAX */
  tsr__drain_also_fn also;
  void *also_ud;
} drain_job;

static void drain_row(void *ud, size_t i, const char *id, const tsr_ledger_entry *e, size_t k) {
  drain_job *j = ud;
  tsr_summary *s = j->s;
  char *slot = j->rows + i * j->elem;
  tsr_summary_row one, *r = j->put ? &one : (tsr_summary_row *)(void *)slot;
  r->customer_id = id;
  int refund_only, has_row = 0;
  if (row_from_entries(e, k, &s->opts, j->split, j->p_end, j->p_cal, r, &refund_only)) {
    if (i < j->overflow && !(isfinite(r->revenue) && isfinite(r->refund_amount) &&
                             isfinite(r->monetary_value) && isfinite(r->monetary_value_holdout)))
      j->overflow = i;
    if (j->put) j->put(j->put_ud, slot, r);
    j->has[i >> 6] |= (uint64_t)1 << (i & 63);
    s->n++;
    has_row = 1;
  } else if (refund_only) {
    s->excluded_refund_only++;
  }
  if (j->also) j->also(j->also_ud, i, id, e, k, has_row);
}

tsr_status tsr__summary_compute_drain(tsr_ledger *lg, const tsr_summary_opts *opts,
                                      tsr_summary **out, tsr_error *err) {
  return tsr__summary_compute_drain_also(lg, opts, NULL, NULL, out, err);
}

tsr_status tsr__summary_compute_drain_also(tsr_ledger *lg, const tsr_summary_opts *opts,
                                           tsr__drain_also_fn also, void *also_ud,
                                           tsr_summary **out, tsr_error *err) {
  return tsr__summary_drain_packed(lg, opts, also, also_ud, 0, NULL, NULL, out, err);
}

tsr_status tsr__summary_drain_packed(tsr_ledger *lg, const tsr_summary_opts *opts,
                                     tsr__drain_also_fn also, void *also_ud, size_t elem,
                                     tsr__summary_put_fn put, void *put_ud, tsr_summary **out,
                                     tsr_error *err) {
  drain_job j;
  if (!put || elem == 0 || elem > sizeof(tsr_summary_row))
    elem = sizeof(tsr_summary_row), put = NULL;
  tsr_status st = sum_begin(lg, opts, elem, &j.s, &j.p_end, &j.p_cal, err);
  if (st != TSR_OK) return st;
  tsr_summary *s = j.s;
  const size_t n = tsr_ledger_ncustomers(lg), nw = n / 64 + 1;
  j.rows = (char *)s->rows;
  j.elem = elem;
  j.put = put;
  j.put_ud = put_ud;
  j.split = s->has_holdout;
  j.overflow = SIZE_MAX;
  j.also = also;
  j.also_ud = also_ud;
  j.has = tsr__calloc(nw, sizeof *j.has);
  if (!j.has || tsr__ledger_drain(lg, drain_row, &j) != 0) {
    tsr__free(j.has);
    tsr_summary_free(s);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  /* the rows down over the empty places, in order (m < i: the two rows do
   * not overlap); up to the first empty place nothing moves */
  char *rw = j.rows;
  size_t m = 0;
  for (size_t w = 0; w < nw; w++) {
    uint64_t b = j.has[w];
    if (b == ~(uint64_t)0 && m == w * 64) {
      m += 64;
      continue;
    }
    for (; b; b &= b - 1) {
      const size_t i = w * 64 + (size_t)__builtin_ctzll(b);
      if (m != i) memcpy(rw + m * elem, rw + i * elem, elem);
      m++;
    }
  }
  tsr__free(j.has);
  return sum_end(s, j.overflow != SIZE_MAX ? tsr_ledger_customer(lg, j.overflow) : NULL, out, err);
}

void tsr_summary_free(tsr_summary *s) {
  if (!s) return;
  tsr__free(s->rows);
  tsr__free(s);
}


/* The shortest form of v at o (32 bytes of room); its length. */
static size_t put_dbl(char *o, double v) { return (size_t)(tsr__fmt_double_end(v, o) - o); }

/* ",%lld" of v at o; its length. */
static size_t put_cint(char *o, long long v) {
  char *e = o;
  *e++ = ',';
  if (v < 0) *e++ = '-';
  e = tsr__put_u64(e, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v);
  return (size_t)(e - o);
}

static void put_num(FILE *f, double v) {
  char b[32];
  fputs(tsr__fmt_double(v, b), f);
}

/* One CSV line of r into line (at least SUM_LINE_MAX bytes); its length. */
#define SUM_LINE_MAX (2 * TSR_INGEST_MAX_ID + 512)
static size_t fmt_line(int has_holdout, const tsr_summary_row *r, int extras, char *line) {
  size_t o = tsr_csv_quote(line, r->customer_id, 0);
  double v[7] = {r->frequency, r->recency, r->T, r->monetary_value, r->frequency_holdout,
                 r->monetary_value_holdout, r->duration_holdout};
  int nv = has_holdout ? 7 : 4;
  for (int k = 0; k < nv; k++) {
    line[o++] = ',';
    o += put_dbl(line + o, v[k]);
  }
  if (extras) {
    char d1[11], d2[11];
    line[o++] = ',';
    o += put_dbl(line + o, r->revenue);
    o += put_cint(line + o, (long long)r->n_transactions);
    o += put_cint(line + o, (long long)r->active_days);
    line[o++] = ',';
    memcpy(line + o, tsr_day_format(r->first_day, d1), 10); /* YYYY-MM-DD */
    o += 10;
    line[o++] = ',';
    memcpy(line + o, tsr_day_format(r->last_day, d2), 10);
    o += 10;
    o += put_cint(line + o, (long long)r->n_refunds);
  }
  line[o++] = '\n';
  return o;
}

/* Rows ahead whose customer id is prefetched while formatting: the ids
 * live in the ledger's customers, in insertion order, so in id order they
 * are read at random (on 1.8M customers the miss was 4 % of a summary's CPU). */
#define FMT_AHEAD 8

#define FMT_BLOCK 16384 /* rows per block */

/* Where the blocks of tsr__blocks_write go: the first member of the
 * contexts of fmt_block and stream_block (blk_sink reads it). */
typedef struct blk_out {
  FILE *f;
  tsr__fd_sink k; /* the file's descriptor past the page cache (to_fd) */
  int to_fd;      /* 1: the blocks go to k, else to f */
} blk_out;

typedef struct fmt_out {
  blk_out out; /* first */
  const tsr_summary *s;
  int extras;
} fmt_out;

/* Lines of block blk into buf; 0, or -1 when out of memory. */
static int fmt_block(void *ctx, size_t blk, tsr__tb *buf) {
  const fmt_out *c = ctx;
  const tsr_summary *s = c->s;
  size_t from = blk * FMT_BLOCK, to = from + FMT_BLOCK < s->n ? from + FMT_BLOCK : s->n;
  for (size_t i = from; i < to; i++) {
    if (tsr__tb_reserve(buf, SUM_LINE_MAX)) return -1;
    if (i + FMT_AHEAD < to) __builtin_prefetch(s->rows[i + FMT_AHEAD].customer_id);
    buf->len += fmt_line(s->has_holdout, &s->rows[i], c->extras, buf->s + buf->len);
  }
  return 0;
}

static int blk_sink(void *ctx, const char *t, size_t n) {
  blk_out *c = ctx; /* the context's first member */
  if (c->to_fd) return tsr__fd_sink_put(&c->k, t, n);
  return fwrite(t, 1, n, c->f) == n ? 0 : -1;
}

/* 1 when f is a regular file's stream other than stdout: its rows then go
 * to the descriptor through a tsr__fd_sink (as analyze's customers.csv: no
 * page-cache copy per 4 KiB). stdout (its open file may be shared with other
 * writers, which O_DIRECT on it would refuse unaligned writes), a pipe, a
 * terminal or a memory stream keeps stdio. */
static int is_regular(FILE *f) {
  if (f == stdout) return 0;
  int fd = fileno(f);
  struct stat st;
  return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

static void put_header(FILE *f, int holdout, int extras) {
  if (holdout)
    fputs("customer_id,frequency_cal,recency_cal,T_cal,monetary_value_cal,frequency_holdout,"
          "monetary_value_holdout,duration_holdout", f);
  else
    fputs("customer_id,frequency,recency,T,monetary_value", f);
  if (extras) fputs(",revenue,n_transactions,active_days,first_purchase,last_purchase,refunds", f);
  fputc('\n', f);
}

/* o set for f (after its header): to the descriptor when to_fd. */
static tsr_status blk_begin(blk_out *o, FILE *f, int to_fd, tsr_error *err) {
  o->f = f;
  o->to_fd = to_fd;
  if (!to_fd) return TSR_OK;
  if (fflush(f) != 0)
    return tsr_error_set(err, TSR_EIO, NULL, 0, 0, NULL, "write error: %s", strerror(errno));
  if (tsr__fd_sink_init(&o->k, fileno(f), 0, 1))
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  return TSR_OK;
}

/* tsr__blocks_write's result st once o is finished: -2 when the
 * descriptor's last write failed. */
static int blk_finish(blk_out *o, int st) {
  if (o->to_fd && tsr__fd_sink_finish(&o->k) && st == 0) st = -2;
  return st;
}

/* The status of blocks written with result st (blk_finish's). */
static tsr_status blk_status(const blk_out *o, int st, tsr_error *err) {
  if (st == -1) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  if (st != 0 && o->to_fd)
    return tsr_error_set(err, TSR_EIO, NULL, 0, 0, NULL, "write error: %s", strerror(o->k.werr));
  return TSR_OK;
}

tsr_status tsr_summary_write_csv(const tsr_summary *s, FILE *f, int extras, tsr_error *err) {
  put_header(f, s->has_holdout, extras);
  int nt = s->opts.threads >= 2 && s->n >= 50000 ? (s->opts.threads > 8 ? 8 : s->opts.threads) : 1;
  int to_fd = s->n > 0 && is_regular(f);
  if (nt > 1 || to_fd) {
    /* blocks formatted by nt threads while this one writes them in order
     * (to the descriptor, after the header, when f is a regular file) */
    fmt_out c = {{0}, s, extras};
    tsr_status ts = blk_begin(&c.out, f, to_fd, err);
    if (ts != TSR_OK) return ts;
    int st = tsr__blocks_write((s->n + FMT_BLOCK - 1) / FMT_BLOCK, nt, fmt_block, blk_sink, &c);
    if ((ts = blk_status(&c.out, blk_finish(&c.out, st), err)) != TSR_OK) return ts;
  } else {
    char line[SUM_LINE_MAX];
    for (size_t i = 0; i < s->n; i++) {
      if (i + FMT_AHEAD < s->n) __builtin_prefetch(s->rows[i + FMT_AHEAD].customer_id);
      fwrite(line, 1, fmt_line(s->has_holdout, &s->rows[i], extras, line), f);
    }
  }
  if (ferror(f)) return tsr_error_set(err, TSR_EIO, NULL, 0, 0, NULL, "write error");
  return TSR_OK;
}

/* ------------------------------------------------ the CSV without rows */

/* tsr_summary_stream_csv: each block of FMT_BLOCK customers (the finish
 * order) summarised and formatted at once by the formatting threads of
 * tsr__blocks_write, then written in order: the 136-byte rows of the
 * computed summary are never stored (46 MB of fresh pages on the bank
 * file, 245 MB on tx1800k, zeroed by the kernel at about 1 ms a MB on this
 * kind of VM). The lines are fmt_line's of the rows row_from_entries
 * makes, the same bytes as tsr_summary_write_csv's whatever the threads
 * and their timing. tsr_summary_can_stream rules out beforehand every
 * error tsr_summary_compute could give, so nothing is written when it
 * would fail. */
typedef struct stream_out {
  blk_out out; /* first */
  const tsr_ledger *lg;
  tsr_summary_opts o;
  int64_t p_end, p_cal;
  size_t n, mx; /* customers; entries of the largest */
  int extras;
  int overflow; /* a row's sums were not finite (can_stream not heeded) */
  /* decode buffers of mx entries not in use by a formatter */
  pthread_mutex_t mu;
  tsr_ledger_entry *spare[9];
  int nspare;
} stream_out;

static tsr_ledger_entry *stream_buf_take(stream_out *c) {
  tsr_ledger_entry *b = NULL;
  pthread_mutex_lock(&c->mu);
  if (c->nspare) b = c->spare[--c->nspare];
  pthread_mutex_unlock(&c->mu);
  return b ? b : tsr__malloc((c->mx ? c->mx : 1) * sizeof *b);
}

static void stream_buf_give(stream_out *c, tsr_ledger_entry *b) {
  pthread_mutex_lock(&c->mu);
  if (c->nspare < 9) c->spare[c->nspare++] = b, b = NULL;
  pthread_mutex_unlock(&c->mu);
  tsr__free(b); /* more than a formatter each: not kept */
}

static int stream_block(void *ctx, size_t blk, tsr__tb *buf) {
  stream_out *c = ctx;
  const tsr_ledger *lg = c->lg;
  const size_t from = blk * FMT_BLOCK, to = from + FMT_BLOCK < c->n ? from + FMT_BLOCK : c->n;
  tsr_ledger_entry *eb = stream_buf_take(c);
  if (!eb) return -1;
  int bad = 0;
  /* as sum_range: slots, then entries, fetched ahead */
  for (size_t i = from; i < to && i < from + 16; i++) tsr__ledger_prefetch(lg, i, 0);
  for (size_t i = from; i < to && i < from + 8; i++) tsr__ledger_prefetch(lg, i, 1);
  for (size_t i = from; i < to; i++) {
    if (i + 16 < to) tsr__ledger_prefetch(lg, i + 16, 0);
    if (i + 8 < to) tsr__ledger_prefetch(lg, i + 8, 1);
    size_t k;
    const tsr_ledger_entry *e = tsr__ledger_decode(lg, i, eb, &k);
    tsr_summary_row r;
    r.customer_id = NULL;
    int refund_only;
    if (!row_from_entries(e, k, &c->o, 0, c->p_end, c->p_cal, &r, &refund_only)) continue;
    if (!(isfinite(r.revenue) && isfinite(r.refund_amount) && isfinite(r.monetary_value))) {
      pthread_mutex_lock(&c->mu);
      c->overflow = 1; /* the run fails (tsr__blocks_write stops) */
      pthread_mutex_unlock(&c->mu);
      bad = 1;
      break;
    }
    r.customer_id = tsr_ledger_customer(lg, i);
    if (tsr__tb_reserve(buf, SUM_LINE_MAX)) {
      bad = 1;
      break;
    }
    buf->len += fmt_line(0, &r, c->extras, buf->s + buf->len);
  }
  stream_buf_give(c, eb);
  return bad ? -1 : 0;
}

/* 1 when o cannot make tsr_summary_compute fail on lg: no calibration
 * split, a multiplier > 0, the observation end at or after the last
 * purchase (whose customer then has a row: no "no customer" error). */
static int stream_opts_ok(const tsr_ledger *lg, const tsr_summary_opts *o) {
  int64_t last;
  return o->multiplier > 0 && o->cal_end_day == TSR_DAY_NONE &&
         tsr__ledger_last_purchase(lg, &last) && (o->end_day == TSR_DAY_NONE || o->end_day >= last);
}

int tsr_summary_can_stream(const tsr_ledger *lg, const tsr_summary_opts *opts) {
  tsr_summary_opts o;
  if (opts) o = *opts;
  else tsr_summary_opts_init(&o);
  /* and no overflow: a row's sums (revenue, the refunds, the total spend
   * less the first period's over the periods) are at most twice the
   * customer's sum of magnitudes (with rounding, well below DBL_MAX).
   * The sum of all rows' magnitudes bounds every customer's (its rounding
   * is far below the factor 2 spared): when it is within DBL_MAX / 16, no
   * walk over every customer's entries (serial, after the ingest; 10 ms on
   * the bank file) is needed for the same answer */
  if (!stream_opts_ok(lg, &o)) return 0;
  return tsr__ledger_abs_total(lg) <= DBL_MAX / 16 || tsr__ledger_abs_sums_max(lg) <= DBL_MAX / 8;
}

tsr_status tsr_summary_stream_csv(const tsr_ledger *lg, const tsr_summary_opts *opts, FILE *f,
                                  int extras, tsr_error *err) {
  stream_out c;
  memset(&c, 0, sizeof c);
  if (opts) c.o = *opts;
  else tsr_summary_opts_init(&c.o);
  int64_t end = c.o.end_day;
  if (!stream_opts_ok(lg, &c.o) || (end == TSR_DAY_NONE && !tsr__ledger_last_purchase(lg, &end)))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "the summary cannot be streamed (tsr_summary_can_stream)");
  c.lg = lg;
  c.p_end = c.p_cal = tsr__period_of(c.o.freq, end);
  c.n = tsr_ledger_ncustomers(lg);
  c.mx = tsr__ledger_max_entries(lg);
  c.extras = extras;
  put_header(f, 0, extras);
  /* threads from two blocks on (the rows' threads of tsr_summary_compute
   * came from 50000 customers) */
  const size_t nb = (c.n + FMT_BLOCK - 1) / FMT_BLOCK;
  const int nt = c.o.threads >= 2 && nb >= 2 ? (c.o.threads > 8 ? 8 : c.o.threads) : 1;
  tsr_status ts = blk_begin(&c.out, f, is_regular(f), err);
  if (ts != TSR_OK) return ts;
  if (pthread_mutex_init(&c.mu, NULL) != 0) {
    (void)blk_finish(&c.out, 0);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  int st = blk_finish(&c.out, tsr__blocks_write(nb, nt, stream_block, blk_sink, &c));
  for (int i = 0; i < c.nspare; i++) tsr__free(c.spare[i]);
  pthread_mutex_destroy(&c.mu);
  if (c.overflow)
    return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "amount",
                         "the sum of a customer's amounts overflows (is beyond the largest "
                         "number, %.2g)",
                         DBL_MAX);
  if ((ts = blk_status(&c.out, st, err)) != TSR_OK) return ts;
  if (ferror(f)) return tsr_error_set(err, TSR_EIO, NULL, 0, 0, NULL, "write error");
  return TSR_OK;
}

static void put_json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
    else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
    else fputc(*p, f);
  }
  fputc('"', f);
}

tsr_status tsr_summary_write_json(const tsr_summary *s, FILE *f, int extras, tsr_error *err) {
  static const char *const plain[] = {"frequency", "recency", "T", "monetary_value"};
  static const char *const split[] = {"frequency_cal", "recency_cal", "T_cal",
                                      "monetary_value_cal", "frequency_holdout",
                                      "monetary_value_holdout", "duration_holdout"};
  fputs("[", f);
  for (size_t i = 0; i < s->n; i++) {
    const tsr_summary_row *r = &s->rows[i];
    fputs(i ? ",\n{" : "\n{", f);
    fputs("\"customer_id\":", f);
    put_json_str(f, r->customer_id);
    double v[7] = {r->frequency, r->recency, r->T, r->monetary_value, r->frequency_holdout,
                   r->monetary_value_holdout, r->duration_holdout};
    int nv = s->has_holdout ? 7 : 4;
    for (int k = 0; k < nv; k++) {
      fprintf(f, ",\"%s\":", s->has_holdout ? split[k] : plain[k]);
      put_num(f, v[k]);
    }
    if (extras) {
      char d1[11], d2[11];
      fputs(",\"revenue\":", f);
      put_num(f, r->revenue);
      fprintf(f, ",\"n_transactions\":%lld,\"active_days\":%lld,\"first_purchase\":\"%s\","
              "\"last_purchase\":\"%s\",\"refunds\":%lld",
              (long long)r->n_transactions, (long long)r->active_days,
              tsr_day_format(r->first_day, d1), tsr_day_format(r->last_day, d2),
              (long long)r->n_refunds);
    }
    fputc('}', f);
  }
  fputs("\n]\n", f);
  if (ferror(f)) return tsr_error_set(err, TSR_EIO, NULL, 0, 0, NULL, "write error");
  return TSR_OK;
}
