/*
 * cmd_report.c - `tessera report RUN [--db FILE] -o report.html`: the
 * self-contained HTML report (or its data JSON) of a stored analyze run,
 * read back through the store API (tessera/report.h). docs/cli/report.md.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tessera/report.h"

enum {
  OPT_DB = 256, OPT_TITLE, OPT_TOP, OPT_CHURN, OPT_JSON, OPT_SAMPLE, OPT_NO_INPUT, OPT_CURRENCY,
  OPT_OFFERS_SIM, OPT_EXPERIMENT, OPT_OUT_DIR
};

typedef struct latest_ctx {
  int64_t id;
} latest_ctx;

/* The newest finished analyze (or retrain) run. */
static int on_run(void *ctx, const tsr_run *r) {
  latest_ctx *c = ctx;
  if (r->status == TSR_RUN_DONE && (!strcmp(r->command, "analyze") || !strcmp(r->command, "retrain"))) {
    c->id = r->id;
    return 1;
  }
  return 0;
}

int tsr_cmd_report(int argc, char **argv) {
  static const struct option longopts[] = {{"db", required_argument, NULL, OPT_DB},
                                           {"output", required_argument, NULL, 'o'},
                                           {"title", required_argument, NULL, OPT_TITLE},
                                           {"top", required_argument, NULL, OPT_TOP},
                                           {"sample", required_argument, NULL, OPT_SAMPLE},
                                           {"churn-threshold", required_argument, NULL, OPT_CHURN},
                                           {"json", no_argument, NULL, OPT_JSON},
                                           {"no-input", no_argument, NULL, OPT_NO_INPUT},
                                           {"currency", required_argument, NULL, OPT_CURRENCY},
                                           {"offers-sim", required_argument, NULL, OPT_OFFERS_SIM},
                                           {"experiment", required_argument, NULL, OPT_EXPERIMENT},
                                           {"run-dir", required_argument, NULL, OPT_OUT_DIR},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  const char *db = NULL, *out = NULL;
  int json = 0, c;
  long l;
  double d;
  tsr_report_opts ro;
  tsr_report_opts_init(&ro);
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'h': return cli_help("report");
    case 'o': out = optarg; break;
    case OPT_DB: db = optarg; break;
    case OPT_TITLE: ro.title = optarg; break;
    case OPT_JSON: json = 1; break;
    case OPT_NO_INPUT: ro.no_input = 1; break;
    case OPT_CURRENCY:
      if (!tsr_currency_code_valid(optarg))
        return cli_usage("report", "--currency: expected a three-letter ISO 4217 code such as EUR, got '%s'", optarg);
      ro.currency = optarg;
      break;
    case OPT_OFFERS_SIM: ro.offers_sim = optarg; break;
    case OPT_EXPERIMENT: ro.experiment = optarg; break;
    case OPT_OUT_DIR: ro.out_dir = optarg; break;
    case OPT_TOP:
      if (cli_parse_long("report", "--top", optarg, 1, 1000, &l)) return TSR_EXIT_USAGE;
      ro.top_n = (size_t)l;
      break;
    case OPT_SAMPLE:
      if (cli_parse_long("report", "--sample", optarg, 100, 100000, &l)) return TSR_EXIT_USAGE;
      ro.sample = (size_t)l;
      break;
    case OPT_CHURN:
      if (cli_parse_double("report", "--churn-threshold", optarg, 0.01, 0.99, &d)) return TSR_EXIT_USAGE;
      ro.churn_threshold = d;
      break;
    case ':': return cli_usage("report", "option '%s' needs a value", argv[optind - 1]);
    default: return cli_usage("report", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind >= argc) return cli_usage("report", "missing RUN (a run id, 'latest' or 'last')");
  if (optind + 1 < argc) return cli_usage("report", "unexpected argument '%s'", argv[optind + 1]);
  if (!out) return cli_usage("report", "missing -o FILE (use -o - for stdout)");
  const char *run_arg = argv[optind];
  int64_t run_id = 0;
  if (strcmp(run_arg, "latest") != 0 && strcmp(run_arg, "last") != 0) {
    if (cli_parse_long("report", "RUN", run_arg, 1, INT32_MAX, &l)) return TSR_EXIT_USAGE;
    run_id = l;
  }
  tsr_error err;
  tsr_error_clear(&err);
  tsr_store *store = NULL;
  tsr_status st = tsr_store_open(tsr_store_default_url(db), 0, &store, &err);
  if (st != TSR_OK) return cli_fail(st, &err);
  if (run_id == 0) {
    latest_ctx lc = {0};
    st = tsr_store_runs_list(store, 0, 0, on_run, &lc, &err);
    if (st == TSR_OK && lc.id == 0)
      st = tsr_error_set(&err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "no finished analyze run in the store");
    run_id = lc.id;
  }
  char *data = NULL;
  if (st == TSR_OK) st = tsr_report_data_json_stored(store, run_id, &ro, &data, &err);
  if (st == TSR_OK && json) {
    FILE *f = cli_open_out(out);
    if (!f) {
      free(data);
      tsr_store_close(store);
      return TSR_EXIT_FAIL;
    }
    fputs(data, f);
    fputc('\n', f);
    if (cli_close_out(f, out)) st = TSR_EIO;
  } else if (st == TSR_OK) {
    st = tsr_report_html_write(data, ro.title, out, &err);
  }
  free(data);
  tsr_store_close(store);
  if (st == TSR_EIO && !err.msg[0]) return TSR_EXIT_FAIL;
  if (st == TSR_EINVAL) {
    /* not a finished analyze run: the operation failed, the command line was fine */
    cli_fail(st, &err);
    return TSR_EXIT_FAIL;
  }
  if (st != TSR_OK) return cli_fail(st, &err);
  return TSR_EXIT_OK;
}
