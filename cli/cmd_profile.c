/*
 * cmd_profile.c - `tessera profile ID [--at DATE] [--db URL]`: the live
 * profile of one customer (summary, scores, segment, cluster) from the
 * real-time event log and the store's models, as the HTTP API's
 * GET /api/v1/profiles/ID returns it (help: docs/cli/profile.md).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "tessera/realtime_app.h"

static void put_num(double v) {
  if (isfinite(v)) printf(",%.17g", v);
  else fputs(",", stdout);
}

/* Every customer of the log as CSV, in the log's customer order. */
static int print_all(tsr_rt_engine *e, int64_t at) {
  tsr_rt_table *t = tsr_rt_engine_table(e);
  const tsr_rt_scorer *sc = tsr_rt_engine_scorer(e);
  puts("customer_id,frequency,recency,T,monetary_value,revenue,n_transactions,active_days,"
       "first_purchase,last_purchase,refunds,r_score,f_score,m_score,rfm_cell,segment,"
       "expected_purchases,p_alive,clv,cluster,products,interactions");
  for (size_t i = 0; i < tsr_rt_table_size(t); i++) {
    const char *id = tsr_rt_table_id(t, i);
    const tsr_rt_state *s = tsr_rt_table_state(t, i);
    tsr_rt_scores r;
    tsr_error err;
    tsr_status st = tsr_rt_score(sc, id, s, at, &r, &err);
    if (st == TSR_ENOTFOUND) continue; /* no purchase: not in the summary */
    if (st != TSR_OK) return cli_fail(st, &err);
    char d1[11], d2[11];
    tsr_csv_put_field(stdout, id);
    put_num(r.row.frequency);
    put_num(r.row.recency);
    put_num(r.row.T);
    put_num(r.row.monetary_value);
    put_num(r.row.revenue);
    printf(",%lld,%lld,%s,%s,%lld,%d,%d,%d,%s,", (long long)r.row.n_transactions,
           (long long)r.row.active_days, tsr_day_format(r.row.first_day, d1),
           tsr_day_format(r.row.last_day, d2), (long long)r.row.n_refunds, r.r, r.f, r.m, r.cell);
    tsr_csv_put_field(stdout, r.segment_name);
    put_num(r.expected);
    put_num(r.p_alive);
    put_num(r.clv);
    if (r.cluster >= 0) printf(",%d", r.cluster);
    else fputs(",", stdout);
    printf(",%u,%u\n", s->n_products, s->n_interactions);
  }
  return TSR_EXIT_OK;
}

int tsr_cmd_profile(int argc, char **argv) {
  const char *cmd = "profile";
  enum { O_DB = 256, O_AT, O_ALL };
  static const struct option lopts[] = {{"db", required_argument, 0, O_DB},
                                        {"at", required_argument, 0, O_AT},
                                        {"all", no_argument, 0, O_ALL},
                                        {0, 0, 0, 0}};
  const char *db = NULL, *at_s = NULL;
  int all = 0;
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
      case O_ALL:
        all = 1;
        break;
      case ':':
        return cli_usage(cmd, "%s: expected a value", argv[optind - 1]);
      default:
        return cli_usage(cmd, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (argc - optind != !all)
    return all ? cli_usage(cmd, "--all: expected no customer id")
               : cli_usage(cmd, "expected one customer id, got %d", argc - optind);
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
  tsr_status st = tsr_rt_engine_open(tsr_store_default_url(db), all ? 0 : TSR_RT_READONLY, &e, &err);
  if (st != TSR_OK) return cli_fail(st, &err);
  if (all) {
    int rc = print_all(e, at);
    tsr_rt_engine_close(e);
    return rc;
  }
  char *js = NULL;
  st = tsr_rt_engine_profile(e, argv[optind], at, &js, &err);
  tsr_rt_engine_close(e);
  if (st != TSR_OK) return cli_fail(st, &err);
  puts(js);
  free(js);
  return TSR_EXIT_OK;
}
