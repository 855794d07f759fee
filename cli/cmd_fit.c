/*
 * cmd_fit.c - `tessera fit`: maximum-likelihood fit of a BTYD model
 * (bgnbd, mbgnbd, pnbd, bgbb) or of the Gamma-Gamma spend model (gg) to a
 * customer summary; prints the model JSON and writes it with -o.
 * Help text: docs/cli/fit.md.
 */
#include <getopt.h>
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "cli.h"
#include "summary_io.h"
#include "tessera/btyd.h"

#ifdef M_MMAP_THRESHOLD
/* The heap grown at once by a multiple of the input's size (a summary of
 * 1 MiB or more), its whole 2 MiB pages advised huge, and left as the
 * heap's free top (the trim threshold keeps it), the part below the first
 * 2 MiB boundary taken by a block of its own (returned: free it when the
 * fit is done): the fit's arrays (the rows' numbers, the patterns, their
 * index, the kernels' terms, a few MB) are then carved from huge pages,
 * 2 MiB a fault, instead of 4 KiB pages each faulted in and zeroed apart
 * (a thousand faults of about 2 us each on a VM: a tenth of a
 * 100,000-customer fit). Only the pages the fit touches are backed. */
static void *heap_on_huge_pages(const char *path) {
#ifdef MADV_HUGEPAGE
  struct stat sb;
  const size_t H = (size_t)2 << 20;
  if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < (off_t)(H / 2)) return NULL;
  size_t n = (size_t)sb.st_size < ((size_t)64 << 20) ? 8 * (size_t)sb.st_size : (size_t)512 << 20;
  char *p = malloc(n);
  if (!p) return NULL;
  const uintptr_t a = ((uintptr_t)p + H - 1) & ~(uintptr_t)(H - 1),
                  e = ((uintptr_t)p + n) & ~(uintptr_t)(H - 1);
  if (e <= a + H) {
    free(p);
    return NULL;
  }
  (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
  const size_t head = a - (uintptr_t)p;
  free(p);
  return head > 64 ? malloc(head - 32) : NULL;
#else
  (void)path;
  return NULL;
#endif
}
#endif

/* tsr_cmd_fit once the options are read: the fit of path's summary,
 * printed (and saved to out). */
static int fit_file(tsr_btyd_kind kind, const char *path, const tsr_btyd_fit_opts *fo_in,
                    int quiet, const char *out) {
  tsr_btyd_fit_opts fo = *fo_in;
  tsr_error err;
  tsr_error_clear(&err);
  cli_summary s;
  tsr_status st = kind == TSR_BTYD_GG ? cli_summary_read_values(path, 1, &s, &err)
                                       : cli_summary_read_patterns(path, kind == TSR_BTYD_BGBB,
                                                                   fo.n_threads, &s, &err);
  if (st) return cli_fail(st, &err);
  tsr_btyd_data d = {s.n, s.x, s.t_x, s.T, NULL, s.w};
  double *gx = NULL, *gm = NULL, *gw = NULL;
  if (kind == TSR_BTYD_GG) {
    /* repeat customers only: x > 0 and a positive mean spend */
    size_t k = 0;
    gx = malloc(3 * s.n * sizeof *gx);
    if (!gx) {
      cli_summary_free(&s);
      return cli_fail(TSR_ENOMEM, NULL);
    }
    gm = gx + s.n;
    gw = gm + s.n;
    for (size_t i = 0; i < s.n; i++)
      if (s.x[i] > 0 && s.m[i] > 0) {
        gx[k] = s.x[i];
        gm[k] = s.m[i];
        gw[k] = s.w ? s.w[i] : 1.0;
        k++;
      }
    if (k == 0) {
      cli_msg("fit: %s: no repeat customers (frequency > 0 and "
              "monetary_value > 0): nothing to fit",
              path);
      free(gx);
      cli_summary_free(&s);
      return TSR_EXIT_INPUT;
    }
    d = (tsr_btyd_data){k, gx, NULL, NULL, gm, gw};
    double r;
    if (!quiet && tsr_gg_correlation(&d, &r, NULL) == TSR_OK)
      cli_msg("fit: gg: correlation between frequency and monetary value "
              "%.3f%s",
              r,
              fabs(r) > 0.3 ? " (the model assumes independence: treat the "
                              "spend predictions with caution)"
                            : "");
  }
  tsr_btyd_model m;
  st = tsr_btyd_fit(kind, &d, &fo, &m, &err);
  free(gx);
  cli_summary_free(&s);
  if (st) {
    if (!err.source[0]) snprintf(err.source, sizeof err.source, "%s", path);
    return cli_fail(st, &err);
  }
  char *js = NULL;
  if ((st = tsr_btyd_model_to_json(&m, &js, &err))) return cli_fail(st, &err);
  fputs(js, stdout);
  fputc('\n', stdout);
  free(js);
  if (out && (st = tsr_btyd_model_save(&m, out, &err))) return cli_fail(st, &err);
  return fflush(stdout) == 0 ? TSR_EXIT_OK : TSR_EXIT_FAIL;
}

int tsr_cmd_fit(int argc, char **argv) {
  static const struct option opts[] = {
      {"model", required_argument, NULL, 'm'},
      {"output", required_argument, NULL, 'o'},
      {"penalizer", required_argument, NULL, 'p'},
      {"period-days", required_argument, NULL, 'd'},
      {"starts", required_argument, NULL, 's'},
      {"max-iter", required_argument, NULL, 'i'},
      {"threads", required_argument, NULL, 't'},
      {"quiet", no_argument, NULL, 'q'},
      {NULL, 0, NULL, 0}};
  const char *model = "bgnbd", *out = NULL;
  tsr_btyd_fit_opts fo;
  tsr_btyd_fit_opts_init(&fo);
  fo.n_threads = 2;
  int quiet = 0, c;
  long v;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":m:o:q", opts, NULL)) != -1) {
    switch (c) {
      case 'm':
        model = optarg;
        break;
      case 'o':
        out = optarg;
        break;
      case 'p':
        if (cli_parse_double("fit", "--penalizer", optarg, 0, 1e6, &fo.penalizer))
          return TSR_EXIT_USAGE;
        break;
      case 'd':
        if (cli_parse_double("fit", "--period-days", optarg, 1e-6, 1e6,
                             &fo.period_days))
          return TSR_EXIT_USAGE;
        break;
      case 's':
        if (cli_parse_long("fit", "--starts", optarg, 1, 8, &v)) return TSR_EXIT_USAGE;
        fo.n_starts = (int)v;
        break;
      case 'i':
        if (cli_parse_long("fit", "--max-iter", optarg, 1, 1000000, &v))
          return TSR_EXIT_USAGE;
        fo.max_iter = (int)v;
        break;
      case 't':
        if (cli_parse_long("fit", "--threads", optarg, 1, 64, &v)) return TSR_EXIT_USAGE;
        fo.n_threads = (int)v;
        break;
      case 'q':
        quiet = 1;
        break;
      case ':':
        return cli_usage("fit", "%s: missing value", argv[optind - 1]);
      default:
        return cli_usage("fit", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc - 1)
    return cli_usage("fit", optind >= argc ? "missing SUMMARY.csv"
                                           : "expected one SUMMARY.csv");
  tsr_btyd_kind kind;
  tsr_error err;
  tsr_error_clear(&err);
  if (tsr_btyd_kind_parse(model, &kind, &err))
    return cli_usage("fit", "--model: %s", err.msg);

#ifdef M_MMAP_THRESHOLD
  /* a fit's arrays (a few MB, allocated and freed step after step) from
   * the heap, which keeps what is freed for the next step: fresh pages
   * cost more to fault in than the fit's arithmetic on them */
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  void *head = heap_on_huge_pages(argv[optind]);
#else
  void *head = NULL;
#endif
  const int rc = fit_file(kind, argv[optind], &fo, quiet, out);
  free(head);
  return rc;
}
