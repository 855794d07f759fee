/*
 * tessera/tessera.h - umbrella header of libtessera, the computation core of
 * tessera (customer profiling and micro-segmentation).
 *
 * Conventions: every function returns tsr_status and fills the optional last
 * tsr_error *; inputs are borrowed; returned objects are owned by the caller
 * and freed with the matching _free; no global state, no printing. Objects are
 * not thread-safe; distinct objects may be used from distinct threads.
 */
#ifndef TESSERA_TESSERA_H
#define TESSERA_TESSERA_H

#include "tessera/error.h"
#include "tessera/csv.h"
#include "tessera/table.h"
#include "tessera/datetime.h"
#include "tessera/ingest.h"
#include "tessera/bundle.h"
#include "tessera/summary.h"
#include "tessera/rfm.h"
#include "tessera/rng.h"
#include "tessera/simulate.h"
#include "tessera/btyd.h"
#include "tessera/cluster.h"
#include "tessera/store.h"
#include "tessera/retrain.h"
#include "tessera/analyze.h"
#include "tessera/report.h"
#include "tessera/gbm.h"
#include "tessera/evaluate.h"
#include "tessera/churn.h"
#include "tessera/recommend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* tsr_version() ("0.1.0") is declared in tessera/error.h, the base header
 * of the core. */

#ifdef __cplusplus
}
#endif
#endif
