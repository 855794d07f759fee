/*
 * cmd_summary.c - `tessera summary`: per-customer frequency, recency, T and
 * monetary value from a transaction log (lifetimes semantics).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_opts.h"

int tsr_cmd_summary(int argc, char **argv) {
  static const struct option longopts[] = {
      CLI_INGEST_LONGOPTS,
      {"format", required_argument, NULL, 'F'},
      {"output", required_argument, NULL, 'o'},
      {"extras", no_argument, NULL, 'x'},
      {"quiet", no_argument, NULL, 'q'},
      {NULL, 0, NULL, 0}};
  cli_ingest ci;
  cli_ingest_init(&ci, "summary");
  cli_format fmt = CLI_FMT_CSV;
  const char *out_path = NULL;
  int extras = 0;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:qx", longopts, NULL)) != -1) {
    int r = cli_ingest_option(&ci, c, optarg);
    if (r < 0) return TSR_EXIT_USAGE;
    if (r > 0) continue;
    switch (c) {
      case 'F':
        if (cli_parse_format("summary", optarg, &fmt)) return TSR_EXIT_USAGE;
        break;
      case 'o': out_path = optarg; break;
      case 'x': extras = 1; break;
      case 'q': ci.quiet = 1; break;
      default: return cli_usage("summary", "unknown option");
    }
  }
  if (optind != argc - 1)
    return cli_usage("summary", "expected one transaction file (or - for stdin)");
  const char *path = argv[optind];
  tsr_error err;
  tsr_error_clear(&err);
  tsr_ledger *lg = NULL;
  tsr_summary *s = NULL;
  tsr_ingest_stats st;
  memset(&st, 0, sizeof st);
  int rc = TSR_EXIT_OK;
  ci.io.csv.no_checksum = 1; /* the input is neither stored nor compared */
  ci.io.single_input = 1;    /* and the only input of its ledger */
  if (cli_ingest_begin(&ci)) return TSR_EXIT_FAIL;
  tsr_status ts = tsr_ledger_new(&lg, &err);
  if (ts == TSR_OK) ts = tsr_ingest_file(lg, path, &ci.io, &st, &err);
  cli_ingest_end(&ci, ts == TSR_OK || ts == TSR_EMAXERR ? &st : NULL);
  /* a CSV that cannot fail is written as its rows are made, without
   * keeping them (TESSERA_SUMMARY_ROWS=1 keeps them: the tests compare);
   * its ledger is only sorted: packing the blocks would free memory for
   * rows that are not kept (on the bank file 55 ms of CPU) */
  const int stream = ts == TSR_OK && fmt == CLI_FMT_CSV && !getenv("TESSERA_SUMMARY_ROWS") &&
                     tsr_summary_can_stream(lg, &ci.so);
  /* otherwise nothing more is ingested: the ids seen freed, blocks packed
   * (while the customers are sorted) */
  if (stream) ts = tsr_ledger_finish(lg, &err);
  else if (ts == TSR_OK) ts = tsr_ledger_finish_seal(lg, ci.io.threads, &err);
  else tsr_ledger_seal(lg);
  if (ts == TSR_OK && !stream) ts = tsr_summary_compute(lg, &ci.so, &s, &err);
  if (ts != TSR_OK) {
    rc = cli_fail(ts, &err);
    goto out;
  }
  FILE *f = cli_open_out(out_path);
  if (!f) {
    rc = TSR_EXIT_FAIL;
    goto out;
  }
  ts = stream                ? tsr_summary_stream_csv(lg, &ci.so, f, extras, &err)
       : fmt == CLI_FMT_JSON ? tsr_summary_write_json(s, f, extras, &err)
                             : tsr_summary_write_csv(s, f, extras, &err);
  if (cli_close_out(f, out_path) || ts != TSR_OK) rc = TSR_EXIT_FAIL;
  if (stream && ts != TSR_OK && ts != TSR_EIO) rc = cli_fail(ts, &err);
out:
  tsr_summary_free(s);
  tsr_ledger_free(lg);
  return rc;
}
