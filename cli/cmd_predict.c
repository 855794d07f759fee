/*
 * cmd_predict.c - `tessera predict`: per-customer expected purchases,
 * P(alive) and CLV (with a Gamma-Gamma spend model) from a fitted model,
 * with delta-method intervals; or E[X(t)] and P(X(t) = n) for a new
 * customer (--new). Help text: docs/cli/predict.md.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tessera/csv.h"
#include "summary_io.h"
#include "tessera/btyd.h"

/* Days in one --unit. */
static int unit_days(const char *u, double period_days, double *out) {
  if (!strcmp(u, "periods")) *out = period_days;
  else if (!strcmp(u, "days")) *out = 1;
  else if (!strcmp(u, "weeks")) *out = 7;
  else if (!strcmp(u, "months")) *out = 30.4375;
  else if (!strcmp(u, "years")) *out = 365.25;
  else return -1;
  return 0;
}


int tsr_cmd_predict(int argc, char **argv) {
  static const struct option opts[] = {
      {"t", required_argument, NULL, 't'},
      {"spend", required_argument, NULL, 's'},
      {"horizon", required_argument, NULL, 'H'},
      {"unit", required_argument, NULL, 'u'},
      {"discount", required_argument, NULL, 'd'},
      {"level", required_argument, NULL, 'l'},
      {"threshold", required_argument, NULL, 'a'},
      {"output", required_argument, NULL, 'o'},
      {"new", no_argument, NULL, 'n'},
      {"pmf", required_argument, NULL, 'p'},
      {"quiet", no_argument, NULL, 'q'},
      {"db", required_argument, NULL, 'D'},
      {"promoted", no_argument, NULL, 'P'},
      {"model", required_argument, NULL, 'M'},
      {NULL, 0, NULL, 0}};
  const char *db = NULL, *pkind = "bgnbd";
  int promoted = 0;
  double t = NAN, horizon = 12, discount = NAN, level = 0.95, thr = 0.5;
  const char *spend = NULL, *unit = "months", *out = NULL;
  int is_new = 0, quiet = 0, c, horizon_set = 0;
  long pmf = -1;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":t:o:q", opts, NULL)) != -1) {
    switch (c) {
      case 't':
        if (cli_parse_double("predict", "--t", optarg, 0, 1e9, &t)) return TSR_EXIT_USAGE;
        break;
      case 's':
        spend = optarg;
        break;
      case 'H':
        if (cli_parse_double("predict", "--horizon", optarg, 1e-9, 1e9, &horizon))
          return TSR_EXIT_USAGE;
        horizon_set = 1;
        break;
      case 'u':
        unit = optarg;
        break;
      case 'd':
        if (cli_parse_double("predict", "--discount", optarg, 0, 10, &discount))
          return TSR_EXIT_USAGE;
        break;
      case 'l':
        if (cli_parse_double("predict", "--level", optarg, 0.01, 0.9999, &level))
          return TSR_EXIT_USAGE;
        break;
      case 'a':
        if (cli_parse_double("predict", "--threshold", optarg, 0, 1, &thr))
          return TSR_EXIT_USAGE;
        break;
      case 'o':
        out = optarg;
        break;
      case 'n':
        is_new = 1;
        break;
      case 'p':
        if (cli_parse_long("predict", "--pmf", optarg, 0, 100000, &pmf))
          return TSR_EXIT_USAGE;
        break;
      case 'q':
        quiet = 1;
        break;
      case 'D':
        db = optarg;
        break;
      case 'P':
        promoted = 1;
        break;
      case 'M':
        pkind = optarg;
        break;
      case ':':
        return cli_usage("predict", "%s: missing value", argv[optind - 1]);
      default:
        return cli_usage("predict", "unknown option '%s'", argv[optind - 1]);
    }
  }
  int nfiles = argc - optind;
  /* --promoted: the model (and spend model) are the promoted versions in
   * the store; the files shift by one */
  if (promoted) optind--;
  if (promoted) nfiles++;
  if (nfiles < 1) return cli_usage("predict", "missing MODEL.json");
  if (is_new ? nfiles != 1 : nfiles != 2)
    return cli_usage("predict", is_new ? "--new takes only MODEL.json"
                                       : "expected MODEL.json SUMMARY.csv");
  if (isnan(t)) return cli_usage("predict", "missing --t (periods ahead)");
  double udays;
  if (unit_days(unit, 7, &udays))
    return cli_usage("predict",
                     "--unit: expected periods, days, weeks, months or years, "
                     "got '%s'",
                     unit);
  if (horizon_set && !spend && !promoted)
    return cli_usage("predict", "--horizon needs --spend GG.json (the clv)");

  tsr_error err;
  tsr_error_clear(&err);
  tsr_btyd_model m, gg;
  tsr_status st;
  const char *model_name = promoted ? "promoted model" : argv[optind];
  if (promoted) {
    tsr_store *store = NULL;
    if ((st = tsr_store_open(tsr_store_default_url(db), 0, &store, &err))) return cli_fail(st, &err);
    tsr_model *pm = NULL;
    st = tsr_store_model_promoted(store, pkind, &pm, &err);
    if (st == TSR_OK)
      st = tsr_btyd_model_from_json(pm->params ? pm->params : "", pm->params ? strlen(pm->params) : 0,
                                    model_name, &m, &err);
    tsr_store_free(pm);
    if (st == TSR_OK && horizon_set && !spend) {
      st = tsr_store_model_promoted(store, "gg", &pm, &err);
      if (st == TSR_OK)
        st = tsr_btyd_model_from_json(pm->params ? pm->params : "", pm->params ? strlen(pm->params) : 0,
                                      "promoted gg model", &gg, &err);
      tsr_store_free(pm);
      spend = "promoted";
    }
    tsr_store_close(store);
    if (st) return cli_fail(st, &err);
  } else {
    st = tsr_btyd_model_load(argv[optind], &m, &err);
    if (st) return cli_fail(st, &err);
  }
  if (m.kind == TSR_BTYD_GG) {
    cli_msg("predict: %s: a gamma-gamma model predicts no purchases; give it "
            "with --spend next to a bgnbd, mbgnbd, pnbd or bgbb model",
            model_name);
    return TSR_EXIT_USAGE;
  }
  if (spend && strcmp(spend, "promoted")) {
    if ((st = tsr_btyd_model_load(spend, &gg, &err))) return cli_fail(st, &err);
    if (gg.kind != TSR_BTYD_GG) {
      cli_msg("predict: %s: --spend expects a gamma-gamma model, got %s",
              spend, tsr_btyd_kind_name(gg.kind));
      return TSR_EXIT_USAGE;
    }
  }
  FILE *f = cli_open_out(out);
  if (!f) return TSR_EXIT_FAIL;

  if (is_new) {
    if (pmf < 0) {
      double e;
      if ((st = tsr_btyd_expected_new(&m, t, &e, &err))) {
        cli_close_out(f, out);
        return cli_fail(st, &err);
      }
      fprintf(f, "t,expected_purchases\n%.17g,%.17g\n", t, e);
    } else {
      fprintf(f, "n,probability\n");
      for (long n = 0; n <= pmf; n++) {
        double q;
        if ((st = tsr_btyd_pmf_new(&m, (unsigned)n, t, &q, &err))) {
          cli_close_out(f, out);
          return cli_fail(st, &err);
        }
        fprintf(f, "%ld,%.17g\n", n, q);
      }
    }
    return cli_close_out(f, out) ? TSR_EXIT_FAIL : TSR_EXIT_OK;
  }

  cli_summary s;
  if ((st = cli_summary_read(argv[optind + 1], spend != NULL, &s, &err))) {
    cli_close_out(f, out);
    return cli_fail(st, &err);
  }
  size_t n = s.n;
  double *buf = malloc(7 * n * sizeof *buf);
  if (!buf) {
    cli_summary_free(&s);
    cli_close_out(f, out);
    return cli_fail(TSR_ENOMEM, NULL);
  }
  double *E = buf, *LO = E + n, *HI = LO + n, *PA = HI + n, *C = PA + n,
         *CL = C + n, *CH = CL + n;
  tsr_btyd_data d = {n, s.x, s.t_x, s.T, s.m, NULL};
  st = tsr_btyd_predict(&m, &d, t, level, E, LO, HI, PA, &err);
  if (!st && spend) {
    tsr_clv_opts co;
    unit_days(unit, m.period_days, &udays);
    co.step = udays / m.period_days;
    co.horizon = horizon * co.step;
    /* default: 1 % per month, as tessera analyze, per --unit step */
    co.discount = isnan(discount) ? pow(1.01, udays / 30.4375) - 1 : discount;
    co.level = level;
    st = tsr_clv_compute(&m, &gg, &d, &co, C, CL, CH, &err);
  }
  if (!st && pmf >= 0) {
    double q; /* fail before any output when the model has no pmf */
    st = tsr_btyd_pmf_conditional(&m, s.x[0], s.t_x[0], s.T[0], 0, t, &q, &err);
  }
  if (st) {
    if (!err.source[0])
      snprintf(err.source, sizeof err.source, "%s", argv[optind + 1]);
    free(buf);
    cli_summary_free(&s);
    cli_close_out(f, out);
    return cli_fail(st, &err);
  }
  fputs("customer_id,expected_purchases,expected_purchases_lo,"
        "expected_purchases_hi,p_alive",
        f);
  if (spend) fputs(",clv,clv_lo,clv_hi", f);
  for (long k = 0; k <= pmf; k++) fprintf(f, ",p_%ld", k);
  fputc('\n', f);
  for (size_t i = 0; i < n; i++) {
    tsr_csv_put_field(f, s.ids[i]);
    fprintf(f, ",%.10g,%.10g,%.10g,%.10g", E[i], LO[i], HI[i], PA[i]);
    if (spend) fprintf(f, ",%.10g,%.10g,%.10g", C[i], CL[i], CH[i]);
    for (long k = 0; k <= pmf; k++) {
      double q;
      st = tsr_btyd_pmf_conditional(&m, s.x[i], s.t_x[i], s.T[i], (unsigned)k, t,
                                    &q, &err);
      if (st) {
        free(buf);
        cli_summary_free(&s);
        cli_close_out(f, out);
        return cli_fail(st, &err);
      }
      fprintf(f, ",%.10g", q);
    }
    fputc('\n', f);
  }
  if (!quiet) {
    double share, alive, drop;
    if (tsr_btyd_churn(&m, &d, thr, &share, &alive, &drop, NULL) == TSR_OK)
      cli_msg("predict: churn: %.1f%% of %zu customers have P(alive) < %g; "
              "expected active %.1f, expected dropouts next period %.2f "
              "(%.2f%% of active)",
              100 * share, n, thr, alive, drop,
              alive > 0 ? 100 * drop / alive : 0.0);
  }
  free(buf);
  cli_summary_free(&s);
  return cli_close_out(f, out) ? TSR_EXIT_FAIL : TSR_EXIT_OK;
}
