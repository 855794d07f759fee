/* cmd_rfm.c - `tessera rfm` (not yet implemented). */
#include "cli.h"

int tsr_cmd_rfm(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_msg("rfm: not implemented yet");
  return TSR_EXIT_FAIL;
}
