/*
 * test_params.c - the table of analysis inputs (tessera/params.def,
 * tessera/params.h): lookup, range wording, validation messages, and
 * agreement with the CLI help of `tessera analyze` (docs/cli/analyze.md),
 * and the option struct generated from the table.
 */
#include "tsr_test.h"
#include "tessera/analyze.h"

#include <jansson.h>
#include <math.h>
#include "tessera/params.h"

static void check_msg(const char *name, const char *value, tsr_status want, const char *msg) {
  tsr_error e;
  tsr_error_clear(&e);
  const tsr_param *p = tsr_param_find(name);
  assert_non_null(p);
  tsr_status st = tsr_param_check(p, value, NULL, &e);
  if (st != want) fail_msg("%s='%s': status %s, expected %s (%s)", name, value, tsr_status_name(st),
                           tsr_status_name(want), e.msg);
  if (msg) assert_string_equal(e.msg, msg);
  if (want != TSR_OK) assert_string_equal(e.field, name);
}

static void table(void **state) {
  (void)state;
  assert_true(tsr_params_count() >= 20);
  for (size_t i = 0; i < tsr_params_count(); i++) {
    const tsr_param *p = tsr_param_at(i);
    assert_non_null(p);
    assert_true(p->name[0] && p->option[0] == '-' && p->description[0]);
    assert_ptr_equal(tsr_param_find(p->name), p);
    if (p->type == TSR_PARAM_NUMBER || p->type == TSR_PARAM_INTEGER) {
      assert_true(p->min <= p->max);
      /* the default is valid */
      if (p->def[0]) {
        tsr_error e;
        if (tsr_param_check(p, p->def, NULL, &e) != TSR_OK) fail_msg("%s default: %s", p->name, e.msg);
      }
    }
    if (p->type == TSR_PARAM_CHOICE && p->def[0]) check_msg(p->name, p->def, TSR_OK, NULL);
  }
  assert_null(tsr_param_at(tsr_params_count()));
  assert_null(tsr_param_find("no_such_input"));
  assert_null(tsr_param_find(NULL));
}

static void ranges(void **state) {
  (void)state;
  char b[200];
  assert_string_equal(tsr_param_range(tsr_param_find("horizon"), b, sizeof b), "a number in (0, 1000]");
  assert_string_equal(tsr_param_range(tsr_param_find("discount"), b, sizeof b), "a number in [0, 0.99]");
  assert_string_equal(tsr_param_range(tsr_param_find("k"), b, sizeof b), "an integer in [0, 100]");
  assert_string_equal(tsr_param_range(tsr_param_find("model"), b, sizeof b),
                      "one of auto, bgnbd, mbgnbd, pnbd, none");
  assert_string_equal(tsr_param_range(tsr_param_find("end"), b, sizeof b),
                      "a date YYYY-MM-DD between 1970-01-01 and 2100-12-31");
}

static void validation(void **state) {
  (void)state;
  double v = 0;
  assert_int_equal(tsr_param_check(tsr_param_find("horizon"), "12.5", &v, NULL), TSR_OK);
  assert_near(v, 12.5, 0);
  check_msg("horizon", "", TSR_OK, NULL);
  check_msg("horizon", "-3", TSR_ERANGE, "horizon: expected a number in (0, 1000], got '-3'");
  check_msg("horizon", "0", TSR_ERANGE, "horizon: expected a number in (0, 1000], got '0'");
  check_msg("horizon", "1000", TSR_OK, NULL);
  check_msg("horizon", "12 months", TSR_EPARSE, "horizon: expected a number in (0, 1000], got '12 months'");
  check_msg("horizon", "nan", TSR_EPARSE, NULL);
  check_msg("discount", "1", TSR_ERANGE, "discount: expected a number in [0, 0.99], got '1'");
  check_msg("k", "2.5", TSR_EPARSE, "k: expected an integer in [0, 100], got '2.5'");
  check_msg("k", "101", TSR_ERANGE, NULL);
  check_msg("model", "magic", TSR_ERANGE, "model: expected one of auto, bgnbd, mbgnbd, pnbd, none, got 'magic'");
  check_msg("model", "pnbd", TSR_OK, NULL);
  check_msg("model", "bgnb", TSR_ERANGE, NULL); /* a prefix is not a choice */
  check_msg("end", "2024-13-01", TSR_EPARSE, NULL);
  check_msg("end", "2024-03-31 ", TSR_EPARSE, NULL);
  assert_int_equal(tsr_param_check(tsr_param_find("end"), "1970-01-11", &v, NULL), TSR_OK);
  assert_near(v, 10, 0);
  char big[400];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  check_msg("customer_col", big, TSR_ELIMIT, "customer_col: expected text up to 256 bytes, got 399 bytes");
  check_msg("customer_col", "a\nb", TSR_EPARSE, NULL);
  /* a long bad value is quoted shortened */
  char longnum[80];
  memset(longnum, '9', sizeof longnum - 1);
  longnum[sizeof longnum - 1] = '\0';
  tsr_error e;
  assert_int_equal(tsr_param_check(tsr_param_find("seed"), longnum, NULL, &e), TSR_ERANGE);
  assert_non_null(strstr(e.msg, "...'"));
}

/* The help page of `tessera analyze` shows the same ranges as the table. */
static void cli_help_agrees(void **state) {
  (void)state;
  char path[1024];
  snprintf(path, sizeof path, "%s/docs/cli/analyze.md", TSR_SOURCE_DIR);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  static char doc[65536];
  size_t n = fread(doc, 1, sizeof doc - 1, f);
  fclose(f);
  doc[n] = '\0';
  const char *names[] = {"horizon", "discount", "level", "churn_threshold", "seed", "max_errors"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    const tsr_param *p = tsr_param_find(names[i]);
    char want[120];
    if (p->type == TSR_PARAM_NUMBER)
      snprintf(want, sizeof want, "%c%g, %g]", p->min_open ? '(' : '[', p->min, p->max);
    else
      snprintf(want, sizeof want, "%.0f..%.0f", p->min, p->max);
    const char *at = strstr(doc, p->option);
    if (!at) fail_msg("%s: option %s missing from analyze.md", p->name, p->option);
    const char *line_end = strstr(at, "\n\n");
    const char *hit = strstr(at, want);
    if (!hit || (line_end && hit > line_end + 200))
      fail_msg("%s: analyze.md does not show the range %s near %s", p->name, want, p->option);
  }
}

/* The generated option struct: parse, reset, cross-check, JSON both ways,
 * and onto tsr_analyze_opts and back. */
static void option_struct(void **state) {
  (void)state;
  tsr_params p;
  tsr_params_init(&p);
  assert_string_equal(p.model.text, "auto");
  assert_false(p.model.given);
  assert_true(p.horizon.num == 12);
  assert_true(isnan(p.max_errors.num)); /* "" = never stop */
  tsr_error e;
  tsr_error_clear(&e);
  assert_int_equal(tsr_params_set(&p, "horizon", "6.5", &e), TSR_OK);
  assert_true(p.horizon.given && p.horizon.num == 6.5);
  assert_int_equal(tsr_params_set(&p, "unit", "weeks", &e), TSR_OK);
  assert_true(p.unit.num == 1); /* index of the choice = TSR_UNIT_WEEKS */
  assert_int_equal(tsr_params_set(&p, "horizon", "-1", &e), TSR_ERANGE);
  assert_string_equal(e.field, "horizon");
  assert_true(p.horizon.num == 6.5); /* unchanged on failure */
  assert_int_equal(tsr_params_set(&p, "colour", "red", &e), TSR_ENOTFOUND);
  assert_string_equal(e.msg, "colour: unknown parameter");
  assert_int_not_equal(tsr_params_set(&p, "date_format", "%Q", &e), TSR_OK);
  assert_string_equal(e.field, "date_format");
  assert_non_null(strstr(e.msg, "date_format: "));
  assert_int_equal(tsr_params_set(&p, "end", "2024-01-31", &e), TSR_OK);
  assert_int_equal(tsr_params_set(&p, "calibration_end", "2024-02-01", &e), TSR_OK);
  assert_int_equal(tsr_params_check(&p, &e), TSR_ERANGE);
  assert_string_equal(e.msg, "calibration_end: must be before end (2024-01-31), got '2024-02-01'");
  assert_int_equal(tsr_params_set(&p, "calibration_end", "", &e), TSR_OK); /* back to none */
  assert_false(p.calibration_end.given);
  assert_int_equal(tsr_params_check(&p, &e), TSR_OK);
  /* JSON: only the given ones, numbers as numbers; read back equal */
  json_t *j = tsr_params_to_json(&p, 1);
  char *txt = json_dumps(j, JSON_COMPACT);
  assert_string_equal(txt, "{\"end\":\"2024-01-31\",\"horizon\":6.5,\"unit\":\"weeks\"}");
  free(txt);
  tsr_params q;
  tsr_params_init(&q);
  assert_int_equal(tsr_params_from_json(&q, j, 0, &e), TSR_OK);
  json_decref(j);
  assert_true(q.horizon.num == 6.5 && q.unit.num == 1 && q.end.given);
  /* strict reading names the bad member; lenient skips it */
  j = json_pack("{s:s,s:i}", "colour", "red", "k", 3);
  assert_int_equal(tsr_params_from_json(&q, j, 0, &e), TSR_ENOTFOUND);
  assert_string_equal(e.field, "colour");
  assert_int_equal(tsr_params_from_json(&q, j, TSR_PARAMS_LENIENT, &e), TSR_OK);
  assert_true(q.k.num == 3);
  json_decref(j);
  /* onto the pipeline's options and back */
  tsr_analyze_opts o;
  tsr_analyze_opts_init(&o);
  tsr_analyze_opts_apply(&o, &q, 1);
  assert_true(o.horizon == 6.5 && o.unit == TSR_UNIT_WEEKS && o.cluster_opts.k == 3);
  assert_true(o.summary.end_day == 19753); /* 2024-01-31 */
  assert_string_equal(o.model, "auto"); /* not given: the default stays */
  tsr_params back;
  tsr_analyze_opts_params(&o, &back);
  assert_string_equal(back.horizon.text, "6.5");
  assert_string_equal(back.unit.text, "weeks");
  assert_string_equal(back.end.text, "2024-01-31");
  assert_string_equal(back.spend.text, "yes");
  assert_string_equal(back.delimiter.text, ",");
  assert_string_equal(back.max_errors.text, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(option_struct),
      cmocka_unit_test(table),
      cmocka_unit_test(ranges),
      cmocka_unit_test(validation),
      cmocka_unit_test(cli_help_agrees),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
