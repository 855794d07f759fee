/* test_textout.c - the one CSV field writer, the one shortest-double form
 * and the one column resolver (tessera/csv.h). */
#include "tsr_test.h"
#include "tessera/csv.h"
#include "internal.h"
#include "base/fmtmemo.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *quoted(const char *s, unsigned flags, char *buf) {
  buf[tsr_csv_quote(buf, s, flags)] = '\0';
  return buf;
}

static void csv_field(void **state) {
  (void)state;
  char b[64];
  assert_string_equal(quoted("plain", 0, b), "plain");
  assert_string_equal(quoted("a,b", 0, b), "\"a,b\"");
  assert_string_equal(quoted("say \"hi\"", 0, b), "\"say \"\"hi\"\"\"");
  assert_string_equal(quoted("two\nlines", 0, b), "\"two\nlines\"");
  assert_string_equal(quoted("cr\r", 0, b), "\"cr\r\"");
  assert_string_equal(quoted("", 0, b), "");
  assert_string_equal(quoted(NULL, 0, b), "");
  assert_string_equal(quoted("=1+2", 0, b), "=1+2");
  assert_string_equal(quoted("=1+2", TSR_CSV_FORMULA_GUARD, b), "\"'=1+2\"");
  assert_string_equal(quoted("-3,\"x\"", TSR_CSV_FORMULA_GUARD, b), "\"'-3,\"\"x\"\"\"");
  assert_string_equal(quoted("a=b", TSR_CSV_FORMULA_GUARD, b), "a=b");
  /* the FILE writer writes the same bytes */
  char *mem = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&mem, &len);
  tsr_csv_put_field(f, "say \"hi\", x");
  fputc('|', f);
  tsr_csv_put_field(f, "ok");
  tsr_csv_put_field(f, NULL);
  fclose(f);
  assert_string_equal(mem, "\"say \"\"hi\"\", x\"|ok");
  free(mem);
}

static void shortest_double(void **state) {
  (void)state;
  char b[TSR_DOUBLE_BUF];
  assert_string_equal(tsr_format_double(0.1, b), "0.1");
  assert_string_equal(tsr_format_double(12, b), "12");
  assert_string_equal(tsr_format_double(-2.5, b), "-2.5");
  assert_string_equal(tsr_format_double(1.0 / 3, b), "0.3333333333333333");
  assert_string_equal(tsr_format_double(1e20, b), "1e+20");
  assert_string_equal(tsr_format_double(297351.9900000005, b), "297351.9900000005");
  /* every printed value reads back exactly */
  double v = 1.2345e-7;
  for (int i = 0; i < 2000; i++, v *= 1.0137) {
    tsr_format_double(v, b);
    assert_true(strtod(b, NULL) == v);
  }
}

/* The reference form: the first of %.15g, %.16g, %.17g that reads back. */
static void reference_double(double d, char *r) {
  for (int p = 15; p <= 17; p++) {
    snprintf(r, 32, "%.*g", p, d);
    if (p == 17 || strtod(r, NULL) == d) break;
  }
}

/* The fast paths (short decimals, 16 digits >= 2^53 such as 9.33..., the
 * exact integer path below 1e-4, ties) give the reference's bytes. */
static void shortest_double_reference(void **state) {
  (void)state;
  char b[TSR_DOUBLE_BUF], r[32];
  const double fixed[] = {90.142857142857139, 0.94282126241733266, 9.3324763439994722,
                          97.320000000000007, 9.0054790798411415e-15, 3.8118357802227647e-13,
                          1.5e-5, 1e-4, 9.99999999999999e-5, 0.125, 2.675, 1e15 - 0.5};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
    reference_double(fixed[i], r);
    assert_string_equal(tsr_format_double(fixed[i], b), r);
  }
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 200000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    double u = (double)(x >> 11) * 0x1.0p-53, d;
    switch (i % 4) {
      case 0: d = pow(10, -13 + 10 * u); break;          /* small */
      case 1: d = pow(10, -5 + 21 * u); break;           /* every decade */
      case 2: d = (double)(x % 100000000) / pow(10, (double)(x % 7)); break;
      default: d = nextafter(pow(10, (double)(int)(x % 30) - 14), i & 1 ? 0 : 1e300);
    }
    if (x & 1) d = -d;
    reference_double(d, r);
    assert_string_equal(tsr_format_double(d, b), r);
    char *end = tsr__fmt_double_end(d, b);
    assert_string_equal(b, r);
    assert_ptr_equal(end, b + strlen(r));
  }
}

/* tsr__fmt_double_end: the same text as tsr__fmt_double on every path
 * (zero, integers, short decimals, 15-17 digits, exponent notation, the
 * printf path), and a pointer to its terminating NUL. */
static void shortest_double_end(void **state) {
  (void)state;
  const double v[] = {0.0,    -0.0,    7,        -123456789012345.0, 0.1,     -2.5,
                      97.32,  1.0 / 3, 2.142857142857143, 1.5e-5, -3.8118357802227647e-13,
                      1e20,   -1e300,  5e-324,   INFINITY,  -INFINITY, NAN,   1e15 - 0.5,
                      9.3324763439994722, 123456.789};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    char b[TSR_DOUBLE_BUF], r[TSR_DOUBLE_BUF];
    memset(b, 'x', sizeof b);
    char *end = tsr__fmt_double_end(v[i], b);
    tsr__fmt_double(v[i], r);
    assert_string_equal(b, r);
    assert_ptr_equal(end, b + strlen(r));
    assert_int_equal(*end, '\0');
  }
}

/* tsr__fmt_double_memo: the bytes and end of tsr__fmt_double_end for every
 * value, found in the memo or not: a column of days / 7 (mostly found),
 * one of distinct values (turned off after the probe), collisions of the
 * direct-mapped table, long texts (not kept), -0.0 and 0.0, and no memo. */
static void shortest_double_memo(void **state) {
  (void)state;
  tsr__num_memo *m = malloc(sizeof *m);
  assert_non_null(m);
  tsr__num_memo_reset(m);
  tsr__num_col rep = {0}, dist = {0}, mixed = {0}, none = {0};
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < 200000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    double v[4] = {(double)(x % 730) / 7, (double)(x >> 11) * 0x1.0p-40,
                   i % 3 ? -(double)(x % 5000) / 100 : (i % 2 ? 0.0 : -0.0),
                   (double)(x % 1000) * 1e-7 - 3e-5};
    tsr__num_col *col[4] = {&rep, &dist, &mixed, &mixed};
    for (int c = 0; c < 4; c++) {
      char b[TSR_DOUBLE_BUF], r[TSR_DOUBLE_BUF];
      memset(b, 'x', sizeof b);
      char *end = tsr__fmt_double_memo(c == 3 && i % 2 ? NULL : m, col[c], v[c], b);
      char *rend = tsr__fmt_double_end(v[c], r);
      assert_string_equal(b, r);
      assert_int_equal(end - b, rend - r);
      assert_int_equal(*end, '\0');
    }
  }
  assert_false(rep.off); /* 730 values: found */
  assert_true(rep.hits > 100000);
  assert_true(dist.off); /* distinct: the memo left */
  assert_int_equal(none.lookups, 0);
  free(m);
}

/* The integer path of 1e-4 <= |d| < 1e15 (exact m 10^k >> s): every
 * power of two and its two neighbours (the narrower gap below a power of
 * two), the neighbours of every power of ten (the decimal exponent's first
 * estimate one too small, k = 21 just above 1e-4), values with 15, 16 and
 * 17 digits at every exponent (the fixed-size copies of the digits, the
 * 13- and 14-digit integer parts), rounding carries (...9995) and negative
 * values give the reference's bytes, and the end pointer is its NUL. */
static void shortest_double_exact_path(void **state) {
  (void)state;
  char b[TSR_DOUBLE_BUF], r[32];
  size_t n = 0;
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 260000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    double d;
    switch (i % 5) {
      case 0: { /* powers of two 2^-14 .. 2^50 and their neighbours */
        double p2 = ldexp(1.0, (int)(x % 65) - 14);
        d = (x >> 8) % 3 == 0 ? p2 : nextafter(p2, (x >> 8) % 3 == 1 ? 0 : 1e300);
        break;
      }
      case 1: { /* neighbours of 10^-4 .. 10^15, a few ulps away */
        d = pow(10, (double)(int)(x % 20) - 4);
        for (int k = (int)((x >> 10) % 4); k > 0; k--) d = nextafter(d, (x >> 20) & 1 ? 0 : 1e300);
        break;
      }
      case 2: /* 17 significant digits at every exponent */
        d = (double)(x % 90000000000000000ull + 10000000000000000ull) * pow(10, (double)(int)((x >> 57) % 19) - 20);
        break;
      case 3: /* short decimals and rounding carries: k nines then 5 */
        d = (double)((x % 1000000) * 1000000 + 999995) / pow(10, (double)(int)((x >> 40) % 16));
        break;
      default: { /* any mantissa at any exponent in the range */
        double u = (double)(x >> 11) * 0x1.0p-53;
        d = pow(10, -4 + 19 * u);
      }
    }
    if (!(d >= 1e-4 && d < 1e15)) continue;
    if ((x >> 33) & 1) d = -d;
    reference_double(d, r);
    memset(b, 'x', sizeof b);
    char *end = tsr__fmt_double_end(d, b);
    assert_string_equal(b, r);
    assert_ptr_equal(end, b + strlen(r));
    n++;
  }
  assert_true(n > 200000);
}

static void column_resolver(void **state) {
  (void)state;
  const char *names[] = {"Customer ID", "date", "#", "Amount (EUR)", "customer-id"};
  tsr_csv_field fields[5];
  memset(fields, 0, sizeof fields);
  for (int i = 0; i < 5; i++) {
    fields[i].ptr = names[i];
    fields[i].len = strlen(names[i]);
  }
  tsr_csv_record hdr;
  memset(&hdr, 0, sizeof hdr);
  hdr.fields = fields;
  hdr.nfields = 4;
  assert_int_equal(tsr_csv_column_find(&hdr, 4, "customer_id", NULL), 0);
  assert_int_equal(tsr_csv_column_find(&hdr, 4, "DATE", NULL), 1);
  assert_int_equal(tsr_csv_column_find(&hdr, 4, "#", NULL), 2);
  assert_int_equal(tsr_csv_column_find(&hdr, 4, "amount eur", NULL), 3);
  assert_int_equal(tsr_csv_column_find(&hdr, 4, "4", NULL), 3); /* 1-based number */
  assert_int_equal(tsr_csv_column_find(&hdr, 4, "5", NULL), -1);
  assert_int_equal(tsr_csv_column_find(&hdr, 4, "client", NULL), -1);
  assert_int_equal(tsr_csv_column_find(&hdr, 4, "", NULL), -1);
  hdr.nfields = 5; /* "Customer ID" and "customer-id" both match */
  size_t second = 0;
  assert_int_equal(tsr_csv_column_find(&hdr, 5, "customerid", &second), -2);
  assert_int_equal(second, 4);
  assert_int_equal(tsr_csv_column_find(NULL, 3, "2", NULL), 1); /* no header */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(csv_field),
      cmocka_unit_test(shortest_double),
      cmocka_unit_test(shortest_double_reference),
      cmocka_unit_test(shortest_double_end),
      cmocka_unit_test(shortest_double_exact_path),
      cmocka_unit_test(shortest_double_memo),
      cmocka_unit_test(column_resolver),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
