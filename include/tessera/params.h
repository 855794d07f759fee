/*
 * tessera/params.h - the table of user-facing analysis inputs (lib/base/params.def):
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

#ifdef __cplusplus
}
#endif
#endif
