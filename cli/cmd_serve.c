/* cmd_serve.c - `tessera serve` (not yet implemented). */
#include "cli.h"

int tsr_cmd_serve(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_msg("serve: not implemented yet");
  return TSR_EXIT_FAIL;
}
