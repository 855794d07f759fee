/*
 * cmd_assign.c - `tessera assign MODEL.json CUSTOMERS.csv`: assigns new
 * customers to the clusters of a model written by `tessera cluster
 * --model-out`, with the stored feature transform (help:
 * docs/cli/assign.md).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cluster_io.h"
#include "tessera/cluster.h"

int tsr_cmd_assign(int argc, char **argv) {
  const char *cmd = "assign";
  enum { O_IDCOL = 256 };
  static const struct option lopts[] = {
      {"output", required_argument, 0, 'o'},
      {"id-col", required_argument, 0, O_IDCOL},
      {0, 0, 0, 0}};
  const char *out = "-", *id_col = "customer_id";
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, ":o:", lopts, NULL)) != -1) {
    switch (c) {
      case 'o':
        out = optarg;
        break;
      case O_IDCOL:
        id_col = optarg;
        break;
      case ':':
        return cli_usage(cmd, "%s: expected a value", argv[optind - 1]);
      default:
        return cli_usage(cmd, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (argc - optind != 2)
    return cli_usage(cmd, "expected MODEL.json and CUSTOMERS.csv, got %d file(s)",
                     argc - optind);
  tsr_error err;
  tsr_cluster_model *m = NULL;
  tsr_status st = tsr_cluster_model_load(argv[optind], &m, &err);
  if (st != TSR_OK) return cli_fail(st, &err);
  size_t d = tsr_cluster_model_nfeatures(m);
  const char *need[64];
  for (size_t j = 0; j < d; j++) need[j] = tsr_cluster_model_feature(m, j);
  cluster_input in;
  int rc = cluster_input_read(cmd, argv[optind + 1], id_col, NULL, need, d, &in);
  if (rc != TSR_EXIT_OK) {
    tsr_cluster_model_free(m);
    return rc;
  }
  int gmm = tsr_cluster_model_method(m) == TSR_CLUSTER_GMM;
  int *lab = malloc((in.n ? in.n : 1) * sizeof *lab);
  double *prob = gmm ? malloc((in.n ? in.n : 1) * sizeof *prob) : NULL;
  if (!lab || (gmm && !prob)) {
    rc = cli_fail(TSR_ENOMEM, NULL);
  } else {
    st = tsr_cluster_model_assign(m, (const double *const *)in.cols, in.names, in.n,
                                  in.ncols, lab, prob, &err);
    if (st != TSR_OK)
      rc = cluster_fail(&in, st, &err);
    else
      rc = cluster_write_labels(&in, out, id_col, lab, prob);
  }
  free(lab);
  free(prob);
  cluster_input_release(&in);
  tsr_cluster_model_free(m);
  return rc;
}
