/*
 * fuzz_rfm_scheme.c - libFuzzer target for RFM scheme files: any input either
 * compiles into a scheme whose every (r, f, m) has a named segment, or fails
 * with a located error; never crashes.
 * Build: cmake -DTSR_FUZZ=ON -DCMAKE_C_COMPILER=clang; run: ./fuzz_rfm_scheme DIR
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/rfm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tsr_rfm_scheme *s = NULL;
  tsr_error e;
  tsr_status st = tsr_rfm_scheme_parse((const char *)data, size, "fuzz", &s, &e);
  if (st != TSR_OK) {
    if (s) abort();
    if (e.code != st || !e.msg[0]) abort();
    return 0;
  }
  size_t n = tsr_rfm_scheme_nsegments(s);
  if (n == 0) abort();
  for (int r = 1; r <= 5; r++)
    for (int f = 1; f <= 5; f++)
      for (int m = 1; m <= 5; m++) {
        int i = tsr_rfm_segment_index(s, r, f, m);
        if (i < 0 || (size_t)i >= n) abort();
        const char *name = tsr_rfm_segment(s, r, f, m);
        if (!name || !*name || strchr(name, ',')) abort();
      }
  tsr_rfm_scheme_free(s);
  return 0;
}
