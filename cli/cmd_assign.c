/* cmd_assign.c - `tessera assign` (not yet implemented). */
#include "cli.h"

int tsr_cmd_assign(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_msg("assign: not implemented yet");
  return TSR_EXIT_FAIL;
}
