/*
 * summary_io.h - reads the per-customer summary CSV used by `tessera fit`
 * and `tessera predict` (the output of `tessera summary`, its calibration
 * layout, the CDNOW summary, the BG/BB donations layout).
 */
#ifndef TESSERA_CLI_SUMMARY_IO_H
#define TESSERA_CLI_SUMMARY_IO_H

#include <stddef.h>

#include "tessera/tessera.h"

typedef struct cli_summary {
  size_t n;
  char **ids;       /* customer ids (row numbers when the file has none;
                       NULL from cli_summary_read_values' fast path) */
  double *x, *t_x, *T;
  double *m;        /* monetary value, NULL when the file has none */
  double *w;        /* weights, NULL when the file has none */
  char *idbuf;      /* storage of ids (row numbers) */
  tsr_table *table; /* the file, storage of ids read from it */
} cli_summary;

/* Reads path ("-" = stdin). Columns (first match wins):
 *   id:        customer_id, ID, id
 *   frequency: frequency, frequency_cal
 *   recency:   recency, recency_cal
 *   T:         T, T_cal, periods
 *   monetary:  monetary_value, monetary_value_cal   (needed if need_m)
 *   weights:   weights, weight                      (optional)
 * A bad cell gives TSR_EPARSE "FILE:LINE:COLUMN: error: NAME: expected ...,
 * got '...'" in err. */
tsr_status cli_summary_read(const char *path, int need_m, cli_summary *s,
                            tsr_error *err);
/* cli_summary_read for callers that need no ids (`tessera fit`): ids NULL
 * when the file is plain CSV (tsr_table_read_numeric reads only the value
 * columns, in place); otherwise, and for every error, cli_summary_read. */
tsr_status cli_summary_read_values(const char *path, int need_m, cli_summary *s,
                                   tsr_error *err);
/* For the purchase-model fits (`tessera fit`, no monetary value needed):
 * a plain file (tsr_table_scan_codes: each column's distinct texts
 * numbered, each parsed once) read straight into its patterns,
 * the rows with equal frequency, recency and T folded into one (the values
 * of its first row, -0.0 equal to 0.0) weighted by the sum of their
 * weights (1 each without a weights column) in row order, patterns in
 * first-seen order, w always set, ids and m NULL: what tsr_btyd_fit's
 * compression makes of the rows, so the fit is the same. Otherwise, and
 * whenever a row would fail tsr_btyd_check_data (for BG/BB when bgbb),
 * whose messages name the row, and for a file tsr_table_scan_codes does
 * not read (a cell of 32 bytes or more, more than TSR_TABLE_CODE_MAX
 * distinct texts in a column), cli_summary_read_values (one row per
 * customer). n_parts 2: a large file read in two parts at once, the same
 * patterns. */
tsr_status cli_summary_read_patterns(const char *path, int bgbb, int n_parts, cli_summary *s,
                                     tsr_error *err);
void cli_summary_free(cli_summary *s);

#endif
