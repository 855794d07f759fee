/*
 * ingest_opts.h - the column/ingestion options shared by `tessera summary`
 * and `tessera analyze`, and the reporting of rejected rows.
 */
#ifndef TESSERA_CLI_INGEST_OPTS_H
#define TESSERA_CLI_INGEST_OPTS_H

#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "tessera/ingest.h"
#include "tessera/summary.h"

enum {
  OPT_CUSTOMER_COL = 1000, OPT_DATE_COL, OPT_AMOUNT_COL, OPT_ID_COL, OPT_NO_AMOUNT,
  OPT_DELIMITER, OPT_NO_HEADER, OPT_DATE_FORMAT, OPT_MAX_ERRORS, OPT_REJECTS, OPT_DEDUPE,
  OPT_REFUNDS, OPT_FREQ, OPT_FREQ_MULT, OPT_END, OPT_CAL_END, OPT_MAX_FIELD, OPT_DECIMAL_COMMA, OPT_THREADS, OPT_MAX_AMOUNT,
  OPT_INGEST_LAST
};

#define CLI_INGEST_LONGOPTS                                         \
  {"customer-col", required_argument, NULL, OPT_CUSTOMER_COL},      \
  {"date-col", required_argument, NULL, OPT_DATE_COL},              \
  {"amount-col", required_argument, NULL, OPT_AMOUNT_COL},          \
  {"id-col", required_argument, NULL, OPT_ID_COL},                  \
  {"no-amount", no_argument, NULL, OPT_NO_AMOUNT},                  \
  {"delimiter", required_argument, NULL, OPT_DELIMITER},            \
  {"no-header", no_argument, NULL, OPT_NO_HEADER},                  \
  {"date-format", required_argument, NULL, OPT_DATE_FORMAT},        \
  {"max-errors", required_argument, NULL, OPT_MAX_ERRORS},          \
  {"rejects", required_argument, NULL, OPT_REJECTS},                \
  {"dedupe", required_argument, NULL, OPT_DEDUPE},                  \
  {"refunds", required_argument, NULL, OPT_REFUNDS},                \
  {"freq", required_argument, NULL, OPT_FREQ},                      \
  {"freq-multiplier", required_argument, NULL, OPT_FREQ_MULT},      \
  {"end", required_argument, NULL, OPT_END},                        \
  {"calibration-end", required_argument, NULL, OPT_CAL_END},        \
  {"max-field", required_argument, NULL, OPT_MAX_FIELD},            \
  {"decimal-comma", no_argument, NULL, OPT_DECIMAL_COMMA},            \
  {"threads", required_argument, NULL, OPT_THREADS},                \
  {"max-amount", required_argument, NULL, OPT_MAX_AMOUNT}

typedef struct cli_ingest {
  tsr_ingest_opts io;
  tsr_summary_opts so;
  const char *rejects_path;
  FILE *rejects;
  const char *cmd;
  long shown;       /* reject lines printed to stderr */
  long show_max;    /* at most this many (rest only in the rejects file) */
  int quiet;
  cli_progress progress;
  char *date_samples[32]; /* dates that could not be read (for the hint) */
  size_t n_date_samples;
} cli_ingest;

void cli_ingest_init(cli_ingest *ci, const char *cmd);
/* Handles one of the options above: 1 handled, 0 not ours, -1 bad value
 * (usage message printed). */
int cli_ingest_option(cli_ingest *ci, int opt, const char *arg);
/* Opens the rejects file (if any) and installs callbacks. 0 or -1. */
int cli_ingest_begin(cli_ingest *ci);
/* Prints the warnings for stats (rejects, duplicates, refunds) and closes
 * the rejects file. */
void cli_ingest_end(cli_ingest *ci, const tsr_ingest_stats *st);

#endif
