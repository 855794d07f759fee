/*
 * tessera/table.h - a small CSV table held in memory: header + rows of
 * strings, with numeric views of columns. For per-customer tables
 * (summary, customers.csv), not for transaction logs (use tessera/csv.h).
 */
#ifndef TESSERA_TABLE_H
#define TESSERA_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/csv.h"
#include "tessera/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsr_table tsr_table;

/* Reads a whole CSV file with a header line ("-" = stdin). opts may be NULL
 * (comma). Every record must have as many fields as the header
 * (else TSR_EPARSE naming file:line). *out owned by caller (tsr_table_free). */
TSR_API tsr_status tsr_table_read(const char *path, const tsr_csv_opts *opts,
                                  tsr_table **out, tsr_error *err);
/* Same from memory; name is used in error reports. */
TSR_API tsr_status tsr_table_read_mem(const char *buf, size_t len,
                                      const char *name, tsr_table **out,
                                      tsr_error *err);
TSR_API void tsr_table_free(tsr_table *t);

TSR_API size_t tsr_table_nrows(const tsr_table *t);
TSR_API size_t tsr_table_ncols(const tsr_table *t);
/* Column name (borrowed). */
TSR_API const char *tsr_table_colname(const tsr_table *t, size_t col);
/* Index of the column with that name, or -1. */
TSR_API ptrdiff_t tsr_table_find(const tsr_table *t, const char *name);
/* Cell text (borrowed, NUL-terminated). */
TSR_API const char *tsr_table_cell(const tsr_table *t, size_t row, size_t col);
/* 1-based input line of a row (for error messages). */
TSR_API int64_t tsr_table_row_line(const tsr_table *t, size_t row);
/* The file name used in error reports. */
TSR_API const char *tsr_table_name(const tsr_table *t);

/* Parses column `col` as finite doubles into a new array *out
 * (caller frees with free()). A cell that is not a number gives TSR_EPARSE:
 * "FILE:LINE:COLUMN: error: NAME: expected a number, got 'x'". */
TSR_API tsr_status tsr_table_column_double(const tsr_table *t, size_t col,
                                           double **out, tsr_error *err);
/* Same into dst (nrows doubles, the caller's; undefined on error). */
TSR_API tsr_status tsr_table_column_double_to(const tsr_table *t, size_t col,
                                              double *dst, tsr_error *err);
/* Same, looking the column up by name (TSR_ENOTFOUND naming it if absent). */
TSR_API tsr_status tsr_table_get_double(const tsr_table *t, const char *name,
                                        double **out, tsr_error *err);

/* The numeric columns of a plain CSV file read straight into doubles,
 * without the table (`tessera fit`: only the columns it needs, parsed in
 * place from the mapped file). Column k is the first header field named
 * by one of want[k] (NULL-terminated alternatives, the first that the
 * header has wins, as with tsr_table_find); cols[k] = its nrows values,
 * or NULL when the header names none of want[k]. The columns lie in one
 * block, *block (free with free()). Values are bit-identical to those of
 * tsr_table_read + tsr_table_column_double_to.
 * *plain = 0 (nothing read, TSR_OK) whenever the file is not plain:
 * stdin or not a regular file, empty or unreadable, a UTF-8 BOM, no line
 * end after the last record, a quote, CR or NUL byte, more than 256
 * header fields, a field over TSR_CSV_DEFAULT_MAX_FIELD bytes, a record
 * whose field count differs from the header's, no data row, or a cell of
 * a wanted column that is not a finite number in plain notation (a sign,
 * digit or point first, no spaces). The caller then reads it with
 * tsr_table_read, which reports what is wrong with the same messages as
 * always. */
TSR_API tsr_status tsr_table_read_numeric(const char *path, size_t ncols,
                                          const char *const *const *want, double **cols,
                                          size_t *nrows, double **block, int *plain,
                                          tsr_error *err);

/* tsr_table_read_numeric without the columns: the same plain files, the
 * same values, handed to the caller a row at a time (`tessera fit` folds
 * them into patterns as they come). begin(ctx, nrows, present) is called
 * once the header is read (present[k]: whether the header names column
 * k), then row(ctx, part, r, v) for every row r, v[k] the value of column
 * k (0 when absent). With n_parts 2 a large file (16,384 rows or more) is
 * read in two parts at once, part 0 on the calling thread and part 1 on
 * another: each part's rows come in order (part 0 the first rows, part 1
 * the rest), the two parts concurrently; otherwise every row comes in
 * part 0, in order. A callback returning nonzero stops its part with
 * *plain = 0, as does a file that is not plain (any of the cases of
 * tsr_table_read_numeric, which may come after some rows were given). */
typedef int (*tsr_table_begin_fn)(void *ctx, size_t nrows, const int *present);
typedef int (*tsr_table_row_fn)(void *ctx, int part, size_t row, const double *v);
TSR_API tsr_status tsr_table_scan_numeric(const char *path, size_t ncols,
                                          const char *const *const *want,
                                          tsr_table_begin_fn begin, tsr_table_row_fn row,
                                          void *ctx, int n_parts, int *plain,
                                          tsr_error *err);

/* The wanted columns of a plain file (the files of tsr_table_read_numeric)
 * as numbers of their distinct texts, for callers that group rows by
 * their values (`tessera fit`: a summary's columns hold a few hundred
 * distinct texts, each parsed once). Up to TSR_TABLE_CODE_COLS columns
 * (want as in tsr_table_read_numeric). code[r * stride + at[k]] is the
 * number of row r's text in column k (at[k] -1: the header names none of
 * want[k]); the numbers count the distinct texts of each column within
 * each part, in first-seen order, and value[part][k][number] is the
 * text's value (that of tsr_table_read_numeric, bit for bit; equal values
 * may have two texts, as "1" and "1.0"). Rows below part1 are part 0, the
 * others part 1: with n_parts 2 a file of 16,384 rows or more is read in
 * two parts at once (part1 = nrows otherwise). *plain = 0 (nothing read,
 * TSR_OK, c emptied) for every file tsr_table_read_numeric does not read,
 * and for a cell of a wanted column of 32 bytes or more or a column with
 * more than TSR_TABLE_CODE_MAX distinct texts in a part. Free with
 * tsr_table_codes_free. */
#define TSR_TABLE_CODE_COLS 8
#define TSR_TABLE_CODE_MAX 8191
typedef struct tsr_table_codes {
  size_t nrows, stride, part1;
  int at[TSR_TABLE_CODE_COLS];
  uint16_t *code; /* nrows * stride */
  double *value[2][TSR_TABLE_CODE_COLS];
  size_t ndistinct[2][TSR_TABLE_CODE_COLS];
} tsr_table_codes;
TSR_API tsr_status tsr_table_scan_codes(const char *path, size_t ncols,
                                        const char *const *const *want, int n_parts,
                                        tsr_table_codes *c, int *plain, tsr_error *err);
TSR_API void tsr_table_codes_free(tsr_table_codes *c);

#ifdef __cplusplus
}
#endif
#endif
