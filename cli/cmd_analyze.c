/* cmd_analyze.c - `tessera analyze` (not yet implemented). */
#include "cli.h"

int tsr_cmd_analyze(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_msg("analyze: not implemented yet");
  return TSR_EXIT_FAIL;
}
