/*
 * textbuf.c - growable text buffer (see textbuf.h).
 */
#include "textbuf.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Makes room for extra more bytes plus the NUL; 0 or -1 (oom). */
int tsr__tb_reserve(tsr__tb *b, size_t extra) {
  if (b->oom) return -1;
  if (b->len + extra + 1 <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1) {
    if (cap > ((size_t)-1) / 2) {
      b->oom = 1;
      return -1;
    }
    cap *= 2;
  }
  char *s = tsr__realloc(b->s, cap);
  if (!s) {
    b->oom = 1;
    return -1;
  }
  b->s = s;
  b->cap = cap;
  return 0;
}

void tsr__tb_printf(tsr__tb *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || tsr__tb_reserve(b, (size_t)n)) return;
  va_start(ap, fmt);
  vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void tsr__tb_jstr(tsr__tb *b, const char *s) {
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  if (tsr__tb_reserve(b, 6 * strlen((const char *)p) + 2)) return;
  b->s[b->len++] = '"';
  for (; *p; p++) {
    if (*p == '"' || *p == '\\') {
      b->s[b->len++] = '\\';
      b->s[b->len++] = (char)*p;
    } else if (*p < 0x20) {
      b->len += (size_t)snprintf(b->s + b->len, 7, "\\u%04x", *p);
    } else {
      b->s[b->len++] = (char)*p;
    }
  }
  b->s[b->len++] = '"';
  b->s[b->len] = '\0';
}

void tsr__tb_jnum(tsr__tb *b, double v) {
  char t[32];
  if (!isfinite(v))
    tsr__tb_printf(b, "null");
  else
    tsr__tb_printf(b, "%s", tsr__fmt_double(v, t));
}

void tsr__tb_json(tsr__tb *b, const json_t *v) {
  json_t *m = (json_t *)v; /* jansson's iterators take non-const values */
  if (!v) { /* a value jansson could not allocate */
    b->oom = 1;
    return;
  }
  switch (json_typeof(v)) {
    case JSON_OBJECT: {
      const char *k;
      json_t *e;
      const char *sep = "";
      tsr__tb_printf(b, "{");
      json_object_foreach(m, k, e) {
        tsr__tb_printf(b, "%s", sep);
        tsr__tb_jstr(b, k);
        tsr__tb_printf(b, ":");
        tsr__tb_json(b, e);
        sep = ",";
      }
      tsr__tb_printf(b, "}");
      break;
    }
    case JSON_ARRAY: {
      size_t i;
      json_t *e;
      tsr__tb_printf(b, "[");
      json_array_foreach(m, i, e) {
        if (i) tsr__tb_printf(b, ",");
        tsr__tb_json(b, e);
      }
      tsr__tb_printf(b, "]");
      break;
    }
    case JSON_STRING: tsr__tb_jstr(b, json_string_value(v)); break;
    case JSON_INTEGER: tsr__tb_printf(b, "%lld", (long long)json_integer_value(v)); break;
    case JSON_REAL: tsr__tb_jnum(b, json_real_value(v)); break;
    case JSON_TRUE: tsr__tb_printf(b, "true"); break;
    case JSON_FALSE: tsr__tb_printf(b, "false"); break;
    case JSON_NULL: tsr__tb_printf(b, "null"); break;
  }
}

json_t *tsr__json_num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

char *tsr__tb_take(tsr__tb *b) {
  if (!b->s && tsr__tb_reserve(b, 0) == 0) b->s[0] = '\0';
  char *s = b->oom ? NULL : b->s;
  if (b->oom) tsr__free(b->s);
  memset(b, 0, sizeof *b);
  return s;
}

void tsr__tb_free(tsr__tb *b) {
  tsr__free(b->s);
  memset(b, 0, sizeof *b);
}
