/*
 * mhd_lazy.c - opens libmicrohttpd when tessera serve starts (server/mhd_lazy.h).
 */
#include <pthread.h>
#include <stdio.h>

#include "lazy_lib.h"
#include "mhd_lazy.h"

tsr__mhd_api tsr__mhd;
static pthread_once_t mhd_once = PTHREAD_ONCE_INIT;
static int mhd_ok;
static char mhd_why[320];

static void mhd_load(void) {
  static const char *const names[] = {"libmicrohttpd.so.12", "libmicrohttpd.so", NULL};
  static const tsr__lazy_lib lib = {"HTTP server library", "libmicrohttpd12",
                                    "TESSERA_LIBMICROHTTPD", names};
#define TSR__MHD_SYM(f) {#f, offsetof(tsr__mhd_api, p_##f)},
  static const tsr__lazy_sym syms[] = {TSR__MHD_FUNCS(TSR__MHD_SYM)};
#undef TSR__MHD_SYM
  mhd_ok = tsr__lazy_open(&lib, syms, sizeof syms / sizeof *syms, &tsr__mhd, mhd_why,
                          sizeof mhd_why) == 0;
}

int tsr__mhd_open(char *why, size_t cap) {
  pthread_once(&mhd_once, mhd_load);
  if (mhd_ok) return 0;
  snprintf(why, cap, "%s", mhd_why);
  return -1;
}
