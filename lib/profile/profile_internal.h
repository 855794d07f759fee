/*
 * profile_internal.h - helpers shared by lib/profile/ (resolve, anomaly,
 * sentiment); not public API.
 */
#ifndef TESSERA_PROFILE_INTERNAL_H
#define TESSERA_PROFILE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/csv.h"

/* Index of the header field whose normalised name (lowercase letters and
 * digits only) equals one of names (already normalised, NULL-terminated
 * list, tried in order), or -1. */
ptrdiff_t tsr__col_find(const tsr_csv_record *hdr, const char *const *names);

/* Parses a calendar date (YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD, DD.MM.YYYY;
 * anything after a 'T' or a space ignored) into days since 1970-01-01 (any
 * year from 1800 to 2200). 0 on success, -1 otherwise. */
int tsr__parse_day(const char *s, size_t n, int32_t *day);

/* Monotonic clock in seconds. */
double tsr__now(void);

/* A growable byte arena of NUL-terminated strings addressed by offset. */
typedef struct tsr__strpool {
  char *buf;
  size_t used, cap;
} tsr__strpool;
/* Appends s[0..n) plus a NUL; *off receives its offset. 0 or -1 (ENOMEM). */
int tsr__strpool_add(tsr__strpool *p, const char *s, size_t n, uint32_t *off);
void tsr__strpool_release(tsr__strpool *p);

/* An interning hash table of strings: id -> dense index (0, 1, ...). */
typedef struct tsr__intern {
  tsr__strpool pool;
  uint32_t *off;     /* offset of each index's string */
  size_t n, cap_n;
  uint32_t *slots;   /* index + 1, 0 = empty */
  size_t nslots;
} tsr__intern;
/* Index of s (added when new). *idx receives it. 0 or -1 (ENOMEM). */
int tsr__intern_get(tsr__intern *t, const char *s, size_t n, uint32_t *idx);
const char *tsr__intern_str(const tsr__intern *t, uint32_t idx);
void tsr__intern_release(tsr__intern *t);

#endif
