/*
 * cmd_recommend.c - `tessera recommend`: next-best-product per customer
 * with reasons and goal propensities, evaluated against popularity.
 * Help text: docs/cli/recommend.md.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze_bundle.h"
#include "cli.h"
#include "predict_cli.h"
#include "tessera/datetime.h"
#include "tessera/recommend.h"

enum { OPT_CAL_END = 256, OPT_WINDOW, OPT_TOP, OPT_SEED, OPT_THREADS, OPT_GOALS };

static void print_eval(FILE *f, const tsr_nbp_result *r) {
  char d1[16], d2[16];
  fprintf(f, "recommend: calibration end %s, window %lld days; %zu customers opened a product "
             "between %s and the window's end\n",
          tsr_day_format(r->cal_end_day, d1), (long long)r->window_days, r->n_eval_users,
          tsr_day_format(r->cal_end_day + 1, d2));
  fprintf(f, "%-14s %10s %10s %10s %8s\n", "scorer", "hit@3", "NDCG@3", "MAP@3", "weight");
  for (int k = 0; k <= TSR_NBP_NSCORERS; k++) {
    fprintf(f, "%-14s %10.4f %10.4f %10.4f", r->scorer[k], r->eval[k].hit_rate, r->eval[k].ndcg,
            r->eval[k].map);
    if (k < TSR_NBP_NSCORERS) fprintf(f, " %8.1f\n", r->weight[k]);
    else fputc('\n', f);
  }
  fprintf(f, "propensity AUC per product (openings in the window):\n");
  for (size_t p = 0; p < r->nprod; p++) {
    if (isnan(r->product_auc[p]))
      fprintf(f, "  %-24s %6s (%zu)\n", r->products[p], "n/a", r->product_openings[p]);
    else
      fprintf(f, "  %-24s %6.3f (%zu)\n", r->products[p], r->product_auc[p], r->product_openings[p]);
  }
}

int tsr_cmd_recommend(int argc, char **argv) {
  static const struct option opts[] = {
      {"calibration-end", required_argument, NULL, OPT_CAL_END},
      {"window", required_argument, NULL, OPT_WINDOW},
      {"top", required_argument, NULL, OPT_TOP},
      {"seed", required_argument, NULL, OPT_SEED},
      {"threads", required_argument, NULL, OPT_THREADS},
      {"goals", required_argument, NULL, OPT_GOALS},
      {"output", required_argument, NULL, 'o'},
      {"quiet", no_argument, NULL, 'q'},
      CLI_BUNDLE_TABLE_LONGOPTS,
      {NULL, 0, NULL, 0}};
  cli_bundle cb; /* the table options of analyze on a bundle */
  cli_bundle_init(&cb, "recommend");
  tsr_nbp_opts o;
  tsr_nbp_opts_init(&o);
  const char *out = NULL, *goals = NULL;
  int quiet = 0, c, have_cal = 0;
  long v;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":o:q", opts, NULL)) != -1) {
    int br = cli_bundle_option(&cb, c, optarg);
    if (br < 0) return TSR_EXIT_USAGE;
    if (br > 0) continue;
    switch (c) {
    case OPT_CAL_END:
      if (cli_parse_day("recommend", "--calibration-end", optarg, &o.cal_end_day)) return TSR_EXIT_USAGE;
      have_cal = 1;
      break;
    case OPT_WINDOW:
      if (cli_parse_window("recommend", optarg, &o.window_days)) return TSR_EXIT_USAGE;
      break;
    case OPT_TOP:
      if (cli_parse_long("recommend", "--top", optarg, 1, 50, &v)) return TSR_EXIT_USAGE;
      o.top = (int)v;
      break;
    case OPT_SEED:
      if (cli_parse_long("recommend", "--seed", optarg, 0, 2147483646L, &v)) return TSR_EXIT_USAGE;
      o.seed = (uint64_t)v;
      break;
    case OPT_THREADS:
      if (cli_parse_long("recommend", "--threads", optarg, 0, 256, &v)) return TSR_EXIT_USAGE;
      o.threads = (int)v;
      break;
    case OPT_GOALS: goals = optarg; break;
    case 'o': out = optarg; break;
    case 'q': quiet = 1; break;
    case ':': return cli_usage("recommend", "option '%s' needs a value", argv[optind - 1]);
    default: return cli_usage("recommend", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc - 1) return cli_usage("recommend", "expected one DIR (a bundle folder)");
  if (!have_cal) return cli_usage("recommend", "--calibration-end DATE is required");
  int brc = cli_predict_tables(&cb, argv[optind]);
  if (brc) return brc;
  o.tables = cb.bundle;
  o.table_opts = &cb.bo;
  tsr_nbp_result *r = NULL;
  tsr_error err;
  tsr_status st = tsr_nbp_run(argv[optind], &o, &r, &err);
  cli_bundle_release(&cb);
  if (st == TSR_EINVAL) {
    cli_fail(st, &err);
    return TSR_EXIT_INPUT;
  }
  if (st != TSR_OK) return cli_fail(st, &err);
  int rc = TSR_EXIT_OK;
  FILE *f = cli_open_out(out);
  if (!f) { tsr_nbp_result_free(r); return TSR_EXIT_FAIL; }
  tsr_nbp_write_csv(r, f, NULL);
  if (cli_close_out(f, out) != 0) rc = TSR_EXIT_FAIL;
  if (rc == 0 && goals) {
    FILE *g = cli_open_out(goals);
    if (!g) rc = TSR_EXIT_FAIL;
    else {
      tsr_nbp_write_goals_csv(r, g, NULL);
      if (cli_close_out(g, goals) != 0) rc = TSR_EXIT_FAIL;
    }
  }
  if (!quiet) print_eval(out && strcmp(out, "-") ? stdout : stderr, r);
  tsr_nbp_result_free(r);
  return rc;
}
