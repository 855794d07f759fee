/*
 * keep_tables.h - content-addressed folders of kept bundles (keep_tables.c).
 */
#ifndef TSR_APP_KEEP_TABLES_H
#define TSR_APP_KEEP_TABLES_H

#include <stddef.h>

#include "tessera/error.h"

/* A fresh staging folder KEEP_DIR/.<sum>.tmp-<pid> into dir (names[0..n)
 * left there by a killed run are removed first). */
tsr_status tsr__keep_stage(const char *keep_dir, const char *sum, const char *const *names,
                           size_t n, char *dir, size_t cap, tsr_error *err);
/* Removes the files names[0..n) of folder dir, then dir. */
void tsr__keep_discard(const char *dir, const char *const *names, size_t n);
/* Moves staging folder stage (holding names[0..n), the last n_hashed of
 * which are hashed: name and bytes of each present file) to
 * KEEP_DIR/<sum>-<16 hex digits of the hash>, its path into dir. When that
 * folder exists (the same content was kept before) the staging folder is
 * removed and the existing one used. On error the staging folder is
 * removed. */
tsr_status tsr__keep_seal(const char *stage, const char *keep_dir, const char *sum,
                          const char *const *names, size_t n, size_t n_hashed, char *dir,
                          size_t cap, tsr_error *err);

#endif
