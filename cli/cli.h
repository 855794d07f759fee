/*
 * cli.h - shared helpers of the tessera command (cli/ uses only the public
 * API of libtessera plus these).
 */
#ifndef TESSERA_CLI_H
#define TESSERA_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "tessera/tessera.h"

/* Exit codes (documented in docs/cli/tessera.md). */
enum {
  TSR_EXIT_OK = 0,        /* success */
  TSR_EXIT_FAIL = 1,      /* operation failed (see the message) */
  TSR_EXIT_USAGE = 2,     /* bad command line */
  TSR_EXIT_INPUT = 3,     /* input missing, unreadable or unusable */
  TSR_EXIT_MAXERR = 4,    /* more rejected rows than --max-errors */
  TSR_EXIT_CONVERGE = 5,  /* a model fit did not converge */
  TSR_EXIT_STORE = 6      /* database error */
};

#define X(name, summary) int tsr_cmd_##name(int argc, char **argv);
#include "commands.def"
#undef X

/* The candidate closest to word[0..len) by edit distance (at most 2, or a
 * third of its length; a full prefix of 3+ characters counts as 1), or NULL
 * (suggest.c). */
const char *cli_closest(const char *word, size_t len, const char *const *cands, size_t n);
/* getopt_long that also prints "did you mean '--x'?" for an unknown long
 * option; the commands use it through the macro below. */
int cli_getopt_long(int argc, char *const argv[], const char *shortopts,
                    const struct option *longopts, int *longind);
#ifndef CLI_NO_GETOPT_WRAP
#define getopt_long cli_getopt_long
#endif

/* Help text of a command (from docs/cli/<cmd>.md), or NULL. */
const char *tsr_cli_help(const char *cmd);

/* Prints the help of cmd to stdout. Returns TSR_EXIT_OK. */
int cli_help(const char *cmd);
/* "tessera: <msg>" on stderr plus "try 'tessera CMD --help'"; returns 2. */
int cli_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "tessera: <msg>" on stderr. */
void cli_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints err as "tessera: FILE:LINE:COL: error: ..." and maps to an exit code. */
int cli_fail(tsr_status st, const tsr_error *err);
int cli_exit_code(tsr_status st);

/* Strict number parsing of an option value; prints the usage error. */
int cli_parse_double(const char *cmd, const char *opt, const char *s,
                     double lo, double hi, double *out);
int cli_parse_long(const char *cmd, const char *opt, const char *s, long lo,
                   long hi, long *out);

/* Progress bar on stderr when it is a terminal (no-op otherwise). */
typedef struct cli_progress {
  int enabled;
  double last;
  const char *label;
} cli_progress;
void cli_progress_init(cli_progress *p, const char *label);
/* frac in [0,1]; rate-limited redraw. */
void cli_progress_update(cli_progress *p, double frac, const char *detail);
void cli_progress_done(cli_progress *p);

/* Output format for --format. */
typedef enum { CLI_FMT_CSV = 0, CLI_FMT_JSON = 1 } cli_format;
int cli_parse_format(const char *cmd, const char *s, cli_format *out);

/* Opens path for writing ("-" or NULL = stdout). Prints an error on failure. */
FILE *cli_open_out(const char *path);
int cli_close_out(FILE *f, const char *path);

/* Creates dir and its parents; 1 when it exists afterwards (else prints). */
int mkdir_p_ok(const char *dir);

#endif
