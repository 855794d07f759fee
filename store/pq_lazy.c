/*
 * pq_lazy.c - opens libpq on the first connection (store/pq_lazy.h).
 */
#include <pthread.h>
#include <stddef.h>

#include "lazy_lib.h"
#include "pq_lazy.h"

tsr__pq_api tsr__pq;
static pthread_once_t pq_once = PTHREAD_ONCE_INIT;
static int pq_ok;
static char pq_why[320];

static void pq_open(void) {
  static const char *const names[] = {"libpq.so.5", "libpq.so", NULL};
  static const tsr__lazy_lib lib = {"PostgreSQL client library", "libpq5", "TESSERA_LIBPQ", names};
#define TSR__PQ_SYM(f) {#f, offsetof(tsr__pq_api, p_##f)},
  static const tsr__lazy_sym syms[] = {TSR__PQ_FUNCS(TSR__PQ_SYM)};
#undef TSR__PQ_SYM
  pq_ok =
      tsr__lazy_open(&lib, syms, sizeof syms / sizeof *syms, &tsr__pq, pq_why, sizeof pq_why) == 0;
}

PGconn *tsr__pq_connectdb(const char *conninfo) {
  pthread_once(&pq_once, pq_open);
  return pq_ok ? tsr__pq.p_PQconnectdb(conninfo) : NULL;
}

void tsr__pq_finish(PGconn *c) {
  if (c && pq_ok) tsr__pq.p_PQfinish(c);
}

const char *tsr__pq_why(void) { return pq_ok ? "out of memory" : pq_why; }
