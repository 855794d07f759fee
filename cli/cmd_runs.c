/* cmd_runs.c - `tessera runs` (not yet implemented). */
#include "cli.h"

int tsr_cmd_runs(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_msg("runs: not implemented yet");
  return TSR_EXIT_FAIL;
}
