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
#include "tessera/btyd.h"
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

/* --model KIND: draws a summary (customer_id,frequency,recency,T[,
 * monetary_value]) from a BTYD model given by --model-params or a model
 * file, instead of a transaction log. */
static int simulate_model(const char *kind_s, const char *mparams, const char *model_file,
                          const char *spend_file, double T0, uint64_t n, uint64_t seed,
                          const char *out_path) {
  tsr_error err;
  tsr_btyd_model m, gg;
  tsr_status st;
  if (model_file) {
    st = tsr_btyd_model_load(model_file, &m, &err);
    if (st != TSR_OK) return cli_fail(st, &err);
    if (kind_s && strcmp(kind_s, tsr_btyd_kind_name(m.kind)))
      return cli_usage(CMD, "--model %s: the model file holds a %s model", kind_s,
                       tsr_btyd_kind_name(m.kind));
  } else {
    tsr_btyd_kind kind;
    if (tsr_btyd_kind_parse(kind_s, &kind, &err) != TSR_OK || kind == TSR_BTYD_GG)
      return cli_usage(CMD, "--model: expected bgnbd, mbgnbd, pnbd or bgbb, got '%s'", kind_s);
    if (!mparams)
      return cli_usage(CMD, "--model %s needs --model-params or --model-file", kind_s);
    double pv[8];
    size_t np = tsr_btyd_nparams(kind);
    int seen[8] = {0};
    const char *p = mparams;
    while (*p) {
      const char *eq = strchr(p, '='), *comma = strchr(p, ',');
      if (!comma) comma = p + strlen(p);
      if (!eq || eq > comma)
        return cli_usage(CMD, "--model-params: expected NAME=VALUE, got '%.*s'", (int)(comma - p), p);
      size_t j = 0;
      for (; j < np; j++)
        if (strlen(tsr_btyd_param_name(kind, j)) == (size_t)(eq - p) &&
            !strncmp(tsr_btyd_param_name(kind, j), p, (size_t)(eq - p)))
          break;
      if (j == np) return cli_usage(CMD, "--model-params: unknown parameter '%.*s' for %s", (int)(eq - p), p, kind_s);
      char val[64];
      snprintf(val, sizeof val, "%.*s", (int)(comma - eq - 1), eq + 1);
      char opt[64];
      snprintf(opt, sizeof opt, "--model-params %s", tsr_btyd_param_name(kind, j));
      if (cli_parse_double(CMD, opt, val, 1e-9, 1e9, &pv[j])) return TSR_EXIT_USAGE;
      seen[j] = 1;
      p = *comma ? comma + 1 : comma;
    }
    for (size_t j = 0; j < np; j++)
      if (!seen[j]) return cli_usage(CMD, "--model-params: missing %s", tsr_btyd_param_name(kind, j));
    st = tsr_btyd_model_init(&m, kind, pv, &err);
    if (st != TSR_OK) return cli_fail(st, &err);
  }
  int spend = 0;
  if (spend_file) {
    st = tsr_btyd_model_load(spend_file, &gg, &err);
    if (st != TSR_OK) return cli_fail(st, &err);
    if (gg.kind != TSR_BTYD_GG) return cli_usage(CMD, "--spend: expected a gg model file");
    spend = 1;
  }
  double *x = malloc(n * sizeof *x), *tx = malloc(n * sizeof *tx), *T = malloc(n * sizeof *T),
         *mx = spend ? malloc(n * sizeof *mx) : NULL;
  int rc = TSR_EXIT_OK;
  if (!x || !tx || !T || (spend && !mx)) {
    cli_msg("out of memory");
    rc = TSR_EXIT_FAIL;
    goto out;
  }
  st = tsr_btyd_simulate(&m, (size_t)n, T0, NULL, seed, x, tx, T, &err);
  if (st == TSR_OK && spend) st = tsr_gg_simulate(&gg, (size_t)n, x, seed ^ 0x9E3779B97F4A7C15ULL, mx, &err);
  if (st != TSR_OK) {
    rc = cli_fail(st, &err);
    goto out;
  }
  FILE *f = cli_open_out(out_path);
  if (!f) {
    rc = TSR_EXIT_FAIL;
    goto out;
  }
  int bgbb = m.kind == TSR_BTYD_BGBB;
  fputs(bgbb ? "customer_id,frequency,recency,periods" : "customer_id,frequency,recency,T", f);
  fputs(spend ? ",monetary_value\n" : "\n", f);
  for (uint64_t i = 0; i < n; i++) {
    fprintf(f, "C%07llu,%.17g,%.17g,%.17g", (unsigned long long)i + 1, x[i], tx[i], T[i]);
    if (spend) fprintf(f, ",%.17g", mx[i]);
    fputc('\n', f);
  }
  if (cli_close_out(f, out_path)) rc = TSR_EXIT_FAIL;
out:
  free(x);
  free(tx);
  free(T);
  free(mx);
  return rc;
}

int cli_simulate_bundle(int argc, char **argv); /* cli/simulate_bundle.c */

int tsr_cmd_simulate(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--bundle") || !strncmp(argv[i], "--bundle=", 9))
      return cli_simulate_bundle(argc, argv);
  enum { OPT_CUSTOMERS = 256, OPT_SEED, OPT_START, OPT_WEEKS, OPT_PARAMS, OPT_MESSY,
         OPT_JOIN, OPT_LATENT, OPT_MODEL, OPT_MODEL_PARAMS, OPT_MODEL_FILE, OPT_SPEND,
         OPT_T };
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
      {"model", required_argument, NULL, OPT_MODEL},
      {"model-params", required_argument, NULL, OPT_MODEL_PARAMS},
      {"model-file", required_argument, NULL, OPT_MODEL_FILE},
      {"spend", required_argument, NULL, OPT_SPEND},
      {"T", required_argument, NULL, OPT_T},
      {NULL, 0, NULL, 0}};
  const char *model_kind = NULL, *model_params = NULL, *model_file = NULL, *spend_file = NULL;
  double T0 = 52;
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
      case OPT_MODEL: model_kind = optarg; break;
      case OPT_MODEL_PARAMS: model_params = optarg; break;
      case OPT_MODEL_FILE: model_file = optarg; break;
      case OPT_SPEND: spend_file = optarg; break;
      case OPT_T:
        if (cli_parse_double(CMD, "--T", optarg, 1e-6, 1e6, &T0)) return TSR_EXIT_USAGE;
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
  if (model_kind || model_file)
    return simulate_model(model_kind, model_params, model_file, spend_file, T0, o.customers, o.seed,
                          out_path);

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
