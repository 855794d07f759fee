/* test_parallel.c - the clustering's worker pool (parallel.c): every block
 * of every loop runs exactly once, with its own bounds, on loops of one
 * block (no thread), many blocks and none, for one to five threads, and the
 * pool is reused across hundreds of loops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "cluster/cluster_internal.h"

typedef struct blk_ctx {
  size_t n, chunk;
  atomic_int *runs;  /* per block: times run */
  size_t *lo, *hi;   /* per block: the bounds it was given */
  uint64_t *sum;     /* per block: sum of its row ids (work done in it) */
} blk_ctx;

static void blk_fn(void *vc, size_t b, size_t lo, size_t hi) {
  blk_ctx *c = vc;
  atomic_fetch_add(&c->runs[b], 1);
  /* some work first: a loop that returned before its workers ended shows */
  volatile uint64_t spin = 0;
  for (size_t k = 0; k < 3000; k++) spin += k;
  c->lo[b] = lo;
  c->hi[b] = hi;
  uint64_t s = 0;
  for (size_t i = lo; i < hi; i++) s += i * i;
  c->sum[b] = s;
}

static void check_loop(tsr__pool *p, size_t n, size_t chunk) {
  size_t nb = (n + chunk - 1) / chunk;
  blk_ctx c = {n, chunk, calloc(nb + 1, sizeof(atomic_int)), calloc(nb + 1, sizeof(size_t)),
               calloc(nb + 1, sizeof(size_t)), calloc(nb + 1, sizeof(uint64_t))};
  for (size_t b = 0; b <= nb; b++) atomic_init(&c.runs[b], 0);
  tsr__pool_chunks(p, n, chunk, blk_fn, &c);
  for (size_t b = 0; b < nb; b++) {
    assert_int_equal(atomic_load(&c.runs[b]), 1);
    assert_int_equal(c.lo[b], b * chunk);
    assert_int_equal(c.hi[b], b + 1 == nb ? n : (b + 1) * chunk);
    uint64_t s = 0;
    for (size_t i = c.lo[b]; i < c.hi[b]; i++) s += i * i;
    assert_true(c.sum[b] == s);
  }
  assert_int_equal(atomic_load(&c.runs[nb]), 0);
  free(c.runs);
  free(c.lo);
  free(c.hi);
  free(c.sum);
}

static void pool_blocks_once(void **state) {
  (void)state;
  for (int t = 1; t <= 5; t++) {
    tsr__pool *p = tsr__pool_new(t);
    assert_true(t == 1 ? p == NULL : p != NULL);
    for (size_t r = 0; r < 300; r++) {
      size_t n = (r * 7919) % 5000, chunk = 1 + r % 97;
      check_loop(p, n, chunk);
    }
    check_loop(p, 3 * TSR__BLOCK + 5, TSR__BLOCK);
    check_loop(p, TSR__BLOCK, TSR__BLOCK);
    tsr__pool_free(p);
  }
  tsr__pool_free(NULL);
  /* a pool whose loops never have two blocks starts no thread */
  tsr__pool *p = tsr__pool_new(4);
  for (size_t r = 0; r < 10; r++) check_loop(p, r * 10, 100);
  tsr__pool_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(pool_blocks_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
