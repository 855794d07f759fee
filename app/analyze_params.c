/*
 * analyze_params.c - the analysis inputs of tessera/params.def onto
 * tsr_analyze_opts and back, generated from the table's binding column
 * (tessera/analyze.h: tsr_analyze_opts_apply, tsr_analyze_opts_params).
 */
#include "internal.h"
#include "tessera/analyze.h"
#include "tessera/csv.h"
#include "tessera/datetime.h"
#include "tessera/params.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The delimiter characters of the choices ",|;|tab|pipe|whitespace". */
static const int delims[] = {',', ';', '\t', '|', TSR_CSV_WS};

/* ---- applying: v (a tsr_param_value, non-empty) into o->f */
#define APPLY_STR(f) o->f = v->text;
#define APPLY_NUM(f) o->f = v->num;
#define APPLY_INT(f) o->f = (int64_t)v->num;
#define APPLY_SIZE(f) o->f = (size_t)v->num;
#define APPLY_U64(f) o->f = (uint64_t)v->num;
#define APPLY_DAY(f) o->f = (int64_t)v->num;
#define APPLY_ENUM(f) o->f = (int)v->num;
#define APPLY_YESNO(f) o->f = v->num == 0; /* "yes" is the first choice */
#define APPLY_DELIM(f) o->f = delims[(size_t)v->num % TSR__ARRAY_LEN(delims)];

void tsr_analyze_opts_apply(tsr_analyze_opts *o, const tsr_params *p, int given_only) {
  const tsr_param_value *v;
#define X(name, option, type, unit, min, max, min_open, def, choices, desc, bind) \
  v = &p->name;                                                                     \
  if (*v->text && !isnan(v->num) && (v->given || !given_only)) { APPLY_##bind }
#include "tessera/params.def"
#undef X
}

/* ---- reading back: o->f as the text of the i-th input */
static void text_num(char *b, size_t cap, double v) {
  if (isfinite(v) && cap >= TSR_DOUBLE_BUF) tsr_format_double(v, b);
}

static void text_choice(char *b, size_t cap, size_t i, long idx) {
  const char *c = tsr_param_at(i)->choices;
  for (long k = 0; k < idx && c; k++) {
    c = strchr(c, '|');
    if (c) c++;
  }
  if (c) snprintf(b, cap, "%.*s", (int)strcspn(c, "|"), c);
}

#define BACK_STR(f) snprintf(b, sizeof b, "%s", o->f ? o->f : "");
#define BACK_NUM(f) text_num(b, sizeof b, o->f);
#define BACK_INT(f) if (o->f >= 0) snprintf(b, sizeof b, "%lld", (long long)o->f);
#define BACK_SIZE(f) snprintf(b, sizeof b, "%zu", o->f);
#define BACK_U64(f) snprintf(b, sizeof b, "%llu", (unsigned long long)o->f);
#define BACK_DAY(f) if (o->f != TSR_DAY_NONE) tsr_day_format(o->f, b);
#define BACK_ENUM(f) text_choice(b, sizeof b, i, (long)o->f);
#define BACK_YESNO(f) snprintf(b, sizeof b, "%s", o->f ? "yes" : "no");
#define BACK_DELIM(f)                                              \
  for (size_t d = 0; d < TSR__ARRAY_LEN(delims); d++)              \
    if (delims[d] == o->f) text_choice(b, sizeof b, i, (long)d);

void tsr_analyze_opts_params(const tsr_analyze_opts *o, tsr_params *p) {
  tsr_params_init(p);
  size_t i = 0;
  char b[TSR_PARAM_TEXT_MAX + 1];
#define X(name, option, type, unit, min, max, min_open, def, choices, desc, bind) \
  b[0] = '\0';                                                                      \
  BACK_##bind tsr_params_set_raw(p, i++, b);
#include "tessera/params.def"
#undef X
}
