/*
 * textbuf.h - a growable text buffer for building JSON and other text of
 * unbounded length (inputs' paths, column names) without fixed arrays.
 * An allocation failure is remembered (oom) and later appends do nothing;
 * tsr__tb_take reports it.
 */
#ifndef TSR_TEXTBUF_H
#define TSR_TEXTBUF_H

#include <stddef.h>

typedef struct tsr__tb_s {
  char *s;    /* NUL-terminated text (NULL until the first append) */
  size_t len; /* bytes of text */
  size_t cap; /* bytes allocated */
  int oom;    /* 1 after an allocation failure */
} tsr__tb;

/* Makes room for extra more bytes (plus a NUL) after len; 0, or -1 when
 * out of memory. */
int tsr__tb_reserve(tsr__tb *b, size_t extra);
/* Appends printf-style text. */
void tsr__tb_printf(tsr__tb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string (quoted, escaped; NULL as ""). */
void tsr__tb_jstr(tsr__tb *b, const char *s);
/* Appends v as a JSON number (shortest round-trip form), null if not finite. */
void tsr__tb_jnum(tsr__tb *b, double v);
/* Appends the JSON value v (a jansson tree) in compact form: strings as
 * tsr__tb_jstr, reals as tsr__tb_jnum (shortest round trip, unlike
 * jansson's %.17g), object members in insertion order. Outputs are built as
 * jansson values and written with this, so their bytes stay stable. */
struct json_t;
void tsr__tb_json(tsr__tb *b, const struct json_t *v);
/* A jansson real, or null when v is not finite (jansson refuses those). */
struct json_t *tsr__json_num(double v);
/* The text (caller frees with tsr__free), "" when empty; NULL after an
 * allocation failure (the buffer is released either way). */
char *tsr__tb_take(tsr__tb *b);
/* Releases the buffer. */
void tsr__tb_free(tsr__tb *b);


/* A long text made of nblocks numbered blocks (lib/base/blockout.c):
 * fmt(ctx, blk, buf) writes block blk into buf (empty on entry; 0, or -1
 * when out of memory); sink(ctx, s, n) takes the blocks' text in order (0,
 * or -1 on a write error). With threads >= 2, that many threads format
 * blocks ahead into a ring of buffers while the caller runs the sink; else
 * the caller formats and sinks one block after the other. Returns 0, -1
 * (out of memory) or -2 (the sink failed). */
typedef int (*tsr__block_fmt)(void *ctx, size_t blk, tsr__tb *buf);
typedef int (*tsr__block_sink)(void *ctx, const char *s, size_t n);
int tsr__blocks_write(size_t nblocks, int threads, tsr__block_fmt fmt, tsr__block_sink sink,
                      void *ctx);

#endif
