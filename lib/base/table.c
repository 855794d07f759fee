/*
 * table.c - a CSV table held in memory (see tessera/table.h). The whole
 * input is read into one buffer and split in place: a plain field (no
 * quotes) is NUL-terminated where it lies (on its delimiter or line end,
 * which the CSV reader has already passed), so a cell costs one offset and
 * no copy; only quoted fields (unescaped by the reader) are copied, to a
 * side arena. Records come from tsr__csv_next_span (same records, lines
 * and errors as tsr_csv_next).
 */
#include "internal.h"
#include "tessera/table.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

struct tsr_table {
  char *name;
  size_t ncols, nrows;
  char **colnames;
  size_t *cells;    /* nrows*ncols offsets: below buf_len + 1 into buf, else
                       into arena (offset - buf_len - 1) */
  size_t cells_cap;
  int64_t *lines;   /* input line of each row; NULL while row r is on line
                       line0 + r */
  size_t lines_cap;
  int64_t line0;
  char *buf;        /* the input, split in place (buf_len + 1 bytes) */
  size_t buf_len;
  char *arena;      /* quoted fields */
  size_t arena_len, arena_cap;
};

void tsr_table_free(tsr_table *t) {
  if (!t) return;
  if (t->colnames) {
    for (size_t j = 0; j < t->ncols; j++) tsr__free(t->colnames[j]);
  }
  tsr__free(t->colnames);
  tsr__free(t->cells);
  tsr__free(t->lines);
  tsr__free(t->buf);
  tsr__free(t->arena);
  tsr__free(t->name);
  tsr__free(t);
}

/* Cell offset of a field of the record just read: in place when it lies in
 * t->buf (NUL-terminated by the caller once the record is done), else
 * copied to the arena. Returns 0 or -1 (no memory). */
static int put_field(tsr_table *t, const tsr_csv_field *f, size_t *off) {
  uintptr_t p = (uintptr_t)f->ptr, b = (uintptr_t)t->buf;
  if (p >= b && p + f->len <= b + t->buf_len) {
    *off = (size_t)(p - b);
    return 0;
  }
  size_t need = t->arena_len + f->len + 1;
  void *a = t->arena;
  if (tsr__grow(&a, &t->arena_cap, need, 1) != TSR_OK) return -1;
  t->arena = a;
  memcpy(t->arena + t->arena_len, f->ptr, f->len);
  t->arena[t->arena_len + f->len] = '\0';
  *off = t->buf_len + 1 + t->arena_len;
  t->arena_len = need;
  return 0;
}

/* Loads the records of c, which reads t->buf (from memory). */
static tsr_status table_load(tsr_csv *c, tsr_table *t, tsr_error *err) {
  tsr_csv_record rec;
  tsr_status st = tsr_csv_next(c, &rec, err);
  if (st == TSR_ENOTFOUND)
    return tsr_error_set(err, TSR_EPARSE, t->name, 1, 0, NULL,
                         "expected a header line, got an empty file");
  if (st != TSR_OK) return st;
  t->ncols = rec.nfields;
  t->line0 = rec.end_line + 1;
  t->colnames = tsr__calloc(t->ncols, sizeof *t->colnames);
  if (!t->colnames) goto nomem;
  for (size_t j = 0; j < t->ncols; j++) {
    t->colnames[j] = tsr__strndup(rec.fields[j].ptr, rec.fields[j].len);
    if (!t->colnames[j]) goto nomem;
  }
  /* rows: a record of ncols fields takes at least ncols - 1 bytes (grown
   * beyond 4M rows) */
  size_t est = t->buf_len / (t->ncols > 1 ? t->ncols - 1 : 1) + 2;
  if (est > ((size_t)1 << 22)) est = (size_t)1 << 22;
  void *p = tsr__malloc_big(est * t->ncols * sizeof(size_t));
  if (!p) goto nomem;
  t->cells = p;
  t->cells_cap = est * t->ncols;
  for (;;) {
    st = tsr__csv_next_span(c, &rec, err);
    if (st == TSR_ENOTFOUND) break;
    if (st != TSR_OK) return st;
    if (rec.nfields != t->ncols) {
      int64_t col = rec.nfields > 0 ? rec.fields[rec.nfields - 1].column : 1;
      return tsr_error_set(err, TSR_EPARSE, t->name, rec.line, col, NULL,
                           "expected %zu fields as in the header, got %zu",
                           t->ncols, rec.nfields);
    }
    p = t->cells;
    if (tsr__grow(&p, &t->cells_cap, (t->nrows + 1) * t->ncols, sizeof(size_t)) != TSR_OK)
      goto nomem;
    t->cells = p;
    if (t->lines || rec.line != t->line0 + (int64_t)t->nrows) {
      /* the lines are kept once a record does not follow its predecessor
       * (blank lines, embedded line ends) */
      size_t had = t->lines_cap;
      p = t->lines;
      if (tsr__grow(&p, &t->lines_cap, t->nrows + 1, sizeof(int64_t)) != TSR_OK) goto nomem;
      t->lines = p;
      if (!had)
        for (size_t r = 0; r < t->nrows; r++) t->lines[r] = t->line0 + (int64_t)r;
      t->lines[t->nrows] = rec.line;
    }
    size_t *row = t->cells + t->nrows * t->ncols;
    for (size_t j = 0; j < t->ncols; j++)
      if (put_field(t, &rec.fields[j], &row[j])) goto nomem;
    /* the record is behind the reader: end its in-place fields */
    for (size_t j = 0; j < t->ncols; j++)
      if (row[j] <= t->buf_len) t->buf[row[j] + rec.fields[j].len] = '\0';
    t->nrows++;
  }
  return TSR_OK;
nomem:
  return tsr_error_set(err, TSR_ENOMEM, t->name, 0, 0, NULL, "out of memory");
}

/* Parses t->buf (t->buf_len bytes, one more allocated) into t. */
static tsr_status table_parse(tsr_table *t, const tsr_csv_opts *opts, tsr_error *err) {
  tsr_csv_opts o;
  if (opts) o = *opts;
  else tsr_csv_opts_init(&o);
  o.no_checksum = 1;
  t->buf[t->buf_len] = '\0';
  tsr_csv *c;
  tsr_status st = tsr_csv_open_mem(t->buf, t->buf_len, t->name, &o, &c, err);
  if (st != TSR_OK) return st;
  st = table_load(c, t, err);
  tsr_csv_close(c);
  return st;
}

static tsr_table *table_new(const char *name) {
  tsr_table *t = tsr__calloc(1, sizeof *t);
  if (t && !(t->name = tsr__strdup(name))) {
    tsr__free(t);
    t = NULL;
  }
  return t;
}

/* Reads all of fd into t->buf (sized from the file when it is regular). */
static tsr_status slurp(int fd, tsr_table *t, tsr_error *err) {
  struct stat sb;
  size_t cap = 1 << 16;
  if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= 0)
    cap = (size_t)sb.st_size + 1;
  t->buf = tsr__malloc_big(cap + 1);
  if (!t->buf) return tsr_error_set(err, TSR_ENOMEM, t->name, 0, 0, NULL, "out of memory");
  for (;;) {
    if (t->buf_len == cap) {
      char *nb = tsr__realloc(t->buf, 2 * cap + 1);
      if (!nb) return tsr_error_set(err, TSR_ENOMEM, t->name, 0, 0, NULL, "out of memory");
      t->buf = nb;
      cap *= 2;
    }
    ssize_t k = read(fd, t->buf + t->buf_len, cap - t->buf_len);
    if (k < 0) {
      if (errno == EINTR) continue;
      return tsr_error_set(err, TSR_EIO, t->name, 1, 0, NULL, "read error: %s",
                           strerror(errno));
    }
    if (k == 0) return TSR_OK;
    t->buf_len += (size_t)k;
  }
}

tsr_status tsr_table_read(const char *path, const tsr_csv_opts *opts,
                          tsr_table **out, tsr_error *err) {
  *out = NULL;
  int is_stdin = strcmp(path, "-") == 0, fd = 0;
  if (!is_stdin) {
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
      close(fd);
      return tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "is a directory");
    }
  }
  tsr_table *t = table_new(is_stdin ? "<stdin>" : path);
  tsr_status st = t ? slurp(fd, t, err)
                    : tsr_error_set(err, TSR_ENOMEM, path, 0, 0, NULL, "out of memory");
  if (!is_stdin) close(fd);
  if (st == TSR_OK) st = table_parse(t, opts, err);
  if (st != TSR_OK) {
    tsr_table_free(t);
    return st;
  }
  *out = t;
  return TSR_OK;
}

tsr_status tsr_table_read_mem(const char *buf, size_t len, const char *name,
                              tsr_table **out, tsr_error *err) {
  *out = NULL;
  tsr_table *t = table_new(name ? name : "<memory>");
  if (!t || !(t->buf = tsr__malloc_big(len + 1))) {
    tsr_table_free(t);
    return tsr_error_set(err, TSR_ENOMEM, name, 0, 0, NULL, "out of memory");
  }
  memcpy(t->buf, buf, len);
  t->buf_len = len;
  tsr_status st = table_parse(t, NULL, err);
  if (st != TSR_OK) {
    tsr_table_free(t);
    return st;
  }
  *out = t;
  return TSR_OK;
}

size_t tsr_table_nrows(const tsr_table *t) { return t->nrows; }
size_t tsr_table_ncols(const tsr_table *t) { return t->ncols; }
const char *tsr_table_colname(const tsr_table *t, size_t col) {
  return col < t->ncols ? t->colnames[col] : NULL;
}
ptrdiff_t tsr_table_find(const tsr_table *t, const char *name) {
  for (size_t j = 0; j < t->ncols; j++)
    if (strcmp(t->colnames[j], name) == 0) return (ptrdiff_t)j;
  return -1;
}
const char *tsr_table_cell(const tsr_table *t, size_t row, size_t col) {
  if (row >= t->nrows || col >= t->ncols) return NULL;
  size_t off = t->cells[row * t->ncols + col];
  return off <= t->buf_len ? t->buf + off : t->arena + (off - t->buf_len - 1);
}
int64_t tsr_table_row_line(const tsr_table *t, size_t row) {
  if (row >= t->nrows) return 0;
  return t->lines ? t->lines[row] : t->line0 + (int64_t)row;
}
const char *tsr_table_name(const tsr_table *t) { return t->name; }

tsr_status tsr_table_column_double_to(const tsr_table *t, size_t col, double *v,
                                      tsr_error *err) {
  if (col >= t->ncols)
    return tsr_error_set(err, TSR_EINVAL, t->name, 0, 0, NULL, "no column %zu", col + 1);
  for (size_t i = 0; i < t->nrows; i++) {
    const char *s = tsr_table_cell(t, i, col);
    const char *p = s;
    while (*p == ' ' || *p == '\t') p++;
    char *end = NULL;
    double x = tsr__strtod(p, &end);
    if (end) {
      while (*end == ' ' || *end == '\t') end++;
    }
    if (!*p || end == p || *end || !isfinite(x))
      return tsr_error_set(err, TSR_EPARSE, t->name, tsr_table_row_line(t, i), (int64_t)col + 1,
                           t->colnames[col], "expected a number, got '%.40s'", s);
    v[i] = x;
  }
  return TSR_OK;
}

tsr_status tsr_table_column_double(const tsr_table *t, size_t col,
                                   double **out, tsr_error *err) {
  *out = NULL;
  if (col >= t->ncols)
    return tsr_error_set(err, TSR_EINVAL, t->name, 0, 0, NULL, "no column %zu", col + 1);
  double *v = tsr__malloc_big((t->nrows ? t->nrows : 1) * sizeof *v);
  if (!v) return tsr_error_set(err, TSR_ENOMEM, t->name, 0, 0, NULL, "out of memory");
  tsr_status st = tsr_table_column_double_to(t, col, v, err);
  if (st != TSR_OK) {
    tsr__free(v);
    return st;
  }
  *out = v;
  return TSR_OK;
}

tsr_status tsr_table_get_double(const tsr_table *t, const char *name,
                                double **out, tsr_error *err) {
  *out = NULL;
  ptrdiff_t j = tsr_table_find(t, name);
  if (j < 0)
    return tsr_error_set(err, TSR_ENOTFOUND, t->name, 1, 0, name,
                         "expected a column named '%s' in the header", name);
  return tsr_table_column_double(t, (size_t)j, out, err);
}

/* ------------------------------------------------ numeric columns, fast */

/* The end of a plain field that starts at p (no quote, CR or NUL, at most
 * TSR_CSV_DEFAULT_MAX_FIELD bytes): its ',' or '\n', or NULL. */
static const char *plain_field_end(const char *p, const char *end) {
  const char *q = p;
  for (; q < end; q++) {
    const char c = *q;
    if (c == ',' || c == '\n') break;
    if (c == '"' || c == '\r' || c == '\0') return NULL;
  }
  return q < end && (size_t)(q - p) <= TSR_CSV_DEFAULT_MAX_FIELD ? q : NULL;
}

/* The '\n' bytes in [p, end): 16 bytes a step (SSE2: the compare masks
 * summed bytewise, at most 255 steps, then added up), the rest one by
 * one. memchr line by line cost a call per 40-byte line. */
static size_t count_lines(const char *p, const char *end) {
  size_t n = 0;
#ifdef __SSE2__
  const __m128i nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
  while (end - p >= 16) {
    const size_t steps = (size_t)(end - p) / 16 < 255 ? (size_t)(end - p) / 16 : 255;
    __m128i acc = zero;
    for (size_t k = 0; k < steps; k++, p += 16)
      acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), nl));
    const __m128i sum = _mm_sad_epu8(acc, zero);
    n += (size_t)_mm_cvtsi128_si32(sum) + (size_t)_mm_cvtsi128_si32(_mm_unpackhi_epi64(sum, sum));
  }
#endif
  for (; p < end; p++) n += *p == '\n';
  return n;
}

/* Header fields of a file the fast path reads (a wider one goes to the
 * table: the arrays below are on the stack). */
#define NUM_MAX_FIELDS 256

/* The rows of a plain mapped file for tsr_table_read_numeric and
 * tsr_table_scan_numeric: begin(ctx, nrows, present) once the header and
 * the row count are known (present[k]: whether column k is in the
 * header), then row(ctx, r, v) for every row r with v[k] the value of
 * column k (0 when absent). Returns 1 when every row was read, 0 when the
 * file is not plain or a callback returned nonzero. */
typedef tsr_table_begin_fn scan_begin_fn;
typedef tsr_table_row_fn scan_row_fn;

/* Rows from which a scan in parts splits the file in two. */
#define SCAN_SPLIT_ROWS 16384

/* Rows r0..r1 of a plain file, the text [s, end) (whole lines). */
struct code_tab;

typedef struct {
  const char *s, *end;
  size_t r0, r1, nh;
  const ptrdiff_t *fld;
  scan_row_fn row;
  void *ctx;
  int part, ok;
  /* tsr_table_scan_codes (code not NULL): each row's numbers at
   * code + r * stride + at[k], the texts of column k in tab[k] */
  uint16_t *code;
  size_t stride;
  const int *at;
  struct code_tab *tab;
} scan_part;

/* A number in plain notation at p (a sign, a digit or a point first: no
 * spaces, inf or nan) ended by delim, into *x; the text past it, or NULL
 * when the field is not such a number. */
static const char *scan_number(const char *p, const char *end, char delim, double *x) {
  const char c = *p;
  if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.')) return NULL;
  char *e = NULL;
  *x = tsr__strtod(p, &e);
  if (!e || e == p || e >= end || *e != delim || !isfinite(*x)) return NULL;
  return e + 1;
}

#ifdef __SSE2__
/* The values of the distinct texts of one column (fields of 1 to 31
 * bytes), so that a text seen before is not parsed again: a summary's
 * columns hold a few hundred distinct numbers (recency and T of 17
 * digits, whose parsing was the largest part of reading the file). The
 * text, zero-padded to 32 bytes, is the key: equal texts have equal
 * values, bit for bit. Open addressing; at most MEMO_CAP texts, past which
 * new ones are parsed every time, and a column of mostly distinct texts
 * (more misses than hits once full) stops looking them up. */
#define MEMO_CAP 4096
#define MEMO_SLOTS (2 * MEMO_CAP)

typedef struct {
  __m128i (*key)[2]; /* MEMO_CAP texts */
  double *val;
  uint16_t *slot; /* MEMO_SLOTS: 1 + entry, or 0 */
  size_t n, hits, misses;
  int off;
} num_memo;

/* bytes i < 32 - k of ZMASK + k are 0xFF, the others 0 */
static const unsigned char ZMASK[64] = {
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255};

/* The field at p through the memo: its end (the byte after the delimiter),
 * NULL when not a number ended by delim. */
static const char *memo_number(num_memo *m, const char *p, const char *end, char delim,
                               double *x) {
  if (m->off || end - p < 32) return scan_number(p, end, delim, x);
  const __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p),
                b = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
  const __m128i cm = _mm_set1_epi8(','), nl = _mm_set1_epi8('\n');
  const unsigned bits =
      (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(a, cm), _mm_cmpeq_epi8(a, nl))) |
      (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(b, cm), _mm_cmpeq_epi8(b, nl)))
          << 16;
  if (!bits) return scan_number(p, end, delim, x);
  const unsigned len = (unsigned)__builtin_ctz(bits);
  if (len == 0 || p[len] != delim) return NULL;
  const __m128i ka = _mm_and_si128(a, _mm_loadu_si128((const __m128i *)(const void *)(ZMASK + 32 - len))),
                kb = _mm_and_si128(
                    b, _mm_loadu_si128((const __m128i *)(const void *)(ZMASK + (len >= 16 ? 48 - len : 32))));
  uint64_t w[4];
  memcpy(w, &ka, 16);
  memcpy(w + 2, &kb, 16);
  const uint64_t h = ((w[0] + w[3]) * 0x9e3779b97f4a7c15ULL) ^ ((w[1] + w[2]) * 0xbf58476d1ce4e5b9ULL);
  size_t i = (size_t)(h >> 40) & (MEMO_SLOTS - 1);
  for (;; i = (i + 1) & (MEMO_SLOTS - 1)) {
    const unsigned s = m->slot[i];
    if (!s) break;
    const __m128i *k = m->key[s - 1];
    const __m128i eq = _mm_and_si128(_mm_cmpeq_epi8(k[0], ka), _mm_cmpeq_epi8(k[1], kb));
    if (_mm_movemask_epi8(eq) == 0xFFFF) {
      m->hits++;
      *x = m->val[s - 1];
      return p + len + 1;
    }
  }
  const char *q = scan_number(p, end, delim, x);
  if (!q) return NULL;
  m->misses++;
  if (m->n < MEMO_CAP) {
    m->key[m->n][0] = ka, m->key[m->n][1] = kb;
    m->val[m->n] = *x;
    m->slot[i] = (uint16_t)++m->n;
  } else if (m->misses > m->hits) {
    m->off = 1;
  }
  return q;
}
#endif

/* plain_field_end 16 bytes a step while 16 remain (the same end, or
 * NULL) */
static const char *field_end_fast(const char *p, const char *end) {
#ifdef __SSE2__
  const __m128i cm = _mm_set1_epi8(','), nl = _mm_set1_epi8('\n'), qt = _mm_set1_epi8('"'),
                cr = _mm_set1_epi8('\r'), z = _mm_setzero_si128();
  for (const char *q = p; end - q >= 16; q += 16) {
    const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
    const unsigned stop = (unsigned)_mm_movemask_epi8(_mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(v, cm), _mm_cmpeq_epi8(v, nl)),
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, qt), _mm_cmpeq_epi8(v, cr)),
                     _mm_cmpeq_epi8(v, z))));
    if (stop) {
      const char *e = q + __builtin_ctz(stop);
      if (*e != ',' && *e != '\n') return NULL;
      return (size_t)(e - p) <= TSR_CSV_DEFAULT_MAX_FIELD ? e : NULL;
    }
    if ((size_t)(q + 16 - p) > TSR_CSV_DEFAULT_MAX_FIELD) break;
  }
#endif
  return plain_field_end(p, end);
}

#ifdef __SSE2__
/* The distinct texts of one column in one part (tsr_table_scan_codes):
 * the text zero-padded to 32 bytes is the key, as in num_memo; the table
 * starts small and doubles (a few hundred texts stay in cache). */
typedef struct code_tab {
  __m128i (*key)[2]; /* cap texts */
  double *val;       /* their values */
  uint16_t *slot;    /* 2 cap: 1 + number, or 0 */
  size_t n, cap;
  /* texts of 1 to 8 bytes found again without hashing bytes: the text
   * as a zero-padded 64-bit word (the first word of its key; never 0
   * for a number) is itself the key, its number beside it (open
   * addressing, at most CODE_SMALL_MAX entered, the rest by key) */
  uint64_t *skey; /* CODE_SMALL_SLOTS: word, or 0 */
  uint16_t *snum;
  size_t sn;
} code_tab;

#define CODE_SMALL_BITS 10
#define CODE_SMALL_SLOTS ((size_t)1 << CODE_SMALL_BITS)
#define CODE_SMALL_MAX (CODE_SMALL_SLOTS / 2)

/* the home slot of a text: its two halves xor-ed, the two 64-bit words
 * of that multiplied apart (the high bits mix all of a word) */
static inline size_t code_home(__m128i ka, __m128i kb, size_t mask) {
  const __m128i s = _mm_xor_si128(ka, kb);
  const uint64_t lo = (uint64_t)_mm_cvtsi128_si64(s),
                 hi = (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(s, s));
  const uint64_t h = (lo * 0x9e3779b97f4a7c15ULL) ^ (hi * 0xbf58476d1ce4e5b9ULL);
  return (size_t)(h >> 40) & mask;
}

static int code_tab_init(code_tab *t) {
  t->n = 0, t->cap = 256;
  t->key = malloc(t->cap * sizeof *t->key);
  t->val = malloc(t->cap * sizeof *t->val);
  t->slot = calloc(2 * t->cap, sizeof *t->slot);
  t->sn = 0;
  t->skey = calloc(CODE_SMALL_SLOTS, sizeof *t->skey);
  t->snum = malloc(CODE_SMALL_SLOTS * sizeof *t->snum);
  return t->key && t->val && t->slot && t->skey && t->snum ? 0 : -1;
}

static void code_tab_free(code_tab *t) {
  free(t->key), free(t->val), free(t->slot), free(t->skey), free(t->snum);
  memset(t, 0, sizeof *t);
}

/* Doubles t (its texts re-entered). */
static int code_tab_grow(code_tab *t) {
  const size_t cap = 2 * t->cap, mask = 2 * cap - 1;
  void *key = realloc(t->key, cap * sizeof *t->key);
  if (!key) return -1;
  t->key = key;
  double *val = realloc(t->val, cap * sizeof *t->val);
  if (!val) return -1;
  t->val = val;
  uint16_t *slot = calloc(2 * cap, sizeof *slot);
  if (!slot) return -1;
  free(t->slot);
  t->slot = slot, t->cap = cap;
  for (size_t j = 0; j < t->n; j++) {
    size_t i = code_home(t->key[j][0], t->key[j][1], mask);
    while (slot[i]) i = (i + 1) & mask;
    slot[i] = (uint16_t)(j + 1);
  }
  return 0;
}

/* The number of the text [p, p + len) in t (1 <= len <= 31, 32 bytes
 * readable at p, p[len] the delimiter delim), a new text parsed and
 * numbered; -1 when it is not a number in plain notation (scan_number),
 * past TSR_TABLE_CODE_MAX texts or out of memory. */
static inline int code_of(code_tab *t, const char *p, unsigned len, char delim) {
  const __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p),
                b = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
  /* ZMASK + 48 - len: bytes i < len - 16 set, none when len <= 16 */
  const __m128i ka = _mm_and_si128(a, _mm_loadu_si128((const __m128i *)(const void *)(ZMASK + 32 - len))),
                kb = _mm_and_si128(b, _mm_loadu_si128((const __m128i *)(const void *)(ZMASK + 48 - len)));
  size_t mask = 2 * t->cap - 1, i = code_home(ka, kb, mask);
  for (;; i = (i + 1) & mask) {
    const unsigned s = t->slot[i];
    if (!s) break;
    const __m128i *k = t->key[s - 1];
    if (_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(k[0], ka), _mm_cmpeq_epi8(k[1], kb))) == 0xFFFF)
      return (int)s - 1;
  }
  double x;
  if (scan_number(p, p + len + 1, delim, &x) != p + len + 1 || t->n == TSR_TABLE_CODE_MAX)
    return -1;
  if (t->n == t->cap) {
    if (code_tab_grow(t)) return -1;
    mask = 2 * t->cap - 1;
    for (i = code_home(ka, kb, mask); t->slot[i]; i = (i + 1) & mask) {
    }
  }
  t->key[t->n][0] = ka, t->key[t->n][1] = kb;
  t->val[t->n] = x;
  t->slot[i] = (uint16_t)++t->n;
  return (int)t->n - 1;
}

/* code_of for a text of 1 to 8 bytes (32 readable at p): the same
 * number, found by its word in the small table when seen before (the
 * word equals the first word of its key in t, the others zero: a hit
 * there is a hit in code_of) */
static inline int code_of_small(code_tab *t, const char *p, unsigned len, char delim) {
  uint64_t w;
  memcpy(&w, p, sizeof w);
  w &= ~(uint64_t)0 >> (64 - 8 * len);
  size_t i = (size_t)((w * 0x9e3779b97f4a7c15ULL) >> (64 - CODE_SMALL_BITS));
  for (;; i = (i + 1) & (CODE_SMALL_SLOTS - 1)) {
    const uint64_t k = t->skey[i];
    if (!k) break;
    if (k == w) return t->snum[i];
  }
  const int c = code_of(t, p, len, delim);
  if (c >= 0 && t->sn < CODE_SMALL_MAX) {
    t->skey[i] = w, t->snum[i] = (uint16_t)c;
    t->sn++;
  }
  return c;
}

/* code_of for a field with fewer than 32 bytes readable at p: a padded
 * copy (the field and its delimiter) */
static int code_of_copy(code_tab *t, const char *p, unsigned len, char delim) {
  char f[64] = {0};
  memcpy(f, p, len + 1);
  return code_of(t, f, len, delim);
}

/* Bytes left from which the last lines are read from a zero-padded copy
 * (a line's 64 bytes and a field's 32 past its start stay inside). */
#define CODE_TAIL 128

/* scan_part_run for tsr_table_scan_codes. A line of up to 64 bytes is
 * split on the masks of its delimiters (',' or '\n') and of the bytes
 * that make a file not plain (quote, CR, NUL: only skipped fields are
 * checked, a wanted one must be a number); a longer one field by field
 * (field_end_fast). */
static void *code_part_run(scan_part *sp) {
  const char *p = sp->s, *end = sp->end;
  char tail[2 * CODE_TAIL];
  int in_tail = 0;
  const size_t nh = sp->nh, stride = sp->stride;
  /* the part's fields in locals: the tables' stores (64-bit words) could
   * otherwise alias them and have them reloaded every field */
  const ptrdiff_t *const fld = sp->fld;
  const int *const at = sp->at;
  code_tab *const tab = sp->tab;
  uint16_t *const code = sp->code;
  const __m128i CM = _mm_set1_epi8(','), NL = _mm_set1_epi8('\n'), QT = _mm_set1_epi8('"'),
                CR = _mm_set1_epi8('\r'), Z = _mm_setzero_si128();
  sp->ok = 0;
  for (size_t r = sp->r0; r < sp->r1; r++) {
    uint16_t *row = code + r * stride;
    if (!in_tail && end - p < CODE_TAIL) {
      const size_t k = (size_t)(end - p);
      memset(tail, 0, sizeof tail);
      memcpy(tail, p, k);
      p = tail, end = tail + k, in_tail = 1;
    }
    uint64_t D = 0, N = 0;
    for (unsigned o = 0; o < 64; o += 16) {
      const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + o)),
                    nl = _mm_cmpeq_epi8(v, NL);
      D |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, CM), nl)) << o;
      const unsigned nm = (unsigned)_mm_movemask_epi8(nl);
      if (nm) {
        N = (uint64_t)nm << o;
        break;
      }
    }
    if (N) {
      const unsigned L = (unsigned)__builtin_ctzll(N);
      D &= ((uint64_t)2 << L) - 1;
      unsigned start = 0;
      /* nh fields, the last ended by the line end: nh bits in D */
      for (size_t j = 0; j < nh; j++) {
        if (!D) goto done; /* too few fields */
        const unsigned e = (unsigned)__builtin_ctzll(D);
        D &= D - 1;
        const ptrdiff_t k = fld[j];
        if (k < 0) {
          /* a skipped field: no quote, CR or NUL (16 bytes a step, those
           * past its end masked off) */
          for (unsigned o = start; o < e; o += 16) {
            const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + o));
            const unsigned bad = (unsigned)_mm_movemask_epi8(_mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, QT), _mm_cmpeq_epi8(v, CR)), _mm_cmpeq_epi8(v, Z)));
            if (bad & (e - o >= 16 ? 0xFFFFu : (1u << (e - o)) - 1)) goto done;
          }
        } else {
          const unsigned len = e - start;
          if (len == 0 || len > 31) goto done;
          const int c = len <= 8 ? code_of_small(&tab[k], p + start, len, p[e])
                                 : code_of(&tab[k], p + start, len, p[e]);
          if (c < 0) goto done;
          row[at[k]] = (uint16_t)c;
        }
        start = e + 1;
      }
      if (D) goto done; /* too many fields */
      p += L + 1;
      continue;
    }
    for (size_t j = 0; j < nh; j++) { /* a line of more than 64 bytes */
      const char delim = j + 1 < nh ? ',' : '\n';
      const char *q = field_end_fast(p, end);
      if (!q || *q != delim) goto done;
      const ptrdiff_t k = fld[j];
      if (k >= 0) {
        const size_t len = (size_t)(q - p);
        if (len == 0 || len > 31) goto done;
        const int c = in_tail || end - p >= 32 ? code_of(&tab[k], p, (unsigned)len, delim)
                                               : code_of_copy(&tab[k], p, (unsigned)len, delim);
        if (c < 0) goto done;
        row[at[k]] = (uint16_t)c;
      }
      p = q + 1;
    }
  }
  sp->ok = p == end;
done:
  return NULL;
}
#endif

static void *scan_part_run(void *arg) {
  scan_part *sp = arg;
#ifdef __SSE2__
  if (sp->code) return code_part_run(sp);
#endif
  double v[64] = {0};
  const char *p = sp->s, *end = sp->end;
  const size_t nh = sp->nh;
  sp->ok = 0;
#ifdef __SSE2__
  /* one memo per number column of the header (none when out of memory) */
  num_memo *memo = calloc(nh, sizeof *memo);
  int mok = memo != NULL;
  for (size_t j = 0; j < nh && mok; j++)
    if (sp->fld[j] >= 0) {
      memo[j].key = malloc(MEMO_CAP * sizeof *memo[j].key);
      memo[j].val = malloc(MEMO_CAP * sizeof *memo[j].val);
      memo[j].slot = calloc(MEMO_SLOTS, sizeof *memo[j].slot);
      mok = memo[j].key && memo[j].val && memo[j].slot;
    }
  for (size_t j = 0; j < nh && memo; j++) memo[j].off = !mok;
#endif
  for (size_t r = sp->r0; r < sp->r1; r++) {
    for (size_t j = 0; j < nh; j++) {
      const char delim = j + 1 < nh ? ',' : '\n';
      if (sp->fld[j] < 0) {
        const char *q = field_end_fast(p, end);
        if (!q || *q != delim) goto done;
        p = q + 1;
        continue;
      }
      double x;
#ifdef __SSE2__
      p = memo ? memo_number(&memo[j], p, end, delim, &x) : scan_number(p, end, delim, &x);
#else
      p = scan_number(p, end, delim, &x);
#endif
      if (!p) goto done;
      v[sp->fld[j]] = x;
    }
    if (sp->row(sp->ctx, sp->part, r, v)) goto done;
  }
  sp->ok = p == end;
done:
#ifdef __SSE2__
  for (size_t j = 0; j < nh && memo; j++) free(memo[j].key), free(memo[j].val), free(memo[j].slot);
  free(memo);
#endif
  return NULL;
}

/* tsr_table_scan_codes' part: cd set, its numbers in code_tab tab[part][k]
 * (begin and row unused) */
static int scan_plain(const char *path, size_t ncols, const char *const *const *want,
                      scan_begin_fn begin, scan_row_fn row, void *ctx, int nparts,
                      tsr_table_codes *cd, struct code_tab *tab) {
  if (ncols == 0 || ncols > 64 || strcmp(path, "-") == 0) return 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
      (uint64_t)sb.st_size >= (uint64_t)SIZE_MAX / 2) {
    close(fd);
    return 0;
  }
  const size_t len = (size_t)sb.st_size;
  /* the page cache mapped, not copied (nothing to zero) */
  char *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return 0;
  const char *s = map, *end = map + len;
  int ok = 0;
  /* a last line end, so that every field ends inside the map; no BOM */
  if (end[-1] != '\n' || (len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))) goto out;
  /* header: the first field of each column of want */
  size_t nh = 0;
  ptrdiff_t at[64]; /* column k: header field, or -1 */
  int present[64];
  const char *names[NUM_MAX_FIELDS];
  size_t nlen[NUM_MAX_FIELDS];
  for (const char *p = s;;) {
    const char *q = plain_field_end(p, end);
    if (!q || nh == NUM_MAX_FIELDS) goto out;
    names[nh] = p, nlen[nh] = (size_t)(q - p), nh++;
    p = q + 1;
    if (*q == '\n') {
      s = p;
      break;
    }
  }
  size_t nwant = 0;
  for (size_t k = 0; k < ncols; k++) {
    at[k] = -1;
    for (size_t a = 0; want[k][a] && at[k] < 0; a++)
      for (size_t j = 0; j < nh; j++)
        if (nlen[j] == strlen(want[k][a]) && !memcmp(names[j], want[k][a], nlen[j])) {
          at[k] = (ptrdiff_t)j;
          break;
        }
    present[k] = at[k] >= 0;
    nwant += (size_t)present[k];
  }
  /* rows: one per line end; with two parts, the first part's lines
   * (those up to the line end past the middle) counted apart */
  const char *mid = nparts > 1 ? memchr(s + (end - s) / 2, '\n', (size_t)(end - (s + (end - s) / 2)))
                               : NULL;
  const size_t n0 = count_lines(s, mid ? mid + 1 : end);
  const size_t n = n0 + (mid ? count_lines(mid + 1, end) : 0);
  if (n == 0 || nwant == 0) goto out;
  /* fld[j]: the column header field j goes to (or -1: skipped); two
   * columns of one field are not plain */
  ptrdiff_t fld[NUM_MAX_FIELDS];
  for (size_t j = 0; j < nh; j++) fld[j] = -1;
  for (size_t k = 0; k < ncols; k++) {
    if (at[k] < 0) continue;
    if (fld[at[k]] >= 0) goto out;
    fld[at[k]] = (ptrdiff_t)k;
  }
  int cat[TSR_TABLE_CODE_COLS];
  if (cd) {
    /* the place of each present column in a row of numbers */
    size_t stride = 0;
    for (size_t k = 0; k < ncols; k++) cat[k] = present[k] ? (int)stride++ : -1;
    if (!(cd->code = malloc(n * stride * sizeof *cd->code))) goto out;
    cd->nrows = n, cd->stride = stride, cd->part1 = n;
    for (size_t k = 0; k < TSR_TABLE_CODE_COLS; k++) cd->at[k] = k < ncols ? cat[k] : -1;
  } else if (begin(ctx, n, present)) {
    goto out;
  }
  /* two parts split at a line start near the middle when the file is
   * large enough: the second on its own thread */
  scan_part part[2];
  int np = 1;
  part[0] = (scan_part){s, end, 0, n, nh, fld, row, ctx, 0, 0, NULL, 0, cat, tab};
  if (nparts > 1 && n >= SCAN_SPLIT_ROWS && mid && mid + 1 < end) {
    part[0].end = mid + 1, part[0].r1 = n0;
    part[1] = (scan_part){mid + 1, end, n0, n, nh, fld, row, ctx, 1, 0, NULL, 0, cat, tab};
    np = 2;
    if (cd) cd->part1 = n0;
  }
#ifdef __SSE2__
  if (cd) {
    for (int pt = 0; pt < np; pt++) {
      part[pt].code = cd->code, part[pt].stride = cd->stride;
      part[pt].tab = tab + pt * TSR_TABLE_CODE_COLS;
    }
  }
#else
  (void)tab;
#endif
  pthread_t th;
  int threaded = np == 2 && pthread_create(&th, NULL, scan_part_run, &part[1]) == 0;
  scan_part_run(&part[0]);
  if (threaded) pthread_join(th, NULL);
  else if (np == 2) scan_part_run(&part[1]);
  ok = part[0].ok && (np == 1 || part[1].ok);
out:
  munmap(map, len);
  return ok;
}

tsr_status tsr_table_scan_numeric(const char *path, size_t ncols,
                                  const char *const *const *want, tsr_table_begin_fn begin,
                                  tsr_table_row_fn row, void *ctx, int n_parts,
                                  int *plain, tsr_error *err) {
  (void)err;
  *plain = scan_plain(path, ncols, want, begin, row, ctx, n_parts < 2 ? 1 : 2, NULL, NULL);
  return TSR_OK;
}

typedef struct {
  size_t ncols, n;
  double *block, *dst[64];
} read_numeric_ctx;

static int read_numeric_begin(void *vc, size_t n, const int *present) {
  read_numeric_ctx *c = vc;
  size_t nwant = 0;
  for (size_t k = 0; k < c->ncols; k++) nwant += (size_t)present[k];
  c->n = n;
  c->block = tsr__malloc_big(nwant * n * sizeof *c->block);
  if (!c->block) return -1;
  for (size_t k = 0, i = 0; k < c->ncols; k++)
    c->dst[k] = present[k] ? c->block + n * i++ : NULL;
  return 0;
}

static int read_numeric_row(void *vc, int part, size_t r, const double *v) {
  read_numeric_ctx *c = vc;
  (void)part;
  for (size_t k = 0; k < c->ncols; k++)
    if (c->dst[k]) c->dst[k][r] = v[k];
  return 0;
}

tsr_status tsr_table_read_numeric(const char *path, size_t ncols,
                                  const char *const *const *want, double **cols,
                                  size_t *nrows, double **block_out, int *plain,
                                  tsr_error *err) {
  (void)err;
  *plain = 0;
  *block_out = NULL;
  *nrows = 0;
  for (size_t k = 0; k < ncols; k++) cols[k] = NULL;
  read_numeric_ctx c;
  memset(&c, 0, sizeof c);
  c.ncols = ncols;
  if (!scan_plain(path, ncols, want, read_numeric_begin, read_numeric_row, &c, 1, NULL, NULL)) {
    tsr__free(c.block);
    return TSR_OK;
  }
  for (size_t k = 0; k < ncols; k++) cols[k] = c.dst[k];
  *nrows = c.n;
  *block_out = c.block;
  *plain = 1;
  return TSR_OK;
}

void tsr_table_codes_free(tsr_table_codes *c) {
  if (!c) return;
  free(c->code);
  for (int pt = 0; pt < 2; pt++)
    for (int k = 0; k < TSR_TABLE_CODE_COLS; k++) free(c->value[pt][k]);
  memset(c, 0, sizeof *c);
}

tsr_status tsr_table_scan_codes(const char *path, size_t ncols,
                                const char *const *const *want, int n_parts,
                                tsr_table_codes *c, int *plain, tsr_error *err) {
  (void)err;
  memset(c, 0, sizeof *c);
  *plain = 0;
#ifdef __SSE2__
  if (ncols == 0 || ncols > TSR_TABLE_CODE_COLS) return TSR_OK;
  code_tab tab[2 * TSR_TABLE_CODE_COLS];
  memset(tab, 0, sizeof tab);
  int ok = 1;
  for (size_t k = 0; k < 2 * TSR_TABLE_CODE_COLS && ok; k++)
    ok = k % (size_t)TSR_TABLE_CODE_COLS >= ncols || code_tab_init(&tab[k]) == 0;
  if (ok) ok = scan_plain(path, ncols, want, NULL, NULL, NULL, n_parts < 2 ? 1 : 2, c, tab);
  for (size_t pt = 0; pt < 2; pt++)
    for (size_t k = 0; k < ncols; k++) {
      code_tab *t = &tab[pt * TSR_TABLE_CODE_COLS + k];
      if (ok && c->at[k] >= 0) {
        c->value[pt][k] = t->val, c->ndistinct[pt][k] = t->n;
        t->val = NULL;
      }
      code_tab_free(t);
    }
  if (!ok) {
    tsr_table_codes_free(c);
    return TSR_OK;
  }
  *plain = 1;
#else
  (void)path, (void)ncols, (void)want, (void)n_parts;
#endif
  return TSR_OK;
}
