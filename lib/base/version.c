/* version.c - library version string. */
#include "internal.h"
#include "tessera/error.h" /* the core includes no header of the floors above */

const char *tsr_version(void) { return "0.1.0"; }
