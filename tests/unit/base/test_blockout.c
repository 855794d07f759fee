/* test_blockout.c - tsr__blocks_write (lib/base/blockout.c): blocks
 * formatted by threads reach the sink in order, the text of one thread;
 * out of memory and a sink error stop it. */
#include "tsr_test.h"
#include "internal.h"
#include "base/textbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* The file's bytes after a header of hlen bytes (written plainly) and the
 * text t[0..n) put in pieces of pseudo-random sizes through a tsr__fd_sink
 * of cap bytes (direct: 1 tries O_DIRECT). used: whether O_DIRECT was on
 * before the finish. */
static char *sink_file(size_t hlen, const char *t, size_t n, size_t cap, int direct, int *used,
                       size_t *len) {
  char path[] = "/tmp/tsr_fdsink_XXXXXX";
  int fd = mkstemp(path); /* in /tmp (the build tree may be elsewhere) */
  assert_true(fd >= 0);
  unlink(path);
  assert_int_equal(write(fd, t, hlen), (ssize_t)hlen);
  tsr__fd_sink k;
  assert_int_equal(tsr__fd_sink_init(&k, fd, cap, direct), 0);
  uint64_t x = 0x2545F4914F6CDD1Dull;
  for (size_t o = hlen; o < n;) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    size_t p = (size_t)(x % 20000) + 1;
    if (p > n - o) p = n - o;
    assert_int_equal(tsr__fd_sink_put(&k, t + o, p), 0);
    o += p;
  }
  *used = k.on;
  assert_int_equal(tsr__fd_sink_finish(&k), 0);
  assert_int_equal(fcntl(fd, F_GETFL) & O_DIRECT, 0); /* the flags restored */
  off_t end = lseek(fd, 0, SEEK_END);
  char *b = malloc((size_t)end + 1);
  assert_int_equal(pread(fd, b, (size_t)end, 0), (ssize_t)end);
  close(fd);
  *len = (size_t)end;
  return b;
}

/* tsr__fd_sink: the same bytes as write(2) for any header length (the
 * plain bytes up to the first aligned offset), buffer size and piece
 * sizes; O_DIRECT used where the file system takes it (/tmp here) and
 * cleared at the end; out of memory and a write error reported. */
static void fd_sink(void **state) {
  (void)state;
  const size_t n = 1500000;
  char *t = malloc(n);
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    t[i] = (char)('!' + x % 90);
  }
  /* does /tmp take O_DIRECT? */
  char probe[] = "/tmp/tsr_fdprobe_XXXXXX";
  int pf = mkstemp(probe);
  assert_true(pf >= 0);
  unlink(probe);
  int can = fcntl(pf, F_SETFL, fcntl(pf, F_GETFL) | O_DIRECT) == 0;
  close(pf);
  const size_t hl[] = {0, 1, 37, 4095, 4096, 4097, 70000};
  const size_t caps[] = {4096, 12288, 0};
  for (size_t h = 0; h < sizeof hl / sizeof hl[0]; h++)
    for (size_t c = 0; c < 3; c++)
      for (int direct = 0; direct <= 1; direct++) {
        int used;
        size_t len;
        char *b = sink_file(hl[h], t, n, caps[c], direct, &used, &len);
        assert_int_equal(len, n);
        assert_memory_equal(b, t, n);
        free(b);
        if (direct && can && caps[c]) assert_true(used); /* direct writes were made */
        if (!direct) assert_false(used);
      }
  /* short texts: all before the first aligned offset, or in the tail */
  for (size_t m = 6; m < 9000; m += 1111) {
    int used;
    size_t len;
    char *b = sink_file(5, t, m, 4096, 1, &used, &len);
    assert_int_equal(len, m);
    assert_memory_equal(b, t, m);
    free(b);
  }
  /* out of memory */
  tsr__fd_sink k;
  char om[] = "/tmp/tsr_fdsink_XXXXXX";
  int of = mkstemp(om);
  assert_true(of >= 0);
  unlink(om);
  tsr__alloc_fail_after(0);
  assert_int_equal(tsr__fd_sink_init(&k, of, 0, 1), -1);
  tsr__alloc_fail_after(-1);
  tsr__fd_sink_finish(&k);
  close(of);
  /* a descriptor open for reading: the error, with its errno */
  int rd = open("/dev/null", O_RDONLY);
  assert_true(rd >= 0);
  assert_int_equal(tsr__fd_sink_init(&k, rd, 4096, 0), 0);
  assert_int_equal(tsr__fd_sink_put(&k, t, 10), -1);
  assert_int_equal(k.werr, EBADF);
  assert_int_equal(tsr__fd_sink_finish(&k), -1);
  close(rd);
  free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(in_order),
      cmocka_unit_test(failures),
      cmocka_unit_test(fd_sink),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
