/* test_blockout.c - tsr__blocks_write (lib/base/blockout.c): blocks
 * formatted by threads reach the sink in order, the text of one thread;
 * out of memory and a sink error stop it. */
#include "tsr_test.h"
#include "internal.h"
#include "base/textbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ctx {
  char *out;
  size_t len, cap;
  size_t fail_fmt;  /* block whose formatting fails (SIZE_MAX none) */
  size_t fail_sink; /* sink call that fails (SIZE_MAX none) */
  size_t sinks;     /* sink calls */
} ctx;

/* Block blk: lines "blk.j" of a length that varies by block (so that a
 * block out of order or lost changes the text). */
static int fmt(void *c, size_t blk, tsr__tb *buf) {
  ctx *x = c;
  if (blk == x->fail_fmt) return -1;
  assert_int_equal(buf->len, 0);
  for (size_t j = 0; j < 1 + blk % 37; j++) {
    if (tsr__tb_reserve(buf, 64)) return -1;
    buf->len += (size_t)snprintf(buf->s + buf->len, 64, "%zu.%zu\n", blk, j);
  }
  return 0;
}

static int sink(void *c, const char *s, size_t n) {
  ctx *x = c;
  if (x->sinks++ == x->fail_sink) return -1;
  if (x->len + n > x->cap) {
    x->cap = 2 * (x->len + n);
    x->out = realloc(x->out, x->cap);
    assert_non_null(x->out);
  }
  memcpy(x->out + x->len, s, n);
  x->len += n;
  return 0;
}

static void in_order(void **state) {
  (void)state;
  const size_t nb = 1000;
  ctx one = {NULL, 0, 0, SIZE_MAX, SIZE_MAX, 0};
  assert_int_equal(tsr__blocks_write(nb, 1, fmt, sink, &one), 0);
  assert_int_equal(one.sinks, nb);
  for (int threads = 2; threads <= 4; threads++) {
    ctx m = {NULL, 0, 0, SIZE_MAX, SIZE_MAX, 0};
    assert_int_equal(tsr__blocks_write(nb, threads, fmt, sink, &m), 0);
    assert_int_equal(m.sinks, nb);
    assert_int_equal(m.len, one.len);
    assert_memory_equal(m.out, one.out, one.len);
    free(m.out);
  }
  /* fewer blocks than threads, and none */
  ctx few = {NULL, 0, 0, SIZE_MAX, SIZE_MAX, 0};
  assert_int_equal(tsr__blocks_write(1, 4, fmt, sink, &few), 0);
  assert_int_equal(few.len, 4);
  assert_memory_equal(few.out, "0.0\n", 4);
  free(few.out);
  ctx none = {NULL, 0, 0, SIZE_MAX, SIZE_MAX, 0};
  assert_int_equal(tsr__blocks_write(0, 2, fmt, sink, &none), 0);
  assert_int_equal(none.sinks, 0);
  free(one.out);
}

/* A failed block: -1, and nothing from it or after it reaches the sink; a
 * failed sink: -2, and no later sink call. */
static void failures(void **state) {
  (void)state;
  for (int threads = 1; threads <= 3; threads++) {
    ctx a = {NULL, 0, 0, 123, SIZE_MAX, 0};
    assert_int_equal(tsr__blocks_write(500, threads, fmt, sink, &a), -1);
    assert_true(a.sinks <= 123);
    free(a.out);
    ctx b = {NULL, 0, 0, SIZE_MAX, 77, 0};
    assert_int_equal(tsr__blocks_write(500, threads, fmt, sink, &b), -2);
    assert_int_equal(b.sinks, 78);
    free(b.out);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(in_order),
      cmocka_unit_test(failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
