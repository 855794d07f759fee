/*
 * table.c - a CSV table held in memory (see tessera/table.h). Cells are
 * stored in one arena; rows index into it.
 */
#include "internal.h"
#include "tessera/table.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct tsr_table {
  char *name;
  size_t ncols, nrows;
  char **colnames;
  size_t *cells;    /* nrows*ncols offsets into arena */
  size_t cells_cap;
  int64_t *lines;   /* input line of each row */
  size_t lines_cap;
  char *arena;
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
  tsr__free(t->arena);
  tsr__free(t->name);
  tsr__free(t);
}

static tsr_status table_load(tsr_csv *c, tsr_table **out, tsr_error *err) {
  tsr_table *t = tsr__calloc(1, sizeof *t);
  if (!t) return tsr_error_set(err, TSR_ENOMEM, tsr_csv_name(c), 0, 0, NULL, "out of memory");
  t->name = tsr__strdup(tsr_csv_name(c));
  if (!t->name) goto nomem;
  tsr_csv_record rec;
  tsr_status st = tsr_csv_next(c, &rec, err);
  if (st == TSR_ENOTFOUND) {
    st = tsr_error_set(err, TSR_EPARSE, t->name, 1, 0, NULL,
                       "expected a header line, got an empty file");
    goto fail;
  }
  if (st != TSR_OK) goto fail;
  t->ncols = rec.nfields;
  t->colnames = tsr__calloc(t->ncols, sizeof *t->colnames);
  if (!t->colnames) goto nomem;
  for (size_t j = 0; j < t->ncols; j++) {
    t->colnames[j] = tsr__strndup(rec.fields[j].ptr, rec.fields[j].len);
    if (!t->colnames[j]) goto nomem;
  }
  for (;;) {
    st = tsr_csv_next(c, &rec, err);
    if (st == TSR_ENOTFOUND) break;
    if (st != TSR_OK) goto fail;
    if (rec.nfields != t->ncols) {
      int64_t col = rec.nfields > 0 ? rec.fields[rec.nfields - 1].column : 1;
      st = tsr_error_set(err, TSR_EPARSE, t->name, rec.line, col, NULL,
                         "expected %zu fields as in the header, got %zu",
                         t->ncols, rec.nfields);
      goto fail;
    }
    void *p = t->cells;
    if (tsr__grow(&p, &t->cells_cap, (t->nrows + 1) * t->ncols, sizeof(size_t)) != TSR_OK)
      goto nomem;
    t->cells = p;
    p = t->lines;
    if (tsr__grow(&p, &t->lines_cap, t->nrows + 1, sizeof(int64_t)) != TSR_OK) goto nomem;
    t->lines = p;
    t->lines[t->nrows] = rec.line;
    for (size_t j = 0; j < t->ncols; j++) {
      size_t need = t->arena_len + rec.fields[j].len + 1;
      p = t->arena;
      if (tsr__grow(&p, &t->arena_cap, need, 1) != TSR_OK) goto nomem;
      t->arena = p;
      memcpy(t->arena + t->arena_len, rec.fields[j].ptr, rec.fields[j].len);
      t->arena[t->arena_len + rec.fields[j].len] = '\0';
      t->cells[t->nrows * t->ncols + j] = t->arena_len;
      t->arena_len = need;
    }
    t->nrows++;
  }
  *out = t;
  return TSR_OK;
nomem:
  st = tsr_error_set(err, TSR_ENOMEM, t->name, 0, 0, NULL, "out of memory");
fail:
  tsr_table_free(t);
  return st;
}

tsr_status tsr_table_read(const char *path, const tsr_csv_opts *opts,
                          tsr_table **out, tsr_error *err) {
  *out = NULL;
  tsr_csv *c;
  tsr_status st = tsr_csv_open(path, opts, &c, err);
  if (st != TSR_OK) return st;
  st = table_load(c, out, err);
  tsr_csv_close(c);
  return st;
}

tsr_status tsr_table_read_mem(const char *buf, size_t len, const char *name,
                              tsr_table **out, tsr_error *err) {
  *out = NULL;
  tsr_csv *c;
  tsr_status st = tsr_csv_open_mem(buf, len, name, NULL, &c, err);
  if (st != TSR_OK) return st;
  st = table_load(c, out, err);
  tsr_csv_close(c);
  return st;
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
  return t->arena + t->cells[row * t->ncols + col];
}
int64_t tsr_table_row_line(const tsr_table *t, size_t row) {
  return row < t->nrows ? t->lines[row] : 0;
}
const char *tsr_table_name(const tsr_table *t) { return t->name; }

tsr_status tsr_table_column_double(const tsr_table *t, size_t col,
                                   double **out, tsr_error *err) {
  *out = NULL;
  if (col >= t->ncols)
    return tsr_error_set(err, TSR_EINVAL, t->name, 0, 0, NULL, "no column %zu", col + 1);
  double *v = tsr__malloc((t->nrows ? t->nrows : 1) * sizeof *v);
  if (!v) return tsr_error_set(err, TSR_ENOMEM, t->name, 0, 0, NULL, "out of memory");
  for (size_t i = 0; i < t->nrows; i++) {
    const char *s = tsr_table_cell(t, i, col);
    const char *p = s;
    while (*p == ' ' || *p == '\t') p++;
    char *end = NULL;
    errno = 0;
    double x = strtod(p, &end);
    if (end) {
      while (*end == ' ' || *end == '\t') end++;
    }
    if (!*p || end == p || *end || !isfinite(x)) {
      tsr__free(v);
      return tsr_error_set(err, TSR_EPARSE, t->name, t->lines[i], (int64_t)col + 1,
                           t->colnames[col], "expected a number, got '%.40s'", s);
    }
    v[i] = x;
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
