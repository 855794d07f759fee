/*
 * cmd_log.c - `tessera log RUN`: the event log of a run (every pipeline
 * step: time, level, step, message, rows in/out, duration), as CSV or JSON.
 * Help: docs/cli/log.md.
 */
#include <getopt.h>
#include <limits.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "tessera/store.h"

typedef struct log_out {
  FILE *f;
  cli_format fmt;
  size_t n;
} log_out;

#define LOG_HEADER "id,ts,level,step,message,rows_in,rows_out,duration_ms\n"

static int print_event(void *ctx, const tsr_event *e) {
  log_out *o = ctx;
  char ts[40];
  tsr_store_time_format(e->ts, ts, sizeof ts);
  int has_ms = !(e->duration_ms != e->duration_ms) && e->duration_ms >= 0;
  if (o->fmt == CLI_FMT_CSV) {
    fprintf(o->f, "%lld,%s,%s,", (long long)e->id, ts, tsr_log_level_name(e->level));
    tsr_csv_put_field(o->f, e->step);
    fputc(',', o->f);
    tsr_csv_put_field(o->f, e->message);
    fputc(',', o->f);
    if (e->rows_in >= 0) fprintf(o->f, "%lld", (long long)e->rows_in);
    fputc(',', o->f);
    if (e->rows_out >= 0) fprintf(o->f, "%lld", (long long)e->rows_out);
    fputc(',', o->f);
    if (has_ms) fprintf(o->f, "%.3f", e->duration_ms);
    fputc('\n', o->f);
  } else {
    json_t *j = json_object();
    if (j) {
      json_t *msg = json_string(e->message);
      if (!msg) msg = json_stringn(e->message, strlen(e->message));
      json_object_set_new(j, "id", json_integer(e->id));
      json_object_set_new(j, "ts", json_string(ts));
      json_object_set_new(j, "level", json_string(tsr_log_level_name(e->level)));
      json_object_set_new(j, "step", e->step ? json_string(e->step) : json_null());
      json_object_set_new(j, "message", msg ? msg : json_null());
      json_object_set_new(j, "rows_in", e->rows_in >= 0 ? json_integer(e->rows_in) : json_null());
      json_object_set_new(j, "rows_out", e->rows_out >= 0 ? json_integer(e->rows_out) : json_null());
      json_object_set_new(j, "duration_ms", has_ms ? json_real(e->duration_ms) : json_null());
      fputs(o->n ? ",\n" : "\n", o->f);
      json_dumpf(j, o->f, JSON_COMPACT | JSON_PRESERVE_ORDER);
      json_decref(j);
    }
  }
  o->n++;
  return 0;
}

static int newest_run(void *ctx, const tsr_run *r) {
  *(int64_t *)ctx = r->id;
  return 1;
}

int tsr_cmd_log(int argc, char **argv) {
  enum { OPT_DB = 256, OPT_FORMAT, OPT_LEVEL };
  static const struct option longopts[] = {{"db", required_argument, NULL, OPT_DB},
                                           {"format", required_argument, NULL, OPT_FORMAT},
                                           {"level", required_argument, NULL, OPT_LEVEL},
                                           {NULL, 0, NULL, 0}};
  const char *db = NULL;
  cli_format fmt = CLI_FMT_CSV;
  tsr_log_level level = TSR_LOG_INFO;
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
    switch (c) {
      case OPT_DB:
        db = optarg;
        break;
      case OPT_FORMAT:
        if (cli_parse_format("log", optarg, &fmt)) return TSR_EXIT_USAGE;
        break;
      case OPT_LEVEL:
        if (tsr_log_level_parse(optarg, &level) != TSR_OK)
          return cli_usage("log", "--level: expected 'info', 'warn' or 'error', got '%s'", optarg);
        break;
      case ':':
        return cli_usage("log", "%s: missing value", argv[optind - 1]);
      default:
        return cli_usage("log", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind >= argc) return cli_usage("log", "expected a run id (see 'tessera runs'), 'last' or 'latest'");
  if (optind + 1 < argc) return cli_usage("log", "unexpected argument '%s'", argv[optind + 1]);
  const char *run_arg = argv[optind];
  long run_id = 0;
  int last = !strcmp(run_arg, "last") || !strcmp(run_arg, "latest");
  if (!last && cli_parse_long("log", "RUN", run_arg, 1, LONG_MAX, &run_id))
    return TSR_EXIT_USAGE;

  tsr_store *s = NULL;
  tsr_error err;
  tsr_error_clear(&err);
  tsr_status st = tsr_store_open(tsr_store_default_url(db), 0, &s, &err);
  if (st != TSR_OK) return cli_fail(st, &err);
  int64_t rid = run_id;
  if (last) {
    rid = 0;
    st = tsr_store_runs_list(s, 1, 0, newest_run, &rid, &err);
    if (st == TSR_OK && rid == 0)
      st = tsr_error_set(&err, TSR_ENOTFOUND, NULL, 0, 0, NULL, "no runs in the store");
  }
  tsr_run *r = NULL;
  if (st == TSR_OK) st = tsr_store_run_get(s, rid, &r, &err); /* "run 42: not found" */
  tsr_store_free(r);
  log_out o = {stdout, fmt, 0};
  if (st == TSR_OK) {
    if (fmt == CLI_FMT_CSV)
      fputs(LOG_HEADER, stdout);
    else
      fputs("[", stdout);
    st = tsr_store_events_list(s, rid, level, print_event, &o, &err);
    if (fmt == CLI_FMT_JSON) fputs(o.n ? "\n]\n" : "]\n", stdout);
  }
  tsr_store_close(s);
  if (st != TSR_OK) return cli_fail(st, &err);
  return cli_close_out(stdout, "-") ? TSR_EXIT_FAIL : TSR_EXIT_OK;
}
