/* cmd_retrain.c - `tessera retrain` (not yet implemented). */
#include "cli.h"

int tsr_cmd_retrain(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_msg("retrain: not implemented yet");
  return TSR_EXIT_FAIL;
}
