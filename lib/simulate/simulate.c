/*
 * simulate.c - the transaction-log simulator of tessera/simulate.h:
 * BG/NBD purchases and dropout, Gamma-Gamma spend, staggered joins,
 * per-customer channel/category preferences, hour-of-day profiles.
 *
 * Streaming design: every customer owns an xoshiro256** stream seeded from
 * (seed, customer index), so its draws do not depend on the order in which
 * customers are processed. Customers wait in one linked list per day (the
 * day of their next purchase); each day's purchases are generated, sorted by
 * second of the day (stable radix sort) and emitted. Memory: one sim_cust per
 * customer plus the purchases of one day.
 */
#include "internal.h"
#include "tessera/datetime.h"
#include "tessera/rng.h"
#include "tessera/simulate.h"

#include <math.h>
#include <string.h>

#define DAY_S 86400
#define MAX_START_DAY 47482   /* 2099-12-31 */
#define END_DAY_LIMIT 47482   /* the window must end by 2100-01-01 */
#define NPERSONAS 4
#define CASH 9                /* category of ATM withdrawals */

/* ------------------------------------------------------------ tables */

static const char *const channel_names[TSR_SIMULATE_NCHANNELS] = {
    "branch", "online", "mobile", "atm", "pos"};
static const char *const category_names[TSR_SIMULATE_NCATEGORIES] = {
    "groceries", "dining",    "fuel",   "retail",        "travel",
    "utilities", "electronics", "health", "entertainment", "cash"};

/* Channel weights per persona: digital, traditional, card, mixed. */
static const double persona_channel[NPERSONAS][TSR_SIMULATE_NCHANNELS] = {
    {1, 35, 40, 4, 20}, {25, 5, 5, 30, 35}, {2, 10, 20, 8, 60}, {10, 20, 25, 15, 30}};
/* Category weights per persona (cash excluded: it follows the ATM). */
static const double persona_category[NPERSONAS][CASH] = {
    {20, 15, 5, 20, 10, 10, 12, 3, 5},
    {35, 8, 15, 12, 3, 15, 2, 8, 2},
    {28, 20, 14, 15, 5, 6, 4, 4, 4},
    {25, 12, 10, 15, 8, 10, 6, 6, 8}};
/* Hour-of-day weights per channel (branch: opening hours only). */
static const double hour_weights[TSR_SIMULATE_NCHANNELS][24] = {
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 6, 6.5, 7, 6, 5.5, 5, 3, 0, 0, 0, 0, 0, 0, 0},
    {2, 1.2, .6, .4, .3, .4, .8, 1.5, 2.5, 3.5, 4, 4.5, 5, 4.5, 4, 4, 4.5, 5, 5.5,
     6.5, 7, 7, 6, 4},
    {1.5, 1, .5, .3, .3, .5, 1.5, 3, 4, 4.5, 4.5, 5, 6, 5.5, 4.5, 4.5, 5, 6, 6.5,
     6.5, 6, 5.5, 4.5, 3},
    {.5, .3, .2, .1, .1, .3, 1, 2, 3.5, 4.5, 5, 5.5, 6.5, 6, 5, 5, 5.5, 6.5, 7, 6,
     4.5, 3, 2, 1},
    {1, .5, .3, .2, .2, .4, 1, 2.5, 4, 5, 5.5, 6, 7.5, 7, 5.5, 5.5, 6, 7, 7.5, 6.5,
     5, 4, 3, 2}};

const char *tsr_simulate_channel_name(int channel) {
  if (channel < 0 || channel >= TSR_SIMULATE_NCHANNELS) return "?";
  return channel_names[channel];
}

const char *tsr_simulate_category_name(int category) {
  if (category < 0 || category >= TSR_SIMULATE_NCATEGORIES) return "?";
  return category_names[category];
}

/* Sum of w[0..n-1], in index order. */
static double weights_total(const double *w, int n) {
  double tot = 0;
  for (int i = 0; i < n; i++) tot += w[i];
  return tot;
}

/* Index drawn with probability proportional to w[0..n-1] (tot is their
 * weights_total). */
static int draw_weighted_tot(tsr_rng *g, const double *w, int n, double tot) {
  double u = tsr_rng_uniform(g) * tot;
  for (int i = 0; i < n; i++) {
    if (u < w[i]) return i;
    u -= w[i];
  }
  for (int i = n - 1; i > 0; i--)
    if (w[i] > 0) return i;
  return 0;
}

static int draw_weighted(tsr_rng *g, const double *w, int n) {
  return draw_weighted_tot(g, w, n, weights_total(w, n));
}

/* Totals of the weight tables, computed once per run. */
typedef struct sim_totals {
  double channel[NPERSONAS], category[NPERSONAS], hour[TSR_SIMULATE_NCHANNELS];
} sim_totals;

static void totals_init(sim_totals *t) {
  for (int k = 0; k < NPERSONAS; k++) {
    t->channel[k] = weights_total(persona_channel[k], TSR_SIMULATE_NCHANNELS);
    t->category[k] = weights_total(persona_category[k], CASH);
  }
  for (int c = 0; c < TSR_SIMULATE_NCHANNELS; c++) t->hour[c] = weights_total(hour_weights[c], 24);
}

/* ------------------------------------------------------------ options */

void tsr_simulate_opts_init(tsr_simulate_opts *o) {
  memset(o, 0, sizeof *o);
  o->customers = 1000;
  o->seed = 1;
  o->start_day = 19723; /* 2024-01-01 */
  o->weeks = 104;
  o->join_span = 0.6;
  o->r = 0.75;
  o->alpha = 4.0;
  o->a = 0.8;
  o->b = 2.5;
  o->p = 6.0;
  o->q = 4.0;
  o->gamma = 15.0;
  o->messy = 0;
}

static tsr_status check_pos(const char *name, double v, tsr_error *err) {
  if (!(v > 0.0) || !isfinite(v) || v > 1e6)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, name,
                         "expected a number in (0, 1e6], got %.17g", v);
  return TSR_OK;
}

tsr_status tsr_simulate_check_opts(const tsr_simulate_opts *o, tsr_error *err) {
  if (!o) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "opts", "expected options, got NULL");
  if (o->customers < 1 || o->customers > TSR_SIMULATE_MAX_CUSTOMERS)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "customers",
                         "expected an integer in [1, %llu], got %llu",
                         (unsigned long long)TSR_SIMULATE_MAX_CUSTOMERS,
                         (unsigned long long)o->customers);
  if (o->weeks < 1 || o->weeks > TSR_SIMULATE_MAX_WEEKS)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "weeks",
                         "expected an integer in [1, %d], got %d",
                         TSR_SIMULATE_MAX_WEEKS, o->weeks);
  if (o->start_day < 0 || o->start_day > MAX_START_DAY)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "start",
                         "expected a day in [0, %d] (1970-01-01..2099-12-31), got %lld",
                         MAX_START_DAY, (long long)o->start_day);
  if (o->start_day + (int64_t)o->weeks * 7 > END_DAY_LIMIT + 1)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "weeks",
                         "the window must end by 2100-01-01, got %d weeks from day %lld",
                         o->weeks, (long long)o->start_day);
  if (!(o->join_span > 0.0 && o->join_span <= 1.0))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "join_span",
                         "expected a number in (0, 1], got %.17g", o->join_span);
  tsr_status st;
  if ((st = check_pos("r", o->r, err)) || (st = check_pos("alpha", o->alpha, err)) ||
      (st = check_pos("a", o->a, err)) || (st = check_pos("b", o->b, err)) ||
      (st = check_pos("p", o->p, err)) || (st = check_pos("q", o->q, err)) ||
      (st = check_pos("gamma", o->gamma, err)))
    return st;
  return TSR_OK;
}

/* ------------------------------------------------------------ customers */

typedef struct sim_cust {
  tsr_rng rng;     /* the customer's own stream */
  double t;        /* time of the next purchase, days from the start */
  double rate;     /* lambda per day */
  double p;        /* dropout probability after a repeat purchase */
  double nu;       /* spend rate */
  uint8_t persona, fav_channel, fav_category, started;
} sim_cust;

/* Seeds g for customer idx and draws its latent values (in this order:
 * join, lambda, p, nu, persona, favourite channel, favourite category). */
static void draw_latent(const tsr_simulate_opts *o, uint64_t idx, tsr_rng *g,
                        tsr_simulate_customer *c) {
  tsr_rng_seed(g, o->seed, idx);
  c->join = tsr_rng_uniform(g) * o->join_span * (double)o->weeks;
  c->lambda = tsr_rng_gamma(g, o->r, o->alpha);
  c->p = tsr_rng_beta(g, o->a, o->b);
  c->nu = tsr_rng_gamma(g, o->q, o->gamma);
  c->persona = (int)tsr_rng_bounded(g, NPERSONAS);
  c->channel = draw_weighted(g, persona_channel[c->persona], TSR_SIMULATE_NCHANNELS);
  c->category = draw_weighted(g, persona_category[c->persona], CASH);
}

tsr_status tsr_simulate_latent(const tsr_simulate_opts *opts, uint64_t index,
                               tsr_simulate_customer *out, tsr_error *err) {
  tsr_status st = tsr_simulate_check_opts(opts, err);
  if (st) return st;
  if (!out) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "out", "expected a pointer, got NULL");
  if (index >= opts->customers)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "index",
                         "expected an integer in [0, %llu], got %llu",
                         (unsigned long long)(opts->customers - 1),
                         (unsigned long long)index);
  tsr_rng g;
  draw_latent(opts, index, &g, out);
  return TSR_OK;
}

/* ------------------------------------------------------------ events */

typedef struct sim_ev {
  uint32_t sec;   /* second of the day */
  uint32_t cust;
  int64_t cents;
  uint8_t channel, category;
} sim_ev;

/* Draws the attributes of one purchase of customer c (in this order:
 * channel, category, hour, second in hour, amount). */
static void draw_event(const tsr_simulate_opts *o, const sim_totals *tot, sim_cust *c,
                       uint32_t idx, sim_ev *ev) {
  tsr_rng *g = &c->rng;
  int ch = tsr_rng_uniform(g) < 0.4
               ? c->fav_channel
               : draw_weighted_tot(g, persona_channel[c->persona], TSR_SIMULATE_NCHANNELS,
                                   tot->channel[c->persona]);
  int cat;
  if (ch == 3) {
    cat = CASH;
  } else {
    cat = tsr_rng_uniform(g) < 0.35 ? c->fav_category
                                    : draw_weighted_tot(g, persona_category[c->persona], CASH,
                                                        tot->category[c->persona]);
  }
  int hour = draw_weighted_tot(g, hour_weights[ch], 24, tot->hour[ch]);
  uint32_t sec = (uint32_t)hour * 3600u + (uint32_t)tsr_rng_bounded(g, 3600);
  double amount = tsr_rng_gamma(g, o->p, c->nu);
  double cents = nearbyint(amount * 100.0);
  if (!(cents >= 1.0)) cents = 1.0;
  if (cents > 1e15) cents = 1e15;
  ev->sec = sec;
  ev->cust = idx;
  ev->cents = (int64_t)cents;
  ev->channel = (uint8_t)ch;
  ev->category = (uint8_t)cat;
}

/* Stable LSD radix sort of ev[0..n) by sec (17 bits: 9 + 8). */
static void sort_day(sim_ev *ev, sim_ev *tmp, size_t n) {
  size_t cnt[512];
  memset(cnt, 0, sizeof cnt);
  for (size_t i = 0; i < n; i++) cnt[ev[i].sec & 511u]++;
  size_t sum = 0;
  for (size_t k = 0; k < 512; k++) {
    size_t c = cnt[k];
    cnt[k] = sum;
    sum += c;
  }
  for (size_t i = 0; i < n; i++) tmp[cnt[ev[i].sec & 511u]++] = ev[i];
  memset(cnt, 0, 256 * sizeof cnt[0]);
  for (size_t i = 0; i < n; i++) cnt[tmp[i].sec >> 9]++;
  sum = 0;
  for (size_t k = 0; k < 256; k++) {
    size_t c = cnt[k];
    cnt[k] = sum;
    sum += c;
  }
  for (size_t i = 0; i < n; i++) ev[cnt[tmp[i].sec >> 9]++] = tmp[i];
}

/* One growable list of customer indices per day. */
typedef struct day_list {
  uint32_t *ids;
  size_t n, cap;
} day_list;

static tsr_status day_push(day_list *l, uint32_t i) {
  if (l->n == l->cap) {
    tsr_status st = tsr__grow((void **)&l->ids, &l->cap, l->n + 1, sizeof *l->ids);
    if (st) return st;
  }
  l->ids[l->n++] = i;
  return TSR_OK;
}

tsr_status tsr_simulate_run(const tsr_simulate_opts *o, tsr_simulate_row_fn fn,
                            void *ud, tsr_error *err) {
  tsr_status st = tsr_simulate_check_opts(o, err);
  if (st) return st;
  if (!fn) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "fn", "expected a callback, got NULL");

  const size_t ndays = (size_t)o->weeks * 7;
  const double horizon = (double)ndays;
  const size_t n = (size_t)o->customers;
  sim_cust *cust = tsr__malloc(n * sizeof *cust);
  day_list *days = tsr__calloc(ndays, sizeof *days);
  sim_ev *ev = NULL, *tmp = NULL;
  size_t ev_cap = 0, tmp_cap = 0;
  sim_totals tot;
  totals_init(&tot);
  if (!cust || !days) goto nomem;
  for (size_t i = 0; i < n; i++) {
    sim_cust *c = &cust[i];
    tsr_simulate_customer lat;
    draw_latent(o, i, &c->rng, &lat);
    c->t = lat.join * 7.0;
    c->rate = lat.lambda / 7.0;
    c->p = lat.p;
    c->nu = lat.nu;
    c->persona = (uint8_t)lat.persona;
    c->fav_channel = (uint8_t)lat.channel;
    c->fav_category = (uint8_t)lat.category;
    c->started = 0;
    size_t d = (size_t)c->t;
    if (d >= ndays) d = ndays - 1;
    if (day_push(&days[d], (uint32_t)i)) goto nomem;
  }

  uint64_t txn = 0;
  for (size_t d = 0; d < ndays; d++) {
    day_list *l = &days[d];
    size_t m = 0;
    /* l->n may grow while we go: same-day repeat purchases are appended. */
    for (size_t k = 0; k < l->n; k++) {
      if (k + 8 < l->n) __builtin_prefetch(&cust[l->ids[k + 8]]);
      uint32_t i = l->ids[k];
      sim_cust *c = &cust[i];
      if (m == ev_cap && tsr__grow((void **)&ev, &ev_cap, m + 1, sizeof *ev)) goto nomem;
      draw_event(o, &tot, c, i, &ev[m++]);
      /* BG/NBD: dropout only after a repeat purchase. */
      if (c->started && tsr_rng_uniform(&c->rng) < c->p) continue;
      c->started = 1;
      if (!(c->rate > 0.0)) continue;
      c->t += tsr_rng_exponential(&c->rng, c->rate);
      if (!(c->t < horizon)) continue;
      size_t nd = (size_t)c->t;
      if (day_push(&days[nd > d ? nd : d], i)) goto nomem;
    }
    tsr__free(l->ids);
    l->ids = NULL;
    l->n = l->cap = 0;
    if (m == 0) continue;
    if (tmp_cap < m && tsr__grow((void **)&tmp, &tmp_cap, m, sizeof *tmp)) goto nomem;
    sort_day(ev, tmp, m);
    int64_t day0 = (o->start_day + (int64_t)d) * DAY_S;
    for (size_t k = 0; k < m; k++) {
      tsr_simulate_row row;
      row.transaction = ++txn;
      row.customer = ev[k].cust;
      row.time = day0 + ev[k].sec;
      row.amount_cents = ev[k].cents;
      row.channel = ev[k].channel;
      row.category = ev[k].category;
      if (fn(ud, &row)) {
        st = tsr_error_set(err, TSR_ECANCELED, NULL, 0, 0, NULL, "simulation stopped by the caller");
        goto done;
      }
    }
  }
  st = TSR_OK;
  goto done;
nomem:
  st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL,
                     "out of memory simulating %zu customers", n);
done:
  if (days) {
    for (size_t d = 0; d < ndays; d++) tsr__free(days[d].ids);
  }
  tsr__free(days);
  tsr__free(cust);
  tsr__free(ev);
  tsr__free(tmp);
  return st;
}

/* ------------------------------------------------------------ writer */

/* Proleptic Gregorian date of a day number. */
static void civil_from_days(int64_t z, int *y, int *m, int *d) {
  int64_t yy;
  unsigned mm, dd;
  tsr_civil_from_days(z, &yy, &mm, &dd);
  *y = (int)yy;
  *m = (int)mm;
  *d = (int)dd;
}

#define WBUF_CAP ((size_t)1 << 20)
#define WBUF_ROOM 512 /* more than the longest row */

typedef struct refund {
  int64_t time;
  uint64_t seq;
  uint64_t cust;
  int64_t cents;
  int channel, category;
} refund;

typedef struct writer {
  FILE *out;
  char *buf;
  size_t len;
  int io_error;
  int messy;
  uint64_t txn;       /* rows written (ids) */
  int64_t end_time;   /* window end, Unix seconds */
  int64_t cached_day; /* day of date_str */
  char date_str[16];  /* YYYY-MM-DD of cached_day */
  tsr_rng mess;       /* draws of the mess, in output order */
  refund *heap;       /* pending refunds, min-heap by (time, seq) */
  size_t nheap, heap_cap;
  uint64_t refund_seq;
  tsr_status st;
} writer;

static void w_flush(writer *w) {
  if (w->len && !w->io_error) {
    if (fwrite(w->buf, 1, w->len, w->out) != w->len) w->io_error = 1;
  }
  w->len = 0;
}

/* Writes v in decimal, zero-padded to width digits; returns the new end. */
static char *put_u64(char *p, uint64_t v, int width) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n < width) tmp[n++] = '0';
  while (n) *p++ = tmp[--n];
  return p;
}

static char *put_str(char *p, const char *s) {
  size_t n = strlen(s);
  memcpy(p, s, n);
  return p + n;
}

/* Amount in cents as [-]D.CC, with thousands separators when sep. */
static char *put_amount(char *p, int64_t cents, int sep) {
  uint64_t a = cents < 0 ? (uint64_t)(-(cents + 1)) + 1 : (uint64_t)cents;
  if (cents < 0) *p++ = '-';
  uint64_t units = a / 100;
  if (sep && units >= 1000) {
    char tmp[32];
    int n = 0, k = 0;
    do {
      if (k && k % 3 == 0) tmp[n++] = ',';
      tmp[n++] = (char)('0' + units % 10);
      units /= 10;
      k++;
    } while (units);
    while (n) *p++ = tmp[--n];
  } else {
    p = put_u64(p, units, 1);
  }
  *p++ = '.';
  return put_u64(p, a % 100, 2);
}

static char *put_date(writer *w, char *p, int64_t day) {
  if (day != w->cached_day) {
    int y, m, d;
    civil_from_days(day, &y, &m, &d);
    char *q = put_u64(w->date_str, (uint64_t)y, 4);
    *q++ = '-';
    q = put_u64(q, (uint64_t)m, 2);
    *q++ = '-';
    q = put_u64(q, (uint64_t)d, 2);
    *q = '\0';
    w->cached_day = day;
  }
  memcpy(p, w->date_str, 10);
  return p + 10;
}

static char *put_hms(char *p, int64_t sec) {
  p = put_u64(p, (uint64_t)(sec / 3600), 2);
  *p++ = ':';
  p = put_u64(p, (uint64_t)(sec / 60 % 60), 2);
  *p++ = ':';
  return put_u64(p, (uint64_t)(sec % 60), 2);
}

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The timestamp field; kind 0 = ISO UTC, 1..5 alternative formats,
 * 6..8 invalid dates (see docs/cli/simulate.md). */
static char *put_time(writer *w, char *p, int64_t t, int kind) {
  int64_t day = floor_div(t, DAY_S), sec = t - day * DAY_S;
  int y, m, d;
  switch (kind) {
    case 0: /* 2024-03-05T14:22:01Z */
      p = put_date(w, p, day);
      *p++ = 'T';
      p = put_hms(p, sec);
      *p++ = 'Z';
      return p;
    case 1: /* 2024-03-05 14:22:01 */
      p = put_date(w, p, day);
      *p++ = ' ';
      return put_hms(p, sec);
    case 2: { /* 2024-03-05T15:22:01+01:00 (same instant) */
      int64_t lt = t + 3600, lday = floor_div(lt, DAY_S);
      p = put_date(w, p, lday);
      *p++ = 'T';
      p = put_hms(p, lt - lday * DAY_S);
      return put_str(p, "+01:00");
    }
    case 3: /* 2024-03-05 */
      return put_date(w, p, day);
    case 4: /* 20240305 */
      civil_from_days(day, &y, &m, &d);
      p = put_u64(p, (uint64_t)y, 4);
      p = put_u64(p, (uint64_t)m, 2);
      return put_u64(p, (uint64_t)d, 2);
    case 5: /* 05/03/2024 */
      civil_from_days(day, &y, &m, &d);
      p = put_u64(p, (uint64_t)d, 2);
      *p++ = '/';
      p = put_u64(p, (uint64_t)m, 2);
      *p++ = '/';
      return put_u64(p, (uint64_t)y, 4);
    case 6: /* day 32 */
      p = put_date(w, p, day);
      p[-2] = '3';
      p[-1] = '2';
      *p++ = 'T';
      p = put_hms(p, sec);
      *p++ = 'Z';
      return p;
    case 7: /* empty */
      return p;
    default: /* 8 */
      return put_str(p, "N/A");
  }
}

/* Appends one CSV row. time_kind as put_time; cur: 0 none, 1..3 $ £ €. */
static void put_row(writer *w, uint64_t txn, uint64_t cust, int64_t t,
                    int64_t cents, int ch, int cat, int time_kind, int cur) {
  if (w->len + WBUF_ROOM > WBUF_CAP) w_flush(w);
  char *p0 = w->buf + w->len, *p = p0;
  *p++ = 'T';
  p = put_u64(p, txn, 7);
  *p++ = ',';
  *p++ = 'C';
  p = put_u64(p, cust + 1, 6);
  *p++ = ',';
  p = put_time(w, p, t, time_kind);
  *p++ = ',';
  if (cur) {
    static const char *const sym[] = {"$", "\xC2\xA3", "\xE2\x82\xAC"};
    *p++ = '"';
    p = put_str(p, sym[cur - 1]);
    p = put_amount(p, cents, 1);
    *p++ = '"';
  } else {
    p = put_amount(p, cents, 0);
  }
  *p++ = ',';
  p = put_str(p, channel_names[ch]);
  *p++ = ',';
  p = put_str(p, category_names[cat]);
  *p++ = '\n';
  w->len += (size_t)(p - p0);
}

static int refund_less(const refund *a, const refund *b) {
  return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static tsr_status heap_push(writer *w, const refund *r) {
  tsr_status st = tsr__grow((void **)&w->heap, &w->heap_cap, w->nheap + 1, sizeof *r);
  if (st) return st;
  size_t i = w->nheap++;
  while (i > 0) {
    size_t up = (i - 1) / 2;
    if (!refund_less(r, &w->heap[up])) break;
    w->heap[i] = w->heap[up];
    i = up;
  }
  w->heap[i] = *r;
  return TSR_OK;
}

static refund heap_pop(writer *w) {
  refund top = w->heap[0], last = w->heap[--w->nheap];
  size_t i = 0, n = w->nheap;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && refund_less(&w->heap[c + 1], &w->heap[c])) c++;
    if (!refund_less(&w->heap[c], &last)) break;
    w->heap[i] = w->heap[c];
    i = c;
  }
  if (n) w->heap[i] = last;
  return top;
}

/* Writes the pending refunds due at or before t. */
static void flush_refunds(writer *w, int64_t t) {
  while (w->nheap && w->heap[0].time <= t) {
    refund r = heap_pop(w);
    put_row(w, ++w->txn, r.cust, r.time, -r.cents, r.channel, r.category, 0, 0);
  }
}

static int write_row(void *ud, const tsr_simulate_row *row) {
  writer *w = ud;
  if (!w->messy) {
    put_row(w, ++w->txn, row->customer, row->time, row->amount_cents, row->channel,
            row->category, 0, 0);
    return w->io_error;
  }
  flush_refunds(w, row->time);
  double u_time = tsr_rng_uniform(&w->mess), u_amt = tsr_rng_uniform(&w->mess);
  double u_dup = tsr_rng_uniform(&w->mess), u_ref = tsr_rng_uniform(&w->mess);
  int kind = 0, cur = 0;
  if (u_time < 0.001)
    kind = 6 + (int)tsr_rng_bounded(&w->mess, 3);
  else if (u_time < 0.031)
    kind = 1 + (int)tsr_rng_bounded(&w->mess, 5);
  if (u_amt < 0.02) cur = 1 + (int)tsr_rng_bounded(&w->mess, 3);
  uint64_t id = ++w->txn;
  put_row(w, id, row->customer, row->time, row->amount_cents, row->channel,
          row->category, kind, cur);
  if (u_dup < 0.005)
    put_row(w, id, row->customer, row->time, row->amount_cents, row->channel,
            row->category, kind, cur);
  if (u_ref < 0.005) {
    refund r;
    r.time = row->time + 3600 + (int64_t)tsr_rng_bounded(&w->mess, 71 * 3600);
    r.seq = w->refund_seq++;
    r.cust = row->customer;
    r.cents = row->amount_cents;
    r.channel = row->channel;
    r.category = row->category;
    if (r.time < w->end_time && heap_push(w, &r) != TSR_OK) {
      w->st = TSR_ENOMEM;
      return 1;
    }
  }
  return w->io_error;
}

tsr_status tsr_simulate_write(FILE *out, const tsr_simulate_opts *opts,
                              tsr_error *err) {
  tsr_status st = tsr_simulate_check_opts(opts, err);
  if (st) return st;
  if (!out) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "out", "expected a stream, got NULL");
  writer w;
  memset(&w, 0, sizeof w);
  w.out = out;
  w.messy = opts->messy;
  w.cached_day = INT64_MIN;
  w.end_time = (opts->start_day + (int64_t)opts->weeks * 7) * DAY_S;
  tsr_rng_seed(&w.mess, opts->seed, UINT64_MAX);
  w.buf = tsr__malloc(WBUF_CAP);
  if (!w.buf) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  static const char header[] = "transaction_id,customer_id,timestamp,amount,channel,category\n";
  memcpy(w.buf, header, sizeof header - 1);
  w.len = sizeof header - 1;
  st = tsr_simulate_run(opts, write_row, &w, err);
  if (st == TSR_ECANCELED && w.st) {
    st = tsr_error_set(err, w.st, NULL, 0, 0, NULL, "out of memory");
  } else if (st == TSR_OK || st == TSR_ECANCELED) {
    if (st == TSR_OK) flush_refunds(&w, INT64_MAX);
    w_flush(&w);
    if (!w.io_error && fflush(out) != 0) w.io_error = 1;
    if (w.io_error)
      st = tsr_error_set(err, TSR_EIO, NULL, 0, 0, NULL, "write error");
  }
  tsr__free(w.heap);
  tsr__free(w.buf);
  return st;
}
