/*
 * datetime.c - date/timestamp parsing for transaction logs (see
 * tessera/datetime.h). Civil-date arithmetic after H. Hinnant,
 * "chrono-Compatible Low-Level Date Algorithms".
 */
#include "internal.h"
#include "tessera/datetime.h"

#include <stdio.h>
#include <string.h>

int64_t tsr_days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

void tsr_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = (unsigned)(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = (int64_t)yoe + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}

char *tsr_day_format(int64_t day, char *buf) {
  int64_t y;
  unsigned m, d;
  tsr_civil_from_days(day, &y, &m, &d);
  int yy = (int)(y < 0 ? 0 : y > 9999 ? 9999 : y);
  buf[0] = (char)('0' + yy / 1000);
  buf[1] = (char)('0' + yy / 100 % 10);
  buf[2] = (char)('0' + yy / 10 % 10);
  buf[3] = (char)('0' + yy % 10);
  buf[4] = '-';
  buf[5] = (char)('0' + m / 10);
  buf[6] = (char)('0' + m % 10);
  buf[7] = '-';
  buf[8] = (char)('0' + d / 10);
  buf[9] = (char)('0' + d % 10);
  buf[10] = '\0';
  return buf;
}

static int days_in_month(int64_t y, unsigned m) {
  static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return dm[m - 1];
}

/* Reads exactly n digits at *p (bounded by e). */
static int digits(const char **p, const char *e, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (*p >= e || (unsigned)((*p)[0] - '0') > 9) return -1;
    v = v * 10 + ((*p)[0] - '0');
    (*p)++;
  }
  *out = v;
  return 0;
}

/* Reads 1..max digits. */
static int digits_upto(const char **p, const char *e, int max, int *out) {
  int v = 0, k = 0;
  while (k < max && *p < e && (unsigned)((*p)[0] - '0') <= 9) {
    v = v * 10 + ((*p)[0] - '0');
    (*p)++;
    k++;
  }
  if (k == 0) return -1;
  *out = v;
  return 0;
}

static tsr_status finish(int64_t y, int mo, int d, int h, int mi, int s,
                         int64_t off_s, int64_t *out) {
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, (unsigned)mo) || h > 23 ||
      mi > 59 || s > 60)
    return TSR_EPARSE;
  if (s == 60) s = 59; /* leap second: keep it in the same day */
  int64_t day = tsr_days_from_civil(y, (unsigned)mo, (unsigned)d);
  int64_t t = day * 86400 + h * 3600 + mi * 60 + s - off_s;
  if (t < (int64_t)TSR_DATE_MIN_DAY * 86400 || t >= ((int64_t)TSR_DATE_MAX_DAY + 1) * 86400)
    return TSR_ERANGE;
  *out = t;
  return TSR_OK;
}

/* Parses an offset Z, +HH, +HH:MM, +HHMM at *p. */
static int parse_offset(const char **p, const char *e, int64_t *off) {
  if (*p >= e) return -1;
  if (**p == 'Z' || **p == 'z') {
    (*p)++;
    *off = 0;
    return 0;
  }
  if (**p != '+' && **p != '-') return -1;
  int sign = **p == '-' ? -1 : 1;
  (*p)++;
  int hh, mm = 0;
  if (digits(p, e, 2, &hh)) return -1;
  if (*p < e && **p == ':') {
    (*p)++;
    if (digits(p, e, 2, &mm)) return -1;
  } else if (*p + 1 < e && (unsigned)((*p)[0] - '0') <= 9) {
    if (digits(p, e, 2, &mm)) return -1;
  }
  if (hh > 23 || mm > 59) return -1;
  *off = sign * (hh * 3600 + mm * 60);
  return 0;
}

static tsr_status parse_iso(const char *s, const char *e, int64_t *out) {
  const char *p = s;
  int y, mo, d, h = 0, mi = 0, sec = 0;
  int64_t off = 0;
  if (digits(&p, e, 4, &y)) return TSR_EPARSE;
  if (p < e && (*p == '-' || *p == '/')) {
    char sep = *p++;
    if (digits(&p, e, 2, &mo) || p >= e || *p++ != sep || digits(&p, e, 2, &d))
      return TSR_EPARSE;
  } else {
    if (digits(&p, e, 2, &mo) || digits(&p, e, 2, &d)) return TSR_EPARSE;
    if (p != e) return TSR_EPARSE; /* YYYYMMDD stands alone */
  }
  if (p < e && (*p == 'T' || *p == 't' || *p == ' ')) {
    p++;
    if (digits(&p, e, 2, &h) || p >= e || *p++ != ':' || digits(&p, e, 2, &mi))
      return TSR_EPARSE;
    if (p < e && *p == ':') {
      p++;
      if (digits(&p, e, 2, &sec)) return TSR_EPARSE;
      if (p < e && (*p == '.' || *p == ',')) {
        p++;
        const char *q = p;
        while (p < e && (unsigned)(*p - '0') <= 9) p++;
        if (p == q) return TSR_EPARSE;
      }
    }
    if (p < e) {
      if (*p == ' ') p++;
      if (parse_offset(&p, e, &off)) return TSR_EPARSE;
    }
  }
  if (p != e) return TSR_EPARSE;
  return finish(y, mo, d, h, mi, sec, off, out);
}

static const char *const month_names[12] = {"january", "february", "march",
                                            "april", "may", "june", "july",
                                            "august", "september", "october",
                                            "november", "december"};

static int lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

static int is_alpha(int c) { c = lower(c); return c >= 'a' && c <= 'z'; }

/* Matches an English month name or its 3-letter abbreviation ("Sept" too). */
static int parse_month_name(const char **p, const char *e, int *mo) {
  size_t avail = (size_t)(e - *p);
  for (int i = 0; i < 12; i++) {
    const char *n = month_names[i];
    size_t full = strlen(n), k = 0;
    while (k < full && k < avail && lower((unsigned char)(*p)[k]) == n[k]) k++;
    if (k == full && (k == avail || !is_alpha((unsigned char)(*p)[k]))) {
      *p += k;
      *mo = i + 1;
      return 0;
    }
    size_t ab = (i == 8 && k >= 4) ? 4 : 3;
    if (k >= ab && (ab == avail || !is_alpha((unsigned char)(*p)[ab]))) {
      *p += ab;
      *mo = i + 1;
      return 0;
    }
  }
  return -1;
}

static tsr_status parse_fmt(const char *s, const char *e, const char *fmt,
                            int64_t *out) {
  const char *p = s;
  int y = 1970, mo = 1, d = 1, h = 0, mi = 0, sec = 0, pm = -1, yday = -1;
  int64_t off = 0;
  for (const char *f = fmt; *f; f++) {
    if (*f == ' ') {
      while (p < e && (*p == ' ' || *p == '\t')) p++;
      continue;
    }
    if (*f != '%') {
      if (p >= e || *p != *f) return TSR_EPARSE;
      p++;
      continue;
    }
    f++;
    int v;
    switch (*f) {
      case 'Y':
        if (digits(&p, e, 4, &y)) return TSR_EPARSE;
        break;
      case 'y':
        if (digits(&p, e, 2, &v)) return TSR_EPARSE;
        y = v < 69 ? 2000 + v : 1900 + v; /* POSIX pivot */
        break;
      case 'm':
        if (digits_upto(&p, e, 2, &mo)) return TSR_EPARSE;
        break;
      case 'd':
      case 'e':
        while (*f == 'e' && p < e && *p == ' ') p++;
        if (digits_upto(&p, e, 2, &d)) return TSR_EPARSE;
        break;
      case 'H':
        if (digits_upto(&p, e, 2, &h)) return TSR_EPARSE;
        break;
      case 'I':
        if (digits_upto(&p, e, 2, &h) || h < 1 || h > 12) return TSR_EPARSE;
        break;
      case 'M':
        if (digits_upto(&p, e, 2, &mi)) return TSR_EPARSE;
        break;
      case 'S':
        if (digits_upto(&p, e, 2, &sec)) return TSR_EPARSE;
        if (p < e && (*p == '.' || *p == ',') && p + 1 < e && (unsigned)(p[1] - '0') <= 9) {
          p++;
          while (p < e && (unsigned)(*p - '0') <= 9) p++;
        }
        break;
      case 'p':
        if (e - p < 2) return TSR_EPARSE;
        if (lower((unsigned char)p[1]) != 'm') return TSR_EPARSE;
        if (lower((unsigned char)p[0]) == 'a') pm = 0;
        else if (lower((unsigned char)p[0]) == 'p') pm = 1;
        else return TSR_EPARSE;
        p += 2;
        break;
      case 'b':
      case 'B':
      case 'h':
        if (parse_month_name(&p, e, &mo)) return TSR_EPARSE;
        break;
      case 'j':
        if (digits_upto(&p, e, 3, &yday) || yday < 1 || yday > 366) return TSR_EPARSE;
        break;
      case 'z':
        if (parse_offset(&p, e, &off)) return TSR_EPARSE;
        break;
      case 'T':
        if (digits_upto(&p, e, 2, &h) || p >= e || *p++ != ':' ||
            digits_upto(&p, e, 2, &mi) || p >= e || *p++ != ':' ||
            digits_upto(&p, e, 2, &sec))
          return TSR_EPARSE;
        break;
      case 'F':
        if (digits(&p, e, 4, &y) || p >= e || *p++ != '-' || digits_upto(&p, e, 2, &mo) ||
            p >= e || *p++ != '-' || digits_upto(&p, e, 2, &d))
          return TSR_EPARSE;
        break;
      case '%':
        if (p >= e || *p != '%') return TSR_EPARSE;
        p++;
        break;
      default:
        return TSR_EPARSE;
    }
  }
  while (p < e && (*p == ' ' || *p == '\t')) p++;
  if (p != e) return TSR_EPARSE;
  if (pm >= 0) {
    if (h < 1 || h > 12) return TSR_EPARSE;
    h = h % 12 + (pm ? 12 : 0);
  }
  if (yday > 0) {
    int64_t day0 = tsr_days_from_civil(y, 1, 1) + yday - 1;
    int64_t yy;
    unsigned mm, dd;
    tsr_civil_from_days(day0, &yy, &mm, &dd);
    if (yy != y) return TSR_EPARSE;
    mo = (int)mm;
    d = (int)dd;
  }
  return finish(y, mo, d, h, mi, sec, off, out);
}

tsr_status tsr_datetime_check_format(const char *fmt, tsr_error *err) {
  static const char ok[] = "YymdeHIMSpbBhjzTF%";
  int has_date = 0;
  for (const char *f = fmt; *f; f++) {
    if (*f != '%') continue;
    f++;
    if (!*f || !strchr(ok, *f))
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "date-format",
                           "unsupported directive '%%%c' in '%s' (supported: %%Y %%y "
                           "%%m %%d %%e %%H %%I %%M %%S %%p %%b %%B %%j %%z %%T %%F %%%%)",
                           *f ? *f : ' ', fmt);
    if (strchr("YyF", *f)) has_date = 1;
  }
  if (!has_date)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "date-format",
                         "expected a year directive (%%Y, %%y or %%F) in '%s'", fmt);
  return TSR_OK;
}

/* Two digits at p, or -1. */
static inline int dig2(const char *p) {
  unsigned a = (unsigned)(p[0] - '0'), b = (unsigned)(p[1] - '0');
  return (a <= 9 && b <= 9) ? (int)(a * 10 + b) : -1;
}

/* The day of the fixed form YYYY-MM-DD at p (10 bytes), or -1 when it is
 * not one, not a valid date, or out of range. */
static int64_t fixed_day(const char *p) {
  if (p[4] != '-' || p[7] != '-') return -1;
  int y1 = dig2(p), y2 = dig2(p + 2), mo = dig2(p + 5), d = dig2(p + 8);
  if ((y1 | y2 | mo | d) < 0) return -1;
  int64_t y = y1 * 100 + y2;
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, (unsigned)mo)) return -1;
  int64_t day = tsr_days_from_civil(y, (unsigned)mo, (unsigned)d);
  if (day < TSR_DATE_MIN_DAY || day > TSR_DATE_MAX_DAY) return -1;
  return day;
}

/* The seconds of the time of day after a fixed date (len 10: none; 19:
 * THH:MM:SS; 20: THH:MM:SSZ, T or space), or -1. */
static int fixed_time(const char *p, size_t len) {
  if (len == 10) return 0;
  if ((p[10] != 'T' && p[10] != ' ') || p[13] != ':' || p[16] != ':') return -1;
  if (len == 20 && p[19] != 'Z') return -1;
  int h = dig2(p + 11), mi = dig2(p + 14), sec = dig2(p + 17);
  if ((h | mi | sec) < 0 || h > 23 || mi > 59 || sec > 59) return -1;
  return h * 3600 + mi * 60 + sec;
}

/* Fast path for the common exact forms YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS and
 * YYYY-MM-DDTHH:MM:SSZ (T or space): fixed offsets, no scanning. Returns 1
 * with *out set only for a valid in-range value (the general parser gives
 * the same result); 0 sends everything else to the general parser. With
 * memo: a date whose 10 bytes are the memo's takes its day (rows in time
 * order repeat the date of the row before), and a new valid date becomes
 * the memo. */
static int parse_iso_fixed(const char *p, size_t len, tsr__date_memo *memo, int64_t *out) {
  if (len != 10 && len != 19 && len != 20) return 0;
  int64_t day;
  if (memo && memo->valid && !memcmp(p, memo->ymd, 10)) {
    day = memo->day;
  } else {
    day = fixed_day(p);
    if (day < 0) return 0;
    if (memo) {
      memcpy(memo->ymd, p, 10);
      memo->day = day;
      memo->valid = 1;
    }
  }
  int sec = fixed_time(p, len);
  if (sec < 0) return 0;
  *out = day * 86400 + sec;
  return 1;
}

tsr_status tsr__datetime_parse_memo(const char *s, size_t len, const char *fmt,
                                    tsr__date_memo *memo, int64_t *epoch_s) {
  if (parse_iso_fixed(s, len, memo, epoch_s)) return TSR_OK;
  return tsr_datetime_parse(s, len, fmt, epoch_s);
}

tsr_status tsr_datetime_parse(const char *s, size_t len, const char *fmt,
                              int64_t *epoch_s) {
  if (parse_iso_fixed(s, len, NULL, epoch_s)) return TSR_OK;
  const char *e = s + len;
  while (s < e && (*s == ' ' || *s == '\t')) s++;
  while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
  if (s == e) return TSR_EPARSE;
  tsr_status st = parse_iso(s, e, epoch_s);
  if (st == TSR_OK || !fmt || !*fmt) return st;
  tsr_status st2 = parse_fmt(s, e, fmt, epoch_s);
  if (st2 == TSR_OK) return TSR_OK;
  return st == TSR_ERANGE ? st : st2;
}
