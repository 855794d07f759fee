/*
 * summary_io.c - the summary CSV reader of `tessera fit` / `predict`
 * (see summary_io.h), on the in-memory table of tessera/table.h when it is
 * available, else on a small local splitter (one record per line, quoted
 * fields without embedded line breaks).
 */
#include "summary_io.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUMMARY_MAX_BYTES ((size_t)1 << 31)

typedef struct {
  char *buf;       /* whole file, fields NUL-terminated in place */
  size_t ncols;
  char **hdr;      /* header names */
  size_t nrows;
  char **cells;    /* nrows * ncols */
  int64_t *line;   /* input line of each row */
  size_t *colpos;  /* nrows * ncols byte columns (1-based) */
} mini_table;

static void mini_free(mini_table *t) {
  free(t->buf);
  free(t->hdr);
  free(t->cells);
  free(t->line);
  free(t->colpos);
  memset(t, 0, sizeof *t);
}

/* Splits one line in place into at most max fields; returns the count or
 * -1 when there are more fields than max or a quote is unterminated. */
static long split_line(char *p, char **f, size_t *col, size_t max) {
  size_t n = 0;
  char *start = p;
  for (;;) {
    if (n == max) return -1;
    col[n] = (size_t)(p - start) + 1;
    if (*p == '"') {
      char *w = ++p, *r = p;
      f[n] = w;
      for (;;) {
        if (*r == '\0') return -1;
        if (*r == '"') {
          if (r[1] == '"') {
            *w++ = '"';
            r += 2;
            continue;
          }
          r++;
          break;
        }
        *w++ = *r++;
      }
      *w = '\0';
      p = r;
      n++;
      if (*p == ',') {
        p++;
        continue;
      }
      if (*p == '\0') return (long)n;
      return -1;
    }
    f[n++] = p;
    char *c = strchr(p, ',');
    if (!c) return (long)n;
    *c = '\0';
    p = c + 1;
  }
}

static tsr_status mini_read(const char *path, mini_table *t, tsr_error *err) {
  memset(t, 0, sizeof *t);
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!f)
    return tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "cannot open: %s",
                         strerror(errno));
  size_t cap = 1 << 16, len = 0;
  t->buf = malloc(cap + 1);
  while (t->buf) {
    if (len == cap) {
      if (cap >= SUMMARY_MAX_BYTES) {
        if (f != stdin) fclose(f);
        mini_free(t);
        return tsr_error_set(err, TSR_ELIMIT, path, 0, 0, NULL,
                             "file larger than 2 GiB");
      }
      char *nb = realloc(t->buf, cap * 2 + 1);
      if (!nb) break;
      t->buf = nb;
      cap *= 2;
    }
    size_t k = fread(t->buf + len, 1, cap - len, f);
    len += k;
    if (k == 0) break;
  }
  int rerr = ferror(f);
  if (f != stdin) fclose(f);
  if (!t->buf) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  if (rerr) {
    mini_free(t);
    return tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "read error");
  }
  t->buf[len] = '\0';
  /* count lines */
  size_t nl = 1;
  for (size_t i = 0; i < len; i++) nl += t->buf[i] == '\n';
  char *p = t->buf;
  if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
      (unsigned char)p[2] == 0xBF)
    p += 3;
  enum { MAXC = 256 };
  char *fl[MAXC];
  size_t cl[MAXC];
  int64_t lineno = 0;
  size_t r = 0;
  while (*p || lineno == 0) {
    char *e = strchr(p, '\n');
    char *next = e ? e + 1 : p + strlen(p);
    if (e) *e = '\0';
    lineno++;
    size_t L = strlen(p);
    if (L && p[L - 1] == '\r') p[--L] = '\0';
    if (L == 0) {
      if (lineno == 1) {
        mini_free(t);
        return tsr_error_set(err, TSR_EPARSE, path, 1, 1, NULL,
                             "expected a header line, got an empty line");
      }
      p = next;
      if (!e) break;
      continue;
    }
    long nf = split_line(p, fl, cl, MAXC);
    if (nf < 0) {
      mini_free(t);
      return tsr_error_set(err, TSR_EPARSE, path, lineno, 1, NULL,
                           "malformed record (unterminated quote or more "
                           "than %d fields)",
                           MAXC);
    }
    if (lineno == 1) {
      t->ncols = (size_t)nf;
      t->hdr = malloc((size_t)nf * sizeof *t->hdr);
      t->cells = malloc(nl * (size_t)nf * sizeof *t->cells);
      t->colpos = malloc(nl * (size_t)nf * sizeof *t->colpos);
      t->line = malloc(nl * sizeof *t->line);
      if (!t->hdr || !t->cells || !t->colpos || !t->line) {
        mini_free(t);
        return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      }
      for (long k = 0; k < nf; k++) t->hdr[k] = fl[k];
    } else {
      if ((size_t)nf != t->ncols) {
        mini_free(t);
        return tsr_error_set(err, TSR_EPARSE, path, lineno, 1, NULL,
                             "expected %zu fields like the header, got %ld",
                             t->ncols, nf);
      }
      for (long k = 0; k < nf; k++) {
        t->cells[r * t->ncols + (size_t)k] = fl[k];
        t->colpos[r * t->ncols + (size_t)k] = cl[k];
      }
      t->line[r] = lineno;
      r++;
    }
    p = next;
    if (!e) break;
  }
  t->nrows = r;
  return TSR_OK;
}

static ptrdiff_t find_col(const mini_table *t, const char *const *names) {
  for (size_t k = 0; names[k]; k++)
    for (size_t c = 0; c < t->ncols; c++)
      if (!strcmp(t->hdr[c], names[k])) return (ptrdiff_t)c;
  return -1;
}

/* Parses column c of every row as a finite number. */
static tsr_status num_col(const char *path, const mini_table *t, size_t c,
                          double *out, tsr_error *err) {
  for (size_t r = 0; r < t->nrows; r++) {
    const char *s = t->cells[r * t->ncols + c];
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (*end == ' ') end++;
    if (!*s || *end || errno == ERANGE || !isfinite(v))
      return tsr_error_set(err, TSR_EPARSE, path, t->line[r],
                           (int64_t)t->colpos[r * t->ncols + c], t->hdr[c],
                           "expected a number, got '%.40s'", s);
    out[r] = v;
  }
  return TSR_OK;
}

void cli_summary_free(cli_summary *s) {
  if (!s) return;
  free(s->ids);
  free(s->x);
  free(s->idbuf);
  memset(s, 0, sizeof *s);
}

tsr_status cli_summary_read(const char *path, int need_m, cli_summary *s,
                            tsr_error *err) {
  static const char *const ID[] = {"customer_id", "ID", "id", NULL};
  static const char *const X[] = {"frequency", "frequency_cal", NULL};
  static const char *const R[] = {"recency", "recency_cal", NULL};
  static const char *const TT[] = {"T", "T_cal", "periods", NULL};
  static const char *const M[] = {"monetary_value", "monetary_value_cal", NULL};
  static const char *const W[] = {"weights", "weight", NULL};
  const char *name = strcmp(path, "-") ? path : "<stdin>";
  mini_table t;
  tsr_status st;
  memset(s, 0, sizeof *s);
  if ((st = mini_read(path, &t, err))) return st;
  if (err && err->code == TSR_OK) err->source[0] = '\0';
  ptrdiff_t ci = find_col(&t, ID), cx = find_col(&t, X), cr = find_col(&t, R),
            cT = find_col(&t, TT), cm = find_col(&t, M), cw = find_col(&t, W);
  const char *miss = cx < 0 ? "frequency" : cr < 0 ? "recency" : cT < 0 ? "T" :
                     (need_m && cm < 0) ? "monetary_value" : NULL;
  if (miss) {
    mini_free(&t);
    return tsr_error_set(err, TSR_EPARSE, name, 1, 0, miss,
                         "missing column (expected a header with frequency, "
                         "recency, T%s)",
                         need_m ? ", monetary_value" : "");
  }
  if (t.nrows == 0) {
    mini_free(&t);
    return tsr_error_set(err, TSR_EPARSE, name, 2, 0, NULL,
                         "no customers: the file has only a header");
  }
  size_t n = t.nrows;
  s->n = n;
  s->x = malloc(5 * n * sizeof(double));
  s->ids = malloc(n * sizeof(char *));
  if (!s->x || !s->ids) {
    mini_free(&t);
    cli_summary_free(s);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  s->t_x = s->x + n;
  s->T = s->t_x + n;
  if ((st = num_col(name, &t, (size_t)cx, s->x, err)) ||
      (st = num_col(name, &t, (size_t)cr, s->t_x, err)) ||
      (st = num_col(name, &t, (size_t)cT, s->T, err)))
    goto fail;
  if (cm >= 0) {
    s->m = s->T + n;
    if ((st = num_col(name, &t, (size_t)cm, s->m, err))) goto fail;
  }
  if (cw >= 0) {
    s->w = s->T + 2 * n;
    if ((st = num_col(name, &t, (size_t)cw, s->w, err))) goto fail;
  }
  /* range checks with the position of the offending cell */
  for (size_t r = 0; r < n; r++) {
    double x = s->x[r], tx = s->t_x[r], T = s->T[r];
    ptrdiff_t bad = -1;
    const char *want = NULL;
    if (!(x >= 0)) bad = cx, want = "a value >= 0";
    else if (!(T > 0)) bad = cT, want = "a value > 0";
    else if (!(tx >= 0 && tx <= T)) bad = cr, want = "a value in [0, T]";
    else if (s->m && !(s->m[r] >= 0)) bad = cm, want = "a value >= 0";
    else if (s->w && !(s->w[r] >= 0)) bad = cw, want = "a value >= 0";
    if (bad >= 0) {
      st = tsr_error_set(err, TSR_ERANGE, name, t.line[r],
                         (int64_t)t.colpos[r * t.ncols + (size_t)bad],
                         t.hdr[bad], "expected %s, got '%.40s'", want,
                         t.cells[r * t.ncols + (size_t)bad]);
      goto fail;
    }
  }
  /* ids */
  size_t tot = 0;
  for (size_t r = 0; r < n; r++)
    tot += (ci >= 0 ? strlen(t.cells[r * t.ncols + (size_t)ci]) : 20) + 1;
  s->idbuf = malloc(tot ? tot : 1);
  if (!s->idbuf) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto fail;
  }
  char *q = s->idbuf;
  for (size_t r = 0; r < n; r++) {
    s->ids[r] = q;
    if (ci >= 0) {
      const char *v = t.cells[r * t.ncols + (size_t)ci];
      size_t L = strlen(v);
      memcpy(q, v, L + 1);
      q += L + 1;
    } else {
      q += snprintf(q, 21, "%zu", r + 1) + 1;
    }
  }
  mini_free(&t);
  return TSR_OK;
fail:
  mini_free(&t);
  cli_summary_free(s);
  return st;
}
