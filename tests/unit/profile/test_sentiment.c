/*
 * test_sentiment.c - the lexicon scorer (tessera/sentiment.h): lexicon
 * order, hand-computed compound scores, negation, intensifiers, "but".
 */
#include "tsr_test.h"
#include "tessera/sentiment.h"

static double score(const char *s) {
  tsr_sentiment_result r;
  tsr_sentiment_score(s, strlen(s), &r);
  return r.compound;
}

static void test_lexicon(void **state) {
  (void)state;
  assert_true(tsr_sentiment_lexicon_size() >= 250);
  assert_near(tsr_sentiment_valence("great", 5), 3.1, 1e-12);
  assert_near(tsr_sentiment_valence("terrible", 8), -3.0, 1e-12);
  assert_near(tsr_sentiment_valence("mortgage", 8), 0, 1e-12);
  /* every entry is found by the binary search (the list is sorted) */
  static const char *const some[] = {"abandon", "happy", "wrongly", "unacceptable", "ok"};
  for (size_t i = 0; i < 5; i++) assert_true(tsr_sentiment_valence(some[i], strlen(some[i])) != 0);
  /* the first and last entries, each first letter, near misses */
  static const struct { const char *w; double v; } cases[] = {
      {"abandon", -1.9}, {"yay", 2.4}, {"bad", -2.5}, {"calm", 1.3}, {"damage", -2.0},
      {"eager", 1.5}, {"fabulous", 3.0}, {"glad", 2.0}, {"idiot", -2.3}, {"joke", -1.0},
      {"kind", 2.0}, {"late", -1.0}, {"mad", -2.2}, {"nice", 1.8}, {"ok", 0.9}, {"pathetic", -2.6},
      {"quick", 1.3}, {"recommend", 1.5}, {"sad", -2.1}, {"thank", 1.5}, {"ugly", -2.1},
      {"valuable", 2.1}, {"warm", 1.2}, {"aaa", 0}, {"zzz", 0}, {"abandons", 0}, {"yaz", 0},
      {"goo", 0}, {"goods", 0}, {"a", 0}, {"unsafe", -2.0}, {"unsaf", 0}, {"unsafer", 0}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    assert_near(tsr_sentiment_valence(cases[i].w, strlen(cases[i].w)), cases[i].v, 1e-12);
}

static void test_scores(void **state) {
  (void)state;
  /* one word: s = 3.1, compound = 3.1 / sqrt(3.1^2 + 15) */
  assert_near(score("great"), 3.1 / sqrt(3.1 * 3.1 + 15), 1e-12);
  /* intensifier: 3.1 + 0.293 */
  double s = 3.1 + 0.293;
  assert_near(score("very great"), s / sqrt(s * s + 15), 1e-12);
  /* negation: 2.7 * -0.74 */
  s = -0.74 * 2.7;
  assert_near(score("I am not happy"), s / sqrt(s * s + 15), 1e-12);
  /* "doesn't" is a negation too */
  s = -0.74 * 0.6;
  assert_near(score("it doesn't work, it never works"), s / sqrt(s * s + 15), 1e-12);
  /* but: before x0.5, after x1.5 */
  s = 0.5 * 1.9 + 1.5 * -2.5;
  assert_near(score("good app but bad service"), s / sqrt(s * s + 15), 1e-12);
  /* exclamation marks add 0.292 each toward the sign */
  s = -2.9 - 2 * 0.292;
  assert_near(score("Unacceptable!!"), s / sqrt(s * s + 15), 1e-12);
  /* capitals for emphasis in mixed-case text */
  s = -3.0 - 0.733;
  assert_near(score("This is TERRIBLE service"), s / sqrt(s * s + 15), 1e-12);
  /* no lexicon word: exactly 0, neutral; "would like" is a request */
  assert_near(score("Please send me the documents for the mortgage."), 0, 0);
  assert_near(score("I would like to ask about my card"), 0, 0);
  /* negated problems read positive */
  assert_true(score("Thanks - no problems anymore, everything works fine now.") > 0.5);
  assert_int_equal(tsr_sentiment_classify(0.3, 0.05), TSR_SENTIMENT_POSITIVE);
  assert_int_equal(tsr_sentiment_classify(-0.05, 0.05), TSR_SENTIMENT_NEGATIVE);
  assert_int_equal(tsr_sentiment_classify(0.01, 0.05), TSR_SENTIMENT_NEUTRAL);
  assert_string_equal(tsr_sentiment_label_name(TSR_SENTIMENT_NEGATIVE), "negative");
  /* empty and non-ASCII text are safe */
  assert_near(score(""), 0, 0);
  assert_near(score("Très bien — ça marche"), 0, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_lexicon), cmocka_unit_test(test_scores)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
