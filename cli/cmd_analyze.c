/*
 * cmd_analyze.c - `tessera analyze`: the whole pipeline on transaction logs,
 * results into a folder and the store, a summary table at the end.
 */
#include <getopt.h>
#include <malloc.h>
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
  OPT_DB = OPT_INGEST_LAST + 1, OPT_SCHEME, OPT_PARAM, OPT_NO_SPEND, OPT_REPORT, OPT_NO_DB,
  OPT_FEATURES, OPT_KEEP_INPUT, OPT_DATA_DIR, OPT_CURRENCY, OPT_IN_DB, OPT_EXCLUDE_ANOMALIES
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
  const char *cur = r->currency[0] ? r->currency : "amount units";
  fprintf(f, "  revenue %s %s; top 20%% of customers bring %.1f%%; %.1f%% bought again\n", a, cur,
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
    fprintf(f, "  CLV over %s: total %s %s, mean %s %s per customer\n", hz, a, cur, b, cur);
  }
  if (r->has_holdout && r->has_model)
    fprintf(f, "  holdout: actual %.0f purchases, predicted %.1f, MAE %.3f per customer\n",
            r->holdout_actual_total, r->holdout_predicted_total, r->holdout_mae);
  fprintf(f, "\n  %-22s %9s %7s %10s %8s   (revenue in %s)\n", "segment", "customers", "share", "revenue",
          "rev.share", cur);
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

/* Checks the value of option --NAME against the params table
 * (tessera/params.def, shared with the web server and its help page) and
 * keeps it in pv. 0, or -1 after the usage message "--NAME: expected ...,
 * got '...'". */
static int param_value(tsr_params *pv, const char *name, const char *arg) {
  const tsr_param *p = NULL;
  for (size_t i = 0; i < tsr_params_count() && !p; i++)
    if (!strcmp(tsr_param_at(i)->option + 2, name)) p = tsr_param_at(i);
  if (!p) return cli_usage("analyze", "--%s: not an analysis input", name), -1;
  if (!*arg) {
    cli_usage("analyze", "%s: expected a value", p->option);
    return -1;
  }
  tsr_horizon_unit u;
  if (!strcmp(p->name, "k") && !strcmp(arg, "auto")) arg = "0"; /* 0 = automatic */
  static const char *const units[] = {"days", "weeks", "months", "years", "periods"};
  if (!strcmp(p->name, "unit") && tsr_unit_parse(arg, &u) == TSR_OK) arg = units[u]; /* "month" */
  tsr_error e;
  tsr_error_clear(&e);
  if (tsr_params_set(pv, p->name, arg, &e) != TSR_OK) {
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
  /* the options of this command; every other input of the params table
   * (tessera/params.def) is added below as --OPTION VALUE (OPT_PARAM) */
  static const struct option fixed[] = {
      CLI_INGEST_LONGOPTS,
      {"db", required_argument, NULL, OPT_DB},
      {"no-db", no_argument, NULL, OPT_NO_DB},
      {"output", required_argument, NULL, 'o'},
      {"scheme", required_argument, NULL, OPT_SCHEME},
      {"no-spend", no_argument, NULL, OPT_NO_SPEND},
      {"exclude-anomalies", no_argument, NULL, OPT_EXCLUDE_ANOMALIES},
      {"features", required_argument, NULL, OPT_FEATURES},
      {"report", required_argument, NULL, OPT_REPORT},
      {"currency", required_argument, NULL, OPT_CURRENCY},
      {"keep-input", no_argument, NULL, OPT_KEEP_INPUT},
      {"data-dir", required_argument, NULL, OPT_DATA_DIR},
      {"in-db", required_argument, NULL, OPT_IN_DB},
      {"quiet", no_argument, NULL, 'q'},
      CLI_BUNDLE_LONGOPTS};
  struct option longopts[sizeof fixed / sizeof *fixed + 64];
  size_t nlong = sizeof fixed / sizeof *fixed;
  memcpy(longopts, fixed, sizeof fixed);
  for (size_t i = 0; i < tsr_params_count() && nlong + 1 < sizeof longopts / sizeof *longopts; i++) {
    const char *name = tsr_param_at(i)->option + 2;
    size_t k = 0;
    while (k < nlong && strcmp(longopts[k].name, name)) k++;
    if (k == nlong) longopts[nlong++] = (struct option){name, required_argument, NULL, OPT_PARAM};
  }
  longopts[nlong] = (struct option){NULL, 0, NULL, 0};
  cli_bundle cb;
  cli_bundle_init(&cb, "analyze");
  cli_ingest ci;
  cli_ingest_init(&ci, "analyze");
  int keep_input = 0;
  const char *data_dir = NULL;
  char keep_dir[4096];
  ci.so.multiplier = 7; /* weeks as days/7 unless --freq-multiplier says otherwise */
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  tsr_params pv; /* the analysis inputs given (tessera/params.def) */
  tsr_params_init(&pv);
  const char *db = NULL, *out_dir = "tessera-out";
  int no_db = 0;
  char *features[64];
  size_t nfeat = 0;
  char featbuf[1024];
  int c, li = -1;
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:q", longopts, &li)) != -1) {
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
      case OPT_PARAM:
        if (param_value(&pv, longopts[li].name, optarg)) return TSR_EXIT_USAGE;
        break;
      case OPT_NO_SPEND: tsr_params_set(&pv, "spend", "no", NULL); break;
      case OPT_EXCLUDE_ANOMALIES: tsr_params_set(&pv, "exclude_anomalies", "yes", NULL); break;
      case OPT_FEATURES: {
        snprintf(featbuf, sizeof featbuf, "%s", optarg);
        char *save = NULL;
        for (char *t = strtok_r(featbuf, ",", &save); t && nfeat < 64; t = strtok_r(NULL, ",", &save))
          features[nfeat++] = t;
        o.cluster_opts.features = (const char *const *)features;
        o.cluster_opts.nfeatures = nfeat;
        break;
      }
      case OPT_REPORT: o.report_path = optarg; break;
      case OPT_CURRENCY:
        if (param_value(&pv, "currency", optarg)) return TSR_EXIT_USAGE;
        if (!tsr_currency_code_valid(optarg))
          return cli_usage("analyze", "--currency: expected a three-letter ISO 4217 code such as EUR, got '%s'", optarg);
        o.currency = optarg;
        break;
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
  tsr_analyze_opts_apply(&o, &pv, 1);
  if (o.exclude_anomalies && !o.bundle) {
    cli_ingest_end(&ci, NULL);
    cli_bundle_release(&cb);
    return cli_usage("analyze", "--exclude-anomalies needs a bundle (a directory holding transactions.csv)");
  }
  o.out_dir = out_dir;
#ifdef M_MMAP_THRESHOLD
  /* blocks of 1 MiB or more (the per-customer columns: 14 MB each on
   * 1.8M customers) mapped by themselves and returned when freed: glibc
   * raises its threshold to the largest block freed (up to 32 MiB), and
   * the later columns then came from its heaps (one per thread), which
   * keep what is freed; on tx1800k the RSS after the fits held ~170 MB
   * of such memory (issue 18). A fixed threshold also ends the raising. */
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
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
  /* nothing reads the ledger after the run without a report: freed before
   * the models (the peak memory of a large run; a store's purchase
   * histories are kept compactly from it) */
  o.release_ledger = !o.report_path;
  o.release_rows = o.release_ledger; /* nor the summary's rows (kept compactly) */
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
      ro.out_dir = out_dir;
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
