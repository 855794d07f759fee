/*
 * test_table.c - the in-memory CSV table (lib/base/table.c, in-place
 * split) and tsr__strtod (lib/base/numparse.c): bit-identical to strtod on
 * tricky and random decimals; cells, lines and error reports.
 */
#include "tsr_test.h"
#include "internal.h"
#include "tessera/table.h"

#include <sys/stat.h>

/* s parsed by tsr__strtod and strtod: same bits, same end. */
static void same_as_strtod(const char *s) {
  char *e1 = NULL, *e2 = NULL;
  double a = tsr__strtod(s, &e1), b = strtod(s, &e2);
  uint64_t ua, ub;
  memcpy(&ua, &a, 8);
  memcpy(&ub, &b, 8);
  if (ua != ub || e1 != e2)
    fail_msg("'%s': tsr__strtod %.17g (%016llx, end +%td), strtod %.17g (%016llx, end +%td)", s,
             a, (unsigned long long)ua, e1 - s, b, (unsigned long long)ub, e2 - s);
}

static void test_strtod_tricky(void **state) {
  (void)state;
  static const char *const V[] = {
      "0", "-0", "+0", "0.0", "-0.0", "00", "000.000", "1", "-1", "+1.5", "1.", ".5", "-.5",
      "1e5", "1E5", "1e+5", "1e-5", "1.e5", "1e", "1e+", "1e-", ".", "-", "+", "", " 1", "e5",
      "0x10", "0X1p3", "0x", "inf", "-inf", "nan", "infinity", "1,5", "1.5,2", "12abc",
      "0.1", "0.2", "0.3", "0.30000000000000004", "0.1e1", "1e22", "1e23", "1e-22", "1e-23",
      /* 2^53 + 1, + 3: ties between doubles, to even */
      "9007199254740993", "9007199254740995", "9007199254740992", "9007199254740994",
      "18014398509481985", "18014398509481987", "18014398509481986",
      /* just above and below a tie */
      "9007199254740993.0000000001", "9007199254740992.9999999999", "900719925474099.25",
      "4503599627370496.5", "4503599627370497.5", "2251799813685248.25",
      /* 17 significant digits (the summaries' recency and T) */
      "26.142857142857142", "9.5714285714285712", "27.449999999999996", "11.649999999999999",
      "0.14285714285714285", "142857.14285714286", "0.000012345678901234567",
      "1234567890123456789", "12345678901234567890", "18446744073709551615",
      "18446744073709551616", "99999999999999999999", "0.99999999999999999999",
      "1.7976931348623157e308", "2.2250738585072014e-308", "4.9e-324", "1e-400", "1e400",
      "123456789012345678e-20", "123456789012345678e-38", "1e-38", "1e-39",
      "1234567890123456789e-21", "1234567890123456789e-19", "1234567890123456789e19",
      "1234567890123456789e20", "5e-324", "0e99999", "0e9999", "1e0001", "1e00001",
      "0.000000000000000000000000000000000000001", "7.038531e-26", "3.4028235677973366e38",
      "0.1000000000000000055511151231257827021181583404541015625",
      "2.5", "3.5", "-2.5", "1.00000000000000011102230246251565404236316680908203125",
      "1.0000000000000002220446049250313080847263336181640625"};
  for (size_t i = 0; i < TSR__ARRAY_LEN(V); i++) same_as_strtod(V[i]);
}

/* Random decimals: up to 22 digits, a point anywhere, exponents in
 * [-45, 45], signs, leading zeros; and every tie m.5 * 2^k near 2^53. */
static void test_strtod_random(void **state) {
  (void)state;
  uint64_t z = 0x9e3779b97f4a7c15ULL;
#define NEXT() (z ^= z << 13, z ^= z >> 7, z ^= z << 17, z)
  char s[64];
  for (long it = 0; it < 2000000; it++) {
    uint64_t r = NEXT();
    size_t k = 0;
    if (r & 1) s[k++] = (r & 2) ? '-' : '+';
    int nd = 1 + (int)((r >> 2) % 22), pt = (int)((r >> 8) % (nd + 2)) - 1;
    int lead = (r >> 14) % 5 == 0 ? (int)((r >> 17) % 4) : 0;
    for (int j = 0; j < lead; j++) s[k++] = '0';
    for (int j = 0; j < nd; j++) {
      if (j == pt) s[k++] = '.';
      s[k++] = (char)('0' + NEXT() % 10);
    }
    if (pt == nd) s[k++] = '.';
    if ((r >> 20) % 3 == 0) {
      k += (size_t)sprintf(s + k, "e%d", (int)((r >> 24) % 91) - 45);
    }
    s[k] = '\0';
    same_as_strtod(s);
  }
  /* integers around 2^53..2^64 (ties and near-ties), and divided by 10^k */
  for (int b = 53; b < 64; b++)
    for (int d = -3; d <= 3; d++) {
      uint64_t v = ((uint64_t)1 << b) + (uint64_t)((int64_t)d + (1LL << (b - 53)) * 3);
      snprintf(s, sizeof s, "%llu", (unsigned long long)v);
      same_as_strtod(s);
      for (int e = 1; e <= 25; e += 3) {
        snprintf(s, sizeof s, "%llue-%d", (unsigned long long)v, e);
        same_as_strtod(s);
      }
    }
  /* the shortest round-trip text of random doubles */
  for (long it = 0; it < 300000; it++) {
    uint64_t u = NEXT();
    double d;
    u = (u & 0x800FFFFFFFFFFFFFULL) | ((uint64_t)(0x3FF - 40 + (u >> 52) % 80) << 52);
    memcpy(&d, &u, 8);
    snprintf(s, sizeof s, "%.17g", d);
    same_as_strtod(s);
    snprintf(s, sizeof s, "%.15g", d);
    same_as_strtod(s);
  }
#undef NEXT
}

static tsr_table *mem(const char *text, tsr_error *err) {
  tsr_table *t = NULL;
  tsr_error_clear(err);
  tsr_status st = tsr_table_read_mem(text, strlen(text), "s.csv", &t, err);
  if (st != TSR_OK) {
    assert_null(t);
    return NULL;
  }
  return t;
}

static void test_table_cells(void **state) {
  (void)state;
  tsr_error err;
  /* BOM, CRLF, quotes with a doubled quote and a line end, blank lines, no
   * final line end */
  const char *text =
      "\xEF\xBB\xBF" "id,x,name\r\n"
      "a,1.5,plain\r\n"
      "b,2,\"q,\"\"uoted\"\"\"\r\n"
      "\r\n"
      "c, 3 ,\"two\nlines\"\n"
      "d,4e1,";
  tsr_table *t = mem(text, &err);
  assert_non_null(t);
  assert_int_equal(tsr_table_ncols(t), 3);
  assert_int_equal(tsr_table_nrows(t), 4);
  assert_string_equal(tsr_table_colname(t, 0), "id");
  assert_string_equal(tsr_table_colname(t, 2), "name");
  assert_int_equal(tsr_table_find(t, "x"), 1);
  assert_int_equal(tsr_table_find(t, "y"), -1);
  assert_string_equal(tsr_table_cell(t, 0, 2), "plain");
  assert_string_equal(tsr_table_cell(t, 1, 2), "q,\"uoted\"");
  assert_string_equal(tsr_table_cell(t, 2, 1), " 3 ");
  assert_string_equal(tsr_table_cell(t, 2, 2), "two\nlines");
  assert_string_equal(tsr_table_cell(t, 3, 0), "d");
  assert_string_equal(tsr_table_cell(t, 3, 2), "");
  assert_null(tsr_table_cell(t, 4, 0));
  assert_int_equal(tsr_table_row_line(t, 0), 2);
  assert_int_equal(tsr_table_row_line(t, 1), 3);
  assert_int_equal(tsr_table_row_line(t, 2), 5); /* after the blank line */
  assert_int_equal(tsr_table_row_line(t, 3), 7); /* after the embedded one */
  double v[4];
  assert_int_equal(tsr_table_column_double_to(t, 1, v, &err), TSR_OK);
  assert_true(v[0] == 1.5 && v[1] == 2 && v[2] == 3 && v[3] == 40);
  tsr_table_free(t);

  /* rows on consecutive lines: lines computed, not stored */
  t = mem("a,b\n1,2\n3,4\n5,x\n", &err);
  assert_non_null(t);
  assert_int_equal(tsr_table_row_line(t, 2), 4);
  double *w = NULL;
  assert_int_equal(tsr_table_column_double(t, 1, &w, &err), TSR_EPARSE);
  assert_null(w);
  char buf[256];
  assert_string_equal(tsr_error_format(&err, buf, sizeof buf),
                      "s.csv:4:2: error: b: expected a number, got 'x'");
  assert_int_equal(tsr_table_get_double(t, "c", &w, &err), TSR_ENOTFOUND);
  tsr_table_free(t);
}

static void test_table_errors(void **state) {
  (void)state;
  tsr_error err;
  char buf[256];
  assert_null(mem("", &err));
  assert_int_equal(err.code, TSR_EPARSE);
  assert_string_equal(tsr_error_format(&err, buf, sizeof buf),
                      "s.csv:1: error: expected a header line, got an empty file");
  assert_null(mem("a,b\n1,2\n3\n", &err));
  assert_string_equal(tsr_error_format(&err, buf, sizeof buf),
                      "s.csv:3:1: error: expected 2 fields as in the header, got 1");
  assert_null(mem("a,b\n1,2\n\n3,4,5\n", &err));
  assert_string_equal(tsr_error_format(&err, buf, sizeof buf),
                      "s.csv:4:5: error: expected 2 fields as in the header, got 3");
  assert_null(mem("a,b\n1,\"2\n", &err));
  assert_int_equal(err.code, TSR_EPARSE);
  assert_int_equal(err.line, 2);
  assert_null(mem("a,b\n1,\"2\"x\n", &err));
  assert_int_equal(err.line, 2);
  assert_int_equal(err.column, 6); /* the text after the quote */
  /* a bad number: file, line, column, name and the cell */
  tsr_table *t = mem("a,b\n1,2\n1,2.5.1\n", &err);
  assert_non_null(t);
  double v[2];
  assert_int_equal(tsr_table_column_double_to(t, 1, v, &err), TSR_EPARSE);
  assert_string_equal(tsr_error_format(&err, buf, sizeof buf),
                      "s.csv:3:2: error: b: expected a number, got '2.5.1'");
  tsr_table_free(t);
  static const char *const BAD[] = {"\"\"", " ", "1e", "inf", "nan", "1e999", "0x", "--1", "1 2"};
  for (size_t i = 0; i < TSR__ARRAY_LEN(BAD); i++) {
    char text[64];
    snprintf(text, sizeof text, "a\n%s\n", BAD[i]);
    t = mem(text, &err);
    assert_non_null(t);
    assert_int_equal(tsr_table_column_double_to(t, 0, v, &err), TSR_EPARSE);
    assert_int_equal(err.line, 2);
    tsr_table_free(t);
  }
  /* files */
  t = NULL;
  assert_int_equal(tsr_table_read("/nonexistent/s.csv", NULL, &t, &err), TSR_EIO);
  assert_null(t);
  assert_non_null(strstr(err.msg, "cannot open"));
  assert_int_equal(tsr_table_read("/tmp", NULL, &t, &err), TSR_EIO);
  assert_string_equal(err.msg, "is a directory");
  char path[] = "/tmp/tsr_test_tableXXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *body = "customer_id;frequency\nA;1\nB;0.25\n";
  assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
  close(fd);
  tsr_csv_opts o;
  tsr_csv_opts_init(&o);
  o.delim = ';';
  assert_int_equal(tsr_table_read(path, &o, &t, &err), TSR_OK);
  assert_int_equal(tsr_table_nrows(t), 2);
  assert_string_equal(tsr_table_name(t), path);
  assert_string_equal(tsr_table_cell(t, 1, 0), "B");
  assert_int_equal(tsr_table_column_double_to(t, 1, v, &err), TSR_OK);
  assert_true(v[0] == 1 && v[1] == 0.25);
  tsr_table_free(t);
  unlink(path);
}

/* text written to a temporary file, read by tsr_table_read_numeric with
 * the columns "b" (or "bb") and "d" (optional): returns plain; cols and n
 * out, block freed by the caller */
static int numeric(const char *text, double **cols, size_t *n, double **block) {
  static const char *const B[] = {"b", "bb", NULL}, *const D[] = {"d", NULL};
  const char *const *want[2] = {B, D};
  char path[] = "/tmp/tsr_test_numXXXXXX";
  int fd = mkstemp(path), plain = -1;
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  assert_int_equal(tsr_table_read_numeric(path, 2, want, cols, n, block, &plain, NULL), TSR_OK);
  unlink(path);
  if (!plain) {
    assert_null(*block);
    assert_null(cols[0]);
    assert_null(cols[1]);
  }
  return plain;
}

/* the fast numeric read: the same bits as the table's columns on plain
 * files; anything else (quotes, CR, BOM, blank lines, spaces, a missing
 * last line end, a short record, inf) left to the table */
static void test_table_numeric(void **state) {
  (void)state;
  double *c[2], *block;
  size_t n;
  const char *plain = "id,bb,c,d\nA,1,x y,26.142857142857142\nB,-0,,1e-5\nC,.5,z,+7\n";
  assert_true(numeric(plain, c, &n, &block));
  assert_int_equal(n, 3);
  assert_ptr_equal(block, c[0]);
  tsr_error err;
  tsr_table *t = mem(plain, &err);
  assert_non_null(t);
  double v[3];
  assert_int_equal(tsr_table_column_double_to(t, 1, v, NULL), TSR_OK);
  assert_memory_equal(v, c[0], sizeof v);
  assert_int_equal(tsr_table_column_double_to(t, 3, v, NULL), TSR_OK);
  assert_memory_equal(v, c[1], sizeof v);
  assert_true(signbit(c[0][1]) && c[1][0] == 26.142857142857142);
  tsr_table_free(t);
  free(block);
  /* the first alternative wins; an absent column is NULL */
  assert_true(numeric("bb,b\n1,2\n", c, &n, &block));
  assert_int_equal(n, 1);
  assert_true(c[0][0] == 2 && c[1] == NULL);
  free(block);
  assert_true(numeric("d\n1\n", c, &n, &block));
  assert_true(c[0] == NULL && c[1] == block && c[1][0] == 1);
  free(block);
  static const char *const NOT[] = {
      "",                       /* empty */
      "b,d\n",                  /* no row */
      "b,d\n1,2",               /* no last line end */
      "b,d\r\n1,2\r\n",         /* CRLF */
      "\xEF\xBB\xBF" "b,d\n1,2\n", /* BOM */
      "b,d\n\"1\",2\n",         /* quoted */
      "id,b\n\"x\",2\n",        /* quoted, in a skipped column */
      "b,d\n1,2\n\n",           /* blank line */
      "b,d\n1,2\n3\n",          /* short record */
      "b,d\n1,2,3\n",           /* long record */
      "b,d\n 1,2\n",            /* leading space */
      "b,d\n1 ,2\n",            /* trailing space */
      "b,d\n1,inf\n",           /* not finite */
      "b,d\n1,1e999\n",         /* overflow */
      "b,d\n1,x\n",             /* not a number */
      "b,d\n1,\n",              /* empty cell */
  };
  for (size_t i = 0; i < TSR__ARRAY_LEN(NOT); i++)
    if (numeric(NOT[i], c, &n, &block)) fail_msg("case %zu read as plain", i);
  /* not a regular file */
  static const char *const B[] = {"b", NULL};
  const char *const *want[1] = {B};
  int pl = -1;
  assert_int_equal(tsr_table_read_numeric("-", 1, want, c, &n, &block, &pl, NULL), TSR_OK);
  assert_int_equal(pl, 0);
  assert_int_equal(tsr_table_read_numeric("/tmp", 1, want, c, &n, &block, &pl, NULL), TSR_OK);
  assert_int_equal(pl, 0);
  assert_int_equal(tsr_table_read_numeric("/nonexistent/x.csv", 1, want, c, &n, &block, &pl, NULL), TSR_OK);
  assert_int_equal(pl, 0);
}


/* the memo of a column's texts (scan_part_run): every value the bits of
 * strtod on its own text, whatever came before: texts that share their
 * first 16 bytes or differ in length only, texts of 1 to 40 bytes, a
 * column of more distinct texts than the memo holds (MEMO_CAP 4096); a
 * repeated text with a bad byte after it is still
 * not plain */
static void test_table_numeric_memo(void **state) {
  (void)state;
  enum { N = 12000 };
  static const char *const T[] = {"26.142857142857142", "26.142857142857143",
                                  "26.142857142857142e0", "1234567890123456",
                                  "1234567890123456.5", "1234567890123456.25", "0",
                                  "0.0", "-0", "1", "10", "1e3", ".5", "+7",
                                  "0.12345678901234567890123456789",
                                  "0.123456789012345678901234567890",
                                  "0.1234567890123456789012345678901234567",
                                  "64.285714285714292", "64.28571428571429", "7.2857142857142856"};
  const size_t nt = TSR__ARRAY_LEN(T);
  size_t cap = (size_t)N * 64 + 64, len = 0;
  char *text = malloc(cap);
  char(*dtext)[32] = malloc(N * sizeof *dtext);
  assert_non_null(text);
  assert_non_null(dtext);
  len += (size_t)snprintf(text + len, cap - len, "id,b,d\n");
  for (size_t i = 0; i < N; i++) {
    /* d: 2000 texts that share their first 16 bytes, each three times
     * (their probes meet in the memo), then distinct texts past the
     * memo's capacity */
    if (i < 6000)
      snprintf(dtext[i], sizeof dtext[i], "1000000000000000.%zu", i % 2000);
    else
      snprintf(dtext[i], sizeof dtext[i], "%.17g", 1.0 / (double)(i + 3));
    len += (size_t)snprintf(text + len, cap - len, "%zu,%s,%s\n", i, T[(i * 7) % nt], dtext[i]);
  }
  double *c[2], *block;
  size_t n;
  assert_true(numeric(text, c, &n, &block));
  assert_int_equal(n, N);
  for (size_t i = 0; i < N; i++) {
    const double b = strtod(T[(i * 7) % nt], NULL), d = strtod(dtext[i], NULL);
    if (memcmp(&b, &c[0][i], sizeof b) || memcmp(&d, &c[1][i], sizeof d))
      fail_msg("row %zu: '%s' '%s' read as %.17g %.17g", i, T[(i * 7) % nt], dtext[i],
               c[0][i], c[1][i]);
  }
  free(block);
  /* a text the memo holds, then the same text with a bad byte before the
   * delimiter or after it: not plain */
  static const char *const BAD[] = {"26.142857142857142x", "26.142857142857142 ",
                                    "26.142857142857142\r", "26.142857142857142,"};
  for (size_t k = 0; k < TSR__ARRAY_LEN(BAD); k++) {
    len = (size_t)snprintf(text, cap, "id,b,d\n");
    for (size_t i = 0; i < 100; i++)
      len += (size_t)snprintf(text + len, cap - len, "%zu,26.142857142857142,1\n", i);
    len += (size_t)snprintf(text + len, cap - len, "x,%s,1\ny,1,1\n", BAD[k]);
    assert_false(numeric(text, c, &n, &block));
  }
  /* the skipped column (16 bytes a step): ids of 1 to 40 bytes read; a
   * quote or CR in one, at any place, is not plain */
  len = (size_t)snprintf(text, cap, "id,b,d\n");
  for (size_t i = 0; i < 200; i++)
    len += (size_t)snprintf(text + len, cap - len, "%.*s,%zu,1\n", (int)(1 + i % 40),
                            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", i);
  assert_true(numeric(text, c, &n, &block));
  assert_int_equal(n, 200);
  assert_true(c[0][199] == 199);
  free(block);
  for (size_t at = 0; at < 36; at++)
    for (int bad = 0; bad < 2; bad++) {
      char id[40];
      memset(id, 'a', sizeof id);
      id[36] = 0;
      id[at] = bad ? '\r' : '"';
      len = (size_t)snprintf(text, cap, "id,b,d\n");
      for (size_t i = 0; i < 50; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s,1,1\n", i == 20 ? id : "abc");
      assert_false(numeric(text, c, &n, &block));
    }
  free(dtext);
  free(text);
}

/* tsr_table_scan_numeric: the rows of tsr_table_read_numeric, one at a
 * time, the same values; begin gets the row count and the columns
 * present; a callback's nonzero stops the scan as not plain */
typedef struct {
  size_t nrows, rows, stop_at;
  int present[2], began;
  double v[8][2];
} scan_rec;

static int scan_begin(void *v, size_t nrows, const int *present) {
  scan_rec *r = v;
  r->began++;
  r->nrows = nrows;
  r->present[0] = present[0], r->present[1] = present[1];
  return r->stop_at == 0 ? -1 : 0;
}

static int scan_row(void *v, int part, size_t row, const double *x) {
  scan_rec *r = v;
  assert_int_equal(part, 0);
  assert_int_equal(row, r->rows);
  if (r->rows < 8) r->v[r->rows][0] = x[0], r->v[r->rows][1] = x[1];
  r->rows++;
  return r->rows == r->stop_at ? -1 : 0;
}

static int scan(const char *text, scan_rec *r, size_t stop_at) {
  static const char *const B[] = {"b", "bb", NULL}, *const D[] = {"d", NULL};
  const char *const *want[2] = {B, D};
  char path[] = "/tmp/tsr_test_scanXXXXXX";
  int fd = mkstemp(path), plain = -1;
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  memset(r, 0, sizeof *r);
  r->stop_at = stop_at;
  assert_int_equal(
      tsr_table_scan_numeric(path, 2, want, scan_begin, scan_row, r, 1, &plain, NULL), TSR_OK);
  unlink(path);
  return plain;
}

static void test_table_scan_numeric(void **state) {
  (void)state;
  const char *plain = "id,bb,c,d\nA,1,x y,26.142857142857142\nB,-0,,1e-5\nC,.5,z,+7\n";
  double *c[2], *block;
  size_t n;
  assert_true(numeric(plain, c, &n, &block));
  scan_rec r;
  assert_true(scan(plain, &r, (size_t)-1));
  assert_int_equal(r.began, 1);
  assert_int_equal(r.nrows, 3);
  assert_int_equal(r.rows, 3);
  assert_true(r.present[0] && r.present[1]);
  for (size_t i = 0; i < 3; i++) {
    assert_memory_equal(&r.v[i][0], &c[0][i], sizeof(double));
    assert_memory_equal(&r.v[i][1], &c[1][i], sizeof(double));
  }
  free(block);
  /* an absent column: present 0, its values 0 */
  assert_true(scan("bb,x\n1.5,q\n2,r\n", &r, (size_t)-1));
  assert_true(r.present[0] && !r.present[1]);
  assert_int_equal(r.rows, 2);
  assert_true(r.v[0][0] == 1.5 && r.v[1][0] == 2 && r.v[0][1] == 0);
  /* stopped by begin, by a row */
  assert_false(scan(plain, &r, 0));
  assert_int_equal(r.rows, 0);
  assert_false(scan(plain, &r, 2));
  assert_int_equal(r.rows, 2);
  /* not plain: no begin when the header is wrong, rows up to a bad cell */
  assert_false(scan("b,d\r\n1,2\r\n", &r, (size_t)-1));
  assert_int_equal(r.began, 0);
  assert_false(scan("b,d\n1,2\n3,x\n", &r, (size_t)-1));
  assert_int_equal(r.rows, 1);
  assert_false(scan("b,d\n1,2\n3", &r, (size_t)-1));
}

/* the scan in two parts: every row once, each part's rows in order, part
 * 0 the first ones, the values of tsr_table_read_numeric; a bad cell in
 * either part makes the file not plain */
typedef struct {
  size_t n, next[2], first[2];
  int order_bad[2];
  double *v0, *v1;
} scan2_rec;

static int scan2_begin(void *v, size_t nrows, const int *present) {
  scan2_rec *r = v;
  (void)present;
  r->n = nrows;
  r->v0 = calloc(nrows, sizeof *r->v0);
  r->v1 = calloc(nrows, sizeof *r->v1);
  r->first[0] = r->first[1] = nrows;
  return r->v0 && r->v1 ? 0 : -1;
}

static int scan2_row(void *v, int part, size_t row, const double *x) {
  scan2_rec *r = v; /* no cmocka asserts here: part 1 is another thread */
  if (part < 0 || part > 1) return -1;
  if (r->first[part] == r->n) r->first[part] = r->next[part] = row;
  if (row != r->next[part]) r->order_bad[part] = 1;
  r->next[part] = row + 1;
  r->v0[row] = x[0], r->v1[row] = x[1];
  return 0;
}

static void test_table_scan_parts(void **state) {
  (void)state;
  static const char *const B[] = {"b", NULL}, *const D[] = {"d", NULL};
  const char *const *want[2] = {B, D};
  const size_t N = 40000;
  char path[] = "/tmp/tsr_test_scan2XXXXXX";
  for (int bad = 0; bad < 3; bad++) {
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "id,b,d\n");
    for (size_t i = 0; i < N; i++) {
      if ((bad == 1 && i == 100) || (bad == 2 && i == N - 100))
        fprintf(f, "%zu,x,1\n", i);
      else
        fprintf(f, "%zu,%zu,%.17g\n", i, i % 97, (double)i / 7);
    }
    fclose(f);
    scan2_rec r;
    memset(&r, 0, sizeof r);
    int plain = -1;
    assert_int_equal(
        tsr_table_scan_numeric(path, 2, want, scan2_begin, scan2_row, &r, 2, &plain, NULL),
        TSR_OK);
    if (bad) {
      assert_int_equal(plain, 0);
    } else {
      assert_int_equal(plain, 1);
      assert_true(!r.order_bad[0] && !r.order_bad[1]);
      assert_int_equal(r.first[0], 0);
      assert_true(r.first[1] > 0 && r.first[1] < N); /* two parts */
      assert_int_equal(r.next[0], r.first[1]);
      assert_int_equal(r.next[1], N);
      double *c[2], *block;
      size_t n;
      int pl;
      assert_int_equal(tsr_table_read_numeric(path, 2, want, c, &n, &block, &pl, NULL), TSR_OK);
      assert_true(pl && n == N);
      assert_memory_equal(c[0], r.v0, N * sizeof(double));
      assert_memory_equal(c[1], r.v1, N * sizeof(double));
      free(block);
    }
    free(r.v0), free(r.v1);
    unlink(path);
    memcpy(path + strlen(path) - 6, "XXXXXX", 6);
  }
}


/* tsr_table_scan_codes on text (written to a file) against
 * tsr_table_read_numeric: 1 when both read it and every row's number
 * gives its value bit for bit (numbers below the distinct counts, equal
 * texts one number), 0 when the codes scan does not read it (nothing
 * left behind); *part1 the first row of part 1 */
static int codes_check(const char *text, size_t len, int parts, size_t *part1) {
  static const char *const B[] = {"b", "bb", NULL}, *const D[] = {"d", NULL},
                           *const E[] = {"e", NULL};
  const char *const *want[3] = {B, D, E};
  char path[] = "/tmp/tsr_test_codesXXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, len), (ssize_t)len);
  close(fd);
  tsr_table_codes c;
  int plain = -1;
  assert_int_equal(tsr_table_scan_codes(path, 3, want, parts, &c, &plain, NULL), TSR_OK);
  if (!plain) {
    assert_null(c.code);
    unlink(path);
    return 0;
  }
  double *col[3], *block;
  size_t n;
  int pl;
  assert_int_equal(tsr_table_read_numeric(path, 3, want, col, &n, &block, &pl, NULL), TSR_OK);
  unlink(path);
  assert_true(pl);
  assert_int_equal(c.nrows, n);
  for (int k = 0; k < 3; k++) {
    assert_int_equal(c.at[k] >= 0, col[k] != NULL);
    if (c.at[k] < 0) continue;
    for (size_t r = 0; r < n; r++) {
      const int pt = r >= c.part1;
      const uint16_t q = c.code[r * c.stride + (size_t)c.at[k]];
      assert_true(q < c.ndistinct[pt][k]);
      assert_memory_equal(&c.value[pt][k][q], &col[k][r], sizeof(double));
    }
  }
  *part1 = c.part1;
  free(block);
  tsr_table_codes_free(&c);
  return 1;
}

static int codes_ok(const char *text) {
  size_t p1;
  return codes_check(text, strlen(text), 1, &p1);
}

static void test_table_scan_codes(void **state) {
  (void)state;
  /* one number per distinct text: "1" and "1.0" two numbers of one value */
  const char *t = "id,bb,c,d\nA,1,x y,26.142857142857142\nB,-0,,1e-5\nC,.5,z,+7\n"
                  "D,1.0,q,26.142857142857142\nE,1,r,1e-5\n";
  static const char *const B[] = {"b", "bb", NULL}, *const D[] = {"d", NULL};
  const char *const *want[2] = {B, D};
  char path[] = "/tmp/tsr_test_codesXXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, t, strlen(t)), (ssize_t)strlen(t));
  close(fd);
  tsr_table_codes c;
  int plain = -1;
  assert_int_equal(tsr_table_scan_codes(path, 2, want, 2, &c, &plain, NULL), TSR_OK);
  unlink(path);
  assert_int_equal(plain, 1);
  assert_int_equal(c.nrows, 5);
  assert_int_equal(c.stride, 2);
  assert_int_equal(c.part1, 5); /* small: one part */
  assert_int_equal(c.ndistinct[0][0], 4);
  assert_int_equal(c.ndistinct[0][1], 3);
  const uint16_t want_b[5] = {0, 1, 2, 3, 0}, want_d[5] = {0, 1, 2, 0, 1};
  for (size_t r = 0; r < 5; r++) {
    assert_int_equal(c.code[r * 2 + (size_t)c.at[0]], want_b[r]);
    assert_int_equal(c.code[r * 2 + (size_t)c.at[1]], want_d[r]);
  }
  assert_true(c.value[0][0][3] == 1.0 && c.value[0][1][2] == 7.0);
  tsr_table_codes_free(&c);
  assert_true(codes_ok(t));
  /* lines split on their masks (up to 64 bytes), longer ones field by
   * field, the last ones from the padded copy: ids of 1 to 99 bytes,
   * files from a few bytes to a few KB */
  char *text = malloc(1 << 16);
  assert_non_null(text);
  for (size_t idl = 1; idl < 100; idl += 7)
    for (size_t rows = 1; rows < 80; rows += 13) {
      size_t len = (size_t)sprintf(text, "id,b,d,e\n");
      for (size_t r = 0; r < rows; r++) {
        len += (size_t)sprintf(text + len, "%.*s,%zu,%.17g,%s\n", (int)(idl + r % 5),
                               "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"
                               "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij",
                               r % 7, (double)r / 7, r % 2 ? "0.00" : "12.5");
      }
      assert_true(codes_ok(text));
    }
  /* not plain: a quote, CR or NUL in a skipped field, too few or too many
   * fields, an empty or non-number cell, no last line end; and, read by
   * tsr_table_read_numeric but not here, a cell of 32 bytes */
  assert_false(codes_ok("id,b,d\nA\"x,1,2\n"));
  assert_false(codes_ok("id,b,d\nA\rx,1,2\n"));
  assert_false(codes_check("id,b,d\nA\0x,1,2\n", 15, 1, &(size_t){0}));
  assert_false(codes_ok("id,b,d\nA,1\nB,1,2\n"));
  assert_false(codes_ok("id,b,d\nA,1,2,3\n"));
  assert_false(codes_ok("id,b,d\nA,,2\n"));
  assert_false(codes_ok("id,b,d\nA,1x,2\n"));
  assert_false(codes_ok("id,b,d\nA,1,2"));
  assert_false(codes_ok("id,b,d\nA,1,2\r\n"));
  assert_true(codes_ok("id,b,d\nA,1,2.00000000000000000000000000000\n")); /* 31 bytes */
  assert_false(codes_ok("id,b,d\nA,1,2.000000000000000000000000000000\n")); /* 32 */
  assert_true(codes_ok("id,b,d\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,"
                       "1,2.00000000000000000000000000000\n"));
  assert_false(codes_ok("id,b,d\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,"
                        "1,2.000000000000000000000000000000\n"));
  /* TSR_TABLE_CODE_MAX distinct texts in a column, then one more (the
   * table doubled on the way) */
  for (int extra = 0; extra < 2; extra++) {
    size_t len = (size_t)sprintf(text, "b,d\n");
    char *big = malloc(20 * (TSR_TABLE_CODE_MAX + 2) + 16);
    assert_non_null(big);
    memcpy(big, text, len);
    for (size_t r = 0; r < (size_t)TSR_TABLE_CODE_MAX + (size_t)extra; r++)
      len += (size_t)sprintf(big + len, "%zu,1\n", r);
    size_t p1;
    assert_int_equal(codes_check(big, len, 1, &p1), !extra);
    free(big);
  }
  /* two parts: a large file, the numbers of each part apart */
  {
    const size_t N = 40000;
    char *big = malloc(40 * N);
    assert_non_null(big);
    size_t len = (size_t)sprintf(big, "id,b,d\n"), p1 = 0;
    for (size_t i = 0; i < N; i++)
      len += (size_t)sprintf(big + len, "%zu,%zu,%.17g\n", i, i % 97, (double)(i % 500) / 7);
    assert_true(codes_check(big, len, 2, &p1));
    assert_true(p1 > 0 && p1 < N);
    assert_true(codes_check(big, len, 1, &p1));
    assert_int_equal(p1, N);
    memcpy(big + len - 4, "x", 1); /* a bad cell in part 1 */
    assert_false(codes_check(big, len, 2, &p1));
    free(big);
  }
  /* texts of 1 to 8 bytes (found again by their word) beside longer
   * ones: prefixes of one another, equal values in other texts, more
   * distinct short texts than the small table enters (the rest by key),
   * in a middle column (',' after) and the last ('\n'): one number per
   * distinct text, each number's value the text's */
  {
    static const char *const F[16] = {"1",   "12", "1.",   "1.0",      "1.00",     "12.5",
                                      "-1",  "-0", "0",    "+1",       ".5",       "12345678",
                                      "1e5", "0.", "1234567", "123456789"};
    const size_t N = 3000;
    char *big = malloc(64 * N);
    assert_non_null(big);
    size_t len = (size_t)sprintf(big, "id,b,d,e\n");
    for (size_t r = 0; r < N; r++) {
      char b[16];
      if (r % 2) snprintf(b, sizeof b, "%s", F[(r / 2 * 7) % 16]);
      else snprintf(b, sizeof b, "%zu", 1000 + (r / 2) % 700);
      len += (size_t)sprintf(big + len, "c%zu,%s,%.17g,%s\n", r, b, (double)(r % 50) / 7,
                             F[(r * 5) % 16]);
    }
    static const char *const B[] = {"b", NULL}, *const D[] = {"d", NULL}, *const E[] = {"e", NULL};
    const char *const *want[3] = {B, D, E};
    char path[] = "/tmp/tsr_test_codesXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, big, len), (ssize_t)len);
    close(fd);
    tsr_table_codes c;
    int plain = -1;
    assert_int_equal(tsr_table_scan_codes(path, 3, want, 1, &c, &plain, NULL), TSR_OK);
    unlink(path);
    assert_int_equal(plain, 1);
    assert_int_equal(c.ndistinct[0][0], 16 + 700);
    assert_int_equal(c.ndistinct[0][1], 50);
    assert_int_equal(c.ndistinct[0][2], 16);
    /* rows with one text one number, first seen first numbered */
    assert_int_equal(c.code[1 * c.stride + (size_t)c.at[0]], 1);
    assert_int_equal(c.code[3 * c.stride + (size_t)c.at[0]], c.code[35 * c.stride + (size_t)c.at[0]]);
    assert_int_equal(c.code[0 * c.stride + (size_t)c.at[2]], c.code[16 * c.stride + (size_t)c.at[2]]);
    tsr_table_codes_free(&c);
    size_t p1;
    assert_true(codes_check(big, len, 1, &p1));
    free(big);
  }
  free(text);
}

/* the row count of the scan (line ends counted 16 bytes a step, at most
 * 255 steps a round, the rest byte by byte; with two parts, each part's
 * apart): every length around those bounds, lines of 1 to 40 bytes, the
 * begin callback's count equal to the lines, in one part and two */
static int count_begin(void *v, size_t nrows, const int *present) {
  (void)present;
  *(size_t *)v = nrows;
  return 0;
}

static int count_row(void *v, int part, size_t row, const double *x) {
  (void)v, (void)part, (void)row, (void)x;
  return 0;
}

static void test_table_scan_row_count(void **state) {
  (void)state;
  static const char *const B[] = {"b", NULL};
  const char *const *want[1] = {B};
  char path[] = "/tmp/tsr_test_countXXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  char *text = malloc(40000);
  assert_non_null(text);
  const size_t sizes[] = {3, 4, 15, 16, 17, 31, 4079, 4080, 4081, 4096, 8160, 8161, 39000};
  for (size_t si = 0; si < 2 * (sizeof sizes / sizeof *sizes); si++) {
    /* "b\n" then lines "1\n", "11\n", ... up to about sizes[si] bytes;
     * the second round all "1\n" (a line end in every other byte: 256
     * of them in one byte of the 16 in 256 steps) */
    const size_t size = sizes[si % (sizeof sizes / sizeof *sizes)];
    const int ones = si >= sizeof sizes / sizeof *sizes;
    size_t len = 0, lines = 0;
    memcpy(text, "b\n", 2), len = 2;
    for (size_t k = 0; len < size; k++) {
      size_t w = ones ? 1 : 1 + (k * 7) % 39;
      if (len + w + 1 > size && len > 2) break;
      memset(text + len, '1', w), len += w;
      text[len++] = '\n';
      lines++;
    }
    for (int parts = 1; parts <= 2; parts++) {
      FILE *f = fopen(path, "wb");
      assert_non_null(f);
      assert_int_equal(fwrite(text, 1, len, f), len);
      fclose(f);
      size_t nrows = 0;
      int plain = -1;
      assert_int_equal(tsr_table_scan_numeric(path, 1, want, count_begin, count_row, &nrows,
                                              parts, &plain, NULL),
                       TSR_OK);
      assert_int_equal(plain, 1);
      assert_int_equal(nrows, lines);
    }
  }
  free(text);
  unlink(path);
}

/* the Eisel-Lemire path of tsr__strtod (15 to 19 digits, exponents -40 to
 * 19) and exact midpoints between neighbouring doubles (ties to even) with
 * up to 4 decimals, against strtod. The table P5 of numparse.c comes
 * from: for q < 0: p = 5^-q, z = bits of p, c = 2^(z + 127) // p + 1
 * (q >= -27) or c = 2^(2 z + 128) // p + 1 halved below 2^128; for q >= 0:
 * 5^q doubled into [2^127, 2^128) or halved (truncated) into it. */
static void test_strtod_eisel_lemire(void **state) {
  (void)state;
  uint64_t z = 0x2545f4914f6cdd1dULL;
#define NEXT() (z ^= z << 13, z ^= z >> 7, z ^= z << 17, z)
  char s[64];
  for (long it = 0; it < 1000000; it++) {
    uint64_t r = NEXT();
    int nd = 15 + (int)(r % 5), k = 0;
    for (int j = 0; j < nd; j++) s[k++] = (char)('0' + (j == 0 ? 1 + NEXT() % 9 : NEXT() % 10));
    if ((r >> 6) & 1) {
      sprintf(s + k, "e%d", (int)((r >> 8) % 60) - 40);
    } else { /* a decimal point instead: 17-digit recencies and T */
      int pt = 1 + (int)((r >> 8) % (unsigned)(nd - 1));
      memmove(s + pt + 1, s + pt, (size_t)(nd - pt));
      s[pt] = '.';
      s[nd + 1] = '\0';
    }
    same_as_strtod(s);
  }
  /* midpoints of 2^b + j ulp and its successor (ulp = 2^(b - 52)), times
   * 10^4 an integer m: written as m with 4 decimals, m - 1 and m + 1 */
  for (int b = 49; b < 63; b++)
    for (uint64_t j = 0; j < 200; j++) {
      uint64_t jj = j < 100 ? j : NEXT() % ((uint64_t)1 << 52);
      /* v * 16 = 2^(b+4) + jj 2^(b-48) + 2^(b-49) */
      unsigned __int128 v16 = ((unsigned __int128)1 << (b + 4)) +
                              ((unsigned __int128)jj << (b - 48)) +
                              ((unsigned __int128)1 << (b - 49));
      unsigned __int128 m = v16 * 625; /* v * 10^4 */
      for (int d = -1; d <= 1; d++) {
        unsigned __int128 md = m + (unsigned __int128)(__int128)d;
        char dig[48];
        int nd = 0;
        for (unsigned __int128 t = md; t; t /= 10) dig[nd++] = (char)('0' + (int)(t % 10));
        if (nd > 19 + 4) continue;
        int k = 0;
        for (int i = nd - 1; i >= 4; i--) s[k++] = dig[i];
        s[k++] = '.';
        for (int i = 3; i >= 0; i--) s[k++] = dig[i];
        s[k] = '\0';
        same_as_strtod(s);
      }
    }
#undef NEXT
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_strtod_tricky), cmocka_unit_test(test_strtod_random),
      cmocka_unit_test(test_strtod_eisel_lemire),
      cmocka_unit_test(test_table_cells), cmocka_unit_test(test_table_errors),
      cmocka_unit_test(test_table_numeric), cmocka_unit_test(test_table_numeric_memo),
      cmocka_unit_test(test_table_scan_numeric),
      cmocka_unit_test(test_table_scan_row_count),
      cmocka_unit_test(test_table_scan_parts), cmocka_unit_test(test_table_scan_codes)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
