/* test_csv.c - the streaming CSV reader: RFC 4180 cases, limits, resync. */
#include "tsr_test.h"
#include <ctype.h>
#include "internal.h"

typedef struct {
  char fields[16][64];
  size_t nf;
  int64_t line;
  tsr_status st;
  char err[256];
} got_rec;

/* Reads all records of buf into out (max 32); returns the count. */
static size_t read_all(const char *buf, size_t len, int delim, size_t max_field,
                       got_rec *out) {
  tsr_csv_opts o;
  tsr_csv_opts_init(&o);
  o.delim = delim;
  if (max_field) o.max_field = max_field;
  tsr_csv *c;
  tsr_error e;
  assert_int_equal(tsr_csv_open_mem(buf, len, "t.csv", &o, &c, &e), TSR_OK);
  size_t n = 0;
  for (;;) {
    tsr_csv_record r;
    tsr_error_clear(&e);
    tsr_status st = tsr_csv_next(c, &r, &e);
    if (st == TSR_ENOTFOUND) break;
    assert_true(n < 32);
    got_rec *g = &out[n++];
    memset(g, 0, sizeof *g);
    g->st = st;
    g->line = r.line;
    if (st != TSR_OK) {
      tsr_error_format(&e, g->err, sizeof g->err);
      continue;
    }
    g->nf = r.nfields;
    for (size_t k = 0; k < r.nfields && k < 16; k++)
      snprintf(g->fields[k], sizeof g->fields[k], "%s", r.fields[k].ptr);
  }
  tsr_csv_close(c);
  return n;
}

static void test_basic(void **state) {
  (void)state;
  got_rec g[32];
  const char *s = "a,b,c\n1,2,3\n";
  assert_int_equal(read_all(s, strlen(s), ',', 0, g), 2);
  assert_int_equal(g[0].nf, 3);
  assert_string_equal(g[1].fields[2], "3");
  assert_int_equal(g[1].line, 2);
}

static void test_quotes_crlf_bom(void **state) {
  (void)state;
  got_rec g[32];
  const char *s =
      "\xEF\xBB\xBFid,note\r\n"
      "1,\"he said \"\"hi\"\"\"\r\n"
      "2,\"multi\r\nline\"\r\n"
      "\r\n"
      "3,\"a,b\"\r\n"
      "4,\"\"";
  size_t n = read_all(s, strlen(s), ',', 0, g);
  assert_int_equal(n, 5);
  assert_string_equal(g[0].fields[0], "id");
  assert_string_equal(g[1].fields[1], "he said \"hi\"");
  assert_string_equal(g[2].fields[1], "multi\r\nline");
  assert_int_equal(g[2].line, 3);
  assert_int_equal(g[3].line, 6); /* after an embedded newline and a blank line */
  assert_string_equal(g[3].fields[1], "a,b");
  assert_int_equal(g[4].nf, 2);
  assert_string_equal(g[4].fields[1], "");
}

static void test_empty_fields_and_cr(void **state) {
  (void)state;
  got_rec g[32];
  const char *s = ",,\rx,\"\",y\r";
  size_t n = read_all(s, strlen(s), ',', 0, g);
  assert_int_equal(n, 2);
  assert_int_equal(g[0].nf, 3);
  assert_int_equal(g[1].nf, 3);
  assert_string_equal(g[1].fields[2], "y");
  assert_int_equal(g[1].line, 2);
}

static void test_whitespace_and_tab(void **state) {
  (void)state;
  got_rec g[32];
  const char *s = "  00001   1   19970101  1  11.77\n\n00002 2\t19970112 1 12.00  \n   \n";
  size_t n = read_all(s, strlen(s), TSR_CSV_WS, 0, g);
  assert_int_equal(n, 2);
  assert_int_equal(g[0].nf, 5);
  assert_string_equal(g[0].fields[4], "11.77");
  assert_int_equal(g[1].nf, 5);
  assert_int_equal(g[1].line, 3);
  const char *t = "a\tb\t\"c\td\"\n";
  n = read_all(t, strlen(t), '\t', 0, g);
  assert_int_equal(n, 1);
  assert_string_equal(g[0].fields[2], "c\td");
}

static void test_errors_resync(void **state) {
  (void)state;
  got_rec g[32];
  const char *s = "1,\"ab\"x,3\n2,ok\n3,\"never closed\n4,fine\n";
  size_t n = read_all(s, strlen(s), ',', 0, g);
  assert_int_equal(n, 4);
  assert_int_equal(g[0].st, TSR_EPARSE);
  assert_string_equal(g[0].err, "t.csv:1:7: error: unexpected character after closing quote");
  assert_int_equal(g[1].st, TSR_OK);
  assert_string_equal(g[1].fields[1], "ok");
  /* the unterminated quote runs to EOF: rejected, resume at the next line */
  assert_int_equal(g[2].st, TSR_EPARSE);
  assert_string_equal(g[2].err, "t.csv:3:3: error: unterminated quoted field");
  assert_int_equal(g[3].st, TSR_OK);
  assert_string_equal(g[3].fields[0], "4");
  assert_int_equal(g[3].line, 4);
}

static void test_field_limit(void **state) {
  (void)state;
  got_rec g[32];
  const char *s = "1,abcdefghij\n2,abc\n";
  size_t n = read_all(s, strlen(s), ',', 5, g);
  assert_int_equal(n, 2);
  assert_int_equal(g[0].st, TSR_ELIMIT);
  assert_string_equal(g[0].err, "t.csv:1:3: error: field longer than 5 bytes");
  assert_string_equal(g[1].fields[1], "abc");
}

static void test_literal_quote_in_unquoted(void **state) {
  (void)state;
  got_rec g[32];
  const char *s = "5\" screen,2\n";
  assert_int_equal(read_all(s, strlen(s), ',', 0, g), 1);
  assert_string_equal(g[0].fields[0], "5\" screen");
}

/* A file larger than the read chunk, with records straddling chunk ends. */
static void test_streaming_file(void **state) {
  (void)state;
  size_t nrec = 200000;
  size_t cap = nrec * 40;
  char *buf = malloc(cap);
  size_t len = 0;
  for (size_t i = 0; i < nrec; i++) {
    if (i % 3 == 0)
      len += (size_t)sprintf(buf + len, "%zu,\"q,%zu\"\r\n", i, i);
    else if (i % 3 == 1)
      len += (size_t)sprintf(buf + len, "%zu,\"l\n%zu\"\n", i, i);
    else
      len += (size_t)sprintf(buf + len, "%zu,p%zu\n", i, i);
  }
  char path[64];
  assert_non_null(tsr_test_tmpfile(buf, len, path, sizeof path));
  tsr_csv *c;
  assert_int_equal(tsr_csv_open(path, NULL, &c, NULL), TSR_OK);
  tsr_csv_record r;
  size_t i = 0;
  int64_t line = 1;
  while (tsr_csv_next(c, &r, NULL) == TSR_OK) {
    assert_int_equal(r.nfields, 2);
    assert_int_equal(strtoull(r.fields[0].ptr, NULL, 10), i);
    assert_int_equal(r.line, line);
    char want[64];
    if (i % 3 == 0) sprintf(want, "q,%zu", i);
    else if (i % 3 == 1) sprintf(want, "l\n%zu", i);
    else sprintf(want, "p%zu", i);
    assert_string_equal(r.fields[1].ptr, want);
    line += (i % 3 == 1) ? 2 : 1;
    i++;
  }
  assert_int_equal(i, nrec);
  assert_int_equal(tsr_csv_bytes_read(c), (int64_t)len);
  tsr_csv_close(c);
  unlink(path);
  free(buf);
}


/* ---- the zero-copy reader (tsr__csv_next_span) against tsr_csv_next ---- */

/* Reads a and b in lockstep, one with each reader, and asserts identical
 * records, fields, positions and errors. Returns the record count. */
static size_t same_records(tsr_csv *a, tsr_csv *b) {
  size_t n = 0;
  for (;;) {
    tsr_csv_record ra, rb;
    tsr_error ea, eb;
    tsr_error_clear(&ea);
    tsr_error_clear(&eb);
    tsr_status sa = tsr_csv_next(a, &ra, &ea);
    tsr_status sb = tsr__csv_next_span(b, &rb, &eb);
    assert_int_equal(sa, sb);
    if (sa == TSR_ENOTFOUND) break;
    n++;
    assert_int_equal(ra.line, rb.line);
    assert_int_equal(ra.end_line, rb.end_line);
    assert_int_equal(ra.offset, rb.offset);
    assert_int_equal(ra.raw_len, rb.raw_len);
    assert_memory_equal(ra.raw, rb.raw, ra.raw_len);
    if (sa != TSR_OK) {
      assert_int_equal(ea.line, eb.line);
      assert_int_equal(ea.column, eb.column);
      assert_string_equal(ea.msg, eb.msg);
      continue;
    }
    assert_int_equal(ra.nfields, rb.nfields);
    for (size_t k = 0; k < ra.nfields; k++) {
      const tsr_csv_field *fa = &ra.fields[k], *fb = &rb.fields[k];
      assert_int_equal(fa->len, fb->len);
      assert_memory_equal(fa->ptr, fb->ptr, fa->len);
      assert_int_equal(fa->line, fb->line);
      assert_int_equal(fa->column, fb->column);
      assert_int_equal(fa->quoted, fb->quoted);
    }
  }
  assert_int_equal(tsr_csv_bytes_read(a), tsr_csv_bytes_read(b));
  return n;
}

/* Random text mostly made of plain records, with quotes, CRLF, lone CR,
 * blank lines, NULs and long fields mixed in. */
static size_t random_csv(char *buf, size_t len, unsigned seed) {
  static const char alpha[] = "abc012,,,,;\t  \n\n\n\r\"\"\0x";
  unsigned x = seed * 2654435761u + 1;
  for (size_t i = 0; i < len; i++) {
    x = x * 1103515245u + 12345u;
    unsigned r = (x >> 16) & 1023;
    if (r < 900) {
      buf[i] = (r % 37 == 0) ? '\n' : (r % 5 == 0) ? ',' : (char)('a' + r % 26);
    } else {
      buf[i] = alpha[r % (sizeof alpha - 1)];
    }
    if (r == 1000 && i + 3 < len) { buf[i++] = '\r'; buf[i] = '\n'; }
  }
  return len;
}

static void test_span_reader_same(void **state) {
  (void)state;
  static const int delims[] = {',', ';', '\t', TSR_CSV_WS};
  size_t len = 20000;
  char *buf = malloc(len);
  for (unsigned seed = 1; seed <= 60; seed++) {
    random_csv(buf, len, seed);
    for (size_t d = 0; d < TSR__ARRAY_LEN(delims); d++) {
      tsr_csv_opts o;
      tsr_csv_opts_init(&o);
      o.delim = delims[d];
      o.max_field = 40 + seed; /* reach the field limit now and then */
      o.max_fields = 4 + seed % 8;
      tsr_csv *a, *b;
      assert_int_equal(tsr_csv_open_mem(buf, len, "r.csv", &o, &a, NULL), TSR_OK);
      assert_int_equal(tsr_csv_open_mem(buf, len, "r.csv", &o, &b, NULL), TSR_OK);
      assert_true(same_records(a, b) > 0);
      tsr_csv_close(a);
      tsr_csv_close(b);
    }
  }
  free(buf);
}

/* Files over the 1 MiB read chunk: records straddle chunk ends, with a CRLF
 * split exactly at the first chunk end and a quoted newline across the
 * second. */
static void test_span_reader_chunks(void **state) {
  (void)state;
  const size_t chunk = (size_t)1 << 20;
  size_t cap = 3 * chunk + 4096, len = 0;
  char *buf = malloc(cap);
  len += (size_t)sprintf(buf, "\xEF\xBB\xBF" "id,val\r\n");
  for (size_t i = 0; len + 64 < chunk; i++)
    len += (size_t)sprintf(buf + len, "%zu,v%zu\r\n", i, i * 7);
  /* pad so that the CR of this record is the chunk's last byte */
  size_t r = chunk - len;
  buf[len++] = 'z';
  buf[len++] = ',';
  memset(buf + len, 'y', r - 3);
  len += r - 3;
  buf[len++] = '\r';
  assert_int_equal(len, chunk);
  buf[len++] = '\n';
  for (size_t i = 0; len + 64 < 2 * chunk; i++)
    len += (size_t)sprintf(buf + len, "%zu,w%zu\n", i, i);
  /* a quoted field whose embedded newline straddles the second boundary */
  r = 2 * chunk - len;
  buf[len++] = 'q';
  buf[len++] = ',';
  buf[len++] = '"';
  memset(buf + len, 'k', r - 4);
  len += r - 4;
  buf[len++] = '\n';
  assert_int_equal(len, 2 * chunk);
  len += (size_t)sprintf(buf + len, "tail\",x\n");
  for (size_t i = 0; i < 1000; i++) len += (size_t)sprintf(buf + len, "%zu,\"a\"\"b\",c\r\n", i);
  len += (size_t)sprintf(buf + len, "last,no-newline");
  char path[64];
  assert_non_null(tsr_test_tmpfile(buf, len, path, sizeof path));
  tsr_csv *a, *b;
  assert_int_equal(tsr_csv_open(path, NULL, &a, NULL), TSR_OK);
  assert_int_equal(tsr_csv_open(path, NULL, &b, NULL), TSR_OK);
  size_t n = same_records(a, b);
  assert_true(n > 100000);
  tsr_csv_close(a);
  tsr_csv_close(b);
  /* and random text over several chunks */
  random_csv(buf, cap, 99);
  unlink(path);
  assert_non_null(tsr_test_tmpfile(buf, cap, path, sizeof path));
  assert_int_equal(tsr_csv_open(path, NULL, &a, NULL), TSR_OK);
  assert_int_equal(tsr_csv_open(path, NULL, &b, NULL), TSR_OK);
  same_records(a, b);
  tsr_csv_close(a);
  tsr_csv_close(b);
  unlink(path);
  free(buf);
}

static void test_open_missing(void **state) {
  (void)state;
  tsr_csv *c;
  tsr_error e;
  assert_int_equal(tsr_csv_open("/nonexistent/x.csv", NULL, &c, &e), TSR_EIO);
  char b[256];
  tsr_error_format(&e, b, sizeof b);
  assert_string_equal(b, "/nonexistent/x.csv: error: cannot open: No such file or directory");
}

static void test_table(void **state) {
  (void)state;
  const char *s = "customer_id,frequency,recency\nA,1,2.5\nB,0,x\n";
  tsr_table *t;
  tsr_error e;
  assert_int_equal(tsr_table_read_mem(s, strlen(s), "s.csv", &t, &e), TSR_OK);
  assert_int_equal(tsr_table_nrows(t), 2);
  assert_int_equal(tsr_table_find(t, "recency"), 2);
  double *v;
  assert_int_equal(tsr_table_get_double(t, "frequency", &v, &e), TSR_OK);
  assert_near(v[0], 1.0, 0);
  free(v);
  assert_int_equal(tsr_table_get_double(t, "recency", &v, &e), TSR_EPARSE);
  char b[256];
  assert_string_equal(tsr_error_format(&e, b, sizeof b),
                      "s.csv:3:3: error: recency: expected a number, got 'x'");
  tsr_table_free(t);
  const char *bad = "a,b\n1\n";
  assert_int_equal(tsr_table_read_mem(bad, strlen(bad), "s.csv", &t, &e), TSR_EPARSE);
  assert_string_equal(tsr_error_format(&e, b, sizeof b),
                      "s.csv:2:1: error: expected 2 fields as in the header, got 1");
}

/* tsr__csv_next_fast's 2 (a field starts or ends with ' ', tab, VT or FF)
 * against a look at every field: random records of short fields over
 * every alignment to the 16-byte blocks (edges beside delimiters at block
 * ends, at the record's first and last byte, CRLF, empty fields, tab as
 * delimiter), and the same fields as tsr_csv_next. */
static void test_fast_trim_flag(void **state) {
  (void)state;
  static const int delims[] = {',', '\t', ';', ' '};
  static const char alpha[] = "ab ab\t\v\f.,;";
  char buf[4096];
  unsigned x = 12345;
  size_t n1 = 0, n2 = 0;
  for (size_t d = 0; d < TSR__ARRAY_LEN(delims); d++) {
    for (int round = 0; round < 300; round++) {
      size_t len = (size_t)round % 17; /* shifts the records against the blocks */
      memset(buf, 'p', len);
      buf[len++] = '\n';
      while (len < sizeof buf - 200) {
        int nf = 1 + (int)((x = x * 1103515245u + 12345u) >> 16) % 6;
        for (int f = 0; f < nf; f++) {
          if (f) buf[len++] = (char)delims[d];
          int fl = (int)((x = x * 1103515245u + 12345u) >> 16) % 21;
          for (int k = 0; k < fl; k++) {
            char ch = alpha[((x = x * 1103515245u + 12345u) >> 16) % (sizeof alpha - 1)];
            buf[len++] = ch;
          }
        }
        if (((x = x * 1103515245u + 12345u) >> 16) % 4 == 0) buf[len++] = '\r';
        buf[len++] = '\n';
      }
      tsr_csv_opts o;
      tsr_csv_opts_init(&o);
      o.delim = delims[d];
      tsr_csv *a, *b;
      assert_int_equal(tsr_csv_open_mem(buf, len, "t.csv", &o, &a, NULL), TSR_OK);
      assert_int_equal(tsr_csv_open_mem(buf, len, "t.csv", &o, &b, NULL), TSR_OK);
      tsr_csv_record ra, rb;
      assert_int_equal(tsr_csv_next(a, &ra, NULL), TSR_OK); /* the first record */
      assert_int_equal(tsr_csv_next(b, &rb, NULL), TSR_OK);
      for (;;) {
        int r = tsr__csv_next_fast(a, &ra);
        tsr_status sb = tsr_csv_next(b, &rb, NULL);
        if (!r) {
          /* blank lines and lone CRs only: the same record then */
          tsr_status sa = tsr_csv_next(a, &ra, NULL);
          assert_int_equal(sa, sb);
          if (sa == TSR_ENOTFOUND) break;
          continue;
        }
        assert_int_equal(sb, TSR_OK);
        assert_int_equal(ra.nfields, rb.nfields);
        assert_int_equal(ra.line, rb.line);
        int edge = 0;
        for (size_t k = 0; k < ra.nfields; k++) {
          const tsr_csv_field *f = &ra.fields[k];
          assert_int_equal(f->len, rb.fields[k].len);
          assert_memory_equal(f->ptr, rb.fields[k].ptr, f->len);
          assert_int_equal(f->column, rb.fields[k].column);
          if (f->len && (isspace((unsigned char)f->ptr[0]) || isspace((unsigned char)f->ptr[f->len - 1])))
            edge = 1;
        }
        assert_int_equal(r, edge ? 2 : 1);
        if (edge) n2++;
        else n1++;
      }
      tsr_csv_close(a);
      tsr_csv_close(b);
    }
  }
  assert_true(n1 > 1000 && n2 > 1000);
}


/* tsr__csv_next_lean in both builds (AVX2 where the CPU has it, and SSE2)
 * against tsr_csv_next: the fields asked for (and every field of a record
 * of another field count or with a space at a field's end), the return
 * (2: a field starts or ends with a space byte), positions; over random
 * text (quotes, CR, NULs, limits) and long records of short fields that
 * cross the 64-byte windows at every alignment. */
static void lean_same(const char *buf, size_t len, const tsr_csv_opts *o, int avx2, uint64_t want,
                      size_t expect, size_t *counts) {
  tsr_csv *a, *b;
  assert_int_equal(tsr_csv_open_mem(buf, len, "l.csv", o, &a, NULL), TSR_OK);
  assert_int_equal(tsr_csv_open_mem(buf, len, "l.csv", o, &b, NULL), TSR_OK);
  tsr__csv_set_avx2(a, avx2);
  for (;;) {
    tsr_csv_record ra, rb;
    tsr_error ea, eb;
    int r = tsr__csv_next_lean(a, &ra, want, expect);
    tsr_status sa = r ? TSR_OK : tsr_csv_next(a, &ra, &ea);
    tsr_status sb = tsr_csv_next(b, &rb, &eb);
    assert_int_equal(sa, sb);
    if (sa == TSR_ENOTFOUND) break;
    assert_int_equal(ra.line, rb.line);
    assert_int_equal(ra.offset, rb.offset);
    assert_int_equal(ra.raw_len, rb.raw_len);
    assert_memory_equal(ra.raw, rb.raw, ra.raw_len);
    if (sa != TSR_OK) continue;
    assert_int_equal(ra.nfields, rb.nfields);
    if (!r) continue;
    int edge = 0;
    for (size_t k = 0; k < rb.nfields; k++) {
      const tsr_csv_field *f = &rb.fields[k];
      if (f->len && (f->ptr[0] == ' ' || f->ptr[0] == '\t' || f->ptr[0] == '\v' ||
                     f->ptr[0] == '\f' || f->ptr[f->len - 1] == ' ' ||
                     f->ptr[f->len - 1] == '\t' || f->ptr[f->len - 1] == '\v' ||
                     f->ptr[f->len - 1] == '\f') &&
          !(o->delim == ' ' || o->delim == '\t'))
        edge = 1;
    }
    if (o->delim != ' ' && o->delim != '\t') assert_int_equal(r, edge ? 2 : 1);
    const int all = r == 2 || ra.nfields != expect || ra.nfields > 64 || want == ~(uint64_t)0;
    for (size_t k = 0; k < rb.nfields; k++) {
      if (!all && (k >= 64 || !((want >> k) & 1))) continue;
      const tsr_csv_field *fa = &ra.fields[k], *fb = &rb.fields[k];
      assert_int_equal(fa->len, fb->len);
      assert_memory_equal(fa->ptr, fb->ptr, fa->len);
      assert_int_equal(fa->line, fb->line);
      assert_int_equal(fa->column, fb->column);
      assert_int_equal(fa->quoted, 0);
    }
    counts[r - 1]++;
  }
  tsr_csv_close(a);
  tsr_csv_close(b);
}

static void test_lean_reader(void **state) {
  (void)state;
  static const int delims[] = {',', ';', '\t', ' '};
  static const uint64_t wants[] = {~(uint64_t)0, 0x1, 0xA, 0x13, (uint64_t)1 << 63 | 0x4};
  static const char alpha[] = "abcdefgh ab\t\v\f\x01.,;";
  size_t len = 30000, counts[2] = {0, 0};
  char *buf = malloc(len);
  unsigned x = 777;
  for (int avx2 = 0; avx2 <= 1; avx2++) {
    for (unsigned seed = 1; seed <= 12; seed++) {
      random_csv(buf, len, seed);
      for (size_t d = 0; d < TSR__ARRAY_LEN(delims); d++) {
        tsr_csv_opts o;
        tsr_csv_opts_init(&o);
        o.delim = delims[d];
        o.max_field = 40 + seed;
        o.max_fields = 4 + seed % 8;
        for (size_t w = 0; w < TSR__ARRAY_LEN(wants); w++)
          lean_same(buf, len, &o, avx2, wants[w], seed % 5, counts);
      }
    }
    for (size_t d = 0; d < TSR__ARRAY_LEN(delims); d++) {
      for (int round = 0; round < 24; round++) {
        /* records of 1-70 short fields, shifted against the windows */
        size_t n = (size_t)round % 67;
        memset(buf, 'p', n);
        buf[n++] = '\n';
        while (n < len - 2000) {
          int nf = 1 + (int)((x = x * 1103515245u + 12345u) >> 16) % 70;
          for (int f = 0; f < nf; f++) {
            if (f) buf[n++] = (char)delims[d];
            int fl = (int)((x = x * 1103515245u + 12345u) >> 16) % 9;
            for (int k = 0; k < fl; k++) {
              unsigned q = (x = x * 1103515245u + 12345u) >> 16;
              buf[n++] = q % 8 ? (char)('a' + q % 7) : alpha[q % (sizeof alpha - 1)];
            }
          }
          if (((x = x * 1103515245u + 12345u) >> 16) % 4 == 0) buf[n++] = '\r';
          buf[n++] = '\n';
        }
        tsr_csv_opts o;
        tsr_csv_opts_init(&o);
        o.delim = delims[d];
        for (size_t w = 0; w < TSR__ARRAY_LEN(wants); w++)
          lean_same(buf, n, &o, avx2, wants[w], (size_t)round % 9 * 8, counts);
      }
    }
  }
  free(buf);
  assert_true(counts[0] > 1000 && counts[1] > 1000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_basic),
      cmocka_unit_test(test_quotes_crlf_bom),
      cmocka_unit_test(test_empty_fields_and_cr),
      cmocka_unit_test(test_whitespace_and_tab),
      cmocka_unit_test(test_errors_resync),
      cmocka_unit_test(test_field_limit),
      cmocka_unit_test(test_literal_quote_in_unquoted),
      cmocka_unit_test(test_streaming_file),
      cmocka_unit_test(test_span_reader_same),
      cmocka_unit_test(test_span_reader_chunks),
      cmocka_unit_test(test_fast_trim_flag),
      cmocka_unit_test(test_lean_reader),
      cmocka_unit_test(test_open_missing),
      cmocka_unit_test(test_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
