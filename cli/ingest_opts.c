/*
 * ingest_opts.c - shared ingestion options and reject reporting for the
 * commands that read transaction logs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest_opts.h"
#include "tessera/datetime.h"

void cli_ingest_init(cli_ingest *ci, const char *cmd) {
  memset(ci, 0, sizeof *ci);
  tsr_ingest_opts_init(&ci->io);
  tsr_summary_opts_init(&ci->so);
  ci->cmd = cmd;
  ci->show_max = 20;
  /* default: one thread per core, at most 8 */
  long nc = sysconf(_SC_NPROCESSORS_ONLN);
  ci->io.threads = ci->so.threads = nc < 1 ? 1 : nc > 8 ? 8 : (int)nc;
}

static int parse_day(cli_ingest *ci, const char *opt, const char *arg, int64_t *day) {
  int64_t t;
  tsr_status st = tsr_datetime_parse(arg, strlen(arg), NULL, &t);
  if (st != TSR_OK) {
    cli_usage(ci->cmd, "%s: expected a date YYYY-MM-DD between 1970-01-01 and 2100-12-31, got '%s'",
              opt, arg);
    return -1;
  }
  *day = t / 86400;
  return 0;
}

int cli_ingest_option(cli_ingest *ci, int opt, const char *arg) {
  long l;
  double d;
  switch (opt) {
    case OPT_CUSTOMER_COL: ci->io.customer_col = arg; return 1;
    case OPT_DATE_COL: ci->io.date_col = arg; return 1;
    case OPT_AMOUNT_COL: ci->io.amount_col = arg; return 1;
    case OPT_ID_COL: ci->io.id_col = arg; return 1;
    case OPT_NO_AMOUNT: ci->io.amount_col = ""; return 1;
    case OPT_NO_HEADER: ci->io.header = 0; return 1;
    case OPT_DECIMAL_COMMA: ci->io.decimal_comma = 1; return 1;
    case OPT_MAX_AMOUNT:
      if (cli_parse_double(ci->cmd, "--max-amount", arg, 1e-6, 1e300, &d)) return -1;
      ci->io.max_amount = d;
      return 1;
    case OPT_DATE_FORMAT: {
      tsr_error e;
      if (tsr_datetime_check_format(arg, &e) != TSR_OK) {
        cli_usage(ci->cmd, "--date-format: %s", e.msg);
        return -1;
      }
      ci->io.date_format = arg;
      return 1;
    }
    case OPT_DELIMITER:
      if (!strcmp(arg, "tab") || !strcmp(arg, "\\t") || !strcmp(arg, "\t")) ci->io.csv.delim = '\t';
      else if (!strcmp(arg, "ws") || !strcmp(arg, "whitespace") || !strcmp(arg, "space") || !strcmp(arg, " "))
        ci->io.csv.delim = TSR_CSV_WS;
      else if (strlen(arg) == 1 && arg[0] != '"' && arg[0] != '\n' && arg[0] != '\r')
        ci->io.csv.delim = (unsigned char)arg[0];
      else {
        cli_usage(ci->cmd, "--delimiter: expected one character, 'tab' or 'whitespace', got '%s'", arg);
        return -1;
      }
      return 1;
    case OPT_MAX_ERRORS:
      if (cli_parse_long(ci->cmd, "--max-errors", arg, 0, 1000000000L, &l)) return -1;
      ci->io.max_errors = l;
      return 1;
    case OPT_MAX_FIELD:
      if (cli_parse_long(ci->cmd, "--max-field", arg, 16, 16L << 20, &l)) return -1;
      ci->io.csv.max_field = (size_t)l;
      return 1;
    case OPT_REJECTS: ci->rejects_path = arg; return 1;
    case OPT_THREADS:
      if (cli_parse_long(ci->cmd, "--threads", arg, 1, 64, &l)) return -1;
      ci->io.threads = ci->so.threads = (int)l;
      return 1;
    case OPT_DEDUPE:
      if (!strcmp(arg, "exact")) ci->io.dedupe = TSR_DEDUPE_EXACT;
      else if (!strcmp(arg, "none")) ci->io.dedupe = TSR_DEDUPE_NONE;
      else {
        cli_usage(ci->cmd, "--dedupe: expected 'none' or 'exact', got '%s'", arg);
        return -1;
      }
      return 1;
    case OPT_REFUNDS:
      if (!strcmp(arg, "net")) ci->so.refunds = TSR_REFUNDS_NET;
      else if (!strcmp(arg, "exclude")) ci->so.refunds = TSR_REFUNDS_EXCLUDE;
      else {
        cli_usage(ci->cmd, "--refunds: expected 'exclude' or 'net', got '%s'", arg);
        return -1;
      }
      return 1;
    case OPT_FREQ:
      if (tsr_freq_parse(arg, &ci->so.freq) != TSR_OK) {
        cli_usage(ci->cmd, "--freq: expected D, W or M, got '%s'", arg);
        return -1;
      }
      return 1;
    case OPT_FREQ_MULT:
      if (cli_parse_double(ci->cmd, "--freq-multiplier", arg, 1e-6, 1e6, &d)) return -1;
      ci->so.multiplier = d;
      return 1;
    case OPT_END: return parse_day(ci, "--end", arg, &ci->so.end_day) ? -1 : 1;
    case OPT_CAL_END: return parse_day(ci, "--calibration-end", arg, &ci->so.cal_end_day) ? -1 : 1;
  }
  return 0;
}

static void csv_field(FILE *f, const char *s, size_t n) {
  fputc('"', f);
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '"') fputc('"', f);
    if (s[i] == '\0') fputs("\\0", f);
    else fputc(s[i], f);
  }
  fputc('"', f);
}

/* Keeps the value of a rejected date ("... got 'VALUE'") for the
 * --date-format hint. */
static void keep_date_sample(cli_ingest *ci, const tsr_reject *r) {
  if (strcmp(r->field, "date") && strcmp(r->field, ci->io.date_col ? ci->io.date_col : "date"))
    return;
  if (ci->n_date_samples >= sizeof ci->date_samples / sizeof *ci->date_samples) return;
  const char *g = strstr(r->reason, "got '");
  if (!g) return;
  g += 5;
  const char *e = strrchr(g, '\'');
  if (!e || e <= g) return;
  char *v = strndup(g, (size_t)(e - g));
  if (v) ci->date_samples[ci->n_date_samples++] = v;
}

static void on_reject(void *ud, const tsr_reject *r) {
  cli_ingest *ci = ud;
  keep_date_sample(ci, r);
  if (ci->shown < ci->show_max && !ci->quiet) {
    if (ci->progress.enabled) cli_progress_done(&ci->progress);
    fprintf(stderr, "%s:%lld:%lld: error: %s%s%s\n", r->source, (long long)r->line,
            (long long)r->column, r->field, *r->field ? ": " : "", r->reason);
  }
  ci->shown++;
  if (ci->rejects) {
    FILE *f = ci->rejects;
    csv_field(f, r->source, strlen(r->source));
    fprintf(f, ",%lld,%lld,", (long long)r->line, (long long)r->column);
    csv_field(f, r->field, strlen(r->field));
    fputc(',', f);
    csv_field(f, r->reason, strlen(r->reason));
    fputc(',', f);
    csv_field(f, r->raw, r->raw_len);
    fputc('\n', f);
  }
}

static void on_progress(void *ud, int64_t done, int64_t total, int64_t rows) {
  cli_ingest *ci = ud;
  char d[64];
  snprintf(d, sizeof d, "%lld rows", (long long)rows);
  cli_progress_update(&ci->progress, total > 0 ? (double)done / (double)total : 0, d);
}

int cli_ingest_begin(cli_ingest *ci) {
  if (ci->rejects_path) {
    ci->rejects = fopen(ci->rejects_path, "w");
    if (!ci->rejects) {
      cli_msg("%s: cannot open for writing: %s", ci->rejects_path, strerror(errno));
      return -1;
    }
    fputs("source,line,column,field,reason,raw\n", ci->rejects);
  }
  ci->io.on_reject = on_reject;
  ci->io.on_progress = on_progress;
  ci->io.ud = ci;
  cli_progress_init(&ci->progress, "reading");
  return 0;
}

void cli_ingest_end(cli_ingest *ci, const tsr_ingest_stats *st) {
  cli_progress_done(&ci->progress);
  if (ci->rejects) {
    fclose(ci->rejects);
    ci->rejects = NULL;
  }
  if (st && st->rows_accepted == 0 && ci->n_date_samples > 0) {
    int amb = 0;
    const char *fmt = tsr_datetime_guess_format((const char *const *)ci->date_samples,
                                                ci->n_date_samples, &amb);
    if (fmt && !amb)
      cli_msg("hint: no row has a date in a known form; the dates look like '%s' (e.g. '%s'): "
              "try --date-format '%s'", fmt, ci->date_samples[0], fmt);
    else if (fmt)
      cli_msg("hint: no row has a date in a known form; the dates look like '%s' (e.g. '%s'; "
              "day and month cannot be told apart here, so check): try --date-format '%s'",
              fmt, ci->date_samples[0], fmt);
    else
      cli_msg("hint: no row has a date in a known form (e.g. '%s'): give its format with "
              "--date-format (strptime style, e.g. '%%d/%%m/%%Y')", ci->date_samples[0]);
  }
  for (size_t i = 0; i < ci->n_date_samples; i++) free(ci->date_samples[i]);
  ci->n_date_samples = 0;
  if (ci->quiet || !st) return;
  if (st->columns_by_rule)
    cli_msg("warning: no header: columns taken as customer id = %s, date = %s%s%s (the rule "
            "for headerless files; choose them with --customer-col, --date-col, --amount-col)",
            ci->io.customer_col ? ci->io.customer_col : "1", ci->io.date_col ? ci->io.date_col : "2",
            st->amount_col[0] ? ", amount = " : ", no amount",
            st->amount_col[0] ? (ci->io.amount_col ? ci->io.amount_col : "3") : "");
  if (st->rows_rejected > 0) {
    if (ci->shown > ci->show_max)
      cli_msg("warning: %lld more rejected rows not shown%s%s", (long long)(ci->shown - ci->show_max),
              ci->rejects_path ? "; all are in " : " (write them all with --rejects FILE)",
              ci->rejects_path ? ci->rejects_path : "");
    cli_msg("warning: %lld of %lld rows rejected%s%s", (long long)st->rows_rejected,
            (long long)st->rows_read, ci->rejects_path ? ", written to " : "",
            ci->rejects_path ? ci->rejects_path : "");
  }
  if (st->duplicate_ids > 0)
    cli_msg("warning: %lld rows repeat an earlier transaction id (column %s) with identical "
            "content (dropped; --id-col none keeps them)",
            (long long)st->duplicate_ids, st->id_col);
  if (st->identical_rows > 0) {
    if (st->identical_dropped > 0)
      cli_msg("warning: %lld rows identical to an earlier row (removed by --dedupe exact)",
              (long long)st->identical_dropped);
    else
      cli_msg("warning: %lld rows identical to an earlier row (kept; --dedupe exact removes them)",
              (long long)st->identical_rows);
  }
  if (st->refunds > 0)
    cli_msg("warning: %lld refunds (negative amounts, total %.2f) %s", (long long)st->refunds,
            st->refund_amount,
            ci->so.refunds == TSR_REFUNDS_NET ? "netted into spend (--refunds net)"
                                              : "kept out of monetary value (--refunds net nets them)");
}
