/* test_features.c - feature transforms: log1p, robust standardisation
 * (median / IQR, numpy's linear quantiles), fallbacks, domain errors, and
 * the transform stored in the model reapplied to new rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_internal.h"
#include "cluster_test_util.h"

/* tsr__features_fit on arrays */
static tsr_status fit_arr(tsr__feature *f, size_t d, unsigned t, const double *const *cols,
                          size_t n, double *Z, tsr_error *e) {
  tsr__col c[8];
  for (size_t j = 0; j < d && j < 8; j++) c[j] = tsr__col_of(cols[j]);
  return tsr__features_fit(f, d, t, c, n, Z, e);
}

/* The clustering on columns read in place from an array of structs (as
 * 'tessera analyze' reads the summary's rows, issue 18): the result of
 * tsr_cluster_run on copies of the columns, bit for bit (features,
 * cluster ids, profiles and labels). */
typedef struct in_row {
  const char *id;
  double frequency, recency;
  int64_t pad;
  double monetary_value, T, revenue;
} in_row;

static void columns_in_place(void **state) {
  (void)state;
  size_t n = 3000;
  in_row *rw = calloc(n, sizeof *rw);
  double *cp[5];
  for (size_t c = 0; c < 5; c++) cp[c] = calloc(n, sizeof(double));
  assert_non_null(rw);
  tu_state = 7;
  for (size_t i = 0; i < n; i++) {
    double g = (double)(i % 3);
    rw[i].frequency = floor(g * 4 + 3 * tu_unif());
    rw[i].T = 20 + 80 * tu_unif();
    rw[i].recency = rw[i].T * tu_unif() * (g + 1) / 3;
    rw[i].monetary_value = 10 + 50 * g + 20 * tu_unif() * tu_unif();
    rw[i].revenue = rw[i].monetary_value * (rw[i].frequency + 1);
    rw[i].pad = -1;
    cp[0][i] = rw[i].frequency, cp[1][i] = rw[i].recency, cp[2][i] = rw[i].monetary_value;
    cp[3][i] = rw[i].T, cp[4][i] = rw[i].revenue;
  }
  const char *names[5] = {"frequency", "recency", "monetary_value", "T", "revenue"};
  size_t off[5] = {offsetof(in_row, frequency), offsetof(in_row, recency),
                   offsetof(in_row, monetary_value), offsetof(in_row, T),
                   offsetof(in_row, revenue)};
  tsr__col cols[5];
  for (size_t c = 0; c < 5; c++) {
    cols[c].base = (const char *)rw + off[c];
    cols[c].stride = sizeof *rw;
  }
  for (int auto_k = 0; auto_k < 2; auto_k++) {
    tsr_cluster_opts o;
    tsr_cluster_opts_init(&o);
    o.seed = 3;
    o.k = auto_k ? 0 : 3;
    tsr_cluster_result *a = NULL, *b = NULL;
    assert_int_equal(tsr_cluster_run(&o, (const double *const *)cp, names, n, 5, NULL, &a, NULL),
                     TSR_OK);
    assert_int_equal(tsr__cluster_run_cols(&o, cols, names, n, 5, NULL, &b, NULL), TSR_OK);
    assert_int_equal(a->k, b->k);
    assert_memory_equal(a->labels, b->labels, n * sizeof *a->labels);
    assert_memory_equal(&a->inertia, &b->inertia, sizeof a->inertia);
    assert_memory_equal(&a->silhouette, &b->silhouette, sizeof a->silhouette);
    for (size_t j = 0; j < a->k; j++) {
      const tsr_cluster_profile *p = &a->profiles[j], *q = &b->profiles[j];
      assert_int_equal(p->size, q->size);
      assert_memory_equal(p->centroid, q->centroid, a->nfeatures * sizeof *p->centroid);
      assert_memory_equal(&p->mean_monetary, &q->mean_monetary, sizeof p->mean_monetary);
      assert_memory_equal(&p->revenue_share, &q->revenue_share, sizeof p->revenue_share);
      assert_string_equal(p->label, q->label);
    }
    /* not the copies' values: another column read (recency for T) differs */
    tsr__col wrong[5] = {cols[0], cols[1], cols[2], cols[1], cols[4]};
    tsr_cluster_result *w = NULL;
    assert_int_equal(tsr__cluster_run_cols(&o, wrong, names, n, 5, NULL, &w, NULL), TSR_OK);
    int same = w->k == a->k && !memcmp(w->labels, a->labels, n * sizeof *a->labels);
    for (size_t j = 0; same && j < a->k; j++)
      same = !memcmp(w->profiles[j].centroid, a->profiles[j].centroid,
                     a->nfeatures * sizeof(double));
    assert_false(same);
    tsr_cluster_result_free(w);
    tsr_cluster_result_free(a);
    tsr_cluster_result_free(b);
  }
  for (size_t c = 0; c < 5; c++) free(cp[c]);
  free(rw);
}

static void quantiles_like_numpy(void **state) {
  (void)state;
  double v[] = {1, 2, 3, 4, 10};
  /* numpy.quantile([1,2,3,4,10], [.25,.5,.75]) = 2, 3, 4 */
  assert_true(tsr__quantile_sorted(v, 5, 0.25) == 2);
  assert_true(tsr__quantile_sorted(v, 5, 0.5) == 3);
  assert_true(tsr__quantile_sorted(v, 5, 0.75) == 4);
  double w[] = {1, 2, 3, 4};
  /* numpy: 1.75, 2.5, 3.25 */
  assert_true(fabs(tsr__quantile_sorted(w, 4, 0.25) - 1.75) < 1e-15);
  assert_true(fabs(tsr__quantile_sorted(w, 4, 0.75) - 3.25) < 1e-15);
}

static void robust_standardisation(void **state) {
  (void)state;
  double a[] = {1, 2, 3, 4, 10}, b[] = {5, 5, 5, 5, 5}, c[] = {0, 0, 0, 0, 8};
  const double *cols[] = {a, b, c};
  tsr__feature f[3] = {{"a", 0, 0, 0}, {"b", 0, 0, 0}, {"c", 0, 0, 0}};
  double Z[15];
  assert_int_equal(fit_arr(f, 3, TSR_XFORM_STANDARDIZE, cols, 5, Z, NULL), TSR_OK);
  assert_true(f[0].center == 3 && f[0].scale == 2); /* median 3, IQR 4-2 */
  assert_true(Z[4 * 3] == 3.5);                      /* (10-3)/2 */
  assert_true(f[1].center == 5 && f[1].scale == 1);  /* constant: scale 1 */
  /* IQR 0: falls back to the sample standard deviation sqrt(12.8) */
  assert_true(f[2].center == 0 && fabs(f[2].scale - sqrt(12.8)) < 1e-12);
  /* log1p then standardise */
  assert_int_equal(fit_arr(f, 1, TSR_XFORM_LOG1P | TSR_XFORM_STANDARDIZE, cols, 5, Z, NULL), TSR_OK);
  assert_true(f[0].log1p == 1);
  assert_true(fabs(f[0].center - log1p(3)) < 1e-15);
  assert_true(fabs(f[0].scale - (log1p(4) - log1p(2))) < 1e-15);
  assert_true(fabs(Z[0] - (log1p(1) - log1p(3)) / (log1p(4) - log1p(2))) < 1e-15);
  /* none: identity */
  assert_int_equal(fit_arr(f, 1, TSR_XFORM_NONE, cols, 5, Z, NULL), TSR_OK);
  assert_true(Z[0] == 1 && Z[4] == 10);
}

static void apply_new_rows(void **state) {
  (void)state;
  double a[] = {1, 2, 3, 4, 10}, z[5];
  const double *cols[] = {a};
  tsr__feature f[1] = {{"a", 0, 0, 0}};
  fit_arr(f, 1, TSR_XFORM_LOG1P | TSR_XFORM_STANDARDIZE, cols, 5, z, NULL);
  double nw[] = {3, 100}, out[2];
  const double *nc[] = {nw};
  assert_int_equal(tsr__features_apply(f, 1, nc, 2, out, NULL), TSR_OK);
  assert_true(out[0] == 0); /* the training median maps to 0 */
  assert_true(fabs(out[1] - (log1p(100) - log1p(3)) / f[0].scale) < 1e-15);
}

static void domain_errors(void **state) {
  (void)state;
  double a[] = {1, 2, -1, 4};
  const double *cols[] = {a};
  tsr__feature f[1] = {{"frequency", 0, 0, 0}};
  double Z[4];
  tsr_error e;
  assert_int_equal(fit_arr(f, 1, TSR_XFORM_LOG1P, cols, 4, Z, &e), TSR_ERANGE);
  assert_int_equal(e.line, 3);
  assert_string_equal(e.field, "frequency");
  assert_string_equal(e.msg, "log1p needs values > -1, got -1");
  double b[] = {1, NAN};
  const double *cb[] = {b};
  assert_int_equal(fit_arr(f, 1, TSR_XFORM_STANDARDIZE, cb, 2, Z, &e), TSR_ERANGE);
  assert_int_equal(e.line, 2);
  /* negative values are fine without log1p */
  assert_int_equal(fit_arr(f, 1, TSR_XFORM_STANDARDIZE, cols, 4, Z, NULL), TSR_OK);
}

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Selection gives exactly the quantiles of the sorted values: random data
 * with and without ties, sorted, reversed, constant and organ-pipe inputs,
 * sizes around the insertion-sort cut. */
static void quantiles_by_selection(void **state) {
  (void)state;
  static const size_t sizes[] = {1, 2, 3, 16, 17, 18, 33, 100, 1001, 20000};
  static const double qs[] = {0, 0.25, 0.5, 0.75, 1, 0.1, 0.999};
  uint64_t x = 88172645463325252ull;
  for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
    size_t n = sizes[si];
    double *v = malloc(n * sizeof *v), *w = malloc(n * sizeof *w), *s = malloc(n * sizeof *s);
    for (int kind = 0; kind < 6; kind++) {
      for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double r = (double)(x >> 11) * 0x1p-53;
        v[i] = kind == 0   ? r
               : kind == 1 ? floor(r * 5)             /* many ties */
               : kind == 2 ? (double)i                /* sorted */
               : kind == 3 ? (double)(n - i)          /* reversed */
               : kind == 4 ? 7.25                     /* constant */
                           : (double)(i < n / 2 ? i : n - i); /* organ pipe */
      }
      memcpy(s, v, n * sizeof *s);
      qsort(s, n, sizeof *s, cmp_dbl);
      for (size_t qi = 0; qi < sizeof qs / sizeof *qs; qi++) {
        memcpy(w, v, n * sizeof *w);
        double want = tsr__quantile_sorted(s, n, qs[qi]);
        double got = tsr__quantile_select(w, n, qs[qi]);
        if (got != want) fail_msg("n %zu kind %d q %g: %.17g != %.17g", n, kind, qs[qi], got, want);
        qsort(w, n, sizeof *w, cmp_dbl); /* a permutation of the input */
        assert_memory_equal(w, s, n * sizeof *w);
      }
    }
    free(v);
    free(w);
    free(s);
  }
  assert_true(isnan(tsr__quantile_select(NULL, 0, 0.5)));
}

/* Many rows (the log1p memo on): Z is (log1p(x) - center) / scale bit for
 * bit, for repeated values (memo hits, one colliding pair included) and
 * continuous ones (the memo turns itself off), and tsr__features_apply
 * gives the same bits. */
static void memo_same_bits(void **state) {
  (void)state;
  size_t n = 100000, d = 3;
  double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
  double *Z = malloc(n * d * sizeof *Z), *Z2 = malloc(n * d * sizeof *Z2);
  for (size_t i = 0; i < n; i++) {
    a[i] = (double)((i * 7919) % 700) / 7; /* days / 7 */
    b[i] = 1.0 + (double)i * 1e-3 + (double)(i % 13) * 0.37; /* all distinct */
    c[i] = (i % 5000 < 2500) ? (double)(i % 97) : (double)(i % 4099) * 0.5;
  }
  const double *cols[3] = {a, b, c};
  tsr__feature f[3];
  memset(f, 0, sizeof f);
  assert_int_equal(fit_arr(f, d, TSR_XFORM_LOG1P | TSR_XFORM_STANDARDIZE, cols, n, Z,
                                     NULL), TSR_OK);
  for (size_t j = 0; j < d; j++)
    for (size_t i = 0; i < n; i++) {
      double want = (log1p(cols[j][i]) - f[j].center) / f[j].scale;
      if (memcmp(&want, &Z[i * d + j], sizeof want))
        fail_msg("col %zu row %zu: %.17g, want %.17g", j, i, Z[i * d + j], want);
    }
  assert_int_equal(tsr__features_apply(f, d, cols, n, Z2, NULL), TSR_OK);
  assert_memory_equal(Z, Z2, n * d * sizeof *Z);
  /* log1p without standardising: the log1p values themselves */
  assert_int_equal(fit_arr(f, d, TSR_XFORM_LOG1P, cols, n, Z, NULL), TSR_OK);
  for (size_t i = 0; i < n; i++) {
    double want = log1p(a[i]);
    assert_memory_equal(&want, &Z[i * d], sizeof want);
  }
  free(a), free(b), free(c), free(Z), free(Z2);
}

/* The fit's median and IQR (the quartiles selected in the median's halves)
 * are those of the sorted values, for small and larger n, with ties. */
static void fit_quartiles_sorted(void **state) {
  (void)state;
  static const size_t ns[] = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 17, 64, 1001, 4096};
  uint64_t r = 12345;
  for (size_t c = 0; c < sizeof ns / sizeof *ns; c++)
    for (int ties = 0; ties < 2; ties++) {
      size_t n = ns[c];
      double *v = malloc(n * sizeof *v), *srt = malloc(n * sizeof *srt), *Z = malloc(n * sizeof *Z);
      for (size_t i = 0; i < n; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = ties ? (double)((r >> 33) % 7) : (double)(r >> 11) * 0x1p-53 * 100 - 50;
      }
      memcpy(srt, v, n * sizeof *v);
      qsort(srt, n, sizeof *srt, cmp_dbl);
      const double *cols[1] = {v};
      tsr__feature f[1];
      memset(f, 0, sizeof f);
      assert_int_equal(fit_arr(f, 1, TSR_XFORM_STANDARDIZE, cols, n, Z, NULL), TSR_OK);
      double med = tsr__quantile_sorted(srt, n, 0.5);
      double iqr = tsr__quantile_sorted(srt, n, 0.75) - tsr__quantile_sorted(srt, n, 0.25);
      assert_memory_equal(&f[0].center, &med, sizeof med);
      if (iqr > 0) assert_memory_equal(&f[0].scale, &iqr, sizeof iqr);
      free(v), free(srt), free(Z);
    }
}

/* Columns of few distinct values (the quartiles counted) and of just more
 * than the counting's 4096 (selected), long columns of ties, one row: the
 * centre and IQR of the sorted column, bit for bit. */
static void fit_quartiles_counted(void **state) {
  (void)state;
  static const size_t ns[] = {1, 2, 9, 40000, 40001, 9000, 9000, 9000};
  static const size_t nd[] = {1, 1, 2, 3, 50, 4096, 4097, 6000};
  uint64_t r = 777;
  for (size_t c = 0; c < sizeof ns / sizeof *ns; c++) {
    size_t n = ns[c];
    double *v = malloc(n * sizeof *v), *srt = malloc(n * sizeof *srt), *Z = malloc(n * sizeof *Z);
    for (size_t i = 0; i < n; i++) {
      r = r * 6364136223846793005ull + 1442695040888963407ull;
      /* distinct values spread unevenly (squares), every one used once */
      size_t q = i < nd[c] ? i : (size_t)((r >> 33) % nd[c]);
      v[i] = (double)(q * q) * 0.37 - 11;
    }
    memcpy(srt, v, n * sizeof *v);
    qsort(srt, n, sizeof *srt, cmp_dbl);
    const double *cols[1] = {v};
    tsr__feature f[1];
    memset(f, 0, sizeof f);
    assert_int_equal(fit_arr(f, 1, TSR_XFORM_STANDARDIZE, cols, n, Z, NULL), TSR_OK);
    double med = tsr__quantile_sorted(srt, n, 0.5);
    double iqr = tsr__quantile_sorted(srt, n, 0.75) - tsr__quantile_sorted(srt, n, 0.25);
    assert_memory_equal(&f[0].center, &med, sizeof med);
    if (iqr > 0) assert_memory_equal(&f[0].scale, &iqr, sizeof iqr);
    free(v), free(srt), free(Z);
  }
}

/* The one pass over the rows of the fit (up to 8 features) against the
 * column-by-column path (9 features; the same columns again): the same
 * centres, scales and Z bit for bit, on rows of a struct; a rejected value
 * is reported for the first column that has one (not the first row). */
static void fit_one_pass(void **state) {
  (void)state;
  size_t n = 40000; /* the log1p memo on */
  double *v = malloc(n * 9 * sizeof *v), *Z = malloc(n * 9 * sizeof *Z),
         *Z9 = malloc(n * 9 * sizeof *Z9);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < 9; j++)
      v[i * 9 + j] = j % 2 ? (double)((i * 7919 + j) % 700) / 7
                           : 0.5 + (double)(i % 977) * 0.01 * (double)(j + 1);
  tsr__col c[9];
  for (size_t j = 0; j < 9; j++) c[j] = (tsr__col){(const char *)(v + j), 9 * sizeof(double)};
  unsigned t = TSR_XFORM_LOG1P | TSR_XFORM_STANDARDIZE;
  tsr__feature f4[4], f9[9];
  memset(f4, 0, sizeof f4);
  memset(f9, 0, sizeof f9);
  assert_int_equal(tsr__features_fit(f4, 4, t, c, n, Z, NULL), TSR_OK);
  assert_int_equal(tsr__features_fit(f9, 9, t, c, n, Z9, NULL), TSR_OK);
  for (size_t j = 0; j < 4; j++) {
    assert_memory_equal(&f4[j].center, &f9[j].center, sizeof(double));
    assert_memory_equal(&f4[j].scale, &f9[j].scale, sizeof(double));
    for (size_t i = 0; i < n; i++)
      assert_memory_equal(&Z[i * 4 + j], &Z9[i * 9 + j], sizeof(double));
  }
  /* bad values: column 2 at row 11, column 1 at row 301 */
  v[10 * 9 + 2] = -2;
  v[300 * 9 + 1] = NAN;
  tsr_error e;
  assert_int_equal(tsr__features_fit(f4, 4, t, c, n, Z, &e), TSR_ERANGE);
  assert_int_equal(e.line, 301);
  v[300 * 9 + 1] = 1;
  assert_int_equal(tsr__features_fit(f4, 4, t, c, n, Z, &e), TSR_ERANGE);
  assert_int_equal(e.line, 11);
  assert_string_equal(e.msg, "log1p needs values > -1, got -2");
  free(v), free(Z), free(Z9);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(quantiles_like_numpy),
      cmocka_unit_test(quantiles_by_selection),
      cmocka_unit_test(robust_standardisation),
      cmocka_unit_test(apply_new_rows),
      cmocka_unit_test(domain_errors),
      cmocka_unit_test(memo_same_bits),
      cmocka_unit_test(fit_quartiles_sorted),
      cmocka_unit_test(fit_quartiles_counted),
      cmocka_unit_test(columns_in_place),
      cmocka_unit_test(fit_one_pass),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
