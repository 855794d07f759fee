/*
 * util.c - shared helpers of the tessera command (see cli.h).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int cli_help(const char *cmd) {
  const char *h = tsr_cli_help(cmd);
  if (!h) {
    fprintf(stderr, "tessera: no help for '%s'\n", cmd);
    return TSR_EXIT_USAGE;
  }
  fputs(h, stdout);
  return TSR_EXIT_OK;
}

/* 1 while a progress line is on the terminal: a message first clears it,
 * so that warnings never land in the middle of the bar (the bar is drawn
 * again below by its next update). */
static int bar_on;

static void clear_bar(void) {
  if (!bar_on) return;
  fputs("\r\033[K", stderr);
  bar_on = 0;
}

void cli_msg(const char *fmt, ...) {
  va_list ap;
  clear_bar();
  va_start(ap, fmt);
  fputs("tessera: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

int cli_usage(const char *cmd, const char *fmt, ...) {
  va_list ap;
  clear_bar();
  va_start(ap, fmt);
  fputs("tessera: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  fprintf(stderr, "usage: see 'tessera %s --help'\n", cmd);
  return TSR_EXIT_USAGE;
}

int cli_exit_code(tsr_status st) {
  switch (st) {
    case TSR_OK:
      return TSR_EXIT_OK;
    case TSR_EINVAL:
      return TSR_EXIT_USAGE;
    case TSR_EIO:
    case TSR_EPARSE:
    case TSR_ELIMIT:
    case TSR_ENOTFOUND:
    case TSR_ERANGE:
      return TSR_EXIT_INPUT;
    case TSR_EMAXERR:
      return TSR_EXIT_MAXERR;
    case TSR_ECONVERGE:
    case TSR_ENUMERIC:
      return TSR_EXIT_CONVERGE;
    case TSR_ESTORE:
      return TSR_EXIT_STORE;
    case TSR_ENOMEM:
    case TSR_EUNSUPPORTED:
    case TSR_ECANCELED:
    case TSR_EEXIST:
    case TSR_EAUTH:
    case TSR_EPERM:
      return TSR_EXIT_FAIL;
  }
  return TSR_EXIT_FAIL;
}

/* The library's messages describe the input in words (the web shows them
 * too); the CLI adds the option that changes it. A hint is added when the
 * message holds needle (and not the hint already). */
static const struct {
  const char *needle, *hint;
} flag_hints[] = {
    {"too many rejected rows", " (--max-errors)"},
    {"table's date form: dmy or mdy", " (--table-date-format TABLE=dmy or TABLE=mdy)"},
    {"log1p needs values > -1", " (use --transform standardize)"},
    {"another calibration end or churn window", " (--calibration-end, --window)"},
    {"shorter window or a later calibration end", " (--window, --calibration-end)"},
    {"its input was not kept", " (tessera analyze --keep-input)"},
    {"no stored datasets with kept inputs", " (store them with 'tessera analyze --keep-input')"},
};

/* Words of the library's messages replaced by the option that changes
 * them; "%s" is the option of the error's field (ingestion names a column
 * parameter, "amount_col", printed as --amount-col), those entries only
 * for such a field. */
static const struct {
  const char *needle, *text;
} option_hints[] = {
    {"column in the header", "column in the header (name it with %s)"},
    {"choose one by number (", "choose one by number (%s "},
    {"say which column holds the amount", "say which column holds the amount (--amount-col N)"},
    {"or that there is none", "or that there is none (--no-amount)"},
    {" (the maximum rejected rows)", " (--max-errors)"},
};

/* e with its column field named by its option and option_hints put in. */
static void add_option_hints(tsr_error *e) {
  const tsr_param *p = e->field[0] ? tsr_param_find(e->field) : NULL;
  if (p && strcmp(p->unit, "column") != 0) p = NULL;
  if (p) snprintf(e->field, sizeof e->field, "%s", p->option);
  for (size_t i = 0; i < sizeof option_hints / sizeof *option_hints; i++) {
    char *at = strstr(e->msg, option_hints[i].needle);
    int per_field = strstr(option_hints[i].text, "%s") != NULL;
    if (!at || (per_field && !p)) continue;
    char text[128], rest[sizeof e->msg];
    snprintf(text, sizeof text, option_hints[i].text, p ? p->option : "");
    snprintf(rest, sizeof rest, "%s", at + strlen(option_hints[i].needle));
    snprintf(at, sizeof e->msg - (size_t)(at - e->msg), "%s%s", text, rest);
  }
}

int cli_fail(tsr_status st, const tsr_error *err) {
  char buf[1024];
  if (err && err->code != TSR_OK) {
    tsr_error e = *err;
    add_option_hints(&e);
    tsr_error_format(&e, buf, sizeof buf);
    const char *hint = "";
    for (size_t i = 0; i < sizeof flag_hints / sizeof *flag_hints; i++)
      if (strstr(e.msg, flag_hints[i].needle) && !strstr(e.msg, flag_hints[i].hint + 1))
        hint = flag_hints[i].hint;
    fprintf(stderr, "tessera: %s%s\n", buf, hint);
  } else {
    fprintf(stderr, "tessera: error: %s\n", tsr_strerror(st));
  }
  return cli_exit_code(st);
}

int cli_parse_double(const char *cmd, const char *opt, const char *s,
                     double lo, double hi, double *out) {
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (!*s || end == s || *end || errno == ERANGE || !isfinite(v)) {
    cli_usage(cmd, "%s: expected a number, got '%s'", opt, s);
    return -1;
  }
  if (v < lo || v > hi) {
    cli_usage(cmd, "%s: expected a value in [%g, %g], got '%s'", opt, lo, hi, s);
    return -1;
  }
  *out = v;
  return 0;
}

int cli_parse_long(const char *cmd, const char *opt, const char *s, long lo,
                   long hi, long *out) {
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (!*s || end == s || *end || errno == ERANGE) {
    cli_usage(cmd, "%s: expected an integer, got '%s'", opt, s);
    return -1;
  }
  if (v < lo || v > hi) {
    cli_usage(cmd, "%s: expected an integer in [%ld, %ld], got '%s'", opt, lo, hi, s);
    return -1;
  }
  *out = v;
  return 0;
}

int cli_parse_format(const char *cmd, const char *s, cli_format *out) {
  if (!strcmp(s, "csv")) {
    *out = CLI_FMT_CSV;
    return 0;
  }
  if (!strcmp(s, "json")) {
    *out = CLI_FMT_JSON;
    return 0;
  }
  cli_usage(cmd, "--format: expected 'csv' or 'json', got '%s'", s);
  return -1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cli_progress_init(cli_progress *p, const char *label) {
  p->enabled = isatty(STDERR_FILENO) && !getenv("TESSERA_NO_PROGRESS");
  p->last = 0;
  p->label = label;
}

void cli_progress_update(cli_progress *p, double frac, const char *detail) {
  if (!p->enabled) return;
  double t = now_s();
  if (t - p->last < 0.1 && frac < 1.0) return;
  p->last = t;
  if (frac < 0) frac = 0;
  if (frac > 1) frac = 1;
  int width = 30, filled = (int)(frac * width);
  char bar[64];
  for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
  bar[width] = '\0';
  fprintf(stderr, "\r%-10s [%s] %3d%% %s\033[K", p->label, bar, (int)(frac * 100),
          detail ? detail : "");
  fflush(stderr);
  bar_on = 1;
}

void cli_progress_done(cli_progress *p) {
  if (!p->enabled && !bar_on) return;
  fprintf(stderr, "\r\033[K");
  fflush(stderr);
  bar_on = 0;
}

FILE *cli_open_out(const char *path) {
  if (!path || !strcmp(path, "-")) return stdout;
  FILE *f = fopen(path, "w");
  if (!f) cli_msg("%s: cannot open for writing: %s", path, strerror(errno));
  return f;
}

int cli_close_out(FILE *f, const char *path) {
  if (!f) return -1;
  int bad = ferror(f);
  if (f == stdout) {
    if (fflush(f) != 0) bad = 1;
  } else if (fclose(f) != 0) {
    bad = 1;
  }
  if (bad) {
    cli_msg("%s: write error", path && strcmp(path, "-") ? path : "stdout");
    return -1;
  }
  return 0;
}

int mkdir_p_ok(const char *dir) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", dir);
  for (char *p = buf + 1; *p; p++) {
    if (*p == '/') {
      *p = '\0';
      mkdir(buf, 0777);
      *p = '/';
    }
  }
  if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
    cli_msg("%s: cannot create directory: %s", dir, strerror(errno));
    return 0;
  }
  return 1;
}

