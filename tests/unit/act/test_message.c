/*
 * test_message.c - message templates (tessera/message.h): fields, defaults,
 * conditionals, plurals, channel rules and limits, parse errors.
 */
#include "tsr_test.h"
#include "tessera/message.h"

static const char TPL[] =
    "# comment\n"
    "[offer=O1 segment=champions channel=email variant=a]\n"
    "Dear {first_name},\n"
    "{if clv_tier=high}Thank you for your loyalty. {else}Hello. {end}You hold {n_products} {plural n_products product products}.\n"
    "[offer=O1 segment=* channel=sms variant=a]\n"
    "{first_name|Hi}: {offer_name} {{now}}\n"
    "[offer=* segment=* channel=push variant=p]\n"
    "Hi {first_name}, see {product} and {next_best_product}.\n"
    "[offer=* segment=* channel=sms variant=long]\n"
    "{offer_name} {offer_name} {offer_name} {offer_name} {offer_name} {offer_name} {offer_name} {offer_name}\n";

static void test_render(void **state) {
  (void)state;
  tsr_msg_templates *t = NULL;
  tsr_error e;
  tsr_error_clear(&e);
  assert_int_equal(tsr_msg_templates_parse(TPL, strlen(TPL), "t.txt", &t, &e), TSR_OK);
  assert_int_equal(tsr_msg_templates_count(t), 4);
  size_t idx[4];
  assert_int_equal(tsr_msg_match(t, "O1", "champions", TSR_CHANNEL_EMAIL, idx, 4), 1);
  assert_int_equal(idx[0], 0);
  tsr_msg_fields f = {"Anna", "credit_card", "champions", "high", "savings", "Cashback card", 1};
  char out[512];
  assert_int_equal(tsr_msg_render(t, 0, TSR_CHANNEL_EMAIL, &f, out, sizeof out, NULL), TSR_OK);
  assert_string_equal(out, "Dear Anna,\nThank you for your loyalty. You hold 1 product.");
  f.clv_tier = "low";
  f.n_products = 3;
  assert_int_equal(tsr_msg_render(t, 0, TSR_CHANNEL_EMAIL, &f, out, sizeof out, NULL), TSR_OK);
  assert_string_equal(out, "Dear Anna,\nHello. You hold 3 products.");
  /* missing fields: documented defaults, never an empty placeholder */
  tsr_msg_fields none = {NULL, NULL, NULL, NULL, NULL, NULL, NAN};
  assert_int_equal(tsr_msg_render(t, 0, TSR_CHANNEL_EMAIL, &none, out, sizeof out, NULL), TSR_OK);
  assert_string_equal(out, "Dear there,\nHello. You hold 0 products.");
  /* sms: the specific offer template, explicit default, literal braces */
  assert_int_equal(tsr_msg_match(t, "O1", "loyal", TSR_CHANNEL_SMS, idx, 4), 1);
  assert_int_equal(idx[0], 1);
  assert_int_equal(tsr_msg_render(t, 1, TSR_CHANNEL_SMS, &none, out, sizeof out, NULL), TSR_OK);
  assert_string_equal(out, "Hi: this offer {now}");
  /* push: no personal fields (lock screen) */
  assert_int_equal(tsr_msg_match(t, "O9", NULL, TSR_CHANNEL_PUSH, idx, 4), 1);
  assert_int_equal(tsr_msg_render(t, idx[0], TSR_CHANNEL_PUSH, &f, out, sizeof out, NULL), TSR_OK);
  assert_string_equal(out, "Hi there, see credit_card and savings.");
  /* the 160-character SMS limit */
  f.offer_name = "A rather long offer name here";
  assert_int_equal(tsr_msg_match(t, "O9", NULL, TSR_CHANNEL_SMS, idx, 4), 1);
  assert_int_equal(tsr_msg_render(t, idx[0], TSR_CHANNEL_SMS, &f, out, sizeof out, &e), TSR_ELIMIT);
  assert_string_equal(e.msg, "template * (variant long): 239 characters, the sms limit is 160");
  /* no template for the channel */
  assert_int_equal(tsr_msg_match(t, "O9", NULL, TSR_CHANNEL_EMAIL, idx, 4), 0);
  tsr_msg_templates_free(t);
}

static void test_parse_errors(void **state) {
  (void)state;
  static const struct {
    const char *text, *msg;
    int64_t line, col;
  } cases[] = {
      {"[offer=O1 channel=fax]\nx\n", "channel: expected sms, push or email, got 'fax'", 1, 19},
      {"[offer=O1]\nx\n", "template header: channel= is required", 1, 1},
      {"[channel=sms]\nHi {age}\n", "unknown field 'age' (expected first_name, product, segment, clv_tier, next_best_product, offer_name or n_products)", 2, 5},
      {"[channel=sms]\n{if segment}x\n", "{if} without {end} in this template", 1, 1},
      {"[channel=sms]\nx{end}\n", "{end} without {if}", 2, 2},
      {"[channel=sms]\nHi {first_name\n", "unterminated '{'", 2, 4},
      {"hello\n[channel=sms]\nx\n", "text before the first template header [offer=... channel=...]", 1, 1},
      {"# only a comment\n", "no templates (a template starts with [offer=ID segment=NAME channel=sms|push|email])", 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tsr_msg_templates *t = NULL;
    tsr_error e;
    tsr_error_clear(&e);
    assert_int_equal(tsr_msg_templates_parse(cases[i].text, strlen(cases[i].text), "t.txt", &t, &e), TSR_EPARSE);
    assert_null(t);
    assert_string_equal(e.msg, cases[i].msg);
    assert_int_equal(e.line, cases[i].line);
    assert_int_equal(e.column, cases[i].col);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_render), cmocka_unit_test(test_parse_errors)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
