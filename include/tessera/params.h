/*
 * tessera/params.h - the table of user-facing analysis inputs (tessera/params.def):
 * name, CLI option, type, unit, valid range, default, choices, meaning.
 *
 * The CLI, the web server's validators, its forms and its help page all read
 * this one table, so the ranges they show and enforce never disagree.
 * Everything here is static storage; thread-safe.
 */
#ifndef TESSERA_PARAMS_H
#define TESSERA_PARAMS_H

#include <stddef.h>

#include "tessera/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tsr_param_type {
  TSR_PARAM_NUMBER = 0, /* real number in [min, max] ((min, max] if min_open) */
  TSR_PARAM_INTEGER,    /* integer in [min, max] */
  TSR_PARAM_CHOICE,     /* one of choices ("a|b|c") */
  TSR_PARAM_DATE,       /* YYYY-MM-DD between 1970-01-01 and 2100-12-31 */
  TSR_PARAM_TEXT        /* free text up to TSR_PARAM_TEXT_MAX bytes */
} tsr_param_type;

#define TSR_PARAM_TEXT_MAX 256

typedef struct tsr_param {
  const char *name;        /* "horizon" */
  const char *option;      /* "--horizon" */
  tsr_param_type type;
  const char *unit;        /* "" when none */
  double min, max;         /* NUMBER / INTEGER */
  int min_open;            /* 1: min itself is not allowed */
  const char *def;         /* default as text, "" = none/automatic */
  const char *choices;     /* CHOICE: "a|b|c", else "" */
  const char *description; /* plain words */
} tsr_param;

/* Number of parameters and the i-th (NULL when out of range). */
TSR_API size_t tsr_params_count(void);
TSR_API const tsr_param *tsr_param_at(size_t i);
/* By name, or NULL. */
TSR_API const tsr_param *tsr_param_find(const char *name);
/* "integer", "number", "one of", "date", "text". */
TSR_API const char *tsr_param_type_name(tsr_param_type t);

/* Renders the valid range in words into buf: "a number in (0, 1000]",
 * "an integer in [0, 100]", "one of bgnbd, mbgnbd, pnbd, none",
 * "a date YYYY-MM-DD between 1970-01-01 and 2100-12-31",
 * "text up to 256 bytes". Returns buf. */
TSR_API char *tsr_param_range(const tsr_param *p, char *buf, size_t cap);

/* Checks value (a NUL-terminated string) against p. An empty value is valid
 * (= default). OUT (may be NULL): *num = the number of NUMBER / INTEGER
 * values. On failure TSR_ERANGE (out of range / not a choice) or TSR_EPARSE
 * (not a number / date) with err->field = p->name and err->msg such as
 * "horizon: expected a number in (0, 1000], got '-3'". */
TSR_API tsr_status tsr_param_check(const tsr_param *p, const char *value,
                                   double *num, tsr_error *err);

/* ---- the option struct generated from params.def */

/* One input's value: the text as given (or the default), and for NUMBER /
 * INTEGER its number, for DATE the day (days since 1970-01-01), for CHOICE
 * the index of the choice; NAN when the text is empty. */
typedef struct tsr_param_value {
  char text[TSR_PARAM_TEXT_MAX + 1];
  double num;
  int given; /* 1 when set by tsr_params_set / tsr_params_from_json */
} tsr_param_value;

/* Every analysis input, one member per line of params.def. */
typedef struct tsr_params {
#define X(name, ...) tsr_param_value name;
#include "tessera/params.def"
#undef X
} tsr_params;

/* Every member at its default, none given. */
TSR_API void tsr_params_init(tsr_params *p);
/* The value of the i-th input of the table (NULL when out of range). */
TSR_API tsr_param_value *tsr_params_value(tsr_params *p, size_t i);
TSR_API const tsr_param_value *tsr_params_cvalue(const tsr_params *p, size_t i);
/* Parses and checks value for the input called name (tsr_param_check, and
 * for date_format the format itself) and keeps it as given; "" resets it
 * to the default. TSR_ENOTFOUND for an unknown name ("NAME: unknown
 * parameter"); on any failure p is unchanged and err->field = name. */
TSR_API tsr_status tsr_params_set(tsr_params *p, const char *name, const char *value,
                                  tsr_error *err);
/* Stores text as the value of the i-th input without checking it (values
 * that come from the library's own options, e.g. a scheme file). */
TSR_API void tsr_params_set_raw(tsr_params *p, size_t i, const char *text);
/* Checks across inputs: the calibration end must be before the end. */
TSR_API tsr_status tsr_params_check(const tsr_params *p, tsr_error *err);

struct json_t; /* jansson */
/* The inputs as a JSON object (a new jansson reference, NULL when out of
 * memory), in table order: NUMBER and INTEGER as numbers, the others as
 * strings. given_only: only the inputs that were given. */
TSR_API struct json_t *tsr_params_to_json(const tsr_params *p, int given_only);
/* Reads the members of obj (a JSON object of name: value; strings, numbers,
 * booleans as "yes"/"no", null = default) with tsr_params_set, then
 * tsr_params_check. With TSR_PARAMS_LENIENT unknown names and values that
 * do not check are skipped (stored runs of older versions); else they fail
 * with err->field = the name. */
#define TSR_PARAMS_LENIENT 1u
TSR_API tsr_status tsr_params_from_json(tsr_params *p, const struct json_t *obj,
                                        unsigned flags, tsr_error *err);

#ifdef __cplusplus
}
#endif
#endif
