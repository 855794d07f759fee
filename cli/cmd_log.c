/* cmd_log.c - `tessera log` (not yet implemented). */
#include "cli.h"

int tsr_cmd_log(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_msg("log: not implemented yet");
  return TSR_EXIT_FAIL;
}
