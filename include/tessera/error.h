/*
 * tessera/error.h - status codes and error reports of libtessera.
 *
 * Every public function returns a tsr_status and takes as last argument a
 * tsr_error * (may be NULL) that receives the code, the source (file name),
 * line, column, field and a lowercase message, problem first:
 *   "amount: expected a number, got '12,50'"
 * tsr_error_format() renders "tx.csv:1042:17: error: amount: expected ...".
 * There is no global "last error"; the library never prints.
 */
#ifndef TESSERA_ERROR_H
#define TESSERA_ERROR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TSR_BUILDING_LIB) && defined(__GNUC__)
#define TSR_API __attribute__((visibility("default")))
#else
#define TSR_API
#endif

/* Append-only list: code, name, message. Never renumber. */
#define TSR_STATUS_MAP(X)                                               \
  X(0, OK, "success")                                                   \
  X(1, ENOMEM, "out of memory")                                         \
  X(2, EINVAL, "invalid argument")                                      \
  X(3, EIO, "input/output error")                                       \
  X(4, EPARSE, "parse error")                                           \
  X(5, ELIMIT, "size limit exceeded")                                   \
  X(6, ERANGE, "value out of range")                                    \
  X(7, ENOTFOUND, "not found")                                          \
  X(8, ECONVERGE, "fit did not converge")                               \
  X(9, ENUMERIC, "numerical failure")                                   \
  X(10, ESTORE, "store error")                                          \
  X(11, EMAXERR, "too many rejected rows")                              \
  X(12, EUNSUPPORTED, "not supported")                                  \
  X(13, ECANCELED, "canceled")                                          \
  X(14, EEXIST, "already exists")                                       \
  X(15, EAUTH, "authentication failed")                                 \
  X(16, EPERM, "permission denied")

typedef enum tsr_status {
#define TSR__X(code, name, msg) TSR_##name = (code),
  TSR_STATUS_MAP(TSR__X)
#undef TSR__X
} tsr_status;

#define TSR_ERROR_MSG_MAX 512
#define TSR_ERROR_SOURCE_MAX 256
#define TSR_ERROR_FIELD_MAX 64

typedef struct tsr_error {
  tsr_status code;
  char source[TSR_ERROR_SOURCE_MAX]; /* file name or "" */
  int64_t line;                      /* 1-based; 0 when not applicable */
  int64_t column;                    /* 1-based; 0 when not applicable */
  char field[TSR_ERROR_FIELD_MAX];   /* field/parameter name or "" */
  char msg[TSR_ERROR_MSG_MAX];       /* lowercase, no final period */
} tsr_error;

/* "ENOMEM" etc.; "UNKNOWN" for a value outside the list. Static storage. */
TSR_API const char *tsr_status_name(tsr_status s);

/* The library's version, "0.1.0". */
TSR_API const char *tsr_version(void);

/* "out of memory" etc. Static storage. */
TSR_API const char *tsr_strerror(tsr_status s);

/* Clears *err (if non-NULL). */
TSR_API void tsr_error_clear(tsr_error *err);

/* Fills err (if non-NULL) with code and a printf-style message; returns code.
 * source/field may be NULL. */
TSR_API tsr_status tsr_error_set(tsr_error *err, tsr_status code,
                                 const char *source, int64_t line,
                                 int64_t column, const char *field,
                                 const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 7, 8)))
#endif
    ;

/* Renders "source:line:column: error: field: msg" into buf (NUL-terminated,
 * truncated to cap). Parts that are empty/zero are left out. Returns buf. */
TSR_API char *tsr_error_format(const tsr_error *err, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
