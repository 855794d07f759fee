/* cmd_db.c - `tessera db` (not yet implemented). */
#include "cli.h"

int tsr_cmd_db(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_msg("db: not implemented yet");
  return TSR_EXIT_FAIL;
}
