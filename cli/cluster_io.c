/*
 * cluster_io.c - table input and label output of `tessera cluster` and
 * `tessera assign` (see cluster_io.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_io.h"

static const char *const profile_cols[] = {"frequency", "recency", "T",
                                           "monetary_value", "revenue",
                                           "clv", "p_alive"};

void cluster_input_release(cluster_input *in) {
  if (in->cols)
    for (size_t c = 0; c < in->ncols; c++) free(in->cols[c]);
  free(in->cols);
  free(in->names);
  free(in->tcol);
  free(in->segments);
  tsr_table_free(in->t);
  memset(in, 0, sizeof *in);
}

static int listed(const char *const *v, size_t n, const char *s) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(v[i], s)) return 1;
  return 0;
}

int cluster_input_read(const char *cmd, const char *path, const char *id_col,
                       const char *segment_col, const char *const *need,
                       size_t nneed, cluster_input *in) {
  (void)cmd;
  tsr_error err;
  memset(in, 0, sizeof *in);
  tsr_status st = tsr_table_read(path, NULL, &in->t, &err);
  if (st != TSR_OK) return cli_fail(st, &err);
  tsr_table *t = in->t;
  size_t nc = tsr_table_ncols(t);
  in->n = tsr_table_nrows(t);
  in->id_col = tsr_table_find(t, id_col);
  if (in->id_col < 0) {
    tsr_error_set(&err, TSR_ENOTFOUND, tsr_table_name(t), 1, 0, id_col,
                  "expected an id column named '%s' in the header (see --id-col)",
                  id_col);
    cluster_input_release(in);
    return cli_fail(TSR_ENOTFOUND, &err);
  }
  if (in->n == 0) {
    tsr_error_set(&err, TSR_EINVAL, tsr_table_name(t), 2, 0, NULL,
                  "expected at least one customer row, got none");
    cluster_input_release(in);
    return cli_fail(TSR_EPARSE, &err);
  }
  for (size_t i = 0; i < nneed; i++)
    if (tsr_table_find(t, need[i]) < 0) {
      tsr_error_set(&err, TSR_ENOTFOUND, tsr_table_name(t), 1, 0, need[i],
                    "expected a column named '%s' in the header", need[i]);
      cluster_input_release(in);
      return cli_fail(TSR_ENOTFOUND, &err);
    }
  in->cols = calloc(nc, sizeof *in->cols);
  in->names = calloc(nc, sizeof *in->names);
  in->tcol = calloc(nc, sizeof *in->tcol);
  if (!in->cols || !in->names || !in->tcol) {
    cluster_input_release(in);
    return cli_fail(TSR_ENOMEM, NULL);
  }
  for (size_t c = 0; c < nc; c++) {
    const char *name = tsr_table_colname(t, c);
    int strict = listed(need, nneed, name);
    if (!strict && !listed(profile_cols, sizeof profile_cols / sizeof *profile_cols, name))
      continue;
    if (strict) {
      double *v = NULL;
      st = tsr_table_column_double(t, c, &v, &err);
      if (st != TSR_OK) {
        cluster_input_release(in);
        return cli_fail(st, &err);
      }
      /* the table allocates with the library allocator = malloc */
      in->cols[in->ncols] = v;
    } else {
      double *v = malloc(in->n * sizeof *v);
      if (!v) {
        cluster_input_release(in);
        return cli_fail(TSR_ENOMEM, NULL);
      }
      for (size_t i = 0; i < in->n; i++) {
        const char *s = tsr_table_cell(t, i, c);
        char *end = NULL;
        double x = strtod(s, &end);
        v[i] = (*s && end && !*end && isfinite(x)) ? x : NAN;
      }
      in->cols[in->ncols] = v;
    }
    in->names[in->ncols] = name;
    in->tcol[in->ncols] = c;
    in->ncols++;
  }
  ptrdiff_t sc = segment_col ? tsr_table_find(t, segment_col) : -1;
  if (sc >= 0) {
    in->segments = malloc(in->n * sizeof *in->segments);
    if (!in->segments) {
      cluster_input_release(in);
      return cli_fail(TSR_ENOMEM, NULL);
    }
    for (size_t i = 0; i < in->n; i++) in->segments[i] = tsr_table_cell(t, i, (size_t)sc);
  }
  return TSR_EXIT_OK;
}

int cluster_fail(const cluster_input *in, tsr_status st, tsr_error *err) {
  if (err && in && in->t && !err->source[0] && err->line > 0 &&
      (size_t)err->line <= in->n) {
    /* the library counts data rows; name the file line and column */
    size_t row = (size_t)err->line - 1;
    int64_t col = 0;
    ptrdiff_t c = err->field[0] ? tsr_table_find(in->t, err->field) : -1;
    if (c >= 0) col = (int64_t)c + 1;
    tsr_error e2 = *err;
    snprintf(e2.source, sizeof e2.source, "%s", tsr_table_name(in->t));
    e2.line = tsr_table_row_line(in->t, row);
    e2.column = col;
    return cli_fail(st, &e2);
  }
  return cli_fail(st, err);
}

int cluster_write_labels(const cluster_input *in, const char *path,
                         const char *id_name, const int *labels,
                         const double *prob) {
  FILE *f = cli_open_out(path);
  if (!f) return TSR_EXIT_FAIL;
  tsr_csv_put_field(f, id_name);
  fputs(prob ? ",cluster,probability\n" : ",cluster\n", f);
  for (size_t i = 0; i < in->n; i++) {
    tsr_csv_put_field(f, tsr_table_cell(in->t, i, (size_t)in->id_col));
    if (prob)
      fprintf(f, ",%d,%.6f\n", labels[i], prob[i]);
    else
      fprintf(f, ",%d\n", labels[i]);
  }
  return cli_close_out(f, path) ? TSR_EXIT_FAIL : TSR_EXIT_OK;
}

int cluster_split_names(const char *s, char **buf, const char **names,
                        size_t max) {
  *buf = strdup(s);
  if (!*buf) return -1;
  size_t n = 0;
  char *p = *buf;
  for (;;) {
    char *c = strchr(p, ',');
    if (c) *c = '\0';
    if (!*p || n == max) return -1;
    names[n++] = p;
    if (!c) break;
    p = c + 1;
  }
  return (int)n;
}
