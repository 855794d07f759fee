/*
 * anomaly.c - transaction anomalies against each customer's own history
 * by robust statistics (tessera/anomaly.h, docs/anomalies.md): median and
 * MAD of log amounts (Hampel 1974; Rousseeuw and Croux 1993 for the 1.4826
 * consistency factor), circular distance of the hour of day, categories and
 * channels used once, bursts in a sliding window.
 */
#include "tessera/anomaly.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "base/sort.h"
#include "profile_internal.h"
#include "tessera/datetime.h"

typedef struct atx {
  int64_t t;
  double amount;
  uint32_t cust, id_off, chan, cat; /* chan/cat: interned index + 1, 0 = none */
  float score, zamt, zhour, ratio;
  uint8_t newcat, newchan, burst;
} atx;

struct tsr_anomaly_detector {
  tsr_anomaly_params p;
  atx *tx;
  size_t n, cap;
  tsr__intern cust, vals;
  uint32_t last_cust, last_chan, last_cat; /* tsr__intern_get_last's caches */
  tsr__strpool ids;
  size_t *rank;          /* NULL with tally_only */
  size_t nflag;
  int ran;
  int tally_only;         /* tsr__anomaly_tally_only */
  /* CSV input: columns bound from the header (-1 = none) */
  ptrdiff_t cc, ct, ca, ci, ch, cm;
  size_t nhdr;
  int bound;
};

void tsr_anomaly_params_init(tsr_anomaly_params *p) {
  p->min_history = 5;
  p->amount_z = 3.0;
  p->hour_z = 3.5;
  p->new_category_score = 4;
  p->new_channel_score = 2;
  p->burst_window = 3600;
  p->burst_count = 4;
  p->flag_score = 3.0;
}

tsr_status tsr_anomaly_check_params(const tsr_anomaly_params *p, tsr_error *err) {
#define CHECK(cond, name, fmt, v)                                                          \
  if (!(cond)) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, name, fmt, v)
  CHECK(p->min_history >= 2, "min_history", "expected a value >= 2, got %d", p->min_history);
  CHECK(p->amount_z > 0, "amount_z", "expected a value > 0, got %g", p->amount_z);
  CHECK(p->hour_z > 0, "hour_z", "expected a value > 0, got %g", p->hour_z);
  CHECK(p->new_category_score >= 0, "new_category_score", "expected a value >= 0, got %g", p->new_category_score);
  CHECK(p->new_channel_score >= 0, "new_channel_score", "expected a value >= 0, got %g", p->new_channel_score);
  CHECK(p->burst_window >= 1, "burst_window", "expected a value >= 1, got %lld", (long long)p->burst_window);
  CHECK(p->burst_count >= 2, "burst_count", "expected a value >= 2, got %d", p->burst_count);
  CHECK(p->flag_score > 0, "flag_score", "expected a value > 0, got %g", p->flag_score);
#undef CHECK
  return TSR_OK;
}

tsr_status tsr_anomaly_new(const tsr_anomaly_params *p, tsr_anomaly_detector **out, tsr_error *err) {
  *out = NULL;
  tsr_anomaly_params d;
  if (!p) {
    tsr_anomaly_params_init(&d);
    p = &d;
  }
  tsr_status st = tsr_anomaly_check_params(p, err);
  if (st) return st;
  tsr_anomaly_detector *a = tsr__calloc(1, sizeof *a);
  if (!a) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  a->p = *p;
  *out = a;
  return TSR_OK;
}

void tsr_anomaly_free(tsr_anomaly_detector *d) {
  if (!d) return;
  tsr__free(d->tx);
  tsr__intern_release(&d->cust);
  tsr__intern_release(&d->vals);
  tsr__strpool_release(&d->ids);
  tsr__free(d->rank);
  tsr__free(d);
}

static int intern_opt(tsr__intern *t, const char *s, uint32_t *last, uint32_t *out) {
  *out = 0;
  if (!s || !*s) return 0;
  uint32_t k;
  if (tsr__intern_get_last(t, s, strlen(s), last, &k)) return -1;
  *out = k + 1;
  return 0;
}

tsr_status tsr_anomaly_add(tsr_anomaly_detector *d, const tsr_anomaly_tx *in, tsr_error *err) {
  if (d->ran) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "transactions added after the run");
  if (!in->customer_id || !*in->customer_id)
    return tsr_error_set(err, TSR_EPARSE, NULL, 0, 0, "customer_id", "expected a customer id, got an empty field");
  if (!isfinite(in->amount))
    return tsr_error_set(err, TSR_EPARSE, NULL, 0, 0, "amount", "expected a finite number");
  if (tsr__grow((void **)&d->tx, &d->cap, d->n + 1, sizeof *d->tx))
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  atx x;
  memset(&x, 0, sizeof x);
  x.t = in->time;
  x.amount = in->amount;
  const char *id = in->transaction_id ? in->transaction_id : "";
  char line[32];
  if (!*id && !d->tally_only) {
    snprintf(line, sizeof line, "#%zu", d->n + 1);
    id = line;
  }
  if (tsr__intern_get_last(&d->cust, in->customer_id, strlen(in->customer_id), &d->last_cust, &x.cust) ||
      (!d->tally_only && tsr__strpool_add(&d->ids, id, strlen(id), &x.id_off)) ||
      intern_opt(&d->vals, in->channel, &d->last_chan, &x.chan) ||
      intern_opt(&d->vals, in->merchant_category, &d->last_cat, &x.cat))
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  d->tx[d->n++] = x;
  return TSR_OK;
}

/* ------------------------------------------------------------ CSV input */

void tsr_anomaly_read_opts_init(tsr_anomaly_read_opts *o) {
  memset(o, 0, sizeof *o);
  tsr_csv_opts_init(&o->csv);
  o->max_errors = -1;
}

static int parse_amount(const char *s, size_t n, double *v) {
  char buf[64];
  if (!n || n >= sizeof buf) return -1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  char *end;
  errno = 0;
  *v = tsr__strtod(buf, &end); /* strtod bit for bit, with its exact fast path */
  while (*end == ' ') end++;
  return *end || errno || !isfinite(*v) ? -1 : 0;
}

tsr_status tsr_anomaly_csv_header(tsr_anomaly_detector *k, const tsr_csv_record *rec,
                                  const char *src, tsr_error *err) {
  static const char *const n_cust[] = {"customerid", "customer", "custid", "clientid", NULL};
  static const char *const n_time[] = {"timestamp", "date", "datetime", "time", "transactiondate", NULL};
  static const char *const n_amt[] = {"amount", "value", "amt", NULL};
  static const char *const n_id[] = {"transactionid", "txid", "id", NULL};
  static const char *const n_chan[] = {"channel", NULL};
  static const char *const n_cat[] = {"merchantcategory", "category", "mcc", NULL};
  k->bound = 0;
  k->cc = tsr__col_find(rec, n_cust), k->ct = tsr__col_find(rec, n_time);
  k->ca = tsr__col_find(rec, n_amt), k->ci = tsr__col_find(rec, n_id);
  k->ch = tsr__col_find(rec, n_chan), k->cm = tsr__col_find(rec, n_cat);
  if (k->cc < 0 || k->ct < 0 || k->ca < 0) {
    const char *miss = k->cc < 0 ? "customer_id" : k->ct < 0 ? "timestamp" : "amount";
    return tsr_error_set(err, TSR_EPARSE, src, 1, 1, miss, "expected a %s column in the header", miss);
  }
  k->nhdr = rec->nfields;
  k->bound = 1;
  return TSR_OK;
}

tsr_status tsr_anomaly_csv_row(tsr_anomaly_detector *k, const tsr_csv_record *rec, const char *src,
                               tsr_error *e) {
  if (!k->bound)
    return tsr_error_set(e, TSR_EINVAL, src, rec->line, 1, NULL, "no header bound");
  if (rec->nfields != k->nhdr)
    return tsr_error_set(e, TSR_EPARSE, src, rec->line, 1, NULL,
                         "expected %zu fields as in the header, got %zu", k->nhdr, rec->nfields);
  tsr_anomaly_tx tx;
  const tsr_csv_field *ft = &rec->fields[k->ct], *fa = &rec->fields[k->ca], *fc = &rec->fields[k->cc];
  char idbuf[32];
  tx.customer_id = fc->ptr;
  tx.channel = k->ch >= 0 ? rec->fields[k->ch].ptr : NULL;
  tx.merchant_category = k->cm >= 0 ? rec->fields[k->cm].ptr : NULL;
  tx.transaction_id = k->ci >= 0 ? rec->fields[k->ci].ptr : NULL;
  if ((!tx.transaction_id || !*tx.transaction_id) && !k->tally_only) {
    snprintf(idbuf, sizeof idbuf, "L%lld", (long long)rec->line);
    tx.transaction_id = idbuf;
  }
  if (tsr_datetime_parse(ft->ptr, ft->len, NULL, &tx.time))
    return tsr_error_set(e, TSR_EPARSE, src, ft->line, ft->column, "timestamp",
                         "expected an ISO 8601 date or timestamp, got '%.40s'", ft->ptr);
  if (parse_amount(fa->ptr, fa->len, &tx.amount))
    return tsr_error_set(e, TSR_EPARSE, src, fa->line, fa->column, "amount",
                         "expected a number, got '%.40s'", fa->ptr);
  if (!fc->len)
    return tsr_error_set(e, TSR_EPARSE, src, fc->line, fc->column, "customer_id",
                         "expected a customer id, got an empty field");
  return tsr_anomaly_add(k, &tx, e);
}

static tsr_status anomaly_header(void *ctx, const tsr_csv_record *rec, const char *src,
                                 tsr_error *err) {
  return tsr_anomaly_csv_header(ctx, rec, src, err);
}

static tsr_status anomaly_row(void *ctx, const tsr_csv_record *rec, const char *src, tsr_error *e) {
  return tsr_anomaly_csv_row(ctx, rec, src, e);
}

tsr_status tsr_anomaly_read_csv(tsr_anomaly_detector *d, const char *path,
                                const tsr_anomaly_read_opts *o, int64_t *rejected, tsr_error *err) {
  tsr_anomaly_read_opts defo;
  if (!o) {
    tsr_anomaly_read_opts_init(&defo);
    o = &defo;
  }
  tsr__csv_rows rd = {&o->csv, o->max_errors, o->on_reject, o->ud, 1,
                      anomaly_header, anomaly_row, d};
  return tsr__csv_read_rows(path, &rd, rejected, err);
}

/* ------------------------------------------------------------- scoring */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Sorts v[0..n) ascending (finite values): insertion sort for the short
 * histories of most customers, qsort above. */
static void sort_doubles(double *v, size_t n) {
  if (n > 24) {
    qsort(v, n, sizeof *v, cmp_double);
    return;
  }
  for (size_t i = 1; i < n; i++) {
    double x = v[i];
    size_t j = i;
    for (; j > 0 && v[j - 1] > x; j--) v[j] = v[j - 1];
    v[j] = x;
  }
}

/* The k-th smallest of v[0..n) (finite values), v reordered so that
 * v[0..k) <= v[k] (quickselect, Hoare's partition around a median of
 * three; the short ranges by sort_doubles). */
static double kth_smallest(double *v, size_t n, size_t k) {
  size_t lo = 0, hi = n - 1;
#define SWAP_(a, b) do { double t_ = v[a]; v[a] = v[b]; v[b] = t_; } while (0)
  while (hi - lo > 24) {
    size_t mid = lo + (hi - lo) / 2;
    if (v[mid] < v[lo]) SWAP_(mid, lo);
    if (v[hi] < v[lo]) SWAP_(hi, lo);
    if (v[hi] < v[mid]) SWAP_(hi, mid);
    double p = v[mid];
    size_t i = lo, j = hi;
    /* v[lo] <= p <= v[hi]: the scans stop inside [lo, hi] */
    for (;;) {
      while (v[i] < p) i++;
      while (v[j] > p) j--;
      if (i >= j) break;
      SWAP_(i, j);
      i++;
      j--;
    }
    /* now v[lo..j] <= p <= v[j+1..hi] */
    if (k <= j) hi = j;
    else lo = j + 1;
  }
#undef SWAP_
  sort_doubles(v + lo, hi - lo + 1);
  return v[k];
}

/* The median as the sorted values give it: the middle value, or the mean
 * of the two middle ones. */
static double median(double *v, size_t n) {
  if (n <= 24) {
    sort_doubles(v, n);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  }
  double b = kth_smallest(v, n, n / 2);
  if (n % 2) return b;
  double a = v[0]; /* the largest of v[0..n/2): the (n/2 - 1)-th smallest */
  for (size_t i = 1; i < n / 2; i++)
    if (v[i] > a) a = v[i];
  return 0.5 * (a + b);
}

/* qsort_r comparators (glibc argument order): ctx is the transaction array. */
static int cmp_time(const void *a, const void *b, void *ctx) {
  const atx *tx = ctx;
  const atx *x = &tx[*(const size_t *)a], *y = &tx[*(const size_t *)b];
  if (x->t != y->t) return x->t < y->t ? -1 : 1;
  return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* Weight of a value used once by a customer, from its share g among all
 * transactions: 1 when g <= 0.1 %, 0 when g >= 10 %, linear in log10 g
 * between (a value everybody uses is no surprise). */
static double rarity(double g) {
  double r = log10(0.1 / fmax(g, 1e-12)) / 2;
  return r < 0 ? 0 : r > 1 ? 1 : r;
}

static void score_customer(tsr_anomaly_detector *d, size_t *ix, size_t m, double *w, uint32_t *cnt,
                           const double *share) {
  atx *tx = d->tx;
  const tsr_anomaly_params *p = &d->p;
  /* amounts */
  size_t k = 0;
  for (size_t a = 0; a < m; a++)
    if (tx[ix[a]].amount > 0) w[k++] = log(tx[ix[a]].amount);
  if (k >= (size_t)p->min_history) {
    double med = median(w, k);
    for (size_t a = 0; a < k; a++) w[a] = fabs(w[a] - med);
    double scale = fmax(1.4826 * median(w, k), 0.25);
    for (size_t a = 0; a < m; a++) {
      atx *x = &tx[ix[a]];
      if (x->amount <= 0) continue;
      double la = log(x->amount);
      double z = (la - med) / scale;
      x->ratio = (float)exp(la - med);
      if (z >= p->amount_z) x->zamt = (float)z;
    }
  }
  /* hour of day: circular mean, robust spread of circular distances */
  if (m >= (size_t)p->min_history) {
    double sx = 0, sy = 0;
    for (size_t a = 0; a < m; a++) {
      double h = (double)(((tx[ix[a]].t % 86400) + 86400) % 86400) / 3600.0;
      sx += cos(h * M_PI / 12), sy += sin(h * M_PI / 12);
    }
    double mean = atan2(sy, sx) * 12 / M_PI;
    for (size_t a = 0; a < m; a++) {
      double h = (double)(((tx[ix[a]].t % 86400) + 86400) % 86400) / 3600.0;
      double dd = fabs(h - mean);
      w[a] = dd > 12 ? 24 - dd : dd;
    }
    for (size_t a = 0; a < m; a++) w[m + a] = w[a];
    double scale = fmax(1.4826 * median(w + m, m), 2.0);
    for (size_t a = 0; a < m; a++) {
      double z = w[a] / scale;
      if (z >= p->hour_z) tx[ix[a]].zhour = (float)z;
    }
  }
  /* categories and channels used once */
  if (m > (size_t)p->min_history) {
    /* count values with a small open-addressing table in cnt (2m slots of key,count) */
    size_t ns = 1;
    while (ns < 4 * m) ns <<= 1;
    memset(cnt, 0, 2 * ns * sizeof *cnt);
    for (int pass = 0; pass < 2; pass++)
      for (size_t a = 0; a < m; a++) {
        uint32_t v = pass ? tx[ix[a]].cat : tx[ix[a]].chan;
        if (!v) continue;
        uint32_t key = v * 2 + (uint32_t)pass;
        size_t h = (key * 2654435761u) & (ns - 1);
        while (cnt[2 * h] && cnt[2 * h] != key) h = (h + 1) & (ns - 1);
        cnt[2 * h] = key;
        cnt[2 * h + 1]++;
      }
    for (size_t a = 0; a < m; a++)
      for (int pass = 0; pass < 2; pass++) {
        uint32_t v = pass ? tx[ix[a]].cat : tx[ix[a]].chan;
        if (!v || a < (size_t)p->min_history) continue; /* needs history before it */
        uint32_t key = v * 2 + (uint32_t)pass;
        size_t h = (key * 2654435761u) & (ns - 1);
        while (cnt[2 * h] != key) h = (h + 1) & (ns - 1);
        if (cnt[2 * h + 1] == 1) {
          if (pass) tx[ix[a]].newcat = 1;
          else tx[ix[a]].newchan = 1;
        }
      }
  }
  /* bursts: transactions within burst_window of each other (sliding window) */
  size_t lo = 0;
  for (size_t a = 0; a < m; a++) {
    while (tx[ix[a]].t - tx[ix[lo]].t > p->burst_window) lo++;
    size_t c = a - lo + 1;
    if (c >= (size_t)p->burst_count)
      for (size_t b = lo; b <= a; b++)
        if (tx[ix[b]].burst < c) tx[ix[b]].burst = (uint8_t)(c > 255 ? 255 : c);
  }
  for (size_t a = 0; a < m; a++) {
    atx *x = &tx[ix[a]];
    double s = x->zamt + x->zhour + (x->burst ? (double)x->burst : 0);
    if (x->newcat) s += p->new_category_score * rarity(share[x->cat - 1]);
    if (x->newchan) s += p->new_channel_score * rarity(share[x->chan - 1]);
    x->score = (float)s;
  }
}

static int cmp_rank(const void *a, const void *b, void *ctx) {
  const atx *tx = ctx;
  size_t i = *(const size_t *)a, j = *(const size_t *)b;
  float x = tx[i].score, y = tx[j].score;
  if (x != y) return x > y ? -1 : 1;
  return i < j ? -1 : 1;
}

/* d->rank as cmp_rank orders it (score descending, then index) by one
 * radix sort of 64-bit keys: the score's order-preserving bits inverted
 * above the index. 0, or -1 (n > UINT32_MAX or out of memory). */
static int rank_radix(tsr_anomaly_detector *d) {
  size_t n = d->n;
  if (n > UINT32_MAX) return -1;
  uint64_t *k = tsr__malloc((n ? n : 1) * sizeof *k);
  if (!k) return -1;
  for (size_t i = 0; i < n; i++) {
    float s = d->tx[i].score;
    if (s == 0) s = 0; /* -0 ties with 0 as in cmp_rank */
    uint32_t b;
    memcpy(&b, &s, sizeof b);
    b = b >> 31 ? ~b : b | 0x80000000u; /* ascending as the floats */
    k[i] = (uint64_t)(~b) << 32 | (uint64_t)i;
  }
  int rc = tsr__radix_sort_u64(k, NULL, n);
  if (rc == 0)
    for (size_t i = 0; i < n; i++) d->rank[i] = (size_t)(k[i] & 0xffffffffu);
  tsr__free(k);
  return rc;
}

tsr_status tsr_anomaly_run(tsr_anomaly_detector *d, tsr_error *err) {
  if (d->ran) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "the detector already ran");
  d->ran = 1;
  size_t n = d->n, nc = d->cust.n;
  /* the per-customer order (start, ix) is freed before the ranking is
   * allocated: the two n-sized arrays are never alive together */
  size_t *start = tsr__calloc(nc + 1, sizeof *start), *ix = tsr__malloc((n ? n : 1) * sizeof *ix);
  double *w = NULL, *share = NULL;
  uint32_t *cnt = NULL;
  size_t maxm = 0;
  if (!start || !ix) goto nomem;
  for (size_t i = 0; i < n; i++) start[d->tx[i].cust + 1]++;
  for (size_t c = 0; c < nc; c++) {
    if (start[c + 1] > maxm) maxm = start[c + 1];
    start[c + 1] += start[c];
  }
  {
    size_t *pos = tsr__malloc((nc ? nc : 1) * sizeof *pos); /* scratch */
    if (!pos) goto nomem;
    memcpy(pos, start, nc * sizeof *pos);
    for (size_t i = 0; i < n; i++) ix[pos[d->tx[i].cust]++] = i;
    tsr__free(pos);
  }
  size_t ns = 1;
  while (ns < 4 * maxm) ns <<= 1;
  share = tsr__calloc(d->vals.n + 1, sizeof *share);
  if (!share) goto nomem;
  for (size_t i = 0; i < n; i++) {
    if (d->tx[i].chan) share[d->tx[i].chan - 1] += 1.0 / (double)n;
    if (d->tx[i].cat) share[d->tx[i].cat - 1] += 1.0 / (double)n;
  }
  w = tsr__malloc((2 * maxm + 1) * sizeof *w);
  cnt = tsr__malloc(2 * ns * sizeof *cnt);
  if (!w || !cnt) goto nomem;
  for (size_t c = 0; c < nc; c++) {
    size_t m = start[c + 1] - start[c], *cx = ix + start[c];
    /* ix is in input order: already sorted when the times do not decrease */
    size_t a = 1;
    while (a < m && d->tx[cx[a - 1]].t <= d->tx[cx[a]].t) a++;
    if (a < m) qsort_r(cx, m, sizeof *ix, cmp_time, d->tx);
    score_customer(d, cx, m, w, cnt, share);
  }
  tsr__free(start);
  tsr__free(ix);
  tsr__free(w);
  tsr__free(cnt);
  tsr__free(share);
  d->nflag = 0;
  for (size_t i = 0; i < n; i++) d->nflag += d->tx[i].score >= d->p.flag_score;
  if (d->tally_only) return TSR_OK;
  if (!(d->rank = tsr__malloc((n ? n : 1) * sizeof *d->rank)))
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  if (rank_radix(d) != 0) { /* too many, or no memory for the keys: cmp_rank */
    for (size_t i = 0; i < n; i++) d->rank[i] = i;
    qsort_r(d->rank, n, sizeof *d->rank, cmp_rank, d->tx);
  }
  return TSR_OK;
nomem:
  tsr__free(start);
  tsr__free(ix);
  tsr__free(w);
  tsr__free(cnt);
  tsr__free(share);
  return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
}

size_t tsr_anomaly_count(const tsr_anomaly_detector *d) { return d->n; }
size_t tsr_anomaly_rank(const tsr_anomaly_detector *d, size_t k) { return d->rank ? d->rank[k] : k; }
double tsr_anomaly_score(const tsr_anomaly_detector *d, size_t i) { return d->tx[i].score; }
int tsr_anomaly_flagged(const tsr_anomaly_detector *d, size_t i) { return d->tx[i].score >= d->p.flag_score; }
const char *tsr_anomaly_id(const tsr_anomaly_detector *d, size_t i) {
  return d->tally_only ? "" : d->ids.buf + d->tx[i].id_off;
}

void tsr__anomaly_tally_only(tsr_anomaly_detector *d) {
  if (!d->n) d->tally_only = 1;
}
const char *tsr_anomaly_customer(const tsr_anomaly_detector *d, size_t i) {
  return tsr__intern_str(&d->cust, d->tx[i].cust);
}
int64_t tsr_anomaly_time(const tsr_anomaly_detector *d, size_t i) { return d->tx[i].t; }
double tsr_anomaly_amount(const tsr_anomaly_detector *d, size_t i) { return d->tx[i].amount; }
size_t tsr_anomaly_nflagged(const tsr_anomaly_detector *d) { return d->nflag; }
size_t tsr_anomaly_ncustomers(const tsr_anomaly_detector *d) { return d->cust.n; }
const char *tsr_anomaly_customer_id(const tsr_anomaly_detector *d, size_t c) {
  return c < d->cust.n ? tsr__intern_str(&d->cust, (uint32_t)c) : NULL;
}
size_t tsr_anomaly_customer_of(const tsr_anomaly_detector *d, size_t i) { return d->tx[i].cust; }

char *tsr_anomaly_reasons(const tsr_anomaly_detector *d, size_t i, char *buf, size_t cap) {
  const atx *x = &d->tx[i];
  size_t o = 0;
  if (!cap) return buf;
  buf[0] = '\0';
#define PUT(...)                                                        \
  do {                                                                  \
    if (o < cap) {                                                      \
      int w_ = snprintf(buf + o, cap - o, __VA_ARGS__);                 \
      o = w_ < 0 ? o : (size_t)w_ >= cap - o ? cap - 1 : o + (size_t)w_; \
    }                                                                   \
  } while (0)
  const char *sep = "";
  if (x->zamt > 0) {
    PUT("amount %.1fx the customer's median (robust z %.1f)", (double)x->ratio, (double)x->zamt);
    sep = "; ";
  }
  if (x->zhour > 0) {
    int64_t s = ((x->t % 86400) + 86400) % 86400;
    PUT("%sunusual hour %02d:%02d for the customer (robust z %.1f)", sep, (int)(s / 3600), (int)(s / 60 % 60),
        (double)x->zhour);
    sep = "; ";
  }
  if (x->newcat) {
    PUT("%smerchant category '%s' never used otherwise", sep, tsr__intern_str(&d->vals, x->cat - 1));
    sep = "; ";
  }
  if (x->newchan) {
    PUT("%schannel '%s' never used otherwise", sep, tsr__intern_str(&d->vals, x->chan - 1));
    sep = "; ";
  }
  if (x->burst) PUT("%sburst: %d transactions within %lld min", sep, x->burst, (long long)(d->p.burst_window / 60));
#undef PUT
  return buf;
}
