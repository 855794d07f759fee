/* table.c - placeholder */
#include "internal.h"
#include "tessera/table.h"
