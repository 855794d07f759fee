/*
 * textmemo.h - values of a pure function of a text kept per distinct text
 * (lib/base/textmemo.c): the messages and topics of a bundle's
 * interactions repeat (templates, canned answers), and scoring them is
 * most of reading the table. Not public API; one memo per thread.
 */
#ifndef TSR_TEXTMEMO_H
#define TSR_TEXTMEMO_H

#include <stddef.h>
#include <stdint.h>

/* At most TSR__TEXT_MEMO_MAX distinct texts of 1 to 255 bytes are kept;
 * others are not (the caller computes them each time). */
#define TSR__TEXT_MEMO_MAX 16384

typedef struct tsr__text_entry {
  uint64_t h;
  uint32_t off; /* the text in the memo's buf */
  uint8_t len;
  uint8_t used;
  uint8_t flag; /* the caller's */
  double value; /* the caller's */
} tsr__text_entry;

typedef struct tsr__text_memo {
  tsr__text_entry *slot; /* 2 * TSR__TEXT_MEMO_MAX, or NULL: no memo */
  char *buf;             /* TSR__TEXT_MEMO_MAX * 255 bytes at most */
  size_t n, used;
} tsr__text_memo;

/* An empty memo; out of memory: no memo (every text a miss, not kept). */
void tsr__text_memo_init(tsr__text_memo *m);
void tsr__text_memo_release(tsr__text_memo *m);

/* The entry of the text s[0..len): *found = 1 when it was kept before
 * (its flag and value the caller's); else a new entry holding the text,
 * *found = 0, for the caller to fill; NULL (*found = 0) when the text is
 * not kept (empty, longer than 255 bytes, memo full or absent). */
tsr__text_entry *tsr__text_memo_get(tsr__text_memo *m, const char *s, size_t len, int *found);

#endif
