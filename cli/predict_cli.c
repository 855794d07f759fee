/*
 * predict_cli.c - option parsing and outputs shared by the prediction
 * commands (predict_cli.h).
 */
#include "predict_cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze_bundle.h"
#include "cli.h"
#include "tessera/datetime.h"

int cli_parse_day(const char *cmd, const char *opt, const char *s, int64_t *day) {
  int64_t sec = 0;
  if (tsr_datetime_parse(s, strlen(s), NULL, &sec) != TSR_OK) {
    cli_usage(cmd, "%s: expected a date (YYYY-MM-DD), got '%s'", opt, s);
    return -1;
  }
  *day = sec >= 0 ? sec / 86400 : -((-sec + 86399) / 86400);
  return 0;
}

int cli_parse_window(const char *cmd, const char *s, int64_t *days) {
  char *end;
  double v = strtod(s, &end), mult = 1;
  if (end == s) goto bad;
  if (*end == 'd') end++;
  else if (*end == 'w') mult = 7, end++;
  else if (*end == 'm') mult = 30.4375, end++;
  else if (*end == 'y') mult = 365.25, end++;
  if (*end || !(v > 0) || v * mult > 36500) goto bad;
  *days = (int64_t)floor(v * mult + 0.5);
  if (*days < 1) goto bad;
  return 0;
bad:
  cli_usage(cmd, "--window: expected a length such as 90, 90d, 13w, 3m or 1y (at most 100 years), got '%s'", s);
  return -1;
}

int cli_predict_tables(cli_bundle *b, const char *input) {
  const char *df = b->bo.date_format[TSR_BT_TRANSACTIONS];
  if (df && *df && !strchr(df, '%')) {
    cli_bundle_release(b);
    return cli_usage(b->cmd,
                     "--table-date-format transactions=%s: the transactions take a strptime "
                     "format such as %%d/%%m/%%Y (ISO 8601 and YYYYMMDD are always read)",
                     df);
  }
  int rc = cli_bundle_open(b, input);
  if (rc) cli_bundle_release(b);
  return rc;
}

int cli_write_text(const char *path, const char *text) {
  FILE *f = cli_open_out(path);
  if (!f) return -1;
  fputs(text, f);
  fputc('\n', f);
  return cli_close_out(f, path) == 0 ? 0 : -1;
}
