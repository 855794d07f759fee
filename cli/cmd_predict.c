/* cmd_predict.c - `tessera predict` (not yet implemented). */
#include "cli.h"

int tsr_cmd_predict(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_msg("predict: not implemented yet");
  return TSR_EXIT_FAIL;
}
