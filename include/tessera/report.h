/*
 * tessera/report.h - the self-contained HTML report of an analysis run:
 * one file, the chart library and the chart code inlined, the data embedded
 * as JSON; no network access is needed to view it (docs/report.md).
 *
 * The same data JSON (tsr_report_data_json*) and chart code (web/report.js,
 * served as tsr_report_asset("report.js")) drive the web application's
 * dashboard pages.
 *
 * Thread safety: the functions keep no state; a store handle must be used
 * by one thread at a time (tessera/store.h).
 */
#ifndef TESSERA_REPORT_H
#define TESSERA_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/analyze.h"
#include "tessera/error.h"
#include "tessera/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsr_report_opts {
  const char *title;      /* page title; NULL = "tessera analysis report" */
  const char *source;     /* input file name(s) shown, or NULL */
  const char *params_json;/* the run's parameters (JSON object) shown, or NULL */
  double churn_threshold; /* P(alive) below this = churned/at risk, (0,1); default 0.5 */
  size_t top_n;           /* rows of the top-CLV and at-risk tables, 1..1000; default 20 */
  size_t sample;          /* points of the scatter plots, 100..100000; default 2000 */
  size_t max_rejects;     /* rejected rows listed, 0..1000; default 20 */
  tsr_store *store;       /* optional (borrowed): rejects and events of the run */
  int no_input;           /* stored runs: 1 = do not re-read the input files */
  /* Issue 10/12/13/15 (docs/report.md "Inputs"): */
  const char *currency;   /* ISO 4217 code shown with every amount (three
                             letters A-Z); NULL = the run's own (analyze
                             --currency or the data's currency column), else
                             amounts are labelled "amount units" */
  const char *out_dir;    /* folder of the run's files read for the profile,
                             data-quality and churn sections (run.json,
                             segment_profiles.csv, churn_eval.json,
                             churn.csv); NULL = the stored run's folder */
  const char *offers_sim; /* `tessera offers simulate --json` output, or NULL */
  const char *experiment; /* `tessera experiment --json` output, or NULL */
} tsr_report_opts;

TSR_API void tsr_report_opts_init(tsr_report_opts *o);

/* 1 when code has the form of an ISO 4217 currency code (three letters
 * A-Z, e.g. "EUR"), else 0. */
TSR_API int tsr_currency_code_valid(const char *code);

/* The report data JSON of r (layout: docs/report.md, "format":
 * "tessera-report", "version": 1). opts may be NULL (defaults).
 * OUT: *json, NUL-terminated, owned by the caller (free()). */
TSR_API tsr_status tsr_report_data_json(const tsr_analyze_result *r,
                                        const tsr_report_opts *opts, char **json,
                                        tsr_error *err);

/* The same for a stored run read back from the store (customers, segments,
 * models, run, dataset with its rejects, events). The store keeps no
 * transaction ledger: for the tracking plots the run's input files are
 * re-read when they still exist unchanged (same checksum; skipped with
 * opts->no_input), else the tracking section is absent. The holdout
 * columns are not stored: no holdout section. TSR_ENOTFOUND for a missing
 * run, TSR_EINVAL for a run that is not a finished analyze run. */
TSR_API tsr_status tsr_report_data_json_stored(tsr_store *s, int64_t run_id,
                                               const tsr_report_opts *opts,
                                               char **json, tsr_error *err);

/* Writes the HTML page around data_json (from the functions above) to path
 * ("-" = stdout). The JSON is embedded so that no "</script" or "<!--" can
 * end the script element. title NULL = default. */
TSR_API tsr_status tsr_report_html_write(const char *data_json, const char *title,
                                         const char *path, tsr_error *err);

/* Writes the report of r to path (tsr_report_data_json + html_write). */
TSR_API tsr_status tsr_report_write(const tsr_analyze_result *r, const char *path,
                                    tsr_error *err);
/* Same with options (opts may be NULL). */
TSR_API tsr_status tsr_report_write_opts(const tsr_analyze_result *r,
                                         const tsr_report_opts *opts, const char *path,
                                         tsr_error *err);

/* An asset inlined into the report, for the web server to serve:
 * "chart.js" (chart.js 4 UMD), "chartjs-chart-matrix.js", "report.js",
 * "report.css". Static storage; *len = 0 (and "") for an unknown name or an
 * asset that was not available at build time (npm missing: the report then
 * shows its tables and a notice instead of charts). */
TSR_API const char *tsr_report_asset(const char *name, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
