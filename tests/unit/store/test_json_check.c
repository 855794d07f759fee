/* test_json_check.c - tsr__json_surely_valid (store/json_check.c) says yes
 * only to text jansson accepts (json_loads with JSON_DECODE_ANY |
 * JSON_ALLOW_NUL): against jansson on hand-made edge cases and on many
 * random texts made of JSON pieces and mutations; and it does say yes to
 * ordinary JSON (profiles, parameters), so the store's check skips
 * jansson for them. Through the store: an invalid extra is still refused
 * with jansson's message. */
#include "tsr_test.h"
#include "store_int.h"
#include "tessera/store.h"

#include <jansson.h>

static int jansson_ok(const char *s) {
  json_error_t je;
  json_t *j = json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
  json_decref(j);
  return j != NULL;
}

/* fast yes => jansson yes; want: the fast verdict expected (-1: either) */
static void check(const char *s, int want) {
  int f = tsr__json_surely_valid(s);
  if (f && !jansson_ok(s)) fail_msg("surely valid but jansson refuses: '%s'", s);
  if (want >= 0 && f != want) fail_msg("'%s': got %d, want %d", s, f, want);
}

static void test_json_cases(void **state) {
  (void)state;
  /* ordinary JSON: yes */
  static const char *const yes[] = {
      "{}", "[]", "0", "-0", "1.5", "-12.25e-3", "1E+10", "true", "false", "null", "\"\"",
      " \t\r\n{ \"a\" : [ 1 , 2.0 , -3e2 , true , false , null , \"x\" ] } \n",
      "{\"profile\":1,\"age\":41.25,\"gender\":\"f\",\"products\":[\"a\",\"b\"],\"revenue\":0.00}",
      "{\"s\":\"tab\\t nl\\n q\\\" bs\\\\ sl\\/ \\b\\f\\r \\u00e9 \\u20AC \\uFFFF\"}",
      "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf\"",
      "[[[[[[[[[[1]]]]]]]]]]", "{\"a\":{\"b\":{\"c\":{}}}}", "[{},[],{\"\":\"\"}]",
      "123456789012345678", "-123456789012345678", "1e299", "123.456e200", "1e-9999",
      "{\"a\":1,\"a\":2}", "\"\x7f\"",
  };
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) check(yes[i], 1);
  /* invalid, or valid but left to jansson: no */
  static const char *const no[] = {
      "", " ", "{", "}", "[", "]", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}",
      "{a:1}", "{1:1}", "[1 2]", "01", "-", "-a", "1.", ".5", "1e", "1e+", "+1", "0x10",
      "tru", "truex", "nul", "nulll", "True", "NaN", "Infinity", "\"abc", "\"a\nb\"",
      "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\u0000\"", "{\"\\u0000\":1}", "\"\\uD800\"",
      "\"\\uDC00\"", "\"\\uD83D\\uDE00\"", "\"\xc0\xaf\"", "\"\xc1\xbf\"", "\"\xe0\x80\xaf\"",
      "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xf5\x80\x80\x80\"", "\"\x80\"",
      "\"\xc3\"", "\"\xe2\x82\"", "1 2", "{} {}", "[] x", "1234567890123456789",
      "-1234567890123456789", "1e301", "1e12345", "123456789.0e292", "/* c */ 1",
      "'a'", "[1]]", "{\"a\":1}}",
  };
  for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) check(no[i], 0);
  assert_int_equal(tsr__json_surely_valid(NULL), 0);
  /* nesting: 64 deep yes, 65 left to jansson */
  char deep[200];
  memset(deep, '[', 64);
  memset(deep + 64, ']', 64);
  deep[128] = '\0';
  check(deep, 1);
  memset(deep, '[', 65);
  memset(deep + 65, ']', 65);
  deep[130] = '\0';
  check(deep, 0);
}

/* random texts of JSON pieces, then mutated: never yes where jansson says
 * no; and unmutated ones are mostly yes */
static void test_json_random(void **state) {
  (void)state;
  static const char *const piece[] = {
      "{", "}", "[", "]", ",", ":", " ", "\"k\"", "\"v\\n\"", "\"\\u00e9\"", "\"\\uD800\"",
      "\"\xc3\xa9\"", "\"\xed\xa0\x80\"", "0", "-1", "2.50", "1e5", "-0.0e-2", "01", "1.",
      "true", "false", "null", "nul", "\"", "\\", "\t", "\n", "99999999999999999999",
      "\"\\u0000\"", "x", "\x01", "\"\x01\"", "-", "e", ".",
  };
  const size_t np = sizeof piece / sizeof piece[0];
  uint64_t s = 42;
  char buf[512];
  int yes = 0, valid = 0;
  for (int it = 0; it < 300000; it++) {
    size_t k = 0, n = 1 + tsr__splitmix64(&s) % 12;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
      const char *p = piece[tsr__splitmix64(&s) % np];
      size_t l = strlen(p);
      if (k + l + 1 >= sizeof buf) break;
      memcpy(buf + k, p, l + 1);
      k += l;
    }
    check(buf, -1);
    /* well-formed: a generated object of values */
    uint64_t r = tsr__splitmix64(&s);
    snprintf(buf, sizeof buf, "{\"a\":%s,\"b\":[%s,%s],\"c\":{\"d\":%s}}", piece[13 + r % 10],
             piece[7 + (r >> 8) % 6], piece[13 + (r >> 16) % 10], piece[20 + (r >> 24) % 3]);
    int j = jansson_ok(buf), f = tsr__json_surely_valid(buf);
    if (f && !j) fail_msg("surely valid but jansson refuses: '%s'", buf);
    valid += j;
    yes += f;
    /* one byte changed, dropped or doubled */
    size_t len = strlen(buf), at = (size_t)(r >> 32) % len;
    switch ((r >> 40) % 3) {
      case 0: buf[at] = (char)(r >> 48); break;
      case 1: memmove(buf + at, buf + at + 1, len - at); break;
      default:
        memmove(buf + at + 1, buf + at, len - at + 1);
        break;
    }
    check(buf, -1);
  }
  /* the generated objects jansson accepts are nearly all surely valid
   * (only \u surrogates and NULs go to jansson) */
  assert_true(valid > 50000);
  assert_true(yes > valid * 8 / 10);
}

/* through the store: invalid extra text still refused with jansson's words */
/* The string scanner reads 8 bytes at a time: a byte it must look at
 * (control character, '"', '\\', UTF-8 good or bad) at every place of
 * strings of 0..40 bytes, in objects, against jansson and the verdict
 * expected. */
static void test_json_string_words(void **state) {
  (void)state;
  static const struct {
    const char *ins;
    int ok;
  } b[] = {{"\x01", 0}, {"\x1f", 0}, {"\t", 0},  {"\n", 0},     {"\\\"", 1},       {"\\\\", 1},
           {"\\n", 1}, {"\\x", 0}, {"\\", 0}, {"\xc3\xa9", 1}, {"\xe2\x82\xac", 1}, {"\xc3", 0},
           {"\xff", 0}, {"\xc0\x80", 0}, {"\x80", 0}, {"\"", 0}, {"\x7f", 1}, {" ", 1}};
  char s[128];
  for (size_t k = 0; k < sizeof b / sizeof b[0]; k++)
    for (int len = 0; len <= 40; len++)
      for (int at = 0; at <= len; at++) {
        int n = 0;
        n += snprintf(s + n, sizeof s - (size_t)n, "{\"k\":\"");
        for (int i = 0; i < at; i++) s[n++] = (char)('a' + i % 26);
        n += snprintf(s + n, sizeof s - (size_t)n, "%s", b[k].ins);
        for (int i = at; i < len; i++) s[n++] = (char)('A' + i % 26);
        snprintf(s + n, sizeof s - (size_t)n, "\",\"n\":%d}", len);
        check(s, b[k].ok);
      }
}

static void test_json_store(void **state) {
  (void)state;
  tsr_store *st = NULL;
  tsr_error err;
  assert_int_equal(tsr_store_open(":memory:", TSR_STORE_CREATE, &st, &err), TSR_OK);
  tsr_run run;
  memset(&run, 0, sizeof run);
  run.command = "analyze";
  int64_t id = 0;
  assert_int_equal(tsr_store_run_begin(st, &run, &id, &err), TSR_OK);
  tsr_customer c[2];
  tsr_customer_init(&c[0]);
  tsr_customer_init(&c[1]);
  c[0].customer_id = "a";
  c[0].extra = "{\"x\":[1,2,{\"y\":\"\xc3\xa9\"}]}";
  c[1].customer_id = "b";
  c[1].extra = "{\"x\":1,}";
  assert_int_equal(tsr_store_customers_add(st, id, c, 2, &err), TSR_EINVAL);
  assert_string_equal(err.field, "extra");
  assert_non_null(strstr(err.msg, "insert customers: invalid JSON at 1:"));
  c[1].extra = "{\"x\":\"\\uD83D\\uDE00\",\"z\":\"\\u0000\"}"; /* left to jansson: valid */
  assert_int_equal(tsr_store_customers_add(st, id, c, 2, &err), TSR_OK);
  tsr_store_close(st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_json_cases),
      cmocka_unit_test(test_json_random),
      cmocka_unit_test(test_json_string_words),
      cmocka_unit_test(test_json_store),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
