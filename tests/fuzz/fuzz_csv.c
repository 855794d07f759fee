/*
 * fuzz_csv.c - libFuzzer target for the CSV reader: every input is read to
 * the end with each delimiter mode; checks record invariants.
 * Build: cmake -DTSR_FUZZ=ON -DCMAKE_C_COMPILER=clang; run: ./fuzz_csv DIR
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tessera/tessera.h"

/* The zero-copy reader must return exactly what tsr_csv_next returns. */
static void same_as_span(const uint8_t *data, size_t size, const tsr_csv_opts *o) {
  tsr_csv *a, *b;
  if (tsr_csv_open_mem((const char *)data, size, "fuzz", o, &a, NULL) != TSR_OK) abort();
  if (tsr_csv_open_mem((const char *)data, size, "fuzz", o, &b, NULL) != TSR_OK) abort();
  for (;;) {
    tsr_csv_record ra, rb;
    tsr_error ea, eb;
    tsr_status sa = tsr_csv_next(a, &ra, &ea), sb = tsr__csv_next_span(b, &rb, &eb);
    if (sa != sb) abort();
    if (sa == TSR_ENOTFOUND) break;
    if (ra.line != rb.line || ra.end_line != rb.end_line || ra.offset != rb.offset ||
        ra.raw_len != rb.raw_len || memcmp(ra.raw, rb.raw, ra.raw_len) != 0)
      abort();
    if (sa != TSR_OK) {
      if (ea.line != eb.line || ea.column != eb.column || strcmp(ea.msg, eb.msg) != 0) abort();
      continue;
    }
    if (ra.nfields != rb.nfields) abort();
    for (size_t k = 0; k < ra.nfields; k++) {
      const tsr_csv_field *fa = &ra.fields[k], *fb = &rb.fields[k];
      if (fa->len != fb->len || memcmp(fa->ptr, fb->ptr, fa->len) != 0 || fa->line != fb->line ||
          fa->column != fb->column || fa->quoted != fb->quoted)
        abort();
    }
  }
  tsr_csv_close(a);
  tsr_csv_close(b);
}

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
    same_as_span(data, size, &o);
  }
  return 0;
}
