/*
 * params.c - the table of analysis inputs (lib/base/params.def) and its
 * validator (tessera/params.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tessera/datetime.h"
#include "tessera/params.h"

static const tsr_param params[] = {
#define X(name, option, type, unit, min, max, min_open, def, choices, desc) \
  {#name, option, TSR_PARAM_##type, unit, min, max, min_open, def, choices, desc},
#include "params.def"
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
