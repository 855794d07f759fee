/*
 * lazy_lib.c - opens a shared library on first use (store/lazy_lib.h).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "lazy_lib.h"

int tsr__lazy_open(const tsr__lazy_lib *lib, const tsr__lazy_sym *syms, size_t nsyms, void *table,
                   char *why, size_t cap) {
  const char *env = getenv(lib->env);
  const char *tried = env && *env ? env : lib->names[0];
  void *h = NULL;
  if (env && *env)
    h = dlopen(env, RTLD_NOW | RTLD_LOCAL);
  else
    for (size_t i = 0; !h && lib->names[i]; i++) h = dlopen(lib->names[i], RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    snprintf(why, cap, "cannot load the %s %s (install %s, or set %s): %s", lib->what, tried,
             lib->package, lib->env, e ? e : "not found");
    return -1;
  }
  for (size_t i = 0; i < nsyms; i++) {
    void *f = dlsym(h, syms[i].name);
    if (!f) {
      snprintf(why, cap, "the %s %s has no function %s", lib->what, tried, syms[i].name);
      return -1;
    }
    *(void **)((char *)table + syms[i].offset) = f;
  }
  return 0;
}
