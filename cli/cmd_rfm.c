/*
 * cmd_rfm.c - `tessera rfm`: RFM scores and named segments from the output
 * of `tessera summary` (see docs/cli/rfm.md and docs/rfm.md).
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "tessera/rfm.h"
#include "tessera/table.h"

#define CMD "rfm"

typedef struct rfm_data {
  tsr_table *t;
  size_t n;
  double *freq, *rec, *T, *mv, *rev_col; /* rev_col may be NULL */
  double *gap, *money, *revenue;
  int *r, *f, *m, *seg;
  ptrdiff_t id_col;
} rfm_data;

static void data_release(rfm_data *d) {
  tsr_table_free(d->t);
  free(d->freq);
  free(d->rec);
  free(d->T);
  free(d->mv);
  free(d->rev_col);
  free(d->gap);
  free(d->money);
  free(d->revenue);
  free(d->r);
  free(d->f);
  free(d->m);
  free(d->seg);
}

/* Fails with "FILE:LINE: error: FIELD: msg" for row i. */
static int row_fail(const rfm_data *d, size_t i, const char *field, const char *fmt, double a,
                    double b) {
  tsr_error err;
  char msg[256];
  snprintf(msg, sizeof msg, fmt, a, b);
  tsr_error_set(&err, TSR_EPARSE, tsr_table_name(d->t), tsr_table_row_line(d->t, i), 0, field,
                "%s", msg);
  return cli_fail(TSR_EPARSE, &err);
}

/* Loads and checks the summary, derives gap, money and revenue. */
static int load(const char *path, rfm_data *d) {
  tsr_error err;
  tsr_status st = tsr_table_read(path, NULL, &d->t, &err);
  if (st) return cli_fail(st, &err);
  d->n = tsr_table_nrows(d->t);
  d->id_col = tsr_table_find(d->t, "customer_id");
  if (d->id_col < 0) {
    tsr_error_set(&err, TSR_ENOTFOUND, tsr_table_name(d->t), 1, 0, "customer_id",
                  "expected a column named 'customer_id' in the header");
    return cli_fail(TSR_ENOTFOUND, &err);
  }
  if ((st = tsr_table_get_double(d->t, "frequency", &d->freq, &err)) ||
      (st = tsr_table_get_double(d->t, "recency", &d->rec, &err)) ||
      (st = tsr_table_get_double(d->t, "T", &d->T, &err)) ||
      (st = tsr_table_get_double(d->t, "monetary_value", &d->mv, &err)))
    return cli_fail(st, &err);
  if (tsr_table_find(d->t, "revenue") >= 0 &&
      (st = tsr_table_get_double(d->t, "revenue", &d->rev_col, &err)))
    return cli_fail(st, &err);
  size_t n = d->n ? d->n : 1;
  d->gap = malloc(n * sizeof *d->gap);
  d->money = malloc(n * sizeof *d->money);
  d->revenue = malloc(n * sizeof *d->revenue);
  d->r = malloc(n * sizeof *d->r);
  d->f = malloc(n * sizeof *d->f);
  d->m = malloc(n * sizeof *d->m);
  d->seg = malloc(n * sizeof *d->seg);
  if (!d->gap || !d->money || !d->revenue || !d->r || !d->f || !d->m || !d->seg)
    return cli_fail(TSR_ENOMEM, NULL);
  for (size_t i = 0; i < d->n; i++) {
    if (d->freq[i] < 0)
      return row_fail(d, i, "frequency", "expected a value >= 0, got %.17g", d->freq[i], 0);
    if (d->rec[i] < 0)
      return row_fail(d, i, "recency", "expected a value >= 0, got %.17g", d->rec[i], 0);
    if (d->T[i] < d->rec[i])
      return row_fail(d, i, "T", "expected a value >= recency (%.17g), got %.17g", d->rec[i],
                      d->T[i]);
    d->gap[i] = d->T[i] - d->rec[i];
    d->money[i] = d->rev_col ? d->rev_col[i] : d->mv[i];
    d->revenue[i] = d->rev_col ? d->rev_col[i] : d->mv[i] * d->freq[i];
  }
  return TSR_EXIT_OK;
}

static void write_customers_csv(FILE *f, const rfm_data *d, const tsr_rfm_scheme *s) {
  size_t nc = tsr_table_ncols(d->t);
  for (size_t j = 0; j < nc; j++) {
    tsr_csv_put_field(f, tsr_table_colname(d->t, j));
    fputc(',', f);
  }
  fputs("r_score,f_score,m_score,rfm_cell,segment\n", f);
  for (size_t i = 0; i < d->n; i++) {
    for (size_t j = 0; j < nc; j++) {
      tsr_csv_put_field(f, tsr_table_cell(d->t, i, j));
      fputc(',', f);
    }
    char cell[4];
    fprintf(f, "%d,%d,%d,%s,", d->r[i], d->f[i], d->m[i], tsr_rfm_cell(d->r[i], d->f[i], d->m[i], cell));
    tsr_csv_put_field(f, tsr_rfm_scheme_segment_name(s, (size_t)d->seg[i]));
    fputc('\n', f);
  }
}

/* Index of v in the numeric columns, else -1. */
static int numeric_col(const char *name) {
  static const char *const num[] = {"frequency", "recency", "T", "monetary_value", "revenue"};
  for (int k = 0; k < 5; k++)
    if (!strcmp(name, num[k])) return k;
  return -1;
}

static int write_customers_json(FILE *f, const rfm_data *d, const tsr_rfm_scheme *s) {
  size_t nc = tsr_table_ncols(d->t);
  fputs("[", f);
  for (size_t i = 0; i < d->n; i++) {
    json_t *o = json_object();
    if (!o) return -1;
    for (size_t j = 0; j < nc; j++) {
      const char *name = tsr_table_colname(d->t, j), *cell = tsr_table_cell(d->t, i, j);
      const double *vals[5] = {d->freq, d->rec, d->T, d->mv, d->rev_col};
      int k = numeric_col(name);
      json_t *v = k >= 0 && vals[k] ? json_real(vals[k][i]) : json_string(cell);
      if (!v) v = json_stringn(cell, strlen(cell)); /* invalid UTF-8: json_string fails */
      if (!v) v = json_null();
      json_object_set_new(o, name, v);
    }
    char cell[4];
    json_object_set_new(o, "r_score", json_integer(d->r[i]));
    json_object_set_new(o, "f_score", json_integer(d->f[i]));
    json_object_set_new(o, "m_score", json_integer(d->m[i]));
    json_object_set_new(o, "rfm_cell", json_string(tsr_rfm_cell(d->r[i], d->f[i], d->m[i], cell)));
    json_object_set_new(o, "segment", json_string(tsr_rfm_scheme_segment_name(s, (size_t)d->seg[i])));
    fputs(i ? ",\n" : "\n", f);
    json_dumpf(o, f, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
  }
  fputs(d->n ? "\n]\n" : "]\n", f);
  return 0;
}

static void write_segments(FILE *f, const tsr_rfm_segment_stats *st, size_t ns, cli_format fmt) {
  char b[7][TSR_DOUBLE_BUF];
  if (fmt == CLI_FMT_CSV) {
    fputs("segment,customers,share,mean_r,mean_f,mean_m,revenue,revenue_share\n", f);
    for (size_t j = 0; j < ns; j++) {
      tsr_csv_put_field(f, st[j].segment);
      fprintf(f, ",%zu,%s,%s,%s,%s,%s,%s\n", st[j].customers, tsr_format_double(st[j].share, b[0]),
              tsr_format_double(st[j].mean_r, b[1]), tsr_format_double(st[j].mean_f, b[2]),
              tsr_format_double(st[j].mean_m, b[3]), tsr_format_double(st[j].revenue, b[4]),
              tsr_format_double(st[j].revenue_share, b[5]));
    }
    return;
  }
  fputs("[", f);
  for (size_t j = 0; j < ns; j++) {
    json_t *o = json_pack("{s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "segment", st[j].segment,
                          "customers", (json_int_t)st[j].customers, "share", st[j].share,
                          "mean_r", st[j].mean_r, "mean_f", st[j].mean_f, "mean_m", st[j].mean_m,
                          "revenue", st[j].revenue, "revenue_share", st[j].revenue_share);
    fputs(j ? ",\n" : "\n", f);
    if (o) json_dumpf(o, f, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
  }
  fputs(ns ? "\n]\n" : "]\n", f);
}

int tsr_cmd_rfm(int argc, char **argv) {
  enum { OPT_SCHEME = 256, OPT_SEGMENTS, OPT_FORMAT };
  static const struct option longopts[] = {{"scheme", required_argument, NULL, OPT_SCHEME},
                                           {"segments-out", required_argument, NULL, OPT_SEGMENTS},
                                           {"format", required_argument, NULL, OPT_FORMAT},
                                           {"output", required_argument, NULL, 'o'},
                                           {NULL, 0, NULL, 0}};
  const char *scheme_arg = "rf10", *out_path = NULL, *seg_path = NULL;
  cli_format fmt = CLI_FMT_CSV;
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":o:", longopts, NULL)) != -1) {
    switch (c) {
      case OPT_SCHEME:
        scheme_arg = optarg;
        break;
      case OPT_SEGMENTS:
        seg_path = optarg;
        break;
      case OPT_FORMAT:
        if (cli_parse_format(CMD, optarg, &fmt)) return TSR_EXIT_USAGE;
        break;
      case 'o':
        out_path = optarg;
        break;
      case ':':
        return cli_usage(CMD, "%s: missing value", argv[optind - 1]);
      default:
        return cli_usage(CMD, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind >= argc) return cli_usage(CMD, "expected a summary file (the output of 'tessera summary')");
  if (optind + 1 < argc) return cli_usage(CMD, "unexpected argument '%s'", argv[optind + 1]);
  const char *in_path = argv[optind];
  if (out_path && seg_path && !strcmp(out_path, seg_path) && strcmp(out_path, "-"))
    return cli_usage(CMD, "-o and --segments-out name the same file '%s'", out_path);

  tsr_error err;
  tsr_rfm_scheme *scheme = NULL;
  tsr_status st;
  if (!strcmp(scheme_arg, "rf10") || !strcmp(scheme_arg, "rfm11"))
    st = tsr_rfm_scheme_builtin(scheme_arg, &scheme, &err);
  else
    st = tsr_rfm_scheme_read(scheme_arg, &scheme, &err);
  if (st) return cli_fail(st, &err);

  rfm_data d;
  memset(&d, 0, sizeof d);
  int rc = load(in_path, &d);
  tsr_rfm_segment_stats *stats = NULL;
  if (rc) goto done;
  st = tsr_rfm_score(d.gap, d.freq, d.money, d.n, d.r, d.f, d.m, &err);
  if (st) {
    rc = cli_fail(st, &err);
    goto done;
  }
  for (size_t i = 0; i < d.n; i++) d.seg[i] = tsr_rfm_segment_index(scheme, d.r[i], d.f[i], d.m[i]);

  FILE *f = cli_open_out(out_path);
  if (!f) {
    rc = TSR_EXIT_FAIL;
    goto done;
  }
  if (fmt == CLI_FMT_CSV)
    write_customers_csv(f, &d, scheme);
  else if (write_customers_json(f, &d, scheme))
    rc = cli_fail(TSR_ENOMEM, NULL);
  if (cli_close_out(f, out_path) && !rc) rc = TSR_EXIT_FAIL;
  if (rc || !seg_path) goto done;

  size_t ns = tsr_rfm_scheme_nsegments(scheme);
  stats = calloc(ns, sizeof *stats);
  if (!stats) {
    rc = cli_fail(TSR_ENOMEM, NULL);
    goto done;
  }
  st = tsr_rfm_segment_summary(scheme, d.r, d.f, d.m, d.revenue, d.n, stats, &err);
  if (st) {
    rc = cli_fail(st, &err);
    goto done;
  }
  FILE *g = cli_open_out(seg_path);
  if (!g) {
    rc = TSR_EXIT_FAIL;
    goto done;
  }
  write_segments(g, stats, ns, fmt);
  if (cli_close_out(g, seg_path)) rc = TSR_EXIT_FAIL;
done:
  free(stats);
  data_release(&d);
  tsr_rfm_scheme_free(scheme);
  return rc;
}
