/* test_rfm.c - RFM quintile scores against pandas, FM rounding, the built-in
 * schemes cell by cell, scheme files and their errors, the segment summary,
 * allocation failures. */
#include "tsr_test.h"
#include "internal.h"
#include "tessera/rfm.h"

/* Expected values computed with pandas 1.5.3:
 *   s = pd.Series(v, dtype=float)
 *   pd.qcut(s.rank(method='first'), 5, labels=[1, 2, 3, 4, 5])   (up)
 *   pd.qcut(s.rank(method='first'), 5, labels=[5, 4, 3, 2, 1])   (down) */
typedef struct qcase {
  const char *name;
  size_t n;
  double v[12];
  int up[12], down[12];
} qcase;

static const qcase qcases[] = {
    {"ties", 12, {3, 1, 3, 3, 2, 2, 5, 1, 3, 4, 4, 3},
     {2, 1, 3, 3, 1, 2, 5, 1, 4, 5, 5, 4}, {4, 5, 3, 3, 5, 4, 1, 5, 2, 1, 1, 2}},
    {"allsame", 7, {7, 7, 7, 7, 7, 7, 7}, {1, 1, 2, 3, 4, 5, 5}, {5, 5, 4, 3, 2, 1, 1}},
    {"two", 2, {5, 1}, {5, 1}, {1, 5}},
    {"three", 3, {2, 2, 2}, {1, 3, 5}, {5, 3, 1}},
    {"four", 4, {4, 3, 2, 1}, {5, 4, 2, 1}, {1, 2, 4, 5}},
    {"five", 5, {10, 20, 10, 30, 20}, {1, 3, 2, 5, 4}, {5, 3, 4, 1, 2}},
    {"float", 11, {0.5, 2.25, 0.5, 1e6, -3, 0, 0, 0, 2.25, 7.75, 0.5},
     {2, 4, 3, 5, 1, 1, 1, 2, 4, 5, 3}, {4, 2, 3, 1, 5, 5, 5, 4, 2, 1, 3}},
};

static void test_quintiles_pandas(void **state) {
  (void)state;
  for (size_t c = 0; c < TSR__ARRAY_LEN(qcases); c++) {
    const qcase *q = &qcases[c];
    int got[12];
    tsr_error e;
    assert_int_equal(tsr_rfm_quintiles(q->v, q->n, 0, got, &e), TSR_OK);
    for (size_t i = 0; i < q->n; i++)
      if (got[i] != q->up[i]) fail_msg("%s[%zu]: got %d, pandas %d", q->name, i, got[i], q->up[i]);
    assert_int_equal(tsr_rfm_quintiles(q->v, q->n, 1, got, &e), TSR_OK);
    for (size_t i = 0; i < q->n; i++)
      if (got[i] != q->down[i])
        fail_msg("%s reversed[%zu]: got %d, pandas %d", q->name, i, got[i], q->down[i]);
  }
}

/* Bin sizes for larger n follow the edges 1 + (n-1) j / 5. */
static void test_quintiles_large(void **state) {
  (void)state;
  size_t n = 100001;
  double *x = malloc(n * sizeof *x);
  int *s = malloc(n * sizeof *s);
  for (size_t i = 0; i < n; i++) x[i] = (double)((i * 7919) % 1000); /* many ties */
  assert_int_equal(tsr_rfm_quintiles(x, n, 0, s, NULL), TSR_OK);
  size_t cnt[6] = {0};
  for (size_t i = 0; i < n; i++) cnt[s[i]]++;
  /* ranks 1..20001 -> 1, 20002..40001 -> 2, ... */
  assert_int_equal(cnt[1], 20001);
  assert_int_equal(cnt[2], 20000);
  assert_int_equal(cnt[5], 20000);
  free(x);
  free(s);
}

/* The scores of a stable sort by (value, index), -0.0 equal to 0.0: the
 * reference for the counted path (few distinct values) and the radix one. */
typedef struct rk {
  double v;
  size_t i;
} rk;

static int rk_cmp(const void *a, const void *b) {
  const rk *x = a, *y = b;
  if (x->v < y->v) return -1;
  if (x->v > y->v) return 1;
  return (x->i > y->i) - (x->i < y->i);
}

static void check_against_sort(const double *x, size_t n) {
  rk *k = malloc(n * sizeof *k);
  int *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
  for (size_t i = 0; i < n; i++) k[i].v = x[i], k[i].i = i;
  qsort(k, n, sizeof *k, rk_cmp);
  for (int rev = 0; rev < 2; rev++) {
    for (size_t p = 0; p < n; p++) {
      size_t s = (5 * p + (n - 1) - 1) / (n - 1);
      if (s < 1) s = 1;
      want[k[p].i] = rev ? 6 - (int)s : (int)s;
    }
    assert_int_equal(tsr_rfm_quintiles(x, n, rev, got, NULL), TSR_OK);
    for (size_t i = 0; i < n; i++)
      if (got[i] != want[i]) fail_msg("n %zu rev %d [%zu]: got %d, want %d", n, rev, i, got[i], want[i]);
  }
  free(k);
  free(want);
  free(got);
}

/* Few distinct values (counted: ties in index order, negatives, -0.0 as
 * 0.0) and many (more than the count table holds: the rows at the score
 * boundaries selected digit by digit). */
static void test_quintiles_counted(void **state) {
  (void)state;
  size_t n = 70001;
  double *x = malloc(n * sizeof *x);
  for (size_t i = 0; i < n; i++) {
    long v = (long)((i * 2654435761u) % 5003) - 2500;
    x[i] = v == 0 ? ((i & 1) ? -0.0 : 0.0) : (double)v / 7;
  }
  check_against_sort(x, n);
  for (size_t i = 0; i < n; i++) x[i] = (i % 3) ? 0.0 : -0.0; /* one value */
  check_against_sort(x, n);
  for (size_t i = 0; i < n; i++) x[i] = (double)((i * 7919) % 3); /* 3 values */
  check_against_sort(x, n);
  for (size_t i = 0; i < n; i++) x[i] = (double)((i * 2654435761u) % 60000) * 0.01 - 17;
  check_against_sort(x, n); /* 60000 distinct: the radix order */
  for (size_t i = 0; i < n; i++) x[i] = (double)(i % 32768); /* the most counted */
  check_against_sort(x, n);
  for (size_t i = 0; i < n; i++) x[i] = (double)(i % 32769); /* one more: radix */
  check_against_sort(x, n);
  /* the rows at the score boundaries found digit by digit: values sharing
   * their top 16, 32 and 48 bits, ties across the boundaries, -0.0 */
  for (size_t i = 0; i < n; i++) x[i] = 1 + (double)((i * 7919) % 40000) * 0x1p-50;
  check_against_sort(x, n);
  for (size_t i = 0; i < n; i++) x[i] = 1 + (double)((i * 7919) % 40000) * 0x1p-30;
  check_against_sort(x, n);
  for (size_t i = 0; i < n; i++)
    x[i] = (i % 5) ? (double)(i % 2) : (double)((i * 2654435761u) % 50000) - 25000;
  check_against_sort(x, n);
  for (size_t i = 0; i < n; i++)
    x[i] = i % 4 ? ((i & 8) ? -0.0 : 0.0) : -(double)((i * 2654435761u) % 45000) * 1e-300;
  check_against_sort(x, n);
  free(x);
}

/* Many distinct values (the rows of the buckets where a score changes
 * ordered, quintiles_select): ties at a quintile edge, values spread over
 * few buckets and over many, negatives and -0.0 as 0.0; with allocation
 * failures at each step the scores are those of the sort or TSR_ENOMEM. */
static void test_quintiles_select(void **state) {
  (void)state;
  size_t n = 90001;
  double *x = malloc(n * sizeof *x);
  for (size_t i = 0; i < n; i++) /* 40 % one value across the edge of 1 and 2 */
    x[i] = (i % 5 < 2) ? 3.5 : (double)((i * 2654435761u) % 80000) * 0.001;
  check_against_sort(x, n);
  for (size_t i = 0; i < n; i++) /* one bucket: [64, 68) */
    x[i] = 64 + (double)((i * 2654435761u) % 70000) * 0.00005;
  check_against_sort(x, n);
  for (size_t i = 0; i < n; i++) { /* over many buckets, signs, zeros */
    long v = (long)((i * 2654435761u) % 200003) - 100000;
    x[i] = v == 0 ? ((i & 1) ? -0.0 : 0.0) : (double)v * (double)v * (double)v * 1e-9;
  }
  check_against_sort(x, n);
  int *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
  assert_int_equal(tsr_rfm_quintiles(x, n, 1, want, NULL), TSR_OK);
  for (long k = 0; k < 16; k++) {
    tsr__alloc_fail_after(k);
    tsr_status st = tsr_rfm_quintiles(x, n, 1, got, NULL);
    tsr__alloc_fail_after(-1);
    assert_true(st == TSR_OK || st == TSR_ENOMEM);
    if (st == TSR_OK) assert_memory_equal(got, want, n * sizeof *got);
  }
  free(want);
  free(got);
  free(x);
}

static void test_quintiles_edge(void **state) {
  (void)state;
  int out[3] = {0, 0, 0};
  double one = 42;
  assert_int_equal(tsr_rfm_quintiles(&one, 1, 0, out, NULL), TSR_OK);
  assert_int_equal(out[0], 3);
  assert_int_equal(tsr_rfm_quintiles(&one, 1, 1, out, NULL), TSR_OK);
  assert_int_equal(out[0], 3);
  assert_int_equal(tsr_rfm_quintiles(NULL, 0, 0, NULL, NULL), TSR_OK);
  double bad[3] = {1, NAN, 2};
  tsr_error e;
  assert_int_equal(tsr_rfm_quintiles(bad, 3, 0, out, &e), TSR_EINVAL);
  assert_string_equal(e.msg, "expected finite values, got nan at index 1");
  double gap[3] = {1, 2, 3}, fr[3] = {0, 1, INFINITY}, mo[3] = {1, 2, 3};
  int r[3], f[3], m[3];
  assert_int_equal(tsr_rfm_score(gap, fr, mo, 3, r, f, m, &e), TSR_EINVAL);
  assert_string_equal(e.field, "frequency");
  fr[2] = 2;
  assert_int_equal(tsr_rfm_score(gap, fr, mo, 3, r, f, m, &e), TSR_OK);
  assert_int_equal(r[0], 5); /* smallest gap */
  assert_int_equal(r[2], 1);
  assert_int_equal(f[2], 5);
  assert_int_equal(m[0], 1);
}

static void test_fm_cell(void **state) {
  (void)state;
  assert_int_equal(tsr_rfm_fm(1, 1), 1);
  assert_int_equal(tsr_rfm_fm(1, 2), 2); /* 1.5 -> 2 */
  assert_int_equal(tsr_rfm_fm(2, 3), 3); /* 2.5 -> 3 */
  assert_int_equal(tsr_rfm_fm(1, 5), 3);
  assert_int_equal(tsr_rfm_fm(4, 5), 5); /* 4.5 -> 5 */
  assert_int_equal(tsr_rfm_fm(5, 5), 5);
  char c[4];
  assert_string_equal(tsr_rfm_cell(5, 4, 5, c), "545");
}

/* The rf10 map of docs/rfm.md, rows R = 1..5, columns F = 1..5. */
static const char *const rf10_map[5][5] = {
    {"hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"},
    {"hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"},
    {"about_to_sleep", "about_to_sleep", "need_attention", "loyal_customers", "loyal_customers"},
    {"promising", "potential_loyalists", "potential_loyalists", "loyal_customers", "loyal_customers"},
    {"new_customers", "potential_loyalists", "potential_loyalists", "champions", "champions"}};

/* The rfm11 table, rows R = 1..5, columns FM = 1..5. */
static const char *const rfm11_map[5][5] = {
    {"lost", "lost", "at_risk", "cant_lose", "cant_lose"},
    {"hibernating", "hibernating", "at_risk", "cant_lose", "cant_lose"},
    {"about_to_sleep", "need_attention", "loyal_customers", "loyal_customers", "loyal_customers"},
    {"promising", "potential_loyalists", "loyal_customers", "champions", "champions"},
    {"new_customers", "potential_loyalists", "loyal_customers", "champions", "champions"}};

static void test_builtin_schemes(void **state) {
  (void)state;
  tsr_rfm_scheme *s;
  tsr_error e;
  assert_int_equal(tsr_rfm_scheme_builtin("rf10", &s, &e), TSR_OK);
  assert_string_equal(tsr_rfm_scheme_name(s), "rf10");
  assert_int_equal(tsr_rfm_scheme_nsegments(s), 10);
  assert_string_equal(tsr_rfm_scheme_segment_name(s, 0), "champions");
  assert_string_equal(tsr_rfm_scheme_segment_name(s, 9), "hibernating");
  assert_null(tsr_rfm_scheme_segment_name(s, 10));
  for (int r = 1; r <= 5; r++)
    for (int f = 1; f <= 5; f++)
      for (int m = 1; m <= 5; m++)
        assert_string_equal(tsr_rfm_segment(s, r, f, m), rf10_map[r - 1][f - 1]);
  assert_null(tsr_rfm_segment(s, 0, 1, 1));
  assert_int_equal(tsr_rfm_segment_index(s, 1, 6, 1), -1);
  tsr_rfm_scheme_free(s);

  assert_int_equal(tsr_rfm_scheme_builtin("rfm11", &s, &e), TSR_OK);
  assert_int_equal(tsr_rfm_scheme_nsegments(s), 11);
  static const char *const order[11] = {
      "champions", "loyal_customers", "cant_lose", "at_risk", "potential_loyalists",
      "new_customers", "promising", "need_attention", "about_to_sleep", "hibernating", "lost"};
  for (size_t i = 0; i < 11; i++) assert_string_equal(tsr_rfm_scheme_segment_name(s, i), order[i]);
  for (int r = 1; r <= 5; r++)
    for (int f = 1; f <= 5; f++)
      for (int m = 1; m <= 5; m++)
        assert_string_equal(tsr_rfm_segment(s, r, f, m), rfm11_map[r - 1][tsr_rfm_fm(f, m) - 1]);
  tsr_rfm_scheme_free(s);

  assert_int_equal(tsr_rfm_scheme_builtin("rf11", &s, &e), TSR_ENOTFOUND);
  assert_null(s);
  assert_string_equal(e.msg, "expected 'rf10' or 'rfm11', got 'rf11'");
  tsr_rfm_scheme_free(NULL);
}

static void test_user_scheme(void **state) {
  (void)state;
  const char *txt =
      "segment,r,f,m,fm\n"
      "whales,*,*,5,*\n"
      "fresh, 5 ,1-2,*,*\n"
      "\"big spenders\",*,*,4-5,*\n"
      "whales,1,5,*,*\n";
  tsr_rfm_scheme *s;
  tsr_error e;
  assert_int_equal(tsr_rfm_scheme_parse(txt, strlen(txt), "my.csv", &s, &e), TSR_OK);
  assert_int_equal(tsr_rfm_scheme_nsegments(s), 4);
  assert_string_equal(tsr_rfm_scheme_segment_name(s, 0), "whales");
  assert_string_equal(tsr_rfm_scheme_segment_name(s, 1), "fresh");
  assert_string_equal(tsr_rfm_scheme_segment_name(s, 2), "big spenders");
  assert_string_equal(tsr_rfm_scheme_segment_name(s, 3), "other");
  assert_string_equal(tsr_rfm_segment(s, 5, 1, 5), "whales"); /* first match wins */
  assert_string_equal(tsr_rfm_segment(s, 5, 1, 4), "fresh");
  assert_string_equal(tsr_rfm_segment(s, 3, 3, 4), "big spenders");
  assert_string_equal(tsr_rfm_segment(s, 1, 5, 1), "whales");
  assert_string_equal(tsr_rfm_segment(s, 3, 3, 3), "other");
  tsr_rfm_scheme_free(s);

  /* a scheme covering everything has no "other"; an explicit one is reused */
  const char *all = "segment,r,f,m,fm\nother,1,*,*,*\neveryone,*,*,*,*\n";
  assert_int_equal(tsr_rfm_scheme_parse(all, strlen(all), "all.csv", &s, &e), TSR_OK);
  assert_int_equal(tsr_rfm_scheme_nsegments(s), 2);
  tsr_rfm_scheme_free(s);
  const char *part = "segment,r,f,m,fm\nother,1,*,*,*\nx,2,*,*,*\n";
  assert_int_equal(tsr_rfm_scheme_parse(part, strlen(part), "p.csv", &s, &e), TSR_OK);
  assert_int_equal(tsr_rfm_scheme_nsegments(s), 2);
  assert_string_equal(tsr_rfm_segment(s, 5, 5, 5), "other");
  tsr_rfm_scheme_free(s);
}

static void expect_scheme_error(const char *txt, tsr_status code, const char *want) {
  tsr_rfm_scheme *s = (tsr_rfm_scheme *)1;
  tsr_error e;
  char buf[512];
  tsr_status st = tsr_rfm_scheme_parse(txt, strlen(txt), "s.csv", &s, &e);
  if (st != code) fail_msg("status %d, expected %d for:\n%s", st, code, txt);
  assert_null(s);
  assert_string_equal(tsr_error_format(&e, buf, sizeof buf), want);
}

static void test_scheme_errors(void **state) {
  (void)state;
  expect_scheme_error("segment,r,f,m\nx,1,1,1\n", TSR_EPARSE,
                      "s.csv:1:1: error: header: expected 'segment,r,f,m,fm', got 'segment,r,f,m'");
  expect_scheme_error("segment,r,f,m,fm\nx,1,6,*,*\n", TSR_EPARSE,
                      "s.csv:2:5: error: f: expected '*', 'a' or 'a-b' with 1 <= a <= b <= 5, got '6'");
  expect_scheme_error("segment,r,f,m,fm\nx,1,1,*,*\ny,*,*,4-2,*\n", TSR_EPARSE,
                      "s.csv:3:7: error: m: expected '*', 'a' or 'a-b' with 1 <= a <= b <= 5, got '4-2'");
  expect_scheme_error("segment,r,f,m,fm\nx,1,1,*\n", TSR_EPARSE,
                      "s.csv:2:1: error: expected 5 fields (segment,r,f,m,fm), got 4");
  expect_scheme_error("segment,r,f,m,fm\n,1,1,*,*\n", TSR_EPARSE,
                      "s.csv:2:1: error: segment: expected a name of 1 to 64 bytes without "
                      "commas, quotes or control characters, got ''");
  expect_scheme_error("segment,r,f,m,fm\n", TSR_EPARSE,
                      "s.csv: error: expected a header 'segment,r,f,m,fm' and at least one rule");
  expect_scheme_error("", TSR_EPARSE,
                      "s.csv: error: expected a header 'segment,r,f,m,fm' and at least one rule");
}

static void test_scheme_read(void **state) {
  (void)state;
  char path[64];
  const char *txt = "segment,r,f,m,fm\r\ngood,4-5,*,*,*\r\n";
  tsr_test_tmpfile(txt, strlen(txt), path, sizeof path);
  tsr_rfm_scheme *s;
  tsr_error e;
  assert_int_equal(tsr_rfm_scheme_read(path, &s, &e), TSR_OK);
  assert_string_equal(tsr_rfm_scheme_name(s), path);
  assert_string_equal(tsr_rfm_segment(s, 4, 1, 1), "good");
  assert_string_equal(tsr_rfm_segment(s, 3, 1, 1), "other");
  tsr_rfm_scheme_free(s);
  unlink(path);
  assert_int_not_equal(tsr_rfm_scheme_read("/nonexistent/scheme.csv", &s, &e), TSR_OK);
  assert_null(s);
}

static void test_summary(void **state) {
  (void)state;
  tsr_rfm_scheme *s;
  assert_int_equal(tsr_rfm_scheme_builtin("rf10", &s, NULL), TSR_OK);
  /* champions x2, hibernating x1, new_customers x1 */
  int r[4] = {5, 5, 1, 5}, f[4] = {5, 4, 1, 1}, m[4] = {5, 3, 2, 1};
  double rev[4] = {100, 50, 10, 40};
  tsr_rfm_segment_stats st[10];
  tsr_error e;
  assert_int_equal(tsr_rfm_segment_summary(s, r, f, m, rev, 4, st, &e), TSR_OK);
  assert_string_equal(st[0].segment, "champions");
  assert_int_equal(st[0].customers, 2);
  assert_near(st[0].share, 0.5, 1e-15);
  assert_near(st[0].mean_r, 5, 1e-15);
  assert_near(st[0].mean_f, 4.5, 1e-15);
  assert_near(st[0].mean_m, 4, 1e-15);
  assert_near(st[0].revenue, 150, 1e-12);
  assert_near(st[0].revenue_share, 0.75, 1e-15);
  assert_string_equal(st[3].segment, "new_customers");
  assert_int_equal(st[3].customers, 1);
  assert_near(st[3].revenue_share, 0.2, 1e-15);
  assert_string_equal(st[1].segment, "loyal_customers");
  assert_int_equal(st[1].customers, 0);
  assert_near(st[1].mean_r, 0, 0);
  assert_near(st[1].share, 0, 0);
  assert_int_equal(tsr_rfm_segment_summary(s, r, f, m, NULL, 4, st, &e), TSR_OK);
  assert_near(st[0].revenue_share, 0, 0);
  r[2] = 0;
  assert_int_equal(tsr_rfm_segment_summary(s, r, f, m, rev, 4, st, &e), TSR_EINVAL);
  assert_string_equal(e.msg, "expected scores in 1..5, got 0,1,2 at index 2");
  assert_int_equal(tsr_rfm_segment_summary(s, NULL, NULL, NULL, NULL, 0, st, &e), TSR_OK);
  assert_int_equal(st[0].customers, 0);
  tsr_rfm_scheme_free(s);
}

static void test_alloc_failures(void **state) {
  (void)state;
  int ok = 0;
  for (long k = 0; k < 500 && !ok; k++) {
    tsr_rfm_scheme *s = NULL;
    tsr__alloc_fail_after(k);
    tsr_status st = tsr_rfm_scheme_builtin("rfm11", &s, NULL);
    tsr__alloc_fail_after(-1);
    assert_true(st == TSR_OK || st == TSR_ENOMEM);
    if (st == TSR_OK) ok = 1;
    tsr_rfm_scheme_free(s);
  }
  assert_true(ok);
  double x[5] = {1, 2, 3, 4, 5};
  int out[5];
  tsr__alloc_fail_after(0);
  assert_int_equal(tsr_rfm_quintiles(x, 5, 0, out, NULL), TSR_ENOMEM);
  tsr__alloc_fail_after(-1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quintiles_pandas),  cmocka_unit_test(test_quintiles_large),
      cmocka_unit_test(test_quintiles_counted), cmocka_unit_test(test_quintiles_select),
      cmocka_unit_test(test_quintiles_edge),    cmocka_unit_test(test_fm_cell),
      cmocka_unit_test(test_builtin_schemes),   cmocka_unit_test(test_user_scheme),
      cmocka_unit_test(test_scheme_errors),     cmocka_unit_test(test_scheme_read),
      cmocka_unit_test(test_summary),           cmocka_unit_test(test_alloc_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
