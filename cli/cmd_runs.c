/*
 * cmd_runs.c - `tessera runs`: lists the runs in the store, newest first
 * (id, created, command, status, dataset, customers, duration), as CSV or
 * JSON. Help: docs/cli/runs.md.
 */
#include <getopt.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "tessera/store.h"

typedef struct runs_out {
  FILE *f;
  cli_format fmt;
  size_t n;
} runs_out;

/* Duration of a finished run in seconds, or -1. */
static double run_seconds(const tsr_run *r) {
  if (!r->finished_at || !r->started_at) return -1;
  return (double)(r->finished_at - r->started_at) / 1000.0;
}

/* A JSON text stored with the run, parsed (or kept as a string when it is
 * not JSON; null when absent). */
static json_t *json_field(const char *text) {
  if (!text) return json_null();
  json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
  if (j) return j;
  j = json_string(text);
  return j ? j : json_null();
}

static json_t *str_or_null(const char *s) {
  json_t *j = s ? json_string(s) : NULL;
  return j ? j : json_null();
}

static int print_run(void *ctx, const tsr_run *r) {
  runs_out *o = ctx;
  char created[40];
  tsr_store_time_format(r->created_at, created, sizeof created);
  double secs = run_seconds(r);
  if (o->fmt == CLI_FMT_CSV) {
    if (o->n == 0) fputs("id,created,command,status,dataset,customers,duration_s\n", o->f);
    fprintf(o->f, "%lld,%s,", (long long)r->id, created);
    tsr_csv_put_field(o->f, r->command);
    fprintf(o->f, ",%s,", tsr_run_status_name(r->status));
    tsr_csv_put_field(o->f, r->dataset_source);
    fprintf(o->f, ",%lld,", (long long)r->n_customers);
    if (secs >= 0) fprintf(o->f, "%.3f", secs);
    fputc('\n', o->f);
  } else {
    char started[40], finished[40];
    tsr_store_time_format(r->started_at, started, sizeof started);
    tsr_store_time_format(r->finished_at, finished, sizeof finished);
    json_t *j = json_object();
    if (j) {
      json_object_set_new(j, "id", json_integer(r->id));
      json_object_set_new(j, "created", json_string(created));
      json_object_set_new(j, "command", str_or_null(r->command));
      json_object_set_new(j, "status", json_string(tsr_run_status_name(r->status)));
      json_object_set_new(j, "dataset_id", r->dataset_id ? json_integer(r->dataset_id) : json_null());
      json_object_set_new(j, "dataset", str_or_null(r->dataset_source));
      json_object_set_new(j, "customers", json_integer(r->n_customers));
      json_object_set_new(j, "started", r->started_at ? json_string(started) : json_null());
      json_object_set_new(j, "finished", r->finished_at ? json_string(finished) : json_null());
      json_object_set_new(j, "duration_ms", secs >= 0 ? json_integer(r->finished_at - r->started_at) : json_null());
      json_object_set_new(j, "output_dir", str_or_null(r->output_dir));
      json_object_set_new(j, "error", str_or_null(r->error));
      json_object_set_new(j, "params", json_field(r->params));
      json_object_set_new(j, "summary", json_field(r->summary));
      fputs(o->n ? ",\n" : "\n", o->f);
      json_dumpf(j, o->f, JSON_COMPACT | JSON_PRESERVE_ORDER);
      json_decref(j);
    }
  }
  o->n++;
  return 0;
}

int tsr_cmd_runs(int argc, char **argv) {
  enum { OPT_DB = 256, OPT_FORMAT, OPT_LIMIT };
  static const struct option longopts[] = {{"db", required_argument, NULL, OPT_DB},
                                           {"format", required_argument, NULL, OPT_FORMAT},
                                           {"limit", required_argument, NULL, OPT_LIMIT},
                                           {NULL, 0, NULL, 0}};
  const char *db = NULL;
  cli_format fmt = CLI_FMT_CSV;
  long limit = 50;
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
    switch (c) {
      case OPT_DB:
        db = optarg;
        break;
      case OPT_FORMAT:
        if (cli_parse_format("runs", optarg, &fmt)) return TSR_EXIT_USAGE;
        break;
      case OPT_LIMIT:
        if (cli_parse_long("runs", "--limit", optarg, 0, 1000000000L, &limit)) return TSR_EXIT_USAGE;
        break;
      case ':':
        return cli_usage("runs", "%s: missing value", argv[optind - 1]);
      default:
        return cli_usage("runs", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc) return cli_usage("runs", "unexpected argument '%s'", argv[optind]);

  tsr_store *s = NULL;
  tsr_error err;
  tsr_error_clear(&err);
  tsr_status st = tsr_store_open(tsr_store_default_url(db), 0, &s, &err);
  if (st != TSR_OK) return cli_fail(st, &err);
  runs_out o = {stdout, fmt, 0};
  if (fmt == CLI_FMT_JSON) fputs("[", stdout);
  st = tsr_store_runs_list(s, limit, 0, print_run, &o, &err);
  tsr_store_close(s);
  if (st != TSR_OK) return cli_fail(st, &err);
  if (fmt == CLI_FMT_JSON) fputs(o.n ? "\n]\n" : "]\n", stdout);
  else if (o.n == 0) fputs("id,created,command,status,dataset,customers,duration_s\n", stdout);
  return cli_close_out(stdout, "-") ? TSR_EXIT_FAIL : TSR_EXIT_OK;
}
