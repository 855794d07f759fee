/*
 * fmtmemo.h - the shortest-double text (tsr__fmt_double_end) kept per
 * distinct value (lib/base/fmtmemo.c): columns of days / 7 (recency, T)
 * repeat a few hundred values over millions of rows, and looking their text
 * up costs a fraction of making it. Not public API; one memo per thread.
 */
#ifndef TSR_FMTMEMO_H
#define TSR_FMTMEMO_H

#include <stddef.h>
#include <stdint.h>

#define TSR__NUM_MEMO_BITS 11
#define TSR__NUM_MEMO_TEXT 24 /* texts of 1..23 bytes kept, NUL included */

/* A direct-mapped table by the value's bits. */
typedef struct tsr__num_memo {
  uint64_t key[1u << TSR__NUM_MEMO_BITS];
  uint8_t len[1u << TSR__NUM_MEMO_BITS];
  char text[1u << TSR__NUM_MEMO_BITS][TSR__NUM_MEMO_TEXT];
} tsr__num_memo;

/* A column's use of the memo: its first TSR__NUM_MEMO_PROBE values are
 * looked up; when fewer than a quarter of them were found, the column
 * formats every value without the memo (amounts, model outputs). */
#define TSR__NUM_MEMO_PROBE 1024
typedef struct tsr__num_col {
  uint32_t lookups, hits;
  int off;
} tsr__num_col;

/* An empty memo. */
void tsr__num_memo_reset(tsr__num_memo *m);

/* Exactly tsr__fmt_double_end(d, buf) (the same bytes and NUL, buf >= 32
 * bytes), from the memo m when it holds d. m NULL or c->off: formatted. */
char *tsr__fmt_double_memo(tsr__num_memo *m, tsr__num_col *c, double d, char *buf);

#endif
