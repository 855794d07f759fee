/*
 * textmemo.c - values per distinct text (textmemo.h): open addressing on
 * the text's hash, the texts copied into one buffer. Used by the models'
 * read of the interactions (lib/predict/pdata.c) and the profile step's
 * sentiment (app/analyze_profiles.c).
 */
#include "internal.h"
#include "base/textmemo.h"

#include <string.h>

#define SLOTS (2 * TSR__TEXT_MEMO_MAX) /* a power of 2 */

void tsr__text_memo_init(tsr__text_memo *m) {
  memset(m, 0, sizeof *m);
  m->slot = tsr__calloc(SLOTS, sizeof *m->slot);
  m->buf = tsr__malloc((size_t)TSR__TEXT_MEMO_MAX * 255);
  if (!m->slot || !m->buf) { /* no memo: every text computed */
    tsr__free(m->slot);
    tsr__free(m->buf);
    m->slot = NULL;
    m->buf = NULL;
  }
}

void tsr__text_memo_release(tsr__text_memo *m) {
  tsr__free(m->slot);
  tsr__free(m->buf);
  memset(m, 0, sizeof *m);
}

tsr__text_entry *tsr__text_memo_get(tsr__text_memo *m, const char *s, size_t len, int *found) {
  *found = 0;
  if (!m->slot || len == 0 || len > 255) return NULL;
  uint64_t h = tsr__hash_bytes(s, len, 0x7e47);
  for (size_t i = (size_t)h & (SLOTS - 1);; i = (i + 1) & (SLOTS - 1)) {
    tsr__text_entry *t = &m->slot[i];
    if (!t->used) {
      if (m->n >= TSR__TEXT_MEMO_MAX) return NULL;
      t->h = h;
      t->off = (uint32_t)m->used;
      t->len = (uint8_t)len;
      t->used = 1;
      memcpy(m->buf + m->used, s, len);
      m->used += len;
      m->n++;
      return t;
    }
    if (t->h == h && t->len == len && !memcmp(m->buf + t->off, s, len)) {
      *found = 1;
      return t;
    }
  }
}
