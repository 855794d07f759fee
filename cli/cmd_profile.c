/*
 * cmd_profile.c - `tessera profile ID [--at DATE] [--db URL]`: the live
 * profile of one customer (summary, scores, segment, cluster) from the
 * real-time event log and the store's models, as the HTTP API's
 * GET /api/v1/profiles/ID returns it (help: docs/cli/profile.md).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "tessera/realtime_app.h"

int tsr_cmd_profile(int argc, char **argv) {
  const char *cmd = "profile";
  enum { O_DB = 256, O_AT };
  static const struct option lopts[] = {
      {"db", required_argument, 0, O_DB}, {"at", required_argument, 0, O_AT}, {0, 0, 0, 0}};
  const char *db = NULL, *at_s = NULL;
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, ":", lopts, NULL)) != -1) {
    switch (c) {
      case O_DB:
        db = optarg;
        break;
      case O_AT:
        at_s = optarg;
        break;
      case ':':
        return cli_usage(cmd, "%s: expected a value", argv[optind - 1]);
      default:
        return cli_usage(cmd, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (argc - optind != 1) return cli_usage(cmd, "expected one customer id, got %d", argc - optind);
  int64_t at = (int64_t)time(NULL) / 86400;
  if (at_s) {
    int64_t ts;
    tsr_status ds = tsr_datetime_parse(at_s, strlen(at_s), NULL, &ts);
    if (ds != TSR_OK)
      return cli_usage(cmd, "--at: expected a date (YYYY-MM-DD) in 1970..2100, got '%s'", at_s);
    at = ts / 86400;
  }
  tsr_error err;
  tsr_rt_engine *e = NULL;
  tsr_status st = tsr_rt_engine_open(tsr_store_default_url(db), TSR_RT_READONLY, &e, &err);
  if (st != TSR_OK) return cli_fail(st, &err);
  char *js = NULL;
  st = tsr_rt_engine_profile(e, argv[optind], at, &js, &err);
  tsr_rt_engine_close(e);
  if (st != TSR_OK) return cli_fail(st, &err);
  puts(js);
  free(js);
  return TSR_EXIT_OK;
}
