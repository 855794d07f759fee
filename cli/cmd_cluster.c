/* cmd_cluster.c - `tessera cluster` (not yet implemented). */
#include "cli.h"

int tsr_cmd_cluster(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_msg("cluster: not implemented yet");
  return TSR_EXIT_FAIL;
}
