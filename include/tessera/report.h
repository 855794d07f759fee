/*
 * tessera/report.h - the self-contained HTML report of an analysis run
 * (charts inlined, no network access needed to view it).
 */
#ifndef TESSERA_REPORT_H
#define TESSERA_REPORT_H

#include "tessera/analyze.h"
#include "tessera/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the report of r to path. */
TSR_API tsr_status tsr_report_write(const tsr_analyze_result *r, const char *path,
                                    tsr_error *err);

#ifdef __cplusplus
}
#endif
#endif
