/*
 * bundle.c - the customer data bundle: table schemas, column binding, date
 * format detection and the streaming row reader (see tessera/bundle.h and
 * docs/bundle.md). Rows come from the CSV reader of lib/csv.c; values are
 * checked with the rules of the transaction reader (lib/ingest.c).
 */
#include "internal.h"
#include "tessera/bundle.h"
#include "tessera/datetime.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* ------------------------------------------------------------ schemas */

typedef struct colspec {
  const char *name;             /* canonical name */
  const char *aliases;          /* '|'-separated normalised aliases */
  tsr_coltype type;
  unsigned char required, pii;
} colspec;

static const colspec tx_cols[TSR_TX_NCOLS] = {
    {"customer_id", "customerid|customer|custid|clientid|client|userid|memberid|accountid|customerno|customernumber", TSR_COL_ID, 1, 0},
    {"timestamp", "timestamp|date|datetime|transactiondate|transactiontime|time|ts|txdate|bookingdate", TSR_COL_DATE, 1, 0},
    {"amount", "amount|value|transactionamount|amt|spend|total", TSR_COL_NUMBER, 1, 0},
    {"transaction_id", "transactionid|txid|txnid|id", TSR_COL_ID, 0, 0},
    {"currency", "currency|ccy|currencycode", TSR_COL_TEXT, 0, 0},
    {"channel", "channel", TSR_COL_TEXT, 0, 0},
    {"merchant_category", "merchantcategory|mcc|category|merchantcat", TSR_COL_TEXT, 0, 0},
    {"product", "product", TSR_COL_TEXT, 0, 0},
    {"description", "description|desc|narrative|text", TSR_COL_TEXT, 0, 0},
};
static const colspec cu_cols[TSR_CU_NCOLS] = {
    {"customer_id", "customerid|customer|custid|clientid|client|userid|memberid|customerno|customernumber", TSR_COL_ID, 1, 0},
    {"name", "name|fullname|customername", TSR_COL_TEXT, 0, 1},
    {"email", "email|emailaddress|mail", TSR_COL_TEXT, 0, 1},
    {"phone", "phone|phonenumber|telephone|mobile|tel", TSR_COL_TEXT, 0, 1},
    {"birth_date", "birthdate|dateofbirth|dob|birthday", TSR_COL_DATE, 0, 1},
    {"gender", "gender|sex", TSR_COL_TEXT, 0, 0},
    {"address", "address|street|streetaddress", TSR_COL_TEXT, 0, 1},
    {"postcode", "postcode|zip|zipcode|postalcode|plz", TSR_COL_TEXT, 0, 0},
    {"city", "city|town", TSR_COL_TEXT, 0, 0},
    {"income_band", "incomeband|income", TSR_COL_TEXT, 0, 0},
    {"join_date", "joindate|customersince|since|opendate|joined", TSR_COL_DATE, 0, 0},
    {"products_held", "productsheld|products", TSR_COL_TEXT, 0, 0},
    {"channel_preference", "channelpreference|preferredchannel|channel", TSR_COL_TEXT, 0, 0},
    {"risk_score", "riskscore|risk", TSR_COL_NUMBER, 0, 0},
};
static const colspec pe_cols[TSR_PE_NCOLS] = {
    {"customer_id", "customerid|customer|custid|clientid|client|userid|memberid", TSR_COL_ID, 1, 0},
    {"date", "date|timestamp|eventdate|opendate|opened|datetime", TSR_COL_DATE, 1, 0},
    {"product_opened", "productopened|product|productname", TSR_COL_TEXT, 1, 0},
    {"event", "event|eventtype|action", TSR_COL_TEXT, 0, 0},
};
static const colspec in_cols[TSR_IN_NCOLS] = {
    {"customer_id", "customerid|customer|custid|clientid|client|userid|memberid", TSR_COL_ID, 1, 0},
    {"timestamp", "timestamp|date|datetime|time|ts|contactdate", TSR_COL_DATE, 1, 0},
    {"channel", "channel|medium", TSR_COL_TEXT, 0, 0},
    {"topic", "topic|subject|reason|category", TSR_COL_TEXT, 0, 0},
    {"message", "message|text|body|comment|notes|note", TSR_COL_TEXT, 0, 0},
    {"interaction_id", "interactionid|id|contactid|ticketid", TSR_COL_ID, 0, 0},
};
static const colspec ca_cols[TSR_CA_NCOLS] = {
    {"customer_id", "customerid|customer|custid|clientid|client|userid|memberid", TSR_COL_ID, 1, 0},
    {"campaign_id", "campaignid|campaign|experimentid|experiment", TSR_COL_ID, 1, 0},
    {"group", "group|arm|variant|assignment|cell", TSR_COL_ID, 1, 0},
    {"contact_date", "contactdate|date|sentdate|timestamp", TSR_COL_DATE, 0, 0},
    {"responded", "responded|response|converted|outcome", TSR_COL_FLAG, 0, 0},
    {"offer_id", "offerid|offer", TSR_COL_ID, 0, 0},
};
static const colspec of_cols[TSR_OF_NCOLS] = {
    {"offer_id", "offerid|offer|id", TSR_COL_ID, 1, 0},
    {"name", "name|offername|title", TSR_COL_TEXT, 0, 0},
    {"description", "description|desc|text", TSR_COL_TEXT, 0, 0},
    {"product", "product|productname", TSR_COL_TEXT, 0, 0},
    {"eligible", "eligible|eligibility|rule", TSR_COL_TEXT, 0, 0},
};

static const struct {
  const char *name;
  const colspec *cols;
  size_t n;
  size_t main_date; /* column whose range is reported, or SIZE_MAX */
} schemas[TSR_BT_COUNT] = {
    {"transactions", tx_cols, TSR_TX_NCOLS, TSR_TX_TIMESTAMP},
    {"customers", cu_cols, TSR_CU_NCOLS, TSR_CU_JOIN_DATE},
    {"products_events", pe_cols, TSR_PE_NCOLS, TSR_PE_DATE},
    {"interactions", in_cols, TSR_IN_NCOLS, TSR_IN_TIMESTAMP},
    {"campaign", ca_cols, TSR_CA_NCOLS, TSR_CA_CONTACT_DATE},
    {"offers", of_cols, TSR_OF_NCOLS, (size_t)-1},
};

static int table_ok(tsr_bundle_table t) { return (unsigned)t < TSR_BT_COUNT; }

const char *tsr_bundle_table_name(tsr_bundle_table t) { return table_ok(t) ? schemas[t].name : "unknown"; }
size_t tsr_bundle_ncols(tsr_bundle_table t) { return table_ok(t) ? schemas[t].n : 0; }
const char *tsr_bundle_column_name(tsr_bundle_table t, size_t col) {
  return table_ok(t) && col < schemas[t].n ? schemas[t].cols[col].name : NULL;
}
tsr_coltype tsr_bundle_column_type(tsr_bundle_table t, size_t col) {
  return table_ok(t) && col < schemas[t].n ? schemas[t].cols[col].type : TSR_COL_TEXT;
}
int tsr_bundle_column_required(tsr_bundle_table t, size_t col) {
  return table_ok(t) && col < schemas[t].n ? schemas[t].cols[col].required : 0;
}
int tsr_bundle_column_is_pii(tsr_bundle_table t, size_t col) {
  return table_ok(t) && col < schemas[t].n ? schemas[t].cols[col].pii : 0;
}

tsr_status tsr_bundle_table_parse(const char *s, tsr_bundle_table *out) {
  if (!s) return TSR_EINVAL;
  for (int t = 0; t < TSR_BT_COUNT; t++) {
    if (strcmp(s, schemas[t].name) == 0) {
      *out = (tsr_bundle_table)t;
      return TSR_OK;
    }
  }
  if (strcmp(s, "products") == 0) {
    *out = TSR_BT_PRODUCTS;
    return TSR_OK;
  }
  return TSR_EINVAL;
}

void tsr_bundle_opts_init(tsr_bundle_opts *o) {
  memset(o, 0, sizeof *o);
  tsr_csv_opts_init(&o->csv);
  o->max_errors = -1;
}

/* ------------------------------------------------------------ bundles */

struct tsr_bundle {
  char *path[TSR_BT_COUNT];
};

tsr_status tsr_bundle_new(tsr_bundle **out, tsr_error *err) {
  *out = tsr__calloc(1, sizeof **out);
  if (!*out) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  return TSR_OK;
}

void tsr_bundle_free(tsr_bundle *b) {
  if (!b) return;
  for (int t = 0; t < TSR_BT_COUNT; t++) tsr__free(b->path[t]);
  tsr__free(b);
}

tsr_status tsr_bundle_set(tsr_bundle *b, tsr_bundle_table t, const char *path, tsr_error *err) {
  if (!b || !table_ok(t)) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "invalid table");
  char *p = NULL;
  if (path) {
    p = tsr__strdup(path);
    if (!p) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  tsr__free(b->path[t]);
  b->path[t] = p;
  return TSR_OK;
}

const char *tsr_bundle_path(const tsr_bundle *b, tsr_bundle_table t) {
  return b && table_ok(t) ? b->path[t] : NULL;
}

static int file_exists(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

tsr_status tsr_bundle_open_dir(const char *dir, tsr_bundle **out, tsr_error *err) {
  *out = NULL;
  struct stat sb;
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return tsr_error_set(err, TSR_EIO, dir, 0, 0, NULL, "cannot read folder: %s",
                         stat(dir, &sb) != 0 ? strerror(errno) : "not a folder");
  tsr_bundle *b;
  tsr_status st = tsr_bundle_new(&b, err);
  if (st != TSR_OK) return st;
  static const char *const files[][2] = {
      {"transactions.csv", NULL},       {"customers.csv", NULL},
      {"products_events.csv", "products.csv"}, {"interactions.csv", NULL},
      {"campaign.csv", NULL},           {"offers.csv", NULL}};
  size_t dl = strlen(dir);
  char *buf = tsr__malloc(dl + 64);
  if (!buf) {
    tsr_bundle_free(b);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  for (int t = 0; t < TSR_BT_COUNT; t++) {
    for (int k = 0; k < 2 && files[t][k]; k++) {
      snprintf(buf, dl + 64, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", files[t][k]);
      if (file_exists(buf)) {
        st = tsr_bundle_set(b, (tsr_bundle_table)t, buf, err);
        if (st != TSR_OK) {
          tsr__free(buf);
          tsr_bundle_free(b);
          return st;
        }
        break;
      }
    }
  }
  tsr__free(buf);
  if (!b->path[TSR_BT_TRANSACTIONS]) {
    tsr_bundle_free(b);
    return tsr_error_set(err, TSR_ENOTFOUND, dir, 0, 0, NULL,
                         "expected a transactions.csv in the folder");
  }
  *out = b;
  return TSR_OK;
}

/* ------------------------------------------------------------ values */

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

static int alias_has(const char *aliases, const char *nh) {
  size_t n = strlen(nh);
  if (!n) return 0;
  const char *p = aliases;
  while (*p) {
    const char *e = strchr(p, '|');
    size_t k = e ? (size_t)(e - p) : strlen(p);
    if (k == n && memcmp(p, nh, n) == 0) return 1;
    if (!e) break;
    p = e + 1;
  }
  return 0;
}

/* ------------------------------------------------------------ dates */

#define MIN_DAY_1900 (-25567) /* 1900-01-01 */

static int rd_digits(const char **p, const char *e, int lo, int hi, int *out) {
  int v = 0, k = 0;
  while (k < hi && *p < e && (unsigned)(**p - '0') <= 9) {
    v = v * 10 + (**p - '0');
    (*p)++;
    k++;
  }
  if (k < lo) return -1;
  *out = v;
  return k;
}

static int mdays(int y, int m) {
  static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return dm[m - 1];
}

/* "a/b/yyyy [HH:MM[:SS]]" with '/', '.' or '-': 0 ok (a, b and time set). */
static int split_ab(const char *s, const char *e, int *a, int *b, int *y, int *secs) {
  const char *p = s;
  if (rd_digits(&p, e, 1, 2, a) < 0 || p >= e) return -1;
  char sep = *p;
  if (sep != '/' && sep != '.' && sep != '-') return -1;
  p++;
  if (rd_digits(&p, e, 1, 2, b) < 0 || p >= e || *p != sep) return -1;
  p++;
  if (rd_digits(&p, e, 4, 4, y) != 4) return -1;
  *secs = 0;
  if (p < e) {
    if (*p != ' ' && *p != 'T') return -1;
    while (p < e && (*p == ' ' || *p == 'T')) p++;
    int hh, mm, ss = 0;
    if (rd_digits(&p, e, 1, 2, &hh) < 0 || p >= e || *p != ':') return -1;
    p++;
    if (rd_digits(&p, e, 2, 2, &mm) < 0) return -1;
    if (p < e && *p == ':') {
      p++;
      if (rd_digits(&p, e, 2, 2, &ss) < 0) return -1;
    }
    if (p != e || hh > 23 || mm > 59 || ss > 60) return -1;
    *secs = hh * 3600 + mm * 60 + ss;
  }
  return 0;
}

static tsr_status civil_to_epoch(int y, int m, int d, int secs, int64_t *out) {
  if (m < 1 || m > 12 || d < 1 || d > mdays(y, m)) return TSR_EPARSE;
  if (y < 1900 || y > 2100) return TSR_ERANGE;
  *out = tsr_days_from_civil(y, (unsigned)m, (unsigned)d) * 86400 + secs;
  return TSR_OK;
}

/* ISO date-only forms for 1900..1969 (birth dates), which
 * tsr_datetime_parse leaves out of its range. */
static tsr_status iso_old(const char *s, const char *e, int64_t *out) {
  const char *p = s;
  int y, m, d;
  if (rd_digits(&p, e, 4, 4, &y) != 4) return TSR_EPARSE;
  if (p < e && (*p == '-' || *p == '/')) {
    char sep = *p++;
    if (rd_digits(&p, e, 2, 2, &m) < 0 || p >= e || *p != sep) return TSR_EPARSE;
    p++;
    if (rd_digits(&p, e, 2, 2, &d) < 0) return TSR_EPARSE;
  } else {
    if (rd_digits(&p, e, 2, 2, &m) < 0 || rd_digits(&p, e, 2, 2, &d) < 0) return TSR_EPARSE;
  }
  if (p < e && (*p == 'T' || *p == ' ')) p = e; /* a time on a birth date: ignored */
  if (p != e) return TSR_EPARSE;
  return civil_to_epoch(y, m, d, 0, out);
}

tsr_status tsr_date_parse_form(const char *s, size_t len, tsr_datefmt f, const char *fmt,
                               int64_t *epoch_s) {
  const char *e = s + len;
  while (s < e && isspace((unsigned char)*s)) s++;
  while (e > s && isspace((unsigned char)e[-1])) e--;
  if (s == e) return TSR_EPARSE;
  tsr_status st = tsr_datetime_parse(s, (size_t)(e - s), f == TSR_DATEFMT_CUSTOM ? fmt : NULL,
                                     epoch_s);
  if (st == TSR_OK) return st;
  if (st == TSR_ERANGE) {
    tsr_status so = iso_old(s, e, epoch_s);
    if (so == TSR_OK) return so;
  }
  if (f == TSR_DATEFMT_DMY || f == TSR_DATEFMT_MDY) {
    int a, b, y, secs;
    if (split_ab(s, e, &a, &b, &y, &secs) == 0)
      return f == TSR_DATEFMT_DMY ? civil_to_epoch(y, b, a, secs, epoch_s)
                                  : civil_to_epoch(y, a, b, secs, epoch_s);
  }
  return st;
}

/* ------------------------------------------------------------ reader */

typedef struct datedet {
  int64_t n_iso, n_ab;
  int max_a, max_b;
  int has_time;
  int yyyymmdd;      /* first ISO value was 8 digits */
  int decided;
} datedet;

struct tsr_bundle_reader {
  tsr_bundle_table t;
  tsr_bundle_opts o;
  tsr_csv *csv;
  char *name;           /* source name */
  const char *path;     /* for the prescan (NULL for stdin) */
  const char *mem;      /* memory input, or NULL */
  size_t mem_len;
  const colspec *cols;
  size_t ncols;
  ptrdiff_t bind[TSR_BUNDLE_MAX_COLS]; /* field index or -1 */
  char *hdr_name[TSR_BUNDLE_MAX_COLS];
  tsr_datefmt fmt[TSR_BUNDLE_MAX_COLS];
  const char *custom_fmt;
  size_t nfields;       /* fields per record */
  tsr_value v[TSR_BUNDLE_MAX_COLS];
  char *arena;
  size_t arena_cap;
  /* the fast path (tsr_bundle_next): a simple record's bytes copied with
   * each field NUL-terminated in place, and its fields pointing there */
  char *line;
  size_t line_cap;
  tsr_csv_field *lf;
  size_t lf_cap;
  int general;          /* tsr__bundle_reader_general: the fast path off */
  tsr_bundle_stats st;
  void (*on_csv)(void *ud, const tsr_csv_record *rec); /* tsr_bundle_reader_on_csv */
  void *on_csv_ud;
};

void tsr_bundle_reader_on_csv(tsr_bundle_reader *r, void (*fn)(void *ud, const tsr_csv_record *rec),
                              void *ud) {
  r->on_csv = fn;
  r->on_csv_ud = ud;
}

tsr_bundle_table tsr_bundle_reader_table(const tsr_bundle_reader *r) { return r->t; }
const char *tsr_bundle_reader_source(const tsr_bundle_reader *r) { return r->name; }
int tsr_bundle_has(const tsr_bundle_reader *r, size_t col) {
  return col < r->ncols && r->bind[col] >= 0;
}
const char *tsr_bundle_header(const tsr_bundle_reader *r, size_t col) {
  return col < r->ncols && r->bind[col] >= 0 ? r->hdr_name[col] : NULL;
}
tsr_datefmt tsr_bundle_datefmt(const tsr_bundle_reader *r, size_t col) {
  return col < r->ncols ? r->fmt[col] : TSR_DATEFMT_AUTO;
}
void tsr_bundle_reader_stats(const tsr_bundle_reader *r, tsr_bundle_stats *st) {
  *st = r->st;
  st->bytes = tsr_csv_bytes_read(r->csv);
  st->checksum = tsr_csv_checksum(r->csv);
}

void tsr_bundle_reader_close(tsr_bundle_reader *r) {
  if (!r) return;
  tsr_csv_close(r->csv);
  for (size_t k = 0; k < TSR_BUNDLE_MAX_COLS; k++) tsr__free(r->hdr_name[k]);
  tsr__free(r->arena);
  tsr__free(r->line);
  tsr__free(r->lf);
  tsr__free(r->name);
  tsr__free(r);
}

static void note(tsr_bundle_reader *r, const char *column, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note(tsr_bundle_reader *r, const char *column, const char *fmt, ...) {
  if (!r->o.on_note) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  tsr_bundle_note n = {r->t, r->name, column ? column : "", msg};
  r->o.on_note(r->o.ud, &n);
}

/* The header name given for column c by the rename option, or NULL. */
static const char *renamed(const tsr_bundle_reader *r, size_t c) {
  if (!r->o.rename) return NULL;
  const char *tname = schemas[r->t].name;
  const char *cname = r->cols[c].name;
  const char *hit = NULL;
  for (const char *const *p = r->o.rename; *p; p++) {
    const char *eq = strchr(*p, '=');
    if (!eq) continue;
    const char *dot = memchr(*p, '.', (size_t)(eq - *p));
    const char *col = *p;
    if (dot) {
      size_t tl = (size_t)(dot - *p);
      if (!((tl == strlen(tname) && memcmp(*p, tname, tl) == 0) ||
            (r->t == TSR_BT_PRODUCTS && tl == 8 && memcmp(*p, "products", 8) == 0)))
        continue;
      col = dot + 1;
    } else if (hit) {
      continue; /* a table-specific rename wins */
    }
    if ((size_t)(eq - col) == strlen(cname) && memcmp(col, cname, strlen(cname)) == 0) {
      hit = eq + 1;
      if (dot) return hit;
    }
  }
  return hit;
}

/* Binds the schema columns to the header's fields. */
static tsr_status bind_header(tsr_bundle_reader *r, const tsr_csv_record *h, tsr_error *err) {
  unsigned char used[TSR_CSV_DEFAULT_MAX_FIELDS];
  size_t nf = h->nfields;
  if (nf > sizeof used) nf = sizeof used;
  memset(used, 0, nf);
  for (size_t c = 0; c < r->ncols; c++) r->bind[c] = -1;
  /* renamed columns first, then exact canonical names, then aliases in order */
  for (size_t c = 0; c < r->ncols; c++) {
    const char *rn = renamed(r, c);
    if (!rn) continue;
    char want[64];
    tsr__norm_name(rn, strlen(rn), want, sizeof want);
    for (size_t k = 0; k < nf; k++) {
      char nh[64];
      tsr__norm_name(h->fields[k].ptr, h->fields[k].len, nh, sizeof nh);
      if (!used[k] && *want && strcmp(nh, want) == 0) {
        r->bind[c] = (ptrdiff_t)k;
        used[k] = 1;
        break;
      }
    }
    if (r->bind[c] < 0)
      return tsr_error_set(err, TSR_EPARSE, r->name, 1, 0, r->cols[c].name,
                           "expected a column named '%s' in the header (renamed)", rn);
  }
  for (int pass = 0; pass < 2; pass++) {
    for (size_t c = 0; c < r->ncols; c++) {
      if (r->bind[c] >= 0) continue;
      char canon[64];
      tsr__norm_name(r->cols[c].name, strlen(r->cols[c].name), canon, sizeof canon);
      for (size_t k = 0; k < nf && r->bind[c] < 0; k++) {
        if (used[k]) continue;
        char nh[64];
        tsr__norm_name(h->fields[k].ptr, h->fields[k].len, nh, sizeof nh);
        if (pass == 0 ? strcmp(nh, canon) == 0 : alias_has(r->cols[c].aliases, nh)) {
          r->bind[c] = (ptrdiff_t)k;
          used[k] = 1;
        }
      }
    }
  }
  for (size_t c = 0; c < r->ncols; c++) {
    if (r->bind[c] < 0) {
      if (r->cols[c].required)
        return tsr_error_set(err, TSR_EPARSE, r->name, 1, 0, r->cols[c].name,
                             "expected a %s column in the header of the %s table",
                             r->cols[c].name, schemas[r->t].name);
      continue;
    }
    const tsr_csv_field *f = &h->fields[r->bind[c]];
    r->hdr_name[c] = tsr__strndup(f->ptr, f->len > 63 ? 63 : f->len);
    if (!r->hdr_name[c]) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  /* unknown columns: one note naming them */
  char list[512];
  size_t o = 0, nunk = 0;
  list[0] = '\0';
  for (size_t k = 0; k < h->nfields; k++) {
    if (k < nf && used[k]) continue;
    char got[100];
    fmt_got(got, sizeof got, h->fields[k].ptr, h->fields[k].len);
    if (o + strlen(got) + 8 < sizeof list)
      o += (size_t)snprintf(list + o, sizeof list - o, "%s'%s'", nunk ? ", " : "", got);
    nunk++;
  }
  if (nunk) note(r, NULL, "ignored %zu unknown column%s: %s", nunk, nunk == 1 ? "" : "s", list);
  return TSR_OK;
}

static const char *form_name(tsr_datefmt f, int has_time, int yyyymmdd) {
  switch (f) {
  case TSR_DATEFMT_AUTO: return "none";
  case TSR_DATEFMT_ISO: return yyyymmdd ? "YYYYMMDD" : "ISO 8601";
  case TSR_DATEFMT_DMY: return has_time ? "day-first DD/MM/YYYY HH:MM" : "day-first DD/MM/YYYY";
  case TSR_DATEFMT_MDY: return has_time ? "month-first MM/DD/YYYY HH:MM" : "month-first MM/DD/YYYY";
  case TSR_DATEFMT_CUSTOM: return "custom";
  }
  return "none";
}

/* Looks at one value of an undecided date column. */
static void det_value(datedet *d, const char *s, size_t n) {
  const char *e = s + n;
  tsr__trim(&s, &n);
  e = s + n;
  if (!n) return;
  int64_t t;
  tsr_status st = tsr_datetime_parse(s, n, NULL, &t);
  if (st == TSR_OK || (st == TSR_ERANGE && iso_old(s, e, &t) == TSR_OK)) {
    if (d->n_iso == 0 && d->n_ab == 0 && n == 8) d->yyyymmdd = 1;
    d->n_iso++;
    return;
  }
  int a, b, y, secs;
  const char *tp = s;
  if (split_ab(s, e, &a, &b, &y, &secs) == 0) {
    d->n_ab++;
    if (a > d->max_a) d->max_a = a;
    if (b > d->max_b) d->max_b = b;
    while (tp < e && *tp != ' ' && *tp != 'T') tp++;
    if (tp < e) d->has_time = 1;
  }
}

#define DET_ISO_ENOUGH 1000 /* ISO values (and no other form) that decide */
/* Day/month values read to decide a D/M/YYYY column: the scan goes on after
 * the first value above 12 (which decides) to catch a column mixing both
 * orders; later values of the other order are rejected row by row. */
#define DET_CONFIRM 100000

/* Detects the date forms of the undecided date columns by reading the data
 * (a second reader over the same input) up to the rows that decide. */
static tsr_status detect_dates(tsr_bundle_reader *r, tsr_error *err) {
  datedet det[TSR_BUNDLE_MAX_COLS];
  memset(det, 0, sizeof det);
  size_t nund = 0;
  for (size_t c = 0; c < r->ncols; c++) {
    if (r->cols[c].type != TSR_COL_DATE || r->bind[c] < 0) continue;
    if (r->fmt[c] != TSR_DATEFMT_AUTO) {
      det[c].decided = 1;
      continue;
    }
    nund++;
  }
  if (!nund) return TSR_OK;
  tsr_csv *c2 = NULL;
  tsr_status st;
  if (r->mem)
    st = tsr_csv_open_mem(r->mem, r->mem_len, r->name, &r->o.csv, &c2, err);
  else if (r->path && strcmp(r->path, "-") != 0)
    st = tsr_csv_open(r->path, &r->o.csv, &c2, err);
  else
    st = TSR_EUNSUPPORTED;
  if (st != TSR_OK && st != TSR_EUNSUPPORTED) return st;
  if (c2) {
    tsr_csv_record rec;
    tsr_error e2;
    int first = 1;
    while (nund) {
      st = tsr_csv_next(c2, &rec, &e2);
      if (st == TSR_ENOTFOUND) break;
      if (st == TSR_EIO || st == TSR_ENOMEM) {
        tsr_csv_close(c2);
        if (err) *err = e2;
        return st;
      }
      if (st != TSR_OK) continue;
      if (first) { /* the header */
        first = 0;
        continue;
      }
      for (size_t c = 0; c < r->ncols; c++) {
        datedet *d = &det[c];
        if (r->cols[c].type != TSR_COL_DATE || r->bind[c] < 0 || d->decided) continue;
        if ((size_t)r->bind[c] >= rec.nfields) continue;
        const tsr_csv_field *f = &rec.fields[r->bind[c]];
        det_value(d, f->ptr, f->len);
        if ((d->max_a > 12 && d->max_b > 12) || (d->n_ab == 0 && d->n_iso >= DET_ISO_ENOUGH) ||
            (d->n_ab >= DET_CONFIRM && (d->max_a > 12 || d->max_b > 12))) {
          d->decided = 1;
          nund--;
        }
      }
    }
    tsr_csv_close(c2);
  }
  for (size_t c = 0; c < r->ncols; c++) {
    datedet *d = &det[c];
    if (r->cols[c].type != TSR_COL_DATE || r->bind[c] < 0 || r->fmt[c] != TSR_DATEFMT_AUTO) continue;
    const char *cn = r->cols[c].name;
    if (d->n_ab == 0) {
      r->fmt[c] = TSR_DATEFMT_ISO;
    } else if (d->max_a > 12 && d->max_b > 12) {
      return tsr_error_set(err, TSR_EPARSE, r->name, 0, 0, cn,
                           "date column '%s' mixes day-first and month-first values "
                           "(DD/MM/YYYY and MM/DD/YYYY both occur); choose the %s table's date form: "
                           "dmy or mdy",
                           r->hdr_name[c], schemas[r->t].name);
    } else if (d->max_a > 12) {
      r->fmt[c] = TSR_DATEFMT_DMY;
    } else if (d->max_b > 12) {
      r->fmt[c] = TSR_DATEFMT_MDY;
    } else {
      return tsr_error_set(err, TSR_EPARSE, r->name, 0, 0, cn,
                           "date column '%s' is ambiguous: its values fit both day-first "
                           "(DD/MM/YYYY) and month-first (MM/DD/YYYY); choose the %s table's date "
                           "form: dmy or mdy",
                           r->hdr_name[c], schemas[r->t].name);
    }
    note(r, cn, "date column '%s': %s", r->hdr_name[c], form_name(r->fmt[c], d->has_time, d->yyyymmdd));
  }
  return TSR_OK;
}

static tsr_status reader_init(tsr_bundle_reader *r, tsr_error *err) {
  r->cols = schemas[r->t].cols;
  r->ncols = schemas[r->t].n;
  r->st.min_time = INT64_MAX;
  r->st.max_time = INT64_MIN;
  const char *df = r->o.date_format[r->t];
  tsr_datefmt forced = TSR_DATEFMT_AUTO;
  if (df && *df) {
    if (strcasecmp(df, "iso") == 0) forced = TSR_DATEFMT_ISO;
    else if (strcasecmp(df, "dmy") == 0) forced = TSR_DATEFMT_DMY;
    else if (strcasecmp(df, "mdy") == 0) forced = TSR_DATEFMT_MDY;
    else {
      tsr_status fs = tsr_datetime_check_format(df, err);
      if (fs != TSR_OK) return fs;
      forced = TSR_DATEFMT_CUSTOM;
      r->custom_fmt = df;
    }
  }
  for (size_t c = 0; c < TSR_BUNDLE_MAX_COLS; c++) r->fmt[c] = forced;
  tsr_csv_record h;
  tsr_status st;
  for (;;) {
    st = tsr_csv_next(r->csv, &h, err);
    if (st == TSR_ENOTFOUND)
      return tsr_error_set(err, TSR_EPARSE, r->name, 1, 0, NULL,
                           "expected a header line, got an empty file");
    if (st != TSR_OK) return st; /* a broken header is fatal */
    break;
  }
  r->nfields = h.nfields;
  st = bind_header(r, &h, err);
  if (st != TSR_OK) return st;
  return detect_dates(r, err);
}

static tsr_status open_common(tsr_bundle_table t, tsr_csv *c, const char *name, const char *path,
                              const char *mem, size_t mem_len, const tsr_bundle_opts *opts,
                              tsr_bundle_reader **out, tsr_error *err) {
  *out = NULL;
  tsr_bundle_reader *r = tsr__calloc(1, sizeof *r);
  if (!r) {
    tsr_csv_close(c);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  r->t = t;
  if (opts) r->o = *opts;
  else tsr_bundle_opts_init(&r->o);
  r->csv = c;
  r->name = tsr__strdup(name);
  r->path = path;
  r->mem = mem;
  r->mem_len = mem_len;
  if (!r->name) {
    tsr_bundle_reader_close(r);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  tsr_status st = reader_init(r, err);
  r->path = NULL; /* borrowed only during open */
  if (st != TSR_OK) {
    tsr_bundle_reader_close(r);
    return st;
  }
  *out = r;
  return TSR_OK;
}

tsr_status tsr_bundle_reader_open(tsr_bundle_table t, const char *path, const tsr_bundle_opts *opts,
                          tsr_bundle_reader **out, tsr_error *err) {
  *out = NULL;
  if (!table_ok(t) || !path) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "invalid table");
  tsr_bundle_opts d;
  if (!opts) {
    tsr_bundle_opts_init(&d);
    opts = &d;
  }
  tsr_csv *c;
  tsr_status st = tsr_csv_open(path, &opts->csv, &c, err);
  if (st != TSR_OK) return st;
  return open_common(t, c, tsr_csv_name(c), path, NULL, 0, opts, out, err);
}

tsr_status tsr_bundle_reader_open_mem(tsr_bundle_table t, const char *buf, size_t len, const char *name,
                              const tsr_bundle_opts *opts, tsr_bundle_reader **out,
                              tsr_error *err) {
  *out = NULL;
  if (!table_ok(t)) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "invalid table");
  tsr_bundle_opts d;
  if (!opts) {
    tsr_bundle_opts_init(&d);
    opts = &d;
  }
  tsr_csv *c;
  tsr_status st = tsr_csv_open_mem(buf, len, name, &opts->csv, &c, err);
  if (st != TSR_OK) return st;
  return open_common(t, c, tsr_csv_name(c), NULL, buf, len, opts, out, err);
}

tsr_status tsr_bundle_open_table(const tsr_bundle *b, tsr_bundle_table t, const tsr_bundle_opts *opts,
                                 tsr_bundle_reader **out, tsr_error *err) {
  *out = NULL;
  const char *p = tsr_bundle_path(b, t);
  if (!p)
    return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "the bundle has no %s table",
                         tsr_bundle_table_name(t));
  return tsr_bundle_reader_open(t, p, opts, out, err);
}

static tsr_status reject(tsr_bundle_reader *r, const tsr_csv_record *rec, tsr_status code,
                         int64_t line, int64_t col, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static tsr_status reject(tsr_bundle_reader *r, const tsr_csv_record *rec, tsr_status code,
                         int64_t line, int64_t col, const char *field, const char *fmt, ...) {
  char reason[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  r->st.rows_rejected++;
  if (r->o.on_reject) {
    /* the raw record of a table with personal data is withheld (the row is
     * at FILE:LINE of the input) unless show_pii */
    int hide = 0;
    for (size_t c = 0; c < r->ncols && !r->o.show_pii; c++)
      if (r->cols[c].pii && r->bind[c] >= 0) hide = 1;
    tsr_reject rj = {code, r->name, line, col, field ? field : "", reason,
                     rec && !hide ? rec->raw : "", rec && !hide ? rec->raw_len : 0};
    r->o.on_reject(r->o.ud, &rj);
  }
  if (r->o.max_errors >= 0 && r->st.rows_rejected > r->o.max_errors) return TSR_EMAXERR;
  return TSR_OK;
}

/* The value as shown in a reason: redacted for personal data. */
static const char *shown(const tsr_bundle_reader *r, size_t c, char *buf, size_t cap,
                         const char *s, size_t n) {
  if (r->cols[c].pii && !r->o.show_pii) return "<redacted>";
  return fmt_got(buf, cap, s, n);
}

static int parse_flag(const char *s, size_t n, double *out) {
  char b[8];
  if (n == 0 || n >= sizeof b) return -1;
  for (size_t i = 0; i < n; i++) b[i] = (char)tolower((unsigned char)s[i]);
  b[n] = '\0';
  if (!strcmp(b, "1") || !strcmp(b, "yes") || !strcmp(b, "y") || !strcmp(b, "true") || !strcmp(b, "t")) {
    *out = 1;
    return 0;
  }
  if (!strcmp(b, "0") || !strcmp(b, "no") || !strcmp(b, "n") || !strcmp(b, "false") || !strcmp(b, "f")) {
    *out = 0;
    return 0;
  }
  return -1;
}

static int parse_event(const char *s, size_t n, double *out) {
  char b[12];
  if (n == 0 || n >= sizeof b) return -1;
  for (size_t i = 0; i < n; i++) b[i] = (char)tolower((unsigned char)s[i]);
  b[n] = '\0';
  if (!strcmp(b, "open") || !strcmp(b, "opened") || !strcmp(b, "o") || !strcmp(b, "+1") || !strcmp(b, "1")) {
    *out = 1;
    return 0;
  }
  if (!strcmp(b, "close") || !strcmp(b, "closed") || !strcmp(b, "c") || !strcmp(b, "-1")) {
    *out = -1;
    return 0;
  }
  return -1;
}

/* 1 when the field s[0..n) (n > 0) is a value as it stands: ASCII without
 * NUL bytes (so valid UTF-8), neither end a space or control byte (so
 * tsr__trim leaves it whole); the checks of do_record's general path
 * would all pass without a change. */
static inline int plain_value(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  if (u[0] <= 0x20 || u[n - 1] <= 0x20) return 0;
  unsigned char hi = 0, lo = 0xFF;
  for (size_t i = 0; i < n; i++) {
    hi |= u[i];
    lo = u[i] < lo ? u[i] : lo;
  }
  return hi < 0x80 && lo != 0;
}

/* Validates a record into r->v; 1 accepted, 0 rejected (*st set). own:
 * the record's fields lie in r->line (tsr_bundle_next's fast path), NUL-
 * terminated and writable, and the values point there; NULL: the values
 * are copied into the arena. */
static int do_record(tsr_bundle_reader *r, const tsr_csv_record *rec, char *own, tsr_status *st) {
  char got[200];
  *st = TSR_OK;
  if (rec->nfields != r->nfields) {
    const tsr_csv_field *lf = &rec->fields[rec->nfields > r->nfields ? r->nfields : rec->nfields - 1];
    int64_t col = rec->nfields > r->nfields ? lf->column
                                            : lf->column + (int64_t)lf->len + (lf->quoted ? 2 : 0);
    *st = reject(r, rec, TSR_EPARSE, lf->line, col, "", "expected %zu fields, got %zu",
                 r->nfields, rec->nfields);
    return 0;
  }
  /* arena: every bound field, NUL-terminated */
  size_t need = 1;
  for (size_t c = 0; c < r->ncols && !own; c++)
    if (r->bind[c] >= 0) need += rec->fields[r->bind[c]].len + 1;
  if (!own && need > r->arena_cap) {
    size_t cap = r->arena_cap ? r->arena_cap : 256;
    while (cap < need) cap *= 2;
    char *a = tsr__realloc(r->arena, cap);
    if (!a) {
      *st = TSR_ENOMEM;
      return 0;
    }
    r->arena = a;
    r->arena_cap = cap;
  }
  size_t used = 0;
  for (size_t c = 0; c < r->ncols; c++) {
    tsr_value *v = &r->v[c];
    v->s = "";
    v->len = 0;
    v->t = 0;
    v->num = NAN;
    v->present = 0;
    if (r->bind[c] < 0) {
      if (r->t == TSR_BT_PRODUCTS && c == TSR_PE_EVENT) v->num = 1;
      continue;
    }
    const colspec *cs = &r->cols[c];
    const tsr_csv_field *f = &rec->fields[r->bind[c]];
    const char *p = f->ptr;
    size_t n = f->len;
    if (r->general || !n || !plain_value(p, n)) {
      tsr__trim(&p, &n);
      if (n == 0) {
        if (cs->required) {
          *st = reject(r, rec, TSR_EPARSE, f->line, f->column, cs->name, "expected %s, got ''",
                       cs->type == TSR_COL_DATE     ? "a date"
                       : cs->type == TSR_COL_NUMBER ? "a number"
                                                    : "a value");
          return 0;
        }
        if (r->t == TSR_BT_PRODUCTS && c == TSR_PE_EVENT) v->num = 1;
        continue;
      }
      if (memchr(p, '\0', n)) {
        *st = reject(r, rec, TSR_EPARSE, f->line, f->column, cs->name,
                     "expected text without NUL bytes, got '%s'", shown(r, c, got, sizeof got, p, n));
        return 0;
      }
      size_t ok = utf8_valid_prefix((const unsigned char *)p, n);
      if (ok != n) {
        *st = reject(r, rec, TSR_EPARSE, f->line, f->column + (int64_t)ok + (int64_t)(p - f->ptr),
                     cs->name, "expected valid UTF-8, got byte \\x%02x", (unsigned char)p[ok]);
        return 0;
      }
    }
    switch (cs->type) {
    case TSR_COL_ID:
      if (n > TSR_INGEST_MAX_ID) {
        *st = reject(r, rec, TSR_ELIMIT, f->line, f->column, cs->name,
                     "expected at most %d bytes, got %zu", TSR_INGEST_MAX_ID, n);
        return 0;
      }
      break;
    case TSR_COL_TEXT:
      break;
    case TSR_COL_DATE: {
      tsr_status ds = tsr_date_parse_form(p, n, r->fmt[c], r->custom_fmt, &v->t);
      if (ds != TSR_OK) {
        if (ds == TSR_ERANGE)
          *st = reject(r, rec, TSR_ERANGE, f->line, f->column, cs->name,
                       "expected a date between 1900-01-01 and 2100-12-31, got '%s'",
                       shown(r, c, got, sizeof got, p, n));
        else
          *st = reject(r, rec, TSR_EPARSE, f->line, f->column, cs->name,
                       "expected a date (%s), got '%s'",
                       r->fmt[c] == TSR_DATEFMT_CUSTOM ? r->custom_fmt
                                                       : form_name(r->fmt[c], 1, 0),
                       shown(r, c, got, sizeof got, p, n));
        return 0;
      }
      break;
    }
    case TSR_COL_NUMBER: {
      tsr_status as;
      if (r->o.decimal_comma) {
        char sw[128];
        if (n >= sizeof sw) {
          as = TSR_EPARSE;
        } else {
          for (size_t k = 0; k < n; k++) sw[k] = p[k] == ',' ? '.' : p[k] == '.' ? ',' : p[k];
          as = tsr_amount_parse(sw, n, &v->num);
        }
      } else {
        as = tsr_amount_parse(p, n, &v->num);
      }
      if (as != TSR_OK) {
        *st = reject(r, rec, as == TSR_ERANGE ? TSR_ERANGE : TSR_EPARSE, f->line, f->column,
                     cs->name, "expected a %snumber, got '%s'", as == TSR_ERANGE ? "finite " : "",
                     shown(r, c, got, sizeof got, p, n));
        return 0;
      }
      if (r->t == TSR_BT_CUSTOMERS && c == TSR_CU_RISK_SCORE && (v->num < 0 || v->num > 100)) {
        *st = reject(r, rec, TSR_ERANGE, f->line, f->column, cs->name,
                     "expected a number in [0, 100], got '%s'", fmt_got(got, sizeof got, p, n));
        return 0;
      }
      break;
    }
    case TSR_COL_FLAG:
      if (parse_flag(p, n, &v->num)) {
        *st = reject(r, rec, TSR_EPARSE, f->line, f->column, cs->name,
                     "expected 0 or 1, got '%s'", fmt_got(got, sizeof got, p, n));
        return 0;
      }
      break;
    }
    if (r->t == TSR_BT_PRODUCTS && c == TSR_PE_EVENT && parse_event(p, n, &v->num)) {
      *st = reject(r, rec, TSR_EPARSE, f->line, f->column, cs->name,
                   "expected open or close, got '%s'", fmt_got(got, sizeof got, p, n));
      return 0;
    }
    if (own) { /* in place: the value ends at a byte of its field or at its end */
      char *w = own + (p - own);
      w[n] = '\0';
      v->s = w;
    } else {
      memcpy(r->arena + used, p, n);
      r->arena[used + n] = '\0';
      v->s = r->arena + used;
      used += n + 1;
    }
    v->len = n;
    v->present = 1;
  }
  return 1;
}

/* A simple record of tsr__csv_next_fast (its fields point into the CSV
 * reader's buffer, not NUL-terminated) made the record tsr_csv_next gives:
 * its bytes copied to r->line with every field NUL-terminated there (on
 * the delimiter after it), rec->fields = r->lf pointing there; rec->raw
 * stays the input's bytes. 0 or -1 (out of memory). */
static int own_record(tsr_bundle_reader *r, tsr_csv_record *rec) {
  if (rec->raw_len + 1 > r->line_cap) {
    size_t cap = r->line_cap ? r->line_cap : 256;
    while (cap < rec->raw_len + 1) cap *= 2;
    char *b = tsr__realloc(r->line, cap);
    if (!b) return -1;
    r->line = b;
    r->line_cap = cap;
  }
  if (rec->nfields > r->lf_cap) {
    void *b = r->lf;
    if (tsr__grow(&b, &r->lf_cap, rec->nfields, sizeof *r->lf) != TSR_OK) return -1;
    r->lf = b;
  }
  memcpy(r->line, rec->raw, rec->raw_len);
  r->line[rec->raw_len] = '\0';
  for (size_t k = 0; k < rec->nfields; k++) {
    const tsr_csv_field *f = &rec->fields[k];
    size_t off = (size_t)(f->ptr - rec->raw);
    r->lf[k] = *f;
    r->lf[k].ptr = r->line + off;
    r->line[off + f->len] = '\0';
  }
  rec->fields = r->lf;
  return 0;
}

void tsr__bundle_reader_general(tsr_bundle_reader *r, int on) { r->general = on != 0; }

tsr_status tsr_bundle_next(tsr_bundle_reader *r, tsr_bundle_row *row, tsr_error *err) {
  for (;;) {
    tsr_csv_record rec;
    tsr_error rerr;
    tsr_status st;
    char *own = NULL;
    if (!r->general && tsr__csv_next_fast(r->csv, &rec)) { /* a simple record */
      if (own_record(r, &rec))
        return tsr_error_set(err, TSR_ENOMEM, r->name, 0, 0, NULL, "out of memory");
      own = r->line;
      st = TSR_OK;
    } else {
      st = tsr_csv_next(r->csv, &rec, &rerr);
    }
    if (st == TSR_ENOTFOUND) return TSR_ENOTFOUND;
    if (st == TSR_EIO || st == TSR_ENOMEM) {
      if (err) *err = rerr;
      return st;
    }
    r->st.rows_read++;
    if (st == TSR_OK && r->on_csv) r->on_csv(r->on_csv_ud, &rec);
    if (st != TSR_OK) {
      st = reject(r, &rec, st, rerr.line, rerr.column, "", "%s", rerr.msg);
    } else if (do_record(r, &rec, own, &st)) {
      r->st.rows_accepted++;
      size_t md = schemas[r->t].main_date;
      if (md != (size_t)-1 && r->v[md].present) {
        if (r->v[md].t < r->st.min_time) r->st.min_time = r->v[md].t;
        if (r->v[md].t > r->st.max_time) r->st.max_time = r->v[md].t;
      }
      row->v = r->v;
      row->n = r->ncols;
      row->line = rec.line;
      return TSR_OK;
    }
    if (st == TSR_EMAXERR)
      return tsr_error_set(err, TSR_EMAXERR, r->name, 0, 0, NULL,
                           "too many rejected rows: more than %lld",
                           (long long)r->o.max_errors);
    if (st == TSR_ENOMEM) return tsr_error_set(err, TSR_ENOMEM, r->name, 0, 0, NULL, "out of memory");
  }
}
