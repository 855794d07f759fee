/*
 * cmd_analyze.c - `tessera analyze`: the whole pipeline on transaction logs,
 * results into a folder and the store, a summary table at the end.
 */
#include <getopt.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "ingest_opts.h"
#include "analyze_bundle.h"
#include "tessera/analyze.h"
#include "tessera/datetime.h"
#include "tessera/params.h"
#include "tessera/report.h"

enum {
  OPT_DB = OPT_INGEST_LAST + 1, OPT_SCHEME, OPT_MODEL, OPT_NO_SPEND, OPT_HORIZON, OPT_UNIT,
  OPT_DISCOUNT, OPT_CLUSTER, OPT_K, OPT_SEED, OPT_REPORT, OPT_NO_DB, OPT_LEVEL, OPT_CHURN,
  OPT_FEATURES, OPT_N_INIT, OPT_KEEP_INPUT, OPT_DATA_DIR, OPT_IN_DB
};

typedef struct actx {
  cli_ingest *ci;
  int quiet;
  cli_progress p;
} actx;

static void on_progress(void *ud, const char *step, double frac) {
  actx *a = ud;
  cli_progress_update(&a->p, frac, step);
}

static void on_event(void *ud, int level, const char *step, const char *msg) {
  actx *a = ud;
  (void)step;
  /* info lines go to the event log only; ingest warnings are printed by
   * cli_ingest_end with the reject lines */
  if (a->quiet || level == 0 || !strcmp(step, "ingest")) return;
  if (level == 2 && !strcmp(step, "end")) return; /* the failure: printed once by cli_fail */
  cli_progress_done(&a->p);
  fprintf(stderr, "tessera: %s: %s\n", level == 2 ? "error" : "warning", msg);
}

static void fmt_money(char *b, size_t cap, double v) {
  if (!isfinite(v)) {
    snprintf(b, cap, "-");
    return;
  }
  if (fabs(v) >= 1e6) snprintf(b, cap, "%.2fM", v / 1e6);
  else if (fabs(v) >= 1e4) snprintf(b, cap, "%.1fk", v / 1e3);
  else snprintf(b, cap, "%.2f", v);
}

static void print_summary(const tsr_analyze_result *r, const tsr_analyze_opts *o,
                          const char *out_dir, const char *db) {
  FILE *f = stdout;
  const tsr_kpis *k = &r->kpis;
  char a[32], b[32], d1[11], d2[11];
  fprintf(f, "tessera analyze: %zu customers, %lld transactions, %lld visits, %s to %s\n",
          k->customers, (long long)k->transactions, (long long)k->visits,
          tsr_day_format(k->first_day, d1), tsr_day_format(k->last_day, d2));
  fmt_money(a, sizeof a, k->revenue);
  fprintf(f, "  revenue %s; top 20%% of customers bring %.1f%%; %.1f%% bought again\n", a,
          100 * k->top20_revenue_share, 100 * k->repeat_share);
  if (r->has_model) {
    fprintf(f, "  %s: churn rate %.1f%% (share of customers with P(alive) < %g, the probability "
               "of still being active), mean P(alive) %.3f, expected active %.0f\n",
            tsr_btyd_kind_name(r->model.kind), 100 * k->churn_rate, o->churn_threshold,
            k->mean_p_alive, k->expected_alive);
  }
  if (r->has_spend) {
    fmt_money(a, sizeof a, k->clv_total);
    fmt_money(b, sizeof b, k->clv_mean);
    static const char *const UN[] = {"days", "weeks", "months", "years", "periods"};
    const char *un = (unsigned)o->unit < 5 ? UN[o->unit] : "periods";
    char hz[48];
    snprintf(hz, sizeof hz, "%g %s", o->horizon, un);
    if (o->horizon == 1) hz[strlen(hz) - 1] = '\0'; /* "1 month" */
    fprintf(f, "  CLV over %s: total %s, mean %s per customer\n", hz, a, b);
  }
  if (r->has_holdout && r->has_model)
    fprintf(f, "  holdout: actual %.0f purchases, predicted %.1f, MAE %.3f per customer\n",
            r->holdout_actual_total, r->holdout_predicted_total, r->holdout_mae);
  fprintf(f, "\n  %-22s %9s %7s %10s %8s\n", "segment", "customers", "share", "revenue", "rev.share");
  for (size_t j = 0; j < r->n_segments; j++) {
    const tsr_rfm_segment_stats *g = &r->segments[j];
    if (!g->customers) continue;
    fmt_money(a, sizeof a, g->revenue);
    fprintf(f, "  %-22s %9zu %6.1f%% %10s %7.1f%%\n", g->segment, g->customers, 100 * g->share, a,
            100 * g->revenue_share);
  }
  if (r->clusters) {
    fprintf(f, "\n  %-8s %9s %7s  %s\n", "cluster", "customers", "share", "profile");
    for (size_t c = 0; c < r->clusters->k; c++) {
      const tsr_cluster_profile *p = &r->clusters->profiles[c];
      fprintf(f, "  %-8zu %9zu %6.1f%%  %s\n", c, p->size, 100 * p->share, p->label ? p->label : "");
    }
  }
  fprintf(f, "\n  results: %s/customers.csv, %s/segments.csv", out_dir, out_dir);
  if (r->clusters) fprintf(f, ", %s/clusters.csv", out_dir);
  fputc('\n', f);
  char shown[1024];
  if (db) db = tsr_store_url_display(db, shown, sizeof shown);
  if (db) fprintf(f, "  stored as run %lld in %s (see 'tessera runs', 'tessera log %lld')\n",
                  (long long)r->run_id, db, (long long)r->run_id);
  fprintf(f, "  done in %.2f s\n", r->seconds);
}

/* Checks the value of an option against the params table (lib/base/params.def,
 * shared with the web server and its help page). 0, or -1 after the usage
 * message "--NAME: expected ..., got '...'". */
static int param_value(const char *name, const char *arg, double *num) {
  const tsr_param *p = tsr_param_find(name);
  tsr_error e;
  tsr_error_clear(&e);
  if (!*arg) {
    cli_usage("analyze", "%s: expected a value", p->option);
    return -1;
  }
  if (tsr_param_check(p, arg, num, &e) != TSR_OK) {
    /* "horizon: expected ..." -> "--horizon: expected ..." */
    const char *rest = strchr(e.msg, ':');
    cli_usage("analyze", "%s%s", p->option, rest ? rest : e.msg);
    return -1;
  }
  return 0;
}

/* --in-db TABLE: the transactions are that table of the PostgreSQL store
 * (docs/pg-extension.md); no files, no bundle. 0, or -1 after the usage
 * message. */
static int in_db_setup(tsr_analyze_opts *o, const char *db, int no_db, int keep_input,
                       int nfiles, const cli_bundle *cb) {
  static const char *table[1];
  const char *url = no_db ? NULL : tsr_store_default_url(db);
  if (!*o->indb_table) return cli_usage("analyze", "--in-db: expected a table name"), -1;
  if (nfiles > 0)
    return cli_usage("analyze", "--in-db reads the table %s: give no transaction file",
                     o->indb_table), -1;
  if (!url || (strncmp(url, "postgresql://", 13) && strncmp(url, "postgres://", 11)))
    return cli_usage("analyze", "--in-db needs a PostgreSQL database (--db postgresql://...)"), -1;
  if (keep_input) return cli_usage("analyze", "--keep-input does not apply to --in-db"), -1;
  for (int t = 0; t < TSR_BT_COUNT; t++)
    if (cb->files[t]) return cli_usage("analyze", "--in-db does not read a bundle"), -1;
  table[0] = o->indb_table;
  o->indb_url = url;
  o->inputs = table;
  o->n_inputs = 1;
  return 0;
}

int tsr_cmd_analyze(int argc, char **argv) {
  static const struct option longopts[] = {
      CLI_INGEST_LONGOPTS,
      {"db", required_argument, NULL, OPT_DB},
      {"no-db", no_argument, NULL, OPT_NO_DB},
      {"output", required_argument, NULL, 'o'},
      {"scheme", required_argument, NULL, OPT_SCHEME},
      {"model", required_argument, NULL, OPT_MODEL},
      {"no-spend", no_argument, NULL, OPT_NO_SPEND},
      {"horizon", required_argument, NULL, OPT_HORIZON},
      {"unit", required_argument, NULL, OPT_UNIT},
      {"discount", required_argument, NULL, OPT_DISCOUNT},
      {"level", required_argument, NULL, OPT_LEVEL},
      {"churn-threshold", required_argument, NULL, OPT_CHURN},
      {"cluster", required_argument, NULL, OPT_CLUSTER},
      {"k", required_argument, NULL, OPT_K},
      {"features", required_argument, NULL, OPT_FEATURES},
      {"n-init", required_argument, NULL, OPT_N_INIT},
      {"seed", required_argument, NULL, OPT_SEED},
      {"report", required_argument, NULL, OPT_REPORT},
      {"keep-input", no_argument, NULL, OPT_KEEP_INPUT},
      {"data-dir", required_argument, NULL, OPT_DATA_DIR},
      {"in-db", required_argument, NULL, OPT_IN_DB},
      {"quiet", no_argument, NULL, 'q'},
      CLI_BUNDLE_LONGOPTS,
      {NULL, 0, NULL, 0}};
  cli_bundle cb;
  cli_bundle_init(&cb);
  cli_ingest ci;
  cli_ingest_init(&ci, "analyze");
  int keep_input = 0;
  const char *data_dir = NULL;
  char keep_dir[4096];
  ci.so.multiplier = 7; /* weeks as days/7 unless --freq-multiplier says otherwise */
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  const char *db = NULL, *out_dir = "tessera-out";
  int no_db = 0;
  char *features[64];
  size_t nfeat = 0;
  char featbuf[1024];
  int c;
  double d;
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:q", longopts, NULL)) != -1) {
    int r = cli_ingest_option(&ci, c, optarg);
    if (r < 0) return TSR_EXIT_USAGE;
    if (r > 0) continue;
    if ((r = cli_bundle_option(&cb, c, optarg)) < 0) return TSR_EXIT_USAGE;
    if (r > 0) continue;
    switch (c) {
      case OPT_DB: db = optarg; break;
      case OPT_NO_DB: no_db = 1; break;
      case 'o': out_dir = optarg; break;
      case OPT_SCHEME: o.scheme = optarg; break;
      case OPT_MODEL:
        if (param_value("model", optarg, NULL)) return TSR_EXIT_USAGE;
        o.model = optarg;
        break;
      case OPT_NO_SPEND: o.spend = 0; break;
      case OPT_HORIZON:
        if (param_value("horizon", optarg, &d)) return TSR_EXIT_USAGE;
        o.horizon = d;
        break;
      case OPT_UNIT:
        if (tsr_unit_parse(optarg, &o.unit) != TSR_OK && param_value("unit", optarg, NULL))
          return TSR_EXIT_USAGE;
        break;
      case OPT_DISCOUNT:
        if (param_value("discount", optarg, &d)) return TSR_EXIT_USAGE;
        o.discount = d;
        break;
      case OPT_LEVEL:
        if (param_value("level", optarg, &d)) return TSR_EXIT_USAGE;
        o.level = d;
        break;
      case OPT_CHURN:
        if (param_value("churn_threshold", optarg, &d)) return TSR_EXIT_USAGE;
        o.churn_threshold = d;
        break;
      case OPT_CLUSTER:
        if (param_value("cluster", optarg, NULL)) return TSR_EXIT_USAGE;
        o.cluster = optarg;
        break;
      case OPT_K:
        if (!strcmp(optarg, "auto")) {
          o.cluster_opts.k = 0;
        } else {
          if (param_value("k", optarg, &d)) return TSR_EXIT_USAGE;
          o.cluster_opts.k = (size_t)d; /* 0 = auto, as "auto" */
        }
        break;
      case OPT_N_INIT:
        if (param_value("n_init", optarg, &d)) return TSR_EXIT_USAGE;
        o.cluster_opts.n_init = (size_t)d;
        break;
      case OPT_FEATURES: {
        snprintf(featbuf, sizeof featbuf, "%s", optarg);
        char *save = NULL;
        for (char *t = strtok_r(featbuf, ",", &save); t && nfeat < 64; t = strtok_r(NULL, ",", &save))
          features[nfeat++] = t;
        o.cluster_opts.features = (const char *const *)features;
        o.cluster_opts.nfeatures = nfeat;
        break;
      }
      case OPT_SEED:
        if (param_value("seed", optarg, &d)) return TSR_EXIT_USAGE;
        o.seed = (uint64_t)d;
        break;
      case OPT_REPORT: o.report_path = optarg; break;
      case OPT_KEEP_INPUT: keep_input = 1; break;
      case OPT_DATA_DIR: data_dir = optarg; break;
      case OPT_IN_DB: o.indb_table = optarg; break;
      case 'q': ci.quiet = 1; break;
      default: return cli_usage("analyze", "unknown option");
    }
  }
  if (o.indb_table) {
    if (in_db_setup(&o, db, no_db, keep_input, argc - optind, &cb)) return TSR_EXIT_USAGE;
  } else {
    if (optind >= argc) return cli_usage("analyze", "expected at least one transaction file");
    o.inputs = (const char *const *)(argv + optind);
    o.n_inputs = (size_t)(argc - optind);
  }
  char rej[4096];
  if (!ci.rejects_path) {
    /* rejects go next to the results by default */
    if (mkdir_p_ok(out_dir)) {
      snprintf(rej, sizeof rej, "%s/rejects.csv", out_dir);
      ci.rejects_path = rej;
    }
  }
  if (cli_ingest_begin(&ci)) return TSR_EXIT_FAIL;
  int br = cli_bundle_setup(&cb, &ci, &o, ci.quiet);
  if (br < 0) {
    cli_ingest_end(&ci, NULL);
    cli_bundle_release(&cb);
    return -br;
  }
  ci.progress.enabled = 0; /* the pipeline draws its own bar */
  o.ingest = ci.io;
  o.summary = ci.so;
  o.out_dir = out_dir;
  actx a = {&ci, ci.quiet, {0, 0, NULL}};
  cli_progress_init(&a.p, "analyze");
  o.on_progress = on_progress;
  o.on_event = on_event;
  o.ud = &a;
  tsr_store *store = NULL;
  tsr_error err;
  tsr_error_clear(&err);
  const char *url = no_db ? NULL : tsr_store_default_url(db);
  if (keep_input && !url) {
    cli_ingest_end(&ci, NULL);
    return cli_usage("analyze", "--keep-input needs a database (not --no-db)");
  }
  if (keep_input) o.keep_dir = tsr_store_data_dir(url, data_dir, keep_dir, sizeof keep_dir);
  if (url) {
    tsr_status st = tsr_store_open(url, TSR_STORE_CREATE, &store, &err);
    if (st != TSR_OK) {
      cli_ingest_end(&ci, NULL);
      return cli_fail(st, &err);
    }
  }
  tsr_analyze_result *res = NULL;
  tsr_status st = tsr_analyze_run(&o, store, &res, &err);
  cli_progress_done(&a.p);
  cli_ingest_end(&ci, res ? &res->ingest : NULL);
  int rc = TSR_EXIT_OK;
  if (st != TSR_OK) {
    rc = cli_fail(st, &err);
  } else {
    if (o.report_path) {
      tsr_report_opts ro;
      tsr_report_opts_init(&ro);
      char src[1024] = "";
      size_t k = 0;
      for (size_t i = 0; i < o.n_inputs && k < sizeof src; i++)
        k += (size_t)snprintf(src + k, sizeof src - k, "%s%s", i ? ", " : "", o.inputs[i]);
      ro.source = src;
      ro.churn_threshold = o.churn_threshold;
      ro.store = store;
      st = tsr_report_write_opts(res, &ro, o.report_path, &err);
      if (st != TSR_OK) rc = cli_fail(st, &err);
    }
    if (!ci.quiet) print_summary(res, &o, out_dir, url);
    if (!ci.quiet) cli_bundle_print(res, out_dir);
    if (o.report_path && st == TSR_OK && !ci.quiet) printf("  report: %s\n", o.report_path);
  }
  tsr_analyze_result_free(res);
  tsr_store_close(store);
  cli_bundle_release(&cb);
  return rc;
}
