/*
 * tessera/datetime.h - parsing of transaction dates and timestamps.
 *
 * Accepted without a format: ISO 8601 dates and timestamps
 *   YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD,
 *   YYYY-MM-DD[T| ]HH:MM[:SS[.fraction]][Z|+HH[:MM]|-HH[:MM]|+HHMM]
 * (an offset is applied, so every time is UTC; no offset means UTC).
 * With a format (strptime style) the value is tried against the ISO forms
 * first, then against the format. Format directives: %Y %y %m %d %e %H %I %M
 * %S %p %b %B %j %z %T %F %% ; a space matches any run of white space; other
 * characters match themselves. Month names are English.
 */
#ifndef TESSERA_DATETIME_H
#define TESSERA_DATETIME_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Valid range of dates: 1970-01-01 .. 2100-12-31 (UTC). */
#define TSR_DATE_MIN_DAY 0        /* 1970-01-01 */
#define TSR_DATE_MAX_DAY 47846    /* 2100-12-31 */

/* Days since 1970-01-01 of a proleptic Gregorian date (any year). */
TSR_API int64_t tsr_days_from_civil(int64_t y, unsigned m, unsigned d);
/* Inverse of tsr_days_from_civil. */
TSR_API void tsr_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* Parses s[0..len) (ISO forms, then fmt when non-NULL) into seconds since
 * the epoch (UTC). Returns TSR_OK, TSR_EPARSE (not a date in any accepted
 * form) or TSR_ERANGE (a date outside 1970..2100). No error text: the caller
 * names file, line and field. */
TSR_API tsr_status tsr_datetime_parse(const char *s, size_t len,
                                      const char *fmt, int64_t *epoch_s);

/* Formats a day number as YYYY-MM-DD into buf (at least 11 bytes). */
TSR_API char *tsr_day_format(int64_t day, char *buf);

/* Checks a strptime-style format: TSR_OK or TSR_EINVAL naming the bad
 * directive in err. */
TSR_API tsr_status tsr_datetime_check_format(const char *fmt, tsr_error *err);

/* Guesses the strptime-style format of date strings that the built-in forms
 * do not read: the first of a fixed list of common formats (day-first
 * before month-first, 4-digit years before 2-digit ones, then month names)
 * that reads every one of the n values. Returns the format (a static
 * string) or NULL when none reads them all. *ambiguous (may be NULL) is set
 * to 1 when the day-first and the month-first form both read them all. */
TSR_API const char *tsr_datetime_guess_format(const char *const *values, size_t n,
                                              int *ambiguous);

#ifdef __cplusplus
}
#endif
#endif
