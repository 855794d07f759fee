/* cmd_summary.c - `tessera summary` (not yet implemented). */
#include "cli.h"

int tsr_cmd_summary(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_msg("summary: not implemented yet");
  return TSR_EXIT_FAIL;
}
