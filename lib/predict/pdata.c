/*
 * pdata.c - the minimal bundle reader of the prediction models
 * (predict_internal.h): transactions.csv through the ledger, then
 * customers.csv, products_events.csv and interactions.csv when present.
 * Columns are bound by name (case and punctuation ignored); a bad row is
 * counted and the first one kept for the caller to report.
 */
#include "internal.h"
#include "base/textmemo.h"
#include "predict_internal.h"
#include "tessera/bundle.h"
#include "tessera/csv.h"
#include "tessera/datetime.h"
#include "tessera/sentiment.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Lowercase alphanumerics of s[0..len) into buf. */
static void norm_name(const char *s, size_t len, char *buf, size_t cap) {
  size_t k = 0;
  for (size_t i = 0; i < len && k + 1 < cap; i++)
    if (isalnum((unsigned char)s[i])) buf[k++] = (char)tolower((unsigned char)s[i]);
  buf[k] = '\0';
}

static int file_exists(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

int tsr__pdata_product(const tsr__pdata *d, const char *name) {
  for (size_t i = 0; i < d->nprod; i++)
    if (!strcmp(d->products[i], name)) return (int)i;
  return -1;
}

static int add_product(tsr__pdata *d, const char *s, size_t len) {
  char b[128];
  while (len && isspace((unsigned char)*s)) { s++; len--; }
  while (len && isspace((unsigned char)s[len - 1])) len--;
  if (len == 0 || len >= sizeof b) return -1;
  memcpy(b, s, len);
  b[len] = '\0';
  int k = tsr__pdata_product(d, b);
  if (k >= 0) return k;
  if (d->nprod >= TSR__MAX_PRODUCTS) return -2;
  d->products[d->nprod] = tsr__strdup(b);
  if (!d->products[d->nprod]) return -3;
  return (int)d->nprod++;
}

/* Income band: a leading number ("3", "20-40k" -> 20) or low/medium/high. */
static float parse_income(const tsr_csv_field *f) {
  char b[32];
  norm_name(f->ptr, f->len, b, sizeof b);
  if (!b[0]) return NAN;
  if (isdigit((unsigned char)b[0])) return (float)strtod(b, NULL);
  if (!strncmp(b, "low", 3)) return 1;
  if (!strncmp(b, "med", 3) || !strncmp(b, "mid", 3)) return 2;
  if (!strncmp(b, "high", 4)) return 3;
  if (!strncmp(b, "veryhigh", 8)) return 4;
  return NAN;
}

typedef struct {
  size_t cust;
  union {
    tsr__pevent p;
    tsr__ievent i;
  } e;
} ev_row;

static int cmp_ev_p(const void *a, const void *b) {
  const ev_row *x = a, *y = b;
  if (x->cust != y->cust) return x->cust < y->cust ? -1 : 1;
  if (x->e.p.day != y->e.p.day) return x->e.p.day < y->e.p.day ? -1 : 1;
  if (x->e.p.product != y->e.p.product) return x->e.p.product < y->e.p.product ? -1 : 1;
  return x->e.p.open - y->e.p.open;
}
static int cmp_ev_i(const void *a, const void *b) {
  const ev_row *x = a, *y = b;
  if (x->cust != y->cust) return x->cust < y->cust ? -1 : 1;
  if (x->e.i.day != y->e.i.day) return x->e.i.day < y->e.i.day ? -1 : 1;
  return x->e.i.complaint - y->e.i.complaint;
}

static int is_complaint(const char *b);

/* A text's complaint flag and (sentiment != NULL: a message) sentiment,
 * scored or from the memo (lib/base/textmemo.h: the texts repeat). */
static int text_score(tsr__text_memo *m, const char *s, size_t len, float *sentiment) {
  int found;
  tsr__text_entry *t = tsr__text_memo_get(m, s, len, &found);
  if (found) {
    if (sentiment) *sentiment = (float)t->value;
    return t->flag;
  }
  char b[256];
  norm_name(s, len, b, sizeof b);
  int complaint = is_complaint(b);
  float sv = NAN;
  if (sentiment && len) {
    tsr_sentiment_result sr;
    tsr_sentiment_score(s, len, &sr);
    sv = (float)sr.compound;
  }
  if (sentiment) *sentiment = sv;
  if (t) {
    t->flag = (uint8_t)complaint;
    t->value = sv;
  }
  return complaint;
}

/* Sorts rows by customer and fills the per-customer offsets. */
static tsr_status index_events(tsr__pdata *d, ev_row *rows, size_t nr, int prod,
                               tsr_error *err) {
  if (nr) qsort(rows, nr, sizeof *rows, prod ? cmp_ev_p : cmp_ev_i);
  size_t *off = tsr__calloc(d->n + 1, sizeof *off);
  void *ev = tsr__malloc((nr ? nr : 1) * (prod ? sizeof(tsr__pevent) : sizeof(tsr__ievent)));
  if (!off || !ev) {
    tsr__free(off);
    tsr__free(ev);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  for (size_t k = 0; k < nr; k++) {
    off[rows[k].cust + 1]++;
    if (prod) ((tsr__pevent *)ev)[k] = rows[k].e.p;
    else ((tsr__ievent *)ev)[k] = rows[k].e.i;
  }
  for (size_t i = 0; i < d->n; i++) off[i + 1] += off[i];
  if (prod) {
    d->pev = ev;
    d->pev_off = off;
  } else {
    d->iev = ev;
    d->iev_off = off;
  }
  return TSR_OK;
}

/* A complaint: the topic or message (lowercase alphanumerics) says so, or
 * the message uses words of an unhappy customer (docs/predict.md). */
static int is_complaint(const char *b) {
  static const char *const words[] = {"complain", "nothappy", "unhappy", "frustrat", "angry",
                                      "terrible", "scandal", "closemyaccount", "unacceptable",
                                      "disappointed", "awful", "worst", "furious", NULL};
  for (const char *const *w = words; *w; w++)
    if (strstr(b, *w)) return 1;
  return 0;
}

/* The products with a days-held churn feature: the first TSR__NPSLOT by
 * the day of their first event (ties: the name). A product that appears
 * after a cutoff can only take a later slot, so the features at a cutoff
 * do not depend on rows after it (and not on the row order). */
static void choose_slots(tsr__pdata *d) {
  int32_t first[TSR__MAX_PRODUCTS];
  for (size_t p = 0; p < d->nprod; p++) first[p] = INT32_MAX;
  size_t ne = d->pev_off[d->n];
  for (size_t k = 0; k < ne; k++)
    if (d->pev[k].day < first[d->pev[k].product]) first[d->pev[k].product] = d->pev[k].day;
  d->nslot = 0;
  uint8_t used[TSR__MAX_PRODUCTS] = {0};
  while (d->nslot < TSR__NPSLOT) {
    int best = -1;
    for (size_t p = 0; p < d->nprod; p++) {
      if (used[p] || first[p] == INT32_MAX) continue;
      if (best < 0 || first[p] < first[best] ||
          (first[p] == first[best] && strcmp(d->products[p], d->products[best]) < 0))
        best = (int)p;
    }
    if (best < 0) break;
    used[best] = 1;
    d->slot[d->nslot++] = (int16_t)best;
  }
}

/* Counts a rejected row (the bundle reader has validated and reported it). */
static void on_reject(void *ud, const tsr_reject *r) {
  tsr__pdata *d = ud;
  d->rejected++;
  if (d->first_reject.code == TSR_OK)
    tsr_error_set(&d->first_reject, r->code, r->source, r->line, r->column, r->field, "%s",
                  r->reason);
}

static int32_t day_of(int64_t t) {
  return (int32_t)(t >= 0 ? t / 86400 : -((-t + 86399) / 86400));
}

/* Reads one optional table through the bundle reader (tessera/bundle.h);
 * kind 0 customers, 1 products, 2 interactions. */
static tsr_status read_table(tsr__pdata *d, const char *path, int kind,
                             const tsr_bundle_opts *topts, tsr_error *err) {
  static const tsr_bundle_table tabs[3] = {TSR_BT_CUSTOMERS, TSR_BT_PRODUCTS, TSR_BT_INTERACTIONS};
  tsr_bundle_opts bo;
  if (topts) bo = *topts; /* the caller's renames, date forms, CSV dialect */
  else tsr_bundle_opts_init(&bo);
  bo.max_errors = -1;
  bo.on_note = NULL;
  bo.on_reject = on_reject;
  bo.ud = d;
  tsr_bundle_reader *rd = NULL;
  tsr_status st = tsr_bundle_reader_open(tabs[kind], path, &bo, &rd, err);
  if (st != TSR_OK) return st;
  tsr_bundle_row row;
  ev_row *rows = NULL;
  size_t nr = 0, cap = 0;
  uint8_t *seen = NULL;
  tsr__text_memo topics, messages;
  memset(&topics, 0, sizeof topics);
  memset(&messages, 0, sizeof messages);
  if (kind == 2) {
    tsr__text_memo_init(&topics);
    tsr__text_memo_init(&messages);
  }
  if (kind == 0) {
    d->birth = tsr__malloc(d->n * sizeof *d->birth);
    d->join = tsr__malloc(d->n * sizeof *d->join);
    d->income = tsr__malloc(d->n * sizeof *d->income);
    d->risk = tsr__malloc(d->n * sizeof *d->risk);
    d->business = tsr__calloc(d->n, 1);
    seen = tsr__calloc(d->n, 1);
    if (!d->birth || !d->join || !d->income || !d->risk || !d->business || !seen) {
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      goto done;
    }
    for (size_t i = 0; i < d->n; i++) {
      d->birth[i] = d->join[i] = TSR__NODAY;
      d->income[i] = d->risk[i] = NAN;
    }
    d->has_customers = 1;
  }
  for (;;) {
    st = tsr_bundle_next(rd, &row, err);
    if (st == TSR_ENOTFOUND) { st = TSR_OK; break; }
    if (st != TSR_OK) break;
    const tsr_value *v = row.v;
    ptrdiff_t ci = tsr_ledger_find(d->lg, v[0].s);
    if (ci < 0) { d->unmatched++; continue; }
    if (kind == 0) {
      if (seen[ci]) continue; /* the first record of a customer wins */
      seen[ci] = 1;
      if (v[TSR_CU_BIRTH_DATE].present) d->birth[ci] = day_of(v[TSR_CU_BIRTH_DATE].t);
      if (v[TSR_CU_JOIN_DATE].present) d->join[ci] = day_of(v[TSR_CU_JOIN_DATE].t);
      if (v[TSR_CU_INCOME_BAND].present) {
        tsr_csv_field f;
        memset(&f, 0, sizeof f);
        f.ptr = v[TSR_CU_INCOME_BAND].s;
        f.len = v[TSR_CU_INCOME_BAND].len;
        d->income[ci] = parse_income(&f);
      }
      if (v[TSR_CU_RISK_SCORE].present) d->risk[ci] = (float)v[TSR_CU_RISK_SCORE].num;
      continue;
    }
    ev_row r;
    memset(&r, 0, sizeof r);
    r.cust = (size_t)ci;
    if (kind == 1) {
      int k = add_product(d, v[TSR_PE_PRODUCT].s, v[TSR_PE_PRODUCT].len);
      if (k == -2) {
        st = tsr_error_set(err, TSR_ELIMIT, path, row.line, 0, "product",
                           "more than %d distinct products", TSR__MAX_PRODUCTS);
        break;
      }
      if (k == -3) { st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory"); break; }
      if (k < 0) continue;
      r.e.p.day = day_of(v[TSR_PE_DATE].t);
      r.e.p.product = (int16_t)k;
      r.e.p.open = (int8_t)(!v[TSR_PE_EVENT].present || v[TSR_PE_EVENT].num > 0);
    } else {
      r.e.i.day = day_of(v[TSR_IN_TIMESTAMP].t);
      /* a complaint: the topic's words, else the message's; the message's
       * sentiment (NaN without one) */
      int complaint = 0;
      float sent = NAN;
      if (v[TSR_IN_TOPIC].present)
        complaint = text_score(&topics, v[TSR_IN_TOPIC].s, v[TSR_IN_TOPIC].len, NULL);
      if (v[TSR_IN_MESSAGE].present) {
        int mc = text_score(&messages, v[TSR_IN_MESSAGE].s, v[TSR_IN_MESSAGE].len, &sent);
        complaint = complaint || mc;
      }
      r.e.i.complaint = (uint8_t)complaint;
      r.e.i.sentiment = sent;
    }
    if (tsr__grow((void **)&rows, &cap, nr + 1, sizeof *rows) != TSR_OK) {
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      break;
    }
    rows[nr++] = r;
  }
  if (st == TSR_OK && kind != 0) {
    st = index_events(d, rows, nr, kind == 1, err);
    if (st == TSR_OK) {
      if (kind == 1) {
        d->has_products = 1;
        choose_slots(d);
      } else {
        d->has_interactions = 1;
      }
    }
  }
done:
  tsr__text_memo_release(&topics);
  tsr__text_memo_release(&messages);
  tsr__free(seen);
  tsr__free(rows);
  tsr_bundle_reader_close(rd);
  return st;
}

tsr_status tsr__pdata_read(const char *dir, const tsr_ledger *lg, const tsr_bundle_opts *topts,
                           tsr__pdata *d, tsr_error *err) {
  return tsr__pdata_read_tables(dir, lg, topts, NULL, d, err);
}

tsr_status tsr__pdata_read_tables(const char *dir, const tsr_ledger *lg,
                                  const tsr_bundle_opts *topts, const tsr_bundle *tabs,
                                  tsr__pdata *d, tsr_error *err) {
  memset(d, 0, sizeof *d);
  char path[4096];
  tsr_status st = TSR_OK;
  int is_file = dir && file_exists(dir);
  if (lg) {
    /* the caller's transactions; the tables of folder dir, if any */
    d->lg = (tsr_ledger *)lg;
    d->lg_borrowed = 1;
    snprintf(path, sizeof path, "%s", dir ? dir : "transactions");
    is_file = !dir || is_file;
  } else {
    if (!dir) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "no transaction log given");
    if (is_file) snprintf(path, sizeof path, "%s", dir);
    else snprintf(path, sizeof path, "%s/transactions.csv", dir);
    if (!file_exists(path))
      return tsr_error_set(err, TSR_EIO, path, 0, 0, NULL,
                           "no transaction log (expected a file or a folder with transactions.csv)");
    st = tsr_ledger_new(&d->lg, err);
    if (st != TSR_OK) return st;
    tsr_ingest_opts io;
    tsr_ingest_opts_init(&io);
    if (topts) io.date_format = topts->date_format[TSR_BT_TRANSACTIONS];
    tsr_ingest_stats stats;
    st = tsr_ingest_file(d->lg, path, &io, &stats, err);
    if (st != TSR_OK) goto fail;
    d->rejected += stats.rows_rejected;
    st = tsr_ledger_finish(d->lg, err);
    if (st != TSR_OK) goto fail;
  }
  d->n = tsr_ledger_ncustomers(d->lg);
  if (d->n == 0) {
    st = tsr_error_set(err, TSR_ENOTFOUND, path, 0, 0, NULL, "no customer with a transaction");
    goto fail;
  }
  d->first_day = INT32_MAX;
  d->last_day = INT32_MIN;
  for (size_t i = 0; i < d->n; i++) {
    int32_t f, l;
    if (tsr__ledger_day_span(d->lg, i, &f, &l)) {
      if (f < d->first_day) d->first_day = f;
      if (l > d->last_day) d->last_day = l;
    }
  }
  if (is_file && !tabs) return TSR_OK;
  static const char *const names[3] = {"customers.csv", "products_events.csv", "interactions.csv"};
  static const tsr_bundle_table kinds[3] = {TSR_BT_CUSTOMERS, TSR_BT_PRODUCTS, TSR_BT_INTERACTIONS};
  for (int k = 0; k < 3; k++) {
    if (tabs) { /* the files given (tessera churn --products FILE ...) */
      const char *tp = tsr_bundle_path(tabs, kinds[k]);
      if (!tp) continue;
      snprintf(path, sizeof path, "%s", tp);
    } else {
      snprintf(path, sizeof path, "%s/%s", dir, names[k]);
      if (k == 1 && !file_exists(path)) snprintf(path, sizeof path, "%s/products.csv", dir);
      if (!file_exists(path)) continue;
    }
    st = read_table(d, path, k, topts, err);
    if (st != TSR_OK) goto fail;
  }
  return TSR_OK;
fail:
  tsr__pdata_release(d);
  return st;
}

void tsr__pdata_release(tsr__pdata *d) {
  if (!d) return;
  if (!d->lg_borrowed) tsr_ledger_free(d->lg);
  tsr__free(d->birth);
  tsr__free(d->join);
  tsr__free(d->income);
  tsr__free(d->risk);
  tsr__free(d->business);
  for (size_t i = 0; i < d->nprod; i++) tsr__free(d->products[i]);
  tsr__free(d->pev);
  tsr__free(d->pev_off);
  tsr__free(d->iev);
  tsr__free(d->iev_off);
  memset(d, 0, sizeof *d);
}
