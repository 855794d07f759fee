/*
 * amount.c - money amounts as written in transaction logs
 * (tsr_amount_parse, tessera/ingest.h).
 */
#include "internal.h"
#include "tessera/ingest.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Fast path of tsr_amount_parse for -?D+(.D{1,6})? with at most 15 digits:
 * the digits form an integer m < 2^53 and 10^k (k <= 6) is exact, so the
 * IEEE quotient m / 10^k is the correctly rounded value of the decimal, the
 * same double strtod returns. 0 sends anything else to the general path. */
static int amount_fast(const char *p, size_t len, double *out) {
  static const double pow10[7] = {1, 10, 100, 1000, 10000, 100000, 1000000};
  const char *e = p + len;
  int neg = 0;
  if (p < e && *p == '-') {
    neg = 1;
    p++;
  }
  uint64_t m = 0;
  int nd = 0, k = 0;
  while (p < e && (unsigned)(*p - '0') <= 9) {
    m = m * 10 + (uint64_t)(*p++ - '0');
    if (++nd > 15) return 0;
  }
  if (nd == 0) return 0;
  if (p < e && *p == '.') {
    p++;
    while (p < e && (unsigned)(*p - '0') <= 9) {
      m = m * 10 + (uint64_t)(*p++ - '0');
      if (++nd > 15 || ++k > 6) return 0;
    }
    if (k == 0) return 0;
  }
  if (p != e) return 0;
  double v = (double)m / pow10[k];
  *out = neg ? -v : v;
  return 1;
}

tsr_status tsr_amount_parse(const char *s, size_t len, double *out) {
  if (amount_fast(s, len, out)) return TSR_OK;
  const char *p = s, *e = s + len;
  char buf[128];
  size_t n = 0;
  int neg = 0, paren = 0, cur = 0;
  while (p < e && isspace((unsigned char)*p)) p++;
  while (e > p && isspace((unsigned char)e[-1])) e--;
  if (p == e) return TSR_EPARSE;
  if (*p == '(' && e[-1] == ')') {
    paren = 1;
    p++;
    e--;
  }
  /* prefix: sign and/or currency, in either order */
  for (int round = 0; round < 3 && p < e; round++) {
    if (*p == '-' || *p == '+') {
      if (neg || paren) return TSR_EPARSE;
      neg = *p == '-' ? 1 : 2;
      p++;
    } else if (!cur && *p == '$') {
      cur = 1;
      p++;
    } else if (!cur && e - p >= 2 && (unsigned char)p[0] == 0xC2 &&
               ((unsigned char)p[1] == 0xA3 || (unsigned char)p[1] == 0xA5)) {
      cur = 1; /* £ ¥ */
      p += 2;
    } else if (!cur && e - p >= 3 && (unsigned char)p[0] == 0xE2 &&
               (unsigned char)p[1] == 0x82 &&
               ((unsigned char)p[2] == 0xAC || (unsigned char)p[2] == 0xB9)) {
      cur = 1; /* € ₹ */
      p += 3;
    } else if (!cur && e - p >= 3 && isupper((unsigned char)p[0]) &&
               isupper((unsigned char)p[1]) && isupper((unsigned char)p[2])) {
      cur = 1;
      p += 3;
    } else {
      break;
    }
    while (p < e && *p == ' ') p++;
  }
  /* suffix currency */
  while (e > p && e[-1] == ' ') e--;
  if (!cur) {
    if (e - p >= 1 && e[-1] == '$') {
      e--;
    } else if (e - p >= 2 && (unsigned char)e[-2] == 0xC2 &&
               ((unsigned char)e[-1] == 0xA3 || (unsigned char)e[-1] == 0xA5)) {
      e -= 2;
    } else if (e - p >= 3 && (unsigned char)e[-3] == 0xE2 && (unsigned char)e[-2] == 0x82 &&
               ((unsigned char)e[-1] == 0xAC || (unsigned char)e[-1] == 0xB9)) {
      e -= 3;
    } else if (e - p >= 4 && isupper((unsigned char)e[-1]) && isupper((unsigned char)e[-2]) &&
               isupper((unsigned char)e[-3]) && e[-4] == ' ') {
      e -= 4;
    }
    while (e > p && e[-1] == ' ') e--;
  }
  if (p == e) return TSR_EPARSE;
  if (neg == 1 || paren) buf[n++] = '-';
  /* integer part with optional thousands separators */
  const char *q = p;
  int digits = 0, group = -1, seps = 0;
  while (q < e) {
    if (*q >= '0' && *q <= '9') {
      if (n >= sizeof buf - 2) return TSR_EPARSE;
      buf[n++] = *q;
      digits++;
      if (group >= 0) group++;
    } else if (*q == ',') {
      if (digits == 0 || (seps == 0 && digits > 3) || (seps > 0 && group != 3)) return TSR_EPARSE;
      seps++;
      group = 0;
    } else {
      break;
    }
    q++;
  }
  if (seps > 0 && group != 3) return TSR_EPARSE;
  if (q < e && *q == '.') {
    buf[n++] = *q++;
    while (q < e && *q >= '0' && *q <= '9') {
      if (n >= sizeof buf - 2) return TSR_EPARSE;
      buf[n++] = *q++;
      digits++;
    }
  }
  if (digits == 0) {
    /* inf / nan spelled out: not finite */
    size_t k = (size_t)(e - p);
    if ((k == 3 || k == 8) && (strncasecmp(p, "inf", 3) == 0 || strncasecmp(p, "nan", 3) == 0))
      return TSR_ERANGE;
    return TSR_EPARSE;
  }
  if (q < e && (*q == 'e' || *q == 'E')) {
    buf[n++] = *q++;
    if (q < e && (*q == '+' || *q == '-')) buf[n++] = *q++;
    int ed = 0;
    while (q < e && *q >= '0' && *q <= '9' && n < sizeof buf - 2) {
      buf[n++] = *q++;
      ed++;
    }
    if (!ed) return TSR_EPARSE;
  }
  if (q != e) return TSR_EPARSE;
  buf[n] = '\0';
  errno = 0;
  double v = strtod(buf, NULL);
  if (!isfinite(v)) return TSR_ERANGE;
  *out = v;
  return TSR_OK;
}
