/*
 * csv.c - streaming RFC 4180 CSV reader (see tessera/csv.h).
 *
 * The input is read in large chunks into one buffer; a record is parsed from
 * the buffer and its fields are copied (unquoted) into a field buffer, so the
 * raw bytes stay intact for reject files. When a record runs past the end of
 * the buffered data, the partial record is moved to the front, more is read,
 * and the record is parsed again (the cost is only at chunk boundaries).
 * Memory: one chunk plus the largest record (bounded by max_record).
 *
 * Grammar (RFC 4180, relaxed where real exports need it):
 *   record  = field *(delim field) line-end
 *   field   = quoted / unquoted;  quoted = '"' *(char / '""' / line-end) '"'
 *   line-end = CRLF / LF / CR;  a quote inside an unquoted field is literal.
 * Errors: unterminated quote, characters after a closing quote, a field,
 * record or field count over its limit. After an error the reader resumes
 * at the line after the first line of the bad record.
 */
#include "internal.h"
#include "tessera/csv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#define CSV_CHUNK ((size_t)1 << 20)
#define CSV_MAX_RECORD_FLOOR ((size_t)1 << 20)

struct tsr_csv {
  int fd;             /* -1 when reading from memory */
  int own_fd;
  char *name;
  tsr_csv_opts opts;
  size_t max_record;

  char *buf;          /* file mode: owned; memory mode: borrowed */
  size_t cap, len, pos;
  int eof;
  int64_t base_off;   /* absolute offset of buf[0] */
  int64_t size;       /* total size or -1 */
  int64_t line;       /* line number at buf[pos] */
  int64_t line_start; /* absolute offset of the start of that line */
  int started;
  int fatal;          /* the input cannot be read as CSV at all (UTF-16) */

  tsr__hash_stream hash; /* checksum of every byte read */

  tsr_csv_field *fields;
  size_t fcap;
  uint32_t *ends; /* the fast path's field ends (offsets in the record) */
  size_t ecap;
  int avx2; /* the CPU has AVX2 (the fast path's build) */
  char *fbuf;
  size_t fbcap;
  unsigned char special[256];
  unsigned char edge[256]; /* 1: a space byte a field may be trimmed of (' ', tab,
                              VT, FF), unless it is the delimiter */
};

void tsr_csv_opts_init(tsr_csv_opts *o) {
  o->delim = ',';
  o->max_field = TSR_CSV_DEFAULT_MAX_FIELD;
  o->max_fields = TSR_CSV_DEFAULT_MAX_FIELDS;
  o->no_checksum = 0;
}

static tsr_status csv_init(tsr_csv *c, const char *name,
                           const tsr_csv_opts *opts, tsr_error *err) {
  if (opts) {
    c->opts = *opts;
  } else {
    tsr_csv_opts_init(&c->opts);
  }
  if (c->opts.max_field == 0) c->opts.max_field = TSR_CSV_DEFAULT_MAX_FIELD;
  if (c->opts.max_fields == 0) c->opts.max_fields = TSR_CSV_DEFAULT_MAX_FIELDS;
  int d = c->opts.delim;
  if (d != TSR_CSV_WS &&
      (d < 1 || d > 255 || d == '"' || d == '\n' || d == '\r')) {
    return tsr_error_set(err, TSR_EINVAL, name, 0, 0, "delimiter",
                         "expected a single byte other than quote or line end");
  }
  c->max_record = c->opts.max_field * 4;
  if (c->max_record < CSV_MAX_RECORD_FLOOR) c->max_record = CSV_MAX_RECORD_FLOOR;
  c->name = tsr__strdup(name);
  if (!c->name) return tsr_error_set(err, TSR_ENOMEM, name, 0, 0, NULL, "out of memory");
  c->line = 1;
  tsr__hash_stream_init(&c->hash);
  memset(c->special, 0, sizeof c->special);
  c->special['"'] = 1;
  c->special['\n'] = 1;
  c->special['\r'] = 1;
  if (d == TSR_CSV_WS) {
    c->special[' '] = 1;
    c->special['\t'] = 1;
  } else {
    c->special[(unsigned char)d] = 1;
  }
  memset(c->edge, 0, sizeof c->edge);
  c->edge[' '] = c->edge['\t'] = c->edge['\v'] = c->edge['\f'] = 1;
#if defined(__x86_64__) && defined(__GNUC__)
  c->avx2 = __builtin_cpu_supports("avx2");
#endif
  if (d != TSR_CSV_WS) c->edge[(unsigned char)d] = 0;
  return TSR_OK;
}

tsr_status tsr_csv_open(const char *path, const tsr_csv_opts *opts,
                        tsr_csv **out, tsr_error *err) {
  *out = NULL;
  tsr_csv *c = tsr__calloc(1, sizeof *c);
  if (!c) return tsr_error_set(err, TSR_ENOMEM, path, 0, 0, NULL, "out of memory");
  c->fd = -1;
  int is_stdin = strcmp(path, "-") == 0;
  tsr_status st = csv_init(c, is_stdin ? "<stdin>" : path, opts, err);
  if (st != TSR_OK) {
    tsr_csv_close(c);
    return st;
  }
  if (is_stdin) {
    c->fd = 0;
  } else {
    c->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (c->fd < 0) {
      st = tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "cannot open: %s",
                         strerror(errno));
      tsr_csv_close(c);
      return st;
    }
    c->own_fd = 1;
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(c->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  }
  struct stat sb;
  c->size = (fstat(c->fd, &sb) == 0 && S_ISREG(sb.st_mode)) ? (int64_t)sb.st_size : -1;
  if (c->size < 0 && !is_stdin) {
    /* directories and the like */
    if (fstat(c->fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
      st = tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "is a directory");
      tsr_csv_close(c);
      return st;
    }
  }
  c->cap = CSV_CHUNK;
  /* a file of a chunk or more fills all of it: in huge pages, one fault
   * instead of 257 (each several us on a VM) */
  c->buf = c->size >= (int64_t)CSV_CHUNK ? tsr__malloc_big(c->cap + 1) : tsr__malloc(c->cap + 1);
  if (!c->buf) {
    tsr_csv_close(c);
    return tsr_error_set(err, TSR_ENOMEM, path, 0, 0, NULL, "out of memory");
  }
  *out = c;
  return TSR_OK;
}

tsr_status tsr_csv_open_mem(const char *buf, size_t len, const char *name,
                            const tsr_csv_opts *opts, tsr_csv **out,
                            tsr_error *err) {
  *out = NULL;
  tsr_csv *c = tsr__calloc(1, sizeof *c);
  if (!c) return tsr_error_set(err, TSR_ENOMEM, name, 0, 0, NULL, "out of memory");
  c->fd = -1;
  tsr_status st = csv_init(c, name ? name : "<memory>", opts, err);
  if (st != TSR_OK) {
    tsr_csv_close(c);
    return st;
  }
  c->buf = (char *)buf; /* borrowed; never written */
  c->len = len;
  c->cap = len;
  c->eof = 1;
  c->size = (int64_t)len;
  if (!c->opts.no_checksum) tsr__hash_stream_update(&c->hash, buf, len);
  *out = c;
  return TSR_OK;
}

void tsr_csv_close(tsr_csv *c) {
  if (!c) return;
  if (c->own_fd && c->fd >= 0) close(c->fd);
  if (c->fd != -1 || c->own_fd) tsr__free(c->buf);
  tsr__free(c->name);
  tsr__free(c->fields);
  tsr__free(c->ends);
  tsr__free(c->fbuf);
  tsr__free(c);
}

int64_t tsr_csv_bytes_read(const tsr_csv *c) {
  return c->base_off + (int64_t)c->pos;
}
int64_t tsr_csv_size(const tsr_csv *c) { return c->size; }
const char *tsr_csv_name(const tsr_csv *c) { return c->name; }
uint64_t tsr_csv_checksum(const tsr_csv *c) {
  return c->opts.no_checksum ? 0 : tsr__hash_stream_final(&c->hash);
}

/* Moves the unread part to the front and reads more. Grows the buffer when
 * the unread part fills it (one record larger than a chunk). */
static tsr_status csv_fill(tsr_csv *c, tsr_error *err) {
  if (c->fd < 0 || c->eof) return TSR_OK;
  if (c->pos > 0) {
    memmove(c->buf, c->buf + c->pos, c->len - c->pos);
    c->base_off += (int64_t)c->pos;
    c->len -= c->pos;
    c->pos = 0;
  }
  if (c->len == c->cap) {
    size_t ncap = c->cap * 2;
    char *nb = tsr__realloc(c->buf, ncap + 1);
    if (!nb) return tsr_error_set(err, TSR_ENOMEM, c->name, c->line, 0, NULL, "out of memory");
    c->buf = nb;
    c->cap = ncap;
  }
  while (c->len < c->cap) {
    ssize_t k = read(c->fd, c->buf + c->len, c->cap - c->len);
    if (k < 0) {
      if (errno == EINTR) continue;
      return tsr_error_set(err, TSR_EIO, c->name, c->line, 0, NULL, "read error: %s",
                           strerror(errno));
    }
    if (k == 0) {
      c->eof = 1;
      break;
    }
    if (!c->opts.no_checksum) tsr__hash_stream_update(&c->hash, c->buf + c->len, (size_t)k);
    c->len += (size_t)k;
  }
  return TSR_OK;
}

enum { PARSE_OK = 0, PARSE_MORE = 1, PARSE_ERR = 2 };

typedef struct parse_state {
  size_t nf;
  size_t fb;         /* bytes used in fbuf */
  int64_t line;      /* current line */
  int64_t line_start;/* absolute offset of current line start */
  size_t end;        /* buffer index after the record (incl. line end) */
  size_t raw_end;    /* buffer index of the record end (excl. line end) */
  tsr_status code;
  int64_t eline, ecol;
  char emsg[160];
} parse_state;

static int push_bytes(tsr_csv *c, parse_state *s, const char *p, size_t n) {
  if (s->fb + n + 1 > c->fbcap) {
    void *b = c->fbuf;
    if (tsr__grow(&b, &c->fbcap, s->fb + n + 1, 1) != TSR_OK) return -1;
    c->fbuf = b;
  }
  memcpy(c->fbuf + s->fb, p, n);
  s->fb += n;
  return 0;
}

/* Starts field number s->nf at absolute offset abs. */
static int begin_field(tsr_csv *c, parse_state *s, int64_t abs, int quoted) {
  if (s->nf >= c->opts.max_fields) return 1;
  if (s->nf >= c->fcap) {
    void *b = c->fields;
    if (tsr__grow(&b, &c->fcap, s->nf + 1, sizeof(tsr_csv_field)) != TSR_OK) return -1;
    c->fields = b;
  }
  tsr_csv_field *f = &c->fields[s->nf];
  f->ptr = NULL;
  f->len = s->fb; /* start offset in fbuf until finished */
  f->line = s->line;
  f->column = abs - s->line_start + 1;
  f->quoted = quoted;
  return 0;
}

static int end_field(tsr_csv *c, parse_state *s) {
  tsr_csv_field *f = &c->fields[s->nf];
  size_t start = f->len;
  if (push_bytes(c, s, "", 1) != 0) return -1; /* NUL terminator */
  f->len = s->fb - 1 - start;
  f->ptr = (const char *)(uintptr_t)start; /* fixed up when the record is done */
  s->nf++;
  return 0;
}

static int set_err(parse_state *s, tsr_status code, int64_t line, int64_t col,
                   const char *msg) {
  s->code = code;
  s->eline = line;
  s->ecol = col;
  snprintf(s->emsg, sizeof s->emsg, "%s", msg);
  return PARSE_ERR;
}

/* Parses one record at c->buf[c->pos]. */
static int parse_record(tsr_csv *c, parse_state *s) {
  const char *b = c->buf;
  const size_t n = c->len;
  const int ws = c->opts.delim == TSR_CSV_WS;
  const unsigned char delim = (unsigned char)c->opts.delim;
  const unsigned char *special = c->special;
  const size_t maxf = c->opts.max_field;
  size_t i = c->pos;
  s->nf = 0;
  s->fb = 0;
  s->line = c->line;
  s->line_start = c->line_start;
  int64_t base = c->base_off;

  if (ws) {
    while (i < n && (b[i] == ' ' || b[i] == '\t')) i++;
  }
  if (i >= n) {
    if (!c->eof) return PARSE_MORE;
  }
  for (;;) {
    /* at the start of a field */
    if (i < n && b[i] == '"') {
      int r = begin_field(c, s, base + (int64_t)i, 1);
      if (r < 0) return set_err(s, TSR_ENOMEM, s->line, 0, "out of memory");
      if (r > 0) return set_err(s, TSR_ELIMIT, s->line, base + (int64_t)i - s->line_start + 1, "too many fields");
      int64_t qline = s->line, qcol = base + (int64_t)i - s->line_start + 1;
      size_t fstart = s->fb;
      i++;
      for (;;) {
        size_t j = i;
        while (j < n && b[j] != '"' && b[j] != '\n' && b[j] != '\r') j++;
        if (push_bytes(c, s, b + i, j - i) != 0) return set_err(s, TSR_ENOMEM, s->line, 0, "out of memory");
        if (s->fb - fstart > maxf) {
          char m[96];
          snprintf(m, sizeof m, "field longer than %zu bytes", maxf);
          return set_err(s, TSR_ELIMIT, qline, qcol, m);
        }
        i = j;
        if (i >= n) {
          if (!c->eof) return PARSE_MORE;
          return set_err(s, TSR_EPARSE, qline, qcol, "unterminated quoted field");
        }
        if (b[i] == '"') {
          if (i + 1 >= n && !c->eof) return PARSE_MORE;
          if (i + 1 < n && b[i + 1] == '"') {
            if (push_bytes(c, s, "\"", 1) != 0) return set_err(s, TSR_ENOMEM, s->line, 0, "out of memory");
            i += 2;
            continue;
          }
          i++; /* closing quote */
          break;
        }
        /* embedded line end */
        if (b[i] == '\r') {
          if (i + 1 >= n && !c->eof) return PARSE_MORE;
          if (i + 1 < n && b[i + 1] == '\n') {
            if (push_bytes(c, s, "\r\n", 2) != 0) return set_err(s, TSR_ENOMEM, s->line, 0, "out of memory");
            i += 2;
          } else {
            if (push_bytes(c, s, "\r", 1) != 0) return set_err(s, TSR_ENOMEM, s->line, 0, "out of memory");
            i += 1;
          }
        } else {
          if (push_bytes(c, s, "\n", 1) != 0) return set_err(s, TSR_ENOMEM, s->line, 0, "out of memory");
          i += 1;
        }
        s->line++;
        s->line_start = base + (int64_t)i;
      }
      if (end_field(c, s) != 0) return set_err(s, TSR_ENOMEM, s->line, 0, "out of memory");
      if (ws) {
        while (i < n && (b[i] == ' ' || b[i] == '\t')) i++;
      }
      if (i >= n) {
        if (!c->eof) return PARSE_MORE;
        s->raw_end = s->end = i;
        return PARSE_OK;
      }
      unsigned char ch = (unsigned char)b[i];
      if (ch == '\n' || ch == '\r') goto line_end;
      if (ws) {
        if (b[i - 1] == ' ' || b[i - 1] == '\t') continue; /* next field */
      } else if (ch == delim) {
        i++;
        continue;
      }
      return set_err(s, TSR_EPARSE, s->line, base + (int64_t)i - s->line_start + 1,
                     "unexpected character after closing quote");
    }
    /* unquoted field */
    {
      int r = begin_field(c, s, base + (int64_t)i, 0);
      if (r < 0) return set_err(s, TSR_ENOMEM, s->line, 0, "out of memory");
      if (r > 0) return set_err(s, TSR_ELIMIT, s->line, base + (int64_t)i - s->line_start + 1, "too many fields");
      size_t j = i;
      for (;;) {
        while (j < n && !special[(unsigned char)b[j]]) j++;
        if (j < n && b[j] == '"') {
          j++; /* a quote inside an unquoted field is literal */
          continue;
        }
        break;
      }
      if (j >= n && !c->eof) return PARSE_MORE;
      if (j - i > maxf) {
        char m[96];
        snprintf(m, sizeof m, "field longer than %zu bytes", maxf);
        return set_err(s, TSR_ELIMIT, s->line, base + (int64_t)i - s->line_start + 1, m);
      }
      if (push_bytes(c, s, b + i, j - i) != 0) return set_err(s, TSR_ENOMEM, s->line, 0, "out of memory");
      if (end_field(c, s) != 0) return set_err(s, TSR_ENOMEM, s->line, 0, "out of memory");
      i = j;
      if (i >= n) {
        s->raw_end = s->end = i;
        return PARSE_OK;
      }
      unsigned char ch = (unsigned char)b[i];
      if (ch == '\n' || ch == '\r') goto line_end;
      if (ws) {
        while (i < n && (b[i] == ' ' || b[i] == '\t')) i++;
        if (i >= n) {
          if (!c->eof) return PARSE_MORE;
          s->raw_end = s->end = i;
          return PARSE_OK;
        }
        if (b[i] == '\n' || b[i] == '\r') goto line_end;
        continue;
      }
      /* ch == delim */
      (void)delim;
      i++;
      continue;
    }
  line_end:
    s->raw_end = i;
    if (b[i] == '\r') {
      if (i + 1 >= n && !c->eof) return PARSE_MORE;
      if (i + 1 < n && b[i + 1] == '\n') i++;
    }
    i++;
    s->end = i;
    return PARSE_OK;
  }
}

/* Index just after the end of the physical line starting at from. */
static size_t skip_line(const tsr_csv *c, size_t from, size_t *raw_end) {
  size_t i = from;
  while (i < c->len && c->buf[i] != '\n' && c->buf[i] != '\r') i++;
  *raw_end = i;
  if (i < c->len && c->buf[i] == '\r') {
    i++;
    if (i < c->len && c->buf[i] == '\n') i++;
  } else if (i < c->len) {
    i++;
  }
  return i;
}

/* True when the input starts like UTF-16: a byte order mark (FF FE or
 * FE FF) or, without one, a NUL in every other byte of the first four
 * (ASCII text in UTF-16LE/BE). */
static int looks_utf16(const tsr_csv *c) {
  const unsigned char *b = (const unsigned char *)c->buf + c->pos;
  size_t n = c->len - c->pos;
  if (n >= 2 && ((b[0] == 0xFF && b[1] == 0xFE) || (b[0] == 0xFE && b[1] == 0xFF))) return 1;
  if (n >= 4 && ((b[0] && !b[1] && b[2] && !b[3]) || (!b[0] && b[1] && !b[2] && b[3]))) return 1;
  return 0;
}

int tsr__csv_fatal(const struct tsr_csv *c) { return c->fatal; }

/* Drops the rest of the line that starts at c->pos when it does not end
 * inside the buffer (a record longer than the buffer): reads on until the
 * next line end, so one oversized record is reported once, at its line. */
static tsr_status drop_long_line(tsr_csv *c, tsr_error *err) {
  size_t re;
  if (skip_line(c, c->pos, &re) < c->len || c->eof) return TSR_OK;
  tsr_error keep;
  if (err) keep = *err;
  for (;;) {
    c->pos = c->len;
    tsr_status st = csv_fill(c, err);
    if (st != TSR_OK) return st;
    size_t k = skip_line(c, 0, &re);
    if (k < c->len || c->eof) {
      c->pos = k;
      break;
    }
  }
  if (err) *err = keep;
  return TSR_OK;
}

/* True when the record at pos is a blank line. */
static int blank_line(const tsr_csv *c, size_t *next) {
  size_t i = c->pos;
  if (c->opts.delim == TSR_CSV_WS) {
    while (i < c->len && (c->buf[i] == ' ' || c->buf[i] == '\t')) i++;
  }
  if (i < c->len && (c->buf[i] == '\n' || c->buf[i] == '\r')) {
    if (c->buf[i] == '\r' && i + 1 < c->len && c->buf[i + 1] == '\n') i++;
    *next = i + 1;
    return 1;
  }
  return 0;
}

tsr_status tsr_csv_next(tsr_csv *c, tsr_csv_record *rec, tsr_error *err) {
  memset(rec, 0, sizeof *rec);
  for (;;) {
    if (c->len - c->pos < 2 && !c->eof) {
      tsr_status st = csv_fill(c, err);
      if (st != TSR_OK) return st;
    }
    if (!c->started) {
      if (c->len - c->pos < 3 && !c->eof) continue;
      c->started = 1;
      if (looks_utf16(c)) {
        c->fatal = 1;
        rec->line = rec->end_line = 1;
        rec->raw = "";
        c->pos = c->len;
        c->eof = 1;
        return tsr_error_set(err, TSR_EPARSE, c->name, 1, 1, NULL,
                             "file is UTF-16 (convert to UTF-8, e.g. iconv -f UTF-16 -t UTF-8)");
      }
      if (c->len - c->pos >= 3 && (unsigned char)c->buf[c->pos] == 0xEF &&
          (unsigned char)c->buf[c->pos + 1] == 0xBB &&
          (unsigned char)c->buf[c->pos + 2] == 0xBF) {
        c->pos += 3;
        c->line_start = 3;
      }
    }
    if (c->pos >= c->len && c->eof) return TSR_ENOTFOUND;
    size_t next;
    if (blank_line(c, &next)) {
      if (c->buf[next - 1] == '\r' && next >= c->len && !c->eof) {
        /* a CR at the end of the buffer may be followed by LF */
        tsr_status st = csv_fill(c, err);
        if (st != TSR_OK) return st;
        continue;
      }
      c->pos = next;
      c->line++;
      c->line_start = c->base_off + (int64_t)next;
      continue;
    }
    /* whitespace-only tail at EOF in whitespace mode */
    if (c->opts.delim == TSR_CSV_WS && c->eof) {
      size_t i = c->pos;
      while (i < c->len && (c->buf[i] == ' ' || c->buf[i] == '\t')) i++;
      if (i >= c->len) {
        c->pos = c->len;
        return TSR_ENOTFOUND;
      }
    }
    parse_state s;
    int r = parse_record(c, &s);
    if (r == PARSE_MORE) {
      if (c->len - c->pos >= c->max_record) {
        /* the record is too long: reject its first line */
        size_t raw_end;
        size_t nx = skip_line(c, c->pos, &raw_end);
        if (nx >= c->len && !c->eof) {
          /* even the first line is not complete: skip what we have */
          rec->line = c->line;
          rec->end_line = c->line;
          rec->raw = c->buf + c->pos;
          rec->raw_len = raw_end - c->pos;
          rec->offset = c->base_off + (int64_t)c->pos;
          tsr_error_set(err, TSR_ELIMIT, c->name, c->line, 1, NULL,
                        "record longer than %zu bytes", c->max_record);
          /* drop bytes up to the next line end */
          for (;;) {
            c->pos = c->len;
            tsr_status st = csv_fill(c, err);
            if (st != TSR_OK) return st;
            size_t re;
            size_t k = skip_line(c, 0, &re);
            if (k < c->len || c->eof) {
              c->pos = k;
              break;
            }
          }
          c->line++;
          c->line_start = c->base_off + (int64_t)c->pos;
          rec->raw = "";
          rec->raw_len = 0;
          return TSR_ELIMIT;
        }
        s.code = TSR_ELIMIT;
        s.eline = c->line;
        s.ecol = 1;
        snprintf(s.emsg, sizeof s.emsg, "record longer than %zu bytes", c->max_record);
        r = PARSE_ERR;
      } else {
        tsr_status st = csv_fill(c, err);
        if (st != TSR_OK) return st;
        continue;
      }
    }
    if (r == PARSE_ERR) {
      size_t raw_end;
      size_t nx = skip_line(c, c->pos, &raw_end);
      rec->line = c->line;
      rec->end_line = c->line;
      rec->raw = c->buf + c->pos;
      rec->raw_len = raw_end - c->pos;
      rec->offset = c->base_off + (int64_t)c->pos;
      tsr_error_set(err, s.code, c->name, s.eline, s.ecol, NULL, "%s", s.emsg);
      if (nx >= c->len && !c->eof) {
        /* the bad line goes on past the buffer (a huge field): drop all of
         * it here rather than parse its tail as further records */
        tsr_status st = drop_long_line(c, err);
        if (st != TSR_OK) return st;
        rec->raw = "";
        rec->raw_len = 0;
        nx = c->pos;
      }
      c->pos = nx;
      c->line++;
      c->line_start = c->base_off + (int64_t)nx;
      return s.code;
    }
    /* success: fix up field pointers */
    for (size_t k = 0; k < s.nf; k++) {
      c->fields[k].ptr = c->fbuf + (size_t)(uintptr_t)c->fields[k].ptr;
    }
    rec->fields = c->fields;
    rec->nfields = s.nf;
    rec->line = c->line;
    rec->end_line = s.line;
    rec->raw = c->buf + c->pos;
    rec->raw_len = s.raw_end - c->pos;
    rec->offset = c->base_off + (int64_t)c->pos;
    c->pos = s.end;
    c->line = s.line + 1;
    c->line_start = c->base_off + (int64_t)s.end;
    return TSR_OK;
  }
}

/* ------------------------------------------------------------ fast path */

/* The field array grown to hold n fields (the fast path's rare case);
 * NULL when out of memory. */
static __attribute__((noinline)) tsr_csv_field *fields_grow(tsr_csv *c, size_t n) {
  void *b = c->fields;
  if (tsr__grow(&b, &c->fcap, n, sizeof(tsr_csv_field)) != TSR_OK) return NULL;
  c->fields = b;
  return c->fields;
}

/* The field ends grown to hold n; NULL when out of memory. */
static __attribute__((noinline)) uint32_t *ends_grow(tsr_csv *c, size_t n) {
  void *b = c->ends;
  if (tsr__grow(&b, &c->ecap, n, sizeof(uint32_t)) != TSR_OK) return NULL;
  c->ends = b;
  return c->ends;
}

#ifdef __SSE2__
/* The masks of tsr__csv_next_lean's window of 64 bytes at p (bit k: byte
 * k): *md the delimiters, *mx LF, CR and quotes, *ms bytes <= 0x20. */
static inline __attribute__((always_inline)) void window_sse2(const char *p, char dl, uint64_t *md,
                                                              uint64_t *mx, uint64_t *ms) {
  const __m128i vd = _mm_set1_epi8(dl), vn = _mm_set1_epi8('\n'), vq = _mm_set1_epi8('"'),
                vr = _mm_set1_epi8('\r'), vs = _mm_set1_epi8(0x20);
  uint64_t d = 0, x = 0, s = 0;
  for (int k = 0; k < 4; k++) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
    d |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vd)) << (16 * k);
    x |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_or_si128(
             _mm_cmpeq_epi8(v, vn), _mm_or_si128(_mm_cmpeq_epi8(v, vq), _mm_cmpeq_epi8(v, vr))))
         << (16 * k);
    s |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, vs), v)) << (16 * k);
  }
  *md = d;
  *mx = x;
  *ms = s;
}
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define CSV_HAVE_AVX2 1
/* window_sse2 in two 32-byte halves (AVX2): the same masks. */
__attribute__((target("avx2"))) static inline void window_avx2(const char *p, char dl, uint64_t *md,
                                                               uint64_t *mx, uint64_t *ms) {
  const __m256i vd = _mm256_set1_epi8(dl), vn = _mm256_set1_epi8('\n'), vq = _mm256_set1_epi8('"'),
                vr = _mm256_set1_epi8('\r'), vs = _mm256_set1_epi8(0x20);
  uint64_t d = 0, x = 0, s = 0;
  for (int k = 0; k < 2; k++) {
    __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32 * k));
    d |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, vd)) << (32 * k);
    x |= (uint64_t)(uint32_t)_mm256_movemask_epi8(
             _mm256_or_si256(_mm256_cmpeq_epi8(v, vn),
                             _mm256_or_si256(_mm256_cmpeq_epi8(v, vq), _mm256_cmpeq_epi8(v, vr))))
         << (32 * k);
    s |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_min_epu8(v, vs), v))
         << (32 * k);
  }
  *md = d;
  *mx = x;
  *ms = s;
}
#endif

/* Builds of the fast reader (csv_lean.h): SSE2 (or a byte at a time), and
 * AVX2 where the compiler can make it (chosen at run time: the window's
 * masks in a quarter of the instructions; the same records). */
#define LEAN_NAME lean_base
#define LEAN_ATTR
#ifdef __SSE2__
#define LEAN_WINDOW window_sse2
#endif
#include "csv_lean.h"
#undef LEAN_NAME
#undef LEAN_ATTR
#undef LEAN_WINDOW
#ifdef CSV_HAVE_AVX2
#define LEAN_NAME lean_avx2
#define LEAN_ATTR __attribute__((target("avx2")))
#define LEAN_WINDOW window_avx2
#include "csv_lean.h"
#undef LEAN_NAME
#undef LEAN_ATTR
#undef LEAN_WINDOW
#endif

void tsr__csv_set_avx2(tsr_csv *c, int on) {
#ifdef CSV_HAVE_AVX2
  c->avx2 = on && __builtin_cpu_supports("avx2");
#else
  (void)c;
  (void)on;
#endif
}

int tsr__csv_next_lean(tsr_csv *c, tsr_csv_record *rec, uint64_t want, size_t expect) {
#ifdef CSV_HAVE_AVX2
  if (c->avx2) return lean_avx2(c, rec, want, expect);
#endif
  return lean_base(c, rec, want, expect);
}

int tsr__csv_next_fast(tsr_csv *c, tsr_csv_record *rec) {
  return tsr__csv_next_lean(c, rec, ~(uint64_t)0, 0);
}

tsr_status tsr__csv_next_span(tsr_csv *c, tsr_csv_record *rec, tsr_error *err) {
  return tsr__csv_next_fast(c, rec) ? TSR_OK : tsr_csv_next(c, rec, err);
}
