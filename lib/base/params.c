/*
 * params.c - the table of analysis inputs (tessera/params.def), its
 * validator, and the option struct's parser, JSON writer and reader, all
 * generated from the table (tessera/params.h).
 */
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tessera/btyd.h"
#include "tessera/datetime.h"
#include "tessera/params.h"

/* The choices of --model: auto, the purchase models of models.def, none. */
#define TSR__CHOICE_PURCHASE(n) "|" n
#define TSR__CHOICE_DISCRETE(n)
#define TSR__CHOICE_SPEND(n)
static const char model_choices[] = "auto"
#define TSR_MODEL(KIND, name, spec, role, title) TSR__CHOICE_##role(name)
#include "tessera/models.def"
#undef TSR_MODEL
    "|none";
#define TSR_PARAM_MODEL_CHOICES model_choices

static const tsr_param params[] = {
#define X(name, option, type, unit, min, max, min_open, def, choices, desc, bind) \
  {#name, option, TSR_PARAM_##type, unit, min, max, min_open, def, choices, desc},
#include "tessera/params.def"
#undef X
};

/* Where each member of tsr_params is, in table order. */
static const size_t value_offset[] = {
#define X(name, ...) offsetof(tsr_params, name),
#include "tessera/params.def"
#undef X
};

size_t tsr_params_count(void) { return TSR__ARRAY_LEN(params); }

const tsr_param *tsr_param_at(size_t i) {
  return i < TSR__ARRAY_LEN(params) ? &params[i] : NULL;
}

const tsr_param *tsr_param_find(const char *name) {
  if (!name) return NULL;
  for (size_t i = 0; i < TSR__ARRAY_LEN(params); i++)
    if (!strcmp(params[i].name, name)) return &params[i];
  return NULL;
}

const char *tsr_param_type_name(tsr_param_type t) {
  switch (t) {
    case TSR_PARAM_NUMBER: return "number";
    case TSR_PARAM_INTEGER: return "integer";
    case TSR_PARAM_CHOICE: return "one of";
    case TSR_PARAM_DATE: return "date";
    case TSR_PARAM_TEXT: return "text";
  }
  return "text";
}

char *tsr_param_range(const tsr_param *p, char *buf, size_t cap) {
  switch (p->type) {
    case TSR_PARAM_NUMBER:
      snprintf(buf, cap, "a number in %c%g, %g]", p->min_open ? '(' : '[', p->min, p->max);
      break;
    case TSR_PARAM_INTEGER:
      snprintf(buf, cap, "an integer in [%.0f, %.0f]", p->min, p->max);
      break;
    case TSR_PARAM_CHOICE: {
      size_t k = (size_t)snprintf(buf, cap, "one of ");
      for (const char *c = p->choices; *c && k + 3 < cap; c++) {
        if (*c == '|') {
          buf[k++] = ',';
          buf[k++] = ' ';
        } else {
          buf[k++] = *c;
        }
      }
      if (k < cap) buf[k] = '\0';
      break;
    }
    case TSR_PARAM_DATE:
      snprintf(buf, cap, "a date YYYY-MM-DD between 1970-01-01 and 2100-12-31");
      break;
    case TSR_PARAM_TEXT:
      snprintf(buf, cap, "text up to %d bytes", TSR_PARAM_TEXT_MAX);
      break;
  }
  return buf;
}

/* 1 when value is one of the '|'-separated choices. */
static int is_choice(const char *choices, const char *value) {
  size_t n = strlen(value);
  const char *c = choices;
  while (*c) {
    const char *e = strchr(c, '|');
    size_t len = e ? (size_t)(e - c) : strlen(c);
    if (len == n && !memcmp(c, value, n)) return 1;
    if (!e) break;
    c = e + 1;
  }
  return 0;
}

tsr_status tsr_param_check(const tsr_param *p, const char *value, double *num,
                           tsr_error *err) {
  char range[160], shown[48];
  if (!p || !value) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "parameter: missing");
  if (!*value) return TSR_OK;
  tsr_param_range(p, range, sizeof range);
  /* quote at most 40 bytes of the value */
  size_t vl = strlen(value);
  snprintf(shown, sizeof shown, "%.40s%s", value, vl > 40 ? "..." : "");
  switch (p->type) {
    case TSR_PARAM_NUMBER:
    case TSR_PARAM_INTEGER: {
      char *end = NULL;
      errno = 0;
      double v = strtod(value, &end);
      int bad = end == value || *end || errno == ERANGE || !isfinite(v);
      if (!bad && p->type == TSR_PARAM_INTEGER && v != floor(v)) bad = 1;
      if (bad)
        return tsr_error_set(err, TSR_EPARSE, NULL, 0, 0, p->name, "%s: expected %s, got '%s'",
                             p->name, range, shown);
      if (v < p->min || v > p->max || (p->min_open && v == p->min))
        return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, p->name, "%s: expected %s, got '%s'",
                             p->name, range, shown);
      if (num) *num = v;
      return TSR_OK;
    }
    case TSR_PARAM_CHOICE:
      if (!is_choice(p->choices, value))
        return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, p->name, "%s: expected %s, got '%s'",
                             p->name, range, shown);
      return TSR_OK;
    case TSR_PARAM_DATE: {
      int64_t t;
      if (vl != 10 || tsr_datetime_parse(value, vl, NULL, &t) != TSR_OK)
        return tsr_error_set(err, TSR_EPARSE, NULL, 0, 0, p->name, "%s: expected %s, got '%s'",
                             p->name, range, shown);
      if (num) *num = (double)(t / 86400);
      return TSR_OK;
    }
    case TSR_PARAM_TEXT:
      if (vl > TSR_PARAM_TEXT_MAX)
        return tsr_error_set(err, TSR_ELIMIT, NULL, 0, 0, p->name, "%s: expected %s, got %zu bytes",
                             p->name, range, vl);
      for (size_t i = 0; i < vl; i++)
        if ((unsigned char)value[i] < 0x20)
          return tsr_error_set(err, TSR_EPARSE, NULL, 0, 0, p->name,
                               "%s: expected text without control characters", p->name);
      return TSR_OK;
  }
  return TSR_OK;
}

/* ------------------------------------------------------------ the option struct */

/* Index of value among p's choices, or -1. */
static int choice_index(const char *choices, const char *value) {
  size_t n = strlen(value);
  int i = 0;
  for (const char *c = choices;; i++) {
    const char *e = strchr(c, '|');
    size_t len = e ? (size_t)(e - c) : strlen(c);
    if (len == n && !memcmp(c, value, n)) return i;
    if (!e) return -1;
    c = e + 1;
  }
}

/* v = text (already checked) with its number. */
static void put_value(const tsr_param *p, tsr_param_value *v, const char *text, double num) {
  snprintf(v->text, sizeof v->text, "%s", text);
  if (!*text) v->num = NAN;
  else if (p->type == TSR_PARAM_CHOICE) v->num = choice_index(p->choices, text);
  else if (p->type == TSR_PARAM_TEXT) v->num = 0;
  else v->num = num;
}

tsr_param_value *tsr_params_value(tsr_params *p, size_t i) {
  return i < TSR__ARRAY_LEN(params) ? (tsr_param_value *)((char *)p + value_offset[i]) : NULL;
}

const tsr_param_value *tsr_params_cvalue(const tsr_params *p, size_t i) {
  return tsr_params_value((tsr_params *)p, i);
}

void tsr_params_init(tsr_params *p) {
  memset(p, 0, sizeof *p);
  for (size_t i = 0; i < TSR__ARRAY_LEN(params); i++) {
    double num = NAN;
    tsr_param_check(&params[i], params[i].def, &num, NULL); /* the defaults check (unit test) */
    put_value(&params[i], tsr_params_value(p, i), params[i].def, num);
  }
}

void tsr_params_set_raw(tsr_params *p, size_t i, const char *text) {
  tsr_param_value *v = tsr_params_value(p, i);
  if (!v) return;
  double num = NAN;
  if (params[i].type == TSR_PARAM_NUMBER || params[i].type == TSR_PARAM_INTEGER)
    num = strtod(text, NULL);
  else if (params[i].type == TSR_PARAM_DATE)
    tsr_param_check(&params[i], text, &num, NULL);
  put_value(&params[i], v, text, num);
  v->given = 1;
}

tsr_status tsr_params_set(tsr_params *p, const char *name, const char *value, tsr_error *err) {
  const tsr_param *pp = tsr_param_find(name);
  if (!pp)
    return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, name, "%s: unknown parameter", name);
  double num = NAN;
  tsr_status st = tsr_param_check(pp, value, &num, err);
  if (st != TSR_OK) return st;
  if (!strcmp(pp->name, "date_format") && *value) {
    tsr_error e;
    tsr_error_clear(&e);
    if ((st = tsr_datetime_check_format(value, &e)) != TSR_OK)
      return tsr_error_set(err, st, NULL, 0, 0, pp->name, "%s: %s", pp->name, e.msg);
  }
  tsr_param_value *v = tsr_params_value(p, (size_t)(pp - params));
  if (!*value) {
    tsr_param_check(pp, pp->def, &num, NULL);
    put_value(pp, v, pp->def, num);
    v->given = 0;
    return TSR_OK;
  }
  put_value(pp, v, value, num);
  v->given = 1;
  return TSR_OK;
}

tsr_status tsr_params_check(const tsr_params *p, tsr_error *err) {
  const tsr_param_value *e = &p->end, *c = &p->calibration_end;
  if (*e->text && *c->text && c->num >= e->num)
    return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "calibration_end",
                         "calibration_end: must be before end (%s), got '%s'", e->text, c->text);
  return TSR_OK;
}

json_t *tsr_params_to_json(const tsr_params *p, int given_only) {
  json_t *o = json_object();
  for (size_t i = 0; o && i < TSR__ARRAY_LEN(params); i++) {
    const tsr_param_value *v = tsr_params_cvalue(p, i);
    if (given_only && !v->given) continue;
    int number = params[i].type == TSR_PARAM_NUMBER || params[i].type == TSR_PARAM_INTEGER;
    json_t *j;
    if (!number) j = json_string(v->text);
    else if (!*v->text) j = json_null();
    else if (params[i].type == TSR_PARAM_INTEGER && fabs(v->num) < 9e15)
      j = json_integer((json_int_t)v->num);
    else j = json_real(v->num);
    if (!j || json_object_set_new(o, params[i].name, j) != 0) {
      json_decref(o);
      return NULL;
    }
  }
  return o;
}

/* The text of a JSON value as tsr_params_set reads it; 0, or -1 for a
 * value of another kind. */
static int value_text(json_t *v, char *buf, size_t cap) {
  if (json_is_string(v)) snprintf(buf, cap, "%s", json_string_value(v));
  else if (json_is_integer(v)) snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
  else if (json_is_real(v)) tsr__fmt_double(json_real_value(v), buf);
  else if (json_is_boolean(v)) snprintf(buf, cap, "%s", json_is_true(v) ? "yes" : "no");
  else if (json_is_null(v)) buf[0] = '\0';
  else return -1;
  return 0;
}

tsr_status tsr_params_from_json(tsr_params *p, const json_t *obj, unsigned flags, tsr_error *err) {
  int lenient = (flags & TSR_PARAMS_LENIENT) != 0;
  if (!json_is_object(obj))
    return tsr_error_set(err, TSR_EPARSE, NULL, 0, 0, "params",
                         "params: expected an object of name: value");
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)obj, key, v) {
    char buf[TSR_PARAM_TEXT_MAX + 64];
    if (!tsr_param_find(key)) {
      if (lenient) continue;
      return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, key, "%s: unknown parameter", key);
    }
    if (value_text(v, buf, sizeof buf) != 0) {
      if (lenient) continue;
      return tsr_error_set(err, TSR_EPARSE, NULL, 0, 0, key, "%s: expected a string or number", key);
    }
    if (json_is_string(v) && strlen(json_string_value(v)) >= sizeof buf) {
      if (lenient) continue;
      return tsr_error_set(err, TSR_ELIMIT, NULL, 0, 0, key, "%s: value too long", key);
    }
    tsr_status st = tsr_params_set(p, key, buf, lenient ? NULL : err);
    if (st != TSR_OK && !lenient) return st;
  }
  return lenient ? TSR_OK : tsr_params_check(p, err);
}
