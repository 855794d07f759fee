/*
 * test_recommend_als.c - the NBP ALS scorer solves the user half-step once
 * per distinct ownership pattern (tsr__nbp_als memo = 1): bit for bit the
 * scores of solving every customer (memo = 0).
 */
#include "tsr_test.h"

#include "internal.h"
#include "predict/recommend_internal.h"
#include "tessera/rng.h"

/* n customers, P products: rows drawn from npat random patterns (the
 * first all zero) and, with probability unique, a random row of their own. */
static uint8_t *make_held(size_t n, size_t P, size_t npat, double unique, uint64_t seed) {
  uint8_t *pat = calloc(npat * P, 1), *held = malloc(n * P);
  assert_non_null(pat);
  assert_non_null(held);
  tsr_rng g;
  tsr_rng_seed(&g, seed, 1);
  for (size_t j = 1; j < npat; j++)
    for (size_t p = 0; p < P; p++) pat[j * P + p] = tsr_rng_uniform(&g) < 0.3;
  for (size_t u = 0; u < n; u++) {
    if (tsr_rng_uniform(&g) < unique)
      for (size_t p = 0; p < P; p++) held[u * P + p] = tsr_rng_uniform(&g) < 0.4;
    else memcpy(held + u * P, pat + tsr_rng_bounded(&g, npat) * P, P);
  }
  free(pat);
  return held;
}

static void check_exact(size_t n, size_t P, size_t npat, double unique, uint64_t seed) {
  uint8_t *held = make_held(n, P, npat, unique, seed);
  const size_t K = TSR__NBP_ALS_K;
  float *a = malloc(n * P * sizeof *a), *b = malloc(n * P * sizeof *b);
  double *xa = malloc(n * K * sizeof *xa), *xb = malloc(n * K * sizeof *xb);
  double *ya = malloc(P * K * sizeof *ya), *yb = malloc(P * K * sizeof *yb);
  assert_true(a && b && xa && xb && ya && yb);
  tsr_error err;
  assert_int_equal(tsr__nbp_als(held, n, P, 42, 0, a, xa, ya, &err), TSR_OK);
  assert_int_equal(tsr__nbp_als(held, n, P, 42, 1, b, xb, yb, &err), TSR_OK);
  /* the factors themselves, not only their rounding to float */
  for (size_t i = 0; i < n * K; i++)
    if (memcmp(&xa[i], &xb[i], sizeof xa[i]))
      fail_msg("n %zu P %zu: customer %zu factor %zu: %.17g solved alone, %.17g shared", n, P,
               i / K, i % K, xa[i], xb[i]);
  for (size_t i = 0; i < P * K; i++)
    if (memcmp(&ya[i], &yb[i], sizeof ya[i]))
      fail_msg("n %zu P %zu: product %zu factor %zu: %.17g vs %.17g", n, P, i / K, i % K, ya[i],
               yb[i]);
  size_t nonzero = 0;
  for (size_t i = 0; i < n * P; i++) {
    if (memcmp(&a[i], &b[i], sizeof a[i]))
      fail_msg("n %zu P %zu: customer %zu product %zu: %.9g solved alone, %.9g shared", n, P,
               i / P, i % P, (double)a[i], (double)b[i]);
    nonzero += a[i] != 0;
  }
  assert_true(nonzero > n * P / 2); /* the factors are not all zero */
  free(held);
  free(a);
  free(b);
  free(xa);
  free(xb);
  free(ya);
  free(yb);
}

/* Few patterns (the item half-step's per-pattern terms), many (each term
 * computed per customer), and a single product column. */
static void test_memo_exact(void **state) {
  (void)state;
  check_exact(4000, 12, 40, 0.0, 1);
  check_exact(3000, 9, 25, 0.05, 2);
  check_exact(500, 7, 200, 0.5, 3);
  check_exact(300, 20, 2, 1.0, 4);
}

/* Same pattern, same scores; a customer holding nothing scores 0. */
static void test_shared_rows(void **state) {
  (void)state;
  const size_t n = 200, P = 6;
  uint8_t *held = make_held(n, P, 5, 0.0, 9);
  float *o = malloc(n * P * sizeof *o);
  assert_non_null(o);
  assert_int_equal(tsr__nbp_als(held, n, P, 7, 1, o, NULL, NULL, NULL), TSR_OK);
  for (size_t u = 0; u < n; u++)
    for (size_t v = 0; v < u; v++)
      if (!memcmp(held + u * P, held + v * P, P)) {
        assert_memory_equal(o + u * P, o + v * P, P * sizeof *o);
        break;
      }
  free(held);
  free(o);
}

/* Every allocation may fail: ENOMEM, no leak. */
static void test_alloc_failures(void **state) {
  (void)state;
  const size_t n = 400, P = 8;
  uint8_t *held = make_held(n, P, 10, 0.02, 5);
  float *o = malloc(n * P * sizeof *o);
  assert_non_null(o);
  int ok = 0;
  for (long k = 0; k < 100 && !ok; k++) {
    tsr_error err;
    tsr__alloc_fail_after(k);
    tsr_status st = tsr__nbp_als(held, n, P, 42, 1, o, NULL, NULL, &err);
    tsr__alloc_fail_after(-1);
    if (st == TSR_OK) ok = 1;
    else assert_int_equal(st, TSR_ENOMEM);
  }
  assert_true(ok);
  free(held);
  free(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_memo_exact),
      cmocka_unit_test(test_shared_rows),
      cmocka_unit_test(test_alloc_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
