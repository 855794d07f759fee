/*
 * findex.c - a shared index of the files of a run's output folder
 * (churn.csv, nbp.csv, goals.csv, graph.csv) so that a customer view reads
 * the few rows of one customer instead of scanning whole files
 * (docs/web.md "Views of big runs").
 *
 * An index maps the value of a key column (and of a second one: graph.csv's
 * source and target) to the byte offsets of the rows holding it, in file
 * order; it is built on first use of a file version (path, size,
 * modification time, inode) by one request while the others wanting the
 * same file wait, and shared (reference counted: a request keeps the index
 * it started with even when it is evicted meanwhile). A row is read back
 * with pread() and parsed by the same CSV reader, so a view sees the very
 * fields a scan would. Only well-formed records are indexed (a scan skips
 * the others too); there is no row limit.
 *
 * Bounds: at most FINDEX_FILES files and TESSERA_VIEW_INDEX_MB MiB (default
 * 1024; 0 = no index) of index memory in all; the least recently used indexes are evicted
 * beyond that. A file whose index alone would not fit is not indexed: its
 * readers scan it whole, as before (correct, slow). Thread safe: one mutex
 * for the table, one per index for its build; a built index is read-only.
 */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "srv.h"
#include "tessera/csv.h"

#define FINDEX_FILES 16
#define FINDEX_ROW_MAX (64u << 20) /* a record longer than this is not indexed (the file is scanned) */

typedef struct fentry {
  size_t key;  /* arena offset while building, then a pointer (see fix) */
  int64_t off; /* byte offset of the record */
  uint32_t len;
  uint32_t pad;
  size_t seq; /* ordinal of the record among the well-formed ones (header = 0) */
} fentry;

enum { FX_NEW, FX_READY, FX_FAILED, FX_TOO_BIG };

struct srv_findex {
  atomic_int refs;
  pthread_mutex_t mu; /* held while building */
  int state;
  char path[1200], key[64], key2[64], num[64];
  int64_t size, mtime_ns, ino;
  uint64_t used; /* LRU clock */
  int fd;
  char *arena; /* keys and header names */
  size_t narena, caparena;
  size_t *hdr; /* arena offsets of the header names */
  size_t nhdr;
  int kcol, k2col, ncol;
  fentry *e;
  size_t n, cap;
  double *numv; /* num column of each entry (NAN when not a number), or NULL */
  size_t nnum;  /* entries with a non-empty valid UTF-8 key and a finite num */
  size_t bytes;
  size_t budget;
};

static pthread_mutex_t fx_mu = PTHREAD_MUTEX_INITIALIZER;
static srv_findex *fx_cache[FINDEX_FILES];
static size_t fx_bytes; /* of the ready indexes in fx_cache */
static uint64_t fx_clock;
static atomic_llong m_builds, m_hits, m_scans, m_evictions, m_too_big, m_failed;
static atomic_llong m_bytes_gauge, m_files_gauge;

/* TESSERA_VIEW_INDEX_MB: 0 = no index (every read scans), 1..1048576 MiB;
 * 1024 when unset, and when invalid (said once on stderr). Read once. */
size_t srv_findex_budget(void) {
  static atomic_size_t budget = 1; /* 1 = not read yet */
  size_t b = atomic_load(&budget);
  if (b != 1) return b;
  const char *s = getenv("TESSERA_VIEW_INDEX_MB");
  char *end = NULL;
  unsigned long long mb = s && *s ? strtoull(s, &end, 10) : 1024;
  if (end && (*end || mb > (1ull << 20) || *s == '-')) {
    fprintf(stderr,
            "serve: TESSERA_VIEW_INDEX_MB=%.40s is not a whole number of MiB in 0..1048576; "
            "using 1024\n",
            s);
    mb = 1024;
  }
  b = (size_t)mb << 20;
  atomic_store(&budget, b);
  return b;
}

/* ---------------------------------------------------------------- UTF-8 (as jansson checks keys) */

int srv_utf8_valid(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    unsigned c = *p;
    size_t n;
    uint32_t v;
    if (c < 0x80) {
      p++;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 2, v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3, v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4, v = c & 0x07;
    } else {
      return 0;
    }
    for (size_t i = 1; i < n; i++) {
      if ((p[i] & 0xC0) != 0x80) return 0;
      v = (v << 6) | (p[i] & 0x3F);
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || (n == 3 && v < 0x800) || (n == 4 && v < 0x10000)) return 0;
    p += n;
  }
  return 1;
}

/* ---------------------------------------------------------------- build */

static void fx_free(srv_findex *x) {
  if (x->fd >= 0) close(x->fd);
  free(x->arena);
  free(x->hdr);
  free(x->e);
  free(x->numv);
  pthread_mutex_destroy(&x->mu);
  free(x);
}

void srv_findex_put(srv_findex *x) {
  if (x && atomic_fetch_sub(&x->refs, 1) == 1) fx_free(x);
}

static size_t fx_mem(const srv_findex *x) {
  return sizeof *x + x->caparena + x->nhdr * sizeof *x->hdr + x->cap * (sizeof *x->e + (x->ncol >= 0 ? sizeof(double) : 0));
}

/* The arena offset of a copy of s; (size_t)-1 when out of room. */
static size_t fx_str(srv_findex *x, const char *s) {
  size_t n = strlen(s) + 1;
  if (x->narena + n > x->caparena) {
    size_t c = x->caparena ? 2 * x->caparena : 65536;
    while (c < x->narena + n) c *= 2;
    if (fx_mem(x) - x->caparena + c > x->budget) return (size_t)-1;
    char *a = realloc(x->arena, c);
    if (!a) return (size_t)-1;
    x->arena = a;
    x->caparena = c;
  }
  memcpy(x->arena + x->narena, s, n);
  x->narena += n;
  return x->narena - n;
}

static int fx_add(srv_findex *x, size_t key, const tsr_csv_record *rec, size_t seq, double num) {
  if (x->n == x->cap) {
    size_t c = x->cap ? 2 * x->cap : 4096;
    size_t per = sizeof *x->e + (x->ncol >= 0 ? sizeof(double) : 0);
    if (fx_mem(x) + (c - x->cap) * per > x->budget) return -1;
    fentry *e = realloc(x->e, c * sizeof *e);
    if (!e) return -1;
    x->e = e;
    if (x->ncol >= 0) {
      double *v = realloc(x->numv, c * sizeof *v);
      if (!v) return -1;
      x->numv = v;
    }
    x->cap = c;
  }
  fentry *f = &x->e[x->n];
  f->key = key;
  f->off = rec->offset;
  f->len = (uint32_t)rec->raw_len;
  f->pad = 0;
  f->seq = seq;
  if (x->ncol >= 0) x->numv[x->n] = num;
  x->n++;
  return 0;
}

static double num_or_nan(const char *s) {
  if (!s || !*s) return NAN;
  char *end;
  double v = strtod(s, &end);
  return *end ? NAN : v;
}

typedef struct fsort {
  const char *key;
  fentry e;
  double num;
} fsort;

static int fsort_cmp(const void *a, const void *b) {
  const fsort *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  return c ? c : (x->e.seq > y->e.seq) - (x->e.seq < y->e.seq);
}

static const char *fx_field(const tsr_csv_record *rec, int col) {
  return col >= 0 && (size_t)col < rec->nfields ? rec->fields[col].ptr : "";
}

/* Reads the file into x: FX_READY, FX_FAILED (unreadable, no header, read
 * error: the readers scan and find what a scan finds) or FX_TOO_BIG. */
static int fx_build(srv_findex *x) {
  tsr_csv_opts o;
  tsr_csv_opts_init(&o);
  o.no_checksum = 1;
  tsr_csv *c = NULL;
  x->fd = open(x->path, O_RDONLY | O_CLOEXEC);
  if (x->fd < 0) return FX_FAILED;
  struct stat sb;
  if (fstat(x->fd, &sb) != 0 || (int64_t)sb.st_ino != x->ino || (int64_t)sb.st_size != x->size) return FX_FAILED;
  if (tsr_csv_open(x->path, &o, &c, NULL) != TSR_OK) return FX_FAILED;
  tsr_csv_record rec;
  tsr_error err;
  int state = FX_FAILED;
  if (tsr_csv_next(c, &rec, &err) != TSR_OK) goto out;
  x->hdr = calloc(rec.nfields ? rec.nfields : 1, sizeof *x->hdr);
  if (!x->hdr) goto out;
  x->kcol = x->k2col = x->ncol = -1;
  for (size_t f = 0; f < rec.nfields; f++) {
    const char *h = rec.fields[f].ptr;
    if (f == 0 && !strncmp(h, "\xEF\xBB\xBF", 3)) h += 3;
    if ((x->hdr[f] = fx_str(x, h)) == (size_t)-1) goto big;
    x->nhdr++;
    if (x->kcol < 0 && !strcmp(h, x->key)) x->kcol = (int)f;
    if (x->k2col < 0 && x->key2[0] && !strcmp(h, x->key2)) x->k2col = (int)f;
    if (x->ncol < 0 && x->num[0] && !strcmp(h, x->num)) x->ncol = (int)f;
  }
  if (x->num[0] && x->ncol < 0) x->ncol = (int)rec.nfields + 1; /* absent: every value "" (NAN) */
  size_t seq = 0, last = (size_t)-1;
  tsr_status s;
  while ((s = tsr_csv_next(c, &rec, &err)) != TSR_ENOTFOUND) {
    if (s == TSR_EIO) goto out;
    if (s != TSR_OK) continue;
    seq++;
    if (rec.raw_len > FINDEX_ROW_MAX) goto out; /* not worth indexing: scanned */
    const char *k = fx_field(&rec, x->kcol);
    if (last == (size_t)-1 || strcmp(x->arena + last, k)) /* rows of a key are mostly consecutive */
      if ((last = fx_str(x, k)) == (size_t)-1) goto big;
    double num = x->ncol >= 0 ? num_or_nan(fx_field(&rec, x->ncol)) : NAN;
    if (fx_add(x, last, &rec, seq, num)) goto big;
    if (x->k2col >= 0) {
      const char *k2 = fx_field(&rec, x->k2col);
      if (strcmp(k, k2)) {
        size_t at = fx_str(x, k2);
        if (at == (size_t)-1 || fx_add(x, at, &rec, seq, num)) goto big;
      }
    }
  }
  /* sort by (key, file order) through a temporary array of pointers */
  fsort *t = x->n ? malloc(x->n * sizeof *t) : NULL;
  if (x->n && (!t || fx_mem(x) + x->n * sizeof *t > x->budget)) {
    free(t);
    goto big;
  }
  for (size_t i = 0; i < x->n; i++) {
    t[i].key = x->arena + x->e[i].key;
    t[i].e = x->e[i];
    t[i].num = x->ncol >= 0 ? x->numv[i] : NAN;
  }
  if (x->n) qsort(t, x->n, sizeof *t, fsort_cmp);
  for (size_t i = 0; i < x->n; i++) {
    x->e[i] = t[i].e;
    x->e[i].key = (size_t)(t[i].key - x->arena);
    if (x->ncol >= 0) {
      x->numv[i] = t[i].num;
      if (t[i].key[0] && isfinite(t[i].num) && srv_utf8_valid(t[i].key)) x->nnum++;
    }
  }
  free(t);
  state = FX_READY;
  goto out;
big:
  state = FX_TOO_BIG;
out:
  tsr_csv_close(c);
  if (state != FX_READY) { /* keep only the small record of the outcome */
    free(x->arena);
    free(x->hdr);
    free(x->e);
    free(x->numv);
    x->arena = NULL, x->hdr = NULL, x->e = NULL, x->numv = NULL;
    x->narena = x->caparena = x->nhdr = x->n = x->cap = 0;
    close(x->fd);
    x->fd = -1;
  }
  x->bytes = state == FX_READY ? fx_mem(x) : sizeof *x;
  return state;
}

/* ---------------------------------------------------------------- table */

static void fx_drop(int i) { /* under fx_mu */
  srv_findex *x = fx_cache[i];
  if (x->state == FX_READY) fx_bytes -= x->bytes;
  for (int k = i; k + 1 < FINDEX_FILES; k++) fx_cache[k] = fx_cache[k + 1];
  fx_cache[FINDEX_FILES - 1] = NULL;
  srv_findex_put(x);
}

static void fx_gauges(void) { /* under fx_mu */
  long long nf = 0;
  for (int i = 0; i < FINDEX_FILES && fx_cache[i]; i++) nf += fx_cache[i]->state == FX_READY;
  atomic_store(&m_files_gauge, nf);
  atomic_store(&m_bytes_gauge, (long long)fx_bytes);
}

srv_findex *srv_findex_get(const char *path, const char *key, const char *key2, const char *num) {
  struct stat sb;
  if (!path || stat(path, &sb) != 0 || strlen(path) >= sizeof((srv_findex *)0)->path || !srv_findex_budget()) {
    atomic_fetch_add(&m_scans, 1);
    return NULL;
  }
  int64_t mt = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
  key2 = key2 ? key2 : "";
  num = num ? num : "";
  pthread_mutex_lock(&fx_mu);
  srv_findex *x = NULL;
  for (int i = 0; i < FINDEX_FILES && fx_cache[i]; i++) {
    srv_findex *y = fx_cache[i];
    if (strcmp(y->path, path) || strcmp(y->key, key) || strcmp(y->key2, key2) || strcmp(y->num, num)) continue;
    if (y->size == (int64_t)sb.st_size && y->mtime_ns == mt && y->ino == (int64_t)sb.st_ino) {
      x = y; /* to the front: the last one is the least recently used */
      memmove(&fx_cache[1], &fx_cache[0], (size_t)i * sizeof *fx_cache);
      fx_cache[0] = x;
    } else {
      fx_drop(i); /* stale */
    }
    break;
  }
  if (!x) {
    x = calloc(1, sizeof *x);
    if (!x) {
      pthread_mutex_unlock(&fx_mu);
      return NULL;
    }
    atomic_init(&x->refs, 1); /* the table's */
    pthread_mutex_init(&x->mu, NULL);
    x->fd = -1;
    x->kcol = x->k2col = x->ncol = -1;
    snprintf(x->path, sizeof x->path, "%s", path);
    snprintf(x->key, sizeof x->key, "%s", key);
    snprintf(x->key2, sizeof x->key2, "%s", key2);
    snprintf(x->num, sizeof x->num, "%s", num);
    x->size = (int64_t)sb.st_size;
    x->mtime_ns = mt;
    x->ino = (int64_t)sb.st_ino;
    x->budget = srv_findex_budget();
    if (fx_cache[FINDEX_FILES - 1]) fx_drop(FINDEX_FILES - 1), atomic_fetch_add(&m_evictions, 1);
    memmove(&fx_cache[1], &fx_cache[0], (FINDEX_FILES - 1) * sizeof *fx_cache);
    fx_cache[0] = x;
  }
  x->used = ++fx_clock;
  atomic_fetch_add(&x->refs, 1);
  pthread_mutex_unlock(&fx_mu);

  pthread_mutex_lock(&x->mu);
  if (x->state == FX_NEW) {
    int st = fx_build(x);
    atomic_fetch_add(&m_builds, 1);
    if (st == FX_TOO_BIG) atomic_fetch_add(&m_too_big, 1);
    if (st == FX_FAILED) atomic_fetch_add(&m_failed, 1);
    pthread_mutex_lock(&fx_mu);
    x->state = st;
    int in = 0;
    for (int i = 0; i < FINDEX_FILES && fx_cache[i]; i++) in |= fx_cache[i] == x;
    if (in && st == FX_READY) {
      fx_bytes += x->bytes;
      /* evict the least recently used ready indexes beyond the budget */
      while (fx_bytes > x->budget) {
        int lru = -1;
        for (int i = 0; i < FINDEX_FILES && fx_cache[i]; i++)
          if (fx_cache[i] != x && fx_cache[i]->state == FX_READY && (lru < 0 || fx_cache[i]->used < fx_cache[lru]->used))
            lru = i;
        if (lru < 0) break;
        fx_drop(lru);
        atomic_fetch_add(&m_evictions, 1);
      }
    }
    fx_gauges();
    pthread_mutex_unlock(&fx_mu);
  }
  pthread_mutex_unlock(&x->mu);
  if (x->state != FX_READY) {
    srv_findex_put(x);
    atomic_fetch_add(&m_scans, 1);
    return NULL;
  }
  atomic_fetch_add(&m_hits, 1);
  return x;
}

void srv_findex_clear(void) {
  pthread_mutex_lock(&fx_mu);
  while (fx_cache[0]) fx_drop(0);
  fx_gauges();
  pthread_mutex_unlock(&fx_mu);
}

/* ---------------------------------------------------------------- reads */

size_t srv_findex_find(const srv_findex *x, const char *key, size_t *first) {
  size_t lo = 0, hi = x->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(x->arena + x->e[mid].key, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  size_t end = lo;
  while (end < x->n && !strcmp(x->arena + x->e[end].key, key)) end++;
  *first = lo;
  return end - lo;
}

double srv_findex_num(const srv_findex *x, size_t i) { return x->numv ? x->numv[i] : NAN; }
size_t srv_findex_seq(const srv_findex *x, size_t i) { return x->e[i].seq; }
size_t srv_findex_nnum(const srv_findex *x) { return x->nnum; }
int srv_findex_key_col(const srv_findex *x) { return x->kcol; }

int srv_findex_record(const srv_findex *x, size_t i, srv_record_fn fn, void *ctx) {
  const fentry *f = &x->e[i];
  char stackbuf[4096], *buf = f->len + 1 <= sizeof stackbuf ? stackbuf : malloc((size_t)f->len + 1);
  if (!buf) return -1;
  /* a line end first: the record never starts the buffer (no BOM stripped) */
  buf[0] = '\n';
  size_t got = 0;
  while (got < f->len) {
    ssize_t r = pread(x->fd, buf + 1 + got, f->len - got, f->off + (int64_t)got);
    if (r <= 0) break;
    got += (size_t)r;
  }
  int ret = -1;
  tsr_csv_opts o;
  tsr_csv_opts_init(&o);
  o.no_checksum = 1;
  tsr_csv *c = NULL;
  tsr_csv_record rec;
  if (got == f->len && tsr_csv_open_mem(buf, got + 1, x->path, &o, &c, NULL) == TSR_OK &&
      tsr_csv_next(c, &rec, NULL) == TSR_OK)
    ret = fn(ctx, &rec);
  tsr_csv_close(c);
  if (buf != stackbuf) free(buf);
  return ret;
}

typedef struct rows_ctx {
  const srv_findex *x;
  const char *key;
  int idx[16];
  size_t nwant;
  srv_row_fn fn;
  void *ctx;
} rows_ctx;

static int rows_rec(void *ctx, const tsr_csv_record *rec) {
  rows_ctx *r = ctx;
  const char *v[16];
  for (size_t i = 0; i < r->nwant; i++)
    v[i] = r->idx[i] >= 0 && (size_t)r->idx[i] < rec->nfields ? rec->fields[r->idx[i]].ptr : "";
  return r->fn(r->ctx, v);
}

static void rows_cols(rows_ctx *r, const char *const *want) {
  for (size_t i = 0; i < r->nwant; i++) {
    r->idx[i] = -1;
    for (size_t f = 0; f < r->x->nhdr && r->idx[i] < 0; f++)
      if (!strcmp(r->x->arena + r->x->hdr[f], want[i])) r->idx[i] = (int)f;
  }
}

int srv_findex_values(const srv_findex *x, size_t i, const char *const *want, size_t nwant, srv_row_fn fn,
                      void *ctx) {
  if (nwant > 16) return -1;
  rows_ctx r = {x, NULL, {0}, nwant, fn, ctx};
  rows_cols(&r, want);
  return srv_findex_record(x, i, rows_rec, &r);
}

int srv_findex_rows(const srv_findex *x, const char *key, const char *const *want, size_t nwant, srv_row_fn fn,
                    void *ctx) {
  if (nwant > 16) return -1;
  rows_ctx r = {x, key, {0}, nwant, fn, ctx};
  rows_cols(&r, want);
  size_t first, n = srv_findex_find(x, key, &first);
  for (size_t i = first; i < first + n; i++) {
    int s = srv_findex_record(x, i, rows_rec, &r);
    if (s > 0) break;
  }
  return 0;
}

void srv_findex_metrics(srv_buf *b) {
  srv_buf_printf(b,
                 "# HELP tessera_view_files_lookups_total Reads of a run file by the views, by how: index or scan.\n"
                 "# TYPE tessera_view_files_lookups_total counter\n"
                 "tessera_view_files_lookups_total{how=\"index\"} %lld\n"
                 "tessera_view_files_lookups_total{how=\"scan\"} %lld\n"
                 "# HELP tessera_view_files_builds_total Index builds of run files, by outcome (too_big: over the\n"
                 "# memory bound, failed: unreadable or no header; both then scanned).\n"
                 "# TYPE tessera_view_files_builds_total counter\n"
                 "tessera_view_files_builds_total{outcome=\"ready\"} %lld\n"
                 "tessera_view_files_builds_total{outcome=\"too_big\"} %lld\n"
                 "tessera_view_files_builds_total{outcome=\"failed\"} %lld\n"
                 "# HELP tessera_view_files_evictions_total Indexes of run files evicted (files or memory bound).\n"
                 "# TYPE tessera_view_files_evictions_total counter\n"
                 "tessera_view_files_evictions_total %lld\n"
                 "# HELP tessera_view_files_indexed Run files indexed now.\n"
                 "# TYPE tessera_view_files_indexed gauge\n"
                 "tessera_view_files_indexed %lld\n"
                 "# HELP tessera_view_files_index_bytes Memory of the run file indexes.\n"
                 "# TYPE tessera_view_files_index_bytes gauge\n"
                 "tessera_view_files_index_bytes %lld\n",
                 atomic_load(&m_hits), atomic_load(&m_scans), atomic_load(&m_builds) - atomic_load(&m_too_big) - atomic_load(&m_failed),
                 atomic_load(&m_too_big), atomic_load(&m_failed),
                 atomic_load(&m_evictions), atomic_load(&m_files_gauge), atomic_load(&m_bytes_gauge));
}
