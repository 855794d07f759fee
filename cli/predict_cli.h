/*
 * predict_cli.h - option parsing and outputs shared by the prediction
 * commands (churn, recommend, uplift).
 */
#ifndef TSR_PREDICT_CLI_H
#define TSR_PREDICT_CLI_H

#include <stdint.h>

/* A date YYYY-MM-DD as a day number; prints the usage error of cmd/opt and
 * returns -1 when s is not one. */
int cli_parse_day(const char *cmd, const char *opt, const char *s, int64_t *day);
/* "90", "90d", "13w", "3m" (months of 30.4375 days), "1y" as days, 1..36500. */
int cli_parse_window(const char *cmd, const char *s, int64_t *days);
struct cli_bundle;
/* The bundle of input (a folder or a transaction file) with the tables of
 * the table options (analyze_bundle.h) into b->bundle; the transactions'
 * date form must be a strptime format (they are read as by `tessera
 * summary`). 0, or an exit code after printing (b released). */
int cli_predict_tables(struct cli_bundle *b, const char *input);
/* Writes text and a newline to path ("-" = stdout); 0 or -1 (reported). */
int cli_write_text(const char *path, const char *text);

#endif
