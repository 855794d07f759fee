/*
 * rfm.c - RFM quintile scores, segment schemes and the segment summary
 * (see tessera/rfm.h and docs/rfm.md).
 *
 * Scores follow pandas qcut(x.rank(method='first'), 5): the bin edges of the
 * ranks 1..n are 1 + (n-1) j/5, bins are right-closed and the first includes
 * its left edge, so rank k gets max(1, ceil(5 (k-1) / (n-1))), computed here
 * in exact integer arithmetic (ties in index order), without ordering all
 * the rows: counted for few distinct values, else only the rows of the (at
 * most 4) buckets of their keys' top 16 bits where the score changes
 * ordered. A scheme is compiled into a table of the segment of each of the
 * 125 (r, f, m) combinations.
 */
#include "internal.h"
#include "base/sort.h"
#include "tessera/csv.h"
#include "tessera/rfm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ scores */

typedef struct keyed {
  double v;
  size_t i;
} keyed;

/* Ascending value, ties by position: rank(method='first'). */
static int keyed_cmp(const void *a, const void *b) {
  const keyed *x = a, *y = b;
  if (x->v < y->v) return -1;
  if (x->v > y->v) return 1;
  return (x->i > y->i) - (x->i < y->i);
}

/* Unsigned keys in the order of the finite doubles (lib/base/sort.c's):
 * the sign bit flipped for positives, every bit for negatives; -0.0 as
 * 0.0. Never 0 for a finite value (the empty slot below). */
static uint64_t rfm_key(double v) {
  uint64_t u;
  if (v == 0) v = 0;
  memcpy(&u, &v, sizeof u);
  return (u >> 63) ? ~u : u | ((uint64_t)1 << 63);
}

/* Distinct values at most (else quintiles_select) and the hash slots. */
#define FEW_MAX 32768u
#define FEW_SLOTS 131072u

typedef struct few_key {
  uint64_t key;
  uint32_t slot;
} few_key;

static int few_key_cmp(const void *a, const void *b) {
  const few_key *x = a, *y = b;
  return (x->key > y->key) - (x->key < y->key);
}

/* The positions in the order by (value, index) of a column of few distinct
 * values (counts, days) without sorting the rows: each row's slot in a
 * hash of the distinct values, the distinct values sorted, the first
 * position of each, then the rows in index order take the next position of
 * their value (the ties in index order, as the stable radix order has
 * them). Scores as there. 0 done, 1 too many distinct values, -1 out of
 * memory. */
static int quintiles_few(const double *x, size_t n, int reverse, int *out) {
  uint64_t *key = tsr__calloc(FEW_SLOTS, sizeof *key);
  uint32_t *cnt = tsr__calloc(FEW_SLOTS, sizeof *cnt);
  uint32_t *slot = n <= UINT32_MAX ? tsr__malloc(n * sizeof *slot) : NULL;
  few_key *fk = NULL;
  int rc = -1;
  if (!key || !cnt || !slot) goto out;
  size_t nd = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t k = rfm_key(x[i]);
    size_t h = (size_t)((k * 0x9E3779B97F4A7C15ull) >> 47); /* 17 bits */
    while (key[h] && key[h] != k) h = (h + 1) & (FEW_SLOTS - 1);
    if (!key[h]) {
      if (++nd > FEW_MAX) {
        rc = 1;
        goto out;
      }
      key[h] = k;
    }
    cnt[h]++;
    slot[i] = (uint32_t)h;
  }
  if (!(fk = tsr__malloc((nd ? nd : 1) * sizeof *fk))) goto out;
  size_t q = 0;
  for (size_t h = 0; h < FEW_SLOTS; h++)
    if (key[h]) fk[q].key = key[h], fk[q++].slot = (uint32_t)h;
  qsort(fk, nd, sizeof *fk, few_key_cmp);
  uint32_t start = 0; /* cnt becomes each value's next position */
  for (size_t j = 0; j < nd; j++) {
    uint32_t c = cnt[fk[j].slot];
    cnt[fk[j].slot] = start;
    start += c;
  }
  const uint64_t d = (uint64_t)n - 1;
  for (size_t i = 0; i < n; i++) {
    uint64_t pos = cnt[slot[i]]++;
    uint64_t s = (5 * pos + d - 1) / d;
    if (s < 1) s = 1;
    out[i] = reverse ? 6 - (int)s : (int)s;
  }
  rc = 0;
out:
  tsr__free(key);
  tsr__free(cnt);
  tsr__free(slot);
  tsr__free(fk);
  return rc;
}

/* The scores of a column of many distinct values without ordering all its
 * rows (issue 18): a score changes at 4 positions only. The rows are
 * counted by the top 16 bits of their keys (the order of the values, as
 * tsr__order_f64 keys them); a bucket whose positions all have one score
 * gives it to its rows at once, and only the rows of the (at most 4)
 * buckets where the score changes are radix sorted by (key, index), the
 * index order of a stable sort of the rows gathered in index order: each
 * row's position, and score, is the one of the order of all rows. 0 done,
 * -1 out of memory (out partly written). */
#define SEL_BITS 16
static int quintiles_select(const double *x, size_t n, int reverse, int *out) {
  const uint64_t d = (uint64_t)n - 1;
  uint32_t *pos = tsr__calloc((size_t)1 << SEL_BITS, sizeof *pos);
  unsigned char *bscore = tsr__malloc((size_t)1 << SEL_BITS);
  uint64_t *key = NULL;
  uint32_t *idx = NULL;
  int rc = -1;
  if (!pos || !bscore) goto out;
  for (size_t i = 0; i < n; i++) pos[tsr__key_f64(x[i]) >> (64 - SEL_BITS)]++;
  size_t start = 0, m = 0; /* m: the rows of the buckets where the score changes */
  for (size_t b = 0; b < ((size_t)1 << SEL_BITS); b++) {
    size_t c = pos[b];
    bscore[b] = 0;
    if (c) {
      uint64_t s0 = (5 * (uint64_t)start + d - 1) / d,
               s1 = (5 * (uint64_t)(start + c - 1) + d - 1) / d;
      if (s0 < 1) s0 = 1;
      if (s1 < 1) s1 = 1;
      if (s0 == s1)
        bscore[b] = (unsigned char)(reverse ? 6 - (int)s0 : (int)s0);
      else
        m += c;
    }
    pos[b] = (uint32_t)start; /* the bucket's next position */
    start += c;
  }
  key = tsr__malloc((m ? m : 1) * sizeof *key);
  idx = tsr__malloc((m ? m : 1) * sizeof *idx);
  if (!key || !idx) goto out;
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t k = tsr__key_f64(x[i]);
    unsigned char s = bscore[k >> (64 - SEL_BITS)];
    if (s) {
      out[i] = s;
    } else {
      key[j] = k;
      idx[j++] = (uint32_t)i;
    }
  }
  if (tsr__radix_sort_u64(key, idx, m) != 0) goto out;
  for (j = 0; j < m; j++) { /* a bucket's rows are together, in order */
    uint64_t p = pos[key[j] >> (64 - SEL_BITS)]++;
    uint64_t s = (5 * p + d - 1) / d;
    if (s < 1) s = 1;
    out[idx[j]] = reverse ? 6 - (int)s : (int)s;
  }
  rc = 0;
out:
  tsr__free(pos);
  tsr__free(bscore);
  tsr__free(key);
  tsr__free(idx);
  return rc;
}
#undef SEL_BITS

tsr_status tsr_rfm_quintiles(const double *x, size_t n, int reverse, int *out,
                             tsr_error *err) {
  if (n == 0) return TSR_OK;
  if (!x || !out)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, !x ? "x" : "out",
                         "expected an array, got NULL");
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i]))
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "x",
                           "expected finite values, got %g at index %zu", x[i], i);
  if (n == 1) {
    out[0] = 3;
    return TSR_OK;
  }
  const uint64_t d = (uint64_t)n - 1;
  /* rank k = pos + 1: ceil(5 (k - 1) / (n - 1)), at least 1 */
#define RFM_SCORE(pos, s)                            \
  uint64_t s = (5 * (uint64_t)(pos) + d - 1) / d;    \
  if (s < 1) s = 1
  /* few distinct values: counted (the same scores, a fraction of the
   * time); else only the rows where the score changes ordered
   * (quintiles_select); else (out of memory there) the order by (value,
   * index) of all rows: radix (lib/base/sort.c) */
  int few = quintiles_few(x, n, reverse, out);
  if (few == 0) return TSR_OK;
  if (n <= UINT32_MAX && quintiles_select(x, n, reverse, out) == 0) return TSR_OK;
  uint32_t *ord = n <= UINT32_MAX ? tsr__malloc(n * sizeof *ord) : NULL;
  if (ord && tsr__order_f64(x, n, ord) == 0) {
    for (size_t pos = 0; pos < n; pos++) {
      RFM_SCORE(pos, s);
      out[ord[pos]] = reverse ? 6 - (int)s : (int)s;
    }
    tsr__free(ord);
    return TSR_OK;
  }
  tsr__free(ord);
  keyed *k = tsr__malloc(n * sizeof *k);
  if (!k) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  for (size_t i = 0; i < n; i++) {
    k[i].v = x[i];
    k[i].i = i;
  }
  qsort(k, n, sizeof *k, keyed_cmp);
  for (size_t pos = 0; pos < n; pos++) {
    RFM_SCORE(pos, s);
    out[k[pos].i] = reverse ? 6 - (int)s : (int)s;
  }
#undef RFM_SCORE
  tsr__free(k);
  return TSR_OK;
}

tsr_status tsr_rfm_score(const double *recency_gap, const double *frequency,
                         const double *monetary, size_t n, int *r, int *f,
                         int *m, tsr_error *err) {
  tsr_status st;
  if (r && (st = tsr_rfm_quintiles(recency_gap, n, 1, r, err))) {
    if (err) snprintf(err->field, sizeof err->field, "recency_gap");
    return st;
  }
  if (f && (st = tsr_rfm_quintiles(frequency, n, 0, f, err))) {
    if (err) snprintf(err->field, sizeof err->field, "frequency");
    return st;
  }
  if (m && (st = tsr_rfm_quintiles(monetary, n, 0, m, err))) {
    if (err) snprintf(err->field, sizeof err->field, "monetary");
    return st;
  }
  return TSR_OK;
}

int tsr_rfm_fm(int f, int m) { return (f + m + 1) / 2; }

char *tsr_rfm_cell(int r, int f, int m, char out[4]) {
  out[0] = (char)('0' + (r >= 0 && r <= 9 ? r : 0));
  out[1] = (char)('0' + (f >= 0 && f <= 9 ? f : 0));
  out[2] = (char)('0' + (m >= 0 && m <= 9 ? m : 0));
  out[3] = '\0';
  return out;
}

/* ------------------------------------------------------------ schemes */

struct tsr_rfm_scheme {
  char *name;
  char **segs;
  size_t nsegs, segs_cap;
  int16_t table[125]; /* segment index of (r-1)*25 + (f-1)*5 + (m-1) */
};

static const char rf10_text[] =
    "segment,r,f,m,fm\n"
    "champions,5,4-5,*,*\n"
    "loyal_customers,3-4,4-5,*,*\n"
    "potential_loyalists,4-5,2-3,*,*\n"
    "new_customers,5,1,*,*\n"
    "promising,4,1,*,*\n"
    "need_attention,3,3,*,*\n"
    "about_to_sleep,3,1-2,*,*\n"
    "at_risk,1-2,3-4,*,*\n"
    "cant_lose,1-2,5,*,*\n"
    "hibernating,1-2,1-2,*,*\n";

static const char rfm11_text[] =
    "segment,r,f,m,fm\n"
    "champions,4-5,*,*,4-5\n"
    "loyal_customers,3-5,*,*,3-5\n"
    "cant_lose,1-2,*,*,4-5\n"
    "at_risk,1-2,*,*,3\n"
    "potential_loyalists,4-5,*,*,2\n"
    "new_customers,5,*,*,1\n"
    "promising,4,*,*,1\n"
    "need_attention,3,*,*,2\n"
    "about_to_sleep,3,*,*,1\n"
    "hibernating,2,*,*,1-2\n"
    "lost,1,*,*,1-2\n";

void tsr_rfm_scheme_free(tsr_rfm_scheme *s) {
  if (!s) return;
  for (size_t i = 0; i < s->nsegs; i++) tsr__free(s->segs[i]);
  tsr__free(s->segs);
  tsr__free(s->name);
  tsr__free(s);
}

const char *tsr_rfm_scheme_name(const tsr_rfm_scheme *s) { return s ? s->name : NULL; }
size_t tsr_rfm_scheme_nsegments(const tsr_rfm_scheme *s) { return s ? s->nsegs : 0; }

const char *tsr_rfm_scheme_segment_name(const tsr_rfm_scheme *s, size_t i) {
  return s && i < s->nsegs ? s->segs[i] : NULL;
}

int tsr_rfm_segment_index(const tsr_rfm_scheme *s, int r, int f, int m) {
  if (!s || r < 1 || r > 5 || f < 1 || f > 5 || m < 1 || m > 5) return -1;
  return s->table[(r - 1) * 25 + (f - 1) * 5 + (m - 1)];
}

const char *tsr_rfm_segment(const tsr_rfm_scheme *s, int r, int f, int m) {
  int i = tsr_rfm_segment_index(s, r, f, m);
  return i < 0 ? NULL : s->segs[i];
}

/* Index of segment name (added when new), or -1 when out of memory. */
static int seg_intern(tsr_rfm_scheme *s, const char *name, size_t len) {
  for (size_t i = 0; i < s->nsegs; i++)
    if (strlen(s->segs[i]) == len && !memcmp(s->segs[i], name, len)) return (int)i;
  if (tsr__grow((void **)&s->segs, &s->segs_cap, s->nsegs + 1, sizeof *s->segs)) return -1;
  char *d = tsr__strndup(name, len);
  if (!d) return -1;
  s->segs[s->nsegs] = d;
  return (int)s->nsegs++;
}

/* Parses a range cell ("*", "a" or "a-b", spaces around allowed) into
 * lo..hi; returns 0 or -1. */
static int parse_range(const char *p, size_t len, int *lo, int *hi) {
  while (len && (*p == ' ' || *p == '\t')) p++, len--;
  while (len && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
  if (len == 1 && *p == '*') {
    *lo = 1;
    *hi = 5;
    return 0;
  }
  if (len == 1 && *p >= '1' && *p <= '5') {
    *lo = *hi = *p - '0';
    return 0;
  }
  if (len == 3 && p[1] == '-' && p[0] >= '1' && p[0] <= '5' && p[2] >= '1' && p[2] <= '5' &&
      p[0] <= p[2]) {
    *lo = p[0] - '0';
    *hi = p[2] - '0';
    return 0;
  }
  return -1;
}

/* Checks a segment name: 1..TSR_RFM_MAX_NAME bytes, no control
 * characters, commas or double quotes. */
static int name_ok(const char *p, size_t len) {
  if (len == 0 || len > TSR_RFM_MAX_NAME) return 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c < 0x20 || c == 0x7f || c == ',' || c == '"') return 0;
  }
  return 1;
}

typedef struct rule {
  int seg;
  int lo[4], hi[4]; /* r, f, m, fm */
} rule;

static const char *const col_names[5] = {"segment", "r", "f", "m", "fm"};

/* Reads the rules of an open scheme CSV and compiles the scheme. */
static tsr_status scheme_load(tsr_csv *c, const char *name, tsr_rfm_scheme **out,
                              tsr_error *err) {
  tsr_status st;
  rule *rules = NULL;
  size_t nrules = 0, rules_cap = 0;
  tsr_rfm_scheme *s = tsr__calloc(1, sizeof *s);
  if (!s || !(s->name = tsr__strdup(name))) goto nomem;
  tsr_csv_record rec;
  int have_header = 0;
  for (;;) {
    st = tsr_csv_next(c, &rec, err);
    if (st == TSR_ENOTFOUND) break;
    if (st) goto fail; /* err filled by the reader */
    if (!have_header) {
      int ok = rec.nfields == 5;
      for (size_t k = 0; ok && k < 5; k++) ok = !strcmp(rec.fields[k].ptr, col_names[k]);
      if (!ok) {
        st = tsr_error_set(err, TSR_EPARSE, name, rec.line, 1, "header",
                           "expected 'segment,r,f,m,fm', got '%.*s'",
                           (int)(rec.raw_len > 200 ? 200 : rec.raw_len), rec.raw);
        goto fail;
      }
      have_header = 1;
      continue;
    }
    if (rec.nfields != 5) {
      st = tsr_error_set(err, TSR_EPARSE, name, rec.line, 1, NULL,
                         "expected 5 fields (segment,r,f,m,fm), got %zu", rec.nfields);
      goto fail;
    }
    if (nrules == TSR_RFM_MAX_RULES) {
      st = tsr_error_set(err, TSR_ELIMIT, name, rec.line, 1, NULL,
                         "too many rules: at most %d", TSR_RFM_MAX_RULES);
      goto fail;
    }
    const tsr_csv_field *fl = rec.fields;
    if (!name_ok(fl[0].ptr, fl[0].len)) {
      st = tsr_error_set(err, TSR_EPARSE, name, fl[0].line, fl[0].column, "segment",
                         "expected a name of 1 to %d bytes without commas, quotes or "
                         "control characters, got '%.80s'",
                         TSR_RFM_MAX_NAME, fl[0].ptr);
      goto fail;
    }
    rule ru;
    for (int k = 0; k < 4; k++) {
      if (parse_range(fl[k + 1].ptr, fl[k + 1].len, &ru.lo[k], &ru.hi[k])) {
        st = tsr_error_set(err, TSR_EPARSE, name, fl[k + 1].line, fl[k + 1].column,
                           col_names[k + 1],
                           "expected '*', 'a' or 'a-b' with 1 <= a <= b <= 5, got '%.80s'",
                           fl[k + 1].ptr);
        goto fail;
      }
    }
    if ((ru.seg = seg_intern(s, fl[0].ptr, fl[0].len)) < 0) goto nomem;
    if (tsr__grow((void **)&rules, &rules_cap, nrules + 1, sizeof *rules)) goto nomem;
    rules[nrules++] = ru;
  }
  if (!have_header || nrules == 0) {
    st = tsr_error_set(err, TSR_EPARSE, name, 0, 0, NULL,
                       "expected a header 'segment,r,f,m,fm' and at least one rule");
    goto fail;
  }
  int other = -1;
  for (int r = 1; r <= 5; r++)
    for (int f = 1; f <= 5; f++)
      for (int m = 1; m <= 5; m++) {
        int v[4] = {r, f, m, tsr_rfm_fm(f, m)}, seg = -1;
        for (size_t i = 0; i < nrules && seg < 0; i++) {
          int ok = 1;
          for (int k = 0; k < 4 && ok; k++) ok = v[k] >= rules[i].lo[k] && v[k] <= rules[i].hi[k];
          if (ok) seg = rules[i].seg;
        }
        if (seg < 0) {
          if (other < 0 && (other = seg_intern(s, "other", 5)) < 0) goto nomem;
          seg = other;
        }
        s->table[(r - 1) * 25 + (f - 1) * 5 + (m - 1)] = (int16_t)seg;
      }
  tsr__free(rules);
  *out = s;
  return TSR_OK;
nomem:
  st = tsr_error_set(err, TSR_ENOMEM, name, 0, 0, NULL, "out of memory");
fail:
  tsr__free(rules);
  tsr_rfm_scheme_free(s);
  return st;
}

tsr_status tsr_rfm_scheme_parse(const char *buf, size_t len, const char *name,
                                tsr_rfm_scheme **out, tsr_error *err) {
  if (!out) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "out", "expected a pointer, got NULL");
  *out = NULL;
  if (!buf) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "buf", "expected a buffer, got NULL");
  if (!name) name = "scheme";
  tsr_csv *c;
  tsr_status st = tsr_csv_open_mem(buf, len, name, NULL, &c, err);
  if (st) return st;
  st = scheme_load(c, name, out, err);
  tsr_csv_close(c);
  return st;
}

tsr_status tsr_rfm_scheme_read(const char *path, tsr_rfm_scheme **out, tsr_error *err) {
  if (!out) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "out", "expected a pointer, got NULL");
  *out = NULL;
  if (!path) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "path", "expected a path, got NULL");
  tsr_csv *c;
  tsr_status st = tsr_csv_open(path, NULL, &c, err);
  if (st) return st;
  st = scheme_load(c, path, out, err);
  tsr_csv_close(c);
  return st;
}

tsr_status tsr_rfm_scheme_builtin(const char *name, tsr_rfm_scheme **out, tsr_error *err) {
  if (!out) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "out", "expected a pointer, got NULL");
  *out = NULL;
  if (name && !strcmp(name, "rf10"))
    return tsr_rfm_scheme_parse(rf10_text, sizeof rf10_text - 1, "rf10", out, err);
  if (name && !strcmp(name, "rfm11"))
    return tsr_rfm_scheme_parse(rfm11_text, sizeof rfm11_text - 1, "rfm11", out, err);
  return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, "scheme",
                       "expected 'rf10' or 'rfm11', got '%s'", name ? name : "(null)");
}

/* ------------------------------------------------------------ summary */

tsr_status tsr_rfm_segment_summary(const tsr_rfm_scheme *s, const int *r, const int *f,
                                   const int *m, const double *revenue, size_t n,
                                   tsr_rfm_segment_stats *out, tsr_error *err) {
  if (!s || !out)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, !s ? "scheme" : "out",
                         "expected a pointer, got NULL");
  if (n && (!r || !f || !m))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, !r ? "r" : !f ? "f" : "m",
                         "expected an array, got NULL");
  for (size_t j = 0; j < s->nsegs; j++) {
    memset(&out[j], 0, sizeof out[j]);
    out[j].segment = s->segs[j];
  }
  double total = 0;
  for (size_t i = 0; i < n; i++) {
    int seg = tsr_rfm_segment_index(s, r[i], f[i], m[i]);
    if (seg < 0)
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "scores",
                           "expected scores in 1..5, got %d,%d,%d at index %zu", r[i], f[i],
                           m[i], i);
    tsr_rfm_segment_stats *o = &out[seg];
    o->customers++;
    o->mean_r += r[i];
    o->mean_f += f[i];
    o->mean_m += m[i];
    if (revenue) {
      o->revenue += revenue[i];
      total += revenue[i];
    }
  }
  for (size_t j = 0; j < s->nsegs; j++) {
    tsr_rfm_segment_stats *o = &out[j];
    if (o->customers) {
      double c = (double)o->customers;
      o->mean_r /= c;
      o->mean_f /= c;
      o->mean_m /= c;
      o->share = c / (double)n;
    }
    o->revenue_share = total != 0 ? o->revenue / total : 0;
  }
  return TSR_OK;
}
