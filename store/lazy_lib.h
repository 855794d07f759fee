/*
 * lazy_lib.h - a shared library opened on first use (dlopen) instead of being
 * linked, and a table of its functions filled by dlsym: the common part of
 * store/pq_lazy.c (libpq) and server/mhd_lazy.c (libmicrohttpd). Linking such
 * a library makes every tessera command load it and its dependencies at
 * process start. Not public API.
 *
 * A user of it lists the functions once in an X-macro, declares a table with
 * one pointer p_NAME per function, describes the table to tsr__lazy_open as
 * {#NAME, offsetof(table type, p_##NAME)} (directly in the X-macro's
 * argument: through one more macro level NAME would be expanded) and
 * #defines each NAME to (*table.p_NAME) after the table (store/pq_lazy.[ch]
 * are the example).
 */
#ifndef TESSERA_LAZY_LIB_H
#define TESSERA_LAZY_LIB_H

#include <stddef.h>

/* What to open and how to name it in the error message. */
typedef struct tsr__lazy_lib {
  const char *what;         /* "PostgreSQL client library" */
  const char *package;      /* the Debian package that has it: "libpq5" */
  const char *env;          /* variable naming another file: "TESSERA_LIBPQ" */
  const char *const *names; /* file names tried in order, NULL-terminated */
} tsr__lazy_lib;

/* One function of the table: its name and the offset of its pointer. */
typedef struct tsr__lazy_sym {
  const char *name;
  size_t offset;
} tsr__lazy_sym;

/* Opens lib (the file named by $env when set and not empty, else the first of
 * names that opens) and sets every pointer of table listed in syms. Returns 0,
 * or -1 with why (cap bytes) saying which file could not be opened or which
 * function it lacks; the table is then incomplete and must not be used. The
 * library stays open for the life of the process. Not thread-safe: call it
 * under pthread_once or before starting threads. */
int tsr__lazy_open(const tsr__lazy_lib *lib, const tsr__lazy_sym *syms, size_t nsyms, void *table,
                   char *why, size_t cap);

#endif
