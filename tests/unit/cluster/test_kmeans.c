/* test_kmeans.c - k-means: recovery of blobs, inertia against many
 * restarts on CDNOW features, determinism, bad parameters. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cluster/cluster_internal.h"
#include "cluster_test_util.h"
#include "tessera/cluster.h"

static void blobs_recovered(void **state) {
  (void)state;
  size_t n = 3000, d = 3, k = 5;
  double *X = malloc(n * d * sizeof *X), C[5 * 3], inertia;
  int *truth = malloc(n * sizeof *truth), *lab = malloc(n * sizeof *lab);
  tu_blobs(n, d, k, 12, 7, X, truth);
  tsr_cluster_opts o;
  tsr_cluster_opts_init(&o);
  o.seed = 3;
  assert_int_equal(tsr_kmeans_fit(X, n, d, k, &o, C, lab, &inertia, NULL, NULL), TSR_OK);
  double ari;
  assert_int_equal(tsr_cluster_ari(truth, lab, n, &ari, NULL), TSR_OK);
  printf("blobs ARI %.6f inertia %.3f\n", ari, inertia);
  assert_true(ari >= 0.99);
  /* inertia close to n*d (unit variance) */
  assert_true(inertia / (double)(n * d) > 0.9 && inertia / (double)(n * d) < 1.1);
  free(X);
  free(truth);
  free(lab);
}

/* Exhaustive Lloyd (every distance, no bounds) from plain k-means++ (D^2)
 * seeding until the labels stop changing: a reference independent of the
 * library's greedy seeding and Hamerly bounds. */
static double lloyd_ref(const double *X, size_t n, size_t d, size_t k,
                        uint64_t seed) {
  double C[16 * 8], S[16 * 8], cnt[16];
  double *dist = malloc(n * sizeof *dist);
  int *lab = malloc(n * sizeof *lab);
  tu_state = seed;
  size_t first = (size_t)(tu_unif() * (double)n);
  memcpy(C, X + first * d, d * sizeof(double));
  for (size_t i = 0; i < n; i++) dist[i] = INFINITY;
  for (size_t j = 1; j <= k; j++) {
    double tot = 0;
    for (size_t i = 0; i < n; i++) {
      double s = 0;
      for (size_t t = 0; t < d; t++) s += pow(X[i * d + t] - C[(j - 1) * d + t], 2);
      if (s < dist[i]) dist[i] = s;
      tot += dist[i];
    }
    if (j == k) break;
    double u = tu_unif() * tot, c = 0;
    size_t pick = n - 1;
    for (size_t i = 0; i < n; i++) {
      c += dist[i];
      if (c >= u) {
        pick = i;
        break;
      }
    }
    memcpy(C + j * d, X + pick * d, d * sizeof(double));
  }
  for (size_t i = 0; i < n; i++) lab[i] = -1;
  double in = 0;
  for (int it = 0; it < 1000; it++) {
    memset(S, 0, sizeof S);
    memset(cnt, 0, sizeof cnt);
    in = 0;
    int changed = 0;
    for (size_t i = 0; i < n; i++) {
      double bd = INFINITY;
      size_t bj = 0;
      for (size_t j = 0; j < k; j++) {
        double s = 0;
        for (size_t t = 0; t < d; t++) s += pow(X[i * d + t] - C[j * d + t], 2);
        if (s < bd) {
          bd = s;
          bj = j;
        }
      }
      if (lab[i] != (int)bj) changed = 1;
      lab[i] = (int)bj;
      in += bd;
      cnt[bj]++;
      for (size_t t = 0; t < d; t++) S[bj * d + t] += X[i * d + t];
    }
    if (!changed) break;
    for (size_t j = 0; j < k; j++)
      for (size_t t = 0; t < d; t++)
        if (cnt[j]) C[j * d + t] = S[j * d + t] / cnt[j];
  }
  free(dist);
  free(lab);
  return in;
}

static void cdnow_inertia(void **state) {
  (void)state;
  double *f = NULL, *r = NULL, *T = NULL;
  size_t n = tu_cdnow(&f, &r, &T);
  assert_int_equal(n, 2357);
  size_t d = 3;
  double *X = malloc(n * d * sizeof *X);
  for (size_t i = 0; i < n; i++) { /* log1p then z-score */
    X[i * d] = log1p(f[i]);
    X[i * d + 1] = log1p(r[i]);
    X[i * d + 2] = log1p(T[i]);
  }
  for (size_t t = 0; t < d; t++) {
    double m = 0, v = 0;
    for (size_t i = 0; i < n; i++) m += X[i * d + t];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) v += pow(X[i * d + t] - m, 2);
    v = sqrt(v / (double)n);
    for (size_t i = 0; i < n; i++) X[i * d + t] = (X[i * d + t] - m) / v;
  }
  for (size_t k = 2; k <= 8; k++) {
    double best = INFINITY;
    for (uint64_t s = 1; s <= 10; s++) { /* best of 10 restarts */
      double v = lloyd_ref(X, n, d, k, s * 7919 + k);
      if (v < best) best = v;
    }
    double C[8 * 3], in;
    tsr_cluster_opts o;
    tsr_cluster_opts_init(&o);
    o.seed = 11;
    assert_int_equal(tsr_kmeans_fit(X, n, d, k, &o, C, NULL, &in, NULL, NULL), TSR_OK);
    printf("k=%zu tessera %.6f reference best of 10 %.6f ratio %.6f\n", k, in,
           best, in / best);
    assert_true(in <= best * 1.001);
  }
  free(X);
  free(f);
  free(r);
  free(T);
}

static void deterministic_and_threads(void **state) {
  (void)state;
  size_t n = 20000, d = 4, k = 6;
  double *X = malloc(n * d * sizeof *X), C1[24], C2[24], i1, i2;
  int *t = malloc(n * sizeof *t), *l1 = malloc(n * sizeof *l1), *l2 = malloc(n * sizeof *l2);
  tu_blobs(n, d, k, 3, 5, X, t);
  tsr_cluster_opts o;
  tsr_cluster_opts_init(&o);
  o.seed = 42;
  o.n_threads = 1;
  assert_int_equal(tsr_kmeans_fit(X, n, d, k, &o, C1, l1, &i1, NULL, NULL), TSR_OK);
  o.n_threads = 2;
  assert_int_equal(tsr_kmeans_fit(X, n, d, k, &o, C2, l2, &i2, NULL, NULL), TSR_OK);
  assert_memory_equal(C1, C2, sizeof C1);
  assert_memory_equal(l1, l2, n * sizeof *l1);
  assert_true(i1 == i2);
  free(X);
  free(t);
  free(l1);
  free(l2);
}

/* Every label is the nearest final centre (ties: the lower index) and the
 * inertia is the block-ordered sum of tsr__sqdist's values, bit for bit:
 * the distance kernel (centres by feature, four per vector, scanned in
 * chunks of 64; the Lloyd steps' AVX build where the CPU has AVX) against
 * the plain one, at d with and without a specialised
 * loop, k odd, even, above one chunk, over several blocks and batches of
 * rows; values on a coarse grid so that equal distances occur. */
static void labels_exact_nearest(void **state) {
  (void)state;
  static const size_t cases[][3] = {{9000, 4, 8}, {3001, 7, 70}, {2500, 3, 5},
                                    {1200, 2, 130}, {17000, 5, 3}, {600, 9, 1}};
  for (size_t q = 0; q < sizeof cases / sizeof *cases; q++) {
    size_t n = cases[q][0], d = cases[q][1], k = cases[q][2];
    double *X = malloc(n * d * sizeof *X), *C = malloc(k * d * sizeof *C), in;
    int *lab = malloc(n * sizeof *lab);
    uint64_t s = 777 + q;
    for (size_t i = 0; i < n * d; i++) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      double u = (double)(s >> 11) * 0x1.0p-53;
      X[i] = i % 3 ? floor(u * 6) : u * 10 + (double)(i / d % 4) * 5;
    }
    tsr_cluster_opts o;
    tsr_cluster_opts_init(&o);
    o.seed = 9 + q;
    o.n_init = 2;
    o.n_threads = (int)(q % 3) + 1;
    assert_int_equal(tsr_kmeans_fit(X, n, d, k, &o, C, lab, &in, NULL, NULL), TSR_OK);
    double tot = 0;
    for (size_t b0 = 0; b0 < n; b0 += TSR__BLOCK) {
      double bs = 0;
      for (size_t i = b0; i < n && i < b0 + TSR__BLOCK; i++) {
        size_t bj = 0;
        double bd = DBL_MAX;
        for (size_t j = 0; j < k; j++) {
          double dd = tsr__sqdist(X + i * d, C + j * d, d);
          if (dd < bd) {
            bd = dd;
            bj = j;
          }
        }
        assert_int_equal(lab[i], (int)bj);
        bs += bd;
      }
      tot += bs;
    }
    assert_memory_equal(&tot, &in, sizeof in);
    free(X);
    free(C);
    free(lab);
  }
}

/* A few bounded Lloyd steps (tsr__kmeans_polish, max_iter 4) from the first
 * k rows against plain Lloyd steps (every distance): the same moves, so the
 * same centres up to rounding; a row the bounds (tested by batches of rows)
 * fail to recompute moves a centre by about 1e-3. */
static void polish_steps_plain(void **state) {
  (void)state;
  static const size_t cases[][3] = {{9000, 4, 8}, {3001, 7, 70}, {1200, 2, 130}, {17000, 5, 3}};
  for (size_t q = 0; q < sizeof cases / sizeof *cases; q++) {
    size_t n = cases[q][0], d = cases[q][1], k = cases[q][2];
    double *X = malloc(n * d * sizeof *X), *C = malloc(k * d * sizeof *C);
    double *R = malloc(k * d * sizeof *R), *S = malloc(k * d * sizeof *S);
    double *cnt = malloc(k * sizeof *cnt);
    int *lab = malloc(n * sizeof *lab);
    uint64_t s = 4242 + q;
    for (size_t i = 0; i < n * d; i++) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      X[i] = (double)(s >> 11) * 0x1.0p-53 + (double)(i / d % 3);
    }
    memcpy(C, X, k * d * sizeof *C);
    memcpy(R, X, k * d * sizeof *R);
    assert_int_equal(tsr__kmeans_polish(X, n, d, k, (int)(q % 3) + 1, 4, C, lab), TSR_OK);
    for (int it = 0; it < 4; it++) {
      memset(S, 0, k * d * sizeof *S);
      memset(cnt, 0, k * sizeof *cnt);
      for (size_t i = 0; i < n; i++) {
        size_t bj = 0;
        double bd = DBL_MAX;
        for (size_t j = 0; j < k; j++) {
          double dd = tsr__sqdist(X + i * d, R + j * d, d);
          if (dd < bd) {
            bd = dd;
            bj = j;
          }
        }
        for (size_t t = 0; t < d; t++) S[bj * d + t] += X[i * d + t];
        cnt[bj] += 1;
      }
      for (size_t j = 0; j < k; j++) {
        assert_true(cnt[j] > 0);
        for (size_t t = 0; t < d; t++) R[j * d + t] = S[j * d + t] / cnt[j];
      }
    }
    for (size_t j = 0; j < k * d; j++) assert_true(fabs(C[j] - R[j]) < 1e-9);
    free(X);
    free(C);
    free(R);
    free(S);
    free(cnt);
    free(lab);
  }
}

/* Fits whose bits were taken from the k-means of session 17 (before the
 * vector kernels): the seeding's candidate potentials, the bounds and the
 * centre sums must keep every operation and its order. Inertia and the
 * centres' sum, printed with %a when they differ. On a CPU with AVX the
 * Lloyd steps run hm_block_avx: these bits are its check. */
#define GOLD_IN0 0x1.66ea78f820721p+16
#define GOLD_IN1 0x1.5a9c58781724p+12
#define GOLD_IN2 0x1.e267eecedc806p+18
#define GOLD_IN3 0x1.c761893b72ec6p+14
#define GOLD_CS0 0x1.4d3d2a1c7430ap+11
#define GOLD_CS1 0x1.d0f7c22258e02p+12
#define GOLD_CS2 0x1.ed209400db80bp+10
#define GOLD_CS3 0x1.d6e43cfbef87dp+20
static void fits_bit_identical(void **state) {
  (void)state;
  static const size_t cases[][4] = {{20000, 4, 8, 3}, {5003, 3, 21, 2}, {70000, 5, 5, 4},
                                    {4000, 9, 70, 1}};
  static const double want_in[] = {GOLD_IN0, GOLD_IN1, GOLD_IN2, GOLD_IN3};
  static const double want_cs[] = {GOLD_CS0, GOLD_CS1, GOLD_CS2, GOLD_CS3};
  int bad = 0;
  for (size_t q = 0; q < sizeof cases / sizeof *cases; q++) {
    size_t n = cases[q][0], d = cases[q][1], k = cases[q][2];
    double *X = malloc(n * d * sizeof *X), *C = malloc(k * d * sizeof *C), in, cs = 0;
    uint64_t s = 99 + q;
    for (size_t i = 0; i < n * d; i++) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      double u = (double)(s >> 11) * 0x1.0p-53;
      X[i] = u * u * 4 + (double)(i / d % 5) * (double)(i % d);
    }
    tsr_cluster_opts o;
    tsr_cluster_opts_init(&o);
    o.seed = 5 + q;
    o.n_init = cases[q][3];
    o.n_threads = (int)(q % 2) + 1;
    assert_int_equal(tsr_kmeans_fit(X, n, d, k, &o, C, NULL, &in, NULL, NULL), TSR_OK);
    for (size_t j = 0; j < k * d; j++) cs += C[j] * (double)(j + 1);
    if (in != want_in[q] || cs != want_cs[q]) {
      printf("case %zu: %a %a\n", q, in, cs);
      bad++;
    }
    free(X);
    free(C);
  }
  assert_int_equal(bad, 0);
}

static void duplicates_and_empty(void **state) {
  (void)state;
  /* 10 rows, only 3 distinct: k = 3 must find them exactly; k = 5 must not
   * crash (empty clusters relocated) */
  double X[10] = {0, 0, 0, 0, 5, 5, 5, 9, 9, 9}, C[5], in;
  int lab[10];
  assert_int_equal(tsr_kmeans_fit(X, 10, 1, 3, NULL, C, lab, &in, NULL, NULL), TSR_OK);
  assert_true(in == 0);
  assert_int_equal(tsr_kmeans_fit(X, 10, 1, 5, NULL, C, lab, &in, NULL, NULL), TSR_OK);
  assert_true(in == 0);
}

static void bad_params(void **state) {
  (void)state;
  double X[4] = {1, 2, 3, 4}, C[8];
  tsr_error e;
  assert_int_equal(tsr_kmeans_fit(X, 4, 1, 5, NULL, C, NULL, NULL, NULL, &e), TSR_EINVAL);
  assert_string_equal(e.msg, "expected a value in [1, 4] (rows), got 5");
  assert_int_equal(tsr_kmeans_fit(X, 4, 1, 0, NULL, C, NULL, NULL, NULL, &e), TSR_EINVAL);
}

/* The plain per-feature form of tsr__km_mean_var (one pass per feature). */
static double mean_var_plain(const double *X, size_t n, size_t d) {
  double mv = 0;
  for (size_t t = 0; t < d; t++) {
    double m = 0, v = 0;
    for (size_t i = 0; i < n; i++) m += X[i * d + t];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) {
      double z = X[i * d + t] - m;
      v += z * z;
    }
    mv += v / (double)n;
  }
  return mv;
}

/* The fused passes of the tolerance scale give the plain loop's bits, also
 * past one group of 16 features; values of mixed magnitudes so that any
 * other summation order shows. */
static void mean_var_bits(void **state) {
  (void)state;
  size_t n = 1001, dmax = 37;
  double *X = malloc(n * dmax * sizeof *X);
  uint64_t s = 12345;
  for (size_t i = 0; i < n * dmax; i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    double u = (double)(s >> 11) * 0x1.0p-53;
    X[i] = (i % 7 == 0 ? 1e9 : 1.0) * (u - 0.3) + (double)(i % 5) * 1e-7;
  }
  size_t ds[] = {1, 3, 4, 5, 16, 17, 33, 37};
  for (size_t q = 0; q < sizeof ds / sizeof *ds; q++) {
    double a = mean_var_plain(X, n, ds[q]), b = tsr__km_mean_var(X, n, ds[q]);
    assert_memory_equal(&a, &b, sizeof a);
  }
  free(X);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(blobs_recovered),
      cmocka_unit_test(cdnow_inertia),
      cmocka_unit_test(deterministic_and_threads),
      cmocka_unit_test(labels_exact_nearest),
      cmocka_unit_test(polish_steps_plain),
      cmocka_unit_test(fits_bit_identical),
      cmocka_unit_test(duplicates_and_empty),
      cmocka_unit_test(bad_params),
      cmocka_unit_test(mean_var_bits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
