/*
 * error.c - status names, messages and error reports (see tessera/error.h).
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *tsr_status_name(tsr_status s) {
  switch (s) {
#define TSR__X(code, name, msg) \
  case TSR_##name:              \
    return #name;
    TSR_STATUS_MAP(TSR__X)
#undef TSR__X
  }
  return "UNKNOWN";
}

const char *tsr_strerror(tsr_status s) {
  switch (s) {
#define TSR__X(code, name, msg) \
  case TSR_##name:              \
    return msg;
    TSR_STATUS_MAP(TSR__X)
#undef TSR__X
  }
  return "unknown error";
}

void tsr_error_clear(tsr_error *err) {
  if (err) memset(err, 0, sizeof *err);
}

tsr_status tsr_error_set(tsr_error *err, tsr_status code, const char *source,
                         int64_t line, int64_t column, const char *field,
                         const char *fmt, ...) {
  if (!err) return code;
  err->code = code;
  snprintf(err->source, sizeof err->source, "%s", source ? source : "");
  err->line = line;
  err->column = column;
  snprintf(err->field, sizeof err->field, "%s", field ? field : "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  return code;
}

char *tsr_error_format(const tsr_error *err, char *buf, size_t cap) {
  if (!buf || cap == 0) return buf;
  buf[0] = '\0';
  if (!err) return buf;
  size_t n = 0;
#define TSR__APP(...)                                              \
  do {                                                             \
    if (n < cap) {                                                 \
      int k_ = snprintf(buf + n, cap - n, __VA_ARGS__);            \
      if (k_ > 0) n += (size_t)k_;                                 \
    }                                                              \
  } while (0)
  if (err->source[0]) {
    TSR__APP("%s:", err->source);
    if (err->line > 0) {
      TSR__APP("%lld:", (long long)err->line);
      if (err->column > 0) TSR__APP("%lld:", (long long)err->column);
    }
    TSR__APP(" ");
  }
  TSR__APP("error: ");
  if (err->field[0]) TSR__APP("%s: ", err->field);
  TSR__APP("%s", err->msg[0] ? err->msg : tsr_strerror(err->code));
#undef TSR__APP
  return buf;
}
