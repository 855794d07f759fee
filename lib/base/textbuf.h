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

/* A file sink for tsr__blocks_write (lib/base/blockout.c) that bypasses the
 * page cache: the text is gathered in an aligned buffer of cap bytes and
 * written with O_DIRECT in whole aligned pieces from the first aligned file
 * offset on (the bytes before it, and the rest at the end, by plain
 * writes). On this kind of machine (a VM) a buffered write pays a fresh
 * page-cache page per 4 KiB (customers.csv of tx1800k: 1.6 CPU s in the
 * kernel's copy, then the fsync's write-back); the direct writes copy from
 * one reused buffer. Where O_DIRECT is refused (the file system, the
 * alignment) it writes as write(2) does. The file's bytes are the same. */
typedef struct tsr__fd_sink {
  int fd;
  int flags;    /* the descriptor's status flags before */
  int direct;   /* 1: O_DIRECT may be tried; 0: plain writes */
  int on;       /* O_DIRECT is set on fd */
  int werr;     /* errno of a failed write (0 none) */
  size_t plain; /* bytes still to write plainly up to the first aligned offset */
  char *buf;
  size_t len, cap;
} tsr__fd_sink;
/* Starts a sink on fd at its current offset; cap (a multiple of 4096; 0:
 * 4 MiB) bytes of buffer; direct 0 writes plainly. 0, or -1 when out of
 * memory. */
int tsr__fd_sink_init(tsr__fd_sink *k, int fd, size_t cap, int direct);
/* The sink (ctx: the tsr__fd_sink): 0, or -1 on a write error (werr). */
int tsr__fd_sink_put(void *ctx, const char *s, size_t n);
/* Writes what is left, restores the descriptor's flags and frees the
 * buffer (also after an error); 0, or -1 on a write error (werr). */
int tsr__fd_sink_finish(tsr__fd_sink *k);

#endif
