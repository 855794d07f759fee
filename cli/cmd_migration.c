/*
 * cmd_migration.c - `tessera migration RUN_A RUN_B`: how many customers moved
 * from each segment (or cluster) of one stored run to each of another.
 * Help: docs/cli/migration.md.
 */
#include <getopt.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "tessera/retrain.h"

enum { OPT_DB = 256, OPT_FORMAT, OPT_BY, OPT_MODELS };

typedef struct mig_out {
  int json;
  json_t *arr;
  int header; /* CSV header printed */
} mig_out;

static int print_row(void *ctx, const tsr_migration_row *r) {
  mig_out *m = ctx;
  if (m->json) {
    json_t *o = json_object();
    json_object_set_new(o, "from", json_string(r->from));
    json_object_set_new(o, "to", json_string(r->to));
    json_object_set_new(o, "customers", json_integer(r->customers));
    json_array_append_new(m->arr, o);
    return 0;
  }
  if (!m->header) printf("from,to,customers\n");
  m->header = 1;
  tsr_csv_put_field(stdout, r->from);
  fputc(',', stdout);
  tsr_csv_put_field(stdout, r->to);
  printf(",%lld\n", (long long)r->customers);
  return 0;
}

int tsr_cmd_migration(int argc, char **argv) {
  static const struct option longopts[] = {
      {"db", required_argument, NULL, OPT_DB},
      {"format", required_argument, NULL, OPT_FORMAT},
      {"by", required_argument, NULL, OPT_BY},
      {"models", no_argument, NULL, OPT_MODELS},
      {NULL, 0, NULL, 0}};
  const char *db = NULL;
  cli_format fmt = CLI_FMT_CSV;
  int by_cluster = 0, models = 0, c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
    switch (c) {
      case OPT_DB: db = optarg; break;
      case OPT_FORMAT:
        if (cli_parse_format("migration", optarg, &fmt)) return TSR_EXIT_USAGE;
        break;
      case OPT_BY:
        if (!strcmp(optarg, "cluster")) by_cluster = 1;
        else if (strcmp(optarg, "segment"))
          return cli_usage("migration", "--by: expected segment or cluster, got '%s'", optarg);
        break;
      case OPT_MODELS: models = 1; break;
      case ':': return cli_usage("migration", "%s: missing value", argv[optind - 1]);
      default: return cli_usage("migration", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (argc - optind != 2)
    return cli_usage("migration", models ? "expected MODEL_A MODEL_B" : "expected RUN_A RUN_B");
  long a, b;
  if (cli_parse_long("migration", models ? "MODEL_A" : "RUN_A", argv[optind], 1, 0x7fffffffL, &a) ||
      cli_parse_long("migration", models ? "MODEL_B" : "RUN_B", argv[optind + 1], 1, 0x7fffffffL, &b))
    return TSR_EXIT_USAGE;
  tsr_store *s = NULL;
  tsr_error err;
  tsr_error_clear(&err);
  tsr_status st = tsr_store_open(tsr_store_default_url(db), 0, &s, &err);
  if (st != TSR_OK) return cli_fail(st, &err);
  if (models) {
    /* model versions: compare the runs that fitted them */
    long *ids[2] = {&a, &b};
    for (int k = 0; k < 2 && st == TSR_OK; k++) {
      tsr_model *m = NULL;
      st = tsr_store_model_get(s, *ids[k], &m, &err);
      if (st == TSR_OK && m->run_id <= 0)
        st = tsr_error_set(&err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "model %ld: its run was deleted", *ids[k]);
      if (st == TSR_OK) *ids[k] = (long)m->run_id;
      tsr_store_free(m);
    }
    if (st != TSR_OK) {
      tsr_store_close(s);
      return cli_fail(st, &err);
    }
  }
  mig_out m = {fmt == CLI_FMT_JSON, NULL, 0};
  if (m.json) m.arr = json_array();
  st = tsr_segment_migration(s, a, b, by_cluster, print_row, &m, &err);
  tsr_store_close(s);
  if (st != TSR_OK) {
    json_decref(m.arr);
    return cli_fail(st, &err);
  }
  if (!m.json && !m.header) printf("from,to,customers\n");
  if (m.json) {
    json_t *o = json_object();
    json_object_set_new(o, "run_a", json_integer(a));
    json_object_set_new(o, "run_b", json_integer(b));
    json_object_set_new(o, "by", json_string(by_cluster ? "cluster" : "segment"));
    json_object_set_new(o, "moves", m.arr);
    json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(o);
  }
  return cli_close_out(stdout, "-") ? TSR_EXIT_FAIL : TSR_EXIT_OK;
}
