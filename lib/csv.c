/* csv.c - placeholder */
#include "internal.h"
#include "tessera/csv.h"
void tsr_csv_opts_init(tsr_csv_opts *o) { o->delim = ','; o->max_field = TSR_CSV_DEFAULT_MAX_FIELD; o->max_fields = TSR_CSV_DEFAULT_MAX_FIELDS; }
