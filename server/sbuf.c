/*
 * sbuf.c - growable string buffer of the server, with HTML, CSV and URL
 * escaping. Allocation failure sets oom and makes further writes no-ops.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"
#include "tessera/csv.h"

void sb_put(sbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->n + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
}

void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

void sb_printf(sbuf *b, const char *fmt, ...) {
  char tmp[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof tmp) {
    sb_put(b, tmp, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (!big) {
    b->oom = 1;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  sb_put(b, big, (size_t)n);
  free(big);
}

void sb_html(sbuf *b, const char *s) {
  if (!s) return;
  const char *run = s;
  for (; *s; s++) {
    const char *rep = NULL;
    switch (*s) {
      case '&': rep = "&amp;"; break;
      case '<': rep = "&lt;"; break;
      case '>': rep = "&gt;"; break;
      case '"': rep = "&quot;"; break;
      case '\'': rep = "&#39;"; break;
      default: break;
    }
    if (rep) {
      sb_put(b, run, (size_t)(s - run));
      sb_puts(b, rep);
      run = s + 1;
    }
  }
  sb_put(b, run, (size_t)(s - run));
}

void sb_csv(sbuf *b, const char *s) {
  if (!s) s = "";
  size_t need = 2 * strlen(s) + 3;
  char small[512], *t = need <= sizeof small ? small : malloc(need);
  if (!t) {
    b->oom = 1;
    return;
  }
  sb_put(b, t, tsr_csv_quote(t, s, TSR_CSV_FORMULA_GUARD)); /* formulas are not run */
  if (t != small) free(t);
}

void sb_url(sbuf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        *p == '-' || *p == '_' || *p == '.' || *p == '~') {
      sb_put(b, (const char *)p, 1);
    } else {
      char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
      sb_put(b, e, 3);
    }
  }
}

void sb_free(sbuf *b) {
  free(b->p);
  b->p = NULL;
  b->n = b->cap = 0;
}

void sb_json_str(sbuf *b, const char *s) {
  static const char hex[] = "0123456789abcdef";
  if (!s) {
    sb_puts(b, "null");
    return;
  }
  sb_put(b, "\"", 1);
  const char *run = s;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) continue;
    sb_put(b, run, (size_t)(s - run));
    if (c == '"') sb_puts(b, "\\\"");
    else if (c == '\\') sb_puts(b, "\\\\");
    else if (c == '\n') sb_puts(b, "\\n");
    else if (c == '\t') sb_puts(b, "\\t");
    else {
      char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      sb_put(b, e, 6);
    }
    run = s + 1;
  }
  sb_put(b, run, (size_t)(s - run));
  sb_put(b, "\"", 1);
}

void sb_json_num(sbuf *b, double v) {
  if (!isfinite(v)) {
    sb_puts(b, "null");
    return;
  }
  char t[TSR_DOUBLE_BUF + 2];
  if (v == (double)(long long)v && fabs(v) < 1e15)
    snprintf(t, sizeof t, "%lld.0", (long long)v); /* a JSON real, not an integer */
  else
    tsr_format_double(v, t); /* the shortest form that reads back exactly */
  sb_puts(b, t);
}
