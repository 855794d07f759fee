/*
 * alloc.c - the allocation wrappers of lib/internal.h, with a failure
 * injection hook for tests.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Only tests touch this counter; production code never sets it. */
static _Thread_local long tsr__fail_countdown = -1;

void tsr__alloc_fail_after(long n) { tsr__fail_countdown = n; }

static int tsr__should_fail(void) {
  if (tsr__fail_countdown < 0) return 0;
  if (tsr__fail_countdown == 0) return 1;
  tsr__fail_countdown--;
  return 0;
}

void *tsr__malloc(size_t n) {
  if (tsr__should_fail()) return NULL;
  return malloc(n ? n : 1);
}

void *tsr__calloc(size_t count, size_t size) {
  if (tsr__should_fail()) return NULL;
  return calloc(count ? count : 1, size ? size : 1);
}

void *tsr__realloc(void *p, size_t n) {
  if (tsr__should_fail()) return NULL;
  return realloc(p, n ? n : 1);
}

void tsr__free(void *p) { free(p); }

char *tsr__strndup(const char *s, size_t n) {
  char *d = tsr__malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

char *tsr__strdup(const char *s) { return tsr__strndup(s, strlen(s)); }

tsr_status tsr__grow(void **buf, size_t *cap, size_t need, size_t elsize) {
  if (need <= *cap) return TSR_OK;
  size_t nc = *cap ? *cap : 16;
  while (nc < need) {
    if (nc > SIZE_MAX / 2 / elsize) return TSR_ENOMEM;
    nc *= 2;
  }
  void *p = tsr__realloc(*buf, nc * elsize);
  if (!p) return TSR_ENOMEM;
  *buf = p;
  *cap = nc;
  return TSR_OK;
}
