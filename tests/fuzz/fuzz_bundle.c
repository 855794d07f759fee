/*
 * fuzz_bundle.c - libFuzzer target for the bundle reader: the input is read
 * as every table (date detection, binding, validation) and fed to a profile
 * builder; checks that accepted + rejected = read and values are sane.
 * Build: cmake -DTSR_FUZZ=ON -DCMAKE_C_COMPILER=clang; run: ./fuzz_bundle DIR
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/tessera.h"
#include "tessera/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tsr_profiles *p;
  if (tsr_profiles_new(NULL, &p, NULL) != TSR_OK) abort();
  for (int t = 0; t < TSR_BT_COUNT; t++) {
    tsr_bundle_opts o;
    tsr_bundle_opts_init(&o);
    if (size && data[0] == ';') o.csv.delim = ';';
    tsr_bundle_reader *r;
    tsr_error e;
    if (tsr_bundle_reader_open_mem((tsr_bundle_table)t, (const char *)data, size, "fuzz", &o, &r, &e) != TSR_OK)
      continue;
    tsr_status st = tsr_profiles_add_table(p, r, &e);
    if (st != TSR_OK && st != TSR_ENOTFOUND) abort();
    tsr_bundle_stats bs;
    tsr_bundle_reader_stats(r, &bs);
    if (bs.rows_accepted + bs.rows_rejected != bs.rows_read) abort();
    tsr_bundle_reader_close(r);
  }
  if (tsr_profiles_finish(p, NULL) != TSR_OK) abort();
  for (size_t i = 0; i < tsr_profiles_count(p); i++) {
    const tsr_profile *r = tsr_profiles_get(p, i);
    if (!r->id || !*r->id) abort();
    if (!isnan(r->digital_share) && (r->digital_share < 0 || r->digital_share > 1)) abort();
  }
  if (tsr_profiles_count(p) >= 2 && tsr_profiles_segment(p, NULL, NULL) != TSR_OK) abort();
  tsr_profiles_free(p);
  return 0;
}
