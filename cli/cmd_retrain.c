/*
 * cmd_retrain.c - `tessera retrain`: refit the models on the raw inputs kept
 * with stored datasets (old + new, de-duplicated by the ledger), evaluate the
 * new version against the promoted one on a holdout window, and promote it
 * when it is not worse (tessera/retrain.h). Help: docs/cli/retrain.md.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tessera/datetime.h"
#include "tessera/retrain.h"

enum { OPT_DB = 256, OPT_ID_COL, OPT_SINCE, OPT_DATASETS, OPT_FORCE, OPT_CAL_END, OPT_MODEL, OPT_CLUSTER,
       OPT_SEED, OPT_FORMAT };

/* Parses YYYY-MM-DD (or any ISO date) into a day number. */
static int parse_day(const char *opt, const char *s, int64_t *day) {
  int64_t sec = 0;
  if (tsr_datetime_parse(s, strlen(s), NULL, &sec) != TSR_OK) {
    cli_usage("retrain", "%s: expected a date (YYYY-MM-DD), got '%s'", opt, s);
    return -1;
  }
  *day = sec >= 0 ? sec / 86400 : -((-sec + 86399) / 86400);
  return 0;
}

static void on_event(void *ud, int level, const char *step, const char *msg) {
  int quiet = *(int *)ud;
  (void)step;
  if (quiet || level == 0) return;
  fprintf(stderr, "tessera: %s: %s\n", level == 2 ? "error" : "warning", msg);
}

static void num(const char *label, double v) {
  if (isfinite(v))
    printf("  %-34s %.6g\n", label, v);
  else
    printf("  %-34s -\n", label);
}

int tsr_cmd_retrain(int argc, char **argv) {
  static const struct option longopts[] = {
      {"db", required_argument, NULL, OPT_DB},
      {"since", required_argument, NULL, OPT_SINCE},
      {"datasets", required_argument, NULL, OPT_DATASETS},
      {"force", no_argument, NULL, OPT_FORCE},
      {"calibration-end", required_argument, NULL, OPT_CAL_END},
      {"model", required_argument, NULL, OPT_MODEL},
      {"cluster", required_argument, NULL, OPT_CLUSTER},
      {"seed", required_argument, NULL, OPT_SEED},
      {"id-col", required_argument, NULL, OPT_ID_COL},
      {"format", required_argument, NULL, OPT_FORMAT},
      {"quiet", no_argument, NULL, 'q'},
      {NULL, 0, NULL, 0}};
  tsr_retrain_opts o;
  tsr_retrain_opts_init(&o);
  const char *db = NULL;
  int quiet = 0, json = 0, c;
  int64_t ids[TSR_RETRAIN_MAX_DATASETS];
  size_t nids = 0;
  long l;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":q", longopts, NULL)) != -1) {
    switch (c) {
      case OPT_DB: db = optarg; break;
      case OPT_SINCE: {
        int64_t day;
        if (parse_day("--since", optarg, &day)) return TSR_EXIT_USAGE;
        o.since_ms = day * 86400000LL;
        break;
      }
      case OPT_DATASETS: {
        const char *p = optarg;
        while (*p) {
          char *end = NULL;
          errno = 0;
          long long v = strtoll(p, &end, 10);
          if (end == p || v < 1 || errno || (*end && *end != ','))
            return cli_usage("retrain", "--datasets: expected dataset ids like 1,2,5, got '%s'", optarg);
          if (nids == TSR_RETRAIN_MAX_DATASETS)
            return cli_usage("retrain", "--datasets: at most %d datasets", TSR_RETRAIN_MAX_DATASETS);
          ids[nids++] = v;
          p = *end ? end + 1 : end;
        }
        if (!nids) return cli_usage("retrain", "--datasets: expected dataset ids like 1,2,5");
        break;
      }
      case OPT_FORCE: o.force = 1; break;
      case OPT_ID_COL: o.id_col = optarg; break;
      case OPT_CAL_END:
        if (parse_day("--calibration-end", optarg, &o.cal_end_day)) return TSR_EXIT_USAGE;
        break;
      case OPT_MODEL:
        if (strcmp(optarg, "bgnbd") && strcmp(optarg, "mbgnbd") && strcmp(optarg, "pnbd"))
          return cli_usage("retrain", "--model: expected bgnbd, mbgnbd or pnbd, got '%s'", optarg);
        o.model = optarg;
        break;
      case OPT_CLUSTER:
        if (strcmp(optarg, "kmeans") && strcmp(optarg, "gmm") && strcmp(optarg, "none"))
          return cli_usage("retrain", "--cluster: expected kmeans, gmm or none, got '%s'", optarg);
        o.cluster = optarg;
        break;
      case OPT_SEED:
        if (cli_parse_long("retrain", "--seed", optarg, 0, 2147483647L, &l)) return TSR_EXIT_USAGE;
        o.seed = (uint64_t)l;
        break;
      case OPT_FORMAT:
        if (!strcmp(optarg, "json")) json = 1;
        else if (strcmp(optarg, "text"))
          return cli_usage("retrain", "--format: expected text or json, got '%s'", optarg);
        break;
      case 'q': quiet = 1; break;
      case ':': return cli_usage("retrain", "%s: missing value", argv[optind - 1]);
      default: return cli_usage("retrain", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc) return cli_usage("retrain", "unexpected argument '%s'", argv[optind]);
  if (nids) {
    o.dataset_ids = ids;
    o.n_dataset_ids = nids;
  }
  o.on_event = on_event;
  o.ud = &quiet;
  const char *url = tsr_store_default_url(db);
  tsr_store *s = NULL;
  tsr_error err;
  tsr_error_clear(&err);
  tsr_status st = tsr_store_open(url, 0, &s, &err);
  if (st != TSR_OK) return cli_fail(st, &err);
  tsr_retrain_result r;
  st = tsr_retrain_run(&o, s, &r, &err);
  tsr_store_close(s);
  if (st != TSR_OK) return cli_fail(st, &err);
  if (json) {
    char *txt = NULL;
    if ((st = tsr_retrain_result_json(&r, &txt, &err)) != TSR_OK) return cli_fail(st, &err);
    printf("%s\n", txt);
    free(txt);
  } else if (!quiet) {
    char d1[11], d2[11];
    printf("tessera retrain: run %lld, %zu customers from %zu dataset(s), %lld repeated rows dropped\n",
           (long long)r.run_id, r.customers, r.n_datasets, (long long)r.duplicates_dropped);
    printf("  %s v%lld (model %lld) %s: %s\n", o.model, (long long)r.model_version,
           (long long)r.model_id, r.promoted ? "PROMOTED" : "not promoted", r.reason);
    if (r.old_model_id)
      printf("  compared with v%lld (model %lld), holdout %s .. %s\n", (long long)r.old_model_version,
             (long long)r.old_model_id, tsr_day_format(r.cal_end_day + 1, d1), tsr_day_format(r.end_day, d2));
    else
      printf("  holdout %s .. %s (nothing promoted before)\n", tsr_day_format(r.cal_end_day + 1, d1),
             tsr_day_format(r.end_day, d2));
    num("holdout MAE per customer (new)", r.mae_new);
    num("holdout MAE per customer (promoted)", r.mae_old);
    num("calibration log-likelihood (new)", r.loglik_new);
    num("calibration log-likelihood (promoted)", r.loglik_old);
    num("customers that changed segment", r.segment_changed);
    num("customers that changed cluster", r.cluster_changed);
    for (size_t k = 0; k < r.n_predict; k++) { /* churn, next-best-product in use */
      const struct tsr_retrain_predict *p = &r.predict[k];
      if (p->id)
        printf("  %s v%lld (model %lld) %s: %s\n", p->kind, (long long)p->version, (long long)p->id,
               p->promoted ? "PROMOTED" : "not promoted", p->why);
      else
        printf("  %s %s\n", p->kind, p->why);
    }
  }
  return cli_close_out(stdout, "-") ? TSR_EXIT_FAIL : TSR_EXIT_OK;
}
