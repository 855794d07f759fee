/* report.c - HTML report (placeholder until the report lands). */
#include "internal.h"
#include "tessera/report.h"

tsr_status tsr_report_write(const tsr_analyze_result *r, const char *path, tsr_error *err) {
  (void)r;
  return tsr_error_set(err, TSR_EUNSUPPORTED, path, 0, 0, NULL, "the HTML report is not available yet");
}
