/*
 * pdata.c - the minimal bundle reader of the prediction models
 * (predict_internal.h): transactions.csv through the ledger, then
 * customers.csv, products_events.csv and interactions.csv when present.
 * Columns are bound by name (case and punctuation ignored); a bad row is
 * counted and the first one kept for the caller to report.
 */
#include "internal.h"
#include "predict_internal.h"
#include "tessera/csv.h"
#include "tessera/datetime.h"

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

/* Column index of the first of the names (normalised), or -1. */
static int find_col(const tsr_csv_record *hdr, const char *const *names) {
  char b[64];
  for (const char *const *n = names; *n; n++)
    for (size_t i = 0; i < hdr->nfields; i++) {
      norm_name(hdr->fields[i].ptr, hdr->fields[i].len, b, sizeof b);
      if (!strcmp(b, *n)) return (int)i;
    }
  return -1;
}

/* YYYY-MM-DD with a year in 1900..2100 (birth dates before 1970, which the
 * transaction date parser rejects). */
static int parse_ymd(const char *s, size_t len, int32_t *day) {
  if (len < 10 || s[4] != '-' || s[7] != '-') return -1;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && !isdigit((unsigned char)s[i])) return -1;
  if (len > 10 && s[10] != 'T' && s[10] != ' ') return -1;
  int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0')), d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
  static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1900 || y > 2100 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1]) return -1;
  if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return -1;
  *day = (int32_t)tsr_days_from_civil(y, m, d);
  return 1;
}

static int parse_day(const tsr_csv_field *f, int32_t *day) {
  int64_t e;
  if (f->len == 0) return 0;
  if (tsr_datetime_parse(f->ptr, f->len, NULL, &e) != TSR_OK) return parse_ymd(f->ptr, f->len, day);
  int64_t d = e >= 0 ? e / 86400 : -((-e + 86399) / 86400);
  *day = (int32_t)d;
  return 1;
}

static void reject(tsr__pdata *d, const char *src, const tsr_csv_field *f,
                   const char *field, const char *what) {
  d->rejected++;
  if (d->first_reject.code == TSR_OK)
    tsr_error_set(&d->first_reject, TSR_EPARSE, src, f ? f->line : 0, f ? f->column : 0,
                  field, "%s, got '%.*s'", what, f ? (int)(f->len > 40 ? 40 : f->len) : 0,
                  f ? f->ptr : "");
}

/* Customer index of an id field, or -1 (counted as unmatched). */
static ptrdiff_t cust_of(tsr__pdata *d, const tsr_csv_field *f) {
  char id[TSR_INGEST_MAX_ID + 1];
  size_t len = f->len;
  const char *p = f->ptr;
  while (len && isspace((unsigned char)*p)) { p++; len--; }
  while (len && isspace((unsigned char)p[len - 1])) len--;
  if (len > TSR_INGEST_MAX_ID) len = TSR_INGEST_MAX_ID;
  memcpy(id, p, len);
  id[len] = '\0';
  ptrdiff_t i = tsr_ledger_find(d->lg, id);
  if (i < 0) d->unmatched++;
  return i;
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

/* Sorts rows by customer and fills the per-customer offsets. */
static tsr_status index_events(tsr__pdata *d, ev_row *rows, size_t nr, int prod,
                               tsr_error *err) {
  qsort(rows, nr, sizeof *rows, prod ? cmp_ev_p : cmp_ev_i);
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

/* Reads one optional table; kind 0 customers, 1 products, 2 interactions. */
static tsr_status read_table(tsr__pdata *d, const char *path, int kind, tsr_error *err) {
  tsr_csv *c = NULL;
  tsr_csv_opts o;
  tsr_csv_opts_init(&o);
  tsr_status st = tsr_csv_open(path, &o, &c, err);
  if (st != TSR_OK) return st;
  tsr_csv_record rec;
  tsr_error e2;
  ev_row *rows = NULL;
  size_t nr = 0, cap = 0;
  st = tsr_csv_next(c, &rec, err);
  if (st == TSR_ENOTFOUND) {
    st = tsr_error_set(err, TSR_EPARSE, path, 1, 1, NULL, "empty file: expected a header");
    goto done;
  }
  if (st != TSR_OK) goto done;
  static const char *const ID[] = {"customerid", "customer", "clientid", "id", NULL};
  static const char *const DATE[] = {"date", "timestamp", "time", "datetime", "eventdate", NULL};
  static const char *const BIRTH[] = {"birthdate", "dateofbirth", "dob", NULL};
  static const char *const JOIN[] = {"joindate", "joined", "since", "customersince", NULL};
  static const char *const INCOME[] = {"incomeband", "income", NULL};
  static const char *const RISK[] = {"riskscore", "risk", NULL};
  static const char *const TYPE[] = {"customertype", "segment", "type", NULL};
  static const char *const OPENED[] = {"productopened", NULL};
  static const char *const PRODUCT[] = {"product", NULL};
  static const char *const EVENT[] = {"event", "action", NULL};
  static const char *const TOPIC[] = {"topic", NULL};
  static const char *const MSG[] = {"message", "text", NULL};
  int cid = find_col(&rec, ID);
  int cdate = find_col(&rec, kind == 0 ? BIRTH : DATE);
  int cjoin = kind == 0 ? find_col(&rec, JOIN) : -1;
  int cinc = kind == 0 ? find_col(&rec, INCOME) : -1;
  int crisk = kind == 0 ? find_col(&rec, RISK) : -1;
  int ctype = kind == 0 ? find_col(&rec, TYPE) : -1;
  int cprod = kind == 1 ? find_col(&rec, OPENED) : -1;
  int cevent = -1;
  if (kind == 1 && cprod < 0) {
    cprod = find_col(&rec, PRODUCT);
    cevent = find_col(&rec, EVENT);
  }
  int ctopic = kind == 2 ? find_col(&rec, TOPIC) : -1;
  int cmsg = kind == 2 ? find_col(&rec, MSG) : -1;
  if (cid < 0 || (kind != 0 && cdate < 0) || (kind == 1 && cprod < 0)) {
    st = tsr_error_set(err, TSR_EPARSE, path, 1, 1, NULL,
                       "header lacks a required column: %s",
                       cid < 0 ? "customer_id" : cdate < 0 ? "date" : "product_opened (or product and event)");
    goto done;
  }
  if (kind == 0) {
    d->birth = tsr__malloc(d->n * sizeof *d->birth);
    d->join = tsr__malloc(d->n * sizeof *d->join);
    d->income = tsr__malloc(d->n * sizeof *d->income);
    d->risk = tsr__malloc(d->n * sizeof *d->risk);
    d->business = tsr__calloc(d->n, 1);
    if (!d->birth || !d->join || !d->income || !d->risk || !d->business) {
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      goto done;
    }
    for (size_t i = 0; i < d->n; i++) {
      d->birth[i] = d->join[i] = TSR__NODAY;
      d->income[i] = d->risk[i] = NAN;
    }
    d->has_customers = 1;
  }
  uint8_t *seen = kind == 0 ? tsr__calloc(d->n, 1) : NULL;
  if (kind == 0 && !seen) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  for (;;) {
    st = tsr_csv_next(c, &rec, &e2);
    if (st == TSR_ENOTFOUND) { st = TSR_OK; break; }
    if (st == TSR_EIO) { *err = e2; break; }
    if (st != TSR_OK) {
      d->rejected++;
      if (d->first_reject.code == TSR_OK) d->first_reject = e2;
      continue;
    }
    int need = cid;
    if (cdate > need) need = cdate;
    if (cprod > need) need = cprod;
    if ((size_t)need >= rec.nfields) {
      reject(d, path, NULL, "", "expected more fields");
      d->first_reject.line = d->first_reject.line ? d->first_reject.line : rec.line;
      continue;
    }
    ptrdiff_t ci = cust_of(d, &rec.fields[cid]);
    if (ci < 0) continue;
    if (kind == 0) {
      if (seen[ci]) continue; /* the first record of a customer wins */
      seen[ci] = 1;
      int32_t day;
      if (cdate >= 0) {
        int r = parse_day(&rec.fields[cdate], &day);
        if (r < 0) reject(d, path, &rec.fields[cdate], "birth_date", "expected a date");
        else if (r > 0) d->birth[ci] = day;
      }
      if (cjoin >= 0 && (size_t)cjoin < rec.nfields) {
        int r = parse_day(&rec.fields[cjoin], &day);
        if (r < 0) reject(d, path, &rec.fields[cjoin], "join_date", "expected a date");
        else if (r > 0) d->join[ci] = day;
      }
      if (cinc >= 0 && (size_t)cinc < rec.nfields) d->income[ci] = parse_income(&rec.fields[cinc]);
      if (crisk >= 0 && (size_t)crisk < rec.nfields && rec.fields[crisk].len) {
        char *end;
        double v = strtod(rec.fields[crisk].ptr, &end);
        if (end == rec.fields[crisk].ptr || !(v >= 0 && v <= 100))
          reject(d, path, &rec.fields[crisk], "risk_score", "expected a number in 0..100");
        else d->risk[ci] = (float)v;
      }
      if (ctype >= 0 && (size_t)ctype < rec.nfields) {
        char b[32];
        norm_name(rec.fields[ctype].ptr, rec.fields[ctype].len, b, sizeof b);
        d->business[ci] = !strncmp(b, "business", 8) || !strcmp(b, "sme") ||
                          !strcmp(b, "corporate") || !strcmp(b, "company");
      }
      continue;
    }
    int32_t day;
    if (parse_day(&rec.fields[cdate], &day) <= 0) {
      reject(d, path, &rec.fields[cdate], kind == 1 ? "date" : "timestamp", "expected a date");
      continue;
    }
    ev_row r;
    memset(&r, 0, sizeof r);
    r.cust = (size_t)ci;
    if (kind == 1) {
      int open = 1;
      if (cevent >= 0 && (size_t)cevent < rec.nfields) {
        char b[16];
        norm_name(rec.fields[cevent].ptr, rec.fields[cevent].len, b, sizeof b);
        if (!strcmp(b, "close") || !strcmp(b, "closed") || !strcmp(b, "closure")) open = 0;
        else if (b[0] && strcmp(b, "open") && strcmp(b, "opened") && strcmp(b, "opening")) {
          reject(d, path, &rec.fields[cevent], "event", "expected open or close");
          continue;
        }
      }
      int k = add_product(d, rec.fields[cprod].ptr, rec.fields[cprod].len);
      if (k == -2) {
        st = tsr_error_set(err, TSR_ELIMIT, path, rec.line, rec.fields[cprod].column, "product",
                           "more than %d distinct products", TSR__MAX_PRODUCTS);
        break;
      }
      if (k == -3) { st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory"); break; }
      if (k < 0) { reject(d, path, &rec.fields[cprod], "product", "expected a product name"); continue; }
      r.e.p.day = day;
      r.e.p.product = (int16_t)k;
      r.e.p.open = (int8_t)open;
    } else {
      r.e.i.day = day;
      int complaint = 0;
      for (int cc = 0; cc < 2 && !complaint; cc++) {
        int col = cc ? cmsg : ctopic;
        if (col < 0 || (size_t)col >= rec.nfields) continue;
        char b[256];
        norm_name(rec.fields[col].ptr, rec.fields[col].len, b, sizeof b);
        complaint = strstr(b, "complain") != NULL;
      }
      r.e.i.complaint = (uint8_t)complaint;
    }
    if (tsr__grow((void **)&rows, &cap, nr + 1, sizeof *rows) != TSR_OK) {
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      break;
    }
    rows[nr++] = r;
  }
  tsr__free(seen);
  if (st == TSR_OK && kind != 0) {
    st = index_events(d, rows, nr, kind == 1, err);
    if (st == TSR_OK) {
      if (kind == 1) d->has_products = 1;
      else d->has_interactions = 1;
    }
  }
done:
  tsr__free(rows);
  tsr_csv_close(c);
  return st;
}

tsr_status tsr__pdata_read(const char *dir, tsr__pdata *d, tsr_error *err) {
  memset(d, 0, sizeof *d);
  char path[4096];
  int is_file = file_exists(dir);
  if (is_file) snprintf(path, sizeof path, "%s", dir);
  else snprintf(path, sizeof path, "%s/transactions.csv", dir);
  if (!file_exists(path))
    return tsr_error_set(err, TSR_EIO, path, 0, 0, NULL,
                         "no transaction log (expected a file or a folder with transactions.csv)");
  tsr_status st = tsr_ledger_new(&d->lg, err);
  if (st != TSR_OK) return st;
  tsr_ingest_opts io;
  tsr_ingest_opts_init(&io);
  tsr_ingest_stats stats;
  st = tsr_ingest_file(d->lg, path, &io, &stats, err);
  if (st != TSR_OK) goto fail;
  d->rejected += stats.rows_rejected;
  st = tsr_ledger_finish(d->lg, err);
  if (st != TSR_OK) goto fail;
  d->n = tsr_ledger_ncustomers(d->lg);
  if (d->n == 0) {
    st = tsr_error_set(err, TSR_ENOTFOUND, path, 0, 0, NULL, "no customer with a transaction");
    goto fail;
  }
  d->first_day = INT32_MAX;
  d->last_day = INT32_MIN;
  for (size_t i = 0; i < d->n; i++) {
    size_t ne;
    const tsr_ledger_entry *e = tsr_ledger_entries(d->lg, i, &ne);
    if (ne && e[0].day < d->first_day) d->first_day = e[0].day;
    if (ne && e[ne - 1].day > d->last_day) d->last_day = e[ne - 1].day;
  }
  if (is_file) return TSR_OK;
  static const char *const names[3] = {"customers.csv", "products_events.csv", "interactions.csv"};
  for (int k = 0; k < 3; k++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[k]);
    if (k == 1 && !file_exists(path)) snprintf(path, sizeof path, "%s/products.csv", dir);
    if (!file_exists(path)) continue;
    st = read_table(d, path, k, err);
    if (st != TSR_OK) goto fail;
  }
  return TSR_OK;
fail:
  tsr__pdata_release(d);
  return st;
}

void tsr__pdata_release(tsr__pdata *d) {
  if (!d) return;
  tsr_ledger_free(d->lg);
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
