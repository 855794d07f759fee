/*
 * analyze_bundle.h - the bundle options of `tessera analyze` (issue 12):
 * a folder input, --customers/--products/--interactions/--campaign/--offers
 * files, per-table date formats, renames, segments and personal data.
 */
#ifndef TESSERA_CLI_ANALYZE_BUNDLE_H
#define TESSERA_CLI_ANALYZE_BUNDLE_H

#include <getopt.h>

#include "cli.h"

typedef struct cli_ingest cli_ingest; /* ingest_opts.h */

enum {
  OPT_BUNDLE_FIRST = 2000, OPT_B_CUSTOMERS = OPT_BUNDLE_FIRST, OPT_B_PRODUCTS, OPT_B_INTERACTIONS,
  OPT_B_CAMPAIGN, OPT_B_OFFERS, OPT_B_TABLE_DATE, OPT_B_RENAME, OPT_B_PII, OPT_B_PII_KEY,
  OPT_B_SHOW_PII, OPT_B_BEHAVIOUR_K, OPT_B_AFFINITY_K, OPT_B_MIN_CELL, OPT_B_TODAY
};

/* The table options, also of `tessera churn` and `tessera recommend`. */
#define CLI_BUNDLE_TABLE_LONGOPTS                                     \
  {"customers", required_argument, NULL, OPT_B_CUSTOMERS},            \
  {"products", required_argument, NULL, OPT_B_PRODUCTS},              \
  {"interactions", required_argument, NULL, OPT_B_INTERACTIONS},      \
  {"table-date-format", required_argument, NULL, OPT_B_TABLE_DATE},   \
  {"rename", required_argument, NULL, OPT_B_RENAME}

#define CLI_BUNDLE_LONGOPTS                                           \
  CLI_BUNDLE_TABLE_LONGOPTS,                                          \
  {"campaign", required_argument, NULL, OPT_B_CAMPAIGN},              \
  {"offers", required_argument, NULL, OPT_B_OFFERS},                  \
  {"pii", required_argument, NULL, OPT_B_PII},                        \
  {"pii-key-file", required_argument, NULL, OPT_B_PII_KEY},           \
  {"show-pii", no_argument, NULL, OPT_B_SHOW_PII},                    \
  {"behaviour-k", required_argument, NULL, OPT_B_BEHAVIOUR_K},        \
  {"affinity-k", required_argument, NULL, OPT_B_AFFINITY_K},          \
  {"min-cell", required_argument, NULL, OPT_B_MIN_CELL},              \
  {"today", required_argument, NULL, OPT_B_TODAY}

typedef struct cli_bundle {
  const char *files[TSR_BT_COUNT];
  const char *rename[65];
  size_t nrename;
  tsr_bundle_opts bo;
  tsr_segment_opts so;
  tsr_profile_opts po;
  const char *pii;        /* "drop" (default without a key) or "encrypt" */
  const char *key_file;
  unsigned char key[TSR_PII_KEY_BYTES];
  tsr_bundle *bundle;
  int quiet;
  cli_ingest *ci;
  const char *cmd;        /* the command named in usage messages */
} cli_bundle;

/* cmd: "analyze", "churn" or "recommend". */
void cli_bundle_init(cli_bundle *b, const char *cmd);
/* 1 handled, 0 not ours, -1 bad value (usage printed). */
int cli_bundle_option(cli_bundle *b, int opt, const char *arg);
/* Sets up o (bundle, options, key) from the inputs: a folder input, or the
 * table files with a transaction file. 0 none (no bundle), 1 bundle, or an
 * exit code < 0 (-code) after printing. */
int cli_bundle_setup(cli_bundle *b, cli_ingest *ci, tsr_analyze_opts *o, int quiet);
/* The bundle of input (a folder, or a transaction file) with the table
 * files given into b->bundle. 0, or an exit code after printing. */
int cli_bundle_open(cli_bundle *b, const char *input);
void cli_bundle_release(cli_bundle *b);
/* Prints the profile lines of the summary. */
void cli_bundle_print(const tsr_analyze_result *r, const char *out_dir);

#endif
