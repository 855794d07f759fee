/*
 * cmd_anomalies.c - `tessera anomalies`: transactions unusual for their
 * customer, scored with robust statistics (docs/cli/anomalies.md,
 * docs/anomalies.md).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tessera/anomaly.h"

#define CMD "anomalies"

static void on_reject(void *ud, const tsr_reject *r) {
  long *shown = ud;
  if ((*shown)++ >= 10) return;
  fprintf(stderr, "tessera: %s:%lld:%lld: error: %s%s%s\n", r->source, (long long)r->line,
          (long long)r->column, r->field && *r->field ? r->field : "", r->field && *r->field ? ": " : "",
          r->reason);
}

int tsr_cmd_anomalies(int argc, char **argv) {
  enum { OPT_ALL = 256, OPT_MIN, OPT_TOP, OPT_MAXERR, OPT_HIST };
  static const struct option longopts[] = {{"output", required_argument, NULL, 'o'},
                                           {"all", no_argument, NULL, OPT_ALL},
                                           {"min-score", required_argument, NULL, OPT_MIN},
                                           {"top", required_argument, NULL, OPT_TOP},
                                           {"min-history", required_argument, NULL, OPT_HIST},
                                           {"max-errors", required_argument, NULL, OPT_MAXERR},
                                           {NULL, 0, NULL, 0}};
  const char *out_path = NULL;
  int all = 0;
  long top = -1, l;
  double v;
  tsr_anomaly_params p;
  tsr_anomaly_params_init(&p);
  tsr_anomaly_read_opts ro;
  tsr_anomaly_read_opts_init(&ro);
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":o:", longopts, NULL)) != -1) {
    switch (c) {
      case 'o': out_path = optarg; break;
      case OPT_ALL: all = 1; break;
      case OPT_MIN:
        if (cli_parse_double(CMD, "--min-score", optarg, 1e-9, 1e9, &v)) return TSR_EXIT_USAGE;
        p.flag_score = v;
        break;
      case OPT_TOP:
        if (cli_parse_long(CMD, "--top", optarg, 0, 2000000000L, &top)) return TSR_EXIT_USAGE;
        break;
      case OPT_HIST:
        if (cli_parse_long(CMD, "--min-history", optarg, 2, 1000000, &l)) return TSR_EXIT_USAGE;
        p.min_history = (int)l;
        break;
      case OPT_MAXERR:
        if (cli_parse_long(CMD, "--max-errors", optarg, 0, 1000000000L, &l)) return TSR_EXIT_USAGE;
        ro.max_errors = l;
        break;
      case ':': return cli_usage(CMD, "%s: missing value", argv[optind - 1]);
      default: return cli_usage(CMD, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind >= argc) return cli_usage(CMD, "expected a transactions file (transactions.csv)");
  if (optind + 1 < argc) return cli_usage(CMD, "unexpected argument '%s'", argv[optind + 1]);
  const char *in_path = argv[optind];
  tsr_error err;
  tsr_error_clear(&err);
  tsr_anomaly_detector *d = NULL;
  tsr_status st = tsr_anomaly_new(&p, &d, &err);
  if (st) return cli_fail(st, &err);
  long shown = 0;
  ro.on_reject = on_reject;
  ro.ud = &shown;
  int64_t nrej = 0;
  int rc = TSR_EXIT_OK;
  st = tsr_anomaly_read_csv(d, in_path, &ro, &nrej, &err);
  if (!st) st = tsr_anomaly_run(d, &err);
  if (st) {
    rc = cli_fail(st, &err);
    goto done;
  }
  if (nrej) cli_msg("%s: %lld rows rejected%s", in_path, (long long)nrej, nrej > 10 ? " (10 shown)" : "");
  if (tsr_anomaly_count(d) == 0) {
    /* nothing accepted: no scores to write, so the run did not do its job */
    cli_msg("%s: error: no transaction accepted%s", in_path,
            nrej ? " (every row was rejected, see above)" : " (the file has no rows)");
    rc = TSR_EXIT_INPUT;
    goto done;
  }
  FILE *f = cli_open_out(out_path);
  if (!f) {
    rc = TSR_EXIT_FAIL;
    goto done;
  }
  fputs("transaction_id,customer_id,score,reasons\n", f);
  size_t n = tsr_anomaly_count(d), written = 0;
  char reasons[512];
  for (size_t k = 0; k < n; k++) {
    size_t i = tsr_anomaly_rank(d, k);
    if (top >= 0 && written >= (size_t)top) break;
    if (!all && top < 0 && !tsr_anomaly_flagged(d, i)) break;
    tsr_csv_put_field(f, tsr_anomaly_id(d, i));
    fputc(',', f);
    tsr_csv_put_field(f, tsr_anomaly_customer(d, i));
    fprintf(f, ",%.3f,", tsr_anomaly_score(d, i));
    tsr_csv_put_field(f, tsr_anomaly_reasons(d, i, reasons, sizeof reasons));
    fputc('\n', f);
    written++;
  }
  if (cli_close_out(f, out_path)) rc = TSR_EXIT_FAIL;
  cli_msg("anomalies: %zu transactions, %zu flagged (score >= %g)", n, tsr_anomaly_nflagged(d), p.flag_score);
done:
  tsr_anomaly_free(d);
  return rc;
}
