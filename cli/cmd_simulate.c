/*
 * cmd_simulate.c - `tessera simulate`: write a simulated transaction log
 * (see docs/cli/simulate.md and tessera/simulate.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tessera/datetime.h"
#include "tessera/simulate.h"

#define CMD "simulate"

/* Day number of a strict YYYY-MM-DD date in 1970..2099, or -1. */
static int64_t parse_day(const char *s) {
  if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') return -1;
  int v[8], k = 0;
  for (int i = 0; i < 10; i++) {
    if (i == 4 || i == 7) continue;
    if (s[i] < '0' || s[i] > '9') return -1;
    v[k++] = s[i] - '0';
  }
  int64_t y = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
  int m = v[4] * 10 + v[5], d = v[6] * 10 + v[7];
  static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (y < 1970 || y > 2099 || m < 1 || m > 12 || d < 1) return -1;
  if (d > mdays[m - 1] + (m == 2 && leap)) return -1;
  return tsr_days_from_civil(y, (unsigned)m, (unsigned)d);
}

/* Parses "r=..,alpha=..,..." into o; prints the usage error. */
static int parse_params(const char *s, tsr_simulate_opts *o) {
  static const struct {
    const char *name;
    size_t off;
  } keys[] = {
      {"r", offsetof(tsr_simulate_opts, r)},       {"alpha", offsetof(tsr_simulate_opts, alpha)},
      {"a", offsetof(tsr_simulate_opts, a)},       {"b", offsetof(tsr_simulate_opts, b)},
      {"p", offsetof(tsr_simulate_opts, p)},       {"q", offsetof(tsr_simulate_opts, q)},
      {"gamma", offsetof(tsr_simulate_opts, gamma)}};
  const char *p = s;
  while (*p) {
    const char *eq = strchr(p, '='), *comma = strchr(p, ',');
    if (!comma) comma = p + strlen(p);
    if (!eq || eq > comma) {
      cli_usage(CMD, "--params: expected NAME=VALUE, got '%.*s'", (int)(comma - p), p);
      return -1;
    }
    size_t k, nk = sizeof keys / sizeof keys[0];
    for (k = 0; k < nk; k++)
      if (strlen(keys[k].name) == (size_t)(eq - p) && !strncmp(keys[k].name, p, (size_t)(eq - p)))
        break;
    if (k == nk) {
      cli_usage(CMD, "--params: unknown parameter '%.*s' (expected r, alpha, a, b, p, q or gamma)",
                (int)(eq - p), p);
      return -1;
    }
    char val[64], opt[32];
    size_t vl = (size_t)(comma - eq - 1);
    if (vl >= sizeof val) vl = sizeof val - 1;
    memcpy(val, eq + 1, vl);
    val[vl] = '\0';
    snprintf(opt, sizeof opt, "--params %s", keys[k].name);
    double v;
    if (cli_parse_double(CMD, opt, val, 1e-6, 1e6, &v)) return -1;
    *(double *)((char *)o + keys[k].off) = v;
    p = *comma ? comma + 1 : comma;
  }
  return 0;
}

/* Writes the latent values of every customer as CSV. */
static int write_latent(const tsr_simulate_opts *o, const char *path) {
  FILE *f = cli_open_out(path);
  if (!f) return TSR_EXIT_FAIL;
  fputs("customer_id,join_week,lambda,p,nu,persona,favourite_channel,favourite_category\n", f);
  for (uint64_t i = 0; i < o->customers; i++) {
    tsr_simulate_customer c;
    tsr_error err;
    tsr_status st = tsr_simulate_latent(o, i, &c, &err);
    if (st) {
      if (f != stdout) fclose(f);
      return cli_fail(st, &err);
    }
    fprintf(f, "C%06llu,%.17g,%.17g,%.17g,%.17g,%d,%s,%s\n", (unsigned long long)(i + 1),
            c.join, c.lambda, c.p, c.nu, c.persona, tsr_simulate_channel_name(c.channel),
            tsr_simulate_category_name(c.category));
  }
  return cli_close_out(f, path) ? TSR_EXIT_FAIL : TSR_EXIT_OK;
}

int tsr_cmd_simulate(int argc, char **argv) {
  enum { OPT_CUSTOMERS = 256, OPT_SEED, OPT_START, OPT_WEEKS, OPT_PARAMS, OPT_MESSY,
         OPT_JOIN, OPT_LATENT };
  static const struct option longopts[] = {
      {"customers", required_argument, NULL, OPT_CUSTOMERS},
      {"seed", required_argument, NULL, OPT_SEED},
      {"start", required_argument, NULL, OPT_START},
      {"weeks", required_argument, NULL, OPT_WEEKS},
      {"params", required_argument, NULL, OPT_PARAMS},
      {"join-span", required_argument, NULL, OPT_JOIN},
      {"messy", no_argument, NULL, OPT_MESSY},
      {"latent", required_argument, NULL, OPT_LATENT},
      {"output", required_argument, NULL, 'o'},
      {NULL, 0, NULL, 0}};
  tsr_simulate_opts o;
  tsr_simulate_opts_init(&o);
  const char *out_path = NULL, *latent_path = NULL;
  int have_customers = 0;
  long v;
  double dv;
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":o:", longopts, NULL)) != -1) {
    switch (c) {
      case OPT_CUSTOMERS:
        if (cli_parse_long(CMD, "--customers", optarg, 1, (long)TSR_SIMULATE_MAX_CUSTOMERS, &v))
          return TSR_EXIT_USAGE;
        o.customers = (uint64_t)v;
        have_customers = 1;
        break;
      case OPT_SEED: {
        char *end = NULL;
        errno = 0;
        unsigned long long s = strtoull(optarg, &end, 10);
        if (!*optarg || *optarg == '-' || *end || errno == ERANGE)
          return cli_usage(CMD, "--seed: expected an integer in [0, 18446744073709551615], got '%s'",
                           optarg);
        o.seed = s;
        break;
      }
      case OPT_START: {
        int64_t d = parse_day(optarg);
        if (d < 0)
          return cli_usage(CMD, "--start: expected a date YYYY-MM-DD in 1970..2099, got '%s'", optarg);
        o.start_day = d;
        break;
      }
      case OPT_WEEKS:
        if (cli_parse_long(CMD, "--weeks", optarg, 1, TSR_SIMULATE_MAX_WEEKS, &v))
          return TSR_EXIT_USAGE;
        o.weeks = (int)v;
        break;
      case OPT_PARAMS:
        if (parse_params(optarg, &o)) return TSR_EXIT_USAGE;
        break;
      case OPT_JOIN:
        if (cli_parse_double(CMD, "--join-span", optarg, 0.001, 1.0, &dv)) return TSR_EXIT_USAGE;
        o.join_span = dv;
        break;
      case OPT_MESSY:
        o.messy = 1;
        break;
      case OPT_LATENT:
        latent_path = optarg;
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
  if (optind < argc) return cli_usage(CMD, "unexpected argument '%s'", argv[optind]);
  if (!have_customers) return cli_usage(CMD, "--customers is required");

  tsr_error err;
  tsr_status st = tsr_simulate_check_opts(&o, &err);
  if (st) return cli_fail(st, &err);
  FILE *f = cli_open_out(out_path);
  if (!f) return TSR_EXIT_FAIL;
  st = tsr_simulate_write(f, &o, &err);
  if (st) {
    if (f != stdout) fclose(f);
    return cli_fail(st, &err);
  }
  if (cli_close_out(f, out_path)) return TSR_EXIT_FAIL;
  if (latent_path) return write_latent(&o, latent_path);
  return TSR_EXIT_OK;
}
