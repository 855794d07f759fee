/*
 * pq_lazy.c - opens libpq on the first connection (store/pq_lazy.h).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "pq_lazy.h"

tsr__pq_api tsr__pq;
static pthread_once_t pq_once = PTHREAD_ONCE_INIT;
static int pq_ok;
static char pq_why[320];

static void pq_open(void) {
  static const char *const names[] = {"libpq.so.5", "libpq.so"};
  const char *env = getenv("TESSERA_LIBPQ");
  const char *tried = env && *env ? env : names[0];
  void *h = NULL;
  if (env && *env)
    h = dlopen(env, RTLD_NOW | RTLD_LOCAL);
  else
    for (size_t i = 0; !h && i < sizeof names / sizeof *names; i++)
      h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    snprintf(pq_why, sizeof pq_why,
             "cannot load the PostgreSQL client library %s (install libpq5, or set "
             "TESSERA_LIBPQ): %s",
             tried, e ? e : "not found");
    return;
  }
#define TSR__PQ_SYM(f)                                                                     \
  *(void **)(&tsr__pq.p_##f) = dlsym(h, #f);                                               \
  if (!tsr__pq.p_##f) {                                                                    \
    snprintf(pq_why, sizeof pq_why, "the PostgreSQL client library %s has no function %s", \
             tried, #f);                                                                   \
    return;                                                                                \
  }
  TSR__PQ_FUNCS(TSR__PQ_SYM)
#undef TSR__PQ_SYM
  pq_ok = 1;
}

PGconn *tsr__pq_connectdb(const char *conninfo) {
  pthread_once(&pq_once, pq_open);
  return pq_ok ? tsr__pq.p_PQconnectdb(conninfo) : NULL;
}

void tsr__pq_finish(PGconn *c) {
  if (c && pq_ok) tsr__pq.p_PQfinish(c);
}

const char *tsr__pq_why(void) { return pq_ok ? "out of memory" : pq_why; }
