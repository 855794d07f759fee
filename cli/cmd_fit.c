/* cmd_fit.c - `tessera fit` (not yet implemented). */
#include "cli.h"

int tsr_cmd_fit(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_msg("fit: not implemented yet");
  return TSR_EXIT_FAIL;
}
