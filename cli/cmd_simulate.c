/* cmd_simulate.c - `tessera simulate` (not yet implemented). */
#include "cli.h"

int tsr_cmd_simulate(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_msg("simulate: not implemented yet");
  return TSR_EXIT_FAIL;
}
