/*
 * test_intern.c - the interning table of lib/profile (profile_internal.h):
 * dense indices in order of first sight across rehashes, lengths kept, the
 * one-entry cache of tsr__intern_get_last, strings with a NUL byte.
 */
#include "tsr_test.h"
#include "internal.h"
#include "profile/profile_internal.h"

static void test_intern(void **state) {
  (void)state;
  tsr__intern t = {0};
  char s[32];
  uint32_t idx, last = 0;
  enum { N = 20000 };
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < N; i++) {
      /* ids of many lengths; in round 1 each is found, not added */
      int len = snprintf(s, sizeof s, "%.*sC%d", i % 7, "xxxxxxx", i);
      assert_int_equal(tsr__intern_get(&t, s, (size_t)len, &idx), 0);
      assert_int_equal(idx, (uint32_t)i);
      assert_int_equal(t.n, round ? (size_t)N : (size_t)i + 1);
    }
  assert_int_equal(t.n, N);
  assert_string_equal(tsr__intern_str(&t, 12345), "xxxxC12345");
  /* a prefix or an extension of a stored string is another string */
  assert_int_equal(tsr__intern_get(&t, "C1", 1, &idx), 0);
  assert_int_equal(idx, N);
  assert_int_equal(tsr__intern_get(&t, "C0x", 3, &idx), 0);
  assert_int_equal(idx, N + 1);
  /* a NUL byte inside: never found, added again (as a stored string ends there) */
  assert_int_equal(tsr__intern_get(&t, "ab\0c", 4, &idx), 0);
  assert_int_equal(idx, N + 2);
  assert_int_equal(tsr__intern_get(&t, "ab\0c", 4, &idx), 0);
  assert_int_equal(idx, N + 3);
  /* the cache: the same string again, then another one, then back */
  assert_int_equal(tsr__intern_get_last(&t, "C7", 2, &last, &idx), 0);
  assert_int_equal(idx, 7);
  assert_int_equal(last, 8);
  assert_int_equal(tsr__intern_get_last(&t, "C7", 2, &last, &idx), 0);
  assert_int_equal(idx, 7);
  assert_int_equal(tsr__intern_get_last(&t, "C70", 3, &last, &idx), 0); /* longer */
  assert_int_equal(idx, 70);
  assert_int_equal(tsr__intern_get_last(&t, "C7", 2, &last, &idx), 0); /* shorter */
  assert_int_equal(idx, 7);
  assert_int_equal(tsr__intern_get_last(&t, "C0", 2, &last, &idx), 0); /* same length */
  assert_int_equal(idx, 0);
  assert_int_equal(last, 1);
  assert_int_equal(tsr__intern_get_last(&t, "new", 3, &last, &idx), 0);
  assert_int_equal(idx, N + 4);
  assert_int_equal(last, N + 5);
  assert_int_equal(t.len[N + 4], 3);
  assert_int_equal(t.len[N + 2], 2); /* up to the NUL */
  tsr__intern_release(&t);
  /* out of memory while adding: -1 */
  tsr__alloc_fail_after(0);
  assert_int_equal(tsr__intern_get(&t, "a", 1, &idx), -1);
  tsr__alloc_fail_after(-1);
  tsr__intern_release(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_intern)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
