/*
 * cmd_churn.c - `tessera churn`: churn risk by gradient boosting with
 * reasons, evaluated against the BG/NBD P(alive) baseline; optionally
 * stored as a versioned model. Help text: docs/cli/churn.md.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze_bundle.h"
#include "cli.h"
#include "predict_cli.h"
#include "tessera/churn.h"
#include "tessera/datetime.h"
#include "tessera/predict_app.h"
#include "tessera/store.h"

enum { OPT_CAL_END = 256, OPT_WINDOW, OPT_CALIB, OPT_SEED, OPT_THREADS, OPT_EVAL, OPT_MODEL, OPT_DB,
       OPT_MAX_TRAIN };

static void print_eval(FILE *f, const tsr_churn_result *r) {
  char d1[16], d2[16];
  fprintf(f, "churn: calibration end %s, window %lld days; %zu customers (%zu learn, %zu test); "
             "churn rate %.1f %%\n",
          tsr_day_format(r->cal_end_day, d1), (long long)r->window_days, r->n_learn + r->n_test,
          r->n_learn, r->n_test, 100 * r->churn_rate);
  fprintf(f, "%-22s", "test customers");
  for (size_t k = 0; k < r->n_methods; k++) fprintf(f, " %13s", r->eval[k].method);
  fputc('\n', f);
  static const char *rows[5] = {"AUC", "PR-AUC", "Brier score", "log loss", "lift top 10 %"};
  for (int m = 0; m < 5; m++) {
    fprintf(f, "%-22s", rows[m]);
    for (size_t k = 0; k < r->n_methods; k++) {
      const tsr_eval_binary *e = &r->eval[k].m;
      double v = m == 0 ? e->auc : m == 1 ? e->pr_auc : m == 2 ? e->brier : m == 3 ? e->log_loss : e->lift_top10;
      fprintf(f, " %13.4f", v);
    }
    fputc('\n', f);
  }
  if (r->n_methods == 1) fprintf(f, "(no BG/NBD baseline: the model could not be fitted)\n");
  fprintf(f, "reliability (test, predicted vs observed churn):\n");
  for (int b = 0; b < TSR_CHURN_REL_BINS; b++) {
    const tsr_reliability_bin *rb = &r->reliability[b];
    if (!rb->n) continue;
    fprintf(f, "  %.1f-%.1f %6zu customers  predicted %5.1f %%  observed %5.1f %%\n", rb->lo, rb->hi,
            rb->n, 100 * rb->mean_pred, 100 * rb->observed);
  }
  if (r->n) {
    fprintf(f, "scored %zu customers at %s for the next %lld days (model of the window after %s, "
               "%d rounds)\n",
            r->n, tsr_day_format(r->last_day, d1), (long long)r->window_days,
            tsr_day_format(r->score_cutoff_day, d2), r->score_info.rounds);
    /* the five most important features */
    int used[TSR_CHURN_MAX_FEATURES] = {0};
    fprintf(f, "most important (mean |SHAP|, log-odds):");
    for (int t = 0; t < 5; t++) {
      int best = -1;
      for (size_t j = 0; j < r->nfeat; j++)
        if (!used[j] && r->importance[j] > 0 && (best < 0 || r->importance[j] > r->importance[best]))
          best = (int)j;
      if (best < 0) break;
      used[best] = 1;
      fprintf(f, "%s %s %.3f", t ? "," : "", r->feature[best], r->importance[best]);
    }
    fputc('\n', f);
  }
}

/* Stores the present model with its evaluation (tessera/predict_app.h:
 * promoted when nothing is promoted yet or its test AUC is not lower). */
static int store_model(const char *db, const tsr_churn_result *r, int quiet) {
  tsr_store *s = NULL;
  tsr_error err;
  tsr_status st = tsr_store_open(tsr_store_default_url(db), TSR_STORE_CREATE, &s, &err);
  if (st != TSR_OK) return cli_fail(st, &err);
  tsr_model_saved sv;
  st = tsr_churn_model_store(s, r, 0, 0, &sv, &err);
  tsr_store_close(s);
  if (st != TSR_OK) return cli_fail(st, &err);
  if (!quiet)
    fprintf(stderr, "tessera: churn: stored model churn v%lld (id %lld), %s: %s\n", (long long)sv.version,
            (long long)sv.id, sv.promoted ? "promoted" : "not promoted", sv.why);
  return TSR_EXIT_OK;
}

int tsr_cmd_churn(int argc, char **argv) {
  static const struct option opts[] = {
      {"calibration-end", required_argument, NULL, OPT_CAL_END},
      {"window", required_argument, NULL, OPT_WINDOW},
      {"calibration", required_argument, NULL, OPT_CALIB},
      {"seed", required_argument, NULL, OPT_SEED},
      {"threads", required_argument, NULL, OPT_THREADS},
      {"max-train-rows", required_argument, NULL, OPT_MAX_TRAIN},
      {"eval", required_argument, NULL, OPT_EVAL},
      {"model", required_argument, NULL, OPT_MODEL},
      {"db", required_argument, NULL, OPT_DB},
      {"output", required_argument, NULL, 'o'},
      {"quiet", no_argument, NULL, 'q'},
      CLI_BUNDLE_TABLE_LONGOPTS,
      {NULL, 0, NULL, 0}};
  cli_bundle cb; /* the table options of analyze on a bundle */
  cli_bundle_init(&cb, "churn");
  tsr_churn_opts o;
  tsr_churn_opts_init(&o);
  o.gbm.threads = 0;
  const char *out = NULL, *eval_out = NULL, *model_out = NULL, *db = NULL;
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
      if (cli_parse_day("churn", "--calibration-end", optarg, &o.cal_end_day)) return TSR_EXIT_USAGE;
      have_cal = 1;
      break;
    case OPT_WINDOW:
      if (cli_parse_window("churn", optarg, &o.window_days)) return TSR_EXIT_USAGE;
      break;
    case OPT_CALIB:
      if (tsr_calib_kind_parse(optarg, &o.calibration) != TSR_OK)
        return cli_usage("churn", "--calibration: expected none, platt or isotonic, got '%s'", optarg);
      break;
    case OPT_SEED:
      if (cli_parse_long("churn", "--seed", optarg, 0, 2147483646L, &v)) return TSR_EXIT_USAGE;
      o.gbm.seed = (uint64_t)v;
      break;
    case OPT_THREADS:
      if (cli_parse_long("churn", "--threads", optarg, 0, 256, &v)) return TSR_EXIT_USAGE;
      o.gbm.threads = (int)v;
      break;
    case OPT_MAX_TRAIN:
      if (cli_parse_long("churn", "--max-train-rows", optarg, 0, 1000000000L, &v)) return TSR_EXIT_USAGE;
      if (v != 0 && v < 100) return cli_usage("churn", "--max-train-rows: expected 0 (all) or at least 100, got %ld", v);
      o.max_train_rows = (size_t)v;
      break;
    case OPT_EVAL: eval_out = optarg; break;
    case OPT_MODEL: model_out = optarg; break;
    case OPT_DB: db = optarg; break;
    case 'o': out = optarg; break;
    case 'q': quiet = 1; break;
    case ':': return cli_usage("churn", "option '%s' needs a value", argv[optind - 1]);
    default: return cli_usage("churn", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc - 1) return cli_usage("churn", "expected one DIR (a bundle folder or a transaction file)");
  if (!have_cal) return cli_usage("churn", "--calibration-end DATE is required");
  const char *dir = argv[optind];
  int brc = cli_predict_tables(&cb, dir);
  if (brc) return brc;
  o.tables = cb.bundle;
  o.table_opts = &cb.bo;
  tsr_churn_result *r = NULL;
  tsr_error err;
  tsr_status st = tsr_churn_run(dir, &o, &r, &err);
  cli_bundle_release(&cb);
  if (st == TSR_EINVAL) { /* the options were checked: the data does not fit them */
    cli_fail(st, &err);
    return TSR_EXIT_INPUT;
  }
  if (st != TSR_OK) return cli_fail(st, &err);
  if (r->rejected_rows && !quiet) {
    char b[TSR_ERROR_MSG_MAX + 512];
    cli_msg("churn: %lld rows rejected; first: %s", (long long)r->rejected_rows,
            tsr_error_format(&r->first_reject, b, sizeof b));
  }
  int rc = TSR_EXIT_OK;
  FILE *f = cli_open_out(out);
  if (!f) { tsr_churn_result_free(r); return TSR_EXIT_FAIL; }
  tsr_churn_write_csv(r, f, NULL);
  if (cli_close_out(f, out) != 0) rc = TSR_EXIT_FAIL;
  if (!quiet) print_eval(out && strcmp(out, "-") ? stdout : stderr, r);
  if (rc == 0 && eval_out) {
    char *js = NULL;
    if (tsr_churn_eval_json(r, &js, &err) != TSR_OK) rc = cli_fail(err.code, &err);
    else if (cli_write_text(eval_out, js)) rc = TSR_EXIT_FAIL;
    free(js);
  }
  if (rc == 0 && model_out && cli_write_text(model_out, r->model_json)) rc = TSR_EXIT_FAIL;
  if (rc == 0 && db) rc = store_model(db, r, quiet);
  tsr_churn_result_free(r);
  return rc;
}
