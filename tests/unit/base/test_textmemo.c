/* test_textmemo.c - values per distinct text (lib/base/textmemo.c): a text
 * kept once and found again with its values, texts of equal hash bucket
 * and length told apart by their bytes, empty and over-long texts not
 * kept, at most TSR__TEXT_MEMO_MAX texts, a memo without memory. */
#include "tsr_test.h"
#include "base/textmemo.h"

#include <stdio.h>
#include <string.h>

static void test_memo(void **state) {
  (void)state;
  tsr__text_memo m;
  tsr__text_memo_init(&m);
  assert_non_null(m.slot);
  int found = 7;
  tsr__text_entry *e = tsr__text_memo_get(&m, "I need help.", 12, &found);
  assert_non_null(e);
  assert_int_equal(found, 0);
  e->value = -0.25, e->flag = 1;
  /* the same bytes elsewhere: found, values kept */
  char copy[] = "xI need help.";
  tsr__text_entry *f = tsr__text_memo_get(&m, copy + 1, 12, &found);
  assert_int_equal(found, 1);
  assert_ptr_equal(f, e);
  assert_true(f->value == -0.25 && f->flag == 1);
  /* a prefix, one byte changed: other entries */
  assert_ptr_not_equal(tsr__text_memo_get(&m, "I need help", 11, &found), e);
  assert_int_equal(found, 0);
  assert_ptr_not_equal(tsr__text_memo_get(&m, "I need helP.", 12, &found), e);
  assert_int_equal(found, 0);
  /* empty and longer than 255 bytes: not kept */
  char longt[300];
  memset(longt, 'a', sizeof longt);
  assert_null(tsr__text_memo_get(&m, "", 0, &found));
  assert_int_equal(found, 0);
  assert_non_null(tsr__text_memo_get(&m, longt, 255, &found));
  assert_null(tsr__text_memo_get(&m, longt, 256, &found));
  assert_int_equal(found, 0);
  /* fill up: TSR__TEXT_MEMO_MAX texts kept, the next not; every kept one
   * found again with its value */
  size_t kept = m.n;
  char b[32];
  for (size_t i = 0; kept < TSR__TEXT_MEMO_MAX; i++, kept++) {
    int k = snprintf(b, sizeof b, "text %zu", i);
    tsr__text_entry *t = tsr__text_memo_get(&m, b, (size_t)k, &found);
    assert_non_null(t);
    assert_int_equal(found, 0);
    t->value = (double)i;
  }
  assert_null(tsr__text_memo_get(&m, "one more", 8, &found));
  assert_int_equal(found, 0);
  for (size_t i = 0; i < TSR__TEXT_MEMO_MAX - 4; i++) {
    int k = snprintf(b, sizeof b, "text %zu", i);
    tsr__text_entry *t = tsr__text_memo_get(&m, b, (size_t)k, &found);
    assert_int_equal(found, 1);
    assert_true(t->value == (double)i);
  }
  assert_true(tsr__text_memo_get(&m, "I need help.", 12, &found) == e && found);
  tsr__text_memo_release(&m);
  assert_null(m.slot);
  /* released (as without memory): nothing kept */
  assert_null(tsr__text_memo_get(&m, "I need help.", 12, &found));
  assert_int_equal(found, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_memo)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
