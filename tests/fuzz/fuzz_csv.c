/*
 * fuzz_csv.c - libFuzzer target for the CSV reader: every input is read to
 * the end with each delimiter mode; checks record invariants.
 * Build: cmake -DTSR_FUZZ=ON -DCMAKE_C_COMPILER=clang; run: ./fuzz_csv DIR
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/tessera.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const int delims[] = {',', '\t', ';', TSR_CSV_WS};
  for (size_t d = 0; d < sizeof delims / sizeof delims[0]; d++) {
    tsr_csv_opts o;
    tsr_csv_opts_init(&o);
    o.delim = delims[d];
    o.max_field = 64; /* small limits so the fuzzer reaches them */
    o.max_fields = 8;
    tsr_csv *c;
    if (tsr_csv_open_mem((const char *)data, size, "fuzz", &o, &c, NULL) != TSR_OK) abort();
    int64_t last_line = 0;
    size_t guard = 0;
    for (;;) {
      tsr_csv_record r;
      tsr_error e;
      tsr_status st = tsr_csv_next(c, &r, &e);
      if (st == TSR_ENOTFOUND) break;
      if (++guard > size + 2) abort(); /* must make progress */
      if (r.line <= last_line) abort();
      last_line = r.line;
      if (st != TSR_OK) continue;
      if (r.nfields == 0 || r.nfields > o.max_fields) abort();
      for (size_t k = 0; k < r.nfields; k++) {
        if (r.fields[k].len > o.max_field) abort();
        if (r.fields[k].ptr[r.fields[k].len] != '\0') abort();
      }
    }
    if (tsr_csv_bytes_read(c) != (int64_t)size) abort();
    tsr_csv_close(c);
  }
  return 0;
}
