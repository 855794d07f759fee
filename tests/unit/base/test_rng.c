/* test_rng.c - xoshiro256** draws: reference values, moments of every
 * distribution within 5 standard errors, determinism. */
#include "tsr_test.h"
#include "tessera/rng.h"

#define N 200000

/* Mean and variance of n draws of f. */
#define MOMENTS(expr, n, mean_out, var_out)             \
  do {                                                  \
    double s_ = 0, ss_ = 0;                             \
    for (int i_ = 0; i_ < (n); i_++) {                  \
      double x_ = (expr);                               \
      s_ += x_;                                         \
      ss_ += x_ * x_;                                   \
    }                                                   \
    (mean_out) = s_ / (n);                              \
    (var_out) = ss_ / (n) - (mean_out) * (mean_out);    \
  } while (0)

static void check(double mean, double var, double emean, double evar) {
  double se = sqrt(evar / N);
  assert_near(mean, emean, 5 * se);
  /* variance: loose relative check */
  assert_near(var, evar, 0.05 * evar);
}

static void test_xoshiro_reference(void **state) {
  (void)state;
  /* Reference output of xoshiro256starstar.c for s = {1, 2, 3, 4}. */
  tsr_rng g = {{1, 2, 3, 4}};
  assert_int_equal(tsr_rng_next(&g), 11520ULL);
  assert_int_equal(tsr_rng_next(&g), 0ULL);
  assert_int_equal(tsr_rng_next(&g), 1509978240ULL);
  assert_int_equal(tsr_rng_next(&g), 1215971899390074240ULL);
}

static void test_seed_streams(void **state) {
  (void)state;
  tsr_rng a, b, c;
  tsr_rng_seed(&a, 7, 0);
  tsr_rng_seed(&b, 7, 0);
  tsr_rng_seed(&c, 7, 1);
  for (int i = 0; i < 100; i++) {
    uint64_t x = tsr_rng_next(&a);
    assert_int_equal(x, tsr_rng_next(&b));
    assert_true(x != tsr_rng_next(&c));
  }
}

static void test_uniform_bounded(void **state) {
  (void)state;
  tsr_rng g;
  tsr_rng_seed(&g, 1, 0);
  double m, v;
  MOMENTS(tsr_rng_uniform(&g), N, m, v);
  check(m, v, 0.5, 1.0 / 12);
  for (int i = 0; i < 1000; i++) {
    double u = tsr_rng_uniform_pos(&g);
    assert_true(u > 0 && u < 1);
    assert_true(tsr_rng_bounded(&g, 7) < 7);
  }
  assert_int_equal(tsr_rng_bounded(&g, 0), 0);
  MOMENTS((double)tsr_rng_bounded(&g, 10), N, m, v);
  check(m, v, 4.5, 8.25);
}

static void test_normal_exponential(void **state) {
  (void)state;
  tsr_rng g;
  tsr_rng_seed(&g, 2, 0);
  double m, v;
  MOMENTS(tsr_rng_normal(&g), N, m, v);
  check(m, v, 0, 1);
  MOMENTS(tsr_rng_exponential(&g, 2.0), N, m, v);
  check(m, v, 0.5, 0.25);
  assert_true(isnan(tsr_rng_exponential(&g, 0)));
}

static void test_gamma_beta(void **state) {
  (void)state;
  tsr_rng g;
  tsr_rng_seed(&g, 3, 0);
  double m, v;
  /* shape/rate: mean a/r, variance a/r^2 */
  MOMENTS(tsr_rng_gamma(&g, 0.75, 4.0), N, m, v);
  check(m, v, 0.75 / 4, 0.75 / 16);
  MOMENTS(tsr_rng_gamma(&g, 6.0, 0.2), N, m, v);
  check(m, v, 30, 150);
  MOMENTS(tsr_rng_gamma(&g, 0.1, 1.0), N, m, v);
  check(m, v, 0.1, 0.1);
  double a = 0.8, b = 2.5;
  MOMENTS(tsr_rng_beta(&g, a, b), N, m, v);
  check(m, v, a / (a + b), a * b / ((a + b) * (a + b) * (a + b + 1)));
  assert_true(isnan(tsr_rng_gamma(&g, -1, 1)));
  assert_true(isnan(tsr_rng_beta(&g, 1, 0)));
}

static void test_poisson(void **state) {
  (void)state;
  tsr_rng g;
  tsr_rng_seed(&g, 4, 0);
  double m, v;
  MOMENTS((double)tsr_rng_poisson(&g, 3.5), N, m, v);
  check(m, v, 3.5, 3.5);
  MOMENTS((double)tsr_rng_poisson(&g, 250.0), N, m, v);
  check(m, v, 250, 250);
  assert_int_equal(tsr_rng_poisson(&g, 0), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_xoshiro_reference), cmocka_unit_test(test_seed_streams),
      cmocka_unit_test(test_uniform_bounded),   cmocka_unit_test(test_normal_exponential),
      cmocka_unit_test(test_gamma_beta),        cmocka_unit_test(test_poisson),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
