/*
 * profile_util.c - small helpers of lib/profile/: header binding, dates,
 * string pools and interning (profile_internal.h).
 */
#include "profile_internal.h"

#include <ctype.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "tessera/datetime.h"
#include "tessera/ingest.h"

static void norm(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n && o + 1 < cap; i++) {
    unsigned char c = (unsigned char)s[i];
    if (isalnum(c)) out[o++] = (char)tolower(c);
  }
  out[o] = '\0';
}

ptrdiff_t tsr__col_find(const tsr_csv_record *hdr, const char *const *names) {
  for (const char *const *a = names; *a; a++) {
    for (size_t k = 0; k < hdr->nfields; k++) {
      char nh[64];
      norm(hdr->fields[k].ptr, hdr->fields[k].len, nh, sizeof nh);
      if (!strcmp(nh, *a)) return (ptrdiff_t)k;
    }
  }
  return -1;
}

tsr_status tsr__csv_read_rows(const char *path, const tsr__csv_rows *rd, int64_t *rejected,
                              tsr_error *err) {
  if (rejected) *rejected = 0;
  tsr_csv *c = NULL;
  tsr_status st = tsr_csv_open(path, rd->csv, &c, err);
  if (st) return st;
  const char *src = tsr_csv_name(c);
  tsr_csv_record rec;
  st = tsr_csv_next(c, &rec, err);
  if (st == TSR_ENOTFOUND) {
    st = tsr_error_set(err, TSR_EPARSE, src, 1, 1, NULL, "expected a header line, got an empty file");
    goto done;
  }
  if (st || (st = rd->header(rd->ctx, &rec, src, err))) goto done;
  size_t nhdr = rec.nfields;
  int64_t nrej = 0;
  for (;;) {
    tsr_error e;
    tsr_error_clear(&e);
    st = tsr_csv_next(c, &rec, &e);
    if (st == TSR_ENOTFOUND) {
      st = TSR_OK;
      break;
    }
    if (st == TSR_EIO) {
      if (err) *err = e;
      goto done;
    }
    if (!st && rec.nfields != nhdr) {
      st = tsr_error_set(&e, TSR_EPARSE, src, rec.line, 1, NULL,
                         "expected %zu fields as in the header, got %zu", nhdr, rec.nfields);
    } else if (!st) {
      st = rd->row(rd->ctx, &rec, src, &e);
      if (st == TSR_ENOMEM) {
        if (err) *err = e;
        goto done;
      }
    }
    if (!st) continue;
    nrej++;
    if (rd->on_reject) {
      tsr_reject rj = {e.code, src, e.line, e.column, e.field, e.msg,
                       rd->raw_in_rejects ? rec.raw : NULL, rd->raw_in_rejects ? rec.raw_len : 0};
      rd->on_reject(rd->ud, &rj);
    }
    if (rd->max_errors >= 0 && nrej > rd->max_errors) {
      st = tsr_error_set(err, TSR_EMAXERR, src, 0, 0, NULL, "more than %lld rows rejected",
                         (long long)rd->max_errors);
      break;
    }
  }
  if (rejected) *rejected = nrej;
done:
  tsr_csv_close(c);
  return st;
}

static int digits(const char *s, size_t n, int *v) {
  int x = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    x = x * 10 + (s[i] - '0');
  }
  *v = x;
  return 0;
}

int tsr__parse_day(const char *s, size_t n, int32_t *day) {
  while (n && isspace((unsigned char)*s)) s++, n--;
  for (size_t i = 0; i < n; i++)
    if (s[i] == 'T' || s[i] == ' ') {
      n = i;
      break;
    }
  int y, m, d;
  if (n == 10 && (s[4] == '-' || s[4] == '/') && s[7] == s[4]) {
    if (digits(s, 4, &y) || digits(s + 5, 2, &m) || digits(s + 8, 2, &d)) return -1;
  } else if (n == 8) {
    if (digits(s, 4, &y) || digits(s + 4, 2, &m) || digits(s + 6, 2, &d)) return -1;
  } else if (n == 10 && s[2] == '.' && s[5] == '.') {
    if (digits(s, 2, &d) || digits(s + 3, 2, &m) || digits(s + 6, 4, &y)) return -1;
  } else {
    return -1;
  }
  if (y < 1800 || y > 2200 || m < 1 || m > 12 || d < 1) return -1;
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > mdays[m - 1] + (m == 2 && leap)) return -1;
  *day = (int32_t)tsr_days_from_civil(y, (unsigned)m, (unsigned)d);
  return 0;
}

double tsr__now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int tsr__strpool_add(tsr__strpool *p, const char *s, size_t n, uint32_t *off) {
  if (p->used + n + 1 > UINT32_MAX) return -1;
  if (tsr__grow((void **)&p->buf, &p->cap, p->used + n + 1, 1)) return -1;
  if (n) memcpy(p->buf + p->used, s, n);
  p->buf[p->used + n] = '\0';
  *off = (uint32_t)p->used;
  p->used += n + 1;
  return 0;
}

void tsr__strpool_release(tsr__strpool *p) {
  tsr__free(p->buf);
  memset(p, 0, sizeof *p);
}

static int intern_rehash(tsr__intern *t, size_t nslots) {
  uint64_t *s = tsr__calloc(nslots, sizeof *s);
  if (!s) return -1;
  for (size_t i = 0; i < t->n; i++) {
    uint64_t hv = tsr__hash_bytes(t->pool.buf + t->off[i], t->len[i], 0);
    size_t h = (size_t)hv & (nslots - 1);
    while (s[h]) h = (h + 1) & (nslots - 1);
    s[h] = (hv >> 32 << 32) | ((uint64_t)i + 1);
  }
  tsr__free(t->slots);
  t->slots = s;
  t->nslots = nslots;
  return 0;
}

/* The slots hold the hash's high bits beside the index, so a probe reads
 * a string only when those bits match; the lengths are kept (no strlen).
 * A string of n bytes with a NUL byte inside is never found (as a stored
 * string is one up to its NUL), and is added again, as before. */
int tsr__intern_get(tsr__intern *t, const char *s, size_t n, uint32_t *idx) {
  if (!t->nslots && intern_rehash(t, 1024)) return -1;
  size_t mask = t->nslots - 1;
  uint64_t hv = tsr__hash_bytes(s, n, 0), tag = hv >> 32 << 32;
  size_t h = (size_t)hv & mask;
  while (t->slots[h]) {
    uint64_t e = t->slots[h];
    if ((e >> 32 << 32) == tag) {
      uint32_t k = (uint32_t)(e & 0xffffffffu) - 1;
      if (t->len[k] == n && !memcmp(t->pool.buf + t->off[k], s, n)) {
        *idx = k;
        return 0;
      }
    }
    h = (h + 1) & mask;
  }
  if (t->n >= UINT32_MAX - 1 || n > UINT32_MAX) return -1;
  uint32_t off;
  size_t cap = t->cap_n;
  if (tsr__grow((void **)&t->off, &cap, t->n + 1, sizeof *t->off)) return -1;
  cap = t->cap_n;
  if (tsr__grow((void **)&t->len, &cap, t->n + 1, sizeof *t->len)) return -1;
  t->cap_n = cap;
  if (tsr__strpool_add(&t->pool, s, n, &off)) return -1;
  t->off[t->n] = off;
  t->len[t->n] = (uint32_t)strnlen(s, n);
  t->slots[h] = tag | ((uint64_t)t->n + 1);
  *idx = (uint32_t)t->n++;
  if (t->n * 2 > t->nslots && intern_rehash(t, t->nslots * 2)) return -1;
  return 0;
}

int tsr__intern_get_last(tsr__intern *t, const char *s, size_t n, uint32_t *last, uint32_t *idx) {
  if (*last) {
    uint32_t k = *last - 1;
    if (t->len[k] == n && !memcmp(t->pool.buf + t->off[k], s, n)) {
      *idx = k;
      return 0;
    }
  }
  if (tsr__intern_get(t, s, n, idx)) return -1;
  *last = *idx + 1;
  return 0;
}

const char *tsr__intern_str(const tsr__intern *t, uint32_t idx) {
  return t->pool.buf + t->off[idx];
}

void tsr__intern_release(tsr__intern *t) {
  tsr__strpool_release(&t->pool);
  tsr__free(t->off);
  tsr__free(t->len);
  tsr__free(t->slots);
  memset(t, 0, sizeof *t);
}
