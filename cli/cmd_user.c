/* cmd_user.c - `tessera user` (not yet implemented). */
#include "cli.h"

int tsr_cmd_user(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_msg("user: not implemented yet");
  return TSR_EXIT_FAIL;
}
