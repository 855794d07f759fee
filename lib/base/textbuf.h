/*
 * textbuf.h - a growable text buffer for building JSON and other text of
 * unbounded length (inputs' paths, column names) without fixed arrays.
 * An allocation failure is remembered (oom) and later appends do nothing;
 * tsr__tb_take reports it.
 */
#ifndef TSR_TEXTBUF_H
#define TSR_TEXTBUF_H

#include <stddef.h>

typedef struct {
  char *s;    /* NUL-terminated text (NULL until the first append) */
  size_t len; /* bytes of text */
  size_t cap; /* bytes allocated */
  int oom;    /* 1 after an allocation failure */
} tsr__tb;

/* Appends printf-style text. */
void tsr__tb_printf(tsr__tb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string (quoted, escaped; NULL as ""). */
void tsr__tb_jstr(tsr__tb *b, const char *s);
/* Appends v as a JSON number (shortest round-trip form), null if not finite. */
void tsr__tb_jnum(tsr__tb *b, double v);
/* The text (caller frees with tsr__free), "" when empty; NULL after an
 * allocation failure (the buffer is released either way). */
char *tsr__tb_take(tsr__tb *b);
/* Releases the buffer. */
void tsr__tb_free(tsr__tb *b);

#endif
