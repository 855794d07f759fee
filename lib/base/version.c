/* version.c - library version string. */
#include "internal.h"
#include "tessera/tessera.h"

const char *tsr_version(void) { return "0.1.0"; }
