/* cmd_report.c - `tessera report` (not yet implemented). */
#include "cli.h"

int tsr_cmd_report(int argc, char **argv) {
  (void)argc;
  (void)argv;
  cli_msg("report: not implemented yet");
  return TSR_EXIT_FAIL;
}
