/*
 * keep_tables.c - the folder of a bundle kept by `analyze --keep-input`
 * (app/analyze_predict.c, tsr__analyze_keep_bundle) is content-addressed:
 * KEEP_DIR/<transactions checksum>-<hash of the kept tables>. Keeping the
 * same transactions with other tables makes a new folder, so the folder an
 * older dataset points to (and its retrain) is never rewritten.
 */
#include "internal.h"
#include "keep_tables.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

tsr_status tsr__keep_stage(const char *keep_dir, const char *sum, const char *const *names,
                           size_t n, char *dir, size_t cap, tsr_error *err) {
  snprintf(dir, cap, "%s/.%s.tmp-%ld", keep_dir, sum, (long)getpid());
  tsr__keep_discard(dir, names, n); /* left by a killed run of the same pid */
  if (mkdir(dir, 0777) != 0 && errno != EEXIST)
    return tsr_error_set(err, TSR_EIO, dir, 0, 0, NULL, "cannot create directory: %s",
                         strerror(errno));
  return TSR_OK;
}

void tsr__keep_discard(const char *dir, const char *const *names, size_t n) {
  char p[4200];
  for (size_t k = 0; k < n; k++) {
    snprintf(p, sizeof p, "%s/%s", dir, names[k]);
    remove(p);
  }
  rmdir(dir);
}

/* Adds the name and bytes of DIR/name (when it exists) to h. */
static tsr_status hash_file(tsr__hash_stream *h, const char *dir, const char *name,
                            tsr_error *err) {
  char p[4200];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "rb");
  if (!f) {
    if (errno == ENOENT) return TSR_OK;
    return tsr_error_set(err, TSR_EIO, p, 0, 0, NULL, "cannot read: %s", strerror(errno));
  }
  tsr__hash_stream_update(h, name, strlen(name) + 1);
  char buf[1 << 16];
  size_t r;
  while ((r = fread(buf, 1, sizeof buf, f)) > 0) tsr__hash_stream_update(h, buf, r);
  int bad = ferror(f);
  fclose(f);
  if (bad) return tsr_error_set(err, TSR_EIO, p, 0, 0, NULL, "read error");
  return TSR_OK;
}

tsr_status tsr__keep_seal(const char *stage, const char *keep_dir, const char *sum,
                          const char *const *names, size_t n, size_t n_hashed, char *dir,
                          size_t cap, tsr_error *err) {
  tsr__hash_stream h;
  tsr__hash_stream_init(&h);
  tsr_status st = TSR_OK;
  for (size_t k = 0; k < n_hashed && st == TSR_OK; k++)
    st = hash_file(&h, stage, names[n - n_hashed + k], err);
  if (st != TSR_OK) {
    tsr__keep_discard(stage, names, n);
    return st;
  }
  snprintf(dir, cap, "%s/%s-%016llx", keep_dir, sum,
           (unsigned long long)tsr__hash_stream_final(&h));
  if (rename(stage, dir) == 0) return TSR_OK;
  int e = errno;
  struct stat sb;
  /* the same transactions and tables were kept before: that copy is equal */
  tsr__keep_discard(stage, names, n);
  if ((e == EEXIST || e == ENOTEMPTY) && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) return TSR_OK;
  return tsr_error_set(err, TSR_EIO, dir, 0, 0, NULL, "cannot create directory: %s", strerror(e));
}
