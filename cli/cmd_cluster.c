/*
 * cmd_cluster.c - `tessera cluster CUSTOMERS.csv`: micro-segments by
 * k-means, Gaussian mixture or DBSCAN (library: tessera/cluster.h; help:
 * docs/cli/cluster.md).
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cluster_io.h"
#include "tessera/cluster.h"

static void on_progress(void *ud, const char *stage, double frac) {
  cli_progress_update(ud, frac, stage);
}

/* The per-k score table of --k auto, on stderr. */
static void print_k_table(const tsr_cluster_result *r) {
  int gmm = r->method == TSR_CLUSTER_GMM;
  fprintf(stderr, "%-4s %16s %11s", "k", "inertia", "silhouette");
  if (gmm) fprintf(stderr, " %16s %16s", "bic", "aic");
  fputc('\n', stderr);
  for (size_t i = 0; i < r->n_kscores; i++) {
    const tsr_cluster_kscore *s = &r->kscores[i];
    fprintf(stderr, "%-4zu %16.6f %11.6f", s->k, s->inertia, s->silhouette);
    if (gmm) fprintf(stderr, " %16.6f %16.6f", s->bic, s->aic);
    fprintf(stderr, "%s\n", s->k == r->k ? "  <-" : "");
  }
  if (r->k_sample_n)
    fprintf(stderr, "(k table on a seeded sample of %zu of the %zu rows; the chosen k fitted on all)\n",
            r->k_sample_n, r->n);
  if (gmm)
    fprintf(stderr, "chosen k = %zu (lowest BIC)\n", r->k);
  else
    fprintf(stderr,
            "chosen k = %zu (the largest k with a silhouette within 5%% of the best, or the "
            "elbow when its silhouette is within 20%%; clusters of at least 2%%); elbow at "
            "k = %zu\n",
            r->k, r->elbow_k);
}

int tsr_cmd_cluster(int argc, char **argv) {
  const char *cmd = "cluster";
  enum {
    O_METHOD = 256, O_K, O_KMIN, O_KMAX, O_FEATURES, O_TRANSFORM, O_NINIT,
    O_SEED, O_EPS, O_MINS, O_MODEL, O_SUMMARY, O_IDCOL, O_SEGCOL, O_COV,
    O_MAXITER, O_TOL, O_SAMPLE, O_THREADS, O_QUIET, O_REG, O_KSAMPLE
  };
  static const struct option lopts[] = {
      {"method", required_argument, 0, O_METHOD},
      {"k", required_argument, 0, O_K},
      {"k-min", required_argument, 0, O_KMIN},
      {"k-max", required_argument, 0, O_KMAX},
      {"features", required_argument, 0, O_FEATURES},
      {"transform", required_argument, 0, O_TRANSFORM},
      {"n-init", required_argument, 0, O_NINIT},
      {"seed", required_argument, 0, O_SEED},
      {"eps", required_argument, 0, O_EPS},
      {"min-samples", required_argument, 0, O_MINS},
      {"covariance", required_argument, 0, O_COV},
      {"reg-covar", required_argument, 0, O_REG},
      {"max-iter", required_argument, 0, O_MAXITER},
      {"tol", required_argument, 0, O_TOL},
      {"sample-size", required_argument, 0, O_SAMPLE},
      {"k-sample", required_argument, 0, O_KSAMPLE},
      {"threads", required_argument, 0, O_THREADS},
      {"output", required_argument, 0, 'o'},
      {"model-out", required_argument, 0, O_MODEL},
      {"summary-out", required_argument, 0, O_SUMMARY},
      {"id-col", required_argument, 0, O_IDCOL},
      {"segment-col", required_argument, 0, O_SEGCOL},
      {"quiet", no_argument, 0, O_QUIET},
      {0, 0, 0, 0}};
  tsr_cluster_opts o;
  tsr_cluster_opts_init(&o);
  const char *out = "-", *model_out = NULL, *summary_out = NULL;
  const char *id_col = "customer_id", *seg_col = "segment";
  const char *feat_arg = NULL;
  int quiet = 0, k_set = 0, krange_set = 0, eps_set = 0, mins_set = 0,
      cov_set = 0, ninit_set = 0;
  long lv;
  double dv;
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, ":o:", lopts, NULL)) != -1) {
    switch (c) {
      case O_METHOD: {
        tsr_error e;
        if (tsr_cluster_method_parse(optarg, &o.method, &e) != TSR_OK)
          return cli_usage(cmd, "--method: expected kmeans, gmm or dbscan, got '%s'", optarg);
        break;
      }
      case O_K:
        k_set = 1;
        if (!strcmp(optarg, "auto")) {
          o.k = 0;
          break;
        }
        if (cli_parse_long(cmd, "--k", optarg, 1, 10000, &lv)) return TSR_EXIT_USAGE;
        o.k = (size_t)lv;
        break;
      case O_KMIN:
        krange_set = 1;
        if (cli_parse_long(cmd, "--k-min", optarg, 2, 100, &lv)) return TSR_EXIT_USAGE;
        o.k_min = (size_t)lv;
        break;
      case O_KMAX:
        krange_set = 1;
        if (cli_parse_long(cmd, "--k-max", optarg, 2, 100, &lv)) return TSR_EXIT_USAGE;
        o.k_max = (size_t)lv;
        break;
      case O_FEATURES:
        feat_arg = optarg;
        break;
      case O_TRANSFORM: {
        tsr_error e;
        if (tsr_cluster_transform_parse(optarg, &o.transform, &e) != TSR_OK)
          return cli_usage(cmd, "--transform: expected none, log1p, standardize or "
                                "log1p,standardize, got '%s'", optarg);
        break;
      }
      case O_NINIT:
        ninit_set = 1;
        if (cli_parse_long(cmd, "--n-init", optarg, 1, 1000, &lv)) return TSR_EXIT_USAGE;
        o.n_init = (size_t)lv;
        break;
      case O_SEED:
        if (cli_parse_long(cmd, "--seed", optarg, 0, 2147483647L, &lv)) return TSR_EXIT_USAGE;
        o.seed = (uint64_t)lv;
        break;
      case O_EPS:
        eps_set = 1;
        if (!strcmp(optarg, "auto")) {
          o.eps = 0;
          break;
        }
        if (cli_parse_double(cmd, "--eps", optarg, 0, 1e300, &dv)) return TSR_EXIT_USAGE;
        if (!(dv > 0))
          return cli_usage(cmd, "--eps: expected a value > 0 or 'auto', got '%s'", optarg);
        o.eps = dv;
        break;
      case O_MINS:
        mins_set = 1;
        if (cli_parse_long(cmd, "--min-samples", optarg, 1, 10000, &lv)) return TSR_EXIT_USAGE;
        o.min_samples = (size_t)lv;
        break;
      case O_COV:
        cov_set = 1;
        if (!strcmp(optarg, "full"))
          o.cov = TSR_COV_FULL;
        else if (!strcmp(optarg, "diag"))
          o.cov = TSR_COV_DIAG;
        else
          return cli_usage(cmd, "--covariance: expected full or diag, got '%s'", optarg);
        break;
      case O_REG:
        cov_set = 1;
        if (cli_parse_double(cmd, "--reg-covar", optarg, 0, 1e6, &o.reg_covar)) return TSR_EXIT_USAGE;
        break;
      case O_MAXITER:
        if (cli_parse_long(cmd, "--max-iter", optarg, 1, 100000, &lv)) return TSR_EXIT_USAGE;
        o.max_iter = (size_t)lv;
        break;
      case O_TOL:
        if (cli_parse_double(cmd, "--tol", optarg, 0, 1, &o.tol)) return TSR_EXIT_USAGE;
        break;
      case O_SAMPLE:
        if (cli_parse_long(cmd, "--sample-size", optarg, 100, 1000000, &lv)) return TSR_EXIT_USAGE;
        o.sample_size = (size_t)lv;
        break;
      case O_KSAMPLE:
        if (strcmp(optarg, "all") == 0) {
          o.k_sample = 0;
          break;
        }
        if (cli_parse_long(cmd, "--k-sample", optarg, 100, 100000000, &lv)) return TSR_EXIT_USAGE;
        o.k_sample = (size_t)lv;
        break;
      case O_THREADS:
        if (cli_parse_long(cmd, "--threads", optarg, 1, 64, &lv)) return TSR_EXIT_USAGE;
        o.n_threads = (int)lv;
        break;
      case 'o':
        out = optarg;
        break;
      case O_MODEL:
        model_out = optarg;
        break;
      case O_SUMMARY:
        summary_out = optarg;
        break;
      case O_IDCOL:
        id_col = optarg;
        break;
      case O_SEGCOL:
        seg_col = optarg;
        break;
      case O_QUIET:
        quiet = 1;
        break;
      case ':':
        return cli_usage(cmd, "%s: expected a value", argv[optind - 1]);
      default:
        return cli_usage(cmd, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (argc - optind != 1)
    return cli_usage(cmd, argc - optind < 1 ? "expected a CUSTOMERS.csv file"
                                            : "expected one CUSTOMERS.csv file, got %d",
                     argc - optind);
  const char *path = argv[optind];
  int dbscan = o.method == TSR_CLUSTER_DBSCAN;
  if (dbscan && (k_set || krange_set || ninit_set))
    return cli_usage(cmd, "--k, --k-min, --k-max and --n-init do not apply to --method dbscan");
  if (!dbscan && (eps_set || mins_set))
    return cli_usage(cmd, "--eps and --min-samples apply to --method dbscan only");
  if (o.method != TSR_CLUSTER_GMM && cov_set)
    return cli_usage(cmd, "--covariance and --reg-covar apply to --method gmm only");
  if (o.k == 0 && o.k_min > o.k_max)
    return cli_usage(cmd, "--k-min %zu is greater than --k-max %zu", o.k_min, o.k_max);

  char *fbuf = NULL;
  const char *fnames[65];
  static const char *const deff[] = {"frequency", "recency", "monetary_value", "T"};
  size_t nf = 4;
  if (feat_arg) {
    int r = cluster_split_names(feat_arg, &fbuf, fnames, 64);
    if (r < 0) {
      free(fbuf);
      return cli_usage(cmd, "--features: expected 1 to 64 comma-separated column names, got '%s'",
                       feat_arg);
    }
    nf = (size_t)r;
    o.features = fnames;
    o.nfeatures = nf;
  } else {
    for (size_t j = 0; j < 4; j++) fnames[j] = deff[j];
  }

  cluster_input in;
  int rc = cluster_input_read(cmd, path, id_col, seg_col, fnames, nf, &in);
  if (rc != TSR_EXIT_OK) {
    free(fbuf);
    return rc;
  }
  if (!dbscan && (o.k ? o.k : o.k_min) > in.n) {
    size_t n = in.n;
    free(fbuf);
    cluster_input_release(&in);
    return cli_usage(cmd, "--k%s: expected at most %zu (the number of customers), got %zu",
                     o.k ? "" : "-min", n, o.k ? o.k : o.k_min);
  }
  cli_progress prog;
  cli_progress_init(&prog, "cluster");
  o.progress = on_progress;
  o.progress_ud = &prog;
  tsr_error err;
  tsr_cluster_result *res = NULL;
  tsr_status st = tsr_cluster_run(&o, (const double *const *)in.cols, in.names, in.n,
                                  in.ncols, in.segments, &res, &err);
  cli_progress_done(&prog);
  free(fbuf);
  if (st != TSR_OK) {
    rc = cluster_fail(&in, st, &err);
    cluster_input_release(&in);
    return rc;
  }
  if (res->kscores && !quiet) print_k_table(res);
  rc = cluster_write_labels(&in, out, id_col, res->labels, res->probability);
  if (rc == TSR_EXIT_OK && model_out) {
    st = tsr_cluster_model_save(res->model, model_out, &err);
    if (st != TSR_OK) rc = cli_fail(st, &err);
  }
  if (rc == TSR_EXIT_OK && summary_out) {
    char *js = NULL;
    st = tsr_cluster_result_summary_json(res, &js, &err);
    if (st != TSR_OK) {
      rc = cli_fail(st, &err);
    } else {
      FILE *f = cli_open_out(summary_out);
      if (!f) {
        rc = TSR_EXIT_FAIL;
      } else {
        fputs(js, f);
        fputc('\n', f);
        if (cli_close_out(f, summary_out)) rc = TSR_EXIT_FAIL;
      }
      free(js);
    }
  }
  tsr_cluster_result_free(res);
  cluster_input_release(&in);
  return rc;
}
