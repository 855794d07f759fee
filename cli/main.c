/*
 * main.c - the tessera command: dispatch to subcommands (cli/commands.def).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>

#include "cli.h"

struct cmd {
  const char *name;
  const char *summary;
  int (*fn)(int, char **);
};

static const struct cmd commands[] = {
#define X(name, summary) {#name, summary, tsr_cmd_##name},
#include "commands.def"
#undef X
};

static void usage(FILE *f) {
  fprintf(f,
          "usage: tessera <command> [<options>] [<file>...]\n"
          "       tessera <command> --help\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(f,
          "\nexit codes: 0 ok, 1 failure, 2 usage, 3 bad input, 4 too many "
          "rejected rows,\n            5 fit did not converge, 6 database "
          "error\n");
}

int main(int argc, char **argv) {
  /* XGBoost's OpenMP threads spin-wait unless OMP_WAIT_POLICY=PASSIVE is in
   * the environment when libgomp loads (14-27x slowdowns on a busy machine
   * otherwise; docs/predict.md). libgomp loads with XGBoost on first use
   * (lib/predict/gbm.c opens it), so setting it here is enough: no
   * re-execution (which doubled every command's start-up cost). */
  setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
  gsl_set_error_handler_off();
  if (argc < 2) {
    usage(stderr);
    return TSR_EXIT_USAGE;
  }
  const char *c = argv[1];
  if (!strcmp(c, "--help") || !strcmp(c, "-h") || !strcmp(c, "help")) {
    if (argc > 2 && strcmp(c, "help") == 0) return cli_help(argv[2]);
    usage(stdout);
    return TSR_EXIT_OK;
  }
  if (!strcmp(c, "--version") || !strcmp(c, "version")) {
    printf("tessera %s\n", tsr_version());
    return TSR_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    if (!strcmp(c, commands[i].name)) {
      for (int k = 2; k < argc; k++) {
        if (!strcmp(argv[k], "--")) break;
        if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h"))
          return cli_help(c);
      }
      return commands[i].fn(argc - 1, argv + 1);
    }
  }
  {
    const char *names[sizeof commands / sizeof commands[0]];
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) names[i] = commands[i].name;
    const char *best = cli_closest(c, strlen(c), names, sizeof commands / sizeof commands[0]);
    if (best) {
      fprintf(stderr, "tessera: '%s' is not a tessera command; did you mean '%s'? See 'tessera --help'\n",
              c, best);
      return TSR_EXIT_USAGE;
    }
  }
  fprintf(stderr, "tessera: '%s' is not a tessera command; see 'tessera --help'\n", c);
  return TSR_EXIT_USAGE;
}
