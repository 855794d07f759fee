/*
 * fmtmemo.c - shortest-double texts kept per distinct value (fmtmemo.h).
 * The memo only saves formatting: a found value's text is the one
 * tsr__fmt_double_end made for it, so the output is the same whatever the
 * memo holds (threads, block boundaries, eviction).
 */
#include "internal.h"
#include "base/fmtmemo.h"

#include <string.h>

/* A NaN pattern: never the key of a kept value (NaNs are not kept). */
#define NUM_EMPTY 0x7FF8DEADBEEF0001ull

void tsr__num_memo_reset(tsr__num_memo *m) {
  memset(m->text, 0, sizeof m->text); /* whole texts copied: no stale bytes */
  for (size_t i = 0; i < (1u << TSR__NUM_MEMO_BITS); i++) m->key[i] = NUM_EMPTY;
}

char *tsr__fmt_double_memo(tsr__num_memo *m, tsr__num_col *c, double d, char *buf) {
  if (!m || c->off) return tsr__fmt_double_end(d, buf);
  uint64_t b;
  memcpy(&b, &d, sizeof b);
  size_t h = (size_t)((b * 0x9E3779B97F4A7C15ull) >> (64 - TSR__NUM_MEMO_BITS));
  if (++c->lookups == TSR__NUM_MEMO_PROBE && c->hits < TSR__NUM_MEMO_PROBE / 4) c->off = 1;
  if (m->key[h] == b && b != NUM_EMPTY) {
    c->hits++;
    memcpy(buf, m->text[h], TSR__NUM_MEMO_TEXT); /* the text and its NUL */
    return buf + m->len[h];
  }
  char *end = tsr__fmt_double_end(d, buf);
  size_t n = (size_t)(end - buf);
  if (n < TSR__NUM_MEMO_TEXT && b != NUM_EMPTY) {
    m->key[h] = b;
    m->len[h] = (uint8_t)n;
    memcpy(m->text[h], buf, n + 1);
  }
  return end;
}
