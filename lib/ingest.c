/*
 * ingest.c - transaction logs into a per-customer ledger (see
 * tessera/ingest.h).
 *
 * Each record: field count checked against the header, customer id (trimmed,
 * non-empty, valid UTF-8, no NUL, at most TSR_INGEST_MAX_ID bytes), date
 * (tessera/datetime.h), amount (tsr_amount_parse), optional transaction id.
 * Duplicates: with an id column a hash table maps id -> content hash; without,
 * a hash set of row contents finds identical rows. Accepted rows are added to
 * the customer's day entries (merged when the day repeats the last entry).
 */
#include "internal.h"
#include "tessera/datetime.h"
#include "tessera/ingest.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cust {
  size_t id_off;
  uint32_t id_len;
  uint32_t n, cap;
  uint64_t hash;
  tsr_ledger_entry *e;
} cust;

typedef struct rowent {
  uint64_t key; /* 0 = empty */
  uint64_t val;
} rowent;

struct tsr_ledger {
  cust *c;
  size_t n, cap;
  uint32_t *slots; /* customer index + 1; 0 = empty */
  size_t nslots;
  char *ids;
  size_t ids_len, ids_cap;
  rowent *rows;
  size_t rows_n, rows_cap;
  int finished;
};

void tsr_ingest_opts_init(tsr_ingest_opts *o) {
  memset(o, 0, sizeof *o);
  tsr_csv_opts_init(&o->csv);
  o->header = 1;
  o->max_errors = -1;
}

tsr_status tsr_ledger_new(tsr_ledger **out, tsr_error *err) {
  *out = tsr__calloc(1, sizeof **out);
  if (!*out) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  return TSR_OK;
}

void tsr_ledger_free(tsr_ledger *lg) {
  if (!lg) return;
  for (size_t i = 0; i < lg->n; i++) tsr__free(lg->c[i].e);
  tsr__free(lg->c);
  tsr__free(lg->slots);
  tsr__free(lg->ids);
  tsr__free(lg->rows);
  tsr__free(lg);
}

size_t tsr_ledger_ncustomers(const tsr_ledger *lg) { return lg->n; }
const char *tsr_ledger_customer(const tsr_ledger *lg, size_t i) {
  return i < lg->n ? lg->ids + lg->c[i].id_off : NULL;
}
const tsr_ledger_entry *tsr_ledger_entries(const tsr_ledger *lg, size_t i, size_t *n) {
  if (i >= lg->n) {
    *n = 0;
    return NULL;
  }
  *n = lg->c[i].n;
  return lg->c[i].e;
}

/* ------------------------------------------------------------ customers */

static tsr_status slots_rebuild(tsr_ledger *lg, size_t nslots) {
  uint32_t *s = tsr__calloc(nslots, sizeof *s);
  if (!s) return TSR_ENOMEM;
  for (size_t i = 0; i < lg->n; i++) {
    size_t k = (size_t)lg->c[i].hash & (nslots - 1);
    while (s[k]) k = (k + 1) & (nslots - 1);
    s[k] = (uint32_t)(i + 1);
  }
  tsr__free(lg->slots);
  lg->slots = s;
  lg->nslots = nslots;
  return TSR_OK;
}

static ptrdiff_t cust_lookup(const tsr_ledger *lg, const char *id, size_t len, uint64_t h,
                             size_t *slot) {
  if (!lg->nslots) return -1;
  size_t k = (size_t)h & (lg->nslots - 1);
  while (lg->slots[k]) {
    const cust *c = &lg->c[lg->slots[k] - 1];
    if (c->hash == h && c->id_len == len && memcmp(lg->ids + c->id_off, id, len) == 0)
      return (ptrdiff_t)lg->slots[k] - 1;
    k = (k + 1) & (lg->nslots - 1);
  }
  if (slot) *slot = k;
  return -1;
}

ptrdiff_t tsr_ledger_find(const tsr_ledger *lg, const char *id) {
  size_t len = strlen(id);
  return cust_lookup(lg, id, len, tsr__hash_bytes(id, len, 0), NULL);
}

/* Index of the customer with this id, added when new; -1 on ENOMEM. */
static ptrdiff_t cust_get(tsr_ledger *lg, const char *id, size_t len) {
  uint64_t h = tsr__hash_bytes(id, len, 0);
  size_t slot = 0;
  ptrdiff_t i = cust_lookup(lg, id, len, h, &slot);
  if (i >= 0) return i;
  if ((lg->n + 1) * 4 > lg->nslots * 3) {
    if (slots_rebuild(lg, lg->nslots ? lg->nslots * 2 : 1024) != TSR_OK) return -1;
    cust_lookup(lg, id, len, h, &slot);
  }
  void *p = lg->c;
  if (tsr__grow(&p, &lg->cap, lg->n + 1, sizeof(cust)) != TSR_OK) return -1;
  lg->c = p;
  p = lg->ids;
  if (tsr__grow(&p, &lg->ids_cap, lg->ids_len + len + 1, 1) != TSR_OK) return -1;
  lg->ids = p;
  cust *c = &lg->c[lg->n];
  memset(c, 0, sizeof *c);
  c->id_off = lg->ids_len;
  c->id_len = (uint32_t)len;
  c->hash = h;
  memcpy(lg->ids + lg->ids_len, id, len);
  lg->ids[lg->ids_len + len] = '\0';
  lg->ids_len += len + 1;
  lg->slots[slot] = (uint32_t)(lg->n + 1);
  lg->finished = 0;
  return (ptrdiff_t)lg->n++;
}

static int cust_add(tsr_ledger *lg, size_t ci, int32_t day, double amount) {
  cust *c = &lg->c[ci];
  tsr_ledger_entry *last = c->n ? &c->e[c->n - 1] : NULL;
  if (!last || last->day != day) {
    if (c->n == c->cap) {
      uint32_t nc = c->cap ? c->cap * 2 : 2;
      tsr_ledger_entry *e = tsr__realloc(c->e, nc * sizeof *e);
      if (!e) return -1;
      c->e = e;
      c->cap = nc;
    }
    last = &c->e[c->n++];
    memset(last, 0, sizeof *last);
    last->day = day;
    lg->finished = 0;
  }
  if (amount < 0) {
    last->nrefund++;
    last->refund += amount;
  } else {
    last->ntx++;
    last->amount += amount;
  }
  return 0;
}

/* ------------------------------------------------------------ row table */

/* Finds key; returns the slot (key present or empty slot for it). */
static rowent *row_find(tsr_ledger *lg, uint64_t key) {
  size_t m = lg->rows_cap - 1;
  size_t k = (size_t)key & m;
  while (lg->rows[k].key && lg->rows[k].key != key) k = (k + 1) & m;
  return &lg->rows[k];
}

static int rows_reserve(tsr_ledger *lg) {
  if ((lg->rows_n + 1) * 2 <= lg->rows_cap) return 0;
  size_t nc = lg->rows_cap ? lg->rows_cap * 2 : 4096;
  rowent *old = lg->rows;
  size_t oc = lg->rows_cap;
  lg->rows = tsr__calloc(nc, sizeof *lg->rows);
  if (!lg->rows) {
    lg->rows = old;
    return -1;
  }
  lg->rows_cap = nc;
  for (size_t i = 0; i < oc; i++)
    if (old[i].key) *row_find(lg, old[i].key) = old[i];
  tsr__free(old);
  return 0;
}

/* ------------------------------------------------------------ parsing */

tsr_status tsr_amount_parse(const char *s, size_t len, double *out) {
  const char *p = s, *e = s + len;
  char buf[128];
  size_t n = 0;
  int neg = 0, paren = 0, cur = 0;
  while (p < e && isspace((unsigned char)*p)) p++;
  while (e > p && isspace((unsigned char)e[-1])) e--;
  if (p == e) return TSR_EPARSE;
  if (*p == '(' && e[-1] == ')') {
    paren = 1;
    p++;
    e--;
  }
  /* prefix: sign and/or currency, in either order */
  for (int round = 0; round < 3 && p < e; round++) {
    if (*p == '-' || *p == '+') {
      if (neg || paren) return TSR_EPARSE;
      neg = *p == '-' ? 1 : 2;
      p++;
    } else if (!cur && *p == '$') {
      cur = 1;
      p++;
    } else if (!cur && e - p >= 2 && (unsigned char)p[0] == 0xC2 &&
               ((unsigned char)p[1] == 0xA3 || (unsigned char)p[1] == 0xA5)) {
      cur = 1; /* £ ¥ */
      p += 2;
    } else if (!cur && e - p >= 3 && (unsigned char)p[0] == 0xE2 &&
               (unsigned char)p[1] == 0x82 &&
               ((unsigned char)p[2] == 0xAC || (unsigned char)p[2] == 0xB9)) {
      cur = 1; /* € ₹ */
      p += 3;
    } else if (!cur && e - p >= 3 && isupper((unsigned char)p[0]) &&
               isupper((unsigned char)p[1]) && isupper((unsigned char)p[2])) {
      cur = 1;
      p += 3;
    } else {
      break;
    }
    while (p < e && *p == ' ') p++;
  }
  /* suffix currency */
  while (e > p && e[-1] == ' ') e--;
  if (!cur) {
    if (e - p >= 1 && e[-1] == '$') {
      e--;
    } else if (e - p >= 2 && (unsigned char)e[-2] == 0xC2 &&
               ((unsigned char)e[-1] == 0xA3 || (unsigned char)e[-1] == 0xA5)) {
      e -= 2;
    } else if (e - p >= 3 && (unsigned char)e[-3] == 0xE2 && (unsigned char)e[-2] == 0x82 &&
               ((unsigned char)e[-1] == 0xAC || (unsigned char)e[-1] == 0xB9)) {
      e -= 3;
    } else if (e - p >= 4 && isupper((unsigned char)e[-1]) && isupper((unsigned char)e[-2]) &&
               isupper((unsigned char)e[-3]) && e[-4] == ' ') {
      e -= 4;
    }
    while (e > p && e[-1] == ' ') e--;
  }
  if (p == e) return TSR_EPARSE;
  if (neg == 1 || paren) buf[n++] = '-';
  /* integer part with optional thousands separators */
  const char *q = p;
  int digits = 0, group = -1, seps = 0;
  while (q < e) {
    if (*q >= '0' && *q <= '9') {
      if (n >= sizeof buf - 2) return TSR_EPARSE;
      buf[n++] = *q;
      digits++;
      if (group >= 0) group++;
    } else if (*q == ',') {
      if (digits == 0 || (seps == 0 && digits > 3) || (seps > 0 && group != 3)) return TSR_EPARSE;
      seps++;
      group = 0;
    } else {
      break;
    }
    q++;
  }
  if (seps > 0 && group != 3) return TSR_EPARSE;
  if (q < e && *q == '.') {
    buf[n++] = *q++;
    while (q < e && *q >= '0' && *q <= '9') {
      if (n >= sizeof buf - 2) return TSR_EPARSE;
      buf[n++] = *q++;
      digits++;
    }
  }
  if (digits == 0) {
    /* inf / nan spelled out: not finite */
    size_t k = (size_t)(e - p);
    if ((k == 3 || k == 8) && (strncasecmp(p, "inf", 3) == 0 || strncasecmp(p, "nan", 3) == 0))
      return TSR_ERANGE;
    return TSR_EPARSE;
  }
  if (q < e && (*q == 'e' || *q == 'E')) {
    buf[n++] = *q++;
    if (q < e && (*q == '+' || *q == '-')) buf[n++] = *q++;
    int ed = 0;
    while (q < e && *q >= '0' && *q <= '9' && n < sizeof buf - 2) {
      buf[n++] = *q++;
      ed++;
    }
    if (!ed) return TSR_EPARSE;
  }
  if (q != e) return TSR_EPARSE;
  buf[n] = '\0';
  errno = 0;
  double v = strtod(buf, NULL);
  if (!isfinite(v)) return TSR_ERANGE;
  *out = v;
  return TSR_OK;
}

/* Length of the valid UTF-8 prefix of s[0..n). */
static size_t utf8_valid_prefix(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      k = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      k = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      k = 3;
      cp = c & 0x07;
    } else {
      return i;
    }
    for (size_t j = 1; j <= k; j++) {
      if (i + j >= n || (s[i + j] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (s[i + j] & 0x3F);
    }
    if ((k == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
      return i;
    i += k + 1;
  }
  return i;
}

/* 'value' for messages: at most 40 bytes, non-printables as \xHH. */
static const char *fmt_got(char *buf, size_t cap, const char *s, size_t len) {
  size_t o = 0;
  for (size_t i = 0; i < len && o + 6 < cap; i++) {
    unsigned char c = (unsigned char)s[i];
    if (i >= 40) {
      o += (size_t)snprintf(buf + o, cap - o, "...");
      break;
    }
    if (c < 0x20 || c == 0x7F || c == '\'' || c == '\\') {
      o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
    } else {
      buf[o++] = (char)c;
    }
  }
  buf[o] = '\0';
  return buf;
}

/* ------------------------------------------------------------ ingestion */

typedef struct ictx {
  tsr_ledger *lg;
  const tsr_ingest_opts *o;
  tsr_ingest_stats *st;
  tsr_csv *csv;
  size_t nfields;      /* expected per record */
  ptrdiff_t ci, di, ai, ti; /* column indexes (-1 = none) */
  char names[4][64];
} ictx;

static void trim(const char **p, size_t *n) {
  while (*n && isspace((unsigned char)**p)) {
    (*p)++;
    (*n)--;
  }
  while (*n && isspace((unsigned char)(*p)[*n - 1])) (*n)--;
}

static tsr_status reject(ictx *x, const tsr_csv_record *rec, tsr_status code, int64_t line,
                         int64_t col, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static tsr_status reject(ictx *x, const tsr_csv_record *rec, tsr_status code, int64_t line,
                         int64_t col, const char *field, const char *fmt, ...) {
  char reason[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  x->st->rows_rejected++;
  if (x->o->on_reject) {
    tsr_reject r = {code, tsr_csv_name(x->csv), line, col, field ? field : "", reason,
                    rec->raw, rec->raw_len};
    x->o->on_reject(x->o->ud, &r);
  }
  if (x->o->max_errors >= 0 && x->st->rows_rejected > x->o->max_errors) return TSR_EMAXERR;
  return TSR_OK;
}

/* Text field checks shared by the customer and transaction ids. */
static int check_id(ictx *x, const tsr_csv_record *rec, size_t fi, const char *name,
                    const char **p, size_t *n, tsr_status *st) {
  const tsr_csv_field *f = &rec->fields[fi];
  char got[200];
  *p = f->ptr;
  *n = f->len;
  trim(p, n);
  if (*n == 0) {
    *st = reject(x, rec, TSR_EPARSE, f->line, f->column, name, "expected an id, got ''");
    return -1;
  }
  if (memchr(*p, '\0', *n)) {
    *st = reject(x, rec, TSR_EPARSE, f->line, f->column, name,
                 "expected text without NUL bytes, got '%s'", fmt_got(got, sizeof got, *p, *n));
    return -1;
  }
  if (*n > TSR_INGEST_MAX_ID) {
    *st = reject(x, rec, TSR_ELIMIT, f->line, f->column, name,
                 "expected at most %d bytes, got %zu", TSR_INGEST_MAX_ID, *n);
    return -1;
  }
  size_t ok = utf8_valid_prefix((const unsigned char *)*p, *n);
  if (ok != *n) {
    *st = reject(x, rec, TSR_EPARSE, f->line, f->column + (int64_t)ok + (int64_t)(*p - f->ptr),
                 name, "expected valid UTF-8, got byte \\x%02x",
                 (unsigned char)(*p)[ok]);
    return -1;
  }
  return 0;
}

static tsr_status do_record(ictx *x, const tsr_csv_record *rec) {
  tsr_status st = TSR_OK;
  char got[200];
  if (rec->nfields != x->nfields) {
    /* point at the first extra field, or just after the last one */
    const tsr_csv_field *lf = &rec->fields[rec->nfields > x->nfields ? x->nfields : rec->nfields - 1];
    int64_t col = rec->nfields > x->nfields ? lf->column
                                            : lf->column + (int64_t)lf->len + (lf->quoted ? 2 : 0);
    return reject(x, rec, TSR_EPARSE, lf->line, col, "",
                  "expected %zu fields, got %zu", x->nfields, rec->nfields);
  }
  const char *cid;
  size_t clen;
  if (check_id(x, rec, (size_t)x->ci, x->names[0], &cid, &clen, &st)) return st;

  const tsr_csv_field *df = &rec->fields[x->di];
  int64_t t;
  tsr_status ds = tsr_datetime_parse(df->ptr, df->len, x->o->date_format, &t);
  if (ds == TSR_ERANGE)
    return reject(x, rec, TSR_ERANGE, df->line, df->column, x->names[1],
                  "expected a date between 1970-01-01 and 2100-12-31, got '%s'",
                  fmt_got(got, sizeof got, df->ptr, df->len));
  if (ds != TSR_OK) {
    if (x->o->date_format && *x->o->date_format)
      return reject(x, rec, TSR_EPARSE, df->line, df->column, x->names[1],
                    "expected a date (ISO 8601, YYYYMMDD or %s), got '%s'", x->o->date_format,
                    fmt_got(got, sizeof got, df->ptr, df->len));
    return reject(x, rec, TSR_EPARSE, df->line, df->column, x->names[1],
                  "expected a date (ISO 8601 or YYYYMMDD), got '%s'",
                  fmt_got(got, sizeof got, df->ptr, df->len));
  }
  double amount = 0;
  if (x->ai >= 0) {
    const tsr_csv_field *af = &rec->fields[x->ai];
    tsr_status as = tsr_amount_parse(af->ptr, af->len, &amount);
    if (as == TSR_ERANGE)
      return reject(x, rec, TSR_ERANGE, af->line, af->column, x->names[2],
                    "expected a finite number, got '%s'", fmt_got(got, sizeof got, af->ptr, af->len));
    if (as != TSR_OK)
      return reject(x, rec, TSR_EPARSE, af->line, af->column, x->names[2],
                    "expected a number, got '%s'", fmt_got(got, sizeof got, af->ptr, af->len));
  }
  /* duplicates */
  uint64_t content = 0x51ED270B27CE0A17ULL;
  for (size_t k = 0; k < rec->nfields; k++) {
    const char *p = rec->fields[k].ptr;
    size_t n = rec->fields[k].len;
    trim(&p, &n);
    content = tsr__hash_bytes(p, n, content + k);
  }
  if (!content) content = 1;
  if (rows_reserve(x->lg) != 0) return TSR_ENOMEM;
  if (x->ti >= 0) {
    const char *tid;
    size_t tlen;
    if (check_id(x, rec, (size_t)x->ti, x->names[3], &tid, &tlen, &st)) return st;
    uint64_t key = tsr__hash_bytes(tid, tlen, 0x7A5D);
    if (!key) key = 1;
    rowent *r = row_find(x->lg, key);
    if (r->key) {
      if (r->val == content) {
        x->st->duplicate_ids++;
        return TSR_OK;
      }
      const tsr_csv_field *tf = &rec->fields[x->ti];
      return reject(x, rec, TSR_EPARSE, tf->line, tf->column, x->names[3],
                    "expected a new id, got '%s' already used by a row with other content",
                    fmt_got(got, sizeof got, tid, tlen));
    }
    r->key = key;
    r->val = content;
    x->lg->rows_n++;
  } else {
    rowent *r = row_find(x->lg, content);
    if (r->key) {
      x->st->identical_rows++;
      if (x->o->dedupe == TSR_DEDUPE_EXACT) {
        x->st->identical_dropped++;
        return TSR_OK;
      }
    } else {
      r->key = content;
      x->lg->rows_n++;
    }
  }
  ptrdiff_t ci = cust_get(x->lg, cid, clen);
  if (ci < 0) return TSR_ENOMEM;
  int64_t day = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
  if (cust_add(x->lg, (size_t)ci, (int32_t)day, amount) != 0) return TSR_ENOMEM;
  if (amount < 0) {
    x->st->refunds++;
    x->st->refund_amount += amount;
  }
  if (x->st->rows_accepted == 0 || t < x->st->min_time) x->st->min_time = t;
  if (x->st->rows_accepted == 0 || t > x->st->max_time) x->st->max_time = t;
  x->st->rows_accepted++;
  return TSR_OK;
}

/* Normalised column name: lowercase letters and digits only. */
static void norm_name(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n && o + 1 < cap; i++) {
    unsigned char c = (unsigned char)s[i];
    if (isalnum(c)) out[o++] = (char)tolower(c);
  }
  out[o] = '\0';
}

static const char *const auto_customer[] = {"customerid", "customer", "custid", "clientid",
                                            "client", "userid", "memberid", "accountid",
                                            "customerno", "customernumber", NULL};
static const char *const auto_date[] = {"date", "timestamp", "datetime", "transactiondate",
                                        "orderdate", "purchasedate", "invoicedate", "time",
                                        "createdat", "eventtime", "ts", "txdate", NULL};
static const char *const auto_amount[] = {"amount", "value", "monetaryvalue", "monetary",
                                          "revenue", "sales", "spend", "total", "price",
                                          "amt", "transactionamount", "ordervalue", NULL};

/* Resolves one column spec against the header (or by number). */
static tsr_status resolve_col(ictx *x, const tsr_csv_record *hdr, const char *spec,
                              const char *const *auto_names, const char *what,
                              const char *opt, int required, ptrdiff_t *out, char *name,
                              tsr_error *err) {
  *out = -1;
  const char *src = tsr_csv_name(x->csv);
  if (spec && *spec) {
    if (hdr) {
      for (size_t k = 0; k < hdr->nfields; k++) {
        if (hdr->fields[k].len == strlen(spec) && memcmp(hdr->fields[k].ptr, spec, hdr->fields[k].len) == 0) {
          *out = (ptrdiff_t)k;
          snprintf(name, 64, "%s", spec);
          return TSR_OK;
        }
      }
      char ns[64];
      norm_name(spec, strlen(spec), ns, sizeof ns);
      for (size_t k = 0; k < hdr->nfields && *ns; k++) {
        char nh[64];
        norm_name(hdr->fields[k].ptr, hdr->fields[k].len, nh, sizeof nh);
        if (strcmp(nh, ns) == 0) {
          *out = (ptrdiff_t)k;
          snprintf(name, 64, "%.63s", hdr->fields[k].ptr);
          return TSR_OK;
        }
      }
    }
    char *end;
    long v = strtol(spec, &end, 10);
    if (*end == '\0' && v >= 1) {
      if ((size_t)v > x->nfields)
        return tsr_error_set(err, TSR_EINVAL, src, 1, 0, opt,
                             "expected a column number in 1..%zu, got %ld", x->nfields, v);
      *out = v - 1;
      if (hdr) snprintf(name, 64, "%.*s", (int)(hdr->fields[v - 1].len > 63 ? 63 : hdr->fields[v - 1].len), hdr->fields[v - 1].ptr);
      else snprintf(name, 64, "%s", what);
      return TSR_OK;
    }
    return tsr_error_set(err, TSR_EPARSE, src, 1, 0, opt,
                         "expected a column named '%s' in the header", spec);
  }
  if (spec && !*spec) return TSR_OK; /* explicitly none */
  if (hdr) {
    for (const char *const *a = auto_names; *a; a++) {
      for (size_t k = 0; k < hdr->nfields; k++) {
        char nh[64];
        norm_name(hdr->fields[k].ptr, hdr->fields[k].len, nh, sizeof nh);
        if (strcmp(nh, *a) == 0) {
          *out = (ptrdiff_t)k;
          snprintf(name, 64, "%.*s", (int)(hdr->fields[k].len > 63 ? 63 : hdr->fields[k].len), hdr->fields[k].ptr);
          return TSR_OK;
        }
      }
    }
    if (!required) return TSR_OK;
    return tsr_error_set(err, TSR_EPARSE, src, 1, 0, opt,
                         "expected a %s column in the header (name it with %s)", what, opt);
  }
  return TSR_OK;
}

static tsr_status ingest(tsr_ledger *lg, tsr_csv *c, const tsr_ingest_opts *opts,
                         tsr_ingest_stats *stats, tsr_error *err) {
  tsr_ingest_opts defo;
  if (!opts) {
    tsr_ingest_opts_init(&defo);
    opts = &defo;
  }
  tsr_ingest_stats local;
  if (!stats) stats = &local;
  memset(stats, 0, sizeof *stats);
  if (opts->date_format && *opts->date_format) {
    tsr_status fs = tsr_datetime_check_format(opts->date_format, err);
    if (fs != TSR_OK) return fs;
  }
  ictx x = {lg, opts, stats, c, 0, -1, -1, -1, -1, {"customer_id", "date", "amount", "transaction_id"}};
  tsr_csv_record rec;
  tsr_status st;
  /* first record: header, or the first data row of a headerless file */
  for (;;) {
    st = tsr_csv_next(c, &rec, err);
    if (st == TSR_ENOTFOUND)
      return tsr_error_set(err, TSR_EPARSE, tsr_csv_name(c), 1, 0, NULL,
                           "expected a header line, got an empty file");
    if (st == TSR_EIO || st == TSR_ENOMEM) return st;
    if (st == TSR_OK) break;
    if (opts->header) return st; /* a broken header is fatal: columns unknown */
  }
  x.nfields = rec.nfields;
  const tsr_csv_record *hdr = opts->header ? &rec : NULL;
  const char *cspec = opts->customer_col, *dspec = opts->date_col, *aspec = opts->amount_col;
  if (!hdr) {
    if (!cspec) cspec = "1";
    if (!dspec) dspec = "2";
    if (!aspec) aspec = x.nfields >= 3 ? "3" : "";
  }
  if ((st = resolve_col(&x, hdr, cspec, auto_customer, "customer id", "--customer-col", 1, &x.ci, x.names[0], err)) ||
      (st = resolve_col(&x, hdr, dspec, auto_date, "date", "--date-col", 1, &x.di, x.names[1], err)) ||
      (st = resolve_col(&x, hdr, aspec, auto_amount, "amount", "--amount-col", 1, &x.ai, x.names[2], err)) ||
      (st = resolve_col(&x, hdr, opts->id_col, auto_customer, "transaction id", "--id-col", 0, &x.ti, x.names[3], err)))
    return st;
  if (!opts->id_col) x.ti = -1;
  if (!hdr) {
    snprintf(x.names[0], 64, "customer_id");
    snprintf(x.names[1], 64, "date");
    snprintf(x.names[2], 64, "amount");
    snprintf(x.names[3], 64, "transaction_id");
  }
  snprintf(stats->customer_col, sizeof stats->customer_col, "%s", x.names[0]);
  snprintf(stats->date_col, sizeof stats->date_col, "%s", x.names[1]);
  snprintf(stats->amount_col, sizeof stats->amount_col, "%s", x.ai >= 0 ? x.names[2] : "");
  snprintf(stats->id_col, sizeof stats->id_col, "%s", x.ti >= 0 ? x.names[3] : "");
  if (x.ci == x.di || (x.ai >= 0 && (x.ai == x.ci || x.ai == x.di)))
    return tsr_error_set(err, TSR_EINVAL, tsr_csv_name(c), 1, 0, NULL,
                         "customer, date and amount must be distinct columns");
  if (!hdr) {
    stats->rows_read++;
    st = do_record(&x, &rec);
    if (st != TSR_OK) goto done;
  }
  for (;;) {
    tsr_error rerr;
    st = tsr_csv_next(c, &rec, &rerr);
    if (st == TSR_ENOTFOUND) {
      st = TSR_OK;
      break;
    }
    if (st == TSR_EIO || st == TSR_ENOMEM) {
      if (err) *err = rerr;
      goto done;
    }
    stats->rows_read++;
    if (st != TSR_OK) {
      st = reject(&x, &rec, st, rerr.line, rerr.column, "", "%s", rerr.msg);
    } else {
      st = do_record(&x, &rec);
    }
    if (st != TSR_OK) goto done;
    if (opts->on_progress && (stats->rows_read & 0xFFFF) == 0)
      opts->on_progress(opts->ud, tsr_csv_bytes_read(c), tsr_csv_size(c), stats->rows_read);
  }
done:
  stats->bytes = tsr_csv_bytes_read(c);
  stats->checksum = tsr_csv_checksum(c);
  if (opts->on_progress)
    opts->on_progress(opts->ud, tsr_csv_bytes_read(c), tsr_csv_size(c), stats->rows_read);
  if (st == TSR_EMAXERR)
    return tsr_error_set(err, TSR_EMAXERR, tsr_csv_name(c), 0, 0, NULL,
                         "too many rejected rows: more than %lld (--max-errors)",
                         (long long)opts->max_errors);
  if (st == TSR_ENOMEM) return tsr_error_set(err, TSR_ENOMEM, tsr_csv_name(c), 0, 0, NULL, "out of memory");
  return st;
}

tsr_status tsr_ingest_file(tsr_ledger *lg, const char *path, const tsr_ingest_opts *opts,
                           tsr_ingest_stats *stats, tsr_error *err) {
  tsr_csv *c;
  tsr_status st = tsr_csv_open(path, opts ? &opts->csv : NULL, &c, err);
  if (st != TSR_OK) return st;
  st = ingest(lg, c, opts, stats, err);
  tsr_csv_close(c);
  return st;
}

tsr_status tsr_ingest_mem(tsr_ledger *lg, const char *buf, size_t len, const char *name,
                          const tsr_ingest_opts *opts, tsr_ingest_stats *stats,
                          tsr_error *err) {
  tsr_csv *c;
  tsr_status st = tsr_csv_open_mem(buf, len, name, opts ? &opts->csv : NULL, &c, err);
  if (st != TSR_OK) return st;
  st = ingest(lg, c, opts, stats, err);
  tsr_csv_close(c);
  return st;
}

/* ------------------------------------------------------------ finish */

static int entry_cmp(const void *a, const void *b) {
  const tsr_ledger_entry *x = a, *y = b;
  return (x->day > y->day) - (x->day < y->day);
}

static int all_digits(const char *s, size_t n) {
  if (!n) return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return 1;
}

static int cust_cmp(const void *a, const void *b, void *ids) {
  const cust *x = a, *y = b;
  const char *s = (const char *)ids + x->id_off, *t = (const char *)ids + y->id_off;
  size_t n = x->id_len, m = y->id_len;
  if (all_digits(s, n) && all_digits(t, m)) {
    while (n > 1 && *s == '0') s++, n--;
    while (m > 1 && *t == '0') t++, m--;
    if (n != m) return n < m ? -1 : 1;
    int c = memcmp(s, t, n);
    if (c) return c;
    return (x->id_len > y->id_len) - (x->id_len < y->id_len);
  }
  size_t k = n < m ? n : m;
  int c = memcmp(s, t, k);
  if (c) return c;
  return (n > m) - (n < m);
}

tsr_status tsr_ledger_finish(tsr_ledger *lg, tsr_error *err) {
  if (lg->finished) return TSR_OK;
  for (size_t i = 0; i < lg->n; i++) {
    cust *c = &lg->c[i];
    int sorted = 1;
    for (uint32_t k = 1; k < c->n; k++)
      if (c->e[k].day <= c->e[k - 1].day) {
        sorted = 0;
        break;
      }
    if (sorted) continue;
    qsort(c->e, c->n, sizeof *c->e, entry_cmp);
    uint32_t o = 0;
    for (uint32_t k = 0; k < c->n; k++) {
      if (o && c->e[o - 1].day == c->e[k].day) {
        c->e[o - 1].ntx += c->e[k].ntx;
        c->e[o - 1].nrefund += c->e[k].nrefund;
        c->e[o - 1].amount += c->e[k].amount;
        c->e[o - 1].refund += c->e[k].refund;
      } else {
        c->e[o++] = c->e[k];
      }
    }
    c->n = o;
  }
  qsort_r(lg->c, lg->n, sizeof *lg->c, cust_cmp, lg->ids);
  size_t ns = 1024;
  while (ns * 3 < lg->n * 4 + 4) ns *= 2;
  if (slots_rebuild(lg, ns) != TSR_OK)
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  lg->finished = 1;
  return TSR_OK;
}
