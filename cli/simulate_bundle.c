/*
 * simulate_bundle.c - `tessera simulate --bundle DIR [--latent DIR]`: a
 * simulated retail-bank data bundle (tessera/bundle.h, docs/simulate-bundle.md).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "tessera/bundle.h"
#include "tessera/datetime.h"

#define CMD "simulate"

static void progress(void *ud, uint64_t done, uint64_t total) {
  cli_progress_update(ud, total ? (double)done / (double)total : 1, "persons");
}

int cli_simulate_bundle(int argc, char **argv) {
  enum { OPT_CUSTOMERS = 256, OPT_SEED, OPT_START, OPT_WEEKS, OPT_LATENT, OPT_BUNDLE, OPT_TX,
         OPT_INTER, OPT_DUP, OPT_ANOM, OPT_CAMP, OPT_QUIET };
  static const struct option longopts[] = {
      {"customers", required_argument, NULL, OPT_CUSTOMERS},
      {"seed", required_argument, NULL, OPT_SEED},
      {"start", required_argument, NULL, OPT_START},
      {"weeks", required_argument, NULL, OPT_WEEKS},
      {"latent", required_argument, NULL, OPT_LATENT},
      {"bundle", required_argument, NULL, OPT_BUNDLE},
      {"transactions", required_argument, NULL, OPT_TX},
      {"interactions", required_argument, NULL, OPT_INTER},
      {"duplicates", required_argument, NULL, OPT_DUP},
      {"anomalies", required_argument, NULL, OPT_ANOM},
      {"campaign-share", required_argument, NULL, OPT_CAMP},
      {"quiet", no_argument, NULL, OPT_QUIET},
      {NULL, 0, NULL, 0}};
  tsr_bundle_sim_opts o;
  tsr_bundle_sim_opts_init(&o);
  const char *dir = NULL, *latent = NULL;
  int quiet = 0;
  long v;
  double dv;
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
    switch (c) {
      case OPT_CUSTOMERS:
        if (cli_parse_long(CMD, "--customers", optarg, 1, 100000000L, &v)) return TSR_EXIT_USAGE;
        o.customers = (uint64_t)v;
        break;
      case OPT_SEED: {
        char *end = NULL;
        errno = 0;
        unsigned long long s = strtoull(optarg, &end, 10);
        if (!*optarg || *optarg == '-' || *end || errno == ERANGE)
          return cli_usage(CMD, "--seed: expected an integer in [0, 18446744073709551615], got '%s'", optarg);
        o.seed = s;
        break;
      }
      case OPT_START: {
        int64_t t;
        if (strlen(optarg) != 10 || tsr_datetime_parse(optarg, 10, NULL, &t) != TSR_OK)
          return cli_usage(CMD, "--start: expected a date YYYY-MM-DD in 1970..2099, got '%s'", optarg);
        o.start_day = t / 86400;
        break;
      }
      case OPT_WEEKS:
        if (cli_parse_long(CMD, "--weeks", optarg, 1, 520, &v)) return TSR_EXIT_USAGE;
        o.weeks = (int)v;
        break;
      case OPT_LATENT: latent = optarg; break;
      case OPT_BUNDLE: dir = optarg; break;
      case OPT_TX:
        if (cli_parse_double(CMD, "--transactions", optarg, 0.01, 1000, &dv)) return TSR_EXIT_USAGE;
        o.tx_per_customer = dv;
        break;
      case OPT_INTER:
        if (cli_parse_double(CMD, "--interactions", optarg, 0, 100, &dv)) return TSR_EXIT_USAGE;
        o.interactions_per_customer = dv;
        break;
      case OPT_DUP:
        if (cli_parse_double(CMD, "--duplicates", optarg, 0, 0.5, &dv)) return TSR_EXIT_USAGE;
        o.duplicate_rate = dv;
        break;
      case OPT_ANOM:
        if (cli_parse_double(CMD, "--anomalies", optarg, 0, 0.2, &dv)) return TSR_EXIT_USAGE;
        o.anomaly_rate = dv;
        break;
      case OPT_CAMP:
        if (cli_parse_double(CMD, "--campaign-share", optarg, 0, 1, &dv)) return TSR_EXIT_USAGE;
        o.campaign_share = dv;
        break;
      case OPT_QUIET: quiet = 1; break;
      case ':': return cli_usage(CMD, "%s: missing value", argv[optind - 1]);
      default: return cli_usage(CMD, "unknown option for --bundle '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc) return cli_usage(CMD, "unexpected argument '%s'", argv[optind]);
  if (!dir || !*dir) return cli_usage(CMD, "--bundle: expected a folder");
  cli_progress pr;
  cli_progress_init(&pr, "simulate");
  if (!quiet) {
    o.on_progress = progress;
    o.ud = &pr;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  tsr_bundle_sim_stats st;
  tsr_error err;
  tsr_status s = tsr_bundle_simulate(&o, dir, latent, &st, &err);
  cli_progress_done(&pr);
  if (s != TSR_OK) return cli_fail(s, &err);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (!quiet)
    cli_msg("bundle %s: %llu persons in %llu households, %llu customer records (%llu duplicates), "
            "%llu transactions (%llu anomalies), %llu product events, %llu interactions, "
            "%llu campaign rows, %llu offers in %.2f s",
            dir, (unsigned long long)st.persons, (unsigned long long)st.households,
            (unsigned long long)st.customer_records, (unsigned long long)st.duplicates,
            (unsigned long long)st.transactions, (unsigned long long)st.anomalies,
            (unsigned long long)st.product_events, (unsigned long long)st.interactions,
            (unsigned long long)st.campaign_rows, (unsigned long long)st.offers,
            (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
  return TSR_EXIT_OK;
}
